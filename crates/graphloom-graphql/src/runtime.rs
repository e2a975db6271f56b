//! What every resolver shares: the engine and the API's settings. A leaf
//! module: the rest of the crate depends on it, it on nothing here.

use std::sync::Arc;

use graphloom_meta::Registry;
use graphloom_query::{Engine, plan::PageLimits};

/// Limits and switches of the generated API.
#[derive(Debug, Clone)]
pub struct Config {
    /// The largest `first` / `last` a client may ask for.
    pub max_page_size: u64,
    /// Rows returned when neither `first` nor `last` is given.
    pub default_page_size: u64,
    /// The deepest selection accepted (`DEPTH_LIMIT_EXCEEDED` beyond).
    pub max_depth: usize,
    /// Answer `__schema` / `__type` (introspection). Off in production
    /// unless asked for: a public schema map helps attackers more than
    /// clients, who get the SDL from the build.
    pub introspection: bool,
    /// Answer federation's `_service` and `_entities` for every client.
    /// Off (production's default), only requests from the gateway
    /// ([`graphloom_query::RequestContext::gateway`]) get them, and those
    /// may introspect too: clients cannot bypass the gateway's checks by
    /// resolving entities directly, or read the SDL.
    pub federation_public: bool,
    /// What one operation may cost before it is refused
    /// (`COST_LIMIT_EXCEEDED`, no SQL run).
    pub limits: crate::cost::Limits,
    /// Signs cursors. Set it (GRAPHLOOM_SECRET_KEY) when several instances serve one API.
    pub cursor_key: Vec<u8>,
    /// Adds `extensions.sql = { count, statements }` to responses.
    pub debug_sql: bool,
    /// Signs access tokens, when this service issues them (the auth app).
    pub token_issuer: Option<Arc<graphloom_auth::token::Issuer>>,
    /// Print `@authenticated` / `@requiresScopes` / `@policy`, derived from the permission
    /// rules, in the subgraph SDL. For gateways that enforce them (Apollo
    /// Router, Hive Gateway); Apollo Gateway refuses a supergraph that has
    /// them, so they are off by default. The subgraph enforces its rules
    /// either way.
    pub auth_directives: bool,
    /// Print demand-control directives in the subgraph SDL (the default):
    /// `@listSize` on every connection and list from the page sizes, and
    /// `@cost(weight:)` where [`crate::cost::Limits::weights`] sets one, so
    /// a gateway that prices operations (Apollo Router's demand control)
    /// prices them as this service does. The plain SDL leaves them out.
    pub cost_directives: bool,
    /// The federation version the subgraph SDL links; `None` for the
    /// service's choice (`Service::federation_version`), else the latest.
    /// Below v2.9 the demand-control directives are left out whatever
    /// [`Config::cost_directives`] says.
    pub federation_version: Option<crate::link::FederationVersion>,
    /// Run queries made only of generated lookups and lists from their plan,
    /// writing rows straight into the response (the default). Off, every
    /// field goes through its resolver: same responses, several times the
    /// CPU. A switch for comparing the two, not a tuning knob.
    pub fast_path: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_page_size: 100,
            default_page_size: 100,
            max_depth: 15,
            limits: crate::cost::Limits::default(),
            introspection: true,
            federation_public: true,
            cursor_key: uuid::Uuid::new_v4().as_bytes().to_vec(),
            debug_sql: false,
            token_issuer: None,
            auth_directives: false,
            cost_directives: true,
            federation_version: None,
            fast_path: true,
        }
    }
}

impl Config {
    /// The federation version the subgraph SDL links.
    pub fn federation(&self) -> crate::link::FederationVersion {
        self.federation_version.unwrap_or_default()
    }

    /// The engine's pagination limits.
    pub fn page_limits(&self) -> PageLimits {
        PageLimits {
            max_page_size: self.max_page_size,
            default_page_size: self.default_page_size,
            cursor_key: self.cursor_key.clone(),
        }
    }
}

/// What every resolver shares: the engine and the API's settings.
#[derive(Debug)]
pub struct Runtime {
    pub engine: Arc<Engine>,
    pub config: Config,
    /// The `Subscription` type as the plain SDL prints it, for the
    /// subgraph SDL (async-graphql's federation export leaves it out).
    pub(crate) subscription_sdl: std::sync::OnceLock<String>,
    /// Reads subscriptions alike share.
    pub(crate) shared_reads: crate::subscriptions::SharedReads,
    /// Whether a value type holds references to other services' entities,
    /// so that requests batch their loads ([`crate::schema::values::RefBatches`]).
    pub(crate) value_references: std::sync::atomic::AtomicBool,
    /// Per entity type, where its keys go among its directives in the
    /// subgraph SDL ([`crate::schema::types::key_places`]).
    pub(crate) key_places: std::sync::OnceLock<KeyPlaces>,
}

/// Type name → [`crate::schema::types::key_places`].
pub(crate) type KeyPlaces = std::collections::BTreeMap<String, Vec<Option<usize>>>;

impl Runtime {
    pub fn registry(&self) -> &Registry {
        self.engine.registry()
    }
}
