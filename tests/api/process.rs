//! The real binary: configuration from the environment, graceful SIGTERM, and crash safety.

use crate::binary::Pagos;
use crate::conekta_events::order_event;
use crate::fake_conekta::{FakeConekta, Reply, Settlement};
use crate::helpers::{fresh_database, seed_create, Db};
use crate::receiver::{Answer, Receiver};
use std::collections::HashSet;
use std::time::{Duration, Instant};

#[actix_web::test]
async fn sigterm_lets_the_request_in_flight_finish_then_exits_0() {
    let conekta = FakeConekta::start();
    conekta.reply_always(Reply::after_ms(800, Reply::Order));
    let dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database(Db::Sqlite, &dir).await;
    let mut pagos = Pagos::start(&database_url, &conekta, dir.path().join("log")).await;

    let request = reqwest::Client::new()
        .post(format!("{}/pagos", pagos.base))
        .json(&seed_create("term-1"))
        .send();
    let in_flight = actix_web::rt::spawn(request);
    // Let the request reach Conekta, then ask pagos to stop.
    let deadline = Instant::now() + Duration::from_secs(10);
    while conekta.orders_received().is_empty() && Instant::now() < deadline {
        actix_web::rt::time::sleep(Duration::from_millis(10)).await;
    }
    pagos.signal("-TERM");

    let answer = in_flight
        .await
        .unwrap()
        .expect("the request in flight is answered");
    assert_eq!(answer.status(), 200);
    assert_eq!(pagos.child.wait().unwrap().code(), Some(0));
}

#[actix_web::test]
async fn sigterm_lets_a_delivery_in_flight_finish() {
    let conekta = FakeConekta::start();
    let receiver = Receiver::start();
    receiver.answer_always(Answer::After(1_000, 200));
    let dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database(Db::Sqlite, &dir).await;
    let mut pagos = Pagos::start(&database_url, &conekta, dir.path().join("log")).await;
    let order_id = pagos.create("term-2", &receiver.url).await;
    assert_eq!(
        pagos
            .webhook(&order_event("order.paid", &order_id, Some("paid"), 100000))
            .await,
        200
    );
    receiver.wait_for(1, Duration::from_secs(10)).await;

    pagos.signal("-TERM");
    assert_eq!(pagos.child.wait().unwrap().code(), Some(0));
    // The answer that came after SIGTERM was still recorded.
    let store = pagos::store::Store::connect(&database_url.into())
        .await
        .unwrap();
    let delivered = store
        .list_deliveries(Some(pagos::store::DeliveryStatus::Delivered), 10)
        .await
        .unwrap();
    assert_eq!(delivered.len(), 1);
    assert_eq!(receiver.received().len(), 1);
}

async fn acknowledged_events_survive_kill_9(db: Db) {
    let conekta = FakeConekta::start();
    let dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database(db, &dir).await;
    let (url, addr) = Receiver::reserve();
    let first = Pagos::start(&database_url, &conekta, dir.path().join("log1")).await;
    let order_id = first.create("crash-1", &url).await;
    // Conekta hears 2xx while the storefront is down...
    assert_eq!(
        first
            .webhook(&order_event("order.paid", &order_id, Some("paid"), 100000))
            .await,
        200
    );
    // ...and pagos dies without any chance to clean up.
    first.signal("-KILL");
    drop(first);

    let receiver = Receiver::start_on(std::net::TcpListener::bind(addr).unwrap());
    let _second = Pagos::start(&database_url, &conekta, dir.path().join("log2")).await;
    let received = receiver.wait_for(1, Duration::from_secs(40)).await;
    assert_eq!(received[0].body["reference_id"], "crash-1");
    assert_eq!(received[0].body["payment_status"], "paid");
}

#[actix_web::test]
async fn acknowledged_events_survive_kill_9_on_sqlite() {
    acknowledged_events_survive_kill_9(Db::Sqlite).await;
}

#[actix_web::test]
async fn acknowledged_events_survive_kill_9_on_postgres() {
    acknowledged_events_survive_kill_9(Db::Postgres).await;
}

#[actix_web::test]
async fn an_event_conekta_sent_while_pagos_was_down_arrives_when_it_is_back_on_its_port() {
    let conekta = FakeConekta::start();
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database(Db::Sqlite, &dir).await;
    let mut first = Pagos::start(&database_url, &conekta, dir.path().join("log1")).await;
    conekta.send_events_to(&format!("{}/webhooks/conekta", first.base));
    let order_id = first.create("back-1", &receiver.url).await;
    let paid = conekta.pay(&order_id);
    first.kill_and_read_log();

    // Conekta finds nobody there, and keeps trying.
    conekta.send_event("order.paid", &paid).await;
    let _second = Pagos::start_on(
        first.port,
        &database_url,
        &conekta,
        dir.path().join("log2"),
        &[],
    )
    .await;
    let log = conekta.wait_events_settled(Duration::from_secs(20)).await;
    assert!(log[0].attempts[0].is_err(), "{log:?}");
    assert_eq!(log[0].settlement, Settlement::Acknowledged(200));
    let received = receiver.wait_for(1, Duration::from_secs(10)).await;
    assert_eq!(received[0].body["reference_id"], "back-1");
    assert_eq!(received[0].body["payment_status"], "paid");
}

#[actix_web::test]
async fn two_processes_on_one_postgres_deliver_500_once_each() {
    const ORDERS: usize = 100;
    const EVENTS_PER_ORDER: usize = 5;
    let conekta = FakeConekta::start();
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database(Db::Postgres, &dir).await;
    let a = Pagos::start(&database_url, &conekta, dir.path().join("a.log")).await;
    let b = Pagos::start(&database_url, &conekta, dir.path().join("b.log")).await;

    let mut events = Vec::new();
    for i in 0..ORDERS {
        let order_id = a.create(&format!("pair-{i}"), &receiver.url).await;
        for kind in [
            "order.created",
            "charge.created",
            "order.updated",
            "order.paid",
            "charge.paid",
        ]
        .iter()
        .take(EVENTS_PER_ORDER)
        {
            events.push(order_event(kind, &order_id, None, 100000));
        }
    }
    // Conekta's deliveries land on either replica.
    for (i, event) in events.iter().enumerate() {
        let replica = if i % 2 == 0 { &a } else { &b };
        assert_eq!(replica.webhook(event).await, 200);
    }
    let total = ORDERS * EVENTS_PER_ORDER;
    let received = receiver.wait_for(total, Duration::from_secs(120)).await;
    actix_web::rt::time::sleep(Duration::from_millis(1_000)).await;
    let received_now = receiver.received();
    let ids: HashSet<&str> = received_now
        .iter()
        .map(|d| d.header("webhook-id"))
        .collect();
    assert_eq!(ids.len(), total, "every notification arrived");
    assert_eq!(received_now.len(), total, "none was sent twice");
    assert!(received.len() >= total);
    let (by_a, by_b) = (
        a.log_lines_with("notification delivered"),
        b.log_lines_with("notification delivered"),
    );
    assert_eq!(by_a + by_b, total);
    assert!(
        by_a > 0 && by_b > 0,
        "both replicas delivered: {by_a} and {by_b}"
    );
}
