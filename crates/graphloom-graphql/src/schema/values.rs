//! Value types and input objects (`#[derive(Object)]`,
//! `#[derive(InputObject)]`): the GraphQL types of structs that custom and
//! computed fields return or take. A value crosses as its serde form, so an
//! object's field resolver reads its parent's map by the field's name.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    future::Future,
    pin::Pin,
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
};

use async_graphql::{
    Value as Gql,
    dynamic::{Field, FieldFuture, FieldValue, InputObject, InputValue, Object, ResolverContext},
};
use futures_util::future::{BoxFuture, FutureExt, Shared};
use graphloom_meta::{Key, ModelKey, ObjectDecl, Registry, TypeDesc, Value};
use graphloom_query::{
    Error,
    exec::{self, Node},
};

use crate::{
    context::scope_of,
    convert::{parse_field, type_ref},
    error::ResultExt,
    runtime::Runtime,
    schema::types::{federate_field, federate_object, usage},
    translate::plan_node,
};

/// A value of type `d` as a resolver returns it: null as no value, lists
/// item by item, objects for their fields' resolvers to read.
pub(crate) fn field_value(d: &TypeDesc, v: Gql) -> Option<FieldValue<'static>> {
    match (d, v) {
        (_, Gql::Null) => None,
        (TypeDesc::Nullable(inner), v) => field_value(inner, v),
        (TypeDesc::List(item), Gql::List(items)) => Some(FieldValue::list(
            items
                .into_iter()
                .map(|i| field_value(item, i).unwrap_or(FieldValue::NULL)),
        )),
        (_, v) => Some(FieldValue::value(v)),
    }
}

/// `d` without its nullability and lists.
fn strip(d: &TypeDesc) -> &TypeDesc {
    match d {
        TypeDesc::List(inner) | TypeDesc::Nullable(inner) => strip(inner),
        other => other,
    }
}

/// The output type of a value type.
pub(crate) fn object_type(rt: &Arc<Runtime>, o: &'static ObjectDecl) -> Object {
    let mut obj = Object::new(o.name);
    if let Some(d) = o.description {
        obj = obj.description(d);
    }
    for f in o.fields() {
        let (name, ty) = (f.name.clone(), f.ty.clone());
        let reference = f.ty.model().map(|key| (key, Arc::clone(rt)));
        let mut field = Field::new(&f.name, type_ref(&f.ty), move |ctx| {
            let (name, ty, reference) = (name.clone(), ty.clone(), reference.clone());
            FieldFuture::new(async move {
                let v = match ctx.parent_value.as_value() {
                    Some(Gql::Object(map)) => map.get(name.as_str()).cloned().unwrap_or(Gql::Null),
                    _ => Gql::Null,
                };
                match reference {
                    Some((key, rt)) => references(&rt, &ctx, key, &ty, v).await,
                    None => Ok(field_value(&ty, v)),
                }
            })
        });
        if let Some(d) = f.description {
            field = field.description(d);
        }
        obj = obj.field(federate_field(field, &f.federation));
    }
    for key in &o.keys {
        obj = obj.key(*key);
    }
    federate_object(obj, &o.federation)
}

