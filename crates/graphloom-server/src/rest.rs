//! REST beside GraphQL, from the same registry, engine and permission
//! scope (the first part: reading). `GET /api/{plural}` lists a model and
//! `GET /api/{plural}/{id}` reads one row, with the names of the GraphQL
//! API (`createdAt`, `authorId`, enum values as in the schema), so one
//! client vocabulary serves both:
//!
//! - filters as query parameters, Django's lookups on GraphQL names:
//!   `?status=PUBLISHED&author.username__startswith=user1&createdAt__gte=…`
//!   (`__` then `eq` `neq` `in` `notIn` `lt` `lte` `gt` `gte` `contains`
//!   `iContains` `startsWith` `endsWith` `iExact` `isNull`; a list for `in`
//!   is comma-separated); relations by their GraphQL names, dot-separated;
//! - `?order=-createdAt,id`;
//! - `?limit=&offset=` or `?limit=&after=<cursor>`, with `Link` (`next`,
//!   `prev`), and `X-Total-Count` with `?count=true`;
//! - `?fields=id,title` (sparse fieldsets) and `?expand=author,tags`:
//!   relations as ids by default, expanded ones planned like GraphQL's
//!   (a to-one leaf joins into the list's statement, a to-many is one
//!   statement per edge).
//!
//! Errors are RFC 9457 problem details with the GraphQL API's stable codes.
//! Row, field and operation rules hold as they do for GraphQL: a row the
//! principal may not see is not listed and its detail is 404.
//!
//! Handlers return the refusal itself (`Result<_, Response>`): it is built
//! once and returned at once, so boxing it buys nothing.
#![allow(clippy::result_large_err)]

use std::sync::Arc;

use axum::{
    body::Bytes,
    extract::{Path, Query, State, rejection::BytesRejection},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use graphloom_db::Exec;
use graphloom_graphql::{ErrorCode, convert};
use graphloom_meta::{ModelMeta, Op, Quantifier, Registry, RelationKind, Value};
use graphloom_query::{
    Ctx, Error, cursor,
    exec::{self, Child, Node, Page},
    filter::{Filter, FilterValue, OrderTerm},
    plan::{ChildFetch, ChildPlan, ListPlan, NodePlan, Window},
    scope::{self, Scope},
    write::{self, Expected, row_version},
};
use serde_json::{Map, Value as Json, json};

use crate::{AppState, Call, Endpoint, Peer};

const PROBLEM: &str = "application/problem+json";

/// An RFC 9457 problem: the HTTP status, the stable code, what happened.
fn problem(status: StatusCode, code: ErrorCode, detail: impl Into<String>) -> Response {
    let body = json!({
        "type": "about:blank",
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail.into(),
        "code": code.as_str(),
    });
    let mut res = (status, body.to_string()).into_response();
    res.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        res.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    res
}

/// An engine error as a problem, its status the one HTTP expects.
fn from_error(e: Error) -> Response {
    let status = match e.code {
        ErrorCode::Unauthenticated => StatusCode::UNAUTHORIZED,
        ErrorCode::Forbidden => StatusCode::FORBIDDEN,
        ErrorCode::NotFound => StatusCode::NOT_FOUND,
        ErrorCode::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
        ErrorCode::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::InternalServerError => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    let detail = if status == StatusCode::INTERNAL_SERVER_ERROR {
        tracing::error!(error = %e.message, "REST request failed");
        "Internal server error".to_owned()
    } else {
        e.message
    };
    problem(status, e.code, detail)
}

fn bad(detail: impl Into<String>) -> Error {
    Error::bad_input(detail)
}

/// The model a path segment names, or the 404 problem.
fn resource_or_404<'r>(reg: &'r Registry, name: &str) -> Result<&'r ModelMeta, Response> {
    resource(reg, name).ok_or_else(|| {
        problem(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("no resource `{name}`"),
        )
    })
}

/// The model a path segment names: its GraphQL list field (`posts`).
fn resource<'r>(reg: &'r Registry, name: &str) -> Option<&'r ModelMeta> {
    crate::openapi::resources(reg).find(|m| m.plural_name == name)
}

/// The query's parameters, split into the reserved ones and the filters.
struct Params {
    fields: Option<Vec<String>>,
    expand: Vec<String>,
    order: Vec<String>,
    limit: Option<u64>,
    offset: Option<u64>,
    after: Option<String>,
    /// `count=true`: `X-Total-Count`, at one more statement (a count
    /// over every matching row, as GraphQL's `totalCount`), so asked for.
    count: bool,
    filters: Vec<(String, String)>,
}

