//! The steps of each [`Operation`]: statements built with sea-query where it
//! can express them, rendered by the dialect, whose hooks
//! ([`crate::SqlDialect::add_column`] …) decide how a table changes:
//! PostgreSQL alters in place; SQLite alters where `ALTER TABLE` can and
//! otherwise rebuilds the table by its documented procedure.

use sea_query::{Alias, Index, Table};

use crate::{
    DbError, Dialect, Result,
    dialect::{SchemaRef, create_index, create_table},
    schema::{ColumnType, Operation, ProjectState},
};

/// One step of an operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Sql(String),
    /// A Rust data migration, by its registered name (`name:backwards` to undo).
    Rust(String),
}

/// The steps of `op` on `dialect`, given the state before it.
pub fn forwards(op: &Operation, before: &ProjectState, dialect: Dialect) -> Result<Vec<Step>> {
    let mut after = before.clone();
    after.apply(op)?;
    let schema = |s: SchemaRef<'_>| dialect.schema_step(s);
    Ok(match op {
        Operation::CreateTable(t) => {
            let mut out = vec![schema(SchemaRef::CreateTable(&create_table(
                &*dialect, t, &t.name,
            )))];
            out.extend(
                t.indexes
                    .iter()
                    .map(|i| schema(SchemaRef::CreateIndex(&create_index(&t.name, i)))),
            );
            out
        }
        Operation::DropTable { table } => {
            let mut drop = Table::drop();
            drop.table(Alias::new(table));
            vec![schema(SchemaRef::DropTable(&drop))]
        }
        Operation::RenameTable { from, to } => dialect.rename_table(from, to, before)?,
        Operation::AddColumn {
            table,
            column,
            backfill,
        } => {
            if column.primary_key {
                return Err(DbError::Migration(format!(
                    "changing the primary key of `{table}` is not supported"
                )));
            }
            let fill = match (column.nullable, backfill, &column.default) {
                (true, _, _) => None,
                (false, Some(b), _) => Some(b),
                (false, None, Some(d)) => Some(d),
                (false, None, None) => {
                    return Err(DbError::Migration(format!(
                        "adding NOT NULL column `{}` to `{table}` needs a backfill value for existing rows",
                        column.name
                    )));
                }
            };
            dialect.add_column(table, column, fill, &after)?
        }
        Operation::DropColumn { table, column } => dialect.drop_column(table, column, &after)?,
        Operation::AlterColumn {
            table,
            column,
            backfill,
        } => {
            let old = before
                .table(table)?
                .column(&column.name)
                .ok_or_else(|| {
                    DbError::Migration(format!("no column `{}` in `{table}`", column.name))
                })?
                .clone();
            if old.primary_key != column.primary_key
                || (old.ty != column.ty
                    && (old.ty == ColumnType::AutoId || column.ty == ColumnType::AutoId))
            {
                return Err(DbError::Migration(format!(
                    "changing the primary key of `{table}` is not supported"
                )));
            }
            let fill = (!column.nullable && old.nullable)
                .then(|| backfill.as_ref().or(column.default.as_ref()))
                .flatten();
            if old.same_shape(column) {
                // Only the default changed: graphloom applies defaults, the column has none.
                return Ok(Vec::new());
            }
            dialect.alter_column(table, &old, column, fill, &after)?
        }
        Operation::RenameColumn { table, from, to } => {
            dialect.rename_column(table, from, to, before)?
        }
        Operation::AddIndex { table, index } => {
            vec![schema(SchemaRef::CreateIndex(&create_index(table, index)))]
        }
        Operation::DropIndex { name, .. } => {
            let mut drop = Index::drop();
            drop.name(name);
            vec![schema(SchemaRef::DropIndex(&drop))]
        }
        Operation::RunSql {
            sql: statements, ..
        } => statements.iter().cloned().map(Step::Sql).collect(),
        Operation::RunRust { name } => vec![Step::Rust(name.clone())],
    })
}

#[cfg(test)]
mod tests {
    use graphloom_meta::OnDelete;

    use super::*;
    use crate::schema::{ColumnState, IndexState, Reference, TableState};

    fn post() -> TableState {
        TableState {
            app: "blog".into(),
            name: "blog_post".into(),
            columns: vec![
                ColumnState::auto_id(),
                ColumnState::new("title", ColumnType::String { max_length: 200 }, false),
                ColumnState {
                    references: Some(Reference {
                        table: "blog_user".into(),
                        column: "id".into(),
                        on_delete: OnDelete::SetNull,
                    }),
                    ..ColumnState::new("author_id", ColumnType::I64, true)
                },
            ],
            indexes: vec![IndexState {
                name: "blog_post_title_uniq".into(),
                columns: vec!["title".into()],
                unique: true,
            }],
        }
    }

    fn sql(steps: Vec<Step>) -> Vec<String> {
        steps
            .into_iter()
            .map(|s| match s {
                Step::Sql(s) => s,
                Step::Rust(n) => format!("rust {n}"),
            })
            .collect()
    }

