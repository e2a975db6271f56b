//! Runs plans: one statement for a root list (plus one for a count when needed)
//! and one per relation edge, whatever the number of rows. Rows become [`Node`]s
//! that surfaces read from memory.

use std::{
    collections::{BTreeSet, HashMap, HashSet},
    sync::Arc,
};

use futures_util::future::BoxFuture;
use graphloom_db::Exec;
use graphloom_meta::{Key, ModelId, ModelMeta, Registry, RelationKind, Value, ValueType};
use sea_query::{
    Alias, Asterisk, Expr, ExprTrait, JoinType, Order, OverStatement, Query, SelectStatement,
    WindowStatement,
};

use crate::{
    Engine, Error, Result,
    filter::Filter,
    plan::{ChildFetch, ChildPlan, ListPlan, NodePlan},
    scope::Scope,
    sql::{Builder, apply_order, apply_window_order, col, key_expr, key_in, reversed},
};

/// One fetched row with the relations selected under it.
#[derive(Debug, Clone)]
pub struct Node {
    pub model: ModelId,
    /// By field index; `Null` for columns that were not selected.
    pub values: Vec<Value>,
    /// The relations, by the key the plan gave each edge.
    pub children: Children,
    /// Read this row's fields as this scope allows rather than the request's
    /// (the user of a login payload is read as that user).
    pub scope: Option<Arc<Scope>>,
    /// A row that was asked for and not found: a surface reports this
    /// message for it instead of its fields.
    pub missing: Option<String>,
}

/// A node's relations by the key the plan gave each edge. A node has a
/// handful, so a vector searched in order beats hashing the key, and the
/// keys are the plan's own (`Arc<str>`), shared by every node.
#[derive(Debug, Clone, Default)]
pub struct Children(Vec<(Arc<str>, Child)>);

impl Children {
    pub fn new() -> Self {
        Children(Vec::new())
    }

    pub fn get(&self, key: &str) -> Option<&Child> {
        self.0.iter().find(|(k, _)| **k == *key).map(|(_, c)| c)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Sets the edge `key`, replacing what it held.
    pub fn insert(&mut self, key: Arc<str>, child: Child) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some((_, c)) => *c = child,
            None => self.0.push((key, child)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Child)> {
        self.0.iter().map(|(k, c)| (&**k, c))
    }
}

/// The rows of one relation edge under a node.
#[derive(Debug, Clone)]
pub enum Child {
    One(Option<Arc<Node>>),
    Many(Arc<Page>),
}

/// One page of a list.
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
    /// The row's key: its primary key's value, or a composite key's values
    /// as a [`Value::Tuple`].
    pub fn pk(&self, reg: &Registry) -> Value {
        reg.model(self.model).key_of(&self.values)
    }

    /// A row asked for and not found (see [`Node::missing`]).
    pub fn missing(model: &ModelMeta, message: String) -> Node {
        Node {
            model: model.id,
            values: Value::nulls(model.fields.len()),
            children: Children::new(),
            scope: None,
            missing: Some(message),
        }
    }
}

/// The columns a statement reads for one node plan, in order: the model's
/// own, then those of each to-one leaf joined into the same statement.
struct Selected {
    fields: Vec<usize>,
    types: Vec<ValueType>,
    joined: Vec<Joined>,
}

/// A to-one relation read by the parent's statement (`LEFT JOIN`) instead
/// of one of its own: a forward foreign key to a local model whose plan
/// goes no deeper. Saves a round trip per edge (a post and its author in
/// one statement); a row the principal cannot see joins as NULL.
struct Joined {
    key: Arc<str>,
    target: ModelId,
    width: usize,
    pk: usize,
    fields: Vec<usize>,
    relation: usize,
}

fn selected(reg: &Registry, model: &ModelMeta, plan: &NodePlan) -> Selected {
    // Another service's entity has only its key and the fields stored here
    // as columns; the rest come from representations and stubs.
    let fields: Vec<usize> = plan
        .columns
        .iter()
        .copied()
        .filter(|&i| model.stores_here(i))
        .collect();
    let mut types: Vec<ValueType> = fields
        .iter()
        .map(|i| reg.value_type(&model.fields[*i]))
        .collect();
    let mut joined = Vec::new();
    for child in &plan.children {
        let rel = &model.relations[child.relation];
        let target = reg.model(rel.target);
        let (RelationKind::ForwardOne { .. }, ChildFetch::One(node)) = (&rel.kind, &child.fetch)
        else {
            continue;
        };
        if target.external || rel.join.via.is_some() || !node.children.is_empty() {
            continue;
        }
        let fields: Vec<usize> = node.columns.iter().copied().collect();
        types.extend(fields.iter().map(|i| reg.value_type(&target.fields[*i])));
        joined.push(Joined {
            key: child.key.clone(),
            target: target.id,
            width: target.fields.len(),
            pk: target.ref_pk(),
            fields,
            relation: child.relation,
        });
    }
    Selected {
        fields,
        types,
        joined,
    }
}

