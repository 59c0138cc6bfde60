//! The worker's side of the outbox: claiming due notifications (a read-ahead window of the
//! queue, then a lease compare-and-set), recording attempts, handing leases back. The lease
//! statements themselves are in `leases.rs`.

use super::leases::{
    first_of_subject, free_of_old_lease, held, LeaseClaim, LeasesRelease, RecordBatch,
};
use super::DeliveryStatus;
use crate::clock;
use crate::store::instances::OWNER_SILENCE_MS;
use crate::store::{column, Backend, Store, StoreError};
use std::collections::HashMap;
use std::sync::LazyLock;

/// A notification claimed for one attempt.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub id: String,
    pub target_url: String,
    pub target_key: String,
    pub body: String,
    /// Attempts made before this one, in all.
    pub attempts: u32,
    /// Of those, how many came before the current round (an operator's retry starts a round).
    pub round_base: u32,
    pub created_at_ms: i64,
    /// W3C trace headers (JSON object) of the request that queued it.
    pub trace_context: Option<String>,
    /// Whose secrets sign it (`None`: single-storefront mode), looked up at each attempt.
    pub storefront: Option<String>,
}

/// How an attempt ended, and what comes next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptNext {
    Delivered,
    RetryAt(i64),
    Failed,
}

impl AttemptNext {
    /// The status the delivery moves to.
    pub fn status(&self) -> DeliveryStatus {
        match self {
            AttemptNext::Delivered => DeliveryStatus::Delivered,
            AttemptNext::RetryAt(_) => DeliveryStatus::Pending,
            AttemptNext::Failed => DeliveryStatus::Failed,
        }
    }
}

#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub delivery_id: String,
    pub attempt: u32,
    pub started_at_ms: i64,
    pub duration_ms: i64,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub next: AttemptNext,
}

/// Due notifications that head their subject (a later one never overtakes an earlier one still
/// pending, so a storefront sees one order's news in order), oldest first, not leased, of
/// targets below their in-flight limit `$5`. Reading stops after `$4` rows: the cost follows the
/// window, not the size of the queue. `$1`: now; `$2`, `$3`: see `live_owners`.
static DUE_HEADS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "
SELECT d.id, d.target_key FROM deliveries d
WHERE d.status = 'pending' AND d.next_attempt_at_ms <= $1 AND {old}
  AND NOT EXISTS (SELECT 1 FROM delivery_leases l WHERE l.delivery_id = d.id AND {held})
  AND d.target_key NOT IN (
    SELECT l.target_key FROM delivery_leases l WHERE {held}
    GROUP BY l.target_key HAVING COUNT(*) >= $5)
  AND {first}
ORDER BY d.next_attempt_at_ms, d.id
LIMIT $4",
        old = free_of_old_lease("d", "$1", "$2", "$3"),
        held = held("$1", "$2", "$3"),
        first = first_of_subject("d"),
    )
});

/// Deliveries in flight per target, across every worker and replica (their leases hold).
static IN_FLIGHT_BY_TARGET: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT l.target_key, COUNT(*) AS busy FROM delivery_leases l WHERE {} \
         GROUP BY l.target_key",
        held("$1", "$2", "$3")
    )
});

/// How many due notifications one read of the queue takes in, per delivery a claim may take,
/// and at least. Targets at their limit are left out of the read.
const WINDOW_PER_SLOT: usize = 4;
const MIN_WINDOW: usize = 512;
/// How long a read of the queue may serve claims before the queue is read again, so newly due
/// notifications (retries coming due, other targets) wait at most this long behind it.
const WINDOW_MAX_AGE_MS: i64 = 200;

/// Due notifications read ahead of the claims that take them: one read of the queue serves many
/// claims, so a claim's cost does not grow with the backlog (one busy target with thousands
/// queued would otherwise be read again for every slot that frees up). Only a hint: the lease
/// compare-and-set checks every condition again.
#[derive(Debug, Default)]
pub struct DueWindow {
    /// `(id, target_key)`, oldest due first.
    candidates: std::collections::VecDeque<(String, String)>,
    read_at_ms: i64,
    stale: bool,
}

