//! The simulator over HTTP, as a bridge and a buyer use it: checkout options on the hosted page
//! (months without interest, card networks and payment methods left out), pre-authorization
//! and capture, storefront metadata, API versions. Conekta's events go to a recorder that
//! checks their `Digest` signature. (One file over 400 lines: the four flows share the recorder
//! and the helpers below.)

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use conekta_sim::{Options, Sandbox};
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KEY: &str = "key_xxjg4bsD9nohnMjwaTGytA";
const V230: &str = "application/vnd.conekta-v2.3.0+json";

/// Conekta's events as the webhook URL received them, each with its `Digest`.
type Received = Arc<Mutex<Vec<(Value, String)>>>;

struct World {
    sandbox: Sandbox,
    received: Received,
    http: awc::Client,
}

async fn start() -> World {
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
                let event = serde_json::from_slice(&body).unwrap_or(Value::Null);
                sink.lock().unwrap().push((event, digest));
                HttpResponse::Ok().finish()
            }
        }))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    let sandbox = Sandbox::start(Options {
        webhook_url: Some(format!("http://127.0.0.1:{port}/webhooks/conekta")),
        ..Options::default()
    })
    .unwrap();
    World {
        sandbox,
        received,
        http: awc::Client::builder()
            .timeout(Duration::from_secs(10))
            .disable_redirects()
            .finish(),
    }
}

impl World {
    /// A Conekta API call with version 2.3.0; the status and JSON answer.
    async fn api(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.sandbox.url());
        let request = match method {
            "GET" => self.http.get(url),
            _ => self.http.post(url),
        }
        .bearer_auth(KEY)
        .insert_header(("Accept", V230));
        let mut response = match body {
            Some(body) => request.send_json(&body).await.unwrap(),
            None => request.send().await.unwrap(),
        };
        let answer = response.json::<Value>().limit(1 << 20).await.unwrap();
        (response.status().as_u16(), answer)
    }

    async fn page(&self, url: &str) -> String {
        let mut response = self.http.get(url).send().await.unwrap();
        let body = response.body().await.unwrap();
        String::from_utf8(body.to_vec()).unwrap()
    }

    /// Posts a checkout form; the status, `Location` and page.
    async fn form(&self, url: &str, form: &[(&str, &str)]) -> (u16, String, String) {
        let mut response = self.http.post(url).send_form(&form).await.unwrap();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let body = response.body().await.unwrap();
        (
            response.status().as_u16(),
            location,
            String::from_utf8(body.to_vec()).unwrap(),
        )
    }

    /// Waits for an event of `kind` about `id` (an order, or a charge's order), checking its
    /// signature.
    async fn event(&self, kind: &str, order_id: &str) -> Value {
        let public =
            rsa::RsaPublicKey::from_public_key_pem(self.sandbox.webhook_public_key_pem()).unwrap();
        let verifier = VerifyingKey::<Sha256>::new(public);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found = self
                .received
                .lock()
                .unwrap()
                .iter()
                .find_map(|(event, digest)| {
                    let object = &event["data"]["object"];
                    let about = object["id"] == order_id || object["order_id"] == order_id;
                    (event["type"] == kind && about).then(|| (event.clone(), digest.clone()))
                });
            if let Some((event, digest)) = found {
                let raw = BASE64.decode(digest).unwrap();
                let signature = Signature::try_from(raw.as_slice()).unwrap();
                assert!(verifier
                    .verify(event.to_string().as_bytes(), &signature)
                    .is_ok());
                return event;
            }
            assert!(Instant::now() < deadline, "no {kind} for {order_id}");
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn kinds(&self, order_id: &str) -> Vec<String> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|(e, _)| {
                let object = &e["data"]["object"];
                object["id"] == order_id || object["order_id"] == order_id
            })
            .map(|(e, _)| e["type"].as_str().unwrap_or("").to_owned())
            .collect()
    }
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A checkout order as pagos sends it, with the options storefronts ask for.
fn checkout_order(checkout: Value, extra: Value) -> Value {
    let mut body = json!({
        "currency": "MXN",
        "customer_info": {"name": "andres jaro", "email": "a@example.com", "phone": "+5215555555555"},
        "line_items": [{"name": "Orden 6588", "unit_price": 100000, "quantity": 1}],
        "checkout": {"type": "HostedPayment", "success_url": "https://shop.example/ok",
                     "failure_url": "https://shop.example/ko", "expires_at": now() + 7200},
        "metadata": {"reference_id": "6588"}
    });
    for (field, value) in checkout.as_object().unwrap() {
        body["checkout"][field] = value.clone();
    }
    for (field, value) in extra.as_object().unwrap() {
        body[field] = value.clone();
    }
    body
}

const VISA: &[(&str, &str)] = &[
    ("name", "Ana Prueba"),
    ("number", "4242 4242 4242 4242"),
    ("expiry", "12/40"),
    ("cvc", "123"),
];

