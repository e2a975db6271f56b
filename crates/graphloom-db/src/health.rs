//! Whether a PostgreSQL server answers, watched from outside the pool.
//!
//! When the server goes away, sqlx's pool keeps trying to connect until
//! the acquire timeout (10 s by default): every request, and every
//! readiness probe, would hang that long. A probe on a connection of its
//! own (`SELECT 1` every [`DatabaseOptions::probe_interval`]) decides
//! instead (refused or dropped at once, or unanswered twice running):
//! while it fails, taking a connection fails at once as
//! [`DbError::Unreachable`] (and one already waiting gives up the moment
//! the probe fails), and readiness answers from the last probe. The first
//! probe that answers again lets requests through.
//!
//! [`DatabaseOptions::probe_interval`]: crate::DatabaseOptions::probe_interval

use std::{future::Future, time::Duration};

use sqlx::{Connection, Executor, PgConnection, PgPool, postgres::PgConnectOptions};
use tokio::sync::watch;

use crate::{DbError, Result};

/// The probe's `application_name`, as `pg_stat_activity` shows it.
pub const PROBE_NAME: &str = "graphloom probe";

/// How many probes in a row must go unanswered in time before the server
/// counts as down.
const SLOW_PROBES_DOWN: u32 = 2;

/// The probe's view: `true` while the server answers.
#[derive(Debug, Clone)]
pub(crate) struct Health {
    up: watch::Receiver<bool>,
}

impl Health {
    /// Starts probing `options`' server every `interval`; the probe stops
    /// when `pool` is closed or every `Health` is dropped.
    pub(crate) fn watch(options: PgConnectOptions, pool: PgPool, interval: Duration) -> Health {
        let (tx, up) = watch::channel(true);
        let options = options.application_name(PROBE_NAME);
        tokio::spawn(probe(options, pool, interval, tx));
        Health { up }
    }

    pub(crate) fn is_up(&self) -> bool {
        *self.up.borrow()
    }

    /// Runs `fut` (taking a connection), unless the server is down or
    /// goes down meanwhile.
    pub(crate) async fn guard<T>(&self, fut: impl Future<Output = Result<T>>) -> Result<T> {
        let mut up = self.up.clone();
        if !*up.borrow_and_update() {
            return Err(DbError::Unreachable);
        }
        tokio::select! {
            r = fut => r,
            _ = up.wait_for(|up| !*up) => Err(DbError::Unreachable),
        }
    }
}

/// What one probe found.
#[derive(Debug, Clone, Copy)]
enum Probe {
    Answered,
    /// The server refused or dropped the connection, or the query failed.
    Refused,
    /// No answer within the limit.
    Unanswered,
}

/// Whether the server counts as up after `probe`; `slow` counts the
/// unanswered probes in a row.
fn is_up(probe: Probe, slow: &mut u32) -> bool {
    match probe {
        Probe::Answered => {
            *slow = 0;
            true
        }
        Probe::Refused => false,
        Probe::Unanswered => {
            *slow += 1;
            *slow < SLOW_PROBES_DOWN
        }
    }
}

async fn probe(
    options: PgConnectOptions,
    pool: PgPool,
    interval: Duration,
    tx: watch::Sender<bool>,
) {
    // A probe that takes longer than this counts as a failure: long enough
    // for a loaded server to answer `SELECT 1`, short enough that readiness
    // follows a server that stopped answering within about a second.
    let limit = interval.max(Duration::from_millis(500));
    let mut conn: Option<PgConnection> = None;
    // Probes in a row that got no answer in time. A server that refuses or
    // drops the connection is down at once; one that is only slow, twice
    // running: a single slow answer (a busy machine, a connection that
    // took long to open) must not fail every request for an interval.
    let mut slow = 0u32;
    while !tx.is_closed() && !pool.is_closed() {
        let answered = tokio::time::timeout(limit, async {
            // A connection that died while the server stayed up (a
            // restart of a proxy, an idle timeout) is replaced at once:
            // only a server that refuses a fresh one is down.
            if let Some(c) = &mut conn {
                if c.execute("SELECT 1").await.is_ok() {
                    return Ok(());
                }
                conn = None;
            }
            let c = conn.insert(PgConnection::connect_with(&options).await?);
            c.execute("SELECT 1").await.map(drop)
        })
        .await;
        let outcome = match answered {
            Ok(Ok(())) => Probe::Answered,
            Ok(Err(_)) => Probe::Refused,
            Err(_) => Probe::Unanswered,
        };
        let up = is_up(outcome, &mut slow);
        if !matches!(outcome, Probe::Answered) {
            // Whatever state it is in, the next probe starts afresh.
            conn = None;
        }
        tx.send_if_modified(|was| {
            if *was == up {
                return false;
            }
            if up {
                tracing::info!("the database answers again");
            } else {
                let why = match answered {
                    Ok(Err(e)) => e.to_string(),
                    _ => format!("no answer within {limit:?}"),
                };
                tracing::warn!(error = %why, "the database does not answer; requests fail fast until it does");
            }
            *was = up;
            true
        });
        tokio::time::sleep(interval).await;
    }
    if let Some(c) = conn {
        let _ = c.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::{Probe, is_up};

    #[test]
    fn down_when_refused_or_unanswered_twice_running() {
        let mut slow = 0;
        assert!(!is_up(Probe::Refused, &mut slow));
        assert!(is_up(Probe::Unanswered, &mut slow));
        assert!(is_up(Probe::Answered, &mut slow));
        // An answer in between starts the count again.
        assert!(is_up(Probe::Unanswered, &mut slow));
        assert!(!is_up(Probe::Unanswered, &mut slow));
        assert!(!is_up(Probe::Unanswered, &mut slow));
        assert!(is_up(Probe::Answered, &mut slow));
    }
}
