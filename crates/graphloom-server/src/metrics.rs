//! Prometheus metrics at `/metrics`, through the `metrics` facade: any
//! crate of the service (the auth app's login throttle, say) records with
//! `metrics::counter!` and the series appear here.
//!
//! | series | labels | what |
//! |---|---|---|
//! | `graphloom_requests_total` | `operation`, `outcome` | GraphQL requests; `outcome` is `ok` or the first error's code |
//! | `graphloom_request_duration_seconds` | `operation` | histogram of the time to answer |
//! | `graphloom_sql_statements` | `operation` | histogram of SQL statements per request: an N+1 regression shows as a shift |
//! | `graphloom_db_connections` | `state` (`idle`, `busy`) | the pool, read at each scrape |
//! | `graphloom_db_up` | | 1 while the database answers (PostgreSQL's probe), else 0 |
//! | `graphloom_rate_limited_total` | `what` | refused attempts (`login`) |
//!
//! `operation` is the request's `operationName`: clients choose it, so at
//! most [`OPERATIONS`] distinct names are kept as labels (the first ones
//! seen), the rest count as `other`; a request without one is `anonymous`.

use std::{
    collections::HashSet,
    sync::{Mutex, OnceLock},
};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Distinct operation names kept as label values.
pub const OPERATIONS: usize = 200;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
static NAMES: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();

/// The process's Prometheus recorder, installed the first time it is asked
/// for; `None` when the application installed another recorder first
/// (then its exporter serves the series).
pub(crate) fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let seconds = [
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ];
            let statements = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 8.0, 13.0, 21.0, 34.0, 55.0, 100.0];
            let built = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Full("graphloom_request_duration_seconds".into()),
                    &seconds,
                )
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("graphloom_sql_statements".into()),
                        &statements,
                    )
                })
                .and_then(|b| b.install_recorder());
            match built {
                Ok(handle) => Some(handle),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics: another recorder is installed; /metrics is off");
                    None
                }
            }
        })
        .as_ref()
}

/// The label for a request's operation name. Names are kept as
/// `&'static str` (at most [`OPERATIONS`] of them, leaked once each), so
/// recording a request allocates no label.
pub(crate) fn operation(name: Option<&str>) -> &'static str {
    let Some(name) = name.filter(|n| !n.is_empty()) else {
        return "anonymous";
    };
    // A GraphQL name, as the spec spells it; anything else is not one.
    let valid = name.len() <= 100
        && name.starts_with(|c: char| c == '_' || c.is_ascii_alphabetic())
        && name.chars().all(|c| c == '_' || c.is_ascii_alphanumeric());
    if !valid {
        return "other";
    }
    let names = NAMES.get_or_init(Mutex::default);
    let mut names = match names.lock() {
        Ok(n) => n,
        Err(poisoned) => poisoned.into_inner(),
    };
    if let Some(known) = names.get(name) {
        return known;
    }
    if names.len() < OPERATIONS {
        let kept: &'static str = Box::leak(name.to_owned().into_boxed_str());
        names.insert(kept);
        kept
    } else {
        "other"
    }
}

/// The label for a request's outcome: `ok`, or the first error's code if
/// it is one of graphloom's, else `error`.
pub(crate) fn outcome(response: &graphloom_graphql::ApiResponse) -> &'static str {
    if response.errors.is_empty() {
        return "ok";
    }
    response.first_code().map_or("error", |c| c.as_str())
}

/// Records one answered GraphQL request.
pub(crate) fn request(
    operation: &'static str,
    outcome: &'static str,
    seconds: f64,
    statements: usize,
) {
    metrics::counter!("graphloom_requests_total", "operation" => operation, "outcome" => outcome)
        .increment(1);
    metrics::histogram!("graphloom_request_duration_seconds", "operation" => operation)
        .record(seconds);
    metrics::histogram!("graphloom_sql_statements", "operation" => operation)
        .record(statements as f64);
}

/// The scrape: the pool's gauges read now, then every series.
pub(crate) fn render(handle: &PrometheusHandle, db: &graphloom_db::Database) -> String {
    let (size, idle) = db.connections();
    metrics::gauge!("graphloom_db_connections", "state" => "idle").set(idle as f64);
    metrics::gauge!("graphloom_db_connections", "state" => "busy")
        .set(size.saturating_sub(idle as u32) as f64);
    metrics::gauge!("graphloom_db_up").set(if db.is_up() { 1.0 } else { 0.0 });
    handle.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_are_bounded_labels() {
        assert_eq!(operation(None), "anonymous");
        assert_eq!(operation(Some("")), "anonymous");
        assert_eq!(operation(Some("bad name\"}")), "other");
        assert_eq!(operation(Some(&"x".repeat(101))), "other");
        assert_eq!(operation(Some("PostPage")), "PostPage");
        for i in 0..OPERATIONS {
            operation(Some(&format!("Op{i}")));
        }
        // Full: a name seen before keeps its label, a new one is `other`.
        assert_eq!(operation(Some("PostPage")), "PostPage");
        assert_eq!(operation(Some("BrandNew")), "other");
    }
}
