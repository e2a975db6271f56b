//! Session checks for services that use the auth app: the issuing service
//! looks the session up in its own tables ([`DbSessions`]); a verify-only
//! service asks the issuer's `/auth/introspect` ([`RemoteSessions`]). Both
//! keep answers for `GRAPHLOOM_SESSION_CHECK_TTL_MS` (5 s by default),
//! the worst-case delay before a revocation made on another instance is
//! seen; the instance that revokes forgets its own answers at once.

use std::sync::Arc;

use graphloom_auth::token::Claims;
use graphloom_query::{Ctx, Engine};
use graphloom_server::{Session, SessionCache, SessionCheck, SessionError, sessions::Checking};

use super::{RefreshToken, User};

/// Checks sessions against the auth app's tables: one statement per
/// check, by primary key and the indexed session family.
#[derive(Debug)]
pub struct DbSessions {
    engine: Arc<Engine>,
    cache: Arc<SessionCache>,
}

impl DbSessions {
    pub fn new(engine: Arc<Engine>, cache: Arc<SessionCache>) -> Self {
        DbSessions { engine, cache }
    }

    /// The session of `claims` as the tables say now: live while the user
    /// is active and (for a token of a session) a refresh token of its
    /// family is unrevoked.
    pub async fn lookup(&self, claims: &Claims) -> graphloom_query::Result<Session> {
        let Ok(id) = claims.sub.parse::<i64>() else {
            return Ok(Session::Ended);
        };
        let mut live = User::ID.eq(id) & User::IS_ACTIVE.eq(true);
        if let Some(sid) = &claims.sid {
            let Ok(family) = uuid::Uuid::parse_str(sid) else {
                return Ok(Session::Ended);
            };
            live = live
                & RefreshToken::USER
                    .reverse()
                    .some(RefreshToken::FAMILY.eq(family) & RefreshToken::REVOKED.eq(false));
        }
        let sys = Ctx::system(Arc::clone(&self.engine));
        Ok(match User::objects(&sys).filter(live).one().await? {
            Some(u) => Session::Live {
                staff: u.is_staff,
                superuser: u.is_superuser,
            },
            None => Session::Ended,
        })
    }
}

impl SessionCheck for DbSessions {
    fn check<'a>(&'a self, _token: &'a str, claims: &'a Claims) -> Checking<'a> {
        Box::pin(async move {
            let key = SessionCache::key(claims);
            if let Some(s) = self.cache.get(&key) {
                return Ok(s);
            }
            let session = self
                .lookup(claims)
                .await
                .map_err(|e| SessionError(e.to_string()))?;
            self.cache.put(key, session.clone());
            Ok(session)
        })
    }
}

/// Asks the issuing service (`POST {url}` with the token, its
/// `/auth/introspect`) whether a token's session is live.
#[derive(Debug)]
pub struct RemoteSessions {
    url: hyper::Uri,
    cache: SessionCache,
}

impl RemoteSessions {
    /// `url` must be http:// (a service on the internal network).
    pub fn new(url: &str, ttl: std::time::Duration) -> Result<Self, String> {
        let uri: hyper::Uri = url.parse().map_err(|_| format!("`{url}` is not a URL"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!(
                "`{url}`: the session check takes an http:// URL on the internal network"
            ));
        }
        Ok(RemoteSessions {
            url: uri,
            cache: SessionCache::new(ttl),
        })
    }

    /// The issuer's introspection URL next to its JWKS document
    /// (`http://accounts/.well-known/jwks.json` → `http://accounts/auth/introspect`).
    pub fn url_beside_jwks(jwks_url: &str) -> Option<String> {
        let uri: hyper::Uri = jwks_url.parse().ok()?;
        let authority = uri.authority()?;
        Some(format!(
            "{}://{authority}/auth/introspect",
            uri.scheme_str()?
        ))
    }
}

impl SessionCheck for RemoteSessions {
    fn check<'a>(&'a self, token: &'a str, claims: &'a Claims) -> Checking<'a> {
        Box::pin(async move {
            let key = SessionCache::key(claims);
            if let Some(s) = self.cache.get(&key) {
                return Ok(s);
            }
            let body = serde_json::json!({ "token": token }).to_string();
            let answer = crate::cli::http_call(self.url.clone(), Some(body))
                .await
                .map_err(|e| SessionError(format!("{e:#}")))?;
            let json: serde_json::Value = serde_json::from_slice(&answer)
                .map_err(|e| SessionError(format!("{}: {e}", self.url)))?;
            let flag = |name: &str| json[name].as_bool().unwrap_or(false);
            let session = if flag("active") {
                Session::Live {
                    staff: flag("staff"),
                    superuser: flag("superuser"),
                }
            } else {
                Session::Ended
            };
            self.cache.put(key, session.clone());
            Ok(session)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_introspection_url_sits_beside_the_jwks() {
        assert_eq!(
            RemoteSessions::url_beside_jwks("http://127.0.0.1:4001/.well-known/jwks.json")
                .as_deref(),
            Some("http://127.0.0.1:4001/auth/introspect")
        );
        assert_eq!(RemoteSessions::url_beside_jwks("not a url"), None);
        let ttl = std::time::Duration::from_secs(5);
        assert!(RemoteSessions::new("https://accounts/auth/introspect", ttl).is_err());
        assert!(RemoteSessions::new("http://accounts/auth/introspect", ttl).is_ok());
    }
}
