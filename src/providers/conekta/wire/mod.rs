//! Conekta's API shapes, as its OpenAPI spec (2.3.0) defines them: the requests pagos sends,
//! and views of the parts of Conekta's answers pagos reads (answers themselves are passed on
//! to storefronts as Conekta wrote them). A field's name and type are written here once.
//! Nothing here knows of pagos's requests, the store or HTTP.

pub mod customers;
pub mod errors;
pub mod events;
pub mod lists;
pub mod orders;

use std::collections::BTreeMap;

/// Conekta's `metadata`: string values under string keys (at most 100 keys).
pub type Metadata<'a> = BTreeMap<&'a str, &'a str>;

/// Most keys Conekta accepts in one `metadata` object.
pub const MAX_METADATA_KEYS: usize = 100;
/// Longest `metadata` string value Conekta accepts (its sanitiser refuses 250 and more).
pub const MAX_METADATA_VALUE: usize = 249;

/// Text bounds Conekta states for names and descriptions (`product.name`, charge
/// `description`): at least 3, at most 249 characters.
pub const TEXT_MIN: usize = 3;
pub const TEXT_MAX: usize = 249;

/// The most one line item can carry: `unit_price` is an int32 of centavos.
pub const MAX_UNIT_PRICE: i64 = i32::MAX as i64;
