//! Named policies (`App::policy`, `Rule::policy`): decided by the service
//! on every request, and printed as `@policy(policies:)` (federation v2.6)
//! where every way through a rule holds one, so a gateway that implements
//! the same policy can refuse early. Both composers compose it.

use graphloom::{meta::Principal, prelude::*};
use graphloom_test::TestClient;

/// An audit report: its rows are for auditors; its figures for auditors
/// in finance.
#[derive(Model)]
#[model(app = "audits")]
pub struct Report {
    pub id: Id,
    #[field(max_length = 40)]
    pub title: String,
    pub figures: i32,
    pub remarks: String,
}

/// Auditors are the users whose id starts with `a` (a stand-in for a
/// lookup); finance is user `a1`.
fn app() -> App {
    App::new("audits")
        .model::<Report>()
        .policy("audit", |p: Option<Principal>| async move {
            p.is_some_and(|p| p.user_id.starts_with('a'))
        })
        .policy("finance", |p: Option<Principal>| async move {
            p.is_some_and(|p| p.user_id == "a1")
        })
}

fn rules() -> ModelRules {
    ModelRules::new()
        .view(Rule::policy("audit"))
        .create(Rule::policy("audit"))
        .update(Rule::perm("audits.change_report").and(Rule::policy("audit")))
        .field(
            "figures",
            Rule::policy("finance").and(Rule::policy("audit")),
        )
        // One way through holds no policy: no `@policy` can be printed.
        .field("remarks", Rule::Staff.or(Rule::policy("audit")))
}

fn service(app: App) -> Service {
    Service::new("audits").app(app)
}

fn config() -> graphloom::graphql::Config {
    graphloom::graphql::Config {
        auth_directives: true,
        ..Default::default()
    }
}

#[tokio::test]
async fn policies_are_printed_composed_and_decided_here() {
    let c = TestClient::with_config(&service(app().permissions::<Report>(rules())), config()).await;
    let sdl = c.api().subgraph_sdl();
    let line = |start: &str| -> String {
        sdl.lines()
            .find(|l| l.trim_start().starts_with(start))
            .unwrap_or_else(|| panic!("no line starting {start} in\n{sdl}"))
            .trim()
            .to_owned()
    };
    assert!(
        line("type Report").contains(r#"@policy(policies: [["audit"]])"#),
        "{sdl}"
    );
    assert!(line("createReport(").ends_with(r#"@policy(policies: [["audit"]])"#));
    assert!(line("updateReport(").ends_with(
        r#"@requiresScopes(scopes: [["audits.change_report"], ["superuser"]]) @policy(policies: [["audit"]])"#
    ));
    let report = sdl.split("type Report ").nth(1).unwrap_or_default();
    let field = |start: &str| {
        report
            .lines()
            .find(|l| l.trim_start().starts_with(start))
            .map(str::trim)
    };
    assert_eq!(
        field("figures:"),
        Some(r#"figures: Int @policy(policies: [["audit", "finance"]])"#)
    );
    assert_eq!(field("remarks:"), Some("remarks: String"));
    assert!(sdl.contains(r#""@requiresScopes", "@policy""#), "{sdl}");
    // The plain SDL is for clients: no auth directives.
    assert!(!c.api().sdl().contains("@policy"));

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("gateway");
    let reports = graphloom_test::assert_composes_in(&dir, &[("audits", c.api())]);
    assert_eq!(reports.len(), 2);
    for r in &reports {
        assert!(r.hints.is_empty(), "{}: {:?}", r.composer, r.hints);
        let supergraph = r.supergraph.as_deref().unwrap_or_default();
        assert!(
            supergraph.contains(r#"@policy(policies: [["audit", "finance"]])"#),
            "{}: {supergraph}",
            r.composer
        );
    }

    // The service decides: an auditor creates and reads; a stranger is
    // refused, an anonymous client asked to log in; figures are for
    // finance alone (null for others, as any field rule).
    let auditor = c.as_user(graphloom_test::user("a2"));
    let d = auditor
        .query(r#"mutation { createReport(input: { title: "Q3", figures: 7, remarks: "ok" }) { errors { code } } }"#)
        .await;
    assert_eq!(d["createReport"]["errors"], serde_json::json!([]));
    let stranger = c.as_user(graphloom_test::user("b1"));
    let errors = stranger.errors("{ reports { nodes { title } } }").await;
    assert_eq!(graphloom_test::codes(&errors), ["FORBIDDEN"]);
    let errors = c
        .anonymous()
        .errors(r#"mutation { createReport(input: { title: "x", figures: 1, remarks: "" }) { errors { code } } }"#)
        .await;
    assert_eq!(
        graphloom_test::codes(&errors),
        ["UNAUTHENTICATED"],
        "{errors:?}"
    );

    let q = "{ reports { nodes { title remarks figures } } }";
    let d = auditor.query(q).await;
    assert_eq!(
        d["reports"]["nodes"][0],
        serde_json::json!({ "title": "Q3", "remarks": "ok", "figures": null })
    );
    let d = c.as_user(graphloom_test::user("a1")).query(q).await;
    assert_eq!(d["reports"]["nodes"][0]["figures"], 7);
}

/// A rule naming a policy no app declares, a policy declared twice or with
/// an empty name, and a federation link before v2.6 stop the service at
/// start-up.
#[tokio::test]
async fn policy_mistakes_are_refused() {
    let db = graphloom::db::Database::connect("sqlite::memory:")
        .await
        .unwrap();
    let build = |app: App, config| {
        service(app)
            .api(db.clone(), config)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    };
    let err = build(
        app().permissions::<Report>(rules().delete(Rule::policy("audti"))),
        config(),
    );
    assert!(
        err.contains("the rule names the policy `audti`, which no app declares")
            && err.contains("graphloom.E011")
            && err.contains(r#"App::policy("audti""#),
        "{err}"
    );
    let twice = app()
        .policy("audit", |_| async { true })
        .permissions::<Report>(rules());
    let err = build(twice, config());
    assert!(
        err.contains("the policy `audit` is declared twice"),
        "{err}"
    );
    let unnamed = app()
        .policy(" ", |_| async { true })
        .permissions::<Report>(rules());
    let err = build(unnamed, config());
    assert!(err.contains("a policy has an empty name"), "{err}");

    let old = graphloom::graphql::Config {
        federation_version: Some(FederationVersion::V2_5),
        ..config()
    };
    let err = build(app().permissions::<Report>(rules()), old);
    assert!(
        err.contains("does not define @policy")
            && err.contains("link v2.6 or later")
            && err.contains(r#"@policy(policies: [["audit", "finance"]])"#),
        "{err}"
    );
    // Without auth directives nothing is printed, and v2.5 does.
    let quiet = graphloom::graphql::Config {
        federation_version: Some(FederationVersion::V2_5),
        ..Default::default()
    };
    assert_eq!(build(app().permissions::<Report>(rules()), quiet), "");
}
