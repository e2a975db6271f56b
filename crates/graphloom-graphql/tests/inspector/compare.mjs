// Runs graphql-inspector's diff on every pair of pairs.json and compares its
// levels with graphloom's (read from the JSON file given as argv[2], written
// by `cargo run -p graphloom-graphql --example diff_pairs`). Description
// changes are left out on both sides; a difference is a failure unless it is
// one of those documented on graphloom_graphql::diff::Kind.
import { readFileSync } from 'node:fs';
import { buildSchema } from 'graphql';
import { diff } from '@graphql-inspector/core';

const pairs = JSON.parse(readFileSync(new URL('./pairs.json', import.meta.url), 'utf8'));
const ours = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const level = { BREAKING: 'breaking', DANGEROUS: 'dangerous', NON_BREAKING: 'safe' };
// Documented differences (graphloom_graphql::diff::Kind): [graphloom's change
// type, the prefix of inspector's, inspector's level, graphloom's level].
const documented = [
  // An optional argument (or a required one with a default) breaks no operation.
  ['FIELD_ARGUMENT_ADDED', 'FIELD_ARGUMENT_ADDED', 'dangerous', 'safe'],
  // Federation directives are classified by what they do: a removed @key breaks
  // the gateway's entity fetches; an added one breaks nothing.
  ['DIRECTIVE_USAGE_REMOVED', 'DIRECTIVE_USAGE_', 'dangerous', 'breaking'],
  ['DIRECTIVE_USAGE_ADDED', 'DIRECTIVE_USAGE_', 'dangerous', 'safe'],
  // A type nothing led to (from the roots, a directive argument or a @key)
  // cannot be named by any operation: removing it breaks none.
  ['TYPE_REMOVED', 'TYPE_REMOVED', 'breaking', 'safe'],
];
// Paths are spelled differently (inspector: `Query.a.@deprecated`), and
// inspector also lists the fields of an added type and the arguments of an
// added directive usage; so the comparison is of classifications: every
// change graphloom reports must be one inspector reports at the same level,
// and the verdict (the most severe level) must agree.
const rank = { breaking: 0, dangerous: 1, safe: 2 };
const verdictOf = (cs) => cs.reduce((v, c) => (rank[c.level] < rank[v] ? c.level : v), 'safe');
let failures = 0;
for (const [i, pair] of pairs.entries()) {
  const changes = await diff(buildSchema(pair.old), buildSchema(pair.new));
  const theirs = changes
    .filter((c) => !c.type.includes('DESCRIPTION'))
    .map((c) => ({ type: c.type, level: level[c.criticality.level] }));
  const mine = ours[i].filter((c) => !c.type.includes('DESCRIPTION'));
  const isDocumented = (c) =>
    documented.some(
      ([t, prefix, il, gl]) => t === c.type && gl === c.level && theirs.some((x) => x.type.startsWith(prefix) && x.level === il),
    );
  const unmatched = mine.filter((c) => !theirs.some((x) => x.type === c.type && x.level === c.level) && !isDocumented(c));
  const documentedHere = mine.filter(isDocumented);
  const sameVerdict = verdictOf(mine) === verdictOf(theirs) || documentedHere.length > 0;
  const summary = mine.map((c) => `${c.type} ${c.level}`).join('; ') || 'no changes';
  let verdict = 'same';
  if (unmatched.length || !sameVerdict) verdict = 'DIFFERENT';
  else if (documentedHere.length) verdict = 'documented difference';
  console.log(`${verdict.padEnd(21)} ${pair.name}: ${summary}`);
  if (verdict === 'DIFFERENT') {
    failures++;
    console.log(`    inspector: ${theirs.map((c) => `${c.type} ${c.level}`).join('; ') || 'no changes'}`);
  }
}
if (failures) {
  console.error(`${failures} of ${pairs.length} pairs classified differently from graphql-inspector`);
  process.exit(1);
}
console.log(`${pairs.length} pairs: graphloom agrees with graphql-inspector except where documented`);