fn params(raw: Vec<(String, String)>) -> Result<Params, Error> {
    let list = |v: &str| {
        v.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let number = |k: &str, v: &str| {
        v.parse::<u64>()
            .map_err(|_| bad(format!("`{k}` must be a whole number, not `{v}`")))
    };
    let mut p = Params {
        fields: None,
        expand: Vec::new(),
        order: Vec::new(),
        limit: None,
        offset: None,
        after: None,
        count: false,
        filters: Vec::new(),
    };
    for (k, v) in raw {
        match k.as_str() {
            // Repeated (`fields=a&fields=b`) or comma-separated, alike.
            "fields" => p.fields.get_or_insert_with(Vec::new).extend(list(&v)),
            "expand" => p.expand.extend(list(&v)),
            "order" => p.order.extend(list(&v)),
            "limit" => p.limit = Some(number(&k, &v)?),
            // GraphQL's `offset: Int` bound, so a page is reachable both ways.
            "offset" => match number(&k, &v)? {
                n if n > i32::MAX as u64 => {
                    return Err(bad(format!("`offset` is at most {}", i32::MAX)));
                }
                n => p.offset = Some(n),
            },
            "after" => p.after = Some(v),
            "count" => {
                p.count = match v.as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return Err(bad(format!("`count` is true or false, not `{v}`"))),
                }
            }
            _ => p.filters.push((k, v)),
        }
    }
    Ok(p)
}

/// What a response shows of a row: its fields, and its expanded relations
/// with what they show (`fields=id,author.username&expand=author`).
struct Shape {
    shown: Vec<usize>,
    children: Vec<(String, Shape)>,
}

/// The columns and edges of one row as asked (`fields`, `expand`), and
/// what to show (the plan may read more, for field rules). A dotted name
/// in `fields` picks an expanded relation's fields; without one it shows
/// them all.
fn node_plan(
    reg: &Registry,
    scope: &Scope,
    m: &ModelMeta,
    fields: Option<&[String]>,
    expand: &[String],
    page: u64,
) -> Result<(NodePlan, Shape), Error> {
    let mut plan = NodePlan::of(scope, m)?;
    let mut own = Vec::new();
    let mut nested: Vec<(&str, String)> = Vec::new();
    for name in fields.unwrap_or_default() {
        match name.split_once('.') {
            Some((rel, rest)) => {
                if !expand.iter().any(|e| e == rel) {
                    return Err(bad(format!("`fields={name}` needs `expand={rel}`")));
                }
                nested.push((rel, rest.to_owned()));
            }
            None => own.push(name),
        }
    }
    let shown: Vec<usize> = if own.is_empty() {
        (0..m.fields.len())
            .filter(|&i| !m.fields[i].hidden)
            .collect()
    } else {
        own.iter()
            .map(|n| {
                m.field_by_graphql(n)
                    .filter(|(_, f)| !f.hidden)
                    .map(|(i, _)| i)
                    .ok_or_else(|| bad(format!("{} has no field `{n}`", m.graphql_name)))
            })
            .collect::<Result<_, _>>()?
    };
    plan.columns.extend(shown.iter().copied());
    let mut children = Vec::new();
    for name in expand {
        let (ri, rel) = local_relation(reg, m, name, &format!("expand={name}"))?;
        let target = reg.model(rel.target);
        let picked: Vec<String> = nested
            .iter()
            .filter(|(r, _)| r == name)
            .map(|(_, f)| f.clone())
            .collect();
        let picked = (!picked.is_empty()).then_some(picked.as_slice());
        let (node, shape) = node_plan(reg, scope, target, picked, &[], page)?;
        children.push((name.clone(), shape));
        let fetch = match rel.kind {
            RelationKind::ForwardOne { .. } | RelationKind::ReverseOne { .. } => {
                ChildFetch::One(node)
            }
            _ => ChildFetch::Many(ListPlan {
                filter: None,
                order: Vec::new(),
                window: Window {
                    start: 0,
                    end: Some(page),
                    last: None,
                },
                node,
                want_total: false,
                want_rows: true,
            }),
        };
        plan.add_child(
            reg,
            m,
            ChildPlan {
                key: Arc::from(name.as_str()),
                relation: ri,
                target: rel.target,
                fetch,
            },
        );
    }
    Ok((plan, Shape { shown, children }))
}

/// A row as JSON: the shown fields (`null` where a field rule hides one
/// from this principal) and the expanded relations.
fn node_json(reg: &Registry, scope: &Scope, node: &Node, shape: &Shape) -> Json {
    let m = reg.model(node.model);
    let scope = node.scope.as_deref().unwrap_or(scope);
    let mut out = Map::new();
    for &f in &shape.shown {
        let field = &m.fields[f];
        let visible = scope.field_visible(m, f, &|i| node.values[i].clone());
        let value = if visible {
            convert::to_graphql(field, &node.values[f])
                .into_json()
                .unwrap_or(Json::Null)
        } else {
            Json::Null
        };
        out.insert(field.graphql_name.clone(), value);
    }
    for (name, child) in &shape.children {
        let value = match node.children.get(name) {
            Some(Child::One(Some(n))) => node_json(reg, scope, n, child),
            Some(Child::Many(page)) => Json::Array(
                page.items
                    .iter()
                    .map(|(_, n)| node_json(reg, scope, n, child))
                    .collect(),
            ),
            Some(Child::One(None)) | None => Json::Null,
        };
        out.insert(name.clone(), value);
    }
    Json::Object(out)
}

