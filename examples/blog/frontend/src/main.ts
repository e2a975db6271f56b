// Prints the newest posts: `node dist/main.js http://127.0.0.1:8000/graphql`.
import { request } from './client.js';
import { RecentPosts } from './operations.js';

const url = process.argv[2] ?? 'http://127.0.0.1:8000/graphql';
const data = await request(url, RecentPosts, { first: 5 });
console.log(`${data.posts.totalCount} posts; the newest:`);
for (const post of data.posts.nodes) {
  // `title` is `String!`: were it made nullable, this line would not compile.
  console.log(`- ${post.title.toUpperCase()} by ${post.author.username} (${post.readingMinutes} min)`);
}
