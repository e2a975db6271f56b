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
//! fields read the rows from memory. A query made only of generated lookups
//! and lists skips the per-field resolvers: after async-graphql has parsed
//! and validated it, it is planned the same way and its rows are written
//! straight into the response JSON (the fast path, [`Config::fast_path`]).
//! Writes, rules and validation are the engine's ([`graphloom_query`]);
//! nothing here builds SQL.
//!
//! Error codes (`extensions.code`) are [`graphloom_query::ErrorCode`];
//! mutation payload codes (the `ErrorCode` enum of the schema) are
//! [`graphloom_query::FieldCode`].

pub mod context;
pub mod convert;
pub mod cost;
pub mod custom;
pub mod diff;
mod directives;
pub mod error;
mod fast;
mod federation;
mod link;
mod runtime;
mod schema;
pub mod subscriptions;
pub mod trace;
pub mod translate;

use std::{collections::BTreeMap, sync::Arc};

pub use async_graphql;
use async_graphql::dynamic::Schema;
pub use cost::Limits;
pub use custom::{
    Custom, CustomEntity, CustomField, CustomSubscription, FieldFactory, TypeFactory,
};
pub use error::{ResultExt, gql};
use graphloom_meta::{CheckErrors, Registry};
use graphloom_query::{Engine, scope::Scope};
pub use graphloom_query::{ErrorCode, RequestContext};
pub use link::FederationVersion;
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
    /// A custom root field with the name of another root field.
    #[error("{0}")]
    Names(String),
    /// The linked federation version lacks a directive the schema needs.
    #[error("{0}")]
    Federation(String),
}

/// How a request ran: on the fast path alone, or through async-graphql.
enum Ran {
    Direct((fast::Output, BTreeMap<String, async_graphql::Value>)),
    Pipeline(async_graphql::Response),
}

