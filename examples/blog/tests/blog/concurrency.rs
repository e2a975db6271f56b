//! Writes under concurrency, on a file database with a real pool (or
//! PostgreSQL): SQLite write transactions take the write lock up front and
//! wait for it, every payload shows the request's own write, and a database
//! too busy to answer in time is `SERVICE_UNAVAILABLE`, never an internal error.

use std::{sync::Arc, time::Duration};

use graphloom::{
    db::{Database, DatabaseOptions},
    graphql::{Api, RequestContext},
};
use graphloom_test::fresh_database_url;
use serde_json::{Value as Json, json};

async fn api(options: DatabaseOptions) -> (Api, Database) {
    let (api, db, _) = api_at(options).await;
    (api, db)
}

/// The API over a fresh seeded database, and that database's URL.
async fn api_at(options: DatabaseOptions) -> (Api, Database, String) {
    graphloom_test::init_logging();
    let service = blog::service();
    let url = fresh_database_url().await;
    // Seeded over a connection of its own: the options under test (a short
    // statement timeout, say) are for the test's statements, not the setup's.
    let setup = Database::connect(&url).await.unwrap();
    blog::seed::seed(&service, &setup, &crate::common::seed_args(3, 5, 0, 2))
        .await
        .unwrap();
    setup.close().await;
    let db = Database::connect_with(&url, &options).await.unwrap();
    let api = service.api(db.clone(), Default::default()).unwrap();
    (api, db, url)
}

fn as_admin() -> RequestContext {
    RequestContext {
        principal: Some(crate::common::admin()),
        ..Default::default()
    }
}

async fn run(api: &Api, query: String) -> Json {
    run_as(api, query, as_admin()).await
}

