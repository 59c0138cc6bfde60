//! `pagos --sandbox` as a developer starts it, in a directory of its own: it listens on
//! 127.0.0.1 only (pagos and the simulator), keeps no `pagos.db` where it runs, and a restart
//! begins with no records, as the simulator begins with no orders.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

const ADMIN_TOKEN: &str = "sandbox-test-admin-token";

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A `pagos --sandbox` child started in `dir` with nothing set but its ports and an admin token
/// (and no PAGOS variable inherited from the test's environment); killed when dropped.
struct Run {
    child: Child,
    base: String,
    simulator: String,
    port: u16,
    sandbox_port: u16,
    log: PathBuf,
}

impl Run {
    async fn start(dir: &Path, name: &str) -> Self {
        let (port, sandbox_port) = (free_port(), free_port());
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let mut command = Command::new(env!("CARGO_BIN_EXE_pagos"));
        for (key, _) in std::env::vars().filter(|(key, _)| key.starts_with("PAGOS")) {
            command.env_remove(key);
        }
        let child = command
            .arg("--sandbox")
            .current_dir(dir)
            .env("PAGOS__SERVER__PORT", port.to_string())
            .env("PAGOS__SANDBOX__PORT", sandbox_port.to_string())
            .env("PAGOS__ADMIN__TOKEN", ADMIN_TOKEN)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        let run = Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
            simulator: format!("http://127.0.0.1:{sandbox_port}"),
            port,
            sandbox_port,
            log,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(r) = reqwest::get(format!("{}/readyz", run.base)).await {
                if r.status() == 200 && run.banner().is_some() {
                    return run;
                }
            }
            assert!(Instant::now() < deadline, "not ready:\n{}", run.output());
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn output(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The start banner's log line.
    fn banner(&self) -> Option<Value> {
        self.output()
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|line| {
                line["message"]
                    .as_str()
                    .is_some_and(|m| m.starts_with("SANDBOX"))
            })
    }

    /// Stops it as an operator would (SIGTERM) and waits for it to exit.
    fn stop(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "did not stop:\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    async fn deliveries(&self) -> Vec<Value> {
        let list: Value = reqwest::Client::new()
            .get(format!("{}/admin/deliveries", self.base))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        list["deliveries"]
            .as_array()
            .unwrap_or_else(|| panic!("{list}"))
            .clone()
    }
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The addresses listening on `port` (IPv4 and IPv6), from the kernel's socket tables.
fn listening_addresses(port: u16) -> Vec<String> {
    let mut found = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state)) = (fields.get(1), fields.get(3)) else {
                continue;
            };
            let (address, hex_port) = local.rsplit_once(':').unwrap();
            if *state == "0A" && u16::from_str_radix(hex_port, 16) == Ok(port) {
                found.push(address.to_owned());
            }
        }
    }
    found
}

/// 127.0.0.1 as `/proc/net/tcp` writes it (little-endian hex).
const LOOPBACK: &str = "0100007F";

#[actix_web::test]
async fn a_sandbox_listens_on_loopback_keeps_no_file_and_forgets_on_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = Run::start(dir.path(), "first").await;
    assert_eq!(listening_addresses(first.port), [LOOPBACK], "pagos");
    assert_eq!(
        listening_addresses(first.sandbox_port),
        [LOOPBACK],
        "the simulator"
    );
    let banner = first.banner().unwrap();
    assert_eq!(banner["listen"], "127.0.0.1");
    let records = PathBuf::from(banner["records"].as_str().unwrap());
    assert!(records.join("pagos.db").exists(), "{}", first.output());

    // One order and one notification, written to the records.
    let http = reqwest::Client::new();
    let order: Value = http
        .post(format!("{}/pagos", first.base))
        .json(&json!({
            "provider": "conekta", "action": "create", "reference_id": "7001",
            "secret": "key_xxjg4bsD9nohnMjwaTGytA", "first_name": "andres", "last_name": "jaro",
            "amount": 1000, "email": "andres.jaromezuk@gmail.com",
            "return_url": "http://shop.example",
            "notification_url": format!("{}/inbox/notify", first.simulator)
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let trigger = http
        .post(format!("{}/_sandbox/trigger", first.simulator))
        .json(&json!({"event": "order.paid", "order_id": order["id"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(trigger.status().as_u16(), 200, "{}", first.output());
    assert!(
        !first.deliveries().await.is_empty(),
        "pagos recorded notifications"
    );
    assert!(!dir.path().join("pagos.db").exists(), "no ./pagos.db");
    assert!(first.stop().success());
    assert!(!records.exists(), "the records go at exit");

    let second = Run::start(dir.path(), "second").await;
    assert!(
        second.deliveries().await.is_empty(),
        "a restart begins empty"
    );
    let order_page = reqwest::get(format!(
        "{}/pedido/{}",
        second.simulator,
        order["id"].as_str().unwrap()
    ))
    .await
    .unwrap();
    assert_eq!(
        order_page.status().as_u16(),
        404,
        "the simulator forgot it too"
    );
    let files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.ends_with(".log"))
        .collect();
    assert!(files.is_empty(), "nothing kept where it runs: {files:?}");
}
