//! The commands every service binary offers, like Django's `manage.py`. Each
//! option can also come from the environment variable named in its help.

use std::net::SocketAddr;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use graphloom_db::Database;
use graphloom_graphql::{Config, Limits};
use graphloom_server::ServerConfig;

use crate::Service;

/// The command line of a service with only the built-in commands.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process: the size of the serve variant costs nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Serve GraphQL over HTTP (GraphiQL at /graphql); applies pending migrations first.
    Serve(ServeArgs),
    /// Apply migrations: all, one app's, or up or down to a named migration (`zero`: none).
    Migrate(MigrateArgs),
    /// Write migration files for model changes (diffs the files against the models).
    Makemigrations(crate::makemigrations::MakeArgs),
    /// List every migration and whether it is applied.
    Showmigrations(DbArgs),
    /// Print the SQL of a migration for the database's dialect.
    Sqlmigrate(SqlmigrateArgs),
    /// Print the GraphQL schema (SDL); `--federation` prints the subgraph SDL.
    Schema(SchemaArgs),
    /// Run the start-up checks of the models and exit.
    Check,
    /// Create a superuser (auth app); asks for the password unless --no-input
    /// (then GRAPHLOOM_SUPERUSER_PASSWORD).
    Createsuperuser(CreatesuperuserArgs),
    /// Set a user's password (auth app) and end their sessions.
    Changepassword(ChangepasswordArgs),
}

#[derive(Debug, Clone, Args)]
pub struct CreatesuperuserArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[arg(long)]
    pub username: Option<String>,
    #[arg(long)]
    pub email: Option<String>,
    /// Take everything from flags and GRAPHLOOM_SUPERUSER_PASSWORD.
    #[arg(long)]
    pub no_input: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ChangepasswordArgs {
    #[command(flatten)]
    pub db: DbArgs,
    pub username: String,
    /// Take the password from GRAPHLOOM_PASSWORD instead of asking.
    #[arg(long)]
    pub no_input: bool,
}

/// Reads a password: from `env` without a terminal, else asked twice.
fn read_password(no_input: bool, env: &str) -> anyhow::Result<String> {
    if no_input {
        return std::env::var(env)
            .with_context(|| format!("--no-input needs the password in {env}"));
    }
    let first = rpassword::prompt_password("Password: ")?;
    let second = rpassword::prompt_password("Password (again): ")?;
    if first != second {
        anyhow::bail!("the passwords differ");
    }
    Ok(first)
}

fn read_line(prompt: &str) -> anyhow::Result<String> {
    use std::io::Write;
    print!("{prompt}");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    Ok(line.trim().to_owned())
}

#[derive(Debug, Clone, Default, Args)]
pub struct DbArgs {
    /// Database URL: sqlite:<file>, sqlite::memory:, or postgres://user:pass@host/db.
    /// Default: sqlite:<service>.sqlite3 in the working directory.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: Option<String>,
    /// Connections in the pool (default: twice the CPUs, 2 to 8, on SQLite; 10 on PostgreSQL).
    #[arg(long, env = "GRAPHLOOM_DB_POOL_SIZE")]
    pub db_pool_size: Option<u32>,
    /// How long a SQLite write waits for the write lock, in milliseconds,
    /// before it fails as SERVICE_UNAVAILABLE.
    #[arg(long, env = "GRAPHLOOM_DB_BUSY_TIMEOUT_MS")]
    pub db_busy_timeout_ms: Option<u64>,
    /// How long a request waits for a free connection, in milliseconds.
    #[arg(long, env = "GRAPHLOOM_DB_ACQUIRE_TIMEOUT_MS")]
    pub db_acquire_timeout_ms: Option<u64>,
    /// How long one statement may run, in milliseconds (0: no limit); a
    /// longer one is cancelled and the request gets SERVICE_UNAVAILABLE.
    /// On SQLite it bounds the statements of one read or one transaction
    /// together. Default 30000.
    #[arg(long, env = "GRAPHLOOM_DB_STATEMENT_TIMEOUT_MS")]
    pub db_statement_timeout_ms: Option<u64>,
    /// How often PostgreSQL is asked whether it answers, in milliseconds
    /// (0: never). While it does not, requests fail at once with
    /// SERVICE_UNAVAILABLE and /readyz answers 503. Default 500.
    #[arg(long, env = "GRAPHLOOM_DB_PROBE_INTERVAL_MS")]
    pub db_probe_interval_ms: Option<u64>,
    /// How much of a SQLite file is read through a memory map, in bytes
    /// (0: none). Default 268435456 (256 MiB).
    #[arg(long, env = "GRAPHLOOM_SQLITE_MMAP_SIZE")]
    pub sqlite_mmap_size: Option<u64>,
}

#[derive(Debug, Clone, Args)]
pub struct SchemaArgs {
    /// The Apollo Federation v2 subgraph SDL, as `_service { sdl }` returns it.
    #[arg(long)]
    pub federation: bool,
    /// With `--federation`: include `@authenticated` / `@requiresScopes` / `@policy`
    /// derived from the permission rules (as `serve --auth-directives` does).
    #[arg(long, env = "GRAPHLOOM_AUTH_DIRECTIVES", value_parser = clap::builder::BoolishValueParser::new(), default_value = "false")]
    pub auth_directives: bool,
    /// With `--federation`: `@listSize` and `@cost` for gateways that price
    /// operations (on by default, as `serve` prints them).
    #[arg(long, env = "GRAPHLOOM_COST_DIRECTIVES", value_parser = clap::builder::BoolishValueParser::new(), default_value = "true")]
    pub cost_directives: bool,
    /// The federation version the subgraph SDL links (2.0 to 2.9; the
    /// service's choice, else the latest, by default).
    #[arg(long, env = "GRAPHLOOM_FEDERATION_VERSION")]
    pub federation_version: Option<graphloom_graphql::FederationVersion>,
    /// Compare the schema with a published one (an SDL file) instead of
    /// printing it: each change is listed as breaking, dangerous or safe,
    /// and a breaking one makes the command exit with status 1.
    #[arg(long, value_name = "OLD.graphql", conflicts_with = "against_url")]
    pub diff: Option<std::path::PathBuf>,
    /// Compare with a running service instead (its `_service { sdl }` at
    /// this http:// URL, so the subgraph schemas are compared: the service
    /// must answer `_service` to this address).
    #[arg(long, value_name = "URL")]
    pub against_url: Option<String>,
    /// With --diff or --against-url: list breaking changes but exit 0.
    #[arg(long)]
    pub allow_breaking: bool,
    /// Check that this service's subgraph composes with the other
    /// subgraphs, NAME=FILE (their SDL) or NAME=http://… (a running
    /// service's `_service { sdl }`); repeat for each. Exits with status 1
    /// when a composer refuses; hints are printed.
    #[arg(long, value_name = "NAME=FILE|URL", value_parser = parse_subgraph_arg)]
    pub supergraph: Vec<(String, String)>,
    /// With --supergraph: the folder whose node_modules holds the
    /// composers (`npm ci --prefix composition`). Default `composition`.
    #[arg(long, value_name = "DIR", env = crate::compose::COMPOSER_DIR_ENV)]
    pub composer_dir: Option<std::path::PathBuf>,
}

