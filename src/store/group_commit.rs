//! Group commit for SQLite, whose one writer fsyncs every commit: every write (the hot ones,
//! webhook intake, create records, relay claims and attempt records, and the rare operator and
//! startup ones alike) queues here, and one thread commits whatever queued while the previous
//! commit ran in a single transaction, answering each caller only after that commit. Under load
//! many writes share one fsync. The writer's connection runs the statements itself (rusqlite),
//! so a statement is a function call, not a hand-off to a driver thread and back.
//!
//! A write that finds no other write queued or committing commits itself, on its caller's
//! thread: a hand-off to the writer thread and the answer back cost two thread wake-ups, and on
//! a busy machine a woken thread can wait for a core (BENCHMARKS.md, "2026-12-08 after
//! midnight"). Under load writes find others in flight and queue, so groups form as before.
//!
//! Each write keeps its own semantics inside the group. If the group's transaction fails, each
//! write is run again in a transaction of its own, so one bad write cannot fail the others.
//! PostgreSQL has no single writer; its own group commit (`pg_group_commit.rs`) runs the same
//! `Write`s on a few connections at once.

use super::tx::{SqliteTx, Tx, TxFuture};
use super::StoreError;
use crate::clock;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker};
use tokio::sync::{mpsc, oneshot};

/// Most writes one group commit takes in.
const MAX_GROUP: usize = 512;
/// Writes waiting for the writer before callers wait to hand theirs over.
const QUEUE: usize = 4096;

pub(super) type WriteFuture<'c, T> = TxFuture<'c, T>;

/// The writer takes its turn here for each group: whoever holds it holds the writer between
/// groups. Every write goes through the writer, so nothing else in the store takes it; tests
/// hold it to make writes queue up.
pub(super) type WriteTurns = Arc<tokio::sync::Mutex<()>>;

/// One caller's statements, run inside a transaction the writer owns. May run twice (the second
/// time alone, after the group's transaction was rolled back), so it must not act outside it,
/// and it awaits nothing but its statements (on SQLite those are ready at once).
pub(super) trait Write: Send + 'static {
    type Output: Send + 'static;
    fn run<'c>(&'c self, tx: &'c mut dyn Tx, now_ms: i64) -> WriteFuture<'c, Self::Output>;

    /// False for a claim whose loss in a power cut is harmless (it is only retried): its commit
    /// is visible at once and survives a crash of the process, but reaches the disk with the
    /// next durable commit instead of waiting for an fsync of its own.
    fn durable(&self) -> bool {
        true
    }

    /// True when `run` is one statement on PostgreSQL. A durable one, alone in its group, may
    /// run as its own transaction, without `BEGIN` and `COMMIT`: two round trips fewer (see
    /// `pg_group_commit::commit`).
    fn one_statement(&self) -> bool {
        false
    }

    /// True for a one-statement write that is not durable and, run as its own transaction
    /// (`Tx::own_transaction`), turns the flush off for it in its statement: alone in its
    /// group, it may skip `BEGIN` and `COMMIT` as a durable one does.
    fn says_not_durable(&self) -> bool {
        false
    }

    /// True for a write whose statements PostgreSQL may plan once per connection, whatever
    /// their parameters (`plan_cache_mode = force_generic_plan`): the relay's records and
    /// claims, whose generic plans tests read. Left to choose, the server planned them afresh
    /// at nearly every run, a quarter to a third of their cost. A group of such writes alone
    /// runs so.
    fn generic_plan(&self) -> bool {
        false
    }

    /// The intake of an event, on PostgreSQL: the writer takes such writes in together when
    /// they are next to each other in a group, a few statements for all of them
    /// (`intake_together.rs`), and `run` then only answers.
    fn intake(&self) -> Option<&super::events::Ingest> {
        None
    }
}

/// A write with its caller's reply, its output type erased so writes of every kind share groups.
trait Job: Send {
    fn durable(&self) -> bool;
    fn run(&mut self, tx: &mut SqliteTx<'_>, now_ms: i64) -> Result<(), StoreError>;
    /// Answers the caller: the output of the last run, or `failure`.
    fn answer(self: Box<Self>, failure: Option<StoreError>);
}

struct Pending<W: Write> {
    write: W,
    output: Option<W::Output>,
    reply: oneshot::Sender<Result<W::Output, StoreError>>,
}

impl<W: Write> Job for Pending<W> {
    fn durable(&self) -> bool {
        self.write.durable()
    }

