//! Declarations: what `#[derive(Model)]` emits. Plain data, resolved later by
//! [`crate::Registry::resolve`].

use std::{fmt, marker::PhantomData};

use crate::Value;

/// Identifies a model across apps: `blog.Post`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelKey {
    pub app: &'static str,
    pub name: &'static str,
}

impl ModelKey {
    pub fn of<M: Model>() -> Self {
        ModelKey {
            app: M::APP,
            name: M::NAME,
        }
    }
}

impl fmt::Display for ModelKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.app, self.name)
    }
}

/// Implemented by `#[derive(Model)]`.
pub trait Model: 'static {
    const APP: &'static str;
    const NAME: &'static str;
    fn decl() -> ModelDecl;
}

/// A Rust enum stored as text and exposed as a GraphQL enum; implemented by `#[derive(ModelEnum)]`.
pub trait ModelEnum: 'static {
    fn decl() -> &'static EnumDecl;
}

/// The declared shape of an enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnumDecl {
    /// GraphQL type name.
    pub name: &'static str,
    pub help: Option<&'static str>,
    pub variants: &'static [EnumVariant],
}

// By name: two declarations of one name are one GraphQL enum.
impl std::hash::Hash for EnumDecl {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.name.hash(h);
    }
}

impl EnumDecl {
    /// The variant a GraphQL value (`IN_REVIEW`) or a stored text
    /// (`in_review`) names, by index.
    pub fn position(&self, text: &str) -> Option<usize> {
        self.variants
            .iter()
            .position(|v| v.graphql() == text || v.stored() == text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnumVariant {
    /// The Rust variant name, e.g. `InReview`.
    pub name: &'static str,
    /// `#[value(stored = "...")]`: the stored text, when not the default `in_review`.
    pub stored_as: Option<&'static str>,
    pub help: Option<&'static str>,
    /// `#[value(deprecated = "…")]`: `@deprecated(reason:)` on the GraphQL
    /// value, which clients may still send and receive.
    pub deprecated: Option<&'static str>,
}

impl EnumVariant {
    /// The text stored in the database: `in_review` unless overridden.
    pub fn stored(&self) -> std::borrow::Cow<'static, str> {
        match self.stored_as {
            Some(s) => std::borrow::Cow::Borrowed(s),
            None => std::borrow::Cow::Owned(crate::naming::snake_case(self.name)),
        }
    }

    /// The GraphQL enum value: `IN_REVIEW`.
    pub fn graphql(&self) -> String {
        crate::naming::screaming_snake_case(self.name)
    }
}

impl EnumDecl {
    pub fn by_graphql(&self, name: &str) -> Option<&'static EnumVariant> {
        self.variants.iter().find(|v| v.graphql() == name)
    }
    pub fn by_stored(&self, stored: &str) -> Option<&'static EnumVariant> {
        self.variants.iter().find(|v| v.stored() == stored)
    }
}

/// What a Rust field type means to graphloom, before options are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KindDecl {
    AutoId,
    Bool,
    I32,
    I64,
    F64,
    Decimal,
    /// `String`: `varchar(max_length)` with `max_length`, `text` without.
    String,
    Date,
    DateTime,
    Uuid,
    Json,
    Enum(&'static EnumDecl),
    ForeignKey {
        target: ModelKey,
        one_to_one: bool,
    },
    ManyToMany {
        target: ModelKey,
    },
}

/// Maps a Rust field type to a [`KindDecl`]. A field of any other type does not compile.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a graphloom field type",
    label = "unsupported field type",
    note = "supported: Id, bool, i32, i64, f64, Decimal, String, NaiveDate, DateTime<Utc>, Uuid, serde_json::Value, a #[derive(ModelEnum)] enum, ForeignKey<M>, OneToOne<M>, ManyToMany<M>, and Option<T> of these"
)]
pub trait FieldType {
    const NULLABLE: bool = false;
    fn kind() -> KindDecl;
}

macro_rules! field_type {
    ($($t:ty => $k:expr),* $(,)?) => {
        $(impl FieldType for $t {
            fn kind() -> KindDecl {
                $k
            }
        })*
    };
}

field_type!(
    Id => KindDecl::AutoId,
    bool => KindDecl::Bool,
    i32 => KindDecl::I32,
    i64 => KindDecl::I64,
    f64 => KindDecl::F64,
    rust_decimal::Decimal => KindDecl::Decimal,
    String => KindDecl::String,
    chrono::NaiveDate => KindDecl::Date,
    chrono::DateTime<chrono::Utc> => KindDecl::DateTime,
    uuid::Uuid => KindDecl::Uuid,
    serde_json::Value => KindDecl::Json,
);

