//! # graphloom
//!
//! A GraphQL-first backend framework: declare models in Rust and get a
//! complete, consistent, N+1-free GraphQL API over SQLite or PostgreSQL,
//! served over HTTP with GraphiQL, from one binary that also migrates the
//! database and prints the schema, like Django's `manage.py`.
//!
//! This is the crate applications depend on; the `graphloom-*` crates behind it
//! are its parts and make no stability promise of their own.
//!
//! ```no_run
//! use graphloom::prelude::*;
//!
//! #[derive(Model)]
//! #[model(app = "blog")]
//! pub struct Post {
//!     pub id: Id,
//!     #[field(max_length = 200)]
//!     pub title: String,
//! }
//!
//! #[tokio::main]
//! async fn main() -> anyhow::Result<()> {
//!     Service::new("blog").app(App::new("blog").model::<Post>()).run().await
//! }
//! ```
//!
//! | part | crate |
//! |---|---|
//! | models, registry, checks | `graphloom-meta` (re-exported as [`meta`]) |
//! | SQL, dialects, migrations | `graphloom-db` (as [`db`]) |
//! | query engine, model API, rules, writes | `graphloom-query` (as [`query`]) |
//! | GraphQL schema and resolvers | `graphloom-graphql` (as [`graphql`]) |
//! | HTTP | `graphloom-server` (as [`server`]) |
//!
//! | feature | default | what |
//! |---|---|---|
//! | `otel` | off | OpenTelemetry traces over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set: request, GraphQL operation and SQL spans, continuing the caller's W3C `traceparent` (some forty more crates to build) |
//!
//! The guide is `docs/guide.md`; its examples run as doctests of
//! `graphloom-test` (module `graphloom_test::guide`).

// The derive macros name `::graphloom`; this lets them work inside this crate too.
extern crate self as graphloom;

pub mod admin;
pub mod auth;
pub mod cli;
pub mod compose;
pub mod mail;
mod makemigrations;
#[cfg(feature = "otel")]
mod otel;
mod service;

pub use chrono;
pub use graphloom_auth as auth_core;
pub use graphloom_db as db;
pub use graphloom_graphql as graphql;
pub use graphloom_macros::{InputObject, Model, ModelEnum, Object};
pub use graphloom_meta as meta;
pub use graphloom_query as query;
pub use graphloom_server as server;
pub use makemigrations::MakeArgs;
pub use rust_decimal;
/// The `JsonSchema` derive for REST endpoints' types ([`server::Endpoint`]).
pub use schemars;
pub use serde_json;
pub use service::{App, Service, Settings, UNMIGRATED};
pub use uuid;

/// What most applications import.
pub mod prelude {
    pub use chrono::{DateTime, NaiveDate, Utc};
    pub use rust_decimal::Decimal;
    pub use uuid::Uuid;

    pub use crate::{
        App, InputObject, Model, ModelEnum, Object, Service,
        graphql::{CustomEntity, CustomField, FederationVersion},
        meta::{
            ForeignKey, Id, ManyToMany, ModelRules, OneToOne, Reference, Rule, ValidationError,
            ValidationInput, Value,
        },
        query::{ComputedField, Ctx, Error, ErrorCode, FieldCode, Row, Where},
    };
}
