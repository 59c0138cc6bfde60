//! The `reference` action's request (seeds 000, 001): a reusable cash reference on a new
//! Conekta customer, with the storefront's rules for approving each payment made with it.

use super::super::claim_flow::METADATA_KEY;
use super::super::wire::customers::{CustomerRequest, PaymentSourceRequest};
use super::common::{self, expiry, one_of};
use crate::domain::{
    person_name, Amount, Email, FieldError, FieldReader, Phone, ProviderSecret, ReferenceId,
    TargetUrl,
};
use serde_json::{json, Map, Value};

const PAYMENT_TYPES: &[&str] = &["cash_recurrent", "oxxo_recurrent"];
/// What a payment may be when the storefront sets no range: one peso up to OXXO's cap.
const DEFAULT_MIN: Amount = Amount::constant(100);
const DEFAULT_MAX: Amount = Amount::constant(1_000_000);
/// A reference may expire from one to 365 days after it is made (Conekta's stated window).
const MIN_EXPIRY_S: i64 = 86_400;
const MAX_EXPIRY_S: i64 = 365 * 86_400;

#[derive(Debug)]
pub struct ReferenceRequest {
    pub secret: ProviderSecret,
    pub reference_id: ReferenceId,
    pub notification_url: TargetUrl,
    pub first_name: String,
    pub last_name: String,
    pub email: Email,
    pub phone: Option<Phone>,
    pub payment_type: &'static str,
    pub expires_at: Option<i64>,
    pub min_amount: Option<Amount>,
    pub max_amount: Option<Amount>,
    pub approval_url: Option<TargetUrl>,
}

impl ReferenceRequest {
    pub fn parse(fields: &Map<String, Value>, now: i64) -> Result<Self, Vec<FieldError>> {
        let mut r = FieldReader::new(fields);
        let secret = r.required("secret", ProviderSecret::parse);
        let reference = r.required("reference_id", ReferenceId::parse);
        let notification_url = r.required("notification_url", TargetUrl::parse);
        let first_name = r.required("first_name", person_name);
        let last_name = r.required("last_name", person_name);
        let email = r.required("email", Email::parse);
        let payment_type = r.optional("payment_type", |v| one_of(v, PAYMENT_TYPES));
        let expires_at = r.optional("expires_at", |v| {
            expiry(v, now, MIN_EXPIRY_S, MAX_EXPIRY_S, "one day and 365 days")
        });
        let phone = r.optional("phone", Phone::parse);
        let min_amount = r.optional("min_amount", common::pesos);
        let max_amount = r.optional("max_amount", common::pesos);
        let approval_url = r.optional("approval_url", TargetUrl::parse);
        let request = |secret, reference_id, notification_url, first_name, last_name, email| Self {
            secret,
            reference_id,
            notification_url,
            first_name,
            last_name,
            email,
            phone,
            payment_type: payment_type.unwrap_or(PAYMENT_TYPES[0]),
            expires_at,
            min_amount,
            max_amount,
            approval_url,
        };
        let parsed = (move || {
            Some(request(
                secret?,
                reference?,
                notification_url?,
                first_name?,
                last_name?,
                email?,
            ))
        })();
        if let Some(request) = &parsed {
            if request.min() > request.max() {
                r.reject("max_amount", "must not be below min_amount");
            }
        }
        r.finish(parsed)
    }

    /// What a single payment may be, at least and at most.
    pub fn min(&self) -> Amount {
        self.min_amount.unwrap_or(DEFAULT_MIN)
    }

    pub fn max(&self) -> Amount {
        self.max_amount.unwrap_or(DEFAULT_MAX)
    }

    pub fn identity(&self) -> Map<String, Value> {
        let identity = json!({
            "action": "reference",
            "reference_id": self.reference_id,
            "notification_url": self.notification_url.as_str(),
            "first_name": self.first_name,
            "last_name": self.last_name,
            "email": self.email.as_str(),
            "phone": self.phone.as_ref().map(Phone::as_str),
            "payment_type": self.payment_type,
            "expires_at": self.expires_at,
            "min_amount": self.min_amount.map(Amount::pesos),
            "max_amount": self.max_amount.map(Amount::pesos),
            "approval_url": self.approval_url.as_ref().map(TargetUrl::as_str),
        });
        identity.as_object().cloned().unwrap_or_default()
    }

    /// Conekta's `POST /customers` body.
    pub fn customer<'a>(&'a self, phone: &'a str, attempt_key: &'a str) -> CustomerRequest<'a> {
        let source = match self.payment_type {
            "oxxo_recurrent" => PaymentSourceRequest::OxxoRecurrent {
                expires_at: self.expires_at,
            },
            _ => PaymentSourceRequest::CashRecurrent {
                expires_at: self.expires_at,
            },
        };
        CustomerRequest {
            name: format!("{} {}", self.first_name, self.last_name),
            email: self.email.as_str(),
            phone,
            payment_sources: vec![source],
            metadata: [
                ("reference_id", self.reference_id.as_str()),
                (METADATA_KEY, attempt_key),
            ]
            .into(),
        }
    }
}
