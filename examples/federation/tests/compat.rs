//! The compat service against the checks of Apollo's subgraph
//! compatibility suite (packages/compatibility/src/tests), each asked of the
//! subgraph as the suite asks it, plus its composition with the suite's
//! users and inventory subgraphs. The same queries run through Apollo
//! Gateway and Hive Gateway in scripts/federation-e2e.sh.

use std::collections::BTreeMap;

use federation_example::compat;
use graphloom::{
    compose::{Subgraph, compose},
    graphql::async_graphql::parser::{
        parse_schema,
        types::{TypeKind, TypeSystemDefinition},
    },
};
use graphloom_test::TestClient;
use serde_json::{Value as Json, json};

const REFERENCE: &str = include_str!("../gateway/compat/products.graphql");
const USERS: &str = include_str!("../gateway/compat/users.graphql");
const INVENTORY: &str = include_str!("../gateway/compat/inventory.graphql");

/// The SDL as the suite reads it: graphql-js's `stripIgnoredCharacters`
/// (no comments, descriptions or commas; a space only between two names or
/// values), as far as the SDL printed here needs it.
fn normalized(sdl: &str) -> String {
    let mut text = String::new();
    let mut lines = sdl.lines().map(str::trim).filter(|l| !l.starts_with('#'));
    // Descriptions ("""…""" blocks, or on one line) are ignored characters.
    while let Some(line) = lines.next() {
        if line.starts_with("\"\"\"") {
            if !(line.len() > 3 && line.ends_with("\"\"\"")) {
                for l in lines.by_ref() {
                    if l.ends_with("\"\"\"") {
                        break;
                    }
                }
            }
            continue;
        }
        text.push_str(line);
        text.push('\n');
    }
    let punctuator = |c: char| "{}():[]!=@$|&".contains(c);
    let (mut out, mut in_string, mut space) = (String::new(), false, false);
    for ch in text.chars() {
        if in_string {
            out.push(ch);
            in_string = ch != '"';
            continue;
        }
        if ch.is_whitespace() || ch == ',' {
            space = true;
            continue;
        }
        if space && !out.is_empty() && !punctuator(ch) && !out.ends_with(punctuator) {
            out.push(' ');
        }
        space = false;
        out.push(ch);
        in_string = ch == '"';
    }
    out
}

async fn client() -> TestClient {
    TestClient::new(&compat::service()).await
}

fn sdl(c: &TestClient) -> String {
    normalized(&c.api().subgraph_sdl())
}

#[test]
fn subgraph_sdl_snapshot() {
    let sdl = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(async { client().await.api().subgraph_sdl() });
    insta::assert_snapshot!("compat", sdl);
}

/// The suite's introspection check (`compareSchemas`): every field of the
/// reference schema's types, `User` and the two queries, with its type and
/// arguments, is in the subgraph's SDL.
#[tokio::test]
async fn introspection_matches_the_reference_schema() {
    fn fields(sdl: &str) -> BTreeMap<(String, String), String> {
        let doc = parse_schema(sdl).unwrap();
        let mut out = BTreeMap::new();
        for def in doc.definitions {
            let TypeSystemDefinition::Type(t) = def else {
                continue;
            };
            let TypeKind::Object(o) = &t.node.kind else {
                continue;
            };
            for f in &o.fields {
                let args: Vec<String> = f
                    .node
                    .arguments
                    .iter()
                    .map(|a| format!("{}: {}", a.node.name.node, a.node.ty.node))
                    .collect();
                out.insert(
                    (t.node.name.node.to_string(), f.node.name.node.to_string()),
                    format!("({}) {}", args.join(", "), f.node.ty.node),
                );
            }
        }
        out
    }
    let c = client().await;
    let ours = fields(&c.api().subgraph_sdl());
    let reference = fields(REFERENCE);
    let types = [
        "CaseStudy",
        "DeprecatedProduct",
        "Product",
        "ProductDimension",
        "ProductResearch",
        "ProductVariation",
        "User",
        "Query",
        "Inventory",
    ];
    let mut checked = 0;
    for ((ty, field), shape) in &reference {
        assert!(types.contains(&ty.as_str()), "{ty}");
        assert_eq!(
            ours.get(&(ty.clone(), field.clone())),
            Some(shape),
            "{ty}.{field}"
        );
        checked += 1;
    }
    assert_eq!(checked, 29);
    // And nothing else: no field, and no type (unreachable generated types,
    // such as a hidden list's filter and connection, are left out).
    assert_eq!(ours, reference);
    let names = |sdl: &str| -> Vec<String> {
        let mut names: Vec<String> = parse_schema(sdl)
            .unwrap()
            .definitions
            .into_iter()
            .filter_map(|d| match d {
                TypeSystemDefinition::Type(t) => Some(t.node.name.node.to_string()),
                _ => None,
            })
            .collect();
        names.sort();
        names.dedup();
        names
    };
    assert_eq!(names(&c.api().subgraph_sdl()), names(REFERENCE));
}

