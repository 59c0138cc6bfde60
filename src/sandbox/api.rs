//! The Conekta API endpoints pagos uses: orders (HostedPayment checkouts, direct and split
//! charges), GET, lists (see `listing`), cancel and refunds; customers and their payment sources
//! (cards, recurrent cash references). Each answers in Conekta's shapes and sends the events
//! Conekta would.

use super::cards::{self, CardOutcome};
use super::errors::{ConektaError, Detail};
use super::state::{conekta_id, digits, now, ReferenceOwner};
use super::validation::{self, authorize};
use super::webhooks::{event, send_in_order};
use super::{listing, orders, Simulator};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/orders", web::get().to(listing::list_orders))
        .route("/orders", web::post().to(create_order))
        .route("/orders/{id}", web::get().to(get_order))
        .route("/orders/{id}/cancel", web::post().to(cancel_order))
        .route("/orders/{id}/refunds", web::post().to(refund_order))
        .route("/customers", web::get().to(listing::list_customers))
        .route("/customers", web::post().to(create_customer))
        .route("/customers/{id}", web::get().to(get_customer))
        .route(
            "/customers/{id}/payment_sources",
            web::post().to(add_payment_source),
        );
}

pub async fn not_found(request: HttpRequest) -> HttpResponse {
    ConektaError {
        status: 404,
        kind: "resource_not_found_error",
        details: vec![Detail::new(
            "conekta.errors.resource_not_found.route",
            None,
            format!(
                "The route {} {} does not exist.",
                request.method(),
                request.path()
            ),
        )],
    }
    .response()
}

pub fn ok(value: &Value) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json; charset=utf-8")
        .body(value.to_string())
}

/// The request's JSON object, or Conekta's `malformed_request_error`.
pub fn json_object(body: &[u8]) -> Result<Value, ConektaError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) if value.is_object() => Ok(value),
        Ok(_) if body.iter().all(u8::is_ascii_whitespace) => Ok(json!({})),
        _ => Err(ConektaError::malformed()),
    }
}

/// Events about an order's new status.
pub fn order_status_event(order: &Value, bridge: &str) -> Option<Value> {
    let kind = match order["payment_status"].as_str()? {
        "paid" => "order.paid",
        "declined" => "order.declined",
        "pending_payment" => "order.pending_payment",
        "partially_paid" => "order.updated",
        "canceled" => "order.canceled",
        "refunded" => "order.refunded",
        "partially_refunded" => "order.partially_refunded",
        _ => return None,
    };
    Some(event(kind, order, bridge))
}

