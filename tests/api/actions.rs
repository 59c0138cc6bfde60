//! save_card, charge, split, status, cancel, refund: what Conekta receives and what comes back.

use crate::conekta_events::{charge_event, order_event};
use crate::helpers::{captured_logs, spawn_app, take_claim_key, Db, TestApp};
use crate::on_both_stores;
use crate::receiver::Receiver;
use serde_json::{json, Value};
use std::time::Duration;

const SECRET: &str = "key_xxjg4bsD9nohnMjwaTGytA";

fn request(action: &str, fields: Value) -> Value {
    let mut request = json!({"provider": "conekta", "action": action, "secret": SECRET});
    for (k, v) in fields.as_object().unwrap() {
        request[k] = v.clone();
    }
    request
}

async fn ok(app: &TestApp, request: &Value) -> Value {
    let answer = app.post_pagos(request).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.json()
}

on_both_stores!(save_card_for_a_new_customer, |db: Db| async move {
    let app = spawn_app(db).await;
    let saved = ok(
        &app,
        &request(
            "save_card",
            json!({
                "token_id": "tok_test_visa_4242", "first_name": "Felipe", "last_name": "Gomez",
                "email": "felipe@example.com"
            }),
        ),
    )
    .await;
    let sent = app.conekta.requests_to("POST", "/customers");
    assert_eq!(
        sent[0].body,
        json!({"name": "Felipe Gomez", "email": "felipe@example.com", "phone": "+5215555555555",
               "payment_sources": [{"type": "card", "token_id": "tok_test_visa_4242"}]})
    );
    assert_eq!(saved["brand"], "visa");
    assert_eq!(saved["last4"], "4242");
    assert_eq!(saved["default"], true);
    assert!(saved["customer_id"].as_str().unwrap().starts_with("cus_"));
    assert!(saved["payment_source_id"]
        .as_str()
        .unwrap()
        .starts_with("src_"));
    assert_eq!(app.conekta.violations(), Vec::<String>::new());
    // The token is single-use card data: it never reaches a log line.
    assert!(!captured_logs().contains("tok_test_visa_4242"));
});

on_both_stores!(
    save_card_on_an_existing_customer_as_default,
    |db: Db| async move {
        let app = spawn_app(db).await;
        let first = ok(&app, &request("save_card", json!({
        "token_id": "tok_first", "first_name": "Felipe", "last_name": "Gomez", "email": "felipe@example.com"
    }))).await;
        let customer = first["customer_id"].as_str().unwrap();
        let second = ok(
            &app,
            &request(
                "save_card",
                json!({
                    "token_id": "tok_second", "customer_id": customer, "make_default": true
                }),
            ),
        )
        .await;
        let added = app
            .conekta
            .requests_to("POST", &format!("/customers/{customer}/payment_sources"));
        assert_eq!(
            added[0].body,
            json!({"type": "card", "token_id": "tok_second"})
        );
        let updated = app
            .conekta
            .requests_to("PUT", &format!("/customers/{customer}"));
        assert_eq!(
            updated[0].body,
            json!({"default_payment_source_id": second["payment_source_id"]})
        );
        assert_eq!(second["default"], true);
        assert_eq!(second["customer_id"], customer);
        // Without make_default the default stays.
        let third = ok(
            &app,
            &request(
                "save_card",
                json!({"token_id": "tok_third", "customer_id": customer}),
            ),
        )
        .await;
        assert_eq!(third["default"], false);
        assert_eq!(
            app.conekta
                .requests_to("PUT", &format!("/customers/{customer}"))
                .len(),
            1
        );
        assert_eq!(app.conekta.violations(), Vec::<String>::new());
    }
);

#[actix_web::test]
async fn save_card_needs_a_token_and_a_customer() {
    let app = spawn_app(Db::Sqlite).await;
    let answer = app
        .post_pagos(&request("save_card", json!({"make_default": "yes"})))
        .await;
    assert_eq!(answer.status, 422);
    assert_eq!(
        answer.error_fields(),
        [
            "token_id",
            "make_default",
            "first_name",
            "last_name",
            "email"
        ]
    );
    let answer = app
        .post_pagos(&request(
            "save_card",
            json!({"token_id": "tok/../x", "customer_id": "cus 1"}),
        ))
        .await;
    assert_eq!(answer.error_fields(), ["token_id", "customer_id"]);
    assert!(app.conekta.received().is_empty());
}

