//! Conekta's settings (`PAGOS__CONEKTA__*`), read once at start into their types.

use super::digest::DigestVerifier;
use crate::domain::Phone;
use serde::Deserialize;
use std::time::Duration;
use url::Url;

/// The `[conekta]` section as written.
#[derive(Debug, Clone, Deserialize)]
pub struct RawConektaSettings {
    pub api_url: String,
    pub timeout_ms: String,
    pub default_phone: String,
    #[serde(default)]
    pub webhook_public_key: Option<String>,
}

#[derive(Clone)]
pub struct ConektaSettings {
    /// Conekta's API base, without a trailing slash.
    pub api_url: Url,
    /// The whole budget of one call.
    pub timeout: Duration,
    /// Sent when a request carries no phone (Conekta requires one on inline customers).
    pub default_phone: Phone,
    /// The keys webhooks must verify against; `None`: every webhook is refused.
    pub webhook_keys: Option<DigestVerifier>,
}

/// A setting's name, its value as shown (never a secret), and what is wrong with it.
pub type Invalid = (&'static str, String, String);

impl RawConektaSettings {
    pub fn parse(self) -> Result<ConektaSettings, Invalid> {
        let api_url = Url::parse(&self.api_url)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
            .ok_or_else(|| {
                (
                    "PAGOS__CONEKTA__API_URL",
                    self.api_url.clone(),
                    "must be an http(s) URL".to_owned(),
                )
            })?;
        let timeout = self
            .timeout_ms
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis)
            .ok_or_else(|| {
                (
                    "PAGOS__CONEKTA__TIMEOUT_MS",
                    self.timeout_ms.clone(),
                    "must be a whole number of milliseconds above 0".to_owned(),
                )
            })?;
        let default_phone = Phone::parse(&serde_json::Value::String(self.default_phone.clone()))
            .map_err(|reason| {
                (
                    "PAGOS__CONEKTA__DEFAULT_PHONE",
                    self.default_phone.clone(),
                    reason,
                )
            })?;
        let webhook_keys = match self.webhook_public_key.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(pem) => Some(DigestVerifier::from_pem(pem).map_err(|reason| {
                (
                    "PAGOS__CONEKTA__WEBHOOK_PUBLIC_KEY",
                    "(PEM text)".to_owned(),
                    reason,
                )
            })?),
        };
        Ok(ConektaSettings {
            api_url,
            timeout,
            default_phone,
            webhook_keys,
        })
    }
}

impl ConektaSettings {
    /// The API base as text, without a trailing slash (paths are appended to it).
    pub fn api_base(&self) -> &str {
        self.api_url.as_str().trim_end_matches('/')
    }
}
