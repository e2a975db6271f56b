//! `makemigrations`, `showmigrations` and `sqlmigrate`: the commands that write
//! and show migration files. `makemigrations` reads the files from disk (not the
//! copies embedded in the binary), so it always diffs against what is there.

use std::{
    collections::BTreeMap,
    io::{BufRead, IsTerminal, Write},
    path::{Path, PathBuf},
};

use anyhow::{Context, bail};
use graphloom_db::{
    DbError,
    autodetect::{FlagQuestioner, Questioner, diff},
    migrate::{Migration, MigrationSet},
    schema::{ColumnState, Operation, ProjectState},
};

use crate::{Service, service::UNMIGRATED};

/// Options of `makemigrations`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct MakeArgs {
    /// Only this app.
    pub app: Option<String>,
    /// The descriptive part of the file name (`0002_<name>`).
    #[arg(long)]
    pub name: Option<String>,
    /// Write an empty migration to fill with run_sql / run_rust operations.
    #[arg(long)]
    pub empty: bool,
    /// Exit with status 1 if the models have changes no migration records (for CI).
    #[arg(long)]
    pub check: bool,
    /// Never ask: renames and backfill values come only from the flags below.
    #[arg(long)]
    pub no_input: bool,
    /// A renamed column: `table.old=new`.
    #[arg(long = "rename", value_name = "TABLE.OLD=NEW")]
    pub renames: Vec<String>,
    /// A renamed table: `old=new`.
    #[arg(long = "rename-table", value_name = "OLD=NEW")]
    pub table_renames: Vec<String>,
    /// A value for existing rows of a new NOT NULL column: `table.column=<json>`.
    #[arg(long = "default", value_name = "TABLE.COLUMN=JSON")]
    pub defaults: Vec<String>,
}

fn split_pair<'a>(s: &'a str, what: &str) -> anyhow::Result<(&'a str, &'a str)> {
    s.split_once('=')
        .with_context(|| format!("`{s}` is not {what}"))
}

impl MakeArgs {
    fn flags(&self) -> anyhow::Result<FlagQuestioner> {
        let mut q = FlagQuestioner::default();
        for r in &self.renames {
            let (left, to) = split_pair(r, "table.old=new")?;
            let (table, from) = left
                .rsplit_once('.')
                .with_context(|| format!("`{r}` is not table.old=new"))?;
            q.renames.push((table.into(), from.into(), to.into()));
        }
        for r in &self.table_renames {
            let (from, to) = split_pair(r, "old=new")?;
            q.renames.push((String::new(), from.into(), to.into()));
        }
        for d in &self.defaults {
            let (left, value) = split_pair(d, "table.column=<json>")?;
            let (table, column) = left
                .rsplit_once('.')
                .with_context(|| format!("`{d}` is not table.column=<json>"))?;
            let value = serde_json::from_str(value)
                .unwrap_or_else(|_| serde_json::Value::String(value.into()));
            q.defaults.push((table.into(), column.into(), value));
        }
        Ok(q)
    }
}

/// Asks on the terminal; flags answer first.
struct Interactive {
    flags: FlagQuestioner,
}

impl Interactive {
    fn ask(&self, question: &str) -> Result<String, DbError> {
        let mut out = std::io::stdout();
        let _ = write!(out, "{question} ");
        let _ = out.flush();
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| DbError::Migration(format!("cannot read the answer: {e}")))?;
        Ok(line.trim().to_owned())
    }

    fn yes(&self, question: &str) -> Result<bool, DbError> {
        Ok(matches!(
            self.ask(&format!("{question} [y/N]"))?
                .to_lowercase()
                .as_str(),
            "y" | "yes"
        ))
    }
}

impl Questioner for Interactive {
    fn rename_table(&mut self, from: &str, to: &str) -> Result<bool, DbError> {
        if self.flags.rename_table(from, to).is_ok() {
            return Ok(true);
        }
        self.yes(&format!("Was table {from} renamed to {to}?"))
    }

    fn rename_column(&mut self, table: &str, from: &str, to: &str) -> Result<bool, DbError> {
        if self.flags.rename_column(table, from, to).is_ok() {
            return Ok(true);
        }
        self.yes(&format!("Was {table}.{from} renamed to {table}.{to}?"))
    }

