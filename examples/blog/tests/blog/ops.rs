//! Operating the service: the real `blog` binary through a database outage
//! (a PostgreSQL cluster of the test's own, stopped and started again under
//! write load) and through a graceful stop.

use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use http_body_util::Full;
use hyper::{Request, body::Bytes};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use serde_json::{Value, json};

use crate::http::{Http, Server, send, start_at};

const SECRET: &str = "an-ops-test-secret-of-enough-bytes";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"))
}

/// A PostgreSQL cluster of this test's own (the suite's shared one must
/// not go down under the other tests), on 127.0.0.1, from Debian's
/// binaries, which `scripts/test.sh` installs.
pub(crate) struct Cluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
}

impl Cluster {
    pub(crate) fn start() -> Cluster {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|p| p.join("pg_ctl").exists())
            .max()
            .expect("PostgreSQL is not installed (scripts/test.sh installs it)");
        let dir = tempfile::tempdir().unwrap();
        if is_root() {
            assert!(
                Command::new("chown")
                    .args(["postgres:postgres", &dir.path().display().to_string()])
                    .status()
                    .unwrap()
                    .success()
            );
        }
        let cluster = Cluster {
            bin,
            dir,
            port: free_port(),
        };
        let data = cluster.data();
        cluster.pg(&[
            "initdb",
            "-D",
            &data,
            "-A",
            "trust",
            "-U",
            "postgres",
            "--no-sync",
        ]);
        cluster.up();
        cluster
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// Runs one of PostgreSQL's programs, as the `postgres` user when root.
    fn pg(&self, args: &[&str]) {
        let program = self.bin.join(args[0]).display().to_string();
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", &program]);
            c
        } else {
            Command::new(&program)
        };
        let out = cmd.args(&args[1..]).stdin(Stdio::null()).output().unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts the server and waits until it accepts connections. No
    /// `synchronous_commit = off` here: a commit it acknowledged must
    /// survive the immediate stop.
    fn up(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log").display().to_string();
        let data = self.data();
        self.pg(&[
            "pg_ctl", "-D", &data, "-l", &log, "-w", "-o", &opts, "start",
        ]);
    }

