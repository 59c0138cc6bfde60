//! The bodies of the other API requests: customers, payment sources, refunds and captures.

use crate::errors::{ConektaError, Detail};
use crate::world::state::now;
use serde_json::Value;

use super::{CLOCK_SLACK_S, HOUR_S, YEAR_S};

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
                let now = now();
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

/// The body of `POST /orders/{id}/capture`, when there is one (`order_capture_request`): the
/// `amount` to capture, at least 1. Without a body the whole authorized amount is captured.
pub fn capture_request(body: &Value) -> Result<i64, ConektaError> {
    match body["amount"].as_i64() {
        Some(amount) if amount >= 1 => Ok(amount),
        Some(_) => Err(ConektaError::validation(vec![Detail::invalid(
            "amount",
            "invalid",
            "The amount to capture must be at least 1.",
        )])),
        None => Err(ConektaError::validation(vec![Detail::invalid(
            "amount",
            "missing",
            "The amount (centavos) to capture is required.",
        )])),
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
