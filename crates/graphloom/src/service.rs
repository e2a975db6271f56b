//! A service: apps with their models and custom fields, the settings read from
//! the environment, and the commands of its binary.

use std::{collections::HashMap, sync::Arc};

use graphloom_db::{
    Database,
    autodetect::{FlagQuestioner, diff},
    migrate::{DataFn, Direction, Migration, MigrationSet, Target},
    schema::ProjectState,
};
use graphloom_graphql::{Api, Config, Custom, CustomField};
use graphloom_meta::{
    CheckErrors, ComposeDirective, Declarations, Model, ModelDecl, ModelRules, Registry, RulesDecl,
};
use graphloom_query::{ComputedField, Engine};

/// A group of models and custom fields, like a Django app.
#[derive(Debug, Clone)]
pub struct App {
    pub name: &'static str,
    models: Vec<ModelDecl>,
    rules: Vec<RulesDecl>,
    policies: Vec<graphloom_meta::PolicyDecl>,
    computed: Vec<ComputedField>,
    directives: Vec<ComposeDirective>,
    custom: Custom,
    endpoints: Vec<graphloom_server::Endpoint>,
    admin: Vec<(graphloom_meta::ModelKey, crate::admin::ModelAdmin)>,
    pub(crate) migrations: Option<AppMigrations>,
    pub(crate) data: Vec<(String, DataFn)>,
    /// The auth app's settings, for the commands that create users.
    pub(crate) auth: Option<Arc<crate::auth::AuthSettings>>,
    /// The auth app's session answers, which its revocations clear.
    pub(crate) sessions: Option<Arc<graphloom_server::SessionCache>>,
    /// The auth app's cookie sessions (off until `serve` turns them on).
    pub(crate) cookies: Option<Arc<crate::auth::Cookies>>,
    /// The auth app's login throttle, which the admin's login shares.
    pub(crate) limiter: Option<Arc<crate::auth::throttle::Throttle>>,
}

/// An app's migration files: the folder `makemigrations` writes to, and the
/// files embedded in the binary (both from the generated `migrations/mod.rs`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct AppMigrations {
    pub(crate) dir: &'static str,
    pub(crate) files: &'static [(&'static str, &'static str)],
}

impl App {
    pub fn new(name: &'static str) -> Self {
        App {
            name,
            models: Vec::new(),
            rules: Vec::new(),
            policies: Vec::new(),
            computed: Vec::new(),
            directives: Vec::new(),
            custom: Custom::default(),
            endpoints: Vec::new(),
            admin: Vec::new(),
            migrations: None,
            data: Vec::new(),
            auth: None,
            sessions: None,
            cookies: None,
            limiter: None,
        }
    }

    /// The app's migrations: `.migrations(migrations::DIR, migrations::FILES)`
    /// with the `migrations` module `makemigrations` maintains. An app without
    /// them is *unmigrated*: its tables are created directly, as Django's
    /// `migrate --run-syncdb` does, and never altered.
    pub fn migrations(
        mut self,
        dir: &'static str,
        files: &'static [(&'static str, &'static str)],
    ) -> Self {
        self.migrations = Some(AppMigrations { dir, files });
        self
    }

