//! Apollo Federation v2: every model is an entity keyed by its primary key,
//! `_service { sdl }` describes the subgraph, and `_entities` resolves the
//! representations of each type with one batched statement (plus one per
//! selected relation edge), in order, under the request's permission rules.
//! A missing (or hidden) entity comes back as `null` with one `NOT_FOUND`
//! error at its index; a malformed representation (or an unknown
//! `__typename`) as `null` with one `BAD_USER_INPUT` error at its index,
//! the rest of the batch resolved.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use async_graphql::{
    ErrorExtensionValues, Name, PathSegment, Response, ServerError, Value as Gql,
    dynamic::{FieldFuture, FieldValue, ResolverContext},
};
use graphloom_db::Exec;
use graphloom_meta::{KeyPath, ModelId, ModelMeta, ObjectDecl, Registry, TypeDesc, Value};
use graphloom_query::{
    Error, ErrorCode,
    exec::{self, Node, fetch_where_in, fetch_where_tuples_in},
    plan::NodePlan,
    scope::Scope,
};
use indexmap::IndexMap;

use crate::{
    context::{request_ctx, scope_of},
    convert::parse_field,
    custom::EntityResolver,
    error::ResultExt,
    runtime::Runtime,
    translate::{Selection, list, plan_node},
};

/// The value types that are entities, by name, with their resolvers.
pub(crate) type Entities = Arc<HashMap<String, (&'static ObjectDecl, EntityResolver)>>;

/// Resolves `_entities(representations:)`.
pub(crate) async fn entities(
    rt: Arc<Runtime>,
    custom: Entities,
    ctx: ResolverContext<'_>,
) -> Result<Option<FieldValue<'_>>, async_graphql::Error> {
    let scope = scope_of(&ctx).gql()?;
    // One representation where the list is expected is a list of one.
    let reps = list(ctx.args.try_get("representations")?.as_value());
    // By type and by the key each representation uses; a bad one is
    // reported by its index.
    let mut by_type: HashMap<(String, usize), Vec<Rep>> = HashMap::new();
    // Value types' representations, as JSON, by type.
    let mut by_value_type: HashMap<String, Vec<(usize, serde_json::Value)>> = HashMap::new();
    let mut results: Vec<Option<FieldValue>> = (0..reps.len()).map(|_| None).collect();
    let field = ctx.ctx.field();
    let misses = ctx.data_opt::<Arc<Misses>>();
    let response_key = field.alias().unwrap_or(field.name()).to_owned();
    for (i, &rep) in reps.iter().enumerate() {
        if let Gql::Object(o) = rep
            && let Some(Gql::String(name)) = o.get("__typename")
            && custom.contains_key(name.as_str())
        {
            let json = rep.clone().into_json().map_err(Error::internal).gql()?;
            by_value_type
                .entry(name.clone())
                .or_default()
                .push((i, json));
            continue;
        }
        match (parse_representation(&rt, i, rep), misses) {
            (Ok((typename, ki, rep)), _) => by_type.entry((typename, ki)).or_default().push(rep),
            // A bad representation fails alone: its item is null with the
            // reason, the others resolve (the item still needs a member
            // type of `_Entity` until the response is patched).
            (Err(e), Some(misses)) => {
                let Some(stand_in) = rt
                    .registry()
                    .models()
                    .iter()
                    .find(|m| m.exposed && !m.federation.unresolvable && !m.federation.plain)
                else {
                    return Err(e).gql();
                };
                misses.record(&response_key, i, e.message.clone(), e.code);
                results[i] = Some(
                    FieldValue::owned_any(Arc::new(Node::missing(stand_in, e.message)))
                        .with_type(stand_in.graphql_name.clone()),
                );
            }
            (Err(e), None) => return Err(e).gql(),
        }
    }
    for ((typename, ki), items) in by_type {
        let Some(model) = rt.registry().by_graphql_name(&typename) else {
            continue;
        };
        let plan = plan_node(&rt, &scope, model, &field).gql()?;
        for (i, found) in fetch_group(&rt, &scope, model, &typename, ki, items, &plan)
            .await
            .gql()?
        {
            let node = match found {
                Ok(node) => node,
                Err(message) => {
                    if let Some(misses) = misses {
                        misses.record(&response_key, i, message.clone(), ErrorCode::NotFound);
                    }
                    Arc::new(Node::missing(model, message))
                }
            };
            results[i] = Some(FieldValue::owned_any(node).with_type(typename.clone()));
        }
    }
    for (name, items) in by_value_type {
        let Some((decl, resolve)) = custom.get(&name) else {
            continue;
        };
        let ty = TypeDesc::Object(decl);
        let (indices, reps): (Vec<usize>, Vec<serde_json::Value>) = items.into_iter().unzip();
        let found = resolve(request_ctx(&rt, &ctx).gql()?, reps).await;
        for (n, &i) in indices.iter().enumerate() {
            let item = match &found {
                Ok(values) => values.get(n),
                Err(_) => None,
            };
            let (value, failed) = match (item, &found) {
                (Some(Ok(v)), _) => (v.clone(), None),
                (Some(Err(e)), _) => (
                    serde_json::Value::Null,
                    Some((format!("representations[{i}]: {}", e.message), e.code)),
                ),
                (None, Err(e)) => (serde_json::Value::Null, Some((e.message.clone(), e.code))),
                (None, Ok(_)) => (serde_json::Value::Null, None),
            };
            if value.is_null() {
                let (message, code) = failed.unwrap_or_else(|| {
                    (
                        format!("representations[{i}]: no {name} with this key"),
                        ErrorCode::NotFound,
                    )
                });
                let Some(misses) = misses else {
                    return Err(Error::new(code, message)).gql();
                };
                misses.record(&response_key, i, message, code);
            }
            // An item of `[_Entity]!` needs a type even when it is null: a
            // missing one stands in as an empty object, nulled by `Misses`.
            let item = match crate::convert::typed_value(&ty, &value) {
                async_graphql::Value::Null => async_graphql::Value::Object(Default::default()),
                v => v,
            };
            results[i] = Some(FieldValue::value(item).with_type(name.clone()));
        }
    }
    Ok(Some(FieldValue::list(
        results.into_iter().map(|r| r.unwrap_or(FieldValue::NULL)),
    )))
}

