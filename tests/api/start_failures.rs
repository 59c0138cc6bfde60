//! A wrong setting stops the start with exit code 2 and one line naming the setting and its
//! value (a secret's value never shown), before anything is written.

use crate::binary::Pagos;
use crate::fake_conekta::FakeConekta;
use crate::helpers::{fresh_database, Db};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// Variables a case sets.
type Env<'a> = &'a [(&'a str, &'a str)];

/// Runs the binary with only `env` set (besides a harmless port), to the end; its output.
fn run(env: &[(&str, &str)], args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new(env!("CARGO_BIN_EXE_pagos"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .current_dir(dir.path())
        .env("PAGOS__SERVER__HOST", "127.0.0.1")
        .env("PAGOS__SERVER__PORT", "0")
        .env(
            "PAGOS__DATABASE__URL",
            format!("sqlite://{}/pagos.db?mode=rwc", dir.path().display()),
        )
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// Asserts exit code 2 and a line on stderr naming `setting`; that line.
fn refused(output: &Output, setting: &str) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    let line = stderr
        .lines()
        .find(|line| line.starts_with("pagos: cannot start:"))
        .unwrap_or_else(|| panic!("no one-line reason: {stderr}"))
        .to_owned();
    assert!(line.contains(setting), "{line}");
    line
}

#[test]
fn bad_settings_are_named_with_exit_code_2() {
    let cases: &[(Env, &str, &str)] = &[
        (
            &[("PAGOS__LOG__FORMAT", "yaml")],
            "PAGOS__LOG__FORMAT",
            "json (one object a line) or text",
        ),
        (
            &[("PAGOS__RELAY__RETRY_SCHEDULE", "")],
            "PAGOS__RELAY__RETRY_SCHEDULE",
            "at least one delay",
        ),
        (
            &[("PAGOS__RELAY__RETRY_SCHEDULE", "5x")],
            "PAGOS__RELAY__RETRY_SCHEDULE",
            "5x",
        ),
        (
            &[("PAGOS__CONEKTA__TIMEOUT_MS", "soon")],
            "PAGOS__CONEKTA__TIMEOUT_MS",
            "\"soon\"",
        ),
        (
            &[("PAGOS__CONEKTA__API_URL", "api.conekta.io")],
            "PAGOS__CONEKTA__API_URL",
            "http(s) URL",
        ),
        (
            &[("PAGOS__SERVER__PORT", "80800")],
            "PAGOS__SERVER__PORT",
            "80800",
        ),
        (
            &[("PAGOS__RELAY__ALLOW_PRIVATE_TARGETS", "yes")],
            "PAGOS__RELAY__ALLOW_PRIVATE_TARGETS",
            "true or false",
        ),
        (
            &[("PAGOS__DATABASE__URL", "mysql://db/pagos")],
            "PAGOS__DATABASE__URL",
            "sqlite://",
        ),
        (
            &[("PAGOS__CONEKTA__WEBHOOK_PUBLIC_KEY", "not a key")],
            "PAGOS__CONEKTA__WEBHOOK_PUBLIC_KEY",
            "PEM",
        ),
    ];
    for (env, setting, says) in cases {
        let line = refused(&run(env, &[]), setting);
        assert!(line.contains(says), "{line}");
    }
}

#[test]
fn a_secret_is_never_shown() {
    let leaky = "whsec_tooShort";
    let line = refused(
        &run(&[("PAGOS__RELAY__SIGNING_SECRET", leaky)], &[]),
        "PAGOS__RELAY__SIGNING_SECRET",
    );
    assert!(line.contains("(secret)"), "{line}");
    let output = run(&[("PAGOS__RELAY__SIGNING_SECRET", leaky)], &[]);
    let everything = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(!everything.contains("tooShort"), "{everything}");
    // A database password is masked too.
    let url = "postgres://pagos:hunter2@127.0.0.1:1/pagos";
    let started = Instant::now();
    let output = run(&[("PAGOS__DATABASE__URL", url)], &[]);
    let line = refused(&output, "PAGOS__DATABASE__URL");
    assert!(line.contains("pagos:***@127.0.0.1:1"), "{line}");
    assert!(!String::from_utf8_lossy(&output.stdout).contains("hunter2"));
    assert!(!line.contains("hunter2"), "{line}");
    assert!(
        line.to_lowercase().contains("refused"),
        "the reason, not a pool timeout: {line}"
    );
    assert!(started.elapsed() < Duration::from_secs(5), "fails fast");
}

#[test]
fn a_bad_sqlite_path_is_named() {
    let line = refused(
        &run(
            &[(
                "PAGOS__DATABASE__URL",
                "sqlite:///no/such/dir/pagos.db?mode=rwc",
            )],
            &[],
        ),
        "PAGOS__DATABASE__URL",
    );
    assert!(line.contains("/no/such/dir/pagos.db"), "{line}");
}

#[test]
fn a_port_in_use_is_named_before_anything_is_written() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pagos.db");
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let line = refused(
        &run(
            &[
                ("PAGOS__SERVER__PORT", &port),
                ("PAGOS__DATABASE__URL", &url),
            ],
            &[],
        ),
        "PAGOS__SERVER__PORT",
    );
    assert!(line.contains(&format!("127.0.0.1:{port}")), "{line}");
    assert!(!file.exists(), "the database was not created");
}

#[test]
fn version_and_unknown_flags() {
    let version = run(&[], &["--version"]);
    assert_eq!(version.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("pagos {}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(run(&[], &["--sanbox"]).status.code(), Some(2));
}

#[actix_web::test]
async fn a_misspelled_variable_is_warned_about_and_an_empty_admin_token_is_no_token() {
    let conekta = FakeConekta::start();
    let dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database(Db::Sqlite, &dir).await;
    let mut pagos = Pagos::start_with(
        &database_url,
        &conekta,
        dir.path().join("log"),
        &[
            ("PAGOS__RELAY__RETRY_SHEDULE", "1s"),
            ("PAGOS__ADMIN__TOKEN", ""),
        ],
    )
    .await;
    let admin = reqwest::Client::new()
        .get(format!("{}/admin/deliveries", pagos.base))
        .bearer_auth("")
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status(), 404, "no admin API without a token");
    let log = pagos.kill_and_read_log();
    let warning = log
        .lines()
        .find(|line| line.contains("PAGOS__RELAY__RETRY_SHEDULE"))
        .unwrap_or_else(|| panic!("no warning: {log}"));
    assert!(warning.contains("WARN"), "{warning}");
    assert!(!log.contains(SECRET), "the signing secret never appears");
}

#[test]
fn the_sandbox_port_may_come_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let file = dir.path().join("pagos.toml");
    std::fs::write(&file, format!("[sandbox]\nport = {port}\n")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_pagos"))
        .arg("--sandbox")
        .current_dir(dir.path())
        .env("PAGOS_CONFIG", &file)
        .env("PAGOS__SERVER__HOST", "127.0.0.1")
        .env("PAGOS__SERVER__PORT", "0")
        .env(
            "PAGOS__DATABASE__URL",
            format!("sqlite://{}/p.db?mode=rwc", dir.path().display()),
        )
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let listening = loop {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(listening, "the simulator listens on the file's port {port}");
}

#[actix_web::test]
async fn the_store_connects_to_postgresql_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let with_tls = format!(
        "{}?sslmode=require",
        fresh_database(Db::Postgres, &dir).await
    );
    let store = pagos::store::Store::connect(&with_tls.clone().into())
        .await
        .expect("PostgreSQL over TLS (sslmode=require)");
    let row = sqlx::query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(&sqlx::PgPool::connect(&with_tls).await.unwrap())
        .await
        .unwrap();
    use sqlx::Row;
    assert!(row.get::<bool, _>("ssl"), "the session is encrypted");
    store.close().await;
}

#[test]
fn a_bad_storefront_entry_is_named_and_its_secrets_never_shown() {
    const GOOD: &str = "whsec_bm9ydGUtc2lnbmluZy1zZWNyZXQtMDEyMzQ1Njc4OWFi";
    let entry = |name: &str, key: &str, secret: &str, hosts: &str| {
        format!(
            "[[storefronts]]\nname = \"{name}\"\napi_keys = [\"{key}\"]\n\
             signing_secrets = [\"{secret}\"]\n{hosts}\n"
        )
    };
    let cases: &[(String, &str, &str)] = &[
        (
            entry("sur", "sk_sur_1", "whsec_c2hvcnQ=", ""),
            "storefronts[sur].signing_secrets[0]",
            "c2hvcnQ",
        ),
        (
            entry("sur", "sk_sur_1", "not-a-whsec-secret", ""),
            "storefronts[sur].signing_secrets[0]",
            "not-a-whsec-secret",
        ),
        (
            entry("norte", "sk_shared_1", GOOD, "") + &entry("sur", "sk_shared_1", GOOD, ""),
            "storefronts[sur].api_keys",
            "sk_shared_1",
        ),
        (
            entry("sur", "sk_a", GOOD, "") + &entry("sur", "sk_b", GOOD, ""),
            "storefronts[sur].name",
            GOOD,
        ),
        (
            entry("Sur Norte", "sk_c", GOOD, ""),
            "storefronts[Sur Norte].name",
            GOOD,
        ),
        (
            entry(
                "sur",
                "sk_d",
                GOOD,
                "notification_hosts = [\"*.*.sur.example\"]",
            ),
            "storefronts[sur].notification_hosts",
            GOOD,
        ),
        (
            "[[storefronts]]\nname = \"sur\"\nsigning_secrets = [\"x\"]\n".to_owned(),
            "storefronts[sur].api_keys",
            GOOD,
        ),
    ];
    for (text, field, never_shown) in cases {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pagos.toml");
        std::fs::write(&file, text).unwrap();
        let output = run(&[("PAGOS_CONFIG", file.to_str().unwrap())], &[]);
        refused(&output, field);
        let everything = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(!everything.contains(never_shown), "{everything}");
        assert!(!everything.contains(GOOD), "{everything}");
    }
}
