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
use std::collections::{HashMap, HashSet, VecDeque};
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

/// Each target's oldest due notifications that head their subject (a later one never overtakes
/// an earlier one still pending, so a storefront sees one order's news in order) and are not
/// leased, oldest first overall, at most `$4`; of each target `$4` shared among the targets, and
/// at least `$5`. `$1`: now; `$2`, `$3`: see `live_owners`. The targets with pending work are
/// found by skipping through `deliveries_due_by_target` from one target to the next, and each
/// target's queue is read from its head: a read costs the window and the number of targets,
/// never the backlog behind them. (Read in due order, leaving out targets at their limit, the
/// queue was walked to its end to find nothing when the only target with work was at its
/// limit.) `{heads}` joins each of `targets` to its first notifications (`per_target_heads`).
/// The skip ends on a NULL key, which is left out before the join: on a store whose statistics
/// show one target, the planner reads a target's head from `deliveries_due` filtered by target,
/// and for a NULL key that read went through every due notification to find none. `{pending}`
/// is where the skip reads the pending notifications' targets (see `SQLITE_DUE_HEADS`).
fn due_heads_read(pending: &str, heads: &str) -> String {
    format!(
        "
WITH RECURSIVE targets(key) AS (
  SELECT (SELECT t.target_key FROM {pending} WHERE t.status = 'pending'
          ORDER BY t.target_key LIMIT 1)
  UNION ALL
  SELECT (SELECT t.target_key FROM {pending} WHERE t.status = 'pending'
          AND t.target_key > targets.key ORDER BY t.target_key LIMIT 1)
  FROM targets WHERE targets.key IS NOT NULL)
SELECT d.id, d.target_key, d.next_attempt_at_ms
FROM (SELECT key FROM targets WHERE key IS NOT NULL) targets {heads}
ORDER BY d.next_attempt_at_ms, d.id
LIMIT $4"
    )
}

/// The first due notifications of `targets.key` a claim may take (see `due_heads_read`), as `x`
/// with `columns`; `greatest` is the backend's name for the larger of two values.
fn per_target_heads(columns: &str, greatest: &str) -> String {
    format!(
        "SELECT {columns} FROM deliveries x WHERE x.target_key = targets.key \
         AND x.status = 'pending' AND x.next_attempt_at_ms <= $1 AND {old} \
         AND NOT EXISTS (SELECT 1 FROM delivery_leases l WHERE l.delivery_id = x.id AND {held}) \
         AND {first} ORDER BY x.next_attempt_at_ms, x.id \
         LIMIT {greatest}($5, $4 / (SELECT {greatest}(COUNT(every.key), 1) FROM targets every))",
        old = free_of_old_lease("x", "$1", "$2", "$3"),
        held = held("$1", "$2", "$3"),
        first = first_of_subject("x"),
    )
}

/// `due_heads_read` on PostgreSQL: each target's first notifications in a lateral subquery.
static PG_DUE_HEADS: LazyLock<String> = LazyLock::new(|| {
    due_heads_read(
        "deliveries t",
        &format!(
            "CROSS JOIN LATERAL ({}) d",
            per_target_heads("x.id, x.target_key, x.next_attempt_at_ms", "GREATEST")
        ),
    )
});

/// `due_heads_read` on SQLite, which has no lateral join: each target's first notifications
/// looked up by id from a correlated list (its plan reads them from the index, target by target).
/// The skip names its index: SQLite plans without statistics, and left to itself it took
/// `deliveries_by_status` and sorted every pending notification by target at each step of the
/// skip, so a read cost the targets times the backlog (11,569 pages read for 510 heads out of
/// 5,000 pending to ten targets, 194 through the index; BENCHMARKS.md, "2026-12-07 midday").
static SQLITE_DUE_HEADS: LazyLock<String> = LazyLock::new(|| {
    due_heads_read(
        "deliveries t INDEXED BY deliveries_due_by_target",
        &format!(
            "JOIN deliveries d ON d.id IN ({})",
            per_target_heads("x.id", "MAX")
        ),
    )
});

