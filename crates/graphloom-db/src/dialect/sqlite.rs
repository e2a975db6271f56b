//! SQLite: values as sortable text, key lists as one JSON parameter, and
//! table rebuilds where `ALTER TABLE` cannot change a table.

use graphloom_meta::{Value, ValueType};
use sea_query::{Alias, ColumnDef, Expr, ExprTrait, Func, FunctionCall, SqliteQueryBuilder};

use super::{SchemaRef, SqlDialect, create_index, create_table, json_key, quote};
use crate::{
    Result,
    ddl::Step,
    schema::{ColumnState, ColumnType, ProjectState, TableState, json_to_value},
};

/// Fixed-width UTC text for SQLite: lexicographic order is chronological order.
pub const SQLITE_DATETIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

/// SQLite (bundled with sqlx).
#[derive(Debug, Clone, Copy, Default)]
pub struct Sqlite;

impl Sqlite {
    /// The rebuild of `table` into `after` by SQLite's documented procedure
    /// (new table, copy, drop, rename, indexes), each new column copied from
    /// the expression `source(column)` over the old table. Foreign-key
    /// enforcement is off meanwhile (see [`crate::SchemaConn`]).
    fn rebuild(
        &self,
        after: &TableState,
        source: impl Fn(&ColumnState) -> Result<String>,
    ) -> Result<Vec<Step>> {
        let tmp = format!("graphloom_new__{}", after.name);
        let mut steps =
            vec![self.schema_step(SchemaRef::CreateTable(&create_table(self, after, &tmp)))];
        let cols: Vec<String> = after.columns.iter().map(|c| quote(&c.name)).collect();
        let exprs = after
            .columns
            .iter()
            .map(&source)
            .collect::<Result<Vec<_>>>()?;
        steps.push(Step::Sql(format!(
            "INSERT INTO {} ({}) SELECT {} FROM {}",
            quote(&tmp),
            cols.join(", "),
            exprs.join(", "),
            quote(&after.name)
        )));
        steps.push(Step::Sql(format!("DROP TABLE {}", quote(&after.name))));
        steps.push(Step::Sql(format!(
            "ALTER TABLE {} RENAME TO {}",
            quote(&tmp),
            quote(&after.name)
        )));
        for i in &after.indexes {
            steps.push(self.schema_step(SchemaRef::CreateIndex(&create_index(&after.name, i))));
        }
        Ok(steps)
    }
}

impl SqlDialect for Sqlite {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    sea_query_backend!(SqliteQueryBuilder);

    /// SQLite has no date, uuid or decimal types: they are stored as text in
    /// a fixed format, so that text order is value order.
    fn to_sea(&self, value: &Value) -> sea_query::Value {
        use sea_query::Value as S;
        match value {
            Value::Null => S::String(None),
            Value::Bool(v) => S::Bool(Some(*v)),
            Value::I32(v) => S::Int(Some(*v)),
            Value::I64(v) => S::BigInt(Some(*v)),
            Value::F64(v) => S::Double(Some(*v)),
            // Normalised, so equal decimals are equal text.
            Value::Decimal(v) => S::String(Some(v.normalize().to_string())),
            Value::String(v) => S::String(Some(v.clone())),
            Value::Date(v) => S::ChronoDate(Some(*v)),
            Value::DateTime(v) => S::String(Some(v.format(SQLITE_DATETIME_FORMAT).to_string())),
            Value::Uuid(v) => S::String(Some(v.to_string())),
            Value::Json(v) => S::String(Some(v.to_string())),
            // Statements bind a composite key's parts, never the key: this
            // arm is a bug's, and its text matches no column rather than panicking.
            Value::Tuple(_) => {
                debug_assert!(false, "a composite key bound as one value");
                S::String(Some(value.key_string()))
            }
        }
    }

    fn typed_null(&self, ty: ValueType) -> sea_query::Value {
        use sea_query::Value as S;
        match ty {
            ValueType::Bool => S::Bool(None),
            ValueType::I32 => S::Int(None),
            ValueType::I64 => S::BigInt(None),
            ValueType::F64 => S::Double(None),
            ValueType::Date => S::ChronoDate(None),
            ValueType::String
            | ValueType::Decimal
            | ValueType::DateTime
            | ValueType::Uuid
            | ValueType::Json => S::String(None),
        }
    }

    fn keys_in(&self, expr: Expr, keys: &[Value], _: ValueType) -> Expr {
        let json: Vec<serde_json::Value> = keys.iter().map(json_key).collect();
        let text = serde_json::Value::Array(json).to_string();
        Expr::cust_with_exprs(
            "? IN (SELECT value FROM json_each(?))",
            [expr, Expr::val(text)],
        )
    }

