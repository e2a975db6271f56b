//! The products service: the catalogue and stock.

mod migrations;

use graphloom::prelude::*;

/// A shelf of the catalogue.
#[derive(Model)]
#[model(app = "products", plural = "Categories")]
pub struct Category {
    pub id: Id,
    #[field(max_length = 100, unique)]
    pub name: String,
}

/// Something for sale. Other services may know it by its id or its UPC.
#[derive(Model)]
#[model(
    app = "products",
    key = "upc",
    directive = r#"@owner(team: "catalogue")"#
)]
pub struct Product {
    pub id: Id,
    /// The universal product code.
    #[field(max_length = 32, unique)]
    pub upc: String,
    // Shareable: reviews keep a copy and provide it (@provides).
    #[field(max_length = 200, shareable)]
    pub name: String,
    #[field(max_digits = 10, decimal_places = 2)]
    pub price: Decimal,
    #[field(on_delete = protect)]
    pub category: ForeignKey<Category>,
}

/// How many of a product are in stock. Known by its id or by its product.
#[derive(Model)]
#[model(app = "products", key = "product")]
pub struct Inventory {
    pub id: Id,
    #[field(related_name = "inventory")]
    pub product: OneToOne<Product>,
    #[field(default = 0)]
    pub in_stock: i32,
}

/// One edition of a product, known by its text code (`dune-hardcover`).
/// A product lists its editions as a plain list (`[Edition!]!`).
#[derive(Model)]
#[model(app = "products")]
pub struct Edition {
    #[field(primary_key, max_length = 40)]
    pub code: String,
    #[field(related_list)]
    pub product: ForeignKey<Product>,
    #[field(max_length = 40)]
    pub format: String,
}

/// A product as a shop window shows it: computed from its row, a value
/// type (no table, no key) other services may compute too.
#[derive(serde::Serialize, Object)]
#[serde(rename_all = "camelCase")]
#[object(shareable)]
pub struct Listing {
    pub title: String,
    pub price_cents: i32,
    /// Always EUR here; kept from the supergraph.
    #[object(inaccessible)]
    pub currency: String,
}

fn listing() -> ComputedField {
    ComputedField::new::<Product, Listing, _, _>(
        "listing",
        &["name", "price"],
        |_ctx, row: Row| async move {
            use graphloom::rust_decimal::prelude::ToPrimitive;
            let cents = match row.get("price") {
                Some(Value::Decimal(d)) => (*d * Decimal::from(100)).trunc().to_i32(),
                _ => None,
            };
            Ok(Listing {
                title: row.str("name").to_uppercase(),
                price_cents: cents.unwrap_or(0),
                currency: "EUR".into(),
            })
        },
    )
    .description("The product as the shop window shows it.")
}

/// The catalogue is public; staff edit it.
pub fn app() -> App {
    let staff = || {
        ModelRules::new()
            .create(Rule::Staff)
            .update(Rule::Staff)
            .delete(Rule::Staff)
    };
    App::new("products")
        .migrations(migrations::DIR, migrations::FILES)
        // Which team owns a type, kept in the supergraph for tooling.
        .compose_directive(
            "https://specs.example.com/owner/v1.0",
            "directive @owner(team: String!) on OBJECT",
        )
        .model::<Category>()
        .model::<Product>()
        .model::<Inventory>()
        .model::<Edition>()
        .computed(listing())
        .permissions::<Category>(staff())
        .permissions::<Product>(staff())
        .permissions::<Inventory>(staff())
        .permissions::<Edition>(staff())
}

pub fn service() -> Service {
    Service::new("products").app(app())
}
