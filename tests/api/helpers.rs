//! Spawns the real application on a free port, against a throw-away store (a SQLite file or a
//! fresh PostgreSQL database) and a fake Conekta.

use crate::fake_conekta::FakeConekta;
use pagos::settings::Settings;
use pagos::startup::Application;
use serde_json::{json, Value};
use sqlx::Connection;
use std::io::Write;
use std::sync::{Arc, LazyLock, Mutex};

/// The PostgreSQL server tests create their databases on (trust auth on these machines).
pub fn postgres_admin_url() -> String {
    std::env::var("PAGOS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Every log line the process writes, so tests can look for leaks.
pub static LOGS: LazyLock<Arc<Mutex<Vec<u8>>>> = LazyLock::new(|| {
    let buffer = Arc::new(Mutex::new(Vec::new()));
    let sink = buffer.clone();
    // Kept for the whole test process: dropping it would shut the tracer down.
    std::mem::forget(pagos::telemetry::init(
        move || LogSink(sink.clone()),
        "debug",
        pagos::settings::LogFormat::Json,
    ));
    buffer
});

struct LogSink(Arc<Mutex<Vec<u8>>>);

impl Write for LogSink {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn captured_logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

pub struct TestApp {
    pub address: String,
    pub conekta: FakeConekta,
    pub http: reqwest::Client,
    pub app_store: pagos::store::Store,
    pub database_url: String,
    _dir: tempfile::TempDir,
}

/// A fresh database URL: a SQLite file in `dir`, or a new PostgreSQL database.
pub async fn fresh_database(db: Db, dir: &tempfile::TempDir) -> String {
    match db {
        Db::Sqlite => format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("pagos.db").display()
        ),
        Db::Postgres => {
            let admin = postgres_admin_url();
            let name = format!("pagos_test_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .expect("PostgreSQL must run at 127.0.0.1:5432 (see .ci/run)");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .expect("create test database");
            let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
            format!("{base}/{name}")
        }
    }
}

/// Settings for tests: a free port on loopback, the given store and Conekta URL.
pub fn test_settings(database_url: &str, conekta_url: &str) -> Settings {
    // SAFETY-free: no environment is read here besides the built-in defaults.
    let mut settings = Settings::defaults();
    settings.server.host = "127.0.0.1".into();
    settings.server.port = 0;
    settings.database.url = database_url.to_owned().into();
    settings.conekta.api_url = conekta_url.parse().unwrap();
    settings.conekta.timeout = std::time::Duration::from_millis(2_000);
    settings.conekta.webhook_keys = Some(
        pagos::providers::conekta::digest::DigestVerifier::from_pem(
            crate::conekta_events::PUBLIC_KEY,
        )
        .unwrap(),
    );
    settings.relay.signing_secret =
        Some(pagos::settings::SigningSecret::parse(SIGNING_SECRET.to_owned().into()).unwrap());
    settings.relay.retry_schedule =
        pagos::relay::RetrySchedule::parse("100ms,100ms,100ms").unwrap();
    settings.relay.timeout = std::time::Duration::from_millis(2_000);
    // Test receivers listen on loopback; the SSRF tests turn this off.
    settings.relay.allow_private_targets = true;
    settings.admin.token = Some(ADMIN_TOKEN.to_owned().into());
    settings
}

pub const SIGNING_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
pub const ADMIN_TOKEN: &str = "admin-token-for-tests";

pub async fn spawn_app(db: Db) -> TestApp {
    spawn_app_with(db, |_| {}).await
}

pub async fn spawn_app_with(db: Db, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    LazyLock::force(&LOGS);
    let conekta = FakeConekta::start();
    let dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database(db, &dir).await;
    let mut settings = test_settings(&database_url, &conekta.url);
    adjust(&mut settings);
    let app = Application::build(settings).await.expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let app_store = app.store().clone();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address,
        conekta,
        http: reqwest::Client::new(),
        app_store,
        database_url,
        _dir: dir,
    }
}

/// Seed 004's request, with a notification URL and a distinct reference.
pub fn seed_create(reference_id: &str) -> Value {
    json!({
        "provider": "conekta",
        "action": "create",
        "reference_id": reference_id,
        "secret": "key_xxjg4bsD9nohnMjwaTGytA",
        "first_name": "andres",
        "last_name": "jaro",
        "amount": 1000,
        "return_url": "http://template.pow.la",
        "notification_url": "https://shop.example/pagos/notify",
        "email": "andres.jaromezuk@gmail.com"
    })
}

pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|_| panic!("not JSON: {}", self.text))
    }

    /// The request names of the fields a 422/409 problem lists.
    pub fn error_fields(&self) -> Vec<String> {
        self.json()["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| e["field"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl TestApp {
    pub async fn post_pagos(&self, body: &Value) -> Answer {
        self.post_raw(body.to_string()).await
    }

    /// Posts `body` with an `Idempotency-Key` header.
    pub async fn post_with_key(&self, body: &Value, key: &str) -> Answer {
        let response = self
            .http
            .post(format!("{}/pagos", self.address))
            .header("content-type", "application/json")
            .header("idempotency-key", key)
            .body(body.to_string())
            .send()
            .await
            .expect("pagos answers");
        Self::answer(response).await
    }

    /// Posts `body` as the caller holding this API key.
    pub async fn post_pagos_with_token(&self, body: &Value, token: &str) -> Answer {
        let response = self
            .http
            .post(format!("{}/pagos", self.address))
            .header("content-type", "application/json")
            .bearer_auth(token)
            .body(body.to_string())
            .send()
            .await
            .expect("pagos answers");
        Self::answer(response).await
    }

    pub async fn post_raw(&self, body: impl Into<reqwest::Body>) -> Answer {
        let response = self
            .http
            .post(format!("{}/pagos", self.address))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("pagos answers");
        Self::answer(response).await
    }

    /// `POST /pagos` with this `Content-Type`, or with none.
    pub async fn post_as(
        &self,
        content_type: Option<&str>,
        body: impl Into<reqwest::Body>,
    ) -> Answer {
        let mut request = self.http.post(format!("{}/pagos", self.address));
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.body(body).send().await.expect("pagos answers");
        Self::answer(response).await
    }

    /// Creates a checkout whose notifications go to `notification_url`; returns the order id.
    pub async fn create_order(&self, reference_id: &str, notification_url: &str) -> String {
        let mut request = seed_create(reference_id);
        request["notification_url"] = json!(notification_url);
        let answer = self.post_pagos(&request).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer.json()["id"].as_str().unwrap().to_owned()
    }

    /// Posts a Conekta event signed as Conekta signs.
    pub async fn post_webhook(&self, event: &Value) -> Answer {
        let body = event.to_string();
        let digest = crate::conekta_events::digest(body.as_bytes());
        self.post_webhook_raw(body, Some(digest)).await
    }

    pub async fn post_webhook_raw(&self, body: String, digest: Option<String>) -> Answer {
        let mut request = self
            .http
            .post(format!("{}/webhooks/conekta", self.address))
            .header("content-type", "application/json")
            .body(body);
        if let Some(digest) = digest {
            request = request.header("digest", digest);
        }
        Self::answer(request.send().await.expect("pagos answers")).await
    }

    pub async fn admin(&self, method: reqwest::Method, path: &str, token: Option<&str>) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.address));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Self::answer(request.send().await.expect("pagos answers")).await
    }

    /// The admin view of deliveries with `status` ("" for all).
    pub async fn deliveries(&self, status: &str) -> Vec<Value> {
        let answer = self
            .admin(
                reqwest::Method::GET,
                &format!("/admin/deliveries?status={status}"),
                Some(ADMIN_TOKEN),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer.json()["deliveries"].as_array().unwrap().clone()
    }

    /// Waits until the admin view lists `count` deliveries with `status`.
    pub async fn wait_deliveries(&self, status: &str, count: usize) -> Vec<Value> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let found = self.deliveries(status).await;
            if found.len() >= count {
                return found;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "expected {count} {status} deliveries, have {found:?}"
            );
            actix_web::rt::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        let response = self
            .http
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("pagos answers");
        Self::answer(response).await
    }

    async fn answer(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        Answer {
            status,
            content_type,
            text: response.text().await.unwrap(),
        }
    }
}

/// Runs a test body once against SQLite and once against PostgreSQL.
#[macro_export]
macro_rules! on_both_stores {
    ($name:ident, $body:expr) => {
        mod $name {
            use super::*;
            #[actix_web::test]
            async fn sqlite() {
                ($body)($crate::helpers::Db::Sqlite).await
            }
            #[actix_web::test]
            async fn postgres() {
                ($body)($crate::helpers::Db::Postgres).await
            }
        }
    };
}

/// Takes the attempt key pagos writes into a Conekta object's metadata out of `metadata`
/// (leaving the rest to compare), checking its form: `clm_` and 32 hex digits.
pub fn take_claim_key(metadata: &mut Value) -> String {
    let key = metadata
        .as_object_mut()
        .and_then(|m| m.remove("pagos_claim"))
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no pagos_claim in {metadata}"));
    let hex = key.strip_prefix("clm_").unwrap_or("");
    assert!(
        hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()),
        "attempt key {key}"
    );
    key
}
