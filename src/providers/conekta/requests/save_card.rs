//! The `save_card` action's request (seed 002): a tokenized card for a customer, new or
//! existing. Card numbers never pass through pagos: only Conekta's single-use `token_id` does.

use super::super::claim_flow::METADATA_KEY;
use super::super::wire::customers::{CustomerRequest, PaymentSourceRequest};
use crate::domain::{
    boolean, object_id, person_name, Email, FieldError, FieldReader, Phone, ProviderSecret,
};
use serde_json::{Map, Value};

/// Whose card it is.
#[derive(Debug)]
pub enum CardOwner {
    Existing(String),
    New {
        first_name: String,
        last_name: String,
        email: Email,
        phone: Option<Phone>,
    },
}

#[derive(Debug)]
pub struct SaveCardRequest {
    pub secret: ProviderSecret,
    pub token_id: String,
    pub owner: CardOwner,
    /// An existing customer's new card becomes its default (a new customer's first card is).
    pub make_default: bool,
}

impl SaveCardRequest {
    pub fn parse(fields: &Map<String, Value>) -> Result<Self, Vec<FieldError>> {
        let mut r = FieldReader::new(fields);
        let secret = r.required("secret", ProviderSecret::parse);
        let token_id = r.required("token_id", object_id);
        let customer_id = r.optional("customer_id", object_id);
        let make_default = r.optional("make_default", boolean).unwrap_or(false);
        // Without a customer, one is made: then the buyer's details are required.
        let owner = if r.value("customer_id").is_none() {
            let first_name = r.required("first_name", person_name);
            let last_name = r.required("last_name", person_name);
            let email = r.required("email", Email::parse);
            let phone = r.optional("phone", Phone::parse);
            (move || {
                Some(CardOwner::New {
                    first_name: first_name?,
                    last_name: last_name?,
                    email: email?,
                    phone,
                })
            })()
        } else {
            customer_id.map(CardOwner::Existing)
        };
        let parsed = (move || {
            Some(Self {
                secret: secret?,
                token_id: token_id?,
                owner: owner?,
                make_default,
            })
        })();
        r.finish(parsed)
    }

    /// The card, as a payment source to create.
    pub fn card(&self) -> PaymentSourceRequest<'_> {
        PaymentSourceRequest::Card {
            token_id: &self.token_id,
        }
    }

    /// A new customer with the card, carrying `attempt_key` when it must be found again.
    pub fn new_customer<'a>(
        &'a self,
        phone: &'a str,
        attempt_key: Option<&'a str>,
    ) -> Option<CustomerRequest<'a>> {
        let CardOwner::New {
            first_name,
            last_name,
            email,
            ..
        } = &self.owner
        else {
            return None;
        };
        Some(CustomerRequest {
            name: format!("{first_name} {last_name}"),
            email: email.as_str(),
            phone,
            payment_sources: vec![self.card()],
            metadata: attempt_key
                .map(|key| (METADATA_KEY, key))
                .into_iter()
                .collect(),
        })
    }
}
