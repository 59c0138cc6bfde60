//! `--sandbox`: the bridge wired to the in-process Conekta simulator, exercised over HTTP as a
//! storefront and a buyer would (no browser: the checkout page's forms are posted directly).

#[path = "api/receiver.rs"]
#[allow(dead_code)]
mod receiver;
#[path = "support/run_pagos.rs"]
mod run_pagos;

use conekta_sim::Sandbox;
use pagos::settings::Settings;
use pagos::startup::Application;
use receiver::{Delivered, Receiver};
use run_pagos::pagos;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const SIGNING_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const KEY: &str = "key_xxjg4bsD9nohnMjwaTGytA";
const WAIT: Duration = Duration::from_secs(15);

struct Demo {
    bridge: String,
    sandbox: Sandbox,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// The service as `pagos --sandbox` builds it, on free ports and a throw-away SQLite store.
async fn start() -> Demo {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = Settings::defaults();
    settings.server.host = "127.0.0.1".into();
    settings.server.port = 0;
    settings.database.url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("pagos.db").display()
    )
    .into();
    settings.relay.signing_secret =
        Some(pagos::settings::SigningSecret::parse(SIGNING_SECRET.to_owned().into()).unwrap());
    settings.relay.retry_schedule =
        pagos::relay::RetrySchedule::parse("100ms,100ms,100ms").unwrap();
    settings.relay.allow_private_targets = false;
    let sandbox = pagos::sandbox::start_on(&mut settings, 0).expect("sandbox starts");
    assert_eq!(settings.conekta.api_base(), sandbox.url());
    assert!(settings.conekta.webhook_keys.is_some());
    assert!(
        settings.relay.allow_private_targets,
        "the inbox is on loopback"
    );
    let admin_token = settings.admin.token.clone();
    assert!(admin_token.is_some(), "the inbox's replay needs one");
    let app = Application::build(settings).await.expect("app builds");
    pagos::sandbox::connect(&sandbox, "127.0.0.1", app.port(), admin_token.as_ref());
    let bridge = format!("http://127.0.0.1:{}", app.port());
    actix_web::rt::spawn(app.run_until_stopped());
    Demo {
        bridge,
        sandbox,
        // The buyer's redirects go to the shop; the tests look at them instead of following.
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        _dir: dir,
    }
}

impl Demo {
    /// `POST /pagos` create (seed 004) with this notification URL; returns Conekta's order.
    async fn create(&self, reference_id: &str, notification_url: &str) -> Value {
        let response = self
            .http
            .post(format!("{}/pagos", self.bridge))
            .json(&json!({
                "provider": "conekta", "action": "create", "reference_id": reference_id,
                "secret": KEY, "first_name": "andres", "last_name": "jaro", "amount": 1000,
                "return_url": "http://shop.example", "notification_url": notification_url,
                "success_url": "http://shop.example/gracias", "failure_url": "http://shop.example/fallo",
                "email": "andres.jaromezuk@gmail.com"
            }))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "{body}");
        body
    }

    /// Posts a form on the checkout page, as the browser would; returns status and Location.
    async fn post_form(&self, url: &str, form: &str) -> (u16, String, String) {
        let response = self
            .http
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form.to_owned())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let location = response
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, location, response.text().await.unwrap())
    }

    async fn conekta(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.sandbox.url()))
            .bearer_auth(KEY);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }
}

fn verify(delivered: &Delivered) {
    let mut headers = http::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        headers.insert(name, delivered.header(name).parse().unwrap());
    }
    standardwebhooks::Webhook::new(SIGNING_SECRET)
        .unwrap()
        .verify(delivered.raw.as_bytes(), &headers)
        .expect("the notification verifies with the storefront's secret");
}

/// Waits for a notification of `kind` about `order_id`.
async fn notification(receiver: &Receiver, order_id: &str, kind: &str) -> Delivered {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(found) = receiver
            .received()
            .into_iter()
            .find(|d| d.body["order_id"] == order_id && d.body["type"] == kind)
        {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "no {kind} for {order_id}; got {:?}",
            receiver
                .received()
                .iter()
                .map(|d| d.body["type"].clone())
                .collect::<Vec<_>>()
        );
        actix_web::rt::time::sleep(Duration::from_millis(25)).await;
    }
}

#[test]
fn the_bridge_verifies_what_the_simulator_signs() {
    use pagos::providers::conekta::digest::{DigestForm, DigestVerifier};
    let signer = conekta_sim::WebhookSigner::generate().unwrap();
    let verifier = DigestVerifier::from_pem(signer.public_pem()).unwrap();
    let body = br#"{"id":"evt","type":"order.paid"}"#;
    assert_eq!(
        verifier.verify(body, &signer.digest(body)),
        Ok(DigestForm::Pkcs1v15Sha256)
    );
    assert!(verifier.verify(b"{}", &signer.digest(body)).is_err());
}

