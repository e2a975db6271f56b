//! End to end: the real `blog` binary, over HTTP.

use std::{
    net::TcpListener,
    process::{Child, Command, Stdio},
    time::Duration,
};

use http_body_util::{BodyExt, Full};
use hyper::{Request, body::Bytes};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use serde_json::{Value, json};

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) base: String,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) type Http = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

async fn start() -> (Server, Http) {
    start_with(&["--body-limit", "4096"], &[]).await
}

/// The binary over a small seeded database, with extra `serve` arguments
/// and environment.
pub(crate) async fn start_with(args: &[&str], env: &[(&str, &str)]) -> (Server, Http) {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("blog.sqlite3").display());
    start_at(&db, Some(dir), args, env).await
}

/// The binary over the database at `url`, seeded first.
pub(crate) async fn start_at(
    url: &str,
    dir: Option<tempfile::TempDir>,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Server, Http) {
    let seed = Command::new(env!("CARGO_BIN_EXE_blog"))
        .args([
            "seed",
            "--users",
            "3",
            "--posts",
            "5",
            "--comments",
            "10",
            "--tags",
            "2",
        ])
        .env("DATABASE_URL", url)
        .output()
        .unwrap();
    assert!(
        seed.status.success(),
        "{}",
        String::from_utf8_lossy(&seed.stderr)
    );
    serve_at(url, dir, args, env).await
}

/// The binary over the database at `url` as it is (another instance of a
/// service already running on it, say).
pub(crate) async fn serve_at(
    url: &str,
    dir: Option<tempfile::TempDir>,
    args: &[&str],
    env: &[(&str, &str)],
) -> (Server, Http) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(env!("CARGO_BIN_EXE_blog"))
        .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
        .args(args)
        .env("DATABASE_URL", url)
        .env("GRAPHLOOM_DEBUG_SQL", "1")
        .env("GRAPHLOOM_JWT_SECRET", "an-e2e-test-secret-of-enough-bytes")
        // The caller's settings win over these defaults.
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    let client: Http = Client::builder(TokioExecutor::new()).build_http();
    for _ in 0..100 {
        let res = client
            .get(format!("{}/healthz", server.base).parse().unwrap())
            .await;
        if res.is_ok_and(|r| r.status() == 200) {
            return (server, client);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the server did not start");
}

pub(crate) async fn send(client: &Http, req: Request<Full<Bytes>>) -> (u16, String, Value) {
    let res = client.request(req).await.unwrap();
    let status = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&body)
        .unwrap_or(Value::String(String::from_utf8_lossy(&body).into_owned()));
    (status, ct, json)
}

/// Any request: method, URL, headers and body; the status, the response
/// headers and the body as JSON (`Null` when it is not JSON).
pub(crate) async fn call(
    client: &Http,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, hyper::HeaderMap, Value) {
    let mut req = Request::builder().method(method).uri(url);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = client
        .request(req.body(Full::new(Bytes::from(body.to_owned()))).unwrap())
        .await
        .unwrap();
    let (status, headers) = (res.status().as_u16(), res.headers().clone());
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, headers, json)
}

pub(crate) fn post(base: &str, body: &str, accept: Option<&str>, ct: &str) -> Request<Full<Bytes>> {
    let mut b = Request::post(format!("{base}/graphql")).header("content-type", ct);
    if let Some(a) = accept {
        b = b.header("accept", a);
    }
    b.body(Full::new(Bytes::from(body.to_owned()))).unwrap()
}