    fn backfill(
        &mut self,
        table: &str,
        column: &ColumnState,
        why: &str,
    ) -> Result<serde_json::Value, DbError> {
        if let Ok(v) = self.flags.backfill(table, column, why) {
            return Ok(v);
        }
        let answer = self.ask(&format!(
            "{why}: {table}.{} is NOT NULL without a default. Give a one-off value for existing rows as JSON (e.g. 0, \"text\", true), or press Enter to stop:",
            column.name
        ))?;
        if answer.is_empty() {
            return Err(DbError::Migration("stopped: no value given".into()));
        }
        Ok(serde_json::from_str(&answer).unwrap_or(serde_json::Value::String(answer)))
    }
}

/// Migration files of an app read from its folder: `(name, json)`, in name order.
fn read_dir(dir: &Path) -> anyhow::Result<Vec<(String, String)>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "json")
            && let Some(stem) = path.file_stem().and_then(|s| s.to_str())
        {
            out.push((stem.to_owned(), std::fs::read_to_string(&path)?));
        }
    }
    out.sort();
    Ok(out)
}

/// The generated `mod.rs` that embeds an app's migration files.
fn module_source(app: &str, dir: &Path, names: &[String]) -> String {
    // DIR is written relative to the crate, so the file works on every checkout.
    let mut manifest = dir.to_path_buf();
    while !manifest.join("Cargo.toml").exists() && manifest.pop() {}
    let rel = dir
        .strip_prefix(&manifest)
        .unwrap_or(dir)
        .to_string_lossy()
        .replace('\\', "/");
    let mut s = format!(
        "//! Migrations of the `{app}` app, listed by `makemigrations`: edit the JSON\n\
         //! files, not this list.\n\n\
         /// The folder `makemigrations` writes to.\n\
         pub const DIR: &str = concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/{rel}\");\n\n\
         /// The migration files, embedded in the binary.\n\
         "
    );
    // Laid out as rustfmt lays it out (one line when it fits in 100
    // columns), so `cargo fmt --check` passes on a fresh file.
    let entries: Vec<String> = names
        .iter()
        .map(|n| format!("(\"{n}\", include_str!(\"{n}.json\"))"))
        .collect();
    let one_line = format!(
        "pub const FILES: &[(&str, &str)] = &[{}];\n",
        entries.join(", ")
    );
    if one_line.len() <= 101 {
        s.push_str(&one_line);
    } else {
        s.push_str("pub const FILES: &[(&str, &str)] = &[\n");
        for e in &entries {
            s.push_str(&format!("    {e},\n"));
        }
        s.push_str("];\n");
    }
    s
}

fn slug(ops: &[Operation], table_prefix: &str) -> String {
    let short = |t: &str| t.strip_prefix(table_prefix).unwrap_or(t).to_owned();
    match ops {
        [Operation::CreateTable(t)] => short(&t.name),
        [Operation::AddColumn { table, column, .. }] => format!("{}_{}", short(table), column.name),
        [Operation::DropColumn { table, column }] => format!("remove_{}_{column}", short(table)),
        [Operation::AlterColumn { table, column, .. }] => {
            format!("alter_{}_{}", short(table), column.name)
        }
        [Operation::RenameColumn { table, to, .. }] => format!("rename_{}_{to}", short(table)),
        [Operation::RenameTable { to, .. }] => format!("rename_{}", short(to)),
        [Operation::DropTable { table }] => format!("delete_{}", short(table)),
        _ => format!("auto_{}", chrono::Utc::now().format("%Y%m%d_%H%M")),
    }
}

