//! Creating a Conekta order exactly once per (account, reference_id): the idempotency record is
//! claimed before Conekta is called, and a repeat gets the stored order. Used by every action
//! that creates an order (`create`, `charge`, `split`).

use super::client::{ConektaClient, ConektaError};
use super::PROVIDER;
use crate::domain::{FieldError, ProviderSecret};
use crate::providers::{ActionError, ActionReply};
use crate::store::{CreateClaim, CreateKey, CreateOutcome, NewCreate, OrderRecord, Store};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

/// How often a request waiting on an identical one in flight looks again.
const IN_FLIGHT_POLL: Duration = Duration::from_millis(40);

/// One order to create.
pub struct OrderSpec<'a> {
    pub secret: &'a ProviderSecret,
    pub reference_id: &'a str,
    /// The request's fields that make two requests "the same", by request name (a small map,
    /// dropped once the create is claimed).
    pub identity: Map<String, Value>,
    pub notification_url: &'a str,
    pub amount_cents: i64,
    pub currency: &'a str,
    /// Until when a repeat is answered from the record (Unix s); a checkout's expiry replaces it.
    pub binding_until: i64,
    /// The `POST /orders` body, as JSON text (see `encode`).
    pub body: Box<RawValue>,
    /// Conekta charges when the order is created (not a checkout the buyer pays later).
    pub charges_at_creation: bool,
}

/// What claiming a create decided.
enum Claim {
    /// This request calls Conekta, with this idempotency key.
    Owned {
        version: i64,
        idempotency_key: String,
    },
    /// Answered from the record of an identical earlier request.
    Answered(ActionReply),
}

pub struct OrderFlow<'a> {
    pub client: &'a ConektaClient,
    pub store: &'a Store,
    pub timeout: Duration,
}

