//! Fields a service stores on another service's entity: the inventory
//! service keeps whether the catalog's products are in stock. They are a
//! table here keyed by the entity's key, written with the model API, read
//! by key wherever the entity is (`_entities`, references), and print on
//! the entity with their directives (`@override` below). Both composers
//! compose them with the owner.

use graphloom::prelude::*;
use graphloom_test::{TestClient, assert_num_queries};
use serde_json::json;

/// The catalog service, which owns products.
mod catalog {
    use graphloom::prelude::*;

    #[derive(Model)]
    #[model(app = "catalog")]
    pub struct Product {
        pub id: Id,
        #[field(max_length = 100)]
        pub name: String,
        /// Answered by the inventory service since it took it over.
        pub in_stock: Option<bool>,
    }

    pub fn service() -> Service {
        Service::new("catalog").app(App::new("catalog").model::<Product>())
    }
}

/// The catalog's product as the inventory service knows it: its key, and
/// what this service stores on it.
#[derive(Model)]
#[model(app = "catalog", external)]
pub struct Product {
    pub id: Id,
    // Whether the warehouse has it: this service answers it now.
    #[field(override_from = "catalog")]
    pub in_stock: Option<bool>,
    // Days it keeps on the shelf; 30 until the warehouse says otherwise.
    #[field(default = 30)]
    pub shelf_life_days: i32,
}

/// A delivery of a product to the warehouse.
#[derive(Model)]
#[model(app = "inventory")]
pub struct Delivery {
    pub id: Id,
    pub product: Reference<Product>,
    pub quantity: i32,
}

fn service() -> Service {
    Service::new("inventory")
        .app(App::new("catalog").model::<Product>())
        .app(App::new("inventory").model::<Delivery>())
}

#[tokio::test]
async fn fields_stored_on_another_services_entity() {
    let c = TestClient::new(&service())
        .await
        .as_user(graphloom_test::superuser(1));
    let sdl = c.api().subgraph_sdl();
    assert!(
        sdl.contains("type Product @key(fields: \"id\") {\n\tid: ID!\n\tinStock: Boolean @override(from: \"catalog\")\n\tshelfLifeDays: Int!\n"),
        "{sdl}"
    );

    // Both composers compose it with the owner; the owner's `inStock` is
    // now this service's.
    let owner = TestClient::new(&catalog::service()).await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway");
    let reports = graphloom_test::assert_composes_in(
        &dir,
        &[("catalog", owner.api()), ("inventory", c.api())],
    );
    assert_eq!(reports.len(), 2);
    for r in &reports {
        assert!(
            r.hints.iter().all(|h| h.contains("overridden")),
            "{}: {:?}",
            r.composer,
            r.hints
        );
    }

    // The table: the owner's key (a plain integer here: the owner counts
    // it) and the stored fields; nothing of the entity's own.
    let state = graphloom::db::schema::ProjectState::from_registry(&service().registry().unwrap());
    let table = &state.tables["catalog_product"];
    let columns: Vec<(&str, &graphloom::db::schema::ColumnType, bool)> = table
        .columns
        .iter()
        .map(|c| (c.name.as_str(), &c.ty, c.primary_key))
        .collect();
    use graphloom::db::schema::ColumnType;
    assert_eq!(
        columns,
        [
            ("id", &ColumnType::I64, true),
            ("in_stock", &ColumnType::Bool, false),
            ("shelf_life_days", &ColumnType::I32, false),
        ]
    );

    // Written with the model API, keyed by the owner's key.
    let system = c.system();
    Product::objects(&system)
        .create([
            Product::ID.set(1),
            Product::IN_STOCK.set(true),
            Product::SHELF_LIFE_DAYS.set(10),
        ])
        .await
        .unwrap();
    let p = Product::objects(&system).get(1).await.unwrap();
    assert_eq!((p.in_stock, p.shelf_life_days), (Some(true), 10));
    for (product, quantity) in [(1, 5), (2, 7), (1, 3)] {
        Delivery::objects(&system)
            .create([
                Delivery::PRODUCT.set(product),
                Delivery::QUANTITY.set(quantity),
            ])
            .await
            .unwrap();
    }

    // The gateway asks for products 1 and 2: one statement for both; what
    // nothing was stored for reads the defaults.
    let d = assert_num_queries!(
        1,
        c.entities(
            json!([{ "__typename": "Product", "id": "1" }, { "__typename": "Product", "id": "2" }]),
            "... on Product { id inStock shelfLifeDays }",
        )
    );
    assert_eq!(
        d,
        json!([
            { "__typename": "Product", "id": "1", "inStock": true, "shelfLifeDays": 10 },
            { "__typename": "Product", "id": "2", "inStock": null, "shelfLifeDays": 30 },
        ])
    );

    // Through a reference: the deliveries, then the products' stored
    // fields, one statement each.
    let q = "{ deliveries(orderBy: [{ id: ASC }]) { nodes { quantity product { id inStock shelfLifeDays } } } }";
    let d = assert_num_queries!(2, c.query(q));
    assert_eq!(
        d["deliveries"]["nodes"],
        json!([
            { "quantity": 5, "product": { "id": "1", "inStock": true, "shelfLifeDays": 10 } },
            { "quantity": 7, "product": { "id": "2", "inStock": null, "shelfLifeDays": 30 } },
            { "quantity": 3, "product": { "id": "1", "inStock": true, "shelfLifeDays": 10 } },
        ])
    );
    // The fast path serves it (the response written straight from the rows).
    let res = c
        .response(graphloom::graphql::async_graphql::Request::new(q))
        .await;
    assert!(matches!(res.data, graphloom::graphql::Data::Json(_)));
    // A selection on the key alone reads nothing.
    assert_num_queries!(1, c.query("{ deliveries { nodes { product { id } } } }"));

    // Changed as any row is.
    let n = Product::objects(&system)
        .filter(Product::ID.eq(1))
        .update([Product::IN_STOCK.set(false)])
        .await
        .unwrap();
    assert_eq!(n, 1);
    let d = c
        .entities(
            json!([{ "__typename": "Product", "id": "1" }]),
            "... on Product { inStock }",
        )
        .await;
    assert_eq!(d, json!([{ "__typename": "Product", "inStock": false }]));

    // The key is the owner's: a row stored here must name it.
    let err = Product::objects(&system)
        .create([Product::IN_STOCK.set(true)])
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("id") && err.contains("required"), "{err}");
}

