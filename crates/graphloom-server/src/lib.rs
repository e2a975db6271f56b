//! The HTTP face of a graphloom service, on axum.
//!
//! For the `graphloom` facade and for users who mount the API in their own axum
//! app: [`router`] serves `POST /graphql` and `GET /graphql` (queries only)
//! with the GraphQL-over-HTTP media types, GraphiQL for browsers, `/healthz`
//! and `/readyz`, Prometheus metrics at `/metrics` (the `metrics` module),
//! and `/.well-known/jwks.json` when the service signs with public keys.
//! Every response carries an `x-request-id`, and a request that failed
//! whole because the database is away is a 503 with `Retry-After`. A
//! request's `Authorization: Bearer` token is verified before the query
//! runs. Bad requests get a 4xx with a GraphQL error body whose
//! `extensions.code` is stable: `BAD_REQUEST`, `UNSUPPORTED_MEDIA_TYPE`,
//! `NOT_ACCEPTABLE`, `METHOD_NOT_ALLOWED`, `PAYLOAD_TOO_LARGE`, and
//! `UNAUTHENTICATED` (401) for a missing, malformed, forged or expired token.

mod documents;
mod endpoint;
mod graphiql;
mod metrics;
mod net;
mod openapi;
mod redoc;
mod rest;
pub mod sessions;
mod sse;
mod ws;

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

pub use axum::http::Method;
pub use documents::{Apq, ManifestError, TrustedDocuments};
pub use endpoint::{Call, Endpoint};
pub use net::{BadNetwork, Networks, client_address};
pub use sessions::{CookieAuth, Session, SessionCache, SessionCheck, SessionError};
pub use ws::WsLimits;

use graphloom_auth::token::{Principal, Verifier};