#[actix_web::test]
async fn without_a_signing_secret_pagos_makes_one_the_relay_accepts() {
    let mut settings = Settings::defaults();
    settings.relay.signing_secret = None;
    let sandbox = pagos::sandbox::start_on(&mut settings, 0).expect("sandbox starts");
    let secret = settings.relay.signing_secret.clone().expect("one was made");
    assert!(pagos::relay::SigningKey::parse(&secret.text).is_ok());
    assert!(sandbox.inbox_url().starts_with(sandbox.url()));
}

#[actix_web::test]
async fn the_simulator_refuses_what_conekta_refuses() {
    let demo = start().await;
    let unauthenticated = demo
        .http
        .post(format!("{}/orders", demo.sandbox.url()))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status().as_u16(), 401);
    let body: Value = unauthenticated.json().await.unwrap();
    assert_eq!(body["type"], "authentication_error");
    let now = pagos::clock::unix_s();
    let (status, body) = demo
        .conekta(
            reqwest::Method::POST,
            "/orders",
            Some(json!({
                "currency": "MXN",
                "customer_info": {"name": "andres jaro", "email": "a@example.com", "phone": "+5215555555555"},
                "line_items": [],
                "checkout": {"allowed_payment_methods": ["card"], "expires_at": now + 60,
                             "success_url": "https://shop.example/ok", "failure_url": "https://shop.example/ko"}
            })),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["object"], "error");
    assert_eq!(body["type"], "parameter_validation_error");
    assert_eq!(body["log_id"].as_str().unwrap().len(), 24);
    let details = body["details"].as_array().unwrap();
    let params: Vec<&str> = details.iter().filter_map(|d| d["param"].as_str()).collect();
    assert!(params.contains(&"line_items"), "{body}");
    assert!(params.contains(&"checkout.type"), "{body}");
    assert!(params.contains(&"checkout.expires_at"), "{body}");
    for detail in details {
        for field in ["code", "message", "debug_message"] {
            assert!(detail[field].is_string(), "{detail}");
        }
    }
    let (status, body) = demo
        .conekta(reqwest::Method::GET, "/orders/ord_2uDDh4hPw6TYWyewJ", None)
        .await;
    assert_eq!(
        (status, body["type"].as_str()),
        (404, Some("resource_not_found_error"))
    );
    let (status, body) = demo
        .conekta(
            reqwest::Method::POST,
            "/customers",
            Some(json!({"name": "Fulanito"})),
        )
        .await;
    assert_eq!(status, 422);
    let params: Vec<&str> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["param"].as_str())
        .collect();
    assert_eq!(params, ["email", "phone"]);
}

#[actix_web::test]
async fn a_card_payment_on_the_checkout_page_reaches_the_storefront_signed() {
    let demo = start().await;
    let receiver = Receiver::start();
    let order = demo.create("6588", &receiver.url).await;
    assert_eq!(order["livemode"], false);
    assert_eq!(order["amount"], 100000);
    let url = order["checkout"]["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/checkout/", demo.sandbox.url())),
        "{url}"
    );
    let page = demo
        .http
        .get(url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Total a pagar: $1,000.00 MXN"), "{page}");
    assert!(page.contains("simular pago en tienda") && page.contains("simular transferencia"));
    assert!(page.contains("livemode: false"));
    // A card that is not a test card is refused on the page, and nothing is charged.
    let (status, _, page) = demo
        .post_form(
            &format!("{url}/card"),
            "name=Ana&number=1234&expiry=12%2F40&cvc=123",
        )
        .await;
    assert_eq!(status, 422);
    assert!(page.contains("no es válido"));
    let (status, location, _) = demo
        .post_form(
            &format!("{url}/card"),
            "name=Ana+Prueba&number=4242+4242+4242+4242&expiry=12%2F40&cvc=123",
        )
        .await;
    assert_eq!(status, 303);
    assert!(
        location.starts_with("http://shop.example/gracias?"),
        "{location}"
    );
    assert!(location.contains("payment_status=paid"), "{location}");
    let order_id = order["id"].as_str().unwrap();
    let paid = notification(&receiver, order_id, "order.paid").await;
    verify(&paid);
    assert_eq!(paid.body["payment_status"], "paid");
    assert_eq!(paid.body["reference_id"], "6588");
    assert_eq!(paid.body["amount"], "1000.00");
    assert_eq!(paid.body["data"]["charges"]["data"][0]["status"], "paid");
    assert_eq!(paid.body["data"]["livemode"], false);
    notification(&receiver, order_id, "charge.paid").await;
    // Conekta's record agrees, and a paid order cannot be paid again.
    let (_, stored) = demo
        .conekta(reqwest::Method::GET, &format!("/orders/{order_id}"), None)
        .await;
    assert_eq!(stored["payment_status"], "paid");
    let (status, _, _) = demo.post_form(&format!("{url}/cash"), "").await;
    assert_eq!(status, 409);
}

