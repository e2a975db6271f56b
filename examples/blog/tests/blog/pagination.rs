use graphloom_test::{TestClient, codes};
use serde_json::{Value, json};

use crate::common::small;

const PAGE: &str = r#"query($first: Int, $after: String, $last: Int, $before: String, $offset: Int) {
    posts(first: $first, after: $after, last: $last, before: $before, offset: $offset, orderBy: [{ title: ASC }]) {
        totalCount
        edges { cursor node { id } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
}"#;

async fn page(c: &TestClient, vars: Value) -> Value {
    c.query_vars(PAGE, vars).await["posts"].clone()
}

fn ids(p: &Value) -> Vec<String> {
    p["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn forward_walk_covers_every_row_once() {
    let c = small().await;
    let all = ids(&page(&c, json!({ "first": 100 })).await);
    assert_eq!(all.len(), 20);
    let mut seen = Vec::new();
    let mut after = Value::Null;
    let mut pages = 0;
    loop {
        let p = page(&c, json!({ "first": 6, "after": after })).await;
        assert_eq!(p["totalCount"], 20);
        seen.extend(ids(&p));
        pages += 1;
        assert_eq!(p["pageInfo"]["hasPreviousPage"], pages > 1);
        if p["pageInfo"]["hasNextPage"] == false {
            break;
        }
        after = p["pageInfo"]["endCursor"].clone();
    }
    assert_eq!(pages, 4);
    assert_eq!(seen, all);
}

#[tokio::test]
async fn backward_walk_and_offset() {
    let c = small().await;
    let all = ids(&page(&c, json!({ "first": 100 })).await);
    let last = page(&c, json!({ "last": 3 })).await;
    assert_eq!(ids(&last), all[17..]);
    assert_eq!(last["pageInfo"]["hasPreviousPage"], true);
    assert_eq!(last["pageInfo"]["hasNextPage"], false);
    let before = page(
        &c,
        json!({ "last": 3, "before": last["pageInfo"]["startCursor"] }),
    )
    .await;
    assert_eq!(ids(&before), all[14..17]);
    assert_eq!(before["pageInfo"]["hasNextPage"], true);
    let off = page(&c, json!({ "first": 2, "offset": 5 })).await;
    assert_eq!(ids(&off), all[5..7]);
    let beyond = page(&c, json!({ "first": 5, "offset": 100 })).await;
    assert_eq!(ids(&beyond), Vec::<String>::new());
    assert_eq!(beyond["pageInfo"]["hasNextPage"], false);
    let between = page(&c, json!({ "after": page(&c, json!({ "first": 2 })).await["pageInfo"]["endCursor"], "before": last["pageInfo"]["startCursor"], "first": 100 })).await;
    assert_eq!(ids(&between), all[2..17]);
}

/// `last` reads a page near the end backwards from the end (no OFFSET
/// over the rows before it), in every order, nulls and ties included, and
/// its cursors carry on as a forward page's would.
#[tokio::test]
async fn last_pages_read_from_the_end_in_every_order() {
    let c = small().await;
    let query = |order: &str| {
        format!(
            r#"query($first: Int, $last: Int, $before: String) {{
                posts(first: $first, last: $last, before: $before, orderBy: [{order}]) {{
                    edges {{ cursor node {{ id }} }}
                    pageInfo {{ hasNextPage hasPreviousPage startCursor }}
                }} }}"#
        )
    };
    for order in [
        "{ title: ASC }",
        "{ rating: DESC }",
        "{ rating: ASC }",
        "{ author: { username: DESC } }",
        "{ status: ASC }, { createdAt: DESC }",
    ] {
        let q = query(order);
        let forward = c.query_vars(&q, json!({ "first": 100 })).await;
        let all = ids(&forward["posts"]);
        assert_eq!(all.len(), 20);
        // After a cursor, with `offset` too: the last rows of what follows.
        let after_q = q
            .replace("$before: String", "$after: String, $offset: Int")
            .replace("before: $before", "after: $after, offset: $offset");
        for (after, offset, n) in [(0, 0, 3), (4, 0, 30), (15, 0, 2), (2, 5, 4), (17, 0, 5)] {
            let cursor = &forward["posts"]["edges"][after]["cursor"];
            let p = c
                .query_vars(
                    &after_q,
                    json!({ "after": cursor, "offset": offset, "last": n }),
                )
                .await;
            let from = Ord::max(after + 1 + offset, all.len().saturating_sub(n));
            assert_eq!(
                ids(&p["posts"]),
                all[from..],
                "{order} after {after} offset {offset} last {n}"
            );
        }
        for n in [1_usize, 3, 7, 20, 25] {
            let (d, statements) =
                graphloom_test::capture(c.query_vars(&q, json!({ "last": n }))).await;
            let p = &d["posts"];
            let tail = all.len().saturating_sub(n);
            assert_eq!(ids(p), all[tail..], "{order} last {n}");
            assert_eq!(
                p["pageInfo"]["hasPreviousPage"],
                tail > 0,
                "{order} last {n}"
            );
            assert_eq!(p["pageInfo"]["hasNextPage"], false);
            let rows = statements
                .iter()
                .find(|s| !s.contains("COUNT(*)"))
                .expect("the rows' statement");
            assert!(!rows.contains("OFFSET"), "{order} last {n}: {rows}");
            // The page before it, by its first cursor.
            if tail > 0 {
                let before = c
                    .query_vars(
                        &q,
                        json!({ "last": 3, "before": p["pageInfo"]["startCursor"] }),
                    )
                    .await;
                assert_eq!(
                    ids(&before["posts"]),
                    all[tail.saturating_sub(3)..tail],
                    "{order} last 3 before {n}"
                );
            }
        }
    }
}

