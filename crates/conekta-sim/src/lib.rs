//! A local stand-in for Conekta, for trying a Conekta integration offline: it speaks the subset
//! of Conekta's API a checkout bridge uses (in Conekta's shapes, refusing what Conekta refuses),
//! serves hosted checkout pages where test cards decide the outcome, a cashier page for cash
//! references, and an inbox that verifies Standard Webhooks notifications. It sends Conekta's
//! webhooks signed (`Digest`) with a key pair made at start. Everything is `livemode: false`
//! and kept in memory.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let sandbox = conekta_sim::Sandbox::start(conekta_sim::Options::default())?;
//! // Point the client at `sandbox.url()`, trust `sandbox.webhook_public_key_pem()`, and say
//! // where the events go:
//! sandbox.set_webhook_url("http://127.0.0.1:8080/webhooks/conekta");
//! # Ok(()) }
//! ```
//!
//! Layout: `api/` is Conekta's REST API, `pages/` the HTML pages, `validation/` what Conekta
//! refuses, `world/` the objects in memory; `cashier` (paying a reference), `webhooks` (events
//! out), `keys` (their signature) and `errors` (Conekta's error bodies) serve both API and pages;
//! `trigger` (`POST /_sandbox/trigger`) sends an order's event when a developer asks for it.
//! This crate stands alone: it must never depend on the bridge it simulates Conekta for.

mod api;
mod cashier;
mod errors;
mod keys;
mod pages;
mod server;
mod trigger;
mod validation;
mod webhooks;
mod world;

pub use keys::WebhookSigner;
pub use server::{Options, Sandbox};
pub use world::transitions::Trigger;
