//! A deterministic demo dataset of any size: the same arguments give the same rows.

use anyhow::Context;
use clap::Args;
use graphloom::{
    Service,
    db::{
        Database, Tx,
        sea_query::{Alias, Expr, Query},
        to_sea,
    },
    meta::Value,
    prelude::*,
};

/// The password of every seeded user (`user1` … `userN`).
pub const DEMO_PASSWORD: &str = "graphloom-demo";

#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    #[command(flatten)]
    pub db: graphloom::cli::DbArgs,
    #[arg(long, default_value_t = 20)]
    pub users: u64,
    #[arg(long, default_value_t = 100)]
    pub posts: u64,
    #[arg(long, default_value_t = 500)]
    pub comments: u64,
    #[arg(long, default_value_t = 10)]
    pub tags: u64,
}

impl SeedArgs {
    /// A dataset of the given size for the database at `url`.
    pub fn sized(url: &str, users: u64, posts: u64, comments: u64, tags: u64) -> SeedArgs {
        SeedArgs {
            db: graphloom::cli::DbArgs {
                database_url: Some(url.into()),
                ..Default::default()
            },
            users,
            posts,
            comments,
            tags,
        }
    }

    /// The benchmarks' dataset (docs/benchmarks.md): 1,000 users, 10,000
    /// posts, 100,000 comments, 50 tags.
    pub fn benchmark(url: &str) -> SeedArgs {
        SeedArgs::sized(url, 1000, 10_000, 100_000, 50)
    }
}

/// A small linear congruential generator: deterministic, no dependency.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        if n == 0 { 0 } else { (self.0 >> 33) % n }
    }
}

const WORDS: [&str; 16] = [
    "graph",
    "loom",
    "rust",
    "query",
    "model",
    "schema",
    "service",
    "federation",
    "token",
    "planner",
    "index",
    "cursor",
    "batch",
    "async",
    "django",
    "migrate",
];