fn select_columns(
    b: &mut Builder<'_>,
    model: &ModelMeta,
    plan: &NodePlan,
    stmt: &mut SelectStatement,
    alias: &str,
) -> Selected {
    let reg = b.reg;
    let sel = selected(reg, model, plan);
    for i in &sel.fields {
        stmt.expr(col(alias, &model.fields[*i].column));
    }
    for j in &sel.joined {
        let target = reg.model(j.target);
        let ja = b.join_one(stmt, model, alias, j.relation);
        for i in &j.fields {
            stmt.expr(col(&ja, &target.fields[*i].column));
        }
    }
    sel
}

fn to_node(model: &ModelMeta, sel: &Selected, row: &mut std::vec::IntoIter<Value>) -> Node {
    let mut values = Value::nulls(model.fields.len());
    for i in &sel.fields {
        values[*i] = row.next().unwrap_or(Value::Null);
    }
    let mut children = Children::new();
    for j in &sel.joined {
        let mut values = Value::nulls(j.width);
        for i in &j.fields {
            values[*i] = row.next().unwrap_or(Value::Null);
        }
        let child = (!values[j.pk].is_null()).then(|| {
            Arc::new(Node {
                model: j.target,
                values,
                children: Children::new(),
                scope: None,
                missing: None,
            })
        });
        children.insert(j.key.clone(), Child::One(child));
    }
    Node {
        model: model.id,
        values,
        children,
        scope: None,
        missing: None,
    }
}

/// The number of visible rows of `model` matching `filter`.
pub async fn count(
    engine: &Engine,
    conn: &mut Exec<'_, '_>,
    scope: &Scope,
    model: &ModelMeta,
    filter: Option<&Filter>,
) -> Result<i64> {
    let reg = engine.registry();
    let mut b = Builder::new(reg, conn.dialect(), scope);
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
    let rows = conn.fetch(&stmt, &[ValueType::I64]).await?;
    Ok(match rows.first().and_then(|r| r.first()) {
        Some(Value::I64(n)) => *n,
        _ => 0,
    })
}

