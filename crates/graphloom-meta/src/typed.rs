//! Rust values in and out of [`Value`]s, for the typed model API: a model's
//! struct built from a row ([`FromRow`], implemented by `#[derive(Model)]`),
//! and what a typed column compares with ([`Operand`]).

use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::{ForeignKey, Id, ManyToMany, Model, ModelMeta, OneToOne, Value};

/// A Rust field type read from its column's value.
pub trait FromValue: Sized {
    /// The value, or what was expected instead.
    fn from_value(v: Value) -> Result<Self, String>;
}

macro_rules! from_value {
    ($($t:ty => $variant:ident, $what:literal),* $(,)?) => {$(
        impl FromValue for $t {
            fn from_value(v: Value) -> Result<Self, String> {
                match v {
                    Value::$variant(x) => Ok(x),
                    other => Err(format!("expected {}, got {other:?}", $what)),
                }
            }
        }
    )*};
}

from_value!(
    bool => Bool, "a boolean",
    i32 => I32, "a 32-bit integer",
    f64 => F64, "a number",
    Decimal => Decimal, "a decimal",
    String => String, "text",
    NaiveDate => Date, "a date",
    DateTime<Utc> => DateTime, "a date-time",
    Uuid => Uuid, "a UUID",
    serde_json::Value => Json, "JSON",
);

impl FromValue for i64 {
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::I64(x) => Ok(x),
            Value::I32(x) => Ok(i64::from(x)),
            other => Err(format!("expected a 64-bit integer, got {other:?}")),
        }
    }
}

impl FromValue for Id {
    fn from_value(v: Value) -> Result<Self, String> {
        i64::from_value(v).map(Id)
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

impl<M> FromValue for ForeignKey<M> {
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::Null => Err("expected a key, got NULL".into()),
            key => Ok(ForeignKey::new(key)),
        }
    }
}

impl<M> FromValue for OneToOne<M> {
    fn from_value(v: Value) -> Result<Self, String> {
        match v {
            Value::Null => Err("expected a key, got NULL".into()),
            key => Ok(OneToOne::new(key)),
        }
    }
}

impl From<Id> for Value {
    fn from(id: Id) -> Self {
        Value::I64(id.0)
    }
}

/// A Rust field type as its column's value; `None` for what no column
/// holds (a many-to-many relation).
pub trait ToValue {
    fn to_value(&self) -> Option<Value>;
}

macro_rules! to_value {
    ($($t:ty),* $(,)?) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Option<Value> {
                Some(Value::from(self.clone()))
            }
        }
    )*};
}

to_value!(
    bool,
    i32,
    i64,
    f64,
    Decimal,
    String,
    NaiveDate,
    DateTime<Utc>,
    Uuid,
    serde_json::Value,
    Id
);

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Option<Value> {
        match self {
            None => Some(Value::Null),
            Some(v) => v.to_value(),
        }
    }
}

impl<M> ToValue for ForeignKey<M> {
    fn to_value(&self) -> Option<Value> {
        Some(self.key.clone())
    }
}

impl<M> ToValue for OneToOne<M> {
    fn to_value(&self) -> Option<Value> {
        Some(self.key.clone())
    }
}

impl<M> ToValue for ManyToMany<M> {
    fn to_value(&self) -> Option<Value> {
        None
    }
}