use async_graphql::parser::{parse_query, types::OperationType};
use axum::{
    Router,
    body::Bytes,
    extract::{DefaultBodyLimit, RawQuery, State, rejection::BytesRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use graphloom_graphql::{Api, ErrorCode, RequestContext};
use serde::Deserialize;

/// HTTP settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub addr: SocketAddr,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Serve GraphiQL to browsers at `/graphql`.
    pub graphiql: bool,
    /// Verifies bearer tokens; without it a request carrying one is refused.
    pub verifier: Option<Arc<Verifier>>,
    /// Asks whether a verified token's session is live (see [`sessions`]);
    /// without it a token is good until it expires.
    pub sessions: Option<Arc<dyn SessionCheck>>,
    /// Serve `POST /auth/introspect` (with `sessions`): whether a token is
    /// live, for verify-only services (the service that issues tokens).
    pub introspect: bool,
    /// Browsers' session cookies (opt-in): a request without a bearer
    /// token is authenticated by its [`sessions::SESSION_COOKIE`], after
    /// the CSRF check (its [`sessions::CSRF_HEADER`] must equal its
    /// [`sessions::CSRF_COOKIE`]).
    pub cookies: Option<Arc<dyn CookieAuth>>,
    /// How long a client may take to send a request's headers (and how
    /// long an idle keep-alive connection stays open); then the connection
    /// is closed.
    pub header_timeout: Duration,
    /// How long a client may take to send a request's body (408 after).
    pub body_timeout: Duration,
    /// How long one request may run (503 `SERVICE_UNAVAILABLE` after; its
    /// statements are cancelled with it).
    pub request_timeout: Duration,
    /// After the shutdown signal: how long requests in flight may finish
    /// before their connections are closed.
    pub drain_timeout: Duration,
    /// Cross-origin requests from browsers; `None` answers none (a
    /// same-origin app or a gateway in front needs nothing).
    pub cors: Option<Cors>,
    /// Peers (load balancers, reverse proxies) whose forwarding header
    /// names the client; none by default, so the header is ignored and
    /// no client can pick the address login throttling sees.
    pub trusted_proxies: Networks,
    /// The header trusted proxies put the client address in.
    pub client_ip_header: String,
    /// A request carrying this value in [`GATEWAY_SECRET_HEADER`] is from
    /// the federation gateway (see `Config::federation_public`).
    pub gateway_secret: Option<String>,
    /// Peers that are the gateway, without a secret.
    pub gateway_addresses: Networks,
    /// Documents known by id (`documentId`, persisted-query hashes), and
    /// whether only they run ([`TrustedDocuments::only`]).
    pub trusted_documents: Option<Arc<TrustedDocuments>>,
    /// Apollo's automatic persisted queries: clients register documents
    /// by hash (development; no safelist).
    pub apq: bool,
    /// Serve Prometheus metrics at `/metrics` (see the crate's `metrics`
    /// module for the series).
    pub metrics: bool,
    /// The service's own REST endpoints, beside the generated resources.
    pub endpoints: Vec<Endpoint>,
    /// The API's name and version in its OpenAPI document.
    pub title: String,
    pub version: String,
    /// Other apps' routers, each under its path (`/admin`), behind the same
    /// limits, timeouts and request ids as the API.
    pub mounts: Vec<(String, Router)>,
    /// GraphQL over WebSocket (subscriptions): what one connection may hold.
    pub ws: WsLimits,
}

/// The header that carries a request's id, in and out.
pub const REQUEST_ID: &str = "x-request-id";

/// The header the gateway sends its secret in.
pub const GATEWAY_SECRET_HEADER: &str = "x-gateway-secret";

/// Which browser origins may call the API, and how.
#[derive(Debug, Clone)]
pub struct Cors {
    /// Exact origins (`https://app.example.com`); `*` for any (then
    /// without credentials, as browsers require).
    pub origins: Vec<String>,
    /// Let browsers send cookies and `Authorization` across origins.
    pub credentials: bool,
    /// How long a browser may cache a preflight answer.
    pub max_age: Duration,
}

impl Cors {
    fn layer(&self) -> Result<tower_http::cors::CorsLayer, String> {
        use tower_http::cors::{AllowOrigin, CorsLayer};
        let origin = if self.origins.iter().any(|o| o == "*") {
            if self.credentials {
                return Err("CORS: credentials cannot be allowed for any origin (`*`)".into());
            }
            AllowOrigin::any()
        } else {
            let list = self
                .origins
                .iter()
                .map(|o| {
                    HeaderValue::from_str(o.trim()).map_err(|_| format!("CORS: bad origin `{o}`"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            AllowOrigin::list(list)
        };
        use axum::http::Method;
        Ok(CorsLayer::new()
            .allow_origin(origin)
            // GraphQL's GET and POST, and REST's writes.
            .allow_methods([
                Method::GET,
                Method::POST,
                Method::PUT,
                Method::PATCH,
                Method::DELETE,
            ])
            .allow_headers([
                header::CONTENT_TYPE,
                header::AUTHORIZATION,
                header::ACCEPT,
                header::IF_MATCH,
                header::IF_NONE_MATCH,
                header::HeaderName::from_static(sessions::CSRF_HEADER),
            ])
            // What REST answers with, readable by the page's script.
            .expose_headers([
                header::ETAG,
                header::LINK,
                header::LOCATION,
                header::HeaderName::from_static("x-total-count"),
            ])
            .allow_credentials(self.credentials)
            .max_age(self.max_age))
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 8000)),
            body_limit: 1024 * 1024,
            graphiql: true,
            verifier: None,
            sessions: None,
            introspect: false,
            cookies: None,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            drain_timeout: Duration::from_secs(25),
            cors: None,
            trusted_proxies: Networks::default(),
            client_ip_header: "x-forwarded-for".into(),
            gateway_secret: None,
            gateway_addresses: Networks::default(),
            trusted_documents: None,
            apq: false,
            metrics: true,
            endpoints: Vec::new(),
            title: "graphloom service".into(),
            version: "0.0.0".into(),
            mounts: Vec::new(),
            ws: WsLimits::default(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct AppState {
    api: Api,
    graphiql: bool,
    verifier: Option<Arc<Verifier>>,
    sessions: Option<Arc<dyn SessionCheck>>,
    cookies: Option<Arc<dyn CookieAuth>>,
    request_timeout: Duration,
    trusted_proxies: Networks,
    client_ip_header: String,
    gateway_secret: Option<String>,
    gateway_addresses: Networks,
    trusted_documents: Option<Arc<TrustedDocuments>>,
    apq: Option<Arc<Apq>>,
    /// Requests are counted for `/metrics`.
    metrics: bool,
    /// The OpenAPI document, rendered once (`None` while introspection is off).
    openapi: Option<Arc<str>>,
    body_limit: usize,
    ws: WsLimits,
    ws_clients: Arc<ws::Clients>,
}

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
/// Documents the APQ store keeps (the newest).
const APQ_DOCUMENTS: usize = 1_000;
const JSON: &str = "application/json";

/// Why a router cannot be built from its settings.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    #[error("{0}")]
    Config(String),
}

/// The routes of a service.
pub fn router(api: Api, config: &ServerConfig) -> Result<Router, ServerError> {
    let mut router = Router::new()
        .route("/graphql", get(get_or_upgrade).post(post_graphql))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/api/{resource}", get(rest::list).post(rest::create))
        .route(
            "/api/{resource}/{id}",
            get(rest::detail).patch(rest::update).delete(rest::delete),
        );
    // The service's own endpoints, each path with all its methods.
    let reg = api.engine().registry();
    let resources: Vec<&str> = openapi::resources(reg)
        .map(|m| m.plural_name.as_str())
        .collect();
    // Checked first: the router panics on routes it cannot tell apart.
    endpoint::check_all(&config.endpoints, &resources).map_err(ServerError::Config)?;
    let mut by_path: BTreeMap<&str, Vec<&Endpoint>> = BTreeMap::new();
    for e in &config.endpoints {
        by_path.entry(e.path.as_str()).or_default().push(e);
    }
    for (path, endpoints) in by_path {
        let mut methods = axum::routing::MethodRouter::new();
        for e in endpoints {
            let filter = axum::routing::MethodFilter::try_from(e.method.clone()).map_err(|_| {
                ServerError::Config(format!("endpoint {path}: method {}", e.method))
            })?;
            let e = Arc::new(e.clone());
            methods = methods.on(
                filter,
                move |state: State<Arc<AppState>>,
                      params: rest::PathParams,
                      query: axum::extract::Query<Vec<(String, String)>>,
                      headers: HeaderMap,
                      peer: Peer,
                      body: Result<Bytes, BytesRejection>| {
                    rest::endpoint(Arc::clone(&e), state, params, query, headers, peer, body)
                },
            );
        }
        router = router.route(path, methods);
    }
    // The document is rendered here, once: the registry and endpoints are
    // fixed, and a clash between them stops the start.
    let openapi = openapi::document(
        reg,
        &openapi::Info {
            title: &config.title,
            version: &config.version,
            default_page: api.runtime().config.default_page_size,
            max_page: api.runtime().config.max_page_size,
            endpoints: &config.endpoints,
        },
    )
    .map_err(ServerError::Config)?;
    let openapi = api
        .runtime()
        .config
        .introspection
        .then(|| Arc::<str>::from(openapi.to_string()));
    if openapi.is_some() {
        router = router.route("/api/openapi.json", get(openapi_json));
        if config.graphiql {
            router = router
                .route("/api/docs", get(redoc::page))
                .route(redoc::ASSETS, get(redoc::asset));
        }
    }
    if let Some(v) = config.verifier.as_ref().filter(|v| v.has_public_keys()) {
        let jwks = v.jwks().to_string();
        router = router.route(
            "/.well-known/jwks.json",
            get(move || {
                let jwks = jwks.clone();
                async move { ([(header::CONTENT_TYPE, JSON)], jwks) }
            }),
        );
    }
    if config.graphiql {
        router = router.route(graphiql::ASSETS, get(graphiql::asset));
    }
    if config.introspect && config.sessions.is_some() {
        router = router.route("/auth/introspect", axum::routing::post(introspect));
    }
    let metrics_handle = config.metrics.then(metrics::handle).flatten();
    if let Some(handle) = metrics_handle {
        router = router.route(
            "/metrics",
            get(move |State(state): State<Arc<AppState>>| async move {
                (
                    [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
                    metrics::render(handle, state.api.db()),
                )
            }),
        );
    }
    for (path, mounted) in &config.mounts {
        router = router.nest_service(path, mounted.clone());
    }
    if let Some(cors) = &config.cors {
        router = router.layer(cors.layer().map_err(ServerError::Config)?);
    }
    use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
    Ok(router
        .layer(DefaultBodyLimit::max(config.body_limit))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            config.body_timeout,
        ))
        // Each request's log lines carry its id: the client's or the
        // gateway's `x-request-id`, else a new UUID, sent back in the
        // response.
        .layer(
            tower_http::trace::TraceLayer::new_for_http().make_span_with(
                |req: &axum::http::Request<axum::body::Body>| {
                    let id = req
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    // At error level, so that whatever level the log is
                    // at, every line a request writes names it.
                    let span = tracing::error_span!("request", method = %req.method(), uri = %req.uri(), request_id = %id);
                    // The gateway's trace goes on here (W3C traceparent).
                    #[cfg(feature = "otel")]
                    {
                        use tracing_opentelemetry::OpenTelemetrySpanExt;
                        let parent = opentelemetry::global::get_text_map_propagator(|p| {
                            p.extract(&opentelemetry_http::HeaderExtractor(req.headers()))
                        });
                        let _ = span.set_parent(parent);
                    }
                    span
                },
            ),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .with_state(Arc::new(AppState {
            api,
            graphiql: config.graphiql,
            verifier: config.verifier.clone(),
            sessions: config.sessions.clone(),
            cookies: config.cookies.clone(),
            request_timeout: config.request_timeout,
            trusted_proxies: config.trusted_proxies.clone(),
            client_ip_header: config.client_ip_header.to_ascii_lowercase(),
            gateway_secret: config.gateway_secret.clone().filter(|s| !s.is_empty()),
            gateway_addresses: config.gateway_addresses.clone(),
            trusted_documents: config.trusted_documents.clone(),
            apq: config.apq.then(|| Arc::new(Apq::new(APQ_DOCUMENTS))),
            metrics: metrics_handle.is_some(),
            openapi,
            body_limit: config.body_limit,
            ws: config.ws.clone(),
            ws_clients: Arc::default(),
        })))
}

/// `GET /api/openapi.json`.
async fn openapi_json(State(state): State<Arc<AppState>>) -> Response {
    match &state.openapi {
        Some(doc) => ([(header::CONTENT_TYPE, JSON)], doc.to_string()).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Serves until `shutdown` completes, then lets requests in flight finish
/// (up to `drain_timeout`).
///
/// Connections are served by hyper directly rather than `axum::serve`, for
/// the header-read timeout: without one, a client that sends half its
/// headers holds a connection (and its task) forever.
pub async fn serve(
    api: Api,
    config: &ServerConfig,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::{
        rt::{TokioIo, TokioTimer},
        service::TowerToHyperService,
    };
    let listener = tokio::net::TcpListener::bind(config.addr).await?;
    tracing::info!(
        "graphloom: serving GraphQL on http://{}/graphql",
        listener.local_addr()?
    );
    let app = router(api, config).map_err(std::io::Error::other)?;
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_timeout);
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut connections = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait, do not spin.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            // Closed connections are reaped as they end.
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            // The listener closes at once: readiness probes (and every new
            // connection) are refused from the signal on.
            () = &mut shutdown => break,
        };
        let busy = Arc::new(AtomicUsize::new(0));
        let svc = TowerToHyperService::new(
            app.clone()
                .layer(axum::Extension(axum::extract::ConnectInfo(peer)))
                .layer(axum::Extension(ws::Stopping(stopping.clone()))),
        );
        // Each request holds its connection's place from when it is read
        // until its response body has been sent (or dropped).
        let counted = hyper::service::service_fn({
            let busy = Arc::clone(&busy);
            move |req: hyper::Request<hyper::body::Incoming>| {
                busy.fetch_add(1, Ordering::AcqRel);
                let guard = Answering(Arc::clone(&busy));
                let answer = hyper::service::Service::call(&svc, req);
                async move {
                    answer.await.map(|res| {
                        res.map(|body| Tracked {
                            body,
                            _guard: guard,
                        })
                    })
                }
            }
        });
        // An upgraded connection (a WebSocket) leaves this set: it closes
        // itself on `stopping`.
        let conn = http
            .serve_connection(TokioIo::new(stream), counted)
            .with_upgrades();
        let mut stopping = stopping.clone();
        connections.spawn(async move {
            tokio::pin!(conn);
            tokio::select! {
                ended = conn.as_mut() => {
                    if let Err(e) = ended {
                        tracing::debug!(error = %e, "connection closed with an error");
                    }
                    return;
                }
                _ = stopping.wait_for(|stop| *stop) => {}
            }
            // Draining: a connection with no request being answered (idle,
            // or still sending one that was never read whole) closes now;
            // one being answered closes after its response.
            if busy.load(Ordering::Acquire) == 0 {
                return;
            }
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        });
    }
    drop(listener);
    let _ = stop.send(true);
    let drained = tokio::time::timeout(config.drain_timeout, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("requests still running after the drain timeout; closing them");
        connections.abort_all();
    }
    Ok(())
}

/// Decrements its connection's count when dropped.
struct Answering(Arc<AtomicUsize>);

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that holds its request's place until it is done.
struct Tracked {
    body: axum::body::Body,
    _guard: Answering,
}

impl axum::body::HttpBody for Tracked {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Ready while the database answers: PostgreSQL's from its probe's last
/// answer (at once), SQLite's from a ping, which may take at most a second
/// (the busy file of a long write).
async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    match tokio::time::timeout(Duration::from_secs(1), state.api.db().ready()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready").into_response(),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
        Err(_) => {
            tracing::warn!("readiness check: no answer from the database within 1 s");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

/// A request-level failure: fixed status, GraphQL error body.
fn reject(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Response {
    let body = serde_json::json!({
        "errors": [{ "message": message.into(), "extensions": { "code": code.as_str() } }]
    });
    let mut res = (status, body.to_string()).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    retry_if_unavailable(res)
}

/// A 503 tells clients and load balancers to try again in a second.
fn retry_if_unavailable(mut res: Response) -> Response {
    if res.status() == StatusCode::SERVICE_UNAVAILABLE {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    res
}

/// Which response media type the client accepts.
fn negotiate(headers: &HeaderMap) -> Option<&'static str> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Some(JSON);
    };
    let types: Vec<&str> = accept
        .split(',')
        .map(|t| t.split(';').next().unwrap_or("").trim())
        .collect();
    if types.contains(&sse::EVENT_STREAM) {
        Some(sse::EVENT_STREAM)
    } else if types.contains(&GRAPHQL_RESPONSE) {
        Some(GRAPHQL_RESPONSE)
    } else if types
        .iter()
        .any(|t| *t == JSON || *t == "*/*" || *t == "application/*")
    {
        Some(JSON)
    } else {
        None
    }
}

/// A row's key as one URL path segment: `apollo/router v2` as
/// `apollo%2Frouter%20v2`. Everything but RFC 3986's unreserved
/// characters is escaped, so a text key can never change the path's shape.
pub fn path_segment(key: &str) -> String {
    const ESCAPED: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(key, ESCAPED).to_string()
}

/// Compares a presented secret without stopping at the first difference
/// (the time taken says nothing of how much of it was right).
pub fn same_secret(given: &[u8], secret: &[u8]) -> bool {
    given.len() == secret.len()
        && given
            .iter()
            .zip(secret)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// `POST /auth/introspect` with `{"token": "…"}`: whether the token is
/// valid and its session live (RFC 7662's `active`), with the user's
/// flags as they are now. Verify-only services ask it (see
/// [`sessions`]); only the token's holder learns anything, and nothing
/// they did not already hold.
async fn introspect(State(state): State<Arc<AppState>>, body: Bytes) -> Response {
    #[derive(Deserialize)]
    struct Asked {
        token: String,
    }
    let Ok(asked) = serde_json::from_slice::<Asked>(&body) else {
        return reject(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            r#"send {"token": "<access token>"}"#,
        );
    };
    let inactive = || ([(header::CONTENT_TYPE, JSON)], r#"{"active":false}"#).into_response();
    let (Some(verifier), Some(sessions)) = (&state.verifier, &state.sessions) else {
        return inactive();
    };
    let Ok(claims) = verifier.verify(asked.token.trim()) else {
        return inactive();
    };
    match sessions.check(asked.token.trim(), &claims).await {
        Ok(Session::Live { staff, superuser }) => {
            let body = serde_json::json!({
                "active": true,
                "sub": claims.sub,
                "sid": claims.sid,
                "exp": claims.exp,
                "staff": staff,
                "superuser": superuser,
            });
            ([(header::CONTENT_TYPE, JSON)], body.to_string()).into_response()
        }
        Ok(Session::Ended) => inactive(),
        Err(e) => reject(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ServiceUnavailable,
            e.to_string(),
        ),
    }
}

/// The principal of a browser's session cookie, when cookie sessions are
/// on and the request carries one. It must pass the CSRF check first: the
/// `X-CSRF-Token` header equal to the CSRF cookie, which a page of another
/// site can neither read nor set (403 otherwise); an ended session is 401.
async fn cookie_principal(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Principal>, Refusal> {
    use sessions::{CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE, cookie};
    let Some(auth) = &state.cookies else {
        return Ok(None);
    };
    let jar: Vec<&str> = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let find = |name: &str| jar.iter().find_map(|h| cookie(h, name));
    let Some(secret) = find(SESSION_COOKIE).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let sent = headers.get(CSRF_HEADER).map(HeaderValue::as_bytes);
    let expected = find(CSRF_COOKIE).filter(|c| !c.is_empty());
    match (sent, expected) {
        (Some(sent), Some(expected)) if same_secret(sent, expected.as_bytes()) => {}
        _ => {
            return Err(Refusal::new(
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                format!(
                    "a request authenticated by its session cookie needs the {CSRF_HEADER} header, equal to the {CSRF_COOKIE} cookie"
                ),
            ));
        }
    }
    match auth.authenticate(secret).await {
        Ok(Some(p)) => Ok(Some(p)),
        Ok(None) => {
            let mut refusal = Refusal::new(
                StatusCode::UNAUTHORIZED,
                ErrorCode::Unauthenticated,
                "the session has ended; log in again",
            );
            // Let the browser drop the dead cookie.
            if let Ok(v) = HeaderValue::from_str(&format!(
                "{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax"
            )) {
                refusal.headers.push((header::SET_COOKIE, v));
            }
            Err(refusal)
        }
        Err(e) => Err(Refusal::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ServiceUnavailable,
            e.to_string(),
        )),
    }
}

/// A request refused for its credentials before any surface runs. Each
/// surface renders it as its own errors look (GraphQL's `errors`, REST's
/// problem details) with the same status, code and headers.
pub(crate) struct Refusal {
    pub(crate) status: StatusCode,
    pub(crate) code: ErrorCode,
    pub(crate) message: String,
    headers: Vec<(header::HeaderName, HeaderValue)>,
}

impl Refusal {
    fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Refusal {
        let mut headers = Vec::new();
        if status == StatusCode::UNAUTHORIZED {
            headers.push((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
        }
        Refusal {
            status,
            code,
            message: message.into(),
            headers,
        }
    }

    /// A body that could not be read: over the limit (413), or broken (400).
    pub(crate) fn of_body(e: &BytesRejection) -> Refusal {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Refusal::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                "the request body is larger than the server accepts",
            )
        } else {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadRequest,
                e.body_text(),
            )
        }
    }

    /// The response `body` builds, with this refusal's headers.
    pub(crate) fn render(self, body: fn(StatusCode, ErrorCode, String) -> Response) -> Response {
        let mut res = body(self.status, self.code, self.message);
        for (name, value) in self.headers {
            res.headers_mut().append(name, value);
        }
        res
    }
}

/// The request's context: headers, and the principal of a valid bearer
/// token whose session is live. A token that is present but not valid, or
/// whose session ended, refuses the request (401); a session that cannot
/// be checked, 503.
pub(crate) async fn request_context(
    state: &AppState,
    headers: &HeaderMap,
    client: Option<SocketAddr>,
) -> Result<Arc<RequestContext>, Refusal> {
    let unauthenticated = |message: String| {
        Refusal::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthenticated,
            message,
        )
    };
    let principal = match headers.get(header::AUTHORIZATION) {
        None => cookie_principal(state, headers).await?,
        Some(value) => {
            let value = value.to_str().unwrap_or("");
            let Some(token) = value
                .strip_prefix("Bearer ")
                .or_else(|| value.strip_prefix("bearer "))
            else {
                return Err(unauthenticated(
                    "use `Authorization: Bearer <token>`".into(),
                ));
            };
            let Some(verifier) = &state.verifier else {
                return Err(unauthenticated("this service accepts no tokens".into()));
            };
            let claims = match verifier.verify(token.trim()) {
                Ok(claims) => claims,
                Err(e) => return Err(unauthenticated(e.to_string())),
            };
            let now = match &state.sessions {
                None => None,
                Some(sessions) => match sessions.check(token.trim(), &claims).await {
                    Ok(Session::Live { staff, superuser }) => Some((staff, superuser)),
                    Ok(Session::Ended) => {
                        return Err(unauthenticated(
                            "the session has ended (logged out, revoked, the password changed or the account deactivated); log in again".into(),
                        ));
                    }
                    Err(e) => {
                        return Err(Refusal::new(
                            StatusCode::SERVICE_UNAVAILABLE,
                            ErrorCode::ServiceUnavailable,
                            e.to_string(),
                        ));
                    }
                },
            };
            let mut principal = Principal::from(claims);
            if let Some((staff, superuser)) = now {
                principal.staff = staff;
                principal.superuser = superuser;
            }
            Some(principal)
        }
    };
    let headers_in = headers;
    let from_gateway = state.gateway_secret.as_ref().is_some_and(|secret| {
        headers
            .get(GATEWAY_SECRET_HEADER)
            .is_some_and(|v| same_secret(v.as_bytes(), secret.as_bytes()))
    }) || client.is_some_and(|a| state.gateway_addresses.contains(a.ip()));
    let headers: BTreeMap<String, String> = headers
        .iter()
        .filter(|(k, _)| *k != header::AUTHORIZATION && k.as_str() != GATEWAY_SECRET_HEADER)
        .filter_map(|(k, v)| {
            v.to_str()
                .ok()
                .map(|v| (k.as_str().to_owned(), v.to_owned()))
        })
        .collect();
    Ok(Arc::new(RequestContext {
        headers,
        principal,
        gateway: from_gateway,
        client: client.map(|a| {
            client_address(
                a.ip(),
                headers_in,
                &state.trusted_proxies,
                &state.client_ip_header,
            )
            .to_string()
        }),
    }))
}

/// The peer address, when the server was started with connect info.
pub(crate) type Peer = Option<axum::Extension<axum::extract::ConnectInfo<SocketAddr>>>;

/// How a request names its document besides (or instead of) its text.
struct Named {
    /// `documentId`, or `extensions.persistedQuery.sha256Hash`.
    id: Option<String>,
    /// Sent with GET: only a query may run.
    get: bool,
    /// The server's shutdown, which ends an event stream.
    stopping: Option<ws::Stopping>,
}

/// `extensions.persistedQuery.sha256Hash` (version 1), when present.
fn persisted_hash(request: &async_graphql::Request) -> Option<String> {
    let async_graphql::Value::Object(pq) = request.extensions.get("persistedQuery")? else {
        return None;
    };
    match pq.get("sha256Hash") {
        Some(async_graphql::Value::String(h)) => Some(h.clone()),
        _ => None,
    }
}

async fn execute(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    peer: Peer,
    media: &'static str,
    mut request: async_graphql::Request,
    named: Named,
) -> Response {
    let client = peer.map(|p| (p.0).0);
    let context = match request_context(state, headers, client).await {
        Ok(c) => c,
        Err(refusal) => return refusal.render(reject),
    };
    let id = named.id.or_else(|| persisted_hash(&request));
    let settled = documents::settle(
        state.trusted_documents.as_deref(),
        state.apq.as_deref(),
        &mut request.query,
        id.as_deref(),
        context.gateway,
    );
    if let Err(refusal) = settled {
        let (code, message) = refusal.explain();
        // Request errors: 400 under graphql-response+json, 200 under JSON;
        // a malformed request is 400 under both.
        let status = if media == GRAPHQL_RESPONSE || code == ErrorCode::BadRequest {
            StatusCode::BAD_REQUEST
        } else {
            StatusCode::OK
        };
        return reject(status, code, message);
    }
    if named.get
        && let Some(res) = refuse_mutation_on_get(
            &request.query,
            request.operation_name.as_deref(),
            media == sse::EVENT_STREAM,
        )
    {
        return res;
    }
    if media == sse::EVENT_STREAM {
        return sse::respond(state, headers, client, context, request, named.stopping).await;
    }
    let started = std::time::Instant::now();
    let operation = state
        .metrics
        .then(|| metrics::operation(request.operation_name.as_deref()));
    // For traces (debug: free in the log's default `info`).
    let span = tracing::debug_span!(
        target: "graphloom::graphql",
        "graphql",
        operation = request.operation_name.as_deref().unwrap_or("anonymous")
    );
    let Ok(response) = tokio::time::timeout(
        state.request_timeout,
        tracing::Instrument::instrument(state.api.execute_as(request, (*context).clone()), span),
    )
    .await
    else {
        tracing::warn!(timeout = ?state.request_timeout, "a request ran out of time");
        if let Some(op) = operation {
            metrics::request(
                op,
                ErrorCode::ServiceUnavailable.as_str(),
                started.elapsed().as_secs_f64(),
                0,
            );
        }
        return reject(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ServiceUnavailable,
            "the request took longer than the server allows",
        );
    };
    // A request that never reached execution (syntax, validation) is a client error
    // under application/graphql-response+json; application/json keeps 200. One
    // that failed whole because the database is away is the server's: 503,
    // which load balancers and clients know to retry.
    if let Some(op) = operation {
        metrics::request(
            op,
            metrics::outcome(&response),
            started.elapsed().as_secs_f64(),
            response.statements,
        );
    }
    let status = if response.failed_with(ErrorCode::ServiceUnavailable) {
        StatusCode::SERVICE_UNAVAILABLE
    } else if media == GRAPHQL_RESPONSE && response.failed_early() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = match response.to_json() {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "cannot serialise a GraphQL response");
            return reject(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::InternalServerError,
                "Internal server error",
            );
        }
    };
    let mut res = (status, body).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(media));
    for c in &response.set_cookies {
        if let Ok(v) = HeaderValue::from_str(c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    retry_if_unavailable(res)
}

async fn post_graphql(
    State(state): State<Arc<AppState>>,
    stopping: Option<axum::Extension<ws::Stopping>>,
    peer: Peer,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Some(media) = negotiate(&headers) else {
        return reject(
            StatusCode::NOT_ACCEPTABLE,
            ErrorCode::NotAcceptable,
            format!(
                "accept {GRAPHQL_RESPONSE}, {JSON} or {} (subscriptions)",
                sse::EVENT_STREAM
            ),
        );
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // `application/json`, parameters (charset) allowed; nothing that merely
    // starts like it (`application/jsonx`).
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if !essence.eq_ignore_ascii_case(JSON) {
        return reject(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "send the request as application/json",
        );
    }
    // A compressed body would be read as JSON and fail oddly; say so.
    let identity = |v: &HeaderValue| {
        v.to_str()
            .is_ok_and(|e| e.trim().eq_ignore_ascii_case("identity"))
    };
    if headers
        .get(header::CONTENT_ENCODING)
        .is_some_and(|v| !identity(v))
    {
        return reject(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "compressed bodies are not accepted: send the body without Content-Encoding",
        );
    }
    let body = match body {
        Ok(b) => b,
        Err(e) => return Refusal::of_body(&e).render(reject),
    };
    let request: async_graphql::Request = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return reject(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadRequest,
                format!("the body is not a GraphQL request: {e}"),
            );
        }
    };
    // `documentId` is read only when there is no text: the common request
    // pays nothing for it.
    #[derive(Deserialize)]
    struct DocumentId {
        #[serde(rename = "documentId")]
        document_id: Option<String>,
    }
    let id = if request.query.trim().is_empty() {
        serde_json::from_slice::<DocumentId>(&body)
            .ok()
            .and_then(|d| d.document_id)
    } else {
        None
    };
    execute(
        &state,
        &headers,
        peer,
        media,
        request,
        Named {
            id,
            get: false,
            stopping: stopping.map(|s| s.0),
        },
    )
    .await
}

#[derive(Debug, Deserialize)]
struct GetParams {
    query: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
    #[serde(rename = "documentId")]
    document_id: Option<String>,
}

/// `GET /graphql`: a WebSocket upgrade (subscriptions), or a query.
async fn get_or_upgrade(
    upgrade: Result<
        axum::extract::WebSocketUpgrade,
        axum::extract::ws::rejection::WebSocketUpgradeRejection,
    >,
    stopping: Option<axum::Extension<ws::Stopping>>,
    state: State<Arc<AppState>>,
    peer: Peer,
    headers: HeaderMap,
    raw: RawQuery,
) -> Response {
    match upgrade {
        Ok(upgrade) => ws::upgrade(
            state.0,
            upgrade,
            headers,
            peer.map(|p| (p.0).0),
            stopping.map(|s| s.0.clone()),
        ),
        Err(_) => get_graphql(state, stopping, peer, headers, raw).await,
    }
}

async fn get_graphql(
    State(state): State<Arc<AppState>>,
    stopping: Option<axum::Extension<ws::Stopping>>,
    peer: Peer,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let params: GetParams = match parse_get_params(raw.as_deref().unwrap_or("")) {
        Ok(p) => p,
        Err(e) => return reject(StatusCode::BAD_REQUEST, ErrorCode::BadRequest, e),
    };
    let wants_html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"));
    let named =
        params.query.is_none() && (params.document_id.is_some() || params.extensions.is_some());
    let Some(query) = params.query.or_else(|| named.then(String::new)) else {
        if wants_html && state.graphiql {
            return graphiql::page();
        }
        return reject(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            "the request has no query",
        );
    };
    let Some(media) = negotiate(&headers) else {
        return reject(
            StatusCode::NOT_ACCEPTABLE,
            ErrorCode::NotAcceptable,
            format!(
                "accept {GRAPHQL_RESPONSE}, {JSON} or {} (subscriptions)",
                sse::EVENT_STREAM
            ),
        );
    };
    // Build the same JSON a POST would carry, so both paths decode alike.
    let mut body = serde_json::Map::new();
    body.insert("query".into(), serde_json::Value::String(query));
    if let Some(name) = params.operation_name {
        body.insert("operationName".into(), serde_json::Value::String(name));
    }
    for (key, raw) in [
        ("variables", params.variables),
        ("extensions", params.extensions),
    ] {
        let Some(raw) = raw.filter(|v| !v.is_empty()) else {
            continue;
        };
        match serde_json::from_str::<serde_json::Value>(&raw) {
            Ok(v) => {
                body.insert(key.into(), v);
            }
            Err(e) => {
                return reject(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::BadRequest,
                    format!("`{key}` is not JSON: {e}"),
                );
            }
        }
    }
    let request: async_graphql::Request = match serde_json::from_value(body.into()) {
        Ok(r) => r,
        Err(e) => {
            return reject(
                StatusCode::BAD_REQUEST,
                ErrorCode::BadRequest,
                format!("not a GraphQL request: {e}"),
            );
        }
    };
    let named = Named {
        id: params.document_id,
        get: true,
        stopping: stopping.map(|s| s.0),
    };
    execute(&state, &headers, peer, media, request, named).await
}

/// GET must not change anything: a mutation is refused before it runs. A
/// subscription may come by GET as an event stream (browsers' EventSource
/// and gateways send it so).
fn refuse_mutation_on_get(
    query: &str,
    operation_name: Option<&str>,
    stream: bool,
) -> Option<Response> {
    let doc = parse_query(query).ok()?;
    let op = match operation_name {
        Some(name) => doc
            .operations
            .iter()
            .find(|(n, _)| n.is_some_and(|n| n.as_str() == name))
            .map(|(_, o)| o),
        None => doc.operations.iter().next().map(|(_, o)| o),
    };
    let allowed = |ty: OperationType| {
        ty == OperationType::Query || (stream && ty == OperationType::Subscription)
    };
    if op.is_some_and(|o| !allowed(o.node.ty)) {
        let mut res = reject(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::MethodNotAllowed,
            "only queries (and subscriptions as an event stream) can be sent with GET; use POST",
        );
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return Some(res);
    }
    None
}

fn parse_get_params(raw: &str) -> Result<GetParams, String> {
    axum::extract::Query::<GetParams>::try_from_uri(
        &format!("/?{raw}")
            .parse()
            .map_err(|_| "the query string is malformed".to_owned())?,
    )
    .map(|q| q.0)
    .map_err(|e| e.body_text())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_path_segment_escapes_all_but_the_unreserved() {
        assert_eq!(
            super::path_segment("apollo-federation"),
            "apollo-federation"
        );
        assert_eq!(super::path_segment("a_b.c~d"), "a_b.c~d");
        assert_eq!(
            super::path_segment("apollo/router v2?x#y%"),
            "apollo%2Frouter%20v2%3Fx%23y%25"
        );
        assert_eq!(super::path_segment("é"), "%C3%A9");
    }
}
