//! Between GraphQL values and column values, per field kind. Each table here
//! matches [`FieldKind`] exhaustively.

use async_graphql::{Name, Value as Gql, dynamic::TypeRef};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use graphloom_meta::{FieldKind, FieldMeta, Registry, TypeDesc, Value, ValueType};
use graphloom_query::{FieldCode, FieldError};
use rust_decimal::Decimal;
use uuid::Uuid;

/// GraphQL names of the custom scalars.
pub const SCALARS: [(&str, &str); 6] = [
    (
        "BigInt",
        "A 64-bit integer, as a string to keep its precision in JavaScript.",
    ),
    (
        "Decimal",
        "An exact decimal number, as a string such as \"12.50\".",
    ),
    ("Date", "A calendar date, ISO 8601: \"2024-05-31\"."),
    (
        "DateTime",
        "A UTC instant, RFC 3339: \"2024-05-31T12:00:00Z\".",
    ),
    ("UUID", "A UUID in its hyphenated text form."),
    ("JSON", "Any JSON value."),
];

/// The GraphQL type name of a field's value.
pub fn type_name(field: &FieldMeta) -> String {
    if field.primary_key {
        return "ID".into();
    }
    match field.kind {
        FieldKind::AutoId | FieldKind::ForeignKey { .. } => "ID".into(),
        FieldKind::Bool => "Boolean".into(),
        FieldKind::I32 => "Int".into(),
        FieldKind::I64 => "BigInt".into(),
        FieldKind::F64 => "Float".into(),
        FieldKind::Decimal { .. } => "Decimal".into(),
        FieldKind::String { .. } | FieldKind::Text => "String".into(),
        FieldKind::Date => "Date".into(),
        FieldKind::DateTime => "DateTime".into(),
        FieldKind::Uuid => "UUID".into(),
        FieldKind::Json => "JSON".into(),
        FieldKind::Enum(e) => e.name.into(),
    }
}

/// The GraphQL type of a [`TypeDesc`]: non-null unless it is `Nullable`.
pub fn type_ref(d: &TypeDesc) -> TypeRef {
    fn named(d: &TypeDesc) -> Option<&'static str> {
        match d {
            TypeDesc::Boolean => Some(TypeRef::BOOLEAN),
            TypeDesc::Int => Some(TypeRef::INT),
            TypeDesc::Float => Some(TypeRef::FLOAT),
            TypeDesc::String => Some(TypeRef::STRING),
            TypeDesc::Json => Some("JSON"),
            TypeDesc::List(_) | TypeDesc::Nullable(_) => None,
        }
    }
    match d {
        TypeDesc::Nullable(inner) => match type_ref(inner) {
            TypeRef::NonNull(t) => *t,
            other => other,
        },
        TypeDesc::List(item) => TypeRef::NonNull(Box::new(TypeRef::List(Box::new(type_ref(item))))),
        scalar => TypeRef::named_nn(named(scalar).unwrap_or("JSON")),
    }
}

/// A column value as GraphQL output.
pub fn to_graphql(field: &FieldMeta, value: &Value) -> Gql {
    match (field.kind, value) {
        (_, Value::Null) => Gql::Null,
        (FieldKind::Enum(e), Value::String(s)) => match e.by_stored(s) {
            Some(v) => Gql::Enum(Name::new(v.graphql())),
            // A value written outside graphloom: show it rather than fail the row.
            None => Gql::String(s.clone()),
        },
        (FieldKind::Decimal { decimal_places, .. }, Value::Decimal(d)) => {
            let mut d = *d;
            d.rescale(decimal_places);
            Gql::String(d.to_string())
        }
        (
            FieldKind::AutoId
            | FieldKind::Bool
            | FieldKind::I32
            | FieldKind::I64
            | FieldKind::F64
            | FieldKind::Decimal { .. }
            | FieldKind::String { .. }
            | FieldKind::Text
            | FieldKind::Date
            | FieldKind::DateTime
            | FieldKind::Uuid
            | FieldKind::Json
            | FieldKind::Enum(_)
            | FieldKind::ForeignKey { .. },
            v,
        ) => plain_to_graphql(v),
    }
}

