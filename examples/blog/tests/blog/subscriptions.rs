//! Subscriptions through the public API and the test kit: every write path
//! publishes, each subscriber reads the rows again under its own rules, and
//! events that arrive together are read together.

use std::time::Duration;

use blog::{Comment, Post, PostStatus};
use graphloom_test::{TestClient, codes, user};
use serde_json::{Value as Json, json};

use crate::common::{admin, seeded};

/// 3 users; posts 1..=10 by users 1, 2, 3 in turn; posts 5 and 10 drafts.
async fn client() -> TestClient {
    seeded(3, 10, 40, 3).await
}

const QUIET: Duration = Duration::from_millis(300);

#[tokio::test]
async fn created_updated_and_deleted_rows_arrive_with_their_selection() {
    let c = client().await;
    let mut sub = c
        .subscribe(
            "subscription { postChanged { kind id node { title author { username } tags { totalCount } } } }",
            json!({}),
        )
        .await;
    let d = c
        .query(r#"mutation { createPost(input: { title: "Live", slug: "live", body: "b", status: PUBLISHED }) { post { id } } }"#)
        .await;
    let id = d["createPost"]["post"]["id"].as_str().unwrap().to_owned();
    let e = sub.next_data().await;
    assert_eq!(
        e["postChanged"],
        json!({ "kind": "CREATED", "id": id, "node": { "title": "Live", "author": { "username": "user1" }, "tags": { "totalCount": 0 } } })
    );
    c.query(&format!(
        r#"mutation {{ updatePost(id: "{id}", input: {{ title: "Still live" }}) {{ errors {{ code }} }} }}"#
    ))
    .await;
    let e = sub.next_data().await;
    assert_eq!(e["postChanged"]["kind"], "UPDATED");
    assert_eq!(e["postChanged"]["node"]["title"], "Still live");
    c.query(&format!(
        r#"mutation {{ deletePost(id: "{id}") {{ errors {{ code }} }} }}"#
    ))
    .await;
    let e = sub.next_data().await;
    assert_eq!(
        e["postChanged"],
        json!({ "kind": "DELETED", "id": id, "node": null })
    );
    assert!(sub.drain(QUIET).await.is_empty());
}

#[tokio::test]
async fn the_model_api_publishes_and_a_batch_is_read_in_one_statement_per_edge() {
    let c = client().await;
    let ctx = c.system();
    let request = graphloom::graphql::async_graphql::Request::new(
        "subscription { postChanged(kinds: [UPDATED]) { id node { title author { username } comments(first: 2) { nodes { body } } } } }",
    );
    let context = graphloom::graphql::RequestContext {
        principal: Some(admin()),
        ..Default::default()
    };
    let mut events = c.api().subscribe_as(request, context).await;
    // One UPDATE of eight rows: one event naming eight keys.
    let n = Post::objects(&ctx)
        .filter(Post::STATUS.eq(PostStatus::Published))
        .update([Post::BODY.set("Edited.")])
        .await
        .unwrap();
    assert_eq!(n, 8);
    use futures_util::StreamExt;
    let mut seen = Vec::new();
    let mut statements = 0;
    while seen.len() < 8 {
        let r = tokio::time::timeout(Duration::from_secs(5), events.next())
            .await
            .unwrap()
            .unwrap();
        statements += r.statements;
        let data = r.data.into_json().unwrap();
        let node = &data["postChanged"]["node"];
        assert!(
            node["author"]["username"]
                .as_str()
                .unwrap()
                .starts_with("user")
        );
        assert!(node["comments"]["nodes"].as_array().unwrap().len() <= 2);
        seen.push(data["postChanged"]["id"].as_str().unwrap().to_owned());
    }
    // The posts with their authors (joined), then the comments of all
    // eight: two statements for the eight events.
    assert_eq!(statements, 2, "{seen:?}");
    // Creates and deletes of the model API publish too.
    let mut comments = c
        .subscribe("subscription { commentChanged { kind id } }", json!({}))
        .await;
    let made = Comment::objects(&ctx)
        .create([
            Comment::POST.set(1),
            Comment::AUTHOR.set(2),
            Comment::BODY.set("hi"),
        ])
        .await
        .unwrap();
    let e = comments.next_data().await;
    assert_eq!(e["commentChanged"]["kind"], "CREATED");
    assert_eq!(e["commentChanged"]["id"], made.id.0.to_string());
    Comment::objects(&ctx)
        .filter(Comment::ID.eq(made.id.0))
        .delete()
        .await
        .unwrap();
    let e = comments.next_data().await;
    assert_eq!(
        e["commentChanged"],
        json!({ "kind": "DELETED", "id": made.id.0.to_string() })
    );
}

#[tokio::test]
async fn where_is_evaluated_by_the_database_and_rows_leaving_it_are_reported() {
    let c = client().await;
    let mut sub = c
        .subscribe(
            r#"subscription { postChanged(where: { title: { startsWith: "Hot" } }) { kind id node { title } } }"#,
            json!({}),
        )
        .await;
    let update = |id: &str, title: &str| {
        format!(
            r#"mutation {{ updatePost(id: "{id}", input: {{ title: "{title}" }}) {{ errors {{ code }} }} }}"#
        )
    };
    c.query(&update("1", "Cold")).await;
    c.query(&update("2", "Hot news")).await;
    let e = sub.next_data().await;
    assert_eq!(
        e["postChanged"],
        json!({ "kind": "UPDATED", "id": "2", "node": { "title": "Hot news" } })
    );
    // Out of `where`: gone from this subscriber's view.
    c.query(&update("2", "Old news")).await;
    let e = sub.next_data().await;
    assert_eq!(
        e["postChanged"],
        json!({ "kind": "DELETED", "id": "2", "node": null })
    );
    // A row it never matched stays silent.
    c.query(&update("3", "Lukewarm")).await;
    assert!(sub.drain(QUIET).await.is_empty());
}

#[tokio::test]
async fn another_users_draft_never_arrives_not_even_through_a_relation() {
    let c = client().await;
    // Post 5 is a draft; its author is not user 1 (posts go 1, 2, 3 in turn).
    let owner = c.query(r#"{ post(id: "5") { authorId } }"#).await["post"]["authorId"]
        .as_str()
        .unwrap()
        .to_owned();
    let stranger = if owner == "1" { "2" } else { "1" };
    let s = c.as_user(user(stranger));
    let mut posts = s
        .subscribe(
            "subscription { postChanged { kind id node { title } } }",
            json!({}),
        )
        .await;
    let mut comments = s
        .subscribe(
            "subscription { commentChanged { kind id node { body post { id title } } } }",
            json!({}),
        )
        .await;
    let mut anonymous = c
        .anonymous()
        .subscribe("subscription { postChanged { kind id } }", json!({}))
        .await;
    let mut the_owner = c
        .as_user(user(&owner))
        .subscribe(
            "subscription { postChanged { kind node { title } } }",
            json!({}),
        )
        .await;
    // The draft changes, and gets a comment (written as the system).
    c.query(
        r#"mutation { updatePost(id: "5", input: { title: "Secret plan" }) { errors { code } } }"#,
    )
    .await;
    let ctx = c.system();
    Comment::objects(&ctx)
        .create([
            Comment::POST.set(5),
            Comment::AUTHOR.set(1),
            Comment::BODY.set("on a draft"),
        ])
        .await
        .unwrap();
    let e = the_owner.next_data().await;
    assert_eq!(e["postChanged"]["node"]["title"], "Secret plan");
    for sub in [&mut posts, &mut comments, &mut anonymous] {
        let got = sub.drain(QUIET).await;
        assert!(got.is_empty(), "{got:?}");
    }
    // Deleting it: no key of it reaches those who could never see it.
    c.query(r#"mutation { deletePost(id: "5") { errors { code } } }"#)
        .await;
    let e = the_owner.next_data().await;
    assert_eq!(e["postChanged"]["kind"], "DELETED");
    for sub in [&mut posts, &mut comments, &mut anonymous] {
        let got = sub.drain(QUIET).await;
        assert!(got.is_empty(), "{got:?}");
    }
    // Published, it arrives for everyone.
    c.query(
        r#"mutation { updatePost(id: "10", input: { status: PUBLISHED }) { errors { code } } }"#,
    )
    .await;
    assert_eq!(posts.next_data().await["postChanged"]["id"], "10");
    assert_eq!(anonymous.next_data().await["postChanged"]["id"], "10");
    // Back to a draft: it leaves their view, and they are told.
    c.query(r#"mutation { updatePost(id: "10", input: { status: DRAFT }) { errors { code } } }"#)
        .await;
    assert_eq!(
        posts.next_data().await["postChanged"],
        json!({ "kind": "DELETED", "id": "10", "node": null })
    );
    assert_eq!(
        anonymous.next_data().await["postChanged"],
        json!({ "kind": "DELETED", "id": "10" })
    );
}

/// One kind where the list is expected is a list of one (it was taken as
/// every kind).
#[tokio::test]
async fn one_kind_is_a_list_of_one() {
    let c = client().await;
    let mut sub = c
        .subscribe(
            "subscription { postChanged(kinds: DELETED) { kind id } }",
            json!({}),
        )
        .await;
    c.query(r#"mutation { updatePost(id: "1", input: { title: "Renamed" }) { errors { code } } }"#)
        .await;
    c.query(r#"mutation { deletePost(id: "2") { errors { code } } }"#)
        .await;
    assert_eq!(
        sub.next_data().await["postChanged"],
        json!({ "kind": "DELETED", "id": "2" })
    );
    assert!(sub.drain(QUIET).await.is_empty());
}

#[tokio::test]
async fn a_hidden_field_is_null_with_an_error_as_in_a_query() {
    let c = client().await;
    let s = c.as_user(user(2));
    let mut sub = s
        .subscribe(
            "subscription { userChanged { node { username email } } }",
            json!({}),
        )
        .await;
    c.query(r#"mutation { updateUser(id: "1", input: { isActive: true }) { errors { code } } }"#)
        .await;
    let e = sub.next().await;
    assert_eq!(e["data"]["userChanged"]["node"]["username"], "user1");
    assert_eq!(e["data"]["userChanged"]["node"]["email"], Json::Null);
}

#[tokio::test]
async fn refusals_are_errors_with_codes() {
    let c = client().await;
    // An unknown field: validation.
    let mut sub = c
        .subscribe("subscription { postChanged { nope } }", json!({}))
        .await;
    let e = sub.next().await;
    assert_eq!(
        codes(e["errors"].as_array().unwrap()),
        ["GRAPHQL_VALIDATION_FAILED"]
    );
    assert!(sub.ended().await);
    // A filter on a field the subscriber may not read.
    let mut sub = c
        .as_user(user(2))
        .subscribe(
            r#"subscription { userChanged(where: { email: { eq: "a@b.c" } }) { id } }"#,
            json!({}),
        )
        .await;
    let e = sub.next().await;
    assert_eq!(codes(e["errors"].as_array().unwrap()), ["FORBIDDEN"]);
    // A bad filter value.
    let mut sub = c
        .subscribe(
            r#"subscription { postChanged(where: { id: { eq: "x" } }) { id } }"#,
            json!({}),
        )
        .await;
    let e = sub.next().await;
    assert_eq!(codes(e["errors"].as_array().unwrap()), ["BAD_USER_INPUT"]);
}

/// The blog with an app of custom subscriptions: a countdown (scalars
/// from any `Stream`), and posts by id (keys, read under the rules).
fn with_streams() -> graphloom::Service {
    use graphloom::{App, graphql::CustomField, meta::Value, query::Error};
    #[derive(serde::Deserialize)]
    struct From {
        from: i32,
    }
    #[derive(serde::Deserialize)]
    struct Ids {
        ids: Vec<String>,
    }
    graphloom::Service::new("blog")
        .app(graphloom::auth::app())
        .app(blog::app())
        .app(
            App::new("live")
                .subscription(
                    CustomField::new("countdown")
                        .description("Counts down to zero.")
                        .arg::<i32>("from")
                        .stream(|_ctx, a: From| async move {
                            if a.from < 0 {
                                return Err(Error::bad_input("`from` must not be negative"));
                            }
                            Ok(futures_util::stream::iter((0..=a.from).rev().map(Ok)))
                        }),
                )
                .subscription(
                    CustomField::new("postsById")
                        .arg::<Vec<String>>("ids")
                        .stream_model::<Post, _, _, _, _>(|_ctx, a: Ids| async move {
                            Ok(futures_util::stream::iter(a.ids.into_iter().map(|id| {
                                id.parse::<i64>()
                                    .map(Value::I64)
                                    .map_err(|_| Error::bad_input("not a post id"))
                            })))
                        }),
                ),
        )
}

#[tokio::test]
async fn custom_subscriptions_stream_values_or_rows_under_the_rules() {
    let service = with_streams();
    let c = TestClient::new(&service).await;
    blog::seed::seed(&service, c.db(), &crate::common::seed_args(3, 10, 40, 3))
        .await
        .unwrap();
    let mut sub = c
        .subscribe("subscription { countdown(from: 2) }", json!({}))
        .await;
    for n in [2, 1, 0] {
        assert_eq!(sub.next_data().await, json!({ "countdown": n }));
    }
    assert!(sub.ended().await);
    // Refused before it starts.
    let mut sub = c
        .subscribe("subscription { countdown(from: -1) }", json!({}))
        .await;
    assert_eq!(
        codes(sub.next().await["errors"].as_array().unwrap()),
        ["BAD_USER_INPUT"]
    );
    // Rows as the subscriber may see them: post 5 is a draft.
    let owner = c
        .as_user(admin())
        .query(r#"{ post(id: "5") { authorId } }"#)
        .await["post"]["authorId"]
        .as_str()
        .unwrap()
        .to_owned();
    let stranger = if owner == "1" { "2" } else { "1" };
    let mut sub = c
        .as_user(user(stranger))
        .subscribe(
            r#"subscription { postsById(ids: ["1", "5"]) { id author { username } } }"#,
            json!({}),
        )
        .await;
    let first = sub.next_data().await;
    assert_eq!(first["postsById"]["id"], "1");
    assert_eq!(sub.next_data().await, json!({ "postsById": null }));
    assert!(sub.ended().await);
}

#[tokio::test]
async fn a_custom_subscription_cannot_take_a_generated_name() {
    use graphloom::{App, graphql::CustomField};
    let db = graphloom::db::Database::connect("sqlite::memory:")
        .await
        .unwrap();
    let service = graphloom::Service::new("blog")
        .app(graphloom::auth::app())
        .app(blog::app())
        .app(
            App::new("extra").subscription(CustomField::new("postChanged").stream(
                |_ctx, _args: Json| async {
                    Ok(futures_util::stream::iter([Ok::<
                        i32,
                        graphloom::query::Error,
                    >(1)]))
                },
            )),
        );
    let err = service
        .api(db, graphloom::graphql::Config::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("the custom subscription `postChanged` is named `postChanged`, as the generated postChanged already is"),
        "{err}"
    );
}

#[tokio::test]
async fn subscribers_alike_share_each_read() {
    use futures_util::StreamExt;
    let c = client().await;
    let start = |principal: Option<graphloom_test::Principal>| {
        let api = c.api().clone();
        async move {
            api.subscribe_as(
                graphloom::graphql::async_graphql::Request::new(
                    "subscription { postChanged { node { title author { username } } } }",
                ),
                graphloom::graphql::RequestContext {
                    principal,
                    ..Default::default()
                },
            )
            .await
        }
    };
    let mut a = start(None).await;
    let mut b = start(None).await;
    let mut other = start(Some(user(2))).await;
    c.query(r#"mutation { updatePost(id: "1", input: { title: "Shared" }) { errors { code } } }"#)
        .await;
    let mut statements = 0;
    for s in [&mut a, &mut b] {
        let r = tokio::time::timeout(Duration::from_secs(5), s.next())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            r.data.into_json().unwrap()["postChanged"]["node"]["title"],
            "Shared"
        );
        statements += r.statements;
    }
    // One read for both anonymous subscribers (the author joined).
    assert_eq!(statements, 1);
    // Another principal reads for itself.
    let r = tokio::time::timeout(Duration::from_secs(5), other.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.statements, 1);
}

#[tokio::test]
async fn a_model_can_go_without_its_subscription() {
    use graphloom::prelude::*;
    #[derive(Model)]
    #[model(app = "live", subscribe = false)]
    pub struct Quiet {
        pub id: Id,
        pub name: String,
    }
    #[derive(Model)]
    #[model(app = "live")]
    pub struct Loud {
        pub id: Id,
        pub name: String,
    }
    let db = graphloom::db::Database::connect("sqlite::memory:")
        .await
        .unwrap();
    let api = Service::new("live")
        .app(App::new("live").model::<Quiet>().model::<Loud>())
        .api(db, graphloom::graphql::Config::default())
        .unwrap();
    let sdl = api.sdl();
    assert!(sdl.contains("loudChanged("), "{sdl}");
    assert!(!sdl.contains("quietChanged"), "{sdl}");
    assert!(!sdl.contains("type QuietChange"), "{sdl}");
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_is_told_to_resync() {
    use futures_util::StreamExt;
    let c = client().await;
    let mut events = c
        .api()
        .subscribe_as(
            graphloom::graphql::async_graphql::Request::new(
                "subscription { postChanged { kind id } }",
            ),
            graphloom::graphql::RequestContext::default(),
        )
        .await;
    // More changes than the backlog, while it reads none.
    let engine = c.api().engine();
    let post = engine.model::<Post>().unwrap();
    for i in 0..graphloom::query::changes::BACKLOG + 10 {
        engine.changes().publish(
            post,
            graphloom::query::changes::ChangeKind::Deleted,
            vec![graphloom::meta::Value::I64(100_000 + i as i64)],
        );
    }
    let first = tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        first.data.into_json().unwrap()["postChanged"],
        json!({ "kind": "RESYNC", "id": null })
    );
}

#[tokio::test]
async fn bulk_creates_row_updates_and_plain_updates_publish_too() {
    use blog::Tag;
    use graphloom::query::Conflicts;
    let c = client().await;
    let sys = c.system();
    let mut tags = c
        .subscribe(
            "subscription { tagChanged { kind node { name } } }",
            json!({}),
        )
        .await;
    // create_many: one event per inserted row, none for a skipped conflict.
    let n = Tag::objects(&sys)
        .create_many(
            [[Tag::NAME.set("tag1")], [Tag::NAME.set("fresh")]],
            Conflicts::Ignore,
        )
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        tags.next_data().await["tagChanged"],
        json!({ "kind": "CREATED", "node": { "name": "fresh" } })
    );
    // An UPDATE in place (a model without a validator).
    Tag::objects(&sys)
        .filter(Tag::NAME.eq("fresh"))
        .update([Tag::NAME.set("fresher")])
        .await
        .unwrap();
    assert_eq!(
        tags.next_data().await["tagChanged"],
        json!({ "kind": "UPDATED", "node": { "name": "fresher" } })
    );
    // update_row, on a row already in hand.
    let tag = Tag::objects(&sys)
        .filter(Tag::NAME.eq("fresher"))
        .one()
        .await
        .unwrap()
        .unwrap();
    let n = Tag::objects(&sys)
        .update_row(&tag, [Tag::NAME.set("freshest")])
        .await
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(
        tags.next_data().await["tagChanged"],
        json!({ "kind": "UPDATED", "node": { "name": "freshest" } })
    );
    assert!(tags.drain(QUIET).await.is_empty());
}
