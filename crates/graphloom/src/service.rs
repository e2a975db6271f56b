//! A service: apps with their models and custom fields, the settings read from
//! the environment, and the commands of its binary.

use std::sync::Arc;

use graphloom_db::{Database, schema::ProjectState};
use graphloom_graphql::{Api, ComputedField, Config, Custom, CustomField};
use graphloom_meta::{CheckErrors, Model, ModelDecl, Registry};

/// A group of models and custom fields, like a Django app.
#[derive(Debug, Clone)]
pub struct App {
    pub name: &'static str,
    models: Vec<ModelDecl>,
    custom: Custom,
}

impl App {
    pub fn new(name: &'static str) -> Self {
        App {
            name,
            models: Vec::new(),
            custom: Custom::default(),
        }
    }

    pub fn model<M: Model>(mut self) -> Self {
        self.models.push(M::decl());
        self
    }

    /// A custom root query field.
    pub fn query(mut self, field: CustomField) -> Self {
        self.custom.queries.push(field);
        self
    }

    /// A custom root mutation field.
    pub fn mutation(mut self, field: CustomField) -> Self {
        self.custom.mutations.push(field);
        self
    }

    /// A computed field on one of the models.
    pub fn computed(mut self, field: ComputedField) -> Self {
        self.custom.computed.push(field);
        self
    }
}

/// Settings of a running service; each has a flag and an environment variable.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub graphql: Config,
}

/// One graphloom service: a binary built from apps.
#[derive(Debug, Clone)]
pub struct Service {
    pub name: &'static str,
    apps: Vec<App>,
}

impl Service {
    pub fn new(name: &'static str) -> Self {
        Service {
            name,
            apps: Vec::new(),
        }
    }

    pub fn app(mut self, app: App) -> Self {
        self.apps.push(app);
        self
    }

    /// Resolves every app's models into one registry, running the start-up checks.
    pub fn registry(&self) -> Result<Registry, CheckErrors> {
        Registry::resolve(
            self.apps
                .iter()
                .flat_map(|a| a.models.iter().cloned())
                .collect(),
        )
    }

    fn custom(&self) -> Custom {
        let mut all = Custom::default();
        for a in &self.apps {
            all.queries.extend(a.custom.queries.iter().cloned());
            all.mutations.extend(a.custom.mutations.iter().cloned());
            all.computed.extend(a.custom.computed.iter().cloned());
        }
        all
    }

    /// The schema the models need, as migration state.
    pub fn project_state(&self) -> Result<ProjectState, CheckErrors> {
        Ok(ProjectState::from_registry(&self.registry()?))
    }

    /// Builds the GraphQL API over `db`.
    pub fn api(&self, db: Database, config: Config) -> Result<Api, graphloom_graphql::BuildError> {
        Api::build(Arc::new(self.registry()?), db, config, &self.custom())
    }

    /// Applies what the database lacks of the models' schema.
    pub async fn migrate(&self, db: &Database) -> anyhow::Result<Vec<String>> {
        let state = self.project_state()?;
        Ok(graphloom_db::schema::migrate(db, &state).await?.applied)
    }

    /// Parses the command line and runs the command (`serve`, `migrate`, `schema`, `check`).
    pub async fn run(self) -> anyhow::Result<()> {
        use clap::Parser;
        let cli = crate::cli::Cli::parse();
        self.run_command(cli.command).await
    }

    /// Runs one built-in command; binaries with commands of their own call this.
    pub async fn run_command(self, command: crate::cli::Command) -> anyhow::Result<()> {
        crate::cli::run(self, command).await
    }
}
