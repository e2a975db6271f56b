//! The database schema as data: a serialisable [`ProjectState`] built from the
//! registry, [`Operation`]s that change it, their DDL per dialect, and
//! [`migrate`], which applies what the recorded state lacks.
//!
//! The state is diffed in memory against the registry, never read back from the
//! live database (Django's autodetector does the same).

use std::collections::BTreeMap;

use graphloom_meta::{FieldKind, OnDelete, Registry, ValueType};
use sea_query::{
    Alias, ColumnDef, ForeignKey, ForeignKeyAction, Index, IndexCreateStatement, Query, Table,
    TableCreateStatement,
};
use serde::{Deserialize, Serialize};

use crate::{Database, DbError, Dialect, RawSql, Result, Tx};

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
    fn sql(self, dialect: Dialect) -> String {
        match (self, dialect) {
            (ColumnType::AutoId, Dialect::Sqlite) => "integer".into(),
            (ColumnType::AutoId, Dialect::Postgres) => "bigint".into(),
            (ColumnType::Bool, _) => "boolean".into(),
            (ColumnType::I32, _) => "integer".into(),
            (ColumnType::I64, _) => "bigint".into(),
            (ColumnType::F64, Dialect::Sqlite) => "real".into(),
            (ColumnType::F64, Dialect::Postgres) => "double precision".into(),
            (ColumnType::Decimal { .. }, Dialect::Sqlite) => "text".into(),
            (
                ColumnType::Decimal {
                    max_digits,
                    decimal_places,
                },
                Dialect::Postgres,
            ) => format!("numeric({max_digits}, {decimal_places})"),
            (ColumnType::String { max_length }, _) => format!("varchar({max_length})"),
            (ColumnType::Text, _) => "text".into(),
            (ColumnType::Date, _) => "date".into(),
            (ColumnType::DateTime, Dialect::Sqlite) => "text".into(),
            (ColumnType::DateTime, Dialect::Postgres) => "timestamptz".into(),
            (ColumnType::Uuid, Dialect::Sqlite) => "text".into(),
            (ColumnType::Uuid, Dialect::Postgres) => "uuid".into(),
            (ColumnType::Json, Dialect::Sqlite) => "text".into(),
            (ColumnType::Json, Dialect::Postgres) => "jsonb".into(),
        }
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
}

impl ColumnState {
    /// A column with no key or reference.
    pub fn new(name: &str, ty: ColumnType, nullable: bool) -> Self {
        ColumnState {
            name: name.to_owned(),
            ty,
            nullable,
            primary_key: false,
            references: None,
        }
    }

    /// The auto-increment primary key `id`.
    pub fn auto_id() -> Self {
        ColumnState {
            primary_key: true,
            ..ColumnState::new("id", ColumnType::AutoId, false)
        }
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
    pub name: String,
    pub columns: Vec<ColumnState>,
    pub indexes: Vec<IndexState>,
}

/// Every table of a service, by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProjectState {
    pub tables: BTreeMap<String, TableState>,
}

fn index_name(table: &str, columns: &[&str], unique: bool) -> String {
    format!(
        "{table}_{}_{}",
        columns.join("_"),
        if unique { "uniq" } else { "idx" }
    )
}

