//! The operator's view of notifications: one by id, filters (an unknown one is refused), sending
//! a delivered one again under its `webhook-id`, and recovering every failure since a moment.

use crate::conekta_events::order_event;
use crate::helpers::{spawn_app, Db, TestApp, ADMIN_TOKEN};
use crate::on_both_stores;
use crate::receiver::{Answer, Receiver};
use reqwest::Method;
use serde_json::Value;
use std::time::Duration;

async fn admin_json(app: &TestApp, method: Method, path: &str, status: u16) -> Value {
    let answer = app.admin(method, path, Some(ADMIN_TOKEN)).await;
    assert_eq!(answer.status, status, "{path}: {}", answer.text);
    answer.json()
}

on_both_stores!(
    operators_filter_read_and_recover_notifications,
    |db: Db| async move {
        let app = spawn_app(db).await;
        let (up, down) = (Receiver::start(), Receiver::start());
        down.answer_always(Answer::Status(503));
        let delivered_order = app.create_order("adm-1", &up.url).await;
        let failing_order = app.create_order("adm-2", &down.url).await;
        for order in [&delivered_order, &failing_order] {
            let event = order_event("order.paid", order, Some("paid"), 100000);
            assert_eq!(app.post_webhook(&event).await.status, 200);
        }
        let failed = app.wait_deliveries("failed", 1).await;
        app.wait_deliveries("delivered", 1).await;

        let by_reference = admin_json(
            &app,
            Method::GET,
            "/admin/deliveries?reference_id=adm-1",
            200,
        )
        .await;
        let listed = by_reference["deliveries"].as_array().unwrap();
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0]["reference_id"], "adm-1");
        assert_eq!(listed[0]["status"], "delivered");
        // `target`: the URL itself, or its origin.
        let origin = down.url.trim_end_matches("/pagos/notify");
        for target in [down.url.as_str(), origin] {
            let path = format!("/admin/deliveries?target={}", urlencode(target));
            let found = admin_json(&app, Method::GET, &path, 200).await;
            let found = found["deliveries"].as_array().unwrap();
            assert_eq!(found.len(), 1, "{target}");
            assert_eq!(found[0]["reference_id"], "adm-2");
        }
        let unknown = app
            .admin(
                Method::GET,
                "/admin/deliveries?colour=red&status=failed",
                Some(ADMIN_TOKEN),
            )
            .await;
        assert_eq!(unknown.status, 422, "{}", unknown.text);
        assert_eq!(unknown.error_fields(), ["colour"]);

        // One notification, with every attempt.
        let id = failed[0]["id"].as_str().unwrap();
        let one = admin_json(&app, Method::GET, &format!("/admin/deliveries/{id}"), 200).await;
        assert_eq!(one["id"], id);
        assert_eq!(one["attempt_log"].as_array().unwrap().len(), 4);
        assert_eq!(one["last_response_code"], 503);
        let missing = app
            .admin(Method::GET, "/admin/deliveries/msg_nope", Some(ADMIN_TOKEN))
            .await;
        assert_eq!(missing.status, 404);

        // Recover: `since` is required and checked; every failure since then goes again.
        let bad = app
            .admin(
                Method::POST,
                "/admin/deliveries/recover?since=soon",
                Some(ADMIN_TOKEN),
            )
            .await;
        assert_eq!(
            (bad.status, bad.error_fields()),
            (422, vec!["since".to_owned()])
        );
        let none = app
            .admin(Method::POST, "/admin/deliveries/recover", Some(ADMIN_TOKEN))
            .await;
        assert_eq!(
            (none.status, none.error_fields()),
            (422, vec!["since".to_owned()])
        );
        let later = pagos::clock::unix_s() + 3600;
        let nothing = admin_json(
            &app,
            Method::POST,
            &format!("/admin/deliveries/recover?since={later}"),
            200,
        )
        .await;
        assert_eq!(nothing["requeued"], 0);
        down.answer_always(Answer::Status(200));
        let recovered = admin_json(
            &app,
            Method::POST,
            "/admin/deliveries/recover?since=2020-01-01T00:00:00-06:00",
            200,
        )
        .await;
        assert_eq!(recovered["requeued"], 1);
        app.wait_deliveries("delivered", 2).await;
        assert!(app.deliveries("failed").await.is_empty());

        // A pending notification cannot be queued twice.
        down.answer_always(Answer::After(3_000, 200));
        let again = admin_json(
            &app,
            Method::POST,
            &format!("/admin/deliveries/{id}/retry"),
            202,
        )
        .await;
        assert_eq!(again["status"], "pending");
        let twice = app
            .admin(
                Method::POST,
                &format!("/admin/deliveries/{id}/retry"),
                Some(ADMIN_TOKEN),
            )
            .await;
        assert_eq!(twice.status, 409, "{}", twice.text);
        let resent = down.wait_for(6, Duration::from_secs(10)).await;
        assert!(resent.iter().all(|d| d.header("webhook-id") == id));
    }
);

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// An app whose paid orders' notifications, one per reference, were delivered and then stored
/// as an older release wrote them: without their `reference_id`. The receiver stays up.
async fn delivered_as_an_older_release_wrote_them<const N: usize>(
    db: Db,
    references: [&str; N],
) -> (TestApp, Receiver) {
    let app = spawn_app(db).await;
    let up = Receiver::start();
    for reference in references {
        let order = app.create_order(reference, &up.url).await;
        let event = order_event("order.paid", &order, Some("paid"), 100000);
        assert_eq!(app.post_webhook(&event).await.status, 200);
    }
    app.wait_deliveries("delivered", N).await;
    let pool = sqlx::AnyPool::connect(&app.database_url).await.unwrap();
    sqlx::query("UPDATE deliveries SET reference_id = NULL")
        .execute(&pool)
        .await
        .unwrap();
    (app, up)
}

