//! The async-graphql dynamic schema generated from the registry: object types,
//! connections, filter and order inputs, lookups, CRUD mutations, custom fields.

use std::{collections::BTreeMap, sync::Arc};

use async_graphql::{
    Name, Value as Gql,
    dynamic::{
        Directive, Enum, Field, FieldFuture, FieldValue, InputObject, InputValue, Object,
        ResolverContext, Scalar, Schema, TypeRef,
    },
};
use graphloom_meta::{FieldKind, FieldMeta, ModelMeta, Registry, RelationKind};

use crate::{
    convert::{SCALARS, parse_field, to_graphql, type_name},
    cursor,
    custom::{Computed, ComputedField, Ctx, CustomField, Output, RequestContext, Returns, Row},
    error::{Error, bad_input},
    exec::{Child, Node, Page, fetch_list, fetch_unique, fetch_where_in},
    mutation::{self, FieldErr, MutationResult},
    permissions::{Need, Operation, Scope},
    plan::{NodePlan, plan_list, plan_node},
    runtime::Runtime,
};

type Res<T> = Result<T, async_graphql::Error>;

fn node_of<'a>(ctx: &'a ResolverContext<'a>) -> Res<&'a Arc<Node>> {
    let node = ctx.parent_value.try_downcast_ref::<Arc<Node>>()?;
    match &node.missing {
        Some(m) => Err(Error::coded(m.clone(), "NOT_FOUND").into()),
        None => Ok(node),
    }
}

fn response_key(ctx: &ResolverContext<'_>) -> String {
    let f = ctx.ctx.field();
    f.alias().unwrap_or(f.name()).to_owned()
}

/// The request's permission scope, put there by [`crate::Api::execute_as`].
pub fn scope_of(ctx: &ResolverContext<'_>) -> Result<Arc<Scope>, Error> {
    ctx.data_opt::<Arc<Scope>>()
        .cloned()
        .ok_or_else(|| Error::internal("a request ran without a permission scope"))
}

pub fn request_ctx(rt: &Arc<Runtime>, ctx: &ResolverContext<'_>) -> Ctx {
    Ctx {
        rt: Arc::clone(rt),
        request: ctx
            .data_opt::<Arc<RequestContext>>()
            .cloned()
            .unwrap_or_default(),
    }
}

/// A field's federation directives.
fn federate_field(mut f: Field, fed: &graphloom_meta::Federation) -> Field {
    if fed.shareable {
        f = f.shareable();
    }
    if fed.inaccessible {
        f = f.inaccessible();
    }
    if !fed.tags.is_empty() {
        f = f.tags(fed.tags.iter().copied());
    }
    if let Some(from) = fed.override_from {
        f = f.override_from(from);
    }
    if fed.external {
        f = f.external();
    }
    for text in &fed.directives {
        // Checked when the API was built (directives::resolve).
        if let Ok((_, d)) = crate::directives::usage(text) {
            f = f.directive(d);
        }
    }
    f
}

/// The auth directive a [`Need`] prints as in the subgraph SDL, and its text
/// (both imported by the federation `@link`, see [`crate::federation::upgrade_link`]).
fn auth_directive(need: &Need) -> Option<(Directive, String)> {
    match need {
        Need::Never | Need::Nothing => None,
        Need::Authenticated => Some((Directive::new("authenticated"), "@authenticated".to_owned())),
        Need::Scopes(sets) => {
            let scopes = Gql::List(
                sets.iter()
                    .map(|set| Gql::List(set.iter().map(|s| Gql::from(s.as_str())).collect()))
                    .collect(),
            );
            let text = format!("@requiresScopes(scopes: {scopes})");
            Some((
                Directive::new("requiresScopes").argument("scopes", scopes),
                text,
            ))
        }
    }
}

/// A field with the auth directive of `need`, when the service prints them.
pub(crate) fn field_with_auth(rt: &Runtime, f: Field, need: &Need) -> Field {
    match auth_directive(need).filter(|_| rt.config.auth_directives) {
        Some((d, _)) => f.directive(d),
        None => f,
    }
}

/// Every auth directive the schema carries, as printed. The plain SDL (for
/// clients and code generators) leaves them out: they are for the gateway,
/// and a plain GraphQL schema does not declare them.
pub(crate) fn auth_directive_texts(rt: &Runtime) -> Vec<String> {
    let p = &rt.permissions;
    let mut out = Vec::new();
    if !rt.config.auth_directives {
        return out;
    }
    for m in rt.registry.models() {
        let ops = [
            Operation::View,
            Operation::Create,
            Operation::Update,
            Operation::Delete,
        ];
        let needs = ops
            .iter()
            .map(|op| p.need(m.id, *op))
            .chain((0..m.fields.len()).map(|i| p.field_need(m.id, i)));
        out.extend(needs.filter_map(|n| auth_directive(&n).map(|(_, t)| format!(" {t}"))));
    }
    // Longest first, so no text is removed as part of a shorter one's match.
    out.sort_by_key(|t| std::cmp::Reverse(t.len()));
    out.dedup();
    out
}

