// Hive Gateway over a supergraph whose subgraphs print @authenticated and
// @requiresScopes (`schema --federation --auth-directives`). Unlike Apollo
// Gateway, it enforces them: it verifies the bearer token against accounts'
// JWKS (jose), reads the scopes from the token's `scope` claim, and refuses a
// field before any subgraph is called. It also forwards Authorization, so
// every subgraph still applies its own rules. CI gives it The Guild's
// supergraph (compose.mjs GUILD_SUPERGRAPH=…), the composer Hive pairs with.
// Usage: PORT=4004 JWKS_URL=http://127.0.0.1:4001/.well-known/jwks.json node hive.mjs supergraph.graphql
import { createServer } from 'node:http';
import { readFileSync } from 'node:fs';
import { createGatewayRuntime } from '@graphql-hive/gateway-runtime';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const jwks = createRemoteJWKSet(new URL(process.env.JWKS_URL));
const verify = { issuer: process.env.JWT_ISSUER ?? 'graphloom', audience: process.env.JWT_AUDIENCE ?? 'graphloom' };

const gateway = createGatewayRuntime({
  supergraph: readFileSync(process.argv[2], 'utf8'),
  logging: 'error',
  genericAuth: {
    mode: 'protect-granular',
    // The token's claims are the user; a missing or bad token is anonymous
    // here (the subgraphs answer a bad token with UNAUTHENTICATED themselves).
    resolveUserFn: async (ctx) => {
      const header = ctx.request.headers.get('authorization') ?? '';
      const token = header.startsWith('Bearer ') ? header.slice(7) : null;
      if (!token) return null;
      try {
        return (await jwtVerify(token, jwks, verify)).payload;
      } catch {
        return null;
      }
    },
  },
  propagateHeaders: {
    fromClientToSubgraphs: ({ request }) => {
      const authorization = request.headers.get('authorization');
      return authorization ? { authorization } : {};
    },
  },
});
const server = createServer(gateway).listen(Number(process.env.PORT ?? 4004), '127.0.0.1', () => {
  console.log(`hive gateway ready on port ${process.env.PORT ?? 4004}`);
});
// The runtime disposes itself on a signal but leaves the HTTP server open:
// close both and exit.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    server.close();
    server.closeAllConnections();
    process.exit(0);
  });
}
