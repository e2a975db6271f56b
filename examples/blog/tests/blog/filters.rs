use graphloom_test::{TestClient, codes};
use serde_json::json;

use crate::common::{small, titles};

async fn ids(c: &TestClient, model: &str, filter: serde_json::Value) -> Vec<String> {
    let q = format!(
        "query($w: {}Filter) {{ {}(where: $w, first: 100) {{ nodes {{ id }} }} }}",
        model,
        plural(model)
    );
    let d = c.query_vars(&q, json!({ "w": filter })).await;
    d[plural(model)]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect()
}

fn plural(model: &str) -> &'static str {
    match model {
        "Post" => "posts",
        "User" => "users",
        "Comment" => "comments",
        "Tag" => "tags",
        _ => unreachable!(),
    }
}

/// Posts with the given titles, made through the API, for text filters.
async fn titled(titles: &[&str]) -> TestClient {
    let c = crate::common::seeded(1, 0, 0, 0).await;
    for (i, t) in titles.iter().enumerate() {
        let d = c
            .query_vars(
                r#"mutation($t: String!, $s: String!) { createPost(input: { title: $t, slug: $s, body: "b", authorId: "1" }) { errors { field code } } }"#,
                json!({ "t": t, "s": format!("s{i}") }),
            )
            .await;
        assert_eq!(d["createPost"]["errors"], json!([]));
    }
    c
}

#[tokio::test]
async fn text_operators() {
    let c = titled(&[
        "Rust GraphQL",
        "rust tips",
        "100% pure",
        "under_score",
        "Zebra",
    ])
    .await;
    let t = |w| {
        let c = &c;
        async move {
            let d = c
                .query_vars(
                    "query($w: PostFilter) { posts(where: $w) { nodes { title } } }",
                    json!({ "w": w }),
                )
                .await;
            titles(&d["posts"])
        }
    };
    assert_eq!(t(json!({ "title": { "eq": "Zebra" } })).await, ["Zebra"]);
    assert_eq!(
        t(json!({ "title": { "contains": "ust" } })).await,
        ["Rust GraphQL", "rust tips"]
    );
    assert_eq!(
        t(json!({ "title": { "contains": "Rust" } })).await,
        ["Rust GraphQL"],
        "contains is case-sensitive"
    );
    assert_eq!(
        t(json!({ "title": { "iContains": "RUST" } })).await,
        ["Rust GraphQL", "rust tips"]
    );
    assert_eq!(
        t(json!({ "title": { "startsWith": "rust" } })).await,
        ["rust tips"]
    );
    assert_eq!(
        t(json!({ "title": { "endsWith": "QL" } })).await,
        ["Rust GraphQL"]
    );
    assert_eq!(
        t(json!({ "title": { "contains": "%" } })).await,
        ["100% pure"],
        "% is literal"
    );
    assert_eq!(
        t(json!({ "title": { "contains": "_" } })).await,
        ["under_score"],
        "_ is literal"
    );
    assert_eq!(
        t(json!({ "title": { "in": ["Zebra", "rust tips", "nope"] } })).await,
        ["rust tips", "Zebra"]
    );
    assert_eq!(
        t(json!({ "title": { "notIn": ["Zebra", "rust tips", "100% pure", "under_score"] } }))
            .await,
        ["Rust GraphQL"]
    );
    assert_eq!(
        t(json!({ "title": { "neq": "Zebra", "startsWith": "r" } })).await,
        ["rust tips"]
    );
    // Bounds chosen to hold under byte and locale collations alike.
    assert_eq!(
        t(json!({ "title": { "gte": "Zebra", "lt": "Zebrb" } })).await,
        ["Zebra"]
    );
    assert_eq!(t(json!({ "title": { "lt": "R" } })).await, ["100% pure"]);
    assert_eq!(
        t(json!({ "title": { "in": [] } })).await,
        Vec::<String>::new()
    );
}

