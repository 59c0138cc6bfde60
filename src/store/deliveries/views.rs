//! The readers' side of the outbox (operators and storefronts): listing notifications, one
//! notification, the queue's figures, sending again.

use super::DeliveryStatus;
use crate::clock;
use crate::store::group_commit::{Write, WriteFuture};
use crate::store::tx::{args, Tx};
use crate::store::{column, Backend, Store, StoreError};
use serde::Serialize;
use sqlx::any::AnyRow;
use std::collections::HashMap;

#[derive(Debug, Clone, Serialize)]
pub struct AttemptView {
    pub attempt: i64,
    pub at: i64,
    pub duration_ms: i64,
    pub response_code: Option<i64>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeliveryView {
    pub id: String,
    pub status: DeliveryStatus,
    pub event_type: String,
    /// Absent on notifications queued before pagos recorded it (and until it is filled in).
    pub reference_id: Option<String>,
    /// Absent in single-storefront mode.
    pub storefront: Option<String>,
    pub target_url: String,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    /// While pending: the earlier notification about the same order it waits for, if any (its
    /// own `next_attempt_at` means nothing until that one is done).
    pub waiting_behind: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub last_response_code: Option<i64>,
    pub last_error: Option<String>,
    pub notification: serde_json::Value,
    pub attempt_log: Vec<AttemptView>,
}

/// Which notifications a reader sees. Every `None` matches all.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub status: Option<DeliveryStatus>,
    pub reference_id: Option<String>,
    /// A notification URL, or an origin as the relay keys it (`scheme://host:port`, port
    /// spelled out), matching every URL on it.
    pub target: Option<String>,
    /// A storefront's own notifications (set from its API key, or by an operator's filter).
    pub storefront: Option<String>,
    /// At most this many, newest first.
    pub limit: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryRequest {
    /// Back in the queue (a delivered one is sent again under the same `webhook-id`).
    Requeued,
    /// No such notification, or not the reader's.
    NotFound,
    /// Already waiting for its next attempt.
    StillPending,
}

/// Queue figures for metrics.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueStats {
    pub pending: i64,
    pub failed: i64,
    pub oldest_pending_age_ms: i64,
}

/// The columns of a view, from `deliveries d`; `waiting_behind`: the earlier pending
/// notification of the same subject that a pending one waits for (notifications about one order
/// go out in order), read from the partial index the relay's claim uses
/// (`deliveries_first_of_subject`, its predicate as `PENDING_OF_SUBJECT` names it).
const VIEW_COLUMNS: &str = "id, status, event_type, reference_id, storefront, target_url, \
     attempts, next_attempt_at_ms, created_at_ms, finished_at_ms, last_status_code, last_error, \
     body, CASE WHEN d.status = 'pending' THEN (SELECT MIN(e.id) FROM deliveries e \
       WHERE (e.status || '') = 'pending' AND e.subject_key = d.subject_key AND e.id < d.id) END \
       AS waiting_behind";

/// `column` as no plain index keys it: a list names the filters that are not its index's so,
/// or a planner may walk their index instead (SQLite takes one that gives the order, a status's
/// to list a reference's failed notifications, reading every failed one). The storefront's
/// index keys the status this way (`deliveries_by_storefront_status`), so that PostgreSQL
/// cannot answer a storefront's list by walking `deliveries_by_status` newest first through
/// every other storefront's newer notifications (in a table of 500,000, for a storefront whose
/// 20,000 were older: 185 ms and 28,640 buffers for a page of 50, against 0.08 ms and 6).
fn unkeyed(column: &str) -> String {
    format!("({column} || '')")
}

