//! The real binary: configuration from the environment, graceful SIGTERM, and crash safety.

use crate::binary::Pagos;
use crate::conekta_events::order_event;
use crate::fake_conekta::{FakeConekta, Reply, Settlement};
use crate::helpers::{fresh_database, seed_create, Db};
use crate::on_both_stores;
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
        .list_deliveries(&pagos::store::DeliveryFilter {
            status: Some(pagos::store::DeliveryStatus::Delivered),
            limit: 10,
            ..Default::default()
        })
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

/// A backlog queued while no relay ran, then drained by two processes at once, both claiming
/// from the same queue for the same target: every notification arrives once (the receiver
/// counts webhook-ids). Which replica sends how many is not fixed: the target's in-flight
/// limit is shared, so the first replica may hold every slot of a lone target.
#[actix_web::test]
async fn two_processes_on_one_postgres_drain_a_backlog_once_each() {
    const BACKLOG: usize = 300;
    let conekta = FakeConekta::start();
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database(Db::Postgres, &dir).await;
    // No signing secret: this process takes events and runs no relay.
    let no_relay = [("PAGOS__RELAY__SIGNING_SECRET", "")];
    let mut intake = Pagos::start_with(
        &database_url,
        &conekta,
        dir.path().join("in.log"),
        &no_relay,
    )
    .await;
    let mut events = Vec::new();
    for i in 0..BACKLOG {
        let order_id = intake.create(&format!("backlog-{i}"), &receiver.url).await;
        events.push(order_event("order.paid", &order_id, Some("paid"), 100000));
    }
    let answers = futures_util::future::join_all(events.iter().map(|e| intake.webhook(e))).await;
    assert!(answers.iter().all(|&status| status == 200), "{answers:?}");
    intake.signal("-TERM");
    let _ = intake.child.wait();
    assert!(
        receiver.received().is_empty(),
        "nothing sent without a relay"
    );

    let a = Pagos::start(&database_url, &conekta, dir.path().join("a.log")).await;
    let b = Pagos::start(&database_url, &conekta, dir.path().join("b.log")).await;
    receiver.wait_for(BACKLOG, Duration::from_secs(120)).await;
    actix_web::rt::time::sleep(Duration::from_millis(1_000)).await;
    let received = receiver.received();
    let ids: HashSet<&str> = received.iter().map(|d| d.header("webhook-id")).collect();
    assert_eq!(ids.len(), BACKLOG, "every notification arrived");
    assert_eq!(received.len(), BACKLOG, "none was sent twice");
    assert_eq!(delivered_ids(&database_url).await.len(), BACKLOG);
    let (by_a, by_b) = (
        a.log_lines_with("notification delivered"),
        b.log_lines_with("notification delivered"),
    );
    assert_eq!(
        by_a + by_b,
        BACKLOG,
        "each delivery logged once, by one replica"
    );
}

/// The ids of the notifications recorded as delivered, read straight from the store.
async fn delivered_ids(database_url: &str) -> HashSet<String> {
    use sqlx::{Connection, Row};
    sqlx::any::install_default_drivers();
    let mut conn = sqlx::AnyConnection::connect(database_url).await.unwrap();
    let rows = sqlx::query("SELECT id FROM deliveries WHERE status = 'delivered'")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    rows.iter().map(|row| row.get::<String, _>("id")).collect()
}

/// 64 notifications to one slow storefront, `kill -9` with 16 in flight, an immediate restart
/// on the same port: delivery resumes once the dead process's heartbeat is silent (3 s), not
/// when its leases lapse (20 s here).
async fn crash_with_deliveries_in_flight(db: Db) {
    const NOTIFICATIONS: usize = 64;
    let conekta = FakeConekta::start();
    let receiver = Receiver::start();
    receiver.answer_always(Answer::After(1_000, 200));
    let dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database(db, &dir).await;
    // Leases of timeout + 10 s: a stall behind them would show plainly.
    let env = [("PAGOS__RELAY__TIMEOUT_MS", "10000")];
    let mut first = Pagos::start_with(&database_url, &conekta, dir.path().join("log1"), &env).await;
    let mut events = Vec::new();
    for i in 0..NOTIFICATIONS {
        let order_id = first.create(&format!("stall-{i}"), &receiver.url).await;
        events.push(order_event("order.paid", &order_id, Some("paid"), 100000));
    }
    // All queued at once, so the kill below finds most of them still waiting.
    let answers = futures_util::future::join_all(events.iter().map(|e| first.webhook(e))).await;
    assert!(answers.iter().all(|&status| status == 200), "{answers:?}");
    // The first round answered and recorded, the second 16 in flight (answered in 1 s).
    receiver.wait_for(32, Duration::from_secs(20)).await;
    first.kill_and_read_log();
    let delivered_before = delivered_ids(&database_url).await;
    let sent_before = receiver.received().len();
    assert_eq!(
        sent_before - delivered_before.len(),
        16,
        "16 in flight at the kill"
    );

    let restarted = Instant::now();
    let _second = Pagos::start_on(
        first.port,
        &database_url,
        &conekta,
        dir.path().join("log2"),
        &env,
    )
    .await;
    let ready = restarted.elapsed();
    // Each notification not recorded delivered arrives once after the restart: the 16 in flight
    // at the kill thus arrive a second time (at-least-once allows it), no other one does.
    let expected = sent_before + NOTIFICATIONS - delivered_before.len();
    let received = receiver.wait_for(expected, Duration::from_secs(60)).await;
    let resumed = received[sent_before].at - restarted;
    eprintln!(
        "{db:?}: delivery resumed {resumed:?} after the restart (ready after {ready:?}); \
         {sent_before} notifications had arrived before the kill, {} were recorded delivered",
        delivered_before.len()
    );
    assert!(
        resumed < Duration::from_secs(10),
        "delivery resumed only {resumed:?} after the restart"
    );
    // Anything still arriving would be a duplicate: give it the time to show.
    actix_web::rt::time::sleep(Duration::from_millis(1_500)).await;
    let received = receiver.received();
    assert_eq!(
        received.len(),
        expected,
        "none sent twice after the restart"
    );
    let ids = |delivered: &[crate::receiver::Delivered]| -> HashSet<String> {
        delivered
            .iter()
            .map(|d| d.header("webhook-id").to_owned())
            .collect()
    };
    let after = ids(&received[sent_before..]);
    assert_eq!(
        after.len(),
        expected - sent_before,
        "none sent twice after the restart"
    );
    assert!(
        after.is_disjoint(&delivered_before),
        "a notification recorded delivered was sent again"
    );
    assert_eq!(
        ids(&received).len(),
        NOTIFICATIONS,
        "every notification arrived"
    );
}

on_both_stores!(
    a_crash_does_not_stall_its_targets,
    crash_with_deliveries_in_flight
);
