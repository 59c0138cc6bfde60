//! `POST /webhooks/conekta`: the raw bytes go to the verifier before anything parses them.

use super::body::read_limited;
use super::problem::Problem;
use crate::providers::conekta::inbound::Approver;
use crate::providers::conekta::intake::{ConektaWebhooks, WebhookAnswer};
use actix_web::{web, HttpRequest, HttpResponse};

/// Conekta's events carry whole orders; a megabyte is far beyond any of them.
const MAX_WEBHOOK_BYTES: usize = 1024 * 1024;

pub async fn conekta(
    request: HttpRequest,
    payload: web::Payload,
    webhooks: web::Data<ConektaWebhooks>,
    approver: web::Data<Approver>,
) -> Result<HttpResponse, Problem> {
    let body = read_limited(payload, MAX_WEBHOOK_BYTES).await?;
    let digest = request
        .headers()
        .get("digest")
        .and_then(|v| v.to_str().ok());
    Ok(match webhooks.receive(digest, &body, &approver).await {
        WebhookAnswer::Accepted(answer) | WebhookAnswer::Answered(answer) => {
            HttpResponse::Ok().json(answer)
        }
        WebhookAnswer::Unauthorized(reason) => Problem::new(
            401,
            "urn:pagos:problem:webhook-unauthorized",
            "Webhook not verified",
            reason,
        )
        .response(),
        WebhookAnswer::Unreadable(reason) => Problem::malformed_body(reason).response(),
        WebhookAnswer::StoreUnavailable => {
            Problem::store_unavailable("the event could not be stored; retry").response()
        }
    })
}
