//! The database layer of graphloom: SQL dialects behind one trait
//! ([`SqlDialect`]: SQLite and PostgreSQL ship; a third is one
//! implementation), one [`Database`] handle over their pools, SQL built as
//! data with sea-query and rendered by the dialect, transactions, typed
//! database errors, and the migration operations that create and change tables.
//!
//! For framework crates; app code reaches rows through the query engine's
//! model API (`graphloom-query`), and uses this crate directly only for
//! what that cannot say (raw SQL in a data migration).
//! Every statement that runs is recorded in the current [`capture`] scope, which is
//! how `assert_num_queries!` and `GRAPHLOOM_DEBUG_SQL=1` see what ran.

pub mod autodetect;
mod budget;
pub mod ddl;
pub mod dialect;
mod health;
pub use health::PROBE_NAME;
mod log;
pub mod migrate;
pub mod notify;
pub mod schema;
mod value;
mod warm;

use std::{str::FromStr, sync::Arc, time::Duration};

pub use budget::read_budget;
pub use dialect::sqlite::SQLITE_DATETIME_FORMAT;
pub use dialect::{Dialect, SqlDialect};
use dialect::{QueryRef, SchemaRef};
use graphloom_meta::{Value, ValueType};
pub use log::{capture, capture_with_transactions};
pub use sea_query;
use sea_query::{DeleteStatement, InsertStatement, SelectStatement, UpdateStatement};
use sea_query_sqlx::SqlxValues;
use sqlx::{
    PgPool, SqlitePool,
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions},
};
pub use value::{bind, to_sea, typed_null};

/// What kind of constraint a database error broke, so callers never parse SQLSTATEs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbErrorKind {
    UniqueViolation,
    ForeignKeyViolation,
    NotNullViolation,
    CheckViolation,
    /// The database is busy (a lock not granted in time, a serialization
    /// failure, no free connection): retrying shortly may succeed.
    Busy,
    /// The statement ran longer than the statement timeout and was cancelled.
    TimedOut,
    /// A value the column cannot hold (SQLSTATE class 22: numeric
    /// overflow, text too long, invalid text representation …).
    InvalidValue,
    /// The request read more row data than its budget ([`read_budget`]).
    TooLarge,
    /// The server does not answer: the connection broke under the
    /// statement ([`DbError::connection_lost`]), or PostgreSQL's probe
    /// ([`DatabaseOptions::probe_interval`]) says it is down, and the
    /// request failed at once instead of waiting.
    Unreachable,
    Other,
}

/// Errors of the database layer.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DbError {
    #[error(
        "unsupported database URL `{0}`: expected `sqlite:<path>`, `sqlite::memory:` or `postgres://...`"
    )]
    Url(String),
    #[error("cannot connect to the database: {0}")]
    Connect(#[source] sqlx::Error),
    #[error("database error ({kind:?}): {source}")]
    Query {
        kind: DbErrorKind,
        /// The constraint or index name, where the database names it (PostgreSQL).
        constraint: Option<String>,
        /// The columns named by the error, where the database names them (SQLite).
        columns: Vec<String>,
        #[source]
        source: sqlx::Error,
    },
    #[error("cannot decode a value from the database: {0}")]
    Decode(String),
    #[error("migration failed: {0}")]
    Migration(String),
    #[error("the request read more than {max} bytes of rows")]
    TooLarge { max: u64 },
    #[error("the database does not answer")]
    Unreachable,
}

impl DbError {
    pub fn kind(&self) -> DbErrorKind {
        match self {
            DbError::Query { kind, .. } => *kind,
            DbError::TooLarge { .. } => DbErrorKind::TooLarge,
            DbError::Unreachable => DbErrorKind::Unreachable,
            _ => DbErrorKind::Other,
        }
    }

    /// Whether the connection broke (the server closed it, restarted or
    /// is shutting down) rather than the statement failing on its own.
    pub fn connection_lost(&self) -> bool {
        // `from_sqlx` gives a lost connection this kind, and only it.
        matches!(
            self,
            DbError::Query {
                kind: DbErrorKind::Unreachable,
                ..
            }
        )
    }

    /// Whether the server ended the session (PostgreSQL's `57P01`, admin
    /// shutdown): it rolls back whatever the session had not committed.
    pub fn session_ended(&self) -> bool {
        matches!(
            self,
            DbError::Query { source: sqlx::Error::Database(e), .. }
                if e.code().as_deref() == Some("57P01")
        )
    }

    fn from_sqlx(source: sqlx::Error) -> Self {
        if lost_connection(&source) {
            // The server went away under this statement (a write whose
            // COMMIT got no answer may or may not have happened: not
            // acknowledged either way).
            return DbError::Query {
                kind: DbErrorKind::Unreachable,
                constraint: None,
                columns: Vec::new(),
                source,
            };
        }
        let (kind, constraint, columns) = match &source {
            sqlx::Error::PoolTimedOut => (DbErrorKind::Busy, None, Vec::new()),
            sqlx::Error::Database(e) if is_busy(e.code().as_deref()) => {
                (DbErrorKind::Busy, None, Vec::new())
            }
            // query_canceled: the statement timeout (or a cancel request);
            // SQLITE_INTERRUPT: the progress handler's (see `arm`).
            sqlx::Error::Database(e) if matches!(e.code().as_deref(), Some("57014" | "9")) => {
                (DbErrorKind::TimedOut, None, Vec::new())
            }
            sqlx::Error::Database(e) => {
                let kind = match e.kind() {
                    sqlx::error::ErrorKind::UniqueViolation => DbErrorKind::UniqueViolation,
                    sqlx::error::ErrorKind::ForeignKeyViolation => DbErrorKind::ForeignKeyViolation,
                    sqlx::error::ErrorKind::NotNullViolation => DbErrorKind::NotNullViolation,
                    sqlx::error::ErrorKind::CheckViolation => DbErrorKind::CheckViolation,
                    // PostgreSQL's data exceptions (SQLite's codes are shorter numbers).
                    _ if e
                        .code()
                        .is_some_and(|c| c.len() == 5 && c.starts_with("22")) =>
                    {
                        DbErrorKind::InvalidValue
                    }
                    // SQLite reports ON DELETE RESTRICT as SQLITE_CONSTRAINT_TRIGGER (1811).
                    _ if e.code().as_deref() == Some("1811")
                        && e.message().starts_with("FOREIGN KEY") =>
                    {
                        DbErrorKind::ForeignKeyViolation
                    }
                    _ => DbErrorKind::Other,
                };
                // SQLite names no constraint; its message lists `table.column`s.
                let columns = e
                    .message()
                    .split_once("constraint failed: ")
                    .map(|(_, cols)| {
                        cols.split(", ")
                            .filter_map(|c| c.split_once('.').map(|(_, c)| c.trim().to_owned()))
                            .collect()
                    })
                    .unwrap_or_default();
                (kind, e.constraint().map(str::to_owned), columns)
            }
            _ => (DbErrorKind::Other, None, Vec::new()),
        };
        DbError::Query {
            kind,
            constraint,
            columns,
            source,
        }
    }
}

