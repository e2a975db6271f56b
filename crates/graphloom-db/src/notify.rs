//! PostgreSQL's `LISTEN`/`NOTIFY`, for what one instance of a service must
//! tell the others (the row changes subscriptions follow). SQLite has no
//! other instances: there, [`Database::listen`] gives `None` and
//! [`Database::notify`] does nothing.

use sqlx::postgres::PgListener;

use crate::{Database, DbError, Pool, Result};

/// A connection listening on one channel.
#[derive(Debug)]
pub struct Listener(PgListener);

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
        match self.0.try_recv().await.map_err(DbError::from_sqlx)? {
            Some(n) => Ok(Heard::Payload(n.payload().to_owned())),
            None => Ok(Heard::Lost),
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
            Pool::Postgres(p) => {
                let mut l = PgListener::connect_with(p)
                    .await
                    .map_err(DbError::from_sqlx)?;
                l.listen(channel).await.map_err(DbError::from_sqlx)?;
                Ok(Some(Listener(l)))
            }
        }
    }

    /// Sends each of `payloads` on `channel`, in one statement (PostgreSQL;
    /// nothing on SQLite). Each must be at most [`MAX_PAYLOAD`] bytes.
    pub async fn notify(&self, channel: &str, payloads: &[String]) -> Result<()> {
        let Pool::Postgres(p) = &self.pool else {
            return Ok(());
        };
        if payloads.is_empty() {
            return Ok(());
        }
        let sql = "SELECT pg_notify($1, p) FROM unnest($2::text[]) AS p";
        crate::log::record(sql);
        self.reachable(async {
            sqlx::query(sql)
                .bind(channel)
                .bind(payloads)
                .execute(p)
                .await
                .map(drop)
                .map_err(DbError::from_sqlx)
        })
        .await
    }
}
