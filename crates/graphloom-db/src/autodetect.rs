//! The autodetector: the operations that take one [`ProjectState`] to another.
//! Like Django's, it compares two in-memory states and never reads the live
//! database. Renames cannot be told from a drop and an add by looking, so a
//! [`Questioner`] decides them, and supplies values for rows that a new NOT NULL
//! column must fill.

use std::collections::BTreeSet;

use crate::{
    DbError, Result,
    schema::{ColumnState, Operation, ProjectState, TableState},
};

/// Answers the questions a diff cannot answer alone.
pub trait Questioner {
    /// Was table `from` renamed to `to` (they have the same columns)?
    fn rename_table(&mut self, from: &str, to: &str) -> Result<bool>;
    /// Was column `from` of `table` renamed to `to` (same type and constraints)?
    fn rename_column(&mut self, table: &str, from: &str, to: &str) -> Result<bool>;
    /// A one-off value for existing rows of `column`, which becomes NOT NULL
    /// without a default. `why` says which change needs it.
    fn backfill(
        &mut self,
        table: &str,
        column: &ColumnState,
        why: &str,
    ) -> Result<serde_json::Value>;
}

/// Answers from flags only, for CI and scripts: an unanswered question is an error.
#[derive(Debug, Clone, Default)]
pub struct FlagQuestioner {
    /// `(table, from, to)` column renames and `("", from, to)` table renames.
    pub renames: Vec<(String, String, String)>,
    /// `(table, column, value)` backfills.
    pub defaults: Vec<(String, String, serde_json::Value)>,
}

impl Questioner for FlagQuestioner {
    fn rename_table(&mut self, from: &str, to: &str) -> Result<bool> {
        if self
            .renames
            .iter()
            .any(|(t, f, n)| t.is_empty() && f == from && n == to)
        {
            return Ok(true);
        }
        Err(DbError::Migration(format!(
            "table `{from}` was removed and `{to}` added with the same columns. If it was renamed, pass --rename-table {from}={to}; \
             if not, run makemigrations interactively to confirm dropping it"
        )))
    }

    fn rename_column(&mut self, table: &str, from: &str, to: &str) -> Result<bool> {
        if self
            .renames
            .iter()
            .any(|(t, f, n)| t == table && f == from && n == to)
        {
            return Ok(true);
        }
        Err(DbError::Migration(format!(
            "column `{table}.{from}` was removed and `{to}` added with the same type. If it was renamed, pass --rename {table}.{from}={to}; \
             if not, run makemigrations interactively to confirm dropping it"
        )))
    }

    fn backfill(
        &mut self,
        table: &str,
        column: &ColumnState,
        why: &str,
    ) -> Result<serde_json::Value> {
        self.defaults
            .iter()
            .find(|(t, c, _)| t == table && *c == column.name)
            .map(|(_, _, v)| v.clone())
            .ok_or_else(|| {
                DbError::Migration(format!(
                    "{why}: `{table}.{}` is NOT NULL without a default, so existing rows need a value. \
                     Give the field a default, make it Option, or pass --default {table}.{}=<json value>",
                    column.name, column.name
                ))
            })
    }
}

fn same_columns(a: &TableState, b: &TableState) -> bool {
    a.columns.len() == b.columns.len()
        && a.columns
            .iter()
            .all(|x| b.column(&x.name).is_some_and(|y| x.same_shape(y)))
}

/// Tables in an order where every table comes after those it references.
fn creation_order<'a>(
    tables: Vec<&'a TableState>,
    existing: &BTreeSet<String>,
) -> Vec<&'a TableState> {
    let mut done: BTreeSet<String> = existing.clone();
    let mut pending = tables;
    let mut out = Vec::new();
    while !pending.is_empty() {
        let before = pending.len();
        let mut rest = Vec::new();
        for t in pending {
            let ready = t.columns.iter().all(|c| {
                c.references
                    .as_ref()
                    .is_none_or(|r| r.table == t.name || done.contains(&r.table))
            });
            if ready {
                done.insert(t.name.clone());
                out.push(t);
            } else {
                rest.push(t);
            }
        }
        if rest.len() == before {
            // A cycle of references: both dialects accept the rest in one transaction
            // only on SQLite; PostgreSQL reports the missing table clearly.
            out.extend(rest);
            break;
        }
        pending = rest;
    }
    out
}

