//! Migration files, their dependency graph, and the executor that applies and
//! unapplies them, recording each in the `graphloom_migrations` table.
//!
//! A migration file is JSON: `{ "dependencies": [["blog", "0001_initial"]],
//! "operations": [ … ] }`, named `NNNN_description.json` in an app's
//! `migrations/` folder. Within an app each migration depends on the previous
//! one. Each migration runs in its own transaction, under the schema lock of
//! [`crate::SchemaConn`]; the ledger is re-read inside that transaction, so two
//! instances migrating at once never both apply a migration.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use graphloom_meta::{Value, ValueType};
use sea_query::{Alias, Expr, ExprTrait, Query};
use serde::{Deserialize, Serialize};

use crate::{
    Database, DbError, Dialect, RawSql, Result, Tx,
    ddl::{Step, forwards},
    schema::{ColumnState, ColumnType, Operation, ProjectState, TableState},
};

/// The future a Rust data migration returns.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// One migration: an app, a name, what it depends on, and its operations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Migration {
    #[serde(skip)]
    pub app: String,
    #[serde(skip)]
    pub name: String,
    #[serde(default)]
    pub dependencies: Vec<(String, String)>,
    pub operations: Vec<Operation>,
}

impl Migration {
    /// Parses a migration file's JSON.
    pub fn from_json(app: &str, name: &str, text: &str) -> Result<Migration> {
        let mut m: Migration = serde_json::from_str(text).map_err(|e| {
            DbError::Migration(format!("{app}/{name}.json is not a valid migration: {e}"))
        })?;
        m.app = app.to_owned();
        m.name = name.to_owned();
        Ok(m)
    }

    /// The file's JSON, pretty-printed for review.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    pub fn key(&self) -> (String, String) {
        (self.app.clone(), self.name.clone())
    }
}

/// A Rust data migration: runs inside the migration's transaction.
pub type DataFn = for<'a, 'c> fn(&'a mut Tx<'c>) -> BoxFuture<'a, Result<()>>;

/// All migrations of a service, with their order.
#[derive(Debug, Clone, Default)]
pub struct MigrationSet {
    migrations: Vec<Migration>,
    /// Indices into `migrations`, dependencies first.
    order: Vec<usize>,
    data: HashMap<String, DataFn>,
}

impl MigrationSet {
    /// Builds the graph; every dependency must exist and there must be no cycle.
    /// `data` holds the Rust data migrations by `app.name` (and `app.name:backwards`).
    pub fn new(mut migrations: Vec<Migration>, data: HashMap<String, DataFn>) -> Result<Self> {
        migrations.sort_by(|a, b| (&a.app, &a.name).cmp(&(&b.app, &b.name)));
        let index: BTreeMap<(String, String), usize> = migrations
            .iter()
            .enumerate()
            .map(|(i, m)| (m.key(), i))
            .collect();
        if index.len() != migrations.len() {
            return Err(DbError::Migration(
                "two migrations share an app and a name".into(),
            ));
        }
        let mut deps: Vec<Vec<usize>> = vec![Vec::new(); migrations.len()];
        for (i, m) in migrations.iter().enumerate() {
            if i > 0 && migrations[i - 1].app == m.app {
                deps[i].push(i - 1);
            }
            for d in &m.dependencies {
                let j = index.get(d).ok_or_else(|| {
                    DbError::Migration(format!(
                        "{}.{} depends on {}.{}, which does not exist",
                        m.app, m.name, d.0, d.1
                    ))
                })?;
                deps[i].push(*j);
            }
        }
        // Depth-first topological order, stable by (app, name).
        let mut order = Vec::new();
        let mut state = vec![0u8; migrations.len()];
        fn visit(
            i: usize,
            deps: &[Vec<usize>],
            state: &mut [u8],
            order: &mut Vec<usize>,
            ms: &[Migration],
        ) -> Result<()> {
            match state[i] {
                2 => return Ok(()),
                1 => {
                    return Err(DbError::Migration(format!(
                        "migrations depend on each other in a cycle at {}.{}",
                        ms[i].app, ms[i].name
                    )));
                }
                _ => {}
            }
            state[i] = 1;
            for d in &deps[i] {
                visit(*d, deps, state, order, ms)?;
            }
            state[i] = 2;
            order.push(i);
            Ok(())
        }
        for i in 0..migrations.len() {
            visit(i, &deps, &mut state, &mut order, &migrations)?;
        }
        Ok(MigrationSet {
            migrations,
            order,
            data,
        })
    }