/// The entities of `model` that representations by its key `ki` name: for
/// each representation's index, its row, or the message saying there is
/// none (a hidden row reads as a missing one). Another service's entity is
/// its representation (its key and the fields the gateway passed) with
/// what this service adds to it loaded; one node per representation, as
/// the same key may come with different fields.
async fn fetch_group(
    rt: &Runtime,
    scope: &Scope,
    model: &ModelMeta,
    typename: &str,
    ki: usize,
    items: Vec<Rep>,
    plan: &NodePlan,
) -> graphloom_query::Result<Vec<(usize, Result<Arc<Node>, String>)>> {
    if model.external {
        let mut stubs: Vec<Node> = items
            .iter()
            .map(|r| {
                // An external model's only key is its primary key.
                let pk = r.key.first().cloned().unwrap_or(Value::Null);
                let mut n = exec::stub(model, pk);
                for (fi, v) in &r.provided {
                    n.values[*fi] = v.clone();
                }
                n
            })
            .collect();
        load_stubs(rt, scope, model, plan, &mut stubs).await?;
        return Ok(items
            .iter()
            .zip(stubs)
            .map(|(r, n)| (r.index, Ok(Arc::new(n))))
            .collect());
    }
    let key_fields = &model.keys[ki];
    let mut conn = Exec::pool(rt.engine.db());
    let nodes = match key_fields.as_slice() {
        [one] => {
            let keys: Vec<Value> = items
                .iter()
                .filter_map(|r| r.key.first().cloned())
                .collect();
            fetch_where_in(&rt.engine, &mut conn, scope, model, *one, &keys, plan).await?
        }
        many => {
            let tuples: Vec<Vec<Value>> = items.iter().map(|r| r.key.clone()).collect();
            fetch_where_tuples_in(&rt.engine, &mut conn, scope, model, many, &tuples, plan).await?
        }
    };
    let found: HashMap<String, Arc<Node>> = nodes
        .into_iter()
        .map(|n| {
            (
                tuple_key(key_fields.iter().map(|&f| &n.values[f])),
                Arc::new(n),
            )
        })
        .collect();
    Ok(items
        .into_iter()
        .map(
            |Rep { index: i, key, .. }| match found.get(&tuple_key(key.iter())) {
                Some(n) => (i, Ok(Arc::clone(n))),
                None => {
                    let what: Vec<String> = key_fields
                        .iter()
                        .zip(&key)
                        .map(|(&f, v)| {
                            format!("{} {}", model.fields[f].graphql_name, v.key_string())
                        })
                        .collect();
                    let message = format!(
                        "representations[{i}]: no {typename} with {}",
                        what.join(", ")
                    );
                    (i, Err(message))
                }
            },
        )
        .collect())
}