pub(crate) fn makemigrations(service: &Service, args: &MakeArgs) -> anyhow::Result<i32> {
    let apps: Vec<(&str, &Path)> = service
        .apps()
        .iter()
        .filter_map(|a| a.migrations.map(|m| (a.name, Path::new(m.dir))))
        .collect();
    if let Some(app) = &args.app
        && !apps.iter().any(|(a, _)| a == app)
    {
        bail!(
            "app `{app}` has no migrations folder: create src/migrations/mod.rs with\n  \
             pub const DIR: &str = concat!(env!(\"CARGO_MANIFEST_DIR\"), \"/src/migrations\");\n  \
             pub const FILES: &[(&str, &str)] = &[];\n\
             and register it with App::new(\"{app}\").migrations(migrations::DIR, migrations::FILES)"
        );
    }
    // The state the files on disk describe.
    let mut on_disk = Vec::new();
    for (app, dir) in &apps {
        for (name, text) in read_dir(dir)? {
            on_disk.push(((*app).to_owned(), name, text));
        }
    }
    let set = service.migration_set_from(on_disk.clone())?;
    let mut from = ProjectState::default();
    for m in set.ordered().filter(|m| m.name != UNMIGRATED) {
        for op in &m.operations {
            from.apply(op)?;
        }
    }
    let target = ProjectState::from_registry(&service.registry()?);
    let migrated: Vec<&str> = apps.iter().map(|(a, _)| *a).collect();
    let to = ProjectState {
        tables: target
            .tables
            .iter()
            .filter(|(_, t)| migrated.contains(&t.app.as_str()))
            .map(|(k, t)| (k.clone(), t.clone()))
            .collect(),
    };
    let flags = args.flags()?;
    let interactive = !args.no_input && !args.check && std::io::stdin().is_terminal();
    let ops = if args.empty {
        Vec::new()
    } else if interactive {
        diff(&from, &to, &mut Interactive { flags })?
    } else {
        diff(&from, &to, &mut { flags })?
    };
    // Group by the app that owns each table.
    let mut by_app: BTreeMap<String, Vec<Operation>> = BTreeMap::new();
    for op in ops {
        let table = match &op {
            Operation::CreateTable(t) => t.name.clone(),
            Operation::DropTable { table }
            | Operation::AddColumn { table, .. }
            | Operation::DropColumn { table, .. }
            | Operation::AlterColumn { table, .. }
            | Operation::RenameColumn { table, .. }
            | Operation::AddIndex { table, .. }
            | Operation::DropIndex { table, .. } => table.clone(),
            Operation::RenameTable { to: t, .. } => t.clone(),
            Operation::RunSql { .. } | Operation::RunRust { .. } => continue,
        };
        let app = to
            .tables
            .get(&table)
            .or_else(|| from.tables.get(&table))
            .map(|t| t.app.clone())
            .unwrap_or_default();
        by_app.entry(app).or_default().push(op);
    }
    if let Some(app) = &args.app {
        by_app.retain(|a, _| a == app);
        if args.empty {
            by_app.insert(app.clone(), Vec::new());
        }
    } else if args.empty {
        bail!("--empty needs the app to write the migration for");
    }
    if args.check {
        if by_app.is_empty() {
            println!("No changes detected");
            return Ok(0);
        }
        println!("Changes that no migration records:");
        for (app, ops) in &by_app {
            for op in ops {
                println!("  {app}: {}", op.describe());
            }
        }
        println!("Run makemigrations and commit the files.");
        return Ok(1);
    }
    if by_app.is_empty() {
        println!("No changes detected");
        return Ok(0);
    }
    let mut leaves: BTreeMap<String, String> = BTreeMap::new();
    for app in set.apps() {
        if let Some(leaf) = set
            .ordered()
            .filter(|m| m.app == app && m.name != UNMIGRATED)
            .map(|m| m.name.clone())
            .max()
        {
            leaves.insert(app, leaf);
        }
    }
    // Write apps whose tables others refer to first, so dependencies name new files.
    let order: Vec<String> = {
        let mut names: Vec<String> = by_app.keys().cloned().collect();
        names.sort_by_key(|a| {
            by_app[a]
                .iter()
                .filter(|op| matches!(op, Operation::CreateTable(t) if t.columns.iter().any(|c| c.references.as_ref().is_some_and(|r| to.tables.get(&r.table).is_some_and(|rt| rt.app != *a)))))
                .count()
        });
        names
    };
    for app in order {
        let ops = by_app.remove(&app).unwrap_or_default();
        let dir: PathBuf = apps
            .iter()
            .find(|(a, _)| *a == app)
            .map(|(_, d)| d.to_path_buf())
            .with_context(|| format!("app `{app}` has no migrations folder"))?;
        let existing = read_dir(&dir)?;
        let number = existing
            .iter()
            .filter_map(|(n, _)| n.get(..4).and_then(|p| p.parse::<u32>().ok()))
            .max()
            .unwrap_or(0)
            + 1;
        let suffix = match (&args.name, number) {
            (Some(n), _) => n.clone(),
            (None, 1) => "initial".to_owned(),
            (None, _) if ops.is_empty() => "custom".to_owned(),
            (None, _) => slug(&ops, &format!("{app}_")),
        };
        let name = format!("{number:04}_{suffix}");
        let mut dependencies = Vec::new();
        for op in &ops {
            let refs: Vec<&str> = match op {
                Operation::CreateTable(t) => t
                    .columns
                    .iter()
                    .filter_map(|c| c.references.as_ref().map(|r| r.table.as_str()))
                    .collect(),
                Operation::AddColumn { column, .. } | Operation::AlterColumn { column, .. } => {
                    column.references.iter().map(|r| r.table.as_str()).collect()
                }
                _ => Vec::new(),
            };
            for table in refs {
                if let Some(other) = to.tables.get(table).map(|t| t.app.clone())
                    && other != app
                    && let Some(leaf) = leaves.get(&other)
                    && !dependencies.contains(&(other.clone(), leaf.clone()))
                {
                    dependencies.push((other.clone(), leaf.clone()));
                }
            }
        }
        let migration = Migration {
            app: app.clone(),
            name: name.clone(),
            dependencies,
            operations: ops,
        };
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let path = dir.join(format!("{name}.json"));
        std::fs::write(&path, migration.to_json())
            .with_context(|| format!("writing {}", path.display()))?;
        let mut names: Vec<String> = existing.into_iter().map(|(n, _)| n).collect();
        names.push(name.clone());
        std::fs::write(dir.join("mod.rs"), module_source(&app, &dir, &names))?;
        println!("Migrations for '{app}':\n  {}", path.display());
        for op in &migration.operations {
            println!("    - {}", op.describe());
        }
        leaves.insert(app, name);
    }
    println!("Rebuild the binary so `migrate` includes the new files.");
    Ok(0)
}

