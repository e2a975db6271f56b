//! Login throttling: progressive delays per account and address, decided
//! atomically before the password is checked.
//!
//! Three counters see every failed login: the pair (this account from this
//! address), the account (from anywhere) and the address (for any account).
//! Each lets a few failures through freely; after that every failure makes
//! the next attempt on that counter wait, twice as long each time, up to a
//! cap. The pair's cap is long (one guesser on one account is stopped), the
//! account's short (a distributed guesser is slowed to one guess per cap,
//! while its owner waits at most that long: nobody can lock a victim out
//! by failing on purpose). A success clears the pair and the account, not
//! the address (logging into one's own account must not reset a guesser).
//!
//! Atomic: an attempt takes its place under the lock before the password is
//! verified, and attempts in flight count as failures until they end, so
//! concurrent guesses cannot slip through between a check and a count.
//! Bounded: past `max_entries` keys the oldest idle ones are dropped. An
//! attacker who floods the table to flush a victim's counters is held back
//! by the counter of their own address first.
//!
//! Where the counters live: in this process on SQLite (one machine), and
//! in a table every instance shares on PostgreSQL ([`shared`]), so N
//! instances allow what one does.

mod shared;

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use graphloom_db::Dialect;
use graphloom_query::{Engine, Error};

/// The throttling policy (part of [`super::AuthSettings`]).
#[derive(Debug, Clone)]
pub struct Throttling {
    /// Failures of one account from one address before delays start.
    pub pair_free: u32,
    /// The longest delay for one account from one address.
    pub pair_max_delay: Duration,
    /// Failures of one account from every address before delays start.
    pub account_free: u32,
    /// The longest delay for an account, which its owner may face too.
    pub account_max_delay: Duration,
    /// Failures from one address, for any account, before delays start.
    pub address_free: u32,
    pub address_max_delay: Duration,
    /// The first delay; each further failure doubles it.
    pub first_delay: Duration,
    /// A counter without failures for this long starts again from zero.
    pub window: Duration,
    /// Keys kept at most (about 100 bytes each).
    pub max_entries: usize,
}

impl Default for Throttling {
    fn default() -> Self {
        Throttling {
            pair_free: 5,
            pair_max_delay: Duration::from_secs(15 * 60),
            account_free: 20,
            account_max_delay: Duration::from_secs(30),
            address_free: 100,
            address_max_delay: Duration::from_secs(15 * 60),
            first_delay: Duration::from_secs(1),
            window: Duration::from_secs(15 * 60),
            max_entries: 100_000,
        }
    }
}

impl Throttling {
    /// No throttling at all (for benchmarks and timing tests).
    pub fn off() -> Self {
        Throttling {
            pair_free: u32::MAX,
            account_free: u32::MAX,
            address_free: u32::MAX,
            ..Throttling::default()
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: u32,
    in_flight: u32,
    last: Instant,
    /// No attempt before this.
    until: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Pair,
    Account,
    Address,
}

/// A login attempt's place on its counters, from [`Throttle::start`] to
/// its verdict.
#[derive(Debug)]
pub(crate) enum Attempt<'a> {
    Local(Local<'a>),
    Shared(shared::Shared),
}

/// Why an attempt may not start.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// Too many failures: this long to wait.
    Wait(Duration),
    /// The shared counters could not be read.
    Failed(Error),
}

impl Refusal {
    /// The request error: `RATE_LIMITED` with `retryAfter` (counted in
    /// `graphloom_rate_limited_total{what}`), saying "too many `many`".
    pub(crate) fn into_error(self, what: &'static str, many: &str) -> Error {
        match self {
            Refusal::Wait(wait) => {
                metrics::counter!("graphloom_rate_limited_total", "what" => what).increment(1);
                Error::new(
                    graphloom_query::ErrorCode::RateLimited,
                    format!(
                        "too many {many}; try again in {} s",
                        wait.as_secs_f64().ceil()
                    ),
                )
                .retry_after(wait)
            }
            Refusal::Failed(e) => e,
        }
    }
}

impl Attempt<'_> {
    /// The attempt failed (the shared counters counted it when it began).
    pub(crate) fn fail(self, policy: &Throttling) {
        match self {
            Attempt::Local(a) => a.fail(policy, Instant::now()),
            Attempt::Shared(_) => {}
        }
    }

