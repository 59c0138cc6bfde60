//! `status` and `cancel`: an existing order, looked up or cancelled at Conekta.

use super::claim_flow::provider_error;
use super::client::ConektaAnswer;
use super::request_key::KeyedAttempt;
use super::ConektaProvider;
use crate::domain::{object_id, FieldReader, ProviderSecret};
use crate::providers::{ActionError, ActionReply};
use serde_json::{Map, Value};

/// The two fields every order action takes.
pub fn secret_and_order(
    fields: &Map<String, Value>,
) -> Result<(ProviderSecret, String), ActionError> {
    let mut r = FieldReader::new(fields);
    let secret = r.required("secret", ProviderSecret::parse);
    let order_id = r.required("order_id", object_id);
    r.finish(secret.zip(order_id))
        .map_err(ActionError::InvalidFields)
}

pub fn reply(answer: ConektaAnswer) -> ActionReply {
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

/// Cancelling moves no money and a cancelled order stays cancelled: after an unknown outcome
/// under an `Idempotency-Key`, an order already cancelled is the answer; otherwise cancelling
/// again is safe.
pub async fn cancel(
    provider: &ConektaProvider,
    fields: Map<String, Value>,
    keyed: Option<&mut KeyedAttempt<'_>>,
) -> Result<ActionReply, ActionError> {
    let (secret, order_id) = secret_and_order(&fields)?;
    let client = provider.client();
    if keyed.is_some_and(|keyed| keyed.earlier.is_some()) {
        let order = client
            .get(&format!("/orders/{order_id}"), &secret)
            .await
            .map_err(provider_error)?;
        if order.json["payment_status"] == "canceled" {
            return Ok(reply(order));
        }
    }
    client
        .post_empty(&format!("/orders/{order_id}/cancel"), &secret)
        .await
        .map(reply)
        .map_err(provider_error)
}