/// A model's federation directives on its object type.
fn federate_object(mut o: Object, fed: &graphloom_meta::Federation) -> Object {
    if fed.interface_object {
        o = o.interface_object();
    }
    if fed.shareable {
        o = o.shareable();
    }
    if fed.inaccessible {
        o = o.inaccessible();
    }
    if !fed.tags.is_empty() {
        o = o.tags(fed.tags.iter().copied());
    }
    for text in &fed.directives {
        // Checked when the API was built (directives::resolve).
        if let Ok((_, d)) = crate::directives::usage(text) {
            o = o.directive(d);
        }
    }
    o
}

fn pascal(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn filter_type(reg: &Registry, f: &FieldMeta) -> String {
    match f.kind {
        FieldKind::Enum(e) => format!("{}Filter", e.name),
        _ => format!("{}Filter", type_name(reg, f)),
    }
}

fn field_type(reg: &Registry, f: &FieldMeta, nullable: bool) -> TypeRef {
    let name = type_name(reg, f);
    if nullable {
        TypeRef::named(name)
    } else {
        TypeRef::named_nn(name)
    }
}

fn list_args(field: Field, m: &ModelMeta) -> Field {
    field
        .argument(InputValue::new(
            "where",
            TypeRef::named(format!("{}Filter", m.graphql_name)),
        ))
        .argument(InputValue::new(
            "orderBy",
            TypeRef::named_nn_list(format!("{}OrderBy", m.graphql_name)),
        ))
        .argument(InputValue::new("first", TypeRef::named(TypeRef::INT)))
        .argument(InputValue::new("after", TypeRef::named(TypeRef::STRING)))
        .argument(InputValue::new("last", TypeRef::named(TypeRef::INT)))
        .argument(InputValue::new("before", TypeRef::named(TypeRef::STRING)))
        .argument(InputValue::new("offset", TypeRef::named(TypeRef::INT)))
}

/// Builds the schema's types into `builder`.
pub(crate) fn build(
    rt: &Arc<Runtime>,
    custom: &crate::Custom,
) -> Result<async_graphql::dynamic::SchemaBuilder, Error> {
    let (queries, mutations, computed) = (&custom.queries, &custom.mutations, &custom.computed);
    let reg = &rt.registry;
    let has_mutation = !mutations.is_empty()
        || !custom.raw_mutations.is_empty()
        || reg.models().iter().any(|m| {
            m.exposed && (m.operations.create || m.operations.update || m.operations.delete)
        });
    let mut schema = Schema::build("Query", has_mutation.then_some("Mutation"), None)
        .limit_depth(rt.config.max_depth)
        .enable_federation()
        .entity_resolver(crate::federation::resolver(Arc::clone(rt)));
    for (name, desc) in SCALARS {
        schema = schema.register(Scalar::new(name).description(desc));
    }
    schema = schema
        .register(Enum::new("SortDirection").item("ASC").item("DESC"))
        .register(
            Enum::new("ErrorCode")
                .description("Why a mutation input was refused.")
                .items([
                    "REQUIRED",
                    "MAX_LENGTH",
                    "INVALID",
                    "UNIQUE",
                    "FOREIGN_KEY",
                    "PROTECTED",
                    "NOT_FOUND",
                    "VALIDATION",
                ]),
        )
        .register(field_error_type())
        .register(page_info_type())
        .register(
            InputObject::new("ManyToManyInput")
                .description(
                    "Changes to a many-to-many relation: replace the set, or add and remove ids.",
                )
                .field(InputValue::new("set", TypeRef::named_nn_list(TypeRef::ID)))
                .field(InputValue::new("add", TypeRef::named_nn_list(TypeRef::ID)))
                .field(InputValue::new(
                    "remove",
                    TypeRef::named_nn_list(TypeRef::ID),
                )),
        );
    schema = register_scalar_filters(schema, reg);

    let mut query = Object::new("Query");
    let mut mutation = Object::new("Mutation");
    for m in reg.models().iter().filter(|m| m.exposed) {
        // Every model is an entity keyed by its primary key, and by the
        // unique fields it declares as keys.
        let mut obj = Object::new(&m.graphql_name);
        for k in &m.keys {
            let fields = m.key_fieldset(reg, k);
            obj = if m.federation.unresolvable {
                obj.unresolvable(fields)
            } else {
                obj.key(fields)
            };
        }
        // The owning service describes an external entity; repeating it here
        // only makes composers warn about differing descriptions.
        if let Some(h) = m.help.filter(|_| !m.external) {
            obj = obj.description(h);
        }
        obj = federate_object(obj, &m.federation);
        let view = rt.permissions.need(m.id, Operation::View);
        if let Some((d, _)) = auth_directive(&view).filter(|_| rt.config.auth_directives) {
            obj = obj.directive(d);
        }
        for (idx, f) in m.fields.iter().enumerate() {
            if f.hidden {
                continue;
            }
            let need = rt.permissions.field_need(m.id, idx);
            obj = obj.field(field_with_auth(rt, value_field(rt, m, f, idx), &need));
        }
        for (ri, rel) in m.relations.iter().enumerate() {
            if reg.model(rel.target).exposed {
                obj = obj.field(relation_field(rt, m, ri));
            }
        }
        for c in computed.iter().filter(|c| c.model == m.key) {
            obj = obj.field(computed_field(rt, c));
        }
        schema = schema.register(obj);
        // Another service owns an external entity: here it is only a key
        // with the relations this service adds to it.
        if m.external {
            continue;
        }
        schema = register_model_types(schema, rt, m);
        query = root_query_fields(query, rt, m);
        mutation = mutation::root_fields(mutation, rt, m);
        schema = mutation::register_types(schema, rt, m);
    }
    for c in queries {
        query = query.field(custom_root_field(rt, c));
    }
    for c in mutations {
        mutation = mutation.field(custom_root_field(rt, c));
    }
    for f in &custom.raw_queries {
        query = query.field(f(rt));
    }
    for f in &custom.raw_mutations {
        mutation = mutation.field(f(rt));
    }
    for t in &custom.types {
        schema = schema.register(t(rt));
    }
    schema = schema.register(query);
    if has_mutation {
        schema = schema.register(mutation);
    }
    Ok(schema)
}

/// Resolves computed field declarations against the registry.
type ComputedByName = Vec<((graphloom_meta::ModelId, String), Computed)>;

pub(crate) fn resolve_computed(
    reg: &Registry,
    computed: &[ComputedField],
) -> Result<ComputedByName, graphloom_meta::CheckError> {
    let mut out = Vec::new();
    for c in computed {
        let Some(m) = reg.by_key(c.model) else {
            return Err(graphloom_meta::CheckError {
                id: "graphloom.E001",
                at: format!("{}.{}", c.model, c.name),
                message: format!("computed field on {}, which is not registered", c.model),
                hint: "add the model's app to the service".into(),
            });
        };
        if m.federation.unresolvable {
            return Err(graphloom_meta::CheckError {
                id: "graphloom.E013",
                at: format!("{}.{}", m.key, c.name),
                message: format!(
                    "computed field on {}, which this service does not resolve",
                    m.graphql_name
                ),
                hint: "drop `resolvable = false` from the external model".into(),
            });
        }
        if m.field_by_graphql(&c.name).is_some() || m.relation(&c.name).is_some() {
            return Err(graphloom_meta::CheckError {
                id: "graphloom.E003",
                at: format!("{}.{}", m.key, c.name),
                message: format!(
                    "computed field `{}` clashes with a field of {}",
                    c.name, m.graphql_name
                ),
                hint: "give the computed field another name".into(),
            });
        }
        let mut requires = Vec::new();
        for name in &c.requires {
            match m.field(name) {
                Some((i, _)) => requires.push(i),
                None => {
                    return Err(graphloom_meta::CheckError {
                        id: "graphloom.E010",
                        at: format!("{}.{}", m.key, c.name),
                        message: format!(
                            "computed field requires `{name}`, which {} does not have",
                            m.key.name
                        ),
                        hint: "list Rust field names of the model in `requires`".into(),
                    });
                }
            }
        }
        out.push((
            (m.id, c.name.clone()),
            Computed {
                requires,
                names: c.requires.clone(),
                resolver: Arc::clone(&c.resolver),
            },
        ));
    }
    Ok(out)
}

/// Every subgraph defines it identically, so its fields are `@shareable`.
fn field_error_type() -> Object {
    Object::new("FieldError")
        .description(
            "An input that was refused: the path of the input field, a message and a stable code.",
        )
        .field(
            Field::new("field", TypeRef::named_nn_list_nn(TypeRef::STRING), |ctx| {
                FieldFuture::new(async move {
                    let e = ctx.parent_value.try_downcast_ref::<FieldErr>()?;
                    Ok(Some(Gql::List(
                        e.field.iter().map(|s| Gql::String(s.clone())).collect(),
                    )))
                })
            })
            .shareable(),
        )
        .field(
            Field::new("message", TypeRef::named_nn(TypeRef::STRING), |ctx| {
                FieldFuture::new(async move {
                    let e = ctx.parent_value.try_downcast_ref::<FieldErr>()?;
                    Ok(Some(Gql::String(e.message.clone())))
                })
            })
            .shareable(),
        )
        .field(
            Field::new("code", TypeRef::named_nn("ErrorCode"), |ctx| {
                FieldFuture::new(async move {
                    let e = ctx.parent_value.try_downcast_ref::<FieldErr>()?;
                    Ok(Some(Gql::Enum(Name::new(e.code))))
                })
            })
            .shareable(),
        )
}

#[derive(Debug, Clone)]
struct PageInfo {
    has_next: bool,
    has_prev: bool,
    start: Option<String>,
    end: Option<String>,
}

fn page_info_type() -> Object {
    let b = |name: &'static str, get: fn(&PageInfo) -> Gql, ty: TypeRef| {
        Field::new(name, ty, move |ctx| {
            FieldFuture::new(async move {
                let p = ctx.parent_value.try_downcast_ref::<PageInfo>()?;
                Ok(Some(get(p)))
            })
        })
        // Every subgraph defines PageInfo identically.
        .shareable()
    };
    Object::new("PageInfo")
        .field(b(
            "hasNextPage",
            |p| Gql::Boolean(p.has_next),
            TypeRef::named_nn(TypeRef::BOOLEAN),
        ))
        .field(b(
            "hasPreviousPage",
            |p| Gql::Boolean(p.has_prev),
            TypeRef::named_nn(TypeRef::BOOLEAN),
        ))
        .field(b(
            "startCursor",
            |p| p.start.clone().map_or(Gql::Null, Gql::String),
            TypeRef::named(TypeRef::STRING),
        ))
        .field(b(
            "endCursor",
            |p| p.end.clone().map_or(Gql::Null, Gql::String),
            TypeRef::named(TypeRef::STRING),
        ))
}