async fn run_as(api: &Api, query: String, context: RequestContext) -> Json {
    let res = api.execute_as(query.as_str(), context).await;
    serde_json::to_value(&res).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_clients_writing_fifty_comments_each_all_land() {
    let (api, db) = api(DatabaseOptions::default()).await;
    let api = Arc::new(api);
    let mut tasks = Vec::new();
    for client in 0..32 {
        let api = Arc::clone(&api);
        // An ordinary user: the post's row rule is checked before the
        // INSERT, so each transaction reads before it writes.
        let user = RequestContext {
            principal: Some(graphloom_test::user(2 + client % 2)),
            ..Default::default()
        };
        tasks.push(tokio::spawn(async move {
            let mut failures = Vec::new();
            for i in 0..50 {
                let q = format!(
                    r#"mutation {{ createComment(input: {{ postId: "1", body: "c{client}-{i}" }}) {{ comment {{ id }} errors {{ code }} }} }}"#
                );
                let res = run_as(&api, q, user.clone()).await;
                if res.get("errors").is_some() || res["data"]["createComment"]["errors"] != json!([]) {
                    failures.push(res);
                }
            }
            failures
        }));
    }
    for t in tasks {
        let failures = t.await.unwrap();
        assert!(failures.is_empty(), "{failures:?}");
    }
    let total = run(&api, "{ comments { totalCount } }".into()).await;
    assert_eq!(total["data"]["comments"]["totalCount"], 1600);
    db.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_payload_shows_its_own_write() {
    let (api, db) = api(DatabaseOptions::default()).await;
    let api = Arc::new(api);
    // Tags update in one statement; posts are read first for validate_post.
    for (mutation, field, value) in [
        ("updateTag", "tag", "name"),
        ("updatePost", "post", "title"),
    ] {
        let mut tasks = Vec::new();
        for i in 0..32 {
            let api = Arc::clone(&api);
            tasks.push(tokio::spawn(async move {
                let q = format!(
                    r#"mutation {{ {mutation}(id: "1", input: {{ {value}: "v{i}" }}) {{ {field} {{ {value} }} errors {{ code }} }} }}"#
                );
                (i, run(&api, q).await)
            }));
        }
        for t in tasks {
            let (i, res) = t.await.unwrap();
            assert_eq!(
                res["data"][mutation][field][value],
                format!("v{i}"),
                "{mutation} {i}: {res}"
            );
        }
    }
    db.close().await;
}

#[tokio::test]
async fn a_database_too_busy_to_answer_is_service_unavailable() {
    // One connection, waited on for 100 ms: a held transaction starves the rest.
    let (api, db) = api(DatabaseOptions {
        max_connections: Some(1),
        busy_timeout: Duration::from_millis(100),
        acquire_timeout: Duration::from_millis(100),
        ..DatabaseOptions::default()
    })
    .await;
    let held = db.begin().await.unwrap();
    let res = run(
        &api,
        r#"mutation { createTag(input: { name: "x" }) { errors { code } } }"#.into(),
    )
    .await;
    assert_eq!(
        res["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE",
        "{res}"
    );
    let res = run(&api, "{ tags { totalCount } }".into()).await;
    assert_eq!(
        res["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE",
        "{res}"
    );
    assert_eq!(res["errors"][0]["extensions"]["retryAfter"], 1, "{res}");
    held.rollback().await.unwrap();
    let res = run(&api, "{ tags { totalCount } }".into()).await;
    assert_eq!(res["data"]["tags"]["totalCount"], 2, "{res}");
    db.close().await;
}

#[tokio::test]
async fn a_sqlite_write_lock_held_too_long_is_service_unavailable() {
    let (api, db) = api(DatabaseOptions {
        busy_timeout: Duration::from_millis(100),
        ..DatabaseOptions::default()
    })
    .await;
    // On SQLite a write transaction holds the database's write lock; on
    // PostgreSQL it locks nothing until it writes, so the tag goes in.
    let held = db.begin().await.unwrap();
    let res = run(
        &api,
        r#"mutation { createTag(input: { name: "x" }) { errors { code } } }"#.into(),
    )
    .await;
    if db.dialect().name() == "sqlite" {
        assert_eq!(
            res["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE",
            "{res}"
        );
    } else {
        assert_eq!(res["data"]["createTag"]["errors"], json!([]), "{res}");
    }
    held.rollback().await.unwrap();
    db.close().await;
}

#[tokio::test]
async fn a_connection_that_died_idle_costs_a_retry_not_the_request() {
    let (api, db, url) = api_at(DatabaseOptions {
        max_connections: Some(1),
        ..DatabaseOptions::default()
    })
    .await;
    if db.dialect().name() == "sqlite" {
        eprintln!("PostgreSQL only: an embedded SQLite connection cannot be closed by a server");
        return;
    }
    let read = r#"{ posts(first: 1) { nodes { id } } }"#.to_owned();
    let write = r#"mutation { createTag(input: { name: "after a restart" }) { errors { code } } }"#;
    for (what, query) in [("a read", read.as_str()), ("a write", write)] {
        // The pool's one connection is idle; the server ends it, as a
        // restart or an idle timeout in a proxy would.
        let res = run(&api, read.clone()).await;
        assert!(res.get("errors").is_none(), "{res}");
        let admin = Database::connect(&url).await.unwrap();
        let ended = admin
            .fetch(
                &graphloom::db::RawSql(format!(
                    "SELECT concat_ws(' / ', pg_terminate_backend(pid), application_name, \
                         state, left(query, 80)) FROM pg_stat_activity \
                         WHERE datname = current_database() AND pid <> pg_backend_pid() \
                         AND application_name <> '{}'",
                    graphloom::db::PROBE_NAME
                )),
                &[graphloom::meta::ValueType::String],
            )
            .await
            .unwrap();
        // Seen once with another connection beside the pool's: which one,
        // if it happens again.
        assert_eq!(ended.len(), 1, "{what}: {ended:?}");
        admin.close().await;
        let res = run(&api, query.to_owned()).await;
        assert!(res.get("errors").is_none(), "{what}: {res}");
    }
    // The probe's own connection ended: it connects again at once rather
    // than calling a server that is up unreachable.
    let admin = Database::connect(&url).await.unwrap();
    admin
        .execute(&graphloom::db::RawSql(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE application_name = '{}' AND pid <> pg_backend_pid()",
            graphloom::db::PROBE_NAME
        )))
        .await
        .unwrap();
    admin.close().await;
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        db.ready().await.unwrap();
        let res = run(&api, read.clone()).await;
        assert!(res.get("errors").is_none(), "{res}");
    }
    db.close().await;
}

#[tokio::test]
async fn a_statement_past_the_statement_timeout_is_cancelled_as_unavailable() {
    let (_, db) = api(DatabaseOptions {
        statement_timeout: Some(Duration::from_millis(100)),
        ..DatabaseOptions::default()
    })
    .await;
    // Five seconds of work on either dialect: PostgreSQL sleeps, SQLite
    // counts (a progress handler interrupts it).
    let slow = if db.dialect().name() == "sqlite" {
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000) \
         SELECT CAST(count(*) AS TEXT) FROM c"
    } else {
        "SELECT pg_sleep(5)::text"
    };
    let t = std::time::Instant::now();
    let err = db
        .fetch(
            &graphloom::db::RawSql(slow.into()),
            &[graphloom::meta::ValueType::String],
        )
        .await
        .unwrap_err();
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(err.kind(), graphloom::db::DbErrorKind::TimedOut, "{err}");
    let e = graphloom::query::Error::from(err);
    assert_eq!(e.code, graphloom::query::ErrorCode::ServiceUnavailable);
    // Each use of a connection has the whole limit anew: past the first
    // one's time, a statement of some 100,000 steps (long enough for
    // SQLite to look at its clock) runs.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let medium = if db.dialect().name() == "sqlite" {
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 100000) \
         SELECT CAST(count(*) AS TEXT) FROM c"
    } else {
        "SELECT count(*)::text FROM generate_series(1, 100000)"
    };
    let rows = db
        .fetch(
            &graphloom::db::RawSql(medium.into()),
            &[graphloom::meta::ValueType::String],
        )
        .await
        .unwrap();
    assert_eq!(rows, [[graphloom::meta::Value::String("100000".into())]]);
    db.close().await;
}

