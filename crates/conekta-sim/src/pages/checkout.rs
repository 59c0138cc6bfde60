//! The hosted checkout's flow: show the page, simulate the cash or SPEI payment (a card is
//! `card_payment`'s), then send the webhooks Conekta would and redirect the buyer to the
//! order's success or failure URL.

use super::checkout_page;
use super::html::{html, page};
use crate::server::Simulator;
use crate::webhooks::{event, order_status_event, send_in_order};
use crate::world::orders;
use crate::world::state::now;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

pub(super) fn order_for(simulator: &Simulator, slug: &str) -> Option<Value> {
    let world = simulator.world();
    world
        .slugs
        .get(slug)
        .and_then(|id| world.orders.get(id))
        .cloned()
}

pub(super) fn missing() -> HttpResponse {
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
        Some(order) => html(
            StatusCode::OK,
            checkout_page::render(&order, &simulator.shop_name, None),
        ),
        None => missing(),
    }
}

/// Whether the order can still be paid with `method`; otherwise the page explaining why.
pub(super) fn payable(order: &Value, shop: &str, method: &str) -> Result<(), Box<HttpResponse>> {
    let open = matches!(
        order["payment_status"].as_str(),
        Some("pending_payment" | "declined") | None
    ) && order["checkout"]["expires_at"].as_i64().unwrap_or(i64::MAX) >= now();
    if !open {
        return Err(Box::new(html(
            StatusCode::CONFLICT,
            checkout_page::render(order, shop, None),
        )));
    }
    let offered = order["checkout"]["allowed_payment_methods"]
        .as_array()
        .is_some_and(|methods| methods.iter().any(|m| m == method));
    if offered {
        Ok(())
    } else {
        Err(Box::new(html(
            StatusCode::UNPROCESSABLE_ENTITY,
            checkout_page::render(
                order,
                shop,
                Some("Este método de pago no está disponible para esta orden."),
            ),
        )))
    }
}

pub async fn pay_cash(slug: web::Path<String>, simulator: web::Data<Simulator>) -> HttpResponse {
    pay_offline(&simulator, &slug, "cash")
}

pub async fn pay_transfer(
    slug: web::Path<String>,
    simulator: web::Data<Simulator>,
) -> HttpResponse {
    pay_offline(&simulator, &slug, "bank_transfer")
}

/// The buyer pays the checkout's cash reference at a shop, or its CLABE by SPEI: paid at once
/// (the sandbox's shortcut for what would take minutes or days).
fn pay_offline(simulator: &web::Data<Simulator>, slug: &str, kind: &str) -> HttpResponse {
    let Some(order) = order_for(simulator, slug) else {
        return missing();
    };
    if let Err(page) = payable(&order, &simulator.shop_name, kind) {
        return *page;
    }
    let expires_at = order["checkout"]["expires_at"].as_i64().unwrap_or(0);
    let method = if kind == "cash" {
        orders::cash_method(&orders::cash_reference(slug), expires_at, &simulator.url)
    } else {
        orders::spei_method(&orders::clabe(slug), expires_at)
    };
    let amount = order["amount"].as_i64().unwrap_or(0);
    let charge = orders::charge(&order, amount, method, "paid", now());
    finish(simulator, slug, charge, &["charge.created", "charge.paid"])
}

/// Records the attempt, sends its events in Conekta's order, and redirects the buyer: to the
/// success URL once paid or held (pre-authorized), to the failure URL otherwise.
pub(super) fn finish(
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
    let paid = matches!(
        order["payment_status"].as_str(),
        Some("paid" | "pre_authorized")
    );
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
