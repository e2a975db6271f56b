//! argon2id password hashes and the checks a new password must pass.

use argon2::{
    Algorithm, Argon2, Params, PasswordHasher as _, PasswordVerifier as _, Version,
    password_hash::phc::PasswordHash,
};

/// Why hashing failed (bad parameters; never a wrong password).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    #[error("invalid argon2 parameters: {0}")]
    Params(String),
    #[error("cannot hash the password: {0}")]
    Hash(String),
}

/// The result of checking a password against a stored hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// Wrong password, or an unreadable hash.
    No,
    /// Right password; `rehash` is a new hash when the stored one used other parameters.
    Yes { rehash: Option<String> },
}

/// Hashes and verifies passwords with argon2id.
#[derive(Debug, Clone)]
pub struct Hasher {
    params: Params,
    /// A hash of nothing with these parameters, made once (see
    /// [`Hasher::verify_nobody`]).
    dummy: std::sync::Arc<std::sync::OnceLock<String>>,
}

impl Default for Hasher {
    /// OWASP's argon2id recommendation: 19 MiB, 2 iterations, 1 lane.
    fn default() -> Self {
        Hasher::with(Params::new(19 * 1024, 2, 1, None).unwrap_or(Params::DEFAULT))
    }
}

impl Hasher {
    fn with(params: Params) -> Self {
        Hasher {
            params,
            dummy: Default::default(),
        }
    }

    /// `memory_kib`, `iterations`, `lanes` as argon2 takes them.
    pub fn new(memory_kib: u32, iterations: u32, lanes: u32) -> Result<Self, PasswordError> {
        Params::new(memory_kib, iterations, lanes, None)
            .map(Hasher::with)
            .map_err(|e| PasswordError::Params(e.to_string()))
    }

    /// Verifies `password` against a hash no account has, costing what a
    /// real account's check costs: a login for an unknown user answers in
    /// the time a wrong password does (one verify, not a hash and a verify).
    pub fn verify_nobody(&self, password: &str) -> Verified {
        let dummy = self
            .dummy
            .get_or_init(|| self.hash("graphloom: no such account").unwrap_or_default());
        match self.verify(password, dummy) {
            // Nothing can log in as nobody.
            Verified::Yes { .. } | Verified::No => Verified::No,
        }
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    pub fn hash(&self, password: &str) -> Result<String, PasswordError> {
        self.argon2()
            .hash_password(password.as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| PasswordError::Hash(e.to_string()))
    }

    /// Checks `password` against `stored`, verifying with the parameters the
    /// hash records and offering a new hash when they differ from ours.
    pub fn verify(&self, password: &str, stored: &str) -> Verified {
        let Ok(parsed) = PasswordHash::new(stored) else {
            return Verified::No;
        };
        if self
            .argon2()
            .verify_password(password.as_bytes(), stored)
            .is_err()
        {
            return Verified::No;
        }
        let current = Params::try_from(&parsed).ok();
        let same = parsed.algorithm.as_str() == "argon2id"
            && current.is_some_and(|p| {
                p.m_cost() == self.params.m_cost()
                    && p.t_cost() == self.params.t_cost()
                    && p.p_cost() == self.params.p_cost()
            });
        Verified::Yes {
            rehash: if same { None } else { self.hash(password).ok() },
        }
    }
}

/// The checks a new password must pass, like Django's validators.
#[derive(Debug, Clone)]
pub struct Policy {
    pub min_length: usize,
    /// Refuse the most common passwords.
    pub refuse_common: bool,
    /// Refuse passwords that contain the username or the email's local part (or the reverse).
    pub refuse_similar: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            min_length: 8,
            refuse_common: true,
            refuse_similar: true,
        }
    }
}

/// Among the most used passwords (from public breach frequency lists); lower case.
const COMMON: &str = include_str!("common-passwords.txt");

impl Policy {
    /// Every reason `password` is refused; empty when it is acceptable.
    pub fn check(&self, password: &str, username: &str, email: &str) -> Vec<String> {
        let mut out = Vec::new();
        if password.chars().count() < self.min_length {
            out.push(format!(
                "This password is too short. It must contain at least {} characters.",
                self.min_length
            ));
        }
        let lower = password.to_lowercase();
        if self.refuse_common && COMMON.lines().any(|c| c.trim() == lower) {
            out.push("This password is too common.".into());
        }
        if self.refuse_similar {
            let local = email.split('@').next().unwrap_or("");
            let similar = [username, local].iter().any(|attr| {
                let attr = attr.to_lowercase();
                attr.len() >= 3 && (lower.contains(&attr) || attr.contains(&lower))
            });
            if similar {
                out.push("The password is too similar to the username or email.".into());
            }
        }
        if !password.is_empty() && password.chars().all(|c| c.is_ascii_digit()) {
            out.push("This password is entirely numeric.".into());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fast() -> Hasher {
        Hasher::new(1024, 1, 1).unwrap()
    }

    #[test]
    fn hash_and_verify() {
        let h = fast();
        let stored = h.hash("correct horse battery staple").unwrap();
        assert!(stored.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
        assert_eq!(
            h.verify("correct horse battery staple", &stored),
            Verified::Yes { rehash: None }
        );
        assert_eq!(h.verify("wrong", &stored), Verified::No);
        assert_eq!(h.verify("x", "not a hash"), Verified::No);
        assert_ne!(
            stored,
            h.hash("correct horse battery staple").unwrap(),
            "salted"
        );
    }

    #[test]
    fn hashes_with_old_parameters_are_upgraded() {
        let old = fast().hash("pw-1234-abcd").unwrap();
        let stronger = Hasher::new(2048, 2, 1).unwrap();
        let Verified::Yes { rehash: Some(new) } = stronger.verify("pw-1234-abcd", &old) else {
            panic!("expected a rehash");
        };
        assert!(new.contains("m=2048,t=2,p=1"));
        assert_eq!(
            stronger.verify("pw-1234-abcd", &new),
            Verified::Yes { rehash: None }
        );
        assert!(Hasher::new(0, 0, 0).is_err());
    }

    #[test]
    fn policy() {
        let p = Policy::default();
        assert!(
            p.check("a-long-unusual-phrase", "ann", "ann@example.com")
                .is_empty()
        );
        assert_eq!(p.check("short", "ann", "a@b.c").len(), 1);
        assert!(
            p.check("password", "x", "y@z")
                .iter()
                .any(|m| m.contains("common"))
        );
        assert!(
            p.check("Password1", "x", "y@z")
                .iter()
                .any(|m| m.contains("common"))
        );
        assert!(
            p.check("annabel-rocks", "annabel", "q@x.io")
                .iter()
                .any(|m| m.contains("similar"))
        );
        assert!(
            p.check("zz-bobby-zz!", "u", "bobby@x.io")
                .iter()
                .any(|m| m.contains("similar"))
        );
        assert!(
            p.check("1234567890123", "u", "v@w")
                .iter()
                .any(|m| m.contains("numeric"))
        );
    }
}
