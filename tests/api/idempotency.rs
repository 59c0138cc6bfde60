//! A storefront that retries must not get a second order.

use crate::fake_conekta::Reply;
use crate::helpers::{seed_create, spawn_app, spawn_app_with, Db};
use crate::on_both_stores;
use serde_json::json;

on_both_stores!(a_repeat_returns_the_stored_order, |db: Db| async move {
    let app = spawn_app(db).await;
    let first = app.post_pagos(&seed_create("idem-1")).await;
    let second = app.post_pagos(&seed_create("idem-1")).await;
    assert_eq!(first.status, 200);
    assert_eq!(second.status, 200);
    assert_eq!(first.text, second.text);
    assert_eq!(app.conekta.orders_received().len(), 1);
});

on_both_stores!(different_fields_are_409_naming_them, |db: Db| async move {
    let app = spawn_app(db).await;
    assert_eq!(app.post_pagos(&seed_create("idem-2")).await.status, 200);
    let mut changed = seed_create("idem-2");
    changed["amount"] = json!("1000.01");
    changed["email"] = json!("otra@example.com");
    let answer = app.post_pagos(&changed).await;
    assert_eq!(answer.status, 409, "{}", answer.text);
    assert_eq!(answer.content_type, "application/problem+json");
    assert_eq!(
        answer.json()["type"],
        "urn:pagos:problem:idempotency-conflict"
    );
    assert_eq!(answer.error_fields(), ["amount", "email"]);
    // Same value, other spelling: not a difference.
    let mut same = seed_create("idem-2");
    same["amount"] = json!("1000.00");
    assert_eq!(app.post_pagos(&same).await.status, 200);
    assert_eq!(app.conekta.orders_received().len(), 1);
});

on_both_stores!(
    concurrent_identical_creates_make_one_order,
    |db: Db| async move {
        let app = spawn_app(db).await;
        app.conekta.reply_always(Reply::after_ms(300, Reply::Order));
        let request = seed_create("idem-3");
        let answers =
            futures_util::future::join_all((0..12).map(|_| app.post_pagos(&request))).await;
        for answer in &answers {
            assert_eq!(answer.status, 200, "{}", answer.text);
            assert_eq!(answer.text, answers[0].text);
        }
        assert_eq!(app.conekta.orders_received().len(), 1);
    }
);

on_both_stores!(each_account_has_its_own_references, |db: Db| async move {
    let app = spawn_app(db).await;
    let mut other_account = seed_create("idem-4");
    other_account["secret"] = json!("key_otraCuentaDeConekta");
    let first = app.post_pagos(&seed_create("idem-4")).await;
    let second = app.post_pagos(&other_account).await;
    assert_eq!((first.status, second.status), (200, 200));
    assert_ne!(first.json()["id"], second.json()["id"]);
    assert_eq!(app.conekta.orders_received().len(), 2);
});

on_both_stores!(a_refused_create_can_be_retried, |db: Db| async move {
    let app = spawn_app(db).await;
    app.conekta.reply_next(Reply::conekta_error(
        422,
        "parameter_validation_error",
        "conekta.errors.parameter_validation",
        "no",
    ));
    assert_eq!(app.post_pagos(&seed_create("idem-5")).await.status, 422);
    // The refusal created nothing, so the reference is free, even with other fields.
    let mut fixed = seed_create("idem-5");
    fixed["amount"] = json!(999);
    assert_eq!(app.post_pagos(&fixed).await.status, 200);
    assert_eq!(app.conekta.orders_received().len(), 2);
});

on_both_stores!(
    an_unknown_outcome_keeps_the_reference_bound,
    |db: Db| async move {
        let app = spawn_app_with(db, |s| {
            s.conekta.timeout = std::time::Duration::from_millis(300)
        })
        .await;
        app.conekta.reply_next(Reply::act_then_after_ms(1_000));
        assert_eq!(app.post_pagos(&seed_create("idem-6")).await.status, 504);
        // Conekta may have made that order: other fields stay refused...
        let mut changed = seed_create("idem-6");
        changed["amount"] = json!(5);
        assert_eq!(app.post_pagos(&changed).await.status, 409);
        // ...and the same request is answered with the order Conekta made.
        let answer = app.post_pagos(&seed_create("idem-6")).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert_eq!(app.conekta.orders_received().len(), 1);
        assert_eq!(answer.json()["id"], app.conekta.orders()[0]["id"]);
    }
);

on_both_stores!(
    an_expired_checkout_frees_the_reference,
    |db: Db| async move {
        let app = spawn_app(db).await;
        app.conekta.reply_next(Reply::ExpiredOrder);
        let first = app.post_pagos(&seed_create("idem-7")).await;
        assert_eq!(first.status, 200);
        let second = app.post_pagos(&seed_create("idem-7")).await;
        assert_eq!(second.status, 200);
        assert_ne!(first.json()["id"], second.json()["id"]);
        let sent = app.conekta.orders_received();
        assert_eq!(sent.len(), 2);
        assert_ne!(
            sent[0].header("idempotency-key"),
            sent[1].header("idempotency-key")
        );
    }
);
