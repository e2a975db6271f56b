//! The root fields: lookups and lists per model, the generated create,
//! update and delete, and the apps' custom queries and mutations. Each
//! translates its arguments for the engine and hands back what it returns.

use std::{collections::BTreeMap, sync::Arc};

use async_graphql::{
    Name, Value as Gql,
    dynamic::{Field, FieldFuture, FieldValue, InputValue, Object, ResolverContext, TypeRef},
};
use graphloom_db::Exec;
use graphloom_meta::{ModelId, ModelMeta, Operation, Registry, Value};
use graphloom_query::{
    Error, FieldCode, FieldError, Result,
    exec::{Node, Page, fetch_keys_matching, fetch_list, fetch_unique},
    scope::Scope,
    write::{self, LinkChange, MAX_LINKS, WriteInput, link_relations, too_many_links},
};
use indexmap::IndexMap;

use crate::{
    context::{request_ctx, scope_of},
    convert::{key_arguments, parse_field, parse_typed, type_ref},
    custom::{CustomField, Output, Returns},
    directives::{field_with_auth, need},
    error::ResultExt,
    runtime::Runtime,
    schema::{
        inputs::{field_type, list_args},
        payloads::MutationResult,
    },
    translate::{Selection, list, payload_plan, plan_list, plan_node},
};

/// The lookup fields of a model: `post` by its primary key (each field of
/// a composite key an argument), `postBySlug` by each other unique field,
/// as the registry names them (the fields, root field name).
pub(crate) fn lookups(m: &ModelMeta) -> impl Iterator<Item = (Vec<usize>, String)> + '_ {
    let composite = m.roots.lookup.clone().map(|name| (m.pk.clone(), name));
    composite.into_iter().chain(
        m.fields
            .iter()
            .enumerate()
            .filter_map(|(idx, f)| f.lookup.clone().map(|name| (vec![idx], name))),
    )
}

/// `post(id:)`, one lookup per other unique field, and `posts(...)`.
pub(crate) fn query_fields(mut query: Object, rt: &Arc<Runtime>, m: &ModelMeta) -> Object {
    let id = m.id;
    let list_need = need(rt.registry(), id, Operation::List);
    for (fields, field_name) in lookups(m) {
        let args: Vec<String> = fields
            .iter()
            .map(|&i| m.fields[i].graphql_name.clone())
            .collect();
        let what = args.join(" and ");
        let rt2 = Arc::clone(rt);
        let by = fields.clone();
        let mut lookup = Field::new(&field_name, TypeRef::named(&m.graphql_name), move |ctx| {
            let rt = Arc::clone(&rt2);
            let (by, args) = (by.clone(), args.clone());
            FieldFuture::new(async move {
                let scope = scope_of(&ctx).gql()?;
                let raws: Vec<Gql> = args
                    .iter()
                    .map(|a| ctx.args.get(a).map_or(Gql::Null, |v| v.as_value().clone()))
                    .collect();
                let node = fetch_lookup(
                    &rt,
                    &scope,
                    rt.registry().model(id),
                    &by,
                    &raws.iter().collect::<Vec<_>>(),
                    &ctx.ctx.field(),
                )
                .await
                .gql()?;
                Ok(node.map(|n| FieldValue::owned_any(Arc::new(n))))
            })
        });
        for &i in &fields {
            let f = &m.fields[i];
            lookup = lookup.argument(InputValue::new(&f.graphql_name, field_type(f, false)));
        }
        let lookup = lookup.description(format!("One {} by its {what}, or null.", m.graphql_name));
        query = query.field(field_with_auth(rt, lookup, &list_need));
    }
    let Some(list_name) = &m.roots.list else {
        return query;
    };
    let rt2 = Arc::clone(rt);
    let list = Field::new(
        list_name,
        TypeRef::named_nn(format!("{}Connection", m.graphql_name)),
        move |ctx| {
            let rt = Arc::clone(&rt2);
            FieldFuture::new(async move {
                let scope = scope_of(&ctx).gql()?;
                let page = fetch_page(&rt, &scope, rt.registry().model(id), &ctx.ctx.field())
                    .await
                    .gql()?;
                Ok(Some(FieldValue::owned_any(Arc::new(page))))
            })
        },
    );
    let list = crate::directives::with_list_size(rt, list_args(list, m), true).description(
        format!("{}, filtered, ordered and paginated.", m.plural_name),
    );
    query.field(field_with_auth(rt, list, &list_need))
}

