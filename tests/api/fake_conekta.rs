//! A fake Conekta: a real HTTP server that checks what pagos sends (auth, API version, and the
//! body against the schema derived from Conekta's official OpenAPI spec) and answers in
//! Conekta's shapes, or however a test tells it to.

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Request schemas derived from Conekta's official spec, by method and path pattern.
const SCHEMAS: &[(&str, &str, &str)] = &[
    (
        "POST",
        "/orders",
        include_str!("../data/conekta/order_request.schema.json"),
    ),
    (
        "POST",
        "/customers",
        include_str!("../data/conekta/customer.schema.json"),
    ),
    (
        "POST",
        "/customers/*/payment_sources",
        include_str!("../data/conekta/CreateCustomerPaymentMethods_request.schema.json"),
    ),
    (
        "PUT",
        "/customers/*",
        include_str!("../data/conekta/update_customer.schema.json"),
    ),
    (
        "POST",
        "/orders/*/refunds",
        include_str!("../data/conekta/orderRefund_request.schema.json"),
    ),
];

/// The schema for a request, matching `*` to one path segment.
fn schema_for(method: &str, path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.split('/').collect();
    SCHEMAS.iter().find_map(|(m, pattern, schema)| {
        let pattern: Vec<&str> = pattern.split('/').collect();
        let matches = *m == method
            && pattern.len() == segments.len()
            && pattern
                .iter()
                .zip(&segments)
                .all(|(p, s)| *p == "*" || p == s);
        matches.then_some(*schema)
    })
}

/// One request as the fake received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Value,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// How to answer a request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A real-shaped order built from the request.
    Order,
    /// An order whose checkout has already expired.
    ExpiredOrder,
    /// A status and a JSON body.
    Status(u16, Value),
    /// Wait, then answer.
    After(Duration, Box<Reply>),
}

impl Reply {
    pub fn after_ms(ms: u64, reply: Reply) -> Self {
        Reply::After(Duration::from_millis(ms), Box::new(reply))
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
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    /// Orders and customers made so far, for GET, cancel, refunds and saved cards.
    orders: HashMap<String, Value>,
    customers: HashMap<String, Value>,
    next: VecDeque<Reply>,
    always: Option<Reply>,
    violations: Vec<String>,
}

#[derive(Clone)]
pub struct FakeConekta {
    pub url: String,
    state: Arc<Mutex<State>>,
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

    /// Answer every request this way from now on.
    pub fn reply_always(&self, reply: Reply) {
        self.state.lock().unwrap().always = Some(reply);
    }

    /// Answer the next request this way (queued, one each).
    pub fn reply_next(&self, reply: Reply) {
        self.state.lock().unwrap().next.push_back(reply);
    }

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

