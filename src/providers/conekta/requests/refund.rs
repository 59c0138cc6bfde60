//! The `refund` action's request: an order, and how much (pesos; absent: what is left).

use super::common;
use crate::domain::field_errors::bounded_text;
use crate::domain::{object_id, Amount, FieldError, FieldReader, ProviderSecret};
use serde_json::{Map, Value};

/// Why a refund is made when the storefront does not say (Conekta requires a reason).
pub const DEFAULT_REFUND_REASON: &str = "requested_by_client";

#[derive(Debug)]
pub struct RefundRequest {
    pub secret: ProviderSecret,
    pub order_id: String,
    pub amount: Option<Amount>,
    pub reason: String,
}

impl RefundRequest {
    pub fn parse(fields: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut r = FieldReader::new(fields);
        let secret = r.required("secret", ProviderSecret::parse);
        let order_id = r.required("order_id", object_id);
        let amount = r.optional("amount", common::pesos);
        let reason = r.optional("reason", |v| bounded_text(v, 1, 249));
        let parsed = (move || {
            Some(Self {
                secret: secret?,
                order_id: order_id?,
                amount,
                reason: reason.unwrap_or_else(|| DEFAULT_REFUND_REASON.to_owned()),
            })
        })();
        r.finish(parsed)
    }
}
