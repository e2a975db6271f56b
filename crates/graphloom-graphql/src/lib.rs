//! The GraphQL API graphloom generates from the model registry.
//!
//! For framework crates: [`Api::build`] reads the [`Registry`] and produces an
//! async-graphql dynamic schema (object types, Relay connections, filter and
//! order inputs, lookups, CRUD mutations with typed payload errors, custom
//! fields), and [`Api::execute`] runs requests. Root resolvers hand the
//! selection to the planner ([`plan`]), which fetches every level with one
//! statement per relation edge ([`exec`]), so the number of statements depends
//! on the query's shape, never on the number of rows.
//!
//! Error codes (`extensions.code`): `BAD_USER_INPUT`, `INVALID_CURSOR`,
//! `PAGE_SIZE_EXCEEDED`, `INTERNAL_SERVER_ERROR` (masked; logged in full).
//! Mutation payload codes: `REQUIRED`, `MAX_LENGTH`, `INVALID`, `UNIQUE`,
//! `FOREIGN_KEY`, `PROTECTED`, `NOT_FOUND`, `VALIDATION`.

pub mod convert;
pub mod cursor;
pub mod custom;
pub mod directives;
pub mod error;
pub mod exec;
mod federation;
mod mutation;
pub mod permissions;
pub mod plan;
pub mod runtime;
mod schema;
pub mod sql;
#[cfg(test)]
mod tests;

use std::sync::Arc;

pub use async_graphql;
use async_graphql::dynamic::Schema;
pub use custom::{ComputedField, Ctx, CustomField, GqlType, RequestContext, Row};
pub use error::Error;
use graphloom_db::{Database, schema::ProjectState};
use graphloom_meta::{CheckErrors, Registry};
pub use mutation::FieldErr;
pub use runtime::{Config, Runtime};
pub use schema::{request_ctx, scope_of};

/// Builds a field or a type of the dynamic schema once the runtime exists:
/// the escape hatch for apps whose fields return objects of their own.
pub type FieldFactory = Arc<dyn Fn(&Arc<Runtime>) -> async_graphql::dynamic::Field + Send + Sync>;
pub type TypeFactory = Arc<dyn Fn(&Arc<Runtime>) -> async_graphql::dynamic::Type + Send + Sync>;

/// Custom fields contributed by apps.
#[derive(Clone, Default)]
pub struct Custom {
    pub queries: Vec<CustomField>,
    pub mutations: Vec<CustomField>,
    pub computed: Vec<ComputedField>,
    pub permissions: Vec<permissions::Declared>,
    pub raw_queries: Vec<FieldFactory>,
    pub raw_mutations: Vec<FieldFactory>,
    pub types: Vec<TypeFactory>,
    /// Custom directives composed into the supergraph.
    pub compose_directives: Vec<directives::ComposeDirective>,
}

impl std::fmt::Debug for Custom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Custom")
            .field("queries", &self.queries)
            .field("mutations", &self.mutations)
            .field("computed", &self.computed)
            .field("permissions", &self.permissions)
            .field("raw_queries", &self.raw_queries.len())
            .field("raw_mutations", &self.raw_mutations.len())
            .field("types", &self.types.len())
            .field("compose_directives", &self.compose_directives)
            .finish()
    }
}

/// Why a schema could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    #[error(transparent)]
    Checks(#[from] CheckErrors),
    #[error("the generated schema is invalid: {0}")]
    Schema(String),
}

/// A built GraphQL API over one database.
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
    pub fn build(
        registry: Arc<Registry>,
        db: Database,
        config: Config,
        custom: &Custom,
    ) -> Result<Api, BuildError> {
        let computed = schema::resolve_computed(&registry, &custom.computed)
            .map_err(|e| CheckErrors(vec![e]))?;
        let composed =
            directives::resolve(&registry, &custom.compose_directives).map_err(CheckErrors)?;
        let permissions = Arc::new(
            permissions::Permissions::resolve(&registry, &custom.permissions)
                .map_err(CheckErrors)?,
        );
        let runtime = Arc::new(Runtime {
            permissions,
            state: ProjectState::from_registry(&registry),
            registry,
            db,
            config,
            computed: computed.into_iter().collect(),
            composed,
        });
        let builder = schema::build(&runtime, custom).map_err(|e| BuildError::Schema(e.message))?;
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
        let scope = permissions::Scope::new(
            Arc::clone(&rt.registry),
            Arc::clone(&rt.permissions),
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
        for text in schema::auth_directive_texts(&self.runtime) {
            sdl = sdl.replace(&text, "");
        }
        sdl + &directives::definitions(&self.runtime.composed)
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

    pub fn registry(&self) -> &Registry {
        &self.runtime.registry
    }

    pub fn db(&self) -> &Database {
        &self.runtime.db
    }
}
