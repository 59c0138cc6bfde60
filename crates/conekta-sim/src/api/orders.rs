//! `POST /orders` (a checkout, or direct and split charges decided at once) and `GET /orders/{id}`.

use super::{checked_body, ok, one};
use crate::errors::{ConektaError, Detail};
use crate::server::Simulator;
use crate::validation;
use crate::webhooks::{event, order_status_event, send_in_order};
use crate::world::cards::{self, Holder};
use crate::world::orders;
use crate::world::state::{digits, now};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

pub async fn create_order(
    request: HttpRequest,
    body: web::Bytes,
    simulator: web::Data<Simulator>,
) -> HttpResponse {
    let now = now();
    let check = |order: &Value| validation::order_request(order, now);
    let order_request = match checked_body(&request, &body, check) {
        Ok(value) => value,
        Err(error) => return error.response(),
    };
    // No `Idempotency-Key` here: Conekta's API has none, so a repeated create makes a second
    // order, and pagos must find the first one itself (`GET /orders?search=`).
    let total = validation::line_items_total(&order_request);
    let mut order = orders::new_order(&order_request, total, &simulator.url, now);
    let bridge = simulator.webhook_url().unwrap_or_default();
    let mut events = vec![event("order.created", &order, &bridge)];
    let mut decline = None;
    let pre_authorize = order_request["pre_authorize"] == json!(true);
    if let Some(charges) = order_request["charges"]
        .as_array()
        .filter(|c| !c.is_empty())
    {
        for charge_request in charges {
            let amount = charge_request["amount"].as_i64().unwrap_or(total);
            match direct_charge(
                &simulator,
                &order,
                charge_request,
                amount,
                pre_authorize,
                now,
            ) {
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
        if pre_authorize {
            world
                .pre_authorize
                .insert(order["id"].as_str().unwrap_or("").to_owned());
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

/// One charge of a direct or split order: a card is decided now (and only held when the order
/// is `pre_authorize`); cash and SPEI wait for the cashier. Returns the charge and the event
/// types it causes.
fn direct_charge(
    simulator: &Simulator,
    order: &Value,
    request: &Value,
    amount: i64,
    pre_authorize: bool,
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
                let source = match method["payment_source_id"].as_str() {
                    Some(source) => source.to_owned(),
                    None => default_source(simulator, order)?,
                };
                let world = simulator.world();
                match world.card_sources.get(&source) {
                    Some(token) => cards::by_token(token),
                    None => return Err(ConektaError::not_found("payment_source", &source)),
                }
            };
            let holder = Holder {
                name: order["customer_info"]["name"].as_str().unwrap_or(""),
                exp_month: "12",
                exp_year: "30",
            };
            cards::card_charge(order, amount, outcome, &holder, pre_authorize, now)
                .map(|(charge, kinds)| (charge, kinds.to_vec()))
                .map_err(|message| {
                    ConektaError::validation(vec![Detail::new(
                        "conekta.errors.parameter_validation.payment_method.token_id.nonexistent_token",
                        Some("payment_method.token_id"),
                        message,
                    )])
                })
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

/// The card `{"type": "default"}` charges: the customer's default payment source, which must
/// be a saved card.
fn default_source(simulator: &Simulator, order: &Value) -> Result<String, ConektaError> {
    let customer_id = order["customer_info"]["customer_id"].as_str().unwrap_or("");
    let world = simulator.world();
    let customer = world
        .customers
        .get(customer_id)
        .ok_or_else(|| ConektaError::not_found("customer", customer_id))?;
    customer["default_payment_source_id"]
        .as_str()
        .filter(|source| world.card_sources.contains_key(*source))
        .map(str::to_owned)
        .ok_or_else(|| {
            ConektaError::validation(vec![Detail::invalid(
                "payment_method.default_payment_source_id",
                "missing",
                format!(
                    "The customer '{customer_id}' has no default card to charge: save a card \
                     (POST /customers/{customer_id}/payment_sources) or name a payment_source_id."
                ),
            )])
        })
}

pub async fn get_order(
    request: HttpRequest,
    id: web::Path<String>,
    simulator: web::Data<Simulator>,
) -> HttpResponse {
    let found = simulator.world().orders.get(id.as_str()).cloned();
    one(&request, found, "order", &id)
}
