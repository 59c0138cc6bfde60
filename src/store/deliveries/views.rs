//! The operator's side of the outbox: listing notifications, the queue's figures, a retry.

use super::DeliveryStatus;
use crate::clock;
use crate::store::group_commit::{Write, WriteFuture};
use crate::store::tx::{args, Tx};
use crate::store::{column, Store, StoreError};
use serde::Serialize;
use sqlx::any::AnyRow;

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
    pub target_url: String,
    pub attempts: i64,
    pub next_attempt_at: Option<i64>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
    pub last_response_code: Option<i64>,
    pub last_error: Option<String>,
    pub notification: serde_json::Value,
    pub attempt_log: Vec<AttemptView>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryRequest {
    Requeued,
    NotFound,
    NotFailed,
}

/// Queue figures for metrics.
#[derive(Debug, Clone, Copy, Default)]
pub struct QueueStats {
    pub pending: i64,
    pub failed: i64,
    pub oldest_pending_age_ms: i64,
}

impl Store {
    /// Puts a failed delivery back in the queue for a fresh round of attempts.
    pub async fn retry_delivery(&self, id: &str) -> Result<RetryRequest, StoreError> {
        self.write(Requeue { id: id.to_owned() }).await
    }

    /// Notifications, newest first, with every attempt made.
    pub async fn list_deliveries(
        &self,
        status: Option<DeliveryStatus>,
        limit: i64,
    ) -> Result<Vec<DeliveryView>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, status, event_type, target_url, attempts, next_attempt_at_ms, \
             created_at_ms, finished_at_ms, last_status_code, last_error, body FROM deliveries \
             WHERE ($1 = '' OR status = $1) ORDER BY created_at_ms DESC, id DESC LIMIT $2",
        )
        .bind(status.map_or("", DeliveryStatus::as_str))
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        let mut views = Vec::with_capacity(rows.len());
        for row in &rows {
            let mut view = delivery_view(row)?;
            view.attempt_log = self.attempts_of(&view.id).await?;
            views.push(view);
        }
        Ok(views)
    }

    async fn attempts_of(&self, id: &str) -> Result<Vec<AttemptView>, StoreError> {
        let rows = sqlx::query(
            "SELECT attempt, started_at_ms, duration_ms, status_code, error FROM delivery_attempts \
             WHERE delivery_id = $1 ORDER BY attempt",
        )
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                Ok(AttemptView {
                    attempt: column(row, "attempt")?,
                    at: column::<i64>(row, "started_at_ms")? / 1000,
                    duration_ms: column(row, "duration_ms")?,
                    response_code: column(row, "status_code")?,
                    error: column(row, "error")?,
                })
            })
            .collect()
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
        status,
        event_type: column(row, "event_type")?,
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

/// A failed delivery, back in the queue; or why not.
struct Requeue {
    id: String,
}

impl Write for Requeue {
    type Output = RetryRequest;

    fn run<'c>(&'c self, tx: &'c mut dyn Tx, now: i64) -> WriteFuture<'c, RetryRequest> {
        Box::pin(async move {
            let requeued = tx
                .execute(
                    "UPDATE deliveries SET status = 'pending', round_base = attempts, \
                     next_attempt_at_ms = $2, lease_until_ms = 0, finished_at_ms = NULL, \
                     updated_at_ms = $2 WHERE id = $1 AND status = 'failed'",
                    &args![&self.id, now],
                )
                .await?;
            if requeued == 1 {
                return Ok(RetryRequest::Requeued);
            }
            let exists = tx
                .fetch_optional(
                    "SELECT 1 AS one FROM deliveries WHERE id = $1",
                    &args![&self.id],
                )
                .await?;
            Ok(match exists {
                Some(_) => RetryRequest::NotFailed,
                None => RetryRequest::NotFound,
            })
        })
    }
}