    fn keys_table(&self, keys: &[Value], _: ValueType, alias: &str) -> (FunctionCall, Expr) {
        let json: Vec<serde_json::Value> = keys.iter().map(json_key).collect();
        let text = serde_json::Value::Array(json).to_string();
        let call = Func::cust(Alias::new("json_each")).arg(Expr::val(text));
        (call, Expr::col((Alias::new(alias), Alias::new("value"))))
    }

    /// No `LATERAL`: a per-parent page is a correlated `IN` subquery.
    fn lateral(&self) -> bool {
        false
    }

    fn tuples_in(&self, exprs: Vec<Expr>, tuples: &[Vec<Value>], _: &[ValueType]) -> Expr {
        let json: Vec<serde_json::Value> = tuples
            .iter()
            .map(|t| t.iter().map(json_key).collect())
            .collect();
        let text = serde_json::Value::Array(json).to_string();
        let n = exprs.len();
        let items: Vec<String> = (0..n)
            .map(|i| format!("json_extract(value, '$[{i}]')"))
            .collect();
        let template = format!(
            "({}) IN (SELECT {} FROM json_each(?))",
            vec!["?"; n].join(", "),
            items.join(", ")
        );
        Expr::cust_with_exprs(template, exprs.into_iter().chain([Expr::val(text)]))
    }

    /// Decimals are stored as text.
    fn decimal_comparable(&self, e: Expr) -> Expr {
        e.cast_as(Alias::new("REAL"))
    }

    /// A SQLite transaction holds the database's write lock once it writes.
    fn locks_rows(&self) -> bool {
        false
    }

    fn foreign_key_check(&self) -> Option<&'static str> {
        Some("PRAGMA foreign_key_check")
    }

    fn column_type(&self, ty: ColumnType) -> String {
        match ty {
            ColumnType::AutoId | ColumnType::I32 => "integer".into(),
            ColumnType::Bool => "boolean".into(),
            ColumnType::I64 => "bigint".into(),
            ColumnType::F64 => "real".into(),
            ColumnType::String { max_length } => format!("varchar({max_length})"),
            ColumnType::Date => "date".into(),
            ColumnType::Decimal { .. }
            | ColumnType::Text
            | ColumnType::DateTime
            | ColumnType::Uuid
            | ColumnType::Json => "text".into(),
        }
    }

    /// `INTEGER PRIMARY KEY AUTOINCREMENT`: ids are never reused.
    fn auto_id(&self, def: &mut ColumnDef) {
        def.auto_increment();
    }

    /// Untyped: SQLite takes the literal as it is.
    fn default_literal(&self, c: &ColumnState, j: &serde_json::Value) -> Result<String> {
        Ok(self.literal(&self.to_sea(&json_to_value(c.ty, j)?)))
    }

    fn add_column(
        &self,
        table: &str,
        column: &ColumnState,
        fill: Option<&serde_json::Value>,
        after: &ProjectState,
    ) -> Result<Vec<Step>> {
        // ALTER TABLE adds a nullable column without a reference; the rest
        // needs a rebuild.
        if fill.is_none() && column.references.is_none() && !column.primary_key {
            return Ok(vec![Step::Sql(format!(
                "ALTER TABLE {} ADD COLUMN {} {}",
                quote(table),
                quote(&column.name),
                self.column_type(column.ty)
            ))]);
        }
        self.rebuild(after.table(table)?, |c| {
            if c.name == column.name {
                fill.map_or(Ok("NULL".to_owned()), |f| self.default_literal(c, f))
            } else {
                Ok(quote(&c.name))
            }
        })
    }

    fn drop_column(&self, table: &str, _: &str, after: &ProjectState) -> Result<Vec<Step>> {
        self.rebuild(after.table(table)?, |c| Ok(quote(&c.name)))
    }

    fn alter_column(
        &self,
        table: &str,
        old: &ColumnState,
        new: &ColumnState,
        fill: Option<&serde_json::Value>,
        after: &ProjectState,
    ) -> Result<Vec<Step>> {
        self.rebuild(after.table(table)?, |c| {
            let mut e = quote(&c.name);
            if c.name == new.name {
                if old.ty != new.ty {
                    e = format!("CAST({e} AS {})", self.column_type(new.ty));
                }
                if let Some(f) = fill {
                    e = format!("COALESCE({e}, {})", self.default_literal(c, f)?);
                }
            }
            Ok(e)
        })
    }

    /// SQLite's foreign keys carry no names to keep in step.
    fn names_constraints(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_sort_as_text() {
        let at = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .unwrap()
                .with_timezone(&chrono::Utc)
        };
        let (sea_query::Value::String(Some(x)), sea_query::Value::String(Some(y))) = (
            Sqlite.to_sea(&Value::DateTime(at("2024-01-01T00:00:00Z"))),
            Sqlite.to_sea(&Value::DateTime(at("2024-01-01T00:00:00.5Z"))),
        ) else {
            panic!("datetimes are text on SQLite");
        };
        assert_eq!(x, "2024-01-01T00:00:00.000000Z");
        assert!(x < y);
    }
}