/// The statement that lists `filter`'s notifications, and its parameters' values. Each list
/// reads one index: a reference's if given (a handful of notifications), else a storefront's
/// by status, else a status's; one read per status where the index wants one and none is given.
fn list_statement(filter: &DeliveryFilter) -> (String, Vec<&str>) {
    let by_reference = filter.reference_id.is_some();
    let by_storefront = !by_reference && filter.storefront.is_some();
    let storefront = if by_reference {
        unkeyed("storefront")
    } else {
        "storefront".to_owned()
    };
    let status = if by_reference || by_storefront {
        unkeyed("status")
    } else {
        "status".to_owned()
    };
    let mut conditions = Vec::new();
    let mut values: Vec<&str> = Vec::new();
    for (column, value) in [
        (status.as_str(), filter.status.map(DeliveryStatus::as_str)),
        ("reference_id", filter.reference_id.as_deref()),
        (storefront.as_str(), filter.storefront.as_deref()),
        ("target_url", filter.target.as_deref()),
    ] {
        if let Some(value) = value {
            values.push(value);
            let n = values.len();
            conditions.push(if column == "target_url" {
                format!("(target_url = ${n} OR target_key = ${n})")
            } else {
                format!("{column} = ${n}")
            });
        }
    }
    let limit = filter.limit.clamp(1, 1000);
    let sql = if filter.status.is_some() || by_reference {
        newest(&conditions, limit)
    } else {
        newest_of_each_status(&status, &conditions, limit)
    };
    (sql, values)
}

/// The newest `limit` notifications that meet every one of `conditions`, in one read (a filter
/// with an index of its own: a status, a reference, a storefront's status).
fn newest(conditions: &[String], limit: i64) -> String {
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    format!(
        "SELECT {VIEW_COLUMNS} FROM deliveries d {filter} \
         ORDER BY created_at_ms DESC, id DESC LIMIT {limit}"
    )
}

/// The same without a status: each status's newest, read newest first through the index that
/// `status_key` names (`deliveries_by_status` as `status`, or the storefront's as
/// `unkeyed("status")`), then merged. Read as one list, the whole table (every notification
/// ever queued) was scanned and sorted at each call, the subject's first pending one looked up
/// for each: a storefront's `GET /deliveries` in single-storefront mode.
fn newest_of_each_status(status_key: &str, conditions: &[String], limit: i64) -> String {
    let arms: Vec<String> = DeliveryStatus::ALL
        .iter()
        .enumerate()
        .map(|(arm, status)| {
            let status = format!("{status_key} = '{}'", status.as_str());
            let both: Vec<String> = std::iter::once(status)
                .chain(conditions.iter().cloned())
                .collect();
            format!("SELECT * FROM ({}) s{arm}", newest(&both, limit))
        })
        .collect();
    format!(
        "SELECT * FROM ({}) d ORDER BY created_at_ms DESC, id DESC LIMIT {limit}",
        arms.join(" UNION ALL ")
    )
}

impl Store {
    /// Puts a finished delivery (failed, or delivered: sent again) back in the queue for a fresh
    /// round of attempts. `storefront`: only one of that storefront's.
    pub async fn retry_delivery(
        &self,
        id: &str,
        storefront: Option<&str>,
    ) -> Result<RetryRequest, StoreError> {
        self.write(Requeue {
            id: id.to_owned(),
            storefront: storefront.map(str::to_owned),
        })
        .await
    }

    /// Puts back in the queue every delivery that failed at or after `since_ms`; how many.
    pub async fn recover_failed(&self, since_ms: i64) -> Result<u64, StoreError> {
        self.write(Recover { since_ms }).await
    }