/// The relation `name` of `m`, when its rows are this service's: another
/// service's entity has only its key here (`authorId`), nothing to join.
fn local_relation<'r>(
    reg: &'r Registry,
    m: &'r ModelMeta,
    name: &str,
    asked: &str,
) -> Result<(usize, &'r graphloom_meta::RelationMeta), Error> {
    let (ri, rel) = m.relation(name).ok_or_else(|| {
        bad(format!(
            "{} has no relation `{name}` (`{asked}`)",
            m.graphql_name
        ))
    })?;
    if reg.model(rel.target).external {
        return Err(bad(format!(
            "`{name}` is another service's {}: only its id is here (`{asked}`)",
            reg.model(rel.target).graphql_name
        )));
    }
    Ok((ri, rel))
}

/// `author.username__startswith=user1` as a filter on `m`.
fn filter(reg: &Registry, m: &ModelMeta, key: &str, raw: &str) -> Result<Filter, Error> {
    let (path, op) = match key.rsplit_once("__") {
        Some((path, op)) => {
            // The engine's own operator names (`op_label`), as in messages.
            let op = Op::ALL
                .into_iter()
                .find(|o| graphloom_query::filter::op_label(*o) == op)
                .ok_or_else(|| bad(format!("`{op}` is not a lookup (`{key}`)")))?;
            (path, op)
        }
        None => (key, Op::Eq),
    };
    let mut steps: Vec<&str> = path.split('.').collect();
    let last = steps.pop().unwrap_or_default();
    filter_at(reg, m, &steps, last, op, raw, key)
}

fn filter_at(
    reg: &Registry,
    m: &ModelMeta,
    steps: &[&str],
    last: &str,
    op: Op,
    raw: &str,
    key: &str,
) -> Result<Filter, Error> {
    if let Some((first, rest)) = steps.split_first() {
        let (ri, rel) = local_relation(reg, m, first, key)?;
        let inner = Box::new(filter_at(
            reg,
            reg.model(rel.target),
            rest,
            last,
            op,
            raw,
            key,
        )?);
        return Ok(match rel.kind {
            RelationKind::ForwardOne { .. } | RelationKind::ReverseOne { .. } => Filter::One {
                relation: ri,
                filter: inner,
            },
            _ => Filter::Many {
                relation: ri,
                quantifier: Quantifier::Some,
                filter: inner,
            },
        });
    }
    let (fi, field) = m
        .field_by_graphql(last)
        .filter(|(_, f)| !f.hidden)
        .ok_or_else(|| {
            bad(format!(
                "{} has no field `{last}` (`{key}`)",
                m.graphql_name
            ))
        })?;
    let one = |text: &str| -> Result<Value, Error> {
        use convert::parse_field;
        use graphloom_meta::FieldKind as K;
        let gql = match field.kind {
            K::Bool => match text {
                "true" => async_graphql::Value::Boolean(true),
                "false" => async_graphql::Value::Boolean(false),
                _ => return Err(bad(format!("`{key}`: `{text}` is not true or false"))),
            },
            K::I32 | K::F64 => text
                .parse::<f64>()
                .ok()
                .and_then(|n| {
                    if field.kind == K::I32 {
                        text.parse::<i64>().ok().map(async_graphql::Value::from)
                    } else {
                        Some(async_graphql::Value::from(n))
                    }
                })
                .ok_or_else(|| bad(format!("`{key}`: `{text}` is not a number")))?,
            _ => async_graphql::Value::String(text.to_owned()),
        };
        parse_field(reg, field, &gql).map_err(|e| bad(format!("`{key}`: {}", e.message)))
    };
    let value = match op {
        Op::IsNull => match raw {
            "true" => FilterValue::Bool(true),
            "false" => FilterValue::Bool(false),
            _ => return Err(bad(format!("`{key}` takes true or false"))),
        },
        Op::In | Op::NotIn => FilterValue::List(
            raw.split(',')
                .map(|t| one(t.trim()))
                .collect::<Result<_, _>>()?,
        ),
        _ => FilterValue::One(one(raw)?),
    };
    Ok(Filter::Field {
        field: fi,
        op,
        value,
    })
}

