//! The fast path (queries of generated lookups and lists written straight
//! to JSON) against the resolvers: every query here runs both ways, and the
//! two responses must be the same (data, errors with their paths and codes)
//! from the same SQL statements. The resolvers put root fields and errors
//! in the order they finish; the fast path keeps the selection's order.

use graphloom::{
    graphql::{
        Config, Data,
        async_graphql::{Request, Variables},
    },
    prelude::*,
};
use graphloom_test::TestClient;
use serde_json::{Value as Json, json};

use crate::common;

/// Runs `query` on the fast path and through the resolvers, asserts both
/// answer the same with the same statements, and returns the answer.
pub(crate) async fn same(c: &TestClient, service: &Service, query: &str, vars: Json) -> Json {
    same_op(c, service, query, vars, None).await
}

async fn same_op(
    c: &TestClient,
    service: &Service,
    query: &str,
    vars: Json,
    operation: Option<&str>,
) -> Json {
    let config = Config {
        fast_path: false,
        ..c.api().runtime().config.clone()
    };
    let slow = c.with_api(service.api(c.db().clone(), config).unwrap());
    let request = || {
        let r = Request::new(query).variables(Variables::from_json(vars.clone()));
        match operation {
            Some(name) => r.operation_name(name),
            None => r,
        }
    };
    let (fast_res, mut fast_sql) = graphloom::db::capture(c.response(request())).await;
    let (slow_res, mut slow_sql) = graphloom::db::capture(slow.response(request())).await;
    assert!(
        matches!(fast_res.data, Data::Json(_)),
        "the fast path did not answer: {query}"
    );
    assert!(matches!(slow_res.data, Data::Value(_)));
    let fast = String::from_utf8(fast_res.to_json().unwrap()).unwrap();
    let slow = String::from_utf8(slow_res.to_json().unwrap()).unwrap();
    let parsed: Json = serde_json::from_str(&fast).unwrap();
    assert_eq!(
        unordered(parsed.clone()),
        unordered(serde_json::from_str(&slow).unwrap()),
        "fast path (left) and resolvers (right) differ for {query}\n{fast}\n{slow}"
    );
    // Root fields run concurrently: compare the statements as a set.
    fast_sql.sort();
    slow_sql.sort();
    assert_eq!(fast_sql, slow_sql, "statements differ for {query}");
    parsed
}

/// A response with its errors sorted (objects compare without order).
fn unordered(mut res: Json) -> Json {
    if let Some(errors) = res.get_mut("errors").and_then(Json::as_array_mut) {
        errors.sort_by_key(|e| e.to_string());
    }
    res
}

/// The fast path's response as text, for checking the order of its keys.
async fn fast_text(c: &TestClient, query: &str) -> String {
    String::from_utf8(c.response(Request::new(query)).await.to_json().unwrap()).unwrap()
}

/// The blog as a superuser, an ordinary user (drafts and others' emails
/// hidden) and anonymous.
async fn blog_clients() -> Vec<TestClient> {
    let c = common::small().await;
    vec![
        c.anonymous().as_user(graphloom_test::user(2)),
        c.anonymous(),
        c,
    ]
}

