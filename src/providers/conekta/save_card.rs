//! `save_card` (seed 002): attach a tokenized card to a customer, new or existing. Card numbers
//! never pass through pagos: only Conekta's single-use `token_id` does. Under an
//! `Idempotency-Key` the card is saved once: a new customer carries the key's attempt key in
//! its metadata, and for an existing customer the cards it had are noted first, so after an
//! unknown outcome the card that attempt saved is found instead of saved again.

use super::claim_flow::{look_until_sure, provider_error, Found, METADATA_KEY};
use super::client::ConektaError;
use super::lookup::Lookup;
use super::request_key::KeyedAttempt;
use super::ConektaProvider;
use crate::domain::{boolean, object_id, person_name, Email, FieldReader, Phone, ProviderSecret};
use crate::providers::{ActionError, ActionReply};
use serde_json::{json, Map, Value};

/// Who the card is for.
enum Owner {
    Existing(String),
    New(Value),
}

pub async fn save_card(
    provider: &ConektaProvider,
    fields: Map<String, Value>,
    mut keyed: Option<&mut KeyedAttempt<'_>>,
) -> Result<ActionReply, ActionError> {
    let mut r = FieldReader::new(&fields);
    let secret = r.required("secret", ProviderSecret::parse);
    let token_id = r.required("token_id", object_id);
    let customer_id = r.optional("customer_id", object_id);
    let make_default = r.optional("make_default", boolean).unwrap_or(false);
    // Without a customer, one is made: then the buyer's details are required.
    let new_customer = if r.value("customer_id").is_none() {
        let first = r.required("first_name", person_name);
        let last = r.required("last_name", person_name);
        let email = r.required("email", Email::parse);
        let phone = r.optional("phone", Phone::parse);
        first
            .zip(last)
            .zip(email)
            .map(|((f, l), e)| (f, l, e, phone))
    } else {
        None
    };
    let parsed = secret.zip(token_id);
    let (secret, token_id) = r.finish(parsed).map_err(ActionError::InvalidFields)?;
    let card = json!({ "type": "card", "token_id": token_id });
    let owner = match (customer_id, new_customer) {
        (Some(customer_id), _) => Owner::Existing(customer_id),
        (None, Some((first, last, email, phone))) => Owner::New(json!({
            "name": format!("{first} {last}"),
            "email": email.as_str(),
            "phone": provider.phone_or_default(phone.as_ref()),
            "payment_sources": [card],
        })),
        (None, None) => {
            return Err(ActionError::field(
                "customer_id",
                "is required, or first_name, last_name and email for a new customer",
            ))
        }
    };
    let saver = CardSaver {
        provider,
        secret: &secret,
    };
    let (customer_id, source, is_default) = match owner {
        Owner::Existing(customer_id) => {
            let source = saver
                .add_card(&customer_id, &card, keyed.as_deref_mut())
                .await?;
            let source_id = source["id"].as_str().unwrap_or_default();
            if make_default && !source_id.is_empty() {
                provider
                    .client()
                    .put(
                        &format!("/customers/{customer_id}"),
                        &secret,
                        &json!({ "default_payment_source_id": source_id }),
                    )
                    .await
                    .map_err(provider_error)?;
            }
            (customer_id, source, make_default)
        }
        Owner::New(body) => {
            let customer = saver.new_customer(body, keyed).await?;
            let source = customer["payment_sources"]["data"][0].clone();
            // A customer's first card is its default.
            let customer_id = customer["id"].as_str().unwrap_or_default().to_owned();
            (customer_id, source, true)
        }
    };
    if customer_id.is_empty() || source["id"].as_str().is_none() {
        return Err(ActionError::ProviderUnavailable(
            "Conekta answered without the saved card".to_owned(),
        ));
    }
    let answer = json!({
        "customer_id": customer_id,
        "payment_source_id": source["id"],
        "brand": source["brand"],
        "last4": source["last4"],
        "default": is_default,
    });
    Ok(ActionReply {
        body: answer.to_string(),
    })
}

struct CardSaver<'a> {
    provider: &'a ConektaProvider,
    secret: &'a ProviderSecret,
}

impl CardSaver<'_> {
    /// Saves the card on an existing customer; the saved source.
    async fn add_card(
        &self,
        customer_id: &str,
        card: &Value,
        keyed: Option<&mut KeyedAttempt<'_>>,
    ) -> Result<Value, ActionError> {
        let client = self.provider.client();
        let customer_path = format!("/customers/{customer_id}");
        if let Some(keyed) = keyed {
            if let Some(earlier) = &keyed.earlier {
                if let Some(known) = earlier.note.as_deref().and_then(known_cards) {
                    let found =
                        look_until_sure(self.provider.budget(), earlier.started_at_ms, || {
                            self.card_added(&customer_path, &known)
                        })
                        .await
                        .map_err(provider_error)?;
                    if let Some(source) = found {
                        return Ok(source);
                    }
                }
            }
            let customer = client
                .get(&customer_path, self.secret)
                .await
                .map_err(provider_error)?;
            keyed
                .begin(&json!(card_ids(&customer.json)).to_string())
                .await?;
        }
        client
            .post(
                &format!("{customer_path}/payment_sources"),
                self.secret,
                None,
                card,
            )
            .await
            .map(|answer| answer.json)
            .map_err(provider_error)
    }

    /// The card an earlier attempt added: the one card source the customer has now that it did
    /// not have before. Two new ones cannot be told apart: that is not certain enough to answer.
    async fn card_added(
        &self,
        customer_path: &str,
        known: &[String],
    ) -> Result<Option<Value>, ConektaError> {
        let customer = self
            .provider
            .client()
            .get(customer_path, self.secret)
            .await?;
        let added: Vec<&Value> = cards(&customer.json)
            .filter(|card| !known.iter().any(|id| card["id"].as_str() == Some(id)))
            .collect();
        match added.as_slice() {
            [] => Ok(None),
            [card] => Ok(Some((*card).clone())),
            _ => Err(ConektaError::Unavailable {
                reason: "several cards were added to the customer since the earlier attempt; \
                         which one it saved is not certain"
                    .to_owned(),
                maybe_done: false,
            }),
        }
    }

    /// Makes a customer with the card; the customer.
    async fn new_customer(
        &self,
        mut body: Value,
        keyed: Option<&mut KeyedAttempt<'_>>,
    ) -> Result<Value, ActionError> {
        let client = self.provider.client();
        if let Some(keyed) = keyed {
            if let Some(earlier) = &keyed.earlier {
                let lookup = Lookup {
                    client,
                    secret: self.secret,
                };
                let found: Option<Found> =
                    look_until_sure(self.provider.budget(), earlier.started_at_ms, || {
                        lookup.customer_made(&keyed.attempt_key, earlier.started_at_ms)
                    })
                    .await
                    .map_err(provider_error)?;
                if let Some(customer) = found {
                    return Ok(customer.json);
                }
            }
            keyed.begin("{}").await?;
            body["metadata"][METADATA_KEY] = json!(keyed.attempt_key);
        }
        client
            .post("/customers", self.secret, None, &body)
            .await
            .map(|answer| answer.json)
            .map_err(provider_error)
    }
}

fn cards(customer: &Value) -> impl Iterator<Item = &Value> {
    customer["payment_sources"]["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|source| source["type"] == "card")
}

fn card_ids(customer: &Value) -> Vec<String> {
    cards(customer)
        .filter_map(|card| card["id"].as_str().map(str::to_owned))
        .collect()
}

/// The card ids an earlier attempt noted.
fn known_cards(note: &str) -> Option<Vec<String>> {
    serde_json::from_str(note).ok()
}
