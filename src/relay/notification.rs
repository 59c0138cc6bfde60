//! The notification storefronts receive (its shape is part of the outer contract).

use crate::domain::Centavos;
use serde::Serialize;
use serde_json::Value;
use url::Url;

#[derive(Debug, Serialize)]
pub struct Notification<'a> {
    /// Same value as the `webhook-id` header; stable across attempts.
    pub id: &'a str,
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub provider: &'a str,
    pub provider_event_id: &'a str,
    pub reference_id: &'a str,
    /// The provider order, when the news is about one (a reference payment may have none).
    pub order_id: Option<&'a str>,
    /// The order's status as known so far; it never moves backwards between notifications.
    pub payment_status: &'a str,
    /// Pesos, exact, e.g. `"1000.00"`.
    pub amount: Option<String>,
    pub amount_cents: Option<i64>,
    pub currency: &'a str,
    pub occurred_at: Option<i64>,
    /// The provider's object as received.
    pub data: &'a Value,
}

impl Notification<'_> {
    pub fn with_amount(mut self, amount: Centavos) -> Self {
        self.amount_cents = Some(amount.get());
        self.amount = Some(amount.pesos());
        self
    }
}

/// A fresh notification id: time-ordered, so ids sort in the order notifications were made.
pub fn new_message_id() -> String {
    format!("msg_{}", uuid::Uuid::now_v7().simple())
}

/// `scheme://host:port` of a target: deliveries to one target share a concurrency limit.
pub fn target_key(url: &str) -> String {
    match Url::parse(url) {
        Ok(url) => format!(
            "{}://{}:{}",
            url.scheme(),
            url.host_str().unwrap_or(""),
            url.port_or_known_default().unwrap_or(0)
        ),
        Err(_) => url.to_owned(),
    }
}
