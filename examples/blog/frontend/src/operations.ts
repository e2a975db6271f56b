// The operations this app sends. graphql-codegen reads them, checks them
// against the schema and types them; at run time only their hashes travel.
import { graphql } from './gql/index.js';

export const RecentPosts = graphql(`
  query RecentPosts($first: Int!) {
    posts(first: $first, orderBy: [{ createdAt: DESC }, { id: DESC }]) {
      totalCount
      nodes {
        id
        title
        readingMinutes
        author {
          username
        }
      }
    }
  }
`);
