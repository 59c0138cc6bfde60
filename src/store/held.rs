//! Events held for an order whose create is still being recorded. A provider may tell of an
//! order (a charge paid) before it answers the create; such an event is acknowledged only once
//! it is stored here, and becomes a notification as soon as the order is in the map: in the
//! transaction that records the order (on PostgreSQL, when a create's record is one statement,
//! in the write right after it), or by the sweep that catches the rare race between the two on
//! PostgreSQL (and an order whose write right after failed). An event whose order never appears
//! is dropped after a day.

use super::events::{queue, NewDelivery, OrderContext};
use super::group_commit::{Write, WriteFuture};
use super::orders::order_context_in;
use super::tx::{args, Arg, Tx};
use super::{Backend, Store, StoreError};
use crate::clock;
use std::sync::LazyLock;

/// How long an event waits for its order before it is taken to be about someone else's.
pub const HELD_FOR_MS: i64 = 24 * 3600 * 1000;

/// An event waiting for its order.
#[derive(Debug, Clone)]
pub struct HeldEvent {
    pub event_id: String,
    /// The notification's id, fixed when the event arrived (so it sorts where it arrived).
    pub delivery_id: String,
    /// The event as the provider sent it (JSON text).
    pub event: String,
    pub trace_context: Option<String>,
}

/// Builds the notification for a held event once its order is known (the provider's part);
/// `None` drops an event that cannot be read back.
pub type BuildHeld = fn(&OrderContext, &HeldEvent) -> Option<NewDelivery>;

/// Stores an event until its order is known.
pub(super) async fn hold_in(
    tx: &mut dyn Tx,
    provider: &str,
    order_id: &str,
    held: &HeldEvent,
    now_ms: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO held_events (provider, event_id, order_id, delivery_id, event, \
         trace_context, received_at_ms) VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (provider, event_id) DO NOTHING",
        &args![
            provider,
            &held.event_id,
            order_id,
            &held.delivery_id,
            &held.event,
            held.trace_context.as_deref(),
            now_ms,
        ],
    )
    .await?;
    Ok(())
}

/// Turns the events held for `order_id` into notifications, in the order they arrived; how
/// many. The order must be in the map already (every caller records it first, in the same
/// transaction or a committed one). Taking them is a `DELETE … RETURNING`, so two transactions
/// releasing the same order cannot both queue them, and when none is held (nearly always) it is
/// all this costs.
pub(super) async fn release_in(
    tx: &mut dyn Tx,
    provider: &str,
    order_id: &str,
    build: BuildHeld,
    now_ms: i64,
) -> Result<usize, StoreError> {
    let rows = tx
        .fetch_all(
            "DELETE FROM held_events WHERE provider = $1 AND order_id = $2 \
             RETURNING event_id, delivery_id, event, trace_context",
            &args![provider, order_id],
        )
        .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    // Rolling back keeps them held: nothing is lost if the order is somehow not there.
    let order = order_context_in(tx, provider, order_id)
        .await?
        .ok_or(StoreError::MissingOrder)?;
    let mut held = Vec::with_capacity(rows.len());
    for row in rows {
        held.push(HeldEvent {
            event_id: row.get("event_id")?,
            delivery_id: row.get("delivery_id")?,
            event: row.get("event")?,
            trace_context: row.get("trace_context")?,
        });
    }
    // Notification ids are time-ordered: sorting by them is sorting by arrival.
    held.sort_by(|a, b| a.delivery_id.cmp(&b.delivery_id));
    let mut queued = 0;
    for event in &held {
        match build(&order, event) {
            Some(delivery) => {
                queue(tx, &delivery, now_ms).await?;
                queued += 1;
            }
            None => {
                tracing::error!(event_id = %event.event_id, "a held event could not be read back")
            }
        }
    }
    Ok(queued)
}

/// Which held events a sweep looks at for an order now in the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeldSweep {
    /// Those received in the last `RECENT_MS`: where a race leaves one.
    Recent,
    /// Every one: also those whose order was recorded by a write that could not release them
    /// (the process stopped between that write and the next).
    All,
}

/// How far back a `HeldSweep::Recent` looks. A race leaves an event held at most a transaction's
/// time before its order's record commits; a minute covers that, and clocks that differ
/// between replicas.
const RECENT_MS: i64 = 60_000;

/// Held events whose order is in the map (`$1`: at most so many orders). Every held event is
/// looked up in the map, so the read grows with what is held: events about other systems'
/// orders stay held a day when they come while a create is in flight, and at one a second a
/// read every 2 s took up to 89 ms inside SQLite's writer (BENCHMARKS.md, "2026-12-07
/// afternoon"). Hence `ready_recent` at most sweeps.
const READY_ALL: &str = "SELECT DISTINCT h.provider, h.order_id FROM held_events h \
     JOIN orders o ON o.provider = h.provider AND o.order_id = h.order_id LIMIT $1";

