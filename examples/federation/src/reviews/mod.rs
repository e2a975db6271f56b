//! The reviews service: reviews refer to users (accounts) and products
//! (products) by key, and add `User.reviews` and `Product.reviews` to them,
//! and `User.reviewerPage`, computed from the username the accounts service
//! owns (`@requires(fields: "username")`).

mod migrations;
mod products_migrations;

use graphloom::prelude::*;

/// A user, owned by the accounts service.
#[derive(Model)]
#[model(app = "accounts", external)]
pub struct User {
    pub id: Id,
    /// Owned by accounts; the gateway passes it to `reviewerPage`.
    #[field(external, max_length = 150)]
    pub username: String,
}

/// A product, owned by the products service.
#[derive(Model)]
#[model(app = "products", external)]
pub struct Product {
    pub id: Id,
    /// Owned by products; reviews keep a copy (`Review.product_name`).
    #[field(external, max_length = 100)]
    pub name: String,
    /// Whether the product takes reviews; staff close them
    /// (`setReviewsOpen`).
    // Stored here, keyed by the product's id: this service's own field on
    // another service's entity.
    #[field(default = true)]
    pub reviews_open: bool,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ReviewsOpen {
    product_id: Id,
    open: bool,
}

/// Opens or closes a product's reviews: the product's row here is changed,
/// or stored the first time. The request's rules apply (staff only).
async fn set_reviews_open(ctx: Ctx, a: ReviewsOpen) -> Result<bool, Error> {
    let changed = Product::objects(&ctx)
        .filter(Product::ID.eq(a.product_id))
        .update([Product::REVIEWS_OPEN.set(a.open)])
        .await?;
    if changed == 0 {
        Product::objects(&ctx)
            .create([
                Product::ID.set(a.product_id),
                Product::REVIEWS_OPEN.set(a.open),
            ])
            .await?;
    }
    Ok(a.open)
}

/// One user's opinion of one product; one review per user and product.
// The pair is also a key: `@key(fields: "author { id } product { id }")`.
#[derive(Model)]
#[model(
    app = "reviews",
    validate = validate_rating,
    unique = "author product",
    key = "author product"
)]
pub struct Review {
    pub id: Id,
    pub author: Reference<User>,
    pub product: Reference<Product>,
    /// The product's name when it was reviewed.
    // `Review.product` provides `name` (`@provides(fields: "name")`): on this
    // path the gateway need not ask the products service for it.
    #[field(max_length = 100, provides = "product.name")]
    pub product_name: String,
    #[field(max_length = 2000)]
    pub body: String,
    /// From 1 to 5.
    pub rating: i32,
    #[field(auto_now_add)]
    pub created_at: DateTime<Utc>,
}

/// Ratings run from 1 to 5.
pub fn validate_rating(row: ValidationInput<'_>) -> Result<(), Vec<ValidationError>> {
    match row.get("rating") {
        Some(Value::I32(r)) if (1..=5).contains(r) => Ok(()),
        _ => Err(vec![ValidationError::new(
            "rating",
            "A rating is from 1 to 5.",
        )]),
    }
}

/// Reviews are public; writing one needs a login and writes it as yourself.
pub fn app() -> App {
    App::new("reviews")
        .migrations(migrations::DIR, migrations::FILES)
        .model::<Review>()
        .permissions::<Review>(
            ModelRules::new()
                .create(Rule::Authenticated.and(Rule::Owner("author")))
                .update(Rule::Owner("author").or(Rule::Staff))
                .delete(Rule::Owner("author").or(Rule::Staff)),
        )
        .computed(
            ComputedField::new::<User, String, _, _>(
                "reviewerPage",
                &["username"],
                |_ctx, row: Row| async move { Ok(format!("/reviewers/{}", row.str("username"))) },
            )
            .description("The reviewer's page on the reviews site."),
        )
}

pub fn service() -> Service {
    Service::new("reviews")
        .app(App::new("accounts").model::<User>())
        .app(
            App::new("products")
                .migrations(products_migrations::DIR, products_migrations::FILES)
                .model::<Product>()
                .permissions::<Product>(
                    ModelRules::new()
                        .create(Rule::Staff)
                        .update(Rule::Staff)
                        .delete(Rule::Staff),
                )
                .mutation(
                    CustomField::new("setReviewsOpen")
                        .description("Opens or closes a product's reviews (staff).")
                        .arg::<Id>("productId")
                        .arg::<bool>("open")
                        .resolve(set_reviews_open),
                ),
        )
        .app(app())
}