const ORDERED_OPS: [&str; 4] = ["lt", "lte", "gt", "gte"];
const TEXT_OPS: [&str; 4] = ["contains", "iContains", "startsWith", "endsWith"];

fn register_scalar_filters(
    mut schema: async_graphql::dynamic::SchemaBuilder,
    reg: &Registry,
) -> async_graphql::dynamic::SchemaBuilder {
    let mut done = std::collections::BTreeSet::new();
    for m in reg.models() {
        for f in m.fields.iter().filter(|f| !f.hidden) {
            let name = filter_type(reg, f);
            if !done.insert(name.clone()) {
                continue;
            }
            let scalar = match f.kind {
                FieldKind::Enum(e) => e.name.to_owned(),
                _ => type_name(reg, f),
            };
            let (ordered, text, listable) = match (f.primary_key, f.kind) {
                // Integer ids order; ranges over them are common (`id: { gt: "100" }`).
                (true, _) | (_, FieldKind::AutoId | FieldKind::ForeignKey { .. }) => {
                    (true, false, true)
                }
                (_, FieldKind::Bool) => (false, false, false),
                (_, FieldKind::Json) => (false, false, false),
                (_, FieldKind::Uuid | FieldKind::Enum(_)) => (false, false, true),
                (_, FieldKind::String { .. } | FieldKind::Text) => (true, true, true),
                (
                    _,
                    FieldKind::I32
                    | FieldKind::I64
                    | FieldKind::F64
                    | FieldKind::Decimal { .. }
                    | FieldKind::Date
                    | FieldKind::DateTime,
                ) => (true, false, true),
            };
            let mut input = InputObject::new(&name).description(format!(
                "Conditions on a {scalar} field; all that are set must hold."
            ));
            if f.kind != FieldKind::Json {
                input = input
                    .field(InputValue::new("eq", TypeRef::named(&scalar)))
                    .field(InputValue::new("neq", TypeRef::named(&scalar)));
            }
            if listable {
                input = input
                    .field(InputValue::new("in", TypeRef::named_nn_list(&scalar)))
                    .field(InputValue::new("notIn", TypeRef::named_nn_list(&scalar)));
            }
            if ordered {
                for op in ORDERED_OPS {
                    input = input.field(InputValue::new(op, TypeRef::named(&scalar)));
                }
            }
            if text {
                for op in TEXT_OPS {
                    input = input.field(InputValue::new(op, TypeRef::named(TypeRef::STRING)));
                }
            }
            input = input.field(InputValue::new("isNull", TypeRef::named(TypeRef::BOOLEAN)));
            schema = schema.register(input);
        }
    }
    let mut enums = std::collections::BTreeSet::new();
    for m in reg.models() {
        for f in &m.fields {
            if let FieldKind::Enum(e) = f.kind
                && enums.insert(e.name)
            {
                {
                    let mut en = Enum::new(e.name);
                    if let Some(h) = e.help {
                        en = en.description(h);
                    }
                    for v in e.variants {
                        let mut item = async_graphql::dynamic::EnumItem::new(v.graphql());
                        if let Some(h) = v.help {
                            item = item.description(h);
                        }
                        en = en.item(item);
                    }
                    schema = schema.register(en);
                }
            }
        }
    }
    schema
}