impl<T: FieldType> FieldType for Option<T> {
    const NULLABLE: bool = true;
    fn kind() -> KindDecl {
        T::kind()
    }
}

impl<M: Model> FieldType for ForeignKey<M> {
    fn kind() -> KindDecl {
        KindDecl::ForeignKey {
            target: ModelKey::of::<M>(),
            one_to_one: false,
        }
    }
}

impl<M: Model> FieldType for OneToOne<M> {
    fn kind() -> KindDecl {
        KindDecl::ForeignKey {
            target: ModelKey::of::<M>(),
            one_to_one: true,
        }
    }
}

impl<M: Model> FieldType for ManyToMany<M> {
    fn kind() -> KindDecl {
        KindDecl::ManyToMany {
            target: ModelKey::of::<M>(),
        }
    }
}

/// An auto-incrementing 64-bit primary key. As a custom argument or
/// result it is GraphQL's `ID`: written as text (`"12"`), read from text
/// or an integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Id(pub i64);

impl serde::Serialize for Id {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Id {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Given {
            Int(i64),
            Text(String),
        }
        match Given::deserialize(d)? {
            Given::Int(n) => Ok(Id(n)),
            Given::Text(t) => t
                .trim()
                .parse()
                .map(Id)
                .map_err(|_| serde::de::Error::custom(format!("`{t}` is not an id"))),
        }
    }
}

/// A many-to-one relation: the column `<field>_id` holds the target's primary key.
pub struct ForeignKey<M> {
    pub key: Value,
    _target: PhantomData<fn() -> M>,
}

/// A one-to-one relation: a unique foreign key.
pub struct OneToOne<M> {
    pub key: Value,
    _target: PhantomData<fn() -> M>,
}

/// A reference to an entity owned by another service (`#[model(external)]`):
/// the column holds its key, GraphQL returns a `{ __typename, id }` stub.
pub type Reference<M> = ForeignKey<M>;

/// A many-to-many relation through a join table graphloom creates.
pub struct ManyToMany<M> {
    pub keys: Vec<Value>,
    _target: PhantomData<fn() -> M>,
}

macro_rules! relation_boilerplate {
    ($($t:ident),*) => {$(
        impl<M> fmt::Debug for $t<M> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(stringify!($t))
            }
        }
    )*};
}
relation_boilerplate!(ForeignKey, OneToOne, ManyToMany);

impl<M> ForeignKey<M> {
    pub fn new(key: impl Into<Value>) -> Self {
        ForeignKey {
            key: key.into(),
            _target: PhantomData,
        }
    }
}

/// A reference crosses as its key's text (GraphQL's `ID`), as a value
/// type's field; no key, as null.
impl<M> serde::Serialize for ForeignKey<M> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.key {
            Value::Null => s.serialize_none(),
            key => s.collect_str(&key.key_string()),
        }
    }
}

impl<M> OneToOne<M> {
    pub fn new(key: impl Into<Value>) -> Self {
        OneToOne {
            key: key.into(),
            _target: PhantomData,
        }
    }
}

impl<M> ManyToMany<M> {
    pub fn new(keys: Vec<Value>) -> Self {
        ManyToMany {
            keys,
            _target: PhantomData,
        }
    }
}

/// What happens to rows that refer to a deleted row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OnDelete {
    #[default]
    Cascade,
    /// Deleting a referenced row fails with a `PROTECTED` error naming the referring model.
    Protect,
    SetNull,
    /// Enforced by the database (`ON DELETE RESTRICT`).
    Restrict,
}

/// A value a field takes from the request rather than from the input, like
/// Hasura's column presets: `#[field(default = current_user)]` fills the
/// field when the input leaves it out; `#[field(preset = current_user)]`
/// always sets it on create (it is not an input at all) and never lets it
/// change. App code acting as the system sets it explicitly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    pub value: PresetValue,
    /// Forced: not an input, set on every create, never changed after.
    pub force: bool,
}

/// Where a [`Preset`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresetValue {
    /// The principal's user id (a foreign key to the user model, or a key-typed field).
    CurrentUser,
}

/// Options from `#[field(...)]` and doc comments.
#[derive(Debug, Clone, Default)]
pub struct FieldOptions {
    pub primary_key: bool,
    pub max_length: Option<u32>,
    pub max_digits: Option<u32>,
    pub decimal_places: Option<u32>,
    pub default: Option<Value>,
    /// A value from the request (see [`Preset`]).
    pub preset: Option<Preset>,
    pub unique: bool,
    pub index: bool,
    pub column: Option<&'static str>,
    pub help: Option<&'static str>,
    pub read_only: bool,
    pub hidden: bool,
    pub auto_now: bool,
    pub auto_now_add: bool,
    pub on_delete: Option<OnDelete>,
    pub related_name: Option<&'static str>,
    /// A many-to-many field read as a plain list `[T!]!` rather than a
    /// connection (`#[field(list)]`).
    pub list: bool,
    /// The reverse side (`Post.comments`, `Tag.posts`) read as a plain list
    /// (`#[field(related_list)]`).
    pub related_list: bool,
    /// A unique field's root lookup (`postBySlug`): renamed, or off.
    pub lookup: Naming,
    /// Join table name of a many-to-many field.
    pub db_table: Option<&'static str>,
    /// Federation directives on the field's GraphQL fields.
    pub federation: Federation,
}

