//! The buyer's pages over HTTP: the hosted checkout in the shop's name, and the result page its
//! success and failure URLs point at, which tells paid from declined by the order itself. The
//! `default` payment method charges the customer's default card.

use conekta_sim::{Options, Sandbox};
use serde_json::{json, Value};
use std::time::Duration;

const KEY: &str = "key_xxjg4bsD9nohnMjwaTGytA";

struct Sim {
    sandbox: Sandbox,
    http: awc::Client,
}

fn start(shop_name: &str) -> Sim {
    let sandbox = Sandbox::start(Options {
        shop_name: shop_name.to_owned(),
        ..Options::default()
    })
    .unwrap();
    Sim {
        sandbox,
        http: awc::Client::builder()
            .timeout(Duration::from_secs(10))
            .disable_redirects()
            .finish(),
    }
}

impl Sim {
    async fn api(&self, path: &str, body: &Value) -> (u16, Value) {
        let mut response = self
            .http
            .post(format!("{}{path}", self.sandbox.url()))
            .bearer_auth(KEY)
            .send_json(body)
            .await
            .unwrap();
        let answer = response.json::<Value>().limit(1 << 20).await.unwrap();
        (response.status().as_u16(), answer)
    }

    /// Status and page of a GET on the simulator (a path) or anywhere (a URL).
    async fn get(&self, path_or_url: &str) -> (u16, String) {
        let url = if path_or_url.starts_with("http") {
            path_or_url.to_owned()
        } else {
            format!("{}{path_or_url}", self.sandbox.url())
        };
        let mut response = self.http.get(url).send().await.unwrap();
        let bytes = response.body().limit(1 << 20).await.unwrap();
        (
            response.status().as_u16(),
            String::from_utf8(bytes.to_vec()).unwrap(),
        )
    }

    /// A $1,000.00 checkout whose success and failure URLs are the simulator's result page.
    async fn checkout(&self, methods: Value) -> Value {
        let result = self.sandbox.result_url();
        let (status, order) = self
            .api(
                "/orders",
                &json!({
                    "currency": "MXN",
                    "customer_info": {"name": "Andrés Comprador", "email": "a@example.com", "phone": "+5215555555555"},
                    "line_items": [{"name": "Orden 6588", "unit_price": 100000, "quantity": 1}],
                    "checkout": {"type": "HostedPayment", "success_url": result, "failure_url": result,
                                 "allowed_payment_methods": methods},
                    "metadata": {"reference_id": "6588"}
                }),
            )
            .await;
        assert_eq!(status, 200, "{order}");
        order
    }

    /// Pays the checkout with this card; the redirect's `Location`.
    async fn pay_card(&self, order: &Value, number: &str) -> String {
        let url = format!("{}/card", order["checkout"]["url"].as_str().unwrap());
        let form = [
            ("name", "Ana Prueba"),
            ("number", number),
            ("expiry", "12/40"),
            ("cvc", "123"),
        ];
        let response = self.http.post(url).send_form(&form).await.unwrap();
        assert_eq!(response.status().as_u16(), 303);
        response
            .headers()
            .get("location")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    }
}

#[actix_web::test]
async fn the_checkout_shows_the_shop_the_amount_and_a_tab_per_allowed_method() {
    let sim = start("Librería El Faro");
    let order = sim.checkout(json!(["card", "bank_transfer"])).await;
    let (status, page) = sim.get(order["checkout"]["url"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("<title>Librería El Faro · Conekta sandbox</title>"),
        "{page}"
    );
    assert!(page.contains("<h1 id=\"shop-name\">Librería El Faro</h1>"));
    assert!(
        !page.contains("Andrés Comprador"),
        "the buyer's name is not the shop's"
    );
    assert!(page.contains(">Pagar $1,000.00 MXN</button>"));
    assert!(page.contains("for=\"tab-card\"") && page.contains("for=\"tab-bank_transfer\""));
    assert!(!page.contains("for=\"tab-cash\""), "cash is not offered");
    assert!(page.contains("aria-label=\"Visa\"") && page.contains("aria-label=\"SPEI\""));
    assert!(page.contains("id=\"expiry\">Paga antes del "));
}

#[actix_web::test]
async fn the_default_shop_name_is_tienda_de_prueba() {
    let sim = start("");
    let order = sim.checkout(json!(["cash"])).await;
    let (_, page) = sim.get(order["checkout"]["url"].as_str().unwrap()).await;
    assert!(
        page.contains("<h1 id=\"shop-name\">Tienda de prueba</h1>"),
        "{page}"
    );
}

#[actix_web::test]
async fn a_paid_card_lands_on_pago_recibido() {
    let sim = start("Tienda de prueba");
    let order = sim.checkout(json!(["card"])).await;
    let location = sim.pay_card(&order, "4242 4242 4242 4242").await;
    let id = order["id"].as_str().unwrap();
    assert!(
        location.starts_with(&format!("{}?", sim.sandbox.result_url())),
        "{location}"
    );
    assert!(location.contains(&format!("order_id={id}")));
    let (status, page) = sim.get(&location).await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains(">Pago recibido</h2>"), "{page}");
    assert!(page.contains("$1,000.00 MXN") && page.contains(id));
    assert!(page.contains("Tarjeta Visa terminada en 4242"));
    assert!(page.contains("<h1 id=\"shop-name\">Tienda de prueba</h1>"));
}

