//! `refund`: money back on a paid order, never more than was paid and not yet refunded. Under
//! an `Idempotency-Key` a refund is made once: before calling Conekta, the refunds the order
//! already has are noted in the key's claim, so after an unknown outcome the refund that
//! attempt made is told apart from the others and adopted instead of made again.

use super::claim_flow::{look_until_sure, provider_error};
use super::client::{ConektaAnswer, ConektaClient, ConektaError};
use super::order_admin::reply;
use super::request_key::KeyedAttempt;
use super::ConektaProvider;
use crate::domain::field_errors::bounded_text;
use crate::domain::{object_id, Amount, FieldReader, ProviderSecret};
use crate::providers::{ActionError, ActionReply};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Why a refund is made when the storefront does not say (Conekta requires a reason).
const DEFAULT_REFUND_REASON: &str = "requested_by_client";
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
    let mut r = FieldReader::new(&fields);
    let secret = r.required("secret", ProviderSecret::parse);
    let order_id = r.required("order_id", object_id);
    let amount = r.optional("amount", Amount::from_pesos);
    let reason = r.optional("reason", |v| bounded_text(v, 1, 249));
    let (secret, order_id) = r
        .finish(secret.zip(order_id))
        .map_err(ActionError::InvalidFields)?;
    let client = provider.client();
    let order_path = format!("/orders/{order_id}");

    // An earlier attempt under this key may have refunded already.
    if let Some(earlier) = keyed.as_deref().and_then(|keyed| keyed.earlier.as_ref()) {
        if let Some(note) = earlier
            .note
            .as_deref()
            .and_then(|n| serde_json::from_str(n).ok())
        {
            let made = look_until_sure(provider.budget(), earlier.started_at_ms, || {
                refund_made(client, &secret, &order_path, &note)
            })
            .await
            .map_err(provider_error)?;
            if let Some(order) = made {
                tracing::info!(%order_id, "an earlier attempt's refund was found and adopted");
                return Ok(reply(order));
            }
        }
    }

    let order = client
        .get(&order_path, &secret)
        .await
        .map_err(provider_error)?;
    let left = refundable_cents(&order.json);
    let centavos = match amount.map(Amount::centavos) {
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
            refunds: refund_ids(&order.json),
        };
        keyed.begin(&json!(note).to_string()).await?;
    }
    let body = json!({
        "amount": centavos,
        "reason": reason.as_deref().unwrap_or(DEFAULT_REFUND_REASON),
    });
    client
        .post(&format!("{order_path}/refunds"), &secret, None, &body)
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
    let order = client.get(order_path, secret).await?;
    let made = refunds(&order.json).any(|refund| {
        let id = refund["id"].as_str().unwrap_or_default();
        !note.refunds.iter().any(|known| known == id)
            && refund["amount"].as_i64().map(i64::abs) == Some(note.amount)
    });
    Ok(made.then_some(order))
}

/// Centavos paid and not yet refunded: the sum of the paid charges (the order's amount when it
/// lists none but says it is paid) less what was refunded.
fn refundable_cents(order: &Value) -> i64 {
    let charges = order["charges"]["data"].as_array();
    let paid: i64 = match charges {
        Some(charges) if !charges.is_empty() => charges
            .iter()
            .filter(|charge| PAID_STATUSES.contains(&charge["status"].as_str().unwrap_or("")))
            .filter_map(|charge| charge["amount"].as_i64())
            .sum(),
        _ if PAID_STATUSES.contains(&order["payment_status"].as_str().unwrap_or("")) => {
            order["amount"].as_i64().unwrap_or(0)
        }
        _ => 0,
    };
    let listed: i64 = refunds(order)
        .filter_map(|refund| refund["amount"].as_i64())
        .map(i64::abs)
        .sum();
    let refunded = order["amount_refunded"].as_i64().unwrap_or(0).max(listed);
    paid - refunded
}

/// Every refund on the order's charges.
fn refunds(order: &Value) -> impl Iterator<Item = &Value> {
    order["charges"]["data"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|charge| charge["refunds"]["data"].as_array().into_iter().flatten())
}

fn refund_ids(order: &Value) -> Vec<String> {
    refunds(order)
        .filter_map(|refund| refund["id"].as_str().map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn order(charges: Value, refunded: i64) -> Value {
        json!({"amount": 10000, "amount_refunded": refunded, "payment_status": "paid",
               "charges": {"data": charges}})
    }

    #[test]
    fn what_is_left_is_paid_less_refunded() {
        let paid = json!([{"status": "paid", "amount": 6000}, {"status": "pending_payment", "amount": 4000}]);
        assert_eq!(refundable_cents(&order(paid.clone(), 0)), 6000);
        assert_eq!(refundable_cents(&order(paid, 2500)), 3500);
        let refunds_listed = json!([{"status": "partially_refunded", "amount": 10000,
            "refunds": {"data": [{"id": "r1", "amount": -3000}]}}]);
        assert_eq!(refundable_cents(&order(refunds_listed, 0)), 7000);
        let no_charges = json!({"amount": 500, "payment_status": "paid"});
        assert_eq!(refundable_cents(&no_charges), 500);
        assert_eq!(
            refundable_cents(&json!({"amount": 500, "payment_status": "pending_payment"})),
            0
        );
    }

    #[test]
    fn a_refund_is_found_only_if_new_and_of_the_noted_amount() {
        let with = |refunds: Value| {
            order(
                json!([{"status": "paid", "amount": 10000, "refunds": {"data": refunds}}]),
                0,
            )
        };
        let note = RefundNote {
            amount: 500,
            refunds: vec!["old".into()],
        };
        let is_made = |o: &Value| {
            refunds(o).any(|r| {
                !note
                    .refunds
                    .iter()
                    .any(|k| k == r["id"].as_str().unwrap_or(""))
                    && r["amount"].as_i64().map(i64::abs) == Some(note.amount)
            })
        };
        assert!(!is_made(&with(json!([{"id": "old", "amount": -500}]))));
        assert!(is_made(&with(
            json!([{"id": "old", "amount": -500}, {"id": "new", "amount": -500}])
        )));
        assert!(!is_made(&with(json!([{"id": "new", "amount": -400}]))));
    }
}
