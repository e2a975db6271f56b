//! Value types and input objects: structs (no table, no key) that custom
//! and computed fields return or take, nested, in lists, with enums and
//! IDs, with their federation directives; a computed value type the same
//! on the fast path and through the resolvers; and the schema refusing a
//! value type where an input belongs, or a name the schema already has.

use graphloom::prelude::*;
use graphloom_test::TestClient;
use serde::{Deserialize, Serialize};
use serde_json::{Value as Json, json};

use crate::fast_path::same;

#[derive(ModelEnum, Debug, Clone, Copy, PartialEq)]
pub enum Unit {
    Cm,
    Inch,
    /// Millimetres, from before centimetres.
    #[value(deprecated = "Use CM.")]
    Mm,
}

#[derive(Model)]
#[model(app = "post")]
pub struct Parcel {
    pub id: Id,
    #[field(max_length = 40)]
    pub label: String,
    pub width: f64,
    pub height: f64,
    #[field(default = "cm")]
    pub unit: Unit,
}

/// A parcel's size, as another service may also resolve it.
#[derive(Serialize, Object)]
#[serde(rename_all = "camelCase")]
#[object(shareable)]
pub struct Size {
    pub width: f64,
    pub height: f64,
    /// Kept from the supergraph.
    #[object(inaccessible)]
    pub unit: Unit,
    pub area_label: String,
    pub corner: Point,
}

// Deserialize too, to show the schema refusing it as an argument.
#[derive(Serialize, Deserialize, Object)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

#[derive(Serialize, Object)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub count: i32,
    pub largest: Option<Size>,
    pub labels: Vec<String>,
    pub units: Vec<Unit>,
    pub largest_id: Option<Id>,
    #[object(deprecated = "Use `count`.")]
    pub total: i32,
}

/// Which parcels to sum up.
#[derive(Deserialize, InputObject)]
#[serde(rename_all = "camelCase")]
pub struct SummaryFilter {
    pub min_width: f64,
    pub units: Option<Vec<Unit>>,
    pub near: Option<PointInput>,
}

#[derive(Serialize, Deserialize, InputObject)]
pub struct PointInput {
    pub x: f64,
    pub y: f64,
}

#[derive(Deserialize)]
struct SummaryArgs {
    filter: SummaryFilter,
}

fn size(p: &Parcel) -> Size {
    Size {
        width: p.width,
        height: p.height,
        unit: p.unit,
        area_label: format!("{} {:?}²", p.width * p.height, p.unit),
        corner: Point {
            x: p.width,
            y: p.height,
        },
    }
}

fn app() -> App {
    App::new("post")
        .model::<Parcel>()
        .computed(
            ComputedField::new::<Parcel, Size, _, _>(
                "size",
                &["width", "height", "unit"],
                |_ctx, row: Row| async move {
                    let unit = match row.str("unit") {
                        "inch" => Unit::Inch,
                        _ => Unit::Cm,
                    };
                    let num = |name| match row.get(name) {
                        Some(Value::F64(v)) => *v,
                        _ => 0.0,
                    };
                    let (width, height) = (num("width"), num("height"));
                    Ok(Size {
                        width,
                        height,
                        unit,
                        area_label: format!("{} {unit:?}²", width * height),
                        corner: Point {
                            x: width,
                            y: height,
                        },
                    })
                },
            )
            .description("Its size."),
        )
        .query(
            CustomField::new("summary")
                .arg::<SummaryFilter>("filter")
                .resolve(|ctx, a: SummaryArgs| async move {
                    let f = a.filter;
                    let mut rows: Vec<Parcel> = Parcel::objects(&ctx)
                        .filter(Parcel::WIDTH.gte(f.min_width))
                        .all()
                        .await?;
                    if let Some(units) = &f.units {
                        rows.retain(|p| units.contains(&p.unit));
                    }
                    if let Some(near) = &f.near {
                        rows.retain(|p| {
                            (p.width - near.x).abs() + (p.height - near.y).abs() <= 10.0
                        });
                    }
                    let largest = rows
                        .iter()
                        .max_by(|a, b| (a.width * a.height).total_cmp(&(b.width * b.height)));
                    let count = i32::try_from(rows.len()).unwrap_or(i32::MAX);
                    Ok(Summary {
                        count,
                        largest: largest.map(size),
                        largest_id: largest.map(|p| p.id),
                        labels: rows.iter().map(|p| p.label.clone()).collect(),
                        units: rows.iter().map(|p| p.unit).collect(),
                        total: count,
                    })
                }),
        )
}

