//! The resolved registry: every model fact, derived once, with start-up checks.

use std::{collections::HashMap, fmt};

use crate::{
    CheckError, CheckErrors, CheckId, EnumDecl, KindDecl, ModelDecl, ModelKey, OnDelete,
    Operations, Validator, Value,
    computed::ComputedMeta,
    directives::ComposedDirective,
    naming::{camel_case, lower_first, plural, snake_case},
    rules::{Predicate, RuleSet},
};

/// Index of a model in its [`Registry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelId(pub usize);

/// A column's kind after resolution. Every consumer matches it exhaustively.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FieldKind {
    /// 64-bit auto-increment primary key.
    AutoId,
    Bool,
    I32,
    I64,
    F64,
    Decimal {
        max_digits: u32,
        decimal_places: u32,
    },
    /// `varchar(max_length)`.
    String {
        max_length: u32,
    },
    Text,
    Date,
    DateTime,
    Uuid,
    Json,
    Enum(&'static EnumDecl),
    /// Holds the target's primary key; its value kind is the target key's kind.
    ForeignKey {
        target: ModelId,
        on_delete: OnDelete,
        one_to_one: bool,
    },
}

impl FieldKind {
    /// The enum a field of this kind holds, if it is one.
    pub fn enum_decl(&self) -> Option<&'static EnumDecl> {
        match self {
            FieldKind::Enum(e) => Some(e),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct FieldMeta {
    /// Rust field name.
    pub name: &'static str,
    /// GraphQL field name of the value (`authorId` for a foreign key `author`).
    pub graphql_name: String,
    pub column: String,
    pub kind: FieldKind,
    pub nullable: bool,
    /// The primary key, or part of a composite one.
    pub primary_key: bool,
    /// Part of a composite primary key (`#[model(primary_key = "a b")]`):
    /// a value the client gives on create, shown as its own type (not `ID`).
    pub composite_key: bool,
    pub unique: bool,
    pub index: bool,
    pub default: Option<Value>,
    /// A value from the request ([`crate::Preset`]).
    pub preset: Option<crate::Preset>,
    pub help: Option<&'static str>,
    pub read_only: bool,
    pub hidden: bool,
    pub auto_now: bool,
    pub auto_now_add: bool,
    pub federation: crate::Federation,
    /// The root lookup by this field (`post`, `postBySlug`), when it has one
    /// (a unique field of a kind that compares for equality, not hidden,
    /// not switched off).
    pub lookup: Option<String>,
}

impl FieldMeta {
    /// Whether a create must be given a value for this field.
    pub fn required_on_create(&self) -> bool {
        !self.nullable
            && self.default.is_none()
            && self.preset.is_none()
            && !self.auto_now
            && !self.auto_now_add
            && !self.generated_key()
    }

    /// Whether this is a primary key the database counts or graphloom
    /// generates (a fresh UUID), which a client does not give.
    pub fn generated_key(&self) -> bool {
        self.primary_key
            && !self.composite_key
            && matches!(self.kind, FieldKind::AutoId | FieldKind::Uuid)
    }

    /// Whether this is a primary key the client gives on create (a string
    /// or integer key), rather than one the database counts or a fresh UUID.
    pub fn assigned_key(&self) -> bool {
        self.primary_key && !self.generated_key()
    }

    /// Whether the generated create (`on_create`) or update input offers
    /// this field. An assigned primary key is set once, on create: a row's
    /// key is what other rows, cursors and other services refer to it by.
    pub fn writable(&self, on_create: bool) -> bool {
        !self.read_only
            && !self.preset.is_some_and(|p| p.force)
            && !self.hidden
            && !self.auto_now
            && !self.auto_now_add
            && !matches!(self.kind, FieldKind::AutoId)
            && (!self.primary_key || (on_create && self.assigned_key()))
    }
}

/// The names of a model's generated list and mutations in GraphQL; `None`
/// when one is off (`#[model(list = false)]`, `#[model(create = false)]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roots {
    /// The lookup by a composite primary key (`membership(userId:,
    /// groupId:)`); a one-field key's lookup is its field's.
    pub lookup: Option<String>,
    pub list: Option<String>,
    pub create: Option<String>,
    pub update: Option<String>,
    pub delete: Option<String>,
}

/// A join table created for a many-to-many field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinTable {
    pub table: String,
    /// The column referring to the model that declares the field.
    pub owner_column: String,
    /// The column referring to the target model.
    pub target_column: String,
    pub owner: ModelId,
    pub target: ModelId,
}

#[derive(Debug, Clone)]
pub enum RelationKind {
    /// This model holds the foreign key `field`.
    ForwardOne { field: usize },
    /// The target holds a one-to-one key `field` to this model.
    ReverseOne { field: usize },
    /// The target holds a foreign key `field` to this model.
    ReverseMany { field: usize },
    /// Through `join`; `forward` when this model declares the field.
    ManyToMany { join: usize, forward: bool },
}

#[derive(Debug, Clone)]
pub struct RelationMeta {
    /// GraphQL field name.
    pub name: String,
    pub target: ModelId,
    pub kind: RelationKind,
    pub help: Option<&'static str>,
    /// A to-many relation read as a plain list `[T!]!` (up to the page-size
    /// limit) rather than a connection.
    pub list: bool,
    /// The model and Rust field that declare the relation: this model's own
    /// field for a forward relation, the other model's for a reverse one.
    pub declared_by: (ModelId, &'static str),
    /// How the rows join; every consumer (filters, ordering, batched
    /// fetches, writes) reads this one path.
    pub join: JoinPath,
}

/// How the rows of a relation's source and target join: `source` is a field
/// of the source model, `target` a field of the target model, equal directly
/// or through a join table's two columns.
///
/// | relation | source | target | via |
/// |---|---|---|---|
/// | forward to-one (`Comment.post`) | the foreign key | target's primary key | – |
/// | reverse (`Post.comments`, a one-to-one's other side) | primary key | target's foreign key | – |
/// | many-to-many, either side | primary key | target's primary key | the join table |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinPath {
    pub source: usize,
    pub target: usize,
    pub via: Option<Via>,
}

/// The join table between the two sides of a many-to-many relation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    pub table: String,
    /// The column holding the source's key.
    pub source_column: String,
    /// The column holding the target's key.
    pub target_column: String,
}

impl RelationMeta {
    pub fn is_many(&self) -> bool {
        matches!(
            self.kind,
            RelationKind::ReverseMany { .. } | RelationKind::ManyToMany { .. }
        )
    }
}

#[derive(Debug, Clone)]
pub struct ModelMeta {
    pub id: ModelId,
    pub key: ModelKey,
    pub table: String,
    /// GraphQL object type name.
    pub graphql_name: String,
    /// Root field for one row: `post`.
    pub single_name: String,
    /// Root field for the list: `posts`.
    pub plural_name: String,
    /// The generated root fields' names (`None`: not generated). Lookups
    /// are the fields' own ([`FieldMeta::lookup`]).
    pub roots: Roots,
    pub help: Option<&'static str>,
    pub fields: Vec<FieldMeta>,
    /// The primary key's fields: one, or several for a composite key
    /// (`#[model(primary_key = "a b")]`), in key order.
    pub pk: Vec<usize>,
    pub relations: Vec<RelationMeta>,
    pub operations: Operations,
    pub validator: Option<Validator>,
    /// Whether the model is part of the GraphQL API (`#[model(graphql = false)]` keeps it out).
    pub exposed: bool,
    /// Whether an exposed model is also a REST resource (`#[model(rest = false)]` keeps it out).
    pub rest: bool,
    /// Owned by another service: no table, only its key (`#[model(external)]`).
    pub external: bool,
    pub federation: crate::Federation,
    /// The entity keys (field indices): the primary key first, then those
    /// named by `#[model(key = "...")]`, each one unique field or several
    /// unique together.
    pub keys: Vec<Vec<usize>>,
    /// Sets of fields unique together (`#[model(unique = "store sku")]`).
    pub unique: Vec<Vec<usize>>,
    /// The permission rules ([`RuleSet::defaults`] unless declared).
    pub rules: RuleSet,
    /// Fields computed in Rust, in declaration order.
    pub computed: Vec<ComputedMeta>,
}

/// How a representation carries one entity key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyPath<'a> {
    /// `upc`: a value field.
    Field(&'a str),
    /// `product { id }`: a one-to-one relation, through its target's key.
    Relation(&'a str, &'a str),
}

impl KeyPath<'_> {
    /// The `@key(fields:)` selection.
    pub fn fieldset(&self) -> String {
        match self {
            KeyPath::Field(f) => (*f).to_owned(),
            KeyPath::Relation(r, k) => format!("{r} {{ {k} }}"),
        }
    }
}

