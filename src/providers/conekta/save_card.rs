//! `save_card` (seed 002): attach a tokenized card to a customer, new or existing. Under an
//! `Idempotency-Key` the card is saved once: a new customer carries the key's attempt key in
//! its metadata, and for an existing customer the cards it had are noted first, so after an
//! unknown outcome the card that attempt saved is found instead of saved again.

use super::answers;
use super::claim_flow::{look_until_sure, provider_error};
use super::client::ConektaError;
use super::lookup::Lookup;
use super::request_key::KeyedAttempt;
use super::requests::{CardOwner, SaveCardRequest};
use super::wire::customers::{CustomerView, DefaultSourceUpdate, PaymentSourceView};
use super::ConektaProvider;
use crate::providers::{ActionError, ActionReply};
use serde_json::{json, Map, Value};

pub async fn save_card(
    provider: &ConektaProvider,
    fields: Map<String, Value>,
    keyed: Option<&mut KeyedAttempt<'_>>,
) -> Result<ActionReply, ActionError> {
    let request = SaveCardRequest::parse(&fields).map_err(ActionError::InvalidFields)?;
    let saver = CardSaver {
        provider,
        request: &request,
    };
    let (customer_id, card, is_default) = match &request.owner {
        CardOwner::Existing(customer_id) => {
            let card = saver.add_card(customer_id, keyed).await?;
            if request.make_default {
                provider
                    .client()
                    .put(
                        &format!("/customers/{customer_id}"),
                        &request.secret,
                        &DefaultSourceUpdate {
                            default_payment_source_id: &card.id,
                        },
                    )
                    .await
                    .map_err(provider_error)?;
            }
            (customer_id.clone(), card, request.make_default)
        }
        CardOwner::New { .. } => {
            let customer = saver.new_customer(keyed).await?;
            // A customer's first card is its default.
            let card = customer.cards().next().cloned().ok_or_else(no_card)?;
            (customer.id, card, true)
        }
    };
    let answer = json!({
        "customer_id": customer_id,
        "payment_source_id": card.id,
        "brand": card.brand,
        "last4": card.last4,
        "default": is_default,
    });
    Ok(ActionReply {
        body: answer.to_string(),
    })
}

fn no_card() -> ActionError {
    ActionError::ProviderUnavailable("Conekta answered without the saved card".to_owned())
}

fn unreadable(reason: String) -> ActionError {
    ActionError::ProviderUnavailable(reason)
}

struct CardSaver<'a> {
    provider: &'a ConektaProvider,
    request: &'a SaveCardRequest,
}

impl CardSaver<'_> {
    /// Saves the card on an existing customer; the saved card.
    async fn add_card(
        &self,
        customer_id: &str,
        keyed: Option<&mut KeyedAttempt<'_>>,
    ) -> Result<PaymentSourceView, ActionError> {
        let client = self.provider.client();
        let secret = &self.request.secret;
        let customer_path = format!("/customers/{customer_id}");
        if let Some(keyed) = keyed {
            if let Some(earlier) = &keyed.earlier {
                let known: Option<Vec<String>> = earlier
                    .note
                    .as_deref()
                    .and_then(|note| serde_json::from_str(note).ok());
                if let Some(known) = known {
                    let found =
                        look_until_sure(self.provider.budget(), earlier.started_at_ms, || {
                            self.card_added(&customer_path, &known)
                        })
                        .await
                        .map_err(provider_error)?;
                    if let Some(card) = found {
                        return Ok(card);
                    }
                }
            }
            let customer = client
                .get(&customer_path, secret)
                .await
                .map_err(provider_error)?;
            let customer = answers::customer(&customer.text).map_err(unreadable)?;
            let known: Vec<&str> = customer.cards().map(|card| card.id.as_str()).collect();
            keyed.begin(&json!(known).to_string()).await?;
        }
        let saved = client
            .post(
                &format!("{customer_path}/payment_sources"),
                secret,
                None,
                &self.request.card(),
            )
            .await
            .map_err(provider_error)?;
        serde_json::from_str::<PaymentSourceView>(&saved.text)
            .ok()
            .filter(|card| !card.id.is_empty())
            .ok_or_else(no_card)
    }

    /// The card an earlier attempt added: the one card the customer has now that it did not
    /// have before. Two new ones cannot be told apart: that is not certain enough to answer.
    async fn card_added(
        &self,
        customer_path: &str,
        known: &[String],
    ) -> Result<Option<PaymentSourceView>, ConektaError> {
        let answer = self
            .provider
            .client()
            .get(customer_path, &self.request.secret)
            .await?;
        let customer =
            answers::customer(&answer.text).map_err(|reason| ConektaError::Unavailable {
                reason,
                maybe_done: false,
            })?;
        let added: Vec<&PaymentSourceView> = customer
            .cards()
            .filter(|card| !known.contains(&card.id))
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
        keyed: Option<&mut KeyedAttempt<'_>>,
    ) -> Result<CustomerView, ActionError> {
        let client = self.provider.client();
        let secret = &self.request.secret;
        let phone = match &self.request.owner {
            CardOwner::New { phone, .. } => self.provider.phone_or_default(phone.as_ref()),
            CardOwner::Existing(_) => self.provider.phone_or_default(None),
        };
        let attempt_key = match keyed {
            Some(keyed) => {
                if let Some(earlier) = &keyed.earlier {
                    let lookup = Lookup { client, secret };
                    let found =
                        look_until_sure(self.provider.budget(), earlier.started_at_ms, || {
                            lookup.customer_made(&keyed.attempt_key, earlier.started_at_ms)
                        })
                        .await
                        .map_err(provider_error)?;
                    if let Some(customer) = found {
                        return answers::customer(&customer.text).map_err(unreadable);
                    }
                }
                keyed.begin("{}").await?;
                Some(keyed.attempt_key.clone())
            }
            None => None,
        };
        let body = self
            .request
            .new_customer(phone, attempt_key.as_deref())
            .ok_or_else(no_card)?;
        let answer = client
            .post("/customers", secret, None, &body)
            .await
            .map_err(provider_error)?;
        answers::customer(&answer.text).map_err(unreadable)
    }
}
