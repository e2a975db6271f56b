//! What changed between two versions of a schema, and whether each change
//! can break a client: the check a service runs in CI against the schema it
//! published (`SERVICE schema --diff OLD.graphql`).
//!
//! Each [`Change`] has a [`Level`]:
//! - **breaking**: a query, variable or fragment that worked may now fail to
//!   validate or return an error (a removed field, a field that became
//!   nullable, an argument that became required, a removed enum value, a
//!   removed federation `@key` …);
//! - **dangerous**: every valid operation still validates, but a client may
//!   behave differently (a new enum value its `switch` does not know, a new
//!   union member, a changed default, a changed `@requires`);
//! - **safe**: additions and documentation.
//!
//! The change names follow graphql-inspector's (`FIELD_REMOVED`, …) so the
//! two can be compared; the few places where the levels differ are listed
//! on [`Kind`]. Federation directives are understood as a gateway sees them.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use async_graphql::parser::types::{
    BaseType, ConstDirective, DirectiveDefinition, FieldDefinition, InputValueDefinition,
    SchemaDefinition, Type, TypeDefinition, TypeKind, TypeSystemDefinition,
};
use async_graphql::parser::{Positioned, parse_schema};

/// How a change affects existing clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    Breaking,
    Dangerous,
    Safe,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Breaking => "breaking",
            Level::Dangerous => "dangerous",
            Level::Safe => "safe",
        }
    }
}

/// What kind of change. Levels differ from graphql-inspector's in three
/// places: a nullable argument without a default added to an existing
/// field is safe here (dangerous there: no operation that validated stops
/// validating, and the server sees what it saw before); federation
/// directives are classified (there every directive usage is the same
/// dangerous change); and removing a type no operation could name (nothing
/// led to it from the roots, a directive argument or a federation `@key`)
/// is safe here, breaking there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    TypeAdded,
    TypeRemoved,
    TypeKindChanged,
    TypeDescriptionChanged,
    FieldAdded,
    FieldRemoved,
    FieldTypeChanged,
    FieldDescriptionChanged,
    FieldDeprecationAdded,
    FieldDeprecationRemoved,
    FieldDeprecationReasonChanged,
    FieldArgumentAdded,
    FieldArgumentRemoved,
    FieldArgumentTypeChanged,
    FieldArgumentDefaultChanged,
    FieldArgumentDescriptionChanged,
    InputFieldAdded,
    InputFieldRemoved,
    InputFieldTypeChanged,
    InputFieldDefaultValueChanged,
    InputFieldDescriptionChanged,
    EnumValueAdded,
    EnumValueRemoved,
    EnumValueDescriptionChanged,
    EnumValueDeprecationAdded,
    EnumValueDeprecationRemoved,
    UnionMemberAdded,
    UnionMemberRemoved,
    ObjectTypeInterfaceAdded,
    ObjectTypeInterfaceRemoved,
    SchemaQueryTypeChanged,
    SchemaMutationTypeChanged,
    SchemaSubscriptionTypeChanged,
    DirectiveAdded,
    DirectiveRemoved,
    DirectiveLocationAdded,
    DirectiveLocationRemoved,
    DirectiveArgumentAdded,
    DirectiveArgumentRemoved,
    DirectiveArgumentTypeChanged,
    DirectiveRepeatableAdded,
    DirectiveRepeatableRemoved,
    /// A directive applied to a type, field, argument or value was added.
    DirectiveUsageAdded,
    /// A directive applied to a type, field, argument or value was removed.
    DirectiveUsageRemoved,
}

impl Kind {
    /// The stable name, as graphql-inspector spells it where it has one.
    pub fn code(self) -> &'static str {
        match self {
            Kind::TypeAdded => "TYPE_ADDED",
            Kind::TypeRemoved => "TYPE_REMOVED",
            Kind::TypeKindChanged => "TYPE_KIND_CHANGED",
            Kind::TypeDescriptionChanged => "TYPE_DESCRIPTION_CHANGED",
            Kind::FieldAdded => "FIELD_ADDED",
            Kind::FieldRemoved => "FIELD_REMOVED",
            Kind::FieldTypeChanged => "FIELD_TYPE_CHANGED",
            Kind::FieldDescriptionChanged => "FIELD_DESCRIPTION_CHANGED",
            Kind::FieldDeprecationAdded => "FIELD_DEPRECATION_ADDED",
            Kind::FieldDeprecationRemoved => "FIELD_DEPRECATION_REMOVED",
            Kind::FieldDeprecationReasonChanged => "FIELD_DEPRECATION_REASON_CHANGED",
            Kind::FieldArgumentAdded => "FIELD_ARGUMENT_ADDED",
            Kind::FieldArgumentRemoved => "FIELD_ARGUMENT_REMOVED",
            Kind::FieldArgumentTypeChanged => "FIELD_ARGUMENT_TYPE_CHANGED",
            Kind::FieldArgumentDefaultChanged => "FIELD_ARGUMENT_DEFAULT_CHANGED",
            Kind::FieldArgumentDescriptionChanged => "FIELD_ARGUMENT_DESCRIPTION_CHANGED",
            Kind::InputFieldAdded => "INPUT_FIELD_ADDED",
            Kind::InputFieldRemoved => "INPUT_FIELD_REMOVED",
            Kind::InputFieldTypeChanged => "INPUT_FIELD_TYPE_CHANGED",
            Kind::InputFieldDefaultValueChanged => "INPUT_FIELD_DEFAULT_VALUE_CHANGED",
            Kind::InputFieldDescriptionChanged => "INPUT_FIELD_DESCRIPTION_CHANGED",
            Kind::EnumValueAdded => "ENUM_VALUE_ADDED",
            Kind::EnumValueRemoved => "ENUM_VALUE_REMOVED",
            Kind::EnumValueDescriptionChanged => "ENUM_VALUE_DESCRIPTION_CHANGED",
            Kind::EnumValueDeprecationAdded => "ENUM_VALUE_DEPRECATION_REASON_ADDED",
            Kind::EnumValueDeprecationRemoved => "ENUM_VALUE_DEPRECATION_REASON_REMOVED",
            Kind::UnionMemberAdded => "UNION_MEMBER_ADDED",
            Kind::UnionMemberRemoved => "UNION_MEMBER_REMOVED",
            Kind::ObjectTypeInterfaceAdded => "OBJECT_TYPE_INTERFACE_ADDED",
            Kind::ObjectTypeInterfaceRemoved => "OBJECT_TYPE_INTERFACE_REMOVED",
            Kind::SchemaQueryTypeChanged => "SCHEMA_QUERY_TYPE_CHANGED",
            Kind::SchemaMutationTypeChanged => "SCHEMA_MUTATION_TYPE_CHANGED",
            Kind::SchemaSubscriptionTypeChanged => "SCHEMA_SUBSCRIPTION_TYPE_CHANGED",
            Kind::DirectiveAdded => "DIRECTIVE_ADDED",
            Kind::DirectiveRemoved => "DIRECTIVE_REMOVED",
            Kind::DirectiveLocationAdded => "DIRECTIVE_LOCATION_ADDED",
            Kind::DirectiveLocationRemoved => "DIRECTIVE_LOCATION_REMOVED",
            Kind::DirectiveArgumentAdded => "DIRECTIVE_ARGUMENT_ADDED",
            Kind::DirectiveArgumentRemoved => "DIRECTIVE_ARGUMENT_REMOVED",
            Kind::DirectiveArgumentTypeChanged => "DIRECTIVE_ARGUMENT_TYPE_CHANGED",
            Kind::DirectiveRepeatableAdded => "DIRECTIVE_REPEATABLE_ADDED",
            Kind::DirectiveRepeatableRemoved => "DIRECTIVE_REPEATABLE_REMOVED",
            Kind::DirectiveUsageAdded => "DIRECTIVE_USAGE_ADDED",
            Kind::DirectiveUsageRemoved => "DIRECTIVE_USAGE_REMOVED",
        }
    }
}