    fn run(&mut self, tx: &mut SqliteTx<'_>, now_ms: i64) -> Result<(), StoreError> {
        self.output = Some(ready(self.write.run(tx, now_ms))?);
        Ok(())
    }

    fn answer(self: Box<Self>, failure: Option<StoreError>) {
        let result = match (failure, self.output) {
            (None, Some(output)) => Ok(output),
            (Some(error), _) => Err(error),
            (None, None) => Err(StoreError::WriteSuspended),
        };
        let _ = self.reply.send(result);
    }
}

/// The result of a future that needs no waiting (a write's statements on the SQLite thread).
fn ready<T>(future: impl Future<Output = Result<T, StoreError>>) -> Result<T, StoreError> {
    let mut future = std::pin::pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(result) => result,
        Poll::Pending => Err(StoreError::WriteSuspended),
    }
}

/// The writer's connection, and whether its commits wait for an fsync now. Held by whoever
/// commits a group: the writer thread, or a caller committing its write alone.
struct Connection {
    conn: rusqlite::Connection,
    synced: bool,
}

/// The handle writes are queued on; the writer thread ends when every handle is gone.
#[derive(Clone)]
pub(super) struct GroupWriter {
    jobs: mpsc::Sender<Box<dyn Job>>,
    connection: Arc<Mutex<Connection>>,
    turns: WriteTurns,
    /// Writes queued or committing: a write commits itself only when it is the one.
    in_flight: Arc<AtomicUsize>,
    /// Set when the store closes: later writes are refused, as the pool refuses them.
    closed: Arc<AtomicBool>,
    /// Held by every handle: helpers that must stop with the store watch it (`liveness`).
    alive: Arc<()>,
}

impl GroupWriter {
    /// Starts the writer on a thread of its own, with its own connection to the database file.
    pub fn start(conn: rusqlite::Connection) -> std::io::Result<Self> {
        Self::start_taking(conn, WriteTurns::default())
    }

    /// The same, taking `turns` for each group.
    fn start_taking(conn: rusqlite::Connection, turns: WriteTurns) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let connection = Arc::new(Mutex::new(Connection { conn, synced: true }));
        std::thread::Builder::new()
            .name("pagos-sqlite-writer".into())
            .spawn({
                let (connection, turns) = (connection.clone(), turns.clone());
                move || commit_groups(&connection, &turns, queue)
            })?;
        Ok(Self {
            jobs,
            connection,
            turns,
            in_flight: Arc::default(),
            closed: Arc::default(),
            alive: Arc::default(),
        })
    }

    /// Upgradable while any handle to this writer exists.
    pub fn liveness(&self) -> std::sync::Weak<()> {
        Arc::downgrade(&self.alive)
    }

    /// Refuses writes from now on; those already queued still commit.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// Queues `write` and waits until the group that holds it has committed.
    pub async fn write<W: Write>(&self, write: W) -> Result<W::Output, StoreError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Database(sqlx::Error::PoolClosed));
        }
        let (reply, answer) = oneshot::channel();
        let job: Box<dyn Job> = Box::new(Pending {
            write,
            output: None,
            reply,
        });
        let _counted = WriteInFlight::count(&self.in_flight);
        // Committed here when alone (its answer is in); queued for the writer thread otherwise.
        if let Some(job) = self.commit_alone(job) {
            if self.jobs.send(job).await.is_err() {
                return Err(StoreError::Database(sqlx::Error::PoolClosed));
            }
        }
        answer
            .await
            .unwrap_or(Err(StoreError::Database(sqlx::Error::PoolClosed)))
    }

    /// Commits `job` on this thread when no other write is queued or committing and the
    /// writer is free; otherwise hands it back to be queued.
    fn commit_alone(&self, job: Box<dyn Job>) -> Option<Box<dyn Job>> {
        if self.in_flight.load(Ordering::Acquire) != 1 {
            return Some(job);
        }
        let Ok(turn) = self.turns.try_lock() else {
            return Some(job);
        };
        let Ok(mut connection) = self.connection.try_lock() else {
            return Some(job);
        };
        let outcomes = commit_group(&mut connection, vec![job]);
        drop((connection, turn));
        answer(outcomes);
        None
    }
}

/// Counts one write in flight while it lives.
struct WriteInFlight<'a>(&'a AtomicUsize);