fn service() -> Service {
    Service::new("post").app(app())
}

async fn client() -> TestClient {
    let c = TestClient::new(&service())
        .await
        .as_user(graphloom_test::superuser(1));
    for (label, w, h, unit) in [
        ("small", 10.0, 5.0, "CM"),
        ("wide", 40.0, 2.0, "INCH"),
        ("big", 30.0, 30.0, "CM"),
    ] {
        let d = c
            .query(&format!(
                r#"mutation {{ createParcel(input: {{ label: "{label}", width: {w}, height: {h}, unit: {unit} }}) {{ errors {{ field code }} }} }}"#
            ))
            .await;
        assert_eq!(d["createParcel"]["errors"], json!([]));
    }
    c
}

#[tokio::test]
async fn value_types_and_input_objects_print_with_their_directives() {
    let c = client().await;
    let sdl = c.api().sdl();
    for part in [
        "\"\"\"\nA parcel's size, as another service may also resolve it.\n\"\"\"\ntype Size {",
        "\tareaLabel: String!\n",
        "\tcorner: Point!\n",
        "type Summary {\n\tcount: Int!\n\tlargest: Size\n\tlabels: [String!]!\n\tunits: [Unit!]!\n\tlargestId: ID\n\ttotal: Int! @deprecated(reason: \"Use `count`.\")\n}",
        "\"\"\"\nWhich parcels to sum up.\n\"\"\"\ninput SummaryFilter {\n\tminWidth: Float!\n\tunits: [Unit!]\n\tnear: PointInput\n}",
        "input PointInput {\n\tx: Float!\n\ty: Float!\n}",
        "summary(filter: SummaryFilter!): Summary!",
        "size: Size!",
    ] {
        assert!(sdl.contains(part), "{part}\nnot in\n{sdl}");
    }
    let sub = c.api().subgraph_sdl();
    assert!(sub.contains("type Size @shareable {"), "{sub}");
    assert!(sub.contains("\tunit: Unit! @inaccessible\n"), "{sub}");
    // A deprecated enum value is marked, and still read and written.
    assert!(
        sdl.contains("\t\"\"\"\n\tMillimetres, from before centimetres.\n\t\"\"\"\n\tMM @deprecated(reason: \"Use CM.\")\n"),
        "{sdl}"
    );
    let d = c
        .query(r#"{ __type(name: "Unit") { enumValues(includeDeprecated: true) { name isDeprecated deprecationReason } } }"#)
        .await;
    assert_eq!(
        d["__type"]["enumValues"][2],
        json!({ "name": "MM", "isDeprecated": true, "deprecationReason": "Use CM." })
    );
    let d = c
        .query(r#"mutation { createParcel(input: { label: "old", width: 1, height: 1, unit: MM }) { parcel { unit } } }"#)
        .await;
    assert_eq!(d["createParcel"]["parcel"]["unit"], "MM");
}

#[tokio::test]
async fn custom_fields_take_input_objects_and_return_value_types() {
    let c = client().await;
    let d = c
        .query(
            r#"{ summary(filter: { minWidth: 10, units: [CM], near: { x: 25, y: 25 } }) {
                __typename count biggest: largest { __typename areaLabel corner { x y } unit }
                labels units largestId } }"#,
        )
        .await;
    assert_eq!(
        d["summary"],
        json!({
            "__typename": "Summary",
            "count": 1,
            "biggest": { "__typename": "Size", "areaLabel": "900 Cm²", "corner": { "x": 30.0, "y": 30.0 }, "unit": "CM" },
            "labels": ["big"],
            "units": ["CM"],
            "largestId": "3",
        })
    );
    // Nothing matches: a nullable value type is null, lists are empty.
    let d = c
        .query(r#"{ summary(filter: { minWidth: 1000 }) { count largest { width } labels largestId } }"#)
        .await;
    assert_eq!(
        d["summary"],
        json!({ "count": 0, "largest": null, "labels": [], "largestId": null })
    );
    // An input object's fields are checked like any argument's.
    for (query, says) in [
        ("{ summary(filter: { units: [CM] }) { count } }", "minWidth"),
        (
            "{ summary(filter: { minWidth: 1, units: [METRE] }) { count } }",
            "METRE",
        ),
        (
            "{ summary(filter: { minWidth: 1, near: { x: 1 } }) { count } }",
            "y",
        ),
    ] {
        let errors = c.errors(query).await;
        assert_eq!(
            graphloom_test::codes(&errors),
            ["GRAPHQL_VALIDATION_FAILED"],
            "{query}: {errors:?}"
        );
        assert!(
            errors[0]["message"].as_str().unwrap().contains(says),
            "{errors:?}"
        );
    }
}

#[tokio::test]
async fn a_computed_value_type_is_the_same_on_both_paths() {
    let c = client().await;
    let query = r#"{ parcels(orderBy: [{ id: ASC }]) { nodes { label size { __typename w: width areaLabel corner { y } } again: size { unit } } } }"#;
    let d = same(&c, &service(), query, json!({})).await;
    assert_eq!(
        d["data"]["parcels"]["nodes"][0],
        json!({
            "label": "small",
            "size": { "__typename": "Size", "w": 10.0, "areaLabel": "50 Cm²", "corner": { "y": 5.0 } },
            "again": { "unit": "CM" },
        })
    );
    assert_eq!(
        d["data"]["parcels"]["nodes"][1]["again"],
        json!({ "unit": "INCH" })
    );
}

#[tokio::test]
async fn the_schema_refuses_misplaced_and_clashing_value_types() {
    #[derive(Serialize, Object)]
    #[object(name = "Parcel")]
    pub struct Clash {
        pub n: i32,
    }
    /// Another Rust type that GraphQL would call `Point` too.
    #[derive(Serialize, Object)]
    #[object(name = "Point")]
    pub struct Twin {
        pub z: i32,
    }
    #[derive(Deserialize)]
    struct PointArgs {
        #[allow(dead_code)]
        at: Point,
    }
    let db = graphloom::db::Database::connect("sqlite::memory:")
        .await
        .unwrap();
    for (extra, says) in [
        (
            CustomField::new("at")
                .arg::<Point>("at")
                .resolve(|_ctx, _a: PointArgs| async { Ok::<i32, Error>(1) }),
            "the custom query or mutation `at` uses `Point` as an argument, but it is a value type",
        ),
        (
            CustomField::new("echo").arg::<PointInput>("p").resolve(
                |_ctx, _a: serde_json::Value| async {
                    Ok::<PointInput, Error>(PointInput { x: 0.0, y: 0.0 })
                },
            ),
            "uses `PointInput` as a result, but it is an input object",
        ),
        (
            CustomField::new("clash").resolve(|_ctx, _a: serde_json::Value| async {
                Ok::<Clash, Error>(Clash { n: 1 })
            }),
            "the type `Parcel` of the custom query or mutation `clash` is named as the model Parcel already is",
        ),
        (
            // `Size.corner` is a `Point` already.
            CustomField::new("twin")
                .resolve(|_ctx, _a: serde_json::Value| async { Ok::<Twin, Error>(Twin { z: 1 }) }),
            "two Rust types are both named `Point` in GraphQL",
        ),
    ] {
        let err = Service::new("post")
            .app(app().query(extra))
            .api(db.clone(), graphloom::graphql::Config::default())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(says), "{err}");
    }
}

