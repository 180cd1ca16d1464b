//! The error every server function returns: a status and a message a person
//! can read. Internal details never reach it (see `ssr::fail`).

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

/// A readable failure with the HTTP status it maps to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppError {
    pub status: u16,
    pub message: String,
    /// Set when a plan limit refused: where the organization can upgrade
    /// (e.g. `/o/<id>/billing`), so every form can offer the way out.
    #[serde(default)]
    pub upgrade_path: Option<String>,
}

impl AppError {
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        AppError { status, message: message.into(), upgrade_path: None }
    }

    pub fn is_not_found(&self) -> bool {
        self.status == 404
    }

    pub fn is_unauthorized(&self) -> bool {
        self.status == 401
    }
}

impl std::fmt::Display for AppError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for AppError {}

/// A core error at the server-function edge: `?` on a core result does what
/// [`crate::ssr::fail`] says (the response status, `Retry-After`, the audit
/// entry of a denial, and no internals in the message).
#[cfg(feature = "ssr")]
impl From<tollbooth::Error> for AppError {
    fn from(e: tollbooth::Error) -> Self {
        crate::ssr::fail(e)
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        let status = match value {
            ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_) | ServerFnErrorErr::Deserialization(_) => 400,
            _ => 500,
        };
        AppError::new(status, value.to_string())
    }
}
