//! Three services that compose into one graph through a federation gateway:
//! `accounts` (users, login, tokens), `products` (products, categories,
//! inventory) and `reviews` (reviews of products by users, both owned by the
//! other services). Each is its own binary with its own database.

pub mod compat;
pub mod products;
pub mod reviews;
pub mod shelves;

use graphloom::Service;

/// The accounts service: the auth app, which issues the tokens every service verifies.
pub fn accounts() -> Service {
    Service::new("accounts").app(graphloom::auth::app())
}
