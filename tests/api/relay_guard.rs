//! The SSRF guard, and one slow storefront never holding up the others.

use crate::conekta_events::order_event;
use crate::helpers::{seed_create, spawn_app_with, Db};
use crate::on_both_stores;
use crate::receiver::{Answer, Receiver};
use crate::references::reference_request;
use serde_json::json;
use std::net::TcpListener;
use std::time::{Duration, Instant};

/// IPv6 forms of loopback, private, link-local and reserved addresses, refused with the guard on.
const PRIVATE_IPV6_URLS: &[&str] = &[
    "http://[::]/hook",
    "http://[::127.0.0.1]/hook",
    "http://[::7f00:1]/hook",
    "http://[::ffff:7f00:1]/hook",
    "http://[::ffff:10.0.0.1]/hook",
    "http://[::ffff:169.254.169.254]/latest/meta-data/",
    "http://[64:ff9b::7f00:1]/hook",
    "http://[64:ff9b::a9fe:a9fe]/latest/meta-data/",
    "http://[64:ff9b:1::a00:1]/hook",
    "http://[2002:7f00:1::1]/hook",
    "http://[2002:a00:1::1]/hook",
    "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook",
    "http://[fe80::1]/hook",
    "http://[fd00:ec2::254]/latest/meta-data/",
    "http://[fec0::1]/hook",
    "http://[ff02::1]/hook",
    "http://[2001:db8::1]/hook",
    "http://[3fff::1]/hook",
    "http://[100::1]/hook",
    "http://[2001:10::1]/hook",
];

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

/// An order recorded while its target was allowed (as if its DNS has changed since) is not
/// delivered once the guard is on.
async fn refused_again_at_delivery(db: Db, receiver: Receiver) {
    let open = spawn_app_with(db, |s| s.relay.signing_secret = None).await;
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

on_both_stores!(
    private_targets_are_refused_again_at_delivery,
    |db: Db| async move { refused_again_at_delivery(db, Receiver::start()).await }
);

on_both_stores!(
    ipv6_loopback_targets_are_refused_again_at_delivery,
    |db: Db| async move {
        match TcpListener::bind("[::1]:0") {
            Ok(listener) => refused_again_at_delivery(db, Receiver::start_on(listener)).await,
            Err(_) => println!("skipped: this machine has no IPv6 loopback"),
        }
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

on_both_stores!(
    private_ipv6_forms_are_refused_at_create,
    |db: Db| async move {
        let app = spawn_app_with(db, |s| s.relay.allow_private_targets = false).await;
        for url in PRIVATE_IPV6_URLS {
            let mut request = seed_create("ssrf-6");
            request["notification_url"] = json!(url);
            let answer = app.post_pagos(&request).await;
            assert_eq!(answer.status, 422, "{url}: {}", answer.text);
            assert_eq!(answer.error_fields(), ["notification_url"], "{url}");
            assert!(answer.text.contains("private"), "{url}: {}", answer.text);

            let mut request = reference_request("ssrf-6r", "https://shop.example/n");
            request["approval_url"] = json!(url);
            let answer = app.post_pagos(&request).await;
            assert_eq!(answer.status, 422, "{url}: {}", answer.text);
            assert_eq!(answer.error_fields(), ["approval_url"], "{url}");
        }
        assert!(app.conekta.received().is_empty());
    }
);

on_both_stores!(
    a_public_ipv6_literal_is_accepted_at_create,
    |db: Db| async move {
        let app = spawn_app_with(db, |s| s.relay.allow_private_targets = false).await;
        for (i, url) in [
            "http://[2606:4700::1111]/n",
            "https://[2a00:1450:4001:81c::200e]/n",
        ]
        .into_iter()
        .enumerate()
        {
            let reference_id = format!("ssrf-v6-{i}");
            let mut request = seed_create(&reference_id);
            request["notification_url"] = json!(url);
            let answer = app.post_pagos(&request).await;
            assert_eq!(answer.status, 200, "{url}: {}", answer.text);
            let order = app.conekta.orders_received().pop().unwrap();
            assert_eq!(
                order.body["metadata"]["reference_id"], reference_id,
                "{}",
                order.body
            );
        }
    }
);

on_both_stores!(
    delivers_to_an_ipv6_loopback_literal_when_private_targets_are_allowed,
    |db: Db| async move {
        let Ok(listener) = TcpListener::bind("[::1]:0") else {
            println!("skipped: this machine has no IPv6 loopback");
            return;
        };
        let receiver = Receiver::start_on(listener);
        assert!(
            receiver.url.starts_with("http://[::1]:"),
            "{}",
            receiver.url
        );
        let app = spawn_app_with(db, |s| s.relay.allow_private_targets = true).await;
        let order_id = app.create_order("ssrf-v6-loop", &receiver.url).await;
        app.post_webhook(&order_event("order.paid", &order_id, Some("paid"), 100000))
            .await;
        let delivered = receiver.wait_for(1, Duration::from_secs(10)).await;
        assert_eq!(delivered[0].body["reference_id"], "ssrf-v6-loop");
        app.wait_deliveries("delivered", 1).await;
    }
);
