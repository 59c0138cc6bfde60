//! The `checkout` of an order: its type, URLs and expiry, which payment methods it offers
//! (`allowed_payment_methods` or `excluded_payment_methods`, never both), months without
//! interest, and the card minimum. The schema has already checked each field's type and enum
//! (`exclude_card_networks`, `three_ds_mode`); these are the rules between fields.

use super::{CLOCK_SLACK_S, HOUR_S, YEAR_S};
use crate::errors::Detail;
use crate::world::checkout_options::{
    installment_options, offered_methods, INSTALLMENT_MONTHS, PAYMENT_METHODS,
};
use serde_json::{json, Value};

/// Conekta's minimum for a card payment in MXN (3.00 pesos).
const CARD_MINIMUM_CENTS: i64 = 300;

pub fn checkout(checkout: &Value, total: i64, now: i64) -> Vec<Detail> {
    let mut details = Vec::new();
    match checkout["type"].as_str() {
        None => details.push(Detail::invalid(
            "checkout.type",
            "missing",
            "The checkout type is required.",
        )),
        Some("Integration" | "HostedPayment") => {}
        Some(other) => details.push(Detail::invalid(
            "checkout.type",
            "invalid",
            format!("The checkout type \"{other}\" is not valid."),
        )),
    }
    details.extend(payment_methods(checkout));
    if checkout["type"] == "HostedPayment" {
        details.extend(redirect_urls(checkout));
    }
    if let Some(expires_at) = checkout["expires_at"].as_i64() {
        if expires_at < now + HOUR_S - CLOCK_SLACK_S || expires_at > now + YEAR_S {
            details.push(Detail::new(
                "conekta.errors.parameter_validation.expires_at.out_of_range",
                Some("checkout.expires_at"),
                "The expiration date must be between one hour and 365 days from now.",
            ));
        }
    }
    let offers_card = offered_methods(checkout).iter().any(|m| m == "card");
    details.extend(installments(checkout, offers_card));
    if offers_card && total < CARD_MINIMUM_CENTS {
        details.push(Detail::new(
            "conekta.errors.parameter_validation.combo.order.currency_type.card.minimum",
            Some("amount"),
            "The minimum amount for a card payment is $3.00 MXN.",
        ));
    }
    details
}

/// One of `allowed_payment_methods` and `excluded_payment_methods` (the spec: mutually
/// exclusive), leaving something to pay with.
fn payment_methods(checkout: &Value) -> Vec<Detail> {
    let allowed = checkout.get("allowed_payment_methods");
    let excluded = checkout.get("excluded_payment_methods");
    if allowed.is_some() && excluded.is_some() {
        return vec![Detail::new(
            "conekta.errors.parameter_validation.combo.checkout.excluded_payment_methods",
            Some("checkout.excluded_payment_methods"),
            "allowed_payment_methods and excluded_payment_methods cannot be used together.",
        )];
    }
    let offered = offered_methods(checkout);
    let mut details: Vec<Detail> = offered
        .iter()
        .filter(|method| !PAYMENT_METHODS.contains(&method.as_str()))
        .map(|method| {
            Detail::invalid(
                "checkout.allowed_payment_methods",
                "invalid",
                format!("The payment method \"{method}\" is not valid."),
            )
        })
        .collect();
    if offered.is_empty() {
        details.push(match excluded {
            Some(_) => Detail::invalid(
                "checkout.excluded_payment_methods",
                "invalid",
                "Every payment method is excluded: nothing is left to pay with.",
            ),
            None => Detail::invalid(
                "checkout.allowed_payment_methods",
                "missing",
                "At least one allowed payment method is required.",
            ),
        });
    }
    details
}

fn redirect_urls(checkout: &Value) -> Vec<Detail> {
    let mut details = Vec::new();
    for url in ["success_url", "failure_url"] {
        let param = format!("checkout.{url}");
        match checkout[url].as_str().map(url::Url::parse) {
            None => details.push(Detail::invalid(
                &param,
                "missing",
                format!("The {url} is required for a HostedPayment checkout."),
            )),
            Some(Err(_)) => details.push(Detail::invalid(
                &param,
                "invalid",
                format!("The {url} is not a valid URL."),
            )),
            Some(Ok(_)) => {}
        }
    }
    details
}

/// Months without interest: offered terms Conekta knows, each once, on a checkout that takes
/// cards.
fn installments(checkout: &Value, offers_card: bool) -> Vec<Detail> {
    if checkout["monthly_installments_enabled"] != json!(true) {
        return Vec::new();
    }
    let param = "checkout.monthly_installments_options";
    let options = installment_options(checkout);
    let mut details = Vec::new();
    if options.is_empty() {
        details.push(Detail::invalid(
            param,
            "missing",
            "monthly_installments_enabled needs at least one monthly_installments_options term.",
        ));
    }
    for (at, months) in options.iter().enumerate() {
        if !INSTALLMENT_MONTHS.contains(months) || options[..at].contains(months) {
            details.push(Detail::invalid(
                param,
                "invalid",
                format!(
                    "{months} is not a term on offer (each once, from {INSTALLMENT_MONTHS:?})."
                ),
            ));
        }
    }
    if !offers_card {
        details.push(Detail::new(
            "conekta.errors.parameter_validation.combo.checkout.monthly_installments.card",
            Some("checkout.monthly_installments_enabled"),
            "Monthly installments are paid by card, and this checkout does not take cards.",
        ));
    }
    details
}
