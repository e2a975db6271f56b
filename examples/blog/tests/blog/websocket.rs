//! End to end: subscriptions over `graphql-transport-ws` against the real
//! binary, through a real WebSocket client, for every message and close
//! code the protocol has here; and over Server-Sent Events (`graphql-sse`,
//! distinct connections).

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use http_body_util::Full;
use hyper::{Request, body::Bytes};
use serde_json::{Value as Json, json};
use tokio_tungstenite::{
    MaybeTlsStream, WebSocketStream, connect_async,
    tungstenite::{Message, client::IntoClientRequest, http::HeaderValue},
};

use crate::http::{Http, Server, send, serve_at, start_at, start_with};

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

const SECRET: &str = "an-e2e-test-secret-of-enough-bytes";

pub(crate) fn token(user: &str, ttl: u64) -> String {
    use graphloom::auth_core::token::{Issuer, SigningKey};
    let issuer = Issuer::new(
        SigningKey::hs256(SECRET.as_bytes()).unwrap(),
        "graphloom",
        "blog",
        ttl,
    );
    issuer.issue(user, Vec::new(), true, true).unwrap().0
}

fn ws_url(server: &Server) -> String {
    format!("{}/graphql", server.base.replace("http://", "ws://"))
}

/// A socket that asked for `graphql-transport-ws` (or `protocol`).
async fn open_with(server: &Server, protocol: Option<&str>) -> Socket {
    let mut req = ws_url(server).into_client_request().unwrap();
    if let Some(p) = protocol {
        req.headers_mut()
            .insert("sec-websocket-protocol", HeaderValue::from_str(p).unwrap());
    }
    connect_async(req).await.unwrap().0
}

async fn open(server: &Server) -> Socket {
    open_with(server, Some("graphql-transport-ws")).await
}

async fn put(ws: &mut Socket, m: Json) {
    ws.send(Message::text(m.to_string())).await.unwrap();
}

/// The next protocol message (the server's pings answered on the way).
async fn next(ws: &mut Socket) -> Json {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a message within 5 s")
            .expect("the socket is open")
            .unwrap();
        match m {
            Message::Text(t) => {
                let v: Json = serde_json::from_str(&t).unwrap();
                if v["type"] == "ping" {
                    put(ws, json!({ "type": "pong" })).await;
                    continue;
                }
                return v;
            }
            Message::Close(frame) => panic!("closed: {frame:?}"),
            _ => continue,
        }
    }
}

/// Waits for the close frame: its code and reason.
async fn closed(ws: &mut Socket) -> (u16, String) {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("closed within 5 s");
        match m {
            Some(Ok(Message::Close(Some(f)))) => return (u16::from(f.code), f.reason.to_string()),
            Some(Ok(Message::Close(None))) | None | Some(Err(_)) => {
                panic!("closed without a code")
            }
            Some(Ok(_)) => continue,
        }
    }
}

async fn ready(server: &Server, init: Json) -> Socket {
    let mut ws = open(server).await;
    put(
        &mut ws,
        json!({ "type": "connection_init", "payload": init }),
    )
    .await;
    assert_eq!(next(&mut ws).await, json!({ "type": "connection_ack" }));
    ws
}

fn mutation(base: &str, query: &str) -> Request<Full<Bytes>> {
    Request::post(format!("{base}/graphql"))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", token("1", 600)))
        .body(Full::new(Bytes::from(
            json!({ "query": query }).to_string(),
        )))
        .unwrap()
}