#[tokio::test]
async fn null_checks_and_neq_keeps_nulls() {
    let c = small().await;
    c.query(
        r#"mutation { updatePost(id: "1", input: { metadata: { a: 1 } }) { errors { code } } }"#,
    )
    .await;
    c.db()
        .execute(&graphloom::db::RawSql(
            "UPDATE auth_user SET last_login = date_joined WHERE id = 1".into(),
        ))
        .await
        .unwrap();
    assert_eq!(
        ids(&c, "User", json!({ "lastLogin": { "isNull": false } })).await,
        ["1"]
    );
    assert_eq!(
        ids(&c, "User", json!({ "lastLogin": { "isNull": true } })).await,
        ["2", "3", "4", "5"]
    );
    let joined = c.query(r#"{ user(id: "1") { lastLogin } }"#).await["user"]["lastLogin"].clone();
    assert_eq!(
        ids(&c, "User", json!({ "lastLogin": { "neq": joined } })).await,
        ["2", "3", "4", "5"],
        "like Django's exclude()"
    );
    assert_eq!(
        ids(&c, "Post", json!({ "metadata": { "isNull": false } })).await,
        ["1"]
    );
}

#[tokio::test]
async fn numbers_dates_enums_and_ids() {
    let c = small().await;
    let drafts = ids(&c, "Post", json!({ "status": { "eq": "DRAFT" } })).await;
    assert_eq!(drafts, ["5", "10", "15", "20"]);
    let not_drafts = ids(
        &c,
        "Post",
        json!({ "status": { "notIn": ["DRAFT", "ARCHIVED"] } }),
    )
    .await;
    assert_eq!(not_drafts.len(), 16);
    let early = ids(
        &c,
        "Post",
        json!({ "createdAt": { "lt": "2024-01-01T00:03:00Z" } }),
    )
    .await;
    assert_eq!(early, ["1", "2"]);
    let window = ids(
        &c,
        "Post",
        json!({ "createdAt": { "gte": "2024-01-01T00:03:00Z", "lte": "2024-01-01T00:04:00Z" } }),
    )
    .await;
    assert_eq!(window, ["3", "4"]);
    let by_id = ids(&c, "Post", json!({ "id": { "in": ["2", "4"] } })).await;
    assert_eq!(by_id, ["2", "4"]);
    // Decimals compare as numbers on both dialects (SQLite stores text).
    let d = c
        .query(r#"{ posts(first: 100) { nodes { id rating } } }"#)
        .await;
    let expected: Vec<String> = d["posts"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["rating"].as_str().unwrap().parse::<f64>().unwrap() >= 2.5)
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(
        ids(&c, "Post", json!({ "rating": { "gte": "2.5" } })).await,
        expected
    );
}

#[tokio::test]
async fn and_or_not() {
    let c = small().await;
    let f = json!({ "OR": [{ "id": { "eq": "1" } }, { "id": { "eq": "2" } }, { "AND": [{ "id": { "gt": "18" } }, { "NOT": { "id": { "eq": "20" } } }] }] });
    assert_eq!(ids(&c, "Post", f).await, ["1", "2", "19"]);
    assert_eq!(
        ids(&c, "Post", json!({ "OR": [] })).await,
        Vec::<String>::new(),
        "an empty OR matches nothing"
    );
    assert_eq!(
        ids(&c, "Post", json!({ "AND": [] })).await.len(),
        20,
        "an empty AND matches everything"
    );
}

#[tokio::test]
async fn across_relations() {
    let c = small().await;
    let d = c.query(r#"{ posts(first: 100, where: { author: { username: { eq: "user2" } } }) { nodes { author { username } } } }"#).await;
    let nodes = d["posts"]["nodes"].as_array().unwrap();
    assert!(!nodes.is_empty());
    assert!(nodes.iter().all(|n| n["author"]["username"] == "user2"));

    // Reverse to-many: users with some / no / only comments on post 1.
    let commenters = ids(
        &c,
        "User",
        json!({ "comments": { "some": { "postId": { "eq": "1" } } } }),
    )
    .await;
    let d = c
        .query(r#"{ post(id: "1") { comments(first: 100) { nodes { authorId } } } }"#)
        .await;
    let mut expected: Vec<String> = d["post"]["comments"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["authorId"].as_str().unwrap().to_owned())
        .collect();
    expected.sort_by_key(|s| s.parse::<i64>().unwrap());
    expected.dedup();
    assert_eq!(commenters, expected);
    let others = ids(
        &c,
        "User",
        json!({ "comments": { "none": { "postId": { "eq": "1" } } } }),
    )
    .await;
    assert_eq!(others.len() + commenters.len(), 5);
    let every = ids(
        &c,
        "Tag",
        json!({ "posts": { "every": { "id": { "gt": "0" } } } }),
    )
    .await;
    assert_eq!(every.len(), 4, "every holds for all tags");

    // Many-to-many and two hops.
    let tagged = ids(
        &c,
        "Post",
        json!({ "tags": { "some": { "name": { "eq": "tag1" } } } }),
    )
    .await;
    let d = c
        .query(r#"{ tagByName(name: "tag1") { posts(first: 100) { nodes { id } } } }"#)
        .await;
    let expected: Vec<String> = d["tagByName"]["posts"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(tagged, expected);
    let two_hops = ids(
        &c,
        "Comment",
        json!({ "post": { "author": { "username": { "eq": "user1" } } } }),
    )
    .await;
    assert!(!two_hops.is_empty());
}

#[tokio::test]
async fn nested_lists_take_the_same_arguments() {
    let c = small().await;
    let d = c
        .query(r#"{ users(first: 100) { nodes { id posts(where: { status: { eq: DRAFT } }, orderBy: [{ id: DESC }], first: 1) { totalCount nodes { id status } } } } }"#)
        .await;
    for u in d["users"]["nodes"].as_array().unwrap() {
        for p in u["posts"]["nodes"].as_array().unwrap() {
            assert_eq!(p["status"], "DRAFT");
        }
        assert!(u["posts"]["nodes"].as_array().unwrap().len() <= 1);
    }
    let total: i64 = d["users"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["posts"]["totalCount"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 4, "four drafts in all");
}

#[tokio::test]
async fn bad_filter_values_are_bad_input() {
    let c = small().await;
    for (filter, fragment) in [
        (
            json!({ "createdAt": { "lt": "yesterday" } }),
            "createdAt.lt",
        ),
        (json!({ "id": { "eq": "x" } }), "id.eq"),
        (json!({ "rating": { "gt": "lots" } }), "rating.gt"),
    ] {
        let errors = c
            .errors_vars(
                "query($w: PostFilter) { posts(where: $w) { totalCount } }",
                json!({ "w": filter }),
            )
            .await;
        assert_eq!(codes(&errors), ["BAD_USER_INPUT"], "{errors:?}");
        assert!(
            errors[0]["message"].as_str().unwrap().contains(fragment),
            "{errors:?}"
        );
    }
    let errors = c
        .errors(r#"{ posts(where: { nope: { eq: 1 } }) { totalCount } }"#)
        .await;
    assert!(errors[0]["message"].as_str().unwrap().contains("nope"));
}

#[tokio::test]
async fn oversized_filters_are_bad_input_before_any_sql() {
    let c = crate::common::small().await;
    let long = "x".repeat(50_000);
    let queries = [
        format!(
            r#"{{ posts(where: {{ title: {{ contains: "{long}" }} }}) {{ nodes {{ id }} }} }}"#
        ),
        format!(
            r#"{{ posts(where: {{ body: {{ iContains: "{long}" }} }}) {{ nodes {{ id }} }} }}"#
        ),
        format!(
            r#"{{ posts(where: {{ body: {{ startsWith: "{long}" }} }}) {{ nodes {{ id }} }} }}"#
        ),
        format!(r#"{{ searchPosts(term: "{long}") {{ id }} }}"#),
        // 13 levels of NOT.
        format!(
            "{{ posts(where: {}{{ id: {{ eq: 1 }} }}{}) {{ nodes {{ id }} }} }}",
            "{ NOT: ".repeat(13),
            " }".repeat(13)
        ),
    ];
    for q in &queries {
        let (errors, statements) = graphloom_test::capture(c.errors(q)).await;
        assert_eq!(
            graphloom_test::codes(&errors),
            ["BAD_USER_INPUT"],
            "{:.200}: {errors:?}",
            q
        );
        assert!(statements.is_empty(), "{statements:?}");
    }
    // At the limits: a term of 1,000 characters and 12 levels run.
    let term = "y".repeat(1_000);
    let ok = c
        .query(&format!(
            r#"{{ posts(where: {{ body: {{ contains: "{term}" }} }}) {{ nodes {{ id }} }} }}"#
        ))
        .await;
    assert_eq!(ok["posts"]["nodes"], serde_json::json!([]));
    let ok = c
        .query(&format!(
            "{{ posts(where: {}{{ id: {{ eq: 1 }} }}{}) {{ nodes {{ id }} }} }}",
            "{ NOT: ".repeat(12),
            " }".repeat(12)
        ))
        .await;
    assert_eq!(ok["posts"]["nodes"], serde_json::json!([{ "id": "1" }]));
}
