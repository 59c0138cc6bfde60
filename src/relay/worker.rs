//! Claims due notifications from the store and delivers them: signed, bounded per target and
//! overall, retried on the schedule (one attempt's POST is `post.rs`). The store is the queue;
//! memory only holds what is in flight.

use super::post::{http_client, post};
use super::recorder::Recorder;
use super::schedule::RetrySchedule;
use crate::clock;
use crate::metrics::Metrics;
use crate::store::{
    AttemptNext, AttemptRecord, ClaimedDelivery, DueWindow, Slot, Store, StoreError,
};
use crate::storefronts::Storefronts;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Whose secrets sign each notification (its storefront's, looked up at each attempt).
    pub storefronts: Storefronts,
    pub schedule: RetrySchedule,
    pub timeout: Duration,
    pub allow_private_targets: bool,
    /// Deliveries in flight at once, overall (per process).
    pub max_in_flight: usize,
    /// Deliveries in flight at once to one target (across replicas: leases are counted).
    pub max_per_target: usize,
    /// How often the store is polled when nothing wakes the relay.
    pub poll_interval: Duration,
    /// How long SIGTERM waits for deliveries in flight.
    pub drain_timeout: Duration,
}

impl RelayConfig {
    pub fn new(storefronts: Storefronts, schedule: RetrySchedule, timeout: Duration) -> Self {
        Self {
            storefronts,
            schedule,
            timeout,
            allow_private_targets: false,
            max_in_flight: 128,
            max_per_target: 16,
            poll_interval: Duration::from_millis(500),
            drain_timeout: Duration::from_secs(30),
        }
    }

    /// A claim outlives the attempt it covers. After a crash it is free as soon as the dead
    /// process's heartbeat is silent (`store::instances`), or at the latest when it lapses.
    fn lease_ms(&self) -> i64 {
        (self.timeout + Duration::from_secs(10)).as_millis() as i64
    }
}

/// Handle to a running relay: wake it when something was queued, stop it on shutdown.
#[derive(Clone)]
pub struct RelayHandle {
    wake: Arc<Notify>,
    /// Set when work was queued from outside, so the relay reads the queue afresh.
    news: Arc<AtomicBool>,
    stop: Arc<watch::Sender<bool>>,
}

impl RelayHandle {
    /// A handle to nothing: wakes are ignored (no signing secret, so no relay runs).
    pub fn idle() -> Self {
        Self {
            wake: Arc::new(Notify::new()),
            news: Arc::new(AtomicBool::new(false)),
            stop: Arc::new(watch::channel(false).0),
        }
    }

    /// Something was queued: claim it now rather than at the next poll.
    pub fn wake(&self) {
        self.news.store(true, Ordering::Relaxed);
        self.wake.notify_one();
    }

    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

pub struct Relay {
    store: Store,
    config: RelayConfig,
    metrics: Metrics,
    http: awc::Client,
    wake: Arc<Notify>,
    news: Arc<AtomicBool>,
    in_flight: Cell<usize>,
    /// Writes the records of attempts that finish together in one go.
    recorder: Rc<Recorder>,
    /// The queue read ahead: claims take from it, and finished deliveries hand their slots on
    /// from it, also while a claim waits on the store.
    window: RefCell<DueWindow>,
    /// Set once stop was asked for: deliveries in flight finish, none is started.
    stopping: Cell<bool>,
}

const CLAIM_BATCH: usize = 256;

impl Relay {
    /// Starts the relay on the current (actix) thread; returns its handle and its end.
    pub fn start(
        store: Store,
        config: RelayConfig,
        metrics: Metrics,
    ) -> (RelayHandle, tokio::task::JoinHandle<()>) {
        let wake = Arc::new(Notify::new());
        let news = Arc::new(AtomicBool::new(false));
        let (stop_tx, stop_rx) = watch::channel(false);
        let relay = Rc::new(Self {
            http: http_client(&config),
            recorder: Recorder::new(store.clone(), config.lease_ms()),
            store,
            config,
            metrics,
            wake: wake.clone(),
            news: news.clone(),
            in_flight: Cell::new(0),
            window: RefCell::new(DueWindow::default()),
            stopping: Cell::new(false),
        });
        let done = actix_web::rt::spawn(relay.run(stop_rx));
        (
            RelayHandle {
                wake,
                news,
                stop: Arc::new(stop_tx),
            },
            done,
        )
    }

