//! Idempotency records for creates, and the map from provider order to storefront.
//!
//! Every step is a single statement guarded by `version` (compare-and-set), so several replicas
//! on one PostgreSQL agree on who calls the provider without holding a transaction open
//! across that call.

use super::group_commit::{Write, WriteFuture};
use super::tx::{args, Tx};
use super::{column, Store, StoreError};
use crate::clock;

/// Which create a record is about.
#[derive(Debug, Clone, Copy)]
pub struct CreateKey<'a> {
    pub provider: &'a str,
    pub account_hash: &'a str,
    pub reference_id: &'a str,
}

/// What a new create would record.
#[derive(Debug, Clone)]
pub struct NewCreate<'a> {
    pub fingerprint: &'a str,
    pub fields_json: &'a str,
    /// Used if this request ends up owning a fresh attempt.
    pub idempotency_key: &'a str,
    /// Unix seconds; until then an identical create answers from the record.
    pub expires_at: i64,
    /// How long the owner may take before another request may take over.
    pub lease_ms: i64,
    /// The provider takes the money when the order is created (a card charge): the claim must
    /// be on disk before the call, or a power cut could let a retry charge twice. A checkout's
    /// claim need not: losing it can only leave an unpaid checkout nobody was shown.
    pub claim_must_sync: bool,
}

/// What the caller must do after claiming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateClaim {
    /// Call the provider, then report with `complete`, `release` or `forget`.
    Owned {
        version: i64,
        idempotency_key: String,
    },
    /// The same create already succeeded: answer with this.
    Stored { response: String },
    /// The same reference was created with other fields (JSON of those fields).
    Differs { stored_fields_json: String },
    /// Another request is creating it right now.
    InFlight,
}

/// The order a successful create produced.
#[derive(Debug, Clone)]
pub struct OrderRecord<'a> {
    pub order_id: &'a str,
    pub notification_url: &'a str,
    pub amount_cents: i64,
    pub currency: &'a str,
    pub response: &'a str,
    pub expires_at: i64,
}

/// How an owned attempt ended when it did not produce an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CreateOutcome {
    /// The provider certainly made nothing (it refused, or was never reached): free the reference.
    NothingCreated,
    /// The provider may have made an order (timeout, 5xx): keep the binding and its
    /// idempotency key, so a retry of the same request reuses them.
    Unknown,
}

const CLAIM_ATTEMPTS: usize = 5;

impl Store {
    pub async fn claim_create(
        &self,
        key: CreateKey<'_>,
        new: &NewCreate<'_>,
    ) -> Result<CreateClaim, StoreError> {
        for _ in 0..CLAIM_ATTEMPTS {
            let now_ms = clock::unix_ms();
            let inserted = self
                .write(ClaimInsert {
                    provider: key.provider.to_owned(),
                    account_hash: key.account_hash.to_owned(),
                    reference_id: key.reference_id.to_owned(),
                    fingerprint: new.fingerprint.to_owned(),
                    fields_json: new.fields_json.to_owned(),
                    idempotency_key: new.idempotency_key.to_owned(),
                    lease_ms: new.lease_ms,
                    expires_at: new.expires_at,
                    durable: new.claim_must_sync,
                })
                .await?;
            if inserted {
                return Ok(CreateClaim::Owned {
                    version: 1,
                    idempotency_key: new.idempotency_key.to_owned(),
                });
            }

            let row = sqlx::query(
                "SELECT fingerprint, fields, idempotency_key, version, lease_until_ms, expires_at, \
                 response FROM create_records \
                 WHERE provider = $1 AND account_hash = $2 AND reference_id = $3",
            )
            .bind(key.provider)
            .bind(key.account_hash)
            .bind(key.reference_id)
            .fetch_optional(self.pool())
            .await?;
            // Deleted between our insert and select: try the insert again.
            let Some(row) = row else { continue };
            let version: i64 = column(&row, "version")?;
            let expires_at: i64 = column(&row, "expires_at")?;

            if expires_at <= now_ms / 1000 {
                // The earlier checkout has closed: the reference is free for this request.
                let replaced = self.replace_record(key, new, version, now_ms).await?;
                if replaced {
                    return Ok(CreateClaim::Owned {
                        version: version + 1,
                        idempotency_key: new.idempotency_key.to_owned(),
                    });
                }
                continue;
            }
            let fingerprint: String = column(&row, "fingerprint")?;
            if fingerprint != new.fingerprint {
                return Ok(CreateClaim::Differs {
                    stored_fields_json: column(&row, "fields")?,
                });
            }
            if let Some(response) = column::<Option<String>>(&row, "response")? {
                return Ok(CreateClaim::Stored { response });
            }
            let lease_until_ms: i64 = column(&row, "lease_until_ms")?;
            if lease_until_ms > now_ms {
                return Ok(CreateClaim::InFlight);
            }
            // An earlier attempt ended without a known outcome: retry it with its own key.
            if self.set_lease(key, version, now_ms + new.lease_ms).await? {
                return Ok(CreateClaim::Owned {
                    version: version + 1,
                    idempotency_key: column(&row, "idempotency_key")?,
                });
            }
        }
        Ok(CreateClaim::InFlight)
    }

