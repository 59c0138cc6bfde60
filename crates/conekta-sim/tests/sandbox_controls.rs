//! The sandbox's own controls over HTTP: `POST /_sandbox/trigger` changes an order and sends
//! Conekta's signed event before it answers; the order page offers a button per event; the
//! inbox's switches make `/inbox/notify` answer 500, 410 or not at all, and it records every
//! arrival. Conekta's events go to a recorder that checks their `Digest` signature.

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use conekta_sim::{Options, Sandbox, Trigger};
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const KEY: &str = "key_xxjg4bsD9nohnMjwaTGytA";
const SIGNING_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Conekta's events as the webhook URL received them, each with its `Digest`.
type Received = Arc<Mutex<Vec<(String, String)>>>;

struct Sim {
    sandbox: Sandbox,
    received: Received,
    http: awc::Client,
}

/// A bridge stand-in that records each event and answers `status`.
fn recorder(status: u16) -> (String, Received) {
    let received: Received = Arc::default();
    let sink = received.clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        let sink = sink.clone();
        App::new().default_service(web::to(move |request: HttpRequest, body: web::Bytes| {
            let sink = sink.clone();
            async move {
                let digest = request
                    .headers()
                    .get("digest")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_owned();
                sink.lock()
                    .unwrap()
                    .push((String::from_utf8(body.to_vec()).unwrap(), digest));
                HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).finish()
            }
        }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    (
        format!("http://127.0.0.1:{port}/webhooks/conekta"),
        received,
    )
}

fn start_with(bridge_status: u16, inbox_hold: Duration) -> Sim {
    let (url, received) = recorder(bridge_status);
    let sandbox = Sandbox::start(Options {
        webhook_url: Some(url),
        signing_secret: Some(SIGNING_SECRET.to_owned()),
        inbox_hold,
        ..Options::default()
    })
    .unwrap();
    Sim {
        sandbox,
        received,
        http: awc::Client::builder()
            .timeout(Duration::from_secs(30))
            .disable_redirects()
            .finish(),
    }
}

fn start() -> Sim {
    start_with(200, Duration::from_secs(20))
}

impl Sim {
    async fn post_json(&self, path: &str, body: &Value) -> (u16, String, Value) {
        let mut response = self
            .http
            .post(format!("{}{path}", self.sandbox.url()))
            .bearer_auth(KEY)
            .send_json(body)
            .await
            .unwrap();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = response.body().limit(1 << 20).await.unwrap();
        let answer = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (response.status().as_u16(), content_type, answer)
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let mut response = self
            .http
            .get(format!("{}{path}", self.sandbox.url()))
            .bearer_auth(KEY)
            .send()
            .await
            .unwrap();
        let bytes = response.body().limit(1 << 20).await.unwrap();
        (
            response.status().as_u16(),
            String::from_utf8(bytes.to_vec()).unwrap(),
        )
    }

    /// A hosted-checkout order of $1,000.00, waiting for payment.
    async fn checkout_order(&self) -> String {
        let (status, _, order) = self
            .post_json(
                "/orders",
                &json!({
                    "currency": "MXN",
                    "customer_info": {"name": "andres jaro", "email": "a@example.com", "phone": "+5215555555555"},
                    "line_items": [{"name": "Orden 6588", "unit_price": 100000, "quantity": 1}],
                    "checkout": {"type": "HostedPayment", "success_url": "https://shop.example/ok",
                                 "failure_url": "https://shop.example/ko",
                                 "allowed_payment_methods": ["card", "cash", "bank_transfer"]},
                    "metadata": {"reference_id": "6588"}
                }),
            )
            .await;
        assert_eq!(status, 200, "{order}");
        order["id"].as_str().unwrap().to_owned()
    }

    async fn trigger(&self, event: &str, order_id: &str) -> (u16, String, Value) {
        self.post_json(
            "/_sandbox/trigger",
            &json!({"event": event, "order_id": order_id}),
        )
        .await
    }

    /// The event with this id as the bridge received it, its signature checked.
    fn received_event(&self, event_id: &str) -> Value {
        let public =
            rsa::RsaPublicKey::from_public_key_pem(self.sandbox.webhook_public_key_pem()).unwrap();
        let verifier = VerifyingKey::<Sha256>::new(public);
        let received = self.received.lock().unwrap();
        let (body, digest) = received
            .iter()
            .find(|(body, _)| serde_json::from_str::<Value>(body).unwrap()["id"] == event_id)
            .unwrap_or_else(|| panic!("event {event_id} was not sent"));
        let signature = Signature::try_from(BASE64.decode(digest).unwrap().as_slice()).unwrap();
        assert!(verifier.verify(body.as_bytes(), &signature).is_ok());
        serde_json::from_str(body).unwrap()
    }
}

#[actix_web::test]
async fn a_triggered_event_changes_the_order_and_is_sent_signed_before_the_answer() {
    let sim = start();
    let order_id = sim.checkout_order().await;
    let (status, _, answer) = sim.trigger("order.expired", &order_id).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["type"], "order.expired");
    assert_eq!(answer["order_id"], order_id.as_str());
    let event = sim.received_event(answer["event_id"].as_str().unwrap());
    assert_eq!(event["type"], "order.expired");
    assert_eq!(event["data"]["object"]["id"], order_id.as_str());
    assert_eq!(event["data"]["object"]["payment_status"], "expired");
    let (_, order) = sim.get(&format!("/orders/{order_id}")).await;
    let order: Value = serde_json::from_str(&order).unwrap();
    assert_eq!(order["payment_status"], "expired");
    assert_eq!(order["checkout"]["status"], "Expired");
}

