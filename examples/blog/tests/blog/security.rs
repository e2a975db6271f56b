//! Limits that keep the service up on the open internet, over HTTP against
//! the real binary (and in process where a test needs its own data):
//! operation cost, depth, response size, slow clients, strict media types
//! and the GraphQL-over-HTTP status rules.

use std::{
    io::{Read, Write},
    net::TcpStream,
    time::{Duration, Instant},
};

use serde_json::json;

use crate::http::{post, send, start_with};

const RESPONSE: &str = "application/graphql-response+json";
/// Production mode wants a cursor key every instance shares.
const SECRET_KEY: &str = "a-cursor-key-of-at-least-32-bytes-for-tests";
const GATEWAY_SECRET: &str = "the-gateway-secret-for-tests";

fn gateway_post(
    base: &str,
    body: &str,
    secret: Option<&str>,
) -> hyper::Request<http_body_util::Full<hyper::body::Bytes>> {
    let mut b =
        hyper::Request::post(format!("{base}/graphql")).header("content-type", "application/json");
    if let Some(secret) = secret {
        b = b.header("x-gateway-secret", secret);
    }
    b.body(http_body_util::Full::new(hyper::body::Bytes::from(
        body.to_owned(),
    )))
    .unwrap()
}

#[tokio::test]
async fn an_amplification_attack_is_refused_before_any_sql() {
    let (s, c) = start_with(&["--body-limit", "1048576"], &[]).await;
    let one = "posts(first: 100) { nodes { id title body } }";
    let aliases: String = (0..10_000).map(|i| format!(" a{i}: {one}")).collect();
    let q = json!({ "query": format!("{{{aliases} }}") }).to_string();
    assert!(q.len() > 400_000);
    let t = Instant::now();
    let (status, _, body) = send(&c, post(&s.base, &q, Some(RESPONSE), "application/json")).await;
    let took = t.elapsed();
    assert_eq!(status, 400, "{body:.300}");
    assert!(
        body.get("data").is_none(),
        "a request error has no data: {body:.300}"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "COST_LIMIT_EXCEEDED"
    );
    // Refused by its token count, before the text is parsed.
    assert_eq!(body["errors"][0]["extensions"]["limit"], "tokens");
    assert_eq!(body["errors"][0]["extensions"]["max"], 15_000);
    assert_eq!(body["extensions"]["sql"]["count"], 0, "no statement ran");
    // A loose bound (a debug build, on a loaded machine): the refusal is a
    // scan of the text; parsing it took over a second in a debug build.
    assert!(took < Duration::from_millis(1000), "took {took:?}");

    // Fewer tokens but too many aliases: refused by the alias count.
    let aliases: String = (0..101)
        .map(|i| format!(" a{i}: post(id: 1) {{ id }}"))
        .collect();
    let q = json!({ "query": format!("{{{aliases} }}") }).to_string();
    let (_, _, body) = send(&c, post(&s.base, &q, None, "application/json")).await;
    let e = &body["errors"][0]["extensions"];
    assert_eq!(
        (e["code"].as_str(), e["limit"].as_str(), e["value"].as_u64()),
        (Some("COST_LIMIT_EXCEEDED"), Some("aliases"), Some(101)),
        "{body:.300}"
    );
    assert_eq!(body["extensions"]["sql"]["count"], 0);

    // Without aliases: fragments that spread each other twice, 2^12 times
    // the same page, are counted as written (and refused) in linear time.
    let mut doc = String::from("fragment F0 on Query { posts(first: 100) { nodes { id } } } ");
    for i in 1..=12 {
        doc += &format!("fragment F{i} on Query {{ ...F{p} ...F{p} }} ", p = i - 1);
    }
    let q = json!({ "query": format!("{{ ...F12 }} {doc}") }).to_string();
    let (_, _, body) = send(&c, post(&s.base, &q, None, "application/json")).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "COST_LIMIT_EXCEEDED",
        "{body:.300}"
    );
    assert_eq!(body["extensions"]["sql"]["count"], 0);

    // Each limit names itself, its value and its maximum.
    let wide = json!({ "query": "{ posts(first: 100) { nodes { comments(first: 100) { nodes { post { comments(first: 100) { nodes { id } } } } } } } }" }).to_string();
    let (status, _, body) = send(&c, post(&s.base, &wide, None, "application/json")).await;
    assert_eq!(status, 200, "application/json keeps 200");
    let e = &body["errors"][0]["extensions"];
    assert_eq!(
        (e["code"].as_str(), e["limit"].as_str()),
        (Some("COST_LIMIT_EXCEEDED"), Some("cost")),
        "{body}"
    );
    assert!(e["value"].as_u64() > e["max"].as_u64(), "{body}");

    // An ordinary nested query passes, and debugging shows what it cost.
    let ok = json!({ "query": "{ posts(first: 50) { nodes { title author { username } comments(first: 10) { nodes { body } } } } }" }).to_string();
    let (status, _, body) = send(&c, post(&s.base, &ok, None, "application/json")).await;
    assert_eq!(status, 200);
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["extensions"]["cost"]["rows"], 50 + 50 + 500, "{body}");
    assert_eq!(body["extensions"]["cost"]["maxCost"], 50_000);
}

