// The two subgraphs Apollo's compatibility suite composes with the
// "products" subgraph under test: `users` (owns User) and `inventory` (owns
// the Inventory interface, and needs Product.dimensions for delivery), over
// the schemas in compat/, with @apollo/subgraph. Their data is the suite's,
// except that users names the user "Jane Smith (users)": the name through
// the gateway must be products' "Jane Smith", which @override moved there.
// Usage: USERS_PORT=4011 INVENTORY_PORT=4012 node compat-subgraphs.mjs
import { readFileSync } from 'node:fs';
import { parse } from 'graphql';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';

const schema = (name) => parse(readFileSync(new URL(`compat/${name}.graphql`, import.meta.url), 'utf8'));

const user = {
  email: 'support@apollographql.com',
  name: 'Jane Smith (users)',
  totalProductsCreated: 1337,
  yearsOfEmployment: 10,
};
const users = {
  User: {
    __resolveReference: (ref) => (ref.email === user.email ? user : null),
  },
};

const inventory = { id: 'apollo-oss', products: [{ id: 'apollo-federation' }, { id: 'apollo-studio' }] };
const inventories = {
  Query: {
    inventory: (_, { id }) => (id === inventory.id ? inventory : null),
  },
  Inventory: {
    __resolveType: () => 'OpenSourceInventory',
  },
  OpenSourceInventory: {
    __resolveReference: (ref) => (ref.id === inventory.id ? inventory : null),
  },
  Product: {
    // `dimensions` comes from products, through the gateway (@requires).
    delivery: (product) => {
      const { size, weight } = product.dimensions ?? {};
      return size === 'small' && weight === 1
        ? { estimatedDelivery: '6/25/2021', fastestDelivery: '6/24/2021' }
        : { estimatedDelivery: '6/25/2021', fastestDelivery: null };
    },
  },
};

for (const [name, resolvers, port] of [
  ['users', users, process.env.USERS_PORT ?? 4011],
  ['inventory', inventories, process.env.INVENTORY_PORT ?? 4012],
]) {
  const server = new ApolloServer({ schema: buildSubgraphSchema({ typeDefs: schema(name), resolvers }) });
  const { url } = await startStandaloneServer(server, { listen: { host: '127.0.0.1', port: Number(port) } });
  console.log(`${name} ready at ${url}`);
}
