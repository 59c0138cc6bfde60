//! Relay leases name the process that holds them: a live owner's lease is respected by every
//! other replica, a dead owner's is free at once (not when it lapses), so a crash does not stall
//! its targets.

use crate::conekta_events::order_event;
use crate::helpers::{spawn_app_with, Db, TestApp};
use crate::on_both_stores;
use crate::receiver::Receiver;
use pagos::store::{
    AttemptNext, AttemptRecord, ClaimedDelivery, DeliveryFilter, DeliveryStatus, DueWindow, Slot,
    Store,
};
use sqlx::Connection;
use std::cell::RefCell;

/// Long enough that no lease in this test lapses: only its owner's death frees it.
const LEASE_MS: i64 = 60_000;

async fn claim(store: &Store, per_target: usize) -> Vec<String> {
    let window = RefCell::new(DueWindow::default());
    let claimed = store
        .claim_deliveries(&window, 16, per_target, LEASE_MS)
        .await
        .unwrap();
    claimed.into_iter().map(|d| d.id).collect()
}

/// An app whose relay stays idle (no signing secret: the tests claim by hand), with a paid
/// order's notification queued for each reference, and the receiver they are addressed to.
async fn app_with_paid_orders(
    db: Db,
    references: impl IntoIterator<Item = impl AsRef<str>>,
) -> (TestApp, Receiver) {
    let app = spawn_app_with(db, |s| s.relay.signing_secret = None).await;
    let receiver = Receiver::start();
    for reference in references {
        let order_id = app.create_order(reference.as_ref(), &receiver.url).await;
        let paid = order_event("order.paid", &order_id, Some("paid"), 100000);
        assert_eq!(app.post_webhook(&paid).await.status, 200);
    }
    (app, receiver)
}

/// A first attempt that delivered `id`.
fn delivered_at_once(id: &str) -> AttemptRecord {
    AttemptRecord {
        delivery_id: id.to_owned(),
        attempt: 1,
        started_at_ms: 1_000,
        duration_ms: 3,
        status_code: Some(200),
        error: None,
        next: AttemptNext::Delivered,
    }
}

on_both_stores!(
    a_live_owners_lease_holds_and_a_dead_owners_is_free_at_once,
    |db: Db| async move {
        // No signing secret: the app's own relay stays idle and the test claims by hand.
        let (app, _receiver) = app_with_paid_orders(db, ["owner-1", "owner-2"]).await;
        // Two replicas on one store: the app's (it beats every second) and another one.
        let live = &app.app_store;
        let other = another_replica(&app).await;

        let first = claim(live, 1).await;
        assert_eq!(first.len(), 1);
        assert!(
            claim(&other, 1).await.is_empty(),
            "a live owner's lease counts towards its target's limit"
        );
        let second = claim(&other, 2).await;
        assert_eq!(second.len(), 1);
        assert_ne!(second, first, "a live owner's lease is never taken");
        assert!(claim(live, 2).await.is_empty());

        // The other replica dies: its heartbeat goes silent (here, at once).
        let mut conn = sqlx::AnyConnection::connect(&app.database_url)
            .await
            .unwrap();
        sqlx::query("UPDATE instances SET heartbeat_ms = 0 WHERE id = $1")
            .bind(other.instance())
            .execute(&mut conn)
            .await
            .unwrap();
        assert_eq!(
            claim(live, 2).await,
            second,
            "a dead owner's lease is free though it has not lapsed, and not counted"
        );
        assert!(
            claim(&other, 2).await.is_empty(),
            "the new owner's leases hold against the replica taken for dead"
        );
    }
);