    /// Notifications matching `filter`, newest first, with every attempt made.
    pub async fn list_deliveries(
        &self,
        filter: &DeliveryFilter,
    ) -> Result<Vec<DeliveryView>, StoreError> {
        let (sql, values) = list_statement(filter);
        // Safe: the text is this function's own; every value is a bound parameter.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for value in values {
            query = query.bind(value);
        }
        let rows = query.fetch_all(self.pool()).await?;
        let mut views = rows
            .iter()
            .map(delivery_view)
            .collect::<Result<Vec<_>, _>>()?;
        let ids: Vec<&str> = views.iter().map(|view| view.id.as_str()).collect();
        let mut logs = self.attempts_of(&ids).await?;
        for view in &mut views {
            view.attempt_log = logs.remove(&view.id).unwrap_or_default();
        }
        Ok(views)
    }

    /// One notification with every attempt made; `storefront`: only if it is that one's.
    pub async fn delivery(
        &self,
        id: &str,
        storefront: Option<&str>,
    ) -> Result<Option<DeliveryView>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {VIEW_COLUMNS} FROM deliveries d WHERE id = $1 AND ($2 = '' OR storefront = $2)"
        )))
        .bind(id)
        .bind(storefront.unwrap_or_default())
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        let mut view = delivery_view(&row)?;
        view.attempt_log = self
            .attempts_of(&[id])
            .await?
            .remove(id)
            .unwrap_or_default();
        Ok(Some(view))
    }

    /// The attempt logs of several deliveries, in one query.
    async fn attempts_of(
        &self,
        ids: &[&str],
    ) -> Result<HashMap<String, Vec<AttemptView>>, StoreError> {
        let mut logs: HashMap<String, Vec<AttemptView>> = HashMap::new();
        if ids.is_empty() {
            return Ok(logs);
        }
        let placeholders: Vec<String> = (1..=ids.len()).map(|n| format!("${n}")).collect();
        let sql = format!(
            "SELECT delivery_id, attempt, started_at_ms, duration_ms, status_code, error \
             FROM delivery_attempts WHERE delivery_id IN ({}) ORDER BY delivery_id, attempt",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(*id);
        }
        for row in query.fetch_all(self.pool()).await? {
            logs.entry(column(&row, "delivery_id")?)
                .or_default()
                .push(AttemptView {
                    attempt: column(&row, "attempt")?,
                    at: column::<i64>(&row, "started_at_ms")? / 1000,
                    duration_ms: column(&row, "duration_ms")?,
                    response_code: column(&row, "status_code")?,
                    error: column(&row, "error")?,
                });
        }
        Ok(logs)
    }

    /// Fills in `reference_id` on up to `batch` notifications queued by a release that did not
    /// record it, from their bodies; how many it filled (0: none left, or none free: on
    /// PostgreSQL a notification another transaction is writing is left for a later pass).
    pub async fn fill_reference_ids(&self, batch: i64) -> Result<usize, StoreError> {
        let rows =
            sqlx::query("SELECT id, body FROM deliveries WHERE reference_id IS NULL LIMIT $1")
                .bind(batch)
                .fetch_all(self.pool())
                .await?;
        let mut found = Vec::with_capacity(rows.len());
        for row in &rows {
            let body: String = column(row, "body")?;
            // A body without one (none is written so) gets "", so it is not read again.
            let reference_id = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|body| body["reference_id"].as_str().map(str::to_owned))
                .unwrap_or_default();
            found.push((column::<String>(row, "id")?, reference_id));
        }
        if found.is_empty() {
            return Ok(0);
        }
        let filled = self
            .write(FillReferences {
                found,
                postgres: self.backend() == Backend::Postgres,
            })
            .await?;
        Ok(filled as usize)
    }

    pub async fn queue_stats(&self) -> Result<QueueStats, StoreError> {
        let row = sqlx::query(
            "SELECT \
               (SELECT COUNT(*) FROM deliveries WHERE status = 'pending') AS pending_count, \
               (SELECT COUNT(*) FROM deliveries WHERE status = 'failed') AS failed_count, \
               (SELECT MIN(created_at_ms) FROM deliveries WHERE status = 'pending') AS oldest",
        )
        .fetch_one(self.pool())
        .await?;
        let oldest: Option<i64> = column(&row, "oldest")?;
        Ok(QueueStats {
            pending: column(&row, "pending_count")?,
            failed: column(&row, "failed_count")?,
            oldest_pending_age_ms: oldest.map_or(0, |at| (clock::unix_ms() - at).max(0)),
        })
    }
}

