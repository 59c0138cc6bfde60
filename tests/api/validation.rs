//! Bad requests get a clear answer naming each field, and never reach Conekta.

use crate::helpers::{seed_create, spawn_app, Db, TestApp};
use serde_json::{json, Value};

async fn assert_refused(app: &TestApp, request: &Value, fields: &[&str]) {
    let answer = app.post_pagos(request).await;
    assert_eq!(answer.status, 422, "{request}: {}", answer.text);
    assert_eq!(answer.content_type, "application/problem+json");
    let problem = answer.json();
    assert_eq!(problem["type"], "urn:pagos:problem:invalid-fields");
    assert_eq!(problem["status"], 422);
    assert_eq!(answer.error_fields(), fields, "{request}: {}", answer.text);
}

fn with(field: &str, value: Value) -> Value {
    let mut request = seed_create("validation-1");
    request[field] = value;
    request
}

#[actix_web::test]
async fn bad_amounts_say_why() {
    let app = spawn_app(Db::Sqlite).await;
    for (amount, reason) in [
        (json!(0), "greater than zero"),
        (json!(-10), "greater than zero"),
        (json!("-10.50"), "greater than zero"),
        (json!(19.999), "two decimals"),
        (json!("1.001"), "two decimals"),
        (json!("abc"), "numeric string"),
        (json!(true), "numeric string"),
        (json!({"pesos": 10}), "numeric string"),
        (json!(21474836.48), "at most 21474836.47"),
        (json!("99999999999"), "at most 21474836.47"),
    ] {
        let answer = app.post_pagos(&with("amount", amount.clone())).await;
        assert_eq!(answer.status, 422, "{amount}");
        assert_eq!(answer.error_fields(), ["amount"], "{amount}");
        let message = answer.json()["errors"][0]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.contains(reason), "{amount}: {message}");
    }
    assert!(app.conekta.received().is_empty());
}

#[actix_web::test]
async fn every_bad_field_is_reported_at_once() {
    let app = spawn_app(Db::Sqlite).await;
    let request = json!({
        "provider": "conekta", "action": "create",
        "amount": "12.345", "reference_id": "", "return_url": "template.pow.la",
        "notification_url": "ftp://shop.example", "secret": "",
        "first_name": 7, "email": "not-an-email",
        "phone": "12", "currency": "pesos", "description": "ab",
        "expires_at": 5, "allowed_payment_methods": ["bitcoin"],
        "success_url": "javascript:alert(1)", "failure_url": 3
    });
    assert_refused(
        &app,
        &request,
        &[
            "secret",
            "amount",
            "reference_id",
            "return_url",
            "notification_url",
            "first_name",
            "last_name",
            "email",
            "phone",
            "currency",
            "description",
            "expires_at",
            "allowed_payment_methods",
            "success_url",
            "failure_url",
        ],
    )
    .await;
    assert!(app.conekta.received().is_empty());
}

#[actix_web::test]
async fn missing_required_fields_are_named() {
    let app = spawn_app(Db::Sqlite).await;
    assert_refused(
        &app,
        &json!({"provider": "conekta", "action": "create"}),
        &[
            "secret",
            "amount",
            "reference_id",
            "return_url",
            "notification_url",
            "first_name",
            "last_name",
            "email",
        ],
    )
    .await;
    // null counts as missing.
    assert_refused(&app, &with("email", Value::Null), &["email"]).await;
    assert!(app.conekta.received().is_empty());
}

#[actix_web::test]
async fn unknown_provider_or_action_lists_what_is_supported() {
    let app = spawn_app(Db::Sqlite).await;

    let answer = app.post_pagos(&with("provider", json!("paypal"))).await;
    assert_eq!(answer.status, 422);
    assert_eq!(answer.error_fields(), ["provider"]);
    assert!(
        answer.text.contains("supported: conekta"),
        "{}",
        answer.text
    );

    let answer = app.post_pagos(&with("action", json!("teleport"))).await;
    assert_eq!(answer.status, 422);
    assert_eq!(answer.error_fields(), ["action"]);
    assert!(answer.text.contains("supported: create"), "{}", answer.text);

    let answer = app.post_pagos(&json!({"amount": 10})).await;
    assert_eq!(answer.status, 422);
    assert_eq!(answer.error_fields(), ["provider", "action"]);

    assert!(app.conekta.received().is_empty());
}