on_both_stores!(
    attempts_recorded_together_each_move_their_own_delivery_on,
    |db: Db| async move {
        let (app, _receiver) =
            app_with_paid_orders(db, ["batch-1", "batch-2", "batch-3", "batch-4"]).await;
        let store = &app.app_store;
        let window = RefCell::new(DueWindow::default());
        let mut claimed = store
            .claim_deliveries(&window, 3, 16, LEASE_MS)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 3);
        claimed.sort_by(|a, b| a.id.cmp(&b.id));
        let fourth = window_rest(store, &claimed).await;
        let retry_at = pagos::clock::unix_ms() + 3_600_000;
        let record = |delivery: &ClaimedDelivery, code, error: Option<&str>, next| AttemptRecord {
            delivery_id: delivery.id.clone(),
            attempt: 1,
            started_at_ms: 1_000,
            duration_ms: 7,
            status_code: code,
            error: error.map(str::to_owned),
            next,
        };
        // Three outcomes in one write; the delivered one hands its slot on to its target's next
        // free notification, the fourth. The
        // error text travels as written, whatever it holds (on PostgreSQL the batch is one JSON
        // parameter).
        let refused = "refused: \"peer\" \\ reset, señal\n";
        let next = store
            .record_attempts(
                vec![
                    (
                        record(&claimed[0], Some(200), None, AttemptNext::Delivered),
                        Some(Slot {
                            id: fourth.clone(),
                            ..Slot::any_of(&claimed[0].target_key)
                        }),
                    ),
                    (
                        record(
                            &claimed[1],
                            Some(503),
                            Some("HTTP 503"),
                            AttemptNext::RetryAt(retry_at),
                        ),
                        None,
                    ),
                    (
                        record(&claimed[2], None, Some(refused), AttemptNext::Failed),
                        None,
                    ),
                ],
                LEASE_MS,
            )
            .await
            .unwrap();
        assert_eq!(next.len(), 3, "one answer per attempt, in order");
        assert_eq!(
            next[0].as_ref().map(|d| d.id.as_str()),
            Some(fourth.as_str())
        );
        assert!(next[1].is_none() && next[2].is_none());

        let view = |id: String| async move { store.delivery(&id, None).await.unwrap().unwrap() };
        let delivered = view(claimed[0].id.clone()).await;
        assert_eq!(delivered.status, DeliveryStatus::Delivered);
        assert_eq!(delivered.last_response_code, Some(200));
        assert_eq!(delivered.attempt_log.len(), 1);
        assert_eq!(delivered.attempt_log[0].duration_ms, 7);
        let retried = view(claimed[1].id.clone()).await;
        assert_eq!(retried.status, DeliveryStatus::Pending);
        assert_eq!(retried.next_attempt_at, Some(retry_at / 1000));
        assert_eq!(retried.last_error.as_deref(), Some("HTTP 503"));
        assert_eq!(retried.attempt_log[0].response_code, Some(503));
        let failed = view(claimed[2].id.clone()).await;
        assert_eq!(failed.status, DeliveryStatus::Failed);
        assert_eq!(failed.last_response_code, None);
        assert_eq!(failed.attempt_log[0].error.as_deref(), Some(refused));
        assert_eq!(failed.last_error.as_deref(), Some(refused));
        assert!(
            claim(store, 16).await.is_empty(),
            "the handed-over one is leased, the retry not due, the others done"
        );
    }
);

/// The one pending notification not among `claimed`.
async fn window_rest(store: &Store, claimed: &[ClaimedDelivery]) -> String {
    let pending = store
        .list_deliveries(&DeliveryFilter {
            status: Some(DeliveryStatus::Pending),
            limit: 10,
            ..DeliveryFilter::default()
        })
        .await
        .unwrap();
    let rest: Vec<String> = pending
        .into_iter()
        .map(|view| view.id)
        .filter(|id| claimed.iter().all(|c| &c.id != id))
        .collect();
    assert_eq!(rest.len(), 1);
    rest[0].clone()
}

on_both_stores!(
    a_lease_leaves_its_notifications_row_alone_and_an_older_releases_lease_still_holds,
    |db: Db| async move {
        let (app, _receiver) = app_with_paid_orders(db, ["own-row"]).await;
        let store = &app.app_store;
        let mut conn = sqlx::AnyConnection::connect(&app.database_url)
            .await
            .unwrap();
        let postgres = app.database_url.starts_with("postgres");
        // The row as it stands; on PostgreSQL also its version (`xmin`: a new one per update).
        let row_sql = if postgres {
            "SELECT id, updated_at_ms, xmin::text AS version FROM deliveries"
        } else {
            "SELECT id, updated_at_ms, '' AS version FROM deliveries"
        };
        let before = row(&mut conn, row_sql).await;
        let id = before.0.clone();

        // An older release's lease, in the row's own columns (no owner: it holds until it
        // lapses), is respected; so is one whose owner is alive.
        let set_old_lease = |owner: Option<String>| {
            sqlx::query("UPDATE deliveries SET lease_until_ms = $1, lease_owner = $2")
                .bind(pagos::clock::unix_ms() + LEASE_MS)
                .bind(owner)
        };
        set_old_lease(None).execute(&mut conn).await.unwrap();
        assert!(
            claim(store, 16).await.is_empty(),
            "an older pod's lease holds"
        );
        set_old_lease(Some(store.instance().to_owned()))
            .execute(&mut conn)
            .await
            .unwrap();
        assert!(claim(store, 16).await.is_empty());
        // Its owner gone, the notification is free.
        set_old_lease(Some("gone".to_owned()))
            .execute(&mut conn)
            .await
            .unwrap();
        let marked = row(&mut conn, row_sql).await;
        assert_eq!(claim(store, 16).await, vec![id.clone()]);

        // Taking the lease wrote a row of its own and left the notification's row as it was.
        assert_eq!(
            row(&mut conn, row_sql).await,
            marked,
            "the notification's row is untouched"
        );
        let leases: Vec<(String, String)> =
            sqlx::query_as("SELECT delivery_id, lease_owner FROM delivery_leases")
                .fetch_all(&mut conn)
                .await
                .unwrap();
        assert_eq!(leases, vec![(id.clone(), store.instance().to_owned())]);
        assert!(claim(store, 16).await.is_empty(), "the new lease holds");

        // Recording the attempt ends the lease.
        store
            .record_attempts(vec![(delivered_at_once(&id), None)], LEASE_MS)
            .await
            .unwrap();
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM delivery_leases")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(left, 0);
        assert_ne!(
            before,
            row(&mut conn, row_sql).await,
            "the record moved the row on"
        );
    }
);

