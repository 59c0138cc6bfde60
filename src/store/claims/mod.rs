//! Claims: the record that makes an operation happen at the provider at most once, whatever
//! times out, crashes or runs twice. A request claims its operation before calling the
//! provider; the claim names an attempt key that goes into the provider object's metadata, so
//! an attempt whose outcome is unknown can be found again; the claim ends with the answer
//! (kept for repeats), or is dropped when the provider certainly made nothing.
//!
//! Every change is one statement guarded by `version` (compare-and-set), so replicas on one
//! PostgreSQL agree on who calls the provider without holding a transaction across the call.
//! A claim is held by a lease and names its owner process; a lease whose owner stopped beating
//! (`instances.rs`) is void at once, so a retry after a crash does not wait the lease out.

mod writes;

use super::held::BuildHeld;
use super::instances::OWNER_SILENCE_MS;
use super::orders::{OrderRecord, OwnedOrder};
use super::references::{NewReference, OwnedReference};
use super::{column, Backend, Store, StoreError};
use crate::clock;
use crate::domain::{Amount, Currency, ReferenceId};
use writes::{
    AttemptBegin, ClaimAbandon, ClaimFinish, ClaimStart, ClaimTakeOver, ClaimsPurge, LeasesVoid,
    OwnedKey, OwnedNewClaim, ReleaseHeld,
};

/// What kind of operation a claim guards; each has its own namespace of keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimScope {
    /// An order (create, charge, split), by the storefront's `reference_id`.
    Order,
    /// A reusable cash reference, by the storefront's `reference_id`.
    Reference,
    /// Any request carrying an `Idempotency-Key`, by that key.
    Request,
}

impl ClaimScope {
    pub fn as_str(self) -> &'static str {
        match self {
            ClaimScope::Order => "order",
            ClaimScope::Reference => "reference",
            ClaimScope::Request => "request",
        }
    }
}

/// Which operation a claim is about.
#[derive(Debug, Clone, Copy)]
pub struct ClaimKey<'a> {
    pub provider: &'a str,
    pub account_hash: &'a str,
    pub scope: ClaimScope,
    pub key: &'a str,
}

/// Where news of an order goes, known before the provider answers: an event that comes first
/// can then be tied to its storefront (`adopt`).
#[derive(Debug, Clone, Copy)]
pub struct ClaimTarget<'a> {
    pub reference_id: &'a ReferenceId,
    pub notification_url: &'a str,
    pub amount: Amount,
    pub currency: &'a Currency,
}

/// What a new claim records.
#[derive(Debug, Clone, Copy)]
pub struct NewClaim<'a> {
    /// The request's identity as JSON text: a repeat is the same request when it is equal.
    pub fields_json: &'a str,
    /// Used if this request ends up starting a fresh claim.
    pub attempt_key: &'a str,
    /// Unix seconds; until then a repeat is answered from the claim.
    pub expires_at: i64,
    /// How long the owner may work before another request may take over.
    pub lease_ms: i64,
    /// The same, when this request takes over an unfinished claim: it first looks for what
    /// the earlier attempt made, which may take several calls.
    pub takeover_lease_ms: i64,
    /// The provider moves money when called (a card charge, a refund): the claim must be on
    /// disk before the call, or a power cut could let a retry act twice. A checkout's claim
    /// need not be: losing it can only leave an unpaid checkout nobody was shown.
    pub durable: bool,
    pub target: Option<ClaimTarget<'a>>,
    /// The storefront the operation belongs to (`None`: single-storefront mode).
    pub storefront: Option<&'a str>,
}