impl<'a> WriteInFlight<'a> {
    fn count(in_flight: &'a AtomicUsize) -> Self {
        in_flight.fetch_add(1, Ordering::AcqRel);
        Self(in_flight)
    }
}

impl Drop for WriteInFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn commit_groups(
    connection: &Mutex<Connection>,
    turns: &WriteTurns,
    mut queue: mpsc::Receiver<Box<dyn Job>>,
) {
    while let Some(job) = queue.blocking_recv() {
        let mut group = Vec::with_capacity(MAX_GROUP);
        group.push(job);
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(job) => group.push(job),
                Err(_) => break,
            }
        }
        let outcomes = {
            let _turn = turns.blocking_lock();
            let mut connection = connection.lock().unwrap_or_else(PoisonError::into_inner);
            commit_group(&mut connection, group)
        };
        answer(outcomes);
    }
}

/// A write run, and how its commit failed if it did.
type Outcome = (Box<dyn Job>, Option<StoreError>);

/// Answers each write once the writer is let go, so a caller woken by its answer finds the
/// writer free for its next write.
fn answer(outcomes: Vec<Outcome>) {
    for (job, failure) in outcomes {
        job.answer(failure);
    }
}

/// Commits `group` in one transaction (or, when the transaction fails, each write alone).
fn commit_group(connection: &mut Connection, mut group: Vec<Box<dyn Job>>) -> Vec<Outcome> {
    // One durable write makes the whole group's commit wait for its fsync (which also puts
    // every earlier commit on disk: the WAL is one file, written in order).
    let durable = group.iter().any(|job| job.durable());
    if durable != connection.synced {
        let level = if durable { "FULL" } else { "NORMAL" };
        match connection.conn.pragma_update(None, "synchronous", level) {
            Ok(()) => connection.synced = durable,
            // A durable write is never committed without its fsync.
            Err(error) if durable => {
                tracing::error!(%error, "could not ask SQLite for a durable commit");
                let reason = error.to_string();
                return group
                    .into_iter()
                    .map(|job| (job, Some(StoreError::SyncLevel(reason.clone()))))
                    .collect();
            }
            // Claims committed durably are only slower.
            Err(error) => tracing::warn!(%error, "could not relax SQLite's sync level"),
        }
    }
    let conn = &mut connection.conn;
    let now = clock::unix_ms();
    let result = in_transaction(conn, |tx| {
        group.iter_mut().try_for_each(|job| job.run(tx, now))
    });
    match result {
        Ok(()) => group.into_iter().map(|job| (job, None)).collect(),
        Err(error) => {
            tracing::warn!(%error, writes = group.len(), "group commit failed; committing each write alone");
            group
                .into_iter()
                .map(|mut job| {
                    let alone = in_transaction(conn, |tx| job.run(tx, clock::unix_ms()));
                    (job, alone.err())
                })
                .collect()
        }
    }
}

