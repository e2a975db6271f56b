//! The test kit's own promises, on the blog: factories write through the
//! model API (validation, defaults and presets apply), and the federation
//! helpers find a key that does not resolve.

use blog::{Post, PostStatus, Tag};
use graphloom::auth::User;
use graphloom::query::FieldCode;
use graphloom_test::{Factory, TestClient, user};
use serde_json::json;

use crate::common::{admin, empty};

fn users() -> Factory<User> {
    Factory::new(|n| {
        vec![
            User::USERNAME.set(format!("user{n}")),
            User::EMAIL.set(format!("user{n}@example.com")),
        ]
    })
}

fn posts() -> Factory<Post> {
    Factory::new(|n| {
        vec![
            Post::TITLE.set(format!("Post {n}")),
            Post::SLUG.set(format!("post-{n}")),
            Post::BODY.set("Text."),
        ]
    })
}

#[tokio::test]
async fn factories_number_rows_and_take_overrides() {
    let c = empty().await;
    let system = c.system();
    let people = users().create_batch(&system, 2).await.unwrap();
    assert_eq!(people[1].username, "user2");
    // As user 2: the author comes from the login (the preset), the status
    // from the model's default, unless the test says otherwise.
    let ctx = c.as_user(user(2)).ctx().await;
    let posts = posts();
    let first = posts.create(&ctx, []).await.unwrap();
    assert_eq!(
        (first.slug.as_str(), first.status),
        ("post-1", PostStatus::Draft)
    );
    assert_eq!(first.author.key, graphloom::meta::Value::I64(2));
    let second = posts
        .create(&ctx, [Post::STATUS.set(PostStatus::Published)])
        .await
        .unwrap();
    assert_eq!(
        (second.title.as_str(), second.status),
        ("Post 2", PostStatus::Published)
    );
    assert_eq!(posts.peek(), 3);
    // The model's validation applies: a published post needs a body.
    let err = posts
        .create(
            &ctx,
            [Post::STATUS.set(PostStatus::Published), Post::BODY.set(" ")],
        )
        .await
        .unwrap_err();
    assert_eq!(err.fields[0].field, ["body"]);
    // So do unique fields: a second tag named the same is refused.
    let tags = Factory::<Tag>::new(|_| vec![Tag::NAME.set("same")]);
    tags.create(&system, []).await.unwrap();
    let err = tags.create(&system, []).await.unwrap_err();
    assert_eq!(err.fields[0].code, FieldCode::Unique);
}

#[tokio::test]
async fn entities_come_back_in_order_with_nulls_for_the_missing() {
    let c = empty().await;
    users().create(&c.system(), []).await.unwrap();
    posts().create(&c.ctx().await, []).await.unwrap();
    let got = c
        .entities(
            json!([
                { "__typename": "Post", "id": "9" },
                { "__typename": "Post", "id": "1" },
            ]),
            "... on Post { title author { username } }",
        )
        .await;
    assert_eq!(
        got,
        json!([null, { "__typename": "Post", "title": "Post 1", "author": { "username": "user1" } }])
    );
}

#[tokio::test]
async fn every_key_resolves_or_the_failure_names_it() {
    let c = empty().await;
    users().create(&c.system(), []).await.unwrap();
    // Nothing to try the keys with: each entity without rows is named.
    let message = panic_of(c.clone()).await;
    assert!(
        message.contains("Post: no rows to resolve its keys with"),
        "{message}"
    );
    let tags = Factory::<Tag>::new(|n| vec![Tag::NAME.set(format!("tag{n}"))]);
    let posts = posts();
    for _ in 0..2 {
        tags.create(&c.system(), []).await.unwrap();
        posts.create(&c.ctx().await, []).await.unwrap();
    }
    // The rest of the blog's entities: comments, groups, permissions.
    c.query(
        r#"mutation { createComment(input: { postId: "1", body: "Hi" }) { errors { code } } }"#,
    )
    .await;
    c.query(r#"mutation { createGroup(input: { name: "editors" }) { errors { code } } }"#)
        .await;
    // As a superuser every row is reachable: one user, one group, three of
    // the permissions migrate seeds (three rows per entity are tried), two
    // posts, one comment, two tags.
    assert_eq!(c.as_user(admin()).assert_keys_resolve().await, 10);
    // Anonymous, as a gateway request without a token: drafts are their
    // author's (null), groups need a login (the request fails); the check
    // names the key and row of the one, the code of the other.
    let message = panic_of(c.anonymous()).await;
    assert!(
        message.contains(
            r#"Post @key(fields: "id"): {"__typename":"Post","id":"1"} resolved to null"#
        ),
        "{message}"
    );
    assert!(message.contains("Group: _entities failed"), "{message}");
    assert!(message.contains("UNAUTHENTICATED"), "{message}");
}

/// The panic message of `assert_keys_resolve` as `client`.
async fn panic_of(client: TestClient) -> String {
    let err = tokio::spawn(async move { client.assert_keys_resolve().await })
        .await
        .expect_err("assert_keys_resolve passed");
    let payload = err.into_panic();
    payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default()
}
