//! The shape of values that are not columns (computed fields, custom
//! arguments and results), described without any surface's type system;
//! each surface maps [`TypeDesc`] to its own (GraphQL types, JSON Schema).

/// A value's type. Non-null unless wrapped in [`TypeDesc::Nullable`], as in Rust.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TypeDesc {
    Boolean,
    /// A 32-bit integer.
    Int,
    Float,
    String,
    /// A key (GraphQL's `ID`): text on the wire, an integer or text given.
    Id,
    /// A `#[derive(ModelEnum)]` enum, by its GraphQL values.
    Enum(&'static crate::EnumDecl),
    /// Any JSON value.
    Json,
    List(Box<TypeDesc>),
    Nullable(Box<TypeDesc>),
}

/// The [`TypeDesc`] of a Rust type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no graphloom type",
    note = "supported: i32, f64, bool, String, Id, a #[derive(ModelEnum)] enum, serde_json::Value, and Option<T> and Vec<T> of these"
)]
pub trait Typed {
    fn type_desc() -> TypeDesc;
}

macro_rules! typed {
    ($($t:ty => $d:expr),* $(,)?) => {$(
        impl Typed for $t {
            fn type_desc() -> TypeDesc {
                $d
            }
        }
    )*};
}

typed!(
    i32 => TypeDesc::Int,
    f64 => TypeDesc::Float,
    bool => TypeDesc::Boolean,
    String => TypeDesc::String,
    crate::Id => TypeDesc::Id,
    serde_json::Value => TypeDesc::Json,
);

impl<T: Typed> Typed for Option<T> {
    fn type_desc() -> TypeDesc {
        match T::type_desc() {
            // Option<Option<T>> is as nullable as Option<T>.
            TypeDesc::Nullable(inner) => TypeDesc::Nullable(inner),
            other => TypeDesc::Nullable(Box::new(other)),
        }
    }
}

impl<T: Typed> Typed for Vec<T> {
    fn type_desc() -> TypeDesc {
        TypeDesc::List(Box::new(T::type_desc()))
    }
}
