//! Plan parts rendered as SQL data (sea-query): filters, ordering with joins
//! across to-one relations, and relation joins, all from the registry's
//! [`JoinPath`]s. Key lists are bound by the dialect ([`graphloom_db::Dialect`]).

use graphloom_db::{Dialect, bind};
use graphloom_meta::{
    FieldKind, JoinPath, ModelId, ModelMeta, Op, Quantifier, Registry, Value, ValueType,
};
use sea_query::{
    Alias, Expr, ExprTrait, Func, JoinType, LikeExpr, NullOrdering, Order, Query, SelectStatement,
};

use crate::{
    filter::{Filter, FilterValue, OrderTerm},
    scope::Scope,
};

/// Builds SQL for one statement; hands out table aliases `t0`, `t1`, …
#[derive(Debug)]
pub struct Builder<'a> {
    pub reg: &'a Registry,
    pub dialect: Dialect,
    /// Whose rows: every relation subquery and join keeps to the visible rows.
    pub scope: &'a Scope,
    next: usize,
}

pub fn col(alias: &str, column: &str) -> Expr {
    Expr::col((Alias::new(alias), Alias::new(column)))
}

/// A model's primary key over its columns (`column` names one): the key
/// field's column, or a composite key's as a row value `(a, b)`.
pub fn key_expr(model: &ModelMeta, column: impl Fn(&str) -> Expr) -> Expr {
    match model.pk.as_slice() {
        [one] => column(&model.fields[*one].column),
        many => Expr::tuple(many.iter().map(|&i| column(&model.fields[i].column))),
    }
}

/// The row whose key is `key` (a [`Value::Tuple`] for a composite key):
/// `id = ?`, or `a = ? AND b = ?`.
pub fn key_eq(
    reg: &Registry,
    dialect: Dialect,
    model: &ModelMeta,
    column: impl Fn(&str) -> Expr,
    key: &Value,
) -> Expr {
    // A key of another shape is no row's (never a match on its first part).
    if key.parts().len() != model.pk.len() {
        return Expr::cust("1 = 0");
    }
    let parts = model.pk.iter().zip(key.parts()).map(|(&i, v)| {
        let f = &model.fields[i];
        column(&f.column).eq(Expr::val(bind(v, reg.value_type(f), dialect)))
    });
    combine(parts.collect(), "1 = 0", Expr::and)
}

/// The rows whose key is one of `keys`, bound as one parameter
/// ([`SqlDialect::keys_in`](graphloom_db::dialect::SqlDialect::keys_in), or [`SqlDialect::tuples_in`](graphloom_db::dialect::SqlDialect::tuples_in) for a composite key).
pub fn key_in(
    reg: &Registry,
    dialect: Dialect,
    model: &ModelMeta,
    column: impl Fn(&str) -> Expr,
    keys: &[Value],
) -> Expr {
    // Keys of another shape are no row's.
    let fits = |k: &&Value| k.parts().len() == model.pk.len();
    match model.pk.as_slice() {
        [one] => {
            let f = &model.fields[*one];
            let ty = reg.value_type(f);
            if keys.iter().all(|k| fits(&k)) {
                dialect.keys_in(column(&f.column), keys, ty)
            } else {
                let keys: Vec<Value> = keys.iter().filter(fits).cloned().collect();
                dialect.keys_in(column(&f.column), &keys, ty)
            }
        }
        many => {
            let exprs = many.iter().map(|&i| column(&model.fields[i].column));
            let types: Vec<ValueType> = many
                .iter()
                .map(|&i| reg.value_type(&model.fields[i]))
                .collect();
            let tuples: Vec<Vec<Value>> = keys
                .iter()
                .filter(fits)
                .map(|k| k.parts().to_vec())
                .collect();
            dialect.tuples_in(exprs.collect(), &tuples, &types)
        }
    }
}

/// One ORDER BY term.
#[derive(Debug, Clone)]
pub struct OrderExpr {
    pub expr: Expr,
    pub order: Order,
    pub nulls: Option<NullOrdering>,
}

impl<'a> Builder<'a> {
    pub fn new(reg: &'a Registry, dialect: Dialect, scope: &'a Scope) -> Self {
        Builder {
            reg,
            dialect,
            scope,
            next: 0,
        }
    }

    /// The visible-row condition of `model` aliased `alias`, if it is restricted.
    pub fn row_cond(&mut self, model: &ModelMeta, alias: &str) -> Option<Expr> {
        let f = self.scope.rows(model.id)?.clone();
        Some(self.cond(model, alias, &f))
    }

