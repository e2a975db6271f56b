//! The error tiers every surface shares, each with a typed code:
//!
//! - [`FieldCode`]: why one input field of a write was refused (a
//!   [`FieldError`], reported in a mutation's payload);
//! - [`ErrorCode`]: why a request, or one part of it, failed (GraphQL's
//!   `extensions.code`, a REST problem's code);
//! - start-up checks have their own table, [`graphloom_meta::CheckId`].
//!
//! No code is spelled as a string literal anywhere else.

use std::fmt;

/// Why a request (or one field of it) failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// An argument or input that cannot be used (unknown filter, bad id …).
    BadUserInput,
    /// A cursor that was not made here, for this list.
    InvalidCursor,
    /// More rows asked for at once than the service allows.
    PageSizeExceeded,
    /// The operation needs a login (or the token is bad).
    Unauthenticated,
    /// The principal may not do this.
    Forbidden,
    /// The row does not exist, or the principal cannot see it.
    NotFound,
    /// Too many attempts; try again later.
    RateLimited,
    /// The service is not set up for this (e.g. it issues no tokens).
    NotConfigured,
    /// Something broke on the server; details are only in its log.
    InternalServerError,
    /// The database is busy or unreachable for now; retry shortly.
    ServiceUnavailable,
    /// A malformed HTTP request (no query, bad JSON …).
    BadRequest,
    UnsupportedMediaType,
    NotAcceptable,
    MethodNotAllowed,
    PayloadTooLarge,
    /// A trusted-document id (`documentId`, a persisted-query hash) this
    /// service does not know: send the document itself (APQ clients retry).
    PersistedQueryNotFound,
    /// A document by id, but the service keeps no documents.
    PersistedQueryNotSupported,
    /// A document that is not in the trusted-documents manifest, which the
    /// service requires.
    QueryNotInSafelist,
    /// The document is not GraphQL (a syntax error).
    GraphqlParseFailed,
    /// The document does not fit the schema (unknown field, wrong argument …).
    GraphqlValidationFailed,
    /// The operation would cost more than the service allows (field
    /// resolutions, rows, aliases, root fields, tokens); nothing ran.
    CostLimitExceeded,
    /// The operation is nested deeper than the service allows; nothing ran.
    DepthLimitExceeded,
    /// Introspection (`__schema`, `__type`) is turned off.
    IntrospectionDisabled,
    /// The response would be larger than the service sends.
    ResponseTooLarge,
    /// The row changed since the version the write names (REST's
    /// `If-Match`); read it again and retry.
    PreconditionFailed,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 25] = [
        ErrorCode::BadUserInput,
        ErrorCode::InvalidCursor,
        ErrorCode::PageSizeExceeded,
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::RateLimited,
        ErrorCode::NotConfigured,
        ErrorCode::InternalServerError,
        ErrorCode::ServiceUnavailable,
        ErrorCode::BadRequest,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::NotAcceptable,
        ErrorCode::MethodNotAllowed,
        ErrorCode::PayloadTooLarge,
        ErrorCode::PersistedQueryNotFound,
        ErrorCode::PersistedQueryNotSupported,
        ErrorCode::QueryNotInSafelist,
        ErrorCode::GraphqlParseFailed,
        ErrorCode::GraphqlValidationFailed,
        ErrorCode::CostLimitExceeded,
        ErrorCode::DepthLimitExceeded,
        ErrorCode::IntrospectionDisabled,
        ErrorCode::ResponseTooLarge,
        ErrorCode::PreconditionFailed,
    ];

    /// The stable text clients match on: `BAD_USER_INPUT`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadUserInput => "BAD_USER_INPUT",
            ErrorCode::InvalidCursor => "INVALID_CURSOR",
            ErrorCode::PageSizeExceeded => "PAGE_SIZE_EXCEEDED",
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::NotConfigured => "NOT_CONFIGURED",
            ErrorCode::InternalServerError => "INTERNAL_SERVER_ERROR",
            ErrorCode::ServiceUnavailable => "SERVICE_UNAVAILABLE",
            ErrorCode::BadRequest => "BAD_REQUEST",
            ErrorCode::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
            ErrorCode::NotAcceptable => "NOT_ACCEPTABLE",
            ErrorCode::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            ErrorCode::PersistedQueryNotSupported => "PERSISTED_QUERY_NOT_SUPPORTED",
            ErrorCode::QueryNotInSafelist => "QUERY_NOT_IN_SAFELIST",
            ErrorCode::GraphqlParseFailed => "GRAPHQL_PARSE_FAILED",
            ErrorCode::GraphqlValidationFailed => "GRAPHQL_VALIDATION_FAILED",
            ErrorCode::CostLimitExceeded => "COST_LIMIT_EXCEEDED",
            ErrorCode::DepthLimitExceeded => "DEPTH_LIMIT_EXCEEDED",
            ErrorCode::IntrospectionDisabled => "INTROSPECTION_DISABLED",
            ErrorCode::ResponseTooLarge => "RESPONSE_TOO_LARGE",
            ErrorCode::PreconditionFailed => "PRECONDITION_FAILED",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why one input field of a write was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FieldCode {
    /// Missing, or null where a value is needed.
    Required,
    /// Longer than the field's `max_length`.
    MaxLength,
    /// A decimal with more digits than the field's `max_digits` (in all,
    /// or before the point).
    MaxDigits,
    /// A decimal with more places after the point than `decimal_places`.
    DecimalPlaces,
    /// Not a value of the field's type.
    Invalid,
    /// Another row already has this value (or values).
    Unique,
    /// A referenced row does not exist (or is not visible).
    ForeignKey,
    /// Other rows refer to this one through an `on_delete = protect` key.
    Protected,
    /// The row to change does not exist (or is not visible).
    NotFound,
    /// The model's own validation hook refused it.
    Validation,
}

