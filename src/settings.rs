//! One `Settings` struct, layered: built-in defaults, then the TOML file named by `PAGOS_CONFIG`,
//! then `PAGOS__SECTION__KEY` environment variables.

use config::{Config, Environment, File, FileFormat};
use secrecy::SecretString;
use serde::Deserialize;
use std::time::Duration;

/// The defaults, in the same TOML shape an operator's `PAGOS_CONFIG` file uses.
const DEFAULTS: &str = r#"
[server]
host = "0.0.0.0"
port = 8080

[database]
url = "sqlite://pagos.db?mode=rwc"

[conekta]
api_url = "https://api.conekta.io"
timeout_ms = 10000
default_phone = "+5215555555555"

[relay]
retry_schedule = "5s,5m,30m,2h,5h,10h,10h"
timeout_ms = 15000
allow_private_targets = false

[admin]
"#;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub conekta: ConektaSettings,
    pub relay: RelaySettings,
    pub admin: AdminSettings,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    /// Comma-separated bearer tokens callers of `/pagos` must present; unset: open.
    #[serde(default)]
    pub api_keys: Option<SecretString>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    /// May carry a password (`postgres://user:pass@…`), so it never prints.
    pub url: SecretString,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ConektaSettings {
    pub api_url: String,
    pub timeout_ms: u64,
    pub default_phone: String,
    /// PEM text of one or more public keys (concatenated blocks) webhooks must verify against.
    #[serde(default)]
    pub webhook_public_key: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RelaySettings {
    /// `whsec_<base64>`: signs every notification (Standard Webhooks).
    #[serde(default)]
    pub signing_secret: Option<SecretString>,
    /// Delays between delivery attempts, e.g. `5s,5m,30m,2h`; after the last, the delivery fails.
    pub retry_schedule: String,
    pub timeout_ms: u64,
    pub allow_private_targets: bool,
}

impl RelaySettings {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct AdminSettings {
    /// Bearer token for `/admin/*`; without it the admin API answers 404.
    #[serde(default)]
    pub token: Option<SecretString>,
}

impl ConektaSettings {
    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct SettingsError(String);

impl Settings {
    /// Reads the layered configuration from the process environment.
    pub fn load() -> Result<Self, SettingsError> {
        Self::load_from(std::env::var("PAGOS_CONFIG").ok().as_deref())
    }

    pub fn load_from(config_file: Option<&str>) -> Result<Self, SettingsError> {
        let mut builder = Config::builder().add_source(File::from_str(DEFAULTS, FileFormat::Toml));
        if let Some(path) = config_file {
            builder = builder.add_source(File::new(path, FileFormat::Toml).required(true));
        }
        builder = builder.add_source(
            Environment::with_prefix("PAGOS")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(false),
        );
        let settings: Settings = builder
            .build()
            .and_then(Config::try_deserialize)
            .map_err(|e| SettingsError(e.to_string()))?;
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> Result<(), SettingsError> {
        if self.conekta.timeout_ms == 0 {
            return Err(SettingsError("conekta.timeout_ms must be above 0".into()));
        }
        url::Url::parse(&self.conekta.api_url)
            .map_err(|e| SettingsError(format!("conekta.api_url: {e}")))?;
        if self.relay.timeout_ms == 0 {
            return Err(SettingsError("relay.timeout_ms must be above 0".into()));
        }
        crate::relay::RetrySchedule::parse(&self.relay.retry_schedule)
            .map_err(|e| SettingsError(format!("relay.retry_schedule: {e}")))?;
        if let Some(secret) = &self.relay.signing_secret {
            crate::relay::SigningKey::parse(secret)
                .map_err(|e| SettingsError(format!("relay.signing_secret: {e}")))?;
        }
        if let Some(pem) = &self.conekta.webhook_public_key {
            crate::providers::conekta::digest::DigestVerifier::from_pem(pem)
                .map_err(|e| SettingsError(format!("conekta.webhook_public_key: {e}")))?;
        }
        Ok(())
    }
}
