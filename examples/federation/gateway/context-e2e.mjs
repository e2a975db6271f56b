// @context / @fromContext through a router (GATEWAY): the shelves service's
// `Placement.title` takes `shelfName` from the enclosing `Shelf`, which the
// router fetches and passes; clients never see the argument. Apollo Gateway
// refuses a supergraph with contexts, so this runs under the Rust routers
// (scripts/federation-e2e.sh routers). Data: the service's demo migration.
import assert from 'node:assert/strict';
import { client } from './client.mjs';

const { gql, ok } = client(process.env.GATEWAY);

// Through a lookup, and through a list of shelves: each placement reads
// its own shelf's name.
let d = await ok('{ shelf(id: "1") { name placements { title loud: title(upper: true) } } }');
assert.deepEqual(d.shelf, {
  name: 'Top',
  placements: [
    { title: 'Top: jam', loud: 'TOP: JAM' },
    { title: 'Top: tea', loud: 'TOP: TEA' },
  ],
});
d = await ok('{ shelves(orderBy: [{ id: ASC }]) { nodes { placements { title } } } }');
assert.deepEqual(d.shelves.nodes.map((s) => s.placements.map((p) => p.title)), [
  ['Top: jam', 'Top: tea'],
  ['Low: rice'],
]);

// The argument the router fills is not the client's to give.
const { body } = await gql('{ shelf(id: "1") { placements { title(shelfName: "X") } } }');
assert.ok(body.errors?.length, JSON.stringify(body));
assert.match(JSON.stringify(body.errors), /shelfName/);

console.log('context e2e: ok');
