//! `--sandbox`: pagos wired to the Conekta simulator (`conekta-sim`) started in the same process.
//! The simulator changes nothing of pagos's; this module applies what it returns to pagos's
//! settings (Conekta's URL, the webhook key, a relay signing secret the simulator's inbox also
//! verifies with, an admin token the inbox replays with, private notification targets allowed)
//! and prints the start banner. [`local_defaults`] first makes the sandbox a local, forgetful
//! thing unless the operator said otherwise: see its comment.

use crate::providers::conekta::digest::DigestVerifier;
use crate::relay::RetrySchedule;
use crate::settings::{Settings, SigningSecret};
use base64::engine::general_purpose::{STANDARD as BASE64, URL_SAFE_NO_PAD};
use base64::Engine;
use conekta_sim::{Options, Sandbox};
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use std::net::IpAddr;
use std::time::Duration;

/// Under `--sandbox`, retries come soon enough to watch them arrive at the inbox; the later,
/// longer delays leave time to switch the inbox back and press "Reenviar".
pub const SANDBOX_RETRY_SCHEDULE: &str = "2s,5s,30s,2m,10m";
/// Under `--sandbox`, an attempt's budget: short, so an inbox switched to "timeout" shows a
/// timed-out attempt (and its retry) within seconds.
pub const SANDBOX_RELAY_TIMEOUT: Duration = Duration::from_secs(5);
/// How much longer than the relay's budget the inbox holds a notification when switched to
/// "timeout".
const HOLD_PAST_TIMEOUT: Duration = Duration::from_secs(2);

/// The store of a sandbox run: a private temporary directory holding its SQLite file, removed
/// when this is dropped (at exit). `None` when `PAGOS__DATABASE__URL` names a store.
pub struct SandboxRecords(Option<tempfile::TempDir>);

impl SandboxRecords {
    /// The directory the records live in, while they do.
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.0.as_ref().map(tempfile::TempDir::path)
    }
}

/// The sandbox's defaults, for each value the file or the environment did not set:
/// - pagos listens on 127.0.0.1 (`PAGOS__SERVER__HOST`): it allows private notification
///   targets, so on 0.0.0.0 anyone on the network could make it call their private addresses;
/// - records live only as long as the run (`PAGOS__DATABASE__URL`), as the simulator's orders
///   do. A SQLite file in a private temporary directory, removed at exit, rather than a shared
///   in-memory database: the store's writer thread and its read pool would share it through
///   SQLite's shared cache, whose table locks fail at once (`SQLITE_LOCKED`) instead of waiting
///   like the file's WAL locks do. A run killed with SIGKILL leaves the directory in the
///   system's temporary directory; the next run starts with a new, empty one all the same;
/// - retries soon and short attempts (`PAGOS__RELAY__RETRY_SCHEDULE`, `…__TIMEOUT_MS`), so that
///   a developer watches a retry arrive.
pub fn local_defaults(settings: &mut Settings) -> anyhow::Result<SandboxRecords> {
    if !settings.is_set("server.host") {
        settings.server.host = "127.0.0.1".to_owned();
    }
    if !settings.is_set("relay.retry_schedule") {
        settings.relay.retry_schedule =
            RetrySchedule::parse(SANDBOX_RETRY_SCHEDULE).map_err(anyhow::Error::msg)?;
    }
    if !settings.is_set("relay.timeout_ms") {
        settings.relay.timeout = SANDBOX_RELAY_TIMEOUT;
    }
    if settings.is_set("database.url") {
        return Ok(SandboxRecords(None));
    }
    let dir = tempfile::Builder::new()
        .prefix("pagos-sandbox-")
        .tempdir()
        .map_err(|e| anyhow::anyhow!("cannot make a temporary directory for the records: {e}"))?;
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("pagos.db").display()
    );
    settings.database.url = SecretString::from(url);
    Ok(SandboxRecords(Some(dir)))
}

/// Starts the simulator (`PAGOS__SANDBOX__HOST`, default 127.0.0.1; `PAGOS__SANDBOX__PORT`,
/// default a free port) and points the settings at it.
pub fn start(settings: &mut Settings) -> anyhow::Result<Sandbox> {
    let port = settings.sandbox.port.unwrap_or(0);
    start_on(settings, port)
}

/// As [`start`], on this port.
pub fn start_on(settings: &mut Settings, port: u16) -> anyhow::Result<Sandbox> {
    if settings.relay.signing_secret.is_none() {
        let fresh = SigningSecret::parse(SecretString::from(new_signing_secret()))
            .map_err(anyhow::Error::msg)?;
        settings.relay.signing_secret = Some(fresh);
    }
    let secret = settings
        .relay
        .signing_secret
        .as_ref()
        .map(|secret| secret.text.expose_secret().to_owned());
    let mut options = Options {
        port,
        signing_secret: secret,
        inbox_hold: settings.relay.timeout + HOLD_PAST_TIMEOUT,
        shop_name: settings.sandbox.shop_name.clone(),
        ..Options::default()
    };
    if let Some(host) = &settings.sandbox.host {
        options.host = host.clone();
    }
    let sandbox = Sandbox::start(options)?;
    settings.conekta.api_url = sandbox.url().parse()?;
    settings.conekta.webhook_keys = Some(
        DigestVerifier::from_pem(sandbox.webhook_public_key_pem()).map_err(anyhow::Error::msg)?,
    );
    // The inbox listens on loopback.
    settings.relay.allow_private_targets = true;
    // The inbox's "Reenviar" asks the admin API; the token stays inside this process.
    if settings.admin.token.is_none() {
        settings.admin.token = Some(SecretString::from(new_admin_token()));
    }
    Ok(sandbox)
}