async fn create_order(
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
    let bridge = simulator.bridge_webhook_url().unwrap_or_default();
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

async fn get_order(
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

async fn cancel_order(
    request: HttpRequest,
    id: web::Path<String>,
    simulator: web::Data<Simulator>,
) -> HttpResponse {
    if let Err(error) = authorize(&request) {
        return error.response();
    }
    let bridge = simulator.bridge_webhook_url().unwrap_or_default();
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

async fn refund_order(
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
    let bridge = simulator.bridge_webhook_url().unwrap_or_default();
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

async fn create_customer(
    request: HttpRequest,
    body: web::Bytes,
    simulator: web::Data<Simulator>,
) -> HttpResponse {
    let customer_request = match authorize(&request).and_then(|()| json_object(&body)) {
        Ok(value) => value,
        Err(error) => return error.response(),
    };
    if let Err(error) = validation::customer_request(&customer_request) {
        return error.response();
    }
    let now = now();
    let id = conekta_id("cus");
    let requested: Vec<Value> = customer_request["payment_sources"]
        .as_array()
        .cloned()
        .or_else(|| {
            customer_request["payment_method"]
                .is_object()
                .then(|| vec![customer_request["payment_method"].clone()])
        })
        .unwrap_or_default();
    let mut sources = Vec::new();
    for source in &requested {
        match new_payment_source(&simulator, source, &id, now) {
            Ok(made) => sources.push(made),
            Err(error) => return error.response(),
        }
    }
    let default_source = sources
        .first()
        .map(|s| s["id"].clone())
        .unwrap_or(Value::Null);
    let customer = json!({
        "livemode": false,
        "name": customer_request["name"],
        "email": customer_request["email"],
        "phone": customer_request["phone"],
        "id": id,
        "object": "customer",
        "created_at": now,
        "corporate": customer_request["corporate"].as_bool().unwrap_or(false),
        "custom_reference": customer_request["custom_reference"].as_str().unwrap_or(""),
        "metadata": customer_request["metadata"].as_object().cloned().unwrap_or_default(),
        "default_payment_source_id": default_source,
        "payment_sources": {"object": "list", "has_more": false, "total": sources.len(), "data": sources}
    });
    remember_sources(&simulator, &customer);
    simulator.world().customers.insert(customer.clone());
    tracing::info!(customer_id = %id, "sandbox: customer created");
    ok(&customer)
}

async fn get_customer(
    request: HttpRequest,
    id: web::Path<String>,
    simulator: web::Data<Simulator>,
) -> HttpResponse {
    if let Err(error) = authorize(&request) {
        return error.response();
    }
    match simulator.world().customers.get(id.as_str()) {
        Some(customer) => ok(customer),
        None => ConektaError::not_found("customer", &id).response(),
    }
}

async fn add_payment_source(
    request: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
    simulator: web::Data<Simulator>,
) -> HttpResponse {
    let source_request = match authorize(&request).and_then(|()| json_object(&body)) {
        Ok(value) => value,
        Err(error) => return error.response(),
    };
    if let Err(error) = validation::payment_source_request(&source_request) {
        return error.response();
    }
    if !simulator.world().customers.contains_key(id.as_str()) {
        return ConektaError::not_found("customer", &id).response();
    }
    let source = match new_payment_source(&simulator, &source_request, &id, now()) {
        Ok(source) => source,
        Err(error) => return error.response(),
    };
    let customer = {
        let mut world = simulator.world();
        let Some(customer) = world.customers.get_mut(id.as_str()) else {
            return ConektaError::not_found("customer", &id).response();
        };
        if let Some(list) = customer
            .pointer_mut("/payment_sources/data")
            .and_then(Value::as_array_mut)
        {
            list.push(source.clone());
            let total = list.len();
            customer["payment_sources"]["total"] = json!(total);
        }
        let make_default = source_request["make_default"].as_bool().unwrap_or(false)
            || customer["default_payment_source_id"].is_null();
        if make_default {
            customer["default_payment_source_id"] = source["id"].clone();
        }
        customer.clone()
    };
    remember_sources(&simulator, &customer);
    ok(&source)
}

/// A payment source in Conekta's shape: a card (`src_…`) or a recurrent reference
/// (`off_ref_…` with `reference`, `barcode`, `barcode_url`).
fn new_payment_source(
    simulator: &Simulator,
    request: &Value,
    customer_id: &str,
    now: i64,
) -> Result<Value, ConektaError> {
    let kind = request["type"].as_str().unwrap_or("");
    if kind == "card" {
        let token = request["token_id"].as_str().unwrap_or("");
        let (brand, last4) = match cards::by_token(token) {
            CardOutcome::Approved { brand, last4 } | CardOutcome::Declined { brand, last4, .. } => {
                (brand, last4)
            }
            CardOutcome::Invalid(message) => {
                return Err(ConektaError::validation(vec![Detail::new(
                    "conekta.errors.parameter_validation.payment_method.token_id.nonexistent_token",
                    Some("token_id"),
                    message,
                )]))
            }
        };
        let id = conekta_id("src");
        simulator
            .world()
            .card_sources
            .insert(id.clone(), token.to_owned());
        return Ok(json!({
            "id": id, "object": "payment_source", "type": "card", "created_at": now,
            "last4": last4, "bin": "424242", "card_type": "credit", "exp_month": "12",
            "exp_year": "30", "brand": brand, "name": request["name"].as_str().unwrap_or(""),
            "parent_id": customer_id, "default": false, "visible_on_checkout": true,
            "payment_source_status": "active"
        }));
    }
    let reference = digits(
        if kind == "oxxo_recurrent" {
            "9300"
        } else {
            "9900"
        },
        14,
    );
    Ok(json!({
        "id": conekta_id("off_ref"),
        "object": "payment_source",
        "type": kind,
        "provider": if kind == "oxxo_recurrent" { "Oxxo" } else { "Cash" },
        "reference": reference,
        "barcode": reference,
        "barcode_url": format!("{}/barcode/{reference}.png", simulator.url),
        "expires_at": request["expires_at"].as_i64().unwrap_or(0),
        "created_at": now,
        "parent_id": customer_id
    }))
}

/// Indexes a customer's recurrent references so the cashier can find them.
fn remember_sources(simulator: &Simulator, customer: &Value) {
    let mut world = simulator.world();
    for source in customer["payment_sources"]["data"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if let Some(reference) = source["reference"].as_str() {
            world.references.insert(
                reference.to_owned(),
                ReferenceOwner {
                    customer_id: customer["id"].as_str().unwrap_or("").to_owned(),
                    source_id: source["id"].as_str().unwrap_or("").to_owned(),
                },
            );
        }
    }
}
