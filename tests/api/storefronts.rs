//! Several storefronts on one pagos: each with its own API keys, its own signing secrets (rotated
//! without a refused notification), its own allowed hosts, and a view of its own notifications.
//! Signatures are checked with the official Standard Webhooks library, not pagos's code.

use crate::binary::Pagos;
use crate::conekta_events::order_event;
use crate::fake_conekta::FakeConekta;
use crate::helpers::{fresh_database, seed_create, spawn_app_with, Db, TestApp, ADMIN_TOKEN};
use crate::on_both_stores;
use crate::receiver::{Answer, Delivered, Receiver};
use pagos::settings::Settings;
use pagos::signing::SigningKey;
use pagos::storefronts::{HostPattern, Storefront};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

const NORTE_KEY: &str = "sk_norte_live_1";
const SUR_KEY: &str = "sk_sur_live_1";
const NORTE_SECRET: &str = "whsec_bm9ydGUtc2lnbmluZy1zZWNyZXQtMDEyMzQ1Njc4OWFi";
const SUR_OLD: &str = "whsec_c3VyLW9sZC1zaWduaW5nLXNlY3JldC0wMTIzNDU2Nzg5";
const SUR_NEW: &str = "whsec_c3VyLW5ldy1zaWduaW5nLXNlY3JldC0wMTIzNDU2Nzg5";
const WAIT: Duration = Duration::from_secs(15);

fn storefront(name: &str, key: &str, secrets: &[&str], hosts: Option<&[&str]>) -> Storefront {
    Storefront::new(
        name.to_owned(),
        &[key.to_owned()],
        secrets
            .iter()
            .map(|secret| SigningKey::parse(&secret.to_string().into()).unwrap())
            .collect(),
        hosts.map(|hosts| {
            hosts
                .iter()
                .map(|host| HostPattern::parse(host).unwrap())
                .collect()
        }),
    )
}

/// `norte` signs with one secret and may notify any host; `sur` is mid-rotation (two secrets)
/// and notifies only loopback and its own domain.
fn norte_and_sur(settings: &mut Settings) {
    settings.storefronts = vec![
        storefront("norte", NORTE_KEY, &[NORTE_SECRET], None),
        storefront(
            "sur",
            SUR_KEY,
            &[SUR_OLD, SUR_NEW],
            Some(&["127.0.0.1", "*.sur.example"]),
        ),
    ];
}

fn verifies(delivered: &Delivered, secret: &str) -> bool {
    delivered.verifies_with(secret)
}

/// Creates a checkout as the storefront holding `token`; the order id.
async fn create_as(app: &TestApp, token: &str, reference_id: &str, url: &str) -> String {
    let mut request = seed_create(reference_id);
    request["notification_url"] = json!(url);
    let answer = app.post_pagos_with_token(&request, token).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.json()["id"].as_str().unwrap().to_owned()
}

async fn paid(app: &TestApp, order_id: &str) {
    let event = order_event("order.paid", order_id, Some("paid"), 100000);
    assert_eq!(app.post_webhook(&event).await.status, 200);
}

/// The `deliveries` a request as `token` lists (asserting a 200).
async fn listed(app: &TestApp, path: &str, token: &str) -> Vec<Value> {
    let answer = app.admin(Method::GET, path, Some(token)).await;
    assert_eq!(answer.status, 200, "{path}: {}", answer.text);
    answer.json()["deliveries"].as_array().unwrap().clone()
}