    /// Migrations in the order they apply.
    pub fn ordered(&self) -> impl Iterator<Item = &Migration> {
        self.order.iter().map(|i| &self.migrations[*i])
    }

    pub fn get(&self, app: &str, name: &str) -> Option<&Migration> {
        self.migrations
            .iter()
            .find(|m| m.app == app && m.name == name)
    }

    /// The latest migration of `app`.
    pub fn leaf(&self, app: &str) -> Option<&Migration> {
        self.migrations
            .iter()
            .filter(|m| m.app == app)
            .max_by(|a, b| a.name.cmp(&b.name))
    }

    pub fn apps(&self) -> BTreeSet<String> {
        self.migrations.iter().map(|m| m.app.clone()).collect()
    }

    /// The state after every migration.
    pub fn state(&self) -> Result<ProjectState> {
        let mut s = ProjectState::default();
        for m in self.ordered() {
            for op in &m.operations {
                s.apply(op)?;
            }
        }
        Ok(s)
    }

    /// `(app, name)` and everything it depends on, transitively.
    fn ancestors(&self, key: &(String, String)) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        let mut stack = vec![key.clone()];
        while let Some(k) = stack.pop() {
            if !out.insert(k.clone()) {
                continue;
            }
            if let Some(m) = self.get(&k.0, &k.1) {
                stack.extend(m.dependencies.iter().cloned());
                if let Some(prev) = self
                    .migrations
                    .iter()
                    .filter(|p| p.app == m.app && p.name < m.name)
                    .max_by(|a, b| a.name.cmp(&b.name))
                {
                    stack.push(prev.key());
                }
            }
        }
        out
    }

    /// The state just before `m`: its ancestors applied in order.
    fn state_before(&self, m: &Migration) -> Result<ProjectState> {
        let ancestors = self.ancestors(&m.key());
        let mut s = ProjectState::default();
        for a in self
            .ordered()
            .filter(|a| ancestors.contains(&a.key()) && a.key() != m.key())
        {
            for op in &a.operations {
                s.apply(op)?;
            }
        }
        Ok(s)
    }

    /// The steps of `m` forwards, or backwards, on `dialect` (`sqlmigrate`).
    pub fn steps(&self, m: &Migration, backwards: bool, dialect: Dialect) -> Result<Vec<Step>> {
        let mut state = self.state_before(m)?;
        let mut out = Vec::new();
        if !backwards {
            for op in &m.operations {
                out.extend(forwards(op, &state, dialect)?);
                state.apply(op)?;
            }
            return Ok(out);
        }
        let mut states = Vec::new();
        for op in &m.operations {
            states.push(state.clone());
            state.apply(op)?;
        }
        for (op, before) in m.operations.iter().zip(states).rev() {
            for undo in op.reverse(&before)? {
                out.extend(forwards(&undo, &state, dialect)?);
                state.apply(&undo)?;
            }
        }
        Ok(out)
    }

    /// The data migration `name` of `app` (`name:backwards` for its undo).
    fn data_fn(&self, app: &str, name: &str) -> Result<DataFn> {
        self.data.get(&format!("{app}.{name}")).copied().ok_or_else(|| {
            if let Some(base) = name.strip_suffix(":backwards") {
                DbError::Migration(format!(
                    "the Rust data migration `{base}` has no backwards function: it is irreversible"
                ))
            } else {
                DbError::Migration(format!(
                    "no Rust data migration `{name}` is registered on the app"
                ))
            }
        })
    }
}

/// Where to take the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Every migration of every app.
    Latest,
    /// The latest migration of one app (and what it depends on).
    App(String),
    /// Exactly this migration of the app: forwards if it is not applied,
    /// backwards (unapplying what came after it) if it is.
    Migration(String, String),
    /// None of the app's migrations.
    Zero(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Forwards,
    Backwards,
}

