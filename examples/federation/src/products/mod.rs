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
        .permissions::<Category>(staff())
        .permissions::<Product>(staff())
        .permissions::<Inventory>(staff())
}

pub fn service() -> Service {
    Service::new("products").app(app())
}
