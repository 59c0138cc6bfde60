//! Finding what an attempt made, when its outcome is unknown: Conekta's lists are read for the
//! object that carries the attempt key in its metadata. Conekta's `search` is a general text
//! search whose fields are not documented, so its result only helps: pagos checks the key
//! itself, and when the search finds nothing it reads every object made since the attempt
//! started before it concludes that none exists.

use super::claim_flow::{Found, METADATA_KEY};
use super::client::{ConektaClient, ConektaError};
use crate::domain::ProviderSecret;
use serde_json::Value;

/// Conekta's largest page.
const PAGE_LIMIT: &str = "250";
/// Pages read in one pass before giving up on being sure (2,000 objects).
const MAX_PAGES: usize = 8;
/// Clock difference allowed between pagos and Conekta when filtering by creation time.
const CLOCK_SLACK_S: i64 = 300;

pub struct Lookup<'a> {
    pub client: &'a ConektaClient,
    pub secret: &'a ProviderSecret,
}

impl Lookup<'_> {
    /// The order made by the attempt with `attempt_key`, started at `started_at_ms`; `Ok(None)`
    /// only when Conekta's lists positively hold none.
    pub async fn order_made(
        &self,
        attempt_key: &str,
        started_at_ms: i64,
        known_id: Option<&str>,
    ) -> Result<Option<Found>, ConektaError> {
        if let Some(id) = known_id {
            match self.client.get(&format!("/orders/{id}"), self.secret).await {
                Ok(answer) if carries(&answer.json(), attempt_key) => return Ok(Some(answer)),
                Ok(_) | Err(ConektaError::Rejected { status: 404, .. }) => {}
                Err(error) => return Err(error),
            }
        }
        let since = (started_at_ms / 1000 - CLOCK_SLACK_S).to_string();
        let searched = [
            ("search", attempt_key.to_owned()),
            ("created_at.gte", since.clone()),
            ("limit", PAGE_LIMIT.to_owned()),
        ];
        if let Some(found) = self.find("/orders", &searched, attempt_key, None).await? {
            return Ok(Some(found));
        }
        let everything_since = [("created_at.gte", since), ("limit", PAGE_LIMIT.to_owned())];
        self.find("/orders", &everything_since, attempt_key, None)
            .await
    }

    /// The customer made by the attempt with `attempt_key`. Customers cannot be filtered by
    /// creation time: the list (newest first) is read until it reaches customers older than
    /// the attempt.
    pub async fn customer_made(
        &self,
        attempt_key: &str,
        started_at_ms: i64,
    ) -> Result<Option<Found>, ConektaError> {
        let searched = [
            ("search", attempt_key.to_owned()),
            ("limit", PAGE_LIMIT.to_owned()),
        ];
        if let Some(found) = self
            .find("/customers", &searched, attempt_key, None)
            .await?
        {
            return Ok(Some(found));
        }
        let since = started_at_ms / 1000 - CLOCK_SLACK_S;
        let newest = [("limit", PAGE_LIMIT.to_owned())];
        self.find("/customers", &newest, attempt_key, Some(since))
            .await
    }

    /// Reads pages of `path` until an object carries `attempt_key`, the list ends, or (with
    /// `older_than`) a whole page was made before that time.
    async fn find(
        &self,
        path: &str,
        query: &[(&str, String)],
        attempt_key: &str,
        older_than: Option<i64>,
    ) -> Result<Option<Found>, ConektaError> {
        let mut next: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut page_query = query.to_vec();
            if let Some(cursor) = &next {
                page_query.push(("next", cursor.clone()));
            }
            let page = self
                .client
                .get_query(path, &page_query, self.secret)
                .await?;
            let page = page.json();
            let Some(items) = page["data"].as_array() else {
                return Err(unreadable(path, "a list without data"));
            };
            if let Some(item) = items.iter().find(|item| carries(item, attempt_key)) {
                return Ok(Some(Found {
                    text: item.to_string(),
                }));
            }
            let all_older = older_than.is_some_and(|since| {
                items
                    .iter()
                    .all(|item| item["created_at"].as_i64().is_some_and(|at| at < since))
            });
            if page["has_more"] != Value::Bool(true) || items.is_empty() || all_older {
                return Ok(None);
            }
            next =
                Some(cursor_after(&page, items).ok_or_else(|| {
                    unreadable(path, "a page that says there is more but not where")
                })?);
        }
        Err(ConektaError::Unavailable {
            reason: format!(
                "{path}: more than {MAX_PAGES} pages to read before the earlier attempt's \
                 outcome is certain"
            ),
            maybe_done: false,
        })
    }
}

/// True when a Conekta object's metadata carries this attempt key.
fn carries(object: &Value, attempt_key: &str) -> bool {
    object["metadata"][METADATA_KEY].as_str() == Some(attempt_key)
}

/// The `next` cursor: from `next_page_url` when Conekta gives one, else the last item's id.
fn cursor_after(page: &Value, items: &[Value]) -> Option<String> {
    let from_url = page["next_page_url"]
        .as_str()
        .and_then(|url| url::Url::parse(url).ok())
        .and_then(|url| {
            url.query_pairs()
                .find(|(name, _)| name == "next")
                .map(|(_, value)| value.into_owned())
        });
    from_url.or_else(|| items.last()?["id"].as_str().map(str::to_owned))
}

fn unreadable(path: &str, what: &str) -> ConektaError {
    ConektaError::Unavailable {
        reason: format!("{path}: Conekta answered {what}"),
        maybe_done: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_cursor_comes_from_the_next_page_url_or_the_last_item() {
        let items = [json!({"id": "ord_1"}), json!({"id": "ord_2"})];
        let page = json!({"next_page_url": "https://api.conekta.io/orders?limit=2&next=ord_9"});
        assert_eq!(cursor_after(&page, &items).as_deref(), Some("ord_9"));
        assert_eq!(
            cursor_after(&json!({"next_page_url": null}), &items).as_deref(),
            Some("ord_2")
        );
    }

    #[test]
    fn only_the_exact_key_in_metadata_counts() {
        let order = json!({"metadata": {"pagos_claim": "clm_1", "reference_id": "clm_2"}});
        assert!(carries(&order, "clm_1"));
        assert!(!carries(&order, "clm_2"));
        assert!(!carries(&json!({"metadata": null}), "clm_1"));
    }
}
