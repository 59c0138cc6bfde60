use crate::helpers::{spawn_app, Db};
use crate::on_both_stores;

on_both_stores!(health_and_readiness, |db: Db| async move {
    let app = spawn_app(db).await;
    let health = app.get("/healthz").await;
    assert_eq!(
        (health.status, health.json()["status"].clone()),
        (200, "ok".into())
    );
    let ready = app.get("/readyz").await;
    assert_eq!(
        (ready.status, ready.json()["status"].clone()),
        (200, "ready".into())
    );

    app.app_store.close().await;
    let not_ready = app.get("/readyz").await;
    assert_eq!(not_ready.status, 503);
    assert_eq!(
        not_ready.json()["type"],
        "urn:pagos:problem:store-unavailable"
    );
    // Liveness does not depend on the store.
    assert_eq!(app.get("/healthz").await.status, 200);
});

#[actix_web::test]
async fn serves_its_openapi_document() {
    let app = spawn_app(Db::Sqlite).await;
    let answer = app.get("/openapi.yaml").await;
    assert_eq!(answer.status, 200);
    assert!(answer.content_type.starts_with("application/yaml"));
    assert_eq!(answer.text, include_str!("../../openapi.yaml"));
}

#[actix_web::test]
async fn unknown_paths_are_problem_404() {
    let app = spawn_app(Db::Sqlite).await;
    let answer = app.get("/nope").await;
    assert_eq!(answer.status, 404);
    assert_eq!(answer.content_type, "application/problem+json");
}

#[actix_web::test]
async fn other_methods_are_problem_405_with_allow() {
    let app = spawn_app(Db::Sqlite).await;
    let http = reqwest::Client::new();
    for (method, path, allow) in [
        ("TRACE", "/healthz", "GET, HEAD"),
        ("POST", "/readyz", "GET, HEAD"),
        ("DELETE", "/openapi.yaml", "GET, HEAD"),
        ("PUT", "/metrics", "GET, HEAD"),
        ("GET", "/pagos", "POST"),
        ("PATCH", "/webhooks/conekta", "POST"),
        ("DELETE", "/admin/deliveries", "GET, HEAD"),
        ("GET", "/admin/deliveries/msg_x/retry", "POST"),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = http
            .request(method.clone(), format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{method} {path}");
        assert_eq!(response.headers()["allow"], allow, "{method} {path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let problem: serde_json::Value = response.json().await.unwrap();
        assert_eq!(problem["type"], "urn:pagos:problem:method-not-allowed");
        assert_eq!(problem["status"], 405);

        let options = http
            .request(reqwest::Method::OPTIONS, format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(options.status(), 204, "OPTIONS {path}");
        assert_eq!(options.headers()["allow"], allow, "OPTIONS {path}");
    }
    let head = http
        .head(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
}
