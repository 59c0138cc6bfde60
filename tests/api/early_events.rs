//! Conekta tells of an order before it answers the create that made it: such news is tied to
//! its claim or held until the order is recorded, never acknowledged and dropped.

use crate::fake_conekta::{EventPlan, EventTiming, Reply, Settlement};
use crate::helpers::{seed_create, spawn_app, Db, TestApp};
use crate::on_both_stores;
use crate::receiver::Receiver;
use serde_json::{json, Value};
use sqlx::Connection;
use std::time::{Duration, Instant};

fn charge(reference_id: &str, notification_url: &str) -> Value {
    json!({
        "provider": "conekta", "action": "charge", "secret": "key_xxjg4bsD9nohnMjwaTGytA",
        "customer_id": "cus_2qUBQEkFJ7Kw4GVTJ", "amount": "200.15", "reference_id": reference_id,
        "notification_url": notification_url
    })
}

/// The fake's events go to this app.
fn aim(app: &TestApp) {
    app.conekta
        .send_events_to(&format!("{}/webhooks/conekta", app.address));
}

/// Waits until the fake has made `count` orders; the newest.
async fn made_order(app: &TestApp, count: usize) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let orders = app.conekta.orders();
        if orders.len() >= count {
            return orders[count - 1].clone();
        }
        assert!(Instant::now() < deadline, "Conekta made no order");
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
}

fn kinds(delivered: &[crate::receiver::Delivered]) -> Vec<String> {
    delivered
        .iter()
        .map(|d| d.body["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

on_both_stores!(
    events_sent_before_the_answer_reach_the_storefront,
    |db: Db| async move {
        let app = spawn_app(db).await;
        let receiver = Receiver::start();
        aim(&app);
        app.conekta.events(EventPlan {
            timing: EventTiming::BeforeAnswer,
            ..EventPlan::default()
        });
        let mut create = seed_create("early-1");
        create["notification_url"] = json!(receiver.url);
        assert_eq!(app.post_pagos(&create).await.status, 200);
        let paid = app.post_pagos(&charge("early-2", &receiver.url)).await;
        assert_eq!(paid.status, 200, "{}", paid.text);
        let delivered = receiver.wait_for(6, Duration::from_secs(10)).await;
        let mut got = kinds(&delivered);
        got.sort();
        assert_eq!(
            got,
            [
                "charge.created",
                "charge.paid",
                "order.created",
                "order.created",
                "order.paid",
                "order.pending_payment"
            ]
        );
        let paid_notification = delivered
            .iter()
            .find(|d| d.body["type"] == "order.paid")
            .unwrap();
        assert_eq!(paid_notification.body["reference_id"], "early-2");
        assert_eq!(paid_notification.body["payment_status"], "paid");
        assert!(app.conekta.events_acknowledged());
    }
);

on_both_stores!(
    a_charge_event_before_any_order_event_waits_for_its_order,
    |db: Db| async move {
        let app = spawn_app(db).await;
        let receiver = Receiver::start();
        aim(&app);
        // Conekta charges, then takes its time answering.
        app.conekta.reply_next(Reply::act_then_after_ms(800));
        let request = charge("early-3", &receiver.url);
        let answered = app.post_pagos(&request);
        let early = async {
            let order = made_order(&app, 1).await;
            // A charge names its order, but cannot say which create made it.
            let charge = order["charges"]["data"][0].clone();
            let id = app.conekta.send_event("charge.paid", &charge).await;
            (order, id)
        };
        let (answer, (order, event_id)) = futures_util::join!(answered, early);
        assert_eq!(answer.status, 200, "{}", answer.text);
        let log = app.conekta.event_log();
        assert_eq!(log[0].attempts, [Ok(200)], "acknowledged only once stored");
        let delivered = receiver.wait_for(1, Duration::from_secs(10)).await;
        assert_eq!(delivered[0].body["provider_event_id"], event_id.as_str());
        assert_eq!(delivered[0].body["type"], "charge.paid");
        assert_eq!(delivered[0].body["reference_id"], "early-3");
        assert_eq!(delivered[0].body["order_id"], order["id"]);
    }
);

on_both_stores!(
    a_held_event_is_delivered_when_a_retry_records_its_order,
    |db: Db| async move {
        let app = spawn_app(db).await;
        let receiver = Receiver::start();
        aim(&app);
        app.conekta.reply_next(Reply::ActThenStatus(500));
        let request = charge("early-4", &receiver.url);
        assert_eq!(app.post_pagos(&request).await.status, 502);
        let order = made_order(&app, 1).await;
        let charge = order["charges"]["data"][0].clone();
        let event_id = app.conekta.send_event("charge.paid", &charge).await;
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        assert!(
            receiver.received().is_empty(),
            "held while the order is unknown"
        );
        assert_eq!(app.post_pagos(&request).await.status, 200);
        // Released by the writes that recorded the order, before the answer: not left to the
        // sweep that settles races (every 2 s).
        let mut conn = sqlx::AnyConnection::connect(&app.database_url)
            .await
            .unwrap();
        let still_held: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM held_events")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(still_held, 0, "the event is still held after the answer");
        let delivered = receiver.wait_for(1, Duration::from_secs(10)).await;
        assert_eq!(delivered[0].body["provider_event_id"], event_id.as_str());
    }
);

on_both_stores!(
    events_about_orders_pagos_never_made_are_ignored,
    |db: Db| async move {
        let app = spawn_app(db).await;
        let foreign_order =
            crate::conekta_events::order_event("order.paid", "ord_ajeno", Some("paid"), 500);
        let answer = app.post_webhook(&foreign_order).await;
        assert_eq!(answer.json()["outcome"], "ignored", "{}", answer.text);
        // No create is in flight: a charge about an unknown order cannot be ours either.
        let foreign_charge =
            crate::conekta_events::charge_event("charge.paid", "ord_ajeno", "paid", 500);
        let answer = app.post_webhook(&foreign_charge).await;
        assert_eq!(answer.json()["outcome"], "ignored", "{}", answer.text);
    }
);

on_both_stores!(
    an_event_held_through_a_race_is_released_by_the_sweep,
    |db: Db| async move {
        let app = spawn_app(db).await;
        let receiver = Receiver::start();
        aim(&app);
        app.conekta.reply_next(Reply::ActThenStatus(500));
        assert_eq!(
            app.post_pagos(&charge("early-5", &receiver.url))
                .await
                .status,
            502
        );
        let order = made_order(&app, 1).await;
        let charge = order["charges"]["data"][0].clone();
        app.conekta.send_event("charge.paid", &charge).await;
        // The order reaches the map by a path that released nothing (as when the transaction
        // recording it ran beside the one holding the event, on PostgreSQL).
        let mut conn = sqlx::AnyConnection::connect(&app.database_url)
            .await
            .unwrap();
        sqlx::query(
            "INSERT INTO orders (provider, order_id, account_hash, reference_id, \
             notification_url, amount_cents, currency, created_at) \
             VALUES ('conekta', $1, 'acct', 'early-5', $2, 20015, 'MXN', 0)",
        )
        .bind(order["id"].as_str().unwrap())
        .bind(receiver.url.as_str())
        .execute(&mut conn)
        .await
        .unwrap();
        let delivered = receiver.wait_for(1, Duration::from_secs(10)).await;
        assert_eq!(delivered[0].body["reference_id"], "early-5");
        let log = app.conekta.event_log();
        assert_eq!(log[0].settlement, Settlement::Acknowledged(200));
    }
);
