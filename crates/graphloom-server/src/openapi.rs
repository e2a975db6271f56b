//! The OpenAPI 3.1 document of the REST surface (`/api/openapi.json`),
//! generated from the registry the routes serve, so it cannot drift from
//! them: a resource per exposed model, its writes where the model has them,
//! the filters its fields' capabilities allow, the relations it expands,
//! the problem responses with their codes, and the service's own endpoints
//! ([`crate::Endpoint`]). Its JSON Schemas are 2020-12, the dialect 3.1
//! uses; a value is described as the REST JSON carries it (GraphQL's
//! names; ids, big integers and decimals as strings).
//!
//! Redoc renders it at `/api/docs`, from assets embedded in the binary.

use graphloom_graphql::convert::type_name;
use graphloom_meta::{FieldKind, FieldMeta, ModelMeta, Op, Registry, RelationKind};
use graphloom_query::{filter::op_label, scope::Scope, write::link_relations};
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value as Json, json};

use crate::Endpoint;

/// What the document says of the service beside the registry.
pub(crate) struct Info<'a> {
    pub title: &'a str,
    pub version: &'a str,
    pub default_page: u64,
    pub max_page: u64,
    pub endpoints: &'a [Endpoint],
}

/// The models REST serves: in the API and not kept out of REST
/// (`#[model(rest = false)]`), and this service's own.
pub(crate) fn resources(reg: &Registry) -> impl Iterator<Item = &ModelMeta> {
    reg.models().iter().filter(|m| m.rest && !m.external)
}

/// The JSON Schema of one field's value, as REST reads and writes it.
fn value_schema(f: &FieldMeta) -> Json {
    if f.primary_key && !f.composite_key {
        let mut schema = json!({ "type": "string", "description": "The row's id." });
        if let FieldKind::String { max_length } = f.kind {
            schema["maxLength"] = max_length.into();
        }
        return schema;
    }
    match f.kind {
        FieldKind::AutoId | FieldKind::ForeignKey { .. } => json!({ "type": "string" }),
        FieldKind::Bool => json!({ "type": "boolean" }),
        FieldKind::I32 => json!({ "type": "integer", "format": "int32" }),
        // As text: JSON numbers lose precision past 2^53 in JavaScript.
        FieldKind::I64 => json!({ "type": "string", "pattern": "^-?[0-9]+$" }),
        FieldKind::F64 => json!({ "type": "number", "format": "double" }),
        FieldKind::Decimal { .. } => {
            json!({ "type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?$" })
        }
        FieldKind::String { max_length } => json!({ "type": "string", "maxLength": max_length }),
        FieldKind::Text => json!({ "type": "string" }),
        FieldKind::Date => json!({ "type": "string", "format": "date" }),
        FieldKind::DateTime => json!({ "type": "string", "format": "date-time" }),
        FieldKind::Uuid => json!({ "type": "string", "format": "uuid" }),
        // Any JSON value.
        FieldKind::Json => json!({}),
        FieldKind::Enum(e) => json!({
            "type": "string",
            "enum": e.variants.iter().map(|v| v.graphql()).collect::<Vec<_>>(),
        }),
    }
}

/// `schema` that also allows `null`.
fn or_null(mut schema: Json) -> Json {
    if schema.get("$ref").is_some() {
        return json!({ "anyOf": [schema, { "type": "null" }] });
    }
    let Some(obj) = schema.as_object_mut() else {
        return schema;
    };
    // Without a type it is any value, null included.
    if let Some(t) = obj.get_mut("type") {
        *t = json!([t.clone(), "null"]);
    }
    if let Some(Json::Array(values)) = obj.get_mut("enum") {
        values.push(Json::Null);
    }
    schema
}

fn with_help(mut schema: Json, help: Option<&str>) -> Json {
    if let (Some(h), Some(obj)) = (help.filter(|h| !h.is_empty()), schema.as_object_mut()) {
        obj.insert("description".into(), Json::String(h.to_owned()));
    }
    schema
}