    fn with_post() -> ProjectState {
        let mut s = ProjectState::default();
        s.apply(&Operation::CreateTable(post())).unwrap();
        s
    }

    #[test]
    fn create_table_per_dialect() {
        let op = Operation::CreateTable(post());
        let empty = ProjectState::default();
        assert_eq!(
            sql(forwards(&op, &empty, Dialect::SQLITE).unwrap()),
            [
                r#"CREATE TABLE "blog_post" ( "id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "title" varchar(200) NOT NULL, "author_id" bigint, FOREIGN KEY ("author_id") REFERENCES "blog_user" ("id") ON DELETE SET NULL )"#,
                r#"CREATE UNIQUE INDEX "blog_post_title_uniq" ON "blog_post" ("title")"#,
            ]
        );
        assert_eq!(
            sql(forwards(&op, &empty, Dialect::POSTGRES).unwrap()),
            [
                r#"CREATE TABLE "blog_post" ( "id" bigint NOT NULL PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY, "title" varchar(200) NOT NULL, "author_id" bigint, CONSTRAINT "blog_post_author_id_fk" FOREIGN KEY ("author_id") REFERENCES "blog_user" ("id") ON DELETE SET NULL )"#,
                r#"CREATE UNIQUE INDEX "blog_post_title_uniq" ON "blog_post" ("title")"#,
            ]
        );
    }

