//! Who may call and in which API version: a private key (`key_…`) as Conekta's SDKs send it,
//! and `Accept: application/vnd.conekta-v{version}+json` in a version the simulator speaks.

use crate::errors::ConektaError;
use actix_web::HttpRequest;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;

/// The API versions the simulator answers in: pagos sent 2.2.0 and moves to 2.3.0.
pub const API_VERSIONS: &[&str] = &["2.2.0", "2.3.0"];

/// A request to the API: its key, then its version.
pub fn authorize(request: &HttpRequest) -> Result<(), ConektaError> {
    api_key(request)?;
    let accept = request
        .headers()
        .get_all("accept")
        .filter_map(|value| value.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    api_version(&accept)
}

/// `Authorization: Bearer key_…` (or HTTP Basic with `key_…:` as the SDKs send it).
fn api_key(request: &HttpRequest) -> Result<(), ConektaError> {
    let header = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let key = if let Some(token) = header.strip_prefix("Bearer ") {
        token.trim().to_owned()
    } else if let Some(basic) = header.strip_prefix("Basic ") {
        BASE64
            .decode(basic.trim())
            .ok()
            .and_then(|raw| String::from_utf8(raw).ok())
            .and_then(|pair| pair.split(':').next().map(str::to_owned))
            .unwrap_or_default()
    } else {
        String::new()
    };
    if key.starts_with("key_") && key.len() > 4 {
        Ok(())
    } else {
        Err(ConektaError::missing_key())
    }
}

/// `Accept` may name Conekta's media type; then one of the versions named must be one the
/// simulator speaks. Any other `Accept` (`application/json`, `*/*`, none) gets the newest.
fn api_version(accept: &str) -> Result<(), ConektaError> {
    let named: Vec<&str> = accept
        .split(',')
        .filter_map(|range| {
            let media = range.split(';').next().unwrap_or("").trim();
            media
                .strip_prefix("application/vnd.conekta-v")
                .and_then(|rest| rest.strip_suffix("+json"))
        })
        .collect();
    match named.first() {
        Some(version) if !named.iter().any(|v| API_VERSIONS.contains(v)) => {
            Err(ConektaError::unsupported_version(version, API_VERSIONS))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speaks_2_2_0_and_2_3_0() {
        for accept in [
            "application/vnd.conekta-v2.2.0+json",
            "application/vnd.conekta-v2.3.0+json",
            "application/vnd.conekta-v2.3.0+json; charset=utf-8",
            "application/json",
            "*/*",
            "",
        ] {
            assert!(api_version(accept).is_ok(), "{accept}");
        }
        for accept in [
            "application/vnd.conekta-v2.1.0+json",
            "application/vnd.conekta-v9+json",
            "application/json, application/vnd.conekta-v1.0.0+json",
        ] {
            let error = api_version(accept).unwrap_err();
            assert_eq!(error.status, 406, "{accept}");
            assert!(error.details[0].message.contains("2.3.0"), "{accept}");
        }
    }
}