on_both_stores!(
    each_storefront_is_signed_for_with_its_own_secrets,
    |db: Db| async move {
        let app = spawn_app_with(db, norte_and_sur).await;
        let (to_norte, to_sur) = (Receiver::start(), Receiver::start());
        // The same reference in two storefronts: two orders, not one answer replayed.
        let norte_order = create_as(&app, NORTE_KEY, "pedido-1", &to_norte.url).await;
        let sur_order = create_as(&app, SUR_KEY, "pedido-1", &to_sur.url).await;
        assert_ne!(norte_order, sur_order);
        assert_eq!(app.conekta.orders_with_reference("pedido-1").len(), 2);
        paid(&app, &norte_order).await;
        paid(&app, &sur_order).await;

        let norte = &to_norte.wait_for(1, WAIT).await[0];
        assert_eq!(norte.body["reference_id"], "pedido-1");
        assert_eq!(norte.body["order_id"], norte_order.as_str());
        assert!(verifies(norte, NORTE_SECRET));
        assert!(!verifies(norte, SUR_OLD) && !verifies(norte, SUR_NEW));

        // Mid-rotation: one `v1,` signature per secret, each verifying on its own.
        let sur = &to_sur.wait_for(1, WAIT).await[0];
        assert_eq!(sur.body["order_id"], sur_order.as_str());
        let signatures: Vec<&str> = sur.header("webhook-signature").split(' ').collect();
        assert_eq!(signatures.len(), 2, "{signatures:?}");
        assert!(signatures.iter().all(|s| s.starts_with("v1,")));
        assert!(verifies(sur, SUR_OLD) && verifies(sur, SUR_NEW));
        assert!(!verifies(sur, NORTE_SECRET));

        // Metrics name the storefront, never its key.
        app.wait_deliveries("delivered", 2).await;
        let metrics = app.get("/metrics").await.text;
        for line in [
            "pagos_http_request_duration_seconds_count{action=\"create\",method=\"POST\",route=\"/pagos\",status=\"200\",storefront=\"norte\"} 1",
            "pagos_relay_attempts_total{outcome=\"delivered\",storefront=\"sur\"} 1",
        ] {
            assert!(metrics.contains(line), "{line} not in {metrics}");
        }
        assert!(!metrics.contains(NORTE_KEY) && !metrics.contains(SUR_KEY));
    }
);

on_both_stores!(
    a_storefront_reads_and_retries_only_its_own_notifications,
    |db: Db| async move {
        let app = spawn_app_with(db, norte_and_sur).await;
        let (to_norte, to_sur) = (Receiver::start(), Receiver::start());
        to_norte.answer_always(Answer::Status(500));
        let norte_order = create_as(&app, NORTE_KEY, "pedido-2", &to_norte.url).await;
        let sur_order = create_as(&app, SUR_KEY, "pedido-3", &to_sur.url).await;
        paid(&app, &norte_order).await;
        paid(&app, &sur_order).await;
        app.wait_deliveries("failed", 1).await;
        app.wait_deliveries("delivered", 1).await;

        let norte = listed(&app, "/deliveries", NORTE_KEY).await;
        assert_eq!(norte.len(), 1);
        assert_eq!(
            (
                &norte[0]["storefront"],
                &norte[0]["status"],
                &norte[0]["reference_id"]
            ),
            (&json!("norte"), &json!("failed"), &json!("pedido-2"))
        );
        assert_eq!(norte[0]["attempt_log"].as_array().unwrap().len(), 4);
        let sur = listed(&app, "/deliveries", SUR_KEY).await;
        assert_eq!(sur.len(), 1);
        assert_eq!(sur[0]["storefront"], "sur");
        // Filters as the admin API has them; `storefront` is not one of a storefront's.
        assert!(listed(&app, "/deliveries?status=delivered", NORTE_KEY)
            .await
            .is_empty());
        assert_eq!(
            listed(&app, "/deliveries?reference_id=pedido-3", SUR_KEY)
                .await
                .len(),
            1
        );
        let widened = app
            .admin(Method::GET, "/deliveries?storefront=sur", Some(NORTE_KEY))
            .await;
        assert_eq!(widened.status, 422, "{}", widened.text);
        assert_eq!(widened.error_fields(), ["storefront"]);

        // Keys are not interchangeable: another's id is a 404, as if it did not exist.
        let (norte_id, sur_id) = (
            norte[0]["id"].as_str().unwrap(),
            sur[0]["id"].as_str().unwrap(),
        );
        let foreign = app
            .admin(
                Method::POST,
                &format!("/deliveries/{sur_id}/retry"),
                Some(NORTE_KEY),
            )
            .await;
        assert_eq!(foreign.status, 404, "{}", foreign.text);
        for token in [None, Some(ADMIN_TOKEN), Some("sk_guess")] {
            let answer = app.admin(Method::GET, "/deliveries", token).await;
            assert_eq!(answer.status, 401, "{token:?}");
        }
        let unsigned = app.post_pagos(&seed_create("pedido-9")).await;
        assert_eq!(unsigned.status, 401, "{}", unsigned.text);

        // Its own failed one, retried with its key, arrives.
        to_norte.answer_always(Answer::Status(204));
        let retried = app
            .admin(
                Method::POST,
                &format!("/deliveries/{norte_id}/retry"),
                Some(NORTE_KEY),
            )
            .await;
        assert_eq!(retried.status, 202, "{}", retried.text);
        app.wait_deliveries("delivered", 2).await;
        assert!(verifies(to_norte.received().last().unwrap(), NORTE_SECRET));

        // The operator sees both, and can narrow to one storefront.
        let by_operator = listed(&app, "/admin/deliveries?storefront=sur", ADMIN_TOKEN).await;
        assert_eq!(by_operator.len(), 1);
        assert_eq!(by_operator[0]["id"], sur_id);
        assert_eq!(
            listed(&app, "/admin/deliveries", ADMIN_TOKEN).await.len(),
            2
        );
    }
);

