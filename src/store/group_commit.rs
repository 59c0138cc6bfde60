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
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection};
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
    // The writer keeps one connection (no pool checkout per group); it is replaced after an
    // error, and handed back when the pool closes (closing waits for every connection).
    let mut kept: Option<PoolConnection<Any>> = None;
    let closing = pool.close_event();
    tokio::pin!(closing);
    loop {
        let received = tokio::select! {
            received = queue.recv_many(&mut group, MAX_GROUP) => received,
            _ = &mut closing => 0,
        };
        if received == 0 {
            break;
        }
        let _turn = turns.lock().await;
        let result = async {
            let conn = match &mut kept {
                Some(conn) => conn,
                None => kept.insert(pool.acquire().await?),
            };
            let mut tx = conn.begin().await?;
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
                kept = None;
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

#[cfg(test)]
mod tests {
    use super::*;
    use sqlx::any::AnyPoolOptions;

    /// Inserts `value` into `t`, or into a table that does not exist when `fail` is set.
    struct Insert {
        value: i64,
        fail: bool,
    }

    impl Write for Insert {
        type Output = i64;

        fn run<'c>(&'c self, conn: &'c mut AnyConnection, _now: i64) -> WriteFuture<'c, i64> {
            Box::pin(async move {
                let table = if self.fail { "missing" } else { "t" };
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "INSERT INTO {table} (v) VALUES ($1)"
                )))
                .bind(self.value)
                .execute(&mut *conn)
                .await?;
                Ok(self.value)
            })
        }
    }

    async fn pool(dir: &tempfile::TempDir) -> AnyPool {
        sqlx::any::install_default_drivers();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display());
        let pool = AnyPoolOptions::new().connect(&url).await.unwrap();
        sqlx::query("CREATE TABLE t (v BIGINT NOT NULL)")
            .execute(&pool)
            .await
            .unwrap();
        pool
    }

    #[tokio::test]
    async fn a_burst_commits_and_one_bad_write_fails_alone() {
        let dir = tempfile::tempdir().unwrap();
        let pool = pool(&dir).await;
        let turns = WriteTurns::default();
        let writer = GroupWriter::start(
            &tokio::runtime::Handle::current(),
            pool.clone(),
            turns.clone(),
        );
        // While another writer holds the turn, the whole burst queues up: it lands in one or
        // two groups, the bad write among the others.
        let held = turns.lock().await;
        let burst: Vec<_> = (0..200)
            .map(|value| {
                let writer = writer.clone();
                tokio::spawn(async move {
                    let fail = value == 57;
                    (value, writer.write(Insert { value, fail }).await)
                })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        drop(held);
        for task in burst {
            match task.await.unwrap() {
                (57, result) => assert!(result.is_err(), "the bad write reports its failure"),
                (value, result) => assert_eq!(result.unwrap(), value),
            }
        }
        let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(rows, 199, "every good write committed, the bad one did not");
    }
}