fn sentence(rng: &mut Lcg, words: u64) -> String {
    (0..words)
        .map(|_| WORDS[rng.below(WORDS.len() as u64) as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

async fn insert(
    tx: &mut Tx<'_>,
    table: &str,
    columns: &[&str],
    rows: Vec<Vec<Value>>,
) -> anyhow::Result<()> {
    let dialect = tx.dialect();
    // Batches keep each statement under both dialects' parameter limits.
    for chunk in rows.chunks(500) {
        let mut q = Query::insert();
        q.into_table(Alias::new(table))
            .columns(columns.iter().map(|c| Alias::new(*c)));
        for row in chunk {
            q.values(row.iter().map(|v| Expr::val(to_sea(v, dialect))))?;
        }
        tx.execute(&q).await?;
    }
    Ok(())
}

/// Inserts the dataset into an empty database (migrating it first).
pub async fn seed(service: &Service, db: &Database, args: &SeedArgs) -> anyhow::Result<()> {
    service.migrate(db).await?;
    let reg = service.registry()?;
    let table = |name: &'static str| -> anyhow::Result<String> {
        let app = if name == "User" { "auth" } else { "blog" };
        reg.by_key(graphloom::meta::ModelKey { app, name })
            .map(|m| m.table.clone())
            .with_context(|| format!("model {name} missing"))
    };
    let mut rng = Lcg(42);
    let base = DateTime::parse_from_rfc3339("2024-01-01T00:00:00Z")?.with_timezone(&Utc);
    let at = |i: u64| {
        Value::DateTime(base + graphloom::chrono::Duration::minutes(i64::try_from(i).unwrap_or(0)))
    };
    // One hash for every demo user: the password is DEMO_PASSWORD; user1 is a superuser.
    let hash = graphloom::auth::Hasher::default().hash(DEMO_PASSWORD)?;
    let mut tx = db.begin().await?;
    let users = (1..=args.users)
        .map(|i| {
            vec![
                Value::I64(i as i64),
                Value::String(format!("user{i}")),
                Value::String(format!("user{i}@example.com")),
                Value::String(hash.clone()),
                Value::Bool(true),
                Value::Bool(i == 1),
                Value::Bool(i == 1),
                Value::Bool(true),
                at(i),
            ]
        })
        .collect();
    insert(
        &mut tx,
        &table("User")?,
        &[
            "id",
            "username",
            "email",
            "password",
            "is_active",
            "is_staff",
            "is_superuser",
            "email_verified",
            "date_joined",
        ],
        users,
    )
    .await?;
    let tags = (1..=args.tags)
        .map(|i| vec![Value::I64(i as i64), Value::String(format!("tag{i}"))])
        .collect();
    insert(&mut tx, &table("Tag")?, &["id", "name"], tags).await?;
    let mut posts = Vec::new();
    let mut links = Vec::new();
    for i in 1..=args.posts {
        let status = if i % 5 == 0 { "draft" } else { "published" };
        posts.push(vec![
            Value::I64(i as i64),
            Value::String(format!("Post {i}: {}", sentence(&mut rng, 3))),
            Value::String(format!("post-{i}")),
            Value::String(sentence(&mut rng, 40)),
            Value::String(status.into()),
            Value::I64(1 + rng.below(args.users.max(1)) as i64),
            Value::Decimal(Decimal::new(rng.below(50) as i64, 1)),
            at(i),
            at(i),
        ]);
        if args.tags > 0 {
            let first = rng.below(args.tags);
            for k in 0..3.min(args.tags) {
                links.push(vec![
                    Value::I64(i as i64),
                    Value::I64(1 + ((first + k) % args.tags) as i64),
                ]);
            }
        }
    }
    insert(
        &mut tx,
        &table("Post")?,
        &[
            "id",
            "title",
            "slug",
            "body",
            "status",
            "author_id",
            "rating",
            "created_at",
            "updated_at",
        ],
        posts,
    )
    .await?;
    let join = reg
        .by_key(graphloom::meta::ModelKey::of::<crate::Post>())
        .and_then(|p| match p.relation("tags").map(|(_, r)| &r.kind) {
            Some(graphloom::meta::RelationKind::ManyToMany { join, .. }) => {
                Some(reg.join(*join).table.clone())
            }
            _ => None,
        })
        .context("post tags join table missing")?;
    insert(&mut tx, &join, &["post_id", "tag_id"], links).await?;
    let comments = (1..=args.comments)
        .map(|i| {
            vec![
                Value::I64(i as i64),
                Value::I64(1 + rng.below(args.posts.max(1)) as i64),
                Value::I64(1 + rng.below(args.users.max(1)) as i64),
                Value::String(sentence(&mut rng, 12)),
                at(i),
            ]
        })
        .collect();
    insert(
        &mut tx,
        &table("Comment")?,
        &["id", "post_id", "author_id", "body", "created_at"],
        comments,
    )
    .await?;
    // Explicit ids leave PostgreSQL's identity sequences behind; move them on.
    if tx.dialect() == graphloom::db::Dialect::POSTGRES {
        for name in ["User", "Tag", "Post", "Comment"] {
            let t = table(name)?;
            tx.execute(&graphloom::db::RawSql(format!(
                "SELECT setval(pg_get_serial_sequence('\"{t}\"', 'id'), COALESCE((SELECT MAX(id) FROM \"{t}\"), 0) + 1, false)"
            )))
            .await?;
        }
    }
    tx.commit().await?;
    // Planner statistics for the bulk load, which autovacuum (PostgreSQL)
    // would gather only later and SQLite never: without them PostgreSQL
    // guesses hundreds of comments per post and may walk the wrong index.
    db.execute(&graphloom::db::RawSql("ANALYZE".into())).await?;
    Ok(())
}

pub async fn run(service: &Service, args: &SeedArgs) -> anyhow::Result<()> {
    graphloom::cli::init_tracing();
    if args.comments > 0 && (args.posts == 0 || args.users == 0) {
        anyhow::bail!("comments need at least one post and one user");
    }
    if args.posts > 0 && args.users == 0 {
        anyhow::bail!("posts need at least one user");
    }
    let db = args.db.connect(service.name).await?;
    seed(service, &db, args).await?;
    println!(
        "Seeded {} users, {} posts, {} comments, {} tags.",
        args.users, args.posts, args.comments, args.tags
    );
    db.close().await;
    Ok(())
}

/// Seeds the default small dataset unless the database already has users.
pub async fn seed_if_empty(
    service: &Service,
    db_args: &graphloom::cli::DbArgs,
) -> anyhow::Result<()> {
    graphloom::cli::init_tracing();
    let db = db_args.connect(service.name).await?;
    service.migrate(&db).await?;
    let users = service
        .registry()?
        .by_key(graphloom::meta::ModelKey::of::<crate::User>())
        .map(|m| m.table.clone())
        .context("model User missing")?;
    let mut q = Query::select();
    q.expr(Expr::cust("COUNT(*)")).from(Alias::new(&users));
    let rows = db.fetch(&q, &[graphloom::meta::ValueType::I64]).await?;
    if matches!(rows.first().and_then(|r| r.first()), Some(Value::I64(0))) {
        let args = SeedArgs {
            db: db_args.clone(),
            users: 20,
            posts: 100,
            comments: 500,
            tags: 10,
        };
        seed(service, &db, &args).await?;
        println!(
            "Seeded a demo dataset: 20 users, 100 posts, 500 comments, 10 tags. Log in as user1 (a superuser) or user2 … user20, password {DEMO_PASSWORD}."
        );
    }
    db.close().await;
    Ok(())
}
