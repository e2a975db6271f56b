//! Statement capture: every statement run inside a [`capture`] scope is recorded
//! there and in every enclosing scope. Resolvers of one GraphQL request run in one
//! task, so a scope around the request sees all of its statements.

use std::{
    future::Future,
    sync::{Arc, Mutex},
};

#[derive(Debug, Default)]
struct Scope {
    statements: Mutex<Vec<String>>,
    /// Whether `BEGIN`, `COMMIT` and `ROLLBACK` are recorded too.
    control: bool,
    parent: Option<Arc<Scope>>,
}

tokio::task_local! {
    static CURRENT: Arc<Scope>;
}

/// Runs `fut` and returns its output with the SQL of every statement it ran, in order.
pub async fn capture<F: Future>(fut: F) -> (F::Output, Vec<String>) {
    let scope = open(false);
    let out = CURRENT.scope(Arc::clone(&scope), fut).await;
    (out, close(&scope))
}

/// [`capture`], with the transactions' `BEGIN`, `COMMIT` and `ROLLBACK`
/// among the statements: what a write costs in round trips.
pub async fn capture_with_transactions<F: Future>(fut: F) -> (F::Output, Vec<String>) {
    let scope = open(true);
    let out = CURRENT.scope(Arc::clone(&scope), fut).await;
    (out, close(&scope))
}

fn open(control: bool) -> Arc<Scope> {
    Arc::new(Scope {
        statements: Mutex::new(Vec::new()),
        control,
        parent: CURRENT.try_with(Arc::clone).ok(),
    })
}

fn close(scope: &Scope) -> Vec<String> {
    match scope.statements.lock() {
        Ok(mut s) => std::mem::take(&mut *s),
        Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
    }
}

pub(crate) fn record(sql: &str) {
    tracing::debug!(target: "graphloom::sql", "{sql}");
    push(sql, false);
}

/// Records a transaction's `BEGIN`, `COMMIT` or `ROLLBACK`, for the scopes
/// that asked for them.
pub(crate) fn record_control(sql: &str) {
    push(sql, true);
}

fn push(sql: &str, control: bool) {
    let _ = CURRENT.try_with(|scope| {
        let mut next = Some(Arc::clone(scope));
        while let Some(s) = next {
            if (!control || s.control)
                && let Ok(mut v) = s.statements.lock()
            {
                v.push(sql.to_owned());
            }
            next = s.parent.clone();
        }
    });
}
