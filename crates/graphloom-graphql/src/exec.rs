//! Runs plans: one statement for a root list (plus one for a count when needed)
//! and one per relation edge, whatever the number of rows. Rows become [`Node`]s
//! that the field resolvers read from memory.

use std::{
    collections::{HashMap, HashSet},
    sync::Arc,
};

use futures_util::future::BoxFuture;
use graphloom_db::Statement;
use graphloom_meta::{ModelId, ModelMeta, RelationKind, Value, ValueType};
use sea_query::{
    Alias, Asterisk, Expr, ExprTrait, JoinType, Order, OverStatement, Query, SelectStatement,
    WindowStatement,
};

use crate::{
    error::Error,
    permissions::Scope,
    plan::{ChildFetch, ChildPlan, Filter, ListPlan, NodePlan},
    runtime::Runtime,
    sql::{Builder, apply_order, apply_window_order, col},
};

/// One fetched row with the relations selected under it.
#[derive(Debug, Clone)]
pub struct Node {
    pub model: ModelId,
    /// By field index; `Null` for columns that were not selected.
    pub values: Vec<Value>,
    pub children: HashMap<String, Child>,
    /// Read this row's fields as this scope allows rather than the request's
    /// (the user of a login payload is read as that user).
    pub scope: Option<Arc<Scope>>,
    /// A representation `_entities` could not resolve: its fields fail with
    /// this message, which nulls the entity (async-graphql's dynamic schema
    /// cannot return a null list item of a union directly).
    pub missing: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Child {
    One(Option<Arc<Node>>),
    Many(Arc<Page>),
}

/// One page of a connection.
#[derive(Debug, Clone)]
pub struct Page {
    pub model: ModelId,
    /// Each node with its 0-based offset in the whole ordered list.
    pub items: Vec<(u64, Arc<Node>)>,
    pub has_next: bool,
    pub has_prev: bool,
    pub total: Option<i64>,
}

impl Node {
    pub fn pk(&self, rt: &Runtime) -> &Value {
        &self.values[rt.registry.model(self.model).pk]
    }
}

struct Selected {
    fields: Vec<usize>,
    types: Vec<ValueType>,
}

fn select_columns(
    rt: &Runtime,
    model: &ModelMeta,
    plan: &NodePlan,
    stmt: &mut SelectStatement,
    alias: &str,
) -> Selected {
    let fields: Vec<usize> = plan.columns.iter().copied().collect();
    let types = fields
        .iter()
        .map(|i| rt.registry.value_type(&model.fields[*i]))
        .collect();
    for i in &fields {
        stmt.expr(col(alias, &model.fields[*i].column));
    }
    Selected { fields, types }
}

fn to_node(model: &ModelMeta, sel: &Selected, row: &mut std::vec::IntoIter<Value>) -> Node {
    let mut values = vec![Value::Null; model.fields.len()];
    for i in &sel.fields {
        values[*i] = row.next().unwrap_or(Value::Null);
    }
    Node {
        model: model.id,
        values,
        children: HashMap::new(),
        scope: None,
        missing: None,
    }
}

async fn count(
    rt: &Runtime,
    scope: &Scope,
    model: &ModelMeta,
    filter: Option<&Filter>,
    extra: Option<Expr>,
) -> Result<i64, Error> {
    let mut b = Builder::new(&rt.registry, rt.db.dialect(), scope);
    let a = b.alias();
    let mut stmt = Query::select();
    if let Some(rows) = b.row_cond(model, &a) {
        stmt.and_where(rows);
    }
    stmt.expr(Expr::cust("COUNT(*)"))
        .from_as(Alias::new(&model.table), Alias::new(&a));
    if let Some(f) = filter {
        stmt.and_where(b.cond(model, &a, f));
    }
    if let Some(e) = extra {
        stmt.and_where(e);
    }
    let rows = rt.db.fetch(&stmt, &[ValueType::I64]).await?;
    Ok(match rows.first().and_then(|r| r.first()) {
        Some(Value::I64(n)) => *n,
        _ => 0,
    })
}

/// A root connection: `posts(where:, orderBy:, first:, …)`.
pub async fn fetch_list(
    rt: &Runtime,
    scope: &Scope,
    model: &ModelMeta,
    plan: &ListPlan,
) -> Result<Page, Error> {
    let total = if plan.want_total || plan.window.last.is_some() {
        Some(count(rt, scope, model, plan.filter.as_ref(), None).await?)
    } else {
        None
    };
    let mut start = plan.window.start;
    let mut end = plan.window.end;
    let mut extra_row = true;
    if let Some(n) = plan.window.last {
        let total = u64::try_from(total.unwrap_or(0)).unwrap_or(0);
        let e = Ord::min(end.unwrap_or(total), total);
        start = Ord::max(start, e.saturating_sub(n));
        end = Some(e);
        extra_row = false;
    }
    let mut b = Builder::new(&rt.registry, rt.db.dialect(), scope);
    let a = b.alias();
    let mut stmt = Query::select();
    stmt.from_as(Alias::new(&model.table), Alias::new(&a));
    let sel = select_columns(rt, model, &plan.node, &mut stmt, &a);
    if let Some(f) = &plan.filter {
        let c = b.cond(model, &a, f);
        stmt.and_where(c);
    }
    if let Some(rows) = b.row_cond(model, &a) {
        stmt.and_where(rows);
    }
    let order = b.order(&mut stmt, model, &a, &plan.order);
    apply_order(&mut stmt, &order);
    let wanted = end.map(|e| e.saturating_sub(start));
    // Both dialects take LIMIT and OFFSET as signed 64-bit integers.
    let cap = |v: u64| Ord::min(v, i64::MAX as u64);
    if let Some(w) = wanted {
        stmt.limit(cap(w.saturating_add(u64::from(extra_row))));
    }
    if start > 0 {
        stmt.offset(cap(start));
    }
    let rows = if wanted == Some(0) && !extra_row {
        Vec::new()
    } else {
        rt.db.fetch(&stmt, &sel.types).await?
    };
    let mut nodes: Vec<Node> = rows
        .into_iter()
        .map(|r| to_node(model, &sel, &mut r.into_iter()))
        .collect();
    let has_next = match wanted {
        Some(w) if nodes.len() as u64 > w => {
            nodes.truncate(usize::try_from(w).unwrap_or(usize::MAX));
            true
        }
        _ => false,
    };
    load_children(rt, scope, model, &plan.node, &mut nodes).await?;
    Ok(Page {
        model: model.id,
        items: nodes
            .into_iter()
            .enumerate()
            .map(|(i, n)| (start + i as u64, Arc::new(n)))
            .collect(),
        has_next,
        has_prev: start > 0,
        total,
    })
}

/// Rows of `model` matching `condition(builder, alias)`, with their relations.
async fn fetch_nodes(
    rt: &Runtime,
    scope: &Scope,
    model: &ModelMeta,
    plan: &NodePlan,
    limit: Option<u64>,
    condition: impl FnOnce(&mut Builder<'_>, &str) -> Expr,
) -> Result<Vec<Node>, Error> {
    let mut b = Builder::new(&rt.registry, rt.db.dialect(), scope);
    let a = b.alias();
    let mut stmt = Query::select();
    stmt.from_as(Alias::new(&model.table), Alias::new(&a));
    let sel = select_columns(rt, model, plan, &mut stmt, &a);
    stmt.and_where(condition(&mut b, &a));
    if let Some(rows) = b.row_cond(model, &a) {
        stmt.and_where(rows);
    }
    if let Some(n) = limit {
        stmt.limit(n);
    }
    let rows = rt.db.fetch(&stmt, &sel.types).await?;
    let mut nodes: Vec<Node> = rows
        .into_iter()
        .map(|r| to_node(model, &sel, &mut r.into_iter()))
        .collect();
    load_children(rt, scope, model, plan, &mut nodes).await?;
    Ok(nodes)
}

/// Rows of `model` whose `field` is one of `keys`, with their relations.
pub async fn fetch_where_in(
    rt: &Runtime,
    scope: &Scope,
    model: &ModelMeta,
    field: usize,
    keys: &[Value],
    plan: &NodePlan,
) -> Result<Vec<Node>, Error> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    // The key column is needed to attach the rows to their parents.
    let mut plan = plan.clone();
    plan.columns.insert(field);
    let f = &model.fields[field];
    let ty = rt.registry.value_type(f);
    fetch_nodes(rt, scope, model, &plan, None, |b, a| {
        b.keys_in(col(a, &f.column), keys, ty)
    })
    .await
}

/// Rows of `model` whose `fields` (a composite key) are one of `tuples`.
pub async fn fetch_where_tuples_in(
    rt: &Runtime,
    scope: &Scope,
    model: &ModelMeta,
    fields: &[usize],
    tuples: &[Vec<Value>],
    plan: &NodePlan,
) -> Result<Vec<Node>, Error> {
    if tuples.is_empty() {
        return Ok(Vec::new());
    }
    let mut plan = plan.clone();
    plan.columns.extend(fields.iter().copied());
    let types: Vec<_> = fields
        .iter()
        .map(|&f| rt.registry.value_type(&model.fields[f]))
        .collect();
    fetch_nodes(rt, scope, model, &plan, None, |b, a| {
        let exprs = fields
            .iter()
            .map(|&f| col(a, &model.fields[f].column))
            .collect();
        b.tuples_in(exprs, tuples, &types)
    })
    .await
}

/// One row by a unique field (`post(id:)`, `postBySlug(slug:)`).
pub async fn fetch_unique(
    rt: &Runtime,
    scope: &Scope,
    model: &ModelMeta,
    field: usize,
    value: Value,
    plan: &NodePlan,
) -> Result<Option<Node>, Error> {
    let f = &model.fields[field];
    let v = graphloom_db::bind(&value, rt.registry.value_type(f), rt.db.dialect());
    let mut nodes = fetch_nodes(rt, scope, model, plan, Some(1), |_, a| {
        col(a, &f.column).eq(Expr::val(v))
    })
    .await?;
    Ok(nodes.pop())
}

/// A node of an external entity: its key and nothing else.
pub fn stub(model: &ModelMeta, key: Value) -> Node {
    let mut values = vec![Value::Null; model.fields.len()];
    values[model.pk] = key;
    Node {
        model: model.id,
        values,
        children: HashMap::new(),
        scope: None,
        missing: None,
    }
}

fn distinct(values: impl Iterator<Item = Value>) -> Vec<Value> {
    let mut seen = HashSet::new();
    values
        .filter(|v| !v.is_null() && seen.insert(v.key_string()))
        .collect()
}

/// Loads every relation selected under `nodes`: one statement per edge (two when
/// a nested `totalCount` is selected), recursing level by level.
pub fn load_children<'a>(
    rt: &'a Runtime,
    scope: &'a Scope,
    model: &'a ModelMeta,
    plan: &'a NodePlan,
    nodes: &'a mut [Node],
) -> BoxFuture<'a, Result<(), Error>> {
    Box::pin(async move {
        if nodes.is_empty() {
            return Ok(());
        }
        for child in &plan.children {
            load_child(rt, scope, model, child, nodes).await?;
        }
        Ok(())
    })
}

