//! Migrations of the `blog` app, listed by `makemigrations`: edit the JSON
//! files, not this list.

/// The folder `makemigrations` writes to.
pub const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/migrations");

/// The migration files, embedded in the binary.
pub const FILES: &[(&str, &str)] = &[
    ("0001_initial", include_str!("0001_initial.json")),
    (
        "0002_reference_indexes_by_key",
        include_str!("0002_reference_indexes_by_key.json"),
    ),
];
