//! `cargo bench -p blog`: the planner on a realistic dataset, in process.
//!
//! Seeds 1,000 users, 10,000 posts, 100,000 comments and 50 tags into a SQLite
//! file (and into PostgreSQL when GRAPHLOOM_BENCH_DATABASE_URL names an empty
//! database), then times each query over many runs and reports the statements
//! it ran; then the same nested page over parents with 10 and with 10,000
//! children (on PostgreSQL in two databases it creates beside that one).
//! Results are recorded in docs/benchmarks.md.

use std::time::{Duration, Instant};

use graphloom::{
    auth_core::token::Principal,
    db::Database,
    graphql::{Api, RequestContext},
};
use serde_json::json;

const REFERENCE: &str = r#"{ posts(first: 50) { edges { node {
    title author { username }
    comments(first: 10) { nodes { body author { username } } }
    tags { nodes { name } } } } } }"#;

fn cases() -> Vec<(&'static str, String)> {
    // What a gateway sends for 1,000 published posts (the seed makes every
    // fifth post a draft, which the reader cannot see), shuffled.
    let reps: Vec<String> = (0..1250)
        .map(|i| (i * 7919) % 1250 + 1)
        .filter(|id| id % 5 != 0)
        .map(|id| format!(r#"{{ __typename: "Post", id: "{id}" }}"#))
        .collect();
    vec![
        (
            "reference: 50 posts + author + 10 comments (+authors) + tags",
            REFERENCE.to_owned(),
        ),
        (
            "flat: 100 posts, 3 columns",
            "{ posts(first: 100) { nodes { id title createdAt } } }".to_owned(),
        ),
        (
            "totalCount over 10,000 posts",
            "{ posts(first: 1) { totalCount } }".to_owned(),
        ),
        (
            "filter across relations + order across a to-one",
            r#"{ posts(first: 20, where: { status: { eq: PUBLISHED }, tags: { some: { name: { eq: "tag7" } } } }, orderBy: [{ author: { username: DESC } }]) { nodes { id } } }"#.to_owned(),
        ),
        (
            "deep: users -> 5 posts -> 5 comments -> author",
            "{ users(first: 20) { nodes { posts(first: 5) { nodes { comments(first: 5) { nodes { author { username } } } } } } } }".to_owned(),
        ),
        (
            "_entities: 1,000 post representations + author",
            format!(
                "{{ _entities(representations: [{}]) {{ ... on Post {{ title author {{ username }} }} }} }}",
                reps.join(", ")
            ),
        ),
    ]
}

/// The same 100 posts, every column, through GraphQL and through the model
/// API (no parsing, no JSON): the ratio is the GraphQL surface's share.
const EVERY_COLUMN: &str = "{ posts(first: 100) { nodes { id title slug body status authorId rating metadata createdAt updatedAt } } }";

/// Times `f` for at least 20 runs and up to 3 s or 2,000 runs.
async fn time<F, Fut>(mut f: F) -> anyhow::Result<Vec<Duration>>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let mut times = Vec::new();
    let start = Instant::now();
    while times.len() < 20 || (start.elapsed() < Duration::from_secs(3) && times.len() < 2000) {
        let t = Instant::now();
        f().await?;
        times.push(t.elapsed());
    }
    times.sort();
    Ok(times)
}

fn mean(times: &[Duration]) -> Duration {
    times.iter().sum::<Duration>() / u32::try_from(times.len()).unwrap_or(u32::MAX)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// Runs `query` and serialises its response, as the server does.
/// Who runs the queries: a logged-in reader (user 2, not staff), as
/// listing users needs a login; drafts other than their own stay hidden.
fn reader() -> RequestContext {
    RequestContext {
        principal: Some(Principal {
            user_id: "2".into(),
            ..Principal::default()
        }),
        ..RequestContext::default()
    }
}

async fn answer(api: &Api, query: &str) -> anyhow::Result<usize> {
    let res = api.execute_as(query, reader()).await;
    anyhow::ensure!(res.errors.is_empty(), "{query}: {:?}", res.errors);
    Ok(res.to_json()?.len())
}

async fn run(label: &str, api: &Api, resolvers: &Api) -> anyhow::Result<()> {
    println!("\n## {label}\n");
    println!(
        "| query | statements | response | runs | resolvers mean | fast path mean | p50 | p95 | fast ÷ resolvers |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (name, query) in cases() {
        let query = query.as_str();
        let (bytes, statements) = graphloom::db::capture(answer(api, query)).await;
        let bytes = bytes?;
        // Both paths, alternating, so that drift on the machine hits both.
        let (mut fast, mut slow) = (Vec::new(), Vec::new());
        let start = Instant::now();
        while fast.len() < 20 || (start.elapsed() < Duration::from_secs(6) && fast.len() < 2000) {
            let t = Instant::now();
            answer(resolvers, query).await?;
            slow.push(t.elapsed());
            let t = Instant::now();
            answer(api, query).await?;
            fast.push(t.elapsed());
        }
        fast.sort();
        slow.sort();
        println!(
            "| {name} | {} | {:.1} KB | {} | {:.3} ms | {:.3} ms | {:.3} ms | {:.3} ms | {:.2} |",
            statements.len(),
            bytes as f64 / 1024.0,
            fast.len(),
            mean(&slow).as_secs_f64() * 1e3,
            mean(&fast).as_secs_f64() * 1e3,
            percentile(&fast, 0.5).as_secs_f64() * 1e3,
            percentile(&fast, 0.95).as_secs_f64() * 1e3,
            mean(&fast).as_secs_f64() / mean(&slow).as_secs_f64(),
        );
    }
    println!("\n| query | statements | runs | mean | p50 | p95 |");
    println!("|---|---|---|---|---|---|");
    // The model API beside GraphQL, on the same rows, interleaved runs.
    let anonymous =
        graphloom::query::Ctx::for_principal(std::sync::Arc::clone(api.engine()), None).await;
    let graphql = time(|| async {
        let res = api.execute(EVERY_COLUMN).await;
        anyhow::ensure!(res.errors.is_empty(), "{:?}", res.errors);
        Ok(())
    })
    .await?;
    let model = time(|| async {
        let posts = blog::Post::objects(&anonymous).first(100).all().await?;
        anyhow::ensure!(posts.len() == 100);
        Ok(())
    })
    .await?;
    for (name, times) in [
        ("GraphQL: 100 posts, every column", &graphql),
        ("model API: the same 100 posts as structs", &model),
    ] {
        println!(
            "| {name} | 1 | {} | {:.2} ms | {:.2} ms | {:.2} ms |",
            times.len(),
            mean(times).as_secs_f64() * 1e3,
            percentile(times, 0.5).as_secs_f64() * 1e3,
            percentile(times, 0.95).as_secs_f64() * 1e3
        );
    }
    println!(
        "\nmodel API ÷ GraphQL (mean): {:.2}",
        mean(&model).as_secs_f64() / mean(&graphql).as_secs_f64()
    );
    println!("\n| write | statements | runs | mean | p50 | p95 |\n|---|---|---|---|---|---|");
    // Writes: one createPost with two tags, each its own transaction, by the
    // post's author (writing needs a login).
    let author = RequestContext {
        principal: Some(Principal {
            user_id: "1".into(),
            ..Principal::default()
        }),
        ..RequestContext::default()
    };
    let mut times = Vec::new();
    for i in 0..200 {
        let q = format!(
            r#"mutation {{ createPost(input: {{ title: "Bench {i}", slug: "bench-{i}-{}", body: "b", authorId: "1", tags: {{ set: ["1", "2"] }} }}) {{ post {{ id }} errors {{ code }} }} }}"#,
            std::process::id()
        );
        let t = Instant::now();
        let res = api.execute_as(q.as_str(), author.clone()).await;
        times.push(t.elapsed());
        anyhow::ensure!(res.errors.is_empty());
        let data = res.data.into_json()?;
        anyhow::ensure!(data["createPost"]["errors"] == json!([]), "{data}");
    }
    times.sort();
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    println!(
        "| createPost with 2 tags (one transaction) | - | {} | {:.2} ms | {:.2} ms | {:.2} ms |",
        times.len(),
        mean.as_secs_f64() * 1e3,
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.95).as_secs_f64() * 1e3
    );
    Ok(())
}

/// Nested pages whose parents have few or many children: a per-parent LIMIT
/// (`first`) should cost the same on both; `last` reads its rows from the
/// end the same way but counts every child.
async fn children(label: &str, few: &str, many: &str) -> anyhow::Result<()> {
    let few = api_on(few, 50, 500).await?;
    let many = api_on(many, 50, 500_000).await?;
    println!("\n## {label}: 50 posts, 10 or 10,000 comments each\n");
    println!("| query | statements | 10 per post | 10,000 per post | ratio |");
    println!("|---|---|---|---|---|");
    for (name, page) in [
        ("comments(first: 10): a LIMIT per post", "first: 10"),
        (
            "comments(last: 10): a LIMIT from the end, each post's count",
            "last: 10",
        ),
    ] {
        let query = format!(
            "{{ posts(first: 50) {{ nodes {{ title comments({page}) {{ nodes {{ id body }} }} }} }} }}"
        );
        let (res, statements) = graphloom::db::capture(answer(&many, &query)).await;
        res?;
        let (mut a, mut b) = (Vec::new(), Vec::new());
        let start = Instant::now();
        while a.len() < 20 || (start.elapsed() < Duration::from_secs(4) && a.len() < 1000) {
            let t = Instant::now();
            answer(&few, &query).await?;
            a.push(t.elapsed());
            let t = Instant::now();
            answer(&many, &query).await?;
            b.push(t.elapsed());
        }
        println!(
            "| {name} | {} | {:.3} ms | {:.3} ms | {:.2} |",
            statements.len(),
            mean(&a).as_secs_f64() * 1e3,
            mean(&b).as_secs_f64() * 1e3,
            mean(&b).as_secs_f64() / mean(&a).as_secs_f64(),
        );
    }
    Ok(())
}

/// A database seeded with `posts` posts and `comments` comments, its API.
async fn api_on(url: &str, posts: u64, comments: u64) -> anyhow::Result<Api> {
    let service = blog::service();
    let db = Database::connect(url).await?;
    let args = blog::seed::SeedArgs::sized(url, 100, posts, comments, 10);
    blog::seed::seed(&service, &db, &args).await?;
    Ok(service.api(db, Default::default())?)
}

/// Two fresh databases beside the one `url` names, on the same server.
async fn sibling_databases(url: &str) -> anyhow::Result<(String, String)> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let base = url.rsplit_once('/').map_or(url, |(b, _)| b);
    // Fixed names: nothing from outside reaches the statements.
    for name in ["graphloom_bench_few", "graphloom_bench_many"] {
        for sql in [
            format!("DROP DATABASE IF EXISTS {name}"),
            format!("CREATE DATABASE {name}"),
        ] {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
                .execute(&mut conn)
                .await?;
        }
    }
    Ok((
        format!("{base}/graphloom_bench_few"),
        format!("{base}/graphloom_bench_many"),
    ))
}

