//! The `split` action's request (seed 003): one order paid by several charges (SPEI, cash,
//! card) that add up to its amount exactly.

use super::super::claim_flow::METADATA_KEY;
use super::super::wire::orders::{
    ChargeRequest as WireCharge, CustomerInfo, LineItem, OrderRequest, PaymentMethod,
};
use super::common::{self, description, item_name, token_digest, DEFAULT_CURRENCY};
use crate::domain::{
    object_id, person_name, Amount, Currency, Email, FieldError, FieldReader, Phone,
    ProviderSecret, ReferenceId, TargetUrl,
};
use serde_json::{json, Map, Value};

const METHODS: &[&str] = &["spei", "cash", "card"];
const MAX_CHARGES: usize = 10;

/// One part of the payment.
#[derive(Debug)]
pub struct SplitCharge {
    pub method: &'static str,
    pub amount: Amount,
    /// A card's single-use token (cards only).
    pub token_id: Option<String>,
}

#[derive(Debug)]
pub struct SplitRequest {
    pub secret: ProviderSecret,
    pub amount: Amount,
    pub reference_id: ReferenceId,
    pub notification_url: TargetUrl,
    pub first_name: String,
    pub last_name: String,
    pub email: Email,
    pub phone: Option<Phone>,
    pub description: Option<String>,
    pub currency: Currency,
    pub charges: Vec<SplitCharge>,
}

impl SplitRequest {
    pub fn parse(fields: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut r = FieldReader::new(fields);
        let secret = r.required("secret", ProviderSecret::parse);
        let amount = r.required("amount", common::pesos);
        let reference = r.required("reference_id", ReferenceId::parse);
        let notification_url = r.required("notification_url", TargetUrl::parse);
        let first_name = r.required("first_name", person_name);
        let last_name = r.required("last_name", person_name);
        let email = r.required("email", Email::parse);
        let phone = r.optional("phone", Phone::parse);
        let description = r.optional("description", description);
        let currency = r.optional("currency", Currency::parse);
        let charges = r.required("charges", charges);
        if let (Some(total), Some(parts)) = (amount, &charges) {
            let sum: i64 = parts.iter().map(|c| c.amount.centavos()).sum();
            if sum != total.centavos() {
                r.reject(
                    "charges",
                    format!(
                        "must add up to amount exactly: they add up to {}, amount is {}",
                        rust_decimal::Decimal::new(sum, 2),
                        total.pesos()
                    ),
                );
            }
        }
        let parsed = (move || {
            Some(Self {
                secret: secret?,
                amount: amount?,
                reference_id: reference?,
                notification_url: notification_url?,
                first_name: first_name?,
                last_name: last_name?,
                email: email?,
                phone,
                description,
                currency: currency.unwrap_or_else(|| Currency::of(DEFAULT_CURRENCY)),
                charges: charges?,
            })
        })();
        r.finish(parsed)
    }

    /// A card token is kept only as its hash: enough to tell two requests apart.
    pub fn identity(&self) -> Map<String, Value> {
        let parts: Vec<Value> = self
            .charges
            .iter()
            .map(|c| {
                json!({
                    "method": c.method,
                    "amount": c.amount.pesos(),
                    "token_id": c.token_id.as_deref().map(token_digest),
                })
            })
            .collect();
        common::identity(&[
            ("action", json!("split")),
            ("amount", json!(self.amount.pesos())),
            ("reference_id", json!(self.reference_id)),
            ("notification_url", json!(self.notification_url.as_str())),
            ("first_name", json!(self.first_name)),
            ("last_name", json!(self.last_name)),
            ("email", json!(self.email.as_str())),
            ("phone", json!(self.phone.as_ref().map(Phone::as_str))),
            ("description", json!(self.description)),
            ("currency", json!(self.currency)),
            ("charges", json!(parts)),
        ])
    }

    /// Conekta's `POST /orders` body, as JSON text.
    pub fn order_body(
        &self,
        phone: &str,
        attempt_key: &str,
    ) -> Result<Box<serde_json::value::RawValue>, serde_json::Error> {
        let item_name = item_name(self.description.as_deref(), self.reference_id.as_str());
        let charges = self
            .charges
            .iter()
            .map(|c| WireCharge {
                payment_method: match c.method {
                    "card" => PaymentMethod::Card {
                        token_id: c.token_id.as_deref(),
                        payment_source_id: None,
                    },
                    "cash" => PaymentMethod::Cash,
                    _ => PaymentMethod::Spei,
                },
                amount: Some(c.amount.centavos()),
            })
            .collect();
        serde_json::value::to_raw_value(&OrderRequest {
            currency: self.currency.as_str(),
            customer_info: CustomerInfo::Inline {
                name: format!("{} {}", self.first_name, self.last_name),
                email: self.email.as_str(),
                phone,
            },
            line_items: vec![LineItem {
                name: &item_name,
                unit_price: self.amount.centavos(),
                quantity: 1,
            }],
            checkout: None,
            charges,
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

/// `[{method, amount, token_id?}]`: every problem is reported with its position.
fn charges(value: &Value) -> Result<Vec<SplitCharge>, String> {
    let items = value.as_array().ok_or("must be an array of charges")?;
    if items.is_empty() || items.len() > MAX_CHARGES {
        return Err(format!("must hold 1 to {MAX_CHARGES} charges"));
    }
    let mut problems = Vec::new();
    let mut parsed = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let method = METHODS
            .iter()
            .find(|m| item["method"].as_str() == Some(**m))
            .copied();
        if method.is_none() {
            problems.push(format!("[{i}].method must be one of spei, cash, card"));
        }
        let amount = match item.get("amount").filter(|v| !v.is_null()) {
            None => {
                problems.push(format!("[{i}].amount is required"));
                None
            }
            Some(value) => common::pesos(value)
                .map_err(|message| problems.push(format!("[{i}].amount {message}")))
                .ok(),
        };
        let token_id = match (method, item.get("token_id").filter(|v| !v.is_null())) {
            (Some("card"), None) => {
                problems.push(format!("[{i}].token_id is required for a card"));
                None
            }
            (Some("card"), Some(token)) => object_id(token)
                .map_err(|message| problems.push(format!("[{i}].token_id {message}")))
                .ok(),
            (_, Some(_)) => {
                problems.push(format!("[{i}].token_id is only for card charges"));
                None
            }
            (_, None) => None,
        };
        if let (Some(method), Some(amount)) = (method, amount) {
            parsed.push(SplitCharge {
                method,
                amount,
                token_id,
            });
        }
    }
    if problems.is_empty() {
        Ok(parsed)
    } else {
        Err(problems.join("; "))
    }
}