    /// The attempt succeeded.
    pub(crate) async fn succeed(self, engine: &Engine, policy: &Throttling) -> Result<(), Error> {
        match self {
            Attempt::Local(a) => {
                a.succeed();
                Ok(())
            }
            Attempt::Shared(s) => s.succeed(engine, policy).await,
        }
    }
}

/// The counters of one attempt in this process's table, held from
/// [`Throttle::begin`] to its verdict. Dropped without one (the request
/// was cancelled or failed inside), it counts for nothing and frees its
/// place.
#[derive(Debug)]
pub(crate) struct Local<'a> {
    throttle: &'a Throttle,
    keys: [(Kind, String); 3],
    done: bool,
}

impl Local<'_> {
    /// The attempt failed: each counter counts it and sets its delay.
    pub(crate) fn fail(mut self, policy: &Throttling, now: Instant) {
        self.done = true;
        self.throttle.with(|m| {
            for (kind, key) in &self.keys {
                if let Some(e) = m.get_mut(key) {
                    e.in_flight = e.in_flight.saturating_sub(1);
                    e.failures = e.failures.saturating_add(1);
                    e.last = now;
                    if let Some(d) = delay(policy, *kind, e.failures) {
                        e.until = now + d;
                    }
                }
            }
        });
    }

    /// The attempt succeeded: the pair and the account start again.
    pub(crate) fn succeed(mut self) {
        self.done = true;
        self.throttle.with(|m| {
            for (kind, key) in &self.keys {
                match kind {
                    Kind::Pair | Kind::Account => {
                        m.remove(key);
                    }
                    Kind::Address => {
                        if let Some(e) = m.get_mut(key) {
                            e.in_flight = e.in_flight.saturating_sub(1);
                        }
                    }
                }
            }
        });
    }
}

impl Drop for Local<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        self.throttle.with(|m| {
            for (_, key) in &self.keys {
                if let Some(e) = m.get_mut(key) {
                    e.in_flight = e.in_flight.saturating_sub(1);
                }
            }
        });
    }
}

/// Failed-login counters; see the module docs.
#[derive(Debug, Default)]
pub(crate) struct Throttle {
    entries: Mutex<HashMap<String, Entry>>,
}

impl Throttle {
    fn with<T>(&self, f: impl FnOnce(&mut HashMap<String, Entry>) -> T) -> T {
        match self.entries.lock() {
            Ok(mut g) => f(&mut g),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.with(|m| m.len())
    }

    /// Takes a place for a login attempt on the counters of the engine's
    /// database (shared on PostgreSQL, this process's on SQLite), or says
    /// why it may not start.
    pub(crate) async fn start(
        &self,
        engine: &Engine,
        policy: &Throttling,
        login: &str,
        address: &str,
    ) -> Result<Attempt<'_>, Refusal> {
        if engine.db().dialect() == Dialect::POSTGRES {
            match shared::begin(engine, policy, keys(login, address)).await {
                Ok(Ok(s)) => Ok(Attempt::Shared(s)),
                Ok(Err(wait)) => Err(Refusal::Wait(wait)),
                Err(e) => Err(Refusal::Failed(e)),
            }
        } else {
            self.begin(policy, login, address, Instant::now())
                .map(Attempt::Local)
                .map_err(Refusal::Wait)
        }
    }