impl DueWindow {
    /// New work was queued: read the queue again at the next claim.
    pub fn mark_stale(&mut self) {
        self.stale = true;
    }

    fn needs_read(&self, now: i64, busy: &HashMap<String, usize>, per_target: usize) -> bool {
        self.stale
            || now - self.read_at_ms > WINDOW_MAX_AGE_MS
            || !self
                .candidates
                .iter()
                .any(|(_, target)| busy.get(target).copied().unwrap_or(0) < per_target)
    }

    /// The oldest candidate, if it is `target`'s and the read is still fresh.
    pub fn take_next_of(&mut self, target: &str, now: i64) -> Option<String> {
        if self.stale || now - self.read_at_ms > WINDOW_MAX_AGE_MS {
            return None;
        }
        match self.candidates.front() {
            Some((_, next)) if next == target => self.candidates.pop_front().map(|(id, _)| id),
            _ => None,
        }
    }

    /// Takes up to `batch` candidates of targets below `per_target`, counting them as busy.
    fn take(
        &mut self,
        busy: &mut HashMap<String, usize>,
        per_target: usize,
        batch: usize,
    ) -> Vec<String> {
        let mut chosen = Vec::with_capacity(batch.min(self.candidates.len()));
        self.candidates.retain(|(id, target)| {
            if chosen.len() == batch {
                return true;
            }
            let in_flight = busy.entry(target.clone()).or_insert(0);
            if *in_flight >= per_target {
                return true;
            }
            *in_flight += 1;
            chosen.push(id.clone());
            false
        });
        chosen
    }
}

