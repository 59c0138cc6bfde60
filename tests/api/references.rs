//! Reusable cash references: creation, Conekta's synchronous questions, payments relayed.

use crate::conekta_events::event_id;
use crate::fake_conekta::Reply;
use crate::helpers::{spawn_app, take_claim_key, Db, TestApp};
use crate::on_both_stores;
use crate::receiver::{Answer, Receiver};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

pub fn reference_request(reference_id: &str, notification_url: &str) -> Value {
    json!({
        "provider": "conekta", "action": "reference", "secret": "key_xxjg4bsD9nohnMjwaTGytA",
        "reference_id": reference_id, "notification_url": notification_url,
        "first_name": "Fulanito", "last_name": "Pérez", "email": "fulanito@example.com",
        "min_amount": "50.00", "max_amount": 10000
    })
}

async fn make_reference(app: &TestApp, request: &Value) -> Value {
    let answer = app.post_pagos(request).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.json()
}

/// Conekta's `inbound_payment.*` event, as seed 001 shows it.
pub fn question(kind: &str, reference: &str, customer_id: &str, amount: i64) -> Value {
    json!({
        "data": {"object": {
            "payment_method": {"service_name": "Cash", "barcode_url": "https://barcode/url.png",
                "object": "cash_payment", "type": "cash", "expires_at": 1541289600, "reference": reference},
            "charge_id": "5bb675388a268e0ef4a56a42", "livemode": false, "created_at": 0,
            "object": "inbound_payment", "amount": amount, "currency": "MXN", "customer_id": customer_id
        }, "previous_attributes": {}},
        "livemode": false, "webhook_status": "not_applicable", "webhook_logs": [],
        "id": event_id(), "object": "event", "type": kind, "created_at": 1531154306
    })
}

/// A payment on a reference (`charge.paid`, seed 001 step 5).
fn reference_charge(
    kind: &str,
    charge_id: &str,
    reference: &str,
    customer_id: &str,
    amount: i64,
) -> Value {
    json!({
        "data": {"object": {
            "id": charge_id, "livemode": false, "created_at": 1544120329, "currency": "MXN",
            "payment_method": {"barcode": reference, "reference": reference, "object": "cash_payment",
                "type": "cash", "store_name": "OXXO"},
            "object": "charge", "status": if kind == "charge.reversed" { "reversed" } else { "paid" },
            "amount": amount, "paid_at": 1544120362, "fee": 10150, "customer_id": customer_id
        }, "previous_attributes": {}},
        "livemode": false, "id": event_id(), "object": "event", "type": kind, "created_at": 1531154546
    })
}

on_both_stores!(
    a_reference_is_a_customer_with_a_recurrent_source,
    |db: Db| async move {
        let app = spawn_app(db).await;
        let reference =
            make_reference(&app, &reference_request("ref-1", "https://shop.example/n")).await;
        let mut sent = app.conekta.requests_to("POST", "/customers");
        assert_eq!(sent.len(), 1);
        take_claim_key(&mut sent[0].body["metadata"]);
        assert_eq!(
            sent[0].body,
            json!({"name": "Fulanito Pérez", "email": "fulanito@example.com", "phone": "+5215555555555",
               "payment_sources": [{"type": "cash_recurrent"}], "metadata": {"reference_id": "ref-1"}})
        );
        assert!(reference["customer_id"]
            .as_str()
            .unwrap()
            .starts_with("cus_"));
        assert!(reference["payment_source_id"]
            .as_str()
            .unwrap()
            .starts_with("off_ref_"));
        assert_eq!(reference["reference"], reference["barcode"]);
        assert!(reference["barcode_url"]
            .as_str()
            .unwrap()
            .starts_with("https://"));
        assert_eq!(reference["store_names"][0], "7 Eleven");
        assert_eq!(reference["provider_response"]["object"], "customer");
        // A repeat answers the same, without a second customer; other fields are a conflict.
        let again =
            make_reference(&app, &reference_request("ref-1", "https://shop.example/n")).await;
        assert_eq!(again, reference);
        let mut changed = reference_request("ref-1", "https://shop.example/n");
        changed["max_amount"] = json!(20000);
        let conflict = app.post_pagos(&changed).await;
        assert_eq!(conflict.status, 409);
        assert_eq!(conflict.error_fields(), ["max_amount"]);
        assert_eq!(app.conekta.requests_to("POST", "/customers").len(), 1);
        assert_eq!(app.conekta.violations(), Vec::<String>::new());
    }
);

