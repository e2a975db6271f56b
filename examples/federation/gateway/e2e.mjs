// End-to-end checks through the gateway at GATEWAY (default
// http://127.0.0.1:4000/): log in at accounts, write to products and reviews
// with the token, and read one query that spans all three services.
// Exits non-zero on the first unexpected answer.
import assert from 'node:assert/strict';
import { client } from './client.mjs';

const { gql, ok } = client(process.env.GATEWAY ?? 'http://127.0.0.1:4000/');

const login = (name) => ok(
  `mutation($l: String!) { login(input: { login: $l, password: "e2e-password-1" }) { accessToken user { id username } } }`,
  { variables: { l: name } },
).then((d) => d.login);

const admin = await login('admin');
const bob = (await ok(
  `mutation { register(input: { username: "bob", email: "bob@example.com", password: "e2e-password-1" }) { accessToken user { id } } }`,
)).register;

// Staff write the catalogue; anyone else is refused by the products service.
const category = (await ok(
  `mutation { createCategory(input: { name: "Books" }) { category { id } errors { code } } }`,
  { token: admin.accessToken },
)).createCategory;
assert.deepEqual(category.errors, []);
const created = (await ok(
  `mutation($c: ID!) { createProduct(input: { upc: "1", name: "Dune", price: "9.90", categoryId: $c }) { product { id name } errors { code } } }`,
  { token: admin.accessToken, variables: { c: category.category.id } },
)).createProduct;
assert.deepEqual(created.errors, []);
const product = created.product;
// Editions are keyed by a text code the client gives.
for (const [code, format] of [['dune-paperback', 'paperback'], ['dune-hardcover', 'hardcover']]) {
  const edition = (await ok(
    `mutation($p: ID!, $c: ID!, $f: String!) { createEdition(input: { code: $c, productId: $p, format: $f }) { edition { code } errors { code } } }`,
    { token: admin.accessToken, variables: { p: product.id, c: code, f: format } },
  )).createEdition;
  assert.deepEqual(edition, { edition: { code }, errors: [] });
}

const refused = await gql(
  `mutation($c: ID!) { createProduct(input: { upc: "2", name: "X", price: "1", categoryId: $c }) { product { id } } }`,
  { token: bob.accessToken, variables: { c: category.category.id } },
);
assert.equal(refused.body.errors?.[0]?.extensions?.code, 'FORBIDDEN', JSON.stringify(refused.body));

// Reviews need a login (the reviews service verifies accounts' token by its JWKS).
const review = `mutation($p: ID!, $a: ID!) { createReview(input: { productId: $p, productName: "Dune", authorId: $a, body: "Great", rating: 5 }) { review { id } errors { code field } } }`;
const anonymous = await gql(review, { variables: { p: product.id, a: bob.user.id } });
assert.ok(['FORBIDDEN', 'UNAUTHENTICATED'].includes(anonymous.body.errors?.[0]?.extensions?.code), JSON.stringify(anonymous.body));
const forged = await gql(review, { token: 'not.a.token', variables: { p: product.id, a: bob.user.id } });
assert.ok(forged.body.errors?.length, JSON.stringify(forged.body));
const written = (await ok(review, { token: bob.accessToken, variables: { p: product.id, a: bob.user.id } })).createReview;
assert.deepEqual(written.errors, []);
// Writing as someone else is refused.
const impostor = await gql(review, { token: bob.accessToken, variables: { p: product.id, a: admin.user.id } });
assert.equal(impostor.body.errors?.[0]?.extensions?.code, 'FORBIDDEN', JSON.stringify(impostor.body));

// One query, three services: products → reviews (extends Product) → accounts (resolves User).
const graph = await ok(`{
  products { nodes { name reviews { nodes { body rating author { username } } } } }
  users { nodes { username reviewerPage reviews { totalCount nodes { product { name } } } } }
}`, { token: admin.accessToken });
assert.deepEqual(graph.products.nodes, [
  { name: 'Dune', reviews: { nodes: [{ body: 'Great', rating: 5, author: { username: 'bob' } }] } },
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
assert.match(hidden.body.errors?.[0]?.message ?? '', /currency/, JSON.stringify(hidden.body));
console.log('gateway e2e: ok');
