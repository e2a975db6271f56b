use graphloom_test::TestClient;
use serde_json::{Value, json};

use crate::common::small;

const CREATE_POST: &str = r#"mutation($input: CreatePostInput!) {
    createPost(input: $input) {
        post { id title slug status createdAt updatedAt author { username } tags { nodes { name } } }
        errors { field message code }
    }
}"#;

async fn create_post(c: &TestClient, input: Value) -> Value {
    c.query_vars(CREATE_POST, json!({ "input": input })).await["createPost"].clone()
}

fn errs(payload: &Value) -> Vec<(String, String)> {
    payload["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s.as_str().unwrap())
                    .collect::<Vec<_>>()
                    .join("."),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn good_post() -> Value {
    json!({ "title": "Hello", "slug": "hello", "body": "Some words", "authorId": "1", "tags": { "set": ["1", "2"] } })
}

#[tokio::test]
async fn create_returns_the_row_with_relations() {
    let c = small().await;
    let p = create_post(&c, good_post()).await;
    assert_eq!(p["errors"], json!([]));
    let post = &p["post"];
    assert_eq!(post["title"], "Hello");
    assert_eq!(post["status"], "DRAFT", "the default applies");
    assert_eq!(post["author"]["username"], "user1");
    assert_eq!(
        post["tags"]["nodes"],
        json!([{ "name": "tag1" }, { "name": "tag2" }])
    );
    assert!(post["createdAt"].as_str().unwrap().ends_with('Z'));
    let again = c.query(r#"{ postBySlug(slug: "hello") { title } }"#).await;
    assert_eq!(again["postBySlug"]["title"], "Hello");
}

#[tokio::test]
async fn required_fields_are_payload_errors() {
    let c = small().await;
    let p = create_post(&c, json!({ "title": "T" })).await;
    assert_eq!(p["post"], Value::Null);
    assert_eq!(
        errs(&p),
        [
            ("slug".into(), "REQUIRED".into()),
            ("body".into(), "REQUIRED".into())
        ],
        "the author is the logged-in user (`default = current_user`)"
    );
    let p = create_post(
        &c,
        json!({ "title": null, "slug": "x", "body": "b", "authorId": "1" }),
    )
    .await;
    assert_eq!(errs(&p), [("title".into(), "REQUIRED".into())]);
}

#[tokio::test]
async fn max_length_and_invalid_values() {
    let c = small().await;
    let mut input = good_post();
    input["title"] = json!("x".repeat(201));
    input["rating"] = json!("lots");
    input["metadata"] = json!({ "k": [1, 2] });
    let p = create_post(&c, input).await;
    assert_eq!(
        errs(&p),
        [
            ("title".into(), "MAX_LENGTH".into()),
            ("rating".into(), "INVALID".into())
        ]
    );
    assert!(p["errors"][0]["message"].as_str().unwrap().contains("200"));
    // Exactly at the limit is fine, counted in characters, not bytes.
    let mut input = good_post();
    input["title"] = json!("é".repeat(200));
    assert_eq!(errs(&create_post(&c, input).await), []);
}

#[tokio::test]
async fn unique_violation_names_the_field() {
    let c = small().await;
    let mut input = good_post();
    input["slug"] = json!("post-1");
    let p = create_post(&c, input).await;
    assert_eq!(errs(&p), [("slug".into(), "UNIQUE".into())]);
    let d = c.query(r#"mutation { updateTag(id: "2", input: { name: "tag1" }) { tag { id } errors { field code } } }"#).await;
    assert_eq!(
        d["updateTag"]["errors"],
        json!([{ "field": ["name"], "code": "UNIQUE" }])
    );
    assert_eq!(d["updateTag"]["tag"], Value::Null);
}

#[tokio::test]
async fn unknown_foreign_keys() {
    let c = small().await;
    let mut input = good_post();
    input["authorId"] = json!("999");
    input["tags"] = json!({ "set": ["1", "77"] });
    let p = create_post(&c, input).await;
    assert_eq!(
        errs(&p),
        [
            ("authorId".into(), "FOREIGN_KEY".into()),
            ("tags".into(), "FOREIGN_KEY".into())
        ]
    );
    assert!(p["errors"][1]["message"].as_str().unwrap().contains("77"));
    let total = c.query("{ posts { totalCount } }").await;
    assert_eq!(total["posts"]["totalCount"], 20, "nothing was written");
}

#[tokio::test]
async fn validation_hook() {
    let c = small().await;
    let mut input = good_post();
    input["title"] = json!("   ");
    input["status"] = json!("PUBLISHED");
    input["body"] = json!(" ");
    let p = create_post(&c, input).await;
    assert_eq!(
        errs(&p),
        [
            ("title".into(), "VALIDATION".into()),
            ("body".into(), "VALIDATION".into())
        ]
    );
    // The hook sees the stored row merged with an update.
    let d = c.query(r#"mutation { updatePost(id: "5", input: { body: "" , status: PUBLISHED }) { errors { field code } } }"#).await;
    assert_eq!(
        d["updatePost"]["errors"],
        json!([{ "field": ["body"], "code": "VALIDATION" }])
    );
}

#[tokio::test]
async fn partial_update_and_auto_now() {
    let c = small().await;
    let before = c
        .query(r#"{ post(id: "2") { title body slug updatedAt createdAt } }"#)
        .await["post"]
        .clone();
    let d = c
        .query(r#"mutation { updatePost(id: "2", input: { title: "New title", metadata: { a: 1 } }) { post { title body slug updatedAt createdAt metadata } errors { code } } }"#)
        .await;
    let after = &d["updatePost"]["post"];
    assert_eq!(after["title"], "New title");
    assert_eq!(after["body"], before["body"], "fields not given stay");
    assert_eq!(after["slug"], before["slug"]);
    assert_eq!(after["createdAt"], before["createdAt"]);
    assert_ne!(after["updatedAt"], before["updatedAt"], "auto_now moves");
    assert_eq!(after["metadata"], json!({ "a": 1 }));
    let d = c
        .query(
            r#"mutation { updatePost(id: "2", input: { title: null }) { errors { field code } } }"#,
        )
        .await;
    assert_eq!(
        d["updatePost"]["errors"],
        json!([{ "field": ["title"], "code": "REQUIRED" }])
    );
    let d = c.query(r#"mutation { updatePost(id: "404", input: { title: "x" }) { errors { field code } } }"#).await;
    assert_eq!(
        d["updatePost"]["errors"],
        json!([{ "field": ["id"], "code": "NOT_FOUND" }])
    );
    let d = c.query(r#"mutation { updatePost(id: "nope", input: { title: "x" }) { errors { field code } } }"#).await;
    assert_eq!(
        d["updatePost"]["errors"],
        json!([{ "field": ["id"], "code": "INVALID" }])
    );
}

#[tokio::test]
async fn many_to_many_set_add_remove() {
    let c = small().await;
    let tags = |d: &Value| {
        d["updatePost"]["post"]["tags"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let q = |links: &str| {
        format!(
            r#"mutation {{ updatePost(id: "1", input: {{ tags: {links} }}) {{ post {{ tags {{ nodes {{ name }} }} }} errors {{ code }} }} }}"#
        )
    };
    assert_eq!(tags(&c.query(&q(r#"{ set: ["4"] }"#)).await), ["tag4"]);
    assert_eq!(
        tags(&c.query(&q(r#"{ add: ["1", "4", "1"] }"#)).await),
        ["tag1", "tag4"],
        "adding twice is harmless"
    );
    assert_eq!(
        tags(&c.query(&q(r#"{ remove: ["4"], add: ["2"] }"#)).await),
        ["tag1", "tag2"]
    );
    assert_eq!(
        tags(&c.query(&q(r#"{ set: [] }"#)).await),
        Vec::<String>::new()
    );
    let d = c.query(&q(r#"{ add: ["x"] }"#)).await;
    assert_eq!(d["updatePost"]["errors"], json!([{ "code": "INVALID" }]));
}

#[tokio::test]
async fn delete_cascade_protect_and_not_found() {
    let c = small().await;
    let d = c
        .query(r#"mutation { deletePost(id: "1") { deletedId errors { code } } }"#)
        .await;
    assert_eq!(d["deletePost"], json!({ "deletedId": "1", "errors": [] }));
    let d = c
        .query(
            r#"{ post(id: "1") { id } comments(where: { postId: { eq: "1" } }) { totalCount } }"#,
        )
        .await;
    assert_eq!(d["post"], Value::Null);
    assert_eq!(d["comments"]["totalCount"], 0, "comments cascade");
    // Users who wrote comments are protected.
    let d = c
        .query(r#"mutation { deleteUser(id: "1") { deletedId errors { field message code } } }"#)
        .await;
    assert_eq!(d["deleteUser"]["deletedId"], Value::Null);
    assert_eq!(d["deleteUser"]["errors"][0]["code"], "PROTECTED");
    assert!(
        d["deleteUser"]["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Comment")
    );
    let d = c
        .query(r#"mutation { deleteTag(id: "99") { errors { field code } } }"#)
        .await;
    assert_eq!(
        d["deleteTag"]["errors"],
        json!([{ "field": ["id"], "code": "NOT_FOUND" }])
    );
}

#[tokio::test]
async fn a_user_without_comments_can_be_deleted_with_their_posts() {
    let c = crate::common::seeded(1, 0, 0, 0).await;
    let p = create_post(
        &c,
        json!({ "title": "T", "slug": "t", "body": "b", "authorId": "1" }),
    )
    .await;
    assert_eq!(p["errors"], json!([]));
    let d = c
        .query(r#"mutation { deleteUser(id: "1") { deletedId errors { code } } }"#)
        .await;
    assert_eq!(d["deleteUser"]["deletedId"], "1");
    assert_eq!(
        c.query("{ posts { totalCount } }").await["posts"]["totalCount"],
        0
    );
}

#[tokio::test]
async fn operations_can_be_switched_off() {
    use graphloom::prelude::*;
    #[derive(Model)]
    #[model(app = "audit", create = false, delete = false)]
    pub struct Entry {
        pub id: Id,
        pub text: String,
    }
    let service = Service::new("audit").app(App::new("audit").model::<Entry>());
    let c = TestClient::new(&service).await;
    let sdl = c.api().sdl();
    assert!(sdl.contains("updateEntry("));
    assert!(!sdl.contains("createEntry("));
    assert!(!sdl.contains("deleteEntry("));
}

#[tokio::test]
async fn link_changes_run_a_fixed_number_of_statements() {
    let c = crate::common::seeded(1, 1, 0, 60).await;
    let run = |ids: Vec<String>| {
        let c = &c;
        async move {
            let (d, statements) = graphloom_test::capture(c.query_vars(
                r#"mutation($ids: [ID!]!) { updatePost(id: "1", input: { tags: { set: $ids } }) { errors { code } } }"#,
                json!({ "ids": ids }),
            ))
            .await;
            assert_eq!(d["updatePost"]["errors"], json!([]));
            statements.len()
        }
    };
    let few = run((1..=2).map(|i| i.to_string()).collect()).await;
    let many = run((1..=60).map(|i| i.to_string()).collect()).await;
    assert_eq!(few, many, "statements do not grow with the number of ids");
    let d = c
        .query(r#"{ post(id: "1") { tags(first: 100) { totalCount } } }"#)
        .await;
    assert_eq!(d["post"]["tags"]["totalCount"], 60);
    let too_many: Vec<String> = (1..=1001).map(|i| i.to_string()).collect();
    let d = c
        .query_vars(r#"mutation($ids: [ID!]!) { updatePost(id: "1", input: { tags: { add: $ids } }) { errors { field code } } }"#, json!({ "ids": too_many }))
        .await;
    assert_eq!(
        d["updatePost"]["errors"],
        json!([{ "field": ["tags", "add"], "code": "INVALID" }])
    );
    let errors = c
        .errors_vars(
            r#"query($ids: [ID!]) { posts(where: { id: { in: $ids } }) { totalCount } }"#,
            json!({ "ids": too_many }),
        )
        .await;
    assert_eq!(graphloom_test::codes(&errors), ["BAD_USER_INPUT"]);
}

#[tokio::test]
async fn decimals_keep_to_max_digits_and_decimal_places() {
    // `rating` is numeric(3, 1): at most 99.9.
    let c = small().await;
    for (i, (rating, code)) in [
        ("123.4", Some("MAX_DIGITS")),
        ("123", Some("MAX_DIGITS")),
        ("1.25", Some("DECIMAL_PLACES")),
        ("123456789.999", Some("MAX_DIGITS")),
        ("99.9", None),
        ("-9.50", None),
        ("0.1", None),
    ]
    .into_iter()
    .enumerate()
    {
        let mut input = good_post();
        input["slug"] = json!(format!("decimal-{i}"));
        input["rating"] = json!(rating);
        let p = create_post(&c, input).await;
        match code {
            Some(code) => assert_eq!(errs(&p), [("rating".into(), code.into())], "{rating}"),
            None => assert_eq!(errs(&p), [], "{rating}: {p}"),
        }
    }
}

#[tokio::test]
async fn text_with_a_null_character_is_invalid_on_both_dialects() {
    // PostgreSQL refuses to store U+0000 (SQLSTATE 22021); SQLite would.
    let c = small().await;
    let mut input = good_post();
    input["slug"] = json!("null-character");
    input["title"] = json!("before\u{0}after");
    let p = create_post(&c, input).await;
    assert_eq!(errs(&p), [("title".into(), "INVALID".into())], "{p}");
}