#[tokio::test]
async fn depth_has_a_code_and_request_errors_have_no_data() {
    let (s, c) = start_with(&[], &[]).await;
    let mut deep = String::from("id");
    for _ in 0..4 {
        deep = format!("post {{ author {{ posts(first: 1) {{ nodes {{ {deep} }} }} }} }}");
    }
    let q = json!({ "query": format!("{{ comments(first: 1) {{ nodes {{ {deep} }} }} }}") })
        .to_string();
    let (status, _, body) = send(&c, post(&s.base, &q, Some(RESPONSE), "application/json")).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "DEPTH_LIMIT_EXCEEDED",
        "{body}"
    );
    assert!(body.get("data").is_none());

    // A syntax error or an invalid document never executed: no data either.
    for (query, code) in [
        ("{ posts {", "GRAPHQL_PARSE_FAILED"),
        ("{ posts { nope } }", "GRAPHQL_VALIDATION_FAILED"),
    ] {
        let q = json!({ "query": query }).to_string();
        let (status, _, body) =
            send(&c, post(&s.base, &q, Some(RESPONSE), "application/json")).await;
        assert_eq!(status, 400);
        assert!(body.get("data").is_none(), "{body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], code, "{body}");
    }

    // An operation that executed and whose root field failed: 200, data null.
    let q = json!({ "query": "{ posts(first: 1000) { nodes { id } } }" }).to_string();
    let (status, _, body) = send(&c, post(&s.base, &q, Some(RESPONSE), "application/json")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "PAGE_SIZE_EXCEEDED"
    );
    assert!(body.get("data").is_some_and(|d| d.is_null()), "{body}");
}

#[tokio::test]
async fn media_types_are_strict_and_compressed_bodies_refused() {
    let (s, c) = start_with(&[], &[]).await;
    let q = json!({ "query": "{ __typename }" }).to_string();
    for ct in ["application/jsonfoo", "application/json-seq", "text/json"] {
        let (status, _, body) = send(&c, post(&s.base, &q, None, ct)).await;
        assert_eq!(status, 415, "{ct}: {body}");
        assert_eq!(
            body["errors"][0]["extensions"]["code"],
            "UNSUPPORTED_MEDIA_TYPE"
        );
    }
    for ct in ["application/json", "Application/JSON; charset=utf-8"] {
        let (status, _, body) = send(&c, post(&s.base, &q, None, ct)).await;
        assert_eq!(status, 200, "{ct}: {body}");
    }
    let mut req = post(&s.base, &q, None, "application/json");
    req.headers_mut()
        .insert("content-encoding", "gzip".parse().unwrap());
    let (status, _, body) = send(&c, req).await;
    assert_eq!(status, 415, "{body}");
    assert!(
        !body.to_string().contains("gzip"),
        "the header value is not echoed: {body}"
    );
}

/// Reads until the server closes the connection; the time that took.
fn closed_within(mut stream: TcpStream, limit: Duration) -> Duration {
    let t = Instant::now();
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return t.elapsed(),
            Ok(_) => continue,
            Err(e) => panic!("still open after {:?}: {e}", t.elapsed()),
        }
    }
}