    pub fn alias(&mut self) -> String {
        let a = format!("t{}", self.next);
        self.next += 1;
        a
    }

    /// A field's column, cast where the stored form does not sort as the value
    /// does (SQLite keeps decimals as text).
    fn comparable(&self, alias: &str, model: &ModelMeta, field: usize) -> Expr {
        let f = &model.fields[field];
        let e = col(alias, &f.column);
        match f.kind {
            FieldKind::Decimal { .. } => self.dialect.decimal_comparable(e),
            _ => e,
        }
    }

    fn bind(&self, v: &Value, ty: ValueType) -> Expr {
        Expr::val(bind(v, ty, self.dialect))
    }

    /// `expr` is one of `keys`, bound as one parameter (see [`SqlDialect::keys_in`](graphloom_db::dialect::SqlDialect::keys_in)).
    pub fn keys_in(&self, expr: Expr, keys: &[Value], ty: ValueType) -> Expr {
        self.dialect.keys_in(expr, keys, ty)
    }

    /// `(exprs…)` is one of `tuples` (see [`SqlDialect::tuples_in`](graphloom_db::dialect::SqlDialect::tuples_in)).
    pub fn tuples_in(&self, exprs: Vec<Expr>, tuples: &[Vec<Value>], types: &[ValueType]) -> Expr {
        self.dialect.tuples_in(exprs, tuples, types)
    }

    /// Adds the target of `join` to a statement over its rows: `FROM target
    /// AS t [JOIN via ON via.target = t.target]`, and returns the expression
    /// holding each row's source key (what parents are matched on).
    pub fn from_target(
        &mut self,
        stmt: &mut SelectStatement,
        target: &ModelMeta,
        join: &JoinPath,
        alias: &str,
    ) -> Expr {
        stmt.from_as(Alias::new(&target.table), Alias::new(alias));
        let target_col = &target.fields[join.target].column;
        match &join.via {
            None => col(alias, target_col),
            Some(via) => {
                let ja = self.alias();
                stmt.join_as(
                    JoinType::InnerJoin,
                    Alias::new(&via.table),
                    Alias::new(&ja),
                    col(&ja, &via.target_column)
                        .equals((Alias::new(alias), Alias::new(target_col))),
                );
                col(&ja, &via.source_column)
            }
        }
    }

    /// The SQL condition of a filter on `model` aliased `alias`.
    pub fn cond(&mut self, model: &ModelMeta, alias: &str, f: &Filter) -> Expr {
        match f {
            Filter::And(parts) => {
                let parts = parts.iter().map(|p| self.cond(model, alias, p)).collect();
                combine(parts, "1 = 1", ExprTrait::and)
            }
            Filter::Or(parts) => {
                let parts = parts.iter().map(|p| self.cond(model, alias, p)).collect();
                combine(parts, "1 = 0", ExprTrait::or)
            }
            Filter::Not(inner) => self.cond(model, alias, inner).not(),
            Filter::Field { field, op, value } => self.field_cond(model, alias, *field, *op, value),
            Filter::One { relation, filter } => {
                let sub = self.related(model, alias, *relation, filter, false);
                Expr::exists(sub)
            }
            Filter::Many {
                relation,
                quantifier,
                filter,
            } => match quantifier {
                Quantifier::Some => {
                    Expr::exists(self.related(model, alias, *relation, filter, false))
                }
                Quantifier::None => {
                    Expr::exists(self.related(model, alias, *relation, filter, false)).not()
                }
                Quantifier::Every => {
                    Expr::exists(self.related(model, alias, *relation, filter, true)).not()
                }
            },
        }
    }

    /// `SELECT 1 FROM target … WHERE <joined to the parent row> AND [NOT] <filter>`,
    /// over the visible target rows only (for some, none and every alike).
    fn related(
        &mut self,
        model: &ModelMeta,
        alias: &str,
        relation: usize,
        filter: &Filter,
        negate: bool,
    ) -> SelectStatement {
        let rel = &model.relations[relation];
        let target = self.reg.model(rel.target);
        let t = self.alias();
        let mut sub = Query::select();
        sub.expr(Expr::cust("1"));
        let key = self.from_target(&mut sub, target, &rel.join, &t);
        sub.and_where(key.equals((
            Alias::new(alias),
            Alias::new(&model.fields[rel.join.source].column),
        )));
        let inner = self.cond(target, &t, filter);
        let inner = if negate { inner.not() } else { inner };
        // A `Visible` rule's filter is the target's row rule itself: adding
        // it again would repeat it (twice per level of `Visible`).
        let rows = if !negate && self.scope.rows(target.id) == Some(filter) {
            None
        } else {
            self.row_cond(target, &t)
        };
        // To-many: the visible-rows condition first, then the filter.
        let many = rel.is_many();
        if many && let Some(rows) = rows.clone() {
            sub.and_where(rows);
        }
        sub.and_where(inner);
        if !many && let Some(rows) = rows {
            sub.and_where(rows);
        }
        sub
    }

