//! The admin over HTTP against the real binary (`serve --admin`): staff
//! login with CSRF, the list's search, filters, order and pages, forms that
//! write through the model's rules with errors beside the fields, the
//! history, delete with its cascade, and the model permissions on top.

use std::collections::BTreeMap;

use http_body_util::{BodyExt, Full};
use hyper::{Request, body::Bytes};
use serde_json::{Value, json};

use crate::http::{Http, Server, start_at};

/// A browser's view: cookies kept, redirects not followed.
pub(crate) struct Browser {
    via: Via,
    jar: BTreeMap<String, String>,
}

/// Where a browser's requests go: a server over HTTP, or a router in
/// process.
enum Via {
    Net { client: Box<Http>, base: String },
    Router(axum::Router),
}

pub(crate) struct Page {
    pub status: u16,
    pub location: String,
    pub body: String,
}

impl Browser {
    fn new(server: &Server, client: &Http) -> Browser {
        Browser {
            via: Via::Net {
                client: Box::new(client.clone()),
                base: server.base.clone(),
            },
            jar: BTreeMap::new(),
        }
    }

    /// A browser of an admin router mounted in process.
    pub(crate) fn in_process(router: axum::Router) -> Browser {
        Browser {
            via: Via::Router(router),
            jar: BTreeMap::new(),
        }
    }

