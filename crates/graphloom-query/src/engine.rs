//! The engine a service builds once (the registry, the database, the
//! pagination limits, the Rust functions of computed fields), and who acts
//! on it: a [`Ctx`], a request's principal and rules or the system's. The
//! two refer to each other (a context holds the engine, a computed field's
//! function takes a context), so they live together.

use std::{collections::BTreeMap, fmt, future::Future, sync::Arc};

use futures_util::future::BoxFuture;
use graphloom_db::{Database, schema::ProjectState};
use graphloom_meta::{
    ComputedDecl, ComputedMeta, Declared, Model, ModelKey, ModelMeta, Principal, Registry, Typed,
    Value,
};

use crate::{Error, Result, plan::PageLimits, scope::Scope};

/// The stored fields a computed field (or a dynamic query) reads, by Rust name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Row {
    pub(crate) values: Vec<(&'static str, Value)>,
}

impl Row {
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Text of a field, or `""` when it is NULL or not text.
    pub fn str(&self, name: &str) -> &str {
        match self.get(name) {
            Some(Value::String(s)) => s,
            _ => "",
        }
    }

    /// The fields, by Rust name, in the model's order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &Value)> {
        self.values.iter().map(|(n, v)| (*n, v))
    }

    /// The fields as a map by Rust name.
    pub fn into_map(self) -> BTreeMap<&'static str, Value> {
        self.values.into_iter().collect()
    }

    /// The listed fields of a row's values (by field index), by Rust name.
    pub fn of(model: &ModelMeta, values: &[Value], fields: &[usize]) -> Row {
        Row {
            values: fields
                .iter()
                .map(|&i| (model.fields[i].name, values[i].clone()))
                .collect(),
        }
    }
}

/// The Rust function of a computed field: the row's fields it reads, and
/// its arguments as a JSON object.
pub type ComputedFn = Arc<
    dyn Fn(Ctx, Row, serde_json::Value) -> BoxFuture<'static, Result<serde_json::Value>>
        + Send
        + Sync,
>;

/// A field computed in Rust from a row's stored fields: the model fact
/// ([`ComputedDecl`], resolved by the registry) and its function.
#[derive(Clone)]
pub struct ComputedField {
    pub decl: ComputedDecl,
    pub(crate) function: ComputedFn,
}

impl fmt::Debug for ComputedField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ComputedField")
            .field("model", &self.decl.model)
            .field("name", &self.decl.name)
            .finish()
    }
}

