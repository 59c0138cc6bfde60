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
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
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
SELECT d.id, d.target_key, d.next_attempt_at_ms FROM deliveries d
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

/// A due notification as a read of the queue found it, standing for a slot on its target. On
/// PostgreSQL, where replicas share the queue, the slot's lease goes to the oldest free
/// notification of `target` due at or after it (in the queue's order: due time, then id):
/// another replica may have taken this one since the read, and then the slot gets the next.
/// On SQLite, which serves one replica, it goes to this notification if it is still free.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub target: String,
    pub due_at_ms: i64,
    pub id: String,
}

impl Slot {
    /// A slot on `target` for any of its due notifications, from the oldest.
    pub fn any_of(target: &str) -> Self {
        Self {
            target: target.to_owned(),
            due_at_ms: i64::MIN,
            id: String::new(),
        }
    }
}

/// When a read of the queue began, and what news the window had seen then.
#[derive(Debug, Clone, Copy)]
pub struct ReadStart {
    at_ms: i64,
    marks: u64,
}

/// Due notifications read ahead of the claims that take them: one read of the queue serves many
/// claims, so a claim's cost does not grow with the backlog (one busy target with thousands
/// queued would otherwise be read again for every slot that frees up). Only a hint: the lease
/// compare-and-set checks every condition again.
#[derive(Debug, Default)]
pub struct DueWindow {
    /// Oldest due first.
    candidates: VecDeque<Slot>,
    read_at_ms: i64,
    stale: bool,
    /// How many times news was marked: a read that began before the last mark is stale.
    marks: u64,
}

impl DueWindow {
    /// New work was queued: read the queue again at the next claim.
    pub fn mark_stale(&mut self) {
        self.stale = true;
        self.marks += 1;
    }

    /// Where a read of the queue that begins now stands: hand it back to `refill`.
    pub fn read_begins(&self, now: i64) -> ReadStart {
        ReadStart {
            at_ms: now,
            marks: self.marks,
        }
    }

    /// Whether the queue must be read again before a claim: news, an old read, or nothing left
    /// in it for a target below its limit.
    pub fn needs_read(&self, now: i64, busy: &HashMap<String, usize>, per_target: usize) -> bool {
        self.stale
            || now - self.read_at_ms > WINDOW_MAX_AGE_MS
            || !self
                .candidates
                .iter()
                .any(|slot| busy.get(&slot.target).copied().unwrap_or(0) < per_target)
    }

    /// The oldest candidate, if it is `target`'s and the read is still fresh.
    pub fn take_next_of(&mut self, target: &str, now: i64) -> Option<Slot> {
        if self.stale || now - self.read_at_ms > WINDOW_MAX_AGE_MS {
            return None;
        }
        match self.candidates.front() {
            Some(next) if next.target == target => self.candidates.pop_front(),
            _ => None,
        }
    }

    /// How many due notifications a read for claims of `batch` takes in.
    pub fn read_size(batch: usize) -> usize {
        (batch * WINDOW_PER_SLOT).max(MIN_WINDOW)
    }

    /// The queue as read from `start` on (`Store::due_heads`), in place of what was left. News
    /// marked since the read began keeps the window stale.
    pub fn refill(&mut self, due: Vec<Slot>, start: ReadStart) {
        self.candidates = due.into();
        self.read_at_ms = start.at_ms;
        self.stale = self.marks != start.marks;
    }

    /// Takes up to `batch` candidates of targets below `per_target`, oldest first, counting
    /// them as busy. Each is a slot (see `Slot`).
    pub fn take(
        &mut self,
        busy: &mut HashMap<String, usize>,
        per_target: usize,
        batch: usize,
    ) -> Vec<Slot> {
        let mut chosen = Vec::with_capacity(batch.min(self.candidates.len()));
        self.candidates.retain(|slot| {
            if chosen.len() == batch {
                return true;
            }
            let in_flight = busy.entry(slot.target.clone()).or_insert(0);
            if *in_flight >= per_target {
                return true;
            }
            *in_flight += 1;
            chosen.push(slot.clone());
            false
        });
        chosen
    }
}

impl Store {
    /// Claims up to `batch` due notifications, at most `per_target` in flight per target
    /// (counting other workers' and replicas' leases), fairly across targets: a target at its
    /// limit is skipped and the next ones are served. `window` carries the read-ahead from one
    /// claim to the next; it is only borrowed between awaits, so finished deliveries can keep
    /// handing their slots on from it while the claim waits on the store.
    pub async fn claim_deliveries(
        &self,
        window: &RefCell<DueWindow>,
        batch: usize,
        per_target: usize,
        lease_ms: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        let now = clock::unix_ms();
        let mut busy = self.leases_by_target().await?;
        if window.borrow().needs_read(now, &busy, per_target) {
            let start = window.borrow().read_begins(now);
            let due = self
                .due_heads(DueWindow::read_size(batch), per_target)
                .await?;
            window.borrow_mut().refill(due, start);
        }
        let slots = window.borrow_mut().take(&mut busy, per_target, batch);
        self.lease_deliveries(slots, lease_ms).await
    }

    /// Deliveries in flight per target, across every worker and replica (their leases hold).
    async fn leases_by_target(&self) -> Result<HashMap<String, usize>, StoreError> {
        let now = clock::unix_ms();
        // Reads are on the pool (readers never block the writer under WAL).
        sqlx::query(IN_FLIGHT_BY_TARGET.as_str())
            .bind(now)
            .bind(now - OWNER_SILENCE_MS)
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
            .collect()
    }