fn value_field(rt: &Arc<Runtime>, m: &ModelMeta, f: &FieldMeta, idx: usize) -> Field {
    let meta = f.clone();
    let model = m.id;
    // A field with a read rule may be withheld, so it is nullable.
    let ruled = rt.permissions.has_field_rule(model, idx);
    let rt = Arc::clone(rt);
    let mut field = Field::new(
        &f.graphql_name,
        field_type(&rt.registry, f, f.nullable || ruled),
        move |ctx| {
            let meta = meta.clone();
            let rt = Arc::clone(&rt);
            FieldFuture::new(async move {
                let node = node_of(&ctx)?;
                if ruled {
                    let scope = match &node.scope {
                        Some(s) => Arc::clone(s),
                        None => scope_of(&ctx)?,
                    };
                    let m = rt.registry.model(model);
                    if !scope.field_visible(m, idx, &|i| node.values[i].clone()) {
                        return Ok(None);
                    }
                }
                Ok(Some(to_graphql(&meta, &node.values[idx])))
            })
        },
    );
    // The owning service describes an external field.
    if let Some(h) = f.help.filter(|_| !f.federation.external) {
        field = field.description(h);
    }
    federate_field(field, &f.federation)
}

fn relation_field(rt: &Arc<Runtime>, m: &ModelMeta, ri: usize) -> Field {
    let rel = &m.relations[ri];
    let target = rt.registry.model(rel.target);
    let name = rel.name.clone();
    if rel.is_many() {
        let f = Field::new(
            &rel.name,
            TypeRef::named_nn(format!("{}Connection", target.graphql_name)),
            move |ctx| {
                let name = name.clone();
                FieldFuture::new(async move {
                    let node = node_of(&ctx)?;
                    match node.children.get(&response_key(&ctx)) {
                        Some(Child::Many(page)) => {
                            Ok(Some(FieldValue::owned_any(Arc::clone(page))))
                        }
                        _ => {
                            Err(Error::internal(format!("relation `{name}` was not loaded")).into())
                        }
                    }
                })
            },
        );
        let f = list_args(f, target);
        match rel.help {
            Some(h) => f.description(h),
            None => f,
        }
    } else {
        let nullable = match rel.kind {
            RelationKind::ForwardOne { field } => m.fields[field].nullable,
            RelationKind::ReverseOne { .. }
            | RelationKind::ReverseMany { .. }
            | RelationKind::ManyToMany { .. } => true,
        };
        let ty = if nullable {
            TypeRef::named(&target.graphql_name)
        } else {
            TypeRef::named_nn(&target.graphql_name)
        };
        let f = Field::new(&rel.name, ty, move |ctx| {
            let name = name.clone();
            FieldFuture::new(async move {
                let node = node_of(&ctx)?;
                match node.children.get(&response_key(&ctx)) {
                    Some(Child::One(Some(n))) => Ok(Some(FieldValue::owned_any(Arc::clone(n)))),
                    Some(Child::One(None)) => Ok(None),
                    _ => Err(Error::internal(format!("relation `{name}` was not loaded")).into()),
                }
            })
        });
        let f = match rel.help {
            Some(h) => f.description(h),
            None => f,
        };
        // A to-one relation carries its foreign key field's directives.
        match rel.kind {
            RelationKind::ForwardOne { field } => {
                let provided: Vec<&str> = m
                    .provided_through(&rt.registry, field)
                    .into_iter()
                    .map(|(_, t)| {
                        rt.registry.model(rel.target).fields[t]
                            .graphql_name
                            .as_str()
                    })
                    .collect();
                let f = federate_field(f, &m.fields[field].federation);
                if provided.is_empty() {
                    f
                } else {
                    f.provides(provided.join(" "))
                }
            }
            RelationKind::ReverseOne { .. }
            | RelationKind::ReverseMany { .. }
            | RelationKind::ManyToMany { .. } => f,
        }
    }
}

