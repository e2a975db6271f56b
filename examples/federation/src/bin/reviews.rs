//! `reviews serve | migrate | makemigrations | schema --federation | …`

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    federation_example::reviews::service().run().await
}
