//! `charge` (seed 002): an on-demand charge to a customer's saved card, made once per reference.

use super::claim_flow::METADATA_KEY;
use super::order_flow::{encode, OrderSpec};
use super::ConektaProvider;
use crate::clock;
use crate::domain::field_errors::bounded_text;
use crate::domain::{
    currency, object_id, reference_id, Amount, FieldReader, ProviderSecret, TargetUrl,
};
use crate::providers::{ActionError, ActionReply};
use serde_json::{json, Map, Value};

/// A repeat of a charge with the same reference answers the stored order for this long.
pub const ORDER_BINDING_S: i64 = 30 * 86_400;

pub async fn charge(
    provider: &ConektaProvider,
    fields: Map<String, Value>,
) -> Result<ActionReply, ActionError> {
    let mut r = FieldReader::new(&fields);
    let secret = r.required("secret", ProviderSecret::parse);
    let customer_id = r.required("customer_id", object_id);
    let amount = r.required("amount", Amount::from_pesos);
    let reference = r.required("reference_id", reference_id);
    let notification_url = r.required("notification_url", TargetUrl::parse);
    let payment_source_id = r.optional("payment_source_id", object_id);
    let description = r.optional("description", |v| bounded_text(v, 3, 249));
    let currency = r
        .optional("currency", currency)
        .unwrap_or_else(|| "MXN".into());
    let parsed = (move || {
        Some((
            secret?,
            customer_id?,
            amount?,
            reference?,
            notification_url?,
        ))
    })();
    let (secret, customer_id, amount, reference, notification_url) =
        r.finish(parsed).map_err(ActionError::InvalidFields)?;
    provider.check_notification_url(&notification_url).await?;

    let payment_method = match &payment_source_id {
        Some(source) => json!({ "type": "card", "payment_source_id": source }),
        None => json!({ "type": "default" }),
    };
    let item_name = description
        .clone()
        .unwrap_or_else(|| item_name_for(&reference));
    let body = json!({
        "currency": currency,
        "customer_info": { "customer_id": customer_id },
        "line_items": [{ "name": item_name, "unit_price": amount.centavos(), "quantity": 1 }],
        "charges": [{ "payment_method": payment_method }],
        "metadata": { "reference_id": reference },
    });
    let identity = identity(&[
        ("action", json!("charge")),
        ("customer_id", json!(customer_id)),
        ("amount", json!(amount.pesos())),
        ("reference_id", json!(reference)),
        ("notification_url", json!(notification_url.as_str())),
        ("payment_source_id", json!(payment_source_id)),
        ("description", json!(description)),
        ("currency", json!(currency)),
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

/// An order paid by charges (no checkout), bound to its reference for `ORDER_BINDING_S`.
pub struct DirectOrder<'a> {
    pub secret: &'a ProviderSecret,
    pub reference_id: &'a str,
    pub notification_url: &'a TargetUrl,
    pub amount: Amount,
    pub currency: &'a str,
}

impl DirectOrder<'_> {
    /// Creates the order `body` once; the claim's attempt key joins its metadata.
    pub async fn create_once(
        &self,
        provider: &ConektaProvider,
        identity: Map<String, Value>,
        body: Value,
    ) -> Result<ActionReply, ActionError> {
        let body = |attempt_key: &str| {
            let mut body = body.clone();
            body["metadata"][METADATA_KEY] = Value::from(attempt_key);
            encode(&body)
        };
        provider
            .order_flow()
            .run(OrderSpec {
                secret: self.secret,
                reference_id: self.reference_id,
                identity,
                notification_url: self.notification_url.as_str(),
                amount_cents: self.amount.centavos(),
                currency: self.currency,
                binding_until: clock::unix_s() + ORDER_BINDING_S,
                body: &body,
                with_checkout: false,
            })
            .await
    }
}

/// A line item name from the reference, padded to Conekta's three-character minimum.
pub fn item_name_for(reference: &str) -> String {
    if reference.chars().count() < 3 {
        format!("Orden {reference}")
    } else {
        reference.to_owned()
    }
}

/// The fields that make two requests "the same", as a JSON object.
pub fn identity(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.clone()))
        .collect()
}
