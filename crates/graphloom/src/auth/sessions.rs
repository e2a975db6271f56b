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
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    fn claims(sid: &str) -> Claims {
        Claims {
            sub: "7".into(),
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
            sid: Some(sid.into()),
        }
    }

    /// An issuer on 127.0.0.1 that answers every introspection with
    /// `answer` and counts the calls; its URL.
    async fn issuer(answer: &'static str, calls: Arc<AtomicUsize>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                calls.fetch_add(1, Ordering::SeqCst);
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                let _ = stream.write_all(reply.as_bytes()).await;
            }
        });
        format!("http://127.0.0.1:{port}/auth/introspect")
    }

    #[tokio::test]
    async fn the_issuers_answer_is_used_and_kept_for_the_ttl() {
        let calls = Arc::new(AtomicUsize::new(0));
        let url = issuer(r#"{"active":true,"staff":true}"#, Arc::clone(&calls)).await;
        let remote = RemoteSessions::new(&url, std::time::Duration::from_secs(60)).unwrap();
        let live = Session::Live {
            staff: true,
            superuser: false,
        };
        assert_eq!(remote.check("t", &claims("a")).await.unwrap(), live);
        assert_eq!(remote.check("t", &claims("a")).await.unwrap(), live);
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "the second answer came from the cache"
        );
        let url = issuer(r#"{"active":false}"#, Arc::new(AtomicUsize::new(0))).await;
        let remote = RemoteSessions::new(&url, std::time::Duration::ZERO).unwrap();
        assert_eq!(
            remote.check("t", &claims("b")).await.unwrap(),
            Session::Ended
        );
    }

    #[tokio::test]
    async fn an_issuer_out_of_reach_is_an_error_not_a_live_session() {
        // Nothing listens on port 1: the request is refused (a 503 upstream).
        let remote = RemoteSessions::new(
            "http://127.0.0.1:1/auth/introspect",
            std::time::Duration::ZERO,
        )
        .unwrap();
        assert!(remote.check("t", &claims("c")).await.is_err());
    }

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
