//! The three example services, each alone: subgraph SDL snapshots, the
//! entities a gateway will ask for, and the rules that apply to them.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod compat;
mod context;
mod policy;
mod stored;

use federation_example::{accounts, compat as compat_service, products, reviews};
use graphloom::MakeArgs;
use graphloom_test::{Principal, TestClient, assert_num_queries, codes, user};
use serde_json::json;

fn subgraph(service: graphloom::Service) -> String {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let db = graphloom::db::Database::connect("sqlite::memory:")
            .await
            .unwrap();
        service.api(db, Default::default()).unwrap().subgraph_sdl()
    })
}

#[test]
fn subgraph_sdl_snapshots() {
    insta::assert_snapshot!("accounts", subgraph(accounts()));
    insta::assert_snapshot!("products", subgraph(products::service()));
    let reviews = subgraph(reviews::service());
    assert!(
        reviews.contains("type User @key(fields: \"id\")")
            && reviews.contains("type Product @key(fields: \"id\")")
    );
    insta::assert_snapshot!("reviews", reviews);
}

#[test]
fn migrations_match_the_models() {
    for service in [
        accounts(),
        products::service(),
        reviews::service(),
        compat_service::service(),
    ] {
        assert_eq!(
            service
                .makemigrations(&MakeArgs {
                    check: true,
                    ..Default::default()
                })
                .unwrap(),
            0,
            "{}",
            service.name
        );
    }
}

fn staff() -> Principal {
    Principal {
        staff: true,
        ..user(1)
    }
}

