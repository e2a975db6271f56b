//! Generated root fields renamed or switched off: `#[model(lookup = …,
//! list = …, create = …, update = …, delete = …)]` and `#[field(lookup =
//! …)]`. The schema, the fast path and REST's writes follow the names, and
//! a freed name can be a custom field's.

use graphloom::prelude::*;
use graphloom_test::TestClient;
use serde_json::json;

use crate::fast_path::same;

#[derive(Model)]
#[model(
    app = "shop",
    lookup = "productById",
    list = "allProducts",
    create = "addProduct",
    update = false,
    delete = "removeProduct"
)]
pub struct Product {
    pub id: Id,
    #[field(unique, max_length = 20, lookup = false)]
    pub sku: String,
    #[field(unique, max_length = 20, lookup = "productByCode")]
    pub code: String,
    #[field(max_length = 100)]
    pub name: String,
}

#[derive(serde::Deserialize)]
struct BySku {
    sku: String,
}

fn service() -> Service {
    Service::new("shop").app(
        App::new("shop").model::<Product>().query(
            // The name the generated lookup would have had.
            CustomField::new("product")
                .arg::<String>("sku")
                .resolve_model::<Product, _, _, _>(|ctx, a: BySku| async move {
                    Ok(Product::objects(&ctx)
                        .filter(Product::SKU.eq(a.sku))
                        .keys()
                        .await?
                        .into_iter()
                        .next())
                }),
        ),
    )
}

async fn client() -> TestClient {
    TestClient::new(&service())
        .await
        .as_user(graphloom_test::superuser(1))
}

#[tokio::test]
async fn renamed_and_hidden_root_fields() {
    let c = client().await;
    let sdl = c.api().sdl();
    for present in [
        "productById(id: ID!): Product",
        "productByCode(code: String!): Product",
        "allProducts(where: ProductFilter",
        "addProduct(input: CreateProductInput!): CreateProductPayload!",
        "removeProduct(id: ID!): DeleteProductPayload!",
        "product(sku: String!): Product",
    ] {
        assert!(sdl.contains(present), "{present} not in\n{sdl}");
    }
    for absent in [
        "products(",
        "createProduct(",
        "updateProduct(",
        "deleteProduct(",
        "productBySku",
        "UpdateProductInput",
    ] {
        assert!(!sdl.contains(absent), "{absent} in\n{sdl}");
    }

    let d = c
        .query(r#"mutation { addProduct(input: { sku: "fed", code: "F1", name: "Federation" }) { product { id } errors { code } } }"#)
        .await;
    assert_eq!(d["addProduct"]["errors"], json!([]));
    // The renamed lookups and list answer on the fast path as through the resolvers.
    let d = same(
        &c,
        &service(),
        r#"{ productById(id: "1") { name } productByCode(code: "F1") { sku } allProducts { nodes { code } } }"#,
        json!({}),
    )
    .await;
    assert_eq!(
        d["data"],
        json!({ "productById": { "name": "Federation" }, "productByCode": { "sku": "fed" }, "allProducts": { "nodes": [{ "code": "F1" }] } })
    );
    let d = c.query(r#"{ product(sku: "fed") { code } }"#).await;
    assert_eq!(d["product"], json!({ "code": "F1" }));

    // REST writes through the renamed mutations; the one switched off is 405.
    let made = c
        .rest(
            "POST",
            "/api/products",
            &[],
            Some(json!({ "sku": "rtr", "code": "R1", "name": "Router" })),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let patch = c
        .rest(
            "PATCH",
            "/api/products/2",
            &[],
            Some(json!({ "name": "x" })),
        )
        .await;
    assert_eq!(patch.status, 405, "{}", patch.body);
    let gone = c.rest("DELETE", "/api/products/2", &[], None).await;
    assert_eq!(gone.status, 204, "{}", gone.body);
    let d = c
        .query(r#"mutation { removeProduct(id: "1") { deletedId } }"#)
        .await;
    assert_eq!(d["removeProduct"]["deletedId"], "1");
}
