//! The core error type.
//!
//! Rules: every variant says what went wrong in words a user can act on, except
//! `Store`/`Internal`, whose details are logged at the edge and never shown to a
//! client. Each variant maps to one HTTP status at the edge (`status_code`).

/// Why a plan limit refused: the sentence, the status, the JSON details
/// (limit, use, reset) and how many seconds until it may succeed.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub message: String,
    /// 403 (a standing count such as projects) or 429 (a window or rate).
    pub status: u16,
    /// Which limit refused, for the audit log: `tokens/day`, `projects/total`,
    /// `requests/minute` (`… key <id>` for a key's own), `budget:<id>`.
    pub limit: String,
    /// Fields merged into the JSON error body.
    pub details: serde_json::Value,
    pub retry_after_secs: Option<u64>,
}

/// Result with the core error.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What a core service can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input that does not parse; `field` names the offending input.
    #[error("{field}: {message}")]
    Invalid { field: &'static str, message: String },
    /// The thing does not exist, or belongs to another organization (the
    /// two are indistinguishable on purpose).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Unique value already taken, or a rule about the current state forbids it.
    #[error("{message}")]
    Conflict { field: &'static str, message: String },
    /// Credentials missing or wrong. The message is the same whatever was wrong.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// Authenticated, but the role does not allow this.
    #[error("{0}")]
    Forbidden(String),
    /// Too many attempts; retry after the given number of seconds.
    #[error("too many failed attempts; try again in {retry_after_secs} seconds")]
    Throttled { retry_after_secs: u64 },
    /// Temporarily unable to do it; the same request may succeed if sent again.
    #[error("{0}")]
    Unavailable(String),
    /// A plan limit refuses this (403 for standing counts, 429 for windows);
    /// the refusal names the limit, its value, the use and the reset.
    #[error("{}", .0.message)]
    LimitReached(Box<Refusal>),
    /// A database failure (details are for logs only).
    #[cfg(feature = "ssr")]
    #[error("storage error")]
    Store(#[from] sqlx::Error),
    /// Anything else unexpected (details are for logs only).
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Shorthand for [`Error::Invalid`].
    pub fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid { field, message: message.into() }
    }

    /// Shorthand for [`Error::Conflict`].
    pub fn conflict(field: &'static str, message: impl Into<String>) -> Self {
        Error::Conflict { field, message: message.into() }
    }

    /// The HTTP status this error maps to at every edge (REST and server functions).
    pub fn status_code(&self) -> u16 {
        match self {
            Error::Invalid { .. } => 422,
            Error::NotFound(_) => 404,
            Error::Conflict { .. } => 409,
            Error::Unauthorized(_) => 401,
            Error::Forbidden(_) => 403,
            Error::Throttled { .. } => 429,
            Error::Unavailable(_) => 503,
            Error::LimitReached(r) => r.status,
            #[cfg(feature = "ssr")]
            Error::Store(_) => 500,
            Error::Internal(_) => 500,
        }
    }

    /// The message safe to show a client: internals are replaced by a generic sentence.
    pub fn public_message(&self) -> String {
        match self.status_code() {
            500 => "internal error; it has been logged".to_string(),
            _ => self.to_string(),
        }
    }

    /// The field an error is about, when there is one.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Error::Invalid { field, .. } | Error::Conflict { field, .. } => Some(field),
            _ => None,
        }
    }
}
