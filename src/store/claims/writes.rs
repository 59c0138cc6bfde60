//! The writes claims are made of, run by `Store::write`. Each that changes one claim compares
//! and sets its `version`, so it does nothing when another request changed the claim first.

use super::{Abandon, ClaimKey, NewClaim};
use crate::store::group_commit::{Write, WriteFuture};
use crate::store::held::{release_in, BuildHeld};
use crate::store::orders::{insert_order, record_order_in, OwnedOrder};
use crate::store::references::{insert_reference_in, OwnedReference};
use crate::store::tx::{args, Arg, Tx};
use crate::store::StoreError;
use std::sync::LazyLock;

#[derive(Debug, Clone)]
pub(super) struct OwnedKey {
    provider: String,
    account_hash: String,
    scope: &'static str,
    key: String,
}

impl OwnedKey {
    pub(super) fn of(key: ClaimKey<'_>) -> Self {
        Self {
            provider: key.provider.to_owned(),
            account_hash: key.account_hash.to_owned(),
            scope: key.scope.as_str(),
            key: key.key.to_owned(),
        }
    }

    /// Runs `sql` on this claim if it is still at `version` (`$1` to `$5` are the key and the
    /// version; `more` follow from `$6`). True when it changed the claim.
    async fn at_version(
        &self,
        tx: &mut dyn Tx,
        version: i64,
        sql: &str,
        more: &[Arg<'_>],
    ) -> Result<bool, StoreError> {
        let key = self.args(version);
        Ok(tx.execute(sql, &[&key[..], more].concat()).await? == 1)
    }

    /// `$1` to `$5`: the key and the version.
    fn args(&self, version: i64) -> [Arg<'_>; 5] {
        args![
            &self.provider,
            &self.account_hash,
            self.scope,
            &self.key,
            version
        ]
    }
}

#[derive(Debug, Clone)]
pub(super) struct OwnedNewClaim {
    fields_json: String,
    attempt_key: String,
    expires_at: i64,
    lease_ms: i64,
    durable: bool,
    reference_id: Option<String>,
    notification_url: Option<String>,
    amount_cents: Option<i64>,
    currency: Option<String>,
    storefront: Option<String>,
}

impl OwnedNewClaim {
    pub(super) fn of(new: &NewClaim<'_>) -> Self {
        Self {
            fields_json: new.fields_json.to_owned(),
            attempt_key: new.attempt_key.to_owned(),
            expires_at: new.expires_at,
            lease_ms: new.lease_ms,
            durable: new.durable,
            reference_id: new.target.map(|t| t.reference_id.as_str().to_owned()),
            notification_url: new.target.map(|t| t.notification_url.to_owned()),
            amount_cents: new.target.map(|t| t.amount.centavos()),
            currency: new.target.map(|t| t.currency.as_str().to_owned()),
            storefront: new.storefront.map(str::to_owned),
        }
    }
}

/// The first step of a claim: take the key if nobody holds it (`replacing: None`), or start
/// afresh a claim whose binding ended (`replacing: Some(version)`, compare-and-set).
pub(super) struct ClaimStart {
    pub(super) key: OwnedKey,
    pub(super) new: OwnedNewClaim,
    pub(super) owner: String,
    pub(super) replacing: Option<i64>,
}

/// A claim's columns and their values (`$16` is the version compared), as `ClaimStart::run`
/// binds them.
const START_COLUMNS: &str = "provider, account_hash, scope, claim_key, fields, attempt_key, \
     attempt_at_ms, version, owner, lease_until_ms, expires_at, reference_id, notification_url, \
     amount_cents, currency, created_at, updated_at, storefront";
const START_VALUES: &str =
    "$1, $2, $3, $4, $5, $6, $7, $16 + 1, $8, $9, $10, $11, $12, $13, $14, $15, $15, $17";
const START_CONFLICT: &str = "ON CONFLICT (provider, account_hash, scope, claim_key) DO NOTHING";
/// A claim started afresh, with the same parameters.
const RESTART_SET: &str = "UPDATE claims SET fields = $5, attempt_key = $6, attempt_at_ms = $7, \
     attempt_note = NULL, version = version + 1, owner = $8, lease_until_ms = $9, \
     expires_at = $10, reference_id = $11, notification_url = $12, amount_cents = $13, \
     currency = $14, object_id = NULL, answer_status = NULL, answer = NULL, updated_at = $15, \
     storefront = $17";
const RESTART_WHERE: &str = "WHERE provider = $1 AND account_hash = $2 AND scope = $3 \
     AND claim_key = $4 AND version = $16";

/// A claim's start and restart as they are, and as their own transaction's statement when it
/// need not be durable (PostgreSQL): `set_config(…, true)` lasts until that transaction ends,
/// and its commit reads it before then, so the commit does not wait for the flush.
static START_STATEMENTS: LazyLock<[String; 4]> = LazyLock::new(|| {
    let not_durable = "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS not_durable";
    [
        format!("INSERT INTO claims ({START_COLUMNS}) VALUES ({START_VALUES}) {START_CONFLICT}"),
        format!("{RESTART_SET} {RESTART_WHERE}"),
        format!(
            "INSERT INTO claims ({START_COLUMNS}) SELECT {START_VALUES} {not_durable} \
             {START_CONFLICT}"
        ),
        format!("{RESTART_SET} {not_durable} {RESTART_WHERE}"),
    ]
});

impl Write for ClaimStart {
    /// True when this request now holds the key.
    type Output = bool;

