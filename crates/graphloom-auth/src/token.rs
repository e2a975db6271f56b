//! Access tokens: short-lived JWTs signed with HS256 (a secret shared by one
//! service) or EdDSA (a private key held by the issuing service; every other
//! service verifies with the public keys of its JWKS document).

use std::{
    collections::HashMap,
    time::{SystemTime, UNIX_EPOCH},
};

use jsonwebtoken::{
    Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, decode_header, encode,
    errors::ErrorKind,
    jwk::{Jwk, JwkSet},
};
use serde::{Deserialize, Serialize};

/// Who a request acts for; defined with the model metadata, whose rules read it.
pub use graphloom_meta::Principal;

/// The claims of a graphloom access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The user's id.
    pub sub: String,
    pub exp: u64,
    pub iat: u64,
    pub nbf: u64,
    /// Unique per token.
    pub jti: String,
    pub iss: String,
    /// The services the token is for (a string when one, as RFC 7519
    /// allows either); a service accepts it when its own audience is here.
    #[serde(with = "one_or_many")]
    pub aud: Vec<String>,
    /// Permission codenames the user holds (`blog.change_post`) when the token was issued.
    #[serde(default)]
    pub perms: Vec<String>,
    #[serde(default)]
    pub staff: bool,
    #[serde(default)]
    pub superuser: bool,
    /// The same facts as OAuth scopes, space-separated (see [`scope_claim`]):
    /// what a gateway enforcing `@requiresScopes` reads.
    #[serde(default)]
    pub scope: String,
    /// The session (login) the token belongs to: the issuing service ends
    /// it on logout, revocation or a password change, and every service
    /// that checks sessions refuses its tokens from then on, before they
    /// expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// `aud` as a string when there is one audience, a list otherwise.
mod one_or_many {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(untagged)]
    enum Aud {
        One(String),
        Many(Vec<String>),
    }

    pub fn serialize<S: Serializer>(aud: &[String], s: S) -> Result<S::Ok, S::Error> {
        match aud {
            [one] => one.serialize(s),
            many => many.serialize(s),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        Ok(match Aud::deserialize(d)? {
            Aud::One(a) => vec![a],
            Aud::Many(a) => a,
        })
    }
}

/// The scopes staff members and superusers hold; the permission rules
/// derive `@requiresScopes` from them.
pub use graphloom_meta::{SCOPE_STAFF, SCOPE_SUPERUSER};

/// The `scope` claim: the permission codenames, then [`SCOPE_STAFF`] for
/// staff and superusers and [`SCOPE_SUPERUSER`] for superusers. Codenames
/// (`app.action_model`) never collide with the two markers.
pub fn scope_claim(perms: &[String], staff: bool, superuser: bool) -> String {
    let mut scopes: Vec<&str> = perms.iter().map(String::as_str).collect();
    if staff || superuser {
        scopes.push(SCOPE_STAFF);
    }
    if superuser {
        scopes.push(SCOPE_SUPERUSER);
    }
    scopes.join(" ")
}

/// Why a token was refused. Each maps to an `UNAUTHENTICATED` error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    #[error("the token is not a well-formed JWT")]
    Malformed,
    #[error("the token's algorithm `{0}` is not accepted")]
    Algorithm(String),
    #[error("the token's signature is invalid")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token was issued by another issuer")]
    Issuer,
    #[error("the token is for another audience")]
    Audience,
    #[error("the token names no key id (kid)")]
    MissingKid,
    /// The message leaves the key id out: it is the client's text.
    #[error("the token's key id is unknown")]
    UnknownKid(String),
    #[error("the token lacks the claim `{0}`")]
    MissingClaim(String),
}

/// Why keys could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    #[error("the HS256 secret is {0} bytes; at least 32 random bytes are needed")]
    WeakSecret(usize),
    #[error(
        "no signing key: set GRAPHLOOM_JWT_SECRET (HS256) or GRAPHLOOM_JWT_PRIVATE_KEY (EdDSA)"
    )]
    Missing,
    #[error("invalid key: {0}")]
    Invalid(String),
    #[error("invalid JWKS document: {0}")]
    Jwks(String),
    #[error("cannot sign the token: {0}")]
    Sign(String),
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The key a service signs with.
#[derive(Clone)]
pub enum SigningKey {
    Hs256(Vec<u8>),
    EdDsa {
        kid: String,
        key: EncodingKey,
        public: Box<Jwk>,
    },
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SigningKey::Hs256(_) => f.write_str("SigningKey::Hs256(..)"),
            SigningKey::EdDsa { kid, .. } => write!(f, "SigningKey::EdDsa({kid})"),
        }
    }
}