/// The representations of an `_entities` request that names only models
/// (this service's own, or other services' entities it extends: the fast
/// path's part), grouped as the resolver groups them, with those that
/// could not be read.
pub(crate) struct Local {
    len: usize,
    groups: HashMap<(String, usize), Vec<Rep>>,
    bad: Vec<(usize, Error)>,
}

impl Local {
    /// `None` when a representation names a value type (or no type this
    /// service has): the resolver answers those.
    pub(crate) fn parse(rt: &Runtime, reps: &[&Gql]) -> Option<Local> {
        let reg = rt.registry();
        let mut local = Local {
            len: reps.len(),
            groups: HashMap::new(),
            bad: Vec::new(),
        };
        for (i, &rep) in reps.iter().enumerate() {
            if let Gql::Object(obj) = rep
                && let Some(Gql::String(t)) = obj.get("__typename")
                && reg.by_graphql_name(t).is_none()
            {
                return None;
            }
            match parse_representation(rt, i, rep) {
                Ok((typename, ki, rep)) => {
                    local.groups.entry((typename, ki)).or_default().push(rep)
                }
                Err(e) => local.bad.push((i, e)),
            }
        }
        Some(local)
    }

    /// The models the representations name.
    pub(crate) fn models<'r>(&self, reg: &'r Registry) -> Vec<&'r ModelMeta> {
        let mut models: Vec<&ModelMeta> = Vec::new();
        for (typename, _) in self.groups.keys() {
            if let Some(m) = reg.by_graphql_name(typename)
                && !models.iter().any(|x| x.id == m.id)
            {
                models.push(m);
            }
        }
        models
    }

    /// Reads the rows, one statement per type and key (plus the selection's
    /// relations), planned from `sel` as the resolver plans them; one item
    /// per representation, in order.
    pub(crate) async fn fetch<S: Selection>(
        self,
        rt: &Runtime,
        scope: &Scope,
        sel: &S,
    ) -> graphloom_query::Result<Vec<Entity>> {
        let mut items: Vec<Option<Entity>> = (0..self.len).map(|_| None).collect();
        for (i, e) in self.bad {
            items[i] = Some(Entity::Missed(e.message, e.code));
        }
        for ((typename, ki), reps) in self.groups {
            let Some(model) = rt.registry().by_graphql_name(&typename) else {
                continue;
            };
            let plan = plan_node(rt, scope, model, sel)?;
            for (i, found) in fetch_group(rt, scope, model, &typename, ki, reps, &plan).await? {
                items[i] = Some(match found {
                    Ok(node) => Entity::Row(model.id, node),
                    Err(message) => Entity::Missed(message, ErrorCode::NotFound),
                });
            }
        }
        // Every index is a bad representation's or a group's.
        Ok(items
            .into_iter()
            .enumerate()
            .map(|(i, item)| {
                item.unwrap_or_else(|| {
                    Entity::Missed(
                        format!("representations[{i}]: not resolved"),
                        ErrorCode::InternalServerError,
                    )
                })
            })
            .collect())
    }
}

/// One item of `_entities`' answer on the fast path.
pub(crate) enum Entity {
    Row(ModelId, Arc<Node>),
    /// `null`, with one error at the item: why.
    Missed(String, ErrorCode),
}

/// The entity resolver registered on the schema.
pub(crate) fn resolver(
    rt: Arc<Runtime>,
    custom: Entities,
) -> impl for<'a> Fn(ResolverContext<'a>) -> FieldFuture<'a> + Send + Sync + 'static {
    move |ctx| {
        let rt = Arc::clone(&rt);
        let custom = Arc::clone(&custom);
        FieldFuture::new(async move { entities(rt, custom, ctx).await })
    }
}

