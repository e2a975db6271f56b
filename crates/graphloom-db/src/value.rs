//! Values in and out of each database: binding goes through the dialect
//! ([`crate::SqlDialect::to_sea`]), decoding through each driver's rows.

use chrono::{DateTime, NaiveDate, Utc};
use graphloom_meta::{Value, ValueType};
use rust_decimal::Decimal;
use sqlx::{Row, postgres::PgRow, sqlite::SqliteRow};
use uuid::Uuid;

use crate::{DbError, Dialect};

/// Converts a value to a sea-query value bound for `dialect`.
pub fn to_sea(value: &Value, dialect: Dialect) -> sea_query::Value {
    dialect.to_sea(value)
}

/// A typed NULL, so PostgreSQL can infer the parameter type.
pub fn typed_null(ty: ValueType, dialect: Dialect) -> sea_query::Value {
    dialect.typed_null(ty)
}

/// Converts a value for binding, with a typed NULL.
pub fn bind(value: &Value, ty: ValueType, dialect: Dialect) -> sea_query::Value {
    if value.is_null() {
        dialect.typed_null(ty)
    } else {
        dialect.to_sea(value)
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
