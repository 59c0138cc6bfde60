//! One `Settings` struct, layered: built-in defaults, then the TOML file named by `PAGOS_CONFIG`,
//! then `PAGOS__SECTION__KEY` environment variables. Every value is read once, at start, into
//! its type (a schedule, a key, a duration, a URL); a wrong one stops the start with a line that
//! names the variable and its value (a secret's value is never shown).

use crate::providers::conekta::settings::{ConektaSettings, RawConektaSettings};
use crate::relay::{RetrySchedule, SigningKey};
use crate::storefronts::{HostPattern, Storefront, Storefronts};
use config::{Config, Environment, File, FileFormat};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::collections::BTreeSet;
use std::time::Duration;

/// The defaults, in the same TOML shape an operator's `PAGOS_CONFIG` file uses.
const DEFAULTS: &str = r#"
[server]
host = "0.0.0.0"
port = "8080"

[database]
url = "sqlite://pagos.db?mode=rwc"

[conekta]
api_url = "https://api.conekta.io"
timeout_ms = "10000"
default_phone = "+5215555555555"

[relay]
retry_schedule = "5s,5m,30m,2h,5h,10h,10h"
timeout_ms = "15000"
allow_private_targets = "false"

[admin]

[log]
format = "json"

[sandbox]
"#;

/// Every key there is, as `section.key`: anything else is named in a warning at start.
const KNOWN_KEYS: &[&str] = &[
    "server.host",
    "server.port",
    "server.api_keys",
    "database.url",
    "conekta.api_url",
    "conekta.timeout_ms",
    "conekta.default_phone",
    "conekta.webhook_public_key",
    "relay.signing_secret",
    "relay.retry_schedule",
    "relay.timeout_ms",
    "relay.allow_private_targets",
    "admin.token",
    "log.format",
    "sandbox.host",
    "sandbox.port",
    "sandbox.shop_name",
];

#[derive(Clone)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub conekta: ConektaSettings,
    pub relay: RelaySettings,
    pub admin: AdminSettings,
    pub sandbox: SandboxSettings,
    pub log: LogFormat,
    /// The storefronts of the `PAGOS_CONFIG` file; none: one storefront, the old way.
    pub storefronts: Vec<Storefront>,
    /// The keys (`section.key`) the file or the environment gave, as opposed to defaults:
    /// `--sandbox` changes some defaults but never what an operator set.
    pub explicitly_set: BTreeSet<String>,
}

impl Settings {
    /// True when the file or the environment gave `key` (`section.key`, e.g. `server.host`).
    pub fn is_set(&self, key: &str) -> bool {
        self.explicitly_set.contains(key)
    }

    /// Who pagos serves: the configured storefronts, or one with the relay's signing secret.
    pub fn storefronts(&self) -> Storefronts {
        if self.storefronts.is_empty() {
            Storefronts::single(self.relay.signing_secret.as_ref().map(|s| s.key.clone()))
        } else {
            Storefronts::several(self.storefronts.clone())
        }
    }
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    /// Comma-separated bearer tokens callers of `/pagos` must present; unset: open.
    pub api_keys: Option<SecretString>,
}

#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    /// May carry a password (`postgres://user:pass@…`), so it never prints; see `masked_url`.
    pub url: SecretString,
}

#[derive(Clone)]
pub struct RelaySettings {
    /// Signs every notification (Standard Webhooks); unset: notifications wait unsent.
    pub signing_secret: Option<SigningSecret>,
    /// Delays between delivery attempts; after the last, the delivery fails.
    pub retry_schedule: RetrySchedule,
    /// One delivery attempt's budget.
    pub timeout: Duration,
    pub allow_private_targets: bool,
}

#[derive(Debug, Clone)]
pub struct AdminSettings {
    /// Bearer token for `/admin/*`; unset (or empty): the admin API answers 404.
    pub token: Option<SecretString>,
}

/// The sandbox's shop name unless `PAGOS__SANDBOX__SHOP_NAME` says otherwise.
pub const DEFAULT_SHOP_NAME: &str = "Tienda de prueba";