#[tokio::test]
async fn aliases_nesting_and_every_connection_part() {
    let service = blog::service();
    let q = r#"{
        a: post(id: 1) {
            id t: title title status rating metadata createdAt readingMinutes
            author { username email mail: email }
            tags { totalCount nodes { name } }
            comments(first: 2, orderBy: [{ id: DESC }]) {
                edges { cursor node { body author { username } } }
                pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
            }
        }
        b: post(id: 2) { title }
        missing: post(id: 999999) { id }
        posts(first: 5, orderBy: [{ createdAt: DESC }, { id: ASC }], where: { title: { iContains: "a" } }) {
            totalCount
            nodes { id title readingMinutes author { email posts(first: 1) { totalCount } } }
        }
        users(last: 2) { edges { cursor node { username } } pageInfo { hasPreviousPage startCursor } }
    }"#;
    for (i, c) in blog_clients().await.into_iter().enumerate() {
        let d = same(&c, &service, q, json!({})).await;
        if i == 1 {
            // Anonymous clients may not list users: the non-null root nulls `data`.
            assert_eq!(
                d["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
                "{d}"
            );
            assert_eq!(d["errors"][0]["path"], json!(["users"]));
            continue;
        }
        assert_eq!(d["data"]["missing"], Json::Null);
        assert!(d["data"]["users"]["edges"].as_array().unwrap().len() == 2);
    }
    let admin = common::small().await;
    let d = same(&admin, &service, q, json!({})).await;
    assert_eq!(d["data"]["a"]["t"], d["data"]["a"]["title"]);
    assert!(d["data"]["a"]["author"]["email"].is_string());
    assert_eq!(
        d["data"]["a"]["comments"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(d.get("errors").is_none(), "{d:#}");
    // Keys in the order of the selection (the spec's), aliases included.
    let text = fast_text(&admin, q).await;
    let at = |k: &str| text.find(&format!("\"{k}\":")).unwrap();
    assert!(at("a") < at("b") && at("b") < at("missing") && at("missing") < at("posts"));
    assert!(at("posts") < at("users") && at("id") < at("t") && at("t") < at("title"));
}

#[tokio::test]
async fn field_rules_withhold_values_the_same_way() {
    let service = blog::service();
    let c = common::small().await.as_user(graphloom_test::user(2));
    let d = same(
        &c,
        &service,
        "{ users(orderBy: [{ id: ASC }]) { nodes { id email } } me: user(id: 2) { email } }",
        json!({}),
    )
    .await;
    let emails: Vec<bool> = d["data"]["users"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["email"].is_string())
        .collect();
    assert_eq!(emails, [false, true, false, false, false], "{d:#}");
    assert!(d["data"]["me"]["email"].is_string());
    // Looking up or filtering by a withheld field is refused.
    let d = same(
        &c,
        &service,
        r#"{ userByEmail(email: "user1@example.com") { id } users(where: { email: { eq: "x" } }) { totalCount } }"#,
        json!({}),
    )
    .await;
    assert_eq!(d["data"], Json::Null);
    assert_eq!(
        graphloom_test::codes(d["errors"].as_array().unwrap()),
        ["FORBIDDEN", "FORBIDDEN"]
    );
}

#[tokio::test]
async fn fragments_and_typenames() {
    let service = blog::service();
    let q = r#"
        query Q { __typename ...Root posts(first: 3) { ...Conn edges { node { ... on Post { slug } ... { id } } } } }
        fragment Root on Query { tags(first: 2) { __typename nodes { __typename name } } }
        fragment Conn on PostConnection {
            __typename
            pageInfo { __typename hasNextPage }
            edges { __typename cursor node { id ...P } }
        }
        fragment P on Post { __typename title author { ...U } }
        fragment U on User { __typename username id }
    "#;
    for c in blog_clients().await {
        let d = same(&c, &service, q, json!({})).await;
        assert_eq!(d["data"]["__typename"], "Query");
        let edge = &d["data"]["posts"]["edges"][0];
        assert_eq!(edge["__typename"], "PostEdge");
        assert_eq!(edge["node"]["author"]["__typename"], "User");
        assert!(edge["node"]["slug"].is_string() && edge["node"]["title"].is_string());
    }
}

#[tokio::test]
async fn skip_include_variables_defaults_and_operation_names() {
    let service = blog::service();
    let q = r#"
        query One($yes: Boolean!, $no: Boolean = false, $n: Int = 2) {
            posts(first: $n) {
                nodes {
                    id
                    title @include(if: $yes)
                    body @skip(if: $yes)
                    ... @include(if: $no) { slug }
                    ...F @skip(if: $no)
                    status @skip(if: true)
                }
            }
            users(first: 1) @include(if: $no) { totalCount }
        }
        query Two { tags(first: 1) { nodes { name } } }
        fragment F on Post { rating }
    "#;
    let c = common::small().await;
    let d = same_op(&c, &service, q, json!({ "yes": true }), Some("One")).await;
    let node = &d["data"]["posts"]["nodes"][0];
    assert_eq!(d["data"]["posts"]["nodes"].as_array().unwrap().len(), 2);
    assert!(node["title"].is_string() && node["rating"].is_string());
    assert!(
        node.get("body").is_none() && node.get("slug").is_none() && node.get("status").is_none()
    );
    assert!(d["data"].get("users").is_none());
    let d = same_op(
        &c,
        &service,
        q,
        json!({ "yes": false, "no": true, "n": 1 }),
        Some("One"),
    )
    .await;
    let node = &d["data"]["posts"]["nodes"][0];
    assert!(node["body"].is_string() && node["slug"].is_string() && node.get("rating").is_none());
    assert!(d["data"]["users"]["totalCount"].is_number());
    let d = same_op(&c, &service, q, json!({}), Some("Two")).await;
    assert!(d["data"]["tags"]["nodes"][0]["name"].is_string());
}

#[tokio::test]
async fn argument_errors_leave_other_roots_standing() {
    let service = blog::service();
    let c = common::small().await;
    let d = same(
        &c,
        &service,
        r#"{
            bad: post(id: "abc") { id }
            neg: posts(first: -1) { totalCount }
            big: posts(first: 2) { nodes { comments(first: 1000) { totalCount } } }
            cursor: posts(after: "nope") { totalCount }
            ok: posts(first: 1) { totalCount }
        }"#,
        json!({}),
    )
    .await;
    assert!(d["data"]["ok"]["totalCount"].is_number());
    let errors = d["errors"].as_array().unwrap();
    assert_eq!(
        graphloom_test::codes(errors),
        [
            "BAD_USER_INPUT",
            "BAD_USER_INPUT",
            "PAGE_SIZE_EXCEEDED",
            "INVALID_CURSOR"
        ]
    );
    let paths: Vec<&Json> = errors.iter().map(|e| &e["path"]).collect();
    assert_eq!(
        paths,
        [
            &json!(["bad"]),
            &json!(["neg"]),
            &json!(["big"]),
            &json!(["cursor"])
        ]
    );
    // Every root failing leaves no data, as with the resolvers.
    let d = same(
        &c,
        &service,
        "{ posts(first: -1) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(d["data"], Json::Null);
    // Anonymous may not list groups, nested or not: log in first.
    let anon = c.anonymous();
    let d = same(
        &anon,
        &service,
        "{ groups { totalCount } users(first: 1) { nodes { groups { totalCount } } } tags(first: 1) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(
        graphloom_test::codes(d["errors"].as_array().unwrap()),
        ["UNAUTHENTICATED", "UNAUTHENTICATED"]
    );
    assert!(d["data"]["tags"]["totalCount"].is_number());
}

#[tokio::test]
async fn every_value_kind_is_written_alike() {
    let service = crate::kinds::service();
    let c = crate::kinds::client().await;
    let mut input = crate::kinds::full_input();
    crate::kinds::create_kind(&c, input.clone()).await;
    input["real"] = json!(-0.000125);
    input["big"] = json!("-9223372036854775808");
    input["data"] = json!({ "z": { "deep": [1.25, true, "\"quoted\"\n"] }, "a": null });
    input["short"] = json!("é\u{1F600}<\\/>");
    crate::kinds::create_kind(&c, input).await;
    let q = format!(
        "{{ kinds {{ nodes {{ {} owner {{ handle }} }} }} kind(id: 2) {{ big data short }} }}",
        crate::kinds::KIND_FIELDS
    );
    let d = same(&c, &service, &q, json!({})).await;
    assert_eq!(d["data"]["kind"]["big"], "-9223372036854775808");
    assert_eq!(d["data"]["kind"]["short"], "é\u{1F600}<\\/>");
}

/// A vault is visible only when public; a note always, though its
/// (required) vault may be hidden; `shout` fails on an empty note.
#[derive(Model)]
#[model(app = "fp")]
pub struct Vault {
    pub id: Id,
    #[field(max_length = 20)]
    pub name: String,
    pub public: bool,
}

#[derive(Model)]
#[model(app = "fp")]
pub struct Note {
    pub id: Id,
    #[field(on_delete = cascade)]
    pub vault: ForeignKey<Vault>,
    pub text: String,
}

fn vault_service() -> Service {
    Service::new("fp").app(
        App::new("fp")
            .model::<Vault>()
            .model::<Note>()
            .permissions::<Vault>(ModelRules::new().rows(Rule::Equals("public", Value::Bool(true))))
            .computed(ComputedField::new::<Note, String, _, _>(
                "shout",
                &["text"],
                |_ctx, row: Row| async move {
                    match row.str("text") {
                        "" => Err(Error::bad_input("nothing to shout")),
                        t => Ok(t.to_uppercase()),
                    }
                },
            )),
    )
}

#[tokio::test]
async fn errors_deep_in_the_tree_carry_their_paths() {
    let service = vault_service();
    let c = TestClient::new(&service).await;
    for sql in [
        "INSERT INTO fp_vault (id, name, public) VALUES (1, 'open', TRUE), (2, 'shut', FALSE)",
        "INSERT INTO fp_note (id, vault_id, text) VALUES (1, 1, 'hi'), (2, 2, 'psst'), (3, 1, '')",
    ] {
        c.db()
            .execute(&graphloom::db::RawSql(sql.into()))
            .await
            .unwrap();
    }
    let d = same(
        &c,
        &service,
        "{ notes(orderBy: [{ id: ASC }]) { nodes { id shout vault { name } } } note(id: 3) { shout } }",
        json!({}),
    )
    .await;
    let nodes = &d["data"]["notes"]["nodes"];
    assert_eq!(
        nodes[0],
        json!({ "id": "1", "shout": "HI", "vault": { "name": "open" } })
    );
    // The hidden vault of note 2 and the failing `shout` of note 3 are left
    // out of their objects, each with an error at its path.
    assert!(nodes[1].get("vault").is_none() && nodes[2].get("shout").is_none());
    let paths: Vec<&Json> = d["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["path"])
        .collect();
    assert!(
        paths.contains(&&json!(["notes", "nodes", 1, "vault"])),
        "{d:#}"
    );
    assert!(
        paths.contains(&&json!(["notes", "nodes", 2, "shout"])),
        "{d:#}"
    );
    assert!(paths.contains(&&json!(["note", "shout"])), "{d:#}");
    // An object whose every field failed is null.
    let d = same(
        &c,
        &service,
        "{ note(id: 3) { shout } notes(first: 1) { totalCount } }",
        json!({}),
    )
    .await;
    assert_eq!(d["data"]["note"], Json::Null);
}

#[tokio::test]
async fn other_operations_go_through_the_resolvers() {
    let c = common::small().await;
    for q in [
        r#"{ searchPosts(term: "a") { id } posts(first: 1) { totalCount } }"#,
        "{ __schema { queryType { name } } }",
        "{ _service { sdl } }",
        r#"mutation { createTag(input: { name: "new" }) { tag { id } } publishPosts(ids: ["1"]) { id } }"#,
    ] {
        let res = c.response(Request::new(q)).await;
        assert!(matches!(res.data, Data::Value(_)), "{q}");
        assert!(res.errors.is_empty(), "{q}: {:?}", res.errors);
    }
}

/// Parsed documents are kept by query text: the same text with other
/// variables answers for those variables, a broken text stays an error, and
/// an operation name picks its operation each time.
#[tokio::test]
async fn parsed_documents_are_reused_per_text_only() {
    let c = common::small().await;
    let q = "query($id: ID!) { post(id: $id) { id } }";
    for id in ["1", "2", "1"] {
        let d = c.query_vars(q, json!({ "id": id })).await;
        assert_eq!(d["post"]["id"], id);
    }
    for _ in 0..2 {
        let errors = c.errors("{ post(id: ").await;
        assert!(!errors.is_empty());
    }
    let two = "query A { a: post(id: \"1\") { id } } query B { b: post(id: \"2\") { id } }";
    for (name, key) in [("A", "a"), ("B", "b"), ("A", "a")] {
        let res = c.response(Request::new(two).operation_name(name)).await;
        let res = serde_json::to_value(&res).unwrap();
        assert!(res["data"][key].is_object(), "{name}: {res}");
        assert!(res["data"].as_object().unwrap().len() == 1, "{name}: {res}");
    }
}

/// Who a test client is (of a freshly seeded blog).
type Who = fn(TestClient) -> TestClient;

/// Runs the mutation `query` on the fast path and through the resolvers,
/// each on a database of its own seeded alike (as `who`), and asserts both
/// answer the same (times aside) with the same statements in the same
/// order; returns the fast path's answer.
async fn same_write(who: Who, query: &str, vars: Json) -> Json {
    let service = blog::service();
    let fast = who(common::small().await);
    let base = who(common::small().await);
    let config = Config {
        fast_path: false,
        ..base.api().runtime().config.clone()
    };
    let slow = base.with_api(service.api(base.db().clone(), config).unwrap());
    let request = || Request::new(query).variables(Variables::from_json(vars.clone()));
    let (fast_res, fast_sql) = graphloom::db::capture(fast.response(request())).await;
    let (slow_res, slow_sql) = graphloom::db::capture(slow.response(request())).await;
    assert!(
        matches!(fast_res.data, Data::Json(_)),
        "the fast path did not answer: {query}"
    );
    assert!(matches!(slow_res.data, Data::Value(_)));
    let fast: Json = serde_json::from_slice(&fast_res.to_json().unwrap()).unwrap();
    let slow: Json = serde_json::from_slice(&slow_res.to_json().unwrap()).unwrap();
    assert_eq!(
        timeless(fast.clone()),
        timeless(slow.clone()),
        "fast path (left) and resolvers (right) differ for {query}\n{fast}\n{slow}"
    );
    // Mutations run one after the other: the same statements in order.
    assert_eq!(fast_sql, slow_sql, "statements differ for {query}");
    fast
}

/// A response with its timestamps (`createdAt`, `updatedAt`: the clock's)
/// left out.
fn timeless(v: Json) -> Json {
    match v {
        Json::Object(map) => map
            .into_iter()
            .filter(|(k, _)| !k.ends_with("At"))
            .map(|(k, v)| (k, timeless(v)))
            .collect(),
        Json::Array(items) => items.into_iter().map(timeless).collect(),
        other => other,
    }
}

fn admin(c: TestClient) -> TestClient {
    c
}

fn user2(c: TestClient) -> TestClient {
    c.anonymous().as_user(graphloom_test::user(2))
}

fn anonymous(c: TestClient) -> TestClient {
    c.anonymous()
}

#[tokio::test]
async fn mutations_aliases_fragments_typenames_and_directives() {
    let q = r#"
        mutation Write($body: String!, $skip: Boolean!) {
            __typename
            first: createComment(input: { postId: "1", body: $body }) {
                __typename
                comment { id body createdAt post { id title readingMinutes } author { username } ...C }
                errors { __typename field message code }
            }
            second: createComment(input: { postId: "2", body: "two" }) {
                comment @skip(if: $skip) { id }
                c: comment { id body }
                ... on CreateCommentPayload { again: comment { body @include(if: $skip) } }
            }
            gone: deleteComment(id: "1") { __typename deletedId errors { code } }
        }
        fragment C on Comment { __typename id post { ...P } }
        fragment P on Post { __typename slug }
    "#;
    for (who, may_delete) in [(admin as Who, true), (user2, false)] {
        let d = same_write(who, q, json!({ "body": "one", "skip": true })).await;
        let data = &d["data"];
        assert_eq!(data["__typename"], "Mutation", "{d:#}");
        let first = &data["first"];
        assert_eq!(first["__typename"], "CreateCommentPayload");
        assert_eq!(first["errors"], json!([]));
        assert_eq!(first["comment"]["body"], "one");
        assert_eq!(first["comment"]["__typename"], "Comment");
        assert!(first["comment"]["createdAt"].is_string());
        assert!(first["comment"]["post"]["readingMinutes"].is_number());
        assert!(first["comment"]["post"]["slug"].is_string());
        assert!(data["second"].get("comment").is_none());
        assert_eq!(data["second"]["c"]["body"], "two");
        assert_eq!(data["second"]["again"]["body"], "two");
        if may_delete {
            assert_eq!(data["gone"]["__typename"], "DeleteCommentPayload", "{d:#}");
        } else {
            // Not theirs: the root fails alone, at its path.
            assert!(data.get("gone").is_none(), "{d:#}");
            assert_eq!(d["errors"][0]["path"], json!(["gone"]));
            assert_eq!(d["errors"][0]["extensions"]["code"], "FORBIDDEN");
        }
    }
    // An admin may delete any comment; user 2 only their own.
    let d = same_write(admin, q, json!({ "body": "one", "skip": false })).await;
    assert_eq!(
        d["data"]["gone"],
        json!({ "__typename": "DeleteCommentPayload", "deletedId": "1", "errors": [] })
    );
    assert!(d["data"]["second"]["comment"]["id"].is_string());
    // Keys in the order of the selection.
    let text = fast_text(
        &common::small().await,
        r#"mutation { z: createTag(input: { name: "z" }) { tag { name id } } __typename a: deleteTag(id: "1") { deletedId } }"#,
    )
    .await;
    let at = |k: &str| text.find(&format!("\"{k}\":")).unwrap();
    assert!(
        at("z") < at("name") && at("name") < at("id") && at("id") < at("__typename"),
        "{text}"
    );
    assert!(at("__typename") < at("a"), "{text}");
}

#[tokio::test]
async fn mutations_run_in_order_and_each_payload_shows_its_own_write() {
    let q = r#"mutation {
        a: updatePost(id: "1", input: { title: "A" }) { post { title readingMinutes } }
        b: updatePost(id: "1", input: { title: "B", body: "one two" }) { post { title readingMinutes } }
        c: post: deletePost(id: "1") { deletedId }
    }"#;
    let d = same_write(admin, &q.replace("c: post: ", "c: "), json!({})).await;
    assert_eq!(d["data"]["a"]["post"]["title"], "A", "{d:#}");
    assert_eq!(
        d["data"]["b"]["post"],
        json!({ "title": "B", "readingMinutes": 1 })
    );
    assert_eq!(d["data"]["c"]["deletedId"], "1");
}

#[tokio::test]
async fn refused_inputs_and_failed_mutations_keep_their_errors_and_paths() {
    let q = r#"mutation {
        missing: createComment(input: { postId: "999999", body: "x" }) { comment { id } errors { field message code } }
        badKey: updatePost(id: "abc", input: { title: "x" }) { post { id } errors { field code } }
        noRow: deleteTag(id: "99") { deletedId errors { field code } }
        long: createTag(input: { name: "0123456789012345678901234567890123456789012345678901" }) { tag { id } errors { field code } }
        big: createComment(input: { postId: "1", body: "big" }) {
            comment { id post { comments(first: 100000) { totalCount } } }
            errors { code }
        }
        ok: createTag(input: { name: "fine" }) { tag { name } }
        dup: createTag(input: { name: "fine" }) { tag { name } errors { field code message } }
    }"#;
    let clients: [(Who, &str); 3] = [(admin, "admin"), (user2, "user2"), (anonymous, "anonymous")];
    for (who, name) in clients {
        let d = same_write(who, q, json!({})).await;
        let data = &d["data"];
        if name == "anonymous" {
            // Anonymous may not write: each root that would fails alone,
            // at its path; an unparsable key and a row they cannot see are
            // refused as for anyone.
            let errors = d["errors"].as_array().unwrap();
            assert_eq!(errors.len(), 5, "{d:#}");
            assert_eq!(errors[0]["path"], json!(["missing"]));
            assert_eq!(errors[0]["extensions"]["code"], "UNAUTHENTICATED");
            assert_eq!(data["badKey"]["errors"][0]["code"], "INVALID");
            assert_eq!(data["noRow"]["errors"][0]["code"], "NOT_FOUND");
            continue;
        }
        assert_eq!(data["missing"]["comment"], Json::Null, "{d:#}");
        assert_eq!(data["missing"]["errors"][0]["field"], json!(["postId"]));
        assert_eq!(data["badKey"]["errors"][0]["code"], "INVALID");
        assert_eq!(data["noRow"]["deletedId"], Json::Null);
        assert!(!data["noRow"]["errors"].as_array().unwrap().is_empty());
        // The payload could not be planned: the write stands, the field fails.
        let big = d["errors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["path"][0] == "big")
            .unwrap_or_else(|| panic!("{d:#}"));
        assert_eq!(big["extensions"]["code"], "PAGE_SIZE_EXCEEDED");
        assert_eq!(big["path"], json!(["big", "comment"]));
        assert_eq!(data["big"]["errors"], json!([]));
        if name == "user2" {
            // Only staff may create tags.
            assert!(data.get("ok").is_none(), "{d:#}");
            continue;
        }
        assert_eq!(data["long"]["errors"][0]["field"], json!(["name"]), "{d:#}");
        assert_eq!(data["long"]["tag"], Json::Null);
        // Refused by the database's constraint, after `ok` wrote the name.
        assert_eq!(data["dup"]["errors"][0]["code"], "UNIQUE", "{d:#}");
        assert_eq!(data["ok"]["tag"]["name"], "fine");
    }
}

/// A document seen before runs without async-graphql's pipeline (parsed
/// and validated once): each request of a known document, named or not,
/// answers as the first did and as the resolvers do, and one the pipeline
/// would refuse (a name that is not the operation's, variables that do not
/// fit, an operation over budget) is refused alike every time.
#[tokio::test]
async fn known_documents_answer_alike_every_time() {
    let service = blog::service();
    let c = common::small().await;
    let named = "query Posts($n: Int!, $skip: Boolean = false) { posts(first: $n) { nodes { id title @skip(if: $skip) } } }";
    for round in 0..3 {
        for (vars, operation) in [
            (json!({ "n": 2 }), Some("Posts")),
            (json!({ "n": 1, "skip": true }), None),
        ] {
            let d = same_op(&c, &service, named, vars, operation).await;
            assert_eq!(
                d["data"]["posts"]["nodes"].as_array().unwrap().len() as i64,
                if operation.is_some() { 2 } else { 1 },
                "{round}: {d}"
            );
        }
        let res = c
            .response(
                Request::new(named)
                    .operation_name("Other")
                    .variables(Variables::from_json(json!({ "n": 1 }))),
            )
            .await;
        assert_eq!(res.errors.len(), 1, "{round}");
        assert!(
            res.errors[0].message.contains("Unknown operation named"),
            "{round}: {:?}",
            res.errors
        );
        let errors = c.execute(named, json!({ "n": "two" })).await;
        assert_eq!(
            errors["errors"][0]["extensions"]["code"], "GRAPHQL_VALIDATION_FAILED",
            "{round}: {errors}"
        );
        let over = c.execute(named, json!({ "n": 100_000 })).await;
        assert_eq!(
            over["errors"][0]["extensions"]["code"], "COST_LIMIT_EXCEEDED",
            "{round}: {over}"
        );
    }
    // A write by a known document: each request writes once.
    let count = r#"{ tags(where: { name: { startsWith: "t" } }) { totalCount } }"#;
    let before = c.query(count).await["tags"]["totalCount"].as_i64().unwrap();
    let write = r#"mutation Tag($name: String!) { createTag(input: { name: $name }) { tag { name } errors { code } } }"#;
    for name in ["t1", "t2", "t3"] {
        let d = c.execute(write, json!({ "name": name })).await;
        assert_eq!(d["data"]["createTag"]["tag"]["name"], name, "{d}");
    }
    let d = c.query(count).await;
    assert_eq!(d["tags"]["totalCount"], before + 3);
}

/// `_entities` for this service's models runs on the fast path: each
/// item written with the fragments for its type, a missing, hidden or
/// unreadable one `null` with one error at its index, as the resolvers do;
/// one that names a type this service does not own goes to the resolvers.
#[tokio::test]
async fn entities_answer_alike() {
    let service = blog::service();
    let q = r#"query($r: [_Any!]!) {
        __typename
        found: _entities(representations: $r) {
            __typename
            ... on Post { id title readingMinutes author { username } comments(first: 2) { totalCount nodes { body } } ...P }
            ... on User { id username email }
            ... on Tag { name }
        }
    }
    fragment P on Post { slug t: title }"#;
    let reps = json!({ "r": [
        { "__typename": "Post", "id": "1" },
        { "__typename": "User", "id": "2" },
        { "__typename": "Post", "id": "999" },
        { "__typename": "Post", "id": "5" },
        { "id": "1" },
        { "__typename": "Post", "id": "x" },
        { "__typename": "Tag", "id": "1" },
        { "__typename": "User", "id": "1" },
        { "__typename": "Post", "id": "1" },
    ] });
    for c in blog_clients().await {
        let d = same(&c, &service, q, reps.clone()).await;
        let items = d["data"]["found"].as_array().unwrap();
        assert_eq!(items.len(), 9, "{d:#}");
        assert_eq!(items[0]["__typename"], "Post");
        assert_eq!(items[0]["t"], items[0]["title"]);
        assert!(items[0]["readingMinutes"].is_number(), "{d:#}");
        assert_eq!(items[0], items[8]);
        assert_eq!(items[1]["username"], "user2");
        assert!(items[6]["name"].is_string(), "{d:#}");
        assert!(items[6].get("title").is_none());
        for missed in [2, 4, 5] {
            assert_eq!(items[missed], Json::Null, "{d:#}");
        }
        let at: Vec<&Json> = d["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["path"][1])
            .collect();
        assert!(
            at.contains(&&json!(2)) && at.contains(&&json!(4)) && at.contains(&&json!(5)),
            "{d:#}"
        );
    }
    // A type this service does not have: the resolvers answer (other
    // services' entities: the federation example's
    // `other_services_entities_answer_alike_on_both_paths`).
    let c = common::small().await;
    for rep in [json!({ "__typename": "Nope", "id": "1" })] {
        let res = c
            .response(Request::new(q).variables(Variables::from_json(json!({ "r": [rep] }))))
            .await;
        assert!(matches!(res.data, Data::Value(_)), "{rep}");
    }
}

/// One value where a list is expected is a list of one (the spec's input
/// coercion), on both paths: a many-to-many `set` of one id (it was
/// ignored), one `_entities` representation (it was an error).
#[tokio::test]
async fn one_value_where_a_list_is_expected_is_a_list_of_one() {
    let d = same_write(
        admin,
        r#"mutation { updatePost(id: "1", input: { tags: { set: "3" } }) { post { tags { nodes { id } } } errors { code } } }"#,
        json!({}),
    )
    .await;
    assert_eq!(
        d["data"]["updatePost"]["post"]["tags"]["nodes"],
        json!([{ "id": "3" }]),
        "{d:#}"
    );
    let service = blog::service();
    let c = common::small().await;
    let q = r#"query($r: [_Any!]!) { _entities(representations: $r) { ... on Post { id } } }"#;
    // The first through async-graphql's pipeline, then as a known document.
    for _ in 0..2 {
        let d = same(
            &c,
            &service,
            q,
            json!({ "r": { "__typename": "Post", "id": "1" } }),
        )
        .await;
        assert_eq!(d["data"]["_entities"], json!([{ "id": "1" }]), "{d:#}");
    }
}