/// `-createdAt` or `author.username` as an order term of `m`.
fn order_term(reg: &Registry, m: &ModelMeta, term: &str) -> Result<OrderTerm, Error> {
    let (desc, path) = match term.strip_prefix('-') {
        Some(p) => (true, p),
        None => (false, term),
    };
    let mut steps: Vec<&str> = path.split('.').collect();
    let last = steps.pop().unwrap_or_default();
    let mut at = m;
    let mut walked = Vec::new();
    for s in steps {
        let (ri, rel) = local_relation(reg, at, s, term)
            .ok()
            .filter(|(_, r)| matches!(r.kind, RelationKind::ForwardOne { .. }))
            .ok_or_else(|| {
                bad(format!(
                    "cannot order by `{term}`: `{s}` is not a to-one relation of this service"
                ))
            })?;
        walked.push((at.id, ri));
        at = reg.model(rel.target);
    }
    let (fi, _) = at
        .field_by_graphql(last)
        .filter(|(_, f)| !f.hidden)
        .ok_or_else(|| {
            bad(format!(
                "{} has no field `{last}` to order by",
                at.graphql_name
            ))
        })?;
    Ok(OrderTerm {
        path: walked,
        model: at.id,
        field: fi,
        desc,
    })
}

/// The request's scope: its principal's, from the bearer token (or the
/// session cookie) as for GraphQL.
async fn scope_of(
    state: &AppState,
    headers: &HeaderMap,
    peer: Peer,
) -> Result<Arc<Scope>, Response> {
    let client = peer.map(|p| (p.0).0);
    let ctx = crate::request_context(state, headers, client)
        .await
        .map_err(|r| r.render(problem))?;
    Ok(Arc::new(
        Scope::new(
            Arc::clone(state.api.engine().registry_arc()),
            ctx.principal.clone(),
        )
        .await,
    ))
}

/// Runs `work`, counting its statements into `x-sql-statements` when the
/// service shows its SQL (`GRAPHLOOM_DEBUG_SQL`), as GraphQL's extension does.
async fn counted(state: &AppState, work: impl Future<Output = Response>) -> Response {
    let (mut res, statements) = graphloom_db::capture(work).await;
    if state.api.runtime().config.debug_sql
        && let Ok(v) = HeaderValue::from_str(&statements.len().to_string())
    {
        res.headers_mut().insert("x-sql-statements", v);
    }
    res
}

fn ok_json(body: &Json) -> Response {
    let mut res = (StatusCode::OK, body.to_string()).into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    res
}

/// `GET /api/{resource}`.
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    Query(raw): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    peer: Peer,
) -> Response {
    let scope = match scope_of(&state, &headers, peer).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    counted(&state, async {
        match list_page(&state, &scope, &name, raw).await {
            Ok(res) => res,
            Err(e) => from_error(e),
        }
    })
    .await
}

/// The parameters that place a page; links replace them.
const PLACE: [&str; 3] = ["limit", "offset", "after"];

