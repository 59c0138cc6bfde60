//! Creating a Conekta order exactly once per (account, reference_id), for `create`, `charge`
//! and `split`: the order's metadata carries the claim's attempt key, so after an attempt whose
//! outcome is unknown the order it made is found (`lookup.rs`) and adopted instead of made again.

use super::answers;
use super::claim_flow::{run_once, CallError, Found, Made, OnceClaim, OnceOperation};
use super::client::{ConektaClient, ConektaError};
use super::lookup::Lookup;
use super::PROVIDER;
use crate::domain::ProviderSecret;
use crate::providers::intake::held_notification;
use crate::providers::{ActionError, ActionReply};
use crate::store::{
    ClaimKey, ClaimScope, ClaimTarget, EarlierAttempt, Finish, NewClaim, OrderRecord, Store,
};
use futures_util::future::LocalBoxFuture;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::time::Duration;

/// Builds the `POST /orders` body (JSON text) with the claim's attempt key in its metadata.
pub type OrderBody<'a> = &'a dyn Fn(&str) -> Result<Box<RawValue>, ActionError>;

/// One order to create.
pub struct OrderSpec<'a> {
    pub secret: &'a ProviderSecret,
    pub reference_id: &'a str,
    /// The request's fields that make two requests "the same", by request name.
    pub identity: Map<String, Value>,
    pub notification_url: &'a str,
    pub amount_cents: i64,
    pub currency: &'a str,
    /// Until when a repeat is answered from the claim (Unix s); a checkout's expiry replaces it.
    pub binding_until: i64,
    pub body: OrderBody<'a>,
    /// A checkout the buyer pays later (not charges taken when the order is made).
    pub with_checkout: bool,
}

pub struct OrderFlow<'a> {
    pub client: &'a ConektaClient,
    pub store: &'a Store,
    /// One call's budget (`PAGOS__CONEKTA__TIMEOUT_MS`).
    pub timeout: Duration,
}

impl OrderFlow<'_> {
    pub async fn run(&self, spec: OrderSpec<'_>) -> Result<ActionReply, ActionError> {
        let account_hash = spec.secret.account_hash();
        let fields_json = Value::Object(spec.identity.clone()).to_string();
        let fresh_key = super::claim_flow::new_attempt_key();
        let claim = OnceClaim {
            store: self.store,
            key: ClaimKey {
                provider: PROVIDER,
                account_hash: &account_hash,
                scope: ClaimScope::Order,
                key: spec.reference_id,
            },
            new: NewClaim {
                fields_json: &fields_json,
                attempt_key: &fresh_key,
                expires_at: spec.binding_until,
                lease_ms: lease_ms(call_lease(self.timeout)),
                takeover_lease_ms: lease_ms(lookup_lease(self.timeout)),
                // Charges take money when the order is made: their claim is on disk first.
                durable: !spec.with_checkout,
                target: Some(ClaimTarget {
                    reference_id: spec.reference_id,
                    notification_url: spec.notification_url,
                    amount_cents: spec.amount_cents,
                    currency: spec.currency,
                }),
            },
            budget: self.timeout,
            key_field: "reference_id",
        };
        let op = OrderOperation {
            client: self.client,
            spec: &spec,
        };
        let reply = run_once(claim, &op).await?;
        tracing::info!(reference_id = %spec.reference_id, "order answered");
        Ok(reply)
    }
}

struct OrderOperation<'a> {
    client: &'a ConektaClient,
    spec: &'a OrderSpec<'a>,
}

impl OnceOperation for OrderOperation<'_> {
    fn find<'a>(
        &'a self,
        attempt_key: &'a str,
        earlier: &'a EarlierAttempt,
    ) -> LocalBoxFuture<'a, Result<Option<Found>, ConektaError>> {
        Box::pin(async move {
            let lookup = Lookup {
                client: self.client,
                secret: self.spec.secret,
            };
            lookup
                .order_made(
                    attempt_key,
                    earlier.started_at_ms,
                    earlier.object_id.as_deref(),
                )
                .await
        })
    }

    fn call<'a>(&'a self, attempt_key: &'a str) -> LocalBoxFuture<'a, Result<Found, CallError>> {
        Box::pin(async move {
            let body = (self.spec.body)(attempt_key).map_err(CallError::NotSent)?;
            // Conekta documents no idempotency key; the attempt key is sent as one anyway,
            // harmless if ignored. What makes a retry safe is the lookup.
            self.client
                .post_text("/orders", self.spec.secret, Some(attempt_key), body)
                .await
                .map(Found::from)
                .map_err(CallError::Conekta)
        })
    }

    fn check(&self, found: Found) -> Result<Made, String> {
        let checked = answers::order(&found.json, self.spec.amount_cents, self.spec.with_checkout)?;
        Ok(Made {
            object_id: checked.id,
            expires_at: checked.checkout_expires_at,
            answer: found.text,
            detail: Value::Null,
        })
    }

    fn finish<'a>(&'a self, made: &'a Made, account_hash: &'a str) -> Finish<'a> {
        let spec = self.spec;
        Finish {
            status: 200,
            answer: &made.answer,
            object_id: Some(&made.object_id),
            expires_at: made.expires_at,
            order: Some((
                OrderRecord {
                    order_id: &made.object_id,
                    account_hash,
                    reference_id: spec.reference_id,
                    notification_url: spec.notification_url,
                    amount_cents: spec.amount_cents,
                    currency: spec.currency,
                },
                held_notification,
            )),
            reference: None,
        }
    }
}

/// The lease of a call: one budget, and slack for the store writes around it.
pub fn call_lease(budget: Duration) -> Duration {
    budget + Duration::from_secs(5)
}

/// The lease of a takeover: lookups of a page or two, the wait between them, and the call.
pub fn lookup_lease(budget: Duration) -> Duration {
    budget * 4 + Duration::from_secs(5)
}

pub fn lease_ms(lease: Duration) -> i64 {
    i64::try_from(lease.as_millis()).unwrap_or(i64::MAX)
}

/// A body that could not be written as JSON (it cannot happen with these types; it is still
/// an answer, never a panic).
pub fn encode_error(error: serde_json::Error) -> ActionError {
    ActionError::ProviderUnavailable(format!("could not encode the request: {error}"))
}