pub const LEDGER: &str = "graphloom_migrations";

fn ledger_table() -> TableState {
    TableState {
        app: "graphloom".into(),
        name: LEDGER.into(),
        columns: vec![
            ColumnState::auto_id(),
            ColumnState::new("app", ColumnType::Text, false),
            ColumnState::new("name", ColumnType::Text, false),
            ColumnState::new("applied_at", ColumnType::DateTime, false),
        ],
        indexes: vec![],
    }
}

async fn ensure_ledger(db: &Database) -> Result<()> {
    let mut create = crate::dialect::create_table(&*db.dialect(), &ledger_table(), LEDGER);
    create.if_not_exists();
    db.execute(&RawSql(db.dialect().schema_sql(&create)))
        .await
        .map(drop)
}

async fn read_ledger(tx: &mut Tx<'_>) -> Result<BTreeSet<(String, String)>> {
    let mut q = Query::select();
    q.columns([Alias::new("app"), Alias::new("name")])
        .from(Alias::new(LEDGER));
    let rows = tx
        .fetch(&q, &[ValueType::String, ValueType::String])
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| match (r.first(), r.get(1)) {
            (Some(Value::String(a)), Some(Value::String(n))) => Some((a.clone(), n.clone())),
            _ => None,
        })
        .collect())
}

/// The migrations recorded as applied.
pub async fn applied(db: &Database) -> Result<BTreeSet<(String, String)>> {
    ensure_ledger(db).await?;
    let mut tx = db.begin().await?;
    let out = read_ledger(&mut tx).await;
    tx.rollback().await?;
    out
}

impl MigrationSet {
    /// What `migrate` would do to reach `target`, given what is applied.
    pub fn plan(
        &self,
        target: &Target,
        applied: &BTreeSet<(String, String)>,
    ) -> Result<Vec<(Direction, &Migration)>> {
        let forwards_to = |keys: BTreeSet<(String, String)>| -> Vec<(Direction, &Migration)> {
            self.ordered()
                .filter(|m| keys.contains(&m.key()) && !applied.contains(&m.key()))
                .map(|m| (Direction::Forwards, m))
                .collect()
        };
        // Applied migrations that depend on any of `roots` (or are them), newest first.
        let backwards_from = |roots: Vec<(String, String)>| -> Vec<(Direction, &Migration)> {
            let mut out: Vec<(Direction, &Migration)> = self
                .ordered()
                .filter(|m| applied.contains(&m.key()))
                .filter(|m| {
                    let anc = self.ancestors(&m.key());
                    roots.iter().any(|r| anc.contains(r))
                })
                .map(|m| (Direction::Backwards, m))
                .collect();
            out.reverse();
            out
        };
        let unknown_app = |app: &str| {
            if self.apps().contains(app) {
                Ok(())
            } else {
                Err(DbError::Migration(format!("app `{app}` has no migrations")))
            }
        };
        Ok(match target {
            Target::Latest => forwards_to(self.migrations.iter().map(Migration::key).collect()),
            Target::App(app) => {
                unknown_app(app)?;
                let leaf = self.leaf(app).map(Migration::key).into_iter();
                forwards_to(leaf.flat_map(|k| self.ancestors(&k)).collect())
            }
            Target::Migration(app, name) => {
                unknown_app(app)?;
                let m = self.get(app, name).ok_or_else(|| {
                    DbError::Migration(format!("app `{app}` has no migration `{name}`"))
                })?;
                if applied.contains(&m.key()) {
                    let later: Vec<(String, String)> = self
                        .migrations
                        .iter()
                        .filter(|x| x.app == *app && x.name > *name)
                        .map(Migration::key)
                        .collect();
                    backwards_from(later)
                } else {
                    forwards_to(self.ancestors(&m.key()))
                }
            }
            Target::Zero(app) => {
                unknown_app(app)?;
                backwards_from(
                    self.migrations
                        .iter()
                        .filter(|m| m.app == *app)
                        .map(Migration::key)
                        .collect(),
                )
            }
        })
    }

