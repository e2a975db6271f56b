//! PostgreSQL's `LISTEN`/`NOTIFY`, for what one instance of a service must
//! tell the others (the row changes subscriptions follow). SQLite has no
//! other instances: there, [`Database::listen`] gives `None` and
//! [`Database::notify`] does nothing.

use sqlx::postgres::PgListener;

use crate::{Database, DbError, Pool, PoolConn, Reads, Result};

/// A connection listening on one channel.
#[derive(Debug)]
pub struct Listener {
    inner: PgListener,
    db: Database,
    channel: String,
    /// The connection was lost: the next `recv` connects again.
    lost: bool,
}

/// What a listener heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// A notification's payload.
    Payload(String),
    /// The connection was lost: notifications sent meanwhile are lost
    /// too. The next [`Listener::recv`] connects again (and listens again).
    Lost,
}

impl Listener {
    /// The next notification, or word that the connection was lost. An
    /// error says that connecting again failed; call again to retry.
    pub async fn recv(&mut self) -> Result<Heard> {
        if self.lost {
            // A listener of our own rather than sqlx's reconnection, which
            // would wait on sqlx's queue uncounted (see `warm`).
            self.inner = self.db.pg_listener(&self.channel).await?;
            self.lost = false;
        }
        match self.inner.try_recv().await.map_err(DbError::from_sqlx)? {
            Some(n) => Ok(Heard::Payload(n.payload().to_owned())),
            None => {
                self.lost = true;
                Ok(Heard::Lost)
            }
        }
    }
}

/// The most bytes PostgreSQL takes in one payload (8000, less a margin).
pub const MAX_PAYLOAD: usize = 7900;

impl Database {
    /// Listens on `channel`, on a connection of its own (PostgreSQL);
    /// `None` on SQLite.
    pub async fn listen(&self, channel: &str) -> Result<Option<Listener>> {
        match &self.pool {
            Pool::Sqlite(_) => Ok(None),
            Pool::Postgres(_) => Ok(Some(Listener {
                inner: self.pg_listener(channel).await?,
                db: self.clone(),
                channel: channel.to_owned(),
                lost: false,
            })),
        }
    }

    /// A sqlx listener on `channel`: a connection it keeps, taken from
    /// sqlx's own queue, counted as such a taker (see [`crate::warm`]).
    async fn pg_listener(&self, channel: &str) -> Result<PgListener> {
        let Pool::Postgres(p) = &self.pool else {
            return Err(DbError::Unreachable);
        };
        let sqlx_idle = self.sqlx_idle() > 0;
        self.warm
            .queued(sqlx_idle, async {
                let mut l = PgListener::connect_with(p)
                    .await
                    .map_err(DbError::from_sqlx)?;
                l.listen(channel).await.map_err(DbError::from_sqlx)?;
                Ok(l)
            })
            .await
    }

    /// Sends each of `payloads` on `channel`, in one statement (PostgreSQL;
    /// nothing on SQLite). Each must be at most [`MAX_PAYLOAD`] bytes.
    pub async fn notify(&self, channel: &str, payloads: &[String]) -> Result<()> {
        if matches!(self.pool, Pool::Sqlite(_)) || payloads.is_empty() {
            return Ok(());
        }
        let sql = "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p";
        crate::log::record(sql);
        // On a connection of the pool as a read's (given back ready).
        let mut reads = Reads::new(self);
        let PoolConn::Postgres(conn) = reads.conn().await? else {
            return Ok(());
        };
        let sent = sqlx::query(sql)
            .bind(channel)
            .bind(payloads)
            .execute(&mut **conn)
            .await
            .map(drop)
            .map_err(DbError::from_sqlx);
        reads.ready = sent.is_ok();
        sent
    }
}
