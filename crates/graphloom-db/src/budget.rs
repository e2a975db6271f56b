//! A byte budget for the rows one request reads: inside a [`read_budget`]
//! scope every fetched row is charged its size, and the statement that goes
//! past the budget fails as [`DbError::TooLarge`] before its rows are kept.
//!
//! The cost limits count rows before any SQL runs, but not their width: a
//! page of 25,000 rows of megabyte-long text is within the row budget and
//! would be held in memory whole. This is what stops it, at the database,
//! as the rows arrive. A request's statements run in one task, so a scope
//! around it sees them all.

use std::{cell::Cell, future::Future};

use graphloom_meta::Value;

use crate::DbError;

tokio::task_local! {
    /// Bytes the current scope may still read, and its whole budget.
    static LEFT: (Cell<u64>, u64);
}

/// Runs `fut` with at most `max_bytes` of row data readable by the
/// statements it runs (text and JSON by their length, other values as 8
/// bytes); `u64::MAX` for no limit.
pub async fn read_budget<F: Future>(max_bytes: u64, fut: F) -> F::Output {
    LEFT.scope((Cell::new(max_bytes), max_bytes), fut).await
}

/// Charges one row to the current scope's budget.
pub(crate) fn charge(row: &[Value]) -> Result<(), DbError> {
    LEFT.try_with(|(left, max)| {
        let size: u64 = row.iter().map(size).sum();
        match left.get().checked_sub(size) {
            Some(rest) => {
                left.set(rest);
                Ok(())
            }
            None => {
                left.set(0);
                Err(DbError::TooLarge { max: *max })
            }
        }
    })
    // Outside any scope: no budget.
    .unwrap_or(Ok(()))
}

/// About what a value takes in a response.
fn size(v: &Value) -> u64 {
    match v {
        Value::String(s) => s.len() as u64,
        Value::Json(j) => json_size(j),
        Value::Tuple(parts) => parts.iter().map(size).sum(),
        Value::Null
        | Value::Bool(_)
        | Value::I32(_)
        | Value::I64(_)
        | Value::F64(_)
        | Value::Decimal(_)
        | Value::Date(_)
        | Value::DateTime(_)
        | Value::Uuid(_) => 8,
    }
}

fn json_size(j: &serde_json::Value) -> u64 {
    match j {
        serde_json::Value::String(s) => s.len() as u64,
        serde_json::Value::Array(items) => items.iter().map(json_size).sum::<u64>() + 2,
        serde_json::Value::Object(m) => m
            .iter()
            .map(|(k, v)| k.len() as u64 + json_size(v))
            .sum::<u64>()
            .saturating_add(2),
        serde_json::Value::Null | serde_json::Value::Bool(_) | serde_json::Value::Number(_) => 8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(text: &str) -> Vec<Value> {
        vec![Value::String(text.into()), Value::I64(1)]
    }

    #[tokio::test]
    async fn a_scope_fails_the_statement_that_goes_past_it() {
        read_budget(40, async {
            // 10 + 8 and 10 + 8: 36 of 40.
            assert!(charge(&row("0123456789")).is_ok());
            assert!(charge(&row("0123456789")).is_ok());
            let Err(DbError::TooLarge { max }) = charge(&row("abcde")) else {
                panic!("over the budget")
            };
            assert_eq!(max, 40);
            // Spent: even a tiny read fails after.
            assert!(charge(&row("")).is_err());
        })
        .await;
        // Outside a scope nothing is counted.
        assert!(charge(&row(&"x".repeat(1 << 20))).is_ok());
    }

    #[test]
    fn json_is_charged_by_its_strings_and_keys() {
        let j = serde_json::json!({ "key": ["abc", 1, null] });
        assert_eq!(json_size(&j), 3 + (3 + 8 + 8 + 2) + 2);
    }
}
