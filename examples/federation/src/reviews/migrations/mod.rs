//! Migrations of the `reviews` app, listed by `makemigrations`: edit the JSON
//! files, not this list.

/// The folder `makemigrations` writes to.
pub const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/reviews/migrations");

/// The migration files, embedded in the binary.
pub const FILES: &[(&str, &str)] = &[
    ("0001_initial", include_str!("0001_initial.json")),
    (
        "0002_review_product_name",
        include_str!("0002_review_product_name.json"),
    ),
    (
        "0003_one_review_per_user_and_product",
        include_str!("0003_one_review_per_user_and_product.json"),
    ),
    (
        "0004_reference_indexes_by_key",
        include_str!("0004_reference_indexes_by_key.json"),
    ),
];
