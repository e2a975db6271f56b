//! Custom queries, mutations and computed fields: plain async Rust with typed
//! arguments (deserialised with serde) and typed results.
//!
//! The guide (`docs/guide.md`, section 5) shows each of them; its examples
//! run as doctests of `graphloom-test`.

use std::{collections::BTreeMap, future::Future, sync::Arc};

use async_graphql::dynamic::TypeRef;
use futures_util::future::BoxFuture;
use graphloom_db::Database;
use graphloom_meta::{Model, ModelKey, Registry, Value};
use serde::{Serialize, de::DeserializeOwned};

use crate::{error::Error, runtime::Runtime};

/// The GraphQL type of a Rust argument or result.
pub trait GqlType {
    fn type_ref() -> TypeRef;
}

macro_rules! gql_type {
    ($($t:ty => $n:expr),*) => {$(
        impl GqlType for $t {
            fn type_ref() -> TypeRef { TypeRef::named_nn($n) }
        }
    )*};
}
gql_type!(i32 => TypeRef::INT, f64 => TypeRef::FLOAT, bool => TypeRef::BOOLEAN, String => TypeRef::STRING, serde_json::Value => "JSON");

impl<T: GqlType> GqlType for Option<T> {
    fn type_ref() -> TypeRef {
        match T::type_ref() {
            TypeRef::NonNull(inner) => *inner,
            other => other,
        }
    }
}

impl<T: GqlType> GqlType for Vec<T> {
    fn type_ref() -> TypeRef {
        TypeRef::NonNull(Box::new(TypeRef::List(Box::new(T::type_ref()))))
    }
}

/// What a request carries, for custom resolvers.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// Request headers, names in lower case.
    pub headers: BTreeMap<String, String>,
    /// The verified bearer token's user, if the request carried one.
    pub principal: Option<graphloom_auth::token::Principal>,
    /// The client's address, as the server saw it.
    pub client: Option<String>,
}

/// What a custom resolver can reach: the database, the registry and the request.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub(crate) rt: Arc<Runtime>,
    pub(crate) request: Arc<RequestContext>,
}

impl Ctx {
    pub fn db(&self) -> &Database {
        &self.rt.db
    }
    pub fn registry(&self) -> &Registry {
        &self.rt.registry
    }
    pub fn request(&self) -> &RequestContext {
        &self.request
    }
    /// The authenticated user, or `None` for an anonymous request.
    pub fn principal(&self) -> Option<&graphloom_auth::token::Principal> {
        self.request.principal.as_ref()
    }
    /// The resolved metadata of model `M` (its table, columns, relations).
    pub fn model<M: Model>(&self) -> Result<&graphloom_meta::ModelMeta, Error> {
        self.rt.registry.by_key(ModelKey::of::<M>()).ok_or_else(|| {
            Error::internal(format!("model {} is not registered", ModelKey::of::<M>()))
        })
    }
}

pub(crate) enum Output {
    Json(serde_json::Value),
    Keys(Vec<Value>),
}

pub(crate) type Resolver =
    Arc<dyn Fn(Ctx, serde_json::Value) -> BoxFuture<'static, Result<Output, Error>> + Send + Sync>;

pub(crate) enum Returns {
    Scalar(TypeRef),
    Models(ModelKey),
}

/// A custom root field (query or mutation), built with typed arguments.
#[derive(Clone)]
pub struct CustomField {
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) args: Vec<(String, TypeRef)>,
    pub(crate) returns: Arc<Returns>,
    pub(crate) resolver: Resolver,
}

impl std::fmt::Debug for CustomField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomField")
            .field("name", &self.name)
            .finish()
    }
}

/// Builds a [`CustomField`]: name, description and arguments, then a resolver.
#[derive(Debug)]
pub struct CustomFieldBuilder {
    name: String,
    description: Option<String>,
    args: Vec<(String, TypeRef)>,
}

fn decode_args<A: DeserializeOwned>(args: serde_json::Value) -> Result<A, Error> {
    serde_json::from_value(args)
        .map_err(|e| crate::error::bad_input(format!("invalid arguments: {e}")))
}

