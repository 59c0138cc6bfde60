//! Intake of provider events: dedup by event id, the forward-only order status, and the
//! notification written to the outbox, all in one transaction before the provider hears 2xx.

use super::{column, Store, StoreError};
use crate::clock;
use sqlx::{AnyConnection, AnyPool};
use tokio::sync::{mpsc, oneshot};

/// Builds the notification once the order is known (may run again if a group commit is retried).
pub type BuildDelivery = Box<dyn Fn(&OrderContext) -> NewDelivery + Send + Sync>;

/// Most events one group commit takes in.
const MAX_GROUP: usize = 512;
/// Ingests waiting for the group-commit writer before callers wait to hand theirs over.
pub(super) const INGEST_QUEUE: usize = 4096;

/// A genuine provider event, reduced to what the store needs.
#[derive(Debug, Clone)]
pub struct IncomingEvent<'a> {
    pub provider: &'a str,
    pub event_id: &'a str,
    pub event_type: &'a str,
    /// The provider order it is about, if any.
    pub order_id: Option<&'a str>,
    /// The order status it reports, with its rank: a status never replaces a higher-ranked one.
    pub status: Option<(&'a str, i64)>,
}

/// What the intake needs to know about the order to build the notification.
#[derive(Debug, Clone)]
pub struct OrderContext {
    pub reference_id: String,
    pub notification_url: String,
    pub amount_cents: i64,
    pub currency: String,
    /// The status after this event: the highest-ranked one seen so far, if any.
    pub payment_status: Option<String>,
}

/// The notification to queue, built once the order is known.
#[derive(Debug, Clone)]
pub struct NewDelivery {
    pub id: String,
    pub subject_key: String,
    pub target_url: String,
    pub target_key: String,
    pub event_type: String,
    pub body: String,
    /// W3C trace headers (JSON object) of the request that queued it.
    pub trace_context: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// This event id was already taken in: acknowledge, do nothing.
    Duplicate,
    /// Recorded, but not about an order created through pagos: nothing to relay.
    NotOurs,
    /// Recorded and queued for the storefront.
    Queued { delivery_id: String },
}

/// An event owned, so it can travel to the group-commit writer.
#[derive(Debug, Clone)]
struct OwnedEvent {
    provider: String,
    event_id: String,
    event_type: String,
    order_id: Option<String>,
    status: Option<(String, i64)>,
}

impl OwnedEvent {
    fn of(event: &IncomingEvent<'_>) -> Self {
        Self {
            provider: event.provider.to_owned(),
            event_id: event.event_id.to_owned(),
            event_type: event.event_type.to_owned(),
            order_id: event.order_id.map(str::to_owned),
            status: event.status.map(|(s, rank)| (s.to_owned(), rank)),
        }
    }

    fn view(&self) -> IncomingEvent<'_> {
        IncomingEvent {
            provider: &self.provider,
            event_id: &self.event_id,
            event_type: &self.event_type,
            order_id: self.order_id.as_deref(),
            status: self.status.as_ref().map(|(s, rank)| (s.as_str(), *rank)),
        }
    }
}

pub(super) struct IngestJob {
    event: OwnedEvent,
    build: BuildDelivery,
    reply: oneshot::Sender<Result<Ingested, StoreError>>,
}

impl Store {
    /// Takes in one event durably: when this returns `Ok`, its transaction has committed.
    ///
    /// On SQLite (one writer, and every commit an fsync) concurrent ingests are group-committed:
    /// one writer task takes every ingest waiting while the previous commit ran and commits them
    /// in one transaction, answering each caller only after that commit. Each event keeps its own
    /// semantics inside the group (dedup by event id, forward-only status); if the group's
    /// transaction fails, each event is retried in a transaction of its own, so one bad event
    /// cannot fail the others. PostgreSQL commits each ingest on its own connection.
    pub async fn ingest_event(
        &self,
        event: &IncomingEvent<'_>,
        build: impl Fn(&OrderContext) -> NewDelivery + Send + Sync + 'static,
    ) -> Result<Ingested, StoreError> {
        if let Some(writer) = &self.ingest_writer {
            let (reply, answer) = oneshot::channel();
            let job = IngestJob {
                event: OwnedEvent::of(event),
                build: Box::new(build),
                reply,
            };
            if writer.send(job).await.is_ok() {
                if let Ok(result) = answer.await {
                    return result;
                }
            }
            return Err(StoreError::Database(sqlx::Error::PoolClosed));
        }
        let _turn = self.write_turn().await;
        ingest_alone(self.pool(), event, &build).await
    }
}