impl SigningKey {
    /// An HS256 secret of at least 32 bytes.
    pub fn hs256(secret: &[u8]) -> Result<Self, KeyError> {
        if secret.len() < 32 {
            return Err(KeyError::WeakSecret(secret.len()));
        }
        Ok(SigningKey::Hs256(secret.to_vec()))
    }

    /// An Ed25519 private key in PKCS#8 PEM, published under `kid`.
    pub fn ed25519_pem(kid: &str, pem: &[u8]) -> Result<Self, KeyError> {
        let key = EncodingKey::from_ed_pem(pem).map_err(|e| KeyError::Invalid(e.to_string()))?;
        let mut public = Jwk::from_encoding_key(&key, Algorithm::EdDSA)
            .map_err(|e| KeyError::Invalid(e.to_string()))?;
        public.common.key_id = Some(kid.to_owned());
        Ok(SigningKey::EdDsa {
            kid: kid.to_owned(),
            key,
            public: Box::new(public),
        })
    }
}

/// Verifies tokens: the keys it trusts, the issuer and the audience.
#[derive(Clone)]
pub struct Verifier {
    issuer: String,
    audience: String,
    hs256: Option<DecodingKey>,
    /// Ed25519 public keys by kid: the current one and retired ones.
    ed: HashMap<String, DecodingKey>,
    public: Vec<Jwk>,
    /// Seconds of clock skew tolerated on `exp` and `nbf`.
    pub leeway: u64,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("kids", &self.ed.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier that trusts nothing yet.
    pub fn new(issuer: &str, audience: &str) -> Self {
        Verifier {
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            hs256: None,
            ed: HashMap::new(),
            public: Vec::new(),
            leeway: 5,
        }
    }

    /// Trusts the verification half of `key`.
    pub fn trust(mut self, key: &SigningKey) -> Result<Self, KeyError> {
        match key {
            SigningKey::Hs256(secret) => {
                self.hs256 = Some(
                    DecodingKey::from_secret(secret)
                        .map_err(|e| KeyError::Invalid(e.to_string()))?,
                );
            }
            SigningKey::EdDsa { public, .. } => self = self.trust_jwk(public)?,
        }
        Ok(self)
    }

    /// Trusts a public key from a JWKS document (a current or a retired key).
    pub fn trust_jwk(mut self, jwk: &Jwk) -> Result<Self, KeyError> {
        let kid = jwk
            .common
            .key_id
            .clone()
            .ok_or_else(|| KeyError::Jwks("a key has no kid".into()))?;
        let key = DecodingKey::from_jwk(jwk).map_err(|e| KeyError::Jwks(e.to_string()))?;
        self.ed.insert(kid.clone(), key);
        self.public
            .retain(|k| k.common.key_id.as_deref() != Some(kid.as_str()));
        self.public.push(jwk.clone());
        Ok(self)
    }

    /// Verify-only: trusts every key of a JWKS document (`{"keys": [...]}`).
    pub fn from_jwks(issuer: &str, audience: &str, jwks: &str) -> Result<Self, KeyError> {
        let set: JwkSet = serde_json::from_str(jwks).map_err(|e| KeyError::Jwks(e.to_string()))?;
        let mut v = Verifier::new(issuer, audience);
        for k in &set.keys {
            v = v.trust_jwk(k)?;
        }
        Ok(v)
    }

    /// The public keys, as served at `/.well-known/jwks.json`.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::to_value(JwkSet {
            keys: self.public.clone(),
        })
        .unwrap_or_default()
    }

    pub fn has_public_keys(&self) -> bool {
        !self.public.is_empty()
    }

    /// Checks a token's header, signature and claims.
    pub fn verify(&self, token: &str) -> Result<Claims, TokenError> {
        let header = match decode_header(token) {
            Ok(h) => h,
            Err(_) => return Err(header_error(token)),
        };
        let key = match header.alg {
            Algorithm::HS256 => self
                .hs256
                .as_ref()
                .ok_or_else(|| TokenError::Algorithm("HS256".into()))?,
            Algorithm::EdDSA => {
                if self.ed.is_empty() {
                    return Err(TokenError::Algorithm("EdDSA".into()));
                }
                let kid = header.kid.as_deref().ok_or(TokenError::MissingKid)?;
                self.ed
                    .get(kid)
                    .ok_or_else(|| TokenError::UnknownKid(kid.to_owned()))?
            }
            other => return Err(TokenError::Algorithm(format!("{other:?}"))),
        };
        let mut v = Validation::new(header.alg);
        v.leeway = self.leeway;
        v.validate_nbf = true;
        v.set_issuer(&[&self.issuer]);
        v.set_audience(&[&self.audience]);
        v.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        decode::<Claims>(token, key, &v)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::ExpiredSignature => TokenError::Expired,
                ErrorKind::ImmatureSignature => TokenError::NotYetValid,
                ErrorKind::InvalidIssuer => TokenError::Issuer,
                ErrorKind::InvalidAudience => TokenError::Audience,
                ErrorKind::MissingRequiredClaim(c) => TokenError::MissingClaim(c.clone()),
                ErrorKind::InvalidAlgorithm => TokenError::Algorithm(format!("{:?}", header.alg)),
                _ => TokenError::Malformed,
            })
    }
}

