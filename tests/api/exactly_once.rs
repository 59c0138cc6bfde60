//! One order (or customer) per claim at Conekta, whatever Conekta does: it has no idempotency
//! key, may act and answer late, answer 5xx after acting, or not be askable at all.

use crate::fake_conekta::{FakeConekta, Reply, SearchMode};
use crate::helpers::{seed_create, spawn_app, spawn_app_with, Db, TestApp};
use crate::on_both_stores;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// pagos with a 300 ms Conekta budget: a fake that answers after a second times out.
async fn impatient(db: Db) -> TestApp {
    spawn_app_with(db, |s| {
        s.conekta.timeout = std::time::Duration::from_millis(300)
    })
    .await
}

/// The only order Conekta holds for `reference_id`.
fn only_order(conekta: &FakeConekta, reference_id: &str) -> Value {
    let orders = conekta.orders_with_reference(reference_id);
    assert_eq!(orders.len(), 1, "one order at Conekta: {orders:#?}");
    orders[0].clone()
}

fn charge(reference_id: &str) -> Value {
    json!({
        "provider": "conekta", "action": "charge", "secret": "key_xxjg4bsD9nohnMjwaTGytA",
        "customer_id": "cus_2qUBQEkFJ7Kw4GVTJ", "amount": "200.15", "reference_id": reference_id,
        "notification_url": "https://shop.example/n"
    })
}

on_both_stores!(
    a_timeout_after_conekta_acted_then_a_retry_answers_that_order,
    |db: Db| async move {
        let app = impatient(db).await;
        // Conekta makes the order at once and answers after pagos stopped waiting.
        app.conekta.reply_next(Reply::act_then_after_ms(1_000));
        let first = app.post_pagos(&charge("once-1")).await;
        assert_eq!(first.status, 504, "{}", first.text);
        let retry = app.post_pagos(&charge("once-1")).await;
        assert_eq!(retry.status, 200, "{}", retry.text);
        let order = only_order(&app.conekta, "once-1");
        assert_eq!(retry.json()["id"], order["id"]);
        assert_eq!(
            app.conekta.orders_received().len(),
            1,
            "no second POST /orders"
        );
        // It was found by the attempt key pagos put in its metadata.
        let search = app.conekta.requests_to("GET", "/orders");
        assert_eq!(
            search[0].query_param("search").as_deref(),
            order["metadata"]["pagos_claim"].as_str()
        );
        // A third request is answered from the store.
        assert_eq!(app.post_pagos(&charge("once-1")).await.text, retry.text);
        assert_eq!(app.conekta.violations(), Vec::<String>::new());
    }
);

on_both_stores!(
    a_5xx_after_conekta_acted_then_a_retry_answers_that_order,
    |db: Db| async move {
        let app = spawn_app(db).await;
        app.conekta.reply_next(Reply::ActThenStatus(500));
        let first = app.post_pagos(&seed_create("once-2")).await;
        assert_eq!(first.status, 502, "{}", first.text);
        let retry = app.post_pagos(&seed_create("once-2")).await;
        assert_eq!(retry.status, 200, "{}", retry.text);
        assert_eq!(retry.json()["id"], only_order(&app.conekta, "once-2")["id"]);
        assert_eq!(app.conekta.orders_received().len(), 1);
        assert_eq!(app.conekta.violations(), Vec::<String>::new());
    }
);

on_both_stores!(
    a_retry_made_while_conekta_still_acts_waits_and_finds_it,
    |db: Db| async move {
        let app = spawn_app(db).await;
        // The first attempt's order appears at Conekta only after a second.
        app.conekta.reply_next(Reply::ActThenStatus(503));
        app.conekta.list_reply_next(Reply::Status(
            200,
            json!({"object": "list", "has_more": false, "data": []}),
        ));
        app.conekta.list_reply_next(Reply::Status(
            200,
            json!({"object": "list", "has_more": false, "data": []}),
        ));
        assert_eq!(app.post_pagos(&seed_create("once-3")).await.status, 502);
        // Right after a 5xx, nothing found proves nothing yet: pagos looks again once the
        // attempt is a whole budget old, and then finds the order.
        let started = Instant::now();
        let retry = app.post_pagos(&seed_create("once-3")).await;
        assert_eq!(retry.status, 200, "{}", retry.text);
        assert!(
            started.elapsed() >= Duration::from_millis(1_500),
            "waited out the budget"
        );
        assert_eq!(retry.json()["id"], only_order(&app.conekta, "once-3")["id"]);
        assert_eq!(app.conekta.orders_received().len(), 1);
        assert_eq!(app.conekta.violations(), Vec::<String>::new());
    }
);