/// Field names of a space-separated list (`"store sku"`) as indices, or the
/// first name that is not a field.
fn field_set<'a>(fields: &[crate::FieldMeta], names: &'a str) -> Result<Vec<usize>, &'a str> {
    names
        .split_whitespace()
        .map(|n| fields.iter().position(|f| f.name == n).ok_or(n))
        .collect()
}

/// The sets of fields unique together (`#[model(unique = "store sku")]`).
fn unique_sets(
    d: &ModelDecl,
    fields: &[crate::FieldMeta],
    errors: &mut Vec<CheckError>,
) -> Vec<Vec<usize>> {
    let mut sets = Vec::new();
    for names in &d.unique {
        let at = format!("{}.unique", d.key());
        match field_set(fields, names) {
            Ok(set) if set.len() >= 2 && !d.external => sets.push(set),
            Ok(_) => errors.push(CheckError {
                id: CheckId::E013,
                at,
                message: format!(
                    "`unique = \"{names}\"` needs two fields or more, on a model of this service"
                ),
                hint: "one field is #[field(unique)]".into(),
            }),
            Err(n) => errors.push(CheckError {
                id: CheckId::E013,
                at,
                message: format!(
                    "`unique = \"{names}\"` names `{n}`, which {} does not have",
                    d.name
                ),
                hint: "list Rust field names, separated by spaces".into(),
            }),
        }
    }
    sets
}

/// `#[field(related_name = "+")]`: the relation has no reverse field (as in
/// Django).
const NO_REVERSE: &str = "+";

/// A model's primary key: the field marked `primary_key` (or `id: Id`), or
/// the fields `#[model(primary_key = "a b")]` names, which it marks.
fn primary_key(
    d: &ModelDecl,
    fields: &mut [crate::FieldMeta],
    errors: &mut Vec<CheckError>,
) -> Vec<usize> {
    let at = d.key().to_string();
    let marked: Vec<usize> = (0..fields.len())
        .filter(|&i| fields[i].primary_key)
        .collect();
    let Some(names) = d.primary_key else {
        if marked.len() != 1 {
            errors.push(CheckError {
                id: CheckId::E005,
                at,
                message: format!(
                    "the model has {} primary keys; it needs exactly one",
                    marked.len()
                ),
                hint: "add `pub id: Id` (auto-increment), mark one field `#[field(primary_key)]`, or name several: #[model(primary_key = \"a b\")]".into(),
            });
        }
        return marked.into_iter().take(1).collect();
    };
    let fail = |message: String| {
        CheckError {
        id: CheckId::E005,
        at: format!("{at}.primary_key"),
        message,
        hint: "a composite primary key names two or more non-null integer, string, UUID or foreign-key fields, and the model has no other key: no `id: Id`, no #[field(primary_key)]".into(),
    }
    };
    let set = match field_set(fields, names) {
        Ok(set) => set,
        Err(n) => {
            errors.push(fail(format!(
                "`primary_key` names `{n}`, which {} does not have",
                d.name
            )));
            return Vec::new();
        }
    };
    let mut ok = true;
    let mut refuse = |message: String| {
        errors.push(fail(message));
        ok = false;
    };
    if set.len() < 2 {
        refuse("a primary key of one field is #[field(primary_key)] on it".into());
    }
    if !marked.is_empty() {
        let names: Vec<&str> = marked.iter().map(|&i| fields[i].name).collect();
        refuse(format!(
            "the model also has the primary key `{}`",
            names.join(", ")
        ));
    }
    if d.external {
        refuse("another service's entity is keyed here by one field".into());
    }
    for (n, &i) in set.iter().enumerate() {
        let f = &fields[i];
        if set[..n].contains(&i) {
            refuse(format!("`{}` is named twice", f.name));
        }
        let keyable = matches!(
            f.kind,
            FieldKind::I32
                | FieldKind::I64
                | FieldKind::String { .. }
                | FieldKind::Text
                | FieldKind::Uuid
                | FieldKind::ForeignKey { .. }
        );
        if f.nullable || !keyable {
            refuse(format!(
                "`{}` cannot be part of a key: {}",
                f.name,
                if f.nullable {
                    "it is optional"
                } else {
                    "keys are integers, strings, UUIDs or references"
                }
            ));
        }
    }
    if !ok {
        return set.into_iter().take(1).collect();
    }
    for &i in &set {
        fields[i].primary_key = true;
        fields[i].composite_key = true;
    }
    set
}

/// A model's entity keys: the primary key, then each declared key: one
/// unique field, or several that are unique together.
fn entity_keys(
    d: &ModelDecl,
    fields: &[crate::FieldMeta],
    pk: &[usize],
    unique: &[Vec<usize>],
    errors: &mut Vec<CheckError>,
) -> Vec<Vec<usize>> {
    let mut keys = vec![pk.to_vec()];
    let mut pk_placed = false;
    if d.federation.interface_object && (!d.external || d.federation.unresolvable) {
        errors.push(CheckError {
            id: CheckId::E013,
            at: d.key().to_string(),
            message: "`interface_object` is for an external model this service resolves".into(),
            hint: "another service owns the interface: #[model(external, interface_object)]".into(),
        });
    }
    if d.federation.plain && d.external {
        errors.push(CheckError {
            id: CheckId::E013,
            at: d.key().to_string(),
            message: "an external model is another service's entity; it cannot be `entity = false`"
                .into(),
            hint: "drop `entity = false`, or make the model this service's own".into(),
        });
    }
    if d.federation.unresolvable && !d.external {
        errors.push(CheckError {
            id: CheckId::E013,
            at: d.key().to_string(),
            message: "only an external model can be `resolvable = false`".into(),
            hint: "the owning service resolves its entities; mark the model `external`".into(),
        });
    }
    for names in &d.keys {
        let at = format!("{}.{}", d.key(), names.replace(' ', "+"));
        let fail = |message: String| {
            CheckError {
            id: CheckId::E013,
            at: at.clone(),
            message,
            hint: "a key is a #[field(unique)] field, or fields listed together in #[model(unique = \"a b\")]; integer, string or UUID values".into(),
        }
        };
        let set = match field_set(fields, names) {
            Ok(set) => set,
            Err(n) => {
                errors.push(fail(format!(
                    "the key names `{n}`, which {} does not have",
                    d.name
                )));
                continue;
            }
        };
        // Naming the primary key places its `@key` among the others (a
        // composite key's fields in the order named).
        if set.len() == pk.len() && set.iter().all(|f| pk.contains(f)) && !pk_placed {
            keys[0] = set;
            pk_placed = true;
            continue;
        }
        if d.external {
            errors.push(fail(
                "an external model is keyed by its primary key only".into(),
            ));
            continue;
        }
        let is_unique = match set.as_slice() {
            [one] => fields[*one].unique || pk == [*one],
            many => unique
                .iter()
                .chain([&pk.to_vec()])
                .any(|u| u.len() == many.len() && many.iter().all(|f| u.contains(f))),
        };
        // Values a representation carries as JSON and a statement binds as
        // one list, on both dialects.
        let keyable = set.iter().all(|&i| {
            matches!(
                fields[i].kind,
                FieldKind::AutoId
                    | FieldKind::I32
                    | FieldKind::I64
                    | FieldKind::String { .. }
                    | FieldKind::Text
                    | FieldKind::Uuid
                    | FieldKind::ForeignKey { .. }
            )
        });
        if !is_unique {
            errors.push(fail(format!("`{names}` is not unique")));
        } else if !keyable {
            errors.push(fail(format!(
                "`{names}` has a value kind keys do not support"
            )));
        } else if keys
            .iter()
            .any(|k| k.len() == set.len() && set.iter().all(|f| k.contains(f)))
        {
            errors.push(fail(format!("`{names}` is already a key")));
        } else {
            keys.push(set);
        }
    }
    keys
}

impl ModelMeta {
    /// The local fields that hold fields of the external entity the reference
    /// `fk` points at (`#[field(provides = "author.username")]`), as (local
    /// field, target field) pairs.
    pub fn provided_through(&self, reg: &Registry, fk: usize) -> Vec<(usize, usize)> {
        let FieldKind::ForeignKey { target, .. } = self.fields[fk].kind else {
            return Vec::new();
        };
        let target = reg.model(target);
        self.fields
            .iter()
            .enumerate()
            .filter_map(|(i, f)| {
                let (rel, name) = f.federation.provides?.split_once('.')?;
                let (tf, _) = target.field(name).filter(|_| rel == self.fields[fk].name)?;
                Some((i, tf))
            })
            .collect()
    }

