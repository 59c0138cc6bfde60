//! What can go wrong while a provider performs an action, independent of HTTP.

use crate::domain::FieldError;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// The request itself is wrong; nothing left the process.
    #[error("{} invalid field(s)", .0.len())]
    InvalidFields(Vec<FieldError>),

    /// The request contradicts an earlier one with the same identity.
    #[error("conflict: {detail}")]
    Conflict {
        detail: String,
        fields: Vec<FieldError>,
    },

    /// The `Idempotency-Key` was used before with another body (the fields that differ).
    #[error("the Idempotency-Key was used with another request")]
    KeyReused(Vec<FieldError>),

    /// The provider answered with a 4xx: its status and its error body are kept, with the
    /// provider's first human message in it (the provider knows its error shape).
    #[error("provider rejected the request with status {status}")]
    ProviderRejected {
        status: u16,
        body: Value,
        message: Option<String>,
    },

    /// The provider answered with a 5xx or could not be reached.
    #[error("provider unavailable: {0}")]
    ProviderUnavailable(String),

    /// The provider did not answer within the configured budget.
    #[error("provider did not answer within {0} ms")]
    ProviderTimeout(u64),

    /// Our own store failed; the request may be retried.
    #[error("store unavailable: {0}")]
    StoreUnavailable(String),
}

impl ActionError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::InvalidFields(vec![FieldError::new(field, message)])
    }
}
