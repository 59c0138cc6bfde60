//! Conekta's `event`: `{"id", "type", "created_at", "data": {"object": …}}`.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
pub struct EventView {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub created_at: Option<i64>,
    #[serde(default)]
    pub data: EventData,
}

#[derive(Debug, Default, Deserialize)]
pub struct EventData {
    /// The order, charge or customer the event is about (absent for `webhook_ping`).
    #[serde(default)]
    pub object: Value,
}
