//! Intake of provider events: dedup by event id, the forward-only order status, and the
//! notification written to the outbox, all in one transaction before the provider hears 2xx.

use super::group_commit::{Write, WriteFuture};
use super::held::{hold_in, release_in, BuildHeld, HeldEvent};
use super::orders::adopt_in;
use super::tx::{args, Row, Tx};
use super::{Backend, Store, StoreError};
use crate::domain::{Centavos, Currency, ReferenceId};
use std::sync::{LazyLock, Mutex, PoisonError};

/// Builds the notification once the order is known (may run again if a group commit is retried).
pub type BuildDelivery = Box<dyn Fn(&OrderContext, &str) -> NewDelivery + Send + Sync>;

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
    /// The attempt key the order carries in its metadata: ties the order to the claim that
    /// made it when the event comes before the provider's answer.
    pub claim_key: Option<&'a str>,
    /// The event as received, when it may wait for its order (it names one but cannot tie
    /// itself to a claim, e.g. a charge event).
    pub holdable: Option<&'a str>,
}

/// What the intake needs to know about the order to build the notification.
#[derive(Debug, Clone)]
pub struct OrderContext {
    pub reference_id: ReferenceId,
    pub notification_url: String,
    pub amount: Centavos,
    pub currency: Currency,
    /// The status after this event: the highest-ranked one seen so far, if any.
    pub payment_status: Option<String>,
    /// The storefront the order belongs to (`None`: single-storefront mode).
    pub storefront: Option<String>,
}

impl OrderContext {
    /// From a row with the order map's columns of the same names.
    pub(super) fn from_row(row: &Row) -> Result<Self, StoreError> {
        Ok(Self {
            reference_id: ReferenceId::stored(row.get("reference_id")?),
            notification_url: row.get("notification_url")?,
            amount: Centavos(row.get("amount_cents")?),
            currency: Currency::of(&row.get::<String>("currency")?),
            payment_status: row.get("payment_status")?,
            storefront: row.get("storefront")?,
        })
    }
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
    /// Whose secrets sign it (`None`: single-storefront mode).
    pub storefront: Option<String>,
    /// The storefront's reference it is about (for filtering).
    pub reference_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    /// This event id was already taken in: acknowledge, do nothing.
    Duplicate,
    /// Recorded, but not about an order created through pagos: nothing to relay.
    NotOurs,
    /// Recorded and queued for the storefront.
    Queued { delivery_id: String },
    /// Recorded and held until its order is recorded (its create is still in flight).
    Held,
}

/// An event owned, so it can travel to the group-commit writer.
#[derive(Debug, Clone)]
pub(super) struct OwnedEvent {
    pub(super) provider: String,
    pub(super) event_id: String,
    pub(super) event_type: String,
    pub(super) order_id: Option<String>,
    pub(super) status: Option<(String, i64)>,
    claim_key: Option<String>,
    holdable: Option<String>,
}

impl OwnedEvent {
    fn of(event: &IncomingEvent<'_>) -> Self {
        Self {
            provider: event.provider.to_owned(),
            event_id: event.event_id.to_owned(),
            event_type: event.event_type.to_owned(),
            order_id: event.order_id.map(str::to_owned),
            status: event.status.map(|(s, rank)| (s.to_owned(), rank)),
            claim_key: event.claim_key.map(str::to_owned),
            holdable: event.holdable.map(str::to_owned),
        }
    }

    fn view(&self) -> IncomingEvent<'_> {
        IncomingEvent {
            provider: &self.provider,
            event_id: &self.event_id,
            event_type: &self.event_type,
            order_id: self.order_id.as_deref(),
            status: self.status.as_ref().map(|(s, rank)| (s.as_str(), *rank)),
            claim_key: self.claim_key.as_deref(),
            holdable: self.holdable.as_deref(),
        }
    }
}

