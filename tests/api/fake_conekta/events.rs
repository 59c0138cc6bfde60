//! Conekta's webhooks as the fake sends them: real-shaped events, each serialized and signed
//! once, delivered as Conekta delivers (a non-2xx answer or a failed connection is tried again
//! later), with every attempt written down for tests to read.

use super::object_id;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long one attempt waits for an answer. A create that sends its events before answering
/// waits no longer than this for each of them, as Conekta would not hang on a slow receiver.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
/// Conekta's retries stretch over days; tests need seconds. Doubling from 100 ms up to 2 s
/// still reaches a process that restarts within the minute.
const FIRST_PAUSE: Duration = Duration::from_millis(100);
const LONGEST_PAUSE: Duration = Duration::from_secs(2);
const GIVE_UP_AFTER: Duration = Duration::from_secs(60);

/// When a new order's events go out, relative to the create's answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum EventTiming {
    /// No events (what tests that post their own webhooks expect).
    #[default]
    None,
    /// Delivered, and their answers awaited (each at most 2 s), before the create is answered.
    BeforeAnswer,
    /// Delivered from a task started as the create is answered.
    AfterAnswer,
}

/// Which liberties Conekta takes with a new order's events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EventPlan {
    pub timing: EventTiming,
    /// Every event is delivered twice, with the same id and bytes.
    pub repeat: bool,
    /// The events go out in reverse order (`order.paid` before `order.created`).
    pub reorder: bool,
}

/// One attempt: the status pagos answered, or why there was no answer.
pub type Attempt = Result<u16, String>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// Not yet answered 2xx; attempts continue.
    Pending,
    /// Answered with this 2xx status: Conekta stops trying.
    Acknowledged(u16),
    /// Never answered 2xx within the retry window (or there was nowhere to send it).
    GaveUp,
}

/// One delivery of one event: a repeated event has two, with the same id.
#[derive(Debug, Clone)]
pub struct EventRecord {
    pub id: String,
    pub kind: String,
    /// The order the event is about (`data.object.id` or a charge's `order_id`).
    pub order_id: Option<String>,
    pub attempts: Vec<Attempt>,
    pub settlement: Settlement,
}

/// An event ready to go: the bytes and their signature, shared by every copy and attempt.
#[derive(Clone)]
struct Sealed {
    id: String,
    kind: String,
    order_id: Option<String>,
    body: Arc<str>,
    digest: Arc<str>,
}

/// One copy of a sealed event on its way, and where its record sits in the log.
pub(super) struct Delivery {
    slot: usize,
    sealed: Sealed,
}

impl Delivery {
    pub(super) fn event_id(&self) -> String {
        self.sealed.id.clone()
    }
}

#[derive(Default)]
struct CourierState {
    target: Option<String>,
    plan: EventPlan,
    log: Vec<EventRecord>,
}

/// Sends the fake's events and remembers how each delivery went.
pub(super) struct Courier {
    /// No pooled connections: each attempt connects afresh, as Conekta's would, and no
    /// connection outlives the runtime that opened it.
    client: reqwest::Client,
    state: Mutex<CourierState>,
}

impl Courier {
    pub(super) fn new() -> Self {
        Self {
            client: reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .build()
                .expect("HTTP client"),
            state: Mutex::default(),
        }
    }

    pub(super) fn aim_at(&self, url: &str) {
        self.state.lock().unwrap().target = Some(url.to_owned());
    }

    pub(super) fn set_plan(&self, plan: EventPlan) {
        self.state.lock().unwrap().plan = plan;
    }

    pub(super) fn plan(&self) -> EventPlan {
        self.state.lock().unwrap().plan
    }

    pub(super) fn log(&self) -> Vec<EventRecord> {
        self.state.lock().unwrap().log.clone()
    }

    /// An event envelope as Conekta builds it around `object`.
    pub(super) fn event(&self, kind: &str, object: &Value, now: i64) -> Value {
        let target = self.state.lock().unwrap().target.clone();
        json!({
            "id": object_id(), "object": "event", "type": kind, "livemode": false,
            "created_at": now,
            "data": {"object": object, "previous_attributes": {}},
            "webhook_status": "pending",
            "webhook_logs": [{
                "id": format!("webhl_{}", object_id()), "object": "webhook_log", "url": target,
                "failed_attempts": 0, "last_http_response_status": -1, "response_data": null,
                "last_attempted_at": 0
            }]
        })
    }

