//! Immediate revocation, over HTTP against the real binary: access tokens
//! carry their session, and every request checks it (one indexed lookup,
//! kept per instance for GRAPHLOOM_SESSION_CHECK_TTL_MS). On SQLite, and
//! on PostgreSQL when GRAPHLOOM_TEST_DATABASE_URL is set.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::http::{Http, call, serve_at, start_at};

/// A GraphQL request with an optional bearer token: (status, body).
async fn gql(c: &Http, base: &str, token: Option<&str>, query: &str, vars: Value) -> (u16, Value) {
    let bearer = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("content-type", "application/json")];
    headers.extend(bearer.iter().map(|b| ("authorization", b.as_str())));
    let body = json!({ "query": query, "variables": vars }).to_string();
    let (status, _, json) = call(c, "POST", &format!("{base}/graphql"), &headers, &body).await;
    (status, json)
}

/// Logs in; (access token, refresh token).
async fn login(c: &Http, base: &str, user: &str, password: &str) -> (String, String) {
    let (status, json) = gql(
        c,
        base,
        None,
        "mutation($l: String!, $p: String!) { login(input: { login: $l, password: $p }) { accessToken refreshToken } }",
        json!({ "l": user, "p": password }),
    )
    .await;
    assert_eq!(status, 200, "{json}");
    let p = &json["data"]["login"];
    let text = |k: &str| p[k].as_str().unwrap_or_else(|| panic!("{json}")).to_owned();
    (text("accessToken"), text("refreshToken"))
}

/// `me { username }` with the token: the username, or the error code.
async fn me(c: &Http, base: &str, token: &str) -> Result<String, String> {
    let (status, json) = gql(
        c,
        base,
        Some(token),
        "{ me { username isStaff } }",
        json!({}),
    )
    .await;
    match status {
        200 => Ok(json["data"]["me"]["username"]
            .as_str()
            .unwrap_or("")
            .to_owned()),
        _ => Err(format!(
            "{status} {}",
            json["errors"][0]["extensions"]["code"]
                .as_str()
                .unwrap_or("")
        )),
    }
}

const PASSWORD: &str = blog::seed::DEMO_PASSWORD;
const REFUSED: &str = "401 UNAUTHENTICATED";

#[tokio::test]
async fn each_revocation_refuses_the_access_token_on_the_next_request() {
    let url = graphloom_test::fresh_database_url().await;
    let (server, c) = start_at(&url, None, &[], &[]).await;
    let base = server.base.as_str();
    // Logout ends its session only.
    let (a1, r1) = login(&c, base, "user2", PASSWORD).await;
    let (a2, _) = login(&c, base, "user2", PASSWORD).await;
    assert_eq!(me(&c, base, &a1).await.as_deref(), Ok("user2"));
    let (_, json) = gql(
        &c,
        base,
        Some(&a1),
        "mutation($r: String!) { logout(input: { refreshToken: $r }) { ok } }",
        json!({ "r": r1 }),
    )
    .await;
    assert_eq!(json["data"]["logout"]["ok"], true, "{json}");
    assert_eq!(me(&c, base, &a1).await, Err(REFUSED.into()));
    assert_eq!(me(&c, base, &a2).await.as_deref(), Ok("user2"));
    // A password change ends the other sessions, not the one that made it.
    let (a3, r3) = login(&c, base, "user2", PASSWORD).await;
    let (_, json) = gql(
        &c,
        base,
        Some(&a2),
        "mutation($o: String!, $n: String!) { changePassword(input: { oldPassword: $o, newPassword: $n }) { ok } }",
        json!({ "o": PASSWORD, "n": "a new long passphrase 2" }),
    )
    .await;
    assert_eq!(json["data"]["changePassword"]["ok"], true, "{json}");
    assert_eq!(me(&c, base, &a3).await, Err(REFUSED.into()));
    assert_eq!(me(&c, base, &a2).await.as_deref(), Ok("user2"));
    let (_, json) = gql(
        &c,
        base,
        None,
        "mutation($r: String!) { refreshToken(input: { refreshToken: $r }) { accessToken errors { code } } }",
        json!({ "r": r3 }),
    )
    .await;
    assert_eq!(
        json["data"]["refreshToken"]["errors"][0]["code"], "INVALID",
        "{json}"
    );
    // Revoking every session ends the last one too.
    let (_, json) = gql(
        &c,
        base,
        Some(&a2),
        "mutation { revokeAllSessions }",
        json!({}),
    )
    .await;
    assert!(
        json["data"]["revokeAllSessions"].as_i64() >= Some(1),
        "{json}"
    );
    assert_eq!(me(&c, base, &a2).await, Err(REFUSED.into()));
    // The refusal says why.
    let (status, json) = gql(&c, base, Some(&a2), "{ me { id } }", json!({})).await;
    assert_eq!(status, 401);
    let message = json["errors"][0]["message"].as_str().unwrap_or("");
    assert!(message.starts_with("the session has ended"), "{message}");
}

