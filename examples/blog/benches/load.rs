//! `scripts/load-bench.sh`: the blog served over HTTP under load, against a
//! hand-written axum + sqlx server that answers the same five operations
//! with one SQL statement each (the "limit"), in the same run.
//!
//! Seeds 1,000 users, 10,000 posts, 100,000 comments and 50 tags into a
//! SQLite file (and into PostgreSQL when GRAPHLOOM_BENCH_DATABASE_URL names
//! an empty database), starts `blog serve` and the baseline as separate
//! processes, and drives each operation with wrk (16 connections, 2
//! threads) for GRAPHLOOM_LOAD_SECONDS (default 10) per side, in
//! GRAPHLOOM_LOAD_ROUNDS (default 1) rounds that take the sides in turn; a
//! side's figures are its median round. It reports req/s, p50/p99 latency,
//! CPU per request of the server process and of PostgreSQL's processes
//! (from /proc), and the server's idle and peak RSS, each with its
//! anonymous part (`RssAnon`: what the process allocated, without the
//! executable's code pages it maps).
//! Every response is checked once before the load; under load, wrk must see
//! only 2xx and every created comment must be in the table afterwards.
//! Results are recorded in docs/benchmarks.md.

use std::{
    fmt::Write as _,
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail, ensure};
use serde_json::{Value as Json, json};

/// Signs the bench user's token, for both servers.
const SECRET: &str = "graphloom-load-bench-secret-not-for-production";

/// The five operations: name, GraphQL request, baseline route. Reads are
/// anonymous (published posts only); the comment is written by user 2.
fn operations() -> Vec<(&'static str, Json, &'static str)> {
    vec![
        (
            "one post by id",
            json!({ "query": "query($id: ID!) { post(id: $id) { id title slug status createdAt author { id username } } }", "variables": { "id": "1" } }),
            "/post",
        ),
        (
            "100 posts + author",
            json!({ "query": "{ posts(first: 100) { nodes { id title createdAt author { username } } } }" }),
            "/posts",
        ),
        (
            "50 posts + author + 10 comments each (+ authors) + tags",
            json!({ "query": "{ posts(first: 50) { nodes { title author { username } comments(first: 10) { nodes { body author { username } } } tags { nodes { name } } } } }" }),
            "/nested",
        ),
        (
            "title search, newest first, 20",
            json!({ "query": r#"{ posts(first: 20, where: { title: { iContains: "rust" } }, orderBy: [{ createdAt: DESC }]) { nodes { id title createdAt } } }"# }),
            "/search",
        ),
        (
            "create a comment",
            json!({ "query": r#"mutation { createComment(input: { postId: "1", body: "under load" }) { comment { id body createdAt } errors { field code message } } }"# }),
            "/comment",
        ),
    ]
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--baseline-server") {
        let url = args.get(i + 1).context("--baseline-server URL ADDR")?;
        let addr = args.get(i + 2).context("--baseline-server URL ADDR")?;
        return tokio::runtime::Runtime::new()?.block_on(baseline::serve(url, addr));
    }
    // `cargo test` runs benches without --bench; keep that instant.
    if !args.iter().any(|a| a == "--bench") {
        return Ok(());
    }
    let wrk = which("wrk").context("wrk is not installed: scripts/load-bench.sh installs it")?;
    let seconds: u64 = std::env::var("GRAPHLOOM_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let dir = tempfile::tempdir()?;
    let mut targets = vec![(
        "SQLite (file, WAL)",
        format!("sqlite:{}", dir.path().join("load.sqlite3").display()),
    )];
    if let Ok(pg) = std::env::var("GRAPHLOOM_BENCH_DATABASE_URL") {
        targets.push(("PostgreSQL", pg));
    }
    let rt = tokio::runtime::Runtime::new()?;
    for (label, url) in targets {
        rt.block_on(seed(&url))?;
        run(&rt, label, &url, &wrk, seconds, dir.path())?;
    }
    Ok(())
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    })
}

async fn seed(url: &str) -> anyhow::Result<()> {
    let service = blog::service();
    let db = graphloom::db::Database::connect(url).await?;
    let t = Instant::now();
    let args = blog::seed::SeedArgs::benchmark(url);
    blog::seed::seed(&service, &db, &args).await?;
    db.close().await;
    println!("(seeded {url} in {:.1} s)", t.elapsed().as_secs_f64());
    Ok(())
}

fn free_addr() -> anyhow::Result<String> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.to_string())
}