/// Deliveries in flight per target and owner, across every worker and replica (their leases
/// hold).
static IN_FLIGHT_BY_TARGET: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT l.target_key, l.lease_owner, COUNT(*) AS busy FROM delivery_leases l WHERE {} \
         GROUP BY l.target_key, l.lease_owner",
        held("$1", "$2", "$3")
    )
});

/// What a target's leases say, across every worker and replica.
struct InFlight {
    /// Deliveries in flight per target.
    busy: HashMap<String, usize>,
    /// This process's share of each target that other replicas hold leases on too.
    shares: HashMap<String, Share>,
}

/// This process's part of a target that `of` replicas serve at once, the replica `mine` of them
/// in the order of their ids: the notifications whose id falls in its bucket. Each replica reads
/// its own window of the same queue, so without shares two replicas passing their slots on
/// named the same oldest notifications: the one that came second found it leased and walked the
/// target's queue for another, in most of its record statements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Share {
    of: usize,
    mine: usize,
}

impl Share {
    fn includes(&self, id: &str) -> bool {
        bucket(id) % self.of as u64 == self.mine as u64
    }
}

/// FNV-1a of `id`: the same in every replica (the standard library's hasher is seeded per
/// process).
fn bucket(id: &str) -> u64 {
    id.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// How many due notifications one read of the queue takes in, per delivery a claim may take,
/// and at least.
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
    /// Targets at their limit when the last claim counted: their candidates wait for a slot of
    /// their own target to pass on, and stand in no other target's way.
    full: HashSet<String>,
    /// Targets other replicas hold leases on too: a slot passes on within this process's share.
    shares: HashMap<String, Share>,
    /// Since the last read, a claim took from the window, or a slot ended with nothing to pass
    /// on to: a target may then have more due than the window holds.
    drawn: bool,
    /// Notifications this process holds leases on. A read that began before a lease committed
    /// still lists its notification: named to a slot, it cannot be leased again, and the slot
    /// falls back to walking its target's queue (on PostgreSQL; on SQLite the slot ends), which
    /// then takes the next candidates from under the names that follow.
    held: HashSet<String>,
    /// Notifications whose attempt was recorded since the last read began. That read may still
    /// list one (found free before its lease was taken), though it is delivered or not due:
    /// named to a claim, it is not leased, and a claim that leases nothing leaves the relay
    /// idle until its next poll when no slot is left to wake it.
    ended: HashSet<String>,
}

impl DueWindow {
    /// New work was queued: read the queue again at the next claim.
    pub fn mark_stale(&mut self) {
        self.stale = true;
        self.marks += 1;
    }

    /// Where a read of the queue that begins now stands: hand it back to `refill`.
    pub fn read_begins(&mut self, now: i64) -> ReadStart {
        self.ended.clear();
        ReadStart {
            at_ms: now,
            marks: self.marks,
        }
    }

    /// Whether the queue must be read again before a claim: an old read; news into an empty
    /// window; or nothing left in it for a target below its limit, once the window was drawn on
    /// (see `drawn`). News into a window that still holds candidates waits for the read to age:
    /// what was queued since is younger than every candidate, and under a steady intake news
    /// comes with nearly every event. Read for each, a backlog cost the store a read of 512
    /// heads (each checked against its leases and its subject) per event, and the relay fell
    /// behind for good. With only targets at their limit left and nothing drawn, a read would
    /// find what the last one found.
    pub fn needs_read(&self, now: i64, busy: &HashMap<String, usize>, per_target: usize) -> bool {
        now - self.read_at_ms > WINDOW_MAX_AGE_MS
            || (self.stale && self.candidates.is_empty())
            || (self.drawn
                && !self
                    .candidates
                    .iter()
                    .any(|slot| busy.get(&slot.target).copied().unwrap_or(0) < per_target))
    }

