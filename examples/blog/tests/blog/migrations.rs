//! Migrations end to end: three versions of an app's models, makemigrations
//! between them, migrate forwards and backwards with data in the tables, on
//! the dialect under test.

use std::path::Path;

use graphloom::{
    MakeArgs, Service,
    db::{Database, RawSql, migrate::Target},
    graphql::{Api, Config},
    meta::{Value, ValueType},
};
use serde_json::{Value as Json, json};

mod v1 {
    use graphloom::prelude::*;
    #[derive(Model)]
    #[model(app = "shelf")]
    pub struct Author {
        pub id: Id,
        #[field(max_length = 50)]
        pub name: String,
    }
    #[derive(Model)]
    #[model(app = "shelf")]
    pub struct Book {
        pub id: Id,
        #[field(max_length = 100)]
        pub title: String,
        pub author: ForeignKey<Author>,
    }
}

mod v2 {
    use graphloom::prelude::*;
    #[derive(Model)]
    #[model(app = "shelf")]
    pub struct Author {
        pub id: Id,
        #[field(max_length = 50)]
        pub full_name: String,
    }
    #[derive(Model)]
    #[model(app = "shelf")]
    pub struct Book {
        pub id: Id,
        #[field(max_length = 200, index)]
        pub title: String,
        pub author: ForeignKey<Author>,
        pub pages: i32,
        pub subtitle: Option<String>,
        #[field(max_length = 20, unique)]
        pub isbn: Option<String>,
    }
    #[derive(Model)]
    #[model(app = "shelf")]
    pub struct Shelf {
        pub id: Id,
        #[field(max_length = 30)]
        pub label: String,
        pub books: ManyToMany<Book>,
    }
}

mod v3 {
    use graphloom::prelude::*;
    #[derive(Model)]
    #[model(app = "shelf", table = "shelf_writer")]
    pub struct Author {
        pub id: Id,
        #[field(max_length = 50)]
        pub full_name: String,
    }
    #[derive(Model)]
    #[model(app = "shelf")]
    pub struct Book {
        pub id: Id,
        #[field(max_length = 200, index)]
        pub title: String,
        #[field(on_delete = protect)]
        pub author: ForeignKey<Author>,
        pub pages: i64,
        #[field(max_length = 20, unique)]
        pub isbn: Option<String>,
    }
}

/// The files of a folder, embedded as `App::migrations` expects.
fn embed(dir: &str) -> (&'static str, &'static [(&'static str, &'static str)]) {
    let mut files: Vec<(&'static str, &'static str)> = std::fs::read_dir(dir)
        .map(|it| {
            it.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .map(|p| {
                    let name: &'static str = Box::leak(
                        p.file_stem()
                            .unwrap()
                            .to_string_lossy()
                            .into_owned()
                            .into_boxed_str(),
                    );
                    let text: &'static str =
                        Box::leak(std::fs::read_to_string(&p).unwrap().into_boxed_str());
                    (name, text)
                })
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    (
        Box::leak(dir.to_owned().into_boxed_str()),
        Box::leak(files.into_boxed_slice()),
    )
}

fn service(version: u8, dir: &str) -> Service {
    let (dir, files) = embed(dir);
    let app = graphloom::App::new("shelf").migrations(dir, files);
    let app = match version {
        1 => app.model::<v1::Author>().model::<v1::Book>(),
        2 => app
            .model::<v2::Author>()
            .model::<v2::Book>()
            .model::<v2::Shelf>(),
        _ => app.model::<v3::Author>().model::<v3::Book>(),
    };
    Service::new("shelf").app(app.data_migration("shout", shout, Some(unshout)))
}

fn shout<'a>(
    tx: &'a mut graphloom::db::Tx<'_>,
) -> graphloom::db::migrate::BoxFuture<'a, graphloom::db::Result<()>> {
    Box::pin(async move {
        tx.execute(&RawSql("UPDATE shelf_book SET title = UPPER(title)".into()))
            .await
            .map(drop)
    })
}