#[actix_web::test]
async fn oxxo_references_with_an_expiry_and_bad_fields() {
    let app = spawn_app(Db::Sqlite).await;
    let expires_at = pagos::clock::unix_s() + 30 * 86_400;
    let mut request = reference_request("ref-oxxo", "https://shop.example/n");
    request["payment_type"] = json!("oxxo_recurrent");
    request["expires_at"] = json!(expires_at);
    let reference = make_reference(&app, &request).await;
    assert_eq!(reference["expires_at"], expires_at);
    let sent = app.conekta.requests_to("POST", "/customers").pop().unwrap();
    assert_eq!(
        sent.body["payment_sources"],
        json!([{"type": "oxxo_recurrent", "expires_at": expires_at}])
    );

    let mut bad = reference_request("ref-bad", "https://shop.example/n");
    bad["payment_type"] = json!("spei");
    bad["expires_at"] = json!(pagos::clock::unix_s() + 60);
    bad["min_amount"] = json!(500);
    bad["max_amount"] = json!(100);
    bad["approval_url"] = json!("not a url");
    let answer = app.post_pagos(&bad).await;
    assert_eq!(answer.status, 422);
    assert_eq!(
        answer.error_fields(),
        ["payment_type", "expires_at", "approval_url", "max_amount"]
    );
    assert_eq!(app.conekta.requests_to("POST", "/customers").len(), 1);
}

on_both_stores!(
    lookups_answer_from_the_stored_reference,
    |db: Db| async move {
        let app = spawn_app(db).await;
        let reference =
            make_reference(&app, &reference_request("ref-2", "https://shop.example/n")).await;
        let (number, customer) = (
            reference["reference"].as_str().unwrap(),
            reference["customer_id"].as_str().unwrap(),
        );

        let ask = |kind: &'static str, number: String, amount: i64| {
            let app = &app;
            let customer = customer.to_owned();
            async move {
                app.post_webhook(&question(kind, &number, &customer, amount))
                    .await
                    .json()
            }
        };
        assert_eq!(
            ask("inbound_payment.lookup", number.into(), 0).await,
            json!({"payable": true, "min_amount": 5000, "max_amount": 1000000})
        );
        assert_eq!(
            ask("inbound_payment.payment_attempt", number.into(), 20000).await,
            json!({"payable": true})
        );
        // 35: outside the range, either side.
        for amount in [4999, 1000001] {
            assert_eq!(
                ask("inbound_payment.payment_attempt", number.into(), amount).await,
                json!({"payable": false, "failure_code": "35"})
            );
        }
        // 16: not an amount one can pay.
        assert_eq!(
            ask("inbound_payment.payment_attempt", number.into(), 0).await,
            json!({"payable": false, "failure_code": "16"})
        );
        // 01: a reference nobody made.
        let unknown = app
            .post_webhook(&question(
                "inbound_payment.lookup",
                "99000000001273",
                "cus_nobody",
                0,
            ))
            .await;
        assert_eq!(
            unknown.json(),
            json!({"payable": false, "failure_code": "01"})
        );
        // 13: the customer was deleted at Conekta.
        let deleted = json!({"data": {"object": {"id": customer, "object": "customer"}}, "livemode": false,
                         "id": event_id(), "object": "event", "type": "customer.deleted", "created_at": 1});
        assert_eq!(app.post_webhook(&deleted).await.status, 200);
        assert_eq!(
            ask("inbound_payment.lookup", number.into(), 0).await,
            json!({"payable": false, "failure_code": "13"})
        );
    }
);

#[actix_web::test]
async fn an_expired_reference_is_declined_with_03() {
    let app = spawn_app(Db::Sqlite).await;
    // Conekta reports the source's expiry; this one has passed.
    app.conekta.reply_next(Reply::Status(
        200,
        json!({
            "id": "cus_old", "object": "customer", "livemode": false,
            "payment_sources": {"object": "list", "data": [{
                "id": "off_ref_old", "object": "payment_source", "type": "cash_recurrent",
                "reference": "93000000000077", "barcode": "93000000000077",
                "barcode_url": "https://barcodes.example/old.png", "expires_at": 1600000000
            }]}
        }),
    ));
    make_reference(
        &app,
        &reference_request("ref-old", "https://shop.example/n"),
    )
    .await;
    let answer = app
        .post_webhook(&question(
            "inbound_payment.lookup",
            "93000000000077",
            "cus_old",
            0,
        ))
        .await;
    assert_eq!(
        answer.json(),
        json!({"payable": false, "failure_code": "03"})
    );
}

