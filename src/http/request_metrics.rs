//! Counts and times every request by route pattern (never the raw path: ids stay out of labels)
//! and by the storefront that made it (its configured name; empty in single-storefront mode).

use super::caller_auth::CallerName;
use crate::metrics::Metrics;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};
use std::time::Instant;

pub async fn record(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let metrics = request.app_data::<web::Data<Metrics>>().cloned();
    let route = request
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().to_string();
    let response = next.call(request).await?;
    if let Some(metrics) = metrics {
        let storefront = response
            .request()
            .extensions()
            .get::<CallerName>()
            .map(|name| name.0.clone())
            .unwrap_or_default();
        metrics
            .http_requests
            .with_label_values(&[&route, &method, response.status().as_str(), &storefront])
            .observe(started.elapsed().as_secs_f64());
    }
    Ok(response)
}
