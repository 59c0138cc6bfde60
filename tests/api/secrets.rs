//! The storefront's Conekta key never reaches a log line, an error body or the store.

use crate::fake_conekta::Reply;
use crate::helpers::{captured_logs, seed_create, spawn_app, Db};
use serde_json::json;

const SECRET: &str = "key_SECRETO9f8e7d6c5b4a";

#[actix_web::test]
async fn the_key_is_never_logged_answered_or_stored() {
    let app = spawn_app(Db::Sqlite).await;
    let mut request = seed_create("secret-1");
    request["secret"] = json!(SECRET);

    assert_eq!(app.post_pagos(&request).await.status, 200);
    // Conekta echoing the key in an error must not carry it to the storefront.
    app.conekta.reply_next(Reply::conekta_error(
        401,
        "authentication_error",
        "conekta.errors.authentication",
        &format!("bad key {SECRET}"),
    ));
    let mut refused = request.clone();
    refused["reference_id"] = json!("secret-2");
    let answer = app.post_pagos(&refused).await;
    assert_eq!(answer.status, 401);
    assert!(!answer.text.contains(SECRET), "{}", answer.text);
    // A bad request that carries the key, and a timeout.
    let mut invalid = request.clone();
    invalid["amount"] = json!("-1");
    assert_eq!(app.post_pagos(&invalid).await.status, 422);

    let logs = captured_logs();
    assert!(logs.contains("order created"), "logs were captured");
    assert!(logs.contains("secret-1"));
    assert!(!logs.contains(SECRET), "the key leaked into the logs");
    assert!(!logs.contains("SECRETO9f8e7d6c5b4a"));

    // The main file and its write-ahead log: together they are everything SQLite wrote.
    let path = app
        .database_url
        .trim_start_matches("sqlite://")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
    let database = String::from_utf8_lossy(&bytes);
    assert!(database.contains("secret-1"), "the store holds the request");
    assert!(
        !database.contains("SECRETO9f8e7d6c5b4a"),
        "the key leaked into the store"
    );
}
