//! The simulator's objects, kept in memory (it is a demo): orders, customers, recurrent
//! references, and what the inbox received. Objects are stored in Conekta's JSON shapes.

use rand::Rng;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// One notification the built-in inbox received (every delivery of one `webhook-id`).
#[derive(Debug, Clone)]
pub struct InboxEntry {
    pub webhook_id: String,
    /// When it first arrived (Unix seconds).
    pub received_at: i64,
    pub body: Value,
    /// Whether its Standard Webhooks signature verified with the signing secret.
    pub verified: bool,
    /// Each time it arrived and what the inbox answered, oldest first.
    pub attempts: Vec<InboxAttempt>,
}

impl InboxEntry {
    /// True once any delivery of it was answered 2xx.
    pub fn delivered(&self) -> bool {
        self.attempts.iter().any(|a| a.answer.is_success())
    }
}

/// One arrival of a notification at the inbox.
#[derive(Debug, Clone, Copy)]
pub struct InboxAttempt {
    pub at: i64,
    pub answer: InboxAnswer,
}

/// What the inbox answered one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxAnswer {
    Status(u16),
    /// Held past the sender's timeout, as a storefront that hangs.
    TimedOut,
}

impl InboxAnswer {
    pub fn is_success(self) -> bool {
        matches!(self, InboxAnswer::Status(status) if (200..300).contains(&status))
    }
}

/// How the inbox answers from now on: switched by a developer to watch retries happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum InboxMode {
    /// 204 for a notification that verifies, 401 for one that does not.
    #[default]
    Accept,
    /// 500 to everything.
    Fail,
    /// No answer until the sender gave up.
    Hold,
    /// 410 to everything.
    Gone,
}

impl InboxMode {
    pub const ALL: [InboxMode; 4] = [
        InboxMode::Accept,
        InboxMode::Fail,
        InboxMode::Hold,
        InboxMode::Gone,
    ];

    pub fn name(self) -> &'static str {
        match self {
            InboxMode::Accept => "ok",
            InboxMode::Fail => "500",
            InboxMode::Hold => "timeout",
            InboxMode::Gone => "410",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|mode| mode.name() == name)
    }
}

/// A recurrent cash reference and where it lives.
#[derive(Debug, Clone)]
pub struct ReferenceOwner {
    pub customer_id: String,
    pub source_id: String,
}

/// Objects of one kind (orders, customers) by id, in the order they were made: `GET /orders`
/// and `GET /customers` list newest first and page from an id, so the order must be kept.
#[derive(Default)]
pub struct Objects {
    /// Oldest first; objects are never removed.
    made: Vec<Value>,
    /// id -> position in `made`.
    index: HashMap<String, usize>,
}

impl Objects {
    /// Adds an object under its `id`, or replaces the one with that id where it stands.
    pub fn insert(&mut self, object: Value) {
        let id = object["id"].as_str().unwrap_or("").to_owned();
        match self.index.get(&id) {
            Some(&at) => self.made[at] = object,
            None => {
                self.index.insert(id, self.made.len());
                self.made.push(object);
            }
        }
    }

    pub fn get(&self, id: &str) -> Option<&Value> {
        self.index.get(id).map(|&at| &self.made[at])
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut Value> {
        self.index.get(id).map(|&at| &mut self.made[at])
    }

    pub fn contains_key(&self, id: &str) -> bool {
        self.index.contains_key(id)
    }

    /// Oldest first.
    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.made.iter()
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Value> {
        self.made.iter_mut()
    }

    /// Where the object with this id stands (0 is the oldest).
    pub fn position(&self, id: &str) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// Oldest first, as a slice (for paging by position).
    pub fn as_slice(&self) -> &[Value] {
        &self.made
    }
}

#[derive(Default)]
pub struct World {
    pub orders: Objects,
    /// Checkout slug -> order id.
    pub slugs: HashMap<String, String>,
    /// Orders made with `pre_authorize: true`: their card payments are held until captured.
    pub pre_authorize: HashSet<String>,
    pub customers: Objects,
    /// Recurrent reference number -> its customer and payment source.
    pub references: HashMap<String, ReferenceOwner>,
    /// Saved card payment source id -> the test token it was made from (decides charges).
    pub card_sources: HashMap<String, String>,
    /// Charges made by the cashier outside any order (recurrent references).
    pub loose_charges: Vec<Value>,
    pub inbox: Vec<InboxEntry>,
    /// Notifications the inbox refused because their signature did not verify.
    pub inbox_refused: u64,
    pub inbox_mode: InboxMode,
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

/// Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs() as i64)
}
