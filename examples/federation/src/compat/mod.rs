//! Apollo's subgraph compatibility "products" schema, as graphloom declares
//! it: the schema every federation library implements to be listed as
//! compatible (github.com/apollographql/apollo-federation-subgraph-compatibility).
//!
//! Products and their variations are tables, which migrations create and
//! fill with the suite's data (`migrate` loads it). The rest of the suite's
//! data is small, fixed and owned elsewhere, so it is Rust: research, case
//! studies and the deprecated product are value types resolved by the app's
//! own functions; `User` is the users service's entity and `Inventory` the
//! inventory service's interface, extended here with computed fields.

mod migrations;

use graphloom::prelude::*;
use serde::{Deserialize, Serialize};

/// The users service's user, known here by email.
#[derive(Model)]
#[model(app = "users", external)]
pub struct User {
    #[field(primary_key, max_length = 254)]
    pub email: String,
    /// Owned by users; the gateway sends it to `averageProductsCreatedPerYear`,
    /// and `Product.createdBy` provides it.
    #[field(external)]
    pub total_products_created: Option<i32>,
    #[field(external)]
    pub years_of_employment: i32,
}

/// The inventory service's `Inventory` interface, which this service
/// extends as an object (`@interfaceObject`).
#[derive(Model)]
#[model(app = "inventory", external, interface_object, key = "id")]
pub struct Inventory {
    #[field(primary_key, max_length = 64)]
    pub id: String,
}

/// A product variation; no entity, only a product's key part.
#[derive(Model)]
#[model(
    app = "compat",
    entity = false,
    lookup = false,
    list = false,
    create = false,
    update = false,
    delete = false,
    subscribe = false,
    rest = false
)]
pub struct ProductVariation {
    #[field(primary_key, max_length = 64)]
    pub id: String,
}

/// A product, known by its id, by its sku and package, and by its sku and
/// variation.
#[derive(Model)]
#[model(
    app = "compat",
    directive = "@custom",
    key = "id",
    key = "sku package",
    key = "sku variation",
    unique = "sku package",
    unique = "sku variation",
    list = false,
    create = false,
    update = false,
    delete = false,
    subscribe = false,
    rest = false
)]
pub struct Product {
    #[field(primary_key, max_length = 64)]
    pub id: String,
    #[field(max_length = 64)]
    pub sku: Option<String>,
    #[field(max_length = 64)]
    pub package: Option<String>,
    // No reverse fields (`ProductVariation.products`, `User.products`) and
    // no `variationId` / `createdById` values beside the relations: the
    // suite's schema has none.
    #[field(related_name = "+", hidden)]
    pub variation: Option<ForeignKey<ProductVariation>>,
    #[field(related_name = "+", hidden)]
    pub created_by: Option<Reference<User>>,
    #[field(tag = "internal")]
    pub notes: Option<String>,
    /// The creator's product count, as this service last copied it: on the
    /// `createdBy` path it answers `totalProductsCreated` itself
    /// (`@provides`). Not a field of `Product`.
    #[field(hidden, provides = "created_by.total_products_created")]
    pub created_by_total: Option<i32>,
}

/// A product's size; other services resolve it too.
#[derive(Serialize, Object, Clone)]
#[object(shareable)]
pub struct ProductDimension {
    pub size: Option<String>,
    pub weight: Option<f64>,
    /// Kept from the supergraph.
    #[object(inaccessible)]
    pub unit: Option<String>,
}

#[derive(Serialize, Object, Clone)]
#[serde(rename_all = "camelCase")]
pub struct CaseStudy {
    #[object(id)]
    pub case_number: String,
    pub description: Option<String>,
}

/// Research on a product, known by its case study's number.
#[derive(Serialize, Object, Clone)]
#[object(key = "study { caseNumber }")]
pub struct ProductResearch {
    pub study: CaseStudy,
    pub outcome: Option<String>,
}

/// A product no longer sold, known by its sku and package.
#[derive(Serialize, Object)]
#[serde(rename_all = "camelCase")]
#[object(key = "sku package")]
pub struct DeprecatedProduct {
    pub sku: String,
    pub package: String,
    pub reason: Option<String>,
    /// The users service's user; this service adds their `name`.
    pub created_by: Option<Reference<User>>,
}

/// The suite's fixed data.
mod data {
    use super::{CaseStudy, DeprecatedProduct, ProductDimension, ProductResearch, Reference};

    pub const USER_EMAIL: &str = "support@apollographql.com";
    pub const USER_NAME: &str = "Jane Smith";
    pub const INVENTORY: &str = "apollo-oss";

    pub fn dimension() -> ProductDimension {
        ProductDimension {
            size: Some("small".into()),
            weight: Some(1.0),
            unit: Some("kg".into()),
        }
    }

