// End-to-end checks through the gateway at GATEWAY (default
// http://127.0.0.1:4000/): log in at accounts, write to products and reviews
// with the token, and read one query that spans all three services.
// Exits non-zero on the first unexpected answer.
import assert from 'node:assert/strict';
import { client } from './client.mjs';
import { checkReads } from './reads.mjs';

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

// The reviews service stores whether a product takes reviews, on the
// products service's Product: staff close them; anyone else is refused.
const closeReviews = `mutation($p: ID!) { setReviewsOpen(productId: $p, open: false) }`;
const notStaff = await gql(closeReviews, { token: bob.accessToken, variables: { p: product.id } });
assert.equal(notStaff.body.errors?.[0]?.extensions?.code, 'FORBIDDEN', JSON.stringify(notStaff.body));
const closed = await ok(closeReviews, { token: admin.accessToken, variables: { p: product.id } });
assert.equal(closed.setReviewsOpen, false);

await checkReads({ gql, ok }, admin.accessToken);
console.log('gateway e2e: ok');
