//! The admin: Django's back office, generated from the registry and served
//! by the service itself at `/admin` (`serve --admin`, `GRAPHLOOM_ADMIN=1`).
//!
//! Staff log in with the auth app's users (throttled like `login`); the
//! session is the auth app's cookie session (`HttpOnly`, `SameSite=Lax`),
//! and every form carries the CSRF cookie's token (double submit). Each
//! page reads and writes through the query engine under the staff user's
//! scope, so the model's rules hold as they do in the API, and the admin
//! adds Django's model permissions on top (`blog.change_post` to change a
//! post; superusers hold them all). Pages are rendered on the server
//! (minijinja, autoescaped) with a stylesheet and no script: they work
//! without a CDN and without JavaScript, with labels, landmarks and
//! keyboard focus styles.

mod history;
mod migrations;
mod options;
mod pages;

use std::sync::Arc;

use axum::{
    Router,
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use graphloom_graphql::Api;
use graphloom_meta::{ModelKey, ModelMeta};
use graphloom_query::scope::Scope;
use graphloom_server::{
    CookieAuth, Networks, SessionCache,
    sessions::{CSRF_COOKIE, SESSION_COOKIE, cookie},
};

use crate::auth::{AuthSettings, Cookies, Principal, throttle::Throttle};
pub use history::{LogAction, LogEntry, app};
pub use options::ModelAdmin;
use options::Resolved;

/// What the admin needs of the auth app and the server.
pub(crate) struct AuthParts {
    pub settings: Arc<AuthSettings>,
    pub limiter: Arc<Throttle>,
    pub sessions: Arc<SessionCache>,
    pub cookies: Arc<Cookies>,
    pub cookie_auth: Arc<dyn CookieAuth>,
    pub trusted_proxies: Networks,
    pub client_ip_header: String,
}

/// The admin of one service.
pub(crate) struct Site {
    api: Api,
    name: String,
    /// Where it is mounted (`/admin`).
    prefix: String,
    models: Vec<Resolved>,
    auth: AuthParts,
    env: minijinja::Environment<'static>,
}

impl Site {
    pub(crate) fn new(
        api: Api,
        name: &str,
        prefix: &str,
        options: &[(ModelKey, ModelAdmin)],
        auth: AuthParts,
    ) -> Result<Site, String> {
        let reg = api.engine().registry();
        if !reg
            .models()
            .iter()
            .any(|m| m.key == <LogEntry as graphloom_meta::Model>::decl().key())
        {
            return Err(
                "the admin keeps its history in the admin app's table: add `.app(graphloom::admin::app())` to the service (and migrate)".into(),
            );
        }
        let models = options::resolve_all(reg, options)?;
        let mut env = minijinja::Environment::new();
        for (name, text) in [
            ("base.html", include_str!("templates/base.html")),
            ("login.html", include_str!("templates/login.html")),
            ("index.html", include_str!("templates/index.html")),
            ("list.html", include_str!("templates/list.html")),
            ("form.html", include_str!("templates/form.html")),
            ("delete.html", include_str!("templates/delete.html")),
            ("message.html", include_str!("templates/message.html")),
            ("history.html", include_str!("templates/history.html")),
            ("password.html", include_str!("templates/password.html")),
        ] {
            env.add_template(name, text)
                .map_err(|e| format!("admin template {name}: {e}"))?;
        }
        Ok(Site {
            api,
            name: name.to_owned(),
            prefix: prefix.trim_end_matches('/').to_owned(),
            models,
            auth,
            env,
        })
    }

    fn options(&self, m: &ModelMeta) -> &Resolved {
        &self.models[m.id.0]
    }

    /// The model at `/{app}/{model}/`, if the admin shows it.
    fn model(&self, app: &str, model: &str) -> Option<&ModelMeta> {
        self.api.engine().registry().models().iter().find(|m| {
            m.key.app == app && m.key.name.eq_ignore_ascii_case(model) && shown(m, self.options(m))
        })
    }

    fn href(&self, m: &ModelMeta) -> String {
        format!(
            "{}/{}/{}/",
            self.prefix,
            m.key.app,
            m.key.name.to_lowercase()
        )
    }

    /// A row's page: its key escaped as one path segment (a text key may
    /// hold `/` or spaces).
    fn row_href(&self, m: &ModelMeta, id: &str) -> String {
        format!("{}{}/", self.href(m), graphloom_server::path_segment(id))
    }
}

/// Whether the admin lists a model: in the API (not a table of internals
/// such as refresh tokens), this service's, not hidden.
fn shown(m: &ModelMeta, o: &Resolved) -> bool {
    m.exposed && !m.external && !o.hidden
}

/// The admin's routes, to mount at its prefix.
pub(crate) fn router(site: Arc<Site>) -> Router {
    Router::new()
        .route("/", get(pages::index))
        .route("/static/admin.css", get(stylesheet))
        .route("/login", get(pages::login_form).post(pages::login))
        .route("/logout", axum::routing::post(pages::logout))
        .route("/{app}/{model}", get(pages::to_slash))
        .route("/{app}/{model}/", get(pages::list))
        .route(
            "/{app}/{model}/delete-selected",
            axum::routing::post(pages::delete_selected),
        )
        .route("/{app}/{model}/add", get(pages::add_form).post(pages::add))
        .route(
            "/{app}/{model}/{id}/",
            get(pages::change_form).post(pages::change),
        )
        .route(
            "/{app}/{model}/{id}/delete",
            get(pages::delete_form).post(pages::delete),
        )
        .route("/{app}/{model}/{id}/history", get(pages::history_page))
        .route(
            "/{app}/{model}/{id}/password",
            get(pages::password_form).post(pages::password),
        )
        .with_state(site)
}

async fn stylesheet() -> Response {
    let mut res = include_str!("admin.css").into_response();
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    res
}

/// Only this origin, no script at all; forms post back here only.
const POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A rendered page with the admin's headers.
fn html(status: StatusCode, body: String) -> Response {
    let mut res = (status, body).into_response();
    let h = res.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CONTENT_SECURITY_POLICY, POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "no-store"),
        (header::REFERRER_POLICY, "same-origin"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    res
}

fn redirect(to: &str) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res
}