    async fn run(self: Rc<Self>, mut stop: watch::Receiver<bool>) {
        tracing::info!(
            max_in_flight = self.config.max_in_flight,
            max_per_target = self.config.max_per_target,
            "relay started"
        );
        let mut nap = self.config.poll_interval;
        while !*stop.borrow() {
            self.fill().await;
            // News that waits for the window's read to age is claimed when it has, wake or not.
            let news_waits = self.window.borrow().news_waits_ms(clock::unix_ms());
            let wait = news_waits.map_or(nap, |ms| nap.min(Duration::from_millis(ms as u64)));
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {
                    if news_waits.is_none() {
                        nap = self.next_poll().await;
                    }
                }
                _ = stop.changed() => {}
            }
        }
        self.stopping.set(true);
        let deadline = Instant::now() + self.config.drain_timeout;
        while self.in_flight.get() > 0 && Instant::now() < deadline {
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
        tracing::info!(
            left_in_flight = self.in_flight.get(),
            "relay stopped; undelivered notifications stay in the store"
        );
    }

    /// The wait until the next poll: the poll interval, or less when a silent process is about
    /// to be taken for dead, so its deliveries in flight are taken over the moment its leases
    /// are free (a restart after a crash resumes within the silence, not a poll later).
    async fn next_poll(&self) -> Duration {
        match self.store.next_owner_death().await {
            Ok(Some(at)) => {
                let until = Duration::from_millis((at - clock::unix_ms()).max(0) as u64 + 1);
                until.min(self.config.poll_interval)
            }
            Ok(None) => self.config.poll_interval,
            Err(error) => {
                tracing::debug!(%error, "could not read the running processes");
                self.config.poll_interval
            }
        }
    }

    /// Claims and starts deliveries while there is room.
    async fn fill(self: &Rc<Self>) {
        loop {
            let room = self
                .config
                .max_in_flight
                .saturating_sub(self.in_flight.get());
            if room == 0 {
                return;
            }
            let wanted = room.min(CLAIM_BATCH);
            let claimed = match self.claim(wanted).await {
                Ok(claimed) => claimed,
                Err(error) => {
                    tracing::warn!(%error, "could not claim deliveries; will retry");
                    return;
                }
            };
            let count = claimed.len();
            for delivery in claimed {
                self.in_flight.set(self.in_flight.get() + 1);
                self.metrics.relay_in_flight.inc();
                let relay = self.clone();
                actix_web::rt::spawn(async move {
                    // A finished delivery may hand its slot to the next one of its target.
                    let mut next = Some(delivery);
                    while let Some(delivery) = next.take() {
                        let span = attempt_span(&delivery);
                        next = relay.deliver(delivery).instrument(span).await;
                    }
                    relay.window.borrow_mut().slot_ended();
                    relay.in_flight.set(relay.in_flight.get() - 1);
                    relay.metrics.relay_in_flight.dec();
                    relay.wake.notify_one();
                });
            }
            if count < wanted {
                return;
            }
        }
    }