/// The entities a value type's field refers to (`createdBy: User`): stubs
/// of their keys, with what this service adds to them (computed fields,
/// relations) loaded for the selection, as `_entities` does. The same field
/// of every value in the response is loaded together ([`RefBatches`]).
async fn references<'a>(
    rt: &Arc<Runtime>,
    ctx: &ResolverContext<'a>,
    key: ModelKey,
    ty: &TypeDesc,
    v: Gql,
) -> async_graphql::Result<Option<FieldValue<'a>>> {
    // The schema's build refused a reference to anything but an external model.
    let Some(model) = rt.registry().by_key(key) else {
        return Ok(None);
    };
    let mut raws = Vec::new();
    keys_in(ty, &v, &mut raws);
    // Another service's entity: keyed by one field.
    let pk = model.ref_pk_field();
    let mut keys = Vec::with_capacity(raws.len());
    for raw in raws {
        let key = parse_field(rt.registry(), pk, raw)
            .map_err(|e| Error::internal(format!("{}: {}", model.graphql_name, e.message)))
            .gql()?;
        keys.push(key);
    }
    let scope = scope_of(ctx).gql()?;
    let nodes = match ctx.data_opt::<Arc<RefBatches>>() {
        // A value without references waits for the batch too: async-graphql
        // resolves a value's fields one after another, so the values reach
        // their next field in step only if each waits alike.
        Some(batches) => batches.load(rt, &scope, model, ctx, keys).await?,
        None if keys.is_empty() => Vec::new(),
        None => {
            let plan = plan_node(rt, &scope, model, &ctx.ctx.field()).gql()?;
            loaded_stubs(rt, &scope, model, &plan, keys)
                .await?
                .into_iter()
                .map(Arc::new)
                .collect()
        }
    };
    Ok(with_nodes(ty, v, &mut nodes.into_iter()))
}

type Loaded = Result<Arc<HashMap<Key, Arc<Node>>>, async_graphql::Error>;

/// One request's open batches of references, by the selection they answer
/// (its field in the document) and the model. A list's values resolve
/// side by side, so the resolvers of one field across them run in the same
/// poll of the request's future: the first opens a batch, the others add
/// their keys, and the batch loads them together from the first poll in
/// which none joined ([`Quiet`]; [`RefBatches::passes`] counts the polls).
/// It runs in the request's own task, not spawned as async-graphql's
/// `DataLoader` does, so its
/// statements count in the request's capture and its rows against the
/// response budget, and no timer delays it.
#[derive(Default)]
pub(crate) struct RefBatches {
    open: Mutex<HashMap<(usize, graphloom_meta::ModelId), Batch>>,
    /// How many times the request's future has been polled.
    polls: Arc<AtomicU64>,
}

struct Batch {
    /// The keys asked for so far; `None` once the load took them.
    keys: Arc<Mutex<Option<Vec<Value>>>>,
    /// The request's poll in which a resolver last joined.
    joined: Arc<AtomicU64>,
    loaded: Shared<BoxFuture<'static, Loaded>>,
}

impl RefBatches {
    /// `request`, counting its polls for the batches.
    pub(crate) fn passes<F: Future>(
        self: &Arc<Self>,
        request: F,
    ) -> impl Future<Output = F::Output> {
        let polls = Arc::clone(&self.polls);
        let mut request = Box::pin(request);
        std::future::poll_fn(move |cx| {
            polls.fetch_add(1, Ordering::Relaxed);
            request.as_mut().poll(cx)
        })
    }

    async fn load(
        &self,
        rt: &Arc<Runtime>,
        scope: &Arc<graphloom_query::scope::Scope>,
        model: &graphloom_meta::ModelMeta,
        ctx: &ResolverContext<'_>,
        keys: Vec<Value>,
    ) -> async_graphql::Result<Vec<Arc<Node>>> {
        let wanted: Vec<Key> = keys.iter().map(Value::key).collect();
        let loaded = {
            let site = (std::ptr::from_ref(ctx.ctx.item) as usize, model.id);
            let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
            let joined = open.get(&site).and_then(|b| {
                let mut pending = b.keys.lock().unwrap_or_else(|e| e.into_inner());
                pending.as_mut()?.extend(keys.iter().cloned());
                b.joined
                    .fetch_max(self.polls.load(Ordering::Relaxed), Ordering::Relaxed);
                Some(b.loaded.clone())
            });
            match joined {
                Some(loaded) => loaded,
                None => {
                    let plan = plan_node(rt, scope, model, &ctx.ctx.field()).gql()?;
                    let batch = Batch::open(rt, scope, model.id, plan, keys, &self.polls);
                    let loaded = batch.loaded.clone();
                    open.insert(site, batch);
                    loaded
                }
            }
        };
        let nodes = loaded.await?;
        Ok(wanted
            .iter()
            .filter_map(|k| nodes.get(k).cloned())
            .collect())
    }
}

