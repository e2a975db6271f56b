use graphloom_test::{assert_num_queries, codes};
use serde_json::json;

use crate::common::small;

#[tokio::test]
async fn custom_query_returns_models_through_the_planner() {
    let c = small().await;
    let d = assert_num_queries!(
        2,
        c.query(r#"{ searchPosts(term: "POST 1", limit: 3) { title author { username } } }"#)
    );
    let titles: Vec<&str> = d["searchPosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles.len(), 3);
    assert!(titles.iter().all(|t| t.to_lowercase().contains("post 1")));
    assert!(titles[0].starts_with("Post 19"), "newest first: {titles:?}");
    let d = c.query(r#"{ searchPosts(term: "100%") { id } }"#).await;
    assert_eq!(
        d["searchPosts"],
        json!([]),
        "wildcards in the term are literal"
    );
}

#[tokio::test]
async fn custom_mutation_with_typed_arguments() {
    let c = small().await;
    let d = c
        .query(r#"mutation { publishPosts(ids: ["5", "10"]) { id status } }"#)
        .await;
    assert_eq!(
        d["publishPosts"],
        json!([{ "id": "5", "status": "PUBLISHED" }, { "id": "10", "status": "PUBLISHED" }])
    );
    let errors = c
        .errors(r#"mutation { publishPosts(ids: ["x"]) { id } }"#)
        .await;
    assert_eq!(codes(&errors), ["BAD_USER_INPUT"]);
}

#[tokio::test]
async fn computed_field_reads_only_what_it_requires() {
    let c = small().await;
    c.query(&format!(
        r#"mutation {{ updatePost(id: "1", input: {{ body: "{}" }}) {{ errors {{ code }} }} }}"#,
        "word ".repeat(401)
    ))
    .await;
    let (d, statements) =
        graphloom_test::capture(c.query(r#"{ post(id: "1") { readingMinutes } }"#)).await;
    assert_eq!(d["post"]["readingMinutes"], 3);
    assert_eq!(statements.len(), 1);
    assert!(
        statements[0].contains(r#""t0"."body""#),
        "{}",
        statements[0]
    );
}

/// A custom root field named like another root field is refused when the
/// API is built (by `check`, before `serve`), with both named; it used to
/// panic inside async-graphql.
#[tokio::test]
async fn a_custom_field_cannot_take_a_generated_name() {
    use graphloom::{App, graphql::CustomField};
    let db = graphloom::db::Database::connect("sqlite::memory:")
        .await
        .unwrap();
    let with = |app: App| {
        graphloom::Service::new("blog")
            .app(graphloom::auth::app())
            .app(blog::app())
            .app(app)
    };
    for (app, says) in [
        (
            App::new("extra").query(CustomField::new("post").resolve(
                |_ctx, _args: serde_json::Value| async { Ok::<i32, graphloom::query::Error>(1) },
            )),
            "the custom query `post` is named `post`, as the generated lookup of Post already is",
        ),
        (
            App::new("extra").mutation(CustomField::new("createTag").resolve(
                |_ctx, _args: serde_json::Value| async { Ok::<i32, graphloom::query::Error>(1) },
            )),
            "the generated createTag",
        ),
        (
            App::new("extra").query(CustomField::new("me").resolve(
                |_ctx, _args: serde_json::Value| async { Ok::<i32, graphloom::query::Error>(1) },
            )),
            "an app's query `me`",
        ),
        (
            App::new("extra").query(CustomField::new("_entities").resolve(
                |_ctx, _args: serde_json::Value| async { Ok::<i32, graphloom::query::Error>(1) },
            )),
            "federation's field",
        ),
    ] {
        let service = with(app);
        let err = service
            .api(db.clone(), graphloom::graphql::Config::default())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(says), "{err}");
        let check = service
            .check()
            .await
            .err()
            .map(|e| format!("{e:#}"))
            .unwrap_or_default();
        assert!(check.contains(says), "check: {check}");
    }
}

/// `Id` as a custom argument or result is GraphQL's `ID`: read from text
/// or an integer, written as text.
#[tokio::test]
async fn ids_are_graphql_ids() {
    use graphloom::{App, graphql::CustomField, meta::Id};
    #[derive(serde::Deserialize)]
    struct Args {
        id: Id,
        ids: Vec<Id>,
    }
    let service = graphloom::Service::new("s").app(
        App::new("s").query(
            CustomField::new("together")
                .arg::<Id>("id")
                .arg::<Vec<Id>>("ids")
                .resolve(|_ctx, a: Args| async move {
                    Ok::<_, graphloom::query::Error>(
                        std::iter::once(a.id).chain(a.ids).collect::<Vec<Id>>(),
                    )
                }),
        ),
    );
    let c = graphloom_test::TestClient::new(&service).await;
    assert!(
        c.api()
            .sdl()
            .contains("together(id: ID!, ids: [ID!]!): [ID!]!"),
        "{}",
        c.api().sdl()
    );
    let d = c.query(r#"{ together(id: "7", ids: [1, "2"]) }"#).await;
    assert_eq!(d["together"], json!(["7", "1", "2"]));
    let errors = c.errors(r#"{ together(id: "x", ids: []) }"#).await;
    assert_eq!(codes(&errors), ["BAD_USER_INPUT"], "{errors:?}");
}

/// A `#[derive(ModelEnum)]` enum as a custom argument or result is its
/// GraphQL enum, registered even when no model stores it.
#[tokio::test]
async fn enums_are_graphql_enums() {
    use graphloom::{App, ModelEnum, graphql::CustomField};
    /// How loud.
    #[derive(ModelEnum, Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Volume {
        Quiet,
        VeryLoud,
    }
    #[derive(serde::Deserialize)]
    struct Args {
        volume: Volume,
        status: Option<blog::PostStatus>,
    }
    let service = graphloom::Service::new("s")
        .app(graphloom::auth::app())
        .app(blog::app())
        .app(
            App::new("s").query(
                CustomField::new("louder")
                    .arg::<Volume>("volume")
                    .arg::<Option<blog::PostStatus>>("status")
                    .resolve(|_ctx, a: Args| async move {
                        let next = match (a.volume, a.status) {
                            (_, Some(blog::PostStatus::Draft)) => Volume::Quiet,
                            _ => Volume::VeryLoud,
                        };
                        Ok::<_, graphloom::query::Error>(vec![a.volume, next])
                    }),
            ),
        );
    let c = graphloom_test::TestClient::new(&service).await;
    let sdl = c.api().sdl();
    assert!(
        sdl.contains("louder(volume: Volume!, status: PostStatus): [Volume!]!"),
        "{sdl}"
    );
    assert!(sdl.contains("enum Volume {"), "registered: {sdl}");
    assert!(sdl.contains("VERY_LOUD"));
    let d = c.query("{ louder(volume: QUIET) }").await;
    assert_eq!(d["louder"], json!(["QUIET", "VERY_LOUD"]));
    let d = c
        .query("{ louder(volume: VERY_LOUD, status: DRAFT) }")
        .await;
    assert_eq!(d["louder"], json!(["VERY_LOUD", "QUIET"]));
    let errors = c.errors("{ louder(volume: LOUD) }").await;
    assert_eq!(codes(&errors), ["GRAPHQL_VALIDATION_FAILED"], "{errors:?}");
}

/// An argument with a default may be left out; the resolver gets it.
#[tokio::test]
async fn arguments_take_defaults() {
    use graphloom::{App, graphql::CustomField};
    #[derive(serde::Deserialize)]
    struct Args {
        limit: i32,
        status: blog::PostStatus,
    }
    let service = graphloom::Service::new("s")
        .app(graphloom::auth::app())
        .app(blog::app())
        .app(
            App::new("s").query(
                CustomField::new("page")
                    .arg_default("limit", 20)
                    .arg_default("status", blog::PostStatus::Published)
                    .resolve(|_ctx, a: Args| async move {
                        Ok::<_, graphloom::query::Error>(format!("{} {:?}", a.limit, a.status))
                    }),
            ),
        );
    let c = graphloom_test::TestClient::new(&service).await;
    let sdl = c.api().sdl();
    assert!(
        sdl.contains("page(limit: Int! = 20, status: PostStatus! = PUBLISHED): String!"),
        "{sdl}"
    );
    assert_eq!(c.query("{ page }").await["page"], "20 Published");
    assert_eq!(
        c.query("{ page(limit: 5, status: DRAFT) }").await["page"],
        "5 Draft"
    );
}

/// A custom field returning one row (`Post`, nullable): its selection is
/// planned, and a row the caller may not see is null.
#[tokio::test]
async fn a_custom_field_returns_one_planned_row() {
    use graphloom::{App, graphql::CustomField};
    #[derive(serde::Deserialize)]
    struct Args {
        slug: String,
    }
    let service = graphloom::Service::new("blog")
        .app(graphloom::auth::app())
        .app(blog::app())
        .app(
            App::new("extra").query(
                CustomField::new("postWithSlug")
                    .arg::<String>("slug")
                    .resolve_model::<blog::Post, _, _, _>(|ctx, a: Args| async move {
                        blog::Post::objects(&graphloom::query::Ctx::system(std::sync::Arc::clone(
                            ctx.engine(),
                        )))
                        .filter(blog::Post::SLUG.eq(a.slug))
                        .keys()
                        .await
                        .map(|k| k.into_iter().next())
                    }),
            ),
        );
    let c = graphloom_test::TestClient::new(&service).await;
    assert!(
        c.api()
            .sdl()
            .contains("postWithSlug(slug: String!): Post\n"),
        "nullable"
    );
    let d = c
        .query(r#"mutation { register(input: { username: "ann", email: "ann@example.com", password: "a long enough password 1" }) { errors { code } } }"#)
        .await;
    assert_eq!(d["register"]["errors"], json!([]), "{d}");
    let author = c.as_user(graphloom_test::superuser(1));
    let d = author
        .query(r#"mutation { a: createPost(input: { title: "Open", slug: "open", body: "x", status: PUBLISHED }) { errors { code } } b: createPost(input: { title: "Hidden", slug: "hidden", body: "x" }) { errors { code } } }"#)
        .await;
    assert_eq!(d["a"]["errors"], json!([]));
    let d = assert_num_queries!(
        2,
        c.query(r#"{ postWithSlug(slug: "open") { title author { username } } }"#)
    );
    assert_eq!(d["postWithSlug"]["title"], "Open");
    assert!(d["postWithSlug"]["author"]["username"].is_string());
    // The draft is found by the resolver (as the system) but not shown to
    // a stranger: the rules apply to the row, as to any selection.
    let d = c
        .query(r#"{ postWithSlug(slug: "hidden") { title } }"#)
        .await;
    assert_eq!(d["postWithSlug"], json!(null));
    let d = c.query(r#"{ postWithSlug(slug: "nope") { title } }"#).await;
    assert_eq!(d["postWithSlug"], json!(null));
}

/// A custom query returning a connection: the resolver says which rows
/// (a `Where`), and the generated list's arguments page, filter and order
/// within them, under the caller's rules, with the selection planned.
#[tokio::test]
async fn a_custom_connection_pages_within_the_resolvers_rows() {
    use blog::Post;
    use graphloom::{App, graphql::CustomField, query::Where};
    #[derive(serde::Deserialize)]
    struct Word {
        word: String,
    }
    let connection = || {
        CustomField::new("postsAbout")
            .arg::<String>("word")
            .resolve_connection::<Post, _, _, _>(|_ctx, a: Word| async move {
                Ok(Post::TITLE.icontains(a.word) | Post::BODY.icontains("never in a body"))
            })
    };
    let everything = CustomField::new("everyPost").resolve_connection::<Post, _, _, _>(
        |_ctx, _a: serde_json::Value| async { Ok(Where::all()) },
    );
    let service = blog::service().app(App::new("extra").query(connection()).query(everything));
    let c = crate::common::small().await;
    let c = c.with_api(
        service
            .api(c.db().clone(), c.api().runtime().config.clone())
            .unwrap(),
    );
    let sdl = c.api().sdl();
    assert!(
        sdl.contains("postsAbout(word: String!, where: PostFilter, orderBy: [PostOrderBy!], first: Int, after: String, last: Int, before: String, offset: Int): PostConnection!"),
        "{sdl}"
    );
    let all = c
        .query(r#"{ postsAbout(word: "post 1") { totalCount } posts(where: { title: { iContains: "post 1" } }) { totalCount } }"#)
        .await;
    assert_eq!(all["postsAbout"]["totalCount"], all["posts"]["totalCount"]);
    let every = c
        .query("{ everyPost(first: 1) { totalCount nodes { id } } posts { totalCount } }")
        .await;
    assert_eq!(
        every["everyPost"]["totalCount"],
        every["posts"]["totalCount"]
    );
    assert_eq!(
        every["everyPost"]["nodes"].as_array().map(Vec::len),
        Some(1)
    );
    // Pages of 2, newest first, published only, each post's author joined
    // into the same statement.
    let q = r#"query($after: String) { postsAbout(word: "post 1", first: 2, after: $after, orderBy: [{ id: DESC }], where: { status: { eq: PUBLISHED } }) {
        nodes { id title status author { username } } pageInfo { hasNextPage endCursor } } }"#;
    let first = assert_num_queries!(1, c.query_vars(q, json!({ "after": null })));
    let page = &first["postsAbout"];
    let ids: Vec<&str> = page["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert!(page["nodes"].as_array().unwrap().iter().all(|n| {
        n["status"] == "PUBLISHED"
            && n["title"]
                .as_str()
                .unwrap()
                .to_lowercase()
                .contains("post 1")
    }));
    assert_eq!(page["pageInfo"]["hasNextPage"], true);
    let next = c
        .query_vars(q, json!({ "after": page["pageInfo"]["endCursor"] }))
        .await;
    let later: Vec<&str> = next["postsAbout"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert!(
        later.iter().all(|id| !ids.contains(id)),
        "{ids:?} then {later:?}"
    );
    // The caller's rules: anonymous readers see no drafts here either.
    let anon = c.anonymous();
    let d = anon
        .query(r#"{ postsAbout(word: "post", where: { status: { eq: DRAFT } }) { totalCount } }"#)
        .await;
    assert_eq!(d["postsAbout"]["totalCount"], 0);

    // An argument named like a list's is refused when the API is built.
    let clash = CustomField::new("clash")
        .arg::<i32>("first")
        .resolve_connection::<Post, _, _, _>(|_ctx, _a: serde_json::Value| async {
            Ok(Where::all())
        });
    let err = blog::service()
        .app(App::new("extra").query(clash))
        .api(c.db().clone(), graphloom::graphql::Config::default())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("the custom field `clash` returns a connection, which takes `first` already"),
        "{err}"
    );
}

/// A deprecated argument still works and is marked in the schema; GraphQL
/// deprecates only optional ones, so a required one stops the build.
#[tokio::test]
async fn arguments_can_be_deprecated() {
    use graphloom::{App, graphql::CustomField};
    #[derive(serde::Deserialize)]
    struct Args {
        count: Option<i32>,
        n: Option<i32>,
    }
    let field = || {
        CustomField::new("twice")
            .arg::<Option<i32>>("n")
            .arg_deprecated::<Option<i32>>("count", "Use `n`.")
            .resolve(|_ctx, a: Args| async move {
                Ok::<i32, graphloom::query::Error>(a.n.or(a.count).unwrap_or(0) * 2)
            })
    };
    let service = graphloom::Service::new("s").app(App::new("s").query(field()));
    let db = graphloom::db::Database::connect("sqlite::memory:")
        .await
        .unwrap();
    let c = graphloom_test::TestClient::new(&service).await;
    assert!(
        c.api()
            .sdl()
            .contains(r#"twice(n: Int, count: Int @deprecated(reason: "Use `n`.")): Int!"#),
        "{}",
        c.api().sdl()
    );
    assert_eq!(c.query("{ twice(count: 4) }").await["twice"], 8);
    let required = CustomField::new("bad")
        .arg_deprecated::<i32>("count", "gone")
        .resolve(|_ctx, _a: serde_json::Value| async { Ok::<i32, graphloom::query::Error>(1) });
    let err = graphloom::Service::new("s")
        .app(App::new("s").query(required))
        .api(db, graphloom::graphql::Config::default())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("the argument `count` of `bad` is deprecated and required"),
        "{err}"
    );
}