/// Federation directives a model or a field carries into the subgraph SDL.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Federation {
    /// `@shareable`: other subgraphs resolve it too.
    pub shareable: bool,
    /// `@inaccessible`: in the subgraph, hidden from the supergraph.
    pub inaccessible: bool,
    /// `@tag(name:)`, for contracts.
    pub tags: Vec<&'static str>,
    /// `@override(from:)`: this subgraph takes the field over from another.
    pub override_from: Option<&'static str>,
    /// `@override(from:, label:)`: progressive override, the share of
    /// requests the gateway sends here (`"percent(20)"`) or a flag it
    /// decides (`"use-new-service"`).
    pub override_label: Option<&'static str>,
    /// `#[model(external, resolvable = false)]`: this service only refers to
    /// the entity (`@key(fields: "id", resolvable: false)`); it adds nothing
    /// to it, so no reverse relations or computed fields.
    pub unresolvable: bool,
    /// `#[model(external, interface_object)]`: another service owns an
    /// interface entity of this name; this service adds fields to every
    /// implementation at once (`@interfaceObject`).
    pub interface_object: bool,
    /// `@external` (fields of an external model): owned by another service;
    /// known here only when a representation carries it, for the computed
    /// fields that `@requires` it.
    pub external: bool,
    /// `#[field(provides = "author.username")]` on a local field: it holds the
    /// `username` of the external entity that the reference `author` points
    /// at, so `author` prints `@provides(fields: "username")` and its stub
    /// carries the value.
    pub provides: Option<&'static str>,
    /// `directive = "@cacheControl(maxAge: 60)"` (repeatable): usages of
    /// custom directives the service composes into the supergraph.
    pub directives: Vec<&'static str>,
    /// `#[field(deprecated = "use slug")]`: `@deprecated(reason:)` on the
    /// field's GraphQL fields (the value, and a key's relation).
    pub deprecated: Option<&'static str>,
    /// `#[model(entity = false)]`: a plain object type, not an entity (no
    /// `@key`, not in `_Entity`): a gateway reaches its rows only through
    /// this service's fields.
    pub plain: bool,
    /// `#[model(context = "viewer")]`: `@context(name:)`, the type a gateway
    /// reads `@fromContext` arguments of the fields below it from
    /// (federation v2.8).
    pub context: Option<&'static str>,
    /// The directives above as the attributes (or builder calls) declare
    /// them, in their order: the subgraph SDL prints them so.
    pub order: Vec<Declared>,
}

