// Checks through Hive Gateway at GATEWAY, after e2e.mjs wrote the data through
// Apollo Gateway: the auth directives derived from the permission rules are
// enforced by the gateway itself, the cross-service query reads the same, and
// a subscription passes through it: the gateway subscribes to reviews over
// Server-Sent Events, and resolves each event's author from accounts.
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
// including User.reviewerPage, which @requires the username from accounts,
// and Product.reviewsOpen, which reviews stores on products' entity.
const graph = await ok(`{
  products { nodes { name reviewsOpen reviews { nodes { rating author { username reviewerPage } } } } }
}`, { token: admin.accessToken });
assert.deepEqual(graph.products.nodes, [
  { name: 'Dune', reviewsOpen: false, reviews: { nodes: [{ rating: 5, author: { username: 'bob', reviewerPage: '/reviewers/bob' } }] } },
]);
// A text-keyed entity, a plain list and a value type, as through Apollo Gateway.
const shop = await ok(`{
  edition(code: "dune-paperback") { format }
  reviews { nodes { product { listing { title priceCents } editions(orderBy: [{ code: DESC }]) { code } } } }
}`, { token: admin.accessToken });
assert.deepEqual(shop, {
  edition: { format: 'paperback' },
  reviews: { nodes: [{ product: { listing: { title: 'DUNE', priceCents: 990 }, editions: [{ code: 'dune-paperback' }, { code: 'dune-hardcover' }] } }] },
});
// A subscriber of the gateway (over SSE) hears a review created in the
// reviews service, its author's username resolved from accounts.
const url = process.env.GATEWAY ?? 'http://127.0.0.1:4004/graphql';
const abort = new AbortController();
const res = await fetch(url, {
  method: 'POST',
  signal: abort.signal,
  headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${admin.accessToken}` },
  body: JSON.stringify({ query: 'subscription { reviewChanged(kinds: [CREATED]) { kind node { body rating author { username } } } }' }),
});
assert.equal(res.status, 200);
assert.match(res.headers.get('content-type'), /text\/event-stream/);
const events = (async function* () {
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of res.body) {
    buf += decoder.decode(chunk, { stream: true });
    let end;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const data = block.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trim()).join('');
      if (/^event: next/m.test(block) && data) yield JSON.parse(data);
    }
  }
})();
// Subscribed once the gateway and the subgraph have the stream open; writes
// are retried until one arrives (each retry reviews another product: one
// review per user and product).
let event;
for (let attempt = 0; attempt < 20 && !event; attempt++) {
  const made = (await ok(`mutation { createReview(input: { productId: "${100 + attempt}", productName: "Live", authorId: "${bob.user.id}", body: "Live ${attempt}", rating: 4 }) { errors { code } } }`,
    { token: bob.accessToken })).createReview;
  assert.deepEqual(made.errors, []);
  event = await Promise.race([events.next().then((r) => r.value), new Promise((ok) => setTimeout(ok, 500))]);
}
assert.ok(event, 'no event reached the gateway subscriber');
assert.equal(event.errors, undefined, JSON.stringify(event.errors));
assert.equal(event.data.reviewChanged.kind, 'CREATED');
assert.match(event.data.reviewChanged.node.body, /^Live /);
assert.deepEqual(event.data.reviewChanged.node.author, { username: 'bob' });
abort.abort();
console.log('hive gateway e2e: ok');
