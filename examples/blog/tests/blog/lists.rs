//! To-many relations as plain lists (`[T!]!`) instead of connections:
//! `#[field(related_list)]` on a foreign key's reverse, `#[field(list)]` on
//! a many-to-many field (and `related_list` on its reverse). Still planned
//! in SQL (one statement per relation, per-parent order and limit), the
//! same on the fast path and through the resolvers, on each dialect.

use graphloom::prelude::*;
use graphloom_test::{TestClient, assert_num_queries};
use serde_json::json;

use crate::fast_path::same;

#[derive(Model)]
#[model(app = "lab", plural = "studies")]
pub struct Study {
    pub id: Id,
    #[field(max_length = 100)]
    pub title: String,
}

#[derive(Model)]
#[model(app = "lab")]
pub struct Scientist {
    pub id: Id,
    #[field(max_length = 100)]
    pub name: String,
}

#[derive(Model)]
#[model(app = "lab")]
pub struct Finding {
    pub id: Id,
    /// `Study.findings: [Finding!]!`.
    #[field(related_list)]
    pub study: ForeignKey<Study>,
    #[field(max_length = 100)]
    pub outcome: String,
    /// `Finding.authors: [Scientist!]!`, and `Scientist.findings` likewise.
    #[field(list, related_list)]
    pub authors: ManyToMany<Scientist>,
}

fn service() -> Service {
    Service::new("lab").app(
        App::new("lab")
            .model::<Study>()
            .model::<Scientist>()
            .model::<Finding>(),
    )
}

/// Two studies; the first with three findings by Ada and Grace, the
/// second with none.
async fn client() -> TestClient {
    let c = TestClient::new(&service())
        .await
        .as_user(graphloom_test::superuser(1));
    let d = c
        .query(r#"mutation { a: createStudy(input: { title: "Federation" }) { errors { code } } b: createStudy(input: { title: "Empty" }) { errors { code } }
            s1: createScientist(input: { name: "Ada" }) { errors { code } } s2: createScientist(input: { name: "Grace" }) { errors { code } } }"#)
        .await;
    assert_eq!(d["a"]["errors"], json!([]));
    for (outcome, authors) in [("works", "[1, 2]"), ("fails", "[2]"), ("unclear", "[]")] {
        let d = c
            .query(&format!(
                r#"mutation {{ createFinding(input: {{ studyId: 1, outcome: "{outcome}", authors: {{ set: {authors} }} }}) {{ errors {{ field code }} }} }}"#
            ))
            .await;
        assert_eq!(d["createFinding"]["errors"], json!([]));
    }
    c
}

#[tokio::test]
async fn lists_print_as_plain_lists_with_where_order_and_first() {
    let c = client().await;
    let sdl = c.api().sdl();
    for line in [
        "findings(where: FindingFilter, orderBy: [FindingOrderBy!], first: Int): [Finding!]!",
        "authors(where: ScientistFilter, orderBy: [ScientistOrderBy!], first: Int): [Scientist!]!",
    ] {
        assert!(sdl.contains(line), "{line} not in\n{sdl}");
    }
    assert_eq!(
        sdl.matches(
            "findings(where: FindingFilter, orderBy: [FindingOrderBy!], first: Int): [Finding!]!"
        )
        .count(),
        2,
        "Study.findings and Scientist.findings"
    );
    // A connection's cursors are not a list's arguments.
    let errors = c
        .errors("{ studies { nodes { findings(after: \"x\") { outcome } } } }")
        .await;
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("Unknown argument \"after\""),
        "{errors:?}"
    );
}

#[tokio::test]
async fn lists_are_planned_per_parent_on_both_paths() {
    let c = client().await;
    let query = r#"{ studies(first: 10, orderBy: [{ id: ASC }]) { nodes { title
        findings(first: 10, orderBy: [{ outcome: ASC }]) { outcome authors(first: 5, orderBy: [{ name: DESC }]) { name } }
        top: findings(first: 1, where: { outcome: { neq: "works" } }, orderBy: [{ outcome: DESC }]) { outcome }
    } } }"#;
    let d = same(&c, &service(), query, json!({})).await["data"].clone();
    // The studies, their findings, the findings' authors, the aliased page.
    assert_num_queries!(4, c.query(query));
    assert_eq!(
        d["studies"]["nodes"],
        json!([
            { "title": "Federation",
              "findings": [
                { "outcome": "fails", "authors": [{ "name": "Grace" }] },
                { "outcome": "unclear", "authors": [] },
                { "outcome": "works", "authors": [{ "name": "Grace" }, { "name": "Ada" }] },
              ],
              "top": [{ "outcome": "unclear" }] },
            { "title": "Empty", "findings": [], "top": [] },
        ])
    );
    // The reverse of the many-to-many, from a lookup; a filter through a list.
    let d = same(
        &c,
        &service(),
        r#"{ scientist(id: 2) { name findings(orderBy: [{ outcome: DESC }]) { outcome study { title } } }
             studies(where: { findings: { some: { authors: { some: { name: { eq: "Ada" } } } } } }) { nodes { title } } }"#,
        json!({}),
    )
    .await;
    assert_eq!(
        d["data"],
        json!({
            "scientist": { "name": "Grace", "findings": [
                { "outcome": "works", "study": { "title": "Federation" } },
                { "outcome": "fails", "study": { "title": "Federation" } },
            ] },
            "studies": { "nodes": [{ "title": "Federation" }] },
        })
    );
}

#[tokio::test]
async fn a_list_is_bounded_like_a_page() {
    let c = client().await;
    for (first, code) in [(101, "PAGE_SIZE_EXCEEDED"), (-1, "BAD_USER_INPUT")] {
        let errors = c
            .errors(&format!(
                "{{ studies {{ nodes {{ findings(first: {first}) {{ outcome }} }} }} }}"
            ))
            .await;
        assert_eq!(graphloom_test::codes(&errors), [code], "{errors:?}");
    }
    // A list without `first` is a default page (the cost counts it so).
    let d = c
        .query("{ studies(first: 10) { nodes { findings { outcome } } } }")
        .await;
    assert_eq!(
        d["studies"]["nodes"][0]["findings"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
}

#[test]
fn list_options_belong_on_to_many_relations() {
    #[derive(Model)]
    #[model(app = "bad")]
    pub struct Other {
        pub id: Id,
    }
    #[derive(Model)]
    #[model(app = "bad")]
    pub struct Wrong {
        pub id: Id,
        #[field(list)]
        pub other: ForeignKey<Other>,
        #[field(related_list)]
        pub name: String,
    }
    let err = Service::new("bad")
        .app(App::new("bad").model::<Other>().model::<Wrong>())
        .registry()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`list` on a field that is not a many-to-many"),
        "{err}"
    );
    assert!(
        err.contains("`related_list` on a field whose reverse is not a list"),
        "{err}"
    );
}
