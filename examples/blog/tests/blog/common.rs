use blog::seed::SeedArgs;
use graphloom_test::TestClient;

pub fn seed_args(users: u64, posts: u64, comments: u64, tags: u64) -> SeedArgs {
    SeedArgs {
        db: graphloom::cli::DbArgs::default(),
        users,
        posts,
        comments,
        tags,
    }
}

/// The seeded superuser `user1`, who sees and may do everything: most tests
/// exercise the API itself; `permissions.rs` exercises the rules.
pub fn admin() -> graphloom_test::Principal {
    graphloom_test::Principal {
        staff: true,
        superuser: true,
        ..graphloom_test::user(1)
    }
}

/// A client over an empty blog database, acting as a superuser.
pub async fn empty() -> TestClient {
    TestClient::new(&blog::service()).await.as_user(admin())
}

/// A client over the deterministic demo data of the given size.
pub async fn seeded(users: u64, posts: u64, comments: u64, tags: u64) -> TestClient {
    let client = empty().await;
    blog::seed::seed(
        &blog::service(),
        client.db(),
        &seed_args(users, posts, comments, tags),
    )
    .await
    .expect("seed");
    client
}

/// The small dataset most tests read: 5 users, 20 posts, 60 comments, 4 tags.
pub async fn small() -> TestClient {
    seeded(5, 20, 60, 4).await
}

pub fn titles(conn: &serde_json::Value) -> Vec<String> {
    conn["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| n["title"].as_str().unwrap_or_default().to_owned())
        .collect()
}
