//! What app code acts with: the engine, the request it serves, and the
//! permission scope of its principal, or the system's.

use std::{collections::BTreeMap, sync::Arc};

use graphloom_db::Database;
use graphloom_meta::{Model, ModelMeta, Principal, Registry};

use crate::{Engine, Result, scope::Scope};

/// What a request carries, for custom code.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// Request headers, names in lower case.
    pub headers: BTreeMap<String, String>,
    /// The verified bearer token's user, if the request carried one.
    pub principal: Option<Principal>,
    /// The client's address, as the server saw it.
    pub client: Option<String>,
}

/// The context of app code: a request's principal and rules (what
/// resolvers get), or the system's (management commands). The model API
/// (`Post::objects(&ctx)`) applies its scope to every statement.
#[derive(Debug, Clone)]
pub struct Ctx {
    engine: Arc<Engine>,
    request: Arc<RequestContext>,
    scope: Arc<Scope>,
}

impl Ctx {
    /// A request's context with its decided scope.
    pub fn new(engine: Arc<Engine>, request: Arc<RequestContext>, scope: Arc<Scope>) -> Ctx {
        Ctx {
            engine,
            request,
            scope,
        }
    }

    /// Acting for `principal` outside a request: its rules decided now.
    pub async fn for_principal(engine: Arc<Engine>, principal: Option<Principal>) -> Ctx {
        let scope = Scope::new(Arc::clone(engine.registry_arc()), principal.clone()).await;
        Ctx {
            engine,
            request: Arc::new(RequestContext {
                principal,
                ..RequestContext::default()
            }),
            scope: Arc::new(scope),
        }
    }

    /// The system: no permission rule applies, no preset fills a field. For
    /// management commands and the framework's own bookkeeping; a resolver
    /// that needs it says so with [`Ctx::as_system`].
    pub fn system(engine: Arc<Engine>) -> Ctx {
        let scope = Scope::system(Arc::clone(engine.registry_arc()));
        Ctx {
            engine,
            request: Arc::new(RequestContext::default()),
            scope: Arc::new(scope),
        }
    }

    /// The same request acting as the system: rules no longer apply.
    pub fn as_system(&self) -> Ctx {
        Ctx {
            engine: Arc::clone(&self.engine),
            request: Arc::clone(&self.request),
            scope: Arc::new(Scope::system(Arc::clone(self.engine.registry_arc()))),
        }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }
    pub fn db(&self) -> &Database {
        self.engine.db()
    }
    pub fn registry(&self) -> &Registry {
        self.engine.registry()
    }
    pub fn request(&self) -> &RequestContext {
        &self.request
    }
    pub fn scope(&self) -> &Arc<Scope> {
        &self.scope
    }
    /// Whether rules apply (false for the system).
    pub fn is_system(&self) -> bool {
        self.scope.is_system()
    }
    /// The authenticated user, or `None` for an anonymous request (and the system).
    pub fn principal(&self) -> Option<&Principal> {
        self.request.principal.as_ref()
    }
    /// The resolved metadata of model `M` (its table, columns, relations).
    pub fn model<M: Model>(&self) -> Result<&ModelMeta> {
        self.engine.model::<M>()
    }
}
