//! The built-in inbox: a `notification_url` on the simulator, so the demo needs no storefront.
//! It verifies each notification's Standard Webhooks signature with the relay's signing secret
//! (as a storefront would), keeps the genuine ones, and shows them on a page.

use super::html::{escape, html, page, pesos};
use super::state::{now, InboxEntry};
use super::Simulator;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use serde_json::{json, Value};

/// How far a `webhook-timestamp` may be from now (the Standard Webhooks default).
const TOLERANCE_S: i64 = 5 * 60;

pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/inbox/notify", web::post().to(receive))
        .route("/inbox", web::get().to(show))
        .route("/inbox.json", web::get().to(list));
}

/// Checks `webhook-signature` (one or more `v1,<base64>`) over `{id}.{timestamp}.{body}`.
pub fn verify(
    key: &ring::hmac::Key,
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
) -> Result<(), &'static str> {
    if id.is_empty() {
        return Err("the webhook-id header is missing");
    }
    let ts: i64 = timestamp
        .parse()
        .map_err(|_| "the webhook-timestamp header is not a number")?;
    if (now() - ts).abs() > TOLERANCE_S {
        return Err("the webhook-timestamp is too far from now");
    }
    let mut message = Vec::with_capacity(id.len() + timestamp.len() + body.len() + 2);
    message.extend_from_slice(id.as_bytes());
    message.push(b'.');
    message.extend_from_slice(timestamp.as_bytes());
    message.push(b'.');
    message.extend_from_slice(body);
    let genuine = signatures.split_whitespace().any(|candidate| {
        candidate
            .strip_prefix("v1,")
            .and_then(|b64| BASE64.decode(b64).ok())
            .is_some_and(|raw| ring::hmac::verify(key, &message, &raw).is_ok())
    });
    if genuine {
        Ok(())
    } else {
        Err("the webhook-signature does not verify")
    }
}

async fn receive(
    request: HttpRequest,
    body: web::Bytes,
    simulator: web::Data<Simulator>,
) -> HttpResponse {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let id = header("webhook-id");
    if let Err(reason) = verify(
        simulator.inbox_key(),
        &id,
        &header("webhook-timestamp"),
        &header("webhook-signature"),
        &body,
    ) {
        simulator.world().inbox_refused += 1;
        tracing::warn!(reason, "sandbox inbox: notification refused");
        return HttpResponse::Unauthorized().json(json!({"received": false, "reason": reason}));
    }
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

async fn list(simulator: web::Data<Simulator>) -> HttpResponse {
    let world = simulator.world();
    let entries: Vec<Value> = world
        .inbox
        .iter()
        .rev()
        .map(|e| json!({"webhook_id": e.webhook_id, "received_at": e.received_at, "verified": true, "body": e.body}))
        .collect();
    HttpResponse::Ok().json(json!({"notifications": entries, "refused": world.inbox_refused}))
}

async fn show(simulator: web::Data<Simulator>) -> HttpResponse {
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
<p>Lo que pagos envió a <code>{url}/inbox/notify</code>, verificado con el secreto de firma del relay (Standard Webhooks). \
Rechazadas por firma inválida: {refused}. <a href=\"/inbox\">Actualizar</a></p>\
<table id=\"inbox\"><tr><th>Recibida</th><th>Tipo</th><th>reference_id</th><th>Estado</th><th>Monto</th><th>Firma</th></tr>{rows}</table>",
        url = escape(&simulator.url)
    );
    html(StatusCode::OK, page("Buzón", &body))
}
