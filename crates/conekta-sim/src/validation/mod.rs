//! What Conekta refuses, refused the same way: the key and API version (`access`), order bodies
//! against the schema derived from Conekta's OpenAPI spec plus the rules its prose states
//! (`checkout` for the hosted checkout's options), and the required fields of the other requests
//! (`requests`). Checks only: nothing here reads or changes the simulator's objects.

mod access;
mod checkout;
mod requests;

pub use access::authorize;
pub use requests::{capture_request, customer_request, payment_source_request, refund_request};

use crate::errors::{ConektaError, Detail};
use crate::world::checkout_options::offered_methods;
use serde_json::{json, Value};
use std::sync::LazyLock;

const ORDER_REQUEST_SCHEMA: &str = include_str!("../../data/order_request.schema.json");
const HOUR_S: i64 = 3_600;
const YEAR_S: i64 = 365 * 24 * HOUR_S;
/// Requests take a moment to arrive; an expiry computed as "now + 1 h" must still pass.
const CLOCK_SLACK_S: i64 = 30;

static ORDER_SCHEMA: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(ORDER_REQUEST_SCHEMA).expect("schema is JSON");
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("schema compiles")
});

/// The order's total in centavos: Σ unit_price × quantity.
pub fn line_items_total(order_request: &Value) -> i64 {
    order_request["line_items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| {
                    i["unit_price"]
                        .as_i64()
                        .unwrap_or(0)
                        .saturating_mul(i["quantity"].as_i64().unwrap_or(0))
                })
                .sum()
        })
        .unwrap_or(0)
}

/// `POST /orders`: the schema, then the prose rules. Every problem is reported at once.
pub fn order_request(body: &Value, now: i64) -> Result<(), ConektaError> {
    let mut details: Vec<Detail> = ORDER_SCHEMA
        .iter_errors(body)
        .map(|e| {
            let pointer = e.instance_path().to_string();
            let param = pointer.trim_start_matches('/').replace('/', ".");
            let param = if param.is_empty() {
                "order".to_owned()
            } else {
                param
            };
            let message = e.to_string();
            // `"x" is a required property`: name the missing field itself, as Conekta does.
            if let Some(field) = message
                .strip_prefix('"')
                .and_then(|rest| rest.split_once("\" is a required property"))
                .map(|(field, _)| field)
            {
                let param = if param == "order" {
                    field.to_owned()
                } else {
                    format!("{param}.{field}")
                };
                return Detail::invalid(
                    &param,
                    "missing",
                    format!("The parameter \"{param}\" is required."),
                );
            }
            Detail::invalid(&param, "invalid", format!("{param}: {message}"))
        })
        .collect();
    // A value can break several keywords at once (a `type` and an `enum`); Conekta names each
    // bad parameter once.
    let mut named = std::collections::HashSet::new();
    details.retain(|detail| named.insert(detail.param.clone()));
    if !details.is_empty() {
        return Err(ConektaError::validation(details));
    }
    if body["line_items"].as_array().is_none_or(Vec::is_empty) {
        details.push(Detail::invalid(
            "line_items",
            "missing",
            "The order must contain at least one product.",
        ));
    }
    if let Some(currency) = body["currency"].as_str() {
        if !["MXN", "USD"].contains(&currency.to_ascii_uppercase().as_str()) {
            details.push(Detail::invalid(
                "currency",
                "invalid",
                format!("The currency \"{currency}\" is not supported."),
            ));
        }
    }
    let total = line_items_total(body);
    if !body["checkout"].is_null() {
        details.extend(checkout::checkout(&body["checkout"], total, now));
    }
    if let Some(charges) = body["charges"].as_array() {
        let customer_id = body["customer_info"]["customer_id"].as_str();
        details.extend(charges_cover(charges, total, customer_id));
    }
    if body["pre_authorize"] == json!(true) && !pays_by_card(body) {
        details.push(Detail::new(
            "conekta.errors.parameter_validation.combo.order.pre_authorize.card",
            Some("pre_authorize"),
            "Only card payments can be pre-authorized, and this order takes no card.",
        ));
    }
    if details.is_empty() {
        Ok(())
    } else {
        Err(ConektaError::validation(details))
    }
}

/// Whether the order can be paid by card: its checkout offers cards, or a charge is one.
fn pays_by_card(body: &Value) -> bool {
    let checkout = &body["checkout"];
    let offers = checkout.is_object()
        && offered_methods(checkout)
            .iter()
            .any(|method| method == "card");
    let charges = body["charges"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|charge| {
            matches!(
                charge["payment_method"]["type"].as_str(),
                Some("card" | "default")
            )
        });
    offers || charges
}