#[actix_web::test]
async fn the_decline_card_yields_a_declined_notification() {
    let demo = start().await;
    let receiver = Receiver::start();
    let order = demo.create("6589", &receiver.url).await;
    let url = order["checkout"]["url"].as_str().unwrap();
    let (status, location, _) = demo
        .post_form(
            &format!("{url}/card"),
            "name=Ana+Prueba&number=4000000000000002&expiry=12%2F40&cvc=123",
        )
        .await;
    assert_eq!(status, 303);
    assert!(
        location.starts_with("http://shop.example/fallo?"),
        "{location}"
    );
    assert!(location.contains("payment_status=declined"));
    let declined = notification(&receiver, order["id"].as_str().unwrap(), "order.declined").await;
    verify(&declined);
    assert_eq!(declined.body["payment_status"], "declined");
    notification(&receiver, order["id"].as_str().unwrap(), "charge.declined").await;
}

#[actix_web::test]
async fn the_inbox_keeps_and_shows_signed_notifications() {
    let demo = start().await;
    let order = demo.create("6590", &demo.sandbox.inbox_url()).await;
    let url = order["checkout"]["url"].as_str().unwrap();
    let (status, location, _) = demo.post_form(&format!("{url}/transfer"), "").await;
    assert_eq!(status, 303);
    assert!(location.contains("payment_status=paid"));
    let deadline = Instant::now() + WAIT;
    loop {
        let inbox: Value = demo
            .http
            .get(format!("{}/inbox.json", demo.sandbox.url()))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let paid = inbox["notifications"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["body"]["type"] == "order.paid" && n["body"]["reference_id"] == "6590");
        if paid {
            break;
        }
        assert!(Instant::now() < deadline, "{inbox}");
        actix_web::rt::time::sleep(Duration::from_millis(25)).await;
    }
    let page = demo
        .http
        .get(format!("{}/inbox", demo.sandbox.url()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("order.paid") && page.contains("6590") && page.contains("$1,000.00"));
    // Anything not signed with the relay's secret is refused and not shown.
    let forged = demo
        .http
        .post(demo.sandbox.inbox_url())
        .header("webhook-id", "msg_forged")
        .header("webhook-timestamp", pagos::clock::unix_s().to_string())
        .header("webhook-signature", "v1,bm90IGEgc2lnbmF0dXJl")
        .body(r#"{"type":"order.paid"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 401);
}

#[actix_web::test]
async fn a_recurrent_reference_at_the_cashier_asks_the_bridge_first() {
    let demo = start().await;
    let (status, customer) = demo
        .conekta(
            reqwest::Method::POST,
            "/customers",
            Some(json!({"name": "Fulanito", "email": "fulanito@example.com", "phone": "+5218181818181",
                        "payment_sources": [{"type": "cash_recurrent"}]})),
        )
        .await;
    assert_eq!(status, 200, "{customer}");
    let source = &customer["payment_sources"]["data"][0];
    assert!(source["id"].as_str().unwrap().starts_with("off_ref_"));
    assert_eq!(source["type"], "cash_recurrent");
    let reference = source["reference"].as_str().unwrap();
    assert_eq!(reference.len(), 14);
    assert_eq!(source["barcode"], reference);
    // A reference made behind the bridge's back is unknown to it (01): the cashier shows a decline.
    let (status, _, page) = demo
        .post_form(
            &format!("{}/cajero", demo.sandbox.url()),
            &format!("reference={reference}&amount=150.00"),
        )
        .await;
    assert_eq!(status, 402, "{page}");
    assert!(page.contains("DECLINADO"), "{page}");
    assert!(page.contains("inbound_payment.lookup"), "{page}");
}

#[actix_web::test]
async fn a_reference_made_through_pagos_is_paid_at_the_cashier_and_notified() {
    let demo = start().await;
    let receiver = Receiver::start();
    let response = demo
        .http
        .post(format!("{}/pagos", demo.bridge))
        .json(&json!({
            "provider": "conekta", "action": "reference", "secret": KEY,
            "reference_id": "cliente-42", "notification_url": receiver.url,
            "first_name": "Fulanito", "last_name": "Pérez", "email": "fulanito@example.com",
            "min_amount": 50, "max_amount": 500
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let reference: Value = response.json().await.unwrap();
    let number = reference["reference"].as_str().unwrap();

    // Out of the storefront's range: the bridge declines with 35.
    let (status, _, page) = demo
        .post_form(
            &format!("{}/cajero", demo.sandbox.url()),
            &format!("reference={number}&amount=900.00"),
        )
        .await;
    assert_eq!(status, 402, "{page}");
    assert!(page.contains("35"), "{page}");
    // What the cashier typed stays in the form for the next try.
    assert!(
        page.contains(&format!(
            "id=\"reference\" required inputmode=\"numeric\" value=\"{number}\""
        )),
        "{page}"
    );
    assert!(page.contains("value=\"900.00\""), "{page}");

    // Inside it: approved, paid, and the storefront hears about it once.
    let (status, _, page) = demo
        .post_form(
            &format!("{}/cajero", demo.sandbox.url()),
            &format!("reference={number}&amount=150.00"),
        )
        .await;
    assert_eq!(status, 200, "{page}");
    let received = receiver.wait_for(1, WAIT).await;
    assert_eq!(received[0].body["type"], "charge.paid");
    assert_eq!(received[0].body["reference_id"], "cliente-42");
    assert_eq!(received[0].body["amount"], "150.00");
}

/// A `POST /orders` body as pagos sends it for a checkout, with its claim key in `metadata`.
fn checkout_order(claim: &str, email: &str) -> Value {
    json!({
        "currency": "MXN",
        "customer_info": {"name": "andres jaro", "email": email, "phone": "+5215555555555"},
        "line_items": [{"name": "Orden 6588", "unit_price": 100000, "quantity": 1}],
        "checkout": {"type": "HostedPayment", "allowed_payment_methods": ["card", "cash"],
                     "success_url": "https://shop.example/ok", "failure_url": "https://shop.example/ko",
                     "expires_at": pagos::clock::unix_s() + 7200},
        "metadata": {"reference_id": "6588", "pagos_claim": claim}
    })
}

impl Demo {
    async fn new_order(&self, body: Value) -> Value {
        let (status, order) = self
            .conekta(reqwest::Method::POST, "/orders", Some(body))
            .await;
        assert_eq!(status, 200, "{order}");
        order
    }

    async fn list(&self, path_and_query: &str) -> Value {
        let (status, list) = self
            .conekta(reqwest::Method::GET, path_and_query, None)
            .await;
        assert_eq!(status, 200, "{path_and_query}: {list}");
        for field in [
            "object",
            "has_more",
            "data",
            "next_page_url",
            "previous_page_url",
        ] {
            assert!(list.get(field).is_some(), "{field} missing: {list}");
        }
        assert_eq!(list["object"], "list");
        list
    }
}

fn ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn orders_are_found_by_the_claim_in_their_metadata() {
    let demo = start().await;
    let mine = demo
        .new_order(checkout_order("clm_0193AAAA", "ana@example.com"))
        .await;
    let other = demo
        .new_order(checkout_order("clm_0193BBBB", "beto@example.com"))
        .await;
    // Metadata comes back exactly as sent.
    assert_eq!(
        mine["metadata"],
        json!({"reference_id": "6588", "pagos_claim": "clm_0193AAAA"})
    );
    let id = mine["id"].as_str().unwrap();
    let created_at = mine["created_at"].as_i64().unwrap();

    // Case-insensitive substring over metadata values, with pagos's created_at window.
    let found = demo
        .list(&format!(
            "/orders?search=CLM_0193aaaa&created_at.gte={created_at}&limit=250"
        ))
        .await;
    assert_eq!(ids(&found), [id]);
    assert_eq!(found["has_more"], false);
    assert_eq!(found["next_page_url"], Value::Null);
    assert_eq!(found["data"][0]["metadata"]["pagos_claim"], "clm_0193AAAA");
    assert_eq!(
        ids(&demo.list("/orders?search=beto@EXAMPLE").await),
        [other["id"].as_str().unwrap()]
    );
    assert_eq!(ids(&demo.list(&format!("/orders?search={id}")).await), [id]);

    // created_at filters: the window excludes what is outside it.
    let later = demo
        .list(&format!(
            "/orders?search=clm_0193&created_at.gte={}",
            created_at + 3_600
        ))
        .await;
    assert!(ids(&later).is_empty(), "{later}");
    let before = demo
        .list(&format!(
            "/orders?search=clm_0193&created_at.lte={}",
            created_at - 1
        ))
        .await;
    assert!(ids(&before).is_empty(), "{before}");
    let exact = demo
        .list(&format!("/orders?search=aaaa&created_at={created_at}"))
        .await;
    assert_eq!(ids(&exact), [id]);
    let pending = demo
        .list("/orders?search=clm_0193&payment_status=pending_payment")
        .await;
    assert_eq!(ids(&pending).len(), 2);

    // What the spec does not allow is Conekta's 422; no key is a 401.
    for query in [
        "limit=0",
        "limit=251",
        "created_at.gte=ayer",
        "idempotency_key=x",
    ] {
        let (status, body) = demo
            .conekta(reqwest::Method::GET, &format!("/orders?{query}"), None)
            .await;
        assert_eq!(status, 422, "{query}: {body}");
        assert_eq!(body["type"], "parameter_validation_error", "{body}");
        assert_eq!(body["object"], "error");
    }
    let anonymous = demo
        .http
        .get(format!("{}/orders?search=clm", demo.sandbox.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
}

#[actix_web::test]
async fn order_lists_page_newest_first_following_next() {
    let demo = start().await;
    let mut made = Vec::new();
    for n in 0..3 {
        let order = demo
            .new_order(checkout_order(&format!("clm_page_{n}"), "ana@example.com"))
            .await;
        made.push(order["id"].as_str().unwrap().to_owned());
    }
    let mut seen = Vec::new();
    let mut query = "/orders?search=clm_page&limit=1".to_owned();
    loop {
        let page = demo.list(&query).await;
        let page_ids = ids(&page);
        assert_eq!(page_ids.len(), 1, "{page}");
        seen.extend(page_ids.clone());
        if page["has_more"] == false {
            assert_eq!(page["next_page_url"], Value::Null, "{page}");
            break;
        }
        // The link continues after this page's last id, keeping the search and limit.
        let link = page["next_page_url"].as_str().unwrap();
        assert!(link.ends_with(&format!("next={}", page_ids[0])), "{link}");
        assert!(
            link.contains("search=clm_page") && link.contains("limit=1"),
            "{link}"
        );
        query = format!("/orders?search=clm_page&limit=1&next={}", page_ids[0]);
        assert!(seen.len() < 3, "more pages than orders: {seen:?}");
    }
    made.reverse();
    assert_eq!(seen, made, "newest first, each once");
    // And back: the page before the oldest is the middle one.
    let back = demo
        .list(&format!(
            "/orders?search=clm_page&limit=1&previous={}",
            made[2]
        ))
        .await;
    assert_eq!(ids(&back), [made[1].clone()]);
    assert_eq!(back["has_more"], true);
}

#[actix_web::test]
async fn customers_keep_their_metadata_and_are_found_by_it() {
    let demo = start().await;
    let before = pagos::clock::unix_s();
    let mut made = Vec::new();
    for claim in ["clm_0193CUS1", "clm_0193CUS2"] {
        let (status, customer) = demo
            .conekta(
                reqwest::Method::POST,
                "/customers",
                Some(json!({"name": "Fulanito", "email": "fulanito@example.com",
                            "phone": "+5218181818181", "metadata": {"pagos_claim": claim}})),
            )
            .await;
        assert_eq!(status, 200, "{customer}");
        assert_eq!(customer["metadata"], json!({"pagos_claim": claim}));
        let created_at = customer["created_at"].as_i64().unwrap();
        assert!(created_at >= before && created_at <= pagos::clock::unix_s());
        made.push(customer);
    }
    let id = made[1]["id"].as_str().unwrap();
    let (_, stored) = demo
        .conekta(reqwest::Method::GET, &format!("/customers/{id}"), None)
        .await;
    assert_eq!(stored["metadata"]["pagos_claim"], "clm_0193CUS2");

    let found = demo.list("/customers?search=clm_0193cus2&limit=250").await;
    assert_eq!(ids(&found), [id]);
    assert_eq!(found["data"][0]["metadata"]["pagos_claim"], "clm_0193CUS2");
    let both = demo.list("/customers?search=FULANITO@example.com").await;
    assert_eq!(ids(&both).len(), 2, "{both}");
    assert_eq!(ids(&both)[0], id, "newest first");
    let first = demo.list("/customers?search=clm_0193&limit=1").await;
    assert_eq!(first["has_more"], true);
    let rest = demo
        .list(&format!("/customers?search=clm_0193&limit=1&next={id}"))
        .await;
    assert_eq!(ids(&rest), [made[0]["id"].as_str().unwrap()]);
    assert_eq!(rest["has_more"], false);
    // Customers have no order filters.
    let (status, body) = demo
        .conekta(reqwest::Method::GET, "/customers?payment_status=paid", None)
        .await;
    assert_eq!(
        (status, body["type"].as_str()),
        (422, Some("parameter_validation_error"))
    );
}

#[actix_web::test]
async fn a_partial_refund_is_recorded_on_the_charge_as_conekta_does() {
    let demo = start().await;
    let mut body = checkout_order("clm_refund", "ana@example.com");
    body.as_object_mut().unwrap().remove("checkout");
    body["charges"] =
        json!([{"payment_method": {"type": "card", "token_id": "tok_test_visa_4242"}}]);
    let order = demo.new_order(body).await;
    assert_eq!(order["payment_status"], "paid");
    let path = format!("/orders/{}", order["id"].as_str().unwrap());

    let (status, refunded) = demo
        .conekta(
            reqwest::Method::POST,
            &format!("{path}/refunds"),
            Some(json!({"amount": 30000, "reason": "requested_by_client"})),
        )
        .await;
    assert_eq!(status, 200, "{refunded}");
    let (_, stored) = demo.conekta(reqwest::Method::GET, &path, None).await;
    assert_eq!(stored, refunded, "GET answers what the refund answered");
    assert_eq!(stored["amount_refunded"], 30000);
    assert_eq!(stored["payment_status"], "partially_refunded");
    assert_eq!(stored["is_refundable"], true);
    let charge = &stored["charges"]["data"][0];
    assert_eq!(charge["amount_refunded"], 30000);
    assert_eq!(charge["status"], "partially_refunded");
    let refunds = &charge["refunds"];
    assert_eq!(refunds["object"], "list");
    assert_eq!(refunds["has_more"], false);
    let entries = refunds["data"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{refunds}");
    let entry = &entries[0];
    assert_eq!(entry["object"], "refund");
    assert_eq!(entry["amount"], -30000, "negative, as in the spec");
    assert!(entry["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(entry["created_at"].as_i64().is_some());
    assert!(entry["status"].is_string());
    assert!(entry["auth_code"].is_string() || entry.get("auth_code").is_none());

    // The rest: a second entry, and the order is refunded.
    let (status, all) = demo
        .conekta(
            reqwest::Method::POST,
            &format!("{path}/refunds"),
            Some(json!({"amount": 70000, "reason": "requested_by_client"})),
        )
        .await;
    assert_eq!(status, 200, "{all}");
    assert_eq!(all["payment_status"], "refunded");
    assert_eq!(all["amount_refunded"], 100000);
    let amounts: Vec<i64> = all["charges"]["data"][0]["refunds"]["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, [-30000, -70000]);
    assert_eq!(all["charges"]["data"][0]["status"], "refunded");
    let (status, _) = demo
        .conekta(
            reqwest::Method::POST,
            &format!("{path}/refunds"),
            Some(json!({"amount": 1, "reason": "requested_by_client"})),
        )
        .await;
    assert_eq!(status, 422, "nothing is left to refund");
}

#[actix_web::test]
async fn an_idempotency_key_does_not_stop_a_second_order() {
    let demo = start().await;
    let mut made = Vec::new();
    for _ in 0..2 {
        let response = demo
            .http
            .post(format!("{}/orders", demo.sandbox.url()))
            .bearer_auth(KEY)
            .header("Idempotency-Key", "3f1c1d0e-same-key")
            .json(&checkout_order("clm_twice", "ana@example.com"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let order: Value = response.json().await.unwrap();
        made.push(order["id"].as_str().unwrap().to_owned());
    }
    assert_ne!(
        made[0], made[1],
        "Conekta has no Idempotency-Key: two orders"
    );
    let listed = demo.list("/orders?search=clm_twice").await;
    assert_eq!(ids(&listed).len(), 2, "{listed}");
}

impl Demo {
    /// `POST /_sandbox/trigger` on the simulator, as `pagos sandbox trigger` and the order page do.
    async fn trigger(&self, event: &str, order_id: &str) -> Value {
        let response = self
            .http
            .post(format!("{}/_sandbox/trigger", self.sandbox.url()))
            .json(&json!({"event": event, "order_id": order_id}))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "{answer}");
        answer
    }

    /// The inbox's notifications about `reference_id`, newest first.
    async fn inbox(&self, reference_id: &str) -> Vec<Value> {
        let inbox: Value = self
            .http
            .get(format!(
                "{}/inbox.json?reference_id={reference_id}",
                self.sandbox.url()
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        inbox["notifications"].as_array().unwrap().clone()
    }

    /// Waits until the inbox holds a notification of `kind` about `reference_id` that `done`
    /// accepts; returns it.
    async fn inbox_until(
        &self,
        reference_id: &str,
        kind: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let found = self
                .inbox(reference_id)
                .await
                .into_iter()
                .find(|n| n["body"]["type"] == kind && done(n));
            if let Some(found) = found {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "{:#?}",
                self.inbox(reference_id).await
            );
            actix_web::rt::time::sleep(Duration::from_millis(25)).await;
        }
    }

    async fn inbox_mode(&self, mode: &str) {
        let response = self
            .http
            .post(format!("{}/inbox/mode", self.sandbox.url()))
            .json(&json!({ "mode": mode }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
    }
}

fn answers(notification: &Value) -> Vec<String> {
    notification["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["answer"].to_string())
        .collect()
}

#[actix_web::test]
async fn a_triggered_event_reaches_the_inbox_through_pagos_signed() {
    let demo = start().await;
    let order = demo.create("6601", &demo.sandbox.inbox_url()).await;
    let order_id = order["id"].as_str().unwrap();
    let answer = demo.trigger("order.expired", order_id).await;
    assert_eq!(answer["type"], "order.expired");
    let notification = demo
        .inbox_until("6601", "order.expired", |n| n["delivered"] == true)
        .await;
    // The inbox verified it with the relay's signing secret, as a storefront would.
    assert_eq!(notification["verified"], true);
    assert_eq!(notification["body"]["order_id"], order_id);
    assert_eq!(notification["body"]["payment_status"], "expired");
    assert_eq!(
        notification["body"]["provider_event_id"],
        answer["event_id"]
    );
    assert_eq!(notification["body"]["amount"], "1000.00");
    let page = demo
        .http
        .get(demo.sandbox.order_page_url(order_id))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<strong>expired</strong>"), "{page}");
}

#[actix_web::test]
async fn an_inbox_switched_to_500_sees_the_retries_and_a_replay_delivers_again() {
    let demo = start().await;
    let order = demo.create("6602", &demo.sandbox.inbox_url()).await;
    demo.inbox_mode("500").await;
    demo.trigger("order.paid", order["id"].as_str().unwrap())
        .await;
    let failing = demo
        .inbox_until("6602", "order.paid", |n| answers(n).len() >= 2)
        .await;
    assert!(answers(&failing).iter().all(|a| a == "500"), "{failing}");
    let id = failing["webhook_id"].as_str().unwrap().to_owned();
    demo.inbox_mode("ok").await;
    // While pagos still has an attempt scheduled it says so (409); once it has none, the
    // replay is accepted: either way a replay accepted means one more arrival.
    let replay_url = format!("{}/inbox/replay/{id}", demo.sandbox.url());
    let deadline = Instant::now() + WAIT;
    let before = loop {
        let seen = answers(&demo.inbox_until("6602", "order.paid", |_| true).await).len();
        let response = demo.http.post(&replay_url).send().await.unwrap();
        let status = response.status().as_u16();
        let said: Value = response.json().await.unwrap();
        match status {
            200 => break seen,
            409 => assert!(said["message"]
                .as_str()
                .unwrap()
                .contains("próximo intento")),
            other => panic!("{other}: {said}"),
        }
        assert!(Instant::now() < deadline, "pagos never took the replay");
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    };
    let replayed = demo
        .inbox_until("6602", "order.paid", |n| answers(n).len() > before)
        .await;
    assert_eq!(answers(&replayed).last().unwrap(), "204", "{replayed}");
    assert_eq!(replayed["delivered"], true);
    assert_eq!(replayed["webhook_id"], id.as_str(), "same webhook-id");
}

/// `POST /pagos` create whose success and failure URLs are the simulator's result page, as the
/// README's example does.
async fn create_returning_to_the_simulator(demo: &Demo, reference_id: &str) -> Value {
    let result = demo.sandbox.result_url();
    let response = demo
        .http
        .post(format!("{}/pagos", demo.bridge))
        .json(&json!({
            "provider": "conekta", "action": "create", "reference_id": reference_id,
            "secret": KEY, "first_name": "andres", "last_name": "jaro", "amount": 1000,
            "email": "andres.jaromezuk@gmail.com", "return_url": demo.sandbox.url(),
            "notification_url": demo.sandbox.inbox_url(),
            "success_url": result, "failure_url": result
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

#[actix_web::test]
async fn a_payment_ends_on_the_simulators_result_page() {
    let demo = start().await;
    for (reference_id, card, verdict) in [
        ("6601", "4242424242424242", "Pago recibido"),
        ("6602", "4000000000000002", "Pago rechazado"),
    ] {
        let order = create_returning_to_the_simulator(&demo, reference_id).await;
        let checkout = order["checkout"]["url"].as_str().unwrap();
        let (status, location, _) = demo
            .post_form(
                &format!("{checkout}/card"),
                &format!("name=Ana+Prueba&number={card}&expiry=12%2F40&cvc=123"),
            )
            .await;
        assert_eq!(status, 303);
        assert!(
            location.starts_with(&demo.sandbox.result_url()),
            "{location}"
        );
        let page = demo.http.get(&location).send().await.unwrap();
        assert_eq!(page.status(), 200);
        let page = page.text().await.unwrap();
        assert!(page.contains(&format!(">{verdict}</h2>")), "{page}");
        assert!(page.contains(order["id"].as_str().unwrap()) && page.contains("$1,000.00 MXN"));
    }
}

#[actix_web::test]
async fn without_success_url_a_return_url_on_the_simulator_still_shows_a_page() {
    let demo = start().await;
    let response = demo
        .http
        .post(format!("{}/pagos", demo.bridge))
        .json(&json!({
            "provider": "conekta", "action": "create", "reference_id": "6603",
            "secret": KEY, "first_name": "andres", "last_name": "jaro", "amount": 1000,
            "email": "andres.jaromezuk@gmail.com", "return_url": demo.sandbox.url(),
            "notification_url": demo.sandbox.inbox_url()
        }))
        .send()
        .await
        .unwrap();
    let order: Value = response.json().await.unwrap();
    let checkout = order["checkout"]["url"].as_str().unwrap();
    let (_, location, _) = demo
        .post_form(
            &format!("{checkout}/card"),
            "name=Ana+Prueba&number=4242424242424242&expiry=12%2F40&cvc=123",
        )
        .await;
    assert!(location.contains("/conekta/conekta_order?"), "{location}");
    let page = demo.http.get(&location).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains(">Pago recibido</h2>"));
}

#[actix_web::test]
async fn a_charge_without_a_payment_source_charges_the_default_card() {
    let demo = start().await;
    let receiver = Receiver::start();
    let pagos = |action: &str, fields: Value| {
        let mut body = json!({"provider": "conekta", "action": action, "secret": KEY});
        for (k, v) in fields.as_object().unwrap() {
            body[k] = v.clone();
        }
        demo.http
            .post(format!("{}/pagos", demo.bridge))
            .json(&body)
            .send()
    };
    let saved: Value = pagos(
        "save_card",
        json!({"token_id": "tok_test_visa_4242", "first_name": "Felipe", "last_name": "Gomez",
               "email": "felipe@example.com"}),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    let customer_id = saved["customer_id"].as_str().expect("a customer");
    let response = pagos(
        "charge",
        json!({"customer_id": customer_id, "amount": "200.15", "reference_id": "sub-77",
               "notification_url": receiver.url}),
    )
    .await
    .unwrap();
    let status = response.status().as_u16();
    let order: Value = response.json().await.unwrap();
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["payment_status"], "paid");
    assert_eq!(
        order["charges"]["data"][0]["payment_method"]["last4"],
        "4242"
    );
    notification(&receiver, order["id"].as_str().unwrap(), "order.paid").await;
}

#[actix_web::test]
async fn pagos_sandbox_trigger_makes_an_event_happen_from_a_terminal() {
    let demo = start().await;
    let order = demo.create("6701", &demo.sandbox.inbox_url()).await;
    let order_id = order["id"].as_str().unwrap();
    let url = demo.sandbox.url();
    let expired = pagos(
        &[
            "sandbox",
            "trigger",
            "order.expired",
            "--order",
            order_id,
            "--url",
            url,
        ],
        &[],
    )
    .await;
    assert_eq!(expired.code, 0, "{}", expired.err);
    assert!(
        expired
            .out
            .starts_with(&format!("order.expired sent for {order_id}")),
        "{}",
        expired.out
    );
    demo.inbox_until("6701", "order.expired", |_| true).await;

    // The simulator found from PAGOS__SANDBOX__PORT; an expired order cannot be paid (409).
    let port = url.rsplit(':').next().unwrap();
    let paid = pagos(
        &["sandbox", "trigger", "order.paid", "--order", order_id],
        &[("PAGOS__SANDBOX__PORT", port)],
    )
    .await;
    assert_eq!(paid.code, 1, "{}", paid.out);
    assert!(paid.err.contains("409"), "{}", paid.err);
    let unknown_event = pagos(
        &[
            "sandbox",
            "trigger",
            "order.exploded",
            "--order",
            order_id,
            "--url",
            url,
        ],
        &[],
    )
    .await;
    assert_eq!(unknown_event.code, 1);
    assert!(unknown_event.err.contains("event"), "{}", unknown_event.err);
    let unknown_order = pagos(
        &[
            "sandbox",
            "trigger",
            "order.paid",
            "--order",
            "ord_nope",
            "--url",
            url,
        ],
        &[],
    )
    .await;
    assert_eq!(unknown_order.code, 1);
    assert!(unknown_order.err.contains("404"), "{}", unknown_order.err);
    let nowhere = pagos(
        &["sandbox", "trigger", "order.paid", "--order", order_id],
        &[],
    )
    .await;
    assert_eq!(nowhere.code, 2);
    assert!(nowhere.err.contains("--url"), "{}", nowhere.err);
}

#[actix_web::test]
async fn pagos_conekta_setup_registers_the_webhook_and_prints_the_key_its_events_verify_with() {
    let demo = start().await;
    let api = demo.sandbox.url();
    let setup = pagos(
        &[
            "conekta",
            "setup",
            "--url",
            "https://pagos.example/webhooks/conekta",
            "--api-url",
            api,
        ],
        &[("CONEKTA_PRIVATE_KEY", KEY)],
    )
    .await;
    assert_eq!(setup.code, 0, "{}", setup.err);
    assert!(!setup.out.contains(KEY) && !setup.err.contains(KEY));
    let printed = setup
        .out
        .split("PAGOS__CONEKTA__WEBHOOK_PUBLIC_KEY='")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("the setting is printed");
    // The key the simulator signs every webhook with, which this demo's pagos verifies them by.
    assert_eq!(printed.trim(), demo.sandbox.webhook_public_key_pem().trim());
    assert!(pagos::providers::conekta::digest::DigestVerifier::from_pem(printed).is_ok());

    let no_key = pagos(
        &[
            "conekta",
            "setup",
            "--url",
            "https://pagos.example/w",
            "--api-url",
            api,
        ],
        &[],
    )
    .await;
    assert_eq!(no_key.code, 2);
    assert!(no_key.err.contains("CONEKTA_PRIVATE_KEY"), "{}", no_key.err);
    // Conekta cannot reach localhost: its 422 names the field.
    let local = pagos(
        &[
            "conekta",
            "setup",
            "--url",
            "http://localhost:8080/webhooks/conekta",
            "--api-url",
            api,
        ],
        &[("CONEKTA_PRIVATE_KEY", KEY)],
    )
    .await;
    assert_eq!(local.code, 1);
    assert!(
        local.err.contains("422") && local.err.contains("url"),
        "{}",
        local.err
    );
    let wrong_key = pagos(
        &[
            "conekta",
            "setup",
            "--url",
            "https://pagos.example/w",
            "--api-url",
            api,
        ],
        &[("CONEKTA_PRIVATE_KEY", "not_a_key")],
    )
    .await;
    assert_eq!(wrong_key.code, 1);
    assert!(
        wrong_key.err.contains("401") && !wrong_key.err.contains("not_a_key"),
        "{}",
        wrong_key.err
    );
}
