//! GraphQL to the engine: `where`, `orderBy` and pagination arguments into
//! the engine's filter, order and window; a field's selection into a plan.
//! Nothing here runs SQL or decides permissions: the engine does both.

use async_graphql::{Name, SelectionField, Value as Gql};
use graphloom_meta::{ModelId, ModelMeta, Op, Quantifier, Registry};
use graphloom_query::{
    Error, Result,
    filter::{Filter, FilterValue, MAX_IN_LIST, OrderTerm},
    plan::{ChildFetch, ChildPlan, ListPlan, NodePlan, PageArgs},
    scope::Scope,
};
use indexmap::IndexMap;

use crate::{convert::parse_typed, runtime::Runtime};

/// The GraphQL name of each filter operator the API offers. `IExact` is the
/// engine's (and the model API's) alone for now: adding it here would
/// change every text filter input of the schema.
pub(crate) const OPS: [(&str, Op); 13] = [
    ("eq", Op::Eq),
    ("neq", Op::Neq),
    ("in", Op::In),
    ("notIn", Op::NotIn),
    ("lt", Op::Lt),
    ("lte", Op::Lte),
    ("gt", Op::Gt),
    ("gte", Op::Gte),
    ("contains", Op::Contains),
    ("iContains", Op::IContains),
    ("startsWith", Op::StartsWith),
    ("endsWith", Op::EndsWith),
    ("isNull", Op::IsNull),
];

/// The GraphQL name of an operator, if the API offers it.
pub(crate) fn op_name(op: Op) -> Option<&'static str> {
    match op {
        Op::IExact => None,
        Op::Eq
        | Op::Neq
        | Op::In
        | Op::NotIn
        | Op::Lt
        | Op::Lte
        | Op::Gt
        | Op::Gte
        | Op::Contains
        | Op::IContains
        | Op::StartsWith
        | Op::EndsWith
        | Op::IsNull => OPS.iter().find(|(_, o)| *o == op).map(|(n, _)| *n),
    }
}

fn object(v: &Gql) -> Option<&IndexMap<Name, Gql>> {
    match v {
        Gql::Object(o) => Some(o),
        _ => None,
    }
}

/// A list argument given as a single value is a list of one (input coercion).
pub(crate) fn list(v: &Gql) -> Vec<&Gql> {
    match v {
        Gql::List(items) => items.iter().collect(),
        Gql::Null => Vec::new(),
        other => vec![other],
    }
}

