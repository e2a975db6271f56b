//! The password reset end to end: the real binary sends its email over
//! SMTP (GRAPHLOOM_EMAIL_URL) to a sink this test runs on 127.0.0.1, and
//! the link in it resets the password over HTTP.

use std::sync::{Arc, Mutex};

use serde_json::json;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::TcpListener,
};

use crate::http::start_at;

/// A minimal SMTP server that accepts every message and keeps its text.
async fn smtp_sink() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let messages = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&messages);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let kept = Arc::clone(&kept);
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 sink ESMTP\r\n").await.ok();
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(body) = data.as_mut() {
                        if line == "." {
                            kept.lock().unwrap().push(std::mem::take(body));
                            data = None;
                            write.write_all(b"250 queued\r\n").await.ok();
                        } else {
                            body.push_str(line.strip_prefix('.').unwrap_or(&line));
                            body.push('\n');
                        }
                        continue;
                    }
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250-sink\r\n250 8BITMIME\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go on\r\n"
                        }
                        "QUIT" => {
                            write.write_all(b"221 bye\r\n").await.ok();
                            break;
                        }
                        _ => b"250 ok\r\n",
                    };
                    write.write_all(reply).await.ok();
                }
            });
        }
    });
    (port, messages)
}

#[tokio::test]
async fn a_reset_link_sent_over_smtp_sets_a_new_password() {
    let (port, messages) = smtp_sink().await;
    let url = format!("smtp://127.0.0.1:{port}");
    // On SQLite, or on PostgreSQL when GRAPHLOOM_TEST_DATABASE_URL is set.
    let db = graphloom_test::fresh_database_url().await;
    let (server, c) = start_at(
        &db,
        None,
        &["--cookie-sessions"],
        &[
            ("GRAPHLOOM_EMAIL_URL", &url),
            ("GRAPHLOOM_EMAIL_FROM", "Blog <blog@example.com>"),
        ],
    )
    .await;
    let gql = |query: &str, vars: serde_json::Value| {
        let body = json!({ "query": query, "variables": vars }).to_string();
        crate::http::send(
            &c,
            crate::http::post(&server.base, &body, None, "application/json"),
        )
    };
    // A browser session of user2's, checked once (so this instance keeps
    // the answer): the reset must end it at once all the same.
    let (_, headers, _) = gql_headers(
        &c,
        &server.base,
        &[],
        r#"mutation { login(input: { login: "user2", password: "graphloom-demo", cookie: true }) { expiresIn } }"#,
    )
    .await;
    let jar = cookie_jar(&headers);
    let csrf = jar
        .split("graphloom_csrf=")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    let me = "{ me { username } }";
    let browser = [("cookie", jar.as_str()), ("x-csrf-token", csrf.as_str())];
    let (status, _, json) = gql_headers(&c, &server.base, &browser, me).await;
    assert_eq!(
        (status, json["data"]["me"]["username"].clone()),
        (200, json!("user2")),
        "{json}"
    );
    let (status, _, json) = gql(
        "mutation { requestPasswordReset(input: { email: \"user2@example.com\" }) { ok errors { code } } }",
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(
        json["data"]["requestPasswordReset"],
        json!({ "ok": true, "errors": [] })
    );
    let (message, token) = nth_token(&messages, 1).await;
    assert!(
        message.contains("From: Blog <blog@example.com>"),
        "{message}"
    );
    assert!(message.contains("To: user2@example.com"), "{message}");
    assert!(
        message.contains("Subject: Reset your password"),
        "{message}"
    );
    let (_, _, json) = gql(
        "mutation($t: String!) { resetPassword(input: { token: $t, newPassword: \"fresh long passphrase\" }) { ok errors { field code } } }",
        json!({ "t": token }),
    )
    .await;
    assert_eq!(
        json["data"]["resetPassword"],
        json!({ "ok": true, "errors": [] }),
        "{json}"
    );
    let (status, _, _) = gql_headers(&c, &server.base, &browser, me).await;
    assert_eq!(status, 401, "the browser session ended with the reset");
    let (_, _, json) = gql(
        "mutation { login(input: { login: \"user2\", password: \"fresh long passphrase\" }) { expiresIn } }",
        json!({}),
    )
    .await;
    assert!(json["data"]["login"]["expiresIn"].is_number(), "{json}");
}

/// A GraphQL request with these headers: status, headers, body.
async fn gql_headers(
    c: &crate::http::Http,
    base: &str,
    headers: &[(&str, &str)],
    query: &str,
) -> (u16, hyper::HeaderMap, serde_json::Value) {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    let body = json!({ "query": query }).to_string();
    crate::http::call(c, "POST", &format!("{base}/graphql"), &all, &body).await
}

/// The `Cookie` header a browser would send back after these `Set-Cookie`s.
fn cookie_jar(headers: &hyper::HeaderMap) -> String {
    headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Waits for the sink's `n`th message and returns it with the token of its
/// link (undoing quoted-printable: soft line breaks, `=3D`).
async fn nth_token(messages: &Arc<Mutex<Vec<String>>>, n: usize) -> (String, String) {
    for _ in 0..200 {
        if let Some(m) = messages.lock().unwrap().get(n - 1).cloned() {
            let unfolded = m.replace("=\n", "").replace("=3D", "=");
            let token = unfolded
                .split("token=")
                .nth(1)
                .and_then(|t| t.split_whitespace().next())
                .expect("a link with a token")
                .to_owned();
            return (m, token);
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("message {n} never came");
}

#[tokio::test]
async fn a_new_address_is_verified_and_changed_through_mailed_links() {
    let (port, messages) = smtp_sink().await;
    let url = format!("smtp://127.0.0.1:{port}");
    let db = graphloom_test::fresh_database_url().await;
    let (server, c) = start_at(&db, None, &[], &[("GRAPHLOOM_EMAIL_URL", &url)]).await;
    let gql = |query: String, token: Option<String>| {
        let c = c.clone();
        let base = server.base.clone();
        async move {
            let mut req = hyper::Request::post(format!("{base}/graphql"))
                .header("content-type", "application/json");
            if let Some(t) = token {
                req = req.header("authorization", format!("Bearer {t}"));
            }
            let body = json!({ "query": query }).to_string();
            let req = req
                .body(http_body_util::Full::new(hyper::body::Bytes::from(body)))
                .unwrap();
            crate::http::send(&c, req).await.2
        }
    };
    // Registering mails a verification link to the new address.
    let d = gql(
        r#"mutation { register(input: { username: "ann", email: "ann@example.com", password: "a long unusual phrase" }) { accessToken errors { code } } }"#.into(),
        None,
    )
    .await;
    let token = d["data"]["register"]["accessToken"]
        .as_str()
        .expect("registered")
        .to_owned();
    let (message, link) = nth_token(&messages, 1).await;
    assert!(
        message.contains("To: ann@example.com")
            && message.contains("Subject: Confirm your email address"),
        "{message}"
    );
    let verify = |t: &str| {
        format!(
            r#"mutation {{ verifyEmail(input: {{ token: "{t}" }}) {{ ok errors {{ field code }} }} }}"#
        )
    };
    let d = gql(verify(&link), None).await;
    assert_eq!(
        d["data"]["verifyEmail"],
        json!({ "ok": true, "errors": [] }),
        "{d}"
    );
    let d = gql(verify(&link), None).await;
    assert_eq!(
        d["data"]["verifyEmail"]["errors"],
        json!([{ "field": ["token"], "code": "INVALID" }]),
        "once only"
    );
    let d = gql("{ me { email emailVerified } }".into(), Some(token.clone())).await;
    assert_eq!(
        d["data"]["me"],
        json!({ "email": "ann@example.com", "emailVerified": true })
    );
    // A change is confirmed from the new address.
    let d = gql(
        r#"mutation { changeEmail(input: { newEmail: "ann@new.example", password: "a long unusual phrase" }) { ok } }"#.into(),
        Some(token.clone()),
    )
    .await;
    assert_eq!(d["data"]["changeEmail"]["ok"], true, "{d}");
    let (message, link) = nth_token(&messages, 2).await;
    assert!(message.contains("To: ann@new.example"), "{message}");
    gql(verify(&link), None).await;
    let d = gql("{ me { email } }".into(), Some(token)).await;
    assert_eq!(d["data"]["me"]["email"], "ann@new.example");
}