    /// The deliveries of a new order's events, in the order the plan sends them.
    pub(super) fn order_deliveries(
        &self,
        order: &Value,
        plan: EventPlan,
        now: i64,
    ) -> Vec<Delivery> {
        let copies = if plan.repeat { 2 } else { 1 };
        let mut sendings = Vec::new();
        for (kind, object) in order_story(order) {
            let sealed = seal(&self.event(kind, &object, now));
            sendings.extend(std::iter::repeat_n(sealed, copies));
        }
        if plan.reorder {
            sendings.reverse();
        }
        // Registered in sending order, so the log reads as pagos hears them.
        sendings
            .into_iter()
            .map(|sealed| self.register(sealed))
            .collect()
    }

    /// A delivery of any event, logged as pending from now on.
    pub(super) fn raw_delivery(&self, event: &Value) -> Delivery {
        self.register(seal(event))
    }

    fn register(&self, sealed: Sealed) -> Delivery {
        let mut state = self.state.lock().unwrap();
        state.log.push(EventRecord {
            id: sealed.id.clone(),
            kind: sealed.kind.clone(),
            order_id: sealed.order_id.clone(),
            attempts: Vec::new(),
            settlement: Settlement::Pending,
        });
        Delivery {
            slot: state.log.len() - 1,
            sealed,
        }
    }

    /// Makes each delivery's first attempt in turn; any retries go on in the background.
    pub(super) async fn deliver_in_turn(self: Arc<Self>, deliveries: Vec<Delivery>) {
        for delivery in deliveries {
            self.clone().deliver(delivery).await;
        }
    }

    pub(super) async fn deliver(self: Arc<Self>, delivery: Delivery) {
        let started = Instant::now();
        if !self.attempt(&delivery).await {
            actix_web::rt::spawn(self.retry(delivery, started));
        }
    }

    async fn retry(self: Arc<Self>, delivery: Delivery, started: Instant) {
        let mut pause = FIRST_PAUSE;
        loop {
            if started.elapsed() + pause > GIVE_UP_AFTER {
                self.state.lock().unwrap().log[delivery.slot].settlement = Settlement::GaveUp;
                return;
            }
            actix_web::rt::time::sleep(pause).await;
            if self.attempt(&delivery).await {
                return;
            }
            pause = (pause * 2).min(LONGEST_PAUSE);
        }
    }

    /// One attempt, logged; true when the delivery is settled.
    async fn attempt(&self, delivery: &Delivery) -> bool {
        let target = self.state.lock().unwrap().target.clone();
        let Some(target) = target else {
            let mut state = self.state.lock().unwrap();
            let record = &mut state.log[delivery.slot];
            record
                .attempts
                .push(Err("no webhook URL: call send_events_to first".into()));
            record.settlement = Settlement::GaveUp;
            return true;
        };
        let answer = self
            .client
            .post(&target)
            .header("content-type", "application/json")
            .header("digest", &*delivery.sealed.digest)
            .body(delivery.sealed.body.to_string())
            .timeout(ATTEMPT_TIMEOUT)
            .send()
            .await;
        let attempt = match answer {
            Ok(response) => Ok(response.status().as_u16()),
            Err(error) => Err(describe(&error)),
        };
        let mut state = self.state.lock().unwrap();
        let record = &mut state.log[delivery.slot];
        record.attempts.push(attempt.clone());
        match attempt {
            Ok(status) if (200..300).contains(&status) => {
                record.settlement = Settlement::Acknowledged(status);
                true
            }
            _ => false,
        }
    }
}

/// Serializes and signs an event once, with the key pagos trusts in tests.
fn seal(event: &Value) -> Sealed {
    let body = event.to_string();
    let object = &event["data"]["object"];
    let order_id = if object["object"] == "order" {
        &object["id"]
    } else {
        &object["order_id"]
    };
    Sealed {
        id: event["id"].as_str().unwrap_or_default().to_owned(),
        kind: event["type"].as_str().unwrap_or_default().to_owned(),
        order_id: order_id.as_str().map(str::to_owned),
        digest: crate::conekta_events::digest(body.as_bytes()).into(),
        body: body.into(),
    }
}

/// The events Conekta raises for a new order, in the order they happen.
fn order_story(order: &Value) -> Vec<(&'static str, Value)> {
    let charges = order["charges"]["data"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut story = vec![("order.created", order.clone())];
    for charge in &charges {
        let outcome = match charge["status"].as_str() {
            Some("paid") => "charge.paid",
            Some("declined") => "charge.declined",
            _ => "charge.pending",
        };
        story.push(("charge.created", charge.clone()));
        story.push((outcome, charge.clone()));
    }
    let all_paid = !charges.is_empty() && charges.iter().all(|c| c["status"] == "paid");
    let last = if all_paid {
        "order.paid"
    } else {
        "order.pending_payment"
    };
    story.push((last, order.clone()));
    story
}

/// An HTTP client error with its causes ("connection refused" hides two levels down).
fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
