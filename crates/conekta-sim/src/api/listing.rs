//! `GET /orders` and `GET /customers`: Conekta's paged lists, newest first. After a create whose
//! outcome it does not know, pagos searches them for the claim key it put in `metadata`, so
//! search, the date filters and paging behave as the spec describes them, and anything the spec
//! does not list is refused. (Over 400 lines: a quarter of it is the unit tests that pin down
//! the paging, kept beside it.)

use super::ok;
use crate::errors::{ConektaError, Detail};
use crate::server::Simulator;
use crate::validation::authorize;
use crate::world::state::Objects;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

/// The spec's bounds for `limit`.
const LIMIT_MAX: usize = 250;
const LIMIT_DEFAULT: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Orders,
    Customers,
}

impl Kind {
    fn path(self) -> &'static str {
        match self {
            Kind::Orders => "/orders",
            Kind::Customers => "/customers",
        }
    }

    fn singular(self) -> &'static str {
        match self {
            Kind::Orders => "order",
            Kind::Customers => "customer",
        }
    }

    /// The spec's filters for this list besides `search`, `limit`, `next` and `previous`.
    fn filters(self) -> &'static [&'static str] {
        match self {
            Kind::Orders => &[
                "payment_status",
                "last_payment_info.status",
                "created_at",
                "created_at.gte",
                "created_at.lte",
                "updated_at.gte",
                "updated_at.lte",
            ],
            Kind::Customers => &[],
        }
    }
}

pub async fn list_orders(request: HttpRequest, simulator: web::Data<Simulator>) -> HttpResponse {
    list(&request, &simulator, Kind::Orders)
}

pub async fn list_customers(request: HttpRequest, simulator: web::Data<Simulator>) -> HttpResponse {
    list(&request, &simulator, Kind::Customers)
}

fn list(request: &HttpRequest, simulator: &Simulator, kind: Kind) -> HttpResponse {
    let answer = authorize(request)
        .and_then(|()| ListQuery::parse(kind, request.query_string()))
        .and_then(|query| {
            let world = simulator.world();
            let objects = match kind {
                Kind::Orders => &world.orders,
                Kind::Customers => &world.customers,
            };
            query.page(objects, &simulator.url)
        });
    match answer {
        Ok(body) => ok(&body),
        Err(error) => error.response(),
    }
}

