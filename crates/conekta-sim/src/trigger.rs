//! `POST /_sandbox/trigger` `{"event": "order.expired", "order_id": "ord_…"}`: changes the order
//! as Conekta would for that event (`world::transitions`) and sends the signed event to the
//! bridge, answering once the bridge accepted it: `{"event_id", "type", "order_id"}`. The
//! sandbox's own API, not Conekta's, so errors are `application/problem+json` (RFC 9457) like
//! the bridge's: 404 unknown order, 422 unknown event or missing field, 409 an event the order's
//! state rules out, 502 when the bridge did not take the event.

use crate::server::Simulator;
use crate::webhooks::{deliver, event};
use crate::world::state::now;
use crate::world::transitions::{apply, Trigger};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use serde_json::{json, Value};

/// An RFC 9457 problem, optionally naming the fields at fault.
pub fn problem(status: u16, title: &str, detail: &str, errors: Value) -> HttpResponse {
    let mut body = json!({
        "type": format!("urn:conekta-sim:problem:{}", title.to_ascii_lowercase().replace(' ', "-")),
        "title": title,
        "status": status,
        "detail": detail,
    });
    if errors.is_array() {
        body["errors"] = errors;
    }
    HttpResponse::build(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST))
        .content_type("application/problem+json")
        .body(body.to_string())
}

/// The request, read: the event and the order, or the problem answer.
fn read(body: &[u8]) -> Result<(Trigger, String), Box<HttpResponse>> {
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if !value.is_object() {
        return Err(Box::new(problem(
            400,
            "Bad request",
            "the body must be a JSON object",
            Value::Null,
        )));
    }
    let mut errors = Vec::new();
    let trigger = match value["event"].as_str() {
        Some(name) => Trigger::parse(name).or_else(|| {
            errors.push(json!({"field": "event", "message": format!(
                "unsupported event {name:?}; supported: {}", Trigger::names())}));
            None
        }),
        None => {
            errors.push(json!({"field": "event", "message": format!(
                "is required, one of: {}", Trigger::names())}));
            None
        }
    };
    let order_id = match value["order_id"].as_str() {
        Some(id) if !id.trim().is_empty() => Some(id.trim().to_owned()),
        _ => {
            errors.push(
                json!({"field": "order_id", "message": "is required: the order's id (ord_…)"}),
            );
            None
        }
    };
    match (trigger, order_id) {
        (Some(trigger), Some(order_id)) if errors.is_empty() => Ok((trigger, order_id)),
        _ => Err(Box::new(problem(
            422,
            "Invalid request",
            "the request has invalid fields",
            Value::Array(errors),
        ))),
    }
}

pub async fn trigger(body: web::Bytes, simulator: web::Data<Simulator>) -> HttpResponse {
    let (trigger, order_id) = match read(&body) {
        Ok(request) => request,
        Err(answer) => return *answer,
    };
    let bridge = simulator.webhook_url().unwrap_or_default();
    let changed = {
        let mut world = simulator.world();
        let Some(order) = world.orders.get_mut(&order_id) else {
            return problem(
                404,
                "Not found",
                &format!(
                    "no order {order_id:?} in this simulator (it forgets its orders on restart)"
                ),
                Value::Null,
            );
        };
        apply(order, trigger, now())
    };
    let object = match changed {
        Ok(object) => object,
        Err(impossible) => {
            return problem(
                409,
                "Conflict",
                &format!(
                    "{} is impossible for an order whose payment_status is {}: {}",
                    trigger.name(),
                    impossible.status,
                    impossible.reason
                ),
                Value::Null,
            )
        }
    };
    let event = event(trigger.name(), &object, &bridge);
    let event_id = event["id"].as_str().unwrap_or("").to_owned();
    tracing::info!(event_type = trigger.name(), %order_id, %event_id, "sandbox: event triggered");
    if let Err(reason) = deliver(&simulator, &event).await {
        return problem(
            502,
            "Bad gateway",
            &format!(
                "the order changed but the bridge did not accept {} ({event_id}): {reason}",
                trigger.name()
            ),
            Value::Null,
        );
    }
    HttpResponse::Ok().json(json!({
        "event_id": event_id,
        "type": trigger.name(),
        "order_id": order_id,
    }))
}
