// Checks through Hive Gateway at GATEWAY, after e2e.mjs wrote the data through
// Apollo Gateway: the auth directives derived from the permission rules are
// enforced by the gateway itself, and the cross-service query reads the same.
import assert from 'node:assert/strict';
import { client } from './client.mjs';

const { gql, ok } = client(process.env.GATEWAY ?? 'http://127.0.0.1:4004/graphql');

const login = async (name) => (await ok(
  `mutation($l: String!) { login(input: { login: $l, password: "e2e-password-1" }) { accessToken user { id } } }`,
  { variables: { l: name } },
)).login;
const admin = await login('admin');
const bob = await login('bob');

// Refused by the gateway, which never calls the subgraph: generic-auth's own
// error, not the subgraph's FORBIDDEN / UNAUTHENTICATED.
const gatewayRefusal = (res) => {
  const e = res.body.errors?.[0];
  assert.ok(e, JSON.stringify(res.body));
  assert.match(e.message, /Unauthorized field or type/, JSON.stringify(res.body));
  assert.equal(res.body.data?.createCategory ?? res.body.data?.createReview ?? null, null);
};
// createCategory @requiresScopes(scopes: [["staff"]]): bob has no such scope.
gatewayRefusal(await gql(`mutation { createCategory(input: { name: "Films" }) { category { id } } }`, { token: bob.accessToken }));
// createReview @authenticated: anonymous, and a forged token (anonymous to the gateway).
const review = `mutation { createReview(input: { productId: "1", productName: "Dune", authorId: "2", body: "x", rating: 3 }) { review { id } } }`;
gatewayRefusal(await gql(review));
gatewayRefusal(await gql(review, { token: 'not.a.token' }));
// With the scope, the gateway lets it through and the products service writes it.
const films = (await ok(`mutation { createCategory(input: { name: "Films" }) { category { name } errors { code } } }`, { token: admin.accessToken })).createCategory;
assert.deepEqual(films, { category: { name: 'Films' }, errors: [] });
// Past the gateway, the subgraph still applies the whole rule: bob may not
// write a review as the admin.
const impostor = await gql(`mutation($a: ID!) { createReview(input: { productId: "1", productName: "Dune", authorId: $a, body: "x", rating: 3 }) { review { id } } }`,
  { token: bob.accessToken, variables: { a: admin.user.id } });
assert.equal(impostor.body.errors?.[0]?.extensions?.code, 'FORBIDDEN', JSON.stringify(impostor.body));

// The same query across the three services as through Apollo Gateway,
// including User.reviewerPage, which @requires the username from accounts.
const graph = await ok(`{
  products { nodes { name reviews { nodes { rating author { username reviewerPage } } } } }
}`, { token: admin.accessToken });
assert.deepEqual(graph.products.nodes, [
  { name: 'Dune', reviews: { nodes: [{ rating: 5, author: { username: 'bob', reviewerPage: '/reviewers/bob' } }] } },
]);
console.log('hive gateway e2e: ok');
