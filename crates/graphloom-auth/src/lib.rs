//! Passwords and tokens for graphloom services.
//!
//! For the `graphloom` facade and for services that verify graphloom tokens:
//! [`password`] hashes with argon2id (parameters configurable; hashes made with
//! other parameters are upgraded at the next login) and validates new
//! passwords; [`token`] issues and verifies short-lived access JWTs with HS256
//! (one service, a shared secret) or EdDSA with a `kid` and a JWKS document
//! (many services, no shared secret), keeps retired public keys for rotation,
//! and runs verify-only from a JWKS document. Every rejection is a typed
//! [`token::TokenError`], mapped by the server to `UNAUTHENTICATED`.

pub mod password;
pub mod token;
