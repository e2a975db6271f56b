//! The output types of a model: its object type (value, relation and
//! computed fields), its connection and edge, and `PageInfo`. Every field
//! reads the rows the engine fetched; none runs SQL.

use std::sync::Arc;

use async_graphql::{
    Value as Gql,
    dynamic::{Directive, Field, FieldFuture, FieldValue, Object, TypeRef},
};
use graphloom_meta::{
    ComputedMeta, Declared, Federation, FieldMeta, ModelMeta, Operation, RelationKind, RelationMeta,
};
use graphloom_query::{
    Error, cursor,
    exec::{Child, Page},
    scope::Scope,
};

use crate::{
    context::{node_of, request_ctx, response_key, scope_of},
    convert::{to_graphql, type_ref},
    directives::{self, auth_directives, field_need, field_with_auth},
    error::ResultExt,
    runtime::Runtime,
    schema::inputs::{field_type, list_args, plain_list_args},
};

/// One declared directive's usage, for a type or a field (`None`: a key,
/// which async-graphql prints, or one that does not apply there).
pub(crate) fn usage(d: Declared, fed: &Federation, on_type: bool) -> Option<Directive> {
    let string = |s: &str| Gql::String(s.to_owned());
    match d {
        Declared::Key(_) => None,
        Declared::Shareable => Some(Directive::new("shareable")),
        Declared::Inaccessible => Some(Directive::new("inaccessible")),
        Declared::Tag(name) => Some(Directive::new("tag").argument("name", string(name))),
        Declared::Override if !on_type => {
            let d = Directive::new("override").argument("from", string(fed.override_from?));
            Some(match fed.override_label {
                Some(label) => d.argument("label", string(label)),
                None => d,
            })
        }
        Declared::External if !on_type => Some(Directive::new("external")),
        Declared::InterfaceObject if on_type => Some(Directive::new("interfaceObject")),
        Declared::Context if on_type => {
            Some(Directive::new("context").argument("name", string(fed.context?)))
        }
        Declared::Directive(text) => directives::usage(text).ok(),
        Declared::Override | Declared::External | Declared::InterfaceObject | Declared::Context => {
            None
        }
    }
}

/// A field's federation directives, in declared order (the plain SDL
/// leaves them out: [`directives::strip_gateway_only`]).
pub(crate) fn federate_field(mut f: Field, fed: &Federation) -> Field {
    for d in fed.declared() {
        if let Some(d) = usage(d, fed, false) {
            f = f.directive(d);
        }
    }
    if let Some(reason) = fed.deprecated {
        f = f.deprecation(Some(reason));
    }
    f
}

/// A model's or value type's federation directives on its object type, in
/// declared order; its keys are async-graphql's, and the subgraph SDL puts
/// them in their declared places ([`key_places`]).
pub(crate) fn federate_object(mut o: Object, fed: &Federation) -> Object {
    for d in fed.declared() {
        if let Some(d) = usage(d, fed, true) {
            o = o.directive(d);
        }
    }
    o
}

/// Where a type's keys go among its directives, in the order the subgraph
/// SDL prints them: `Some(i)` the `i`th key (in the type's key order, as
/// async-graphql prints them), `None` the next other directive. A declared
/// key is found by `index_of`. The first key comes first unless declared;
/// directives not declared (the auth directives of the rules) follow the
/// declared ones.
pub(crate) fn key_places(
    fed: &Federation,
    keys: usize,
    index_of: impl Fn(&str) -> Option<usize>,
) -> Vec<Option<usize>> {
    let declared = fed.declared();
    let mut places: Vec<Option<usize>> = Vec::new();
    for d in &declared {
        match d {
            Declared::Key(k) => places.extend(index_of(k).map(Some)),
            _ => places.push(None),
        }
    }
    if keys > 0 && !places.contains(&Some(0)) {
        places.insert(0, Some(0));
    }
    places
}

