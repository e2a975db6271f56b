//! Composite primary keys (`#[model(primary_key = "shelf product")]`, as
//! Django 5.2's `CompositePrimaryKey`): the table's key, lookups, writes,
//! lists and cursors, relations, `_entities`, REST, the model API,
//! subscriptions and the start-up checks, on each dialect.

use graphloom::prelude::*;
use graphloom_test::{TestClient, assert_num_queries};
use serde_json::{Value as Json, json};

use graphloom::meta::{KindDecl, Model as _, ModelDecl, Registry};

use crate::keys::{Product, Shelf};

/// How many of a product a shelf holds: one row per (shelf, product).
#[derive(Model)]
#[model(app = "stock", primary_key = "shelf product")]
pub struct Stock {
    pub shelf: ForeignKey<Shelf>,
    pub product: ForeignKey<Product>,
    pub count: i32,
}

/// A product's price per currency: a key with a plain value part.
#[derive(Model)]
#[model(app = "stock", primary_key = "product currency")]
pub struct Price {
    pub product: ForeignKey<Product>,
    #[field(max_length = 3)]
    pub currency: String,
    pub amount: i32,
}

/// Refers to a stock: refused, a reference holds one value.
#[derive(Model)]
#[model(app = "stock")]
pub struct Audit {
    pub id: Id,
    pub stock: ForeignKey<Stock>,
}

/// Links stocks many-to-many: refused too.
#[derive(Model)]
#[model(app = "stock")]
pub struct Bundle {
    pub id: Id,
    pub stocks: ManyToMany<Stock>,
}

fn service() -> Service {
    crate::keys::service().app(App::new("stock").model::<Stock>().model::<Price>())
}

async fn client() -> TestClient {
    let c = TestClient::new(&service())
        .await
        .as_user(graphloom_test::superuser(1));
    for (id, sku) in [("fed", "f"), ("studio", "s"), ("router", "r")] {
        let d = c
            .query_vars(
                "mutation($i: CreateProductInput!) { createProduct(input: $i) { errors { code } } }",
                json!({ "i": { "id": id, "sku": sku, "name": id } }),
            )
            .await;
        assert_eq!(d["createProduct"]["errors"], json!([]), "{d}");
    }
    for n in [1, 2] {
        let d = c
            .query(&format!(
                r#"mutation {{ createShelf(input: {{ number: "{n}", label: "S{n}" }}) {{ errors {{ code }} }} }}"#
            ))
            .await;
        assert_eq!(d["createShelf"]["errors"], json!([]), "{d}");
    }
    c
}

async fn stock(c: &TestClient, shelf: i64, product: &str, count: i32) -> Json {
    c.query_vars(
        "mutation($i: CreateStockInput!) { createStock(input: $i) { stock { shelfId productId count } errors { field code } } }",
        json!({ "i": { "shelfId": shelf.to_string(), "productId": product, "count": count } }),
    )
    .await["createStock"]
        .clone()
}

