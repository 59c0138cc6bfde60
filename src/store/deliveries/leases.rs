//! Relay leases: who holds one, and the writes that take, end and hand back leases. A lease is a
//! row of `delivery_leases`, so taking one leaves the notification's row as it is. A lease names
//! its owner process (`instances.id`), so a lease whose owner stopped beating is free at once
//! instead of when it lapses: a crashed replica's deliveries in flight do not stall its targets.

use super::queue::{AttemptNext, AttemptRecord, ClaimedDelivery, Slot};
use crate::store::group_commit::{Write, WriteFuture};
use crate::store::instances::OWNER_SILENCE_MS;
use crate::store::tx::{args, Arg, Row, Tx};
use crate::store::StoreError;
use std::sync::LazyLock;

/// The processes whose relay leases hold: those that beat since `{silent}`, and this one
/// (`{me}`) whatever its last beat says, so it never takes back its own deliveries in flight. A
/// lease of any other owner (dead, or stopped and forgotten) is free at once. Uncorrelated, so
/// each statement reads `instances` (a row per process) once, not once per delivery.
pub(super) fn live_owners(silent: &str, me: &str) -> String {
    format!("SELECT id FROM instances WHERE heartbeat_ms > {silent} OR id = {me}")
}

/// A lease of `delivery_leases l` that holds at `{now}`: not lapsed, and its owner alive
/// (`{silent}`, `{me}`: see `live_owners`).
pub(super) fn held(now: &str, silent: &str, me: &str) -> String {
    format!(
        "l.lease_until_ms > {now} AND l.lease_owner IN ({})",
        live_owners(silent, me)
    )
}

/// No lease of an older release holds on `{d}`'s row at `{now}`: those took leases in the
/// notification's own columns (no owner: the lease alone decides). This release never writes
/// them; while a rollout lasts, an older pod's deliveries in flight are left to it.
pub(super) fn free_of_old_lease(d: &str, now: &str, silent: &str, me: &str) -> String {
    format!(
        "({d}.lease_until_ms <= {now} OR {d}.lease_owner NOT IN ({}))",
        live_owners(silent, me)
    )
}

/// `{d}` is the oldest pending notification of its subject (one order's news goes out in order),
/// checked per row by a lookup in `deliveries_first_of_subject`. `OFFSET 0` keeps the check a
/// sub-plan on PostgreSQL (SQLite runs it per row anyway, and wants a `LIMIT` before it). Pulled
/// up into an anti-join, where the statistics counted a few pending (taken when nearly all were
/// delivered), the planner joined every candidate to every pending notification: under a
/// backlog they had not seen, a read of the queue compared 512 heads with thousands
/// (BENCHMARKS.md, "2026-12-07 late morning"). (As `{d}.id = (the subject's first)` the check
/// was a lookup too, but estimated to pass one row in all, so a claim sorted its target's whole
/// queue rather than read it in order.) The status is named as that index's predicate names
/// it, an expression no other index answers: named plainly, statistics taken when nothing was
/// pending made the lookup a walk of `deliveries_due`, every pending notification per row
/// (BENCHMARKS.md, "2026-12-07 late evening").
pub(super) fn first_of_subject(d: &str) -> String {
    format!(
        "NOT EXISTS (SELECT 1 FROM deliveries e WHERE {PENDING_OF_SUBJECT} \
         AND e.subject_key = {d}.subject_key AND e.id < {d}.id LIMIT 1 OFFSET 0)"
    )
}

/// `e` is pending, as `deliveries_first_of_subject`'s predicate says it (and only it).
pub(super) const PENDING_OF_SUBJECT: &str = "(e.status || '') = 'pending'";

/// The columns of a claimed row, from `deliveries d`.
const CLAIMED_COLUMNS: &str = "d.id, d.target_url, d.target_key, d.body, d.attempts, \
     d.round_base, d.created_at_ms, d.trace_context, d.storefront";

/// A claimed row as the worker gets it.
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
        storefront: row.get("storefront")?,
    })
}

/// A delivery's row after an attempt, and where it goes next; `$1`: the delivery.
const RECORD_UPDATE: &str = "UPDATE deliveries SET status = $2, attempts = $3, \
     next_attempt_at_ms = $4, last_status_code = $5, last_error = $6, updated_at_ms = $7, \
     finished_at_ms = $8 WHERE id = $1 AND status = 'pending'";

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
            let (next_at, finished) = self.next.due_and_finished(now);
            let moved = tx
                .execute(
                    RECORD_UPDATE,
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
            if moved > 0 {
                tx.execute(
                    "DELETE FROM delivery_leases WHERE delivery_id = $1",
                    &args![&self.delivery_id],
                )
                .await?;
            }
            Ok(())
        })
    }
}