fn computed_field(rt: &Arc<Runtime>, c: &ComputedField) -> Field {
    let shared = Arc::clone(rt);
    let key = c.model;
    let name = c.name.clone();
    let f = Field::new(&c.name, c.ty.clone(), move |ctx| {
        let rt = Arc::clone(&shared);
        let name = name.clone();
        FieldFuture::new(async move {
            let node = node_of(&ctx)?;
            let model = rt
                .registry
                .by_key(key)
                .ok_or_else(|| Error::internal("computed field on a missing model"))?;
            let comp = rt
                .computed(model.id, &name)
                .ok_or_else(|| Error::internal("computed field not resolved"))?;
            let row = Row {
                values: comp
                    .names
                    .iter()
                    .zip(&comp.requires)
                    .map(|(n, i)| (*n, node.values[*i].clone()))
                    .collect(),
            };
            let out = (comp.resolver)(request_ctx(&rt, &ctx), row).await?;
            Ok(Some(Gql::from_json(out).map_err(Error::internal)?))
        })
    });
    let f = match &c.description {
        Some(d) => f.description(d),
        None => f,
    };
    // On another service's entity, the fields it reads come from that
    // service: the gateway fetches them and passes them in the representation.
    let external: Vec<&str> = rt
        .registry
        .by_key(c.model)
        .map(|m| {
            c.requires
                .iter()
                .filter_map(|n| m.field(n))
                .filter(|(_, f)| f.federation.external)
                .map(|(_, f)| f.graphql_name.as_str())
                .collect()
        })
        .unwrap_or_default();
    if external.is_empty() {
        f
    } else {
        f.requires(external.join(" "))
    }
}