fn delivery_view(row: &AnyRow) -> Result<DeliveryView, StoreError> {
    let status: DeliveryStatus = column::<String>(row, "status")?
        .parse()
        .map_err(|unknown| sqlx::Error::ColumnDecode {
            index: "status".to_owned(),
            source: Box::new(unknown),
        })?;
    let next: i64 = column(row, "next_attempt_at_ms")?;
    let body: String = column(row, "body")?;
    Ok(DeliveryView {
        id: column(row, "id")?,
        next_attempt_at: (status == DeliveryStatus::Pending).then_some(next / 1000),
        waiting_behind: column(row, "waiting_behind")?,
        status,
        event_type: column(row, "event_type")?,
        reference_id: column::<Option<String>>(row, "reference_id")?.filter(|id| !id.is_empty()),
        storefront: column(row, "storefront")?,
        target_url: column(row, "target_url")?,
        attempts: column(row, "attempts")?,
        created_at: column::<i64>(row, "created_at_ms")? / 1000,
        finished_at: column::<Option<i64>>(row, "finished_at_ms")?.map(|ms| ms / 1000),
        last_response_code: column(row, "last_status_code")?,
        last_error: column(row, "last_error")?,
        notification: serde_json::from_str(&body).unwrap_or(serde_json::Value::Null),
        attempt_log: Vec::new(),
    })
}

/// A finished delivery, back in the queue; or why not.
struct Requeue {
    id: String,
    storefront: Option<String>,
}

impl Write for Requeue {
    type Output = RetryRequest;

    fn run<'c>(&'c self, tx: &'c mut dyn Tx, now: i64) -> WriteFuture<'c, RetryRequest> {
        Box::pin(async move {
            let scope = self.storefront.as_deref().unwrap_or_default();
            let requeued = tx
                .execute(
                    "UPDATE deliveries SET status = 'pending', round_base = attempts, \
                     next_attempt_at_ms = $2, finished_at_ms = NULL, \
                     updated_at_ms = $2 WHERE id = $1 AND status IN ('failed', 'delivered') \
                     AND ($3 = '' OR storefront = $3)",
                    &args![&self.id, now, scope],
                )
                .await?;
            if requeued == 1 {
                return Ok(RetryRequest::Requeued);
            }
            let exists = tx
                .fetch_optional(
                    "SELECT 1 AS one FROM deliveries WHERE id = $1 \
                     AND ($2 = '' OR storefront = $2)",
                    &args![&self.id, scope],
                )
                .await?;
            Ok(match exists {
                Some(_) => RetryRequest::StillPending,
                None => RetryRequest::NotFound,
            })
        })
    }
}

/// Every delivery failed since a moment, back in the queue.
struct Recover {
    since_ms: i64,
}

impl Write for Recover {
    type Output = u64;

    fn run<'c>(&'c self, tx: &'c mut dyn Tx, now: i64) -> WriteFuture<'c, u64> {
        Box::pin(async move {
            tx.execute(
                "UPDATE deliveries SET status = 'pending', round_base = attempts, \
                 next_attempt_at_ms = $2, finished_at_ms = NULL, \
                 updated_at_ms = $2 WHERE status = 'failed' AND finished_at_ms >= $1",
                &args![self.since_ms, now],
            )
            .await
        })
    }
}

/// Reference ids read from older notifications' bodies, filled in by one statement. On
/// PostgreSQL it takes no row another transaction holds: filled in row by row, a batch held
/// the rows it had written (500, some of them deliveries in flight) until its last round trip,
/// and a relay's record batch, writing some of the same rows in another order, deadlocked with
/// it (the record failed, and its deliveries were sent again when their leases lapsed).
struct FillReferences {
    found: Vec<(String, String)>,
    postgres: bool,
}