/// A server process, killed when dropped.
struct Server {
    name: &'static str,
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }
}

fn start(name: &'static str, mut cmd: Command, addr: String) -> anyhow::Result<Server> {
    // An earlier build's errors are counted, not printed.
    let stderr = if name == "before" {
        Stdio::null()
    } else {
        Stdio::inherit()
    };
    cmd.stdout(Stdio::null()).stderr(stderr);
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot start {name}"))?;
    let server = Server { name, child, addr };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(&server.addr).is_err() {
        ensure!(
            Instant::now() < deadline,
            "{name} did not listen on {}",
            server.addr
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(server)
}

fn token() -> anyhow::Result<String> {
    use graphloom::auth_core::token::{Issuer, SigningKey};
    let issuer = Issuer::new(
        SigningKey::hs256(SECRET.as_bytes())?,
        "graphloom",
        "blog",
        86_400,
    );
    Ok(issuer.issue("2", Vec::new(), false, false)?.0)
}

/// One POST, its parsed JSON body.
async fn post(addr: &str, path: &str, body: &Json, token: Option<&str>) -> anyhow::Result<Json> {
    use http_body_util::{BodyExt, Full};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<hyper::body::Bytes>>();
    let mut req = hyper::Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/json")
        .header("accept", "application/json");
    if let Some(token) = token {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    let req = req.body(Full::new(hyper::body::Bytes::from(serde_json::to_vec(
        body,
    )?)))?;
    let res = client.request(req).await?;
    ensure!(res.status().is_success(), "{path}: HTTP {}", res.status());
    let bytes = res.into_body().collect().await?.to_bytes();
    Ok(serde_json::from_slice(&bytes)?)
}

/// `100 posts + author` over REST, and with the total count as well.
const REST_POSTS: [(&str, &str); 2] = [
    (
        "graphloom REST",
        "/api/posts?limit=100&fields=id,title,createdAt,author.username&expand=author",
    ),
    (
        "graphloom REST, count=true",
        "/api/posts?limit=100&fields=id,title,createdAt,author.username&expand=author&count=true",
    ),
];

/// One GET, its parsed JSON body.
async fn get(addr: &str, path: &str) -> anyhow::Result<Json> {
    use http_body_util::{BodyExt, Empty};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<hyper::body::Bytes>>();
    let res = client
        .request(hyper::Request::get(format!("http://{addr}{path}")).body(Empty::new())?)
        .await?;
    ensure!(res.status().is_success(), "{path}: HTTP {}", res.status());
    let bytes = res.into_body().collect().await?.to_bytes();
    Ok(serde_json::from_slice(&bytes)?)
}

/// The number of objects anywhere under `v`: what both servers must agree on.
fn objects(v: &Json) -> usize {
    match v {
        Json::Object(m) => 1 + m.values().map(objects).sum::<usize>(),
        Json::Array(a) => a.iter().map(objects).sum(),
        _ => 0,
    }
}

/// The fields of `/proc/<pid>/stat` after the command name.
fn stat(pid: u32) -> Option<Vec<f64>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    // The state is a letter; every later field is a number.
    Some(
        rest.split_whitespace()
            .skip(1)
            .map(|f| f.parse::<f64>().unwrap_or(0.0))
            .collect(),
    )
}

// Indices into `stat` (the man page's field numbers minus 4).
const PPID: usize = 0;
const UTIME: usize = 10;
const STIME: usize = 11;
const CUTIME: usize = 12;
const CSTIME: usize = 13;

/// CPU seconds (user + system) of a process.
fn cpu_seconds(pid: u32, tick: f64) -> f64 {
    stat(pid).map_or(0.0, |s| (s[UTIME] + s[STIME]) / tick)
}

fn is_postgres(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "postgres")
}

/// CPU seconds of PostgreSQL: its live processes, and the exited ones the
/// postmaster has reaped (its children's time), so that backends that come
/// and go are counted.
fn postgres_cpu_seconds(tick: f64) -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| is_postgres(*pid))
        .filter_map(|pid| {
            let s = stat(pid)?;
            let own = s[UTIME] + s[STIME];
            let postmaster = !is_postgres(s[PPID] as u32);
            Some(
                (own + if postmaster {
                    s[CUTIME] + s[CSTIME]
                } else {
                    0.0
                }) / tick,
            )
        })
        .sum()
}

