//! `create`: a HostedPayment checkout order, created once per storefront reference.

use super::claim_flow::METADATA_KEY;
use super::create_request::{CreateRequest, DEFAULT_EXPIRY_S};
use super::order_flow::{encode, OrderSpec};
use super::wire::{CheckoutRequest, CustomerInfo, LineItem, OrderRequest};
use super::ConektaProvider;
use crate::clock;
use crate::providers::{ActionError, ActionReply};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

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
    let body = |attempt_key: &str| order_body(provider, &request, expires_at, attempt_key);
    let mut identity = request.identity_fields();
    identity.insert("action".into(), "create".into());
    provider
        .order_flow()
        .run(OrderSpec {
            secret: &request.secret,
            reference_id: &request.reference_id,
            identity,
            notification_url: request.notification_url.as_str(),
            amount_cents: request.amount.centavos(),
            currency: &request.currency,
            binding_until: expires_at,
            body: &body,
            with_checkout: true,
        })
        .await
}

/// Conekta's `POST /orders` body for a HostedPayment checkout, as JSON text.
fn order_body(
    provider: &ConektaProvider,
    request: &CreateRequest,
    expires_at: i64,
    attempt_key: &str,
) -> Result<Box<RawValue>, ActionError> {
    let success_url = request.success_url();
    let failure_url = request.failure_url();
    let item_name = request.item_name();
    encode(&OrderRequest {
        currency: &request.currency,
        customer_info: CustomerInfo {
            name: format!("{} {}", request.first_name, request.last_name),
            email: request.email.as_str(),
            phone: provider.phone_or_default(request.phone.as_ref()),
        },
        line_items: vec![LineItem {
            name: &item_name,
            unit_price: request.amount.centavos(),
            quantity: 1,
        }],
        checkout: CheckoutRequest {
            kind: "HostedPayment",
            allowed_payment_methods: &request.allowed_payment_methods,
            success_url: success_url.as_str(),
            failure_url: failure_url.as_str(),
            expires_at,
        },
        metadata: BTreeMap::from([
            ("reference_id", request.reference_id.as_str()),
            (METADATA_KEY, attempt_key),
        ]),
    })
}
