//! Trusted documents: operations known ahead by id, from a manifest the
//! frontend build writes, and (for development) Apollo's automatic
//! persisted queries.
//!
//! A request names a document by `documentId` (GraphQL over HTTP's
//! persisted documents, what graphql-codegen's client preset sends; a
//! `sha256:` prefix is accepted) or by `extensions.persistedQuery.sha256Hash`
//! (Apollo's persisted queries and APQ). With `only`, a request that sends
//! its own text is run only when that text is one of the manifest's
//! documents: nothing else reaches the executor.

use graphloom_graphql::ErrorCode;
use std::{
    collections::{HashMap, HashSet, VecDeque},
    path::Path,
    sync::{Arc, Mutex},
};

use sha2::{Digest, Sha256};

/// Why a manifest cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    #[error("cannot read the trusted documents manifest {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the trusted documents manifest is neither Apollo's persisted query manifest \
         ({{\"format\": \"apollo-persisted-query-manifest\", \"operations\": [{{\"id\", \"body\"}}]}}) \
         nor a map of ids to documents (graphql-codegen's persisted-documents.json): {0}"
    )]
    Format(String),
}

/// The documents of a manifest, by id.
#[derive(Debug, Default)]
pub struct TrustedDocuments {
    by_id: HashMap<String, Arc<str>>,
    /// The SHA-256 of every body, for requests that send the text.
    bodies: HashSet<[u8; 32]>,
    /// Refuse every document that is not one of these.
    pub only: bool,
}

#[derive(serde::Deserialize)]
struct ApolloManifest {
    format: String,
    operations: Vec<ApolloOperation>,
}

#[derive(serde::Deserialize)]
struct ApolloOperation {
    id: String,
    body: String,
}

impl TrustedDocuments {
    /// Reads a manifest file (see [`TrustedDocuments::parse`]).
    pub fn load(path: &Path, only: bool) -> Result<Self, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Ok(TrustedDocuments {
            only,
            ..Self::parse(&text)?
        })
    }

    /// Apollo's persisted query manifest, or a JSON object from ids to
    /// document texts (graphql-codegen's `persisted-documents.json`).
    pub fn parse(text: &str) -> Result<Self, ManifestError> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| ManifestError::Format(e.to_string()))?;
        let pairs: Vec<(String, String)> = if value.get("format").is_some() {
            let m: ApolloManifest =
                serde_json::from_value(value).map_err(|e| ManifestError::Format(e.to_string()))?;
            if m.format != "apollo-persisted-query-manifest" {
                return Err(ManifestError::Format(format!(
                    "unknown format `{}`",
                    m.format
                )));
            }
            m.operations.into_iter().map(|o| (o.id, o.body)).collect()
        } else {
            let m: HashMap<String, String> =
                serde_json::from_value(value).map_err(|e| ManifestError::Format(e.to_string()))?;
            m.into_iter().collect()
        };
        let mut docs = TrustedDocuments::default();
        for (id, body) in pairs {
            if body.trim().is_empty() {
                return Err(ManifestError::Format(format!("`{id}` has an empty body")));
            }
            docs.bodies.insert(sha256(&body));
            docs.by_id.insert(id, Arc::from(body));
        }
        Ok(docs)
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    fn get(&self, id: &str) -> Option<Arc<str>> {
        self.by_id
            .get(id)
            .or_else(|| id.strip_prefix("sha256:").and_then(|h| self.by_id.get(h)))
            .cloned()
    }

    /// Whether `text` is one of the manifest's documents, exactly.
    pub fn contains_text(&self, text: &str) -> bool {
        self.bodies.contains(&sha256(text))
    }
}

/// Apollo's automatic persisted queries: a client registers a document by
/// sending it with its hash once, then sends the hash alone. For
/// development: any client may register anything, so it is no safelist.
#[derive(Debug)]
pub struct Apq {
    max: usize,
    docs: Mutex<Registered>,
}

/// Documents by hash, and their hashes oldest first.
type Registered = (HashMap<String, Arc<str>>, VecDeque<String>);

impl Apq {
    /// Keeps the newest `max` documents.
    pub fn new(max: usize) -> Self {
        Apq {
            max: max.max(1),
            docs: Mutex::default(),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Registered) -> T) -> T {
        match self.docs.lock() {
            Ok(mut g) => f(&mut g),
            Err(p) => f(&mut p.into_inner()),
        }
    }

    fn get(&self, hash: &str) -> Option<Arc<str>> {
        self.with(|(m, _)| m.get(hash).cloned())
    }

    fn put(&self, hash: String, text: &str) {
        self.with(|(m, order)| {
            if m.contains_key(&hash) {
                return;
            }
            while m.len() >= self.max {
                match order.pop_front() {
                    Some(old) => {
                        m.remove(&old);
                    }
                    None => break,
                }
            }
            order.push_back(hash.clone());
            m.insert(hash, Arc::from(text));
        });
    }
}

fn sha256(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Why a request's document could not be settled.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    NotFound,
    NotSupported,
    NotInSafelist,
    /// The text does not hash to the id it came with.
    HashMismatch,
    /// Neither a document nor an id.
    NoQuery,
}

