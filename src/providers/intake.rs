//! The one intake of provider webhooks, whatever the provider: the provider proves the request
//! genuine and says what it is about (`Provider::webhook`); the intake stores the event once
//! (dedup by its id), moves the order's status forward, and builds the one notification the
//! storefront receives, in one transaction before the provider hears 2xx.

use super::webhooks::{About, Inbound, ProviderEvent, WebhookRequest};
use super::Provider;
use crate::domain::{Centavos, Currency};
use crate::metrics::Metrics;
use crate::relay::notification::{new_message_id, target_key, Notification};
use crate::relay::RelayHandle;
use crate::store::{
    HeldEvent, IncomingEvent, Ingested, NewDelivery, OrderContext, Store, StoreError,
    StoredReference,
};
use serde_json::{json, Value};

/// What to answer the provider.
#[derive(Debug)]
pub enum WebhookAnswer {
    /// 200 with this body: stored (or nothing to store).
    Accepted(Value),
    /// 200 with the answer to a synchronous question.
    Answered(Value),
    /// 401: not proven to come from the provider; nothing stored.
    Unauthorized(&'static str),
    /// 400: genuine, but not an event pagos can read.
    Unreadable(String),
    /// 503: could not be stored; the provider will send it again.
    StoreUnavailable,
}

pub struct Intake {
    pub store: Store,
    pub relay: RelayHandle,
    pub metrics: Metrics,
}

impl Intake {
    pub async fn receive(
        &self,
        provider: &dyn Provider,
        request: &WebhookRequest<'_>,
    ) -> WebhookAnswer {
        let answer = match provider.webhook(request) {
            Inbound::Refused(reason) => {
                tracing::warn!(provider = provider.name(), reason, "webhook refused");
                WebhookAnswer::Unauthorized(reason)
            }
            Inbound::Unreadable(reason) => WebhookAnswer::Unreadable(reason),
            Inbound::Ping { event_id } => accepted("ping", &event_id),
            Inbound::Question(question) => {
                let kind = question.kind.clone();
                let answer = provider.answer(question).await;
                tracing::info!(event_type = %kind, payable = %answer["payable"], "answered the provider's question");
                WebhookAnswer::Answered(answer)
            }
            Inbound::Event(event) => self.take_in(event).await,
        };
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
            .with_label_values(&[provider.name(), outcome])
            .inc();
        answer
    }

    async fn take_in(&self, event: ProviderEvent) -> WebhookAnswer {
        if let About::CustomerGone { customer_id } = &event.about {
            // Its references can no longer be paid: lookups answer "inactive" from now on.
            if let Err(error) = self
                .store
                .deactivate_references(&event.provider, customer_id)
                .await
            {
                tracing::error!(%error, "could not deactivate references");
                return WebhookAnswer::StoreUnavailable;
            }
        }
        let ingested = match self.reference_payment(&event).await {
            Ok(Some(reference)) => self.ingest_payment(&event, &reference).await,
            Ok(None) => self.ingest_order_event(&event).await,
            Err(error) => Err(error),
        };
        match ingested {
            Ok(Ingested::Queued { delivery_id }) => {
                tracing::info!(event_id = %event.id, event_type = %event.kind, %delivery_id, "event queued for the storefront");
                self.relay.wake();
                accepted("queued", &event.id)
            }
            Ok(Ingested::Held) => {
                tracing::info!(event_id = %event.id, event_type = %event.kind, "event held until its order is recorded");
                accepted("held", &event.id)
            }
            Ok(Ingested::Duplicate) => accepted("duplicate", &event.id),
            Ok(Ingested::NotOurs) => accepted("ignored", &event.id),
            Err(error) => {
                tracing::error!(%error, event_id = %event.id, "could not store a provider event");
                WebhookAnswer::StoreUnavailable
            }
        }
    }

    /// The reusable reference a payment event is about, when it is not about one of our orders.
    async fn reference_payment(
        &self,
        event: &ProviderEvent,
    ) -> Result<Option<StoredReference>, StoreError> {
        let About::Payment {
            order_id,
            reference,
            customer_id,
            ..
        } = &event.about
        else {
            return Ok(None);
        };
        if let Some(order_id) = order_id {
            if self
                .store
                .order_target(&event.provider, order_id)
                .await?
                .is_some()
            {
                return Ok(None);
            }
        }
        self.store
            .find_reference(
                &event.provider,
                reference.as_deref(),
                customer_id.as_deref(),
            )
            .await
    }