/// Loads what this service adds to stubs of another service's entity
/// (relations, computed fields' inputs) for `plan`, at once.
pub(crate) async fn load_stubs(
    rt: &Runtime,
    scope: &Scope,
    model: &ModelMeta,
    plan: &NodePlan,
    stubs: &mut [Node],
) -> graphloom_query::Result<()> {
    exec::load_stubs(
        &rt.engine,
        &mut Exec::pool(rt.engine.db()),
        scope,
        model,
        plan,
        stubs,
    )
    .await
}

/// One representation: its type, which of the type's keys it carries, and
/// its index, key values and `@external` fields.
fn parse_representation(rt: &Runtime, i: usize, rep: &Gql) -> Result<(String, usize, Rep), Error> {
    let bad = |m: String| Error::bad_input(format!("representations[{i}]: {m}"));
    let Gql::Object(obj) = rep else {
        return Err(bad("must be an object".into()));
    };
    let typename = match obj.get("__typename") {
        Some(Gql::String(t)) => t.clone(),
        _ => return Err(bad("has no __typename".into())),
    };
    let reg = rt.registry();
    let model = reg
        .by_graphql_name(&typename)
        .filter(|m| !m.federation.unresolvable && !m.federation.plain)
        .ok_or_else(|| bad(format!("`{typename}` is not an entity of this service")))?;
    // The first of the entity's keys that the representation carries.
    let found = model.keys.iter().enumerate().find_map(|(ki, key)| {
        let raw: Option<Vec<_>> = key
            .iter()
            .map(|&f| raw_key_part(model.key_path(reg, f), obj))
            .collect();
        raw.map(|r| (ki, r))
    });
    let Some((ki, raw)) = found else {
        let names: Vec<String> = model
            .keys
            .iter()
            .map(|k| format!("`{}`", model.key_fieldset(reg, k)))
            .collect();
        return Err(bad(format!(
            "has no {}, the key of {typename}",
            names.join(" or ")
        )));
    };
    let mut key = Vec::with_capacity(raw.len());
    for (&f, raw) in model.keys[ki].iter().zip(raw) {
        if raw == Gql::Null {
            return Err(bad(format!(
                "its `{}` is null or incomplete",
                model.key_path(reg, f).fieldset()
            )));
        }
        let meta = &model.fields[f];
        key.push(parse_field(reg, meta, &raw).map_err(|e| bad(e.message))?);
    }
    // The @external fields a gateway passes for the fields that @requires them.
    let mut provided = Vec::new();
    for (fi, f) in model.fields.iter().enumerate() {
        if let Some(v) = f
            .federation
            .external
            .then(|| obj.get(f.graphql_name.as_str()))
            .flatten()
        {
            let v = parse_field(reg, f, v).map_err(|e| bad(e.message))?;
            provided.push((fi, v));
        }
    }
    Ok((
        typename,
        ki,
        Rep {
            index: i,
            key,
            provided,
        },
    ))
}

/// A key's values as one map key (a separator no key text contains).
fn tuple_key<'a>(values: impl Iterator<Item = &'a Value>) -> String {
    values
        .map(Value::key_string)
        .collect::<Vec<_>>()
        .join("\u{1f}")
}

/// The raw value of one key field in a representation: `upc: "1"`, or
/// `product: { id: "1" }` for a key through a relation (`Null` when the
/// object lacks the key, refused by the caller); `None` when absent.
fn raw_key_part(path: KeyPath<'_>, obj: &IndexMap<Name, Gql>) -> Option<Gql> {
    match path {
        KeyPath::Field(name) => obj.get(name).cloned(),
        KeyPath::Relation(rel, key) => obj.get(rel).map(|v| match v {
            Gql::Object(o) => o.get(key).cloned().unwrap_or(Gql::Null),
            _ => Gql::Null,
        }),
    }
}

/// One representation: its index, its key (one value per key field) and the
/// `@external` fields it carries.
struct Rep {
    index: usize,
    key: Vec<Value>,
    provided: Vec<(usize, Value)>,
}

