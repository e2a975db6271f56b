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
    parent: Option<Arc<Scope>>,
}

tokio::task_local! {
    static CURRENT: Arc<Scope>;
}

/// Runs `fut` and returns its output with the SQL of every statement it ran, in order.
pub async fn capture<F: Future>(fut: F) -> (F::Output, Vec<String>) {
    let parent = CURRENT.try_with(Arc::clone).ok();
    let scope = Arc::new(Scope {
        statements: Mutex::new(Vec::new()),
        parent,
    });
    let out = CURRENT.scope(Arc::clone(&scope), fut).await;
    let statements = match scope.statements.lock() {
        Ok(mut s) => std::mem::take(&mut *s),
        Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
    };
    (out, statements)
}

pub(crate) fn record(sql: &str) {
    tracing::debug!(target: "graphloom::sql", "{sql}");
    let _ = CURRENT.try_with(|scope| {
        let mut next = Some(Arc::clone(scope));
        while let Some(s) = next {
            if let Ok(mut v) = s.statements.lock() {
                v.push(sql.to_owned());
            }
            next = s.parent.clone();
        }
    });
}