fn edge_cursor(rt: &Runtime, page: &Page, offset: u64) -> String {
    cursor::encode(
        &rt.config.cursor_key,
        &rt.registry.model(page.model).graphql_name,
        offset,
    )
}

fn register_model_types(
    mut schema: async_graphql::dynamic::SchemaBuilder,
    rt: &Arc<Runtime>,
    m: &ModelMeta,
) -> async_graphql::dynamic::SchemaBuilder {
    let reg = &rt.registry;
    let name = &m.graphql_name;
    // Connection and edge.
    let edge_name = format!("{name}Edge");
    let rt_e = Arc::clone(rt);
    let edge = Object::new(&edge_name)
        .field(Field::new("node", TypeRef::named_nn(name), |ctx| {
            FieldFuture::new(async move {
                let (node, _) = ctx.parent_value.try_downcast_ref::<(Arc<Node>, String)>()?;
                Ok(Some(FieldValue::owned_any(Arc::clone(node))))
            })
        }))
        .field(Field::new(
            "cursor",
            TypeRef::named_nn(TypeRef::STRING),
            |ctx| {
                FieldFuture::new(async move {
                    let (_, c) = ctx.parent_value.try_downcast_ref::<(Arc<Node>, String)>()?;
                    Ok(Some(Gql::String(c.clone())))
                })
            },
        ));
    let rt_p = Arc::clone(rt);
    let conn = Object::new(format!("{name}Connection"))
        .field(Field::new(
            "edges",
            TypeRef::named_nn_list_nn(&edge_name),
            move |ctx| {
                let rt = Arc::clone(&rt_e);
                FieldFuture::new(async move {
                    let page = ctx.parent_value.try_downcast_ref::<Arc<Page>>()?;
                    Ok(Some(FieldValue::list(page.items.iter().map(|(o, n)| {
                        FieldValue::owned_any((Arc::clone(n), edge_cursor(&rt, page, *o)))
                    }))))
                })
            },
        ))
        .field(Field::new(
            "nodes",
            TypeRef::named_nn_list_nn(name),
            |ctx| {
                FieldFuture::new(async move {
                    let page = ctx.parent_value.try_downcast_ref::<Arc<Page>>()?;
                    Ok(Some(FieldValue::list(
                        page.items
                            .iter()
                            .map(|(_, n)| FieldValue::owned_any(Arc::clone(n))),
                    )))
                })
            },
        ))
        .field(Field::new(
            "pageInfo",
            TypeRef::named_nn("PageInfo"),
            move |ctx| {
                let rt = Arc::clone(&rt_p);
                FieldFuture::new(async move {
                    let page = ctx.parent_value.try_downcast_ref::<Arc<Page>>()?;
                    Ok(Some(FieldValue::owned_any(PageInfo {
                        has_next: page.has_next,
                        has_prev: page.has_prev,
                        start: page.items.first().map(|(o, _)| edge_cursor(&rt, page, *o)),
                        end: page.items.last().map(|(o, _)| edge_cursor(&rt, page, *o)),
                    })))
                })
            },
        ))
        .field(Field::new(
            "totalCount",
            TypeRef::named_nn(TypeRef::INT),
            |ctx| {
                FieldFuture::new(async move {
                    let page = ctx.parent_value.try_downcast_ref::<Arc<Page>>()?;
                    let total = page
                        .total
                        .ok_or_else(|| Error::internal("totalCount was not planned"))?;
                    Ok(Some(Gql::from(total)))
                })
            },
        ));
    schema = schema.register(edge).register(conn);

    // Filter input.
    let mut filter = InputObject::new(format!("{name}Filter"))
        .description(format!(
            "Conditions on {}; all that are set must hold.",
            m.plural_name
        ))
        .field(InputValue::new(
            "AND",
            TypeRef::named_nn_list(format!("{name}Filter")),
        ))
        .field(InputValue::new(
            "OR",
            TypeRef::named_nn_list(format!("{name}Filter")),
        ))
        .field(InputValue::new(
            "NOT",
            TypeRef::named(format!("{name}Filter")),
        ));
    for f in m.fields.iter().filter(|f| !f.hidden) {
        filter = filter.field(InputValue::new(
            &f.graphql_name,
            TypeRef::named(filter_type(reg, f)),
        ));
    }
    // Relations into another service's entities are not filterable here.
    for rel in m
        .relations
        .iter()
        .filter(|r| reg.model(r.target).exposed && !reg.model(r.target).external)
    {
        let target = reg.model(rel.target);
        let ty = if rel.is_many() {
            format!("{}ListFilter", target.graphql_name)
        } else {
            format!("{}Filter", target.graphql_name)
        };
        filter = filter.field(InputValue::new(&rel.name, TypeRef::named(ty)));
    }
    let list_filter = InputObject::new(format!("{name}ListFilter"))
        .description(format!("Conditions on a set of {}.", m.plural_name))
        .field(
            InputValue::new("some", TypeRef::named(format!("{name}Filter")))
                .description("At least one matches."),
        )
        .field(
            InputValue::new("none", TypeRef::named(format!("{name}Filter")))
                .description("None matches."),
        )
        .field(
            InputValue::new("every", TypeRef::named(format!("{name}Filter")))
                .description("All match (true for an empty set)."),
        );
    // Order input: one key per entry.
    let mut order = InputObject::new(format!("{name}OrderBy"))
        .description(
            "One sort key: a field, or a to-one relation's order. The primary key breaks ties.",
        )
        .oneof();
    for f in m
        .fields
        .iter()
        .filter(|f| !f.hidden && !matches!(f.kind, FieldKind::Json))
    {
        order = order.field(InputValue::new(
            &f.graphql_name,
            TypeRef::named("SortDirection"),
        ));
    }
    for rel in m
        .relations
        .iter()
        .filter(|r| !r.is_many() && reg.model(r.target).exposed && !reg.model(r.target).external)
    {
        order = order.field(InputValue::new(
            &rel.name,
            TypeRef::named(format!("{}OrderBy", reg.model(rel.target).graphql_name)),
        ));
    }
    schema
        .register(filter)
        .register(list_filter)
        .register(order)
}

