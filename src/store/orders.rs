//! The order map: every provider order made through pagos, and where its news must go.

use super::events::OrderContext;
use super::tx::{args, Arg, Tx};
use super::{column, Store, StoreError};
use crate::domain::{Amount, Currency, ReferenceId};
use std::sync::LazyLock;

/// An order made through pagos.
#[derive(Debug, Clone, Copy)]
pub struct OrderRecord<'a> {
    pub order_id: &'a str,
    pub account_hash: &'a str,
    pub reference_id: &'a ReferenceId,
    pub notification_url: &'a str,
    pub amount: Amount,
    pub currency: &'a Currency,
    /// The storefront it belongs to (`None`: single-storefront mode).
    pub storefront: Option<&'a str>,
}

/// The same, owned, to travel to the group-commit writer.
#[derive(Debug, Clone)]
pub(super) struct OwnedOrder {
    pub provider: String,
    pub order_id: String,
    pub account_hash: String,
    pub reference_id: String,
    pub notification_url: String,
    pub amount_cents: i64,
    pub currency: String,
    pub storefront: Option<String>,
}

impl OwnedOrder {
    pub fn of(provider: &str, order: &OrderRecord<'_>) -> Self {
        Self {
            provider: provider.to_owned(),
            order_id: order.order_id.to_owned(),
            account_hash: order.account_hash.to_owned(),
            reference_id: order.reference_id.as_str().to_owned(),
            notification_url: order.notification_url.to_owned(),
            amount_cents: order.amount.centavos(),
            currency: order.currency.as_str().to_owned(),
            storefront: order.storefront.map(str::to_owned),
        }
    }

    /// The values `insert_order` takes, in its order.
    pub(super) fn args(&self, now_ms: i64) -> [Arg<'_>; 9] {
        args![
            &self.provider,
            &self.order_id,
            &self.account_hash,
            &self.reference_id,
            &self.notification_url,
            self.amount_cents,
            &self.currency,
            now_ms / 1000,
            self.storefront.as_deref(),
        ]
    }
}

/// Adds an order to the map, its values (`OwnedOrder::args`) from `$first`; an order already
/// there is left as it is (its status included).
pub(super) fn insert_order(first: usize) -> String {
    let values: Vec<String> = (first..first + 9).map(|n| format!("${n}")).collect();
    format!(
        "INSERT INTO orders (provider, order_id, account_hash, reference_id, notification_url, \
         amount_cents, currency, created_at, storefront) VALUES ({}) \
         ON CONFLICT (provider, order_id) DO NOTHING",
        values.join(", ")
    )
}

static INSERT_ORDER: LazyLock<String> = LazyLock::new(|| insert_order(1));

/// Adds the order to the map; an order already there is left as it is (its status included).
pub(super) async fn record_order_in(
    tx: &mut dyn Tx,
    order: &OwnedOrder,
    now_ms: i64,
) -> Result<(), StoreError> {
    tx.execute(&INSERT_ORDER, &order.args(now_ms)).await?;
    Ok(())
}

/// Maps `order_id` to the storefront of the order claim whose attempt key the order carries
/// (an event about it arrived before the provider's answer). False when no claim has that key.
pub(super) async fn adopt_in(
    tx: &mut dyn Tx,
    provider: &str,
    attempt_key: &str,
    order_id: &str,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let claim = tx
        .fetch_optional(
            "SELECT account_hash, reference_id, notification_url, amount_cents, currency, \
             storefront FROM claims WHERE attempt_key = $1 AND provider = $2 AND scope = 'order' \
             AND notification_url IS NOT NULL",
            &args![attempt_key, provider],
        )
        .await?;
    let Some(claim) = claim else {
        return Ok(false);
    };
    let order = OwnedOrder {
        provider: provider.to_owned(),
        order_id: order_id.to_owned(),
        account_hash: claim.get("account_hash")?,
        reference_id: claim
            .get::<Option<String>>("reference_id")?
            .unwrap_or_default(),
        notification_url: claim
            .get::<Option<String>>("notification_url")?
            .unwrap_or_default(),
        amount_cents: claim.get::<Option<i64>>("amount_cents")?.unwrap_or(0),
        currency: claim.get::<Option<String>>("currency")?.unwrap_or_default(),
        storefront: claim.get("storefront")?,
    };
    record_order_in(tx, &order, now_ms).await?;
    // The next owner of an unfinished claim can read this order instead of searching for it.
    tx.execute(
        "UPDATE claims SET object_id = $3 WHERE attempt_key = $1 AND provider = $2 \
         AND scope = 'order' AND object_id IS NULL",
        &args![attempt_key, provider, order_id],
    )
    .await?;
    Ok(true)
}

/// What a notification about the order needs, if the order is in the map.
pub(super) async fn order_context_in(
    tx: &mut dyn Tx,
    provider: &str,
    order_id: &str,
) -> Result<Option<OrderContext>, StoreError> {
    let row = tx
        .fetch_optional(
            "SELECT reference_id, notification_url, amount_cents, currency, payment_status, \
             storefront FROM orders WHERE provider = $1 AND order_id = $2",
            &args![provider, order_id],
        )
        .await?;
    row.map(|row| OrderContext::from_row(&row)).transpose()
}

impl Store {
    /// Where news about a provider order must go: `(reference_id, notification_url)`.
    pub async fn order_target(
        &self,
        provider: &str,
        order_id: &str,
    ) -> Result<Option<(String, String)>, StoreError> {
        let row = sqlx::query(
            "SELECT reference_id, notification_url FROM orders \
             WHERE provider = $1 AND order_id = $2",
        )
        .bind(provider)
        .bind(order_id)
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| {
            Ok((
                column(&row, "reference_id")?,
                column(&row, "notification_url")?,
            ))
        })
        .transpose()
    }
}
