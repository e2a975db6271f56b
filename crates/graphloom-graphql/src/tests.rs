//! Unit tests without a database: GraphQL arguments translated into the
//! engine's filters, orders and windows, and the exact SQL they render to,
//! per dialect.

use async_graphql::Value as Gql;
use graphloom_db::Dialect;
use graphloom_meta::{
    FieldDecl, FieldOptions, KindDecl, ModelDecl, ModelKey, Operations, Registry, Value,
};
use indexmap::IndexMap;
use sea_query::{Alias, Query};

use std::sync::Arc;

use graphloom_meta::{Op, Quantifier};
use graphloom_query::{
    ErrorCode,
    filter::{Filter, FilterValue},
    plan::{PageLimits, Window},
    scope::Scope,
    sql::{Builder, apply_order, col},
};

use crate::translate::{page_args, parse_filter, parse_order};

fn system(reg: &Registry) -> Scope {
    Scope::system(Arc::new(reg.clone()))
}

fn field(name: &'static str, kind: KindDecl, options: FieldOptions) -> FieldDecl {
    FieldDecl {
        name,
        kind,
        nullable: false,
        options,
    }
}

fn model(name: &'static str, fields: Vec<FieldDecl>) -> ModelDecl {
    ModelDecl {
        app: "t",
        name,
        table: None,
        graphql_name: None,
        plural: None,
        help: None,
        fields,
        operations: Operations::default(),
        validator: None,
        graphql: true,
        rest: true,
        external: false,
        federation: Default::default(),
        keys: Vec::new(),
        unique: Vec::new(),
        primary_key: None,
    }
}

fn registry() -> Registry {
    let user = ModelKey {
        app: "t",
        name: "User",
    };
    let tag = ModelKey {
        app: "t",
        name: "Tag",
    };
    Registry::resolve(vec![
        model(
            "User",
            vec![
                field("id", KindDecl::AutoId, FieldOptions::default()),
                field(
                    "username",
                    KindDecl::String,
                    FieldOptions {
                        max_length: Some(50),
                        unique: true,
                        ..Default::default()
                    },
                ),
            ],
        ),
        model(
            "Tag",
            vec![
                field("id", KindDecl::AutoId, FieldOptions::default()),
                field("name", KindDecl::String, FieldOptions::default()),
            ],
        ),
        model(
            "Post",
            vec![
                field("id", KindDecl::AutoId, FieldOptions::default()),
                field(
                    "title",
                    KindDecl::String,
                    FieldOptions {
                        max_length: Some(200),
                        ..Default::default()
                    },
                ),
                field("rating", KindDecl::Decimal, FieldOptions::default()),
                field(
                    "author",
                    KindDecl::ForeignKey {
                        target: user,
                        one_to_one: false,
                    },
                    FieldOptions::default(),
                ),
                field(
                    "tags",
                    KindDecl::ManyToMany { target: tag },
                    FieldOptions::default(),
                ),
            ],
        ),
    ])
    .expect("test registry resolves")
}

fn gql(v: serde_json::Value) -> Gql {
    Gql::from_json(v).expect("json")
}

fn args(v: serde_json::Value) -> IndexMap<String, Gql> {
    match gql(v) {
        Gql::Object(o) => o.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        _ => IndexMap::new(),
    }
}

fn render(reg: &Registry, dialect: Dialect, model: &str, filter: &Filter) -> String {
    let m = reg.by_graphql_name(model).expect("model");
    let scope = system(reg);
    let mut b = Builder::new(reg, dialect, &scope);
    let a = b.alias();
    let mut q = Query::select();
    q.expr(col(&a, "id"))
        .from_as(Alias::new(&m.table), Alias::new(&a));
    q.and_where(b.cond(m, &a, filter));
    dialect.inline_sql(&q)
}

#[test]
fn filters_parse_into_a_tree() {
    let reg = registry();
    let post = reg.by_graphql_name("Post").unwrap();
    let f = parse_filter(&reg, post, &gql(serde_json::json!({
        "title": { "iContains": "rust", "eq": null },
        "OR": [{ "id": { "in": ["1", 2] } }, { "NOT": { "author": { "username": { "eq": "ann" } } } }],
        "tags": { "none": { "name": { "startsWith": "x" } } }
    })), "where")
    .unwrap()
    .unwrap();
    // JSON objects come in key order: OR, tags, title.
    let Filter::And(parts) = f else {
        panic!("AND of three parts: {f:?}")
    };
    assert_eq!(parts.len(), 3);
    assert!(matches!(&parts[0], Filter::Or(v) if v.len() == 2));
    assert!(matches!(
        &parts[1],
        Filter::Many {
            quantifier: Quantifier::None,
            ..
        }
    ));
    assert_eq!(
        parts[2],
        Filter::Field {
            field: 1,
            op: Op::IContains,
            value: FilterValue::One(Value::String("rust".into()))
        }
    );
}