impl Refusal {
    /// Its code and message.
    pub(crate) fn explain(&self) -> (ErrorCode, &'static str) {
        match self {
            Refusal::NotFound => (
                ErrorCode::PersistedQueryNotFound,
                "PersistedQueryNotFound: no document has this id",
            ),
            Refusal::NotSupported => (
                ErrorCode::PersistedQueryNotSupported,
                "PersistedQueryNotSupported: this service keeps no documents by id; send the query",
            ),
            Refusal::NotInSafelist => (
                ErrorCode::QueryNotInSafelist,
                "this service runs trusted documents only; send a documentId",
            ),
            Refusal::HashMismatch => (
                ErrorCode::BadRequest,
                "the persisted query hash is not the SHA-256 of the query",
            ),
            Refusal::NoQuery => (ErrorCode::BadRequest, "the request has no query"),
        }
    }
}

/// Settles the document a request runs: by its id when it has no text
/// (manifest first, then the APQ store), registering text sent with a
/// hash when APQ is on, and refusing text outside the manifest in `only`
/// mode (unless `exempt`: the gateway's planned subgraph queries are in
/// no client's manifest).
pub(crate) fn settle(
    trusted: Option<&TrustedDocuments>,
    apq: Option<&Apq>,
    query: &mut String,
    id: Option<&str>,
    exempt: bool,
) -> Result<(), Refusal> {
    if query.trim().is_empty() {
        let Some(id) = id else {
            return Err(Refusal::NoQuery);
        };
        if trusted.is_none() && apq.is_none() {
            return Err(Refusal::NotSupported);
        }
        let found = trusted
            .and_then(|t| t.get(id))
            .or_else(|| apq.and_then(|a| a.get(id)));
        return match found {
            Some(text) => {
                *query = text.to_string();
                Ok(())
            }
            None => Err(Refusal::NotFound),
        };
    }
    if let (Some(apq), Some(id)) = (apq, id) {
        let hash = id.strip_prefix("sha256:").unwrap_or(id);
        if !hash.eq_ignore_ascii_case(&hex(&sha256(query))) {
            return Err(Refusal::HashMismatch);
        }
        apq.put(hash.to_ascii_lowercase(), query);
    }
    match trusted {
        Some(t) if t.only && !exempt && !t.contains_text(query) => Err(Refusal::NotInSafelist),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const Q: &str = "query Me { me { id } }";

    fn hash(q: &str) -> String {
        hex(&sha256(q))
    }

    fn apollo() -> TrustedDocuments {
        let manifest = serde_json::json!({
            "format": "apollo-persisted-query-manifest",
            "version": 1,
            "operations": [{ "id": hash(Q), "name": "Me", "type": "query", "body": Q }],
        });
        TrustedDocuments::parse(&manifest.to_string()).unwrap()
    }

    #[test]
    fn both_manifest_formats_parse() {
        assert_eq!(apollo().len(), 1);
        let codegen = serde_json::json!({ "abc123": Q, "def456": "{ posts { totalCount } }" });
        let docs = TrustedDocuments::parse(&codegen.to_string()).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs.get("sha256:abc123").as_deref(), Some(Q));
        assert!(docs.contains_text(Q));
        assert!(!docs.contains_text("{ me { id } }"));
        for bad in [
            "[]",
            "not json",
            r#"{"format": "something-else", "operations": []}"#,
            r#"{"a": 1}"#,
            r#"{"a": "  "}"#,
        ] {
            assert!(TrustedDocuments::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ids_resolve_and_strict_mode_refuses_other_text() {
        let mut docs = apollo();
        let mut q = String::new();
        assert_eq!(
            settle(Some(&docs), None, &mut q, Some(&hash(Q)), false),
            Ok(())
        );
        assert_eq!(q, Q);
        let mut q = String::new();
        assert_eq!(
            settle(Some(&docs), None, &mut q, Some("nope"), false),
            Err(Refusal::NotFound)
        );
        let mut other = "{ users { totalCount } }".to_owned();
        assert_eq!(settle(Some(&docs), None, &mut other, None, false), Ok(()));
        docs.only = true;
        assert_eq!(
            settle(Some(&docs), None, &mut other, None, false),
            Err(Refusal::NotInSafelist)
        );
        assert_eq!(
            settle(Some(&docs), None, &mut other, None, true),
            Ok(()),
            "the gateway"
        );
        let mut same = Q.to_owned();
        assert_eq!(
            settle(Some(&docs), None, &mut same, None, false),
            Ok(()),
            "its own text"
        );
        let mut q = String::new();
        assert_eq!(
            settle(None, None, &mut q, Some("x"), false),
            Err(Refusal::NotSupported)
        );
        assert_eq!(
            settle(None, None, &mut q, None, false),
            Err(Refusal::NoQuery)
        );
    }

    #[test]
    fn apq_registers_checked_hashes_and_keeps_the_newest() {
        let apq = Apq::new(2);
        let mut q = String::new();
        assert_eq!(
            settle(None, Some(&apq), &mut q, Some(&hash(Q)), false),
            Err(Refusal::NotFound)
        );
        let mut text = Q.to_owned();
        assert_eq!(
            settle(None, Some(&apq), &mut text, Some("0000"), false),
            Err(Refusal::HashMismatch)
        );
        assert_eq!(
            settle(None, Some(&apq), &mut text, Some(&hash(Q)), false),
            Ok(())
        );
        let mut q = String::new();
        assert_eq!(
            settle(None, Some(&apq), &mut q, Some(&hash(Q)), false),
            Ok(())
        );
        assert_eq!(q, Q);
        for other in ["{ a }", "{ b }"] {
            let mut t = other.to_owned();
            settle(None, Some(&apq), &mut t, Some(&hash(other)), false).unwrap();
        }
        let mut q = String::new();
        assert_eq!(
            settle(None, Some(&apq), &mut q, Some(&hash(Q)), false),
            Err(Refusal::NotFound),
            "evicted"
        );
    }
}
