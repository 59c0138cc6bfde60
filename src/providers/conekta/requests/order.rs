//! Requests about an existing order: `status` and `cancel` (its id), `capture` (its id and,
//! optionally, how much of what was held).

use super::common;
use crate::domain::{object_id, Amount, FieldError, FieldReader, ProviderSecret};
use serde_json::{Map, Value};

#[derive(Debug)]
pub struct OrderRequest {
    pub secret: ProviderSecret,
    pub order_id: String,
}

impl OrderRequest {
    pub fn parse(fields: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut r = FieldReader::new(fields);
        let secret = r.required("secret", ProviderSecret::parse);
        let order_id = r.required("order_id", object_id);
        let parsed = secret
            .zip(order_id)
            .map(|(secret, order_id)| Self { secret, order_id });
        r.finish(parsed)
    }

    pub fn path(&self) -> String {
        format!("/orders/{}", self.order_id)
    }
}

#[derive(Debug)]
pub struct CaptureRequest {
    pub order: OrderRequest,
    /// Pesos to take; absent, everything that was held.
    pub amount: Option<Amount>,
}

impl CaptureRequest {
    pub fn parse(fields: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut r = FieldReader::new(fields);
        let amount = r.optional("amount", common::pesos);
        let order = OrderRequest::parse(fields);
        match (order, r.into_errors()) {
            (Ok(order), errors) if errors.is_empty() => Ok(Self { order, amount }),
            (Ok(_), errors) => Err(errors),
            (Err(mut order_errors), errors) => {
                order_errors.extend(errors);
                Err(order_errors)
            }
        }
    }
}
