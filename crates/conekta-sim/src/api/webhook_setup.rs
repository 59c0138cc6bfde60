//! Conekta's `POST /webhooks` and `POST /webhook_keys`: how a merchant registers where events go
//! and gets the public key they are signed with. The simulator signs with one key pair made at
//! start, so every webhook key it hands out is that key's public half.

use super::{checked_body, ok};
use crate::errors::{ConektaError, Detail};
use crate::server::Simulator;
use crate::world::state::{now, object_id};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

/// `POST /webhooks {url, subscribed_events?}`: Conekta's `webhook_response`.
pub async fn create_webhook(request: HttpRequest, body: web::Bytes) -> HttpResponse {
    let webhook = match checked_body(&request, &body, check_webhook) {
        Ok(value) => value,
        Err(error) => return error.response(),
    };
    ok(&json!({
        "id": object_id(),
        "object": "webhook",
        "url": webhook["url"],
        "subscribed_events": webhook.get("subscribed_events").cloned().unwrap_or(json!([])),
        "status": "listening",
        "active": true,
        "livemode": false,
        "description": webhook.get("description").cloned().unwrap_or(Value::Null),
    }))
}

/// `POST /webhook_keys {active?}`: Conekta's `webhook_key_create_response`.
pub async fn create_webhook_key(
    request: HttpRequest,
    body: web::Bytes,
    simulator: web::Data<Simulator>,
) -> HttpResponse {
    let key = match checked_body(&request, &body, check_webhook_key) {
        Ok(value) => value,
        Err(error) => return error.response(),
    };
    ok(&json!({
        "id": object_id(),
        "object": "webhook_key",
        "active": key.get("active").and_then(Value::as_bool).unwrap_or(true),
        "livemode": false,
        "created_at": now(),
        "public_key": simulator.signer.public_pem(),
    }))
}

/// The spec's `webhook_request`: `url` required, a string that names neither localhost nor
/// 127.0.0.1 (Conekta cannot reach them); `subscribed_events` an array of strings.
fn check_webhook(body: &Value) -> Result<(), ConektaError> {
    let mut details = Vec::new();
    match body.get("url") {
        None | Some(Value::Null) => {
            details.push(Detail::invalid("url", "missing", "The url is required."))
        }
        Some(Value::String(url)) if !url.starts_with("http://") && !url.starts_with("https://") => {
            details.push(Detail::invalid(
                "url",
                "invalid",
                "The url must be http(s).",
            ))
        }
        Some(Value::String(url)) if url.contains("localhost") || url.contains("127.0.0.1") => {
            details.push(Detail::invalid(
                "url",
                "invalid",
                "Conekta cannot send webhooks to localhost or 127.0.0.1.",
            ))
        }
        Some(Value::String(_)) => {}
        Some(_) => details.push(Detail::invalid(
            "url",
            "invalid",
            "The url must be a string.",
        )),
    }
    match body.get("subscribed_events") {
        None | Some(Value::Null) => {}
        Some(Value::Array(events)) if events.iter().all(Value::is_string) => {}
        Some(_) => details.push(Detail::invalid(
            "subscribed_events",
            "invalid",
            "subscribed_events must be an array of event names.",
        )),
    }
    if details.is_empty() {
        Ok(())
    } else {
        Err(ConektaError::validation(details))
    }
}

/// The spec's `webhook_key_request`: only an optional boolean `active`.
fn check_webhook_key(body: &Value) -> Result<(), ConektaError> {
    match body.get("active") {
        None | Some(Value::Null) | Some(Value::Bool(_)) => Ok(()),
        Some(_) => Err(ConektaError::validation(vec![Detail::invalid(
            "active",
            "invalid",
            "active must be a boolean.",
        )])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_needs_a_reachable_http_url() {
        assert!(check_webhook(&json!({"url": "https://pagos.example/webhooks/conekta"})).is_ok());
        for bad in [
            json!({}),
            json!({"url": 7}),
            json!({"url": "ftp://pagos.example"}),
            json!({"url": "http://localhost:8080/webhooks/conekta"}),
            json!({"url": "http://127.0.0.1/webhooks/conekta"}),
            json!({"url": "https://pagos.example", "subscribed_events": "order.paid"}),
        ] {
            assert!(check_webhook(&bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn a_webhook_key_takes_only_a_boolean_active() {
        assert!(check_webhook_key(&json!({})).is_ok());
        assert!(check_webhook_key(&json!({"active": false})).is_ok());
        assert!(check_webhook_key(&json!({"active": "yes"})).is_err());
    }
}