/// A cookie of the request.
fn cookie_of(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| cookie(h, name))
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// The signed-in staff user of a request, and the rules they act under.
pub(crate) struct Staff {
    pub principal: Principal,
    pub scope: Arc<Scope>,
    pub csrf: String,
}

impl Staff {
    /// Whether the user holds the model permission `action` (`add`,
    /// `change`, `delete`, `view`) on `m`.
    fn may(&self, m: &ModelMeta, action: &str) -> bool {
        self.principal
            .has_perm(&crate::meta::model_permission(m.key, action))
    }
}

/// The session's user; the login page for a request without one, and a
/// refusal for a user who is not staff.
async fn staff(site: &Site, headers: &HeaderMap, path: &str) -> Result<Staff, Response> {
    let login = || redirect(&format!("{}/login?next={}", site.prefix, urlencode(path)));
    let Some(secret) = cookie_of(headers, SESSION_COOKIE) else {
        return Err(login());
    };
    let principal = match site.auth.cookie_auth.authenticate(&secret).await {
        Ok(Some(p)) => p,
        Ok(None) => return Err(login()),
        Err(e) => {
            return Err(pages::message(
                site,
                None,
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again",
                &format!("The session cannot be checked now: {e}"),
            ));
        }
    };
    let csrf = cookie_of(headers, CSRF_COOKIE).unwrap_or_default();
    if !principal.staff {
        return Err(pages::message(
            site,
            None,
            StatusCode::FORBIDDEN,
            "Staff only",
            "This account cannot use the admin.",
        ));
    }
    let scope = Arc::new(
        Scope::new(
            Arc::clone(site.api.engine().registry_arc()),
            Some(principal.clone()),
        )
        .await,
    );
    Ok(Staff {
        principal,
        scope,
        csrf,
    })
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Whether a form's CSRF token is the cookie's (double submit: another
/// site's page can post a form but cannot read or set the cookie).
fn csrf_ok(headers: &HeaderMap, form: &[(String, String)]) -> bool {
    let sent = form
        .iter()
        .find(|(k, _)| k == "csrf")
        .map(|(_, v)| v.as_str());
    match (sent, cookie_of(headers, CSRF_COOKIE)) {
        (Some(sent), Some(kept)) => graphloom_server::same_secret(sent.as_bytes(), kept.as_bytes()),
        _ => false,
    }
}
