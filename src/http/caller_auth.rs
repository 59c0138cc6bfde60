//! Who is calling `/pagos` (and `/deliveries`): with storefronts configured, the storefront
//! whose API key the request carries (none: 401); without, the single storefront, which must
//! present one of `PAGOS__SERVER__API_KEYS` when those are set (unset: open to the internal
//! network).

use super::bearer::{bearer_token, BearerTokens};
use super::problem::Problem;
use crate::storefronts::{Storefront, Storefronts};
use actix_web::{HttpMessage, HttpRequest};
use secrecy::SecretString;

/// The name of the storefront a request came from, once identified.
#[derive(Debug, Clone)]
pub struct CallerName(pub String);

#[derive(Clone)]
pub struct Callers {
    storefronts: Storefronts,
    /// Single-storefront mode: the accepted keys.
    api_keys: BearerTokens,
}

impl Callers {
    pub fn new(storefronts: Storefronts, api_keys: Option<&SecretString>) -> Self {
        Self {
            storefronts,
            api_keys: BearerTokens::from_list(api_keys),
        }
    }

    /// True when a caller must present a key.
    pub fn is_enabled(&self) -> bool {
        self.storefronts.is_several() || !self.api_keys.is_empty()
    }

    /// The storefront calling (`None`: single-storefront mode), or a 401. Its name is left on
    /// the request for the request metrics (`CallerName`).
    pub fn identify(&self, request: &HttpRequest) -> Result<Option<&Storefront>, Problem> {
        if self.storefronts.is_several() {
            let storefront = bearer_token(request)
                .and_then(|token| self.storefronts.by_token(&token))
                .ok_or_else(|| {
                    Problem::unauthorized(
                        "a storefront's API key is required: Authorization: Bearer <key>",
                    )
                })?;
            request
                .extensions_mut()
                .insert(CallerName(storefront.name.clone()));
            return Ok(Some(storefront));
        }
        if self.api_keys.is_empty() || self.api_keys.admit(request) {
            return Ok(None);
        }
        Err(Problem::unauthorized(
            "a valid API key is required: Authorization: Bearer <key>",
        ))
    }
}