#[tokio::test]
async fn the_schema_takes_each_key_field_as_an_argument() {
    let c = client().await;
    let sdl = c.api().sdl();
    for line in [
        "stock(shelfId: ID!, productId: ID!): Stock",
        "price(productId: ID!, currency: String!): Price",
        "updateStock(shelfId: ID!, productId: ID!, input: UpdateStockInput!): UpdateStockPayload!",
        "deletePrice(productId: ID!, currency: String!): DeletePricePayload!",
        "deletedShelfId: ID",
        "deletedCurrency: String",
        // A key's plain part keeps its own type, and filters as text.
        "currency: String!",
        "currency: StringFilter",
    ] {
        assert!(sdl.contains(line), "no `{line}` in:\n{sdl}");
    }
    // No `id`: the key is its fields, which an update cannot change.
    let update = sdl.split("input UpdateStockInput").nth(1).unwrap();
    let update = &update[..update.find('}').unwrap()];
    assert!(
        !update.contains("shelfId") && update.contains("count"),
        "{update}"
    );
    let deleted = sdl.split("type DeleteStockPayload").nth(1).unwrap();
    let deleted = &deleted[..deleted.find('}').unwrap()];
    assert!(
        !deleted.contains("deletedId") && deleted.contains("deletedProductId: ID"),
        "{deleted}"
    );
    // For other services: the key through both references.
    assert!(
        c.api()
            .subgraph_sdl()
            .contains(r#"type Stock @key(fields: "shelf { number } product { id }")"#),
        "{}",
        c.api().subgraph_sdl()
    );
}

#[tokio::test]
async fn rows_are_created_looked_up_changed_and_deleted_by_their_whole_key() {
    let c = client().await;
    assert_eq!(
        stock(&c, 1, "fed", 5).await,
        json!({ "stock": { "shelfId": "1", "productId": "fed", "count": 5 }, "errors": [] })
    );
    // Either part alone is no key: the same product on another shelf.
    assert_eq!(stock(&c, 2, "fed", 7).await["errors"], json!([]));
    assert_eq!(stock(&c, 1, "studio", 1).await["errors"], json!([]));
    // The same pair again is the key's UNIQUE error; a part that is no
    // row is its reference's error.
    assert_eq!(
        stock(&c, 1, "fed", 9).await["errors"],
        json!([{ "field": ["shelfId"], "code": "UNIQUE" }])
    );
    assert_eq!(
        stock(&c, 1, "nope", 9).await["errors"],
        json!([{ "field": ["productId"], "code": "FOREIGN_KEY" }])
    );
    let d = c
        .query(r#"mutation { createStock(input: { shelfId: "1", count: 1 }) { errors { field code } } }"#)
        .await;
    assert_eq!(
        d["createStock"]["errors"],
        json!([{ "field": ["productId"], "code": "REQUIRED" }])
    );

    let q = r#"{ a: stock(shelfId: "1", productId: "fed") { count shelf { label } product { sku } }
        b: stock(shelfId: "2", productId: "studio") { count } }"#;
    let d = assert_num_queries!(2, c.query(q));
    assert_eq!(
        d,
        json!({ "a": { "count": 5, "shelf": { "label": "S1" }, "product": { "sku": "f" } }, "b": null })
    );
    // A part of the wrong type is the argument's error.
    let errors = c
        .errors(r#"{ stock(shelfId: "x", productId: "fed") { count } }"#)
        .await;
    assert!(
        errors[0]["message"].as_str().unwrap().contains("shelfId"),
        "{errors:?}"
    );

    let d = c
        .query(r#"mutation { updateStock(shelfId: "1", productId: "fed", input: { count: 6 }) { stock { shelfId productId count } errors { code } } }"#)
        .await;
    assert_eq!(
        d["updateStock"],
        json!({ "stock": { "shelfId": "1", "productId": "fed", "count": 6 }, "errors": [] })
    );
    let d = c
        .query(r#"mutation { updateStock(shelfId: "2", productId: "studio", input: { count: 6 }) { errors { field code message } } }"#)
        .await;
    assert_eq!(
        d["updateStock"]["errors"],
        json!([{ "field": ["shelfId"], "code": "NOT_FOUND", "message": "No Stock with shelfId 2, productId studio." }])
    );
    // Only that row changed: the other shelf's stock of the product did not.
    let d = c
        .query(r#"{ stock(shelfId: "2", productId: "fed") { count } }"#)
        .await;
    assert_eq!(d["stock"]["count"], json!(7));

    let d = c
        .query(r#"mutation { deleteStock(shelfId: "1", productId: "fed") { deletedShelfId deletedProductId errors { code } } }"#)
        .await;
    assert_eq!(
        d["deleteStock"],
        json!({ "deletedShelfId": "1", "deletedProductId": "fed", "errors": [] })
    );
    let d = c
        .query(r#"mutation { deleteStock(shelfId: "1", productId: "fed") { deletedShelfId errors { code } } }"#)
        .await;
    assert_eq!(
        d["deleteStock"],
        json!({ "deletedShelfId": null, "errors": [{ "code": "NOT_FOUND" }] })
    );
    let d = c
        .query(r#"{ stocks(orderBy: [{ shelfId: ASC }]) { nodes { shelfId productId } } }"#)
        .await;
    assert_eq!(
        d["stocks"]["nodes"],
        json!([{ "shelfId": "1", "productId": "studio" }, { "shelfId": "2", "productId": "fed" }])
    );

    // A plain part: the currency is a string argument.
    let d = c
        .query(r#"mutation { a: createPrice(input: { productId: "fed", currency: "EUR", amount: 10 }) { errors { code } }
            b: createPrice(input: { productId: "fed", currency: "USD", amount: 12 }) { errors { code } } }"#)
        .await;
    assert_eq!(d["a"]["errors"], json!([]), "{d}");
    assert_eq!(d["b"]["errors"], json!([]), "{d}");
    let d = c
        .query(r#"{ price(productId: "fed", currency: "USD") { amount } product(id: "fed") { prices(orderBy: [{ currency: DESC }]) { nodes { currency amount } } } }"#)
        .await;
    assert_eq!(
        d,
        json!({ "price": { "amount": 12 }, "product": { "prices": { "nodes": [
            { "currency": "USD", "amount": 12 }, { "currency": "EUR", "amount": 10 }
        ] } } })
    );
    let d = c
        .query(r#"mutation { deletePrice(productId: "fed", currency: "EUR") { deletedProductId deletedCurrency errors { code } } }"#)
        .await;
    assert_eq!(
        d["deletePrice"],
        json!({ "deletedProductId": "fed", "deletedCurrency": "EUR", "errors": [] })
    );
}

#[tokio::test]
async fn lists_page_in_key_order_and_nest_under_each_parent() {
    let c = client().await;
    for (shelf, product, count) in [
        (2, "studio", 1),
        (1, "router", 2),
        (2, "fed", 3),
        (1, "fed", 4),
        (1, "studio", 5),
    ] {
        assert_eq!(stock(&c, shelf, product, count).await["errors"], json!([]));
    }
    // No order asked: the key's order, both fields (shelf, then product).
    let d = c
        .query("{ stocks(first: 2) { nodes { shelfId productId } pageInfo { endCursor hasNextPage } } }")
        .await;
    assert_eq!(
        d["stocks"]["nodes"],
        json!([{ "shelfId": "1", "productId": "fed" }, { "shelfId": "1", "productId": "router" }])
    );
    let after = d["stocks"]["pageInfo"]["endCursor"].as_str().unwrap();
    let d = c
        .query_vars(
            "query($a: String) { stocks(first: 2, after: $a) { nodes { shelfId productId } } }",
            json!({ "a": after }),
        )
        .await;
    assert_eq!(
        d["stocks"]["nodes"],
        json!([{ "shelfId": "1", "productId": "studio" }, { "shelfId": "2", "productId": "fed" }])
    );
    // Ties in the order asked for break by the key.
    let d = c
        .query("{ stocks(where: { count: { gt: 1 } }, orderBy: [{ productId: ASC }]) { nodes { shelfId productId } } }")
        .await;
    assert_eq!(
        d["stocks"]["nodes"],
        json!([
            { "shelfId": "1", "productId": "fed" },
            { "shelfId": "2", "productId": "fed" },
            { "shelfId": "1", "productId": "router" },
            { "shelfId": "1", "productId": "studio" },
        ])
    );
    // Each shelf's first two, and each stock's product: one statement for
    // the shelves, one for their pages (the products joined in), one for
    // their counts.
    let q = "{ shelves(orderBy: [{ number: ASC }]) { nodes { number stocks(first: 2, orderBy: [{ count: DESC }]) { totalCount nodes { count product { sku } } } } } }";
    let d = assert_num_queries!(3, c.query(q));
    assert_eq!(
        d["shelves"]["nodes"],
        json!([
            { "number": "1", "stocks": { "totalCount": 3, "nodes": [
                { "count": 5, "product": { "sku": "s" } }, { "count": 4, "product": { "sku": "f" } }
            ] } },
            { "number": "2", "stocks": { "totalCount": 2, "nodes": [
                { "count": 3, "product": { "sku": "f" } }, { "count": 1, "product": { "sku": "s" } }
            ] } },
        ])
    );
}

#[tokio::test]
async fn entities_rest_and_the_model_api_take_composite_keys() {
    let c = client().await;
    assert_eq!(stock(&c, 1, "fed", 5).await["errors"], json!([]));
    assert_eq!(stock(&c, 2, "fed", 6).await["errors"], json!([]));

    let d = c
        .execute(
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Stock { count } } }",
            json!({ "r": [
                { "__typename": "Stock", "shelf": { "number": "2" }, "product": { "id": "fed" } },
                { "__typename": "Stock", "shelf": { "number": "3" }, "product": { "id": "fed" } },
                { "__typename": "Stock", "shelf": { "number": "1" }, "product": { "id": "fed" } },
            ] }),
        )
        .await;
    assert_eq!(
        d["data"]["_entities"],
        json!([{ "count": 6 }, null, { "count": 5 }]),
        "{d}"
    );

    // REST: the key's values in the path, comma-separated.
    let got = c.rest("GET", "/api/stocks/1,fed", &[], None).await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.body["count"], json!(5));
    let bad = c.rest("GET", "/api/stocks/1", &[], None).await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    let missing = c.rest("GET", "/api/stocks/3,fed", &[], None).await;
    assert_eq!(missing.status, 404, "{}", missing.body);
    let made = c
        .rest(
            "POST",
            "/api/prices",
            &[],
            Some(json!({ "productId": "fed", "currency": "A,%", "amount": 3 })),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    // A comma or a percent sign inside a part is escaped (`A%2C%25`), and
    // the segment is then percent-encoded as any other.
    assert_eq!(made.header("location"), "/api/prices/fed%2CA%252C%2525");
    let got = c.rest("GET", made.header("location"), &[], None).await;
    assert_eq!(got.body["amount"], json!(3), "{}", got.body);
    let changed = c
        .rest(
            "PATCH",
            "/api/stocks/2,fed",
            &[],
            Some(json!({ "count": 60 })),
        )
        .await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(changed.body["count"], json!(60));
    let gone = c.rest("DELETE", "/api/stocks/2,fed", &[], None).await;
    assert_eq!(gone.status, 204, "{}", gone.body);
    let again = c.rest("DELETE", "/api/stocks/2,fed", &[], None).await;
    assert_eq!(again.status, 404, "{}", again.body);
    let doc = c.rest("GET", "/api/openapi.json", &[], None).await.body;
    assert_eq!(
        doc["paths"]["/api/stocks/{id}"]["parameters"][0]["description"],
        json!(
            "The key's values in order, separated by commas (shelfId, productId); `,` and `%` inside a value escaped as `%2C` and `%25`."
        )
    );

    // The model API: a composite key is a tuple of its fields' values.
    let sys = c.system();
    let s = Stock::objects(&sys).get((1_i64, "fed")).await.unwrap();
    assert_eq!(s.count, 5);
    let missing = Stock::objects(&sys)
        .get((2_i64, "fed"))
        .await
        .map(|s| s.count);
    assert_eq!(missing.unwrap_err().code, ErrorCode::NotFound);
    let wrong = Stock::objects(&sys).get(1_i64).await.map(|s| s.count);
    assert_eq!(wrong.unwrap_err().code, ErrorCode::BadUserInput);
    let keys = Stock::objects(&sys).keys().await.unwrap();
    assert_eq!(keys, [Value::from((1_i64, "fed"))]);
    let n = Stock::objects(&sys)
        .filter(Stock::PRODUCT.eq("fed"))
        .update([Stock::COUNT.set(8)])
        .await
        .unwrap();
    assert_eq!(n, 1);
    // A key of another shape is no row's: never a match on its first part.
    let m = c
        .api()
        .registry()
        .by_key(graphloom::meta::ModelKey::of::<Stock>())
        .unwrap();
    let engine = c.api().engine();
    let plan = graphloom::query::plan::NodePlan::of(sys.scope(), m).unwrap();
    for key in [Value::I64(1), Value::from((1_i64, "fed", "x"))] {
        let found = graphloom::query::exec::fetch_keys_matching(
            engine,
            &mut graphloom::db::Exec::pool(c.db()),
            sys.scope(),
            m,
            std::slice::from_ref(&key),
            None,
            &plan,
        )
        .await
        .unwrap();
        assert!(found.is_empty(), "{key:?}");
        let out = graphloom::query::write::delete(engine, sys.scope(), m, key, None)
            .await
            .unwrap();
        assert!(matches!(out, graphloom::query::write::Outcome::Refused(_)));
    }
    assert_eq!(Stock::objects(&sys).keys().await.unwrap().len(), 1);
    let n = Stock::objects(&sys).delete().await.unwrap();
    assert_eq!(n, 1);
}

#[tokio::test]
async fn subscribers_hear_of_rows_by_their_composite_keys() {
    let c = client().await;
    let mut sub = c
        .subscribe(
            "subscription { stockChanged { kind id node { count } } }",
            json!({}),
        )
        .await;
    assert_eq!(stock(&c, 1, "fed", 5).await["errors"], json!([]));
    assert_eq!(
        sub.next_data().await["stockChanged"],
        json!({ "kind": "CREATED", "id": "1,fed", "node": { "count": 5 } })
    );
    c.query(r#"mutation { deleteStock(shelfId: "1", productId: "fed") { errors { code } } }"#)
        .await;
    assert_eq!(
        sub.next_data().await["stockChanged"],
        json!({ "kind": "DELETED", "id": "1,fed", "node": null })
    );
}

/// A model keyed by `primary_key` in a registry of its own, with `extra`.
fn check(decls: Vec<ModelDecl>) -> Vec<String> {
    match Registry::resolve(decls) {
        Ok(_) => Vec::new(),
        Err(e) => {
            e.0.iter()
                .map(|e| format!("{} {}: {}", e.id.code(), e.at, e.message))
                .collect()
        }
    }
}

#[test]
fn bad_composite_keys_are_refused_at_start_up() {
    let with = |key: &'static str| {
        let mut d = Stock::decl();
        d.primary_key = Some(key);
        d
    };
    let base = || vec![Shelf::decl(), Product::decl()];
    let run = |extra: ModelDecl| {
        let mut decls = base();
        decls.push(extra);
        check(decls)
    };
    assert_eq!(
        run(with("shelf")),
        [
            "graphloom.E005 stock.Stock.primary_key: a primary key of one field is #[field(primary_key)] on it"
        ]
    );
    assert_eq!(
        run(with("shelf nope")),
        [
            "graphloom.E005 stock.Stock.primary_key: `primary_key` names `nope`, which Stock does not have"
        ]
    );
    assert_eq!(
        run(with("shelf shelf")),
        ["graphloom.E005 stock.Stock.primary_key: `shelf` is named twice"]
    );
    let mut no_f64 = with("shelf count");
    no_f64.fields[2].kind = KindDecl::F64;
    assert_eq!(
        run(no_f64),
        [
            "graphloom.E005 stock.Stock.primary_key: `count` cannot be part of a key: keys are integers, strings, UUIDs or references"
        ]
    );
    let mut optional = with("shelf product");
    optional.fields[1].nullable = true;
    assert_eq!(
        run(optional),
        [
            "graphloom.E005 stock.Stock.primary_key: `product` cannot be part of a key: it is optional"
        ]
    );
    // With a key of its own as well.
    let mut both = Stock::decl();
    both.fields.insert(0, Audit::decl().fields[0].clone());
    assert_eq!(
        run(both),
        ["graphloom.E005 stock.Stock.primary_key: the model also has the primary key `id`"]
    );
    // Nothing refers to a composite key: a reference holds one value.
    let mut decls = base();
    decls.extend([Stock::decl(), Audit::decl(), Bundle::decl()]);
    assert_eq!(
        check(decls),
        [
            "graphloom.E005 stock.Audit.stock: stock.Stock has a composite primary key, which a foreign key cannot refer to",
            "graphloom.E005 stock.Bundle.stocks: a many-to-many field links models keyed by one field",
        ]
    );
}

#[tokio::test]
async fn the_table_has_one_primary_key_over_the_fields() {
    let c = client().await;
    let state = graphloom::db::schema::ProjectState::from_registry(c.api().registry());
    let t = &state.tables["stock_stock"];
    let keys: Vec<&str> = t
        .columns
        .iter()
        .filter(|c| c.primary_key)
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(keys, ["shelf_id", "product_id"]);
    let op = graphloom::db::schema::Operation::CreateTable(t.clone());
    let sql: Vec<String> = graphloom::db::ddl::forwards(&op, &Default::default(), c.db().dialect())
        .unwrap()
        .into_iter()
        .map(|s| match s {
            graphloom::db::ddl::Step::Sql(s) | graphloom::db::ddl::Step::Rust(s) => s,
        })
        .collect();
    let create = &sql[0];
    assert!(
        create.contains(r#"PRIMARY KEY ("shelf_id", "product_id")"#),
        "{create}"
    );
    // The second part's reference keeps an index: the key's serves the first.
    assert!(
        sql.iter().any(|s| s.contains("stock_stock_product_id_idx")),
        "{sql:?}"
    );
}

/// The admin in process: lists rows by their composite keys, edits one
/// (its key fields read-only), and deletes it.
#[tokio::test]
async fn the_admin_lists_changes_and_deletes_rows_by_composite_keys() {
    let service = service()
        .app(graphloom::auth::app())
        .app(graphloom::admin::app());
    let c = TestClient::new(&service)
        .await
        .as_user(graphloom_test::superuser(1));
    let sys = c.system();
    let hash = graphloom::auth::Hasher::default()
        .hash("a long password")
        .unwrap();
    graphloom::auth::User::objects(&sys)
        .create([
            graphloom::auth::User::USERNAME.set("boss"),
            graphloom::auth::User::EMAIL.set("boss@example.com"),
            graphloom::auth::User::PASSWORD.set(hash),
            graphloom::auth::User::IS_STAFF.set(true),
            graphloom::auth::User::IS_SUPERUSER.set(true),
        ])
        .await
        .unwrap();
    Product::objects(&sys)
        .create([
            Product::ID.set("a,b"),
            Product::SKU.set("ab"),
            Product::NAME.set("A comma"),
        ])
        .await
        .unwrap();
    Shelf::objects(&sys)
        .create([Shelf::NUMBER.set(4_i64), Shelf::LABEL.set("S4")])
        .await
        .unwrap();
    Stock::objects(&sys)
        .create([
            Stock::SHELF.set(4_i64),
            Stock::PRODUCT.set("a,b"),
            Stock::COUNT.set(3),
        ])
        .await
        .unwrap();
    let admin = service
        .admin_router(
            c.api(),
            "/admin",
            &graphloom::server::ServerConfig::default(),
        )
        .unwrap();
    let router = graphloom::server::router(
        c.api().clone(),
        &graphloom::server::ServerConfig {
            mounts: vec![("/admin".into(), admin)],
            graphiql: false,
            metrics: false,
            ..Default::default()
        },
    )
    .unwrap();
    let mut b = crate::admin::Browser::in_process(router);
    b.get("/admin/login").await;
    let p = b
        .post(
            "/admin/login",
            &[("login", "boss"), ("password", "a long password")],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);

    // The row's link carries its key: `4,a%2Cb`, as a path segment.
    let p = b.get("/admin/stock/stock/").await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains(r#"<a href="4%2Ca%252Cb/">"#), "{}", p.body);
    let href = "/admin/stock/stock/4%2Ca%252Cb/";
    let p = b.get(href).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert!(p.body.contains(r#"name="count""#), "{}", p.body);
    let p = b.post(href, &[("count", "9")]).await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert!(p.location.starts_with(href), "{}", p.location);
    let s = Stock::objects(&sys).get((4_i64, "a,b")).await.unwrap();
    assert_eq!(s.count, 9);
    let p = b.get("/admin/stock/stock/4%2Cnope/").await;
    assert_eq!(p.status, 404, "{}", p.body);
    let p = b.post(&format!("{href}delete"), &[]).await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert!(Stock::objects(&sys).keys().await.unwrap().is_empty());
}
