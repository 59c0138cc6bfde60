//! `GET /orders` and `GET /customers` as the spec describes them: newest first, a free-text
//! `search`, the documented filters, and cursor pages of at most `limit` items.

use serde_json::{json, Value};
use std::cmp::Reverse;
use std::collections::HashSet;

const DEFAULT_LIMIT: usize = 20;
const MAX_LIMIT: usize = 250;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Listing {
    Orders,
    Customers,
}

/// How `search` behaves: Conekta documents it only as a "general search".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SearchMode {
    /// Id, email, name and metadata values.
    #[default]
    Normal,
    /// Matches everything: a caller must check `metadata` itself, and page.
    Everything,
    /// Never looks into metadata: a caller must read every object in its window.
    BlindToMetadata,
}

impl Listing {
    /// The listing a request asks for, if it asks for one.
    pub(super) fn of(method: &str, path: &str) -> Option<Self> {
        match (method, path) {
            ("GET", "/orders") => Some(Self::Orders),
            ("GET", "/customers") => Some(Self::Customers),
            _ => None,
        }
    }

    fn path(self) -> &'static str {
        match self {
            Self::Orders => "/orders",
            Self::Customers => "/customers",
        }
    }

    /// Integer filters the spec documents for this listing (Unix seconds).
    fn time_filters(self) -> &'static [&'static str] {
        match self {
            Self::Orders => &[
                "created_at",
                "created_at.gte",
                "created_at.lte",
                "updated_at.gte",
                "updated_at.lte",
            ],
            Self::Customers => &[],
        }
    }
}

/// Where a page starts: at the newest item, after a cursor, or (going back) before one.
#[derive(Debug)]
enum Cursor {
    Newest,
    After(String),
    Before(String),
}

#[derive(Debug)]
enum Filter {
    /// `created_at`, `created_at.gte`, ... : a field compared with Unix seconds.
    Time {
        field: String,
        bound: Option<String>,
        at: i64,
    },
    PaymentStatus(String),
}

impl Filter {
    fn admits(&self, item: &Value) -> bool {
        match self {
            Filter::Time { field, bound, at } => {
                let Some(value) = item[field.as_str()].as_i64() else {
                    return false;
                };
                match bound.as_deref() {
                    Some("gte") => value >= *at,
                    Some("lte") => value <= *at,
                    _ => value == *at,
                }
            }
            Filter::PaymentStatus(status) => item["payment_status"] == status.as_str(),
        }
    }
}

/// A listing request's query, checked against the spec.
#[derive(Debug)]
pub(super) struct ListQuery {
    listing: Listing,
    search: Option<String>,
    limit: usize,
    cursor: Cursor,
    filters: Vec<Filter>,
    /// `search` and the filters as sent, carried into `next_page_url`.
    carried: Vec<(String, String)>,
}

