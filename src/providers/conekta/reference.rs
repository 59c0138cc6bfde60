//! `reference` (seeds 000, 001): a reusable cash reference (`cash_recurrent` or
//! `oxxo_recurrent`) on a new Conekta customer, made once per storefront reference, and kept
//! with the storefront's rules for approving each payment made with it.

use super::answers;
use super::claim_flow::{run_once, CallError, Found, Made, OnceClaim, OnceOperation};
use super::client::{ConektaClient, ConektaError};
use super::lookup::Lookup;
use super::requests::ReferenceRequest;
use super::{ConektaProvider, PROVIDER};
use crate::clock;
use crate::domain::TargetUrl;
use crate::providers::{ActionError, ActionReply, Caller};
use crate::store::{ClaimKey, ClaimScope, EarlierAttempt, Finish, NewReference};
use futures_util::future::LocalBoxFuture;
use serde_json::{json, Map, Value};

/// A reference binds its `reference_id` with no end (Unix s of 9999-12-31).
const NEVER: i64 = 253_402_300_799;

pub async fn reference(
    provider: &ConektaProvider,
    fields: Map<String, Value>,
    caller: Caller<'_>,
) -> Result<ActionReply, ActionError> {
    let request =
        ReferenceRequest::parse(&fields, clock::unix_s()).map_err(ActionError::InvalidFields)?;
    drop(fields);
    provider
        .check_notification_url(&request.notification_url, caller)
        .await?;
    if let Some(url) = &request.approval_url {
        provider.check_target("approval_url", url, caller).await?;
    }
    let identity_json = Value::Object(request.identity()).to_string();
    let storefront = caller.map(|s| s.name.as_str());
    let account_hash = request.secret.account_hash_in(storefront);
    let claim = OnceClaim {
        store: provider.store(),
        key: ClaimKey {
            provider: PROVIDER,
            account_hash: &account_hash,
            scope: ClaimScope::Reference,
            key: request.reference_id.as_str(),
        },
        fields_json: &identity_json,
        expires_at: NEVER,
        // No money moves when a customer is made: losing the claim in a power cut can only
        // leave a reference nobody was shown.
        durable: false,
        target: None,
        storefront,
        budget: provider.budget(),
        key_field: "reference_id",
    };
    let op = ReferenceOperation {
        client: provider.client(),
        phone: provider.phone_or_default(request.phone.as_ref()),
        request: &request,
        fields_json: &identity_json,
        storefront,
    };
    let reply = run_once(claim, &op).await?;
    tracing::info!(reference_id = %request.reference_id, "recurrent reference answered");
    Ok(reply)
}

/// A Conekta customer with one reusable cash reference.
struct ReferenceOperation<'a> {
    client: &'a ConektaClient,
    phone: &'a str,
    request: &'a ReferenceRequest,
    fields_json: &'a str,
    storefront: Option<&'a str>,
}

impl OnceOperation for ReferenceOperation<'_> {
    fn find<'a>(
        &'a self,
        attempt_key: &'a str,
        earlier: &'a EarlierAttempt,
    ) -> LocalBoxFuture<'a, Result<Option<Found>, ConektaError>> {
        Box::pin(async move {
            let lookup = Lookup {
                client: self.client,
                secret: &self.request.secret,
            };
            lookup
                .customer_made(attempt_key, earlier.started_at_ms)
                .await
        })
    }

    fn call<'a>(&'a self, attempt_key: &'a str) -> LocalBoxFuture<'a, Result<Found, CallError>> {
        Box::pin(async move {
            let customer = self.request.customer(self.phone, attempt_key);
            self.client
                .post("/customers", &self.request.secret, None, &customer)
                .await
                .map_err(CallError::Conekta)
        })
    }

    fn check(&self, found: Found) -> Result<Made, String> {
        let customer = answers::customer(&found.text)?;
        let source = answers::reference_source(&customer, self.request.payment_type)?;
        let answer = json!({
            "customer_id": customer.id,
            "payment_source_id": source.id,
            "reference": source.reference,
            "barcode": source.barcode,
            "barcode_url": source.barcode_url,
            "store_names": source.store_names,
            "expires_at": source.expires_at,
            "provider_response": found.json(),
        })
        .to_string();
        Ok(Made {
            answer,
            object_id: customer.id,
            expires_at: None,
            detail: json!({
                "id": source.id,
                "reference": source.reference,
                "expires_at": source.expires_at,
            }),
        })
    }

    fn finish<'a>(&'a self, made: &'a Made, account_hash: &'a str) -> Finish<'a> {
        let request = self.request;
        let source = &made.detail;
        Finish {
            status: 200,
            answer: &made.answer,
            object_id: Some(&made.object_id),
            expires_at: None,
            order: None,
            reference: Some(NewReference {
                provider: PROVIDER,
                account_hash,
                reference_id: &request.reference_id,
                customer_id: &made.object_id,
                payment_source_id: source["id"].as_str().unwrap_or_default(),
                reference: source["reference"].as_str().unwrap_or_default(),
                notification_url: request.notification_url.as_str(),
                approval_url: request.approval_url.as_ref().map(TargetUrl::as_str),
                min: request.min(),
                max: request.max(),
                expires_at: source["expires_at"]
                    .as_i64()
                    .or(request.expires_at)
                    .unwrap_or(0),
                fields_json: self.fields_json,
                answer: &made.answer,
                storefront: self.storefront,
            }),
        }
    }
}