/// A built GraphQL API over one engine.
#[derive(Clone)]
pub struct Api {
    schema: Schema,
    runtime: Arc<Runtime>,
    /// The extension's shared state, for requests run without the pipeline.
    direct: fast::Factory,
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
        let runtime = Arc::new(Runtime {
            engine,
            config,
            subscription_sdl: Default::default(),
            shared_reads: Default::default(),
            value_references: Default::default(),
            key_places: Default::default(),
        });
        let problems = link::version_problems(&runtime);
        if !problems.is_empty() {
            return Err(BuildError::Federation(problems.join("; ")));
        }
        let fast = runtime
            .config
            .fast_path
            .then(|| Arc::new(fast::Fast::new(&runtime)));
        let factory = fast::Factory::new(fast, &runtime);
        let guard = factory.guard();
        // Built twice: the first build finds the types nothing reaches, the
        // second leaves them out.
        let first = schema::build(&runtime, custom, &Default::default())
            .map_err(BuildError::Names)?
            .finish()
            .map_err(|e| BuildError::Schema(e.0))?;
        // The plain SDL: it has `Subscription` and `_entities`, which lead
        // to every root's and entity's types.
        let unreachable: std::collections::BTreeSet<String> = diff::unreachable_types(&first.sdl())
            .map_err(|e| BuildError::Schema(e.to_string()))?
            .into_iter()
            .collect();
        drop(first);
        let builder = schema::build(&runtime, custom, &unreachable)
            .map_err(BuildError::Names)?
            .extension(factory.clone());
        let schema = builder.finish().map_err(|e| BuildError::Schema(e.0))?;
        let plain = schema.sdl();
        let shape = cost::Shape::from_sdl(&plain).map_err(BuildError::Schema)?;
        let _ = runtime
            .subscription_sdl
            .set(federation::type_block(&plain, "Subscription").unwrap_or_default());
        let _ = guard.shape.set(shape);
        Ok(Api {
            schema,
            runtime,
            direct: factory,
        })
    }

    /// Runs one request. With `debug_sql`, the response carries
    /// `extensions.sql = { count, statements }`.
    pub async fn execute(&self, request: impl Into<async_graphql::Request>) -> ApiResponse {
        self.execute_as(request, RequestContext::default()).await
    }

    /// Runs one request for the principal (and headers) of `context`; the
    /// permission scope is decided once here, before any field resolves.
    pub async fn execute_as(
        &self,
        request: impl Into<async_graphql::Request>,
        context: RequestContext,
    ) -> ApiResponse {
        let rt = &self.runtime;
        let scope = Scope::new(
            Arc::clone(rt.engine.registry_arc()),
            context.principal.clone(),
        )
        .await;
        let context = Arc::new(context);
        let scope = Arc::new(scope);
        let request: async_graphql::Request = request.into();
        let misses = Arc::new(federation::Misses::default());
        let slot = Arc::new(fast::Slot::default());
        let run = async {
            // Boxed, as the pipeline's future below: the fast path's is large.
            let direct = self
                .direct
                .run_known(self.schema.registry(), &request, &context, &scope);
            if let Some(done) = Box::pin(direct).await {
                return Ran::Direct(done);
            }
            let mut request = request
                .data(Arc::clone(&context))
                .data(Arc::clone(&scope))
                .data(Arc::clone(&misses))
                .data(Arc::clone(&slot));
            // Only a schema whose value types hold references batches them.
            let batches = rt
                .value_references
                .load(std::sync::atomic::Ordering::Relaxed)
                .then(|| Arc::new(schema::values::RefBatches::default()));
            if let Some(b) = &batches {
                request = request.data(Arc::clone(b));
            }
            // Boxed (`passes` boxes it too): async-graphql's execution is a
            // future of kilobytes, which each wrapper would copy as it moves.
            let run = self.schema.execute(request);
            Ran::Pipeline(match &batches {
                Some(b) => b.passes(run).await,
                None => Box::pin(run).await,
            })
        };
        let max_bytes = rt.config.limits.max_response_bytes;
        let (ran, statements) =
            graphloom_db::capture(graphloom_db::read_budget(max_bytes, run)).await;
        let mut out = match ran {
            Ran::Direct((fast, extensions)) => ApiResponse {
                data: Data::Json(fast.data),
                errors: fast.errors,
                extensions,
                statements: statements.len(),
                set_cookies: Vec::new(),
            },
            Ran::Pipeline(mut response) => {
                let set_cookies: Vec<String> = response
                    .http_headers
                    .get_all("set-cookie")
                    .iter()
                    .filter_map(|v| v.to_str().ok().map(str::to_owned))
                    .collect();
                match slot.take() {
                    Some(fast) => ApiResponse {
                        data: Data::Json(fast.data),
                        errors: fast.errors,
                        extensions: std::mem::take(&mut response.extensions),
                        statements: statements.len(),
                        set_cookies,
                    },
                    None => {
                        misses.patch(&mut response);
                        federation::upgrade_service_sdl(&self.runtime, &mut response);
                        ApiResponse {
                            data: Data::Value(response.data),
                            errors: response.errors,
                            extensions: response.extensions,
                            statements: statements.len(),
                            set_cookies,
                        }
                    }
                }
            }
        };
        out.refuse_over(max_bytes);
        if self.runtime.config.debug_sql {
            out.add_sql(&statements);
        }
        out
    }

    /// Whether the operation `operation_name` of `query` (or its only one)
    /// is a subscription. A document that does not parse is not: running
    /// it says why.
    pub fn is_subscription(query: &str, operation_name: Option<&str>) -> bool {
        use async_graphql::parser::types::{DocumentOperations, OperationType};
        let Ok(doc) = async_graphql::parser::parse_query(query) else {
            return false;
        };
        let ty = match (&doc.operations, operation_name) {
            (DocumentOperations::Single(op), _) => Some(op.node.ty),
            (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| op.node.ty),
            (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
                ops.values().next().map(|op| op.node.ty)
            }
            (DocumentOperations::Multiple(_), None) => None,
        };
        ty == Some(OperationType::Subscription)
    }

    /// Starts a subscription for the principal of `context`: once this
    /// returns, it is subscribed (writes from then on reach it). The
    /// stream has one response per event until it is dropped; an error (a
    /// request the schema refuses, or a read that failed) is its last
    /// response. The permission scope is decided once, here.
    pub async fn subscribe_as(
        &self,
        request: impl Into<async_graphql::Request>,
        context: RequestContext,
    ) -> futures_util::stream::BoxStream<'static, ApiResponse> {
        use futures_util::{FutureExt, StreamExt};
        let rt = &self.runtime;
        let scope = Scope::new(
            Arc::clone(rt.engine.registry_arc()),
            context.principal.clone(),
        )
        .await;
        // No reference batches: each event's values load their references
        // field by field (a stream is polled event by event).
        let request = request.into().data(Arc::new(context)).data(Arc::new(scope));
        let (max_bytes, debug_sql) = (rt.config.limits.max_response_bytes, rt.config.debug_sql);
        // Each event's statements are its own (its reads of the rows).
        let events = self.schema.execute_stream(request);
        let mut stream = futures_util::stream::unfold(events, move |mut events| async move {
            let (response, statements) = graphloom_db::capture(events.next()).await;
            let response = response?;
            let mut out = ApiResponse {
                data: Data::Value(response.data),
                errors: response.errors,
                extensions: response.extensions,
                statements: statements.len(),
                set_cookies: Vec::new(),
            };
            out.refuse_over(max_bytes);
            if debug_sql {
                out.add_sql(&statements);
            }
            Some((out, events))
        })
        .boxed();
        // Validation and the field's resolver run on the first poll, which
        // then waits for an event (or has the refusal ready): subscribed.
        match stream.next().now_or_never() {
            None => stream,
            Some(Some(first)) => futures_util::stream::iter([first]).chain(stream).boxed(),
            // Ended already: not polled again.
            Some(None) => futures_util::stream::empty().boxed(),
        }
    }

    /// The schema in SDL, for frontend code generation and snapshots.
    pub fn sdl(&self) -> String {
        let mut sdl = directives::strip_gateway_only(&self.schema.sdl());
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
/// The `data` of a response: a value tree from the resolvers, or the JSON
/// the fast path wrote.
#[derive(Debug, Clone)]
pub enum Data {
    Value(async_graphql::Value),
    Json(Vec<u8>),
}

impl Data {
    /// As a JSON value.
    pub fn into_json(self) -> Result<serde_json::Value, serde_json::Error> {
        match self {
            Data::Value(v) => v.into_json(),
            Data::Json(bytes) => serde_json::from_slice(&bytes),
        }
    }
}

/// A GraphQL response as [`Api::execute_as`] returns it. Serialise it with
/// [`ApiResponse::to_json`] (the fast path's JSON is copied, not re-parsed)
/// or through `serde` (`serde_json::to_value(&response)` in tests).
#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub data: Data,
    pub errors: Vec<async_graphql::ServerError>,
    pub extensions: std::collections::BTreeMap<String, async_graphql::Value>,
    /// SQL statements the request ran (for metrics; not sent).
    pub statements: usize,
    /// `Set-Cookie` values resolvers asked for (a cookie login or logout),
    /// for the HTTP response.
    pub set_cookies: Vec<String>,
}

