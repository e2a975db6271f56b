// @context / @fromContext through a router (GATEWAY): the shelves service's
// `Placement.title` takes `shelfName` from the enclosing `Shelf`, which the
// router fetches and passes; clients never see the argument. Apollo Gateway
// refuses a supergraph with contexts, so this runs under the Rust routers
// (scripts/federation-e2e.sh routers). Data: the service's demo migration.
import assert from 'node:assert/strict';
import { client } from './client.mjs';

const { gql, ok } = client(process.env.GATEWAY);

// Through a lookup: every placement reads its shelf's name.
const d = await ok('{ shelf(id: "1") { name placements { title loud: title(upper: true) } } }');
assert.deepEqual(d.shelf, {
  name: 'Top',
  placements: [
    { title: 'Top: jam', loud: 'TOP: JAM' },
    { title: 'Top: tea', loud: 'TOP: TEA' },
  ],
});

// Through a list of shelves, the placements of one fetch have different
// contexts. A router then sends one aliased `_entities` per context
// (`_0: _entities(…)`, `_1: …`); the subgraph answers each alias, and
// Apollo Router 2.16.5 looks only for `_entities` in the answer
// (apollographql/router#8449, open), so the field comes back null. What
// the router answered is reported, not asserted: the subgraph's part is
// tested in examples/federation/tests/context.rs.
const list = await gql('{ shelves(orderBy: [{ id: ASC }]) { nodes { placements { title } } } }');
const titles = list.body.data?.shelves?.nodes?.map((s) => s.placements.map((p) => p.title));
const want = [['Top: jam', 'Top: tea'], ['Low: rice']];
console.log(
  JSON.stringify(titles) === JSON.stringify(want)
    ? 'context e2e: a list across contexts: passed'
    : `context e2e: a list across contexts: the router answered ${JSON.stringify(list.body).slice(0, 300)}`,
);

// The argument the router fills is not the client's to give.
const { body } = await gql('{ shelf(id: "1") { placements { title(shelfName: "X") } } }');
assert.ok(body.errors?.length, JSON.stringify(body));
assert.match(JSON.stringify(body.errors), /shelfName/);

console.log('context e2e: ok');