/// A model's struct as its stored values, by Rust field name; implemented
/// by `#[derive(Model)]`.
pub trait ToRow: Model {
    fn to_row(&self) -> Vec<(&'static str, Value)>;
}

/// A row being turned into a model's struct: its values by field, and the
/// keys of the many-to-many relations that were loaded with it.
#[derive(Debug)]
pub struct RowReader<'a> {
    model: &'a ModelMeta,
    values: Vec<Value>,
    many: Vec<(&'static str, Vec<Value>)>,
}

impl<'a> RowReader<'a> {
    /// `values` by field index; `many` the loaded many-to-many keys, by the
    /// declaring Rust field.
    pub fn new(
        model: &'a ModelMeta,
        values: Vec<Value>,
        many: Vec<(&'static str, Vec<Value>)>,
    ) -> Self {
        RowReader {
            model,
            values,
            many,
        }
    }

    /// Takes the value of the field `name` as `T`.
    pub fn take<T: FromField>(&mut self, name: &'static str) -> Result<T, String> {
        T::from_field(self, name)
    }

    fn value(&mut self, name: &str) -> Result<Value, String> {
        let (i, f) = self
            .model
            .field(name)
            .ok_or_else(|| format!("{} has no field `{name}`", self.model.key))?;
        let v = std::mem::replace(&mut self.values[i], Value::Null);
        // The owning service's fields of another service's entity are not
        // known from its table here: a type without null reads its zero.
        if v.is_null() && !f.nullable && !self.model.stores_here(i) {
            return Ok(zero(&f.kind));
        }
        Ok(v)
    }

    fn keys(&mut self, name: &str) -> Vec<Value> {
        self.many
            .iter_mut()
            .find(|(n, _)| *n == name)
            .map(|(_, keys)| std::mem::take(keys))
            .unwrap_or_default()
    }
}

/// A struct field read from a row: a column's value, or a many-to-many
/// relation's keys (empty unless loaded with the row).
pub trait FromField: Sized {
    fn from_field(row: &mut RowReader<'_>, name: &'static str) -> Result<Self, String>;
}

impl<T: FromValue> FromField for T {
    fn from_field(row: &mut RowReader<'_>, name: &'static str) -> Result<Self, String> {
        let v = row.value(name)?;
        T::from_value(v).map_err(|e| format!("`{name}`: {e}"))
    }
}

impl<M> FromField for ManyToMany<M> {
    fn from_field(row: &mut RowReader<'_>, name: &'static str) -> Result<Self, String> {
        Ok(ManyToMany::new(row.keys(name)))
    }
}

/// A model's struct built from a row; implemented by `#[derive(Model)]`.
pub trait FromRow: Model + Sized {
    fn from_row(row: RowReader<'_>) -> Result<Self, String>;
}

/// A Rust value a column holding `T` can be compared with or set to:
/// text for `String`, an [`Id`], an integer, a UUID or text for a key (as
/// the target's primary key is), the enum for an
/// enum field, any of these for `Option<T>`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be compared with or stored in a `{T}` field",
    note = "use a value of the field's own type (an `Id`, integer, UUID or text for keys, `&str` or `String` for text)"
)]
pub trait Operand<T> {
    fn into_value(self) -> Value;
}

macro_rules! operand {
    ($($field:ty: $($rust:ty),+;)*) => {$($(
        impl Operand<$field> for $rust {
            fn into_value(self) -> Value {
                Value::from(self)
            }
        }
    )+)*};
}

operand!(
    bool: bool;
    i32: i32;
    i64: i64, i32;
    f64: f64;
    Decimal: Decimal;
    String: String, &str;
    NaiveDate: NaiveDate;
    DateTime<Utc>: DateTime<Utc>;
    Uuid: Uuid;
    serde_json::Value: serde_json::Value;
    Id: Id, i64;
);

macro_rules! key_operand {
    ($($rel:ident),*) => {$(
        impl<M> Operand<$rel<M>> for Id {
            fn into_value(self) -> Value {
                Value::from(self)
            }
        }
        impl<M> Operand<$rel<M>> for i64 {
            fn into_value(self) -> Value {
                Value::I64(self)
            }
        }
        impl<M> Operand<$rel<M>> for Uuid {
            fn into_value(self) -> Value {
                Value::Uuid(self)
            }
        }
        impl<M> Operand<$rel<M>> for &str {
            fn into_value(self) -> Value {
                Value::from(self)
            }
        }
        impl<M> Operand<$rel<M>> for String {
            fn into_value(self) -> Value {
                Value::String(self)
            }
        }
        impl<M> Operand<$rel<M>> for &Value {
            fn into_value(self) -> Value {
                self.clone()
            }
        }
    )*};
}

key_operand!(ForeignKey, OneToOne);

impl<T, O: Operand<T>> Operand<Option<T>> for O {
    fn into_value(self) -> Value {
        O::into_value(self)
    }
}

/// The zero value of a kind: empty text, 0, false, the first enum value.
fn zero(kind: &crate::FieldKind) -> Value {
    use crate::FieldKind as K;
    match kind {
        K::Bool => Value::Bool(false),
        K::I32 => Value::I32(0),
        K::AutoId | K::I64 | K::ForeignKey { .. } => Value::I64(0),
        K::F64 => Value::F64(0.0),
        K::Decimal { .. } => Value::Decimal(rust_decimal::Decimal::ZERO),
        K::String { .. } | K::Text => Value::String(String::new()),
        K::Enum(e) => e
            .variants
            .first()
            .map_or(Value::Null, |v| Value::String(v.stored().into_owned())),
        K::Date => Value::Date(chrono::NaiveDate::default()),
        K::DateTime => Value::DateTime(chrono::DateTime::<chrono::Utc>::default()),
        K::Uuid => Value::Uuid(uuid::Uuid::nil()),
        K::Json => Value::Json(serde_json::Value::Null),
    }
}
