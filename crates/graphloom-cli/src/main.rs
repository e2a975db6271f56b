//! `graphloom new | startapp | startservice`: start a graphloom project, add
//! an app to a service, or add another service to the workspace.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use graphloom_cli::{Name, NewProject, Source};

#[derive(Debug, Parser)]
#[command(
    name = "graphloom",
    version,
    about = "Start graphloom projects, apps and services"
)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Create a workspace with one service: the auth app and a starter app
    /// (a model, its migration, a custom query), tests, README, .env.example,
    /// Dockerfile and a CI workflow.
    New {
        /// The project's folder; its name is the first service's name unless --service.
        path: PathBuf,
        /// The first service's name.
        #[arg(long)]
        service: Option<String>,
        /// The starter app's name.
        #[arg(long, default_value = "notes")]
        app: String,
        /// Take the graphloom crates from this checkout (path dependencies).
        /// Default: the checkout this binary was built from if it is still
        /// there, else this version from crates.io.
        #[arg(long, conflicts_with = "graphloom_version")]
        graphloom_path: Option<PathBuf>,
        /// Take the graphloom crates from crates.io at this version.
        #[arg(long)]
        graphloom_version: Option<String>,
    },
    /// Add an app (no models yet, an empty migrations folder) to a service
    /// and register it. Run in the workspace folder.
    Startapp {
        name: String,
        /// The service to add it to (needed when there are several).
        #[arg(long)]
        service: Option<String>,
    },
    /// Add another federated service (its own binary and database) to the
    /// workspace. Run in the workspace folder.
    Startservice { name: String },
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let here = std::env::current_dir().context("the current folder")?;
    match cli.command {
        Cmd::New {
            path,
            service,
            app,
            graphloom_path,
            graphloom_version,
        } => {
            let service = match service {
                Some(s) => s,
                None => path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .context("give the project a folder name")?,
            };
            let source = match (graphloom_path, graphloom_version) {
                (Some(p), _) => Source::Path(
                    p.canonicalize()
                        .with_context(|| format!("{}: no such checkout", p.display()))?,
                ),
                (None, Some(v)) => Source::Version(v),
                (None, None) => Source::default_for_this_build(),
            };
            let project = NewProject {
                dir: here.join(&path),
                service: Name::parse(&service)?,
                app: Name::parse(&app)?,
                source,
            };
            let written = graphloom_cli::new_project(&project)?;
            match &project.source {
                Source::Path(p) => println!("graphloom crates from {}", p.display()),
                Source::Version(v) => println!("graphloom crates from crates.io, version {v}"),
            }
            println!(
                "Created {} ({} files). Next:",
                path.display(),
                written.len()
            );
            println!("  cd {}", path.display());
            println!("  cargo test");
            println!(
                "  GRAPHLOOM_JWT_SECRET=$(head -c 32 /dev/urandom | base64) cargo run -p {service} -- serve"
            );
        }
        Cmd::Startapp { name, service } => {
            let app = Name::parse(&name)?;
            let started = graphloom_cli::start_app(&here, service.as_deref(), &app)?;
            for f in &started.written {
                println!("  {}", f.display());
            }
            match started.manual {
                Some(todo) => println!("Now {todo}."),
                None => println!("Registered `{app}`. Add models, then run makemigrations."),
            }
        }
        Cmd::Startservice { name } => {
            let service = Name::parse(&name)?;
            for f in graphloom_cli::start_service(&here, &service)? {
                println!("  {}", f.display());
            }
            println!(
                "Added service `{service}`. It verifies the tokens the auth service issues: run it with the same GRAPHLOOM_JWT_SECRET (or GRAPHLOOM_JWKS_URL) and another GRAPHLOOM_ADDR."
            );
        }
    }
    Ok(())
}
