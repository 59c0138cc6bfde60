//! `split` (seed 003): one order paid by several charges (SPEI, cash, card), summing exactly,
//! made once per reference.

use super::charge::ORDER_BINDING_S;
use super::order_flow::{encode_error, OrderSpec};
use super::requests::SplitRequest;
use super::ConektaProvider;
use crate::clock;
use crate::providers::{ActionError, ActionReply};
use serde_json::{Map, Value};

pub async fn split(
    provider: &ConektaProvider,
    fields: Map<String, Value>,
) -> Result<ActionReply, ActionError> {
    let request = SplitRequest::parse(&fields).map_err(ActionError::InvalidFields)?;
    drop(fields);
    provider
        .check_notification_url(&request.notification_url)
        .await?;
    let phone = provider.phone_or_default(request.phone.as_ref());
    let body = |attempt_key: &str| request.order_body(phone, attempt_key).map_err(encode_error);
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
