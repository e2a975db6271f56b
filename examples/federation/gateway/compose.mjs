// Composes the subgraph SDL files given as arguments (name=path) with Apollo's
// composer and The Guild's, and fails on any error or hint from either.
// Usage: node compose.mjs accounts=accounts.graphql products=products.graphql reviews=reviews.graphql
import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { composeServices as apollo } from '@apollo/composition';
import { composeServices as guild } from '@theguild/federation-composition';

const services = process.argv.slice(2).map((arg, i) => {
  const [name, path] = arg.split('=');
  return { name, url: `http://127.0.0.1:${4001 + i}/graphql`, typeDefs: parse(readFileSync(path, 'utf8')) };
});
let failed = false;
for (const [label, compose] of [['@apollo/composition', apollo], ['@theguild/federation-composition', guild]]) {
  const result = compose(services);
  const errors = (result.errors ?? []).map((e) => e.message);
  const hints = (result.hints ?? []).map((h) => h.message);
  console.log(`${label}: ${errors.length} errors, ${hints.length} hints`);
  for (const m of [...errors, ...hints]) console.log(`  ${m}`);
  if (errors.length || hints.length) failed = true;
}
process.exit(failed ? 1 : 0);
