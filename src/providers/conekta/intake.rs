//! Taking in Conekta's webhooks: prove them genuine, store them once, queue the notification.

use super::inbound::{self, Approver};
use super::webhook::{status_rank, ConektaEvent, DigestForm, DigestVerifier};
use super::PROVIDER;
use crate::metrics::Metrics;
use crate::relay::notification::{new_message_id, target_key, Notification};
use crate::relay::RelayHandle;
use crate::store::{
    HeldEvent, IncomingEvent, Ingested, NewDelivery, OrderContext, Store, StoredReference,
};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};

/// What to answer Conekta.
#[derive(Debug)]
pub enum WebhookAnswer {
    /// 200 with this body: stored (or nothing to store).
    Accepted(Value),
    /// 200 with the answer to a synchronous question (`inbound_payment.*`).
    Answered(Value),
    /// 401: not proven to come from Conekta; nothing stored.
    Unauthorized(&'static str),
    /// 400: signed, but not an event pagos can read.
    Unreadable(String),
    /// 503: could not be stored; Conekta will retry.
    StoreUnavailable,
}

pub struct ConektaWebhooks {
    pub verifier: Option<DigestVerifier>,
    pub store: Store,
    pub relay: RelayHandle,
    pub metrics: Metrics,
}

impl ConektaWebhooks {
    /// Verifies the raw bytes first; only a genuine body is parsed.
    pub async fn receive(
        &self,
        digest: Option<&str>,
        body: &[u8],
        approver: &Approver,
    ) -> WebhookAnswer {
        let answer = self.take_in(digest, body, approver).await;
        let outcome = match &answer {
            WebhookAnswer::Accepted(body) => body["outcome"].as_str().unwrap_or("accepted"),
            WebhookAnswer::Answered(body) if body["payable"] == true => "approved",
            WebhookAnswer::Answered(_) => "declined",
            WebhookAnswer::Unauthorized(_) => "refused",
            WebhookAnswer::Unreadable(_) => "unreadable",
            WebhookAnswer::StoreUnavailable => "store_error",
        };
        self.metrics
            .webhooks
            .with_label_values(&[PROVIDER, outcome])
            .inc();
        answer
    }

    async fn take_in(
        &self,
        digest: Option<&str>,
        body: &[u8],
        approver: &Approver,
    ) -> WebhookAnswer {
        // The reasons logged and answered name no part of the body, the header or a key.
        let Some(verifier) = &self.verifier else {
            let reason = "webhook verification is not configured";
            tracing::warn!(reason, "Conekta webhook refused");
            return WebhookAnswer::Unauthorized(reason);
        };
        let Some(digest) = digest else {
            let reason = "the Digest header is missing";
            tracing::warn!(reason, "Conekta webhook refused");
            return WebhookAnswer::Unauthorized(reason);
        };
        match verifier.verify(body, digest) {
            Ok(form) => note_digest_form(form),
            Err(refusal) => {
                tracing::warn!(reason = %refusal, "Conekta webhook refused");
                return WebhookAnswer::Unauthorized("the Digest signature does not verify");
            }
        }
        let parsed: Value = match serde_json::from_slice(body) {
            Ok(value) => value,
            Err(e) => return WebhookAnswer::Unreadable(format!("the body is not JSON: {e}")),
        };
        let event = match ConektaEvent::parse(&parsed) {
            Ok(event) => event,
            Err(reason) => return WebhookAnswer::Unreadable(reason),
        };
        if event.kind == "webhook_ping" {
            return accepted("ping", &event);
        }
        if event.kind == "customer.deleted" {
            // Its references can no longer be paid: lookups answer 13 (inactive) from now on.
            if let Some(customer_id) = event.object["id"].as_str() {
                if let Err(error) = self
                    .store
                    .deactivate_references(PROVIDER, customer_id)
                    .await
                {
                    tracing::error!(%error, "could not deactivate references");
                    return WebhookAnswer::StoreUnavailable;
                }
            }
        }
        if inbound::is_question(&event.kind) {
            let answer = inbound::answer(&self.store, approver, &event).await;
            tracing::info!(event_type = %event.kind, payable = %answer["payable"], "answered Conekta's question");
            return WebhookAnswer::Answered(answer);
        }
        let ingested = match self.reference_payment(&event).await {
            Ok(Some(reference)) => {
                let delivery = payment_notification(&event, &reference);
                let payment_key = event.object["id"]
                    .as_str()
                    .map(|charge| format!("payment:{charge}:{}", event.kind));
                let incoming = IncomingEvent {
                    provider: PROVIDER,
                    event_id: &event.id,
                    event_type: &event.kind,
                    order_id: None,
                    status: None,
                    claim_key: None,
                    holdable: None,
                };
                self.store
                    .ingest_payment_event(&incoming, payment_key.as_deref(), &delivery)
                    .await
            }
            Ok(None) => self.ingest_order_event(&event, body).await,
            Err(error) => Err(error),
        };
        match ingested {
            Ok(Ingested::Queued { delivery_id }) => {
                tracing::info!(event_id = %event.id, event_type = %event.kind, %delivery_id, "event queued for the storefront");
                self.relay.wake();
                accepted("queued", &event)
            }
            Ok(Ingested::Held) => {
                tracing::info!(event_id = %event.id, event_type = %event.kind, "event held until its order is recorded");
                accepted("held", &event)
            }
            Ok(Ingested::Duplicate) => accepted("duplicate", &event),
            Ok(Ingested::NotOurs) => accepted("ignored", &event),
            Err(error) => {
                tracing::error!(%error, event_id = %event.id, "could not store a Conekta event");
                WebhookAnswer::StoreUnavailable
            }
        }
    }

