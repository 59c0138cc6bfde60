//! `reference` (seeds 000, 001): a reusable cash reference (`cash_recurrent` or
//! `oxxo_recurrent`) on a new Conekta customer, kept with the storefront's rules for approving
//! each payment made with it.

use super::answers;
use super::claim_flow::{
    new_attempt_key, run_once, CallError, Found, Made, OnceClaim, OnceOperation, METADATA_KEY,
};
use super::client::{ConektaClient, ConektaError};
use super::lookup::Lookup;
use super::order_flow::{call_lease, lease_ms, lookup_lease};
use super::{ConektaProvider, PROVIDER};
use crate::clock;
use crate::domain::field_errors::as_str;
use crate::domain::{
    person_name, reference_id, Amount, Email, FieldReader, Phone, ProviderSecret, TargetUrl,
};
use crate::providers::{ActionError, ActionReply};
use crate::store::{ClaimKey, ClaimScope, EarlierAttempt, Finish, NewClaim, NewReference};
use futures_util::future::LocalBoxFuture;
use serde_json::{json, Map, Value};

const PAYMENT_TYPES: &[&str] = &["cash_recurrent", "oxxo_recurrent"];
/// What a payment may be when the storefront sets no range: one peso up to OXXO's cap.
const DEFAULT_MIN_CENTS: i64 = 100;
const DEFAULT_MAX_CENTS: i64 = 1_000_000;
/// A reference may expire from one to 365 days after it is made (Conekta's stated window).
const MIN_EXPIRY_S: i64 = 86_400;
const MAX_EXPIRY_S: i64 = 365 * 86_400;

pub async fn reference(
    provider: &ConektaProvider,
    fields: Map<String, Value>,
) -> Result<ActionReply, ActionError> {
    let now = clock::unix_s();
    let mut r = FieldReader::new(&fields);
    let secret = r.required("secret", ProviderSecret::parse);
    let reference = r.required("reference_id", reference_id);
    let notification_url = r.required("notification_url", TargetUrl::parse);
    let first_name = r.required("first_name", person_name);
    let last_name = r.required("last_name", person_name);
    let email = r.required("email", Email::parse);
    let payment_type = r.optional("payment_type", payment_type);
    let expires_at = r.optional("expires_at", |v| expiry(v, now));
    let phone = r.optional("phone", Phone::parse);
    let min_amount = r.optional("min_amount", Amount::from_pesos);
    let max_amount = r.optional("max_amount", Amount::from_pesos);
    let approval_url = r.optional("approval_url", TargetUrl::parse);
    let min_cents = min_amount.map_or(DEFAULT_MIN_CENTS, Amount::centavos);
    let max_cents = max_amount.map_or(DEFAULT_MAX_CENTS, Amount::centavos);
    if min_cents > max_cents {
        r.reject("max_amount", "must not be below min_amount");
    }
    let parsed = (move || {
        Some((
            secret?,
            reference?,
            notification_url?,
            first_name?,
            last_name?,
            email?,
        ))
    })();
    let (secret, reference, notification_url, first_name, last_name, email) =
        r.finish(parsed).map_err(ActionError::InvalidFields)?;
    provider.check_notification_url(&notification_url).await?;
    if let Some(url) = &approval_url {
        provider.check_target("approval_url", url).await?;
    }
    let payment_type = payment_type.unwrap_or("cash_recurrent");
    let identity = json!({
        "action": "reference",
        "reference_id": reference,
        "notification_url": notification_url.as_str(),
        "first_name": first_name,
        "last_name": last_name,
        "email": email.as_str(),
        "phone": phone.as_ref().map(Phone::as_str),
        "payment_type": payment_type,
        "expires_at": expires_at,
        "min_amount": min_amount.map(Amount::pesos),
        "max_amount": max_amount.map(Amount::pesos),
        "approval_url": approval_url.as_ref().map(TargetUrl::as_str),
    });
    let identity_json = identity.to_string();
    let account_hash = secret.account_hash();
    let fresh_key = new_attempt_key();
    let budget = provider.settings.timeout();
    let claim = OnceClaim {
        store: provider.store(),
        key: ClaimKey {
            provider: PROVIDER,
            account_hash: &account_hash,
            scope: ClaimScope::Reference,
            key: &reference,
        },
        new: NewClaim {
            fields_json: &identity_json,
            attempt_key: &fresh_key,
            // A reference binds its id for good.
            expires_at: NEVER,
            lease_ms: lease_ms(call_lease(budget)),
            takeover_lease_ms: lease_ms(lookup_lease(budget)),
            // No money moves when a customer is made: losing the claim in a power cut can only
            // leave a reference nobody was shown.
            durable: false,
            target: None,
        },
        budget,
        key_field: "reference_id",
    };
    let op = ReferenceOperation {
        client: provider.client(),
        secret: &secret,
        customer: json!({
            "name": format!("{first_name} {last_name}"),
            "email": email.as_str(),
            "phone": provider.phone_or_default(phone.as_ref()),
            "payment_sources": [source_request(payment_type, expires_at)],
            "metadata": { "reference_id": reference },
        }),
        payment_type,
        record: ReferenceRecord {
            reference_id: &reference,
            notification_url: notification_url.as_str(),
            approval_url: approval_url.as_ref().map(TargetUrl::as_str),
            min_cents,
            max_cents,
            requested_expiry: expires_at,
            fields_json: &identity_json,
        },
    };
    let reply = run_once(claim, &op).await?;
    tracing::info!(%reference, "recurrent reference answered");
    Ok(reply)
}

