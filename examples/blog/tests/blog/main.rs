#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]
//! Integration tests of the blog service, one module per capability. They run
//! on in-memory SQLite, or on PostgreSQL when GRAPHLOOM_TEST_DATABASE_URL is set
//! (scripts/test.sh runs them both ways).

mod accounts;
mod admin;
mod auth;
mod common;
mod composite_keys;
mod concurrency;
mod counts;
mod custom;
mod fast_path;
mod federation;
mod filters;
mod http;
mod keys;
mod kinds;
mod lists;
mod migrations;
mod model_api;
mod mutations;
mod names;
mod ops;
mod ordering;
mod pagination;
mod permissions;
mod queries;
mod rest;
mod schema;
mod security;
mod sessions;
mod smtp;
mod subscriptions;
mod test_kit;
mod values;
mod websocket;