/// Polls `me` with `token` until it is refused; how long that took.
async fn until_refused(c: &Http, base: &str, token: &str, within: Duration) -> Duration {
    let start = Instant::now();
    while me(c, base, token).await.is_ok() {
        assert!(start.elapsed() < within, "still accepted after {within:?}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    start.elapsed()
}

#[tokio::test]
async fn deactivation_and_demotion_reach_live_tokens_within_the_check_ttl() {
    let url = graphloom_test::fresh_database_url().await;
    let ttl = [("GRAPHLOOM_SESSION_CHECK_TTL_MS", "300")];
    let (server, c) = start_at(&url, None, &[], &ttl).await;
    let base = server.base.as_str();
    let (admin, _) = login(&c, base, "user1", PASSWORD).await;
    let update = |id: &str, input: Value| {
        let (c, base, admin, id) = (&c, base, admin.clone(), id.to_owned());
        async move {
            let (_, json) = gql(
                c,
                base,
                Some(&admin),
                "mutation($id: ID!, $i: UpdateUserInput!) { updateUser(id: $id, input: $i) { errors { code } } }",
                json!({ "id": id, "i": input }),
            )
            .await;
            assert_eq!(json["data"]["updateUser"]["errors"], json!([]), "{json}");
        }
    };
    // user3 made staff, logs in: the token says staff and tags may be made.
    update("3", json!({ "isStaff": true })).await;
    let (staff, _) = login(&c, base, "user3", PASSWORD).await;
    let create_tag = |name: &'static str| {
        let (c, base, staff) = (&c, base, staff.clone());
        async move {
            let (_, json) = gql(
                c,
                base,
                Some(&staff),
                "mutation($n: String!) { createTag(input: { name: $n }) { errors { code } } }",
                json!({ "n": name }),
            )
            .await;
            json["errors"][0]["extensions"]["code"]
                .as_str()
                .unwrap_or("OK")
                .to_owned()
        }
    };
    assert_eq!(create_tag("first").await, "OK");
    // Demoted: the token still says staff, the check does not.
    update("3", json!({ "isStaff": false })).await;
    let start = Instant::now();
    let mut n = 0;
    while create_tag(["a", "b", "c", "d", "e", "f", "g", "h"][n % 8]).await == "OK" {
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "still staff after 3 s"
        );
        n += 1;
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(create_tag("late").await, "FORBIDDEN");
    // Deactivated: refused, within the TTL (and a margin for a slow machine).
    let (user2, _) = login(&c, base, "user2", PASSWORD).await;
    assert_eq!(me(&c, base, &user2).await.as_deref(), Ok("user2"));
    update("2", json!({ "isActive": false })).await;
    until_refused(&c, base, &user2, Duration::from_secs(3)).await;
    assert_eq!(me(&c, base, &user2).await, Err(REFUSED.into()));
}

#[tokio::test]
async fn another_instance_on_the_same_database_refuses_within_its_ttl() {
    let url = graphloom_test::fresh_database_url().await;
    let (a, c) = start_at(&url, None, &[], &[]).await;
    let (b, _) = serve_at(
        &url,
        None,
        &["--no-migrate"],
        &[("GRAPHLOOM_SESSION_CHECK_TTL_MS", "400")],
    )
    .await;
    let (token, refresh) = login(&c, &a.base, "user2", PASSWORD).await;
    // B has checked the session and keeps the answer.
    assert_eq!(me(&c, &b.base, &token).await.as_deref(), Ok("user2"));
    let (_, json) = gql(
        &c,
        &a.base,
        Some(&token),
        "mutation($r: String!) { logout(input: { refreshToken: $r }) { ok } }",
        json!({ "r": refresh }),
    )
    .await;
    assert_eq!(json["data"]["logout"]["ok"], true, "{json}");
    // A at once; B once its answer is older than its TTL (400 ms).
    assert_eq!(me(&c, &a.base, &token).await, Err(REFUSED.into()));
    let took = until_refused(&c, &b.base, &token, Duration::from_secs(3)).await;
    assert!(
        took <= Duration::from_millis(400) + Duration::from_millis(500),
        "{took:?}"
    );
}

#[tokio::test]
async fn a_check_is_one_statement_and_its_answer_is_kept() {
    use graphloom::auth::DbSessions;
    use graphloom::server::{Session, SessionCache, SessionCheck};
    use graphloom_test::assert_num_queries;
    let client = crate::common::seeded(2, 0, 0, 0).await.anonymous();
    let data = client
        .query_vars(
            "mutation($p: String!) { login(input: { login: \"user2\", password: $p }) { accessToken } }",
            json!({ "p": PASSWORD }),
        )
        .await;
    let token = data["login"]["accessToken"].as_str().unwrap().to_owned();
    let claims = graphloom_test::test_issuer()
        .verifier()
        .unwrap()
        .verify(&token)
        .unwrap();
    assert!(claims.sid.is_some(), "a login's token names its session");
    let cache = std::sync::Arc::new(SessionCache::new(Duration::from_secs(60)));
    let sessions = DbSessions::new(
        std::sync::Arc::clone(client.api().engine()),
        std::sync::Arc::clone(&cache),
    );
    let live = Session::Live {
        staff: false,
        superuser: false,
    };
    // One statement (the user by key, the session by its indexed family),
    // then none while the answer is kept.
    assert_eq!(
        assert_num_queries!(1, sessions.check(&token, &claims)).unwrap(),
        live
    );
    assert_eq!(
        assert_num_queries!(0, sessions.check(&token, &claims)).unwrap(),
        live
    );
    // Kept for nothing: one statement every time.
    cache.set_ttl(Duration::ZERO);
    assert_num_queries!(1, sessions.check(&token, &claims)).unwrap();
    assert_num_queries!(1, sessions.check(&token, &claims)).unwrap();
    // A session id that is not one, or a user who is not there: ended.
    let mut forged = claims.clone();
    forged.sid = Some("not-a-uuid".into());
    assert_eq!(
        sessions.check(&token, &forged).await.unwrap(),
        Session::Ended
    );
    forged.sid = claims.sid.clone();
    forged.sub = "99".into();
    assert_eq!(
        sessions.check(&token, &forged).await.unwrap(),
        Session::Ended
    );
}

#[tokio::test]
async fn tokens_name_the_services_that_accept_them() {
    use graphloom::auth_core::token::{SigningKey, TokenError, Verifier};
    let url = graphloom_test::fresh_database_url().await;
    let (server, c) = start_at(
        &url,
        None,
        &[],
        &[("GRAPHLOOM_JWT_AUDIENCES", "products, gateway")],
    )
    .await;
    let (token, _) = login(&c, &server.base, "user2", PASSWORD).await;
    assert_eq!(me(&c, &server.base, &token).await.as_deref(), Ok("user2"));
    // The blog's own audience (its name) first, then the others; a
    // service of another name refuses it.
    let key = SigningKey::hs256(b"an-e2e-test-secret-of-enough-bytes").unwrap();
    let as_service = |aud: &str| Verifier::new("graphloom", aud).trust(&key).unwrap();
    let claims = as_service("gateway").verify(&token).unwrap();
    assert_eq!(claims.aud, ["blog", "products", "gateway"]);
    assert_eq!(
        as_service("reviews").verify(&token).unwrap_err(),
        TokenError::Audience
    );
}

/// A POST to /graphql with these extra headers: status, headers, body.
async fn raw(
    c: &Http,
    base: &str,
    headers: &[(&str, &str)],
    query: &str,
) -> (u16, hyper::HeaderMap, Value) {
    let mut all = vec![("content-type", "application/json")];
    all.extend_from_slice(headers);
    let body = json!({ "query": query }).to_string();
    call(c, "POST", &format!("{base}/graphql"), &all, &body).await
}

fn set_cookies(h: &hyper::HeaderMap) -> Vec<String> {
    h.get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn browsers_keep_the_session_in_an_http_only_cookie_behind_a_csrf_check() {
    let url = graphloom_test::fresh_database_url().await;
    let (server, c) = start_at(&url, None, &["--cookie-sessions"], &[]).await;
    let base = server.base.as_str();
    let login = format!(
        r#"mutation {{ login(input: {{ login: "user2", password: "{PASSWORD}", cookie: true }}) {{ accessToken refreshToken expiresIn user {{ username }} errors {{ code }} }} }}"#
    );
    let (status, headers, body) = raw(&c, base, &[], &login).await;
    assert_eq!(status, 200, "{body}");
    // The tokens are in cookies, not in the body.
    let payload = &body["data"]["login"];
    assert_eq!(
        (
            payload["accessToken"].clone(),
            payload["refreshToken"].clone()
        ),
        (Value::Null, Value::Null)
    );
    assert_eq!(payload["user"]["username"], "user2");
    let cookies = set_cookies(&headers);
    let session = cookies
        .iter()
        .find(|c| c.starts_with("graphloom_session="))
        .expect("a session cookie");
    let csrf = cookies
        .iter()
        .find(|c| c.starts_with("graphloom_csrf="))
        .expect("a CSRF cookie");
    for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(session.contains(attr), "{session} lacks {attr}");
    }
    assert!(
        !csrf.contains("HttpOnly"),
        "the page reads the CSRF cookie: {csrf}"
    );
    let value = |c: &str| {
        c.split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .1
            .to_owned()
    };
    let (s, t) = (value(session), value(csrf));
    let jar = format!("graphloom_session={s}; graphloom_csrf={t}");
    let me = "{ me { username } }";
    // With the CSRF header: the session's user.
    let (status, _, body) = raw(&c, base, &[("cookie", &jar), ("x-csrf-token", &t)], me).await;
    assert_eq!(
        (status, body["data"]["me"]["username"].clone()),
        (200, json!("user2")),
        "{body}"
    );
    // Without it, with another value, or without the CSRF cookie: refused.
    for headers in [
        vec![("cookie", jar.as_str())],
        vec![("cookie", jar.as_str()), ("x-csrf-token", "forged")],
        vec![
            ("cookie", &*format!("graphloom_session={s}")),
            ("x-csrf-token", &t),
        ],
    ] {
        let (status, _, body) = raw(&c, base, &headers, me).await;
        assert_eq!(status, 403, "{headers:?}: {body}");
        assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    }
    // A bearer token is checked as ever, cookie or not; no cookie is anonymous.
    let (bearer, _) = login_tokens_http(&c, base).await;
    let (status, _, body) = raw(
        &c,
        base,
        &[
            ("cookie", &jar),
            ("authorization", &format!("Bearer {bearer}")),
        ],
        me,
    )
    .await;
    assert_eq!(
        (status, body["data"]["me"]["username"].clone()),
        (200, json!("user3"))
    );
    let (_, _, body) = raw(&c, base, &[], me).await;
    assert_eq!(body["data"]["me"], Value::Null);
    // Logging out by the cookie ends the session and clears both cookies.
    let (status, headers, body) = raw(
        &c,
        base,
        &[("cookie", &jar), ("x-csrf-token", &t)],
        "mutation { logout(input: {}) { ok } }",
    )
    .await;
    assert_eq!(
        (status, body["data"]["logout"]["ok"].clone()),
        (200, json!(true)),
        "{body}"
    );
    let cleared = set_cookies(&headers);
    assert!(
        cleared.iter().all(|c| c.contains("Max-Age=0")) && cleared.len() == 2,
        "{cleared:?}"
    );
    let (status, headers, body) =
        raw(&c, base, &[("cookie", &jar), ("x-csrf-token", &t)], me).await;
    assert_eq!(status, 401, "{body}");
    assert!(set_cookies(&headers)[0].contains("Max-Age=0"));
}

async fn login_tokens_http(c: &Http, base: &str) -> (String, String) {
    login(c, base, "user3", PASSWORD).await
}

#[tokio::test]
async fn a_cookie_login_needs_cookie_sessions_on() {
    let url = graphloom_test::fresh_database_url().await;
    let (server, c) = start_at(&url, None, &[], &[]).await;
    let login = format!(
        r#"mutation {{ login(input: {{ login: "user2", password: "{PASSWORD}", cookie: true }}) {{ accessToken }} }}"#
    );
    let (_, headers, body) = raw(&c, &server.base, &[], &login).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "NOT_CONFIGURED",
        "{body}"
    );
    assert!(set_cookies(&headers).is_empty());
    // Without cookie sessions, a session cookie is not read at all.
    let (status, _, body) = raw(
        &c,
        &server.base,
        &[("cookie", "graphloom_session=x")],
        "{ me { id } }",
    )
    .await;
    assert_eq!((status, body["data"]["me"].clone()), (200, Value::Null));
}

