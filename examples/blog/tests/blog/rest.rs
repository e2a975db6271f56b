//! REST beside GraphQL: `/api/posts` and `/api/posts/{id}` read and
//! written from the same registry and rules, over HTTP against the real
//! binary, with statement counts.

use hyper::HeaderMap;
use serde_json::{Value, json};

use crate::http::{Http, Server, start_at};

/// The blog over a small seeded database: SQLite, or PostgreSQL when
/// GRAPHLOOM_TEST_DATABASE_URL is set.
async fn blog() -> (Server, Http) {
    let url = graphloom_test::fresh_database_url().await;
    start_at(&url, None, &[], &[]).await
}

async fn get(c: &Http, base: &str, path: &str, token: Option<&str>) -> (u16, HeaderMap, Value) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = bearer
        .iter()
        .map(|b| ("authorization", b.as_str()))
        .collect();
    crate::http::call(c, "GET", &format!("{base}{path}"), &headers, "").await
}

fn header(h: &HeaderMap, name: &str) -> String {
    h.get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

fn ids(body: &Value) -> Vec<String> {
    body.as_array()
        .unwrap_or_else(|| panic!("not a list: {body}"))
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn token(c: &Http, base: &str, user: &str) -> String {
    let body = json!({
        "query": "mutation($l: String!, $p: String!) { login(input: { login: $l, password: $p }) { accessToken } }",
        "variables": { "l": user, "p": blog::seed::DEMO_PASSWORD },
    });
    let (_, _, json) = crate::http::send(
        c,
        crate::http::post(base, &body.to_string(), None, "application/json"),
    )
    .await;
    json["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn lists_and_rows_with_fields_expansions_and_no_drafts_for_strangers() {
    // 3 users, 5 posts (post 5 is a draft), 10 comments, 2 tags.
    let (server, c) = blog().await;
    let base = server.base.as_str();
    let (status, h, body) = get(&c, base, "/api/posts?count=true", None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(header(&h, "content-type"), "application/json");
    assert_eq!(ids(&body), ["1", "2", "3", "4"], "the draft is not listed");
    assert_eq!(header(&h, "x-total-count"), "4");
    // The GraphQL API's names and values: camelCase, the key as `authorId`,
    // enum values as in the schema.
    let first = &body[0];
    assert_eq!(first["status"], "PUBLISHED");
    assert!(
        first["authorId"].is_string() && first["createdAt"].is_string(),
        "{first}"
    );
    // The count and the page: two statements; the page alone (the
    // default), one.
    assert_eq!(header(&h, "x-sql-statements"), "2");
    let (_, h, _) = get(&c, base, "/api/posts", None).await;
    assert_eq!(
        (header(&h, "x-sql-statements"), header(&h, "x-total-count")),
        ("1".to_owned(), String::new())
    );
    // Sparse fieldsets.
    let (_, _, body) = get(&c, base, "/api/posts?fields=id,title", None).await;
    let keys: Vec<&String> = body[0].as_object().unwrap().keys().collect();
    assert_eq!(keys, ["id", "title"]);
    // A to-one expansion joins into the page's statement; field rules hold
    // inside it (a stranger sees no author's email).
    let (_, h, body) = get(&c, base, "/api/posts?fields=id&expand=author", None).await;
    assert_eq!(header(&h, "x-sql-statements"), "1", "no N+1: joined");
    assert!(body[0]["author"]["username"].is_string(), "{body}");
    assert_eq!(body[0]["author"]["email"], Value::Null);
    // An expansion's own sparse fieldset: `relation.field`.
    let (_, h, body) = get(
        &c,
        base,
        "/api/posts?fields=id,author.username,comments.id&expand=author,comments",
        None,
    )
    .await;
    assert_eq!(header(&h, "x-sql-statements"), "2");
    let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&body[0]), ["author", "comments", "id"]);
    assert_eq!(keys(&body[0]["author"]), ["username"]);
    assert_eq!(keys(&body[0]["comments"][0]), ["id"]);
    let (s, _, body) = get(&c, base, "/api/posts?fields=author.username", None).await;
    assert_eq!(
        (s, body["code"].clone()),
        (400, json!("BAD_USER_INPUT")),
        "{body}"
    );
    let (s, _, body) = get(
        &c,
        base,
        "/api/posts?fields=author.nope&expand=author",
        None,
    )
    .await;
    assert_eq!(
        (s, body["code"].clone()),
        (400, json!("BAD_USER_INPUT")),
        "{body}"
    );
    // A to-many expansion is one more statement, whatever the page size.
    let (_, h, body) = get(&c, base, "/api/posts?fields=id&expand=comments,tags", None).await;
    assert_eq!(header(&h, "x-sql-statements"), "3");
    assert!(
        body[0]["comments"].is_array() && body[0]["tags"].is_array(),
        "{body}"
    );
    // One row; the draft is absent to a stranger and there for the superuser.
    let (status, _, body) = get(&c, base, "/api/posts/2?expand=author", None).await;
    assert_eq!((status, body["id"].clone()), (200, json!("2")));
    let (status, h, body) = get(&c, base, "/api/posts/5", None).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(header(&h, "content-type"), "application/problem+json");
    assert_eq!(
        (body["status"].clone(), body["code"].clone()),
        (json!(404), json!("NOT_FOUND"))
    );
    let admin = token(&c, base, "user1").await;
    let (status, _, _) = get(&c, base, "/api/posts/5", Some(&admin)).await;
    assert_eq!(status, 200);
    let (_, h, _) = get(&c, base, "/api/posts?count=true", Some(&admin)).await;
    assert_eq!(header(&h, "x-total-count"), "5");
}

#[tokio::test]
async fn filters_order_and_pages_follow_one_convention() {
    let (server, c) = blog().await;
    let base = server.base.as_str();
    let (_, _, body) = get(&c, base, "/api/posts?id__in=1,3,5", None).await;
    assert_eq!(
        ids(&body),
        ["1", "3"],
        "a filter does not reach the draft either"
    );
    let (_, _, body) = get(
        &c,
        base,
        "/api/posts?status=PUBLISHED&order=-id&limit=2",
        None,
    )
    .await;
    assert_eq!(ids(&body), ["4", "3"]);
    let (_, _, all) = get(&c, base, "/api/posts?fields=id,authorId", None).await;
    let by_user1: Vec<String> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["authorId"] == "1")
        .map(|p| p["id"].as_str().unwrap().to_owned())
        .collect();
    let (_, _, body) = get(&c, base, "/api/posts?author.username=user1", None).await;
    assert_eq!(ids(&body), by_user1, "through a relation");
    let (_, _, body) = get(&c, base, "/api/posts?title__startsWith=Post%201", None).await;
    assert_eq!(ids(&body), ["1"]);
    let (_, _, body) = get(
        &c,
        base,
        "/api/posts?createdAt__gte=2000-01-01T00:00:00Z&order=author.username,-id",
        None,
    )
    .await;
    assert_eq!(body.as_array().unwrap().len(), 4);
    // Pages: Link and X-Total-Count.
    let (_, h, body) = get(&c, base, "/api/posts?limit=2&count=true", None).await;
    assert_eq!(
        (ids(&body), header(&h, "x-total-count")),
        (vec!["1".to_owned(), "2".to_owned()], "4".to_owned())
    );
    assert_eq!(
        header(&h, "link"),
        r#"</api/posts?count=true&limit=2&offset=2>; rel="next""#
    );
    let (_, h, body) = get(&c, base, "/api/posts?limit=2&offset=2", None).await;
    assert_eq!(ids(&body), ["3", "4"]);
    assert_eq!(
        header(&h, "link"),
        r#"</api/posts?limit=2&offset=0>; rel="prev""#
    );
}

#[tokio::test]
async fn refusals_are_problem_details_with_the_graphql_codes() {
    let (server, c) = blog().await;
    let base = server.base.as_str();
    for (path, status, code) in [
        ("/api/nothing", 404, "NOT_FOUND"),
        ("/api/posts/x", 400, "BAD_USER_INPUT"),
        ("/api/posts?fields=password", 400, "BAD_USER_INPUT"),
        ("/api/posts?nope=1", 400, "BAD_USER_INPUT"),
        ("/api/posts?id__like=1", 400, "BAD_USER_INPUT"),
        ("/api/posts?rating__gt=lots", 400, "BAD_USER_INPUT"),
        ("/api/posts?expand=nope", 400, "BAD_USER_INPUT"),
        ("/api/posts?order=nope", 400, "BAD_USER_INPUT"),
        ("/api/posts?limit=many", 400, "BAD_USER_INPUT"),
        ("/api/posts?count=maybe", 400, "BAD_USER_INPUT"),
        (
            "/api/posts?offset=18446744073709551615",
            400,
            "BAD_USER_INPUT",
        ),
        (
            "/api/posts?limit=18446744073709551615",
            400,
            "PAGE_SIZE_EXCEEDED",
        ),
        ("/api/posts?limit=100000", 400, "PAGE_SIZE_EXCEEDED"),
        ("/api/posts/1?status=PUBLISHED", 400, "BAD_USER_INPUT"),
        ("/api/posts?order=comments.id", 400, "BAD_USER_INPUT"),
        // Listing users needs a login (the list rule), as in GraphQL.
        ("/api/users", 401, "UNAUTHENTICATED"),
    ] {
        let (s, h, body) = get(&c, base, path, None).await;
        assert_eq!(
            (s, body["code"].as_str().unwrap_or("")),
            (status, code),
            "{path}: {body}"
        );
        assert_eq!(
            header(&h, "content-type"),
            "application/problem+json",
            "{path}"
        );
        assert_eq!(body["status"], status, "{path}");
    }
    // Filtering on a field some may not read would probe it: refused.
    let user2 = token(&c, base, "user2").await;
    let (s, _, body) = get(&c, base, "/api/users?email=user1@example.com", Some(&user2)).await;
    assert_eq!(
        (s, body["code"].clone()),
        (403, json!("FORBIDDEN")),
        "{body}"
    );
    // Nor ordering by it.
    let (s, _, body) = get(&c, base, "/api/users?order=email", Some(&user2)).await;
    assert_eq!(
        (s, body["code"].clone()),
        (403, json!("FORBIDDEN")),
        "{body}"
    );
    // The draft (post 5) does not come through an expansion either, to
    // anyone but its author and staff.
    let admin = token(&c, base, "user1").await;
    let (_, _, draft) = get(&c, base, "/api/posts/5?fields=authorId", Some(&admin)).await;
    let author = draft["authorId"].as_str().unwrap().to_owned();
    let stranger = token(&c, base, if author == "2" { "user3" } else { "user2" }).await;
    for (path, who) in [
        (
            "/api/users?fields=id,posts.id&expand=posts",
            Some(&stranger),
        ),
        ("/api/tags?fields=id,posts.id&expand=posts", None),
        ("/api/comments?fields=id,post.id&expand=post", None),
    ] {
        let (s, _, body) = get(&c, base, path, who.map(String::as_str)).await;
        assert_eq!(s, 200, "{path}: {body}");
        assert!(
            !body.to_string().contains(r#"{"id":"5"}"#),
            "{path}: {body}"
        );
    }
    let (_, _, body) = get(
        &c,
        base,
        &format!("/api/users/{author}?fields=id,posts.id&expand=posts"),
        Some(&admin),
    )
    .await;
    assert!(
        body.to_string().contains(r#"{"id":"5"}"#),
        "staff see it: {body}"
    );
    // A user's own email shows; another's is null.
    let (_, _, body) = get(
        &c,
        base,
        "/api/users?fields=id,email&order=id",
        Some(&user2),
    )
    .await;
    assert_eq!(body[0]["email"], Value::Null);
    assert_eq!(body[1]["email"], "user2@example.com");
}

/// A write: method, path, JSON body (or raw text with a content type).
async fn send_body(
    c: &Http,
    base: &str,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: (&str, &str),
) -> (u16, HeaderMap, Value) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", body.0)];
    headers.extend(bearer.iter().map(|b| ("authorization", b.as_str())));
    crate::http::call(c, method, &format!("{base}{path}"), &headers, body.1).await
}

const JSON: &str = "application/json";

#[tokio::test]
async fn rows_are_written_with_the_graphql_mutations_rules_and_errors() {
    let (server, c) = blog().await;
    let base = server.base.as_str();
    let ann = token(&c, base, "user2").await;
    let post = r#"{ "title": "From REST", "slug": "from-rest", "body": "Hello." }"#;
    // A login is needed, as for createPost.
    let (s, _, body) = send_body(&c, base, "POST", "/api/posts", None, (JSON, post)).await;
    assert_eq!(
        (s, body["code"].clone()),
        (401, json!("UNAUTHENTICATED")),
        "{body}"
    );
    // Created: 201, its Location, the row as GET shows it (defaults and
    // presets applied: the author is the writer, the status a draft).
    let (s, h, body) = send_body(&c, base, "POST", "/api/posts", Some(&ann), (JSON, post)).await;
    assert_eq!(s, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(header(&h, "location"), format!("/api/posts/{id}"));
    assert_eq!(
        (body["authorId"].clone(), body["status"].clone()),
        (json!("2"), json!("DRAFT"))
    );
    // Refused input: 422 with the fields and codes; a clash: 409.
    let long = json!({ "title": "x".repeat(201), "slug": "long", "body": "." }).to_string();
    let (s, h, body) = send_body(&c, base, "POST", "/api/posts", Some(&ann), (JSON, &long)).await;
    assert_eq!(
        (s, header(&h, "content-type")),
        (422, "application/problem+json".to_owned()),
        "{body}"
    );
    assert_eq!(body["errors"][0]["field"], json!(["title"]));
    assert_eq!(body["errors"][0]["code"], "MAX_LENGTH");
    let (s, _, body) = send_body(&c, base, "POST", "/api/posts", Some(&ann), (JSON, post)).await;
    assert_eq!((s, body["code"].clone()), (409, json!("UNIQUE")), "{body}");
    // Not the input's shape: 422 (unknown field), 400 (not JSON, not an
    // object), 415 (not JSON at all).
    for (ct, text, status) in [
        (JSON, r#"{ "nope": 1 }"#, 422),
        (JSON, "{", 400),
        (JSON, "[1]", 400),
        ("text/plain", post, 415),
    ] {
        let (s, _, body) = send_body(&c, base, "POST", "/api/posts", Some(&ann), (ct, text)).await;
        assert_eq!(s, status, "{text}: {body}");
        assert!(body["code"].is_string(), "{body}");
    }
    // Changed by its author; another user may not.
    let path = format!("/api/posts/{id}");
    let (s, _, body) = send_body(
        &c,
        base,
        "PATCH",
        &path,
        Some(&ann),
        (JSON, r#"{ "title": "Renamed" }"#),
    )
    .await;
    assert_eq!(
        (s, body["title"].clone()),
        (200, json!("Renamed")),
        "{body}"
    );
    let bob = token(&c, base, "user3").await;
    let (s, _, body) = send_body(
        &c,
        base,
        "PATCH",
        &path,
        Some(&bob),
        (JSON, r#"{ "title": "Mine" }"#),
    )
    .await;
    // A draft is its author's: to anyone else it is not there at all.
    assert_eq!(
        (s, body["code"].clone()),
        (404, json!("NOT_FOUND")),
        "{body}"
    );
    // Deleted: 204, then gone.
    let (s, _, _) = send_body(&c, base, "DELETE", &path, Some(&ann), (JSON, "")).await;
    assert_eq!(s, 204);
    let (s, _, _) = get(&c, base, &path, Some(&ann)).await;
    assert_eq!(s, 404);
    // A user others' rows still protect: 409 (PROTECTED), even for a superuser.
    let admin = token(&c, base, "user1").await;
    let (s, _, body) =
        send_body(&c, base, "DELETE", "/api/users/2", Some(&admin), (JSON, "")).await;
    assert_eq!(
        (s, body["code"].clone()),
        (409, json!("PROTECTED")),
        "{body}"
    );
    // Permissions have no generated writes: 405, even for a superuser.
    let (s, _, body) = send_body(
        &c,
        base,
        "POST",
        "/api/permissions",
        Some(&admin),
        (JSON, "{}"),
    )
    .await;
    assert_eq!(
        (s, body["code"].clone()),
        (405, json!("METHOD_NOT_ALLOWED")),
        "{body}"
    );
}

/// A request with extra headers (and a JSON body when given).
async fn with_headers(
    c: &Http,
    base: &str,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: &str,
) -> (u16, HeaderMap, Value) {
    let mut headers = vec![("content-type", JSON)];
    headers.extend_from_slice(extra);
    crate::http::call(c, method, &format!("{base}{path}"), &headers, body).await
}

#[tokio::test]
async fn versions_guard_writes_and_cursors_walk_lists() {
    let (server, c) = blog().await;
    let base = server.base.as_str();
    let ann = token(&c, base, "user2").await;
    let bearer = format!("Bearer {ann}");
    let auth = ("authorization", bearer.as_str());
    let post = r#"{ "title": "Versioned", "slug": "versioned", "body": "v1" }"#;
    let (s, h, body) = with_headers(&c, base, "POST", "/api/posts", &[auth], post).await;
    assert_eq!(s, 201, "{body}");
    let v1 = header(&h, "etag");
    assert!(v1.starts_with('"') && v1.len() > 10, "{v1}");
    let path = format!("/api/posts/{}", body["id"].as_str().unwrap());
    // The version is the row's, whichever fields are shown.
    let (_, h, _) = with_headers(&c, base, "GET", &format!("{path}?fields=id"), &[auth], "").await;
    assert_eq!(header(&h, "etag"), v1);
    // A client's copy that is current: 304, no body.
    for held in [v1.clone(), format!("W/{v1}"), "*".to_owned()] {
        let (s, h, _) = with_headers(
            &c,
            base,
            "GET",
            &path,
            &[auth, ("if-none-match", &held)],
            "",
        )
        .await;
        assert_eq!((s, header(&h, "etag")), (304, v1.clone()), "{held}");
    }
    let (s, _, _) = with_headers(
        &c,
        base,
        "GET",
        &path,
        &[auth, ("if-none-match", "\"old\"")],
        "",
    )
    .await;
    assert_eq!(s, 200);
    // A change on the version read: done, and the version moves on.
    let rename = r#"{ "title": "Renamed" }"#;
    let (s, h, body) =
        with_headers(&c, base, "PATCH", &path, &[auth, ("if-match", &v1)], rename).await;
    assert_eq!(s, 200, "{body}");
    let v2 = header(&h, "etag");
    assert_ne!(v2, v1);
    // A change on a version that is no longer current: 412, nothing written.
    let stale = r#"{ "title": "Lost update" }"#;
    for held in [v1.clone(), format!("W/{v2}")] {
        let (s, _, body) = with_headers(
            &c,
            base,
            "PATCH",
            &path,
            &[auth, ("if-match", &held)],
            stale,
        )
        .await;
        assert_eq!(
            (s, body["code"].clone()),
            (412, json!("PRECONDITION_FAILED")),
            "{held}: {body}"
        );
    }
    let (_, _, body) = with_headers(&c, base, "GET", &path, &[auth], "").await;
    assert_eq!(body["title"], "Renamed");
    // One of several versions, or any (`*`), will do.
    let (s, _, body) = with_headers(
        &c,
        base,
        "PATCH",
        &path,
        &[auth, ("if-match", &format!("\"x\", {v2}"))],
        r#"{ "body": "v3" }"#,
    )
    .await;
    assert_eq!(s, 200, "{body}");
    let (s, _, _) = with_headers(&c, base, "DELETE", &path, &[auth, ("if-match", &v2)], "").await;
    assert_eq!(s, 412, "a delete is guarded too");
    let (s, _, _) = with_headers(&c, base, "DELETE", &path, &[auth, ("if-match", "*")], "").await;
    assert_eq!(s, 204);

    // Cursors: the next page is linked by the last row's cursor, and the
    // link keeps the query's filters and order.
    let (s, h, body) = get(
        &c,
        base,
        "/api/posts?status=PUBLISHED&order=-id&limit=2&after=",
        None,
    )
    .await;
    assert_eq!(
        (s, body["code"].clone()),
        (400, json!("INVALID_CURSOR")),
        "{body}"
    );
    let (_, h0, body) = get(
        &c,
        base,
        "/api/posts?status=PUBLISHED&order=-id&limit=2",
        None,
    )
    .await;
    assert_eq!(ids(&body), ["4", "3"]);
    assert_eq!(
        header(&h0, "link"),
        r#"</api/posts?status=PUBLISHED&order=-id&limit=2&offset=2>; rel="next""#
    );
    drop(h);
    let (_, _, first) = get(
        &c,
        base,
        "/api/posts?status=PUBLISHED&order=-id&limit=1",
        None,
    )
    .await;
    assert_eq!(ids(&first), ["4"]);
    // A cursor is GraphQL's, for the same list: the first edge of
    // `posts(order: …)` continues here.
    let gql = json!({ "query": "{ posts(where: { status: { eq: PUBLISHED } }, orderBy: [{ id: DESC }], first: 1) { edges { cursor } } }" });
    let (_, _, data) =
        crate::http::send(&c, crate::http::post(base, &gql.to_string(), None, JSON)).await;
    let cursor = data["data"]["posts"]["edges"][0]["cursor"]
        .as_str()
        .unwrap_or_else(|| panic!("{data}"))
        .to_owned();
    let (s, h, body) = get(
        &c,
        base,
        &format!("/api/posts?status=PUBLISHED&order=-id&limit=2&after={cursor}"),
        None,
    )
    .await;
    assert_eq!(
        (s, ids(&body)),
        (200, vec!["3".to_owned(), "2".to_owned()]),
        "{body}"
    );
    let link = header(&h, "link");
    let next = link
        .strip_prefix('<')
        .and_then(|l| l.split_once(">; rel=\"next\""))
        .map(|(u, _)| u.to_owned())
        .unwrap_or_else(|| panic!("{link}"));
    assert!(
        next.contains("status=PUBLISHED&order=-id&limit=2&after="),
        "{next}"
    );
    let (_, h, body) = get(&c, base, &next, None).await;
    assert_eq!(ids(&body), ["1"]);
    assert_eq!(header(&h, "link"), "", "the last page links nowhere");
    let (s, _, body) = get(
        &c,
        base,
        &format!("/api/posts?after={cursor}&offset=1"),
        None,
    )
    .await;
    assert_eq!(
        (s, body["code"].clone()),
        (400, json!("BAD_USER_INPUT")),
        "{body}"
    );
    // Another model's cursor is not this list's.
    let (s, _, body) = get(&c, base, &format!("/api/comments?after={cursor}"), None).await;
    assert_eq!(
        (s, body["code"].clone()),
        (400, json!("INVALID_CURSOR")),
        "{body}"
    );
}

#[tokio::test]
async fn credentials_and_bodies_are_refused_as_problems() {
    let (server, c) = blog().await;
    let base = server.base.as_str();
    // A bad token: 401 with WWW-Authenticate, as a problem document.
    let (s, h, body) = get(&c, base, "/api/posts", Some("not-a-token")).await;
    assert_eq!(
        (s, body["code"].clone()),
        (401, json!("UNAUTHENTICATED")),
        "{body}"
    );
    assert_eq!(header(&h, "content-type"), "application/problem+json");
    assert_eq!(header(&h, "www-authenticate"), "Bearer");
    let (s, _, body) = with_headers(
        &c,
        base,
        "GET",
        "/api/posts",
        &[("authorization", "Basic x")],
        "",
    )
    .await;
    assert_eq!(
        (s, body["code"].clone()),
        (401, json!("UNAUTHENTICATED")),
        "{body}"
    );
    // Over the body limit (1 MiB): 413.
    let ann = token(&c, base, "user2").await;
    let big = json!({ "title": "big", "slug": "big", "body": "x".repeat(2 << 20) }).to_string();
    let (s, h, body) = send_body(&c, base, "POST", "/api/posts", Some(&ann), (JSON, &big)).await;
    assert_eq!(
        (s, body["code"].clone()),
        (413, json!("PAYLOAD_TOO_LARGE")),
        "{body}"
    );
    assert_eq!(header(&h, "content-type"), "application/problem+json");
}

#[tokio::test]
async fn the_services_own_endpoints_run_typed_under_the_callers_rules() {
    let (server, c) = blog().await;
    let base = server.base.as_str();
    // Counts as each caller sees them: a stranger does not count the draft.
    let (s, h, stranger) = get(&c, base, "/api/stats", None).await;
    assert_eq!((s, header(&h, "content-type")), (200, JSON.to_owned()));
    let author_of_draft = {
        let admin = token(&c, base, "user1").await;
        let (_, _, d) = get(&c, base, "/api/posts/5?fields=authorId", Some(&admin)).await;
        d["authorId"].as_str().unwrap().to_owned()
    };
    let owner = token(&c, base, &format!("user{author_of_draft}")).await;
    let (_, _, own) = get(&c, base, "/api/stats", Some(&owner)).await;
    assert_eq!(stranger["posts"], 4, "{stranger}");
    assert_eq!(own["posts"], 5, "{own}");
    assert_eq!(stranger["tags"], 2);
    // A typed body: publishing the draft, by a stranger (nothing), then by
    // its author.
    let other = token(
        &c,
        base,
        if author_of_draft == "2" {
            "user3"
        } else {
            "user2"
        },
    )
    .await;
    let ids = r#"{ "ids": ["5"] }"#;
    let (s, _, body) = send_body(
        &c,
        base,
        "POST",
        "/api/posts/publish",
        Some(&other),
        (JSON, ids),
    )
    .await;
    assert_eq!((s, body.clone()), (200, json!({ "ids": [] })), "{body}");
    let (s, _, body) = send_body(
        &c,
        base,
        "POST",
        "/api/posts/publish",
        Some(&owner),
        (JSON, ids),
    )
    .await;
    assert_eq!((s, body.clone()), (200, json!({ "ids": ["5"] })), "{body}");
    let (_, _, after) = get(&c, base, "/api/stats", None).await;
    assert_eq!(after["posts"], 5);
    // Bodies that do not fit the type, or are not JSON: problems.
    for (ct, text, status, code) in [
        (JSON, r#"{ "ids": "5" }"#, 400, "BAD_USER_INPUT"),
        (JSON, r#"{ "nope": 1 }"#, 400, "BAD_USER_INPUT"),
        (JSON, "{", 400, "BAD_REQUEST"),
        ("text/plain", ids, 415, "UNSUPPORTED_MEDIA_TYPE"),
    ] {
        let (s, h, body) = send_body(
            &c,
            base,
            "POST",
            "/api/posts/publish",
            Some(&owner),
            (ct, text),
        )
        .await;
        assert_eq!(
            (s, body["code"].as_str().unwrap_or("")),
            (status, code),
            "{text}: {body}"
        );
        assert_eq!(header(&h, "content-type"), "application/problem+json");
    }
    let (s, _, body) = send_body(
        &c,
        base,
        "POST",
        "/api/posts/publish",
        Some(&owner),
        (JSON, r#"{ "ids": ["x"] }"#),
    )
    .await;
    assert_eq!(
        (s, body["code"].clone()),
        (400, json!("BAD_USER_INPUT")),
        "{body}"
    );
    // The method the endpoint does not have: 405.
    let (s, _, _) = get(&c, base, "/api/posts/publish", None).await;
    assert_eq!(s, 405);
}

#[tokio::test]
async fn the_openapi_document_describes_the_routes_and_is_a_contract() {
    let (server, c) = blog().await;
    let base = server.base.as_str();
    let (s, h, doc) = get(&c, base, "/api/openapi.json", None).await;
    assert_eq!((s, header(&h, "content-type")), (200, JSON.to_owned()));
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    // Writes only where the model has them; the service's endpoints typed
    // from their Rust types.
    assert!(paths["/api/posts"]["post"].is_object());
    assert!(paths["/api/permissions"].get("post").is_none());
    let publish = &paths["/api/posts/publish"]["post"];
    assert_eq!(
        publish["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/PublishRequest"
    );
    assert_eq!(
        doc["components"]["schemas"]["BlogStats"]["properties"]["posts"]["type"],
        "integer"
    );
    // Filters follow the capability table: text lookups on text only.
    let names: Vec<&str> = paths["/api/posts"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    for name in [
        "title__iContains",
        "createdAt__gte",
        "status__in",
        "id__lt",
        "expand",
        "after",
    ] {
        assert!(names.contains(&name), "{name}: {names:?}");
    }
    assert!(!names.contains(&"createdAt__contains"));
    // A field a rule may withhold is nullable.
    assert_eq!(
        doc["components"]["schemas"]["User"]["properties"]["email"]["type"],
        json!(["string", "null"])
    );
    // The document is the REST clients' contract, as the SDL is GraphQL's.
    insta::assert_snapshot!("blog_openapi", serde_json::to_string_pretty(&doc).unwrap());
    // The page that renders it, offline.
    let (s, h, _) = crate::http::call(&c, "GET", &format!("{base}/api/docs"), &[], "").await;
    assert_eq!(s, 200);
    assert!(header(&h, "content-security-policy").starts_with("default-src 'self'"));
}

#[tokio::test]
async fn no_document_while_introspection_is_off() {
    let url = graphloom_test::fresh_database_url().await;
    let (server, c) = start_at(&url, None, &[], &[("GRAPHLOOM_INTROSPECTION", "false")]).await;
    let base = server.base.as_str();
    for path in ["/api/openapi.json", "/api/docs"] {
        let (s, _, _) = crate::http::call(&c, "GET", &format!("{base}{path}"), &[], "").await;
        assert_eq!(s, 404, "{path}");
    }
    // The routes themselves still serve.
    let (s, _, _) = get(&c, base, "/api/posts", None).await;
    assert_eq!(s, 200);
}

mod switched_off {
    use graphloom::prelude::*;

    /// In GraphQL and REST.
    #[derive(Model, Debug)]
    #[model(app = "notes")]
    pub struct Note {
        pub id: Id,
        #[field(max_length = 100)]
        pub text: String,
        pub folder: ForeignKey<Folder>,
    }

    /// In GraphQL only.
    #[derive(Model, Debug)]
    #[model(app = "notes", rest = false)]
    pub struct Folder {
        pub id: Id,
        #[field(max_length = 100)]
        pub name: String,
    }

    pub fn service() -> Service {
        Service::new("notes").app(
            App::new("notes")
                .model::<Folder>()
                .model::<Note>()
                .permissions::<Folder>(ModelRules::new().create(Rule::Authenticated))
                .permissions::<Note>(ModelRules::new().create(Rule::Authenticated)),
        )
    }
}

#[tokio::test]
async fn a_model_can_stay_out_of_rest_and_in_graphql() {
    let c = graphloom_test::TestClient::new(&switched_off::service())
        .await
        .as_user(graphloom_test::user(1));
    let d = c
        .query(r#"mutation { createFolder(input: { name: "Inbox" }) { folder { id } } }"#)
        .await;
    let folder = d["createFolder"]["folder"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = c
        .rest(
            "POST",
            "/api/notes",
            &[],
            Some(json!({ "text": "Hello", "folderId": folder })),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.header("location"),
        format!("/api/notes/{}", r.body["id"].as_str().unwrap())
    );
    // Its rows still come through an expansion; its own routes are gone.
    let r = c.rest("GET", "/api/notes?expand=folder", &[], None).await;
    assert_eq!(r.body[0]["folder"]["name"], "Inbox", "{}", r.body);
    for path in ["/api/folders", &format!("/api/folders/{folder}")] {
        let r = c.rest("GET", path, &[], None).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (404, Some("NOT_FOUND")),
            "{path}"
        );
    }
    let doc = c.rest("GET", "/api/openapi.json", &[], None).await.body;
    assert!(doc["paths"].get("/api/folders").is_none());
    assert!(doc["paths"].get("/api/notes").is_some());
    assert!(
        doc["components"]["schemas"]["Folder"].is_object(),
        "for the expansion"
    );
    assert!(doc["components"]["schemas"].get("FolderCreate").is_none());
}

/// Endpoints the document or the router could not hold stop the start with
/// the reason, instead of a panic or a document with two meanings.
#[tokio::test]
async fn endpoints_that_cannot_be_served_stop_the_start() {
    use graphloom::server::{Call, Endpoint, ServerConfig};
    /// Named like the blog's Post schema.
    #[derive(serde::Serialize, schemars::JsonSchema)]
    struct Post {
        n: i32,
    }
    let client = graphloom_test::TestClient::new(&blog::service()).await;
    let with = |endpoints: Vec<Endpoint>| {
        graphloom::server::router(
            client.api().clone(),
            &ServerConfig {
                endpoints,
                ..Default::default()
            },
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
    };
    let named_post = Endpoint::get("/api/clash", |_c: Call| async {
        Ok::<_, graphloom::query::Error>(Post { n: 1 })
    });
    assert!(with(vec![named_post]).contains("named `Post`"));
    let generated = Endpoint::get("/api/posts/{pk}", |_c: Call| async {
        Ok::<_, graphloom::query::Error>(1)
    });
    assert!(with(vec![generated]).contains("generated resource"));
    let twice = || {
        Endpoint::get("/api/twice", |_c: Call| async {
            Ok::<_, graphloom::query::Error>(1)
        })
    };
    assert!(with(vec![twice(), twice()]).contains("two endpoints"));
}