impl ProjectState {
    /// The schema the registry's models need.
    pub fn from_registry(registry: &Registry) -> Self {
        let mut tables = BTreeMap::new();
        for m in registry.models() {
            let mut columns = Vec::new();
            let mut indexes = Vec::new();
            for f in &m.fields {
                let (ty, references) = match f.kind {
                    FieldKind::AutoId => (ColumnType::AutoId, None),
                    FieldKind::Bool => (ColumnType::Bool, None),
                    FieldKind::I32 => (ColumnType::I32, None),
                    FieldKind::I64 => (ColumnType::I64, None),
                    FieldKind::F64 => (ColumnType::F64, None),
                    FieldKind::Decimal {
                        max_digits,
                        decimal_places,
                    } => (
                        ColumnType::Decimal {
                            max_digits,
                            decimal_places,
                        },
                        None,
                    ),
                    FieldKind::String { max_length } => (ColumnType::String { max_length }, None),
                    FieldKind::Text | FieldKind::Enum(_) => (ColumnType::Text, None),
                    FieldKind::Date => (ColumnType::Date, None),
                    FieldKind::DateTime => (ColumnType::DateTime, None),
                    FieldKind::Uuid => (ColumnType::Uuid, None),
                    FieldKind::Json => (ColumnType::Json, None),
                    FieldKind::ForeignKey {
                        target, on_delete, ..
                    } => {
                        let t = registry.model(target);
                        let ty = match t.pk_field().kind {
                            FieldKind::Uuid => ColumnType::Uuid,
                            _ => ColumnType::I64,
                        };
                        (
                            ty,
                            Some(Reference {
                                table: t.table.clone(),
                                column: t.pk_field().column.clone(),
                                on_delete,
                            }),
                        )
                    }
                };
                columns.push(ColumnState {
                    name: f.column.clone(),
                    ty,
                    nullable: f.nullable,
                    primary_key: f.primary_key,
                    references,
                });
                if f.primary_key {
                    continue;
                }
                if f.unique || f.index {
                    indexes.push(IndexState {
                        name: index_name(&m.table, &[&f.column], f.unique),
                        columns: vec![f.column.clone()],
                        unique: f.unique,
                    });
                }
            }
            tables.insert(
                m.table.clone(),
                TableState {
                    name: m.table.clone(),
                    columns,
                    indexes,
                },
            );
        }
        for j in registry.joins() {
            let reference = |id| {
                let t = registry.model(id);
                let ty = match t.pk_field().kind {
                    FieldKind::Uuid => ColumnType::Uuid,
                    _ => ColumnType::I64,
                };
                (
                    ty,
                    Reference {
                        table: t.table.clone(),
                        column: t.pk_field().column.clone(),
                        on_delete: OnDelete::Cascade,
                    },
                )
            };
            let (owner_ty, owner_ref) = reference(j.owner);
            let (target_ty, target_ref) = reference(j.target);
            tables.insert(
                j.table.clone(),
                TableState {
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
                        IndexState {
                            name: index_name(&j.table, &[&j.target_column], false),
                            columns: vec![j.target_column.clone()],
                            unique: false,
                        },
                    ],
                },
            );
        }
        ProjectState { tables }
    }

    /// The field a unique index covers, for mapping unique violations.
    pub fn unique_index(&self, name: &str) -> Option<(&TableState, &IndexState)> {
        self.tables.values().find_map(|t| {
            t.indexes
                .iter()
                .find(|i| i.unique && i.name == name)
                .map(|i| (t, i))
        })
    }

    /// Applies an operation to the state.
    pub fn apply(&mut self, op: &Operation) -> Result<()> {
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
            Operation::AddIndex { table, index } => {
                let t = self
                    .tables
                    .get_mut(table)
                    .ok_or_else(|| DbError::Migration(format!("no table `{table}`")))?;
                t.indexes.push(index.clone());
            }
        }
        Ok(())
    }
}

/// One schema change. The migrations layer extends this list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "op")]
pub enum Operation {
    CreateTable(TableState),
    AddIndex { table: String, index: IndexState },
}

impl Operation {
    /// The DDL statements of this operation for `dialect`.
    pub fn forwards_sql(&self, dialect: Dialect) -> Vec<String> {
        match self {
            Operation::CreateTable(t) => {
                let mut out = vec![dialect.schema_sql(&create_table(t, dialect))];
                out.extend(
                    t.indexes
                        .iter()
                        .map(|i| dialect.schema_sql(&create_index(&t.name, i))),
                );
                out
            }
            Operation::AddIndex { table, index } => {
                vec![dialect.schema_sql(&create_index(table, index))]
            }
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Operation::CreateTable(t) => format!("create table {}", t.name),
            Operation::AddIndex { table, index } => format!("add index {} on {table}", index.name),
        }
    }
}

fn create_table(t: &TableState, dialect: Dialect) -> TableCreateStatement {
    let mut stmt = Table::create();
    stmt.table(Alias::new(&t.name));
    for c in &t.columns {
        let mut def = ColumnDef::new(Alias::new(&c.name));
        def.custom(Alias::new(c.ty.sql(dialect)));
        if !c.nullable {
            def.not_null();
        }
        if c.primary_key {
            def.primary_key();
        }
        if c.ty == ColumnType::AutoId {
            match dialect {
                // INTEGER PRIMARY KEY AUTOINCREMENT: ids are never reused.
                Dialect::Sqlite => {
                    def.auto_increment();
                }
                Dialect::Postgres => {
                    def.extra("GENERATED BY DEFAULT AS IDENTITY");
                }
            }
        }
        stmt.col(def);
        if let Some(r) = &c.references {
            let action = match r.on_delete {
                OnDelete::Cascade => ForeignKeyAction::Cascade,
                OnDelete::SetNull => ForeignKeyAction::SetNull,
                OnDelete::Restrict => ForeignKeyAction::Restrict,
                // Checked by graphloom first so the error names the referring model.
                OnDelete::Protect => ForeignKeyAction::NoAction,
            };
            stmt.foreign_key(
                ForeignKey::create()
                    .name(format!("{}_{}_fk", t.name, c.name))
                    .from(Alias::new(&t.name), Alias::new(&c.name))
                    .to(Alias::new(&r.table), Alias::new(&r.column))
                    .on_delete(action),
            );
        }
    }
    stmt
}