    /// How long news waits for the read to age (see `needs_read`), if any waits.
    pub fn news_waits_ms(&self, now: i64) -> Option<i64> {
        let left = WINDOW_MAX_AGE_MS + 1 - (now - self.read_at_ms);
        (self.stale && !self.candidates.is_empty() && left > 0).then_some(left)
    }

    /// A slot ended with nothing to pass on to: the next claim reads the queue if the window
    /// has nothing for it.
    pub fn slot_ended(&mut self) {
        self.drawn = true;
    }

    /// The oldest candidate of `target` (in this process's share of it, see `Share`) or of a
    /// target below its limit, if it is `target`'s and the read is still fresh: a slot passes on
    /// to its own target only when no other target that could take it has an older
    /// notification waiting. News does not stop it: what was queued since the read is due now,
    /// so it is younger than every candidate, and the order holds.
    pub fn take_next_of(&mut self, target: &str, now: i64) -> Option<Slot> {
        if now - self.read_at_ms > WINDOW_MAX_AGE_MS {
            return None;
        }
        let share = self.shares.get(target);
        let next = self.candidates.iter().position(|slot| {
            if slot.target == target {
                share.is_none_or(|share| share.includes(&slot.id))
            } else {
                !self.full.contains(&slot.target)
            }
        })?;
        if self.candidates[next].target == target {
            self.candidates.remove(next)
        } else {
            None
        }
    }

    /// How many due notifications a read for claims of `batch` takes in.
    pub fn read_size(batch: usize) -> usize {
        (batch * WINDOW_PER_SLOT).max(MIN_WINDOW)
    }

    /// How many of one target's due notifications a read takes in at least, when a target may
    /// have `per_target` in flight: enough to fill its slots.
    pub fn read_size_per_target(per_target: usize) -> usize {
        per_target.max(1)
    }

    /// This process leased `id`, the notification its slot named (a claim, or a slot passed
    /// on): the window gave it out already.
    fn hold(&mut self, id: &str) {
        self.held.insert(id.to_owned());
    }

    /// This process leased `id` in place of the notification its slot named: it is no candidate
    /// any more, nor are its target's older candidates. A slot's lease goes to the one it names
    /// or, when that was taken, to its target's oldest free notification (on PostgreSQL), so the
    /// store found those older ones taken too, by this process or another replica. Named again
    /// they would each cost the store that walk once more.
    fn hold_in_place_of_named(&mut self, id: &str) {
        if let Some(at) = self.candidates.iter().position(|slot| slot.id == id) {
            let target = self.candidates[at].target.clone();
            let mut position = 0;
            self.candidates.retain(|slot| {
                let older = position <= at;
                position += 1;
                !(older && slot.target == target)
            });
        }
        self.hold(id);
    }

    /// This process leased `id` for a slot: the notification the slot named (`named`), or one
    /// the store found in its place (see `hold_in_place_of_named`).
    pub fn leased(&mut self, id: &str, named: bool) {
        if named {
            self.hold(id);
        } else {
            self.hold_in_place_of_named(id);
        }
    }

    /// The targets this process shares with other replicas, as the leases were last counted.
    pub fn share(&mut self, shares: HashMap<String, Share>) {
        self.shares = shares;
    }

    /// The attempt on `id` was recorded (or could not be): its lease is over. A read that
    /// begins from now on sees it recorded, or leased no more.
    pub fn release(&mut self, id: &str) {
        self.held.remove(id);
        self.ended.insert(id.to_owned());
    }

    /// The queue as read from `start` on (`Store::due_heads`), in place of what was left, less
    /// what this process holds or finished since. News marked since the read began keeps the
    /// window stale.
    pub fn refill(&mut self, due: Vec<Slot>, start: ReadStart) {
        let (held, ended) = (&self.held, &self.ended);
        self.candidates = due
            .into_iter()
            .filter(|slot| !held.contains(&slot.id) && !ended.contains(&slot.id))
            .collect();
        self.read_at_ms = start.at_ms;
        self.stale = self.marks != start.marks;
        self.drawn = false;
    }