/// The entities a request asked for and did not get. async-graphql's dynamic
/// schema cannot resolve an item of the `[_Entity]!` list to `null` (a union
/// item must have a type), so the resolver records each miss here and
/// [`Misses::patch`] nulls it in the response once execution is done.
#[derive(Default)]
pub(crate) struct Misses(Mutex<Vec<Miss>>);

struct Miss {
    key: String,
    index: usize,
    message: String,
    code: ErrorCode,
}

impl Misses {
    fn record(&self, key: &str, index: usize, message: String, code: ErrorCode) {
        let mut misses = self.0.lock().unwrap_or_else(|e| e.into_inner());
        misses.push(Miss {
            key: key.to_owned(),
            index,
            message,
            code,
        });
    }

    /// Puts `null` at each missed index and replaces the errors of its fields
    /// with one error at the item's path: `NOT_FOUND` for a row that is not
    /// there, `BAD_USER_INPUT` for a representation that cannot be read.
    pub(crate) fn patch(&self, response: &mut Response) {
        let mut misses = std::mem::take(&mut *self.0.lock().unwrap_or_else(|e| e.into_inner()));
        if misses.is_empty() {
            return;
        }
        misses.sort_by(|a, b| (&a.key, a.index).cmp(&(&b.key, b.index)));
        let async_graphql::Value::Object(data) = &mut response.data else {
            return;
        };
        for miss in misses {
            let Some(async_graphql::Value::List(items)) = data.get_mut(miss.key.as_str()) else {
                continue;
            };
            let Some(item) = items.get_mut(miss.index) else {
                continue;
            };
            *item = async_graphql::Value::Null;
            let at = [
                PathSegment::Field(miss.key.clone()),
                PathSegment::Index(miss.index),
            ];
            // The item's fields failed with this same message, or at paths
            // under it; one error for the item is enough.
            response
                .errors
                .retain(|e| e.message != miss.message && !e.path.starts_with(&at));
            let mut extensions = ErrorExtensionValues::default();
            extensions.set("code", miss.code.as_str());
            let mut error = ServerError::new(miss.message, None);
            error.path = at.to_vec();
            error.extensions = Some(extensions);
            response.errors.push(error);
        }
    }
}

/// The subgraph SDL from async-graphql's: the federation link upgraded, the
/// composed directives linked, marked and defined.
pub(crate) fn subgraph_sdl(rt: &Runtime, raw: &str) -> String {
    let mut sdl = crate::link::upgrade_link(raw, rt.config.federation());
    if let Some(places) = rt.key_places.get() {
        sdl = place_keys(&sdl, places);
    }
    // Gateways that support subscriptions (Hive Gateway, Apollo Router)
    // need the root type in the subgraph's SDL to plan them.
    if let Some(block) = rt.subscription_sdl.get().filter(|b| !b.is_empty())
        && !sdl.contains("\ntype Subscription {")
    {
        sdl = format!("{}\n\n{block}\n", sdl.trim_end());
    }
    let composed = rt.registry().composed_directives();
    if composed.is_empty() {
        return sdl;
    }
    format!(
        "{}\n{}{}",
        sdl.trim_end(),
        crate::directives::links(composed),
        crate::directives::definitions(composed)
    )
}

/// `sdl` with each entity type's `@key`s in their declared places among
/// its directives (async-graphql prints the others first, then the keys).
pub(crate) fn place_keys(sdl: &str, places: &crate::runtime::KeyPlaces) -> String {
    let mut out = String::with_capacity(sdl.len());
    for line in sdl.split_inclusive('\n') {
        let head = line.strip_prefix("type ").and_then(|rest| {
            let name = rest.split([' ', '{']).next()?;
            let body = line.trim_end().strip_suffix(" {")?;
            Some((name, body))
        });
        match head.and_then(|(name, body)| Some((places.get(name)?, body))) {
            Some((plan, body)) => {
                out.push_str(&reordered(body, plan));
                out.push_str(" {\n");
            }
            None => out.push_str(line),
        }
    }
    out
}