on_both_stores!(
    hosts_outside_a_storefronts_list_are_refused,
    |db: Db| async move {
        let app = spawn_app_with(db, norte_and_sur).await;
        let mut outside = seed_create("pedido-4");
        outside["notification_url"] = json!("https://tienda.example/pagos");
        let refused = app.post_pagos_with_token(&outside, SUR_KEY).await;
        assert_eq!(refused.status, 422, "{}", refused.text);
        assert_eq!(refused.error_fields(), ["notification_url"]);
        assert!(app.conekta.orders_with_reference("pedido-4").is_empty());

        let mut reference =
            crate::references::reference_request("ref-s", "https://x.sur.example/n");
        reference["approval_url"] = json!("https://approve.other.example/a");
        let refused = app.post_pagos_with_token(&reference, SUR_KEY).await;
        assert_eq!(refused.status, 422, "{}", refused.text);
        assert_eq!(refused.error_fields(), ["approval_url"]);

        // Inside the list (a subdomain pattern), and a storefront without a list: accepted.
        let mut inside = seed_create("pedido-5");
        inside["notification_url"] = json!("https://pagos.sur.example/n");
        assert_eq!(
            app.post_pagos_with_token(&inside, SUR_KEY).await.status,
            200
        );
        assert_eq!(
            app.post_pagos_with_token(&outside, NORTE_KEY).await.status,
            200
        );
    }
);