    /// A data migration in Rust, run by a `{ "op": "run_rust", "name": … }`
    /// operation inside that migration's transaction. Without `backwards` the
    /// migration cannot be unapplied.
    pub fn data_migration(
        mut self,
        name: &str,
        forwards: DataFn,
        backwards: Option<DataFn>,
    ) -> Self {
        self.data.push((format!("{}.{name}", self.name), forwards));
        if let Some(b) = backwards {
            self.data
                .push((format!("{}.{name}:backwards", self.name), b));
        }
        self
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

    /// A value type other services refer to (`#[object(key = "…")]`), and
    /// how this service resolves it from their representations.
    pub fn entity(mut self, entity: graphloom_graphql::CustomEntity) -> Self {
        self.custom.entities.push(entity);
        self
    }

    /// A custom root subscription field: any `Stream`, see
    /// [`graphloom_graphql::custom::CustomFieldBuilder::stream`].
    pub fn subscription(mut self, field: graphloom_graphql::CustomSubscription) -> Self {
        self.custom.subscriptions.push(field);
        self
    }

    /// How the admin shows model `M` (columns, search, filters, read-only
    /// fields), like registering a `ModelAdmin` in Django.
    pub fn admin<M: Model>(mut self, options: crate::admin::ModelAdmin) -> Self {
        self.admin.push((M::decl().key(), options));
        self
    }

    /// A REST endpoint of the app's own beside the generated resources
    /// (`/api/…`), typed in the OpenAPI document.
    pub fn endpoint(mut self, endpoint: graphloom_server::Endpoint) -> Self {
        self.endpoints.push(endpoint);
        self
    }

    /// The permission rules of model `M`: who may query it, which rows are
    /// visible, who may create, change and delete, and who may read each field.
    pub fn permissions<M: Model>(mut self, rules: ModelRules) -> Self {
        self.rules.push(RulesDecl {
            model: graphloom_meta::ModelKey::of::<M>(),
            rules,
        });
        self
    }

    /// A named policy for rules to use (`Rule::policy(name)`): an async
    /// check on the principal, decided once per request. With auth
    /// directives on, the fields it guards print `@policy(policies:)`, so
    /// a gateway that implements a policy of the same name (a coprocessor
    /// or plugin) can refuse early; this service still decides every request.
    pub fn policy<F, Fut>(mut self, name: impl Into<String>, f: F) -> Self
    where
        F: Fn(Option<graphloom_meta::Principal>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = bool> + Send + 'static,
    {
        self.policies.push(graphloom_meta::PolicyDecl {
            name: name.into(),
            predicate: graphloom_meta::predicate(f),
            app: self.name,
        });
        self
    }

    /// A root query field `name` built from the runtime (fields returning
    /// objects of their own); the name must be the field's.
    pub fn raw_query(mut self, name: &str, f: graphloom_graphql::FieldFactory) -> Self {
        self.custom.raw_queries.push((name.to_owned(), f));
        self
    }

    /// A root mutation field `name` built from the runtime.
    pub fn raw_mutation(mut self, name: &str, f: graphloom_graphql::FieldFactory) -> Self {
        self.custom.raw_mutations.push((name.to_owned(), f));
        self
    }

    /// An extra GraphQL type (an object a raw field returns).
    pub fn raw_type(mut self, f: graphloom_graphql::TypeFactory) -> Self {
        self.custom.types.push(f);
        self
    }

    /// A custom directive composed into the supergraph: the URL of its spec
    /// (`https://example.com/cache/v1.0`) and its definition
    /// (`directive @cacheControl(maxAge: Int) on OBJECT | FIELD_DEFINITION`).
    /// Models and fields use it with `directive = "@cacheControl(maxAge: 60)"`.
    pub fn compose_directive(mut self, url: &str, definition: &str) -> Self {
        self.directives.push(ComposeDirective::new(url, definition));
        self
    }

    /// A computed field on one of the models.
    pub fn computed(mut self, field: ComputedField) -> Self {
        self.computed.push(field);
        self
    }
}

/// The name of the generated migration of an app without migration files.
pub const UNMIGRATED: &str = "0000_unmigrated";

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
    /// The API's version in its OpenAPI document (`0.0.0` unless set).
    pub version: &'static str,
    apps: Vec<App>,
    federation_version: Option<graphloom_graphql::FederationVersion>,
}

impl Service {
    pub fn new(name: &'static str) -> Self {
        Service {
            name,
            version: "0.0.0",
            apps: Vec::new(),
            federation_version: None,
        }
    }

    /// The API's version, e.g. `env!("CARGO_PKG_VERSION")`.
    pub fn version(mut self, version: &'static str) -> Self {
        self.version = version;
        self
    }

    /// The federation version the subgraph SDL links, when not the latest:
    /// for gateways and tools that stop at an older one. `serve` and
    /// `schema` take `--federation-version` (GRAPHLOOM_FEDERATION_VERSION)
    /// over it.
    pub fn federation_version(mut self, version: graphloom_graphql::FederationVersion) -> Self {
        self.federation_version = Some(version);
        self
    }

    pub fn app(mut self, app: App) -> Self {
        self.apps.push(app);
        self
    }

    /// Resolves every app's models, rules, computed fields and composed
    /// directives into one registry, running every start-up check.
    pub fn registry(&self) -> Result<Registry, CheckErrors> {
        let apps = self.apps.iter();
        Registry::build(Declarations {
            models: apps
                .clone()
                .flat_map(|a| a.models.iter().cloned())
                .collect(),
            rules: apps.clone().flat_map(|a| a.rules.iter().cloned()).collect(),
            policies: apps
                .clone()
                .flat_map(|a| a.policies.iter().cloned())
                .collect(),
            computed: self.computed().map(|c| c.decl.clone()).collect(),
            directives: apps.flat_map(|a| a.directives.iter().cloned()).collect(),
        })
    }

