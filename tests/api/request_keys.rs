//! `Idempotency-Key` on `POST /pagos`, and the actions it makes safe to retry: refunds (never
//! more than is left, made once per key), cancels and saved cards.

use crate::fake_conekta::Reply;
use crate::helpers::{seed_create, spawn_app, spawn_app_with, Db, TestApp};
use crate::on_both_stores;
use serde_json::{json, Value};

const SECRET: &str = "key_xxjg4bsD9nohnMjwaTGytA";

fn action(name: &str, fields: Value) -> Value {
    let mut request = json!({"provider": "conekta", "action": name, "secret": SECRET});
    for (k, v) in fields.as_object().unwrap() {
        request[k] = v.clone();
    }
    request
}

/// A checkout order made through pagos and paid by the buyer at Conekta; its id.
async fn paid_order(app: &TestApp, reference_id: &str) -> String {
    let answer = app.post_pagos(&seed_create(reference_id)).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let id = answer.json()["id"].as_str().unwrap().to_owned();
    app.conekta.pay(&id);
    id
}

fn refund(order_id: &str, amount: Option<&str>) -> Value {
    let mut request = action("refund", json!({"order_id": order_id}));
    if let Some(amount) = amount {
        request["amount"] = json!(amount);
    }
    request
}

on_both_stores!(
    the_same_key_and_body_answer_what_the_first_got,
    |db: Db| async move {
        let app = spawn_app(db).await;
        let order = paid_order(&app, "key-1").await;
        let first = app
            .post_with_key(&refund(&order, Some("100.00")), "rf-1")
            .await;
        assert_eq!(first.status, 200, "{}", first.text);
        let again = app
            .post_with_key(&refund(&order, Some("100.00")), "rf-1")
            .await;
        assert_eq!((again.status, again.text), (200, first.text));
        assert_eq!(app.conekta.refunds_of(&order).len(), 1);
        // Without the key, a repeat is a new refund.
        let other = app.post_pagos(&refund(&order, Some("100.00"))).await;
        assert_eq!(other.status, 200, "{}", other.text);
        assert_eq!(app.conekta.refunds_of(&order).len(), 2);
        assert_eq!(app.conekta.violations(), Vec::<String>::new());
    }
);

on_both_stores!(
    the_same_key_with_another_body_is_refused_before_conekta,
    |db: Db| async move {
        let app = spawn_app(db).await;
        let order = paid_order(&app, "key-2").await;
        assert_eq!(
            app.post_with_key(&refund(&order, Some("10.00")), "rf-2")
                .await
                .status,
            200
        );
        let sent_before = app.conekta.received().len();
        let reused = app
            .post_with_key(&refund(&order, Some("20.00")), "rf-2")
            .await;
        assert_eq!(reused.status, 422, "{}", reused.text);
        assert_eq!(reused.content_type, "application/problem+json");
        assert_eq!(
            reused.json()["type"],
            "urn:pagos:problem:idempotency-key-reused"
        );
        assert_eq!(reused.error_fields(), ["amount"]);
        assert_eq!(
            app.conekta.received().len(),
            sent_before,
            "Conekta never heard of it"
        );
        // Keys belong to an account: another account may use the same one.
        let mut elsewhere = seed_create("key-2b");
        elsewhere["secret"] = json!("key_otraCuentaDeConekta");
        assert_eq!(app.post_with_key(&elsewhere, "rf-2").await.status, 200);
    }
);

on_both_stores!(a_repeat_while_the_first_runs_is_409, |db: Db| async move {
    let app = spawn_app(db).await;
    let order = paid_order(&app, "key-3").await;
    app.conekta.reply_next(Reply::Order); // the order, read first
    app.conekta.reply_next(Reply::after_ms(800, Reply::Order)); // the refund, slow
    let full_refund = refund(&order, None);
    let first = app.post_with_key(&full_refund, "rf-3");
    let second = async {
        actix_web::rt::time::sleep(std::time::Duration::from_millis(300)).await;
        app.post_with_key(&full_refund, "rf-3").await
    };
    let (first, second) = futures_util::join!(first, second);
    assert_eq!(first.status, 200, "{}", first.text);
    assert_eq!(second.status, 409, "{}", second.text);
    assert_eq!(second.error_fields(), ["Idempotency-Key"]);
    let after = app.post_with_key(&refund(&order, None), "rf-3").await;
    assert_eq!(after.text, first.text);
    assert_eq!(app.conekta.refunds_of(&order).len(), 1);
});

