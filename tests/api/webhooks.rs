//! Intake: only genuine Conekta events are taken in, each once.

use crate::conekta_events::{charge_event, digest, forged_digest, order_event, ping};
use crate::helpers::{spawn_app, spawn_app_with, Db};
use crate::on_both_stores;
use crate::receiver::Receiver;
use std::time::Duration;

on_both_stores!(forged_or_unsigned_events_are_refused, |db: Db| async move {
    let app = spawn_app(db).await;
    let receiver = Receiver::start();
    let order_id = app.create_order("forged-1", &receiver.url).await;
    let event = order_event("order.paid", &order_id, Some("paid"), 100000);
    let body = event.to_string();

    let unsigned = app.post_webhook_raw(body.clone(), None).await;
    let forged = app
        .post_webhook_raw(body.clone(), Some(forged_digest(body.as_bytes())))
        .await;
    let garbage = app
        .post_webhook_raw(body.clone(), Some("not-base64!".into()))
        .await;
    // A genuine signature over other bytes: one space changed.
    let tampered = app
        .post_webhook_raw(
            body.replacen("100000", "100001", 1),
            Some(digest(body.as_bytes())),
        )
        .await;
    for answer in [&unsigned, &forged, &garbage, &tampered] {
        assert_eq!(answer.status, 401, "{}", answer.text);
        assert_eq!(answer.content_type, "application/problem+json");
    }
    actix_web::rt::time::sleep(Duration::from_millis(400)).await;
    assert!(receiver.received().is_empty(), "a forged event was relayed");
    assert!(
        app.deliveries("").await.is_empty(),
        "a forged event was stored"
    );

    // The genuine one goes through.
    assert_eq!(app.post_webhook(&event).await.status, 200);
    receiver.wait_for(1, Duration::from_secs(10)).await;
});

/// The openssl-made vectors under `tests/data/digest/` (see its `make.sh`).
macro_rules! vector {
    ($name:literal) => {
        include_str!(concat!("../data/digest/", $name, ".b64"))
    };
}

on_both_stores!(
    every_digest_form_conekta_has_used_is_accepted,
    |db: Db| async move {
        let app = spawn_app(db).await;
        // An order.paid event about an order pagos did not create: acknowledged, not relayed.
        let body = include_str!("../data/digest/body.json");
        for forged in [
            vector!("forged_other_key"),
            vector!("forged_other_body"),
            vector!("forged_hex_newline"),
            vector!("forged_unpadded"),
            vector!("forged_truncated"),
            vector!("forged_bitflip"),
            vector!("forged_type2"),
        ] {
            let answer = app
                .post_webhook_raw(body.to_owned(), Some(forged.to_owned()))
                .await;
            assert_eq!(answer.status, 401, "{forged}: {}", answer.text);
            assert!(!answer.text.contains(&forged[..12]), "{}", answer.text);
        }
        let mut outcomes = Vec::new();
        for genuine in [
            vector!("sig_digestinfo"),
            vector!("sig_hex"),
            vector!("sig_hex_upper"),
            vector!("sig_raw32"),
        ] {
            for digest in [genuine.to_owned(), format!("SHA-256={genuine}")] {
                let answer = app.post_webhook_raw(body.to_owned(), Some(digest)).await;
                assert_eq!(answer.status, 200, "{genuine}: {}", answer.text);
                outcomes.push(answer.json()["outcome"].as_str().unwrap().to_owned());
            }
        }
        // Taken in once (the forged ones left no trace), then recognised as the same event.
        assert_eq!(outcomes[0], "ignored");
        assert!(
            outcomes[1..].iter().all(|o| o == "duplicate"),
            "{outcomes:?}"
        );
    }
);

#[actix_web::test]
async fn without_a_configured_key_every_webhook_is_refused() {
    let app = spawn_app_with(Db::Sqlite, |s| s.conekta.webhook_keys = None).await;
    let receiver = Receiver::start();
    let order_id = app.create_order("nokey-1", &receiver.url).await;
    let answer = app
        .post_webhook(&order_event("order.paid", &order_id, Some("paid"), 100000))
        .await;
    assert_eq!(answer.status, 401);
    assert!(answer.text.contains("not configured"), "{}", answer.text);
}

on_both_stores!(a_repeated_event_is_relayed_once, |db: Db| async move {
    let app = spawn_app(db).await;
    let receiver = Receiver::start();
    let order_id = app.create_order("dup-1", &receiver.url).await;
    let event = order_event("order.paid", &order_id, Some("paid"), 100000);
    for _ in 0..3 {
        let answer = app.post_webhook(&event).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
    }
    receiver.wait_for(1, Duration::from_secs(10)).await;
    actix_web::rt::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(receiver.received().len(), 1);
    assert_eq!(app.deliveries("").await.len(), 1);
});

on_both_stores!(
    pings_and_foreign_orders_are_acknowledged_not_relayed,
    |db: Db| async move {
        let app = spawn_app(db).await;
        let receiver = Receiver::start();
        let order_id = app.create_order("ours-1", &receiver.url).await;
        let ping = app.post_webhook(&ping()).await;
        assert_eq!(ping.status, 200);
        assert_eq!(ping.json()["outcome"], "ping");
        let foreign = app
            .post_webhook(&order_event("order.paid", "ord_notOurs", Some("paid"), 5))
            .await;
        assert_eq!(foreign.status, 200);
        assert_eq!(foreign.json()["outcome"], "ignored");
        // An event type nobody has seen before, about our order: taken in, relayed, never a failure.
        let novel = app
            .post_webhook(&order_event("order.teleported", &order_id, None, 100000))
            .await;
        assert_eq!(novel.status, 200, "{}", novel.text);
        let received = receiver.wait_for(1, Duration::from_secs(10)).await;
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(receiver.received().len(), 1);
        assert_eq!(received[0].body["type"], "order.teleported");
        // Signed but unreadable: 400 so Conekta's retry is visible, nothing relayed.
        let body = "{\"no\": \"id\"}".to_owned();
        let unreadable = app
            .post_webhook_raw(body.clone(), Some(digest(body.as_bytes())))
            .await;
        assert_eq!(unreadable.status, 400);
    }
);

on_both_stores!(
    charge_events_reach_the_order_storefront,
    |db: Db| async move {
        let app = spawn_app(db).await;
        let receiver = Receiver::start();
        let order_id = app.create_order("charge-1", &receiver.url).await;
        let answer = app
            .post_webhook(&charge_event("charge.paid", &order_id, "paid", 100000))
            .await;
        assert_eq!(answer.status, 200);
        let received = receiver.wait_for(1, Duration::from_secs(10)).await;
        let body = &received[0].body;
        assert_eq!(body["type"], "charge.paid");
        assert_eq!(body["order_id"], order_id.as_str());
        assert_eq!(body["data"]["object"], "charge");
        assert_eq!(body["amount_cents"], 100000);
    }
);

#[actix_web::test]
async fn the_store_failing_means_5xx_so_conekta_retries() {
    let app = spawn_app(Db::Sqlite).await;
    let receiver = Receiver::start();
    let order_id = app.create_order("down-1", &receiver.url).await;
    app.app_store.close().await;
    let answer = app
        .post_webhook(&order_event("order.paid", &order_id, Some("paid"), 100000))
        .await;
    assert_eq!(answer.status, 503, "{}", answer.text);
}

on_both_stores!(an_unknown_provider_has_no_webhooks, |db: Db| async move {
    let app = spawn_app(db).await;
    let answer = app
        .http
        .post(format!("{}/webhooks/stripe", app.address))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 404);
});
