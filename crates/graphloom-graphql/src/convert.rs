//! Between GraphQL values and column values, per field kind. Each table here
//! matches [`FieldKind`] exhaustively.

use async_graphql::{Name, Value as Gql, dynamic::TypeRef};
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use graphloom_meta::{FieldKind, FieldMeta, ModelMeta, Registry, TypeDesc, Value, ValueType};
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

/// One field of a model's key as the generated update and delete take it
/// and as the delete's payload reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyArgument {
    /// The key field (index into the model's fields).
    pub field: usize,
    /// The argument: `id` for a one-field key, else the field's name
    /// (`shelfId`).
    pub name: String,
    /// The argument's GraphQL type, non-null: `ID`, or a composite key's
    /// part's own type.
    pub type_name: String,
    /// The delete payload's field: `deletedId`, or `deletedShelfId`.
    pub deleted: String,
}

/// The arguments that name a row of `m` in its generated update and
/// delete, in key order.
pub fn key_arguments(m: &ModelMeta) -> Vec<KeyArgument> {
    match m.pk.as_slice() {
        [one] => vec![KeyArgument {
            field: *one,
            name: "id".into(),
            type_name: "ID".into(),
            deleted: "deletedId".into(),
        }],
        many => many
            .iter()
            .map(|&i| {
                let f = &m.fields[i];
                KeyArgument {
                    field: i,
                    name: f.graphql_name.clone(),
                    type_name: type_name(f),
                    deleted: format!(
                        "deleted{}",
                        graphloom_meta::naming::upper_first(&f.graphql_name)
                    ),
                }
            })
            .collect(),
    }
}