/// A lookup root field: the row of `model` whose fields `fields` (one
/// unique field, or a composite primary key's) are `raws`, with the
/// selection `sel`.
pub(crate) async fn fetch_lookup<S: Selection>(
    rt: &Runtime,
    scope: &Scope,
    model: &ModelMeta,
    fields: &[usize],
    raws: &[&Gql],
    sel: &S,
) -> Result<Option<Node>> {
    scope.can_list(model)?;
    let mut values = Vec::with_capacity(fields.len());
    for (&idx, raw) in fields.iter().zip(raws) {
        // A lookup by a field the principal may not read would probe it.
        scope.field_usable(model, idx)?;
        let field = &model.fields[idx];
        let value = parse_field(rt.registry(), field, raw)
            .map_err(|e| Error::bad_input(format!("`{}`: {}", field.graphql_name, e.message)))?;
        values.push(value);
    }
    let plan = plan_node(rt, scope, model, sel)?;
    let mut conn = Exec::pool(rt.engine.db());
    match (fields, values.pop()) {
        ([idx], Some(value)) => {
            fetch_unique(&rt.engine, &mut conn, scope, model, *idx, value, &plan).await
        }
        (_, last) => {
            values.extend(last);
            let key = Value::Tuple(values);
            let mut nodes = fetch_keys_matching(
                &rt.engine,
                &mut conn,
                scope,
                model,
                std::slice::from_ref(&key),
                None,
                &plan,
            )
            .await?;
            Ok(nodes.pop())
        }
    }
}

/// A list root field: the page of `model` its arguments ask for.
pub(crate) async fn fetch_page<S: Selection>(
    rt: &Runtime,
    scope: &Scope,
    model: &ModelMeta,
    sel: &S,
) -> Result<Page> {
    scope.can_list(model)?;
    let plan = plan_list(rt, scope, model, sel)?;
    fetch_list(
        &rt.engine,
        &mut Exec::pool(rt.engine.db()),
        scope,
        model,
        &plan,
    )
    .await
}

pub(crate) type Args = IndexMap<Name, Gql>;

/// Parses the writable fields present in an input object (their types
/// only: the engine checks the values).
fn parse_input(reg: &Registry, m: &ModelMeta, input: &Args, create: bool, out: &mut WriteInput) {
    for (idx, f) in m
        .fields
        .iter()
        .enumerate()
        .filter(|(_, f)| f.writable(create))
    {
        let Some(raw) = input.get(f.graphql_name.as_str()) else {
            continue;
        };
        match parse_typed(reg.value_type(f), f.kind.enum_decl(), raw) {
            Ok(v) => {
                out.values.insert(idx, v);
            }
            Err(msg) => out
                .errors
                .push(FieldError::new(&f.graphql_name, msg, FieldCode::Invalid)),
        }
    }
}

/// Parses the many-to-many changes of an input object.
fn parse_links(reg: &Registry, m: &ModelMeta, input: &Args, out: &mut WriteInput) {
    for ri in link_relations(reg, m) {
        let rel = &m.relations[ri];
        let Some(Gql::Object(obj)) = input.get(rel.name.as_str()) else {
            continue;
        };
        let ty = reg.value_type(reg.model(rel.target).ref_pk_field());
        let mut ids = |key: &str| -> Option<Vec<Value>> {
            let items = match obj.get(key) {
                None | Some(Gql::Null) => return None,
                // One id where a list is expected is a list of one.
                Some(v) => list(v),
            };
            match items {
                // Not parsed at all: the engine refuses lists this long anyway.
                items if items.len() > MAX_LINKS => {
                    out.errors.push(too_many_links(&rel.name, key));
                    None
                }
                items => {
                    let mut vs = Vec::new();
                    for (i, item) in items.iter().enumerate() {
                        match parse_typed(ty, None, item) {
                            Ok(v) => vs.push(v),
                            Err(msg) => out.errors.push(FieldError {
                                field: vec![rel.name.clone(), key.to_owned(), i.to_string()],
                                message: msg,
                                code: FieldCode::Invalid,
                            }),
                        }
                    }
                    Some(vs)
                }
            }
        };
        let set = ids("set");
        let add = ids("add").unwrap_or_default();
        let remove = ids("remove").unwrap_or_default();
        out.links.push(LinkChange {
            relation: ri,
            set,
            add,
            remove,
        });
    }
}