#[test]
fn bad_filters_name_the_path() {
    let reg = registry();
    let post = reg.by_graphql_name("Post").unwrap();
    let err = parse_filter(
        &reg,
        post,
        &gql(serde_json::json!({ "AND": [{ "rating": { "gt": "x" } }] })),
        "where",
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::BadUserInput);
    assert!(
        err.message.contains("where.AND[0].rating.gt"),
        "{}",
        err.message
    );
    let err = parse_filter(
        &reg,
        post,
        &gql(serde_json::json!({ "rating": { "contains": "1" } })),
        "where",
    )
    .unwrap_err();
    assert!(err.message.contains("text fields only"));
}

#[test]
fn filter_sql_per_dialect() {
    let reg = registry();
    let post = reg.by_graphql_name("Post").unwrap();
    let f = parse_filter(
        &reg,
        post,
        &gql(serde_json::json!({
            "title": { "contains": "50%_off" },
            "rating": { "gte": "2.5" },
            "author": { "username": { "in": ["a", "b"] } },
        })),
        "where",
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        render(&reg, Dialect::SQLITE, "Post", &f),
        r#"SELECT "t0"."id" FROM "t_post" AS "t0" WHERE EXISTS(SELECT 1 FROM "t_user" AS "t1" WHERE "t1"."id" = "t0"."author_id" AND "t1"."username" IN ('a', 'b')) AND CAST("t0"."rating" AS REAL) >= CAST('2.5' AS REAL) AND "t0"."title" LIKE '%50\%\_off%' ESCAPE '\'"#
    );
    assert_eq!(
        render(&reg, Dialect::POSTGRES, "Post", &f),
        r#"SELECT "t0"."id" FROM "t_post" AS "t0" WHERE EXISTS(SELECT 1 FROM "t_user" AS "t1" WHERE "t1"."id" = "t0"."author_id" AND "t1"."username" IN ('a', 'b')) AND "t0"."rating" >= 2.5 AND "t0"."title" LIKE E'%50\\%\\_off%' ESCAPE E'\\'"#
    );
}

#[test]
fn to_many_quantifiers_render_as_exists() {
    let reg = registry();
    let post = reg.by_graphql_name("Post").unwrap();
    let every = parse_filter(
        &reg,
        post,
        &gql(serde_json::json!({ "tags": { "every": { "name": { "eq": "x" } } } })),
        "where",
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        render(&reg, Dialect::SQLITE, "Post", &every),
        r#"SELECT "t0"."id" FROM "t_post" AS "t0" WHERE NOT EXISTS(SELECT 1 FROM "t_tag" AS "t1" INNER JOIN "t_post_tags" AS "t2" ON "t2"."tag_id" = "t1"."id" WHERE "t2"."post_id" = "t0"."id" AND (NOT "t1"."name" = 'x'))"#
    );
    let user = reg.by_graphql_name("User").unwrap();
    let some = parse_filter(
        &reg,
        user,
        &gql(serde_json::json!({ "posts": { "some": { "title": { "isNull": false } } } })),
        "where",
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        render(&reg, Dialect::POSTGRES, "User", &some),
        r#"SELECT "t0"."id" FROM "t_user" AS "t0" WHERE EXISTS(SELECT 1 FROM "t_post" AS "t1" WHERE "t1"."author_id" = "t0"."id" AND "t1"."title" IS NOT NULL)"#
    );
}

#[test]
fn ordering_joins_to_one_relations_once_and_breaks_ties_by_key() {
    let reg = registry();
    let post = reg.by_graphql_name("Post").unwrap();
    let terms = parse_order(
        &reg,
        post,
        &gql(serde_json::json!([
            { "author": { "username": "DESC" } },
            { "title": "ASC" },
            { "author": { "id": "ASC" } },
        ])),
    )
    .unwrap();
    let scope = system(&reg);
    let mut b = Builder::new(&reg, Dialect::POSTGRES, &scope);
    let a = b.alias();
    let mut q = Query::select();
    q.expr(col(&a, "id"))
        .from_as(Alias::new(&post.table), Alias::new(&a));
    let order = b.order(&mut q, post, &a, &terms);
    apply_order(&mut q, &order);
    assert_eq!(
        Dialect::POSTGRES.inline_sql(&q),
        r#"SELECT "t0"."id" FROM "t_post" AS "t0" LEFT JOIN "t_user" AS "t1" ON "t1"."id" = "t0"."author_id" ORDER BY "t1"."username" DESC NULLS FIRST, "t0"."title" ASC, "t1"."id" ASC NULLS LAST, "t0"."id" ASC"#
    );
    let err = parse_order(&reg, post, &gql(serde_json::json!([{ "tags": "ASC" }]))).unwrap_err();
    assert!(err.message.contains("cannot order Post by `tags`"));
}

