//! What Conekta does for each route pagos uses, on the fake's memory of orders and customers.

use super::listing::{ListQuery, Listing};
use super::rules::line_items_total;
use super::{object_id, FakeConekta, Received, Reply};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;

const DECLINED_CARDS: &[&str] = &["tok_test_card_declined", "src_card_declined"];

/// Charge statuses that mean the money arrived (and may since have gone back).
const PAID_STATUSES: &[&str] = &["paid", "partially_refunded", "refunded"];

fn error(reply: Reply) -> (u16, Value) {
    match reply {
        Reply::Status(status, body) => (status, body),
        _ => unreachable!("conekta_error builds a Status"),
    }
}

fn not_found() -> (u16, Value) {
    error(Reply::conekta_error(
        404,
        "resource_not_found_error",
        "conekta.errors.resource_not_found.entity",
        "El recurso no ha sido encontrado.",
    ))
}

fn validation_error(message: &str) -> (u16, Value) {
    error(Reply::conekta_error(
        422,
        "parameter_validation_error",
        "conekta.errors.parameter_validation",
        message,
    ))
}

/// Performs what the request asks and returns Conekta's answer. Requests Conekta would refuse
/// only here, with the fake's memory at hand, are recorded as violations too.
pub(super) fn behave(fake: &FakeConekta, received: &Received, expired: bool) -> (u16, Value) {
    let n = fake.orders_made.fetch_add(1, Ordering::SeqCst) + 1;
    let now = fake.now();
    let body = &received.body;
    let segments: Vec<&str> = received.path.trim_start_matches('/').split('/').collect();
    let mut state = fake.state.lock().unwrap();
    let state = &mut *state;
    match (received.method.as_str(), segments.as_slice()) {
        ("GET", ["orders"] | ["customers"]) => {
            let listing = Listing::of(&received.method, &received.path).unwrap();
            let query = ListQuery::parse(listing, &received.query).expect("checked on arrival");
            let items = match listing {
                Listing::Orders => &state.orders,
                Listing::Customers => &state.customers,
            };
            match query.page(items, &fake.url, state.search_mode, state.page_size_cap) {
                Ok(page) => (200, page),
                Err(problem) => {
                    state.violations.push(problem.clone());
                    validation_error(&problem)
                }
            }
        }
        ("POST", ["orders"]) => {
            let declined = body["charges"].as_array().into_iter().flatten().any(|c| {
                let pm = &c["payment_method"];
                DECLINED_CARDS
                    .iter()
                    .any(|d| pm["token_id"] == *d || pm["payment_source_id"] == *d)
            });
            if declined {
                return error(Reply::conekta_error(
                    402,
                    "processing_error",
                    "conekta.errors.processing.bank.declined",
                    "El cargo ha sido declinado por el banco emisor.",
                ));
            }
            let order = order_from(body, n, expired, now);
            state.orders.push(order.clone());
            (200, order)
        }
        ("GET", ["orders", id]) => match state.order_mut(id) {
            Some(order) => (200, order.clone()),
            None => not_found(),
        },
        ("POST", ["orders", id, "cancel"]) => match state.order_mut(id) {
            Some(order) => {
                order["payment_status"] = json!("canceled");
                (200, order.clone())
            }
            None => not_found(),
        },
        ("POST", ["orders", id, "capture"]) => {
            let Some(order) = state.order_mut(id) else {
                return not_found();
            };
            match capture(order, body, now) {
                Ok(()) => (200, order.clone()),
                Err(problem) => {
                    state.violations.push(problem.clone());
                    validation_error(&problem)
                }
            }
        }
        ("POST", ["orders", id, "refunds"]) => {
            let Some(order) = state.order_mut(id) else {
                return not_found();
            };
            match refund(order, body, now) {
                Ok(()) => (200, order.clone()),
                Err(problem) => {
                    state.violations.push(problem.clone());
                    validation_error(&problem)
                }
            }
        }
        ("POST", ["customers"]) => {
            let id = format!("cus_fake{n}");
            let sources: Vec<Value> = body["payment_sources"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
                .map(|(i, source)| source_from(source, &id, n * 10 + i))
                .collect();
            let customer = json!({
                "livemode": false, "name": body["name"], "email": body["email"], "phone": body["phone"],
                "id": id, "object": "customer", "created_at": now, "corporate": false,
                "custom_reference": "", "metadata": metadata_of(body),
                "default_payment_source_id": sources.first().map(|s| s["id"].clone()),
                "payment_sources": {"object": "list", "has_more": false, "total": sources.len(), "data": sources}
            });
            state.customers.push(customer.clone());
            (200, customer)
        }
        ("POST", ["customers", id, "payment_sources"]) => match state.customer_mut(id) {
            Some(customer) => {
                let source = source_from(body, id, n);
                customer["payment_sources"]["data"]
                    .as_array_mut()
                    .unwrap()
                    .push(source.clone());
                (200, source)
            }
            None => not_found(),
        },
        ("GET", ["customers", id]) => match state.customer_mut(id) {
            Some(customer) => (200, customer.clone()),
            None => not_found(),
        },
        ("PUT", ["customers", id]) => match state.customer_mut(id) {
            Some(customer) => {
                if let Some(default) = body.get("default_payment_source_id") {
                    customer["default_payment_source_id"] = default.clone();
                }
                (200, customer.clone())
            }
            None => not_found(),
        },
        _ => not_found(),
    }
}

/// `metadata` exactly as sent; Conekta shows an empty object when none was.
fn metadata_of(request: &Value) -> Value {
    match &request["metadata"] {
        Value::Null => json!({}),
        metadata => metadata.clone(),
    }
}

fn charges_mut(order: &mut Value) -> impl Iterator<Item = &mut Value> {
    order["charges"]["data"]
        .as_array_mut()
        .into_iter()
        .flatten()
}

fn is_paid(charge: &Value) -> bool {
    PAID_STATUSES.iter().any(|s| charge["status"] == *s)
}

/// What the order's paid charges brought in.
fn paid_amount(order: &Value) -> i64 {
    order["charges"]["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| is_paid(c))
        .map(|c| c["amount"].as_i64().unwrap_or(0))
        .sum()
}

/// A refund as Conekta keeps it: on the first paid charge, as a negative amount. Asking for
/// more than was paid and not yet refunded is refused (and pagos must never ask).
fn refund(order: &mut Value, request: &Value, now: i64) -> Result<(), String> {
    let amount = request["amount"].as_i64().unwrap_or(0);
    let refunded = order["amount_refunded"].as_i64().unwrap_or(0);
    let refundable = paid_amount(order) - refunded;
    if amount < 1 || amount > refundable {
        return Err(format!(
            "refund of {amount} on {}: {refundable} is paid and not refunded",
            order["id"]
        ));
    }
    let charge = charges_mut(order)
        .find(|c| is_paid(c))
        .expect("something refundable was paid");
    let refunds = charge["refunds"]["data"]
        .as_array_mut()
        .expect("charges carry a refunds list");
    refunds.push(json!({
        "id": object_id(), "object": "refund", "amount": -amount, "created_at": now,
        "status": "completed"
    }));
    let charge_refunded: i64 = refunds
        .iter()
        .map(|r| -r["amount"].as_i64().unwrap_or(0))
        .sum();
    charge["status"] = json!(
        if charge_refunded >= charge["amount"].as_i64().unwrap_or(0) {
            "refunded"
        } else {
            "partially_refunded"
        }
    );
    let refunded = refunded + amount;
    order["amount_refunded"] = json!(refunded);
    order["payment_status"] = json!(if refunded >= paid_amount(order) {
        "refunded"
    } else {
        "partially_refunded"
    });
    order["updated_at"] = json!(now);
    Ok(())
}

/// Every refund on the order's charges, oldest first per charge.
pub(super) fn refunds_of(order: &Value) -> Vec<Value> {
    order["charges"]["data"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["refunds"]["data"].as_array().cloned().unwrap_or_default())
        .collect()
}

/// Conekta's empty refunds list, which every charge carries.
fn no_refunds() -> Value {
    json!({"object": "list", "has_more": false, "data": []})
}

/// The buyer paid the whole order by card: a paid charge joins the order.
/// The buyer pays the order by card: paid, or, for a `pre_authorize` order, held until captured.
pub(super) fn pay(order: &mut Value, charge_id: String, now: i64) {
    let status = if order["pre_authorize"] == true {
        "pre_authorized"
    } else {
        "paid"
    };
    let charge = json!({
        "id": charge_id, "object": "charge", "status": status, "amount": order["amount"],
        "currency": order["currency"], "order_id": order["id"], "created_at": now, "paid_at": now,
        "payment_method": {"object": "card_payment", "type": "credit", "brand": "visa", "last4": "4242"},
        "refunds": no_refunds()
    });
    if order["charges"]["data"].is_array() {
        order["charges"]["data"]
            .as_array_mut()
            .unwrap()
            .push(charge);
    } else {
        order["charges"] = json!({"object": "list", "has_more": false, "data": [charge]});
    }
    order["charges"]["total"] = json!(order["charges"]["data"].as_array().unwrap().len());
    order["payment_status"] = json!(status);
    order["updated_at"] = json!(now);
}

/// `POST /orders/{id}/capture`: takes a held card payment; anything else is Conekta's refusal.
pub(super) fn capture(order: &mut Value, body: &Value, now: i64) -> Result<(), String> {
    if order["payment_status"] != "pre_authorized" {
        return Err(format!(
            "capture: order {} is {}, not pre_authorized",
            order["id"], order["payment_status"]
        ));
    }
    let amount = body["amount"].as_i64().unwrap_or(0);
    if amount < 1 || amount > order["amount"].as_i64().unwrap_or(0) {
        return Err(format!(
            "capture: amount {amount} is not within what was held"
        ));
    }
    for charge in order["charges"]["data"]
        .as_array_mut()
        .into_iter()
        .flatten()
    {
        if charge["status"] == "pre_authorized" {
            charge["status"] = json!("paid");
            charge["amount"] = json!(amount);
        }
    }
    order["payment_status"] = json!("paid");
    order["updated_at"] = json!(now);
    Ok(())
}

/// A payment source as Conekta returns it: a card, or a reusable cash reference.
fn source_from(request: &Value, customer_id: &str, n: usize) -> Value {
    match request["type"].as_str().unwrap_or_default() {
        "card" => json!({
            "id": format!("src_fake{n}"), "object": "payment_source", "type": "card",
            "created_at": 1736431274, "last4": "4242", "bin": "424242", "exp_month": "12",
            "exp_year": "30", "brand": "visa", "name": "Felipe Gomez", "parent_id": customer_id,
            "default": false
        }),
        kind => {
            let number = format!("9300{n:016}");
            json!({
                "id": format!("off_ref_fake{n}"), "object": "payment_source", "type": kind,
                "provider": if kind == "oxxo_recurrent" { "Oxxo" } else { "Cash" },
                "reference": number, "barcode": number,
                "barcode_url": format!("https://barcodes.example/{number}.png"),
                "store_names": ["7 Eleven", "Farmacias del Ahorro", "Soriana"],
                "expires_at": request["expires_at"].as_i64().unwrap_or(0),
                "created_at": 1736431274, "parent_id": customer_id
            })
        }
    }
}

/// A real-shaped order (a HostedPayment checkout as in seed 004, or charges) built from the
/// order request at `now`.
fn order_from(request: &Value, n: usize, expired: bool, now: i64) -> Value {
    let amount = line_items_total(request);
    let slug = format!("{n:032x}");
    let order_id = format!("ord_fake{n}");
    let checkout = &request["checkout"];
    let charges: Vec<Value> = request["charges"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, charge)| {
            let kind = charge["payment_method"]["type"].as_str().unwrap_or("card");
            let (status, method) = match kind {
                "spei" => ("pending_payment", json!({"object": "bank_transfer_payment", "type": "spei",
                    "clabe": format!("6461801118{n:04}{i:04}"), "bank": "STP", "receiving_account_number": format!("6461801118{n:04}{i:04}")})),
                "cash" => ("pending_payment", json!({"object": "cash_payment", "type": "cash",
                    "reference": format!("9300{n:08}{i:04}"), "barcode_url": "https://barcodes.example/x.png"})),
                _ if request["pre_authorize"] == true => ("pre_authorized", json!({"object": "card_payment", "type": "credit", "brand": "visa", "last4": "4242"})),
                _ => ("paid", json!({"object": "card_payment", "type": "credit", "brand": "visa", "last4": "4242"})),
            };
            json!({"id": format!("ch_fake{n}_{i}"), "object": "charge", "status": status,
                   "amount": charge["amount"].as_i64().unwrap_or(amount), "currency": request["currency"],
                   "order_id": order_id, "created_at": now, "payment_method": method,
                   "refunds": no_refunds()})
        })
        .collect();
    let paid = charges.iter().filter(|c| c["status"] == "paid").count();
    let held = charges.iter().any(|c| c["status"] == "pre_authorized");
    let payment_status = match (charges.len(), paid) {
        (0, _) => Value::Null,
        _ if held => json!("pre_authorized"),
        (all, done) if all == done => json!("paid"),
        (_, 0) => json!("pending_payment"),
        _ => json!("partially_paid"),
    };
    let expires_at = if expired {
        now - 10
    } else {
        checkout["expires_at"].as_i64().unwrap_or(now + 259_200)
    };
    json!({
        "livemode": false,
        "amount": amount,
        "currency": request["currency"],
        "amount_refunded": 0,
        "customer_info": {
            "customer_id": request["customer_info"]["customer_id"],
            "email": request["customer_info"]["email"],
            "name": request["customer_info"]["name"],
            "phone": request["customer_info"]["phone"],
            "corporate": false,
            "object": "customer_info"
        },
        "channel": {
            "segment": "Checkout", "checkout_request_id": slug,
            "checkout_request_type": "HostedPayment", "id": format!("channel_fake{n}")
        },
        "charges": if charges.is_empty() { Value::Null } else {
            json!({"object": "list", "has_more": false, "total": charges.len(), "data": charges})
        },
        "checkout": if checkout.is_null() { Value::Null } else { json!({
            "id": slug, "name": format!("ord-fake{n}"), "livemode": false,
            "success_url": checkout["success_url"], "failure_url": checkout["failure_url"],
            "status": "Issued", "type": checkout["type"], "recurrent": false,
            "starts_at": now, "expires_at": expires_at,
            "allowed_payment_methods": checkout["allowed_payment_methods"],
            "object": "checkout", "slug": slug,
            "url": format!("https://pay.conekta.com/checkout/{slug}")
        })},
        "object": "order",
        "id": order_id,
        "metadata": metadata_of(request),
        // Not in Conekta's answers: the fake's own memory of how the order pays.
        "pre_authorize": request["pre_authorize"] == true,
        "monthly_installments_options": checkout["monthly_installments_options"],
        "is_refundable": false,
        "created_at": now,
        "updated_at": now,
        "line_items": {
            "object": "list", "has_more": false, "total": 1,
            "data": request["line_items"]
        },
        "payment_status": payment_status
    })
}