#[actix_web::test]
async fn a_declined_card_lands_on_pago_rechazado_whatever_the_query_says() {
    let sim = start("Tienda de prueba");
    let order = sim.checkout(json!(["card"])).await;
    let location = sim.pay_card(&order, "4000 0000 0000 0002").await;
    assert!(location.contains("payment_status=declined"), "{location}");
    let (status, page) = sim.get(&location).await;
    assert_eq!(status, 200);
    assert!(page.contains(">Pago rechazado</h2>"), "{page}");
    assert!(page.contains("Intentar de nuevo"));
    // A query claiming the order was paid changes nothing: the order says declined.
    let id = order["id"].as_str().unwrap();
    let (_, forged) = sim
        .get(&format!("/resultado?order_id={id}&payment_status=paid"))
        .await;
    assert!(forged.contains(">Pago rechazado</h2>") && !forged.contains("Pago recibido"));
}

#[actix_web::test]
async fn an_unknown_order_is_a_spanish_404_page_not_json() {
    let sim = start("Tienda de prueba");
    for path in [
        "/resultado?order_id=ord_nope",
        "/resultado",
        "/conekta/conekta_order",
    ] {
        let (status, page) = sim.get(path).await;
        assert_eq!(status, 404, "{path}");
        assert!(page.starts_with("<!doctype html>"), "{page}");
        assert!(page.contains("Orden no encontrada"), "{path}");
    }
    let (_, page) = sim.get("/resultado?order_id=ord_nope").await;
    assert!(page.contains("<code>ord_nope</code>"));
}

#[actix_web::test]
async fn the_default_method_charges_the_customers_default_card() {
    let sim = start("Tienda de prueba");
    let (status, customer) = sim
        .api(
            "/customers",
            &json!({"name": "Ana", "email": "ana@example.com", "phone": "+5215555555555",
                    "payment_sources": [{"type": "card", "token_id": "tok_test_mastercard_4444"}]}),
        )
        .await;
    assert_eq!(status, 200, "{customer}");
    let charge = |customer_id: &str| {
        json!({"currency": "MXN", "customer_info": {"customer_id": customer_id},
               "line_items": [{"name": "Suscripción", "unit_price": 25000, "quantity": 1}],
               "charges": [{"payment_method": {"type": "default"}}]})
    };
    let (status, order) = sim
        .api("/orders", &charge(customer["id"].as_str().unwrap()))
        .await;
    assert_eq!(status, 200, "{order}");
    assert_eq!(order["payment_status"], "paid");
    let card = &order["charges"]["data"][0]["payment_method"];
    assert_eq!(
        (card["brand"].as_str(), card["last4"].as_str()),
        (Some("mastercard"), Some("4444"))
    );
    // A customer without a card: refused, naming what is missing.
    let (status, bare) = sim
        .api(
            "/customers",
            &json!({"name": "Sin Tarjeta", "email": "st@example.com", "phone": "+5215555555555"}),
        )
        .await;
    assert_eq!(status, 200, "{bare}");
    let (status, error) = sim
        .api("/orders", &charge(bare["id"].as_str().unwrap()))
        .await;
    assert_eq!(status, 422, "{error}");
    assert_eq!(
        error["details"][0]["param"],
        "payment_method.default_payment_source_id"
    );
    let (status, _) = sim.api("/orders", &charge("cus_unknown")).await;
    assert_eq!(status, 404);
}
