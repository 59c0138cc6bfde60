//! The fake Conekta on its own, driven over HTTP as pagos drives it (no pagos here): proof that
//! it lists, pages, acts late, fails after acting, refunds and sends its events the way the
//! tests that lean on it assume.

use crate::conekta_events::{digest, ping};
use crate::fake_conekta::{Attempt, EventPlan, EventTiming, FakeConekta, Reply, Settlement};
use crate::receiver::{Answer, Delivered, Receiver};
use reqwest::Method;
use serde_json::{json, Value};
use std::net::TcpListener;
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(10);

/// A request with the headers pagos sends (a key and the API version Conekta expects).
fn conekta_request(method: Method, url: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new()
        .request(method, url)
        .bearer_auth("key_selftest")
        .header("accept", "application/vnd.conekta-v2.3.0+json")
}

async fn read(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("the fake answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON answer"))
}

async fn get_url(url: &str) -> (u16, Value) {
    read(conekta_request(Method::GET, url)).await
}

async fn get(fake: &FakeConekta, path: &str) -> (u16, Value) {
    get_url(&format!("{}{path}", fake.url)).await
}

async fn post(fake: &FakeConekta, path: &str, body: &Value) -> (u16, Value) {
    read(conekta_request(Method::POST, &format!("{}{path}", fake.url)).json(body)).await
}

/// Creates an order that must succeed; returns it.
async fn create(fake: &FakeConekta, request: &Value) -> Value {
    let (status, order) = post(fake, "/orders", request).await;
    assert_eq!(status, 200, "{order}");
    order
}

/// A HostedPayment order carrying pagos's claim, shaped as pagos sends it.
fn checkout_order(reference_id: &str, claim: &str) -> Value {
    json!({
        "currency": "MXN",
        "customer_info": {"name": "Andrés Jaro", "email": "andres@example.com", "phone": "+5215555555555"},
        "line_items": [{"name": "Zapatos", "unit_price": 100000, "quantity": 1}],
        "checkout": {"type": "HostedPayment", "allowed_payment_methods": ["card", "cash"],
                     "success_url": "https://shop.example/ok", "failure_url": "https://shop.example/ko"},
        "metadata": {"reference_id": reference_id, "pagos_claim": claim}
    })
}

/// The same order paid at once with a card.
fn card_order(reference_id: &str, claim: &str) -> Value {
    let mut order = checkout_order(reference_id, claim);
    order.as_object_mut().unwrap().remove("checkout");
    order["charges"] =
        json!([{"payment_method": {"type": "card", "token_id": "tok_test_visa_4242"}}]);
    order
}

fn listed_ids(page: &Value) -> Vec<String> {
    page["data"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_owned())
        .collect()
}

fn id_of(object: &Value) -> String {
    object["id"].as_str().unwrap().to_owned()
}

fn kinds(delivered: &[Delivered]) -> Vec<&str> {
    delivered
        .iter()
        .map(|d| d.body["type"].as_str().unwrap())
        .collect()
}

#[actix_web::test]
async fn lists_newest_first_searching_metadata_and_paging_on() {
    let fake = FakeConekta::start();
    let mut ids = Vec::new();
    for i in 1..=3 {
        let order = create(
            &fake,
            &checkout_order(&format!("ref-{i}"), &format!("clm_01aa{i}")),
        )
        .await;
        ids.push(id_of(&order));
    }

    let (status, page) = get(&fake, "/orders?limit=2").await;
    assert_eq!(status, 200);
    assert_eq!(page["object"], "list");
    assert_eq!(page["has_more"], true);
    assert_eq!(listed_ids(&page), [ids[2].as_str(), &ids[1]]);
    let next = format!("{}/orders?limit=2&next={}", fake.url, ids[1]);
    assert_eq!(page["next_page_url"], next);
    assert_eq!(page["previous_page_url"], Value::Null);
    let (_, rest) = get_url(&next).await;
    assert_eq!(listed_ids(&rest), [ids[0].as_str()]);
    assert_eq!(rest["has_more"], false);
    assert_eq!(rest["next_page_url"], Value::Null);

    // Any case, any string in metadata; the metadata comes back exactly as sent.
    let (_, found) = get(&fake, "/orders?search=CLM_01AA2").await;
    assert_eq!(listed_ids(&found), [ids[1].as_str()]);
    assert_eq!(
        found["data"][0]["metadata"],
        json!({"reference_id": "ref-2", "pagos_claim": "clm_01aa2"})
    );
    let (_, by_email) = get(&fake, "/orders?search=andres%40example").await;
    assert_eq!(listed_ids(&by_email).len(), 3);
    let searches = fake.requests_to("GET", "/orders");
    assert_eq!(
        searches[2].query_param("search").as_deref(),
        Some("CLM_01AA2")
    );
    assert_eq!(fake.violations(), Vec::<String>::new());
}

