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
    /// A value type (`#[derive(Object)]`) or an input object
    /// (`#[derive(InputObject)]`), from the Rust value's serde form.
    Object(&'static ObjectDecl),
    /// A model's object, by its key and GraphQL name: a value type's field
    /// that refers to another service's entity (`Reference<User>`), which
    /// GraphQL resolves as the entity's stub.
    Model {
        key: crate::ModelKey,
        name: &'static str,
    },
    List(Box<TypeDesc>),
    Nullable(Box<TypeDesc>),
}

/// A value type or input object: a struct a custom or computed field
/// returns, or an argument takes, that is no model (no table, no key).
/// Its GraphQL field names are its serde names.
#[derive(Debug)]
pub struct ObjectDecl {
    /// The GraphQL type's name.
    pub name: &'static str,
    pub description: Option<&'static str>,
    /// An input object (`#[derive(InputObject)]`), not an output type.
    pub input: bool,
    /// Type directives: `@shareable`, `@inaccessible`, `@tag`.
    pub federation: crate::Federation,
    /// `#[object(key = "id")]`: an entity other services refer to, which
    /// this service resolves with an app's `CustomEntity`.
    pub keys: Vec<&'static str>,
    /// Builds its fields: called once, when first asked (a type may
    /// contain itself, so they cannot be built with the declaration).
    pub field_list: fn() -> Vec<ObjectField>,
    #[doc(hidden)]
    pub resolved: std::sync::OnceLock<Vec<ObjectField>>,
}

impl ObjectDecl {
    /// Its fields, in declaration order.
    pub fn fields(&self) -> &[ObjectField] {
        self.resolved.get_or_init(self.field_list)
    }

    /// The field named `name` (its GraphQL and serde name).
    pub fn field(&self, name: &str) -> Option<&ObjectField> {
        self.fields().iter().find(|f| f.name == name)
    }
}

/// One field of an [`ObjectDecl`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectField {
    /// The GraphQL name, which is the serde name.
    pub name: String,
    pub ty: TypeDesc,
    pub description: Option<&'static str>,
    /// `@shareable`, `@inaccessible`, `@tag`, `@deprecated`.
    pub federation: crate::Federation,
}

// One declaration per type: two are the same type when named alike.
impl PartialEq for ObjectDecl {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.input == other.input
    }
}
impl Eq for ObjectDecl {}
impl std::hash::Hash for ObjectDecl {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        self.input.hash(state);
    }
}

impl TypeDesc {
    /// This type, nullable: `Option<Option<T>>` is as nullable as `Option<T>`.
    pub fn nullable(self) -> TypeDesc {
        match self {
            TypeDesc::Nullable(inner) => TypeDesc::Nullable(inner),
            other => TypeDesc::Nullable(Box::new(other)),
        }
    }

    /// The model this type is, under lists and nullability: a value type's
    /// field that refers to an entity (`Option<Reference<User>>`).
    pub fn model(&self) -> Option<crate::ModelKey> {
        match self {
            TypeDesc::Model { key, .. } => Some(*key),
            TypeDesc::List(inner) | TypeDesc::Nullable(inner) => inner.model(),
            TypeDesc::Boolean
            | TypeDesc::Int
            | TypeDesc::Float
            | TypeDesc::String
            | TypeDesc::Id
            | TypeDesc::Enum(_)
            | TypeDesc::Json
            | TypeDesc::Object(_) => None,
        }
    }

    /// Whether a model's object is anywhere in this type, in value types'
    /// fields included.
    pub fn mentions_model(&self) -> bool {
        self.model().is_some()
            || self
                .objects()
                .iter()
                .any(|o| o.fields().iter().any(|f| f.ty.model().is_some()))
    }

    /// The value types and input objects this type mentions, each once,
    /// nested ones included (in the order first met).
    pub fn objects(&self) -> Vec<&'static ObjectDecl> {
        fn walk(d: &TypeDesc, out: &mut Vec<&'static ObjectDecl>) {
            match d {
                TypeDesc::Object(o) => {
                    if out
                        .iter()
                        .any(|seen| std::ptr::eq(*seen, *o) || *seen == *o)
                    {
                        return;
                    }
                    out.push(o);
                    for f in o.fields() {
                        walk(&f.ty, out);
                    }
                }
                TypeDesc::List(inner) | TypeDesc::Nullable(inner) => walk(inner, out),
                TypeDesc::Boolean
                | TypeDesc::Int
                | TypeDesc::Float
                | TypeDesc::String
                | TypeDesc::Id
                | TypeDesc::Enum(_)
                | TypeDesc::Json
                | TypeDesc::Model { .. } => {}
            }
        }
        let mut out = Vec::new();
        walk(self, &mut out);
        out
    }
}

/// The [`TypeDesc`] of a Rust type.
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no graphloom type",
    note = "supported: i32, f64, bool, String, Id, a #[derive(ModelEnum)] enum, a #[derive(Object)] or #[derive(InputObject)] struct, serde_json::Value, and Option<T> and Vec<T> of these"
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

/// The types a value-type field marked `#[object(id)]` may have: text, or
/// an `Option` or `Vec` of it, which GraphQL then types as `ID`.
#[diagnostic::on_unimplemented(
    message = "`#[object(id)]` is for a String field (or an Option or Vec of String), not `{Self}`",
    note = "an Id field is GraphQL's ID already"
)]
pub trait TextId {
    fn id_desc() -> TypeDesc;
}

impl TextId for String {
    fn id_desc() -> TypeDesc {
        TypeDesc::Id
    }
}

impl<T: TextId> TextId for Option<T> {
    fn id_desc() -> TypeDesc {
        T::id_desc().nullable()
    }
}

impl<T: TextId> TextId for Vec<T> {
    fn id_desc() -> TypeDesc {
        TypeDesc::List(Box::new(T::id_desc()))
    }
}

/// A reference to another service's entity, in a value type: GraphQL
/// resolves it as the entity, the key being all this service knows.
impl<M: crate::Model> Typed for crate::ForeignKey<M> {
    fn type_desc() -> TypeDesc {
        TypeDesc::Model {
            key: crate::ModelKey::of::<M>(),
            name: M::decl().type_name(),
        }
    }
}

impl<T: Typed> Typed for Option<T> {
    fn type_desc() -> TypeDesc {
        T::type_desc().nullable()
    }
}

impl<T: Typed> Typed for Vec<T> {
    fn type_desc() -> TypeDesc {
        TypeDesc::List(Box::new(T::type_desc()))
    }
}