/// The weather in a city: another service refers to it by the city, and
/// this one resolves it without a table.
#[derive(Serialize, Object)]
#[serde(rename_all = "camelCase")]
#[object(key = "city")]
pub struct Weather {
    pub city: String,
    pub celsius: f64,
    pub sky: Option<String>,
}

#[derive(Deserialize)]
struct WeatherKey {
    city: String,
}

/// A resolver of the weather that answers each city with `answer`.
fn weather(answer: fn(&str) -> Option<Weather>) -> CustomEntity {
    CustomEntity::new::<Weather, WeatherKey, _, _>(move |_ctx, keys| async move {
        Ok(keys.iter().map(|k| answer(&k.city)).collect())
    })
}

#[tokio::test]
async fn a_value_type_is_an_entity_resolved_by_the_apps_rust() {
    let entity = CustomEntity::new::<Weather, WeatherKey, _, _>(|_ctx, keys| async move {
        Ok(keys
            .into_iter()
            .map(|k| {
                (k.city != "Atlantis").then_some(Weather {
                    celsius: k.city.len() as f64,
                    city: k.city,
                    sky: None,
                })
            })
            .collect())
    });
    let service = Service::new("post").app(app().entity(entity));
    let c = TestClient::new(&service)
        .await
        .as_user(graphloom_test::superuser(1));
    let sdl = c.api().subgraph_sdl();
    assert!(
        sdl.contains("type Weather @key(fields: \"city\") {"),
        "{sdl}"
    );
    let d = c
        .query(r#"{ __type(name: "_Entity") { possibleTypes { name } } }"#)
        .await;
    assert_eq!(
        d["__type"]["possibleTypes"],
        json!([{ "name": "Parcel" }, { "name": "Weather" }])
    );
    c.query(r#"mutation { createParcel(input: { label: "box", width: 1, height: 2 }) { errors { code } } }"#)
        .await;
    let d = c
        .execute(
            "query($r: [_Any!]!) { _entities(representations: $r) { __typename ... on Weather { city celsius sky } ... on Parcel { label } } }",
            json!({ "r": [
                { "__typename": "Weather", "city": "Paris" },
                { "__typename": "Weather", "city": "Atlantis" },
                { "__typename": "Parcel", "id": "1" },
                { "__typename": "Weather", "town": "Oslo" },
                { "__typename": "Weather", "city": "Oslo" },
            ] }),
        )
        .await;
    assert_eq!(
        d["data"]["_entities"],
        json!([
            { "__typename": "Weather", "city": "Paris", "celsius": 5.0, "sky": null },
            null,
            { "__typename": "Parcel", "label": "box" },
            null,
            { "__typename": "Weather", "city": "Oslo", "celsius": 4.0, "sky": null },
        ])
    );
    let errors: Vec<(Json, Json)> = d["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["path"].clone(), e["extensions"]["code"].clone()))
        .collect();
    assert_eq!(
        errors,
        [
            (json!(["_entities", 1]), json!("NOT_FOUND")),
            (json!(["_entities", 3]), json!("BAD_USER_INPUT")),
        ]
    );

    // A resolver that answers another number of items than it was asked
    // fails its batch, with an internal error; the models' items resolve.
    let short =
        CustomEntity::new::<Weather, WeatherKey, _, _>(|_ctx, _keys| async move { Ok(Vec::new()) });
    let c2 = TestClient::new(&Service::new("post").app(app().entity(short)))
        .await
        .as_user(graphloom_test::superuser(1));
    let d = c2
        .execute(
            "query($r: [_Any!]!) { _entities(representations: $r) { ... on Weather { city } } }",
            json!({ "r": [{ "__typename": "Weather", "city": "Paris" }] }),
        )
        .await;
    assert_eq!(d["data"]["_entities"], json!([null]));
    assert_eq!(
        d["errors"][0]["extensions"]["code"],
        "INTERNAL_SERVER_ERROR"
    );

    // A keyed value type nothing resolves, a resolver of an unkeyed type or
    // of no value type, and two resolvers of one type stop the build.
    let db = graphloom::db::Database::connect("sqlite::memory:")
        .await
        .unwrap();
    let unresolved = CustomField::new("weather").resolve(|_ctx, _a: serde_json::Value| async {
        Ok::<Weather, Error>(Weather {
            city: "x".into(),
            celsius: 0.0,
            sky: None,
        })
    });
    for (service, says) in [
        (
            Service::new("post").app(app().query(unresolved)),
            "the value type `Weather` is keyed (#[object(key = …)]) and nothing resolves it",
        ),
        (
            Service::new("post").app(app().entity(CustomEntity::new::<Point, WeatherKey, _, _>(
                |_ctx, keys| async move { Ok(keys.iter().map(|_| None).collect()) },
            ))),
            "resolves `Point`, which has no key",
        ),
        (
            Service::new("post").app(app().entity(CustomEntity::new::<i32, WeatherKey, _, _>(
                |_ctx, keys| async move { Ok(keys.iter().map(|_| None).collect()) },
            ))),
            "an entity resolver (App::entity) must resolve a #[derive(Object)] struct",
        ),
        (
            Service::new("post").app(app().entity(weather(|_| None)).entity(weather(|_| None))),
            "two entity resolvers resolve `Weather`",
        ),
    ] {
        let err = service
            .api(db.clone(), graphloom::graphql::Config::default())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(says), "{err}");
    }
}

/// A custom subscription's items may be value types: each event carries
/// the selected fields, nested objects included.
#[tokio::test]
async fn a_subscription_streams_value_types() {
    let sizes = CustomField::new("sizes").stream(|_ctx, _a: serde_json::Value| async {
        Ok(futures_util::stream::iter([2.0, 3.0].map(|w| {
            Ok::<Size, Error>(Size {
                width: w,
                height: 1.0,
                unit: Unit::Inch,
                area_label: format!("{w} Inch²"),
                corner: Point { x: w, y: 1.0 },
            })
        })))
    });
    let service = Service::new("post").app(app().subscription(sizes));
    let c = TestClient::new(&service).await;
    let mut sub = c
        .subscribe(
            "subscription { sizes { areaLabel unit corner { x } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        sub.next_data().await["sizes"],
        json!({ "areaLabel": "2 Inch²", "unit": "INCH", "corner": { "x": 2.0 } })
    );
    assert_eq!(
        sub.next_data().await["sizes"]["corner"],
        json!({ "x": 3.0 })
    );
}

/// A courier, owned by another service and known here by its code.
#[derive(Model)]
#[model(app = "couriers", external)]
pub struct Courier {
    #[field(primary_key, max_length = 20)]
    pub code: String,
}

/// Who delivers a parcel: references to the couriers service's entity.
#[derive(Serialize, Object)]
pub struct Delivery {
    pub by: Reference<Courier>,
    pub backup: Option<Reference<Courier>>,
    pub relay: Vec<Reference<Courier>>,
}

fn delivery(label: &str) -> Delivery {
    Delivery {
        by: Reference::new(format!("{label}-1")),
        backup: (label == "big").then(|| Reference::new("spare")),
        relay: vec![Reference::new("r1"), Reference::new("r2")],
    }
}

fn delivery_app() -> App {
    app()
        .computed(ComputedField::new::<Parcel, Delivery, _, _>(
            "delivery",
            &["label"],
            |_ctx, row: Row| async move { Ok(delivery(row.str("label"))) },
        ))
        .computed(ComputedField::new::<Courier, String, _, _>(
            "badge",
            &["code"],
            |_ctx, row: Row| async move { Ok(format!("#{}", row.str("code"))) },
        ))
        .query(
            CustomField::new("nextDelivery").resolve(|_ctx, _a: serde_json::Value| async {
                Ok::<_, Error>(Some(delivery("next")))
            }),
        )
}

/// A courier's shift, kept by this service: `Courier.shifts` extends the
/// couriers service's entity.
#[derive(Model)]
#[model(app = "rota")]
pub struct Shift {
    pub id: Id,
    #[field(related_name = "shifts")]
    pub courier: Reference<Courier>,
    #[field(max_length = 10)]
    pub day: String,
}

fn delivery_service() -> Service {
    Service::new("post")
        .app(App::new("couriers").model::<Courier>())
        .app(App::new("rota").model::<Shift>())
        .app(delivery_app())
}

/// A value type may hold references to another service's entity: GraphQL
/// types them as the entity, resolved as `_entities` resolves it (its key,
/// and what this service computes for it), through the resolvers on both
/// paths. A reference to one of this service's models, a reference
/// returned bare, or one to a model no app declares stop the build.
#[tokio::test]
async fn a_value_type_refers_to_another_services_entity() {
    let c = TestClient::new(&delivery_service())
        .await
        .as_user(graphloom_test::superuser(1));
    for label in ["small", "big"] {
        c.query(&format!(
            r#"mutation {{ createParcel(input: {{ label: "{label}", width: 1, height: 1 }}) {{ errors {{ code }} }} }}"#
        ))
        .await;
    }
    let sdl = c.api().subgraph_sdl();
    assert!(
        sdl.contains("type Delivery {\n\tby: Courier!\n\tbackup: Courier\n\trelay: [Courier!]!\n}"),
        "{sdl}"
    );
    let query = r#"{ parcels(orderBy: [{ id: ASC }]) { nodes { label delivery { by { code badge } backup { code } relay { __typename code } } } } }"#;
    // The fast path leaves a query that reaches a reference to the resolvers.
    let res = c
        .response(graphloom::graphql::async_graphql::Request::new(query))
        .await;
    assert!(matches!(res.data, graphloom::graphql::Data::Value(_)));
    let d: Json = serde_json::from_slice(&res.to_json().unwrap()).unwrap();
    assert_eq!(
        d["data"]["parcels"]["nodes"],
        json!([
            { "label": "small", "delivery": {
                "by": { "code": "small-1", "badge": "#small-1" }, "backup": null,
                "relay": [{ "__typename": "Courier", "code": "r1" }, { "__typename": "Courier", "code": "r2" }],
            } },
            { "label": "big", "delivery": {
                "by": { "code": "big-1", "badge": "#big-1" }, "backup": { "code": "spare" },
                "relay": [{ "__typename": "Courier", "code": "r1" }, { "__typename": "Courier", "code": "r2" }],
            } },
        ])
    );
    let d = c
        .query("{ nextDelivery { by { badge } relay { badge } } }")
        .await;
    assert_eq!(
        d["nextDelivery"],
        json!({ "by": { "badge": "#next-1" }, "relay": [{ "badge": "#r1" }, { "badge": "#r2" }] })
    );

    #[derive(Serialize, Object)]
    pub struct Local {
        pub parcel: Reference<Parcel>,
    }
    #[derive(Model)]
    #[model(app = "nowhere", external)]
    pub struct Stranger {
        pub id: Id,
    }
    #[derive(Serialize, Object)]
    pub struct Lost {
        pub who: Reference<Stranger>,
    }
    let db = graphloom::db::Database::connect("sqlite::memory:")
        .await
        .unwrap();
    for (field, says) in [
        (
            CustomField::new("local").resolve(|_ctx, _a: serde_json::Value| async {
                Ok::<_, Error>(Local {
                    parcel: Reference::new(1),
                })
            }),
            "`Local.parcel` (in the custom query or mutation `local`) refers to Parcel, a model of this service: a value type refers to other services' entities only",
        ),
        (
            CustomField::new("bare").resolve(|_ctx, _a: serde_json::Value| async {
                Ok::<_, Error>(Reference::<Courier>::new("x"))
            }),
            "the custom query or mutation `bare` is typed `Courier`, a reference: hold it in a value type's field",
        ),
        (
            CustomField::new("lost").resolve(|_ctx, _a: serde_json::Value| async {
                Ok::<_, Error>(Lost {
                    who: Reference::new(1),
                })
            }),
            "`Lost.who` (in the custom query or mutation `lost`) refers to nowhere.Stranger, which no app of this service declares",
        ),
    ] {
        let err = Service::new("post")
            .app(App::new("couriers").model::<Courier>())
            .app(app().query(field))
            .api(db.clone(), graphloom::graphql::Config::default())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains(says), "{err}");
    }
}

/// The references of every value in a response load together, per field:
/// a list of parcels whose deliveries reach the couriers' shifts costs the
/// same statements for one parcel as for five.
#[tokio::test]
async fn references_across_values_load_in_one_statement_per_field() {
    let c = TestClient::new(&delivery_service())
        .await
        .as_user(graphloom_test::superuser(1));
    let system = c.system();
    for (code, day) in [
        ("r1", "mon"),
        ("r1", "tue"),
        ("r2", "wed"),
        ("spare", "thu"),
    ] {
        Shift::objects(&system)
            .create([Shift::COURIER.set(code), Shift::DAY.set(day)])
            .await
            .unwrap();
    }
    let query = r#"{ parcels(first: 5, orderBy: [{ id: ASC }]) { nodes { label delivery {
        by { code shifts(first: 1) { totalCount } }
        backup { shifts(first: 5) { nodes { day } } }
        relay { code shifts(first: 5, orderBy: [{ day: ASC }]) { nodes { day } } }
    } } } }"#;
    // The parcels, then one statement per reference field reaching shifts:
    // `by`'s count, `backup`'s and `relay`'s rows, for two parcels as for five.
    for (n, want) in [(2, 4), (5, 4)] {
        let labels = ["small", "big", "s3", "s4", "s5"];
        let have = c.query("{ parcels { totalCount } }").await["parcels"]["totalCount"]
            .as_u64()
            .unwrap_or_default() as usize;
        for label in &labels[have..n] {
            c.query(&format!(
                r#"mutation {{ createParcel(input: {{ label: "{label}", width: 1, height: 1 }}) {{ errors {{ code }} }} }}"#
            ))
            .await;
        }
        let d = graphloom_test::assert_num_queries!(want, c.query(query));
        let nodes = d["parcels"]["nodes"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(nodes.len(), n);
        for p in &nodes {
            let relay = &p["delivery"]["relay"];
            assert_eq!(
                relay,
                &json!([
                    { "code": "r1", "shifts": { "nodes": [{ "day": "mon" }, { "day": "tue" }] } },
                    { "code": "r2", "shifts": { "nodes": [{ "day": "wed" }] } },
                ])
            );
            assert_eq!(p["delivery"]["by"]["shifts"]["totalCount"], 0);
        }
        // Only "big" has a backup, the spare courier.
        let big = nodes.iter().find(|p| p["label"] == "big");
        assert_eq!(
            big.map(|p| p["delivery"]["backup"].clone()),
            Some(json!({ "shifts": { "nodes": [{ "day": "thu" }] } }))
        );
    }
}
