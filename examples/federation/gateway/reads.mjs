// The reads of e2e.mjs, once its writes are done: one query across the
// three services, a text-keyed entity, a plain list, a value type, and an
// @inaccessible field. Read-only, so reads-e2e.mjs can run them again
// through another gateway over the same data.
import assert from 'node:assert/strict';

export async function checkReads({ gql, ok }, token) {
  // One query, three services: products → reviews (extends Product, and
  // stores reviewsOpen on it) → accounts (resolves User).
  const graph = await ok(`{
    products { nodes { name reviewsOpen reviews { nodes { body rating author { username } } } } }
    users { nodes { username reviewerPage reviews { totalCount nodes { product { name } } } } }
  }`, { token });
  assert.deepEqual(graph.products.nodes, [
    { name: 'Dune', reviewsOpen: false, reviews: { nodes: [{ body: 'Great', rating: 5, author: { username: 'bob' } }] } },
  ]);
  const byName = Object.fromEntries(graph.users.nodes.map((u) => [u.username, u.reviews]));
  // reviewerPage @requires(fields: "username"): the gateway fetched the username
  // from accounts and passed it to reviews.
  for (const u of graph.users.nodes) assert.equal(u.reviewerPage, `/reviewers/${u.username}`);
  assert.deepEqual(byName.bob, { totalCount: 1, nodes: [{ product: { name: 'Dune' } }] });
  assert.deepEqual(byName.admin, { totalCount: 0, nodes: [] });
  // Through the gateway: a text-keyed entity, a plain list, a value type
  // computed in products, reached from reviews by _entities too.
  const shop = await ok(`{
    edition(code: "dune-hardcover") { format product { name } }
    products { nodes { listing { title priceCents } editions(orderBy: [{ code: ASC }]) { code } } }
    reviews { nodes { product { listing { title } editions(first: 1) { format } } } }
  }`);
  assert.deepEqual(shop, {
    edition: { format: 'hardcover', product: { name: 'Dune' } },
    products: { nodes: [{ listing: { title: 'DUNE', priceCents: 990 }, editions: [{ code: 'dune-hardcover' }, { code: 'dune-paperback' }] }] },
    reviews: { nodes: [{ product: { listing: { title: 'DUNE' }, editions: [{ format: 'hardcover' }] } }] },
  });
  // Listing.currency is @inaccessible: in the subgraph, not in the supergraph.
  const hidden = await gql(`{ products { nodes { listing { currency } } } }`);
  // (Apollo Router also reports the emptied `listing { }`, first.)
  assert.ok(hidden.body.errors?.some((e) => /currency/.test(e.message)), JSON.stringify(hidden.body));
}
