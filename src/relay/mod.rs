//! The relay: durable, signed delivery of notifications to storefronts. It knows notifications,
//! targets and schedules; nothing about any provider. It uses the store, the SSRF guard and the
//! domain; it never imports `providers` or `http`.

pub mod notification;
mod post;
mod recorder;
mod schedule;
mod worker;

pub use crate::signing::SigningKey;
pub use schedule::RetrySchedule;
pub use worker::{Relay, RelayConfig, RelayHandle};
