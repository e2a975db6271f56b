//! Connections given back ready, kept beside sqlx's pool.
//!
//! sqlx checks every connection that comes back to its pool with a round
//! trip (a `Sync` on PostgreSQL, a message to the connection's thread on
//! SQLite), because a statement abandoned halfway leaves it in a state
//! nobody knows. A connection whose every statement ran to its end is in a
//! known state: ready. [`crate::Reads`] gives such a connection back here,
//! and so does a transaction once committed or rolled back (it is begun
//! and ended with plain statements for that), and the next taker gets it
//! without the check and without the task sqlx spawns to run it: one round
//! trip fewer per request, and the connection is free again as soon as the
//! request is done with it.
//!
//! To sqlx, a kept connection is still taken, so its pool size stays the
//! bound, and takers are served as sqlx would serve them:
//! - one given back goes to the oldest taker waiting here (first come,
//!   first served), else it is kept, newest first;
//! - a taker waits on sqlx too, for connections that go back there (after
//!   an error, a transaction); it waits here as well only once sqlx has
//!   opened all it may, since abandoning sqlx's wait for one given back
//!   here could abandon a connection being opened;
//! - whoever waits on sqlx's queue alone (a migration, a listener) is
//!   counted, and while anyone is, connections go back to sqlx, which hands
//!   them over; one kept connection goes back as such a taker starts to
//!   wait when sqlx has none idle;
//! - a connection kept longer than [`KEEP`] goes back to sqlx (its check,
//!   its idle and lifetime limits) instead of being used.

use std::{
    collections::VecDeque,
    future::Future,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use tokio::sync::oneshot;

use crate::{DbError, PoolConn, Result};

/// How long a connection is kept here, unused, before it goes back to sqlx.
pub(crate) const KEEP: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub(crate) struct Warm {
    state: Mutex<State>,
    /// [`KEEP`], but in tests.
    keep_for: Duration,
}

impl Default for Warm {
    fn default() -> Self {
        Warm {
            state: Mutex::default(),
            keep_for: KEEP,
        }
    }
}

#[derive(Debug, Default)]
struct State {
    /// Newest last.
    idle: Vec<(PoolConn, Instant)>,
    /// Takers waiting for a connection given back, oldest first: one
    /// given back goes straight to the oldest still waiting.
    waiting: VecDeque<oneshot::Sender<PoolConn>>,
    /// Takers waiting on sqlx's own queue.
    queued: usize,
    /// The pool is closing: nothing is kept any more.
    closed: bool,
}

impl Warm {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The newest kept connection still within [`KEEP`], or a place in
    /// the queue for the next one given back.
    fn pop(&self) -> std::result::Result<PoolConn, oneshot::Receiver<PoolConn>> {
        let mut stale = Vec::new();
        let got = {
            let mut s = self.state();
            loop {
                match s.idle.pop() {
                    Some((conn, at)) if at.elapsed() < self.keep_for => break Ok(conn),
                    Some((conn, _)) => stale.push(conn),
                    None => {
                        // Takers served meanwhile (by sqlx) or gone leave
                        // their place behind: dropped here, so the queue
                        // holds no more than the takers waiting now, even
                        // where no connection is ever given back.
                        s.waiting.retain(|t| !t.is_closed());
                        let (tx, rx) = oneshot::channel();
                        s.waiting.push_back(tx);
                        break Err(rx);
                    }
                }
            }
        };
        // Back to sqlx, outside the lock.
        drop(stale);
        got
    }

    /// A kept connection, or else the first of one from sqlx's pool
    /// (`fresh()`) and one given back here meanwhile. When sqlx may open
    /// no more (`full`), it only hands over connections that come back to
    /// it, and abandoning its wait costs nothing. Otherwise it may be
    /// opening one for this taker: that wait runs as a task of its own,
    /// and a connection it opens for a taker already served is kept here.
    pub(crate) async fn take<F>(
        self: &Arc<Self>,
        full: bool,
        fresh: impl FnOnce() -> F,
    ) -> Result<PoolConn>
    where
        F: Future<Output = Result<PoolConn>> + Send + 'static,
    {
        let given = match self.pop() {
            Ok(conn) => return Ok(conn),
            Err(given) => given,
        };
        if full {
            return tokio::select! {
                conn = fresh() => conn,
                Ok(conn) = given => Ok(conn),
            };
        }
        let (opened, from_sqlx) = oneshot::channel();
        let fresh = fresh();
        let warm = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(Ok(conn)) = opened.send(fresh.await) {
                warm.keep(conn);
            }
        });
        tokio::select! {
            Ok(conn) = from_sqlx => conn,
            Ok(conn) = given => Ok(conn),
            // Neither ends without an answer but at a panic or the
            // runtime's shutdown.
            else => Err(DbError::Unreachable),
        }
    }

    /// Runs `fut`, which waits on sqlx's own queue, counted as such a
    /// taker (see the module). `sqlx_idle` says whether sqlx has an idle
    /// connection to give; when it has none, a kept one goes back to it.
    pub(crate) async fn queued<T>(&self, sqlx_idle: bool, fut: impl Future<Output = T>) -> T {
        let handed = {
            let mut s = self.state();
            s.queued += 1;
            if sqlx_idle { None } else { s.idle.pop() }
        };
        drop(handed);
        let _queued = Queued(self);
        fut.await
    }

    /// Hands `conn`, ready for its next statement, to the oldest taker
    /// waiting here, or keeps it; or gives it back to sqlx when somebody
    /// waits there or the pool is closing.
    pub(crate) fn keep(&self, conn: PoolConn) {
        let mut s = self.state();
        if s.queued > 0 || s.closed {
            drop(s);
            drop(conn);
            return;
        }
        let mut conn = conn;
        while let Some(taker) = s.waiting.pop_front() {
            match taker.send(conn) {
                Ok(()) => return,
                // That taker got one from sqlx meanwhile, or gave up.
                Err(back) => conn = back,
            }
        }
        s.idle.push((conn, Instant::now()));
    }

    /// Gives every kept connection back to sqlx (which checks each: after
    /// a lost connection, the others may be dead too).
    pub(crate) fn release_all(&self) {
        let all = std::mem::take(&mut self.state().idle);
        drop(all);
    }

    /// Gives every kept connection back and keeps none from now on.
    pub(crate) fn close(&self) {
        let (all, waiting) = {
            let mut s = self.state();
            s.closed = true;
            (std::mem::take(&mut s.idle), std::mem::take(&mut s.waiting))
        };
        // Takers waiting here go on waiting on sqlx.
        drop((all, waiting));
    }

    /// Connections kept now.
    pub(crate) fn len(&self) -> usize {
        self.state().idle.len()
    }
}

