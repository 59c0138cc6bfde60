//! The simulator's objects, kept in memory (it is a demo): orders, customers, recurrent
//! references, and what the inbox received. Objects are stored in Conekta's JSON shapes.

use rand::Rng;
use serde_json::Value;
use std::collections::HashMap;

/// One notification the built-in inbox received.
#[derive(Debug, Clone)]
pub struct InboxEntry {
    pub webhook_id: String,
    pub received_at: i64,
    pub body: Value,
}

/// A recurrent cash reference and where it lives.
#[derive(Debug, Clone)]
pub struct ReferenceOwner {
    pub customer_id: String,
    pub source_id: String,
}

#[derive(Default)]
pub struct World {
    pub orders: HashMap<String, Value>,
    /// Checkout slug -> order id.
    pub slugs: HashMap<String, String>,
    /// Idempotency-Key -> order id (a retried create answers the same order).
    pub idempotency: HashMap<String, String>,
    pub customers: HashMap<String, Value>,
    /// Recurrent reference number -> its customer and payment source.
    pub references: HashMap<String, ReferenceOwner>,
    /// Saved card payment source id -> the test token it was made from (decides charges).
    pub card_sources: HashMap<String, String>,
    /// Charges made by the cashier outside any order (recurrent references).
    pub loose_charges: Vec<Value>,
    pub inbox: Vec<InboxEntry>,
    /// Notifications the inbox refused because their signature did not verify.
    pub inbox_refused: u64,
}

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A Conekta-style id: `ord_2uDDh4hPw6TYWyewJ` (prefix and 17 base62 characters).
pub fn conekta_id(prefix: &str) -> String {
    let mut rng = rand::rng();
    let tail: String = (0..17)
        .map(|_| BASE62[rng.random_range(0..BASE62.len())] as char)
        .collect();
    format!("{prefix}_{tail}")
}

/// A 24-hex ObjectId, as Conekta uses for events and charges.
pub fn object_id() -> String {
    hex::encode(rand::rng().random::<[u8; 12]>())
}

/// A 32-hex checkout slug.
pub fn slug() -> String {
    hex::encode(rand::rng().random::<[u8; 16]>())
}

/// `len` random decimal digits after a fixed prefix (cash references, CLABEs).
pub fn digits(prefix: &str, len: usize) -> String {
    let mut rng = rand::rng();
    let mut out = prefix.to_owned();
    while out.len() < len {
        out.push(char::from(b'0' + rng.random_range(0..10u8)));
    }
    out
}

pub fn now() -> i64 {
    crate::clock::unix_s()
}