/// A root list: `posts(where:, orderBy:, first:, …)`.
pub async fn fetch_list(
    engine: &Engine,
    conn: &mut Exec<'_, '_>,
    scope: &Scope,
    model: &ModelMeta,
    plan: &ListPlan,
) -> Result<Page> {
    let reg = engine.registry();
    let total = if plan.want_total || plan.window.last.is_some() {
        Some(count(engine, conn, scope, model, plan.filter.as_ref()).await?)
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
    let mut b = Builder::new(reg, conn.dialect(), scope);
    let a = b.alias();
    let mut stmt = Query::select();
    stmt.from_as(Alias::new(&model.table), Alias::new(&a));
    let sel = select_columns(&mut b, model, &plan.node, &mut stmt, &a);
    if let Some(f) = &plan.filter {
        let c = b.cond(model, &a, f);
        stmt.and_where(c);
    }
    if let Some(rows) = b.row_cond(model, &a) {
        stmt.and_where(rows);
    }
    let order = b.order(&mut stmt, model, &a, &plan.order);
    let wanted = end.map(|e| e.saturating_sub(start));
    // A page nearer the end than the start (`last`) is read backwards from
    // the end, so that the rows skipped are the fewer: `last: 10` of a
    // long list reads ten rows, where an OFFSET would read all the others.
    let from_end = match (plan.window.last, total, end) {
        (Some(_), Some(total), Some(e)) => {
            let total = u64::try_from(total).unwrap_or(0);
            let skipped = total.saturating_sub(e);
            (skipped < start)
                .then(|| reversed(&order))
                .flatten()
                .map(|order| (order, skipped))
        }
        _ => None,
    };
    // Both dialects take LIMIT and OFFSET as signed 64-bit integers.
    let cap = |v: u64| Ord::min(v, i64::MAX as u64);
    let skip = match &from_end {
        Some((order, skipped)) => {
            apply_order(&mut stmt, order);
            *skipped
        }
        None => {
            apply_order(&mut stmt, &order);
            start
        }
    };
    if let Some(w) = wanted {
        stmt.limit(cap(w.saturating_add(u64::from(extra_row))));
    }
    if skip > 0 {
        stmt.offset(cap(skip));
    }
    let rows = if !plan.want_rows || (wanted == Some(0) && !extra_row) {
        Vec::new()
    } else {
        conn.fetch(&stmt, &sel.types).await?
    };
    let mut nodes: Vec<Node> = rows
        .into_iter()
        .map(|r| to_node(model, &sel, &mut r.into_iter()))
        .collect();
    if from_end.is_some() {
        nodes.reverse();
    }
    let has_next = match wanted {
        Some(w) if nodes.len() as u64 > w => {
            nodes.truncate(usize::try_from(w).unwrap_or(usize::MAX));
            true
        }
        _ => false,
    };
    load_children(engine, conn, scope, model, &plan.node, &mut nodes).await?;
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
    engine: &Engine,
    conn: &mut Exec<'_, '_>,
    scope: &Scope,
    model: &ModelMeta,
    plan: &NodePlan,
    limit: Option<u64>,
    condition: impl FnOnce(&mut Builder<'_>, &str) -> Expr,
) -> Result<Vec<Node>> {
    let reg = engine.registry();
    let mut b = Builder::new(reg, conn.dialect(), scope);
    let a = b.alias();
    let mut stmt = Query::select();
    stmt.from_as(Alias::new(&model.table), Alias::new(&a));
    let sel = select_columns(&mut b, model, plan, &mut stmt, &a);
    stmt.and_where(condition(&mut b, &a));
    if let Some(rows) = b.row_cond(model, &a) {
        stmt.and_where(rows);
    }
    if let Some(n) = limit {
        stmt.limit(n);
    }
    let rows = conn.fetch(&stmt, &sel.types).await?;
    let mut nodes: Vec<Node> = rows
        .into_iter()
        .map(|r| to_node(model, &sel, &mut r.into_iter()))
        .collect();
    load_children(engine, conn, scope, model, plan, &mut nodes).await?;
    Ok(nodes)
}

/// Rows of `model` whose `field` is one of `keys`, with their relations.
pub async fn fetch_where_in(
    engine: &Engine,
    conn: &mut Exec<'_, '_>,
    scope: &Scope,
    model: &ModelMeta,
    field: usize,
    keys: &[Value],
    plan: &NodePlan,
) -> Result<Vec<Node>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    // The key column is needed to attach the rows to their parents.
    let mut plan = plan.clone();
    plan.columns.insert(field);
    let f = &model.fields[field];
    let ty = engine.registry().value_type(f);
    fetch_nodes(engine, conn, scope, model, &plan, None, |b, a| {
        b.keys_in(col(a, &f.column), keys, ty)
    })
    .await
}

/// Rows of `model` whose primary key is one of `keys` and that match
/// `filter` (a subscription's `where`), read under the scope's rules, with
/// their relations: one statement per relation edge, however many keys.
pub async fn fetch_keys_matching(
    engine: &Engine,
    conn: &mut Exec<'_, '_>,
    scope: &Scope,
    model: &ModelMeta,
    keys: &[Value],
    filter: Option<&Filter>,
    plan: &NodePlan,
) -> Result<Vec<Node>> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    // The key's columns are read: callers match rows to their keys.
    let plan = if model.pk.iter().all(|i| plan.columns.contains(i)) {
        std::borrow::Cow::Borrowed(plan)
    } else {
        let mut plan = plan.clone();
        plan.columns.extend(model.pk.iter().copied());
        std::borrow::Cow::Owned(plan)
    };
    fetch_nodes(engine, conn, scope, model, &plan, None, |b, a| {
        let by_key = key_in(b.reg, b.dialect, model, |c| col(a, c), keys);
        match filter {
            Some(f) => by_key.and(b.cond(model, a, f)),
            None => by_key,
        }
    })
    .await
}