/// A state with columns and indexes in name order: field order is not a schema change.
fn normalized(s: &ProjectState) -> ProjectState {
    let mut s = s.clone();
    for t in s.tables.values_mut() {
        t.columns.sort_by(|a, b| a.name.cmp(&b.name));
        t.indexes.sort_by(|a, b| a.name.cmp(&b.name));
    }
    s
}

/// The operations from `from` to `to`, in an order that applies cleanly.
pub fn diff(
    from: &ProjectState,
    to: &ProjectState,
    q: &mut dyn Questioner,
) -> Result<Vec<Operation>> {
    let mut renamed_tables = Vec::new();
    let mut removed: Vec<&TableState> = from
        .tables
        .values()
        .filter(|t| !to.tables.contains_key(&t.name))
        .collect();
    let mut added: Vec<&TableState> = to
        .tables
        .values()
        .filter(|t| !from.tables.contains_key(&t.name))
        .collect();
    // Renamed tables: a removed and an added table with the same columns.
    let mut i = 0;
    while i < removed.len() {
        let r = removed[i];
        if let Some(pos) = added.iter().position(|a| same_columns(r, a))
            && q.rename_table(&r.name, &added[pos].name)?
        {
            renamed_tables.push((r.name.clone(), added[pos].name.clone()));
            added.remove(pos);
            removed.remove(i);
            continue;
        }
        i += 1;
    }
    let mut ops: Vec<Operation> = Vec::new();
    let mut state = from.clone();
    for (old, new) in &renamed_tables {
        let op = Operation::RenameTable {
            from: old.clone(),
            to: new.clone(),
        };
        state.apply(&op)?;
        ops.push(op);
    }
    // Indexes that go away or change, before the columns they cover change.
    let mut drops = Vec::new();
    for (name, t) in &state.tables {
        let Some(target) = to.tables.get(name) else {
            continue;
        };
        for i in &t.indexes {
            if !target.indexes.contains(i) {
                drops.push(Operation::DropIndex {
                    table: name.clone(),
                    name: i.name.clone(),
                });
            }
        }
    }
    for op in drops {
        state.apply(&op)?;
        ops.push(op);
    }
    let existing: BTreeSet<String> = state.tables.keys().cloned().collect();
    for t in creation_order(added, &existing) {
        let op = Operation::CreateTable(t.clone());
        state.apply(&op)?;
        ops.push(op);
    }
    // Columns of tables in both states.
    let common: Vec<String> = state
        .tables
        .keys()
        .filter(|k| to.tables.contains_key(*k))
        .cloned()
        .collect();
    for name in &common {
        let (cur, target) = (state.table(name)?.clone(), to.table(name)?);
        let mut gone: Vec<&ColumnState> = cur
            .columns
            .iter()
            .filter(|c| target.column(&c.name).is_none())
            .collect();
        let mut new: Vec<&ColumnState> = target
            .columns
            .iter()
            .filter(|c| cur.column(&c.name).is_none())
            .collect();
        let mut table_ops = Vec::new();
        let mut i = 0;
        while i < gone.len() {
            let g = gone[i];
            if let Some(pos) = new.iter().position(|n| n.same_shape(g))
                && q.rename_column(name, &g.name, &new[pos].name)?
            {
                table_ops.push(Operation::RenameColumn {
                    table: name.clone(),
                    from: g.name.clone(),
                    to: new[pos].name.clone(),
                });
                new.remove(pos);
                gone.remove(i);
                continue;
            }
            i += 1;
        }
        for c in new {
            let backfill = if c.nullable || c.default.is_some() {
                None
            } else {
                Some(q.backfill(name, c, "a new column")?)
            };
            table_ops.push(Operation::AddColumn {
                table: name.clone(),
                column: c.clone(),
                backfill,
            });
        }
        for c in &target.columns {
            if let Some(old) = cur.column(&c.name)
                && old != c
            {
                let backfill = if old.nullable && !c.nullable && c.default.is_none() {
                    Some(q.backfill(name, c, "a column that becomes NOT NULL")?)
                } else {
                    None
                };
                table_ops.push(Operation::AlterColumn {
                    table: name.clone(),
                    column: c.clone(),
                    backfill,
                });
            }
        }
        for g in gone {
            table_ops.push(Operation::DropColumn {
                table: name.clone(),
                column: g.name.clone(),
            });
        }
        for op in table_ops {
            state.apply(&op)?;
            ops.push(op);
        }
    }
    // New indexes, once their columns exist.
    for name in &common {
        let (cur, target) = (state.table(name)?.clone(), to.table(name)?);
        for i in &target.indexes {
            if !cur.indexes.contains(i) {
                let op = Operation::AddIndex {
                    table: name.clone(),
                    index: i.clone(),
                };
                state.apply(&op)?;
                ops.push(op);
            }
        }
    }
    // Dropped tables last, referring tables before the tables they refer to.
    let existing: BTreeSet<String> = BTreeSet::new();
    let mut dropped: Vec<&TableState> = creation_order(removed, &existing);
    dropped.reverse();
    for t in dropped {
        let op = Operation::DropTable {
            table: t.name.clone(),
        };
        state.apply(&op)?;
        ops.push(op);
    }
    if normalized(&state) != normalized(to) {
        return Err(DbError::Migration(
            "the autodetector could not express the change (this is a graphloom bug; please report it)".into(),
        ));
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use graphloom_meta::OnDelete;

    use super::*;
    use crate::schema::{ColumnType, IndexState, Reference};

    fn table(name: &str, columns: Vec<ColumnState>) -> TableState {
        TableState {
            app: "blog".into(),
            name: name.into(),
            columns,
            indexes: vec![],
        }
    }

    fn state(tables: Vec<TableState>) -> ProjectState {
        ProjectState {
            tables: tables.into_iter().map(|t| (t.name.clone(), t)).collect(),
        }
    }

    fn text(name: &str) -> ColumnState {
        ColumnState::new(name, ColumnType::Text, false)
    }

    fn user() -> TableState {
        table("blog_user", vec![ColumnState::auto_id(), text("name")])
    }

    fn post() -> TableState {
        table(
            "blog_post",
            vec![
                ColumnState::auto_id(),
                text("title"),
                ColumnState {
                    references: Some(Reference {
                        table: "blog_user".into(),
                        column: "id".into(),
                        on_delete: OnDelete::Cascade,
                    }),
                    ..ColumnState::new("author_id", ColumnType::I64, false)
                },
            ],
        )
    }

    /// Says yes to every rename and fills with 0.
    struct Yes;
    impl Questioner for Yes {
        fn rename_table(&mut self, _: &str, _: &str) -> Result<bool> {
            Ok(true)
        }
        fn rename_column(&mut self, _: &str, _: &str, _: &str) -> Result<bool> {
            Ok(true)
        }
        fn backfill(&mut self, _: &str, _: &ColumnState, _: &str) -> Result<serde_json::Value> {
            Ok(0.into())
        }
    }

    /// Says no to every rename.
    struct No;
    impl Questioner for No {
        fn rename_table(&mut self, _: &str, _: &str) -> Result<bool> {
            Ok(false)
        }
        fn rename_column(&mut self, _: &str, _: &str, _: &str) -> Result<bool> {
            Ok(false)
        }
        fn backfill(&mut self, _: &str, _: &ColumnState, _: &str) -> Result<serde_json::Value> {
            Ok("x".into())
        }
    }

    fn describe(ops: &[Operation]) -> Vec<String> {
        ops.iter().map(Operation::describe).collect()
    }

    #[test]
    fn create_and_delete_models_in_dependency_order() {
        let ops = diff(
            &ProjectState::default(),
            &state(vec![post(), user()]),
            &mut No,
        )
        .unwrap();
        assert_eq!(
            describe(&ops),
            ["Create table blog_user", "Create table blog_post"]
        );
        let ops = diff(
            &state(vec![post(), user()]),
            &ProjectState::default(),
            &mut No,
        )
        .unwrap();
        assert_eq!(
            describe(&ops),
            ["Drop table blog_post", "Drop table blog_user"]
        );
    }

    #[test]
    fn add_remove_and_alter_fields() {
        let from = state(vec![user(), post()]);
        let mut to_post = post();
        to_post
            .columns
            .push(ColumnState::new("subtitle", ColumnType::Text, true));
        to_post.columns.push(ColumnState {
            default: Some(0.into()),
            ..ColumnState::new("views", ColumnType::I32, false)
        });
        to_post
            .columns
            .push(ColumnState::new("score", ColumnType::I32, false));
        to_post.columns[1] = ColumnState::new("title", ColumnType::String { max_length: 80 }, true);
        let ops = diff(&from, &state(vec![user(), to_post.clone()]), &mut Yes).unwrap();
        assert_eq!(
            describe(&ops),
            [
                "Add column subtitle to blog_post",
                "Add column views to blog_post",
                "Add column score to blog_post",
                "Alter column title on blog_post"
            ]
        );
        // A NOT NULL column without a default asks for a backfill; one with a default does not.
        assert!(matches!(
            &ops[1],
            Operation::AddColumn { backfill: None, .. }
        ));
        assert!(matches!(&ops[2], Operation::AddColumn { backfill: Some(v), .. } if *v == 0));
        let err = diff(
            &from,
            &state(vec![user(), to_post]),
            &mut FlagQuestioner::default(),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("--default blog_post.score="),
            "{err}"
        );
        let mut fewer = post();
        fewer.columns.remove(1);
        let ops = diff(&from, &state(vec![user(), fewer]), &mut No).unwrap();
        assert_eq!(describe(&ops), ["Remove column title from blog_post"]);
    }

    #[test]
    fn defaults_null_and_references_are_alterations() {
        let from = state(vec![user(), post()]);
        let mut p = post();
        p.columns[1].default = Some("Untitled".into());
        assert_eq!(
            describe(&diff(&from, &state(vec![user(), p]), &mut No).unwrap()),
            ["Alter column title on blog_post"]
        );
        let mut p = post();
        p.columns[2].references.as_mut().unwrap().on_delete = OnDelete::Protect;
        assert_eq!(
            describe(&diff(&from, &state(vec![user(), p]), &mut No).unwrap()),
            ["Alter column author_id on blog_post"]
        );
        // NULL to NOT NULL needs a value for the NULLs.
        let mut nullable = post();
        nullable.columns[1].nullable = true;
        let ops = diff(&state(vec![user(), nullable]), &from, &mut Yes).unwrap();
        assert!(matches!(
            &ops[0],
            Operation::AlterColumn {
                backfill: Some(_),
                ..
            }
        ));
    }

    #[test]
    fn renames_are_asked_never_guessed() {
        let from = state(vec![user(), post()]);
        let mut renamed = post();
        renamed.columns[1].name = "headline".into();
        let to = state(vec![user(), renamed]);
        assert_eq!(
            describe(&diff(&from, &to, &mut Yes).unwrap()),
            ["Rename column title to headline on blog_post"]
        );
        assert_eq!(
            describe(&diff(&from, &to, &mut No).unwrap()),
            [
                "Add column headline to blog_post",
                "Remove column title from blog_post"
            ]
        );
        let err = diff(&from, &to, &mut FlagQuestioner::default()).unwrap_err();
        assert!(
            err.to_string()
                .contains("--rename blog_post.title=headline"),
            "{err}"
        );
        let mut flags = FlagQuestioner {
            renames: vec![("blog_post".into(), "title".into(), "headline".into())],
            ..Default::default()
        };
        assert_eq!(
            describe(&diff(&from, &to, &mut flags).unwrap()),
            ["Rename column title to headline on blog_post"]
        );

        let mut article = post();
        article.name = "blog_article".into();
        let to = state(vec![user(), article]);
        assert_eq!(
            describe(&diff(&from, &to, &mut Yes).unwrap()),
            ["Rename table blog_post to blog_article"]
        );
        assert_eq!(
            describe(&diff(&from, &to, &mut No).unwrap()),
            ["Create table blog_article", "Drop table blog_post"]
        );
        let err = diff(&from, &to, &mut FlagQuestioner::default()).unwrap_err();
        assert!(
            err.to_string()
                .contains("--rename-table blog_post=blog_article"),
            "{err}"
        );
    }

    #[test]
    fn indexes_and_unique_constraints() {
        let from = state(vec![user(), post()]);
        let mut p = post();
        p.indexes.push(IndexState {
            name: "blog_post_title_uniq".into(),
            columns: vec!["title".into()],
            unique: true,
        });
        let to = state(vec![user(), p]);
        assert_eq!(
            describe(&diff(&from, &to, &mut No).unwrap()),
            ["Add index blog_post_title_uniq on blog_post"]
        );
        assert_eq!(
            describe(&diff(&to, &from, &mut No).unwrap()),
            ["Remove index blog_post_title_uniq from blog_post"]
        );
        // An index whose column goes is dropped before the column.
        let mut gone = post();
        gone.columns.remove(1);
        assert_eq!(
            describe(&diff(&to, &state(vec![user(), gone]), &mut No).unwrap()),
            [
                "Remove index blog_post_title_uniq from blog_post",
                "Remove column title from blog_post"
            ]
        );
    }

    #[test]
    fn field_order_is_not_a_change() {
        let from = state(vec![user(), post()]);
        let mut p = post();
        p.columns.reverse();
        assert!(
            diff(&from, &state(vec![user(), p]), &mut No)
                .unwrap()
                .is_empty()
        );
    }
}