/// The group-commit writer: runs until every `Store` clone is gone.
pub(super) async fn group_commit(
    pool: AnyPool,
    turns: super::WriteTurns,
    mut jobs: mpsc::Receiver<IngestJob>,
) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while jobs.recv_many(&mut group, MAX_GROUP).await > 0 {
        let _turn = turns.lock().await;
        let result = async {
            let mut tx = pool.begin().await?;
            let now = clock::unix_ms();
            let mut outcomes = Vec::with_capacity(group.len());
            for job in &group {
                outcomes.push(ingest_in(&mut tx, &job.event.view(), &*job.build, now).await?);
            }
            tx.commit().await?;
            Ok::<_, StoreError>(outcomes)
        }
        .await;
        match result {
            Ok(outcomes) => {
                for (job, outcome) in group.drain(..).zip(outcomes) {
                    let _ = job.reply.send(Ok(outcome));
                }
            }
            Err(error) => {
                tracing::warn!(%error, events = group.len(), "group commit failed; taking the events in one by one");
                for job in group.drain(..) {
                    let outcome = ingest_alone(&pool, &job.event.view(), &*job.build).await;
                    let _ = job.reply.send(outcome);
                }
            }
        }
    }
}

/// One event in a transaction of its own.
async fn ingest_alone(
    pool: &AnyPool,
    event: &IncomingEvent<'_>,
    build: &(dyn Fn(&OrderContext) -> NewDelivery + Send + Sync),
) -> Result<Ingested, StoreError> {
    let mut tx = pool.begin().await?;
    let outcome = ingest_in(&mut tx, event, build, clock::unix_ms()).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// The intake statements for one event, inside the caller's transaction. A duplicate writes
/// nothing; a fresh event records its id, moves the order's status forward and queues the
/// notification.
async fn ingest_in(
    conn: &mut AnyConnection,
    event: &IncomingEvent<'_>,
    build: &(dyn Fn(&OrderContext) -> NewDelivery + Send + Sync),
    now: i64,
) -> Result<Ingested, StoreError> {
    let fresh = sqlx::query(
        "INSERT INTO webhook_events (provider, event_id, event_type, received_at_ms) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (provider, event_id) DO NOTHING",
    )
    .bind(event.provider)
    .bind(event.event_id)
    .bind(event.event_type)
    .bind(now)
    .execute(&mut *conn)
    .await?;
    if fresh.rows_affected() == 0 {
        return Ok(Ingested::Duplicate);
    }
    let Some(order_id) = event.order_id else {
        return Ok(Ingested::NotOurs);
    };
    if let Some((status, rank)) = event.status {
        sqlx::query(
                "UPDATE orders SET payment_status = $3, status_rank = $4 \
                 WHERE provider = $1 AND order_id = $2 AND (payment_status IS NULL OR status_rank < $4)",
            )
            .bind(event.provider)
            .bind(order_id)
            .bind(status)
            .bind(rank)
            .execute(&mut *conn)
            .await?;
    }
    let row = sqlx::query(
        "SELECT reference_id, notification_url, amount_cents, currency, payment_status \
             FROM orders WHERE provider = $1 AND order_id = $2",
    )
    .bind(event.provider)
    .bind(order_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(Ingested::NotOurs);
    };
    let order = OrderContext {
        reference_id: column(&row, "reference_id")?,
        notification_url: column(&row, "notification_url")?,
        amount_cents: column(&row, "amount_cents")?,
        currency: column(&row, "currency")?,
        payment_status: column(&row, "payment_status")?,
    };
    let delivery = build(&order);
    queue(conn, event, &delivery, now).await?;
    Ok(Ingested::Queued {
        delivery_id: delivery.id,
    })
}

impl Store {
    /// Takes in a payment on a reusable reference: once per event id and once per `payment_key`
    /// (the same payment reported again under a new event id is not relayed twice).
    pub async fn ingest_payment_event(
        &self,
        event: &IncomingEvent<'_>,
        payment_key: Option<&str>,
        delivery: &NewDelivery,
    ) -> Result<Ingested, StoreError> {
        let now = clock::unix_ms();
        let _turn = self.write_turn().await;
        let mut tx = self.pool().begin().await?;
        for key in std::iter::once(event.event_id).chain(payment_key) {
            let fresh = sqlx::query(
                "INSERT INTO webhook_events (provider, event_id, event_type, received_at_ms) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (provider, event_id) DO NOTHING",
            )
            .bind(event.provider)
            .bind(key)
            .bind(event.event_type)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if fresh.rows_affected() == 0 {
                return Ok(Ingested::Duplicate);
            }
        }
        queue(&mut tx, event, delivery, now).await?;
        tx.commit().await?;
        Ok(Ingested::Queued {
            delivery_id: delivery.id.clone(),
        })
    }
}

/// Puts the notification in the outbox and links the event to it.
async fn queue(
    conn: &mut AnyConnection,
    event: &IncomingEvent<'_>,
    delivery: &NewDelivery,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO deliveries (id, subject_key, target_url, target_key, event_type, body, \
         status, next_attempt_at_ms, created_at_ms, updated_at_ms, trace_context) \
         VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $7, $7, $8)",
    )
    .bind(&delivery.id)
    .bind(&delivery.subject_key)
    .bind(&delivery.target_url)
    .bind(&delivery.target_key)
    .bind(&delivery.event_type)
    .bind(&delivery.body)
    .bind(now)
    .bind(delivery.trace_context.as_deref())
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE webhook_events SET delivery_id = $3 WHERE provider = $1 AND event_id = $2")
        .bind(event.provider)
        .bind(event.event_id)
        .bind(&delivery.id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