impl OrderFlow<'_> {
    pub async fn run(&self, spec: OrderSpec<'_>) -> Result<ActionReply, ActionError> {
        let account_hash = spec.secret.account_hash();
        let key = CreateKey {
            provider: PROVIDER,
            account_hash: &account_hash,
            reference_id: spec.reference_id,
        };
        match self.claim(&spec, key).await? {
            Claim::Owned {
                version,
                idempotency_key,
            } => self.create(spec, key, version, &idempotency_key).await,
            Claim::Answered(reply) => Ok(reply),
        }
    }

    /// Takes the reference for this request, or answers it from the record.
    async fn claim(&self, spec: &OrderSpec<'_>, key: CreateKey<'_>) -> Result<Claim, ActionError> {
        // Thousands of creates may wait on Conekta at once: none of this is kept meanwhile.
        let identity_json = Value::Object(spec.identity.clone()).to_string();
        let fingerprint = hex::encode(Sha256::digest(identity_json.as_bytes()));
        let fresh_key = uuid::Uuid::new_v4().to_string();
        // The owner may take the whole Conekta budget; a little slack covers the store writes.
        let lease = self.timeout + Duration::from_secs(5);
        let new = NewCreate {
            fingerprint: &fingerprint,
            fields_json: &identity_json,
            idempotency_key: &fresh_key,
            expires_at: spec.binding_until,
            lease_ms: lease.as_millis() as i64,
            claim_must_sync: spec.charges_at_creation,
        };
        let give_up_at = Instant::now() + lease;
        loop {
            match self
                .store
                .claim_create(key, &new)
                .await
                .map_err(store_down)?
            {
                CreateClaim::Owned {
                    version,
                    idempotency_key,
                } => {
                    return Ok(Claim::Owned {
                        version,
                        idempotency_key,
                    })
                }
                CreateClaim::Stored { response } => {
                    tracing::info!(reference_id = %spec.reference_id, "identical request answered from the store");
                    return Ok(Claim::Answered(ActionReply { body: response }));
                }
                CreateClaim::Differs { stored_fields_json } => {
                    return Err(differences(&spec.identity, &stored_fields_json));
                }
                CreateClaim::InFlight if Instant::now() >= give_up_at => {
                    return Err(ActionError::Conflict {
                        detail:
                            "a request with this reference_id is still in progress; retry shortly"
                                .to_owned(),
                        fields: vec![FieldError::new(
                            "reference_id",
                            "is being processed right now",
                        )],
                    });
                }
                CreateClaim::InFlight => tokio::time::sleep(IN_FLIGHT_POLL).await,
            }
        }
    }

    async fn create(
        &self,
        mut spec: OrderSpec<'_>,
        key: CreateKey<'_>,
        version: i64,
        idempotency_key: &str,
    ) -> Result<ActionReply, ActionError> {
        // The body and the identity go; the body's text becomes the request without a copy.
        spec.identity = Map::new();
        let body = std::mem::replace(&mut spec.body, RawValue::NULL.to_owned());
        let answer = self
            .client
            .post_text("/orders", spec.secret, Some(idempotency_key), body)
            .await;
        let answer = match answer {
            Ok(answer) => answer,
            Err(error) => {
                let outcome = match &error {
                    // A 402 may come with the order created (a declined charge): keep the binding.
                    ConektaError::Rejected { status: 402, .. } => CreateOutcome::Unknown,
                    ConektaError::Rejected { .. }
                    | ConektaError::Unavailable {
                        maybe_done: false, ..
                    } => CreateOutcome::NothingCreated,
                    _ => CreateOutcome::Unknown,
                };
                if let Err(store_error) = self.store.abandon_create(key, version, outcome).await {
                    tracing::error!(error = %store_error, "could not release the create record");
                }
                return Err(provider_error(error));
            }
        };
        let Some(order_id) = answer.json["id"].as_str() else {
            let _ = self
                .store
                .abandon_create(key, version, CreateOutcome::Unknown)
                .await;
            return Err(ActionError::ProviderUnavailable(
                "Conekta answered without an order id".to_owned(),
            ));
        };
        let record = OrderRecord {
            order_id,
            notification_url: spec.notification_url,
            amount_cents: spec.amount_cents,
            currency: spec.currency,
            response: &answer.text,
            expires_at: answer.json["checkout"]["expires_at"]
                .as_i64()
                .unwrap_or(spec.binding_until),
        };
        if let Err(error) = self.store.complete_create(key, version, &record).await {
            // The order exists at Conekta but we could not record it: the storefront must retry
            // (the retry reuses the idempotency key once the lease lapses).
            tracing::error!(%order_id, %error, "order created but not recorded");
            return Err(store_down(error));
        }
        tracing::info!(%order_id, reference_id = %spec.reference_id, "order created");
        Ok(ActionReply { body: answer.text })
    }
}

/// A `POST /orders` body as JSON text: while the order is created only the text is kept.
pub fn encode(body: &impl serde::Serialize) -> Result<Box<RawValue>, ActionError> {
    serde_json::value::to_raw_value(body)
        .map_err(|e| ActionError::ProviderUnavailable(format!("could not encode the order: {e}")))
}

pub fn store_down(error: crate::store::StoreError) -> ActionError {
    tracing::error!(%error, "store unavailable");
    ActionError::StoreUnavailable("the request could not be recorded; retry".to_owned())
}

pub fn provider_error(error: ConektaError) -> ActionError {
    match error {
        ConektaError::Rejected { status, body } => ActionError::ProviderRejected { status, body },
        ConektaError::Unavailable { reason, .. } => ActionError::ProviderUnavailable(reason),
        ConektaError::Timeout(budget) => ActionError::ProviderTimeout(budget.as_millis() as u64),
    }
}

/// A 409 naming each field whose value differs from the stored request.
pub fn differences(identity: &Map<String, Value>, stored_json: &str) -> ActionError {
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
                "differs from the earlier request with this reference_id",
            )
        })
        .collect();
    let listed: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
    ActionError::Conflict {
        detail: format!(
            "this reference_id was already used, and is still bound, with a different {}",
            listed.join(", ")
        ),
        fields,
    }
}