/// The intake of one event, as a write for the group-commit writer.
pub(super) struct Ingest {
    pub(super) event: OwnedEvent,
    /// The id the notification will have, if one is queued (the event row links to it).
    pub(super) delivery_id: String,
    build: BuildDelivery,
    build_held: BuildHeld,
    trace_context: Option<String>,
    /// On PostgreSQL the event's id and its order take one statement (see `PG_RECORD_AND_ORDER`),
    /// and intakes next to each other in a group share theirs (`intake_together.rs`).
    postgres: bool,
    /// The outcome, when the writer already took this event in together with its neighbours,
    /// in the same transaction; taken by `run`.
    together: Mutex<Option<Ingested>>,
}

impl Ingest {
    pub(super) fn new(
        event: &IncomingEvent<'_>,
        delivery_id: String,
        build: BuildDelivery,
        build_held: BuildHeld,
        trace_context: Option<String>,
        postgres: bool,
    ) -> Self {
        Self {
            event: OwnedEvent::of(event),
            delivery_id,
            build,
            build_held,
            trace_context,
            postgres,
            together: Mutex::default(),
        }
    }

    /// Records that this event was taken in together with its neighbours (see `together`).
    pub(super) fn done_together(&self, outcome: Ingested) {
        *self.together.lock().unwrap_or_else(PoisonError::into_inner) = Some(outcome);
    }

    /// The notification about the order in `row` (the order map's columns).
    pub(super) fn delivery(&self, row: &Row) -> Result<NewDelivery, StoreError> {
        Ok((self.build)(
            &OrderContext::from_row(row)?,
            &self.delivery_id,
        ))
    }
}

impl Write for Ingest {
    type Output = Ingested;

    fn run<'c>(&'c self, tx: &'c mut dyn Tx, now_ms: i64) -> WriteFuture<'c, Ingested> {
        let done = self
            .together
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match done {
            Some(outcome) => Box::pin(std::future::ready(Ok(outcome))),
            None => Box::pin(ingest_in(tx, self, now_ms)),
        }
    }

    fn intake(&self) -> Option<&Ingest> {
        self.postgres.then_some(self)
    }
}

impl Store {
    /// Takes in one event durably: when this returns `Ok`, its transaction has committed.
    /// Its id is recorded (a duplicate does nothing), the order's status moves forward only,
    /// and the notification is queued, all in one transaction (group-committed; on PostgreSQL
    /// taken in together with the intakes next to it in its group, `intake_together.rs`).
    /// `build` makes the notification, with id `delivery_id`, once the order is known;
    /// `build_held` makes those of events held for the order, when this event records it.
    pub async fn ingest_event(
        &self,
        event: &IncomingEvent<'_>,
        delivery_id: String,
        build: impl Fn(&OrderContext, &str) -> NewDelivery + Send + Sync + 'static,
        build_held: BuildHeld,
        trace_context: Option<String>,
    ) -> Result<Ingested, StoreError> {
        let postgres = self.backend() == Backend::Postgres;
        self.write(Ingest::new(
            event,
            delivery_id,
            Box::new(build),
            build_held,
            trace_context,
            postgres,
        ))
        .await
    }
}

/// The intake statements for one event, inside the caller's transaction. A duplicate writes
/// nothing; a fresh event records its id, moves the order's status forward and queues the
/// notification. An event about an order not (yet) in the map is tied to the claim that made
/// it, or held until the order is recorded, or, when it cannot be ours, recorded and ignored.
async fn ingest_in(tx: &mut dyn Tx, ingest: &Ingest, now: i64) -> Result<Ingested, StoreError> {
    let event = ingest.event.view();
    let delivery_id = ingest.delivery_id.as_str();
    // Linked to the notification up front (one statement fewer on the common path); unlinked
    // below in the rarer case that nothing is queued.
    let Some(order_id) = event.order_id else {
        if !record_event_id(tx, &event, event.event_id, Some(delivery_id), now).await? {
            return Ok(Ingested::Duplicate);
        }
        return not_ours(tx, &event).await;
    };
    match record_with_order(tx, &event, order_id, delivery_id, ingest.postgres, now).await? {
        None => Ok(Ingested::Duplicate),
        Some(Some(row)) => queue_about(tx, ingest, &row, now).await,
        Some(None) => without_order(tx, ingest, order_id, now).await,
    }
}

