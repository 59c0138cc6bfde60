//! One delivery attempt over HTTP: the signed POST, and how the storefront's answer is read.
//! The status line decides; the body only matters for reusing the connection.

use super::worker::RelayConfig;
use crate::guard;
use crate::store::ClaimedDelivery;
use std::time::Duration;

/// How long the receiver's body may take after its status line, read only to reuse the
/// connection: its answer is the status, so a slow body never turns a 2xx into a retry.
const BODY_GRACE: Duration = Duration::from_millis(100);

/// One signed POST; the receiver's 2xx status, or why it failed.
pub(super) async fn post(
    http: &awc::Client,
    config: &RelayConfig,
    delivery: &ClaimedDelivery,
) -> Result<u16, Failure> {
    let url = url::Url::parse(&delivery.target_url)
        .map_err(|_| Failure::stop("the target URL is not valid"))?;
    // Literal addresses skip the resolver, so they are checked here.
    if let Err(refused) = guard::check_literal(&url, config.allow_private_targets) {
        return Err(Failure::stop(&format!("target refused: {refused}")));
    }
    let mut request = http.post(url.as_str());
    for header in crate::telemetry::trace_headers() {
        request = request.insert_header(header);
    }
    // Looked up now: a secret rotated since the notification was queued signs it.
    let signer = config
        .storefronts
        .signer(delivery.storefront.as_deref())
        .map_err(|why| Failure::stop(&format!("cannot sign: {why}")))?;
    let signed = signer.headers(&delivery.id, delivery.body.as_bytes());
    for header in signed {
        request = request.insert_header(header);
    }
    let exchange = request.send_body(delivery.body.clone());
    let mut response = match tokio::time::timeout(config.timeout, exchange).await {
        Err(_) => {
            return Err(Failure::retry(
                None,
                format!("no answer within {} ms", config.timeout.as_millis()),
            ))
        }
        Ok(result) => result.map_err(|e| Failure::retry(None, format!("{e}")))?,
    };
    // The status line decides: a 2xx is delivered however slowly its body follows.
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    // A body already on its way is read (bounded) so the connection can be reused; one that
    // is not there within the grace is dropped with its connection, and changes nothing.
    let _ = tokio::time::timeout(BODY_GRACE, response.body().limit(64 * 1024)).await;
    match status {
        200..=299 => Ok(status),
        410 => Err(Failure {
            status: Some(status),
            reason: "the receiver answered 410 Gone: delivery stopped".into(),
            retry_after: None,
            stop: true,
        }),
        _ => Err(Failure {
            status: Some(status),
            reason: format!("the receiver answered {status}"),
            retry_after,
            stop: false,
        }),
    }
}

#[derive(Debug)]
pub(super) struct Failure {
    pub(super) status: Option<u16>,
    pub(super) reason: String,
    pub(super) retry_after: Option<Duration>,
    /// No further attempts (410, or a target that can never be valid).
    pub(super) stop: bool,
}

impl Failure {
    fn retry(status: Option<u16>, reason: String) -> Self {
        Self {
            status,
            reason,
            retry_after: None,
            stop: false,
        }
    }

    fn stop(reason: &str) -> Self {
        Self {
            status: None,
            reason: reason.to_owned(),
            retry_after: None,
            stop: true,
        }
    }
}

pub(super) fn http_client(config: &RelayConfig) -> awc::Client {
    crate::guard::outbound_client(
        config.timeout,
        config.max_in_flight,
        config.allow_private_targets,
    )
}
