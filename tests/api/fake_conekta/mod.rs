//! A fake Conekta: a real HTTP server that checks what pagos sends (auth, API version, listing
//! queries, and bodies against the schemas derived from Conekta's official OpenAPI spec) and
//! answers in Conekta's shapes, or however a test tells it to.
//!
//! It can be as rude as the real one: act and answer late, answer 5xx after acting, send its
//! events before its own answer, repeat and reorder them, and retry those pagos does not
//! acknowledge. Like Conekta, it has no idempotency key: an `Idempotency-Key` header is
//! recorded with the request and otherwise ignored, so a create sent twice makes two orders.

mod events;
mod listing;
mod resources;
mod rules;

pub use events::{Attempt, EventPlan, EventRecord, EventTiming, Settlement};
pub use listing::SearchMode;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use events::Courier;
use listing::Listing;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    /// The raw query string ("" when there is none).
    pub query: String,
    pub headers: HashMap<String, String>,
    pub body: Value,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    /// A query parameter, decoded.
    pub fn query_param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    }
}

/// How to answer a request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Do what Conekta does and answer as it does (for a listing: the real page).
    Order,
    /// An order whose checkout has already expired.
    ExpiredOrder,
    /// A status and a JSON body; nothing is done.
    Status(u16, Value),
    /// Wait, then decide: nothing is done before the wait is over.
    After(Duration, Box<Reply>),
    /// Do what Conekta does (and send its events, if planned) at once, then wait, then answer:
    /// the order exists, and can be listed, while the caller still waits.
    ActThenAfter(Duration),
    /// Do what Conekta does, then answer this status with Conekta's error body for it: the
    /// caller is told it failed although it happened.
    ActThenStatus(u16),
}

impl Reply {
    pub fn after_ms(ms: u64, reply: Reply) -> Self {
        Reply::After(Duration::from_millis(ms), Box::new(reply))
    }

    pub fn act_then_after_ms(ms: u64) -> Self {
        Reply::ActThenAfter(Duration::from_millis(ms))
    }

    /// Conekta's error body for a status, as its API answers.
    pub fn conekta_error(status: u16, kind: &str, code: &str, message: &str) -> Self {
        Reply::Status(
            status,
            json!({
                "object": "error", "type": kind, "log_id": "641b6d813cd9a50001515017",
                "details": [{ "code": code, "param": null, "message": message, "debug_message": message }]
            }),
        )
    }

    /// Conekta's error for a status, for when it fails after acting: `api_error` for a 5xx
    /// (or any status it has no name for), the named type otherwise.
    fn conekta_error_for(status: u16) -> Self {
        const NAMED: &[(u16, &str)] = &[
            (400, "malformed_request_error"),
            (401, "authentication_error"),
            (402, "processing_error"),
            (404, "resource_not_found_error"),
            (409, "conflict_error"),
            (422, "parameter_validation_error"),
            (428, "precondition_required_error"),
        ];
        match NAMED.iter().find(|(named, _)| *named == status) {
            Some((_, kind)) => {
                let code = format!("conekta.errors.{}", kind.trim_end_matches("_error"));
                Self::conekta_error(status, kind, &code, &format!("{kind} ({status})"))
            }
            None => Self::conekta_error(
                status,
                "api_error",
                "conekta.errors.api.system.general_failure",
                "There was a runtime error and Conekta engineers have been notified.",
            ),
        }
    }
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    /// Orders and customers made so far, oldest first, for GET, listings, cancel, refunds and
    /// saved cards.
    orders: Vec<Value>,
    customers: Vec<Value>,
    next: VecDeque<Reply>,
    always: Option<Reply>,
    /// Listings are answered on their own, so a test can fail searches but not creates.
    list_next: VecDeque<Reply>,
    list_always: Option<Reply>,
    violations: Vec<String>,
    search_mode: SearchMode,
    page_size_cap: Option<usize>,
    /// Seconds the fake's clock is ahead of (or, negative, behind) the machine's.
    clock_skew: i64,
}

impl State {
    fn order_mut(&mut self, id: &str) -> Option<&mut Value> {
        self.orders.iter_mut().find(|order| order["id"] == id)
    }

    fn customer_mut(&mut self, id: &str) -> Option<&mut Value> {
        self.customers
            .iter_mut()
            .find(|customer| customer["id"] == id)
    }
}

#[derive(Clone)]
pub struct FakeConekta {
    pub url: String,
    state: Arc<Mutex<State>>,
    courier: Arc<Courier>,
    connections: Arc<AtomicUsize>,
    orders_made: Arc<AtomicUsize>,
}

