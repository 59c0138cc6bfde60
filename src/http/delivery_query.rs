//! The query strings of the notification endpoints (`/admin/deliveries…`, `/deliveries`), read by
//! hand so that every bad parameter (unknown, repeated or malformed) is a 422 naming it rather
//! than a framework error or a silently ignored filter.

use super::problem::Problem;
use crate::domain::FieldError;
use crate::providers::ActionError;
use crate::store::{DeliveryFilter, DeliveryStatus};
use std::collections::HashMap;

/// The filters an operator may use on `/admin/deliveries`.
pub const ADMIN_FILTERS: &[&str] = &["status", "reference_id", "target", "storefront", "limit"];
/// A storefront's: the same, less `storefront` (it sees only its own).
pub const STOREFRONT_FILTERS: &[&str] = &["status", "reference_id", "target", "limit"];

/// A query string's parameters, each known and given once.
pub struct Params(HashMap<String, String>);

impl Params {
    pub fn parse(query: &str, accepted: &[&str]) -> Result<Self, Problem> {
        let mut values = HashMap::new();
        let mut errors = Vec::new();
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            if !accepted.contains(&key.as_ref()) {
                errors.push(FieldError::new(
                    key.as_ref(),
                    format!("is not a filter here; use {}", accepted.join(", ")),
                ));
            } else if values.insert(key.to_string(), value.into_owned()).is_some() {
                errors.push(FieldError::new(key.as_ref(), "must be given at most once"));
            }
        }
        errors.dedup_by(|a, b| a.field == b.field);
        if errors.is_empty() {
            Ok(Self(values))
        } else {
            Err(invalid(errors))
        }
    }

    fn text(&self, name: &str) -> Option<String> {
        self.0.get(name).filter(|value| !value.is_empty()).cloned()
    }

    /// The list filter (at most 100 unless `limit` says otherwise, up to 1000).
    pub fn filter(&self) -> Result<DeliveryFilter, Problem> {
        let mut errors = Vec::new();
        let status = match self
            .text("status")
            .map(|name| name.parse::<DeliveryStatus>())
        {
            None => None,
            Some(Ok(status)) => Some(status),
            Some(Err(_)) => {
                let names = DeliveryStatus::ALL.map(DeliveryStatus::as_str);
                errors.push(FieldError::new(
                    "status",
                    format!("must be one of {}", names.join(", ")),
                ));
                None
            }
        };
        let limit = match self.text("limit").map(|text| text.parse::<i64>()) {
            None => 100,
            Some(Ok(n)) if (1..=1000).contains(&n) => n,
            Some(_) => {
                errors.push(FieldError::new(
                    "limit",
                    "must be an integer from 1 to 1000",
                ));
                0
            }
        };
        let target = self.text("target").map(|target| match origin_key(&target) {
            Some(origin) => origin,
            None => target,
        });
        if !errors.is_empty() {
            return Err(invalid(errors));
        }
        Ok(DeliveryFilter {
            status,
            reference_id: self.text("reference_id"),
            target,
            storefront: self.text("storefront"),
            limit,
        })
    }

    /// `since=`: an RFC 3339 time or Unix seconds, in milliseconds; required.
    pub fn since_ms(&self) -> Result<i64, Problem> {
        let Some(text) = self.text("since") else {
            return Err(invalid(vec![FieldError::new(
                "since",
                "is required: an RFC 3339 time or Unix seconds",
            )]));
        };
        parse_moment(&text).ok_or_else(|| {
            invalid(vec![FieldError::new(
                "since",
                "must be an RFC 3339 time (2026-11-23T10:00:00Z) or Unix seconds",
            )])
        })
    }
}

/// Unix milliseconds of an RFC 3339 time or of Unix seconds.
pub fn parse_moment(text: &str) -> Option<i64> {
    if let Ok(seconds) = text.parse::<i64>() {
        return (0..=253_402_300_799)
            .contains(&seconds)
            .then_some(seconds * 1000);
    }
    let at =
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000)
        .ok()
        .filter(|ms| *ms >= 0)
}

/// An origin (`https://shop.example`, path `/` at most) as the relay keys its targets
/// (`https://shop.example:443`); a URL with a path is matched as given.
fn origin_key(target: &str) -> Option<String> {
    let url = url::Url::parse(target).ok()?;
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return None;
    }
    Some(crate::relay::notification::target_key(target))
}

fn invalid(errors: Vec<FieldError>) -> Problem {
    ActionError::InvalidFields(errors).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_and_repeated_parameters_are_named() {
        let problem = Params::parse("status=failed&colour=red&status=pending", ADMIN_FILTERS)
            .err()
            .expect("refused");
        let fields: Vec<&str> = problem.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["colour", "status"]);
        assert!(Params::parse("storefront=a", STOREFRONT_FILTERS).is_err());
    }

    #[test]
    fn a_filter_reads_its_values_and_an_origin_becomes_the_relays_key() {
        let filter = Params::parse(
            "status=failed&reference_id=R-1&target=https://shop.example&limit=5",
            ADMIN_FILTERS,
        )
        .and_then(|params| params.filter())
        .expect("valid");
        assert_eq!(filter.status, Some(DeliveryStatus::Failed));
        assert_eq!(filter.reference_id.as_deref(), Some("R-1"));
        assert_eq!(filter.target.as_deref(), Some("https://shop.example:443"));
        assert_eq!(filter.limit, 5);
        let exact = Params::parse("target=https://shop.example/hooks", ADMIN_FILTERS)
            .and_then(|params| params.filter())
            .expect("valid");
        assert_eq!(exact.target.as_deref(), Some("https://shop.example/hooks"));
    }

    #[test]
    fn since_is_rfc3339_or_unix_seconds() {
        assert_eq!(parse_moment("1700000000"), Some(1_700_000_000_000));
        assert_eq!(
            parse_moment("2023-11-14T22:13:20Z"),
            Some(1_700_000_000_000)
        );
        assert_eq!(
            parse_moment("2023-11-14T16:13:20-06:00"),
            Some(1_700_000_000_000)
        );
        assert_eq!(parse_moment("yesterday"), None);
        assert_eq!(parse_moment("-5"), None);
    }
}