/// Direct and split charges: each names a payment method, and together they pay the total. A
/// card charge names its card (a token or a saved source); `default` may instead charge the
/// customer's default payment source (seed 002), so it needs a saved customer.
fn charges_cover(charges: &[Value], total: i64, customer_id: Option<&str>) -> Vec<Detail> {
    let mut details = Vec::new();
    if charges.is_empty() {
        return details;
    }
    for (i, charge) in charges.iter().enumerate() {
        let method = &charge["payment_method"];
        let param = format!("charges.{i}.payment_method");
        match method["type"].as_str() {
            Some("default")
                if method["token_id"].is_null() && method["payment_source_id"].is_null() =>
            {
                if customer_id.is_none() {
                    details.push(Detail::invalid(
                        "customer_info.customer_id",
                        "missing",
                        "A charge with the default payment method needs customer_info.customer_id: \
                         it charges that customer's default payment source.",
                    ));
                }
            }
            Some("card" | "default") => {
                if method["token_id"].is_null() && method["payment_source_id"].is_null() {
                    details.push(Detail::invalid(
                        &format!("{param}.token_id"),
                        "missing",
                        "A card charge needs a token_id or a payment_source_id.",
                    ));
                }
            }
            Some("cash" | "oxxo_cash" | "spei" | "bank_transfer") => {}
            Some(other) => details.push(Detail::invalid(
                &format!("{param}.type"),
                "invalid",
                format!("The payment method type \"{other}\" is not supported."),
            )),
            None => details.push(Detail::invalid(
                &format!("{param}.type"),
                "missing",
                "The payment method type is required.",
            )),
        }
        if charges.len() > 1 && charge["amount"].as_i64().is_none_or(|a| a <= 0) {
            details.push(Detail::invalid(
                &format!("charges.{i}.amount"),
                "missing",
                "Each charge of a split payment needs a positive amount.",
            ));
        }
    }
    let sum: i64 = charges
        .iter()
        .map(|c| c["amount"].as_i64().unwrap_or(total))
        .sum();
    if details.is_empty() && sum != total {
        details.push(Detail::new(
            "conekta.errors.parameter_validation.combo.order.amount.invalid_charges_amount",
            Some("charges"),
            format!("The charges add up to {sum} but the order amount is {total}."),
        ));
    }
    details
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn order(now: i64) -> Value {
        json!({
            "currency": "MXN",
            "customer_info": {"name": "andres jaro", "email": "a@example.com", "phone": "+5215555555555"},
            "line_items": [{"name": "Orden 6588", "unit_price": 100000, "quantity": 1}],
            "checkout": {"type": "HostedPayment", "allowed_payment_methods": ["card", "cash"],
                         "success_url": "https://shop.example/ok", "failure_url": "https://shop.example/ko",
                         "expires_at": now + 7200},
            "metadata": {"reference_id": "6588"}
        })
    }

    #[test]
    fn accepts_what_the_bridge_sends() {
        assert!(order_request(&order(1_700_000_000), 1_700_000_000).is_ok());
    }

    #[test]
    fn refuses_what_conekta_refuses() {
        let now = 1_700_000_000;
        let mut body = order(now);
        body["line_items"] = json!([]);
        body["checkout"]["expires_at"] = json!(now + 60);
        body["checkout"].as_object_mut().unwrap().remove("type");
        let error = order_request(&body, now).unwrap_err();
        assert_eq!(error.status, 422);
        let codes: Vec<_> = error.details.iter().map(|d| d.code.as_str()).collect();
        assert!(codes.contains(&"conekta.errors.parameter_validation.line_items.missing"));
        assert!(codes.contains(&"conekta.errors.parameter_validation.checkout.type.missing"));
        assert!(codes.contains(&"conekta.errors.parameter_validation.expires_at.out_of_range"));
        let mut no_customer = order(now);
        no_customer.as_object_mut().unwrap().remove("customer_info");
        assert!(order_request(&no_customer, now).is_err());
        let mut split = order(now);
        split.as_object_mut().unwrap().remove("checkout");
        split["charges"] = json!([{"amount": 50000, "payment_method": {"type": "cash"}},
                                  {"amount": 40000, "payment_method": {"type": "spei"}}]);
        let error = order_request(&split, now).unwrap_err();
        assert!(error.details[0].code.ends_with("invalid_charges_amount"));
    }

    #[test]
    fn the_default_method_charges_a_saved_customer() {
        let now = 1_700_000_000;
        let mut body = order(now);
        body.as_object_mut().unwrap().remove("checkout");
        body["customer_info"] = json!({"customer_id": "cus_2tTSkfScREpvaRJsE"});
        body["charges"] = json!([{"payment_method": {"type": "default"}}]);
        assert!(order_request(&body, now).is_ok());
        body["customer_info"] =
            json!({"name": "Ana", "email": "a@example.com", "phone": "+5215555555555"});
        let error = order_request(&body, now).unwrap_err();
        assert_eq!(
            error.details[0].param.as_deref(),
            Some("customer_info.customer_id")
        );
        body["charges"] = json!([{"payment_method": {"type": "card"}}]);
        let error = order_request(&body, now).unwrap_err();
        assert_eq!(
            error.details[0].param.as_deref(),
            Some("charges.0.payment_method.token_id")
        );
    }

    #[test]
    fn accepts_the_checkout_options_pagos_sends() {
        let now = 1_700_000_000;
        let mut body = order(now);
        body["checkout"]["monthly_installments_enabled"] = json!(true);
        body["checkout"]["monthly_installments_options"] = json!([3, 6, 12]);
        body["checkout"]["exclude_card_networks"] = json!(["visa_master_card", "amex"]);
        body["three_ds_mode"] = json!("smart");
        body["pre_authorize"] = json!(true);
        body["metadata"] = json!({"reference_id": "6588", "pagos_claim": "clm_1",
                                  "tienda": "norte", "canal": "app móvil"});
        assert!(order_request(&body, now).is_ok());
        let mut excluded = order(now);
        excluded["checkout"]
            .as_object_mut()
            .unwrap()
            .remove("allowed_payment_methods");
        excluded["checkout"]["excluded_payment_methods"] = json!(["cash"]);
        assert!(order_request(&excluded, now).is_ok());
        for mode in ["strict", "not_strict", "smart"] {
            let mut body = order(now);
            body["three_ds_mode"] = json!(mode);
            assert!(order_request(&body, now).is_ok(), "{mode}");
        }
    }

    /// The params of the details refusing `change` applied to a valid order.
    fn refused(change: impl Fn(&mut Value)) -> Vec<String> {
        let now = 1_700_000_000;
        let mut body = order(now);
        change(&mut body);
        let error = order_request(&body, now).expect_err("refused");
        assert_eq!(error.status, 422);
        error.details.into_iter().filter_map(|d| d.param).collect()
    }

    #[test]
    fn refuses_checkout_options_as_conekta_does() {
        let params = refused(|b| b["three_ds_mode"] = json!("always"));
        assert_eq!(params, ["three_ds_mode"]);
        assert_eq!(
            refused(|b| b["three_ds_mode"] = Value::Null),
            ["three_ds_mode"]
        );
        assert_eq!(
            refused(|b| b["pre_authorize"] = json!("yes")),
            ["pre_authorize"]
        );
        assert_eq!(
            refused(|b| b["checkout"]["exclude_card_networks"] = json!(["visa"])),
            ["checkout.exclude_card_networks.0"]
        );
        assert_eq!(
            refused(|b| b["checkout"]["excluded_payment_methods"] = json!(["cash"])),
            ["checkout.excluded_payment_methods"],
            "allowed and excluded together"
        );
        assert_eq!(
            refused(|b| b["checkout"]["monthly_installments_enabled"] = json!(true)),
            ["checkout.monthly_installments_options"]
        );
        let params = refused(|b| {
            b["checkout"]["monthly_installments_enabled"] = json!(true);
            b["checkout"]["monthly_installments_options"] = json!([3, 5, 3]);
        });
        assert_eq!(params.len(), 2, "5 and the second 3: {params:?}");
        assert_eq!(
            refused(|b| {
                b["checkout"]["monthly_installments_enabled"] = json!(true);
                b["checkout"]["monthly_installments_options"] = json!([3]);
                b["checkout"]["allowed_payment_methods"] = json!(["cash"]);
            }),
            ["checkout.monthly_installments_enabled"]
        );
        assert_eq!(
            refused(|b| {
                b["pre_authorize"] = json!(true);
                b["checkout"]["allowed_payment_methods"] = json!(["cash", "bank_transfer"]);
            }),
            ["pre_authorize"]
        );
        assert_eq!(
            refused(|b| b["metadata"]["nota"] = json!("x".repeat(250))),
            ["metadata.nota"]
        );
        assert_eq!(
            refused(|b| b["metadata"]["nested"] = json!({"a": "b"})),
            ["metadata.nested"]
        );
    }
}