impl FakeConekta {
    /// Starts on a free loopback port, inside the caller's actix runtime.
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake Conekta");
        let port = listener.local_addr().unwrap().port();
        let fake = Self {
            url: format!("http://127.0.0.1:{port}"),
            state: Arc::default(),
            courier: Arc::new(Courier::new()),
            connections: Arc::default(),
            orders_made: Arc::default(),
        };
        let shared = fake.clone();
        let connections = fake.connections.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(shared.clone()))
                .app_data(web::PayloadConfig::new(1 << 20))
                .default_service(web::to(handle))
        })
        .on_connect(move |_, _| {
            connections.fetch_add(1, Ordering::SeqCst);
        })
        .workers(2)
        .disable_signals()
        .listen(listener)
        .expect("listen")
        .run();
        actix_web::rt::spawn(server);
        fake
    }

    // What the fake does and how it answers.

    /// Answer every request (but listings) this way from now on.
    pub fn reply_always(&self, reply: Reply) {
        self.state.lock().unwrap().always = Some(reply);
    }

    /// Answer the next request (but listings) this way (queued, one each).
    pub fn reply_next(&self, reply: Reply) {
        self.state.lock().unwrap().next.push_back(reply);
    }

    /// Answer every `GET /orders` and `GET /customers` this way from now on (`Reply::Order`
    /// is the real page); creates and other requests are unaffected.
    pub fn list_reply(&self, reply: Reply) {
        self.state.lock().unwrap().list_always = Some(reply);
    }

    /// Answer the next listing this way (queued, one each), before `list_reply` applies.
    pub fn list_reply_next(&self, reply: Reply) {
        self.state.lock().unwrap().list_next.push_back(reply);
    }

    /// When on, `search` matches everything: a caller must check `metadata` itself, and page.
    pub fn search_ignored(&self, ignored: bool) {
        self.search_mode(if ignored {
            SearchMode::Everything
        } else {
            SearchMode::Normal
        });
    }

    /// How `search` behaves from now on.
    pub fn search_mode(&self, mode: SearchMode) {
        self.state.lock().unwrap().search_mode = mode;
    }

    /// Never list more than `cap` items per page, whatever `limit` asks.
    pub fn page_size_cap(&self, cap: usize) {
        assert!(cap >= 1, "a page holds at least one item");
        self.state.lock().unwrap().page_size_cap = Some(cap);
    }

    /// Sets the fake's clock `seconds` ahead of the machine's (behind when negative), for the
    /// `created_at` of what it makes from now on: Conekta's clock is not pagos's.
    pub fn clock_skew(&self, seconds: i64) {
        self.state.lock().unwrap().clock_skew = seconds;
    }

    /// The fake's "now", in Unix seconds.
    pub fn now(&self) -> i64 {
        let machine = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        machine + self.state.lock().unwrap().clock_skew
    }

    // Events.

    /// Where events go (pagos's `…/webhooks/conekta`).
    pub fn send_events_to(&self, url: &str) {
        self.courier.aim_at(url);
    }

    /// Which events each order created from now on raises, when, and how mangled.
    pub fn events(&self, plan: EventPlan) {
        self.courier.set_plan(plan);
    }

    /// Sends one event about `object` (an order, or a charge naming its `order_id`); returns
    /// once the first attempt is answered (retries go on in the background). Returns its id.
    pub async fn send_event(&self, kind: &str, object: &Value) -> String {
        let event = self.courier.event(kind, object, self.now());
        self.send_raw_event(event).await
    }

    /// Sends `event` exactly as given, signed, delivered like any other; returns its id.
    pub async fn send_raw_event(&self, event: Value) -> String {
        let delivery = self.courier.raw_delivery(&event);
        let id = delivery.event_id();
        self.courier.clone().deliver(delivery).await;
        id
    }

    /// Every delivery so far (a repeated event appears twice), in the order they were made.
    pub fn event_log(&self) -> Vec<EventRecord> {
        self.courier.log()
    }

    /// Waits until no delivery is pending (each acknowledged or given up); panics after
    /// `timeout`. Returns the log.
    pub async fn wait_events_settled(&self, timeout: Duration) -> Vec<EventRecord> {
        let deadline = Instant::now() + timeout;
        loop {
            let log = self.event_log();
            if log.iter().all(|r| r.settlement != Settlement::Pending) {
                return log;
            }
            assert!(
                Instant::now() < deadline,
                "events not settled within {timeout:?}: {log:#?}"
            );
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Whether every event sent so far has been answered 2xx.
    pub fn events_acknowledged(&self) -> bool {
        self.event_log()
            .iter()
            .all(|r| matches!(r.settlement, Settlement::Acknowledged(_)))
    }

    // Conekta's side of things, for tests to look at or change.

    /// Every order made so far, oldest first.
    pub fn orders(&self) -> Vec<Value> {
        self.state.lock().unwrap().orders.clone()
    }

    /// Orders whose `metadata.reference_id` is `reference_id`.
    pub fn orders_with_reference(&self, reference_id: &str) -> Vec<Value> {
        with_reference(self.orders(), reference_id)
    }

    /// Every customer made so far, oldest first.
    pub fn customers(&self) -> Vec<Value> {
        self.state.lock().unwrap().customers.clone()
    }

    /// Customers whose `metadata.reference_id` is `reference_id`.
    pub fn customers_with_reference(&self, reference_id: &str) -> Vec<Value> {
        with_reference(self.customers(), reference_id)
    }

    /// The refunds Conekta keeps on an order's charges.
    pub fn refunds_of(&self, order_id: &str) -> Vec<Value> {
        let mut state = self.state.lock().unwrap();
        let order = state.order_mut(order_id).expect("no such order");
        resources::refunds_of(order)
    }

    /// The buyer pays a checkout order in full by card; returns the order as it is now. Send
    /// `order.paid` with `send_event` if pagos should hear of it.
    pub fn pay(&self, order_id: &str) -> Value {
        let n = self.orders_made.fetch_add(1, Ordering::SeqCst) + 1;
        let now = self.now();
        let mut state = self.state.lock().unwrap();
        let order = state.order_mut(order_id).expect("no such order");
        resources::pay(order, format!("ch_fake{n}_paid"), now);
        order.clone()
    }

    // What pagos sent.

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Requests to one method and path.
    pub fn requests_to(&self, method: &str, path: &str) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.method == method && r.path == path)
            .collect()
    }

    pub fn orders_received(&self) -> Vec<Received> {
        self.received()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path == "/orders")
            .collect()
    }

    /// Requests that broke Conekta's rules (headers, schema, query, over-refunds); each test
    /// expects none.
    pub fn violations(&self) -> Vec<String> {
        self.state.lock().unwrap().violations.clone()
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn take_reply(&self, listing: bool) -> Reply {
        let mut state = self.state.lock().unwrap();
        let reply = if listing {
            state
                .list_next
                .pop_front()
                .or_else(|| state.list_always.clone())
        } else {
            state.next.pop_front().or_else(|| state.always.clone())
        };
        reply.unwrap_or(Reply::Order)
    }

    /// Carries out a reply: the action (and the events it raises) always comes before any
    /// delay or failure it asks for, as it does at Conekta.
    async fn answer(&self, received: &Received, mut reply: Reply) -> HttpResponse {
        while let Reply::After(delay, inner) = reply {
            actix_web::rt::time::sleep(delay).await;
            reply = *inner;
        }
        if let Reply::Status(..) = reply {
            return respond(&reply);
        }
        let expired = matches!(reply, Reply::ExpiredOrder);
        let (status, body) = resources::behave(self, received, expired);
        let made_order = received.method == "POST" && received.path == "/orders" && status == 200;
        let plan = self.courier.plan();
        let mut deliveries = if made_order && plan.timing != EventTiming::None {
            self.courier.order_deliveries(&body, plan, self.now())
        } else {
            Vec::new()
        };
        if plan.timing == EventTiming::BeforeAnswer {
            let before_answer = std::mem::take(&mut deliveries);
            self.courier.clone().deliver_in_turn(before_answer).await;
        }
        let response = match reply {
            Reply::ActThenAfter(delay) => {
                actix_web::rt::time::sleep(delay).await;
                respond(&Reply::Status(status, body))
            }
            Reply::ActThenStatus(failure) => respond(&Reply::conekta_error_for(failure)),
            _ => respond(&Reply::Status(status, body)),
        };
        if !deliveries.is_empty() {
            actix_web::rt::spawn(self.courier.clone().deliver_in_turn(deliveries));
        }
        response
    }
}

