//! Delivery to the storefront: signed per Standard Webhooks, retried, never lost, in order.

use crate::conekta_events::{charge_event, order_event};
use crate::helpers::{spawn_app, spawn_app_with, Db, ADMIN_TOKEN, SIGNING_SECRET};
use crate::on_both_stores;
use crate::receiver::{Answer, Receiver};
use std::collections::HashMap;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(15);

/// Verifies a delivery with the official Standard Webhooks library, not pagos's own code.
pub fn verify_standard_webhook(delivered: &crate::receiver::Delivered) {
    assert!(
        delivered.verifies_with(SIGNING_SECRET),
        "the notification verifies with the storefront's secret"
    );
    assert!(!delivered.verifies_with("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"));
}

on_both_stores!(
    a_paid_order_reaches_the_storefront_signed,
    |db: Db| async move {
        let app = spawn_app(db).await;
        let receiver = Receiver::start();
        let order_id = app.create_order("6588", &receiver.url).await;
        let event = order_event("order.paid", &order_id, Some("paid"), 100000);
        assert_eq!(app.post_webhook(&event).await.status, 200);

        let received = receiver.wait_for(1, WAIT).await;
        let delivered = &received[0];
        verify_standard_webhook(delivered);
        assert_eq!(delivered.header("content-type"), "application/json");
        let body = &delivered.body;
        assert_eq!(body["id"], delivered.header("webhook-id"));
        assert!(body["id"].as_str().unwrap().starts_with("msg_"));
        assert_eq!(body["type"], "order.paid");
        assert_eq!(body["provider"], "conekta");
        assert_eq!(body["provider_event_id"], event["id"]);
        assert_eq!(body["reference_id"], "6588");
        assert_eq!(body["order_id"], order_id.as_str());
        assert_eq!(body["payment_status"], "paid");
        assert_eq!(body["amount"], "1000.00");
        assert_eq!(body["amount_cents"], 100000);
        assert_eq!(body["currency"], "MXN");
        assert_eq!(body["occurred_at"], 1689366300);
        assert_eq!(body["data"], event["data"]["object"]);
        let stamp: i64 = delivered.header("webhook-timestamp").parse().unwrap();
        assert!((stamp - pagos::clock::unix_s()).abs() < 30);

        let delivered_view = app.wait_deliveries("delivered", 1).await;
        assert_eq!(delivered_view[0]["attempt_log"][0]["response_code"], 204);
    }
);

on_both_stores!(
    a_failing_receiver_gets_the_same_id_until_it_succeeds,
    |db: Db| async move {
        let app = spawn_app(db).await;
        let receiver = Receiver::start();
        receiver.answer_next(Answer::Status(500));
        receiver.answer_next(Answer::Status(503));
        let order_id = app.create_order("retry-1", &receiver.url).await;
        app.post_webhook(&order_event("order.paid", &order_id, Some("paid"), 100000))
            .await;

        let received = receiver.wait_for(3, WAIT).await;
        let ids: Vec<&str> = received.iter().map(|d| d.header("webhook-id")).collect();
        assert_eq!(ids, [ids[0]; 3], "webhook-id is stable across attempts");
        for delivered in &received {
            verify_standard_webhook(delivered);
            assert_eq!(
                delivered.raw, received[0].raw,
                "the body is stable across attempts"
            );
        }
        let view = &app.wait_deliveries("delivered", 1).await[0];
        let codes: Vec<i64> = view["attempt_log"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["response_code"].as_i64().unwrap())
            .collect();
        assert_eq!(codes, [500, 503, 204]);
        assert_eq!(view["attempts"], 3);
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(receiver.received().len(), 3, "no attempt after success");
    }
);

