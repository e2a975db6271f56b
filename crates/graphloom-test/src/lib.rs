//! Test kit for graphloom services, for your own tests as much as ours.
//!
//! - [`TestClient`]: a service's API over a fresh, migrated database, called
//!   in-process (no HTTP), returning JSON.
//! - A fresh database per client: in-memory SQLite by default; a new
//!   PostgreSQL database when `GRAPHLOOM_TEST_DATABASE_URL` names a server,
//!   so one test suite runs on both dialects.
//! - [`assert_num_queries!`]: asserts how many SQL statements a future ran and
//!   prints them when the count is wrong; [`capture`] returns them, and
//!   [`capture_with_transactions`] counts `BEGIN`, `COMMIT` and `ROLLBACK`
//!   among them.
//! - [`TestClient::system`] and [`TestClient::ctx`]: model-API contexts over
//!   the same database (`Post::objects(&client.ctx().await)`).
//! - [`Factory`]: rows with defaults and a sequence, so a test names only
//!   what it is about.
//! - Federation: [`TestClient::entities`] calls `_entities` as a gateway
//!   does, [`TestClient::assert_keys_resolve`] proves every `@key` resolves,
//!   and [`assert_composes`] composes subgraphs with the gateways' own
//!   composers.
//! - [`assert_schema_file`]: keeps the SDL a service publishes in a file and
//!   fails, listing breaking, dangerous and safe changes, when it drifts.
//!
//! The guide's section 6 (in [`guide`]) shows them at work, as a doctest.

mod factory;
mod federation;

pub use factory::Factory;
pub use federation::{assert_composes, assert_composes_in};
pub use graphloom::db::{capture, capture_with_transactions};
/// The graphloom guide (`docs/guide.md`); its examples run as doctests here,
/// where both `graphloom` and this test kit are in reach.
#[doc = include_str!("../../../docs/guide.md")]
pub mod guide {}

/// The derives' compile errors, as `compile_fail` doctests.
#[cfg(doctest)]
#[doc = include_str!("derive_errors.md")]
pub mod derive_errors {}

use graphloom::{
    Service,
    db::{Database, RawSql},
    graphql::{Api, Config},
    query::Ctx,
};
use serde_json::{Value as Json, json};

/// The environment variable that points the tests at a PostgreSQL server.
pub const PG_ENV: &str = "GRAPHLOOM_TEST_DATABASE_URL";

/// The URL of a fresh database that several connections can share: a new
/// SQLite file in a temporary folder, or a new PostgreSQL database.
pub async fn fresh_database_url() -> String {
    match std::env::var(PG_ENV) {
        Ok(url) if !url.is_empty() => {
            let admin = Database::connect(&url)
                .await
                .unwrap_or_else(|e| panic!("{PG_ENV}={url}: {e}"));
            let name = format!("graphloom_test_{}", uuid::Uuid::new_v4().simple());
            admin
                .execute(&RawSql(format!("CREATE DATABASE \"{name}\"")))
                .await
                .unwrap_or_else(|e| panic!("cannot create test database: {e}"));
            admin.close().await;
            let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
            format!("{base}/{name}")
        }
        _ => {
            let dir = std::env::temp_dir()
                .join(format!("graphloom-test-{}", uuid::Uuid::new_v4().simple()));
            std::fs::create_dir_all(&dir)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
            format!("sqlite:{}", dir.join("db.sqlite3").display())
        }
    }
}

/// A fresh database for one test: in-memory SQLite, or a new PostgreSQL
/// database on the server named by `GRAPHLOOM_TEST_DATABASE_URL`.
pub async fn fresh_database() -> Database {
    let url = match std::env::var(PG_ENV) {
        Ok(url) if !url.is_empty() => fresh_database_url().await,
        _ => "sqlite::memory:".to_owned(),
    };
    Database::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("cannot open the test database {url}: {e}"))
}

/// Logs (internal errors above all) go to the test's captured output;
/// `RUST_LOG` sets the level (default `warn`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

/// A service's GraphQL API over a fresh, migrated database.
#[derive(Debug, Clone)]
pub struct TestClient {
    api: Api,
    principal: Option<Principal>,
    /// The client address requests come from (what login throttling keys on).
    address: Option<String>,
    /// The service's own REST endpoints, for [`TestClient::rest`].
    endpoints: Vec<graphloom::server::Endpoint>,
}

