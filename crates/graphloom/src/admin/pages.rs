//! The admin's pages: login, the index, a model's list, its add and change
//! forms, and delete (one row or the selected ones) with a confirmation
//! that names what the cascade removes.
#![allow(clippy::result_large_err)]

use std::{collections::BTreeMap, sync::Arc};

use axum::{
    body::Bytes,
    extract::{OriginalUri, Path, Query, State},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use graphloom_db::Exec;
use graphloom_graphql::convert;
use graphloom_meta::{FieldKind, FieldMeta, ModelMeta, OnDelete, Op, Value};
use graphloom_query::{
    Error, ErrorCode, FieldCode, FieldError,
    exec::{self, Node},
    filter::{Filter, FilterValue, OrderTerm},
    plan::{ListPlan, NodePlan, Window},
    scope::{self, Scope},
    write::{self, LinkChange, Outcome, WriteInput, link_relations},
};
use minijinja::context;
use serde::Serialize;

use super::{
    Site, Staff, csrf_ok,
    history::{self, LogAction, LogEntry},
    html, redirect, staff,
};

type Form = Vec<(String, String)>;

/// A serde value for a template.
fn ser<T: Serialize>(x: &T) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(x))
}

fn parse_form(body: &Bytes) -> Form {
    form_urlencoded::parse(body).into_owned().collect()
}

fn get<'f>(form: &'f Form, name: &str) -> Option<&'f str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn render(site: &Site, status: StatusCode, template: &str, ctx: minijinja::Value) -> Response {
    match site.env.get_template(template).and_then(|t| t.render(ctx)) {
        Ok(body) => html(status, body),
        Err(e) => {
            tracing::error!(error = %e, template, "admin page failed to render");
            html(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Internal server error".into(),
            )
        }
    }
}

/// The values every page has: the site, the user, the CSRF token.
fn base(site: &Site, staff: Option<&Staff>, title: &str) -> minijinja::Value {
    context! {
        site => site.name.clone(),
        prefix => site.prefix.clone(),
        title => title,
        user => staff.map(|s| s.principal.user_id.clone()),
        csrf => staff.map(|s| s.csrf.clone()).unwrap_or_default(),
    }
}

/// A page that only says something.
pub(super) fn message(
    site: &Site,
    staff: Option<&Staff>,
    status: StatusCode,
    title: &str,
    text: &str,
) -> Response {
    render(
        site,
        status,
        "message.html",
        context! { message => text, ..base(site, staff, title) },
    )
}

fn refused(site: &Site, staff: &Staff, e: &Error) -> Response {
    let status = match e.code {
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::BadUserInput | ErrorCode::InvalidCursor => StatusCode::BAD_REQUEST,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    let text = if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = %e.message, "admin request failed");
        "Something went wrong; it is in the service's log.".to_owned()
    } else {
        format!("{} ({})", e.message, e.code)
    };
    message(site, Some(staff), status, "Not possible", &text)
}

fn not_found(site: &Site, staff: &Staff) -> Response {
    message(
        site,
        Some(staff),
        StatusCode::NOT_FOUND,
        "Not found",
        "There is nothing here, or you may not see it.",
    )
}

fn forbidden(site: &Site, staff: &Staff, what: &str) -> Response {
    message(
        site,
        Some(staff),
        StatusCode::FORBIDDEN,
        "Not allowed",
        &format!("You may not {what}."),
    )
}

fn bad_csrf(site: &Site) -> Response {
    message(
        site,
        None,
        StatusCode::FORBIDDEN,
        "Form expired",
        "The form's security token is missing or does not match: reload the page and send it again.",
    )
}

// ---------------------------------------------------------------- login

#[derive(serde::Deserialize)]
pub(super) struct Next {
    next: Option<String>,
}

/// Where to go after logging in: a path of the admin only (no open redirect).
fn next_of(site: &Site, next: Option<&str>) -> String {
    let home = format!("{}/", site.prefix);
    match next {
        Some(n) if n.starts_with(&format!("{}/", site.prefix)) && !n.starts_with("//") => {
            n.to_owned()
        }
        _ => home,
    }
}

fn login_page(
    site: &Site,
    status: StatusCode,
    csrf: &str,
    next: &str,
    login: &str,
    error: Option<&str>,
) -> Response {
    render(
        site,
        status,
        "login.html",
        context! { csrf => csrf, next => next, login => login, error => error, ..base(site, None, "Log in") },
    )
}

pub(super) async fn login_form(
    State(site): State<Arc<Site>>,
    Query(q): Query<Next>,
    headers: HeaderMap,
) -> Response {
    // A CSRF cookie for the form, when the browser has none yet.
    let (csrf, fresh) = match super::cookie_of(&headers, graphloom_server::sessions::CSRF_COOKIE) {
        Some(c) => (c, false),
        None => (base64_token(), true),
    };
    let next = next_of(&site, q.next.as_deref());
    let mut res = login_page(&site, StatusCode::OK, &csrf, &next, "", None);
    if fresh
        && let Ok(v) = axum::http::HeaderValue::from_str(&format!(
            "{}={csrf}; Path=/; Secure; SameSite=Lax",
            graphloom_server::sessions::CSRF_COOKIE
        ))
    {
        res.headers_mut().append(axum::http::header::SET_COOKIE, v);
    }
    res
}

fn base64_token() -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(uuid::Uuid::new_v4().as_bytes())
}

pub(super) async fn login(
    State(site): State<Arc<Site>>,
    headers: HeaderMap,
    peer: Option<axum::Extension<axum::extract::ConnectInfo<std::net::SocketAddr>>>,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    if !csrf_ok(&headers, &form) {
        return bad_csrf(&site);
    }
    let csrf = get(&form, "csrf").unwrap_or_default().to_owned();
    let next = next_of(&site, get(&form, "next"));
    let name = get(&form, "login").unwrap_or_default().trim().to_owned();
    let password = get(&form, "password").unwrap_or_default().to_owned();
    let client = peer
        .map(|p| {
            graphloom_server::client_address(
                (p.0).0.ip(),
                &headers,
                &site.auth.trusted_proxies,
                &site.auth.client_ip_header,
            )
            .to_string()
        })
        .unwrap_or_default();
    let rt = site.api.runtime();
    let user = match crate::auth::resolvers::authenticate(
        rt,
        &site.auth.settings,
        &site.auth.limiter,
        &name,
        password,
        &client,
    )
    .await
    {
        Ok(u) => u,
        Err(e) => {
            let status = if e.code == ErrorCode::RateLimited {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::UNAUTHORIZED
            };
            return login_page(&site, status, &csrf, &next, &name, Some(&e.message));
        }
    };
    // Checked after the password, so the answer says nothing of accounts
    // to someone who does not know it; no session is made.
    if !user.is_staff {
        return login_page(
            &site,
            StatusCode::FORBIDDEN,
            &csrf,
            &next,
            &name,
            Some("This account cannot use the admin."),
        );
    }
    match crate::auth::resolvers::cookie_login(rt, &site.auth.settings, &user).await {
        Ok(cookies) => {
            let mut res = redirect(&next);
            for c in cookies {
                if let Ok(v) = axum::http::HeaderValue::from_str(&c) {
                    res.headers_mut().append(axum::http::header::SET_COOKIE, v);
                }
            }
            res
        }
        Err(e) => {
            tracing::error!(error = %e.message, "admin login failed");
            login_page(
                &site,
                StatusCode::SERVICE_UNAVAILABLE,
                &csrf,
                &next,
                &name,
                Some("The session could not be started; try again."),
            )
        }
    }
}