    /// Stops the server as a crash would (no checkpoint, connections cut).
    fn kill(&self) {
        let data = self.data();
        self.pg(&["pg_ctl", "-D", &data, "-m", "immediate", "-w", "stop"]);
    }

    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data();
        let program = self.bin.join("pg_ctl").display().to_string();
        let mut cmd = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--", &program]);
            c
        } else {
            Command::new(&program)
        };
        let _ = cmd
            .args(["-D", &data, "-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// `blog serve` over `url`, seeded (the test's own secret signs tokens).
async fn serve(url: &str, env: &[(&str, &str)]) -> (Server, Http) {
    let mut env = env.to_vec();
    env.push(("GRAPHLOOM_JWT_SECRET", SECRET));
    env.push(("RUST_LOG", "warn"));
    start_at(url, None, &[], &env).await
}

async fn status(c: &Http, base: &str, path: &str) -> u16 {
    match c.get(format!("{base}{path}").parse().unwrap()).await {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

fn token(user: &str) -> String {
    use graphloom::auth_core::token::{Issuer, SigningKey};
    let issuer = Issuer::new(
        SigningKey::hs256(SECRET.as_bytes()).unwrap(),
        "graphloom",
        "blog",
        3600,
    );
    issuer.issue(user, Vec::new(), false, false).unwrap().0
}

fn comment(base: &str, token: &str, body: &str) -> Request<Full<Bytes>> {
    let q = json!({
        "query": "mutation($b: String!) { createComment(input: { postId: \"1\", body: $b }) { comment { id } errors { code } } }",
        "variables": { "b": body },
    });
    Request::post(format!("{base}/graphql"))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(Bytes::from(q.to_string())))
        .unwrap()
}

/// One write's outcome as the client saw it.
struct Write {
    sent: Instant,
    took: Duration,
    status: u16,
    body: Value,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_outage_fails_fast_and_loses_no_acknowledged_write() {
    let pg = Cluster::start();
    let (blog, c) = serve(&pg.url(), &[]).await;
    let token = token("2");
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(Mutex::new(Vec::<Write>::new()));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (c, base, token) = (c.clone(), blog.base.clone(), token.clone());
        let (stop, writes) = (Arc::clone(&stop), Arc::clone(&writes));
        writers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let sent = Instant::now();
                let (status, _, body) =
                    send(&c, comment(&base, &token, &format!("w{w}-{n}"))).await;
                let took = sent.elapsed();
                writes.lock().unwrap().push(Write {
                    sent,
                    took,
                    status,
                    body,
                });
                // A failing service answers at once; do not spin on it.
                if status != 200 {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }));
    }
    // Readiness and liveness, every 50 ms.
    let probes = Arc::new(Mutex::new(Vec::<(Instant, u16, u16)>::new()));
    let prober = {
        let (c, base, stop, probes) = (
            c.clone(),
            blog.base.clone(),
            Arc::clone(&stop),
            Arc::clone(&probes),
        );
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let at = Instant::now();
                let ready = status(&c, &base, "/readyz").await;
                let live = status(&c, &base, "/healthz").await;
                probes.lock().unwrap().push((at, ready, live));
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };

    tokio::time::sleep(Duration::from_secs(1)).await;
    let killed = Instant::now();
    pg.kill();
    tokio::time::sleep(Duration::from_secs(3)).await;
    // While it is down, a failed request says when to come back.
    let res = c
        .request(comment(&blog.base, &token, "retry later"))
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["retry-after"], "1");
    // `pg_ctl start -w` returns after the server accepts connections, so
    // writes may succeed before `back`: the outage ends at `restarting`.
    let restarting = Instant::now();
    pg.up();
    let back = Instant::now();
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    prober.await.unwrap();

    // The tasks are done: take what they recorded.
    let probes = std::mem::take(&mut *probes.lock().unwrap());
    let first = |from: Instant, want: u16| {
        probes
            .iter()
            .find(|(at, ready, _)| *at >= from && *ready == want)
            .map(|(at, ..)| at.duration_since(from))
    };
    let down_after = first(killed, 503).expect("readiness never turned 503");
    let up_after = first(back, 200).expect("readiness never came back");
    eprintln!("readiness: 503 {down_after:?} after the kill, 200 {up_after:?} after the restart");
    assert!(down_after < Duration::from_secs(1), "{down_after:?}");
    assert!(up_after < Duration::from_secs(1), "{up_after:?}");
    assert!(
        probes.iter().all(|(_, _, live)| *live == 200),
        "liveness does not follow the database"
    );

    let writes = std::mem::take(&mut *writes.lock().unwrap());
    let slowest = writes.iter().map(|w| w.took).max().unwrap();
    let failed: Vec<&Write> = writes.iter().filter(|w| w.status != 200).collect();
    let during: Vec<&Write> = writes
        .iter()
        .filter(|w| w.sent > killed + Duration::from_secs(1) && w.sent + w.took < restarting)
        .collect();
    eprintln!(
        "{} writes, {} failed, slowest {slowest:?}; {} sent while the database was down",
        writes.len(),
        failed.len(),
        during.len()
    );
    // The acquire timeout is 10 s; nothing waits for it.
    assert!(slowest < Duration::from_secs(2), "{slowest:?}");
    assert!(!during.is_empty(), "no write was sent during the outage");
    for w in &during {
        assert_eq!(w.status, 503, "sent during the outage: {}", w.body);
    }
    for w in &failed {
        assert_eq!(w.status, 503, "{}", w.body);
        assert_eq!(
            w.body["errors"][0]["extensions"]["code"], "SERVICE_UNAVAILABLE",
            "{}",
            w.body
        );
    }
    assert!(
        writes.iter().any(|w| w.sent > back && w.status == 200),
        "writes resumed"
    );

    // Every write the service acknowledged is in the table.
    let acked: Vec<i64> = writes
        .iter()
        .filter(|w| w.status == 200 && w.body["data"]["createComment"]["errors"] == json!([]))
        .map(|w| {
            w.body["data"]["createComment"]["comment"]["id"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap()
        })
        .collect();
    assert!(acked.len() > 10, "{} acknowledged", acked.len());
    let db = graphloom::db::Database::connect(&pg.url()).await.unwrap();
    let stored: std::collections::HashSet<i64> = db
        .fetch(
            &graphloom::db::RawSql("SELECT id FROM blog_comment".into()),
            &[graphloom::meta::ValueType::I64],
        )
        .await
        .unwrap()
        .into_iter()
        .filter_map(|row| match row.first() {
            Some(graphloom::meta::Value::I64(id)) => Some(*id),
            _ => None,
        })
        .collect();
    let lost: Vec<&i64> = acked.iter().filter(|id| !stored.contains(id)).collect();
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
    db.close().await;
    drop(blog);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_requests_in_flight_and_exits_zero() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("blog.sqlite3").display());
    let (mut blog, c) = serve(&url, &[("GRAPHLOOM_DRAIN_TIMEOUT", "10")]).await;
    // An idle connection, and one that sent half its headers: neither may
    // hold the drain open (the header timeout is 10 s).
    let addr = blog.base.trim_start_matches("http://").to_owned();
    let idle = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut partial = tokio::net::TcpStream::connect(&addr).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut partial, b"POST /graphql HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // Requests in flight all the time: 8 clients, one after another each.
    let q = json!({ "query": "{ posts(first: 5) { nodes { title comments(first: 10) { totalCount } } } }" })
        .to_string();
    let stop = Arc::new(AtomicBool::new(false));
    let outcomes = Arc::new(Mutex::new(
        Vec::<(Instant, Result<u16, String>, Value)>::new(),
    ));
    let mut clients = Vec::new();
    for _ in 0..8 {
        // A client of its own each: a connection per client, kept alive.
        let c: Http = Client::builder(TokioExecutor::new()).build_http();
        let (base, q, stop, outcomes) = (
            blog.base.clone(),
            q.clone(),
            Arc::clone(&stop),
            Arc::clone(&outcomes),
        );
        clients.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                let req = crate::http::post(&base, &q, None, "application/json");
                let outcome = match c.request(req).await {
                    Ok(res) => {
                        let status = res.status().as_u16();
                        let body = http_body_util::BodyExt::collect(res.into_body())
                            .await
                            .map(|b| serde_json::from_slice(&b.to_bytes()).unwrap_or(Value::Null))
                            .unwrap_or(Value::Null);
                        (Ok(status), body)
                    }
                    Err(e) => (Err(e.to_string()), Value::Null),
                };
                outcomes.lock().unwrap().push((sent, outcome.0, outcome.1));
            }
        }));
    }
    drop(c);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let signalled = Instant::now();
    let pid = blog.child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let exit = loop {
        if let Some(status) = blog.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(5),
            "still running 5 s after SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let took = signalled.elapsed();
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    drop((idle, partial));
    eprintln!("exited {exit} {took:?} after SIGTERM");
    assert!(exit.success(), "{exit}");

    let outcomes = outcomes.lock().unwrap();
    let before: Vec<_> = outcomes
        .iter()
        .filter(|(sent, ..)| *sent < signalled)
        .collect();
    assert!(
        before.len() > 16,
        "{} requests before the signal",
        before.len()
    );
    // What was answered was answered in full; a request the server had not
    // read when it stopped accepting is refused as a connection error (the
    // client retries it elsewhere), never a 5xx.
    for (_, status, body) in outcomes.iter() {
        if let Ok(status) = status {
            assert_eq!(*status, 200, "{body}");
            assert!(body["data"]["posts"]["nodes"].is_array(), "{body}");
        }
    }
    // Requests sent well before the signal were read, so they completed.
    let early = signalled - Duration::from_millis(200);
    for (sent, status, _) in before.iter().filter(|(sent, ..)| *sent < early) {
        assert!(
            status.is_ok(),
            "sent {:?} before the signal: {status:?}",
            signalled - *sent
        );
    }
}

