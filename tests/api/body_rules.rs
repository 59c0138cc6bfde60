//! The body of `POST /pagos` means one thing to whoever reads it: JSON by its `Content-Type`
//! (else 415), and each field named once (else 422). Neither kind of refusal reaches Conekta.

use crate::helpers::{seed_create, spawn_app, spawn_app_with, Db, TestApp};
use serde_json::json;

/// A valid create whose body text is `seed_create`'s with `from` replaced by `to`.
fn create_text(reference_id: &str, from: &str, to: &str) -> String {
    let text = seed_create(reference_id).to_string();
    assert!(text.contains(from), "{text}");
    text.replacen(from, to, 1)
}

async fn assert_unsupported(app: &TestApp, content_type: Option<&str>, body: String) {
    let answer = app.post_as(content_type, body).await;
    assert_eq!(answer.status, 415, "{content_type:?}: {}", answer.text);
    assert_eq!(answer.content_type, "application/problem+json");
    let problem = answer.json();
    assert_eq!(problem["type"], "urn:pagos:problem:unsupported-media-type");
    assert_eq!(problem["title"], "Unsupported media type");
    assert_eq!(problem["status"], 415);
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("application/json"), "{detail}");
    if let Some(content_type) = content_type {
        assert!(detail.contains(content_type), "{detail}");
    } else {
        assert!(detail.contains("no Content-Type"), "{detail}");
    }
}

#[actix_web::test]
async fn bodies_not_sent_as_json_are_415_and_never_reach_conekta() {
    let app = spawn_app(Db::Sqlite).await;
    let body = seed_create("ct-refused").to_string();
    assert_unsupported(&app, None, body.clone()).await;
    for content_type in [
        "text/plain",
        "text/plain; charset=utf-8",
        "text/json",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/json; charset=latin1",
        "application/json; charset=utf-16",
        "application/jsonx",
        "",
    ] {
        assert_unsupported(&app, Some(content_type), body.clone()).await;
    }
    assert!(app.conekta.received().is_empty());

    // The answer names what a POST here takes.
    let response = app
        .http
        .post(format!("{}/pagos", app.address))
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    assert_eq!(response.headers()["accept-post"], "application/json");
}

#[actix_web::test]
async fn json_types_with_a_utf_8_charset_or_none_pass() {
    let app = spawn_app(Db::Sqlite).await;
    for (i, content_type) in [
        "application/json",
        "application/json; charset=utf-8",
        "APPLICATION/JSON;Charset=\"UTF-8\"",
        "application/vnd.api+json",
        "application/json; profile=\"https://shop.example/pedido\"",
    ]
    .iter()
    .enumerate()
    {
        let body = seed_create(&format!("ct-ok-{i}")).to_string();
        let answer = app.post_as(Some(content_type), body).await;
        assert_eq!(answer.status, 200, "{content_type}: {}", answer.text);
    }
    assert_eq!(app.conekta.orders_received().len(), 5);
}

#[actix_web::test]
async fn the_content_type_is_checked_after_the_api_key_and_before_the_body() {
    let app = spawn_app_with(Db::Sqlite, |s| {
        s.server.api_keys = Some("key-one".to_owned().into())
    })
    .await;
    let answer = app.post_as(Some("text/plain"), "{}").await;
    assert_eq!(answer.status, 401, "{}", answer.text);

    // Neither too large nor malformed: never read at all.
    for body in ["x".repeat(70 * 1024), "not json".to_owned()] {
        let answer = app
            .http
            .post(format!("{}/pagos", app.address))
            .bearer_auth("key-one")
            .header("content-type", "text/plain")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 415);
    }
    assert!(app.conekta.received().is_empty());
}

#[actix_web::test]
async fn a_field_named_twice_is_422_naming_it() {
    let app = spawn_app(Db::Sqlite).await;
    for (i, (from, to)) in [
        ("\"amount\":1000", "\"amount\":1,\"amount\":100000"),
        ("\"amount\":1000", "\"amount\":1000,\"amount\":1000"),
        ("\"amount\":1000", "\"amount\":1,\"\\u0061mount\":100000"),
    ]
    .iter()
    .enumerate()
    {
        let body = create_text(&format!("dup-{i}"), from, to);
        let answer = app.post_raw(body.clone()).await;
        assert_eq!(answer.status, 422, "{body}: {}", answer.text);
        assert_eq!(answer.content_type, "application/problem+json");
        let problem = answer.json();
        assert_eq!(problem["type"], "urn:pagos:problem:invalid-fields");
        assert_eq!(answer.error_fields(), ["amount"], "{body}");
        assert_eq!(
            problem["errors"][0]["message"],
            "is given more than once; send each field once"
        );
    }

    // Inside an object the storefront passes on, too.
    let mut request = seed_create("dup-metadata");
    request["metadata"] = json!({"color": "rojo", "talla": "M"});
    let body = request
        .to_string()
        .replacen("\"talla\":\"M\"", "\"color\":\"azul\"", 1);
    let answer = app.post_raw(body).await;
    assert_eq!(answer.status, 422, "{}", answer.text);
    assert_eq!(answer.error_fields(), ["metadata.color"]);

    // Not JSON is still 400 first.
    let answer = app.post_raw("{\"amount\":1,\"amount\":2").await;
    assert_eq!(answer.status, 400, "{}", answer.text);
    assert!(app.conekta.received().is_empty());
}

#[actix_web::test]
async fn a_field_named_twice_inside_a_split_charge_is_named_by_its_path() {
    let app = spawn_app(Db::Sqlite).await;
    let request = json!({
        "provider": "conekta", "action": "split", "secret": "key_xxjg4bsD9nohnMjwaTGytA",
        "amount": "500.00", "reference_id": "dup-split", "notification_url": "https://shop.example/n",
        "first_name": "Nicolás", "last_name": "Cedrón", "email": "nico@example.com",
        "charges": [
            {"method": "spei", "amount": "250.00"},
            {"method": "cash", "amount": "250.00", "PLACEHOLDER": 0}
        ]
    });
    let body = request
        .to_string()
        .replacen("\"PLACEHOLDER\":0", "\"amount\":\"1.00\"", 1);
    let answer = app.post_raw(body.clone()).await;
    assert_eq!(answer.status, 422, "{body}: {}", answer.text);
    assert_eq!(answer.error_fields(), ["charges[1].amount"], "{body}");
    assert!(app.conekta.received().is_empty());
}
