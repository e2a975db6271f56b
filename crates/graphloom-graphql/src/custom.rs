//! Custom root queries, mutations and subscriptions: plain async Rust with
//! typed arguments (deserialised with serde) and typed results. A resolver
//! that returns model keys has the rows planned like any other selection;
//! a subscription is any `Stream` of results (or of keys).
//!
//! The guide (`docs/guide.md`, section 5) shows them; its examples run as
//! doctests of `graphloom-test`. Computed fields are model facts and live
//! with the query engine ([`graphloom_query::ComputedField`]).

use std::{future::Future, sync::Arc};

use futures_util::{
    Stream, StreamExt,
    future::BoxFuture,
    stream::{BoxStream, TryStreamExt},
};
use graphloom_meta::{Model, ModelKey, TypeDesc, Typed, Value};
use graphloom_query::{Ctx, Error, Result};
use serde::{Serialize, de::DeserializeOwned};

pub(crate) enum Output {
    Json(serde_json::Value),
    Keys(Vec<Value>),
    Key(Option<Value>),
    /// The rows a connection pages through.
    Rows(graphloom_query::filter::Filter),
}

pub(crate) type Resolver =
    Arc<dyn Fn(Ctx, serde_json::Value) -> BoxFuture<'static, Result<Output>> + Send + Sync>;

pub(crate) enum Returns {
    Scalar(TypeDesc),
    /// `[M!]!`.
    Models(ModelKey),
    /// `M`: one row, or null.
    Model(ModelKey),
    /// `MConnection!`: the rows of a filter, paged like the generated list.
    Connection(ModelKey),
}

/// A custom root field (query or mutation), built with typed arguments.
#[derive(Clone)]
pub struct CustomField {
    /// Its name, description and arguments.
    pub(crate) head: CustomFieldBuilder,
    pub(crate) returns: Arc<Returns>,
    pub(crate) resolver: Resolver,
}

impl std::fmt::Debug for CustomField {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomField")
            .field("name", &self.head.name)
            .finish()
    }
}

/// One argument of a custom field.
#[derive(Debug, Clone)]
pub(crate) struct Arg {
    pub name: String,
    pub ty: TypeDesc,
    /// As JSON (the Rust value serialized).
    pub default: Option<serde_json::Value>,
    /// `@deprecated(reason:)`.
    pub deprecated: Option<String>,
}

/// Builds a [`CustomField`] (or a [`CustomSubscription`]): name,
/// description and arguments, then a resolver (or a stream).
#[derive(Debug, Clone)]
pub struct CustomFieldBuilder {
    pub(crate) name: String,
    pub(crate) description: Option<String>,
    pub(crate) deprecated: Option<String>,
    pub(crate) args: Vec<Arg>,
}

fn decode_args<A: DeserializeOwned>(args: serde_json::Value) -> Result<A> {
    serde_json::from_value(args).map_err(|e| Error::bad_input(format!("invalid arguments: {e}")))
}

impl CustomField {
    #[allow(clippy::new_ret_no_self)]
    pub fn new(name: impl Into<String>) -> CustomFieldBuilder {
        CustomFieldBuilder {
            name: name.into(),
            description: None,
            deprecated: None,
            args: Vec::new(),
        }
    }
}