fn parse_subgraph_arg(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((name, source)) if !name.is_empty() && !source.is_empty() => {
            Ok((name.to_owned(), source.to_owned()))
        }
        _ => Err(format!("`{s}` is not NAME=FILE or NAME=http://…")),
    }
}

#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Only this app (and what it depends on).
    pub app: Option<String>,
    /// A migration name of the app: forwards to it, or back to it if applied; `zero` unapplies all.
    pub target: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct SqlmigrateArgs {
    #[command(flatten)]
    pub db: DbArgs,
    pub app: String,
    pub name: String,
    /// The SQL that unapplies it.
    #[arg(long)]
    pub backwards: bool,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Address to listen on.
    #[arg(long, env = "GRAPHLOOM_ADDR", default_value = "127.0.0.1:8000")]
    pub addr: SocketAddr,
    #[command(flatten)]
    pub api: ApiArgs,
    /// Largest request body accepted, in bytes.
    #[arg(long, env = "GRAPHLOOM_BODY_LIMIT", default_value_t = 1024 * 1024)]
    pub body_limit: usize,
    /// Seconds a client may take to send a request's headers (or stay idle
    /// between requests) before its connection is closed.
    #[arg(long, env = "GRAPHLOOM_HEADER_TIMEOUT", default_value_t = 10)]
    pub header_timeout: u64,
    /// Seconds a client may take to send a request's body (408 after).
    #[arg(long, env = "GRAPHLOOM_BODY_TIMEOUT", default_value_t = 10)]
    pub body_timeout: u64,
    /// Seconds one request may run (503 after; its statements are cancelled).
    #[arg(long, env = "GRAPHLOOM_REQUEST_TIMEOUT", default_value_t = 30)]
    pub request_timeout: u64,
    /// Seconds requests in flight may take to finish after SIGTERM.
    #[arg(long, env = "GRAPHLOOM_DRAIN_TIMEOUT", default_value_t = 25)]
    pub drain_timeout: u64,
    /// Seconds a WebSocket client has to send `connection_init` (4408 after).
    #[arg(long, env = "GRAPHLOOM_WS_INIT_TIMEOUT", default_value_t = 10)]
    pub ws_init_timeout: u64,
    /// Seconds between the server's pings on an idle WebSocket.
    #[arg(long, env = "GRAPHLOOM_WS_KEEP_ALIVE", default_value_t = 15)]
    pub ws_keep_alive: u64,
    /// Operations (subscriptions) running at once on one WebSocket.
    #[arg(long, env = "GRAPHLOOM_WS_MAX_SUBSCRIPTIONS", default_value_t = 100)]
    pub ws_max_subscriptions: usize,
    /// Open WebSockets from one client address.
    #[arg(long, env = "GRAPHLOOM_WS_MAX_CONNECTIONS", default_value_t = 50)]
    pub ws_max_connections: usize,
    /// Messages waiting for a slow WebSocket client before it is dropped (1008).
    #[arg(long, env = "GRAPHLOOM_WS_QUEUE", default_value_t = 256)]
    pub ws_queue: usize,
    /// Serve GraphiQL to browsers (default: on, off with GRAPHLOOM_PRODUCTION).
    #[arg(long, env = "GRAPHLOOM_GRAPHIQL", value_parser = clap::builder::BoolishValueParser::new())]
    pub graphiql: Option<bool>,
    /// Serve Prometheus metrics at /metrics (default: on, off with
    /// GRAPHLOOM_PRODUCTION: turn it on where only the scraper reaches it).
    #[arg(long, env = "GRAPHLOOM_METRICS", value_parser = clap::builder::BoolishValueParser::new())]
    pub metrics: Option<bool>,
    /// Serve the admin for staff users (needs the auth app and signing keys).
    #[arg(long, env = "GRAPHLOOM_ADMIN", value_parser = clap::builder::BoolishValueParser::new(), default_value = "false")]
    pub admin: bool,
    /// Where the admin is served.
    #[arg(long, env = "GRAPHLOOM_ADMIN_PATH", default_value = "/admin")]
    pub admin_path: String,
    /// Origins allowed to call the API from a browser, comma-separated
    /// (`https://app.example.com`, or `*`); none by default.
    #[arg(long, env = "GRAPHLOOM_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// Let those origins send credentials (cookies, Authorization).
    #[arg(long, env = "GRAPHLOOM_CORS_CREDENTIALS", value_parser = clap::builder::BoolishValueParser::new(), default_value = "false")]
    pub cors_credentials: bool,
    /// Proxies whose forwarding header names the client, comma-separated
    /// addresses or networks (`10.0.0.0/8`); none by default.
    #[arg(long, env = "GRAPHLOOM_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: graphloom_server::Networks,
    /// The header those proxies put the client address in.
    #[arg(
        long,
        env = "GRAPHLOOM_CLIENT_IP_HEADER",
        default_value = "x-forwarded-for"
    )]
    pub client_ip_header: String,
    /// The secret the federation gateway sends in `x-gateway-secret`
    /// (configure the gateway to add it to subgraph requests).
    #[arg(long, env = "GRAPHLOOM_GATEWAY_SECRET", hide_env_values = true)]
    pub gateway_secret: Option<String>,
    /// A file holding the gateway secret (a trailing newline is ignored).
    #[arg(
        long,
        env = "GRAPHLOOM_GATEWAY_SECRET_FILE",
        conflicts_with = "gateway_secret"
    )]
    pub gateway_secret_file: Option<std::path::PathBuf>,
    /// Addresses or networks of the gateway, comma-separated: requests from
    /// them count as the gateway's without a secret.
    #[arg(long, env = "GRAPHLOOM_GATEWAY_ADDRESSES", default_value = "")]
    pub gateway_addresses: graphloom_server::Networks,
    /// Answer `_service` and `_entities` for every client (default: on,
    /// off with GRAPHLOOM_PRODUCTION: then only for the gateway).
    #[arg(long, env = "GRAPHLOOM_FEDERATION_PUBLIC", value_parser = clap::builder::BoolishValueParser::new())]
    pub federation_public: Option<bool>,
    /// A manifest of trusted documents, requested by `documentId` or
    /// persisted-query hash: Apollo's persisted query manifest or
    /// graphql-codegen's persisted-documents.json.
    #[arg(long, env = "GRAPHLOOM_TRUSTED_DOCUMENTS")]
    pub trusted_documents: Option<std::path::PathBuf>,
    /// Run only the manifest's documents (the gateway's requests excepted).
    #[arg(long, env = "GRAPHLOOM_TRUSTED_DOCUMENTS_ONLY", value_parser = clap::builder::BoolishValueParser::new(), default_value = "false", requires = "trusted_documents")]
    pub trusted_documents_only: bool,
    /// Let clients register documents by hash (Apollo's automatic
    /// persisted queries): for development, since anyone may register.
    #[arg(long, env = "GRAPHLOOM_APQ", value_parser = clap::builder::BoolishValueParser::new(), default_value = "false", conflicts_with = "trusted_documents_only")]
    pub apq: bool,
    /// Do not apply pending migrations at start-up.
    #[arg(long)]
    pub no_migrate: bool,
    #[command(flatten)]
    pub auth: AuthArgs,
}

