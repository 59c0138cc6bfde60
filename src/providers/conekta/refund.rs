//! `refund`: money back on a paid order, never more than was paid and not yet refunded. Under
//! an `Idempotency-Key` a refund is made once: before calling Conekta, the refunds the order
//! already has are noted in the key's claim, so after an unknown outcome the refund that
//! attempt made is told apart from the others and adopted instead of made again.

use super::claim_flow::{look_until_sure, provider_error};
use super::client::{ConektaAnswer, ConektaClient, ConektaError};
use super::order_admin::{payment_view, reply};
use super::request_key::KeyedAttempt;
use super::requests::RefundRequest;
use super::wire::orders::{PaymentView, RefundRequest as WireRefund};
use super::ConektaProvider;
use crate::domain::ProviderSecret;
use crate::providers::{ActionError, ActionReply};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Charge statuses whose money was taken (some of it may be refunded since).
const PAID_STATUSES: &[&str] = &["paid", "partially_refunded", "refunded"];

/// What a refund attempt saw before it called Conekta.
#[derive(Debug, Serialize, Deserialize, PartialEq, Eq)]
struct RefundNote {
    /// Centavos asked for.
    amount: i64,
    /// Ids of the refunds the order had already.
    refunds: Vec<String>,
}

pub async fn refund(
    provider: &ConektaProvider,
    fields: Map<String, Value>,
    keyed: Option<&mut KeyedAttempt<'_>>,
) -> Result<ActionReply, ActionError> {
    let request = RefundRequest::parse(&fields).map_err(ActionError::InvalidFields)?;
    let client = provider.client();
    let order_path = format!("/orders/{}", request.order_id);

    // An earlier attempt under this key may have refunded already.
    if let Some(earlier) = keyed.as_deref().and_then(|keyed| keyed.earlier.as_ref()) {
        if let Some(note) = earlier
            .note
            .as_deref()
            .and_then(|n| serde_json::from_str(n).ok())
        {
            let made = look_until_sure(provider.budget(), earlier.started_at_ms, || {
                refund_made(client, &request.secret, &order_path, &note)
            })
            .await
            .map_err(provider_error)?;
            if let Some(order) = made {
                tracing::info!(order_id = %request.order_id, "an earlier attempt's refund was found and adopted");
                return Ok(reply(order));
            }
        }
    }

    let order = client
        .get(&order_path, &request.secret)
        .await
        .map_err(provider_error)?;
    let order = payment_view(&order)?;
    let left = refundable_cents(&order);
    let centavos = match request.amount.map(|a| a.centavos()) {
        _ if left <= 0 => return Err(ActionError::field("order_id", "has nothing left to refund")),
        Some(asked) if asked > left => {
            return Err(ActionError::field(
                "amount",
                format!(
                    "is more than what is left to refund ({})",
                    rust_decimal::Decimal::new(left, 2)
                ),
            ))
        }
        Some(asked) => asked,
        None => left,
    };
    if let Some(keyed) = keyed {
        let note = RefundNote {
            amount: centavos,
            refunds: order.refunds().map(|refund| refund.id.clone()).collect(),
        };
        keyed.begin(&json!(note).to_string()).await?;
    }
    let body = WireRefund {
        amount: centavos,
        reason: &request.reason,
    };
    client
        .post(
            &format!("{order_path}/refunds"),
            &request.secret,
            None,
            &body,
        )
        .await
        .map(reply)
        .map_err(provider_error)
}

/// The order, if it carries a refund of the noted amount that was not there before.
async fn refund_made(
    client: &ConektaClient,
    secret: &ProviderSecret,
    order_path: &str,
    note: &RefundNote,
) -> Result<Option<ConektaAnswer>, ConektaError> {
    let answer = client.get(order_path, secret).await?;
    let order = serde_json::from_str::<PaymentView>(&answer.text).unwrap_or_default();
    Ok(made_by(&order, note).then_some(answer))
}

fn made_by(order: &PaymentView, note: &RefundNote) -> bool {
    order
        .refunds()
        .any(|refund| !note.refunds.contains(&refund.id) && refund.amount.abs() == note.amount)
}

/// Centavos paid and not yet refunded: the sum of the paid charges (the order's amount when it
/// lists none but says it is paid) less what was refunded.
fn refundable_cents(order: &PaymentView) -> i64 {
    let is_paid = |status: Option<&str>| PAID_STATUSES.contains(&status.unwrap_or(""));
    let paid: i64 = if order.charges().next().is_some() {
        order
            .charges()
            .filter(|charge| is_paid(charge.status.as_deref()))
            .filter_map(|charge| charge.amount)
            .sum()
    } else if is_paid(order.payment_status.as_deref()) {
        order.amount
    } else {
        0
    };
    let listed: i64 = order.refunds().map(|refund| refund.amount.abs()).sum();
    paid - order.amount_refunded.unwrap_or(0).max(listed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(value: Value) -> PaymentView {
        PaymentView::deserialize(&value).unwrap()
    }

    fn with_charges(charges: Value, refunded: i64) -> PaymentView {
        order(
            json!({"amount": 10000, "amount_refunded": refunded, "payment_status": "paid",
                     "charges": {"data": charges}}),
        )
    }

    #[test]
    fn what_is_left_is_paid_less_refunded() {
        let paid = json!([{"status": "paid", "amount": 6000}, {"status": "pending_payment", "amount": 4000}]);
        assert_eq!(refundable_cents(&with_charges(paid.clone(), 0)), 6000);
        assert_eq!(refundable_cents(&with_charges(paid, 2500)), 3500);
        let refunds_listed = json!([{"status": "partially_refunded", "amount": 10000,
            "refunds": {"data": [{"id": "r1", "amount": -3000}]}}]);
        assert_eq!(refundable_cents(&with_charges(refunds_listed, 0)), 7000);
        assert_eq!(
            refundable_cents(&order(json!({"amount": 500, "payment_status": "paid"}))),
            500
        );
        assert_eq!(
            refundable_cents(&order(
                json!({"amount": 500, "payment_status": "pending_payment"})
            )),
            0
        );
    }

    #[test]
    fn a_refund_is_found_only_if_new_and_of_the_noted_amount() {
        let with = |refunds: Value| {
            with_charges(
                json!([{"status": "paid", "amount": 10000, "refunds": {"data": refunds}}]),
                0,
            )
        };
        let note = RefundNote {
            amount: 500,
            refunds: vec!["old".into()],
        };
        assert!(!made_by(
            &with(json!([{"id": "old", "amount": -500}])),
            &note
        ));
        assert!(made_by(
            &with(json!([{"id": "old", "amount": -500}, {"id": "new", "amount": -500}])),
            &note
        ));
        assert!(!made_by(
            &with(json!([{"id": "new", "amount": -400}])),
            &note
        ));
    }
}