fn card(number: &str, months: &str) -> Vec<(&'static str, String)> {
    let mut form: Vec<(&str, String)> = VISA.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    form[1].1 = number.to_owned();
    form.push(("monthly_installments", months.to_owned()));
    form
}

async fn pay(world: &World, url: &str, form: Vec<(&'static str, String)>) -> (u16, String, String) {
    let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    world.form(&format!("{url}/card"), &pairs).await
}

#[actix_web::test]
async fn a_pre_authorized_card_payment_with_installments_is_held_until_captured() {
    let world = start().await;
    let metadata: Value = serde_json::from_str(
        r#"{"reference_id": "6588", "pagos_claim": "clm_0193X", "tienda": "norte",
            "canal": "app móvil", "intentos": 2, "regalo": false, "precio": 1.10}"#,
    )
    .unwrap();
    let (status, order) = world
        .api(
            "POST",
            "/orders",
            Some(checkout_order(
                json!({"allowed_payment_methods": ["card", "cash"],
                       "monthly_installments_enabled": true,
                       "monthly_installments_options": [3, 6, 12],
                       "exclude_card_networks": ["amex"]}),
                json!({"three_ds_mode": "smart", "pre_authorize": true, "metadata": metadata}),
            )),
        )
        .await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(
        order["metadata"], metadata,
        "the storefront's metadata, untouched"
    );
    assert_eq!(order["metadata"]["precio"].to_string(), "1.10");
    let checkout = &order["checkout"];
    assert_eq!(checkout["monthly_installments_enabled"], true);
    assert_eq!(checkout["monthly_installments_options"], json!([3, 6, 12]));
    assert_eq!(checkout["exclude_card_networks"], json!(["amex"]));
    assert_eq!(checkout["three_ds_mode"], "smart");
    let id = order["id"].as_str().unwrap();
    let url = checkout["url"].as_str().unwrap();

    let page = world.page(url).await;
    assert!(page.contains("6 meses sin intereses"), "{page}");
    assert!(page.contains("Se aceptan: Visa, Mastercard."), "{page}");
    assert!(
        !page.contains("378282246310005"),
        "no Amex test card offered"
    );

    // An Amex card is refused on the page, and so is a term the checkout does not offer.
    let (status, _, page) = pay(&world, url, card("378282246310005", "")).await;
    assert_eq!(status, 422);
    assert!(
        page.contains("no acepta tarjetas American Express"),
        "{page}"
    );
    let (status, _, page) = pay(&world, url, card("4242424242424242", "9")).await;
    assert_eq!(status, 422);
    assert!(page.contains("meses sin intereses"), "{page}");

    let (status, location, _) = pay(&world, url, card("4242424242424242", "6")).await;
    assert_eq!(status, 303);
    assert!(
        location.starts_with("https://shop.example/ok?"),
        "{location}"
    );
    assert!(
        location.contains("payment_status=pre_authorized"),
        "{location}"
    );
    let held = world.event("order.pre_authorized", id).await;
    assert_eq!(held["data"]["object"]["payment_status"], "pre_authorized");
    world.event("charge.preauthorized", id).await;
    let (_, stored) = world.api("GET", &format!("/orders/{id}"), None).await;
    assert_eq!(stored["payment_status"], "pre_authorized");
    let charge = &stored["charges"]["data"][0];
    assert_eq!(charge["status"], "pre_authorized");
    assert_eq!(charge["monthly_installments"], 6);
    assert_eq!(charge["paid_at"], Value::Null);
    assert!(!world.kinds(id).contains(&"order.paid".to_owned()));
    let (status, _, _) = pay(&world, url, card("4242424242424242", "")).await;
    assert_eq!(status, 409, "a held order is not paid twice");

    let (status, captured) = world
        .api("POST", &format!("/orders/{id}/capture"), None)
        .await;
    assert_eq!(status, 200, "{captured}");
    assert_eq!(captured["payment_status"], "paid");
    assert_eq!(captured["amount"], 100000);
    assert_eq!(captured["charges"]["data"][0]["status"], "paid");
    assert_eq!(captured["charges"]["data"][0]["monthly_installments"], 6);
    let paid = world.event("order.paid", id).await;
    assert_eq!(paid["data"]["object"]["payment_status"], "paid");
    world.event("charge.paid", id).await;

    // A paid order is not pre-authorized any more: the spec's 428.
    let (status, error) = world
        .api("POST", &format!("/orders/{id}/capture"), None)
        .await;
    assert_eq!(status, 428, "{error}");
    assert_eq!(error["object"], "error");
    assert_eq!(error["type"], "precondition_required_error");
    assert!(error["details"][0]["code"].is_string());
}

