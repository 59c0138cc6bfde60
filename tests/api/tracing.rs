//! Traces: an incoming `traceparent` continues through pagos to Conekta, spans are exported
//! over OTLP/HTTP, and log lines carry the trace and span ids.

use crate::binary::Pagos;
use crate::conekta_events::order_event;
use crate::fake_conekta::FakeConekta;
use crate::helpers::{fresh_database, seed_create, Db};
use crate::receiver::Receiver;
use actix_web::{web, App, HttpResponse, HttpServer};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An OTLP/HTTP trace receiver: collects every exported span.
#[derive(Clone, Default)]
struct Collector(Arc<Mutex<Vec<Span>>>);

impl Collector {
    fn start(&self) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let me = self.clone();
        let server = HttpServer::new(move || {
            let me = me.clone();
            App::new().route(
                "/v1/traces",
                web::post().to(move |body: web::Bytes| {
                    let me = me.clone();
                    async move {
                        let request = ExportTraceServiceRequest::decode(body.as_ref()).unwrap();
                        let spans = request
                            .resource_spans
                            .into_iter()
                            .flat_map(|r| r.scope_spans)
                            .flat_map(|s| s.spans);
                        me.0.lock().unwrap().extend(spans);
                        HttpResponse::Ok()
                            .content_type("application/x-protobuf")
                            .finish()
                    }
                }),
            )
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .unwrap()
        .run();
        actix_web::rt::spawn(server);
        url
    }

    async fn wait_for(&self, name: &str) -> Span {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(span) = self.0.lock().unwrap().iter().find(|s| s.name == name) {
                return span.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no span named {name} was exported"
            );
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The span and its exported ancestors, once the oldest ancestor's parent is `caller_span`
    /// (or, after the deadline, as far as it got).
    async fn wait_for_chain(&self, span: &Span, caller_span: &str) -> Vec<Span> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut chain = vec![span.clone()];
            while let Some(parent) = self.by_id(&chain.last().unwrap().parent_span_id) {
                chain.push(parent);
            }
            let reached = hex::encode(&chain.last().unwrap().parent_span_id) == caller_span;
            if reached || Instant::now() >= deadline {
                assert!(
                    reached,
                    "the request span's parent is the caller's: {chain:?}"
                );
                return chain;
            }
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn by_id(&self, id: &[u8]) -> Option<Span> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .find(|s| s.span_id == id)
            .cloned()
    }
}

#[actix_web::test]
async fn an_incoming_traceparent_reaches_conekta_and_the_storefront() {
    let collector = Collector::default();
    let otlp = collector.start();
    let conekta = FakeConekta::start();
    let receiver = Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let database_url = fresh_database(Db::Sqlite, &dir).await;
    let mut pagos = Pagos::start_with(
        &database_url,
        &conekta,
        dir.path().join("pagos.log"),
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", &otlp),
            ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    )
    .await;
    let base = pagos.base.clone();
    let client = reqwest::Client::new();

    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let mut request = seed_create("trace-1");
    request["notification_url"] = serde_json::json!(receiver.url);
    let answer = client
        .post(format!("{base}/pagos"))
        .header("traceparent", format!("00-{trace_id}-{caller_span}-01"))
        .json(&request)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let order: serde_json::Value = answer.json().await.unwrap();

    // The exported chain: caller -> pagos's request span -> ... -> the Conekta call. Spans are
    // exported as they end, the request span last, so wait until the chain reaches the caller.
    let call = collector.wait_for("conekta.call").await;
    assert_eq!(hex::encode(&call.trace_id), trace_id);
    let chain = collector.wait_for_chain(&call, caller_span).await;
    let root = chain.last().unwrap();
    assert!(
        root.name.contains("/pagos"),
        "the request span: {}",
        root.name
    );
    // What the request span records, and what it leaves out (docs/decisions.md).
    let recorded: Vec<&str> = root.attributes.iter().map(|a| a.key.as_str()).collect();
    for kept in [
        "http.method",
        "http.route",
        "http.status_code",
        "request_id",
    ] {
        assert!(recorded.contains(&kept), "{kept} missing: {recorded:?}");
    }
    for left_out in [
        "http.user_agent",
        "http.client_ip",
        "http.target",
        "busy_ns",
    ] {
        assert!(
            !recorded.contains(&left_out),
            "{left_out} kept: {recorded:?}"
        );
    }
    for span in &chain {
        for attribute in &span.attributes {
            let text = format!("{:?}", attribute.value);
            assert!(
                !text.contains("key_xxjg4bsD9nohnMjwaTGytA"),
                "a secret in span attributes"
            );
        }
    }
    // Conekta was told the same trace, with the call's span as parent.
    let sent = conekta.orders_received().pop().unwrap();
    assert_eq!(
        sent.header("traceparent").unwrap(),
        format!("00-{trace_id}-{}-01", hex::encode(&call.span_id))
    );

    // A notification carries the trace of the webhook that caused it.
    let order_id = order["id"].as_str().unwrap();
    let event = order_event("order.paid", order_id, Some("paid"), 100000);
    let body = event.to_string();
    let webhook_trace = "0af7651916cd43dd8448eb211c80319c";
    let acknowledged = client
        .post(format!("{base}/webhooks/conekta"))
        .header("digest", crate::conekta_events::digest(body.as_bytes()))
        .header(
            "traceparent",
            format!("00-{webhook_trace}-b7ad6b7169203331-01"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(acknowledged.status(), 200);
    let delivered = receiver.wait_for(1, Duration::from_secs(15)).await;
    assert!(
        delivered[0].header("traceparent").contains(webhook_trace),
        "{:?}",
        delivered[0].headers
    );
    let attempt = collector.wait_for("relay.attempt").await;
    assert_eq!(hex::encode(&attempt.trace_id), webhook_trace);

    // Log lines written while serving the request name its trace and span.
    let logs = pagos.kill_and_read_log();
    let traced: Vec<serde_json::Value> = logs
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|l: &serde_json::Value| l["trace_id"] == trace_id)
        .collect();
    assert!(
        !traced.is_empty(),
        "no log line carries the trace id:\n{logs}"
    );
    assert!(traced
        .iter()
        .all(|l| l["span_id"].as_str().is_some_and(|s| s.len() == 16)));
    assert!(!logs.contains("key_xxjg4bsD9nohnMjwaTGytA"));
}
