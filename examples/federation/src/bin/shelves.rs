//! `shelves serve | migrate | makemigrations | schema --federation | …`:
//! `@context` and `@fromContext` under a router.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    federation_example::shelves::service().run().await
}
