//! Permissions on every path. The blog's rules: published posts are public,
//! drafts are visible to their author and to staff; only authors (or holders of
//! `blog.change_post`) change their posts; comments need a login and are
//! visible when their post is; tags are for logged-in users; a user's email is
//! visible to the user and to staff. Each test fails if its rule is removed.

use graphloom::prelude::*;
use graphloom_test::{Principal, TestClient, codes, user};
use serde_json::{Value as Json, json};

fn service() -> Service {
    blog::service()
}

/// The blog, with tags for logged-in users only (an operation rule).
fn members_only_tags() -> Service {
    Service::new("blog")
        .app(graphloom::auth::app())
        .app(blog::app().permissions::<blog::Tag>(ModelRules::new().view(Rule::Authenticated)))
}

fn staff() -> Principal {
    Principal {
        staff: true,
        ..user(99)
    }
}

/// 3 users; posts 1..=10 by users 1, 2, 3 in turn; every fifth a draft (5, 10);
/// comments on every post.
async fn client() -> TestClient {
    let service = service();
    let c = TestClient::new(&service).await;
    blog::seed::seed(&service, c.db(), &crate::common::seed_args(3, 10, 40, 3))
        .await
        .unwrap();
    c
}

fn ids(v: &Json) -> Vec<String> {
    v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn author_of(c: &TestClient, post: &str) -> String {
    c.as_user(staff())
        .query(&format!(r#"{{ post(id: "{post}") {{ authorId }} }}"#))
        .await["post"]["authorId"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn drafts_are_absent_from_lists_lookups_and_counts() {
    let c = client().await;
    let anon = c.query(r#"{ posts(first: 100) { totalCount nodes { id status } } d: post(id: "5") { id } s: postBySlug(slug: "post-10") { id } }"#).await;
    assert_eq!(anon["posts"]["totalCount"], 8);
    assert!(!ids(&anon["posts"]).contains(&"5".into()));
    assert_eq!(anon["d"], Json::Null);
    assert_eq!(anon["s"], Json::Null);
    let staff = c
        .as_user(staff())
        .query("{ posts(first: 100) { totalCount } }")
        .await;
    assert_eq!(staff["posts"]["totalCount"], 10);
    // The author of post 5 sees it; another user does not.
    let owner = author_of(&c, "5").await;
    let mine = c
        .as_user(user(&owner))
        .query(r#"{ post(id: "5") { id } posts(first: 100) { totalCount } }"#)
        .await;
    assert_eq!(mine["post"]["id"], "5");
    let other = if owner == "1" { "2" } else { "1" };
    let theirs = c
        .as_user(user(other))
        .query(r#"{ post(id: "5") { id } }"#)
        .await;
    assert_eq!(theirs["post"], Json::Null);
}

#[tokio::test]
async fn nested_paths_in_both_directions_hide_drafts() {
    // A logged-in reader who wrote nothing (listing users needs a login).
    let c = client().await.as_user(user(50));
    let d = c.query("{ users(first: 10) { nodes { posts(first: 100) { totalCount nodes { id } } } } comments(first: 100) { totalCount nodes { post { id status } } } }").await;
    let seen: Vec<String> = d["users"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|u| ids(&u["posts"]))
        .collect();
    assert!(
        !seen.contains(&"5".into()) && !seen.contains(&"10".into()),
        "{seen:?}"
    );
    let total: i64 = d["users"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["posts"]["totalCount"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 8, "nested counts exclude drafts");
    // Comments follow their post's visibility, at the root too.
    for n in d["comments"]["nodes"].as_array().unwrap() {
        assert_eq!(n["post"]["status"], "PUBLISHED");
    }
    // Under users (not under their posts) each comment's post is checked;
    // under visible posts the rule is implied and not repeated per row.
    let (under_users, statements) = graphloom_test::capture(c.query(
        "{ users(first: 10) { nodes { comments(first: 100) { totalCount nodes { post { status } } } } } }",
    ))
    .await;
    let mut shown = 0;
    for u in under_users["users"]["nodes"].as_array().unwrap() {
        for n in u["comments"]["nodes"].as_array().unwrap() {
            assert_eq!(n["post"]["status"], "PUBLISHED");
            shown += 1;
        }
    }
    assert_eq!(
        i64::from(shown),
        d["comments"]["totalCount"].as_i64().unwrap()
    );
    let checked = statements
        .iter()
        .find(|s| s.contains("blog_comment") && s.contains("EXISTS"))
        .unwrap();
    // The comment's rule is its post's rule, once: not the post's rule again
    // inside the EXISTS that already is it.
    let exists = &checked[checked.find("EXISTS(").unwrap()..];
    let exists = &exists[..exists.find(" ORDER BY").unwrap()];
    assert_eq!(exists.matches(r#"."status" = "#).count(), 1, "{checked}");
    let (_, statements) = graphloom_test::capture(c.query(
        "{ posts(first: 10) { nodes { comments(first: 5) { totalCount nodes { id } } } } }",
    ))
    .await;
    assert!(
        statements
            .iter()
            .filter(|s| s.contains("blog_comment"))
            .all(|s| !s.contains("EXISTS")),
        "{statements:#?}"
    );
    let all = c
        .as_user(staff())
        .query("{ comments(first: 100) { totalCount } }")
        .await;
    assert!(
        d["comments"]["totalCount"].as_i64().unwrap()
            < all["comments"]["totalCount"].as_i64().unwrap()
    );
}

#[tokio::test]
async fn filters_ordering_aliases_fragments_and_cursors_do_not_leak() {
    let c = client().await.as_user(user(50));
    // Who wrote a draft? A filter across the relation must not tell.
    let d = c
        .query(r#"{ users(where: { posts: { some: { status: { eq: DRAFT } } } }) { totalCount } }"#)
        .await;
    assert_eq!(d["users"]["totalCount"], 0);
    let d = c
        .query(r#"{ comments(where: { post: { status: { eq: DRAFT } } }) { totalCount } }"#)
        .await;
    assert_eq!(d["comments"]["totalCount"], 0);
    let d = c
        .query(r#"{ users(where: { posts: { none: { status: { eq: DRAFT } } } }) { totalCount } }"#)
        .await;
    assert_eq!(d["users"]["totalCount"], 3, "`none` sees no drafts either");
    // Aliases and fragments reach the same rules.
    let d = c.query(r#"fragment P on Post { id title } { a: post(id: "10") { ...P } b: posts(where: { id: { in: ["5", "10"] } }) { nodes { ... on Post { id } } } }"#).await;
    assert_eq!(d, json!({ "a": null, "b": { "nodes": [] } }));
    // Walking every page with cursors never reaches a draft.
    let mut after = Json::Null;
    let mut seen = Vec::new();
    loop {
        let p = c.query_vars("query($a: String) { posts(first: 3, after: $a, orderBy: [{ title: DESC }]) { nodes { id } pageInfo { hasNextPage endCursor } } }", json!({ "a": after })).await;
        seen.extend(ids(&p["posts"]));
        if p["posts"]["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = p["posts"]["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(seen.len(), 8);
    // Ordering comments by their post's title sorts only visible rows.
    let d = c.query("{ comments(first: 100, orderBy: [{ post: { title: ASC } }]) { nodes { post { status } } } }").await;
    assert!(
        d["comments"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["post"]["status"] == "PUBLISHED")
    );
}

#[tokio::test]
async fn writes_follow_the_rules() {
    let c = client().await;
    let owner = author_of(&c, "1").await;
    let other = if owner == "1" { "2" } else { "1" };
    let update = |id: &str| {
        format!(
            r#"mutation {{ updatePost(id: "{id}", input: {{ title: "changed" }}) {{ post {{ title }} errors {{ code }} }} }}"#
        )
    };
    // Anonymous: no principal at all.
    assert_eq!(codes(&c.errors(&update("1")).await), ["UNAUTHENTICATED"]);
    // Someone else's visible post: forbidden; their draft: not found (no leak).
    assert_eq!(
        codes(&c.as_user(user(other)).errors(&update("1")).await),
        ["FORBIDDEN"]
    );
    let draft_owner = author_of(&c, "5").await;
    let stranger = if draft_owner == "1" { "2" } else { "1" };
    let d = c.as_user(user(stranger)).query(&update("5")).await;
    assert_eq!(d["updatePost"]["errors"], json!([{ "code": "NOT_FOUND" }]));
    // The author may; so may a holder of blog.change_post.
    let d = c.as_user(user(&owner)).query(&update("1")).await;
    assert_eq!(
        d["updatePost"],
        json!({ "post": { "title": "changed" }, "errors": [] })
    );
    let editor = Principal {
        perms: vec!["blog.change_post".into()],
        ..user(other)
    };
    let d = c.as_user(editor).query(&update("1")).await;
    assert_eq!(d["updatePost"]["errors"], json!([]));
    // Deleting: not the editor's right.
    let editor = Principal {
        perms: vec!["blog.change_post".into()],
        ..user(other)
    };
    assert_eq!(
        codes(
            &c.as_user(editor)
                .errors(r#"mutation { deletePost(id: "1") { deletedId } }"#)
                .await
        ),
        ["FORBIDDEN"]
    );
    // Creating a post in someone else's name.
    let create = |author: &str| {
        format!(
            r#"mutation {{ createPost(input: {{ title: "t", slug: "s-{author}", body: "b", authorId: "{author}" }}) {{ post {{ id }} errors {{ code }} }} }}"#
        )
    };
    assert_eq!(codes(&c.errors(&create("1")).await), ["UNAUTHENTICATED"]);
    assert_eq!(
        codes(&c.as_user(user("1")).errors(&create("2")).await),
        ["FORBIDDEN"]
    );
    let d = c.as_user(user("1")).query(&create("1")).await;
    assert_eq!(d["createPost"]["errors"], json!([]));
    let editor = Principal {
        perms: vec!["blog.change_post".into()],
        ..user(other)
    };
    // An editor who makes someone else's post a draft no longer sees it: the
    // write lands, the payload's post is null (RETURNING said it is hidden).
    let d = c
        .as_user(editor.clone())
        .query(r#"mutation { updatePost(id: "1", input: { status: DRAFT }) { post { title } errors { code } } }"#)
        .await;
    assert_eq!(d["updatePost"], json!({ "post": null, "errors": [] }));
    let d = c
        .as_user(user(&owner))
        .query(r#"{ post(id: "1") { status } }"#)
        .await;
    assert_eq!(d["post"]["status"], "DRAFT");
    assert!(c.as_user(editor).query(r#"{ post(id: "1") { id } }"#).await["post"].is_null());
}

#[tokio::test]
async fn comments_need_a_login_and_a_visible_post() {
    let c = client().await;
    let comment = |post: &str| {
        format!(
            r#"mutation {{ createComment(input: {{ postId: "{post}", authorId: "1", body: "hi" }}) {{ comment {{ id }} errors {{ field code }} }} }}"#
        )
    };
    assert_eq!(codes(&c.errors(&comment("1")).await), ["UNAUTHENTICATED"]);
    let d = c.as_user(user("1")).query(&comment("1")).await;
    assert_eq!(d["createComment"]["errors"], json!([]));
    // A draft the user cannot see is as absent as a missing post.
    let draft_owner = author_of(&c, "5").await;
    let stranger = if draft_owner == "1" { "2" } else { "1" };
    let d = c.as_user(user(stranger)).query(&comment("5")).await;
    assert_eq!(
        d["createComment"]["errors"],
        json!([{ "field": ["postId"], "code": "FOREIGN_KEY" }])
    );
}

#[tokio::test]
async fn operation_rules_guard_root_and_nested_fields() {
    let service = members_only_tags();
    let c = TestClient::new(&service).await;
    blog::seed::seed(&service, c.db(), &crate::common::seed_args(3, 10, 40, 3))
        .await
        .unwrap();
    assert_eq!(
        codes(&c.errors("{ tags { totalCount } }").await),
        ["UNAUTHENTICATED"]
    );
    assert_eq!(
        codes(
            &c.errors(r#"{ post(id: "1") { tags { nodes { name } } } }"#)
                .await
        ),
        ["UNAUTHENTICATED"]
    );
    assert_eq!(
        codes(
            &c.errors(
                r#"{ posts(where: { tags: { some: { name: { eq: "tag1" } } } }) { totalCount } }"#
            )
            .await
        ),
        ["UNAUTHENTICATED"]
    );
    let d = c.as_user(user("1")).query("{ tags { totalCount } }").await;
    assert_eq!(d["tags"]["totalCount"], 3);
}

#[tokio::test]
async fn field_rules_hide_values_and_refuse_filters_on_them() {
    let c = client().await;
    let emails = |d: &Json| {
        d["users"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["email"].clone())
            .collect::<Vec<_>>()
    };
    let d = c
        .as_user(user("2"))
        .query("{ users { nodes { id email } } }")
        .await;
    assert_eq!(
        emails(&d),
        [Json::Null, json!("user2@example.com"), Json::Null]
    );
    let d = c
        .as_user(user("2"))
        .query(r#"{ user(id: "1") { username email } }"#)
        .await;
    assert_eq!(d["user"], json!({ "username": "user1", "email": null }));
    let d = c
        .as_user(staff())
        .query("{ users { nodes { email } } }")
        .await;
    assert!(emails(&d).iter().all(Json::is_string));
    // Probing a hidden field through filters or ordering is refused.
    assert_eq!(
        codes(
            &c.as_user(user("2"))
                .errors(r#"{ users(where: { email: { startsWith: "user1" } }) { totalCount } }"#)
                .await
        ),
        ["FORBIDDEN"]
    );
    assert_eq!(
        codes(
            &c.errors(r#"{ users(orderBy: [{ email: ASC }]) { totalCount } }"#)
                .await
        ),
        ["UNAUTHENTICATED"]
    );
    assert_eq!(codes(&c.errors(r#"{ posts(where: { author: { email: { eq: "user1@example.com" } } }) { totalCount } }"#).await), ["UNAUTHENTICATED"]);
    let d = c
        .as_user(staff())
        .query(r#"{ users(where: { email: { startsWith: "user1" } }) { totalCount } }"#)
        .await;
    assert_eq!(d["users"]["totalCount"], 1);
}

#[tokio::test]
async fn custom_predicates_and_bad_declarations() {
    let app = blog::app().permissions::<blog::Tag>(ModelRules::new().view(Rule::custom(
        |p: Option<Principal>| async move { p.is_some_and(|p| p.user_id.starts_with('4')) },
    )));
    let c = TestClient::new(&Service::new("blog").app(graphloom::auth::app()).app(app)).await;
    assert_eq!(
        codes(&c.as_user(user("1")).errors("{ tags { totalCount } }").await),
        ["FORBIDDEN"]
    );
    assert_eq!(
        c.as_user(user("42")).query("{ tags { totalCount } }").await["tags"]["totalCount"],
        0
    );
    // A rule naming a field the model lacks stops the start.
    let bad = Service::new("blog")
        .app(graphloom::auth::app())
        .app(blog::app().permissions::<blog::Post>(ModelRules::new().rows(Rule::Owner("writer"))));
    let db = graphloom::db::Database::connect("sqlite::memory:")
        .await
        .unwrap();
    let err = bad
        .api(db.clone(), Default::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("graphloom.E011") && err.contains("writer"),
        "{err}"
    );
    let bad = Service::new("blog")
        .app(graphloom::auth::app())
        .app(blog::app().permissions::<blog::Post>(ModelRules::new().view(Rule::Owner("author"))));
    assert!(
        bad.api(db, Default::default())
            .unwrap_err()
            .to_string()
            .contains("cannot depend on a row")
    );
}

#[tokio::test]
async fn an_update_cannot_hand_a_row_to_someone_else() {
    let c = client().await;
    let owner = author_of(&c, "1").await;
    let other = if owner == "1" { "2" } else { "1" };
    let give = |to: &str| {
        format!(
            r#"mutation {{ updatePost(id: "1", input: {{ authorId: "{to}" }}) {{ post {{ authorId }} errors {{ code }} }} }}"#
        )
    };
    // The create rule (`Owner("author")` or staff) holds for the new author.
    assert_eq!(
        codes(&c.as_user(user(&owner)).errors(&give(other)).await),
        ["FORBIDDEN"]
    );
    assert_eq!(author_of(&c, "1").await, owner, "the row is unchanged");
    // Naming yourself again is fine; staff may move a post to anyone.
    let d = c.as_user(user(&owner)).query(&give(&owner)).await;
    assert_eq!(d["updatePost"]["errors"], json!([]), "{d}");
    let d = c.as_user(staff()).query(&give(other)).await;
    assert_eq!(d["updatePost"]["post"]["authorId"], other, "{d}");
    // Through the model API's bulk update too.
    let ctx = c.as_user(user(other)).ctx().await;
    let owner_id: i64 = owner.parse().unwrap();
    let moved = blog::Post::objects(&ctx)
        .filter(blog::Post::ID.eq(1))
        .update([blog::Post::AUTHOR.set(owner_id)])
        .await;
    assert_eq!(moved.map_err(|e| e.code), Err(ErrorCode::Forbidden));
    assert_eq!(author_of(&c, "1").await, other);
}

/// A model added without rules: readable by anyone, written only by holders
/// of its Django model permissions (and superusers).
mod shop {
    use graphloom::prelude::*;

    #[derive(Model)]
    #[model(app = "shop")]
    pub struct Shop {
        pub id: Id,
        #[field(max_length = 40)]
        pub name: String,
    }

    pub fn service(rules: Option<ModelRules>) -> Service {
        let app = App::new("shop").model::<Shop>();
        let app = match rules {
            Some(r) => app.permissions::<Shop>(r),
            None => app,
        };
        Service::new("shop").app(app)
    }
}

fn holding(perms: &[&str]) -> Principal {
    Principal {
        perms: perms.iter().map(|p| p.to_string()).collect(),
        ..user(5)
    }
}

#[tokio::test]
async fn writes_default_to_the_model_permissions() {
    let c = TestClient::new(&shop::service(None)).await;
    let create =
        r#"mutation { createShop(input: { name: "Corner" }) { shop { id } errors { code } } }"#;
    assert_eq!(codes(&c.errors(create).await), ["UNAUTHENTICATED"]);
    let plain = c.as_user(user(5));
    assert_eq!(codes(&plain.errors(create).await), ["FORBIDDEN"]);
    let adder = c.as_user(holding(&["shop.add_shop"]));
    assert_eq!(adder.query(create).await["createShop"]["shop"]["id"], "1");
    let boss = c.as_user(graphloom_test::superuser(9));
    assert_eq!(boss.query(create).await["createShop"]["shop"]["id"], "2");
    // Reads stay public.
    assert_eq!(
        c.query("{ shops { totalCount } }").await["shops"]["totalCount"],
        2
    );

    let update = r#"mutation { updateShop(id: "1", input: { name: "Square" }) { shop { name } errors { code } } }"#;
    assert_eq!(codes(&adder.errors(update).await), ["FORBIDDEN"]);
    let changer = c.as_user(holding(&["shop.change_shop"]));
    assert_eq!(
        changer.query(update).await["updateShop"]["shop"]["name"],
        "Square"
    );
    let delete = r#"mutation { deleteShop(id: "2") { errors { code } } }"#;
    assert_eq!(codes(&changer.errors(delete).await), ["FORBIDDEN"]);
    assert_eq!(codes(&c.errors(delete).await), ["UNAUTHENTICATED"]);
    let deleter = c.as_user(holding(&["shop.delete_shop"]));
    deleter.query(delete).await;
    // Nothing refused changed anything.
    let d = c.query("{ shops { nodes { id name } } }").await;
    assert_eq!(
        d["shops"]["nodes"],
        json!([{ "id": "1", "name": "Square" }])
    );

    // A rule replaces the default for its operation only.
    let c = TestClient::new(&shop::service(Some(
        ModelRules::new().create(Rule::Authenticated),
    )))
    .await;
    c.as_user(user(5)).query(create).await;
    assert_eq!(
        codes(&c.as_user(user(5)).errors(update).await),
        ["FORBIDDEN"]
    );
}

#[test]
fn an_explicit_anonymous_write_is_a_start_up_warning() {
    assert!(shop::service(None).warnings().is_empty());
    assert!(
        service().warnings().is_empty(),
        "the blog opens no write to anonymous clients"
    );
    let open = ModelRules::new()
        .create(Rule::Anyone)
        .delete(Rule::Equals("name", Value::from("scratch")));
    let warnings = shop::service(Some(open)).warnings();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0].id, "graphloom.W001");
    assert_eq!(warnings[0].at, "shop.Shop");
    assert!(
        warnings[0].message.contains("may create, delete Shop rows"),
        "{}",
        warnings[0]
    );
    // A login or a permission closes it.
    let closed = ModelRules::new().create(Rule::Authenticated.or(Rule::Staff));
    assert!(shop::service(Some(closed)).warnings().is_empty());
}

#[tokio::test]
async fn only_the_user_and_staff_see_more_than_a_username() {
    let c = client().await;
    // Anonymous clients cannot enumerate users, by list or by lookup...
    for q in [
        "{ users { totalCount } }",
        r#"{ user(id: "1") { username } }"#,
        r#"{ userByUsername(username: "user1") { username } }"#,
    ] {
        assert_eq!(codes(&c.errors(q).await), ["UNAUTHENTICATED"], "{q}");
    }
    // ...but a post's author is shown with the post, and only the username.
    let private = "isActive isStaff isSuperuser dateJoined lastLogin email";
    let d = c
        .query(&format!(
            r#"{{ post(id: "1") {{ author {{ username {private} }} }} }}"#
        ))
        .await;
    let author = &d["post"]["author"];
    assert_eq!(author["username"], "user2");
    for f in private.split(' ') {
        assert_eq!(author[f], Json::Null, "{f} leaks to anonymous clients");
    }
    // A user sees their own account in full, others' usernames only.
    let d = c
        .as_user(user("2"))
        .query(&format!(
            "{{ users(orderBy: [{{ id: ASC }}]) {{ nodes {{ username {private} }} }} }}"
        ))
        .await;
    let nodes = d["users"]["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3);
    for (i, n) in nodes.iter().enumerate() {
        assert_eq!(n["isActive"].is_boolean(), i == 1, "{n}");
        assert_eq!(n["dateJoined"].is_string(), i == 1, "{n}");
        assert_eq!(n["isSuperuser"].is_boolean(), i == 1, "{n}");
    }
    // Who is a superuser cannot be probed by a filter or an order...
    for q in [
        "{ users(where: { isSuperuser: { eq: true } }) { totalCount } }",
        "{ users(where: { isStaff: { eq: true } }) { totalCount } }",
        "{ users(orderBy: [{ dateJoined: ASC }]) { totalCount } }",
        "{ posts(where: { author: { isSuperuser: { eq: true } } }) { totalCount } }",
    ] {
        assert_eq!(
            codes(&c.as_user(user("2")).errors(q).await),
            ["FORBIDDEN"],
            "{q}"
        );
    }
    // ...while staff see and filter everything.
    let d = c
        .as_user(staff())
        .query("{ users(where: { isSuperuser: { eq: true } }) { totalCount nodes { isStaff dateJoined } } }")
        .await;
    assert_eq!(d["users"]["totalCount"], 1, "the seeded superuser");
    assert!(d["users"]["nodes"][0]["dateJoined"].is_string());
}

#[tokio::test]
async fn listing_users_is_a_setting() {
    let settings = graphloom::auth::AuthSettings {
        list_users: Rule::Anyone,
        ..Default::default()
    };
    let open = Service::new("blog")
        .app(graphloom::auth::app_with(settings))
        .app(blog::app());
    let c = TestClient::new(&open).await;
    blog::seed::seed(&open, c.db(), &crate::common::seed_args(3, 3, 0, 0))
        .await
        .unwrap();
    let d = c
        .query("{ users { totalCount nodes { username isStaff } } }")
        .await;
    assert_eq!(d["users"]["totalCount"], 3);
    assert_eq!(
        d["users"]["nodes"][0]["isStaff"],
        Json::Null,
        "fields stay private"
    );
    let staff_only = graphloom::auth::AuthSettings {
        list_users: Rule::Staff,
        ..Default::default()
    };
    let closed = Service::new("blog")
        .app(graphloom::auth::app_with(staff_only))
        .app(blog::app());
    let c = TestClient::new(&closed).await;
    assert_eq!(
        codes(&c.as_user(user(1)).errors("{ users { totalCount } }").await),
        ["FORBIDDEN"]
    );
    assert_eq!(
        c.as_user(staff()).query("{ users { totalCount } }").await["users"]["totalCount"],
        0
    );
}
