//! `@context` and `@fromContext` (federation v2.8): a computed field whose
//! argument the gateway fills from an enclosing type. Both composers
//! compose it; the subgraph answers the argument as the gateway passes it,
//! through `_entities` as through its own fields.

use federation_example::shelves::{Placement, service_with as service, title};
use graphloom::prelude::*;
use graphloom_test::TestClient;
use serde_json::json;

#[tokio::test]
async fn an_argument_from_a_context_composes_and_resolves() {
    let c = TestClient::new(&service(title()))
        .await
        .as_user(graphloom_test::superuser(1));
    let sdl = c.api().subgraph_sdl();
    assert!(
        sdl.contains(r#"type Shelf @key(fields: "id") @context(name: "shelf") {"#),
        "{sdl}"
    );
    assert!(
        sdl.contains(r#"title(shelfName: String @fromContext(field: "$shelf { name }"), upper: Boolean! = false): String!"#),
        "{sdl}"
    );
    // The plain SDL declares neither directive; the argument stays.
    let plain = c.api().sdl();
    assert!(!plain.contains("@context") && !plain.contains("@fromContext"));
    assert!(plain.contains("title(shelfName: String, upper: Boolean! = false): String!"));

    // Both composers compose it; Apollo's supergraph passes the shelf's
    // name to the argument.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway");
    let reports = graphloom_test::assert_composes_in(&dir, &[("shelves", c.api())]);
    assert_eq!(reports.len(), 2);
    for r in &reports {
        assert!(r.hints.is_empty(), "{}: {:?}", r.composer, r.hints);
    }
    let apollo = reports[0].supergraph.as_deref().unwrap_or_default();
    assert!(apollo.contains("contextArguments"), "{apollo}");

    // The subgraph: the argument as a gateway passes it, through the
    // shelf's list and through `_entities`; each selection its own. The
    // rows are the service's demo migration's: shelf 1 holds jam and tea.
    let system = c.system();
    let labels: Vec<String> = Placement::objects(&system)
        .filter(Placement::SHELF.eq(1))
        .all()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.label)
        .collect();
    assert_eq!(labels, ["jam", "tea"]);
    let q = r#"{ shelf(id: "1") { placements { title(shelfName: "Top") loud: title(shelfName: "Top", upper: true) plain: title } } }"#;
    // Arguments differ between selections: the resolvers take the query,
    // not the fast path.
    let res = c
        .response(graphloom::graphql::async_graphql::Request::new(q))
        .await;
    assert!(matches!(res.data, graphloom::graphql::Data::Value(_)));
    let d = c.query(q).await;
    assert_eq!(
        d["shelf"]["placements"],
        json!([
            { "title": "Top: jam", "loud": "TOP: JAM", "plain": "jam" },
            { "title": "Top: tea", "loud": "TOP: TEA", "plain": "tea" },
        ])
    );
    let d = c
        .entities(
            json!([{ "__typename": "Placement", "id": "2" }]),
            r#"... on Placement { title(shelfName: "Low") }"#,
        )
        .await;
    assert_eq!(
        d,
        json!([{ "__typename": "Placement", "title": "Low: tea" }])
    );
    // A wrong type for an argument is the client's error.
    let res = c
        .execute(
            r#"{ shelf(id: "1") { placements { title(upper: "yes") } } }"#,
            json!({}),
        )
        .await;
    assert!(
        res["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("upper"),
        "{res}"
    );
}

/// A context no model declares, a context argument with a default, one
/// that names no context, an argument declared twice, and a federation
/// version before v2.8 stop the service at start-up.
#[tokio::test]
async fn context_mistakes_are_refused() {
    let db = graphloom::db::Database::connect("sqlite::memory:")
        .await
        .unwrap();
    let base = || {
        ComputedField::with_args::<Placement, String, _, _, _>(
            "title",
            &["label"],
            |_ctx, row: Row, _a: serde_json::Value| async move { Ok(row.str("label").to_owned()) },
        )
    };
    for (field, says) in [
        (
            base().arg_from_context::<Option<String>>("n", "$aisle { name }"),
            "the argument `n` reads the context `aisle`, which no model of this service declares",
        ),
        (
            base().arg_from_context::<Option<String>>("n", "shelf.name"),
            "`shelf.name` (the argument `n`) names no context",
        ),
        (
            base().arg::<i32>("n").arg::<i32>("n"),
            "the argument `n` is declared twice",
        ),
    ] {
        let err = service(field)
            .api(db.clone(), Default::default())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(says), "{err}");
    }
    let err = service(title())
        .federation_version(FederationVersion::V2_7)
        .api(db.clone(), Default::default())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains(
            "federation v2.7 does not define @context (Shelf is a context); link v2.8 or later"
        ),
        "{err}"
    );
    assert!(err.contains(
        "does not define @fromContext (Placement.title reads an argument from a context)"
    ));
}