/// Whether the connection broke under `e` (the server closed it,
/// restarted or is shutting down), rather than the statement failing.
fn lost_connection(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) => true,
        // SQLSTATE class 08 (connection exception) and 57P01–57P03
        // (admin shutdown, crash shutdown, cannot connect now).
        sqlx::Error::Database(e) => e
            .code()
            .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
        _ => false,
    }
}

/// Whether a database error code says "busy, retry": SQLite's BUSY and
/// LOCKED families (primary codes 5 and 6, in the low byte), PostgreSQL's
/// serialization failure, deadlock and lock-not-available.
fn is_busy(code: Option<&str>) -> bool {
    match code {
        Some("40001" | "40P01" | "55P03") => true,
        Some(c) => c.parse::<u32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6)),
        None => false,
    }
}

pub type Result<T, E = DbError> = std::result::Result<T, E>;

/// How a [`Database`] pools and waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseOptions {
    /// Connections in the pool (default: twice the CPUs, 2 to 8, on SQLite
    /// ([`sqlite_pool_size`]); 10 on PostgreSQL; an in-memory SQLite
    /// database always has one).
    pub max_connections: Option<u32>,
    /// How long a SQLite write waits for the database's write lock before
    /// it fails as busy.
    pub busy_timeout: Duration,
    /// How long a request waits for a free connection before it fails as busy.
    pub acquire_timeout: Duration,
    /// How long a statement may run before it is cancelled (`None`: no
    /// limit); it fails as [`DbErrorKind::TimedOut`]. PostgreSQL's own
    /// `statement_timeout`, per statement. On SQLite a progress handler,
    /// armed each time a connection is taken from the pool, interrupts the
    /// statement running when the time is up: the limit holds for the
    /// statements of one read (a planned selection) or one transaction
    /// together. Arming costs a hand-over to SQLite's connection thread
    /// per checkout (about 15 µs; see docs/benchmarks.md).
    pub statement_timeout: Option<Duration>,
    /// How often a PostgreSQL server is asked whether it answers, on a
    /// connection outside the pool (`None`: never). While it does not,
    /// requests fail at once as [`DbErrorKind::Unreachable`] instead of
    /// waiting out the acquire timeout, and [`Database::ready`] says so.
    pub probe_interval: Option<Duration>,
    /// How much of a SQLite database file its connections read through a
    /// memory map (`PRAGMA mmap_size`, bytes; 0: none, every page read is
    /// copied into the connection's page cache). Mapped pages are the
    /// kernel's page cache, shared by the connections and reclaimable,
    /// rather than memory each connection allocates. Default 256 MiB.
    /// SQLite's caveat applies: an I/O error on a mapped page (a failing
    /// disk) stops the process instead of failing the statement.
    pub sqlite_mmap_size: u64,
}

/// The default [`DatabaseOptions::sqlite_mmap_size`]: 256 MiB.
pub const SQLITE_MMAP_SIZE: u64 = 256 << 20;

impl Default for DatabaseOptions {
    fn default() -> Self {
        DatabaseOptions {
            max_connections: None,
            busy_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(10),
            statement_timeout: Some(Duration::from_secs(30)),
            probe_interval: Some(Duration::from_millis(500)),
            sqlite_mmap_size: SQLITE_MMAP_SIZE,
        }
    }
}

/// Anything that renders to SQL with bound values for a dialect.
pub trait Statement {
    fn build(&self, dialect: Dialect) -> (String, sea_query::Values);

    /// Whether running it twice is the same as running it once (a read),
    /// so a connection found dead can retry it on another.
    fn is_read(&self) -> bool {
        false
    }
}

macro_rules! statement {
    ($($t:ty => $v:ident, $read:literal),*) => {$(
        impl Statement for $t {
            fn build(&self, dialect: Dialect) -> (String, sea_query::Values) {
                dialect.render(QueryRef::$v(self))
            }

            fn is_read(&self) -> bool {
                $read
            }
        }
    )*};
}
statement!(
    SelectStatement => Select, true,
    InsertStatement => Insert, false,
    UpdateStatement => Update, false,
    DeleteStatement => Delete, false
);

/// Plain SQL text (DDL), the same for every dialect or already rendered for one.
#[derive(Debug, Clone)]
pub struct RawSql(pub String);

impl Statement for RawSql {
    fn build(&self, _: Dialect) -> (String, sea_query::Values) {
        (self.0.clone(), sea_query::Values(Vec::new()))
    }
}

/// A DDL statement of sea-query.
pub trait SchemaStatement {
    fn render(&self, dialect: Dialect) -> String;
}

macro_rules! schema_statement {
    ($($t:ty => $v:ident),*) => {$(
        impl SchemaStatement for $t {
            fn render(&self, dialect: Dialect) -> String {
                dialect.render_schema(SchemaRef::$v(self))
            }
        }
    )*};
}
schema_statement!(
    sea_query::TableCreateStatement => CreateTable,
    sea_query::IndexCreateStatement => CreateIndex,
    sea_query::TableDropStatement => DropTable,
    sea_query::IndexDropStatement => DropIndex,
    sea_query::TableAlterStatement => AlterTable,
    sea_query::TableRenameStatement => RenameTable,
    sea_query::ForeignKeyCreateStatement => CreateForeignKey
);

#[derive(Debug, Clone)]
enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// A pooled connection to one database. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Database {
    pool: Pool,
    /// SQLite's statement timeout, armed per checkout (see [`arm`]).
    sqlite_timeout: Option<Duration>,
    /// Whether PostgreSQL answers, when probed.
    health: Option<health::Health>,
    /// Connections given back ready ([`warm`]).
    warm: Arc<warm::Warm>,
}

/// SQLite virtual-machine steps between two looks at the clock: tens of
/// microseconds of work, so a reading of the clock costs nothing in
/// comparison and an interrupt comes within a millisecond of its time.
const PROGRESS_STEPS: i32 = 10_000;

