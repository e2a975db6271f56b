// Asks the subgraph at SUBGRAPH for Apollo's inline trace, as a gateway does
// (`apollo-federation-include-trace: ftv1`), and decodes it with Apollo's own
// protobuf types: the suite's ftv1 check, and the trace's tree of fields.
// Usage: SUBGRAPH=http://127.0.0.1:4005/graphql node ftv1.mjs
import assert from 'node:assert/strict';
import protobuf from '@apollo/usage-reporting-protobuf';

const ask = async (query) => {
  const res = await fetch(process.env.SUBGRAPH, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'apollo-federation-include-trace': 'ftv1' },
    body: JSON.stringify({ query }),
  });
  return res.json();
};

// The suite's check: `{ __typename }` answers with a trace beside the data.
const plain = await ask('query { __typename }');
assert.deepEqual(plain.data, { __typename: 'Query' });
assert.equal(typeof plain.extensions?.ftv1, 'string');

const body = await ask('{ product(id: "apollo-federation") { sku research { study { caseNumber } } } }');
const trace = protobuf.Trace.decode(Buffer.from(body.extensions.ftv1, 'base64'));
assert.ok(Number(trace.durationNs) > 0);
const product = trace.root.child.find((n) => n.responseName === 'product');
assert.equal(product.type, 'Product');
assert.equal(product.parentType, 'Query');
const sku = product.child.find((n) => n.responseName === 'sku');
assert.equal(sku.type, 'String');
assert.ok(Number(sku.endTime) >= Number(sku.startTime));
const research = product.child.find((n) => n.responseName === 'research');
assert.equal(research.child[0].index, 0, 'list items by index');
console.log(`ftv1 decoded: ${trace.root.child.length} root field, ${product.child.length} under product`);
