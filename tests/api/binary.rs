//! The real `pagos` binary as a child process: its own port, its output in a file, and killed
//! whenever the test ends, passing or panicking, so no process outlives its test.

use crate::conekta_events::PUBLIC_KEY;
use crate::fake_conekta::FakeConekta;
use crate::helpers::{seed_create, SIGNING_SECRET};
use std::path::PathBuf;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One `pagos` process; stdout and stderr go to `log` (never to the test's own streams, which
/// a stray process would otherwise hold open).
pub struct Pagos {
    pub child: Child,
    pub port: u16,
    pub base: String,
    pub log: PathBuf,
}

impl Pagos {
    pub async fn start(database_url: &str, conekta: &FakeConekta, log: PathBuf) -> Self {
        Self::start_with(database_url, conekta, log, &[]).await
    }

    /// Starts with the test defaults plus `extra` environment variables.
    pub async fn start_with(
        database_url: &str,
        conekta: &FakeConekta,
        log: PathBuf,
        extra: &[(&str, &str)],
    ) -> Self {
        Self::start_on(free_port(), database_url, conekta, log, extra).await
    }

    /// Starts on `port`, with the test defaults plus `extra`: how a crash test brings pagos
    /// back where Conekta (and everyone else) still sends to.
    pub async fn start_on(
        port: u16,
        database_url: &str,
        conekta: &FakeConekta,
        log: PathBuf,
        extra: &[(&str, &str)],
    ) -> Self {
        let out = std::fs::File::create(&log).unwrap();
        let err = out.try_clone().unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_pagos"))
            .env("PAGOS__SERVER__HOST", "127.0.0.1")
            .env("PAGOS__SERVER__PORT", port.to_string())
            .env("PAGOS__DATABASE__URL", database_url)
            .env("PAGOS__CONEKTA__API_URL", &conekta.url)
            .env("PAGOS__CONEKTA__WEBHOOK_PUBLIC_KEY", PUBLIC_KEY)
            .env("PAGOS__RELAY__SIGNING_SECRET", SIGNING_SECRET)
            .env(
                "PAGOS__RELAY__RETRY_SCHEDULE",
                "200ms,200ms,200ms,200ms,200ms,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s",
            )
            .env("PAGOS__RELAY__TIMEOUT_MS", "2000")
            .env("PAGOS__RELAY__ALLOW_PRIVATE_TARGETS", "true")
            .envs(extra.iter().copied())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap();
        let pagos = Self {
            child,
            port,
            base: format!("http://127.0.0.1:{port}"),
            log,
        };
        pagos.wait_ready().await;
        pagos
    }

    async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(r) = client.get(format!("{}/readyz", self.base)).send().await {
                if r.status() == 200 {
                    return;
                }
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "pagos did not become ready:\n{}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Kills the process at once and returns everything it wrote.
    pub fn kill_and_read_log(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn log_lines_with(&self, needle: &str) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(needle))
            .count()
    }

    pub async fn create(&self, reference_id: &str, notification_url: &str) -> String {
        let mut request = seed_create(reference_id);
        request["notification_url"] = serde_json::json!(notification_url);
        let answer = reqwest::Client::new()
            .post(format!("{}/pagos", self.base))
            .json(&request)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        let order: serde_json::Value = answer.json().await.unwrap();
        order["id"].as_str().unwrap().to_owned()
    }

    pub async fn webhook(&self, event: &serde_json::Value) -> u16 {
        let body = event.to_string();
        reqwest::Client::new()
            .post(format!("{}/webhooks/conekta", self.base))
            .header("digest", crate::conekta_events::digest(body.as_bytes()))
            .body(body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}

impl Drop for Pagos {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
