//! `--sandbox`: pagos wired to the Conekta simulator (`conekta-sim`) started in the same process.
//! The simulator changes nothing of pagos's; this module applies what it returns to pagos's
//! settings (Conekta's URL, the webhook key, a relay signing secret the simulator's inbox also
//! verifies with, private notification targets allowed) and prints the start banner.

use crate::settings::Settings;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use conekta_sim::{Options, Sandbox};
use rand::RngCore;
use secrecy::ExposeSecret;

/// Optional fixed port for the simulator; unset or 0 picks a free one.
pub const PORT_VARIABLE: &str = "PAGOS__SANDBOX__PORT";

/// Starts the simulator on 127.0.0.1 (`PAGOS__SANDBOX__PORT`, or a free port) and points the
/// settings at it.
pub fn start(settings: &mut Settings) -> anyhow::Result<Sandbox> {
    let port = match std::env::var(PORT_VARIABLE) {
        Ok(text) if !text.trim().is_empty() => text
            .trim()
            .parse::<u16>()
            .map_err(|_| anyhow::anyhow!("{PORT_VARIABLE} must be a port number"))?,
        _ => 0,
    };
    start_on(settings, port)
}

/// As [`start`], on this port.
pub fn start_on(settings: &mut Settings, port: u16) -> anyhow::Result<Sandbox> {
    let secret = settings
        .relay
        .signing_secret
        .get_or_insert_with(|| new_signing_secret().into())
        .expose_secret()
        .to_owned();
    let sandbox = Sandbox::start(Options {
        port,
        signing_secret: Some(secret),
        ..Options::default()
    })?;
    settings.conekta.api_url = sandbox.url().to_owned();
    settings.conekta.webhook_public_key = Some(sandbox.webhook_public_key_pem().to_owned());
    // The inbox listens on loopback.
    settings.relay.allow_private_targets = true;
    Ok(sandbox)
}

/// Once the bridge listens: the simulator's events go to its webhook endpoint.
pub fn connect(sandbox: &Sandbox, bridge_port: u16) {
    sandbox.set_webhook_url(format!("http://127.0.0.1:{bridge_port}/webhooks/conekta"));
}

/// A fresh `whsec_<base64 of 32 random bytes>` secret for the relay.
pub fn new_signing_secret() -> String {
    let mut raw = [0u8; 32];
    rand::rng().fill_bytes(&mut raw);
    format!("whsec_{}", BASE64.encode(raw))
}

/// The start banner: to the log as a WARN line and to stderr.
pub fn announce(sandbox: &Sandbox, bridge_port: u16) {
    let url = sandbox.url();
    let inbox = format!("{url}/inbox");
    tracing::warn!(
        simulator = %url,
        inbox = %inbox,
        bridge = %format!("http://127.0.0.1:{bridge_port}"),
        "SANDBOX: no real money moves; livemode false. Conekta is simulated; webhooks are signed \
         with a key made at start; notifications may go to loopback/private addresses"
    );
    eprintln!(
        "\n==================== pagos SANDBOX ====================\n\
         SANDBOX: no real money moves; livemode false.\n\
         Conekta simulator:   {url}\n\
         Inbox (notify URL):  {notify}   (view: {inbox})\n\
         Cashier (references): {cashier}\n\
         Bridge:              http://127.0.0.1:{bridge_port}/pagos\n\
         Test cards: 4242 4242 4242 4242 pays, 4000 0000 0000 0002 is declined.\n\
         Notifications to loopback/private addresses are allowed in sandbox mode.\n\
         =======================================================\n",
        notify = sandbox.inbox_url(),
        cashier = sandbox.cashier_url(),
    );
}