/// Queues the event's notification about the order in `row`.
async fn queue_about(
    tx: &mut dyn Tx,
    ingest: &Ingest,
    row: &Row,
    now: i64,
) -> Result<Ingested, StoreError> {
    let delivery = ingest.delivery(row)?;
    queue(tx, &delivery, now).await?;
    Ok(Ingested::Queued {
        delivery_id: delivery.id,
    })
}

/// The rest of a fresh event's intake when its order is not in the map: it is tied to the
/// claim that made the order, or held until the order is recorded, or, when it cannot be
/// ours, left recorded and ignored.
pub(super) async fn without_order(
    tx: &mut dyn Tx,
    ingest: &Ingest,
    order_id: &str,
    now: i64,
) -> Result<Ingested, StoreError> {
    let event = ingest.event.view();
    if let Some(claim_key) = event.claim_key {
        if adopt_in(tx, event.provider, claim_key, order_id, now).await? {
            // Events that came before this one about the order go out first.
            release_in(tx, event.provider, order_id, ingest.build_held, now).await?;
            if let Some(row) = order_row(tx, &event, order_id).await? {
                return queue_about(tx, ingest, &row, now).await;
            }
        }
    }
    match event.holdable {
        Some(raw) if orders_in_flight(tx, event.provider).await? => {
            let held = HeldEvent {
                event_id: event.event_id.to_owned(),
                delivery_id: ingest.delivery_id.clone(),
                event: raw.to_owned(),
                trace_context: ingest.trace_context.clone(),
            };
            hold_in(tx, event.provider, order_id, &held, now).await?;
            Ok(Ingested::Held)
        }
        _ => not_ours(tx, &event).await,
    }
}

/// The order map's columns `OrderContext` is made of.
pub(super) const ORDER_COLUMNS: &str =
    "reference_id, notification_url, amount_cents, currency, payment_status, storefront";

/// Reads the order (`$1`, `$2`: provider and order id).
static READ_ORDER: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {ORDER_COLUMNS} FROM orders WHERE provider = $1 AND order_id = $2")
});

/// The forward-only rule, as an `UPDATE orders`' assignments: the order takes the event's status
/// (`$7`, ranked `$8`) only if it ranks higher than the one it has.
pub(super) const MOVE_STATUS: &str = "\
     payment_status = CASE WHEN payment_status IS NULL OR status_rank < $8 \
       THEN $7 ELSE payment_status END, \
     status_rank = CASE WHEN payment_status IS NULL OR status_rank < $8 \
       THEN $8 ELSE status_rank END";

/// Moves the order's status forward (`MOVE_STATUS`). `$1`, `$2`: provider and order id; the
/// caller adds its own conditions and what it returns.
static MOVE_ORDER: LazyLock<String> = LazyLock::new(|| {
    format!("UPDATE orders SET {MOVE_STATUS} WHERE provider = $1 AND order_id = $2")
});

/// One statement: move the order's status forward if the event's ranks higher, and read the
/// order (`None` when it is not in the map).
async fn order_row(
    tx: &mut dyn Tx,
    event: &IncomingEvent<'_>,
    order_id: &str,
) -> Result<Option<Row>, StoreError> {
    static MOVE: LazyLock<String> = LazyLock::new(|| {
        // The same statement, its status parameters numbered from 3.
        let sql = MOVE_ORDER.replace("$7", "$3").replace("$8", "$4");
        format!("{sql} RETURNING {ORDER_COLUMNS}")
    });
    match event.status {
        Some((status, rank)) => {
            tx.fetch_optional(&MOVE, &args![event.provider, order_id, status, rank])
                .await
        }
        None => {
            tx.fetch_optional(&READ_ORDER, &args![event.provider, order_id])
                .await
        }
    }
}