    /// The `@key(fields:)` selection of one of [`ModelMeta::keys`].
    pub fn key_fieldset(&self, reg: &Registry, key: &[usize]) -> String {
        key.iter()
            .map(|&f| self.key_path(reg, f).fieldset())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// How a representation carries the key field `field`.
    pub fn key_path<'a>(&'a self, reg: &'a Registry, field: usize) -> KeyPath<'a> {
        let f = &self.fields[field];
        let forward = self
            .relations
            .iter()
            .find(|r| matches!(r.kind, RelationKind::ForwardOne { field: fi } if fi == field));
        match (&f.kind, forward) {
            (FieldKind::ForeignKey { target, .. }, Some(r)) => {
                KeyPath::Relation(&r.name, &reg.model(*target).ref_pk_field().graphql_name)
            }
            _ => KeyPath::Field(&f.graphql_name),
        }
    }

    /// The index in [`ModelMeta::keys`] of the key that `key = "names"`
    /// declares.
    pub fn key_index(&self, names: &str) -> Option<usize> {
        let set = field_set(&self.fields, names).ok()?;
        self.keys.iter().position(|k| *k == set)
    }

    /// Whether the primary key is several fields.
    pub fn composite_pk(&self) -> bool {
        self.pk.len() > 1
    }

    /// Whether field `i` is (part of) the primary key.
    pub fn is_pk(&self, i: usize) -> bool {
        self.pk.contains(&i)
    }

    /// The primary key field a reference points at: of a foreign key's or
    /// a many-to-many field's target, of another service's entity. Those
    /// are keyed by one field: the start-up checks refuse a composite key
    /// there (`graphloom.E005`), so this is never a composite key's part.
    pub fn ref_pk(&self) -> usize {
        self.pk[0]
    }

    /// The field of [`ModelMeta::ref_pk`].
    pub fn ref_pk_field(&self) -> &FieldMeta {
        &self.fields[self.ref_pk()]
    }

    /// A row's key from its values (by field index): the primary key
    /// field's value, or a composite key's values as a [`Value::Tuple`].
    pub fn key_of(&self, values: &[crate::Value]) -> crate::Value {
        let part = |i: &usize| values.get(*i).cloned().unwrap_or(crate::Value::Null);
        match self.pk.as_slice() {
            [one] => part(one),
            many => crate::Value::Tuple(many.iter().map(part).collect()),
        }
    }

    /// Whether field `i` is a column of this service's table: every field
    /// of a local model; of another service's entity, its key and the
    /// fields this service stores on it (neither `external` nor computed).
    pub fn stores_here(&self, i: usize) -> bool {
        !self.external || self.is_pk(i) || !self.fields[i].federation.external
    }

    /// Whether the model has a table here: every local model, and another
    /// service's entity that this service stores fields on (keyed by the
    /// entity's key).
    pub fn has_table(&self) -> bool {
        !self.external || (0..self.fields.len()).any(|i| !self.is_pk(i) && self.stores_here(i))
    }
    pub fn field(&self, name: &str) -> Option<(usize, &FieldMeta)> {
        self.fields.iter().enumerate().find(|(_, f)| f.name == name)
    }
    pub fn field_by_graphql(&self, name: &str) -> Option<(usize, &FieldMeta)> {
        self.fields
            .iter()
            .enumerate()
            .find(|(_, f)| f.graphql_name == name)
    }
    pub fn relation(&self, name: &str) -> Option<(usize, &RelationMeta)> {
        self.relations
            .iter()
            .enumerate()
            .find(|(_, r)| r.name == name)
    }
}

/// The resolved models of a service.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    pub(crate) models: Vec<ModelMeta>,
    joins: Vec<JoinTable>,
    by_key: HashMap<ModelKey, ModelId>,
    pub(crate) predicates: Predicates,
    pub(crate) composed: Vec<ComposedDirective>,
}

/// The predicates of every rule: custom ones and named policies
/// ([`crate::rules::RuleExpr::Custom`] and `Policy` index them).
#[derive(Clone, Default)]
pub(crate) struct Predicates(pub(crate) Vec<Predicate>);

impl fmt::Debug for Predicates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} predicate(s)", self.0.len())
    }
}

/// Everything a service declares about its models, resolved together by
/// [`Registry::build`].
#[derive(Debug, Clone, Default)]
pub struct Declarations {
    pub models: Vec<ModelDecl>,
    pub rules: Vec<crate::rules::RulesDecl>,
    /// Named policies rules refer to (`Rule::policy`).
    pub policies: Vec<crate::rules::PolicyDecl>,
    pub computed: Vec<crate::computed::ComputedDecl>,
    pub directives: Vec<crate::directives::ComposeDirective>,
}

impl Registry {
    pub fn models(&self) -> &[ModelMeta] {
        &self.models
    }
    pub fn model(&self, id: ModelId) -> &ModelMeta {
        &self.models[id.0]
    }
    pub fn joins(&self) -> &[JoinTable] {
        &self.joins
    }
    pub fn join(&self, idx: usize) -> &JoinTable {
        &self.joins[idx]
    }
    pub fn by_key(&self, key: ModelKey) -> Option<&ModelMeta> {
        self.by_key.get(&key).map(|id| self.model(*id))
    }
    pub fn by_graphql_name(&self, name: &str) -> Option<&ModelMeta> {
        self.models.iter().find(|m| m.graphql_name == name)
    }
    /// The custom predicates rules refer to by index.
    pub fn predicates(&self) -> &[Predicate] {
        &self.predicates.0
    }
    /// The custom directives composed into the supergraph.
    pub fn composed_directives(&self) -> &[ComposedDirective] {
        &self.composed
    }
    /// A model's rules.
    pub fn rules(&self, model: ModelId) -> &RuleSet {
        &self.model(model).rules
    }
    /// What start-up reports without refusing to run (`graphloom.W…`).
    pub fn warnings(&self) -> Vec<CheckError> {
        crate::rules::warnings(self)
    }

    /// The kind of the values a field holds: a foreign key holds its target's key kind.
    pub fn value_kind(&self, field: &FieldMeta) -> FieldKind {
        match field.kind {
            FieldKind::ForeignKey { target, .. } => match self.model(target).ref_pk_field().kind {
                FieldKind::AutoId => FieldKind::I64,
                other => other,
            },
            other => other,
        }
    }

    /// Resolves model declarations alone (no rules, computed fields or
    /// directives) and runs every start-up check.
    pub fn resolve(decls: Vec<ModelDecl>) -> Result<Registry, CheckErrors> {
        Registry::build(Declarations {
            models: decls,
            ..Declarations::default()
        })
    }

    /// Resolves a service's declarations once and runs every start-up check
    /// ([`CheckId`]): models, then the rules, computed fields and directives
    /// that refer to them.
    pub fn build(declarations: Declarations) -> Result<Registry, CheckErrors> {
        let mut registry = Registry::resolve_models(declarations.models)?;
        let mut errors = Vec::new();
        crate::rules::resolve(
            &mut registry,
            declarations.rules,
            declarations.policies,
            &mut errors,
        );
        crate::computed::resolve(&mut registry, declarations.computed, &mut errors);
        registry.composed =
            crate::directives::resolve(&registry, declarations.directives, &mut errors);
        if errors.is_empty() {
            Ok(registry)
        } else {
            Err(CheckErrors(errors))
        }
    }