/// Arms SQLite's progress handler on `conn` for the work about to start on
/// it: once `timeout` has passed, the statement running is interrupted
/// (SQLITE_INTERRUPT, [`DbErrorKind::TimedOut`]). An idle connection keeps
/// its last handler until it is armed again, so every way to a pooled
/// connection arms it (or [`disarm`]s it). A transaction is armed after its
/// `BEGIN`, which runs under the old handler: a few steps, fewer than
/// [`PROGRESS_STEPS`], so the handler is never asked.
async fn arm(conn: &mut sqlx::SqliteConnection, timeout: Duration) -> Result<()> {
    let deadline = std::time::Instant::now() + timeout;
    conn.lock_handle()
        .await
        .map_err(DbError::from_sqlx)?
        .set_progress_handler(PROGRESS_STEPS, move || std::time::Instant::now() < deadline);
    Ok(())
}

/// Turns on SQLite's query planner stability guarantee on a new connection.
/// SQLite plans a statement with the values bound to it where they can
/// change the plan (a `LIMIT ?` always can), and then plans it again, as
/// if from scratch, each time those values are bound anew: graphloom binds
/// every value, so a cached statement was re-planned on every run, 14 % of
/// the CPU of a one-row read (perf: `sqlite3Reprepare` once per request).
/// Under the guarantee a statement is planned once, for any values, as
/// PostgreSQL's generic plans are; graphloom's statements do not lean on
/// value-specific plans (their pages walk indexes in order, and `LIKE`
/// patterns are bound under `LOWER`, where no index serves them anyway).
#[allow(unsafe_code)]
async fn plan_once(conn: &mut sqlx::SqliteConnection) -> std::result::Result<(), sqlx::Error> {
    use libsqlite3_sys::{SQLITE_DBCONFIG_ENABLE_QPSG, SQLITE_OK, sqlite3_db_config};
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle().as_ptr();
    let mut now: std::ffi::c_int = 0;
    // SAFETY: `db` is this connection's open handle, locked for the call
    // (no statement runs on it meanwhile); SQLITE_DBCONFIG_ENABLE_QPSG takes
    // an int (1: on) and a pointer to an int it writes the new state to.
    let rc = unsafe {
        sqlite3_db_config(
            db,
            SQLITE_DBCONFIG_ENABLE_QPSG,
            1 as std::ffi::c_int,
            &mut now as *mut std::ffi::c_int,
        )
    };
    if rc != SQLITE_OK || now != 1 {
        return Err(sqlx::Error::Configuration(
            format!("SQLite refused its query planner stability guarantee (code {rc})").into(),
        ));
    }
    Ok(())
}

/// Removes the handler [`arm`] set: the work about to start has no limit.
async fn disarm(conn: &mut sqlx::SqliteConnection) -> Result<()> {
    conn.lock_handle()
        .await
        .map_err(DbError::from_sqlx)?
        .remove_progress_handler();
    Ok(())
}

/// Rows as values, in the order of the selected columns.
pub type Rows = Vec<Vec<Value>>;

macro_rules! run {
    (fetch, $exec:expr, $dialect:expr, $stmt:expr, $types:expr, $decode:path, $answered:expr) => {{
        use futures_util::TryStreamExt;
        use tracing::Instrument;
        let (sql, values) = $stmt.build($dialect);
        log::record(&sql);
        // A span per statement, for traces (off unless a layer asks for
        // `graphloom::sql` at debug: then its text is recorded).
        let span = tracing::debug_span!(target: "graphloom::sql", "sql", db.statement = %sql);
        async {
            // SQL text is rendered by sea-query; every value is a bound parameter.
            let mut stream =
                sqlx::query_with(sqlx::AssertSqlSafe(sql), SqlxValues(values)).fetch($exec);
            let mut rows = Rows::new();
            // Decoded as they arrive, each row charged to the request's read
            // budget: one past it ends the statement before more are read.
            while let Some(row) = stream.try_next().await.map_err(DbError::from_sqlx)? {
                *$answered = true;
                // Sized up front: collecting through `Result` loses the
                // length and regrows the vector as the columns come.
                let mut decoded = Vec::with_capacity($types.len());
                for (i, ty) in $types.iter().enumerate() {
                    decoded.push($decode(&row, i, *ty)?);
                }
                budget::charge(&decoded)?;
                rows.push(decoded);
            }
            Ok::<Rows, DbError>(rows)
        }
        .instrument(span)
        .await
    }};
    (execute, $exec:expr, $dialect:expr, $stmt:expr) => {{
        use tracing::Instrument;
        let (sql, values) = $stmt.build($dialect);
        log::record(&sql);
        let span = tracing::debug_span!(target: "graphloom::sql", "sql", db.statement = %sql);
        // SQL text is rendered by sea-query; every value is a bound parameter.
        sqlx::query_with(sqlx::AssertSqlSafe(sql), SqlxValues(values))
            .execute($exec)
            .instrument(span)
            .await
            .map(|r| r.rows_affected())
            .map_err(DbError::from_sqlx)
    }};
}

/// The default size of a SQLite pool: twice the CPUs, from 2 to 8. SQLite
/// reads run on each connection's own thread, so connections beyond the
/// cores add memory, not throughput: on two cores, 4 connections served the
/// nested benchmark query as fast as 8 with 12 MiB less peak memory
/// (docs/benchmarks.md).
pub fn sqlite_pool_size() -> u32 {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    u32::try_from(cpus.saturating_mul(2))
        .unwrap_or(u32::MAX)
        .clamp(2, 8)
}

impl Database {
    /// Connects to `sqlite:<path>` (created if missing), `sqlite::memory:`, or `postgres://…`.
    pub async fn connect(url: &str) -> Result<Self> {
        Database::connect_with(url, &DatabaseOptions::default()).await
    }

