//! What SQL dialects do differently, behind one trait. graphloom renders
//! statements as data with sea-query; a [`SqlDialect`] says how they render,
//! how values bind, how a key list becomes one parameter, what the column
//! types are called, and how a schema change is carried out. A third
//! dialect is one more implementation (and, for running statements, a pool
//! in [`crate::Database`]).
//!
//! The defaults are standard SQL as PostgreSQL speaks it (`ALTER TABLE` in
//! place, named constraints); SQLite overrides what it cannot alter, and
//! rebuilds the table by its documented procedure instead.

/// The four rendering methods of a dialect that renders with one of
/// sea-query's backends.
macro_rules! sea_query_backend {
    ($backend:expr) => {
        fn render(&self, q: $crate::dialect::QueryRef<'_>) -> (String, sea_query::Values) {
            $crate::dialect::render_query($backend, q)
        }
        fn inline(&self, s: &sea_query::SelectStatement) -> String {
            s.to_string($backend)
        }
        fn render_schema(&self, s: $crate::dialect::SchemaRef<'_>) -> String {
            $crate::dialect::render_schema($backend, s)
        }
        fn literal(&self, v: &sea_query::Value) -> String {
            sea_query::QueryBuilder::value_to_string(&$backend, v)
        }
    };
}

pub mod postgres;
pub mod sqlite;

use std::fmt;

use graphloom_meta::{OnDelete, Value, ValueType};
pub use postgres::Postgres;
use sea_query::{
    Alias, ColumnDef, DeleteStatement, Expr, ForeignKey, ForeignKeyAction,
    ForeignKeyCreateStatement, FunctionCall, Index, IndexCreateStatement, IndexDropStatement,
    InsertStatement, SelectStatement, Table, TableAlterStatement, TableCreateStatement,
    TableDropStatement, TableRenameStatement, UpdateStatement, Values,
};
pub use sqlite::Sqlite;

use crate::{
    Result,
    ddl::Step,
    schema::{ColumnState, ColumnType, IndexState, ProjectState, TableState, json_to_value},
};

