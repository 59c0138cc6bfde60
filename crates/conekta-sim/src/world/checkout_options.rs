//! What a checkout offers, read from the order request's `checkout`: the payment methods
//! (`allowed_payment_methods`, or all but `excluded_payment_methods`), the card networks it
//! leaves out (`exclude_card_networks`), and the months without interest it offers.

use serde_json::{json, Value};

/// `allowed_payment_methods`' values (`order_checkout_request`).
pub const PAYMENT_METHODS: &[&str] = &[
    "card",
    "cash",
    "bank_transfer",
    "bnpl",
    "pay_by_bank",
    "apple",
    "google",
];

/// `excluded_payment_methods`' values: what a checkout offers unless told otherwise.
const EXCLUDABLE: &[&str] = &["card", "cash", "bank_transfer", "bnpl", "pay_by_bank"];

/// The terms Conekta's months-without-interest program offers (its docs and plugins).
pub const INSTALLMENT_MONTHS: &[i64] = &[3, 6, 9, 12, 18, 24];

/// The payment methods the checkout page offers.
pub fn offered_methods(checkout: &Value) -> Vec<String> {
    let names = |field: &str| -> Option<Vec<String>> {
        checkout[field].as_array().map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
    };
    match (
        names("allowed_payment_methods"),
        names("excluded_payment_methods"),
    ) {
        (Some(allowed), _) => allowed,
        (None, Some(excluded)) => EXCLUDABLE
            .iter()
            .filter(|method| !excluded.iter().any(|e| e == *method))
            .map(|method| (*method).to_owned())
            .collect(),
        (None, None) => Vec::new(),
    }
}

/// The card brands (as the test cards name them) a checkout refuses, from a request's
/// `exclude_card_networks` (`visa_master_card` is one token for both networks) or an answer's
/// (one entry per network).
pub fn excluded_brands(checkout: &Value) -> Vec<&'static str> {
    let mut brands = Vec::new();
    for network in checkout["exclude_card_networks"]
        .as_array()
        .into_iter()
        .flatten()
    {
        match network.as_str() {
            Some("visa_master_card") => brands.extend(["visa", "mastercard"]),
            Some("visa") => brands.push("visa"),
            Some("mastercard") => brands.push("mastercard"),
            Some("amex") => brands.push("american_express"),
            _ => {}
        }
    }
    brands.dedup();
    brands
}

/// `exclude_card_networks` as an order answer shows it: one entry per network.
pub fn excluded_networks_answer(checkout: &Value) -> Value {
    let networks: Vec<&str> = excluded_brands(checkout)
        .into_iter()
        .map(|brand| match brand {
            "american_express" => "amex",
            other => other,
        })
        .collect();
    json!(networks)
}

/// The months offered without interest; none unless `monthly_installments_enabled` is true.
pub fn installment_options(checkout: &Value) -> Vec<i64> {
    if checkout["monthly_installments_enabled"] != json!(true) {
        return Vec::new();
    }
    checkout["monthly_installments_options"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_i64)
        .collect()
}

/// A brand as a buyer reads it.
pub fn brand_name(brand: &str) -> &str {
    match brand {
        "visa" => "Visa",
        "mastercard" => "Mastercard",
        "american_express" => "American Express",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_checkout_offers() {
        let allowed = json!({"allowed_payment_methods": ["card", "cash"]});
        assert_eq!(offered_methods(&allowed), ["card", "cash"]);
        let excluded = json!({"excluded_payment_methods": ["cash", "bnpl"]});
        assert_eq!(
            offered_methods(&excluded),
            ["card", "bank_transfer", "pay_by_bank"]
        );
        let networks = json!({"exclude_card_networks": ["visa_master_card"]});
        assert_eq!(excluded_brands(&networks), ["visa", "mastercard"]);
        let answered = json!({"exclude_card_networks": ["visa", "mastercard"]});
        assert_eq!(excluded_brands(&answered), ["visa", "mastercard"]);
        assert_eq!(
            excluded_networks_answer(&json!({"exclude_card_networks": ["amex"]})),
            json!(["amex"])
        );
        let msi =
            json!({"monthly_installments_enabled": true, "monthly_installments_options": [3, 6]});
        assert_eq!(installment_options(&msi), [3, 6]);
        let off =
            json!({"monthly_installments_enabled": false, "monthly_installments_options": [3]});
        assert!(installment_options(&off).is_empty());
    }
}