fn write_input(reg: &Registry, m: &ModelMeta, args: &Args, create: bool) -> WriteInput {
    let mut out = WriteInput::default();
    if let Some(Gql::Object(input)) = args.get("input") {
        parse_input(reg, m, input, create, &mut out);
        parse_links(reg, m, input, &mut out);
    }
    out
}

/// The key arguments as the model's key, or the payload error.
fn key_arg(reg: &Registry, m: &ModelMeta, args: &Args) -> Result<Value, FieldError> {
    let mut parts = Vec::with_capacity(m.pk.len());
    for arg in key_arguments(m) {
        let raw = args.get(arg.name.as_str()).cloned().unwrap_or(Gql::Null);
        let v = parse_typed(reg.value_type(&m.fields[arg.field]), None, &raw)
            .map_err(|msg| FieldError::new(&arg.name, msg, FieldCode::Invalid))?;
        parts.push(v);
    }
    Ok(if parts.len() == 1 {
        parts.pop().unwrap_or(Value::Null)
    } else {
        Value::Tuple(parts)
    })
}

#[derive(Clone, Copy)]
pub(crate) enum Verb {
    Create,
    Update,
    Delete,
}

impl Verb {
    pub(crate) const ALL: [Verb; 3] = [Verb::Create, Verb::Update, Verb::Delete];

    /// The name of the mutation's payload type: `CreatePostPayload`.
    pub(crate) fn payload(self, m: &ModelMeta) -> String {
        let verb = match self {
            Verb::Create => "Create",
            Verb::Update => "Update",
            Verb::Delete => "Delete",
        };
        format!("{verb}{}Payload", m.graphql_name)
    }
}

/// The generated mutation for `verb` (`createPost`, or as renamed), if
/// the model has it.
pub(crate) fn mutation_name(m: &ModelMeta, verb: Verb) -> Option<&str> {
    match verb {
        Verb::Create => m.roots.create.as_deref(),
        Verb::Update => m.roots.update.as_deref(),
        Verb::Delete => m.roots.delete.as_deref(),
    }
}

async fn mutate(
    rt: &Runtime,
    ctx: &ResolverContext<'_>,
    id: ModelId,
    verb: Verb,
) -> Result<MutationResult> {
    let scope = scope_of(ctx)?;
    // REST's `If-Match`, when the request came from there.
    let expect = ctx.ctx.data_opt::<write::Expected>();
    let m = rt.registry().model(id);
    run_mutation(
        rt,
        &scope,
        m,
        verb,
        ctx.args.as_index_map(),
        &ctx.ctx.field(),
        expect,
    )
    .await
}

