//! `status`, `cancel`, `refund`: an existing order, looked up or changed at Conekta.

use super::order_flow::provider_error;
use super::ConektaProvider;
use crate::domain::field_errors::bounded_text;
use crate::domain::{object_id, Amount, FieldReader, ProviderSecret};
use crate::providers::{ActionError, ActionReply};
use serde_json::{json, Map, Value};

/// Why a refund is made when the storefront does not say (Conekta requires a reason).
const DEFAULT_REFUND_REASON: &str = "requested_by_client";

/// The two fields every order action takes.
fn secret_and_order(fields: &Map<String, Value>) -> Result<(ProviderSecret, String), ActionError> {
    let mut r = FieldReader::new(fields);
    let secret = r.required("secret", ProviderSecret::parse);
    let order_id = r.required("order_id", object_id);
    r.finish(secret.zip(order_id))
        .map_err(ActionError::InvalidFields)
}

fn reply(answer: super::client::ConektaAnswer) -> ActionReply {
    ActionReply { body: answer.text }
}

pub async fn status(
    provider: &ConektaProvider,
    fields: Map<String, Value>,
) -> Result<ActionReply, ActionError> {
    let (secret, order_id) = secret_and_order(&fields)?;
    provider
        .client()
        .get(&format!("/orders/{order_id}"), &secret)
        .await
        .map(reply)
        .map_err(provider_error)
}

pub async fn cancel(
    provider: &ConektaProvider,
    fields: Map<String, Value>,
) -> Result<ActionReply, ActionError> {
    let (secret, order_id) = secret_and_order(&fields)?;
    provider
        .client()
        .post_empty(&format!("/orders/{order_id}/cancel"), &secret)
        .await
        .map(reply)
        .map_err(provider_error)
}

/// A full refund by default (what is left to refund, read from the order), or `amount` pesos.
pub async fn refund(
    provider: &ConektaProvider,
    fields: Map<String, Value>,
) -> Result<ActionReply, ActionError> {
    let mut r = FieldReader::new(&fields);
    let secret = r.required("secret", ProviderSecret::parse);
    let order_id = r.required("order_id", object_id);
    let amount = r.optional("amount", Amount::from_pesos);
    let reason = r.optional("reason", |v| bounded_text(v, 1, 249));
    let (secret, order_id) = r
        .finish(secret.zip(order_id))
        .map_err(ActionError::InvalidFields)?;
    let centavos = match amount {
        Some(amount) => amount.centavos(),
        None => {
            let order = provider
                .client()
                .get(&format!("/orders/{order_id}"), &secret)
                .await
                .map_err(provider_error)?;
            let total = order.json["amount"].as_i64().unwrap_or(0);
            let refunded = order.json["amount_refunded"].as_i64().unwrap_or(0);
            if total - refunded <= 0 {
                return Err(ActionError::field("order_id", "has nothing left to refund"));
            }
            total - refunded
        }
    };
    let body = json!({
        "amount": centavos,
        "reason": reason.as_deref().unwrap_or(DEFAULT_REFUND_REASON),
    });
    provider
        .client()
        .post(&format!("/orders/{order_id}/refunds"), &secret, None, &body)
        .await
        .map(reply)
        .map_err(provider_error)
}
