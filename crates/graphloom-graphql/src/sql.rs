//! Plan parts rendered as SQL data (sea-query): filters, ordering with joins
//! across to-one relations, and batched key lists.

use graphloom_db::{Dialect, bind};
use graphloom_meta::{FieldKind, ModelMeta, Registry, RelationKind, Value, ValueType};
use sea_query::{
    Alias, ArrayType, Expr, ExprTrait, Func, JoinType, LikeExpr, NullOrdering, Order, Query,
    SelectStatement,
};

use crate::{
    permissions::Scope,
    plan::{Filter, FilterValue, Op, OrderTerm, Quantifier},
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

/// A key as a JSON list item: integers stay numbers (SQLite compares them
/// with integer columns), everything else is its key text.
fn json_key(v: &Value) -> serde_json::Value {
    match v {
        Value::I64(v) => serde_json::Value::from(*v),
        Value::I32(v) => serde_json::Value::from(*v),
        other => serde_json::Value::String(other.key_string()),
    }
}

pub fn col(alias: &str, column: &str) -> Expr {
    Expr::col((Alias::new(alias), Alias::new(column)))
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
        match (f.kind, self.dialect) {
            (FieldKind::Decimal { .. }, Dialect::Sqlite) => e.cast_as(Alias::new("REAL")),
            _ => e,
        }
    }

    fn bind(&self, v: &Value, ty: ValueType) -> Expr {
        Expr::val(bind(v, ty, self.dialect))
    }

    /// `expr` is one of `keys`, bound as one parameter whatever their number, so
    /// the statement text does not change with the data.
    pub fn keys_in(&self, expr: Expr, keys: &[Value], ty: ValueType) -> Expr {
        match self.dialect {
            Dialect::Postgres => {
                let (array_ty, values): (ArrayType, Vec<sea_query::Value>) = match ty {
                    ValueType::Uuid => (
                        ArrayType::Uuid,
                        keys.iter()
                            .map(|k| graphloom_db::to_sea(k, self.dialect))
                            .collect(),
                    ),
                    ValueType::I64 | ValueType::I32 => (
                        ArrayType::BigInt,
                        keys.iter()
                            .map(|k| match k {
                                Value::I32(v) => sea_query::Value::BigInt(Some(i64::from(*v))),
                                other => graphloom_db::to_sea(other, self.dialect),
                            })
                            .collect(),
                    ),
                    _ => (
                        ArrayType::String,
                        keys.iter()
                            .map(|k| sea_query::Value::String(Some(k.key_string())))
                            .collect(),
                    ),
                };
                let array = sea_query::Value::Array(array_ty, Some(Box::new(values)));
                // sea-query placeholders are numbered on PostgreSQL, `?` on SQLite.
                Expr::cust_with_exprs("$1 = ANY($2)", [expr, Expr::val(array)])
            }
            Dialect::Sqlite => {
                let json: Vec<serde_json::Value> = keys.iter().map(json_key).collect();
                let text = serde_json::Value::Array(json).to_string();
                Expr::cust_with_exprs(
                    "? IN (SELECT value FROM json_each(?))",
                    [expr, Expr::val(text)],
                )
            }
        }
    }

    /// `(exprs…)` is one of `tuples` (a composite entity key), bound as one
    /// JSON parameter, so the statement text does not change with the data.
    /// Key values are integers, strings or UUIDs (checked at start-up).
    pub fn tuples_in(&self, exprs: Vec<Expr>, tuples: &[Vec<Value>], types: &[ValueType]) -> Expr {
        let json: Vec<serde_json::Value> = tuples
            .iter()
            .map(|t| t.iter().map(json_key).collect())
            .collect();
        let text = serde_json::Value::Array(json).to_string();
        let n = exprs.len();
        let (lhs, items, source) = match self.dialect {
            Dialect::Postgres => (
                (1..=n).map(|i| format!("${i}")).collect::<Vec<_>>(),
                types
                    .iter()
                    .enumerate()
                    .map(|(i, t)| {
                        let cast = match t {
                            ValueType::I32 | ValueType::I64 => "bigint",
                            ValueType::Uuid => "uuid",
                            _ => "text",
                        };
                        format!("(x->>{i})::{cast}")
                    })
                    .collect::<Vec<_>>(),
                format!("jsonb_array_elements(${}::jsonb) AS x", n + 1),
            ),
            Dialect::Sqlite => (
                vec!["?".to_owned(); n],
                (0..n)
                    .map(|i| format!("json_extract(value, '$[{i}]')"))
                    .collect(),
                "json_each(?)".to_owned(),
            ),
        };
        let template = format!(
            "({}) IN (SELECT {} FROM {source})",
            lhs.join(", "),
            items.join(", ")
        );
        Expr::cust_with_exprs(template, exprs.into_iter().chain([Expr::val(text)]))
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
                let rel = &model.relations[*relation];
                let target = self.reg.model(rel.target);
                let t = self.alias();
                let link = match rel.kind {
                    RelationKind::ForwardOne { field } => col(&t, &target.pk_field().column)
                        .equals((Alias::new(alias), Alias::new(&model.fields[field].column))),
                    RelationKind::ReverseOne { field } => col(&t, &target.fields[field].column)
                        .equals((Alias::new(alias), Alias::new(&model.pk_field().column))),
                    RelationKind::ReverseMany { .. } | RelationKind::ManyToMany { .. } => {
                        Expr::cust("1 = 0")
                    }
                };
                let inner = self.cond(target, &t, filter);
                let mut sub = Query::select();
                sub.expr(Expr::cust("1"))
                    .from_as(Alias::new(&target.table), Alias::new(&t))
                    .and_where(link)
                    .and_where(inner);
                if let Some(rows) = self.row_cond(target, &t) {
                    sub.and_where(rows);
                }
                Expr::exists(sub)
            }
            Filter::Many {
                relation,
                quantifier,
                filter,
            } => {
                let rel = &model.relations[*relation];
                let target = self.reg.model(rel.target);
                let t = self.alias();
                let mut sub = Query::select();
                sub.expr(Expr::cust("1"))
                    .from_as(Alias::new(&target.table), Alias::new(&t));
                let parent_pk = (Alias::new(alias), Alias::new(&model.pk_field().column));
                match rel.kind {
                    RelationKind::ReverseMany { field } | RelationKind::ReverseOne { field } => {
                        sub.and_where(col(&t, &target.fields[field].column).equals(parent_pk));
                    }
                    RelationKind::ManyToMany { join, forward } => {
                        let j = self.reg.join(join);
                        let (mine, theirs) = if forward {
                            (&j.owner_column, &j.target_column)
                        } else {
                            (&j.target_column, &j.owner_column)
                        };
                        let ja = self.alias();
                        sub.join_as(
                            JoinType::InnerJoin,
                            Alias::new(&j.table),
                            Alias::new(&ja),
                            col(&ja, theirs)
                                .equals((Alias::new(&t), Alias::new(&target.pk_field().column))),
                        );
                        sub.and_where(col(&ja, mine).equals(parent_pk));
                    }
                    RelationKind::ForwardOne { field } => {
                        sub.and_where(
                            col(&t, &target.pk_field().column).equals((
                                Alias::new(alias),
                                Alias::new(&model.fields[field].column),
                            )),
                        );
                    }
                }
                let inner = self.cond(target, &t, filter);
                // Only visible rows count, for some, none and every alike.
                if let Some(rows) = self.row_cond(target, &t) {
                    sub.and_where(rows);
                }
                match quantifier {
                    Quantifier::Some => {
                        sub.and_where(inner);
                        Expr::exists(sub)
                    }
                    Quantifier::None => {
                        sub.and_where(inner);
                        Expr::exists(sub).not()
                    }
                    Quantifier::Every => {
                        sub.and_where(inner.not());
                        Expr::exists(sub).not()
                    }
                }
            }
        }
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
            Op::Lt => cmp.lt(self.cast_operand(f.kind, one(self))),
            Op::Lte => cmp.lte(self.cast_operand(f.kind, one(self))),
            Op::Gt => cmp.gt(self.cast_operand(f.kind, one(self))),
            Op::Gte => cmp.gte(self.cast_operand(f.kind, one(self))),
            Op::Contains => plain.like(like(&format!("%{}%", escape_like(&text())))),
            Op::StartsWith => plain.like(like(&format!("{}%", escape_like(&text())))),
            Op::EndsWith => plain.like(like(&format!("%{}", escape_like(&text())))),
            Op::IContains => {
                Func::lower(plain).like(like(&format!("%{}%", escape_like(&text().to_lowercase()))))
            }
            Op::IsNull => match value {
                FilterValue::Bool(false) => plain.is_not_null(),
                _ => plain.is_null(),
            },
        }
    }

    fn cast_operand(&self, kind: FieldKind, e: Expr) -> Expr {
        match (kind, self.dialect) {
            (FieldKind::Decimal { .. }, Dialect::Sqlite) => e.cast_as(Alias::new("REAL")),
            _ => e,
        }
    }

    /// ORDER BY terms for `terms` plus the primary key as the tie-break, adding
    /// LEFT JOINs to `stmt` for terms across to-one relations.
    pub fn order(
        &mut self,
        stmt: &mut SelectStatement,
        model: &ModelMeta,
        alias: &str,
        terms: &[OrderTerm],
    ) -> Vec<OrderExpr> {
        let mut joined: Vec<(Vec<(graphloom_meta::ModelId, usize)>, String)> = Vec::new();
        let mut out = Vec::new();
        let mut has_pk = false;
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
                        let a = self.alias();
                        let on = match rel.kind {
                            RelationKind::ForwardOne { field } => {
                                col(&a, &target.pk_field().column).equals((
                                    Alias::new(&cur_alias),
                                    Alias::new(&cur_model.fields[field].column),
                                ))
                            }
                            RelationKind::ReverseOne { field } => {
                                col(&a, &target.fields[field].column).equals((
                                    Alias::new(&cur_alias),
                                    Alias::new(&cur_model.pk_field().column),
                                ))
                            }
                            RelationKind::ReverseMany { .. } | RelationKind::ManyToMany { .. } => {
                                Expr::cust("1 = 0")
                            }
                        };
                        // A row the principal cannot see joins as NULL.
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
                        joined.push((prefix, a.clone()));
                        a
                    }
                };
                cur_alias = next_alias;
                cur_model = target;
            }
            let f = &cur_model.fields[term.field];
            if term.path.is_empty() && term.field == model.pk {
                has_pk = true;
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
        if !has_pk {
            out.push(OrderExpr {
                expr: col(alias, &model.pk_field().column),
                order: Order::Asc,
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