pub use graphloom::auth_core::token::Principal;

/// The HS256 issuer test clients sign with.
pub fn test_issuer() -> graphloom::auth_core::token::Issuer {
    use graphloom::auth_core::token::{Issuer, SigningKey};
    let key = SigningKey::hs256(b"graphloom-test-secret-not-for-production")
        .unwrap_or_else(|e| panic!("test key: {e}"));
    Issuer::new(key, "graphloom", "graphloom", 300)
}

/// A principal for tests: user `id` with these permissions.
pub fn user(id: impl ToString) -> Principal {
    Principal {
        user_id: id.to_string(),
        ..Principal::default()
    }
}

/// A superuser principal, who holds every permission: what a test that is
/// not about permissions acts as when it writes (generated writes need the
/// model permissions by default).
pub fn superuser(id: impl ToString) -> Principal {
    Principal {
        superuser: true,
        staff: true,
        ..user(id)
    }
}

impl TestClient {
    pub async fn new(service: &Service) -> Self {
        Self::with_config(
            service,
            Config {
                cursor_key: b"graphloom-test-key".to_vec(),
                token_issuer: Some(std::sync::Arc::new(test_issuer())),
                ..Config::default()
            },
        )
        .await
    }

    /// The same client presenting an access token, verified as the server would.
    pub fn with_token(
        &self,
        token: &str,
    ) -> Result<TestClient, graphloom::auth_core::token::TokenError> {
        let (_, verifier) = self.keys();
        let claims = verifier.verify(token)?;
        Ok(self.as_user(Principal::from(claims)))
    }

    /// The API's token issuer (the test one unless configured) and its verifier.
    fn keys(
        &self,
    ) -> (
        std::sync::Arc<graphloom::auth_core::token::Issuer>,
        graphloom::auth_core::token::Verifier,
    ) {
        let issuer = self
            .api
            .runtime()
            .config
            .token_issuer
            .clone()
            .unwrap_or_else(|| std::sync::Arc::new(test_issuer()));
        let verifier = issuer
            .verifier()
            .unwrap_or_else(|e| panic!("test verifier: {e}"));
        (issuer, verifier)
    }

    pub async fn with_config(service: &Service, config: Config) -> Self {
        init_logging();
        let db = fresh_database().await;
        service
            .migrate(&db)
            .await
            .unwrap_or_else(|e| panic!("migrate failed: {e:#}"));
        let api = service
            .api(db, config)
            .unwrap_or_else(|e| panic!("cannot build the API: {e}"));
        TestClient {
            api,
            principal: None,
            address: None,
            endpoints: service.endpoints(),
        }
    }

    /// The same client acting as `principal`, as if it sent a valid token
    /// (Django's `force_login`).
    pub fn as_user(&self, principal: Principal) -> TestClient {
        TestClient {
            api: self.api.clone(),
            principal: Some(principal),
            address: self.address.clone(),
            endpoints: self.endpoints.clone(),
        }
    }

    /// The same principal over another API (built on this client's
    /// database with other settings, for instance).
    pub fn with_api(&self, api: Api) -> TestClient {
        TestClient {
            api,
            principal: self.principal.clone(),
            address: self.address.clone(),
            endpoints: self.endpoints.clone(),
        }
    }

    /// The same client without a principal.
    pub fn anonymous(&self) -> TestClient {
        TestClient {
            api: self.api.clone(),
            principal: None,
            address: self.address.clone(),
            endpoints: self.endpoints.clone(),
        }
    }

    /// The same client sending from another address (as the server would
    /// see it behind its trusted proxies).
    pub fn from_address(&self, address: &str) -> TestClient {
        TestClient {
            api: self.api.clone(),
            principal: self.principal.clone(),
            address: Some(address.to_owned()),
            endpoints: self.endpoints.clone(),
        }
    }

    pub fn api(&self) -> &Api {
        &self.api
    }

    /// A model-API context acting as the system (no rules) over this
    /// client's database: `Post::objects(&client.system())`.
    pub fn system(&self) -> Ctx {
        Ctx::system(std::sync::Arc::clone(self.api.engine()))
    }

    /// A model-API context for this client's principal, under its rules.
    pub async fn ctx(&self) -> Ctx {
        Ctx::for_principal(
            std::sync::Arc::clone(self.api.engine()),
            self.principal.clone(),
        )
        .await
    }

