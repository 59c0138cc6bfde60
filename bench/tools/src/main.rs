//! pagos benchmark tooling, one binary with subcommands (loopback only):
//!
//! - `load`: HTTP/1.1 load generator. Closed loop (`--conns C`, as fast as answers come) or open
//!   loop (`--rate R`: request i is due at start + i/R; its latency runs from when it was due, so
//!   a stall is not hidden by coordinated omission). Bodies come from a template (`{n}` is a
//!   per-request counter, `{rport}` cycles through `--rports base:count`) or from a file of
//!   pre-signed webhooks (`digest<TAB>body` lines). `--url` may name several replicas, comma
//!   separated: connection k goes to the k-th in turn (as a Service spreads connections), and
//!   all of them take the next request from one sequence. Prints one `key=value` line.
//! - `fake-conekta`: answers `POST /orders` with a canned real-shaped order (id derived from
//!   `metadata.reference_id`), after `--delay-ms`.
//! - `receivers`: notification endpoints on several ports (some may hang, all may answer after
//!   `--delay-ms`), with a control port reporting how many each got and when (at once, or once
//!   they have counted `?until=N` POSTs in all, waiting at most `wait_ms`).
//! - `sign`: writes `order.paid` events about `ord_<prefix><i>`, signed as Conekta signs them.
//! - `wait-ready`: polls a URL until 200, printing ms since a given start time.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::net::{TcpListener, TcpStream};

type Args = HashMap<String, String>;

fn parse_args(rest: &[String]) -> Args {
    let mut args = HashMap::new();
    let mut i = 0;
    while i < rest.len() {
        let key = rest[i].trim_start_matches("--").to_owned();
        let value = rest.get(i + 1).cloned().unwrap_or_default();
        args.insert(key, value);
        i += 2;
    }
    args
}

fn arg<T: std::str::FromStr>(args: &Args, name: &str, default: T) -> T {
    args.get(name)
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("--{name}: cannot parse {v:?}"))
        })
        .unwrap_or(default)
}

fn unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn main() {
    let argv: Vec<String> = std::env::args().collect();
    let Some(cmd) = argv.get(1) else {
        eprintln!("usage: benchtool load|fake-conekta|receivers|sign|wait-ready --key value ...");
        std::process::exit(2);
    };
    let args = parse_args(&argv[2..]);
    let threads = arg(&args, "threads", 2usize);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()
        .unwrap();
    let code = match cmd.as_str() {
        "load" => rt.block_on(load(args)),
        "fake-conekta" => rt.block_on(fake_conekta(args)),
        "receivers" => rt.block_on(receivers(args)),
        "sign" => sign(args),
        "wait-ready" => rt.block_on(wait_ready(args)),
        other => {
            eprintln!("unknown subcommand {other}");
            2
        }
    };
    std::process::exit(code);
}

// ---------------------------------------------------------------- load generator

enum Source {
    Template {
        parts: Vec<Part>,
        start: u64,
        rport_base: u64,
        rport_count: u64,
    },
    Signed(Vec<(String, Bytes)>),
}

enum Part {
    Text(String),
    N,
    RPort,
}

fn compile_template(text: &str) -> Vec<Part> {
    let mut parts = Vec::new();
    let mut rest = text;
    loop {
        let next = [("{n}", 0), ("{rport}", 1)]
            .iter()
            .filter_map(|(pat, kind)| rest.find(pat).map(|at| (at, *pat, *kind)))
            .min_by_key(|(at, _, _)| *at);
        match next {
            None => {
                parts.push(Part::Text(rest.to_owned()));
                return parts;
            }
            Some((at, pat, kind)) => {
                parts.push(Part::Text(rest[..at].to_owned()));
                parts.push(if kind == 0 { Part::N } else { Part::RPort });
                rest = &rest[at + pat.len()..];
            }
        }
    }
}

impl Source {
    /// The i-th request's digest header (if any) and body; None once a finite source is used up.
    fn body(&self, i: u64) -> Option<(Option<String>, Bytes)> {
        match self {
            Source::Template {
                parts,
                start,
                rport_base,
                rport_count,
            } => {
                let n = start + i;
                let mut out = String::with_capacity(512);
                for part in parts {
                    match part {
                        Part::Text(t) => out.push_str(t),
                        Part::N => out.push_str(&n.to_string()),
                        Part::RPort => {
                            out.push_str(&(rport_base + n % rport_count.max(&1)).to_string())
                        }
                    }
                }
                Some((None, Bytes::from(out)))
            }
            Source::Signed(events) => events
                .get(i as usize)
                .map(|(digest, body)| (Some(digest.clone()), body.clone())),
        }
    }
}