#[tokio::test]
async fn the_issuer_answers_whether_a_token_is_live() {
    let url = graphloom_test::fresh_database_url().await;
    let (server, c) = start_at(&url, None, &[], &[]).await;
    let base = server.base.as_str();
    let introspect = |body: String| {
        let (c, url) = (c.clone(), format!("{base}/auth/introspect"));
        async move {
            call(
                &c,
                "POST",
                &url,
                &[("content-type", "application/json")],
                &body,
            )
            .await
        }
    };
    let (token, refresh) = login(&c, base, "user2", PASSWORD).await;
    let (status, _, body) = introspect(json!({ "token": token }).to_string()).await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            body["active"].clone(),
            body["sub"].clone(),
            body["staff"].clone()
        ),
        (json!(true), json!("2"), json!(false))
    );
    // A forged token, and the same token once its session ended: inactive.
    let (_, _, body) = introspect(json!({ "token": "not.a.token" }).to_string()).await;
    assert_eq!(body, json!({ "active": false }));
    gql(
        &c,
        base,
        Some(&token),
        "mutation($r: String!) { logout(input: { refreshToken: $r }) { ok } }",
        json!({ "r": refresh }),
    )
    .await;
    let (_, _, body) = introspect(json!({ "token": token }).to_string()).await;
    assert_eq!(body, json!({ "active": false }));
    // Not the body it takes: 400.
    let (status, _, body) = introspect("token".into()).await;
    assert_eq!(
        (status, body["errors"][0]["extensions"]["code"].clone()),
        (400, json!("BAD_REQUEST"))
    );
}

#[test]
fn cookie_sessions_need_signing_keys() {
    // Refused at start, not discovered at the first login.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_blog"))
        .args([
            "serve",
            "--cookie-sessions",
            "--database-url",
            "sqlite::memory:",
            "--addr",
            "127.0.0.1:0",
        ])
        .env_remove("GRAPHLOOM_JWT_SECRET")
        .env_remove("GRAPHLOOM_JWT_PRIVATE_KEY_FILE")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("GRAPHLOOM_COOKIE_SESSIONS needs the auth app and signing keys"),
        "{err}"
    );
}