    fn durable(&self) -> bool {
        self.new.durable
    }

    fn one_statement(&self) -> bool {
        true
    }

    fn says_not_durable(&self) -> bool {
        !self.new.durable
    }

    fn run<'c>(&'c self, tx: &'c mut dyn Tx, now_ms: i64) -> WriteFuture<'c, bool> {
        Box::pin(async move {
            // Inside a group's transaction the flush is the group's, never turned off here.
            let not_durable = !self.new.durable && tx.own_transaction();
            let sql = &START_STATEMENTS
                [usize::from(self.replacing.is_some()) + 2 * usize::from(not_durable)];
            let (k, n) = (&self.key, &self.new);
            let started = tx
                .execute(
                    sql,
                    &args![
                        &k.provider,
                        &k.account_hash,
                        k.scope,
                        &k.key,
                        &n.fields_json,
                        &n.attempt_key,
                        now_ms,
                        &self.owner,
                        now_ms + n.lease_ms,
                        n.expires_at,
                        n.reference_id.as_deref(),
                        n.notification_url.as_deref(),
                        n.amount_cents,
                        n.currency.as_deref(),
                        now_ms / 1000,
                        self.replacing.unwrap_or(0),
                        n.storefront.as_deref(),
                    ],
                )
                .await?;
            Ok(started == 1)
        })
    }
}

/// An open claim whose owner is gone or gave up, taken by this request.
pub(super) struct ClaimTakeOver {
    pub(super) key: OwnedKey,
    pub(super) owner: String,
    pub(super) version: i64,
    pub(super) lease_ms: i64,
    pub(super) durable: bool,
}

impl Write for ClaimTakeOver {
    type Output = bool;

    fn durable(&self) -> bool {
        self.durable
    }

    fn one_statement(&self) -> bool {
        true
    }

    fn run<'c>(&'c self, tx: &'c mut dyn Tx, now_ms: i64) -> WriteFuture<'c, bool> {
        Box::pin(async move {
            self.key
                .at_version(
                    tx,
                    self.version,
                    "UPDATE claims SET version = version + 1, owner = $6, lease_until_ms = $7, \
                     updated_at = $8 WHERE provider = $1 AND account_hash = $2 AND scope = $3 \
                     AND claim_key = $4 AND version = $5 AND answer IS NULL",
                    &args![&self.owner, now_ms + self.lease_ms, now_ms / 1000],
                )
                .await
        })
    }
}

pub(super) struct AttemptBegin {
    pub(super) key: OwnedKey,
    pub(super) version: i64,
    pub(super) lease_ms: i64,
    pub(super) note: Option<String>,
    pub(super) durable: bool,
}

impl Write for AttemptBegin {
    type Output = bool;

    fn durable(&self) -> bool {
        self.durable
    }

    fn one_statement(&self) -> bool {
        true
    }

