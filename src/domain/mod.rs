//! Parsed request values that cannot hold bad data: parse once at the edge, trust afterwards
//! (money, ids, contacts, URLs, secrets). The bottom layer: it imports nothing of pagos.

pub mod amount;
pub mod contact;
pub mod field_errors;
pub mod ids;
pub mod secret;
pub mod target_url;

pub use amount::Amount;
pub use contact::{person_name, Email, Phone};
pub use field_errors::{FieldError, FieldReader};
pub use ids::{Centavos, Currency, ReferenceId};
pub use secret::ProviderSecret;
pub use target_url::TargetUrl;

use serde_json::Value;

/// A provider object id (`ord_…`, `cus_…`, `src_…`, `tok_…`): 1 to 64 letters, digits, `_` or
/// `-`. It becomes part of a provider URL path, so nothing else may pass.
pub fn object_id(value: &Value) -> Result<String, String> {
    let text = field_errors::as_str(value)?;
    if text.is_empty()
        || text.len() > 64
        || !text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        return Err("must be an id of 1 to 64 letters, digits, _ or -".to_owned());
    }
    Ok(text.to_owned())
}

/// `true` or `false`, nothing else.
pub fn boolean(value: &Value) -> Result<bool, String> {
    value
        .as_bool()
        .ok_or_else(|| "must be true or false".to_owned())
}
