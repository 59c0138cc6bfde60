//! One line per request for whoever reads the logs: method, path (never the query string, never
//! a body), status, duration and the request id (also the `x-request-id` tracing-actix-web
//! reads). Probes and scrapes come every few seconds: their lines are DEBUG, so INFO stays
//! readable.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use std::time::Instant;
use tracing_actix_web::RequestId;

const QUIET_PATHS: &[&str] = &["/healthz", "/readyz", "/metrics"];

pub async fn log(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = request.method().to_string();
    let path = request.path().to_owned();
    let request_id = request
        .extensions()
        .get::<RequestId>()
        .map(ToString::to_string)
        .unwrap_or_default();
    let answer = next.call(request).await;
    let status = match &answer {
        Ok(response) => response.status().as_u16(),
        Err(error) => error.as_response_error().status_code().as_u16(),
    };
    let duration_ms = format!("{:.1}", started.elapsed().as_secs_f64() * 1000.0);
    if QUIET_PATHS.contains(&path.as_str()) {
        tracing::debug!(%method, %path, status, %duration_ms, %request_id, "request");
    } else {
        tracing::info!(%method, %path, status, %duration_ms, %request_id, "request");
    }
    answer
}