/// The longest access-token lifetime `GRAPHLOOM_PRODUCTION` accepts, in seconds.
pub const MAX_PRODUCTION_ACCESS_TTL: u64 = 900;

/// How the service signs and verifies access tokens.
#[derive(Debug, Clone, Default, Args)]
pub struct AuthArgs {
    /// HS256 secret (at least 32 bytes): one service signs and verifies.
    #[arg(long, env = "GRAPHLOOM_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// A file holding the HS256 secret (a trailing newline is ignored): a
    /// mounted secret, never visible in the process list or environment.
    #[arg(long, env = "GRAPHLOOM_JWT_SECRET_FILE", conflicts_with = "jwt_secret")]
    pub jwt_secret_file: Option<std::path::PathBuf>,
    /// Ed25519 private key (PKCS#8 PEM file): sign with EdDSA and publish /.well-known/jwks.json.
    #[arg(long, env = "GRAPHLOOM_JWT_PRIVATE_KEY_FILE")]
    pub jwt_private_key_file: Option<std::path::PathBuf>,
    /// The key id published with the private key's public half.
    #[arg(long, env = "GRAPHLOOM_JWT_KID", default_value = "1")]
    pub jwt_kid: String,
    /// Retired public keys (a JWKS file) still accepted until their tokens expire.
    #[arg(long, env = "GRAPHLOOM_JWT_RETIRED_JWKS_FILE")]
    pub jwt_retired_jwks_file: Option<std::path::PathBuf>,
    /// Verify-only: trust the public keys of this JWKS file and hold no private key.
    #[arg(long, env = "GRAPHLOOM_JWKS_FILE")]
    pub jwks_file: Option<std::path::PathBuf>,
    /// Verify-only: fetch the JWKS at start-up from this http:// URL (the issuing
    /// service's /.well-known/jwks.json on the internal network).
    #[arg(long, env = "GRAPHLOOM_JWKS_URL")]
    pub jwks_url: Option<String>,
    /// The `iss` tokens carry and must carry.
    #[arg(long, env = "GRAPHLOOM_JWT_ISSUER", default_value = "graphloom")]
    pub jwt_issuer: String,
    /// This service's audience: a token must name it in `aud`. Default:
    /// the service's name, so a token minted for one service is not
    /// accepted by another unless it names both.
    #[arg(long, env = "GRAPHLOOM_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
    /// The issuing service: the other audiences its tokens name (the
    /// federation's other services, a gateway that verifies them),
    /// comma-separated.
    #[arg(long, env = "GRAPHLOOM_JWT_AUDIENCES", value_delimiter = ',')]
    pub jwt_audiences: Vec<String>,
    /// Access-token lifetime in seconds.
    #[arg(long, env = "GRAPHLOOM_ACCESS_TTL", default_value_t = 300)]
    pub access_ttl: u64,
    /// Production: refuse to start without proper keys and secrets.
    #[arg(long, env = "GRAPHLOOM_PRODUCTION", value_parser = clap::builder::BoolishValueParser::new(), default_value = "false")]
    pub production: bool,
    /// Browsers' cookie sessions: `login(input: { …, cookie: true })`
    /// sets the session in an HttpOnly cookie; requests without a bearer
    /// token are authenticated by it once they pass the CSRF check.
    #[arg(long, env = "GRAPHLOOM_COOKIE_SESSIONS", value_parser = clap::builder::BoolishValueParser::new(), default_value = "false")]
    pub cookie_sessions: bool,
    /// How long an instance keeps the answer to "is this session live?",
    /// in milliseconds: the longest a logout, revocation, password change
    /// or deactivation made on another instance takes to refuse the
    /// session's tokens here (0: ask on every request).
    #[arg(long, env = "GRAPHLOOM_SESSION_CHECK_TTL_MS", default_value_t = 5000)]
    pub session_check_ttl_ms: u64,
    /// Where the auth app's emails go: smtp://[user:password@]host:port,
    /// file:///dir (an .eml file per message), console (logged; the
    /// default) or memory.
    #[arg(long, env = "GRAPHLOOM_EMAIL_URL")]
    pub email_url: Option<String>,
    /// The sender of those emails (`Name <address>`).
    #[arg(long, env = "GRAPHLOOM_EMAIL_FROM")]
    pub email_from: Option<String>,
    /// A service without the auth app: where to ask whether a token's
    /// session is live (the issuing service's http://…/auth/introspect).
    /// By default beside --jwks-url; `off` trusts a token until it expires.
    #[arg(long, env = "GRAPHLOOM_SESSION_CHECK_URL")]
    pub session_check_url: Option<String>,
}