fn create_index(table: &str, i: &IndexState) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(&i.name).table(Alias::new(table));
    for c in &i.columns {
        stmt.col(Alias::new(c));
    }
    if i.unique {
        stmt.unique();
    }
    stmt
}

/// The operations that take `from` to `to`, or an error naming a change that
/// needs a migration file.
pub fn plan(from: &ProjectState, to: &ProjectState) -> Result<Vec<Operation>> {
    let mut ops = Vec::new();
    let mut unsupported = Vec::new();
    // Create referenced tables first so foreign keys point at existing tables.
    let mut pending: Vec<&TableState> = to
        .tables
        .values()
        .filter(|t| !from.tables.contains_key(&t.name))
        .collect();
    let mut created: Vec<&str> = from.tables.keys().map(String::as_str).collect();
    while !pending.is_empty() {
        let before = pending.len();
        pending.retain(|t| {
            let ready = t.columns.iter().all(|c| {
                c.references
                    .as_ref()
                    .is_none_or(|r| r.table == t.name || created.contains(&r.table.as_str()))
            });
            if ready {
                ops.push(Operation::CreateTable((*t).clone()));
                created.push(&t.name);
            }
            !ready
        });
        if pending.len() == before {
            // A cycle of foreign keys: create the rest in name order; the
            // dialects accept forward references inside one transaction.
            for t in pending.drain(..) {
                ops.push(Operation::CreateTable(t.clone()));
            }
        }
    }
    for (name, old) in &from.tables {
        match to.tables.get(name) {
            None => unsupported.push(format!("table `{name}` is no longer used by any model")),
            Some(new) => {
                if old.columns != new.columns {
                    unsupported.push(format!("the columns of table `{name}` changed"));
                }
                for i in &new.indexes {
                    if !old.indexes.contains(i) {
                        ops.push(Operation::AddIndex {
                            table: name.clone(),
                            index: i.clone(),
                        });
                    }
                }
                for i in &old.indexes {
                    if !new.indexes.contains(i) {
                        unsupported.push(format!("index `{}` was removed", i.name));
                    }
                }
            }
        }
    }
    if unsupported.is_empty() {
        Ok(ops)
    } else {
        Err(DbError::Migration(format!(
            "the models changed in ways that need a migration file: {}",
            unsupported.join("; ")
        )))
    }
}

const LEDGER: &str = "graphloom_migrations";

/// What [`migrate`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationReport {
    pub applied: Vec<String>,
}

async fn ledger_state(tx: &mut Tx) -> Result<ProjectState> {
    let mut select = Query::select();
    select
        .column(Alias::new("operations"))
        .from(Alias::new(LEDGER))
        .order_by(Alias::new("id"), sea_query::Order::Asc);
    let rows = tx.fetch(&select, &[ValueType::String]).await?;
    let mut state = ProjectState::default();
    for row in rows {
        let Some(graphloom_meta::Value::String(text)) = row.into_iter().next() else {
            continue;
        };
        let ops: Vec<Operation> = serde_json::from_str(&text)
            .map_err(|e| DbError::Migration(format!("unreadable migration record: {e}")))?;
        for op in &ops {
            state.apply(op)?;
        }
    }
    Ok(state)
}

