//! Caller authentication and the metrics operators scrape.

use crate::helpers::{seed_create, spawn_app, spawn_app_with, Db};
use serde_json::json;

#[actix_web::test]
async fn api_keys_guard_pagos_when_configured() {
    let app = spawn_app_with(Db::Sqlite, |s| {
        s.server.api_keys = Some("key-one, key-two".to_owned().into())
    })
    .await;
    let send = |token: Option<&'static str>| {
        let mut request = app
            .http
            .post(format!("{}/pagos", app.address))
            .json(&seed_create("auth-1"));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    let missing = send(None).await.unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(missing.headers()["www-authenticate"], "Bearer");
    assert_eq!(send(Some("key-three")).await.unwrap().status(), 401);
    assert!(
        app.conekta.received().is_empty(),
        "nothing reached Conekta unauthenticated"
    );
    assert_eq!(send(Some("key-two")).await.unwrap().status(), 200);
    assert_eq!(send(Some("key-one")).await.unwrap().status(), 200);
    // Health and webhooks are not behind the storefront keys.
    assert_eq!(app.get("/healthz").await.status, 200);
}

#[actix_web::test]
async fn without_api_keys_pagos_stays_open() {
    let app = spawn_app(Db::Sqlite).await;
    assert_eq!(app.post_pagos(&seed_create("open-1")).await.status, 200);
}

#[actix_web::test]
async fn metrics_count_requests_and_conekta_calls_without_secrets() {
    let app = spawn_app(Db::Sqlite).await;
    assert_eq!(app.post_pagos(&seed_create("metrics-1")).await.status, 200);
    let mut bad = seed_create("metrics-2");
    bad["amount"] = json!(0);
    assert_eq!(app.post_pagos(&bad).await.status, 422);
    let mut odd = seed_create("metrics-3");
    odd["action"] = json!("teleport");
    assert_eq!(app.post_pagos(&odd).await.status, 422);
    let metrics = app.get("/metrics").await;
    assert_eq!(metrics.status, 200);
    assert!(metrics.content_type.starts_with("text/plain"));
    let text = metrics.text;
    for needle in [
        "pagos_http_request_duration_seconds_count{action=\"create\",method=\"POST\",route=\"/pagos\",status=\"200\",storefront=\"\"} 1",
        "pagos_http_request_duration_seconds_count{action=\"create\",method=\"POST\",route=\"/pagos\",status=\"422\",storefront=\"\"} 1",
        // An action nobody knows is counted, under a bounded label, never under its own name.
        "pagos_http_request_duration_seconds_count{action=\"unknown\",method=\"POST\",route=\"/pagos\",status=\"422\",storefront=\"\"} 1",
        concat!("pagos_build_info{version=\"", env!("CARGO_PKG_VERSION"), "\"} 1"),
        "# TYPE process_resident_memory_bytes gauge",
        "# TYPE process_cpu_seconds_total counter",
        "process_open_fds ",
        "process_start_time_seconds ",
        "pagos_conekta_request_duration_seconds_count{endpoint=\"POST /orders\",outcome=\"ok\"} 1",
        "pagos_relay_queue_depth 0",
        "pagos_relay_oldest_pending_age_seconds 0",
    ] {
        assert!(text.contains(needle), "{needle} missing from:\n{text}");
    }
    assert!(!text.contains("key_xxjg4bsD9nohnMjwaTGytA"));
    assert!(!text.contains("metrics-1"), "no references in labels");
    assert!(
        !text.contains("teleport"),
        "no caller-chosen text in labels"
    );
}