/// A value as GraphQL output, by its own type (IDs and 64-bit integers as strings).
pub fn plain_to_graphql(value: &Value) -> Gql {
    match value {
        Value::Null => Gql::Null,
        Value::Bool(b) => Gql::Boolean(*b),
        Value::I32(v) => Gql::from(*v),
        Value::I64(v) => Gql::String(v.to_string()),
        Value::F64(v) => Gql::from(*v),
        Value::Decimal(d) => Gql::String(d.to_string()),
        Value::String(s) => Gql::String(s.clone()),
        Value::Date(d) => Gql::String(d.to_string()),
        Value::DateTime(d) => Gql::String(d.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        Value::Uuid(u) => Gql::String(u.to_string()),
        Value::Json(j) => Gql::from_json(j.clone()).unwrap_or(Gql::Null),
    }
}

/// Parses a GraphQL input into a value of `ty`; the error says what was expected.
pub fn parse_typed(
    ty: ValueType,
    enum_decl: Option<&graphloom_meta::EnumDecl>,
    v: &Gql,
) -> Result<Value, String> {
    if matches!(v, Gql::Null) {
        return Ok(Value::Null);
    }
    if let Some(e) = enum_decl {
        let name = match v {
            Gql::Enum(n) => n.as_str(),
            Gql::String(s) => s.as_str(),
            _ => return Err(format!("expected a {} value", e.name)),
        };
        return e
            .by_graphql(name)
            .map(|variant| Value::String(variant.stored().into_owned()))
            .ok_or_else(|| format!("`{name}` is not a {} value", e.name));
    }
    let text = |v: &Gql| match v {
        Gql::String(s) => Some(s.clone()),
        Gql::Number(n) => Some(n.to_string()),
        _ => None,
    };
    match ty {
        ValueType::Bool => match v {
            Gql::Boolean(b) => Ok(Value::Bool(*b)),
            _ => Err("expected a boolean".into()),
        },
        ValueType::I32 => match v {
            Gql::Number(n) => n
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .map(Value::I32)
                .ok_or_else(|| "expected a 32-bit integer".into()),
            _ => Err("expected an integer".into()),
        },
        ValueType::I64 => text(v)
            .and_then(|s| s.trim().parse::<i64>().ok())
            .map(Value::I64)
            .ok_or_else(|| "expected a 64-bit integer".into()),
        ValueType::F64 => match v {
            Gql::Number(n) => n
                .as_f64()
                .map(Value::F64)
                .ok_or_else(|| "expected a number".into()),
            _ => Err("expected a number".into()),
        },
        ValueType::Decimal => text(v)
            .and_then(|s| s.trim().parse::<Decimal>().ok())
            .map(Value::Decimal)
            .ok_or_else(|| "expected a decimal number such as \"12.50\"".into()),
        ValueType::String => match v {
            Gql::String(s) => Ok(Value::String(s.clone())),
            _ => Err("expected a string".into()),
        },
        ValueType::Date => text(v)
            .and_then(|s| s.parse::<NaiveDate>().ok())
            .map(Value::Date)
            .ok_or_else(|| "expected a date such as \"2024-05-31\"".into()),
        ValueType::DateTime => text(v)
            .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            .map(|d| Value::DateTime(d.with_timezone(&Utc)))
            .ok_or_else(|| {
                "expected an RFC 3339 date-time such as \"2024-05-31T12:00:00Z\"".into()
            }),
        ValueType::Uuid => text(v)
            .and_then(|s| Uuid::parse_str(&s).ok())
            .map(Value::Uuid)
            .ok_or_else(|| "expected a UUID".into()),
        ValueType::Json => v
            .clone()
            .into_json()
            .map(Value::Json)
            .map_err(|e| format!("expected JSON: {e}")),
    }
}

/// Parses input for a field of a model: its GraphQL form into a value
/// (`INVALID` when it is not one), then the engine's checks of the field
/// (null, `max_length`, enum values).
pub fn parse_field(registry: &Registry, field: &FieldMeta, v: &Gql) -> Result<Value, FieldError> {
    let parsed = parse_typed(registry.value_type(field), field.kind.enum_decl(), v)
        .map_err(|m| FieldError::new(&field.graphql_name, m, FieldCode::Invalid))?;
    graphloom_query::write::check_value(registry, field, parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_values() {
        assert_eq!(
            parse_typed(ValueType::I64, None, &Gql::String("42".into())),
            Ok(Value::I64(42))
        );
        assert_eq!(
            parse_typed(ValueType::I64, None, &Gql::from(42)),
            Ok(Value::I64(42))
        );
        assert!(parse_typed(ValueType::I64, None, &Gql::String("x".into())).is_err());
        assert!(parse_typed(ValueType::I32, None, &Gql::from(1_i64 << 40)).is_err());
        assert!(parse_typed(ValueType::DateTime, None, &Gql::String("2024-01-01".into())).is_err());
        assert_eq!(
            parse_typed(ValueType::Bool, None, &Gql::Null),
            Ok(Value::Null)
        );
    }
}