/// A reference binds its `reference_id` with no end (Unix s of 9999-12-31).
const NEVER: i64 = 253_402_300_799;

/// `payment_sources[0]` of the new customer.
fn source_request(payment_type: &str, expires_at: Option<i64>) -> Value {
    let mut source = json!({ "type": payment_type });
    if let Some(at) = expires_at {
        source["expires_at"] = json!(at);
    }
    source
}

/// What the reference's record keeps besides what Conekta made.
struct ReferenceRecord<'a> {
    reference_id: &'a str,
    notification_url: &'a str,
    approval_url: Option<&'a str>,
    min_cents: i64,
    max_cents: i64,
    requested_expiry: Option<i64>,
    fields_json: &'a str,
}

/// A Conekta customer with one reusable cash reference, made once per `reference_id`.
struct ReferenceOperation<'a> {
    client: &'a ConektaClient,
    secret: &'a ProviderSecret,
    /// The `POST /customers` body, without the attempt key.
    customer: Value,
    payment_type: &'a str,
    record: ReferenceRecord<'a>,
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
                secret: self.secret,
            };
            lookup
                .customer_made(attempt_key, earlier.started_at_ms)
                .await
        })
    }

    fn call<'a>(&'a self, attempt_key: &'a str) -> LocalBoxFuture<'a, Result<Found, CallError>> {
        Box::pin(async move {
            let mut customer = self.customer.clone();
            customer["metadata"][METADATA_KEY] = json!(attempt_key);
            self.client
                .post("/customers", self.secret, None, &customer)
                .await
                .map(Found::from)
                .map_err(CallError::Conekta)
        })
    }

    fn check(&self, found: Found) -> Result<Made, String> {
        let customer = found.json;
        let source = answers::reference_source(&customer, self.payment_type)?.clone();
        let customer_id = customer["id"].as_str().unwrap_or_default().to_owned();
        let answer = json!({
            "customer_id": customer_id,
            "payment_source_id": source["id"],
            "reference": source["reference"],
            "barcode": source["barcode"],
            "barcode_url": source["barcode_url"],
            "store_names": source["store_names"],
            "expires_at": source["expires_at"],
            "provider_response": customer,
        })
        .to_string();
        Ok(Made {
            answer,
            object_id: customer_id,
            expires_at: None,
            detail: source,
        })
    }

    fn finish<'a>(&'a self, made: &'a Made, account_hash: &'a str) -> Finish<'a> {
        let record = &self.record;
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
                reference_id: record.reference_id,
                customer_id: &made.object_id,
                payment_source_id: source["id"].as_str().unwrap_or_default(),
                reference: source["reference"].as_str().unwrap_or_default(),
                notification_url: record.notification_url,
                approval_url: record.approval_url,
                min_cents: record.min_cents,
                max_cents: record.max_cents,
                expires_at: source["expires_at"]
                    .as_i64()
                    .or(record.requested_expiry)
                    .unwrap_or(0),
                fields_json: record.fields_json,
                answer: &made.answer,
            }),
        }
    }
}

fn payment_type(value: &Value) -> Result<&'static str, String> {
    let text = as_str(value)?;
    PAYMENT_TYPES
        .iter()
        .find(|t| **t == text)
        .copied()
        .ok_or_else(|| format!("must be one of {}", PAYMENT_TYPES.join(", ")))
}

/// Unix seconds from one day to 365 days after `now`.
fn expiry(value: &Value, now: i64) -> Result<i64, String> {
    let at = value
        .as_i64()
        .ok_or("must be an integer: Unix time in seconds")?;
    if at < now + MIN_EXPIRY_S || at > now + MAX_EXPIRY_S {
        return Err("must be between one day and 365 days from now (Unix seconds)".to_owned());
    }
    Ok(at)
}
