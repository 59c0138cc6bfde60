//! `split` (seed 003): one order paid by several charges (SPEI, cash, card), summing exactly.

use super::charge::{identity, item_name_for, DirectOrder};
use super::ConektaProvider;
use crate::domain::field_errors::bounded_text;
use crate::domain::{
    currency, object_id, person_name, reference_id, Amount, Email, FieldReader, Phone,
    ProviderSecret, TargetUrl,
};
use crate::providers::{ActionError, ActionReply};
use serde_json::{json, Map, Value};

const METHODS: &[&str] = &["spei", "cash", "card"];
const MAX_CHARGES: usize = 10;

/// One part of the payment.
struct SplitCharge {
    method: String,
    amount: Amount,
    token_id: Option<String>,
}

pub async fn split(
    provider: &ConektaProvider,
    fields: Map<String, Value>,
) -> Result<ActionReply, ActionError> {
    let mut r = FieldReader::new(&fields);
    let secret = r.required("secret", ProviderSecret::parse);
    let amount = r.required("amount", Amount::from_pesos);
    let reference = r.required("reference_id", reference_id);
    let notification_url = r.required("notification_url", TargetUrl::parse);
    let first_name = r.required("first_name", person_name);
    let last_name = r.required("last_name", person_name);
    let email = r.required("email", Email::parse);
    let phone = r.optional("phone", Phone::parse);
    let description = r.optional("description", |v| bounded_text(v, 3, 249));
    let currency = r
        .optional("currency", currency)
        .unwrap_or_else(|| "MXN".into());
    let charges = r.required("charges", charges);
    if let (Some(total), Some(parts)) = (amount, &charges) {
        let sum: i64 = parts.iter().map(|c| c.amount.centavos()).sum();
        if sum != total.centavos() {
            r.reject(
                "charges",
                format!(
                    "must add up to amount exactly: they add up to {}, amount is {}",
                    rust_decimal::Decimal::new(sum, 2),
                    total.pesos()
                ),
            );
        }
    }
    let parsed = (move || {
        Some((
            secret?,
            amount?,
            reference?,
            notification_url?,
            first_name?,
            last_name?,
            email?,
            charges?,
        ))
    })();
    let (secret, amount, reference, notification_url, first_name, last_name, email, charges) =
        r.finish(parsed).map_err(ActionError::InvalidFields)?;
    provider.check_notification_url(&notification_url).await?;

    let conekta_charges: Vec<Value> = charges
        .iter()
        .map(|c| {
            let mut method = json!({ "type": c.method });
            if let Some(token) = &c.token_id {
                method["token_id"] = json!(token);
            }
            json!({ "payment_method": method, "amount": c.amount.centavos() })
        })
        .collect();
    let item_name = description
        .clone()
        .unwrap_or_else(|| item_name_for(&reference));
    let name = format!("{first_name} {last_name}");
    let body = json!({
        "currency": currency,
        "customer_info": {
            "name": name,
            "email": email.as_str(),
            "phone": provider.phone_or_default(phone.as_ref()),
        },
        "line_items": [{ "name": item_name, "unit_price": amount.centavos(), "quantity": 1 }],
        "charges": conekta_charges,
        "metadata": { "reference_id": reference },
    });
    // A card token is kept only as its hash: enough to tell two requests apart.
    let parts: Vec<Value> = charges
        .iter()
        .map(|c| {
            json!({
                "method": c.method,
                "amount": c.amount.pesos(),
                "token_id": c.token_id.as_deref().map(token_digest),
            })
        })
        .collect();
    let identity = identity(&[
        ("action", json!("split")),
        ("amount", json!(amount.pesos())),
        ("reference_id", json!(reference)),
        ("notification_url", json!(notification_url.as_str())),
        ("first_name", json!(first_name)),
        ("last_name", json!(last_name)),
        ("email", json!(email.as_str())),
        ("phone", json!(phone.as_ref().map(Phone::as_str))),
        ("description", json!(description)),
        ("currency", json!(currency)),
        ("charges", json!(parts)),
    ]);
    let spec = DirectOrder {
        secret: &secret,
        reference_id: &reference,
        notification_url: &notification_url,
        amount,
        currency: &currency,
    };
    spec.create_once(provider, identity, body).await
}

/// What the store keeps of a card token: its SHA-256, never the token.
fn token_digest(token: &str) -> String {
    use sha2::Digest;
    format!(
        "sha256:{}",
        hex::encode(sha2::Sha256::digest(token.as_bytes()))
    )
}

/// `[{method, amount, token_id?}]`: every problem is reported with its position.
fn charges(value: &Value) -> Result<Vec<SplitCharge>, String> {
    let items = value.as_array().ok_or("must be an array of charges")?;
    if items.is_empty() || items.len() > MAX_CHARGES {
        return Err(format!("must hold 1 to {MAX_CHARGES} charges"));
    }
    let mut problems = Vec::new();
    let mut parsed = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let method = item["method"].as_str().unwrap_or_default();
        if !METHODS.contains(&method) {
            problems.push(format!("[{i}].method must be one of spei, cash, card"));
        }
        let amount = match item.get("amount").filter(|v| !v.is_null()) {
            None => {
                problems.push(format!("[{i}].amount is required"));
                None
            }
            Some(value) => Amount::from_pesos(value)
                .map_err(|message| problems.push(format!("[{i}].amount {message}")))
                .ok(),
        };
        let token_id = match (method, item.get("token_id").filter(|v| !v.is_null())) {
            ("card", None) => {
                problems.push(format!("[{i}].token_id is required for a card"));
                None
            }
            ("card", Some(token)) => object_id(token)
                .map_err(|message| problems.push(format!("[{i}].token_id {message}")))
                .ok(),
            (_, Some(_)) => {
                problems.push(format!("[{i}].token_id is only for card charges"));
                None
            }
            (_, None) => None,
        };
        if let Some(amount) = amount {
            parsed.push(SplitCharge {
                method: method.to_owned(),
                amount,
                token_id,
            });
        }
    }
    if problems.is_empty() {
        Ok(parsed)
    } else {
        Err(problems.join("; "))
    }
}