impl CustomFieldBuilder {
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }

    /// Marks the field `@deprecated(reason:)`: it still works, and tools
    /// (GraphiQL, codegen, the schema diff) tell clients to move off it.
    pub fn deprecated(mut self, reason: impl Into<String>) -> Self {
        self.deprecated = Some(reason.into());
        self
    }

    /// Declares an argument; its GraphQL type follows the Rust type.
    pub fn arg<T: Typed>(mut self, name: impl Into<String>) -> Self {
        self.args.push(Arg {
            name: name.into(),
            ty: T::type_desc(),
            default: None,
            deprecated: None,
        });
        self
    }

    /// Declares an argument marked `@deprecated(reason:)`: it still works,
    /// and tools tell clients to stop sending it. GraphQL lets only an
    /// optional argument be deprecated, so `T` is an `Option` (a required
    /// one is refused when the schema is built).
    pub fn arg_deprecated<T: Typed>(
        mut self,
        name: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        self.args.push(Arg {
            name: name.into(),
            ty: T::type_desc(),
            default: None,
            deprecated: Some(reason.into()),
        });
        self
    }

    /// Declares an argument with a default (`limit: Int! = 20`): a query
    /// may leave it out, and the resolver gets the default.
    pub fn arg_default<T: Typed + Serialize>(mut self, name: impl Into<String>, value: T) -> Self {
        let name = name.into();
        let default = serde_json::to_value(value).ok();
        self.args.push(Arg {
            name,
            ty: T::type_desc(),
            default,
            deprecated: None,
        });
        self
    }

    fn finish(self, returns: Returns, resolver: Resolver) -> CustomField {
        CustomField {
            head: self,
            returns: Arc::new(returns),
            resolver,
        }
    }

    /// The arguments as the schema declares them.
    pub(crate) fn inputs(&self) -> impl Iterator<Item = async_graphql::dynamic::InputValue> + '_ {
        self.args.iter().map(|a| {
            let arg = crate::convert::input_value(&a.name, &a.ty, a.default.as_ref());
            match &a.deprecated {
                Some(reason) => arg.deprecation(Some(reason)),
                None => arg,
            }
        })
    }

    /// A field whose resolver `f` answers `T`, turned into the field's
    /// [`Output`] by `out` (which may read the registry).
    fn resolve_as<A, T, F, Fut>(
        self,
        returns: Returns,
        f: F,
        out: fn(&graphloom_meta::Registry, T) -> Result<Output>,
    ) -> CustomField
    where
        A: DeserializeOwned + Send + 'static,
        T: Send + 'static,
        F: Fn(Ctx, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T>> + Send + 'static,
    {
        let f = Arc::new(f);
        self.finish(
            returns,
            Arc::new(move |ctx, args| {
                let f = Arc::clone(&f);
                Box::pin(async move {
                    let args = decode_args::<A>(args)?;
                    let reg = Arc::clone(ctx.engine().registry_arc());
                    out(&reg, f(ctx, args).await?)
                })
            }),
        )
    }

    /// A resolver returning a scalar or JSON-like value `R`.
    pub fn resolve<A, R, F, Fut>(self, f: F) -> CustomField
    where
        A: DeserializeOwned + Send + 'static,
        R: Serialize + Typed + Send + 'static,
        F: Fn(Ctx, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R>> + Send + 'static,
    {
        self.resolve_as(Returns::Scalar(R::type_desc()), f, |_, r| {
            serde_json::to_value(r)
                .map(Output::Json)
                .map_err(Error::internal)
        })
    }

    /// A resolver returning the keys of rows of `M`: the field is `[M!]!` and
    /// graphloom fetches the selected fields of those rows, in that order.
    pub fn resolve_models<M, A, F, Fut>(self, f: F) -> CustomField
    where
        M: Model,
        A: DeserializeOwned + Send + 'static,
        F: Fn(Ctx, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<Value>>> + Send + 'static,
    {
        self.resolve_as(Returns::Models(ModelKey::of::<M>()), f, |_, keys| {
            Ok(Output::Keys(keys))
        })
    }

    /// A resolver returning the key of one row of `M`, or none: the field
    /// is `M` (nullable) and graphloom fetches the selected fields of that
    /// row; a row the caller may not see is null, as a missing one.
    pub fn resolve_model<M, A, F, Fut>(self, f: F) -> CustomField
    where
        M: Model,
        A: DeserializeOwned + Send + 'static,
        F: Fn(Ctx, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Option<Value>>> + Send + 'static,
    {
        self.resolve_as(Returns::Model(ModelKey::of::<M>()), f, |_, key| {
            Ok(Output::Key(key))
        })
    }

    /// A resolver returning which rows of `M` the field pages through (a
    /// [`Where`](graphloom_query::Where), `Where::all()` for every row):
    /// the field is `MConnection!` with the generated list's arguments
    /// (`where`, `orderBy`, `first`, `after`, …) applied within those rows,
    /// under the caller's rules, its selection planned like any other.
    pub fn resolve_connection<M, A, F, Fut>(self, f: F) -> CustomField
    where
        M: Model,
        A: DeserializeOwned + Send + 'static,
        F: Fn(Ctx, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<graphloom_query::Where<M>>> + Send + 'static,
    {
        self.resolve_as(
            Returns::Connection(ModelKey::of::<M>()),
            f,
            |reg, rows: graphloom_query::Where<M>| {
                let m = reg
                    .by_key(ModelKey::of::<M>())
                    .ok_or_else(|| Error::internal("a connection of a missing model"))?;
                rows.to_filter(reg, m).map(Output::Rows)
            },
        )
    }
}

pub(crate) type StreamResolver = Arc<
    dyn Fn(Ctx, serde_json::Value) -> BoxFuture<'static, Result<BoxStream<'static, Result<Output>>>>
        + Send
        + Sync,
>;

/// A custom root subscription field: a stream from the app's own Rust,
/// built from a [`CustomFieldBuilder`] with [`CustomFieldBuilder::stream`]
/// or [`CustomFieldBuilder::stream_model`].
#[derive(Clone)]
pub struct CustomSubscription {
    pub(crate) head: CustomFieldBuilder,
    pub(crate) returns: Arc<Returns>,
    pub(crate) resolver: StreamResolver,
}

impl std::fmt::Debug for CustomSubscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomSubscription")
            .field("name", &self.head.name)
            .finish()
    }
}

impl CustomFieldBuilder {
    fn finish_stream(self, returns: Returns, resolver: StreamResolver) -> CustomSubscription {
        CustomSubscription {
            head: self,
            returns: Arc::new(returns),
            resolver,
        }
    }

    /// A subscription: `f` starts a stream of `R` for one subscriber (an
    /// error before it starts refuses the subscription; an error item ends
    /// it). Each item is one event.
    pub fn stream<A, R, F, Fut, S>(self, f: F) -> CustomSubscription
    where
        A: DeserializeOwned + Send + 'static,
        R: Serialize + Typed + Send + 'static,
        F: Fn(Ctx, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<S>> + Send + 'static,
        S: Stream<Item = Result<R>> + Send + 'static,
    {
        let f = Arc::new(f);
        let returns = Returns::Scalar(R::type_desc());
        self.finish_stream(
            returns,
            Arc::new(move |ctx, args| {
                let f = Arc::clone(&f);
                Box::pin(async move {
                    let args = decode_args::<A>(args)?;
                    let items = f(ctx, args).await?.and_then(|item| async move {
                        serde_json::to_value(item)
                            .map(Output::Json)
                            .map_err(Error::internal)
                    });
                    Ok(items.boxed())
                })
            }),
        )
    }

    /// A subscription whose items are keys of rows of `M`: the field is `M`
    /// (nullable), and each event is that row as the subscriber may see it,
    /// its selection planned like a query's (null when they may not).
    pub fn stream_model<M, A, F, Fut, S>(self, f: F) -> CustomSubscription
    where
        M: Model,
        A: DeserializeOwned + Send + 'static,
        F: Fn(Ctx, A) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<S>> + Send + 'static,
        S: Stream<Item = Result<Value>> + Send + 'static,
    {
        let f = Arc::new(f);
        let returns = Returns::Model(ModelKey::of::<M>());
        self.finish_stream(
            returns,
            Arc::new(move |ctx, args| {
                let f = Arc::clone(&f);
                Box::pin(async move {
                    let args = decode_args::<A>(args)?;
                    let keys = f(ctx, args).await?.map_ok(|k| Output::Key(Some(k)));
                    Ok(keys.boxed())
                })
            }),
        )
    }
}

/// Builds a field or a type of the dynamic schema once the runtime exists:
/// the escape hatch for apps whose fields return objects of their own.
pub type FieldFactory =
    Arc<dyn Fn(&Arc<crate::runtime::Runtime>) -> async_graphql::dynamic::Field + Send + Sync>;
pub type TypeFactory =
    Arc<dyn Fn(&Arc<crate::runtime::Runtime>) -> async_graphql::dynamic::Type + Send + Sync>;

/// Resolves a batch of representations: per item, the value (`null` for
/// none) or why that one cannot be read; `Err` when the resolver failed.
pub(crate) type EntityResolver = Arc<
    dyn Fn(
            Ctx,
            Vec<serde_json::Value>,
        ) -> BoxFuture<'static, Result<Vec<Result<serde_json::Value>>>>
        + Send
        + Sync,
>;

/// An entity that is a value type (`#[derive(Object)]` with
/// `#[object(key = "…")]`), not a table: other services refer to it, and
/// this service resolves their representations with the app's own Rust,
/// one call per `_entities` batch of the type.
#[derive(Clone)]
pub struct CustomEntity {
    pub(crate) ty: TypeDesc,
    pub(crate) resolver: EntityResolver,
}

impl std::fmt::Debug for CustomEntity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match &self.ty {
            TypeDesc::Object(o) => o.name,
            _ => "?",
        };
        f.debug_struct("CustomEntity").field("type", &name).finish()
    }
}

impl CustomEntity {
    /// Resolves `T` from its representations: `K` is a representation
    /// (its `__typename` and key fields, as serde reads them); the result
    /// has one item per representation, in order, `None` for one that does
    /// not exist.
    pub fn new<T, K, F, Fut>(f: F) -> CustomEntity
    where
        T: Serialize + Typed + Send + 'static,
        K: DeserializeOwned + Send + 'static,
        F: Fn(Ctx, Vec<K>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<Option<T>>>> + Send + 'static,
    {
        let f = Arc::new(f);
        CustomEntity {
            ty: T::type_desc(),
            resolver: Arc::new(move |ctx, reps| {
                let f = Arc::clone(&f);
                Box::pin(async move {
                    // A representation that does not read as `K` fails alone.
                    let read: Vec<Result<K>> = reps
                        .into_iter()
                        .map(|r| {
                            serde_json::from_value::<K>(r)
                                .map_err(|e| Error::bad_input(format!("the representation: {e}")))
                        })
                        .collect();
                    let mut out: Vec<Option<Result<serde_json::Value>>> = Vec::new();
                    let mut keys = Vec::new();
                    for r in read {
                        match r {
                            Ok(k) => {
                                keys.push(k);
                                out.push(None);
                            }
                            Err(e) => out.push(Some(Err(e))),
                        }
                    }
                    let n = keys.len();
                    let found = f(ctx, keys).await?;
                    if found.len() != n {
                        return Err(Error::internal(format!(
                            "an entity resolver answered {n} representations with {} items",
                            found.len()
                        )));
                    }
                    let mut found = found.into_iter();
                    Ok(out
                        .into_iter()
                        .map(|slot| match slot {
                            Some(failed) => failed,
                            None => serde_json::to_value(found.next()).map_err(Error::internal),
                        })
                        .collect())
                })
            }),
        }
    }
}

/// The GraphQL fields apps add to the generated ones.
#[derive(Clone, Default)]
pub struct Custom {
    pub queries: Vec<CustomField>,
    pub mutations: Vec<CustomField>,
    pub subscriptions: Vec<CustomSubscription>,
    /// Value types other services refer to, with their resolvers.
    pub entities: Vec<CustomEntity>,
    /// Fields built from the runtime, by their names.
    pub raw_queries: Vec<(String, FieldFactory)>,
    pub raw_mutations: Vec<(String, FieldFactory)>,
    pub types: Vec<TypeFactory>,
}

impl std::fmt::Debug for Custom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Custom")
            .field("queries", &self.queries)
            .field("mutations", &self.mutations)
            .field("subscriptions", &self.subscriptions)
            .field("entities", &self.entities)
            .field("raw_queries", &self.raw_queries.len())
            .field("raw_mutations", &self.raw_mutations.len())
            .field("types", &self.types.len())
            .finish()
    }
}