/// `type X @a @key(…) @b` with its directives in `plan`'s order.
fn reordered(body: &str, plan: &[Option<usize>]) -> String {
    // Split at each ` @` outside strings and arguments.
    let (mut parts, mut start) = (Vec::new(), 0);
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let bytes = body.as_bytes();
    for (i, &c) in bytes.iter().enumerate() {
        match (in_string, c) {
            (true, _) if escaped => escaped = false,
            (true, b'\\') => escaped = true,
            (_, b'"') => in_string = !in_string,
            (false, b'(') => depth += 1,
            (false, b')') => depth = depth.saturating_sub(1),
            (false, b' ') if depth == 0 && bytes.get(i + 1) == Some(&b'@') => {
                parts.push(&body[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&body[start..]);
    let (head, directives) = parts.split_at(1);
    let (keys, mut others): (Vec<&str>, Vec<&str>) =
        directives.iter().partition(|d| d.starts_with("@key("));
    others.reverse();
    let mut used = vec![false; keys.len()];
    let mut ordered: Vec<&str> = Vec::with_capacity(directives.len());
    for place in plan {
        match place {
            Some(i) => {
                if let Some(k) = keys.get(*i).filter(|_| !used[*i]) {
                    used[*i] = true;
                    ordered.push(k);
                }
            }
            None => ordered.extend(others.pop()),
        }
    }
    // The rest (not declared): other directives, then keys, as printed.
    ordered.extend(others.into_iter().rev());
    ordered.extend(
        keys.iter()
            .zip(&used)
            .filter(|(_, u)| !**u)
            .map(|(k, _)| *k),
    );
    let mut text = head[0].to_owned();
    for d in ordered {
        text.push(' ');
        text.push_str(d);
    }
    text
}

/// The text of `type <name> { … }` in `sdl` as async-graphql prints it
/// (the block up to its closing brace at the start of a line).
pub(crate) fn type_block(sdl: &str, name: &str) -> Option<String> {
    let head = format!("type {name} {{");
    let start = if sdl.starts_with(&head) {
        0
    } else {
        sdl.find(&format!("\n{head}"))? + 1
    };
    let end = sdl[start..].find("\n}")? + start + 2;
    Some(sdl[start..end].to_owned())
}

/// Rewrites every `_service { sdl }` of a response as [`subgraph_sdl`].
pub(crate) fn upgrade_service_sdl(rt: &Runtime, response: &mut Response) {
    let async_graphql::Value::Object(data) = &mut response.data else {
        return;
    };
    for value in data.values_mut() {
        if let async_graphql::Value::Object(service) = value
            && let Some(async_graphql::Value::String(sdl)) = service.get_mut("sdl")
        {
            *sdl = subgraph_sdl(rt, sdl);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{place_keys, type_block};

    #[test]
    fn keys_go_to_their_declared_places() {
        let sdl = "\"\"\"A product.\"\"\"\ntype P @custom(note: \"a @b (c\") @shareable @key(fields: \"id\") @key(fields: \"sku package\") {\n\tid: ID!\n}\ntype Q {\n\tp: P\n}\n";
        let mut places = crate::runtime::KeyPlaces::new();
        // Declared: the second key, @custom, the first key; then @shareable
        // (not declared).
        places.insert("P".into(), vec![Some(1), None, Some(0)]);
        assert_eq!(
            place_keys(sdl, &places),
            "\"\"\"A product.\"\"\"\ntype P @key(fields: \"sku package\") @custom(note: \"a @b (c\") @key(fields: \"id\") @shareable {\n\tid: ID!\n}\ntype Q {\n\tp: P\n}\n"
        );
        // The first key first, unless placed.
        places.insert("P".into(), vec![Some(0), None, None]);
        assert!(place_keys(sdl, &places).contains(
            "type P @key(fields: \"id\") @custom(note: \"a @b (c\") @shareable @key(fields: \"sku package\") {"
        ));
        assert_eq!(place_keys(sdl, &Default::default()), sdl);
    }

    #[test]
    fn a_type_block_is_cut_whole() {
        let sdl = "type A {\n\ta: Int\n}\n\ntype Subscription {\n\tb(x: Int): Int\n}\n";
        assert_eq!(
            type_block(sdl, "Subscription").as_deref(),
            Some("type Subscription {\n\tb(x: Int): Int\n}")
        );
        assert_eq!(
            type_block(sdl, "A").as_deref(),
            Some("type A {\n\ta: Int\n}")
        );
        assert_eq!(type_block(sdl, "B"), None);
    }
}