impl ApiResponse {
    /// Whether `data` is null.
    pub fn data_is_null(&self) -> bool {
        match &self.data {
            Data::Value(v) => *v == async_graphql::Value::Null,
            Data::Json(bytes) => bytes == b"null",
        }
    }

    /// A request that never reached execution (syntax, validation, a
    /// limit): no data, and errors that belong to no field (no `path`). An
    /// operation whose root field failed did execute: its error has a path;
    /// so did one whose response was too large to send.
    pub fn failed_early(&self) -> bool {
        self.data_is_null()
            && !self.errors.is_empty()
            && self
                .errors
                .iter()
                .all(|e| e.path.is_empty() && !has_code(e, ErrorCode::ResponseTooLarge))
    }

    /// The code of the first error, if it is one of graphloom's.
    pub fn first_code(&self) -> Option<ErrorCode> {
        let first = self.errors.first()?;
        ErrorCode::ALL.into_iter().find(|c| has_code(first, *c))
    }

    /// Whether the whole request failed for `code`: no data, and every
    /// error has it (the server answers `SERVICE_UNAVAILABLE` so with 503).
    pub fn failed_with(&self, code: ErrorCode) -> bool {
        self.data_is_null()
            && !self.errors.is_empty()
            && self.errors.iter().all(|e| has_code(e, code))
    }