/// Tells an unsupported algorithm (`none` above all) from plain garbage.
fn header_error(token: &str) -> TokenError {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let alg = token
        .split('.')
        .next()
        .and_then(|h| URL_SAFE_NO_PAD.decode(h.trim_end_matches('=')).ok())
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .and_then(|h| h.get("alg").and_then(|a| a.as_str()).map(str::to_owned));
    // Named back only when it is a registered JWA name: the header is the
    // client's text, and an error should not repeat arbitrary input.
    const JWA: [&str; 15] = [
        "none", "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "ES256", "ES384", "ES512",
        "PS256", "PS384", "PS512", "EdDSA", "ES256K",
    ];
    match alg {
        Some(a) if JWA.contains(&a.as_str()) => TokenError::Algorithm(a),
        Some(_) => TokenError::Algorithm("(unregistered)".into()),
        None => TokenError::Malformed,
    }
}

/// Issues access tokens.
#[derive(Debug, Clone)]
pub struct Issuer {
    key: SigningKey,
    issuer: String,
    /// This service's audience first (the one its verifier requires),
    /// then the other services its tokens are for.
    audiences: Vec<String>,
    /// Lifetime of an access token, in seconds.
    pub ttl: u64,
}

impl Issuer {
    /// An issuer of tokens for `audience` (this service).
    pub fn new(key: SigningKey, issuer: &str, audience: &str, ttl: u64) -> Self {
        Issuer {
            key,
            issuer: issuer.to_owned(),
            audiences: vec![audience.to_owned()],
            ttl,
        }
    }

    /// Tokens also for these services (the others of a federation, the
    /// gateway), which accept them under their own audience.
    pub fn also_for(mut self, audiences: impl IntoIterator<Item = String>) -> Self {
        for a in audiences {
            if !self.audiences.contains(&a) {
                self.audiences.push(a);
            }
        }
        self
    }

    /// The audiences tokens carry.
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// The verifier for this issuer's own tokens (its own audience).
    pub fn verifier(&self) -> Result<Verifier, KeyError> {
        let own = self.audiences.first().map_or("", String::as_str);
        Verifier::new(&self.issuer, own).trust(&self.key)
    }

    /// A signed token for `sub`, outside any session; returns the token
    /// and its claims.
    pub fn issue(
        &self,
        sub: &str,
        perms: Vec<String>,
        staff: bool,
        superuser: bool,
    ) -> Result<(String, Claims), KeyError> {
        self.issue_in_session(sub, None, perms, staff, superuser)
    }

    /// A signed token for `sub` in the session `sid` (see [`Claims::sid`]).
    pub fn issue_in_session(
        &self,
        sub: &str,
        sid: Option<&str>,
        perms: Vec<String>,
        staff: bool,
        superuser: bool,
    ) -> Result<(String, Claims), KeyError> {
        let t = now();
        let claims = Claims {
            sub: sub.to_owned(),
            iat: t,
            nbf: t,
            exp: t + self.ttl,
            jti: uuid::Uuid::new_v4().to_string(),
            iss: self.issuer.clone(),
            aud: self.audiences.clone(),
            scope: scope_claim(&perms, staff, superuser),
            perms,
            staff,
            superuser,
            sid: sid.map(str::to_owned),
        };
        let token = self.sign(&claims)?;
        Ok((token, claims))
    }

    /// Signs arbitrary claims (tests use it to forge expired or foreign tokens).
    pub fn sign(&self, claims: &Claims) -> Result<String, KeyError> {
        let (header, key) = match &self.key {
            SigningKey::Hs256(secret) => (
                Header::new(Algorithm::HS256),
                EncodingKey::from_secret(secret).map_err(|e| KeyError::Invalid(e.to_string()))?,
            ),
            SigningKey::EdDsa { kid, key, .. } => {
                let mut h = Header::new(Algorithm::EdDSA);
                h.kid = Some(kid.clone());
                (h, key.clone())
            }
        };
        encode(&header, claims, &key).map_err(|e| KeyError::Sign(e.to_string()))
    }
}

