//! The database schema as data: a serialisable [`ProjectState`] built from the
//! registry, and the [`Operation`]s that change it, each with its reverse.
//!
//! States are diffed in memory (see [`crate::autodetect`]), never read back from
//! the live database, as Django's autodetector does. The SQL of each operation
//! per dialect is in [`crate::ddl`].

use std::collections::BTreeMap;

use graphloom_meta::{FieldKind, OnDelete, Registry, Value, ValueType};
use serde::{Deserialize, Serialize};

use crate::{DbError, Result};

/// The storage type of a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum ColumnType {
    AutoId,
    Bool,
    I32,
    I64,
    F64,
    Decimal {
        max_digits: u32,
        decimal_places: u32,
    },
    String {
        max_length: u32,
    },
    Text,
    Date,
    DateTime,
    Uuid,
    Json,
}

impl ColumnType {
    /// The column type's name in `dialect`.
    pub fn sql(self, dialect: crate::Dialect) -> String {
        dialect.column_type(self)
    }

    pub fn value_type(self) -> ValueType {
        match self {
            ColumnType::AutoId | ColumnType::I64 => ValueType::I64,
            ColumnType::Bool => ValueType::Bool,
            ColumnType::I32 => ValueType::I32,
            ColumnType::F64 => ValueType::F64,
            ColumnType::Decimal { .. } => ValueType::Decimal,
            ColumnType::String { .. } | ColumnType::Text => ValueType::String,
            ColumnType::Date => ValueType::Date,
            ColumnType::DateTime => ValueType::DateTime,
            ColumnType::Uuid => ValueType::Uuid,
            ColumnType::Json => ValueType::Json,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    pub table: String,
    pub column: String,
    pub on_delete: OnDelete,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnState {
    pub name: String,
    #[serde(flatten)]
    pub ty: ColumnType,
    pub nullable: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub primary_key: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<Reference>,
    /// The model's default, kept so that a change is visible and so that new
    /// NOT NULL columns can fill existing rows. graphloom applies defaults
    /// itself; the database column has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<serde_json::Value>,
}

impl ColumnState {
    /// A column with no key, reference or default.
    pub fn new(name: &str, ty: ColumnType, nullable: bool) -> Self {
        ColumnState {
            name: name.to_owned(),
            ty,
            nullable,
            primary_key: false,
            references: None,
            default: None,
        }
    }

    /// The auto-increment primary key `id`.
    pub fn auto_id() -> Self {
        ColumnState {
            primary_key: true,
            ..ColumnState::new("id", ColumnType::AutoId, false)
        }
    }

    /// The same column apart from its name, default and key flag: what makes
    /// a removed and an added column a candidate rename.
    pub fn same_shape(&self, other: &ColumnState) -> bool {
        self.ty == other.ty
            && self.nullable == other.nullable
            && self.references == other.references
            && self.primary_key == other.primary_key
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexState {
    pub name: String,
    pub columns: Vec<String>,
    pub unique: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableState {
    /// The app whose migrations own the table.
    pub app: String,
    pub name: String,
    pub columns: Vec<ColumnState>,
    pub indexes: Vec<IndexState>,
}

impl TableState {
    pub fn column(&self, name: &str) -> Option<&ColumnState> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// Every table of a service, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectState {
    pub tables: BTreeMap<String, TableState>,
}

/// Index names: `<table>_<columns>_idx`, or `_uniq` for unique ones.
pub fn index_name(table: &str, columns: &[&str], unique: bool) -> String {
    format!(
        "{table}_{}_{}",
        columns.join("_"),
        if unique { "uniq" } else { "idx" }
    )
}

/// A value as JSON, for defaults in migration files.
pub fn value_to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => (*b).into(),
        Value::I32(n) => (*n).into(),
        Value::I64(n) => (*n).into(),
        Value::F64(n) => (*n).into(),
        Value::Json(j) => j.clone(),
        Value::Tuple(parts) => parts.iter().map(value_to_json).collect(),
        Value::Decimal(_)
        | Value::String(_)
        | Value::Date(_)
        | Value::DateTime(_)
        | Value::Uuid(_) => serde_json::Value::String(v.key_string()),
    }
}

/// A JSON default read back as a value of a column's type.
pub fn json_to_value(ty: ColumnType, j: &serde_json::Value) -> Result<Value> {
    let bad = || DbError::Migration(format!("default {j} does not fit a {ty:?} column"));
    if j.is_null() {
        return Ok(Value::Null);
    }
    let text = || {
        j.as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| j.to_string())
    };
    Ok(match ty.value_type() {
        ValueType::Bool => Value::Bool(j.as_bool().ok_or_else(bad)?),
        ValueType::I32 => Value::I32(
            j.as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .ok_or_else(bad)?,
        ),
        ValueType::I64 => Value::I64(j.as_i64().or_else(|| text().parse().ok()).ok_or_else(bad)?),
        ValueType::F64 => Value::F64(j.as_f64().ok_or_else(bad)?),
        ValueType::Decimal => Value::Decimal(text().parse().map_err(|_| bad())?),
        ValueType::String => Value::String(text()),
        ValueType::Date => Value::Date(text().parse().map_err(|_| bad())?),
        ValueType::DateTime => Value::DateTime(
            chrono::DateTime::parse_from_rfc3339(&text())
                .map_err(|_| bad())?
                .with_timezone(&chrono::Utc),
        ),
        ValueType::Uuid => Value::Uuid(text().parse().map_err(|_| bad())?),
        ValueType::Json => Value::Json(j.clone()),
    })
}

/// The value a reverse migration writes into rows of a NOT NULL column it
/// brings back without a default (their data went with the column).
pub fn zero_value(ty: ColumnType) -> serde_json::Value {
    match ty.value_type() {
        ValueType::Bool => false.into(),
        ValueType::I32 | ValueType::I64 | ValueType::F64 => 0.into(),
        ValueType::Decimal => "0".into(),
        ValueType::String => "".into(),
        ValueType::Date => "1970-01-01".into(),
        ValueType::DateTime => "1970-01-01T00:00:00Z".into(),
        ValueType::Uuid => "00000000-0000-0000-0000-000000000000".into(),
        ValueType::Json => serde_json::Value::Null,
    }
}

/// The column a field of `kind` is stored in; a foreign key stores its
/// target's key (see [`key_type`]).
fn value_column(kind: FieldKind) -> ColumnType {
    match kind {
        FieldKind::AutoId => ColumnType::AutoId,
        FieldKind::Bool => ColumnType::Bool,
        FieldKind::I32 => ColumnType::I32,
        // A reference to a counted key is a plain 64-bit integer.
        FieldKind::I64 | FieldKind::ForeignKey { .. } => ColumnType::I64,
        FieldKind::F64 => ColumnType::F64,
        FieldKind::Decimal {
            max_digits,
            decimal_places,
        } => ColumnType::Decimal {
            max_digits,
            decimal_places,
        },
        FieldKind::String { max_length } => ColumnType::String { max_length },
        FieldKind::Text | FieldKind::Enum(_) => ColumnType::Text,
        FieldKind::Date => ColumnType::Date,
        FieldKind::DateTime => ColumnType::DateTime,
        FieldKind::Uuid => ColumnType::Uuid,
        FieldKind::Json => ColumnType::Json,
    }
}

/// A column referring to `target`: of its primary key's type (a counted
/// key as `bigint`, a text key as the same `varchar`).
fn key_type(registry: &Registry, target: graphloom_meta::ModelId) -> (ColumnType, Reference) {
    let t = registry.model(target);
    let ty = match t.ref_pk_field().kind {
        FieldKind::AutoId => ColumnType::I64,
        kind => value_column(kind),
    };
    (
        ty,
        Reference {
            table: t.table.clone(),
            column: t.ref_pk_field().column.clone(),
            on_delete: OnDelete::Cascade,
        },
    )
}

impl ProjectState {
    /// The schema the registry's models need.
    pub fn from_registry(registry: &Registry) -> Self {
        let mut tables = BTreeMap::new();
        // External models live in another service's database; what this
        // service stores on one is a table keyed by the entity's key.
        for m in registry.models().iter().filter(|m| m.has_table()) {
            let mut columns = Vec::new();
            let mut indexes = Vec::new();
            let stored = m
                .fields
                .iter()
                .enumerate()
                .filter(|(i, _)| m.stores_here(*i));
            for (_, f) in stored {
                let (ty, references) = match f.kind {
                    // The owning service counts the key; here it is a value.
                    FieldKind::AutoId if m.external => (ColumnType::I64, None),
                    FieldKind::ForeignKey {
                        target, on_delete, ..
                    } => {
                        let (ty, reference) = key_type(registry, target);
                        // A reference to another service's entity has no constraint here.
                        let reference = (!registry.model(target).external).then_some(Reference {
                            on_delete,
                            ..reference
                        });
                        (ty, reference)
                    }
                    kind => (value_column(kind), None),
                };
                columns.push(ColumnState {
                    name: f.column.clone(),
                    ty,
                    nullable: f.nullable,
                    primary_key: f.primary_key,
                    references,
                    default: f.default.as_ref().map(value_to_json),
                });
                // The key's index serves a lone key; a composite key's
                // parts keep theirs (a reference by its second part).
                if (!f.primary_key || f.composite_key) && (f.unique || f.index) {
                    let mut cols = vec![f.column.as_str()];
                    // A reference's index ends with the model's key: a
                    // parent's page of children (`post.comments`, in key
                    // order unless asked otherwise) walks it and stops at
                    // the page's end, however many children the parent has.
                    // (SQLite's indexes end with the rowid anyway;
                    // PostgreSQL's do not.)
                    if let ([pk], FieldKind::ForeignKey { .. }, false) =
                        (m.pk.as_slice(), f.kind, f.unique)
                    {
                        cols.push(&m.fields[*pk].column);
                    }
                    indexes.push(IndexState {
                        name: index_name(&m.table, &cols, f.unique),
                        columns: cols.iter().map(|c| (*c).to_owned()).collect(),
                        unique: f.unique,
                    });
                }
            }
            for set in &m.unique {
                let cols: Vec<&str> = set.iter().map(|&i| m.fields[i].column.as_str()).collect();
                indexes.push(IndexState {
                    name: index_name(&m.table, &cols, true),
                    columns: cols.iter().map(|c| (*c).to_owned()).collect(),
                    unique: true,
                });
            }
            tables.insert(
                m.table.clone(),
                TableState {
                    app: m.key.app.to_owned(),
                    name: m.table.clone(),
                    columns,
                    indexes,
                },
            );
        }
        for j in registry.joins() {
            let (owner_ty, owner_ref) = key_type(registry, j.owner);
            let (target_ty, target_ref) = key_type(registry, j.target);
            tables.insert(
                j.table.clone(),
                TableState {
                    app: registry.model(j.owner).key.app.to_owned(),
                    name: j.table.clone(),
                    columns: vec![
                        ColumnState::auto_id(),
                        ColumnState {
                            references: Some(owner_ref),
                            ..ColumnState::new(&j.owner_column, owner_ty, false)
                        },
                        ColumnState {
                            references: Some(target_ref),
                            ..ColumnState::new(&j.target_column, target_ty, false)
                        },
                    ],
                    indexes: vec![
                        IndexState {
                            name: index_name(&j.table, &[&j.owner_column, &j.target_column], true),
                            columns: vec![j.owner_column.clone(), j.target_column.clone()],
                            unique: true,
                        },
                        // From the target's side too, a page walks the
                        // index in the other model's key order.
                        IndexState {
                            name: index_name(&j.table, &[&j.target_column, &j.owner_column], false),
                            columns: vec![j.target_column.clone(), j.owner_column.clone()],
                            unique: false,
                        },
                    ],
                },
            );
        }
        ProjectState { tables }
    }

    /// The table and unique index a constraint name stands for.
    pub fn unique_index(&self, name: &str) -> Option<(&TableState, &IndexState)> {
        self.tables.values().find_map(|t| {
            t.indexes
                .iter()
                .find(|i| i.unique && i.name == name)
                .map(|i| (t, i))
        })
    }

    /// Only the tables of `app`.
    pub fn of_app(&self, app: &str) -> ProjectState {
        ProjectState {
            tables: self
                .tables
                .iter()
                .filter(|(_, t)| t.app == app)
                .map(|(k, t)| (k.clone(), t.clone()))
                .collect(),
        }
    }

    fn table_mut(&mut self, name: &str) -> Result<&mut TableState> {
        self.tables
            .get_mut(name)
            .ok_or_else(|| DbError::Migration(format!("no table `{name}` in the migration state")))
    }

    pub fn table(&self, name: &str) -> Result<&TableState> {
        self.tables
            .get(name)
            .ok_or_else(|| DbError::Migration(format!("no table `{name}` in the migration state")))
    }

    /// Applies an operation to the state.
    pub fn apply(&mut self, op: &Operation) -> Result<()> {
        let missing_column =
            |t: &str, c: &str| DbError::Migration(format!("no column `{c}` in table `{t}`"));
        match op {
            Operation::CreateTable(t) => {
                if self.tables.contains_key(&t.name) {
                    return Err(DbError::Migration(format!(
                        "table `{}` exists already",
                        t.name
                    )));
                }
                self.tables.insert(t.name.clone(), t.clone());
            }
            Operation::DropTable { table } => {
                self.tables
                    .remove(table)
                    .ok_or_else(|| DbError::Migration(format!("no table `{table}` to drop")))?;
            }
            Operation::RenameTable { from, to } => {
                let mut t = self
                    .tables
                    .remove(from)
                    .ok_or_else(|| DbError::Migration(format!("no table `{from}` to rename")))?;
                t.name.clone_from(to);
                // References to the renamed table follow it.
                for other in self.tables.values_mut() {
                    for c in &mut other.columns {
                        if let Some(r) = &mut c.references
                            && r.table == *from
                        {
                            r.table.clone_from(to);
                        }
                    }
                }
                for c in &mut t.columns {
                    if let Some(r) = &mut c.references
                        && r.table == *from
                    {
                        r.table.clone_from(to);
                    }
                }
                self.tables.insert(to.clone(), t);
            }
            Operation::AddColumn { table, column, .. } => {
                let t = self.table_mut(table)?;
                if t.column(&column.name).is_some() {
                    return Err(DbError::Migration(format!(
                        "column `{}` exists already in `{table}`",
                        column.name
                    )));
                }
                t.columns.push(column.clone());
            }
            Operation::DropColumn { table, column } => {
                let t = self.table_mut(table)?;
                let before = t.columns.len();
                t.columns.retain(|c| c.name != *column);
                if t.columns.len() == before {
                    return Err(missing_column(table, column));
                }
                t.indexes.retain(|i| !i.columns.contains(column));
            }
            Operation::AlterColumn { table, column, .. } => {
                let t = self.table_mut(table)?;
                let c = t
                    .columns
                    .iter_mut()
                    .find(|c| c.name == column.name)
                    .ok_or_else(|| missing_column(table, &column.name))?;
                *c = column.clone();
            }
            Operation::RenameColumn { table, from, to } => {
                let t = self.table_mut(table)?;
                let c = t
                    .columns
                    .iter_mut()
                    .find(|c| c.name == *from)
                    .ok_or_else(|| missing_column(table, from))?;
                c.name.clone_from(to);
                for i in &mut t.indexes {
                    for c in &mut i.columns {
                        if c == from {
                            c.clone_from(to);
                        }
                    }
                }
                let name = table.clone();
                for other in self.tables.values_mut() {
                    for c in &mut other.columns {
                        if let Some(r) = &mut c.references
                            && r.table == name
                            && r.column == *from
                        {
                            r.column.clone_from(to);
                        }
                    }
                }
            }
            Operation::AddIndex { table, index } => {
                let t = self.table_mut(table)?;
                if t.indexes.iter().any(|i| i.name == index.name) {
                    return Err(DbError::Migration(format!(
                        "index `{}` exists already",
                        index.name
                    )));
                }
                t.indexes.push(index.clone());
            }
            Operation::DropIndex { table, name } => {
                let t = self.table_mut(table)?;
                let before = t.indexes.len();
                t.indexes.retain(|i| i.name != *name);
                if t.indexes.len() == before {
                    return Err(DbError::Migration(format!(
                        "no index `{name}` on `{table}`"
                    )));
                }
            }
            Operation::RunSql { .. } | Operation::RunRust { .. } => {}
        }
        Ok(())
    }
}

/// One schema change, as written in migration files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "op")]
pub enum Operation {
    CreateTable(TableState),
    DropTable {
        table: String,
    },
    RenameTable {
        from: String,
        to: String,
    },
    /// `backfill` fills existing rows of a NOT NULL column.
    AddColumn {
        table: String,
        column: ColumnState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        backfill: Option<serde_json::Value>,
    },
    DropColumn {
        table: String,
        column: String,
    },
    /// The column's new definition; `backfill` replaces NULLs when it becomes NOT NULL.
    AlterColumn {
        table: String,
        column: ColumnState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        backfill: Option<serde_json::Value>,
    },
    RenameColumn {
        table: String,
        from: String,
        to: String,
    },
    AddIndex {
        table: String,
        index: IndexState,
    },
    DropIndex {
        table: String,
        name: String,
    },
    /// Raw SQL, with the SQL that undoes it (none: irreversible).
    RunSql {
        sql: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reverse_sql: Option<Vec<String>>,
    },
    /// A data migration written in Rust, registered on the app under `name`.
    RunRust {
        name: String,
    },
}

impl Operation {
    /// A one-line description for `makemigrations` and `migrate` output.
    pub fn describe(&self) -> String {
        match self {
            Operation::CreateTable(t) => format!("Create table {}", t.name),
            Operation::DropTable { table } => format!("Drop table {table}"),
            Operation::RenameTable { from, to } => format!("Rename table {from} to {to}"),
            Operation::AddColumn { table, column, .. } => {
                format!("Add column {} to {table}", column.name)
            }
            Operation::DropColumn { table, column } => {
                format!("Remove column {column} from {table}")
            }
            Operation::AlterColumn { table, column, .. } => {
                format!("Alter column {} on {table}", column.name)
            }
            Operation::RenameColumn { table, from, to } => {
                format!("Rename column {from} to {to} on {table}")
            }
            Operation::AddIndex { table, index } => format!("Add index {} on {table}", index.name),
            Operation::DropIndex { table, name } => format!("Remove index {name} from {table}"),
            Operation::RunSql { .. } => "Raw SQL".into(),
            Operation::RunRust { name } => format!("Run Rust data migration {name}"),
        }
    }

    /// The operations that undo this one, given the state before it ran.
    pub fn reverse(&self, before: &ProjectState) -> Result<Vec<Operation>> {
        let column_of = |table: &str, name: &str| -> Result<ColumnState> {
            before
                .table(table)?
                .column(name)
                .cloned()
                .ok_or_else(|| DbError::Migration(format!("no column `{name}` in `{table}`")))
        };
        // A NOT NULL column that comes back needs a value for existing rows.
        let refill = |c: &ColumnState| {
            (!c.nullable).then(|| c.default.clone().unwrap_or_else(|| zero_value(c.ty)))
        };
        Ok(match self {
            Operation::CreateTable(t) => vec![Operation::DropTable {
                table: t.name.clone(),
            }],
            Operation::DropTable { table } => {
                vec![Operation::CreateTable(before.table(table)?.clone())]
            }
            Operation::RenameTable { from, to } => vec![Operation::RenameTable {
                from: to.clone(),
                to: from.clone(),
            }],
            Operation::AddColumn { table, column, .. } => vec![Operation::DropColumn {
                table: table.clone(),
                column: column.name.clone(),
            }],
            Operation::DropColumn { table, column } => {
                // The column comes back with the indexes that went with it.
                let c = column_of(table, column)?;
                let mut out = vec![Operation::AddColumn {
                    table: table.clone(),
                    backfill: refill(&c),
                    column: c,
                }];
                out.extend(
                    before
                        .table(table)?
                        .indexes
                        .iter()
                        .filter(|i| i.columns.contains(column))
                        .map(|i| Operation::AddIndex {
                            table: table.clone(),
                            index: i.clone(),
                        }),
                );
                out
            }
            Operation::AlterColumn { table, column, .. } => {
                let c = column_of(table, &column.name)?;
                vec![Operation::AlterColumn {
                    table: table.clone(),
                    backfill: refill(&c),
                    column: c,
                }]
            }
            Operation::RenameColumn { table, from, to } => vec![Operation::RenameColumn {
                table: table.clone(),
                from: to.clone(),
                to: from.clone(),
            }],
            Operation::AddIndex { table, index } => vec![Operation::DropIndex {
                table: table.clone(),
                name: index.name.clone(),
            }],
            Operation::DropIndex { table, name } => {
                let index = before
                    .table(table)?
                    .indexes
                    .iter()
                    .find(|i| i.name == *name)
                    .cloned()
                    .ok_or_else(|| DbError::Migration(format!("no index `{name}` on `{table}`")))?;
                vec![Operation::AddIndex {
                    table: table.clone(),
                    index,
                }]
            }
            Operation::RunSql { sql, reverse_sql } => match reverse_sql {
                Some(r) => vec![Operation::RunSql {
                    sql: r.clone(),
                    reverse_sql: Some(sql.clone()),
                }],
                None => {
                    return Err(DbError::Migration(
                        "this RunSql operation has no reverse_sql: it is irreversible".into(),
                    ));
                }
            },
            Operation::RunRust { name } => vec![Operation::RunRust {
                name: format!("{name}:backwards"),
            }],
        })
    }
}