    /// Up to `limit` due notifications, oldest first, that a claim may take (see `DUE_HEADS`).
    async fn due_heads(&self, limit: usize, per_target: usize) -> Result<Vec<Slot>, StoreError> {
        let now = clock::unix_ms();
        sqlx::query(DUE_HEADS.as_str())
            .bind(now)
            .bind(now - OWNER_SILENCE_MS)
            .bind(self.instance())
            .bind(limit as i64)
            .bind(i64::try_from(per_target).unwrap_or(i64::MAX))
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|row| {
                Ok(Slot {
                    target: column(row, "target_key")?,
                    due_at_ms: column(row, "next_attempt_at_ms")?,
                    id: column(row, "id")?,
                })
            })
            .collect()
    }

    /// Takes a lease for each of `slots` (see `Slot`) on a due notification that is first of its
    /// subject and free when the write runs (a compare-and-set: one another worker holds is not
    /// taken); the notifications leased, oldest first.
    async fn lease_deliveries(
        &self,
        slots: Vec<Slot>,
        lease_ms: i64,
    ) -> Result<Vec<ClaimedDelivery>, StoreError> {
        if slots.is_empty() {
            return Ok(Vec::new());
        }
        let mut claimed = self
            .write(LeaseClaim {
                slots,
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
    /// (group-committed: bursts share one commit). An attempt may hand its slot on (a `Slot` of
    /// its own target): the same transaction leases a notification for it as a claim would, and
    /// it comes back, in the attempt's place, to be delivered next: the slot passes on without a
    /// claim. `None` in its place when none was leased.
    pub async fn record_attempts(
        &self,
        finished: Vec<(AttemptRecord, Option<Slot>)>,
        lease_ms: i64,
    ) -> Result<Vec<Option<ClaimedDelivery>>, StoreError> {
        let postgres = self.backend() == Backend::Postgres;
        let (records, hand_overs): (Vec<_>, Vec<_>) = finished.into_iter().unzip();
        let slots: Vec<Slot> = hand_overs.iter().flatten().cloned().collect();
        let mut claimed = self
            .write(RecordBatch {
                records,
                next: (!slots.is_empty()).then(|| LeaseClaim {
                    slots,
                    lease_ms,
                    owner: self.instance().to_owned(),
                    postgres,
                }),
                postgres,
            })
            .await?;
        // Each target's leased notifications, oldest first, to its slots in order.
        claimed.sort_by(|a, b| a.id.cmp(&b.id));
        let mut by_target: HashMap<String, VecDeque<ClaimedDelivery>> = HashMap::new();
        for delivery in claimed {
            by_target
                .entry(delivery.target_key.clone())
                .or_default()
                .push_back(delivery);
        }
        Ok(hand_overs
            .into_iter()
            .map(|slot| {
                slot.and_then(|slot| {
                    by_target
                        .get_mut(&slot.target)
                        .and_then(VecDeque::pop_front)
                })
            })
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

    fn slot(id: &str, target: &str) -> Slot {
        Slot {
            target: target.to_owned(),
            due_at_ms: 0,
            id: id.to_owned(),
        }
    }

    fn window(candidates: &[(&str, &str)], read_at_ms: i64) -> DueWindow {
        DueWindow {
            candidates: candidates
                .iter()
                .map(|(id, target)| slot(id, target))
                .collect(),
            read_at_ms,
            stale: false,
            marks: 0,
        }
    }

    #[test]
    fn a_slot_passes_on_only_to_the_oldest_and_only_while_the_read_is_fresh() {
        let mut w = window(&[("1", "a"), ("2", "b"), ("3", "a")], 1_000);
        // "b" is not next overall: its slot goes back to the claim.
        assert_eq!(w.take_next_of("b", 1_000), None);
        assert_eq!(w.take_next_of("a", 1_000), Some(slot("1", "a")));
        assert_eq!(w.take_next_of("b", 1_000), Some(slot("2", "b")));
        // Too old a read, or news queued since: nothing is handed over.
        assert_eq!(w.take_next_of("a", 1_000 + WINDOW_MAX_AGE_MS + 1), None);
        w.mark_stale();
        assert_eq!(w.take_next_of("a", 1_000), None);
    }

    #[test]
    fn a_claim_takes_oldest_first_and_skips_targets_at_their_limit() {
        let mut w = window(&[("1", "a"), ("2", "a"), ("3", "b"), ("4", "c")], 0);
        let mut busy = HashMap::from([("a".to_string(), 1usize)]);
        let ids: Vec<String> = w.take(&mut busy, 2, 10).into_iter().map(|s| s.id).collect();
        assert_eq!(ids, vec!["1", "3", "4"]);
        assert_eq!(busy["a"], 2);
        // What was not taken stays for the next claim.
        assert_eq!(w.candidates.len(), 1);
        assert!(
            w.needs_read(0, &busy, 2),
            "only a target at its limit is left"
        );
    }

    #[test]
    fn news_that_arrives_while_the_queue_is_read_keeps_the_window_stale() {
        let mut w = window(&[], 0);
        let start = w.read_begins(1_000);
        w.mark_stale();
        w.refill(vec![slot("1", "a")], start);
        assert_eq!(w.take_next_of("a", 1_000), None, "read before the news");
        let start = w.read_begins(1_010);
        w.refill(vec![slot("1", "a")], start);
        assert_eq!(w.take_next_of("a", 1_010), Some(slot("1", "a")));
    }
}