#[actix_web::test]
async fn created_at_filters_follow_the_fakes_clock_and_carry_to_the_next_page() {
    let fake = FakeConekta::start();
    fake.clock_skew(-3_600);
    let old = create(&fake, &checkout_order("old", "clm_old")).await;
    fake.clock_skew(0);
    let new = create(&fake, &checkout_order("new", "clm_new")).await;
    let now = fake.now();
    assert!((now - 2..=now).contains(&new["created_at"].as_i64().unwrap()));
    assert_eq!(new["updated_at"], new["created_at"]);

    let (_, recent) = get(&fake, &format!("/orders?created_at.gte={}", now - 60)).await;
    assert_eq!(listed_ids(&recent), [id_of(&new)]);
    let (_, older) = get(&fake, &format!("/orders?created_at.lte={}", now - 60)).await;
    assert_eq!(listed_ids(&older), [id_of(&old)]);
    let (_, exact) = get(&fake, &format!("/orders?created_at={}", old["created_at"])).await;
    assert_eq!(listed_ids(&exact), [id_of(&old)]);

    let (_, first) = get(&fake, &format!("/orders?limit=1&created_at.lte={now}")).await;
    assert_eq!(
        first["next_page_url"],
        format!(
            "{}/orders?limit=1&next={}&created_at.lte={now}",
            fake.url,
            id_of(&new)
        )
    );
    fake.pay(&id_of(&old));
    let (_, paid) = get(&fake, "/orders?payment_status=paid").await;
    assert_eq!(listed_ids(&paid), [id_of(&old)]);
}

#[actix_web::test]
async fn unknown_parameters_bad_limits_and_bad_cursors_are_violations() {
    let fake = FakeConekta::start();
    let refused = [
        "/orders?reference_id=r-1",
        "/orders?limit=0",
        "/orders?limit=251",
        "/customers?created_at.gte=1",
        "/orders?next=ord_nobody",
    ];
    for query in refused {
        let (status, error) = get(&fake, query).await;
        assert_eq!(status, 422, "{query}");
        assert_eq!(error["type"], "parameter_validation_error", "{query}");
    }
    assert_eq!(fake.violations().len(), refused.len());
    assert_eq!(get(&fake, "/orders?limit=250").await.0, 200);
}

#[actix_web::test]
async fn search_ignored_and_a_page_size_cap_make_the_caller_check_and_page() {
    let fake = FakeConekta::start();
    for i in 1..=3 {
        create(
            &fake,
            &checkout_order(&format!("ref-{i}"), &format!("clm_{i}")),
        )
        .await;
    }
    fake.search_ignored(true);
    fake.page_size_cap(1);

    let mut url = format!("{}/orders?search=clm_2&limit=250", fake.url);
    let mut claims = Vec::new();
    loop {
        let (_, page) = get_url(&url).await;
        assert_eq!(page["data"].as_array().unwrap().len(), 1);
        claims.push(page["data"][0]["metadata"]["pagos_claim"].clone());
        match page["next_page_url"].as_str() {
            Some(next) => {
                assert!(
                    next.contains("search=clm_2") && next.contains("limit=250"),
                    "{next}"
                );
                url = next.to_owned();
            }
            None => break,
        }
    }
    assert_eq!(claims, ["clm_3", "clm_2", "clm_1"]);
}