pub(super) async fn logout(
    State(site): State<Arc<Site>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = parse_form(&body);
    if !csrf_ok(&headers, &form) {
        return bad_csrf(&site);
    }
    if let Some(secret) = super::cookie_of(&headers, graphloom_server::sessions::SESSION_COOKIE) {
        let sys = graphloom_query::Ctx::system(Arc::clone(site.api.engine()));
        if let Err(e) = crate::auth::resolvers::end_session(
            &sys,
            &site.auth.sessions,
            &site.auth.cookies,
            &secret,
        )
        .await
        {
            tracing::error!(error = %e.message, "admin logout failed");
        }
    }
    let mut res = redirect(&format!("{}/login", site.prefix));
    for c in crate::auth::Cookies::clear() {
        if let Ok(v) = axum::http::HeaderValue::from_str(&c) {
            res.headers_mut().append(axum::http::header::SET_COOKIE, v);
        }
    }
    res
}

// ---------------------------------------------------------------- index

#[derive(Serialize)]
struct IndexModel {
    plural: String,
    href: String,
    can_add: bool,
}

#[derive(Serialize)]
struct IndexApp {
    name: &'static str,
    models: Vec<IndexModel>,
}

pub(super) async fn index(
    State(site): State<Arc<Site>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let staff = match staff(&site, &headers, uri.path()).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let mut apps: Vec<IndexApp> = Vec::new();
    for m in site.api.engine().registry().models() {
        if !super::shown(m, site.options(m)) || !viewable(&staff, m) {
            continue;
        }
        let entry = IndexModel {
            plural: m.plural_name.clone(),
            href: site.href(m),
            can_add: m.operations.create && staff.may(m, "add"),
        };
        match apps.iter_mut().find(|a| a.name == m.key.app) {
            Some(a) => a.models.push(entry),
            None => apps.push(IndexApp {
                name: m.key.app,
                models: vec![entry],
            }),
        }
    }
    render(
        &site,
        StatusCode::OK,
        "index.html",
        context! { apps => ser(&apps), ..base(&site, Some(&staff), "Site administration") },
    )
}

/// What a page does to a model's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    View,
    Add,
    Change,
    Delete,
}

/// The staff user and the model of a request to `/{app}/{model}/…`, when
/// they may do `action` there; a post's form, after its CSRF check.
/// Otherwise the page that says why (the login, 403, 404).
async fn enter<'s>(
    site: &'s Site,
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    (app, model): (&str, &str),
    action: Action,
    body: Option<&Bytes>,
) -> Result<(Staff, &'s ModelMeta, Form), Response> {
    let staff = staff(site, headers, uri.path()).await?;
    let form = body.map(parse_form).unwrap_or_default();
    if body.is_some() && !csrf_ok(headers, &form) {
        return Err(bad_csrf(site));
    }
    let Some(m) = site.model(app, model) else {
        return Err(not_found(site, &staff));
    };
    let (allowed, verb) = match action {
        Action::View => (viewable(&staff, m), "see"),
        Action::Add => (m.operations.create && staff.may(m, "add"), "add"),
        Action::Change => (m.operations.update && staff.may(m, "change"), "change"),
        Action::Delete => (m.operations.delete && staff.may(m, "delete"), "delete"),
    };
    if !allowed {
        return Err(forbidden(
            site,
            &staff,
            &format!("{verb} {}", m.plural_name),
        ));
    }
    Ok((staff, m, form))
}

/// Whether the staff user may see a model's rows here: its list rule and
/// a view or change permission.
fn viewable(staff: &Staff, m: &ModelMeta) -> bool {
    staff.scope.can_list(m).is_ok() && (staff.may(m, "view") || staff.may(m, "change"))
}

pub(super) async fn to_slash(OriginalUri(uri): OriginalUri) -> Response {
    redirect(&format!("{}/", uri.path()))
}

// ---------------------------------------------------------------- values