    /// Connects with pool and timeout settings.
    pub async fn connect_with(url: &str, options: &DatabaseOptions) -> Result<Self> {
        if url.starts_with("sqlite:") {
            let memory = url.contains(":memory:") || url.contains("mode=memory");
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(|_| DbError::Url(url.to_owned()))?
                .create_if_missing(true)
                .foreign_keys(true)
                // LIKE is case-sensitive on PostgreSQL; make SQLite agree.
                .pragma("case_sensitive_like", "ON")
                .busy_timeout(options.busy_timeout);
            let opts = if memory {
                opts
            } else {
                opts.journal_mode(SqliteJournalMode::Wal)
            };
            // Reads map the file instead of copying its pages into each
            // connection's cache: less memory of the process's own, and
            // less copying (see `sqlite_mmap_size`).
            let opts = opts.pragma("mmap_size", options.sqlite_mmap_size.to_string());
            // An in-memory database lives as long as its one connection.
            let pool_opts = if memory {
                SqlitePoolOptions::new()
                    .max_connections(1)
                    .idle_timeout(None)
                    .max_lifetime(None)
            } else {
                SqlitePoolOptions::new()
                    .max_connections(options.max_connections.unwrap_or_else(sqlite_pool_size))
            }
            .acquire_timeout(options.acquire_timeout)
            .test_before_acquire(false)
            .after_connect(|conn, _| Box::pin(plan_once(conn)));
            let pool = pool_opts
                .connect_with(opts)
                .await
                .map_err(DbError::Connect)?;
            Ok(Database {
                pool: Pool::Sqlite(pool),
                sqlite_timeout: options.statement_timeout,
                health: None,
                warm: Arc::default(),
            })
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let mut opts =
                PgConnectOptions::from_str(url).map_err(|_| DbError::Url(url.to_owned()))?;
            if let Some(t) = options.statement_timeout {
                opts = opts.options([("statement_timeout", format!("{}ms", t.as_millis()))]);
            }
            let pool = PgPoolOptions::new()
                .max_connections(options.max_connections.unwrap_or(10))
                .acquire_timeout(options.acquire_timeout)
                // sqlx pings every connection as it comes back to the pool, so
                // an idle one answered a moment ago; a second ping as it is
                // taken was a round trip per statement. One that died idle
                // fails its first read or BEGIN, which is retried (`Reads`).
                .test_before_acquire(false)
                .connect_with(opts.clone())
                .await
                .map_err(DbError::Connect)?;
            let health = options
                .probe_interval
                .map(|every| health::Health::watch(opts, pool.clone(), every));
            Ok(Database {
                pool: Pool::Postgres(pool),
                sqlite_timeout: None,
                health,
                warm: Arc::default(),
            })
        } else {
            Err(DbError::Url(url.to_owned()))
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self.pool {
            Pool::Sqlite(_) => Dialect::SQLITE,
            Pool::Postgres(_) => Dialect::POSTGRES,
        }
    }

    /// Runs a query on a connection of its own and decodes each row's
    /// columns as `types`.
    pub async fn fetch(&self, stmt: &impl Statement, types: &[ValueType]) -> Result<Rows> {
        Reads::new(self).fetch(stmt, types).await
    }

    /// Runs a statement on a connection of its own; returns the number of
    /// rows it affected.
    pub async fn execute(&self, stmt: &impl Statement) -> Result<u64> {
        Reads::new(self).execute(stmt).await
    }

    /// Starts a write transaction; it rolls back when dropped without
    /// [`Tx::commit`]. On SQLite it takes the write lock up front (`BEGIN
    /// IMMEDIATE`, waiting up to the busy timeout), so a transaction that
    /// reads before it writes cannot fail to upgrade its lock halfway.
    pub async fn begin(&self) -> Result<Tx<'static>> {
        // BEGIN is safe to repeat: a connection that died while idle (the
        // server restarted) costs a retry on a fresh one, not the request.
        match self.begin_once().await {
            Err(e) if e.connection_lost() => {
                // The kept ones may have died with it (a restart).
                self.warm.release_all();
                self.begin_once().await
            }
            tx => tx,
        }
    }

    /// A transaction on a connection taken as a read's ([`warm`]), begun
    /// and ended with plain statements, so that once committed it goes back
    /// ready, like a read's, without sqlx's check.
    async fn begin_once(&self) -> Result<Tx<'static>> {
        // Held as an open transaction before `BEGIN` is sent: a wait
        // abandoned while it runs still ends what it may have begun.
        let mut open = Pooled {
            // Boxed, as in `Reads::conn`: a future of kilobytes.
            conn: Some(Box::pin(self.acquire()).await?),
            warm: Arc::clone(&self.warm),
        };
        let begin = match open.conn()? {
            PoolConn::Sqlite(_) => "BEGIN IMMEDIATE",
            PoolConn::Postgres(_) => "BEGIN",
        };
        let begun = plain(open.conn()?, begin).await;
        if let Err(e) = begun {
            // Nothing began: sqlx checks the connection as it goes back.
            drop(open.conn.take());
            return Err(e);
        }
        // The statement timeout counts from here: `BEGIN IMMEDIATE` may
        // have waited for the write lock.
        if let PoolConn::Sqlite(c) = open.conn()? {
            self.arm(c).await?;
        }
        Ok(Tx::new(TxConn::Pooled(open)))
    }

    /// A connection of the pool, ready for statements: one given back
    /// ready if there is one ([`warm`]), else sqlx's.
    async fn acquire(&self) -> Result<PoolConn> {
        // As the probe's guard would (a kept connection bypasses it).
        if !self.is_up() {
            return Err(DbError::Unreachable);
        }
        let mut conn = self
            .warm
            .take(self.pool_full(), || {
                let db = self.clone();
                async move { db.acquire_pooled().await }
            })
            .await?;
        if let PoolConn::Sqlite(c) = &mut conn {
            self.arm(c).await?;
        }
        Ok(conn)
    }

    /// A connection from sqlx's pool.
    async fn acquire_pooled(&self) -> Result<PoolConn> {
        Ok(match &self.pool {
            Pool::Sqlite(p) => PoolConn::Sqlite(p.acquire().await.map_err(DbError::from_sqlx)?),
            Pool::Postgres(p) => PoolConn::Postgres(
                self.reachable(async { p.acquire().await.map_err(DbError::from_sqlx) })
                    .await?,
            ),
        })
    }

    /// Whether sqlx's pool has all the connections it may open.
    fn pool_full(&self) -> bool {
        match &self.pool {
            Pool::Sqlite(p) => p.size() >= p.options().get_max_connections(),
            Pool::Postgres(p) => p.size() >= p.options().get_max_connections(),
        }
    }

    /// sqlx's idle connections.
    fn sqlx_idle(&self) -> usize {
        match &self.pool {
            Pool::Sqlite(p) => p.num_idle(),
            Pool::Postgres(p) => p.num_idle(),
        }
    }

    /// Runs `fut` (taking a pooled connection) unless the probe says the
    /// server does not answer, or comes to say so meanwhile.
    async fn reachable<T>(&self, fut: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        match &self.health {
            Some(h) => h.guard(fut).await,
            None => fut.await,
        }
    }

    /// Whether the database answers, as far as it is watched: PostgreSQL's
    /// probe's last answer; always `true` where nothing probes.
    pub fn is_up(&self) -> bool {
        self.health.as_ref().is_none_or(health::Health::is_up)
    }

    /// Connections in the pool now, and how many of them are idle (in
    /// sqlx's queue or given back ready).
    pub fn connections(&self) -> (u32, usize) {
        let size = match &self.pool {
            Pool::Sqlite(p) => p.size(),
            Pool::Postgres(p) => p.size(),
        };
        (size, self.sqlx_idle() + self.warm.len())
    }

    /// Whether requests can reach the database now (for readiness): the
    /// last probe's answer where the server is probed, else a ping.
    pub async fn ready(&self) -> Result<()> {
        match &self.health {
            Some(h) if !h.is_up() => Err(DbError::Unreachable),
            Some(_) => Ok(()),
            None => self.ping().await,
        }
    }

    /// Arms SQLite's statement timeout on a connection just taken from
    /// the pool; without one configured, no handler is ever set, and
    /// nothing is done.
    async fn arm(&self, conn: &mut sqlx::SqliteConnection) -> Result<()> {
        match self.sqlite_timeout {
            Some(t) => arm(conn, t).await,
            None => Ok(()),
        }
    }

    /// Whether the database answers (for readiness checks).
    pub async fn ping(&self) -> Result<()> {
        self.fetch(&RawSql("SELECT 1".into()), &[ValueType::I32])
            .await
            .map(drop)
    }

    pub async fn close(&self) {
        // sqlx waits for every connection it lent, kept ones included.
        self.warm.close();
        match &self.pool {
            Pool::Sqlite(p) => p.close().await,
            Pool::Postgres(p) => p.close().await,
        }
    }
}

