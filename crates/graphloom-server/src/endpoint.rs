//! The service's own REST endpoints, beside the generated resources: plain
//! async Rust with a typed input and output, whose JSON Schemas (from
//! [`schemars::JsonSchema`]) go into the OpenAPI document. A handler gets
//! the caller's [`Ctx`] (the model API under their rules), the path's
//! parameters and the query; its [`Error`] becomes a problem document with
//! the same status and code as the generated routes'.
//!
//! ```
//! use graphloom_server::{Call, Endpoint};
//! use graphloom_query::Error;
//!
//! #[derive(serde::Deserialize, schemars::JsonSchema)]
//! struct Greet { name: String }
//! #[derive(serde::Serialize, schemars::JsonSchema)]
//! struct Greeting { text: String }
//!
//! let hello = Endpoint::post("/api/hello", |_call: Call, g: Greet| async move {
//!     Ok::<_, Error>(Greeting { text: format!("Hello, {}!", g.name) })
//! })
//! .summary("Greets");
//! ```
#![allow(clippy::result_large_err)]

use std::{collections::HashMap, fmt, future::Future, pin::Pin, sync::Arc};

use axum::http::Method;
use graphloom_query::{Ctx, Error};
use schemars::{JsonSchema, SchemaGenerator};
use serde::{Serialize, de::DeserializeOwned};
use serde_json::{Map, Value as Json, json};

/// What a handler gets besides its input.
#[derive(Debug, Clone)]
pub struct Call {
    /// The caller's context: the model API (`Post::objects(&call.ctx)`)
    /// under their rules, their principal and the request's headers.
    pub ctx: Ctx,
    /// The path's parameters by name (`{id}` → `path["id"]`).
    pub path: HashMap<String, String>,
    /// The query's parameters, in order.
    pub query: Vec<(String, String)>,
}

impl Call {
    /// A path parameter, or the 400 problem naming it.
    pub fn param(&self, name: &str) -> Result<&str, Error> {
        self.path
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| Error::bad_input(format!("the path has no `{name}`")))
    }
}

type Output = Pin<Box<dyn Future<Output = Result<Json, Error>> + Send>>;
type Run = Arc<dyn Fn(Call, Option<Json>) -> Output + Send + Sync>;
type Describe = fn(&mut SchemaGenerator) -> schemars::Schema;

/// One endpoint: its method and path, its handler and its types.
#[derive(Clone)]
pub struct Endpoint {
    pub(crate) method: Method,
    pub(crate) path: String,
    summary: Option<String>,
    description: Option<String>,
    input: Option<Describe>,
    output: Describe,
    pub(crate) run: Run,
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoint({} {})", self.method, self.path)
    }
}

impl Endpoint {
    /// `GET path`: no body; the handler returns `O`.
    pub fn get<O, F, Fut>(path: &str, handler: F) -> Endpoint
    where
        O: Serialize + JsonSchema,
        F: Fn(Call) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, Error>> + Send + 'static,
    {
        Endpoint::without_body(Method::GET, path, handler)
    }

    /// `POST path` with a JSON body read as `I`.
    pub fn post<I, O, F, Fut>(path: &str, handler: F) -> Endpoint
    where
        I: DeserializeOwned + JsonSchema,
        O: Serialize + JsonSchema,
        F: Fn(Call, I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, Error>> + Send + 'static,
    {
        Endpoint::with_body(Method::POST, path, handler)
    }

    /// `method path` without a body (`DELETE`, say).
    pub fn without_body<O, F, Fut>(method: Method, path: &str, handler: F) -> Endpoint
    where
        O: Serialize + JsonSchema,
        F: Fn(Call) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, Error>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        Endpoint {
            method,
            path: path.to_owned(),
            summary: None,
            description: None,
            input: None,
            output: |g| g.subschema_for::<O>(),
            run: Arc::new(move |call, _| {
                let fut = handler(call);
                Box::pin(async move { fut.await.and_then(to_json) })
            }),
        }
    }

