//! [`PerfError`]: what a run reports when it cannot go on.

use std::fmt;

use corelog_client::ClientError;

/// A failed run: a one-line, human-readable cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerfError(pub String);

/// Result of the library's run functions.
pub type PerfResult<T> = Result<T, PerfError>;

impl PerfError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        PerfError(message.into())
    }

    /// Prefixes the message with what was being done.
    pub fn context(self, what: &str) -> Self {
        PerfError(format!("{what}: {}", self.0))
    }
}

impl fmt::Display for PerfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PerfError {}

impl From<ClientError> for PerfError {
    fn from(e: ClientError) -> Self {
        PerfError(e.to_string())
    }
}

impl From<std::io::Error> for PerfError {
    fn from(e: std::io::Error) -> Self {
        PerfError(e.to_string())
    }
}

impl From<String> for PerfError {
    fn from(e: String) -> Self {
        PerfError(e)
    }
}

impl From<&str> for PerfError {
    fn from(e: &str) -> Self {
        PerfError(e.to_owned())
    }
}
