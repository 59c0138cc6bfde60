//! A storefront's notification endpoint: a real HTTP server that records what arrives and
//! answers as a test tells it (fail, hang, ask to retry later, say gone).

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Delivered {
    pub headers: HashMap<String, String>,
    pub raw: String,
    pub body: Value,
    pub at: Instant,
}

impl Delivered {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }

    /// True when `secret` verifies it, by the official Standard Webhooks library (not pagos's
    /// own signing code).
    pub fn verifies_with(&self, secret: &str) -> bool {
        let mut headers = http::HeaderMap::new();
        for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
            headers.insert(name, self.header(name).parse().unwrap());
        }
        standardwebhooks::Webhook::new(secret)
            .unwrap()
            .verify(self.raw.as_bytes(), &headers)
            .is_ok()
    }
}

#[derive(Debug, Clone)]
pub enum Answer {
    Status(u16),
    RetryAfter(u16, u64),
    /// Never answer (the relay's timeout must cut it).
    Hang,
    /// Answer this status after a pause.
    After(u64, u16),
    /// Answer with a JSON body.
    Json(u16, Value),
    /// Send this status's head at once, then a chunked body of `bytes` bytes, one every
    /// `every_ms` (a storefront that acknowledges at once and is slow to finish).
    Drip {
        status: u16,
        every_ms: u64,
        bytes: usize,
    },
}

#[derive(Default)]
struct State {
    received: Vec<Delivered>,
    next: VecDeque<Answer>,
    always: Option<Answer>,
    in_flight: usize,
    max_in_flight: usize,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl Receiver {
    pub fn start() -> Self {
        Self::start_on(TcpListener::bind("127.0.0.1:0").unwrap())
    }

    /// A URL where nothing listens yet; `start_on(listener)` later brings the receiver up there.
    pub fn reserve() -> (String, std::net::SocketAddr) {
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        (format!("http://{addr}/pagos/notify"), addr)
    }

    pub fn start_on(listener: TcpListener) -> Self {
        let addr = listener.local_addr().unwrap();
        let receiver = Self {
            url: format!("http://{addr}/pagos/notify"),
            state: Arc::default(),
        };
        let shared = receiver.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(shared.clone()))
                .default_service(web::to(handle))
        })
        .workers(2)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        actix_web::rt::spawn(server);
        receiver
    }

    pub fn answer_next(&self, answer: Answer) {
        self.state.lock().unwrap().next.push_back(answer);
    }

    pub fn answer_always(&self, answer: Answer) {
        self.state.lock().unwrap().always = Some(answer);
    }

    pub fn received(&self) -> Vec<Delivered> {
        self.state.lock().unwrap().received.clone()
    }

    pub fn max_in_flight(&self) -> usize {
        self.state.lock().unwrap().max_in_flight
    }

    /// Waits until `count` notifications arrived (or panics after `within`).
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<Delivered> {
        let deadline = Instant::now() + within;
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "expected {count} notifications, got {} within {within:?}",
                received.len()
            );
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn handle(request: HttpRequest, body: web::Bytes, me: web::Data<Receiver>) -> HttpResponse {
    let headers = request
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let raw = String::from_utf8_lossy(&body).into_owned();
    let answer = {
        let mut state = me.state.lock().unwrap();
        state.received.push(Delivered {
            headers,
            body: serde_json::from_str(&raw).unwrap_or(Value::Null),
            raw,
            at: Instant::now(),
        });
        state.in_flight += 1;
        state.max_in_flight = state.max_in_flight.max(state.in_flight);
        state
            .next
            .pop_front()
            .or_else(|| state.always.clone())
            .unwrap_or(Answer::Status(204))
    };
    let response = match answer {
        Answer::Status(code) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap()).finish()
        }
        Answer::RetryAfter(code, seconds) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap())
                .insert_header(("retry-after", seconds.to_string()))
                .finish()
        }
        Answer::Json(code, body) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap()).json(body)
        }
        Answer::After(ms, code) => {
            actix_web::rt::time::sleep(Duration::from_millis(ms)).await;
            HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap()).finish()
        }
        Answer::Drip {
            status,
            every_ms,
            bytes,
        } => {
            // The first byte goes out with the head, the rest after a pause each.
            let body = futures_util::stream::unfold(0, move |sent| async move {
                if sent == bytes {
                    return None;
                }
                if sent > 0 {
                    actix_web::rt::time::sleep(Duration::from_millis(every_ms)).await;
                }
                Some((
                    Ok::<_, actix_web::Error>(web::Bytes::from_static(b".")),
                    sent + 1,
                ))
            });
            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                .streaming(body)
        }
        Answer::Hang => {
            actix_web::rt::time::sleep(Duration::from_secs(3600)).await;
            HttpResponse::Ok().finish()
        }
    };
    me.state.lock().unwrap().in_flight -= 1;
    response
}
