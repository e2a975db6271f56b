//! Every field kind and relation option through the API, on each dialect.

use graphloom::prelude::*;
use graphloom_test::TestClient;
use serde_json::{Value as Json, json};

#[derive(ModelEnum)]
#[model_enum(name = "Level")]
pub enum Level {
    Low,
    High,
    #[value(stored = "max!")]
    Maximum,
}

#[derive(Model)]
#[model(app = "k")]
pub struct Account {
    #[field(primary_key)]
    pub id: Uuid,
    #[field(max_length = 20, unique)]
    pub handle: String,
}

#[derive(Model)]
#[model(app = "k")]
pub struct Profile {
    pub id: Id,
    #[field(related_name = "profile")]
    pub account: OneToOne<Account>,
    pub about: Option<String>,
}

#[derive(Model)]
#[model(app = "k", table = "k_all_kinds", plural = "kinds")]
pub struct Kind {
    pub id: Id,
    pub flag: bool,
    pub small: i32,
    pub big: i64,
    pub real: f64,
    #[field(max_digits = 12, decimal_places = 3)]
    pub money: Decimal,
    #[field(max_length = 10, column = "short_name")]
    pub short: String,
    pub long: Option<String>,
    pub day: NaiveDate,
    pub at: DateTime<Utc>,
    pub token: Option<Uuid>,
    pub data: Option<serde_json::Value>,
    #[field(default = "low")]
    pub level: Level,
    #[field(read_only, default = 7)]
    pub fixed: i32,
    #[field(hidden, default = "s3cret")]
    pub secret: String,
    #[field(on_delete = set_null, related_name = "ownedKinds")]
    pub owner: Option<ForeignKey<Account>>,
    #[field(on_delete = restrict, related_name = "keptKinds")]
    pub keeper: Option<ForeignKey<Account>>,
}

pub(crate) fn service() -> Service {
    Service::new("k").app(
        App::new("k")
            .model::<Account>()
            .model::<Profile>()
            .model::<Kind>(),
    )
}

/// A superuser's client: these tests are about values, not permissions
/// (generated writes need the model permissions).
pub(crate) async fn client() -> TestClient {
    TestClient::new(&service())
        .await
        .as_user(graphloom_test::superuser(1))
}

pub(crate) const KIND_FIELDS: &str =
    "id flag small big real money short long day at token data level fixed ownerId keeperId";

pub(crate) async fn create_kind(c: &TestClient, input: Json) -> Json {
    let q = format!(
        "mutation($i: CreateKindInput!) {{ createKind(input: $i) {{ kind {{ {KIND_FIELDS} }} errors {{ field code message }} }} }}"
    );
    c.query_vars(&q, json!({ "i": input })).await["createKind"].clone()
}

pub(crate) fn full_input() -> Json {
    json!({
        "flag": true, "small": -5, "big": "9007199254740993", "real": 1.5, "money": "1234.5",
        "short": "ten chars!", "day": "2024-02-29", "at": "2024-05-31T12:30:00.250+02:00",
        "token": "67e55044-10b1-426f-9247-bb680e5fe0c8", "data": { "a": [1, "two", null] }, "level": "MAXIMUM"
    })
}

