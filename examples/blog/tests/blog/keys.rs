//! Primary keys the client assigns: text (`"apollo-federation"`, a country
//! code) and integers, through creates, lookups, relations both ways,
//! many-to-many links, cursors, deletes, `_entities`, REST and the model API,
//! on each dialect.

use graphloom::prelude::*;
use graphloom_test::{TestClient, assert_num_queries};

use serde_json::{Value as Json, json};

/// Keyed for other services by its `id`, and by its `sku`.
#[derive(Model)]
#[model(app = "cat", key = "sku")]
pub struct Product {
    #[field(primary_key, max_length = 40)]
    pub id: String,
    #[field(unique, max_length = 20)]
    pub sku: String,
    pub name: String,
}

/// A key named other than `id`: its field is still an `ID`; the lookup
/// takes it by its name (`country(code:)`), updates and deletes as `id`.
#[derive(Model)]
#[model(app = "cat", plural = "countries")]
pub struct Country {
    #[field(primary_key, max_length = 2)]
    pub code: String,
    pub name: String,
}

/// A user another service owns, keyed there by their email.
#[derive(Model)]
#[model(app = "people", external)]
pub struct Buyer {
    #[field(primary_key, max_length = 120)]
    pub email: String,
}

#[derive(Model)]
#[model(app = "cat")]
pub struct Variant {
    pub id: Id,
    pub product: ForeignKey<Product>,
    pub added_by: Option<Reference<Buyer>>,
    #[field(on_delete = set_null)]
    pub made_in: Option<ForeignKey<Country>>,
    pub color: String,
}

/// An integer key the client gives (a shelf's number on the floor).
#[derive(Model)]
#[model(app = "cat", plural = "shelves")]
pub struct Shelf {
    #[field(primary_key)]
    pub number: i64,
    pub label: String,
    pub products: ManyToMany<Product>,
}

pub(crate) fn service() -> Service {
    Service::new("cat")
        .app(
            App::new("cat")
                .model::<Product>()
                .model::<Country>()
                .model::<Variant>()
                .model::<Shelf>(),
        )
        .app(App::new("people").model::<Buyer>())
}

async fn client() -> TestClient {
    TestClient::new(&service())
        .await
        .as_user(graphloom_test::superuser(1))
}

async fn product(c: &TestClient, id: &str, sku: &str) -> Json {
    c.query_vars(
        r#"mutation($i: CreateProductInput!) { createProduct(input: $i) { product { id sku name } errors { field code } } }"#,
        json!({ "i": { "id": id, "sku": sku, "name": format!("The {id}") } }),
    )
    .await["createProduct"]
        .clone()
}