/// A model's object type: an entity keyed by its primary key and the keys
/// it declares, with its values, relations and computed fields.
pub(crate) fn object_type(rt: &Arc<Runtime>, m: &ModelMeta) -> Object {
    let reg = rt.registry();
    let mut obj = Object::new(&m.graphql_name);
    // A plain type has no `@key`: it is no entity.
    for k in m.keys.iter().filter(|_| !m.federation.plain) {
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
    let view = directives::need(reg, m.id, Operation::View);
    if rt.config.auth_directives {
        for (d, _) in auth_directives(&view) {
            obj = obj.directive(d);
        }
    }
    for (idx, f) in m.fields.iter().enumerate() {
        if f.hidden {
            continue;
        }
        let need = field_need(reg, m.id, idx);
        obj = obj.field(field_with_auth(rt, value_field(rt, m, f, idx), &need));
    }
    for (ri, rel) in m.relations.iter().enumerate() {
        if reg.model(rel.target).exposed {
            obj = obj.field(relation_field(rt, m, ri));
        }
    }
    for c in &m.computed {
        obj = obj.field(computed_field(rt, m, c));
    }
    obj
}

/// Whether a field has a read rule: its value may be withheld (null).
pub(crate) fn ruled(reg: &graphloom_meta::Registry, m: &ModelMeta, idx: usize) -> bool {
    Scope::has_field_rule(reg, m.id, idx)
}

/// Whether a value field is nullable in the schema: a nullable column, or
/// one a read rule may withhold.
pub(crate) fn value_nullable(reg: &graphloom_meta::Registry, m: &ModelMeta, idx: usize) -> bool {
    m.fields[idx].nullable || ruled(reg, m, idx)
}

/// Whether a relation field is nullable: a forward to-one follows its
/// foreign key, a reverse to-one may have no row, a to-many is a
/// (non-null) connection.
pub(crate) fn relation_nullable(m: &ModelMeta, rel: &RelationMeta) -> bool {
    match rel.kind {
        RelationKind::ForwardOne { field } => m.fields[field].nullable,
        RelationKind::ReverseOne { .. } => true,
        RelationKind::ReverseMany { .. } | RelationKind::ManyToMany { .. } => false,
    }
}

fn value_field(rt: &Arc<Runtime>, m: &ModelMeta, f: &FieldMeta, idx: usize) -> Field {
    let meta = f.clone();
    let model = m.id;
    // A field with a read rule may be withheld, so it is nullable.
    let ruled = ruled(rt.registry(), m, idx);
    let rt = Arc::clone(rt);
    let mut field = Field::new(
        &f.graphql_name,
        field_type(f, value_nullable(rt.registry(), m, idx)),
        move |ctx| {
            let meta = meta.clone();
            let rt = Arc::clone(&rt);
            FieldFuture::new(async move {
                let node = node_of(&ctx).gql()?;
                if ruled {
                    let scope = match &node.scope {
                        Some(s) => Arc::clone(s),
                        None => scope_of(&ctx).gql()?,
                    };
                    let m = rt.registry().model(model);
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
    let reg = rt.registry();
    let rel = &m.relations[ri];
    let target = reg.model(rel.target);
    let name = rel.name.clone();
    if rel.is_many() {
        // A connection resolves to the page, a plain list to its rows.
        let plain = rel.list;
        let ty = if plain {
            TypeRef::named_nn_list_nn(&target.graphql_name)
        } else {
            TypeRef::named_nn(format!("{}Connection", target.graphql_name))
        };
        let f = Field::new(&rel.name, ty, move |ctx| {
            let name = name.clone();
            FieldFuture::new(async move {
                let node = node_of(&ctx).gql()?;
                match node.children.get(&response_key(&ctx)) {
                    Some(Child::Many(page)) if plain => Ok(Some(FieldValue::list(
                        page.items
                            .iter()
                            .map(|(_, n)| FieldValue::owned_any(Arc::clone(n))),
                    ))),
                    Some(Child::Many(page)) => Ok(Some(FieldValue::owned_any(Arc::clone(page)))),
                    _ => Err(crate::error::gql(Error::internal(format!(
                        "relation `{name}` was not loaded"
                    )))),
                }
            })
        });
        let f = if plain {
            plain_list_args(f, target)
        } else {
            list_args(f, target)
        };
        let f = crate::directives::with_list_size(rt, f, !plain);
        return match rel.help {
            Some(h) => f.description(h),
            None => f,
        };
    }
    let ty = if relation_nullable(m, rel) {
        TypeRef::named(&target.graphql_name)
    } else {
        TypeRef::named_nn(&target.graphql_name)
    };
    let f = Field::new(&rel.name, ty, move |ctx| {
        let name = name.clone();
        FieldFuture::new(async move {
            let node = node_of(&ctx).gql()?;
            match node.children.get(&response_key(&ctx)) {
                Some(Child::One(Some(n))) => Ok(Some(FieldValue::owned_any(Arc::clone(n)))),
                Some(Child::One(None)) => Ok(None),
                _ => Err(crate::error::gql(Error::internal(format!(
                    "relation `{name}` was not loaded"
                )))),
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
                .provided_through(reg, field)
                .into_iter()
                .map(|(_, t)| target.fields[t].graphql_name.as_str())
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

fn computed_field(rt: &Arc<Runtime>, m: &ModelMeta, c: &ComputedMeta) -> Field {
    let shared = Arc::clone(rt);
    let model = m.id;
    let meta = c.clone();
    let mut f = Field::new(&c.name, type_ref(&c.output), move |ctx| {
        let rt = Arc::clone(&shared);
        let meta = meta.clone();
        FieldFuture::new(async move {
            let node = node_of(&ctx).gql()?;
            let m = rt.registry().model(model);
            let app = request_ctx(&rt, &ctx).gql()?;
            let args = crate::context::args_json(&ctx).gql()?;
            let out = rt
                .engine
                .compute(app, m, &meta, &node.values, args)
                .await
                .gql()?;
            Ok(crate::schema::values::field_value(
                &meta.output,
                crate::convert::typed_value(&meta.output, &out),
            ))
        })
    });
    for a in &c.args {
        let mut arg = crate::convert::input_value(&a.name, &a.ty, a.default.as_ref());
        if let Some(field) = &a.from_context {
            arg = arg.directive(
                async_graphql::dynamic::Directive::new("fromContext")
                    .argument("field", Gql::String(field.clone())),
            );
        }
        f = f.argument(arg);
    }
    let f = match &c.description {
        Some(d) => f.description(d),
        None => f,
    };
    let f = crate::directives::with_cost(rt, f, &m.graphql_name, &c.name);
    let f = federate_field(f, &c.federation);
    // On another service's entity, the fields it reads come from that
    // service: the gateway fetches them and passes them in the representation.
    let external: Vec<&str> = c
        .requires
        .iter()
        .map(|&i| &m.fields[i])
        .filter(|f| f.federation.external)
        .map(|f| f.graphql_name.as_str())
        .collect();
    if external.is_empty() {
        f
    } else {
        f.requires(external.join(" "))
    }
}

fn edge_cursor(rt: &Runtime, page: &Page, offset: u64) -> String {
    cursor::encode(
        &rt.config.cursor_key,
        &rt.registry().model(page.model).graphql_name,
        offset,
    )
}

/// A model's edge and connection types.
pub(crate) fn connection_types(rt: &Arc<Runtime>, m: &ModelMeta) -> (Object, Object) {
    let name = &m.graphql_name;
    let edge_name = format!("{name}Edge");
    let rt_e = Arc::clone(rt);
    let edge = Object::new(&edge_name)
        .field(Field::new("node", TypeRef::named_nn(name), |ctx| {
            FieldFuture::new(async move {
                let (node, _) = ctx
                    .parent_value
                    .try_downcast_ref::<(Arc<graphloom_query::exec::Node>, String)>()?;
                Ok(Some(FieldValue::owned_any(Arc::clone(node))))
            })
        }))
        .field(Field::new(
            "cursor",
            TypeRef::named_nn(TypeRef::STRING),
            |ctx| {
                FieldFuture::new(async move {
                    let (_, c) = ctx
                        .parent_value
                        .try_downcast_ref::<(Arc<graphloom_query::exec::Node>, String)>()?;
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
                    let total = page.total.ok_or_else(|| {
                        crate::error::gql(Error::internal("totalCount was not planned"))
                    })?;
                    Ok(Some(Gql::from(total)))
                })
            },
        ));
    (edge, conn)
}

#[derive(Debug, Clone)]
struct PageInfo {
    has_next: bool,
    has_prev: bool,
    start: Option<String>,
    end: Option<String>,
}

/// Every subgraph defines `PageInfo` identically, so its fields are `@shareable`.
pub(crate) fn page_info_type() -> Object {
    let b = |name: &'static str, get: fn(&PageInfo) -> Gql, ty: TypeRef| {
        Field::new(name, ty, move |ctx| {
            FieldFuture::new(async move {
                let p = ctx.parent_value.try_downcast_ref::<PageInfo>()?;
                Ok(Some(get(p)))
            })
        })
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
