use graphloom::{meta::CheckErrors, prelude::*};

#[test]
fn blog_sdl_snapshot() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sdl = rt.block_on(async {
        let db = graphloom::db::Database::connect("sqlite::memory:")
            .await
            .unwrap();
        blog::service().api(db, Default::default()).unwrap().sdl()
    });
    insta::assert_snapshot!("blog_schema", sdl);
}

#[test]
fn blog_subgraph_sdl_snapshot() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sdl = rt.block_on(async {
        let db = graphloom::db::Database::connect("sqlite::memory:")
            .await
            .unwrap();
        blog::service()
            .api(db, Default::default())
            .unwrap()
            .subgraph_sdl()
    });
    assert!(sdl.contains("extend schema @link"));
    insta::assert_snapshot!("blog_subgraph", sdl);
}

fn check_ids(err: CheckErrors) -> Vec<&'static str> {
    err.0.iter().map(|e| e.id.code()).collect()
}

#[test]
fn relation_to_an_unregistered_model() {
    let service =
        Service::new("s").app(App::new("blog").model::<blog::Post>().model::<blog::Tag>());
    let err = service.registry().unwrap_err();
    assert_eq!(check_ids(err.clone()), ["graphloom.E001"]);
    let text = err.to_string();
    assert!(
        text.contains("blog.Post.author") && text.contains("auth.User") && text.contains("HINT"),
        "{text}"
    );
}

#[test]
fn clashing_reverse_accessors_need_a_related_name() {
    #[derive(Model)]
    #[model(app = "shop")]
    pub struct Person {
        pub id: Id,
        pub name: String,
    }
    #[derive(Model)]
    #[model(app = "shop")]
    pub struct Order {
        pub id: Id,
        pub buyer: ForeignKey<Person>,
        pub seller: ForeignKey<Person>,
    }
    #[derive(Model)]
    #[model(app = "shop")]
    pub struct Invoice {
        pub id: Id,
        pub buyer: ForeignKey<Person>,
        #[field(related_name = "soldInvoices")]
        pub seller: ForeignKey<Person>,
    }
    let service = Service::new("s").app(App::new("shop").model::<Person>().model::<Order>());
    assert_eq!(
        check_ids(service.registry().unwrap_err()),
        ["graphloom.E009"]
    );
    let ok = Service::new("s").app(App::new("shop").model::<Person>().model::<Invoice>());
    assert!(ok.registry().is_ok());
}

#[test]
fn generated_writes_need_a_field_to_set() {
    #[derive(Model)]
    #[model(app = "shop")]
    pub struct Token {
        pub id: Id,
        #[field(auto_now_add)]
        pub created_at: DateTime<Utc>,
    }
    #[derive(Model)]
    #[model(app = "shop", create = false, update = false)]
    pub struct Stamp {
        pub id: Id,
        #[field(auto_now_add)]
        pub created_at: DateTime<Utc>,
    }
    let err = Service::new("s")
        .app(App::new("shop").model::<Token>())
        .registry()
        .unwrap_err();
    assert_eq!(check_ids(err.clone()), ["graphloom.E015"]);
    let text = err.to_string();
    assert!(
        text.contains("shop.Token") && text.contains("create = false, update = false"),
        "{text}"
    );
    // Without the generated writes, it is fine.
    assert!(
        Service::new("s")
            .app(App::new("shop").model::<Stamp>())
            .registry()
            .is_ok()
    );
}

