//! PostgreSQL: the defaults of [`SqlDialect`], typed values, `= ANY($1)`.

use graphloom_meta::{Value, ValueType};
use sea_query::{ArrayType, ColumnDef, Expr, PostgresQueryBuilder, QueryBuilder, Values};

use super::{QueryRef, SchemaRef, SqlDialect, json_key, render_query, render_schema};
use crate::schema::ColumnType;

/// PostgreSQL.
#[derive(Debug, Clone, Copy, Default)]
pub struct Postgres;

impl SqlDialect for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }

    fn render(&self, q: QueryRef<'_>) -> (String, Values) {
        render_query(PostgresQueryBuilder, q)
    }

    fn inline(&self, s: &sea_query::SelectStatement) -> String {
        s.to_string(PostgresQueryBuilder)
    }

    fn render_schema(&self, s: SchemaRef<'_>) -> String {
        render_schema(PostgresQueryBuilder, s)
    }

    fn literal(&self, v: &sea_query::Value) -> String {
        PostgresQueryBuilder.value_to_string(v)
    }

    fn to_sea(&self, value: &Value) -> sea_query::Value {
        use sea_query::Value as S;
        match value {
            Value::Null => S::String(None),
            Value::Bool(v) => S::Bool(Some(*v)),
            Value::I32(v) => S::Int(Some(*v)),
            Value::I64(v) => S::BigInt(Some(*v)),
            Value::F64(v) => S::Double(Some(*v)),
            Value::Decimal(v) => S::Decimal(Some(*v)),
            Value::String(v) => S::String(Some(v.clone())),
            Value::Date(v) => S::ChronoDate(Some(*v)),
            Value::DateTime(v) => S::ChronoDateTimeUtc(Some(*v)),
            Value::Uuid(v) => S::Uuid(Some(*v)),
            Value::Json(v) => S::Json(Some(Box::new(v.clone()))),
        }
    }

    fn typed_null(&self, ty: ValueType) -> sea_query::Value {
        use sea_query::Value as S;
        match ty {
            ValueType::Bool => S::Bool(None),
            ValueType::I32 => S::Int(None),
            ValueType::I64 => S::BigInt(None),
            ValueType::F64 => S::Double(None),
            ValueType::Decimal => S::Decimal(None),
            ValueType::String => S::String(None),
            ValueType::Date => S::ChronoDate(None),
            ValueType::DateTime => S::ChronoDateTimeUtc(None),
            ValueType::Uuid => S::Uuid(None),
            ValueType::Json => S::Json(None),
        }
    }

    fn keys_in(&self, expr: Expr, keys: &[Value], ty: ValueType) -> Expr {
        let (array_ty, values): (ArrayType, Vec<sea_query::Value>) = match ty {
            ValueType::Uuid => (
                ArrayType::Uuid,
                keys.iter().map(|k| self.to_sea(k)).collect(),
            ),
            ValueType::I64 | ValueType::I32 => (
                ArrayType::BigInt,
                keys.iter()
                    .map(|k| match k {
                        Value::I32(v) => sea_query::Value::BigInt(Some(i64::from(*v))),
                        other => self.to_sea(other),
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
        // sea-query numbers the placeholders of a custom expression itself.
        Expr::cust_with_exprs("$1 = ANY($2)", [expr, Expr::val(array)])
    }

    fn tuples_in(&self, exprs: Vec<Expr>, tuples: &[Vec<Value>], types: &[ValueType]) -> Expr {
        let json: Vec<serde_json::Value> = tuples
            .iter()
            .map(|t| t.iter().map(json_key).collect())
            .collect();
        let text = serde_json::Value::Array(json).to_string();
        let n = exprs.len();
        let lhs: Vec<String> = (1..=n).map(|i| format!("${i}")).collect();
        let items: Vec<String> = types
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
            .collect();
        let template = format!(
            "({}) IN (SELECT {} FROM jsonb_array_elements(${}::jsonb) AS x)",
            lhs.join(", "),
            items.join(", "),
            n + 1
        );
        Expr::cust_with_exprs(template, exprs.into_iter().chain([Expr::val(text)]))
    }

    fn column_type(&self, ty: ColumnType) -> String {
        match ty {
            ColumnType::AutoId | ColumnType::I64 => "bigint".into(),
            ColumnType::Bool => "boolean".into(),
            ColumnType::I32 => "integer".into(),
            ColumnType::F64 => "double precision".into(),
            ColumnType::Decimal {
                max_digits,
                decimal_places,
            } => format!("numeric({max_digits}, {decimal_places})"),
            ColumnType::String { max_length } => format!("varchar({max_length})"),
            ColumnType::Text => "text".into(),
            ColumnType::Date => "date".into(),
            ColumnType::DateTime => "timestamptz".into(),
            ColumnType::Uuid => "uuid".into(),
            ColumnType::Json => "jsonb".into(),
        }
    }

    fn auto_id(&self, def: &mut ColumnDef) {
        def.extra("GENERATED BY DEFAULT AS IDENTITY");
    }
}
