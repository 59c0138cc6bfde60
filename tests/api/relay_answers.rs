//! How the relay reads a storefront's answer: the status line decides, whatever the body does.

use crate::conekta_events::order_event;
use crate::helpers::{spawn_app, Db};
use crate::on_both_stores;
use crate::receiver::{Answer, Receiver};
use std::time::Duration;

on_both_stores!(
    a_2xx_whose_body_drips_is_delivered_at_the_first_attempt,
    |db: Db| async move {
        let app = spawn_app(db).await;
        let receiver = Receiver::start();
        // 200 at once, then a body that takes 3.6 s: longer than the relay's 2 s timeout.
        receiver.answer_always(Answer::Drip {
            status: 200,
            every_ms: 300,
            bytes: 13,
        });
        for reference in ["drip-1", "drip-2"] {
            let order_id = app.create_order(reference, &receiver.url).await;
            let paid = order_event("order.paid", &order_id, Some("paid"), 100000);
            assert_eq!(app.post_webhook(&paid).await.status, 200);
        }

        let delivered = app.wait_deliveries("delivered", 2).await;
        for view in &delivered {
            assert_eq!(view["attempts"], 1, "{view}");
            assert_eq!(view["last_response_code"], 200, "{view}");
            let log = view["attempt_log"].as_array().unwrap();
            assert_eq!(log.len(), 1, "{view}");
            assert_eq!(log[0]["response_code"], 200, "{view}");
            assert!(log[0]["error"].is_null(), "{view}");
        }
        // Past the relay's timeout and the bodies' end: still one POST per notification.
        actix_web::rt::time::sleep(Duration::from_millis(4_000)).await;
        assert_eq!(receiver.received().len(), 2);
        assert!(app.deliveries("failed").await.is_empty());
        assert!(app.deliveries("pending").await.is_empty());
    }
);
