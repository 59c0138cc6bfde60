//! Orders: `order_request` (with its checkout and charges), and views of `order_response`.

use super::lists::List;
use super::Metadata;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// `order_request`.
#[derive(Debug, Serialize)]
pub struct OrderRequest<'a> {
    pub currency: &'a str,
    pub customer_info: CustomerInfo<'a>,
    pub line_items: Vec<LineItem<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkout: Option<CheckoutRequest<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub charges: Vec<ChargeRequest<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub three_ds_mode: Option<&'a str>,
    /// Card charges are held, and taken later with `POST /orders/{id}/capture`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub pre_authorize: bool,
    pub metadata: Metadata<'a>,
}

/// `customer_info`: inline buyer details (name, email and phone are all required), or a saved
/// customer.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum CustomerInfo<'a> {
    Inline {
        name: String,
        email: &'a str,
        phone: &'a str,
    },
    Saved {
        customer_id: &'a str,
    },
}

/// `product`: name 3..249 characters, `unit_price` int32 centavos, `quantity` >= 1.
#[derive(Debug, Serialize)]
pub struct LineItem<'a> {
    pub name: &'a str,
    pub unit_price: i64,
    pub quantity: i64,
}

/// `order_checkout_request`.
#[derive(Debug, Serialize)]
pub struct CheckoutRequest<'a> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Mutually exclusive with `excluded_payment_methods`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_payment_methods: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub excluded_payment_methods: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exclude_card_networks: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monthly_installments_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub monthly_installments_options: Option<&'a [u8]>,
    pub success_url: &'a str,
    pub failure_url: &'a str,
    pub expires_at: i64,
}

/// `charge_request`: one charge of an order paid when it is made.
#[derive(Debug, Serialize)]
pub struct ChargeRequest<'a> {
    pub payment_method: PaymentMethod<'a>,
    /// Centavos; absent, the charge is the whole order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<i64>,
}

/// `charge_request_payment_method`, by its `type`.
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PaymentMethod<'a> {
    /// The customer's default payment source.
    Default,
    Card {
        #[serde(skip_serializing_if = "Option::is_none")]
        token_id: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        payment_source_id: Option<&'a str>,
    },
    Spei,
    Cash,
}

/// `order_capture_request`.
#[derive(Debug, Serialize)]
pub struct CaptureRequest {
    /// Centavos to take of what was held.
    pub amount: i64,
}

/// `order_refund_request`.
#[derive(Debug, Serialize)]
pub struct RefundRequest<'a> {
    pub amount: i64,
    pub reason: &'a str,
}

/// What pagos reads of an order it made: its id, amount, checkout and metadata. Deserializing
/// fails on a missing id or a non-integer amount or expiry: such an answer is unusable.
#[derive(Debug, Deserialize)]
pub struct OrderView {
    pub id: String,
    pub amount: i64,
    #[serde(default)]
    pub checkout: Option<CheckoutView>,
    #[serde(default)]
    pub metadata: Option<Map<String, Value>>,
}

#[derive(Debug, Deserialize)]
pub struct CheckoutView {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub expires_at: Option<i64>,
}

/// What pagos reads of an order to refund, capture or cancel it.
#[derive(Debug, Default, Deserialize)]
pub struct PaymentView {
    #[serde(default)]
    pub amount: i64,
    #[serde(default)]
    pub amount_refunded: Option<i64>,
    #[serde(default)]
    pub payment_status: Option<String>,
    #[serde(default)]
    pub charges: Option<List<ChargeView>>,
}

#[derive(Debug, Deserialize)]
pub struct ChargeView {
    #[serde(default)]
    pub amount: Option<i64>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub refunds: Option<List<RefundView>>,
}

/// `charge_response_refunds_data`: Conekta writes refunded amounts as negative centavos.
#[derive(Debug, Deserialize)]
pub struct RefundView {
    pub id: String,
    pub amount: i64,
}

impl PaymentView {
    pub fn charges(&self) -> impl Iterator<Item = &ChargeView> {
        self.charges.iter().flat_map(|list| list.data.iter())
    }

    /// Every refund on the order's charges.
    pub fn refunds(&self) -> impl Iterator<Item = &RefundView> {
        self.charges()
            .flat_map(|charge| charge.refunds.iter().flat_map(|list| list.data.iter()))
    }
}