    /// Every app's admin options.
    pub(crate) fn admin_options(
        &self,
    ) -> Vec<(graphloom_meta::ModelKey, crate::admin::ModelAdmin)> {
        self.apps
            .iter()
            .flat_map(|a| a.admin.iter().cloned())
            .collect()
    }

    /// The admin's routes, to mount at `path` beside the API (what
    /// `serve --admin` does): needs the auth app, the admin app and a token
    /// issuer in `api`'s settings. `server` gives the trusted proxies the
    /// login throttle reads client addresses through.
    pub fn admin_router(
        &self,
        api: &Api,
        path: &str,
        server: &graphloom_server::ServerConfig,
    ) -> Result<axum::Router, String> {
        let parts = self
            .admin_parts(api, server)
            .ok_or("the admin needs the auth app and signing keys (GRAPHLOOM_JWT_SECRET)")?;
        let site =
            crate::admin::Site::new(api.clone(), self.name, path, &self.admin_options(), parts)?;
        Ok(crate::admin::router(Arc::new(site)))
    }

    /// What the admin needs of the auth app, when the service has it and
    /// issues tokens.
    fn admin_parts(
        &self,
        api: &Api,
        server: &graphloom_server::ServerConfig,
    ) -> Option<crate::admin::AuthParts> {
        let auth = self.apps.iter().find(|a| a.auth.is_some())?;
        api.runtime().config.token_issuer.as_ref()?;
        let cookies = auth.cookies.clone()?;
        let sessions = auth.sessions.clone()?;
        Some(crate::admin::AuthParts {
            settings: auth.auth.clone()?,
            limiter: auth.limiter.clone()?,
            cookie_auth: Arc::new(crate::auth::DbCookies::new(
                Arc::clone(api.engine()),
                Arc::clone(&cookies),
                Arc::clone(&sessions),
            )),
            sessions,
            cookies,
            trusted_proxies: server.trusted_proxies.clone(),
            client_ip_header: server.client_ip_header.to_ascii_lowercase(),
        })
    }

    /// Every app's REST endpoints.
    pub fn endpoints(&self) -> Vec<graphloom_server::Endpoint> {
        self.apps
            .iter()
            .flat_map(|a| a.endpoints.iter().cloned())
            .collect()
    }

    fn computed(&self) -> impl Iterator<Item = &ComputedField> {
        self.apps.iter().flat_map(|a| a.computed.iter())
    }

    fn custom(&self) -> Custom {
        let mut all = Custom::default();
        for a in &self.apps {
            all.queries.extend(a.custom.queries.iter().cloned());
            all.mutations.extend(a.custom.mutations.iter().cloned());
            all.subscriptions
                .extend(a.custom.subscriptions.iter().cloned());
            all.entities.extend(a.custom.entities.iter().cloned());
            all.raw_queries.extend(a.custom.raw_queries.iter().cloned());
            all.raw_mutations
                .extend(a.custom.raw_mutations.iter().cloned());
            all.types.extend(a.custom.types.iter().cloned());
        }
        all
    }

    /// The schema the models need, as migration state.
    pub fn project_state(&self) -> Result<ProjectState, CheckErrors> {
        Ok(ProjectState::from_registry(&self.registry()?))
    }

    /// The query engine over `db`: what the model API, the surfaces and
    /// management commands run on.
    pub fn engine(&self, db: Database, config: &Config) -> Result<Arc<Engine>, CheckErrors> {
        Ok(Arc::new(Engine::new(
            Arc::new(self.registry()?),
            db,
            config.page_limits(),
            self.computed().cloned().collect(),
        )))
    }

    /// Builds the GraphQL API over `db`.
    pub fn api(
        &self,
        db: Database,
        mut config: Config,
    ) -> Result<Api, graphloom_graphql::BuildError> {
        config.federation_version = config.federation_version.or(self.federation_version);
        let engine = self.engine(db, &config)?;
        Api::build(engine, config, &self.custom())
    }

    /// Every start-up check `serve` runs, without a database: the registry's
    /// and the GraphQL schema's (what `check` runs).
    pub async fn check(&self) -> anyhow::Result<()> {
        let db = Database::connect("sqlite::memory:").await?;
        let built = self.api(db.clone(), Config::default());
        db.close().await;
        built?;
        Ok(())
    }

    /// The start-up warnings (`graphloom.W…`), which `check` prints and
    /// `serve` logs; none when the registry fails its checks.
    pub fn warnings(&self) -> Vec<graphloom_meta::CheckError> {
        self.registry().map(|r| r.warnings()).unwrap_or_default()
    }

    /// The apps, for the migration commands.
    pub(crate) fn apps(&self) -> &[App] {
        &self.apps
    }