/// A process's memory from /proc, in MiB.
struct Memory {
    /// `VmRSS`: resident, the executable's mapped code included.
    rss: f64,
    /// `VmHWM`: the peak of `rss`.
    peak: f64,
    /// `RssAnon`: resident memory the process allocated (heap, stacks),
    /// without the pages of files it maps (its code, shared libraries).
    anon: f64,
}

fn memory(pid: u32) -> Memory {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    Memory {
        rss: kb("VmRSS:"),
        peak: kb("VmHWM:"),
        anon: kb("RssAnon:"),
    }
}

/// The highest `RssAnon` of `pid` while `f` runs, sampled every 20 ms
/// (the kernel keeps no peak of it).
fn peak_anon<T>(pid: u32, f: impl FnOnce() -> T) -> (T, f64) {
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        let sampler = s.spawn(|| {
            let mut peak: f64 = 0.0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(memory(pid).anon);
                std::thread::sleep(Duration::from_millis(20));
            }
            peak.max(memory(pid).anon)
        });
        let out = f();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        (out, sampler.join().unwrap_or(0.0))
    })
}

struct Load {
    requests: u64,
    /// For writes: rows the measured run added to the table.
    written: Option<i64>,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    server_cpu_ms: f64,
    db_cpu_ms: f64,
    /// The server's highest `RssAnon` during the run, MiB.
    peak_anon: f64,
}

fn duration_ms(s: &str) -> Option<f64> {
    let (num, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic())?);
    let n: f64 = num.parse().ok()?;
    Some(match unit {
        "us" => n / 1e3,
        "ms" => n,
        "s" => n * 1e3,
        "m" => n * 60e3,
        _ => return None,
    })
}