fn unshout<'a>(
    tx: &'a mut graphloom::db::Tx<'_>,
) -> graphloom::db::migrate::BoxFuture<'a, graphloom::db::Result<()>> {
    Box::pin(async move {
        tx.execute(&RawSql("UPDATE shelf_book SET title = LOWER(title)".into()))
            .await
            .map(drop)
    })
}

fn make(version: u8, dir: &str, args: MakeArgs) -> Vec<String> {
    let code = service(version, dir)
        .makemigrations(&MakeArgs {
            no_input: true,
            ..args
        })
        .unwrap();
    assert_eq!(code, 0);
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    names.sort();
    names
}

/// Runs `q` as a superuser (writes need the model permissions).
async fn gql(api: &Api, q: &str) -> Json {
    let context = graphloom::graphql::RequestContext {
        principal: Some(graphloom_test::superuser(1)),
        ..Default::default()
    };
    let res = serde_json::to_value(
        api.execute_as(graphloom::graphql::async_graphql::Request::new(q), context)
            .await,
    )
    .unwrap();
    assert!(res.get("errors").is_none(), "{res:#}");
    res["data"].clone()
}

async fn count(db: &Database, table: &str) -> i64 {
    let rows = db
        .fetch(
            &RawSql(format!("SELECT COUNT(*) FROM \"{table}\"")),
            &[ValueType::I64],
        )
        .await
        .unwrap();
    match rows[0][0] {
        Value::I64(n) => n,
        _ => -1,
    }
}

async fn tables(db: &Database) -> Vec<String> {
    let sql = match db.dialect().name() {
        "sqlite" => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'shelf%' ORDER BY name"
        }
        _ => {
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' AND tablename LIKE 'shelf%' ORDER BY tablename"
        }
    };
    db.fetch(&RawSql(sql.into()), &[ValueType::String])
        .await
        .unwrap()
        .into_iter()
        .map(|r| r[0].key_string())
        .collect()
}