    fn run<'c>(&'c self, tx: &'c mut dyn Tx, now_ms: i64) -> WriteFuture<'c, bool> {
        Box::pin(async move {
            self.key
                .at_version(
                    tx,
                    self.version,
                    "UPDATE claims SET version = version + 1, attempt_at_ms = $6, \
                     attempt_note = $7, lease_until_ms = $8, updated_at = $9 \
                     WHERE provider = $1 AND account_hash = $2 AND scope = $3 AND claim_key = $4 \
                     AND version = $5 AND answer IS NULL",
                    &args![
                        now_ms,
                        self.note.as_deref(),
                        now_ms + self.lease_ms,
                        now_ms / 1000,
                    ],
                )
                .await
        })
    }
}

pub(super) struct ClaimFinish {
    pub(super) key: OwnedKey,
    pub(super) version: i64,
    pub(super) status: i64,
    pub(super) answer: String,
    pub(super) object_id: Option<String>,
    pub(super) expires_at: Option<i64>,
    pub(super) order: Option<(OwnedOrder, BuildHeld)>,
    pub(super) reference: Option<OwnedReference>,
    pub(super) postgres: bool,
}

/// What ending a claim did.
#[derive(Debug, Clone, Copy)]
pub(super) struct Finished {
    /// False when another request took the claim over first (what was made is recorded).
    pub(super) claim_ended: bool,
    /// Events are held for the order just recorded, and still to be released (`ReleaseHeld`).
    pub(super) held_waiting: bool,
}

impl ClaimFinish {
    /// The claim's compare-and-set (`$1` to `$5`: the key and the version; `$6` to `$10`).
    const END: &'static str = "UPDATE claims SET answer_status = $6, answer = $7, \
         object_id = COALESCE($8, object_id), expires_at = COALESCE($9, expires_at), \
         lease_until_ms = 0, owner = NULL, version = version + 1, updated_at = $10 \
         WHERE provider = $1 AND account_hash = $2 AND scope = $3 AND claim_key = $4 \
         AND version = $5";

    fn end_args(&self, now_ms: i64) -> [Arg<'_>; 5] {
        args![
            self.status,
            &self.answer,
            self.object_id.as_deref(),
            self.expires_at,
            now_ms / 1000,
        ]
    }

    /// On PostgreSQL, an order's record is one statement: the order's insert, the claim's end
    /// (each whatever the other does) and whether events are held for the order. Alone in its
    /// group that is its own transaction, one round trip where `BEGIN`, three statements and
    /// `COMMIT` were five. Held events (rare) are released by the next write, because building
    /// their notifications takes the provider's code; if the process dies between the two,
    /// they are still held, and the sweep releases them.
    async fn record_order_as_one(
        &self,
        tx: &mut dyn Tx,
        order: &OwnedOrder,
        now_ms: i64,
    ) -> Result<Finished, StoreError> {
        let key = self.key.args(self.version);
        let all = [&key[..], &self.end_args(now_ms), &order.args(now_ms)].concat();
        let row = tx
            .fetch_optional(&RECORD_ORDER_AS_ONE, &all)
            .await?
            .ok_or(StoreError::Database(sqlx::Error::RowNotFound))?;
        Ok(Finished {
            claim_ended: row.get::<i64>("ended")? == 1,
            held_waiting: row.get::<i64>("held")? > 0,
        })
    }
}

/// The record of an order as one statement (`ClaimFinish::record_order_as_one`): `$1` to
/// `$10` are the claim's end's, the order's values follow from `$11`.
static RECORD_ORDER_AS_ONE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH recorded AS ({}), ended AS ({} RETURNING version) \
         SELECT (SELECT COUNT(*) FROM ended) AS ended, \
         (SELECT COUNT(*) FROM (SELECT 1 FROM held_events WHERE provider = $11 \
         AND order_id = $12 LIMIT 1) AS one) AS held",
        insert_order(11),
        ClaimFinish::END,
    )
});

impl Write for ClaimFinish {
    type Output = Finished;

    /// On PostgreSQL, without a cash reference: the claim's end alone, or with the order's
    /// record (`record_order_as_one`).
    fn one_statement(&self) -> bool {
        self.postgres && self.reference.is_none()
    }

    fn run<'c>(&'c self, tx: &'c mut dyn Tx, now_ms: i64) -> WriteFuture<'c, Finished> {
        Box::pin(async move {
            if self.one_statement() {
                if let Some((order, _)) = &self.order {
                    return self.record_order_as_one(tx, order, now_ms).await;
                }
            }
            // What was made is ours whoever ends the claim: recorded even if it was taken over.
            if let Some((order, build)) = &self.order {
                record_order_in(tx, order, now_ms).await?;
                release_in(tx, &order.provider, &order.order_id, *build, now_ms).await?;
            }
            if let Some(reference) = &self.reference {
                insert_reference_in(tx, reference, now_ms).await?;
            }
            let claim_ended = self
                .key
                .at_version(tx, self.version, Self::END, &self.end_args(now_ms))
                .await?;
            Ok(Finished {
                claim_ended,
                held_waiting: false,
            })
        })
    }
}

