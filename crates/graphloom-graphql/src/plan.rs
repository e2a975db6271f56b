//! The plan of one GraphQL selection over models, as plain data: which columns,
//! which relations, which filters, order and window. Built from the look-ahead of
//! a root field before any SQL runs, so it can be printed and tested alone.

use std::collections::BTreeSet;

use async_graphql::{SelectionField, Value as Gql};
use graphloom_meta::{FieldKind, ModelId, ModelMeta, Registry, RelationKind, Value, ValueType};
use indexmap::IndexMap;

use crate::{
    convert::parse_typed,
    cursor,
    error::{Error, bad_input},
    permissions::Scope,
    runtime::{Config, Runtime},
};

/// The most values an `in` / `notIn` filter takes: each is a bound parameter.
pub const MAX_IN_LIST: usize = 1000;

/// What to fetch of one model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodePlan {
    /// Field indices of the model; always holds the primary key.
    pub columns: BTreeSet<usize>,
    pub children: Vec<ChildPlan>,
}

/// One relation edge under a node, keyed by its response key (alias or name).
#[derive(Debug, Clone, PartialEq)]
pub struct ChildPlan {
    pub key: String,
    pub relation: usize,
    pub target: ModelId,
    pub fetch: ChildFetch,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ChildFetch {
    One(NodePlan),
    Many(ListPlan),
}

/// A connection: arguments, what each node needs, and whether `totalCount` is wanted.
#[derive(Debug, Clone, PartialEq)]
pub struct ListPlan {
    pub filter: Option<Filter>,
    pub order: Vec<OrderTerm>,
    pub window: Window,
    pub node: NodePlan,
    pub want_total: bool,
}

/// The rows of an ordered list to return, as 0-based offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Rows before this offset are skipped.
    pub start: u64,
    /// Rows from this offset on are not returned (one more is fetched to learn `hasNextPage`).
    pub end: Option<u64>,
    /// `last` without `before`: the final `n` rows before `end`, or before the total when `end` is open.
    pub last: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Neq,
    In,
    NotIn,
    Lt,
    Lte,
    Gt,
    Gte,
    Contains,
    IContains,
    StartsWith,
    EndsWith,
    IsNull,
}