/// One declared directive of a [`Federation`], for its place in the SDL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Declared {
    /// `key = "sku package"`: the model's key of those fields (the primary
    /// key's `@key` when it names it; otherwise that one comes first).
    Key(&'static str),
    Shareable,
    Inaccessible,
    /// The `tags`' entry of this name.
    Tag(&'static str),
    Override,
    External,
    InterfaceObject,
    Context,
    /// The `directives`' entry of this text.
    Directive(&'static str),
}

impl Federation {
    /// Every directive set above, in declared order; one set without a
    /// declaration (a `Federation` built by hand) follows in a fixed order.
    pub fn declared(&self) -> Vec<Declared> {
        let mut out = self.order.clone();
        let mut add = |d: Declared, set: bool| {
            if set && !out.contains(&d) {
                out.push(d);
            }
        };
        add(Declared::InterfaceObject, self.interface_object);
        add(Declared::Context, self.context.is_some());
        add(Declared::Shareable, self.shareable);
        add(Declared::Inaccessible, self.inaccessible);
        add(Declared::External, self.external);
        add(Declared::Override, self.override_from.is_some());
        // Repeatable: each usage is its own entry.
        let repeated = self
            .tags
            .iter()
            .map(|t| Declared::Tag(t))
            .chain(self.directives.iter().map(|d| Declared::Directive(d)));
        let mut seen = Vec::new();
        for d in repeated {
            seen.push(d);
            let wanted = seen.iter().filter(|x| **x == d).count();
            if out.iter().filter(|x| **x == d).count() < wanted {
                out.push(d);
            }
        }
        out
    }
}

#[derive(Debug, Clone)]
pub struct FieldDecl {
    pub name: &'static str,
    pub kind: KindDecl,
    pub nullable: bool,
    pub options: FieldOptions,
}

/// Which generated mutations a model has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Operations {
    pub create: bool,
    pub update: bool,
    pub delete: bool,
    /// The generated subscription to the model's changes (`postChanged`).
    pub subscribe: bool,
    /// What the generated root fields are called, or that one is off.
    pub names: RootNames,
}

impl Default for Operations {
    fn default() -> Self {
        Operations {
            create: true,
            update: true,
            delete: true,
            subscribe: true,
            names: RootNames::default(),
        }
    }
}

/// A generated root field's name: the generated one, another, or none
/// (`#[model(lookup = false)]`: the field is not in the schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Naming {
    #[default]
    Generated,
    Off,
    Named(&'static str),
}

impl Naming {
    /// The name, given the generated one; `None` when off.
    pub fn resolve(self, generated: impl FnOnce() -> String) -> Option<String> {
        match self {
            Naming::Generated => Some(generated()),
            Naming::Off => None,
            Naming::Named(n) => Some(n.to_owned()),
        }
    }
}

/// `#[model(lookup = "…", list = false, create = "addPost", …)]`: the
/// names of a model's generated root fields in GraphQL. Switching a
/// mutation off is `create = false`, which REST follows too; hiding the
/// lookup or the list only takes the field out of GraphQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RootNames {
    /// The primary key's lookup (`post(id:)`).
    pub lookup: Naming,
    /// The list (`posts`).
    pub list: Naming,
    pub create: Option<&'static str>,
    pub update: Option<&'static str>,
    pub delete: Option<&'static str>,
}

/// An error a validation hook reports against an input field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    pub field: String,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        ValidationError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The values a create or update is about to write, by Rust field name, as the
/// row will be after the write (for an update, merged with the stored row).
pub type ValidationInput<'a> = &'a std::collections::BTreeMap<String, Value>;

/// A model's validation hook: `#[model(validate = path::to::fn)]`.
pub type Validator = fn(ValidationInput<'_>) -> Result<(), Vec<ValidationError>>;

#[derive(Debug, Clone)]
pub struct ModelDecl {
    pub app: &'static str,
    pub name: &'static str,
    pub table: Option<&'static str>,
    pub graphql_name: Option<&'static str>,
    pub plural: Option<&'static str>,
    pub help: Option<&'static str>,
    pub fields: Vec<FieldDecl>,
    pub operations: Operations,
    pub validator: Option<Validator>,
    /// `#[model(graphql = false)]`: a table only, absent from the GraphQL API.
    pub graphql: bool,
    /// `#[model(rest = false)]`: in the GraphQL API but not a REST resource.
    pub rest: bool,
    /// `#[model(external)]`: an entity owned by another service. Only its key
    /// is known here; it has no table, and a foreign key to it is a reference.
    pub external: bool,
    /// Federation directives on the model's object type.
    pub federation: Federation,
    /// `#[model(key = "sku")]`: more entity keys, each a unique field, besides
    /// the primary key (which is always one).
    pub keys: Vec<&'static str>,
    /// `#[model(unique = "store sku")]`: fields unique together (repeatable).
    pub unique: Vec<&'static str>,
    /// `#[model(primary_key = "order product")]`: a composite primary key,
    /// two or more fields that together identify a row (Django 5.2's
    /// `CompositePrimaryKey`). `None`: the key is the field marked
    /// `primary_key`, or `id: Id`.
    pub primary_key: Option<&'static str>,
}

impl ModelDecl {
    /// The GraphQL type's name: `graphql_name`, else the struct's.
    pub fn type_name(&self) -> &'static str {
        self.graphql_name.unwrap_or(self.name)
    }

    pub fn key(&self) -> ModelKey {
        ModelKey {
            app: self.app,
            name: self.name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Declared, Federation};

    #[test]
    fn directives_come_in_declared_order_then_the_undeclared() {
        let fed = Federation {
            shareable: true,
            inaccessible: true,
            tags: vec!["a", "b", "a"],
            directives: vec!["@x"],
            order: vec![Declared::Tag("b"), Declared::Shareable, Declared::Tag("a")],
            ..Default::default()
        };
        // Declared first, as declared; then the set flags nobody declared,
        // each repeated usage once more per repetition.
        assert_eq!(
            fed.declared(),
            [
                Declared::Tag("b"),
                Declared::Shareable,
                Declared::Tag("a"),
                Declared::Inaccessible,
                Declared::Tag("a"),
                Declared::Directive("@x"),
            ]
        );
        assert_eq!(Federation::default().declared(), []);
    }
}