on_both_stores!(
    a_search_that_ignores_metadata_is_not_trusted,
    |db: Db| async move {
        let app = spawn_app(db).await;
        // Other orders of the account, made meanwhile.
        for i in 0..3 {
            assert_eq!(
                app.post_pagos(&seed_create(&format!("other-{i}")))
                    .await
                    .status,
                200
            );
        }
        app.conekta.search_mode(SearchMode::BlindToMetadata);
        app.conekta.page_size_cap(1);
        app.conekta.reply_next(Reply::ActThenStatus(500));
        assert_eq!(app.post_pagos(&seed_create("once-4")).await.status, 502);
        for i in 4..6 {
            assert_eq!(
                app.post_pagos(&seed_create(&format!("other-{i}")))
                    .await
                    .status,
                200
            );
        }
        // The search finds nothing; every order since the attempt is read, page by page.
        let retry = app.post_pagos(&seed_create("once-4")).await;
        assert_eq!(retry.status, 200, "{}", retry.text);
        assert_eq!(retry.json()["id"], only_order(&app.conekta, "once-4")["id"]);
        assert!(app.conekta.requests_to("GET", "/orders").len() > 2, "paged");
        assert_eq!(app.conekta.violations(), Vec::<String>::new());
    }
);

on_both_stores!(
    when_conekta_cannot_be_asked_nothing_new_is_made,
    |db: Db| async move {
        let app = spawn_app(db).await;
        app.conekta.reply_next(Reply::ActThenStatus(500));
        assert_eq!(app.post_pagos(&seed_create("once-5")).await.status, 502);
        app.conekta.list_reply(Reply::ActThenStatus(500));
        let retry = app.post_pagos(&seed_create("once-5")).await;
        assert_eq!(retry.status, 502, "{}", retry.text);
        assert_eq!(app.conekta.orders_received().len(), 1);
        // Once Conekta can be asked again, the order made the first time is the answer.
        app.conekta.list_reply(Reply::Order);
        let later = app.post_pagos(&seed_create("once-5")).await;
        assert_eq!(later.status, 200, "{}", later.text);
        assert_eq!(later.json()["id"], only_order(&app.conekta, "once-5")["id"]);
        assert_eq!(app.conekta.violations(), Vec::<String>::new());
    }
);

on_both_stores!(
    positively_nothing_made_means_one_new_order,
    |db: Db| async move {
        let app = impatient(db).await;
        // The first request never became an order (Conekta dropped it after a long wait).
        app.conekta.reply_next(Reply::after_ms(
            1_000,
            Reply::conekta_error(500, "api_error", "conekta.errors.api", "lost"),
        ));
        assert_eq!(app.post_pagos(&seed_create("once-6")).await.status, 504);
        let retry = app.post_pagos(&seed_create("once-6")).await;
        assert_eq!(retry.status, 200, "{}", retry.text);
        assert_eq!(app.conekta.orders_received().len(), 2);
        assert_eq!(only_order(&app.conekta, "once-6")["id"], retry.json()["id"]);
        // Both attempts carried the same attempt key: a late first order would be found too.
        let sent = app.conekta.orders_received();
        assert_eq!(
            sent[0].body["metadata"]["pagos_claim"],
            sent[1].body["metadata"]["pagos_claim"]
        );
        assert_eq!(app.conekta.violations(), Vec::<String>::new());
    }
);

on_both_stores!(
    concurrent_identical_references_make_one_customer,
    |db: Db| async move {
        let app = spawn_app(db).await;
        app.conekta.reply_always(Reply::after_ms(300, Reply::Order));
        let request = json!({
            "provider": "conekta", "action": "reference", "secret": "key_xxjg4bsD9nohnMjwaTGytA",
            "reference_id": "cliente-5", "notification_url": "https://shop.example/n",
            "first_name": "Fulanito", "last_name": "Pérez", "email": "fulanito@example.com"
        });
        let answers =
            futures_util::future::join_all((0..5).map(|_| app.post_pagos(&request))).await;
        for answer in &answers {
            assert_eq!(answer.status, 200, "{}", answer.text);
            assert_eq!(answer.text, answers[0].text);
        }
        assert_eq!(app.conekta.customers().len(), 1);
        // The reference every caller got is the one Conekta will ask about.
        let first = answers[0].json();
        let lookup = crate::references::question(
            "inbound_payment.lookup",
            first["reference"].as_str().unwrap(),
            first["customer_id"].as_str().unwrap(),
            5_000,
        );
        let answer = app.post_webhook(&lookup).await;
        assert_eq!(answer.json()["payable"], true, "{}", answer.text);
        assert_eq!(app.conekta.violations(), Vec::<String>::new());
    }
);

on_both_stores!(
    a_reference_after_an_unknown_outcome_adopts_the_customer,
    |db: Db| async move {
        let app = spawn_app(db).await;
        app.conekta.reply_next(Reply::ActThenStatus(502));
        let request = json!({
            "provider": "conekta", "action": "reference", "secret": "key_xxjg4bsD9nohnMjwaTGytA",
            "reference_id": "cliente-6", "notification_url": "https://shop.example/n",
            "first_name": "Fulanito", "last_name": "Pérez", "email": "fulanito@example.com"
        });
        assert_eq!(app.post_pagos(&request).await.status, 502);
        let retry = app.post_pagos(&request).await;
        assert_eq!(retry.status, 200, "{}", retry.text);
        let customers = app.conekta.customers_with_reference("cliente-6");
        assert_eq!(customers.len(), 1);
        assert_eq!(retry.json()["customer_id"], customers[0]["id"]);
        assert_eq!(app.conekta.violations(), Vec::<String>::new());
    }
);
