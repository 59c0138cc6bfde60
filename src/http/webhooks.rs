//! `POST /webhooks/{provider}`: the raw bytes and headers go to the provider, which proves them
//! genuine before anything parses them; the intake does the rest.

use super::body::read_limited;
use super::problem::Problem;
use crate::providers::intake::{Intake, WebhookAnswer};
use crate::providers::webhooks::WebhookRequest;
use crate::providers::ProviderRegistry;
use actix_web::{web, HttpRequest, HttpResponse};

/// Providers' events carry whole orders; a megabyte is far beyond any of them.
const MAX_WEBHOOK_BYTES: usize = 1024 * 1024;

pub async fn receive(
    request: HttpRequest,
    provider: web::Path<String>,
    payload: web::Payload,
    registry: web::Data<ProviderRegistry>,
    intake: web::Data<Intake>,
) -> Result<HttpResponse, Problem> {
    let Some(provider) = registry.get(&provider) else {
        return Err(Problem::not_found());
    };
    let body = read_limited(payload, MAX_WEBHOOK_BYTES).await?;
    // Headers that are not visible text cannot carry a signature; they are left out.
    let headers = request
        .headers()
        .iter()
        .filter_map(|(name, value)| {
            Some((name.as_str().to_owned(), value.to_str().ok()?.to_owned()))
        })
        .collect();
    let webhook = WebhookRequest {
        headers,
        body: &body,
    };
    Ok(match intake.receive(provider, &webhook).await {
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
