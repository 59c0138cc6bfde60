//! Conekta's REST API, the subset a checkout bridge uses: orders (HostedPayment checkouts, direct
//! and split charges), GET, lists, cancel, refunds and capture; customers and their payment
//! sources (cards, recurrent cash references); `POST /payment_test`; webhook endpoints and keys. Each answers in Conekta's
//! shapes and sends the events Conekta would. Nothing here renders HTML or imports `pages`.

mod customers;
mod listing;
mod order_changes;
mod orders;
mod payment_test;
mod webhook_setup;

use crate::errors::{ConektaError, Detail};
use crate::validation::authorize;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/orders", web::get().to(listing::list_orders))
        .route("/orders", web::post().to(orders::create_order))
        .route("/orders/{id}", web::get().to(orders::get_order))
        .route(
            "/orders/{id}/cancel",
            web::post().to(order_changes::cancel_order),
        )
        .route(
            "/orders/{id}/refunds",
            web::post().to(order_changes::refund_order),
        )
        .route(
            "/orders/{id}/capture",
            web::post().to(order_changes::capture_order),
        )
        .route("/customers", web::get().to(listing::list_customers))
        .route("/customers", web::post().to(customers::create_customer))
        .route("/customers/{id}", web::get().to(customers::get_customer))
        .route(
            "/customers/{id}/payment_sources",
            web::post().to(customers::add_payment_source),
        )
        .route("/payment_test", web::post().to(payment_test::payment_test))
        .route("/webhooks", web::post().to(webhook_setup::create_webhook))
        .route(
            "/webhook_keys",
            web::post().to(webhook_setup::create_webhook_key),
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

/// `GET /{orders,customers}/{id}`: the object found, or Conekta's 404.
pub fn one(request: &HttpRequest, found: Option<Value>, what: &str, id: &str) -> HttpResponse {
    if let Err(error) = authorize(request) {
        return error.response();
    }
    match found {
        Some(object) => ok(&object),
        None => ConektaError::not_found(what, id).response(),
    }
}

/// The request's JSON object, once its key and API version pass and `check` finds nothing wrong.
pub fn checked_body(
    request: &HttpRequest,
    body: &[u8],
    check: impl FnOnce(&Value) -> Result<(), ConektaError>,
) -> Result<Value, ConektaError> {
    authorize(request)?;
    let value = json_object(body)?;
    check(&value)?;
    Ok(value)
}

/// The request's JSON object, or Conekta's `malformed_request_error`.
pub fn json_object(body: &[u8]) -> Result<Value, ConektaError> {
    match serde_json::from_slice::<Value>(body) {
        Ok(value) if value.is_object() => Ok(value),
        Ok(_) if body.iter().all(u8::is_ascii_whitespace) => Ok(json!({})),
        _ => Err(ConektaError::malformed()),
    }
}