on_both_stores!(
    two_replicas_never_lease_one_notification_at_once,
    |db: Db| async move {
        let references: Vec<String> = (0..20).map(|n| format!("race-{n}")).collect();
        let (app, _receiver) = app_with_paid_orders(db, references).await;
        let one = &app.app_store;
        let other = another_replica(&app).await;
        // Both read the same window before either claims: every id is contested.
        let (a, b) = tokio::join!(claim(one, 32), claim(&other, 32));
        let mut taken = a.clone();
        taken.extend(b.iter().cloned());
        let count = taken.len();
        taken.sort();
        taken.dedup();
        assert_eq!(
            taken.len(),
            count,
            "no notification leased twice: {a:?} {b:?}"
        );
        assert!(count >= 16, "the claims took what was free ({count})");

        // A slot handed on to a notification another live replica holds does not take it:
        // `recorder` records one of its own and names one `holder` leased.
        let (holder_took, recorder, recorder_took) = if a.is_empty() {
            (&b, one, claim(one, 32).await)
        } else if b.is_empty() {
            (&a, &other, claim(&other, 32).await)
        } else {
            (&a, &other, b.clone())
        };
        // Two reads of the same window can leave notifications past it free; the recorder
        // leases those too, so the one way the slot could find a notification is to take one
        // a live replica holds.
        claim(recorder, 32).await;
        let slot = Slot {
            id: holder_took[0].clone(),
            ..Slot::any_of(&the_target(&app).await)
        };
        let record = delivered_at_once(&recorder_took[0]);
        let handed = recorder
            .record_attempts(vec![(record, Some(slot))], LEASE_MS)
            .await
            .unwrap();
        assert!(handed[0].is_none(), "a live replica's lease is not taken");
    }
);

#[actix_web::test]
async fn a_slot_handed_on_takes_the_next_free_notification_when_another_replica_took_the_oldest() {
    {
        let db = Db::Postgres;
        let (app, _receiver) = app_with_paid_orders(db, ["next-1", "next-2", "next-3"]).await;
        let one = &app.app_store;
        let other = another_replica(&app).await;
        // `one` holds the oldest, the other replica the second (the oldest free when it
        // claimed); `one`'s slot passes on past it, to the third.
        let first = claim_one(one).await;
        let second = claim_one(&other).await;
        assert!(first.id < second.id);
        let handed = one
            .record_attempts(
                vec![(
                    delivered_at_once(&first.id),
                    Some(Slot::any_of(&first.target_key)),
                )],
                LEASE_MS,
            )
            .await
            .unwrap();
        let third = handed[0].as_ref().expect("the next free notification");
        assert!(third.id > second.id, "not the one the other replica holds");
        // Nothing is left for anyone.
        assert!(claim(one, 16).await.is_empty());
        assert!(claim(&other, 16).await.is_empty());
    }
}

// Replicas share a queue only on PostgreSQL (SQLite serves one, which leases the notifications
// its own read of the queue named): there a slot names a target and where to start, and gets the
// oldest notification still free.
#[actix_web::test]
async fn a_claim_whose_window_another_replica_overtook_takes_the_next_free_notification() {
    {
        let db = Db::Postgres;
        let (app, _receiver) = app_with_paid_orders(db, ["late-1", "late-2"]).await;
        let one = &app.app_store;
        let other = another_replica(&app).await;
        // `other` read the queue (its window starts at the oldest notification); `one` then
        // took that one before `other` claimed.
        let oldest = claim_one(one).await;
        let window = RefCell::new(DueWindow::default());
        let read = window.borrow_mut().read_begins(pagos::clock::unix_ms());
        let slot = Slot {
            id: oldest.id.clone(),
            ..Slot::any_of(&oldest.target_key)
        };
        window.borrow_mut().refill(vec![slot], read);
        let claimed = other
            .claim_deliveries(&window, 1, 16, LEASE_MS)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1, "the slot is not lost");
        assert!(
            claimed[0].id > oldest.id,
            "the next one, not the one `one` holds"
        );
    }
}