impl AuthArgs {
    /// How this service learns that a session ended: its own tables when
    /// it has the auth app and issues tokens, else the issuer's
    /// introspection endpoint; `None` when tokens are good until they expire.
    fn sessions(
        &self,
        service: &Service,
        api: &graphloom_graphql::Api,
        keys: &Keys,
    ) -> anyhow::Result<Option<std::sync::Arc<dyn graphloom_server::SessionCheck>>> {
        use crate::auth::{DbSessions, RemoteSessions};
        let ttl = std::time::Duration::from_millis(self.session_check_ttl_ms);
        if keys.issuer.is_some()
            && let Some(cache) = service.session_cache()
        {
            cache.set_ttl(ttl);
            let db = DbSessions::new(std::sync::Arc::clone(api.engine()), cache);
            return Ok(Some(std::sync::Arc::new(db)));
        }
        if keys.verifier.is_none() {
            return Ok(None);
        }
        let url = match self.session_check_url.as_deref() {
            Some("off") => None,
            Some(url) => Some(url.to_owned()),
            None => self
                .jwks_url
                .as_deref()
                .and_then(RemoteSessions::url_beside_jwks),
        };
        let Some(url) = url else {
            tracing::info!(
                "sessions are not checked: a token is good until it expires (set GRAPHLOOM_SESSION_CHECK_URL)"
            );
            return Ok(None);
        };
        let remote = RemoteSessions::new(&url, ttl).map_err(anyhow::Error::msg)?;
        tracing::info!(
            url,
            ttl_ms = self.session_check_ttl_ms,
            "sessions are checked with the issuer"
        );
        Ok(Some(std::sync::Arc::new(remote)))
    }
}

/// GETs a JWKS document over plain HTTP, with a timeout.
async fn fetch_jwks(url: &str) -> anyhow::Result<String> {
    let uri: hyper::Uri = url
        .parse()
        .with_context(|| format!("`{url}` is not a URL"))?;
    if uri.scheme_str() != Some("http") {
        anyhow::bail!(
            "GRAPHLOOM_JWKS_URL must be an http:// URL on the internal network (or use GRAPHLOOM_JWKS_FILE)"
        );
    }
    let body = http_call(uri, None).await?;
    String::from_utf8(body).context("the JWKS is not UTF-8")
}

/// GETs `uri`, or POSTs a JSON `body` to it, over plain HTTP with a
/// timeout; the response body when the status is a success.
pub(crate) async fn http_call(uri: hyper::Uri, body: Option<String>) -> anyhow::Result<Vec<u8>> {
    use http_body_util::{BodyExt, Full};
    use hyper_util::{client::legacy::Client, rt::TokioExecutor};
    let url = uri.to_string();
    let client: Client<_, Full<hyper::body::Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let request = match body {
        None => hyper::Request::get(uri).body(Full::default()),
        Some(b) => hyper::Request::post(uri)
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .body(Full::new(b.into())),
    }
    .with_context(|| format!("a request to {url}"))?;
    let res = tokio::time::timeout(std::time::Duration::from_secs(10), client.request(request))
        .await
        .with_context(|| format!("fetching {url} timed out"))?
        .with_context(|| format!("fetching {url}"))?;
    if !res.status().is_success() {
        anyhow::bail!("fetching {url}: HTTP {}", res.status());
    }
    let body = res
        .into_body()
        .collect()
        .await
        .with_context(|| format!("reading {url}"))?
        .to_bytes();
    Ok(body.to_vec())
}