    /// `method path` with a JSON body read as `I` (`PUT`, `PATCH` …).
    pub fn with_body<I, O, F, Fut>(method: Method, path: &str, handler: F) -> Endpoint
    where
        I: DeserializeOwned + JsonSchema,
        O: Serialize + JsonSchema,
        F: Fn(Call, I) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, Error>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        Endpoint {
            method,
            path: path.to_owned(),
            summary: None,
            description: None,
            input: Some(|g| g.subschema_for::<I>()),
            output: |g| g.subschema_for::<O>(),
            run: Arc::new(move |call, body| {
                let handler = Arc::clone(&handler);
                Box::pin(async move {
                    let input: I = serde_json::from_value(body.unwrap_or(Json::Null))
                        .map_err(|e| Error::bad_input(format!("the body does not fit: {e}")))?;
                    handler(call, input).await.and_then(to_json)
                })
            }),
        }
    }

    /// The operation's one-line summary in the OpenAPI document.
    pub fn summary(mut self, text: impl Into<String>) -> Endpoint {
        self.summary = Some(text.into());
        self
    }

    /// A longer description in the OpenAPI document.
    pub fn description(mut self, text: impl Into<String>) -> Endpoint {
        self.description = Some(text.into());
        self
    }

    /// Whether the handler reads a body.
    pub(crate) fn takes_body(&self) -> bool {
        self.input.is_some()
    }

    /// The path's parameter names (`{id}` → `id`).
    fn params(&self) -> impl Iterator<Item = &str> {
        self.path
            .split('/')
            .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
    }

    /// Adds this endpoint's operation and its types to the document.
    pub(crate) fn describe(
        &self,
        g: &mut SchemaGenerator,
        paths: &mut Map<String, Json>,
    ) -> Result<(), String> {
        let output = (self.output)(g);
        let mut op = json!({
            "operationId": operation_id(&self.method, &self.path),
            "tags": ["service"],
            "responses": {
                "200": { "description": "The result.", "content": { "application/json": { "schema": output } } },
                "400": { "$ref": "#/components/responses/400" },
                "401": { "$ref": "#/components/responses/401" },
                "403": { "$ref": "#/components/responses/403" },
                "404": { "$ref": "#/components/responses/404" },
                "503": { "$ref": "#/components/responses/503" },
            },
        });
        if let Some(s) = &self.summary {
            op["summary"] = json!(s);
        }
        if let Some(d) = &self.description {
            op["description"] = json!(d);
        }
        if let Some(input) = self.input {
            op["requestBody"] = json!({
                "required": true,
                "content": { "application/json": { "schema": input(g) } },
            });
            op["responses"]["413"] = json!({ "$ref": "#/components/responses/413" });
            op["responses"]["415"] = json!({ "$ref": "#/components/responses/415" });
        }
        let params: Vec<Json> = self
            .params()
            .map(|p| json!({ "name": p, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        if !params.is_empty() {
            op["parameters"] = Json::Array(params);
        }
        let item = paths.entry(self.path.clone()).or_insert_with(|| json!({}));
        let method = self.method.as_str().to_ascii_lowercase();
        if item.get(&method).is_some() {
            return Err(format!("two endpoints for {} {}", self.method, self.path));
        }
        item[method] = op;
        Ok(())
    }
}

fn to_json<O: Serialize>(out: O) -> Result<Json, Error> {
    serde_json::to_value(out).map_err(Error::internal)
}

/// `POST /api/posts/{id}/publish` → `postApiPostsIdPublish`.
fn operation_id(method: &Method, path: &str) -> String {
    let mut id = method.as_str().to_ascii_lowercase();
    for word in path.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut c = word.chars();
        if let Some(f) = c.next() {
            id.extend(f.to_uppercase());
            id.push_str(c.as_str());
        }
    }
    id
}

/// Why an endpoint's path cannot be served: it must be under `/api/`, of
/// plain segments and `{name}` parameters, and leave the generated
/// resources' routes to them.
pub(crate) fn check_path(path: &str, resources: &[&str]) -> Result<(), String> {
    let bad = |why: &str| Err(format!("endpoint path `{path}`: {why}"));
    let Some(rest) = path.strip_prefix("/api/") else {
        return bad("it must start with /api/");
    };
    let segments: Vec<&str> = rest.split('/').collect();
    for s in &segments {
        let param = s.strip_prefix('{').and_then(|s| s.strip_suffix('}'));
        let ok = match param {
            Some(p) => !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            None => {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
            }
        };
        if !ok {
            return bad("segments are names or `{param}`s");
        }
    }
    if ["openapi.json", "docs"].contains(&segments[0]) {
        return bad("/api/openapi.json and /api/docs are the OpenAPI document and its page");
    }
    if segments[0].starts_with('{') {
        return bad("the segment after /api/ names a resource and cannot be a parameter");
    }
    if resources.contains(&segments[0])
        && (segments.len() == 1 || (segments.len() == 2 && segments[1].starts_with('{')))
    {
        return bad("it is a generated resource's route");
    }
    Ok(())
}

/// Why a service's endpoints cannot be routed together: each path must
/// pass [`check_path`], no path and method twice, and a parameter at one
/// place of the paths named alike (the router could not tell them apart).
pub(crate) fn check_all(endpoints: &[Endpoint], resources: &[&str]) -> Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    let mut params: HashMap<String, &str> = HashMap::new();
    for e in endpoints {
        check_path(&e.path, resources)?;
        if !seen.insert((e.method.clone(), e.path.as_str())) {
            return Err(format!("two endpoints for {} {}", e.method, e.path));
        }
        let mut prefix = String::new();
        for segment in e.path.split('/').filter(|s| !s.is_empty()) {
            match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => {
                    prefix.push_str("/{}");
                    match params.get(&prefix) {
                        Some(other) if *other != name => {
                            return Err(format!(
                                "endpoint path `{}`: `{{{name}}}` is `{{{other}}}` in another endpoint's path at the same place",
                                e.path
                            ));
                        }
                        _ => {
                            params.insert(prefix.clone(), name);
                        }
                    }
                }
                None => {
                    prefix.push('/');
                    prefix.push_str(segment);
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_leave_the_generated_routes_alone() {
        let r = ["posts"];
        assert!(check_path("/api/stats", &r).is_ok());
        assert!(check_path("/api/posts/{id}/publish", &r).is_ok());
        assert!(check_path("/api/posts/publish", &r).is_ok());
        for bad in [
            "/stats",
            "/api/posts",
            "/api/posts/{key}",
            "/api/{x}",
            "/api/a//b",
            "/api/a/{}",
            "/api/a/{b",
            "/api/a b",
            "/api/docs",
            "/api/openapi.json",
        ] {
            assert!(check_path(bad, &r).is_err(), "{bad}");
        }
    }

    fn noop(path: &str) -> Endpoint {
        Endpoint::get(path, |_c: Call| async { Ok::<_, Error>(0) })
    }

    #[test]
    fn endpoints_that_the_router_could_not_tell_apart_are_refused() {
        let r = ["posts"];
        let ok = [noop("/api/a/{id}"), noop("/api/a/{id}/b"), noop("/api/c")];
        assert!(check_all(&ok, &r).is_ok());
        let twice = [noop("/api/a"), noop("/api/a")];
        assert!(check_all(&twice, &r).unwrap_err().contains("two endpoints"));
        let renamed = [noop("/api/a/{id}"), noop("/api/a/{key}/b")];
        assert!(check_all(&renamed, &r).unwrap_err().contains("{key}"));
        let post = Endpoint::post(
            "/api/a",
            |_c: Call, n: i32| async move { Ok::<_, Error>(n) },
        );
        assert!(
            check_all(&[noop("/api/a"), post], &r).is_ok(),
            "another method"
        );
    }

    #[test]
    fn operation_ids_come_from_the_method_and_path() {
        assert_eq!(
            operation_id(&Method::POST, "/api/posts/{id}/publish"),
            "postApiPostsIdPublish"
        );
    }
}
