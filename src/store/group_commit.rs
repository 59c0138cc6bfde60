//! Group commit for SQLite, whose one writer fsyncs every commit: the hot writes (webhook
//! intake, create records, relay claims and attempt records) queue here, and one task commits
//! whatever queued while the previous commit ran in a single transaction, answering each caller
//! only after that commit. Under load many writes share one fsync; alone, a write waits for
//! nothing but its own commit.
//!
//! Each write keeps its own semantics inside the group. If the group's transaction fails, each
//! write is run again in a transaction of its own, so one bad write cannot fail the others.
//! PostgreSQL has no single writer: there every write commits on its own connection.

use super::{StoreError, WriteTurns};
use crate::clock;
use sqlx::{AnyConnection, AnyPool};
use std::future::Future;
use std::pin::Pin;
use tokio::sync::{mpsc, oneshot};

/// Most writes one group commit takes in.
const MAX_GROUP: usize = 512;
/// Writes waiting for the writer before callers wait to hand theirs over.
const QUEUE: usize = 4096;

pub(super) type WriteFuture<'c, T> =
    Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'c>>;

/// One caller's statements, run inside a transaction the writer owns. May run twice (the second
/// time alone, after the group's transaction was rolled back), so it must not act outside it.
pub(super) trait Write: Send + 'static {
    type Output: Send + 'static;
    fn run<'c>(&'c self, conn: &'c mut AnyConnection, now_ms: i64)
        -> WriteFuture<'c, Self::Output>;
}

/// A write with its caller's reply, its output type erased so writes of every kind share groups.
trait Job: Send {
    fn run<'c>(&'c mut self, conn: &'c mut AnyConnection, now_ms: i64) -> WriteFuture<'c, ()>;
    /// Answers the caller: the output of the last run, or `failure`.
    fn answer(self: Box<Self>, failure: Option<StoreError>);
}

struct Pending<W: Write> {
    write: W,
    output: Option<W::Output>,
    reply: oneshot::Sender<Result<W::Output, StoreError>>,
}

impl<W: Write> Job for Pending<W> {
    fn run<'c>(&'c mut self, conn: &'c mut AnyConnection, now_ms: i64) -> WriteFuture<'c, ()> {
        Box::pin(async move {
            self.output = Some(self.write.run(conn, now_ms).await?);
            Ok(())
        })
    }

    fn answer(self: Box<Self>, failure: Option<StoreError>) {
        let result = match (failure, self.output) {
            (None, Some(output)) => Ok(output),
            (Some(error), _) => Err(error),
            (None, None) => Err(StoreError::Database(sqlx::Error::WorkerCrashed)),
        };
        let _ = self.reply.send(result);
    }
}

/// The handle writes are queued on; the writer task ends when every handle is gone.
#[derive(Clone)]
pub(super) struct GroupWriter {
    jobs: mpsc::Sender<Box<dyn Job>>,
}

impl GroupWriter {
    /// Starts the writer on `runtime`. It takes `turns` for each group, so writes made outside
    /// it (rare operator paths) still never collide with a group.
    pub fn start(runtime: &tokio::runtime::Handle, pool: AnyPool, turns: WriteTurns) -> Self {
        let (jobs, queue) = mpsc::channel(QUEUE);
        runtime.spawn(commit_groups(pool, turns, queue));
        Self { jobs }
    }

    /// Queues `write` and waits until the group that holds it has committed.
    pub async fn write<W: Write>(&self, write: W) -> Result<W::Output, StoreError> {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Pending {
            write,
            output: None,
            reply,
        });
        if self.jobs.send(job).await.is_err() {
            return Err(StoreError::Database(sqlx::Error::PoolClosed));
        }
        answer
            .await
            .unwrap_or(Err(StoreError::Database(sqlx::Error::PoolClosed)))
    }
}

/// Runs one write in a transaction of its own.
pub(super) async fn write_alone<W: Write>(
    pool: &AnyPool,
    write: &W,
) -> Result<W::Output, StoreError> {
    let mut tx = pool.begin().await?;
    let output = write.run(&mut tx, clock::unix_ms()).await?;
    tx.commit().await?;
    Ok(output)
}

async fn commit_groups(pool: AnyPool, turns: WriteTurns, mut queue: mpsc::Receiver<Box<dyn Job>>) {
    let mut group: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_GROUP);
    while queue.recv_many(&mut group, MAX_GROUP).await > 0 {
        let _turn = turns.lock().await;
        let result = async {
            let mut tx = pool.begin().await?;
            let now = clock::unix_ms();
            for job in group.iter_mut() {
                job.run(&mut tx, now).await?;
            }
            tx.commit().await?;
            Ok::<_, StoreError>(())
        }
        .await;
        match result {
            Ok(()) => group.drain(..).for_each(|job| job.answer(None)),
            Err(error) => {
                tracing::warn!(%error, writes = group.len(), "group commit failed; committing each write alone");
                for mut job in group.drain(..) {
                    let alone = async {
                        let mut tx = pool.begin().await?;
                        job.run(&mut tx, clock::unix_ms()).await?;
                        tx.commit().await?;
                        Ok::<_, StoreError>(())
                    }
                    .await;
                    job.answer(alone.err());
                }
            }
        }
    }
}
