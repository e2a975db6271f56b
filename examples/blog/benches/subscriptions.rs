//! `cargo bench -p blog --bench subscriptions`: events per second to 1,000
//! subscribers of `postChanged` on one instance (in process, SQLite file),
//! against the same rows read by 1,000 clients each running the matching
//! query per write (what polling costs), measured in the same run; and the
//! memory one idle subscription holds. Results are recorded in
//! docs/benchmarks.md.

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::{Context, ensure};
use blog::Post;
use futures_util::StreamExt;
use graphloom::{
    db::Database,
    graphql::{RequestContext, async_graphql::Request},
    query::Ctx,
};

const SUBSCRIBERS: usize = 1000;
const WRITES: usize = 20;

/// Resident memory of this process, in bytes.
fn rss() -> anyhow::Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 = statm.split_whitespace().nth(1).context("statm")?.parse()?;
    Ok(pages * 4096)
}

async fn write(sys: &Ctx, i: usize) -> anyhow::Result<()> {
    let n = Post::objects(sys)
        .filter(Post::ID.eq(1))
        .update([Post::TITLE.set(format!("Edition {i}"))])
        .await?;
    ensure!(n == 1, "post 1 was not updated");
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite:{}", dir.path().join("bench.sqlite3").display());
    let service = blog::service();
    let db = Database::connect(&url).await?;
    blog::seed::seed(
        &service,
        &db,
        &blog::seed::SeedArgs::sized(&url, 20, 100, 500, 10),
    )
    .await?;
    let api = service.api(db.clone(), graphloom::graphql::Config::default())?;
    let sys = Ctx::system(Arc::clone(api.engine()));
    let selection = "id title author { username }";

    let subscribe = || {
        api.subscribe_as(
            Request::new(format!(
                "subscription {{ postChanged(kinds: [UPDATED]) {{ node {{ {selection} }} }} }}"
            )),
            RequestContext::default(),
        )
    };
    // Idle subscriptions first, in a process that has done little else.
    let before = rss()?;
    let mut idle = Vec::with_capacity(SUBSCRIBERS);
    for _ in 0..SUBSCRIBERS {
        idle.push(subscribe().await);
    }
    let per_idle = rss()?.saturating_sub(before) / SUBSCRIBERS as u64;
    drop(idle);

    // Baseline: each of the clients runs the query after each write.
    let t = Instant::now();
    for i in 0..WRITES {
        write(&sys, i).await?;
        let mut tasks = Vec::with_capacity(SUBSCRIBERS);
        for _ in 0..SUBSCRIBERS {
            let api = api.clone();
            tasks.push(tokio::spawn(async move {
                let r = api
                    .execute_as(
                        Request::new(format!("{{ post(id: \"1\") {{ {selection} }} }}")),
                        RequestContext::default(),
                    )
                    .await;
                r.errors.is_empty()
            }));
        }
        for task in tasks {
            ensure!(task.await?, "a query failed");
        }
    }
    let polled = t.elapsed();

    // Subscribers, each consuming its own stream.
    let received = Arc::new(AtomicUsize::new(0));
    let mut consumers = Vec::with_capacity(SUBSCRIBERS);
    for _ in 0..SUBSCRIBERS {
        let mut events = subscribe().await;
        let received = Arc::clone(&received);
        consumers.push(tokio::spawn(async move {
            while let Some(r) = events.next().await {
                if r.errors.is_empty() {
                    received.fetch_add(1, Ordering::Relaxed);
                }
            }
        }));
    }
    let t = Instant::now();
    for i in 0..WRITES {
        write(&sys, i).await?;
        // One write at a time, as the baseline: each is its own event.
        while received.load(Ordering::Relaxed) < (i + 1) * SUBSCRIBERS {
            ensure!(
                t.elapsed() < Duration::from_secs(120),
                "events stopped coming"
            );
            tokio::task::yield_now().await;
        }
    }
    let pushed = t.elapsed();
    for c in consumers {
        c.abort();
    }
    let deliveries = (WRITES * SUBSCRIBERS) as f64;
    let rate = |d: Duration| deliveries / d.as_secs_f64();
    println!(
        "\n## {SUBSCRIBERS} subscribers, {WRITES} writes, one at a time (SQLite, in process)\n"
    );
    println!("| delivery | total | rows delivered per second | ÷ polling |");
    println!("|---|---|---|---|");
    println!(
        "| polling: each client runs `post(id:)` after each write (baseline) | {:.2} s | {:.0} | 1.00 |",
        polled.as_secs_f64(),
        rate(polled)
    );
    println!(
        "| subscription: `postChanged` to every subscriber | {:.2} s | {:.0} | {:.2} |",
        pushed.as_secs_f64(),
        rate(pushed),
        rate(pushed) / rate(polled)
    );
    println!(
        "\nMemory per idle subscription: {:.1} KiB (resident, {} subscriptions)",
        per_idle as f64 / 1024.0,
        SUBSCRIBERS
    );
    Ok(())
}