impl Op {
    pub const ALL: [(&'static str, Op); 13] = [
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantifier {
    Some,
    None,
    Every,
}

/// A filter tree over one model.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Vec<Filter>),
    Or(Vec<Filter>),
    Not(Box<Filter>),
    Field {
        field: usize,
        op: Op,
        value: FilterValue,
    },
    /// A to-one relation whose target matches.
    One {
        relation: usize,
        filter: Box<Filter>,
    },
    /// A to-many relation with some, none or every target matching.
    Many {
        relation: usize,
        quantifier: Quantifier,
        filter: Box<Filter>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum FilterValue {
    One(Value),
    List(Vec<Value>),
    Bool(bool),
}

/// Order by a field reached through zero or more to-one relations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderTerm {
    pub path: Vec<(ModelId, usize)>,
    pub model: ModelId,
    pub field: usize,
    pub desc: bool,
}

fn object(v: &Gql) -> Option<&IndexMap<async_graphql::Name, Gql>> {
    match v {
        Gql::Object(o) => Some(o),
        _ => None,
    }
}

/// A list argument given as a single value is a list of one (input coercion).
fn list(v: &Gql) -> Vec<&Gql> {
    match v {
        Gql::List(items) => items.iter().collect(),
        Gql::Null => Vec::new(),
        other => vec![other],
    }
}

/// Parses a `where` argument for `model`.
pub fn parse_filter(
    reg: &Registry,
    scope: &Scope,
    model: &ModelMeta,
    v: &Gql,
    path: &str,
) -> Result<Option<Filter>, Error> {
    let Some(obj) = object(v) else {
        return match v {
            Gql::Null => Ok(None),
            _ => Err(bad_input(format!("`{path}` must be an object"))),
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
                    if let Some(f) = parse_filter(reg, scope, model, item, &format!("{here}[{i}]"))?
                    {
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
                if let Some(f) = parse_filter(reg, scope, model, value, &here)? {
                    parts.push(Filter::Not(Box::new(f)));
                }
            }
            _ => {
                if let Some((idx, field)) = model.field_by_graphql(key).filter(|(_, f)| !f.hidden) {
                    scope.field_usable(model, idx)?;
                    let ops = object(value)
                        .ok_or_else(|| bad_input(format!("`{here}` must be an object")))?;
                    let ty = reg.value_type(field);
                    let enum_decl = match field.kind {
                        FieldKind::Enum(e) => Some(e),
                        _ => None,
                    };
                    for (op_name, operand) in ops {
                        if matches!(operand, Gql::Null) {
                            continue;
                        }
                        let Some((_, op)) = Op::ALL.iter().find(|(n, _)| *n == op_name.as_str())
                        else {
                            return Err(bad_input(format!(
                                "unknown filter operator `{here}.{op_name}`"
                            )));
                        };
                        let at = format!("{here}.{op_name}");
                        let parse = |g: &Gql| {
                            parse_typed(ty, enum_decl, g)
                                .map_err(|m| bad_input(format!("`{at}`: {m}")))
                        };
                        let value = match op {
                            Op::IsNull => match operand {
                                Gql::Boolean(b) => FilterValue::Bool(*b),
                                _ => return Err(bad_input(format!("`{at}` must be a boolean"))),
                            },
                            Op::In | Op::NotIn => {
                                let items = list(operand);
                                if items.len() > MAX_IN_LIST {
                                    return Err(bad_input(format!(
                                        "`{at}` takes at most {MAX_IN_LIST} values"
                                    )));
                                }
                                FilterValue::List(
                                    items.into_iter().map(parse).collect::<Result<_, _>>()?,
                                )
                            }
                            Op::Contains | Op::IContains | Op::StartsWith | Op::EndsWith => {
                                if ty != ValueType::String || enum_decl.is_some() {
                                    return Err(bad_input(format!(
                                        "`{at}` works on text fields only"
                                    )));
                                }
                                FilterValue::One(parse(operand)?)
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
                    scope.can_view(target)?;
                    if rel.is_many() {
                        let quants = object(value)
                            .ok_or_else(|| bad_input(format!("`{here}` must be an object")))?;
                        for (q, inner) in quants {
                            let quantifier = match q.as_str() {
                                "some" => Quantifier::Some,
                                "none" => Quantifier::None,
                                "every" => Quantifier::Every,
                                other => {
                                    return Err(bad_input(format!(
                                        "unknown `{here}.{other}`: use some, none or every"
                                    )));
                                }
                            };
                            if let Some(f) =
                                parse_filter(reg, scope, target, inner, &format!("{here}.{q}"))?
                            {
                                parts.push(Filter::Many {
                                    relation: ri,
                                    quantifier,
                                    filter: Box::new(f),
                                });
                            }
                        }
                    } else if let Some(f) = parse_filter(reg, scope, target, value, &here)? {
                        parts.push(Filter::One {
                            relation: ri,
                            filter: Box::new(f),
                        });
                    }
                } else {
                    return Err(bad_input(format!(
                        "`{here}` is not a filter of {}",
                        model.graphql_name
                    )));
                }
            }
        }
    }
    Ok(match parts.len() {
        0 => None,
        1 => parts.pop(),
        _ => Some(Filter::And(parts)),
    })
}

/// Parses an `orderBy` argument: a list of one-key objects, each a field
/// (`ASC`/`DESC`) or a to-one relation with a nested order.
pub fn parse_order(
    reg: &Registry,
    scope: &Scope,
    model: &ModelMeta,
    v: &Gql,
) -> Result<Vec<OrderTerm>, Error> {
    let mut out = Vec::new();
    for (i, item) in list(v).into_iter().enumerate() {
        let at = format!("orderBy[{i}]");
        let obj = object(item).ok_or_else(|| bad_input(format!("`{at}` must be an object")))?;
        let set: Vec<_> = obj
            .iter()
            .filter(|(_, v)| !matches!(v, Gql::Null))
            .collect();
        if set.len() != 1 {
            return Err(bad_input(format!(
                "`{at}` must set exactly one field, it sets {}",
                set.len()
            )));
        }
        order_term(
            reg,
            scope,
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

#[allow(clippy::too_many_arguments)]
fn order_term(
    reg: &Registry,
    scope: &Scope,
    model: &ModelMeta,
    key: &str,
    v: &Gql,
    path: Vec<(ModelId, usize)>,
    at: &str,
    out: &mut Vec<OrderTerm>,
) -> Result<(), Error> {
    if let Some((idx, _)) = model.field_by_graphql(key).filter(|(_, f)| !f.hidden) {
        scope.field_usable(model, idx)?;
        // Enum literals arrive as enums, enum variables as strings.
        let name = match v {
            Gql::Enum(n) => n.as_str(),
            Gql::String(s) => s.as_str(),
            _ => "",
        };
        let desc = match name {
            "DESC" => true,
            "ASC" => false,
            _ => return Err(bad_input(format!("`{at}.{key}` must be ASC or DESC"))),
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
        return Err(bad_input(format!(
            "cannot order {} by `{key}`",
            model.graphql_name
        )));
    };
    let obj = object(v).ok_or_else(|| bad_input(format!("`{at}.{key}` must be an object")))?;
    let target = reg.model(rel.target);
    scope.can_view(target)?;
    let mut path = path;
    path.push((model.id, ri));
    for (k, inner) in obj.iter().filter(|(_, v)| !matches!(v, Gql::Null)) {
        order_term(
            reg,
            scope,
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

fn int_arg(args: &IndexMap<String, Gql>, name: &str) -> Result<Option<u64>, Error> {
    match args.get(name) {
        None | Some(Gql::Null) => Ok(None),
        Some(Gql::Number(n)) => n
            .as_i64()
            .and_then(|v| u64::try_from(v).ok())
            .map(Some)
            .ok_or_else(|| bad_input(format!("`{name}` must not be negative"))),
        Some(_) => Err(bad_input(format!("`{name}` must be an integer"))),
    }
}

/// Parses the arguments of a list field into a plan without its node part.
pub fn parse_list_args(
    reg: &Registry,
    config: &Config,
    scope: &Scope,
    model: &ModelMeta,
    args: &IndexMap<String, Gql>,
) -> Result<(Option<Filter>, Vec<OrderTerm>, Window), Error> {
    let filter = match args.get("where") {
        Some(v) => parse_filter(reg, scope, model, v, "where")?,
        None => None,
    };
    let order = match args.get("orderBy") {
        Some(v) => parse_order(reg, scope, model, v)?,
        None => Vec::new(),
    };
    let first = int_arg(args, "first")?;
    let last = int_arg(args, "last")?;
    let offset = int_arg(args, "offset")?.unwrap_or(0);
    let max = config.max_page_size;
    for (name, n) in [("first", first), ("last", last)] {
        if n.is_some_and(|n| n > max) {
            return Err(Error::coded(
                format!(
                    "`{name}` is {} but at most {max} rows can be asked for at once",
                    n.unwrap_or(0)
                ),
                "PAGE_SIZE_EXCEEDED",
            ));
        }
    }
    if first.is_some() && last.is_some() {
        return Err(bad_input("give `first` or `last`, not both"));
    }
    let cursor_arg = |name: &str| -> Result<Option<u64>, Error> {
        match args.get(name) {
            None | Some(Gql::Null) => Ok(None),
            Some(Gql::String(s)) => cursor::decode(&config.cursor_key, &model.graphql_name, s)
                .map(Some)
                .ok_or_else(|| {
                    Error::coded(
                        format!("`{name}` is not a valid cursor for {}", model.plural_name),
                        "INVALID_CURSOR",
                    )
                }),
            Some(_) => Err(bad_input(format!("`{name}` must be a string"))),
        }
    };
    let after = cursor_arg("after")?;
    let before = cursor_arg("before")?;
    let mut start = after.map_or(0, |a| a + 1).saturating_add(offset);
    let mut end = before;
    if let Some(n) = first {
        let e = start.saturating_add(n);
        end = Some(end.map_or(e, |b| b.min(e)));
    }
    let mut last_open = None;
    if let Some(n) = last {
        match end {
            Some(e) => start = start.max(e.saturating_sub(n)),
            None => last_open = Some(n),
        }
    }
    if first.is_none() && last.is_none() {
        let e = start.saturating_add(config.default_page_size.min(max));
        end = Some(end.map_or(e, |b| b.min(e)));
    }
    if let Some(e) = end {
        start = start.min(e);
    }
    Ok((
        filter,
        order,
        Window {
            start,
            end,
            last: last_open,
        },
    ))
}

/// Arguments of a selected field, with variables resolved.
pub fn arguments(field: &SelectionField<'_>) -> Result<IndexMap<String, Gql>, Error> {
    let args = field.arguments().map_err(|e| bad_input(e.message))?;
    Ok(args.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
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

fn response_key(field: &SelectionField<'_>) -> String {
    field.alias().unwrap_or(field.name()).to_owned()
}

/// Plans the selection of one object of `model`.
pub fn plan_node(
    rt: &Runtime,
    scope: &Scope,
    model: &ModelMeta,
    selection: &SelectionField<'_>,
) -> Result<NodePlan, Error> {
    scope.can_view(model)?;
    let mut plan = NodePlan::default();
    plan.columns.insert(model.pk);
    // Field rules that depend on the row read these columns.
    plan.columns.extend(scope.rule_columns(model));
    add_selection(rt, scope, model, selection, &mut plan)?;
    Ok(plan)
}

fn add_selection(
    rt: &Runtime,
    scope: &Scope,
    model: &ModelMeta,
    selection: &SelectionField<'_>,
    plan: &mut NodePlan,
) -> Result<(), Error> {
    let reg = &rt.registry;
    for sub in selection.selection_set() {
        if skipped(&sub) {
            continue;
        }
        let name = sub.name();
        if let Some((idx, _)) = model.field_by_graphql(name) {
            plan.columns.insert(idx);
        } else if let Some((ri, rel)) = model.relation(name) {
            let target = reg.model(rel.target);
            scope.can_view(target)?;
            let key = response_key(&sub);
            let fetch = if rel.is_many() {
                // A nested list takes the same arguments as a root one.
                ChildFetch::Many(plan_list(rt, scope, target, &sub)?)
            } else {
                match rel.kind {
                    RelationKind::ForwardOne { field } => {
                        plan.columns.insert(field);
                        // The local copies of the target's fields (@provides).
                        let provided = model.provided_through(reg, field);
                        plan.columns
                            .extend(provided.into_iter().map(|(local, _)| local));
                    }
                    RelationKind::ReverseOne { .. }
                    | RelationKind::ReverseMany { .. }
                    | RelationKind::ManyToMany { .. } => {}
                }
                ChildFetch::One(plan_node(rt, scope, target, &sub)?)
            };
            merge_child(
                plan,
                ChildPlan {
                    key,
                    relation: ri,
                    target: rel.target,
                    fetch,
                },
            );
        } else if let Some(computed) = rt.computed(model.id, name) {
            plan.columns.extend(computed.requires.iter().copied());
        }
    }
    Ok(())
}

fn add_connection(
    rt: &Runtime,
    scope: &Scope,
    model: &ModelMeta,
    selection: &SelectionField<'_>,
    list: &mut ListPlan,
) -> Result<(), Error> {
    for sub in selection.selection_set() {
        if skipped(&sub) {
            continue;
        }
        match sub.name() {
            "totalCount" => list.want_total = true,
            "nodes" => add_selection(rt, scope, model, &sub, &mut list.node)?,
            "edges" => {
                for e in sub.selection_set() {
                    if e.name() == "node" && !skipped(&e) {
                        add_selection(rt, scope, model, &e, &mut list.node)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Plans a connection field (root or nested) from its selection.
pub fn plan_list(
    rt: &Runtime,
    scope: &Scope,
    model: &ModelMeta,
    selection: &SelectionField<'_>,
) -> Result<ListPlan, Error> {
    scope.can_view(model)?;
    let args = arguments(selection)?;
    let (filter, order, window) = parse_list_args(&rt.registry, &rt.config, scope, model, &args)?;
    let mut list = ListPlan {
        filter,
        order,
        window,
        node: NodePlan::default(),
        want_total: false,
    };
    list.node.columns.insert(model.pk);
    list.node.columns.extend(scope.rule_columns(model));
    add_connection(rt, scope, model, selection, &mut list)?;
    Ok(list)
}

fn merge_child(plan: &mut NodePlan, child: ChildPlan) {
    match plan.children.iter_mut().find(|c| c.key == child.key) {
        None => plan.children.push(child),
        Some(existing) => match (&mut existing.fetch, child.fetch) {
            (ChildFetch::One(a), ChildFetch::One(b)) => merge_node(a, b),
            (ChildFetch::Many(a), ChildFetch::Many(b)) => {
                a.want_total |= b.want_total;
                merge_node(&mut a.node, b.node);
            }
            // Validation forbids one response key for two different fields.
            (_, _) => {}
        },
    }
}

fn merge_node(a: &mut NodePlan, b: NodePlan) {
    a.columns.extend(b.columns);
    for c in b.children {
        merge_child(a, c);
    }
}