/// The subgraph SDL a running service publishes (`_service { sdl }`).
async fn fetch_subgraph_sdl(url: &str) -> anyhow::Result<String> {
    let uri: hyper::Uri = url
        .parse()
        .with_context(|| format!("`{url}` is not a URL"))?;
    if uri.scheme_str() != Some("http") {
        anyhow::bail!("`{url}` is not an http:// URL (a service on the internal network)");
    }
    let body = http_call(uri, Some(r#"{"query":"{ _service { sdl } }"}"#.to_owned())).await?;
    let json: serde_json::Value =
        serde_json::from_slice(&body).with_context(|| format!("{url} did not answer JSON"))?;
    match json.pointer("/data/_service/sdl").and_then(|v| v.as_str()) {
        Some(sdl) => Ok(sdl.to_owned()),
        None => anyhow::bail!("{url} did not return `_service {{ sdl }}`: {json}"),
    }
}

/// Composes this service's subgraph with the others (`NAME=FILE` or
/// `NAME=http://…`) and prints each composer's verdict; an error (exit
/// status 1) when one refuses.
async fn check_supergraph(
    name: &str,
    sdl: String,
    others: &[(String, String)],
    dir: std::path::PathBuf,
) -> anyhow::Result<()> {
    use crate::compose::{Subgraph, compose};
    let mut subgraphs = vec![Subgraph::new(name, sdl)];
    for (other, source) in others {
        if other == name {
            anyhow::bail!(
                "--supergraph {other}=…: `{other}` is this service; name the other subgraphs"
            );
        }
        subgraphs.push(
            if source.starts_with("http://") || source.starts_with("https://") {
                Subgraph {
                    name: other.clone(),
                    url: source.clone(),
                    sdl: fetch_subgraph_sdl(source).await?,
                }
            } else {
                let sdl = std::fs::read_to_string(source)
                    .with_context(|| format!("reading {source} (the SDL of {other})"))?;
                Subgraph::new(other.clone(), sdl)
            },
        );
    }
    let reports = tokio::task::spawn_blocking(move || compose(&subgraphs, &dir)).await??;
    let mut refused = Vec::new();
    for r in &reports {
        println!(
            "{}: {} errors, {} hints",
            r.composer,
            r.errors.len(),
            r.hints.len()
        );
        r.errors.iter().for_each(|e| println!("  error: {e}"));
        r.hints.iter().for_each(|h| println!("  hint: {h}"));
        if !r.composes() {
            refused.push(r.composer.as_str());
        }
    }
    let with: Vec<&str> = others.iter().map(|(n, _)| n.as_str()).collect();
    if !refused.is_empty() {
        anyhow::bail!(
            "{name} does not compose with {}: refused by {}",
            with.join(", "),
            refused.join(" and ")
        );
    }
    println!("{name} composes with {}.", with.join(", "));
    Ok(())
}

/// Prints the changes from `old` to `new`; an error (exit status 1) when
/// one is breaking, unless allowed.
fn report_diff(old_name: &str, old: &str, new: &str, allow_breaking: bool) -> anyhow::Result<()> {
    use graphloom_graphql::diff::{Level, diff, has_breaking};
    let changes = diff(old, new)?;
    if changes.is_empty() {
        println!("No changes against {old_name}.");
        return Ok(());
    }
    for c in &changes {
        println!("{c}");
    }
    let count = |l: Level| changes.iter().filter(|c| c.level == l).count();
    println!(
        "{} changes against {old_name}: {} breaking, {} dangerous, {} safe.",
        changes.len(),
        count(Level::Breaking),
        count(Level::Dangerous),
        count(Level::Safe)
    );
    if has_breaking(&changes) && !allow_breaking {
        anyhow::bail!(
            "breaking changes against {old_name}: clients of the published schema may fail. \
             Deprecate before removing, or pass --allow-breaking."
        );
    }
    Ok(())
}

/// The signer (if this service issues tokens) and the verifier of a service.
#[derive(Debug, Clone)]
pub struct Keys {
    pub issuer: Option<graphloom_auth::token::Issuer>,
    pub verifier: Option<graphloom_auth::token::Verifier>,
}

impl AuthArgs {
    /// Loads the keys of the service `service` (its default audience); in
    /// production a missing or weak secret stops the start.
    pub async fn keys(&self, service: &str) -> anyhow::Result<Keys> {
        use graphloom_auth::token::{Issuer, SigningKey, Verifier};
        let audience = self.jwt_audience.as_deref().unwrap_or(service);
        let read = |p: &std::path::Path| {
            std::fs::read(p).with_context(|| format!("reading {}", p.display()))
        };
        if let Some(url) = &self.jwks_url {
            let text = fetch_jwks(url).await?;
            let verifier = Verifier::from_jwks(&self.jwt_issuer, audience, &text)?;
            return Ok(Keys {
                issuer: None,
                verifier: Some(verifier),
            });
        }
        if let Some(path) = &self.jwks_file {
            let text = String::from_utf8(read(path)?).context("the JWKS file is not UTF-8")?;
            let verifier = Verifier::from_jwks(&self.jwt_issuer, audience, &text)?;
            return Ok(Keys {
                issuer: None,
                verifier: Some(verifier),
            });
        }
        let secret = match (&self.jwt_secret, &self.jwt_secret_file) {
            (Some(s), _) => Some(s.clone()),
            (None, Some(path)) => {
                let text =
                    String::from_utf8(read(path)?).context("the JWT secret file is not UTF-8")?;
                Some(text.trim_end_matches(['\r', '\n']).to_owned())
            }
            (None, None) => None,
        };
        let key = match (&self.jwt_private_key_file, &secret) {
            (Some(path), _) => Some(SigningKey::ed25519_pem(&self.jwt_kid, &read(path)?)?),
            (None, Some(secret)) => match SigningKey::hs256(secret.as_bytes()) {
                Ok(k) => Some(k),
                Err(e) if self.production => return Err(e.into()),
                Err(e) => {
                    tracing::warn!("{e}; tokens are disabled");
                    None
                }
            },
            (None, None) if self.production => {
                return Err(graphloom_auth::token::KeyError::Missing.into());
            }
            (None, None) => None,
        };
        let Some(key) = key else {
            return Ok(Keys {
                issuer: None,
                verifier: None,
            });
        };
        let others = self
            .jwt_audiences
            .iter()
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty());
        let issuer = Issuer::new(key, &self.jwt_issuer, audience, self.access_ttl).also_for(others);
        let mut verifier = issuer.verifier()?;
        if let Some(path) = &self.jwt_retired_jwks_file {
            let text = String::from_utf8(read(path)?).context("the JWKS file is not UTF-8")?;
            let retired = Verifier::from_jwks(&self.jwt_issuer, audience, &text)?;
            for k in retired.jwks()["keys"].as_array().into_iter().flatten() {
                let jwk = serde_json::from_value(k.clone())?;
                verifier = verifier.trust_jwk(&jwk)?;
            }
        }
        Ok(Keys {
            issuer: Some(issuer),
            verifier: Some(verifier),
        })
    }
}

#[derive(Debug, Clone, Args)]
pub struct ApiArgs {
    /// The largest `first` / `last` a client may ask for.
    #[arg(long, env = "GRAPHLOOM_MAX_PAGE_SIZE", default_value_t = 100)]
    pub max_page_size: u64,
    /// The deepest query accepted.
    #[arg(long, env = "GRAPHLOOM_MAX_DEPTH", default_value_t = 15)]
    pub max_depth: usize,
    /// The most field resolutions one operation may cost (each field once
    /// per row it can appear in, pages at their full size).
    #[arg(long, env = "GRAPHLOOM_MAX_COST", default_value_t = Limits::default().max_cost)]
    pub max_cost: u64,
    /// The most rows one operation may fetch, pages at their full size.
    #[arg(long, env = "GRAPHLOOM_MAX_ROWS", default_value_t = Limits::default().max_rows)]
    pub max_rows: u64,
    /// The most aliased fields in one document.
    #[arg(long, env = "GRAPHLOOM_MAX_ALIASES", default_value_t = Limits::default().max_aliases)]
    pub max_aliases: usize,
    /// The most lexical tokens in one document, counted before parsing.
    #[arg(long, env = "GRAPHLOOM_MAX_TOKENS", default_value_t = Limits::default().max_tokens)]
    pub max_tokens: usize,
    /// The most fields at the root of one operation.
    #[arg(long, env = "GRAPHLOOM_MAX_ROOT_FIELDS", default_value_t = Limits::default().max_root_fields)]
    pub max_root_fields: usize,
    /// The most bytes of one response: of the rows its statements read (a
    /// statement stops there), and of its `data` and `errors` as sent.
    #[arg(long, env = "GRAPHLOOM_MAX_RESPONSE_BYTES", default_value_t = Limits::default().max_response_bytes)]
    pub max_response_bytes: u64,
    /// Key that signs cursors; set the same value on every instance of a service.
    #[arg(long, env = "GRAPHLOOM_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Add `extensions.sql = { count, statements }` to every response.
    #[arg(long, env = "GRAPHLOOM_DEBUG_SQL", value_parser = clap::builder::BoolishValueParser::new(), default_value = "false")]
    pub debug_sql: bool,
    /// Print `@authenticated` / `@requiresScopes` / `@policy` (from the permission rules)
    /// in the subgraph SDL, for gateways that enforce them (Apollo Router,
    /// Hive Gateway). Apollo Gateway refuses them; the service enforces its
    /// rules either way.
    #[arg(long, env = "GRAPHLOOM_AUTH_DIRECTIVES", value_parser = clap::builder::BoolishValueParser::new(), default_value = "false")]
    pub auth_directives: bool,
    /// Print `@listSize` (from the page sizes) and `@cost` (from the field
    /// weights) in the subgraph SDL, for gateways that price operations
    /// (Apollo Router's demand control). On by default.
    #[arg(long, env = "GRAPHLOOM_COST_DIRECTIVES", value_parser = clap::builder::BoolishValueParser::new(), default_value = "true")]
    pub cost_directives: bool,
    /// The federation version the subgraph SDL links (2.0 to 2.9; the
    /// service's choice, else the latest, by default).
    #[arg(long, env = "GRAPHLOOM_FEDERATION_VERSION")]
    pub federation_version: Option<graphloom_graphql::FederationVersion>,
    /// Answer introspection queries (default: on, off with GRAPHLOOM_PRODUCTION).
    #[arg(long, env = "GRAPHLOOM_INTROSPECTION", value_parser = clap::builder::BoolishValueParser::new())]
    pub introspection: Option<bool>,
}

impl ApiArgs {
    pub fn config(&self) -> Config {
        let mut c = Config {
            max_page_size: self.max_page_size,
            default_page_size: self.max_page_size,
            max_depth: self.max_depth,
            debug_sql: self.debug_sql,
            auth_directives: self.auth_directives,
            cost_directives: self.cost_directives,
            federation_version: self.federation_version,
            introspection: self.introspection.unwrap_or(true),
            ..Config::default()
        };
        c.limits.max_cost = self.max_cost;
        c.limits.max_rows = self.max_rows;
        c.limits.max_aliases = self.max_aliases;
        c.limits.max_tokens = self.max_tokens;
        c.limits.max_root_fields = self.max_root_fields;
        c.limits.max_response_bytes = self.max_response_bytes;
        if let Some(k) = &self.secret_key {
            c.cursor_key = k.as_bytes().to_vec();
        }
        c
    }
}

impl DbArgs {
    pub fn url(&self, service: &str) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite:{service}.sqlite3"))
    }

    /// The pool and timeout settings.
    pub fn options(&self) -> graphloom_db::DatabaseOptions {
        let defaults = graphloom_db::DatabaseOptions::default();
        let ms = std::time::Duration::from_millis;
        graphloom_db::DatabaseOptions {
            max_connections: self.db_pool_size,
            busy_timeout: self.db_busy_timeout_ms.map_or(defaults.busy_timeout, ms),
            acquire_timeout: self
                .db_acquire_timeout_ms
                .map_or(defaults.acquire_timeout, ms),
            statement_timeout: match self.db_statement_timeout_ms {
                Some(0) => None,
                Some(t) => Some(ms(t)),
                None => defaults.statement_timeout,
            },
            probe_interval: match self.db_probe_interval_ms {
                Some(0) => None,
                Some(t) => Some(ms(t)),
                None => defaults.probe_interval,
            },
            sqlite_mmap_size: self.sqlite_mmap_size.unwrap_or(defaults.sqlite_mmap_size),
        }
    }

    pub async fn connect(&self, service: &str) -> anyhow::Result<Database> {
        let url = self.url(service);
        Database::connect_with(&url, &self.options())
            .await
            .with_context(|| format!("connecting to {}", redact(&url)))
    }
}

