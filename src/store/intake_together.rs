//! PostgreSQL: the intake of events that sit next to each other in a group commit, taken in
//! together. One at a time, an event costs two statements (its id with its order, then its
//! notification), and statements, not rows, are what the intake pays for there, in both
//! processes. Together, a run of events costs two statements in all: one records their ids and
//! moves and reads their orders, one queues their notifications. The rare steps (an order not in
//! the map yet) still run per event, in turn, inside the same transaction.

use super::events::{
    queue_all, recorded, without_order, Ingest, Ingested, MOVE_STATUS, ORDER_COLUMNS,
};
use super::tx::{args, Tx};
use super::StoreError;
use std::collections::HashSet;
use std::sync::LazyLock;

/// How many of the writes at the head of `writes` the writer takes in together: the intakes in
/// a row there, each about an order, up to the first that repeats an event or an order of those
/// before it. Those touch distinct rows, so running their first statements at once does what
/// running them in turn would. Fewer than two: nothing to gain.
pub(super) fn run_length<'a>(writes: impl Iterator<Item = Option<&'a Ingest>>) -> usize {
    let mut events = HashSet::new();
    let mut orders = HashSet::new();
    let mut length = 0;
    for write in writes {
        let Some(ingest) = write else { break };
        let event = &ingest.event;
        let Some(order_id) = event.order_id.as_deref() else {
            break;
        };
        if !events.insert((event.provider.as_str(), event.event_id.as_str()))
            || !orders.insert((event.provider.as_str(), order_id))
        {
            break;
        }
        length += 1;
    }
    length
}