/// One difference between the old and the new schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub level: Level,
    pub kind: Kind,
    /// `Type`, `Type.field`, `Type.field.argument`, `Enum.VALUE`, `@directive`.
    pub path: String,
    pub message: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:<9} {:<36} {}",
            self.level.as_str(),
            self.kind.code(),
            self.message
        )
    }
}

/// Why two schemas could not be compared.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    #[error("the {which} schema is not valid SDL: {message}")]
    Parse {
        which: &'static str,
        message: String,
    },
}

/// The changes from `old` to `new` (both SDL), most severe first, then by path.
pub fn diff(old: &str, new: &str) -> Result<Vec<Change>, DiffError> {
    let old = Schema::parse(old, "old")?;
    let new = Schema::parse(new, "new")?;
    let mut d = Differ { out: Vec::new() };
    d.schema(&old, &new);
    d.out
        .sort_by(|a, b| (a.level, &a.path, a.kind.code()).cmp(&(b.level, &b.path, b.kind.code())));
    Ok(d.out)
}

/// The types of `sdl` that no operation can name (what [`diff`] counts
/// safe to remove): the schema build leaves them out. Federation's own
/// types (`_Entity`, `_Any`, …) are never among them.
pub(crate) fn unreachable_types(sdl: &str) -> Result<Vec<String>, DiffError> {
    let schema = Schema::parse(sdl, "generated")?;
    let reachable = schema.reachable();
    Ok(schema
        .types
        .keys()
        .filter(|n| !n.starts_with('_') && !reachable.contains(n.as_str()))
        .cloned()
        .collect())
}

/// True when `changes` hold a breaking one.
pub fn has_breaking(changes: &[Change]) -> bool {
    changes.iter().any(|c| c.level == Level::Breaking)
}

/// A parsed schema, its parts by name (extensions merged into their types).
struct Schema {
    types: BTreeMap<String, TypeDefinition>,
    directives: BTreeMap<String, DirectiveDefinition>,
    roots: [Option<String>; 3],
}

impl Schema {
    fn parse(sdl: &str, which: &'static str) -> Result<Schema, DiffError> {
        let doc = parse_schema(sdl).map_err(|e| DiffError::Parse {
            which,
            message: e.to_string(),
        })?;
        let mut types: BTreeMap<String, TypeDefinition> = BTreeMap::new();
        let mut directives = BTreeMap::new();
        let mut schema: Option<SchemaDefinition> = None;
        for def in doc.definitions {
            match def {
                TypeSystemDefinition::Type(t) => {
                    let t = t.node;
                    let name = t.name.node.to_string();
                    match types.get_mut(&name) {
                        Some(existing) => merge(existing, t),
                        None => {
                            types.insert(name, t);
                        }
                    }
                }
                TypeSystemDefinition::Directive(d) => {
                    directives.insert(d.node.name.node.to_string(), d.node);
                }
                TypeSystemDefinition::Schema(s) => match &mut schema {
                    Some(existing) => {
                        let s = s.node;
                        existing.query = existing.query.take().or(s.query);
                        existing.mutation = existing.mutation.take().or(s.mutation);
                        existing.subscription = existing.subscription.take().or(s.subscription);
                    }
                    None => schema = Some(s.node),
                },
            }
        }
        let root = |explicit: Option<&Option<Positioned<async_graphql::Name>>>, default: &str| {
            match explicit {
                Some(Some(n)) => Some(n.node.to_string()),
                Some(None) => None,
                None => types.contains_key(default).then(|| default.to_owned()),
            }
        };
        let roots = [
            root(schema.as_ref().map(|s| &s.query), "Query"),
            root(schema.as_ref().map(|s| &s.mutation), "Mutation"),
            root(schema.as_ref().map(|s| &s.subscription), "Subscription"),
        ];
        Ok(Schema {
            types,
            directives,
            roots,
        })
    }
}