/// Where one connection sends its requests.
struct Target {
    /// `127.0.0.1:port`, also the `Host` header.
    addr: String,
    path: String,
}

impl Target {
    fn parse(url: &str) -> Target {
        let rest = url.strip_prefix("http://").expect("http:// URL");
        let (addr, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        assert!(
            addr.starts_with("127.0.0.1:"),
            "only 127.0.0.1 may be targeted"
        );
        Target {
            addr: addr.to_owned(),
            path: if path.is_empty() { "/" } else { path }.to_owned(),
        }
    }
}

struct Shared {
    source: Source,
    next: AtomicU64,
    max_requests: u64,
    deadline: Instant,
    targets: Vec<Target>,
    errors: AtomicU64,
    error_sample: std::sync::Mutex<Option<String>>,
}

impl Shared {
    fn note_error(&self, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut sample = self.error_sample.lock().unwrap();
        if sample.is_none() {
            *sample = Some(what);
        }
    }
}

type Conn = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(addr: &str) -> std::io::Result<Conn> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// One request on a (re)connected connection; Ok(true) when 2xx.
async fn send_one(
    shared: &Shared,
    target: &Target,
    conn: &mut Option<Conn>,
    i: u64,
) -> Option<bool> {
    let (digest, body) = shared.source.body(i)?;
    for _attempt in 0..2 {
        if conn.as_ref().is_none_or(|c| c.is_closed()) {
            match connect(&target.addr).await {
                Ok(c) => *conn = Some(c),
                Err(e) => {
                    shared.note_error(format!("connect: {e}"));
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    return Some(false);
                }
            }
        }
        let sender = conn.as_mut().unwrap();
        if sender.ready().await.is_err() {
            *conn = None;
            continue;
        }
        let mut request = Request::post(target.path.as_str())
            .header("host", target.addr.as_str())
            .header("content-type", "application/json");
        if let Some(d) = &digest {
            request = request.header("digest", d.as_str());
        }
        let request = request.body(Full::new(body.clone())).unwrap();
        match sender.send_request(request).await {
            Ok(response) => {
                let status = response.status();
                let bytes = response.into_body().collect().await;
                if !status.is_success() {
                    let text = bytes
                        .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
                        .unwrap_or_default();
                    shared.note_error(format!(
                        "status {status}: {}",
                        text.chars().take(300).collect::<String>()
                    ));
                    return Some(false);
                }
                return Some(true);
            }
            Err(e) => {
                *conn = None;
                // A keep-alive connection closed under us: retry once on a fresh one.
                if e.is_canceled() || e.is_incomplete_message() {
                    continue;
                }
                shared.note_error(format!("request: {e}"));
                return Some(false);
            }
        }
    }
    shared.note_error("connection closed twice".into());
    Some(false)
}

fn new_hist() -> hdrhistogram::Histogram<u64> {
    hdrhistogram::Histogram::new_with_bounds(1, 120_000_000, 3).unwrap()
}

async fn load(args: Args) -> i32 {
    let targets: Vec<Target> = args
        .get("url")
        .expect("--url http://127.0.0.1:port/path[,http://…]")
        .split(',')
        .map(Target::parse)
        .collect();
    let conns = arg(&args, "conns", 64usize);
    let rate = arg(&args, "rate", 0f64);
    let duration = Duration::from_secs_f64(arg(&args, "duration", 10f64));
    let max_requests = arg(&args, "requests", u64::MAX);
    let source = if let Some(file) = args.get("signed") {
        let text = std::fs::read_to_string(file).expect("read --signed file");
        Source::Signed(
            text.lines()
                .filter_map(|line| line.split_once('\t'))
                .map(|(d, b)| (d.to_owned(), Bytes::from(b.to_owned())))
                .collect(),
        )
    } else {
        let template = args.get("template").expect("--template or --signed");
        let (base, count) = args
            .get("rports")
            .and_then(|r| r.split_once(':'))
            .map(|(b, c)| (b.parse().unwrap(), c.parse().unwrap()))
            .unwrap_or((0, 1));
        Source::Template {
            parts: compile_template(template),
            start: arg(&args, "start", 0u64),
            rport_base: base,
            rport_count: count,
        }
    };
    let shared = Arc::new(Shared {
        source,
        next: AtomicU64::new(0),
        max_requests,
        deadline: Instant::now() + duration,
        targets,
        errors: AtomicU64::new(0),
        error_sample: std::sync::Mutex::new(None),
    });
    let started = Instant::now();
    let mut workers = Vec::new();
    // Open loop: a ticket per due request, carrying when it was due.
    let (tx, rx) = tokio::sync::mpsc::channel::<(u64, Instant)>(1 << 16);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    for k in 0..conns {
        let shared = shared.clone();
        let rx = rx.clone();
        workers.push(tokio::spawn(async move {
            let target = &shared.targets[k % shared.targets.len()];
            let mut hist = new_hist();
            let mut ok = 0u64;
            let mut conn: Option<Conn> = None;
            loop {
                let (i, due) = if rate > 0.0 {
                    let ticket = rx.lock().await.recv().await;
                    match ticket {
                        Some(t) => t,
                        None => break,
                    }
                } else {
                    if Instant::now() >= shared.deadline {
                        break;
                    }
                    let i = shared.next.fetch_add(1, Ordering::Relaxed);
                    if i >= shared.max_requests {
                        break;
                    }
                    (i, Instant::now())
                };
                match send_one(&shared, target, &mut conn, i).await {
                    None => break,
                    Some(true) => {
                        ok += 1;
                        let us = due.elapsed().as_micros().max(1) as u64;
                        hist.saturating_record(us);
                    }
                    Some(false) => {}
                }
            }
            (hist, ok)
        }));
    }
    if rate > 0.0 {
        let interval = Duration::from_secs_f64(1.0 / rate);
        let mut i = 0u64;
        while i < max_requests {
            let due = started + interval.mul_f64(i as f64);
            if due >= shared.deadline {
                break;
            }
            tokio::time::sleep_until(due.into()).await;
            // Latency runs from when the request was handed out: the timer's own lateness
            // (up to a millisecond) is not the server's, but a wait for a free connection is.
            if tx.send((i, Instant::now())).await.is_err() {
                break;
            }
            i += 1;
        }
        drop(tx);
    }
    let mut hist = new_hist();
    let mut ok = 0;
    for w in workers {
        let (h, n) = w.await.unwrap();
        hist.add(&h).unwrap();
        ok += n;
    }
    let secs = started.elapsed().as_secs_f64();
    let errors = shared.errors.load(Ordering::Relaxed);
    let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "ok={ok} errors={errors} secs={secs:.3} rps={:.1} p50_ms={:.3} p90_ms={:.3} p99_ms={:.3} max_ms={:.3}",
        ok as f64 / secs,
        ms(0.5),
        ms(0.9),
        ms(0.99),
        hist.max() as f64 / 1000.0
    );
    if let Some(sample) = shared.error_sample.lock().unwrap().as_ref() {
        eprintln!("first error: {sample}");
    }
    0
}

