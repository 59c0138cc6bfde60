//! Liveness, readiness and the served API description.

use super::problem::Problem;
use crate::store::Store;
use actix_web::{web, HttpResponse};
use std::time::Duration;

const READY_PROBE_BUDGET: Duration = Duration::from_secs(2);

/// The repository's `openapi.yaml`, built into the binary so the served copy always matches.
const OPENAPI_YAML: &str = include_str!("../../openapi.yaml");

pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "status": "ok" }))
}

pub async fn readyz(store: web::Data<Store>) -> HttpResponse {
    match tokio::time::timeout(READY_PROBE_BUDGET, store.ping()).await {
        Ok(Ok(())) => HttpResponse::Ok().json(serde_json::json!({ "status": "ready" })),
        Ok(Err(error)) => {
            tracing::warn!(%error, "store not answering");
            Problem::store_unavailable("the store does not answer").response()
        }
        Err(_) => Problem::store_unavailable("the store did not answer in time").response(),
    }
}

pub async fn openapi() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/yaml")
        .body(OPENAPI_YAML)
}

pub async fn not_found() -> HttpResponse {
    Problem::not_found().response()
}

/// Prometheus text format; the queue gauges are read from the store at scrape time.
pub async fn metrics(
    metrics: web::Data<crate::metrics::Metrics>,
    store: web::Data<Store>,
) -> HttpResponse {
    match store.queue_stats().await {
        Ok(stats) => metrics.set_queue(stats),
        Err(error) => tracing::warn!(%error, "queue figures unavailable"),
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(metrics.render())
}