    fn resolve_models(decls: Vec<ModelDecl>) -> Result<Registry, CheckErrors> {
        let mut errors = Vec::new();
        let mut by_key = HashMap::new();
        for (i, d) in decls.iter().enumerate() {
            if by_key.insert(d.key(), ModelId(i)).is_some() {
                errors.push(CheckError {
                    id: CheckId::E002,
                    at: d.key().to_string(),
                    message: "the model is registered twice".into(),
                    hint: "add each model to exactly one app, once".into(),
                });
            }
        }

        let mut models = Vec::with_capacity(decls.len());
        // Many-to-many declarations, resolved once all models exist: (owner, field name, target, options).
        let mut m2m = Vec::new();
        for (i, d) in decls.iter().enumerate() {
            let id = ModelId(i);
            let at = d.key().to_string();
            let mut fields = Vec::new();
            for f in &d.fields {
                let fat = format!("{at}.{}", f.name);
                let o = &f.options;
                let kind = match f.kind {
                    KindDecl::AutoId => FieldKind::AutoId,
                    KindDecl::Bool => FieldKind::Bool,
                    KindDecl::I32 => FieldKind::I32,
                    KindDecl::I64 => FieldKind::I64,
                    KindDecl::F64 => FieldKind::F64,
                    KindDecl::Decimal => FieldKind::Decimal {
                        max_digits: o.max_digits.unwrap_or(19),
                        decimal_places: o.decimal_places.unwrap_or(4),
                    },
                    KindDecl::String => match o.max_length {
                        Some(max_length) => FieldKind::String { max_length },
                        None => FieldKind::Text,
                    },
                    KindDecl::Date => FieldKind::Date,
                    KindDecl::DateTime => FieldKind::DateTime,
                    KindDecl::Uuid => FieldKind::Uuid,
                    KindDecl::Json => FieldKind::Json,
                    KindDecl::Enum(e) => FieldKind::Enum(e),
                    KindDecl::ForeignKey { target, one_to_one } => match by_key.get(&target) {
                        Some(t) => FieldKind::ForeignKey {
                            target: *t,
                            on_delete: o.on_delete.unwrap_or_default(),
                            one_to_one,
                        },
                        None => {
                            errors.push(unregistered(&fat, target));
                            continue;
                        }
                    },
                    KindDecl::ManyToMany { target } => {
                        match by_key.get(&target) {
                            Some(t) => m2m.push((id, f, *t)),
                            None => errors.push(unregistered(&fat, target)),
                        }
                        if f.nullable {
                            errors.push(CheckError {
                                id: CheckId::E008,
                                at: fat.clone(),
                                message: "a many-to-many field cannot be Option".into(),
                                hint: "use ManyToMany<T>; an empty set is already allowed".into(),
                            });
                        }
                        continue;
                    }
                };
                check_options(&fat, kind, f.nullable, o, &mut errors);
                let is_fk = matches!(kind, FieldKind::ForeignKey { .. });
                let column = o.column.map(str::to_owned).unwrap_or_else(|| {
                    if is_fk {
                        format!("{}_id", f.name)
                    } else {
                        f.name.to_owned()
                    }
                });
                let graphql_name = if is_fk {
                    camel_case(&format!("{}_id", f.name))
                } else {
                    camel_case(f.name)
                };
                let one_to_one = matches!(
                    kind,
                    FieldKind::ForeignKey {
                        one_to_one: true,
                        ..
                    }
                );
                fields.push(crate::FieldMeta {
                    name: f.name,
                    graphql_name,
                    column,
                    kind,
                    nullable: f.nullable,
                    primary_key: o.primary_key || matches!(kind, FieldKind::AutoId),
                    // Set with the composite key, below.
                    composite_key: false,
                    unique: o.unique || o.primary_key || one_to_one,
                    index: o.index || (is_fk && !one_to_one),
                    default: o.default.clone(),
                    preset: o.preset,
                    help: o.help,
                    read_only: o.read_only,
                    hidden: o.hidden,
                    auto_now: o.auto_now,
                    auto_now_add: o.auto_now_add,
                    federation: o.federation.clone(),
                    // Named below, once the model's name is known.
                    lookup: None,
                });
            }
            let pk = primary_key(d, &mut fields, &mut errors);
            let unique = unique_sets(d, &fields, &mut errors);
            let keys = entity_keys(d, &fields, &pk, &unique, &mut errors);
            let graphql_name = d.type_name().to_owned();
            let plural_name = lower_first(
                &d.plural
                    .map(str::to_owned)
                    .unwrap_or_else(|| plural(&graphql_name)),
            );
            let single_name = lower_first(&graphql_name);
            let names = d.operations.names;
            // Another service's entity is not looked up here.
            for (f, decl) in fields.iter_mut().zip(&d.fields) {
                if d.external || f.hidden || !f.capabilities().lookup {
                    continue;
                }
                // A composite key is looked up whole (`roots.lookup`).
                f.lookup = if f.primary_key && !f.composite_key {
                    names.lookup.resolve(|| single_name.clone())
                } else {
                    decl.options.lookup.resolve(|| {
                        format!(
                            "{single_name}By{}",
                            crate::naming::upper_first(&f.graphql_name)
                        )
                    })
                };
            }
            let verb = |on: bool, named: Option<&'static str>, verb: &str| {
                on.then(|| named.map_or_else(|| format!("{verb}{graphql_name}"), str::to_owned))
            };
            let roots = Roots {
                lookup: (pk.len() > 1 && !d.external)
                    .then(|| names.lookup.resolve(|| single_name.clone()))
                    .flatten(),
                list: names.list.resolve(|| plural_name.clone()),
                create: verb(d.operations.create, names.create, "create"),
                update: verb(d.operations.update, names.update, "update"),
                delete: verb(d.operations.delete, names.delete, "delete"),
            };
            models.push(ModelMeta {
                id,
                key: d.key(),
                table: d
                    .table
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("{}_{}", d.app, snake_case(d.name))),
                single_name,
                graphql_name,
                plural_name,
                roots,
                help: d.help,
                fields,
                keys,
                unique,
                pk,
                relations: Vec::new(),
                operations: d.operations,
                validator: d.validator,
                exposed: d.graphql,
                rest: d.graphql && d.rest,
                external: d.external,
                federation: d.federation.clone(),
                rules: RuleSet::defaults(d.key()),
                computed: Vec::new(),
            });
        }
        // A reference holds one key value: a model keyed by several fields
        // is not a foreign key's target (as in Django 5.2).
        for m in &models {
            for f in &m.fields {
                if let FieldKind::ForeignKey { target, .. } = f.kind
                    && models[target.0].composite_pk()
                {
                    errors.push(CheckError {
                        id: CheckId::E005,
                        at: format!("{}.{}", m.key, f.name),
                        message: format!(
                            "{} has a composite primary key, which a foreign key cannot refer to",
                            models[target.0].key
                        ),
                        hint: "refer to a model keyed by one field, or give the target an `id: Id` and make the key fields #[model(unique = \"a b\")]".into(),
                    });
                }
            }
        }
        for (owner, f, target) in &m2m {
            if models[owner.0].composite_pk() || models[target.0].composite_pk() {
                errors.push(CheckError {
                    id: CheckId::E005,
                    at: format!("{}.{}", models[owner.0].key, f.name),
                    message: "a many-to-many field links models keyed by one field".into(),
                    hint: "a model with a composite primary key is the link itself: give it references to both models".into(),
                });
            }
        }
        if !errors.is_empty() {
            return Err(CheckErrors(errors));
        }

        // Relations in both directions.
        for mi in 0..models.len() {
            for fi in 0..models[mi].fields.len() {
                let f = &models[mi].fields[fi];
                if let FieldKind::ForeignKey {
                    target, one_to_one, ..
                } = f.kind
                {
                    let decl = decls[mi].fields.iter().find(|d| d.name == f.name);
                    let related = decl.and_then(|d| d.options.related_name);
                    let related_list = decl.is_some_and(|d| d.options.related_list);
                    let help = f.help;
                    let target_pk = models[target.0].ref_pk();
                    let fwd = RelationMeta {
                        name: camel_case(f.name),
                        target,
                        kind: RelationKind::ForwardOne { field: fi },
                        help,
                        list: false,
                        declared_by: (ModelId(mi), f.name),
                        join: JoinPath {
                            source: fi,
                            target: target_pk,
                            via: None,
                        },
                    };
                    models[mi].relations.push(fwd);
                    let source = &models[mi];
                    let (name, kind) = if one_to_one {
                        (
                            related
                                .map(str::to_owned)
                                .unwrap_or_else(|| source.single_name.clone()),
                            RelationKind::ReverseOne { field: fi },
                        )
                    } else {
                        (
                            related
                                .map(str::to_owned)
                                .unwrap_or_else(|| source.plural_name.clone()),
                            RelationKind::ReverseMany { field: fi },
                        )
                    };
                    // Nothing is added to an entity this service cannot
                    // resolve, nor where `related_name = "+"` asks for no
                    // reverse relation.
                    if !models[target.0].federation.unresolvable && related != Some(NO_REVERSE) {
                        let declared_by = (ModelId(mi), models[mi].fields[fi].name);
                        models[target.0].relations.push(RelationMeta {
                            name,
                            target: ModelId(mi),
                            kind,
                            help: None,
                            list: related_list,
                            declared_by,
                            join: JoinPath {
                                source: target_pk,
                                target: fi,
                                via: None,
                            },
                        });
                    }
                }
            }
        }
        let mut joins = Vec::new();
        for (owner, f, target) in &m2m {
            if models[target.0].external || models[owner.0].external {
                errors.push(CheckError {
                    id: CheckId::E012,
                    at: format!("{}.{}", models[owner.0].key, f.name),
                    message: "a many-to-many field cannot involve an external model".into(),
                    hint: "store the other service's keys in a model of your own with a Reference"
                        .into(),
                });
            }
        }
        if !errors.is_empty() {
            return Err(CheckErrors(errors));
        }
        for (owner, f, target) in m2m {
            let o = &models[owner.0];
            let t = &models[target.0];
            let owner_snake = snake_case(o.key.name);
            let target_snake = snake_case(t.key.name);
            let (owner_column, target_column) = if owner == target {
                (
                    format!("from_{owner_snake}_id"),
                    format!("to_{target_snake}_id"),
                )
            } else {
                (format!("{owner_snake}_id"), format!("{target_snake}_id"))
            };
            let join = JoinTable {
                table: f
                    .options
                    .db_table
                    .map(str::to_owned)
                    .unwrap_or_else(|| format!("{}_{}", o.table, f.name)),
                owner_column,
                target_column,
                owner,
                target,
            };
            let j = joins.len();
            joins.push(join);
            let reverse = f
                .options
                .related_name
                .map(str::to_owned)
                .unwrap_or_else(|| o.plural_name.clone());
            let (owner_pk, target_pk) = (models[owner.0].ref_pk(), models[target.0].ref_pk());
            let join = &joins[j];
            let forward_via = Via {
                table: join.table.clone(),
                source_column: join.owner_column.clone(),
                target_column: join.target_column.clone(),
            };
            let reverse_via = Via {
                table: join.table.clone(),
                source_column: join.target_column.clone(),
                target_column: join.owner_column.clone(),
            };
            models[owner.0].relations.push(RelationMeta {
                name: camel_case(f.name),
                target,
                kind: RelationKind::ManyToMany {
                    join: j,
                    forward: true,
                },
                help: f.options.help,
                list: f.options.list,
                declared_by: (owner, f.name),
                join: JoinPath {
                    source: owner_pk,
                    target: target_pk,
                    via: Some(forward_via),
                },
            });
            if reverse == NO_REVERSE {
                continue;
            }
            models[target.0].relations.push(RelationMeta {
                name: reverse,
                target: owner,
                kind: RelationKind::ManyToMany {
                    join: j,
                    forward: false,
                },
                help: None,
                list: f.options.related_list,
                declared_by: (owner, f.name),
                join: JoinPath {
                    source: target_pk,
                    target: owner_pk,
                    via: Some(reverse_via),
                },
            });
        }

        let registry = Registry {
            models,
            joins,
            by_key,
            predicates: Predicates::default(),
            composed: Vec::new(),
        };
        registry.check_names(&mut errors);
        registry.check_writes(&mut errors);
        if errors.is_empty() {
            Ok(registry)
        } else {
            Err(CheckErrors(errors))
        }
    }

    /// The generated create and update take an input object, and GraphQL
    /// has no empty one: a model they are on needs a field they can set.
    fn check_writes(&self, errors: &mut Vec<CheckError>) {
        for m in self.models.iter().filter(|m| m.exposed && !m.external) {
            let links = m.relations.iter().any(|r| {
                matches!(r.kind, RelationKind::ManyToMany { forward: true, .. })
                    && self.models[r.target.0].exposed
            });
            let empty = |create: bool| !m.fields.iter().any(|f| f.writable(create));
            if !links
                && ((m.operations.create && empty(true)) || (m.operations.update && empty(false)))
            {
                errors.push(CheckError {
                    id: CheckId::E015,
                    at: m.key.to_string(),
                    message: "the generated create and update take an input, and this model has no field a client could set".into(),
                    hint: "add a field clients may write, or turn the generated writes off: #[model(create = false, update = false)]".into(),
                });
            }
        }
    }

    /// Why `#[field(provides = "...")]` on `f` is wrong, if it is.
    fn check_provides(&self, m: &ModelMeta, f: &FieldMeta, provides: &str) -> Option<String> {
        let Some((rel, name)) = provides.split_once('.') else {
            return Some(format!(
                "`provides = \"{provides}\"` is not `reference.field`"
            ));
        };
        let target = match m.field(rel).map(|(_, r)| &r.kind) {
            Some(FieldKind::ForeignKey { target, .. }) if self.model(*target).external => {
                self.model(*target)
            }
            _ => return Some(format!("`{rel}` is not a reference to an external model")),
        };
        match target.field(name) {
            Some((_, t)) if t.federation.external => {
                (self.value_type(t) != self.value_type(f) || t.nullable != f.nullable).then(|| {
                    format!(
                        "`{name}` of {} and this field differ in type",
                        target.key.name
                    )
                })
            }
            _ => Some(format!(
                "{} has no #[field(external)] field `{name}`",
                target.key.name
            )),
        }
    }

    fn check_names(&self, errors: &mut Vec<CheckError>) {
        // Type names and root fields must not clash across models.
        let mut types: HashMap<&str, &ModelMeta> = HashMap::new();
        let mut tables: HashMap<&str, &ModelMeta> = HashMap::new();
        let mut roots: HashMap<&str, &ModelMeta> = HashMap::new();
        for m in &self.models {
            if let Some(other) = types.insert(&m.graphql_name, m) {
                errors.push(CheckError {
                    id: CheckId::E003,
                    at: m.key.to_string(),
                    message: format!(
                        "GraphQL type name `{}` is also used by {}",
                        m.graphql_name, other.key
                    ),
                    hint: "rename one with #[model(graphql_name = \"...\")]".into(),
                });
            }
            for (i, f) in m.fields.iter().enumerate() {
                if m.external && !m.is_pk(i) && !f.federation.external {
                    if let Some(message) = stored_problem(m, f) {
                        errors.push(CheckError {
                            id: CheckId::E012,
                            at: format!("{}.{}", m.key, f.name),
                            message,
                            hint: "a field this service stores on another service's entity is an optional value or has a default, on an entity it resolves".into(),
                        });
                    }
                    continue;
                }
                let ok = if m.external {
                    m.is_pk(i) || !matches!(f.kind, FieldKind::ForeignKey { .. })
                } else {
                    !f.federation.external
                };
                if !ok {
                    errors.push(CheckError {
                        id: CheckId::E012,
                        at: format!("{}.{}", m.key, f.name),
                        message: if m.external {
                            "an external model's #[field(external)] fields are values, not foreign keys".into()
                        } else {
                            "#[field(external)] belongs on an external model".into()
                        },
                        hint: "keep `pub id: Id` and the fields your computed fields require (marked external); the rest live in the owning service".into(),
                    });
                }
            }
            for f in &m.fields {
                if let Some(p) = f.federation.provides
                    && let Some(message) = self.check_provides(m, f, p)
                {
                    errors.push(CheckError {
                            id: CheckId::E012,
                            at: format!("{}.{}", m.key, f.name),
                            message,
                            hint: "`provides = \"reference.field\"`: a Reference<T> of this model, and an #[field(external)] field of T of the same type".into(),
                        });
                }
            }
            if !m.has_table() {
                continue;
            }
            if let Some(other) = tables.insert(&m.table, m) {
                errors.push(CheckError {
                    id: CheckId::E004,
                    at: m.key.to_string(),
                    message: format!("table `{}` is also used by {}", m.table, other.key),
                    hint: "rename one with #[model(table = \"...\")]".into(),
                });
            }
            let roots_of = if m.external {
                Vec::new()
            } else {
                vec![&m.single_name, &m.plural_name]
            };
            for root in roots_of {
                if let Some(other) = roots.insert(root, m) {
                    errors.push(CheckError {
                        id: CheckId::E003,
                        at: m.key.to_string(),
                        message: format!("root field `{root}` is also generated for {}", other.key),
                        hint: "set #[model(plural = \"...\")] or #[model(graphql_name = \"...\")]"
                            .into(),
                    });
                }
            }
            // Object fields: values, relations.
            let mut names: HashMap<&str, String> = HashMap::new();
            let mut columns: HashMap<&str, &str> = HashMap::new();
            for f in &m.fields {
                if let Some(prev) = names.insert(&f.graphql_name, format!("field `{}`", f.name)) {
                    errors.push(clash(m, &f.graphql_name, &prev));
                }
                if let Some(prev) = columns.insert(&f.column, f.name) {
                    errors.push(CheckError {
                        id: CheckId::E007,
                        at: format!("{}.{}", m.key, f.name),
                        message: format!("column `{}` is also used by field `{prev}`", f.column),
                        hint: "set #[field(column = \"...\")] on one of them".into(),
                    });
                }
            }
            for r in &m.relations {
                let what = match r.kind {
                    RelationKind::ForwardOne { .. } => "relation".to_owned(),
                    RelationKind::ManyToMany { forward: true, .. } => {
                        "many-to-many field".to_owned()
                    }
                    RelationKind::ReverseOne { field } | RelationKind::ReverseMany { field } => {
                        let source = self.model(r.target);
                        format!(
                            "the reverse accessor of {}.{}",
                            source.key, source.fields[field].name
                        )
                    }
                    RelationKind::ManyToMany { forward: false, .. } => {
                        format!(
                            "the reverse accessor of a many-to-many field of {}",
                            self.model(r.target).key
                        )
                    }
                };
                if let Some(prev) = names.insert(&r.name, what.clone()) {
                    errors.push(CheckError {
                        id: CheckId::E009,
                        at: format!("{}.{}", m.key, r.name),
                        message: format!("{what} `{}` clashes with {prev}", r.name),
                        hint: "give the relation a distinct reverse name with #[field(related_name = \"...\")]".into(),
                    });
                }
            }
        }
        let mut join_tables: HashMap<&str, ()> = HashMap::new();
        for j in &self.joins {
            if tables.contains_key(j.table.as_str()) || join_tables.insert(&j.table, ()).is_some() {
                errors.push(CheckError {
                    id: CheckId::E004,
                    at: self.model(j.owner).key.to_string(),
                    message: format!("join table `{}` clashes with another table", j.table),
                    hint: "set #[field(db_table = \"...\")] on the many-to-many field".into(),
                });
            }
        }
    }
}

