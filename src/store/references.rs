//! Reusable cash references and how Conekta's questions about them are answered.

use super::group_commit::{Write, WriteFuture};
use super::tx::{args, Tx};
use super::{column, Store, StoreError};
use crate::domain::{Amount, Centavos, ReferenceId};
use sqlx::any::AnyRow;
use std::sync::LazyLock;

#[derive(Debug, Clone)]
pub struct NewReference<'a> {
    pub provider: &'a str,
    pub account_hash: &'a str,
    pub reference_id: &'a ReferenceId,
    pub customer_id: &'a str,
    pub payment_source_id: &'a str,
    pub reference: &'a str,
    pub notification_url: &'a str,
    pub approval_url: Option<&'a str>,
    /// What a single payment may be, at least and at most.
    pub min: Amount,
    pub max: Amount,
    pub expires_at: i64,
    pub fields_json: &'a str,
    pub answer: &'a str,
    /// The storefront it belongs to (`None`: single-storefront mode).
    pub storefront: Option<&'a str>,
}

#[derive(Debug, Clone)]
pub struct StoredReference {
    pub reference_id: ReferenceId,
    pub customer_id: String,
    pub reference: String,
    pub notification_url: String,
    pub approval_url: Option<String>,
    pub min: Centavos,
    pub max: Centavos,
    pub expires_at: i64,
    pub active: bool,
    pub fields_json: String,
    pub answer: String,
    pub storefront: Option<String>,
}

const COLUMNS: &str = "reference_id, customer_id, reference, notification_url, approval_url, \
                       min_cents, max_cents, expires_at, active, fields, answer, storefront";

/// The same, owned, to travel to the group-commit writer.
#[derive(Debug, Clone)]
pub(super) struct OwnedReference {
    provider: String,
    account_hash: String,
    reference_id: String,
    customer_id: String,
    payment_source_id: String,
    reference: String,
    notification_url: String,
    approval_url: Option<String>,
    min_cents: i64,
    max_cents: i64,
    expires_at: i64,
    fields_json: String,
    answer: String,
    storefront: Option<String>,
}

impl OwnedReference {
    pub fn of(new: &NewReference<'_>) -> Self {
        Self {
            provider: new.provider.to_owned(),
            account_hash: new.account_hash.to_owned(),
            reference_id: new.reference_id.as_str().to_owned(),
            customer_id: new.customer_id.to_owned(),
            payment_source_id: new.payment_source_id.to_owned(),
            reference: new.reference.to_owned(),
            notification_url: new.notification_url.to_owned(),
            approval_url: new.approval_url.map(str::to_owned),
            min_cents: new.min.centavos(),
            max_cents: new.max.centavos(),
            expires_at: new.expires_at,
            fields_json: new.fields_json.to_owned(),
            answer: new.answer.to_owned(),
            storefront: new.storefront.map(str::to_owned),
        }
    }
}

/// Records a reference (its claim, in the same transaction, holds the storefront's answer).
pub(super) async fn insert_reference_in(
    tx: &mut dyn Tx,
    new: &OwnedReference,
    now_ms: i64,
) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO payment_references (provider, account_hash, reference_id, customer_id, \
         payment_source_id, reference, notification_url, approval_url, min_cents, max_cents, \
         expires_at, fields, answer, created_at, storefront) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
         ON CONFLICT (provider, account_hash, reference_id) DO NOTHING",
        &args![
            &new.provider,
            &new.account_hash,
            &new.reference_id,
            &new.customer_id,
            &new.payment_source_id,
            &new.reference,
            &new.notification_url,
            new.approval_url.as_deref(),
            new.min_cents,
            new.max_cents,
            new.expires_at,
            &new.fields_json,
            &new.answer,
            now_ms / 1000,
            new.storefront.as_deref(),
        ],
    )
    .await?;
    Ok(())
}

/// A provider's newest reference with a number (`$1`, `$2`). One statement for both lookups
/// (`reference = $2 OR ($2 = '' AND customer_id = …)`) could use neither index: SQLite read every
/// reference of the provider and sorted them, on each question from Conekta and each payment on
/// a reference.
static BY_NUMBER: LazyLock<String> = LazyLock::new(|| newest_where("reference = $2"));
/// A provider's newest reference of a customer (`$1`, `$2`).
static BY_CUSTOMER: LazyLock<String> = LazyLock::new(|| newest_where("customer_id = $2"));

fn newest_where(condition: &str) -> String {
    format!(
        "SELECT {COLUMNS} FROM payment_references WHERE provider = $1 AND {condition} \
         ORDER BY created_at DESC LIMIT 1"
    )
}

impl Store {
    /// The reference a payment is about: by its number, else by its customer.
    pub async fn find_reference(
        &self,
        provider: &str,
        reference: Option<&str>,
        customer_id: Option<&str>,
    ) -> Result<Option<StoredReference>, StoreError> {
        let (sql, key) = match reference.filter(|number| !number.is_empty()) {
            Some(number) => (&*BY_NUMBER, number),
            None => (&*BY_CUSTOMER, customer_id.unwrap_or("")),
        };
        let row = sqlx::query(sql.as_str())
            .bind(provider)
            .bind(key)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(stored).transpose()
    }

    /// Marks a customer's references inactive (its Conekta customer is gone); returns how many.
    pub async fn deactivate_references(
        &self,
        provider: &str,
        customer_id: &str,
    ) -> Result<u64, StoreError> {
        self.write(Deactivate {
            provider: provider.to_owned(),
            customer_id: customer_id.to_owned(),
        })
        .await
    }
}

/// A customer's references, marked inactive.
struct Deactivate {
    provider: String,
    customer_id: String,
}

impl Write for Deactivate {
    type Output = u64;

    fn run<'c>(&'c self, tx: &'c mut dyn Tx, _now_ms: i64) -> WriteFuture<'c, u64> {
        Box::pin(async move {
            tx.execute(
                "UPDATE payment_references SET active = 0 WHERE provider = $1 \
                 AND customer_id = $2",
                &args![&self.provider, &self.customer_id],
            )
            .await
        })
    }
}

fn stored(row: &AnyRow) -> Result<StoredReference, StoreError> {
    Ok(StoredReference {
        reference_id: ReferenceId::stored(column(row, "reference_id")?),
        customer_id: column(row, "customer_id")?,
        reference: column(row, "reference")?,
        notification_url: column(row, "notification_url")?,
        approval_url: column(row, "approval_url")?,
        min: Centavos(column(row, "min_cents")?),
        max: Centavos(column(row, "max_cents")?),
        expires_at: column(row, "expires_at")?,
        active: column::<i64>(row, "active")? != 0,
        fields_json: column(row, "fields")?,
        answer: column(row, "answer")?,
        storefront: column(row, "storefront")?,
    })
}

#[cfg(test)]
mod tests {
    use super::{BY_CUSTOMER, BY_NUMBER};
    use crate::store::sqlite_plans::{assert_no_scan_of, plan_on_empty_store};

    /// A reference is found by its number, or its customer's, through their indexes: never by
    /// reading every reference of the provider.
    #[tokio::test]
    async fn a_reference_is_looked_up_through_its_index_on_sqlite() {
        for (sql, index) in [
            (
                &*BY_NUMBER,
                "payment_references_by_number (provider=? AND reference=?)",
            ),
            (
                &*BY_CUSTOMER,
                "payment_references_by_customer (provider=? AND customer_id=?)",
            ),
        ] {
            let plan = plan_on_empty_store(sql).await;
            assert_no_scan_of("payment_references", &plan);
            assert!(plan.iter().any(|step| step.contains(index)), "{plan:#?}");
        }
    }
}