/// A URL without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// Logs to stderr; `RUST_LOG` sets the level (default `info`), and
/// `GRAPHLOOM_LOG_FORMAT=json` writes one JSON object a line (with the
/// request's span, so its `request_id`) for log collectors.
pub fn init_tracing() {
    let _ = subscriber(None);
}

/// What exports traces until the command ends (nothing without the `otel`
/// feature or a collector).
#[derive(Debug)]
pub(crate) struct Tracing {
    #[cfg(feature = "otel")]
    _traces: Option<crate::otel::Traces>,
}

/// The process's subscriber: logs to stderr under `RUST_LOG`, and with
/// the `otel` feature, spans to an OTLP collector when one is configured
/// (with its own filter: SQL statements are spans there, at `debug`, while
/// the log stays at `info`). Without a collector the log's filter is the
/// global one, so every callsite below it costs nothing (a per-layer
/// filter is asked on each).
fn subscriber(service: Option<&str>) -> Tracing {
    use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt};
    let spec = std::env::var("RUST_LOG").ok();
    #[cfg(feature = "otel")]
    if let Some((layer, traces)) = service.and_then(crate::otel::layer) {
        use tracing_subscriber::Layer;
        let spans = tracing_subscriber::EnvFilter::new(
            "info,graphloom::graphql=debug,graphloom::sql=debug,sqlx=warn",
        );
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(DEFAULT_LOG));
        let _ = tracing_subscriber::registry()
            .with(log_layer().with_filter(filter))
            .with(layer.with_filter(spans))
            .try_init();
        return Tracing {
            _traces: Some(traces),
        };
    }
    let _ = service;
    let _ = tracing_subscriber::registry()
        .with(log_filter(spec.as_deref()))
        .with(log_layer())
        .try_init();
    Tracing {
        #[cfg(feature = "otel")]
        _traces: None,
    }
}

/// The log's filter when `RUST_LOG` is unset or malformed.
const DEFAULT_LOG: &str = "info,sqlx=warn";

/// The log's filter from `RUST_LOG`. Target and level lists, the usual
/// case, are a `Targets` filter: an `EnvFilter` looks up every span a
/// request enters (its span is entered on each poll of its future) in case
/// a directive filters on spans, which cost some 4 % of the CPU of a large
/// query. Directives on spans or fields still get an `EnvFilter`.
fn log_filter<S>(spec: Option<&str>) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use tracing_subscriber::{EnvFilter, Layer, filter::Targets};
    let spec = spec.map(str::trim).filter(|s| !s.is_empty());
    match spec.unwrap_or(DEFAULT_LOG).parse::<Targets>() {
        Ok(targets) => targets.boxed(),
        Err(_) => spec
            .and_then(|s| EnvFilter::try_new(s).ok())
            .unwrap_or_else(|| EnvFilter::new(DEFAULT_LOG))
            .boxed(),
    }
}

/// Log lines to stderr: text, or JSON with `GRAPHLOOM_LOG_FORMAT=json`.
/// Colours only on a terminal (and without `NO_COLOR`): a log read from a
/// file or a collector would carry escape codes, and the request span's
/// fields, formatted as each request starts, would cost their colouring.
fn log_layer<S>() -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use std::io::IsTerminal;
    use tracing_subscriber::Layer;
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(colour);
    match std::env::var("GRAPHLOOM_LOG_FORMAT").as_deref() {
        Ok("json") => fmt.json().with_current_span(true).boxed(),
        _ => fmt.boxed(),
    }
}