#[test]
fn key_lists_bind_as_one_parameter() {
    let reg = registry();
    let scope = system(&reg);
    let b = Builder::new(&reg, Dialect::SQLITE, &scope);
    let keys = [Value::I64(1), Value::I64(2)];
    let mut q = Query::select();
    q.expr(col("t0", "id"))
        .from_as(Alias::new("t_post"), Alias::new("t0"));
    q.and_where(b.keys_in(
        col("t0", "author_id"),
        &keys,
        graphloom_meta::ValueType::I64,
    ));
    let (sql, values) = graphloom_db::Statement::build(&q, Dialect::SQLITE);
    assert_eq!(
        sql,
        r#"SELECT "t0"."id" FROM "t_post" AS "t0" WHERE "t0"."author_id" IN (SELECT value FROM json_each(?))"#
    );
    assert_eq!(
        values.0,
        vec![sea_query::Value::String(Some("[1,2]".into()))]
    );
    let b = Builder::new(&reg, Dialect::POSTGRES, &scope);
    let mut q = Query::select();
    q.expr(col("t0", "id"))
        .from_as(Alias::new("t_post"), Alias::new("t0"));
    q.and_where(b.keys_in(
        col("t0", "author_id"),
        &keys,
        graphloom_meta::ValueType::I64,
    ));
    let (sql, values) = graphloom_db::Statement::build(&q, Dialect::POSTGRES);
    assert_eq!(
        sql,
        r#"SELECT "t0"."id" FROM "t_post" AS "t0" WHERE "t0"."author_id" = ANY($1)"#
    );
    assert_eq!(values.0.len(), 1);
}

#[test]
fn windows_from_pagination_arguments() {
    let reg = registry();
    let post = reg.by_graphql_name("Post").unwrap();
    let limits = PageLimits {
        max_page_size: 100,
        default_page_size: 100,
        cursor_key: b"k".to_vec(),
    };
    let cur = |o| graphloom_query::cursor::encode(b"k", "Post", o);
    let w = |v: serde_json::Value| page_args(&args(v)).and_then(|a| a.window(&limits, post));
    let win = |start, end, last| Window { start, end, last };
    assert_eq!(w(serde_json::json!({})).unwrap(), win(0, Some(100), None));
    assert_eq!(
        w(serde_json::json!({ "first": 10 })).unwrap(),
        win(0, Some(10), None)
    );
    assert_eq!(
        w(serde_json::json!({ "first": 10, "after": cur(4) })).unwrap(),
        win(5, Some(15), None)
    );
    assert_eq!(
        w(serde_json::json!({ "first": 10, "offset": 3 })).unwrap(),
        win(3, Some(13), None)
    );
    assert_eq!(
        w(serde_json::json!({ "last": 3 })).unwrap(),
        win(0, None, Some(3))
    );
    assert_eq!(
        w(serde_json::json!({ "last": 3, "before": cur(10) })).unwrap(),
        win(7, Some(10), None)
    );
    assert_eq!(
        w(serde_json::json!({ "first": 50, "after": cur(1), "before": cur(5) })).unwrap(),
        win(2, Some(5), None)
    );
    assert_eq!(
        w(serde_json::json!({ "after": cur(9), "before": cur(3) })).unwrap(),
        win(3, Some(3), None),
        "an empty window"
    );
    assert_eq!(
        w(serde_json::json!({ "first": 101 })).unwrap_err().code,
        ErrorCode::PageSizeExceeded
    );
    assert_eq!(
        w(serde_json::json!({ "first": -1 })).unwrap_err().code,
        ErrorCode::BadUserInput
    );
    assert_eq!(
        w(serde_json::json!({ "after": "garbage" }))
            .unwrap_err()
            .code,
        ErrorCode::InvalidCursor
    );
    let other = graphloom_query::cursor::encode(b"k", "User", 1);
    assert_eq!(
        w(serde_json::json!({ "after": other })).unwrap_err().code,
        ErrorCode::InvalidCursor
    );
}