    pub fn db(&self) -> &Database {
        self.api.db()
    }

    /// The whole response (`data`, `errors`, `extensions`) as JSON.
    pub async fn execute(&self, query: &str, variables: Json) -> Json {
        let request = graphloom::graphql::async_graphql::Request::new(query).variables(
            graphloom::graphql::async_graphql::Variables::from_json(variables),
        );
        let response = self.response(request).await;
        serde_json::to_value(&response).unwrap_or_else(|e| panic!("response is not JSON: {e}"))
    }

    /// Runs a request (with an operation name, say) as this client's
    /// principal and returns the API's response as it is.
    pub async fn response(
        &self,
        request: graphloom::graphql::async_graphql::Request,
    ) -> graphloom::graphql::ApiResponse {
        let context = graphloom::graphql::RequestContext {
            principal: self.principal.clone(),
            client: self.address.clone(),
            ..Default::default()
        };
        self.api.execute_as(request, context).await
    }

    /// `data` of a query that must succeed; panics with the errors otherwise.
    pub async fn query(&self, query: &str) -> Json {
        self.query_vars(query, json!({})).await
    }

    pub async fn query_vars(&self, query: &str, variables: Json) -> Json {
        let res = self.execute(query, variables).await;
        if let Some(errors) = res.get("errors") {
            panic!("query failed: {errors:#}\nquery: {query}");
        }
        res.get("data").cloned().unwrap_or(Json::Null)
    }

    /// The `errors` of a query that must fail; panics if it succeeds.
    pub async fn errors(&self, query: &str) -> Vec<Json> {
        self.errors_vars(query, json!({})).await
    }

    pub async fn errors_vars(&self, query: &str, variables: Json) -> Vec<Json> {
        let res = self.execute(query, variables).await;
        match res.get("errors") {
            Some(Json::Array(errors)) => errors.clone(),
            _ => panic!("expected errors, got {res:#}"),
        }
    }

    /// Starts a subscription as this client's principal; once this
    /// returns, writes reach it. Its responses (`data`, `errors`) are
    /// collected in the background for [`Subscription::next`].
    pub async fn subscribe(&self, query: &str, variables: Json) -> Subscription {
        use futures_util::StreamExt;
        let request = graphloom::graphql::async_graphql::Request::new(query).variables(
            graphloom::graphql::async_graphql::Variables::from_json(variables),
        );
        let context = graphloom::graphql::RequestContext {
            principal: self.principal.clone(),
            client: self.address.clone(),
            ..Default::default()
        };
        let mut stream = self.api.subscribe_as(request, context).await;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            while let Some(response) = stream.next().await {
                let json = serde_json::to_value(&response)
                    .unwrap_or_else(|e| panic!("response is not JSON: {e}"));
                if tx.send(json).is_err() {
                    break;
                }
            }
        });
        Subscription { rx, task }
    }
}

/// A running subscription of a [`TestClient`]; dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    rx: tokio::sync::mpsc::UnboundedReceiver<Json>,
    task: tokio::task::JoinHandle<()>,
}

impl Subscription {
    /// How long [`Subscription::next`] waits.
    pub const WAIT: std::time::Duration = std::time::Duration::from_secs(5);

    /// The next whole response (`data`, `errors`); panics when none comes
    /// within [`Subscription::WAIT`] or the subscription ended.
    pub async fn next(&mut self) -> Json {
        match tokio::time::timeout(Self::WAIT, self.rx.recv()).await {
            Ok(Some(response)) => response,
            Ok(None) => panic!("the subscription ended"),
            Err(_) => panic!("no event within {:?}", Self::WAIT),
        }
    }

    /// The next event's `data`; panics on errors.
    pub async fn next_data(&mut self) -> Json {
        let response = self.next().await;
        if let Some(errors) = response.get("errors") {
            panic!("the subscription failed: {errors:#}");
        }
        response.get("data").cloned().unwrap_or(Json::Null)
    }

    /// The responses that arrive within `wait`, for asserting that
    /// nothing (more) comes.
    pub async fn drain(&mut self, wait: std::time::Duration) -> Vec<Json> {
        let mut out = Vec::new();
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(Some(response)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            out.push(response);
        }
        out
    }