#[tokio::test]
async fn nested_lists_paginate_per_parent() {
    let c = small().await;
    let d = c
        .query(r#"{ posts(first: 100) { nodes { id
            first: comments(first: 2) { totalCount pageInfo { hasNextPage } nodes { id } edges { cursor } }
            all: comments(first: 100) { nodes { id } }
            last: comments(last: 1) { pageInfo { hasPreviousPage } nodes { id } }
        } } }"#)
        .await;
    for p in d["posts"]["nodes"].as_array().unwrap() {
        let all: Vec<&Value> = p["all"]["nodes"].as_array().unwrap().iter().collect();
        let first: Vec<&Value> = p["first"]["nodes"].as_array().unwrap().iter().collect();
        assert_eq!(first, all.iter().take(2).copied().collect::<Vec<_>>());
        assert_eq!(p["first"]["totalCount"], all.len());
        assert_eq!(p["first"]["pageInfo"]["hasNextPage"], all.len() > 2);
        let last: Vec<&Value> = p["last"]["nodes"].as_array().unwrap().iter().collect();
        assert_eq!(last, all.iter().rev().take(1).copied().collect::<Vec<_>>());
        assert_eq!(p["last"]["pageInfo"]["hasPreviousPage"], all.len() > 1);
    }
    // A nested cursor continues that parent's list.
    let p = &d["posts"]["nodes"][0];
    if p["first"]["pageInfo"]["hasNextPage"] == true {
        let cursor = p["first"]["edges"][1]["cursor"].clone();
        let next = c
            .query_vars(r#"query($a: String) { post(id: "1") { comments(first: 1, after: $a) { nodes { id } } } }"#, json!({ "a": cursor }))
            .await;
        assert_eq!(next["post"]["comments"]["nodes"][0], p["all"]["nodes"][2]);
    }
}

