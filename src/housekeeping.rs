//! Small periodic work every process does besides serving: release events held for orders that
//! got recorded meanwhile, drop claims whose binding ended long ago, fill in the
//! `reference_id` of notifications queued by an older release (once, after an upgrade), and
//! keep the relay's tables tidy (PostgreSQL: ended leases' space reused, a young outbox's
//! statistics taken).

use crate::clock;
use crate::relay::RelayHandle;
use crate::store::{Analyzed, BuildHeld, HeldSweep, Store};
use std::time::Duration;

/// How often held events are looked at: the rare race it settles costs at most this much delay.
const SWEEP_EVERY: Duration = Duration::from_secs(2);
/// One sweep in so many, the first included, looks at every held event (`HeldSweep::All`): an
/// event whose order's write could not release it waits at most a minute. The others look at
/// the last minute's, where a race leaves one.
const FULL_SWEEP_EVERY: u32 = 30;
/// How often ended claims are dropped, and how long after their end.
const PURGE_EVERY: Duration = Duration::from_secs(600);
const CLAIMS_KEPT_AFTER_END_S: i64 = 86_400;
/// How often the relay's tables are tidied (`Store::tidy_relay_tables`): at 1,000 deliveries a
/// second the lease table then held 55-86 pages, against 200-300 between autovacuum's visits.
const TIDY_EVERY: Duration = Duration::from_secs(10);

/// At most how often the outbox is analyzed because its statistics missed a backlog.
const BACKLOG_ANALYZE_EVERY: Duration = Duration::from_secs(60);

/// Runs until the store closes.
pub async fn run(store: Store, relay: RelayHandle, build_held: BuildHeld) {
    let mut sweep = tokio::time::interval(SWEEP_EVERY);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut purge = tokio::time::interval(PURGE_EVERY);
    purge.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tidy = tokio::time::interval(TIDY_EVERY);
    tidy.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sweeps: u32 = 0;
    let mut backlog_analyzed = None;
    loop {
        tokio::select! {
            _ = sweep.tick() => {
                if store.is_closed() {
                    return;
                }
                let scope = if sweeps.is_multiple_of(FULL_SWEEP_EVERY) {
                    HeldSweep::All
                } else {
                    HeldSweep::Recent
                };
                sweeps = sweeps.wrapping_add(1);
                match store.sweep_held_events(build_held, scope).await {
                    Ok(0) => {}
                    Ok(released) => {
                        tracing::info!(released, "held events released to their storefronts");
                        relay.wake();
                    }
                    Err(error) => tracing::warn!(%error, "could not sweep held events"),
                }
            }
            _ = purge.tick() => {
                if store.is_closed() {
                    return;
                }
                let before = clock::unix_s() - CLAIMS_KEPT_AFTER_END_S;
                if let Err(error) = store.purge_claims(before).await {
                    tracing::warn!(%error, "could not drop ended claims");
                }
                fill_reference_ids(&store).await;
            }
            _ = tidy.tick() => {
                if store.is_closed() {
                    return;
                }
                let backlog_check = backlog_analyzed
                    .is_none_or(|at: std::time::Instant| at.elapsed() >= BACKLOG_ANALYZE_EVERY);
                match store.tidy_relay_tables(backlog_check).await {
                    Ok(Analyzed::UnseenBacklog) => {
                        tracing::info!("the outbox's statistics missed its backlog: taken again");
                        backlog_analyzed = Some(std::time::Instant::now());
                    }
                    Ok(_) => {}
                    Err(error) => tracing::warn!(%error, "could not tidy the relay's tables"),
                }
            }
        }
    }
}

/// Until none is left; a few hundred rows a write, so serving is never held up for long.
async fn fill_reference_ids(store: &Store) {
    loop {
        match store.fill_reference_ids(500).await {
            Ok(0) => return,
            Ok(filled) => tracing::info!(filled, "reference ids filled in on older notifications"),
            Err(error) => {
                tracing::warn!(%error, "could not fill in reference ids");
                return;
            }
        }
    }
}