/// One statement for a run of events (`$1`: a JSON array, each with its index `i`; `$2`: now):
/// records the ids not seen before; for those, moves the order's status forward where the event
/// ranks higher (or only reads the order when the event reports no status). One row per event,
/// in order: `fresh` (0: a duplicate) and the order's columns (null when it is not in the map).
static RECORD_AND_ORDERS: LazyLock<String> = LazyLock::new(|| {
    let columns = ORDER_COLUMNS
        .split(", ")
        .map(|column| format!("o.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    // The event's columns are named apart from the order's, so the rule reads the order's.
    let move_status = MOVE_STATUS
        .replace("$7", "t.status")
        .replace("$8", "t.new_rank");
    format!(
        "WITH input AS (SELECT * FROM json_to_recordset(CAST($1 AS json)) AS x(i bigint, \
           provider text, order_id text, event_id text, event_type text, delivery_id text, \
           status text, new_rank bigint)), \
         fresh AS (INSERT INTO webhook_events (provider, event_id, event_type, received_at_ms, \
           delivery_id) SELECT provider, event_id, event_type, $2, delivery_id FROM input \
           ORDER BY i ON CONFLICT (provider, event_id) DO NOTHING RETURNING provider, event_id), \
         took AS (SELECT n.* FROM input AS n JOIN fresh AS f \
           ON f.provider = n.provider AND f.event_id = n.event_id), \
         moved AS (UPDATE orders AS o SET {move_status} FROM took AS t \
           WHERE t.status IS NOT NULL AND o.provider = t.provider AND o.order_id = t.order_id \
           RETURNING t.i, {columns}), \
         known AS (SELECT * FROM moved UNION ALL SELECT t.i, {columns} FROM took AS t \
           JOIN orders AS o ON o.provider = t.provider AND o.order_id = t.order_id \
           WHERE t.status IS NULL) \
         SELECT n.i, CAST(CASE WHEN t.i IS NULL THEN 0 ELSE 1 END AS BIGINT) AS fresh, k.* \
         FROM input AS n LEFT JOIN took AS t ON t.i = n.i LEFT JOIN known AS k ON k.i = n.i \
         ORDER BY n.i"
    )
});

/// Takes in `run` (see `run_length`) inside the writer's transaction, and leaves each its
/// outcome (`Ingest::done_together`) once every statement has succeeded.
pub(super) async fn ingest_together(
    tx: &mut dyn Tx,
    run: &[&Ingest],
    now: i64,
) -> Result<(), StoreError> {
    let rows = tx
        .fetch_all(&RECORD_AND_ORDERS, &args![events_json(run).as_str(), now])
        .await?;
    if rows.len() != run.len() {
        return Err(StoreError::Database(sqlx::Error::Protocol(format!(
            "{} rows for {} events taken in together",
            rows.len(),
            run.len()
        ))));
    }
    let mut outcomes = Vec::with_capacity(run.len());
    let mut deliveries = Vec::with_capacity(run.len());
    for (ingest, row) in run.iter().zip(&rows) {
        let outcome = match recorded(row)? {
            None => Ingested::Duplicate,
            Some(true) => {
                let delivery = ingest.delivery(row)?;
                let outcome = Ingested::Queued {
                    delivery_id: delivery.id.clone(),
                };
                deliveries.push(delivery);
                outcome
            }
            Some(false) => {
                let order_id = ingest.event.order_id.as_deref().unwrap_or_default();
                without_order(tx, ingest, order_id, now).await?
            }
        };
        outcomes.push(outcome);
    }
    queue_all(tx, &deliveries, now).await?;
    for (ingest, outcome) in run.iter().zip(outcomes) {
        ingest.done_together(outcome);
    }
    Ok(())
}

/// The run's events as `RECORD_AND_ORDERS` reads them.
fn events_json(run: &[&Ingest]) -> String {
    let events: Vec<serde_json::Value> = run
        .iter()
        .enumerate()
        .map(|(i, ingest)| {
            let event = &ingest.event;
            let (status, rank) = match &event.status {
                Some((status, rank)) => (Some(status.as_str()), Some(*rank)),
                None => (None, None),
            };
            serde_json::json!({
                "i": i,
                "provider": event.provider,
                "order_id": event.order_id,
                "event_id": event.event_id,
                "event_type": event.event_type,
                "delivery_id": ingest.delivery_id,
                "status": status,
                "new_rank": rank,
            })
        })
        .collect();
    serde_json::Value::from(events).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::events::{IncomingEvent, NewDelivery, OrderContext};
    use crate::store::group_commit::Write;
    use crate::store::pg_group_commit::{commit_as_one_group, fresh_database};
    use crate::store::tx::{Arg, Row, TxFuture};
    use crate::store::Store;
    use sqlx::{AnyConnection, Connection};

    const NOW: i64 = 1_700_000_000_000;

    /// A fresh PostgreSQL database with the schema, orders `a`, `b` (paid, rank 3) and `c`, and
    /// event `evt_old` already taken in.
    async fn seeded_database() -> (Store, String) {
        let (store, url) = fresh_database().await;
        for (order, status, rank) in [("a", None, 0), ("b", Some("paid"), 3), ("c", None, 0)] {
            sqlx::query(
                "INSERT INTO orders (provider, order_id, account_hash, reference_id, \
                 notification_url, amount_cents, currency, created_at, payment_status, \
                 status_rank) VALUES ('conekta', $1, 'h', $2, 'http://shop/n', 1000, 'MXN', 0, \
                 $3, $4)",
            )
            .bind(order)
            .bind(format!("ref-{order}"))
            .bind(status)
            .bind(rank)
            .execute(store.pool())
            .await
            .unwrap();
        }
        sqlx::query(
            "INSERT INTO webhook_events (provider, event_id, event_type, received_at_ms) \
             VALUES ('conekta', 'evt_old', 'order.paid', 0)",
        )
        .execute(store.pool())
        .await
        .unwrap();
        (store, url)
    }

    fn notification(order: &OrderContext, id: &str) -> NewDelivery {
        NewDelivery {
            id: id.to_owned(),
            subject_key: order.reference_id.as_str().to_owned(),
            target_url: order.notification_url.clone(),
            target_key: "shop".to_owned(),
            event_type: "payment".to_owned(),
            body: format!(
                "{} {} {:?}",
                order.amount.0,
                order.currency.as_str(),
                order.payment_status
            ),
            trace_context: None,
            storefront: order.storefront.clone(),
            reference_id: order.reference_id.as_str().to_owned(),
        }
    }

    /// An event as it arrives: its id, its order, the status it reports with its rank.
    type Arrival = (
        &'static str,
        Option<&'static str>,
        Option<(&'static str, i64)>,
    );

    const ARRIVALS: [Arrival; 8] = [
        ("evt_1", Some("a"), Some(("paid", 3))),
        ("evt_2", Some("b"), Some(("pending_payment", 1))),
        ("evt_old", Some("c"), Some(("paid", 3))),
        ("evt_4", Some("x"), Some(("paid", 3))),
        // Order `a` again: a new run starts here, and again at the next.
        ("evt_5", Some("a"), Some(("refunded", 5))),
        ("evt_1", Some("a"), Some(("paid", 3))),
        ("evt_7", Some("c"), None),
        ("evt_8", None, None),
    ];

    fn intakes() -> Vec<Ingest> {
        ARRIVALS
            .iter()
            .enumerate()
            .map(|(i, (event_id, order_id, status))| {
                let event = IncomingEvent {
                    provider: "conekta",
                    event_id,
                    event_type: "order.paid",
                    order_id: *order_id,
                    status: *status,
                    claim_key: None,
                    holdable: None,
                };
                Ingest::new(
                    &event,
                    format!("msg_{i}"),
                    Box::new(notification),
                    |_, _| None,
                    None,
                    true,
                )
            })
            .collect()
    }

    fn expected() -> Vec<Ingested> {
        let queued = |id: &str| Ingested::Queued {
            delivery_id: id.to_owned(),
        };
        vec![
            queued("msg_0"),
            queued("msg_1"),
            Ingested::Duplicate,
            Ingested::NotOurs,
            queued("msg_4"),
            Ingested::Duplicate,
            queued("msg_6"),
            Ingested::NotOurs,
        ]
    }

    /// Every row the intake writes, as text.
    async fn tables(store: &Store) -> Vec<String> {
        sqlx::query_scalar(
            "SELECT concat_ws(' ', provider, event_id, event_type, received_at_ms, delivery_id) \
             FROM webhook_events UNION ALL \
             SELECT concat_ws(' ', order_id, payment_status, status_rank) FROM orders UNION ALL \
             SELECT concat_ws(' ', id, subject_key, target_url, target_key, event_type, body, \
             status, next_attempt_at_ms, created_at_ms, updated_at_ms, trace_context, \
             storefront, reference_id) FROM deliveries ORDER BY 1",
        )
        .fetch_all(store.pool())
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn a_group_of_intakes_taken_in_together_ends_as_if_taken_in_one_at_a_time() {
        let (together, together_url) = seeded_database().await;
        let (alone, alone_url) = seeded_database().await;
        let mut conn = AnyConnection::connect(&together_url).await.unwrap();
        let outcomes = commit_as_one_group(&mut conn, intakes(), NOW)
            .await
            .unwrap();
        assert_eq!(outcomes, expected());
        let mut conn = AnyConnection::connect(&alone_url).await.unwrap();
        let mut one_at_a_time = Vec::new();
        for intake in intakes() {
            let mut outcome = commit_as_one_group(&mut conn, vec![intake], NOW)
                .await
                .unwrap();
            one_at_a_time.append(&mut outcome);
        }
        assert_eq!(one_at_a_time, expected());
        let rows = tables(&together).await;
        assert_eq!(rows, tables(&alone).await);
        for row in [
            "a refunded 5",
            "b paid 3",
            "conekta evt_4 order.paid 1700000000000",
            "msg_0 ref-a http://shop/n shop payment 1000 MXN Some(\"paid\") pending",
            "msg_1 ref-b http://shop/n shop payment 1000 MXN Some(\"paid\") pending",
            "msg_6 ref-c http://shop/n shop payment 1000 MXN None pending",
        ] {
            assert!(
                rows.iter().any(|r| r.starts_with(row)),
                "{row} in {rows:#?}"
            );
        }
    }

    /// A transaction that refuses every statement.
    struct NoStatements;

    impl Tx for NoStatements {
        fn execute<'a>(&'a mut self, _: &'a str, _: &'a [Arg<'a>]) -> TxFuture<'a, u64> {
            Box::pin(async { Err(StoreError::WriteSuspended) })
        }

        fn fetch_all<'a>(&'a mut self, _: &'a str, _: &'a [Arg<'a>]) -> TxFuture<'a, Vec<Row>> {
            Box::pin(async { Err(StoreError::WriteSuspended) })
        }
    }

    #[tokio::test]
    async fn intakes_next_to_each_other_take_two_statements_and_then_only_answer() {
        let (_store, url) = seeded_database().await;
        let intakes = intakes();
        let run: Vec<&Ingest> = intakes.iter().collect();
        assert_eq!(run_length(run.iter().map(|i| Some(*i))), 4);
        assert_eq!(run_length(run[4..].iter().map(|i| Some(*i))), 1);
        assert_eq!(run_length(run[5..].iter().map(|i| Some(*i))), 2);
        assert_eq!(run_length(run[7..].iter().map(|i| Some(*i))), 0);
        let mut conn = AnyConnection::connect(&url).await.unwrap();
        sqlx::Executor::execute(&mut conn, "BEGIN").await.unwrap();
        ingest_together(&mut conn, &run[..4], NOW).await.unwrap();
        for (intake, expected) in intakes[..4].iter().zip(expected()) {
            let outcome = intake.run(&mut NoStatements, NOW).await.unwrap();
            assert_eq!(outcome, expected);
        }
        // Answered once: a run again (after a rollback) takes the event in itself.
        assert!(intakes[0].run(&mut NoStatements, NOW).await.is_err());
    }
}