async fn load_child(
    rt: &Runtime,
    scope: &Scope,
    model: &ModelMeta,
    child: &ChildPlan,
    nodes: &mut [Node],
) -> Result<(), Error> {
    let reg = &rt.registry;
    let rel = &model.relations[child.relation];
    let target = reg.model(child.target);
    match (&rel.kind, &child.fetch) {
        (RelationKind::ForwardOne { field }, ChildFetch::One(plan)) => {
            let provided = model.provided_through(reg, *field);
            if target.external && !provided.is_empty() {
                // Each parent's stub carries its own copies of the target's
                // fields (@provides), so stubs are not shared by key.
                let mut stubs: Vec<Node> = nodes
                    .iter()
                    .map(|n| {
                        let mut s = stub(target, n.values[*field].clone());
                        for (local, t) in &provided {
                            s.values[*t] = n.values[*local].clone();
                        }
                        s
                    })
                    .collect();
                load_children(rt, scope, target, plan, &mut stubs).await?;
                for (n, s) in nodes.iter_mut().zip(stubs) {
                    let found = (!n.values[*field].is_null()).then(|| Arc::new(s));
                    n.children.insert(child.key.clone(), Child::One(found));
                }
                return Ok(());
            }
            let keys = distinct(nodes.iter().map(|n| n.values[*field].clone()));
            let fetched = if target.external {
                // Another service's entity: a stub holding its key, no statement.
                let mut stubs: Vec<Node> = keys.into_iter().map(|key| stub(target, key)).collect();
                load_children(rt, scope, target, plan, &mut stubs).await?;
                stubs
            } else {
                fetch_where_in(rt, scope, target, target.pk, &keys, plan).await?
            };
            let by_key: HashMap<String, Arc<Node>> = fetched
                .into_iter()
                .map(|n| (n.pk(rt).key_string(), Arc::new(n)))
                .collect();
            for n in nodes.iter_mut() {
                let v = &n.values[*field];
                let found = if v.is_null() {
                    None
                } else {
                    by_key.get(&v.key_string()).cloned()
                };
                n.children.insert(child.key.clone(), Child::One(found));
            }
        }
        (RelationKind::ReverseOne { field }, ChildFetch::One(plan)) => {
            let keys = distinct(nodes.iter().map(|n| n.pk(rt).clone()));
            let fetched = fetch_where_in(rt, scope, target, *field, &keys, plan).await?;
            let by_key: HashMap<String, Arc<Node>> = fetched
                .into_iter()
                .map(|n| (n.values[*field].key_string(), Arc::new(n)))
                .collect();
            for n in nodes.iter_mut() {
                let found = by_key.get(&n.pk(rt).key_string()).cloned();
                n.children.insert(child.key.clone(), Child::One(found));
            }
        }
        (
            RelationKind::ReverseMany { .. } | RelationKind::ManyToMany { .. },
            ChildFetch::Many(list),
        ) => {
            let keys = distinct(nodes.iter().map(|n| n.pk(rt).clone()));
            let mut pages =
                fetch_many(rt, scope, model, child.relation, target, list, &keys).await?;
            for n in nodes.iter_mut() {
                let page = pages
                    .remove(&n.pk(rt).key_string())
                    .unwrap_or_else(|| Page {
                        model: target.id,
                        items: Vec::new(),
                        has_next: false,
                        has_prev: list.window.start > 0,
                        total: list.want_total.then_some(0),
                    });
                n.children
                    .insert(child.key.clone(), Child::Many(Arc::new(page)));
            }
        }
        // The planner pairs to-one relations with One and to-many with Many.
        (_, _) => {
            return Err(Error::internal(format!(
                "relation `{}` planned with the wrong arity",
                rel.name
            )));
        }
    }
    Ok(())
}