/// What the caller must do after claiming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This request acts; it ends the claim with `finish_claim` or `abandon_claim`.
    Owned(OwnedClaim),
    /// The same operation already ended: answer with this.
    Answered { status: u16, body: String },
    /// The same key was claimed by a request with other fields (JSON of those fields).
    Differs { stored_fields_json: String },
    /// Another live request is acting on it right now.
    InFlight,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnedClaim {
    pub version: i64,
    pub attempt_key: String,
    /// Set when an earlier attempt ended without a known outcome (a timeout, a 5xx, a crash):
    /// what it made must be found before the provider is called again.
    pub earlier: Option<EarlierAttempt>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlierAttempt {
    pub started_at_ms: i64,
    /// The object it made, when an event already told (see `adopt`).
    pub object_id: Option<String>,
    /// What its caller saw before calling (`begin_attempt`).
    pub note: Option<String>,
}

/// How an owned attempt ended without a final answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Abandon {
    /// The provider certainly did nothing (it refused, or was never reached): the key is free.
    NothingDone,
    /// The provider may have acted: the claim stays, and the next owner looks first.
    Unknown,
}

/// The final answer of an owned claim, with what it made.
#[derive(Debug, Clone)]
pub struct Finish<'a> {
    pub status: u16,
    pub answer: &'a str,
    pub object_id: Option<&'a str>,
    /// A new end of the binding (a checkout's own expiry), if the answer says one.
    pub expires_at: Option<i64>,
    /// The order made: recorded in the order map, and events held for it become notifications.
    pub order: Option<(OrderRecord<'a>, BuildHeld)>,
    /// The cash reference made: recorded for the questions Conekta asks about it.
    pub reference: Option<NewReference<'a>>,
}

/// How often a claim is tried before its caller is told it is in flight; each try loses only
/// to a concurrent change of the same row.
const CLAIM_ATTEMPTS: usize = 5;

impl Store {
    /// Claims an operation for this request, or says why not.
    pub async fn claim(&self, key: ClaimKey<'_>, new: &NewClaim<'_>) -> Result<Claim, StoreError> {
        for _ in 0..CLAIM_ATTEMPTS {
            let inserted = self
                .write(ClaimStart {
                    key: OwnedKey::of(key),
                    new: OwnedNewClaim::of(new),
                    owner: self.instance().to_owned(),
                    replacing: None,
                })
                .await?;
            if inserted {
                return Ok(Claim::Owned(OwnedClaim {
                    version: 1,
                    attempt_key: new.attempt_key.to_owned(),
                    earlier: None,
                }));
            }
            let row = sqlx::query(
                "SELECT c.fields, c.attempt_key, c.attempt_at_ms, c.attempt_note, c.version, \
                 c.owner, c.lease_until_ms, c.expires_at, c.object_id, c.answer_status, c.answer, \
                 i.heartbeat_ms FROM claims c LEFT JOIN instances i ON i.id = c.owner \
                 WHERE c.provider = $1 AND c.account_hash = $2 AND c.scope = $3 \
                 AND c.claim_key = $4",
            )
            .bind(key.provider)
            .bind(key.account_hash)
            .bind(key.scope.as_str())
            .bind(key.key)
            .fetch_optional(self.pool())
            .await?;
            // Deleted between our insert and select: try the insert again.
            let Some(row) = row else { continue };
            let now_ms = clock::unix_ms();
            let version: i64 = column(&row, "version")?;
            if column::<i64>(&row, "expires_at")? <= now_ms / 1000 {
                // The earlier binding is over: the key is free for this request.
                let replaced = self
                    .write(ClaimStart {
                        key: OwnedKey::of(key),
                        new: OwnedNewClaim::of(new),
                        owner: self.instance().to_owned(),
                        replacing: Some(version),
                    })
                    .await?;
                if replaced {
                    return Ok(Claim::Owned(OwnedClaim {
                        version: version + 1,
                        attempt_key: new.attempt_key.to_owned(),
                        earlier: None,
                    }));
                }
                continue;
            }
            let stored_fields: String = column(&row, "fields")?;
            if stored_fields != new.fields_json {
                return Ok(Claim::Differs {
                    stored_fields_json: stored_fields,
                });
            }
            if let Some(body) = column::<Option<String>>(&row, "answer")? {
                let status = column::<Option<i64>>(&row, "answer_status")?.unwrap_or(200);
                return Ok(Claim::Answered {
                    status: u16::try_from(status).unwrap_or(200),
                    body,
                });
            }
            let lease_until_ms: i64 = column(&row, "lease_until_ms")?;
            let owner: Option<String> = column(&row, "owner")?;
            let heartbeat_ms: Option<i64> = column(&row, "heartbeat_ms")?;
            if lease_until_ms > now_ms && self.owner_alive(owner.as_deref(), heartbeat_ms, now_ms) {
                return Ok(Claim::InFlight);
            }
            // The earlier attempt ended without a known outcome, or its owner died.
            let taken = self
                .write(ClaimTakeOver {
                    key: OwnedKey::of(key),
                    owner: self.instance().to_owned(),
                    version,
                    lease_ms: new.takeover_lease_ms,
                    durable: new.durable,
                })
                .await?;
            if taken {
                return Ok(Claim::Owned(OwnedClaim {
                    version: version + 1,
                    attempt_key: column(&row, "attempt_key")?,
                    earlier: Some(EarlierAttempt {
                        started_at_ms: column(&row, "attempt_at_ms")?,
                        object_id: column(&row, "object_id")?,
                        note: column(&row, "attempt_note")?,
                    }),
                }));
            }
        }
        Ok(Claim::InFlight)
    }

