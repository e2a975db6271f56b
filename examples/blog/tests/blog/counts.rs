//! The planner's promise: statements depend on the query's shape, not the data.

use graphloom_test::{TestClient, assert_num_queries, capture, capture_with_transactions, user};
use serde_json::json;

use crate::common::seeded;

/// The issue's reference query: 50 posts, each author's username, the first 10
/// comments with body and author username, and the tag names.
pub const REFERENCE: &str = r#"{
    posts(first: 50) {
        edges { node {
            title
            author { username }
            comments(first: 10) { nodes { body author { username } } }
            tags { nodes { name } }
        } }
    }
}"#;

async fn reference_counts(c: &TestClient) {
    // posts with their authors, comments with theirs (to-one leaves are
    // joined into their parent's statement), tags.
    let d = assert_num_queries!(3, c.query(REFERENCE));
    assert!(!d["posts"]["edges"].as_array().unwrap().is_empty());
    // totalCount adds one statement at the root and one per nested list.
    let with_totals = REFERENCE
        .replace("posts(first: 50) {", "posts(first: 50) { totalCount")
        .replace("comments(first: 10) {", "comments(first: 10) { totalCount");
    assert_num_queries!(5, c.query(&with_totals));
}

/// A connection that is only counted reads no rows: its count is its one
/// statement, at the root and nested, on both paths.
#[tokio::test]
async fn a_count_alone_reads_no_rows() {
    let c = seeded(3, 10, 20, 3).await;
    let d = assert_num_queries!(1, c.query("{ posts { totalCount } }"));
    assert_eq!(d["posts"]["totalCount"], 10);
    let q = r#"{ user(id: "1") { posts { totalCount __typename } } posts(first: 3) { nodes { comments { totalCount } } } }"#;
    // The user, its posts' count; the three posts, their comments' counts.
    let d = assert_num_queries!(4, c.query(q));
    assert_eq!(d["user"]["posts"]["__typename"], "PostConnection");
    assert!(d["user"]["posts"]["totalCount"].as_i64().unwrap() > 0);
    let total: i64 = d["posts"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["comments"]["totalCount"].as_i64().unwrap())
        .sum();
    assert!(total > 0);
    crate::fast_path::same(&c, &blog::service(), q, serde_json::json!({})).await;
    // With a page's worth selected, the rows are read again.
    assert_num_queries!(
        3,
        c.query(r#"{ user(id: "1") { posts { totalCount pageInfo { hasNextPage } } } }"#)
    );
}

#[tokio::test]
async fn reference_query_is_three_statements_on_small_data() {
    reference_counts(&seeded(3, 10, 20, 3).await).await;
}

#[tokio::test]
async fn reference_query_is_three_statements_on_larger_data() {
    reference_counts(&seeded(200, 1000, 5000, 20).await).await;
}

#[tokio::test]
async fn nested_depth_adds_one_statement_per_edge() {
    let c = seeded(5, 30, 90, 4).await;
    assert_num_queries!(1, c.query("{ posts { nodes { id title } } }"));
    assert_num_queries!(2, c.query("{ posts { totalCount nodes { id } } }"));
    assert_num_queries!(1, c.query(r#"{ post(id: "1") { title } }"#));
    // A to-one leaf is joined into its parent's statement; one with
    // relations of its own is an edge like any other.
    assert_num_queries!(1, c.query(r#"{ post(id: "1") { author { username } } }"#));
    assert_num_queries!(
        3,
        c.query(r#"{ post(id: "1") { author { username posts(first: 2) { nodes { id } } } } }"#)
    );
    // users -> posts -> comments -> post -> tags: one statement per edge.
    // (Pages of the default size nested this deep could return a million
    // rows, over the cost limit: say how many.)
    assert_num_queries!(
        5,
        c.query("{ users(first: 10) { nodes { posts(first: 10) { nodes { comments(first: 10) { nodes { post { tags(first: 10) { nodes { name } } } } } } } } } }")
    );
    // Filters and ordering across relations stay inside the same statement.
    assert_num_queries!(
        1,
        c.query(r#"{ comments(where: { post: { author: { username: { eq: "user1" } } } }, orderBy: [{ post: { title: DESC } }]) { nodes { id } } }"#)
    );
    // Two aliases of one relation are two edges.
    assert_num_queries!(3, c.query(r#"{ posts { nodes { a: comments(first: 1) { nodes { id } } b: comments(last: 1) { nodes { id } } } } }"#));
    // `last` at the root needs the count first.
    assert_num_queries!(2, c.query("{ posts(last: 3) { nodes { id } } }"));
}

#[tokio::test]
async fn only_selected_columns_are_fetched() {
    let c = seeded(2, 3, 3, 1).await;
    let (_, statements) =
        graphloom_test::capture(c.query(r#"{ posts { nodes { title author { username } } } }"#))
            .await;
    assert_eq!(statements.len(), 1);
    assert!(
        statements[0].starts_with(
            r#"SELECT "t0"."id", "t0"."title", "t0"."author_id", "t1"."id", "t1"."username" FROM "blog_post" AS "t0" LEFT JOIN "auth_user" AS "t1" ON "t1"."id" = "t0"."author_id""#
        ),
        "{}",
        statements[0]
    );
}

#[tokio::test]
async fn debug_sql_extension() {
    let service = blog::service();
    let c = TestClient::with_config(
        &service,
        graphloom::graphql::Config {
            debug_sql: true,
            ..Default::default()
        },
    )
    .await;
    blog::seed::seed(&service, c.db(), &crate::common::seed_args(2, 2, 0, 0))
        .await
        .unwrap();
    let res = c
        .execute(
            r#"{ posts { nodes { author { username } } } }"#,
            serde_json::json!({}),
        )
        .await;
    assert_eq!(res["extensions"]["sql"]["count"], 1);
    assert_eq!(
        res["extensions"]["sql"]["statements"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let plain = crate::common::empty()
        .await
        .execute("{ posts { totalCount } }", serde_json::json!({}))
        .await;
    assert!(plain.get("extensions").is_none(), "off by default");
}

/// The auth app and the custom mutations on the model API run as few
/// statements as they did on hand-written SQL (publishPosts one more: it
/// now reads the posts to run `validate_post` and the update rule on them).
#[tokio::test]
async fn custom_fields_and_the_auth_app_keep_their_statement_counts() {
    let c = seeded(3, 10, 20, 2).await;
    let anon = c.anonymous();
    let q = |s: &str| s.to_owned();
    let register = q(
        r#"mutation { register(input: { username: "zed", email: "zed@example.com", password: "a long unusual phrase" }) { refreshToken } }"#,
    );
    assert_num_queries!(3, anon.query(&register));
    let login = q(
        r#"mutation { login(input: { login: "zed", password: "a long unusual phrase" }) { refreshToken } }"#,
    );
    // On PostgreSQL the login counters every instance shares add five: the
    // attempt counted when it starts (ensure, lock, write) and taken back
    // on success (clear the account's, give the address its attempt back).
    let shared_counters = if c.db().dialect().name() == "postgres" {
        5
    } else {
        0
    };
    let token =
        assert_num_queries!(4 + shared_counters, anon.query(&login))["login"]["refreshToken"]
            .as_str()
            .unwrap()
            .to_owned();
    let refresh = format!(
        r#"mutation {{ refreshToken(input: {{ refreshToken: "{token}" }}) {{ refreshToken }} }}"#
    );
    let fresh = assert_num_queries!(5, anon.query(&refresh))["refreshToken"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    // A spent token: look it up, revoke its family.
    assert_num_queries!(2, anon.execute(&refresh, serde_json::json!({})));
    let logout = format!(r#"mutation {{ logout(input: {{ refreshToken: "{fresh}" }}) {{ ok }} }}"#);
    assert_num_queries!(2, anon.query(&logout));
    let zed = c.as_user(graphloom_test::user(4));
    assert_num_queries!(1, zed.query("{ me { username } }"));
    assert_num_queries!(1, zed.query("mutation { revokeAllSessions }"));
    // The user, the new hash, the reset links it kills, the other sessions.
    assert_num_queries!(
        4,
        zed.query(r#"mutation { changePassword(input: { oldPassword: "a long unusual phrase", newPassword: "another long odd phrase" }) { ok } }"#)
    );
    assert_num_queries!(
        2,
        c.query(r#"{ searchPosts(term: "post 1") { id title } }"#)
    );
    assert_num_queries!(
        3,
        c.query(r#"mutation { publishPosts(ids: ["1", "2"]) { id status } }"#)
    );
}

/// `statements` are as many as `starts`, each beginning with its own.
fn assert_statements(statements: &[String], starts: &[&str]) {
    assert_eq!(statements.len(), starts.len(), "{statements:#?}");
    for (statement, start) in statements.iter().zip(starts) {
        assert!(statement.starts_with(start), "{start}: {statements:#?}");
    }
}

fn d_id(d: &serde_json::Value) -> String {
    d["createComment"]["comment"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A write is one data statement: `INSERT/UPDATE … RETURNING` gives the
/// payload its row and, where a row rule applies, whether the writer sees
/// it; a foreign key whose target a row rule may hide guards the INSERT
/// (`INSERT … SELECT … WHERE EXISTS`) instead of a separate check.
#[tokio::test]
async fn writes_are_one_data_statement() {
    let c = seeded(3, 10, 20, 3).await;
    let comments = |c: TestClient| async move {
        c.query("{ comments { totalCount } }").await["comments"]["totalCount"].clone()
    };
    let posts = c
        .query("{ posts(first: 10) { nodes { id status authorId } } }")
        .await;
    let posts = posts["posts"]["nodes"].as_array().unwrap().clone();
    let find = |status: &str| {
        posts
            .iter()
            .find(|p| p["status"] == status)
            .map(|p| {
                (
                    p["id"].as_str().unwrap().to_owned(),
                    p["authorId"].as_str().unwrap().to_owned(),
                )
            })
            .unwrap()
    };
    let (published, author) = find("PUBLISHED");
    let (draft, owner) = find("DRAFT");
    let me = c.as_user(user(&author));
    let create = |post: &str, payload: &str| {
        format!(
            r#"mutation {{ createComment(input: {{ postId: "{post}", body: "one statement" }}) {{ comment {{ {payload} }} errors {{ field code }} }} }}"#
        )
    };
    // Nothing else to read or write: the INSERT runs alone, without BEGIN
    // and COMMIT (it commits as it succeeds).
    let (d, statements) =
        capture_with_transactions(me.query(&create(&published, "id body authorId"))).await;
    assert_eq!(d["createComment"]["errors"], json!([]));
    assert_eq!(d["createComment"]["comment"]["body"], "one statement");
    assert_eq!(d["createComment"]["comment"]["authorId"], author.as_str());
    assert_eq!(statements.len(), 1, "{statements:#?}");
    assert!(
        statements[0].starts_with("INSERT INTO") && statements[0].contains("WHERE EXISTS"),
        "{}",
        statements[0]
    );
    // A comment is seen where its post is, and the INSERT is guarded by
    // that very post being visible: RETURNING does not ask the rule again,
    // so the guard is the statement's one EXISTS.
    assert_eq!(
        statements[0].matches("EXISTS").count(),
        1,
        "{}",
        statements[0]
    );
    // The same on the writer's own draft, which only they see: the
    // payload shows the comment.
    let mine = c.as_user(user(&owner));
    let (d, statements) = capture_with_transactions(mine.query(&create(&draft, "body"))).await;
    assert_eq!(
        d["createComment"]["comment"]["body"], "one statement",
        "{d}"
    );
    assert_eq!(statements.len(), 1, "{statements:#?}");
    // Each relation the payload selects is one statement more, read in the
    // INSERT's transaction.
    let (d, statements) =
        capture_with_transactions(me.query(&create(&published, "id post { title }"))).await;
    assert!(d["createComment"]["comment"]["post"]["title"].is_string());
    assert_statements(&statements, &["BEGIN", "INSERT INTO", "SELECT", "COMMIT"]);

    // A draft the writer cannot see: the guarded INSERT writes nothing and
    // one more statement finds every missing reference.
    let stranger = c.as_user(user(if owner == "1" { 2 } else { 1 }));
    let before = comments(c.clone()).await;
    let (d, statements) = capture_with_transactions(stranger.query(&create(&draft, "id"))).await;
    assert_statements(&statements, &["INSERT INTO", "SELECT"]);
    // The same in a transaction (the payload selects a relation): it ends
    // in a rollback.
    let (_, statements) =
        capture_with_transactions(stranger.query(&create(&draft, "id post { title }"))).await;
    assert_statements(&statements, &["BEGIN", "INSERT INTO", "SELECT", "ROLLBACK"]);
    assert_eq!(
        d["createComment"],
        json!({ "comment": null, "errors": [{ "field": ["postId"], "code": "FOREIGN_KEY" }] })
    );
    assert_eq!(comments(c.clone()).await, before, "nothing was written");

    // An update by the author: one UPDATE … RETURNING, which says too
    // whether the row is still visible to them, alone (no BEGIN, COMMIT).
    let id = d_id(&me.query(&create(&published, "id")).await);
    let (d, statements) = capture_with_transactions(me.query(&format!(
        r#"mutation {{ updateComment(id: "{id}", input: {{ body: "edited" }}) {{ comment {{ body }} errors {{ code }} }} }}"#
    )))
    .await;
    assert_eq!(d["updateComment"]["comment"]["body"], "edited");
    assert_statements(&statements, &["UPDATE"]);
    // An update has no guard on the post it keeps: RETURNING asks the rule.
    assert!(statements[0].contains("EXISTS"), "{}", statements[0]);
    // Moved to another post, which a row rule may hide: the post is
    // checked first, in the UPDATE's transaction.
    let (d, statements) = capture_with_transactions(me.query(&format!(
        r#"mutation {{ updateComment(id: "{id}", input: {{ postId: "{published}" }}) {{ comment {{ body }} errors {{ code }} }} }}"#
    )))
    .await;
    assert_eq!(d["updateComment"]["comment"]["body"], "edited");
    assert_statements(&statements, &["BEGIN", "SELECT", "UPDATE", "COMMIT"]);
    // A model with a validator: the row is read (and locked) first, so the
    // validator sees it merged with the changes, then updated.
    // Both in one transaction.
    let (d, statements) = capture_with_transactions(me.query(&format!(
        r#"mutation {{ updatePost(id: "{published}", input: {{ title: "Renamed" }}) {{ post {{ title }} errors {{ code }} }} }}"#
    )))
    .await;
    assert_eq!(d["updatePost"]["post"]["title"], "Renamed");
    assert_statements(&statements, &["BEGIN", "SELECT", "UPDATE", "COMMIT"]);

    // No row rule anywhere (tags): one INSERT.
    let d = assert_num_queries!(
        1,
        c.query(
            r#"mutation { createTag(input: { name: "fresh" }) { tag { name } errors { code } } }"#
        )
    );
    assert_eq!(d["createTag"]["tag"]["name"], "fresh");
}

/// The five operations of the load benchmark (examples/blog/benches/load.rs),
/// as the anonymous reader and the commenting user run them there; their
/// statements are printed (`--nocapture`) for the benchmark's notes.
#[tokio::test]
async fn load_benchmark_operations() {
    let c = seeded(10, 60, 300, 5).await;
    let anonymous = c.anonymous();
    let commenter = c.as_user(user(2));
    let published =
        c.query(r#"{ posts(first: 1) { nodes { id } } }"#).await["posts"]["nodes"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let ops: [(&str, &TestClient, String, usize); 5] = [
        (
            "one post by id",
            &anonymous,
            format!(r#"{{ post(id: "{published}") {{ id title slug status createdAt author {{ id username }} }} }}"#),
            1,
        ),
        (
            "100 posts + author",
            &anonymous,
            "{ posts(first: 100) { nodes { id title createdAt author { username } } } }".into(),
            1,
        ),
        (
            "50 posts + author + 10 comments each (+ authors) + tags",
            &anonymous,
            "{ posts(first: 50) { nodes { title author { username } comments(first: 10) { nodes { body author { username } } } tags { nodes { name } } } } }".into(),
            3,
        ),
        (
            "title search, newest first, 20",
            &anonymous,
            r#"{ posts(first: 20, where: { title: { iContains: "rust" } }, orderBy: [{ createdAt: DESC }]) { nodes { id title createdAt } } }"#.into(),
            1,
        ),
        (
            "create a comment",
            &commenter,
            format!(r#"mutation {{ createComment(input: {{ postId: "{published}", body: "under load" }}) {{ comment {{ id body createdAt }} errors {{ field code message }} }} }}"#),
            1,
        ),
    ];
    for (name, client, query, expected) in ops {
        let (d, statements) = capture(client.query(&query)).await;
        assert!(!d.to_string().contains(r#""errors":[{"#), "{name}: {d}");
        println!("{name}:");
        for s in &statements {
            println!("  {s}");
        }
        assert_eq!(statements.len(), expected, "{name}: {statements:#?}");
    }
}