impl AttemptNext {
    /// When the delivery is due next, and when it finished (`None` while it is pending).
    fn due_and_finished(&self, now: i64) -> (i64, Option<i64>) {
        match self {
            AttemptNext::RetryAt(at) => (*at, None),
            AttemptNext::Delivered | AttemptNext::Failed => (now, Some(now)),
        }
    }
}

/// Takes leases in `owner`'s name for `slots`. On PostgreSQL, where replicas share the queue,
/// on the oldest due notifications of each target, from where its first slot starts, that are
/// first of their subject and free when the write runs: as many per target as it has slots. On
/// SQLite, which serves one replica, on the notifications the slots name, if still free.
pub(super) struct LeaseClaim {
    pub(super) slots: Vec<Slot>,
    pub(super) lease_ms: i64,
    pub(super) owner: String,
    pub(super) postgres: bool,
}

/// Inserting a lease, or taking over one that no longer holds (lapsed, or its owner dead): the
/// compare-and-set itself. `{rows}`: the `delivery_id, target_key` pairs to lease; `$1`: until,
/// `$2`: now, `$3`, `$4`: see `live_owners` (`$4` is also the new owner).
static UPSERT_LEASES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO delivery_leases (delivery_id, target_key, lease_until_ms, lease_owner) \
         {{rows}} ON CONFLICT (delivery_id) DO UPDATE SET \
         lease_until_ms = excluded.lease_until_ms, lease_owner = excluded.lease_owner \
         WHERE delivery_leases.lease_until_ms <= $2 \
         OR delivery_leases.lease_owner NOT IN ({live}) RETURNING delivery_id",
        live = live_owners("$3", "$4")
    )
});

/// SQLite: the compare-and-set on the notifications the slots name (`$5`: their ids, one JSON
/// array, so every claim is the same prepared statement): pending, due, first of their subject.
/// One replica takes from its own read of the queue, so the ids are exact, and a lookup by id
/// costs less than a read of the target's queue (a unary `+` keeps the other columns' indexes
/// out of the plan). The claimed rows are read afterwards (`CLAIMED_BY_ID`).
static SQLITE_LEASE_CLAIM: LazyLock<String> = LazyLock::new(|| {
    let rows = format!(
        "SELECT d.id, d.target_key, $1, $4 FROM deliveries d \
         WHERE d.id IN (SELECT value FROM json_each($5)) \
         AND +d.status = 'pending' AND +d.next_attempt_at_ms <= $2 AND {old} AND {first}",
        old = free_of_old_lease("d", "$2", "$3", "$4"),
        first = first_of_subject("d"),
    );
    UPSERT_LEASES.replace("{rows}", &rows)
});

/// The notifications a JSON array (`$1`) names, as the worker gets them.
static CLAIMED_BY_ID: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {CLAIMED_COLUMNS} FROM deliveries d WHERE d.id IN (SELECT value FROM json_each($1))")
});

/// What makes `{d}` claimable at `$2` (`$3`, `$4`: see `live_owners`): pending, due, under no
/// lease that holds (this release's or an older one's), first of its subject. The leases that
/// hold are read once per statement into a hashed set (`NOT IN`; `delivery_id` is never NULL):
/// as `NOT EXISTS`, the generic plan joined each candidate to a scan of the whole table, which
/// every lease taken and ended leaves longer until it is vacuumed (37 pages for 16 leases, read
/// 16 times, late in a drain of 10,000).
fn claimable(d: &str) -> String {
    format!(
        "{d}.status = 'pending' AND {d}.next_attempt_at_ms <= $2 AND {old} \
         AND {d}.id NOT IN (SELECT l.delivery_id FROM delivery_leases l WHERE {held}) \
         AND {first}",
        old = free_of_old_lease(d, "$2", "$3", "$4"),
        held = held("$2", "$3", "$4"),
        first = first_of_subject(d),
    )
}