#[actix_web::test]
async fn a_claim_naming_a_notification_another_replica_took_fills_its_slot_once_from_the_queue() {
    {
        let db = Db::Postgres;
        let (app, _receiver) = app_with_paid_orders(db, ["named-1", "named-2", "named-3"]).await;
        let one = &app.app_store;
        let other = another_replica(&app).await;
        // `other` read the two oldest into its window; `one` then took the oldest.
        let oldest = claim_one(one).await;
        let mut conn = sqlx::AnyConnection::connect(&app.database_url)
            .await
            .unwrap();
        let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM deliveries ORDER BY id")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        assert_eq!(ids.len(), 3);
        assert_eq!(ids[0], oldest.id);
        let window = RefCell::new(DueWindow::default());
        let read = window.borrow_mut().read_begins(pagos::clock::unix_ms());
        let slots = ids[..2]
            .iter()
            .map(|id| Slot {
                id: id.clone(),
                ..Slot::any_of(&oldest.target_key)
            })
            .collect();
        window.borrow_mut().refill(slots, read);
        // The second is named and free: it is taken by its key. The first's slot goes on to
        // the target's next free one, never again to the second.
        let claimed = other
            .claim_deliveries(&window, 2, 16, LEASE_MS)
            .await
            .unwrap();
        let claimed: Vec<&str> = claimed.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(claimed, [ids[1].as_str(), ids[2].as_str()]);
    }
}

on_both_stores!(
    a_claim_reaches_a_target_queued_behind_a_backlog_longer_than_its_read,
    |db: Db| async move {
        let (app, receiver) = app_with_paid_orders(db, ["behind"]).await;
        let store = &app.app_store;
        // A storefront that fell behind: 600 notifications due before the receiver's one, more
        // than one read of the queue takes in (512).
        let mut conn = sqlx::AnyConnection::connect(&app.database_url)
            .await
            .unwrap();
        sqlx::query(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 600) \
             INSERT INTO deliveries (id, subject_key, target_url, target_key, event_type, body, \
             status, next_attempt_at_ms, created_at_ms, updated_at_ms, reference_id) \
             SELECT 'msg_busy_' || CAST(1000 + i AS TEXT), 'ord_busy_' || CAST(i AS TEXT), \
             'http://busy.example/n', 'http://busy.example', 'order.paid', '{}', 'pending', \
             1, 1, 1, '' FROM n",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        let claimed = claim(store, 4).await;
        let behind = the_receivers_notification(&mut conn, &receiver.url).await;
        let busy = claimed
            .iter()
            .filter(|id| id.starts_with("msg_busy_"))
            .count();
        assert_eq!((claimed.len(), busy), (5, 4), "{claimed:?}");
        assert!(
            claimed.contains(&behind),
            "the target behind is served in the same claim"
        );
    }
);

/// The id of the notification addressed to `url`.
async fn the_receivers_notification(conn: &mut sqlx::AnyConnection, url: &str) -> String {
    sqlx::query_scalar("SELECT id FROM deliveries WHERE target_url LIKE $1")
        .bind(format!("{url}%"))
        .fetch_one(conn)
        .await
        .unwrap()
}

/// A second process on `app`'s store, as another replica would be.
async fn another_replica(app: &TestApp) -> Store {
    Store::connect(&app.database_url.clone().into())
        .await
        .unwrap()
}

/// One claim of one slot: the oldest free notification.
async fn claim_one(store: &Store) -> ClaimedDelivery {
    let window = RefCell::new(DueWindow::default());
    let claimed = store
        .claim_deliveries(&window, 1, 16, LEASE_MS)
        .await
        .unwrap();
    assert_eq!(claimed.len(), 1);
    claimed.into_iter().next().unwrap()
}

/// The target every notification of `app_with_paid_orders` goes to.
async fn the_target(app: &TestApp) -> String {
    let mut conn = sqlx::AnyConnection::connect(&app.database_url)
        .await
        .unwrap();
    sqlx::query_scalar("SELECT target_key FROM deliveries LIMIT 1")
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

/// The only notification's id, `updated_at_ms` and version, read with `sql`.
async fn row(conn: &mut sqlx::AnyConnection, sql: &'static str) -> (String, i64, String) {
    sqlx::query_as(sql).fetch_one(conn).await.unwrap()
}
