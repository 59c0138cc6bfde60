//! The SSRF guard, and one slow storefront never holding up the others.

use crate::conekta_events::order_event;
use crate::helpers::{seed_create, spawn_app_with, Db};
use crate::on_both_stores;
use crate::receiver::{Answer, Receiver};
use serde_json::json;
use std::time::{Duration, Instant};

on_both_stores!(
    private_notification_urls_are_refused_at_create,
    |db: Db| async move {
        let app = spawn_app_with(db, |s| s.relay.allow_private_targets = false).await;
        for url in [
            "http://127.0.0.1:9/notify",
            "http://localhost:8080/notify",
            "http://169.254.169.254/latest/meta-data/",
            "http://10.0.0.7/hook",
            "http://[::1]/hook",
            "http://192.168.1.10/hook",
        ] {
            let mut request = seed_create("ssrf-1");
            request["notification_url"] = json!(url);
            let answer = app.post_pagos(&request).await;
            assert_eq!(answer.status, 422, "{url}: {}", answer.text);
            assert_eq!(answer.error_fields(), ["notification_url"], "{url}");
        }
        let mut request = seed_create("ssrf-2");
        request["notification_url"] = json!("gopher://shop.example/x");
        assert_eq!(app.post_pagos(&request).await.status, 422);
        assert!(app.conekta.received().is_empty());
    }
);

on_both_stores!(
    private_targets_are_refused_again_at_delivery,
    |db: Db| async move {
        // An order recorded while its target was allowed (as if its DNS has changed since).
        let open = spawn_app_with(db, |s| s.relay.signing_secret = None).await;
        let receiver = Receiver::start();
        let order_id = open.create_order("ssrf-3", &receiver.url).await;
        let database_url = open.database_url.clone();
        open.app_store.close().await;

        let guarded = crate::helpers::spawn_app_with(db, |s| {
            s.relay.allow_private_targets = false;
            s.database.url = database_url.clone().into();
        })
        .await;
        let answer = guarded
            .post_webhook(&order_event("order.paid", &order_id, Some("paid"), 100000))
            .await;
        assert_eq!(answer.status, 200);
        let failed = guarded.wait_deliveries("failed", 1).await;
        assert!(
            failed[0]["last_error"]
                .as_str()
                .unwrap()
                .contains("private"),
            "{}",
            failed[0]
        );
        assert!(
            receiver.received().is_empty(),
            "nothing reached the private address"
        );
    }
);

on_both_stores!(
    a_hanging_storefront_does_not_delay_the_others,
    |db: Db| async move {
        let app = spawn_app_with(db, |s| {
            s.relay.timeout = std::time::Duration::from_millis(10_000)
        })
        .await;
        let (hanging, healthy) = (Receiver::start(), Receiver::start());
        hanging.answer_always(Answer::Hang);
        for i in 0..24 {
            let order_id = app.create_order(&format!("hang-{i}"), &hanging.url).await;
            app.post_webhook(&order_event("order.paid", &order_id, Some("paid"), 100000))
                .await;
        }
        let started = Instant::now();
        for i in 0..6 {
            let order_id = app.create_order(&format!("fine-{i}"), &healthy.url).await;
            app.post_webhook(&order_event("order.paid", &order_id, Some("paid"), 100000))
                .await;
        }
        healthy.wait_for(6, Duration::from_secs(10)).await;
        let healthy_done = started.elapsed();
        // The healthy storefront is served while the hanging one still holds its connections.
        assert!(
            healthy_done < Duration::from_millis(2_500),
            "healthy deliveries took {healthy_done:?}"
        );
        assert!(
            hanging.received().len() <= 16,
            "per-target limit: {} at once",
            hanging.received().len()
        );
        assert!(hanging.max_in_flight() <= 16);
    }
);
