// Over 400 lines: the read-ahead window and the lease claim it feeds are one mechanism.
//! The worker's side of the outbox: claiming due notifications, recording attempts, handing
//! leases back.

use super::DeliveryStatus;
use crate::clock;
use crate::store::group_commit::{Write, WriteFuture};
use crate::store::tx::{args, Arg, Row, Tx};
use crate::store::{column, Backend, Store, StoreError};
use std::collections::HashMap;

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
/// pending, so a storefront sees one order's news in order), oldest first, of targets below
/// their in-flight limit `$3`. Reading stops after `$2` rows: the cost follows the window, not
/// the size of the queue.
const DUE_HEADS: &str = "
SELECT d.id, d.target_key FROM deliveries d
WHERE d.status = 'pending' AND d.next_attempt_at_ms <= $1 AND d.lease_until_ms <= $1
  AND d.target_key NOT IN (
    SELECT target_key FROM deliveries
    WHERE status = 'pending' AND lease_until_ms > $1
    GROUP BY target_key HAVING COUNT(*) >= $3)
  AND NOT EXISTS (
    SELECT 1 FROM deliveries e
    WHERE e.status = 'pending' AND e.subject_key = d.subject_key AND e.id < d.id)
ORDER BY d.next_attempt_at_ms, d.id
LIMIT $2";

/// Deliveries in flight per target, across every worker and replica (their leases are live).
const IN_FLIGHT_BY_TARGET: &str = "
SELECT target_key, COUNT(*) AS busy FROM deliveries
WHERE status = 'pending' AND lease_until_ms > $1 GROUP BY target_key";

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
        // Reads first, on the pool (readers never block the writer under WAL).
        let mut busy: HashMap<String, usize> = sqlx::query(IN_FLIGHT_BY_TARGET)
            .bind(now)
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
            let rows = sqlx::query(DUE_HEADS)
                .bind(now)
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
                postgres: self.backend() == Backend::Postgres,
            })
            .await?;
        // RETURNING has no order; hand them out oldest first.
        claimed.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(claimed)
    }

    /// Stores one attempt and moves the delivery on, in one transaction (group-committed on
    /// SQLite: a burst of finished deliveries shares one fsync). With `hand_over`, the same
    /// transaction also takes that notification's lease (if it is still free, due and first of
    /// its subject) and returns it to be delivered next: the slot passes on without a claim.
    pub async fn record_attempt(
        &self,
        record: AttemptRecord,
        hand_over: Option<String>,
        lease_ms: i64,
    ) -> Result<Option<ClaimedDelivery>, StoreError> {
        let postgres = self.backend() == Backend::Postgres;
        self.write(RecordAndHandOver {
            record,
            next: hand_over.map(|id| LeaseClaim {
                ids: vec![id],
                lease_ms,
                postgres,
            }),
        })
        .await
    }

    /// Hands back leases this process held (a single SQLite replica restarting after a crash).
    pub async fn release_all_leases(&self) -> Result<u64, StoreError> {
        self.write(LeasesRelease).await
    }
}

fn claimed(row: &Row) -> Result<ClaimedDelivery, StoreError> {
    Ok(ClaimedDelivery {
        id: row.get("id")?,
        target_url: row.get("target_url")?,
        target_key: row.get("target_key")?,
        body: row.get("body")?,
        attempts: row.get::<i64>("attempts")?.max(0) as u32,
        round_base: row.get::<i64>("round_base")?.max(0) as u32,
        created_at_ms: row.get("created_at_ms")?,
        trace_context: row.get("trace_context")?,
    })
}

impl Write for AttemptRecord {
    type Output = ();

    fn run<'c>(&'c self, tx: &'c mut dyn Tx, now: i64) -> WriteFuture<'c, ()> {
        Box::pin(async move {
            let status_code = self.status_code.map(i64::from);
            tx.execute(
                "INSERT INTO delivery_attempts (delivery_id, attempt, started_at_ms, duration_ms, \
                 status_code, error) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (delivery_id, attempt) DO NOTHING",
                &args![
                    &self.delivery_id,
                    i64::from(self.attempt),
                    self.started_at_ms,
                    self.duration_ms,
                    status_code,
                    self.error.as_deref(),
                ],
            )
            .await?;
            let (next_at, finished) = match self.next {
                AttemptNext::RetryAt(at) => (at, None),
                AttemptNext::Delivered | AttemptNext::Failed => (now, Some(now)),
            };
            tx.execute(
                "UPDATE deliveries SET status = $2, attempts = $3, next_attempt_at_ms = $4, \
                 lease_until_ms = 0, last_status_code = $5, last_error = $6, updated_at_ms = $7, \
                 finished_at_ms = $8 WHERE id = $1 AND status = 'pending'",
                &args![
                    &self.delivery_id,
                    self.next.status(),
                    i64::from(self.attempt),
                    next_at,
                    status_code,
                    self.error.as_deref(),
                    now,
                    finished,
                ],
            )
            .await?;
            Ok(())
        })
    }
}