/// Only under `--sandbox`: where the Conekta simulator listens and the shop it shows.
#[derive(Debug, Clone)]
pub struct SandboxSettings {
    pub host: Option<String>,
    /// `None` or 0: a free port.
    pub port: Option<u16>,
    /// The shop name the hosted checkout and result pages show.
    pub shop_name: String,
}

/// A `whsec_…` secret, checked, with the key it makes.
#[derive(Clone)]
pub struct SigningSecret {
    pub text: SecretString,
    pub key: SigningKey,
}

impl SigningSecret {
    pub fn parse(text: SecretString) -> Result<Self, String> {
        let key = SigningKey::parse(&text)?;
        Ok(Self { text, key })
    }
}

/// What is wrong with one setting: its variable, its value as shown, and why.
#[derive(Debug, thiserror::Error)]
#[error("{name}={value}: {reason}")]
pub struct SettingsError {
    pub name: String,
    /// Quoted, or `(secret)` / `(PEM text)` for values that must not be shown.
    pub value: String,
    pub reason: String,
}

impl SettingsError {
    pub fn new(name: &str, value: &str, reason: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            value: format!("{value:?}"),
            reason: reason.into(),
        }
    }

    /// For a value that must not be shown.
    pub fn secret(name: &str, reason: impl Into<String>) -> Self {
        Self {
            name: name.to_owned(),
            value: "(secret)".to_owned(),
            reason: reason.into(),
        }
    }
}

/// How log lines are written (`PAGOS__LOG__FORMAT`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object a line, for collectors.
    Json,
    /// Readable lines, for a terminal.
    Text,
}

impl LogFormat {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "json" => Some(Self::Json),
            "text" => Some(Self::Text),
            _ => None,
        }
    }
}

/// The sections as written: text everywhere, so a bad value is reported by this module with
/// its variable's name rather than by the deserializer.
#[derive(Deserialize)]
struct Raw {
    server: RawServer,
    database: RawDatabase,
    conekta: RawConektaSettings,
    relay: RawRelay,
    #[serde(default)]
    admin: RawAdmin,
    #[serde(default)]
    sandbox: RawSandbox,
    log: RawLog,
    #[serde(default)]
    storefronts: Vec<RawStorefront>,
}

#[derive(Deserialize)]
struct RawLog {
    format: String,
}

/// One `[[storefronts]]` entry as written.
#[derive(Deserialize)]
struct RawStorefront {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    api_keys: Vec<String>,
    #[serde(default)]
    signing_secrets: Vec<String>,
    #[serde(default)]
    notification_hosts: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct RawServer {
    host: String,
    port: String,
    #[serde(default)]
    api_keys: Option<String>,
}

#[derive(Deserialize)]
struct RawDatabase {
    url: String,
}

#[derive(Deserialize)]
struct RawRelay {
    #[serde(default)]
    signing_secret: Option<String>,
    retry_schedule: String,
    timeout_ms: String,
    allow_private_targets: String,
}

#[derive(Deserialize, Default)]
struct RawAdmin {
    #[serde(default)]
    token: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawSandbox {
    #[serde(default)]
    host: Option<String>,
    #[serde(default)]
    port: Option<String>,
    #[serde(default)]
    shop_name: Option<String>,
}

/// What loading found besides the settings: keys nothing reads.
pub struct Loaded {
    pub settings: Settings,
    pub unknown_keys: Vec<String>,
}

impl Settings {
    /// Reads the layered configuration from the process environment.
    pub fn load() -> Result<Loaded, SettingsError> {
        Self::load_from(std::env::var("PAGOS_CONFIG").ok().as_deref())
    }

    /// The built-in defaults alone (no file, no environment): what the tests start from.
    pub fn defaults() -> Settings {
        let raw: Raw = Config::builder()
            .add_source(File::from_str(DEFAULTS, FileFormat::Toml))
            .build()
            .and_then(Config::try_deserialize)
            .expect("the built-in defaults deserialize");
        raw.parse().expect("the built-in defaults are valid")
    }