/// The value of the series `name` whose labels include all of `labels`.
fn series(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find(|l| {
            l.split(['{', ' ']).next() == Some(name) && labels.iter().all(|label| l.contains(label))
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn json_logs_are_one_object_a_line_with_the_request_id() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("blog.sqlite3").display());
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_blog"))
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", &url)
        .env("GRAPHLOOM_JWT_SECRET", SECRET)
        .env("GRAPHLOOM_LOG_FORMAT", "json")
        // tower-http logs each request's start at debug, inside its span.
        .env("RUST_LOG", "warn,tower_http=debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let c: Http = Client::builder(TokioExecutor::new()).build_http();
    let base = format!("http://127.0.0.1:{port}");
    while status(&c, &base, "/healthz").await != 200 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let req = Request::post(format!("{base}/graphql"))
        .header("content-type", "application/json")
        .header("x-request-id", "req-json-logs-1")
        .body(Full::new(Bytes::from(r#"{"query":"{ __typename }"}"#)))
        .unwrap();
    assert_eq!(c.request(req).await.unwrap().status(), 200);
    let _ = child.kill();
    let stderr = child.stderr.take().unwrap();
    let lines: Vec<Value> = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .map(|l| serde_json::from_str(&l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let _ = child.wait();
    assert!(
        lines
            .iter()
            .any(|l| l["span"]["request_id"] == "req-json-logs-1" && l["level"] == "DEBUG"),
        "{lines:?}"
    );
}

#[tokio::test]
async fn metrics_count_requests_statements_and_refusals_by_operation() {
    let (s, c) = crate::http::start_with(&[], &[]).await;
    let named = json!({ "query": "query PostPage { posts(first: 2) { nodes { title author { username } } } }", "operationName": "PostPage" }).to_string();
    let mut statements = 0;
    for _ in 0..2 {
        let (status, _, body) = send(
            &c,
            crate::http::post(&s.base, &named, None, "application/json"),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        statements += body["extensions"]["sql"]["count"].as_u64().unwrap();
    }
    let invalid = json!({ "query": "{ nope }" }).to_string();
    send(
        &c,
        crate::http::post(&s.base, &invalid, None, "application/json"),
    )
    .await;
    for _ in 0..6 {
        let login = json!({ "query": "mutation { login(input: { login: \"user1\", password: \"wrong\" }) { accessToken } }" }).to_string();
        send(
            &c,
            crate::http::post(&s.base, &login, None, "application/json"),
        )
        .await;
    }

    // Every response carries a request id: the client's, or a new one.
    let req = Request::get(format!("{}/healthz", s.base))
        .header("x-request-id", "from-the-gateway-42")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let res = c.request(req).await.unwrap();
    assert_eq!(res.headers()["x-request-id"], "from-the-gateway-42");
    let res = c
        .get(format!("{}/healthz", s.base).parse().unwrap())
        .await
        .unwrap();
    let id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");

    let res = c
        .get(format!("{}/metrics", s.base).parse().unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    let text = String::from_utf8(body.to_vec()).unwrap();
    let op = r#"operation="PostPage""#;
    assert_eq!(
        series(&text, "graphloom_requests_total", &[op, r#"outcome="ok""#]),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        series(&text, "graphloom_request_duration_seconds_count", &[op]),
        Some(2.0),
        "{text}"
    );
    // Statements per request, from the same capture as extensions.sql.
    assert_eq!(
        series(&text, "graphloom_sql_statements_sum", &[op]),
        Some(statements as f64),
        "{text}"
    );
    assert_eq!(
        series(
            &text,
            "graphloom_requests_total",
            &[
                r#"operation="anonymous""#,
                r#"outcome="GRAPHQL_VALIDATION_FAILED""#
            ]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        series(&text, "graphloom_rate_limited_total", &[r#"what="login""#]),
        Some(1.0),
        "{text}"
    );
    assert!(series(&text, "graphloom_db_connections", &[r#"state="idle""#]).is_some());
    assert_eq!(series(&text, "graphloom_db_up", &[]), Some(1.0), "{text}");

    // A switch, like GraphiQL (off by default in production).
    let (s, c) = crate::http::start_with(&[], &[("GRAPHLOOM_METRICS", "0")]).await;
    let res = c
        .get(format!("{}/metrics", s.base).parse().unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

/// An OTLP/HTTP collector in miniature: every JSON body posted to
/// `/v1/traces`, kept.
async fn collector() -> (u16, Arc<Mutex<Vec<Value>>>) {
    use hyper::{Response, body::Incoming, server::conn::http1, service::service_fn};
    use hyper_util::rt::TokioIo;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&bodies);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let kept = Arc::clone(&kept);
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| {
                    let kept = Arc::clone(&kept);
                    async move {
                        let path = req.uri().path().to_owned();
                        let body = http_body_util::BodyExt::collect(req.into_body())
                            .await
                            .map(|b| b.to_bytes())
                            .unwrap_or_default();
                        if path == "/v1/traces"
                            && let Ok(json) = serde_json::from_slice::<Value>(&body)
                        {
                            kept.lock().unwrap().push(json);
                        }
                        Ok::<_, std::convert::Infallible>(
                            Response::builder()
                                .header("content-type", "application/json")
                                .body(Full::new(Bytes::from_static(b"{}")))
                                .unwrap(),
                        )
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    (port, bodies)
}

/// Every span the collector received, flattened.
fn spans(bodies: &[Value]) -> Vec<Value> {
    bodies
        .iter()
        .flat_map(|b| b["resourceSpans"].as_array().cloned().unwrap_or_default())
        .flat_map(|r| r["scopeSpans"].as_array().cloned().unwrap_or_default())
        .flat_map(|s| s["spans"].as_array().cloned().unwrap_or_default())
        .collect()
}

fn attribute<'a>(span: &'a Value, key: &str) -> Option<&'a str> {
    span["attributes"]
        .as_array()?
        .iter()
        .find(|a| a["key"] == key)?["value"]["stringValue"]
        .as_str()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_go_to_an_otlp_collector_inside_the_callers_trace() {
    let (port, bodies) = collector().await;
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("blog.sqlite3").display());
    let endpoint = format!("http://127.0.0.1:{port}");
    let (blog, c) = serve(
        &url,
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &endpoint),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
            ("OTEL_SERVICE_NAME", "blog-under-test"),
        ],
    )
    .await;
    // As a gateway sends it: its trace, and its span as the parent.
    let (trace, parent) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let q = json!({ "query": "query PostPage { posts(first: 2) { nodes { title comments(first: 2) { nodes { body } } } } }", "operationName": "PostPage" });
    let req = Request::post(format!("{}/graphql", blog.base))
        .header("content-type", "application/json")
        .header("traceparent", format!("00-{trace}-{parent}-01"))
        .body(Full::new(Bytes::from(q.to_string())))
        .unwrap();
    let (status, _, body) = send(&c, req).await;
    assert_eq!(status, 200, "{body}");

    let started = Instant::now();
    let ours = loop {
        let ours: Vec<Value> = spans(&bodies.lock().unwrap())
            .into_iter()
            .filter(|s| s["traceId"] == trace)
            .collect();
        if ours.iter().filter(|s| s["name"] == "sql").count() >= 2
            && ours.iter().any(|s| s["name"] == "request")
        {
            break ours;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no trace reached the collector: {:?}",
            bodies.lock().unwrap()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let named = |name: &str| ours.iter().find(|s| s["name"] == name).cloned().unwrap();
    let request = named("request");
    let graphql = named("graphql");
    assert_eq!(request["parentSpanId"], parent, "{request}");
    assert_eq!(graphql["parentSpanId"], request["spanId"], "{graphql}");
    assert_eq!(attribute(&graphql, "operation"), Some("PostPage"));
    let sql: Vec<&Value> = ours.iter().filter(|s| s["name"] == "sql").collect();
    // The posts, then the comments of both in one statement: no N+1 in the
    // trace either.
    assert_eq!(sql.len(), 2, "{sql:?}");
    for s in &sql {
        assert_eq!(s["parentSpanId"], graphql["spanId"], "{s}");
        assert!(
            attribute(s, "db.statement").is_some_and(|t| t.starts_with("SELECT")),
            "{s}"
        );
    }
    let resource = &bodies.lock().unwrap()[0]["resourceSpans"][0]["resource"];
    assert!(
        resource.to_string().contains("blog-under-test"),
        "{resource}"
    );
    drop(blog);
}