/// PostgreSQL: the compare-and-set for every target in one statement (`$5`: one JSON array, an
/// object per target: its key `w.target_key`, its slots' count `w.n`, the notifications they name
/// `w.ids`, and where they start, `(w.from_at, w.from_id)`). A target's slots go first to the
/// notifications they name, if still claimable (a lookup by key: one replica alone always finds
/// them), then to the target's oldest claimable ones from where its slots start, read from
/// `deliveries_due_by_target` (the entries of those delivered since are not visited): a second
/// replica may have taken the named ones since the read. (Where they start is compared on all three
/// of that index's columns, so the generic plan reads it in order; compared on two, it read every
/// target's due queue and sorted what it found, at least 32 rows per target.) Rows are locked as
/// they are found, skipping those another replica is claiming or recording (no one waits for
/// another's commit): two replicas serving one target take different notifications. A lease is only
/// written by a transaction holding its notification's row, which keeps lease writes from waiting
/// on each other; one committed after this statement's snapshot is caught by the upsert's conflict.
/// The claimed columns are read with the rows and carried through `chosen`, so no join back to
/// `deliveries` is planned from rough estimates. (Each part locks in a subquery of its own: a
/// locking clause may not sit on a branch of a `UNION`.)
static PG_LEASE_CLAIM: LazyLock<String> = LazyLock::new(|| pg_lease_claim("chosen"));

/// `PG_LEASE_CLAIM` as its own transaction's statement: its leases are taken with the flush off
/// (`set_config(…, true)` lasts until the transaction ends), so it needs no `BEGIN` and `COMMIT`
/// of its own. The setting is read where the leases are written: a claim that leases nothing
/// writes nothing to flush.
static PG_LEASE_CLAIM_NOT_DURABLE: LazyLock<String> = LazyLock::new(|| {
    pg_lease_claim(
        "chosen CROSS JOIN (SELECT set_config('synchronous_commit', 'off', true)) AS not_durable",
    )
});

/// `PG_LEASE_CLAIM`, its leases written from `leased` (`chosen`, or `chosen` joined to more).
fn pg_lease_claim(leased: &str) -> String {
    format!(
        "WITH wanted AS (SELECT * FROM json_to_recordset(CAST($5 AS json)) \
           AS t(target_key text, n bigint, ids text[], from_at bigint, from_id text)), \
         chosen AS MATERIALIZED (SELECT f.* FROM wanted w CROSS JOIN LATERAL \
           (SELECT * FROM (SELECT {CLAIMED_COLUMNS} FROM deliveries d \
              WHERE d.id = ANY (w.ids) AND d.target_key = w.target_key AND {claimable} \
              FOR UPDATE OF d SKIP LOCKED) named \
            UNION ALL SELECT * FROM (SELECT {CLAIMED_COLUMNS} FROM deliveries d \
              WHERE d.target_key = w.target_key \
              AND (d.target_key, d.next_attempt_at_ms, d.id) \
                >= (w.target_key, w.from_at, w.from_id) \
              AND d.id <> ALL (w.ids) AND {claimable} ORDER BY d.next_attempt_at_ms, d.id \
              LIMIT w.n FOR UPDATE OF d SKIP LOCKED) next \
            LIMIT w.n) f), \
         taken AS ({upsert}) \
         SELECT c.* FROM chosen c JOIN taken ON c.id = taken.delivery_id",
        claimable = claimable("d"),
        upsert = UPSERT_LEASES.replace(
            "{rows}",
            &format!("SELECT id, target_key, $1, $4 FROM {leased}")
        ),
    )
}

impl LeaseClaim {
    /// The slots as PostgreSQL's statement takes them (`PG_LEASE_CLAIM`'s `$5`): each target
    /// once, in its first slot's order, with its count, the notifications named and its
    /// earliest start.
    fn slots_json(&self) -> String {
        struct Target<'s> {
            from: &'s Slot,
            n: usize,
            ids: Vec<&'s str>,
        }
        let mut targets: Vec<Target> = Vec::new();
        for slot in &self.slots {
            let index = match targets.iter().position(|t| t.from.target == slot.target) {
                Some(index) => index,
                None => {
                    targets.push(Target {
                        from: slot,
                        n: 0,
                        ids: Vec::new(),
                    });
                    targets.len() - 1
                }
            };
            let target = &mut targets[index];
            target.n += 1;
            if (slot.due_at_ms, &slot.id) < (target.from.due_at_ms, &target.from.id) {
                target.from = slot;
            }
            // `Slot::any_of` names none.
            if !slot.id.is_empty() {
                target.ids.push(&slot.id);
            }
        }
        let targets: Vec<serde_json::Value> = targets
            .into_iter()
            .map(|t| {
                serde_json::json!({
                    "target_key": t.from.target,
                    "n": t.n,
                    "ids": t.ids,
                    "from_at": t.from.due_at_ms,
                    "from_id": t.from.id,
                })
            })
            .collect();
        serde_json::Value::from(targets).to_string()
    }

    /// `$1`-`$4` of the claim statements, then `more`.
    fn args<'a>(&'a self, now: i64, more: &[Arg<'a>]) -> Vec<Arg<'a>> {
        let mut all = vec![
            Arg::Int(now + self.lease_ms),
            Arg::Int(now),
            Arg::Int(now - OWNER_SILENCE_MS),
            Arg::from(self.owner.as_str()),
        ];
        all.extend_from_slice(more);
        all
    }
}

