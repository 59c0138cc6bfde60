//! Integration tests: the real service on a real port, a real store, a fake Conekta over HTTP.

mod actions;
mod admin_deliveries;
mod answer_checks;
mod binary;
mod body_rules;
mod chaos;
mod checkout_options;
mod cli;
mod conekta_events;
mod create;
mod early_events;
mod exactly_once;
mod fake_conekta;
mod fake_conekta_self;
mod health;
mod helpers;
mod idempotency;
mod logs;
mod operations;
mod process;
mod provider_errors;
mod receiver;
mod references;
mod relay;
mod relay_answers;
mod relay_guard;
mod relay_leases;
mod request_keys;
#[path = "../support/run_pagos.rs"]
mod run_pagos;
mod secrets;
mod start_failures;
mod storefronts;
mod tracing;
mod validation;
mod webhooks;
