//! `POST /orders` (a checkout, or direct and split charges decided at once) and `GET /orders/{id}`.

use super::{json_object, ok};
use crate::errors::{ConektaError, Detail};
use crate::server::Simulator;
use crate::validation::{self, authorize};
use crate::webhooks::{event, order_status_event, send_in_order};
use crate::world::cards::{self, CardOutcome};
use crate::world::orders;
use crate::world::state::{digits, now};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

pub async fn create_order(
    request: HttpRequest,
    body: web::Bytes,
    simulator: web::Data<Simulator>,
) -> HttpResponse {
    let order_request = match authorize(&request).and_then(|()| json_object(&body)) {
        Ok(value) => value,
        Err(error) => return error.response(),
    };
    let now = now();
    if let Err(error) = validation::order_request(&order_request, now) {
        return error.response();
    }
    // No `Idempotency-Key` here: Conekta's API has none, so a repeated create makes a second
    // order, and pagos must find the first one itself (`GET /orders?search=`).
    let total = validation::line_items_total(&order_request);
    let mut order = orders::new_order(&order_request, total, &simulator.url, now);
    let bridge = simulator.webhook_url().unwrap_or_default();
    let mut events = vec![event("order.created", &order, &bridge)];
    let mut decline = None;
    if let Some(charges) = order_request["charges"]
        .as_array()
        .filter(|c| !c.is_empty())
    {
        for charge_request in charges {
            let amount = charge_request["amount"].as_i64().unwrap_or(total);
            match direct_charge(&simulator, &order, charge_request, amount, now) {
                Ok((charge, kinds)) => {
                    for kind in kinds {
                        events.push(event(kind, &charge, &bridge));
                    }
                    if charge["status"] == "declined" && decline.is_none() {
                        let code = charge["failure_code"].as_str().unwrap_or("card_declined");
                        let message = charge["failure_message"].as_str().unwrap_or("");
                        decline = Some(ConektaError::processing(
                            cards::decline_error_code(code),
                            message,
                        ));
                    }
                    orders::add_charge(&mut order, charge);
                }
                Err(error) => return error.response(),
            }
        }
        orders::settle(&mut order, now);
        events.extend(order_status_event(&order, &bridge));
    }
    {
        let mut world = simulator.world();
        if let Some(slug) = order["checkout"]["slug"].as_str() {
            world.slugs.insert(
                slug.to_owned(),
                order["id"].as_str().unwrap_or("").to_owned(),
            );
        }
        world.orders.insert(order.clone());
    }
    tracing::info!(order_id = %order["id"], amount = total, "sandbox: order created");
    send_in_order(simulator, events);
    match decline {
        Some(error) => error.response_with(Some(&order)),
        None => ok(&order),
    }
}

/// One charge of a direct or split order: a card is decided now; cash and SPEI wait for the
/// cashier. Returns the charge and the event types it causes.
fn direct_charge(
    simulator: &Simulator,
    order: &Value,
    request: &Value,
    amount: i64,
    now: i64,
) -> Result<(Value, Vec<&'static str>), ConektaError> {
    let method = &request["payment_method"];
    let expires_at = method["expires_at"]
        .as_i64()
        .unwrap_or(now + 3 * 24 * 3_600);
    match method["type"].as_str().unwrap_or("") {
        "card" | "default" => {
            let outcome = if let Some(token) = method["token_id"].as_str() {
                cards::by_token(token)
            } else {
                let source = method["payment_source_id"].as_str().unwrap_or("");
                let world = simulator.world();
                match world.card_sources.get(source) {
                    Some(token) => cards::by_token(token),
                    None => return Err(ConektaError::not_found("payment_source", source)),
                }
            };
            let name = order["customer_info"]["name"].as_str().unwrap_or("");
            match outcome {
                CardOutcome::Approved { brand, last4 } => {
                    let method = orders::card_method(brand, &last4, name, "12", "30");
                    let charge = orders::charge(order, amount, method, "paid", now);
                    Ok((charge, vec!["charge.created", "charge.paid"]))
                }
                CardOutcome::Declined {
                    brand,
                    last4,
                    code,
                    message,
                } => {
                    let method = orders::card_method(brand, &last4, name, "12", "30");
                    let mut charge = orders::charge(order, amount, method, "declined", now);
                    charge["failure_code"] = json!(code);
                    charge["failure_message"] = json!(message);
                    Ok((charge, vec!["charge.created", "charge.declined"]))
                }
                CardOutcome::Invalid(message) => Err(ConektaError::validation(vec![Detail::new(
                    "conekta.errors.parameter_validation.payment_method.token_id.nonexistent_token",
                    Some("payment_method.token_id"),
                    message,
                )])),
            }
        }
        "cash" | "oxxo_cash" => {
            let reference = digits("9300", 14);
            let method = orders::cash_method(&reference, expires_at, &simulator.url);
            Ok((
                orders::charge(order, amount, method, "pending_payment", now),
                vec!["charge.created"],
            ))
        }
        _ => {
            let clabe = digits("646180", 18);
            Ok((
                orders::charge(
                    order,
                    amount,
                    orders::spei_method(&clabe, expires_at),
                    "pending_payment",
                    now,
                ),
                vec!["charge.created"],
            ))
        }
    }
}

pub async fn get_order(
    request: HttpRequest,
    id: web::Path<String>,
    simulator: web::Data<Simulator>,
) -> HttpResponse {
    if let Err(error) = authorize(&request) {
        return error.response();
    }
    match simulator.world().orders.get(id.as_str()) {
        Some(order) => ok(order),
        None => ConektaError::not_found("order", &id).response(),
    }
}