/// Warns when the migration folder holds files the binary does not embed.
pub(crate) fn warn_if_stale(service: &Service) {
    for app in service.apps() {
        let Some(m) = app.migrations else { continue };
        let Ok(on_disk) = read_dir(Path::new(m.dir)) else {
            continue;
        };
        let missing: Vec<&str> = on_disk
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| !m.files.iter().any(|(f, _)| f == n))
            .collect();
        if !missing.is_empty() {
            tracing::warn!(
                "{}: migrations on disk that this binary does not embed ({}); rebuild it",
                app.name,
                missing.join(", ")
            );
        }
    }
}

pub(crate) async fn showmigrations(
    service: &Service,
    db: &graphloom_db::Database,
) -> anyhow::Result<()> {
    let set: MigrationSet = service.migration_set()?;
    let applied = graphloom_db::migrate::applied(db).await?;
    for app in set.apps() {
        println!("{app}");
        for m in set.ordered().filter(|m| m.app == app) {
            let mark = if applied.contains(&m.key()) { "X" } else { " " };
            println!(" [{mark}] {}", m.name);
        }
    }
    Ok(())
}

pub(crate) fn sqlmigrate(
    service: &Service,
    dialect: graphloom_db::Dialect,
    app: &str,
    name: &str,
    backwards: bool,
) -> anyhow::Result<()> {
    let set = service.migration_set()?;
    let m = set
        .get(app, name)
        .with_context(|| format!("app `{app}` has no migration `{name}`"))?;
    for step in set.steps(m, backwards, dialect)? {
        match step {
            graphloom_db::ddl::Step::Sql(sql) => println!("{sql};"),
            graphloom_db::ddl::Step::Rust(name) => println!("-- Rust data migration {app}.{name}"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_module_is_laid_out_as_rustfmt_lays_it_out() {
        let dir = Path::new("/nowhere/src/shop/migrations");
        let one = module_source("shop", dir, &["0001_initial".into()]);
        assert!(
            one.ends_with(
                "pub const FILES: &[(&str, &str)] = &[(\"0001_initial\", include_str!(\"0001_initial.json\"))];\n"
            ),
            "{one}"
        );
        let none = module_source("shop", dir, &[]);
        assert!(none.ends_with("= &[];\n"), "{none}");
        let two = module_source("shop", dir, &["0001_initial".into(), "0002_price".into()]);
        assert!(
            two.ends_with(
                "= &[\n    (\"0001_initial\", include_str!(\"0001_initial.json\")),\n    (\"0002_price\", include_str!(\"0002_price.json\")),\n];\n"
            ),
            "{two}"
        );
    }
}