/// The GraphQL type name of a field's value.
pub fn type_name(field: &FieldMeta) -> String {
    if field.primary_key && !field.composite_key {
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

/// A JSON value as a GraphQL value of type `d`: an enum's text as the enum
/// value (`QUIET`, not `"QUIET"`), the rest as JSON maps.
pub fn typed_value(d: &TypeDesc, v: &serde_json::Value) -> async_graphql::Value {
    match (d, v) {
        (TypeDesc::Nullable(inner), v) => typed_value(inner, v),
        (TypeDesc::Enum(_), serde_json::Value::String(s)) => {
            async_graphql::Value::Enum(async_graphql::Name::new(s))
        }
        (TypeDesc::List(item), serde_json::Value::Array(items)) => {
            async_graphql::Value::List(items.iter().map(|i| typed_value(item, i)).collect())
        }
        (TypeDesc::Id, serde_json::Value::Number(n)) => async_graphql::Value::String(n.to_string()),
        // A value type: its declared fields, each by its own type (a key
        // serde wrote that the type does not declare is not shown).
        (TypeDesc::Object(o), serde_json::Value::Object(map)) => async_graphql::Value::Object(
            o.fields()
                .iter()
                .map(|f| {
                    let v = map.get(&f.name).unwrap_or(&serde_json::Value::Null);
                    (Name::new(&f.name), typed_value(&f.ty, v))
                })
                .collect(),
        ),
        (_, v) => async_graphql::Value::from_json(v.clone()).unwrap_or(async_graphql::Value::Null),
    }
}

/// An argument of a custom or computed field: its type from the Rust
/// type, and its default (the Rust value's JSON) if it has one.
pub(crate) fn input_value(
    name: &str,
    ty: &TypeDesc,
    default: Option<&serde_json::Value>,
) -> async_graphql::dynamic::InputValue {
    let arg = async_graphql::dynamic::InputValue::new(name, type_ref(ty));
    match default {
        Some(d) => arg.default_value(typed_value(ty, d)),
        None => arg,
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
            TypeDesc::Id => Some(TypeRef::ID),
            TypeDesc::Enum(e) => Some(e.name),
            TypeDesc::Json => Some("JSON"),
            TypeDesc::Object(o) => Some(o.name),
            TypeDesc::Model { name, .. } => Some(name),
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

/// A column value as it leaves in a response: the one table both the
/// resolvers ([`to_graphql`]) and the fast path's JSON writer read.
#[derive(Debug, Clone, PartialEq)]
pub enum Out<'a> {
    Null,
    Bool(bool),
    Int(i32),
    Float(f64),
    Str(std::borrow::Cow<'a, str>),
    /// A 64-bit integer or an id, which leaves as a string (JSON numbers
    /// past 2^53 lose digits in JavaScript); written without a `String`.
    I64(i64),
    /// One of the enum's GraphQL values.
    Enum(String),
    Json(&'a serde_json::Value),
}

/// How a field's value leaves: enums as their GraphQL name, decimals at the
/// field's scale, 64-bit integers and ids as strings.
pub fn output<'a>(field: &FieldMeta, value: &'a Value) -> Out<'a> {
    match (field.kind, value) {
        (_, Value::Null) => Out::Null,
        (FieldKind::Enum(e), Value::String(s)) => match e.by_stored(s) {
            Some(v) => Out::Enum(v.graphql()),
            // A value written outside graphloom: show it rather than fail the row.
            None => Out::Str(s.as_str().into()),
        },
        (FieldKind::Decimal { decimal_places, .. }, Value::Decimal(d)) => {
            let mut d = *d;
            d.rescale(decimal_places);
            Out::Str(d.to_string().into())
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
        ) => plain_output(v),
    }
}

/// A value as it leaves, by its own type (IDs and 64-bit integers as strings).
pub fn plain_output(value: &Value) -> Out<'_> {
    match value {
        Value::Null => Out::Null,
        Value::Bool(b) => Out::Bool(*b),
        Value::I32(v) => Out::Int(*v),
        Value::I64(v) => Out::I64(*v),
        Value::F64(v) => Out::Float(*v),
        Value::Decimal(d) => Out::Str(d.to_string().into()),
        Value::String(s) => Out::Str(s.as_str().into()),
        Value::Date(d) => Out::Str(d.to_string().into()),
        Value::DateTime(d) => Out::Str(d.to_rfc3339_opts(SecondsFormat::AutoSi, true).into()),
        Value::Uuid(u) => Out::Str(u.to_string().into()),
        Value::Json(j) => Out::Json(j),
        // No field holds a composite key; its text form if one is shown.
        Value::Tuple(_) => Out::Str(value.key_string().into()),
    }
}

impl Out<'_> {
    /// As an async-graphql value.
    pub fn into_graphql(self) -> Gql {
        match self {
            Out::Null => Gql::Null,
            Out::Bool(b) => Gql::Boolean(b),
            Out::Int(v) => Gql::from(v),
            Out::Float(v) => Gql::from(v),
            Out::Str(s) => Gql::String(s.into_owned()),
            Out::I64(v) => Gql::String(v.to_string()),
            Out::Enum(name) => Gql::Enum(Name::new(name)),
            Out::Json(j) => Gql::from_json(j.clone()).unwrap_or(Gql::Null),
        }
    }

    /// Appends the value as JSON.
    pub fn write_json(&self, buf: &mut Vec<u8>) {
        match self {
            Out::Null => buf.extend_from_slice(b"null"),
            Out::Bool(true) => buf.extend_from_slice(b"true"),
            Out::Bool(false) => buf.extend_from_slice(b"false"),
            Out::Int(v) => json_into(buf, v),
            // serde_json writes NaN and infinities as null, as async-graphql does.
            Out::Float(v) => json_into(buf, v),
            Out::Str(s) => json_into(buf, s.as_ref()),
            Out::I64(v) => {
                buf.push(b'"');
                json_into(buf, v);
                buf.push(b'"');
            }
            Out::Enum(name) => json_into(buf, name.as_str()),
            Out::Json(j) => json_into(buf, j),
        }
    }
}

/// Appends `value` as JSON (writing into a `Vec` cannot fail).
pub fn json_into(buf: &mut Vec<u8>, value: &(impl serde::Serialize + ?Sized)) {
    if serde_json::to_writer(&mut *buf, value).is_err() {
        buf.extend_from_slice(b"null");
    }
}

/// A column value as GraphQL output.
pub fn to_graphql(field: &FieldMeta, value: &Value) -> Gql {
    output(field, value).into_graphql()
}

/// A value as GraphQL output, by its own type (IDs and 64-bit integers as strings).
pub fn plain_to_graphql(value: &Value) -> Gql {
    plain_output(value).into_graphql()
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

    #[test]
    fn sixty_four_bit_integers_leave_as_strings_on_both_paths() {
        for v in [0, -7, i64::MAX, i64::MIN] {
            let value = Value::I64(v);
            let out = plain_output(&value);
            let mut json = Vec::new();
            out.write_json(&mut json);
            assert_eq!(String::from_utf8(json).ok(), Some(format!("\"{v}\"")));
            assert_eq!(out.into_graphql(), Gql::String(v.to_string()));
        }
    }
}
