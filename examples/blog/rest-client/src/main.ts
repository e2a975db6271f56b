// A typed REST client of the blog: the types come from the service's
// OpenAPI document (openapi-typescript writes src/api.d.ts), the calls go
// through openapi-fetch. tsc refuses this file if the document stops
// describing what it uses. Run: node dist/main.js http://127.0.0.1:8000
import createClient from "openapi-fetch";
import type { components, paths } from "./api.js";

type Post = components["schemas"]["Post"];
type PostCreate = components["schemas"]["PostCreate"];

const base = process.argv[2];
if (!base) throw new Error("usage: main.js <base url>");
// Lists as the document declares them: comma-separated (`expand=a,b`).
const api = createClient<paths>({
  baseUrl: base,
  querySerializer: { array: { style: "form", explode: false } },
});

function check(what: string, ok: boolean): void {
  if (!ok) throw new Error(`failed: ${what}`);
}

// Read: a page of published posts with their authors expanded.
const list = await api.GET("/api/posts", {
  params: { query: { status: "PUBLISHED", order: ["-id"], limit: 2, expand: ["author"], count: true } },
});
check(`list ${list.response.status}`, list.data !== undefined);
const posts: Post[] = list.data ?? [];
const newest = posts[0];
check("a post", newest !== undefined);
const author: string | undefined = newest?.author?.username;
console.log(
  `${list.response.headers.get("x-total-count")} published posts; the newest: "${newest?.title}" by ${author}`,
);

// Write: log in through GraphQL, create a post, change it on its version.
const login = await fetch(`${base}/graphql`, {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({
    query: "mutation($l: String!, $p: String!) { login(input: { login: $l, password: $p }) { accessToken } }",
    variables: { l: "user2", p: process.env.DEMO_PASSWORD ?? "" },
  }),
});
const token: string = (await login.json()).data.login.accessToken;
const headers = { authorization: `Bearer ${token}` };
const draft: PostCreate = { title: "Typed", slug: `typed-${Date.now()}`, body: "From TypeScript." };
const created = await api.POST("/api/posts", { body: draft, headers });
check(`create ${created.response.status}`, created.response.status === 201 && created.data !== undefined);
const id = created.data?.id ?? "";
const version = created.response.headers.get("etag") ?? "";
const changed = await api.PATCH("/api/posts/{id}", {
  params: { path: { id }, header: { "If-Match": version } },
  body: { title: "Typed, renamed" },
  headers,
});
check(`update ${changed.response.status}`, changed.data?.title === "Typed, renamed");
const stale = await api.PATCH("/api/posts/{id}", {
  params: { path: { id }, header: { "If-Match": version } },
  body: { title: "Lost" },
  headers,
});
check(`stale ${stale.response.status}`, stale.response.status === 412 && stale.error?.code === "PRECONDITION_FAILED");

// The service's own endpoints, typed from their Rust types.
const published = await api.POST("/api/posts/publish", { body: { ids: [id] }, headers });
check(`publish ${published.response.status}`, published.data?.ids[0] === id);
const stats = await api.GET("/api/stats", {});
const count: number = stats.data?.posts ?? -1;
check("stats", count > 0);
console.log(`created post ${id}, renamed it, published it; ${count} posts are public now`);
