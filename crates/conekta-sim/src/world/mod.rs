//! The simulator's objects, kept in memory in Conekta's JSON shapes, and the rules that change
//! them: orders and charges, the test cards, ids, money. Plain data and functions: nothing here
//! speaks HTTP (no `actix_web`) or sends webhooks.

pub mod cards;
pub mod checkout_options;
pub mod money;
pub mod orders;
pub mod state;
pub mod transitions;
