//! What happens to an order after it is made: `cancel`, `refunds` and `capture`.

use super::{json_object, ok};
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
            for charge in charges
                .iter_mut()
                .filter(|c| c["status"] == "pending_payment")
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
    let refund = match authorize(&request).and_then(|()| json_object(&body)) {
        Ok(value) => value,
        Err(error) => return error.response(),
    };
    if let Err(error) = validation::refund_request(&refund) {
        return error.response();
    }
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

pub async fn capture_order() -> HttpResponse {
    HttpResponse::NotImplemented().finish()
}