#[actix_web::test]
async fn bodies_that_are_not_json_objects_are_400() {
    let app = spawn_app(Db::Sqlite).await;
    for body in [
        "",
        "not json",
        "{\"provider\":",
        "[1,2]",
        "\"create\"",
        "42",
        "null",
    ] {
        let answer = app.post_raw(body.to_owned()).await;
        assert_eq!(answer.status, 400, "{body:?}: {}", answer.text);
        assert_eq!(answer.content_type, "application/problem+json");
        assert_eq!(answer.json()["type"], "urn:pagos:problem:malformed-body");
    }
    assert!(app.conekta.received().is_empty());
}

#[actix_web::test]
async fn oversized_bodies_are_413() {
    let app = spawn_app(Db::Sqlite).await;
    let mut request = seed_create("big-1");
    request["description"] = json!("x".repeat(70 * 1024));
    let answer = app.post_pagos(&request).await;
    assert_eq!(answer.status, 413);
    assert_eq!(answer.json()["type"], "urn:pagos:problem:body-too-large");
    assert!(app.conekta.received().is_empty());
}

#[actix_web::test]
async fn number_literals_are_read_exactly_from_the_wire() {
    let app = spawn_app(Db::Sqlite).await;
    for (i, (literal, centavos)) in [("0.1", 10), ("1.5e2", 15000), ("19.990", 1999), ("0.07", 7)]
        .iter()
        .enumerate()
    {
        let mut request = seed_create(&format!("literal-{i}"));
        request["amount"] = json!("PLACEHOLDER");
        let raw = request.to_string().replace("\"PLACEHOLDER\"", literal);
        let answer = app.post_raw(raw).await;
        assert_eq!(answer.status, 200, "{literal}: {}", answer.text);
        let sent = app.conekta.orders_received().pop().unwrap();
        assert_eq!(
            sent.body["line_items"][0]["unit_price"],
            json!(centavos),
            "{literal}"
        );
    }
}

#[actix_web::test]
async fn currency_must_be_three_capital_letters() {
    let app = spawn_app(Db::Sqlite).await;
    for currency in ["mxn", "Mxn", " MXN", "MXN ", "MX", "MXNN", "M1N"] {
        let answer = app.post_pagos(&with("currency", json!(currency))).await;
        assert_eq!(answer.status, 422, "{currency}: {}", answer.text);
        assert_eq!(answer.error_fields(), ["currency"], "{currency}");
        assert_eq!(
            answer.json()["errors"][0]["message"],
            "must be a three-letter ISO 4217 code in capitals such as MXN"
        );
    }
    assert!(app.conekta.received().is_empty());
}

#[actix_web::test]
async fn ids_emails_and_urls_are_taken_exactly_as_sent() {
    // The spec's patterns and formats refuse surrounding spaces, and so does pagos.
    let app = spawn_app(Db::Sqlite).await;
    for (field, value) in [
        ("email", " andres@example.com "),
        ("notification_url", " https://shop.example/pagos/notify"),
        ("return_url", "http://template.pow.la "),
    ] {
        let answer = app.post_pagos(&with(field, json!(value))).await;
        assert_eq!(answer.status, 422, "{field}: {}", answer.text);
        assert_eq!(answer.error_fields(), [field], "{field}");
    }
    let status = json!({
        "provider": "conekta", "action": "status", "secret": "key_xxjg4bsD9nohnMjwaTGytA",
        "order_id": " ord_2xKr5cF8aH2jL4nP6 "
    });
    assert_refused(&app, &status, &["order_id"]).await;
    assert!(app.conekta.received().is_empty());
}