    /// Each case study with the product it studies.
    pub fn research() -> [(&'static str, ProductResearch); 2] {
        let study = |n: &str, d: &str| ProductResearch {
            study: CaseStudy {
                case_number: n.into(),
                description: Some(d.into()),
            },
            outcome: None,
        };
        [
            ("apollo-federation", study("1234", "Federation Study")),
            ("apollo-studio", study("1235", "Studio Study")),
        ]
    }

    pub fn deprecated_product() -> DeprecatedProduct {
        DeprecatedProduct {
            sku: "apollo-federation-v1".into(),
            package: "@apollo/federation-v1".into(),
            reason: Some("Migrate to Federation V2".into()),
            created_by: Some(Reference::new(USER_EMAIL)),
        }
    }
}

#[derive(Deserialize)]
struct SkuPackage {
    sku: String,
    package: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CaseNumber {
    case_number: String,
}

#[derive(Deserialize)]
struct ByStudy {
    study: CaseNumber,
}

fn deprecated(sku: &str, package: &str) -> Option<DeprecatedProduct> {
    let p = data::deprecated_product();
    (p.sku == sku && p.package == package).then_some(p)
}

/// The compatibility app: its tables, value types and computed fields.
pub fn app() -> App {
    App::new("compat")
        .migrations(migrations::DIR, migrations::FILES)
        .compose_directive(
            "https://myspecs.dev/myCustomDirective/v1.0",
            "directive @custom on OBJECT",
        )
        .model::<ProductVariation>()
        .model::<Product>()
        .computed(
            ComputedField::new::<Product, Option<ProductDimension>, _, _>(
                "dimensions",
                &[],
                |_ctx, _row: Row| async move { Ok(Some(data::dimension())) },
            ),
        )
        .computed(ComputedField::new::<Product, Vec<ProductResearch>, _, _>(
            "research",
            &["id"],
            |_ctx, row: Row| async move {
                Ok(data::research()
                    .into_iter()
                    .filter(|(product, _)| *product == row.str("id"))
                    .map(|(_, r)| r)
                    .collect())
            },
        ))
        .computed(
            ComputedField::new::<User, Option<String>, _, _>(
                "name",
                &["email"],
                |_ctx, row: Row| async move {
                    Ok((row.str("email") == data::USER_EMAIL).then(|| data::USER_NAME.to_owned()))
                },
            )
            .override_from("users"),
        )
        .computed(ComputedField::new::<User, Option<i32>, _, _>(
            "averageProductsCreatedPerYear",
            &["total_products_created", "years_of_employment"],
            |_ctx, row: Row| async move {
                Ok(
                    match (
                        row.get("total_products_created"),
                        row.get("years_of_employment"),
                    ) {
                        (Some(Value::I32(total)), Some(Value::I32(years))) if *years > 0 => {
                            Some((f64::from(*total) / f64::from(*years)).round() as i32)
                        }
                        _ => None,
                    },
                )
            },
        ))
        .computed(
            ComputedField::new::<Inventory, Vec<DeprecatedProduct>, _, _>(
                "deprecatedProducts",
                &["id"],
                |_ctx, row: Row| async move {
                    Ok(if row.str("id") == data::INVENTORY {
                        vec![data::deprecated_product()]
                    } else {
                        Vec::new()
                    })
                },
            ),
        )
        .query(
            CustomField::new("deprecatedProduct")
                .arg::<String>("sku")
                .arg::<String>("package")
                .deprecated("Use product query instead")
                .resolve(|_ctx, a: SkuPackage| async move { Ok(deprecated(&a.sku, &a.package)) }),
        )
        .entity(CustomEntity::new::<DeprecatedProduct, SkuPackage, _, _>(
            |_ctx, keys| async move {
                Ok(keys
                    .iter()
                    .map(|k| deprecated(&k.sku, &k.package))
                    .collect())
            },
        ))
        .entity(CustomEntity::new::<ProductResearch, ByStudy, _, _>(
            |_ctx, keys| async move {
                let all = data::research();
                Ok(keys
                    .iter()
                    .map(|k| {
                        all.iter()
                            .find(|(_, r)| r.study.case_number == k.study.case_number)
                            .map(|(_, r)| r.clone())
                    })
                    .collect())
            },
        ))
}

/// The products subgraph of the compatibility suite. It links federation
/// v2.7, the newest the suite's checks accept.
pub fn service() -> Service {
    Service::new("products")
        .federation_version(FederationVersion::V2_7)
        .app(App::new("users").model::<User>())
        .app(App::new("inventory").model::<Inventory>())
        .app(app())
}