impl FieldCode {
    pub const ALL: [FieldCode; 10] = [
        FieldCode::Required,
        FieldCode::MaxLength,
        FieldCode::MaxDigits,
        FieldCode::DecimalPlaces,
        FieldCode::Invalid,
        FieldCode::Unique,
        FieldCode::ForeignKey,
        FieldCode::Protected,
        FieldCode::NotFound,
        FieldCode::Validation,
    ];

    /// The stable text clients match on: `MAX_LENGTH`.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldCode::Required => "REQUIRED",
            FieldCode::MaxLength => "MAX_LENGTH",
            FieldCode::MaxDigits => "MAX_DIGITS",
            FieldCode::DecimalPlaces => "DECIMAL_PLACES",
            FieldCode::Invalid => "INVALID",
            FieldCode::Unique => "UNIQUE",
            FieldCode::ForeignKey => "FOREIGN_KEY",
            FieldCode::Protected => "PROTECTED",
            FieldCode::NotFound => "NOT_FOUND",
            FieldCode::Validation => "VALIDATION",
        }
    }

    /// What each code means, for API descriptions.
    pub fn description(self) -> &'static str {
        match self {
            FieldCode::Required => "missing, or null where a value is needed",
            FieldCode::MaxLength => "longer than the field allows",
            FieldCode::MaxDigits => "more digits than the field allows",
            FieldCode::DecimalPlaces => "more decimal places than the field allows",
            FieldCode::Invalid => "not a value of the field's type",
            FieldCode::Unique => "another row already has this value",
            FieldCode::ForeignKey => "a referenced row does not exist",
            FieldCode::Protected => "other rows still refer to this one",
            FieldCode::NotFound => "the row does not exist",
            FieldCode::Validation => "refused by the model's validation",
        }
    }
}

impl fmt::Display for FieldCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One refused input: the path of the input field (API names), a message and a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: Vec<String>,
    pub message: String,
    pub code: FieldCode,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>, code: FieldCode) -> Self {
        FieldError {
            field: vec![field.to_owned()],
            message: message.into(),
            code,
        }
    }
}

/// An error of the engine, with a stable [`ErrorCode`]; a write refused for
/// its input also carries the [`FieldError`]s.
///
/// Its `Display` is `CODE: message`, so `?` into `anyhow` in a management
/// command keeps both. In an async-graphql resolver of your own (a raw
/// field), convert with `graphloom::graphql::ResultExt::gql` rather than
/// `?`: async-graphql turns any `Display` into an error without the code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    /// The refused input fields, when a write failed for its input.
    pub fields: Vec<FieldError>,
    /// How long the client should wait before it tries again
    /// (`RATE_LIMITED`, `SERVICE_UNAVAILABLE`); GraphQL's
    /// `extensions.retryAfter`, in whole seconds.
    pub retry_after: Option<std::time::Duration>,
}

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
            fields: Vec::new(),
            retry_after: None,
        }
    }

    /// The same error, telling the client when to try again.
    pub fn retry_after(self, wait: std::time::Duration) -> Self {
        Error {
            retry_after: Some(wait),
            ..self
        }
    }

    pub fn bad_input(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::BadUserInput, message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Error::new(ErrorCode::NotFound, message)
    }

    /// A write refused for its input: `BAD_USER_INPUT` with the field errors,
    /// their messages joined.
    pub fn refused(fields: Vec<FieldError>) -> Self {
        let message = fields
            .iter()
            .map(|f| format!("{}: {}", f.field.join("."), f.message))
            .collect::<Vec<_>>()
            .join(" ");
        Error {
            code: ErrorCode::BadUserInput,
            message,
            fields,
            retry_after: None,
        }
    }

    /// Logs `source` with detail and returns the masked error.
    pub fn internal(source: impl fmt::Display) -> Self {
        tracing::error!(error = %source, "internal error");
        Error::new(ErrorCode::InternalServerError, "Internal server error")
    }
}

impl From<graphloom_db::DbError> for Error {
    /// A busy database is the client's to retry; anything else is internal.
    fn from(e: graphloom_db::DbError) -> Self {
        if let graphloom_db::DbError::TooLarge { max } = e {
            return Error::new(
                ErrorCode::ResponseTooLarge,
                format!(
                    "The response would be too large: the request read more than {max} bytes of rows. Ask for fewer rows or fields."
                ),
            );
        }
        match e.kind() {
            graphloom_db::DbErrorKind::Busy => {
                tracing::warn!(error = %e, "the database is busy");
                Error::new(
                    ErrorCode::ServiceUnavailable,
                    "The database is busy; retry the request shortly.",
                )
                .retry_after(std::time::Duration::from_secs(1))
            }
            graphloom_db::DbErrorKind::Unreachable => Error::new(
                ErrorCode::ServiceUnavailable,
                "The database does not answer; retry the request shortly.",
            )
            .retry_after(std::time::Duration::from_secs(1)),
            graphloom_db::DbErrorKind::TimedOut => {
                tracing::warn!(error = %e, "a statement ran past the statement timeout");
                Error::new(
                    ErrorCode::ServiceUnavailable,
                    "The database took too long to answer; the statement was cancelled.",
                )
            }
            _ => Error::internal(e),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
