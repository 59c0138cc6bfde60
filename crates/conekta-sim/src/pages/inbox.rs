//! The built-in inbox: a `notification_url` on the simulator, so the demo needs no storefront.
//! It verifies each notification's Standard Webhooks signature with the signing secret it was
//! given (`Options::signing_secret`), as a storefront would, keeps the genuine ones, and shows
//! them on a page.

use super::html::{escape, html, page};
use crate::server::Simulator;
use crate::world::money::pesos;
use crate::world::state::{now, InboxEntry};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

/// Checks the Standard Webhooks headers with the official library, as a storefront would.
fn verify(
    verifier: Option<&standardwebhooks::Webhook>,
    request: &HttpRequest,
    body: &[u8],
) -> Result<(), String> {
    let verifier = verifier.ok_or("the simulator has no signing secret to verify with")?;
    let mut headers = http::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        if let Some(value) = request.headers().get(name) {
            let value = http::HeaderValue::from_bytes(value.as_bytes())
                .map_err(|_| format!("the {name} header is not valid"))?;
            headers.insert(name, value);
        }
    }
    verifier
        .verify(body, &headers)
        .map_err(|error| format!("the notification does not verify: {error}"))
}

pub async fn receive(
    request: HttpRequest,
    body: web::Bytes,
    simulator: web::Data<Simulator>,
) -> HttpResponse {
    if let Err(reason) = verify(simulator.inbox_verifier(), &request, &body) {
        simulator.world().inbox_refused += 1;
        tracing::warn!(%reason, "sandbox inbox: notification refused");
        return HttpResponse::Unauthorized().json(json!({"received": false, "reason": reason}));
    }
    let id = request
        .headers()
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut world = simulator.world();
    // At-least-once delivery: a repeated webhook-id is the same notification.
    if !world.inbox.iter().any(|e| e.webhook_id == id) {
        world.inbox.push(InboxEntry {
            webhook_id: id,
            received_at: now(),
            body: parsed,
        });
    }
    HttpResponse::NoContent().finish()
}

pub async fn list(simulator: web::Data<Simulator>) -> HttpResponse {
    let world = simulator.world();
    let entries: Vec<Value> = world
        .inbox
        .iter()
        .rev()
        .map(|e| json!({"webhook_id": e.webhook_id, "received_at": e.received_at, "verified": true, "body": e.body}))
        .collect();
    HttpResponse::Ok().json(json!({"notifications": entries, "refused": world.inbox_refused}))
}

pub async fn show(simulator: web::Data<Simulator>) -> HttpResponse {
    let (rows, refused) = {
        let world = simulator.world();
        let rows: String = world
            .inbox
            .iter()
            .rev()
            .map(|e| {
                let b = &e.body;
                format!(
                    "<tr class=\"notification\"><td>{}</td><td><strong>{}</strong></td><td>{}</td><td>{}</td><td>{}</td><td>✔ firma válida</td></tr>\
<tr><td colspan=\"6\"><details><summary>{}</summary><pre>{}</pre></details></td></tr>",
                    e.received_at,
                    escape(b["type"].as_str().unwrap_or("")),
                    escape(b["reference_id"].as_str().unwrap_or("")),
                    escape(b["payment_status"].as_str().unwrap_or("")),
                    b["amount_cents"].as_i64().map(pesos).unwrap_or_default(),
                    escape(&e.webhook_id),
                    escape(&serde_json::to_string_pretty(b).unwrap_or_default())
                )
            })
            .collect();
        (rows, world.inbox_refused)
    };
    let body = format!(
        "<h1>Buzón de notificaciones</h1>\
<p>Lo que se recibió en <code>{url}/inbox/notify</code>, verificado con el secreto de firma (Standard Webhooks). \
Rechazadas por firma inválida: {refused}. <a href=\"/inbox\">Actualizar</a></p>\
<table id=\"inbox\"><tr><th>Recibida</th><th>Tipo</th><th>reference_id</th><th>Estado</th><th>Monto</th><th>Firma</th></tr>{rows}</table>",
        url = escape(&simulator.url)
    );
    html(StatusCode::OK, page("Buzón", &body))
}