/// The same among the events received at or after `$2`, through `held_events_by_age`; `held`
/// names the table. SQLite, which plans without statistics, names the index: left to choose, it
/// walked `held_events_by_order` (already in the order `DISTINCT` wants) and filtered every
/// held event by age.
fn ready_recent(held: &str) -> String {
    format!(
        "SELECT DISTINCT h.provider, h.order_id FROM {held} \
         JOIN orders o ON o.provider = h.provider AND o.order_id = h.order_id \
         WHERE h.received_at_ms >= $2 LIMIT $1"
    )
}

static READY_RECENT_PG: LazyLock<String> = LazyLock::new(|| ready_recent("held_events h"));
static READY_RECENT_SQLITE: LazyLock<String> =
    LazyLock::new(|| ready_recent("held_events h INDEXED BY held_events_by_age"));

impl Store {
    /// Releases the events of `scope` whose order is now in the map, and drops those held too
    /// long; how many were released.
    pub async fn sweep_held_events(
        &self,
        build: BuildHeld,
        scope: HeldSweep,
    ) -> Result<usize, StoreError> {
        // Nearly always nothing is held: then a read is all it costs.
        let any = sqlx::query("SELECT 1 AS one FROM held_events LIMIT 1")
            .fetch_optional(self.pool())
            .await?;
        if any.is_none() {
            return Ok(0);
        }
        let recent: &'static str = match self.backend() {
            Backend::Sqlite => &READY_RECENT_SQLITE,
            Backend::Postgres => &READY_RECENT_PG,
        };
        let released = self
            .write(Sweep {
                build,
                scope,
                recent,
            })
            .await?;
        let before = clock::unix_ms() - HELD_FOR_MS;
        let dropped = self
            .delete_in_batches(|limit| HeldDrop { before, limit })
            .await?;
        if dropped > 0 {
            tracing::info!(
                dropped,
                "events held a day for an order pagos never recorded were dropped"
            );
        }
        Ok(released)
    }
}

struct Sweep {
    build: BuildHeld,
    scope: HeldSweep,
    /// `ready_recent` as this store's backend reads it.
    recent: &'static str,
}

/// Orders released per sweep; the rest wait for the next one.
const SWEEP_ORDERS: i64 = 100;

impl Write for Sweep {
    type Output = usize;

    /// Losing a sweep in a power cut loses nothing: the events are still held, and released
    /// by the next one.
    fn durable(&self) -> bool {
        false
    }

    fn run<'c>(&'c self, tx: &'c mut dyn Tx, now_ms: i64) -> WriteFuture<'c, usize> {
        Box::pin(async move {
            let ready = match self.scope {
                HeldSweep::All => tx.fetch_all(READY_ALL, &args![SWEEP_ORDERS]).await?,
                HeldSweep::Recent => {
                    let since = now_ms - RECENT_MS;
                    tx.fetch_all(self.recent, &args![SWEEP_ORDERS, since])
                        .await?
                }
            };
            let mut released = 0;
            for row in ready {
                let provider: String = row.get("provider")?;
                let order_id: String = row.get("order_id")?;
                released += release_in(tx, &provider, &order_id, self.build, now_ms).await?;
            }
            Ok(released)
        })
    }
}

/// Drops the oldest `limit` events held since before `before` (Unix ms).
struct HeldDrop {
    before: i64,
    limit: i64,
}

/// The oldest held events received before `$1`, at most `$2`, through `held_events_by_age`:
/// taken by a `DELETE … RETURNING`, so two replicas dropping at once each unlink what they took.
const DROP_AGED: &str = "DELETE FROM held_events WHERE (provider, event_id) IN \
     (SELECT provider, event_id FROM held_events WHERE received_at_ms < $1 \
      ORDER BY received_at_ms LIMIT $2) RETURNING provider, event_id, delivery_id";

/// The recorded ids of `n` dropped events stay recorded (a redelivery is still a duplicate),
/// unlinked from the notification never made, each found by its key: `delivery_id` has no
/// index, and matched on it alone this read every event ever recorded. All at once, 20,000
/// keys joined `webhook_events` whole on PostgreSQL (413 ms); hence batches.
fn unlink_dropped(n: usize) -> String {
    let keys: Vec<String> = (0..n)
        .map(|i| format!("(${}, ${}, ${})", 3 * i + 1, 3 * i + 2, 3 * i + 3))
        .collect();
    format!(
        "UPDATE webhook_events SET delivery_id = NULL \
         WHERE (provider, event_id, delivery_id) IN (VALUES {})",
        keys.join(", ")
    )
}