async fn retitle(c: &Http, base: &str, id: &str, title: &str) {
    let q = format!(
        r#"mutation {{ updatePost(id: "{id}", input: {{ title: "{title}" }}) {{ errors {{ code }} }} }}"#
    );
    let (status, _, body) = send(c, mutation(base, &q)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["updatePost"]["errors"], json!([]), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_protocol_and_its_close_codes() {
    let (blog, c) = start_with(&["--ws-init-timeout", "1"], &[]).await;
    let bearer = format!("Bearer {}", token("1", 600));

    // 4406: another subprotocol (or none).
    let mut ws = open_with(&blog, None).await;
    assert_eq!(closed(&mut ws).await.0, 4406);
    // 4408: no connection_init in time.
    let mut ws = open(&blog).await;
    assert_eq!(
        closed(&mut ws).await,
        (4408, "Connection initialisation timeout".into())
    );
    // 4400: not JSON; not a message of the protocol.
    let mut ws = open(&blog).await;
    ws.send(Message::text("{nope")).await.unwrap();
    assert_eq!(closed(&mut ws).await.0, 4400);
    let mut ws = open(&blog).await;
    put(&mut ws, json!({ "type": "start", "id": "1" })).await;
    assert_eq!(closed(&mut ws).await.0, 4400);
    // 4401: subscribe before the acknowledgement.
    let mut ws = open(&blog).await;
    put(&mut ws, json!({ "type": "subscribe", "id": "1", "payload": { "query": "{ posts { totalCount } }" } })).await;
    assert_eq!(closed(&mut ws).await, (4401, "Unauthorized".into()));
    // 4403: a forged token.
    let mut ws = open(&blog).await;
    put(
        &mut ws,
        json!({ "type": "connection_init", "payload": { "Authorization": "Bearer forged" } }),
    )
    .await;
    let (code, reason) = closed(&mut ws).await;
    assert_eq!(code, 4403, "{reason}");
    assert!(reason.starts_with("Forbidden"), "{reason}");
    // 4429: a second connection_init.
    let mut ws = ready(&blog, json!({})).await;
    put(&mut ws, json!({ "type": "connection_init" })).await;
    assert_eq!(closed(&mut ws).await.0, 4429);

    // The token in `headers`, as some clients send it; ping and pong.
    let mut ws = ready(&blog, json!({ "headers": { "Authorization": bearer } })).await;
    put(&mut ws, json!({ "type": "ping", "payload": { "n": 1 } })).await;
    assert_eq!(
        next(&mut ws).await,
        json!({ "type": "pong", "payload": { "n": 1 } })
    );
    // A query runs once: next, then complete.
    put(&mut ws, json!({ "type": "subscribe", "id": "q", "payload": { "query": "{ post(id: \"1\") { id } }" } })).await;
    let m = next(&mut ws).await;
    assert_eq!((&m["type"], &m["id"]), (&json!("next"), &json!("q")));
    assert_eq!(m["payload"]["data"], json!({ "post": { "id": "1" } }));
    assert_eq!(
        next(&mut ws).await,
        json!({ "type": "complete", "id": "q" })
    );
    // A document that does not validate: `error`, and no complete.
    put(&mut ws, json!({ "type": "subscribe", "id": "bad", "payload": { "query": "subscription { postChanged { nope } }" } })).await;
    let e = next(&mut ws).await;
    assert_eq!(e["type"], "error");
    assert_eq!(e["id"], "bad");
    assert_eq!(
        e["payload"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    // A subscription: each write arrives as `next`.
    put(&mut ws, json!({ "type": "subscribe", "id": "s", "payload": {
        "query": "subscription($w: PostFilter) { postChanged(where: $w) { kind id node { title author { username } } } }",
        "variables": { "w": { "id": { "eq": "2" } } },
    } })).await;
    retitle(&c, &blog.base, "1", "Not this one").await;
    retitle(&c, &blog.base, "2", "Over the wire").await;
    let m = next(&mut ws).await;
    assert_eq!((&m["type"], &m["id"]), (&json!("next"), &json!("s")));
    assert_eq!(
        m["payload"]["data"]["postChanged"],
        json!({ "kind": "UPDATED", "id": "2", "node": { "title": "Over the wire", "author": { "username": "user2" } } })
    );
    // `complete` from the client stops it: the next write sends nothing,
    // and the id may be used again.
    put(&mut ws, json!({ "type": "complete", "id": "s" })).await;
    put(&mut ws, json!({ "type": "ping" })).await;
    assert_eq!(next(&mut ws).await["type"], "pong");
    retitle(&c, &blog.base, "2", "Unheard").await;
    put(&mut ws, json!({ "type": "ping" })).await;
    assert_eq!(
        next(&mut ws).await["type"],
        "pong",
        "no event after complete"
    );
    // 4409: an id that is running.
    let sub = json!({ "type": "subscribe", "id": "s", "payload": { "query": "subscription { postChanged { id } }" } });
    put(&mut ws, sub.clone()).await;
    put(&mut ws, sub).await;
    assert_eq!(
        closed(&mut ws).await,
        (4409, "Subscriber for s already exists".into())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_per_connection_and_per_address() {
    let (blog, _c) = start_with(
        &[
            "--ws-max-subscriptions",
            "2",
            "--ws-max-connections",
            "2",
            "--ws-keep-alive",
            "1",
        ],
        &[],
    )
    .await;
    let mut ws = ready(&blog, json!({})).await;
    // The server pings an idle connection; the client's pong is taken.
    let ping = tokio::time::timeout(Duration::from_secs(3), ws.next())
        .await
        .expect("a ping within 3 s")
        .unwrap()
        .unwrap();
    assert_eq!(ping, Message::text(r#"{"type":"ping"}"#));
    put(&mut ws, json!({ "type": "pong" })).await;
    for id in ["a", "b", "c"] {
        put(&mut ws, json!({ "type": "subscribe", "id": id, "payload": { "query": "subscription { postChanged { id } }" } })).await;
    }
    let e = next(&mut ws).await;
    assert_eq!(e["type"], "error");
    assert_eq!(e["id"], "c");
    assert_eq!(e["payload"][0]["extensions"]["code"], "RATE_LIMITED");
    // A second connection is fine; a third from the address is refused.
    let _second = open(&blog).await;
    let refused = connect_async(ws_url(&blog)).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
            assert_eq!(res.status(), 429)
        }
        other => panic!("expected 429, got {:?}", other.map(|_| ())),
    }
    drop(ws);
    // A closed connection gives its place back.
    let mut again = None;
    for _ in 0..50 {
        if let Ok((s, _)) = connect_async(ws_url(&blog)).await {
            again = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(again.is_some(), "the place was not given back");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_ends_the_connection() {
    let (blog, _c) = start_with(&[], &[]).await;
    let mut ws = ready(
        &blog,
        json!({ "Authorization": format!("Bearer {}", token("1", 2)) }),
    )
    .await;
    put(&mut ws, json!({ "type": "subscribe", "id": "s", "payload": { "query": "subscription { postChanged { id } }" } })).await;
    let (code, reason) = closed(&mut ws).await;
    assert_eq!(code, 4403, "{reason}");
    assert!(reason.contains("expired"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_consumer_is_dropped_not_buffered() {
    let (blog, c) = start_with(&["--ws-queue", "4", "--body-limit", "300000"], &[]).await;
    let mut ws = ready(&blog, json!({})).await;
    put(&mut ws, json!({ "type": "subscribe", "id": "s", "payload": { "query": "subscription { postChanged { node { body } } }" } })).await;
    // The client stops reading; each event is 100 KB.
    let body = "x".repeat(100_000);
    for i in 0..60 {
        let q = format!(
            r#"mutation {{ updatePost(id: "1", input: {{ body: "{i}{body}" }}) {{ errors {{ code }} }} }}"#
        );
        let (status, _, res) = send(&c, mutation(&blog.base, &q)).await;
        assert_eq!(status, 200, "{res}");
    }
    // What was in flight is read, then the close: 1008, saying why.
    let mut events = 0;
    let (code, reason) = loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Text(_)))) => events += 1,
            Ok(Some(Ok(Message::Close(Some(f))))) => {
                break (u16::from(f.code), f.reason.to_string());
            }
            Ok(Some(Ok(_))) => {}
            other => panic!("no close frame: {other:?}"),
        }
    };
    assert_eq!(code, 1008, "{reason}");
    assert!(reason.starts_with("slow consumer"), "{reason}");
    assert!(
        events < 60,
        "{events} events were buffered for a client that did not read"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_on_one_instance_reaches_subscribers_of_another_through_postgres() {
    let pg = crate::ops::Cluster::start();
    let (one, c) = start_at(&pg.url(), None, &[], &[]).await;
    let (two, _) = serve_at(&pg.url(), None, &[], &[]).await;
    let mut ws = ready(&two, json!({})).await;
    put(&mut ws, json!({ "type": "subscribe", "id": "s", "payload": { "query": "subscription { postChanged { kind id node { title } } }" } })).await;
    // Subscribed once a later message is answered.
    put(&mut ws, json!({ "type": "ping" })).await;
    assert_eq!(next(&mut ws).await["type"], "pong");
    let mut took = Vec::new();
    for i in 0..100 {
        let title = format!("From one {i}");
        let sent = Instant::now();
        retitle(&c, &one.base, "1", &title).await;
        let m = next(&mut ws).await;
        took.push(sent.elapsed());
        assert_eq!(
            m["payload"]["data"]["postChanged"],
            json!({ "kind": "UPDATED", "id": "1", "node": { "title": title } })
        );
    }
    took.sort();
    eprintln!(
        "across instances, write sent to event received, 100 writes: p50 {:?}, p99 {:?}",
        took[49], took[98]
    );
    // The listener's connection is killed: it connects again, and the
    // subscriber is told it may have missed changes.
    let db = graphloom::db::Database::connect(&pg.url()).await.unwrap();
    db.execute(&graphloom::db::RawSql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN %'".into(),
    ))
    .await
    .unwrap();
    let m = next(&mut ws).await;
    assert_eq!(
        m["payload"]["data"]["postChanged"],
        json!({ "kind": "RESYNC", "id": null, "node": null })
    );
    // And it hears the other instance again.
    retitle(&c, &one.base, "1", "After the reconnect").await;
    let m = next(&mut ws).await;
    assert_eq!(
        m["payload"]["data"]["postChanged"]["node"]["title"],
        "After the reconnect"
    );
    db.close().await;
}

/// The events of an event stream as they come: (event, data).
pub(crate) struct Events {
    body: hyper::body::Incoming,
    buf: String,
}

impl Events {
    pub(crate) async fn next(&mut self) -> Option<(String, String)> {
        use http_body_util::BodyExt;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let (mut event, mut data) = (String::new(), String::new());
                for line in block.lines() {
                    if let Some(e) = line.strip_prefix("event: ") {
                        event = e.to_owned();
                    } else if let Some(d) = line.strip_prefix("data:") {
                        data.push_str(d.trim_start());
                    }
                }
                // A comment (the keep-alive) is no event.
                if event.is_empty() && data.is_empty() {
                    continue;
                }
                return Some((event, data));
            }
            let frame = tokio::time::timeout(Duration::from_secs(5), self.body.frame())
                .await
                .expect("an event within 5 s")?
                .ok()?;
            if let Ok(bytes) = frame.into_data() {
                self.buf.push_str(std::str::from_utf8(&bytes).unwrap());
            }
        }
    }
}

pub(crate) async fn stream(
    c: &Http,
    base: &str,
    query: &str,
    token: Option<&str>,
) -> (u16, String, Events) {
    let mut req = Request::post(format!("{base}/graphql"))
        .header("content-type", "application/json")
        .header("accept", "text/event-stream");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = req
        .body(Full::new(Bytes::from(
            json!({ "query": query }).to_string(),
        )))
        .unwrap();
    let res = c.request(req).await.unwrap();
    let status = res.status().as_u16();
    let ct = res.headers()["content-type"].to_str().unwrap().to_owned();
    (
        status,
        ct,
        Events {
            body: res.into_body(),
            buf: String::new(),
        },
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_sent_events_carry_subscriptions_over_http() {
    let (blog, c) = start_with(&[], &[]).await;
    let t = token("1", 600);
    let (status, ct, mut events) = stream(
        &c,
        &blog.base,
        "subscription { postChanged { kind id node { title } } }",
        Some(&t),
    )
    .await;
    assert_eq!((status, ct.as_str()), (200, "text/event-stream"));
    // The stream is open once its headers came: writes reach it.
    retitle(&c, &blog.base, "3", "By SSE").await;
    let (event, data) = events.next().await.unwrap();
    assert_eq!(event, "next");
    let data: Json = serde_json::from_str(&data).unwrap();
    assert_eq!(
        data["data"]["postChanged"],
        json!({ "kind": "UPDATED", "id": "3", "node": { "title": "By SSE" } })
    );
    // A query is one `next`, then `complete`.
    let (_, _, mut once) = stream(&c, &blog.base, "{ post(id: \"3\") { title } }", None).await;
    let (event, data) = once.next().await.unwrap();
    assert_eq!(event, "next");
    assert_eq!(
        serde_json::from_str::<Json>(&data).unwrap()["data"],
        json!({ "post": { "title": "By SSE" } })
    );
    assert_eq!(once.next().await.unwrap().0, "complete");
    assert!(once.next().await.is_none(), "the stream ends");
    // A document that does not validate is a plain 400 with errors.
    let (status, ct, mut bad) = stream(
        &c,
        &blog.base,
        "subscription { postChanged { nope } }",
        None,
    )
    .await;
    assert_eq!((status, ct.as_str()), (400, "application/json"));
    let (_, data) = (String::new(), {
        use http_body_util::BodyExt;
        let b = (&mut bad.body).collect().await.unwrap().to_bytes();
        String::from_utf8(b.to_vec()).unwrap()
    });
    let body: Json = serde_json::from_str(&data).unwrap();
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        "GRAPHQL_VALIDATION_FAILED"
    );
    // By GET too (browsers' EventSource), but never a mutation.
    let get = |q: &str| {
        let url = format!(
            "{}/graphql?query={}",
            blog.base,
            form_urlencoded::byte_serialize(q.as_bytes()).collect::<String>()
        );
        Request::get(url)
            .header("accept", "text/event-stream")
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let res = c
        .request(get("subscription { postChanged { id } }"))
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    drop(res);
    let res = c
        .request(get(
            r#"mutation { deletePost(id: "1") { errors { code } } }"#,
        ))
        .await
        .unwrap();
    assert_eq!(res.status(), 405);
    // A bad token is refused before any stream.
    let (status, _, _) = stream(
        &c,
        &blog.base,
        "subscription { postChanged { id } }",
        Some("forged"),
    )
    .await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_websockets_with_1001() {
    let (blog, _c) = start_with(&[], &[]).await;
    let mut ws = ready(&blog, json!({})).await;
    put(&mut ws, json!({ "type": "subscribe", "id": "s", "payload": { "query": "subscription { postChanged { id } }" } })).await;
    let pid = blog.child.id().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(
        closed(&mut ws).await,
        (1001, "the server is shutting down".into())
    );
}