on_both_stores!(charge_a_saved_card_and_hear_about_it, |db: Db| async move {
    let app = spawn_app(db).await;
    let receiver = Receiver::start();
    let charge = request(
        "charge",
        json!({
            "customer_id": "cus_2qUBQEkFJ7Kw4GVTJ", "amount": "200.15", "reference_id": "sub-77",
            "notification_url": receiver.url, "description": "Suscripción mensual"
        }),
    );
    let order = ok(&app, &charge).await;
    let mut sent = app.conekta.orders_received().pop().unwrap();
    take_claim_key(&mut sent.body["metadata"]);
    assert_eq!(
        sent.body,
        json!({"currency": "MXN", "customer_info": {"customer_id": "cus_2qUBQEkFJ7Kw4GVTJ"},
               "line_items": [{"name": "Suscripción mensual", "unit_price": 20015, "quantity": 1}],
               "charges": [{"payment_method": {"type": "default"}}],
               "metadata": {"reference_id": "sub-77"}})
    );
    assert_eq!(order["payment_status"], "paid");
    // A retry of the same charge does not charge twice.
    assert_eq!(ok(&app, &charge).await, order);
    assert_eq!(app.conekta.orders_received().len(), 1);
    // Its result is relayed like any order's.
    let order_id = order["id"].as_str().unwrap();
    app.post_webhook(&order_event("order.paid", order_id, Some("paid"), 20015))
        .await;
    let received = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(received[0].body["reference_id"], "sub-77");
    assert_eq!(received[0].body["amount"], "200.15");
    assert_eq!(app.conekta.violations(), Vec::<String>::new());
});

on_both_stores!(
    a_declined_card_is_402_with_conektas_reason,
    |db: Db| async move {
        let app = spawn_app(db).await;
        let answer = app.post_pagos(&request("charge", json!({
        "customer_id": "cus_2qUBQEkFJ7Kw4GVTJ", "payment_source_id": "src_card_declined",
        "amount": 99, "reference_id": "sub-78", "notification_url": "https://shop.example/n"
    }))).await;
        assert_eq!(answer.status, 402, "{}", answer.text);
        let problem = answer.json();
        assert_eq!(
            problem["detail"],
            "El cargo ha sido declinado por el banco emisor."
        );
        assert_eq!(
            problem["provider_error"]["details"][0]["code"],
            "conekta.errors.processing.bank.declined"
        );
        let sent = app.conekta.orders_received().pop().unwrap();
        assert_eq!(
            sent.body["charges"],
            json!([{"payment_method": {"type": "card", "payment_source_id": "src_card_declined"}}])
        );
    }
);

