//! Counts and times every request by route pattern (never the raw path: ids stay out of labels),
//! by the storefront that made it (its configured name; empty in single-storefront mode) and, on
//! `/pagos`, by action (a known action or `unknown`; empty elsewhere).

use super::caller_auth::CallerName;
use crate::metrics::Metrics;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, HttpMessage};
use std::time::Instant;

/// The `/pagos` action a request asked for, as its handler read it.
#[derive(Clone, Copy)]
pub struct RequestAction(pub &'static str);

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
        let extensions = response.request().extensions();
        let storefront = extensions
            .get::<CallerName>()
            .map(|name| name.0.clone())
            .unwrap_or_default();
        let action = extensions
            .get::<RequestAction>()
            .map_or("", |action| action.0);
        metrics
            .http_requests
            .with_label_values(&[
                &route,
                &method,
                response.status().as_str(),
                &storefront,
                action,
            ])
            .observe(started.elapsed().as_secs_f64());
    }
    Ok(response)
}
