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
    /// The key of a row whose primary key is several fields
    /// (`#[model(primary_key = "a b")]`): their values in key order. Never
    /// a column's value: statements bind its parts.
    Tuple(Vec<Value>),
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
            Value::Tuple(parts) => parts
                .iter()
                .map(|p| escape_part(&p.key_string()))
                .collect::<Vec<_>>()
                .join(","),
        }
    }

    /// The parts of a key: a composite key's values, or the one value.
    pub fn parts(&self) -> &[Value] {
        match self {
            Value::Tuple(parts) => parts,
            one => std::slice::from_ref(one),
        }
    }

    /// Parses the text form of a key whose fields have the types `types`:
    /// one value, or a composite key's parts separated by commas
    /// ([`Value::key_string`]'s form: `%` and `,` inside a part are
    /// percent-escaped).
    pub fn parse_key(types: &[crate::ValueType], text: &str) -> Option<Value> {
        match types {
            [one] => Value::parse_text(*one, text),
            many => {
                let parts: Vec<&str> = text.split(',').collect();
                if parts.len() != many.len() {
                    return None;
                }
                let values = parts
                    .iter()
                    .zip(many)
                    .map(|(p, ty)| Value::parse_text(*ty, &unescape_part(p)?))
                    .collect::<Option<Vec<_>>>()?;
                Some(Value::Tuple(values))
            }
        }
    }
}

/// A composite key's part in its text form: `%` and `,` escaped as in a URL.
fn escape_part(s: &str) -> String {
    s.replace('%', "%25").replace(',', "%2C")
}

fn unescape_part(s: &str) -> Option<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        match rest.get(i + 1..i + 3) {
            Some("25") => out.push('%'),
            Some(c) if c.eq_ignore_ascii_case("2C") => out.push(','),
            _ => return None,
        }
        rest = &rest[i + 3..];
    }
    out.push_str(rest);
    Some(out)
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

/// A composite key: `(user_id, group_id)`.
impl<A: Into<Value>, B: Into<Value>> From<(A, B)> for Value {
    fn from((a, b): (A, B)) -> Self {
        Value::Tuple(vec![a.into(), b.into()])
    }
}

/// A composite key of three fields.
impl<A: Into<Value>, B: Into<Value>, C: Into<Value>> From<(A, B, C)> for Value {
    fn from((a, b, c): (A, B, C)) -> Self {
        Value::Tuple(vec![a.into(), b.into(), c.into()])
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

#[cfg(test)]
mod tests {
    use super::Value;
    use crate::ValueType;

    #[test]
    fn composite_keys_round_trip_through_their_text_form() {
        let key = Value::Tuple(vec![Value::I64(7), Value::String("a,b%c".into())]);
        let text = key.key_string();
        assert_eq!(text, "7,a%2Cb%25c");
        let types = [ValueType::I64, ValueType::String];
        assert_eq!(Value::parse_key(&types, &text), Some(key));
        // Too few or too many parts, a bad escape or a bad part: no key.
        assert_eq!(Value::parse_key(&types, "7"), None);
        assert_eq!(Value::parse_key(&types, "7,a,b"), None);
        assert_eq!(Value::parse_key(&types, "7,a%zz"), None);
        assert_eq!(Value::parse_key(&types, "x,a"), None);
        // One field: the text is the value, commas and all.
        assert_eq!(
            Value::parse_key(&[ValueType::String], "a,b"),
            Some(Value::String("a,b".into()))
        );
    }
}