/// A query statement to render.
#[derive(Debug, Clone, Copy)]
pub enum QueryRef<'a> {
    Select(&'a SelectStatement),
    Insert(&'a InsertStatement),
    Update(&'a UpdateStatement),
    Delete(&'a DeleteStatement),
}

/// A schema statement to render.
#[derive(Debug, Clone, Copy)]
pub enum SchemaRef<'a> {
    CreateTable(&'a TableCreateStatement),
    CreateIndex(&'a IndexCreateStatement),
    DropTable(&'a TableDropStatement),
    DropIndex(&'a IndexDropStatement),
    AlterTable(&'a TableAlterStatement),
    RenameTable(&'a TableRenameStatement),
    CreateForeignKey(&'a ForeignKeyCreateStatement),
}

/// Renders with one of sea-query's backends (what each dialect's
/// [`SqlDialect::render`] calls with its own).
pub fn render_query<B: sea_query::QueryBuilder>(b: B, q: QueryRef<'_>) -> (String, Values) {
    match q {
        QueryRef::Select(s) => s.build(b),
        QueryRef::Insert(s) => s.build(b),
        QueryRef::Update(s) => s.build(b),
        QueryRef::Delete(s) => s.build(b),
    }
}

/// Renders a schema statement with one of sea-query's backends.
pub fn render_schema<B: sea_query::SchemaBuilder>(b: B, s: SchemaRef<'_>) -> String {
    match s {
        SchemaRef::CreateTable(s) => s.to_string(b),
        SchemaRef::CreateIndex(s) => s.to_string(b),
        SchemaRef::DropTable(s) => s.to_string(b),
        SchemaRef::DropIndex(s) => s.to_string(b),
        SchemaRef::AlterTable(s) => s.to_string(b),
        SchemaRef::RenameTable(s) => s.to_string(b),
        SchemaRef::CreateForeignKey(s) => s.to_string(b),
    }
}

/// A key as a JSON list item: integers stay numbers (SQLite compares them
/// with integer columns), everything else is its key text.
pub(crate) fn json_key(v: &Value) -> serde_json::Value {
    match v {
        Value::I64(v) => serde_json::Value::from(*v),
        Value::I32(v) => serde_json::Value::from(*v),
        other => serde_json::Value::String(other.key_string()),
    }
}

/// A double-quoted identifier.
pub(crate) fn quote(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// The name of the foreign-key constraint on `table.column`.
pub fn fk_name(table: &str, column: &str) -> String {
    format!("{table}_{column}_fk")
}

pub(crate) fn on_delete(r: &crate::schema::Reference) -> ForeignKeyAction {
    match r.on_delete {
        OnDelete::Cascade => ForeignKeyAction::Cascade,
        OnDelete::SetNull => ForeignKeyAction::SetNull,
        OnDelete::Restrict => ForeignKeyAction::Restrict,
        // Checked by graphloom first so the error names the referring model.
        OnDelete::Protect => ForeignKeyAction::NoAction,
    }
}

/// A SQL dialect: everything graphloom renders differently per database.
pub trait SqlDialect: Send + Sync + fmt::Debug + 'static {
    /// `sqlite`, `postgres`: how messages and URLs name it.
    fn name(&self) -> &'static str;

    /// A query with its values as bound parameters.
    fn render(&self, q: QueryRef<'_>) -> (String, Values);
    /// A query with its values inlined, for display (`sqlmigrate`, tests).
    fn inline(&self, s: &SelectStatement) -> String;
    /// A schema statement.
    fn render_schema(&self, s: SchemaRef<'_>) -> String;
    /// A value as an SQL literal.
    fn literal(&self, v: &sea_query::Value) -> String;

    /// A value as the dialect binds it.
    fn to_sea(&self, v: &Value) -> sea_query::Value;
    /// A NULL of `ty`, so the database can infer the parameter's type.
    fn typed_null(&self, ty: ValueType) -> sea_query::Value;

    /// `expr` is one of `keys`, bound as one parameter whatever their number,
    /// so the statement text does not change with the data.
    fn keys_in(&self, expr: Expr, keys: &[Value], ty: ValueType) -> Expr;
    /// `(exprs…)` is one of `tuples` (a composite key), bound as one parameter.
    fn tuples_in(&self, exprs: Vec<Expr>, tuples: &[Vec<Value>], types: &[ValueType]) -> Expr;
    /// `keys` as a table of one row per key, bound as one parameter: the
    /// FROM item (to alias `alias`) and the expression of its key column.
    fn keys_table(&self, keys: &[Value], ty: ValueType, alias: &str) -> (FunctionCall, Expr);
    /// Whether the dialect has `LATERAL` joins, which run a page per parent
    /// key as a `LIMIT` that walks an index (else a correlated subquery does).
    fn lateral(&self) -> bool {
        true
    }
    /// A decimal column or operand in a form that compares as the number does.
    fn decimal_comparable(&self, e: Expr) -> Expr {
        e
    }
    /// Whether `SELECT … FOR UPDATE` locks the rows a write reads first.
    fn locks_rows(&self) -> bool {
        true
    }
    /// Whether foreign-key constraints carry the names graphloom gives them
    /// (`<table>_<column>_fk`), which renames then keep in step.
    fn names_constraints(&self) -> bool {
        true
    }
    /// A statement that lists foreign keys a migration left broken, for
    /// dialects that switch enforcement off during schema changes.
    fn foreign_key_check(&self) -> Option<&'static str> {
        None
    }

    /// The column type of `ty`.
    fn column_type(&self, ty: ColumnType) -> String;
    /// Makes an auto-increment primary key of `def`.
    fn auto_id(&self, def: &mut ColumnDef);
    /// A column's default for existing rows (`backfill`), as a typed literal.
    fn default_literal(&self, c: &ColumnState, j: &serde_json::Value) -> Result<String> {
        let v = self.to_sea(&json_to_value(c.ty, j)?);
        Ok(format!("{}::{}", self.literal(&v), self.column_type(c.ty)))
    }

    /// Adds `column` to `table`, filling existing rows with `fill` (NOT NULL
    /// columns); `after` is the schema with the column.
    fn add_column(
        &self,
        table: &str,
        column: &ColumnState,
        fill: Option<&serde_json::Value>,
        after: &ProjectState,
    ) -> Result<Vec<Step>> {
        let _ = after;
        let mut def = column_def(self, column);
        if let Some(f) = fill {
            def.default(Expr::cust(self.default_literal(column, f)?));
        }
        let mut alter = Table::alter();
        alter.table(Alias::new(table)).add_column(def);
        let mut out = vec![self.schema_step(SchemaRef::AlterTable(&alter))];
        if fill.is_some() {
            // The default only filled the existing rows: graphloom applies defaults.
            out.push(Step::Sql(format!(
                "ALTER TABLE {} ALTER COLUMN {} DROP DEFAULT",
                quote(table),
                quote(&column.name)
            )));
        }
        out.extend(self.add_foreign_key(table, column));
        Ok(out)
    }

    /// Drops `column` of `table`; `after` is the schema without it.
    fn drop_column(&self, table: &str, column: &str, after: &ProjectState) -> Result<Vec<Step>> {
        let _ = after;
        let mut alter = Table::alter();
        alter
            .table(Alias::new(table))
            .drop_column(Alias::new(column));
        Ok(vec![self.schema_step(SchemaRef::AlterTable(&alter))])
    }

    /// Changes `old` into `new` (type, NULL, reference), filling NULLs with
    /// `fill` when the column becomes NOT NULL; `after` is the schema after.
    fn alter_column(
        &self,
        table: &str,
        old: &ColumnState,
        new: &ColumnState,
        fill: Option<&serde_json::Value>,
        after: &ProjectState,
    ) -> Result<Vec<Step>> {
        let _ = after;
        let t = quote(table);
        let c = quote(&new.name);
        let mut out = Vec::new();
        if old.references.is_some() && old.references != new.references {
            out.push(Step::Sql(format!(
                "ALTER TABLE {t} DROP CONSTRAINT IF EXISTS {}",
                quote(&fk_name(table, &new.name))
            )));
        }
        if old.ty != new.ty {
            // sea-query cannot say `USING`: how the old values convert.
            let ty = self.column_type(new.ty);
            out.push(Step::Sql(format!(
                "ALTER TABLE {t} ALTER COLUMN {c} TYPE {ty} USING {c}::{ty}"
            )));
        }
        if old.nullable && !new.nullable {
            if let Some(f) = fill {
                out.push(Step::Sql(format!(
                    "UPDATE {t} SET {c} = {} WHERE {c} IS NULL",
                    self.default_literal(new, f)?
                )));
            }
            out.push(Step::Sql(format!(
                "ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL"
            )));
        } else if !old.nullable && new.nullable {
            out.push(Step::Sql(format!(
                "ALTER TABLE {t} ALTER COLUMN {c} DROP NOT NULL"
            )));
        }
        if new.references.is_some() && old.references != new.references {
            out.extend(self.add_foreign_key(table, new));
        }
        Ok(out)
    }

    /// Renames a table (`before` is the schema before), and the constraint
    /// names that carry its name.
    fn rename_table(&self, from: &str, to: &str, before: &ProjectState) -> Result<Vec<Step>> {
        let mut rename = Table::rename();
        rename.table(Alias::new(from), Alias::new(to));
        let mut out = vec![self.schema_step(SchemaRef::RenameTable(&rename))];
        let named = if self.names_constraints() {
            before.table(from)?.columns.as_slice()
        } else {
            &[]
        };
        for c in named.iter().filter(|c| c.references.is_some()) {
            out.push(Step::Sql(format!(
                "ALTER TABLE {} RENAME CONSTRAINT {} TO {}",
                quote(to),
                quote(&fk_name(from, &c.name)),
                quote(&fk_name(to, &c.name))
            )));
        }
        Ok(out)
    }

    /// Renames a column, and its foreign-key constraint's name.
    fn rename_column(
        &self,
        table: &str,
        from: &str,
        to: &str,
        before: &ProjectState,
    ) -> Result<Vec<Step>> {
        let mut alter = Table::alter();
        alter
            .table(Alias::new(table))
            .rename_column(Alias::new(from), Alias::new(to));
        let mut out = vec![self.schema_step(SchemaRef::AlterTable(&alter))];
        let has_fk = before
            .table(table)?
            .column(from)
            .is_some_and(|c| c.references.is_some());
        if has_fk && self.names_constraints() {
            out.push(Step::Sql(format!(
                "ALTER TABLE {} RENAME CONSTRAINT {} TO {}",
                quote(table),
                quote(&fk_name(table, from)),
                quote(&fk_name(table, to))
            )));
        }
        Ok(out)
    }

    /// The named foreign-key constraint of `column`, added to an existing table.
    fn add_foreign_key(&self, table: &str, column: &ColumnState) -> Option<Step> {
        column.references.as_ref().map(|r| {
            let mut fk = ForeignKey::create();
            fk.name(fk_name(table, &column.name))
                .from(Alias::new(table), Alias::new(&column.name))
                .to(Alias::new(&r.table), Alias::new(&r.column))
                .on_delete(on_delete(r));
            self.schema_step(SchemaRef::CreateForeignKey(&fk))
        })
    }

    /// A schema statement as a migration step.
    fn schema_step(&self, s: SchemaRef<'_>) -> Step {
        Step::Sql(self.render_schema(s))
    }
}

/// A column's definition in `CREATE TABLE` or `ADD COLUMN`. A key of
/// several columns is the table's constraint instead ([`create_table`]).
pub(crate) fn column_def(d: &(impl SqlDialect + ?Sized), c: &ColumnState) -> ColumnDef {
    column_def_in(d, c, c.primary_key)
}

fn column_def_in(d: &(impl SqlDialect + ?Sized), c: &ColumnState, key: bool) -> ColumnDef {
    let mut def = ColumnDef::new(Alias::new(&c.name));
    def.custom(Alias::new(d.column_type(c.ty)));
    if !c.nullable {
        def.not_null();
    }
    if key {
        def.primary_key();
    }
    if c.ty == ColumnType::AutoId {
        d.auto_id(&mut def);
    }
    def
}

/// `CREATE TABLE name (…)` for `t`, with its named foreign keys.
pub(crate) fn create_table(
    d: &(impl SqlDialect + ?Sized),
    t: &TableState,
    name: &str,
) -> TableCreateStatement {
    let mut stmt = Table::create();
    stmt.table(Alias::new(name));
    let keys: Vec<&ColumnState> = t.columns.iter().filter(|c| c.primary_key).collect();
    if keys.len() > 1 {
        // A composite primary key: `PRIMARY KEY (a, b)`.
        let mut pk = Index::create();
        for c in &keys {
            pk.col(Alias::new(&c.name));
        }
        stmt.primary_key(&mut pk);
    }
    for c in &t.columns {
        stmt.col(column_def_in(d, c, c.primary_key && keys.len() == 1));
        if let Some(r) = &c.references {
            stmt.foreign_key(
                ForeignKey::create()
                    .name(fk_name(&t.name, &c.name))
                    .from(Alias::new(name), Alias::new(&c.name))
                    .to(Alias::new(&r.table), Alias::new(&r.column))
                    .on_delete(on_delete(r)),
            );
        }
    }
    stmt
}

pub(crate) fn create_index(table: &str, i: &IndexState) -> IndexCreateStatement {
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

/// A dialect, cheap to copy and compare: `Dialect::SQLITE`, `Dialect::POSTGRES`,
/// or [`Dialect::new`] of another implementation.
#[derive(Clone, Copy)]
pub struct Dialect(&'static dyn SqlDialect);

impl Dialect {
    pub const SQLITE: Dialect = Dialect(&Sqlite);
    pub const POSTGRES: Dialect = Dialect(&Postgres);

    pub const fn new(dialect: &'static dyn SqlDialect) -> Dialect {
        Dialect(dialect)
    }

    /// Renders a schema statement (`CREATE TABLE`, `CREATE INDEX` …).
    pub fn schema_sql(self, stmt: &impl crate::SchemaStatement) -> String {
        stmt.render(self)
    }

    /// Renders a query with its values inlined, for display (`sqlmigrate`, tests).
    pub fn inline_sql(self, stmt: &SelectStatement) -> String {
        self.0.inline(stmt)
    }
}

impl std::ops::Deref for Dialect {
    type Target = dyn SqlDialect;
    fn deref(&self) -> &Self::Target {
        self.0
    }
}

impl PartialEq for Dialect {
    fn eq(&self, other: &Self) -> bool {
        self.0.name() == other.0.name()
    }
}
impl Eq for Dialect {}

impl std::hash::Hash for Dialect {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.name().hash(state);
    }
}

impl fmt::Debug for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::Operation;

    /// A third dialect is one implementation: this one borrows PostgreSQL's
    /// rendering and names its text columns differently.
    #[derive(Debug)]
    struct Shouty;

    impl SqlDialect for Shouty {
        fn name(&self) -> &'static str {
            "shouty"
        }
        fn render(&self, q: QueryRef<'_>) -> (String, Values) {
            Postgres.render(q)
        }
        fn inline(&self, s: &SelectStatement) -> String {
            Postgres.inline(s)
        }
        fn render_schema(&self, s: SchemaRef<'_>) -> String {
            Postgres.render_schema(s)
        }
        fn literal(&self, v: &sea_query::Value) -> String {
            Postgres.literal(v)
        }
        fn to_sea(&self, v: &Value) -> sea_query::Value {
            Postgres.to_sea(v)
        }
        fn typed_null(&self, ty: ValueType) -> sea_query::Value {
            Postgres.typed_null(ty)
        }
        fn keys_in(&self, expr: Expr, keys: &[Value], ty: ValueType) -> Expr {
            Postgres.keys_in(expr, keys, ty)
        }
        fn tuples_in(&self, exprs: Vec<Expr>, tuples: &[Vec<Value>], types: &[ValueType]) -> Expr {
            Postgres.tuples_in(exprs, tuples, types)
        }
        fn keys_table(&self, keys: &[Value], ty: ValueType, alias: &str) -> (FunctionCall, Expr) {
            Postgres.keys_table(keys, ty, alias)
        }
        fn column_type(&self, ty: ColumnType) -> String {
            match ty {
                ColumnType::Text => "TEXT".into(),
                other => Postgres.column_type(other),
            }
        }
        fn auto_id(&self, def: &mut ColumnDef) {
            Postgres.auto_id(def);
        }
    }

    #[test]
    fn another_dialect_plugs_into_migrations() {
        static SHOUTY: Shouty = Shouty;
        let dialect = Dialect::new(&SHOUTY);
        let mut before = ProjectState::default();
        let table = TableState {
            app: "a".into(),
            name: "a_note".into(),
            columns: vec![ColumnState::auto_id()],
            indexes: Vec::new(),
        };
        before.apply(&Operation::CreateTable(table)).unwrap();
        let op = Operation::AddColumn {
            table: "a_note".into(),
            column: ColumnState::new("body", ColumnType::Text, true),
            backfill: None,
        };
        let steps = crate::ddl::forwards(&op, &before, dialect).unwrap();
        assert_eq!(
            steps,
            [Step::Sql(
                r#"ALTER TABLE "a_note" ADD COLUMN "body" TEXT"#.into()
            )]
        );
        assert_ne!(dialect, Dialect::POSTGRES);
        assert_eq!(format!("{dialect:?}"), "shouty");
    }
}