    /// `extensions.sql = { count, statements }` (`Config::debug_sql`).
    fn add_sql(&mut self, statements: &[String]) {
        let sql = async_graphql::Value::from_json(serde_json::json!({
            "count": statements.len(),
            "statements": statements,
        }))
        .unwrap_or_default();
        self.extensions.insert("sql".into(), sql);
    }

    /// Replaces `data` and `errors` with one `RESPONSE_TOO_LARGE` error
    /// when together they are over `max` bytes of JSON (counted up to one
    /// past `max`, so a huge response is not serialised whole to learn it).
    fn refuse_over(&mut self, max: u64) {
        let mut counter = ByteCounter { left: max };
        let within = match &self.data {
            Data::Value(v) => serde_json::to_writer(&mut counter, v).is_ok(),
            Data::Json(bytes) => counter.take(bytes.len()),
        } && serde_json::to_writer(&mut counter, &self.errors).is_ok();
        if within {
            return;
        }
        self.data = match self.data {
            Data::Value(_) => Data::Value(async_graphql::Value::Null),
            Data::Json(_) => Data::Json(b"null".to_vec()),
        };
        self.errors = vec![cost::refusal(
            ErrorCode::ResponseTooLarge,
            format!(
                "The response would be larger than {max} bytes, the most this service sends. Ask for fewer rows or fields."
            ),
            serde_json::json!({ "limit": "responseBytes", "max": max }),
        )];
    }

    /// The response as JSON: `data` (absent when the request never
    /// executed, as the GraphQL spec says), then `extensions` and `errors`
    /// when there are any, as async-graphql writes them.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        let mut buf = Vec::new();
        buf.push(b'{');
        let mut sep = "";
        if !self.failed_early() {
            buf.extend_from_slice(b"\"data\":");
            match &self.data {
                Data::Value(v) => serde_json::to_writer(&mut buf, v)?,
                Data::Json(bytes) => buf.extend_from_slice(bytes),
            }
            sep = ",";
        }
        if !self.extensions.is_empty() {
            buf.extend_from_slice(format!("{sep}\"extensions\":").as_bytes());
            serde_json::to_writer(&mut buf, &self.extensions)?;
            sep = ",";
        }
        if !self.errors.is_empty() {
            buf.extend_from_slice(format!("{sep}\"errors\":").as_bytes());
            serde_json::to_writer(&mut buf, &self.errors)?;
        }
        buf.push(b'}');
        Ok(buf)
    }
}

/// Whether `e` carries `extensions.code = code`.
fn has_code(e: &async_graphql::ServerError, code: ErrorCode) -> bool {
    e.extensions.as_ref().and_then(|x| x.get("code"))
        == Some(&async_graphql::Value::from(code.as_str()))
}

/// Counts bytes written to it and fails the write that goes past `left`.
struct ByteCounter {
    left: u64,
}

impl ByteCounter {
    fn take(&mut self, n: usize) -> bool {
        match self.left.checked_sub(n as u64) {
            Some(rest) => {
                self.left = rest;
                true
            }
            None => false,
        }
    }
}

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.take(buf.len()) {
            Ok(buf.len())
        } else {
            Err(std::io::ErrorKind::FileTooLarge.into())
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl serde::Serialize for ApiResponse {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error as _, SerializeMap};
        let mut map = s.serialize_map(None)?;
        match &self.data {
            _ if self.failed_early() => {}
            Data::Value(v) => map.serialize_entry("data", v)?,
            Data::Json(bytes) => {
                let raw: &serde_json::value::RawValue =
                    serde_json::from_slice(bytes).map_err(S::Error::custom)?;
                map.serialize_entry("data", raw)?;
            }
        }
        if !self.extensions.is_empty() {
            map.serialize_entry("extensions", &self.extensions)?;
        }
        if !self.errors.is_empty() {
            map.serialize_entry("errors", &self.errors)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests;