#[tokio::test]
async fn three_versions_forwards_backwards_and_again() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations").display().to_string();

    // Version 1, then its data.
    assert_eq!(make(1, &dir, MakeArgs::default()), ["0001_initial.json"]);
    let db = graphloom_test::fresh_database().await;
    let s1 = service(1, &dir);
    assert_eq!(
        s1.migrate(&db).await.unwrap(),
        ["Applied shelf.0001_initial"]
    );
    let api = s1.api(db.clone(), Config::default()).unwrap();
    gql(&api, r#"mutation { a: createAuthor(input: { name: "Ann" }) { errors { code } } b: createAuthor(input: { name: "Bo" }) { errors { code } } }"#).await;
    for (t, a) in [("dune", 1), ("emma", 2), ("ulysses", 1)] {
        gql(&api, &format!(r#"mutation {{ createBook(input: {{ title: "{t}", authorId: "{a}" }}) {{ errors {{ code }} }} }}"#)).await;
    }

    // Version 2: a rename must be confirmed, a NOT NULL column needs a value.
    let err = service(2, &dir)
        .makemigrations(&MakeArgs {
            no_input: true,
            ..Default::default()
        })
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("--rename shelf_author.name=full_name"),
        "{err}"
    );
    let names = make(
        2,
        &dir,
        MakeArgs {
            renames: vec!["shelf_author.name=full_name".into()],
            defaults: vec!["shelf_book.pages=0".into()],
            ..Default::default()
        },
    );
    assert_eq!(names.len(), 2);
    let second = names[1].trim_end_matches(".json").to_owned();
    let text = std::fs::read_to_string(Path::new(&dir).join(&names[1])).unwrap();
    assert!(
        text.contains(r#""op": "rename_column""#) && text.contains(r#""backfill": 0"#),
        "{text}"
    );
    let s2 = service(2, &dir);
    assert_eq!(
        s2.migrate(&db).await.unwrap(),
        [format!("Applied shelf.{second}")]
    );
    let api = s2.api(db.clone(), Config::default()).unwrap();
    let d = gql(
        &api,
        "{ books { nodes { title pages subtitle author { fullName } } } }",
    )
    .await;
    assert_eq!(
        d["books"]["nodes"],
        json!([
            { "title": "dune", "pages": 0, "subtitle": null, "author": { "fullName": "Ann" } },
            { "title": "emma", "pages": 0, "subtitle": null, "author": { "fullName": "Bo" } },
            { "title": "ulysses", "pages": 0, "subtitle": null, "author": { "fullName": "Ann" } },
        ]),
        "rows inserted before the migration keep their values"
    );
    gql(&api, r#"mutation { updateBook(id: "1", input: { pages: 412, subtitle: "s", isbn: "x1" }) { errors { code } } createShelf(input: { label: "top", books: { set: ["1", "2"] } }) { errors { code } } }"#).await;
    let d = gql(&api, r#"mutation { createBook(input: { title: "t", authorId: "1", pages: 1, isbn: "x1" }) { errors { field code } } }"#).await;
    assert_eq!(
        d["createBook"]["errors"],
        json!([{ "field": ["isbn"], "code": "UNIQUE" }]),
        "the new unique index holds"
    );

    // Version 3: a renamed table, a dropped model, a dropped column, a type change.
    let names = make(
        3,
        &dir,
        MakeArgs {
            table_renames: vec!["shelf_author=shelf_writer".into()],
            ..Default::default()
        },
    );
    assert_eq!(names.len(), 3);
    let s3 = service(3, &dir);
    assert_eq!(
        s3.makemigrations(&MakeArgs {
            check: true,
            ..Default::default()
        })
        .unwrap(),
        0,
        "nothing left to record"
    );
    s3.migrate(&db).await.unwrap();
    assert_eq!(tables(&db).await, ["shelf_book", "shelf_writer"]);
    let api = s3.api(db.clone(), Config::default()).unwrap();
    let d = gql(
        &api,
        "{ books { nodes { title pages isbn author { fullName } } } }",
    )
    .await;
    assert_eq!(
        d["books"]["nodes"][0],
        json!({ "title": "dune", "pages": "412", "isbn": "x1", "author": { "fullName": "Ann" } })
    );
    let d = gql(
        &api,
        r#"mutation { deleteAuthor(id: "1") { errors { code } } }"#,
    )
    .await;
    assert_eq!(
        d["deleteAuthor"]["errors"][0]["code"], "PROTECTED",
        "the altered foreign key protects"
    );

    // Back to version 2 with the data, then all the way down, then up again.
    let done = s3
        .migrate_to(&db, &Target::Migration("shelf".into(), second.clone()))
        .await
        .unwrap();
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(
        tables(&db).await,
        [
            "shelf_author",
            "shelf_book",
            "shelf_shelf",
            "shelf_shelf_books"
        ]
    );
    let api = s2.api(db.clone(), Config::default()).unwrap();
    let d = gql(
        &api,
        r#"{ book(id: "1") { title pages subtitle author { fullName } } }"#,
    )
    .await;
    assert_eq!(
        d["book"],
        json!({ "title": "dune", "pages": 412, "subtitle": null, "author": { "fullName": "Ann" } })
    );
    s3.migrate_to(&db, &Target::Zero("shelf".into()))
        .await
        .unwrap();
    assert!(tables(&db).await.is_empty());
    assert!(
        graphloom::db::migrate::applied(&db)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(s3.migrate(&db).await.unwrap().len(), 3);
    assert_eq!(tables(&db).await, ["shelf_book", "shelf_writer"]);
    db.close().await;
}

#[tokio::test]
async fn data_survive_a_rebuild_of_a_large_table() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations").display().to_string();
    make(1, &dir, MakeArgs::default());
    let db = graphloom_test::fresh_database().await;
    service(1, &dir).migrate(&db).await.unwrap();
    db.execute(&RawSql(
        "INSERT INTO shelf_author (name) VALUES ('Ann')".into(),
    ))
    .await
    .unwrap();
    let series = match db.dialect().name() {
        "postgres" => {
            "INSERT INTO shelf_book (title, author_id) SELECT 'book ' || n, 1 FROM generate_series(1, 100000) AS n"
        }
        _ => {
            "WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 100000) INSERT INTO shelf_book (title, author_id) SELECT 'book ' || n, 1 FROM s"
        }
    };
    db.execute(&RawSql(series.into())).await.unwrap();
    make(
        2,
        &dir,
        MakeArgs {
            renames: vec!["shelf_author.name=full_name".into()],
            defaults: vec!["shelf_book.pages=7".into()],
            ..Default::default()
        },
    );
    service(2, &dir).migrate(&db).await.unwrap();
    assert_eq!(count(&db, "shelf_book").await, 100_000);
    let rows = db
        .fetch(
            &RawSql("SELECT title, pages FROM shelf_book WHERE id = 54321".into()),
            &[ValueType::String, ValueType::I32],
        )
        .await
        .unwrap();
    assert_eq!(
        rows,
        vec![vec![Value::String("book 54321".into()), Value::I32(7)]]
    );
    // And back: the column goes, the rows stay.
    let s2 = service(2, &dir);
    s2.migrate_to(
        &db,
        &Target::Migration("shelf".into(), "0001_initial".into()),
    )
    .await
    .unwrap();
    assert_eq!(count(&db, "shelf_book").await, 100_000);
    db.close().await;
}

#[tokio::test]
async fn run_sql_and_rust_data_migrations_apply_and_reverse() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations").display().to_string();
    make(1, &dir, MakeArgs::default());
    let names = make(
        1,
        &dir,
        MakeArgs {
            app: Some("shelf".into()),
            empty: true,
            name: Some("shout".into()),
            ..Default::default()
        },
    );
    assert_eq!(names[1], "0002_shout.json");
    let path = Path::new(&dir).join(&names[1]);
    let mut m: Json = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    m["operations"] = json!([
        { "op": "run_sql", "sql": ["INSERT INTO shelf_author (name) VALUES ('Sql')"], "reverse_sql": ["DELETE FROM shelf_author WHERE name = 'Sql'"] },
        { "op": "run_rust", "name": "shout" }
    ]);
    std::fs::write(&path, serde_json::to_string_pretty(&m).unwrap()).unwrap();
    let db = graphloom_test::fresh_database().await;
    let s = service(1, &dir);
    s.migrate_to(
        &db,
        &Target::Migration("shelf".into(), "0001_initial".into()),
    )
    .await
    .unwrap();
    db.execute(&RawSql(
        "INSERT INTO shelf_author (name) VALUES ('Ann')".into(),
    ))
    .await
    .unwrap();
    db.execute(&RawSql(
        "INSERT INTO shelf_book (title, author_id) VALUES ('dune', 1)".into(),
    ))
    .await
    .unwrap();
    s.migrate(&db).await.unwrap();
    let title = |db: Database| async move {
        db.fetch(
            &RawSql("SELECT title FROM shelf_book".into()),
            &[ValueType::String],
        )
        .await
        .unwrap()[0][0]
            .key_string()
    };
    assert_eq!(title(db.clone()).await, "DUNE");
    assert_eq!(count(&db, "shelf_author").await, 2);
    s.migrate_to(
        &db,
        &Target::Migration("shelf".into(), "0001_initial".into()),
    )
    .await
    .unwrap();
    assert_eq!(title(db.clone()).await, "dune");
    assert_eq!(count(&db, "shelf_author").await, 1);
    // sqlmigrate shows the SQL and the Rust step.
    let set = s.migration_set().unwrap();
    let steps = set
        .steps(set.get("shelf", "0002_shout").unwrap(), false, db.dialect())
        .unwrap();
    assert_eq!(steps.len(), 2);
    db.close().await;
}

#[tokio::test]
async fn a_failing_migration_leaves_the_database_as_it_was() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations").display().to_string();
    make(1, &dir, MakeArgs::default());
    make(
        1,
        &dir,
        MakeArgs {
            app: Some("shelf".into()),
            empty: true,
            name: Some("broken".into()),
            ..Default::default()
        },
    );
    let path = Path::new(&dir).join("0002_broken.json");
    let m = json!({ "dependencies": [], "operations": [
        { "op": "create_table", "app": "shelf", "name": "shelf_tmp", "columns": [{ "name": "id", "type": "auto_id", "nullable": false, "primary_key": true }], "indexes": [] },
        { "op": "run_sql", "sql": ["INSERT INTO shelf_missing VALUES (1)"] }
    ]});
    std::fs::write(&path, serde_json::to_string_pretty(&m).unwrap()).unwrap();
    let db = graphloom_test::fresh_database().await;
    let s = service(1, &dir);
    let err = s.migrate(&db).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("0002_broken failed and was rolled back"),
        "{err}"
    );
    assert_eq!(
        tables(&db).await,
        ["shelf_author", "shelf_book"],
        "0001 stays, 0002 left nothing"
    );
    let applied = graphloom::db::migrate::applied(&db).await.unwrap();
    assert_eq!(applied.len(), 1);
    // Irreversible: no reverse_sql.
    std::fs::write(
        &path,
        serde_json::to_string_pretty(
            &json!({ "operations": [{ "op": "run_sql", "sql": ["SELECT 1"] }] }),
        )
        .unwrap(),
    )
    .unwrap();
    let s = service(1, &dir);
    s.migrate(&db).await.unwrap();
    let err = s
        .migrate_to(&db, &Target::Zero("shelf".into()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("irreversible"), "{err}");
    db.close().await;
}

#[tokio::test]
async fn two_instances_migrating_at_once_apply_each_migration_once() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations").display().to_string();
    make(1, &dir, MakeArgs::default());
    make(
        2,
        &dir,
        MakeArgs {
            renames: vec!["shelf_author.name=full_name".into()],
            defaults: vec!["shelf_book.pages=0".into()],
            ..Default::default()
        },
    );
    let url = graphloom_test::fresh_database_url().await;
    let (a, b) = (
        Database::connect(&url).await.unwrap(),
        Database::connect(&url).await.unwrap(),
    );
    let s = service(2, &dir);
    let (ra, rb) = tokio::join!(s.migrate(&a), s.migrate(&b));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    assert_eq!(
        ra.len() + rb.len(),
        2,
        "each migration applied once: {ra:?} {rb:?}"
    );
    assert_eq!(count(&a, "graphloom_migrations").await, 2);
    a.close().await;
    b.close().await;
}

#[test]
fn the_blog_migrations_match_its_models() {
    let code = blog::service()
        .makemigrations(&MakeArgs {
            check: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        code, 0,
        "run `cargo run -p blog -- makemigrations` and commit the files"
    );
}

mod loans {
    use graphloom::prelude::*;
    #[derive(Model)]
    #[model(app = "loans")]
    pub struct Loan {
        pub id: Id,
        pub book: ForeignKey<super::v1::Book>,
    }
}

#[tokio::test]
async fn migrations_depend_on_other_apps_migrations() {
    let tmp = tempfile::tempdir().unwrap();
    let shelf_dir = tmp.path().join("shelf").display().to_string();
    let loans_dir = tmp.path().join("loans").display().to_string();
    let build = || {
        let (ld, lf) = embed(&loans_dir);
        service(1, &shelf_dir).app(
            graphloom::App::new("loans")
                .migrations(ld, lf)
                .model::<loans::Loan>(),
        )
    };
    assert_eq!(
        build()
            .makemigrations(&MakeArgs {
                no_input: true,
                ..Default::default()
            })
            .unwrap(),
        0
    );
    let loans: Json = serde_json::from_str(
        &std::fs::read_to_string(Path::new(&loans_dir).join("0001_initial.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(loans["dependencies"], json!([["shelf", "0001_initial"]]));
    let db = graphloom_test::fresh_database().await;
    let done = build().migrate(&db).await.unwrap();
    assert_eq!(
        done,
        ["Applied shelf.0001_initial", "Applied loans.0001_initial"]
    );
    // Unapplying the shelf app takes the loans app with it, dependents first.
    let done = build()
        .migrate_to(&db, &Target::Zero("shelf".into()))
        .await
        .unwrap();
    assert_eq!(
        done,
        [
            "Unapplied loans.0001_initial",
            "Unapplied shelf.0001_initial"
        ]
    );
    db.close().await;
}