async fn list_page(
    state: &AppState,
    scope: &Scope,
    name: &str,
    raw: Vec<(String, String)>,
) -> Result<Response, Error> {
    let engine = state.api.engine();
    let reg = engine.registry();
    let m = resource(reg, name).ok_or_else(|| Error::not_found(format!("no resource `{name}`")))?;
    scope.can_list(m)?;
    let p = params(raw.clone())?;
    let limits = engine.limits();
    let limit = p.limit.unwrap_or(limits.default_page_size);
    if limit > limits.max_page_size {
        return Err(Error::new(
            ErrorCode::PageSizeExceeded,
            format!(
                "`limit` is {limit} but at most {} rows can be asked for at once",
                limits.max_page_size
            ),
        ));
    }
    let (node, shape) = node_plan(
        reg,
        scope,
        m,
        p.fields.as_deref(),
        &p.expand,
        limits.default_page_size,
    )?;
    let filters = p
        .filters
        .iter()
        .map(|(k, v)| filter(reg, m, k, v))
        .collect::<Result<Vec<_>, _>>()?;
    let filter = Filter::all(filters);
    if let Some(f) = &filter {
        scope::check_filter(reg, scope, m, f)?;
    }
    let order = p
        .order
        .iter()
        .map(|t| order_term(reg, m, t))
        .collect::<Result<Vec<_>, _>>()?;
    scope::check_order(reg, scope, &order)?;
    // Where the page starts: an offset, or the row after a cursor (the
    // signed offsets GraphQL's connections use, scoped to this model).
    let start = match (&p.after, p.offset) {
        (Some(_), Some(_)) => return Err(bad("use `after` or `offset`, not both")),
        (Some(c), None) => {
            cursor::decode(&state.api.runtime().config.cursor_key, &m.graphql_name, c)
                .map(|o| o.saturating_add(1))
                .ok_or_else(|| {
                    Error::new(
                        ErrorCode::InvalidCursor,
                        format!("`after` is not a cursor of this list: `{c}`"),
                    )
                })?
        }
        (None, o) => o.unwrap_or(0),
    };
    let plan = ListPlan {
        filter,
        order,
        window: Window {
            start,
            end: Some(start.saturating_add(limit)),
            last: None,
        },
        node,
        want_total: p.count,
        want_rows: true,
    };
    // The relations come with the rows: joined, or one statement per edge.
    let page: Page =
        exec::fetch_list(engine, &mut Exec::pool(engine.db()), scope, m, &plan).await?;
    let body = Json::Array(
        page.items
            .iter()
            .map(|(_, n)| node_json(reg, scope, n, &shape))
            .collect(),
    );
    let mut res = ok_json(&body);
    let h = res.headers_mut();
    if let Some(total) = page.total
        && let Ok(v) = HeaderValue::from_str(&total.to_string())
    {
        h.insert("x-total-count", v);
    }
    // The same query (filters, order, fields) at another place.
    let link = |at: (&str, String), rel: &str| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in raw.iter().filter(|(k, _)| !PLACE.contains(&k.as_str())) {
            q.append_pair(k, v);
        }
        q.append_pair("limit", &limit.to_string());
        q.append_pair(at.0, &at.1);
        format!("</api/{name}?{}>; rel=\"{rel}\"", q.finish())
    };
    let mut links = Vec::new();
    if page.has_next {
        // Cursors continue as cursors, offsets as offsets.
        let next = if p.after.is_some() {
            let last = page.items.last().map_or(start, |(o, _)| *o);
            (
                "after",
                cursor::encode(
                    &state.api.runtime().config.cursor_key,
                    &m.graphql_name,
                    last,
                ),
            )
        } else {
            ("offset", start.saturating_add(limit).to_string())
        };
        links.push(link(next, "next"));
    }
    if p.after.is_none() && start > 0 {
        links.push(link(
            ("offset", start.saturating_sub(limit).to_string()),
            "prev",
        ));
    }
    if !links.is_empty()
        && let Ok(v) = HeaderValue::from_str(&links.join(", "))
    {
        h.insert(header::LINK, v);
    }
    Ok(res)
}

/// `GET /api/{resource}/{id}`.
pub(crate) async fn detail(
    State(state): State<Arc<AppState>>,
    Path((name, id)): Path<(String, String)>,
    Query(raw): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    peer: Peer,
) -> Response {
    let scope = match scope_of(&state, &headers, peer).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    counted(&state, async {
        match one_row(&state, &scope, &name, &id, raw).await {
            Ok(res) => not_modified(&headers, res),
            Err(e) => from_error(e),
        }
    })
    .await
}

/// 304 when the client's copy (`If-None-Match`) is the current version.
fn not_modified(headers: &HeaderMap, res: Response) -> Response {
    let current = res
        .headers()
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim_matches('"').to_owned());
    let held = headers
        .get(header::IF_NONE_MATCH)
        .is_some()
        .then(|| entity_tags(headers, header::IF_NONE_MATCH));
    match (current, held) {
        // `*` matches any current row.
        (Some(_), Some(None)) => not_modified_from(res),
        // Weak comparison for reads: `W/"x"` is as good as `"x"`.
        (Some(now), Some(Some(tags)))
            if tags
                .iter()
                .any(|t| t.strip_prefix("W/").unwrap_or(t).trim_matches('"') == now) =>
        {
            not_modified_from(res)
        }
        _ => res,
    }
}

fn not_modified_from(res: Response) -> Response {
    let mut out = StatusCode::NOT_MODIFIED.into_response();
    if let Some(tag) = res.headers().get(header::ETAG) {
        out.headers_mut().insert(header::ETAG, tag.clone());
    }
    out
}

async fn one_row(
    state: &AppState,
    scope: &Scope,
    name: &str,
    id: &str,
    raw: Vec<(String, String)>,
) -> Result<Response, Error> {
    let engine = state.api.engine();
    let reg = engine.registry();
    let m = resource(reg, name).ok_or_else(|| Error::not_found(format!("no resource `{name}`")))?;
    let p = params(raw)?;
    if !p.filters.is_empty() || !p.order.is_empty() {
        return Err(bad("a single row takes `fields` and `expand` only"));
    }
    let (mut node, shape) = node_plan(
        reg,
        scope,
        m,
        p.fields.as_deref(),
        &p.expand,
        engine.limits().default_page_size,
    )?;
    // Every column, for the row's version (`ETag`).
    node.columns.extend(0..m.fields.len());
    let key = match m.pk.as_slice() {
        [one] => convert::parse_field(
            reg,
            &m.fields[*one],
            &async_graphql::Value::String(id.to_owned()),
        )
        .map_err(|e| {
            bad(format!(
                "`{id}` is not a {} id: {}",
                m.graphql_name, e.message
            ))
        })?,
        // A composite key: its fields' values, comma-separated.
        fields => Value::parse_key(&write::key_types(reg, m), id).ok_or_else(|| {
            let names: Vec<&str> = fields
                .iter()
                .map(|&i| m.fields[i].graphql_name.as_str())
                .collect();
            bad(format!(
                "`{id}` is not a {} key: it is {}, separated by commas",
                m.graphql_name,
                names.join(", ")
            ))
        })?,
    };
    let row = exec::fetch_keys_matching(
        engine,
        &mut Exec::pool(engine.db()),
        scope,
        m,
        std::slice::from_ref(&key),
        None,
        &node,
    )
    .await?
    .pop();
    // A row the principal may not see is as absent as one that is not there.
    let Some(row) = row else {
        return Err(Error::not_found(format!("no {} `{id}`", m.graphql_name)));
    };
    let mut res = ok_json(&node_json(reg, scope, &row, &shape));
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", row_version(&row.values))) {
        res.headers_mut().insert(header::ETAG, v);
    }
    Ok(res)
}

