//! Creating a Conekta order exactly once per (account, reference_id), for `create`, `charge`
//! and `split`: the order's metadata carries the claim's attempt key, so after an attempt whose
//! outcome is unknown the order it made is found (`lookup.rs`) and adopted instead of made again.

use super::answers;
use super::claim_flow::{run_once, CallError, Found, Made, OnceClaim, OnceOperation};
use super::client::ConektaError;
use super::lookup::Lookup;
use super::{ConektaProvider, PROVIDER};
use crate::clock;
use crate::domain::{Amount, Currency, ProviderSecret, ReferenceId, TargetUrl};
use crate::providers::intake::held_notification;
use crate::providers::{ActionError, ActionReply, Caller};
use crate::store::{ClaimKey, ClaimScope, ClaimTarget, EarlierAttempt, Finish, OrderRecord};
use futures_util::future::LocalBoxFuture;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// A parsed request that makes one Conekta order.
pub trait OrderSource {
    fn secret(&self) -> &ProviderSecret;
    fn reference_id(&self) -> &ReferenceId;
    fn notification_url(&self) -> &TargetUrl;
    fn amount(&self) -> Amount;
    fn currency(&self) -> &Currency;
    /// The fields that make two requests "the same", by request name.
    fn identity(&self) -> Map<String, Value>;
    /// Until when a repeat is answered from the claim (Unix s); a checkout's expiry replaces it.
    fn binding_until(&self, now: i64) -> i64;
    /// A checkout the buyer pays later (not charges taken when the order is made).
    fn with_checkout(&self) -> bool;
    /// The `POST /orders` body (JSON text), with the claim's attempt key in its metadata.
    fn order_body(
        &self,
        provider: &ConektaProvider,
        binding_until: i64,
        attempt_key: &str,
    ) -> Result<Box<RawValue>, serde_json::Error>;
}

/// Makes the order `request` asks for, once.
pub async fn make_order(
    provider: &ConektaProvider,
    request: &impl OrderSource,
    caller: Caller<'_>,
) -> Result<ActionReply, ActionError> {
    provider
        .check_notification_url(request.notification_url(), caller)
        .await?;
    let storefront = caller.map(|s| s.name.as_str());
    let account_hash = request.secret().account_hash_in(storefront);
    let fields_json = Value::Object(request.identity()).to_string();
    let binding_until = request.binding_until(clock::unix_s());
    let claim = OnceClaim {
        store: provider.store(),
        key: ClaimKey {
            provider: PROVIDER,
            account_hash: &account_hash,
            scope: ClaimScope::Order,
            key: request.reference_id().as_str(),
        },
        fields_json: &fields_json,
        expires_at: binding_until,
        // Charges take money when the order is made: their claim is on disk first.
        durable: !request.with_checkout(),
        target: Some(ClaimTarget {
            reference_id: request.reference_id(),
            notification_url: request.notification_url().as_str(),
            amount: request.amount(),
            currency: request.currency(),
        }),
        storefront,
        budget: provider.budget(),
        key_field: "reference_id",
    };
    let op = OrderOperation {
        provider,
        request,
        binding_until,
        storefront,
    };
    let reply = run_once(claim, &op).await?;
    tracing::info!(reference_id = %request.reference_id(), "order answered");
    Ok(reply)
}

struct OrderOperation<'a, R> {
    provider: &'a ConektaProvider,
    request: &'a R,
    binding_until: i64,
    storefront: Option<&'a str>,
}

impl<R: OrderSource> OnceOperation for OrderOperation<'_, R> {
    fn find<'a>(
        &'a self,
        attempt_key: &'a str,
        earlier: &'a EarlierAttempt,
    ) -> LocalBoxFuture<'a, Result<Option<Found>, ConektaError>> {
        Box::pin(async move {
            let lookup = Lookup {
                client: self.provider.client(),
                secret: self.request.secret(),
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
            let body = self
                .request
                .order_body(self.provider, self.binding_until, attempt_key)
                .map_err(|e| CallError::NotSent(encode_error(e)))?;
            // Conekta documents no idempotency key; the attempt key is sent as one anyway,
            // harmless if ignored. What makes a retry safe is the lookup.
            self.provider
                .client()
                .post_text("/orders", self.request.secret(), Some(attempt_key), body)
                .await
                .map_err(CallError::Conekta)
        })
    }

    fn check(&self, found: Found) -> Result<Made, String> {
        let request = self.request;
        let checked = answers::order(
            &found.text,
            request.amount().centavos(),
            request.with_checkout(),
        )?;
        Ok(Made {
            object_id: checked.id,
            expires_at: checked.checkout_expires_at,
            answer: found.text,
            detail: Value::Null,
        })
    }

    fn finish<'a>(&'a self, made: &'a Made, account_hash: &'a str) -> Finish<'a> {
        let request = self.request;
        Finish {
            status: 200,
            answer: &made.answer,
            object_id: Some(&made.object_id),
            expires_at: made.expires_at,
            order: Some((
                OrderRecord {
                    order_id: &made.object_id,
                    account_hash,
                    reference_id: request.reference_id(),
                    notification_url: request.notification_url().as_str(),
                    amount: request.amount(),
                    currency: request.currency(),
                    storefront: self.storefront,
                },
                held_notification,
            )),
            reference: None,
        }
    }
}

/// A body that could not be written as JSON (it cannot happen with these types; it is still
/// an answer, never a panic).
fn encode_error(error: serde_json::Error) -> ActionError {
    ActionError::ProviderUnavailable(format!("could not encode the request: {error}"))
}
