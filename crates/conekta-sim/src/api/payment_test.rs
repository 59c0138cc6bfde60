//! Conekta's `POST /payment_test`: the cashier's scan over the API, for the cash flows.

use super::{checked_body, ok};
use crate::cashier::scan;
use crate::errors::{ConektaError, Detail};
use crate::server::Simulator;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

/// Conekta's `POST /payment_test {event_type, reference, amount}` for the cash flows.
pub async fn payment_test(
    request: HttpRequest,
    body: web::Bytes,
    simulator: web::Data<Simulator>,
) -> HttpResponse {
    let test = match checked_body(&request, &body, |_| Ok(())) {
        Ok(value) => value,
        Err(error) => return error.response(),
    };
    let event_type = test["event_type"].as_str().unwrap_or("");
    let reference = test["reference"].as_str().unwrap_or("");
    let mut details = Vec::new();
    if !matches!(
        event_type,
        "inbound_payment.lookup" | "inbound_payment.payment_attempt"
    ) {
        details.push(Detail::invalid(
            "event_type",
            "invalid",
            "event_type must be inbound_payment.lookup or inbound_payment.payment_attempt.",
        ));
    }
    if reference.is_empty() {
        details.push(Detail::invalid(
            "reference",
            "missing",
            "The reference is required.",
        ));
    }
    let amount = match &test["amount"] {
        Value::String(text) => text.trim().parse::<i64>().ok(),
        other => other.as_i64(),
    };
    if event_type == "inbound_payment.payment_attempt" && amount.is_none_or(|a| a <= 0) {
        details.push(Detail::invalid(
            "amount",
            "missing",
            "The amount (centavos) is required.",
        ));
    }
    if !details.is_empty() {
        return ConektaError::validation(details).response();
    }
    let scan = scan(
        &simulator,
        reference,
        amount.unwrap_or(0),
        event_type == "inbound_payment.lookup",
    )
    .await;
    ok(&scan.to_json())
}
