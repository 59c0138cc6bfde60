//! Conekta's `error` body: `{"object": "error", "type", "log_id", "details": [{code, param,
//! message, debug_message}]}`.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Default, Deserialize)]
struct ErrorView {
    #[serde(default)]
    details: Vec<DetailView>,
    #[serde(default)]
    message: Option<String>,
}

#[derive(Debug, Deserialize)]
struct DetailView {
    #[serde(default)]
    message: Option<String>,
}

/// The first human message of an error body: its first detail's, or its own.
pub fn message(body: &Value) -> Option<String> {
    let error = ErrorView::deserialize(body).unwrap_or_default();
    error
        .details
        .into_iter()
        .find_map(|detail| detail.message)
        .or(error.message)
}
