//! Logs and traces. Logs are JSON lines (or, with `PAGOS__LOG__FORMAT=text`, readable lines for a
//! terminal) carrying the trace and span ids of the request they belong to; spans go to an OTLP collector when the standard `OTEL_EXPORTER_OTLP_*` variables
//! name one. W3C `traceparent` is read from callers and passed on to Conekta and storefronts.
//! Secrets stay out by their types (`ProviderSecret` and friends never print), not by filters.

use crate::settings::LogFormat;
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::{TraceContextExt, TracerProvider as _};
use opentelemetry::{global, Context};
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::layer::{Layer as _, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

mod json_line;

/// Flushes exported spans when dropped at the end of `main`.
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        let _ = self.provider.shutdown();
    }
}

/// Installs the global subscriber writing lines in `format` to `writer`; level from `RUST_LOG`,
/// else `default_filter`. Returns `None` if one was already installed (as in tests).
pub fn init<W>(writer: W, default_filter: &str, format: LogFormat) -> Option<TelemetryGuard>
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    global::set_text_map_propagator(TraceContextPropagator::new());
    let mut resource = Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("pagos");
    }
    let mut provider = SdkTracerProvider::builder().with_resource(resource.build());
    let exporting = [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
    if exporting {
        match opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .build()
        {
            Ok(exporter) => provider = provider.with_batch_exporter(exporter),
            Err(error) => eprintln!("OTLP trace export disabled: {error}"),
        }
    }
    // Without an exporter spans still get ids, for the logs and for traceparent.
    let provider = provider.build();
    global::set_tracer_provider(provider.clone());
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let subscriber = tracing_subscriber::registry()
        .with(filter)
        .with(
            // No code location, thread or busy/idle attributes: seven more per span, held
            // while it lives (a create's spans live as long as it waits on Conekta); busy/idle
            // would also read the clock at every poll of every instrumented future.
            tracing_opentelemetry::layer()
                .with_location(false)
                .with_threads(false)
                .with_tracked_inactivity(false)
                .with_tracer(provider.tracer("pagos"))
                // Spans, and only the events that mark a span failed (warnings and errors):
                // an event is a log line, which carries its span's ids, and a copy kept in the
                // span cost every INFO line a second rendering of its fields.
                .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
                    meta.is_span() || *meta.level() <= tracing::Level::WARN
                })),
        )
        .with(
            tracing_subscriber::fmt::layer()
                .fmt_fields(NoSpanFields)
                .event_format(Lines(format))
                .with_writer(writer),
        );
    tracing::subscriber::set_global_default(subscriber).ok()?;
    let _ = tracing_log::LogTracer::init();
    Some(TelemetryGuard { provider })
}

/// The current span's context as W3C headers (`traceparent`, maybe `tracestate`).
pub fn trace_headers() -> HashMap<String, String> {
    let mut headers = HashMap::new();
    TraceContextPropagator::new().inject_context(&tracing::Span::current().context(), &mut headers);
    headers
}

/// The caller's trace context, from the W3C headers of its request.
pub fn caller_context(headers: &actix_web::http::header::HeaderMap) -> Context {
    struct Headers<'a>(&'a actix_web::http::header::HeaderMap);
    impl Extractor for Headers<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|value| value.to_str().ok())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(|name| name.as_str()).collect()
        }
    }
    TraceContextPropagator::new().extract(&Headers(headers))
}

/// A trace context from W3C headers held in a map (as stored with a notification).
pub fn context_from(headers: &HashMap<String, String>) -> Context {
    struct Headers<'a>(&'a HashMap<String, String>);
    impl Extractor for Headers<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).map(String::as_str)
        }
        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(String::as_str).collect()
        }
    }
    TraceContextPropagator::new().extract(&Headers(headers))
}

/// Span fields are not written out: a line carries its event's fields and its span's name and
/// ids (`Lines`). The default formatter would render every span's fields into a string kept for
/// the span's life: a request's spans are alive while it waits on Conekta, and 2,000 waiting
/// creates kept megabytes of strings nobody reads.
struct NoSpanFields;

impl<'writer> FormatFields<'writer> for NoSpanFields {
    fn format_fields<R: tracing_subscriber::field::RecordFields>(
        &self,
        _writer: Writer<'writer>,
        _fields: R,
    ) -> fmt::Result {
        Ok(())
    }
}

/// One line per event in either format, with the same content: time (RFC 3339, UTC), level,
/// target, message and fields, the innermost span's name, and the OpenTelemetry trace and span
/// ids when there is a span.
struct Lines(LogFormat);

impl<S, N> FormatEvent<S, N> for Lines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let span = ctx.lookup_current();
        let ids = span.as_ref().and_then(|span| {
            let otel = tracing::dispatcher::get_default(|dispatch| {
                tracing_opentelemetry::get_otel_context(&span.id(), dispatch)
            })?;
            let ids = otel.span().span_context().clone();
            ids.is_valid().then_some(ids)
        });
        if self.0 == LogFormat::Json {
            // The line's own keys; an event field of the same name replaces the first three
            // (a delivery's `target` is the storefront it went to), the span's name and ids
            // replace the event's.
            let event_has = |key: &str| meta.fields().field(key).is_some();
            let mut line = json_line::Line::open(&mut writer)?;
            if !event_has("timestamp") {
                line.display("timestamp", &Timestamp)?;
            }
            for (key, value) in [("level", meta.level().as_str()), ("target", meta.target())] {
                if !event_has(key) {
                    line.string(key, value)?;
                }
            }
            let written_after: &[&str] = match (&span, &ids) {
                (None, _) => &[],
                (Some(_), None) => &["span"],
                (Some(_), Some(_)) => &["span", "trace_id", "span_id"],
            };
            let mut fields = json_line::Fields {
                line: &mut line,
                written_after,
                result: Ok(()),
            };
            event.record(&mut fields);
            fields.result?;
            if let Some(span) = &span {
                line.string("span", span.name())?;
            }
            if let Some(ids) = &ids {
                line.display("trace_id", &ids.trace_id())?;
                line.display("span_id", &ids.span_id())?;
            }
            return line.close();
        }
        let mut fields = Fields(Vec::new());
        event.record(&mut fields);
        let mut message = String::new();
        fields.0.retain(|(name, value)| {
            if name != "message" {
                return true;
            }
            message = value
                .as_str()
                .map_or_else(|| value.to_string(), str::to_owned);
            false
        });
        write!(writer, "{Timestamp} {:<5} {message}", meta.level())?;
        for (name, value) in &fields.0 {
            write!(writer, " {name}={}", text_value(value))?;
        }
        if let Some(ids) = &ids {
            write!(writer, " trace_id={}", ids.trace_id())?;
        }
        writeln!(writer)
    }
}

/// A field's value in a text line: bare when it is one word, quoted otherwise.
fn text_value(value: &Value) -> String {
    match value {
        Value::String(text) if !text.is_empty() && !text.contains([' ', '"', '=']) => text.clone(),
        Value::String(text) => format!("{text:?}"),
        other => other.to_string(),
    }
}

/// Now, as RFC 3339 in UTC with milliseconds: `2026-11-23T22:44:14.123Z`.
struct Timestamp;

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let now = time::OffsetDateTime::now_utc();
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second(),
            now.millisecond()
        )
    }
}

/// An event's fields in the order they were written.
struct Fields(Vec<(String, Value)>);

impl Fields {
    fn put(&mut self, field: &Field, value: Value) {
        self.0.push((field.name().to_owned(), value));
    }
}

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, Value::Bool(value));
    }
}
