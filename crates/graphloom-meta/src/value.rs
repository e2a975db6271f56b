//! The dynamic value that flows between the database, the planner and GraphQL.

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

/// One column value. Enums travel as their stored text.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    I32(i32),
    I64(i64),
    F64(f64),
    Decimal(Decimal),
    String(String),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
    Uuid(Uuid),
    Json(serde_json::Value),
}

/// A value as a map key where rows are grouped by a key column (children
/// by their parent's key): integers without formatting, anything else by
/// its [`Value::key_string`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Key {
    Int(i64),
    Text(String),
}

impl Value {
    /// `n` nulls: a row's values before its selected columns are set.
    /// (`vec![Value::Null; n]` clones the null `n` times through `Clone`,
    /// which showed in profiles of rows built by the thousand.)
    pub fn nulls(n: usize) -> Vec<Value> {
        let mut v = Vec::with_capacity(n);
        v.resize_with(n, || Value::Null);
        v
    }

    /// This value as a grouping [`Key`]; `I32` and `I64` of one number are one key.
    pub fn key(&self) -> Key {
        match self {
            Value::I32(v) => Key::Int(i64::from(*v)),
            Value::I64(v) => Key::Int(*v),
            other => Key::Text(other.key_string()),
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// A stable text form used for map keys (parent keys in batched fetches) and cursors.
    pub fn key_string(&self) -> String {
        match self {
            Value::Null => String::from("null"),
            Value::Bool(b) => b.to_string(),
            Value::I32(v) => v.to_string(),
            Value::I64(v) => v.to_string(),
            Value::F64(v) => v.to_string(),
            Value::Decimal(v) => v.normalize().to_string(),
            Value::String(v) => v.clone(),
            Value::Date(v) => v.to_string(),
            Value::DateTime(v) => v.to_rfc3339(),
            Value::Uuid(v) => v.to_string(),
            Value::Json(v) => v.to_string(),
        }
    }
}

impl Value {
    /// Parses the text form of a value of type `ty` (the inverse of
    /// [`Value::key_string`] for keys): a principal's user id as a key
    /// column's value, a path segment as a primary key.
    pub fn parse_text(ty: crate::ValueType, text: &str) -> Option<Value> {
        use crate::ValueType as T;
        let s = text.trim();
        Some(match ty {
            T::Bool => Value::Bool(s.parse().ok()?),
            T::I32 => Value::I32(s.parse().ok()?),
            T::I64 => Value::I64(s.parse().ok()?),
            T::F64 => Value::F64(s.parse().ok()?),
            T::Decimal => Value::Decimal(s.parse().ok()?),
            T::String => Value::String(text.to_owned()),
            T::Date => Value::Date(s.parse().ok()?),
            T::DateTime => {
                Value::DateTime(DateTime::parse_from_rfc3339(s).ok()?.with_timezone(&Utc))
            }
            T::Uuid => Value::Uuid(Uuid::parse_str(s).ok()?),
            T::Json => Value::Json(serde_json::from_str(s).ok()?),
        })
    }
}

macro_rules! value_from {
    ($($t:ty => $variant:ident),* $(,)?) => {
        $(impl From<$t> for Value {
            fn from(v: $t) -> Self {
                Value::$variant(v)
            }
        })*
    };
}

value_from!(
    bool => Bool,
    i32 => I32,
    i64 => I64,
    f64 => F64,
    Decimal => Decimal,
    String => String,
    NaiveDate => Date,
    DateTime<Utc> => DateTime,
    Uuid => Uuid,
    serde_json::Value => Json,
);

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::String(v.to_owned())
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}