#[actix_web::test]
async fn every_event_is_sent_in_a_life_conekta_allows() {
    let sim = start();
    let lives: &[&[&str]] = &[
        &["charge.declined", "order.paid", "order.refunded"],
        &["order.paid", "order.charged_back"],
        &["order.canceled"],
    ];
    for life in lives {
        let order_id = sim.checkout_order().await;
        for kind in *life {
            let (status, _, answer) = sim.trigger(kind, &order_id).await;
            assert_eq!(status, 200, "{kind}: {answer}");
            let event = sim.received_event(answer["event_id"].as_str().unwrap());
            assert_eq!(event["type"], *kind);
        }
    }
    let order_id = sim.checkout_order().await;
    let (_, _, answer) = sim.trigger("charge.declined", &order_id).await;
    let event = sim.received_event(answer["event_id"].as_str().unwrap());
    assert_eq!(event["data"]["object"]["object"], "charge");
    assert_eq!(event["data"]["object"]["order_id"], order_id.as_str());
    assert_eq!(event["data"]["object"]["status"], "declined");
}

#[actix_web::test]
async fn the_trigger_refuses_what_cannot_happen_with_a_clear_problem() {
    let sim = start();
    let order_id = sim.checkout_order().await;
    let (status, content_type, problem) = sim.trigger("order.refunded", &order_id).await;
    assert_eq!(status, 409, "{problem}");
    assert_eq!(content_type, "application/problem+json");
    assert!(problem["detail"]
        .as_str()
        .unwrap()
        .contains("pending_payment"));

    let (status, content_type, problem) = sim.trigger("order.paid", "ord_missing").await;
    assert_eq!(
        (status, content_type.as_str()),
        (404, "application/problem+json")
    );
    assert!(problem["detail"].as_str().unwrap().contains("ord_missing"));

    let (status, _, problem) = sim.trigger("order.updated", &order_id).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "event");
    let message = problem["errors"][0]["message"].as_str().unwrap();
    for trigger in Trigger::ALL {
        assert!(message.contains(trigger.name()), "{message}");
    }

    let (status, _, problem) = sim.post_json("/_sandbox/trigger", &json!({})).await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["event", "order_id"]);
    let (status, _, _) = sim.post_json("/_sandbox/trigger", &json!([1])).await;
    assert_eq!(status, 400);
    // The order's creation sent its own events; none of the refused ones went out.
    let sent: Vec<String> = sim
        .received
        .lock()
        .unwrap()
        .iter()
        .map(|(body, _)| serde_json::from_str::<Value>(body).unwrap()["type"].to_string())
        .collect();
    for refused in ["order.refunded", "order.paid", "order.updated"] {
        assert!(!sent.contains(&format!("\"{refused}\"")), "{sent:?}");
    }
}

#[actix_web::test]
async fn an_event_the_bridge_refuses_is_a_502_that_says_so() {
    let sim = start_with(401, Duration::from_secs(20));
    let order_id = sim.checkout_order().await;
    let (status, _, problem) = sim.trigger("order.canceled", &order_id).await;
    assert_eq!(status, 502, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("401"));
}