impl Store {
    /// Claims up to `batch` due notifications, at most `per_target` in flight per target
    /// (counting other workers' and replicas' leases), fairly across targets: a target at its
    /// limit is skipped and the next ones are served. `window` carries the read-ahead from one
    /// claim to the next.
    pub async fn claim_deliveries(
        &self,
        window: &mut DueWindow,
        batch: usize,
        per_target: usize,
        lease_ms: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let now = clock::unix_ms();
        let silent = now - OWNER_SILENCE_MS;
        // Reads first, on the pool (readers never block the writer under WAL).
        let mut busy: HashMap<String, usize> = sqlx::query(IN_FLIGHT_BY_TARGET.as_str())
            .bind(now)
            .bind(silent)
            .bind(self.instance())
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| {
                Ok((
                    column(row, "target_key")?,
                    column::<i64>(row, "busy")?.max(0) as usize,
                ))
            })
            .collect::<Result<_, StoreError>>()?;
        if window.needs_read(now, &busy, per_target) {
            let rows = sqlx::query(DUE_HEADS.as_str())
                .bind(now)
                .bind(silent)
                .bind(self.instance())
                .bind((batch * WINDOW_PER_SLOT).max(MIN_WINDOW) as i64)
                .bind(per_target as i64)
                .fetch_all(self.pool())
                .await?;
            window.candidates = rows
                .iter()
                .map(|row| Ok((column(row, "id")?, column(row, "target_key")?)))
                .collect::<Result<_, StoreError>>()?;
            window.read_at_ms = now;
            window.stale = false;
        }
        let chosen = window.take(&mut busy, per_target, batch);
        if chosen.is_empty() {
            return Ok(Vec::new());
        }
        // Compare-and-set on the lease: a row another worker claimed meanwhile, or one no
        // longer due or no longer first of its subject, is not taken.
        let mut claimed = self
            .write(LeaseClaim {
                ids: chosen,
                lease_ms,
                owner: self.instance().to_owned(),
                postgres: self.backend() == Backend::Postgres,
            })
            .await?;
        // RETURNING has no order; hand them out oldest first.
        claimed.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(claimed)
    }

    /// Stores attempts that finished together and moves each delivery on, in one transaction
    /// (group-committed: bursts share one commit). An attempt may name the notification its
    /// slot is handed to: the same transaction takes that one's lease (if it is still free, due
    /// and first of its subject), and it comes back, in the attempt's place, to be delivered
    /// next: the slot passes on without a claim.
    pub async fn record_attempts(
        &self,
        finished: Vec<(AttemptRecord, Option<String>)>,
        lease_ms: i64,
    ) -> Result<Vec<Option<ClaimedDelivery>>, StoreError> {
        let postgres = self.backend() == Backend::Postgres;
        let (records, hand_overs): (Vec<_>, Vec<_>) = finished.into_iter().unzip();
        let ids: Vec<String> = hand_overs.iter().flatten().cloned().collect();
        let claimed = self
            .write(RecordBatch {
                records,
                next: (!ids.is_empty()).then(|| LeaseClaim {
                    ids,
                    lease_ms,
                    owner: self.instance().to_owned(),
                    postgres,
                }),
                postgres,
            })
            .await?;
        let mut by_id: HashMap<String, ClaimedDelivery> = claimed
            .into_iter()
            .map(|delivery| (delivery.id.clone(), delivery))
            .collect();
        Ok(hand_overs
            .into_iter()
            .map(|id| id.and_then(|id| by_id.remove(&id)))
            .collect())
    }

    /// Hands back leases this process held (a single SQLite replica restarting after a crash).
    pub async fn release_all_leases(&self) -> Result<u64, StoreError> {
        self.write(LeasesRelease).await
    }

    /// When the next other process still taken for alive will be taken for dead, if it stays
    /// silent (Unix ms): its leases are free from then, so the relay can look at that moment
    /// rather than at its next poll.
    pub async fn next_owner_death(&self) -> Result<Option<i64>, StoreError> {
        let now = clock::unix_ms();
        let row = sqlx::query(
            "SELECT MIN(heartbeat_ms) AS beat FROM instances WHERE heartbeat_ms > $1 AND id <> $2",
        )
        .bind(now - OWNER_SILENCE_MS)
        .bind(self.instance())
        .fetch_one(self.pool())
        .await?;
        Ok(column::<Option<i64>>(&row, "beat")?.map(|beat| beat + OWNER_SILENCE_MS))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(candidates: &[(&str, &str)], read_at_ms: i64) -> DueWindow {
        DueWindow {
            candidates: candidates
                .iter()
                .map(|(id, target)| (id.to_string(), target.to_string()))
                .collect(),
            read_at_ms,
            stale: false,
        }
    }

    #[test]
    fn a_slot_passes_on_only_to_the_oldest_and_only_while_the_read_is_fresh() {
        let mut w = window(&[("1", "a"), ("2", "b"), ("3", "a")], 1_000);
        // "b" is not next overall: its slot goes back to the claim.
        assert_eq!(w.take_next_of("b", 1_000), None);
        assert_eq!(w.take_next_of("a", 1_000).as_deref(), Some("1"));
        assert_eq!(w.take_next_of("b", 1_000).as_deref(), Some("2"));
        // Too old a read, or news queued since: nothing is handed over.
        assert_eq!(w.take_next_of("a", 1_000 + WINDOW_MAX_AGE_MS + 1), None);
        w.mark_stale();
        assert_eq!(w.take_next_of("a", 1_000), None);
    }

    #[test]
    fn a_claim_takes_oldest_first_and_skips_targets_at_their_limit() {
        let mut w = window(&[("1", "a"), ("2", "a"), ("3", "b"), ("4", "c")], 0);
        let mut busy = HashMap::from([("a".to_string(), 1usize)]);
        assert_eq!(w.take(&mut busy, 2, 10), vec!["1", "3", "4"]);
        assert_eq!(busy["a"], 2);
        // What was not taken stays for the next claim.
        assert_eq!(w.candidates.len(), 1);
        assert!(
            w.needs_read(0, &busy, 2),
            "only a target at its limit is left"
        );
    }
}