fn root_query_fields(mut query: Object, rt: &Arc<Runtime>, m: &ModelMeta) -> Object {
    let id = m.id;
    // Lookups: by primary key, then one per unique field.
    for (idx, f) in m.fields.iter().enumerate() {
        if f.hidden
            || !(f.primary_key || f.unique)
            || matches!(f.kind, FieldKind::ForeignKey { .. } | FieldKind::Json)
        {
            continue;
        }
        let field_name = if f.primary_key {
            m.single_name.clone()
        } else {
            format!("{}By{}", m.single_name, pascal(&f.graphql_name))
        };
        let arg = f.graphql_name.clone();
        let rt2 = Arc::clone(rt);
        let lookup = Field::new(&field_name, TypeRef::named(&m.graphql_name), move |ctx| {
            let rt = Arc::clone(&rt2);
            let arg = arg.clone();
            FieldFuture::new(async move {
                let model = rt.registry.model(id);
                let field = &model.fields[idx];
                // A lookup by a field the principal may not read would probe it.
                scope_of(&ctx)?.field_usable(model, idx)?;
                let raw = ctx.args.try_get(&arg)?.as_value().clone();
                let value = parse_field(&rt.registry, field, &raw)
                    .map_err(|e| bad_input(format!("`{arg}`: {}", e.message())))?;
                let scope = scope_of(&ctx)?;
                let plan = plan_node(&rt, &scope, model, &ctx.ctx.field())?;
                let node = fetch_unique(&rt, &scope, model, idx, value, &plan).await?;
                Ok(node.map(|n| FieldValue::owned_any(Arc::new(n))))
            })
        })
        .argument(InputValue::new(
            &f.graphql_name,
            field_type(&rt.registry, f, false),
        ));
        query = query.field(lookup.description(format!(
            "One {} by its {}, or null.",
            m.graphql_name, f.graphql_name
        )));
    }
    let rt2 = Arc::clone(rt);
    let list = Field::new(
        &m.plural_name,
        TypeRef::named_nn(format!("{}Connection", m.graphql_name)),
        move |ctx| {
            let rt = Arc::clone(&rt2);
            FieldFuture::new(async move {
                let model = rt.registry.model(id);
                let scope = scope_of(&ctx)?;
                let plan = plan_list(&rt, &scope, model, &ctx.ctx.field())?;
                let page = fetch_list(&rt, &scope, model, &plan).await?;
                Ok(Some(FieldValue::owned_any(Arc::new(page))))
            })
        },
    );
    query.field(list_args(list, m).description(format!(
        "{}, filtered, ordered and paginated.",
        m.plural_name
    )))
}