/// Once the bridge listens on `host`:`port`: the simulator's events go to its webhook
/// endpoint, and the inbox may ask its admin API (with `admin_token`) to deliver again.
pub fn connect(sandbox: &Sandbox, host: &str, port: u16, admin_token: Option<&SecretString>) {
    let bridge = bridge_url(host, port);
    sandbox.set_webhook_url(format!("{bridge}/webhooks/conekta"));
    if let Some(token) = admin_token {
        sandbox.set_bridge_admin(bridge, token.expose_secret());
    }
}

/// Where the simulator reaches the bridge: loopback when it listens on every address.
fn bridge_url(host: &str, port: u16) -> String {
    match host.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) if ip.is_unspecified() => format!("http://127.0.0.1:{port}"),
        Ok(IpAddr::V6(ip)) if ip.is_unspecified() => format!("http://[::1]:{port}"),
        Ok(IpAddr::V6(ip)) => format!("http://[{ip}]:{port}"),
        _ => format!("http://{host}:{port}"),
    }
}

/// A random bearer token for the admin API of a sandbox run.
fn new_admin_token() -> String {
    let mut raw = [0u8; 24];
    rand::rng().fill_bytes(&mut raw);
    format!("sbx_{}", URL_SAFE_NO_PAD.encode(raw))
}

/// A fresh `whsec_<base64 of 32 random bytes>` secret for the relay.
pub fn new_signing_secret() -> String {
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    format!("whsec_{}", BASE64.encode(raw))
}

/// The start banner: to the log as a WARN line and to stderr.
pub fn announce(
    sandbox: &Sandbox,
    settings: &Settings,
    bridge_port: u16,
    records: &SandboxRecords,
) {
    let url = sandbox.url();
    let inbox = format!("{url}/inbox");
    let bridge = bridge_url(&settings.server.host, bridge_port);
    let records_line = match records.dir() {
        Some(_) => "in a temporary store removed at exit (set PAGOS__DATABASE__URL to keep them)"
            .to_owned(),
        None => format!("in {}", settings.masked_database_url()),
    };
    tracing::warn!(
        simulator = %url,
        inbox = %inbox,
        bridge = %bridge,
        listen = %settings.server.host,
        records = %records.dir().map(|dir| dir.display().to_string()).unwrap_or_default(),
        "SANDBOX: no real money moves; livemode false. Conekta is simulated; webhooks are signed \
         with a key made at start; notifications may go to loopback/private addresses"
    );
    let exposed = match settings.server.host.parse::<IpAddr>() {
        Ok(ip) if ip.is_loopback() => String::new(),
        _ => format!(
            "WARNING: pagos listens on {} and may call private addresses: anyone who reaches \
             it can make it call your network.\n",
            settings.server.host
        ),
    };
    eprintln!(
        "\n==================== pagos SANDBOX ====================\n\
         SANDBOX: no real money moves; livemode false.\n\
         Conekta simulator:   {url}   (orders: {url}/)\n\
         Inbox (notify URL):  {notify}   (view: {inbox})\n\
         Cashier (references): {cashier}\n\
         Bridge:              {bridge}/pagos\n\
         Records:             {records_line}\n\
         Retries:             {schedule}\n\
         Events on request:   pagos sandbox trigger order.paid --order ord_…  (or the order's page)\n\
         Test cards: 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined.\n\
         Notifications to loopback/private addresses are allowed in sandbox mode.\n\
         {exposed}\
         =======================================================\n",
        notify = sandbox.inbox_url(),
        cashier = sandbox.cashier_url(),
        schedule = if settings.is_set("relay.retry_schedule") {
            "as PAGOS__RELAY__RETRY_SCHEDULE says"
        } else {
            SANDBOX_RETRY_SCHEDULE
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_simulator_reaches_the_bridge_where_it_listens() {
        assert_eq!(bridge_url("0.0.0.0", 80), "http://127.0.0.1:80");
        assert_eq!(bridge_url("127.0.0.1", 80), "http://127.0.0.1:80");
        assert_eq!(bridge_url("::", 80), "http://[::1]:80");
        assert_eq!(bridge_url("10.1.2.3", 80), "http://10.1.2.3:80");
    }

    #[test]
    fn local_defaults_keep_what_was_set() {
        let mut settings = Settings::defaults();
        let records = local_defaults(&mut settings).unwrap();
        assert_eq!(settings.server.host, "127.0.0.1");
        assert_eq!(settings.relay.timeout, SANDBOX_RELAY_TIMEOUT);
        let dir = records.dir().unwrap().to_owned();
        assert!(settings
            .database
            .url
            .expose_secret()
            .contains(&dir.display().to_string()));
        drop(records);
        assert!(!dir.exists(), "the records go at exit");

        let mut settings = Settings::defaults();
        for key in ["server.host", "database.url", "relay.timeout_ms"] {
            settings.explicitly_set.insert(key.to_owned());
        }
        let records = local_defaults(&mut settings).unwrap();
        assert_eq!(settings.server.host, "0.0.0.0");
        assert_eq!(
            settings.database.url.expose_secret(),
            "sqlite://pagos.db?mode=rwc"
        );
        assert_eq!(settings.relay.timeout, Duration::from_secs(15));
        assert!(records.dir().is_none());
    }
}
