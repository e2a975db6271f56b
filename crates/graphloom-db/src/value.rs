//! Values in and out of each dialect. SQLite has no date, uuid or decimal types:
//! they are stored as text in a fixed format so that text order is value order.

use chrono::{DateTime, NaiveDate, Utc};
use graphloom_meta::{Value, ValueType};
use rust_decimal::Decimal;
use sqlx::{Row, postgres::PgRow, sqlite::SqliteRow};
use uuid::Uuid;

use crate::{DbError, Dialect};

/// Fixed-width UTC text for SQLite: lexicographic order is chronological order.
pub const SQLITE_DATETIME_FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";

/// Converts a value to a sea-query value bound for `dialect`.
pub fn to_sea(value: &Value, dialect: Dialect) -> sea_query::Value {
    use sea_query::Value as S;
    match (value, dialect) {
        (Value::Null, _) => S::String(None),
        (Value::Bool(v), _) => S::Bool(Some(*v)),
        (Value::I32(v), _) => S::Int(Some(*v)),
        (Value::I64(v), _) => S::BigInt(Some(*v)),
        (Value::F64(v), _) => S::Double(Some(*v)),
        (Value::Decimal(v), Dialect::Postgres) => S::Decimal(Some(*v)),
        // Normalised, so equal decimals are equal text.
        (Value::Decimal(v), Dialect::Sqlite) => S::String(Some(v.normalize().to_string())),
        (Value::String(v), _) => S::String(Some(v.clone())),
        (Value::Date(v), _) => S::ChronoDate(Some(*v)),
        (Value::DateTime(v), Dialect::Postgres) => S::ChronoDateTimeUtc(Some(*v)),
        (Value::DateTime(v), Dialect::Sqlite) => {
            S::String(Some(v.format(SQLITE_DATETIME_FORMAT).to_string()))
        }
        (Value::Uuid(v), Dialect::Postgres) => S::Uuid(Some(*v)),
        (Value::Uuid(v), Dialect::Sqlite) => S::String(Some(v.to_string())),
        (Value::Json(v), Dialect::Postgres) => S::Json(Some(Box::new(v.clone()))),
        (Value::Json(v), Dialect::Sqlite) => S::String(Some(v.to_string())),
    }
}

/// A typed NULL, so PostgreSQL can infer the parameter type.
pub fn typed_null(ty: ValueType, dialect: Dialect) -> sea_query::Value {
    use sea_query::Value as S;
    match (ty, dialect) {
        (ValueType::Bool, _) => S::Bool(None),
        (ValueType::I32, _) => S::Int(None),
        (ValueType::I64, _) => S::BigInt(None),
        (ValueType::F64, _) => S::Double(None),
        (ValueType::Decimal, Dialect::Postgres) => S::Decimal(None),
        (ValueType::Date, _) => S::ChronoDate(None),
        (ValueType::DateTime, Dialect::Postgres) => S::ChronoDateTimeUtc(None),
        (ValueType::Uuid, Dialect::Postgres) => S::Uuid(None),
        (ValueType::Json, Dialect::Postgres) => S::Json(None),
        (
            ValueType::String
            | ValueType::Decimal
            | ValueType::DateTime
            | ValueType::Uuid
            | ValueType::Json,
            _,
        ) => S::String(None),
    }
}

/// Converts a value for binding, with a typed NULL.
pub fn bind(value: &Value, ty: ValueType, dialect: Dialect) -> sea_query::Value {
    if value.is_null() {
        typed_null(ty, dialect)
    } else {
        to_sea(value, dialect)
    }
}

fn decode_err(column: usize, ty: ValueType, source: impl std::fmt::Display) -> DbError {
    DbError::Decode(format!("column {column} as {ty:?}: {source}"))
}

pub(crate) fn decode_sqlite(row: &SqliteRow, i: usize, ty: ValueType) -> Result<Value, DbError> {
    let e = |s: sqlx::Error| decode_err(i, ty, s);
    Ok(match ty {
        ValueType::Bool => row.try_get::<Option<bool>, _>(i).map_err(e)?.into(),
        ValueType::I32 => row.try_get::<Option<i32>, _>(i).map_err(e)?.into(),
        ValueType::I64 => row.try_get::<Option<i64>, _>(i).map_err(e)?.into(),
        ValueType::F64 => row.try_get::<Option<f64>, _>(i).map_err(e)?.into(),
        ValueType::String => row.try_get::<Option<String>, _>(i).map_err(e)?.into(),
        ValueType::Date => row.try_get::<Option<NaiveDate>, _>(i).map_err(e)?.into(),
        ValueType::Decimal => match row.try_get::<Option<String>, _>(i).map_err(e)? {
            None => Value::Null,
            Some(s) => Value::Decimal(s.parse::<Decimal>().map_err(|x| decode_err(i, ty, x))?),
        },
        ValueType::DateTime => match row.try_get::<Option<String>, _>(i).map_err(e)? {
            None => Value::Null,
            Some(s) => Value::DateTime(
                DateTime::parse_from_rfc3339(&s)
                    .map_err(|x| decode_err(i, ty, x))?
                    .with_timezone(&Utc),
            ),
        },
        ValueType::Uuid => match row.try_get::<Option<String>, _>(i).map_err(e)? {
            None => Value::Null,
            Some(s) => Value::Uuid(Uuid::parse_str(&s).map_err(|x| decode_err(i, ty, x))?),
        },
        ValueType::Json => match row.try_get::<Option<String>, _>(i).map_err(e)? {
            None => Value::Null,
            Some(s) => Value::Json(serde_json::from_str(&s).map_err(|x| decode_err(i, ty, x))?),
        },
    })
}

pub(crate) fn decode_postgres(row: &PgRow, i: usize, ty: ValueType) -> Result<Value, DbError> {
    let e = |s: sqlx::Error| decode_err(i, ty, s);
    Ok(match ty {
        ValueType::Bool => row.try_get::<Option<bool>, _>(i).map_err(e)?.into(),
        ValueType::I32 => row.try_get::<Option<i32>, _>(i).map_err(e)?.into(),
        ValueType::I64 => row.try_get::<Option<i64>, _>(i).map_err(e)?.into(),
        ValueType::F64 => row.try_get::<Option<f64>, _>(i).map_err(e)?.into(),
        ValueType::String => row.try_get::<Option<String>, _>(i).map_err(e)?.into(),
        ValueType::Date => row.try_get::<Option<NaiveDate>, _>(i).map_err(e)?.into(),
        ValueType::Decimal => row.try_get::<Option<Decimal>, _>(i).map_err(e)?.into(),
        ValueType::DateTime => row
            .try_get::<Option<DateTime<Utc>>, _>(i)
            .map_err(e)?
            .into(),
        ValueType::Uuid => row.try_get::<Option<Uuid>, _>(i).map_err(e)?.into(),
        ValueType::Json => row
            .try_get::<Option<serde_json::Value>, _>(i)
            .map_err(e)?
            .into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_datetimes_sort_as_text() {
        let a = DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let b = DateTime::parse_from_rfc3339("2024-01-01T00:00:00.5Z")
            .unwrap()
            .with_timezone(&Utc);
        let (sea_query::Value::String(Some(x)), sea_query::Value::String(Some(y))) = (
            to_sea(&Value::DateTime(a), Dialect::Sqlite),
            to_sea(&Value::DateTime(b), Dialect::Sqlite),
        ) else {
            panic!("datetimes are text on SQLite");
        };
        assert_eq!(x, "2024-01-01T00:00:00.000000Z");
        assert!(x < y);
    }
}
