//! Customers and their payment sources: `customer` (create), `update_customer`,
//! `CreateCustomerPaymentMethods_request`, and views of a customer and a payment source.

use super::lists::List;
use super::Metadata;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `customer`, as pagos creates one.
#[derive(Debug, Serialize)]
pub struct CustomerRequest<'a> {
    pub name: String,
    pub email: &'a str,
    pub phone: &'a str,
    pub payment_sources: Vec<PaymentSourceRequest<'a>>,
    #[serde(skip_serializing_if = "Metadata::is_empty")]
    pub metadata: Metadata<'a>,
}

/// A payment source to create, by its `type`.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PaymentSourceRequest<'a> {
    /// A card behind a single-use token made by Conekta's tokenizer.
    Card { token_id: &'a str },
    /// A reusable cash reference (any store).
    CashRecurrent {
        #[serde(skip_serializing_if = "Option::is_none")]
        expires_at: Option<i64>,
    },
    /// A reusable cash reference (OXXO).
    OxxoRecurrent {
        #[serde(skip_serializing_if = "Option::is_none")]
        expires_at: Option<i64>,
    },
}

/// `update_customer`, as pagos uses it: which card is the default.
#[derive(Debug, Serialize)]
pub struct DefaultSourceUpdate<'a> {
    pub default_payment_source_id: &'a str,
}

/// What pagos reads of a customer.
#[derive(Debug, Deserialize)]
pub struct CustomerView {
    pub id: String,
    #[serde(default)]
    pub payment_sources: List<PaymentSourceView>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
}

/// What pagos reads of a payment source; the rest is passed on as Conekta wrote it.
#[derive(Debug, Clone, Deserialize)]
pub struct PaymentSourceView {
    pub id: String,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    /// A cash reference's number; its expiry (Unix s), when it has one.
    #[serde(default)]
    pub reference: Option<String>,
    #[serde(default)]
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub barcode: Option<Value>,
    #[serde(default)]
    pub barcode_url: Option<Value>,
    #[serde(default)]
    pub store_names: Option<Value>,
    /// A card's brand and last four digits.
    #[serde(default)]
    pub brand: Option<Value>,
    #[serde(default)]
    pub last4: Option<Value>,
}

impl CustomerView {
    pub fn sources(&self) -> impl Iterator<Item = &PaymentSourceView> {
        self.payment_sources.data.iter()
    }

    pub fn cards(&self) -> impl Iterator<Item = &PaymentSourceView> {
        self.sources()
            .filter(|source| source.kind.as_deref() == Some("card"))
    }
}
