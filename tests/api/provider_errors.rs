//! Conekta's answers keep their meaning: its 4xx with its details, 5xx/unreachable 502, slow 504.

use crate::fake_conekta::Reply;
use crate::helpers::{seed_create, spawn_app, spawn_app_with, Db};
use crate::on_both_stores;
use std::time::Instant;

on_both_stores!(conekta_4xx_keeps_status_and_details, |db: Db| async move {
    let app = spawn_app(db).await;
    for (i, (status, kind, code)) in [
        (
            401,
            "authentication_error",
            "conekta.errors.authentication.missing_key",
        ),
        (
            402,
            "processing_error",
            "conekta.errors.processing.charge.declined",
        ),
        (
            404,
            "resource_not_found_error",
            "conekta.errors.resource_not_found.entity",
        ),
        (
            422,
            "parameter_validation_error",
            "conekta.errors.parameter_validation.expires_at.out_of_range",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        app.conekta.reply_next(Reply::conekta_error(
            status,
            kind,
            code,
            "mensaje de Conekta",
        ));
        let answer = app.post_pagos(&seed_create(&format!("err-{i}"))).await;
        assert_eq!(answer.status, status, "{}", answer.text);
        assert_eq!(answer.content_type, "application/problem+json");
        let problem = answer.json();
        assert_eq!(problem["type"], "urn:pagos:problem:provider-rejected");
        assert_eq!(problem["status"], status);
        assert_eq!(problem["detail"], "mensaje de Conekta");
        assert_eq!(problem["provider_error"]["type"], kind);
        assert_eq!(problem["provider_error"]["details"][0]["code"], code);
    }
});

on_both_stores!(conekta_5xx_is_502, |db: Db| async move {
    let app = spawn_app(db).await;
    app.conekta.reply_next(Reply::conekta_error(
        500,
        "api_error",
        "conekta.errors.api.system.general_failure",
        "falla",
    ));
    let answer = app.post_pagos(&seed_create("five-1")).await;
    assert_eq!(answer.status, 502, "{}", answer.text);
    assert_eq!(
        answer.json()["type"],
        "urn:pagos:problem:provider-unavailable"
    );
});

#[actix_web::test]
async fn unreachable_conekta_is_502() {
    // A port that was free a moment ago: nothing listens there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let app = spawn_app_with(Db::Sqlite, |s| {
        s.conekta.api_url = format!("http://{closed}").parse().unwrap()
    })
    .await;
    let answer = app.post_pagos(&seed_create("down-1")).await;
    assert_eq!(answer.status, 502, "{}", answer.text);
    assert_eq!(
        answer.json()["type"],
        "urn:pagos:problem:provider-unavailable"
    );
}

on_both_stores!(slow_conekta_is_504_within_the_budget, |db: Db| async move {
    let app = spawn_app_with(db, |s| {
        s.conekta.timeout = std::time::Duration::from_millis(300)
    })
    .await;
    app.conekta.reply_next(Reply::after_ms(3_000, Reply::Order));
    let started = Instant::now();
    let answer = app.post_pagos(&seed_create("slow-1")).await;
    let elapsed = started.elapsed();
    assert_eq!(answer.status, 504, "{}", answer.text);
    assert_eq!(answer.json()["type"], "urn:pagos:problem:provider-timeout");
    assert!(
        elapsed.as_millis() < 2_000,
        "took {elapsed:?} for a 300 ms budget"
    );
});

#[actix_web::test]
async fn a_success_without_an_order_is_502() {
    let app = spawn_app(Db::Sqlite).await;
    app.conekta
        .reply_next(Reply::Status(200, serde_json::json!({"object": "order"})));
    let answer = app.post_pagos(&seed_create("noid-1")).await;
    assert_eq!(answer.status, 502, "{}", answer.text);
}

#[actix_web::test]
async fn an_echoed_key_is_redacted_whatever_its_characters() {
    // Keys are any visible ASCII: a quote or backslash is escaped in JSON text, so redacting in
    // the text missed it; redaction now works on the decoded values.
    let app = spawn_app(Db::Sqlite).await;
    for (i, secret) in [r#"key_"q"#, r"key_\x"].into_iter().enumerate() {
        app.conekta.reply_next(Reply::conekta_error(
            401,
            "authentication_error",
            "conekta.errors.authentication.missing_key",
            &format!("la llave {secret} no sirve"),
        ));
        let mut request = seed_create(&format!("echo-{i}"));
        request["secret"] = serde_json::json!(secret);
        let answer = app.post_pagos(&request).await;
        assert_eq!(answer.status, 401, "{secret}: {}", answer.text);
        let problem = answer.json();
        assert!(problem["provider_error"].is_object(), "{secret}: {problem}");
        assert_eq!(
            problem["provider_error"]["details"][0]["message"], "la llave [REDACTED] no sirve",
            "{secret}"
        );
        assert_eq!(problem["detail"], "la llave [REDACTED] no sirve");
        assert_eq!(problem["provider_error"]["type"], "authentication_error");
    }
}
