//! Logs for people and for machines: `PAGOS__LOG__FORMAT=text` gives readable lines, `json` one
//! object a line; both carry RFC 3339 times, one access line per request (never a body or a
//! query), a line per delivery attempt naming the notification, and errors as sentences.

use crate::binary::Pagos;
use crate::conekta_events::order_event;
use crate::fake_conekta::FakeConekta;
use crate::helpers::{captured_logs, fresh_database, seed_create, spawn_app, Db};
use crate::receiver::Receiver;
use serde_json::Value;

/// `2026-11-23T22:44:14.123Z`.
fn is_rfc3339_utc(text: &str) -> bool {
    let bytes = text.as_bytes();
    text.len() == 24
        && text.ends_with('Z')
        && bytes[4] == b'-'
        && bytes[10] == b'T'
        && bytes[19] == b'.'
        && time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).is_ok()
}

#[actix_web::test]
async fn text_logs_are_lines_a_person_reads_with_one_per_request() {
    let conekta = FakeConekta::start();
    let dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database(Db::Sqlite, &dir).await;
    let mut pagos = Pagos::start_with(
        &database_url,
        &conekta,
        dir.path().join("log"),
        &[("PAGOS__LOG__FORMAT", "text")],
    )
    .await;
    let http = reqwest::Client::new();
    let created = http
        .post(format!("{}/pagos?debug=1", pagos.base))
        .json(&seed_create("text-log-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    let mut bad = seed_create("text-log-2");
    bad["amount"] = serde_json::json!(0);
    let refused = http
        .post(format!("{}/pagos", pagos.base))
        .json(&bad)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 422);
    let log = pagos.kill_and_read_log();

    assert!(!log.lines().any(|line| line.starts_with('{')), "{log}");
    let access: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" INFO  request "))
        .collect();
    assert_eq!(access.len(), 2, "{log}");
    for (line, status) in access.iter().zip(["200", "422"]) {
        assert!(is_rfc3339_utc(&line[..24]), "{line}");
        let expected =
            format!(" INFO  request method=POST path=/pagos status={status} duration_ms=");
        assert!(line[24..].starts_with(&expected), "{line}");
        assert!(line.contains(" request_id="), "{line}");
        assert!(
            !line.contains("debug=1"),
            "no query in an access line: {line}"
        );
    }
    // The refusal reads as a sentence naming the field, not as a Rust value.
    let refusal = log
        .lines()
        .find(|l| l.contains("422 Invalid request fields"))
        .expect(&log);
    assert!(refusal.contains("amount: "), "{refusal}");
    assert!(!log.contains("Problem {"), "{log}");
    // Never a body, never the key.
    assert!(
        !log.contains("key_xxjg4bsD9nohnMjwaTGytA") && !log.contains("andres"),
        "{log}"
    );
}

#[actix_web::test]
async fn json_logs_carry_rfc3339_times_access_lines_and_each_delivery() {
    let app = spawn_app(Db::Sqlite).await;
    let receiver = Receiver::start();
    let order = app.create_order("json-log-1", &receiver.url).await;
    let event = order_event("order.paid", &order, Some("paid"), 100000);
    assert_eq!(app.post_webhook(&event).await.status, 200);
    let delivered = app.wait_deliveries("delivered", 1).await;
    let id = delivered[0]["id"].as_str().unwrap();

    let logs = captured_logs();
    let lines: Vec<Value> = logs
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    assert!(!lines.is_empty());
    for line in &lines {
        let at = line["timestamp"].as_str().unwrap_or_default();
        assert!(is_rfc3339_utc(at), "{line}");
    }
    let webhook = lines
        .iter()
        .find(|l| l["message"] == "request" && l["path"] == "/webhooks/conekta")
        .expect("an access line for the webhook");
    assert_eq!(
        (webhook["method"].as_str(), webhook["status"].as_i64()),
        (Some("POST"), Some(200))
    );
    assert!(!webhook["request_id"]
        .as_str()
        .unwrap_or_default()
        .is_empty());
    assert!(webhook["duration_ms"]
        .as_str()
        .unwrap()
        .parse::<f64>()
        .is_ok());
    let attempt = lines
        .iter()
        .find(|l| l["message"] == "notification delivered" && l["id"] == id)
        .expect("a line for the delivery");
    let origin = receiver.url.split("/pagos").next().unwrap();
    assert_eq!(attempt["kind"], "order.paid");
    assert_eq!(attempt["target"].as_str(), Some(origin));
    // The receiver answers 204 No Content.
    assert_eq!(
        (attempt["attempt"].as_i64(), attempt["status"].as_i64()),
        (Some(1), Some(204))
    );
}