/// A field's name as a label: `created_at` → `Created at`, `authorId` →
/// `Author id`.
fn humanize(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c == '_' {
            out.push(' ');
        } else if c.is_uppercase() && i > 0 {
            out.push(' ');
            out.extend(c.to_lowercase());
        } else if i == 0 {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// How a value reads on a page.
fn display(f: &FieldMeta, v: &Value) -> String {
    match (v, f.kind) {
        (Value::Null, _) => "—".into(),
        (Value::Bool(b), _) => if *b { "Yes" } else { "No" }.into(),
        (Value::String(s), FieldKind::Enum(e)) => e
            .variants
            .iter()
            .find(|var| var.stored() == s.as_str())
            .map_or_else(|| s.clone(), |var| var.name.to_owned()),
        (Value::String(s), _) => clip(s, 100),
        (Value::DateTime(d), _) => d.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        (Value::Json(j), _) => clip(&j.to_string(), 100),
        (other, _) => other.key_string(),
    }
}

pub(super) fn clip_text(s: &str, n: usize) -> String {
    clip(s, n)
}

fn clip(s: &str, n: usize) -> String {
    match s.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

/// A value as a form control holds it.
fn form_value(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::DateTime(d) => d.format("%Y-%m-%dT%H:%M:%S").to_string(),
        Value::Json(j) => serde_json::to_string_pretty(j).unwrap_or_default(),
        other => other.key_string(),
    }
}

/// A form's text as a field's value; `None` for an empty control.
fn parse_value(site: &Site, f: &FieldMeta, text: &str) -> Result<Option<Value>, String> {
    use async_graphql::Value as G;
    let text = text.trim_end_matches(['\r', '\n']);
    if text.trim().is_empty() && !matches!(f.kind, FieldKind::String { .. } | FieldKind::Text) {
        return Ok(None);
    }
    if text.is_empty() {
        // Empty text is a value where the column takes no null, as in the
        // API (the model's validator decides whether blank will do).
        let text_kind = matches!(f.kind, FieldKind::String { .. } | FieldKind::Text);
        return Ok((text_kind && !f.nullable).then(|| Value::String(String::new())));
    }
    let gql = match f.kind {
        FieldKind::I32 | FieldKind::I64 | FieldKind::F64 if !f.primary_key => {
            let n: f64 = text
                .trim()
                .parse()
                .map_err(|_| format!("`{text}` is not a number"))?;
            if f.kind == FieldKind::F64 {
                G::from(n)
            } else {
                G::from(
                    text.trim()
                        .parse::<i64>()
                        .map_err(|_| format!("`{text}` is not a whole number"))?,
                )
            }
        }
        FieldKind::DateTime => {
            // `datetime-local` sends no zone: the admin's times are UTC.
            let t = text.trim();
            let t = if t.len() == 16 {
                format!("{t}:00")
            } else {
                t.to_owned()
            };
            G::String(if t.ends_with('Z') || t.contains('+') {
                t
            } else {
                format!("{t}Z")
            })
        }
        FieldKind::Json => {
            G::from_json(serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?)
                .map_err(|e| e.to_string())?
        }
        FieldKind::Enum(e) => {
            let var = e
                .variants
                .iter()
                .find(|v| v.stored() == text)
                .ok_or_else(|| format!("`{text}` is not one of the choices"))?;
            G::Enum(async_graphql::Name::new(var.graphql()))
        }
        _ => G::String(text.to_owned()),
    };
    convert::parse_field(site.api.engine().registry(), f, &gql)
        .map(Some)
        .map_err(|e| e.message)
}

// ---------------------------------------------------------------- list

#[derive(Serialize)]
struct Column {
    label: String,
    href: String,
    sorted: Option<&'static str>,
}

#[derive(Serialize)]
struct Row {
    id: String,
    /// The id as the row link's path segment.
    segment: String,
    cells: Vec<String>,
}

#[derive(Serialize)]
struct Choice {
    label: String,
    href: String,
    selected: bool,
}

#[derive(Serialize)]
struct FilterBox {
    label: String,
    choices: Vec<Choice>,
}

#[derive(Serialize)]
struct Kept {
    name: String,
    value: String,
}

/// `raw` with `set` replacing (or, with an empty value, removing) keys.
fn with(raw: &[(String, String)], set: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in raw {
        if !set.iter().any(|(s, _)| s == k) {
            q.append_pair(k, v);
        }
    }
    for (k, v) in set {
        if !v.is_empty() {
            q.append_pair(k, v);
        }
    }
    format!("?{}", q.finish())
}

/// The `f.<field>` choices of a list filter, and the condition the
/// request picked.
async fn filter_box(
    site: &Site,
    staff: &Staff,
    m: &ModelMeta,
    fi: usize,
    raw: &[(String, String)],
) -> Result<(FilterBox, Option<Filter>), Error> {
    let f = &m.fields[fi];
    let key = format!("f.{}", f.name);
    let picked = raw.iter().find(|(k, _)| *k == key).map(|(_, v)| v.as_str());
    let mut options: Vec<(String, String)> = vec![("All".into(), String::new())];
    let now = chrono::Utc::now();
    match f.kind {
        FieldKind::Bool => {
            options.push(("Yes".into(), "1".into()));
            options.push(("No".into(), "0".into()));
        }
        FieldKind::Enum(e) => {
            for v in e.variants {
                options.push((v.name.to_owned(), v.stored().into_owned()));
            }
        }
        FieldKind::Date | FieldKind::DateTime => {
            for (label, code) in [
                ("Today", "today"),
                ("Past 7 days", "7d"),
                ("This month", "month"),
                ("This year", "year"),
            ] {
                options.push((label.into(), code.into()));
            }
        }
        FieldKind::ForeignKey { target, .. } => {
            // The first targets the user can see, by key.
            let t = site.api.engine().registry().model(target);
            for (id, label) in pick_list(site, staff, t, 50).await? {
                options.push((label, id));
            }
        }
        _ => {}
    }
    if f.nullable && !matches!(f.kind, FieldKind::Bool) {
        options.push(("None".into(), "none".into()));
    }
    let choices = options
        .iter()
        .map(|(label, value)| Choice {
            label: label.clone(),
            href: with(raw, &[(&key, value), ("p", "")]),
            selected: picked.unwrap_or_default() == value,
        })
        .collect();
    let cond = match picked {
        None | Some("") => None,
        Some("none") => Some(Filter::Field {
            field: fi,
            op: Op::IsNull,
            value: FilterValue::Bool(true),
        }),
        Some(v) => {
            let eq = |value: Value| Filter::Field {
                field: fi,
                op: Op::Eq,
                value: FilterValue::One(value),
            };
            let since = |from: chrono::DateTime<chrono::Utc>| Filter::Field {
                field: fi,
                op: Op::Gte,
                value: FilterValue::One(if f.kind == FieldKind::Date {
                    Value::Date(from.date_naive())
                } else {
                    Value::DateTime(from)
                }),
            };
            let day = now
                .date_naive()
                .and_hms_opt(0, 0, 0)
                .map(|d| d.and_utc())
                .unwrap_or(now);
            use chrono::Datelike;
            match (f.kind, v) {
                (FieldKind::Bool, "1") => Some(eq(Value::Bool(true))),
                (FieldKind::Bool, "0") => Some(eq(Value::Bool(false))),
                (FieldKind::Date | FieldKind::DateTime, "today") => Some(since(day)),
                (FieldKind::Date | FieldKind::DateTime, "7d") => {
                    Some(since(day - chrono::Duration::days(6)))
                }
                (FieldKind::Date | FieldKind::DateTime, "month") => {
                    Some(since(day - chrono::Duration::days(i64::from(day.day0()))))
                }
                (FieldKind::Date | FieldKind::DateTime, "year") => Some(since(
                    day - chrono::Duration::days(i64::from(day.ordinal0())),
                )),
                (FieldKind::Enum(e), v) if e.variants.iter().any(|var| var.stored() == v) => {
                    Some(eq(Value::String(v.to_owned())))
                }
                (FieldKind::ForeignKey { .. }, v) => {
                    let parsed = parse_value(site, f, v).map_err(Error::bad_input)?;
                    parsed.map(eq)
                }
                _ => return Err(Error::bad_input(format!("`{v}` is not a choice of {key}"))),
            }
        }
    };
    Ok((
        FilterBox {
            label: humanize(f.name),
            choices,
        },
        cond,
    ))
}

/// Up to `n` rows of `t` the user can see, as (key, label): the first
/// text field after the key names a row (`#7 Hello`).
async fn pick_list(
    site: &Site,
    staff: &Staff,
    t: &ModelMeta,
    n: u64,
) -> Result<Vec<(String, String)>, Error> {
    let engine = site.api.engine();
    let mut node = NodePlan::of(&staff.scope, t)?;
    let label = label_field(t);
    node.columns.extend(label);
    let plan = ListPlan {
        filter: None,
        order: vec![OrderTerm {
            path: Vec::new(),
            model: t.id,
            field: t.ref_pk(),
            desc: false,
        }],
        window: Window {
            start: 0,
            end: Some(n),
            last: None,
        },
        node,
        want_total: false,
        want_rows: true,
    };
    let page =
        exec::fetch_list(engine, &mut Exec::pool(engine.db()), &staff.scope, t, &plan).await?;
    Ok(page
        .items
        .iter()
        .map(|(_, row)| {
            let id = row.values[t.ref_pk()].key_string();
            let text = label
                .map(|i| clip(&row.values[i].key_string(), 60))
                .unwrap_or_default();
            (id.clone(), format!("#{id} {text}").trim().to_owned())
        })
        .collect())
}

/// How many rows a picker offers.
const PICKS: u64 = 500;

/// The picker's options, with every chosen key among them (a key past the
/// first rows would otherwise be dropped by the next save).
fn with_chosen(
    picks: Vec<(String, String)>,
    chosen: &[String],
    selected: impl Fn(&str) -> bool,
) -> Vec<Opt> {
    let mut out: Vec<Opt> = picks
        .into_iter()
        .map(|(value, label)| Opt {
            selected: selected(&value),
            value,
            label,
        })
        .collect();
    for c in chosen.iter().filter(|c| !c.is_empty()) {
        if !out.iter().any(|o| &o.value == c) {
            out.push(Opt {
                value: c.clone(),
                label: format!("#{c}"),
                selected: selected(c),
            });
        }
    }
    out
}

/// The field that names a row: its first text field.
fn label_field(m: &ModelMeta) -> Option<usize> {
    m.fields
        .iter()
        .position(|f| !f.hidden && !f.primary_key && matches!(f.kind, FieldKind::String { .. }))
}

pub(super) async fn list(
    State(site): State<Arc<Site>>,
    Path((app, model)): Path<(String, String)>,
    Query(raw): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let (staff, m, _) = match enter(&site, &headers, &uri, (&app, &model), Action::View, None).await
    {
        Ok(e) => e,
        Err(r) => return r,
    };
    let notice = raw
        .iter()
        .find(|(k, _)| k == "done")
        .map(|(_, v)| v.clone());
    match list_page(&site, &staff, m, &raw).await {
        Ok(ctx) => render(
            &site,
            StatusCode::OK,
            "list.html",
            context! { notice => notice, ..ctx },
        ),
        Err(e) => refused(&site, &staff, &e),
    }
}

async fn list_page(
    site: &Site,
    staff: &Staff,
    m: &ModelMeta,
    raw: &[(String, String)],
) -> Result<minijinja::Value, Error> {
    let engine = site.api.engine();
    let reg = engine.registry();
    let o = site.options(m);
    let param = |k: &str| {
        raw.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let q = param("q").unwrap_or_default().trim().to_owned();
    let mut conds = Vec::new();
    if !q.is_empty() && !o.search.is_empty() {
        conds.push(Filter::Or(
            o.search
                .iter()
                .map(|&fi| Filter::Field {
                    field: fi,
                    op: Op::IContains,
                    value: FilterValue::One(Value::String(q.clone())),
                })
                .collect(),
        ));
    }
    let mut filters = Vec::new();
    for &fi in &o.filters {
        let (b, cond) = filter_box(site, staff, m, fi, raw).await?;
        filters.push(b);
        conds.extend(cond);
    }
    let filter = Filter::all(conds);
    if let Some(f) = &filter {
        scope::check_filter(reg, &staff.scope, m, f)?;
    }
    // Ordering by a column: `o=title` or `o=-title`; newest first by default.
    let (order_field, desc) = match param("o") {
        Some(v) => {
            let (desc, name) = v.strip_prefix('-').map_or((false, v), |n| (true, n));
            let fi = o
                .list
                .iter()
                .copied()
                .find(|&i| m.fields[i].name == name)
                .ok_or_else(|| Error::bad_input(format!("cannot order by `{name}`")))?;
            (fi, desc)
        }
        None => (m.pk[0], true),
    };
    // Then the key (each field of a composite one), so pages are stable.
    let order: Vec<OrderTerm> = std::iter::once(order_field)
        .chain(m.pk.iter().copied().filter(|&i| i != order_field))
        .map(|field| OrderTerm {
            path: Vec::new(),
            model: m.id,
            field,
            desc,
        })
        .collect();
    scope::check_order(reg, &staff.scope, &order)?;
    let page_no: u64 = match param("p") {
        None => 1,
        Some(p) => p
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=1_000_000).contains(n))
            .ok_or_else(|| Error::bad_input(format!("`{p}` is not a page")))?,
    };
    let start = (page_no - 1) * o.per_page;
    let mut node = NodePlan::of(&staff.scope, m)?;
    node.columns.extend(o.list.iter().copied());
    // A key column reads as its row's label: the row joins into the page.
    for &fi in &o.list {
        if let Some((ri, target)) = forward(reg, m, fi) {
            let mut child = NodePlan::of(&staff.scope, target)?;
            child.columns.extend(label_field(target));
            node.add_child(
                reg,
                m,
                graphloom_query::plan::ChildPlan {
                    key: Arc::from(m.relations[ri].name.as_str()),
                    relation: ri,
                    target: target.id,
                    fetch: graphloom_query::plan::ChildFetch::One(child),
                },
            );
        }
    }
    let plan = ListPlan {
        filter,
        order,
        window: Window {
            start,
            end: Some(start + o.per_page),
            last: None,
        },
        node,
        want_total: true,
        want_rows: true,
    };
    let page =
        exec::fetch_list(engine, &mut Exec::pool(engine.db()), &staff.scope, m, &plan).await?;
    let total = u64::try_from(page.total.unwrap_or(0)).unwrap_or(0);
    let pages = total.div_ceil(o.per_page).max(1);
    let rows: Vec<Row> = page
        .items
        .iter()
        .map(|(_, n)| {
            let id = m.key_of(&n.values).key_string();
            Row {
                segment: graphloom_server::path_segment(&id),
                id,
                cells: o
                    .list
                    .iter()
                    .map(|&fi| cell(reg, &staff.scope, m, n, fi))
                    .collect(),
            }
        })
        .collect();
    let columns: Vec<Column> = o
        .list
        .iter()
        .map(|&fi| {
            let f = &m.fields[fi];
            let sorted = (fi == order_field && param("o").is_some()).then_some(if desc {
                "descending"
            } else {
                "ascending"
            });
            let next = if sorted == Some("ascending") {
                format!("-{}", f.name)
            } else {
                f.name.to_owned()
            };
            Column {
                label: humanize(f.name),
                href: with(raw, &[("o", &next), ("p", "")]),
                sorted,
            }
        })
        .collect();
    let link = |n: u64| with(raw, &[("p", &n.to_string())]);
    let kept: Vec<Kept> = raw
        .iter()
        .filter(|(k, _)| k.starts_with("f.") || k == "o")
        .map(|(k, v)| Kept {
            name: k.clone(),
            value: v.clone(),
        })
        .collect();
    Ok(context! {
        crumbs => vec![context! { href => format!("{}/", site.prefix), label => "Home" }],
        model => m.graphql_name.clone(),
        can_add => m.operations.create && staff.may(m, "add"),
        can_delete => m.operations.delete && staff.may(m, "delete"),
        searchable => !o.search.is_empty(),
        q => q,
        kept_filters => ser(&kept),
        filters => ser(&filters),
        columns => ser(&columns),
        rows => ser(&rows),
        total => total,
        page => page_no,
        pages => pages,
        prev => (page_no > 1).then(|| link(page_no - 1)),
        next => (page_no < pages).then(|| link(page_no + 1)),
        ..base(site, Some(staff), &m.plural_name)
    })
}

/// One cell: the value, or a dash where a field rule withholds it.
fn cell(
    reg: &graphloom_meta::Registry,
    scope: &Scope,
    m: &ModelMeta,
    n: &Node,
    fi: usize,
) -> String {
    let scope = n.scope.as_deref().unwrap_or(scope);
    if !scope.field_visible(m, fi, &|i| n.values[i].clone()) {
        return "—".into();
    }
    // A key: `#2 user2` when its row came with the page.
    if let Some((ri, target)) = forward(reg, m, fi)
        && let Some(exec::Child::One(Some(row))) = n.children.get(m.relations[ri].name.as_str())
    {
        let label = label_field(target)
            .map(|i| clip(&row.values[i].key_string(), 60))
            .unwrap_or_default();
        return format!("#{} {label}", row.values[target.ref_pk()].key_string())
            .trim()
            .to_owned();
    }
    display(&m.fields[fi], &n.values[fi])
}

/// The to-one relation a foreign key field holds, and its target, when
/// the target is this service's.
fn forward<'r>(
    reg: &'r graphloom_meta::Registry,
    m: &ModelMeta,
    fi: usize,
) -> Option<(usize, &'r ModelMeta)> {
    m.relations
        .iter()
        .enumerate()
        .find_map(|(ri, r)| match r.kind {
            graphloom_meta::RelationKind::ForwardOne { field } if field == fi => {
                let t = reg.model(r.target);
                (!t.external).then_some((ri, t))
            }
            _ => None,
        })
}