#[tokio::test]
async fn a_text_key_is_given_on_create_and_never_changed() {
    let c = client().await;
    let p = product(&c, "apollo-federation", "federation").await;
    assert_eq!(
        p,
        json!({ "product": { "id": "apollo-federation", "sku": "federation", "name": "The apollo-federation" }, "errors": [] })
    );
    // The same key again, a missing one, one too long.
    assert_eq!(
        product(&c, "apollo-federation", "other").await["errors"],
        json!([{ "field": ["id"], "code": "UNIQUE" }])
    );
    let d = c
        .query(r#"mutation { createProduct(input: { sku: "x", name: "x" }) { errors { field code } } }"#)
        .await;
    assert_eq!(
        d["createProduct"]["errors"],
        json!([{ "field": ["id"], "code": "REQUIRED" }])
    );
    assert_eq!(
        product(&c, &"k".repeat(41), "long").await["errors"],
        json!([{ "field": ["id"], "code": "MAX_LENGTH" }])
    );
    // The update input has no key: a row's key is what others refer to it by.
    let errors = c
        .errors(r#"mutation { updateProduct(id: "apollo-federation", input: { id: "renamed" }) { errors { code } } }"#)
        .await;
    assert!(
        errors[0]["message"].as_str().unwrap().contains("id"),
        "{errors:?}"
    );
    let d = c
        .query(r#"mutation { updateProduct(id: "apollo-federation", input: { name: "Federation" }) { product { id name } errors { code } } }"#)
        .await;
    assert_eq!(
        d["updateProduct"],
        json!({ "product": { "id": "apollo-federation", "name": "Federation" }, "errors": [] })
    );
    let d = c
        .query(r#"{ product(id: "apollo-federation") { name } missing: product(id: "nope") { name } productBySku(sku: "federation") { id } }"#)
        .await;
    assert_eq!(
        d,
        json!({ "product": { "name": "Federation" }, "missing": null, "productBySku": { "id": "apollo-federation" } })
    );
    let d = c
        .query(
            r#"mutation { updateProduct(id: "nope", input: { name: "x" }) { errors { code } } }"#,
        )
        .await;
    assert_eq!(
        d["updateProduct"]["errors"],
        json!([{ "code": "NOT_FOUND" }])
    );
}

#[tokio::test]
async fn relations_to_text_keys_are_planned_both_ways() {
    let c = client().await;
    for (id, sku) in [
        ("apollo-federation", "federation"),
        ("apollo-studio", "studio"),
    ] {
        assert_eq!(product(&c, id, sku).await["errors"], json!([]));
    }
    let d = c
        .query(r#"mutation { a: createCountry(input: { code: "FR", name: "France" }) { country { code name } errors { code } } b: createCountry(input: { code: "DE", name: "Germany" }) { errors { code } } }"#)
        .await;
    assert_eq!(
        d["a"],
        json!({ "country": { "code": "FR", "name": "France" }, "errors": [] })
    );
    for (product, country, color) in [
        ("apollo-federation", Some("FR"), "red"),
        ("apollo-federation", Some("DE"), "blue"),
        ("apollo-studio", None, "green"),
    ] {
        let d = c
            .query_vars(
                r#"mutation($p: ID!, $c: ID, $color: String!) { createVariant(input: { productId: $p, madeInId: $c, color: $color }) { variant { productId madeInId product { sku } } errors { field code } } }"#,
                json!({ "p": product, "c": country, "color": color }),
            )
            .await;
        assert_eq!(
            d["createVariant"]["variant"]["productId"],
            json!(product),
            "{d}"
        );
        assert_eq!(d["createVariant"]["variant"]["madeInId"], json!(country));
    }
    // A key no row has is the field's error, found by the database's constraint.
    let d = c
        .query(r#"mutation { createVariant(input: { productId: "nope", color: "x" }) { errors { field code } } }"#)
        .await;
    assert_eq!(
        d["createVariant"]["errors"],
        json!([{ "field": ["productId"], "code": "FOREIGN_KEY" }])
    );

    let query = r#"{ products(orderBy: [{ id: ASC }]) { nodes { id variants(orderBy: [{ color: ASC }]) { nodes { color madeIn { code name } } } } }
        variants(where: { product: { sku: { eq: "federation" } }, madeInId: { in: ["FR", "XX"] } }) { nodes { color } }
        country(code: "DE") { variants { nodes { color } } } }"#;
    // The products, their variants (with each one's country joined in), the
    // filtered list, the country and its variants.
    let d = assert_num_queries!(5, c.query(query));
    assert_eq!(
        d,
        json!({
            "products": { "nodes": [
                { "id": "apollo-federation", "variants": { "nodes": [
                    { "color": "blue", "madeIn": { "code": "DE", "name": "Germany" } },
                    { "color": "red", "madeIn": { "code": "FR", "name": "France" } },
                ] } },
                { "id": "apollo-studio", "variants": { "nodes": [{ "color": "green", "madeIn": null }] } },
            ] },
            "variants": { "nodes": [{ "color": "red" }] },
            "country": { "variants": { "nodes": [{ "color": "blue" }] } },
        })
    );

    // Deleting a country clears the variants' reference; a product's go with it.
    let d = c
        .query(r#"mutation { deleteCountry(id: "FR") { deletedId } deleteProduct(id: "apollo-federation") { deletedId errors { code } } }"#)
        .await;
    assert_eq!(
        d,
        json!({ "deleteCountry": { "deletedId": "FR" }, "deleteProduct": { "deletedId": "apollo-federation", "errors": [] } })
    );
    let d = c
        .query("{ variants { nodes { color madeInId productId } } }")
        .await;
    assert_eq!(
        d["variants"]["nodes"],
        json!([{ "color": "green", "madeInId": null, "productId": "apollo-studio" }])
    );
}

#[tokio::test]
async fn integer_keys_link_and_cursors_page_over_text_keys() {
    let c = client().await;
    for id in ["a", "b", "c", "d", "e"] {
        assert_eq!(product(&c, id, id).await["errors"], json!([]));
    }
    let d = c
        .query(r#"mutation { createShelf(input: { number: "7", label: "front", products: { set: ["a", "c", "e"] } }) { shelf { number label products(orderBy: [{ id: DESC }]) { nodes { id } } } errors { field code } } }"#)
        .await;
    assert_eq!(
        d["createShelf"],
        json!({ "shelf": { "number": "7", "label": "front", "products": { "nodes": [{ "id": "e" }, { "id": "c" }, { "id": "a" }] } }, "errors": [] })
    );
    let d = c
        .query(r#"mutation { createShelf(input: { number: "seven", label: "x" }) { errors { field code } } b: createShelf(input: { number: 7, label: "again" }) { errors { field code } } }"#)
        .await;
    assert_eq!(
        d,
        json!({
            "createShelf": { "errors": [{ "field": ["number"], "code": "INVALID" }] },
            "b": { "errors": [{ "field": ["number"], "code": "UNIQUE" }] },
        })
    );
    let d = c
        .query(r#"mutation { updateShelf(id: 7, input: { products: { remove: ["c"], add: ["b"] } }) { shelf { products { nodes { id shelves { nodes { number } } } } } errors { code } } }"#)
        .await;
    assert_eq!(
        d["updateShelf"]["shelf"]["products"]["nodes"],
        json!([
            { "id": "a", "shelves": { "nodes": [{ "number": "7" }] } },
            { "id": "b", "shelves": { "nodes": [{ "number": "7" }] } },
            { "id": "e", "shelves": { "nodes": [{ "number": "7" }] } },
        ])
    );

    // Cursors over text keys: two pages of two, then the last one, and back.
    let page = |after: Option<String>| {
        let c = &c;
        async move {
            let d = c
                .query_vars(
                    "query($a: String) { products(first: 2, after: $a) { nodes { id } pageInfo { hasNextPage endCursor } } }",
                    json!({ "a": after }),
                )
                .await;
            let ids: Vec<String> = d["products"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["id"].as_str().unwrap().to_owned())
                .collect();
            let info = &d["products"]["pageInfo"];
            (
                ids,
                info["hasNextPage"].as_bool().unwrap(),
                info["endCursor"].as_str().map(str::to_owned),
            )
        }
    };
    let (one, more, cursor) = page(None).await;
    assert_eq!((one, more), (vec!["a".to_owned(), "b".to_owned()], true));
    let (two, more, cursor) = page(cursor).await;
    assert_eq!((two, more), (vec!["c".to_owned(), "d".to_owned()], true));
    let (three, more, _) = page(cursor).await;
    assert_eq!((three, more), (vec!["e".to_owned()], false));
    let d = c
        .query(r#"{ products(last: 2, orderBy: [{ sku: DESC }]) { nodes { id } } }"#)
        .await;
    assert_eq!(
        d["products"]["nodes"],
        json!([{ "id": "b" }, { "id": "a" }])
    );
}

#[tokio::test]
async fn entities_rest_and_the_model_api_take_text_keys() {
    let c = client().await;
    assert_eq!(
        product(&c, "apollo-federation", "federation").await["errors"],
        json!([]),
    );
    let d = c
        .execute(
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Product { id sku } } }",
            json!({ "r": [
                { "__typename": "Product", "id": "apollo-federation" },
                { "__typename": "Product", "id": "missing" },
                { "__typename": "Product", "sku": "federation" },
            ] }),
        )
        .await;
    assert_eq!(
        d["data"]["_entities"],
        json!([
            { "id": "apollo-federation", "sku": "federation" },
            null,
            { "id": "apollo-federation", "sku": "federation" },
        ])
    );
    assert_eq!(
        d["errors"][0]["message"],
        json!("representations[1]: no Product with id missing")
    );

    // Another service's user, keyed by email: a reference and its stub,
    // and the variants this service adds to it.
    let d = c
        .query(r#"mutation { createVariant(input: { productId: "apollo-federation", addedById: "ann@example.com", color: "red" }) { variant { addedById addedBy { __typename email } } errors { code } } }"#)
        .await;
    assert_eq!(
        d["createVariant"]["variant"],
        json!({ "addedById": "ann@example.com", "addedBy": { "__typename": "Buyer", "email": "ann@example.com" } })
    );
    let d = c
        .query_vars(
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Buyer { email variants { nodes { color } } } } }",
            json!({ "r": [{ "__typename": "Buyer", "email": "ann@example.com" }, { "__typename": "Buyer", "email": "bob@example.com" }] }),
        )
        .await;
    assert_eq!(
        d["_entities"],
        json!([
            { "email": "ann@example.com", "variants": { "nodes": [{ "color": "red" }] } },
            { "email": "bob@example.com", "variants": { "nodes": [] } },
        ])
    );
    assert!(
        c.api()
            .subgraph_sdl()
            .contains("type Buyer @key(fields: \"email\") {\n\temail: ID!"),
    );

    let got = c
        .rest("GET", "/api/products/apollo-federation", &[], None)
        .await;
    assert_eq!(got.status, 200, "{}", got.body);
    assert_eq!(got.body["sku"], json!("federation"));
    let made = c
        .rest(
            "POST",
            "/api/products",
            &[],
            Some(json!({ "id": "apollo/router v2", "sku": "router", "name": "Router" })),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!(
        made.header("location"),
        "/api/products/apollo%2Frouter%20v2"
    );
    let got = c.rest("GET", made.header("location"), &[], None).await;
    assert_eq!(got.body["name"], json!("Router"), "{}", got.body);

    // The model API: the key is the struct's own `String`.
    let sys = c.system();
    let p = Product::objects(&sys)
        .create([
            Product::ID.set("apollo-studio"),
            Product::SKU.set("studio"),
            Product::NAME.set("Studio"),
        ])
        .await
        .unwrap();
    assert_eq!(p.id, "apollo-studio");
    let v = Variant::objects(&sys)
        .create([
            Variant::PRODUCT.set("apollo-studio"),
            Variant::COLOR.set("teal"),
        ])
        .await
        .unwrap();
    assert_eq!(v.product.key, Value::from("apollo-studio"));
    let found = Product::objects(&sys)
        .filter(Product::ID.eq("apollo-studio"))
        .one()
        .await
        .unwrap()
        .map(|p| p.name);
    assert_eq!(found.as_deref(), Some("Studio"));
    let got = Product::objects(&sys).get("apollo-studio").await.unwrap();
    assert_eq!(got.sku, "studio");
    let missing = Product::objects(&sys).get("nope").await.map(|p| p.id);
    assert_eq!(missing.unwrap_err().code, ErrorCode::NotFound);
}

#[tokio::test]
async fn subscribers_hear_of_rows_by_their_text_keys() {
    let c = client().await;
    let mut sub = c
        .subscribe(
            "subscription { countryChanged { kind id node { code name } } }",
            json!({}),
        )
        .await;
    c.query(
        r#"mutation { createCountry(input: { code: "FR", name: "France" }) { errors { code } } }"#,
    )
    .await;
    assert_eq!(
        sub.next_data().await["countryChanged"],
        json!({ "kind": "CREATED", "id": "FR", "node": { "code": "FR", "name": "France" } })
    );
    c.query(r#"mutation { updateCountry(id: "FR", input: { name: "République française" }) { errors { code } } }"#)
        .await;
    assert_eq!(
        sub.next_data().await["countryChanged"]["node"]["name"],
        json!("République française")
    );
    c.query(r#"mutation { deleteCountry(id: "FR") { errors { code } } }"#)
        .await;
    assert_eq!(
        sub.next_data().await["countryChanged"],
        json!({ "kind": "DELETED", "id": "FR", "node": null })
    );
}