impl ComputedField {
    /// A computed field `name` on model `M` that reads the fields `requires`
    /// (Rust names; they are fetched with the row, in the same statement).
    pub fn new<M, R, F, Fut>(name: impl Into<String>, requires: &[&'static str], f: F) -> Self
    where
        M: Model,
        R: serde::Serialize + Typed + Send + 'static,
        F: Fn(Ctx, Row) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R>> + Send + 'static,
    {
        let f = Arc::new(f);
        Self::of::<M, R>(
            name.into(),
            requires,
            Arc::new(move |ctx, row, _args| {
                let f = Arc::clone(&f);
                Box::pin(async move {
                    let out = f(ctx, row).await?;
                    serde_json::to_value(out).map_err(Error::internal)
                })
            }),
        )
    }

    fn of<M: Model, R: Typed>(
        name: String,
        requires: &[&'static str],
        function: ComputedFn,
    ) -> Self {
        ComputedField {
            decl: ComputedDecl {
                model: ModelKey::of::<M>(),
                name,
                description: None,
                requires: requires.to_vec(),
                output: R::type_desc(),
                federation: Default::default(),
                args: Vec::new(),
            },
            function,
        }
    }

    /// A computed field that takes arguments (declared with [`Self::arg`]
    /// and kin), decoded into `A` (a `serde::Deserialize` struct whose
    /// fields are the arguments) for each row: `excerpt(length: Int! = 100)`.
    /// A query that selects one runs through the resolvers, each
    /// selection with its own arguments.
    pub fn with_args<M, R, A, F, Fut>(
        name: impl Into<String>,
        requires: &[&'static str],
        f: F,
    ) -> Self
    where
        M: Model,
        R: serde::Serialize + Typed + Send + 'static,
        A: serde::de::DeserializeOwned + Send + 'static,
        F: Fn(Ctx, Row, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R>> + Send + 'static,
    {
        let f = Arc::new(f);
        Self::of::<M, R>(
            name.into(),
            requires,
            Arc::new(move |ctx, row, args| {
                let f = Arc::clone(&f);
                Box::pin(async move {
                    let args = serde_json::from_value::<A>(args)
                        .map_err(|e| Error::bad_input(format!("invalid arguments: {e}")))?;
                    let out = f(ctx, row, args).await?;
                    serde_json::to_value(out).map_err(Error::internal)
                })
            }),
        )
    }

    /// Declares an argument; its GraphQL type follows the Rust type.
    pub fn arg<T: Typed>(self, name: impl Into<String>) -> Self {
        self.push_arg(name.into(), T::type_desc(), None, None)
    }

    /// Declares an argument with a default (`length: Int! = 100`).
    pub fn arg_default<T: Typed + serde::Serialize>(
        self,
        name: impl Into<String>,
        value: T,
    ) -> Self {
        let default = serde_json::to_value(value).ok();
        self.push_arg(name.into(), T::type_desc(), default, None)
    }

    /// Declares an argument the gateway fills from an enclosing type marked
    /// `#[model(context = "name")]`: `@fromContext(field: "$name { field }")`
    /// (federation v2.8). Clients of the supergraph do not see it; called
    /// on this service directly, it is an ordinary argument.
    pub fn arg_from_context<T: Typed>(
        self,
        name: impl Into<String>,
        field: impl Into<String>,
    ) -> Self {
        self.push_arg(name.into(), T::type_desc(), None, Some(field.into()))
    }

    fn push_arg(
        mut self,
        name: String,
        ty: graphloom_meta::TypeDesc,
        default: Option<serde_json::Value>,
        from_context: Option<String>,
    ) -> Self {
        self.decl.args.push(graphloom_meta::ComputedArg {
            name,
            ty,
            default,
            from_context,
        });
        self
    }

    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.decl.description = Some(text.into());
        self
    }

    /// `@shareable`: other subgraphs resolve this field too.
    pub fn shareable(mut self) -> Self {
        self.decl.federation.shareable = true;
        self.decl.federation.order.push(Declared::Shareable);
        self
    }

    /// `@override(from: "…")`: this subgraph takes the field over.
    pub fn override_from(mut self, subgraph: &'static str) -> Self {
        self.decl.federation.override_from = Some(subgraph);
        if !self.decl.federation.order.contains(&Declared::Override) {
            self.decl.federation.order.push(Declared::Override);
        }
        self
    }

    /// `@override(from: "…", label: "percent(20)")`: progressive override,
    /// the gateway sends that share of requests here (or decides by the
    /// label it is given).
    pub fn override_from_label(mut self, subgraph: &'static str, label: &'static str) -> Self {
        self.decl.federation.override_from = Some(subgraph);
        if !self.decl.federation.order.contains(&Declared::Override) {
            self.decl.federation.order.push(Declared::Override);
        }
        self.decl.federation.override_label = Some(label);
        self
    }

    /// `@inaccessible`: in the subgraph, hidden from the supergraph.
    pub fn inaccessible(mut self) -> Self {
        self.decl.federation.inaccessible = true;
        self.decl.federation.order.push(Declared::Inaccessible);
        self
    }

    /// `@tag(name: "…")`, for contracts (repeatable).
    pub fn tag(mut self, name: &'static str) -> Self {
        self.decl.federation.tags.push(name);
        self.decl.federation.order.push(Declared::Tag(name));
        self
    }

    /// `@deprecated(reason: "…")`.
    pub fn deprecated(mut self, reason: &'static str) -> Self {
        self.decl.federation.deprecated = Some(reason);
        self
    }
}

/// A built engine over one database. Shared behind an `Arc`.
pub struct Engine {
    registry: Arc<Registry>,
    db: Database,
    limits: PageLimits,
    state: ProjectState,
    computed: Vec<ComputedFn>,
    changes: crate::changes::Changes,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine")
            .field("models", &self.registry.models().len())
            .field("dialect", &self.db.dialect())
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine over `db`. `computed` are the functions of the computed
    /// fields, in the order their declarations went to [`Registry::build`].
    pub fn new(
        registry: Arc<Registry>,
        db: Database,
        limits: PageLimits,
        computed: Vec<ComputedField>,
    ) -> Engine {
        Engine {
            state: ProjectState::from_registry(&registry),
            registry,
            db,
            limits,
            computed: computed.into_iter().map(|c| c.function).collect(),
            changes: Default::default(),
        }
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    pub fn registry_arc(&self) -> &Arc<Registry> {
        &self.registry
    }

    pub fn db(&self) -> &Database {
        &self.db
    }

    /// The committed writes, as keys, for subscriptions.
    pub fn changes(&self) -> &crate::changes::Changes {
        &self.changes
    }

    pub fn limits(&self) -> &PageLimits {
        &self.limits
    }

    /// The schema the models need, for mapping constraint names to fields.
    pub fn state(&self) -> &ProjectState {
        &self.state
    }

    /// The resolved metadata of model `M`.
    pub fn model<M: Model>(&self) -> Result<&ModelMeta> {
        self.registry.by_key(ModelKey::of::<M>()).ok_or_else(|| {
            Error::internal(format!("model {} is not registered", ModelKey::of::<M>()))
        })
    }

    /// Computes a computed field of a fetched row (its values by field index).
    pub async fn compute(
        &self,
        ctx: Ctx,
        model: &ModelMeta,
        field: &ComputedMeta,
        values: &[Value],
        args: serde_json::Value,
    ) -> Result<serde_json::Value> {
        let f = self.computed.get(field.slot).ok_or_else(|| {
            Error::internal(format!("computed field `{}` has no function", field.name))
        })?;
        f(ctx, Row::of(model, values, &field.requires), args).await
    }
}

/// What a request carries, for custom code.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// Request headers, names in lower case.
    pub headers: BTreeMap<String, String>,
    /// The verified bearer token's user, if the request carried one.
    pub principal: Option<Principal>,
    /// The client's address, as the server saw it.
    pub client: Option<String>,
    /// The request came from the federation gateway: it carried the
    /// gateway secret, or came from a gateway address.
    pub gateway: bool,
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