on_both_stores!(
    the_approval_url_decides_when_it_answers_in_time,
    |db: Db| async move {
        let app = spawn_app(db).await;
        let approver = Receiver::start();
        let mut request = reference_request("ref-3", "https://shop.example/n");
        request["approval_url"] = json!(approver.url);
        let reference = make_reference(&app, &request).await;
        let (number, customer) = (
            reference["reference"].as_str().unwrap(),
            reference["customer_id"].as_str().unwrap(),
        );
        let attempt = || question("inbound_payment.payment_attempt", number, customer, 20000);

        // It says no, with its own code.
        approver.answer_next(Answer::Json(
            200,
            json!({"payable": false, "failure_code": "15"}),
        ));
        assert_eq!(
            app.post_webhook(&attempt()).await.json(),
            json!({"payable": false, "failure_code": "15"})
        );
        let asked = &approver.received()[0];
        crate::relay::verify_standard_webhook(asked);
        assert_eq!(asked.body["type"], "inbound_payment.payment_attempt");
        assert_eq!(asked.body["reference_id"], "ref-3");
        assert_eq!(asked.body["amount"], "200.00");
        assert_eq!(asked.body["amount_cents"], 20000);

        // It says yes.
        approver.answer_next(Answer::Json(200, json!({"payable": true})));
        assert_eq!(
            app.post_webhook(&attempt()).await.json(),
            json!({"payable": true})
        );

        // It is slow: the stored range decides, well inside Conekta's two seconds.
        approver.answer_next(Answer::After(5_000, 200));
        let started = Instant::now();
        let answer = app.post_webhook(&attempt()).await;
        let took = started.elapsed();
        assert_eq!(answer.json(), json!({"payable": true}));
        assert!(
            took >= Duration::from_millis(1_400),
            "waited only {took:?} for the storefront"
        );
        assert!(
            took < Duration::from_millis(1_900),
            "answered Conekta after {took:?}"
        );

        // It fails: the stored range decides.
        approver.answer_next(Answer::Status(500));
        let lookup = question("inbound_payment.lookup", number, customer, 0);
        assert_eq!(
            app.post_webhook(&lookup).await.json(),
            json!({"payable": true, "min_amount": 5000, "max_amount": 1000000})
        );
        // Out of range is declined without asking.
        let before = approver.received().len();
        let too_much = question(
            "inbound_payment.payment_attempt",
            number,
            customer,
            2_000_000,
        );
        assert_eq!(
            app.post_webhook(&too_much).await.json()["failure_code"],
            "35"
        );
        assert_eq!(approver.received().len(), before);
    }
);

on_both_stores!(
    each_payment_on_a_reference_is_relayed_once,
    |db: Db| async move {
        let app = spawn_app(db).await;
        let receiver = Receiver::start();
        let reference = make_reference(&app, &reference_request("ref-4", &receiver.url)).await;
        let (number, customer) = (
            reference["reference"].as_str().unwrap(),
            reference["customer_id"].as_str().unwrap(),
        );
        let payments = [
            reference_charge(
                "charge.paid",
                "5c0968098a268e02ab8aa3f1",
                number,
                customer,
                35000,
            ),
            reference_charge(
                "charge.paid",
                "5c0968098a268e02ab8aa3f2",
                number,
                customer,
                12050,
            ),
            reference_charge(
                "charge.paid",
                "5c0968098a268e02ab8aa3f3",
                number,
                customer,
                100000,
            ),
        ];
        for payment in &payments {
            assert_eq!(app.post_webhook(payment).await.json()["outcome"], "queued");
        }
        // The same event again, and the same payment under a new event id: not relayed again.
        assert_eq!(
            app.post_webhook(&payments[0]).await.json()["outcome"],
            "duplicate"
        );
        let same_payment = reference_charge(
            "charge.paid",
            "5c0968098a268e02ab8aa3f1",
            number,
            customer,
            35000,
        );
        assert_eq!(
            app.post_webhook(&same_payment).await.json()["outcome"],
            "duplicate"
        );
        // A reversal is news too.
        let reversal = reference_charge(
            "charge.reversed",
            "5c0968098a268e02ab8aa3f2",
            number,
            customer,
            12050,
        );
        assert_eq!(
            app.post_webhook(&reversal).await.json()["outcome"],
            "queued"
        );

        let received = receiver.wait_for(4, Duration::from_secs(15)).await;
        actix_web::rt::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(receiver.received().len(), 4);
        let seen: Vec<(&str, &str, &str)> = received
            .iter()
            .map(|d| {
                (
                    d.body["type"].as_str().unwrap(),
                    d.body["amount"].as_str().unwrap(),
                    d.body["payment_status"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("charge.paid", "350.00", "paid"),
                ("charge.paid", "120.50", "paid"),
                ("charge.paid", "1000.00", "paid"),
                ("charge.reversed", "120.50", "reversed"),
            ]
        );
        for delivered in &received {
            crate::relay::verify_standard_webhook(delivered);
            assert_eq!(delivered.body["reference_id"], "ref-4");
        }
    }
);