#[test]
fn clashing_names_tables_and_bad_options() {
    mod a {
        use graphloom::prelude::*;
        #[derive(Model)]
        #[model(app = "a")]
        pub struct Item {
            pub id: Id,
            #[field(auto_now)]
            pub name: String,
        }
    }
    mod b {
        use graphloom::prelude::*;
        #[derive(Model)]
        #[model(app = "b")]
        pub struct Item {
            pub id: Id,
            pub owner: Option<ForeignKey<Item>>,
            #[field(on_delete = set_null)]
            pub other: ForeignKey<Item>,
        }
    }
    let service = Service::new("s")
        .app(App::new("a").model::<a::Item>())
        .app(App::new("b").model::<b::Item>());
    let ids = check_ids(service.registry().unwrap_err());
    assert!(ids.contains(&"graphloom.E006"), "{ids:?}");
    let service = Service::new("s").app(App::new("a").model::<a::Item>().model::<a::Item>());
    assert!(check_ids(service.registry().unwrap_err()).contains(&"graphloom.E002"));
    #[derive(Model)]
    #[model(app = "a", graphql_name = "Item")]
    pub struct Other {
        pub id: Id,
        pub name: String,
    }
    let service = Service::new("s")
        .app(App::new("a").model::<Other>())
        .app(App::new("c").model::<blog::Tag>());
    assert!(service.registry().is_ok());
    let clash = Service::new("s").app(App::new("a").model::<Other>());
    let both = clash.app(App::new("b").model::<b_item_ok::Item>());
    assert!(check_ids(both.registry().unwrap_err()).contains(&"graphloom.E003"));
}

mod b_item_ok {
    use graphloom::prelude::*;
    #[derive(Model)]
    #[model(app = "b")]
    pub struct Item {
        pub id: Id,
        pub name: String,
    }
}

#[test]
fn every_field_kind_maps_to_sdl() {
    #[derive(ModelEnum)]
    pub enum Mood {
        Happy,
        /// Not so happy.
        KindOfBlue,
    }
    /// Every supported field kind.
    #[derive(Model)]
    #[model(app = "k")]
    pub struct Kitchen {
        #[field(primary_key)]
        pub id: Uuid,
        pub flag: bool,
        pub small: i32,
        pub big: i64,
        pub real: f64,
        #[field(max_digits = 10, decimal_places = 2)]
        pub money: Decimal,
        #[field(max_length = 10, column = "short_name", help = "Up to ten characters.")]
        pub short: String,
        pub long: Option<String>,
        pub day: NaiveDate,
        pub at: DateTime<Utc>,
        #[field(deprecated = "Use `data` instead.")]
        pub token: Uuid,
        pub data: serde_json::Value,
        pub mood: Mood,
        #[field(read_only, default = 7)]
        pub fixed: i32,
        #[field(hidden, default = "secret")]
        pub secret: String,
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sdl = rt.block_on(async {
        let db = graphloom::db::Database::connect("sqlite::memory:")
            .await
            .unwrap();
        Service::new("k")
            .app(
                App::new("k").model::<Kitchen>().query(
                    graphloom::graphql::CustomField::new("oldest")
                        .deprecated("Order `kitchens` instead.")
                        .resolve(|_ctx, _args: serde_json::Value| async {
                            Ok::<i32, graphloom::query::Error>(1)
                        }),
                ),
            )
            .api(db, Default::default())
            .unwrap()
            .sdl()
    });
    insta::assert_snapshot!("kitchen_schema", sdl);
}

/// The published-schema file: written when missing, accepted when equal,
/// and a drift fails the test naming each change and its level.
#[tokio::test]
async fn a_published_schema_file_that_drifted_fails_with_the_changes() {
    let client = graphloom_test::TestClient::new(&blog::service()).await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schema.graphql");
    graphloom_test::assert_schema_file(client.api(), &path);
    let published = std::fs::read_to_string(&path).unwrap();
    assert_eq!(published, client.api().sdl());
    graphloom_test::assert_schema_file(client.api(), &path);
    // The published schema had a field the service no longer serves.
    let drifted = published.replacen(
        "\ttitle: String!\n",
        "\ttitle: String!\n\tsubtitle: String!\n",
        1,
    );
    assert_ne!(drifted, published);
    std::fs::write(&path, &drifted).unwrap();
    let api = client.api().clone();
    let p = path.clone();
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        graphloom_test::assert_schema_file(&api, &p)
    }))
    .expect_err("a drifted schema must fail");
    let message = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.contains("breaking") && message.contains("FIELD_REMOVED"),
        "{message}"
    );
    assert!(message.contains("GRAPHLOOM_UPDATE_SCHEMA=1"), "{message}");
    // The file is left as it was: only the update switch rewrites it.
    assert_eq!(std::fs::read_to_string(&path).unwrap(), drifted);
}