    /// Takes up to `batch` candidates of targets below `per_target`, oldest first, counting
    /// them as busy, and notes which targets are at their limit. Each is a slot (see `Slot`).
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
        self.drawn |= !chosen.is_empty();
        self.full = busy
            .iter()
            .filter(|(_, in_flight)| **in_flight >= per_target)
            .map(|(target, _)| target.clone())
            .collect();
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
        let InFlight { mut busy, shares } = self.leases_by_target().await?;
        window.borrow_mut().share(shares);
        if window.borrow().needs_read(now, &busy, per_target) {
            let start = window.borrow_mut().read_begins(now);
            let due = self
                .due_heads(DueWindow::read_size(batch), per_target)
                .await?;
            window.borrow_mut().refill(due, start);
        }
        let slots = window.borrow_mut().take(&mut busy, per_target, batch);
        let named: HashSet<String> = slots.iter().map(|slot| slot.id.clone()).collect();
        let claimed = self.lease_deliveries(slots, lease_ms).await?;
        let mut window = window.borrow_mut();
        for delivery in &claimed {
            window.leased(&delivery.id, named.contains(&delivery.id));
        }
        Ok(claimed)
    }

    /// Deliveries in flight per target, across every worker and replica (their leases hold),
    /// and this process's share of the targets it serves with other replicas.
    async fn leases_by_target(&self) -> Result<InFlight, StoreError> {
        let now = clock::unix_ms();
        // Reads are on the pool (readers never block the writer under WAL).
        let rows = sqlx::query(IN_FLIGHT_BY_TARGET.as_str())
            .bind(now)
            .bind(now - OWNER_SILENCE_MS)
            .bind(self.instance())
            .fetch_all(self.pool())
            .await?;
        let mut busy: HashMap<String, usize> = HashMap::new();
        let mut owners: HashMap<String, Vec<String>> = HashMap::new();
        for row in &rows {
            let target: String = column(row, "target_key")?;
            *busy.entry(target.clone()).or_default() += column::<i64>(row, "busy")?.max(0) as usize;
            owners
                .entry(target)
                .or_default()
                .push(column(row, "lease_owner")?);
        }
        let shares = owners
            .into_iter()
            .filter(|(_, owners)| owners.len() > 1)
            .filter_map(|(target, mut owners)| {
                owners.sort_unstable();
                let mine = owners.iter().position(|owner| owner == self.instance())?;
                Some((
                    target,
                    Share {
                        of: owners.len(),
                        mine,
                    },
                ))
            })
            .collect();
        Ok(InFlight { busy, shares })
    }

    /// Up to `limit` due notifications, oldest first, that a claim may take, `limit` shared
    /// among the targets but at least `DueWindow::read_size_per_target(per_target)` of each
    /// (see `due_heads_read`).
    async fn due_heads(&self, limit: usize, per_target: usize) -> Result<Vec<Slot>, StoreError> {
        let now = clock::unix_ms();
        let sql = match self.backend() {
            Backend::Postgres => PG_DUE_HEADS.as_str(),
            Backend::Sqlite => SQLITE_DUE_HEADS.as_str(),
        };
        let of_each = DueWindow::read_size_per_target(per_target);
        sqlx::query(sql)
            .bind(now)
            .bind(now - OWNER_SILENCE_MS)
            .bind(self.instance())
            .bind(limit as i64)
            .bind(i64::try_from(of_each).unwrap_or(i64::MAX))
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
            ..DueWindow::default()
        }
    }

    #[test]
    fn a_slot_passes_on_only_to_the_oldest_and_only_while_the_read_is_fresh() {
        let mut w = window(&[("1", "a"), ("2", "b"), ("3", "a")], 1_000);
        // "b" is not next overall: its slot goes back to the claim.
        assert_eq!(w.take_next_of("b", 1_000), None);
        assert_eq!(w.take_next_of("a", 1_000), Some(slot("1", "a")));
        assert_eq!(w.take_next_of("b", 1_000), Some(slot("2", "b")));
        // Too old a read: nothing is handed over.
        assert_eq!(w.take_next_of("a", 1_000 + WINDOW_MAX_AGE_MS + 1), None);
        // News queued since is younger than every candidate: the slot still passes on.
        w.mark_stale();
        assert_eq!(w.take_next_of("a", 1_000), Some(slot("3", "a")));
    }

    #[test]
    fn a_target_at_its_limit_stands_in_no_other_targets_way_when_a_slot_passes_on() {
        let mut w = window(&[("1", "a"), ("2", "b"), ("3", "c"), ("4", "b")], 1_000);
        // The claim finds "a" at its limit: its candidate waits for a slot of its own.
        let mut busy = HashMap::from([("a".to_string(), 2usize), ("c".to_string(), 1)]);
        assert_eq!(w.take(&mut busy, 2, 1), vec![slot("2", "b")]);
        // "c"'s next is the oldest a free slot could take: "b"'s waits.
        assert_eq!(w.take_next_of("b", 1_000), None);
        assert_eq!(w.take_next_of("c", 1_000), Some(slot("3", "c")));
        assert_eq!(w.take_next_of("b", 1_000), Some(slot("4", "b")));
        // "a" hands its slot on to its own, older than anything left.
        assert_eq!(w.take_next_of("a", 1_000), Some(slot("1", "a")));
        assert!(w.candidates.is_empty());
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
    fn a_read_that_began_before_a_lease_does_not_name_its_notification_again() {
        let mut w = window(&[], 0);
        let start = w.read_begins(1_000);
        // The lease on "1" committed while the queue was read, which still listed it.
        w.hold("1");
        w.refill(vec![slot("1", "a"), slot("2", "a")], start);
        assert_eq!(w.take_next_of("a", 1_000), Some(slot("2", "a")));
        // Once its attempt is recorded, a read that lists it again (a retry come due) counts.
        w.release("1");
        let start = w.read_begins(1_010);
        w.refill(vec![slot("1", "a"), slot("3", "a")], start);
        assert_eq!(w.take_next_of("a", 1_010), Some(slot("1", "a")));
    }

    #[test]
    fn a_read_that_began_before_a_lease_does_not_list_what_was_delivered_meanwhile() {
        let mut w = window(&[("1", "a"), ("2", "a")], 1_000);
        // The queue is read while a slot passes on to "1", delivers it and records it.
        let start = w.read_begins(1_100);
        assert_eq!(w.take_next_of("a", 1_100), Some(slot("1", "a")));
        w.hold("1");
        w.release("1");
        w.refill(vec![slot("1", "a"), slot("2", "a")], start);
        let mut busy = HashMap::new();
        assert_eq!(w.take(&mut busy, 16, 16), vec![slot("2", "a")]);
    }

    #[test]
    fn a_lease_past_its_targets_older_candidates_drops_them() {
        let mut w = window(
            &[("1", "a"), ("2", "b"), ("3", "a"), ("4", "a"), ("5", "a")],
            0,
        );
        // "4" was leased for a slot of "a" that named an older one: "1" and "3" were taken.
        w.hold_in_place_of_named("4");
        let ids: Vec<&str> = w.candidates.iter().map(|slot| slot.id.as_str()).collect();
        assert_eq!(ids, vec!["2", "5"]);
        // A lease on what is no candidate (read after the window was) drops nothing.
        w.hold_in_place_of_named("9");
        assert_eq!(w.candidates.len(), 2);
    }

    #[test]
    fn news_that_arrives_while_the_queue_is_read_keeps_the_window_stale() {
        let mut w = window(&[], 0);
        let start = w.read_begins(1_000);
        w.mark_stale();
        w.refill(vec![slot("1", "a")], start);
        assert_eq!(w.news_waits_ms(1_010), Some(WINDOW_MAX_AGE_MS - 9));
        // Read before the news: its claims take no notice of the news until the read ages.
        let busy = HashMap::from([("a".to_string(), 2usize)]);
        assert!(!w.needs_read(1_000 + WINDOW_MAX_AGE_MS, &busy, 2));
        assert!(w.needs_read(1_001 + WINDOW_MAX_AGE_MS, &busy, 2));
        let start = w.read_begins(1_300);
        w.refill(vec![slot("1", "a")], start);
        assert_eq!(w.news_waits_ms(1_300), None, "read after the news");
    }

    /// A steady intake brings news with nearly every event. While the window holds candidates,
    /// news waits for the read to age, not a read per event: read each time, a backlog of one
    /// busy target cost the store a read of 512 heads per event, and the relay fell behind for
    /// good. A slot that ends, or a claim that takes, has the queue read at once when the window
    /// has nothing for a target below its limit.
    #[test]
    fn news_alone_reads_a_window_of_busy_targets_once_it_ages() {
        let busy = HashMap::from([("a".to_string(), 2usize)]);
        let mut w = window(&[("1", "a"), ("2", "a")], 1_000);
        w.mark_stale();
        assert!(!w.needs_read(1_001, &busy, 2), "news just after a read");
        assert_eq!(w.news_waits_ms(1_001), Some(WINDOW_MAX_AGE_MS));
        assert!(w.needs_read(1_001 + WINDOW_MAX_AGE_MS, &busy, 2));
        // Read again: no news, nothing drawn, only "a" at its limit: nothing to read for.
        let start = w.read_begins(1_100);
        w.refill(vec![slot("1", "a"), slot("2", "a")], start);
        assert!(!w.needs_read(1_101, &busy, 2));
        // One of its slots ended with nothing to pass on to ("b" may have work unread).
        w.slot_ended();
        assert!(w.needs_read(1_101, &busy, 2));
        // News into an empty window is read at once (an idle relay).
        let mut idle = window(&[], 1_000);
        idle.mark_stale();
        assert!(idle.needs_read(1_001, &HashMap::new(), 2));
        assert_eq!(idle.news_waits_ms(1_001), None);
    }

    /// A target another replica serves too: its slots pass on within this process's share,
    /// oldest first; served alone again, to its oldest notification.
    #[test]
    fn a_shared_target_passes_its_slots_on_within_this_replicas_share() {
        let ids: Vec<String> = (1..=8).map(|n| format!("msg_{n}")).collect();
        let share = Share { of: 2, mine: 0 };
        let mine: Vec<&String> = ids.iter().filter(|id| share.includes(id)).collect();
        assert!(!mine.is_empty() && mine.len() < ids.len(), "{mine:?}");
        let candidates: Vec<(&str, &str)> = ids.iter().map(|id| (id.as_str(), "a")).collect();
        let mut w = window(&candidates, 1_000);
        w.share(HashMap::from([("a".to_owned(), share)]));
        for id in mine {
            assert_eq!(
                w.take_next_of("a", 1_000).map(|slot| slot.id),
                Some(id.clone())
            );
        }
        assert_eq!(w.take_next_of("a", 1_000), None, "the rest is the other's");
        w.share(HashMap::new());
        let oldest = ids.iter().find(|id| !share.includes(id)).unwrap();
        assert_eq!(
            w.take_next_of("a", 1_000).map(|slot| slot.id),
            Some(oldest.clone())
        );
    }

    /// Replicas holding leases on one target each get a share of it, and the shares part its
    /// notifications between them; a target one replica serves alone, and a replica that holds
    /// nothing there, have none.
    #[tokio::test]
    async fn replicas_that_serve_one_target_part_its_notifications() {
        use sqlx::{AnyConnection, AssertSqlSafe, Connection};
        let (a, url) = crate::store::pg_group_commit::fresh_database().await;
        let b = Store::connect(&url.clone().into()).await.unwrap();
        let c = Store::connect(&url.clone().into()).await.unwrap();
        let mut conn = AnyConnection::connect(&url).await.unwrap();
        let until = clock::unix_ms() + 60_000;
        for (id, target, owner) in [
            ("msg_1", "t", a.instance()),
            ("msg_2", "t", a.instance()),
            ("msg_3", "t", b.instance()),
            ("msg_4", "u", a.instance()),
        ] {
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO delivery_leases (delivery_id, target_key, lease_until_ms, \
                 lease_owner) VALUES ('{id}', '{target}', {until}, '{owner}')"
            )))
            .execute(&mut conn)
            .await
            .unwrap();
        }
        let [a, b, c] = [
            a.leases_by_target().await.unwrap(),
            b.leases_by_target().await.unwrap(),
            c.leases_by_target().await.unwrap(),
        ];
        for counted in [&a, &b, &c] {
            assert_eq!(counted.busy["t"], 3);
            assert_eq!(counted.busy["u"], 1);
        }
        assert_eq!(a.shares.keys().collect::<Vec<_>>(), ["t"]);
        assert_eq!(b.shares.keys().collect::<Vec<_>>(), ["t"]);
        assert!(c.shares.is_empty());
        let (a, b) = (a.shares["t"], b.shares["t"]);
        assert_eq!((a.of, b.of), (2, 2));
        for n in 0..100 {
            let id = format!("msg_{n:06}");
            assert!(
                a.includes(&id) != b.includes(&id),
                "{id} in exactly one share"
            );
        }
    }

    /// `EXPLAIN ANALYZE` of a read of the queue (`PG_DUE_HEADS`) for 512 heads, at least 16 of
    /// each target, planned as `mode` (`plan_cache_mode`) says.
    async fn read_plan(conn: &mut sqlx::AnyConnection, mode: &str) -> Vec<String> {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DEALLOCATE ALL; SET plan_cache_mode = {mode}; \
             PREPARE heads (bigint, bigint, text, bigint, bigint) AS {}",
            *PG_DUE_HEADS
        )))
        .execute(&mut *conn)
        .await
        .unwrap();
        sqlx::query_scalar(
            "EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) EXECUTE heads(99999, 0, 'me', 512, 16)",
        )
        .fetch_all(conn)
        .await
        .unwrap()
    }

    /// One target's queue, as a drain to one receiver reads it: the skip through the targets
    /// ends on a NULL key, and reading that key's head went through every due notification (on
    /// these statistics, `deliveries_due` filtered by target) to find none.
    #[tokio::test]
    async fn a_read_of_the_queue_reads_no_head_for_the_end_of_the_targets() {
        use sqlx::{AnyConnection, Connection};
        let (_store, url) = crate::store::pg_group_commit::fresh_database().await;
        let mut conn = AnyConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(
            "INSERT INTO deliveries (id, subject_key, target_url, target_key, event_type, body, \
             status, next_attempt_at_ms, created_at_ms, updated_at_ms) \
             SELECT 'msg_' || lpad(n::text, 6, '0'), 'ref-' || n, 'http://shop/n', 'http://shop', \
             'order.paid', '{}', 'pending', 1000 + n, 1000 + n, 1000 + n \
             FROM generate_series(1, 3000) n; ANALYZE deliveries",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        let plan = read_plan(&mut conn, "force_generic_plan").await;
        let heads: Vec<&String> = plan
            .iter()
            .filter(|line| line.contains(" on deliveries x "))
            .collect();
        assert!(!heads.is_empty(), "{plan:#?}");
        assert!(
            heads.iter().all(|line| line.contains(" loops=1)")),
            "the one target's head, read once: {plan:#?}"
        );
    }

    /// A backlog the statistics have not seen (they were taken when everything was delivered):
    /// a read of the queue checks each head against its own subject's first pending
    /// notification, a lookup, whatever the planner expects. Estimated at a few pending, every
    /// head was compared with every pending notification (528 heads x 1,147 pending at 1,500
    /// events a second in `bench/steady.sh`, 98 ms a read), and the relay fell behind; with the
    /// status named plainly, statistics that saw none pending made the lookup a walk of
    /// `deliveries_due` for each head (1.5 s a read here).
    #[tokio::test]
    async fn a_read_of_a_backlog_the_statistics_never_saw_looks_up_each_heads_subject() {
        use sqlx::{AnyConnection, Connection};
        let (_store, url) = crate::store::pg_group_commit::fresh_database().await;
        let mut conn = AnyConnection::connect(&url).await.unwrap();
        use super::super::leases::tests::a_backlog_the_statistics_never_saw;
        a_backlog_the_statistics_never_saw(&mut conn).await;
        for mode in ["force_custom_plan", "force_generic_plan"] {
            let plan = read_plan(&mut conn, mode).await;
            let compared: u64 = plan
                .iter()
                .filter_map(|line| line.trim().strip_prefix("Rows Removed by Join Filter: "))
                .map(|count| count.parse::<u64>().unwrap())
                .sum();
            assert!(
                compared <= 512,
                "{mode}: {compared} rows compared: {plan:#?}"
            );
            let subject_checks: Vec<&String> = plan
                .iter()
                .filter(|line| line.contains(" on deliveries e "))
                .collect();
            assert!(
                !subject_checks.is_empty()
                    && subject_checks
                        .iter()
                        .all(|line| line.contains(" using deliveries_first_of_subject ")),
                "{mode}: each head's subject looked up: {plan:#?}"
            );
            let heads: u64 = plan
                .iter()
                .find_map(|line| line.trim().strip_prefix("Limit"))
                .and_then(|line| line.split("rows=").nth(2))
                .and_then(|rest| rest.split(' ').next())
                .map(|rows| rows.parse().unwrap())
                .unwrap();
            assert_eq!(heads, 512, "{mode}: {plan:#?}");
        }
    }

    /// On SQLite, which plans without statistics, a read of the queue skips from one target to
    /// the next through the targets' index and sorts only the heads it found. Left to choose, it
    /// read every pending notification by status and sorted them by target at each step of the
    /// skip: the targets times the backlog, in every read of a drain.
    #[tokio::test]
    async fn a_read_of_the_queue_on_sqlite_skips_through_the_targets_index() {
        let (_dir, store) = crate::store::sqlite_plans::sqlite_store().await;
        sqlx::raw_sql(
            "WITH RECURSIVE n(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM n WHERE n < 3000) \
             INSERT INTO deliveries (id, subject_key, target_url, target_key, event_type, body, \
             status, next_attempt_at_ms, created_at_ms, updated_at_ms) \
             SELECT printf('msg_%06d', n), 'ref-' || n, 'http://shop-' || (n % 10) || '/n', \
             'http://shop-' || (n % 10), 'order.paid', '{}', 'pending', 1000 + n, 1000 + n, \
             1000 + n FROM n",
        )
        .execute(store.pool())
        .await
        .unwrap();
        let plan = crate::store::sqlite_plans::sqlite_plan(&store, &SQLITE_DUE_HEADS).await;
        let sorts = plan
            .iter()
            .filter(|step| step.contains("TEMP B-TREE"))
            .count();
        assert_eq!(sorts, 1, "only the heads are sorted: {plan:#?}");
        assert!(
            plan.iter()
                .any(|step| step.contains("deliveries_due_by_target (target_key>?)")),
            "{plan:#?}"
        );
        // Each head's subject, looked up in the index its predicate names.
        assert!(
            plan.iter().any(|step| step.contains(
                "SEARCH e USING INDEX deliveries_first_of_subject (subject_key=? AND id<?)"
            )),
            "{plan:#?}"
        );
        let heads = store.due_heads(512, 16).await.unwrap();
        assert_eq!(heads.len(), 510, "51 of each of ten targets");
        assert_eq!(heads[0].id, "msg_000001");
        store.close().await;
    }
}