pub(crate) async fn run(service: Service, command: Command) -> anyhow::Result<()> {
    let _tracing = subscriber(Some(service.name));
    match command {
        Command::Check => {
            service.check().await?;
            let warnings = service.warnings();
            if warnings.is_empty() {
                println!("System check identified no issues.");
            } else {
                println!("System check identified {} warning(s):", warnings.len());
                warnings.iter().for_each(|w| println!("{w}"));
            }
        }
        Command::Schema(args) => {
            // The SDL needs no database: build the API over an in-memory one.
            let db = Database::connect("sqlite::memory:").await?;
            let config = Config {
                auth_directives: args.auth_directives,
                cost_directives: args.cost_directives,
                federation_version: args.federation_version,
                ..Config::default()
            };
            let api = service.api(db, config)?;
            let sdl = if args.federation || args.against_url.is_some() {
                api.subgraph_sdl()
            } else {
                api.sdl()
            };
            match (&args.diff, &args.against_url) {
                (Some(path), _) => {
                    let old = std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    report_diff(&path.display().to_string(), &old, &sdl, args.allow_breaking)?;
                }
                (None, Some(url)) => {
                    let old = fetch_subgraph_sdl(url).await?;
                    report_diff(url, &old, &sdl, args.allow_breaking)?;
                }
                (None, None) if args.supergraph.is_empty() => print!("{sdl}"),
                (None, None) => {}
            }
            if !args.supergraph.is_empty() {
                let dir = crate::compose::composer_dir(args.composer_dir.as_deref());
                check_supergraph(service.name, api.subgraph_sdl(), &args.supergraph, dir).await?;
            }
        }
        Command::Migrate(args) => {
            use graphloom_db::migrate::Target;
            crate::makemigrations::warn_if_stale(&service);
            let target = match (&args.app, &args.target) {
                (None, _) => Target::Latest,
                (Some(app), None) => Target::App(app.clone()),
                (Some(app), Some(t)) if t == "zero" => Target::Zero(app.clone()),
                (Some(app), Some(t)) => Target::Migration(app.clone(), t.clone()),
            };
            let db = args.db.connect(service.name).await?;
            let done = service.migrate_to(&db, &target).await;
            db.close().await;
            let done = done?;
            if done.is_empty() {
                println!("No migrations to apply.");
            }
            for line in done {
                println!("  {line}... OK");
            }
        }
        Command::Makemigrations(args) => {
            if crate::makemigrations::makemigrations(&service, &args)? != 0 {
                anyhow::bail!("the models have changes that no migration records");
            }
        }
        Command::Showmigrations(args) => {
            let db = args.connect(service.name).await?;
            let shown = crate::makemigrations::showmigrations(&service, &db).await;
            db.close().await;
            shown?;
        }
        Command::Sqlmigrate(args) => {
            let dialect = if args.db.url(service.name).starts_with("postgres") {
                graphloom_db::Dialect::POSTGRES
            } else {
                graphloom_db::Dialect::SQLITE
            };
            crate::makemigrations::sqlmigrate(
                &service,
                dialect,
                &args.app,
                &args.name,
                args.backwards,
            )?;
        }
        Command::Createsuperuser(args) => {
            let settings = service
                .auth_settings()
                .context("createsuperuser needs the auth app in the service")?;
            let username = match (&args.username, args.no_input) {
                (Some(u), _) => u.clone(),
                (None, true) => anyhow::bail!("--no-input needs --username"),
                (None, false) => read_line("Username: ")?,
            };
            let email = match (&args.email, args.no_input) {
                (Some(e), _) => e.clone(),
                (None, true) => anyhow::bail!("--no-input needs --email"),
                (None, false) => read_line("Email: ")?,
            };
            let password = read_password(args.no_input, "GRAPHLOOM_SUPERUSER_PASSWORD")?;
            let db = args.db.connect(service.name).await?;
            service.migrate(&db).await?;
            let ctx = graphloom_query::Ctx::system(service.engine(db.clone(), &Config::default())?);
            let made =
                crate::auth::create_superuser(&ctx, &settings, &username, &email, &password).await;
            db.close().await;
            made.map_err(|e| anyhow::anyhow!("{}", e.message))?;
            println!("Superuser created successfully.");
        }
        Command::Changepassword(args) => {
            let settings = service
                .auth_settings()
                .context("changepassword needs the auth app in the service")?;
            let password = read_password(args.no_input, "GRAPHLOOM_PASSWORD")?;
            let db = args.db.connect(service.name).await?;
            let ctx = graphloom_query::Ctx::system(service.engine(db.clone(), &Config::default())?);
            let changed =
                crate::auth::change_password(&ctx, &settings, &args.username, &password).await;
            db.close().await;
            changed.map_err(|e| anyhow::anyhow!("{}", e.message))?;
            println!(
                "Password changed successfully for user '{}'.",
                args.username
            );
        }
        Command::Serve(args) => {
            let keys = args.auth.keys(service.name).await?;
            if args.auth.production && args.api.secret_key.as_deref().is_none_or(|k| k.len() < 32) {
                anyhow::bail!(
                    "production: set GRAPHLOOM_SECRET_KEY (at least 32 bytes) so cursors verify on every instance"
                );
            }
            // A logout or a demotion reaches an access token only when it
            // expires, so production keeps that window short.
            if args.auth.production && args.auth.access_ttl > MAX_PRODUCTION_ACCESS_TTL {
                anyhow::bail!(
                    "production: GRAPHLOOM_ACCESS_TTL is {} s; at most {MAX_PRODUCTION_ACCESS_TTL} s, since a revoked session's access token stays valid until it expires",
                    args.auth.access_ttl
                );
            }
            let db = args.db.connect(service.name).await?;
            if !args.no_migrate {
                crate::makemigrations::warn_if_stale(&service);
                for line in service.migrate(&db).await? {
                    tracing::info!("{line}");
                }
            }
            let mut config = args.api.config();
            config.introspection = args.api.introspection.unwrap_or(!args.auth.production);
            config.federation_public = args.federation_public.unwrap_or(!args.auth.production);
            let gateway_secret = match (&args.gateway_secret, &args.gateway_secret_file) {
                (Some(s), _) => Some(s.clone()),
                (None, Some(path)) => Some(
                    String::from_utf8(
                        std::fs::read(path)
                            .with_context(|| format!("reading {}", path.display()))?,
                    )
                    .context("the gateway secret file is not UTF-8")?
                    .trim_end_matches(['\r', '\n'])
                    .to_owned(),
                ),
                (None, None) => None,
            };
            let trusted_documents = match &args.trusted_documents {
                Some(path) => {
                    let docs = graphloom_server::TrustedDocuments::load(
                        path,
                        args.trusted_documents_only,
                    )?;
                    tracing::info!(
                        documents = docs.len(),
                        only = docs.only,
                        "trusted documents from {}",
                        path.display()
                    );
                    Some(std::sync::Arc::new(docs))
                }
                None => None,
            };
            if gateway_secret.as_ref().is_some_and(|s| s.len() < 16) {
                anyhow::bail!("GRAPHLOOM_GATEWAY_SECRET: use at least 16 bytes");
            }
            if !config.federation_public
                && gateway_secret.is_none()
                && args.gateway_addresses.is_empty()
            {
                tracing::warn!(
                    "_service and _entities are answered for the gateway only, and no gateway is configured: set GRAPHLOOM_GATEWAY_SECRET or GRAPHLOOM_GATEWAY_ADDRESSES (or GRAPHLOOM_FEDERATION_PUBLIC=1)"
                );
            }
            config.token_issuer = keys.issuer.clone().map(std::sync::Arc::new);
            let api = service.api(db.clone(), config)?;
            for w in service.warnings() {
                tracing::warn!(
                    check = w.id.code(),
                    "{}: {} (HINT: {})",
                    w.at,
                    w.message,
                    w.hint
                );
            }
            let secs = std::time::Duration::from_secs;
            let sessions = args.auth.sessions(&service, &api, &keys)?;
            let cookies: Option<std::sync::Arc<dyn graphloom_server::CookieAuth>> = match (
                args.auth.cookie_sessions,
                service.cookie_sessions(),
                service.session_cache(),
            ) {
                (true, Some(cookies), Some(ttl)) if keys.issuer.is_some() => {
                    cookies.enable(true);
                    Some(std::sync::Arc::new(crate::auth::DbCookies::new(
                        std::sync::Arc::clone(api.engine()),
                        cookies,
                        ttl,
                    )))
                }
                (true, ..) => anyhow::bail!(
                    "GRAPHLOOM_COOKIE_SESSIONS needs the auth app and signing keys in this service"
                ),
                (false, ..) => None,
            };
            if let Some(settings) = service.auth_settings() {
                if let Some(url) = &args.auth.email_url {
                    settings.mailer.configure(url)?;
                }
                if let Some(from) = &args.auth.email_from {
                    settings.mailer.set_from(from)?;
                }
                tracing::info!(backend = %settings.mailer.backend_name(), "account emails");
            }
            let config = ServerConfig {
                addr: args.addr,
                body_limit: args.body_limit,
                graphiql: args.graphiql.unwrap_or(!args.auth.production),
                introspect: keys.issuer.is_some(),
                sessions,
                cookies,
                verifier: keys.verifier.map(std::sync::Arc::new),
                cors: (!args.cors_origins.is_empty()).then(|| graphloom_server::Cors {
                    origins: args.cors_origins.clone(),
                    credentials: args.cors_credentials,
                    max_age: secs(600),
                }),
                header_timeout: secs(args.header_timeout),
                body_timeout: secs(args.body_timeout),
                request_timeout: secs(args.request_timeout),
                drain_timeout: secs(args.drain_timeout),
                trusted_proxies: args.trusted_proxies.clone(),
                client_ip_header: args.client_ip_header.clone(),
                gateway_secret,
                gateway_addresses: args.gateway_addresses.clone(),
                trusted_documents,
                apq: args.apq,
                metrics: args.metrics.unwrap_or(!args.auth.production),
                endpoints: service.endpoints(),
                title: service.name.to_owned(),
                version: service.version.to_owned(),
                mounts: Vec::new(),
                ws: graphloom_server::WsLimits {
                    init_timeout: secs(args.ws_init_timeout),
                    keep_alive: secs(args.ws_keep_alive.max(1)),
                    subscriptions: args.ws_max_subscriptions,
                    connections_per_client: args.ws_max_connections,
                    queue: args.ws_queue.max(1),
                },
            };
            let mut config = config;
            if args.admin {
                let path = args.admin_path.trim_end_matches('/').to_owned();
                if !path.starts_with('/') || path.len() < 2 || path.contains(['{', '}', '*']) {
                    anyhow::bail!(
                        "GRAPHLOOM_ADMIN_PATH: a path like /admin, not `{}`",
                        args.admin_path
                    );
                }
                let admin = service
                    .admin_router(&api, &path, &config)
                    .map_err(anyhow::Error::msg)?;
                tracing::info!(path = %path, "admin");
                config.mounts.push((path, admin));
            }
            // On PostgreSQL, subscribers hear the other instances' writes.
            let _fan_out =
                graphloom_query::changes::FanOut::start(std::sync::Arc::clone(api.engine())).await;
            graphloom_server::serve(api, &config, graphloom_server::shutdown_signal())
                .await
                .with_context(|| format!("serving on {}", args.addr))?;
            db.close().await;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Which levels the log filter of `spec` lets through for `graphloom`
    /// and `sqlx`, outside and inside a span.
    fn levels(spec: Option<&str>) -> Vec<bool> {
        use tracing::{Level, enabled, subscriber::with_default};
        use tracing_subscriber::layer::SubscriberExt;
        let subscriber = tracing_subscriber::registry().with(log_filter(spec));
        with_default(subscriber, || {
            let outside = [
                enabled!(target: "graphloom", Level::INFO),
                enabled!(target: "graphloom", Level::DEBUG),
                enabled!(target: "sqlx", Level::INFO),
            ];
            let span = tracing::error_span!("request");
            let _in = span.enter();
            let inside = enabled!(target: "graphloom", Level::DEBUG);
            outside.into_iter().chain([inside]).collect()
        })
    }

    #[test]
    fn the_log_filter_reads_rust_log() {
        // Unset, empty or malformed: info, with sqlx at warn.
        for spec in [None, Some(""), Some("info,sqlx=bogus=level")] {
            assert_eq!(levels(spec), [true, false, false, false], "{spec:?}");
        }
        assert_eq!(levels(Some("debug")), [true, true, true, true]);
        assert_eq!(
            levels(Some("warn,graphloom=debug")),
            [true, true, false, true]
        );
        // A directive on a span is an `EnvFilter`'s: the rest still holds.
        assert_eq!(
            levels(Some("warn,[request]=debug")),
            [false, false, false, false]
        );
    }

    #[test]
    fn supergraph_arguments_are_name_equals_source() {
        assert_eq!(
            parse_subgraph_arg("billing=http://127.0.0.1:4002/graphql"),
            Ok(("billing".into(), "http://127.0.0.1:4002/graphql".into()))
        );
        assert_eq!(parse_subgraph_arg("a=b=c"), Ok(("a".into(), "b=c".into())));
        for bad in ["billing", "=x.graphql", "billing="] {
            assert!(parse_subgraph_arg(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn supergraph_names_the_other_subgraphs() {
        let err = check_supergraph(
            "blog",
            "type Query { a: Int }".into(),
            &[("blog".into(), "blog.graphql".into())],
            std::path::PathBuf::from("composition"),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("`blog` is this service"), "{err}");
        let err = check_supergraph(
            "blog",
            "type Query { a: Int }".into(),
            &[("other".into(), "/no/such/file.graphql".into())],
            std::path::PathBuf::from("composition"),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("the SDL of other"), "{err}");
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("sqlite:blog.sqlite3"), "sqlite:blog.sqlite3");
    }
}