/// PostgreSQL: the event's id recorded (`$3`-`$6`) and, if it is new, its order moved forward
/// and read, in one round trip instead of two (statements, not rows, are what the intake pays
/// for there). `{order}`: `MOVE_ORDER` or a plain read. One row: `fresh` (0: a duplicate) and the
/// order's columns (null when it is not in the map).
const PG_RECORD_AND_ORDER: &str = "WITH fresh AS (INSERT INTO webhook_events (provider, event_id, \
       event_type, received_at_ms, delivery_id) VALUES ($1, $3, $4, $5, $6) \
       ON CONFLICT (provider, event_id) DO NOTHING RETURNING 1 AS one), \
     known AS ({order} AND EXISTS (SELECT 1 FROM fresh) {returning}) \
     SELECT (SELECT COUNT(*) FROM fresh) AS fresh, known.* FROM (SELECT 1 AS one) AS x \
     LEFT JOIN known ON TRUE";

/// Records the event's id (linked to `delivery_id`) and, if it was new, moves its order forward
/// and reads it: `None` for a duplicate, else the order's row if it is in the map.
async fn record_with_order(
    tx: &mut dyn Tx,
    event: &IncomingEvent<'_>,
    order_id: &str,
    delivery_id: &str,
    postgres: bool,
    now: i64,
) -> Result<Option<Option<Row>>, StoreError> {
    if !postgres {
        if !record_event_id(tx, event, event.event_id, Some(delivery_id), now).await? {
            return Ok(None);
        }
        return order_row(tx, event, order_id).await.map(Some);
    }
    static MOVE: LazyLock<String> = LazyLock::new(|| {
        PG_RECORD_AND_ORDER
            .replace("{order}", &MOVE_ORDER)
            .replace("{returning}", &format!("RETURNING {ORDER_COLUMNS}"))
    });
    static READ: LazyLock<String> = LazyLock::new(|| {
        PG_RECORD_AND_ORDER
            .replace("{order}", &READ_ORDER)
            .replace("{returning}", "")
    });
    let record = args![
        event.provider,
        order_id,
        event.event_id,
        event.event_type,
        now,
        delivery_id
    ];
    let row = match event.status {
        Some((status, rank)) => {
            let mut all = record.to_vec();
            all.extend(args![status, rank]);
            tx.fetch_optional(&MOVE, &all).await?
        }
        None => tx.fetch_optional(&READ, &record).await?,
    };
    let Some(row) = row else {
        return Ok(None);
    };
    Ok(recorded(&row)?.map(|known| known.then_some(row)))
}

/// What a row of `fresh` and the order's columns says: `None` when the event was a duplicate,
/// else whether its order is in the map.
pub(super) fn recorded(row: &Row) -> Result<Option<bool>, StoreError> {
    if row.get::<i64>("fresh")? == 0 {
        return Ok(None);
    }
    Ok(Some(row.get::<Option<String>>("reference_id")?.is_some()))
}

/// True while some order create has no final answer: an event about an unknown order may be
/// about it.
async fn orders_in_flight(tx: &mut dyn Tx, provider: &str) -> Result<bool, StoreError> {
    let open = tx
        .fetch_optional(
            "SELECT 1 AS one FROM claims WHERE scope = 'order' AND answer IS NULL \
             AND provider = $1 LIMIT 1",
            &args![provider],
        )
        .await?;
    Ok(open.is_some())
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
        self.write(PaymentIngest {
            event: OwnedEvent::of(event),
            payment_key: payment_key.map(str::to_owned),
            delivery: delivery.clone(),
        })
        .await
    }
}

/// The intake of a payment on a reusable reference, as a write for the group-commit writer.
struct PaymentIngest {
    event: OwnedEvent,
    payment_key: Option<String>,
    delivery: NewDelivery,
}

impl Write for PaymentIngest {
    type Output = Ingested;

