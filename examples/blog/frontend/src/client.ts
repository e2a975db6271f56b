// A typed GraphQL client in a dozen lines: the document's types say what
// the variables must be and what the data is.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';

export async function request<Data, Variables>(
  url: string,
  document: TypedDocumentNode<Data, Variables>,
  variables: Variables,
): Promise<Data> {
  // With persisted documents the client sends the document's hash only; the
  // server runs it from its manifest of trusted documents.
  const hash = (document as { __meta__?: { hash?: string } }).__meta__?.hash;
  if (!hash) throw new Error('the document has no persisted-document hash: run codegen');
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify({ documentId: hash, variables }),
  });
  const body = (await response.json()) as { data?: Data; errors?: unknown[] };
  if (body.errors?.length || !body.data) {
    throw new Error(`${response.status}: ${JSON.stringify(body.errors)}`);
  }
  return body.data;
}
