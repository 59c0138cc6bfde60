//! `Idempotency-Key` on `POST /pagos` (draft-ietf-httpapi-idempotency-key-header): the same
//! key with the same body answers what the first request got and never acts twice; the same
//! key with another body is refused before Conekta is called; while the first is running, a
//! repeat is a 409. Keys are kept per Conekta account for 24 hours.
//!
//! The key's claim keeps final answers only: a success, or Conekta's own refusal. A request
//! refused before anything was sent frees the key; one whose outcome is unknown leaves it open,
//! and the repeat runs the action again, which first looks for what the earlier attempt made
//! (orders and references by their own claims; `refund`, `cancel` and `save_card` through
//! [`KeyedAttempt`]).

use super::claim_flow::{in_flight, lookup_lease_ms, new_attempt_key, store_down, stored_answer};
use super::{ConektaProvider, PROVIDER};
use crate::clock;
use crate::domain::{FieldError, ProviderSecret};
use crate::providers::{ActionError, ActionReply, Caller};
use crate::store::{Abandon, Claim, ClaimKey, ClaimScope, EarlierAttempt, Finish, NewClaim, Store};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// How long a key is remembered (the draft suggests at least a day).
const KEY_KEPT_S: i64 = 24 * 3600;
/// The request field name errors about the key use.
pub const KEY_FIELD: &str = "Idempotency-Key";

/// The claim of a request made under an `Idempotency-Key`, lent to the action it runs.
pub struct KeyedAttempt<'a> {
    store: &'a Store,
    key: ClaimKey<'a>,
    version: i64,
    lease_ms: i64,
    /// Goes into the metadata of what the action makes, so it can be found again.
    pub attempt_key: String,
    /// Set when an earlier request under this key ended without a known outcome.
    pub earlier: Option<EarlierAttempt>,
}

impl KeyedAttempt<'_> {
    /// Records, durably and before Conekta is called, what the action saw first (`note`): what
    /// an earlier attempt made is told apart from what was there already by it.
    pub async fn begin(&mut self, note: &str) -> Result<(), ActionError> {
        self.version = self
            .store
            .begin_attempt(self.key, self.version, self.lease_ms, Some(note), true)
            .await
            .map_err(store_down)?
            .ok_or_else(|| in_flight(KEY_FIELD))?;
        Ok(())
    }
}

/// Runs `action` under the request's `Idempotency-Key`.
pub async fn perform_keyed(
    provider: &ConektaProvider,
    action: &str,
    fields: Map<String, Value>,
    key: &str,
    caller: Caller<'_>,
) -> Result<ActionReply, ActionError> {
    // Without a usable key the action refuses the request itself; nothing is claimed.
    let Some(secret) = fields
        .get("secret")
        .and_then(|value| ProviderSecret::parse(value).ok())
    else {
        return provider.act(action, fields, None, caller).await;
    };
    let account_hash = secret.account_hash_in(caller.map(|s| s.name.as_str()));
    let claim_key = ClaimKey {
        provider: PROVIDER,
        account_hash: &account_hash,
        scope: ClaimScope::Request,
        key,
    };
    let identity = request_identity(&fields);
    let identity_json = Value::Object(identity.clone()).to_string();
    let fresh_key = new_attempt_key();
    let lease = lookup_lease_ms(provider.budget());
    let new = NewClaim {
        fields_json: &identity_json,
        attempt_key: &fresh_key,
        expires_at: clock::unix_s() + KEY_KEPT_S,
        lease_ms: lease,
        takeover_lease_ms: lease,
        // A refund moves money: its claim is on disk before Conekta is called.
        durable: true,
        target: None,
        storefront: caller.map(|s| s.name.as_str()),
    };
    let store = provider.store();
    let owned = match store.claim(claim_key, &new).await.map_err(store_down)? {
        Claim::Owned(owned) => owned,
        Claim::Answered { status, body } => return stored_answer(status, body),
        Claim::Differs { stored_fields_json } => {
            return Err(reused(&identity, &stored_fields_json))
        }
        Claim::InFlight => return Err(in_flight(KEY_FIELD)),
    };
    let mut keyed = KeyedAttempt {
        store,
        key: claim_key,
        version: owned.version,
        lease_ms: lease,
        attempt_key: owned.attempt_key,
        earlier: owned.earlier,
    };
    let result = provider.act(action, fields, Some(&mut keyed), caller).await;
    let version = keyed.version;
    let kept = match &result {
        Ok(reply) => Some((200, reply.body.clone())),
        Err(ActionError::ProviderRejected { status, body, .. }) => {
            Some((*status, body.to_string()))
        }
        _ => None,
    };
    let outcome = match (&kept, &result) {
        (Some((status, answer)), _) => {
            let finish = Finish {
                status: *status,
                answer,
                object_id: None,
                expires_at: None,
                order: None,
                reference: None,
            };
            store
                .finish_claim(claim_key, version, &finish)
                .await
                .map(|_| ())
        }
        // Refused before anything was sent: the key is free for a corrected request.
        (None, Err(ActionError::InvalidFields(_) | ActionError::Conflict { .. })) => {
            store
                .abandon_claim(claim_key, version, Abandon::NothingDone)
                .await
        }
        (None, _) => {
            store
                .abandon_claim(claim_key, version, Abandon::Unknown)
                .await
        }
    };
    if let Err(error) = outcome {
        tracing::error!(%error, "could not record the answer under the Idempotency-Key");
    }
    result
}

/// What makes two requests under one key "the same": each field's value, as a SHA-256 of its
/// JSON (the secret aside: the account stands for it). Only digests are kept, so a card token
/// in the body is never stored.
fn request_identity(fields: &Map<String, Value>) -> Map<String, Value> {
    fields
        .iter()
        .filter(|(name, _)| name.as_str() != "secret")
        .map(|(name, value)| {
            let digest = Sha256::digest(value.to_string().as_bytes());
            (name.clone(), Value::String(hex::encode(digest)))
        })
        .collect()
}

/// A 422: this key was used with another body.
fn reused(identity: &Map<String, Value>, stored_json: &str) -> ActionError {
    let stored: Map<String, Value> = serde_json::from_str(stored_json).unwrap_or_default();
    let mut names: Vec<&String> = identity.keys().chain(stored.keys()).collect();
    names.sort();
    names.dedup();
    let fields = names
        .into_iter()
        .filter(|name| identity.get(*name) != stored.get(*name))
        .map(|name| {
            FieldError::new(
                name.as_str(),
                "differs from the earlier request with this Idempotency-Key",
            )
        })
        .collect();
    ActionError::KeyReused(fields)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_identity_holds_digests_and_leaves_the_secret_out() {
        let fields = json!({"secret": "key_x", "token_id": "tok_secret", "amount": 10});
        let identity = request_identity(fields.as_object().unwrap());
        assert!(!identity.contains_key("secret"));
        let text = Value::Object(identity).to_string();
        assert!(!text.contains("tok_secret"));
        assert!(!text.contains("key_x"));
    }

    #[test]
    fn a_reused_key_names_what_differs() {
        let first = request_identity(json!({"amount": 10, "order_id": "o"}).as_object().unwrap());
        let second = request_identity(json!({"amount": 11, "order_id": "o"}).as_object().unwrap());
        let ActionError::KeyReused(fields) = reused(&second, &Value::Object(first).to_string())
        else {
            panic!("a reused key")
        };
        assert_eq!(
            fields,
            [FieldError::new(
                "amount",
                "differs from the earlier request with this Idempotency-Key"
            )]
        );
    }
}
