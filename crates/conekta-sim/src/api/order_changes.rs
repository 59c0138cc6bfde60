//! What happens to an order after it is made: `cancel`, `refunds` and `capture`.

use super::{checked_body, json_object, ok};
use crate::errors::{ConektaError, Detail};
use crate::server::Simulator;
use crate::validation::{self, authorize};
use crate::webhooks::{event, order_status_event, send_in_order};
use crate::world::orders;
use crate::world::state::now;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

pub async fn cancel_order(
    request: HttpRequest,
    id: web::Path<String>,
    simulator: web::Data<Simulator>,
) -> HttpResponse {
    if let Err(error) = authorize(&request) {
        return error.response();
    }
    let bridge = simulator.webhook_url().unwrap_or_default();
    let order = {
        let mut world = simulator.world();
        let Some(order) = world.orders.get_mut(id.as_str()) else {
            return ConektaError::not_found("order", &id).response();
        };
        let status = order["payment_status"].as_str().unwrap_or("");
        if matches!(
            status,
            "paid" | "partially_refunded" | "refunded" | "canceled"
        ) {
            return ConektaError::validation(vec![Detail::new(
                "conekta.errors.parameter_validation.order.cancel.invalid_status",
                Some("payment_status"),
                format!("An order with payment_status \"{status}\" cannot be canceled."),
            )])
            .response();
        }
        order["payment_status"] = json!("canceled");
        order["updated_at"] = json!(now());
        if order["checkout"].is_object() {
            order["checkout"]["status"] = json!("Cancelled");
        }
        if let Some(charges) = order
            .pointer_mut("/charges/data")
            .and_then(Value::as_array_mut)
        {
            // Cancelling releases a card hold as it stops a pending cash or SPEI payment.
            for charge in charges
                .iter_mut()
                .filter(|c| c["status"] == "pending_payment" || c["status"] == "pre_authorized")
            {
                charge["status"] = json!("canceled");
            }
        }
        order.clone()
    };
    tracing::info!(order_id = %order["id"], "sandbox: order canceled");
    send_in_order(
        simulator,
        order_status_event(&order, &bridge).into_iter().collect(),
    );
    ok(&order)
}

pub async fn refund_order(
    request: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
    simulator: web::Data<Simulator>,
) -> HttpResponse {
    let refund = match checked_body(&request, &body, validation::refund_request) {
        Ok(value) => value,
        Err(error) => return error.response(),
    };
    let amount = refund["amount"].as_i64().unwrap_or(0);
    let bridge = simulator.webhook_url().unwrap_or_default();
    let (order, charges) = {
        let mut world = simulator.world();
        let Some(order) = world.orders.get_mut(id.as_str()) else {
            return ConektaError::not_found("order", &id).response();
        };
        let status = order["payment_status"].as_str().unwrap_or("");
        if !matches!(status, "paid" | "partially_refunded") {
            return ConektaError::validation(vec![Detail::new(
                "conekta.errors.parameter_validation.order.refund.not_paid",
                Some("payment_status"),
                format!("An order with payment_status \"{status}\" cannot be refunded."),
            )])
            .response();
        }
        if amount > orders::refundable(order) {
            return ConektaError::validation(vec![Detail::invalid(
                "amount",
                "invalid",
                format!(
                    "The refund amount {amount} is above what can still be refunded ({}).",
                    orders::refundable(order)
                ),
            )])
            .response();
        }
        let charges = orders::refund(order, amount, refund["expires_at"].as_i64(), now());
        (order.clone(), charges)
    };
    tracing::info!(order_id = %order["id"], amount, "sandbox: order refunded");
    let mut events: Vec<Value> = charges
        .iter()
        .map(|charge| event("charge.refunded", charge, &bridge))
        .collect();
    events.extend(order_status_event(&order, &bridge));
    send_in_order(simulator, events);
    ok(&order)
}

/// `POST /orders/{id}/capture`: takes what a pre-authorized order holds (or the body's smaller
/// `amount`), and sends `charge.paid` and `order.paid`. Any other order is the spec's 428.
pub async fn capture_order(
    request: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
    simulator: web::Data<Simulator>,
) -> HttpResponse {
    if let Err(error) = authorize(&request) {
        return error.response();
    }
    let asked = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        match json_object(&body).and_then(|body| validation::capture_request(&body)) {
            Ok(amount) => Some(amount),
            Err(error) => return error.response(),
        }
    };
    let bridge = simulator.webhook_url().unwrap_or_default();
    let (order, charges) = {
        let mut world = simulator.world();
        let Some(order) = world.orders.get_mut(id.as_str()) else {
            return ConektaError::not_found("order", &id).response();
        };
        let status = order["payment_status"].as_str().unwrap_or("null");
        if status != "pre_authorized" {
            return ConektaError::precondition(
                "conekta.errors.precondition_required.combo.order.cannot_be_captured",
                format!(
                    "The order cannot be captured because its payment_status is \"{status}\"; \
                     only a pre_authorized order can be."
                ),
            )
            .response();
        }
        let held = orders::authorized(order);
        let amount = asked.unwrap_or(held);
        if amount > held {
            return ConektaError::validation(vec![Detail::invalid(
                "amount",
                "invalid",
                format!("The amount {amount} is above what the order holds ({held})."),
            )])
            .response();
        }
        let charges = orders::capture(order, amount, now());
        (order.clone(), charges)
    };
    tracing::info!(order_id = %order["id"], "sandbox: order captured");
    let mut events: Vec<Value> = charges
        .iter()
        .map(|charge| event("charge.paid", charge, &bridge))
        .collect();
    events.extend(order_status_event(&order, &bridge));
    send_in_order(simulator, events);
    ok(&order)
}