/// A transaction on either dialect. Dropped unfinished (a refused write
/// returns early), it is rolled back before its connection is lent again.
#[derive(Debug)]
pub struct Tx<'c> {
    conn: TxConn<'c>,
    open: Open,
}

#[derive(Debug)]
enum TxConn<'c> {
    Sqlite(sqlx::Transaction<'c, sqlx::Sqlite>),
    Postgres(sqlx::Transaction<'c, sqlx::Postgres>),
    Pooled(Pooled),
}

/// A pooled connection in a transaction begun with `BEGIN`: committed or
/// rolled back, it goes back ready ([`warm`]); dropped while open (a
/// refused write, a cancelled request), a task rolls it back first, as
/// sqlx's own transactions do.
#[derive(Debug)]
struct Pooled {
    /// `Some` while the transaction is open.
    conn: Option<PoolConn>,
    warm: Arc<warm::Warm>,
}

impl Pooled {
    fn conn(&mut self) -> Result<&mut PoolConn> {
        self.conn.as_mut().ok_or(DbError::Unreachable)
    }

    /// Ends the transaction with `sql` (`COMMIT` or `ROLLBACK`); done, the
    /// connection goes back ready. Failed, it stays here, and the drop
    /// rolls back whatever is left (a SQLite `COMMIT` refused as busy
    /// leaves the transaction open).
    async fn end(&mut self, sql: &'static str) -> Result<()> {
        let done = plain(self.conn()?, sql).await;
        if done.is_ok()
            && let Some(conn) = self.conn.take()
        {
            self.warm.keep(conn);
        }
        done
    }
}

/// Runs a statement without parameters or rows (`BEGIN`, `COMMIT` …).
async fn plain(conn: &mut PoolConn, sql: &'static str) -> Result<()> {
    use sqlx::Executor;
    match conn {
        PoolConn::Sqlite(c) => (&mut **c).execute(sql).await.map(drop),
        PoolConn::Postgres(c) => (&mut **c).execute(sql).await.map(drop),
    }
    .map_err(DbError::from_sqlx)
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        // Closed rather than lent again, unless the rollback succeeds:
        // also when the task below never runs (the runtime is ending).
        let mut conn = Closing(Some(conn));
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let warm = Arc::clone(&self.warm);
        runtime.spawn(async move {
            if let Some(c) = conn.0.as_mut()
                && plain(c, "ROLLBACK").await.is_ok()
                && let Some(c) = conn.0.take()
            {
                warm.keep(c);
            }
        });
    }
}

/// A connection in an unknown state: closed when dropped, not lent again.
struct Closing(Option<PoolConn>);

impl Drop for Closing {
    fn drop(&mut self) {
        match self.0.take() {
            Some(PoolConn::Sqlite(mut c)) => c.close_on_drop(),
            Some(PoolConn::Postgres(mut c)) => c.close_on_drop(),
            None => {}
        }
    }
}

/// A transaction's end for [`capture_with_transactions`]: `ROLLBACK` when
/// it ends without a commit, explicitly or dropped.
#[derive(Debug)]
struct Open(bool);

impl Drop for Open {
    fn drop(&mut self) {
        if self.0 {
            log::record_control("ROLLBACK");
        }
    }
}

impl<'c> Tx<'c> {
    fn new(conn: TxConn<'c>) -> Self {
        log::record_control("BEGIN");
        Tx {
            conn,
            open: Open(true),
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self.conn {
            TxConn::Sqlite(_) => Dialect::SQLITE,
            TxConn::Postgres(_) => Dialect::POSTGRES,
            TxConn::Pooled(ref p) => match p.conn {
                Some(PoolConn::Postgres(_)) => Dialect::POSTGRES,
                Some(PoolConn::Sqlite(_)) | None => Dialect::SQLITE,
            },
        }
    }

    pub async fn fetch(&mut self, stmt: &impl Statement, types: &[ValueType]) -> Result<Rows> {
        let answered = &mut false;
        match &mut self.conn {
            TxConn::Sqlite(t) => run!(
                fetch,
                &mut **t,
                Dialect::SQLITE,
                stmt,
                types,
                value::decode_sqlite,
                answered
            ),
            TxConn::Postgres(t) => run!(
                fetch,
                &mut **t,
                Dialect::POSTGRES,
                stmt,
                types,
                value::decode_postgres,
                answered
            ),
            TxConn::Pooled(p) => p.conn()?.fetch(stmt, types, answered).await,
        }
    }

    pub async fn execute(&mut self, stmt: &impl Statement) -> Result<u64> {
        match &mut self.conn {
            TxConn::Sqlite(t) => run!(execute, &mut **t, Dialect::SQLITE, stmt),
            TxConn::Postgres(t) => run!(execute, &mut **t, Dialect::POSTGRES, stmt),
            TxConn::Pooled(p) => p.conn()?.execute(stmt).await,
        }
    }

    pub async fn commit(self) -> Result<()> {
        let Tx { conn, mut open } = self;
        open.0 = false;
        log::record_control("COMMIT");
        match conn {
            TxConn::Sqlite(t) => t.commit().await.map_err(DbError::from_sqlx),
            TxConn::Postgres(t) => t.commit().await.map_err(DbError::from_sqlx),
            TxConn::Pooled(mut p) => p.end("COMMIT").await,
        }
    }

    pub async fn rollback(self) -> Result<()> {
        // `open` records the ROLLBACK as it goes.
        let Tx { conn, open: _open } = self;
        match conn {
            TxConn::Sqlite(t) => t.rollback().await.map_err(DbError::from_sqlx),
            TxConn::Postgres(t) => t.rollback().await.map_err(DbError::from_sqlx),
            TxConn::Pooled(mut p) => p.end("ROLLBACK").await,
        }
    }
}

/// A pooled connection of either dialect.
#[derive(Debug)]
enum PoolConn {
    Sqlite(sqlx::pool::PoolConnection<sqlx::Sqlite>),
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
}

impl PoolConn {
    /// Runs `stmt`; `answered` says whether a row of it came back.
    async fn fetch(
        &mut self,
        stmt: &impl Statement,
        types: &[ValueType],
        answered: &mut bool,
    ) -> Result<Rows> {
        match self {
            PoolConn::Sqlite(c) => run!(
                fetch,
                &mut **c,
                Dialect::SQLITE,
                stmt,
                types,
                value::decode_sqlite,
                answered
            ),
            PoolConn::Postgres(c) => run!(
                fetch,
                &mut **c,
                Dialect::POSTGRES,
                stmt,
                types,
                value::decode_postgres,
                answered
            ),
        }
    }