    /// Takes the database to `target`. Each migration runs in its own
    /// transaction; a failure rolls that migration back entirely and stops.
    /// Returns what was done, as `("Applied" | "Unapplied", "app.name")`.
    pub async fn migrate(
        &self,
        db: &Database,
        target: &Target,
    ) -> Result<Vec<(Direction, String)>> {
        let mut conn = db.schema_conn().await?;
        let result = self.migrate_on(&mut conn, target).await;
        let released = conn.release().await;
        let done = result?;
        released?;
        Ok(done)
    }

    async fn migrate_on(
        &self,
        conn: &mut crate::SchemaConn,
        target: &Target,
    ) -> Result<Vec<(Direction, String)>> {
        let dialect = conn.dialect();
        let applied = {
            let mut tx = conn.begin().await?;
            // Created under the schema lock: concurrent CREATE TABLE IF NOT EXISTS
            // can still collide on PostgreSQL.
            let mut create = crate::dialect::create_table(&*dialect, &ledger_table(), LEDGER);
            create.if_not_exists();
            tx.execute(&RawSql(dialect.schema_sql(&create))).await?;
            let a = read_ledger(&mut tx).await?;
            tx.commit().await?;
            a
        };
        let plan = self.plan(target, &applied)?;
        let mut done = Vec::new();
        for (direction, m) in plan {
            let mut tx = conn.begin().await?;
            // Another instance may have got here first: the ledger inside the lock decides.
            let now = read_ledger(&mut tx).await?;
            let is_applied = now.contains(&m.key());
            if is_applied == (direction == Direction::Forwards) {
                tx.rollback().await?;
                continue;
            }
            let steps = self.steps(m, direction == Direction::Backwards, dialect)?;
            for step in steps {
                match step {
                    Step::Sql(sql) => {
                        tx.execute(&RawSql(sql)).await.map_err(|e| {
                            DbError::Migration(format!(
                                "{}.{} failed and was rolled back: {e}",
                                m.app, m.name
                            ))
                        })?;
                    }
                    Step::Rust(name) => {
                        let f = self.data_fn(&m.app, &name)?;
                        f(&mut tx).await.map_err(|e| {
                            DbError::Migration(format!(
                                "{}.{}: data migration `{name}` failed and was rolled back: {e}",
                                m.app, m.name
                            ))
                        })?;
                    }
                }
            }
            if let Some(check) = dialect.foreign_key_check() {
                // Enforcement is off during rebuilds; check what it would have checked.
                let broken = tx
                    .fetch(&RawSql(check.into()), &[ValueType::String])
                    .await?;
                if let Some(row) = broken.first() {
                    return Err(DbError::Migration(format!(
                        "{}.{} would leave rows in `{}` pointing at missing rows; rolled back",
                        m.app,
                        m.name,
                        row.first().map(Value::key_string).unwrap_or_default()
                    )));
                }
            }
            match direction {
                Direction::Forwards => {
                    let mut ins = Query::insert();
                    ins.into_table(Alias::new(LEDGER))
                        .columns([
                            Alias::new("app"),
                            Alias::new("name"),
                            Alias::new("applied_at"),
                        ])
                        .values([
                            Expr::val(crate::to_sea(&Value::String(m.app.clone()), dialect)),
                            Expr::val(crate::to_sea(&Value::String(m.name.clone()), dialect)),
                            Expr::val(crate::to_sea(&Value::DateTime(chrono::Utc::now()), dialect)),
                        ])
                        .map_err(|e| DbError::Migration(e.to_string()))?;
                    tx.execute(&ins).await?;
                }
                Direction::Backwards => {
                    let mut del = Query::delete();
                    del.from_table(Alias::new(LEDGER))
                        .and_where(Expr::col(Alias::new("app")).eq(m.app.as_str()))
                        .and_where(Expr::col(Alias::new("name")).eq(m.name.as_str()));
                    tx.execute(&del).await?;
                }
            }
            tx.commit().await?;
            done.push((direction, format!("{}.{}", m.app, m.name)));
        }
        Ok(done)
    }
}
