//! The GraphQL surface of graphloom: a schema generated from the model
//! registry, translated to and from the query engine.
//!
//! For framework crates: [`Api::build`] reads the registry of an
//! [`Engine`] and produces an async-graphql dynamic schema (object types,
//! Relay connections, filter and order inputs, lookups, CRUD mutations with
//! typed payload errors, custom and computed fields, federation), and
//! [`Api::execute_as`] runs requests. Resolvers only translate: a root
//! field's selection becomes an engine plan ([`translate`]), the engine
//! fetches every level with one statement per relation edge, and the object
//! fields read the rows from memory. Writes, rules and validation are the
//! engine's ([`graphloom_query`]); nothing here builds SQL.
//!
//! Error codes (`extensions.code`) are [`graphloom_query::ErrorCode`];
//! mutation payload codes (the `ErrorCode` enum of the schema) are
//! [`graphloom_query::FieldCode`].

pub mod context;
pub mod convert;
pub mod custom;
mod directives;
pub mod error;
mod federation;
mod runtime;
mod schema;
pub mod translate;

use std::sync::Arc;

pub use async_graphql;
use async_graphql::dynamic::Schema;
pub use custom::{Custom, CustomField, FieldFactory, TypeFactory};
pub use error::{ResultExt, gql};
use graphloom_meta::{CheckErrors, Registry};
use graphloom_query::{Engine, scope::Scope};
pub use graphloom_query::{ErrorCode, RequestContext};
pub use runtime::{Config, Runtime};
pub use schema::payloads::MutationResult;

/// Why a schema could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    #[error(transparent)]
    Checks(#[from] CheckErrors),
    #[error("the generated schema is invalid: {0}")]
    Schema(String),
}

/// A built GraphQL API over one engine.
#[derive(Clone)]
pub struct Api {
    schema: Schema,
    runtime: Arc<Runtime>,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").finish_non_exhaustive()
    }
}

impl Api {
    pub fn build(engine: Arc<Engine>, config: Config, custom: &Custom) -> Result<Api, BuildError> {
        let errors = directives::check(engine.registry());
        if !errors.is_empty() {
            return Err(CheckErrors(errors).into());
        }
        let runtime = Arc::new(Runtime { engine, config });
        let builder = schema::build(&runtime, custom);
        let schema = builder.finish().map_err(|e| BuildError::Schema(e.0))?;
        Ok(Api { schema, runtime })
    }

    /// Runs one request. With `debug_sql`, the response carries
    /// `extensions.sql = { count, statements }`.
    pub async fn execute(
        &self,
        request: impl Into<async_graphql::Request>,
    ) -> async_graphql::Response {
        self.execute_as(request, RequestContext::default()).await
    }

    /// Runs one request for the principal (and headers) of `context`; the
    /// permission scope is decided once here, before any field resolves.
    pub async fn execute_as(
        &self,
        request: impl Into<async_graphql::Request>,
        context: RequestContext,
    ) -> async_graphql::Response {
        let rt = &self.runtime;
        let scope = Scope::new(
            Arc::clone(rt.engine.registry_arc()),
            context.principal.clone(),
        )
        .await;
        let misses = Arc::new(federation::Misses::default());
        let request = request
            .into()
            .data(Arc::new(context))
            .data(Arc::new(scope))
            .data(Arc::clone(&misses));
        let (mut response, statements) = graphloom_db::capture(self.schema.execute(request)).await;
        misses.patch(&mut response);
        federation::upgrade_service_sdl(&self.runtime, &mut response);
        if self.runtime.config.debug_sql {
            let sql = async_graphql::Value::from_json(serde_json::json!({
                "count": statements.len(),
                "statements": statements,
            }))
            .unwrap_or_default();
            response.extensions.insert("sql".into(), sql);
        }
        response
    }

    /// The schema in SDL, for frontend code generation and snapshots.
    pub fn sdl(&self) -> String {
        let mut sdl = self.schema.sdl();
        for text in directives::auth_directive_texts(&self.runtime) {
            sdl = sdl.replace(&text, "");
        }
        sdl + &directives::definitions(self.registry().composed_directives())
    }

    /// The subgraph SDL (Apollo Federation v2), as `_service { sdl }` returns it.
    pub fn subgraph_sdl(&self) -> String {
        federation::subgraph_sdl(
            &self.runtime,
            &self
                .schema
                .sdl_with_options(async_graphql::SDLExportOptions::new().federation()),
        )
    }

    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.runtime.engine
    }

    pub fn registry(&self) -> &Registry {
        self.runtime.registry()
    }

    pub fn db(&self) -> &graphloom_db::Database {
        self.runtime.engine.db()
    }
}
#[cfg(test)]
mod tests;