on_both_stores!(a_receiver_down_then_up_gets_it, |db: Db| async move {
    let app = spawn_app_with(db, |s| {
        s.relay.retry_schedule =
            pagos::relay::RetrySchedule::parse("300ms,300ms,300ms,300ms,300ms").unwrap()
    })
    .await;
    let (url, addr) = Receiver::reserve();
    let order_id = app.create_order("down-up-1", &url).await;
    assert_eq!(
        app.post_webhook(&order_event("order.paid", &order_id, Some("paid"), 100000))
            .await
            .status,
        200
    );
    // At least one attempt fails on the closed port...
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let pending = app.deliveries("pending").await;
        if pending
            .first()
            .is_some_and(|d| d["attempts"].as_i64().unwrap() >= 1)
        {
            let error = pending[0]["last_error"].as_str().unwrap_or("").to_owned();
            assert!(!error.is_empty());
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no failed attempt recorded"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    // ...then the storefront comes back on the same address.
    let receiver = Receiver::start_on(std::net::TcpListener::bind(addr).unwrap());
    let received = receiver.wait_for(1, WAIT).await;
    assert_eq!(received[0].body["reference_id"], "down-up-1");
});

on_both_stores!(status_never_moves_backwards, |db: Db| async move {
    let app = spawn_app(db).await;
    let receiver = Receiver::start();
    let order_id = app.create_order("order-1", &receiver.url).await;
    // Conekta's real order of arrival for one card payment (research notes §5.5).
    let events = [
        order_event("order.paid", &order_id, Some("paid"), 100000),
        charge_event("charge.created", &order_id, "pending_payment", 100000),
        order_event("order.updated", &order_id, None, 100000),
        order_event(
            "order.pending_payment",
            &order_id,
            Some("pending_payment"),
            100000,
        ),
        charge_event("charge.paid", &order_id, "paid", 100000),
    ];
    for event in &events {
        assert_eq!(app.post_webhook(event).await.status, 200);
    }
    let received = receiver.wait_for(events.len(), WAIT).await;
    let seen: Vec<(&str, &str)> = received
        .iter()
        .map(|d| {
            (
                d.body["type"].as_str().unwrap(),
                d.body["payment_status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("order.paid", "paid"),
            ("charge.created", "paid"),
            ("order.updated", "paid"),
            ("order.pending_payment", "paid"),
            ("charge.paid", "paid"),
        ],
        "delivered in the order taken in, and never back from paid"
    );
    // Later news that moves forward does move it: a refund.
    app.post_webhook(&order_event(
        "order.refunded",
        &order_id,
        Some("refunded"),
        100000,
    ))
    .await;
    let received = receiver.wait_for(events.len() + 1, WAIT).await;
    assert_eq!(received.last().unwrap().body["payment_status"], "refunded");
});

on_both_stores!(
    one_order_notifications_wait_for_the_earlier_one,
    |db: Db| async move {
        // The first notification fails once; the second must not overtake it.
        let app = spawn_app(db).await;
        let receiver = Receiver::start();
        receiver.answer_next(Answer::Status(500));
        let order_id = app.create_order("fifo-1", &receiver.url).await;
        app.post_webhook(&order_event(
            "order.pending_payment",
            &order_id,
            Some("pending_payment"),
            100000,
        ))
        .await;
        app.post_webhook(&order_event("order.paid", &order_id, Some("paid"), 100000))
            .await;
        let received = receiver.wait_for(3, WAIT).await;
        let types: Vec<&str> = received
            .iter()
            .map(|d| d.body["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            types,
            [
                "order.pending_payment",
                "order.pending_payment",
                "order.paid"
            ]
        );
    }
);

on_both_stores!(gone_stops_at_once, |db: Db| async move {
    let app = spawn_app(db).await;
    let receiver = Receiver::start();
    receiver.answer_always(Answer::Status(410));
    let order_id = app.create_order("gone-1", &receiver.url).await;
    app.post_webhook(&order_event("order.paid", &order_id, Some("paid"), 100000))
        .await;
    let failed = app.wait_deliveries("failed", 1).await;
    assert_eq!(failed[0]["attempts"], 1);
    assert!(failed[0]["last_error"].as_str().unwrap().contains("410"));
    actix_web::rt::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(receiver.received().len(), 1);
});

#[actix_web::test]
async fn retry_after_is_honoured() {
    let app = spawn_app(Db::Sqlite).await;
    let receiver = Receiver::start();
    receiver.answer_next(Answer::RetryAfter(503, 1));
    let order_id = app.create_order("later-1", &receiver.url).await;
    app.post_webhook(&order_event("order.paid", &order_id, Some("paid"), 100000))
        .await;
    let received = receiver.wait_for(2, WAIT).await;
    let waited = received[1].at - received[0].at;
    assert!(
        waited >= Duration::from_millis(950),
        "retried after {waited:?}, asked for 1 s"
    );
}

on_both_stores!(
    exhausted_deliveries_fail_visibly_and_can_be_sent_again,
    |db: Db| async move {
        let app = spawn_app(db).await;
        let receiver = Receiver::start();
        receiver.answer_always(Answer::Status(500));
        let order_id = app.create_order("exhaust-1", &receiver.url).await;
        app.post_webhook(&order_event("order.paid", &order_id, Some("paid"), 100000))
            .await;
        let failed = app.wait_deliveries("failed", 1).await;
        // The schedule has three delays: four attempts in all.
        assert_eq!(failed[0]["attempts"], 4);
        assert_eq!(failed[0]["attempt_log"].as_array().unwrap().len(), 4);
        assert_eq!(failed[0]["last_response_code"], 500);
        assert_eq!(failed[0]["notification"]["reference_id"], "exhaust-1");
        let metrics = app.get("/metrics").await.text;
        assert!(
            metrics.contains("pagos_relay_failed_deliveries 1"),
            "{metrics}"
        );
        assert!(
            metrics.contains("pagos_relay_attempts_total{outcome=\"failed\",storefront=\"\"} 1"),
            "{metrics}"
        );
        assert!(
            metrics.contains("pagos_relay_attempts_total{outcome=\"retry\",storefront=\"\"} 3"),
            "{metrics}"
        );

        receiver.answer_always(Answer::Status(200));
        let id = failed[0]["id"].as_str().unwrap();
        let retry = app
            .admin(
                reqwest::Method::POST,
                &format!("/admin/deliveries/{id}/retry"),
                Some(ADMIN_TOKEN),
            )
            .await;
        assert_eq!(retry.status, 202, "{}", retry.text);
        let delivered = app.wait_deliveries("delivered", 1).await;
        assert_eq!(delivered[0]["attempts"], 5);
        assert_eq!(delivered[0]["attempt_log"].as_array().unwrap().len(), 5);
        // A delivered one is sent again as it was: same webhook-id, so the storefront can
        // recognise it.
        let again = app
            .admin(
                reqwest::Method::POST,
                &format!("/admin/deliveries/{id}/retry"),
                Some(ADMIN_TOKEN),
            )
            .await;
        assert_eq!(again.status, 202, "{}", again.text);
        let received = receiver.wait_for(6, Duration::from_secs(10)).await;
        let ids: Vec<&str> = received.iter().map(|d| d.header("webhook-id")).collect();
        assert!(ids.iter().all(|seen| *seen == id), "{ids:?}");
    }
);

#[actix_web::test]
async fn the_admin_api_needs_its_token() {
    let app = spawn_app(Db::Sqlite).await;
    let none = app
        .admin(reqwest::Method::GET, "/admin/deliveries", None)
        .await;
    let wrong = app
        .admin(reqwest::Method::GET, "/admin/deliveries", Some("guess"))
        .await;
    assert_eq!((none.status, wrong.status), (401, 401));
    let bad = app
        .admin(
            reqwest::Method::GET,
            "/admin/deliveries?status=lost&limit=0",
            Some(ADMIN_TOKEN),
        )
        .await;
    assert_eq!(bad.status, 422);
    assert_eq!(bad.error_fields(), ["status", "limit"]);
    let repeated = app
        .admin(
            reqwest::Method::GET,
            "/admin/deliveries?status=failed&status=failed&limit=5&limit=6",
            Some(ADMIN_TOKEN),
        )
        .await;
    assert_eq!(repeated.status, 422, "{}", repeated.text);
    assert_eq!(repeated.content_type, "application/problem+json");
    assert_eq!(repeated.error_fields(), ["status", "limit"]);
    let missing = app
        .admin(
            reqwest::Method::POST,
            "/admin/deliveries/msg_nope/retry",
            Some(ADMIN_TOKEN),
        )
        .await;
    assert_eq!(missing.status, 404);

    let closed = spawn_app_with(Db::Sqlite, |s| s.admin.token = None).await;
    let answer = closed
        .admin(reqwest::Method::GET, "/admin/deliveries", Some(ADMIN_TOKEN))
        .await;
    assert_eq!(
        answer.status, 404,
        "without a token the admin API does not exist"
    );
}

#[actix_web::test]
async fn without_a_signing_secret_notifications_wait_in_the_store() {
    let app = spawn_app_with(Db::Sqlite, |s| s.relay.signing_secret = None).await;
    let receiver = Receiver::start();
    let order_id = app.create_order("unsigned-1", &receiver.url).await;
    assert_eq!(
        app.post_webhook(&order_event("order.paid", &order_id, Some("paid"), 100000))
            .await
            .status,
        200
    );
    actix_web::rt::time::sleep(Duration::from_millis(500)).await;
    assert!(receiver.received().is_empty(), "nothing goes out unsigned");
    assert_eq!(app.deliveries("pending").await.len(), 1);
}

on_both_stores!(
    each_storefront_hears_about_its_own_orders,
    |db: Db| async move {
        let app = spawn_app(db).await;
        let (a, b) = (Receiver::start(), Receiver::start());
        let order_a = app.create_order("shop-a-1", &a.url).await;
        let order_b = app.create_order("shop-b-1", &b.url).await;
        app.post_webhook(&order_event("order.paid", &order_a, Some("paid"), 100000))
            .await;
        app.post_webhook(&order_event(
            "order.expired",
            &order_b,
            Some("expired"),
            100000,
        ))
        .await;
        let (got_a, got_b) = (a.wait_for(1, WAIT).await, b.wait_for(1, WAIT).await);
        let summary: HashMap<&str, &str> = [
            (
                got_a[0].body["reference_id"].as_str().unwrap(),
                got_a[0].body["payment_status"].as_str().unwrap(),
            ),
            (
                got_b[0].body["reference_id"].as_str().unwrap(),
                got_b[0].body["payment_status"].as_str().unwrap(),
            ),
        ]
        .into();
        assert_eq!(
            summary,
            HashMap::from([("shop-a-1", "paid"), ("shop-b-1", "expired")])
        );
    }
);
