//! `POST /customers`, `GET /customers/{id}` and `POST /customers/{id}/payment_sources`: saved
//! cards and recurrent cash references (`cash_recurrent`, `oxxo_recurrent`).

use super::{checked_body, ok, one};
use crate::errors::{ConektaError, Detail};
use crate::server::Simulator;
use crate::validation;
use crate::world::cards::{self, CardOutcome};
use crate::world::state::{conekta_id, digits, now, ReferenceOwner};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

pub async fn create_customer(
    request: HttpRequest,
    body: web::Bytes,
    simulator: web::Data<Simulator>,
) -> HttpResponse {
    let customer_request = match checked_body(&request, &body, validation::customer_request) {
        Ok(value) => value,
        Err(error) => return error.response(),
    };
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

pub async fn get_customer(
    request: HttpRequest,
    id: web::Path<String>,
    simulator: web::Data<Simulator>,
) -> HttpResponse {
    let found = simulator.world().customers.get(id.as_str()).cloned();
    one(&request, found, "customer", &id)
}

pub async fn add_payment_source(
    request: HttpRequest,
    id: web::Path<String>,
    body: web::Bytes,
    simulator: web::Data<Simulator>,
) -> HttpResponse {
    let source_request = match checked_body(&request, &body, validation::payment_source_request) {
        Ok(value) => value,
        Err(error) => return error.response(),
    };
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