// ---------------------------------------------------------------- forms

#[derive(Serialize, Clone)]
struct Opt {
    value: String,
    label: String,
    selected: bool,
}

#[derive(Serialize)]
struct Control {
    name: String,
    label: String,
    widget: &'static str,
    value: String,
    checked: bool,
    readonly: bool,
    required: bool,
    nullable: bool,
    help: Option<&'static str>,
    step: Option<String>,
    maxlength: Option<u32>,
    rows: u32,
    list: bool,
    options: Vec<Opt>,
    errors: Vec<ShownError>,
}

#[derive(Serialize, Clone)]
struct ShownError {
    message: String,
    code: &'static str,
}

/// What a form shows: the row's values (or what was sent), and errors.
struct Filled<'a> {
    values: BTreeMap<usize, String>,
    links: BTreeMap<usize, Vec<String>>,
    errors: &'a [FieldError],
    create: bool,
    /// The stored row, every column (empty for a form not read from one).
    row: Vec<Value>,
}

async fn controls(
    site: &Site,
    staff: &Staff,
    m: &ModelMeta,
    filled: &Filled<'_>,
) -> Result<Vec<Control>, Error> {
    let reg = site.api.engine().registry();
    let o = site.options(m);
    let mut out = Vec::new();
    let errors_of = |name: &str| -> Vec<ShownError> {
        filled
            .errors
            .iter()
            .filter(|e| e.field.first().is_some_and(|f| f == name))
            .map(|e| ShownError {
                message: e.message.clone(),
                code: e.code.as_str(),
            })
            .collect()
    };
    for (i, f) in m.fields.iter().enumerate() {
        if f.hidden {
            continue;
        }
        let readonly = !f.writable(filled.create) || o.readonly.contains(&i);
        // A new row shows only what can be given.
        if filled.create && readonly {
            continue;
        }
        let value = filled.values.get(&i).cloned().unwrap_or_default();
        let mut c = Control {
            name: f.graphql_name.clone(),
            label: humanize(f.name),
            widget: "text",
            checked: value == "true",
            value,
            readonly,
            required: filled.create && f.required_on_create(),
            nullable: f.nullable,
            help: f.help,
            step: None,
            maxlength: None,
            rows: 4,
            list: false,
            options: Vec::new(),
            errors: errors_of(&f.graphql_name),
        };
        match f.kind {
            _ if f.primary_key && !f.composite_key => c.widget = "text",
            FieldKind::String { max_length } => c.maxlength = Some(max_length),
            FieldKind::Text => {
                c.widget = "textarea";
                c.rows = 8;
            }
            FieldKind::I32 | FieldKind::I64 => {
                c.widget = "number";
                c.step = Some("1".into());
            }
            FieldKind::F64 => {
                c.widget = "number";
                c.step = Some("any".into());
            }
            FieldKind::Decimal { decimal_places, .. } => {
                c.widget = "number";
                c.step = Some(if decimal_places == 0 {
                    "1".into()
                } else {
                    format!("0.{}1", "0".repeat(decimal_places as usize - 1))
                });
            }
            FieldKind::Bool => c.widget = "checkbox",
            FieldKind::Date => c.widget = "date",
            FieldKind::DateTime => {
                c.widget = "datetime-local";
                c.step = Some("1".into());
                c.label = format!("{} (UTC)", humanize(f.name));
            }
            FieldKind::Json => c.widget = "textarea",
            FieldKind::Enum(e) => {
                c.widget = "select";
                c.options = e
                    .variants
                    .iter()
                    .map(|v| Opt {
                        value: v.stored().into_owned(),
                        label: v.name.to_owned(),
                        selected: false,
                    })
                    .collect();
                if c.value.is_empty()
                    && let Some(Value::String(d)) = &f.default
                {
                    c.value = d.clone();
                }
            }
            FieldKind::ForeignKey { target, .. } => {
                let picks = pick_list(site, staff, reg.model(target), PICKS).await?;
                // Up to PICKS rows a select; past that, a text box of the
                // key with the first rows to pick from as you type.
                c.widget = if picks.len() < PICKS as usize {
                    "select"
                } else {
                    c.list = true;
                    "text"
                };
                c.options = with_chosen(picks, std::slice::from_ref(&c.value), |_| false);
            }
            FieldKind::Uuid | FieldKind::AutoId => {}
        }
        if readonly && !c.value.is_empty() {
            // A read-only value reads as in the list.
            c.value = match parse_value(site, f, &c.value) {
                Ok(Some(v)) => display(f, &v),
                _ => c.value,
            };
        }
        out.push(c);
    }
    for ri in link_relations(reg, m) {
        let rel = &m.relations[ri];
        let chosen = filled.links.get(&ri).cloned().unwrap_or_default();
        let picks = pick_list(site, staff, reg.model(rel.target), PICKS).await?;
        let options = with_chosen(picks, &chosen, |v| chosen.iter().any(|c| c == v));
        out.push(Control {
            name: rel.name.clone(),
            label: humanize(&rel.name),
            widget: "multiple",
            value: String::new(),
            checked: false,
            readonly: false,
            required: false,
            nullable: true,
            help: rel.help,
            step: None,
            maxlength: None,
            rows: 0,
            list: false,
            options,
            errors: errors_of(&rel.name),
        });
    }
    Ok(out)
}

