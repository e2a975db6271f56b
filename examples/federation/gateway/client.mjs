// The GraphQL client of e2e.mjs and hive-e2e.mjs: POST to a gateway, with a
// bearer token when given.
import assert from 'node:assert/strict';

export function client(url) {
  async function gql(query, { token, variables } = {}) {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    return { status: res.status, body: await res.json() };
  }

  // The data of a query that must succeed.
  async function ok(query, options) {
    const { status, body } = await gql(query, options);
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    return body.data;
  }

  return { gql, ok };
}
