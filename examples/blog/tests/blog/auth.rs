//! The auth app: registration, login, refresh-token rotation with reuse
//! detection, logout, session revocation, password changes, rate limiting, and
//! secrets that never leave the server.

use std::time::Duration;

use graphloom::{
    MakeArgs, Service,
    auth::{AuthSettings, Hasher, Throttling},
    db::RawSql,
};
use graphloom_test::{TestClient, codes, test_issuer};
use serde_json::{Value as Json, json};

fn settings() -> AuthSettings {
    AuthSettings {
        // Cheap hashes: tests hash a lot.
        hasher: Hasher::new(1024, 1, 1).unwrap(),
        ..AuthSettings::default()
    }
}

fn service_with(settings: AuthSettings) -> Service {
    Service::new("accounts").app(graphloom::auth::app_with(settings))
}

async fn client() -> TestClient {
    TestClient::new(&service_with(settings())).await
}

const REGISTER: &str = r#"mutation($u: String!, $e: String!, $p: String!) { register(input: { username: $u, email: $e, password: $p }) { accessToken refreshToken expiresIn user { username email } errors { field message code } } }"#;
const LOGIN: &str = r#"mutation($l: String!, $p: String!) { login(input: { login: $l, password: $p }) { accessToken refreshToken user { id } errors { field message code } } }"#;
const REFRESH: &str = r#"mutation($r: String!) { refreshToken(input: { refreshToken: $r }) { accessToken refreshToken errors { field message code } } }"#;

async fn register(c: &TestClient, name: &str) -> Json {
    c.query_vars(
        REGISTER,
        json!({ "u": name, "e": format!("{name}@example.com"), "p": "a long unusual phrase" }),
    )
    .await["register"]
        .clone()
}

/// The payload of `field`, or its refusal: the request's errors (a rate
/// limit), or the payload's `errors` shaped like them (`message`,
/// `extensions.code`), so `codes` reads both.
fn outcome(res: Json, field: &str) -> Result<Json, Vec<Json>> {
    if let Some(Json::Array(e)) = res.get("errors") {
        return Err(e.clone());
    }
    let payload = &res["data"][field];
    match payload["errors"].as_array() {
        Some(errors) if !errors.is_empty() => Err(errors
            .iter()
            .map(|e| json!({ "message": e["message"], "field": e["field"], "extensions": { "code": e["code"] } }))
            .collect()),
        _ => Ok(payload.clone()),
    }
}

async fn login(c: &TestClient, login: &str, password: &str) -> Result<Json, Vec<Json>> {
    outcome(
        c.execute(LOGIN, json!({ "l": login, "p": password })).await,
        "login",
    )
}

async fn refresh(c: &TestClient, token: &Json) -> Result<Json, Vec<Json>> {
    outcome(
        c.execute(REFRESH, json!({ "r": token })).await,
        "refreshToken",
    )
}

async fn register_refused(c: &TestClient, vars: Json) -> Vec<Json> {
    outcome(c.execute(REGISTER, vars).await, "register").unwrap_err()
}