/// The form's fields as a write: values of the writable fields sent, the
/// many-to-many sets, and the parse errors.
fn write_input(site: &Site, m: &ModelMeta, form: &Form, create: bool) -> WriteInput {
    let reg = site.api.engine().registry();
    let o = site.options(m);
    let mut input = WriteInput::default();
    for (i, f) in m.fields.iter().enumerate() {
        if f.hidden || !f.writable(create) || o.readonly.contains(&i) {
            continue;
        }
        if f.kind == FieldKind::Bool {
            input
                .values
                .insert(i, Value::Bool(get(form, &f.graphql_name).is_some()));
            continue;
        }
        let Some(text) = get(form, &f.graphql_name) else {
            continue;
        };
        match parse_value(site, f, text) {
            Ok(Some(v)) => {
                input.values.insert(i, v);
            }
            // Empty: null where the field takes it; on a new row, the default.
            Ok(None) if create && !f.required_on_create() && !f.nullable => {}
            Ok(None) => {
                input.values.insert(i, Value::Null);
            }
            Err(message) => input.errors.push(FieldError::new(
                &f.graphql_name,
                message,
                FieldCode::Invalid,
            )),
        }
    }
    for ri in link_relations(reg, m) {
        let rel = &m.relations[ri];
        let target = reg.model(rel.target);
        let pk = target.ref_pk_field();
        let mut set = Vec::new();
        for (_, v) in form.iter().filter(|(k, _)| *k == rel.name) {
            match parse_value(site, pk, v) {
                Ok(Some(key)) => set.push(key),
                Ok(None) => {}
                Err(message) => {
                    input
                        .errors
                        .push(FieldError::new(&rel.name, message, FieldCode::Invalid))
                }
            }
        }
        input.links.push(LinkChange {
            relation: ri,
            set: Some(set),
            add: Vec::new(),
            remove: Vec::new(),
        });
    }
    input
}

/// What the form sent, to show again beside its errors.
fn sent(m: &ModelMeta, reg: &graphloom_meta::Registry, form: &Form) -> Filled<'static> {
    let mut values = BTreeMap::new();
    for (i, f) in m.fields.iter().enumerate() {
        if f.kind == FieldKind::Bool {
            values.insert(i, get(form, &f.graphql_name).is_some().to_string());
        } else if let Some(v) = get(form, &f.graphql_name) {
            values.insert(i, v.to_owned());
        }
    }
    let mut links = BTreeMap::new();
    for ri in link_relations(reg, m) {
        let name = &m.relations[ri].name;
        links.insert(
            ri,
            form.iter()
                .filter(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .collect(),
        );
    }
    Filled {
        values,
        links,
        errors: &[],
        create: false,
        row: Vec::new(),
    }
}

#[allow(clippy::too_many_arguments)]
async fn form_page(
    site: &Site,
    staff: &Staff,
    m: &ModelMeta,
    status: StatusCode,
    title: String,
    filled: &Filled<'_>,
    delete_href: Option<String>,
    notice: Option<String>,
) -> Response {
    let fields = match controls(site, staff, m, filled).await {
        Ok(f) => f,
        Err(e) => return refused(site, staff, &e),
    };
    let known: Vec<&str> = fields.iter().map(|c| c.name.as_str()).collect();
    let general: Vec<ShownError> = filled
        .errors
        .iter()
        .filter(|e| !e.field.first().is_some_and(|f| known.contains(&f.as_str())))
        .map(|e| ShownError {
            message: e.message.clone(),
            code: e.code.as_str(),
        })
        .collect();
    let error = (!filled.errors.is_empty()).then_some("Please correct the errors below.");
    let can_save = if filled.create {
        staff.may(m, "add")
    } else {
        staff.may(m, "change") && m.operations.update
    };
    render(
        site,
        status,
        "form.html",
        context! {
            crumbs => vec![
                context! { href => format!("{}/", site.prefix), label => "Home" },
                context! { href => site.href(m), label => m.plural_name.clone() },
            ],
            fields => ser(&fields),
            general => ser(&general),
            error => error,
            notice => notice,
            can_save => can_save,
            delete_href => delete_href,
            history_href => (!filled.create).then_some("history"),
            password_href => (!filled.create && is_user_model(m) && staff.principal.superuser).then_some("password"),
            ..base(site, Some(staff), &title)
        },
    )
}