    #[test]
    fn a_composite_key_is_the_tables_constraint() {
        let key = |name: &str| ColumnState {
            primary_key: true,
            ..ColumnState::new(name, ColumnType::I64, false)
        };
        let stock = TableState {
            app: "depot".into(),
            name: "depot_stock".into(),
            columns: vec![
                key("shelf_id"),
                key("item_id"),
                ColumnState::new("count", ColumnType::I32, false),
            ],
            indexes: Vec::new(),
        };
        let empty = ProjectState::default();
        let op = Operation::CreateTable(stock.clone());
        assert_eq!(
            sql(forwards(&op, &empty, Dialect::SQLITE).unwrap()),
            [
                r#"CREATE TABLE "depot_stock" ( "shelf_id" bigint NOT NULL, "item_id" bigint NOT NULL, "count" integer NOT NULL, PRIMARY KEY ("shelf_id", "item_id") )"#
            ]
        );
        assert_eq!(
            sql(forwards(&op, &empty, Dialect::POSTGRES).unwrap()),
            [
                r#"CREATE TABLE "depot_stock" ( "shelf_id" bigint NOT NULL, "item_id" bigint NOT NULL, "count" integer NOT NULL, PRIMARY KEY ("shelf_id", "item_id") )"#
            ]
        );
        // SQLite rebuilds a table to change a column: the key goes along.
        let mut before = ProjectState::default();
        before.apply(&op).unwrap();
        let alter = Operation::AlterColumn {
            table: "depot_stock".into(),
            column: ColumnState::new("count", ColumnType::I64, false),
            backfill: None,
        };
        let rebuilt = sql(forwards(&alter, &before, Dialect::SQLITE).unwrap());
        assert!(
            rebuilt[0].contains(r#"PRIMARY KEY ("shelf_id", "item_id")"#),
            "{rebuilt:?}"
        );
        // A column joining the key changes it: refused, as changing a key is.
        let add = Operation::AddColumn {
            table: "depot_stock".into(),
            column: key("bin_id"),
            backfill: Some(serde_json::json!(0)),
        };
        let err = forwards(&add, &before, Dialect::POSTGRES).unwrap_err();
        assert!(
            err.to_string().contains("changing the primary key"),
            "{err}"
        );
    }

    #[test]
    fn add_not_null_column_backfills() {
        let op = Operation::AddColumn {
            table: "blog_post".into(),
            column: ColumnState::new("views", ColumnType::I32, false),
            backfill: Some(serde_json::json!(0)),
        };
        assert_eq!(
            sql(forwards(&op, &with_post(), Dialect::POSTGRES).unwrap()),
            [
                r#"ALTER TABLE "blog_post" ADD COLUMN "views" integer NOT NULL DEFAULT (0::integer)"#,
                r#"ALTER TABLE "blog_post" ALTER COLUMN "views" DROP DEFAULT"#,
            ]
        );
        let sqlite = sql(forwards(&op, &with_post(), Dialect::SQLITE).unwrap());
        assert!(
            sqlite[0].starts_with(r#"CREATE TABLE "graphloom_new__blog_post""#),
            "{sqlite:?}"
        );
        assert_eq!(
            sqlite[1],
            r#"INSERT INTO "graphloom_new__blog_post" ("id", "title", "author_id", "views") SELECT "id", "title", "author_id", 0 FROM "blog_post""#
        );
        assert_eq!(
            &sqlite[2..4],
            [
                r#"DROP TABLE "blog_post""#,
                r#"ALTER TABLE "graphloom_new__blog_post" RENAME TO "blog_post""#
            ]
        );
        assert_eq!(
            sqlite[4],
            r#"CREATE UNIQUE INDEX "blog_post_title_uniq" ON "blog_post" ("title")"#
        );
        // A nullable column is a plain ADD COLUMN on SQLite.
        let op = Operation::AddColumn {
            table: "blog_post".into(),
            column: ColumnState::new("sub", ColumnType::Text, true),
            backfill: None,
        };
        assert_eq!(
            sql(forwards(&op, &with_post(), Dialect::SQLITE).unwrap()),
            [r#"ALTER TABLE "blog_post" ADD COLUMN "sub" text"#]
        );
        let op = Operation::AddColumn {
            table: "blog_post".into(),
            column: ColumnState::new("n", ColumnType::I32, false),
            backfill: None,
        };
        assert!(
            forwards(&op, &with_post(), Dialect::POSTGRES)
                .unwrap_err()
                .to_string()
                .contains("backfill")
        );
    }

    #[test]
    fn alter_column_per_dialect() {
        let op = Operation::AlterColumn {
            table: "blog_post".into(),
            column: ColumnState::new("title", ColumnType::Text, true),
            backfill: None,
        };
        assert_eq!(
            sql(forwards(&op, &with_post(), Dialect::POSTGRES).unwrap()),
            [
                r#"ALTER TABLE "blog_post" ALTER COLUMN "title" TYPE text USING "title"::text"#,
                r#"ALTER TABLE "blog_post" ALTER COLUMN "title" DROP NOT NULL"#,
            ]
        );
        let sqlite = sql(forwards(&op, &with_post(), Dialect::SQLITE).unwrap());
        assert_eq!(
            sqlite[1],
            r#"INSERT INTO "graphloom_new__blog_post" ("id", "title", "author_id") SELECT "id", CAST("title" AS text), "author_id" FROM "blog_post""#
        );
        // Only the default changed: no SQL at all.
        let mut title = post().columns[1].clone();
        title.default = Some(serde_json::json!("Untitled"));
        let op = Operation::AlterColumn {
            table: "blog_post".into(),
            column: title,
            backfill: None,
        };
        assert!(
            forwards(&op, &with_post(), Dialect::POSTGRES)
                .unwrap()
                .is_empty()
        );
        assert!(
            forwards(&op, &with_post(), Dialect::SQLITE)
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn renames_keep_constraint_names_in_step_on_postgres() {
        let op = Operation::RenameColumn {
            table: "blog_post".into(),
            from: "author_id".into(),
            to: "writer_id".into(),
        };
        assert_eq!(
            sql(forwards(&op, &with_post(), Dialect::POSTGRES).unwrap()),
            [
                r#"ALTER TABLE "blog_post" RENAME COLUMN "author_id" TO "writer_id""#,
                r#"ALTER TABLE "blog_post" RENAME CONSTRAINT "blog_post_author_id_fk" TO "blog_post_writer_id_fk""#,
            ]
        );
        let op = Operation::RenameTable {
            from: "blog_post".into(),
            to: "blog_article".into(),
        };
        assert_eq!(
            sql(forwards(&op, &with_post(), Dialect::SQLITE).unwrap()),
            [r#"ALTER TABLE "blog_post" RENAME TO "blog_article""#]
        );
    }

    #[test]
    fn every_operation_reverses() {
        let before = with_post();
        let ops = [
            Operation::AddColumn {
                table: "blog_post".into(),
                column: ColumnState::new("n", ColumnType::I32, true),
                backfill: None,
            },
            Operation::DropColumn {
                table: "blog_post".into(),
                column: "title".into(),
            },
            Operation::AlterColumn {
                table: "blog_post".into(),
                column: ColumnState::new("title", ColumnType::Text, true),
                backfill: None,
            },
            Operation::RenameColumn {
                table: "blog_post".into(),
                from: "title".into(),
                to: "headline".into(),
            },
            Operation::RenameTable {
                from: "blog_post".into(),
                to: "blog_article".into(),
            },
            Operation::DropIndex {
                table: "blog_post".into(),
                name: "blog_post_title_uniq".into(),
            },
            Operation::DropTable {
                table: "blog_post".into(),
            },
            Operation::RunSql {
                sql: vec!["SELECT 1".into()],
                reverse_sql: Some(vec!["SELECT 2".into()]),
            },
        ];
        for op in ops {
            let mut after = before.clone();
            after.apply(&op).unwrap();
            for undo in op.reverse(&before).unwrap() {
                after.apply(&undo).unwrap();
            }
            // Back to the same schema (a dropped column comes back at the end).
            let norm = |s: &ProjectState| {
                let mut s = s.clone();
                for t in s.tables.values_mut() {
                    t.columns.sort_by(|a, b| a.name.cmp(&b.name));
                    for c in &mut t.columns {
                        c.default = None;
                    }
                }
                s
            };
            assert_eq!(norm(&after), norm(&before), "{op:?}");
        }
        let irreversible = Operation::RunSql {
            sql: vec!["SELECT 1".into()],
            reverse_sql: None,
        };
        assert!(
            irreversible
                .reverse(&before)
                .unwrap_err()
                .to_string()
                .contains("irreversible")
        );
    }
}