impl Write for LeaseClaim {
    type Output = Vec<ClaimedDelivery>;

    /// A lease lost in a power cut is harmless: leases are handed back at start, and the
    /// notification is delivered (again) at least once.
    fn durable(&self) -> bool {
        false
    }

    /// On PostgreSQL: `PG_LEASE_CLAIM`.
    fn one_statement(&self) -> bool {
        self.postgres
    }

    /// On PostgreSQL, alone: `PG_LEASE_CLAIM_NOT_DURABLE`.
    fn says_not_durable(&self) -> bool {
        self.postgres
    }

    /// Its generic plan: `a_claim_goes_on_through_its_targets_own_index`,
    /// `a_claim_reads_the_leases_that_hold_once`.
    fn generic_plan(&self) -> bool {
        self.postgres
    }

    fn run<'c>(&'c self, tx: &'c mut dyn Tx, now: i64) -> WriteFuture<'c, Vec<ClaimedDelivery>> {
        Box::pin(async move {
            let rows = if self.postgres {
                let slots = self.slots_json();
                // Inside a group's transaction the flush is the group's, never turned off here.
                let sql = if tx.own_transaction() {
                    &PG_LEASE_CLAIM_NOT_DURABLE
                } else {
                    &PG_LEASE_CLAIM
                };
                tx.fetch_all(sql, &self.args(now, &args![&slots])).await?
            } else {
                let ids: Vec<&str> = self.slots.iter().map(|slot| slot.id.as_str()).collect();
                let ids = serde_json::Value::from(ids).to_string();
                let leased = tx
                    .fetch_all(&SQLITE_LEASE_CLAIM, &self.args(now, &args![&ids]))
                    .await?
                    .iter()
                    .map(|row| row.get::<String>("delivery_id"))
                    .collect::<Result<Vec<_>, _>>()?;
                if leased.is_empty() {
                    return Ok(Vec::new());
                }
                let leased = serde_json::Value::from(leased).to_string();
                tx.fetch_all(&CLAIMED_BY_ID, &args![&leased]).await?
            };
            rows.iter().map(claimed).collect()
        })
    }
}

/// Attempts that finished together, recorded in one write, and the leases their slots are
/// handed to, taken in the same transaction (so a target's count never rises).
pub(super) struct RecordBatch {
    pub(super) records: Vec<AttemptRecord>,
    pub(super) next: Option<LeaseClaim>,
    pub(super) postgres: bool,
}

impl Write for RecordBatch {
    type Output = Vec<ClaimedDelivery>;

    /// An attempt's record lost in a power cut is harmless: its notification is pending again
    /// and delivered again (at least once), its hand-overs are leases. Records commit in the
    /// order they were made, so a lost record never leaves a later one of the same order behind.
    fn durable(&self) -> bool {
        false
    }

    /// On PostgreSQL: `RECORD_AND_CLAIM`.
    fn one_statement(&self) -> bool {
        self.postgres && !self.records.is_empty()
    }

    /// On PostgreSQL, alone: `RECORD_AND_CLAIM_NOT_DURABLE`.
    fn says_not_durable(&self) -> bool {
        self.one_statement()
    }

    /// Its generic plan: `a_record_batch_looks_its_notifications_up_by_key`, and the claim's.
    fn generic_plan(&self) -> bool {
        self.postgres
    }

