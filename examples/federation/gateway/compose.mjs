// Composes the subgraph SDL files given as arguments (name=path or
// name=path=url) with Apollo's composer and The Guild's, and fails on any error
// or hint from either. With SUPERGRAPH=<file>, writes Apollo's supergraph there
// for gateway.mjs; with GUILD_SUPERGRAPH=<file>, The Guild's, for hive.mjs.
// With EXPECT='text|text', also fails unless both supergraphs contain each text.
// With HINTS='text|text', a hint that contains one of the texts is expected
// and does not fail the composition.
// Usage: node compose.mjs accounts=accounts.graphql products=products.graphql reviews=reviews.graphql
import { readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'graphql';
import { composeServices as apollo } from '@apollo/composition';
import { composeServices as guild } from '@theguild/federation-composition';

const services = process.argv.slice(2).map((arg, i) => {
  const [name, path, url = `http://127.0.0.1:${4001 + i}/graphql`] = arg.split('=');
  return { name, url, typeDefs: parse(readFileSync(path, 'utf8')) };
});
let failed = false;
for (const [label, compose] of [['@apollo/composition', apollo], ['@theguild/federation-composition', guild]]) {
  const result = compose(services);
  const errors = (result.errors ?? []).map((e) => e.message);
  const hints = (result.hints ?? []).map((h) => h.message);
  console.log(`${label}: ${errors.length} errors, ${hints.length} hints`);
  for (const m of [...errors, ...hints]) console.log(`  ${m}`);
  const expected = (process.env.HINTS ?? '').split('|').filter(Boolean);
  const unexpected = hints.filter((h) => !expected.some((e) => h.includes(e)));
  if (errors.length || unexpected.length) failed = true;
  for (const d of (process.env.EXPECT ?? '').split('|').filter(Boolean)) {
    if (!result.supergraphSdl?.includes(d)) {
      console.log(`  the supergraph lacks ${d}`);
      failed = true;
    }
  }
  const out = label === '@apollo/composition' ? process.env.SUPERGRAPH : process.env.GUILD_SUPERGRAPH;
  if (out && result.supergraphSdl) writeFileSync(out, result.supergraphSdl);
}
process.exit(failed ? 1 : 0);
