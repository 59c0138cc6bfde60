//! Optional caller authentication for `/pagos` (`PAGOS__SERVER__API_KEYS`).

use super::bearer::BearerTokens;
use super::problem::Problem;
use actix_web::HttpRequest;
use secrecy::SecretString;

/// The accepted keys; none configured: `/pagos` is open to the internal network.
#[derive(Clone, Default)]
pub struct ApiKeys(BearerTokens);

impl ApiKeys {
    pub fn new(configured: Option<&SecretString>) -> Self {
        Self(BearerTokens::from_list(configured))
    }

    pub fn is_enabled(&self) -> bool {
        !self.0.is_empty()
    }

    pub fn check(&self, request: &HttpRequest) -> Result<(), Problem> {
        if self.0.is_empty() || self.0.admit(request) {
            return Ok(());
        }
        Err(Problem::unauthorized(
            "a valid API key is required: Authorization: Bearer <key>",
        ))
    }
}