    /// Makes one attempt and records it; returns the delivery its slot was handed to, if any.
    async fn deliver(&self, delivery: ClaimedDelivery) -> Option<ClaimedDelivery> {
        let attempt = delivery.attempts + 1;
        let started_at_ms = clock::unix_ms();
        let started = Instant::now();
        let result = post(&self.http, &self.config, &delivery).await;
        let round_attempt = attempt.saturating_sub(delivery.round_base);
        let next = match &result {
            Ok(_) => AttemptNext::Delivered,
            Err(failure) if failure.stop => AttemptNext::Failed,
            Err(failure) => match self
                .config
                .schedule
                .delay_after(round_attempt, failure.retry_after)
            {
                Some(delay) => AttemptNext::RetryAt(clock::unix_ms() + delay.as_millis() as i64),
                None => AttemptNext::Failed,
            },
        };
        let (status_code, error) = match &result {
            Ok(status) => (Some(*status), None),
            Err(failure) => (failure.status, Some(failure.reason.clone())),
        };
        // The status the delivery moves to, but a retry (still pending) is told apart.
        let outcome = match next {
            AttemptNext::RetryAt(_) => "retry",
            AttemptNext::Delivered | AttemptNext::Failed => next.status().as_str(),
        };
        let span = tracing::Span::current();
        span.record("outcome", outcome);
        if let Some(code) = status_code {
            span.record("http.status_code", code);
        }
        self.metrics
            .relay_attempts
            .with_label_values(&[delivery.storefront.as_deref().unwrap_or_default(), outcome])
            .inc();
        let (id, target) = (delivery.id.as_str(), delivery.target_key.as_str());
        let kind = event_type(&delivery.body);
        let storefront = delivery.storefront.as_deref().unwrap_or_default();
        match (&next, &error) {
            (AttemptNext::Failed, Some(reason)) => tracing::warn!(
                id, kind, target, attempt, storefront, %reason,
                "notification failed for good (last attempt)"
            ),
            (AttemptNext::RetryAt(at), Some(reason)) => tracing::info!(
                id, kind, target, attempt, storefront, %reason,
                retry_in_s = (at - clock::unix_ms()).max(0) / 1000,
                "notification attempt failed; will retry"
            ),
            _ => tracing::info!(
                id,
                kind,
                target,
                attempt,
                storefront,
                status = status_code.unwrap_or_default(),
                "notification delivered"
            ),
        }
        let record = AttemptRecord {
            delivery_id: delivery.id.clone(),
            attempt,
            started_at_ms,
            duration_ms: started.elapsed().as_millis() as i64,
            status_code,
            error,
            next,
        };
        let hand_over = self.hand_over_to(&delivery.target_key);
        let named = hand_over.as_ref().map(|slot| slot.id.clone());
        let recorded = self.recorder.record(record, hand_over).await;
        let mut window = self.window.borrow_mut();
        window.release(&delivery.id);
        match recorded {
            Ok(next) => {
                if let Some(next) = &next {
                    window.leased(&next.id, named.as_deref() == Some(next.id.as_str()));
                }
                next
            }
            Err(error) => {
                // The lease lapses and the notification is attempted again: at-least-once.
                tracing::error!(%error, "could not record a delivery attempt");
                None
            }
        }
    }

    /// Where this slot passes on to: `target`'s next notification, when the window's next one
    /// due overall is `target`'s (so slots still go oldest first across targets), unless the
    /// relay is stopping. The store leases it (or, on PostgreSQL, the target's next one still
    /// free) in the transaction that records this attempt, so the target's count never rises.
    fn hand_over_to(&self, target: &str) -> Option<Slot> {
        if self.stopping.get() {
            return None;
        }
        self.window
            .borrow_mut()
            .take_next_of(target, clock::unix_ms())
    }

    /// Claims up to `wanted` due notifications (see `Store::claim_deliveries`), reading the
    /// queue afresh when news came.
    async fn claim(&self, wanted: usize) -> Result<Vec<ClaimedDelivery>, StoreError> {
        if self.news.swap(false, Ordering::Relaxed) {
            self.window.borrow_mut().mark_stale();
        }
        self.store
            .claim_deliveries(
                &self.window,
                wanted,
                self.config.max_per_target,
                self.config.lease_ms(),
            )
            .await
    }
}

/// The notification's `type`, read from its body without parsing it: pagos writes `id` and then
/// `type` first, so the first `"type":"` is the notification's own.
fn event_type(body: &str) -> &str {
    body.split_once("\"type\":\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map_or("?", |(kind, _)| kind)
}

/// One attempt's span, continuing the trace of the request that queued the notification.
fn attempt_span(delivery: &ClaimedDelivery) -> tracing::Span {
    let span = tracing::info_span!(
        "relay.attempt",
        delivery.id = %delivery.id,
        storefront = delivery.storefront.as_deref().unwrap_or_default(),
        attempt = delivery.attempts + 1,
        http.status_code = tracing::field::Empty,
        outcome = tracing::field::Empty,
    );
    let queued_by = delivery
        .trace_context
        .as_deref()
        .and_then(|text| serde_json::from_str(text).ok());
    if let Some(headers) = queued_by {
        let _ = span.set_parent(crate::telemetry::context_from(&headers));
    }
    span
}

#[cfg(test)]
mod tests {
    use super::event_type;

    #[test]
    fn a_notifications_type_is_read_from_its_body() {
        let body = r#"{"id":"msg_1","type":"order.paid","data":{"type":"card"}}"#;
        assert_eq!(event_type(body), "order.paid");
        assert_eq!(event_type("{}"), "?");
    }
}