/// A stored field that entities stored nothing for could not answer, one
/// that is a foreign key, and one on an entity this service does not
/// resolve stop the service at start-up (`graphloom.E012`).
#[tokio::test]
async fn stored_field_mistakes_are_refused() {
    #[derive(Model)]
    #[model(app = "catalog", external)]
    pub struct Counted {
        pub id: Id,
        pub count: i32,
    }
    #[derive(Model)]
    #[model(app = "catalog", external)]
    pub struct Linked {
        pub id: Id,
        pub delivery: Option<ForeignKey<Delivery>>,
    }
    #[derive(Model)]
    #[model(app = "catalog", external, resolvable = false)]
    pub struct Pointed {
        pub id: Id,
        pub note: Option<String>,
    }
    let errors = |app: App| {
        Service::new("inventory")
            .app(app)
            .app(App::new("inventory").model::<Delivery>().model::<Product>())
            .registry()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let err = errors(App::new("catalog").model::<Counted>());
    assert!(
        err.contains("graphloom.E012")
            && err.contains("`count` is required and has no default")
            && err.contains("make it an Option or give it a default"),
        "{err}"
    );
    let err = errors(App::new("catalog").model::<Linked>());
    assert!(err.contains("`delivery` is a foreign key"), "{err}");
    let err = errors(App::new("catalog").model::<Pointed>());
    assert!(
        err.contains("Pointed is `resolvable = false`: this service resolves none of it, so it cannot store `note`"),
        "{err}"
    );
}

/// The owner's fields of an entity (`#[field(external)]`) are not stored
/// here: writing one is the client's error, and the model API reads them
/// as null, or as their type's zero when it has none.
#[tokio::test]
async fn the_owners_fields_are_not_stored_here() {
    #[derive(Model)]
    #[model(app = "catalog", external)]
    pub struct Item {
        pub id: Id,
        #[field(external, max_length = 10)]
        pub name: String,
        #[field(external)]
        pub weight: Option<i32>,
        pub note: Option<String>,
    }
    let c = TestClient::new(&Service::new("x").app(App::new("catalog").model::<Item>())).await;
    let system = c.system();
    let item = Item::objects(&system)
        .create([Item::ID.set(1), Item::NOTE.set("fragile")])
        .await
        .unwrap();
    assert_eq!(
        (item.name.as_str(), item.weight, item.note.as_deref()),
        ("", None, Some("fragile"))
    );
    let err = Item::objects(&system)
        .create([Item::ID.set(2), Item::NAME.set("x")])
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert_eq!(
        err,
        "BAD_USER_INPUT: name: This field is the owning service's: it is not stored here."
    );
    let err = Item::objects(&system)
        .filter(Item::ID.eq(1))
        .update([Item::WEIGHT.set(3)])
        .await
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("weight: This field is the owning service's"),
        "{err}"
    );
    assert_eq!(Item::objects(&system).count().await.unwrap(), 1);
}