on_both_stores!(
    a_refund_that_timed_out_is_made_once_when_retried_with_its_key,
    |db: Db| async move {
        let app = spawn_app_with(db, |s| {
            s.conekta.timeout = std::time::Duration::from_millis(300)
        })
        .await;
        let order = paid_order(&app, "key-4").await;
        app.conekta.reply_next(Reply::Order); // the order, read first
        app.conekta.reply_next(Reply::act_then_after_ms(1_000)); // refunded, answered late
        let first = app
            .post_with_key(&refund(&order, Some("250.00")), "rf-4")
            .await;
        assert_eq!(first.status, 504, "{}", first.text);
        let retry = app
            .post_with_key(&refund(&order, Some("250.00")), "rf-4")
            .await;
        assert_eq!(retry.status, 200, "{}", retry.text);
        let refunds = app.conekta.refunds_of(&order);
        assert_eq!(refunds.len(), 1, "{refunds:#?}");
        assert_eq!(retry.json()["amount_refunded"], 25_000);
        assert_eq!(
            app.conekta
                .requests_to("POST", &format!("/orders/{order}/refunds"))
                .len(),
            1
        );
        assert_eq!(app.conekta.violations(), Vec::<String>::new());
    }
);

on_both_stores!(
    a_refund_answered_5xx_after_acting_is_made_once,
    |db: Db| async move {
        let app = spawn_app(db).await;
        let order = paid_order(&app, "key-5").await;
        app.conekta.reply_next(Reply::Order);
        app.conekta.reply_next(Reply::ActThenStatus(500));
        assert_eq!(
            app.post_with_key(&refund(&order, None), "rf-5")
                .await
                .status,
            502
        );
        let retry = app.post_with_key(&refund(&order, None), "rf-5").await;
        assert_eq!(retry.status, 200, "{}", retry.text);
        assert_eq!(retry.json()["payment_status"], "refunded");
        assert_eq!(app.conekta.refunds_of(&order).len(), 1);
    }
);

on_both_stores!(
    a_refund_never_asks_for_more_than_is_left,
    |db: Db| async move {
        let app = spawn_app(db).await;
        let order = paid_order(&app, "key-6").await;
        let partial = app.post_pagos(&refund(&order, Some("300.00"))).await;
        assert_eq!(partial.status, 200, "{}", partial.text);
        let too_much = app.post_pagos(&refund(&order, Some("700.01"))).await;
        assert_eq!(too_much.status, 422, "{}", too_much.text);
        assert_eq!(too_much.error_fields(), ["amount"]);
        assert!(too_much.text.contains("700.00"), "{}", too_much.text);
        // A full refund is what is left.
        let rest = app.post_pagos(&refund(&order, None)).await;
        assert_eq!(rest.status, 200, "{}", rest.text);
        let sent = app
            .conekta
            .requests_to("POST", &format!("/orders/{order}/refunds"));
        assert_eq!(sent[1].body["amount"], 70_000);
        assert_eq!(rest.json()["amount_refunded"], 100_000);
        let nothing = app.post_pagos(&refund(&order, None)).await;
        assert_eq!(nothing.status, 422);
        assert_eq!(nothing.error_fields(), ["order_id"]);
        assert_eq!(sent.len(), 2, "the refused ones never reached Conekta");
        assert_eq!(app.conekta.violations(), Vec::<String>::new());
    }
);

on_both_stores!(an_unpaid_order_has_nothing_to_refund, |db: Db| async move {
    let app = spawn_app(db).await;
    let answer = app.post_pagos(&seed_create("key-7")).await;
    let order = answer.json()["id"].as_str().unwrap().to_owned();
    let refused = app.post_pagos(&refund(&order, Some("1.00"))).await;
    assert_eq!(refused.status, 422, "{}", refused.text);
    assert_eq!(refused.error_fields(), ["order_id"]);
});