    async fn execute(&mut self, stmt: &impl Statement) -> Result<u64> {
        match self {
            PoolConn::Sqlite(c) => run!(execute, &mut **c, Dialect::SQLITE, stmt),
            PoolConn::Postgres(c) => run!(execute, &mut **c, Dialect::POSTGRES, stmt),
        }
    }
}

/// Statements outside a transaction on one connection of the pool: taken
/// at the first statement, kept for the ones after it, given back when
/// dropped. Reads, and a write that is all its request writes (it commits
/// as it succeeds; see [`Reads::fetch`]).
///
/// A planned selection's statements run one after another, so holding one
/// connection for them costs nothing in parallelism. Given back with every
/// statement run to its end, the connection is ready for the next one and
/// goes to the next taker without sqlx's check (a round trip; see
/// [`warm`]); otherwise (an error, a statement abandoned halfway) sqlx
/// checks it as usual. A connection that had died while idle fails its
/// first read; that read is retried once on a fresh connection.
#[derive(Debug)]
pub struct Reads<'a> {
    db: &'a Database,
    conn: Option<PoolConn>,
    /// Whether `conn`'s last statement ran to its end.
    ready: bool,
}

impl Drop for Reads<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take()
            && self.ready
        {
            self.db.warm.keep(conn);
        }
    }
}

impl<'a> Reads<'a> {
    pub fn new(db: &'a Database) -> Self {
        Reads {
            db,
            conn: None,
            ready: false,
        }
    }

    pub fn dialect(&self) -> Dialect {
        self.db.dialect()
    }

    async fn conn(&mut self) -> Result<&mut PoolConn> {
        let conn = match self.conn.take() {
            Some(conn) => conn,
            // Boxed: taking a connection is a future of kilobytes (sqlx's
            // acquire, the probe's guard), which every statement's future
            // would otherwise hold and copy as it moves.
            None => Box::pin(self.db.acquire()).await?,
        };
        Ok(self.conn.insert(conn))
    }

    /// Runs `stmt`; `answered` says whether a row of it came back.
    async fn fetch_once(
        &mut self,
        stmt: &impl Statement,
        types: &[ValueType],
        answered: &mut bool,
    ) -> Result<Rows> {
        self.ready = false;
        let rows = self.conn().await?.fetch(stmt, types, answered).await;
        self.ready = rows.is_ok();
        rows
    }

    /// Runs `stmt`. A write runs on its own and commits as it succeeds
    /// (autocommit), for a write that is a request's only statement.
    ///
    /// The first statement on a connection taken from the pool is retried
    /// once on a fresh one when that connection turns out dead: a read
    /// whenever it was lost (running it twice is running it once), a write
    /// only when the server had ended the session before the write reached
    /// it. That is PostgreSQL's `57P01` (a restart, an idle timeout,
    /// `pg_terminate_backend`) with no row of the write back: a session
    /// ended while the write ran rolls it back, and one ended after its
    /// commit would have sent the write's rows first. Any other failure of
    /// a write may have come after its commit, so it is reported, not
    /// repeated.
    pub async fn fetch(&mut self, stmt: &impl Statement, types: &[ValueType]) -> Result<Rows> {
        let fresh = self.conn.is_none();
        let answered = &mut false;
        match self.fetch_once(stmt, types, answered).await {
            Err(e)
                if fresh
                    && e.connection_lost()
                    && (stmt.is_read() || (e.session_ended() && !*answered)) =>
            {
                // Dropped, sqlx finds it dead and closes it; the kept
                // ones may have died with it (a restart), so sqlx checks
                // them too.
                self.conn = None;
                self.db.warm.release_all();
                self.fetch_once(stmt, types, &mut false).await
            }
            rows => rows,
        }
    }

    pub async fn execute(&mut self, stmt: &impl Statement) -> Result<u64> {
        self.ready = false;
        let done = self.conn().await?.execute(stmt).await;
        self.ready = done.is_ok();
        done
    }
}

/// Where statements run: one pooled connection outside a transaction
/// ([`Reads`], from [`Exec::pool`]), or an open transaction.
#[derive(Debug)]
pub enum Exec<'a, 'c> {
    Pool(Reads<'a>),
    Tx(&'a mut Tx<'c>),
}

impl<'a> Exec<'a, 'static> {
    /// Statements on one connection of `db`'s pool, taken when first needed.
    pub fn pool(db: &'a Database) -> Self {
        Exec::Pool(Reads::new(db))
    }
}

impl Exec<'_, '_> {
    pub fn dialect(&self) -> Dialect {
        match self {
            Exec::Pool(reads) => reads.dialect(),
            Exec::Tx(tx) => tx.dialect(),
        }
    }

    pub async fn fetch(&mut self, stmt: &impl Statement, types: &[ValueType]) -> Result<Rows> {
        match self {
            Exec::Pool(reads) => reads.fetch(stmt, types).await,
            Exec::Tx(tx) => tx.fetch(stmt, types).await,
        }
    }

    pub async fn execute(&mut self, stmt: &impl Statement) -> Result<u64> {
        match self {
            Exec::Pool(reads) => reads.execute(stmt).await,
            Exec::Tx(tx) => tx.execute(stmt).await,
        }
    }
}