impl ListQuery {
    /// The query, or every way it breaks the spec (each one a violation).
    pub(super) fn parse(listing: Listing, query: &str) -> Result<Self, Vec<String>> {
        let path = listing.path();
        let mut parsed = Self {
            listing,
            search: None,
            limit: DEFAULT_LIMIT,
            cursor: Cursor::Newest,
            filters: Vec::new(),
            carried: Vec::new(),
        };
        let mut problems = Vec::new();
        let mut seen = HashSet::new();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let (name, value) = (name.into_owned(), value.into_owned());
            if !seen.insert(name.clone()) {
                problems.push(format!("GET {path}: query parameter {name} given twice"));
                continue;
            }
            match name.as_str() {
                "limit" => match value.parse::<usize>() {
                    Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => parsed.limit = limit,
                    _ => problems.push(format!(
                        "GET {path}: limit must be 1..={MAX_LIMIT}, got {value:?}"
                    )),
                },
                "next" | "previous" => {
                    if !matches!(parsed.cursor, Cursor::Newest) {
                        problems.push(format!("GET {path}: next and previous together"));
                    }
                    parsed.cursor = if name == "next" {
                        Cursor::After(value)
                    } else {
                        Cursor::Before(value)
                    };
                }
                "search" => {
                    parsed.search = Some(value.to_lowercase());
                    parsed.carried.push((name, value));
                }
                "payment_status" if listing == Listing::Orders => {
                    parsed.filters.push(Filter::PaymentStatus(value.clone()));
                    parsed.carried.push((name, value));
                }
                // In the spec, but about a field the fake's orders do not have: say so loudly
                // rather than answer a list that silently ignores it.
                "last_payment_info.status" if listing == Listing::Orders => problems.push(format!(
                    "GET {path}: last_payment_info.status is not modelled by the fake"
                )),
                known if listing.time_filters().contains(&known) => match value.parse::<i64>() {
                    Ok(at) => {
                        let (field, bound) = match known.split_once('.') {
                            Some((field, bound)) => (field, Some(bound.to_owned())),
                            None => (known, None),
                        };
                        parsed.filters.push(Filter::Time {
                            field: field.to_owned(),
                            bound,
                            at,
                        });
                        parsed.carried.push((name, value));
                    }
                    Err(_) => problems.push(format!(
                        "GET {path}: {name} must be Unix seconds, got {value:?}"
                    )),
                },
                _ => problems.push(format!("GET {path}: unknown query parameter {name}")),
            }
        }
        if problems.is_empty() {
            Ok(parsed)
        } else {
            Err(problems)
        }
    }

    /// `search` matches a case-insensitive substring of the id, email, name or any string
    /// value in `metadata` (orders keep email and name under `customer_info`).
    fn found_by_search(&self, item: &Value, mode: SearchMode) -> bool {
        let Some(search) = &self.search else {
            return true;
        };
        if mode == SearchMode::Everything {
            return true;
        }
        let fields = [
            &item["id"],
            &item["email"],
            &item["name"],
            &item["customer_info"]["email"],
            &item["customer_info"]["name"],
        ];
        let metadata = item["metadata"]
            .as_object()
            .filter(|_| mode != SearchMode::BlindToMetadata)
            .into_iter()
            .flat_map(|m| m.values());
        fields
            .into_iter()
            .chain(metadata)
            .filter_map(Value::as_str)
            .any(|text| text.to_lowercase().contains(search))
    }

    fn admits(&self, item: &Value, mode: SearchMode) -> bool {
        self.found_by_search(item, mode) && self.filters.iter().all(|filter| filter.admits(item))
    }

    /// One page of `items` (kept in creation order) as Conekta answers it, or the problem with
    /// the cursor. `page_size_cap` shrinks pages below `limit`, never above.
    pub(super) fn page(
        &self,
        items: &[Value],
        base_url: &str,
        mode: SearchMode,
        page_size_cap: Option<usize>,
    ) -> Result<Value, String> {
        // Newest first; within one second, the one made later comes first.
        let mut listing: Vec<&Value> = items.iter().rev().collect();
        listing.sort_by_key(|item| Reverse(item["created_at"].as_i64().unwrap_or(0)));
        let position = |id: &str| {
            listing
                .iter()
                .position(|item| item["id"] == id)
                .ok_or_else(|| format!("GET {}: cursor {id:?} names nothing", self.listing.path()))
        };
        let size = page_size_cap.map_or(self.limit, |cap| cap.min(self.limit));
        let admitted = |slice: &[&'_ Value]| -> Vec<Value> {
            slice
                .iter()
                .filter(|item| self.admits(item, mode))
                .map(|item| (*item).clone())
                .collect()
        };
        let (page, more_after, more_before) = match &self.cursor {
            Cursor::Newest | Cursor::After(_) => {
                let start = match &self.cursor {
                    Cursor::After(id) => position(id)? + 1,
                    _ => 0,
                };
                let mut rest = admitted(&listing[start..]);
                let more = rest.len() > size;
                rest.truncate(size);
                (rest, more, false)
            }
            Cursor::Before(id) => {
                let mut before = admitted(&listing[..position(id)?]);
                let first = before.len().saturating_sub(size);
                (before.split_off(first), false, first > 0)
            }
        };
        let url_from = |direction: &str, item: Option<&Value>| match item {
            Some(item) => json!(self.page_url(base_url, direction, &item["id"])),
            None => Value::Null,
        };
        Ok(json!({
            "object": "list",
            "has_more": more_after || more_before,
            "next_page_url": url_from("next", page.last().filter(|_| more_after)),
            "previous_page_url": url_from("previous", page.first().filter(|_| more_before)),
            "data": page,
        }))
    }

    fn page_url(&self, base_url: &str, direction: &str, id: &Value) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query.append_pair("limit", &self.limit.to_string());
        query.append_pair(direction, id.as_str().unwrap_or_default());
        for (name, value) in &self.carried {
            query.append_pair(name, value);
        }
        format!("{base_url}{}?{}", self.listing.path(), query.finish())
    }
}
