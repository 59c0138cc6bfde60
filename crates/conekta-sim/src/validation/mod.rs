//! What Conekta refuses, refused the same way: the key, order bodies against the schema derived
//! from Conekta's OpenAPI spec plus the rules its prose states, and the required fields of the
//! other requests.

use crate::errors::{ConektaError, Detail};
use actix_web::HttpRequest;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde_json::Value;
use std::sync::LazyLock;

const ORDER_REQUEST_SCHEMA: &str = include_str!("../../data/order_request.schema.json");
const HOUR_S: i64 = 3_600;
const YEAR_S: i64 = 365 * 24 * HOUR_S;
/// Requests take a moment to arrive; an expiry computed as "now + 1 h" must still pass.
const CLOCK_SLACK_S: i64 = 30;
const PAYMENT_METHODS: &[&str] = &["card", "cash", "bank_transfer", "bnpl", "pay_by_bank"];
/// Conekta's minimum for a card payment in MXN (3.00 pesos).
const CARD_MINIMUM_CENTS: i64 = 300;

static ORDER_SCHEMA: LazyLock<jsonschema::Validator> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(ORDER_REQUEST_SCHEMA).expect("schema is JSON");
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("schema compiles")
});

/// `Authorization: Bearer key_…` (or HTTP Basic with `key_…:` as the SDKs send it).
pub fn authorize(request: &HttpRequest) -> Result<(), ConektaError> {
    let header = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let key = if let Some(token) = header.strip_prefix("Bearer ") {
        token.trim().to_owned()
    } else if let Some(basic) = header.strip_prefix("Basic ") {
        BASE64
            .decode(basic.trim())
            .ok()
            .and_then(|raw| String::from_utf8(raw).ok())
            .and_then(|pair| pair.split(':').next().map(str::to_owned))
            .unwrap_or_default()
    } else {
        String::new()
    };
    if key.starts_with("key_") && key.len() > 4 {
        Ok(())
    } else {
        Err(ConektaError::missing_key())
    }
}

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
        details.extend(checkout(&body["checkout"], total, now));
    }
    if let Some(charges) = body["charges"].as_array() {
        details.extend(charges_cover(charges, total));
    }
    if details.is_empty() {
        Ok(())
    } else {
        Err(ConektaError::validation(details))
    }
}

fn checkout(checkout: &Value, total: i64, now: i64) -> Vec<Detail> {
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
    let methods: Vec<&str> = checkout["allowed_payment_methods"]
        .as_array()
        .map(|m| m.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if methods.is_empty() {
        details.push(Detail::invalid(
            "checkout.allowed_payment_methods",
            "missing",
            "At least one allowed payment method is required.",
        ));
    }
    for method in &methods {
        if !PAYMENT_METHODS.contains(method) {
            details.push(Detail::invalid(
                "checkout.allowed_payment_methods",
                "invalid",
                format!("The payment method \"{method}\" is not valid."),
            ));
        }
    }
    if checkout["type"] == "HostedPayment" {
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
    if methods.contains(&"card") && total < CARD_MINIMUM_CENTS {
        details.push(Detail::new(
            "conekta.errors.parameter_validation.combo.order.currency_type.card.minimum",
            Some("amount"),
            "The minimum amount for a card payment is $3.00 MXN.",
        ));
    }
    details
}

/// Direct and split charges: each names a payment method, and together they pay the total.
fn charges_cover(charges: &[Value], total: i64) -> Vec<Detail> {
    let mut details = Vec::new();
    if charges.is_empty() {
        return details;
    }
    for (i, charge) in charges.iter().enumerate() {
        let method = &charge["payment_method"];
        let param = format!("charges.{i}.payment_method");
        match method["type"].as_str() {
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

/// `POST /customers`: name, email and phone (the spec's required fields).
pub fn customer_request(body: &Value) -> Result<(), ConektaError> {
    let mut details = required_strings(body, &["name", "email", "phone"]);
    if let Some(email) = body["email"].as_str() {
        if !email.contains('@') {
            details.push(Detail::invalid(
                "email",
                "invalid",
                "The email is not valid.",
            ));
        }
    }
    let sources = body["payment_sources"]
        .as_array()
        .cloned()
        .or_else(|| {
            body["payment_method"]
                .is_object()
                .then(|| vec![body["payment_method"].clone()])
        })
        .unwrap_or_default();
    for (i, source) in sources.iter().enumerate() {
        if let Err(mut more) = payment_source_request(source) {
            for d in &mut more.details {
                d.param = d.param.as_ref().map(|p| format!("payment_sources.{i}.{p}"));
            }
            details.extend(more.details);
        }
    }
    if details.is_empty() {
        Ok(())
    } else {
        Err(ConektaError::validation(details))
    }
}

/// A payment source: a card (`token_id`) or a recurrent cash reference.
pub fn payment_source_request(body: &Value) -> Result<(), ConektaError> {
    let details = match body["type"].as_str() {
        Some("card") => required_strings(body, &["token_id"]),
        Some("cash_recurrent" | "oxxo_recurrent") => {
            let mut details = Vec::new();
            if let Some(expires_at) = body["expires_at"].as_i64() {
                let now = crate::world::state::now();
                if expires_at != 0
                    && (expires_at < now + 24 * HOUR_S - CLOCK_SLACK_S || expires_at > now + YEAR_S)
                {
                    details.push(Detail::new(
                        "conekta.errors.parameter_validation.expires_at.out_of_range",
                        Some("expires_at"),
                        "The expiration date must be between one day and 365 days from now.",
                    ));
                }
            }
            details
        }
        Some(other) => vec![Detail::invalid(
            "type",
            "invalid",
            format!("The payment source type \"{other}\" is not supported."),
        )],
        None => vec![Detail::invalid("type", "missing", "The type is required.")],
    };
    if details.is_empty() {
        Ok(())
    } else {
        Err(ConektaError::validation(details))
    }
}

/// `POST /orders/{id}/refunds`: `amount` and `reason` are required.
pub fn refund_request(body: &Value) -> Result<(), ConektaError> {
    let mut details = required_strings(body, &["reason"]);
    match body["amount"].as_i64() {
        Some(amount) if amount > 0 => {}
        Some(_) => details.push(Detail::invalid(
            "amount",
            "invalid",
            "The amount must be above zero.",
        )),
        None => details.push(Detail::invalid(
            "amount",
            "missing",
            "The amount is required.",
        )),
    }
    if details.is_empty() {
        Ok(())
    } else {
        Err(ConektaError::validation(details))
    }
}

fn required_strings(body: &Value, names: &[&str]) -> Vec<Detail> {
    names
        .iter()
        .filter(|name| body[**name].as_str().is_none_or(|s| s.trim().is_empty()))
        .map(|name| {
            Detail::invalid(
                name,
                "missing",
                format!("The parameter \"{name}\" is required."),
            )
        })
        .collect()
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
}