/// Runs `body` in one transaction, committed if it succeeds and rolled back otherwise.
fn in_transaction(
    conn: &mut rusqlite::Connection,
    body: impl FnOnce(&mut SqliteTx<'_>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = body(&mut SqliteTx(conn)).and_then(|()| Ok(conn.execute_batch("COMMIT")?));
    if result.is_err() && !conn.is_autocommit() {
        // Best effort: a failed rollback leaves nothing committed either.
        let _ = conn.execute_batch("ROLLBACK");
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tx::args;

    /// Inserts `value` into `t`, or into a table that does not exist when `fail` is set.
    struct Insert {
        value: i64,
        fail: bool,
    }

    impl Write for Insert {
        type Output = i64;

        fn run<'c>(&'c self, tx: &'c mut dyn Tx, _now: i64) -> WriteFuture<'c, i64> {
            Box::pin(async move {
                let sql = if self.fail {
                    "INSERT INTO missing (v) VALUES ($1)"
                } else {
                    "INSERT INTO t (v) VALUES ($1)"
                };
                tx.execute(sql, &args![self.value]).await?;
                Ok(self.value)
            })
        }
    }

    /// A database with a table `t`: a connection to read it, and a writer with its turns.
    fn writer_of_table_t() -> (
        tempfile::TempDir,
        rusqlite::Connection,
        WriteTurns,
        GroupWriter,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let reader = rusqlite::Connection::open(&path).unwrap();
        reader
            .execute_batch("PRAGMA journal_mode = WAL; CREATE TABLE t (v BIGINT NOT NULL)")
            .unwrap();
        let turns = WriteTurns::default();
        let writer =
            GroupWriter::start_taking(rusqlite::Connection::open(&path).unwrap(), turns.clone())
                .unwrap();
        (dir, reader, turns, writer)
    }

    #[tokio::test]
    async fn a_burst_commits_and_one_bad_write_fails_alone() {
        let (_dir, reader, turns, writer) = writer_of_table_t();
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
        let rows: i64 = reader
            .query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0))
            .unwrap();
        assert_eq!(rows, 199, "every good write committed, the bad one did not");
    }

    /// Reads the sync level its group commits with; durable or not as told.
    struct SyncLevel {
        durable: bool,
    }

    impl Write for SyncLevel {
        type Output = i64;

        fn run<'c>(&'c self, tx: &'c mut dyn Tx, _now: i64) -> WriteFuture<'c, i64> {
            Box::pin(async move {
                let rows = tx.fetch_all("PRAGMA synchronous", &[]).await?;
                rows[0].get("synchronous")
            })
        }

        fn durable(&self) -> bool {
            self.durable
        }
    }

    /// Names the thread its statements ran on.
    struct ThreadName;

    impl Write for ThreadName {
        type Output = String;

        fn run<'c>(&'c self, tx: &'c mut dyn Tx, _now: i64) -> WriteFuture<'c, String> {
            Box::pin(async move {
                tx.execute("INSERT INTO t (v) VALUES (1)", &[]).await?;
                Ok(std::thread::current().name().unwrap_or("").to_owned())
            })
        }
    }

    #[tokio::test]
    async fn a_write_alone_commits_on_its_callers_thread_and_one_behind_others_queues() {
        let (_dir, reader, turns, writer) = writer_of_table_t();
        let caller = std::thread::current().name().unwrap_or("").to_owned();
        assert_ne!(caller, "pagos-sqlite-writer");
        assert_eq!(writer.write(ThreadName).await.unwrap(), caller);

        // While the writer is taken, a write waits in the queue for the writer thread.
        let held = turns.lock().await;
        let queued = tokio::spawn({
            let writer = writer.clone();
            async move { writer.write(ThreadName).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        // And one that comes while another is in flight queues behind it, whoever holds the
        // writer then.
        let behind = tokio::spawn({
            let writer = writer.clone();
            async move { writer.write(ThreadName).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        drop(held);
        assert_eq!(queued.await.unwrap().unwrap(), "pagos-sqlite-writer");
        assert_eq!(behind.await.unwrap().unwrap(), "pagos-sqlite-writer");
        assert_eq!(writer.write(ThreadName).await.unwrap(), caller);
        let rows: i64 = reader
            .query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0))
            .unwrap();
        assert_eq!(rows, 4);
    }

    const NORMAL: i64 = 1;
    const FULL: i64 = 2;

    #[tokio::test]
    async fn a_group_waits_for_its_fsync_when_any_write_in_it_is_durable() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA journal_mode = WAL")
            .unwrap();
        let turns = WriteTurns::default();
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "synchronous", "FULL").unwrap();
        let writer = GroupWriter::start_taking(conn, turns.clone()).unwrap();

        let alone = |durable| writer.write(SyncLevel { durable });
        assert_eq!(
            alone(false).await.unwrap(),
            NORMAL,
            "a claim alone skips the fsync"
        );
        assert_eq!(alone(true).await.unwrap(), FULL);
        assert_eq!(alone(false).await.unwrap(), NORMAL);

        // Queued together (the turn held meanwhile), a claim shares the durable write's fsync.
        // A first write occupies the writer (it forms its group, then waits for the turn), so
        // the two below queue up behind it and form the next group together.
        let held = turns.lock().await;
        let first = tokio::spawn({
            let writer = writer.clone();
            async move { writer.write(SyncLevel { durable: false }).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let claim = tokio::spawn({
            let writer = writer.clone();
            async move { writer.write(SyncLevel { durable: false }).await }
        });
        let record = tokio::spawn({
            let writer = writer.clone();
            async move { writer.write(SyncLevel { durable: true }).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        drop(held);
        first.await.unwrap().unwrap();
        assert_eq!(claim.await.unwrap().unwrap(), FULL);
        assert_eq!(record.await.unwrap().unwrap(), FULL);
    }
}