/// Writes a `PAGOS_CONFIG` file with these `[[storefronts]]`.
fn config_file(dir: &std::path::Path, name: &str, storefronts: &[(&str, &str, &[&str])]) -> String {
    let mut text = String::new();
    for (name, key, secrets) in storefronts {
        let secrets: Vec<String> = secrets.iter().map(|s| format!("\"{s}\"")).collect();
        text.push_str(&format!(
            "[[storefronts]]\nname = \"{name}\"\napi_keys = [\"{key}\"]\nsigning_secrets = [{}]\n\n",
            secrets.join(", ")
        ));
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

async fn create_on(pagos: &Pagos, token: &str, reference_id: &str, url: &str) -> String {
    let mut request = seed_create(reference_id);
    request["notification_url"] = json!(url);
    let answer = reqwest::Client::new()
        .post(format!("{}/pagos", pagos.base))
        .bearer_auth(token)
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let order: Value = answer.json().await.unwrap();
    order["id"].as_str().unwrap().to_owned()
}

on_both_stores!(
    a_restart_with_a_rotated_secret_signs_what_was_queued,
    |db: Db| async move {
        let conekta = FakeConekta::start();
        let dir = tempfile::tempdir().unwrap();
        let database_url = fresh_database(db, &dir).await;
        let (url, addr) = Receiver::reserve();
        let before = config_file(
            dir.path(),
            "before.toml",
            &[
                ("norte", NORTE_KEY, &[NORTE_SECRET]),
                ("sur", SUR_KEY, &[SUR_OLD]),
            ],
        );
        let env = |config: &str| {
            vec![
                ("PAGOS_CONFIG", config.to_owned()),
                ("PAGOS__ADMIN__TOKEN", ADMIN_TOKEN.to_owned()),
            ]
        };
        let first_env = env(&before);
        let first_env: Vec<(&str, &str)> =
            first_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let mut first = Pagos::start_with(
            &database_url,
            &conekta,
            dir.path().join("first.log"),
            &first_env,
        )
        .await;
        // Queued while the storefront is down, under the old configuration.
        let norte_order = create_on(&first, NORTE_KEY, "pedido-6", &url).await;
        let sur_order = create_on(&first, SUR_KEY, "pedido-7", &url).await;
        for order in [&norte_order, &sur_order] {
            let event = order_event("order.paid", order, Some("paid"), 100000);
            assert_eq!(first.webhook(&event).await, 200);
        }
        first.signal("-TERM");
        assert_eq!(first.child.wait().unwrap().code(), Some(0));
        // The single-storefront secret the harness sets is named as unused, not silently ignored.
        assert_eq!(
            first.log_lines_with("PAGOS__RELAY__SIGNING_SECRET is not used"),
            1
        );

        // Restarted with `sur` on its new secret only, and `norte` gone from the file.
        let after = config_file(dir.path(), "after.toml", &[("sur", SUR_KEY, &[SUR_NEW])]);
        let second_env = env(&after);
        let second_env: Vec<(&str, &str)> =
            second_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let second = Pagos::start_with(
            &database_url,
            &conekta,
            dir.path().join("second.log"),
            &second_env,
        )
        .await;
        let receiver = Receiver::start_on(std::net::TcpListener::bind(addr).unwrap());
        let received = receiver.wait_for(1, WAIT).await;
        let sur = &received[0];
        assert_eq!(sur.body["order_id"], sur_order.as_str());
        assert_eq!(sur.header("webhook-signature").split(' ').count(), 1);
        assert!(verifies(sur, SUR_NEW));
        assert!(!verifies(sur, SUR_OLD));

        // `norte`'s notification cannot be signed any more: it fails, saying why, and is kept.
        let client = reqwest::Client::new();
        let deadline = std::time::Instant::now() + WAIT;
        let failed = loop {
            let listed: Value = client
                .get(format!("{}/admin/deliveries?status=failed", second.base))
                .bearer_auth(ADMIN_TOKEN)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let failed = listed["deliveries"].as_array().unwrap().clone();
            if !failed.is_empty() || std::time::Instant::now() > deadline {
                break failed;
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        };
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert_eq!(failed[0]["storefront"], "norte");
        let reason = failed[0]["last_error"].as_str().unwrap();
        assert!(
            reason.contains("storefront `norte` is no longer configured"),
            "{reason}"
        );
        assert_eq!(receiver.received().len(), 1);
        for log in ["first.log", "second.log"] {
            let text = std::fs::read_to_string(dir.path().join(log)).unwrap();
            for secret in [NORTE_KEY, SUR_KEY, NORTE_SECRET, SUR_OLD, SUR_NEW] {
                assert!(!text.contains(secret), "{log} shows a key or secret");
            }
        }
    }
);

on_both_stores!(
    approval_requests_are_signed_with_the_references_storefront_secrets,
    |db: Db| async move {
        let app = spawn_app_with(db, norte_and_sur).await;
        let approver = Receiver::start();
        let mut request =
            crate::references::reference_request("ref-sur", "https://n.sur.example/n");
        request["approval_url"] = json!(approver.url);
        let answer = app.post_pagos_with_token(&request, SUR_KEY).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        let reference = answer.json();
        approver.answer_next(Answer::Json(200, json!({"payable": true})));
        let question = crate::references::question(
            "inbound_payment.payment_attempt",
            reference["reference"].as_str().unwrap(),
            reference["customer_id"].as_str().unwrap(),
            20000,
        );
        assert_eq!(
            app.post_webhook(&question).await.json(),
            json!({"payable": true})
        );
        let asked = &approver.received()[0];
        assert_eq!(asked.body["reference_id"], "ref-sur");
        assert_eq!(asked.header("webhook-signature").split(' ').count(), 2);
        assert!(verifies(asked, SUR_OLD) && verifies(asked, SUR_NEW));
        assert!(!verifies(asked, NORTE_SECRET));
    }
);

#[actix_web::test]
async fn with_one_storefront_its_api_key_reads_every_notification() {
    let open = crate::helpers::spawn_app(Db::Sqlite).await;
    let answer = open.admin(Method::GET, "/deliveries", None).await;
    assert_eq!(
        answer.status, 401,
        "an open pagos hands out no notifications"
    );
    assert!(answer.json()["detail"]
        .as_str()
        .unwrap()
        .contains("no API key is configured"));

    let app = spawn_app_with(Db::Sqlite, |s| {
        s.server.api_keys = Some("sk_only_1,sk_only_2".to_owned().into())
    })
    .await;
    let receiver = Receiver::start();
    let mut request = seed_create("pedido-8");
    request["notification_url"] = json!(receiver.url);
    let created = app.post_pagos_with_token(&request, "sk_only_2").await;
    assert_eq!(created.status, 200, "{}", created.text);
    paid(&app, created.json()["id"].as_str().unwrap()).await;
    receiver.wait_for(1, WAIT).await;
    app.wait_deliveries("delivered", 1).await;
    let mine = listed(&app, "/deliveries", "sk_only_1").await;
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0]["storefront"], Value::Null);
    assert_eq!(mine[0]["reference_id"], "pedido-8");
}