    /// The reusable reference a charge event is about, when it is not about one of our orders.
    async fn reference_payment(
        &self,
        event: &ConektaEvent,
    ) -> Result<Option<StoredReference>, crate::store::StoreError> {
        if event.object["object"].as_str() != Some("charge") {
            return Ok(None);
        }
        if let Some(order_id) = event.order_id() {
            if self.store.order_target(PROVIDER, order_id).await?.is_some() {
                return Ok(None);
            }
        }
        self.store
            .find_reference(
                PROVIDER,
                event.object["payment_method"]["reference"].as_str(),
                event.object["customer_id"].as_str(),
            )
            .await
    }

    /// An event about an order: relayed if the order is ours, tied to the claim that made it if
    /// it carries one's attempt key, held if it may be about an order still being recorded.
    async fn ingest_order_event(
        &self,
        event: &ConektaEvent,
        body: &[u8],
    ) -> Result<Ingested, crate::store::StoreError> {
        let status = event.order_status();
        // Only an event that names an order but cannot tie itself to a claim (a charge) waits
        // for its order; an order event without one of our attempt keys is someone else's.
        let holdable = match event.claim_key() {
            None if !event.is_order() => std::str::from_utf8(body).ok(),
            _ => None,
        };
        let incoming = IncomingEvent {
            provider: PROVIDER,
            event_id: &event.id,
            event_type: &event.kind,
            order_id: event.order_id(),
            status: status.map(|s| (s, status_rank(s))),
            claim_key: event.claim_key(),
            holdable,
        };
        // The notification may be built by the store's writer task: take the trace along now.
        let for_notification = event.clone();
        let trace_context = serde_json::to_string(&crate::telemetry::trace_headers()).ok();
        let for_delivery = trace_context.clone();
        self.store
            .ingest_event(
                &incoming,
                new_message_id(),
                move |order, id| {
                    let mut delivery = notification(&for_notification, order, id.to_owned());
                    delivery.trace_context = for_delivery.clone();
                    delivery
                },
                held_notification,
                trace_context,
            )
            .await
    }
}

/// Which form a genuine `Digest` came in: at INFO the first time per form in this process, so
/// operators learn which form Conekta really sends, and at DEBUG after that.
fn note_digest_form(form: DigestForm) {
    static SEEN: [AtomicBool; DigestForm::ALL.len()] =
        [const { AtomicBool::new(false) }; DigestForm::ALL.len()];
    if SEEN[form as usize].swap(true, Ordering::Relaxed) {
        tracing::debug!(digest_form = %form, "Conekta webhook verified");
    } else {
        tracing::info!(digest_form = %form, "first Conekta webhook verified in this Digest form");
    }
}

fn accepted(outcome: &str, event: &ConektaEvent) -> WebhookAnswer {
    WebhookAnswer::Accepted(json!({ "received": true, "outcome": outcome, "event_id": event.id }))
}

/// The notification for a payment (or its reversal) on a reusable reference.
fn payment_notification(event: &ConektaEvent, reference: &StoredReference) -> NewDelivery {
    let id = new_message_id();
    let status = event.object["status"].as_str().unwrap_or("paid");
    let mut body = Notification {
        id: &id,
        kind: &event.kind,
        provider: PROVIDER,
        provider_event_id: &event.id,
        reference_id: &reference.reference_id,
        order_id: event.order_id(),
        payment_status: status,
        amount: None,
        amount_cents: None,
        currency: event.currency().unwrap_or("MXN"),
        occurred_at: event.created_at,
        data: &event.object,
    };
    if let Some(centavos) = event.amount_cents() {
        body = body.with_amount(centavos);
    }
    NewDelivery {
        subject_key: format!("{PROVIDER}:ref:{}", reference.reference),
        target_url: reference.notification_url.clone(),
        target_key: target_key(&reference.notification_url),
        event_type: event.kind.clone(),
        body: serde_json::to_string(&body).unwrap_or_default(),
        trace_context: serde_json::to_string(&crate::telemetry::trace_headers()).ok(),
        id,
    }
}

/// The notification for an event that waited for its order (`store::held`).
pub fn held_notification(order: &OrderContext, held: &HeldEvent) -> Option<NewDelivery> {
    let parsed: Value = serde_json::from_str(&held.event).ok()?;
    let event = ConektaEvent::parse(&parsed).ok()?;
    let mut delivery = notification(&event, order, held.delivery_id.clone());
    delivery.trace_context = held.trace_context.clone();
    Some(delivery)
}

/// The notification for one event about one of our orders.
fn notification(event: &ConektaEvent, order: &OrderContext, id: String) -> NewDelivery {
    let order_id = event.order_id().unwrap_or_default();
    let body = Notification {
        id: &id,
        kind: &event.kind,
        provider: PROVIDER,
        provider_event_id: &event.id,
        reference_id: &order.reference_id,
        order_id: Some(order_id),
        payment_status: order.payment_status.as_deref().unwrap_or("pending_payment"),
        amount: None,
        amount_cents: None,
        currency: event.currency().unwrap_or(&order.currency),
        occurred_at: event.created_at,
        data: &event.object,
    }
    .with_amount(event.amount_cents().unwrap_or(order.amount_cents));
    NewDelivery {
        subject_key: format!("{PROVIDER}:{order_id}"),
        target_url: order.notification_url.clone(),
        target_key: target_key(&order.notification_url),
        event_type: event.kind.clone(),
        body: serde_json::to_string(&body).unwrap_or_default(),
        trace_context: serde_json::to_string(&crate::telemetry::trace_headers()).ok(),
        id,
    }
}