    /// A lease held by `owner` counts while that process still beats (or is this one).
    fn owner_alive(&self, owner: Option<&str>, heartbeat_ms: Option<i64>, now_ms: i64) -> bool {
        match owner {
            // Claims made before owners were recorded: the lease alone decides.
            None => true,
            Some(owner) if owner == self.instance() => true,
            Some(_) => heartbeat_ms.is_some_and(|beat| beat > now_ms - OWNER_SILENCE_MS),
        }
    }

    /// Records that the owner is about to call the provider (again): the attempt's start, what
    /// the owner saw first (`note`), and a fresh lease. The claim's new version, or `None` if
    /// another request took the claim over meanwhile (then it must not call).
    pub async fn begin_attempt(
        &self,
        key: ClaimKey<'_>,
        version: i64,
        lease_ms: i64,
        note: Option<&str>,
        durable: bool,
    ) -> Result<Option<i64>, StoreError> {
        let begun = self
            .write(AttemptBegin {
                key: OwnedKey::of(key),
                version,
                lease_ms,
                note: note.map(str::to_owned),
                durable,
            })
            .await?;
        Ok(begun.then_some(version + 1))
    }

    /// Ends an owned claim with its answer, in one transaction with what it made. False if
    /// another request took the claim over meanwhile (what was made is recorded either way).
    pub async fn finish_claim(
        &self,
        key: ClaimKey<'_>,
        version: i64,
        finish: &Finish<'_>,
    ) -> Result<bool, StoreError> {
        let finished = self
            .write(ClaimFinish {
                key: OwnedKey::of(key),
                version,
                status: i64::from(finish.status),
                answer: finish.answer.to_owned(),
                object_id: finish.object_id.map(str::to_owned),
                expires_at: finish.expires_at,
                order: finish
                    .order
                    .as_ref()
                    .map(|(order, build)| (OwnedOrder::of(key.provider, order), *build)),
                reference: finish.reference.as_ref().map(OwnedReference::of),
                postgres: self.backend() == Backend::Postgres,
            })
            .await?;
        if let (true, Some((order, build))) = (finished.held_waiting, &finish.order) {
            // The claim's end and the order are recorded: the answer stands, and events this
            // write could not release stay held for the sweep.
            let release = ReleaseHeld {
                provider: key.provider.to_owned(),
                order_id: order.order_id.to_owned(),
                build: *build,
            };
            if let Err(error) = self.write(release).await {
                tracing::warn!(%error, "held events left to the sweep");
            }
        }
        Ok(finished.claim_ended)
    }

    /// Ends an owned claim that produced no final answer.
    pub async fn abandon_claim(
        &self,
        key: ClaimKey<'_>,
        version: i64,
        outcome: Abandon,
    ) -> Result<(), StoreError> {
        self.write(ClaimAbandon {
            key: OwnedKey::of(key),
            version,
            outcome,
        })
        .await
    }

    /// Voids every lease on claims (SQLite, at start: its one process is this one, so any
    /// lease left is a dead run's).
    pub async fn release_claim_leases(&self) -> Result<u64, StoreError> {
        self.write(LeasesVoid).await
    }