    fn run<'c>(&'c self, tx: &'c mut dyn Tx, now: i64) -> WriteFuture<'c, Vec<ClaimedDelivery>> {
        Box::pin(async move {
            if self.one_statement() {
                // One statement for the whole batch and its hand-overs: each statement is a
                // round trip and a plan to run on the server, where on SQLite it is a call on
                // the writer thread.
                return record_together(tx, &self.records, self.next.as_ref(), now).await;
            }
            for record in &self.records {
                record.run(tx, now).await?;
            }
            match &self.next {
                Some(claim) => claim.run(tx, now).await,
                None => Ok(Vec::new()),
            }
        })
    }
}

/// The records as rows (`$6`: one JSON array of objects, so every batch, whatever its size, is
/// the same prepared statement with one plan), inserted into the attempt log and joined to
/// their deliveries (`$2`: now), whose leases end. A lease is deleted after its notification's
/// row is updated (the row's lock first, as a claim takes them). The notifications are also
/// named as an array (`= ANY`): PostgreSQL takes `json_to_recordset` for 100 rows, and joined
/// by `id` alone a table of a few thousand rows, freshly written, was read whole (a sequential
/// scan and a hash join, 3-7 ms a batch) rather than looked up by key; an array it takes for
/// about 10 elements, which keeps the primary key's index in the plan.
const RECORD_TOGETHER: &str = "WITH v AS (SELECT t.* FROM json_to_recordset(CAST($6 AS json)) \
       AS t(id text, status text, attempt bigint, next_at bigint, status_code bigint, \
       error text, finished_at bigint, started_at bigint, duration bigint) {flush}), \
     logged AS (INSERT INTO delivery_attempts (delivery_id, attempt, started_at_ms, duration_ms, \
       status_code, error) SELECT id, attempt, started_at, duration, status_code, error FROM v \
       ON CONFLICT (delivery_id, attempt) DO NOTHING), \
     recorded AS (UPDATE deliveries SET status = v.status, attempts = v.attempt, \
       next_attempt_at_ms = v.next_at, last_status_code = v.status_code, last_error = v.error, \
       updated_at_ms = $2, finished_at_ms = v.finished_at FROM v \
       WHERE deliveries.id = v.id AND deliveries.id = ANY (ARRAY(SELECT id FROM v)) \
       AND deliveries.status = 'pending' RETURNING deliveries.id), \
     ended AS (DELETE FROM delivery_leases WHERE delivery_id IN (SELECT id FROM recorded))";

/// `RECORD_TOGETHER` followed by the claim's own `WITH` list: one statement, inside a group's
/// transaction, whose flush is the group's.
static RECORD_AND_CLAIM: LazyLock<String> = LazyLock::new(|| record_and_claim(""));

/// `RECORD_AND_CLAIM` as its own transaction's statement: the flush is turned off where the
/// records are read, which every part of the statement needs, so no plan can leave it out.
static RECORD_AND_CLAIM_NOT_DURABLE: LazyLock<String> = LazyLock::new(|| {
    record_and_claim("CROSS JOIN (SELECT set_config('synchronous_commit', 'off', true)) AS q")
});

fn record_and_claim(flush: &str) -> String {
    let claim = PG_LEASE_CLAIM
        .strip_prefix("WITH ")
        .unwrap_or(PG_LEASE_CLAIM.as_str());
    let records = RECORD_TOGETHER.replace("{flush}", flush);
    format!("{records}, {claim}")
}

/// `records` as `RECORD_TOGETHER`'s `$6`.
fn records_json(records: &[AttemptRecord], now: i64) -> String {
    let rows: Vec<serde_json::Value> = records
        .iter()
        .map(|record| {
            let (next_at, finished) = record.next.due_and_finished(now);
            serde_json::json!({
                "id": record.delivery_id,
                "status": record.next.status().as_str(),
                "attempt": record.attempt,
                "next_at": next_at,
                "status_code": record.status_code,
                "error": record.error,
                "finished_at": finished,
                "started_at": record.started_at_ms,
                "duration": record.duration_ms,
            })
        })
        .collect();
    serde_json::Value::from(rows).to_string()
}