#[actix_web::test]
async fn capture_takes_an_amount_up_to_what_is_held_and_only_from_a_held_order() {
    let world = start().await;
    let direct = |pre_authorize: bool| {
        json!({"currency": "MXN", "pre_authorize": pre_authorize,
               "customer_info": {"name": "andres jaro", "email": "a@example.com", "phone": "+5215555555555"},
               "line_items": [{"name": "Orden 6600", "unit_price": 50000, "quantity": 1}],
               "charges": [{"payment_method": {"type": "card", "token_id": "tok_test_visa_4242"}}]})
    };
    let (status, order) = world.api("POST", "/orders", Some(direct(true))).await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["payment_status"], "pre_authorized");
    let capture = format!("/orders/{}/capture", order["id"].as_str().unwrap());
    for (body, expected) in [
        (json!({}), 422),
        (json!({"amount": 0}), 422),
        (json!({"amount": 50001}), 422),
    ] {
        let (status, error) = world.api("POST", &capture, Some(body.clone())).await;
        assert_eq!(status, expected, "{body}: {error}");
        assert_eq!(error["type"], "parameter_validation_error");
    }
    let (status, captured) = world
        .api("POST", &capture, Some(json!({"amount": 30000})))
        .await;
    assert_eq!(status, 200, "{captured}");
    assert_eq!(captured["payment_status"], "paid");
    assert_eq!(
        captured["amount"], 30000,
        "the rest of the hold is released"
    );
    assert_eq!(captured["charges"]["data"][0]["amount"], 30000);

    let (_, plain) = world.api("POST", "/orders", Some(direct(false))).await;
    assert_eq!(plain["payment_status"], "paid");
    let (status, error) = world
        .api(
            "POST",
            &format!("/orders/{}/capture", plain["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(
        (status, error["type"].as_str()),
        (428, Some("precondition_required_error"))
    );
    let (status, _) = world.api("POST", "/orders/ord_nope/capture", None).await;
    assert_eq!(status, 404);
}

#[actix_web::test]
async fn excluded_methods_and_networks_are_not_offered() {
    let world = start().await;
    let (status, order) = world
        .api(
            "POST",
            "/orders",
            Some(checkout_order(
                json!({"excluded_payment_methods": ["cash"],
                       "exclude_card_networks": ["visa_master_card"]}),
                json!({}),
            )),
        )
        .await;
    assert_eq!(status, 200, "{order}");
    let checkout = &order["checkout"];
    assert_eq!(
        checkout["allowed_payment_methods"],
        json!(["card", "bank_transfer", "bnpl", "pay_by_bank"])
    );
    assert_eq!(checkout["excluded_payment_methods"], json!(["cash"]));
    assert_eq!(
        checkout["exclude_card_networks"],
        json!(["visa", "mastercard"])
    );
    let url = checkout["url"].as_str().unwrap();
    let page = world.page(url).await;
    assert!(!page.contains("id=\"cash\""), "no cash offered");
    assert!(page.contains("simular transferencia"));
    assert!(page.contains("Se aceptan: American Express."), "{page}");
    assert!(!page.contains("card-installments"), "no months offered");
    let (status, _, page) = world.form(&format!("{url}/cash"), &[]).await;
    assert_eq!(status, 422);
    assert!(page.contains("no está disponible"), "{page}");
    let (status, _, page) = pay(&world, url, card("5555555555554444", "")).await;
    assert_eq!(status, 422);
    assert!(page.contains("no acepta tarjetas Mastercard"), "{page}");
    let (status, location, _) = pay(&world, url, card("378282246310005", "")).await;
    assert_eq!(status, 303);
    assert!(location.contains("payment_status=paid"), "{location}");
    let id = order["id"].as_str().unwrap();
    world.event("order.paid", id).await;
    let (_, stored) = world.api("GET", &format!("/orders/{id}"), None).await;
    assert_eq!(
        stored["charges"]["data"][0]["monthly_installments"],
        Value::Null
    );
}

#[actix_web::test]
async fn api_versions_2_2_0_and_2_3_0_are_spoken_and_others_refused() {
    let world = start().await;
    let url = format!("{}/orders?limit=1", world.sandbox.url());
    for (accept, expected) in [
        ("application/vnd.conekta-v2.2.0+json", 200),
        (V230, 200),
        ("application/json", 200),
        ("application/vnd.conekta-v2.1.0+json", 406),
        ("application/vnd.conekta-v3.0.0+json", 406),
    ] {
        let mut response = world
            .http
            .get(&url)
            .bearer_auth(KEY)
            .insert_header(("Accept", accept))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), expected, "{accept}");
        if expected == 406 {
            let error: Value = response.json().await.unwrap();
            assert_eq!(error["object"], "error");
            assert_eq!(error["type"], "conflict_error");
            assert!(error["log_id"].is_string());
            let message = error["details"][0]["message"].as_str().unwrap();
            assert!(
                message.contains("2.3.0") && message.contains("2.2.0"),
                "{message}"
            );
        }
    }
}