on_both_stores!(
    a_cancel_retried_with_its_key_after_a_5xx_is_not_sent_again,
    |db: Db| async move {
        let app = spawn_app(db).await;
        let order = app.post_pagos(&seed_create("key-8")).await.json()["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let cancel = action("cancel", json!({"order_id": order}));
        app.conekta.reply_next(Reply::ActThenStatus(502));
        assert_eq!(app.post_with_key(&cancel, "cn-8").await.status, 502);
        let retry = app.post_with_key(&cancel, "cn-8").await;
        assert_eq!(retry.status, 200, "{}", retry.text);
        assert_eq!(retry.json()["payment_status"], "canceled");
        let path = format!("/orders/{order}/cancel");
        assert_eq!(app.conekta.requests_to("POST", &path).len(), 1);
    }
);

on_both_stores!(
    a_card_saved_after_an_unknown_outcome_is_saved_once,
    |db: Db| async move {
        let app = spawn_app(db).await;
        // A new customer: found again by the key's attempt key in its metadata.
        let new_customer = action(
            "save_card",
            json!({"token_id": "tok_test_visa_4242", "first_name": "Felipe",
                   "last_name": "Gomez", "email": "felipe@example.com"}),
        );
        app.conekta.reply_next(Reply::ActThenStatus(500));
        assert_eq!(app.post_with_key(&new_customer, "sc-1").await.status, 502);
        let saved = app.post_with_key(&new_customer, "sc-1").await;
        assert_eq!(saved.status, 200, "{}", saved.text);
        assert_eq!(app.conekta.customers().len(), 1);
        let customer_id = saved.json()["customer_id"].as_str().unwrap().to_owned();
        // An existing customer: the card that was not there before.
        let second_card = action(
            "save_card",
            json!({"token_id": "tok_test_mastercard_4444", "customer_id": customer_id}),
        );
        app.conekta.reply_next(Reply::Order); // the customer, read first
        app.conekta.reply_next(Reply::ActThenStatus(503));
        assert_eq!(app.post_with_key(&second_card, "sc-2").await.status, 502);
        let added = app.post_with_key(&second_card, "sc-2").await;
        assert_eq!(added.status, 200, "{}", added.text);
        let path = format!("/customers/{customer_id}/payment_sources");
        assert_eq!(app.conekta.requests_to("POST", &path).len(), 1);
        assert_ne!(
            added.json()["payment_source_id"],
            saved.json()["payment_source_id"]
        );
        assert_eq!(app.conekta.violations(), Vec::<String>::new());
    }
);

on_both_stores!(
    a_decline_is_kept_under_its_key_and_frees_the_reference,
    |db: Db| async move {
        let app = spawn_app(db).await;
        let declined = action(
            "charge",
            json!({"customer_id": "cus_2qUBQEkFJ7Kw4GVTJ", "payment_source_id": "src_card_declined",
                   "amount": "10.00", "reference_id": "key-9", "notification_url": "https://shop.example/n"}),
        );
        let first = app.post_with_key(&declined, "ch-9").await;
        assert_eq!(first.status, 402, "{}", first.text);
        let again = app.post_with_key(&declined, "ch-9").await;
        assert_eq!((again.status, again.text), (402, first.text));
        assert_eq!(app.conekta.orders_received().len(), 1);
        // No money moved: the storefront may try the same reference with another card.
        let mut other_card = declined.clone();
        other_card["payment_source_id"] = json!("src_card_ok");
        let paid = app.post_pagos(&other_card).await;
        assert_eq!(paid.status, 200, "{}", paid.text);
        assert_eq!(app.conekta.orders_received().len(), 2);
    }
);

on_both_stores!(a_malformed_key_is_refused, |db: Db| async move {
    let app = spawn_app(db).await;
    for key in ["", &"k".repeat(256), "dos palabras"] {
        let answer = app.post_with_key(&seed_create("key-10"), key).await;
        assert_eq!(answer.status, 422, "{key:?}: {}", answer.text);
        assert_eq!(answer.error_fields(), ["Idempotency-Key"]);
    }
    // The draft's structured-field form is the same key as the bare one.
    let quoted = app
        .post_with_key(&seed_create("key-10"), "\"abc-10\"")
        .await;
    let bare = app.post_with_key(&seed_create("key-10"), "abc-10").await;
    assert_eq!((quoted.status, bare.text), (200, quoted.text));
    assert!(app.conekta.orders_received().len() == 1);
});