/// Ready from the first poll of the request after the last in which a
/// resolver joined the batch: by then every resolver that could join it
/// has. Not simply the poll after the batch opened: resolvers that saw the
/// previous batch's rows one poll late (those polled before the one whose
/// poll finished loading them) join this one a poll late, and one of them
/// would otherwise start the load before the others behind it had joined.
struct Quiet {
    polls: Arc<AtomicU64>,
    joined: Arc<AtomicU64>,
}

impl Future for Quiet {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.polls.load(Ordering::Relaxed) > self.joined.load(Ordering::Relaxed) {
            Poll::Ready(())
        } else {
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

impl Batch {
    fn open(
        rt: &Arc<Runtime>,
        scope: &Arc<graphloom_query::scope::Scope>,
        model: graphloom_meta::ModelId,
        plan: graphloom_query::plan::NodePlan,
        keys: Vec<Value>,
        polls: &Arc<AtomicU64>,
    ) -> Batch {
        // Opened by a join in this poll.
        let joined = Arc::new(AtomicU64::new(polls.load(Ordering::Relaxed)));
        let gate = Quiet {
            polls: Arc::clone(polls),
            joined: Arc::clone(&joined),
        };
        let keys = Arc::new(Mutex::new(Some(keys)));
        let (rt, scope, taken) = (Arc::clone(rt), Arc::clone(scope), Arc::clone(&keys));
        let loaded = async move {
            gate.await;
            let keys = taken
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take()
                .unwrap_or_default();
            let m = rt.registry().model(model);
            let mut seen = HashSet::new();
            let keys = keys.into_iter().filter(|k| seen.insert(k.key())).collect();
            Ok(Arc::new(
                loaded_stubs(&rt, &scope, m, &plan, keys)
                    .await?
                    .into_iter()
                    .map(|n| (m.key_of(&n.values).key(), Arc::new(n)))
                    .collect(),
            ))
        };
        Batch {
            keys,
            joined,
            loaded: loaded.boxed().shared(),
        }
    }
}

/// Stubs of `keys`, completed for `plan` as `_entities` completes them.
async fn loaded_stubs(
    rt: &Runtime,
    scope: &graphloom_query::scope::Scope,
    model: &graphloom_meta::ModelMeta,
    plan: &graphloom_query::plan::NodePlan,
    keys: Vec<Value>,
) -> async_graphql::Result<Vec<Node>> {
    let mut stubs: Vec<Node> = keys.into_iter().map(|k| exec::stub(model, k)).collect();
    crate::federation::load_stubs(rt, scope, model, plan, &mut stubs)
        .await
        .gql()?;
    Ok(stubs)
}

/// The references' keys in `v`, in order.
fn keys_in<'v>(ty: &TypeDesc, v: &'v Gql, out: &mut Vec<&'v Gql>) {
    match (ty, v) {
        (_, Gql::Null) => {}
        (TypeDesc::Nullable(inner), v) => keys_in(inner, v, out),
        (TypeDesc::List(item), Gql::List(items)) => {
            items.iter().for_each(|i| keys_in(item, i, out))
        }
        (TypeDesc::Model { .. }, v) => out.push(v),
        _ => {}
    }
}

/// `v` with each reference, in [`keys_in`]'s order, replaced by its node.
fn with_nodes(
    ty: &TypeDesc,
    v: Gql,
    nodes: &mut impl Iterator<Item = Arc<Node>>,
) -> Option<FieldValue<'static>> {
    match (ty, v) {
        (_, Gql::Null) => None,
        (TypeDesc::Nullable(inner), v) => with_nodes(inner, v, nodes),
        (TypeDesc::List(item), Gql::List(items)) => {
            Some(FieldValue::list(items.into_iter().map(|i| {
                with_nodes(item, i, nodes).unwrap_or(FieldValue::NULL)
            })))
        }
        (TypeDesc::Model { .. }, _) => nodes.next().map(FieldValue::owned_any),
        _ => None,
    }
}