#[test]
fn the_auth_migrations_match_its_models() {
    let code = service_with(settings())
        .makemigrations(&MakeArgs {
            check: true,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(code, 0);
}

#[tokio::test]
async fn register_then_me_with_the_access_token() {
    let c = client().await;
    let r = register(&c, "ann").await;
    assert_eq!(
        r["user"],
        json!({ "username": "ann", "email": "ann@example.com" }),
        "the new user sees their own email"
    );
    assert_eq!(r["expiresIn"], 300);
    let claims = test_issuer()
        .verifier()
        .unwrap()
        .verify(r["accessToken"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        (claims.iss.as_str(), claims.aud.as_slice()),
        ("graphloom", ["graphloom".to_owned()].as_slice())
    );
    let me = c
        .with_token(r["accessToken"].as_str().unwrap())
        .unwrap()
        .query("{ me { username email isStaff } }")
        .await;
    assert_eq!(
        me["me"],
        json!({ "username": "ann", "email": "ann@example.com", "isStaff": false })
    );
    assert_eq!(c.query("{ me { username } }").await["me"], Json::Null);
    // Others do not see ann's email.
    register(&c, "bob").await;
    let bob = login(&c, "bob", "a long unusual phrase").await.unwrap();
    let users = c
        .with_token(bob["accessToken"].as_str().unwrap())
        .unwrap()
        .query("{ users { nodes { username email } } }")
        .await;
    assert_eq!(
        users["users"]["nodes"],
        json!([{ "username": "ann", "email": null }, { "username": "bob", "email": "bob@example.com" }])
    );
}

#[tokio::test]
async fn registration_checks_passwords_and_names() {
    let c = client().await;
    for (u, e, p, why) in [
        ("ann", "ann@x.io", "short", "too short"),
        ("ann", "ann@x.io", "password123", "too common"),
        ("annabelle", "q@x.io", "annabelle-rocks!", "too similar"),
        (
            "ann",
            "not-an-email",
            "a long unusual phrase",
            "not an email",
        ),
    ] {
        let errors = register_refused(&c, json!({ "u": u, "e": e, "p": p })).await;
        assert_eq!(codes(&errors), ["VALIDATION"]);
        assert!(
            errors[0]["message"].as_str().unwrap().contains(why),
            "{why}: {errors:?}"
        );
    }
    register(&c, "ann").await;
    let errors = register_refused(
        &c,
        json!({ "u": "ann", "e": "other@x.io", "p": "a long unusual phrase" }),
    )
    .await;
    assert!(errors[0]["message"].as_str().unwrap().contains("taken"));
    // Which of the two is taken is not said: the whole input is refused.
    assert_eq!(
        (codes(&errors), errors[0]["field"].clone()),
        (vec!["UNIQUE".to_owned()], json!([]))
    );
    let closed = TestClient::new(&service_with(AuthSettings {
        register: false,
        ..settings()
    }))
    .await;
    assert!(!closed.api().sdl().contains("register("));
}

#[tokio::test]
async fn one_generic_error_for_every_failed_login() {
    let c = client().await;
    register(&c, "ann").await;
    assert!(login(&c, "ann", "a long unusual phrase").await.is_ok());
    assert!(
        login(&c, "ANN@example.com", "a long unusual phrase")
            .await
            .is_ok(),
        "email in any case"
    );
    let wrong = login(&c, "ann", "nope").await.unwrap_err();
    let unknown = login(&c, "nobody", "nope").await.unwrap_err();
    assert_eq!(wrong, unknown, "no user enumeration");
    assert_eq!(codes(&wrong), ["INVALID"]);
    c.db()
        .execute(&RawSql("UPDATE auth_user SET is_active = false".into()))
        .await
        .unwrap();
    assert_eq!(
        login(&c, "ann", "a long unusual phrase").await.unwrap_err(),
        wrong,
        "inactive users get the same error"
    );
}

#[tokio::test]
async fn failed_logins_are_rate_limited_per_account() {
    let c = client().await;
    register(&c, "ann").await;
    register(&c, "bob").await;
    for _ in 0..5 {
        assert_eq!(
            codes(&login(&c, "ann", "guess").await.unwrap_err()),
            ["INVALID"]
        );
    }
    assert_eq!(
        codes(&login(&c, "ann", "a long unusual phrase").await.unwrap_err()),
        ["RATE_LIMITED"],
        "even the right password waits"
    );
    let refused = login(&c, "ann", "guess").await.unwrap_err();
    assert!(
        refused[0]["message"]
            .as_str()
            .unwrap()
            .contains("try again in 1 s"),
        "{refused:?}"
    );
    // The wait as a number too, for clients that back off by themselves.
    assert_eq!(refused[0]["extensions"]["retryAfter"], 1, "{refused:?}");
    assert!(
        login(&c, "bob", "a long unusual phrase").await.is_ok(),
        "other accounts are not locked"
    );
}

#[tokio::test]
async fn refresh_tokens_rotate_and_reuse_revokes_the_family() {
    let c = client().await;
    let first = register(&c, "ann").await;
    let second = refresh(&c, &first["refreshToken"]).await.unwrap();
    assert_ne!(second["refreshToken"], first["refreshToken"]);
    let third = refresh(&c, &second["refreshToken"]).await.unwrap();
    // The first token again: somebody copied it. The whole family ends.
    let reuse = refresh(&c, &first["refreshToken"]).await.unwrap_err();
    assert_eq!(codes(&reuse), ["INVALID"]);
    assert!(
        reuse[0]["message"]
            .as_str()
            .unwrap()
            .contains("already used")
    );
    assert_eq!(
        codes(&refresh(&c, &third["refreshToken"]).await.unwrap_err()),
        ["INVALID"],
        "the newest token died with the family"
    );
    // Another login is another family, unaffected.
    let other = login(&c, "ann", "a long unusual phrase").await.unwrap();
    assert!(refresh(&c, &other["refreshToken"]).await.is_ok());
    assert_eq!(
        codes(&refresh(&c, &json!("forged")).await.unwrap_err()),
        ["INVALID"]
    );
}

#[tokio::test]
async fn logout_revoke_all_and_change_password_end_sessions() {
    let c = client().await;
    let a = register(&c, "ann").await;
    let b = login(&c, "ann", "a long unusual phrase").await.unwrap();
    let d = c
        .query_vars(
            "mutation($r: String!) { logout(input: { refreshToken: $r }) { ok } }",
            json!({ "r": a["refreshToken"] }),
        )
        .await;
    assert_eq!(d["logout"]["ok"], true);
    assert!(refresh(&c, &a["refreshToken"]).await.is_err());
    assert!(
        refresh(&c, &b["refreshToken"]).await.is_ok(),
        "logout ends one session"
    );
    let ann = c.with_token(b["accessToken"].as_str().unwrap()).unwrap();
    let s1 = login(&c, "ann", "a long unusual phrase").await.unwrap();
    let n = ann.query("mutation { revokeAllSessions }").await["revokeAllSessions"]
        .as_i64()
        .unwrap();
    assert!(n >= 1);
    assert!(refresh(&c, &s1["refreshToken"]).await.is_err());
    assert_eq!(
        codes(&c.errors("mutation { revokeAllSessions }").await),
        ["UNAUTHENTICATED"]
    );
    // Changing the password checks the old one and the policy, then ends sessions.
    let s2 = login(&c, "ann", "a long unusual phrase").await.unwrap();
    let change = |old: &str, new: &str| {
        format!(
            r#"mutation {{ changePassword(input: {{ oldPassword: "{old}", newPassword: "{new}" }}) {{ ok errors {{ field message code }} }} }}"#
        )
    };
    let d = ann.query(&change("wrong", "another long phrase")).await;
    assert_eq!(d["changePassword"]["ok"], false);
    assert_eq!(
        d["changePassword"]["errors"][0]["field"],
        json!(["oldPassword"])
    );
    assert_eq!(d["changePassword"]["errors"][0]["code"], "INVALID");
    let d = ann.query(&change("a long unusual phrase", "short")).await;
    let e = &d["changePassword"]["errors"][0];
    assert_eq!(
        (e["field"].clone(), e["code"].clone()),
        (json!(["newPassword"]), json!("VALIDATION"))
    );
    assert!(e["message"].as_str().unwrap().contains("too short"));
    assert_eq!(
        ann.query(&change("a long unusual phrase", "another long phrase"))
            .await["changePassword"]["ok"],
        true
    );
    assert!(refresh(&c, &s2["refreshToken"]).await.is_err());
    assert!(login(&c, "ann", "a long unusual phrase").await.is_err());
    assert!(login(&c, "ann", "another long phrase").await.is_ok());
}

#[tokio::test]
async fn tokens_carry_permissions_and_hashes_are_upgraded() {
    let c = client().await;
    register(&c, "ann").await;
    // Default permissions exist; grant one through a group.
    let perms = c
        .db()
        .fetch(
            &RawSql("SELECT COUNT(*) FROM auth_permission".into()),
            &[graphloom::meta::ValueType::I64],
        )
        .await
        .unwrap();
    assert_eq!(
        perms[0][0],
        graphloom::meta::Value::I64(24),
        "four per model, six models (the auth app's, this client's service)"
    );
    for sql in [
        "INSERT INTO auth_group (name) VALUES ('editors')",
        "INSERT INTO auth_group_permissions (group_id, permission_id) SELECT 1, id FROM auth_permission WHERE codename = 'auth.view_group'",
        "INSERT INTO auth_user_groups (user_id, group_id) VALUES (1, 1)",
        // Directly too: one more, and the group's again (listed once).
        "INSERT INTO auth_user_user_permissions (user_id, permission_id) SELECT 1, id FROM auth_permission WHERE codename IN ('auth.view_group', 'auth.add_group')",
    ] {
        c.db().execute(&RawSql(sql.into())).await.unwrap();
    }
    let l = login(&c, "ann", "a long unusual phrase").await.unwrap();
    let claims = test_issuer()
        .verifier()
        .unwrap()
        .verify(l["accessToken"].as_str().unwrap())
        .unwrap();
    assert_eq!(claims.perms, ["auth.add_group", "auth.view_group"]);
    // Stronger parameters: the stored hash is upgraded at the next login.
    let stronger = service_with(AuthSettings {
        hasher: Hasher::new(2048, 2, 1).unwrap(),
        ..settings()
    });
    let api = stronger
        .api(
            c.db().clone(),
            graphloom::graphql::Config {
                token_issuer: Some(std::sync::Arc::new(test_issuer())),
                ..Default::default()
            },
        )
        .unwrap();
    let res = api
        .execute(async_graphql_request(
            LOGIN,
            json!({ "l": "ann", "p": "a long unusual phrase" }),
        ))
        .await;
    assert!(res.errors.is_empty(), "{:?}", res.errors);
    let hash = c
        .db()
        .fetch(
            &RawSql("SELECT password FROM auth_user".into()),
            &[graphloom::meta::ValueType::String],
        )
        .await
        .unwrap();
    assert!(hash[0][0].key_string().contains("m=2048,t=2,p=1"));
}

fn async_graphql_request(q: &str, vars: Json) -> graphloom::graphql::async_graphql::Request {
    graphloom::graphql::async_graphql::Request::new(q).variables(
        graphloom::graphql::async_graphql::Variables::from_json(vars),
    )
}

#[tokio::test]
async fn secrets_never_leave_the_server() {
    let c = client().await;
    register(&c, "ann").await;
    let sdl = c.api().sdl();
    let user_type = sdl
        .split("type User {")
        .nth(1)
        .unwrap()
        .split('}')
        .next()
        .unwrap();
    assert!(!user_type.contains("password"), "{user_type}");
    assert!(!sdl.contains("tokenHash"), "no hash fields in the schema");
    assert!(
        !sdl.contains("type RefreshToken ") && !sdl.contains("refreshTokens"),
        "refresh tokens are a table only"
    );
    let errors = c.errors("{ refreshTokens { totalCount } }").await;
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("refreshTokens")
    );
    let staff = c.as_user(graphloom_test::Principal {
        staff: true,
        ..graphloom_test::user(1)
    });
    assert_eq!(
        codes(&c.errors("{ groups { totalCount } }").await),
        ["UNAUTHENTICATED"]
    );
    assert!(staff.query("{ groups { totalCount } }").await["groups"]["totalCount"].is_number());
}

#[tokio::test]
async fn superusers_assign_groups_and_permissions_through_the_api() {
    let c = client().await;
    register(&c, "ann").await;
    let root = c.as_user(graphloom_test::Principal {
        staff: true,
        superuser: true,
        ..graphloom_test::user(99)
    });
    let perm = root
        .query(r#"{ permissionByCodename(codename: "auth.view_group") { id } }"#)
        .await["permissionByCodename"]["id"]
        .clone();
    let g = root
        .query_vars(r#"mutation($p: ID!) { createGroup(input: { name: "viewers", permissions: { set: [$p] } }) { group { id } errors { code } } }"#, json!({ "p": perm }))
        .await;
    let gid = g["createGroup"]["group"]["id"].clone();
    let d = root
        .query_vars(r#"mutation($g: ID!) { updateUser(id: "1", input: { groups: { add: [$g] }, isStaff: true }) { user { isStaff groups { nodes { name } } } errors { code } } }"#, json!({ "g": gid }))
        .await;
    assert_eq!(
        d["updateUser"]["user"],
        json!({ "isStaff": true, "groups": { "nodes": [{ "name": "viewers" }] } })
    );
    let l = login(&c, "ann", "a long unusual phrase").await.unwrap();
    let claims = test_issuer()
        .verifier()
        .unwrap()
        .verify(l["accessToken"].as_str().unwrap())
        .unwrap();
    assert!(claims.staff);
    assert_eq!(claims.perms, ["auth.view_group"]);
    // Nobody else may.
    let ann = c.with_token(l["accessToken"].as_str().unwrap()).unwrap();
    assert_eq!(codes(&ann.errors(r#"mutation { updateUser(id: "1", input: { isSuperuser: true }) { errors { code } } }"#).await), ["FORBIDDEN"]);
    assert_eq!(
        codes(
            &c.errors(r#"mutation { createGroup(input: { name: "x" }) { errors { code } } }"#)
                .await
        ),
        ["UNAUTHENTICATED"]
    );
}

/// A client whose address may fail three logins freely, with `ann`
/// registered.
async fn three_per_address() -> TestClient {
    let c = TestClient::new(&service_with(AuthSettings {
        throttling: Throttling {
            address_free: 3,
            ..Throttling::default()
        },
        ..settings()
    }))
    .await;
    register(&c, "ann").await;
    c
}

#[tokio::test]
async fn failed_logins_are_rate_limited_per_client_address() {
    let c = three_per_address().await;
    for name in ["x", "y", "z"] {
        assert_eq!(
            codes(&login(&c, name, "guess").await.unwrap_err()),
            ["INVALID"]
        );
    }
    assert_eq!(
        codes(&login(&c, "ann", "a long unusual phrase").await.unwrap_err()),
        ["RATE_LIMITED"],
        "the address is blocked for every account"
    );
}

#[tokio::test]
async fn a_login_takes_as_long_for_unknown_users_wrong_passwords_and_inactive_accounts() {
    use graphloom::auth::User;
    use std::time::Instant;
    // The real hasher (its cost is what timing would reveal), no lockout.
    let c = TestClient::new(&service_with(AuthSettings {
        throttling: Throttling::off(),
        ..AuthSettings::default()
    }))
    .await;
    register(&c, "alice").await;
    register(&c, "bob").await;
    let n = User::objects(&c.system())
        .filter(User::USERNAME.eq("bob"))
        .update([User::IS_ACTIVE.set(false)])
        .await
        .unwrap();
    assert_eq!(n, 1);
    let mut times: [Vec<Duration>; 3] = Default::default();
    // Interleaved, so the machine's load falls on all three alike.
    for i in 0..50 {
        let nobody = format!("nobody{i}");
        let attempts = [
            (nobody.as_str(), "a long unusual phrase"),
            ("alice", "the wrong password"),
            ("bob", "a long unusual phrase"),
        ];
        for (k, (l, p)) in attempts.into_iter().enumerate() {
            let t = Instant::now();
            let errors = login(&c, l, p).await.unwrap_err();
            times[k].push(t.elapsed());
            assert_eq!(codes(&errors), ["INVALID"]);
        }
    }
    let medians: Vec<f64> = times
        .iter_mut()
        .map(|t| {
            t.sort();
            t[t.len() / 2].as_secs_f64()
        })
        .collect();
    let (lo, hi) = medians
        .iter()
        .fold((f64::MAX, 0f64), |(lo, hi), m| (lo.min(*m), hi.max(*m)));
    // What timing would leak is a whole hash (about 20 ms) against none
    // (about 1 ms); the margin is wide so that a loaded CI machine's noise
    // (a tenth between medians has been seen) cannot fail it.
    assert!(
        hi <= lo * 1.5,
        "medians (unknown, wrong, inactive): {medians:?}"
    );
}

#[tokio::test]
async fn failed_logins_count_across_instances_on_postgresql() {
    // Two instances of one service over one database, as behind a load
    // balancer; a guesser's attempts alternate between them.
    let one = client().await;
    register(&one, "ann").await;
    let two = one.with_api(
        service_with(settings())
            .api(one.db().clone(), one.api().runtime().config.clone())
            .unwrap(),
    );
    for i in 0..5 {
        let at = if i % 2 == 0 { &one } else { &two };
        assert_eq!(
            codes(&login(at, "ann", "guess").await.unwrap_err()),
            ["INVALID"]
        );
    }
    let sixth = codes(&login(&two, "ann", "guess").await.unwrap_err());
    if one.db().dialect().name() == "postgres" {
        // One table of counters for every instance: five failures, wherever
        // they were made.
        assert_eq!(sixth, ["RATE_LIMITED"]);
        assert_eq!(
            codes(
                &login(&one, "ann", "a long unusual phrase")
                    .await
                    .unwrap_err()
            ),
            ["RATE_LIMITED"]
        );
    } else {
        // SQLite is one machine's database: each instance counts its own
        // (the second has seen two failures).
        assert_eq!(sixth, ["INVALID"]);
    }
}

#[tokio::test]
async fn a_success_gives_the_address_its_attempt_back_on_every_store() {
    // Logins that succeed never add up to a delay for their address (many
    // people behind one NAT), though shared counters count each attempt
    // when it starts.
    let c = three_per_address().await;
    for _ in 0..6 {
        assert!(login(&c, "ann", "a long unusual phrase").await.is_ok());
    }
}

#[tokio::test]
async fn concurrent_guesses_cannot_race_the_count() {
    let c = client().await;
    register(&c, "ann").await;
    // 19 wrong logins at once: 5 free places, then one at a time, and none
    // while those 5 are in flight.
    let all = futures_util::future::join_all((0..19).map(|_| login(&c, "ann", "guess"))).await;
    let codes: Vec<String> = all
        .into_iter()
        .map(|r| codes(&r.unwrap_err()).join(","))
        .collect();
    let checked = codes.iter().filter(|c| *c == "INVALID").count();
    let refused = codes.iter().filter(|c| *c == "RATE_LIMITED").count();
    assert_eq!((checked, refused), (5, 14), "{codes:?}");
}

#[tokio::test]
async fn a_guesser_cannot_lock_the_owner_out() {
    let fast = Throttling {
        first_delay: Duration::from_millis(20),
        account_free: 3,
        account_max_delay: Duration::from_millis(80),
        ..Throttling::default()
    };
    let c = TestClient::new(&service_with(AuthSettings {
        throttling: fast.clone(),
        ..settings()
    }))
    .await;
    register(&c, "ann").await;
    // A guesser at one address hammers ann's account, waiting out each delay.
    let guesser = c.from_address("198.51.100.9");
    let (mut checked, mut refused) = (0, 0);
    while checked < 8 {
        match login(&guesser, "ann", "guess").await {
            Err(e) if codes(&e) == ["INVALID"] => checked += 1,
            Err(e) => {
                assert_eq!(codes(&e), ["RATE_LIMITED"]);
                refused += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Ok(_) => panic!("a guess succeeded"),
        }
    }
    assert!(
        refused > 8,
        "the guesser was slowed down ({refused} refusals)"
    );
    assert_eq!(
        codes(
            &login(&guesser, "ann", "a long unusual phrase")
                .await
                .unwrap_err()
        ),
        ["RATE_LIMITED"],
        "after a failure that address waits, even with the right password"
    );
    // Ann, from home, waits at most the account's short cap.
    let ann = c.from_address("203.0.113.5");
    tokio::time::sleep(fast.account_max_delay).await;
    assert!(login(&ann, "ann", "a long unusual phrase").await.is_ok());
}