/// The entity tags of an `If-Match` or `If-None-Match` header: `None` for
/// `*` (any version) or no header; weak tags (`W/"…"`) kept as they are,
/// so they never match (writes compare strongly).
fn entity_tags(headers: &HeaderMap, name: header::HeaderName) -> Option<Vec<String>> {
    let all: Vec<String> = headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            t.strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .unwrap_or(t)
                .to_owned()
        })
        .collect();
    (!all.is_empty() && !all.iter().any(|t| t == "*")).then_some(all)
}

/// The write an HTTP method asks of a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Write {
    Create,
    Update,
    Delete,
}

/// A payload error's status: a conflict with other rows, a row that is
/// not there, or input the model refused.
fn payload_status(code: &str) -> StatusCode {
    match code {
        "UNIQUE" | "PROTECTED" => StatusCode::CONFLICT,
        "NOT_FOUND" => StatusCode::NOT_FOUND,
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// Runs the generated mutation for `write` (`createPost`, …) as the
/// request's principal: the same input checks, defaults, presets, rules
/// and payload errors as GraphQL's. Returns the written row's id.
async fn mutate(
    state: &AppState,
    ctx: &graphloom_graphql::RequestContext,
    m: &ModelMeta,
    write: Write,
    id: Option<&str>,
    input: Option<Json>,
    expect: Option<Expected>,
) -> Result<Option<String>, Response> {
    let name = &m.graphql_name;
    // The key as the mutation takes it (`id`, or a composite key's fields)
    // and as its payload shows it: `k0: id`, or `k0: userId k1: groupId`.
    let keys = KeyArgs::of(m);
    let (vars, args, shown, deleted) = (&keys.vars, &keys.args, &keys.shown, &keys.deleted);
    // The generated mutation, by the name GraphQL gives it.
    let single = &m.single_name;
    let document = match write {
        Write::Create => m.roots.create.as_ref().map(|f| format!(
            "mutation($input: Create{name}Input!) {{ r: {f}(input: $input) {{ node: {single} {{ {shown} }} errors {{ field message code }} }} }}"
        )),
        Write::Update => m.roots.update.as_ref().map(|f| format!(
            "mutation({vars}, $input: Update{name}Input!) {{ r: {f}({args}, input: $input) {{ node: {single} {{ {shown} }} errors {{ field message code }} }} }}"
        )),
        Write::Delete => m.roots.delete.as_ref().map(|f| format!(
            "mutation({vars}) {{ r: {f}({args}) {{ {deleted} errors {{ field message code }} }} }}"
        )),
    };
    let Some(document) = document else {
        return Err(problem(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::MethodNotAllowed,
            format!("{name} cannot be written this way"),
        ));
    };
    let mut vars = Map::new();
    if let Some(id) = id {
        keys.variables(state.api.engine().registry(), m, id, &mut vars)
            .map_err(|e| from_error(bad(e)))?;
    }
    if let Some(input) = input {
        vars.insert("input".into(), input);
    }
    let mut request = async_graphql::Request::new(document)
        .variables(async_graphql::Variables::from_json(Json::Object(vars)));
    if let Some(e) = expect {
        request = request.data(e);
    }
    let response = state.api.execute_as(request, ctx.clone()).await;
    if let Some(e) = response.errors.first() {
        // A request error: the input's shape (an unknown or mistyped field),
        // a missing login or right, the database.
        let code = e
            .extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .and_then(|c| match c {
                async_graphql::Value::String(s) => Some(s.clone()),
                _ => None,
            })
            .unwrap_or_default();
        let code = ErrorCode::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == code)
            .unwrap_or(ErrorCode::BadUserInput);
        let mut res = from_error(Error::new(code, e.message.clone()));
        if code == ErrorCode::GraphqlValidationFailed {
            *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        }
        return Err(res);
    }
    let data = response.data.into_json().unwrap_or(Json::Null);
    let r = &data["r"];
    if let Some(errors) = r["errors"].as_array().filter(|e| !e.is_empty()) {
        let code = errors[0]["code"].as_str().unwrap_or("INVALID");
        let status = payload_status(code);
        let body = json!({
            "type": "about:blank",
            "title": status.canonical_reason().unwrap_or("Error"),
            "status": status.as_u16(),
            "detail": errors.iter().filter_map(|e| e["message"].as_str()).collect::<Vec<_>>().join(" "),
            "code": code,
            "errors": errors,
        });
        let mut res = (status, body.to_string()).into_response();
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM));
        return Err(res);
    }
    Ok(match write {
        Write::Delete => KeyArgs::text(r, m.pk.len()),
        _ => KeyArgs::text(&r["node"], m.pk.len()),
    })
}

