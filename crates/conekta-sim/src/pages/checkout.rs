//! The hosted checkout's flow: show the page, take a card (test cards decide), or simulate the
//! cash or SPEI payment; then send the webhooks Conekta would and redirect the buyer to the
//! order's success or failure URL.

use super::checkout_page;
use super::html::{html, page};
use crate::server::Simulator;
use crate::webhooks::{event, order_status_event, send_in_order};
use crate::world::cards::{self, CardOutcome};
use crate::world::orders;
use crate::world::state::now;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
pub struct CardForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    number: String,
    #[serde(default)]
    expiry: String,
    #[serde(default)]
    cvc: String,
}

fn order_for(simulator: &Simulator, slug: &str) -> Option<Value> {
    let world = simulator.world();
    world
        .slugs
        .get(slug)
        .and_then(|id| world.orders.get(id))
        .cloned()
}

fn missing() -> HttpResponse {
    html(
        StatusCode::NOT_FOUND,
        page(
            "No encontrado",
            "<h1>Enlace de pago no encontrado</h1><p>Este checkout no existe en el sandbox (el sandbox guarda todo en memoria: ¿se reinició?).</p>",
        ),
    )
}

pub async fn show(slug: web::Path<String>, simulator: web::Data<Simulator>) -> HttpResponse {
    match order_for(&simulator, &slug) {
        Some(order) => html(StatusCode::OK, checkout_page::render(&order, None)),
        None => missing(),
    }
}

/// Whether the order can still be paid; otherwise the page explaining why.
fn payable(order: &Value) -> Result<(), Box<HttpResponse>> {
    let open = matches!(
        order["payment_status"].as_str(),
        Some("pending_payment" | "declined") | None
    ) && order["checkout"]["expires_at"].as_i64().unwrap_or(i64::MAX) >= now();
    if open {
        Ok(())
    } else {
        Err(Box::new(html(
            StatusCode::CONFLICT,
            checkout_page::render(order, None),
        )))
    }
}

pub async fn pay_card(
    slug: web::Path<String>,
    form: web::Form<CardForm>,
    simulator: web::Data<Simulator>,
) -> HttpResponse {
    let Some(order) = order_for(&simulator, &slug) else {
        return missing();
    };
    if let Err(page) = payable(&order) {
        return *page;
    }
    let form = form.into_inner();
    let reject = |notice: &str| {
        html(
            StatusCode::UNPROCESSABLE_ENTITY,
            checkout_page::render(&order, Some(notice)),
        )
    };
    let Some((exp_month, exp_year)) = expiry(&form.expiry) else {
        return reject("La fecha de vencimiento no es válida (MM/AA).");
    };
    if form.name.trim().len() < 2 {
        return reject("Escriba el nombre del titular.");
    }
    if !(3..=4).contains(&form.cvc.trim().len())
        || !form.cvc.trim().chars().all(|c| c.is_ascii_digit())
    {
        return reject("El código de seguridad (CVC) no es válido.");
    }
    let amount = order["amount"].as_i64().unwrap_or(0);
    let now = now();
    let (charge, approved) = match cards::by_number(&form.number) {
        CardOutcome::Invalid(message) => return reject(message),
        CardOutcome::Approved { brand, last4 } => {
            let method =
                orders::card_method(brand, &last4, form.name.trim(), &exp_month, &exp_year);
            (orders::charge(&order, amount, method, "paid", now), true)
        }
        CardOutcome::Declined {
            brand,
            last4,
            code,
            message,
        } => {
            let method =
                orders::card_method(brand, &last4, form.name.trim(), &exp_month, &exp_year);
            let mut charge = orders::charge(&order, amount, method, "declined", now);
            charge["failure_code"] = json!(code);
            charge["failure_message"] = json!(message);
            (charge, false)
        }
    };
    let kinds: &[&str] = if approved {
        &["charge.created", "charge.paid"]
    } else {
        &["charge.created", "charge.declined"]
    };
    finish(&simulator, &slug, charge, kinds)
}

