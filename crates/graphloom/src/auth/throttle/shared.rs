//! The counters in a table every instance shares ([`LoginThrottle`]), for
//! services on PostgreSQL: N instances allow what one does.
//!
//! An attempt is counted when it starts, under row locks on its three
//! counters (taken in key order, so two logins never wait on each other in
//! a cycle): past a counter's free failures the attempt pushes its delay
//! forward at once, so concurrent attempts on any instance see it. A
//! success takes its count back: it clears the pair and the account, and
//! gives the address its attempt back. So what the in-memory table does
//! with attempts in flight, this does by counting pessimistically: an
//! attempt whose request died before its verdict counts as a failure.

use std::time::Duration;

use chrono::{DateTime, Utc};
use graphloom_db::{Dialect, Tx, sea_query};
use graphloom_meta::{ModelKey, ModelMeta, Value, ValueType};
use graphloom_query::{Engine, Error, Result};
use sea_query::{Alias, Expr, ExprTrait, LockType, OnConflict, Order, Query};
use sha2::{Digest, Sha256};

use super::{Kind, Throttling, delay, free};
use crate::auth::LoginThrottle;

/// The counters of one attempt, by their stored keys.
#[derive(Debug)]
pub(crate) struct Shared {
    keys: [(Kind, String); 3],
}

/// The table and its columns, as the registry resolved them.
struct Table {
    name: Alias,
    key: Alias,
    failures: Alias,
    last_at: Alias,
    until_at: Alias,
}

impl Table {
    fn of(engine: &Engine) -> Result<Table> {
        let reg = engine.registry();
        let m = reg
            .by_key(ModelKey::of::<LoginThrottle>())
            .ok_or_else(|| Error::internal("the auth app's LoginThrottle is not registered"))?;
        let col = |m: &ModelMeta, name: &str| {
            m.field(name)
                .map(|(_, f)| Alias::new(&f.column))
                .ok_or_else(|| Error::internal(format!("LoginThrottle has no field {name}")))
        };
        Ok(Table {
            name: Alias::new(&m.table),
            key: col(m, "key")?,
            failures: col(m, "failures")?,
            last_at: col(m, "last_at")?,
            until_at: col(m, "until_at")?,
        })
    }
}

impl Table {
    /// An INSERT of counters `(key, failures, until)`, last counted `now`.
    fn rows<'k>(
        &self,
        rows: impl IntoIterator<Item = (&'k str, i32, DateTime<Utc>)>,
        now: DateTime<Utc>,
        conflict: OnConflict,
    ) -> Result<sea_query::InsertStatement> {
        let mut insert = Query::insert();
        insert
            .into_table(self.name.clone())
            .columns([
                self.key.clone(),
                self.failures.clone(),
                self.last_at.clone(),
                self.until_at.clone(),
            ])
            .on_conflict(conflict);
        for (key, failures, until) in rows {
            insert
                .values([
                    val(Value::String(key.to_owned())).into(),
                    val(Value::I32(failures)).into(),
                    val(Value::DateTime(now)).into(),
                    val(Value::DateTime(until)).into(),
                ])
                .map_err(Error::internal)?;
        }
        Ok(insert)
    }
}

/// A counter's stored key: a hash, so any login fits the column.
fn stored(key: &str) -> String {
    format!("{:x}", Sha256::digest(key.as_bytes()))
}

fn val(v: Value) -> sea_query::Value {
    graphloom_db::to_sea(&v, Dialect::POSTGRES)
}

/// One counter's next state for an attempt starting `now`, or how long it
/// must wait.
fn step(
    policy: &Throttling,
    kind: Kind,
    row: Option<(i32, DateTime<Utc>, DateTime<Utc>)>,
    now: DateTime<Utc>,
) -> std::result::Result<(i32, DateTime<Utc>), Duration> {
    let (failures, last, until) = row.unwrap_or((0, now, now));
    if now < until {
        return Err((until - now).to_std().unwrap_or(policy.first_delay));
    }
    let idle = (now - last).to_std().unwrap_or_default();
    let counted = if idle >= policy.window { 0 } else { failures }.saturating_add(1);
    let wait = delay(policy, kind, u32::try_from(counted).unwrap_or(u32::MAX));
    let until = wait
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .map_or(now, |d| now + d);
    Ok((counted, until))
}

/// Counts an attempt on its three counters, or says how long to wait.
pub(crate) async fn begin(
    engine: &Engine,
    policy: &Throttling,
    keys: [(Kind, String); 3],
) -> Result<std::result::Result<Shared, Duration>> {
    let t = Table::of(engine)?;
    let keys = keys.map(|(kind, key)| (kind, stored(&key)));
    let now = Utc::now();
    let mut tx = engine.db().begin().await?;
    let fresh = keys.iter().map(|(_, key)| (key.as_str(), 0, now));
    let insert = t.rows(
        fresh,
        now,
        OnConflict::column(t.key.clone()).do_nothing().to_owned(),
    )?;
    tx.execute(&insert).await?;
    let rows = lock(&mut tx, &t, keys.iter().map(|(_, k)| k.clone())).await?;
    let mut wait = Duration::ZERO;
    let mut next = Vec::with_capacity(3);
    for (kind, key) in &keys {
        let row = rows
            .iter()
            .find(|(k, ..)| k == key)
            .map(|(_, f, l, u)| (*f, *l, *u));
        match step(policy, *kind, row, now) {
            Ok(state) => next.push((key, state)),
            Err(w) => wait = wait.max(w),
        }
    }
    if !wait.is_zero() {
        tx.rollback().await?;
        return Ok(Err(wait));
    }
    // The three new states in one statement (the rows are locked above).
    let states = next
        .iter()
        .map(|(key, (failures, until))| (key.as_str(), *failures, *until));
    let upsert = t.rows(
        states,
        now,
        OnConflict::column(t.key.clone())
            .update_columns([t.failures.clone(), t.last_at.clone(), t.until_at.clone()])
            .to_owned(),
    )?;
    tx.execute(&upsert).await?;
    tx.commit().await?;
    Ok(Ok(Shared { keys }))
}