/// PostgreSQL: `records`, with the same effect as `AttemptRecord::run` on each, and `claim`'s
/// hand-overs, in one round trip. The claim runs in the statement's snapshot, where the
/// deliveries being recorded are still pending and leased: none of them is taken again, and the
/// next of a subject among them is not yet first of its subject (a later claim takes it), so the
/// compare-and-set stays as strict as alone.
async fn record_together(
    tx: &mut dyn Tx,
    records: &[AttemptRecord],
    claim: Option<&LeaseClaim>,
    now: i64,
) -> Result<Vec<ClaimedDelivery>, StoreError> {
    let none = LeaseClaim {
        slots: Vec::new(),
        lease_ms: 0,
        owner: String::new(),
        postgres: true,
    };
    // `$1`-`$5`: the claim's parameters (with no claim, its slots are an empty list).
    let claim = claim.unwrap_or(&none);
    let slots = claim.slots_json();
    let rows = records_json(records, now);
    let values = claim.args(now, &args![&slots, &rows]);
    // Inside a group's transaction the flush is the group's, never turned off here.
    let sql = if tx.own_transaction() {
        &RECORD_AND_CLAIM_NOT_DURABLE
    } else {
        &RECORD_AND_CLAIM
    };
    let rows = tx.fetch_all(sql, &values).await?;
    rows.iter().map(claimed).collect()
}

/// Every relay lease handed back: a single SQLite replica starting again after a stop or crash.
pub(super) struct LeasesRelease;

impl Write for LeasesRelease {
    type Output = u64;

