//! Integration tests: the real service on a real port, a real store, a fake Conekta over HTTP.

mod actions;
mod answer_checks;
mod binary;
mod body_rules;
mod chaos;
mod conekta_events;
mod create;
mod early_events;
mod exactly_once;
mod fake_conekta;
mod fake_conekta_self;
mod health;
mod helpers;
mod idempotency;
mod operations;
mod process;
mod provider_errors;
mod receiver;
mod references;
mod relay;
mod relay_guard;
mod request_keys;
mod secrets;
mod tracing;
mod validation;
mod webhooks;