/// `$1`: one JSON object, reference id by notification id, its members as rows.
const FILL_REFERENCES_PG: &str = "UPDATE deliveries SET reference_id = j.value \
     FROM json_each_text(CAST($1 AS json)) AS j \
     WHERE deliveries.id = j.key AND deliveries.reference_id IS NULL \
     AND deliveries.id IN (SELECT d.id FROM deliveries d \
       WHERE d.id IN (SELECT key FROM json_each_text(CAST($1 AS json))) \
       AND d.reference_id IS NULL FOR UPDATE SKIP LOCKED)";
/// On SQLite the `+` keeps `deliveries_by_reference` out of the plan: through it, SQLite walked
/// every notification still without a reference id and scanned the batch's 500 ids for each
/// (2 s of the writer per batch at 48,000 left, so the whole fill took time quadratic in them);
/// without it, each id of the batch is a lookup by primary key.
const FILL_REFERENCES_SQLITE: &str = "UPDATE deliveries SET reference_id = j.value \
     FROM json_each($1) AS j WHERE deliveries.id = j.key AND +deliveries.reference_id IS NULL";

impl Write for FillReferences {
    type Output = u64;

    fn run<'c>(&'c self, tx: &'c mut dyn Tx, _now: i64) -> WriteFuture<'c, u64> {
        Box::pin(async move {
            let by_id: serde_json::Map<String, serde_json::Value> = self
                .found
                .iter()
                .map(|(id, reference_id)| (id.clone(), reference_id.as_str().into()))
                .collect();
            let sql = if self.postgres {
                FILL_REFERENCES_PG
            } else {
                FILL_REFERENCES_SQLITE
            };
            let by_id = serde_json::Value::Object(by_id).to_string();
            tx.execute(sql, &args![&by_id]).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{list_statement, DeliveryFilter, DeliveryStatus, FILL_REFERENCES_SQLITE};
    use crate::store::sqlite_plans::{
        assert_no_scan_of, plan_on_empty_store, sqlite_plan, sqlite_store,
    };
    use crate::store::Store;

    /// Filling in reference ids goes through the batch's ids, each a lookup by primary key:
    /// never through every notification still without one.
    #[tokio::test]
    async fn filling_reference_ids_looks_up_each_of_the_batch_on_sqlite() {
        let plan = plan_on_empty_store(FILL_REFERENCES_SQLITE).await;
        assert!(
            !plan
                .iter()
                .any(|step| step.contains("deliveries_by_reference")),
            "{plan:#?}"
        );
        assert!(
            plan.iter().any(|step| step
                .starts_with("SEARCH deliveries USING INDEX sqlite_autoindex_deliveries_1 (id=?)")),
            "{plan:#?}"
        );
    }

    /// Every combination of filters a list can have, `limit` at most.
    fn every_filter(limit: i64) -> Vec<DeliveryFilter> {
        (0..16u8)
            .map(|bits| DeliveryFilter {
                status: (bits & 1 != 0).then_some(DeliveryStatus::Failed),
                reference_id: (bits & 2 != 0).then(|| "ref-1".to_owned()),
                storefront: (bits & 4 != 0).then(|| "shop".to_owned()),
                target: (bits & 8 != 0).then(|| "http://shop".to_owned()),
                limit,
            })
            .collect()
    }

    /// The index `filter`'s list reads, once, or once per status when none is given and the
    /// index wants one: a reference's whenever it is given; else a storefront's by status; else
    /// a status's.
    fn expected_reads(filter: &DeliveryFilter) -> Vec<&'static str> {
        let index = if filter.reference_id.is_some() {
            "deliveries_by_reference"
        } else if filter.storefront.is_some() {
            "deliveries_by_storefront_status"
        } else {
            "deliveries_by_status"
        };
        let reads = if filter.status.is_some() || filter.reference_id.is_some() {
            1
        } else {
            DeliveryStatus::ALL.len()
        };
        vec![index; reads]
    }

    /// A notification's columns that a filter reads.
    struct Row {
        id: String,
        status: DeliveryStatus,
        reference_id: String,
        storefront: Option<&'static str>,
        target_key: &'static str,
        created_at_ms: i64,
    }

    /// Ninety notifications whose statuses, references, storefronts and targets vary apart,
    /// two at each creation time (a list orders them by id then).
    fn rows() -> Vec<Row> {
        (1..=90)
            .map(|n: i64| Row {
                id: format!("msg_{n:02}"),
                status: DeliveryStatus::ALL[(n % 3) as usize],
                reference_id: format!("ref-{}", n % 5),
                storefront: [Some("shop"), Some("other"), None][(n % 7 % 3) as usize],
                target_key: ["http://shop", "http://other"][(n % 2) as usize],
                created_at_ms: 1000 + n / 2,
            })
            .collect()
    }

    /// Every list is the newest that meet each of its filters, newest first, then by id.
    async fn every_list_is_the_newest_of_those_it_filters(store: Store) {
        let rows = rows();
        for row in &rows {
            sqlx::query(
                "INSERT INTO deliveries (id, subject_key, target_url, target_key, event_type, \
                 body, status, next_attempt_at_ms, created_at_ms, updated_at_ms, storefront, \
                 reference_id) VALUES ($1, $2, $3, $4, 'order.paid', '{}', $5, 0, $6, 0, $7, $8)",
            )
            .bind(&row.id)
            .bind(&row.id)
            .bind(format!("{}/n", row.target_key))
            .bind(row.target_key)
            .bind(row.status.as_str())
            .bind(row.created_at_ms)
            .bind(row.storefront)
            .bind(&row.reference_id)
            .execute(store.pool())
            .await
            .unwrap();
        }
        for filter in every_filter(4) {
            let mut expected: Vec<&Row> = rows
                .iter()
                .filter(|row| filter.status.is_none_or(|status| row.status == status))
                .filter(|row| {
                    filter
                        .reference_id
                        .as_ref()
                        .is_none_or(|r| &row.reference_id == r)
                })
                .filter(|row| {
                    filter
                        .storefront
                        .as_deref()
                        .is_none_or(|s| row.storefront == Some(s))
                })
                .filter(|row| filter.target.as_deref().is_none_or(|t| row.target_key == t))
                .collect();
            expected.sort_by(|a, b| (b.created_at_ms, &b.id).cmp(&(a.created_at_ms, &a.id)));
            let expected: Vec<&str> = expected.iter().take(4).map(|row| row.id.as_str()).collect();
            assert!(!expected.is_empty(), "{filter:?}");
            let listed: Vec<String> = store
                .list_deliveries(&filter)
                .await
                .unwrap()
                .into_iter()
                .map(|view| view.id)
                .collect();
            assert_eq!(listed, expected, "{filter:?}");
        }
        store.close().await;
    }

    #[tokio::test]
    async fn every_list_is_the_newest_of_those_it_filters_on_sqlite() {
        let (_dir, store) = sqlite_store().await;
        every_list_is_the_newest_of_those_it_filters(store).await;
    }

    #[tokio::test]
    async fn every_list_is_the_newest_of_those_it_filters_on_postgresql() {
        let (store, _) = crate::store::pg_group_commit::fresh_database().await;
        every_list_is_the_newest_of_those_it_filters(store).await;
    }

    /// The index each list reads, on PostgreSQL, where one storefront's notifications are all
    /// older than the others': its plans as a prepared statement's (parameters unknown) would
    /// walk `deliveries_by_status` for that storefront's list, through every newer one, if
    /// the list named its status as that index keys it.
    #[tokio::test]
    async fn each_list_reads_the_index_of_its_narrowest_filter_on_postgresql() {
        let (store, url) = crate::store::pg_group_commit::fresh_database().await;
        sqlx::raw_sql(
            "INSERT INTO deliveries (id, subject_key, target_url, target_key, event_type, body, \
             status, next_attempt_at_ms, created_at_ms, updated_at_ms, storefront, reference_id) \
             SELECT 'msg_' || lpad(n::text, 6, '0'), 'ref-' || n, 'http://t' || n % 2 || '/n', \
             'http://t' || n % 2, 'order.paid', repeat('x', 200), CASE WHEN n % 200 = 0 \
             THEN 'failed' WHEN n % 50 = 0 THEN 'pending' ELSE 'delivered' END, 0, n, 0, \
             CASE WHEN n <= 3000 THEN 'shop' ELSE 'sf' || n % 10 END, 'ref-' || n % 5000 \
             FROM generate_series(1, 30000) AS n; ANALYZE deliveries",
        )
        .execute(store.pool())
        .await
        .unwrap();
        store.close().await;
        let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
            .await
            .unwrap();
        sqlx::raw_sql("SET plan_cache_mode = force_generic_plan")
            .execute(&mut conn)
            .await
            .unwrap();
        for (n, filter) in every_filter(50).into_iter().enumerate() {
            let (sql, values) = list_statement(&filter);
            let types = vec!["text"; values.len()].join(", ");
            let quoted: Vec<String> = values.iter().map(|v| format!("'{v}'")).collect();
            let prepare = if values.is_empty() {
                format!("PREPARE list{n} AS {sql}")
            } else {
                format!("PREPARE list{n} ({types}) AS {sql}")
            };
            let execute = if values.is_empty() {
                format!("EXPLAIN EXECUTE list{n}")
            } else {
                format!("EXPLAIN EXECUTE list{n} ({})", quoted.join(", "))
            };
            sqlx::raw_sql(sqlx::AssertSqlSafe(prepare))
                .execute(&mut conn)
                .await
                .unwrap();
            let plan: Vec<String> = sqlx::raw_sql(sqlx::AssertSqlSafe(execute))
                .fetch_all(&mut conn)
                .await
                .unwrap()
                .iter()
                .map(|row| crate::store::column(row, "QUERY PLAN").unwrap())
                .collect();
            let reads: Vec<&String> = plan
                .iter()
                .filter(|step| step.contains(" on deliveries d"))
                .collect();
            let expected = expected_reads(&filter);
            assert_eq!(reads.len(), expected.len(), "{filter:?}: {plan:#?}");
            // An index scan names its index on its own line; a bitmap scan on the next one.
            let indexes: Vec<&str> = plan
                .iter()
                .filter_map(|step| {
                    step.split_once("Bitmap Index Scan on ")
                        .or_else(|| step.split_once(" using "))
                })
                .filter_map(|(_, rest)| rest.split_whitespace().next())
                .filter(|name| *name != "deliveries_first_of_subject")
                .collect();
            assert_eq!(indexes, expected, "{filter:?}: {plan:#?}");
        }
    }

    /// The index each list reads, on SQLite: a reference's whenever it is given; else a
    /// storefront's by status (one read per status without one); else a status's. Left to
    /// choose, SQLite listed a reference's failed notifications by walking every failed one
    /// (the status's index gives the order), and a storefront's by walking its whole history.
    #[tokio::test]
    async fn each_list_reads_the_index_of_its_narrowest_filter_on_sqlite() {
        let (_dir, store) = sqlite_store().await;
        for filter in every_filter(50) {
            let plan = sqlite_plan(&store, &list_statement(&filter).0).await;
            assert_no_scan_of("d", &plan);
            let indexes: Vec<&str> = plan
                .iter()
                .filter(|step| step.starts_with("SEARCH d USING"))
                .filter_map(|step| step.split(" INDEX ").nth(1)?.split(' ').next())
                .collect();
            assert_eq!(indexes, expected_reads(&filter), "{filter:?}: {plan:#?}");
        }
        store.close().await;
    }
}