#[actix_web::test]
async fn the_order_page_has_a_button_per_event_and_the_index_links_it() {
    let sim = start();
    let order_id = sim.checkout_order().await;
    let (status, page) = sim.get(&format!("/pedido/{order_id}")).await;
    assert_eq!(status, 200);
    assert!(page.contains("$1,000.00 MXN") && page.contains("pending_payment"));
    for trigger in Trigger::ALL {
        assert!(page.contains(&format!("data-event=\"{}\"", trigger.name())));
    }
    let (_, index) = sim.get("/").await;
    assert!(index.contains(&format!("href=\"/pedido/{order_id}\"")));
    let (status, _) = sim.get("/pedido/ord_missing").await;
    assert_eq!(status, 404);
}

/// A notification signed with the inbox's secret, as the bridge sends it.
fn signed_notification(id: &str) -> (String, Vec<(&'static str, String)>) {
    let body = json!({"id": id, "type": "order.paid", "reference_id": "6588", "order_id": "ord_1",
                      "amount_cents": 100000, "currency": "MXN"})
    .to_string();
    let timestamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let signature = standardwebhooks::Webhook::new(SIGNING_SECRET)
        .unwrap()
        .sign(id, timestamp, body.as_bytes())
        .unwrap();
    let headers = vec![
        ("webhook-id", id.to_owned()),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature),
    ];
    (body, headers)
}

#[actix_web::test]
async fn the_inbox_answers_as_switched_and_records_every_arrival() {
    let sim = start_with(200, Duration::from_millis(1500));
    let notify = sim.sandbox.inbox_url();
    let (body, headers) = signed_notification("msg_switches");
    let send = |client: &awc::Client| {
        let mut request = client.post(&notify);
        for (name, value) in &headers {
            request = request.insert_header((*name, value.as_str()));
        }
        request.send_body(body.clone())
    };
    let mut seen = Vec::new();
    for mode in ["500", "410", "timeout", "ok"] {
        let (status, _, answer) = sim.post_json("/inbox/mode", &json!({"mode": mode})).await;
        assert_eq!((status, answer["mode"].as_str()), (200, Some(mode)));
        if mode == "timeout" {
            // A sender that waits less than the inbox holds sees no answer.
            let impatient = awc::Client::builder()
                .timeout(Duration::from_millis(200))
                .finish();
            assert!(send(&impatient).await.is_err());
        } else {
            seen.push(send(&sim.http).await.unwrap().status().as_u16());
        }
    }
    assert_eq!(seen, [500, 410, 204]);
    let (_, list) = sim.get("/inbox.json?reference_id=6588").await;
    let list: Value = serde_json::from_str(&list).unwrap();
    let entry = &list["notifications"][0];
    assert_eq!(entry["webhook_id"], "msg_switches");
    assert_eq!(entry["verified"], true);
    assert_eq!(entry["delivered"], true);
    let answers: Vec<String> = entry["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["answer"].to_string())
        .collect();
    assert_eq!(answers, ["500", "410", "\"timeout\"", "204"]);
    let (_, other) = sim.get("/inbox.json?reference_id=other").await;
    assert_eq!(
        serde_json::from_str::<Value>(&other).unwrap()["notifications"],
        json!([])
    );
    let (status, _, problem) = sim
        .post_json("/inbox/mode", &json!({"mode": "teapot"}))
        .await;
    assert_eq!(status, 422);
    assert_eq!(problem["errors"][0]["field"], "mode");
    let (_, rows) = sim.get("/inbox/rows").await;
    assert!(rows.contains("respondió 500") && rows.contains("respondió 410"));
    assert!(rows.contains("sin respuesta") && rows.contains("✔ firma válida"));
}

#[actix_web::test]
async fn a_forged_notification_is_shown_as_unverified_and_refused() {
    let sim = start();
    let (body, mut headers) = signed_notification("msg_forged");
    headers[2].1 = "v1,bm90IGEgc2lnbmF0dXJl".to_owned();
    let mut request = sim.http.post(sim.sandbox.inbox_url());
    for (name, value) in &headers {
        request = request.insert_header((*name, value.as_str()));
    }
    assert_eq!(
        request.send_body(body).await.unwrap().status().as_u16(),
        401
    );
    let (_, list) = sim.get("/inbox.json").await;
    let list: Value = serde_json::from_str(&list).unwrap();
    assert_eq!(list["refused"], 1);
    assert_eq!(list["notifications"][0]["verified"], false);
    assert_eq!(list["notifications"][0]["delivered"], false);
    let (_, page) = sim.get("/inbox").await;
    assert!(page.contains("✘ firma inválida"));
    let (status, _, problem) = sim.post_json("/inbox/replay/msg_forged", &json!({})).await;
    assert_eq!(
        status, 503,
        "without pagos there is no one to ask: {problem}"
    );
}