/// The statement's FROM, the parent-key expression and its type, for a to-many edge.
fn many_source(
    rt: &Runtime,
    parent: &ModelMeta,
    relation: usize,
    target: &ModelMeta,
    stmt: &mut SelectStatement,
    b: &mut Builder<'_>,
    a: &str,
) -> Expr {
    let rel = &parent.relations[relation];
    stmt.from_as(Alias::new(&target.table), Alias::new(a));
    match rel.kind {
        RelationKind::ReverseMany { field } | RelationKind::ReverseOne { field } => {
            col(a, &target.fields[field].column)
        }
        RelationKind::ManyToMany { join, forward } => {
            let j = rt.registry.join(join);
            let (mine, theirs) = if forward {
                (&j.owner_column, &j.target_column)
            } else {
                (&j.target_column, &j.owner_column)
            };
            let ja = b.alias();
            stmt.join_as(
                JoinType::InnerJoin,
                Alias::new(&j.table),
                Alias::new(&ja),
                col(&ja, theirs).equals((Alias::new(a), Alias::new(&target.pk_field().column))),
            );
            col(&ja, mine)
        }
        RelationKind::ForwardOne { field } => col(a, &parent.fields[field].column),
    }
}

/// One page per parent key, in one statement: ROW_NUMBER() partitioned by the
/// parent key does per-parent ordering and windows in SQL.
async fn fetch_many(
    rt: &Runtime,
    scope: &Scope,
    parent: &ModelMeta,
    relation: usize,
    target: &ModelMeta,
    list: &ListPlan,
    keys: &[Value],
) -> Result<HashMap<String, Page>, Error> {
    let mut pages = HashMap::new();
    if keys.is_empty() {
        return Ok(pages);
    }
    let key_ty = rt.registry.value_type(parent.pk_field());
    let dialect = rt.db.dialect();
    let mut b = Builder::new(&rt.registry, dialect, scope);
    let a = b.alias();
    let mut inner = Query::select();
    let parent_expr = many_source(rt, parent, relation, target, &mut inner, &mut b, &a);
    let sel = select_columns(rt, target, &list.node, &mut inner, &a);
    inner.expr_as(parent_expr.clone(), Alias::new("__p"));
    let order = b.order(&mut inner, target, &a, &list.order);
    let mut w = window_partitioned(parent_expr.clone());
    apply_window_order(&mut w, &order);
    inner.expr_window_as(Expr::cust("ROW_NUMBER()"), w, Alias::new("__rn"));
    if list.window.last.is_some() {
        inner.expr_window_as(
            Expr::cust("COUNT(*)"),
            window_partitioned(parent_expr.clone()),
            Alias::new("__cnt"),
        );
    }
    inner.and_where(b.keys_in(parent_expr.clone(), keys, key_ty));
    if let Some(f) = &list.filter {
        let c = b.cond(target, &a, f);
        inner.and_where(c);
    }
    if let Some(rows) = b.row_cond(target, &a) {
        inner.and_where(rows);
    }
    let mut outer = Query::select();
    outer.column(Asterisk).from_subquery(inner, Alias::new("s"));
    let rn = || Expr::col((Alias::new("s"), Alias::new("__rn")));
    let w = list.window;
    let signed = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    if w.start > 0 {
        outer.and_where(rn().gt(signed(w.start)));
    }
    if let Some(e) = w.end {
        outer.and_where(rn().lte(signed(e).saturating_add(1)));
    }
    if let Some(n) = w.last {
        outer.and_where(rn().gt(Expr::col((Alias::new("s"), Alias::new("__cnt"))).sub(signed(n))));
    }
    outer
        .order_by((Alias::new("s"), Alias::new("__p")), Order::Asc)
        .order_by((Alias::new("s"), Alias::new("__rn")), Order::Asc);
    let mut types = sel.types.clone();
    types.push(key_ty);
    types.push(ValueType::I64);
    if w.last.is_some() {
        types.push(ValueType::I64);
    }
    let rows = if w.end.is_some_and(|e| e <= w.start) && w.last.is_none() {
        Vec::new()
    } else {
        rt.db.fetch(&outer, &types).await?
    };
    let mut metas = Vec::with_capacity(rows.len());
    let mut nodes = Vec::with_capacity(rows.len());
    for row in rows {
        let mut it = row.into_iter();
        let node = to_node(target, &sel, &mut it);
        let parent_key = it.next().unwrap_or(Value::Null).key_string();
        let offset = match it.next() {
            Some(Value::I64(n)) => u64::try_from(n - 1).unwrap_or(0),
            _ => 0,
        };
        metas.push((parent_key, offset));
        nodes.push(node);
    }
    load_children(rt, scope, target, &list.node, &mut nodes).await?;
    let totals = if list.want_total {
        Some(count_many(rt, scope, parent, relation, target, list, keys).await?)
    } else {
        None
    };
    for ((parent_key, offset), node) in metas.into_iter().zip(nodes) {
        let page = pages.entry(parent_key.clone()).or_insert_with(|| Page {
            model: target.id,
            items: Vec::new(),
            has_next: false,
            has_prev: false,
            total: totals
                .as_ref()
                .map(|t: &HashMap<String, i64>| t.get(&parent_key).copied().unwrap_or(0)),
        });
        if w.end.is_some_and(|e| offset >= e) {
            page.has_next = true;
        } else {
            page.items.push((offset, Arc::new(node)));
        }
    }
    for page in pages.values_mut() {
        page.has_prev = page.items.first().map_or(w.start > 0, |(o, _)| *o > 0);
    }
    if let Some(totals) = totals {
        for key in keys {
            let k = key.key_string();
            pages.entry(k.clone()).or_insert_with(|| Page {
                model: target.id,
                items: Vec::new(),
                has_next: false,
                has_prev: w.start > 0,
                total: Some(totals.get(&k).copied().unwrap_or(0)),
            });
        }
    }
    Ok(pages)
}