/// Every type's and field's directives, in the reference's order.
#[tokio::test]
async fn directives_are_printed_as_declared() {
    fn directives(sdl: &str) -> BTreeMap<String, Vec<String>> {
        let text = |ds: &[graphloom::graphql::async_graphql::Positioned<
            graphloom::graphql::async_graphql::parser::types::ConstDirective,
        >]| {
            ds.iter()
                .map(|d| {
                    let args: Vec<String> = d
                        .node
                        .arguments
                        .iter()
                        .map(|(n, v)| format!("{}: {}", n.node, v.node))
                        .collect();
                    format!("@{}({})", d.node.name.node, args.join(", "))
                })
                .collect::<Vec<_>>()
        };
        let mut out = BTreeMap::new();
        for def in parse_schema(sdl).unwrap().definitions {
            let TypeSystemDefinition::Type(t) = def else {
                continue;
            };
            let name = t.node.name.node.to_string();
            out.entry(name.clone())
                .or_insert_with(Vec::new)
                .extend(text(&t.node.directives));
            if let TypeKind::Object(o) = &t.node.kind {
                for f in &o.fields {
                    let ds = text(&f.node.directives);
                    if !ds.is_empty() {
                        out.insert(format!("{name}.{}", f.node.name.node), ds);
                    }
                }
            }
        }
        out
    }
    let c = client().await;
    let mut reference = directives(REFERENCE);
    // Federation 2 needs no `@external` on a key field: the suite's users
    // subgraph owns `User.email`, and this service prints it plain.
    assert_eq!(
        reference.remove("User.email"),
        Some(vec!["@external()".to_owned()])
    );
    assert_eq!(directives(&c.api().subgraph_sdl()), reference);
}

#[tokio::test]
async fn keys_single_multiple_composite_and_repeatable_resolve() {
    let c = client().await;
    let sdl = sdl(&c);
    for key in [
        r#"type User@key(fields:"email")"#,
        r#"type DeprecatedProduct@key(fields:"sku package")"#,
        r#"type ProductResearch@key(fields:"study { caseNumber }")"#,
        r#"@key(fields:"id")@key(fields:"sku package")@key(fields:"sku variation { id }"){"#,
    ] {
        assert!(sdl.contains(key), "{key} in {sdl}");
    }
    let d = c
        .entities(
            json!([
                { "__typename": "User", "email": "support@apollographql.com" },
                { "__typename": "DeprecatedProduct", "sku": "apollo-federation-v1", "package": "@apollo/federation-v1" },
                { "__typename": "ProductResearch", "study": { "caseNumber": "1234" } },
                { "__typename": "Product", "id": "apollo-federation" },
                { "__typename": "Product", "sku": "federation", "package": "@apollo/federation" },
                { "__typename": "Product", "sku": "studio", "variation": { "id": "platform" } },
            ]),
            "... on User { email name } \
             ... on DeprecatedProduct { sku package reason } \
             ... on ProductResearch { study { caseNumber description } } \
             ... on Product { id sku }",
        )
        .await;
    assert_eq!(
        d,
        json!([
            { "__typename": "User", "email": "support@apollographql.com", "name": "Jane Smith" },
            { "__typename": "DeprecatedProduct", "sku": "apollo-federation-v1", "package": "@apollo/federation-v1", "reason": "Migrate to Federation V2" },
            { "__typename": "ProductResearch", "study": { "caseNumber": "1234", "description": "Federation Study" } },
            { "__typename": "Product", "id": "apollo-federation", "sku": "federation" },
            { "__typename": "Product", "id": "apollo-federation", "sku": "federation" },
            { "__typename": "Product", "id": "apollo-studio", "sku": "studio" },
        ])
    );
    // Unknown keys are null with NOT_FOUND at their index, the rest resolve.
    let res = c
        .execute(
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on DeprecatedProduct { sku } ... on ProductResearch { outcome } } }",
            json!({ "r": [
                { "__typename": "DeprecatedProduct", "sku": "nope", "package": "x" },
                { "__typename": "ProductResearch", "study": { "caseNumber": "9" } },
                { "__typename": "DeprecatedProduct", "sku": "apollo-federation-v1", "package": "@apollo/federation-v1" },
            ] }),
        )
        .await;
    assert_eq!(
        res["data"]["_entities"],
        json!([null, null, { "sku": "apollo-federation-v1" }])
    );
    let codes: Vec<(&Json, &Json)> = res["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (&e["path"][1], &e["extensions"]["code"]))
        .collect();
    assert_eq!(
        codes,
        [
            (&json!(0), &json!("NOT_FOUND")),
            (&json!(1), &json!("NOT_FOUND"))
        ]
    );
}