/// How a REST write names a row's key in the GraphQL mutation it runs.
struct KeyArgs {
    /// `$k0: ID!` (`$k0: ID!, $k1: Int!` for a composite key).
    vars: String,
    /// `id: $k0` (`userId: $k0, groupId: $k1`).
    args: String,
    /// `k0: id` (`k0: userId k1: groupId`): the key in a create or update payload.
    shown: String,
    /// `k0: deletedId` (`k0: deletedUserId …`): the key in a delete payload.
    deleted: String,
}

impl KeyArgs {
    fn of(m: &ModelMeta) -> KeyArgs {
        let (mut vars, mut args, mut shown, mut deleted) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (i, a) in convert::key_arguments(m).into_iter().enumerate() {
            vars.push(format!("$k{i}: {}!", a.type_name));
            args.push(format!("{}: $k{i}", a.name));
            deleted.push(format!("k{i}: {}", a.deleted));
            shown.push(format!("k{i}: {}", m.fields[a.field].graphql_name));
        }
        KeyArgs {
            vars: vars.join(", "),
            args: args.join(", "),
            shown: shown.join(" "),
            deleted: deleted.join(" "),
        }
    }

    /// The variables `$k0…` from a path's key (a composite key's values
    /// comma-separated).
    fn variables(
        &self,
        reg: &Registry,
        m: &ModelMeta,
        id: &str,
        vars: &mut Map<String, Json>,
    ) -> Result<(), String> {
        let parts: Vec<Json> = match m.pk.as_slice() {
            [_] => vec![Json::String(id.to_owned())],
            _ => Value::parse_key(&write::key_types(reg, m), id)
                .ok_or_else(|| format!("`{id}` is not a {} key", m.graphql_name))?
                .parts()
                .iter()
                .map(|v| {
                    convert::plain_output(v)
                        .into_graphql()
                        .into_json()
                        .unwrap_or(Json::Null)
                })
                .collect(),
        };
        for (i, v) in parts.into_iter().enumerate() {
            vars.insert(format!("k{i}"), v);
        }
        Ok(())
    }

    /// The key's text (a composite key's parts comma-separated) from the
    /// payload object holding `k0…`.
    fn text(obj: &Json, n: usize) -> Option<String> {
        let parts: Option<Vec<Value>> = (0..n)
            .map(|i| match &obj[format!("k{i}")] {
                Json::String(s) => Some(Value::String(s.clone())),
                Json::Number(x) => Some(Value::String(x.to_string())),
                _ => None,
            })
            .collect();
        match parts?.as_slice() {
            [one] => Some(one.key_string()),
            many => Some(Value::Tuple(many.to_vec()).key_string()),
        }
    }
}

/// The JSON object a `POST` or `PATCH` carries.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
}

fn json_body(headers: &HeaderMap, body: &[u8]) -> Result<Json, Response> {
    if !is_json(headers) {
        return Err(problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "send the row as application/json",
        ));
    }
    match serde_json::from_slice::<Json>(body) {
        Ok(v @ Json::Object(_)) => Ok(v),
        Ok(_) => Err(problem(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            "the body must be a JSON object of the row's fields",
        )),
        Err(e) => Err(problem(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            format!("the body is not JSON: {e}"),
        )),
    }
}