    fn run<'c>(&'c self, tx: &'c mut dyn Tx, now: i64) -> WriteFuture<'c, Ingested> {
        Box::pin(async move {
            let event = self.event.view();
            for key in std::iter::once(event.event_id).chain(self.payment_key.as_deref()) {
                if !record_event_id(tx, &event, key, Some(&self.delivery.id), now).await? {
                    return Ok(Ingested::Duplicate);
                }
            }
            queue(tx, &self.delivery, now).await?;
            Ok(Ingested::Queued {
                delivery_id: self.delivery.id.clone(),
            })
        })
    }
}

/// Records that `key` was taken in, linked to the notification it produces; false if it
/// already was.
async fn record_event_id(
    tx: &mut dyn Tx,
    event: &IncomingEvent<'_>,
    key: &str,
    delivery_id: Option<&str>,
    now: i64,
) -> Result<bool, StoreError> {
    let fresh = tx
        .execute(
            "INSERT INTO webhook_events (provider, event_id, event_type, received_at_ms, \
             delivery_id) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (provider, event_id) DO NOTHING",
            &args![event.provider, key, event.event_type, now, delivery_id],
        )
        .await?;
    Ok(fresh == 1)
}

/// The event was recorded but queues nothing: drop its link to a notification.
async fn not_ours(tx: &mut dyn Tx, event: &IncomingEvent<'_>) -> Result<Ingested, StoreError> {
    tx.execute(
        "UPDATE webhook_events SET delivery_id = NULL WHERE provider = $1 AND event_id = $2",
        &args![event.provider, event.event_id],
    )
    .await?;
    Ok(Ingested::NotOurs)
}

/// The outbox's columns a new notification fills, then its status and times (`queue`,
/// `queue_all`).
const NEW_DELIVERY: &str = "INSERT INTO deliveries (id, subject_key, target_url, target_key, \
     event_type, body, trace_context, storefront, reference_id, status, next_attempt_at_ms, \
     created_at_ms, updated_at_ms)";

/// Puts the notification in the outbox.
pub(super) async fn queue(
    tx: &mut dyn Tx,
    delivery: &NewDelivery,
    now: i64,
) -> Result<(), StoreError> {
    static QUEUE: LazyLock<String> = LazyLock::new(|| {
        format!(
            "{NEW_DELIVERY} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'pending', $10, $10, $10)"
        )
    });
    tx.execute(
        &QUEUE,
        &args![
            &delivery.id,
            &delivery.subject_key,
            &delivery.target_url,
            &delivery.target_key,
            &delivery.event_type,
            &delivery.body,
            delivery.trace_context.as_deref(),
            delivery.storefront.as_deref(),
            &delivery.reference_id,
            now,
        ],
    )
    .await?;
    Ok(())
}

/// Puts the notifications in the outbox in one statement (PostgreSQL: the rows travel as one
/// JSON parameter).
pub(super) async fn queue_all(
    tx: &mut dyn Tx,
    deliveries: &[NewDelivery],
    now: i64,
) -> Result<(), StoreError> {
    static QUEUE_ALL: LazyLock<String> = LazyLock::new(|| {
        format!(
            "{NEW_DELIVERY} SELECT x.*, 'pending', $2, $2, $2 FROM json_to_recordset(CAST($1 AS \
             json)) AS x(id text, subject_key text, target_url text, target_key text, \
             event_type text, body text, trace_context text, storefront text, reference_id text)"
        )
    });
    if deliveries.is_empty() {
        return Ok(());
    }
    let rows: Vec<serde_json::Value> = deliveries
        .iter()
        .map(|delivery| {
            serde_json::json!({
                "id": delivery.id,
                "subject_key": delivery.subject_key,
                "target_url": delivery.target_url,
                "target_key": delivery.target_key,
                "event_type": delivery.event_type,
                "body": delivery.body,
                "trace_context": delivery.trace_context,
                "storefront": delivery.storefront,
                "reference_id": delivery.reference_id,
            })
        })
        .collect();
    let rows = serde_json::Value::from(rows).to_string();
    tx.execute(&QUEUE_ALL, &args![rows.as_str(), now]).await?;
    Ok(())
}