/// A request dropped while its `BEGIN` is on the wire (the client hung
/// up) must not hand its connection back inside a transaction: the next
/// borrower's reads would run in it and keep its locks, and after one
/// error every statement on that connection would fail until a write came
/// along. sqlx 0.9.0 leaked it on PostgreSQL (launchbadge/sqlx#4393).
#[tokio::test]
async fn a_transaction_cancelled_while_it_begins_leaves_its_connection_clean() {
    use graphloom::{
        db::{Dialect, RawSql},
        meta::{Value, ValueType},
    };
    graphloom_test::init_logging();
    let url = fresh_database_url().await;
    // One connection, so the next statement gets the one the cancelled
    // transaction had.
    let options = DatabaseOptions {
        max_connections: Some(1),
        ..DatabaseOptions::default()
    };
    // PostgreSQL through a relay on this test's own thread, so `BEGIN`'s
    // answer cannot reach the connection before the test has dropped it
    // (straight to the server, a busy machine's first poll sometimes
    // already read the answer, and nothing was cancelled).
    let url = if url.starts_with("postgres") {
        relay(&url).await
    } else {
        url
    };
    let db = Database::connect_with(&url, &options).await.unwrap();
    db.execute(&RawSql("SELECT 1".into())).await.unwrap();
    let mut cancelled = 0;
    for _ in 0..10 {
        // Back in the pool and idle (sqlx returns a connection from a task
        // of its own), so the next `BEGIN` takes it at once.
        let mut waited = 0;
        while db.connections() != (1, 1) {
            assert!(waited < 1000, "the connection never came back to the pool");
            tokio::time::sleep(Duration::from_millis(5)).await;
            waited += 1;
        }
        let mut begin = Box::pin(db.begin());
        // Taken from the pool in its first poll, so `BEGIN` is sent and the
        // wait is for its answer: the client hangs up now. (SQLite's
        // connection thread could answer within the poll, rarely.)
        match futures_util::poll!(&mut begin) {
            std::task::Poll::Ready(tx) => tx.unwrap().commit().await.unwrap(),
            std::task::Poll::Pending => {
                assert_eq!(db.connections(), (1, 0), "the BEGIN was not sent");
                drop(begin);
                cancelled += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        if db.dialect() == Dialect::POSTGRES {
            // Outside a transaction every statement starts its own, so
            // `now()` (the transaction's start) is the statement's time,
            // not the cancelled `BEGIN`'s of 20 ms ago.
            let rows = db
                .fetch(
                    &RawSql(
                        "SELECT now() < statement_timestamp() - interval '10 milliseconds'".into(),
                    ),
                    &[ValueType::Bool],
                )
                .await
                .unwrap();
            assert_eq!(
                rows[0][0],
                Value::Bool(false),
                "the connection came back inside the cancelled transaction"
            );
        } else {
            // A SQLite connection still in a transaction cannot begin one.
            db.begin().await.unwrap().commit().await.unwrap();
        }
    }
    if db.dialect() == Dialect::POSTGRES {
        assert_eq!(cancelled, 10, "a BEGIN was answered in its first poll");
    } else {
        assert!(cancelled > 0, "every BEGIN was answered in its first poll");
    }
}

/// A TCP relay to the PostgreSQL server of `url`, run by the calling
/// test's runtime; returns the URL through it.
async fn relay(url: &str) -> String {
    cuttable_relay(url).await.0
}

/// A write that runs alone (autocommit, as a create that is one INSERT
/// does) is repeated on a fresh connection only when PostgreSQL ended the
/// session before the write could commit: `57P01` ends a session mid-write
/// by rolling the write back, so one row is there. A connection that breaks
/// after the write reached the server is reported, never repeated: the
/// server finished and committed that write, and a second would be a
/// second row.
#[tokio::test]
async fn a_write_alone_is_repeated_only_when_the_server_ended_its_session_first() {
    use graphloom::{
        db::{DbErrorKind, RawSql},
        meta::{Value, ValueType},
    };
    graphloom_test::init_logging();
    let url = fresh_database_url().await;
    if !url.starts_with("postgres") {
        eprintln!("PostgreSQL only: an embedded SQLite connection cannot be closed by a server");
        return;
    }
    let admin = Database::connect(&url).await.unwrap();
    admin
        .execute(&RawSql("CREATE TABLE written (x int)".into()))
        .await
        .unwrap();
    let count = || async {
        admin
            .fetch(
                &RawSql("SELECT count(*)::int FROM written".into()),
                &[ValueType::I32],
            )
            .await
            .unwrap()[0][0]
            .clone()
    };
    // A write that takes a second; `RawSql` is not a read.
    let write = RawSql("INSERT INTO written SELECT 1 FROM pg_sleep(1) RETURNING x".into());
    // Until the server runs the write (a busy machine may take a while to
    // send it), so what follows happens while it runs: in its sleep, not
    // while the statement is prepared, which shows as active too.
    let running = || async {
        for _ in 0..500 {
            let rows = admin
                .fetch(
                    &RawSql(
                        "SELECT count(*)::int FROM pg_stat_activity \
                         WHERE query LIKE 'INSERT INTO written%' AND state = 'active' \
                         AND wait_event = 'PgSleep'"
                            .into(),
                    ),
                    &[ValueType::I32],
                )
                .await
                .unwrap();
            if rows[0][0] == Value::I32(1) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the write never reached the server");
    };
    let options = DatabaseOptions {
        max_connections: Some(1),
        // No probe: its connection would go through the relay too, and a
        // cut probe would refuse any retry on its own.
        probe_interval: None,
        ..DatabaseOptions::default()
    };

    // The server ends the session while the write sleeps: rolled back, and
    // done again on a fresh connection.
    let db = Database::connect_with(&url, &options).await.unwrap();
    let end = async {
        running().await;
        admin
            .execute(&RawSql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE query LIKE 'INSERT INTO written%' AND pid <> pg_backend_pid()"
                    .into(),
            ))
            .await
            .unwrap();
    };
    let (rows, ()) = tokio::join!(db.fetch(&write, &[ValueType::I32]), end);
    assert_eq!(rows.unwrap(), [[Value::I32(1)]]);
    assert_eq!(count().await, Value::I32(1));
    db.close().await;

    // The connection breaks (a relay in between is cut) after the write
    // reached the server: an error, and the server's one row.
    let (relayed, cut) = cuttable_relay(&url).await;
    let db = Database::connect_with(&relayed, &options).await.unwrap();
    let sever = async {
        running().await;
        cut.notify_waiters();
    };
    let (res, ()) = tokio::join!(db.fetch(&write, &[ValueType::I32]), sever);
    let err = res.unwrap_err();
    assert_eq!(err.kind(), DbErrorKind::Unreachable, "{err}");
    // The server runs the write to its end (it finds the client gone only
    // when it answers).
    let mut waited = 0;
    while count().await != Value::I32(2) {
        assert!(waited < 250, "the cut write never committed");
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += 1;
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(count().await, Value::I32(2), "the cut write was repeated");
    db.close().await;
    admin.close().await;
}

/// The server address of a PostgreSQL `url`, and the same URL through a
/// relay at an address.
fn relay_ends(url: &str) -> (String, impl Fn(std::net::SocketAddr) -> String) {
    let (scheme, rest) = url.split_once("://").unwrap();
    let (authority, path) = rest.split_once('/').unwrap();
    let (user, host) = authority.rsplit_once('@').unwrap();
    let upstream = if host.contains(':') {
        host.to_owned()
    } else {
        format!("{host}:5432")
    };
    let (scheme, user, path) = (scheme.to_owned(), user.to_owned(), path.to_owned());
    (upstream, move |addr| {
        format!("{scheme}://{user}@{addr}/{path}")
    })
}

/// A relay to the PostgreSQL server of `url` whose connections all close
/// when the returned `Notify` is notified; returns the URL through it.
async fn cuttable_relay(url: &str) -> (String, Arc<tokio::sync::Notify>) {
    let (upstream, through) = relay_ends(url);
    let cut = Arc::new(tokio::sync::Notify::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let cuts = Arc::clone(&cut);
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let (upstream, cut) = (upstream.clone(), Arc::clone(&cuts));
            tokio::spawn(async move {
                if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        () = cut.notified() => {}
                    }
                }
            });
        }
    });
    (through(addr), cut)
}