/// One write to the resource `name` (the row `id` for a change or a
/// removal), the request's context derived once for the mutation and for
/// reading the row back.
async fn write_row(
    state: &AppState,
    headers: &HeaderMap,
    peer: Peer,
    name: &str,
    id: Option<&str>,
    write: Write,
    body: Option<Result<Bytes, BytesRejection>>,
) -> Result<Response, Response> {
    let body = body.map(read_body).transpose()?;
    let reg = state.api.engine().registry();
    let m = resource_or_404(reg, name)?;
    let input = body.map(|b| json_body(headers, &b)).transpose()?;
    let client = peer.map(|p| (p.0).0);
    let ctx = crate::request_context(state, headers, client)
        .await
        .map_err(|r| r.render(problem))?;
    // `If-Match`: the write happens only on this version of the row,
    // checked against the row it locks.
    let expect = match write {
        Write::Create => None,
        Write::Update | Write::Delete => entity_tags(headers, header::IF_MATCH).map(Expected),
    };
    let written = mutate(state, &ctx, m, write, id, input, expect).await?;
    let id = match (write, written, id) {
        (Write::Delete, ..) => return Ok(StatusCode::NO_CONTENT.into_response()),
        (Write::Update, _, Some(id)) => id.to_owned(),
        (_, Some(id), _) => id,
        _ => {
            return Err(problem(
                StatusCode::FORBIDDEN,
                ErrorCode::Forbidden,
                "the new row is not visible to you",
            ));
        }
    };
    // The row as `GET` shows it, as the writer may see it.
    let scope = Scope::new(
        Arc::clone(state.api.engine().registry_arc()),
        ctx.principal.clone(),
    )
    .await;
    let mut res = one_row(state, &scope, name, &id, Vec::new())
        .await
        .map_err(from_error)?;
    if write == Write::Create {
        *res.status_mut() = StatusCode::CREATED;
        if let Ok(v) = HeaderValue::from_str(&format!("/api/{name}/{}", crate::path_segment(&id))) {
            res.headers_mut().insert(header::LOCATION, v);
        }
    }
    Ok(res)
}

/// The body, or why it could not be read (413 over the body limit).
fn read_body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, Response> {
    body.map_err(|e| crate::Refusal::of_body(&e).render(problem))
}

fn either(r: Result<Response, Response>) -> Response {
    r.unwrap_or_else(|r| r)
}

/// `POST /api/{resource}`: creates a row; 201 with it and its `Location`.
pub(crate) async fn create(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    peer: Peer,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    either(
        write_row(
            &state,
            &headers,
            peer,
            &name,
            None,
            Write::Create,
            Some(body),
        )
        .await,
    )
}

/// `PATCH /api/{resource}/{id}`: changes the fields given; 200 with the row.
pub(crate) async fn update(
    State(state): State<Arc<AppState>>,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
    peer: Peer,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    either(
        write_row(
            &state,
            &headers,
            peer,
            &name,
            Some(&id),
            Write::Update,
            Some(body),
        )
        .await,
    )
}

/// `DELETE /api/{resource}/{id}`: 204.
pub(crate) async fn delete(
    State(state): State<Arc<AppState>>,
    Path((name, id)): Path<(String, String)>,
    headers: HeaderMap,
    peer: Peer,
) -> Response {
    either(
        write_row(
            &state,
            &headers,
            peer,
            &name,
            Some(&id),
            Write::Delete,
            None,
        )
        .await,
    )
}

/// A path's parameters, when the route has any.
pub(crate) type PathParams = Result<
    Path<std::collections::HashMap<String, String>>,
    axum::extract::rejection::PathRejection,
>;

/// A request to one of the service's own endpoints: the caller's context,
/// the path's parameters, the query and (for a handler with an input) the
/// JSON body; the result as JSON, or the error as a problem.
pub(crate) async fn endpoint(
    e: Arc<Endpoint>,
    State(state): State<Arc<AppState>>,
    params: PathParams,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    peer: Peer,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let input = if e.takes_body() {
        let body = match read_body(body) {
            Ok(b) => b,
            Err(r) => return r,
        };
        match any_json(&headers, &body) {
            Ok(v) => Some(v),
            Err(r) => return r,
        }
    } else {
        None
    };
    let client = peer.map(|p| (p.0).0);
    let request = match crate::request_context(&state, &headers, client).await {
        Ok(r) => r,
        Err(r) => return r.render(problem),
    };
    let engine = Arc::clone(state.api.engine());
    let scope =
        Arc::new(Scope::new(Arc::clone(engine.registry_arc()), request.principal.clone()).await);
    let call = Call {
        ctx: Ctx::new(engine, request, scope),
        path: params.map(|Path(p)| p).unwrap_or_default(),
        query,
    };
    counted(&state, async {
        match (e.run)(call, input).await {
            Ok(out) => ok_json(&out),
            Err(err) => from_error(err),
        }
    })
    .await
}

/// A JSON body of any shape (an endpoint's input type decides).
fn any_json(headers: &HeaderMap, body: &[u8]) -> Result<Json, Response> {
    if !is_json(headers) {
        return Err(problem(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "send the body as application/json",
        ));
    }
    serde_json::from_slice(body).map_err(|e| {
        problem(
            StatusCode::BAD_REQUEST,
            ErrorCode::BadRequest,
            format!("the body is not JSON: {e}"),
        )
    })
}