impl Schema {
    /// The types an operation can name: those the roots lead to through
    /// fields, arguments, input fields, interfaces (and their
    /// implementations) and union members; those directive arguments take;
    /// and every federation entity (`@key`), which a gateway reaches through
    /// `_entities` even where no field of this schema returns it.
    fn reachable(&self) -> HashSet<&str> {
        let mut stack: Vec<&str> = self.roots.iter().flatten().map(String::as_str).collect();
        stack.extend(
            self.types
                .iter()
                .filter(|(_, t)| t.directives.iter().any(|d| d.node.name.node == "key"))
                .map(|(n, _)| n.as_str()),
        );
        for d in self.directives.values() {
            stack.extend(d.arguments.iter().map(|a| named(&a.node.ty.node)));
        }
        let mut seen = HashSet::new();
        while let Some(name) = stack.pop() {
            let Some(t) = self.types.get(name).filter(|_| seen.insert(name)) else {
                continue;
            };
            fn fields<'a>(fs: &'a [Positioned<FieldDefinition>], stack: &mut Vec<&'a str>) {
                for f in fs {
                    stack.push(named(&f.node.ty.node));
                    stack.extend(f.node.arguments.iter().map(|a| named(&a.node.ty.node)));
                }
            }
            match &t.kind {
                TypeKind::Object(o) => {
                    fields(&o.fields, &mut stack);
                    stack.extend(o.implements.iter().map(|i| i.node.as_str()));
                }
                TypeKind::Interface(i) => {
                    fields(&i.fields, &mut stack);
                    stack.extend(i.implements.iter().map(|i| i.node.as_str()));
                    // Its implementations: a fragment may name any of them.
                    stack.extend(self.types.iter().filter_map(|(n, t)| {
                        let implements = match &t.kind {
                            TypeKind::Object(o) => &o.implements,
                            TypeKind::Interface(o) => &o.implements,
                            _ => return None,
                        };
                        implements
                            .iter()
                            .any(|x| x.node == name)
                            .then_some(n.as_str())
                    }));
                }
                TypeKind::Union(u) => stack.extend(u.members.iter().map(|m| m.node.as_str())),
                TypeKind::InputObject(i) => {
                    stack.extend(i.fields.iter().map(|f| named(&f.node.ty.node)));
                }
                TypeKind::Scalar | TypeKind::Enum(_) => {}
            }
        }
        seen
    }
}

/// The named type under any list and non-null wrappers.
fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(n) => n.as_str(),
        BaseType::List(inner) => named(inner),
    }
}

/// Folds `extend type …` into the definition it extends.
fn merge(into: &mut TypeDefinition, ext: TypeDefinition) {
    into.directives.extend(ext.directives);
    match (&mut into.kind, ext.kind) {
        (TypeKind::Object(a), TypeKind::Object(b)) => {
            a.implements.extend(b.implements);
            a.fields.extend(b.fields);
        }
        (TypeKind::Interface(a), TypeKind::Interface(b)) => {
            a.implements.extend(b.implements);
            a.fields.extend(b.fields);
        }
        (TypeKind::Union(a), TypeKind::Union(b)) => a.members.extend(b.members),
        (TypeKind::Enum(a), TypeKind::Enum(b)) => a.values.extend(b.values),
        (TypeKind::InputObject(a), TypeKind::InputObject(b)) => a.fields.extend(b.fields),
        _ => {}
    }
}

fn kind_name(k: &TypeKind) -> &'static str {
    match k {
        TypeKind::Scalar => "scalar",
        TypeKind::Object(_) => "object",
        TypeKind::Interface(_) => "interface",
        TypeKind::Union(_) => "union",
        TypeKind::Enum(_) => "enum",
        TypeKind::InputObject(_) => "input object",
    }
}

fn desc(d: &Option<Positioned<String>>) -> Option<&str> {
    d.as_ref().map(|p| p.node.as_str())
}

