//! Conekta's request shapes, as its OpenAPI spec (v2.3.0 schemas) defines them. Only the
//! fields pagos sends; answers are passed through as JSON.

use serde::Serialize;
use std::collections::BTreeMap;

/// `order_request`.
#[derive(Debug, Serialize)]
pub struct OrderRequest<'a> {
    pub currency: &'a str,
    pub customer_info: CustomerInfo<'a>,
    pub line_items: Vec<LineItem<'a>>,
    pub checkout: CheckoutRequest<'a>,
    pub metadata: BTreeMap<&'static str, &'a str>,
}

/// `customer_info`: inline buyer details (name, email and phone are all required).
#[derive(Debug, Serialize)]
pub struct CustomerInfo<'a> {
    pub name: String,
    pub email: &'a str,
    pub phone: &'a str,
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
    pub allowed_payment_methods: &'a [String],
    pub success_url: &'a str,
    pub failure_url: &'a str,
    pub expires_at: i64,
}
