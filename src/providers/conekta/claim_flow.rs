//! The steps every Conekta operation that must happen once shares: claim it (or wait for an
//! identical request in flight), and after a call, end the claim as the outcome says. Conekta
//! has no idempotency key: after an attempt whose outcome is unknown, what it made is found
//! by the attempt key pagos put in the object's metadata before Conekta is called again.

use super::client::ConektaError;
use crate::domain::FieldError;
use crate::providers::{ActionError, ActionReply};
use crate::store::{
    Abandon, Claim, ClaimKey, ClaimTarget, EarlierAttempt, Finish, NewClaim, OwnedClaim, Store,
};
use futures_util::future::LocalBoxFuture;
use serde_json::{Map, Value};
use std::future::Future;
use std::time::{Duration, Instant};

/// The metadata key that carries a claim's attempt key on the orders and customers pagos makes.
pub const METADATA_KEY: &str = "pagos_claim";

/// How often a request waiting on an identical one in flight looks again.
const IN_FLIGHT_POLL: Duration = Duration::from_millis(40);

/// A fresh attempt key: `clm_` and a time-ordered UUID.
pub fn new_attempt_key() -> String {
    format!("clm_{}", uuid::Uuid::now_v7().simple())
}

/// What a call or a lookup found at Conekta: the object, as text.
pub type Found = super::client::ConektaAnswer;

/// What was made, checked: what the storefront is answered, and what the claim records.
pub struct Made {
    pub answer: String,
    pub object_id: String,
    /// A new end of the claim's binding, when the object says one (a checkout's expiry).
    pub expires_at: Option<i64>,
    /// The part of Conekta's object the record needs (a reference's payment source).
    pub detail: Value,
}

/// Why a call made nothing usable.
pub enum CallError {
    /// Conekta answered badly or not at all: the claim ends as `abandon_for` says.
    Conekta(ConektaError),
    /// The call could not even be made (the request could not be encoded): nothing was sent.
    NotSent(ActionError),
}

/// One operation that must happen at Conekta at most once: how to look for what an earlier
/// attempt made, how to make it, how to check it, and what to record.
pub trait OnceOperation {
    /// The object an earlier attempt with `attempt_key` made, if Conekta has one.
    fn find<'a>(
        &'a self,
        attempt_key: &'a str,
        earlier: &'a EarlierAttempt,
    ) -> LocalBoxFuture<'a, Result<Option<Found>, ConektaError>>;
    /// Makes it, with `attempt_key` in its metadata.
    fn call<'a>(&'a self, attempt_key: &'a str) -> LocalBoxFuture<'a, Result<Found, CallError>>;
    /// Checks what Conekta answered; the reason it cannot be used otherwise.
    fn check(&self, found: Found) -> Result<Made, String>;
    /// The claim's final record.
    fn finish<'a>(&'a self, made: &'a Made, account_hash: &'a str) -> Finish<'a>;
}

/// Where an operation is claimed, what binds it, and how long it may take.
pub struct OnceClaim<'a> {
    pub store: &'a Store,
    pub key: ClaimKey<'a>,
    /// The request's identity (JSON text): a repeat is the same request when it is equal.
    pub fields_json: &'a str,
    /// Unix seconds; until then a repeat is answered from the claim.
    pub expires_at: i64,
    /// Money moves when Conekta is called: the claim is on disk before the call.
    pub durable: bool,
    pub target: Option<ClaimTarget<'a>>,
    /// The storefront the operation belongs to (`None`: single-storefront mode).
    pub storefront: Option<&'a str>,
    /// One call's budget; also how long an unknown attempt is given before a lookup that finds
    /// nothing counts as proof that it made nothing.
    pub budget: Duration,
    /// The request field that names the key, for a 409.
    pub key_field: &'a str,
}

/// The lease of a call: one budget, and slack for the store writes around it.
pub fn call_lease_ms(budget: Duration) -> i64 {
    millis(budget + Duration::from_secs(5))
}

