//! Cookie sessions for browsers (opt-in, `GRAPHLOOM_COOKIE_SESSIONS`): a
//! `login` with `cookie: true` sets the session's refresh token in an
//! `HttpOnly; Secure; SameSite=Lax` cookie, which page scripts cannot read,
//! and a CSRF token in a cookie they can, to send back in `X-CSRF-Token`
//! (the server checks the two match: double submit). `logout` without a
//! token ends the cookie's session and clears both cookies.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use graphloom_auth::token::Principal;
use graphloom_query::{Ctx, Engine};
use graphloom_server::{
    SessionCache, SessionError,
    sessions::{Authenticating, CSRF_COOKIE, CookieAuth, SESSION_COOKIE},
};

use super::{RefreshToken, resolvers::hash_token};

/// Whether cookie sessions are on, and the answers kept per cookie.
#[derive(Debug, Default)]
pub struct Cookies {
    enabled: AtomicBool,
    kept: Mutex<HashMap<String, (Instant, Option<Principal>)>>,
}

impl Cookies {
    pub fn enable(&self, on: bool) {
        self.enabled.store(on, Ordering::Relaxed);
    }

    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// Forgets every kept answer (a revocation on this instance).
    pub fn forget(&self) {
        self.kept.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// The `Set-Cookie` values of a new cookie session lasting `max_age`.
    pub(super) fn set(refresh: &str, csrf: &str, max_age: std::time::Duration) -> [String; 2] {
        let age = max_age.as_secs();
        [
            format!(
                "{SESSION_COOKIE}={refresh}; Path=/; Max-Age={age}; HttpOnly; Secure; SameSite=Lax"
            ),
            format!("{CSRF_COOKIE}={csrf}; Path=/; Max-Age={age}; Secure; SameSite=Lax"),
        ]
    }

    /// The `Set-Cookie` values that clear both cookies.
    pub(crate) fn clear() -> [String; 2] {
        [
            format!("{SESSION_COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax"),
            format!("{CSRF_COOKIE}=; Path=/; Max-Age=0; Secure; SameSite=Lax"),
        ]
    }
}

/// Authenticates session cookies against the auth app's tables: the
/// refresh token (unused, unrevoked, unexpired), its user (active), and
/// the user's permissions; the answer kept as long as session checks'.
#[derive(Debug)]
pub struct DbCookies {
    engine: Arc<Engine>,
    cookies: Arc<Cookies>,
    /// The session checks' cache: its TTL bounds these answers too.
    sessions: Arc<SessionCache>,
}

impl DbCookies {
    pub fn new(engine: Arc<Engine>, cookies: Arc<Cookies>, sessions: Arc<SessionCache>) -> Self {
        DbCookies {
            engine,
            cookies,
            sessions,
        }
    }

    async fn lookup(&self, hash: &str) -> graphloom_query::Result<Option<Principal>> {
        let sys = Ctx::system(Arc::clone(&self.engine));
        let Some(token) = RefreshToken::objects(&sys)
            .filter(RefreshToken::TOKEN_HASH.eq(hash))
            .filter(RefreshToken::REVOKED.eq(false))
            .filter(RefreshToken::USED_AT.is_null(true))
            .filter(RefreshToken::EXPIRES_AT.gt(chrono::Utc::now()))
            .one()
            .await?
        else {
            return Ok(None);
        };
        let Some(user) = super::resolvers::by_id(&sys, &token.user.key.key_string())
            .await?
            .filter(|u| u.is_active)
        else {
            return Ok(None);
        };
        Ok(Some(Principal {
            user_id: user.id.0.to_string(),
            perms: super::resolvers::permissions_of(&sys, user.id).await?,
            staff: user.is_staff,
            superuser: user.is_superuser,
            session: Some(token.family.to_string()),
        }))
    }
}

impl CookieAuth for DbCookies {
    fn authenticate<'a>(&'a self, secret: &'a str) -> Authenticating<'a> {
        Box::pin(async move {
            let hash = hash_token(secret);
            let ttl = self.sessions.ttl();
            let kept = self
                .cookies
                .kept
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&hash)
                .filter(|(at, _)| at.elapsed() < ttl)
                .map(|(_, p)| p.clone());
            if let Some(p) = kept {
                return Ok(p);
            }
            let p = self
                .lookup(&hash)
                .await
                .map_err(|e| SessionError(e.to_string()))?;
            if !ttl.is_zero() {
                let mut kept = self.cookies.kept.lock().unwrap_or_else(|e| e.into_inner());
                if kept.len() >= 10_000 {
                    kept.clear();
                }
                kept.insert(hash, (Instant::now(), p.clone()));
            }
            Ok(p)
        })
    }
}