#[tokio::test]
async fn slow_clients_are_dropped() {
    let (s, _c) = start_with(
        &[],
        &[
            ("GRAPHLOOM_HEADER_TIMEOUT", "1"),
            ("GRAPHLOOM_BODY_TIMEOUT", "1"),
        ],
    )
    .await;
    let addr = s.base.trim_start_matches("http://");
    // Half the headers, then nothing.
    let mut half = TcpStream::connect(addr).unwrap();
    half.write_all(b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: applic")
        .unwrap();
    let took = closed_within(half, Duration::from_secs(5));
    assert!(took < Duration::from_millis(2500), "{took:?}");
    // The headers, and a body that never comes.
    let mut no_body = TcpStream::connect(addr).unwrap();
    no_body
        .write_all(b"POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"query\"")
        .unwrap();
    let took = closed_within(no_body, Duration::from_secs(5));
    assert!(took < Duration::from_millis(2500), "{took:?}");
}

#[tokio::test]
async fn production_turns_introspection_and_graphiql_off_and_cors_is_opt_in() {
    let (s, c) = start_with(
        &[],
        &[
            ("GRAPHLOOM_PRODUCTION", "1"),
            ("GRAPHLOOM_SECRET_KEY", SECRET_KEY),
            ("GRAPHLOOM_CORS_ORIGINS", "https://app.example.com"),
            ("GRAPHLOOM_GATEWAY_SECRET", GATEWAY_SECRET),
        ],
    )
    .await;
    let intro = json!({ "query": "{ __schema { queryType { name } } }" }).to_string();
    let (_, _, body) = send(&c, post(&s.base, &intro, None, "application/json")).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "INTROSPECTION_DISABLED",
        "{body}"
    );
    assert!(body.get("data").is_none(), "{body}");
    let typename = json!({ "query": "{ __typename }" }).to_string();
    let (_, _, body) = send(&c, post(&s.base, &typename, None, "application/json")).await;
    assert_eq!(body["data"]["__typename"], "Query");
    // Federation's fields are the gateway's: a client cannot resolve
    // entities past the gateway's checks, or read the SDL.
    let service = json!({ "query": "{ _service { sdl } }" }).to_string();
    let entities = json!({
        "query": "query($r: [_Any!]!) { _entities(representations: $r) { __typename } }",
        "variables": { "r": [{ "__typename": "Post", "id": "1" }] },
    })
    .to_string();
    for (q, field) in [(&service, "_service"), (&entities, "_entities")] {
        for secret in [None, Some("a-wrong-secret-of-some-length")] {
            let (status, _, body) = send(&c, gateway_post(&s.base, q, secret)).await;
            assert_eq!(
                body["errors"][0]["extensions"]["code"], "FORBIDDEN",
                "{field} {body}"
            );
            assert_eq!(status, 200, "a request error, like introspection's");
            assert!(
                body["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .contains("gateway")
            );
        }
    }
    // The gateway, with its secret, composes and plans through the subgraph
    // (and may introspect).
    let (_, _, body) = send(&c, gateway_post(&s.base, &service, Some(GATEWAY_SECRET))).await;
    let sdl = body["data"]["_service"]["sdl"].as_str().unwrap_or_default();
    assert!(sdl.contains("type Post"), "{body}");
    let (_, _, body) = send(&c, gateway_post(&s.base, &entities, Some(GATEWAY_SECRET))).await;
    assert!(body["data"]["_entities"].is_array(), "{body}");
    let (_, _, body) = send(&c, gateway_post(&s.base, &intro, Some(GATEWAY_SECRET))).await;
    assert_eq!(
        body["data"]["__schema"]["queryType"]["name"], "Query",
        "{body}"
    );
    let page = hyper::Request::get(format!("{}/graphql", s.base))
        .header("accept", "text/html")
        .body(http_body_util::Full::new(hyper::body::Bytes::new()))
        .unwrap();
    let (status, ct, _) = send(&c, page).await;
    assert!(
        status >= 400 && !ct.starts_with("text/html"),
        "{status} {ct}"
    );
    // A preflight from the allowed origin is answered; another origin is not allowed.
    for (origin, allowed) in [
        ("https://app.example.com", true),
        ("https://evil.example", false),
    ] {
        let pre = hyper::Request::builder()
            .method("OPTIONS")
            .uri(format!("{}/graphql", s.base))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type, authorization",
            )
            .body(http_body_util::Full::new(hyper::body::Bytes::new()))
            .unwrap();
        let res = c.request(pre).await.unwrap();
        let allow = res
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(
            allow.as_deref() == Some(origin),
            allowed,
            "{origin}: {:?}",
            res.headers()
        );
    }
    // REST's writes from a browser: PATCH with If-Match, and the answer's
    // headers readable.
    let pre = hyper::Request::builder()
        .method("OPTIONS")
        .uri(format!("{}/api/posts/1", s.base))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "PATCH")
        .header(
            "access-control-request-headers",
            "content-type, authorization, if-match",
        )
        .body(http_body_util::Full::new(hyper::body::Bytes::new()))
        .unwrap();
    let res = c.request(pre).await.unwrap();
    let h = res.headers();
    let get = |n: &str| {
        h.get(n)
            .map(|v| v.to_str().unwrap().to_ascii_lowercase())
            .unwrap_or_default()
    };
    assert!(
        get("access-control-allow-methods").contains("patch"),
        "{h:?}"
    );
    assert!(
        get("access-control-allow-headers").contains("if-match"),
        "{h:?}"
    );
    let res = c
        .request(
            hyper::Request::builder()
                .uri(format!("{}/api/posts/1", s.base))
                .header("origin", "https://app.example.com")
                .body(http_body_util::Full::new(hyper::body::Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    let exposed = res
        .headers()
        .get("access-control-expose-headers")
        .map(|v| v.to_str().unwrap().to_ascii_lowercase())
        .unwrap_or_default();
    assert!(
        exposed.contains("etag") && exposed.contains("link"),
        "{exposed}"
    );
    drop(s);
    // Switched back on explicitly.
    let (s, c) = start_with(
        &[],
        &[
            ("GRAPHLOOM_PRODUCTION", "1"),
            ("GRAPHLOOM_SECRET_KEY", SECRET_KEY),
            ("GRAPHLOOM_INTROSPECTION", "1"),
            ("GRAPHLOOM_MAX_ALIASES", "1"),
        ],
    )
    .await;
    let (_, _, body) = send(&c, post(&s.base, &intro, None, "application/json")).await;
    assert_eq!(
        body["data"]["__schema"]["queryType"]["name"], "Query",
        "{body}"
    );
    // The cost limits are settings too.
    let aliased = json!({ "query": "{ a: __typename b: __typename }" }).to_string();
    let (_, _, body) = send(&c, post(&s.base, &aliased, None, "application/json")).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "COST_LIMIT_EXCEEDED",
        "{body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["max"], 1, "{body}");
}

#[tokio::test]
async fn responses_over_the_size_limit_are_refused() {
    use graphloom::graphql::Config;
    let c = crate::common::small().await;
    let all = "{ posts(first: 20) { nodes { id body } } }";
    let bodies: usize = c.query(all).await["posts"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["body"].as_str().unwrap().len())
        .sum();
    let max = bodies as u64 / 2;
    assert!(max > 500, "the seeded bodies are long enough: {bodies}");
    // Each id 41 times: the rows read are 20 integers, the answer is not.
    let ids: String = (0..41).map(|i| format!(" a{i}: id")).collect();
    let repeated = format!("{{ posts(first: 20) {{ nodes {{{ids} }} }} }}");
    for fast_path in [true, false] {
        let mut config = Config {
            fast_path,
            ..c.api().runtime().config.clone()
        };
        config.limits.max_response_bytes = max;
        let limited = c.with_api(blog::service().api(c.db().clone(), config).unwrap());

        // The rows are wider than the budget: the statement stops reading
        // them, and the field that read them fails.
        let res = limited.execute(all, json!({})).await;
        assert_eq!(res["data"], json!(null), "{res}");
        let e = &res["errors"][0];
        assert_eq!(e["extensions"]["code"], "RESPONSE_TOO_LARGE", "{res}");
        assert_eq!(e["path"], json!(["posts"]), "{res}");

        // Few bytes read, but written many times over: the answer is
        // refused whole, after execution (so `data` is null, not absent).
        let res = limited.execute(&repeated, json!({})).await;
        assert_eq!(res["data"], json!(null), "{res}");
        assert_eq!(res["errors"].as_array().unwrap().len(), 1, "{res}");
        let e = &res["errors"][0]["extensions"];
        assert_eq!(
            (e["code"].as_str(), e["limit"].as_str(), e["max"].as_u64()),
            (Some("RESPONSE_TOO_LARGE"), Some("responseBytes"), Some(max)),
            "{res}"
        );

        // Within the limit, as before.
        let res = limited
            .execute("{ posts(first: 20) { nodes { id } } }", json!({}))
            .await;
        assert_eq!(res["data"]["posts"]["nodes"].as_array().unwrap().len(), 20);
    }

    // Over HTTP: a setting, and an executed request (200, `data: null`).
    let (s, h) = start_with(&[], &[("GRAPHLOOM_MAX_RESPONSE_BYTES", "300")]).await;
    let q = json!({ "query": "{ posts(first: 5) { nodes { a: id b: id c: id d: id e: id f: id g: id h: id i: id j: id } } }" })
        .to_string();
    let (status, _, body) = send(&h, post(&s.base, &q, Some(RESPONSE), "application/json")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"], json!(null), "{body}");
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "RESPONSE_TOO_LARGE",
        "{body}"
    );
    assert_eq!(body["errors"][0]["extensions"]["max"], 300, "{body}");
}

fn login_from(
    base: &str,
    login: &str,
    forwarded: &str,
) -> hyper::Request<http_body_util::Full<hyper::body::Bytes>> {
    let body = json!({
        "query": "mutation($l: String!) { login(input: { login: $l, password: \"not the password\" }) { accessToken errors { code } } }",
        "variables": { "l": login },
    });
    hyper::Request::post(format!("{base}/graphql"))
        .header("content-type", "application/json")
        .header("x-forwarded-for", forwarded)
        .body(http_body_util::Full::new(hyper::body::Bytes::from(
            body.to_string(),
        )))
        .unwrap()
}

/// The refusal's code: a request error's (a rate limit), or the payload's
/// (a wrong login is `INVALID` input).
async fn login_code(c: &crate::http::Http, base: &str, login: &str, forwarded: &str) -> String {
    let (_, _, body) = send(c, login_from(base, login, forwarded)).await;
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .or_else(|| body["data"]["login"]["errors"][0]["code"].as_str())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    // Trusted: each forwarded client has its own counters.
    let (s, c) = start_with(&["--trusted-proxies", "127.0.0.0/8"], &[]).await;
    for _ in 0..5 {
        assert_eq!(
            login_code(&c, &s.base, "ghost", "198.51.100.1").await,
            "INVALID"
        );
    }
    assert_eq!(
        login_code(&c, &s.base, "ghost", "198.51.100.1").await,
        "RATE_LIMITED"
    );
    assert_eq!(
        login_code(&c, &s.base, "ghost", "198.51.100.2").await,
        "INVALID",
        "another client behind the proxy is not held back"
    );
    // Untrusted (the default): the header is the client's word, ignored.
    let (s, c) = start_with(&[], &[]).await;
    for _ in 0..5 {
        assert_eq!(
            login_code(&c, &s.base, "ghost", "198.51.100.1").await,
            "INVALID"
        );
    }
    assert_eq!(
        login_code(&c, &s.base, "ghost", "198.51.100.2").await,
        "RATE_LIMITED",
        "a forged header does not buy more guesses"
    );
}

#[tokio::test]
async fn logins_hash_off_the_request_workers() {
    let (s, c) = start_with(&["--trusted-proxies", "127.0.0.1"], &[]).await;
    let cheap = json!({ "query": "{ post(id: \"1\") { id } }" }).to_string();
    let probe = |c: crate::http::Http, base: String, cheap: String| async move {
        let t = Instant::now();
        let (status, _, _) = send(&c, post(&base, &cheap, None, "application/json")).await;
        assert_eq!(status, 200);
        t.elapsed()
    };
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let mut idle = Vec::new();
    for _ in 0..9 {
        idle.push(probe(c.clone(), s.base.clone(), cheap.clone()).await);
    }
    // 100 logins at once, each a full argon2 verify (unknown users verify
    // the dummy hash), from 100 clients behind the proxy.
    let logins =
        futures_util::future::join_all(
            (0..100).map(|i| {
                let (c, base) = (c.clone(), s.base.clone());
                async move {
                    login_code(&c, &base, &format!("nobody{i}"), &format!("198.51.100.{i}")).await
                }
            }),
        );
    let probes = async {
        let mut busy = Vec::new();
        tokio::time::sleep(Duration::from_millis(30)).await;
        for _ in 0..9 {
            busy.push(probe(c.clone(), s.base.clone(), cheap.clone()).await);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        busy
    };
    let t = Instant::now();
    let (codes, busy) = tokio::join!(logins, probes);
    let logins_took = t.elapsed();
    assert!(codes.iter().all(|c| c == "INVALID"), "{codes:?}");
    let (idle, busy) = (median(idle), median(busy));
    eprintln!("cheap query: {idle:?} idle, {busy:?} during 100 logins ({logins_took:?})");
    assert!(
        busy < idle + Duration::from_millis(50),
        "a cheap query took {busy:?} during 100 logins ({logins_took:?}) against {idle:?} idle"
    );
}

#[tokio::test]
async fn the_gateway_can_be_known_by_its_address_or_federation_left_public() {
    let service = json!({ "query": "{ _service { sdl } }" }).to_string();
    let production = [
        ("GRAPHLOOM_PRODUCTION", "1"),
        ("GRAPHLOOM_SECRET_KEY", SECRET_KEY),
    ];
    for (extra, open) in [
        (("GRAPHLOOM_GATEWAY_ADDRESSES", "127.0.0.1"), true),
        (("GRAPHLOOM_GATEWAY_ADDRESSES", "10.0.0.0/8"), false),
        (("GRAPHLOOM_FEDERATION_PUBLIC", "1"), true),
    ] {
        let mut env = production.to_vec();
        env.push(extra);
        let (s, c) = start_with(&[], &env).await;
        let (_, _, body) = send(&c, gateway_post(&s.base, &service, None)).await;
        assert_eq!(
            body["data"]["_service"]["sdl"].is_string(),
            open,
            "{extra:?}: {body:.200}"
        );
    }
    // Outside production federation stays public, as before.
    let (s, c) = start_with(&[], &[]).await;
    let (_, _, body) = send(&c, gateway_post(&s.base, &service, None)).await;
    assert!(body["data"]["_service"]["sdl"].is_string());
}

mod trusted_documents {
    use serde_json::{Value, json};
    use sha2::{Digest, Sha256};

    use crate::http::{Http, send, start_with};

    const TITLE: &str = "query Title($id: ID!) { post(id: $id) { title } }";
    const RENAME: &str =
        "mutation Rename { updatePost(id: \"1\", input: { title: \"x\" }) { errors { code } } }";

    fn sha(text: &str) -> String {
        Sha256::digest(text.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// An Apollo persisted query manifest with both documents.
    fn manifest(dir: &std::path::Path) -> String {
        let ops: Vec<Value> = [(TITLE, "Title", "query"), (RENAME, "Rename", "mutation")]
            .iter()
            .map(|(body, name, ty)| json!({ "id": sha(body), "name": name, "type": ty, "body": body }))
            .collect();
        let m =
            json!({ "format": "apollo-persisted-query-manifest", "version": 1, "operations": ops });
        let path = dir.join("persisted-query-manifest.json");
        std::fs::write(&path, m.to_string()).unwrap();
        path.display().to_string()
    }

    async fn post(c: &Http, base: &str, body: Value, secret: Option<&str>) -> Value {
        let req = super::gateway_post(base, &body.to_string(), secret);
        send(c, req).await.2
    }

    fn code(body: &Value) -> &str {
        body["errors"][0]["extensions"]["code"]
            .as_str()
            .unwrap_or("")
    }

    #[tokio::test]
    async fn documents_by_id_from_a_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let path = manifest(dir.path());
        let (s, c) = start_with(&[], &[("GRAPHLOOM_TRUSTED_DOCUMENTS", &path)]).await;
        let vars = json!({ "id": "1" });
        for body in [
            json!({ "documentId": sha(TITLE), "variables": vars }),
            json!({ "documentId": format!("sha256:{}", sha(TITLE)), "variables": vars }),
            json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": sha(TITLE) } }, "variables": vars }),
        ] {
            let res = post(&c, &s.base, body.clone(), None).await;
            assert!(res["data"]["post"]["title"].is_string(), "{body}: {res}");
        }
        let get = format!(
            "{}/graphql?documentId={}&variables=%7B%22id%22%3A%221%22%7D",
            s.base,
            sha(TITLE)
        );
        let req = hyper::Request::get(get)
            .body(http_body_util::Full::default())
            .unwrap();
        let (status, _, res) = send(&c, req).await;
        assert_eq!(status, 200, "{res}");
        assert!(res["data"]["post"]["title"].is_string(), "{res}");
        // A mutation by id is still no GET.
        let req = hyper::Request::get(format!("{}/graphql?documentId={}", s.base, sha(RENAME)))
            .body(http_body_util::Full::default())
            .unwrap();
        assert_eq!(send(&c, req).await.0, 405);
        let res = post(&c, &s.base, json!({ "documentId": "0123" }), None).await;
        assert_eq!(code(&res), "PERSISTED_QUERY_NOT_FOUND", "{res}");
        // Without the strict mode other documents still run.
        let res = post(
            &c,
            &s.base,
            json!({ "query": "{ posts { totalCount } }" }),
            None,
        )
        .await;
        assert!(res["data"]["posts"]["totalCount"].is_number(), "{res}");
    }

    #[tokio::test]
    async fn only_trusted_documents_run_in_strict_mode() {
        let dir = tempfile::tempdir().unwrap();
        let path = manifest(dir.path());
        let (s, c) = start_with(
            &[],
            &[
                ("GRAPHLOOM_TRUSTED_DOCUMENTS", &path),
                ("GRAPHLOOM_TRUSTED_DOCUMENTS_ONLY", "1"),
                ("GRAPHLOOM_GATEWAY_SECRET", super::GATEWAY_SECRET),
            ],
        )
        .await;
        for q in [
            "{ posts { totalCount } }",
            "{ __schema { types { name } } }",
            "query Title($id: ID!) { post(id: $id) { title body } }",
        ] {
            let res = post(
                &c,
                &s.base,
                json!({ "query": q, "variables": { "id": "1" } }),
                None,
            )
            .await;
            assert_eq!(code(&res), "QUERY_NOT_IN_SAFELIST", "{q}: {res}");
            assert!(
                res.get("data").is_none() && res.get("extensions").is_none(),
                "no SQL ran: {res}"
            );
        }
        // The manifest's documents run, by id or by their exact text.
        let by_id = post(
            &c,
            &s.base,
            json!({ "documentId": sha(TITLE), "variables": { "id": "1" } }),
            None,
        )
        .await;
        assert!(by_id["data"]["post"]["title"].is_string(), "{by_id}");
        let by_text = post(
            &c,
            &s.base,
            json!({ "query": TITLE, "variables": { "id": "1" } }),
            None,
        )
        .await;
        assert_eq!(by_text["data"], by_id["data"]);
        let res = post(
            &c,
            &s.base,
            json!({ "documentId": sha("{ posts { totalCount } }") }),
            None,
        )
        .await;
        assert_eq!(code(&res), "PERSISTED_QUERY_NOT_FOUND");
        // The gateway plans its own subgraph queries: they are in no manifest.
        let res = post(
            &c,
            &s.base,
            json!({ "query": "{ _service { sdl } }" }),
            Some(super::GATEWAY_SECRET),
        )
        .await;
        assert!(res["data"]["_service"]["sdl"].is_string(), "{res}");
    }

    #[tokio::test]
    async fn automatic_persisted_queries_for_development() {
        let (s, c) = start_with(&[], &[("GRAPHLOOM_APQ", "1")]).await;
        let q = "{ posts { totalCount } }";
        let hash_only =
            json!({ "extensions": { "persistedQuery": { "version": 1, "sha256Hash": sha(q) } } });
        assert_eq!(
            code(&post(&c, &s.base, hash_only.clone(), None).await),
            "PERSISTED_QUERY_NOT_FOUND"
        );
        let mut register = hash_only.clone();
        register["query"] = json!(q);
        assert!(post(&c, &s.base, register, None).await["data"]["posts"]["totalCount"].is_number());
        assert!(
            post(&c, &s.base, hash_only, None).await["data"]["posts"]["totalCount"].is_number()
        );
        let forged = json!({ "query": "{ users { totalCount } }", "extensions": { "persistedQuery": { "version": 1, "sha256Hash": sha(q) } } });
        let (status, _, res) =
            send(&c, super::gateway_post(&s.base, &forged.to_string(), None)).await;
        assert_eq!((status, code(&res)), (400, "BAD_REQUEST"), "{res}");
        // Without a manifest or APQ, ids are not supported.
        let (s, c) = start_with(&[], &[]).await;
        let res = post(&c, &s.base, json!({ "documentId": sha(q) }), None).await;
        assert_eq!(code(&res), "PERSISTED_QUERY_NOT_SUPPORTED", "{res}");
    }
}