    /// Requests that broke Conekta's rules (headers or schema); each test expects none.
    pub fn violations(&self) -> Vec<String> {
        self.state.lock().unwrap().violations.clone()
    }

    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    fn take_reply(&self) -> Reply {
        let mut state = self.state.lock().unwrap();
        state
            .next
            .pop_front()
            .or_else(|| state.always.clone())
            .unwrap_or(Reply::Order)
    }
}

async fn handle(
    request: HttpRequest,
    body: web::Bytes,
    fake: web::Data<FakeConekta>,
) -> HttpResponse {
    let headers: HashMap<String, String> = request
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let received = Received {
        method: request.method().to_string(),
        path: request.path().to_owned(),
        headers,
        body: parsed.clone(),
    };
    let problems = check(&received);
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
    let mut reply = fake.take_reply();
    while let Reply::After(delay, inner) = reply {
        actix_web::rt::time::sleep(delay).await;
        reply = *inner;
    }
    match reply {
        Reply::Order | Reply::ExpiredOrder => {
            let expired = matches!(reply, Reply::ExpiredOrder);
            let method = request.method().to_string();
            let (status, body) = behave(&fake, &method, request.path(), &parsed, expired);
            respond(&Reply::Status(status, body))
        }
        other => respond(&other),
    }
}

const DECLINED_CARDS: &[&str] = &["tok_test_card_declined", "src_card_declined"];

fn not_found() -> (u16, Value) {
    match Reply::conekta_error(
        404,
        "resource_not_found_error",
        "conekta.errors.resource_not_found.entity",
        "El recurso no ha sido encontrado.",
    ) {
        Reply::Status(status, body) => (status, body),
        _ => unreachable!(),
    }
}

/// What Conekta does for each route pagos uses, on the fake's memory.
fn behave(
    fake: &FakeConekta,
    method: &str,
    path: &str,
    body: &Value,
    expired: bool,
) -> (u16, Value) {
    let n = fake.orders_made.fetch_add(1, Ordering::SeqCst) + 1;
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let mut state = fake.state.lock().unwrap();
    match (method, segments.as_slice()) {
        ("POST", ["orders"]) => {
            let declined = body["charges"].as_array().into_iter().flatten().any(|c| {
                let pm = &c["payment_method"];
                DECLINED_CARDS
                    .iter()
                    .any(|d| pm["token_id"] == *d || pm["payment_source_id"] == *d)
            });
            if declined {
                let Reply::Status(status, body) = Reply::conekta_error(
                    402,
                    "processing_error",
                    "conekta.errors.processing.bank.declined",
                    "El cargo ha sido declinado por el banco emisor.",
                ) else {
                    unreachable!()
                };
                return (status, body);
            }
            let order = order_from(body, n, expired);
            state
                .orders
                .insert(order["id"].as_str().unwrap().to_owned(), order.clone());
            (200, order)
        }
        ("GET", ["orders", id]) => match state.orders.get(*id) {
            Some(order) => (200, order.clone()),
            None => not_found(),
        },
        ("POST", ["orders", id, "cancel"]) => match state.orders.get_mut(*id) {
            Some(order) => {
                order["payment_status"] = json!("canceled");
                (200, order.clone())
            }
            None => not_found(),
        },
        ("POST", ["orders", id, "refunds"]) => match state.orders.get_mut(*id) {
            Some(order) => {
                let refunded = order["amount_refunded"].as_i64().unwrap_or(0)
                    + body["amount"].as_i64().unwrap_or(0);
                order["amount_refunded"] = json!(refunded);
                let total = order["amount"].as_i64().unwrap_or(0);
                order["payment_status"] = json!(if refunded >= total {
                    "refunded"
                } else {
                    "partially_refunded"
                });
                (200, order.clone())
            }
            None => not_found(),
        },
        ("POST", ["customers"]) => {
            let id = format!("cus_fake{n}");
            let sources: Vec<Value> = body["payment_sources"]
                .as_array()
                .into_iter()
                .flatten()
                .enumerate()
                .map(|(i, source)| source_from(source, &id, n * 10 + i))
                .collect();
            let customer = json!({
                "livemode": false, "name": body["name"], "email": body["email"], "phone": body["phone"],
                "id": id, "object": "customer", "created_at": 1736431274, "corporate": false,
                "custom_reference": "", "metadata": body["metadata"],
                "default_payment_source_id": sources.first().map(|s| s["id"].clone()),
                "payment_sources": {"object": "list", "has_more": false, "total": sources.len(), "data": sources}
            });
            state.customers.insert(id, customer.clone());
            (200, customer)
        }
        ("POST", ["customers", id, "payment_sources"]) => match state.customers.get_mut(*id) {
            Some(customer) => {
                let source = source_from(body, id, n);
                customer["payment_sources"]["data"]
                    .as_array_mut()
                    .unwrap()
                    .push(source.clone());
                (200, source)
            }
            None => not_found(),
        },
        ("PUT", ["customers", id]) => match state.customers.get_mut(*id) {
            Some(customer) => {
                if let Some(default) = body.get("default_payment_source_id") {
                    customer["default_payment_source_id"] = default.clone();
                }
                (200, customer.clone())
            }
            None => not_found(),
        },
        _ => not_found(),
    }
}

/// A payment source as Conekta returns it: a card, or a reusable cash reference.
fn source_from(request: &Value, customer_id: &str, n: usize) -> Value {
    match request["type"].as_str().unwrap_or_default() {
        "card" => json!({
            "id": format!("src_fake{n}"), "object": "payment_source", "type": "card",
            "created_at": 1736431274, "last4": "4242", "bin": "424242", "exp_month": "12",
            "exp_year": "30", "brand": "visa", "name": "Felipe Gomez", "parent_id": customer_id,
            "default": false
        }),
        kind => {
            let number = format!("9300{n:016}");
            json!({
                "id": format!("off_ref_fake{n}"), "object": "payment_source", "type": kind,
                "provider": if kind == "oxxo_recurrent" { "Oxxo" } else { "Cash" },
                "reference": number, "barcode": number,
                "barcode_url": format!("https://barcodes.example/{number}.png"),
                "store_names": ["7 Eleven", "Farmacias del Ahorro", "Soriana"],
                "expires_at": request["expires_at"].as_i64().unwrap_or(0),
                "created_at": 1736431274, "parent_id": customer_id
            })
        }
    }
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

/// What real Conekta would refuse: missing auth, a wrong API version, an invalid order body.
fn check(received: &Received) -> Vec<String> {
    let mut problems = Vec::new();
    match received.header("authorization") {
        Some(auth) if auth.starts_with("Bearer key_") => {}
        other => problems.push(format!("authorization header: {other:?}")),
    }
    if received.header("accept") != Some("application/vnd.conekta-v2.2.0+json") {
        problems.push(format!("accept header: {:?}", received.header("accept")));
    }
    if let Some(schema) = schema_for(&received.method, &received.path) {
        if received.header("content-type") != Some("application/json") {
            problems.push(format!(
                "content-type: {:?}",
                received.header("content-type")
            ));
        }
        let schema: Value = serde_json::from_str(schema).unwrap();
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(&schema)
            .expect("schema compiles");
        problems.extend(validator.iter_errors(&received.body).map(|e| {
            format!(
                "{} {}{}: {e}",
                received.method,
                received.path,
                e.instance_path()
            )
        }));
    }
    if received.method == "POST" && received.path == "/orders" {
        // Rules stated in the spec's prose rather than its keywords.
        if received.body["line_items"]
            .as_array()
            .is_none_or(Vec::is_empty)
        {
            problems.push("line_items: at least one product is required".into());
        }
        let checkout = &received.body["checkout"];
        if !checkout.is_null() && checkout["type"].is_null() {
            problems.push("checkout.type is required".into());
        }
        if checkout.is_null()
            && received.body["charges"]
                .as_array()
                .is_none_or(Vec::is_empty)
        {
            problems.push("an order needs a checkout or charges".into());
        }
        // Charges must add up to the order (conekta-node #106).
        if let Some(charges) = received.body["charges"].as_array() {
            let with_amounts: Vec<i64> = charges
                .iter()
                .filter_map(|c| c["amount"].as_i64())
                .collect();
            let total: i64 = received.body["line_items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|i| {
                    i["unit_price"].as_i64().unwrap_or(0) * i["quantity"].as_i64().unwrap_or(0)
                })
                .sum();
            if !with_amounts.is_empty() && with_amounts.iter().sum::<i64>() != total {
                problems.push("combo.order.amount.invalid_charges_amount".into());
            }
        }
    }
    problems
}

/// A real-shaped HostedPayment order (as in seed 004) built from the order request.
fn order_from(request: &Value, n: usize, expired: bool) -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let amount: i64 = request["line_items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| {
                    i["unit_price"].as_i64().unwrap_or(0) * i["quantity"].as_i64().unwrap_or(0)
                })
                .sum()
        })
        .unwrap_or(0);
    let slug = format!("{n:032x}");
    let checkout = &request["checkout"];
    let charges: Vec<Value> = request["charges"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, charge)| {
            let kind = charge["payment_method"]["type"].as_str().unwrap_or("card");
            let (status, method) = match kind {
                "spei" => ("pending_payment", json!({"object": "bank_transfer_payment", "type": "spei",
                    "clabe": format!("6461801118{n:04}{i:04}"), "bank": "STP", "receiving_account_number": format!("6461801118{n:04}{i:04}")})),
                "cash" => ("pending_payment", json!({"object": "cash_payment", "type": "cash",
                    "reference": format!("9300{n:08}{i:04}"), "barcode_url": "https://barcodes.example/x.png"})),
                _ => ("paid", json!({"object": "card_payment", "type": "credit", "brand": "visa", "last4": "4242"})),
            };
            json!({"id": format!("ch_fake{n}_{i}"), "object": "charge", "status": status,
                   "amount": charge["amount"].as_i64().unwrap_or(amount), "currency": request["currency"],
                   "order_id": format!("ord_fake{n}"), "payment_method": method})
        })
        .collect();
    let paid = charges.iter().filter(|c| c["status"] == "paid").count();
    let payment_status = match (charges.len(), paid) {
        (0, _) => Value::Null,
        (all, done) if all == done => json!("paid"),
        (_, 0) => json!("pending_payment"),
        _ => json!("partially_paid"),
    };
    let expires_at = if expired {
        now - 10
    } else {
        checkout["expires_at"].as_i64().unwrap_or(now + 259_200)
    };
    json!({
        "livemode": false,
        "amount": amount,
        "currency": request["currency"],
        "amount_refunded": 0,
        "customer_info": {
            "customer_id": request["customer_info"]["customer_id"],
            "email": request["customer_info"]["email"],
            "name": request["customer_info"]["name"],
            "phone": request["customer_info"]["phone"],
            "corporate": false,
            "object": "customer_info"
        },
        "channel": {
            "segment": "Checkout", "checkout_request_id": slug,
            "checkout_request_type": "HostedPayment", "id": format!("channel_fake{n}")
        },
        "charges": if charges.is_empty() { Value::Null } else {
            json!({"object": "list", "has_more": false, "total": charges.len(), "data": charges})
        },
        "checkout": if checkout.is_null() { Value::Null } else { json!({
            "id": slug, "name": format!("ord-fake{n}"), "livemode": false,
            "success_url": checkout["success_url"], "failure_url": checkout["failure_url"],
            "status": "Issued", "type": checkout["type"], "recurrent": false,
            "starts_at": now, "expires_at": expires_at,
            "allowed_payment_methods": checkout["allowed_payment_methods"],
            "object": "checkout", "slug": slug,
            "url": format!("https://pay.conekta.com/checkout/{slug}")
        })},
        "object": "order",
        "id": format!("ord_fake{n}"),
        "metadata": request["metadata"],
        "is_refundable": false,
        "created_at": now,
        "updated_at": now,
        "line_items": {
            "object": "list", "has_more": false, "total": 1,
            "data": request["line_items"]
        },
        "payment_status": payment_status
    })
}