    /// Takes a place for a login attempt in this process's table, or says
    /// how long to wait.
    pub(crate) fn begin(
        &self,
        policy: &Throttling,
        login: &str,
        address: &str,
        now: Instant,
    ) -> Result<Local<'_>, Duration> {
        let keys = keys(login, address);
        self.with(|m| {
            let mut wait = Duration::ZERO;
            for (kind, key) in &keys {
                let Some(e) = m.get(key).filter(|e| !stale(policy, e, now)) else {
                    continue;
                };
                wait = wait.max(e.until.saturating_duration_since(now));
                // Past the free failures, one attempt at a time.
                if e.failures.saturating_add(e.in_flight) >= free(policy, *kind) && e.in_flight > 0
                {
                    wait = wait.max(policy.first_delay);
                }
            }
            if !wait.is_zero() {
                return Err(wait);
            }
            for (_, key) in &keys {
                if !m.contains_key(key) && m.len() >= policy.max_entries {
                    evict(policy, m, now);
                }
                let e = m.entry(key.clone()).or_insert(Entry {
                    failures: 0,
                    in_flight: 0,
                    last: now,
                    until: now,
                });
                if stale(policy, e, now) {
                    e.failures = 0;
                }
                e.in_flight += 1;
            }
            Ok(Local {
                throttle: self,
                keys,
                done: false,
            })
        })
    }
}

/// The three counters of a login from an address: the pair, the account
/// (logins compare without case) and the address.
fn keys(login: &str, address: &str) -> [(Kind, String); 3] {
    let login = login.to_lowercase();
    [
        (Kind::Pair, format!("p\u{0}{login}\u{0}{address}")),
        (Kind::Account, format!("u\u{0}{login}")),
        (Kind::Address, format!("a\u{0}{address}")),
    ]
}

fn free(policy: &Throttling, kind: Kind) -> u32 {
    limits(policy, kind).0
}

/// The wait a counter of `kind` imposes after `failures`: none while they
/// are free, then the first delay doubling up to the kind's cap.
fn delay(policy: &Throttling, kind: Kind, failures: u32) -> Option<Duration> {
    let (free, cap) = limits(policy, kind);
    (failures >= free).then(|| {
        let doublings = (failures - free).min(30);
        policy.first_delay.saturating_mul(1 << doublings).min(cap)
    })
}

fn limits(policy: &Throttling, kind: Kind) -> (u32, Duration) {
    match kind {
        Kind::Pair => (policy.pair_free, policy.pair_max_delay),
        Kind::Account => (policy.account_free, policy.account_max_delay),
        Kind::Address => (policy.address_free, policy.address_max_delay),
    }
}

/// Whether an entry's failures are forgotten: none for a whole window
/// and no delay pending.
fn stale(policy: &Throttling, e: &Entry, now: Instant) -> bool {
    e.in_flight == 0 && now >= e.until && now.saturating_duration_since(e.last) >= policy.window
}