/// Rows of `model` whose `fields` (a composite key) are one of `tuples`.
pub async fn fetch_where_tuples_in(
    engine: &Engine,
    conn: &mut Exec<'_, '_>,
    scope: &Scope,
    model: &ModelMeta,
    fields: &[usize],
    tuples: &[Vec<Value>],
    plan: &NodePlan,
) -> Result<Vec<Node>> {
    if tuples.is_empty() {
        return Ok(Vec::new());
    }
    let mut plan = plan.clone();
    plan.columns.extend(fields.iter().copied());
    let types: Vec<_> = fields
        .iter()
        .map(|&f| engine.registry().value_type(&model.fields[f]))
        .collect();
    fetch_nodes(engine, conn, scope, model, &plan, None, |b, a| {
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
    engine: &Engine,
    conn: &mut Exec<'_, '_>,
    scope: &Scope,
    model: &ModelMeta,
    field: usize,
    value: Value,
    plan: &NodePlan,
) -> Result<Option<Node>> {
    let f = &model.fields[field];
    let v = graphloom_db::bind(&value, engine.registry().value_type(f), conn.dialect());
    let mut nodes = fetch_nodes(engine, conn, scope, model, plan, Some(1), |_, a| {
        col(a, &f.column).eq(Expr::val(v))
    })
    .await?;
    Ok(nodes.pop())
}

/// Whether any visible row of `model` matches `filter`: `SELECT 1 … LIMIT 1`.
pub async fn exists(
    engine: &Engine,
    conn: &mut Exec<'_, '_>,
    scope: &Scope,
    model: &ModelMeta,
    filter: Option<&Filter>,
) -> Result<bool> {
    let mut b = Builder::new(engine.registry(), conn.dialect(), scope);
    let a = b.alias();
    let mut stmt = Query::select();
    stmt.expr(Expr::cust("1"))
        .from_as(Alias::new(&model.table), Alias::new(&a));
    if let Some(f) = filter {
        let c = b.cond(model, &a, f);
        stmt.and_where(c);
    }
    if let Some(rows) = b.row_cond(model, &a) {
        stmt.and_where(rows);
    }
    stmt.limit(1);
    Ok(!conn.fetch(&stmt, &[ValueType::I32]).await?.is_empty())
}

/// A node of an external entity: its key and nothing else.
pub fn stub(model: &ModelMeta, key: Value) -> Node {
    let mut values = Value::nulls(model.fields.len());
    for (&i, v) in model.pk.iter().zip(key.parts()) {
        values[i] = v.clone();
    }
    Node {
        model: model.id,
        values,
        children: Children::new(),
        scope: None,
        missing: None,
    }
}

fn distinct(values: impl Iterator<Item = Value>) -> Vec<Value> {
    let mut seen = HashSet::new();
    values
        .filter(|v| !v.is_null() && seen.insert(v.key()))
        .collect()
}

/// Loads every relation selected under `nodes`: one statement per edge (two when
/// a nested total is selected), recursing level by level.
pub fn load_children<'a>(
    engine: &'a Engine,
    conn: &'a mut Exec<'_, '_>,
    scope: &'a Scope,
    model: &'a ModelMeta,
    plan: &'a NodePlan,
    nodes: &'a mut [Node],
) -> BoxFuture<'a, Result<()>> {
    Box::pin(async move {
        if nodes.is_empty() {
            return Ok(());
        }
        for child in &plan.children {
            // Joined into the nodes' own statement (see `Joined`): there already.
            if nodes[0].children.contains_key(&child.key) {
                continue;
            }
            load_child(engine, conn, scope, model, child, nodes).await?;
        }
        Ok(())
    })
}

/// Stubs of another service's entities (their keys, and what a
/// representation or `@provides` carried) completed for `plan`: the fields
/// this service stores on them, then their relations here.
pub async fn load_stubs(
    engine: &Engine,
    conn: &mut Exec<'_, '_>,
    scope: &Scope,
    model: &ModelMeta,
    plan: &NodePlan,
    stubs: &mut [Node],
) -> Result<()> {
    load_stored(engine, conn, scope, model, plan, stubs).await?;
    load_children(engine, conn, scope, model, plan, stubs).await
}

/// The fields this service stores on other services' entities, for the
/// stubs of those entities the plan selects them on: one statement by key.
/// An entity stored nothing for reads each field's default (or null).
async fn load_stored(
    engine: &Engine,
    conn: &mut Exec<'_, '_>,
    scope: &Scope,
    model: &ModelMeta,
    plan: &NodePlan,
    nodes: &mut [Node],
) -> Result<()> {
    if !model.external || nodes.is_empty() {
        return Ok(());
    }
    // Another service's entity: keyed by one field.
    let pk = model.ref_pk();
    let columns: BTreeSet<usize> = plan
        .columns
        .iter()
        .copied()
        .filter(|&i| i != pk && model.stores_here(i))
        .collect();
    if columns.is_empty() {
        return Ok(());
    }
    let stored = NodePlan {
        columns: columns.iter().copied().chain([pk]).collect(),
        children: Vec::new(),
    };
    let keys = distinct(nodes.iter().map(|n| n.values[pk].clone()));
    let rows = fetch_where_in(engine, conn, scope, model, pk, &keys, &stored).await?;
    let by_key: HashMap<Key, Node> = rows.into_iter().map(|n| (n.values[pk].key(), n)).collect();
    for n in nodes.iter_mut() {
        let row = by_key.get(&n.values[pk].key());
        for &i in &columns {
            n.values[i] = match row {
                Some(r) => r.values[i].clone(),
                None => model.fields[i].default.clone().unwrap_or(Value::Null),
            };
        }
    }
    Ok(())
}