/// Runs wrk against `server` with `body` on `path`, measuring CPU.
#[allow(clippy::too_many_arguments)]
fn load(
    wrk: &Path,
    server: &Server,
    path: &str,
    // `None`: a GET of `path`.
    body: Option<&Json>,
    token: Option<&str>,
    seconds: u64,
    pg: bool,
    scripts: &Path,
    rows: Option<&dyn Fn() -> anyhow::Result<i64>>,
) -> anyhow::Result<Load> {
    let file: String = path
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let script = scripts.join(format!("{}{file}.lua", server.name));
    let mut lua = String::new();
    if let Some(body) = body {
        writeln!(lua, "wrk.method = \"POST\"")?;
        writeln!(lua, "wrk.body = [==[{}]==]", serde_json::to_string(body)?)?;
        writeln!(lua, "wrk.headers[\"Content-Type\"] = \"application/json\"")?;
    }
    writeln!(lua, "wrk.headers[\"Accept\"] = \"application/json\"")?;
    if let Some(token) = token {
        writeln!(lua, "wrk.headers[\"Authorization\"] = \"Bearer {token}\"")?;
    }
    std::fs::write(&script, lua)?;
    let url = format!("http://{}{path}", server.addr);
    let wrk_run = |secs: u64| {
        Command::new(wrk)
            .args([
                "-t2",
                "-c16",
                "--timeout",
                "10s",
                &format!("-d{secs}s"),
                "--latency",
                "-s",
            ])
            .arg(&script)
            .arg(&url)
            .output()
    };
    // Warm up (connections, caches, the pool), then measure.
    wrk_run(2)?;
    let tick: f64 = String::from_utf8(Command::new("getconf").arg("CLK_TCK").output()?.stdout)?
        .trim()
        .parse()
        .unwrap_or(100.0);
    let db = || if pg { postgres_cpu_seconds(tick) } else { 0.0 };
    let rows0 = rows.map(|count| count()).transpose()?;
    let (server0, db0) = (cpu_seconds(server.pid(), tick), db());
    let (out, peak_anon) = peak_anon(server.pid(), || wrk_run(seconds));
    let out = out?;
    let (server1, db1) = (cpu_seconds(server.pid(), tick), db());
    // Requests still in flight when wrk stopped finish within this.
    std::thread::sleep(Duration::from_millis(300));
    let written = match (rows, rows0) {
        (Some(count), Some(n0)) => Some(count()? - n0),
        _ => None,
    };
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    ensure!(
        out.status.success(),
        "wrk failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(
        !text.contains("Non-2xx") && !text.contains("Socket errors"),
        "{} {path}: failed requests under load:\n{text}",
        server.name
    );
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
    };
    let requests: u64 = text
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .with_context(|| format!("no request count in wrk's output:\n{text}"))?;
    let rps: f64 = field("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no Requests/sec in wrk's output:\n{text}"))?;
    let p50 = field("50%")
        .and_then(|v| duration_ms(&v))
        .context("no p50")?;
    let p99 = field("99%")
        .and_then(|v| duration_ms(&v))
        .context("no p99")?;
    let per = |secs: f64| secs * 1e3 / requests.max(1) as f64;
    Ok(Load {
        requests,
        written,
        rps,
        p50_ms: p50,
        p99_ms: p99,
        server_cpu_ms: per(server1 - server0),
        db_cpu_ms: per(db1 - db0),
        peak_anon,
    })
}

async fn comment_count(url: &str) -> anyhow::Result<i64> {
    let db = graphloom::db::Database::connect(url).await?;
    let rows = db
        .fetch(
            &graphloom::db::RawSql("SELECT COUNT(*) FROM blog_comment".into()),
            &[graphloom::meta::ValueType::I64],
        )
        .await?;
    db.close().await;
    match rows.first().and_then(|r| r.first()) {
        Some(graphloom::meta::Value::I64(n)) => Ok(*n),
        other => bail!("COUNT(*) gave {other:?}"),
    }
}