// ---------------------------------------------------------------- servers

async fn serve<F, Fut>(port: u16, handler: F)
where
    F: Fn(Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Response<Full<Bytes>>> + Send + 'static,
{
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| panic!("bind 127.0.0.1:{port}: {e}"));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let handler = handler.clone();
                async move { Ok::<_, std::convert::Infallible>(handler(req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn json_response(status: u16, body: String) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json; charset=utf-8")
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

/// The reference_id the storefront sent, found without a full parse.
fn reference_of(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let key = "\"reference_id\":\"";
    text.find(key)
        .and_then(|at| {
            let rest = &text[at + key.len()..];
            rest.find('"').map(|end| rest[..end].to_owned())
        })
        .unwrap_or_else(|| "none".into())
}

/// `expired`: the checkout's `expires_at` is already past (Conekta's answer to an order whose
/// checkout window closed, or a clock running ahead), which must cost pagos nothing more.
fn canned_order(reference: &str, now: u64, expired: bool) -> String {
    // Shaped like seed 004's answer (a HostedPayment order); ids derive from the reference.
    format!(
        r#"{{"livemode":false,"amount":100000,"currency":"MXN","amount_refunded":0,"customer_info":{{"email":"andres@example.com","name":"andres jaro","phone":"+5215555555555","corporate":false,"customer_id":"cus_bench","object":"customer_info"}},"channel":{{"segment":"Checkout","checkout_request_id":"chk_{r}","checkout_request_type":"HostedPayment","id":"channel_{r}"}},"checkout":{{"id":"chk_{r}","name":"ord-{r}","livemode":false,"success_url":"https://shop.example/conekta/conekta_order","failure_url":"https://shop.example/conekta/conekta_order","status":"Issued","type":"HostedPayment","recurrent":false,"starts_at":{now},"expires_at":{exp},"allowed_payment_methods":["cash","card","bank_transfer"],"object":"checkout","slug":"chk_{r}","url":"https://pay.conekta.com/checkout/chk_{r}"}},"object":"order","id":"ord_{r}","metadata":{{"reference_id":"{r}"}},"is_refundable":false,"created_at":{now},"updated_at":{now},"line_items":{{"object":"list","has_more":false,"total":1,"data":[{{"name":"Orden {r}","unit_price":100000,"quantity":1,"object":"line_item","id":"line_item_{r}","parent_id":"ord_{r}"}}]}},"payment_status":null}}"#,
        r = reference,
        now = now,
        exp = if expired { now - 60 } else { now + 259_200 }
    )
}

async fn fake_conekta(args: Args) -> i32 {
    let port = arg(&args, "port", 18081u16);
    let delay = Duration::from_millis(arg(&args, "delay-ms", 0u64));
    let expired = arg(&args, "expired-checkout", false);
    serve(port, move |req: Request<Incoming>| async move {
        let path = req.uri().path().to_owned();
        let post = req.method() == hyper::Method::POST;
        let body = req
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        if post && path == "/orders" {
            json_response(
                200,
                canned_order(&reference_of(&body), unix_ms() / 1000, expired),
            )
        } else {
            json_response(
                404,
                r#"{"object":"error","type":"resource_not_found_error"}"#.into(),
            )
        }
    })
    .await;
    0
}

struct Tally {
    count: AtomicU64,
    first_ms: AtomicU64,
    last_ms: AtomicU64,
}

async fn receivers(args: Args) -> i32 {
    let base = arg(&args, "base", 18100u16);
    let count = arg(&args, "count", 1usize);
    let hang: Vec<u16> = args
        .get("hang")
        .map(|h| h.split(',').filter_map(|p| p.parse().ok()).collect())
        .unwrap_or_default();
    let control = arg(&args, "control", 18099u16);
    let delay = Duration::from_millis(arg(&args, "delay-ms", 0u64));
    let tallies: Arc<Vec<Tally>> = Arc::new(
        (0..count)
            .map(|_| Tally {
                count: AtomicU64::new(0),
                first_ms: AtomicU64::new(0),
                last_ms: AtomicU64::new(0),
            })
            .collect(),
    );
    let hanging = Arc::new(AtomicUsize::new(0));
    for k in 0..count {
        let port = base + k as u16;
        let hangs = hang.contains(&port);
        let tallies = tallies.clone();
        let hanging = hanging.clone();
        tokio::spawn(serve(port, move |req: Request<Incoming>| {
            let tallies = tallies.clone();
            let hanging = hanging.clone();
            async move {
                let signed = req.headers().contains_key("webhook-signature");
                let _ = req.into_body().collect().await;
                if hangs {
                    hanging.fetch_add(1, Ordering::Relaxed);
                    std::future::pending::<()>().await;
                }
                if !signed {
                    return json_response(400, "{}".into());
                }
                // Counted on arrival: with --delay-ms, what is in flight is already counted.
                let tally = &tallies[k];
                let now = unix_ms();
                let _ =
                    tally
                        .first_ms
                        .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
                tally.last_ms.fetch_max(now, Ordering::Relaxed);
                tally.count.fetch_add(1, Ordering::Relaxed);
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                json_response(200, "{}".into())
            }
        }));
    }
    // Control: one line per receiver port: `port count first_ms last_ms`, then `hanging n`.
    // `?until=N&wait_ms=T` answers once the receivers have counted N POSTs in all, or after T
    // ms: the harness waits on one request instead of polling, which would take CPU from the
    // drain it measures.
    serve(control, move |req: Request<Incoming>| {
        let tallies = tallies.clone();
        let hanging = hanging.clone();
        async move {
            let query = query_pairs(req.uri().query().unwrap_or(""));
            let until: u64 = query.get("until").and_then(|v| v.parse().ok()).unwrap_or(0);
            let wait_ms: u64 = query
                .get("wait_ms")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let deadline = Instant::now() + Duration::from_millis(wait_ms);
            let total = || -> u64 {
                tallies
                    .iter()
                    .map(|t| t.count.load(Ordering::Relaxed))
                    .sum()
            };
            while total() < until && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let mut out = String::new();
            for (k, t) in tallies.iter().enumerate() {
                out.push_str(&format!(
                    "{} {} {} {}\n",
                    base + k as u16,
                    t.count.load(Ordering::Relaxed),
                    t.first_ms.load(Ordering::Relaxed),
                    t.last_ms.load(Ordering::Relaxed)
                ));
            }
            out.push_str(&format!("hanging {}\n", hanging.load(Ordering::Relaxed)));
            Response::new(Full::new(Bytes::from(out)))
        }
    })
    .await;
    0
}

/// A URL's query as name -> value (no percent-decoding: the harness sends digits).
fn query_pairs(query: &str) -> HashMap<&str, &str> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .collect()
}

// ---------------------------------------------------------------- signing, readiness

fn sign(args: Args) -> i32 {
    use base64::Engine;
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::signature::{SignatureEncoding, Signer};
    let key_path = args.get("key").expect("--key private.pem");
    let prefix = args.get("prefix").cloned().unwrap_or_default();
    let count = arg(&args, "count", 1000usize);
    let out = args.get("out").expect("--out file");
    let pem = std::fs::read_to_string(key_path).expect("read key");
    let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new(
        rsa::RsaPrivateKey::from_pkcs8_pem(&pem).expect("PKCS#8 private key"),
    );
    let threads = arg(&args, "threads", 2usize).max(1);
    let started = Instant::now();
    let chunks: Vec<Vec<String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let signer = &signer;
                let prefix = &prefix;
                scope.spawn(move || {
                    (0..count)
                        .filter(|i| i % threads == t)
                        .map(|i| {
                            let order = format!("ord_{prefix}{i}");
                            let body = serde_json::json!({
                                "data": {"object": {
                                    "livemode": false, "amount": 100000, "currency": "MXN",
                                    "payment_status": "paid", "amount_refunded": 0,
                                    "object": "order", "id": order,
                                    "metadata": {"reference_id": format!("{prefix}{i}")},
                                    "created_at": 1689366274, "updated_at": 1689366300},
                                    "previous_attributes": {}},
                                "livemode": false, "webhook_status": "pending",
                                "webhook_logs": [{"id": "webhl_2ygDS9r2uTYyXdB8m",
                                    "url": "https://pagos.example/webhooks/conekta",
                                    "failed_attempts": 0, "last_http_response_status": -1,
                                    "response_data": null, "object": "webhook_log",
                                    "last_attempted_at": 0}],
                                "id": format!("evt{prefix}{i:010}"),
                                "object": "event", "type": "order.paid", "created_at": 1689366300
                            })
                            .to_string();
                            let digest = base64::engine::general_purpose::STANDARD
                                .encode(signer.sign(body.as_bytes()).to_vec());
                            format!("{digest}\t{body}\n")
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut text = String::new();
    for line in chunks.into_iter().flatten() {
        text.push_str(&line);
    }
    std::fs::write(out, text).expect("write --out");
    eprintln!(
        "signed {count} events in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    0
}

async fn wait_ready(args: Args) -> i32 {
    let url = args.get("url").expect("--url");
    let hostport = url
        .strip_prefix("http://")
        .and_then(|r| r.split('/').next())
        .expect("http URL")
        .to_owned();
    let path = url.splitn(4, '/').nth(3).unwrap_or("");
    let since_ns: u128 = arg(&args, "since-ns", 0u128);
    let deadline = Instant::now() + Duration::from_secs_f64(arg(&args, "timeout", 30f64));
    while Instant::now() < deadline {
        if let Ok(mut conn) = connect(&hostport).await {
            let request = Request::get(format!("/{path}"))
                .header("host", hostport.as_str())
                .body(Full::new(Bytes::new()))
                .unwrap();
            if let Ok(response) = conn.send_request(request).await {
                if response.status() == 200 {
                    let now_ns = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .unwrap()
                        .as_nanos();
                    if since_ns > 0 {
                        println!("{:.1}", (now_ns - since_ns) as f64 / 1e6);
                    } else {
                        println!("ready");
                    }
                    return 0;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    eprintln!("{url} not ready in time");
    1
}
