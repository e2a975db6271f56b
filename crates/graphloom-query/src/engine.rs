//! The engine a service builds once: the registry, the database, the
//! pagination limits, and the Rust functions of computed fields.

use std::{collections::BTreeMap, fmt, future::Future, sync::Arc};

use futures_util::future::BoxFuture;
use graphloom_db::{Database, schema::ProjectState};
use graphloom_meta::{
    ComputedDecl, ComputedMeta, Model, ModelKey, ModelMeta, Registry, Typed, Value,
};

use crate::{Ctx, Error, Result, exec::Node, plan::PageLimits};

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

    /// The row of a node: the listed fields, by Rust name.
    pub(crate) fn of(model: &ModelMeta, node: &Node, fields: &[usize]) -> Row {
        Row {
            values: fields
                .iter()
                .map(|&i| (model.fields[i].name, node.values[i].clone()))
                .collect(),
        }
    }
}

/// The Rust function of a computed field.
pub type ComputedFn =
    Arc<dyn Fn(Ctx, Row) -> BoxFuture<'static, Result<serde_json::Value>> + Send + Sync>;

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
        ComputedField {
            decl: ComputedDecl {
                model: ModelKey::of::<M>(),
                name: name.into(),
                description: None,
                requires: requires.to_vec(),
                output: R::type_desc(),
            },
            function: Arc::new(move |ctx, row| {
                let f = Arc::clone(&f);
                Box::pin(async move {
                    let out = f(ctx, row).await?;
                    serde_json::to_value(out).map_err(Error::internal)
                })
            }),
        }
    }

    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.decl.description = Some(text.into());
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

    /// Computes a computed field of a fetched row.
    pub async fn compute(
        &self,
        ctx: Ctx,
        model: &ModelMeta,
        field: &ComputedMeta,
        node: &Node,
    ) -> Result<serde_json::Value> {
        let f = self.computed.get(field.slot).ok_or_else(|| {
            Error::internal(format!("computed field `{}` has no function", field.name))
        })?;
        f(ctx, Row::of(model, node, &field.requires)).await
    }
}