impl Write for HeldDrop {
    type Output = u64;

    /// A drop lost in a power cut is made by the next sweep.
    fn durable(&self) -> bool {
        false
    }

    fn run<'c>(&'c self, tx: &'c mut dyn Tx, _now_ms: i64) -> WriteFuture<'c, u64> {
        Box::pin(async move {
            let rows = tx
                .fetch_all(DROP_AGED, &args![self.before, self.limit])
                .await?;
            if rows.is_empty() {
                return Ok(0);
            }
            let mut keys = Vec::with_capacity(rows.len() * 3);
            for row in &rows {
                for column in ["provider", "event_id", "delivery_id"] {
                    keys.push(row.get::<String>(column)?);
                }
            }
            let args: Vec<Arg> = keys.iter().map(Arg::from).collect();
            tx.execute(&unlink_dropped(rows.len()), &args).await?;
            Ok(rows.len() as u64)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{
        unlink_dropped, HeldDrop, HeldSweep, DROP_AGED, HELD_FOR_MS, READY_RECENT_SQLITE, RECENT_MS,
    };
    use crate::clock;
    use crate::store::events::{NewDelivery, OrderContext};
    use crate::store::sqlite_plans::{assert_no_scan_of, plan_on_empty_store, sqlite_store};
    use crate::store::HeldEvent;
    use crate::store::Store;
    use crate::store::UPKEEP_BATCH;

    /// Events held longer than a day are dropped and their recorded ids unlinked from the
    /// notifications never made, the oldest first, a bounded batch a write; a younger one
    /// stays held, and linked.
    async fn events_held_a_day_are_dropped_and_unlinked(store: Store) {
        let aged = UPKEEP_BATCH as usize * 2 + 5;
        let old = clock::unix_ms() - HELD_FOR_MS - 60_000 - aged as i64;
        let mut events: Vec<(String, i64)> = (0..aged)
            .map(|n| (format!("evt_old_{n:03}"), old + n as i64))
            .collect();
        events.push(("evt_young".to_owned(), clock::unix_ms()));
        for (event, at) in &events {
            for statement in [
                "INSERT INTO webhook_events (provider, event_id, event_type, received_at_ms, \
                 delivery_id) VALUES ('conekta', $1, 'order.paid', $2, 'msg_' || $1)",
                "INSERT INTO held_events (provider, event_id, order_id, delivery_id, event, \
                 received_at_ms) VALUES ('conekta', $1, 'ord_never', 'msg_' || $1, '{}', $2)",
            ] {
                sqlx::query(statement)
                    .bind(event)
                    .bind(at)
                    .execute(store.pool())
                    .await
                    .unwrap();
            }
        }
        let held = |store: Store| async move {
            sqlx::query_scalar::<_, String>("SELECT event_id FROM held_events ORDER BY event_id")
                .fetch_all(store.pool())
                .await
                .unwrap()
        };
        let before = clock::unix_ms() - HELD_FOR_MS;
        let one = store.write(HeldDrop { before, limit: 7 }).await.unwrap();
        assert_eq!(one, 7, "a write drops no more than its batch");
        assert_eq!(
            held(store.clone()).await[0],
            "evt_old_007",
            "the oldest go first"
        );
        assert_eq!(
            store
                .sweep_held_events(|_, _| None, HeldSweep::All)
                .await
                .unwrap(),
            0
        );
        let links: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT event_id, delivery_id FROM webhook_events ORDER BY event_id")
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert_eq!(links.len(), aged + 1);
        for (event, link) in &links[..aged] {
            assert_eq!(link, &None, "{event}");
        }
        assert_eq!(
            links[aged],
            ("evt_young".to_owned(), Some("msg_evt_young".to_owned()))
        );
        assert_eq!(held(store.clone()).await, ["evt_young"]);
        store.close().await;
    }

    #[tokio::test]
    async fn events_held_a_day_are_dropped_and_unlinked_on_sqlite() {
        let (_dir, store) = sqlite_store().await;
        events_held_a_day_are_dropped_and_unlinked(store).await;
    }

    #[tokio::test]
    async fn events_held_a_day_are_dropped_and_unlinked_on_postgresql() {
        let (store, _) = crate::store::pg_group_commit::fresh_database().await;
        events_held_a_day_are_dropped_and_unlinked(store).await;
    }

    /// A notification for any released event, so the sweep counts what it released.
    fn notify(order: &OrderContext, held: &HeldEvent) -> Option<NewDelivery> {
        Some(NewDelivery {
            id: held.delivery_id.clone(),
            subject_key: "subject".to_owned(),
            target_url: order.notification_url.clone(),
            target_key: "http://shop".to_owned(),
            event_type: "charge.paid".to_owned(),
            body: held.event.clone(),
            trace_context: None,
            storefront: None,
            reference_id: order.reference_id.as_str().to_owned(),
        })
    }

    /// Held events whose order is in the map: one received seconds ago (as a race leaves it),
    /// one ten minutes ago (as a write that could not release it leaves it); and one whose order
    /// is not. A recent sweep releases the first only, a full one the second as well.
    async fn a_recent_sweep_releases_what_a_race_leaves_and_a_full_one_the_rest(store: Store) {
        let now = clock::unix_ms();
        for (event, order, at) in [
            ("evt_race", "ord_race", now - RECENT_MS / 12),
            ("evt_stranded", "ord_stranded", now - RECENT_MS * 10),
            ("evt_waiting", "ord_unknown", now),
        ] {
            sqlx::query(
                "INSERT INTO held_events (provider, event_id, order_id, delivery_id, event, \
                 received_at_ms) VALUES ('conekta', $1, $2, $3, '{}', $4)",
            )
            .bind(event)
            .bind(order)
            .bind(format!("msg_{event}"))
            .bind(at)
            .execute(store.pool())
            .await
            .unwrap();
        }
        for order in ["ord_race", "ord_stranded"] {
            sqlx::query(
                "INSERT INTO orders (provider, order_id, account_hash, reference_id, \
                 notification_url, amount_cents, currency, created_at) \
                 VALUES ('conekta', $1, 'acct', $1, 'http://shop/n', 1000, 'MXN', 0)",
            )
            .bind(order)
            .execute(store.pool())
            .await
            .unwrap();
        }
        let held = || async {
            let held: Vec<String> =
                sqlx::query_scalar("SELECT event_id FROM held_events ORDER BY event_id")
                    .fetch_all(store.pool())
                    .await
                    .unwrap();
            held
        };
        let recent = store.sweep_held_events(notify, HeldSweep::Recent).await;
        assert_eq!(recent.unwrap(), 1);
        assert_eq!(held().await, ["evt_stranded", "evt_waiting"]);
        let full = store.sweep_held_events(notify, HeldSweep::All).await;
        assert_eq!(full.unwrap(), 1);
        assert_eq!(held().await, ["evt_waiting"]);
        let queued: Vec<String> = sqlx::query_scalar("SELECT id FROM deliveries ORDER BY id")
            .fetch_all(store.pool())
            .await
            .unwrap();
        assert_eq!(queued, ["msg_evt_race", "msg_evt_stranded"]);
        store.close().await;
    }

    #[tokio::test]
    async fn a_recent_sweep_releases_what_a_race_leaves_and_a_full_one_the_rest_on_sqlite() {
        let (_dir, store) = sqlite_store().await;
        a_recent_sweep_releases_what_a_race_leaves_and_a_full_one_the_rest(store).await;
    }

    #[tokio::test]
    async fn a_recent_sweep_releases_what_a_race_leaves_and_a_full_one_the_rest_on_postgresql() {
        let (store, _) = crate::store::pg_group_commit::fresh_database().await;
        a_recent_sweep_releases_what_a_race_leaves_and_a_full_one_the_rest(store).await;
    }

    /// A recent sweep reads only the recent held events, through their age's index, however
    /// many are held.
    #[tokio::test]
    async fn a_recent_sweep_reads_held_events_by_age_on_sqlite() {
        let plan = plan_on_empty_store(&READY_RECENT_SQLITE).await;
        assert!(
            plan.iter().any(|step| step
                .starts_with("SEARCH h USING INDEX held_events_by_age (received_at_ms>?)")),
            "{plan:#?}"
        );
        assert_no_scan_of("h", &plan);
    }

    /// Dropping the events held too long finds the oldest by age, and unlinking them looks each
    /// up by its key, however many events were ever recorded (every 2 s while anything is held).
    #[tokio::test]
    async fn dropping_aged_events_reads_by_age_and_unlinks_by_key_on_sqlite() {
        let plan = plan_on_empty_store(&unlink_dropped(3)).await;
        assert_no_scan_of("webhook_events", &plan);
        assert!(
            plan.iter().any(|step| step.starts_with(
                "SEARCH webhook_events USING INDEX sqlite_autoindex_webhook_events_1"
            )),
            "{plan:#?}"
        );
        let plan = plan_on_empty_store(DROP_AGED).await;
        assert_no_scan_of("held_events", &plan);
        assert!(
            plan.iter().any(|step| step.starts_with(
                "SEARCH held_events USING INDEX held_events_by_age (received_at_ms<?)"
            )),
            "{plan:#?}"
        );
    }
}