    /// Drops claims whose binding ended before `before` (Unix s), in batches
    /// (`delete_in_batches`); how many.
    pub async fn purge_claims(&self, before: i64) -> Result<u64, StoreError> {
        self.delete_in_batches(|limit| ClaimsPurge { before, limit })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::events::{NewDelivery, OrderContext};
    use crate::store::held::HeldEvent;
    use writes::ClaimStart;

    fn no_notification(_: &OrderContext, _: &HeldEvent) -> Option<NewDelivery> {
        None
    }

    /// A claim as a checkout's create makes it: not durable.
    fn checkout_claim() -> NewClaim<'static> {
        NewClaim {
            fields_json: "{}",
            attempt_key: "attempt-1",
            expires_at: clock::unix_s() + 3_600,
            lease_ms: 60_000,
            takeover_lease_ms: 60_000,
            durable: false,
            target: None,
            storefront: None,
        }
    }

    /// Ends a claim twice, first at a version another request already moved past: the order is
    /// recorded by both (it was made, whoever ends the claim), the claim ends only once.
    async fn an_order_is_recorded_even_by_a_claim_taken_over(store: Store) {
        let key = ClaimKey {
            provider: "conekta",
            account_hash: "acct",
            scope: ClaimScope::Order,
            key: "ref-1",
        };
        let reference_id = ReferenceId::parse(&"ref-1".into()).unwrap();
        let currency = Currency::parse(&"MXN".into()).unwrap();
        let new = checkout_claim();
        let Claim::Owned(owned) = store.claim(key, &new).await.unwrap() else {
            panic!("a fresh key is owned");
        };
        let order = |order_id| OrderRecord {
            order_id,
            account_hash: "acct",
            reference_id: &reference_id,
            notification_url: "https://shop.example/n",
            amount: Amount::from_decimal_pesos(rust_decimal::Decimal::new(20015, 2)).unwrap(),
            currency: &currency,
            storefront: None,
        };
        let finish = |order_id| Finish {
            status: 200,
            answer: "{}",
            object_id: Some(order_id),
            expires_at: None,
            order: Some((order(order_id), no_notification as BuildHeld)),
            reference: None,
        };
        let stale = store
            .finish_claim(key, owned.version + 1, &finish("ord_stale"))
            .await
            .unwrap();
        assert!(!stale, "a claim at another version is not ended");
        assert!(store
            .order_target("conekta", "ord_stale")
            .await
            .unwrap()
            .is_some());
        let ended = store
            .finish_claim(key, owned.version, &finish("ord_owned"))
            .await
            .unwrap();
        assert!(ended);
        assert!(store
            .order_target("conekta", "ord_owned")
            .await
            .unwrap()
            .is_some());
        let again = store.claim(key, &new).await.unwrap();
        assert_eq!(
            again,
            Claim::Answered {
                status: 200,
                body: "{}".to_owned()
            }
        );
        store.close().await;
    }

    async fn flush(conn: &mut sqlx::AnyConnection) -> String {
        sqlx::query_scalar("SELECT current_setting('synchronous_commit')")
            .fetch_one(conn)
            .await
            .unwrap()
    }

