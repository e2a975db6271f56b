use graphloom_test::codes;
use serde_json::json;

use crate::common::{empty, small};

#[tokio::test]
async fn lookup_by_id_and_unique_fields() {
    let c = small().await;
    let d = c
        .query(r#"{ post(id: "3") { id slug title } postBySlug(slug: "post-3") { id } userByUsername(username: "user2") { email } userByEmail(email: "user2@example.com") { username } tagByName(name: "tag1") { id } }"#)
        .await;
    assert_eq!(d["post"]["id"], "3");
    assert_eq!(d["post"]["slug"], "post-3");
    assert_eq!(d["postBySlug"]["id"], "3");
    assert_eq!(d["userByUsername"]["email"], "user2@example.com");
    assert_eq!(d["userByEmail"]["username"], "user2");
    assert_eq!(d["tagByName"]["id"], "1");
}

#[tokio::test]
async fn missing_rows_are_null() {
    let c = small().await;
    let d = c
        .query(r#"{ post(id: "999") { id } postBySlug(slug: "nope") { id } }"#)
        .await;
    assert_eq!(d, json!({ "post": null, "postBySlug": null }));
}

#[tokio::test]
async fn malformed_id_is_a_bad_input_error() {
    let c = empty().await;
    let errors = c.errors(r#"{ post(id: "abc") { id } }"#).await;
    assert_eq!(codes(&errors), ["BAD_USER_INPUT"]);
}

#[tokio::test]
async fn relations_in_every_direction() {
    let c = small().await;
    let d = c
        .query(
            r#"{
            post(id: "1") {
                authorId
                author { id username posts(first: 100) { nodes { id } } }
                comments(first: 100) { nodes { postId post { id } } }
                tags { nodes { name posts { nodes { id } } } }
            }
        }"#,
        )
        .await;
    let p = &d["post"];
    assert_eq!(p["author"]["id"], p["authorId"]);
    assert!(
        p["author"]["posts"]["nodes"]
            .as_array()
            .unwrap()
            .contains(&json!({ "id": "1" }))
    );
    for comment in p["comments"]["nodes"].as_array().unwrap() {
        assert_eq!(comment["postId"], "1");
        assert_eq!(comment["post"]["id"], "1");
    }
    let tags = p["tags"]["nodes"].as_array().unwrap();
    assert_eq!(tags.len(), 3, "the seed links three tags to each post");
    for t in tags {
        assert!(
            t["posts"]["nodes"]
                .as_array()
                .unwrap()
                .contains(&json!({ "id": "1" }))
        );
    }
}

#[tokio::test]
async fn values_of_every_kind_render() {
    let c = small().await;
    let d = c
        .query(r#"{ post(id: "5") { status rating createdAt metadata readingMinutes author { isActive dateJoined lastLogin } } }"#)
        .await;
    let p = &d["post"];
    assert_eq!(p["status"], "DRAFT", "every fifth seeded post is a draft");
    assert_eq!(p["createdAt"], "2024-01-01T00:05:00Z");
    assert!(
        p["rating"].as_str().unwrap().contains('.'),
        "decimals keep their scale: {}",
        p["rating"]
    );
    assert_eq!(p["metadata"], serde_json::Value::Null);
    assert_eq!(p["readingMinutes"], 1);
    assert_eq!(p["author"]["isActive"], true);
    assert_eq!(p["author"]["lastLogin"], serde_json::Value::Null);
}

#[tokio::test]
async fn aliases_and_fragments_plan_together() {
    let c = small().await;
    let d = c
        .query(r#"
            fragment P on Post { title author { username } }
            {
                a: post(id: "1") { ...P author { email } }
                b: post(id: "2") { ... on Post { slug } firstTwo: comments(first: 2) { nodes { id } } all: comments(first: 100) { totalCount } }
            }"#)
        .await;
    assert!(d["a"]["author"]["username"].is_string());
    assert!(
        d["a"]["author"]["email"].is_string(),
        "fields of one key merge"
    );
    assert!(d["b"]["firstTwo"]["nodes"].as_array().unwrap().len() <= 2);
    assert!(d["b"]["all"]["totalCount"].is_number());
}

#[tokio::test]
async fn skip_and_include_are_honoured() {
    let c = small().await;
    let d = c
        .query_vars(
            r#"query($no: Boolean!) { post(id: "1") { title @skip(if: $no) author @include(if: $no) { username } } }"#,
            json!({ "no": true }),
        )
        .await;
    assert_eq!(
        d["post"],
        json!({ "author": { "username": d["post"]["author"]["username"] } })
    );
}

#[tokio::test]
async fn depth_limit_is_enforced() {
    let c = small().await;
    // 18 levels of fields; the default limit is 15.
    let deep = r#"{ post(id: "1") { author { posts { nodes { author { posts { nodes { author { posts { nodes { author { posts { nodes { author { posts { nodes { author { username } } } } } } } } } } } } } } } } } }"#;
    let errors = c.errors(deep).await;
    assert_eq!(
        errors[0]["extensions"],
        json!({ "code": "DEPTH_LIMIT_EXCEEDED", "value": 18, "max": 15 }),
        "{errors:?}"
    );
}

#[tokio::test]
async fn internal_errors_are_masked() {
    let c = small().await;
    // Break the database under the API: the client learns nothing of it.
    c.db()
        .execute(&graphloom::db::RawSql("DROP TABLE blog_comment".into()))
        .await
        .unwrap();
    let errors = c
        .errors(r#"{ post(id: "1") { title comments { nodes { body } } } }"#)
        .await;
    assert_eq!(codes(&errors), ["INTERNAL_SERVER_ERROR"]);
    assert_eq!(errors[0]["message"], "Internal server error");
    assert!(
        !errors[0].to_string().contains("blog_comment"),
        "{errors:?}"
    );
}

/// A document that passed validation is not validated again while its
/// variables fit the types it declares; variables that do not fit (or a
/// `null`, or one left out) get the full validation, so their errors are
/// those of a document seen for the first time, word for word.
#[tokio::test]
async fn a_document_validated_once_answers_bad_variables_as_the_first_time() {
    let c = small().await;
    let q = "query($id: ID!, $w: PostFilter, $first: Int = 2) { post(id: $id) { title } posts(where: $w, first: $first) { nodes { id } } }";
    let first = c.execute(q, json!({ "id": "3" })).await;
    assert!(first.get("errors").is_none(), "{first}");
    assert!(first["data"]["post"]["title"].is_string(), "{first}");
    let bad = [
        json!({ "id": {} }),
        json!({ "id": null }),
        json!({}),
        json!({ "id": "3", "w": { "nope": 1 } }),
        json!({ "id": "3", "w": { "title": { "iContains": 3 } } }),
        json!({ "id": "3", "w": { "status": { "eq": "SIDEWAYS" } } }),
        json!({ "id": "3", "first": "two" }),
    ];
    for (i, vars) in bad.into_iter().enumerate() {
        // The same operation under a text of its own has not been seen.
        let unseen = c.execute(&format!("{q}\n# {i}"), vars.clone()).await;
        let seen = c.execute(q, vars.clone()).await;
        assert!(unseen.get("errors").is_some(), "{vars}: {unseen}");
        assert_eq!(seen, unseen, "{vars}");
    }
    // Other values that fit, and a default left to apply.
    let d = c
        .execute(
            q,
            json!({ "id": "4", "w": { "title": { "iContains": "post" } } }),
        )
        .await;
    assert!(d.get("errors").is_none(), "{d}");
    assert!(
        d["data"]["post"]["title"]
            .as_str()
            .is_some_and(|t| t.starts_with("Post 4:")),
        "{d}"
    );
    assert_eq!(
        d["data"]["posts"]["nodes"].as_array().map(Vec::len),
        Some(2),
        "{d}"
    );
}
