//! `create` (a HostedPayment checkout), `charge` (seed 002: a saved card, charged now) and
//! `split` (seed 003: charges that add up to the order): each request is one order, made once
//! per storefront reference through `order_flow`.

use super::order_flow::OrderSource;
use super::requests::create::{OrderExtras, DEFAULT_EXPIRY_S};
use super::requests::{ChargeRequest, CreateRequest, SplitRequest};
use super::ConektaProvider;
use crate::domain::{Amount, Currency, ProviderSecret, ReferenceId, TargetUrl};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// A repeat of a charge (or split) with the same reference answers the stored order this long.
pub const ORDER_BINDING_S: i64 = 30 * 86_400;

/// The accessors every order request shares, by field name.
macro_rules! order_fields {
    () => {
        fn secret(&self) -> &ProviderSecret {
            &self.secret
        }
        fn reference_id(&self) -> &ReferenceId {
            &self.reference_id
        }
        fn notification_url(&self) -> &TargetUrl {
            &self.notification_url
        }
        fn amount(&self) -> Amount {
            self.amount
        }
        fn currency(&self) -> &Currency {
            &self.currency
        }
        fn identity(&self) -> Map<String, Value> {
            Self::identity(self)
        }
    };
}

impl OrderSource for CreateRequest {
    order_fields!();

    fn binding_until(&self, now: i64) -> i64 {
        self.expires_at.unwrap_or(now + DEFAULT_EXPIRY_S)
    }

    fn with_checkout(&self) -> bool {
        true
    }

    fn order_body(
        &self,
        provider: &ConektaProvider,
        binding_until: i64,
        attempt_key: &str,
    ) -> Result<Box<RawValue>, serde_json::Error> {
        self.order_body(&OrderExtras {
            phone: provider.phone_or_default(self.phone.as_ref()),
            expires_at: binding_until,
            attempt_key,
        })
    }
}

impl OrderSource for ChargeRequest {
    order_fields!();

    fn binding_until(&self, now: i64) -> i64 {
        now + ORDER_BINDING_S
    }

    fn with_checkout(&self) -> bool {
        false
    }

    fn order_body(
        &self,
        _provider: &ConektaProvider,
        _binding_until: i64,
        attempt_key: &str,
    ) -> Result<Box<RawValue>, serde_json::Error> {
        self.order_body(attempt_key)
    }
}

impl OrderSource for SplitRequest {
    order_fields!();

    fn binding_until(&self, now: i64) -> i64 {
        now + ORDER_BINDING_S
    }

    fn with_checkout(&self) -> bool {
        false
    }

    fn order_body(
        &self,
        provider: &ConektaProvider,
        _binding_until: i64,
        attempt_key: &str,
    ) -> Result<Box<RawValue>, serde_json::Error> {
        self.order_body(provider.phone_or_default(self.phone.as_ref()), attempt_key)
    }
}
