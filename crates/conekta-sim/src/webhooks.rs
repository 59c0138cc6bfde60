//! Conekta's webhooks, from the simulator to the bridge (whatever listens at the webhook URL):
//! real-shaped event envelopes, signed with the simulator's key (`Digest` header), sent
//! asynchronously in order, or synchronously for the `inbound_payment.*` questions whose
//! answer decides a payment.

use crate::server::Simulator;
use crate::world::state::{conekta_id, now, object_id};
use actix_web::web;
use serde_json::{json, Value};
use std::time::Duration;

/// Conekta gives the synchronous `inbound_payment.*` questions two seconds.
pub const QUESTION_BUDGET: Duration = Duration::from_secs(2);
const DELIVERY_BUDGET: Duration = Duration::from_secs(10);
const DELIVERY_ATTEMPTS: u32 = 5;

/// An asynchronous event about `object` (an order or a charge), as Conekta delivers it.
pub fn event(kind: &str, object: &Value, bridge_url: &str) -> Value {
    json!({
        "data": {"object": object, "previous_attributes": {}},
        "livemode": false,
        "webhook_status": "pending",
        "webhook_logs": [{
            "id": conekta_id("webhl"), "url": bridge_url, "failed_attempts": 0,
            "last_http_response_status": -1, "response_data": null, "object": "webhook_log",
            "last_attempted_at": 0
        }],
        "id": object_id(),
        "object": "event",
        "type": kind,
        "created_at": now()
    })
}

/// The event about an order's new status, if that status has one.
pub fn order_status_event(order: &Value, bridge_url: &str) -> Option<Value> {
    let kind = match order["payment_status"].as_str()? {
        "paid" => "order.paid",
        "pre_authorized" => "order.pre_authorized",
        "declined" => "order.declined",
        "pending_payment" => "order.pending_payment",
        "partially_paid" => "order.updated",
        "canceled" => "order.canceled",
        "refunded" => "order.refunded",
        "partially_refunded" => "order.partially_refunded",
        _ => return None,
    };
    Some(event(kind, order, bridge_url))
}

/// A synchronous question (`inbound_payment.lookup` / `.payment_attempt`), as seed 001 shows.
pub fn question(kind: &str, inbound_payment: &Value) -> Value {
    json!({
        "data": {"object": inbound_payment, "previous_attributes": {}},
        "livemode": false,
        "webhook_status": "not_applicable",
        "webhook_logs": [],
        "id": object_id(),
        "object": "event",
        "type": kind,
        "created_at": now()
    })
}

/// What the bridge answered: its status and JSON body (or why there was none).
#[derive(Debug, Clone)]
pub struct BridgeAnswer {
    pub status: Option<u16>,
    pub body: Value,
    pub error: Option<String>,
}

/// Posts one signed event to the bridge and waits (within `budget`) for its answer.
pub async fn post(simulator: &Simulator, event: &Value, budget: Duration) -> BridgeAnswer {
    let Some(url) = simulator.webhook_url() else {
        return BridgeAnswer {
            status: None,
            body: Value::Null,
            error: Some("no webhook URL is set yet".to_owned()),
        };
    };
    let body = event.to_string();
    let digest = simulator.signer.digest(body.as_bytes());
    let client = awc::Client::builder().timeout(budget).finish();
    let sent = client
        .post(&url)
        .insert_header(("Content-Type", "application/json"))
        .insert_header(("Digest", digest))
        .insert_header(("User-Agent", "Conekta-Sandbox/conekta-sim"))
        .send_body(body);
    let outcome = tokio::time::timeout(budget, async {
        let mut response = sent.await.map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let bytes = response
            .body()
            .limit(64 * 1024)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<_, String>((
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        ))
    })
    .await;
    match outcome {
        Ok(Ok((status, body))) => BridgeAnswer {
            status: Some(status),
            body,
            error: None,
        },
        Ok(Err(error)) => BridgeAnswer {
            status: None,
            body: Value::Null,
            error: Some(error),
        },
        Err(_) => BridgeAnswer {
            status: None,
            body: Value::Null,
            error: Some(format!("no answer within {budget:?}")),
        },
    }
}

/// Sends the events one after another in the background, retrying each a few times until the
/// bridge answers 2xx (as Conekta retries).
pub fn send_in_order(simulator: web::Data<Simulator>, events: Vec<Value>) {
    if simulator.webhook_url().is_none() {
        // Nobody to tell (a standalone simulator without --webhook-url).
        tracing::debug!(
            events = events.len(),
            "sandbox: no webhook URL; events not sent"
        );
        return;
    }
    actix_web::rt::spawn(async move {
        for event in events {
            let _ = deliver(&simulator, &event).await;
        }
    });
}

/// Sends one event and waits until the bridge accepted it (2xx), retrying a few times as
/// Conekta does; the error says what the last attempt got.
pub async fn deliver(simulator: &Simulator, event: &Value) -> Result<u16, String> {
    let kind = event["type"].as_str().unwrap_or("");
    let id = event["id"].as_str().unwrap_or("");
    let mut last = String::new();
    for attempt in 1..=DELIVERY_ATTEMPTS {
        let answer = post(simulator, event, DELIVERY_BUDGET).await;
        match answer.status {
            Some(status) if (200..300).contains(&status) => {
                tracing::info!(event_type = %kind, event_id = %id, status, "sandbox: webhook delivered to the bridge");
                return Ok(status);
            }
            _ => {
                tracing::warn!(event_type = %kind, event_id = %id, attempt, status = ?answer.status,
                    error = ?answer.error, "sandbox: the bridge did not accept a webhook");
                last = match (answer.status, answer.error) {
                    (Some(status), _) => format!("the bridge answered {status}"),
                    (None, Some(error)) => error,
                    (None, None) => "no answer".to_owned(),
                };
                if simulator.webhook_url().is_none() {
                    break;
                }
                actix_web::rt::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
            }
        }
    }
    Err(last)
}
