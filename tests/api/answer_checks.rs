//! Conekta's answers are checked before pagos relies on them, and a card token is never kept.

use crate::fake_conekta::Reply;
use crate::helpers::{seed_create, spawn_app, Db, TestApp};
use crate::on_both_stores;
use serde_json::{json, Value};
use sqlx::{Connection, Row};

fn reference_request(reference_id: &str) -> Value {
    json!({
        "provider": "conekta", "action": "reference", "secret": "key_xxjg4bsD9nohnMjwaTGytA",
        "reference_id": reference_id, "notification_url": "https://shop.example/n",
        "first_name": "Fulanito", "last_name": "Pérez", "email": "fulanito@example.com"
    })
}

/// A customer as Conekta could answer it, with these payment sources.
fn customer(sources: Value) -> Reply {
    Reply::Status(
        200,
        json!({"id": "cus_hecho", "object": "customer", "name": "Fulanito Pérez",
               "payment_sources": {"object": "list", "has_more": false, "data": sources}}),
    )
}

fn cash_source(expires_at: Value) -> Value {
    json!({"id": "off_ref_1", "object": "payment_source", "type": "cash_recurrent",
           "reference": "93000262668175", "barcode_url": "https://barcodes.example/1.png",
           "expires_at": expires_at})
}

on_both_stores!(
    a_reference_is_the_source_of_the_requested_type,
    |db: Db| async move {
        let app = spawn_app(db).await;
        app.conekta.reply_next(customer(json!([
            {"id": "src_card", "object": "payment_source", "type": "card", "last4": "4242"},
            cash_source(json!(0))
        ])));
        let answer = app.post_pagos(&reference_request("check-1")).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert_eq!(answer.json()["payment_source_id"], "off_ref_1");
        assert_eq!(answer.json()["reference"], "93000262668175");
    }
);

on_both_stores!(
    unusable_answers_are_502_never_passed_on,
    |db: Db| async move {
        let app = spawn_app(db).await;
        let cases = [
            ("check-2", customer(json!([cash_source(json!("mañana"))]))),
            (
                "check-3",
                customer(json!([{"id": "src_card", "type": "card"}])),
            ),
        ];
        for (reference_id, reply) in cases {
            app.conekta.reply_next(reply);
            let answer = app.post_pagos(&reference_request(reference_id)).await;
            assert_eq!(answer.status, 502, "{reference_id}: {}", answer.text);
            assert_eq!(
                answer.json()["type"],
                "urn:pagos:problem:provider-unavailable"
            );
        }
        let order = |amount: i64, expires_at: Value| {
            Reply::Status(
                200,
                json!({"id": "ord_hecho", "object": "order", "amount": amount,
                       "checkout": {"url": "https://pay.conekta.com/checkout/x", "expires_at": expires_at}}),
            )
        };
        let orders = [
            ("check-4", order(100, json!(1_999_999_999))),
            ("check-5", order(100_000, json!("1999999999"))),
            (
                "check-6",
                Reply::Status(200, json!({"object": "order", "amount": 100_000})),
            ),
        ];
        for (reference_id, reply) in orders {
            app.conekta.reply_next(reply);
            let answer = app.post_pagos(&seed_create(reference_id)).await;
            assert_eq!(answer.status, 502, "{reference_id}: {}", answer.text);
        }
    }
);

/// Every text pagos keeps: the SQLite file (and its WAL), or PostgreSQL's tables.
async fn everything_stored(app: &TestApp) -> String {
    if let Some(path) = app.database_url.strip_prefix("sqlite://") {
        let file = path.split('?').next().unwrap();
        let mut bytes = std::fs::read(file).unwrap();
        bytes.extend(std::fs::read(format!("{file}-wal")).unwrap_or_default());
        return String::from_utf8_lossy(&bytes).into_owned();
    }
    let mut conn = sqlx::PgConnection::connect(&app.database_url)
        .await
        .unwrap();
    let mut text = String::new();
    for table in [
        "claims",
        "orders",
        "payment_references",
        "deliveries",
        "webhook_events",
        "held_events",
    ] {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT t::text AS row FROM {table} t"
        )))
        .fetch_all(&mut conn)
        .await
        .unwrap();
        for row in rows {
            text.push_str(&row.get::<String, _>("row"));
        }
    }
    text
}

on_both_stores!(the_store_holds_no_card_token, |db: Db| async move {
    let app = spawn_app(db).await;
    let token = "tok_2xKqZ4pL9nV1sD3fGsecreto";
    let split = json!({
        "provider": "conekta", "action": "split", "secret": "key_xxjg4bsD9nohnMjwaTGytA",
        "amount": "500.00", "reference_id": "token-1", "notification_url": "https://shop.example/n",
        "first_name": "Nicolás", "last_name": "Cedrón", "email": "nico@example.com",
        "charges": [{"method": "card", "amount": "200.00", "token_id": token},
                    {"method": "spei", "amount": "300.00"}]
    });
    assert_eq!(app.post_pagos(&split).await.status, 200);
    // A repeat is still recognised as the same request.
    assert_eq!(app.post_pagos(&split).await.status, 200);
    assert_eq!(app.conekta.orders_received().len(), 1);
    let save = json!({
        "provider": "conekta", "action": "save_card", "secret": "key_xxjg4bsD9nohnMjwaTGytA",
        "token_id": token, "first_name": "Felipe", "last_name": "Gomez", "email": "felipe@example.com"
    });
    assert_eq!(app.post_with_key(&save, "tok-key").await.status, 200);
    let stored = everything_stored(&app).await;
    assert!(stored.contains("token-1"), "the store was read");
    assert!(!stored.contains(token), "a card token is in the store");
    assert!(
        !stored.contains("2xKqZ4pL9nV1sD3fG"),
        "a card token is in the store"
    );
});
