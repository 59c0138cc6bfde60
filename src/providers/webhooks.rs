//! What a provider makes of a webhook, in terms every provider shares: it proves the request
//! genuine and parses it into a neutral event (or a ping, or a synchronous question it answers
//! itself). The intake (`intake.rs`) takes it from there without knowing the provider.

use crate::domain::{Centavos, Currency};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A webhook as it arrived: its headers (names in lower case) and its raw body.
pub struct WebhookRequest<'a> {
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
}

impl WebhookRequest<'_> {
    /// The first header of that name (names compare in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// What a provider made of a webhook.
#[derive(Debug)]
pub enum Inbound {
    /// Not proven to come from the provider (why, in words that hold no secret): 401.
    Refused(&'static str),
    /// Genuine, but not something the provider's parser can read: 400.
    Unreadable(String),
    /// A check that the endpoint answers; nothing to store.
    Ping { event_id: String },
    /// A question the provider must answer synchronously (`Provider::answer`).
    Question(Question),
    /// Something that happened, to take in.
    Event(ProviderEvent),
}

/// A synchronous question (e.g. may this cash reference be paid?).
#[derive(Debug, Clone)]
pub struct Question {
    pub event_id: String,
    pub kind: String,
    pub data: Value,
}

/// An event in the provider's own words, reduced to what the intake needs to route it. It is
/// kept as JSON while it waits for its order (`store::held`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ProviderEvent {
    pub provider: String,
    pub id: String,
    /// The provider's event type, as sent (relayed as the notification's `type`).
    pub kind: String,
    pub occurred_at: Option<i64>,
    pub about: About,
    /// The amount the object carries, and its currency.
    pub amount: Option<Centavos>,
    pub currency: Option<Currency>,
    /// The provider's object as received (relayed as the notification's `data`).
    pub data: Value,
}

/// What an event is about.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "about", rename_all = "snake_case")]
pub enum About {
    /// An order: its status (ranked: a status never replaces a higher-ranked one) and, when
    /// pagos made it, the attempt key it carries in its metadata.
    Order {
        order_id: String,
        status: Option<RankedStatus>,
        claim_key: Option<String>,
    },
    /// A payment (charge): of an order, or on a reusable reference (found by its number, or its
    /// customer when it has none).
    Payment {
        order_id: Option<String>,
        payment_id: Option<String>,
        status: Option<String>,
        reference: Option<String>,
        customer_id: Option<String>,
    },
    /// A customer is gone: its references can no longer be paid.
    CustomerGone { customer_id: String },
    /// Nothing pagos relays.
    Other,
}

/// An order status with its rank among the provider's statuses.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RankedStatus {
    pub status: String,
    pub rank: i64,
}