    fn field_cond(
        &mut self,
        model: &ModelMeta,
        alias: &str,
        field: usize,
        op: Op,
        value: &FilterValue,
    ) -> Expr {
        let f = &model.fields[field];
        let ty = self.reg.value_type(f);
        let plain = col(alias, &f.column);
        let cmp = self.comparable(alias, model, field);
        let one = |b: &Self| match value {
            FilterValue::One(v) => b.bind(v, ty),
            FilterValue::List(_) | FilterValue::Bool(_) => Expr::cust("NULL"),
        };
        let list = || match value {
            FilterValue::List(vs) => vs.clone(),
            FilterValue::One(v) => vec![v.clone()],
            FilterValue::Bool(_) => Vec::new(),
        };
        let text = || match value {
            FilterValue::One(Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        // Like Django's exclude(), "not equal" keeps the rows where the field is NULL.
        let or_null = |e: Expr| {
            if f.nullable {
                e.or(col(alias, &f.column).is_null())
            } else {
                e
            }
        };
        let operand = |b: &Self| match f.kind {
            FieldKind::Decimal { .. } => b.dialect.decimal_comparable(one(b)),
            _ => one(b),
        };
        match op {
            Op::Eq => plain.eq(one(self)),
            Op::Neq => or_null(plain.ne(one(self))),
            Op::In => {
                let vs = list();
                if vs.is_empty() {
                    Expr::cust("1 = 0")
                } else {
                    plain.is_in(vs.iter().map(|v| self.bind(v, ty)).collect::<Vec<_>>())
                }
            }
            Op::NotIn => {
                let vs = list();
                if vs.is_empty() {
                    Expr::cust("1 = 1")
                } else {
                    or_null(
                        plain.is_not_in(vs.iter().map(|v| self.bind(v, ty)).collect::<Vec<_>>()),
                    )
                }
            }
            Op::Lt => cmp.lt(operand(self)),
            Op::Lte => cmp.lte(operand(self)),
            Op::Gt => cmp.gt(operand(self)),
            Op::Gte => cmp.gte(operand(self)),
            Op::Contains => plain.like(like(&format!("%{}%", escape_like(&text())))),
            Op::StartsWith => plain.like(like(&format!("{}%", escape_like(&text())))),
            Op::EndsWith => plain.like(like(&format!("%{}", escape_like(&text())))),
            Op::IContains => {
                Func::lower(plain).like(like(&format!("%{}%", escape_like(&text().to_lowercase()))))
            }
            Op::IExact => Func::lower(plain).eq(text().to_lowercase()),
            Op::IsNull => match value {
                FilterValue::Bool(false) => plain.is_not_null(),
                _ => plain.is_null(),
            },
        }
    }

    /// `LEFT JOIN`s the target of `model`'s to-one `relation` onto the row
    /// aliased `alias`, and returns the target's alias. A row the principal
    /// cannot see joins as NULL.
    pub fn join_one(
        &mut self,
        stmt: &mut SelectStatement,
        model: &ModelMeta,
        alias: &str,
        relation: usize,
    ) -> String {
        let rel = &model.relations[relation];
        let target = self.reg.model(rel.target);
        let a = self.alias();
        let on = col(&a, &target.fields[rel.join.target].column).equals((
            Alias::new(alias),
            Alias::new(&model.fields[rel.join.source].column),
        ));
        let on = match self.row_cond(target, &a) {
            Some(rows) => on.and(rows),
            None => on,
        };
        stmt.join_as(
            JoinType::LeftJoin,
            Alias::new(&target.table),
            Alias::new(&a),
            on,
        );
        a
    }

    /// ORDER BY terms for `terms` plus the primary key as the tie-break, adding
    /// LEFT JOINs to `stmt` for terms across to-one relations. The tie-break
    /// runs in the last term's direction: an index on that column, which
    /// SQLite keys by (column, rowid), then serves the whole order and a
    /// page stops after its rows (`created_at DESC, id ASC` would sort
    /// every match first).
    pub fn order(
        &mut self,
        stmt: &mut SelectStatement,
        model: &ModelMeta,
        alias: &str,
        terms: &[OrderTerm],
    ) -> Vec<OrderExpr> {
        let mut joined: Vec<(Vec<(ModelId, usize)>, String)> = Vec::new();
        let mut out = Vec::new();
        let mut has_pk = Vec::new();
        for term in terms {
            let mut cur_alias = alias.to_owned();
            let mut cur_model = model;
            for depth in 0..term.path.len() {
                let prefix = term.path[..=depth].to_vec();
                let (_, ri) = term.path[depth];
                let rel = &cur_model.relations[ri];
                let target = self.reg.model(rel.target);
                let next_alias = match joined.iter().find(|(p, _)| *p == prefix) {
                    Some((_, a)) => a.clone(),
                    None => {
                        // Only to-one relations are ordered through: no join table.
                        let a = self.join_one(stmt, cur_model, &cur_alias, ri);
                        joined.push((prefix, a.clone()));
                        a
                    }
                };
                cur_alias = next_alias;
                cur_model = target;
            }
            let f = &cur_model.fields[term.field];
            if term.path.is_empty() && model.is_pk(term.field) {
                has_pk.push(term.field);
            }
            // Nulls sort as PostgreSQL sorts them by default, on both dialects.
            let nullable = f.nullable || !term.path.is_empty();
            out.push(OrderExpr {
                expr: self.comparable(&cur_alias, cur_model, term.field),
                order: if term.desc { Order::Desc } else { Order::Asc },
                nulls: nullable.then_some(if term.desc {
                    NullOrdering::First
                } else {
                    NullOrdering::Last
                }),
            });
        }
        // The key breaks ties, so that offsets (cursors) are stable: each
        // of its fields the order does not name yet.
        let desc = terms.last().is_some_and(|t| t.desc);
        for &i in model.pk.iter().filter(|i| !has_pk.contains(i)) {
            out.push(OrderExpr {
                expr: col(alias, &model.fields[i].column),
                order: if desc { Order::Desc } else { Order::Asc },
                nulls: None,
            });
        }
        out
    }
}

/// Joins conditions with `op`; no condition at all is `empty` (TRUE for AND, FALSE for OR).
fn combine(parts: Vec<Expr>, empty: &'static str, op: fn(Expr, Expr) -> Expr) -> Expr {
    parts
        .into_iter()
        .reduce(op)
        .unwrap_or_else(|| Expr::cust(empty))
}

fn like(pattern: &str) -> LikeExpr {
    LikeExpr::new(pattern).escape('\\')
}

/// Escapes LIKE wildcards so user text matches literally.
pub fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The same order backwards: each term's direction and its nulls' place
/// flipped (a term whose nulls follow the dialect's default flips with
/// it: both dialects put them at opposite ends of ASC and DESC). `None`
/// for an order that is not ASC or DESC (sea-query's order by a list of
/// values), which has no reverse here.
pub fn reversed(order: &[OrderExpr]) -> Option<Vec<OrderExpr>> {
    order
        .iter()
        .map(|o| {
            Some(OrderExpr {
                expr: o.expr.clone(),
                order: match o.order {
                    Order::Asc => Order::Desc,
                    Order::Desc => Order::Asc,
                    _ => return None,
                },
                nulls: o.nulls.map(|n| match n {
                    NullOrdering::First => NullOrdering::Last,
                    NullOrdering::Last => NullOrdering::First,
                }),
            })
        })
        .collect()
}

pub fn apply_order(stmt: &mut SelectStatement, order: &[OrderExpr]) {
    for o in order {
        match o.nulls {
            Some(n) => stmt.order_by_expr_with_nulls(o.expr.clone(), o.order.clone(), n),
            None => stmt.order_by_expr(o.expr.clone(), o.order.clone()),
        };
    }
}

pub fn apply_window_order(w: &mut sea_query::WindowStatement, order: &[OrderExpr]) {
    for o in order {
        match o.nulls {
            Some(n) => w.order_by_expr_with_nulls(o.expr.clone(), o.order.clone(), n),
            None => w.order_by_expr(o.expr.clone(), o.order.clone()),
        };
    }
}
