//! What every resolver shares: the registry, the database, the limits, and the
//! custom fields registered by apps.

use std::{collections::HashMap, sync::Arc};

use graphloom_db::{Database, schema::ProjectState};
use graphloom_meta::{ModelId, Registry};

use crate::custom::Computed;

/// Limits and switches of the generated API.
#[derive(Debug, Clone)]
pub struct Config {
    /// The largest `first` / `last` a client may ask for.
    pub max_page_size: u64,
    /// Rows returned when neither `first` nor `last` is given.
    pub default_page_size: u64,
    /// The deepest selection accepted.
    pub max_depth: usize,
    /// Signs cursors. Set it (GRAPHLOOM_SECRET_KEY) when several instances serve one API.
    pub cursor_key: Vec<u8>,
    /// Adds `extensions.sql = { count, statements }` to responses.
    pub debug_sql: bool,
    /// Signs access tokens, when this service issues them (the auth app).
    pub token_issuer: Option<Arc<graphloom_auth::token::Issuer>>,
    /// Print `@authenticated` / `@requiresScopes`, derived from the permission
    /// rules, in the subgraph SDL. For gateways that enforce them (Apollo
    /// Router, Hive Gateway); Apollo Gateway refuses a supergraph that has
    /// them, so they are off by default. The subgraph enforces its rules
    /// either way.
    pub auth_directives: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            max_page_size: 100,
            default_page_size: 100,
            max_depth: 15,
            cursor_key: uuid::Uuid::new_v4().as_bytes().to_vec(),
            debug_sql: false,
            token_issuer: None,
            auth_directives: false,
        }
    }
}

/// Shared state of a built schema.
#[derive(Debug)]
pub struct Runtime {
    pub registry: Arc<Registry>,
    pub db: Database,
    pub config: Config,
    pub state: ProjectState,
    pub(crate) computed: HashMap<(ModelId, String), Computed>,
    pub permissions: Arc<crate::permissions::Permissions>,
    pub(crate) composed: Vec<crate::directives::Composed>,
}

impl Runtime {
    pub(crate) fn computed(&self, model: ModelId, name: &str) -> Option<&Computed> {
        self.computed.get(&(model, name.to_owned()))
    }
}