/// The lease of a takeover: lookups of a page or two, the wait between them, and the call.
pub fn lookup_lease_ms(budget: Duration) -> i64 {
    millis(budget * 4 + Duration::from_secs(5))
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

/// Claim -> (reconcile) -> call -> complete: the one path of every operation that must happen
/// at Conekta at most once.
pub async fn run_once(
    claim: OnceClaim<'_>,
    op: &impl OnceOperation,
) -> Result<ActionReply, ActionError> {
    let OnceClaim {
        store,
        key,
        fields_json,
        expires_at,
        durable,
        target,
        storefront,
        budget,
        key_field,
    } = claim;
    let fresh_key = new_attempt_key();
    let new = NewClaim {
        fields_json,
        attempt_key: &fresh_key,
        expires_at,
        lease_ms: call_lease_ms(budget),
        takeover_lease_ms: lookup_lease_ms(budget),
        durable,
        target,
        storefront,
    };
    let wait = budget + Duration::from_secs(5);
    // The steps before and after the call run in boxes of their own: the future of a call
    // waiting on Conekta (thousands may wait at once) keeps only what that wait needs.
    let owned = match Box::pin(claim_or_wait(store, key, &new, wait, key_field)).await? {
        Claimed::Answered(reply) => {
            tracing::info!("identical request answered from the store");
            return Ok(reply);
        }
        Claimed::Owned(owned) => owned,
    };
    let mut version = owned.version;
    if let Some(earlier) = &owned.earlier {
        let reconciled = reconcile(store, key, op, &owned, earlier, budget, key_field);
        match Box::pin(reconciled).await? {
            Reconciled::Made(found) => {
                return Box::pin(complete(store, key, version, op, found)).await
            }
            Reconciled::Again(next) => version = next,
        }
    }
    let called = op.call(&owned.attempt_key).await;
    Box::pin(settle(store, key, version, op, called)).await
}

/// After an attempt whose outcome is unknown: what it made, or the claim started afresh.
enum Reconciled {
    Made(Found),
    /// Nothing was made: the claim's version for the next attempt.
    Again(i64),
}

async fn reconcile(
    store: &Store,
    key: ClaimKey<'_>,
    op: &impl OnceOperation,
    owned: &OwnedClaim,
    earlier: &EarlierAttempt,
    budget: Duration,
    key_field: &str,
) -> Result<Reconciled, ActionError> {
    let found = look_until_sure(budget, earlier.started_at_ms, || {
        op.find(&owned.attempt_key, earlier)
    })
    .await;
    match found {
        Ok(Some(found)) => {
            tracing::info!("an earlier attempt's object was found and adopted");
            Ok(Reconciled::Made(found))
        }
        Ok(None) => store
            .begin_attempt(key, owned.version, call_lease_ms(budget), None, true)
            .await
            .map_err(store_down)?
            .map(Reconciled::Again)
            .ok_or_else(|| in_flight(key_field)),
        Err(error) => {
            abandon(store, key, owned.version, Abandon::Unknown).await;
            Err(provider_error(error))
        }
    }
}

/// Ends the claim as the call's outcome says.
async fn settle(
    store: &Store,
    key: ClaimKey<'_>,
    version: i64,
    op: &impl OnceOperation,
    called: Result<Found, CallError>,
) -> Result<ActionReply, ActionError> {
    match called {
        Ok(found) => complete(store, key, version, op, found).await,
        Err(CallError::Conekta(error)) => {
            abandon(store, key, version, abandon_for(&error)).await;
            Err(provider_error(error))
        }
        Err(CallError::NotSent(error)) => {
            abandon(store, key, version, Abandon::NothingDone).await;
            Err(error)
        }
    }
}

/// Checks what was made and records it with its answer.
async fn complete(
    store: &Store,
    key: ClaimKey<'_>,
    version: i64,
    op: &impl OnceOperation,
    found: Found,
) -> Result<ActionReply, ActionError> {
    let made = match op.check(found) {
        Ok(made) => made,
        Err(reason) => {
            // Conekta answered, so something may exist: the next attempt looks for it.
            tracing::error!(%reason, "Conekta's answer failed its checks");
            abandon(store, key, version, Abandon::Unknown).await;
            return Err(ActionError::ProviderUnavailable(reason));
        }
    };
    let finish = op.finish(&made, key.account_hash);
    if let Err(error) = store.finish_claim(key, version, &finish).await {
        // Made at Conekta but not recorded: a retry finds it by its attempt key.
        tracing::error!(object_id = %made.object_id, %error, "made at Conekta but not recorded");
        return Err(store_down(error));
    }
    Ok(ActionReply { body: made.answer })
}

/// What claiming decided for this request.
pub enum Claimed {
    /// This request acts.
    Owned(OwnedClaim),
    /// Answered from the claim of an identical earlier request.
    Answered(ActionReply),
}

/// Claims `key`; while an identical request is in flight, waits for its answer up to `wait`.
/// A request with other fields under the same key is a 409 naming them.
pub async fn claim_or_wait(
    store: &Store,
    key: ClaimKey<'_>,
    new: &NewClaim<'_>,
    wait: Duration,
    key_field: &str,
) -> Result<Claimed, ActionError> {
    let give_up_at = Instant::now() + wait;
    loop {
        match store.claim(key, new).await.map_err(store_down)? {
            Claim::Owned(owned) => return Ok(Claimed::Owned(owned)),
            Claim::Answered { status, body } => {
                return stored_answer(status, body).map(Claimed::Answered)
            }
            Claim::Differs { stored_fields_json } => {
                let identity: Map<String, Value> =
                    serde_json::from_str(new.fields_json).unwrap_or_default();
                return Err(differences(&identity, &stored_fields_json, key_field));
            }
            Claim::InFlight if Instant::now() >= give_up_at => return Err(in_flight(key_field)),
            Claim::InFlight => tokio::time::sleep(IN_FLIGHT_POLL).await,
        }
    }
}

/// The answer a claim kept: a 2xx body, or Conekta's refusal (its status and error body).
pub fn stored_answer(status: u16, body: String) -> Result<ActionReply, ActionError> {
    if (200..300).contains(&status) {
        return Ok(ActionReply { body });
    }
    Err(rejected(
        status,
        serde_json::from_str(&body).unwrap_or(Value::Null),
    ))
}

/// How a failed call leaves its claim: only a refusal, or a request that never left, proves
/// that Conekta made nothing. A declined card (402) moved no money: the key is free again.
pub fn abandon_for(error: &ConektaError) -> Abandon {
    match error {
        ConektaError::Rejected { .. }
        | ConektaError::Unavailable {
            maybe_done: false, ..
        } => Abandon::NothingDone,
        _ => Abandon::Unknown,
    }
}

/// Ends a claim that produced no answer; a failure to do so is logged (the lease lapses).
pub async fn abandon(store: &Store, key: ClaimKey<'_>, version: i64, outcome: Abandon) {
    if let Err(error) = store.abandon_claim(key, version, outcome).await {
        tracing::error!(%error, "could not release a claim");
    }
}

/// Looks for what an earlier attempt made. Finding nothing proves nothing while the attempt
/// may still be in Conekta's hands: once the attempt is a whole call budget old, Conekta has had
/// as long as pagos ever waits for it, and the look is repeated then.
pub async fn look_until_sure<T, F, Fut>(
    budget: Duration,
    started_at_ms: i64,
    look: F,
) -> Result<Option<T>, ConektaError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<Option<T>, ConektaError>>,
{
    if let Some(found) = look().await? {
        return Ok(Some(found));
    }
    let age = Duration::from_millis(
        u64::try_from(crate::clock::unix_ms() - started_at_ms).unwrap_or_default(),
    );
    if age >= budget {
        return Ok(None);
    }
    tokio::time::sleep(budget - age).await;
    look().await
}

pub fn store_down(error: crate::store::StoreError) -> ActionError {
    tracing::error!(%error, "store unavailable");
    ActionError::StoreUnavailable("the request could not be recorded; retry".to_owned())
}

pub fn provider_error(error: ConektaError) -> ActionError {
    match error {
        ConektaError::Rejected { status, body } => rejected(status, body),
        ConektaError::Unavailable { reason, .. } => ActionError::ProviderUnavailable(reason),
        ConektaError::Timeout(budget) => ActionError::ProviderTimeout(budget.as_millis() as u64),
    }
}

/// Conekta's refusal, with its message read from its error shape.
fn rejected(status: u16, body: Value) -> ActionError {
    ActionError::ProviderRejected {
        status,
        message: super::wire::errors::message(&body),
        body,
    }
}

/// A 409: an identical request holds the key right now.
pub fn in_flight(key_field: &str) -> ActionError {
    ActionError::Conflict {
        detail: format!("a request with this {key_field} is still in progress; retry shortly"),
        fields: vec![FieldError::new(key_field, "is being processed right now")],
    }
}

/// A 409 naming each field whose value differs from the stored request.
pub fn differences(
    identity: &Map<String, Value>,
    stored_json: &str,
    key_field: &str,
) -> ActionError {
    let stored: Map<String, Value> = serde_json::from_str(stored_json).unwrap_or_default();
    let mut names: Vec<&String> = identity.keys().chain(stored.keys()).collect();
    names.sort();
    names.dedup();
    let fields: Vec<FieldError> = names
        .into_iter()
        .filter(|name| identity.get(*name) != stored.get(*name))
        .map(|name| {
            FieldError::new(
                name.as_str(),
                format!("differs from the earlier request with this {key_field}"),
            )
        })
        .collect();
    let listed: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    ActionError::Conflict {
        detail: format!(
            "this {key_field} was already used, and is still bound, with a different {}",
            listed.join(", ")
        ),
        fields,
    }
}