    /// A payment on a reusable reference: once per event id, and once per payment and type (the
    /// same payment reported again under a new event id is not relayed twice).
    async fn ingest_payment(
        &self,
        event: &ProviderEvent,
        reference: &StoredReference,
    ) -> Result<Ingested, StoreError> {
        let About::Payment {
            payment_id, status, ..
        } = &event.about
        else {
            return Ok(Ingested::NotOurs);
        };
        let payment_key = payment_id
            .as_ref()
            .map(|payment| format!("payment:{payment}:{}", event.kind));
        let target = Target {
            subject_key: format!("{}:ref:{}", event.provider, reference.reference),
            reference_id: reference.reference_id.as_str(),
            notification_url: &reference.notification_url,
            payment_status: status.as_deref().unwrap_or("paid"),
            amount: event.amount,
            currency: event.currency.as_ref().map_or("", Currency::as_str),
            storefront: reference.storefront.as_deref(),
        };
        let delivery = notification(event, &target, new_message_id(), trace_context());
        let incoming = IncomingEvent {
            provider: &event.provider,
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

    /// An event about an order: relayed if the order is ours, tied to the claim that made it if
    /// it carries one's attempt key, held if it may be about an order still being recorded.
    async fn ingest_order_event(&self, event: &ProviderEvent) -> Result<Ingested, StoreError> {
        let (order_id, status, claim_key) = match &event.about {
            About::Order {
                order_id,
                status,
                claim_key,
            } => (
                Some(order_id.as_str()),
                status.as_ref(),
                claim_key.as_deref(),
            ),
            About::Payment { order_id, .. } => (order_id.as_deref(), None, None),
            About::CustomerGone { .. } | About::Other => (None, None, None),
        };
        // Only an event that names an order but cannot tie itself to a claim (a payment) waits
        // for its order; an order event without one of our attempt keys is someone else's.
        let held_form = match &event.about {
            About::Payment {
                order_id: Some(_), ..
            } => serde_json::to_string(event).ok(),
            _ => None,
        };
        let incoming = IncomingEvent {
            provider: &event.provider,
            event_id: &event.id,
            event_type: &event.kind,
            order_id,
            status: status.map(|s| (s.status.as_str(), s.rank)),
            claim_key,
            holdable: held_form.as_deref(),
        };
        // The notification may be built by the store's writer thread: take the trace along now.
        let for_notification = event.clone();
        let trace = trace_context();
        let for_delivery = trace.clone();
        self.store
            .ingest_event(
                &incoming,
                new_message_id(),
                move |order, id| {
                    order_notification(
                        &for_notification,
                        order,
                        id.to_owned(),
                        for_delivery.clone(),
                    )
                },
                held_notification,
                trace,
            )
            .await
    }
}

/// The notification for an event that waited for its order (`store::held`).
pub fn held_notification(order: &OrderContext, held: &HeldEvent) -> Option<NewDelivery> {
    let event: ProviderEvent = serde_json::from_str(&held.event).ok()?;
    Some(order_notification(
        &event,
        order,
        held.delivery_id.clone(),
        held.trace_context.clone(),
    ))
}

/// The notification for one event about one of our orders.
fn order_notification(
    event: &ProviderEvent,
    order: &OrderContext,
    id: String,
    trace_context: Option<String>,
) -> NewDelivery {
    let order_id = match &event.about {
        About::Order { order_id, .. } => order_id.as_str(),
        About::Payment { order_id, .. } => order_id.as_deref().unwrap_or_default(),
        _ => "",
    };
    let target = Target {
        subject_key: format!("{}:{order_id}", event.provider),
        reference_id: order.reference_id.as_str(),
        notification_url: &order.notification_url,
        payment_status: order.payment_status.as_deref().unwrap_or("pending_payment"),
        amount: event.amount.or(Some(order.amount)),
        currency: event.currency.as_ref().unwrap_or(&order.currency).as_str(),
        storefront: order.storefront.as_deref(),
    };
    notification(event, &target, id, trace_context)
}

/// Where a notification goes, and what it says of the payment.
struct Target<'a> {
    /// Notifications about one subject are delivered in order.
    subject_key: String,
    reference_id: &'a str,
    notification_url: &'a str,
    payment_status: &'a str,
    amount: Option<Centavos>,
    currency: &'a str,
    /// Whose secrets sign it.
    storefront: Option<&'a str>,
}

/// The one notification a storefront receives for an event (its shape is the outer contract).
fn notification(
    event: &ProviderEvent,
    target: &Target<'_>,
    id: String,
    trace_context: Option<String>,
) -> NewDelivery {
    let order_id = match &event.about {
        About::Order { order_id, .. } => Some(order_id.as_str()),
        About::Payment { order_id, .. } => order_id.as_deref(),
        _ => None,
    };
    let mut body = Notification {
        id: &id,
        kind: &event.kind,
        provider: &event.provider,
        provider_event_id: &event.id,
        reference_id: target.reference_id,
        order_id,
        payment_status: target.payment_status,
        amount: None,
        amount_cents: None,
        currency: target.currency,
        occurred_at: event.occurred_at,
        data: &event.data,
    };
    if let Some(amount) = target.amount {
        body = body.with_amount(amount);
    }
    NewDelivery {
        subject_key: target.subject_key.clone(),
        target_url: target.notification_url.to_owned(),
        target_key: target_key(target.notification_url),
        event_type: event.kind.clone(),
        body: serde_json::to_string(&body).unwrap_or_default(),
        trace_context,
        storefront: target.storefront.map(str::to_owned),
        reference_id: target.reference_id.to_owned(),
        id,
    }
}

/// The W3C trace headers of the request being served, to continue its trace at delivery.
fn trace_context() -> Option<String> {
    serde_json::to_string(&crate::telemetry::trace_headers()).ok()
}

fn accepted(outcome: &str, event_id: &str) -> WebhookAnswer {
    WebhookAnswer::Accepted(json!({ "received": true, "outcome": outcome, "event_id": event_id }))
}
