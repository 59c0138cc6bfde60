//! Optional caller authentication for `/pagos` (`PAGOS__SERVER__API_KEYS`).

use super::problem::Problem;
use actix_web::HttpRequest;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

/// Digests of the accepted tokens; comparing digests reveals nothing about a token's bytes.
/// Empty: no key configured, `/pagos` is open to the internal network.
#[derive(Clone, Default)]
pub struct ApiKeys(Vec<[u8; 32]>);

impl ApiKeys {
    pub fn new(configured: Option<&SecretString>) -> Self {
        let keys = configured
            .map(|keys| {
                keys.expose_secret()
                    .split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(digest)
                    .collect()
            })
            .unwrap_or_default();
        Self(keys)
    }

    pub fn is_enabled(&self) -> bool {
        !self.0.is_empty()
    }

    pub fn check(&self, request: &HttpRequest) -> Result<(), Problem> {
        if self.0.is_empty() {
            return Ok(());
        }
        let presented = request
            .headers()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(|token| digest(token.trim()));
        match presented {
            Some(token) if self.0.contains(&token) => Ok(()),
            _ => Err(Problem::unauthorized(
                "a valid API key is required: Authorization: Bearer <key>",
            )),
        }
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}
