//! The relay: durable, signed delivery of notifications to storefronts. It knows notifications,
//! targets and schedules; nothing about any provider.

pub mod notification;
mod post;
mod schedule;
mod signing;
mod worker;

pub use schedule::RetrySchedule;
pub use signing::SigningKey;
pub use worker::{Relay, RelayConfig, RelayHandle};
