//! Session checks: whether the session a token belongs to is still live,
//! asked of the service that issued it, so a logout, a revocation, a
//! password change or a deactivation reaches tokens that have not expired.
//!
//! The router asks a [`SessionCheck`] once per request that carries a
//! token. The implementations (the auth app's database lookup, or a
//! verify-only service's call to the issuer's `/auth/introspect`) keep
//! their answers in a [`SessionCache`] for a bounded time: that time is the
//! worst-case delay before a revocation made elsewhere is seen.

use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use graphloom_auth::token::Claims;

/// What the issuer says of a session now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Session {
    /// Live; the user's flags as they are now (a demotion applies at once,
    /// whatever the token says).
    Live { staff: bool, superuser: bool },
    /// Ended (logged out, revoked, password changed) or the user is gone
    /// or inactive: its tokens are refused.
    Ended,
}

/// Why a session could not be checked (the request gets a 503).
#[derive(Debug, thiserror::Error)]
#[error("the session could not be checked: {0}")]
pub struct SessionError(pub String);

/// The future a [`SessionCheck`] returns.
pub type Checking<'a> = Pin<Box<dyn Future<Output = Result<Session, SessionError>> + Send + 'a>>;

/// Decides whether a verified token's session is live.
pub trait SessionCheck: Send + Sync + std::fmt::Debug {
    /// `token` is the raw bearer token, `claims` what it says (verified).
    fn check<'a>(&'a self, token: &'a str, claims: &'a Claims) -> Checking<'a>;
}

/// The cookie a browser's session rides in (opt-in cookie sessions):
/// `HttpOnly`, so page scripts never read it.
pub const SESSION_COOKIE: &str = "graphloom_session";
/// The cookie with the CSRF token: readable by the page, which sends it
/// back in [`CSRF_HEADER`]; another site can neither read it nor set it.
pub const CSRF_COOKIE: &str = "graphloom_csrf";
/// The header a cookie-authenticated request must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The future a [`CookieAuth`] returns: the session's principal, or `None`
/// when the session has ended.
pub type Authenticating<'a> = Pin<
    Box<
        dyn Future<Output = Result<Option<graphloom_auth::token::Principal>, SessionError>>
            + Send
            + 'a,
    >,
>;

/// Authenticates a browser's session cookie.
pub trait CookieAuth: Send + Sync + std::fmt::Debug {
    /// `secret` is the [`SESSION_COOKIE`]'s value.
    fn authenticate<'a>(&'a self, secret: &'a str) -> Authenticating<'a>;
}

/// The value of cookie `name` in a `Cookie` header (`a=1; b=2`).
pub fn cookie<'h>(header: &'h str, name: &str) -> Option<&'h str> {
    header.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        (k == name).then_some(v)
    })
}

/// Entries a cache keeps before it drops the expired ones.
const CACHE_PRUNE_AT: usize = 10_000;

/// Answers of a [`SessionCheck`], per session, for a bounded time.
#[derive(Debug)]
pub struct SessionCache {
    ttl_ms: AtomicU64,
    entries: Mutex<HashMap<String, (Instant, Session)>>,
}

impl SessionCache {
    pub fn new(ttl: Duration) -> Self {
        SessionCache {
            ttl_ms: AtomicU64::new(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)),
            entries: Mutex::default(),
        }
    }

    /// How long an answer is kept: the worst-case delay before this
    /// instance sees a revocation made on another (zero: ask every time).
    pub fn ttl(&self) -> Duration {
        Duration::from_millis(self.ttl_ms.load(Ordering::Relaxed))
    }

    pub fn set_ttl(&self, ttl: Duration) {
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        self.ttl_ms.store(ms, Ordering::Relaxed);
    }

    /// The cache key of a token's session: its user and session id.
    pub fn key(claims: &Claims) -> String {
        format!("{}/{}", claims.sub, claims.sid.as_deref().unwrap_or(""))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Session)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The answer for `key`, if one younger than the TTL is kept.
    pub fn get(&self, key: &str) -> Option<Session> {
        let ttl = self.ttl();
        let entries = self.lock();
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < ttl)
            .map(|(_, s)| s.clone())
    }

    pub fn put(&self, key: String, session: Session) {
        if self.ttl().is_zero() {
            return;
        }
        let ttl = self.ttl();
        let mut entries = self.lock();
        if entries.len() >= CACHE_PRUNE_AT {
            entries.retain(|_, (at, _)| at.elapsed() < ttl);
            if entries.len() >= CACHE_PRUNE_AT {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), session));
    }

    /// Forgets what is kept of the user `sub`'s sessions (this instance
    /// then asks again at once: its own revocations apply immediately).
    pub fn forget_user(&self, sub: &str) {
        let prefix = format!("{sub}/");
        self.lock().retain(|k, _| !k.starts_with(&prefix));
    }

    /// How many answers are kept.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(sub: &str, sid: Option<&str>) -> Claims {
        Claims {
            sub: sub.into(),
            exp: 0,
            iat: 0,
            nbf: 0,
            jti: String::new(),
            iss: String::new(),
            aud: Vec::new(),
            perms: Vec::new(),
            staff: false,
            superuser: false,
            scope: String::new(),
            sid: sid.map(str::to_owned),
        }
    }

    #[test]
    fn answers_are_kept_for_the_ttl_and_forgotten_per_user() {
        let cache = SessionCache::new(Duration::from_secs(60));
        let (a, b, c) = (
            SessionCache::key(&claims("1", Some("s1"))),
            SessionCache::key(&claims("1", Some("s2"))),
            SessionCache::key(&claims("12", Some("s1"))),
        );
        let live = Session::Live {
            staff: false,
            superuser: false,
        };
        for k in [&a, &b, &c] {
            cache.put(k.clone(), live.clone());
        }
        assert_eq!(cache.get(&a), Some(live.clone()));
        // User 1's sessions, not user 12's.
        cache.forget_user("1");
        assert_eq!((cache.get(&a), cache.get(&b)), (None, None));
        assert_eq!(cache.get(&c), Some(live.clone()));
        // Zero keeps nothing; an answer older than the TTL is not used.
        cache.set_ttl(Duration::ZERO);
        assert_eq!(cache.get(&c), None);
        cache.put(a.clone(), Session::Ended);
        cache.set_ttl(Duration::from_secs(60));
        assert_eq!(cache.get(&a), None);
    }

    #[test]
    fn cookies_are_found_by_name() {
        let header = "theme=dark; graphloom_session=abc; graphloom_csrf=x=y";
        assert_eq!(cookie(header, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(header, CSRF_COOKIE), Some("x=y"));
        assert_eq!(cookie(header, "graphloom"), None);
        assert_eq!(cookie("", SESSION_COOKIE), None);
    }

    #[test]
    fn the_cache_stays_bounded() {
        let cache = SessionCache::new(Duration::from_secs(60));
        for i in 0..CACHE_PRUNE_AT + 5 {
            cache.put(format!("{i}/"), Session::Ended);
        }
        assert!(cache.len() <= CACHE_PRUNE_AT, "{}", cache.len());
    }
}