/// The seeded database's API, and the same API with every field through
/// its resolver (the fast path off).
async fn prepared(url: &str) -> anyhow::Result<(Api, Api)> {
    let service = blog::service();
    let db = Database::connect(url).await?;
    let t = Instant::now();
    let args = blog::seed::SeedArgs::benchmark(url);
    blog::seed::seed(&service, &db, &args).await?;
    println!("(seeded in {:.1} s)", t.elapsed().as_secs_f64());
    let resolvers = graphloom::graphql::Config {
        fast_path: false,
        ..Default::default()
    };
    Ok((
        service.api(db.clone(), Default::default())?,
        service.api(db, resolvers)?,
    ))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // `cargo test` runs benches in test mode with --bench absent; keep that fast.
    if !std::env::args().any(|a| a == "--bench") {
        return Ok(());
    }
    // `-- queries` or `-- children` runs that part alone.
    let parts: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wanted = |part: &str| parts.is_empty() || parts.iter().any(|p| p == part);
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite:{}", dir.path().join("bench.sqlite3").display());
    if wanted("queries") {
        let (api, resolvers) = prepared(&url).await?;
        run("SQLite (file, WAL)", &api, &resolvers).await?;
    }
    let file = |name: &str| format!("sqlite:{}", dir.path().join(name).display());
    if wanted("children") {
        children("SQLite", &file("few.sqlite3"), &file("many.sqlite3")).await?;
    }
    if let Ok(pg) = std::env::var("GRAPHLOOM_BENCH_DATABASE_URL") {
        if wanted("queries") {
            let (api, resolvers) = prepared(&pg).await?;
            run("PostgreSQL", &api, &resolvers).await?;
        }
        if wanted("children") {
            let (few, many) = sibling_databases(&pg).await?;
            children("PostgreSQL", &few, &many).await?;
        }
    }
    Ok(())
}