/// A connection whose statements all ran to their end goes back to the pool
/// without sqlx's check (a `Sync` and its answer, one round trip): after a
/// read nothing more goes to the server, and the next read runs on the same
/// connection, its session still the same.
#[tokio::test]
async fn a_read_gives_its_connection_back_without_a_round_trip() {
    use graphloom::{
        db::RawSql,
        meta::{Value, ValueType},
    };
    use std::sync::atomic::Ordering;
    graphloom_test::init_logging();
    let url = fresh_database_url().await;
    if !url.starts_with("postgres") {
        eprintln!("PostgreSQL only: an embedded SQLite connection sends nothing over a network");
        return;
    }
    let (relayed, sent) = counting_relay(&url).await;
    let options = DatabaseOptions {
        max_connections: Some(2),
        // No probe: its queries would be counted too.
        probe_interval: None,
        ..DatabaseOptions::default()
    };
    let db = Database::connect_with(&relayed, &options).await.unwrap();
    let pid = || async {
        db.fetch(&RawSql("SELECT pg_backend_pid()".into()), &[ValueType::I32])
            .await
            .unwrap()[0][0]
            .clone()
    };
    let first = pid().await;
    for _ in 0..3 {
        let after = sent.load(Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            sent.load(Ordering::SeqCst),
            after,
            "something went to the server after the read"
        );
        assert_eq!(pid().await, first, "the read ran on another connection");
    }
    assert!(matches!(first, Value::I32(_)));
    // A failed statement's connection goes back with sqlx's check.
    let failed = db
        .fetch(&RawSql("SELECT * FROM nowhere".into()), &[ValueType::I32])
        .await;
    assert!(failed.is_err());
    let after = sent.load(Ordering::SeqCst);
    let mut waited = 0;
    while sent.load(Ordering::SeqCst) == after {
        assert!(
            waited < 250,
            "the failed statement's connection was not checked"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += 1;
    }
    db.close().await;
}

/// A relay to the PostgreSQL server of `url` that counts the bytes clients
/// send; returns the URL through it and the count.
async fn counting_relay(url: &str) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (upstream, through) = relay_ends(url);
    let sent = Arc::new(AtomicUsize::new(0));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::clone(&sent);
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (upstream, count) = (upstream.clone(), Arc::clone(&count));
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                    return;
                };
                let (mut from_client, mut to_client) = client.into_split();
                let (mut from_server, mut to_server) = server.into_split();
                let up = async move {
                    let mut buf = vec![0; 8192];
                    while let Ok(n) = from_client.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                        // Counted before it is passed on: an answer comes after.
                        count.fetch_add(n, Ordering::SeqCst);
                        if to_server.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                };
                let down = tokio::io::copy(&mut from_server, &mut to_client);
                tokio::select! {
                    () = up => {}
                    _ = down => {}
                }
            });
        }
    });
    (through(addr), sent)
}