    /// A claim that need not be durable turns the flush off only when its statement is its own
    /// transaction: inside a group's, the group's durable writes keep theirs.
    #[tokio::test]
    async fn a_claim_turns_the_flush_off_only_in_a_transaction_of_its_own() {
        use crate::store::group_commit::Write;
        use crate::store::tx::OwnTransaction;
        use sqlx::{Connection, Executor};
        let (store, url) = crate::store::pg_group_commit::fresh_database().await;
        let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
        let new = checkout_claim();
        let start = |key, replacing| ClaimStart {
            key: OwnedKey::of(ClaimKey {
                provider: "conekta",
                account_hash: "acct",
                scope: ClaimScope::Order,
                key,
            }),
            new: OwnedNewClaim::of(&new),
            owner: "me".to_owned(),
            replacing,
        };
        let now = clock::unix_ms();
        conn.execute("BEGIN").await.unwrap();
        assert!(start("in-group", None).run(&mut conn, now).await.unwrap());
        assert!(start("in-group", Some(1))
            .run(&mut conn, now)
            .await
            .unwrap());
        assert_eq!(
            flush(&mut conn).await,
            "on",
            "a group's flush was turned off"
        );
        conn.execute("COMMIT").await.unwrap();
        // Alone, the same claims as statements of their own: they take and restart the key.
        let mut alone = OwnTransaction(&mut conn);
        assert!(start("alone", None).run(&mut alone, now).await.unwrap());
        assert!(!start("alone", None).run(&mut alone, now).await.unwrap());
        assert!(start("alone", Some(1)).run(&mut alone, now).await.unwrap());
        assert!(!start("alone", Some(1)).run(&mut alone, now).await.unwrap());
        let version: i64 =
            sqlx::query_scalar("SELECT version FROM claims WHERE claim_key = 'alone'")
                .fetch_one(&mut conn)
                .await
                .unwrap();
        assert_eq!(version, 2);
        assert_eq!(flush(&mut conn).await, "on", "the session's flush stays on");
        conn.close().await.unwrap();
        store.close().await;
    }

    /// The purge drops every claim that ended before its cut, a bounded batch a write, and
    /// keeps the others.
    async fn the_purge_drops_ended_claims_in_bounded_batches(store: Store) {
        let ended = crate::store::UPKEEP_BATCH as usize * 2 + 5;
        let keys: Vec<String> = (0..ended + 3).map(|n| format!("ref-{n}")).collect();
        for (n, key) in keys.iter().enumerate() {
            let claim = NewClaim {
                // The last three end in an hour; the others ended long ago, the oldest first.
                expires_at: if n < ended {
                    1_000 + n as i64
                } else {
                    clock::unix_s() + 3_600
                },
                ..checkout_claim()
            };
            let key = ClaimKey {
                provider: "conekta",
                account_hash: "acct",
                scope: ClaimScope::Order,
                key,
            };
            assert!(matches!(
                store.claim(key, &claim).await.unwrap(),
                Claim::Owned(_)
            ));
        }
        let before = clock::unix_s() - 86_400;
        let one = store.write(ClaimsPurge { before, limit: 7 }).await.unwrap();
        assert_eq!(one, 7, "a write deletes no more than its batch");
        let oldest_left: i64 = sqlx::query_scalar("SELECT MIN(expires_at) FROM claims")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(oldest_left, 1_007, "the oldest go first");
        assert_eq!(store.purge_claims(before).await.unwrap(), ended as u64 - 7);
        let left: Vec<String> =
            sqlx::query_scalar("SELECT claim_key FROM claims ORDER BY claim_key")
                .fetch_all(store.pool())
                .await
                .unwrap();
        assert_eq!(left, keys[ended..]);
        assert_eq!(store.purge_claims(before).await.unwrap(), 0);
        store.close().await;
    }

    #[tokio::test]
    async fn the_purge_drops_ended_claims_in_bounded_batches_on_sqlite() {
        let (_dir, store) = crate::store::sqlite_plans::sqlite_store().await;
        the_purge_drops_ended_claims_in_bounded_batches(store).await;
    }

    #[tokio::test]
    async fn the_purge_drops_ended_claims_in_bounded_batches_on_postgresql() {
        let (store, _) = crate::store::pg_group_commit::fresh_database().await;
        the_purge_drops_ended_claims_in_bounded_batches(store).await;
    }

    #[tokio::test]
    async fn an_order_is_recorded_even_by_a_claim_taken_over_on_sqlite() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("p.db").display());
        let store = Store::connect(&url.into()).await.unwrap();
        an_order_is_recorded_even_by_a_claim_taken_over(store).await;
    }

    #[tokio::test]
    async fn an_order_is_recorded_even_by_a_claim_taken_over_on_postgresql() {
        let (store, _) = crate::store::pg_group_commit::fresh_database().await;
        an_order_is_recorded_even_by_a_claim_taken_over(store).await;
    }
}
