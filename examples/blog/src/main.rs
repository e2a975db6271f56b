//! `blog serve | migrate | schema | check | seed`.

use clap::{Parser, Subcommand};

/// mimalloc rather than glibc's malloc: a multi-threaded server allocating
/// per row and per value spent a third of its CPU in glibc's allocator and
/// its arena locks (see docs/benchmarks.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(name = "blog", about = "The graphloom example blog service")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    #[command(flatten)]
    Builtin(graphloom::cli::Command),
    /// Fill the database with a deterministic demo dataset.
    Seed(blog::seed::SeedArgs),
    /// Seed a small dataset into an empty database, then serve (GraphiQL at /graphql).
    Demo(graphloom::cli::ServeArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let service = blog::service();
    match cli.command {
        Cmd::Builtin(cmd) => service.run_command(cmd).await,
        Cmd::Seed(args) => blog::seed::run(&service, &args).await,
        Cmd::Demo(mut args) => {
            blog::seed::seed_if_empty(&service, &args.db).await?;
            let a = &args.auth;
            if a.jwt_secret.is_none() && a.jwt_private_key_file.is_none() && a.jwks_file.is_none() {
                // A throwaway signing secret so logging in works out of the box; tokens die with the process.
                let secret = format!(
                    "{}{}",
                    graphloom::uuid::Uuid::new_v4().simple(),
                    graphloom::uuid::Uuid::new_v4().simple()
                );
                args.auth.jwt_secret = Some(secret);
                println!(
                    "Tokens are signed with a throwaway secret (set GRAPHLOOM_JWT_SECRET to keep them across restarts)."
                );
            }
            // The demo shows the back office too (user1, the demo password).
            args.admin = true;
            println!("GraphiQL: http://{}/graphql", args.addr);
            println!(
                "Admin:    http://{}{}/ (user1 / {})",
                args.addr,
                args.admin_path.trim_end_matches('/'),
                blog::seed::DEMO_PASSWORD
            );
            service
                .run_command(graphloom::cli::Command::Serve(args))
                .await
        }
    }
}