impl CustomField {
    #[allow(clippy::new_ret_no_self)]
    pub fn new(name: impl Into<String>) -> CustomFieldBuilder {
        CustomFieldBuilder {
            name: name.into(),
            description: None,
            args: Vec::new(),
        }
    }
}

impl CustomFieldBuilder {
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// Declares an argument; its GraphQL type follows the Rust type.
    pub fn arg<T: GqlType>(mut self, name: impl Into<String>) -> Self {
        self.args.push((name.into(), T::type_ref()));
        self
    }

    /// A resolver returning a scalar or JSON-like value `R`.
    pub fn resolve<A, R, F, Fut>(self, f: F) -> CustomField
    where
        A: DeserializeOwned + Send + 'static,
        R: Serialize + GqlType + Send + 'static,
        F: Fn(Ctx, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, Error>> + Send + 'static,
    {
        let f = Arc::new(f);
        CustomField {
            name: self.name,
            description: self.description,
            args: self.args,
            returns: Arc::new(Returns::Scalar(R::type_ref())),
            resolver: Arc::new(move |ctx, args| {
                let f = Arc::clone(&f);
                Box::pin(async move {
                    let args = decode_args::<A>(args)?;
                    let out = f(ctx, args).await?;
                    serde_json::to_value(out)
                        .map(Output::Json)
                        .map_err(Error::internal)
                })
            }),
        }
    }

    /// A resolver returning the keys of rows of `M`: the field is `[M!]!` and
    /// graphloom fetches the selected fields of those rows, in that order.
    pub fn resolve_models<M, A, F, Fut>(self, f: F) -> CustomField
    where
        M: Model,
        A: DeserializeOwned + Send + 'static,
        F: Fn(Ctx, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<Value>, Error>> + Send + 'static,
    {
        let f = Arc::new(f);
        CustomField {
            name: self.name,
            description: self.description,
            args: self.args,
            returns: Arc::new(Returns::Models(ModelKey::of::<M>())),
            resolver: Arc::new(move |ctx, args| {
                let f = Arc::clone(&f);
                Box::pin(async move {
                    let args = decode_args::<A>(args)?;
                    f(ctx, args).await.map(Output::Keys)
                })
            }),
        }
    }
}

/// The fields a computed field asked for, by Rust field name.
#[derive(Debug, Clone)]
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
}

pub(crate) type ComputedResolver =
    Arc<dyn Fn(Ctx, Row) -> BoxFuture<'static, Result<serde_json::Value, Error>> + Send + Sync>;

/// A field computed in Rust from a row's stored fields.
#[derive(Clone)]
pub struct ComputedField {
    pub(crate) model: ModelKey,
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) requires: Vec<&'static str>,
    pub(crate) ty: TypeRef,
    pub(crate) resolver: ComputedResolver,
}

impl std::fmt::Debug for ComputedField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ComputedField")
            .field("model", &self.model)
            .field("name", &self.name)
            .finish()
    }
}

/// Resolved form of a [`ComputedField`]: field names turned into indices.
#[derive(Clone)]
pub(crate) struct Computed {
    pub(crate) requires: Vec<usize>,
    pub(crate) names: Vec<&'static str>,
    pub(crate) resolver: ComputedResolver,
}

impl std::fmt::Debug for Computed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Computed")
            .field("requires", &self.names)
            .finish()
    }
}

impl ComputedField {
    /// A computed field `name` on model `M` that reads the fields `requires`
    /// (Rust names; they are fetched with the row, in the same statement).
    pub fn new<M, R, F, Fut>(name: impl Into<String>, requires: &[&'static str], f: F) -> Self
    where
        M: Model,
        R: Serialize + GqlType + Send + 'static,
        F: Fn(Ctx, Row) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, Error>> + Send + 'static,
    {
        let f = Arc::new(f);
        ComputedField {
            model: ModelKey::of::<M>(),
            name: name.into(),
            description: None,
            requires: requires.to_vec(),
            ty: R::type_ref(),
            resolver: Arc::new(move |ctx, row| {
                let f = Arc::clone(&f);
                Box::pin(async move {
                    let out = f(ctx, row).await?;
                    serde_json::to_value(out).map_err(Error::internal)
                })
            }),
        }
    }

    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }
}
