//! `products serve | migrate | makemigrations | schema --federation | …`

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    federation_example::products::service().run().await
}
