//! The checkout options storefronts ask for, and `capture` for a pre-authorized order: each
//! reaches Conekta as its schema says, or is refused naming the field.

use crate::fake_conekta::Reply;
use crate::helpers::{seed_create, spawn_app, take_claim_key, Db};
use crate::on_both_stores;
use serde_json::{json, Value};

fn create_with(reference_id: &str, options: Value) -> Value {
    let mut request = seed_create(reference_id);
    for (name, value) in options.as_object().unwrap() {
        request[name] = value.clone();
    }
    request
}

on_both_stores!(
    options_reach_conekta_as_its_schema_says,
    |db: Db| async move {
        let app = spawn_app(db).await;
        let answer = app
            .post_pagos(&create_with(
                "opt-1",
                json!({
                    "monthly_installments": [12, 3, 6], "three_ds_mode": "smart",
                    "exclude_card_networks": ["amex"], "excluded_payment_methods": ["cash", "bnpl"],
                    "metadata": {"canal": "app", "reference_id": "ignored"}
                }),
            ))
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        let mut sent = app.conekta.orders_received().pop().unwrap().body;
        let checkout = &sent["checkout"];
        assert_eq!(checkout["monthly_installments_enabled"], true);
        assert_eq!(checkout["monthly_installments_options"], json!([3, 6, 12]));
        assert_eq!(checkout["exclude_card_networks"], json!(["amex"]));
        assert_eq!(
            checkout["excluded_payment_methods"],
            json!(["cash", "bnpl"])
        );
        assert!(
            checkout.get("allowed_payment_methods").is_none(),
            "one or the other"
        );
        assert_eq!(sent["three_ds_mode"], "smart");
        take_claim_key(&mut sent["metadata"]);
        assert_eq!(
            sent["metadata"],
            json!({"canal": "app", "reference_id": "opt-1"})
        );
        // The options are part of what makes a request the same.
        let repeat = app
            .post_pagos(&create_with("opt-1", json!({"monthly_installments": [3]})))
            .await;
        assert_eq!(repeat.status, 409, "{}", repeat.text);
        assert!(repeat
            .error_fields()
            .contains(&"monthly_installments".to_owned()));
        assert_eq!(app.conekta.violations(), Vec::<String>::new());
    }
);

on_both_stores!(bad_options_are_named, |db: Db| async move {
    let app = spawn_app(db).await;
    let cases = [
        (
            json!({"monthly_installments": [3, 7]}),
            "monthly_installments",
        ),
        (
            json!({"monthly_installments": [3], "allowed_payment_methods": ["cash"]}),
            "monthly_installments",
        ),
        (json!({"three_ds_mode": "siempre"}), "three_ds_mode"),
        (
            json!({"exclude_card_networks": ["visa"]}),
            "exclude_card_networks",
        ),
        (
            json!({"excluded_payment_methods": ["apple"]}),
            "excluded_payment_methods",
        ),
        (
            json!({"excluded_payment_methods": ["cash"], "allowed_payment_methods": ["card"]}),
            "excluded_payment_methods",
        ),
        (json!({"pre_authorize": "sí"}), "pre_authorize"),
        (
            json!({"pre_authorize": true, "allowed_payment_methods": ["cash"]}),
            "pre_authorize",
        ),
        (json!({"metadata": {"talla": 42}}), "metadata.talla"),
        (
            json!({"metadata": {"nota": "x".repeat(250)}}),
            "metadata.nota",
        ),
        (json!({"metadata": "rojo"}), "metadata"),
    ];
    for (options, field) in cases {
        let answer = app.post_pagos(&create_with("opt-2", options.clone())).await;
        assert_eq!(answer.status, 422, "{options}: {}", answer.text);
        assert_eq!(answer.error_fields(), [field], "{options}");
    }
    assert!(
        app.conekta.received().is_empty(),
        "a bad request never reaches Conekta"
    );
});

on_both_stores!(
    a_pre_authorized_order_is_captured_once,
    |db: Db| async move {
        let app = spawn_app(db).await;
        let answer = app
            .post_pagos(&create_with("opt-3", json!({"pre_authorize": true})))
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        let sent = app.conekta.orders_received().pop().unwrap().body;
        assert_eq!(sent["pre_authorize"], true);
        assert_eq!(sent["checkout"]["allowed_payment_methods"], json!(["card"]));
        let order_id = answer.json()["id"].as_str().unwrap().to_owned();
        let capture = json!({"provider": "conekta", "action": "capture",
                         "secret": "key_xxjg4bsD9nohnMjwaTGytA", "order_id": order_id});
        // Nothing is held yet: the buyer has not paid.
        let early = app.post_pagos(&capture).await;
        assert_eq!(early.status, 422, "{}", early.text);
        assert_eq!(early.error_fields(), ["order_id"]);
        assert_eq!(
            app.conekta.pay(&order_id)["payment_status"],
            "pre_authorized"
        );
        let mut too_much = capture.clone();
        too_much["amount"] = json!("1000.01");
        assert_eq!(app.post_pagos(&too_much).await.error_fields(), ["amount"]);
        // A capture that timed out is not sent again under its key.
        app.conekta.reply_next(Reply::Order); // the order, read first
        app.conekta.reply_next(Reply::ActThenStatus(502));
        assert_eq!(app.post_with_key(&capture, "cap-3").await.status, 502);
        let captured = app.post_with_key(&capture, "cap-3").await;
        assert_eq!(captured.status, 200, "{}", captured.text);
        assert_eq!(captured.json()["payment_status"], "paid");
        let path = format!("/orders/{order_id}/capture");
        let sent = app.conekta.requests_to("POST", &path);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].body, json!({"amount": 100_000}));
        assert_eq!(app.conekta.violations(), Vec::<String>::new());
    }
);

on_both_stores!(a_406_from_conekta_is_pagos_problem, |db: Db| async move {
    let app = spawn_app(db).await;
    app.conekta.reply_next(Reply::conekta_error(
        406,
        "api_version_error",
        "conekta.errors.api_version",
        "La versión del API no es válida.",
    ));
    let answer = app.post_pagos(&seed_create("opt-4")).await;
    assert_eq!(answer.status, 502, "{}", answer.text);
    assert_eq!(
        answer.json()["type"],
        "urn:pagos:problem:provider-unavailable"
    );
    assert!(answer.json().get("provider_error").is_none());
    // Nothing was made: the reference is free for the next try.
    assert_eq!(app.post_pagos(&seed_create("opt-4")).await.status, 200);
});