    pub fn load_from(config_file: Option<&str>) -> Result<Loaded, SettingsError> {
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
        let config = builder.build().map_err(|e| {
            SettingsError::new("PAGOS_CONFIG", config_file.unwrap_or(""), e.to_string())
        })?;
        let unknown_keys = unknown_keys(&config);
        let explicitly_set = given_keys(config_file)?;
        let raw: Raw = config.try_deserialize().map_err(|e| {
            SettingsError::new("PAGOS_CONFIG", config_file.unwrap_or(""), e.to_string())
        })?;
        let mut settings = raw.parse()?;
        settings.explicitly_set = explicitly_set;
        Ok(Loaded {
            settings,
            unknown_keys,
        })
    }

    /// The database URL with any password hidden, for messages.
    pub fn masked_database_url(&self) -> String {
        mask_url(self.database.url.expose_secret())
    }
}

impl Raw {
    fn parse(self) -> Result<Settings, SettingsError> {
        let server = ServerSettings {
            port: number("PAGOS__SERVER__PORT", &self.server.port)?,
            host: non_blank("PAGOS__SERVER__HOST", self.server.host)?,
            api_keys: present(self.server.api_keys).map(SecretString::from),
        };
        let database = DatabaseSettings {
            url: database_url(self.database.url)?,
        };
        let conekta = self
            .conekta
            .parse()
            .map_err(|(name, value, reason)| SettingsError {
                name: name.to_owned(),
                value: if value.starts_with('(') {
                    value
                } else {
                    format!("{value:?}")
                },
                reason,
            })?;
        let relay = RelaySettings {
            signing_secret: present(self.relay.signing_secret)
                .map(|text| {
                    SigningSecret::parse(SecretString::from(text)).map_err(|reason| {
                        SettingsError::secret("PAGOS__RELAY__SIGNING_SECRET", reason)
                    })
                })
                .transpose()?,
            retry_schedule: retry_schedule(&self.relay.retry_schedule)?,
            timeout: millis("PAGOS__RELAY__TIMEOUT_MS", &self.relay.timeout_ms)?,
            allow_private_targets: boolean(
                "PAGOS__RELAY__ALLOW_PRIVATE_TARGETS",
                &self.relay.allow_private_targets,
            )?,
        };
        let admin = AdminSettings {
            token: present(self.admin.token).map(SecretString::from),
        };
        let sandbox = SandboxSettings {
            host: present(self.sandbox.host),
            port: present(self.sandbox.port)
                .map(|port| number("PAGOS__SANDBOX__PORT", &port))
                .transpose()?,
            shop_name: present(self.sandbox.shop_name)
                .unwrap_or_else(|| DEFAULT_SHOP_NAME.to_owned()),
        };
        let log = LogFormat::parse(&self.log.format).ok_or_else(|| {
            SettingsError::new(
                "PAGOS__LOG__FORMAT",
                &self.log.format,
                "must be json (one object a line) or text (readable lines)",
            )
        })?;
        let storefronts = storefronts(self.storefronts)?;
        Ok(Settings {
            server,
            database,
            conekta,
            relay,
            admin,
            sandbox,
            log,
            storefronts,
            explicitly_set: BTreeSet::new(),
        })
    }
}

/// The keys (`section.key`) the file and the environment give, without the defaults. A blank
/// value counts as not given, as everywhere else.
fn given_keys(config_file: Option<&str>) -> Result<BTreeSet<String>, SettingsError> {
    let mut builder = Config::builder();
    if let Some(path) = config_file {
        builder = builder.add_source(File::new(path, FileFormat::Toml).required(true));
    }
    let config = builder
        .add_source(
            Environment::with_prefix("PAGOS")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(false),
        )
        .build()
        .map_err(|e| {
            SettingsError::new("PAGOS_CONFIG", config_file.unwrap_or(""), e.to_string())
        })?;
    let mut given = BTreeSet::new();
    let table = config
        .try_deserialize::<std::collections::HashMap<String, config::Value>>()
        .unwrap_or_default();
    for (section, value) in table {
        let Ok(keys) = value.into_table() else {
            continue;
        };
        for (key, value) in keys {
            let blank = value
                .clone()
                .into_string()
                .is_ok_and(|text| text.trim().is_empty());
            if !blank {
                given.insert(format!("{section}.{key}"));
            }
        }
    }
    Ok(given)
}

/// Checks every `[[storefronts]]` entry: a name of `[a-z0-9-]`, unique; at least one API key,
/// none shared; at least one `whsec_` secret of 24 bytes or more; well-formed host patterns.
/// An error names the storefront and the field, never a key or a secret.
fn storefronts(raw: Vec<RawStorefront>) -> Result<Vec<Storefront>, SettingsError> {
    let mut parsed: Vec<Storefront> = Vec::with_capacity(raw.len());
    let mut keys_seen: BTreeSet<String> = BTreeSet::new();
    for (index, entry) in raw.into_iter().enumerate() {
        let name = entry.name.unwrap_or_default();
        let label = if name.is_empty() {
            index.to_string()
        } else {
            name.clone()
        };
        let field = |field: &str| format!("storefronts[{label}].{field}");
        let valid_name = (1..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid_name {
            return Err(SettingsError::new(
                &field("name"),
                &name,
                "must be 1 to 64 of a-z, 0-9 and -",
            ));
        }
        if parsed.iter().any(|s| s.name == name) {
            return Err(SettingsError::new(
                &field("name"),
                &name,
                "is used by another storefront",
            ));
        }
        if entry.api_keys.is_empty() {
            return Err(SettingsError::secret(
                &field("api_keys"),
                "must list at least one key",
            ));
        }
        for key in &entry.api_keys {
            if key.trim().is_empty() || key.chars().any(char::is_whitespace) {
                return Err(SettingsError::secret(
                    &field("api_keys"),
                    "a key is blank or holds spaces",
                ));
            }
            if !keys_seen.insert(key.clone()) {
                return Err(SettingsError::secret(
                    &field("api_keys"),
                    "a key is used twice (each key names one storefront)",
                ));
            }
        }
        if entry.signing_secrets.is_empty() {
            return Err(SettingsError::secret(
                &field("signing_secrets"),
                "must list at least one whsec_ secret",
            ));
        }
        let mut signing_keys = Vec::with_capacity(entry.signing_secrets.len());
        for (n, secret) in entry.signing_secrets.iter().enumerate() {
            let key = SigningKey::parse(&SecretString::from(secret.clone())).map_err(|reason| {
                SettingsError::secret(&field(&format!("signing_secrets[{n}]")), reason)
            })?;
            signing_keys.push(key);
        }
        let hosts = match entry.notification_hosts {
            None => None,
            Some(list) if list.is_empty() => {
                return Err(SettingsError::new(
                    &field("notification_hosts"),
                    "",
                    "name at least one host, or leave it out",
                ));
            }
            Some(list) => Some(
                list.iter()
                    .map(|host| {
                        HostPattern::parse(host).ok_or_else(|| {
                            SettingsError::new(
                                &field("notification_hosts"),
                                host,
                                "must be a host name or *.suffix",
                            )
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
        };
        parsed.push(Storefront::new(name, &entry.api_keys, signing_keys, hosts));
    }
    Ok(parsed)
}

/// A value given as blank counts as not given (`PAGOS__ADMIN__TOKEN=""` is no token).
fn present(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

fn non_blank(name: &str, value: String) -> Result<String, SettingsError> {
    if value.trim().is_empty() {
        return Err(SettingsError::new(name, &value, "must not be blank"));
    }
    Ok(value.trim().to_owned())
}

fn number<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, SettingsError> {
    value
        .trim()
        .parse()
        .map_err(|_| SettingsError::new(name, value, "must be a whole number in range"))
}

fn millis(name: &str, value: &str) -> Result<Duration, SettingsError> {
    match value.trim().parse::<u64>() {
        Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
        _ => Err(SettingsError::new(
            name,
            value,
            "must be a whole number of milliseconds above 0",
        )),
    }
}

fn boolean(name: &str, value: &str) -> Result<bool, SettingsError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(SettingsError::new(name, value, "must be true or false")),
    }
}

fn retry_schedule(value: &str) -> Result<RetrySchedule, SettingsError> {
    let name = "PAGOS__RELAY__RETRY_SCHEDULE";
    let schedule =
        RetrySchedule::parse(value).map_err(|reason| SettingsError::new(name, value, reason))?;
    if schedule.max_attempts() < 2 {
        return Err(SettingsError::new(
            name,
            value,
            "must list at least one delay (e.g. 5s,5m,30m): without one a failed delivery is never retried",
        ));
    }
    Ok(schedule)
}

fn database_url(value: String) -> Result<SecretString, SettingsError> {
    let name = "PAGOS__DATABASE__URL";
    let supported = ["sqlite:", "postgres:", "postgresql:"];
    if !supported.iter().any(|scheme| value.starts_with(scheme)) {
        return Err(SettingsError::new(
            name,
            &mask_url(&value),
            "must be sqlite://… or postgres://…",
        ));
    }
    Ok(SecretString::from(value))
}

/// A URL with its password replaced, for messages.
pub fn mask_url(value: &str) -> String {
    match url::Url::parse(value) {
        Ok(mut url) if url.password().is_some() => {
            let _ = url.set_password(Some("***"));
            url.to_string()
        }
        Ok(_) => value.to_owned(),
        // Not a URL: show none of it, it may be anything.
        Err(_) => "(unreadable URL)".to_owned(),
    }
}

/// Keys in the file or the environment that no setting reads, as their variable names.
fn unknown_keys(config: &Config) -> Vec<String> {
    let known: BTreeSet<&str> = KNOWN_KEYS.iter().copied().collect();
    let mut unknown = Vec::new();
    let Ok(table) = config
        .clone()
        .try_deserialize::<std::collections::HashMap<String, config::Value>>()
    else {
        return unknown;
    };
    for (section, value) in table {
        match value.into_table() {
            Ok(keys) => {
                for key in keys.keys() {
                    if !known.contains(format!("{section}.{key}").as_str()) {
                        unknown.push(format!(
                            "PAGOS__{}__{}",
                            section.to_uppercase(),
                            key.to_uppercase()
                        ));
                    }
                }
            }
            // `[[storefronts]]` is a list of tables, read on its own.
            Err(_) if section == "storefronts" => {}
            Err(_) => unknown.push(format!("PAGOS__{}", section.to_uppercase())),
        }
    }
    unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_load() {
        let settings = Settings::defaults();
        assert_eq!(settings.server.port, 8080);
        assert_eq!(settings.relay.retry_schedule.max_attempts(), 8);
        assert_eq!(settings.conekta.timeout, Duration::from_secs(10));
        assert!(settings.admin.token.is_none());
    }

    #[test]
    fn the_sandbox_shop_name_defaults_and_may_be_set() {
        assert_eq!(Settings::defaults().sandbox.shop_name, "Tienda de prueba");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pagos.toml");
        std::fs::write(&file, "[sandbox]\nshop_name = \"Café Sur\"\n").unwrap();
        let loaded = Settings::load_from(file.to_str()).expect("loads");
        assert_eq!(loaded.settings.sandbox.shop_name, "Café Sur");
        assert!(loaded.unknown_keys.is_empty(), "{:?}", loaded.unknown_keys);
    }

    #[test]
    fn a_password_is_never_shown() {
        assert_eq!(
            mask_url("postgres://pagos:hunter2@db:5432/pagos"),
            "postgres://pagos:***@db:5432/pagos"
        );
        assert_eq!(
            mask_url("sqlite://pagos.db?mode=rwc"),
            "sqlite://pagos.db?mode=rwc"
        );
        assert_eq!(mask_url("not a url hunter2"), "(unreadable URL)");
    }

    #[test]
    fn a_value_from_the_file_is_told_apart_from_a_default() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pagos.toml");
        std::fs::write(
            &path,
            "[server]\nhost = \"10.0.0.7\"\n[admin]\ntoken = \"\"\n",
        )
        .unwrap();
        let loaded = Settings::load_from(Some(path.to_str().unwrap())).unwrap();
        let settings = loaded.settings;
        assert_eq!(settings.server.host, "10.0.0.7");
        assert!(settings.is_set("server.host"));
        assert!(!settings.is_set("server.port"), "a default");
        assert!(!settings.is_set("admin.token"), "blank is not given");
        assert!(!Settings::defaults().is_set("server.host"));
    }

    #[test]
    fn an_empty_schedule_is_refused() {
        let error = retry_schedule("").unwrap_err();
        assert_eq!(error.name, "PAGOS__RELAY__RETRY_SCHEDULE");
        assert!(error.reason.contains("at least one delay"));
    }
}