fn custom_root_field(rt: &Arc<Runtime>, c: &CustomField) -> Field {
    let rt2 = Arc::clone(rt);
    let ty = match &*c.returns {
        Returns::Scalar(t) => t.clone(),
        Returns::Models(key) => match rt.registry.by_key(*key) {
            Some(m) => TypeRef::named_nn_list_nn(&m.graphql_name),
            None => TypeRef::named_nn_list_nn("JSON"),
        },
    };
    let resolver = Arc::clone(&c.resolver);
    let returns = Arc::clone(&c.returns);
    let mut field = Field::new(&c.name, ty, move |ctx| {
        let rt = Arc::clone(&rt2);
        let resolver = Arc::clone(&resolver);
        let returns = Arc::clone(&returns);
        FieldFuture::new(async move {
            let args = Gql::Object(ctx.args.as_index_map().clone())
                .into_json()
                .map_err(Error::internal)?;
            let out = resolver(request_ctx(&rt, &ctx), args).await?;
            match (out, &*returns) {
                (Output::Json(v), _) => Ok(Some(FieldValue::value(
                    Gql::from_json(v).map_err(Error::internal)?,
                ))),
                (Output::Keys(keys), Returns::Models(key)) => {
                    let model = rt
                        .registry
                        .by_key(*key)
                        .ok_or_else(|| Error::internal("custom field on a missing model"))?;
                    let scope = scope_of(&ctx)?;
                    let plan = plan_node(&rt, &scope, model, &ctx.ctx.field())?;
                    let nodes = fetch_where_in(&rt, &scope, model, model.pk, &keys, &plan).await?;
                    let mut by_key: BTreeMap<String, Arc<Node>> = nodes
                        .into_iter()
                        .map(|n| (n.pk(&rt).key_string(), Arc::new(n)))
                        .collect();
                    let ordered: Vec<FieldValue> = keys
                        .iter()
                        .filter_map(|k| by_key.remove(&k.key_string()))
                        .map(FieldValue::owned_any)
                        .collect();
                    Ok(Some(FieldValue::list(ordered)))
                }
                (Output::Keys(_), Returns::Scalar(_)) => {
                    Err(Error::internal("keys returned for a scalar field").into())
                }
            }
        })
    });
    for (name, ty) in &c.args {
        field = field.argument(InputValue::new(name, ty.clone()));
    }
    match &c.description {
        Some(d) => field.description(d),
        None => field,
    }
}

/// Resolves a mutation payload's object field through the planner.
pub(crate) async fn payload_node(
    rt: &Arc<Runtime>,
    ctx: &ResolverContext<'_>,
) -> Res<Option<FieldValue<'static>>> {
    let res = ctx.parent_value.try_downcast_ref::<MutationResult>()?;
    let Some(key) = &res.key else { return Ok(None) };
    let model = rt.registry.model(res.model);
    let scope = scope_of(ctx)?;
    let plan: NodePlan = plan_node(rt, &scope, model, &ctx.ctx.field())?;
    let node = fetch_unique(rt, &scope, model, model.pk, key.clone(), &plan).await?;
    Ok(node.map(|n| FieldValue::owned_any(Arc::new(n))))
}