fn get(base: &str, query: &str, accept: &str) -> Request<Full<Bytes>> {
    Request::get(format!("{base}/graphql?{query}"))
        .header("accept", accept)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

#[tokio::test]
async fn the_binary_serves_graphql_over_http() {
    let (s, c) = start().await;
    let b = &s.base;
    let q = json!({ "query": "{ posts(first: 2) { totalCount nodes { title author { username } } } }" }).to_string();

    let (status, ct, body) = send(&c, post(b, &q, None, "application/json")).await;
    assert_eq!((status, ct.as_str()), (200, "application/json"));
    assert_eq!(
        body["data"]["posts"]["totalCount"], 4,
        "one of five seeded posts is a draft"
    );
    assert_eq!(
        body["extensions"]["sql"]["count"], 2,
        "GRAPHLOOM_DEBUG_SQL=1 adds the statements"
    );

    let (status, ct, _) = send(
        &c,
        post(
            b,
            &q,
            Some("application/graphql-response+json"),
            "application/json; charset=utf-8",
        ),
    )
    .await;
    assert_eq!(
        (status, ct.as_str()),
        (200, "application/graphql-response+json")
    );

    // Queries over GET; mutations refused.
    let (status, _, body) = send(
        &c,
        get(
            b,
            "query=%7B%20posts%20%7B%20totalCount%20%7D%20%7D",
            "application/json",
        ),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["posts"]["totalCount"], 4);
    let (status, _, body) = send(
        &c,
        get(
            b,
            "query=mutation%20%7B%20deleteTag(id%3A%221%22)%20%7B%20deletedId%20%7D%20%7D",
            "application/json",
        ),
    )
    .await;
    assert_eq!(status, 405);
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "METHOD_NOT_ALLOWED"
    );
    let (status, _, body) = send(
        &c,
        get(
            b,
            "query=%7Bposts%7BtotalCount%7D%7D&variables=%7Bnope",
            "application/json",
        ),
    )
    .await;
    assert_eq!(
        (status, body["errors"][0]["extensions"]["code"].as_str()),
        (400, Some("BAD_REQUEST"))
    );

    // GraphiQL for browsers, from the service itself: nothing from elsewhere.
    let res = c
        .request(get(b, "", "text/html,application/xhtml+xml"))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let policy = res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("script-src 'self'"), "{policy}");
    let page =
        String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "{page}"
    );
    let assets: Vec<&str> = page
        .split('"')
        .filter(|s| s.starts_with("graphiql/"))
        .collect();
    assert_eq!(assets.len(), 5, "{page}");
    for asset in assets {
        let req = Request::get(format!("{b}/{asset}"))
            .header("accept-encoding", "gzip, br")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let res = c.request(req).await.unwrap();
        assert_eq!(res.status(), 200, "{asset}");
        assert!(
            res.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        let gzipped = res.headers().get("content-encoding").is_some();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        assert!(bytes.len() > 100, "{asset}");
        assert_eq!(gzipped, bytes.starts_with(&[0x1f, 0x8b]), "{asset}");
    }
    // A client that takes no gzip is told so, rather than sent what it cannot read.
    let req = Request::get(format!("{b}/graphiql/3.8.3-18.3.1/graphiql.min.js"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    assert_eq!(c.request(req).await.unwrap().status(), 406);

    // Bad requests: each a 4xx with a GraphQL error body.
    for (req, want, code) in [
        (
            post(b, "{not json", None, "application/json"),
            400,
            "BAD_REQUEST",
        ),
        (
            post(b, r#"{"query": ""}"#, None, "application/json"),
            400,
            "BAD_REQUEST",
        ),
        (
            post(b, &q, None, "text/plain"),
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            post(b, &q, Some("text/csv"), "application/json"),
            406,
            "NOT_ACCEPTABLE",
        ),
        (
            post(
                b,
                &format!(
                    r#"{{"query": "{{ posts {{ totalCount }} }}", "x": "{}"}}"#,
                    "a".repeat(5000)
                ),
                None,
                "application/json",
            ),
            413,
            "PAYLOAD_TOO_LARGE",
        ),
    ] {
        let (status, _, body) = send(&c, req).await;
        assert_eq!(status, want, "{body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], code);
    }
    // A query that fails validation: 400 under graphql-response+json, 200 under json.
    let bad = json!({ "query": "{ posts { nope } }" }).to_string();
    let (status, _, body) = send(
        &c,
        post(
            b,
            &bad,
            Some("application/graphql-response+json"),
            "application/json",
        ),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nope")
    );
    let (status, _, _) = send(
        &c,
        post(b, &bad, Some("application/json"), "application/json"),
    )
    .await;
    assert_eq!(status, 200);

    // Anonymous clients may not create tags; log in as the seeded superuser and send the token.
    let m = json!({ "query": r#"mutation { createTag(input: { name: "http" }) { tag { id name } errors { code } } }"# }).to_string();
    let (status, _, body) = send(&c, post(b, &m, None, "application/json")).await;
    assert_eq!(
        (status, body["errors"][0]["extensions"]["code"].as_str()),
        (200, Some("UNAUTHENTICATED"))
    );
    let login = json!({ "query": format!(r#"mutation {{ login(input: {{ login: "user1", password: "{}" }}) {{ accessToken user {{ username email }} }} }}"#, blog::seed::DEMO_PASSWORD) }).to_string();
    let (status, _, body) = send(&c, post(b, &login, None, "application/json")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["login"]["user"],
        json!({ "username": "user1", "email": "user1@example.com" })
    );
    let token = body["data"]["login"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let req = Request::post(format!("{b}/graphql"))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(Bytes::from(m)))
        .unwrap();
    let (status, _, body) = send(&c, req).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["createTag"]["tag"]["name"], "http");
    let drafts = json!({ "query": "{ posts { totalCount } }" }).to_string();
    let req = Request::post(format!("{b}/graphql"))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(Bytes::from(drafts)))
        .unwrap();
    let (_, _, body) = send(&c, req).await;
    assert_eq!(body["data"]["posts"]["totalCount"], 5, "staff see drafts");
    let res = c.get(format!("{b}/readyz").parse().unwrap()).await.unwrap();
    assert_eq!(res.status(), 200);
}

#[test]
fn schema_and_check_commands() {
    let out = Command::new(env!("CARGO_BIN_EXE_blog"))
        .arg("schema")
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("type Post {"));
    // The federation version: given, it is linked; an unknown one is a
    // usage error that names the versions there are.
    let out = Command::new(env!("CARGO_BIN_EXE_blog"))
        .args(["schema", "--federation", "--federation-version", "2.4"])
        .output()
        .unwrap();
    let sdl = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && sdl.contains("federation/v2.4"),
        "{sdl}"
    );
    let out = Command::new(env!("CARGO_BIN_EXE_blog"))
        .args(["schema", "--federation"])
        .env("GRAPHLOOM_FEDERATION_VERSION", "2.10")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("expected 2.0 to 2.9"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_blog"))
        .arg("check")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("no issues"));
    let out = Command::new(env!("CARGO_BIN_EXE_blog"))
        .args(["migrate", "--database-url", "mysql://nope"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("unsupported database URL"));
}

/// A log that is not a terminal (a file, a pipe, a collector) is plain
/// text: no colour escape codes.
#[test]
fn a_log_read_by_a_program_has_no_colour_codes() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("log.sqlite3").display());
    let out = Command::new(env!("CARGO_BIN_EXE_blog"))
        .args(["migrate", "--database-url", &db])
        .env("RUST_LOG", "debug")
        .env_remove("NO_COLOR")
        .output()
        .unwrap();
    assert!(out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    // A line of an event, and one inside a span (with the span's fields).
    assert!(log.contains("DEBUG graphloom::sql"), "{log}");
    assert!(log.contains("sql{db.statement="), "{log}");
    assert!(!log.contains('\u{1b}'), "{log:?}");
}

#[test]
fn migration_commands() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite:{}", dir.path().join("m.sqlite3").display());
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_blog"))
            .args(args)
            .env("DATABASE_URL", &db)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, out, _) = run(&["makemigrations", "--check"]);
    assert!(ok && out.contains("No changes detected"), "{out}");
    let (ok, out, _) = run(&["showmigrations"]);
    assert!(ok && out.contains("[ ] 0001_initial"), "{out}");
    let (ok, out, _) = run(&["sqlmigrate", "blog", "0001_initial"]);
    assert!(ok && out.contains(r#"CREATE TABLE "blog_post""#), "{out}");
    let (ok, out, _) = run(&["sqlmigrate", "blog", "0001_initial", "--backwards"]);
    assert!(ok && out.contains(r#"DROP TABLE "blog_post""#), "{out}");
    let (ok, out, _) = run(&["migrate"]);
    assert!(ok && out.contains("Applied blog.0001_initial"), "{out}");
    let (ok, out, _) = run(&["migrate"]);
    assert!(ok && out.contains("No migrations to apply"), "{out}");
    let (ok, out, _) = run(&["showmigrations"]);
    assert!(ok && out.contains("[X] 0001_initial"), "{out}");
    let (ok, out, _) = run(&["migrate", "blog", "zero"]);
    assert!(ok && out.contains("Unapplied blog.0001_initial"), "{out}");
    let (ok, _, err) = run(&["migrate", "blog", "0009_nope"]);
    assert!(!ok && err.contains("no migration `0009_nope`"), "{err}");
    let (ok, _, err) = run(&["migrate", "nope"]);
    assert!(!ok && err.contains("app `nope` has no migrations"), "{err}");
    let (ok, _, err) = run(&["makemigrations", "nope"]);
    assert!(!ok && err.contains("no migrations folder"), "{err}");
}

mod tokens {
    use graphloom_auth::token::{Claims, Issuer, SigningKey};

    use super::*;

    /// Test-only Ed25519 key.
    const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEILyVjIyHIvlj4fTlCXa/88SbSpcA6fWvXo9nxPMT4rR7\n-----END PRIVATE KEY-----\n";
    const OTHER: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIFcD5W5Xxu/2n9QwXh8Z8+2WQZ0ZQbEocDxvmS2wdlQ3\n-----END PRIVATE KEY-----\n";

    fn spawn(envs: &[(&str, String)]) -> (Child, String) {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_blog"));
        cmd.args([
            "serve",
            "--addr",
            &format!("127.0.0.1:{port}"),
            "--database-url",
            "sqlite::memory:",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
        for (k, v) in envs {
            cmd.env(k, v);
        }
        (cmd.spawn().unwrap(), format!("http://127.0.0.1:{port}"))
    }

    async fn ready(c: &Http, base: &str) {
        for _ in 0..100 {
            if c.get(format!("{base}/healthz").parse().unwrap())
                .await
                .is_ok_and(|r| r.status() == 200)
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the server did not start");
    }

    /// Registers user 1, whom the tokens these tests mint are for: a
    /// token for a user the service does not have is refused.
    async fn user_one(c: &Http, base: &str) {
        let body = r#"{"query":"mutation { register(input: { username: \"one\", email: \"one@example.com\", password: \"a long passphrase 1\" }) { expiresIn } }"}"#;
        let (status, _, json) = send(c, post(base, body, None, "application/json")).await;
        assert_eq!(status, 200, "{json}");
        assert!(json.get("errors").is_none(), "{json}");
    }

    fn with_token(base: &str, auth: &str) -> Request<Full<Bytes>> {
        Request::post(format!("{base}/graphql"))
            .header("content-type", "application/json")
            .header("authorization", auth)
            .body(Full::new(Bytes::from(
                r#"{"query":"{ tags { totalCount } }"}"#,
            )))
            .unwrap()
    }

    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    /// `serve` with these settings, which must refuse to start: its stderr.
    fn serve_fails(envs: &[(&str, &str)]) -> String {
        let out = Command::new(env!("CARGO_BIN_EXE_blog"))
            .args([
                "serve",
                "--addr",
                "127.0.0.1:1",
                "--database-url",
                "sqlite::memory:",
            ])
            .envs(envs.iter().copied())
            .output()
            .unwrap();
        assert!(!out.status.success(), "{envs:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    #[tokio::test]
    async fn bearer_tokens_are_verified_and_jwks_published() {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("key.pem");
        std::fs::write(&key_file, KEY).unwrap();
        let (mut child, base) = spawn(&[
            (
                "GRAPHLOOM_JWT_PRIVATE_KEY_FILE",
                key_file.display().to_string(),
            ),
            ("GRAPHLOOM_JWT_KID", "k1".into()),
            ("GRAPHLOOM_JWT_ISSUER", "accounts".into()),
        ]);
        let c: Http = Client::builder(TokioExecutor::new()).build_http();
        ready(&c, &base).await;
        user_one(&c, &base).await;
        let issuer = Issuer::new(
            SigningKey::ed25519_pem("k1", KEY.as_bytes()).unwrap(),
            "accounts",
            "blog",
            60,
        );
        let (good, claims) = issuer.issue("1", vec![], false, false).unwrap();

        let (status, _, body) = send(&c, with_token(&base, &format!("Bearer {good}"))).await;
        assert_eq!(status, 200, "{body}");
        let (status, _, body) = send(
            &c,
            Request::get(format!("{base}/.well-known/jwks.json"))
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(body["keys"][0]["kid"], "k1");
        assert_eq!(body["keys"][0]["kty"], "OKP");
        let jwks = body.to_string();

        let forge = |f: &dyn Fn(&mut Claims)| {
            let mut c = claims.clone();
            f(&mut c);
            issuer.sign(&c).unwrap()
        };
        let stranger = Issuer::new(
            SigningKey::ed25519_pem("k1", OTHER.as_bytes()).unwrap(),
            "accounts",
            "blog",
            60,
        );
        let unknown_kid = Issuer::new(
            SigningKey::ed25519_pem("k9", KEY.as_bytes()).unwrap(),
            "accounts",
            "blog",
            60,
        );
        let hs = Issuer::new(
            SigningKey::hs256(&[7u8; 32]).unwrap(),
            "accounts",
            "blog",
            60,
        );
        let cases: Vec<(String, &str)> = vec![
            (
                format!("Bearer {}", forge(&|c| c.exp = now() - 60)),
                "expired",
            ),
            (
                format!("Bearer {}", forge(&|c| c.nbf = now() + 600)),
                "not valid yet",
            ),
            (
                format!("Bearer {}", forge(&|c| c.iss = "evil".into())),
                "another issuer",
            ),
            (
                format!("Bearer {}", forge(&|c| c.aud = vec!["other".into()])),
                "another audience",
            ),
            (
                format!(
                    "Bearer {}",
                    stranger.issue("1", vec![], true, true).unwrap().0
                ),
                "signature is invalid",
            ),
            (
                format!(
                    "Bearer {}",
                    unknown_kid.issue("1", vec![], true, true).unwrap().0
                ),
                "key id is unknown",
            ),
            (
                format!("Bearer {}", hs.issue("1", vec![], true, true).unwrap().0),
                "`HS256` is not accepted",
            ),
            (
                "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.".into(),
                "`none` is not accepted",
            ),
            ("Bearer not.a.jwt".into(), "not a well-formed JWT"),
            (format!("Basic {good}"), "Bearer"),
        ];
        for (auth, why) in cases {
            let (status, _, body) = send(&c, with_token(&base, &auth)).await;
            assert_eq!(status, 401, "{why}: {body}");
            assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
            assert!(
                body["errors"][0]["message"].as_str().unwrap().contains(why),
                "{why}: {body}"
            );
        }
        // A verify-only service fetching the keys from the issuer's JWKS URL.
        let (mut by_url, url_base) = spawn(&[
            (
                "GRAPHLOOM_JWKS_URL",
                format!("{base}/.well-known/jwks.json"),
            ),
            ("GRAPHLOOM_JWT_ISSUER", "accounts".into()),
        ]);
        ready(&c, &url_base).await;
        let (status, _, _) = send(&c, with_token(&url_base, &format!("Bearer {good}"))).await;
        assert_eq!(status, 200);
        let (status, _, _) = send(
            &c,
            with_token(
                &url_base,
                &format!(
                    "Bearer {}",
                    stranger.issue("1", vec![], true, true).unwrap().0
                ),
            ),
        )
        .await;
        assert_eq!(status, 401);
        by_url.kill().unwrap();
        by_url.wait().unwrap();
        child.kill().unwrap();
        child.wait().unwrap();
        let err = serve_fails(&[("GRAPHLOOM_JWKS_URL", "https://example.invalid/jwks.json")]);
        assert!(err.contains("http:// URL"), "{err}");

        // A verify-only service trusts the published keys and holds no private key.
        let jwks_file = dir.path().join("jwks.json");
        std::fs::write(&jwks_file, jwks).unwrap();
        let (mut child, base) = spawn(&[
            ("GRAPHLOOM_JWKS_FILE", jwks_file.display().to_string()),
            ("GRAPHLOOM_JWT_ISSUER", "accounts".into()),
        ]);
        ready(&c, &base).await;
        let (status, _, _) = send(&c, with_token(&base, &format!("Bearer {good}"))).await;
        assert_eq!(status, 200);
        let (status, _, _) = send(
            &c,
            with_token(
                &base,
                &format!(
                    "Bearer {}",
                    stranger.issue("1", vec![], true, true).unwrap().0
                ),
            ),
        )
        .await;
        assert_eq!(status, 401);
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[tokio::test]
    async fn the_jwt_secret_can_come_from_a_file() {
        const SECRET: &str = "a-secret-mounted-from-a-file-0123";
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("jwt-secret");
        std::fs::write(&file, format!("{SECRET}\n")).unwrap();
        let (mut child, base) = spawn(&[
            ("GRAPHLOOM_JWT_SECRET_FILE", file.display().to_string()),
            ("GRAPHLOOM_JWT_SECRET", SECRET.into()),
        ]);
        // The secret twice, in the environment and a file, is a conflict.
        let status = child.wait().unwrap();
        assert!(!status.success());
        let (mut child, base2) =
            spawn(&[("GRAPHLOOM_JWT_SECRET_FILE", file.display().to_string())]);
        assert_ne!(base, base2);
        let c: Http = Client::builder(TokioExecutor::new()).build_http();
        ready(&c, &base2).await;
        user_one(&c, &base2).await;
        let token = |secret: &str| {
            let issuer = Issuer::new(
                SigningKey::hs256(secret.as_bytes()).unwrap(),
                "graphloom",
                "blog",
                60,
            );
            issuer.issue("1", vec![], false, false).unwrap().0
        };
        let good = format!("Bearer {}", token(SECRET));
        let (status, _, body) = send(&c, with_token(&base2, &good)).await;
        assert_eq!(status, 200, "{body}");
        let other = format!("Bearer {}", token("another-secret-of-enough-bytes-0123"));
        let (status, _, body) = send(&c, with_token(&base2, &other)).await;
        assert_eq!(status, 401, "{body}");
        child.kill().unwrap();
        child.wait().unwrap();
    }

    #[test]
    fn production_refuses_missing_or_weak_secrets() {
        for envs in [
            vec![("GRAPHLOOM_PRODUCTION", "1")],
            vec![
                ("GRAPHLOOM_PRODUCTION", "1"),
                ("GRAPHLOOM_JWT_SECRET", "short"),
            ],
            vec![
                ("GRAPHLOOM_PRODUCTION", "1"),
                ("GRAPHLOOM_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ],
        ] {
            let err = serve_fails(&envs);
            assert!(
                err.contains("GRAPHLOOM_JWT_SECRET")
                    || err.contains("at least 32")
                    || err.contains("GRAPHLOOM_SECRET_KEY"),
                "{err}"
            );
        }
        // Proper secrets, but access tokens that outlive a logout by an hour.
        let err = serve_fails(&[
            ("GRAPHLOOM_PRODUCTION", "1"),
            ("GRAPHLOOM_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("GRAPHLOOM_SECRET_KEY", "fedcba9876543210fedcba9876543210"),
            ("GRAPHLOOM_ACCESS_TTL", "3600"),
        ]);
        assert!(err.contains("GRAPHLOOM_ACCESS_TTL is 3600 s"), "{err}");
        // A gateway secret short enough to guess, and networks that do not parse.
        let err = serve_fails(&[("GRAPHLOOM_GATEWAY_SECRET", "short")]);
        assert!(
            err.contains("GRAPHLOOM_GATEWAY_SECRET: use at least 16 bytes"),
            "{err}"
        );
        // A manifest that is missing or not one, strict mode without one,
        // and APQ registration beside strict mode.
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, r#"{"format": "other", "operations": []}"#).unwrap();
        let bad = bad.display().to_string();
        let err = serve_fails(&[("GRAPHLOOM_TRUSTED_DOCUMENTS", &bad)]);
        assert!(err.contains("unknown format `other`"), "{err}");
        let err = serve_fails(&[("GRAPHLOOM_TRUSTED_DOCUMENTS", "/nonexistent/m.json")]);
        assert!(
            err.contains("cannot read the trusted documents manifest"),
            "{err}"
        );
        let err = serve_fails(&[("GRAPHLOOM_TRUSTED_DOCUMENTS_ONLY", "1")]);
        assert!(err.contains("--trusted-documents"), "{err}");
        let err = serve_fails(&[
            ("GRAPHLOOM_TRUSTED_DOCUMENTS", &bad),
            ("GRAPHLOOM_TRUSTED_DOCUMENTS_ONLY", "1"),
            ("GRAPHLOOM_APQ", "1"),
        ]);
        assert!(err.contains("cannot be used with"), "{err}");
        for var in ["GRAPHLOOM_GATEWAY_ADDRESSES", "GRAPHLOOM_TRUSTED_PROXIES"] {
            let err = serve_fails(&[(var, "10.0.0.0/33")]);
            assert!(
                err.contains("`10.0.0.0/33` is not an IP address or network"),
                "{err}"
            );
        }
    }
}

#[tokio::test]
async fn createsuperuser_and_changepassword_commands() {
    let dir = tempfile::tempdir().unwrap();
    let db_url = format!("sqlite:{}", dir.path().join("u.sqlite3").display());
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let out = Command::new(env!("CARGO_BIN_EXE_blog"))
            .args(args)
            .env("DATABASE_URL", &db_url)
            .envs(env.iter().copied())
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, out, err) = run(
        &[
            "createsuperuser",
            "--no-input",
            "--username",
            "root",
            "--email",
            "root@example.com",
        ],
        &[("GRAPHLOOM_SUPERUSER_PASSWORD", "a long unusual phrase")],
    );
    assert!(ok, "{err}");
    assert!(out.contains("Superuser created"));
    let (ok, _, err) = run(
        &[
            "createsuperuser",
            "--no-input",
            "--username",
            "weak",
            "--email",
            "w@example.com",
        ],
        &[("GRAPHLOOM_SUPERUSER_PASSWORD", "123")],
    );
    assert!(!ok && err.contains("too short"), "{err}");
    let (ok, _, err) = run(
        &[
            "createsuperuser",
            "--no-input",
            "--username",
            "x",
            "--email",
            "x@example.com",
        ],
        &[],
    );
    assert!(!ok && err.contains("GRAPHLOOM_SUPERUSER_PASSWORD"), "{err}");
    let db = graphloom::db::Database::connect(&db_url).await.unwrap();
    let row = |db: graphloom::db::Database| async move {
        db.fetch(
            &graphloom::db::RawSql(
                "SELECT password, is_superuser FROM auth_user WHERE username = 'root'".into(),
            ),
            &[
                graphloom::meta::ValueType::String,
                graphloom::meta::ValueType::Bool,
            ],
        )
        .await
        .unwrap()
    };
    let before = row(db.clone()).await;
    assert!(before[0][0].key_string().starts_with("$argon2id$"));
    assert_eq!(before[0][1], graphloom::meta::Value::Bool(true));
    let (ok, out, err) = run(
        &["changepassword", "root", "--no-input"],
        &[("GRAPHLOOM_PASSWORD", "another long phrase")],
    );
    assert!(ok && out.contains("Password changed"), "{err}");
    assert_ne!(row(db.clone()).await[0][0], before[0][0]);
    let (ok, _, err) = run(
        &["changepassword", "nobody", "--no-input"],
        &[("GRAPHLOOM_PASSWORD", "another long phrase")],
    );
    assert!(!ok && err.contains("no user `nobody`"), "{err}");
    db.close().await;
}