    async fn request(&mut self, method: &str, path: &str, form: &[(&str, &str)]) -> Page {
        use tower::ServiceExt;
        let cookies: Vec<String> = self.jar.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let body: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let uri = match &self.via {
            Via::Net { base, .. } => format!("{base}{path}"),
            Via::Router(_) => path.to_owned(),
        };
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header("content-type", "application/x-www-form-urlencoded");
        if !cookies.is_empty() {
            req = req.header("cookie", cookies.join("; "));
        }
        let (parts, body) = match &self.via {
            Via::Net { client, .. } => {
                let res = client
                    .request(req.body(Full::new(Bytes::from(body))).unwrap())
                    .await
                    .unwrap();
                let (parts, body) = res.into_parts();
                (parts, body.collect().await.unwrap().to_bytes())
            }
            Via::Router(router) => {
                let req = req.body(axum::body::Body::from(body)).unwrap();
                let res = router
                    .clone()
                    .oneshot(req)
                    .await
                    .unwrap_or_else(|e| match e {});
                let (parts, body) = res.into_parts();
                (parts, body.collect().await.unwrap().to_bytes())
            }
        };
        for c in parts.headers.get_all("set-cookie") {
            let c = c.to_str().unwrap();
            let (pair, attrs) = c.split_once(';').unwrap_or((c, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() || attrs.contains("Max-Age=0") {
                self.jar.remove(k);
            } else {
                self.jar.insert(k.to_owned(), v.to_owned());
            }
        }
        let location = parts
            .headers
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        Page {
            status: parts.status.as_u16(),
            location,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    pub(crate) async fn get(&mut self, path: &str) -> Page {
        self.request("GET", path, &[]).await
    }

    /// A form post carrying the CSRF cookie's token.
    pub(crate) async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let csrf = self.jar.get("graphloom_csrf").cloned().unwrap_or_default();
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(form);
        self.request("POST", path, &all).await
    }

    async fn login(&mut self, user: &str) -> Page {
        self.get("/admin/login").await;
        self.post(
            "/admin/login",
            &[("login", user), ("password", blog::seed::DEMO_PASSWORD)],
        )
        .await
    }
}

/// The blog with its admin, over SQLite or (GRAPHLOOM_TEST_DATABASE_URL)
/// PostgreSQL.
async fn admin() -> (Server, Http) {
    let url = graphloom_test::fresh_database_url().await;
    start_at(&url, None, &["--admin"], &[]).await
}

#[tokio::test]
async fn only_staff_get_in_and_every_form_carries_its_csrf_token() {
    let (server, client) = admin().await;
    let mut b = Browser::new(&server, &client);
    let p = b.get("/admin/").await;
    assert_eq!(
        (p.status, p.location.as_str()),
        (303, "/admin/login?next=%2Fadmin%2F")
    );
    let p = b.get("/admin/login").await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains(r#"<label for="login">"#), "labelled");
    assert!(b.jar.contains_key("graphloom_csrf"));
    // Without the token (or with another), the form is refused.
    let p = b
        .request(
            "POST",
            "/admin/login",
            &[("login", "user1"), ("password", blog::seed::DEMO_PASSWORD)],
        )
        .await;
    assert_eq!(p.status, 403, "{}", p.body);
    let p = b
        .request(
            "POST",
            "/admin/login",
            &[
                ("csrf", "forged"),
                ("login", "user1"),
                ("password", blog::seed::DEMO_PASSWORD),
            ],
        )
        .await;
    assert_eq!(p.status, 403);
    let p = b
        .post("/admin/login", &[("login", "user1"), ("password", "wrong")])
        .await;
    assert_eq!(p.status, 401);
    assert!(p.body.contains("invalid login or password"), "{}", p.body);
    // A user who is not staff: the password is right, no session is made.
    let p = b.login("user2").await;
    assert_eq!(p.status, 403);
    assert!(p.body.contains("cannot use the admin"));
    assert!(!b.jar.contains_key("graphloom_session"));
    // Staff (the superuser) are in, and sent where they were going.
    let p = b.login("user1").await;
    assert_eq!((p.status, p.location.as_str()), (303, "/admin/"));
    assert!(b.jar.contains_key("graphloom_session"));
    let p = b.get("/admin/").await;
    assert_eq!(p.status, 200);
    assert!(
        p.body
            .contains(r#"href="&#x2f;admin&#x2f;blog&#x2f;post&#x2f;""#),
        "{}",
        p.body
    );
    assert!(!p.body.contains("refreshtoken"), "internal tables stay out");
    // An open redirect is not possible through `next`.
    let mut other = Browser::new(&server, &client);
    other.get("/admin/login").await;
    let p = other
        .post(
            "/admin/login",
            &[
                ("login", "user1"),
                ("password", blog::seed::DEMO_PASSWORD),
                ("next", "https://evil.example/"),
            ],
        )
        .await;
    assert_eq!(p.location, "/admin/");
    // Logging out ends the session (also for its cookie elsewhere).
    let session = b.jar.get("graphloom_session").cloned().unwrap();
    let p = b.post("/admin/logout", &[]).await;
    assert_eq!((p.status, p.location.as_str()), (303, "/admin/login"));
    b.jar.insert("graphloom_session".into(), session);
    let p = b.get("/admin/").await;
    assert_eq!(p.status, 303, "the old cookie is dead");
}

#[tokio::test]
async fn the_list_searches_filters_orders_and_pages() {
    let (server, client) = admin().await;
    let mut b = Browser::new(&server, &client);
    b.login("user1").await;
    let p = b.get("/admin/blog/post/").await;
    assert_eq!(p.status, 200);
    assert!(
        p.body.contains("5 rows"),
        "the superuser sees the draft too"
    );
    // The author column reads as the user's name, joined into the page.
    assert!(
        p.body.contains("#2 user2") || p.body.contains("#1 user1"),
        "{}",
        p.body
    );
    let p = b.get("/admin/blog/post/?q=post+3").await;
    assert!(p.body.contains("1 row"), "{}", p.body);
    let p = b.get("/admin/blog/post/?f.status=draft").await;
    assert!(p.body.contains("1 row"), "{}", p.body);
    assert!(
        p.body
            .contains(r#"<strong aria-current="true">Draft</strong>"#)
    );
    let p = b.get("/admin/blog/post/?f.created_at=year").await;
    assert_eq!(p.status, 200);
    // Ordering by a column, both ways.
    let p = b.get("/admin/blog/post/?o=title").await;
    let first = |body: &str| {
        body.split(r#"<th scope="row"><a href=""#)
            .nth(1)
            .and_then(|s| s.split('/').next())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(first(&p.body), "1");
    assert!(p.body.contains(r#"aria-sort="ascending""#));
    let p = b.get("/admin/blog/post/?o=-title").await;
    assert_eq!(first(&p.body), "5");
    // Bad parameters are a page that says so, not a crash.
    for path in [
        "/admin/blog/post/?p=0",
        "/admin/blog/post/?o=nope",
        "/admin/blog/post/?f.status=nope",
        "/admin/blog/nope/",
        "/admin/blog/post/nope/",
    ] {
        let p = b.get(path).await;
        assert!(matches!(p.status, 400 | 404), "{path}: {}", p.status);
    }
}

#[tokio::test]
async fn forms_write_through_the_rules_and_keep_a_history() {
    let (server, client) = admin().await;
    let mut b = Browser::new(&server, &client);
    b.login("user1").await;
    let p = b.get("/admin/blog/post/add").await;
    assert!(
        p.body
            .contains(r#"<select id="f-tags" name="tags" multiple"#),
        "{}",
        p.body
    );
    // Refused: errors beside the fields, the same codes as the API's.
    let p = b
        .post(
            "/admin/blog/post/add",
            &[
                ("title", " "),
                ("slug", "from-admin"),
                ("body", "Hello."),
                ("status", "draft"),
                ("authorId", "1"),
                ("rating", "0"),
            ],
        )
        .await;
    assert_eq!(p.status, 422, "{}", p.body);
    assert!(p.body.contains(r#"class="field invalid""#));
    assert!(p.body.contains("The title cannot be blank."));
    assert!(p.body.contains("<code>VALIDATION</code>"));
    let p = b
        .post(
            "/admin/blog/post/add",
            &[
                ("title", "<script>alert(1)</script>"),
                ("slug", "from-admin"),
                ("body", "Hello."),
                ("status", "draft"),
                ("authorId", "1"),
                ("rating", "0"),
                ("tags", "1"),
                ("tags", "2"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let id = p
        .location
        .trim_start_matches("/admin/blog/post/")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    // Stored as sent, shown inert.
    let p = b.get("/admin/blog/post/").await;
    assert!(
        p.body
            .contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt;")
    );
    assert!(!p.body.contains("<script>alert(1)"));
    let p = b.get(&format!("/admin/blog/post/{id}/")).await;
    assert!(
        p.body.contains(r#"<option value="1" selected>"#)
            && p.body.contains(r#"<option value="2" selected>"#),
        "two tags"
    );
    // A clash is the database's UNIQUE, beside the field.
    let p = b
        .post(
            &format!("/admin/blog/post/{id}/"),
            &[
                ("title", "Renamed"),
                ("slug", "post-1"),
                ("body", "Hello."),
                ("status", "draft"),
                ("authorId", "1"),
                ("rating", "0"),
            ],
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("<code>UNIQUE</code>"), "{}", p.body);
    let p = b
        .post(
            &format!("/admin/blog/post/{id}/"),
            &[
                ("title", "Renamed"),
                ("slug", "from-admin"),
                ("body", "Hello."),
                ("status", "published"),
                ("authorId", "1"),
                ("rating", "4.5"),
                ("tags", "2"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let p = b.get(&format!("/admin/blog/post/{id}/history")).await;
    assert!(
        p.body.contains("Added") && p.body.contains("Changed"),
        "{}",
        p.body
    );
    assert!(p.body.contains("title: &quot;&lt;script&gt;"), "{}", p.body);
    assert!(
        p.body
            .contains("status: &quot;draft&quot; → &quot;published&quot;"),
        "{}",
        p.body
    );
    // The many-to-many set too.
    assert!(
        p.body.contains("tags: &quot;1, 2&quot; → &quot;2&quot;"),
        "{}",
        p.body
    );
    // Delete: the confirmation names the cascade, then the row is gone.
    let p = b.get("/admin/blog/post/1/delete").await;
    assert!(p.body.contains("comments</li>"), "{}", p.body);
    let p = b
        .post(
            &format!("/admin/blog/post/{id}/delete"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(
        (p.status, p.location.as_str()),
        (303, "/admin/blog/post/?done=deleted")
    );
    let p = b.get(&format!("/admin/blog/post/{id}/")).await;
    assert_eq!(p.status, 404);
    let p = b.get(&format!("/admin/blog/post/{id}/history")).await;
    assert!(p.body.contains("Deleted"));
    // A user the comments protect cannot go: the page says why.
    let p = b.get("/admin/auth/user/2/delete").await;
    assert!(
        p.body.contains("cannot be deleted while these refer to it"),
        "{}",
        p.body
    );
    // Bulk: a confirmation first, then each row.
    let p = b
        .post(
            "/admin/blog/tag/delete-selected",
            &[("id", "1"), ("id", "2")],
        )
        .await;
    assert!(p.body.contains("Delete 2 tags"), "{}", p.body);
    let p = b
        .post(
            "/admin/blog/tag/delete-selected",
            &[("id", "1"), ("id", "2"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert!(b.get("/admin/blog/tag/").await.body.contains("0 rows"));
}

#[tokio::test]
async fn staff_need_the_model_permission_too() {
    let (server, client) = admin().await;
    let base = server.base.as_str();
    // user2 becomes staff with every post permission but delete.
    let token = {
        let body = json!({
            "query": "mutation($l: String!, $p: String!) { login(input: { login: $l, password: $p }) { accessToken } }",
            "variables": { "l": "user1", "p": blog::seed::DEMO_PASSWORD },
        });
        let (_, _, json) = crate::http::send(
            &client,
            crate::http::post(base, &body.to_string(), None, "application/json"),
        )
        .await;
        json["data"]["login"]["accessToken"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let gql = |q: Value| {
        let client = client.clone();
        let token = token.clone();
        async move {
            let bearer = format!("Bearer {token}");
            let (_, _, json) = crate::http::call(
                &client,
                "POST",
                &format!("{base}/graphql"),
                &[
                    ("content-type", "application/json"),
                    ("authorization", &bearer),
                ],
                &q.to_string(),
            )
            .await;
            json
        }
    };
    let perms = gql(json!({ "query": r#"{ permissions(where: { codename: { in: ["blog.add_post", "blog.change_post", "blog.view_post"] } }, first: 10) { nodes { id } } }"# })).await;
    let ids: Vec<Value> = perms["data"]["permissions"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("{perms}"))
        .iter()
        .map(|n| n["id"].clone())
        .collect();
    assert_eq!(ids.len(), 3, "{perms}");
    let done = gql(json!({
        "query": "mutation($p: [ID!]!) { updateUser(id: \"2\", input: { isStaff: true, userPermissions: { set: $p } }) { errors { code } } }",
        "variables": { "p": ids },
    }))
    .await;
    assert_eq!(done["data"]["updateUser"]["errors"], json!([]), "{done}");
    let mut b = Browser::new(&server, &client);
    assert_eq!(b.login("user2").await.status, 303);
    let p = b.get("/admin/").await;
    assert!(
        p.body.contains("posts") && !p.body.contains(">tags<"),
        "only what they may see: {}",
        p.body
    );
    let p = b.get("/admin/blog/post/1/").await;
    assert_eq!(p.status, 200);
    assert!(!p.body.contains(">Delete<"), "no delete link");
    assert_eq!(b.get("/admin/blog/post/1/delete").await.status, 403);
    assert_eq!(
        b.post("/admin/blog/post/1/delete", &[("confirm", "yes")])
            .await
            .status,
        403
    );
    assert_eq!(
        b.post(
            "/admin/blog/post/delete-selected",
            &[("id", "1"), ("confirm", "yes")]
        )
        .await
        .status,
        403
    );
    assert_eq!(b.get("/admin/blog/tag/").await.status, 403);
    // What they may do, they can.
    let p = b
        .post(
            "/admin/blog/post/1/",
            &[
                ("title", "Edited by staff"),
                ("slug", "post-1"),
                ("body", "x"),
                ("status", "published"),
                ("authorId", "1"),
                ("rating", "0"),
            ],
        )
        .await;
    assert_eq!(
        (p.status, p.location.as_str()),
        (303, "/admin/blog/post/1/?done=saved")
    );
}

#[tokio::test]
async fn the_login_is_throttled_like_the_apis_and_the_admin_can_live_elsewhere() {
    let url = graphloom_test::fresh_database_url().await;
    let (server, client) =
        start_at(&url, None, &["--admin", "--admin-path", "/backoffice"], &[]).await;
    let mut b = Browser::new(&server, &client);
    assert_eq!(
        b.get("/admin/").await.status,
        404,
        "not at the default path"
    );
    let p = b.get("/backoffice/").await;
    assert_eq!(
        (p.status, p.location.as_str()),
        (303, "/backoffice/login?next=%2Fbackoffice%2F")
    );
    b.get("/backoffice/login").await;
    // Five wrong passwords are free (as for `login`); the sixth waits.
    for _ in 0..5 {
        let p = b
            .post(
                "/backoffice/login",
                &[("login", "user1"), ("password", "wrong")],
            )
            .await;
        assert_eq!(p.status, 401);
    }
    let p = b
        .post(
            "/backoffice/login",
            &[("login", "user1"), ("password", "wrong")],
        )
        .await;
    assert_eq!(p.status, 429, "{}", p.body);
    // The right password waits too, until the delay has passed.
    let p = b
        .post(
            "/backoffice/login",
            &[("login", "user1"), ("password", blog::seed::DEMO_PASSWORD)],
        )
        .await;
    assert_eq!(p.status, 429);
    assert!(!b.jar.contains_key("graphloom_session"));
}

#[tokio::test]
async fn a_picker_keeps_a_chosen_key_it_does_not_list() {
    // 600 tags: past the picker's 500, so a post with tag 600 must still
    // show it chosen, or saving the form would drop it.
    let url = graphloom_test::fresh_database_url().await;
    let (server, client) = start_at(&url, None, &["--admin"], &[]).await;
    let service = blog::service();
    let db = graphloom::db::Database::connect(&url).await.unwrap();
    let api = service
        .api(db.clone(), graphloom::graphql::Config::default())
        .unwrap();
    let sys = graphloom::query::Ctx::system(std::sync::Arc::clone(api.engine()));
    for i in 3..=600 {
        blog::Tag::objects(&sys)
            .create([blog::Tag::NAME.set(format!("tag{i}"))])
            .await
            .unwrap();
    }
    let mut b = Browser::new(&server, &client);
    b.login("user1").await;
    let p = b
        .post(
            "/admin/blog/post/1/",
            &[
                ("title", "Tagged far"),
                ("slug", "post-1"),
                ("body", "x"),
                ("status", "published"),
                ("authorId", "2"),
                ("rating", "0"),
                ("tags", "600"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let p = b.get("/admin/blog/post/1/").await;
    assert!(
        p.body.contains(r#"<option value="600" selected>"#),
        "{}",
        p.body
    );
    db.close().await;
}

#[tokio::test]
async fn empty_text_is_a_value_where_null_is_not() {
    let (server, client) = admin().await;
    let mut b = Browser::new(&server, &client);
    b.login("user1").await;
    // A draft may have an empty body (the validator asks one of published
    // posts only); the form's empty box is "", not a missing value.
    let p = b
        .post(
            "/admin/blog/post/add",
            &[
                ("title", "Empty"),
                ("slug", "empty"),
                ("body", ""),
                ("status", "draft"),
                ("authorId", "1"),
                ("rating", "0"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    let id = p
        .location
        .trim_start_matches("/admin/blog/post/")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    // Published, it needs one: the validator's error, beside the body.
    let p = b
        .post(
            &format!("/admin/blog/post/{id}/"),
            &[
                ("title", "Empty"),
                ("slug", "empty"),
                ("body", ""),
                ("status", "published"),
                ("authorId", "1"),
                ("rating", "0"),
            ],
        )
        .await;
    assert_eq!(p.status, 422, "{}", p.body);
    assert!(
        p.body.contains("A published post needs a body."),
        "{}",
        p.body
    );
}

#[tokio::test]
async fn a_superuser_sets_a_users_password_after_the_policy() {
    let (server, client) = admin().await;
    let mut b = Browser::new(&server, &client);
    b.login("user1").await;
    let p = b.get("/admin/auth/user/3/").await;
    assert!(
        p.body.contains(r#"href="password""#),
        "linked from the user's form"
    );
    assert_eq!(
        b.get("/admin/blog/post/1/password").await.status,
        404,
        "users only"
    );
    let p = b.get("/admin/auth/user/3/password").await;
    assert!(p.body.contains(r#"<label for="f-password">"#), "{}", p.body);
    let p = b
        .post(
            "/admin/auth/user/3/password",
            &[("password", "a new long password 9"), ("again", "another")],
        )
        .await;
    assert_eq!(p.status, 422);
    assert!(p.body.contains("The two passwords differ."));
    let p = b
        .post(
            "/admin/auth/user/3/password",
            &[("password", "short"), ("again", "short")],
        )
        .await;
    assert_eq!(p.status, 422, "the policy: {}", p.body);
    let p = b
        .post(
            "/admin/auth/user/3/password",
            &[
                ("password", "a new long password 9"),
                ("again", "a new long password 9"),
            ],
        )
        .await;
    assert_eq!(
        (p.status, p.location.as_str()),
        (303, "/admin/auth/user/3/?done=saved"),
        "{}",
        p.body
    );
    // The new password logs in; the old one no longer does.
    let mut user3 = Browser::new(&server, &client);
    user3.get("/admin/login").await;
    let old = user3
        .post(
            "/admin/login",
            &[("login", "user3"), ("password", blog::seed::DEMO_PASSWORD)],
        )
        .await;
    assert_eq!(old.status, 401);
    let new = user3
        .post(
            "/admin/login",
            &[("login", "user3"), ("password", "a new long password 9")],
        )
        .await;
    assert_eq!(
        new.status, 403,
        "the right password, but user3 is not staff"
    );
    let p = b.get("/admin/auth/user/3/history").await;
    assert!(p.body.contains("password changed"), "{}", p.body);
}

/// Admin options that name nothing, or the wrong kind of field, stop the
/// start with the reason; so do an admin without its app and a bad path.
#[tokio::test]
async fn admin_settings_that_cannot_work_stop_the_start() {
    use graphloom::{App, admin::ModelAdmin, server::ServerConfig};
    let db = graphloom::db::Database::connect("sqlite::memory:")
        .await
        .unwrap();
    let config = || graphloom::graphql::Config {
        token_issuer: Some(std::sync::Arc::new(graphloom_test::test_issuer())),
        ..Default::default()
    };
    let fails = |service: graphloom::Service| {
        let api = service.api(db.clone(), config()).unwrap();
        service
            .admin_router(&api, "/admin", &ServerConfig::default())
            .err()
            .unwrap_or_default()
    };
    // The blog's Tag has no options of its own.
    let with = |options: ModelAdmin| {
        graphloom::Service::new("blog")
            .app(graphloom::auth::app())
            .app(graphloom::admin::app())
            .app(blog::app())
            .app(App::new("extra").admin::<blog::Tag>(options))
    };
    let twice = graphloom::Service::new("blog")
        .app(graphloom::auth::app())
        .app(graphloom::admin::app())
        .app(blog::app())
        .app(App::new("extra").admin::<blog::Post>(ModelAdmin::new()));
    assert!(fails(twice).contains("given twice"));
    let e = fails(with(ModelAdmin::new().list_display(&["nope"])));
    assert!(e.contains("`nope` in list_display"), "{e}");
    assert!(fails(with(ModelAdmin::new().search_fields(&["id"]))).contains("is not text"));
    assert!(
        fails(with(ModelAdmin::new().list_filter(&["name"])))
            .contains("not a boolean, enum, date or foreign key")
    );
    let without_app = graphloom::Service::new("blog")
        .app(graphloom::auth::app())
        .app(blog::app());
    assert!(fails(without_app).contains("graphloom::admin::app()"));
    // A mount path that is not one: the binary refuses to serve.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_blog"))
        .args([
            "serve",
            "--admin",
            "--admin-path",
            "admin",
            "--addr",
            "127.0.0.1:0",
        ])
        .env("DATABASE_URL", "sqlite::memory:")
        .env("GRAPHLOOM_JWT_SECRET", "an-e2e-test-secret-of-enough-bytes")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("GRAPHLOOM_ADMIN_PATH"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The admin's writes reach subscribers, as the API's do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admins_writes_reach_subscribers() {
    let (server, client) = admin().await;
    let token = crate::websocket::token("1", 600);
    let (status, _, mut events) = crate::websocket::stream(
        &client,
        &server.base,
        "subscription { postChanged { kind id node { title } } }",
        Some(&token),
    )
    .await;
    assert_eq!(status, 200);
    let mut b = Browser::new(&server, &client);
    b.login("user1").await;
    let form = |title: &'static str| {
        [
            ("title", title),
            ("slug", "live-admin"),
            ("body", "Hello."),
            ("status", "draft"),
            ("authorId", "1"),
            ("rating", "0"),
        ]
    };
    // Each write is waited for: events that arrive together are read
    // together, after the last of them.
    let mut next = async || {
        let (event, data) = events.next().await.unwrap();
        assert_eq!(event, "next");
        let v: Value = serde_json::from_str(&data).unwrap();
        let c = &v["data"]["postChanged"];
        (
            c["kind"].as_str().unwrap().to_owned(),
            c["id"].as_str().unwrap().to_owned(),
            c["node"]["title"].as_str().unwrap_or_default().to_owned(),
        )
    };
    let p = b.post("/admin/blog/post/add", &form("Added here")).await;
    assert_eq!(p.status, 303, "{}", p.body);
    let id = p
        .location
        .trim_start_matches("/admin/blog/post/")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        next().await,
        ("CREATED".into(), id.clone(), "Added here".into())
    );
    let p = b
        .post(&format!("/admin/blog/post/{id}/"), &form("Changed here"))
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(
        next().await,
        ("UPDATED".into(), id.clone(), "Changed here".into())
    );
    let p = b
        .post(
            &format!("/admin/blog/post/{id}/delete"),
            &[("confirm", "yes")],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    assert_eq!(next().await, ("DELETED".into(), id, String::new()));
}