/// One connection held for schema changes, outside the pool's rotation.
///
/// On SQLite, foreign-key enforcement is switched off while it is held, as
/// SQLite's documented table-rebuild procedure requires (dropping a table with
/// enforcement on would cascade into its children), and each transaction takes
/// the write lock up front (`BEGIN IMMEDIATE`). On PostgreSQL it holds a
/// session advisory lock, so two instances never migrate at once.
#[derive(Debug)]
pub enum SchemaConn {
    Sqlite(sqlx::pool::PoolConnection<sqlx::Sqlite>),
    Postgres(sqlx::pool::PoolConnection<sqlx::Postgres>),
}

/// The advisory lock key that serialises migrations on PostgreSQL.
const MIGRATION_LOCK: i64 = 7_301_208_812;

impl Database {
    /// Takes a connection for migrations (see [`SchemaConn`]).
    pub async fn schema_conn(&self) -> Result<SchemaConn> {
        use sqlx::Executor;
        let sqlx_idle = self.sqlx_idle() > 0;
        let conn = self.warm.queued(sqlx_idle, self.acquire_pooled()).await?;
        match conn {
            PoolConn::Sqlite(mut conn) => {
                // Rebuilding a large table may take as long as it takes.
                if self.sqlite_timeout.is_some() {
                    disarm(&mut conn).await?;
                }
                let sql = "PRAGMA foreign_keys = OFF";
                log::record(sql);
                (&mut *conn)
                    .execute(sql)
                    .await
                    .map_err(DbError::from_sqlx)?;
                Ok(SchemaConn::Sqlite(conn))
            }
            PoolConn::Postgres(mut conn) => {
                let sql = format!("SELECT pg_advisory_lock({MIGRATION_LOCK})");
                log::record(&sql);
                (&mut *conn)
                    .execute(sqlx::AssertSqlSafe(sql))
                    .await
                    .map_err(DbError::from_sqlx)?;
                Ok(SchemaConn::Postgres(conn))
            }
        }
    }
}

impl SchemaConn {
    pub fn dialect(&self) -> Dialect {
        match self {
            SchemaConn::Sqlite(_) => Dialect::SQLITE,
            SchemaConn::Postgres(_) => Dialect::POSTGRES,
        }
    }

