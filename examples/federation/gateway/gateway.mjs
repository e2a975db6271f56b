// Apollo Gateway over a supergraph composed by compose.mjs. It forwards the
// client's Authorization header to every subgraph, which verify the token
// themselves (accounts signs it; the others read accounts' JWKS).
// Usage: PORT=4000 node gateway.mjs supergraph.graphql
import { readFileSync } from 'node:fs';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';

class ForwardAuth extends RemoteGraphQLDataSource {
  willSendRequest({ request, context }) {
    if (context.authorization) request.http.headers.set('authorization', context.authorization);
  }
}

const gateway = new ApolloGateway({
  supergraphSdl: readFileSync(process.argv[2], 'utf8'),
  buildService: ({ url }) => new ForwardAuth({ url }),
});
const server = new ApolloServer({ gateway, includeStacktraceInErrorResponses: false });
const { url } = await startStandaloneServer(server, {
  listen: { host: '127.0.0.1', port: Number(process.env.PORT ?? 4000) },
  context: async ({ req }) => ({ authorization: req.headers.authorization }),
});
console.log(`gateway ready at ${url}`);