/// The input type of an input object.
pub(crate) fn input_type(o: &'static ObjectDecl) -> InputObject {
    let mut obj = InputObject::new(o.name);
    if let Some(d) = o.description {
        obj = obj.description(d);
    }
    // `@inaccessible` and `@tag` (all an input takes), in declared order.
    for d in o.federation.declared() {
        if let Some(d) = usage(d, &o.federation, true) {
            obj = obj.directive(d);
        }
    }
    for f in o.fields() {
        let mut iv = InputValue::new(&f.name, type_ref(&f.ty));
        if let Some(d) = f.description {
            iv = iv.description(d);
        }
        for d in f.federation.declared() {
            if let Some(d) = usage(d, &f.federation, false) {
                iv = iv.directive(d);
            }
        }
        if let Some(reason) = f.federation.deprecated {
            iv = iv.deprecation(Some(reason));
        }
        obj = obj.field(iv);
    }
    obj
}

/// Where a type is used: as an argument (`input`) or a result.
pub(crate) struct Use<'a> {
    pub ty: &'a TypeDesc,
    pub input: bool,
    /// What uses it, for the error (`the custom query `product``).
    pub by: String,
}

/// The value types and input objects the uses mention, each once, or why
/// they cannot be: an output type taken as an argument or the reverse, two
/// types of one name, or a name the generated schema already has.
pub(crate) fn collect(
    reg: &Registry,
    uses: &[Use<'_>],
    taken: &BTreeMap<String, String>,
) -> Result<Vec<&'static ObjectDecl>, String> {
    let mut found: Vec<&'static ObjectDecl> = Vec::new();
    for u in uses {
        if let TypeDesc::Model { name, .. } = strip(u.ty) {
            return Err(format!(
                "{} is typed `{name}`, a reference: hold it in a value type's field, or return the model with resolve_model / resolve_models",
                u.by
            ));
        }
        for o in u.ty.objects() {
            for f in o.fields() {
                let Some(key) = f.ty.model() else { continue };
                let at = format!("`{}.{}` (in {})", o.name, f.name, u.by);
                // An input object cannot hold one: a reference is not
                // Deserialize.
                match reg.by_key(key) {
                    None => {
                        return Err(format!(
                            "{at} refers to {key}, which no app of this service declares: add it with App::model"
                        ));
                    }
                    Some(m) if !m.external => {
                        return Err(format!(
                            "{at} refers to {}, a model of this service: a value type refers to other services' entities only; return this service's models with resolve_model / resolve_models, where their selection is planned",
                            m.graphql_name
                        ));
                    }
                    Some(_) => {}
                }
            }

            if o.input != u.input {
                let (is, wants) = if o.input {
                    ("an input object (#[derive(InputObject)])", "a result")
                } else {
                    ("a value type (#[derive(Object)])", "an argument")
                };
                return Err(format!(
                    "{} uses `{}` as {wants}, but it is {is}: GraphQL keeps input and output types apart; declare one of each",
                    u.by, o.name
                ));
            }
            match found.iter().find(|f| f.name == o.name) {
                Some(f) if std::ptr::eq(*f, o) => {}
                Some(_) => {
                    return Err(format!(
                        "two Rust types are both named `{}` in GraphQL: rename one with #[object(name = \"…\")]",
                        o.name
                    ));
                }
                None => {
                    if let Some(by) = taken.get(o.name) {
                        return Err(format!(
                            "the type `{}` of {} is named as {by} already is: rename it with #[object(name = \"…\")]",
                            o.name, u.by
                        ));
                    }
                    found.push(o);
                }
            }
        }
    }
    Ok(found)
}
