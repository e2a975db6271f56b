//! SQL that differs per dialect beyond what sea-query renders: key lists
//! bound as one parameter, and comparable forms of stored values.

use graphloom_meta::{Value, ValueType};
use sea_query::{Alias, ArrayType, Expr, ExprTrait};

use crate::{Dialect, to_sea};

/// A key as a JSON list item: integers stay numbers (SQLite compares them
/// with integer columns), everything else is its key text.
fn json_key(v: &Value) -> serde_json::Value {
    match v {
        Value::I64(v) => serde_json::Value::from(*v),
        Value::I32(v) => serde_json::Value::from(*v),
        other => serde_json::Value::String(other.key_string()),
    }
}

impl Dialect {
    /// `expr` is one of `keys`, bound as one parameter whatever their number,
    /// so the statement text does not change with the data: `= ANY($1)` on
    /// PostgreSQL, `IN (SELECT value FROM json_each(?))` on SQLite.
    pub fn keys_in(self, expr: Expr, keys: &[Value], ty: ValueType) -> Expr {
        match self {
            Dialect::Postgres => {
                let (array_ty, values): (ArrayType, Vec<sea_query::Value>) = match ty {
                    ValueType::Uuid => (
                        ArrayType::Uuid,
                        keys.iter().map(|k| to_sea(k, self)).collect(),
                    ),
                    ValueType::I64 | ValueType::I32 => (
                        ArrayType::BigInt,
                        keys.iter()
                            .map(|k| match k {
                                Value::I32(v) => sea_query::Value::BigInt(Some(i64::from(*v))),
                                other => to_sea(other, self),
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

    /// `(exprs…)` is one of `tuples` (a composite key), bound as one JSON
    /// parameter, so the statement text does not change with the data. Key
    /// values are integers, strings or UUIDs (checked at start-up).
    pub fn tuples_in(self, exprs: Vec<Expr>, tuples: &[Vec<Value>], types: &[ValueType]) -> Expr {
        let json: Vec<serde_json::Value> = tuples
            .iter()
            .map(|t| t.iter().map(json_key).collect())
            .collect();
        let text = serde_json::Value::Array(json).to_string();
        let n = exprs.len();
        let (lhs, items, source) = match self {
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

    /// A decimal column (or operand) in a form that compares as the number
    /// does: SQLite stores decimals as text.
    pub fn decimal_comparable(self, e: Expr) -> Expr {
        match self {
            Dialect::Sqlite => e.cast_as(Alias::new("REAL")),
            Dialect::Postgres => e,
        }
    }
}