fn with_reference(items: Vec<Value>, reference_id: &str) -> Vec<Value> {
    items
        .into_iter()
        .filter(|item| item["metadata"]["reference_id"] == reference_id)
        .collect()
}

/// A fresh 24-hex id, like Conekta's object ids.
fn object_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..24].to_owned()
}

/// Every request: recorded, checked, then answered as the test said. An `Idempotency-Key`
/// header is recorded like any other and changes nothing, as at Conekta, which keeps none.
async fn handle(
    request: HttpRequest,
    body: web::Bytes,
    fake: web::Data<FakeConekta>,
) -> HttpResponse {
    let received = Received {
        method: request.method().to_string(),
        path: request.path().to_owned(),
        query: request.query_string().to_owned(),
        headers: request
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    };
    let problems = rules::check(&received);
    {
        let mut state = fake.state.lock().unwrap();
        state.received.push(received.clone());
        state.violations.extend(problems.iter().cloned());
    }
    if !problems.is_empty() {
        return respond(&Reply::conekta_error(
            422,
            "parameter_validation_error",
            "conekta.errors.parameter_validation",
            &problems.join("; "),
        ));
    }
    let listing = Listing::of(&received.method, &received.path).is_some();
    let reply = fake.take_reply(listing);
    fake.answer(&received, reply).await
}

fn respond(reply: &Reply) -> HttpResponse {
    match reply {
        Reply::Status(status, body) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(*status).unwrap())
                .content_type("application/json; charset=utf-8")
                .body(body.to_string())
        }
        _ => HttpResponse::InternalServerError().finish(),
    }
}
