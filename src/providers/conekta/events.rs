//! Conekta's webhook events, read into the neutral shape the intake routes
//! (`providers::webhooks`): what each is about, and what it means for the order's status.

use super::claim_flow::METADATA_KEY;
use super::inbound;
use super::requests::common::DEFAULT_CURRENCY;
use super::wire::events::EventView;
use super::PROVIDER;
use crate::domain::{Centavos, Currency};
use crate::providers::webhooks::{About, Inbound, ProviderEvent, Question, RankedStatus};
use serde::Deserialize;
use serde_json::Value;

/// Reads a genuine body: an event to take in, a ping, or one of Conekta's synchronous questions.
pub fn parse(body: &[u8]) -> Inbound {
    let parsed: Value = match serde_json::from_slice(body) {
        Ok(value) => value,
        Err(e) => return Inbound::Unreadable(format!("the body is not JSON: {e}")),
    };
    let event = match EventView::deserialize(&parsed) {
        Ok(event) if !event.id.is_empty() && !event.kind.is_empty() => event,
        Ok(_) => return Inbound::Unreadable("an event needs a non-empty id and type".to_owned()),
        Err(e) => return Inbound::Unreadable(format!("not an event: {e}")),
    };
    if event.kind == "webhook_ping" {
        return Inbound::Ping { event_id: event.id };
    }
    let object = event.data.object;
    if inbound::is_question(&event.kind) {
        return Inbound::Question(Question {
            event_id: event.id,
            kind: event.kind,
            data: object,
        });
    }
    let about = about(&event.kind, &object);
    // An order's own currency stands in for an order event's; a payment on a reference has no
    // order, and Conekta's default is pesos.
    let currency = match (&about, object["currency"].as_str()) {
        (_, Some(currency)) => Some(Currency::of(currency)),
        (About::Payment { .. }, None) => Some(Currency::of(DEFAULT_CURRENCY)),
        _ => None,
    };
    Inbound::Event(ProviderEvent {
        provider: PROVIDER.to_owned(),
        amount: object["amount"].as_i64().map(Centavos),
        currency,
        id: event.id,
        kind: event.kind,
        occurred_at: event.created_at,
        about,
        data: object,
    })
}

/// What the event's object is: an order, a charge (of an order, or on a reusable reference), a
/// deleted customer, or something pagos does not relay.
fn about(kind: &str, object: &Value) -> About {
    let text = |name: &str| object[name].as_str().map(str::to_owned);
    match object["object"].as_str() {
        Some("order") => match text("id") {
            Some(order_id) => About::Order {
                order_id,
                status: object["payment_status"]
                    .as_str()
                    .or_else(|| implied_status(kind))
                    .map(|status| RankedStatus {
                        status: status.to_owned(),
                        rank: status_rank(status),
                    }),
                claim_key: object["metadata"][METADATA_KEY].as_str().map(str::to_owned),
            },
            None => About::Other,
        },
        Some("charge") => About::Payment {
            order_id: text("order_id"),
            payment_id: text("id"),
            status: text("status"),
            reference: object["payment_method"]["reference"]
                .as_str()
                .map(str::to_owned),
            customer_id: text("customer_id"),
        },
        _ if kind == "customer.deleted" => match text("id") {
            Some(customer_id) => About::CustomerGone { customer_id },
            None => About::Other,
        },
        // Anything else naming an order (Conekta may add objects) is still news of that order.
        _ => match text("order_id") {
            Some(order_id) => About::Payment {
                order_id: Some(order_id),
                payment_id: None,
                status: None,
                reference: None,
                customer_id: None,
            },
            None => About::Other,
        },
    }
}

/// What an order event's type says when its object carries no `payment_status`.
fn implied_status(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "order.paid" => "paid",
        "order.pending_payment" => "pending_payment",
        "order.expired" => "expired",
        "order.canceled" => "canceled",
        "order.declined" => "declined",
        "order.voided" => "voided",
        "order.pre_authorized" => "pre_authorized",
        "order.partially_refunded" => "partially_refunded",
        "order.refunded" => "refunded",
        "order.charged_back" => "charged_back",
        _ => return None,
    })
}

/// Order statuses ranked by how far along an order is. Conekta delivers events out of order
/// (an `order.updated` with `payment_status: null` can follow `order.paid`), so a status only
/// replaces a lower-ranked one. A decline ranks below paid because a hosted checkout lets the
/// buyer try again; unknown statuses rank lowest and never undo anything.
pub fn status_rank(status: &str) -> i64 {
    match status {
        "pending_payment" => 1,
        "declined" => 2,
        "expired" | "canceled" | "voided" => 3,
        "pre_authorized" => 4,
        "partially_paid" => 5,
        "paid" => 6,
        "partially_refunded" => 7,
        "refunded" => 8,
        "charged_back" => 9,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(value: Value) -> ProviderEvent {
        match parse(value.to_string().as_bytes()) {
            Inbound::Event(event) => event,
            other => panic!("not an event: {other:?}"),
        }
    }

    #[test]
    fn ranks_move_forward() {
        assert!(status_rank("paid") > status_rank("pending_payment"));
        assert!(status_rank("paid") > status_rank("declined"));
        assert!(status_rank("refunded") > status_rank("paid"));
        assert!(status_rank("something_new") < status_rank("pending_payment"));
    }

    #[test]
    fn reads_order_and_charge_events() {
        let order = event(json!({
            "id": "evt1", "type": "order.updated", "created_at": 1,
            "data": {"object": {"object": "order", "id": "ord_1", "payment_status": null,
                                "amount": 100, "metadata": {"pagos_claim": "clm_1"}}}
        }));
        let About::Order {
            order_id,
            status,
            claim_key,
        } = &order.about
        else {
            panic!("{order:?}")
        };
        assert_eq!((order_id.as_str(), status.is_none()), ("ord_1", true));
        assert_eq!(claim_key.as_deref(), Some("clm_1"));
        assert_eq!(order.amount, Some(Centavos(100)));
        let charge = event(json!({
            "id": "evt2", "type": "charge.paid",
            "data": {"object": {"object": "charge", "id": "ch_1", "order_id": "ord_1", "status": "paid"}}
        }));
        assert!(matches!(&charge.about, About::Payment { order_id: Some(o), .. } if o == "ord_1"));
        let paid = event(json!({
            "id": "evt3", "type": "order.paid", "data": {"object": {"object": "order", "id": "ord_1"}}
        }));
        assert!(matches!(&paid.about, About::Order { status: Some(s), .. } if s.status == "paid"));
        assert!(matches!(
            parse(br#"{"type": "order.paid"}"#),
            Inbound::Unreadable(_)
        ));
        assert!(matches!(
            parse(br#"{"id": "e", "type": "webhook_ping", "data": {}}"#),
            Inbound::Ping { .. }
        ));
    }
}