/// `MM/AA` or `MM/AAAA`, not in the past.
fn expiry(text: &str) -> Option<(String, String)> {
    let (month, year) = text.trim().split_once('/')?;
    let month: u32 = month.trim().parse().ok()?;
    let year: u32 = year.trim().parse().ok()?;
    let year = if year < 100 { 2000 + year } else { year };
    if !(1..=12).contains(&month) || year < 2000 {
        return None;
    }
    let current_year = 1970 + now() / 31_556_952;
    if i64::from(year) < current_year {
        return None;
    }
    Some((format!("{month:02}"), year.to_string()))
}

pub async fn pay_cash(slug: web::Path<String>, simulator: web::Data<Simulator>) -> HttpResponse {
    let Some(order) = order_for(&simulator, &slug) else {
        return missing();
    };
    if let Err(page) = payable(&order) {
        return *page;
    }
    let expires_at = order["checkout"]["expires_at"].as_i64().unwrap_or(0);
    let method = orders::cash_method(&orders::cash_reference(&slug), expires_at, &simulator.url);
    let charge = orders::charge(
        &order,
        order["amount"].as_i64().unwrap_or(0),
        method,
        "paid",
        now(),
    );
    finish(
        &simulator,
        &slug,
        charge,
        &["charge.created", "charge.paid"],
    )
}

pub async fn pay_transfer(
    slug: web::Path<String>,
    simulator: web::Data<Simulator>,
) -> HttpResponse {
    let Some(order) = order_for(&simulator, &slug) else {
        return missing();
    };
    if let Err(page) = payable(&order) {
        return *page;
    }
    let expires_at = order["checkout"]["expires_at"].as_i64().unwrap_or(0);
    let method = orders::spei_method(&orders::clabe(&slug), expires_at);
    let charge = orders::charge(
        &order,
        order["amount"].as_i64().unwrap_or(0),
        method,
        "paid",
        now(),
    );
    finish(
        &simulator,
        &slug,
        charge,
        &["charge.created", "charge.paid"],
    )
}

/// Records the attempt, sends its events in Conekta's order, and redirects the buyer.
fn finish(
    simulator: &web::Data<Simulator>,
    slug: &str,
    charge: Value,
    kinds: &[&str],
) -> HttpResponse {
    let bridge = simulator.webhook_url().unwrap_or_default();
    let now = now();
    let order = {
        let mut world = simulator.world();
        let Some(order) = world
            .slugs
            .get(slug)
            .cloned()
            .and_then(|id| world.orders.get_mut(&id))
        else {
            return missing();
        };
        // A new attempt replaces a declined one, as a hosted checkout lets the buyer retry.
        if let Some(list) = order
            .pointer_mut("/charges/data")
            .and_then(Value::as_array_mut)
        {
            list.retain(|c| c["status"] != "declined");
        }
        orders::add_charge(order, charge.clone());
        orders::settle(order, now);
        order.clone()
    };
    let mut events: Vec<Value> = kinds
        .iter()
        .map(|kind| {
            let mut snapshot = charge.clone();
            if *kind == "charge.created" {
                snapshot["status"] = json!("pending_payment");
                snapshot["paid_at"] = Value::Null;
            }
            event(kind, &snapshot, &bridge)
        })
        .collect();
    events.extend(order_status_event(&order, &bridge));
    let paid = order["payment_status"] == "paid";
    tracing::info!(order_id = %order["id"], payment_status = %order["payment_status"], "sandbox: checkout payment attempt");
    send_in_order(simulator.clone(), events);
    let target = if paid {
        &order["checkout"]["success_url"]
    } else {
        &order["checkout"]["failure_url"]
    };
    let mut location = url::Url::parse(target.as_str().unwrap_or(""))
        .unwrap_or_else(|_| url::Url::parse(&format!("{}/", simulator.url)).expect("valid"));
    location
        .query_pairs_mut()
        .append_pair(
            "checkout_id",
            order["checkout"]["id"].as_str().unwrap_or(""),
        )
        .append_pair("order_id", order["id"].as_str().unwrap_or(""))
        .append_pair(
            "payment_status",
            order["payment_status"].as_str().unwrap_or(""),
        );
    HttpResponse::SeeOther()
        .insert_header(("Location", location.as_str()))
        .finish()
}