/// The key a row's URL names: its key's value, or a composite key's
/// values, comma-separated.
fn key_of(site: &Site, m: &ModelMeta, id: &str) -> Option<Value> {
    match m.pk.as_slice() {
        [one] => parse_value(site, &m.fields[*one], id).ok().flatten(),
        _ => Value::parse_key(&write::key_types(site.api.engine().registry(), m), id),
    }
}

/// The row `id` with every field and its many-to-many keys, as the user sees it.
async fn load(
    site: &Site,
    staff: &Staff,
    m: &ModelMeta,
    key: Value,
) -> Result<Option<Filled<'static>>, Error> {
    let engine = site.api.engine();
    let reg = engine.registry();
    let mut node = NodePlan::of(&staff.scope, m)?;
    node.columns.extend(0..m.fields.len());
    for ri in link_relations(reg, m) {
        let rel = &m.relations[ri];
        let target = reg.model(rel.target);
        node.add_child(
            reg,
            m,
            graphloom_query::plan::ChildPlan {
                key: Arc::from(rel.name.as_str()),
                relation: ri,
                target: rel.target,
                fetch: graphloom_query::plan::ChildFetch::Many(ListPlan {
                    filter: None,
                    order: Vec::new(),
                    window: Window {
                        start: 0,
                        end: Some(10_000),
                        last: None,
                    },
                    node: NodePlan::of(&staff.scope, target)?,
                    want_total: false,
                    want_rows: true,
                }),
            },
        );
    }
    let Some(row) = exec::fetch_keys_matching(
        engine,
        &mut Exec::pool(engine.db()),
        &staff.scope,
        m,
        std::slice::from_ref(&key),
        None,
        &node,
    )
    .await?
    .pop() else {
        return Ok(None);
    };
    let scope = row.scope.as_deref().unwrap_or(&staff.scope);
    let values = (0..m.fields.len())
        .filter(|&i| scope.field_visible(m, i, &|j| row.values[j].clone()))
        .map(|i| (i, form_value(&row.values[i])))
        .collect();
    let mut links = BTreeMap::new();
    for ri in link_relations(reg, m) {
        let name = m.relations[ri].name.as_str();
        let target = reg.model(m.relations[ri].target);
        if let Some(exec::Child::Many(page)) = row.children.get(name) {
            links.insert(
                ri,
                page.items
                    .iter()
                    .map(|(_, n)| n.values[target.ref_pk()].key_string())
                    .collect(),
            );
        }
    }
    Ok(Some(Filled {
        values,
        links,
        errors: &[],
        create: false,
        row: row.values.clone(),
    }))
}

pub(super) async fn add_form(
    State(site): State<Arc<Site>>,
    Path((app, model)): Path<(String, String)>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let (staff, m, _) = match enter(&site, &headers, &uri, (&app, &model), Action::Add, None).await
    {
        Ok(e) => e,
        Err(r) => return r,
    };
    let filled = Filled {
        values: BTreeMap::new(),
        links: BTreeMap::new(),
        errors: &[],
        create: true,
        row: Vec::new(),
    };
    form_page(
        &site,
        &staff,
        m,
        StatusCode::OK,
        format!("Add {}", m.graphql_name),
        &filled,
        None,
        None,
    )
    .await
}

pub(super) async fn add(
    State(site): State<Arc<Site>>,
    Path((app, model)): Path<(String, String)>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    body: Bytes,
) -> Response {
    let (staff, m, form) = match enter(
        &site,
        &headers,
        &uri,
        (&app, &model),
        Action::Add,
        Some(&body),
    )
    .await
    {
        Ok(e) => e,
        Err(r) => return r,
    };
    let engine = site.api.engine();
    let input = write_input(&site, m, &form, true);
    let errors = match write::create(engine, &staff.scope, m, input, None).await {
        Ok(Outcome::Written { key, row, .. }) => {
            let id = key.key_string();
            log(&site, &staff, m, &id, &row, LogAction::Added, None).await;
            return redirect(&format!("{}?done=added", site.row_href(m, &id)));
        }
        Ok(Outcome::Refused(errors)) => errors,
        Err(e) => e.fields.clone().into_iter().chain(general(&e)).collect(),
    };
    let mut filled = sent(m, engine.registry(), &form);
    filled.create = true;
    filled.errors = &errors;
    form_page(
        &site,
        &staff,
        m,
        StatusCode::UNPROCESSABLE_ENTITY,
        format!("Add {}", m.graphql_name),
        &filled,
        None,
        None,
    )
    .await
}

/// Records a write in the history.
async fn log(
    site: &Site,
    staff: &Staff,
    m: &ModelMeta,
    id: &str,
    row: &[Value],
    action: LogAction,
    changes: Option<serde_json::Value>,
) {
    let repr = label_field(m)
        .and_then(|i| row.get(i))
        .map(Value::key_string)
        .unwrap_or_default();
    let sys = graphloom_query::Ctx::system(Arc::clone(site.api.engine()));
    history::record(
        &sys,
        &staff.principal.user_id,
        m,
        id,
        &repr,
        action,
        changes,
    )
    .await;
}

/// A request error shown at the top of a form.
fn general(e: &Error) -> Option<FieldError> {
    e.fields.is_empty().then(|| {
        FieldError::new(
            "",
            format!("{} ({})", e.message, e.code),
            FieldCode::Validation,
        )
    })
}

pub(super) async fn change_form(
    State(site): State<Arc<Site>>,
    Path((app, model, id)): Path<(String, String, String)>,
    Query(raw): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let (staff, m, _) = match enter(&site, &headers, &uri, (&app, &model), Action::View, None).await
    {
        Ok(e) => e,
        Err(r) => return r,
    };
    let Some(key) = key_of(&site, m, &id) else {
        return not_found(&site, &staff);
    };
    let filled = match load(&site, &staff, m, key).await {
        Ok(Some(f)) => f,
        Ok(None) => return not_found(&site, &staff),
        Err(e) => return refused(&site, &staff, &e),
    };
    let notice = raw.iter().find(|(k, _)| k == "done").map(|(_, v)| {
        match v.as_str() {
            "added" => "Added.",
            _ => "Saved.",
        }
        .to_owned()
    });
    let delete = (m.operations.delete && staff.may(m, "delete")).then(|| "delete".to_owned());
    form_page(
        &site,
        &staff,
        m,
        StatusCode::OK,
        format!("{} {id}", m.graphql_name),
        &filled,
        delete,
        notice,
    )
    .await
}