impl Shared {
    /// The attempt succeeded: the pair and the account start again, the
    /// address gets its attempt back (and loses its delay if that brings
    /// it under its free failures).
    pub(crate) async fn succeed(self, engine: &Engine, policy: &Throttling) -> Result<()> {
        let t = Table::of(engine)?;
        let db = engine.db();
        let key = |kinds: &[Kind]| {
            self.keys
                .iter()
                .filter(|(kind, _)| kinds.contains(kind))
                .map(|(_, k)| val(Value::String(k.clone())))
                .collect::<Vec<_>>()
        };
        let mut delete = Query::delete();
        delete
            .from_table(t.name.clone())
            .and_where(Expr::col(t.key.clone()).is_in(key(&[Kind::Pair, Kind::Account])));
        db.execute(&delete).await?;
        // One statement, so no lock: SET sees the row as it was, and an
        // address back under its free failures loses its delay.
        let failures = Expr::col(t.failures.clone());
        let free = i64::from(free(policy, Kind::Address));
        let mut update = Query::update();
        update
            .table(t.name.clone())
            .values([
                (
                    t.failures.clone(),
                    Expr::case(failures.clone().gt(0), failures.clone().sub(1))
                        .finally(0)
                        .into(),
                ),
                (
                    t.until_at.clone(),
                    Expr::case(failures.lte(free), val(Value::DateTime(Utc::now())))
                        .finally(Expr::col(t.until_at.clone()))
                        .into(),
                ),
            ])
            .and_where(Expr::col(t.key.clone()).is_in(key(&[Kind::Address])));
        db.execute(&update).await?;
        Ok(())
    }
}

/// The rows of `keys`, locked until the transaction ends.
async fn lock(
    tx: &mut Tx<'_>,
    t: &Table,
    keys: impl IntoIterator<Item = String>,
) -> Result<Vec<(String, i32, DateTime<Utc>, DateTime<Utc>)>> {
    let mut select = Query::select();
    select
        .columns([
            t.key.clone(),
            t.failures.clone(),
            t.last_at.clone(),
            t.until_at.clone(),
        ])
        .from(t.name.clone())
        .and_where(Expr::col(t.key.clone()).is_in(keys.into_iter().map(|k| val(Value::String(k)))))
        .order_by(t.key.clone(), Order::Asc)
        .lock(LockType::Update);
    let rows = tx
        .fetch(
            &select,
            &[
                ValueType::String,
                ValueType::I32,
                ValueType::DateTime,
                ValueType::DateTime,
            ],
        )
        .await?;
    rows.into_iter()
        .map(|row| match row.as_slice() {
            [
                Value::String(k),
                Value::I32(f),
                Value::DateTime(l),
                Value::DateTime(u),
            ] => Ok((k.clone(), *f, *l, *u)),
            other => Err(Error::internal(format!(
                "a login counter read as {other:?}"
            ))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Throttling {
        Throttling {
            pair_free: 3,
            first_delay: Duration::from_secs(1),
            pair_max_delay: Duration::from_secs(60),
            window: Duration::from_secs(600),
            ..Throttling::default()
        }
    }

    #[test]
    fn attempts_count_when_they_start_and_delays_double() {
        let p = policy();
        let t0 = Utc::now();
        let mut row = None;
        let mut now = t0;
        for n in 1..=3 {
            let (f, until) = step(&p, Kind::Pair, row, now).expect("free");
            assert_eq!(f, n);
            // The third is the last free one: it sets the first delay.
            let expected = if n == 3 {
                now + chrono::Duration::seconds(1)
            } else {
                now
            };
            assert_eq!(until, expected);
            row = Some((f, now, until));
        }
        let (_, _, until) = row.unwrap();
        assert!(step(&p, Kind::Pair, row, now).is_err(), "waits");
        now = until;
        let (f, until) = step(&p, Kind::Pair, row, now).expect("after the delay");
        assert_eq!((f, until), (4, now + chrono::Duration::seconds(2)));
        // Idle for a window: counted from zero again.
        let later = now + chrono::Duration::seconds(601) + chrono::Duration::seconds(2);
        assert_eq!(
            step(&p, Kind::Pair, Some((f, now, until)), later),
            Ok((1, later))
        );
    }

    #[test]
    fn keys_are_hashes_of_a_fixed_length() {
        assert_eq!(stored("p\u{0}x\u{0}1.2.3.4").len(), 64);
        assert_eq!(stored(&"y".repeat(10_000)).len(), 64);
        assert_ne!(stored("a"), stored("b"));
    }
}