    /// A transaction that holds the database's write lock on SQLite.
    pub async fn begin(&mut self) -> Result<Tx<'_>> {
        use sqlx::Connection;
        Ok(Tx::new(match self {
            SchemaConn::Sqlite(c) => TxConn::Sqlite(
                (**c)
                    .begin_with("BEGIN IMMEDIATE")
                    .await
                    .map_err(DbError::from_sqlx)?,
            ),
            SchemaConn::Postgres(c) => {
                TxConn::Postgres((**c).begin().await.map_err(DbError::from_sqlx)?)
            }
        }))
    }

    /// Restores the connection's normal state before it returns to the pool.
    pub async fn release(self) -> Result<()> {
        use sqlx::Executor;
        match self {
            SchemaConn::Sqlite(mut c) => {
                (&mut *c)
                    .execute("PRAGMA foreign_keys = ON")
                    .await
                    .map_err(DbError::from_sqlx)?;
            }
            SchemaConn::Postgres(mut c) => {
                (&mut *c)
                    .execute(sqlx::AssertSqlSafe(format!(
                        "SELECT pg_advisory_unlock({MIGRATION_LOCK})"
                    )))
                    .await
                    .map_err(DbError::from_sqlx)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{is_busy, sqlite_pool_size};

    #[test]
    fn the_sqlite_pool_follows_the_cpus() {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let want = u32::try_from(cpus * 2).unwrap_or(8).clamp(2, 8);
        assert_eq!(sqlite_pool_size(), want);
        assert!((2..=8).contains(&sqlite_pool_size()));
    }

    /// Every connection of a file database maps as much of it as the
    /// setting says; 0 maps none.
    #[tokio::test]
    async fn sqlite_reads_through_a_memory_map_as_set() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("m.sqlite3").display());
        for (set, want) in [
            (super::SQLITE_MMAP_SIZE, 256 << 20),
            (0, 0),
            (1 << 20, 1 << 20),
        ] {
            let options = super::DatabaseOptions {
                sqlite_mmap_size: set,
                ..Default::default()
            };
            let db = super::Database::connect_with(&url, &options).await.unwrap();
            let super::Pool::Sqlite(pool) = &db.pool else {
                panic!("a SQLite pool")
            };
            let got: i64 = sqlx::query_scalar("PRAGMA mmap_size")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(got, want, "set {set}");
            db.close().await;
        }
    }

    /// Every connection of a SQLite pool, on a file or in memory, plans its
    /// statements once for any bound values (`plan_once`).
    #[tokio::test]
    #[allow(unsafe_code)]
    async fn sqlite_connections_plan_once() {
        use libsqlite3_sys::{SQLITE_DBCONFIG_ENABLE_QPSG, sqlite3_db_config};
        let dir = tempfile::tempdir().unwrap();
        for db in [
            file_db(&dir, 2).await,
            super::Database::connect("sqlite::memory:").await.unwrap(),
        ] {
            let super::Pool::Sqlite(pool) = &db.pool else {
                panic!("a SQLite pool")
            };
            let mut conns = Vec::new();
            for _ in 0..pool.options().get_max_connections() {
                conns.push(pool.acquire().await.unwrap());
            }
            for conn in &mut conns {
                let mut handle = conn.lock_handle().await.unwrap();
                let mut on: std::ffi::c_int = -1;
                // SAFETY: the connection's open handle, locked; -1 asks for
                // the state without changing it, written to `on`.
                unsafe {
                    sqlite3_db_config(
                        handle.as_raw_handle().as_ptr(),
                        SQLITE_DBCONFIG_ENABLE_QPSG,
                        -1 as std::ffi::c_int,
                        &mut on as *mut std::ffi::c_int,
                    );
                }
                assert_eq!(on, 1);
            }
            drop(conns);
            db.close().await;
        }
    }

    async fn file_db(dir: &tempfile::TempDir, connections: u32) -> super::Database {
        let url = format!("sqlite:{}", dir.path().join("w.sqlite3").display());
        let options = super::DatabaseOptions {
            max_connections: Some(connections),
            acquire_timeout: std::time::Duration::from_secs(3),
            ..Default::default()
        };
        super::Database::connect_with(&url, &options).await.unwrap()
    }

    fn one() -> super::RawSql {
        super::RawSql("SELECT 1".into())
    }

    /// A connection whose statements all ran to their end is kept for the
    /// next taker (no new one is opened); one whose statement failed goes
    /// back to sqlx, which checks it.
    #[tokio::test]
    async fn a_connection_given_back_ready_is_kept_for_the_next_taker() {
        let dir = tempfile::tempdir().unwrap();
        let db = file_db(&dir, 4).await;
        let i32s = [super::ValueType::I32];
        for _ in 0..3 {
            assert_eq!(db.fetch(&one(), &i32s).await.unwrap().len(), 1);
            assert_eq!(db.warm.len(), 1);
            assert_eq!(db.connections(), (1, 1));
        }
        let err = db
            .fetch(&super::RawSql("SELECT * FROM nowhere".into()), &i32s)
            .await;
        assert!(err.is_err());
        assert_eq!(
            db.warm.len(),
            0,
            "a failed statement's connection is not kept"
        );
        // A write alone is kept too.
        db.execute(&super::RawSql("CREATE TABLE t (x INTEGER)".into()))
            .await
            .unwrap();
        assert_eq!(db.warm.len(), 1);
        db.close().await;
    }

    /// With every connection kept (one, here), a transaction (taken as a
    /// read's) and a migration connection (from sqlx's own queue, counted)
    /// still get one, and transactions do while reads keep taking and
    /// giving back.
    #[tokio::test]
    async fn transactions_get_a_connection_while_reads_keep_them() {
        let dir = tempfile::tempdir().unwrap();
        let db = file_db(&dir, 1).await;
        let i32s = [super::ValueType::I32];
        db.fetch(&one(), &i32s).await.unwrap();
        assert_eq!(db.warm.len(), 1);
        let tx = db
            .begin()
            .await
            .expect("a transaction while the one connection is kept");
        tx.commit().await.unwrap();
        db.fetch(&one(), &i32s).await.unwrap();
        let schema = db.schema_conn().await.expect("a schema connection");
        schema.release().await.unwrap();

        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let (db, stop) = (db.clone(), std::sync::Arc::clone(&stop));
                tokio::spawn(async move {
                    let mut n = 0;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        db.fetch(&one(), &[super::ValueType::I32]).await.unwrap();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        for _ in 0..20 {
            let tx = db.begin().await.expect("a transaction among the reads");
            tx.commit().await.unwrap();
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for r in readers {
            assert!(r.await.unwrap() > 0);
        }
        db.close().await;
    }

    /// A transaction's connection goes back ready once committed or rolled
    /// back; one dropped open is rolled back (by a task) before anyone
    /// gets it again.
    #[tokio::test]
    async fn a_transaction_ends_before_its_connection_is_lent_again() {
        let dir = tempfile::tempdir().unwrap();
        let db = file_db(&dir, 1).await;
        let i64s = [super::ValueType::I64];
        let count = super::RawSql("SELECT count(*) FROM t".into());
        let insert = super::RawSql("INSERT INTO t VALUES (1)".into());
        db.execute(&super::RawSql("CREATE TABLE t (x INTEGER)".into()))
            .await
            .unwrap();
        let mut tx = db.begin().await.unwrap();
        tx.execute(&insert).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(db.warm.len(), 1, "committed: kept");
        {
            let mut tx = db.begin().await.unwrap();
            tx.execute(&insert).await.unwrap();
        }
        // The pool's one connection: this read waits for the rollback.
        let rows = db.fetch(&count, &i64s).await.unwrap();
        assert_eq!(
            rows[0][0],
            super::Value::I64(1),
            "the dropped one was rolled back"
        );
        let mut tx = db.begin().await.unwrap();
        tx.execute(&insert).await.unwrap();
        tx.rollback().await.unwrap();
        assert_eq!(db.warm.len(), 1, "rolled back: kept");
        let rows = db.fetch(&count, &i64s).await.unwrap();
        assert_eq!(rows[0][0], super::Value::I64(1));
        // And the connection takes a new transaction (none is left open).
        let mut tx = db.begin().await.unwrap();
        tx.execute(&insert).await.unwrap();
        tx.commit().await.unwrap();
        let rows = db.fetch(&count, &i64s).await.unwrap();
        assert_eq!(rows[0][0], super::Value::I64(2));
        db.close().await;
    }

    /// A burst of takers on a pool that has not opened all its
    /// connections: sqlx opens them for the first, the others get the
    /// connections given back, and no more are opened than the pool's
    /// size. (A taker that finds the pool not yet full but is then queued
    /// by sqlx, another having taken the last place, is served from here
    /// too: `Warm::take` races sqlx's wait in a task of its own. That
    /// interleaving is too narrow for a test to force.)
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_on_a_cold_pool_is_served_by_the_connections_given_back() {
        let dir = tempfile::tempdir().unwrap();
        let db = file_db(&dir, 2).await;
        let readers: Vec<_> = (0..16)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move {
                    for _ in 0..20 {
                        db.fetch(&one(), &[super::ValueType::I32]).await.unwrap();
                    }
                })
            })
            .collect();
        for r in readers {
            r.await.expect("every read gets a connection");
        }
        let (size, idle) = db.connections();
        assert!(size <= 2 && idle == size as usize, "{size} {idle}");
        db.close().await;
    }

    /// Closing gives the kept connections back, so it does not wait for
    /// them; the in-memory database's one connection is kept as well.
    #[tokio::test]
    async fn closing_does_not_wait_for_kept_connections() {
        let dir = tempfile::tempdir().unwrap();
        for db in [
            file_db(&dir, 2).await,
            super::Database::connect("sqlite::memory:").await.unwrap(),
        ] {
            db.fetch(&one(), &[super::ValueType::I32]).await.unwrap();
            assert_eq!(db.warm.len(), 1);
            let tx = db.begin().await.unwrap();
            tx.commit().await.unwrap();
            db.fetch(&one(), &[super::ValueType::I32]).await.unwrap();
            tokio::time::timeout(std::time::Duration::from_secs(5), db.close())
                .await
                .expect("close does not wait for kept connections");
            assert_eq!(db.warm.len(), 0);
        }
    }

    #[test]
    fn busy_codes() {
        // SQLITE_BUSY, SQLITE_BUSY_SNAPSHOT, SQLITE_LOCKED; serialization and deadlock.
        for code in ["5", "517", "6", "40001", "40P01", "55P03"] {
            assert!(is_busy(Some(code)), "{code}");
        }
        for code in ["19", "2067", "23505", "1811"] {
            assert!(!is_busy(Some(code)), "{code}");
        }
        assert!(!is_busy(None));
    }
}
