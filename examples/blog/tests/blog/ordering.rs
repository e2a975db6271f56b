use graphloom_test::codes;
use serde_json::json;

use crate::common::small;

#[tokio::test]
async fn several_keys_and_directions() {
    let c = small().await;
    let d = c.query(r#"{ posts(first: 100, orderBy: [{ status: ASC }, { id: DESC }]) { nodes { id status } } }"#).await;
    let nodes = d["posts"]["nodes"].as_array().unwrap();
    let pairs: Vec<(String, i64)> = nodes
        .iter()
        .map(|n| {
            (
                n["status"].as_str().unwrap().to_owned(),
                n["id"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    let mut sorted = pairs.clone();
    // Enums sort by their stored text: draft < published.
    sorted.sort_by(|a, b| {
        a.0.to_lowercase()
            .cmp(&b.0.to_lowercase())
            .then(b.1.cmp(&a.1))
    });
    assert_eq!(pairs, sorted);
}

#[tokio::test]
async fn across_a_to_one_relation_with_pk_tie_break() {
    let c = small().await;
    let d = c.query(r#"{ comments(first: 100, orderBy: [{ author: { username: DESC } }]) { nodes { id author { username } } } }"#).await;
    let nodes = d["comments"]["nodes"].as_array().unwrap();
    let keys: Vec<(String, i64)> = nodes
        .iter()
        .map(|n| {
            (
                n["author"]["username"].as_str().unwrap().to_owned(),
                n["id"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    assert_eq!(
        keys, sorted,
        "username descending, then id descending (the last term's direction)"
    );
    // Two hops.
    let d = c.query(r#"{ comments(first: 5, orderBy: [{ post: { author: { username: ASC } } }, { id: ASC }]) { nodes { post { author { username } } } } }"#).await;
    let names: Vec<&str> = d["comments"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["post"]["author"]["username"].as_str().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
}

#[tokio::test]
async fn nulls_sort_last_ascending_on_both_dialects() {
    let c = small().await;
    for (id, at) in [(3, "2025-02-01T00:00:00"), (4, "2025-01-01T00:00:00")] {
        let value = match c.db().dialect().name() {
            "sqlite" => format!("'{at}.000000Z'"),
            _ => format!("'{at}Z'"),
        };
        let sql = format!("UPDATE auth_user SET last_login = {value} WHERE id = {id}");
        c.db().execute(&graphloom::db::RawSql(sql)).await.unwrap();
    }
    let d = c
        .query(r#"{ users(orderBy: { lastLogin: ASC }) { nodes { id } } }"#)
        .await;
    assert_eq!(
        d["users"]["nodes"],
        json!([{ "id": "4" }, { "id": "3" }, { "id": "1" }, { "id": "2" }, { "id": "5" }])
    );
    let d = c
        .query(r#"{ users(orderBy: { lastLogin: DESC }) { nodes { id } } }"#)
        .await;
    assert_eq!(
        d["users"]["nodes"],
        json!([{ "id": "5" }, { "id": "2" }, { "id": "1" }, { "id": "3" }, { "id": "4" }])
    );
}

#[tokio::test]
async fn one_key_per_entry() {
    let c = small().await;
    let errors = c
        .errors(r#"{ posts(orderBy: [{ id: ASC, title: DESC }]) { totalCount } }"#)
        .await;
    assert!(!errors.is_empty(), "a @oneOf input takes exactly one key");
    let errors = c.errors(r#"{ posts(orderBy: [{}]) { totalCount } }"#).await;
    assert!(!errors.is_empty());
    let _ = codes(&errors);
}