on_both_stores!(
    notifications_queued_before_the_upgrade_get_their_reference,
    |db: Db| async move {
        let (app, _receiver) =
            delivered_as_an_older_release_wrote_them(db, ["adm-old", "adm-old-2"]).await;
        let path = "/admin/deliveries?reference_id=adm-old";
        let before = admin_json(&app, Method::GET, path, 200).await;
        assert!(before["deliveries"].as_array().unwrap().is_empty());
        // One batch fills in every row it read, each from its own body.
        assert_eq!(app.app_store.fill_reference_ids(500).await.unwrap(), 2);
        assert_eq!(app.app_store.fill_reference_ids(500).await.unwrap(), 0);
        for reference in ["adm-old", "adm-old-2"] {
            let path = format!("/admin/deliveries?reference_id={reference}");
            let after = admin_json(&app, Method::GET, &path, 200).await;
            assert_eq!(after["deliveries"].as_array().unwrap().len(), 1, "{after}");
            assert_eq!(after["deliveries"][0]["reference_id"], reference);
        }
    }
);

/// On PostgreSQL the fill takes no row another transaction is writing (a relay's record batch
/// writes several in its own order: waiting for them deadlocked): that one waits for a later pass.
#[actix_web::test]
async fn filling_in_reference_ids_leaves_a_notification_being_written_for_a_later_pass() {
    let (app, _receiver) =
        delivered_as_an_older_release_wrote_them(Db::Postgres, ["adm-busy", "adm-free"]).await;
    let pool = sqlx::PgPool::connect(&app.database_url).await.unwrap();
    // Another transaction holds one notification's row.
    let mut writing = pool.begin().await.unwrap();
    sqlx::query("SELECT id FROM deliveries WHERE body LIKE '%adm-busy%' FOR UPDATE")
        .fetch_one(&mut *writing)
        .await
        .unwrap();
    let filled = tokio::time::timeout(
        Duration::from_secs(5),
        app.app_store.fill_reference_ids(500),
    )
    .await
    .expect("the fill does not wait for the row's lock");
    assert_eq!(filled.unwrap(), 1);
    writing.rollback().await.unwrap();
    assert_eq!(app.app_store.fill_reference_ids(500).await.unwrap(), 1);
    assert_eq!(app.app_store.fill_reference_ids(500).await.unwrap(), 0);
    let references: Vec<String> =
        sqlx::query_scalar("SELECT reference_id FROM deliveries ORDER BY reference_id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(references, ["adm-busy", "adm-free"]);
}

on_both_stores!(
    a_notification_held_by_an_earlier_one_says_which,
    |db: Db| async move {
        let app = spawn_app(db).await;
        let slow = Receiver::start();
        slow.answer_next(Answer::After(1_500, 200));
        let order = app.create_order("adm-fifo", &slow.url).await;
        for (kind, status) in [
            ("order.pending_payment", "pending_payment"),
            ("order.paid", "paid"),
        ] {
            let event = order_event(kind, &order, Some(status), 100000);
            assert_eq!(app.post_webhook(&event).await.status, 200);
        }
        let pending = app.deliveries("pending").await;
        assert_eq!(pending.len(), 2, "{pending:?}");
        // Newest first: the paid one waits behind the pending_payment one.
        let (paid, first) = (&pending[0], &pending[1]);
        assert_eq!(paid["event_type"], "order.paid");
        assert_eq!(paid["waiting_behind"], first["id"]);
        assert_eq!(first["waiting_behind"], Value::Null);
        let delivered = app.wait_deliveries("delivered", 2).await;
        assert!(delivered.iter().all(|d| d["waiting_behind"].is_null()));
    }
);
