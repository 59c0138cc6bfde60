//! `create`: a HostedPayment checkout order, created once per storefront reference.

use super::order_flow::{encode_error, OrderSpec};
use super::requests::create::{OrderExtras, DEFAULT_EXPIRY_S};
use super::requests::CreateRequest;
use super::ConektaProvider;
use crate::clock;
use crate::providers::{ActionError, ActionReply};
use serde_json::{Map, Value};

pub async fn create(
    provider: &ConektaProvider,
    fields: Map<String, Value>,
) -> Result<ActionReply, ActionError> {
    let now = clock::unix_s();
    let request = CreateRequest::parse(&fields, now).map_err(ActionError::InvalidFields)?;
    // Not kept while the order is created: many creates can be waiting at once.
    drop(fields);
    provider
        .check_notification_url(&request.notification_url)
        .await?;
    let expires_at = request.expires_at.unwrap_or(now + DEFAULT_EXPIRY_S);
    let phone = provider.phone_or_default(request.phone.as_ref());
    let body = |attempt_key: &str| {
        let extras = OrderExtras {
            phone,
            expires_at,
            attempt_key,
        };
        request.order_body(&extras).map_err(encode_error)
    };
    provider
        .order_flow()
        .run(OrderSpec {
            secret: &request.secret,
            reference_id: &request.reference_id,
            identity: request.identity(),
            notification_url: request.notification_url.as_str(),
            amount_cents: request.amount.centavos(),
            currency: &request.currency,
            binding_until: expires_at,
            body: &body,
            with_checkout: true,
        })
        .await
}