#[tokio::test]
async fn provides_requires_and_override() {
    let c = client().await;
    let sdl = sdl(&c);
    for printed in [
        r#"createdBy:User@provides(fields:"totalProductsCreated")"#,
        r#"averageProductsCreatedPerYear:Int@requires(fields:"totalProductsCreated yearsOfEmployment")"#,
        r#"name:String@override(from:"users")"#,
    ] {
        assert!(sdl.contains(printed), "{printed} in {sdl}");
    }
    // @provides: this service answers the creator's product count itself
    // on the createdBy path (the suite checks it is not 4).
    let d = c
        .query(r#"{ product(id: "apollo-federation") { createdBy { email totalProductsCreated name } } }"#)
        .await;
    assert_eq!(
        d["product"]["createdBy"],
        json!({ "email": "support@apollographql.com", "totalProductsCreated": 1337, "name": "Jane Smith" })
    );
    // @requires: computed from the fields the gateway sends, rounded as
    // the suite's Math.round; without them, null.
    let d = c
        .entities(
            json!([
                { "__typename": "User", "email": "support@apollographql.com", "totalProductsCreated": 1337, "yearsOfEmployment": 10 },
                { "__typename": "User", "email": "support@apollographql.com", "yearsOfEmployment": 10 },
            ]),
            "... on User { averageProductsCreatedPerYear }",
        )
        .await;
    assert_eq!(
        d,
        json!([
            { "__typename": "User", "averageProductsCreatedPerYear": 134 },
            { "__typename": "User", "averageProductsCreatedPerYear": null },
        ])
    );
}

#[tokio::test]
async fn interface_object_inaccessible_shareable_and_tag() {
    let c = client().await;
    let sdl = sdl(&c);
    for printed in [
        r#"type Inventory@interfaceObject@key(fields:"id"){"#,
        r#"type ProductDimension@shareable{"#,
        r#"unit:String@inaccessible"#,
        r#"notes:String@tag(name:"internal")"#,
    ] {
        assert!(sdl.contains(printed), "{printed} in {sdl}");
    }
    assert!(!sdl.contains("@federation__"));
    // Every generated mutation is switched off: no Mutation type at all.
    assert!(!sdl.contains("type Mutation"));
    let d = c
        .entities(
            json!([{ "__typename": "Inventory", "id": "apollo-oss" }, { "__typename": "Inventory", "id": "other" }]),
            "... on Inventory { deprecatedProducts { sku reason createdBy { email name } } }",
        )
        .await;
    assert_eq!(
        d,
        json!([
            { "__typename": "Inventory", "deprecatedProducts": [{
                "sku": "apollo-federation-v1", "reason": "Migrate to Federation V2",
                "createdBy": { "email": "support@apollographql.com", "name": "Jane Smith" },
            }] },
            { "__typename": "Inventory", "deprecatedProducts": [] },
        ])
    );
    // An @inaccessible field answers on the subgraph itself.
    let d = c
        .query(r#"{ product(id: "apollo-federation") { dimensions { size weight unit } research { study { caseNumber } outcome } } }"#)
        .await;
    assert_eq!(
        d["product"],
        json!({
            "dimensions": { "size": "small", "weight": 1.0, "unit": "kg" },
            "research": [{ "study": { "caseNumber": "1234" }, "outcome": null }],
        })
    );
    let d = c
        .query(r#"{ deprecatedProduct(sku: "apollo-federation-v1", package: "@apollo/federation-v1") { package createdBy { name } } }"#)
        .await;
    assert_eq!(
        d["deprecatedProduct"],
        json!({ "package": "@apollo/federation-v1", "createdBy": { "name": "Jane Smith" } })
    );
}

/// `@link`: one link to the federation spec, v2.0 to v2.7, importing only
/// what the suite allows; `@composeDirective` links `@custom` alone.
#[tokio::test]
async fn links_and_composed_directive() {
    const ALLOWED: &[&str] = &[
        "@authenticated",
        "@composeDirective",
        "@extends",
        "@external",
        "@inaccessible",
        "@interfaceObject",
        "@key",
        "@override",
        "@policy",
        "@provides",
        "@requires",
        "@requiresScopes",
        "@shareable",
        "@tag",
        "FieldSet",
        "Scope",
        "Policy",
    ];
    let c = client().await;
    let sdl = sdl(&c);
    let links: Vec<&str> = sdl.split("@link(").skip(1).collect();
    let federation: Vec<&&str> = links
        .iter()
        .filter(|l| l.starts_with(r#"url:"https://specs.apollo.dev/federation/"#))
        .collect();
    assert_eq!(federation.len(), 1, "{sdl}");
    assert!(federation[0].starts_with(r#"url:"https://specs.apollo.dev/federation/v2.7""#));
    let imports = federation[0]
        .split_once("import:[")
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| list)
        .unwrap();
    for i in imports.split(' ') {
        assert!(ALLOWED.contains(&i.trim_matches('"')), "{i}");
    }
    assert!(
        sdl.contains(r#"@link(url:"https://myspecs.dev/myCustomDirective/v1.0" import:["@custom"])@composeDirective(name:"@custom")"#),
        "{sdl}"
    );
    assert!(sdl.contains("directive@custom on OBJECT"), "{sdl}");
    assert!(sdl.contains("type Product@custom@key"), "{sdl}");
}

#[tokio::test]
async fn an_inline_trace_when_asked() {
    use graphloom::graphql::{RequestContext, async_graphql::Request, trace::Trace};
    let c = client().await;
    let context = RequestContext {
        headers: [(
            "apollo-federation-include-trace".to_owned(),
            "ftv1".to_owned(),
        )]
        .into_iter()
        .collect(),
        ..Default::default()
    };
    let res = c
        .api()
        .execute_as(Request::new("query { __typename }"), context)
        .await;
    let res: Json = serde_json::from_slice(&res.to_json().unwrap()).unwrap();
    assert_eq!(res["data"], json!({ "__typename": "Query" }));
    let trace = Trace::from_base64(res["extensions"]["ftv1"].as_str().unwrap()).unwrap();
    assert!(trace.duration_ns > 0);
}

/// With the suite's users and inventory subgraphs, both composers compose
/// the supergraph: no error, and only the hints the suite's schemas mean
/// to give.
#[tokio::test]
async fn composes_with_the_suites_users_and_inventory() {
    let c = client().await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway");
    let subgraphs = [
        Subgraph::new("products", c.api().subgraph_sdl()),
        Subgraph::new("users", USERS.to_owned()),
        Subgraph::new("inventory", INVENTORY.to_owned()),
    ];
    let reports = compose(&subgraphs, &dir).unwrap();
    assert_eq!(reports.len(), 2, "{reports:?}");
    for r in &reports {
        assert!(r.composes(), "{}: {:?}", r.composer, r.errors);
        let supergraph = r.supergraph.as_deref().unwrap_or_default();
        // @inaccessible keeps `unit` in the supergraph, marked.
        assert!(supergraph.contains("unit: String"), "{}", r.composer);
        // Apollo's composer notes the two things the suite's schemas mean
        // to do: a field only products has, and a field it took over.
        let expected = if r.composer.starts_with("@apollo/") {
            vec![
                "\"ProductDimension.unit\" is defined in subgraph \"products\" but not in subgraph \"inventory\"",
                "Field \"User.name\" on subgraph \"users\" is overridden",
            ]
        } else {
            Vec::new()
        };
        assert_eq!(
            r.hints.len(),
            expected.len(),
            "{}: {:?}",
            r.composer,
            r.hints
        );
        for (hint, part) in r.hints.iter().zip(expected) {
            assert!(hint.contains(part), "{}: {hint}", r.composer);
        }
    }
}

/// Linked at v2.0, the suite's schema needs two newer directives, and the
/// service says which and why instead of printing an SDL no composer takes.
#[tokio::test]
async fn an_older_link_than_the_schema_needs_is_refused() {
    let db = graphloom::db::Database::connect("sqlite::memory:")
        .await
        .unwrap();
    let config = graphloom::graphql::Config {
        federation_version: Some(graphloom::prelude::FederationVersion::V2_0),
        ..Default::default()
    };
    let err = compat::service()
        .api(db, config)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert_eq!(
        err,
        "federation v2.0 does not define @interfaceObject (Inventory is an interface object); link v2.3 or later (GRAPHLOOM_FEDERATION_VERSION); \
         federation v2.0 does not define @composeDirective (the service composes directives); link v2.1 or later (GRAPHLOOM_FEDERATION_VERSION)"
    );
}