fn run(
    rt: &tokio::runtime::Runtime,
    label: &str,
    url: &str,
    wrk: &Path,
    seconds: u64,
    scripts: &Path,
) -> anyhow::Result<()> {
    let pg = url.starts_with("postgres");
    let rounds: usize = std::env::var("GRAPHLOOM_LOAD_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1);
    let blog_bin = std::env::var("GRAPHLOOM_LOAD_BLOG_BIN")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_blog").into());
    let addr = free_addr()?;
    let mut cmd = Command::new(&blog_bin);
    cmd.args(["serve", "--addr", &addr])
        .env("DATABASE_URL", url)
        .env("GRAPHLOOM_JWT_SECRET", SECRET)
        .env("RUST_LOG", "warn");
    let graphloom = start("graphloom", cmd, addr)?;
    // An earlier build, when asked for: before and after in the same run.
    let before = match std::env::var("GRAPHLOOM_LOAD_BEFORE_BIN") {
        Ok(bin) => {
            let addr = free_addr()?;
            let mut cmd = Command::new(bin);
            cmd.args(["serve", "--addr", &addr])
                .env("DATABASE_URL", url)
                .env("GRAPHLOOM_JWT_SECRET", SECRET)
                .env("RUST_LOG", "warn");
            Some(start("before", cmd, addr)?)
        }
        Err(_) => None,
    };
    let addr = free_addr()?;
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["--baseline-server", url, &addr]);
    let limit = start("baseline", cmd, addr)?;
    let token = token()?;
    let auth = |route: &str| (route == "/comment").then_some(token.as_str());
    let ours: Vec<&Server> = before.iter().chain([&graphloom]).collect();
    // The same answers from every server, before any load.
    for (name, body, route) in operations() {
        let theirs = rt.block_on(post(&limit.addr, route, &body, auth(route)))?;
        for server in &ours {
            let answer = rt.block_on(post(&server.addr, "/graphql", &body, auth(route)))?;
            ensure!(answer.get("errors").is_none(), "{name}: {answer:.600}");
            ensure!(
                objects(&answer["data"]) == objects(&theirs["data"]),
                "{name}: {} and the baseline disagree\n {}: {:.600}\n baseline: {:.600}",
                server.name,
                server.name,
                answer.to_string(),
                theirs.to_string()
            );
        }
    }
    // REST's page: the GraphQL answer's posts, with their authors.
    let graphql = rt.block_on(post(&graphloom.addr, "/graphql", &operations()[1].1, None))?;
    for (side, path) in REST_POSTS {
        let rest = rt.block_on(get(&graphloom.addr, path))?;
        let titles = |v: &Json| -> Vec<String> {
            v.as_array()
                .map(|a| a.iter().map(|p| p["title"].to_string()).collect())
                .unwrap_or_default()
        };
        ensure!(
            titles(&rest) == titles(&graphql["data"]["posts"]["nodes"])
                && rest
                    .as_array()
                    .is_some_and(|a| a.iter().all(|p| p["author"]["username"].is_string())),
            "{side}: REST and GraphQL disagree: {:.600}",
            rest.to_string()
        );
    }
    let idle: Vec<Memory> = ours
        .iter()
        .chain([&&limit])
        .map(|s| memory(s.pid()))
        .collect();
    // Per server (by name): the highest anonymous memory of its GraphQL
    // runs (REST's run only against this build, so they stay out of a
    // comparison of the builds).
    let mut peaks: std::collections::BTreeMap<&str, f64> = Default::default();
    println!("\n## {label}: {seconds} s per side and round, {rounds} round(s), wrk -t2 -c16\n");
    println!(
        "| operation | side | req/s | p50 | p99 | server CPU ms/req | DB CPU ms/req | server + DB | ÷ baseline |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let count = || rt.block_on(comment_count(url));
    let total = |l: &Load| l.server_cpu_ms + l.db_cpu_ms;
    for (name, body, route) in operations() {
        let rows = (route == "/comment").then_some(&count as &dyn Fn() -> anyhow::Result<i64>);
        // Each round runs every side once, each round starting one side
        // later, so that no side always follows the same one; a side's row
        // is its median round (by server + DB CPU), so that a slow moment
        // of the machine lands in one round of each side rather than in
        // one side.
        let sides: Vec<&Server> = [&limit].into_iter().chain(ours.iter().copied()).collect();
        let mut rounds_of: Vec<(&'static str, Vec<Load>)> =
            sides.iter().map(|s| (s.name, Vec::new())).collect();
        for round in 0..rounds {
            for k in 0..sides.len() {
                let i = (k + round) % sides.len();
                let server = sides[i];
                let path = if i == 0 { route } else { "/graphql" };
                let l = load(
                    wrk,
                    server,
                    path,
                    Some(&body),
                    auth(route),
                    seconds,
                    pg,
                    scripts,
                    rows,
                )?;
                let p = peaks.entry(server.name).or_default();
                *p = p.max(l.peak_anon);
                rounds_of[i].1.push(l);
            }
        }
        let mut runs = Vec::new();
        for (side, mut ls) in rounds_of {
            // Every completed write must have its row, in every round; an
            // earlier build that loses some is reported, not hidden.
            for l in &ls {
                if let Some(w) = l.written
                    && w < i64::try_from(l.requests)?
                    && side != "before"
                {
                    bail!(
                        "{side} lost writes under load: {w} rows for {} requests",
                        l.requests
                    );
                }
            }
            ls.sort_by(|a, b| total(a).total_cmp(&total(b)));
            let median = ls.swap_remove(ls.len() / 2);
            runs.push((side, median));
        }
        // The same page over REST, beside GraphQL's.
        if route == "/posts" {
            for (side, path) in REST_POSTS {
                let l = load(
                    wrk, &graphloom, path, None, None, seconds, pg, scripts, None,
                )?;
                runs.push((side, l));
            }
        }
        let base_total = total(&runs[0].1);
        for (side, l) in &runs {
            // Every completed write must have its row; an earlier build
            // that loses some is reported, not hidden.
            let kept = match l.written {
                Some(w) if w >= i64::try_from(l.requests)? => String::new(),
                Some(w) if *side == "before" => {
                    format!(" (only {w} of {} writes landed)", l.requests)
                }
                Some(w) => bail!(
                    "{side} lost writes under load: {w} rows for {} requests",
                    l.requests
                ),
                None => String::new(),
            };
            println!(
                "| {name}{kept} | {side} | {:.0} | {:.2} ms | {:.2} ms | {:.3} | {:.3} | {:.3} | {:.2} |",
                l.rps,
                l.p50_ms,
                l.p99_ms,
                l.server_cpu_ms,
                l.db_cpu_ms,
                total(l),
                total(l) / base_total
            );
        }
    }
    // RSS counts the executable's code pages the process touched (from
    // the page cache, shared and reclaimable) with what it allocated;
    // `RssAnon` is the allocated part alone.
    for (i, server) in ours.iter().chain([&&limit]).enumerate() {
        println!(
            "\nRSS of {}: idle {:.1} MiB ({:.1} MiB anonymous), peak {:.1} MiB ({:.1} MiB anonymous under the GraphQL operations)",
            server.name,
            idle[i].rss,
            idle[i].anon,
            memory(server.pid()).peak,
            peaks.get(server.name).copied().unwrap_or_default(),
        );
    }
    Ok(())
}

/// The hand-written server: the five operations, one SQL statement each,
/// the JSON of the reads built by the database.
mod baseline {
    use std::sync::Arc;

    use anyhow::Context;
    use axum::{Router, body::Bytes, extract::State, http::HeaderMap, routing::post};
    use graphloom::auth_core::token::{SigningKey, Verifier};
    use serde_json::{Value as Json, json};
    use sqlx::{PgPool, SqlitePool};

    enum Db {
        Pg(PgPool),
        Sqlite(SqlitePool),
    }

    struct App {
        db: Db,
        verifier: Verifier,
    }

    type Reply = ([(&'static str, &'static str); 1], String);

    fn reply(data: &str) -> Reply {
        (
            [("content-type", "application/json")],
            format!("{{\"data\":{data}}}"),
        )
    }

    fn failure(e: impl std::fmt::Display) -> Reply {
        reply(&format!(
            "null,\"errors\":[{{\"message\":{}}}]",
            json!(e.to_string())
        ))
    }

    const PG_POST: &str = "SELECT json_build_object('post', json_build_object('id', p.id::text, 'title', p.title, 'slug', p.slug, 'status', upper(p.status), 'createdAt', p.created_at, 'author', json_build_object('id', u.id::text, 'username', u.username)))::text FROM blog_post p JOIN auth_user u ON u.id = p.author_id WHERE p.id = $1 AND p.status = 'published'";
    const LITE_POST: &str = "SELECT json_object('post', json_object('id', CAST(p.id AS TEXT), 'title', p.title, 'slug', p.slug, 'status', upper(p.status), 'createdAt', p.created_at, 'author', json_object('id', CAST(u.id AS TEXT), 'username', u.username))) FROM blog_post p JOIN auth_user u ON u.id = p.author_id WHERE p.id = ?1 AND p.status = 'published'";
    const PG_POSTS: &str = "SELECT json_build_object('posts', json_build_object('nodes', COALESCE(json_agg(json_build_object('id', p.id::text, 'title', p.title, 'createdAt', p.created_at, 'author', json_build_object('username', u.username)) ORDER BY p.id), '[]')))::text FROM (SELECT * FROM blog_post WHERE status = 'published' ORDER BY id LIMIT 100) p JOIN auth_user u ON u.id = p.author_id";
    const LITE_POSTS: &str = "SELECT json_object('posts', json_object('nodes', json_group_array(json_object('id', CAST(p.id AS TEXT), 'title', p.title, 'createdAt', p.created_at, 'author', json_object('username', u.username)) ORDER BY p.id))) FROM (SELECT * FROM blog_post WHERE status = 'published' ORDER BY id LIMIT 100) p JOIN auth_user u ON u.id = p.author_id";
    const PG_NESTED: &str = "SELECT json_build_object('posts', json_build_object('nodes', COALESCE(json_agg(json_build_object(
            'title', p.title,
            'author', (SELECT json_build_object('username', u.username) FROM auth_user u WHERE u.id = p.author_id),
            'comments', json_build_object('nodes', (SELECT COALESCE(json_agg(json_build_object('body', c.body, 'author', (SELECT json_build_object('username', cu.username) FROM auth_user cu WHERE cu.id = c.author_id)) ORDER BY c.id), '[]') FROM (SELECT * FROM blog_comment WHERE post_id = p.id ORDER BY id LIMIT 10) c)),
            'tags', json_build_object('nodes', (SELECT COALESCE(json_agg(json_build_object('name', t.name) ORDER BY t.id), '[]') FROM blog_post_tags pt JOIN blog_tag t ON t.id = pt.tag_id WHERE pt.post_id = p.id))
        ) ORDER BY p.id), '[]')))::text
        FROM (SELECT * FROM blog_post WHERE status = 'published' ORDER BY id LIMIT 50) p";
    const LITE_NESTED: &str = "SELECT json_object('posts', json_object('nodes', json_group_array(json_object(
            'title', p.title,
            'author', (SELECT json_object('username', u.username) FROM auth_user u WHERE u.id = p.author_id),
            'comments', json_object('nodes', json((SELECT json_group_array(json_object('body', c.body, 'author', (SELECT json_object('username', cu.username) FROM auth_user cu WHERE cu.id = c.author_id)) ORDER BY c.id) FROM (SELECT * FROM blog_comment WHERE post_id = p.id ORDER BY id LIMIT 10) c))),
            'tags', json_object('nodes', json((SELECT json_group_array(json_object('name', t.name) ORDER BY t.id) FROM blog_post_tags pt JOIN blog_tag t ON t.id = pt.tag_id WHERE pt.post_id = p.id)))
        ) ORDER BY p.id)))
        FROM (SELECT * FROM blog_post WHERE status = 'published' ORDER BY id LIMIT 50) p";
    const PG_SEARCH: &str = "SELECT json_build_object('posts', json_build_object('nodes', COALESCE(json_agg(json_build_object('id', p.id::text, 'title', p.title, 'createdAt', p.created_at) ORDER BY p.created_at DESC, p.id DESC), '[]')))::text FROM (SELECT * FROM blog_post WHERE status = 'published' AND title ILIKE '%rust%' ORDER BY created_at DESC, id DESC LIMIT 20) p";
    const LITE_SEARCH: &str = "SELECT json_object('posts', json_object('nodes', json_group_array(json_object('id', CAST(p.id AS TEXT), 'title', p.title, 'createdAt', p.created_at) ORDER BY p.created_at DESC, p.id DESC))) FROM (SELECT * FROM blog_post WHERE status = 'published' AND title LIKE '%rust%' ORDER BY created_at DESC, id DESC LIMIT 20) p";
    // A comment on a post the writer may see (published, or theirs).
    const PG_COMMENT: &str = "INSERT INTO blog_comment (post_id, author_id, body, created_at) SELECT $1, $2, $3, now() WHERE EXISTS (SELECT 1 FROM blog_post WHERE id = $1 AND (status = 'published' OR author_id = $2)) RETURNING id, body, created_at::text";
    const LITE_COMMENT: &str = "INSERT INTO blog_comment (post_id, author_id, body, created_at) SELECT ?1, ?2, ?3, strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE EXISTS (SELECT 1 FROM blog_post WHERE id = ?1 AND (status = 'published' OR author_id = ?2)) RETURNING id, body, created_at";

    async fn read(app: &App, pg: &'static str, lite: &'static str, id: Option<i64>) -> Reply {
        let out = match &app.db {
            Db::Pg(pool) => {
                let q = sqlx::query_scalar::<_, String>(pg);
                let q = match id {
                    Some(id) => q.bind(id),
                    None => q,
                };
                q.fetch_optional(pool).await
            }
            Db::Sqlite(pool) => {
                let q = sqlx::query_scalar::<_, String>(lite);
                let q = match id {
                    Some(id) => q.bind(id),
                    None => q,
                };
                q.fetch_optional(pool).await
            }
        };
        match out {
            Ok(Some(json)) => reply(&json),
            Ok(None) => reply("{\"post\":null}"),
            Err(e) => failure(e),
        }
    }

    fn body(bytes: &Bytes) -> Json {
        serde_json::from_slice(bytes).unwrap_or(Json::Null)
    }

    async fn comment(app: &App, headers: &HeaderMap, bytes: &Bytes) -> Reply {
        let _request = body(bytes);
        let user = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .and_then(|t| app.verifier.verify(t).ok())
            .and_then(|claims| claims.sub.parse::<i64>().ok());
        let Some(user) = user else {
            return failure("log in first");
        };
        let row = match &app.db {
            Db::Pg(pool) => {
                sqlx::query_as::<_, (i64, String, String)>(PG_COMMENT)
                    .bind(1_i64)
                    .bind(user)
                    .bind("under load")
                    .fetch_optional(pool)
                    .await
            }
            Db::Sqlite(pool) => {
                sqlx::query_as::<_, (i64, String, String)>(LITE_COMMENT)
                    .bind(1_i64)
                    .bind(user)
                    .bind("under load")
                    .fetch_optional(pool)
                    .await
            }
        };
        match row {
            Ok(Some((id, body, at))) => reply(
                &json!({ "createComment": { "comment": { "id": id.to_string(), "body": body, "createdAt": at }, "errors": [] } })
                    .to_string(),
            ),
            Ok(None) => failure("no such post"),
            Err(e) => failure(e),
        }
    }

    pub async fn serve(url: &str, addr: &str) -> anyhow::Result<()> {
        let db = if url.starts_with("postgres") {
            Db::Pg(
                sqlx::postgres::PgPoolOptions::new()
                    .test_before_acquire(false)
                    .max_connections(10)
                    .connect(url)
                    .await?,
            )
        } else {
            use std::str::FromStr;
            let opts = sqlx::sqlite::SqliteConnectOptions::from_str(url)?
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .busy_timeout(std::time::Duration::from_secs(5));
            Db::Sqlite(
                sqlx::sqlite::SqlitePoolOptions::new()
                    .test_before_acquire(false)
                    .max_connections(8)
                    .connect_with(opts)
                    .await?,
            )
        };
        let key = SigningKey::hs256(super::SECRET.as_bytes())?;
        let verifier = Verifier::new("graphloom", "blog").trust(&key)?;
        let app = Arc::new(App { db, verifier });
        let id_of = |b: &Bytes| {
            body(b)["variables"]["id"]
                .as_str()
                .and_then(|s| s.parse::<i64>().ok())
        };
        let mut router = Router::new().route(
            "/post",
            post(move |State(app): State<Arc<App>>, b: Bytes| async move {
                read(&app, PG_POST, LITE_POST, id_of(&b)).await
            }),
        );
        for (route, pg, lite) in [
            ("/posts", PG_POSTS, LITE_POSTS),
            ("/nested", PG_NESTED, LITE_NESTED),
            ("/search", PG_SEARCH, LITE_SEARCH),
        ] {
            router = router.route(
                route,
                post(move |State(app): State<Arc<App>>, b: Bytes| async move {
                    // Parsed as a real handler would, though nothing in it varies.
                    let _ = body(&b);
                    read(&app, pg, lite, None).await
                }),
            );
        }
        let router = router
            .route(
                "/comment",
                post(
                    |State(app): State<Arc<App>>, h: HeaderMap, b: Bytes| async move {
                        comment(&app, &h, &b).await
                    },
                ),
            )
            .with_state(app);
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot bind {addr}"))?;
        axum::serve(listener, router).await?;
        Ok(())
    }
}