fn reference(name: &str) -> Json {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// A model's row as `GET` shows it: its fields (nullable where the column
/// is, or where a read rule may withhold it), and its relations, present
/// only when expanded.
fn row_schema(reg: &Registry, m: &ModelMeta) -> Json {
    let mut props = Map::new();
    let mut required = Vec::new();
    for (i, f) in m.fields.iter().enumerate().filter(|(_, f)| !f.hidden) {
        let nullable = f.nullable || Scope::has_field_rule(reg, m.id, i);
        let schema = value_schema(f);
        let schema = if nullable { or_null(schema) } else { schema };
        props.insert(f.graphql_name.clone(), with_help(schema, f.help));
        required.push(f.graphql_name.clone());
    }
    for rel in &m.relations {
        let target = reg.model(rel.target);
        // What `expand` can reach: rows of this service in the API.
        if !target.exposed || target.external {
            continue;
        }
        let one = reference(&target.graphql_name);
        let schema = match rel.kind {
            RelationKind::ForwardOne { .. } | RelationKind::ReverseOne { .. } => or_null(one),
            RelationKind::ReverseMany { .. } | RelationKind::ManyToMany { .. } => {
                json!({ "type": "array", "items": one })
            }
        };
        let help = format!("With `expand={}`.", rel.name);
        props.insert(rel.name.clone(), with_help(schema, Some(&help)));
    }
    let mut s = json!({ "type": "object", "properties": props, "required": required });
    if let Some(h) = m.help {
        s["description"] = Json::String(h.to_owned());
    }
    s
}

/// A model's create or update body: the fields the generated mutation's
/// input offers, required where a create needs them.
fn input_schema(reg: &Registry, m: &ModelMeta, create: bool) -> Json {
    let mut props = Map::new();
    let mut required = Vec::new();
    for f in m.fields.iter().filter(|f| f.writable(create)) {
        let schema = value_schema(f);
        let schema = if f.nullable { or_null(schema) } else { schema };
        props.insert(f.graphql_name.clone(), with_help(schema, f.help));
        if create && f.required_on_create() {
            required.push(f.graphql_name.clone());
        }
    }
    for ri in link_relations(reg, m) {
        props.insert(m.relations[ri].name.clone(), reference("ManyToManyInput"));
    }
    json!({
        "type": "object",
        "properties": props,
        "required": required,
        "additionalProperties": false,
    })
}

/// The query parameters of a model's list: the page, the shape, the order
/// and one filter per field and lookup the capability table allows.
fn list_parameters(reg: &Registry, m: &ModelMeta, info: &Info) -> Vec<Json> {
    let shown: Vec<&str> = m
        .fields
        .iter()
        .filter(|f| !f.hidden)
        .map(|f| f.graphql_name.as_str())
        .collect();
    let mut out = vec![
        fields_parameter(&shown),
        json!({
            "name": "order", "in": "query", "style": "form", "explode": false,
            "description": "Comma-separated fields to order by, `-` for descending; to-one relations by dotted paths (`author.username`).",
            "schema": { "type": "array", "items": { "type": "string" } },
        }),
        json!({
            "name": "limit", "in": "query",
            "description": "Rows on the page.",
            "schema": { "type": "integer", "minimum": 0, "maximum": info.max_page, "default": info.default_page },
        }),
        json!({
            "name": "offset", "in": "query",
            "description": "Rows to skip (not with `after`).",
            "schema": { "type": "integer", "minimum": 0, "maximum": i32::MAX },
        }),
        json!({
            "name": "count", "in": "query",
            "description": "Send `X-Total-Count`: a count of every matching row, one more statement per page.",
            "schema": { "type": "boolean", "default": false },
        }),
        json!({
            "name": "after", "in": "query",
            "description": "Start after this cursor (from a `next` link, or a GraphQL edge's cursor of the same list).",
            "schema": { "type": "string" },
        }),
    ];
    out.extend(expand_parameter(reg, m));
    for f in m.fields.iter().filter(|f| !f.hidden) {
        for &op in f.capabilities().ops {
            let name = match op {
                Op::Eq => f.graphql_name.clone(),
                _ => format!("{}__{}", f.graphql_name, op_label(op)),
            };
            let schema = match op {
                Op::IsNull => json!({ "type": "boolean" }),
                Op::In | Op::NotIn => json!({ "type": "array", "items": value_schema(f) }),
                op if op.is_text() => json!({ "type": "string" }),
                _ => value_schema(f),
            };
            let mut p = json!({
                "name": name, "in": "query", "schema": schema,
                "description": format!("`{}` {} (`{}`).", f.graphql_name, op_label(op), type_name(f)),
            });
            if matches!(op, Op::In | Op::NotIn) {
                p["style"] = json!("form");
                p["explode"] = json!(false);
            }
            out.push(p);
        }
    }
    out
}

/// `fields`: the model's own, or an expanded relation's (`author.username`).
fn fields_parameter(own: &[&str]) -> Json {
    json!({
        "name": "fields", "in": "query", "style": "form", "explode": false,
        "description": "Only these fields (sparse fieldset); `relation.field` picks an expanded relation's.",
        "schema": { "type": "array", "items": { "anyOf": [
            { "type": "string", "enum": own },
            { "type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*\\.[A-Za-z_][A-Za-z0-9_]*$" },
        ] } },
    })
}

/// `expand`, when the model has relations to expand.
fn expand_parameter(reg: &Registry, m: &ModelMeta) -> Option<Json> {
    let names: Vec<&str> = m
        .relations
        .iter()
        .filter(|r| {
            let t = reg.model(r.target);
            t.exposed && !t.external
        })
        .map(|r| r.name.as_str())
        .collect();
    if names.is_empty() {
        return None;
    }
    Some(json!({
        "name": "expand", "in": "query", "style": "form", "explode": false,
        "description": "Relations to include as rows rather than ids, planned with the page (no query per row).",
        "schema": { "type": "array", "items": { "type": "string", "enum": names } },
    }))
}

fn problems(statuses: &[u16]) -> Map<String, Json> {
    statuses
        .iter()
        .map(|s| {
            (
                s.to_string(),
                json!({ "$ref": format!("#/components/responses/{s}") }),
            )
        })
        .collect()
}

fn header_ref(name: &str) -> Json {
    json!({ "$ref": format!("#/components/headers/{name}") })
}

fn row_response(name: &str, description: &str, headers: &[&str]) -> Json {
    let headers: Map<String, Json> = headers
        .iter()
        .map(|h| ((*h).to_owned(), header_ref(h)))
        .collect();
    json!({
        "description": description,
        "headers": headers,
        "content": { "application/json": { "schema": reference(name) } },
    })
}

fn merge(mut a: Map<String, Json>, b: Map<String, Json>) -> Json {
    a.extend(b);
    Json::Object(a)
}

/// The paths of one model: its list and its rows.
fn model_paths(reg: &Registry, m: &ModelMeta, info: &Info, paths: &mut Map<String, Json>) {
    let name = &m.graphql_name;
    let tag = json!([m.plural_name]);
    let mut list = Map::new();
    let mut ok = Map::new();
    ok.insert(
        "200".into(),
        json!({
            "description": format!("A page of {}.", m.plural_name),
            "headers": { "X-Total-Count": header_ref("X-Total-Count"), "Link": header_ref("Link") },
            "content": { "application/json": { "schema": { "type": "array", "items": reference(name) } } },
        }),
    );
    list.insert(
        "get".into(),
        json!({
            "operationId": format!("list{}", upper_first(&m.plural_name)),
            "summary": format!("List {}", m.plural_name),
            "description": "Rows the caller may see. Filters are `field=value` or `field__lookup=value`; relations' fields by dotted paths (`author.username__startsWith=a`).",
            "tags": tag,
            "parameters": list_parameters(reg, m, info),
            "responses": merge(ok, problems(&[400, 401, 403, 503])),
        }),
    );
    if m.operations.create {
        let mut created = Map::new();
        created.insert(
            "201".into(),
            row_response(
                name,
                "Created; the row as `GET` shows it.",
                &["Location", "ETag"],
            ),
        );
        list.insert(
            "post".into(),
            json!({
                "operationId": format!("create{name}"),
                "summary": format!("Create a {name}"),
                "tags": tag,
                "requestBody": { "required": true, "content": { "application/json": { "schema": reference(&format!("{name}Create")) } } },
                "responses": merge(created, problems(&[400, 401, 403, 409, 413, 415, 422, 503])),
            }),
        );
    }
    paths.insert(format!("/api/{}", m.plural_name), Json::Object(list));

    let mut one = Map::new();
    let mut id =
        json!({ "name": "id", "in": "path", "required": true, "schema": { "type": "string" } });
    if m.composite_pk() {
        let names: Vec<&str> =
            m.pk.iter()
                .map(|&i| m.fields[i].graphql_name.as_str())
                .collect();
        id["description"] = format!(
            "The key's values in order, separated by commas ({}); `,` and `%` inside a value escaped as `%2C` and `%25`.",
            names.join(", ")
        )
        .into();
    }
    one.insert("parameters".into(), json!([id]));
    let shown: Vec<&str> = m
        .fields
        .iter()
        .filter(|f| !f.hidden)
        .map(|f| f.graphql_name.as_str())
        .collect();
    let mut ok = Map::new();
    ok.insert("200".into(), row_response(name, "The row.", &["ETag"]));
    ok.insert(
        "304".into(),
        json!({ "description": "Not modified: `If-None-Match` names the current version.", "headers": { "ETag": header_ref("ETag") } }),
    );
    one.insert(
        "get".into(),
        json!({
            "operationId": format!("get{name}"),
            "summary": format!("Read a {name}"),
            "tags": tag,
            "parameters": [
                { "$ref": "#/components/parameters/If-None-Match" },
                fields_parameter(&shown),
            ],
            "responses": merge(ok, problems(&[400, 401, 403, 404, 503])),
        }),
    );
    if let (Some(expand), Some(params)) = (
        expand_parameter(reg, m),
        one["get"]["parameters"].as_array_mut(),
    ) {
        params.push(expand);
    }
    if m.operations.update {
        let mut ok = Map::new();
        ok.insert(
            "200".into(),
            row_response(name, "Changed; the row.", &["ETag"]),
        );
        one.insert(
            "patch".into(),
            json!({
                "operationId": format!("update{name}"),
                "summary": format!("Change a {name}"),
                "description": "Changes the fields given. With `If-Match`, only while the row is at that version (412 otherwise).",
                "tags": tag,
                "parameters": [{ "$ref": "#/components/parameters/If-Match" }],
                "requestBody": { "required": true, "content": { "application/json": { "schema": reference(&format!("{name}Update")) } } },
                "responses": merge(ok, problems(&[400, 401, 403, 404, 409, 412, 413, 415, 422, 503])),
            }),
        );
    }
    if m.operations.delete {
        let mut ok = Map::new();
        ok.insert("204".into(), json!({ "description": "Deleted." }));
        one.insert(
            "delete".into(),
            json!({
                "operationId": format!("delete{name}"),
                "summary": format!("Delete a {name}"),
                "description": "With `If-Match`, only while the row is at that version (412 otherwise); 409 while other rows protect it.",
                "tags": tag,
                "parameters": [{ "$ref": "#/components/parameters/If-Match" }],
                "responses": merge(ok, problems(&[400, 401, 403, 404, 409, 412, 503])),
            }),
        );
    }
    paths.insert(format!("/api/{}/{{id}}", m.plural_name), Json::Object(one));
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// The shared components: the problem document, its responses, headers,
/// parameters and the bearer scheme.
fn components(schemas: Map<String, Json>) -> Json {
    let mut responses = Map::new();
    for (status, what) in [
        (
            400u16,
            "The request cannot be used (a bad filter, id, cursor or body).",
        ),
        (401, "A login is needed, or the token is not valid."),
        (403, "The caller may not do this."),
        (404, "No such row, or the caller may not see it."),
        (
            409,
            "The write conflicts with other rows (UNIQUE, PROTECTED).",
        ),
        (
            412,
            "The row changed since the `If-Match` version (PRECONDITION_FAILED).",
        ),
        (413, "The body is larger than the service accepts."),
        (415, "The body is not application/json."),
        (
            422,
            "The row was refused; `errors` names the fields and codes.",
        ),
        (503, "The database is busy or out of reach; retry shortly."),
    ] {
        responses.insert(
            status.to_string(),
            json!({
                "description": what,
                "content": { "application/problem+json": { "schema": reference("Problem") } },
            }),
        );
    }
    let mut all = schemas;
    all.insert(
        "Problem".into(),
        json!({
            "type": "object",
            "description": "An RFC 9457 problem, with the GraphQL API's stable code.",
            "properties": {
                "type": { "type": "string" },
                "title": { "type": "string" },
                "status": { "type": "integer" },
                "detail": { "type": "string" },
                "code": { "type": "string", "description": "`extensions.code` in GraphQL (BAD_USER_INPUT, NOT_FOUND, UNIQUE …)." },
                "errors": { "type": "array", "items": reference("FieldError") },
            },
            "required": ["type", "title", "status", "detail", "code"],
        }),
    );
    all.insert(
        "FieldError".into(),
        json!({
            "type": "object",
            "description": "Why one input field was refused, as in a mutation payload's `errors`.",
            "properties": {
                "field": { "type": "array", "items": { "type": "string" } },
                "message": { "type": "string" },
                "code": { "type": "string" },
            },
            "required": ["field", "message", "code"],
        }),
    );
    all.insert(
        "ManyToManyInput".into(),
        json!({
            "type": "object",
            "description": "Changes to a many-to-many relation: replace the set, or add and remove ids.",
            "properties": {
                "set": { "type": "array", "items": { "type": "string" } },
                "add": { "type": "array", "items": { "type": "string" } },
                "remove": { "type": "array", "items": { "type": "string" } },
            },
            "additionalProperties": false,
        }),
    );
    json!({
        "schemas": all,
        "responses": responses,
        "headers": {
            "ETag": { "description": "The row's version: a digest of all its columns.", "schema": { "type": "string" } },
            "Location": { "description": "The new row's address.", "schema": { "type": "string" } },
            "X-Total-Count": { "description": "Rows matching the filters, all pages.", "schema": { "type": "integer" } },
            "Link": { "description": "RFC 8288 links to the `next` and `prev` pages, with the same query.", "schema": { "type": "string" } },
        },
        "parameters": {
            "If-Match": { "name": "If-Match", "in": "header", "description": "Write only while the row is at one of these versions (`ETag`s).", "schema": { "type": "string" } },
            "If-None-Match": { "name": "If-None-Match", "in": "header", "description": "304 when the row is still at this version.", "schema": { "type": "string" } },
        },
        "securitySchemes": {
            "bearer": { "type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": "The access token the auth app issues (`login`)." },
        },
    })
}

/// The document, or why the service's endpoints do not fit in it.
pub(crate) fn document(reg: &Registry, info: &Info) -> Result<Json, String> {
    let mut schemas = Map::new();
    let mut paths = Map::new();
    let mut tags = Vec::new();
    // Every row an expansion can show has a schema, resource or not.
    for m in reg.models().iter().filter(|m| m.exposed && !m.external) {
        schemas.insert(m.graphql_name.clone(), row_schema(reg, m));
    }
    for m in resources(reg) {
        let name = &m.graphql_name;
        if m.operations.create {
            schemas.insert(format!("{name}Create"), input_schema(reg, m, true));
        }
        if m.operations.update {
            schemas.insert(format!("{name}Update"), input_schema(reg, m, false));
        }
        model_paths(reg, m, info, &mut paths);
        tags.push(json!({
            "name": m.plural_name,
            "description": m.help.unwrap_or(name.as_str()),
        }));
    }
    if !info.endpoints.is_empty() {
        tags.push(json!({ "name": "service", "description": "The service's own endpoints." }));
    }
    // The endpoints' types, named by schemars, beside the models'.
    let mut g = SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "/components/schemas".into())
        .into_generator();
    for e in info.endpoints {
        e.describe(&mut g, &mut paths)?;
    }
    for (name, schema) in g.take_definitions(true) {
        if schemas.contains_key(&name) {
            return Err(format!(
                "an endpoint's type is named `{name}`, as a model's schema is: rename it (#[schemars(rename = \"…\")])"
            ));
        }
        schemas.insert(name, schema);
    }
    Ok(json!({
        "openapi": "3.1.0",
        "info": {
            "title": info.title,
            "version": info.version,
            "description": "REST beside GraphQL, from the same models and rules. Names are the GraphQL API's.",
        },
        "servers": [{ "url": "/" }],
        "security": [{}, { "bearer": [] }],
        "tags": tags,
        "paths": paths,
        "components": components(schemas),
    }))
}