/// Parses a `where` argument for `model`; errors name the argument's path.
pub fn parse_filter(
    reg: &Registry,
    model: &ModelMeta,
    v: &Gql,
    path: &str,
) -> Result<Option<Filter>> {
    let Some(obj) = object(v) else {
        return match v {
            Gql::Null => Ok(None),
            _ => Err(Error::bad_input(format!("`{path}` must be an object"))),
        };
    };
    let mut parts = Vec::new();
    for (key, value) in obj {
        let key = key.as_str();
        let here = format!("{path}.{key}");
        if matches!(value, Gql::Null) {
            continue;
        }
        match key {
            "AND" | "OR" => {
                let mut subs = Vec::new();
                for (i, item) in list(value).into_iter().enumerate() {
                    if let Some(f) = parse_filter(reg, model, item, &format!("{here}[{i}]"))? {
                        subs.push(f);
                    }
                }
                parts.push(if key == "AND" {
                    Filter::And(subs)
                } else {
                    Filter::Or(subs)
                });
            }
            "NOT" => {
                if let Some(f) = parse_filter(reg, model, value, &here)? {
                    parts.push(Filter::Not(Box::new(f)));
                }
            }
            _ => {
                if let Some((idx, field)) = model.field_by_graphql(key).filter(|(_, f)| !f.hidden) {
                    let ops = object(value)
                        .ok_or_else(|| Error::bad_input(format!("`{here}` must be an object")))?;
                    let ty = reg.value_type(field);
                    let enum_decl = field.kind.enum_decl();
                    let caps = field.capabilities();
                    for (op_name, operand) in ops {
                        if matches!(operand, Gql::Null) {
                            continue;
                        }
                        let Some((_, op)) = OPS.iter().find(|(n, _)| *n == op_name.as_str()) else {
                            return Err(Error::bad_input(format!(
                                "unknown filter operator `{here}.{op_name}`"
                            )));
                        };
                        let at = format!("{here}.{op_name}");
                        if !caps.allows(*op) {
                            return Err(Error::bad_input(if op.is_text() {
                                format!("`{at}` works on text fields only")
                            } else {
                                format!("`{at}` does not apply to this field")
                            }));
                        }
                        let parse = |g: &Gql| {
                            parse_typed(ty, enum_decl, g)
                                .map_err(|m| Error::bad_input(format!("`{at}`: {m}")))
                        };
                        let value = match op {
                            Op::IsNull => match operand {
                                Gql::Boolean(b) => FilterValue::Bool(*b),
                                _ => {
                                    return Err(Error::bad_input(format!(
                                        "`{at}` must be a boolean"
                                    )));
                                }
                            },
                            Op::In | Op::NotIn => {
                                let items = list(operand);
                                if items.len() > MAX_IN_LIST {
                                    return Err(Error::bad_input(format!(
                                        "`{at}` takes at most {MAX_IN_LIST} values"
                                    )));
                                }
                                FilterValue::List(
                                    items.into_iter().map(parse).collect::<Result<_>>()?,
                                )
                            }
                            _ => FilterValue::One(parse(operand)?),
                        };
                        parts.push(Filter::Field {
                            field: idx,
                            op: *op,
                            value,
                        });
                    }
                } else if let Some((ri, rel)) = model.relation(key) {
                    let target = reg.model(rel.target);
                    if rel.is_many() {
                        let quants = object(value).ok_or_else(|| {
                            Error::bad_input(format!("`{here}` must be an object"))
                        })?;
                        for (q, inner) in quants {
                            let quantifier = match q.as_str() {
                                "some" => Quantifier::Some,
                                "none" => Quantifier::None,
                                "every" => Quantifier::Every,
                                other => {
                                    return Err(Error::bad_input(format!(
                                        "unknown `{here}.{other}`: use some, none or every"
                                    )));
                                }
                            };
                            if let Some(f) =
                                parse_filter(reg, target, inner, &format!("{here}.{q}"))?
                            {
                                parts.push(Filter::Many {
                                    relation: ri,
                                    quantifier,
                                    filter: Box::new(f),
                                });
                            }
                        }
                    } else if let Some(f) = parse_filter(reg, target, value, &here)? {
                        parts.push(Filter::One {
                            relation: ri,
                            filter: Box::new(f),
                        });
                    }
                } else {
                    return Err(Error::bad_input(format!(
                        "`{here}` is not a filter of {}",
                        model.graphql_name
                    )));
                }
            }
        }
    }
    Ok(Filter::all(parts))
}

/// Parses an `orderBy` argument: a list of one-key objects, each a field
/// (`ASC`/`DESC`) or a to-one relation with a nested order.
pub fn parse_order(reg: &Registry, model: &ModelMeta, v: &Gql) -> Result<Vec<OrderTerm>> {
    let mut out = Vec::new();
    for (i, item) in list(v).into_iter().enumerate() {
        let at = format!("orderBy[{i}]");
        let obj =
            object(item).ok_or_else(|| Error::bad_input(format!("`{at}` must be an object")))?;
        let set: Vec<_> = obj
            .iter()
            .filter(|(_, v)| !matches!(v, Gql::Null))
            .collect();
        if set.len() != 1 {
            return Err(Error::bad_input(format!(
                "`{at}` must set exactly one field, it sets {}",
                set.len()
            )));
        }
        order_term(
            reg,
            model,
            set[0].0.as_str(),
            set[0].1,
            Vec::new(),
            &at,
            &mut out,
        )?;
    }
    Ok(out)
}

