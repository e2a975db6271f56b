// The read checks of e2e.mjs (reads.mjs) through the gateway at GATEWAY,
// over data e2e.mjs wrote already: for more gateways over one stack
// (scripts/federation-e2e.sh routers). Also checks that the gateway
// forwards the token: a staff write with none is refused.
// Usage: GATEWAY=http://127.0.0.1:4000/ node reads-e2e.mjs
import assert from 'node:assert/strict';
import { client } from './client.mjs';
import { checkReads } from './reads.mjs';

const c = client(process.env.GATEWAY);
const admin = (await c.ok(
  `mutation { login(input: { login: "admin", password: "e2e-password-1" }) { accessToken } }`,
)).login;
await checkReads(c, admin.accessToken);
const anonymous = await c.gql(`mutation { createCategory(input: { name: "Nope" }) { category { id } } }`);
assert.ok(['FORBIDDEN', 'UNAUTHENTICATED'].includes(anonymous.body.errors?.[0]?.extensions?.code), JSON.stringify(anonymous.body));
const me = await c.ok(`{ me { username } }`, { token: admin.accessToken });
assert.deepEqual(me, { me: { username: 'admin' } });
console.log(`reads e2e: ok through ${process.env.GATEWAY}`);