on_both_stores!(split_charges_must_add_up, |db: Db| async move {
    let app = spawn_app(db).await;
    let receiver = Receiver::start();
    let base = json!({
        "amount": "500.00", "reference_id": "split-1", "notification_url": receiver.url,
        "first_name": "Nicolás", "last_name": "Cedrón", "email": "nico@example.com"
    });
    let mut wrong = request("split", base.clone());
    wrong["charges"] =
        json!([{"method": "spei", "amount": "250.00"}, {"method": "cash", "amount": "249.99"}]);
    let answer = app.post_pagos(&wrong).await;
    assert_eq!(answer.status, 422);
    assert_eq!(answer.error_fields(), ["charges"]);
    assert!(answer.text.contains("499.99"), "{}", answer.text);
    let mut bad_parts = request("split", base.clone());
    bad_parts["charges"] = json!([{"method": "card", "amount": "250.00"}, {"method": "bitcoin", "amount": 250, "token_id": "tok_x"}]);
    let answer = app.post_pagos(&bad_parts).await;
    assert_eq!(answer.error_fields(), ["charges"]);
    assert!(
        answer.text.contains("[0].token_id is required"),
        "{}",
        answer.text
    );
    assert!(answer.text.contains("[1].method"), "{}", answer.text);
    assert!(app.conekta.received().is_empty());

    let mut split = request("split", base);
    split["charges"] = json!([
        {"method": "card", "amount": "200.00", "token_id": "tok_test_visa_4242"},
        {"method": "spei", "amount": "150.00"},
        {"method": "cash", "amount": 150}
    ]);
    let order = ok(&app, &split).await;
    let sent = app.conekta.orders_received().pop().unwrap();
    assert_eq!(
        sent.body["charges"],
        json!([
            {"payment_method": {"type": "card", "token_id": "tok_test_visa_4242"}, "amount": 20000},
            {"payment_method": {"type": "spei"}, "amount": 15000},
            {"payment_method": {"type": "cash"}, "amount": 15000}
        ])
    );
    assert_eq!(sent.body["line_items"][0]["unit_price"], 50000);
    assert_eq!(sent.body["customer_info"]["name"], "Nicolás Cedrón");
    // The answer carries each charge's instructions or result.
    let charges = order["charges"]["data"].as_array().unwrap();
    assert_eq!(charges[0]["status"], "paid");
    assert!(
        charges[1]["payment_method"]["clabe"]
            .as_str()
            .unwrap()
            .len()
            == 18
    );
    assert!(charges[2]["payment_method"]["reference"].is_string());
    assert_eq!(order["payment_status"], "partially_paid");
    assert_eq!(app.conekta.violations(), Vec::<String>::new());

    // Partial payments are relayed as they happen; the status follows seed 003's table.
    let order_id = order["id"].as_str().unwrap();
    app.post_webhook(&charge_event("charge.paid", order_id, "paid", 15000))
        .await;
    app.post_webhook(&order_event(
        "order.updated",
        order_id,
        Some("partially_paid"),
        50000,
    ))
    .await;
    app.post_webhook(&order_event("order.paid", order_id, Some("paid"), 50000))
        .await;
    let received = receiver.wait_for(3, Duration::from_secs(10)).await;
    let statuses: Vec<&str> = received
        .iter()
        .map(|d| d.body["payment_status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["pending_payment", "partially_paid", "paid"]);
});

on_both_stores!(status_cancel_and_refund, |db: Db| async move {
    let app = spawn_app(db).await;
    let charged = ok(&app, &request("charge", json!({
        "customer_id": "cus_1", "amount": 1000, "reference_id": "r-1", "notification_url": "https://shop.example/n"
    }))).await;
    let order_id = charged["id"].as_str().unwrap();

    let status = ok(&app, &request("status", json!({"order_id": order_id}))).await;
    assert_eq!(status["id"], order_id);
    assert_eq!(
        app.conekta
            .requests_to("GET", &format!("/orders/{order_id}"))
            .len(),
        1
    );

    // A partial refund names its amount, in exact centavos.
    let refunded = ok(
        &app,
        &request(
            "refund",
            json!({"order_id": order_id, "amount": "250.10", "reason": "fraud"}),
        ),
    )
    .await;
    let sent = app
        .conekta
        .requests_to("POST", &format!("/orders/{order_id}/refunds"));
    assert_eq!(sent[0].body, json!({"amount": 25010, "reason": "fraud"}));
    assert_eq!(refunded["payment_status"], "partially_refunded");
    // The default is what is left.
    let rest = ok(&app, &request("refund", json!({"order_id": order_id}))).await;
    let sent = app
        .conekta
        .requests_to("POST", &format!("/orders/{order_id}/refunds"));
    assert_eq!(
        sent[1].body,
        json!({"amount": 74990, "reason": "requested_by_client"})
    );
    assert_eq!(rest["payment_status"], "refunded");
    let nothing_left = app
        .post_pagos(&request("refund", json!({"order_id": order_id})))
        .await;
    assert_eq!(nothing_left.status, 422);

    let canceled = ok(&app, &request("cancel", json!({"order_id": order_id}))).await;
    assert_eq!(canceled["payment_status"], "canceled");
    assert_eq!(
        app.conekta
            .requests_to("POST", &format!("/orders/{order_id}/cancel"))
            .len(),
        1
    );

    let missing = app
        .post_pagos(&request("status", json!({"order_id": "ord_nope"})))
        .await;
    assert_eq!(missing.status, 404);
    let bad = app
        .post_pagos(&request(
            "refund",
            json!({"order_id": "../customers", "amount": "1.001"}),
        ))
        .await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.error_fields(), ["order_id", "amount"]);
    assert_eq!(app.conekta.violations(), Vec::<String>::new());
});
