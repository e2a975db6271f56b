//! `compat serve | migrate | schema --federation | …`: Apollo's subgraph
//! compatibility "products" subgraph.

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    federation_example::compat::service().run().await
}
