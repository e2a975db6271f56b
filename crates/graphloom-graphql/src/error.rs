//! GraphQL errors with a stable `extensions.code`. Internal failures are logged
//! in full and reach the client only as `INTERNAL_SERVER_ERROR`.

use async_graphql::ErrorExtensions;

/// An error for the `errors` list of a response. It deliberately has no
/// `Display`, so that `?` in a resolver keeps its code (async-graphql converts
/// every `Display` type into an error without extensions).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub message: String,
    pub code: &'static str,
}

impl Error {
    pub fn coded(message: impl Into<String>, code: &'static str) -> Self {
        Error {
            message: message.into(),
            code,
        }
    }

    /// Logs `source` with detail and returns the masked error.
    pub fn internal(source: impl std::fmt::Display) -> Self {
        tracing::error!(error = %source, "internal error while resolving a GraphQL field");
        Error::coded("Internal server error", "INTERNAL_SERVER_ERROR")
    }
}

pub fn bad_input(message: impl Into<String>) -> Error {
    Error::coded(message, "BAD_USER_INPUT")
}

impl From<graphloom_db::DbError> for Error {
    fn from(e: graphloom_db::DbError) -> Self {
        Error::internal(e)
    }
}

impl From<Error> for async_graphql::Error {
    fn from(e: Error) -> Self {
        async_graphql::Error::new(e.message).extend_with(|_, ext| ext.set("code", e.code))
    }
}