    fn run<'c>(&'c self, tx: &'c mut dyn Tx, _now: i64) -> WriteFuture<'c, u64> {
        Box::pin(async move {
            let leases = tx.execute("DELETE FROM delivery_leases", &[]).await?;
            // Those an older release took in the notifications' own columns.
            let old = tx
                .execute(
                    "UPDATE deliveries SET lease_until_ms = 0, lease_owner = NULL \
                     WHERE status = 'pending' AND lease_until_ms > 0",
                    &[],
                )
                .await?;
            Ok(leases + old)
        })
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::store::pg_group_commit::fresh_database;
    use crate::store::tx::OwnTransaction;
    use sqlx::{AnyConnection, AssertSqlSafe, Connection};

    /// PostgreSQL: a store whose statistics were taken when none of 30,000 notifications was
    /// pending, then 3,000 queued (autovacuum off, so the statistics stay as taken); all to one
    /// target, each about an order of its own.
    pub(in crate::store::deliveries) async fn a_backlog_the_statistics_never_saw(
        conn: &mut sqlx::AnyConnection,
    ) {
        let queued = |status: &str, from: u32, to: u32| {
            format!(
                "INSERT INTO deliveries (id, subject_key, target_url, target_key, event_type, \
                 body, status, next_attempt_at_ms, created_at_ms, updated_at_ms) \
                 SELECT 'msg_' || lpad(n::text, 6, '0'), 'ref-' || n, 'http://shop/n', \
                 'http://shop', 'order.paid', '{{}}', '{status}', 1000 + n, 1000 + n, 1000 + n \
                 FROM generate_series({from}, {to}) n;"
            )
        };
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "ALTER TABLE deliveries SET (autovacuum_enabled = false); {} ANALYZE deliveries; {}",
            queued("delivered", 1, 30_000),
            queued("pending", 30_001, 33_000),
        )))
        .execute(conn)
        .await
        .unwrap();
    }

    /// Ten targets, 300 pending notifications each, due in the order they were queued.
    pub(in crate::store::deliveries) const TEN_TARGETS: &str =
        "INSERT INTO deliveries (id, subject_key, target_url, target_key, \
         event_type, body, status, next_attempt_at_ms, created_at_ms, updated_at_ms) \
         SELECT 'msg_' || lpad(n::text, 6, '0'), 'ref-' || n, 'http://shop-' || n % 10 || '/n', \
         'http://shop-' || n % 10, 'order.paid', '{}', 'pending', 1000 + n, 1000 + n, 1000 + n \
         FROM generate_series(1, 3000) n; ANALYZE deliveries";

    /// Sixteen leases in flight, held by a live replica, counted by `ANALYZE`: the lease table
    /// of a young store, which the planner takes for a page or so.
    const SIXTEEN_LEASES: &str = "INSERT INTO instances (id, started_at_ms, heartbeat_ms) \
         VALUES ('me', 0, 5000); \
         INSERT INTO delivery_leases (delivery_id, target_key, lease_until_ms, lease_owner) \
         SELECT 'msg_' || lpad(n::text, 6, '0'), 'http://shop-' || n % 10, 60000, 'me' \
         FROM generate_series(1, 16) n; ANALYZE delivery_leases; ANALYZE instances";

    /// The lines of `plan` (`EXPLAIN`'s text) under the first line that contains `node`.
    fn subtree<'p>(plan: &'p [String], node: &str) -> Vec<&'p str> {
        let indent = |line: &str| line.len() - line.trim_start().len();
        let Some(start) = plan.iter().position(|line| line.contains(node)) else {
            return Vec::new();
        };
        let depth = indent(&plan[start]);
        plan[start + 1..]
            .iter()
            .take_while(|line| indent(line) > depth)
            .map(String::as_str)
            .collect()
    }

    /// `EXPLAIN` of `statement` on `TEN_TARGETS` and `more`, prepared as the writers run it (on
    /// its generic plan): `prepare` names it and its parameters' types, `execute` its arguments.
    async fn generic_plan(
        more: &'static str,
        prepare: &str,
        statement: &str,
        execute: &str,
    ) -> Vec<String> {
        let (_store, url) = fresh_database().await;
        let mut conn = AnyConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(TEN_TARGETS).execute(&mut conn).await.unwrap();
        if !more.is_empty() {
            sqlx::raw_sql(more).execute(&mut conn).await.unwrap();
        }
        sqlx::raw_sql(AssertSqlSafe(format!(
            "SET plan_cache_mode = force_generic_plan; PREPARE {prepare} AS {statement}"
        )))
        .execute(&mut conn)
        .await
        .unwrap();
        sqlx::query_scalar(AssertSqlSafe(format!("EXPLAIN EXECUTE {execute}")))
            .fetch_all(&mut conn)
            .await
            .unwrap()
    }

    /// `write` run on the ten targets' store as its own transaction (no `BEGIN` before it) and
    /// inside a group's: how many rows it answered and the flush setting it left, each time.
    async fn flush_alone_and_in_a_group<W: Write>(write: &W) -> Vec<(usize, String)>
    where
        W::Output: IntoIterator,
    {
        assert!(write.one_statement() && write.says_not_durable() && !write.durable());
        let (_store, url) = fresh_database().await;
        let mut conn = AnyConnection::connect(&url).await.unwrap();
        sqlx::raw_sql(TEN_TARGETS).execute(&mut conn).await.unwrap();
        let mut seen = Vec::new();
        for alone in [true, false] {
            // Opened here, so the setting can be read before the transaction ends.
            sqlx::raw_sql("BEGIN").execute(&mut conn).await.unwrap();
            let rows = if alone {
                write.run(&mut OwnTransaction(&mut conn), 5_000).await
            } else {
                write.run(&mut conn, 5_000).await
            }
            .unwrap();
            let flush: String = sqlx::query_scalar("SELECT current_setting('synchronous_commit')")
                .fetch_one(&mut conn)
                .await
                .unwrap();
            sqlx::raw_sql("ROLLBACK").execute(&mut conn).await.unwrap();
            seen.push((rows.into_iter().count(), flush));
        }
        seen
    }

    /// Run as its own transaction, a lease claim turns the flush off in its own statement,
    /// where it writes the leases, so the planner cannot leave the setting out; inside a
    /// group's transaction the group's setting stands.
    #[tokio::test]
    async fn a_lease_claim_alone_takes_its_leases_without_waiting_for_the_flush() {
        let claim = LeaseClaim {
            slots: vec![Slot::any_of("http://shop-3"), Slot::any_of("http://shop-4")],
            lease_ms: 60_000,
            owner: "me".into(),
            postgres: true,
        };
        let seen = flush_alone_and_in_a_group(&claim).await;
        assert_eq!(seen, [(2, "off".into()), (2, "on".into())]);
    }

    /// The same for a record batch with its hand-overs: alone, it records and leases the next
    /// without waiting for the flush; inside a group, a durable write's flush stands.
    #[tokio::test]
    async fn a_record_batch_alone_records_without_waiting_for_the_flush() {
        let record = |id: &str| AttemptRecord {
            delivery_id: id.into(),
            attempt: 1,
            started_at_ms: 4_990,
            duration_ms: 3,
            status_code: Some(200),
            error: None,
            next: AttemptNext::Delivered,
        };
        let batch = RecordBatch {
            records: vec![record("msg_000003"), record("msg_000013")],
            next: Some(LeaseClaim {
                slots: vec![Slot::any_of("http://shop-3")],
                lease_ms: 60_000,
                owner: "me".into(),
                postgres: true,
            }),
            postgres: true,
        };
        let seen = flush_alone_and_in_a_group(&batch).await;
        assert_eq!(seen, [(1, "off".into()), (1, "on".into())]);
    }

    /// A claim whose named notifications another replica took goes on from where its slots
    /// start through the target's own index, in that index's order, and stops at its count. Read
    /// through the queue of every target and sorted, it passed over the other targets' rows and
    /// sorted at least 32 rows per target for a slot or two.
    #[tokio::test]
    async fn a_claim_goes_on_through_its_targets_own_index() {
        let wanted = r#"[{"target_key": "http://shop-3", "n": 4, "ids": ["msg_000003"],
            "from_at": 1003, "from_id": "msg_000003"}]"#;
        let plan = generic_plan(
            "",
            "claim (bigint, bigint, bigint, text, text)",
            &PG_LEASE_CLAIM,
            &format!("claim(99999, 5000, 0, 'me', '{wanted}')"),
        )
        .await;
        let next = subtree(&plan, "Subquery Scan on next");
        assert!(
            next.iter()
                .any(|line| line.contains("Index Scan using deliveries_due_by_target")),
            "the target's own index: {plan:#?}"
        );
        assert!(
            !next.iter().any(|line| line.contains("Sort")),
            "no sort: {plan:#?}"
        );
    }

    /// A claim reads the leases that hold once per statement, into a hashed set. Asked for each
    /// candidate, on a young store's statistics the generic plan joined every candidate to a scan
    /// of the whole lease table, which grows with each lease taken and ended until a vacuum (37
    /// pages for 16 leases late in a drain, read 16 times per statement).
    #[tokio::test]
    async fn a_claim_reads_the_leases_that_hold_once() {
        let wanted = r#"[{"target_key": "http://shop-3", "n": 4, "ids": ["msg_000003"],
            "from_at": 1003, "from_id": "msg_000003"}]"#;
        let plan = generic_plan(
            SIXTEEN_LEASES,
            "claim (bigint, bigint, bigint, text, text)",
            &PG_LEASE_CLAIM,
            &format!("claim(99999, 5000, 0, 'me', '{wanted}')"),
        )
        .await;
        let reads = |lines: &[&str]| {
            lines
                .iter()
                .filter(|line| line.contains(" on delivery_leases l"))
                .count()
        };
        let all: Vec<&str> = plan.iter().map(String::as_str).collect();
        // Each read of the leases sits under a sub-plan that the claim's filters use hashed.
        let mut hashed = 0;
        for (at, line) in plan.iter().enumerate() {
            let Some(number) = line.trim().strip_prefix("SubPlan ") else {
                continue;
            };
            let under = subtree(&plan[at..], line);
            if reads(&under) > 0 {
                assert!(
                    all.iter()
                        .any(|l| l.contains(&format!("NOT (hashed SubPlan {number})"))),
                    "sub-plan {number} hashed: {plan:#?}"
                );
                hashed += reads(&under);
            }
        }
        assert_eq!(reads(&all), 2, "one read in each branch: {plan:#?}");
        assert_eq!(hashed, 2, "both into a hashed set: {plan:#?}");
    }

    /// A record batch finds its notifications by key, also in a table of a few thousand rows
    /// freshly written (compact, so reading it whole looks cheap): PostgreSQL takes the batch's
    /// rows for 100, and joined by `id` alone it read the whole table for each batch.
    #[tokio::test]
    async fn a_record_batch_looks_its_notifications_up_by_key() {
        let records = r#"[{"id": "msg_000003", "status": "delivered", "attempt": 1,
            "next_at": 5000, "status_code": 200, "error": null, "finished_at": 5000,
            "started_at": 4990, "duration": 3}]"#;
        // In a group's transaction and as its own, where it turns the flush off.
        for statement in [&RECORD_AND_CLAIM, &RECORD_AND_CLAIM_NOT_DURABLE] {
            let plan = generic_plan(
                "",
                "record (bigint, bigint, bigint, text, text, text)",
                statement,
                &format!("record(99999, 5000, 0, 'me', '[]', '{records}')"),
            )
            .await;
            let update = subtree(&plan, "Update on deliveries");
            assert!(
                update
                    .iter()
                    .any(|line| line.contains("Index Scan using deliveries_pkey")),
                "looked up by key: {plan:#?}"
            );
            assert!(
                !update
                    .iter()
                    .any(|line| line.contains("Seq Scan on deliveries")),
                "not read whole: {plan:#?}"
            );
        }
    }
}