fn clash(m: &ModelMeta, name: &str, prev: &str) -> CheckError {
    CheckError {
        id: CheckId::E003,
        at: format!("{}.{name}", m.key),
        message: format!("GraphQL field `{name}` clashes with {prev}"),
        hint: "rename one of the fields".into(),
    }
}

fn unregistered(at: &str, target: ModelKey) -> CheckError {
    CheckError {
        id: CheckId::E001,
        at: at.to_owned(),
        message: format!("relation to {target}, which is not registered"),
        hint: format!("add the `{}` app (or the model) to the service", target.app),
    }
}

fn check_options(
    at: &str,
    kind: FieldKind,
    nullable: bool,
    o: &crate::FieldOptions,
    errors: &mut Vec<CheckError>,
) {
    let mut bad = |message: String, hint: &str| {
        errors.push(CheckError {
            id: CheckId::E006,
            at: at.to_owned(),
            message,
            hint: hint.to_owned(),
        });
    };
    let is_datetime = matches!(kind, FieldKind::DateTime | FieldKind::Date);
    if (o.auto_now || o.auto_now_add) && !is_datetime {
        bad(
            "auto_now / auto_now_add on a field that is not a date or datetime".into(),
            "use them on DateTime<Utc> or NaiveDate fields",
        );
    }
    if o.max_length == Some(0) {
        bad(
            "max_length must be at least 1".into(),
            "set max_length = 1 or more",
        );
    }
    let keyable = matches!(
        kind,
        FieldKind::AutoId
            | FieldKind::Uuid
            | FieldKind::String { .. }
            | FieldKind::Text
            | FieldKind::I32
            | FieldKind::I64
    );
    if o.primary_key && (!keyable || nullable) {
        bad(
            "a primary key is an Id, a Uuid, a String or an integer, and never Option".into(),
            "use `pub id: Id`, a Uuid, or a String or integer the client assigns",
        );
    }
    if o.on_delete == Some(OnDelete::SetNull) && !nullable {
        bad(
            "on_delete = set_null on a foreign key that is not Option".into(),
            "declare the field as Option<ForeignKey<..>> or pick another on_delete",
        );
    }
    if o.preset.is_some() {
        let keyish = matches!(
            kind,
            FieldKind::ForeignKey { .. }
                | FieldKind::I32
                | FieldKind::I64
                | FieldKind::String { .. }
                | FieldKind::Text
                | FieldKind::Uuid
        );
        if !keyish || o.primary_key {
            bad(
                "current_user on a field that cannot hold a user's id".into(),
                "put it on a ForeignKey<User> (or an integer, string or UUID field)",
            );
        }
        if o.default.is_some() {
            bad(
                "a field with a preset also has a default".into(),
                "keep one: `default = current_user` or a constant default",
            );
        }
    }
    let unsettable = (o.hidden || o.read_only)
        && !nullable
        && o.default.is_none()
        && o.preset.is_none()
        && !o.auto_now
        && !o.auto_now_add
        && !o.primary_key
        && !matches!(kind, FieldKind::AutoId);
    if unsettable {
        bad(
            "a hidden or read-only field that is required can never be set".into(),
            "give it a default, or make it Option<..>",
        );
    }
    // A many-to-many field takes both; it never reaches this check.
    if o.list {
        bad(
            "`list` on a field that is not a many-to-many relation".into(),
            "a to-one relation is one object already; for the reverse of a foreign key write `related_list`",
        );
    }
    if o.related_list
        && !matches!(
            kind,
            FieldKind::ForeignKey {
                one_to_one: false,
                ..
            }
        )
    {
        bad(
            "`related_list` on a field whose reverse is not a list".into(),
            "write it on a ForeignKey (its reverse is to-many) or a ManyToMany field",
        );
    }
    if o.on_delete.is_some() && !matches!(kind, FieldKind::ForeignKey { .. }) {
        bad(
            "on_delete on a field that is not a relation".into(),
            "remove on_delete",
        );
    }
    if let FieldKind::Decimal {
        max_digits,
        decimal_places,
    } = kind
        && (decimal_places > max_digits || max_digits == 0 || max_digits > 38)
    {
        bad(
            format!("decimal with max_digits {max_digits} and decimal_places {decimal_places}"),
            "use 1 <= max_digits <= 38 and decimal_places <= max_digits",
        );
    }
    if let Some(default) = &o.default {
        let fits = match (kind, default) {
            (_, Value::Null) => nullable,
            (FieldKind::Bool, Value::Bool(_))
            | (FieldKind::I32, Value::I32(_))
            | (FieldKind::I64, Value::I64(_) | Value::I32(_))
            | (FieldKind::F64, Value::F64(_))
            | (FieldKind::Decimal { .. }, Value::Decimal(_))
            | (FieldKind::String { .. } | FieldKind::Text, Value::String(_))
            | (FieldKind::Date, Value::Date(_))
            | (FieldKind::DateTime, Value::DateTime(_))
            | (FieldKind::Uuid, Value::Uuid(_))
            | (FieldKind::Json, _) => true,
            (FieldKind::Enum(e), Value::String(s)) => e.by_stored(s).is_some(),
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
                | FieldKind::Enum(_)
                | FieldKind::ForeignKey { .. },
                _,
            ) => false,
        };
        if !fits {
            bad(
                format!("default {default:?} does not fit the field's type"),
                "give a default of the field's own type",
            );
        }
        if let (FieldKind::String { max_length }, Value::String(s)) = (kind, default)
            && s.chars().count() > max_length as usize
        {
            bad(
                "the default is longer than max_length".into(),
                "shorten the default",
            );
        }
    }
}

