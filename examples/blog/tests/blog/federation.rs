//! The blog as an Apollo Federation v2 subgraph: entities keyed by their
//! primary keys, resolved in one batched statement per type, under the rules.

use graphloom_test::{assert_num_queries, codes};
use serde_json::{Value as Json, json};

use crate::common::seeded;

const ENTITIES: &str = r#"query($r: [_Any!]!) { _entities(representations: $r) { __typename ... on Post { id title author { username } } ... on User { id username } } }"#;

fn posts(ids: impl Iterator<Item = u64>) -> Json {
    Json::Array(
        ids.map(|i| json!({ "__typename": "Post", "id": i.to_string() }))
            .collect(),
    )
}

#[tokio::test]
async fn service_sdl_declares_entities() {
    let c = seeded(1, 1, 0, 0).await;
    let d = c.query("{ _service { sdl } }").await;
    let sdl = d["_service"]["sdl"].as_str().unwrap();
    assert!(
        sdl.contains("https://specs.apollo.dev/federation/v2"),
        "{}",
        &sdl[..400]
    );
    assert!(sdl.contains("type Post @key(fields: \"id\")"), "{sdl}");
    assert!(sdl.contains("type User @key(fields: \"id\")"), "{sdl}");
    // The newest federation version both composers accept, with the auth
    // directives imported; the same text as `schema --federation`.
    assert!(
        sdl.contains(r#"url: "https://specs.apollo.dev/federation/v2.9""#),
        "{sdl}"
    );
    assert!(
        sdl.contains(r#""@authenticated", "@requiresScopes", "@policy", "@context", "@fromContext", "@cost", "@listSize"]"#),
        "{sdl}"
    );
    assert_eq!(sdl.trim_end(), c.api().subgraph_sdl().trim_end());
}

#[tokio::test]
async fn a_thousand_representations_in_one_statement_per_type() {
    let c = seeded(3, 1000, 0, 0).await;
    let reps = posts(1..=1000);
    let d = assert_num_queries!(
        1,
        c.query_vars(
            r#"query($r: [_Any!]!) { _entities(representations: $r) { ... on Post { id } } }"#,
            json!({ "r": reps })
        )
    );
    let got = d["_entities"].as_array().unwrap();
    assert_eq!(got.len(), 1000);
    assert_eq!(got[0]["id"], "1");
    assert_eq!(got[999]["id"], "1000");
    // A to-one leaf under the entities is joined; two types are two statements.
    let mut mixed = posts((1..=50).rev());
    mixed
        .as_array_mut()
        .unwrap()
        .push(json!({ "__typename": "User", "id": "2" }));
    let d = assert_num_queries!(2, c.query_vars(ENTITIES, json!({ "r": mixed })));
    let got = d["_entities"].as_array().unwrap();
    assert_eq!(got[0]["id"], "50", "representation order is kept");
    assert_eq!(
        got[50],
        json!({ "__typename": "User", "id": "2", "username": "user2" })
    );
    assert!(got[0]["author"]["username"].is_string());
}

#[tokio::test]
async fn auth_directives_come_from_the_rules() {
    let db = graphloom::db::Database::connect("sqlite::memory:")
        .await
        .unwrap();
    let plain = blog::service().api(db.clone(), Default::default()).unwrap();
    let config = graphloom::graphql::Config {
        auth_directives: true,
        ..Default::default()
    };
    let api = blog::service().api(db, config).unwrap();
    let sdl = api.subgraph_sdl();
    let line = |start: &str| -> String {
        sdl.lines()
            .find(|l| l.trim_start().starts_with(start))
            .unwrap_or_else(|| panic!("no line starting {start} in\n{sdl}"))
            .trim()
            .to_owned()
    };
    // Comments need a login to write; changing a post needs its author (a
    // login), `blog.change_post` or staff: a login is what all of them share.
    assert!(line("createComment(").ends_with("@authenticated"));
    assert!(line("updatePost(").ends_with("@authenticated"));
    // Tags are staff-only; groups and permissions too; users are the
    // superuser's to manage.
    assert!(line("createTag(").ends_with(r#"@requiresScopes(scopes: [["staff"]])"#));
    assert_eq!(
        line("type Group "),
        r#"type Group @key(fields: "id") @requiresScopes(scopes: [["staff"]]) {"#
    );
    assert!(line("deleteUser(").ends_with(r#"@requiresScopes(scopes: [["superuser"]])"#));
    // A field rule: email is for its owner and staff.
    let user = sdl.split("type User ").nth(1).unwrap_or_default();
    let email = user.lines().find(|l| l.trim_start().starts_with("email:"));
    assert_eq!(email.map(str::trim), Some("email: String @authenticated"));
    // Listing users needs a login; a post's author does not.
    let query = sdl.split("type Query {").nth(1).unwrap_or_default();
    let root = |start: &str| {
        query
            .lines()
            .find(|l| l.trim_start().starts_with(start))
            .map(str::trim)
            .unwrap_or_default()
    };
    assert!(
        root("users(").ends_with("@authenticated"),
        "{}",
        root("users(")
    );
    assert!(root("userByUsername(").ends_with("@authenticated"));
    assert!(
        !root("posts(").contains("@authenticated"),
        "{}",
        root("posts(")
    );
    let is_staff = user
        .lines()
        .find(|l| l.trim_start().starts_with("isStaff:"));
    assert_eq!(
        is_staff.map(str::trim),
        Some("isStaff: Boolean @authenticated")
    );
    // Anyone reads published posts: no directive.
    assert!(line("type Post ").starts_with(r#"type Post @key(fields: "id")"#));
    // Off by default, and never in the plain SDL for clients.
    assert!(!plain.subgraph_sdl().contains("requiresScopes("));
    assert!(
        !plain
            .subgraph_sdl()
            .lines()
            .any(|l| l.trim_end().ends_with("@authenticated"))
    );
    assert_eq!(api.sdl(), plain.sdl());
}

#[tokio::test]
async fn missing_bad_and_hidden_entities() {
    let c = seeded(2, 10, 0, 0).await;
    let res = c.execute(ENTITIES, json!({ "r": [{ "__typename": "Post", "id": "1" }, { "__typename": "Post", "id": "999" }] })).await;
    // A missing entity is null, with one error naming its index at its path.
    assert_eq!(res["data"]["_entities"][1], json!(null), "{res}");
    assert_eq!(res["data"]["_entities"][0]["id"], "1");
    assert_eq!(res["errors"].as_array().unwrap().len(), 1, "{res}");
    assert_eq!(res["errors"][0]["extensions"]["code"], "NOT_FOUND");
    assert_eq!(res["errors"][0]["path"], json!(["_entities", 1]));
    assert!(
        res["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("representations[1]"),
        "{res}"
    );
    // Under an alias, at the alias.
    let res = c
        .execute(
            r#"query($r: [_Any!]!) { found: _entities(representations: $r) { ... on Post { id } } }"#,
            json!({ "r": [{ "__typename": "Post", "id": "999" }] }),
        )
        .await;
    assert_eq!(res["data"]["found"], json!([null]), "{res}");
    assert_eq!(res["errors"][0]["path"], json!(["found", 0]));
    for (rep, why) in [
        (json!({ "id": "1" }), "__typename"),
        (json!({ "__typename": "Nope", "id": "1" }), "not an entity"),
        (json!({ "__typename": "Post" }), "has no `id`"),
        (
            json!({ "__typename": "Post", "id": "x" }),
            "representations[0]",
        ),
    ] {
        let errors = c.errors_vars(ENTITIES, json!({ "r": [rep] })).await;
        assert_eq!(codes(&errors), ["BAD_USER_INPUT"]);
        assert!(
            errors[0]["message"].as_str().unwrap().contains(why),
            "{errors:?}"
        );
    }
    // In a batch, a bad representation fails alone: null at its index with
    // its error there; the others resolve.
    let res = c
        .execute(
            r#"query($r: [_Any!]!) { found: _entities(representations: $r) { ... on Post { id } } }"#,
            json!({ "r": [
                { "__typename": "Post", "id": "1" },
                { "__typename": "Nope", "id": "1" },
                { "__typename": "Post", "id": "x" },
                { "__typename": "Post", "id": "2" },
            ] }),
        )
        .await;
    assert_eq!(
        res["data"]["found"],
        json!([{ "id": "1" }, null, null, { "id": "2" }]),
        "{res}"
    );
    let errors = res["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{res}");
    for (e, at) in errors.iter().zip([1, 2]) {
        assert_eq!(e["path"], json!(["found", at]), "{res}");
        assert_eq!(e["extensions"]["code"], "BAD_USER_INPUT", "{res}");
    }
    // Drafts stay hidden through _entities, exactly like a missing row.
    let anon = c.anonymous();
    let res = anon.execute(ENTITIES, json!({ "r": [{ "__typename": "Post", "id": "5" }, { "__typename": "Post", "id": "999" }] })).await;
    assert_eq!(res["data"]["_entities"], json!([null, null]), "{res}");
    let mut msgs: Vec<String> = res["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["message"]
                .as_str()
                .unwrap()
                .replace("[0]", "[i]")
                .replace("[1]", "[i]")
                .replace("999", "N")
                .replace('5', "N")
        })
        .collect();
    assert_eq!(msgs.len(), 2, "{res}");
    msgs.dedup();
    assert_eq!(
        msgs.len(),
        1,
        "a hidden row reads as a missing one: {msgs:?}"
    );
}

mod reviews {
    use graphloom::prelude::*;

    /// Owned by the accounts service.
    #[derive(Model)]
    #[model(app = "accounts", external)]
    pub struct User {
        pub id: Id,
    }

    /// Owned by the products service.
    #[derive(Model)]
    #[model(app = "products", external)]
    pub struct Product {
        pub id: Id,
    }

    #[derive(Model)]
    #[model(app = "reviews")]
    pub struct Review {
        pub id: Id,
        pub author: Reference<User>,
        pub product: Reference<Product>,
        pub body: String,
        pub rating: i32,
    }

    pub fn service() -> Service {
        Service::new("reviews")
            .app(App::new("accounts").model::<User>())
            .app(App::new("products").model::<Product>())
            .app(App::new("reviews").model::<Review>())
    }
}

#[tokio::test]
async fn references_to_other_services_are_stubs_and_extensions() {
    let service = reviews::service();
    let state = service.project_state().unwrap();
    assert_eq!(
        state.tables.keys().collect::<Vec<_>>(),
        ["reviews_review"],
        "external entities have no table"
    );
    assert!(
        state.tables["reviews_review"]
            .columns
            .iter()
            .all(|c| c.references.is_none()),
        "and no foreign key"
    );
    let c = graphloom_test::TestClient::new(&service)
        .await
        .as_user(graphloom_test::superuser(1));
    let sdl = c.api().subgraph_sdl();
    assert!(sdl.contains("type User @key(fields: \"id\")"), "{sdl}");
    assert!(
        !sdl.contains("users("),
        "no root fields for another service's entity"
    );
    for (author, product, body) in [("42", "1", "great"), ("42", "2", "meh"), ("7", "1", "fine")] {
        let d = c
            .query(&format!(r#"mutation {{ createReview(input: {{ authorId: "{author}", productId: "{product}", body: "{body}", rating: 4 }}) {{ errors {{ code }} }} }}"#))
            .await;
        assert_eq!(
            d["createReview"]["errors"],
            json!([]),
            "references are not checked locally"
        );
    }
    // A reference resolves to a stub without a statement.
    let d = assert_num_queries!(
        1,
        c.query("{ reviews { nodes { body author { __typename id } product { id } } } }")
    );
    assert_eq!(
        d["reviews"]["nodes"][0],
        json!({ "body": "great", "author": { "__typename": "User", "id": "42" }, "product": { "id": "1" } })
    );
    // The gateway asks this service for User.reviews: one statement for all users.
    let reps = json!([{ "__typename": "User", "id": "42" }, { "__typename": "User", "id": "7" }, { "__typename": "Product", "id": "1" }]);
    // Fragments are merged per response key whatever their type condition, so
    // Product.reviews also counts (a known over-fetch): 2 edges × (rows + count).
    let d = assert_num_queries!(
        4,
        c.query_vars(
            r#"query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id reviews { totalCount nodes { body } } } ... on Product { id reviews { nodes { rating } } } } }"#,
            json!({ "r": reps })
        )
    );
    // Users and products themselves cost nothing: they are stubs.
    let e = &d["_entities"];
    assert_eq!(
        e[0],
        json!({ "id": "42", "reviews": { "totalCount": 2, "nodes": [{ "body": "great" }, { "body": "meh" }] } })
    );
    assert_eq!(e[1]["reviews"]["nodes"], json!([{ "body": "fine" }]));
    assert_eq!(e[2]["reviews"]["nodes"].as_array().unwrap().len(), 2);
}

mod directives {
    use graphloom::prelude::*;

    #[derive(Model)]
    #[model(app = "shop", shareable, tag = "public")]
    pub struct Item {
        pub id: Id,
        #[field(max_length = 50, shareable)]
        pub name: String,
        #[field(inaccessible, default = 0)]
        pub cost: i32,
        #[field(max_length = 20, tag = "internal", tag = "beta")]
        pub sku: Option<String>,
        #[field(override_from = "legacy", default = 0)]
        pub stock: i32,
    }
}

#[tokio::test]
async fn model_and_field_options_become_federation_directives() {
    let service = graphloom::Service::new("shop")
        .app(graphloom::App::new("shop").model::<directives::Item>());
    let c = graphloom_test::TestClient::new(&service)
        .await
        .as_user(graphloom_test::superuser(1));
    let sdl = c.api().subgraph_sdl();
    let item = sdl
        .split("type Item")
        .nth(1)
        .unwrap()
        .split('}')
        .next()
        .unwrap();
    for expected in [
        "@shareable",
        "@tag(name: \"public\")",
        "name: String! @shareable",
        "cost: Int! @inaccessible",
        "@tag(name: \"internal\")",
        "@tag(name: \"beta\")",
        "stock: Int! @override(from: \"legacy\")",
    ] {
        assert!(item.contains(expected), "missing {expected} in:\n{item}");
    }
    // Directives change the subgraph schema, not the data.
    let d = c.query(r#"mutation { createItem(input: { name: "x", sku: "s" }) { item { name cost stock } errors { code } } }"#).await;
    assert_eq!(
        d["createItem"]["item"],
        json!({ "name": "x", "cost": 0, "stock": 0 })
    );
}

mod shipping {
    use graphloom::prelude::*;

    /// Owned by the warehouses service; shipments only point at it.
    #[derive(Model)]
    #[model(app = "warehouses", external, resolvable = false)]
    pub struct Warehouse {
        pub id: Id,
    }

    #[derive(Model)]
    #[model(app = "shipping")]
    pub struct Shipment {
        pub id: Id,
        pub warehouse: Reference<Warehouse>,
    }

    pub fn service() -> Service {
        Service::new("shipping")
            .app(App::new("warehouses").model::<Warehouse>())
            .app(App::new("shipping").model::<Shipment>())
    }
}

#[tokio::test]
async fn an_unresolvable_reference_adds_nothing() {
    let c = graphloom_test::TestClient::new(&shipping::service())
        .await
        .as_user(graphloom_test::superuser(1));
    let sdl = c.api().subgraph_sdl();
    let warehouse = sdl.split("type Warehouse ").nth(1).unwrap_or_default();
    let warehouse = &warehouse[..warehouse.find('}').unwrap_or(0)];
    assert!(
        warehouse.starts_with(r#"@key(fields: "id", resolvable: false) {"#),
        "{sdl}"
    );
    assert!(!warehouse.contains("shipments"), "{warehouse}");
    c.query(r#"mutation { createShipment(input: { warehouseId: "3" }) { errors { code } } }"#)
        .await;
    let d = assert_num_queries!(1, c.query("{ shipments { nodes { warehouse { id } } } }"));
    assert_eq!(
        d["shipments"]["nodes"],
        json!([{ "warehouse": { "id": "3" } }])
    );
    let errors = c
        .errors_vars(
            r#"query($r: [_Any!]!) { _entities(representations: $r) { __typename } }"#,
            json!({ "r": [{ "__typename": "Warehouse", "id": "3" }] }),
        )
        .await;
    assert_eq!(codes(&errors), ["BAD_USER_INPUT"]);
    // Nothing may be added to it.
    use graphloom::prelude::{App, ComputedField};
    let computed =
        shipping::service().app(App::new("extra").computed(ComputedField::new::<
            shipping::Warehouse,
            i32,
            _,
            _,
        >("load", &[], |_, _| async {
            Ok(1)
        })));
    let db = graphloom::db::Database::connect("sqlite::memory:")
        .await
        .unwrap();
    let err = computed
        .api(db, Default::default())
        .unwrap_err()
        .to_string();
    assert!(err.contains("graphloom.E013"), "{err}");
}

mod ratings {
    use graphloom::prelude::*;

    /// An interface entity of the media service (books, films…): ratings
    /// apply to every kind of media at once.
    #[derive(Model)]
    #[model(app = "media", external, interface_object)]
    pub struct Media {
        pub id: Id,
    }

    #[derive(Model)]
    #[model(app = "ratings")]
    pub struct Rating {
        pub id: Id,
        pub media: Reference<Media>,
        pub stars: i32,
    }

    pub fn service() -> Service {
        Service::new("ratings")
            .app(App::new("media").model::<Media>())
            .app(App::new("ratings").model::<Rating>())
    }
}

#[tokio::test]
async fn an_interface_object_adds_fields_to_every_implementation() {
    let c = graphloom_test::TestClient::new(&ratings::service())
        .await
        .as_user(graphloom_test::superuser(1));
    let sdl = c.api().subgraph_sdl();
    assert!(
        sdl.contains(r#"type Media @key(fields: "id") @interfaceObject {"#),
        "{sdl}"
    );
    // The SDL that scripts/federation-e2e.sh composes with the media
    // service's (examples/federation/gateway/fixtures/media.graphql).
    insta::assert_snapshot!("ratings_subgraph", sdl);
    for (media, stars) in [("1", 4), ("1", 2), ("2", 5)] {
        c.query(&format!(
            r#"mutation {{ createRating(input: {{ mediaId: "{media}", stars: {stars} }}) {{ errors {{ code }} }} }}"#
        ))
        .await;
    }
    // The gateway asks with the interface's name, whatever the implementation.
    let d = assert_num_queries!(
        1,
        c.query_vars(
            r#"query($r: [_Any!]!) { _entities(representations: $r) { ... on Media { id ratings { nodes { stars } } } } }"#,
            json!({ "r": [{ "__typename": "Media", "id": "2" }, { "__typename": "Media", "id": "1" }] })
        )
    );
    assert_eq!(
        d["_entities"],
        json!([
            { "id": "2", "ratings": { "nodes": [{ "stars": 5 }] } },
            { "id": "1", "ratings": { "nodes": [{ "stars": 4 }, { "stars": 2 }] } },
        ])
    );
}

mod plain {
    use graphloom::prelude::*;

    /// An entity.
    #[derive(Model, Debug)]
    #[model(app = "shop")]
    pub struct Product {
        pub id: Id,
        #[field(max_length = 50)]
        pub name: String,
        pub size: ForeignKey<Dimension>,
    }

    /// A value the product owns: no key, not an entity.
    #[derive(Model, Debug)]
    #[model(app = "shop", entity = false)]
    pub struct Dimension {
        pub id: Id,
        #[field(max_length = 10)]
        pub unit: String,
    }
}

/// `#[model(entity = false)]`: a plain object type (no `@key`, not in
/// `_Entity`), reached through this service's fields only.
#[tokio::test]
async fn a_model_can_be_a_plain_type() {
    use graphloom::{App, Service};
    let service = Service::new("shop").app(
        App::new("shop")
            .model::<plain::Dimension>()
            .model::<plain::Product>(),
    );
    let c = graphloom_test::TestClient::new(&service).await;
    let sdl = c.api().subgraph_sdl();
    assert!(sdl.contains("type Dimension {"), "{sdl}");
    assert!(sdl.contains(r#"type Product @key(fields: "id")"#), "{sdl}");
    let full = c.api().sdl();
    assert!(full.contains("union _Entity = Product\n"), "{full}");
    let errors = c
        .errors_vars(
            r#"query($r: [_Any!]!) { _entities(representations: $r) { __typename } }"#,
            json!({ "r": [{ "__typename": "Dimension", "id": "1" }] }),
        )
        .await;
    assert_eq!(codes(&errors), ["BAD_USER_INPUT"], "{errors:?}");
}

/// The blog with a computed `Post.wordCount` carrying `directives`, and
/// the line that declares it in the subgraph SDL and in the plain SDL.
async fn word_count_with(
    directives: impl FnOnce(graphloom::prelude::ComputedField) -> graphloom::prelude::ComputedField,
) -> (String, String) {
    use graphloom::prelude::{App, ComputedField, Row};
    let field = ComputedField::new::<blog::Post, i32, _, _>(
        "wordCount",
        &["body"],
        |_ctx, row: Row| async move {
            Ok(i32::try_from(row.str("body").split_whitespace().count()).unwrap_or(0))
        },
    );
    let service = graphloom::Service::new("blog")
        .app(graphloom::auth::app())
        .app(blog::app())
        .app(App::new("extra").computed(directives(field)));
    let c = graphloom_test::TestClient::new(&service).await;
    let line = |sdl: String| {
        sdl.lines()
            .map(str::trim)
            .find(|l| l.starts_with("wordCount:"))
            .unwrap_or_else(|| panic!("{sdl}"))
            .to_owned()
    };
    (line(c.api().subgraph_sdl()), line(c.api().sdl()))
}

/// Computed fields take the field directives too, printed in the order of
/// the calls (`@deprecated`, GraphQL's own, first).
#[tokio::test]
async fn computed_fields_take_directives() {
    let (line, plain) = word_count_with(|f| {
        f.tag("public")
            .shareable()
            .override_from("legacy")
            .tag("internal")
            .deprecated("Use readingMinutes.")
    })
    .await;
    assert_eq!(
        line,
        r#"wordCount: Int! @deprecated(reason: "Use readingMinutes.") @tag(name: "public") @shareable @override(from: "legacy") @tag(name: "internal")"#
    );
    assert_eq!(
        plain,
        r#"wordCount: Int! @deprecated(reason: "Use readingMinutes.")"#
    );
}

/// A model's and its fields' directives print in the attributes' order;
/// the primary key's `@key` first unless `key = "id"` places it.
#[tokio::test]
async fn directives_print_in_declared_order() {
    use graphloom::prelude::*;
    #[derive(Model)]
    #[model(app = "shop", tag = "public", key = "code", shareable, key = "id")]
    pub struct Gadget {
        pub id: Id,
        #[field(unique, max_length = 8, tag = "b", shareable, tag = "a")]
        pub code: String,
        #[field(inaccessible, override_from = "old", tag = "x")]
        pub name: Option<String>,
    }
    #[derive(Model)]
    #[model(app = "shop", tag = "public", key = "code")]
    pub struct Widget {
        pub id: Id,
        #[field(unique, max_length = 8)]
        pub code: String,
    }
    /// An input object's directives follow the same order.
    #[derive(serde::Deserialize, InputObject)]
    #[object(tag = "in")]
    pub struct Probe {
        #[object(tag = "p", inaccessible)]
        pub depth: Option<i32>,
    }
    #[derive(serde::Deserialize)]
    struct ProbeArgs {
        probe: Probe,
    }
    let probe = CustomField::new("probe")
        .arg::<Probe>("probe")
        .resolve(|_ctx, a: ProbeArgs| async move { Ok(a.probe.depth.unwrap_or(0)) });
    let service = Service::new("shop").app(
        App::new("shop")
            .model::<Gadget>()
            .model::<Widget>()
            .query(probe),
    );
    let c = graphloom_test::TestClient::new(&service).await;
    let line = |sdl: &str, start: &str| -> String {
        sdl.lines()
            .map(str::trim)
            .find(|l| l.starts_with(start))
            .unwrap_or_else(|| panic!("no {start} in {sdl}"))
            .to_owned()
    };
    let sdl = c.api().subgraph_sdl();
    assert_eq!(
        line(&sdl, "type Gadget "),
        r#"type Gadget @tag(name: "public") @key(fields: "code") @shareable @key(fields: "id") {"#
    );
    assert_eq!(
        line(&sdl, "type Widget "),
        r#"type Widget @key(fields: "id") @tag(name: "public") @key(fields: "code") {"#
    );
    let gadget = sdl.split("type Gadget ").nth(1).unwrap_or_default();
    assert_eq!(
        line(gadget, "code:"),
        r#"code: String! @tag(name: "b") @shareable @tag(name: "a")"#
    );
    assert_eq!(
        line(gadget, "name:"),
        r#"name: String @inaccessible @override(from: "old") @tag(name: "x")"#
    );
    assert_eq!(
        line(&sdl, "input Probe "),
        r#"input Probe @tag(name: "in") {"#
    );
    let input = sdl.split("input Probe ").nth(1).unwrap_or_default();
    assert_eq!(
        line(input, "depth:"),
        r#"depth: Int @tag(name: "p") @inaccessible"#
    );
    // The plain SDL has none of them.
    let plain = c.api().sdl();
    assert_eq!(line(&plain, "input Probe "), "input Probe {");
    assert_eq!(line(&plain, "type Gadget "), "type Gadget {");
    let gadget = plain.split("type Gadget ").nth(1).unwrap_or_default();
    assert_eq!(line(gadget, "code:"), "code: String!");
    assert_eq!(line(gadget, "name:"), "name: String");
    // A key named twice is still refused.
    #[derive(Model)]
    #[allow(clippy::duplicated_attributes)] // the mistake under test
    #[model(app = "shop", key = "id", key = "id")]
    pub struct Twice {
        pub id: Id,
    }
    let twice = Service::new("shop").app(App::new("shop").model::<Twice>());
    let err = twice.registry().unwrap_err().to_string();
    assert!(
        err.contains("graphloom.E013") && err.contains("`id` is already a key"),
        "{err}"
    );
}

/// Progressive override: `@override(from:, label:)`, for the gateway only.
#[tokio::test]
async fn a_labelled_override_moves_a_field_gradually() {
    let (subgraph, plain) =
        word_count_with(|f| f.override_from_label("legacy", "percent(20)")).await;
    assert_eq!(
        subgraph,
        r#"wordCount: Int! @override(from: "legacy", label: "percent(20)")"#
    );
    assert_eq!(plain, "wordCount: Int!");
}

/// A gateway's `apollo-federation-include-trace: ftv1` gets Apollo's
/// inline trace in `extensions.ftv1`: every resolved field with its times
/// and types, list items by index, errors at their paths; the data is the
/// same as untraced. Nobody else gets one where federation is private.
#[tokio::test]
async fn a_gateway_asking_for_ftv1_gets_an_inline_trace() {
    use graphloom::graphql::{
        Config, RequestContext,
        async_graphql::{PathSegment, Request, Variables},
        trace::{NodeId, Trace},
    };
    let c = seeded(2, 3, 0, 0).await;
    let query = r#"query($r: [_Any!]!) { posts(first: 2, orderBy: [{ id: ASC }]) { nodes { t: title author { username } } }
        _entities(representations: $r) { ... on Post { title } } }"#;
    let vars =
        json!({ "r": [{ "__typename": "Post", "id": "1" }, { "__typename": "Nope", "id": "1" }] });
    let run = |api: graphloom::graphql::Api, headers: &[(&str, &str)], gateway: bool| {
        let request = Request::new(query).variables(Variables::from_json(vars.clone()));
        let context = RequestContext {
            headers: headers
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            principal: Some(crate::common::admin()),
            gateway,
            ..Default::default()
        };
        async move {
            let res = api.execute_as(request, context).await;
            serde_json::from_slice::<Json>(&res.to_json().unwrap()).unwrap()
        }
    };
    let asked = [("apollo-federation-include-trace", "ftv1")];
    let plain = run(c.api().clone(), &[], false).await;
    assert!(plain["extensions"].get("ftv1").is_none(), "{plain}");
    let traced = run(c.api().clone(), &asked, false).await;
    assert_eq!(traced["data"], plain["data"]);
    let trace = Trace::from_base64(traced["extensions"]["ftv1"].as_str().unwrap()).unwrap();
    assert!(trace.duration_ns > 0);
    let (start, end) = (trace.start_time.unwrap(), trace.end_time.unwrap());
    assert!((end.seconds, end.nanos) >= (start.seconds, start.nanos));
    let root = trace.root.unwrap();
    let f = |n: &str| PathSegment::Field(n.to_owned());
    let title = root
        .at(&[f("posts"), f("nodes"), PathSegment::Index(1), f("t")])
        .expect("the aliased title of the second post");
    assert_eq!(
        (
            title.original_field_name.as_str(),
            title.r#type.as_str(),
            title.parent_type.as_str()
        ),
        ("title", "String!", "Post")
    );
    assert!(title.start_time > 0 && title.end_time >= title.start_time);
    let posts = root.at(&[f("posts")]).unwrap();
    assert_eq!(posts.r#type, "PostConnection!");
    assert!(
        posts.end_time >= title.end_time,
        "a parent ends after its fields"
    );
    let item = root
        .at(&[f("posts"), f("nodes"), PathSegment::Index(0)])
        .unwrap();
    assert_eq!(item.id, Some(NodeId::Index(0)));
    // The unknown type's error is at its item.
    let bad = root
        .at(&[f("_entities"), PathSegment::Index(1)])
        .unwrap_or_else(|| panic!("no node for the failed item: {traced}"));
    assert_eq!(bad.error.len(), 1, "{bad:?}");
    assert!(
        bad.error[0].json.contains("BAD_USER_INPUT"),
        "{:?}",
        bad.error
    );

    // Federation private: only the gateway gets a trace.
    let private = c.with_api(
        blog::service()
            .api(
                c.db().clone(),
                Config {
                    federation_public: false,
                    ..c.api().runtime().config.clone()
                },
            )
            .unwrap(),
    );
    let client = run(private.api().clone(), &asked, false).await;
    assert!(client["extensions"].get("ftv1").is_none(), "{client}");
    let gateway = run(private.api().clone(), &asked, true).await;
    assert!(gateway["extensions"]["ftv1"].is_string(), "{gateway}");
}

/// Demand control for gateways that price operations: `@listSize` on every
/// connection from the page sizes, `@cost(weight:)` where the service
/// weighs a field; only in the subgraph SDL, and off on request.
#[tokio::test]
async fn lists_carry_their_size_and_weighed_fields_their_cost() {
    use graphloom::graphql::Config;
    let c = seeded(1, 1, 0, 0).await;
    let mut config = Config {
        default_page_size: 20,
        ..c.api().runtime().config.clone()
    };
    config.limits.weights.insert("Query.searchPosts".into(), 5);
    config
        .limits
        .weights
        .insert("Post.readingMinutes".into(), 2);
    let api = blog::service().api(c.db().clone(), config.clone()).unwrap();
    let sdl = api.subgraph_sdl();
    let line = |start: &str| {
        sdl.lines()
            .map(str::trim)
            .find(|l| l.starts_with(start))
            .unwrap_or_default()
            .to_owned()
    };
    let size = r#"@listSize(assumedSize: 20, slicingArguments: ["first", "last"], sizedFields: ["edges", "nodes"], requireOneSlicingArgument: false)"#;
    assert!(line("posts(").ends_with(size), "{}", line("posts("));
    assert!(line("comments(").contains(size), "{}", line("comments("));
    assert!(
        line("searchPosts(").ends_with("@cost(weight: 5)"),
        "{}",
        line("searchPosts(")
    );
    assert!(
        line("readingMinutes:").ends_with("@cost(weight: 2)"),
        "{}",
        line("readingMinutes:")
    );
    let plain = api.sdl();
    assert!(
        !plain.contains("@listSize") && !plain.contains("@cost"),
        "{plain}"
    );
    let off = blog::service()
        .api(
            c.db().clone(),
            Config {
                cost_directives: false,
                ..config
            },
        )
        .unwrap()
        .subgraph_sdl();
    assert!(!off.contains("@listSize(") && !off.contains("@cost("));
}

/// An older federation version (for gateways that stop earlier) links only
/// the directives it defines, leaves the demand-control ones out, and is
/// refused, naming the directive and the version it needs, where the
/// schema needs a newer one. The service's choice holds unless the
/// configuration says otherwise (`--federation-version`).
#[tokio::test]
async fn an_older_federation_version_links_only_what_it_defines() {
    use graphloom::graphql::{Config, FederationVersion};
    let db = graphloom::db::Database::connect("sqlite::memory:")
        .await
        .unwrap();
    let blog = || {
        graphloom::Service::new("blog")
            .app(graphloom::auth::app())
            .app(blog::app())
    };
    let sdl = blog()
        .federation_version(FederationVersion::V2_5)
        .api(db.clone(), Config::default())
        .unwrap()
        .subgraph_sdl();
    assert!(
        sdl.contains(r#"url: "https://specs.apollo.dev/federation/v2.5""#),
        "{sdl}"
    );
    assert!(
        sdl.contains(r#""@interfaceObject", "@authenticated", "@requiresScopes"]"#),
        "{sdl}"
    );
    assert!(
        !sdl.contains("@listSize") && !sdl.contains("@cost"),
        "{sdl}"
    );
    // The configuration's version is taken over the service's.
    let config = Config {
        federation_version: Some(FederationVersion::V2_9),
        ..Config::default()
    };
    let sdl = blog()
        .federation_version(FederationVersion::V2_5)
        .api(db.clone(), config)
        .unwrap()
        .subgraph_sdl();
    assert!(sdl.contains("federation/v2.9") && sdl.contains("@listSize("));

    let refused = |service: graphloom::Service, config: Config| {
        service
            .api(db.clone(), config)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let old = |v| Config {
        federation_version: Some(v),
        ..Config::default()
    };
    let err = refused(ratings::service(), old(FederationVersion::V2_2));
    assert_eq!(
        err,
        "federation v2.2 does not define @interfaceObject (Media is an interface object); link v2.3 or later (GRAPHLOOM_FEDERATION_VERSION)"
    );
    let err = refused(
        blog(),
        Config {
            auth_directives: true,
            ..old(FederationVersion::V2_4)
        },
    );
    assert!(
        err.contains("federation v2.4 does not define @authenticated (auth directives are on"),
        "{err}"
    );
    let labelled = graphloom::Service::new("blog")
        .app(graphloom::auth::app())
        .app(blog::app())
        .app(
            graphloom::prelude::App::new("extra").computed(
                graphloom::prelude::ComputedField::new::<blog::Post, i32, _, _>(
                    "wordCount",
                    &["body"],
                    |_ctx, _row| async move { Ok(1) },
                )
                .override_from_label("legacy", "percent(20)"),
            ),
        );
    let err = refused(labelled, old(FederationVersion::V2_6));
    assert_eq!(
        err,
        "federation v2.6 does not define @override(label:) (Post.wordCount has an override label); link v2.7 or later (GRAPHLOOM_FEDERATION_VERSION)"
    );
}
