//! The real binary killed with -9 at the worst moments, against a Conekta that acts before it
//! answers (or answers 5xx after acting), sends events before its answers, repeats and reorders
//! them: no order made twice, no payment news lost.

use crate::binary::Pagos;
use crate::fake_conekta::{EventPlan, EventTiming, FakeConekta, Reply, Settlement};
use crate::helpers::{fresh_database, seed_create, Db};
use crate::receiver::Receiver;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn charge(reference_id: &str, notification_url: &str) -> Value {
    json!({
        "provider": "conekta", "action": "charge", "secret": "key_xxjg4bsD9nohnMjwaTGytA",
        "customer_id": "cus_2qUBQEkFJ7Kw4GVTJ", "amount": "200.15", "reference_id": reference_id,
        "notification_url": notification_url
    })
}

/// Posts to `/pagos` until it answers 200, as a storefront that retries would; the answer.
async fn until_answered(client: &reqwest::Client, base: &str, request: &Value) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let sent = client
            .post(format!("{base}/pagos"))
            .json(request)
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        if let Ok(response) = sent {
            if response.status() == 200 {
                return response.json().await.unwrap();
            }
        }
        assert!(Instant::now() < deadline, "never answered: {request}");
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn wait_until(what: &str, within: Duration, done: impl Fn() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn killed_while_charges_wait_then_retried(db: Db) {
    const CHARGES: usize = 10;
    let conekta = FakeConekta::start();
    // Conekta charges at once and answers late: pagos dies while every charge waits.
    conekta.reply_always(Reply::act_then_after_ms(4_000));
    let dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database(db, &dir).await;
    let env = [("PAGOS__CONEKTA__TIMEOUT_MS", "6000")];
    let first = Pagos::start_with(&database_url, &conekta, dir.path().join("a.log"), &env).await;
    let client = reqwest::Client::new();
    let reference = |i: usize| format!("kill-{i}");
    let waiting: Vec<_> = (0..CHARGES)
        .map(|i| {
            let request = client
                .post(format!("{}/pagos", first.base))
                .json(&charge(&reference(i), "https://shop.example/n"))
                .send();
            actix_web::rt::spawn(request)
        })
        .collect();
    wait_until(
        "every charge made at Conekta",
        Duration::from_secs(20),
        || conekta.orders().len() == CHARGES,
    )
    .await;
    first.signal("-KILL");
    let port = first.port;
    drop(first);
    for request in waiting {
        assert!(
            request.await.unwrap().is_err(),
            "no answer from a killed process"
        );
    }

    // The storefront retries at once, against the restarted process.
    conekta.reply_always(Reply::Order);
    let second = Pagos::start_on(
        port,
        &database_url,
        &conekta,
        dir.path().join("b.log"),
        &env,
    )
    .await;
    let started = Instant::now();
    let retries = (0..CHARGES).map(|i| {
        let client = client.clone();
        let url = format!("{}/pagos", second.base);
        async move {
            client
                .post(url)
                .json(&charge(&reference(i), "https://shop.example/n"))
                .timeout(Duration::from_secs(10))
                .send()
                .await
                .expect("answered within a storefront's 10 s")
        }
    });
    let answers = futures_util::future::join_all(retries).await;
    let took = started.elapsed();
    for (i, answer) in answers.into_iter().enumerate() {
        assert_eq!(answer.status(), 200);
        let order: Value = answer.json().await.unwrap();
        let made = conekta.orders_with_reference(&reference(i));
        assert_eq!(made.len(), 1, "{} charged once", reference(i));
        assert_eq!(order["id"], made[0]["id"]);
    }
    assert_eq!(
        conekta.orders_received().len(),
        CHARGES,
        "no second POST /orders"
    );
    assert!(
        took < Duration::from_secs(8),
        "retries answered in {took:?}"
    );
    assert_eq!(conekta.violations(), Vec::<String>::new());
}

#[actix_web::test]
async fn killed_while_charges_wait_then_retried_on_sqlite() {
    killed_while_charges_wait_then_retried(Db::Sqlite).await;
}

#[actix_web::test]
async fn killed_while_charges_wait_then_retried_on_postgres() {
    killed_while_charges_wait_then_retried(Db::Postgres).await;
}

/// How the chaos went, for the assertion messages.
#[derive(Debug, Default)]
struct Tally {
    references: usize,
    orders: usize,
    doubled_orders: Vec<String>,
    events_acknowledged: usize,
    lost: usize,
    lost_events: Vec<String>,
    notifications: usize,
    repeated_notifications: usize,
}

async fn chaos(db: Db) {
    const REFERENCES: usize = 200;
    const KILLS: usize = 3;
    const STOREFRONT_WORKERS: usize = 8;
    let conekta = FakeConekta::start();
    let receiver = Receiver::start();
    // Some creates answer late or 5xx after acting; every order's events come before its
    // answer, twice each and in reverse order.
    for i in 0..REFERENCES {
        conekta.reply_next(match i % 10 {
            3 => Reply::act_then_after_ms(1_500),
            6 => Reply::ActThenStatus(500),
            8 => Reply::ActThenStatus(503),
            _ => Reply::Order,
        });
    }
    conekta.events(EventPlan {
        timing: EventTiming::BeforeAnswer,
        repeat: true,
        reorder: true,
    });
    let dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database(db, &dir).await;
    let env = [("PAGOS__CONEKTA__TIMEOUT_MS", "1000")];
    let mut pagos =
        Pagos::start_with(&database_url, &conekta, dir.path().join("0.log"), &env).await;
    let port = pagos.port;
    let base = pagos.base.clone();
    conekta.send_events_to(&format!("{base}/webhooks/conekta"));

    let answered = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..STOREFRONT_WORKERS)
        .map(|_| {
            let (answered, next, base) = (answered.clone(), next.clone(), base.clone());
            let notify = receiver.url.clone();
            actix_web::rt::spawn(async move {
                let client = reqwest::Client::new();
                let mut answers = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= REFERENCES {
                        return answers;
                    }
                    let reference = format!("chaos-{i}");
                    let request = if i % 2 == 0 {
                        let mut create = seed_create(&reference);
                        create["notification_url"] = json!(notify);
                        create
                    } else {
                        charge(&reference, &notify)
                    };
                    let order = until_answered(&client, &base, &request).await;
                    answered.fetch_add(1, Ordering::SeqCst);
                    answers.push((reference, order["id"].as_str().unwrap().to_owned()));
                }
            })
        })
        .collect();

    for kill in 1..=KILLS {
        let at = REFERENCES * kill / (KILLS + 1);
        wait_until("storefront progress", Duration::from_secs(120), || {
            answered.load(Ordering::SeqCst) >= at
        })
        .await;
        pagos.signal("-KILL");
        drop(pagos);
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        let log = dir.path().join(format!("{kill}.log"));
        pagos = Pagos::start_on(port, &database_url, &conekta, log, &env).await;
    }
    let mut answers = Vec::new();
    for worker in workers {
        answers.extend(worker.await.unwrap());
    }

    let log = conekta.wait_events_settled(Duration::from_secs(90)).await;
    let mut tally = Tally {
        references: answers.len(),
        ..Tally::default()
    };
    let mut our_orders = HashSet::new();
    for (reference, answered_id) in &answers {
        let made = conekta.orders_with_reference(reference);
        tally.orders += made.len();
        if made.len() != 1 || made[0]["id"] != answered_id.as_str() {
            tally.doubled_orders.push(reference.clone());
        }
        our_orders.extend(made.iter().map(|o| o["id"].as_str().unwrap().to_owned()));
    }
    let acknowledged: HashSet<String> = log
        .iter()
        .filter(|e| matches!(e.settlement, Settlement::Acknowledged(_)))
        .filter(|e| e.order_id.as_ref().is_some_and(|o| our_orders.contains(o)))
        .map(|e| e.id.clone())
        .collect();
    assert!(
        log.iter().all(|e| e.settlement != Settlement::GaveUp),
        "Conekta gave up on an event"
    );
    tally.events_acknowledged = acknowledged.len();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let delivered: HashSet<String> = receiver
            .received()
            .iter()
            .filter_map(|d| d.body["provider_event_id"].as_str().map(str::to_owned))
            .collect();
        // A few ids are enough to look into; the count says how many.
        tally.lost_events = acknowledged.difference(&delivered).cloned().collect();
        tally.lost = tally.lost_events.len();
        tally.lost_events.truncate(5);
        if tally.lost_events.is_empty() || Instant::now() > deadline {
            break;
        }
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
    }
    let received = receiver.received();
    tally.notifications = received.len();
    let mut per_id: HashMap<&str, usize> = HashMap::new();
    for delivered in &received {
        *per_id.entry(delivered.header("webhook-id")).or_default() += 1;
    }
    tally.repeated_notifications = per_id.values().filter(|n| **n > 1).count();
    eprintln!("chaos on {db:?}: {tally:?}");
    assert_eq!(tally.references, REFERENCES);
    assert!(tally.doubled_orders.is_empty(), "{tally:?}");
    assert_eq!(tally.orders, REFERENCES, "{tally:?}");
    assert_eq!(tally.lost, 0, "{tally:?}");
    assert!(tally.events_acknowledged >= REFERENCES * 2, "{tally:?}");
    assert_eq!(conekta.violations(), Vec::<String>::new());
}

#[actix_web::test]
async fn chaos_on_sqlite() {
    chaos(Db::Sqlite).await;
}

#[actix_web::test]
async fn chaos_on_postgres() {
    chaos(Db::Postgres).await;
}