/// How a value is stored and carried: what a column decodes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    Bool,
    I32,
    I64,
    F64,
    Decimal,
    String,
    Date,
    DateTime,
    Uuid,
    Json,
}

impl Registry {
    /// The storage type of a field; a foreign key stores its target's key type.
    pub fn value_type(&self, field: &FieldMeta) -> ValueType {
        match self.value_kind(field) {
            FieldKind::AutoId | FieldKind::I64 => ValueType::I64,
            FieldKind::Bool => ValueType::Bool,
            FieldKind::I32 => ValueType::I32,
            FieldKind::F64 => ValueType::F64,
            FieldKind::Decimal { .. } => ValueType::Decimal,
            FieldKind::String { .. } | FieldKind::Text | FieldKind::Enum(_) => ValueType::String,
            FieldKind::Date => ValueType::Date,
            FieldKind::DateTime => ValueType::DateTime,
            FieldKind::Uuid => ValueType::Uuid,
            FieldKind::Json => ValueType::Json,
            // value_kind never returns a foreign key: keys are AutoId or Uuid.
            FieldKind::ForeignKey { .. } => ValueType::I64,
        }
    }
}

/// Why field `f` cannot be stored here on `m`, another service's entity:
/// an entity this service stored nothing for reads it too, so it needs a
/// value then (null or its default); it holds a value, not a relation; and
/// an entity this service does not resolve has no fields here at all.
fn stored_problem(m: &ModelMeta, f: &FieldMeta) -> Option<String> {
    if m.federation.unresolvable {
        Some(format!(
            "{} is `resolvable = false`: this service resolves none of it, so it cannot store `{}`",
            m.graphql_name, f.name
        ))
    } else if matches!(f.kind, FieldKind::ForeignKey { .. }) {
        Some(format!(
            "`{}` is a foreign key: a field this service stores on another service's entity holds a value; refer to the entity from a model of this service instead",
            f.name
        ))
    } else if !f.nullable && f.default.is_none() {
        Some(format!(
            "`{}` is required and has no default, but entities this service has stored nothing for read it too: make it an Option or give it a default",
            f.name
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{FieldDecl, FieldOptions};

    fn f(name: &'static str, kind: KindDecl) -> FieldDecl {
        FieldDecl {
            name,
            kind,
            nullable: false,
            options: FieldOptions::default(),
        }
    }

    fn m(name: &'static str, fields: Vec<FieldDecl>) -> ModelDecl {
        ModelDecl {
            app: "blog",
            name,
            table: None,
            graphql_name: None,
            plural: None,
            help: None,
            fields,
            operations: Operations::default(),
            validator: None,
            graphql: true,
            rest: true,
            external: false,
            federation: Default::default(),
            keys: Vec::new(),
            unique: Vec::new(),
            primary_key: None,
        }
    }

    const USER: ModelKey = ModelKey {
        app: "blog",
        name: "User",
    };
    const TAG: ModelKey = ModelKey {
        app: "blog",
        name: "Tag",
    };

    fn blog() -> Vec<ModelDecl> {
        vec![
            m(
                "User",
                vec![f("id", KindDecl::AutoId), f("name", KindDecl::String)],
            ),
            m(
                "Tag",
                vec![f("id", KindDecl::AutoId), f("name", KindDecl::String)],
            ),
            m(
                "BlogPost",
                vec![
                    f("id", KindDecl::AutoId),
                    f(
                        "author",
                        KindDecl::ForeignKey {
                            target: USER,
                            one_to_one: false,
                        },
                    ),
                    f("tags", KindDecl::ManyToMany { target: TAG }),
                    f("created_at", KindDecl::DateTime),
                ],
            ),
        ]
    }

    #[test]
    fn names_tables_and_relations_in_both_directions() {
        let reg = Registry::resolve(blog()).unwrap();
        let post = reg
            .by_key(ModelKey {
                app: "blog",
                name: "BlogPost",
            })
            .unwrap();
        assert_eq!(post.table, "blog_blog_post");
        assert_eq!(
            (post.single_name.as_str(), post.plural_name.as_str()),
            ("blogPost", "blogPosts")
        );
        let (_, author) = post.field("author").unwrap();
        assert_eq!(
            (author.column.as_str(), author.graphql_name.as_str()),
            ("author_id", "authorId")
        );
        assert!(author.index, "foreign keys are indexed");
        assert_eq!(
            post.field("created_at").unwrap().1.graphql_name,
            "createdAt"
        );
        let rels: Vec<&str> = post.relations.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(rels, ["author", "tags"]);
        let user = reg.by_key(USER).unwrap();
        assert!(matches!(
            user.relation("blogPosts"),
            Some((
                _,
                RelationMeta {
                    kind: RelationKind::ReverseMany { .. },
                    ..
                }
            ))
        ));
        let tag = reg.by_key(TAG).unwrap();
        assert!(matches!(
            tag.relation("blogPosts"),
            Some((
                _,
                RelationMeta {
                    kind: RelationKind::ManyToMany { forward: false, .. },
                    ..
                }
            ))
        ));
        let join = &reg.joins()[0];
        assert_eq!(
            (
                join.table.as_str(),
                join.owner_column.as_str(),
                join.target_column.as_str()
            ),
            ("blog_blog_post_tags", "blog_post_id", "tag_id")
        );
        assert_eq!(reg.value_type(author), ValueType::I64);
    }

    #[test]
    fn checks_report_every_problem_with_an_id() {
        let mut decls = blog();
        decls.remove(0); // User is gone: E001.
        decls.push(m("Tag", vec![f("id", KindDecl::AutoId)])); // E002
        decls.push(m("NoKey", vec![f("name", KindDecl::String)])); // E005
        let mut bad = f("when", KindDecl::I32);
        bad.options.auto_now = true; // E006
        decls.push(m("Odd", vec![f("id", KindDecl::AutoId), bad]));
        let err = Registry::resolve(decls).unwrap_err();
        let mut ids: Vec<&str> = err.0.iter().map(|e| e.id.code()).collect();
        ids.sort_unstable();
        assert_eq!(
            ids,
            [
                "graphloom.E001",
                "graphloom.E002",
                "graphloom.E005",
                "graphloom.E006"
            ]
        );
        assert!(err.to_string().contains("HINT"));
    }

    #[test]
    fn related_name_plus_leaves_out_the_reverse_relation() {
        let mut decls = blog();
        for field in &mut decls[2].fields[1..3] {
            field.options.related_name = Some("+");
        }
        let reg = Registry::resolve(decls).unwrap();
        let relations = |name| {
            reg.by_key(ModelKey { app: "blog", name })
                .unwrap()
                .relations
                .iter()
                .map(|r| r.name.as_str())
                .collect::<Vec<_>>()
        };
        assert_eq!(relations("User"), Vec::<&str>::new());
        assert_eq!(relations("Tag"), Vec::<&str>::new());
        // The forward relations and the join table stay.
        assert_eq!(relations("BlogPost"), ["author", "tags"]);
        assert_eq!(reg.joins().len(), 1);
        // Without it, both reverse relations are there.
        let reg = Registry::resolve(blog()).unwrap();
        let user = reg.by_key(USER).unwrap();
        assert_eq!(user.relations[0].name, "blogPosts");
    }

    #[test]
    fn clashes_are_caught() {
        let mut decls = blog();
        // A second foreign key to User: both want `User.blogPosts`.
        decls[2].fields.push(f(
            "editor",
            KindDecl::ForeignKey {
                target: USER,
                one_to_one: false,
            },
        ));
        let err = Registry::resolve(decls.clone()).unwrap_err();
        assert_eq!(err.0[0].id, "graphloom.E009");
        decls[2].fields.last_mut().unwrap().options.related_name = Some("editedPosts");
        assert!(Registry::resolve(decls.clone()).is_ok());
        let mut c = f("x", KindDecl::I32);
        c.options.column = Some("author_id");
        decls[2].fields.push(c);
        assert_eq!(
            Registry::resolve(decls).unwrap_err().0[0].id,
            "graphloom.E007"
        );
        let mut twin = blog();
        twin[1].graphql_name = Some("User");
        assert_eq!(
            Registry::resolve(twin).unwrap_err().0[0].id,
            "graphloom.E003"
        );
    }

    #[test]
    fn keys_are_counted_generated_or_assigned_values_never_null() {
        let key = |kind: KindDecl, nullable: bool| {
            let mut k = f("code", kind);
            k.options.primary_key = true;
            k.options.max_length = Some(8);
            k.nullable = nullable;
            m("A", vec![k, f("name", KindDecl::String)])
        };
        for kind in [
            KindDecl::String,
            KindDecl::I64,
            KindDecl::I32,
            KindDecl::Uuid,
        ] {
            let reg = Registry::resolve(vec![key(kind, false)]).unwrap();
            let a = &reg.models()[0];
            assert_eq!(a.pk, [0]);
            // A key the client assigns is in the create input, never the update's.
            let assigned = !matches!(kind, KindDecl::Uuid);
            assert_eq!(a.fields[0].assigned_key(), assigned, "{kind:?}");
            assert_eq!(a.fields[0].writable(true), assigned);
            assert!(!a.fields[0].writable(false));
            assert_eq!(a.fields[0].required_on_create(), assigned);
        }
        for (kind, nullable) in [
            (KindDecl::String, true),
            (KindDecl::Date, false),
            (KindDecl::Json, false),
        ] {
            let err = Registry::resolve(vec![key(kind, nullable)]).unwrap_err();
            assert_eq!(err.0[0].id, "graphloom.E006", "{err}");
            assert!(err.0[0].message.contains("never Option"), "{err}");
        }
        // Only the key: the create has a field to set, the update has none.
        let mut only = key(KindDecl::String, false);
        only.fields.truncate(1);
        assert_eq!(
            Registry::resolve(vec![only.clone()]).unwrap_err().0[0].id,
            "graphloom.E015"
        );
        only.operations.update = false;
        assert!(Registry::resolve(vec![only]).is_ok());
    }

    #[test]
    fn defaults_must_fit() {
        let mut d = f("n", KindDecl::String);
        d.options.max_length = Some(3);
        d.options.default = Some(Value::String("toolong".into()));
        let err = Registry::resolve(vec![m("A", vec![f("id", KindDecl::AutoId), d])]).unwrap_err();
        assert_eq!(err.0[0].id, "graphloom.E006");
        let mut d = f("n", KindDecl::Bool);
        d.options.default = Some(Value::I32(1));
        assert!(Registry::resolve(vec![m("A", vec![f("id", KindDecl::AutoId), d])]).is_err());
        let mut d = f("secret", KindDecl::String);
        d.options.hidden = true;
        let err = Registry::resolve(vec![m("A", vec![f("id", KindDecl::AutoId), d.clone()])])
            .unwrap_err();
        assert!(err.0[0].message.contains("can never be set"), "{err}");
        d.options.default = Some(Value::String("x".into()));
        // Nothing left for the generated writes to set: they must be off.
        let mut a = m("A", vec![f("id", KindDecl::AutoId), d]);
        assert_eq!(
            Registry::resolve(vec![a.clone()]).unwrap_err().0[0].id,
            "graphloom.E015"
        );
        a.operations.create = false;
        a.operations.update = false;
        assert!(Registry::resolve(vec![a]).is_ok());
    }

    #[test]
    fn entity_keys_are_unique_value_fields() {
        let mut sku = f("sku", KindDecl::String);
        sku.options.max_length = Some(20);
        sku.options.unique = true;
        let mut name = f("name", KindDecl::String);
        name.options.max_length = Some(20);
        let model = |keys: Vec<&'static str>| {
            let mut d = m(
                "Item",
                vec![f("id", KindDecl::AutoId), sku.clone(), name.clone()],
            );
            d.keys = keys;
            d
        };
        let reg = Registry::resolve(vec![model(vec!["sku"])]).unwrap();
        assert_eq!(reg.models()[0].keys, [vec![0], vec![1]]);
        for keys in [
            vec!["name"],
            vec!["nope"],
            vec!["sku", "sku"],
            vec!["id", "id"],
            vec!["sku name"],
        ] {
            let err = Registry::resolve(vec![model(keys.clone())]).unwrap_err();
            assert_eq!(err.0[0].id, "graphloom.E013", "{keys:?}: {err}");
        }
        // Several fields make a key when they are unique together.
        let mut d = model(vec!["name sku"]);
        d.unique = vec!["sku name"];
        let reg = Registry::resolve(vec![d]).unwrap();
        assert_eq!(reg.models()[0].keys, [vec![0], vec![2, 1]]);
        assert_eq!(reg.models()[0].unique, [vec![1, 2]]);
        for unique in ["sku", "sku nope"] {
            let mut d = model(vec![]);
            d.unique = vec![unique];
            let err = Registry::resolve(vec![d]).unwrap_err();
            assert_eq!(err.0[0].id, "graphloom.E013", "{unique}: {err}");
        }
        // Keys are integers, strings or UUIDs.
        let mut flag = f("flag", KindDecl::Bool);
        flag.options.unique = true;
        let mut d = m("Flagged", vec![f("id", KindDecl::AutoId), flag]);
        d.keys = vec!["flag"];
        let err = Registry::resolve(vec![d]).unwrap_err();
        assert!(err.0[0].message.contains("value kind"), "{err}");
        // Naming the primary key only places its `@key`, here and on
        // another service's entity.
        let reg = Registry::resolve(vec![model(vec!["sku", "id"])]).unwrap();
        assert_eq!(reg.models()[0].keys, [vec![0], vec![1]]);
        assert_eq!(reg.models()[0].key_index("id"), Some(0));
        assert_eq!(reg.models()[0].key_index("sku"), Some(1));
        assert_eq!(reg.models()[0].key_index("name"), None);
        let mut owned = sku.clone();
        owned.options.federation.external = true;
        let mut ext = m("Remote", vec![f("id", KindDecl::AutoId), owned]);
        ext.external = true;
        ext.keys = vec!["id"];
        assert!(Registry::resolve(vec![ext.clone()]).is_ok());
        ext.keys = vec!["sku"];
        assert_eq!(
            Registry::resolve(vec![ext]).unwrap_err().0[0].id,
            "graphloom.E013"
        );
        // An interface object is another service's entity.
        let mut local = model(vec![]);
        local.federation.interface_object = true;
        let err = Registry::resolve(vec![local]).unwrap_err();
        assert!(err.0[0].message.contains("interface_object"), "{err}");
        // So is an entity this service does not resolve.
        let mut local = model(vec![]);
        local.federation.unresolvable = true;
        let err = Registry::resolve(vec![local]).unwrap_err();
        assert!(err.0[0].message.contains("resolvable = false"), "{err}");
        // Another service's entity cannot be a plain type here.
        let mut ext = model(vec![]);
        ext.external = true;
        ext.federation.plain = true;
        let err = Registry::resolve(vec![ext]).unwrap_err();
        assert!(
            err.0.iter().any(|e| e.message.contains("entity = false")),
            "{err}"
        );
    }

    #[test]
    fn a_composite_key_is_its_fields_in_order() {
        let mut code = f("code", KindDecl::String);
        code.options.max_length = Some(3);
        let mut d = m(
            "Rate",
            vec![f("year", KindDecl::I32), code, f("value", KindDecl::F64)],
        );
        d.primary_key = Some("code year");
        d.keys = vec!["year code"];
        let reg = Registry::resolve(vec![d.clone()]).unwrap();
        let rate = &reg.models()[0];
        assert_eq!(rate.pk, [1, 0]);
        assert!(rate.composite_pk() && rate.is_pk(0) && !rate.is_pk(2));
        // Naming the key places its `@key` (its fields as named); it is no
        // second key.
        assert_eq!(rate.keys, [vec![0, 1]]);
        let (year, code) = (&rate.fields[0], &rate.fields[1]);
        assert!(year.primary_key && year.composite_key && !year.unique);
        // Given on create, never changed, filtered and typed as their kind.
        assert!(code.writable(true) && !code.writable(false) && code.required_on_create());
        assert!(!code.generated_key() && code.lookup.is_none());
        assert_eq!(code.capabilities().ops, crate::capability::TEXT);
        assert_eq!(rate.roots.lookup.as_deref(), Some("rate"));
        let values = [Value::I32(2024), Value::String("EUR".into()), Value::Null];
        assert_eq!(
            rate.key_of(&values),
            Value::Tuple(vec![Value::String("EUR".into()), Value::I32(2024)])
        );
        // Another service's entity is keyed here by one field.
        let mut external = d.clone();
        external.external = true;
        let err = Registry::resolve(vec![external]).unwrap_err();
        assert!(
            err.0
                .iter()
                .any(|e| e.message == "another service's entity is keyed here by one field"),
            "{err}"
        );
        // A part that is also unique alone keeps its own lookup.
        let mut unique_year = d;
        unique_year.fields[0].options.unique = true;
        let reg = Registry::resolve(vec![unique_year]).unwrap();
        assert_eq!(
            reg.models()[0].fields[0].lookup.as_deref(),
            Some("rateByYear")
        );
    }

    #[test]
    fn external_fields_belong_to_external_models() {
        let mut name = f("name", KindDecl::String);
        name.options.max_length = Some(20);
        let mut ext = m("Remote", vec![f("id", KindDecl::AutoId), name.clone()]);
        ext.external = true;
        // A field stored here on another service's entity: required with
        // no default, it has no value for entities stored nothing for.
        let err = Registry::resolve(vec![ext.clone()]).unwrap_err();
        assert_eq!(err.0[0].id, "graphloom.E012");
        assert_eq!(err.0[0].at, "blog.Remote.name");
        assert!(
            err.0[0]
                .message
                .contains("make it an Option or give it a default"),
            "{err}"
        );
        let mut stored = ext.clone();
        stored.fields[1].nullable = true;
        let reg = Registry::resolve(vec![stored.clone()]).unwrap();
        let remote = &reg.models()[0];
        assert!(remote.has_table() && remote.stores_here(0) && remote.stores_here(1));
        stored.fields[1].nullable = false;
        stored.fields[1].options.default = Some(Value::from("?"));
        assert!(Registry::resolve(vec![stored.clone()]).is_ok());
        stored.federation.unresolvable = true;
        let err = Registry::resolve(vec![stored]).unwrap_err();
        assert!(err.0[0].message.contains("`resolvable = false`"), "{err}");
        let mut ext_name = name.clone();
        ext_name.options.federation.external = true;
        ext.fields[1] = ext_name.clone();
        let reg = Registry::resolve(vec![ext]).unwrap();
        // Nothing stored here: no table.
        assert!(!reg.models()[0].has_table() && !reg.models()[0].stores_here(1));
        let local = m("Local", vec![f("id", KindDecl::AutoId), ext_name]);
        let err = Registry::resolve(vec![local]).unwrap_err();
        assert!(
            err.0[0].message.contains("belongs on an external model"),
            "{err}"
        );
    }

    #[test]
    fn provides_names_an_external_field_through_a_reference() {
        let remote = ModelKey {
            app: "blog",
            name: "Remote",
        };
        let string = |name: &'static str| {
            let mut d = f(name, KindDecl::String);
            d.options.max_length = Some(20);
            d
        };
        let mut title = string("title");
        title.options.federation.external = true;
        let mut ext = m("Remote", vec![f("id", KindDecl::AutoId), title]);
        ext.external = true;
        let local = |provides: &'static str, copy: FieldDecl| {
            let mut copy = copy;
            copy.options.federation.provides = Some(provides);
            let reference = f(
                "remote",
                KindDecl::ForeignKey {
                    target: remote,
                    one_to_one: false,
                },
            );
            m("Local", vec![f("id", KindDecl::AutoId), reference, copy])
        };
        let reg =
            Registry::resolve(vec![ext.clone(), local("remote.title", string("copy"))]).unwrap();
        let l = reg
            .by_key(ModelKey {
                app: "blog",
                name: "Local",
            })
            .unwrap();
        assert_eq!(l.provided_through(&reg, 1), [(2, 1)]);
        for (provides, copy, why) in [
            ("title", string("copy"), "not `reference.field`"),
            ("id.title", string("copy"), "not a reference"),
            (
                "remote.nope",
                string("copy"),
                "no #[field(external)] field `nope`",
            ),
            ("remote.title", f("copy", KindDecl::I32), "differ in type"),
        ] {
            let err = Registry::resolve(vec![ext.clone(), local(provides, copy)]).unwrap_err();
            assert_eq!(err.0[0].id, "graphloom.E012");
            assert!(err.0[0].message.contains(why), "{provides}: {err}");
        }
    }
}