    /// Whether the subscription ended (after an error, say).
    pub async fn ended(&mut self) -> bool {
        matches!(
            tokio::time::timeout(Self::WAIT, self.rx.recv()).await,
            Ok(None)
        )
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A REST answer: its status, headers, and body as JSON (`null` when
/// empty, a string when it is not JSON).
#[derive(Debug)]
pub struct RestResponse {
    pub status: u16,
    pub headers: axum::http::HeaderMap,
    pub body: Json,
}

impl RestResponse {
    /// A header's value, or `""`.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

impl TestClient {
    /// A REST request through the service's real router, in process, as
    /// this client's principal (sent as a bearer token the router
    /// verifies): `client.rest("GET", "/api/posts?expand=author", &[], None)`.
    /// A body is sent as `application/json`. The client's address is not
    /// (the router sees none).
    pub async fn rest(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Json>,
    ) -> RestResponse {
        use tower::ServiceExt;
        let (issuer, verifier) = self.keys();
        let config = graphloom::server::ServerConfig {
            verifier: Some(std::sync::Arc::new(verifier)),
            endpoints: self.endpoints.clone(),
            graphiql: false,
            metrics: false,
            ..Default::default()
        };
        let router = graphloom::server::router(self.api.clone(), &config)
            .unwrap_or_else(|e| panic!("cannot build the router: {e}"));
        let mut req = axum::http::Request::builder().method(method).uri(path);
        if let Some(p) = &self.principal {
            let (token, _) = issuer
                .issue(&p.user_id, p.perms.clone(), p.staff, p.superuser)
                .unwrap_or_else(|e| panic!("test token: {e}"));
            req = req.header("authorization", format!("Bearer {token}"));
        }
        if body.is_some() {
            req = req.header("content-type", "application/json");
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let bytes = body.map(|b| b.to_string()).unwrap_or_default();
        let req = req
            .body(axum::body::Body::from(bytes))
            .unwrap_or_else(|e| panic!("bad request {method} {path}: {e}"));
        let res = router.oneshot(req).await.unwrap_or_else(|e| match e {});
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: unreadable body: {e}"));
        let body = if bytes.is_empty() {
            Json::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Json::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        RestResponse {
            status,
            headers,
            body,
        }
    }
}

/// The `extensions.code` of each error.
pub fn codes(errors: &[Json]) -> Vec<String> {
    errors
        .iter()
        .map(|e| e["extensions"]["code"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// Awaits `$fut` and asserts that it ran exactly `$n` SQL statements; on
/// failure the message lists them. Evaluates to the future's output.
#[macro_export]
macro_rules! assert_num_queries {
    ($n:expr, $fut:expr) => {{
        let (out, statements) = $crate::capture($fut).await;
        let expected: usize = $n;
        if statements.len() != expected {
            panic!(
                "expected {} SQL statements, {} ran:\n{}",
                expected,
                statements.len(),
                statements
                    .iter()
                    .enumerate()
                    .map(|(i, s)| format!("  {}. {}", i + 1, s))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
        out
    }};
}

/// The environment variable that makes [`assert_schema_file`] rewrite the file.
pub const UPDATE_SCHEMA_ENV: &str = "GRAPHLOOM_UPDATE_SCHEMA";

/// Asserts that the API's SDL is the one in `path`, the schema the service
/// publishes to its clients (commit it; frontends generate types from it).
/// Writes the file when it is missing or when `GRAPHLOOM_UPDATE_SCHEMA=1`;
/// otherwise a difference fails the test with the list of changes, each
/// classified as breaking, dangerous or safe for clients.
pub fn assert_schema_file(api: &Api, path: impl AsRef<std::path::Path>) {
    let path = path.as_ref();
    let sdl = api.sdl();
    let update = std::env::var(UPDATE_SCHEMA_ENV).is_ok_and(|v| v == "1");
    let published = match std::fs::read_to_string(path) {
        Ok(text) if !update => text,
        _ => {
            std::fs::write(path, &sdl)
                .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
            return;
        }
    };
    if published == sdl {
        return;
    }
    let changes = match graphloom::graphql::diff::diff(&published, &sdl) {
        Ok(changes) => changes
            .iter()
            .map(|c| format!("  {c}"))
            .collect::<Vec<_>>()
            .join("\n"),
        Err(e) => format!("  (the published file does not parse: {e})"),
    };
    panic!(
        "the schema differs from {}:\n{changes}\n\
         If that is intended, run the tests with {UPDATE_SCHEMA_ENV}=1 and commit the file.",
        path.display()
    );
}