/// Where a page starts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cursor {
    Newest,
    /// `next=<id>`: the objects made before that one.
    After(String),
    /// `previous=<id>`: the objects made after that one (the page just before it).
    Before(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Bound {
    Equal,
    AtLeast,
    AtMost,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Filter {
    /// `created_at`, `created_at.gte`, `updated_at.lte`, …: a Unix-seconds field against a bound.
    Time {
        field: &'static str,
        bound: Bound,
        at: i64,
    },
    PaymentStatus(String),
    /// The status of the order's latest charge (the simulator keeps no `last_payment_info`).
    LastPaymentStatus(String),
}

impl Filter {
    /// `name` is one of `Kind::filters`.
    fn parse(name: &'static str, value: &str) -> Result<Self, Detail> {
        match name {
            "payment_status" => return Ok(Filter::PaymentStatus(value.to_owned())),
            "last_payment_info.status" => return Ok(Filter::LastPaymentStatus(value.to_owned())),
            _ => {}
        }
        let (field, bound) = match name.split_once('.') {
            Some((field, "gte")) => (field, Bound::AtLeast),
            Some((field, "lte")) => (field, Bound::AtMost),
            _ => (name, Bound::Equal),
        };
        value
            .trim()
            .parse::<i64>()
            .map(|at| Filter::Time { field, bound, at })
            .map_err(|_| {
                Detail::invalid(
                    name,
                    "invalid",
                    format!("The parameter \"{name}\" must be a Unix time in seconds."),
                )
            })
    }

    fn admits(&self, object: &Value) -> bool {
        match self {
            Filter::Time { field, bound, at } => {
                object[*field].as_i64().is_some_and(|time| match bound {
                    Bound::Equal => time == *at,
                    Bound::AtLeast => time >= *at,
                    Bound::AtMost => time <= *at,
                })
            }
            Filter::PaymentStatus(status) => object["payment_status"].as_str() == Some(status),
            Filter::LastPaymentStatus(status) => {
                object["charges"]["data"]
                    .as_array()
                    .and_then(|charges| charges.last())
                    .and_then(|charge| charge["status"].as_str())
                    == Some(status)
            }
        }
    }
}

/// A list request, checked.
#[derive(Debug)]
pub struct ListQuery {
    kind: Kind,
    /// Lowercase; matched case-insensitively as a substring.
    search: Option<String>,
    filters: Vec<Filter>,
    limit: usize,
    cursor: Cursor,
    /// `search` and the filters as given, repeated in the page links.
    kept: Vec<(String, String)>,
}

impl ListQuery {
    /// The query string, or Conekta's 422 naming every bad parameter.
    pub fn parse(kind: Kind, query: &str) -> Result<Self, ConektaError> {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let mut details = Vec::new();
        let mut list = ListQuery {
            kind,
            search: None,
            filters: Vec::new(),
            limit: LIMIT_DEFAULT,
            cursor: Cursor::Newest,
            kept: Vec::new(),
        };
        let (mut next, mut previous) = (None, None);
        for (at, (name, value)) in pairs.iter().enumerate() {
            // Which of two values would count is a guess; refuse rather than pick one.
            if pairs[..at].iter().any(|(earlier, _)| earlier == name) {
                details.push(Detail::invalid(
                    name,
                    "duplicated",
                    format!("The parameter \"{name}\" is given more than once."),
                ));
                continue;
            }
            match name.as_str() {
                "search" => {
                    list.search = Some(value.to_lowercase());
                    list.kept.push((name.clone(), value.clone()));
                }
                "limit" => match value.trim().parse::<usize>() {
                    Ok(limit) if (1..=LIMIT_MAX).contains(&limit) => list.limit = limit,
                    _ => details.push(Detail::invalid(
                        "limit",
                        "invalid",
                        format!("The limit must be an integer from 1 to {LIMIT_MAX}."),
                    )),
                },
                "next" => next = Some(value.clone()),
                "previous" => previous = Some(value.clone()),
                other => match kind.filters().iter().find(|known| **known == other) {
                    Some(known) => match Filter::parse(known, value) {
                        Ok(filter) => {
                            list.filters.push(filter);
                            list.kept.push((name.clone(), value.clone()));
                        }
                        Err(detail) => details.push(detail),
                    },
                    None => details.push(Detail::invalid(
                        other,
                        "unknown",
                        format!(
                            "The parameter \"{other}\" is not accepted by GET {}.",
                            kind.path()
                        ),
                    )),
                },
            }
        }
        list.cursor = match (next, previous) {
            (Some(_), Some(_)) => {
                details.push(Detail::new(
                    "conekta.errors.parameter_validation.combo.next_previous",
                    Some("next"),
                    "Give next or previous, not both.",
                ));
                Cursor::Newest
            }
            (Some(id), None) => Cursor::After(id),
            (None, Some(id)) => Cursor::Before(id),
            (None, None) => Cursor::Newest,
        };
        if details.is_empty() {
            Ok(list)
        } else {
            Err(ConektaError::validation(details))
        }
    }

    fn admits(&self, object: &Value) -> bool {
        self.filters.iter().all(|filter| filter.admits(object))
            && self
                .search
                .as_deref()
                .is_none_or(|needle| found(self.kind, object, needle))
    }

    /// One page of `objects` in Conekta's list shape. `has_more` is about the direction of
    /// travel (older for `next`, newer for `previous`); a link is given whenever something
    /// matching lies that way.
    pub fn page(&self, objects: &Objects, base_url: &str) -> Result<Value, ConektaError> {
        let all = objects.as_slice();
        let position = |param: &str, id: &str| {
            objects.position(id).ok_or_else(|| {
                ConektaError::validation(vec![Detail::invalid(
                    param,
                    "invalid",
                    format!("There is no {} with id '{id}'.", self.kind.singular()),
                )])
            })
        };
        // Positions run oldest (0) to newest; a page is listed newest first.
        let (page, has_more) = match &self.cursor {
            Cursor::Newest => self.older_than(all, all.len()),
            Cursor::After(id) => self.older_than(all, position("next", id)?),
            Cursor::Before(id) => self.newer_than(all, position("previous", id)?),
        };
        let (newest, oldest) = match (page.first(), page.last()) {
            (Some(&newest), Some(&oldest)) => (newest, oldest),
            _ => return Ok(list_body(Vec::new(), false, None, None)),
        };
        let id = |at: usize| all[at]["id"].as_str().unwrap_or("").to_owned();
        let more_older = (0..oldest).any(|at| self.admits(&all[at]));
        let more_newer = (newest + 1..all.len()).any(|at| self.admits(&all[at]));
        let next = more_older.then(|| self.link(base_url, "next", &id(oldest)));
        let previous = more_newer.then(|| self.link(base_url, "previous", &id(newest)));
        let data = page.iter().map(|&at| all[at].clone()).collect();
        Ok(list_body(data, has_more, next, previous))
    }

    /// Up to `limit` matching objects made before position `end`, newest first, and whether
    /// more follow.
    fn older_than(&self, all: &[Value], end: usize) -> (Vec<usize>, bool) {
        let mut older = (0..end).rev().filter(|&at| self.admits(&all[at]));
        let page = older.by_ref().take(self.limit).collect();
        (page, older.next().is_some())
    }

    /// Up to `limit` matching objects made just after position `start` (the nearest ones),
    /// newest first, and whether more lie beyond them.
    fn newer_than(&self, all: &[Value], start: usize) -> (Vec<usize>, bool) {
        let mut newer = (start + 1..all.len()).filter(|&at| self.admits(&all[at]));
        let mut page: Vec<usize> = newer.by_ref().take(self.limit).collect();
        page.reverse();
        (page, newer.next().is_some())
    }

    /// The same list from another cursor, as `next_page_url` / `previous_page_url`.
    fn link(&self, base_url: &str, direction: &str, id: &str) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in &self.kept {
            query.append_pair(name, value);
        }
        query.append_pair("limit", &self.limit.to_string());
        query.append_pair(direction, id);
        format!("{base_url}{}?{}", self.kind.path(), query.finish())
    }
}

fn list_body(
    data: Vec<Value>,
    has_more: bool,
    next: Option<String>,
    previous: Option<String>,
) -> Value {
    json!({
        "object": "list",
        "has_more": has_more,
        "next_page_url": next,
        "previous_page_url": previous,
        "data": data,
    })
}

/// `search`: the id, the customer's email and name, and every string in `metadata`.
fn found(kind: Kind, object: &Value, needle: &str) -> bool {
    let person = match kind {
        Kind::Orders => &object["customer_info"],
        Kind::Customers => object,
    };
    [&object["id"], &person["email"], &person["name"]]
        .into_iter()
        .filter_map(Value::as_str)
        .any(|text| text.to_lowercase().contains(needle))
        || any_string(&object["metadata"], needle)
}

/// Metadata values are meant to be scalars, but Conekta keeps nested ones; search those too.
fn any_string(value: &Value, needle: &str) -> bool {
    match value {
        Value::String(text) => text.to_lowercase().contains(needle),
        Value::Array(items) => items.iter().any(|item| any_string(item, needle)),
        Value::Object(fields) => fields.values().any(|field| any_string(field, needle)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "http://127.0.0.1:1";

    fn orders() -> Objects {
        let mut objects = Objects::default();
        for (n, status) in ["paid", "pending_payment", "paid", "declined"]
            .into_iter()
            .enumerate()
        {
            objects.insert(json!({
                "id": format!("ord_{n}"), "object": "order", "created_at": 100 + n as i64,
                "updated_at": 200 + n as i64, "payment_status": status,
                "customer_info": {"email": format!("buyer{n}@Example.com"), "name": "Ana"},
                "metadata": {"pagos_claim": format!("clm_0193ABC{n}"), "nested": {"x": "deep"}}
            }));
        }
        objects
    }

    fn ids(page: &Value) -> Vec<&str> {
        page["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["id"].as_str().unwrap())
            .collect()
    }

    fn page(query: &str) -> Value {
        ListQuery::parse(Kind::Orders, query)
            .unwrap()
            .page(&orders(), BASE)
            .unwrap()
    }

    #[test]
    fn newest_first_with_search_and_filters() {
        assert_eq!(ids(&page("")), ["ord_3", "ord_2", "ord_1", "ord_0"]);
        assert_eq!(ids(&page("search=CLM_0193abc2")), ["ord_2"]);
        assert_eq!(
            ids(&page("search=example.com&payment_status=paid")),
            ["ord_2", "ord_0"]
        );
        assert_eq!(
            ids(&page("search=deep&created_at.gte=102")),
            ["ord_3", "ord_2"]
        );
        assert_eq!(ids(&page("created_at=101")), ["ord_1"]);
        assert_eq!(ids(&page("updated_at.lte=201")), ["ord_1", "ord_0"]);
        assert_eq!(ids(&page("search=nobody")), Vec::<&str>::new());
    }

    #[test]
    fn pages_follow_next_and_previous() {
        let first = page("limit=2&search=clm");
        assert_eq!(ids(&first), ["ord_3", "ord_2"]);
        assert_eq!(first["has_more"], true);
        assert_eq!(
            first["next_page_url"],
            format!("{BASE}/orders?search=clm&limit=2&next=ord_2")
        );
        assert_eq!(first["previous_page_url"], Value::Null);
        let second = page("limit=2&search=clm&next=ord_2");
        assert_eq!(ids(&second), ["ord_1", "ord_0"]);
        assert_eq!(second["has_more"], false);
        assert_eq!(second["next_page_url"], Value::Null);
        assert_eq!(
            second["previous_page_url"],
            format!("{BASE}/orders?search=clm&limit=2&previous=ord_1")
        );
        let back = page("limit=2&search=clm&previous=ord_1");
        assert_eq!(ids(&back), ["ord_3", "ord_2"]);
        assert_eq!(back["has_more"], false);
        let one = page("limit=1&previous=ord_0");
        assert_eq!(ids(&one), ["ord_1"]);
        assert_eq!(one["has_more"], true);
    }

    #[test]
    fn last_payment_info_status_is_the_latest_charge() {
        let retried = json!({"charges": {"data": [{"status": "declined"}, {"status": "paid"}]}});
        let parsed = |status| Filter::parse("last_payment_info.status", status).unwrap();
        assert!(parsed("paid").admits(&retried));
        assert!(!parsed("declined").admits(&retried));
        assert!(!parsed("paid").admits(&json!({"payment_status": "paid"})));
    }

    #[test]
    fn refuses_what_the_spec_does_not_allow() {
        for query in [
            "limit=0",
            "limit=251",
            "limit=ten",
            "created_at.gte=yesterday",
            "colour=red",
            "limit=1&limit=2",
            "next=ord_1&previous=ord_2",
        ] {
            let error = ListQuery::parse(Kind::Orders, query).unwrap_err();
            assert_eq!(error.status, 422, "{query}");
            assert_eq!(error.kind, "parameter_validation_error", "{query}");
        }
        assert!(ListQuery::parse(Kind::Customers, "payment_status=paid").is_err());
        assert!(ListQuery::parse(Kind::Orders, "limit=250&last_payment_info.status=paid").is_ok());
        let unknown_cursor = ListQuery::parse(Kind::Orders, "next=ord_9")
            .unwrap()
            .page(&orders(), BASE)
            .unwrap_err();
        assert_eq!(unknown_cursor.details[0].param.as_deref(), Some("next"));
    }
}
