//! `charge` (seed 002): an on-demand charge to a customer's saved card, made once per reference.

use super::order_flow::{encode_error, OrderSpec};
use super::requests::ChargeRequest;
use super::ConektaProvider;
use crate::clock;
use crate::providers::{ActionError, ActionReply};
use serde_json::{Map, Value};

/// A repeat of a charge (or split) with the same reference answers the stored order this long.
pub const ORDER_BINDING_S: i64 = 30 * 86_400;

pub async fn charge(
    provider: &ConektaProvider,
    fields: Map<String, Value>,
) -> Result<ActionReply, ActionError> {
    let request = ChargeRequest::parse(&fields).map_err(ActionError::InvalidFields)?;
    drop(fields);
    provider
        .check_notification_url(&request.notification_url)
        .await?;
    let body = |attempt_key: &str| request.order_body(attempt_key).map_err(encode_error);
    provider
        .order_flow()
        .run(OrderSpec {
            secret: &request.secret,
            reference_id: &request.reference_id,
            identity: request.identity(),
            notification_url: request.notification_url.as_str(),
            amount_cents: request.amount.centavos(),
            currency: &request.currency,
            binding_until: clock::unix_s() + ORDER_BINDING_S,
            body: &body,
            with_checkout: false,
        })
        .await
}
