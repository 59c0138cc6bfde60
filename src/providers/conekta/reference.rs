//! `reference` (seeds 000, 001): a reusable cash reference (`cash_recurrent` or
//! `oxxo_recurrent`) on a new Conekta customer, kept with the storefront's rules for approving
//! each payment made with it.

use super::order_flow::{differences, provider_error, store_down};
use super::{ConektaProvider, PROVIDER};
use crate::clock;
use crate::domain::field_errors::as_str;
use crate::domain::{
    person_name, reference_id, Amount, Email, FieldReader, Phone, ProviderSecret, TargetUrl,
};
use crate::providers::{ActionError, ActionReply};
use crate::store::NewReference;
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
    let identity = identity.as_object().cloned().unwrap_or_default();
    let identity_json = Value::Object(identity.clone()).to_string();
    let account_hash = secret.account_hash();

    // A repeat answers what the first one got; other fields under the same id are a conflict.
    let store = provider.store();
    let earlier = store
        .reference_by_storefront_id(PROVIDER, &account_hash, &reference)
        .await
        .map_err(store_down)?;
    if let Some(earlier) = earlier {
        return if earlier.fields_json == identity_json {
            Ok(ActionReply {
                body: earlier.answer,
            })
        } else {
            Err(differences(&identity, &earlier.fields_json))
        };
    }

    let mut source_request = json!({ "type": payment_type });
    if let Some(at) = expires_at {
        source_request["expires_at"] = json!(at);
    }
    let customer = provider
        .client()
        .post(
            "/customers",
            &secret,
            None,
            &json!({
                "name": format!("{first_name} {last_name}"),
                "email": email.as_str(),
                "phone": provider.phone_or_default(phone.as_ref()),
                "payment_sources": [source_request],
                "metadata": { "reference_id": reference },
            }),
        )
        .await
        .map_err(provider_error)?
        .json;
    let source = &customer["payment_sources"]["data"][0];
    let (Some(customer_id), Some(source_id), Some(number)) = (
        customer["id"].as_str(),
        source["id"].as_str(),
        source["reference"].as_str(),
    ) else {
        return Err(ActionError::ProviderUnavailable(
            "Conekta answered without the reference".to_owned(),
        ));
    };
    let answer = json!({
        "customer_id": customer_id,
        "payment_source_id": source_id,
        "reference": number,
        "barcode": source["barcode"],
        "barcode_url": source["barcode_url"],
        "store_names": source["store_names"],
        "expires_at": source["expires_at"],
        "provider_response": customer,
    })
    .to_string();
    let inserted = store
        .insert_reference(&NewReference {
            provider: PROVIDER,
            account_hash: &account_hash,
            reference_id: &reference,
            customer_id,
            payment_source_id: source_id,
            reference: number,
            notification_url: notification_url.as_str(),
            approval_url: approval_url.as_ref().map(TargetUrl::as_str),
            min_cents,
            max_cents,
            expires_at: source["expires_at"].as_i64().or(expires_at).unwrap_or(0),
            fields_json: &identity_json,
            answer: &answer,
        })
        .await
        .map_err(store_down)?;
    if !inserted {
        tracing::warn!(%reference, "a concurrent request created this reference first");
    }
    tracing::info!(%reference, %customer_id, "recurrent reference created");
    Ok(ActionReply { body: answer })
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