/// Brings the database to `target` in one transaction, recording what it applied.
/// A failure rolls everything back.
pub async fn migrate(db: &Database, target: &ProjectState) -> Result<MigrationReport> {
    let dialect = db.dialect();
    let ledger = TableState {
        name: LEDGER.into(),
        columns: vec![
            ColumnState::auto_id(),
            ColumnState::new("name", ColumnType::Text, false),
            ColumnState::new("operations", ColumnType::Text, false),
            ColumnState::new("applied_at", ColumnType::DateTime, false),
        ],
        indexes: vec![],
    };
    let mut tx = db.begin().await?;
    if dialect == Dialect::Postgres {
        // Two instances migrating at once: the second waits, then sees the first's work.
        tx.execute(&RawSql("SELECT pg_advisory_xact_lock(7301208812)".into()))
            .await?;
    }
    let mut create = create_table(&ledger, dialect);
    create.if_not_exists();
    tx.execute(&RawSql(dialect.schema_sql(&create))).await?;
    let current = ledger_state(&mut tx).await?;
    let ops = plan(&current, target)?;
    if ops.is_empty() {
        tx.commit().await?;
        return Ok(MigrationReport::default());
    }
    for op in &ops {
        for sql in op.forwards_sql(dialect) {
            tx.execute(&RawSql(sql)).await?;
        }
    }
    let count_rows = tx
        .fetch(
            &RawSql(format!("SELECT COUNT(*) FROM {LEDGER}")),
            &[ValueType::I64],
        )
        .await?;
    let n = match count_rows.first().and_then(|r| r.first()) {
        Some(graphloom_meta::Value::I64(n)) => *n,
        _ => 0,
    };
    let name = format!("{:04}_auto", n + 1);
    let text = serde_json::to_string(&ops)
        .map_err(|e| DbError::Migration(format!("cannot record operations: {e}")))?;
    let mut insert = Query::insert();
    insert
        .into_table(Alias::new(LEDGER))
        .columns([
            Alias::new("name"),
            Alias::new("operations"),
            Alias::new("applied_at"),
        ])
        .values([
            crate::to_sea(&name.clone().into(), dialect).into(),
            crate::to_sea(&text.into(), dialect).into(),
            crate::to_sea(&chrono::Utc::now().into(), dialect).into(),
        ])
        .map_err(|e| DbError::Migration(e.to_string()))?;
    tx.execute(&insert).await?;
    tx.commit().await?;
    Ok(MigrationReport {
        applied: ops.iter().map(Operation::describe).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> TableState {
        TableState {
            name: "blog_post".into(),
            columns: vec![
                ColumnState {
                    name: "id".into(),
                    ty: ColumnType::AutoId,
                    nullable: false,
                    primary_key: true,
                    references: None,
                },
                ColumnState {
                    name: "title".into(),
                    ty: ColumnType::String { max_length: 200 },
                    nullable: false,
                    primary_key: false,
                    references: None,
                },
                ColumnState {
                    name: "author_id".into(),
                    ty: ColumnType::I64,
                    nullable: true,
                    primary_key: false,
                    references: Some(Reference {
                        table: "blog_user".into(),
                        column: "id".into(),
                        on_delete: OnDelete::SetNull,
                    }),
                },
            ],
            indexes: vec![IndexState {
                name: "blog_post_title_uniq".into(),
                columns: vec!["title".into()],
                unique: true,
            }],
        }
    }

    #[test]
    fn create_table_sql_per_dialect() {
        let op = Operation::CreateTable(table());
        assert_eq!(
            op.forwards_sql(Dialect::Sqlite),
            vec![
                r#"CREATE TABLE "blog_post" ( "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "title" varchar(200) NOT NULL, "author_id" bigint, FOREIGN KEY ("author_id") REFERENCES "blog_user" ("id") ON DELETE SET NULL )"#,
                r#"CREATE UNIQUE INDEX "blog_post_title_uniq" ON "blog_post" ("title")"#,
            ]
        );
        assert_eq!(
            op.forwards_sql(Dialect::Postgres),
            vec![
                r#"CREATE TABLE "blog_post" ( "id" bigint NOT NULL PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY, "title" varchar(200) NOT NULL, "author_id" bigint, CONSTRAINT "blog_post_author_id_fk" FOREIGN KEY ("author_id") REFERENCES "blog_user" ("id") ON DELETE SET NULL )"#,
                r#"CREATE UNIQUE INDEX "blog_post_title_uniq" ON "blog_post" ("title")"#,
            ]
        );
    }

    #[test]
    fn plan_creates_referenced_tables_first_and_refuses_column_changes() {
        let mut user = table();
        user.name = "blog_user".into();
        user.columns.truncate(2);
        user.indexes.clear();
        let mut to = ProjectState::default();
        to.tables.insert("blog_post".into(), table());
        to.tables.insert("blog_user".into(), user);
        let ops = plan(&ProjectState::default(), &to).unwrap();
        let names: Vec<String> = ops.iter().map(Operation::describe).collect();
        assert_eq!(names, ["create table blog_user", "create table blog_post"]);
        let mut applied = ProjectState::default();
        for op in &ops {
            applied.apply(op).unwrap();
        }
        assert_eq!(applied, to);
        assert!(plan(&applied, &to).unwrap().is_empty());
        let mut changed = to.clone();
        changed.tables.get_mut("blog_post").unwrap().columns.pop();
        let err = plan(&applied, &changed).unwrap_err().to_string();
        assert!(
            err.contains("columns of table `blog_post` changed"),
            "{err}"
        );
    }
}