fn order_term(
    reg: &Registry,
    model: &ModelMeta,
    key: &str,
    v: &Gql,
    path: Vec<(ModelId, usize)>,
    at: &str,
    out: &mut Vec<OrderTerm>,
) -> Result<()> {
    if let Some((idx, _)) = model
        .field_by_graphql(key)
        .filter(|(_, f)| !f.hidden && f.capabilities().order)
    {
        // Enum literals arrive as enums, enum variables as strings.
        let name = match v {
            Gql::Enum(n) => n.as_str(),
            Gql::String(s) => s.as_str(),
            _ => "",
        };
        let desc = match name {
            "DESC" => true,
            "ASC" => false,
            _ => {
                return Err(Error::bad_input(format!(
                    "`{at}.{key}` must be ASC or DESC"
                )));
            }
        };
        out.push(OrderTerm {
            path,
            model: model.id,
            field: idx,
            desc,
        });
        return Ok(());
    }
    let Some((ri, rel)) = model.relation(key).filter(|(_, r)| !r.is_many()) else {
        return Err(Error::bad_input(format!(
            "cannot order {} by `{key}`",
            model.graphql_name
        )));
    };
    let obj =
        object(v).ok_or_else(|| Error::bad_input(format!("`{at}.{key}` must be an object")))?;
    let target = reg.model(rel.target);
    let mut path = path;
    path.push((model.id, ri));
    for (k, inner) in obj.iter().filter(|(_, v)| !matches!(v, Gql::Null)) {
        order_term(
            reg,
            target,
            k.as_str(),
            inner,
            path.clone(),
            &format!("{at}.{key}"),
            out,
        )?;
    }
    Ok(())
}

fn int_arg(args: &IndexMap<String, Gql>, name: &str) -> Result<Option<u64>> {
    match args.get(name) {
        None | Some(Gql::Null) => Ok(None),
        Some(Gql::Number(n)) => n
            .as_i64()
            .and_then(|v| u64::try_from(v).ok())
            .map(Some)
            .ok_or_else(|| Error::bad_input(format!("`{name}` must not be negative"))),
        Some(_) => Err(Error::bad_input(format!("`{name}` must be an integer"))),
    }
}

fn string_arg(args: &IndexMap<String, Gql>, name: &str) -> Result<Option<String>> {
    match args.get(name) {
        None | Some(Gql::Null) => Ok(None),
        Some(Gql::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Error::bad_input(format!("`{name}` must be a string"))),
    }
}

/// The pagination arguments of a list field.
pub fn page_args(args: &IndexMap<String, Gql>) -> Result<PageArgs> {
    Ok(PageArgs {
        first: int_arg(args, "first")?,
        after: string_arg(args, "after")?,
        last: int_arg(args, "last")?,
        before: string_arg(args, "before")?,
        offset: int_arg(args, "offset")?,
    })
}

/// A field of a selection, as the planner reads it: async-graphql's
/// look-ahead inside resolvers, or the fast path's collected fields.
pub trait Selection: Sized {
    /// The field's name in the schema.
    fn name(&self) -> &str;
    /// Its response key (alias or name).
    fn key(&self) -> String;
    /// Its arguments, variables resolved.
    fn arguments(&self) -> Result<IndexMap<String, Gql>>;
    /// The fields selected under it, `@skip`/`@include` applied and
    /// fragments spread.
    fn children(&self) -> Vec<Self>;
}