    /// The auth app's settings, when the service has the auth app.
    pub(crate) fn auth_settings(&self) -> Option<Arc<crate::auth::AuthSettings>> {
        self.apps.iter().find_map(|a| a.auth.clone())
    }

    /// The auth app's cookie sessions, when the service has the auth app.
    pub fn cookie_sessions(&self) -> Option<Arc<crate::auth::Cookies>> {
        self.apps.iter().find_map(|a| a.cookies.clone())
    }

    /// The auth app's session cache, when the service has the auth app.
    pub fn session_cache(&self) -> Option<Arc<graphloom_server::SessionCache>> {
        self.apps.iter().find_map(|a| a.sessions.clone())
    }

    /// Every migration: the embedded files of migrated apps, plus one
    /// generated migration per unmigrated app that creates its tables.
    pub fn migration_set(&self) -> anyhow::Result<MigrationSet> {
        let files: Vec<(String, String, String)> = self
            .apps
            .iter()
            .filter_map(|a| a.migrations.map(|m| (a.name, m)))
            .flat_map(|(app, m)| {
                m.files.iter().map(move |(name, text)| {
                    (app.to_owned(), (*name).to_owned(), (*text).to_owned())
                })
            })
            .collect();
        self.migration_set_from(files)
    }

    /// The migration set from the given files, `(app, name, json)`.
    pub(crate) fn migration_set_from(
        &self,
        files: Vec<(String, String, String)>,
    ) -> anyhow::Result<MigrationSet> {
        let mut migrations = files
            .iter()
            .map(|(app, name, text)| Migration::from_json(app, name, text))
            .collect::<Result<Vec<_>, _>>()?;
        let registry = self.registry()?;
        let target = ProjectState::from_registry(&registry);
        let migrated: Vec<&str> = self
            .apps
            .iter()
            .filter(|a| a.migrations.is_some())
            .map(|a| a.name)
            .collect();
        for app in self.apps.iter().filter(|a| a.migrations.is_none()) {
            let tables = target.of_app(app.name);
            if tables.tables.is_empty() {
                continue;
            }
            let operations = diff(
                &ProjectState::default(),
                &tables,
                &mut FlagQuestioner::default(),
            )?;
            // Depend on the migrated apps whose tables these refer to.
            let mut dependencies: Vec<(String, String)> = Vec::new();
            for t in tables.tables.values() {
                for r in t.columns.iter().filter_map(|c| c.references.as_ref()) {
                    if let Some(owner) = target.tables.get(&r.table).map(|t| t.app.as_str())
                        && migrated.contains(&owner)
                        && let Some(leaf) = migrations
                            .iter()
                            .filter(|m| m.app == owner)
                            .map(|m| m.name.clone())
                            .max()
                        && !dependencies.iter().any(|(a, _)| a == owner)
                    {
                        dependencies.push((owner.to_owned(), leaf));
                    }
                }
            }
            migrations.push(Migration {
                app: app.name.to_owned(),
                name: UNMIGRATED.to_owned(),
                dependencies,
                operations,
            });
        }
        let data: HashMap<String, DataFn> = self
            .apps
            .iter()
            .flat_map(|a| a.data.iter().cloned())
            .collect();
        Ok(MigrationSet::new(migrations, data)?)
    }

    /// Applies every pending migration (what `serve` and the test kit do).
    pub async fn migrate(&self, db: &Database) -> anyhow::Result<Vec<String>> {
        self.migrate_to(db, &Target::Latest).await
    }

    /// Takes the database to `target`; returns what was applied or unapplied.
    pub async fn migrate_to(&self, db: &Database, target: &Target) -> anyhow::Result<Vec<String>> {
        let set = self.migration_set()?;
        let done = set.migrate(db, target).await?;
        if self.auth_settings().is_some() {
            let ctx = graphloom_query::Ctx::system(self.engine(db.clone(), &Config::default())?);
            crate::auth::ensure_permissions(&ctx)
                .await
                .map_err(|e| anyhow::anyhow!("creating the default permissions: {}", e.message))?;
        }
        Ok(done
            .into_iter()
            .map(|(d, name)| match d {
                Direction::Forwards => format!("Applied {name}"),
                Direction::Backwards => format!("Unapplied {name}"),
            })
            .collect())
    }

    /// `makemigrations`: writes migration files for model changes; returns 1
    /// when `--check` finds changes, 0 otherwise.
    pub fn makemigrations(&self, args: &crate::MakeArgs) -> anyhow::Result<i32> {
        crate::makemigrations::makemigrations(self, args)
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
