//! Relay leases name the process that holds them: a live owner's lease is respected by every
//! other replica, a dead owner's is free at once (not when it lapses), so a crash does not stall
//! its targets.

use crate::conekta_events::order_event;
use crate::helpers::{spawn_app_with, Db};
use crate::on_both_stores;
use crate::receiver::Receiver;
use pagos::store::{DueWindow, Store};
use sqlx::Connection;

/// Long enough that no lease in this test lapses: only its owner's death frees it.
const LEASE_MS: i64 = 60_000;

async fn claim(store: &Store, per_target: usize) -> Vec<String> {
    let mut window = DueWindow::default();
    let claimed = store
        .claim_deliveries(&mut window, 16, per_target, LEASE_MS)
        .await
        .unwrap();
    claimed.into_iter().map(|d| d.id).collect()
}

on_both_stores!(
    a_live_owners_lease_holds_and_a_dead_owners_is_free_at_once,
    |db: Db| async move {
        // No signing secret: the app's own relay stays idle and the test claims by hand.
        let app = spawn_app_with(db, |s| s.relay.signing_secret = None).await;
        let receiver = Receiver::start();
        for reference in ["owner-1", "owner-2"] {
            let order_id = app.create_order(reference, &receiver.url).await;
            let paid = order_event("order.paid", &order_id, Some("paid"), 100000);
            assert_eq!(app.post_webhook(&paid).await.status, 200);
        }
        // Two replicas on one store: the app's (it beats every second) and another one.
        let live = &app.app_store;
        let other = Store::connect(&app.database_url.clone().into())
            .await
            .unwrap();

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