    async fn replace_record(
        &self,
        key: CreateKey<'_>,
        new: &NewCreate<'_>,
        version: i64,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let _turn = self.write_turn().await;
        let replaced = sqlx::query(
            "UPDATE create_records SET fingerprint = $5, fields = $6, idempotency_key = $7, \
             version = version + 1, lease_until_ms = $8, expires_at = $9, order_id = NULL, \
             response = NULL, updated_at = $10 \
             WHERE provider = $1 AND account_hash = $2 AND reference_id = $3 AND version = $4",
        )
        .bind(key.provider)
        .bind(key.account_hash)
        .bind(key.reference_id)
        .bind(version)
        .bind(new.fingerprint)
        .bind(new.fields_json)
        .bind(new.idempotency_key)
        .bind(now_ms + new.lease_ms)
        .bind(new.expires_at)
        .bind(now_ms / 1000)
        .execute(self.pool())
        .await?;
        Ok(replaced.rows_affected() == 1)
    }

    /// Sets who may call the provider until when (0: nobody), if the version still matches.
    async fn set_lease(
        &self,
        key: CreateKey<'_>,
        version: i64,
        until_ms: i64,
    ) -> Result<bool, StoreError> {
        let _turn = self.write_turn().await;
        let done = sqlx::query(
            "UPDATE create_records SET lease_until_ms = $5, version = version + 1, updated_at = $6 \
             WHERE provider = $1 AND account_hash = $2 AND reference_id = $3 AND version = $4",
        )
        .bind(key.provider)
        .bind(key.account_hash)
        .bind(key.reference_id)
        .bind(version)
        .bind(until_ms)
        .bind(clock::unix_s())
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records the order and answers future identical creates with it, in one transaction
    /// (group-committed on SQLite).
    pub async fn complete_create(
        &self,
        key: CreateKey<'_>,
        version: i64,
        order: &OrderRecord<'_>,
    ) -> Result<(), StoreError> {
        self.write(Completion {
            provider: key.provider.to_owned(),
            account_hash: key.account_hash.to_owned(),
            reference_id: key.reference_id.to_owned(),
            version,
            order_id: order.order_id.to_owned(),
            notification_url: order.notification_url.to_owned(),
            amount_cents: order.amount_cents,
            currency: order.currency.to_owned(),
            response: order.response.to_owned(),
            expires_at: order.expires_at,
        })
        .await
    }

    /// Ends an owned attempt that produced no order.
    pub async fn abandon_create(
        &self,
        key: CreateKey<'_>,
        version: i64,
        outcome: CreateOutcome,
    ) -> Result<(), StoreError> {
        match outcome {
            CreateOutcome::Unknown => {
                self.set_lease(key, version, 0).await?;
            }
            CreateOutcome::NothingCreated => {
                let _turn = self.write_turn().await;
                sqlx::query(
                    "DELETE FROM create_records WHERE provider = $1 AND account_hash = $2 \
                     AND reference_id = $3 AND version = $4 AND response IS NULL",
                )
                .bind(key.provider)
                .bind(key.account_hash)
                .bind(key.reference_id)
                .bind(version)
                .execute(self.pool())
                .await?;
            }
        }
        Ok(())
    }

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

/// The first step of a claim: take the reference if nobody holds it.
struct ClaimInsert {
    provider: String,
    account_hash: String,
    reference_id: String,
    fingerprint: String,
    fields_json: String,
    idempotency_key: String,
    lease_ms: i64,
    expires_at: i64,
    durable: bool,
}

impl Write for ClaimInsert {
    /// True when this request now holds the reference.
    type Output = bool;

    fn durable(&self) -> bool {
        self.durable
    }

    fn run<'c>(&'c self, tx: &'c mut dyn Tx, now_ms: i64) -> WriteFuture<'c, bool> {
        Box::pin(async move {
            let inserted = tx
                .execute(
                    "INSERT INTO create_records (provider, account_hash, reference_id, fingerprint, \
                     fields, idempotency_key, version, lease_until_ms, expires_at, created_at, \
                     updated_at) VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $9, $9) \
                     ON CONFLICT (provider, account_hash, reference_id) DO NOTHING",
                    &args![
                        &self.provider,
                        &self.account_hash,
                        &self.reference_id,
                        &self.fingerprint,
                        &self.fields_json,
                        &self.idempotency_key,
                        now_ms + self.lease_ms,
                        self.expires_at,
                        now_ms / 1000,
                    ],
                )
                .await?;
            Ok(inserted == 1)
        })
    }
}

/// The last step of a create that produced an order.
struct Completion {
    provider: String,
    account_hash: String,
    reference_id: String,
    version: i64,
    order_id: String,
    notification_url: String,
    amount_cents: i64,
    currency: String,
    response: String,
    expires_at: i64,
}

impl Write for Completion {
    type Output = ();

    fn run<'c>(&'c self, tx: &'c mut dyn Tx, now_ms: i64) -> WriteFuture<'c, ()> {
        Box::pin(async move {
            let now = now_ms / 1000;
            tx.execute(
                "INSERT INTO orders (provider, order_id, account_hash, reference_id, \
                 notification_url, amount_cents, currency, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (provider, order_id) DO NOTHING",
                &args![
                    &self.provider,
                    &self.order_id,
                    &self.account_hash,
                    &self.reference_id,
                    &self.notification_url,
                    self.amount_cents,
                    &self.currency,
                    now,
                ],
            )
            .await?;
            // If another request took the lease over meanwhile, its result will be recorded by it;
            // the order map above is kept either way.
            tx.execute(
                "UPDATE create_records SET order_id = $5, response = $6, expires_at = $7, \
                 lease_until_ms = 0, version = version + 1, updated_at = $8 \
                 WHERE provider = $1 AND account_hash = $2 AND reference_id = $3 AND version = $4",
                &args![
                    &self.provider,
                    &self.account_hash,
                    &self.reference_id,
                    self.version,
                    &self.order_id,
                    &self.response,
                    self.expires_at,
                    now,
                ],
            )
            .await?;
            Ok(())
        })
    }
}