#[tokio::test]
async fn every_kind_round_trips() {
    let c = client().await;
    let k = create_kind(&c, full_input()).await;
    assert_eq!(k["errors"], json!([]));
    assert_eq!(
        k["kind"],
        json!({
            "id": "1", "flag": true, "small": -5, "big": "9007199254740993", "real": 1.5, "money": "1234.500",
            "short": "ten chars!", "long": null, "day": "2024-02-29", "at": "2024-05-31T10:30:00.250Z",
            "token": "67e55044-10b1-426f-9247-bb680e5fe0c8", "data": { "a": [1, "two", null] }, "level": "MAXIMUM",
            "fixed": 7, "ownerId": null, "keeperId": null
        })
    );
    // The hidden field is stored (its default) but not in the schema.
    let sdl = c.api().sdl();
    assert!(!sdl.contains("secret"));
    assert!(
        !sdl.contains("input CreateKindInput {\n\tfixed"),
        "read-only fields are not inputs"
    );
    let errors = c.errors(r#"{ kinds { nodes { secret } } }"#).await;
    assert!(errors[0]["message"].as_str().unwrap().contains("secret"));
}

#[tokio::test]
async fn every_kind_filters_and_orders() {
    let c = client().await;
    for (i, money) in ["1.5", "10.25", "2"].iter().enumerate() {
        let mut input = full_input();
        input["money"] = json!(money);
        input["small"] = json!(i);
        input["level"] = json!(["LOW", "HIGH", "MAXIMUM"][i]);
        input["day"] = json!(format!("2024-01-0{}", i + 1));
        assert_eq!(create_kind(&c, input).await["errors"], json!([]));
    }
    let ids = |d: &Json| {
        d["kinds"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    let d = c
        .query(r#"{ kinds(orderBy: [{ money: DESC }]) { nodes { id } } }"#)
        .await;
    assert_eq!(ids(&d), ["2", "3", "1"], "decimals sort as numbers");
    let d = c
        .query(r#"{ kinds(where: { money: { gt: "1.9", lt: "10" } }) { nodes { id } } }"#)
        .await;
    assert_eq!(ids(&d), ["3"]);
    let d = c
        .query(r#"{ kinds(where: { money: { eq: "2.000" } }) { nodes { id } } }"#)
        .await;
    assert_eq!(
        ids(&d),
        ["3"],
        "equal decimals are equal whatever their scale"
    );
    let d = c
        .query(r#"{ kinds(where: { level: { in: [HIGH, MAXIMUM] } }) { nodes { id } } }"#)
        .await;
    assert_eq!(ids(&d), ["2", "3"]);
    let d = c.query(r#"{ kinds(where: { day: { gte: "2024-01-02" }, small: { lte: 1 }, flag: { eq: true } }) { nodes { id } } }"#).await;
    assert_eq!(ids(&d), ["2"]);
    let d = c.query(r#"{ kinds(where: { big: { eq: "9007199254740993" }, token: { eq: "67e55044-10b1-426f-9247-bb680e5fe0c8" }, data: { isNull: false } }) { totalCount } }"#).await;
    assert_eq!(d["kinds"]["totalCount"], 3);
    let d = c.query(r#"{ kinds(where: { real: { gt: 1.4 }, at: { eq: "2024-05-31T10:30:00.25Z" } }) { totalCount } }"#).await;
    assert_eq!(d["kinds"]["totalCount"], 3);
}

#[tokio::test]
async fn invalid_values_are_payload_errors() {
    let c = client().await;
    let mut input = full_input();
    input["big"] = json!("12x");
    input["day"] = json!("2023-02-29");
    input["at"] = json!("yesterday");
    input["token"] = json!("not-a-uuid");
    input["money"] = json!("1e400");
    input["short"] = json!("eleven chars");
    let k = create_kind(&c, input).await;
    let fields: Vec<(&str, &str)> = k["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"][0].as_str().unwrap(), e["code"].as_str().unwrap()))
        .collect();
    assert_eq!(
        fields,
        [
            ("big", "INVALID"),
            ("money", "INVALID"),
            ("short", "MAX_LENGTH"),
            ("day", "INVALID"),
            ("at", "INVALID"),
            ("token", "INVALID")
        ]
    );
}

#[tokio::test]
async fn json_with_a_null_character_is_invalid_on_both_dialects() {
    // PostgreSQL's jsonb refuses `\u0000` (SQLSTATE 22P05), in a value or a
    // key, at any depth; SQLite would store it.
    let c = client().await;
    for data in [
        json!("a\u{0}b"),
        json!({ "deep": [1, { "x": "\u{0}" }] }),
        json!({ "k\u{0}": 1 }),
    ] {
        let mut input = full_input();
        input["data"] = data.clone();
        let k = create_kind(&c, input).await;
        assert_eq!(k["kind"], Json::Null, "{data}: {k}");
        assert_eq!(k["errors"][0]["field"], json!(["data"]), "{k}");
        assert_eq!(k["errors"][0]["code"], "INVALID", "{k}");
    }
    let mut input = full_input();
    input["data"] = json!({ "text": "no null here: \\u0000 is six characters" });
    let k = create_kind(&c, input).await;
    assert_eq!(k["errors"], json!([]), "{k}");
}

#[tokio::test]
async fn uuid_keys_one_to_one_set_null_and_restrict() {
    let c = client().await;
    let d = c.query(r#"mutation { a: createAccount(input: { handle: "ann" }) { account { id } errors { code } } b: createAccount(input: { handle: "bob" }) { account { id } } }"#).await;
    let ann = d["a"]["account"]["id"].as_str().unwrap().to_owned();
    let bob = d["b"]["account"]["id"].as_str().unwrap().to_owned();
    assert_eq!(ann.len(), 36, "a generated UUID key");
    let p = c.query_vars(r#"mutation($a: ID!) { createProfile(input: { accountId: $a, about: "hi" }) { profile { account { handle profile { about } } } errors { code } } }"#, json!({ "a": ann })).await;
    assert_eq!(
        p["createProfile"]["profile"]["account"],
        json!({ "handle": "ann", "profile": { "about": "hi" } })
    );
    let dup = c.query_vars(r#"mutation($a: ID!) { createProfile(input: { accountId: $a }) { errors { field code } } }"#, json!({ "a": ann })).await;
    assert_eq!(
        dup["createProfile"]["errors"],
        json!([{ "field": ["accountId"], "code": "UNIQUE" }]),
        "one-to-one keys are unique"
    );
    let d = c.query_vars(r#"query($a: ID!) { account(id: $a) { handle } accounts(where: { profile: { about: { eq: "hi" } } }) { nodes { handle } } }"#, json!({ "a": ann })).await;
    assert_eq!(
        d,
        json!({ "account": { "handle": "ann" }, "accounts": { "nodes": [{ "handle": "ann" }] } })
    );

    let mut input = full_input();
    input["ownerId"] = json!(ann);
    input["keeperId"] = json!(bob);
    assert_eq!(create_kind(&c, input).await["errors"], json!([]));
    // RESTRICT: the database refuses; the payload says so.
    let d = c
        .query_vars(
            r#"mutation($b: ID!) { deleteAccount(id: $b) { deletedId errors { code } } }"#,
            json!({ "b": bob }),
        )
        .await;
    assert_eq!(
        d["deleteAccount"],
        json!({ "deletedId": null, "errors": [{ "code": "PROTECTED" }] })
    );
    // SET NULL: the kind stays, its owner is cleared; the profile cascades.
    let d = c
        .query_vars(
            r#"mutation($a: ID!) { deleteAccount(id: $a) { deletedId errors { code } } }"#,
            json!({ "a": ann }),
        )
        .await;
    assert_eq!(d["deleteAccount"]["deletedId"], json!(ann));
    let d = c.query("{ kinds { nodes { ownerId keeperId owner { handle } keeper { handle } } } profiles { totalCount } }").await;
    assert_eq!(
        d["kinds"]["nodes"],
        json!([{ "ownerId": null, "keeperId": bob, "owner": null, "keeper": { "handle": "bob" } }])
    );
    assert_eq!(d["profiles"]["totalCount"], 0);
    let bad = c
        .query(
            r#"mutation { createProfile(input: { accountId: "nope" }) { errors { field code } } }"#,
        )
        .await;
    assert_eq!(
        bad["createProfile"]["errors"],
        json!([{ "field": ["accountId"], "code": "INVALID" }])
    );
}