fn window_partitioned(expr: Expr) -> WindowStatement {
    let mut w = WindowStatement::new();
    w.add_partition_by(expr);
    w
}

async fn count_many(
    rt: &Runtime,
    scope: &Scope,
    parent: &ModelMeta,
    relation: usize,
    target: &ModelMeta,
    list: &ListPlan,
    keys: &[Value],
) -> Result<HashMap<String, i64>, Error> {
    let key_ty = rt.registry.value_type(parent.pk_field());
    let mut b = Builder::new(&rt.registry, rt.db.dialect(), scope);
    let a = b.alias();
    let mut stmt = Query::select();
    let parent_expr = many_source(rt, parent, relation, target, &mut stmt, &mut b, &a);
    stmt.expr(parent_expr.clone()).expr(Expr::cust("COUNT(*)"));
    stmt.and_where(b.keys_in(parent_expr.clone(), keys, key_ty));
    if let Some(f) = &list.filter {
        let c = b.cond(target, &a, f);
        stmt.and_where(c);
    }
    if let Some(rows) = b.row_cond(target, &a) {
        stmt.and_where(rows);
    }
    stmt.add_group_by([parent_expr]);
    let rows = rt.db.fetch(&stmt, &[key_ty, ValueType::I64]).await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| match (r.first(), r.get(1)) {
            (Some(k), Some(Value::I64(n))) => Some((k.key_string(), *n)),
            _ => None,
        })
        .collect())
}

/// For tests and debugging: the SQL of a statement for the runtime's dialect.
pub fn render(rt: &Runtime, stmt: &impl Statement) -> String {
    stmt.build(rt.db.dialect()).0
}
