//! `pagos deliveries …` run as an operator would: the real binary against a running pagos,
//! reading its tables, JSON and exit codes (0 done, 1 refused, 2 wrong command or setting,
//! 3 unreachable).

use crate::conekta_events::order_event;
use crate::helpers::{spawn_app, Db, ADMIN_TOKEN};
use crate::receiver::{Answer, Receiver};
use crate::run_pagos::{pagos, Run};
use serde_json::Value;

#[actix_web::test]
async fn an_operator_lists_shows_retries_and_recovers_from_a_terminal() {
    let app = spawn_app(Db::Sqlite).await;
    let (up, down) = (Receiver::start(), Receiver::start());
    down.answer_always(Answer::Status(503));
    let delivered_order = app.create_order("cli-1", &up.url).await;
    let failing_order = app.create_order("cli-2", &down.url).await;
    for order in [&delivered_order, &failing_order] {
        let event = order_event("order.paid", order, Some("paid"), 100000);
        assert_eq!(app.post_webhook(&event).await.status, 200);
    }
    let failed = app.wait_deliveries("failed", 1).await;
    let delivered = app.wait_deliveries("delivered", 1).await;
    let (failed_id, delivered_id) = (
        failed[0]["id"].as_str().unwrap(),
        delivered[0]["id"].as_str().unwrap(),
    );
    let url = app.address.as_str();

    let all = admin_cli(url, &["deliveries", "list"]).await;
    assert_eq!(all.code, 0, "{}", all.err);
    let header = all.out.lines().next().unwrap();
    for column in [
        "ID",
        "STATUS",
        "TYPE",
        "REFERENCE",
        "TARGET",
        "ATTEMPTS",
        "LAST ANSWER",
    ] {
        assert!(header.contains(column), "{header}");
    }
    assert!(
        all.out.contains(failed_id) && all.out.contains(delivered_id),
        "{}",
        all.out
    );
    let failed_row = all.out.lines().find(|l| l.starts_with(failed_id)).unwrap();
    assert!(
        failed_row.contains("failed") && failed_row.contains("503"),
        "{failed_row}"
    );

    let only_failed = admin_cli(url, &["deliveries", "list", "--status", "failed"]).await;
    assert!(only_failed.out.contains(failed_id) && !only_failed.out.contains(delivered_id));
    let by_reference = admin_cli(url, &["deliveries", "list", "--reference-id", "cli-1"]).await;
    assert!(by_reference.out.contains(delivered_id) && !by_reference.out.contains(failed_id));
    let none = admin_cli(url, &["deliveries", "list", "--reference-id", "nobody"]).await;
    assert_eq!((none.code, none.out.trim()), (0, "no notifications match"));
    let as_json = admin_cli(url, &["deliveries", "list", "--json"]).await;
    let parsed: Value = serde_json::from_str(&as_json.out).expect("--json prints JSON");
    assert_eq!(parsed["deliveries"].as_array().unwrap().len(), 2);

    let shown = admin_cli(url, &["deliveries", "show", failed_id]).await;
    assert_eq!(shown.code, 0, "{}", shown.err);
    assert!(shown.out.contains("status       failed"), "{}", shown.out);
    assert!(
        shown.out.contains("ATTEMPT") && shown.out.matches(" 503").count() >= 4,
        "{}",
        shown.out
    );

    // Sending a delivered notification again; an unknown id is the server's 404 (exit 1).
    let again = admin_cli(url, &["deliveries", "retry", delivered_id]).await;
    assert_eq!(again.code, 0, "{}", again.err);
    assert!(again.out.contains("back in the queue"));
    let unknown = admin_cli(url, &["deliveries", "retry", "msg_nope"]).await;
    assert_eq!(unknown.code, 1);
    assert!(unknown.err.contains("404"), "{}", unknown.err);

    // Recover: a span back from now; a since that means nothing is the command's fault.
    let recovered = admin_cli(url, &["deliveries", "recover", "--since", "2h"]).await;
    assert_eq!(recovered.code, 0, "{}", recovered.err);
    assert_eq!(
        recovered.out.trim(),
        "1 failed notification back in the queue"
    );
    let soon = admin_cli(url, &["deliveries", "recover", "--since", "soon"]).await;
    assert_eq!(soon.code, 2);
    assert!(soon.err.contains("--since `soon`"), "{}", soon.err);

    // The token: missing is the operator's to fix (2); wrong is the server's no (1), never shown.
    let no_token = pagos(&["deliveries", "list", "--url", url], &[]).await;
    assert_eq!(no_token.code, 2);
    assert!(no_token.err.contains("PAGOS__ADMIN__TOKEN is not set"));
    let wrong = pagos(
        &["deliveries", "list", "--url", url],
        &[("PAGOS__ADMIN__TOKEN", "not-the-token")],
    )
    .await;
    assert_eq!(wrong.code, 1);
    assert!(
        wrong.err.contains("401") && !wrong.err.contains("not-the-token"),
        "{}",
        wrong.err
    );
}

#[actix_web::test]
async fn an_unreachable_pagos_and_a_wrong_command_have_their_own_exit_codes() {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let down = pagos(
        &["deliveries", "list", "--url", &closed],
        &[("PAGOS__ADMIN__TOKEN", ADMIN_TOKEN)],
    )
    .await;
    assert_eq!(down.code, 3, "{}", down.err);
    assert!(down.err.contains("cannot reach"), "{}", down.err);
    let misspelt = pagos(&["deliveries", "list", "--reference_id", "x"], &[]).await;
    assert_eq!(misspelt.code, 2);
    assert!(
        misspelt.err.contains("unknown option --reference_id"),
        "{}",
        misspelt.err
    );
    let version = pagos(&["--version"], &[]).await;
    assert_eq!(version.code, 0);
    assert_eq!(
        version.out.trim(),
        format!("pagos {}", env!("CARGO_PKG_VERSION"))
    );
}

/// `pagos ARGS --url URL` with the admin token.
async fn admin_cli(url: &str, args: &[&str]) -> Run {
    let mut all = args.to_vec();
    all.extend(["--url", url]);
    pagos(&all, &[("PAGOS__ADMIN__TOKEN", ADMIN_TOKEN)]).await
}