/// Releases the events held for an order its claim's end recorded (`Finished::held_waiting`).
pub(super) struct ReleaseHeld {
    pub(super) provider: String,
    pub(super) order_id: String,
    pub(super) build: BuildHeld,
}

impl Write for ReleaseHeld {
    type Output = usize;

    fn run<'c>(&'c self, tx: &'c mut dyn Tx, now_ms: i64) -> WriteFuture<'c, usize> {
        Box::pin(release_in(
            tx,
            &self.provider,
            &self.order_id,
            self.build,
            now_ms,
        ))
    }
}

pub(super) struct ClaimAbandon {
    pub(super) key: OwnedKey,
    pub(super) version: i64,
    pub(super) outcome: Abandon,
}

impl Write for ClaimAbandon {
    type Output = ();

    fn run<'c>(&'c self, tx: &'c mut dyn Tx, now_ms: i64) -> WriteFuture<'c, ()> {
        Box::pin(async move {
            match self.outcome {
                Abandon::NothingDone => {
                    self.key
                        .at_version(
                            tx,
                            self.version,
                            "DELETE FROM claims WHERE provider = $1 AND account_hash = $2 \
                             AND scope = $3 AND claim_key = $4 AND version = $5 \
                             AND answer IS NULL",
                            &[],
                        )
                        .await?;
                }
                Abandon::Unknown => {
                    self.key
                        .at_version(
                            tx,
                            self.version,
                            "UPDATE claims SET lease_until_ms = 0, owner = NULL, \
                             version = version + 1, updated_at = $6 WHERE provider = $1 \
                             AND account_hash = $2 AND scope = $3 AND claim_key = $4 \
                             AND version = $5",
                            &args![now_ms / 1000],
                        )
                        .await?;
                }
            }
            Ok(())
        })
    }
}

pub(super) struct LeasesVoid;

impl Write for LeasesVoid {
    type Output = u64;

    fn run<'c>(&'c self, tx: &'c mut dyn Tx, _now_ms: i64) -> WriteFuture<'c, u64> {
        Box::pin(async move {
            tx.execute(
                "UPDATE claims SET lease_until_ms = 0, owner = NULL \
                 WHERE answer IS NULL AND lease_until_ms > 0",
                &[],
            )
            .await
        })
    }
}

/// At most `$2` of the claims that expired before `$1`, the oldest, found through
/// `claims_by_expiry` (its migration says why) and deleted by key. Bounded: ten minutes of
/// creates ended at once, deleted in one statement, held the writer for seconds (60,000 claims:
/// 3.2 s on SQLite, every create and event waiting behind it; BENCHMARKS.md, "2026-12-07
/// afternoon").
pub(super) const PURGE_EXPIRED: &str = "DELETE FROM claims \
     WHERE (provider, account_hash, scope, claim_key) IN (SELECT provider, account_hash, scope, \
     claim_key FROM claims WHERE expires_at < $1 ORDER BY expires_at LIMIT $2)";

pub(super) struct ClaimsPurge {
    pub(super) before: i64,
    pub(super) limit: i64,
}

impl Write for ClaimsPurge {
    type Output = u64;

    /// A purge lost in a power cut loses nothing: the next one deletes the same claims.
    fn durable(&self) -> bool {
        false
    }

    fn run<'c>(&'c self, tx: &'c mut dyn Tx, _now_ms: i64) -> WriteFuture<'c, u64> {
        Box::pin(async move {
            tx.execute(PURGE_EXPIRED, &args![self.before, self.limit])
                .await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::PURGE_EXPIRED;
    use crate::store::sqlite_plans::{assert_no_scan_of, plan_on_empty_store};

    /// The purge finds expired claims through `claims_by_expiry`, not by reading every claim,
    /// and deletes each by its key.
    #[tokio::test]
    async fn the_purge_reads_only_expired_claims_on_sqlite() {
        let plan = plan_on_empty_store(PURGE_EXPIRED).await;
        assert_no_scan_of("claims", &plan);
        for step in [
            "SEARCH claims USING INDEX claims_by_expiry (expires_at<?)",
            "SEARCH claims USING COVERING INDEX sqlite_autoindex_claims_1 \
             (provider=? AND account_hash=? AND scope=? AND claim_key=?)",
        ] {
            assert!(plan.iter().any(|s| s == step), "{step}: {plan:#?}");
        }
    }
}