/// Makes room: drops stale entries, then, if the table is still over
/// nine tenths full, the least recently failed half of those not in
/// flight. Each call frees at least a tenth, so inserts stay amortised
/// O(1) however many distinct logins arrive.
fn evict(policy: &Throttling, m: &mut HashMap<String, Entry>, now: Instant) {
    m.retain(|_, e| !stale(policy, e, now));
    if m.len() < policy.max_entries / 10 * 9 {
        return;
    }
    let mut ages: Vec<Instant> = m
        .values()
        .filter(|e| e.in_flight == 0)
        .map(|e| e.last)
        .collect();
    if ages.is_empty() {
        return;
    }
    let mid = ages.len() / 2;
    let (_, cut, _) = ages.select_nth_unstable(mid);
    let cut = *cut;
    m.retain(|_, e| e.in_flight > 0 || e.last > cut);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Throttling {
        Throttling {
            pair_free: 3,
            account_free: 5,
            address_free: 8,
            first_delay: Duration::from_secs(1),
            pair_max_delay: Duration::from_secs(60),
            account_max_delay: Duration::from_secs(4),
            address_max_delay: Duration::from_secs(60),
            window: Duration::from_secs(600),
            max_entries: 1_000,
        }
    }

    fn fail(t: &Throttle, p: &Throttling, login: &str, addr: &str, now: Instant) {
        let a = t.begin(p, login, addr, now).expect("allowed");
        a.fail(p, now);
    }

    #[test]
    fn concurrent_attempts_take_places_before_any_verdict() {
        let (t, p) = (Throttle::default(), policy());
        let now = Instant::now();
        // 19 at once: the 3 free places, then one at a time — none while
        // those are in flight.
        let held: Vec<_> = (0..19)
            .filter_map(|_| t.begin(&p, "ann", "1.2.3.4", now).ok())
            .collect();
        assert_eq!(held.len(), 3);
        for a in held {
            a.fail(&p, now);
        }
        assert_eq!(
            t.begin(&p, "ann", "1.2.3.4", now).unwrap_err(),
            Duration::from_secs(1)
        );
    }

    #[test]
    fn delays_double_up_to_the_cap_and_a_success_clears_them() {
        let (t, p) = (Throttle::default(), policy());
        let mut now = Instant::now();
        for _ in 0..3 {
            fail(&t, &p, "ann", "a", now);
        }
        let mut waits = Vec::new();
        for _ in 0..5 {
            let wait = t.begin(&p, "ann", "a", now).unwrap_err();
            waits.push(wait.as_secs());
            now += wait;
            fail(&t, &p, "ann", "a", now);
        }
        assert_eq!(waits, [1, 2, 4, 8, 16]);
        now += t.begin(&p, "ann", "a", now).unwrap_err();
        let a = t.begin(&p, "ann", "a", now).unwrap();
        a.succeed();
        assert!(t.begin(&p, "ann", "a", now).is_ok());
    }

    #[test]
    fn a_guesser_elsewhere_delays_the_owner_at_most_the_account_cap() {
        let (t, p) = (Throttle::default(), policy());
        let mut now = Instant::now();
        // Many addresses guess at ann: the account counter slows them...
        for i in 0..40 {
            let addr = format!("10.0.0.{i}");
            match t.begin(&p, "ann", &addr, now) {
                Ok(a) => a.fail(&p, now),
                Err(wait) => {
                    assert!(wait <= p.account_max_delay, "{wait:?}");
                    now += wait;
                }
            }
        }
        // ...and ann, from her own address, waits no longer than its cap.
        let wait = t
            .begin(&p, "ann", "192.168.1.1", now)
            .err()
            .unwrap_or_default();
        assert!(wait <= p.account_max_delay);
        assert!(t.begin(&p, "ann", "192.168.1.1", now + wait).is_ok());
    }

    #[test]
    fn an_attempt_dropped_without_a_verdict_frees_its_place() {
        let (t, p) = (Throttle::default(), policy());
        let now = Instant::now();
        for _ in 0..3 {
            fail(&t, &p, "ann", "a", now);
        }
        let later = now + Duration::from_secs(1);
        drop(t.begin(&p, "ann", "a", later).unwrap());
        assert!(
            t.begin(&p, "ann", "a", later).is_ok(),
            "not stuck in flight"
        );
    }

    #[test]
    fn a_failure_window_later_starts_again() {
        let (t, p) = (Throttle::default(), policy());
        let now = Instant::now();
        for _ in 0..3 {
            fail(&t, &p, "ann", "a", now);
        }
        assert!(t.begin(&p, "ann", "a", now).is_err());
        let later = now + p.window + Duration::from_secs(1);
        let a = t.begin(&p, "ann", "a", later).unwrap();
        a.fail(&p, later);
        assert!(
            t.begin(&p, "ann", "a", later).is_ok(),
            "one failure: free again"
        );
    }

    #[test]
    fn a_million_distinct_logins_stay_within_the_bound() {
        let t = Throttle::default();
        let p = Throttling {
            max_entries: 10_000,
            ..Throttling::off()
        };
        let now = Instant::now();
        for i in 0..1_000_000u32 {
            let login = format!("user{i}");
            fail(
                &t,
                &p,
                &login,
                "203.0.113.7",
                now + Duration::from_micros(u64::from(i)),
            );
            assert!(t.len() <= p.max_entries);
        }
        // The address (the one key every attempt shares) survived eviction.
        let addr = t.with(|m| m.get("a\u{0}203.0.113.7").map(|e| e.failures));
        assert_eq!(addr, Some(1_000_000));
    }
}