/// Runs the generated mutation `verb` of `m` with the arguments `args`;
/// `sel` is the mutation field, whose selection plans the payload's row.
/// The resolvers and the fast path both run mutations here.
pub(crate) async fn run_mutation<S: Selection>(
    rt: &Runtime,
    scope: &Scope,
    m: &ModelMeta,
    verb: Verb,
    args: &Args,
    sel: &S,
    expect: Option<&write::Expected>,
) -> Result<MutationResult> {
    let reg = rt.registry();
    let id = m.id;
    let engine = &rt.engine;
    // The payload is planned before the write and read inside its
    // transaction; a payload that cannot be planned fails alone.
    let planned = match verb {
        Verb::Delete => None,
        Verb::Create | Verb::Update => payload_plan(rt, scope, m, sel),
    };
    let (plan, failed) = match planned {
        Some(Ok(plan)) => (Some(plan), None),
        Some(Err(e)) => (None, Some(e)),
        None => (None, None),
    };
    Ok(match verb {
        Verb::Create => MutationResult::saved(
            id,
            write::create(
                engine,
                scope,
                m,
                write_input(reg, m, args, true),
                plan.as_ref(),
            )
            .await?,
            failed,
        ),
        Verb::Update => match key_arg(reg, m, args) {
            Err(e) => MutationResult::refused(id, vec![e]),
            Ok(key) => MutationResult::saved(
                id,
                write::update(
                    engine,
                    scope,
                    m,
                    key,
                    write_input(reg, m, args, false),
                    plan.as_ref(),
                    expect,
                )
                .await?,
                failed,
            ),
        },
        Verb::Delete => match key_arg(reg, m, args) {
            Err(e) => MutationResult::refused(id, vec![e]),
            Ok(key) => {
                MutationResult::deleted(id, write::delete(engine, scope, m, key, expect).await?)
            }
        },
    })
}

fn mutation_field(rt: &Arc<Runtime>, m: &ModelMeta, verb: Verb, field: &str) -> Field {
    let name = &m.graphql_name;
    let payload = verb.payload(m);
    let (description, op) = match verb {
        Verb::Create => (
            format!("Creates a {name} in one transaction."),
            Operation::Create,
        ),
        Verb::Update => (
            format!("Changes the given fields of a {name}, in one transaction."),
            Operation::Update,
        ),
        Verb::Delete => (
            format!("Deletes a {name}, in one transaction."),
            Operation::Delete,
        ),
    };
    let id = m.id;
    let shared = Arc::clone(rt);
    let f = Field::new(field, TypeRef::named_nn(payload), move |ctx| {
        let rt = Arc::clone(&shared);
        FieldFuture::new(async move {
            let res = mutate(&rt, &ctx, id, verb).await.gql()?;
            Ok(Some(FieldValue::owned_any(res)))
        })
    })
    .description(description);
    let f = field_with_auth(rt, f, &need(rt.registry(), id, op));
    let keyed = |mut f: Field| {
        for arg in key_arguments(m) {
            f = f.argument(InputValue::new(arg.name, TypeRef::named_nn(arg.type_name)));
        }
        f
    };
    let input =
        |verb: &str| InputValue::new("input", TypeRef::named_nn(format!("{verb}{name}Input")));
    match verb {
        Verb::Create => f.argument(input("Create")),
        Verb::Update => keyed(f).argument(input("Update")),
        Verb::Delete => keyed(f),
    }
}

/// The generated mutations of a model that has them.
pub(crate) fn mutation_fields(mut mutation: Object, rt: &Arc<Runtime>, m: &ModelMeta) -> Object {
    for verb in Verb::ALL {
        if let Some(name) = mutation_name(m, verb) {
            mutation = mutation.field(mutation_field(rt, m, verb, name));
        }
    }
    mutation
}