#[actix_web::test]
async fn list_replies_leave_creates_alone() {
    let fake = FakeConekta::start();
    fake.list_reply(Reply::conekta_error(
        500,
        "api_error",
        "conekta.errors.api.system.general_failure",
        "down",
    ));
    fake.list_reply_next(Reply::after_ms(300, Reply::Order));

    let started = Instant::now();
    assert_eq!(get(&fake, "/orders").await.0, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(get(&fake, "/customers").await.0, 500);
    let order = create(&fake, &checkout_order("list-1", "clm_list")).await;
    fake.list_reply(Reply::Order);
    let (_, page) = get(&fake, "/orders").await;
    assert_eq!(listed_ids(&page), [id_of(&order)]);
}

#[actix_web::test]
async fn an_order_made_late_is_listed_before_its_answer_arrives() {
    let fake = FakeConekta::start();
    fake.reply_next(Reply::act_then_after_ms(1_500));
    let create = actix_web::rt::spawn({
        let fake = fake.clone();
        async move { post(&fake, "/orders", &checkout_order("late-1", "clm_late")).await }
    });

    let deadline = Instant::now() + Duration::from_secs(1);
    let listed = loop {
        let (_, page) = get(&fake, "/orders?search=clm_late").await;
        if let Some(order) = page["data"].get(0) {
            break order.clone();
        }
        assert!(Instant::now() < deadline, "the order was not made at once");
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        !create.is_finished(),
        "the answer should still be on its way"
    );
    let (status, answered) = create.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(answered["id"], listed["id"]);
}

#[actix_web::test]
async fn a_5xx_after_acting_leaves_the_order_and_idempotency_keys_change_nothing() {
    let fake = FakeConekta::start();
    fake.reply_next(Reply::ActThenStatus(503));
    let request = checkout_order("fail-1", "clm_fail");
    let keyed = || {
        conekta_request(Method::POST, &format!("{}/orders", fake.url))
            .header("idempotency-key", "one-key")
            .json(&request)
    };

    let (status, error) = read(keyed()).await;
    assert_eq!(status, 503);
    assert_eq!(error["object"], "error");
    assert_eq!(error["type"], "api_error");
    let made = fake.orders_with_reference("fail-1");
    assert_eq!(made.len(), 1);
    assert_eq!(made[0]["metadata"]["pagos_claim"], "clm_fail");

    // Conekta keeps no idempotency keys: the same key again makes a second order.
    let (status, again) = read(keyed()).await;
    assert_eq!(status, 200);
    assert_ne!(again["id"], made[0]["id"]);
    assert_eq!(fake.orders_with_reference("fail-1").len(), 2);
}

#[actix_web::test]
async fn customers_keep_their_metadata_and_can_be_searched() {
    let fake = FakeConekta::start();
    let customer = |reference: &str, claim: &str| {
        json!({"name": "Felipe Gomez", "email": "felipe@example.com", "phone": "+5215555555555",
               "metadata": {"reference_id": reference, "pagos_claim": claim}})
    };
    let (status, made) = post(&fake, "/customers", &customer("cus-1", "clm_cus1")).await;
    assert_eq!(status, 200);
    assert_eq!(made["metadata"], customer("cus-1", "clm_cus1")["metadata"]);
    assert!(fake.now() - made["created_at"].as_i64().unwrap() <= 2);
    post(&fake, "/customers", &customer("cus-2", "clm_cus2")).await;

    let (_, found) = get(&fake, "/customers?search=clm_cus1&limit=5").await;
    assert_eq!(listed_ids(&found), [id_of(&made)]);
    assert_eq!(fake.customers_with_reference("cus-1"), [made]);
    assert_eq!(fake.customers().len(), 2);
    assert_eq!(fake.violations(), Vec::<String>::new());
}

#[actix_web::test]
async fn events_sent_before_the_answer_arrive_before_it() {
    let fake = FakeConekta::start();
    let receiver = Receiver::start();
    fake.send_events_to(&receiver.url);
    fake.events(EventPlan {
        timing: EventTiming::BeforeAnswer,
        ..EventPlan::default()
    });

    let order = create(&fake, &checkout_order("ev-1", "clm_ev1")).await;
    let answered_at = Instant::now();
    let delivered = receiver.received();
    assert_eq!(
        kinds(&delivered),
        ["order.created", "order.pending_payment"]
    );
    for event in &delivered {
        assert!(event.at < answered_at);
        assert_eq!(event.header("digest"), digest(event.raw.as_bytes()));
        assert_eq!(event.header("content-type"), "application/json");
        assert_eq!(
            event.body["data"]["object"]["metadata"]["pagos_claim"],
            "clm_ev1"
        );
    }
    let log = fake.event_log();
    assert_eq!(log[0].id, delivered[0].body["id"]);
    assert!(log
        .iter()
        .all(|record| record.order_id == Some(id_of(&order))
            && record.settlement == Settlement::Acknowledged(204)));
}

#[actix_web::test]
async fn events_may_come_twice_and_backwards() {
    let fake = FakeConekta::start();
    let receiver = Receiver::start();
    fake.send_events_to(&receiver.url);
    fake.events(EventPlan {
        timing: EventTiming::AfterAnswer,
        repeat: true,
        reorder: true,
    });

    let order = create(&fake, &card_order("ev-2", "clm_ev2")).await;
    let log = fake.wait_events_settled(WAIT).await;
    assert!(fake.events_acknowledged());
    let delivered = receiver.received();
    let backwards = [
        "order.paid",
        "charge.paid",
        "charge.created",
        "order.created",
    ];
    let twice: Vec<&str> = backwards.iter().flat_map(|kind| [*kind, *kind]).collect();
    assert_eq!(kinds(&delivered), twice);
    assert_eq!(
        log.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>(),
        twice
    );
    for copies in delivered.chunks(2) {
        assert_eq!(copies[0].raw, copies[1].raw, "a repeat is the same event");
    }
    assert_eq!(delivered[2].body["data"]["object"]["order_id"], order["id"]);
}

#[actix_web::test]
async fn an_event_answered_503_is_sent_again() {
    let fake = FakeConekta::start();
    let receiver = Receiver::start();
    receiver.answer_next(Answer::Status(503));
    receiver.answer_next(Answer::Status(200));
    fake.send_events_to(&receiver.url);
    let order = create(&fake, &checkout_order("retry-1", "clm_retry")).await;

    let paid = fake.pay(&id_of(&order));
    let id = fake.send_event("order.paid", &paid).await;
    let log = fake.wait_events_settled(WAIT).await;
    assert_eq!(
        (log[0].id.as_str(), log[0].kind.as_str()),
        (id.as_str(), "order.paid")
    );
    assert_eq!(log[0].attempts, Vec::<Attempt>::from([Ok(503), Ok(200)]));
    assert_eq!(log[0].settlement, Settlement::Acknowledged(200));
    let delivered = receiver.received();
    assert_eq!(delivered.len(), 2);
    assert_eq!(delivered[0].raw, delivered[1].raw);
    assert_eq!(
        delivered[1].body["data"]["object"]["payment_status"],
        "paid"
    );
}

#[actix_web::test]
async fn an_event_sent_while_nobody_listens_arrives_once_someone_does() {
    let fake = FakeConekta::start();
    let (url, addr) = Receiver::reserve();
    fake.send_events_to(&url);
    let id = fake.send_raw_event(ping()).await;
    assert!(fake.event_log()[0].attempts[0].is_err());

    let receiver = Receiver::start_on(TcpListener::bind(addr).unwrap());
    let log = fake.wait_events_settled(WAIT).await;
    assert_eq!(log[0].settlement, Settlement::Acknowledged(204));
    assert_eq!(receiver.received()[0].body["id"], id);
}

#[actix_web::test]
async fn refunds_are_kept_on_the_paid_charge_and_never_exceed_it() {
    let fake = FakeConekta::start();
    let order_id = id_of(&create(&fake, &checkout_order("refund-1", "clm_refund")).await);
    let path = format!("/orders/{order_id}/refunds");
    let refund = |amount: i64| json!({"amount": amount, "reason": "requested_by_client"});

    // Nothing paid, nothing to give back.
    assert_eq!(post(&fake, &path, &refund(100)).await.0, 422);
    let paid = fake.pay(&order_id);
    assert_eq!(paid["payment_status"], "paid");
    assert_eq!(paid["charges"]["data"][0]["amount"], 100_000);

    let (status, partly) = post(&fake, &path, &refund(30_000)).await;
    assert_eq!(status, 200);
    assert_eq!(partly["payment_status"], "partially_refunded");
    assert_eq!(partly["amount_refunded"], 30_000);
    let (_, fully) = post(&fake, &path, &refund(70_000)).await;
    assert_eq!(fully["payment_status"], "refunded");
    assert_eq!(fully["amount_refunded"], 100_000);
    assert_eq!(post(&fake, &path, &refund(1)).await.0, 422);

    let refunds = fake.refunds_of(&order_id);
    assert_eq!(
        fully["charges"]["data"][0]["refunds"]["data"],
        json!(refunds)
    );
    let amounts: Vec<i64> = refunds
        .iter()
        .map(|r| r["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, [-30_000, -70_000]);
    for refund in &refunds {
        assert_eq!(
            (refund["object"].as_str(), refund["status"].as_str()),
            (Some("refund"), Some("completed"))
        );
        assert!(refund["id"]
            .as_str()
            .unwrap()
            .chars()
            .all(|c| c.is_ascii_hexdigit()));
        assert_eq!(refund["id"].as_str().unwrap().len(), 24);
    }
    assert_eq!(fake.violations().len(), 2, "{:?}", fake.violations());
}