pub(super) async fn change(
    State(site): State<Arc<Site>>,
    Path((app, model, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    body: Bytes,
) -> Response {
    let (staff, m, form) = match enter(
        &site,
        &headers,
        &uri,
        (&app, &model),
        Action::Change,
        Some(&body),
    )
    .await
    {
        Ok(e) => e,
        Err(r) => return r,
    };
    let Some(key) = key_of(&site, m, &id) else {
        return not_found(&site, &staff);
    };
    let engine = site.api.engine();
    let input = write_input(&site, m, &form, false);
    // The row before: the history's "from", and the form again if the
    // change is refused.
    let mut filled = match load(&site, &staff, m, key.clone()).await {
        Ok(Some(f)) => f,
        Ok(None) => return not_found(&site, &staff),
        Err(e) => return refused(&site, &staff, &e),
    };
    let links_after: Vec<(usize, Vec<String>)> = input
        .links
        .iter()
        .map(|l| {
            let keys = l.set.iter().flatten().map(Value::key_string).collect();
            (l.relation, keys)
        })
        .collect();
    let errors = match write::update(engine, &staff.scope, m, key.clone(), input, None, None).await
    {
        Ok(Outcome::Written { row, .. }) => {
            let mut changes = history::changes(m, &filled.row, &row);
            // Many-to-many sets, as sorted keys, where they changed.
            for (ri, after) in &links_after {
                let mut was = filled.links.get(ri).cloned().unwrap_or_default();
                let mut now = after.clone();
                was.sort();
                now.sort();
                if was != now
                    && let Some(obj) = changes.as_object_mut()
                {
                    obj.insert(
                        m.relations[*ri].name.clone(),
                        serde_json::json!([was.join(", "), now.join(", ")]),
                    );
                }
            }
            log(
                &site,
                &staff,
                m,
                &id,
                &row,
                LogAction::Changed,
                Some(changes),
            )
            .await;
            return redirect(&format!("{}?done=saved", site.row_href(m, &id)));
        }
        Ok(Outcome::Refused(errors)) => errors,
        Err(e) if e.code == ErrorCode::NotFound => return not_found(&site, &staff),
        Err(e) => e.fields.clone().into_iter().chain(general(&e)).collect(),
    };
    // Read-only fields as stored (nothing was written), the rest as sent.
    let again = sent(m, engine.registry(), &form);
    for (i, v) in again.values {
        if m.fields[i].writable(false) && !site.options(m).readonly.contains(&i) {
            filled.values.insert(i, v);
        }
    }
    filled.links = again.links;
    filled.errors = &errors;
    let delete = (m.operations.delete && staff.may(m, "delete")).then(|| "delete".to_owned());
    form_page(
        &site,
        &staff,
        m,
        StatusCode::UNPROCESSABLE_ENTITY,
        format!("{} {id}", m.graphql_name),
        &filled,
        delete,
        None,
    )
    .await
}

// ---------------------------------------------------------------- delete

#[derive(Serialize)]
struct Counted {
    count: i64,
    label: String,
}

/// What deleting rows `keys` of `m` takes with it (cascades, followed
/// through every level) and what stops it (protecting rows): counted over
/// all rows, seen or not, since the database removes or refuses them all.
async fn consequences(
    site: &Site,
    m: &ModelMeta,
    keys: &[Value],
) -> Result<(Vec<Counted>, Vec<Counted>), Error> {
    let engine = site.api.engine();
    let reg = engine.registry();
    let sys = Scope::system(Arc::clone(engine.registry_arc()));
    let mut cascade: BTreeMap<String, i64> = BTreeMap::new();
    let mut protected: BTreeMap<String, i64> = BTreeMap::new();
    // (model, keys) still to follow; a model met again is followed again
    // with its new keys, up to a bound against cycles.
    let mut todo = vec![(m.id, keys.to_vec())];
    let mut steps = 0;
    while let Some((at, keys)) = todo.pop() {
        steps += 1;
        if steps > 50 || keys.is_empty() {
            continue;
        }
        for other in reg.models().iter().filter(|o| !o.external) {
            for (fi, f) in other.fields.iter().enumerate() {
                let FieldKind::ForeignKey {
                    target, on_delete, ..
                } = f.kind
                else {
                    continue;
                };
                if target != at {
                    continue;
                }
                let filter = Filter::Field {
                    field: fi,
                    op: Op::In,
                    value: FilterValue::List(keys.clone()),
                };
                let mut node = NodePlan::of(&sys, other)?;
                node.columns.extend(other.pk.iter().copied());
                let plan = ListPlan {
                    filter: Some(filter),
                    order: Vec::new(),
                    window: Window {
                        start: 0,
                        end: Some(10_000),
                        last: None,
                    },
                    node,
                    want_total: true,
                    want_rows: true,
                };
                let page =
                    exec::fetch_list(engine, &mut Exec::pool(engine.db()), &sys, other, &plan)
                        .await?;
                let n = page.total.unwrap_or(0);
                if n == 0 {
                    continue;
                }
                match on_delete {
                    OnDelete::Cascade => {
                        *cascade.entry(other.plural_name.clone()).or_default() += n;
                        let next: Vec<Value> = page
                            .items
                            .iter()
                            .map(|(_, r)| other.key_of(&r.values))
                            .collect();
                        todo.push((other.id, next));
                    }
                    OnDelete::Protect => {
                        *protected.entry(other.plural_name.clone()).or_default() += n;
                    }
                    _ => {}
                }
            }
        }
    }
    let list = |m: BTreeMap<String, i64>| {
        m.into_iter()
            .map(|(label, count)| Counted { count, label })
            .collect()
    };
    Ok((list(cascade), list(protected)))
}

#[allow(clippy::too_many_arguments)]
async fn confirm_page(
    site: &Site,
    staff: &Staff,
    m: &ModelMeta,
    ids: &[String],
    what: String,
    action: &str,
    back: String,
    error: Option<String>,
) -> Response {
    let keys: Vec<Value> = ids.iter().filter_map(|id| key_of(site, m, id)).collect();
    let (cascade, protected) = match consequences(site, m, &keys).await {
        Ok(c) => c,
        Err(e) => return refused(site, staff, &e),
    };
    render(
        site,
        if error.is_some() {
            StatusCode::CONFLICT
        } else {
            StatusCode::OK
        },
        "delete.html",
        context! {
            crumbs => vec![
                context! { href => format!("{}/", site.prefix), label => "Home" },
                context! { href => site.href(m), label => m.plural_name.clone() },
            ],
            what => what.clone(),
            cascade => ser(&cascade),
            protected => ser(&protected),
            ids => ser(&ids),
            action => action,
            back => back,
            error => error,
            ..base(site, Some(staff), &format!("Delete {what}"))
        },
    )
}

pub(super) async fn delete_form(
    State(site): State<Arc<Site>>,
    Path((app, model, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let (staff, m, _) =
        match enter(&site, &headers, &uri, (&app, &model), Action::Delete, None).await {
            Ok(e) => e,
            Err(r) => return r,
        };
    let visible = match key_of(&site, m, &id) {
        Some(key) => matches!(load(&site, &staff, m, key).await, Ok(Some(_))),
        None => false,
    };
    if !visible {
        return not_found(&site, &staff);
    }
    confirm_page(
        &site,
        &staff,
        m,
        std::slice::from_ref(&id),
        format!("{} {id}", m.graphql_name),
        "delete",
        site.row_href(m, &id),
        None,
    )
    .await
}

pub(super) async fn delete(
    State(site): State<Arc<Site>>,
    Path((app, model, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    body: Bytes,
) -> Response {
    let (staff, m, _) = match enter(
        &site,
        &headers,
        &uri,
        (&app, &model),
        Action::Delete,
        Some(&body),
    )
    .await
    {
        Ok(e) => e,
        Err(r) => return r,
    };
    let Some(key) = key_of(&site, m, &id) else {
        return not_found(&site, &staff);
    };
    match write::delete(site.api.engine(), &staff.scope, m, key, None).await {
        Ok(Outcome::Written { row, .. }) => {
            log(&site, &staff, m, &id, &row, LogAction::Deleted, None).await;
            redirect(&format!("{}?done=deleted", site.href(m)))
        }
        Ok(Outcome::Refused(errors)) => {
            let why = errors
                .iter()
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
                .join(" ");
            confirm_page(
                &site,
                &staff,
                m,
                std::slice::from_ref(&id),
                format!("{} {id}", m.graphql_name),
                "delete",
                site.row_href(m, &id),
                Some(why),
            )
            .await
        }
        Err(e) if e.code == ErrorCode::NotFound => not_found(&site, &staff),
        Err(e) => refused(&site, &staff, &e),
    }
}

/// `POST …/delete-selected`: the confirmation for the ticked rows, then
/// (with `confirm=yes`) their deletion, each in its own transaction.
pub(super) async fn delete_selected(
    State(site): State<Arc<Site>>,
    Path((app, model)): Path<(String, String)>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    body: Bytes,
) -> Response {
    let (staff, m, form) = match enter(
        &site,
        &headers,
        &uri,
        (&app, &model),
        Action::Delete,
        Some(&body),
    )
    .await
    {
        Ok(e) => e,
        Err(r) => return r,
    };
    let ids: Vec<String> = form
        .iter()
        .filter(|(k, _)| k == "id")
        .map(|(_, v)| v.clone())
        .take(1000)
        .collect();
    if ids.is_empty() {
        return redirect(&site.href(m));
    }
    if get(&form, "confirm") != Some("yes") {
        let what = format!("{} {}", ids.len(), m.plural_name);
        return confirm_page(
            &site,
            &staff,
            m,
            &ids,
            what,
            "delete-selected",
            site.href(m),
            None,
        )
        .await;
    }
    let mut deleted = 0;
    let mut kept = Vec::new();
    for id in &ids {
        let Some(key) = key_of(&site, m, id) else {
            continue;
        };
        match write::delete(site.api.engine(), &staff.scope, m, key, None).await {
            Ok(Outcome::Written { row, .. }) => {
                log(&site, &staff, m, id, &row, LogAction::Deleted, None).await;
                deleted += 1;
            }
            Ok(Outcome::Refused(_)) | Err(_) => kept.push(id.clone()),
        }
    }
    if kept.is_empty() {
        return redirect(&format!("{}?done=deleted-{deleted}", site.href(m)));
    }
    message(
        &site,
        Some(&staff),
        StatusCode::CONFLICT,
        "Some rows were not deleted",
        &format!(
            "Deleted {deleted}; these could not be (protected, changed, or not yours to delete): {}.",
            kept.join(", ")
        ),
    )
}

// ---------------------------------------------------------------- history

#[derive(Serialize)]
struct Entry {
    at: String,
    user: String,
    action: &'static str,
    changes: Vec<String>,
}

/// The auth app's user model, whose password the admin sets on a page of
/// its own (the hash is a hidden field no form shows).
fn is_user_model(m: &ModelMeta) -> bool {
    m.key == <crate::auth::User as graphloom_meta::Model>::decl().key()
}

/// `GET|POST …/user/{id}/password`: sets a user's password, for superusers
/// (the auth app lets only them change users), after the password policy;
/// every session of the user ends.
pub(super) async fn password_form(
    State(site): State<Arc<Site>>,
    Path((app, model, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Response {
    set_password(&site, (&app, &model, &id), &headers, &uri, None).await
}

pub(super) async fn password(
    State(site): State<Arc<Site>>,
    Path((app, model, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
    body: Bytes,
) -> Response {
    set_password(&site, (&app, &model, &id), &headers, &uri, Some(&body)).await
}

async fn set_password(
    site: &Site,
    (app, model, id): (&str, &str, &str),
    headers: &HeaderMap,
    uri: &axum::http::Uri,
    body: Option<&Bytes>,
) -> Response {
    let post = body.is_some();
    let (staff, m, form) = match enter(site, headers, uri, (app, model), Action::Change, body).await
    {
        Ok(e) => e,
        Err(r) => return r,
    };
    if !is_user_model(m) {
        return not_found(site, &staff);
    }
    if !staff.principal.superuser {
        return forbidden(site, &staff, "set passwords");
    }
    let sys = graphloom_query::Ctx::system(Arc::clone(site.api.engine()));
    let Ok(key) = id.parse::<i64>() else {
        return not_found(site, &staff);
    };
    let user = match crate::auth::User::objects(&sys).get(key).await {
        Ok(u) => u,
        Err(_) => return not_found(site, &staff),
    };
    let back = site.row_href(m, id);
    let page = |status: StatusCode, problem: Option<&str>| {
        render(
            site,
            status,
            "password.html",
            context! {
                problem => problem,
                back => back.clone(),
                crumbs => vec![
                    context! { href => format!("{}/", site.prefix), label => "Home" },
                    context! { href => site.href(m), label => m.plural_name.clone() },
                    context! { href => back.clone(), label => format!("{} {id}", m.graphql_name) },
                ],
                ..base(site, Some(&staff), &format!("Password of {}", user.username))
            },
        )
    };
    if !post {
        return page(StatusCode::OK, None);
    }
    let new = get(&form, "password").unwrap_or_default();
    if get(&form, "again") != Some(new) {
        return page(
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("The two passwords differ."),
        );
    }
    match crate::auth::change_password(&sys, &site.auth.settings, &user.username, new).await {
        Ok(()) => {
            // This instance refuses the user's sessions at once.
            site.auth.sessions.forget_user(id);
            site.auth.cookies.forget();
            log(
                site,
                &staff,
                m,
                id,
                &[],
                LogAction::Changed,
                Some(serde_json::json!({ "password": true })),
            )
            .await;
            redirect(&format!("{back}?done=saved"))
        }
        Err(e) if e.code == ErrorCode::BadUserInput => {
            page(StatusCode::UNPROCESSABLE_ENTITY, Some(&e.message))
        }
        Err(e) => refused(site, &staff, &e),
    }
}

/// `GET …/{id}/history`: the row's writes through the admin, newest first.
pub(super) async fn history_page(
    State(site): State<Arc<Site>>,
    Path((app, model, id)): Path<(String, String, String)>,
    headers: HeaderMap,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let (staff, m, _) = match enter(&site, &headers, &uri, (&app, &model), Action::View, None).await
    {
        Ok(e) => e,
        Err(r) => return r,
    };
    let sys = graphloom_query::Ctx::system(Arc::clone(site.api.engine()));
    let name = format!("{}.{}", m.key.app, m.key.name.to_lowercase());
    let entries = LogEntry::objects(&sys)
        .filter(LogEntry::MODEL.eq(name))
        .filter(LogEntry::OBJECT_ID.eq(id.clone()))
        .order_by(LogEntry::AT.desc())
        .order_by(LogEntry::ID.desc())
        .first(500)
        .all()
        .await;
    let entries = match entries {
        Ok(e) => e,
        Err(e) => return refused(&site, &staff, &e),
    };
    let shown: Vec<Entry> = entries
        .iter()
        .map(|e| Entry {
            at: e.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
            user: e.user.as_ref().map_or_else(
                || "(deleted user)".to_owned(),
                |u| format!("user {}", u.key.key_string()),
            ),
            action: match e.action {
                LogAction::Added => "Added",
                LogAction::Changed => "Changed",
                LogAction::Deleted => "Deleted",
            },
            changes: match &e.changes {
                Some(serde_json::Value::Object(c)) => c
                    .iter()
                    .map(|(field, v)| match v {
                        serde_json::Value::Array(pair) if pair.len() == 2 => {
                            format!("{field}: {} → {}", pair[0], pair[1])
                        }
                        _ => format!("{field} changed"),
                    })
                    .collect(),
                _ => Vec::new(),
            },
        })
        .collect();
    render(
        &site,
        StatusCode::OK,
        "history.html",
        context! {
            crumbs => vec![
                context! { href => format!("{}/", site.prefix), label => "Home" },
                context! { href => site.href(m), label => m.plural_name.clone() },
                context! { href => site.row_href(m, &id), label => format!("{} {id}", m.graphql_name) },
            ],
            entries => ser(&shown),
            ..base(&site, Some(&staff), &format!("History of {} {id}", m.graphql_name))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_read_as_words() {
        assert_eq!(humanize("created_at"), "Created at");
        assert_eq!(humanize("author"), "Author");
        assert_eq!(humanize("userPermissions"), "User permissions");
    }

    #[test]
    fn long_text_is_clipped_on_a_character() {
        assert_eq!(clip("héllo", 2), "hé…");
        assert_eq!(clip("hi", 2), "hi");
    }
}
