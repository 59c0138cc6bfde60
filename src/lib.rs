//! pagos: one internal endpoint for storefronts to reach payment providers (Conekta first).

pub mod cli;
pub mod clock;
pub mod domain;
pub mod guard;
pub mod housekeeping;
pub mod http;
pub mod metrics;
pub mod providers;
pub mod relay;
pub mod sandbox;
pub mod settings;
pub mod signing;
pub mod startup;
pub mod store;
pub mod storefronts;
pub mod telemetry;