async fn custom(
    rt: &Runtime,
    ctx: &ResolverContext<'_>,
    c: &CustomField,
) -> Result<Option<FieldValue<'static>>> {
    let args = crate::context::args_json(ctx)?;
    let out = (c.resolver)(request_ctx(rt, ctx)?, args).await?;
    match (out, &*c.returns) {
        (Output::Json(v), Returns::Scalar(t)) => Ok(crate::schema::values::field_value(
            t,
            crate::convert::typed_value(t, &v),
        )),
        (Output::Json(v), Returns::Model(_) | Returns::Models(_) | Returns::Connection(_)) => {
            Ok(Some(FieldValue::value(
                Gql::from_json(v).map_err(Error::internal)?,
            )))
        }
        (Output::Keys(keys), Returns::Models(key)) => {
            let nodes = planned_rows(rt, ctx, *key, &keys).await?;
            Ok(Some(FieldValue::list(
                nodes.into_iter().map(FieldValue::owned_any),
            )))
        }
        (Output::Key(key), Returns::Model(model)) => {
            let keys: Vec<Value> = key.into_iter().collect();
            let node = planned_rows(rt, ctx, *model, &keys)
                .await?
                .into_iter()
                .next();
            Ok(node.map(FieldValue::owned_any))
        }
        (Output::Rows(rows), Returns::Connection(model)) => {
            let reg = rt.registry();
            let model = reg
                .by_key(*model)
                .ok_or_else(|| Error::internal("a connection of a missing model"))?;
            let scope = scope_of(ctx)?;
            scope.can_list(model)?;
            let mut plan = plan_list(rt, &scope, model, &ctx.ctx.field())?;
            // Within the resolver's rows, the arguments' filter too.
            plan.filter = graphloom_query::filter::Filter::all(
                plan.filter.into_iter().chain([rows]).collect(),
            );
            let page = fetch_list(
                &rt.engine,
                &mut Exec::pool(rt.engine.db()),
                &scope,
                model,
                &plan,
            )
            .await?;
            Ok(Some(FieldValue::owned_any(Arc::new(page))))
        }
        (Output::Keys(_) | Output::Key(_) | Output::Rows(_), _) => Err(Error::internal(
            "rows returned for a field of another shape",
        )),
    }
}

/// The rows of `model` with `keys` as the caller may see them, their
/// selection planned, in the keys' order (unseen ones left out).
async fn planned_rows(
    rt: &Runtime,
    ctx: &ResolverContext<'_>,
    model: graphloom_meta::ModelKey,
    keys: &[Value],
) -> Result<Vec<Arc<Node>>> {
    let reg = rt.registry();
    let model = reg
        .by_key(model)
        .ok_or_else(|| Error::internal("custom field on a missing model"))?;
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let scope = scope_of(ctx)?;
    let plan = plan_node(rt, &scope, model, &ctx.ctx.field())?;
    let nodes = fetch_keys_matching(
        &rt.engine,
        &mut Exec::pool(rt.engine.db()),
        &scope,
        model,
        keys,
        None,
        &plan,
    )
    .await?;
    let mut by_key: BTreeMap<String, Arc<Node>> = nodes
        .into_iter()
        .map(|n| (n.pk(reg).key_string(), Arc::new(n)))
        .collect();
    Ok(keys
        .iter()
        .filter_map(|k| by_key.remove(&k.key_string()))
        .collect())
}

/// An app's custom root field.
pub(crate) fn custom_field(rt: &Arc<Runtime>, c: &CustomField, root: &str) -> Field {
    let ty = match &*c.returns {
        Returns::Scalar(t) => type_ref(t),
        Returns::Models(key) => match rt.registry().by_key(*key) {
            Some(m) => TypeRef::named_nn_list_nn(&m.graphql_name),
            None => TypeRef::named_nn_list_nn("JSON"),
        },
        Returns::Model(key) => match rt.registry().by_key(*key) {
            Some(m) => TypeRef::named(&m.graphql_name),
            None => TypeRef::named("JSON"),
        },
        Returns::Connection(key) => match rt.registry().by_key(*key) {
            Some(m) => TypeRef::named_nn(format!("{}Connection", m.graphql_name)),
            None => TypeRef::named_nn("JSON"),
        },
    };
    let shared = Arc::clone(rt);
    let c2 = c.clone();
    let mut field = Field::new(&c.head.name, ty, move |ctx| {
        let rt = Arc::clone(&shared);
        let c = c2.clone();
        FieldFuture::new(async move { custom(&rt, &ctx, &c).await.gql() })
    });
    for arg in c.head.inputs() {
        field = field.argument(arg);
    }
    // A connection takes the generated list's arguments too.
    if let Returns::Connection(key) = &*c.returns
        && let Some(m) = rt.registry().by_key(*key)
    {
        field = crate::directives::with_list_size(rt, list_args(field, m), true);
    }
    field = crate::directives::with_cost(rt, field, root, &c.head.name);
    if let Some(reason) = &c.head.deprecated {
        field = field.deprecation(Some(reason));
    }
    match &c.head.description {
        Some(d) => field.description(d),
        None => field,
    }
}