/// A parent's page of children walks the index of the children's reference
/// to it, which ends with their key (the page's default order): the page
/// reads its own rows, not every child of a busy parent sorted.
#[tokio::test]
async fn a_busy_parents_page_walks_the_references_index() {
    use graphloom::{
        db::{Dialect, RawSql},
        meta::{Value as V, ValueType},
    };
    let c = small().await;
    let db = c.db();
    // 2,000 more comments on each of posts 1 to 4.
    db.execute(&RawSql(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) \
         INSERT INTO blog_comment (post_id, author_id, body, created_at) \
         SELECT p.id, 1, 'more', CURRENT_TIMESTAMP FROM n, blog_post AS p WHERE p.id <= 4"
            .into(),
    ))
    .await
    .unwrap();
    db.execute(&RawSql("ANALYZE".into())).await.unwrap();
    // The statement shape the engine sends per dialect (see
    // `fetch_many`): a LATERAL LIMIT per key, or the keys' LIMITed pks.
    let (sql, types) = if db.dialect() == Dialect::POSTGRES {
        (
            "EXPLAIN SELECT p.* FROM unnest(ARRAY[1, 2, 3, 4]::bigint[]) AS k(id) \
             CROSS JOIN LATERAL (SELECT c.id, c.body FROM blog_comment AS c \
             WHERE c.post_id = k.id ORDER BY c.id LIMIT 11) AS p",
            vec![ValueType::String],
        )
    } else {
        (
            "EXPLAIN QUERY PLAN SELECT c.id FROM blog_comment AS c \
             WHERE c.post_id = 1 ORDER BY c.id LIMIT 11",
            vec![
                ValueType::I64,
                ValueType::I64,
                ValueType::I64,
                ValueType::String,
            ],
        )
    };
    let plan: Vec<String> = db
        .fetch(&RawSql(sql.into()), &types)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|row| match row.into_iter().last() {
            Some(V::String(s)) => Some(s),
            _ => None,
        })
        .collect();
    let plan = plan.join("\n");
    assert!(plan.contains("blog_comment_post_id_id_idx"), "{plan}");
    assert!(
        !plan.contains("Sort") && !plan.contains("TEMP B-TREE"),
        "{plan}"
    );
    // And the page is the post's first comments in key order.
    let d = c
        .query(r#"{ post(id: "1") { comments(first: 3) { totalCount nodes { id } } } }"#)
        .await;
    let ids: Vec<i64> = d["post"]["comments"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    assert!(d["post"]["comments"]["totalCount"].as_i64().unwrap() >= 2000);
}

/// A nested `last` page reads each parent's rows backwards from the end,
/// beside each parent's count (no ranking of every child): the same rows,
/// flags and cursors as the ranked form gave, in every order.
#[tokio::test]
async fn nested_last_pages_read_from_the_end() {
    let c = small().await;
    for order in [
        "{ id: ASC }",
        "{ body: DESC }",
        "{ author: { username: ASC } }",
    ] {
        for n in [1_usize, 2, 5] {
            let q = format!(
                r#"{{ posts(first: 20) {{ nodes {{ id
                    all: comments(first: 100, orderBy: [{order}]) {{ nodes {{ id }} }}
                    last: comments(last: {n}, orderBy: [{order}]) {{
                        nodes {{ id }} pageInfo {{ hasPreviousPage hasNextPage startCursor }} }}
                }} }} }}"#
            );
            let (d, statements) = graphloom_test::capture(c.query(&q)).await;
            let page = statements
                .iter()
                .find(|s| s.contains("__cnt"))
                .expect("the last page's statement");
            assert!(page.contains("LIMIT"), "{page}");
            assert!(!page.contains("COUNT(*) OVER"), "{page}");
            let mut checked = 0;
            for p in d["posts"]["nodes"].as_array().unwrap() {
                let all: Vec<&Value> = p["all"]["nodes"].as_array().unwrap().iter().collect();
                let last: Vec<&Value> = p["last"]["nodes"].as_array().unwrap().iter().collect();
                let tail = all.len().saturating_sub(n);
                assert_eq!(last, all[tail..], "{order} last {n}");
                let info = &p["last"]["pageInfo"];
                assert_eq!(info["hasPreviousPage"], tail > 0, "{order} last {n}");
                assert_eq!(info["hasNextPage"], false);
                // Its first cursor continues backwards in that post's list.
                if tail > 0 {
                    let before = c
                        .query_vars(
                            &format!(
                                r#"query($id: ID!, $b: String) {{ post(id: $id) {{
                                    comments(last: 100, before: $b, orderBy: [{order}]) {{ nodes {{ id }} }} }} }}"#
                            ),
                            json!({ "id": p["id"], "b": info["startCursor"] }),
                        )
                        .await;
                    let earlier: Vec<&Value> = before["post"]["comments"]["nodes"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .collect();
                    assert_eq!(earlier, all[..tail], "{order} before last {n}");
                    checked += 1;
                }
            }
            assert!(checked > 0, "some post has more than {n} comments");
        }
    }
    // After a cursor: the last rows of what follows it.
    let d = c
        .query(r#"{ posts(first: 20) { nodes { id comments(first: 100) { edges { cursor node { id } } } } } }"#)
        .await;
    let mut checked = 0;
    for p in d["posts"]["nodes"].as_array().unwrap() {
        let edges = p["comments"]["edges"].as_array().unwrap();
        if edges.len() < 4 {
            continue;
        }
        let all: Vec<&Value> = edges.iter().map(|e| &e["node"]).collect();
        for (after, n) in [
            (0, 2),
            (0, 100),
            (edges.len() - 2, 10),
            (edges.len() - 1, 3),
        ] {
            let page = c
                .query_vars(
                    r#"query($id: ID!, $a: String, $n: Int) { post(id: $id) {
                        comments(after: $a, last: $n) { nodes { id } pageInfo { hasPreviousPage } } } }"#,
                    json!({ "id": p["id"], "a": edges[after]["cursor"], "n": n }),
                )
                .await;
            let got: Vec<&Value> = page["post"]["comments"]["nodes"]
                .as_array()
                .unwrap()
                .iter()
                .collect();
            let from = Ord::max(after + 1, all.len().saturating_sub(n));
            assert_eq!(got, all[from..], "after {after}, last {n}");
            assert_eq!(
                page["post"]["comments"]["pageInfo"]["hasPreviousPage"],
                from > 0
            );
        }
        checked += 1;
    }
    assert!(checked > 0);
    // Through a join table too (a post's tags, a tag's posts).
    let d = c
        .query(
            r#"{ posts(first: 20) { nodes {
                all: tags(first: 100) { nodes { id } } last: tags(last: 1) { nodes { id } } } }
              tags { nodes {
                all: posts(first: 100) { nodes { id } } last: posts(last: 2) { nodes { id } } } } }"#,
        )
        .await;
    let mut seen = 0;
    for (list, n) in [("posts", 1), ("tags", 2)] {
        for p in d[list]["nodes"].as_array().unwrap() {
            let all = p["all"]["nodes"].as_array().unwrap();
            let last = p["last"]["nodes"].as_array().unwrap();
            assert_eq!(last[..], all[all.len().saturating_sub(n)..], "{list}");
            seen += usize::from(!last.is_empty());
        }
    }
    assert!(seen > 0);
    // Counted under the reader's rules: a user sees published posts and
    // their own drafts, and the offsets and flags say so.
    let reader = c.as_user(graphloom_test::user(2));
    let d = reader
        .query(
            r#"{ users { nodes {
                all: posts(first: 100) { nodes { id } }
                last: posts(last: 2) { nodes { id } pageInfo { hasPreviousPage } edges { cursor } } } } }"#,
        )
        .await;
    for u in d["users"]["nodes"].as_array().unwrap() {
        let all = u["all"]["nodes"].as_array().unwrap();
        let last = u["last"]["nodes"].as_array().unwrap();
        assert_eq!(last[..], all[all.len().saturating_sub(2)..]);
        assert_eq!(u["last"]["pageInfo"]["hasPreviousPage"], all.len() > 2);
    }
    let everything = c.query(r#"{ posts { totalCount } }"#).await;
    let seen = reader.query(r#"{ posts { totalCount } }"#).await;
    assert!(
        seen["posts"]["totalCount"].as_i64() < everything["posts"]["totalCount"].as_i64(),
        "the reader must see fewer posts than a superuser for this to test the rules"
    );
}

#[tokio::test]
async fn cursors_are_tamper_checked() {
    let c = small().await;
    let p = page(&c, json!({ "first": 1 })).await;
    let cursor = p["pageInfo"]["endCursor"].as_str().unwrap().to_owned();
    let mut forged = cursor.clone().into_bytes();
    forged[3] = if forged[3] == b'A' { b'B' } else { b'A' };
    for bad in [
        String::from_utf8(forged).unwrap(),
        "bm90LWEtY3Vyc29y".into(),
        "!!".into(),
    ] {
        let errors = c
            .errors_vars(PAGE, json!({ "first": 1, "after": bad }))
            .await;
        assert_eq!(codes(&errors), ["INVALID_CURSOR"]);
    }
    // A cursor of another type is refused too.
    let users = c
        .query("{ users(first: 1) { pageInfo { endCursor } } }")
        .await;
    let errors = c
        .errors_vars(
            PAGE,
            json!({ "first": 1, "after": users["users"]["pageInfo"]["endCursor"] }),
        )
        .await;
    assert_eq!(codes(&errors), ["INVALID_CURSOR"]);
}

#[tokio::test]
async fn limits_and_bad_arguments() {
    let c = small().await;
    let errors = c.errors_vars(PAGE, json!({ "first": 101 })).await;
    assert_eq!(codes(&errors), ["PAGE_SIZE_EXCEEDED"]);
    let errors = c
        .errors(r#"{ posts { nodes { comments(last: 1000) { totalCount } } } }"#)
        .await;
    assert_eq!(codes(&errors), ["PAGE_SIZE_EXCEEDED"]);
    let errors = c.errors_vars(PAGE, json!({ "first": -1 })).await;
    assert_eq!(codes(&errors), ["BAD_USER_INPUT"]);
    let errors = c.errors_vars(PAGE, json!({ "first": 1, "last": 1 })).await;
    assert_eq!(codes(&errors), ["BAD_USER_INPUT"]);
    let errors = c.errors_vars(PAGE, json!({ "offset": -3 })).await;
    assert_eq!(codes(&errors), ["BAD_USER_INPUT"]);
}

#[tokio::test]
async fn default_page_size_applies_without_first() {
    let c = crate::common::seeded(1, 120, 0, 0).await;
    let d = c
        .query("{ posts { totalCount nodes { id } pageInfo { hasNextPage } } }")
        .await;
    assert_eq!(d["posts"]["totalCount"], 120);
    assert_eq!(d["posts"]["nodes"].as_array().unwrap().len(), 100);
    assert_eq!(d["posts"]["pageInfo"]["hasNextPage"], true);
}