async fn load_child(
    engine: &Engine,
    conn: &mut Exec<'_, '_>,
    scope: &Scope,
    model: &ModelMeta,
    child: &ChildPlan,
    nodes: &mut [Node],
) -> Result<()> {
    let reg = engine.registry();
    let rel = &model.relations[child.relation];
    let join = &rel.join;
    let target = reg.model(child.target);
    match (&rel.kind, &child.fetch) {
        (RelationKind::ForwardOne { field }, ChildFetch::One(plan)) if target.external => {
            // Another service's entity: a stub holding its key, no statement.
            let provided = model.provided_through(reg, *field);
            if !provided.is_empty() {
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
                load_stubs(engine, conn, scope, target, plan, &mut stubs).await?;
                for (n, s) in nodes.iter_mut().zip(stubs) {
                    let found = (!n.values[*field].is_null()).then(|| Arc::new(s));
                    n.children.insert(child.key.clone(), Child::One(found));
                }
                return Ok(());
            }
            let keys = distinct(nodes.iter().map(|n| n.values[*field].clone()));
            let mut stubs: Vec<Node> = keys.into_iter().map(|key| stub(target, key)).collect();
            load_stubs(engine, conn, scope, target, plan, &mut stubs).await?;
            attach_one(nodes, &child.key, join.source, join.target, stubs);
        }
        (
            RelationKind::ForwardOne { .. } | RelationKind::ReverseOne { .. },
            ChildFetch::One(plan),
        ) => {
            let keys = distinct(nodes.iter().map(|n| n.values[join.source].clone()));
            let fetched =
                fetch_where_in(engine, conn, scope, target, join.target, &keys, plan).await?;
            attach_one(nodes, &child.key, join.source, join.target, fetched);
        }
        (
            RelationKind::ReverseMany { .. } | RelationKind::ManyToMany { .. },
            ChildFetch::Many(list),
        ) => {
            let keys = distinct(nodes.iter().map(|n| n.values[join.source].clone()));
            let mut pages =
                fetch_many(engine, conn, scope, (model, child.relation), list, &keys).await?;
            for n in nodes.iter_mut() {
                let page = pages
                    .remove(&n.values[join.source].key())
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
        // Plans pair to-one relations with One and to-many with Many.
        (_, _) => {
            return Err(Error::internal(format!(
                "relation `{}` planned with the wrong arity",
                rel.name
            )));
        }
    }
    Ok(())
}

/// Attaches each fetched row to the parents whose `source` value equals its
/// `target` value.
fn attach_one(
    nodes: &mut [Node],
    key: &Arc<str>,
    source: usize,
    target: usize,
    fetched: Vec<Node>,
) {
    let by_key: HashMap<Key, Arc<Node>> = fetched
        .into_iter()
        .map(|n| (n.values[target].key(), Arc::new(n)))
        .collect();
    for n in nodes.iter_mut() {
        let v = &n.values[source];
        let found = if v.is_null() {
            None
        } else {
            by_key.get(&v.key()).cloned()
        };
        n.children.insert(key.clone(), Child::One(found));
    }
}

/// One page per parent key, in one statement: a LIMIT per parent from the
/// start or from the end where the window allows, else every row of these
/// parents ranked per parent (ROW_NUMBER() partitioned by the parent key).
async fn fetch_many(
    engine: &Engine,
    conn: &mut Exec<'_, '_>,
    scope: &Scope,
    (parent, relation): (&ModelMeta, usize),
    list: &ListPlan,
    keys: &[Value],
) -> Result<HashMap<Key, Page>> {
    let mut pages = HashMap::new();
    if keys.is_empty() {
        return Ok(pages);
    }
    let reg = engine.registry();
    let target = reg.model(parent.relations[relation].target);
    let join = &parent.relations[relation].join;
    let key_ty = reg.value_type(&parent.fields[join.source]);
    let w = list.window;
    let implied = rows_implied(scope, parent, relation, target);
    let signed = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    let dialect = conn.dialect();
    let mut b = Builder::new(reg, dialect, scope);
    let mut outer = Query::select();
    outer.column(Asterisk);
    // A first page (or one after a cursor) reads at most `end + 1` rows per
    // parent through a per-parent LIMIT, which walks an index on the parent
    // key: its cost follows the page, not the parent's children. A last
    // page (`last` without `before`) reads its `n` rows the same way from
    // the end (the order reversed), beside each parent's count, which
    // gives their offsets: `__rn` is then the position from the end.
    let limited = match (w.end, w.last) {
        (Some(end), None) => Some((false, signed(end).saturating_add(1))),
        (None, Some(n)) => Some((true, signed(n))),
        _ => None,
    };
    let from_end = matches!(limited, Some((true, _)));
    let sel = match limited {
        Some((backwards, limit)) => {
            let ka = b.alias();
            let (keys_from, key) = dialect.keys_table(keys, key_ty, &ka);
            // Each parent's count, joined on its key.
            let counts = backwards.then(|| {
                let counts = count_statement(&mut b, target, join, keys, key_ty, (list, implied));
                let on = Expr::col((Alias::new("c"), Alias::new("__cp"))).eq(key.clone());
                (counts, on)
            });
            if dialect.lateral() {
                // keys CROSS JOIN LATERAL (the parent's rows, ordered, LIMIT).
                let a = b.alias();
                let mut inner = Query::select();
                let parent_expr = b.from_target(&mut inner, target, join, &a);
                let (sel, order) = page_columns(
                    &mut b,
                    &mut inner,
                    (target, &a),
                    list,
                    parent_expr.clone(),
                    None,
                    backwards,
                )?;
                inner.and_where(parent_expr.eq(key));
                list_where(&mut b, &mut inner, target, &a, (list, implied));
                apply_order(&mut inner, &order);
                inner.limit(u64::try_from(limit).unwrap_or(u64::MAX));
                let mut from = Query::select();
                from.column((Alias::new("p"), Asterisk))
                    .from_function(keys_from, Alias::new(&ka))
                    .join_lateral(
                        JoinType::InnerJoin,
                        inner,
                        Alias::new("p"),
                        Expr::cust("TRUE"),
                    );
                if let Some(counts) = counts {
                    join_counts(&mut from, counts);
                }
                outer.from_subquery(from, Alias::new("s"));
                sel
            } else {
                // keys, rows WHERE parent = key AND pk IN (the parent's pks,
                // ordered, LIMIT), then ranked per parent like the
                // unlimited form. The equality lets SQLite search the
                // foreign key's index (or the join table's) by both columns
                // whatever its statistics say, instead of scanning a small
                // table and re-running the subquery per row.
                let la = b.alias();
                let mut limited = Query::select();
                let parent_expr = b.from_target(&mut limited, target, join, &la);
                for &i in &target.pk {
                    limited.expr(col(&la, &target.fields[i].column));
                }
                limited.and_where(parent_expr.eq(key.clone()));
                list_where(&mut b, &mut limited, target, &la, (list, implied));
                let order = directed(b.order(&mut limited, target, &la, &list.order), backwards)?;
                apply_order(&mut limited, &order);
                limited.limit(u64::try_from(limit).unwrap_or(u64::MAX));
                let a = b.alias();
                let mut inner = Query::select();
                inner.from_function(keys_from, Alias::new(&ka));
                let parent_expr = b.from_target(&mut inner, target, join, &a);
                inner.and_where(parent_expr.eq(key.clone()));
                inner.and_where(key_expr(target, |c| col(&a, c)).in_subquery(limited));
                let (sel, _) = page_columns(
                    &mut b,
                    &mut inner,
                    (target, &a),
                    list,
                    key.clone(),
                    Some(key),
                    backwards,
                )?;
                if let Some(counts) = counts {
                    join_counts(&mut inner, counts);
                }
                outer.from_subquery(inner, Alias::new("s"));
                sel
            }
        }
        // The last rows before a cursor (`last` with `before`), and lists
        // with no bound: every row of these parents is ranked in one
        // statement.
        None => {
            let a = b.alias();
            let mut inner = Query::select();
            let parent_expr = b.from_target(&mut inner, target, join, &a);
            let (sel, _) = page_columns(
                &mut b,
                &mut inner,
                (target, &a),
                list,
                parent_expr.clone(),
                Some(parent_expr.clone()),
                false,
            )?;
            if w.last.is_some() {
                inner.expr_window_as(
                    Expr::cust("COUNT(*)"),
                    window_partitioned(parent_expr.clone()),
                    Alias::new("__cnt"),
                );
            }
            many_where(
                &mut b,
                &mut inner,
                target,
                &a,
                parent_expr,
                keys,
                key_ty,
                (list, implied),
            );
            outer.from_subquery(inner, Alias::new("s"));
            sel
        }
    };
    let rn = || Expr::col((Alias::new("s"), Alias::new("__rn")));
    let cnt = || Expr::col((Alias::new("s"), Alias::new("__cnt")));
    if from_end {
        // The row `__rn`-th from the end is at offset `__cnt - __rn`.
        if w.start > 0 {
            outer.and_where(cnt().sub(rn()).gte(signed(w.start)));
        }
    } else {
        if w.start > 0 {
            outer.and_where(rn().gt(signed(w.start)));
        }
        if let Some(e) = w.end {
            outer.and_where(rn().lte(signed(e).saturating_add(1)));
        }
        if let Some(n) = w.last {
            outer.and_where(rn().gt(cnt().sub(signed(n))));
        }
    }
    outer
        .order_by((Alias::new("s"), Alias::new("__p")), Order::Asc)
        .order_by(
            (Alias::new("s"), Alias::new("__rn")),
            if from_end { Order::Desc } else { Order::Asc },
        );
    let mut types = sel.types.clone();
    types.push(key_ty);
    types.push(ValueType::I64);
    if w.last.is_some() {
        types.push(ValueType::I64);
    }
    let rows = if !list.want_rows || (w.end.is_some_and(|e| e <= w.start) && w.last.is_none()) {
        Vec::new()
    } else {
        conn.fetch(&outer, &types).await?
    };
    let mut metas = Vec::with_capacity(rows.len());
    let mut nodes = Vec::with_capacity(rows.len());
    for row in rows {
        let mut it = row.into_iter();
        let node = to_node(target, &sel, &mut it);
        let parent_key = it.next().unwrap_or(Value::Null).key();
        let offset = match (it.next(), from_end.then(|| it.next()).flatten()) {
            (Some(Value::I64(rn)), Some(Value::I64(cnt))) => u64::try_from(cnt - rn).unwrap_or(0),
            (Some(Value::I64(n)), _) => u64::try_from(n - 1).unwrap_or(0),
            _ => 0,
        };
        metas.push((parent_key, offset));
        nodes.push(node);
    }
    load_children(engine, conn, scope, target, &list.node, &mut nodes).await?;
    let totals = if list.want_total {
        Some(count_many(engine, conn, scope, (parent, relation), list, keys).await?)
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
                .map(|t: &HashMap<Key, i64>| t.get(&parent_key).copied().unwrap_or(0)),
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
            let k = key.key();
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

/// The WHERE of a to-many statement: the rows of these parents (their keys
/// bound as one parameter), the list's filter, the visible rows.
#[allow(clippy::too_many_arguments)]
fn many_where(
    b: &mut Builder<'_>,
    stmt: &mut SelectStatement,
    target: &ModelMeta,
    alias: &str,
    parent: Expr,
    keys: &[Value],
    key_ty: ValueType,
    list: (&ListPlan, bool),
) {
    stmt.and_where(b.keys_in(parent, keys, key_ty));
    list_where(b, stmt, target, alias, list);
}

/// The list's filter and the visible rows (unless `implied`: see
/// [`rows_implied`]).
fn list_where(
    b: &mut Builder<'_>,
    stmt: &mut SelectStatement,
    target: &ModelMeta,
    alias: &str,
    (list, implied): (&ListPlan, bool),
) {
    if let Some(f) = &list.filter {
        let c = b.cond(target, alias, f);
        stmt.and_where(c);
    }
    if implied {
        return;
    }
    if let Some(rows) = b.row_cond(target, alias) {
        stmt.and_where(rows);
    }
}

/// Whether every row reached from visible `parent` rows through `relation`
/// is visible: the target's row rule is `Visible` of exactly the relation
/// back to the parent (a comment is visible when its post is), and the
/// parents were read under the same scope, so `post_id IN (their keys)`
/// already says it. The rule is then not repeated per row.
fn rows_implied(scope: &Scope, parent: &ModelMeta, relation: usize, target: &ModelMeta) -> bool {
    let rel = &parent.relations[relation];
    if rel.join.via.is_some() {
        return false;
    }
    match scope.rows(target.id) {
        Some(Filter::One {
            relation: back,
            filter,
        }) => {
            let back = &target.relations[*back];
            back.target == parent.id
                && back.join.via.is_none()
                && back.join.source == rel.join.target
                && back.join.target == rel.join.source
                && scope.rows(parent.id) == Some(filter.as_ref())
        }
        _ => false,
    }
}

/// A page statement's columns: the nodes', the parent key as `__p`, and each
/// row's 1-based position in the list's order as `__rn` (among the rows of
/// its `partition`, or of the statement). Returns the nodes' columns and
/// the order.
#[allow(clippy::too_many_arguments)]
fn page_columns(
    b: &mut Builder<'_>,
    stmt: &mut SelectStatement,
    (target, alias): (&ModelMeta, &str),
    list: &ListPlan,
    parent: Expr,
    partition: Option<Expr>,
    backwards: bool,
) -> Result<(Selected, Vec<crate::sql::OrderExpr>)> {
    let sel = select_columns(b, target, &list.node, stmt, alias);
    stmt.expr_as(parent, Alias::new("__p"));
    let order = directed(b.order(stmt, target, alias, &list.order), backwards)?;
    let mut win = partition.map_or_else(WindowStatement::new, window_partitioned);
    apply_window_order(&mut win, &order);
    stmt.expr_window_as(Expr::cust("ROW_NUMBER()"), win, Alias::new("__rn"));
    Ok((sel, order))
}

/// `order`, or `order` reversed when `backwards`. [`Builder::order`] gives
/// ASC and DESC terms only, which reverse.
fn directed(
    order: Vec<crate::sql::OrderExpr>,
    backwards: bool,
) -> Result<Vec<crate::sql::OrderExpr>> {
    if !backwards {
        return Ok(order);
    }
    reversed(&order).ok_or_else(|| Error::internal("a list order with no reverse"))
}

/// Joins each parent's count ([`count_statement`], on the parent's key) to
/// a page statement, as its last column `__cnt`.
fn join_counts(stmt: &mut SelectStatement, (counts, on): (SelectStatement, Expr)) {
    stmt.join_subquery(JoinType::InnerJoin, counts, Alias::new("c"), on)
        .expr_as(
            Expr::col((Alias::new("c"), Alias::new("__n"))),
            Alias::new("__cnt"),
        );
}

fn window_partitioned(expr: Expr) -> WindowStatement {
    let mut w = WindowStatement::new();
    w.add_partition_by(expr);
    w
}

/// Each parent's count of the list's rows: `__cp` (the parent's key) and
/// `__n`, for the parents of `keys` that have any.
fn count_statement(
    b: &mut Builder<'_>,
    target: &ModelMeta,
    join: &graphloom_meta::JoinPath,
    keys: &[Value],
    key_ty: ValueType,
    list: (&ListPlan, bool),
) -> SelectStatement {
    let a = b.alias();
    let mut stmt = Query::select();
    let parent_expr = b.from_target(&mut stmt, target, join, &a);
    stmt.expr_as(parent_expr.clone(), Alias::new("__cp"))
        .expr_as(Expr::cust("COUNT(*)"), Alias::new("__n"));
    many_where(
        b,
        &mut stmt,
        target,
        &a,
        parent_expr.clone(),
        keys,
        key_ty,
        list,
    );
    stmt.add_group_by([parent_expr]);
    stmt
}

async fn count_many(
    engine: &Engine,
    conn: &mut Exec<'_, '_>,
    scope: &Scope,
    (parent, relation): (&ModelMeta, usize),
    list: &ListPlan,
    keys: &[Value],
) -> Result<HashMap<Key, i64>> {
    let reg = engine.registry();
    let target = reg.model(parent.relations[relation].target);
    let join = &parent.relations[relation].join;
    let key_ty = reg.value_type(&parent.fields[join.source]);
    let mut b = Builder::new(reg, conn.dialect(), scope);
    let implied = rows_implied(scope, parent, relation, target);
    let stmt = count_statement(&mut b, target, join, keys, key_ty, (list, implied));
    let rows = conn.fetch(&stmt, &[key_ty, ValueType::I64]).await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| match (r.first(), r.get(1)) {
            (Some(k), Some(Value::I64(n))) => Some((k.key(), *n)),
            _ => None,
        })
        .collect())
}
