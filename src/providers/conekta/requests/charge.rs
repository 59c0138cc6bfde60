//! The `charge` action's request (seed 002): an on-demand charge to a customer's saved card.

use super::super::claim_flow::METADATA_KEY;
use super::super::wire::orders::{
    ChargeRequest as WireCharge, CustomerInfo, LineItem, OrderRequest, PaymentMethod,
};
use super::common::{self, description, item_name, DEFAULT_CURRENCY};
use crate::domain::{
    object_id, Amount, Currency, FieldError, FieldReader, ProviderSecret, ReferenceId, TargetUrl,
};
use serde_json::{json, Map, Value};

#[derive(Debug)]
pub struct ChargeRequest {
    pub secret: ProviderSecret,
    pub customer_id: String,
    pub amount: Amount,
    pub reference_id: ReferenceId,
    pub notification_url: TargetUrl,
    /// The card to charge; absent, the customer's default payment source.
    pub payment_source_id: Option<String>,
    pub description: Option<String>,
    pub currency: Currency,
}

impl ChargeRequest {
    pub fn parse(fields: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut r = FieldReader::new(fields);
        let secret = r.required("secret", ProviderSecret::parse);
        let customer_id = r.required("customer_id", object_id);
        let amount = r.required("amount", common::pesos);
        let reference = r.required("reference_id", ReferenceId::parse);
        let notification_url = r.required("notification_url", TargetUrl::parse);
        let payment_source_id = r.optional("payment_source_id", object_id);
        let description = r.optional("description", description);
        let currency = r.optional("currency", Currency::parse);
        let parsed = (move || {
            Some(Self {
                secret: secret?,
                customer_id: customer_id?,
                amount: amount?,
                reference_id: reference?,
                notification_url: notification_url?,
                payment_source_id,
                description,
                currency: currency.unwrap_or_else(|| Currency::of(DEFAULT_CURRENCY)),
            })
        })();
        r.finish(parsed)
    }

    pub fn identity(&self) -> Map<String, Value> {
        common::identity(&[
            ("action", json!("charge")),
            ("customer_id", json!(self.customer_id)),
            ("amount", json!(self.amount.pesos())),
            ("reference_id", json!(self.reference_id)),
            ("notification_url", json!(self.notification_url.as_str())),
            ("payment_source_id", json!(self.payment_source_id)),
            ("description", json!(self.description)),
            ("currency", json!(self.currency)),
        ])
    }

    /// Conekta's `POST /orders` body, as JSON text.
    pub fn order_body(
        &self,
        attempt_key: &str,
    ) -> Result<Box<serde_json::value::RawValue>, serde_json::Error> {
        let item_name = item_name(self.description.as_deref(), self.reference_id.as_str());
        let payment_method = match &self.payment_source_id {
            Some(source) => PaymentMethod::Card {
                token_id: None,
                payment_source_id: Some(source),
            },
            None => PaymentMethod::Default,
        };
        serde_json::value::to_raw_value(&OrderRequest {
            currency: self.currency.as_str(),
            customer_info: CustomerInfo::Saved {
                customer_id: &self.customer_id,
            },
            line_items: vec![LineItem {
                name: &item_name,
                unit_price: self.amount.centavos(),
                quantity: 1,
            }],
            checkout: None,
            charges: vec![WireCharge {
                payment_method,
                amount: None,
            }],
            three_ds_mode: None,
            pre_authorize: false,
            metadata: [
                ("reference_id", self.reference_id.as_str()),
                (METADATA_KEY, attempt_key),
            ]
            .into(),
        })
    }
}
