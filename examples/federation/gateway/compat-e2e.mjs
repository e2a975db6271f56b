// The router-level checks of Apollo's subgraph compatibility suite
// (packages/compatibility/src/tests), through a gateway over the compat
// products subgraph and the suite's users and inventory subgraphs
// (compat-subgraphs.mjs), plus the paths between them the suite's schemas
// declare: entities by key across services, @requires, @provides,
// @override, @interfaceObject, @shareable and @inaccessible.
// Usage: GATEWAY=http://127.0.0.1:4000/ node compat-e2e.mjs
import assert from 'node:assert/strict';
import { client } from './client.mjs';

const { gql, ok } = client(process.env.GATEWAY);
const id = 'apollo-federation';

// @requires: products computes the average from the fields users owns.
let d = await ok(`query ($id: ID!) { product(id: $id) { createdBy { averageProductsCreatedPerYear email } } }`, {
  variables: { id },
});
assert.deepEqual(d.product.createdBy, { averageProductsCreatedPerYear: 134, email: 'support@apollographql.com' });

// @override: the name comes from products, not from users.
d = await ok(`query ($id: ID!) { product(id: $id) { createdBy { name yearsOfEmployment } } }`, { variables: { id } });
assert.deepEqual(d.product.createdBy, { name: 'Jane Smith', yearsOfEmployment: 10 });

// @provides: products answers totalProductsCreated on the createdBy path.
d = await ok(`query ($id: ID!) { product(id: $id) { createdBy { totalProductsCreated } } }`, { variables: { id } });
assert.equal(d.product.createdBy.totalProductsCreated, 1337);

// @shareable: the dimensions; @inaccessible: `unit` is not in the supergraph.
d = await ok(`query ($id: ID!) { product(id: $id) { dimensions { size weight } } }`, { variables: { id } });
assert.deepEqual(d.product.dimensions, { size: 'small', weight: 1 });
const hidden = await gql(`query ($id: ID!) { product(id: $id) { dimensions { unit } } }`, { variables: { id } });
assert.match(JSON.stringify(hidden.body.errors), /Cannot query field \\?"unit\\?" on type \\?"ProductDimension\\?"/);

// @interfaceObject: inventory's interface gains products' deprecatedProducts,
// whose createdBy is users' user with products' name.
d = await ok(`query ($id: ID!) { inventory(id: $id) { id deprecatedProducts { sku package reason createdBy { email name } } } }`, {
  variables: { id: 'apollo-oss' },
});
assert.deepEqual(d.inventory, {
  id: 'apollo-oss',
  deprecatedProducts: [
    {
      sku: 'apollo-federation-v1',
      package: '@apollo/federation-v1',
      reason: 'Migrate to Federation V2',
      createdBy: { email: 'support@apollographql.com', name: 'Jane Smith' },
    },
  ],
});

// Keys across services: inventory lists products by id, products resolves
// them (sku, variation, research by their keys), and inventory's delivery
// @requires the dimensions products sends back through the gateway.
d = await ok(`{ inventory(id: "apollo-oss") { products { id sku package variation { id } research { study { caseNumber description } }
  delivery(zip: "94111") { estimatedDelivery fastestDelivery } } } }`);
assert.deepEqual(d.inventory.products, [
  {
    id: 'apollo-federation',
    sku: 'federation',
    package: '@apollo/federation',
    variation: { id: 'OSS' },
    research: [{ study: { caseNumber: '1234', description: 'Federation Study' } }],
    delivery: { estimatedDelivery: '6/25/2021', fastestDelivery: '6/24/2021' },
  },
  {
    id: 'apollo-studio',
    sku: 'studio',
    package: '',
    variation: { id: 'platform' },
    research: [{ study: { caseNumber: '1235', description: 'Studio Study' } }],
    delivery: { estimatedDelivery: '6/25/2021', fastestDelivery: '6/24/2021' },
  },
]);

// The deprecated query still answers, deprecated.
d = await ok(`{ deprecatedProduct(sku: "apollo-federation-v1", package: "@apollo/federation-v1") { reason createdBy { yearsOfEmployment } } }`);
assert.deepEqual(d.deprecatedProduct, { reason: 'Migrate to Federation V2', createdBy: { yearsOfEmployment: 10 } });
d = await ok(`{ __type(name: "Query") { fields(includeDeprecated: true) { name isDeprecated deprecationReason } } }`);
assert.deepEqual(
  d.__type.fields.find((f) => f.name === 'deprecatedProduct'),
  { name: 'deprecatedProduct', isDeprecated: true, deprecationReason: 'Use product query instead' },
);
console.log(`compat e2e passed through ${process.env.GATEWAY}`);
