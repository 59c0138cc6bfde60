//! Attempt records of deliveries that finish together, written together: while one batch is
//! being committed the next one gathers, so a burst of finished deliveries costs one write (on
//! PostgreSQL, a handful of statements) instead of one per delivery. Each delivery still waits
//! for its own record's commit before its slot passes on.

use crate::store::{AttemptRecord, ClaimedDelivery, Slot, Store};
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use tokio::sync::oneshot;

/// Batches in commit at once: one gathers while another commits.
const MAX_FLUSHES: usize = 2;
/// Most attempts one write records.
const MAX_BATCH: usize = 128;

/// What a record's commit hands back: the delivery its slot passes to, or why it failed.
type Recorded = Result<Option<ClaimedDelivery>, String>;

struct Queued {
    record: AttemptRecord,
    hand_over: Option<Slot>,
    reply: oneshot::Sender<Recorded>,
}

/// Lives on the relay's thread (the relay is single-threaded).
pub(super) struct Recorder {
    store: Store,
    lease_ms: i64,
    queued: RefCell<Vec<Queued>>,
    flushing: Cell<usize>,
}

impl Recorder {
    pub fn new(store: Store, lease_ms: i64) -> Rc<Self> {
        Rc::new(Self {
            store,
            lease_ms,
            queued: RefCell::default(),
            flushing: Cell::new(0),
        })
    }

    /// Records `record` (and leases a notification for the slot `hand_over` names) with whatever
    /// finished alongside it; returns once committed.
    pub async fn record(
        self: &Rc<Self>,
        record: AttemptRecord,
        hand_over: Option<Slot>,
    ) -> Recorded {
        let (reply, answer) = oneshot::channel();
        self.queued.borrow_mut().push(Queued {
            record,
            hand_over,
            reply,
        });
        if self.flushing.get() < MAX_FLUSHES {
            self.flushing.set(self.flushing.get() + 1);
            actix_web::rt::spawn(self.clone().flush());
        }
        answer
            .await
            .unwrap_or_else(|_| Err("the relay stopped before the record was written".into()))
    }

    /// Writes what is queued, batch after batch, until nothing is.
    async fn flush(self: Rc<Self>) {
        loop {
            let batch: Vec<Queued> = {
                let mut queued = self.queued.borrow_mut();
                let take = queued.len().min(MAX_BATCH);
                queued.drain(..take).collect()
            };
            if batch.is_empty() {
                self.flushing.set(self.flushing.get() - 1);
                return;
            }
            let (finished, replies): (Vec<_>, Vec<_>) = batch
                .into_iter()
                .map(|queued| ((queued.record, queued.hand_over), queued.reply))
                .unzip();
            match self.store.record_attempts(finished, self.lease_ms).await {
                Ok(next) => {
                    for (reply, next) in replies.into_iter().zip(next) {
                        let _ = reply.send(Ok(next));
                    }
                }
                Err(error) => {
                    let reason = error.to_string();
                    for reply in replies {
                        let _ = reply.send(Err(reason.clone()));
                    }
                }
            }
        }
    }
}