impl<'a> Selection for SelectionField<'a> {
    fn name(&self) -> &str {
        SelectionField::name(self)
    }
    fn key(&self) -> String {
        self.alias()
            .unwrap_or(SelectionField::name(self))
            .to_owned()
    }
    fn arguments(&self) -> Result<IndexMap<String, Gql>> {
        let args = SelectionField::arguments(self).map_err(|e| Error::bad_input(e.message))?;
        Ok(args.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }
    fn children(&self) -> Vec<Self> {
        self.selection_set().filter(|f| !skipped(f)).collect()
    }
}

/// Whether `@skip` / `@include` leave a field out.
fn skipped(field: &SelectionField<'_>) -> bool {
    let Ok(directives) = field.directives() else {
        return false;
    };
    directives.iter().any(|d| {
        let cond = d
            .arguments
            .iter()
            .find(|(n, _)| n.node.as_str() == "if")
            .map(|(_, v)| matches!(v.node, Gql::Boolean(true)));
        match d.name.node.as_str() {
            "skip" => cond == Some(true),
            "include" => cond == Some(false),
            _ => false,
        }
    })
}

/// Plans the selection of one object of `model`.
pub fn plan_node<S: Selection>(
    rt: &Runtime,
    scope: &Scope,
    model: &ModelMeta,
    selection: &S,
) -> Result<NodePlan> {
    let mut plan = NodePlan::of(scope, model)?;
    add_selection(rt, scope, model, selection, &mut plan)?;
    Ok(plan)
}

fn add_selection<S: Selection>(
    rt: &Runtime,
    scope: &Scope,
    model: &ModelMeta,
    selection: &S,
    plan: &mut NodePlan,
) -> Result<()> {
    let reg = rt.registry();
    for sub in selection.children() {
        let name = sub.name();
        if let Some((idx, _)) = model.field_by_graphql(name) {
            plan.columns.insert(idx);
        } else if let Some((ri, rel)) = model.relation(name) {
            let target = reg.model(rel.target);
            let fetch = if rel.is_many() {
                // A nested connection takes the same arguments as a root
                // one; a plain list selects the rows' fields itself.
                ChildFetch::Many(plan_rows(rt, scope, target, &sub, rel.list)?)
            } else {
                ChildFetch::One(plan_node(rt, scope, target, &sub)?)
            };
            plan.add_child(
                reg,
                model,
                ChildPlan {
                    key: sub.key().into(),
                    relation: ri,
                    target: rel.target,
                    fetch,
                },
            );
        } else if let Some(computed) = model.computed.iter().find(|c| c.name == name) {
            plan.columns.extend(computed.requires.iter().copied());
        }
    }
    Ok(())
}

fn add_connection<S: Selection>(
    rt: &Runtime,
    scope: &Scope,
    model: &ModelMeta,
    selection: &S,
    list: &mut ListPlan,
) -> Result<()> {
    // Only a count (or `__typename`): no row is read.
    list.want_rows = false;
    for sub in selection.children() {
        match sub.name() {
            "totalCount" => list.want_total = true,
            "nodes" => {
                list.want_rows = true;
                add_selection(rt, scope, model, &sub, &mut list.node)?;
            }
            "edges" => {
                list.want_rows = true;
                for e in sub.children() {
                    if e.name() == "node" {
                        add_selection(rt, scope, model, &e, &mut list.node)?;
                    }
                }
            }
            "pageInfo" => list.want_rows = true,
            _ => {}
        }
    }
    Ok(())
}

/// Plans a connection field (root or nested) from its arguments and selection.
pub fn plan_list<S: Selection>(
    rt: &Runtime,
    scope: &Scope,
    model: &ModelMeta,
    selection: &S,
) -> Result<ListPlan> {
    plan_rows(rt, scope, model, selection, false)
}

/// Plans the rows of a connection, or of a plain list (`plain`: the
/// selection is the rows' own, and the page is its `first` rows).
fn plan_rows<S: Selection>(
    rt: &Runtime,
    scope: &Scope,
    model: &ModelMeta,
    selection: &S,
    plain: bool,
) -> Result<ListPlan> {
    scope.can_view(model)?;
    let reg = rt.registry();
    let args = selection.arguments()?;
    let filter = match args.get("where") {
        Some(v) => parse_filter(reg, model, v, "where")?,
        None => None,
    };
    let order = match args.get("orderBy") {
        Some(v) => parse_order(reg, model, v)?,
        None => Vec::new(),
    };
    let window = page_args(&args)?.window(rt.engine.limits(), model)?;
    let mut list = ListPlan::new(reg, scope, model, filter, order, window)?;
    if plain {
        add_selection(rt, scope, model, selection, &mut list.node)?;
    } else {
        add_connection(rt, scope, model, selection, &mut list)?;
    }
    Ok(list)
}

/// The plan of a mutation payload's row (the `post` of `createPost { post
/// { … } }`, every occurrence merged), or `None` when it is not selected.
pub fn payload_plan<S: Selection>(
    rt: &Runtime,
    scope: &Scope,
    model: &ModelMeta,
    mutation: &S,
) -> Option<Result<NodePlan>> {
    let mut merged: Option<Result<NodePlan>> = None;
    for sub in mutation.children() {
        if sub.name() != model.single_name {
            continue;
        }
        let plan = plan_node(rt, scope, model, &sub);
        merged = Some(match (merged, plan) {
            (None, p) => p,
            (Some(Ok(mut a)), Ok(b)) => {
                a.merge(b);
                Ok(a)
            }
            (Some(Err(e)), _) | (_, Err(e)) => Err(e),
        });
    }
    merged
}