/// The deprecation reason when `@deprecated` is applied (the spec's default
/// when it has no argument).
fn deprecation(directives: &[Positioned<ConstDirective>]) -> Option<String> {
    let d = directives
        .iter()
        .find(|d| d.node.name.node == "deprecated")?;
    Some(
        d.node
            .get_argument("reason")
            .map(|v| match &v.node {
                async_graphql::Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .unwrap_or_else(|| "No longer supported".to_owned()),
    )
}

/// Directive usages other than `@deprecated` (which has its own changes):
/// each directive's name and the usage as written, `@key(fields: "id")`.
fn usages(directives: &[Positioned<ConstDirective>]) -> Vec<(&str, String)> {
    let mut out: Vec<(&str, String)> = directives
        .iter()
        .filter(|d| d.node.name.node != "deprecated")
        .map(|d| {
            let d = &d.node;
            let name = d.name.node.as_str();
            if d.arguments.is_empty() {
                (name, format!("@{name}"))
            } else {
                let args: Vec<String> = d
                    .arguments
                    .iter()
                    .map(|(n, v)| format!("{}: {}", n.node, v.node))
                    .collect();
                (name, format!("@{name}({})", args.join(", ")))
            }
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

/// How adding or removing a directive usage affects clients and the
/// supergraph: the federation directives by what they do, others as safe.
fn usage_level(name: &str, added: bool) -> Level {
    match (name, added) {
        // A gateway that resolves the entity by this key (or a subgraph that
        // references it) can no longer do so.
        ("key", false) => Level::Breaking,
        ("key", true) => Level::Safe,
        // Hidden from the API schema: clients that select it fail.
        ("inaccessible", true) => Level::Breaking,
        ("inaccessible", false) => Level::Safe,
        // Clients without the right token or scopes lose access.
        ("authenticated" | "requiresScopes" | "policy", true) => Level::Dangerous,
        ("authenticated" | "requiresScopes" | "policy", false) => Level::Safe,
        // Changes how the gateway plans queries, or whether the supergraph
        // composes: check with --supergraph.
        (
            "shareable" | "external" | "requires" | "provides" | "override" | "interfaceObject"
            | "extends" | "composeDirective" | "link",
            _,
        ) => Level::Dangerous,
        _ => Level::Safe,
    }
}

/// `new` can replace `old` as an output type without breaking a query:
/// the same named type, optionally made non-null at any depth.
fn safe_output_change(old: &Type, new: &Type) -> bool {
    if new.nullable && !old.nullable {
        return false;
    }
    match (&old.base, &new.base) {
        (BaseType::Named(a), BaseType::Named(b)) => a == b,
        (BaseType::List(a), BaseType::List(b)) => safe_output_change(a, b),
        _ => false,
    }
}

/// `new` can replace `old` as an input type without breaking a request:
/// the same named type, optionally made nullable at any depth.
fn safe_input_change(old: &Type, new: &Type) -> bool {
    if old.nullable && !new.nullable {
        return false;
    }
    match (&old.base, &new.base) {
        (BaseType::Named(a), BaseType::Named(b)) => a == b,
        (BaseType::List(a), BaseType::List(b)) => safe_input_change(a, b),
        _ => false,
    }
}

fn by_name<T>(items: &[Positioned<T>], name: impl Fn(&T) -> String) -> BTreeMap<String, &T> {
    items.iter().map(|p| (name(&p.node), &p.node)).collect()
}

struct Differ {
    out: Vec<Change>,
}

/// Where an input value sits.
#[derive(Debug, Clone, Copy)]
enum Site {
    Argument,
    InputField,
}

/// What happened to an input value.
#[derive(Debug, Clone, Copy)]
enum InputChange {
    Added,
    Removed,
    TypeChanged,
    DefaultChanged,
    DescriptionChanged,
}

impl Site {
    fn noun(self) -> &'static str {
        match self {
            Site::Argument => "argument",
            Site::InputField => "input field",
        }
    }

    fn kind(self, change: InputChange) -> Kind {
        match (self, change) {
            (Site::Argument, InputChange::Added) => Kind::FieldArgumentAdded,
            (Site::Argument, InputChange::Removed) => Kind::FieldArgumentRemoved,
            (Site::Argument, InputChange::TypeChanged) => Kind::FieldArgumentTypeChanged,
            (Site::Argument, InputChange::DefaultChanged) => Kind::FieldArgumentDefaultChanged,
            (Site::Argument, InputChange::DescriptionChanged) => {
                Kind::FieldArgumentDescriptionChanged
            }
            (Site::InputField, InputChange::Added) => Kind::InputFieldAdded,
            (Site::InputField, InputChange::Removed) => Kind::InputFieldRemoved,
            (Site::InputField, InputChange::TypeChanged) => Kind::InputFieldTypeChanged,
            (Site::InputField, InputChange::DefaultChanged) => Kind::InputFieldDefaultValueChanged,
            (Site::InputField, InputChange::DescriptionChanged) => {
                Kind::InputFieldDescriptionChanged
            }
        }
    }
}

impl Differ {
    fn push(&mut self, level: Level, kind: Kind, path: impl Into<String>, message: String) {
        self.out.push(Change {
            level,
            kind,
            path: path.into(),
            message,
        });
    }

    fn schema(&mut self, old: &Schema, new: &Schema) {
        let roots = [
            (Kind::SchemaQueryTypeChanged, "query"),
            (Kind::SchemaMutationTypeChanged, "mutation"),
            (Kind::SchemaSubscriptionTypeChanged, "subscription"),
        ];
        for (i, (kind, what)) in roots.into_iter().enumerate() {
            let (a, b) = (&old.roots[i], &new.roots[i]);
            if a != b {
                // Adding a root where there was none breaks nobody.
                let level = if a.is_none() {
                    Level::Safe
                } else {
                    Level::Breaking
                };
                let show = |r: &Option<String>| r.clone().unwrap_or_else(|| "none".into());
                self.push(
                    level,
                    kind,
                    "schema",
                    format!("The {what} root changed from {} to {}", show(a), show(b)),
                );
            }
        }
        let reachable = old.reachable();
        for (name, t) in &old.types {
            match new.types.get(name) {
                None if reachable.contains(name.as_str()) => self.push(
                    Level::Breaking,
                    Kind::TypeRemoved,
                    name.clone(),
                    format!("Type '{name}' was removed"),
                ),
                None => self.push(
                    Level::Safe,
                    Kind::TypeRemoved,
                    name.clone(),
                    format!("Type '{name}' was removed (no operation could use it)"),
                ),
                Some(n) => self.type_def(name, t, n),
            }
        }
        for name in new.types.keys().filter(|n| !old.types.contains_key(*n)) {
            self.push(
                Level::Safe,
                Kind::TypeAdded,
                name.clone(),
                format!("Type '{name}' was added"),
            );
        }
        for (name, d) in &old.directives {
            match new.directives.get(name) {
                None => self.push(
                    Level::Breaking,
                    Kind::DirectiveRemoved,
                    format!("@{name}"),
                    format!("Directive '{name}' was removed"),
                ),
                Some(n) => self.directive_def(name, d, n),
            }
        }
        for name in new
            .directives
            .keys()
            .filter(|n| !old.directives.contains_key(*n))
        {
            self.push(
                Level::Safe,
                Kind::DirectiveAdded,
                format!("@{name}"),
                format!("Directive '{name}' was added"),
            );
        }
    }

    fn usages(
        &mut self,
        path: &str,
        old: &[Positioned<ConstDirective>],
        new: &[Positioned<ConstDirective>],
    ) {
        let (a, b) = (usages(old), usages(new));
        for (name, u) in a.iter().filter(|u| !b.contains(u)) {
            self.push(
                usage_level(name, false),
                Kind::DirectiveUsageRemoved,
                path,
                format!("Directive '{u}' was removed from '{path}'"),
            );
        }
        for (name, u) in b.iter().filter(|u| !a.contains(u)) {
            self.push(
                usage_level(name, true),
                Kind::DirectiveUsageAdded,
                path,
                format!("Directive '{u}' was added to '{path}'"),
            );
        }
    }

    fn type_def(&mut self, name: &str, old: &TypeDefinition, new: &TypeDefinition) {
        if desc(&old.description) != desc(&new.description) {
            self.push(
                Level::Safe,
                Kind::TypeDescriptionChanged,
                name,
                format!("Description of type '{name}' changed"),
            );
        }
        self.usages(name, &old.directives, &new.directives);
        match (&old.kind, &new.kind) {
            (TypeKind::Object(a), TypeKind::Object(b)) => {
                self.interfaces(name, &a.implements, &b.implements);
                self.fields(name, &a.fields, &b.fields);
            }
            (TypeKind::Interface(a), TypeKind::Interface(b)) => {
                self.interfaces(name, &a.implements, &b.implements);
                self.fields(name, &a.fields, &b.fields);
            }
            (TypeKind::Union(a), TypeKind::Union(b)) => {
                let a: Vec<String> = a.members.iter().map(|m| m.node.to_string()).collect();
                let b: Vec<String> = b.members.iter().map(|m| m.node.to_string()).collect();
                for m in a.iter().filter(|m| !b.contains(m)) {
                    self.push(
                        Level::Breaking,
                        Kind::UnionMemberRemoved,
                        name,
                        format!("Member '{m}' was removed from union type '{name}'"),
                    );
                }
                for m in b.iter().filter(|m| !a.contains(m)) {
                    self.push(
                        Level::Dangerous,
                        Kind::UnionMemberAdded,
                        name,
                        format!("Member '{m}' was added to union type '{name}'"),
                    );
                }
            }
            (TypeKind::Enum(a), TypeKind::Enum(b)) => {
                let a = by_name(&a.values, |v| v.value.node.to_string());
                let b = by_name(&b.values, |v| v.value.node.to_string());
                for (v, old_v) in &a {
                    let path = format!("{name}.{v}");
                    let Some(new_v) = b.get(v) else {
                        self.push(
                            Level::Breaking,
                            Kind::EnumValueRemoved,
                            path,
                            format!("Enum value '{v}' was removed from enum '{name}'"),
                        );
                        continue;
                    };
                    if desc(&old_v.description) != desc(&new_v.description) {
                        self.push(
                            Level::Safe,
                            Kind::EnumValueDescriptionChanged,
                            path.clone(),
                            format!("Description of enum value '{path}' changed"),
                        );
                    }
                    match (
                        deprecation(&old_v.directives),
                        deprecation(&new_v.directives),
                    ) {
                        (None, Some(_)) => self.push(
                            Level::Safe,
                            Kind::EnumValueDeprecationAdded,
                            path.clone(),
                            format!("Enum value '{path}' was deprecated"),
                        ),
                        (Some(_), None) => self.push(
                            Level::Safe,
                            Kind::EnumValueDeprecationRemoved,
                            path.clone(),
                            format!("Enum value '{path}' is no longer deprecated"),
                        ),
                        _ => {}
                    }
                    self.usages(&path, &old_v.directives, &new_v.directives);
                }
                for v in b.keys().filter(|v| !a.contains_key(*v)) {
                    self.push(
                        Level::Dangerous,
                        Kind::EnumValueAdded,
                        format!("{name}.{v}"),
                        format!("Enum value '{v}' was added to enum '{name}'"),
                    );
                }
            }
            (TypeKind::InputObject(a), TypeKind::InputObject(b)) => {
                self.input_fields(name, &a.fields, &b.fields);
            }
            (TypeKind::Scalar, TypeKind::Scalar) => {}
            (a, b) => self.push(
                Level::Breaking,
                Kind::TypeKindChanged,
                name,
                format!("'{name}' changed from {} to {}", kind_name(a), kind_name(b)),
            ),
        }
    }

    fn interfaces(
        &mut self,
        name: &str,
        old: &[Positioned<async_graphql::Name>],
        new: &[Positioned<async_graphql::Name>],
    ) {
        let a: Vec<&str> = old.iter().map(|n| n.node.as_str()).collect();
        let b: Vec<&str> = new.iter().map(|n| n.node.as_str()).collect();
        for i in a.iter().filter(|i| !b.contains(i)) {
            self.push(
                Level::Breaking,
                Kind::ObjectTypeInterfaceRemoved,
                name,
                format!("'{name}' no longer implements interface '{i}'"),
            );
        }
        for i in b.iter().filter(|i| !a.contains(i)) {
            self.push(
                Level::Dangerous,
                Kind::ObjectTypeInterfaceAdded,
                name,
                format!("'{name}' object implements '{i}' interface"),
            );
        }
    }

    fn fields(
        &mut self,
        type_name: &str,
        old: &[Positioned<FieldDefinition>],
        new: &[Positioned<FieldDefinition>],
    ) {
        let a = by_name(old, |f| f.name.node.to_string());
        let b = by_name(new, |f| f.name.node.to_string());
        for (name, o) in &a {
            let path = format!("{type_name}.{name}");
            let Some(n) = b.get(name) else {
                self.push(
                    Level::Breaking,
                    Kind::FieldRemoved,
                    path,
                    format!("Field '{name}' was removed from '{type_name}'"),
                );
                continue;
            };
            if o.ty.node != n.ty.node {
                let level = if safe_output_change(&o.ty.node, &n.ty.node) {
                    Level::Safe
                } else {
                    Level::Breaking
                };
                self.push(
                    level,
                    Kind::FieldTypeChanged,
                    path.clone(),
                    format!(
                        "Field '{path}' changed type from '{}' to '{}'",
                        o.ty.node, n.ty.node
                    ),
                );
            }
            if desc(&o.description) != desc(&n.description) {
                self.push(
                    Level::Safe,
                    Kind::FieldDescriptionChanged,
                    path.clone(),
                    format!("Description of field '{path}' changed"),
                );
            }
            match (deprecation(&o.directives), deprecation(&n.directives)) {
                (None, Some(_)) => self.push(
                    Level::Safe,
                    Kind::FieldDeprecationAdded,
                    path.clone(),
                    format!("Field '{path}' is deprecated"),
                ),
                (Some(_), None) => self.push(
                    Level::Safe,
                    Kind::FieldDeprecationRemoved,
                    path.clone(),
                    format!("Field '{path}' is no longer deprecated"),
                ),
                (Some(x), Some(y)) if x != y => self.push(
                    Level::Safe,
                    Kind::FieldDeprecationReasonChanged,
                    path.clone(),
                    format!("Deprecation reason of field '{path}' changed"),
                ),
                _ => {}
            }
            self.usages(&path, &o.directives, &n.directives);
            self.arguments(&path, &o.arguments, &n.arguments);
        }
        for name in b.keys().filter(|n| !a.contains_key(*n)) {
            self.push(
                Level::Safe,
                Kind::FieldAdded,
                format!("{type_name}.{name}"),
                format!("Field '{name}' was added to '{type_name}'"),
            );
        }
    }

    fn arguments(
        &mut self,
        field: &str,
        old: &[Positioned<InputValueDefinition>],
        new: &[Positioned<InputValueDefinition>],
    ) {
        self.input_values(Site::Argument, field, old, new);
    }

    fn input_fields(
        &mut self,
        type_name: &str,
        old: &[Positioned<InputValueDefinition>],
        new: &[Positioned<InputValueDefinition>],
    ) {
        self.input_values(Site::InputField, type_name, old, new);
    }

    /// Arguments and input fields follow the same rules: a client sends
    /// them, so they may only become looser.
    fn input_values(
        &mut self,
        site: Site,
        owner: &str,
        old: &[Positioned<InputValueDefinition>],
        new: &[Positioned<InputValueDefinition>],
    ) {
        let what = site.noun();
        let a = by_name(old, |v| v.name.node.to_string());
        let b = by_name(new, |v| v.name.node.to_string());
        for (name, o) in &a {
            let path = format!("{owner}.{name}");
            let Some(n) = b.get(name) else {
                self.push(
                    Level::Breaking,
                    site.kind(InputChange::Removed),
                    path.clone(),
                    format!("The {what} '{path}' was removed"),
                );
                continue;
            };
            if o.ty.node != n.ty.node {
                // Even with a default, non-null refuses a client's explicit null.
                let level = if safe_input_change(&o.ty.node, &n.ty.node) {
                    Level::Safe
                } else {
                    Level::Breaking
                };
                self.push(
                    level,
                    site.kind(InputChange::TypeChanged),
                    path.clone(),
                    format!(
                        "The type of {what} '{path}' changed from '{}' to '{}'",
                        o.ty.node, n.ty.node
                    ),
                );
            }
            if default(o) != default(n) {
                self.push(
                    Level::Dangerous,
                    site.kind(InputChange::DefaultChanged),
                    path.clone(),
                    format!(
                        "The default of {what} '{path}' changed from {} to {}",
                        default(o).unwrap_or_else(|| "none".into()),
                        default(n).unwrap_or_else(|| "none".into())
                    ),
                );
            }
            if desc(&o.description) != desc(&n.description) {
                self.push(
                    Level::Safe,
                    site.kind(InputChange::DescriptionChanged),
                    path.clone(),
                    format!("The description of {what} '{path}' changed"),
                );
            }
            self.usages(&path, &o.directives, &n.directives);
        }
        for (name, n) in b.iter().filter(|(n, _)| !a.contains_key(*n)) {
            let level = match (n.ty.node.nullable, n.default_value.is_some()) {
                (true, false) => Level::Safe,
                (false, false) => Level::Breaking,
                // Clients that never sent it now get the default.
                (_, true) => Level::Dangerous,
            };
            let path = format!("{owner}.{name}");
            self.push(
                level,
                site.kind(InputChange::Added),
                path.clone(),
                format!("The {what} '{path}: {}' was added", n.ty.node),
            );
        }
    }

    fn directive_def(&mut self, name: &str, old: &DirectiveDefinition, new: &DirectiveDefinition) {
        let path = format!("@{name}");
        let a: Vec<String> = old
            .locations
            .iter()
            .map(|l| format!("{:?}", l.node))
            .collect();
        let b: Vec<String> = new
            .locations
            .iter()
            .map(|l| format!("{:?}", l.node))
            .collect();
        for l in a.iter().filter(|l| !b.contains(l)) {
            self.push(
                Level::Breaking,
                Kind::DirectiveLocationRemoved,
                path.clone(),
                format!("Location '{l}' was removed from directive '{name}'"),
            );
        }
        for l in b.iter().filter(|l| !a.contains(l)) {
            self.push(
                Level::Safe,
                Kind::DirectiveLocationAdded,
                path.clone(),
                format!("Location '{l}' was added to directive '{name}'"),
            );
        }
        match (old.is_repeatable, new.is_repeatable) {
            (false, true) => self.push(
                Level::Safe,
                Kind::DirectiveRepeatableAdded,
                path.clone(),
                format!("Directive '{name}' became repeatable"),
            ),
            (true, false) => self.push(
                Level::Dangerous,
                Kind::DirectiveRepeatableRemoved,
                path.clone(),
                format!("Directive '{name}' is no longer repeatable"),
            ),
            _ => {}
        }
        let a = by_name(&old.arguments, |v| v.name.node.to_string());
        let b = by_name(&new.arguments, |v| v.name.node.to_string());
        for (arg, o) in &a {
            match b.get(arg) {
                None => self.push(
                    Level::Breaking,
                    Kind::DirectiveArgumentRemoved,
                    format!("{path}.{arg}"),
                    format!("Argument '{arg}' was removed from directive '{name}'"),
                ),
                Some(n) if o.ty.node != n.ty.node => self.push(
                    if safe_input_change(&o.ty.node, &n.ty.node) {
                        Level::Safe
                    } else {
                        Level::Breaking
                    },
                    Kind::DirectiveArgumentTypeChanged,
                    format!("{path}.{arg}"),
                    format!(
                        "Type of argument '{arg}' of directive '{name}' changed from '{}' to '{}'",
                        o.ty.node, n.ty.node
                    ),
                ),
                Some(_) => {}
            }
        }
        for (arg, n) in b.iter().filter(|(n, _)| !a.contains_key(*n)) {
            let required = !n.ty.node.nullable && n.default_value.is_none();
            self.push(
                if required {
                    Level::Breaking
                } else {
                    Level::Safe
                },
                Kind::DirectiveArgumentAdded,
                format!("{path}.{arg}"),
                format!("Argument '{arg}' was added to directive '{name}'"),
            );
        }
    }
}

fn default(v: &InputValueDefinition) -> Option<String> {
    v.default_value.as_ref().map(|d| d.node.to_string())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// The (level, kind, path) of each change from `old` to `new`.
    fn changes(old: &str, new: &str) -> Vec<(Level, &'static str, String)> {
        diff(old, new)
            .unwrap()
            .into_iter()
            .map(|c| (c.level, c.kind.code(), c.path))
            .collect()
    }

    fn one(old: &str, new: &str) -> (Level, &'static str, String) {
        let mut c = changes(old, new);
        assert_eq!(c.len(), 1, "{c:?}");
        c.remove(0)
    }

    use Level::*;

    #[test]
    fn identical_schemas_have_no_changes() {
        let s = "type Query { a: Int }";
        assert!(changes(s, s).is_empty());
    }

    #[test]
    fn types_removed_added_and_changed_in_kind() {
        let base = "type Query { a: Int } type T { x: Int }";
        // Nothing leads to T: no operation could name it.
        assert_eq!(
            one(base, "type Query { a: Int }"),
            (Safe, "TYPE_REMOVED", "T".into())
        );
        assert_eq!(
            one("type Query { a: Int }", base),
            (Safe, "TYPE_ADDED", "T".into())
        );
        assert_eq!(
            one(base, "type Query { a: Int } input T { x: Int }"),
            (Breaking, "TYPE_KIND_CHANGED", "T".into())
        );
    }

    #[test]
    fn output_fields_may_only_become_stricter() {
        let t = |ty: &str| format!("type Query {{ a: {ty} }}");
        assert_eq!(one(&t("Int"), &t("Int!")).0, Safe);
        assert_eq!(one(&t("Int!"), &t("Int")).0, Breaking);
        assert_eq!(one(&t("[Int]"), &t("[Int!]!")).0, Safe);
        assert_eq!(one(&t("[Int!]"), &t("[Int]")).0, Breaking);
        assert_eq!(one(&t("Int"), &t("String")).0, Breaking);
        assert_eq!(one(&t("Int"), &t("[Int]")).0, Breaking);
        assert_eq!(
            one("type Query { a: Int b: Int }", "type Query { b: Int }"),
            (Breaking, "FIELD_REMOVED", "Query.a".into())
        );
        assert_eq!(
            one(&t("Int"), "type Query { a: Int b: Int }"),
            (Safe, "FIELD_ADDED", "Query.b".into())
        );
    }

    #[test]
    fn arguments_may_only_become_looser() {
        let t = |args: &str| format!("type Query {{ a{args}: Int }}");
        assert_eq!(
            one(&t(""), &t("(x: Int)")),
            (Safe, "FIELD_ARGUMENT_ADDED", "Query.a.x".into())
        );
        assert_eq!(one(&t(""), &t("(x: Int!)")).0, Breaking);
        assert_eq!(one(&t(""), &t("(x: Int! = 1)")).0, Dangerous);
        assert_eq!(
            one(&t("(x: Int)"), &t("")),
            (Breaking, "FIELD_ARGUMENT_REMOVED", "Query.a.x".into())
        );
        assert_eq!(one(&t("(x: Int!)"), &t("(x: Int)")).0, Safe);
        assert_eq!(one(&t("(x: Int)"), &t("(x: Int!)")).0, Breaking);
        // A default does not help a client that sends null explicitly.
        assert!(changes(&t("(x: Int)"), &t("(x: Int! = 3)")).contains(&(
            Breaking,
            "FIELD_ARGUMENT_TYPE_CHANGED",
            "Query.a.x".into()
        )));
        assert_eq!(one(&t("(x: [Int!])"), &t("(x: [Int])")).0, Safe);
        assert_eq!(one(&t("(x: Int)"), &t("(x: Float)")).0, Breaking);
        assert_eq!(
            one(&t("(x: Int = 1)"), &t("(x: Int = 2)")),
            (
                Dangerous,
                "FIELD_ARGUMENT_DEFAULT_CHANGED",
                "Query.a.x".into()
            )
        );
    }

    #[test]
    fn input_fields() {
        let t =
            |fields: &str| format!("type Query {{ a(i: I): Int }} input I {{ x: Int {fields} }}");
        assert_eq!(
            one(&t(""), &t("y: Int")),
            (Safe, "INPUT_FIELD_ADDED", "I.y".into())
        );
        assert_eq!(one(&t(""), &t("y: Int!")).0, Breaking);
        assert_eq!(one(&t(""), &t("y: Int! = 1")).0, Dangerous);
        assert_eq!(
            one(&t("y: Int"), &t("")),
            (Breaking, "INPUT_FIELD_REMOVED", "I.y".into())
        );
        assert_eq!(one(&t("y: Int!"), &t("y: Int")).0, Safe);
        assert_eq!(one(&t("y: Int"), &t("y: Int!")).0, Breaking);
        assert_eq!(
            one(&t("y: Int = 1"), &t("y: Int = 2")),
            (Dangerous, "INPUT_FIELD_DEFAULT_VALUE_CHANGED", "I.y".into())
        );
    }

    #[test]
    fn enums_unions_and_interfaces() {
        let e = |v: &str| format!("type Query {{ a: E }} enum E {{ A {v} }}");
        assert_eq!(
            one(&e(""), &e("B")),
            (Dangerous, "ENUM_VALUE_ADDED", "E.B".into())
        );
        assert_eq!(
            one(&e("B"), &e("")),
            (Breaking, "ENUM_VALUE_REMOVED", "E.B".into())
        );
        assert_eq!(
            one(&e("B"), &e("B @deprecated")),
            (Safe, "ENUM_VALUE_DEPRECATION_REASON_ADDED", "E.B".into())
        );
        let u = |m: &str| {
            format!("type Query {{ a: U }} type A {{ x: Int }} type B {{ x: Int }} union U = A{m}")
        };
        assert_eq!(
            one(&u(""), &u(" | B")),
            (Dangerous, "UNION_MEMBER_ADDED", "U".into())
        );
        assert_eq!(
            one(&u(" | B"), &u("")),
            (Breaking, "UNION_MEMBER_REMOVED", "U".into())
        );
        let i = |imp: &str| {
            format!("type Query {{ a: A }} interface N {{ id: ID }} type A {imp} {{ id: ID }}")
        };
        assert_eq!(
            one(&i(""), &i("implements N")),
            (Dangerous, "OBJECT_TYPE_INTERFACE_ADDED", "A".into())
        );
        assert_eq!(
            one(&i("implements N"), &i("")),
            (Breaking, "OBJECT_TYPE_INTERFACE_REMOVED", "A".into())
        );
    }

    #[test]
    fn deprecations_and_descriptions_are_safe() {
        let old = r#"type Query { "old" a: Int }"#;
        let new = r#"type Query { "new" a: Int @deprecated(reason: "use b") }"#;
        assert_eq!(
            changes(old, new),
            [
                (Safe, "FIELD_DEPRECATION_ADDED", "Query.a".to_owned()),
                (Safe, "FIELD_DESCRIPTION_CHANGED", "Query.a".to_owned()),
            ]
        );
    }

    #[test]
    fn federation_directives_by_what_they_do() {
        let t = |d: &str| format!("type Query {{ p: P }} type P {d} {{ id: ID! upc: String }}");
        assert_eq!(
            one(
                &t(r#"@key(fields: "id") @key(fields: "upc")"#),
                &t(r#"@key(fields: "id")"#)
            ),
            (Breaking, "DIRECTIVE_USAGE_REMOVED", "P".into())
        );
        assert_eq!(
            one(
                &t(r#"@key(fields: "id")"#),
                &t(r#"@key(fields: "id") @key(fields: "upc")"#)
            )
            .0,
            Safe
        );
        assert_eq!(one(&t(""), &t("@inaccessible")).0, Breaking);
        assert_eq!(one(&t("@shareable"), &t("")).0, Dangerous);
        assert_eq!(one(&t(""), &t("@authenticated")).0, Dangerous);
        assert_eq!(one(&t(""), &t(r#"@tag(name: "x")"#)).0, Safe);
        let f = |d: &str| format!("type Query {{ p: P }} type P {{ id: ID! name: String {d} }}");
        assert_eq!(
            one(&f(""), &f(r#"@requires(fields: "id")"#)),
            (Dangerous, "DIRECTIVE_USAGE_ADDED", "P.name".into())
        );
    }

    #[test]
    fn roots_and_directive_definitions() {
        assert_eq!(
            changes(
                "type Query { a: Int }",
                "type Query { a: Int } type Mutation { b: Int }"
            ),
            [
                (Safe, "TYPE_ADDED", "Mutation".to_owned()),
                (Safe, "SCHEMA_MUTATION_TYPE_CHANGED", "schema".to_owned())
            ],
        );
        assert_eq!(
            one(
                "schema { query: Q } type Q { a: Int } type Query { a: Int }",
                "schema { query: Query } type Q { a: Int } type Query { a: Int }"
            ),
            (Breaking, "SCHEMA_QUERY_TYPE_CHANGED", "schema".into())
        );
        let d = |s: &str| format!("type Query {{ a: Int }} directive @x{s}");
        assert_eq!(
            one(
                &d(" on FIELD_DEFINITION | OBJECT"),
                &d(" on FIELD_DEFINITION")
            ),
            (Breaking, "DIRECTIVE_LOCATION_REMOVED", "@x".into())
        );
        assert_eq!(
            one(&d("(a: Int) on OBJECT"), &d("(a: Int, b: Int!) on OBJECT")).0,
            Breaking
        );
        assert_eq!(
            one(&d(" on OBJECT"), "type Query { a: Int }"),
            (Breaking, "DIRECTIVE_REMOVED", "@x".into())
        );
    }

    #[test]
    fn extensions_merge_into_their_types() {
        let old = "type Query { a: Int } extend type Query { b: Int }";
        let new = "type Query { a: Int b: Int }";
        assert!(changes(old, new).is_empty());
    }

    #[test]
    fn invalid_sdl_is_an_error_naming_the_side() {
        let err = diff("type Query { a: Int }", "type Query {").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("the new schema is not valid SDL"),
            "{err}"
        );
    }

    #[test]
    fn a_removed_type_breaks_when_an_operation_could_name_it() {
        let removed = |old: &str, new: &str| {
            changes(old, new)
                .into_iter()
                .find(|c| c.1 == "TYPE_REMOVED")
                .map(|c| c.0)
        };
        // Through a field, an argument, an input field, a union, an
        // interface's implementations, a directive argument, or a @key.
        for old in [
            "type Query { t: T } type T { x: Int }",
            "type Query { a(f: F): Int } input F { g: G } input G { x: Int }",
            "type Query { u: U } union U = T type T { x: Int }",
            "type Query { i: I } interface I { x: Int } type T implements I { x: Int }",
            "type Query { a: Int } directive @d(t: T) on FIELD input T { x: Int }",
            r#"type Query { a: Int } type T @key(fields: "x") { x: Int }"#,
        ] {
            let new: String = old
                .replace("type T", "type Z")
                .replace("input T", "input Z");
            let new = new.replace("input G", "input Z");
            assert_eq!(removed(old, &new), Some(Breaking), "{old}");
        }
        // Nothing leads to it (an unused filter input a generator dropped).
        assert_eq!(
            removed(
                "type Query { a: Int } input T { x: Int }",
                "type Query { a: Int }"
            ),
            Some(Safe)
        );
    }

    #[test]
    fn breaking_changes_sort_first() {
        let c = diff(
            "type Query { a: Int b: Int }",
            "type Query { a: Int c: Int }",
        )
        .unwrap();
        assert!(has_breaking(&c));
        assert_eq!(c[0].kind, Kind::FieldRemoved);
        assert_eq!(c[1].kind, Kind::FieldAdded);
    }
}