/// A taker counted in [`State::queued`] until dropped (also when its wait
/// is abandoned).
struct Queued<'a>(&'a Warm);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.state().queued -= 1;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sqlx::sqlite::SqlitePoolOptions;

    use super::Warm;
    use crate::PoolConn;

    async fn pool() -> sqlx::SqlitePool {
        SqlitePoolOptions::new()
            .max_connections(2)
            .connect("sqlite::memory:")
            .await
            .unwrap()
    }

    /// A connection kept longer than the limit is not used: it goes back
    /// to sqlx (which checks it and keeps it idle).
    #[tokio::test]
    async fn a_connection_kept_too_long_goes_back_to_sqlx() {
        let pool = pool().await;
        let warm = Warm {
            keep_for: Duration::from_millis(50),
            ..Warm::default()
        };
        warm.keep(PoolConn::Sqlite(pool.acquire().await.unwrap()));
        assert!(warm.pop().is_ok(), "fresh: used");
        warm.keep(PoolConn::Sqlite(pool.acquire().await.unwrap()));
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(warm.pop().is_err(), "stale: not used");
        assert_eq!(warm.len(), 0);
        let mut waited = 0;
        while pool.num_idle() == 0 {
            assert!(waited < 100, "the stale connection never reached sqlx");
            tokio::time::sleep(Duration::from_millis(10)).await;
            waited += 1;
        }
    }

    /// Takers served elsewhere leave no place behind in the queue, even
    /// when no connection is ever given back (every statement failing).
    #[tokio::test]
    async fn the_queue_holds_only_the_takers_waiting_now() {
        let warm = Warm::default();
        for _ in 0..100 {
            // A taker registers, then is served by sqlx and goes.
            drop(warm.pop());
        }
        assert_eq!(warm.state().waiting.len(), 1);
        let waiting = warm.pop();
        let _also = warm.pop();
        assert_eq!(warm.state().waiting.len(), 2);
        drop(waiting);
        let pool = pool().await;
        warm.keep(PoolConn::Sqlite(pool.acquire().await.unwrap()));
        assert_eq!(warm.state().waiting.len(), 0, "the live taker was served");
        assert_eq!(warm.len(), 0);
    }
}