/// Takes the leases of the chosen notifications, those still free.
struct LeaseClaim {
    ids: Vec<String>,
    lease_ms: i64,
    postgres: bool,
}

/// The lease compare-and-set; `{ids}` (where the chosen ids come from) and `{no_index}` differ
/// per backend (see `LeaseClaim::run`).
const LEASE_CLAIM: &str = "UPDATE deliveries SET lease_until_ms = $1, updated_at_ms = $2 \
     WHERE {no_index}status = 'pending' AND {no_index}lease_until_ms <= $2 \
     AND {no_index}next_attempt_at_ms <= $2 AND id IN ({ids}) \
     AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.status = 'pending' \
       AND e.subject_key = deliveries.subject_key AND e.id < deliveries.id) \
     RETURNING id, target_url, target_key, body, attempts, round_base, created_at_ms, \
     trace_context";

/// SQLite: the ids arrive as one JSON array, so every claim is the same prepared statement, and
/// a unary `+` keeps the other columns' indexes out of the plan, so the rows are found by id,
/// not by walking every pending row on the status index.
static SQLITE_LEASE_CLAIM: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    LEASE_CLAIM
        .replace("{no_index}", "+")
        .replace("{ids}", "SELECT value FROM json_each($3)")
});

impl Write for LeaseClaim {
    type Output = Vec<ClaimedDelivery>;

    /// A lease lost in a power cut is harmless: leases are handed back at start, and the
    /// notification is delivered (again) at least once.
    fn durable(&self) -> bool {
        false
    }

    fn run<'c>(&'c self, tx: &'c mut dyn Tx, now: i64) -> WriteFuture<'c, Vec<ClaimedDelivery>> {
        Box::pin(async move {
            let rows = if self.postgres {
                // Replicas skip rows another one is claiming instead of queueing behind it.
                let placeholders: Vec<String> =
                    (3..self.ids.len() + 3).map(|i| format!("${i}")).collect();
                let ids = format!(
                    "SELECT id FROM deliveries WHERE id IN ({}) FOR UPDATE SKIP LOCKED",
                    placeholders.join(", ")
                );
                let sql = LEASE_CLAIM.replace("{no_index}", "").replace("{ids}", &ids);
                let mut args = vec![Arg::Int(now + self.lease_ms), Arg::Int(now)];
                args.extend(self.ids.iter().map(Arg::from));
                tx.fetch_all(&sql, &args).await?
            } else {
                let ids = serde_json::Value::from(self.ids.clone()).to_string();
                tx.fetch_all(
                    &SQLITE_LEASE_CLAIM,
                    &args![now + self.lease_ms, now, ids.as_str()],
                )
                .await?
            };
            rows.iter().map(claimed).collect()
        })
    }
}

/// An attempt's record and, optionally, the next lease for the same target.
struct RecordAndHandOver {
    record: AttemptRecord,
    next: Option<LeaseClaim>,
}

impl Write for RecordAndHandOver {
    type Output = Option<ClaimedDelivery>;

    fn run<'c>(&'c self, tx: &'c mut dyn Tx, now: i64) -> WriteFuture<'c, Option<ClaimedDelivery>> {
        Box::pin(async move {
            self.record.run(tx, now).await?;
            match &self.next {
                Some(claim) => Ok(claim.run(tx, now).await?.pop()),
                None => Ok(None),
            }
        })
    }
}

/// Every lease on a pending notification, handed back.
struct LeasesRelease;

impl Write for LeasesRelease {
    type Output = u64;

    fn run<'c>(&'c self, tx: &'c mut dyn Tx, _now: i64) -> WriteFuture<'c, u64> {
        Box::pin(async move {
            tx.execute(
                "UPDATE deliveries SET lease_until_ms = 0 \
                 WHERE status = 'pending' AND lease_until_ms > 0",
                &[],
            )
            .await
        })
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
