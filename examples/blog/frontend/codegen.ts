// Types every operation in src/ from the blog's exported SDL
// (`blog schema > schema.graphql`, or SCHEMA=path) and writes
// persisted-documents.json, the manifest the blog serves as trusted documents
// (`blog serve --trusted-documents persisted-documents.json`).
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: process.env.SCHEMA ?? 'schema.graphql',
  // ES module imports with .js extensions, as Node.js resolves them.
  emitLegacyCommonJSImports: false,
  documents: ['src/**/*.ts', '!src/gql/**/*'],
  generates: {
    './src/gql/': {
      preset: 'client',
      presetConfig: { persistedDocuments: true, fragmentMasking: false },
      config: {
        enumsAsTypes: true,
        strictScalars: true,
        scalars: {
          BigInt: 'string',
          Date: 'string',
          DateTime: 'string',
          Decimal: 'string',
          JSON: 'unknown',
          UUID: 'string',
          _Any: 'unknown',
        },
      },
    },
  },
};

export default config;