/// Listening and notifying (how instances tell each other of changes) take
/// connections as reads do: with every connection of the pool kept after
/// reads, a listener still gets one, a notification is still sent, and the
/// listener hears it.
#[tokio::test]
async fn notifications_get_a_connection_while_reads_keep_them() {
    use graphloom::{
        db::{RawSql, notify::Heard},
        meta::ValueType,
    };
    graphloom_test::init_logging();
    let url = fresh_database_url().await;
    if !url.starts_with("postgres") {
        eprintln!("PostgreSQL only: SQLite has no other instances to notify");
        return;
    }
    let options = DatabaseOptions {
        max_connections: Some(2),
        acquire_timeout: Duration::from_secs(3),
        ..DatabaseOptions::default()
    };
    let db = Database::connect_with(&url, &options).await.unwrap();
    let one = RawSql("SELECT 1".into());
    let read = || db.fetch(&one, &[ValueType::I32]);
    // Two at once: the pool opens both connections, and both are kept
    // (the second may still be opening as the reads end: it is kept once
    // open).
    let (a, b) = tokio::join!(read(), read());
    a.unwrap();
    b.unwrap();
    let mut waited = 0;
    while db.connections() != (2, 2) {
        assert!(waited < 100, "not both kept: {:?}", db.connections());
        tokio::time::sleep(Duration::from_millis(20)).await;
        waited += 1;
    }
    let mut listener = db
        .listen("graphloom_warm")
        .await
        .expect("a listener while every connection is kept")
        .expect("PostgreSQL listens");
    read().await.unwrap();
    db.notify("graphloom_warm", &["hello".to_owned()])
        .await
        .expect("a notification while the other connection is kept");
    let heard = tokio::time::timeout(Duration::from_secs(5), listener.recv())
        .await
        .expect("the notification arrives")
        .unwrap();
    assert_eq!(heard, Heard::Payload("hello".into()));
    read().await.unwrap();
}