#[tokio::test]
async fn products_are_public_and_edited_by_staff() {
    let c = TestClient::new(&products::service()).await;
    let create = r#"mutation { createCategory(input: { name: "Books" }) { category { id } errors { code } } }"#;
    assert_eq!(codes(&c.errors(create).await), ["UNAUTHENTICATED"]);
    let s = c.as_user(staff());
    s.query(create).await;
    for (upc, name, stock) in [("1", "Dune", 3), ("2", "Emma", 0)] {
        let d = s
            .query(&format!(r#"mutation {{ createProduct(input: {{ upc: "{upc}", name: "{name}", price: "9.90", categoryId: "1" }}) {{ product {{ id }} errors {{ code }} }} }}"#))
            .await;
        let id = d["createProduct"]["product"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        s.query(&format!(r#"mutation {{ createInventory(input: {{ productId: "{id}", inStock: {stock} }}) {{ errors {{ code }} }} }}"#)).await;
    }
    let d = c.query(r#"{ products(where: { inventory: { inStock: { gt: 0 } } }) { nodes { name price category { name } inventory { inStock } } } }"#).await;
    assert_eq!(
        d["products"]["nodes"],
        json!([{ "name": "Dune", "price": "9.90", "category": { "name": "Books" }, "inventory": { "inStock": 3 } }])
    );
    // What the gateway asks this service for, batched.
    let d = assert_num_queries!(
        1,
        c.query_vars(r#"query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { name upc } } }"#, json!({ "r": [{ "__typename": "Product", "id": "2" }, { "__typename": "Product", "id": "1" }] }))
    );
    assert_eq!(
        d["_entities"],
        json!([{ "name": "Emma", "upc": "2" }, { "name": "Dune", "upc": "1" }])
    );
    // By the second key too: one statement per type and key, in order; a
    // missing one is null.
    let reps = json!([
        { "__typename": "Product", "upc": "1" },
        { "__typename": "Product", "id": "2" },
        { "__typename": "Product", "upc": "404" },
        { "__typename": "Product", "upc": "2" },
    ]);
    let res = assert_num_queries!(
        2,
        c.execute(
            r#"query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id name } } }"#,
            json!({ "r": reps }),
        )
    );
    assert_eq!(
        res["data"]["_entities"],
        json!([{ "id": "1", "name": "Dune" }, { "id": "2", "name": "Emma" }, null, { "id": "2", "name": "Emma" }]),
        "{res}"
    );
    assert_eq!(res["errors"][0]["path"], json!(["_entities", 2]));
    assert!(
        res["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("upc 404")
    );
    let errors = c
        .errors_vars(
            r#"query($r: [_Any!]!) { _entities(representations: $r) { __typename } }"#,
            json!({ "r": [{ "__typename": "Product", "name": "Dune" }] }),
        )
        .await;
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("has no `id` or `upc`"),
        "{errors:?}"
    );
    // A key through a relation: Inventory @key(fields: "product { id }"):
    // one statement for the inventories with their products joined in.
    let d = assert_num_queries!(
        1,
        c.query_vars(
            r#"query($r: [_Any!]!) { _entities(representations: $r) { ... on Inventory { inStock product { name } } } }"#,
            json!({ "r": [{ "__typename": "Inventory", "product": { "id": "2" } }, { "__typename": "Inventory", "product": { "id": "1" } }] }),
        )
    );
    assert_eq!(
        d["_entities"],
        json!([{ "inStock": 0, "product": { "name": "Emma" } }, { "inStock": 3, "product": { "name": "Dune" } }])
    );
    for bad in [json!({ "product": "2" }), json!({ "product": {} })] {
        let mut rep = bad.clone();
        rep["__typename"] = json!("Inventory");
        let errors = c
            .errors_vars(
                r#"query($r: [_Any!]!) { _entities(representations: $r) { __typename } }"#,
                json!({ "r": [rep] }),
            )
            .await;
        assert_eq!(codes(&errors), ["BAD_USER_INPUT"], "{bad}");
        assert!(
            errors[0]["message"]
                .as_str()
                .unwrap()
                .contains("`product { id }`"),
            "{errors:?}"
        );
    }
}

/// The reviews service stores one field of its own on the products
/// service's `Product`: staff open and close its reviews; every product
/// takes them until then.
#[tokio::test]
async fn reviews_store_whether_a_product_takes_reviews() {
    let c = TestClient::new(&reviews::service()).await;
    let set =
        |open: bool| format!(r#"mutation {{ setReviewsOpen(productId: "1", open: {open}) }}"#);
    assert_eq!(
        codes(&c.as_user(user(7)).errors(&set(false)).await),
        ["FORBIDDEN"]
    );
    let s = c.as_user(staff());
    // Stored the first time, changed after.
    for open in [false, true, false] {
        assert_eq!(s.query(&set(open)).await["setReviewsOpen"], open);
    }
    let d = assert_num_queries!(
        1,
        c.entities(
            json!([{ "__typename": "Product", "id": "1" }, { "__typename": "Product", "id": "2" }]),
            "... on Product { reviewsOpen }",
        )
    );
    assert_eq!(
        d,
        json!([
            { "__typename": "Product", "reviewsOpen": false },
            { "__typename": "Product", "reviewsOpen": true },
        ])
    );
}

#[tokio::test]
async fn reviews_refer_to_users_and_products_of_other_services() {
    let c = TestClient::new(&reviews::service()).await;
    let write = |author: &str, product: &str, rating: i32| {
        format!(
            r#"mutation {{ createReview(input: {{ authorId: "{author}", productId: "{product}", productName: "Book {product}", body: "…", rating: {rating} }}) {{ review {{ id author {{ id }} }} errors {{ field code }} }} }}"#
        )
    };
    assert_eq!(
        codes(&c.errors(&write("42", "1", 5)).await),
        ["UNAUTHENTICATED"]
    );
    assert_eq!(
        codes(&c.as_user(user(7)).errors(&write("42", "1", 5)).await),
        ["FORBIDDEN"],
        "only as yourself"
    );
    let d = c.as_user(user(42)).query(&write("42", "1", 9)).await;
    assert_eq!(
        d["createReview"]["errors"],
        json!([{ "field": ["rating"], "code": "VALIDATION" }])
    );
    for (author, product) in [("42", "1"), ("42", "2"), ("7", "1")] {
        let d = c
            .as_user(user(author))
            .query(&write(author, product, 4))
            .await;
        assert_eq!(d["createReview"]["errors"], json!([]));
    }
    // User.reviews and Product.reviews, as the gateway resolves them.
    let reps =
        json!([{ "__typename": "Product", "id": "1" }, { "__typename": "User", "id": "42" }]);
    let d = c
        .query_vars(
            r#"query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id reviews { nodes { author { id } } } } ... on User { id reviews { nodes { product { id } } } } } }"#,
            json!({ "r": reps }),
        )
        .await;
    assert_eq!(
        d["_entities"][0],
        json!({ "id": "1", "reviews": { "nodes": [{ "author": { "id": "42" } }, { "author": { "id": "7" } }] } })
    );
    assert_eq!(
        d["_entities"][1],
        json!({ "id": "42", "reviews": { "nodes": [{ "product": { "id": "1" } }, { "product": { "id": "2" } }] } })
    );
    // One review per user and product.
    let d = c.as_user(user(42)).query(&write("42", "1", 3)).await;
    assert_eq!(
        d["createReview"]["errors"],
        json!([{ "field": ["authorId"], "code": "UNIQUE" }]),
        "{d}"
    );
    // Review @key(fields: "author { id } product { id }"): a composite key
    // through two references, one statement for all representations.
    let reps = json!([
        { "__typename": "Review", "author": { "id": "7" }, "product": { "id": "1" } },
        { "__typename": "Review", "author": { "id": "42" }, "product": { "id": "2" } },
        { "__typename": "Review", "author": { "id": "7" }, "product": { "id": "2" } },
        { "__typename": "Review", "author": { "id": "42" }, "product": { "id": "1" } },
    ]);
    let res = assert_num_queries!(
        1,
        c.execute(
            r#"query($r: [_Any!]!) { _entities(representations: $r) { ... on Review { productName author { id } } } }"#,
            json!({ "r": reps }),
        )
    );
    assert_eq!(
        res["data"]["_entities"],
        json!([
            { "productName": "Book 1", "author": { "id": "7" } },
            { "productName": "Book 2", "author": { "id": "42" } },
            null,
            { "productName": "Book 1", "author": { "id": "42" } },
        ]),
        "{res}"
    );
    assert!(
        res["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("no Review with authorId 7, productId 2"),
        "{res}"
    );
    // Review.product @provides(fields: "name"): the stub carries the copy,
    // read in the same statement as the reviews.
    let d = assert_num_queries!(1, c.query("{ reviews { nodes { product { id name } } } }"));
    assert_eq!(
        d["reviews"]["nodes"],
        json!([
            { "product": { "id": "1", "name": "Book 1" } },
            { "product": { "id": "2", "name": "Book 2" } },
            { "product": { "id": "1", "name": "Book 1" } },
        ])
    );
    let sdl = c.api().subgraph_sdl();
    assert!(
        sdl.contains(r#"product: Product! @provides(fields: "name")"#),
        "{sdl}"
    );
}

#[tokio::test]
async fn requires_reads_the_fields_the_gateway_passes() {
    let c = TestClient::new(&reviews::service()).await;
    // What the gateway sends once accounts returned the usernames: no statement.
    let reps = json!([
        { "__typename": "User", "id": "42", "username": "bob" },
        { "__typename": "User", "id": "7", "username": "ann" },
    ]);
    let d = assert_num_queries!(
        0,
        c.query_vars(
            r#"query($r: [_Any!]!) { _entities(representations: $r) { ... on User { id reviewerPage } } }"#,
            json!({ "r": reps }),
        )
    );
    assert_eq!(
        d["_entities"],
        json!([{ "id": "42", "reviewerPage": "/reviewers/bob" }, { "id": "7", "reviewerPage": "/reviewers/ann" }])
    );
    // A required field of the wrong type is refused by index.
    let errors = c
        .errors_vars(
            r#"query($r: [_Any!]!) { _entities(representations: $r) { __typename } }"#,
            json!({ "r": [{ "__typename": "User", "id": "42", "username": 5 }] }),
        )
        .await;
    assert_eq!(codes(&errors), ["BAD_USER_INPUT"]);
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("representations[0]")
    );
}

#[tokio::test]
async fn composed_directives_are_linked_defined_and_checked() {
    let c = TestClient::new(&products::service()).await;
    let d = c.query("{ _service { sdl } }").await;
    let sdl = d["_service"]["sdl"].as_str().unwrap();
    // `_service { sdl }` and `schema --federation` print the same text.
    assert_eq!(sdl.trim_end(), c.api().subgraph_sdl().trim_end());
    assert!(sdl.contains(r#"extend schema @link(url: "https://specs.example.com/owner/v1.0", import: ["@owner"]) @composeDirective(name: "@owner")"#));
    assert!(sdl.contains("directive @owner(team: String!) on OBJECT"));
    // The plain SDL defines it too, so clients can parse it.
    let plain = c.api().sdl();
    assert!(
        plain.contains(r#"type Product @owner(team: "catalogue") {"#),
        "{plain}"
    );
    assert!(plain.contains("directive @owner(team: String!) on OBJECT"));
    // A usage of a directive the service does not compose is refused at start-up.
    use graphloom::prelude::{App, Service};
    let service = Service::new("extra").app(App::new("extra").model::<extra::Cached>());
    let db = graphloom::db::Database::connect("sqlite::memory:")
        .await
        .unwrap();
    let err = service.api(db, Default::default()).unwrap_err().to_string();
    assert!(err.contains("graphloom.E014"), "{err}");
    assert!(err.contains("@cache is not a composed directive"), "{err}");
}

mod extra {
    use graphloom::prelude::*;

    #[derive(Model)]
    #[model(app = "extra", directive = "@cache(seconds: 5)")]
    pub struct Cached {
        pub id: Id,
        pub name: String,
    }
}

/// The composers the gateway tests use (`npm ci` in `gateway/`, as
/// scripts/test.sh does before `cargo test`).
fn composers() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway")
}

#[tokio::test]
async fn the_three_subgraphs_compose_and_reviews_alone_does_not() {
    let (a, p, r) = (
        TestClient::new(&accounts()).await,
        TestClient::new(&products::service()).await,
        TestClient::new(&reviews::service()).await,
    );
    let reports = graphloom_test::assert_composes_in(
        &composers(),
        &[
            ("accounts", a.api()),
            ("products", p.api()),
            ("reviews", r.api()),
        ],
    );
    // Both composers, without a hint: the same bar as the gateway e2e.
    assert_eq!(reports.len(), 2, "{reports:?}");
    for report in &reports {
        assert!(report.hints.is_empty(), "{report:?}");
        let supergraph = report.supergraph.as_deref().unwrap_or_default();
        assert!(supergraph.contains("REVIEWS"), "{}", report.composer);
    }
    // Reviews extends products' Product with fields products does not
    // define: alone it does not compose, and the panic says why.
    let alone = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        graphloom_test::assert_composes_in(&composers(), &[("reviews", r.api())])
    }));
    let message = alone
        .expect_err("reviews alone composed")
        .downcast::<String>()
        .map(|m| *m)
        .unwrap_or_default();
    assert!(
        message.contains("the subgraphs do not compose"),
        "{message}"
    );
    assert!(message.contains("@apollo/composition"), "{message}");
    assert!(message.contains("Product.name"), "{message}");
}

#[tokio::test]
async fn every_key_of_products_and_reviews_resolves() {
    use graphloom::prelude::Decimal;
    use graphloom_test::Factory;
    use products::{Category, Inventory, Product};
    let c = TestClient::new(&products::service()).await;
    let system = c.system();
    let shelf = Factory::<Category>::new(|n| vec![Category::NAME.set(format!("Shelf {n}"))])
        .create(&system, [])
        .await
        .unwrap();
    let shelf = shelf.id;
    let items = Factory::<Product>::new(move |n| {
        vec![
            Product::UPC.set(format!("UPC-{n:04}")),
            Product::NAME.set(format!("Item {n}")),
            Product::PRICE.set(Decimal::new(999, 2)),
            Product::CATEGORY.set(shelf),
        ]
    });
    let made = items.create_batch(&system, 4).await.unwrap();
    for item in &made[..2] {
        Inventory::objects(&system)
            .create([Inventory::PRODUCT.set(item.id)])
            .await
            .unwrap();
    }
    for (code, item) in [("dune-hardcover", 0), ("dune-paperback", 0)] {
        products::Edition::objects(&system)
            .create([
                products::Edition::CODE.set(code),
                products::Edition::PRODUCT.set(made[item].id),
                products::Edition::FORMAT.set("book"),
            ])
            .await
            .unwrap();
    }
    // Products by `upc` as well as by id, inventory by its product, editions
    // by their text code: up to three rows of each are tried, by each key
    // (1 + 3×2 + 2×2 + 2).
    assert_eq!(c.assert_keys_resolve().await, 13);
    let got = c
        .entities(
            json!([
                { "__typename": "Product", "upc": "UPC-0002" },
                { "__typename": "Inventory", "product": { "id": "1" } },
                { "__typename": "Product", "upc": "none" },
            ]),
            "... on Product { name } ... on Inventory { inStock }",
        )
        .await;
    assert_eq!(
        got,
        json!([
            { "__typename": "Product", "name": "Item 2" },
            { "__typename": "Inventory", "inStock": 0 },
            null,
        ])
    );
    // Reviews: keyed by id and by the (author, product) pair, both
    // references to entities of other services.
    let r = TestClient::new(&reviews::service()).await.as_user(user(7));
    r.query(r#"mutation { createReview(input: { authorId: "7", productId: "3", productName: "Item 3", body: "Good.", rating: 5 }) { errors { code } } }"#)
        .await;
    assert_eq!(r.assert_keys_resolve().await, 2);
}

/// REST over a service whose rows refer to other services' entities: the
/// reference is an id; there is nothing here to expand, filter or order by
/// through it, and the document says so.
#[tokio::test]
async fn rest_keeps_other_services_entities_as_ids() {
    let c = TestClient::new(&reviews::service()).await;
    let write = r#"mutation { createReview(input: { authorId: "42", productId: "1", productName: "Book 1", body: "Good.", rating: 4 }) { errors { code } } }"#;
    let d = c.as_user(user(42)).query(write).await;
    assert_eq!(d["createReview"]["errors"], json!([]));
    let r = c.rest("GET", "/api/reviews?authorId=42", &[], None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body[0]["authorId"], "42");
    for path in [
        "/api/reviews?expand=author",
        "/api/reviews?author.username=x",
        "/api/reviews?order=author.username",
    ] {
        let r = c.rest("GET", path, &[], None).await;
        assert_eq!(
            (r.status, r.body["code"].as_str()),
            (400, Some("BAD_USER_INPUT")),
            "{path}: {}",
            r.body
        );
        assert!(
            r.body["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("author"),
            "{}",
            r.body
        );
    }
    let doc = c.rest("GET", "/api/openapi.json", &[], None).await.body;
    let list = &doc["paths"]["/api/reviews"]["get"]["parameters"];
    assert!(
        !list
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "expand"),
        "nothing to expand: {list}"
    );
    assert!(doc["components"]["schemas"].get("User").is_none());
}

/// `_entities` for other services' entities this service extends runs on
/// the fast path (the stubs, what this service stores and computes for
/// them, their relations here), and answers as the resolvers do, with the
/// same statements.
#[tokio::test]
async fn other_services_entities_answer_alike_on_both_paths() {
    use graphloom::graphql::{
        Config, Data,
        async_graphql::{Request, Variables},
    };
    let service = reviews::service();
    let c = TestClient::new(&service).await;
    for (author, product) in [("42", "1"), ("42", "2"), ("7", "1")] {
        let d = c
            .as_user(user(author))
            .query(&format!(
                r#"mutation {{ createReview(input: {{ authorId: "{author}", productId: "{product}", productName: "Book {product}", body: "…", rating: 4 }}) {{ errors {{ code }} }} }}"#
            ))
            .await;
        assert_eq!(d["createReview"]["errors"], json!([]));
    }
    let slow = c.with_api(
        service
            .api(
                c.db().clone(),
                Config {
                    fast_path: false,
                    ..c.api().runtime().config.clone()
                },
            )
            .unwrap(),
    );
    let q = r#"query($r: [_Any!]!) { _entities(representations: $r) {
        __typename
        ... on User { id username reviewerPage reviews { totalCount nodes { body product { id } } } }
        ... on Product { id name reviewsOpen reviews(first: 1) { nodes { rating author { id } } } }
    } }"#;
    let reps = json!({ "r": [
        { "__typename": "User", "id": "42", "username": "ada" },
        { "__typename": "Product", "id": "1", "name": "Book 1" },
        { "__typename": "User", "id": "7", "username": "bob" },
        { "__typename": "Product", "id": "3" },
        { "__typename": "User" },
        { "__typename": "User", "id": "42", "username": "ada again" },
    ] });
    let request = || Request::new(q).variables(Variables::from_json(reps.clone()));
    let (fast, mut fast_sql) = graphloom::db::capture(c.response(request())).await;
    let (slow, mut slow_sql) = graphloom::db::capture(slow.response(request())).await;
    assert!(
        matches!(fast.data, Data::Json(_)),
        "the fast path did not answer"
    );
    assert!(matches!(slow.data, Data::Value(_)));
    let fast: serde_json::Value = serde_json::from_slice(&fast.to_json().unwrap()).unwrap();
    let slow: serde_json::Value = serde_json::from_slice(&slow.to_json().unwrap()).unwrap();
    assert_eq!(fast, slow);
    fast_sql.sort();
    slow_sql.sort();
    assert_eq!(fast_sql, slow_sql);
    let items = &fast["data"]["_entities"];
    assert_eq!(items[0]["reviewerPage"], "/reviewers/ada", "{fast:#}");
    assert_eq!(items[5]["reviewerPage"], "/reviewers/ada again");
    assert_eq!(items[0]["reviews"]["totalCount"], 2);
    assert_eq!(items[1]["reviewsOpen"], true);
    assert_eq!(items[3]["reviews"]["nodes"], json!([]));
    assert_eq!(items[4], serde_json::Value::Null);
    assert_eq!(fast["errors"][0]["path"], json!(["_entities", 4]));
    assert_eq!(fast["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}
