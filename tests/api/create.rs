use crate::helpers::{seed_create, spawn_app, take_claim_key, Db};
use crate::on_both_stores;
use serde_json::{json, Value};

fn now() -> i64 {
    pagos::clock::unix_s()
}

on_both_stores!(seed_create_reaches_conekta_exactly, |db: Db| async move {
    let app = spawn_app(db).await;

    let answer = app.post_pagos(&seed_create("6588")).await;

    assert_eq!(answer.status, 200, "{}", answer.text);
    assert!(answer.content_type.starts_with("application/json"));
    let order = answer.json();
    assert!(order["checkout"]["url"]
        .as_str()
        .unwrap()
        .starts_with("https://pay.conekta.com/checkout/"));
    let received = app.conekta.orders_received();
    assert_eq!(received.len(), 1);
    let sent = &received[0];
    assert_eq!(
        sent.header("authorization"),
        Some("Bearer key_xxjg4bsD9nohnMjwaTGytA")
    );
    assert_eq!(
        sent.header("accept"),
        Some("application/vnd.conekta-v2.3.0+json")
    );
    assert_eq!(sent.header("content-type"), Some("application/json"));
    assert!(sent
        .header("idempotency-key")
        .is_some_and(|k| !k.is_empty()));
    let body = &sent.body;
    assert_eq!(body["currency"], "MXN");
    assert_eq!(
        body["customer_info"],
        json!({"name": "andres jaro", "email": "andres.jaromezuk@gmail.com", "phone": "+5215555555555"})
    );
    assert_eq!(
        body["line_items"],
        json!([{"name": "6588", "unit_price": 100000, "quantity": 1}])
    );
    let checkout = &body["checkout"];
    assert_eq!(checkout["type"], "HostedPayment");
    assert_eq!(
        checkout["allowed_payment_methods"],
        json!(["cash", "card", "bank_transfer"])
    );
    assert_eq!(
        checkout["success_url"],
        "http://template.pow.la/conekta/conekta_order"
    );
    assert_eq!(
        checkout["failure_url"],
        "http://template.pow.la/conekta/conekta_order"
    );
    let expires_at = checkout["expires_at"].as_i64().unwrap();
    let three_days = 3 * 86_400;
    assert!((now() + three_days - 5..=now() + three_days).contains(&expires_at));
    let mut metadata = body["metadata"].clone();
    take_claim_key(&mut metadata);
    assert_eq!(metadata, json!({"reference_id": "6588"}));
    assert_eq!(app.conekta.violations(), Vec::<String>::new());
});

on_both_stores!(answer_is_conekta_order_verbatim, |db: Db| async move {
    let app = spawn_app(db).await;
    let answer = app.post_pagos(&seed_create("verbatim-1")).await;
    assert_eq!(answer.status, 200);
    let order = answer.json();
    assert_eq!(order["object"], "order");
    assert_eq!(order["amount"], 100000);
    assert_eq!(order["id"], "ord_fake1");
    assert_eq!(order["metadata"]["reference_id"], "verbatim-1");
});

on_both_stores!(tricky_amounts_become_exact_centavos, |db: Db| async move {
    let app = spawn_app(db).await;
    let cases: [(Value, i64); 8] = [
        (json!(19.99), 1999),
        (json!(0.1), 10),
        (json!(1234567.89), 123456789),
        (json!("250.75"), 25075),
        (json!(0.29), 29),
        (json!(1.005e1), 1005),
        (json!("1000"), 100000),
        (json!(21474836.47), 2147483647),
    ];
    for (i, (amount, centavos)) in cases.iter().enumerate() {
        let mut request = seed_create(&format!("amount-{i}"));
        request["amount"] = amount.clone();
        let answer = app.post_pagos(&request).await;
        assert_eq!(answer.status, 200, "{amount}: {}", answer.text);
        let sent = app.conekta.orders_received().pop().unwrap();
        assert_eq!(
            sent.body["line_items"][0]["unit_price"],
            json!(centavos),
            "{amount}"
        );
        assert_eq!(answer.json()["amount"], json!(centavos), "{amount}");
    }
    assert_eq!(app.conekta.violations(), Vec::<String>::new());
});

on_both_stores!(optional_fields_are_honoured, |db: Db| async move {
    let app = spawn_app(db).await;
    let expires_at = now() + 2 * 3600;
    let mut request = seed_create("options-1");
    let extra = json!({
        "phone": "+52 55 1234 5678",
        "currency": "USD",
        "description": "Zapatos talla 27",
        "expires_at": expires_at,
        "allowed_payment_methods": ["card"],
        "success_url": "https://shop.example/ok",
        "failure_url": "https://shop.example/ko"
    });
    for (k, v) in extra.as_object().unwrap() {
        request[k] = v.clone();
    }
    let answer = app.post_pagos(&request).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let body = app.conekta.orders_received().pop().unwrap().body;
    assert_eq!(body["customer_info"]["phone"], "+525512345678");
    assert_eq!(body["currency"], "USD");
    assert_eq!(body["line_items"][0]["name"], "Zapatos talla 27");
    assert_eq!(body["checkout"]["expires_at"], expires_at);
    assert_eq!(body["checkout"]["allowed_payment_methods"], json!(["card"]));
    assert_eq!(body["checkout"]["success_url"], "https://shop.example/ok");
    assert_eq!(body["checkout"]["failure_url"], "https://shop.example/ko");
    assert_eq!(app.conekta.violations(), Vec::<String>::new());
});

on_both_stores!(provider_order_map_is_kept, |db: Db| async move {
    let app = spawn_app(db).await;
    let answer = app.post_pagos(&seed_create("map-1")).await;
    let order_id = answer.json()["id"].as_str().unwrap().to_owned();
    let target = app
        .app_store
        .order_target("conekta", &order_id)
        .await
        .unwrap();
    assert_eq!(
        target,
        Some((
            "map-1".to_owned(),
            "https://shop.example/pagos/notify".to_owned()
        ))
    );
});

#[actix_web::test]
async fn connections_to_conekta_are_pooled() {
    let app = spawn_app(Db::Sqlite).await;
    for i in 0..8 {
        let answer = app.post_pagos(&seed_create(&format!("pool-{i}"))).await;
        assert_eq!(answer.status, 200);
    }
    // One kept-alive connection per pagos worker at most, not one per request.
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    assert!(
        app.conekta.connections() <= workers,
        "{} connections for 8 requests",
        app.conekta.connections()
    );
}

#[actix_web::test]
async fn the_fake_conekta_refuses_what_conekta_refuses() {
    // Guards the guard: an order that breaks the official schema is caught and answered 422.
    let fake = crate::fake_conekta::FakeConekta::start();
    let bad = json!({
        "currency": "MXNN",
        "customer_info": {"name": "a b", "email": "a@b.mx"},
        "line_items": [{"name": "ab", "unit_price": 2147483648i64, "quantity": 0}],
        "checkout": {"type": "HostedPayment", "allowed_payment_methods": ["crypto"]}
    });
    let response = reqwest::Client::new()
        .post(format!("{}/orders", fake.url))
        .header("authorization", "Bearer key_x")
        .header("accept", "application/vnd.conekta-v2.3.0+json")
        .header("content-type", "application/json")
        .body(bad.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    let violations = fake.violations().join("\n");
    for needle in [
        "/currency",
        "/customer_info",
        "/line_items/0/name",
        "/line_items/0/unit_price",
        "/line_items/0/quantity",
        "/checkout/allowed_payment_methods/0",
    ] {
        assert!(
            violations.contains(needle),
            "{needle} not caught in:\n{violations}"
        );
    }
}
