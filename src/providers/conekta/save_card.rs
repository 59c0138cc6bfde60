//! `save_card` (seed 002): attach a tokenized card to a customer, new or existing. Card numbers
//! never pass through pagos: only Conekta's single-use `token_id` does.

use super::order_flow::provider_error;
use super::ConektaProvider;
use crate::domain::{boolean, object_id, person_name, Email, FieldReader, Phone, ProviderSecret};
use crate::providers::{ActionError, ActionReply};
use serde_json::{json, Map, Value};

pub async fn save_card(
    provider: &ConektaProvider,
    fields: Map<String, Value>,
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

    let client = provider.client();
    let (customer_id, source, is_default) = match (customer_id, new_customer) {
        (Some(customer_id), _) => {
            let source = client
                .post(
                    &format!("/customers/{customer_id}/payment_sources"),
                    &secret,
                    None,
                    &card,
                )
                .await
                .map_err(provider_error)?
                .json;
            let source_id = source["id"].as_str().unwrap_or_default().to_owned();
            if make_default {
                client
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
        (None, Some((first, last, email, phone))) => {
            let customer = client
                .post(
                    "/customers",
                    &secret,
                    None,
                    &json!({
                        "name": format!("{first} {last}"),
                        "email": email.as_str(),
                        "phone": provider.phone_or_default(phone.as_ref()),
                        "payment_sources": [card],
                    }),
                )
                .await
                .map_err(provider_error)?
                .json;
            let source = customer["payment_sources"]["data"][0].clone();
            // A customer's first card is its default.
            let customer_id = customer["id"].as_str().unwrap_or_default().to_owned();
            (customer_id, source, true)
        }
        (None, None) => {
            return Err(ActionError::field(
                "customer_id",
                "is required, or first_name, last_name and email for a new customer",
            ))
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