impl From<Claims> for Principal {
    fn from(c: Claims) -> Self {
        Principal {
            user_id: c.sub,
            perms: c.perms,
            staff: c.staff,
            superuser: c.superuser,
            session: c.sid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test-only Ed25519 keys (generated with `openssl genpkey -algorithm ed25519`).
    const ED_A: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEILyVjIyHIvlj4fTlCXa/88SbSpcA6fWvXo9nxPMT4rR7\n-----END PRIVATE KEY-----\n";
    const ED_B: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIFcD5W5Xxu/2n9QwXh8Z8+2WQZ0ZQbEocDxvmS2wdlQ3\n-----END PRIVATE KEY-----\n";
    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn hs() -> Issuer {
        Issuer::new(
            SigningKey::hs256(SECRET).unwrap(),
            "accounts",
            "graphloom",
            300,
        )
    }

    fn ed(kid: &str, pem: &str) -> Issuer {
        Issuer::new(
            SigningKey::ed25519_pem(kid, pem.as_bytes()).unwrap(),
            "accounts",
            "graphloom",
            300,
        )
    }

    fn claims(i: &Issuer) -> Claims {
        i.issue("42", vec!["blog.change_post".into()], true, false)
            .unwrap()
            .1
    }

    #[test]
    fn hs256_round_trip() {
        let i = hs();
        let (token, c) = i
            .issue("42", vec!["blog.view_post".into()], false, false)
            .unwrap();
        let got = i.verifier().unwrap().verify(&token).unwrap();
        assert_eq!(got, c);
        assert_eq!(got.exp - got.iat, 300);
        assert_eq!(got.scope, "blog.view_post");
        let (_, c) = i.issue("1", vec!["a.b".into()], false, true).unwrap();
        assert_eq!(c.scope, "a.b staff superuser");
        assert!(matches!(
            SigningKey::hs256(b"short"),
            Err(KeyError::WeakSecret(5))
        ));
    }

    #[test]
    fn every_bad_token_is_refused_with_its_reason() {
        let i = hs();
        let v = i.verifier().unwrap();
        let mut c = claims(&i);
        c.exp = now() - 100;
        assert_eq!(v.verify(&i.sign(&c).unwrap()), Err(TokenError::Expired));
        let mut c = claims(&i);
        c.nbf = now() + 600;
        assert_eq!(v.verify(&i.sign(&c).unwrap()), Err(TokenError::NotYetValid));
        let mut c = claims(&i);
        c.iss = "elsewhere".into();
        assert_eq!(v.verify(&i.sign(&c).unwrap()), Err(TokenError::Issuer));
        let mut c = claims(&i);
        c.aud = vec!["other-api".into()];
        assert_eq!(v.verify(&i.sign(&c).unwrap()), Err(TokenError::Audience));
        let forged = Issuer::new(
            SigningKey::hs256(b"ffffffffffffffffffffffffffffffff").unwrap(),
            "accounts",
            "graphloom",
            300,
        );
        assert_eq!(
            v.verify(&forged.issue("1", vec![], true, true).unwrap().0),
            Err(TokenError::BadSignature)
        );
        // alg=none, with and without a signature part.
        let none = format!(
            "{}.{}.",
            segment(r#"{"alg":"none","typ":"JWT"}"#),
            segment(r#"{"sub":"1"}"#)
        );
        assert_eq!(v.verify(&none), Err(TokenError::Algorithm("none".into())));
        // An algorithm this verifier does not use.
        let ed_token = ed("k1", ED_A).issue("1", vec![], false, false).unwrap().0;
        assert_eq!(
            v.verify(&ed_token),
            Err(TokenError::Algorithm("EdDSA".into()))
        );
        let rs = format!(
            "{}.{}.sig",
            segment(r#"{"alg":"RS256","typ":"JWT"}"#),
            segment(r#"{"sub":"1"}"#)
        );
        assert_eq!(v.verify(&rs), Err(TokenError::Algorithm("RS256".into())));
        for garbage in ["", "abc", "a.b.c", "!!!.???.***"] {
            assert_eq!(v.verify(garbage), Err(TokenError::Malformed), "{garbage}");
        }
        // A tampered payload keeps the header but breaks the signature.
        let (token, _) = i.issue("42", vec![], false, false).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            segment(&format!(
                r#"{{"sub":"1","exp":{},"iat":0,"nbf":0,"jti":"x","iss":"accounts","aud":"graphloom","superuser":true}}"#,
                now() + 60
            )),
            parts[2]
        );
        assert_eq!(v.verify(&tampered), Err(TokenError::BadSignature));
    }

    fn segment(json: &str) -> String {
        use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
        URL_SAFE_NO_PAD.encode(json)
    }

    #[test]
    fn eddsa_with_jwks_rotation_and_verify_only() {
        let a = ed("2026-01", ED_A);
        let b = ed("2026-02", ED_B);
        let (old_token, _) = a.issue("7", vec![], false, false).unwrap();
        // The accounts service rotated to key b and keeps a's public key until a's tokens expire.
        let SigningKey::EdDsa {
            public: a_public, ..
        } = SigningKey::ed25519_pem("2026-01", ED_A.as_bytes()).unwrap()
        else {
            unreachable!()
        };
        let accounts = b.verifier().unwrap().trust_jwk(&a_public).unwrap();
        let jwks = accounts.jwks().to_string();
        assert!(
            jwks.contains("\"kid\":\"2026-01\"") && jwks.contains("\"kid\":\"2026-02\""),
            "{jwks}"
        );
        assert!(!jwks.contains("\"d\""), "no private part is published");
        // Another service verifies from the JWKS document alone.
        let other = Verifier::from_jwks("accounts", "graphloom", &jwks).unwrap();
        assert_eq!(other.verify(&old_token).unwrap().sub, "7");
        let (new_token, _) = b.issue("8", vec![], false, false).unwrap();
        assert_eq!(other.verify(&new_token).unwrap().sub, "8");
        // A key it does not know, and a token without a kid.
        let stranger = ed("9999", ED_A);
        assert_eq!(
            other.verify(&stranger.issue("1", vec![], false, false).unwrap().0),
            Err(TokenError::UnknownKid("9999".into()))
        );
        assert!(
            !TokenError::UnknownKid("<script>".into())
                .to_string()
                .contains("script")
        );
        use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
        let odd = format!("{}.e30.", URL_SAFE_NO_PAD.encode(r#"{"alg":"<script>"}"#));
        assert_eq!(
            header_error(&odd),
            TokenError::Algorithm("(unregistered)".into())
        );
        let none = format!("{}.e30.", URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#));
        assert_eq!(header_error(&none), TokenError::Algorithm("none".into()));
        let no_kid = {
            let c = claims(&a);
            let key = EncodingKey::from_ed_pem(ED_A.as_bytes()).unwrap();
            encode(&Header::new(Algorithm::EdDSA), &c, &key).unwrap()
        };
        assert_eq!(other.verify(&no_kid), Err(TokenError::MissingKid));
        // Verify-only services never accept HS256, even with a "secret" guessed from public data.
        let hs_token = Issuer::new(
            SigningKey::hs256(SECRET).unwrap(),
            "accounts",
            "graphloom",
            60,
        )
        .issue("1", vec![], true, true)
        .unwrap()
        .0;
        assert_eq!(
            other.verify(&hs_token),
            Err(TokenError::Algorithm("HS256".into()))
        );
        assert!(Verifier::from_jwks("a", "b", "{not json").is_err());
    }

    #[test]
    fn a_token_is_for_its_audiences_only() {
        let accounts = hs();
        let payload = |token: &str| {
            use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
            let p = token.split('.').nth(1).unwrap();
            serde_json::from_slice::<serde_json::Value>(&URL_SAFE_NO_PAD.decode(p).unwrap())
                .unwrap()
        };
        // One audience: a string, as before.
        let (token, _) = accounts.issue("1", vec![], false, false).unwrap();
        assert!(payload(&token)["aud"].is_string());
        let key = SigningKey::hs256(SECRET).unwrap();
        let as_service = |aud: &str| Verifier::new("accounts", aud).trust(&key).unwrap();
        assert_eq!(
            as_service("products").verify(&token).unwrap_err(),
            TokenError::Audience
        );
        // Also for products: a list; products accepts it, reviews does not.
        let both = hs().also_for(["products".to_owned()]);
        let (token, claims) = both.issue("1", vec![], false, false).unwrap();
        assert_eq!(
            payload(&token)["aud"],
            serde_json::json!(["graphloom", "products"])
        );
        assert_eq!(as_service("products").verify(&token).unwrap(), claims);
        assert!(both.verifier().unwrap().verify(&token).is_ok());
        assert_eq!(
            as_service("reviews").verify(&token).unwrap_err(),
            TokenError::Audience
        );
    }
}
