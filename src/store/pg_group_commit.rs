//! Group commit for PostgreSQL. A transaction of its own per write paid a connection checkout,
//! `BEGIN`, `COMMIT` and a WAL flush per write, and ingest ran at a third of SQLite's rate. Here
//! every write queues, and a few writer tasks each take whatever queued while another ran its
//! group's statements, and run it in one transaction: a burst shares one commit and one flush,
//! while one writer's commit waits on the disk another is already running the next group.
//! Alone, a write waits for nothing but its own commit.
//!
//! As on SQLite (`group_commit.rs`), each write keeps its own semantics: if the group's
//! transaction fails (a bad write, a deadlock between two groups, this replica's or another's,
//! that lock the same rows in opposite orders), it is rolled back and each write runs again in
//! a transaction of its own, so one write cannot fail its neighbours.
//! The writers run on a thread of their own, each with a connection of its own kept from one
//! group to the next, so the write path never waits for a request worker's turn, and request
//! workers never wait for a writer's.

use super::events::Ingest;
use super::group_commit::{Write, WriteTurns};
use super::intake_together;
use super::tx::{OwnTransaction, TxFuture};
use super::StoreError;
use crate::clock;
use secrecy::{ExposeSecret, SecretString};
use sqlx::{AnyConnection, Connection, Executor};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot, watch, Mutex, OwnedSemaphorePermit, Semaphore};

/// Writer tasks (and connections). One writer at a time sends statements (`Gathering`), so a
/// second is enough for one group's flush to overlap the next group's statements; each more
/// only splits what queued into smaller groups, each with its own commit (see BENCHMARKS.md).
const WRITERS: u32 = 2;
/// Writers that take writes while other processes write to the same database (`share`): their
/// writers already overlap this one's flushes, and a second writer here would only split this
/// process's share of the load into smaller groups. Two replicas with two writers each paid
/// twice one replica's transactions per event; with one each they took events in 3-22% faster
/// (BENCHMARKS.md, "2026-12-07 late evening").
const WRITERS_SHARING: u32 = 1;
/// Most writes one group commit takes in: a group's transaction holds its row locks until it
/// commits, so it stays short.
const MAX_GROUP: usize = 256;
/// Longest a writer holding a write waits for another writer's statements to finish before it
/// takes what queued meanwhile (see `Gathering`): long enough for a group's statements, short
/// enough that a group stuck on another transaction's row lock does not hold the others up.
const GATHER_LIMIT: Duration = Duration::from_millis(2);
/// Writes waiting for a writer before callers wait to hand theirs over.
const QUEUE: usize = 4096;
/// How long a writer waits for the server to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How recently a writer's connection must have answered for a one-statement write to skip
/// `BEGIN` on it (see `commit`).
const ANSWERED_LATELY: Duration = Duration::from_secs(1);

/// A write with its caller's reply, its output type erased so writes of every kind share groups.
trait Job: Send {
    fn durable(&self) -> bool;
    fn one_statement(&self) -> bool;
    fn says_not_durable(&self) -> bool;
    fn generic_plan(&self) -> bool;
    fn intake(&self) -> Option<&Ingest>;
    fn run<'c>(&'c mut self, conn: &'c mut AnyConnection, now_ms: i64) -> TxFuture<'c, ()>;
    /// `run`, as the statement's own transaction (`commit`).
    fn run_alone<'c>(&'c mut self, conn: &'c mut AnyConnection, now_ms: i64) -> TxFuture<'c, ()>;
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

    fn one_statement(&self) -> bool {
        self.write.one_statement()
    }

    fn says_not_durable(&self) -> bool {
        self.write.says_not_durable()
    }

    fn generic_plan(&self) -> bool {
        self.write.generic_plan()
    }

    fn intake(&self) -> Option<&Ingest> {
        self.write.intake()
    }

    fn run<'c>(&'c mut self, conn: &'c mut AnyConnection, now_ms: i64) -> TxFuture<'c, ()> {
        Box::pin(async move {
            let output = self.write.run(conn, now_ms).await?;
            self.output = Some(output);
            Ok(())
        })
    }

    fn run_alone<'c>(&'c mut self, conn: &'c mut AnyConnection, now_ms: i64) -> TxFuture<'c, ()> {
        Box::pin(async move {
            let output = self.write.run(&mut OwnTransaction(conn), now_ms).await?;
            self.output = Some(output);
            Ok(())
        })
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

type Queue = Arc<Mutex<mpsc::Receiver<Box<dyn Job>>>>;

/// Leave to send a group's statements, held from taking the group until its `COMMIT` is sent;
/// none when the writer stopped waiting for it.
type StatementSlot = Option<OwnedSemaphorePermit>;

/// One writer at a time sends its group's statements, while the others' commits wait on the
/// disk. Under load (the last group took more than one write), a writer holding a write waits
/// for the slot (up to `limit`) before it takes what else queued: a group so gathers what
/// arrived during the last one's statements, where a writer idle at that moment took the
/// writes one at a time, each paying a transaction's statements and flush. Without load a
/// write waits for nothing: it takes the slot if it is free and goes on without it if not.
#[derive(Clone)]
struct Gathering {
    slot: Arc<Semaphore>,
    limit: Duration,
    /// How many writes the last group took.
    last_group: Arc<AtomicUsize>,
}

impl Gathering {
    fn new(limit: Duration) -> Self {
        Self {
            slot: Arc::new(Semaphore::new(1)),
            limit,
            last_group: Arc::default(),
        }
    }

    async fn slot(&self) -> StatementSlot {
        if self.last_group.load(Ordering::Relaxed) < 2 {
            return self.slot.clone().try_acquire_owned().ok();
        }
        tokio::time::timeout(self.limit, self.slot.clone().acquire_owned())
            .await
            .ok()
            .and_then(Result::ok)
    }

    /// Notes the size of the group a writer just took.
    fn took(&self, writes: usize) {
        self.last_group.store(writes, Ordering::Relaxed);
    }
}

/// The handle writes are queued on; the writers end when every handle is gone.
#[derive(Clone)]
pub(super) struct PgGroupWriter {
    jobs: mpsc::Sender<Box<dyn Job>>,
    /// Tells the writers to close their connections and end; closed once every writer has.
    closing: Arc<watch::Sender<bool>>,
    /// Set when the store closes: later writes are refused.
    closed: Arc<AtomicBool>,
    /// Whether other processes write to the same database (`WRITERS_SHARING`).
    sharing: Arc<watch::Sender<bool>>,
}

impl PgGroupWriter {
    /// Starts the writers on a thread of their own, connecting to `url` as they need to.
    pub fn start(url: &SecretString) -> Result<Self, StoreError> {
        Self::start_taking(url, WriteTurns::default(), Gathering::new(GATHER_LIMIT))
    }

    /// The same, taking `turns` for each group and gathering with `gathering`.
    fn start_taking(
        url: &SecretString,
        turns: WriteTurns,
        gathering: Gathering,
    ) -> Result<Self, StoreError> {
        let (jobs, queue) = mpsc::channel(QUEUE);
        let queue: Queue = Arc::new(Mutex::new(queue));
        let (closing, told) = watch::channel(false);
        let (sharing, shared) = watch::channel(false);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(StoreError::WriterThread)?;
        let url = url.clone();
        std::thread::Builder::new()
            .name("pagos-pg-writer".into())
            .spawn(move || {
                runtime.block_on(futures_util::future::join_all((0..WRITERS).map(|n| {
                    let conn = WriterConnection {
                        url: url.clone(),
                        open: None,
                        answered: None,
                        generic_plans: false,
                    };
                    // Those past `WRITERS_SHARING` stand aside while others share the database.
                    let stand_aside = (n >= WRITERS_SHARING).then(|| shared.clone());
                    commit_groups(
                        conn,
                        turns.clone(),
                        queue.clone(),
                        gathering.clone(),
                        told.clone(),
                        stand_aside,
                    )
                })))
            })
            .map_err(StoreError::WriterThread)?;
        Ok(Self {
            jobs,
            closing: Arc::new(closing),
            closed: Arc::default(),
            sharing: Arc::new(sharing),
        })
    }

    /// Whether the writers were last told the database is shared.
    #[cfg(test)]
    pub fn shared(&self) -> bool {
        *self.sharing.borrow()
    }

    /// Tells the writers whether other processes write to the same database: while they do,
    /// only `WRITERS_SHARING` take writes (a writer in the middle of a group finishes it).
    /// True when that changed.
    pub fn share(&self, shared: bool) -> bool {
        self.sharing.send_if_modified(|sharing| {
            let changed = *sharing != shared;
            *sharing = shared;
            changed
        })
    }

    /// Refuses writes from now on, and waits until the writers have closed their connections.
    pub async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let _ = self.closing.send(true);
        self.closing.closed().await;
    }

    /// Queues `write` and waits until the group that holds it has committed.
    pub async fn write<W: Write>(&self, write: W) -> Result<W::Output, StoreError> {
        if self.closed.load(Ordering::Acquire) {
            return Err(StoreError::Database(sqlx::Error::PoolClosed));
        }
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

/// One writer: takes what queued (one writer at a time takes from the queue), commits it as a
/// group, answers each caller after the commit. With `stand_aside`, takes nothing while it says
/// the database is shared. Ends, closing its connection, when told to or when every handle is
/// gone.
async fn commit_groups(
    mut conn: WriterConnection,
    turns: WriteTurns,
    queue: Queue,
    gathering: Gathering,
    mut closing: watch::Receiver<bool>,
    mut stand_aside: Option<watch::Receiver<bool>>,
) {
    let mut group: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_GROUP);
    loop {
        if let Some(shared) = stand_aside.as_mut() {
            tokio::select! {
                biased;
                _ = closing.wait_for(|closing| *closing) => break,
                alone = shared.wait_for(|shared| !*shared) => {
                    if alone.is_err() {
                        // The handle that says so is gone: so is every other.
                        break;
                    }
                }
            }
        }
        let slot = match take_group(
            &queue,
            &gathering,
            &mut closing,
            &mut stand_aside,
            &mut group,
        )
        .await
        {
            Taken::Group(slot) => slot,
            Taken::StandAside => continue,
            Taken::End => break,
        };
        // A turn is only a gate (tests close it to make writes queue): held through the group,
        // it would run the writers one at a time, and no flush would overlap the next group.
        drop(turns.lock().await);
        match commit(&mut conn, &mut group, slot, clock::unix_ms()).await {
            Ok(()) => group.drain(..).for_each(|job| job.answer(None)),
            Err(error) if group.len() == 1 => {
                if let Some(job) = group.pop() {
                    job.answer(Some(error));
                }
            }
            Err(error) => {
                tracing::warn!(%error, writes = group.len(), "group commit failed; committing each write alone");
                for mut job in group.drain(..) {
                    let alone = in_transaction(
                        &mut conn,
                        std::slice::from_mut(&mut job),
                        None,
                        clock::unix_ms(),
                    )
                    .await;
                    job.answer(alone.err());
                }
            }
        }
    }
    conn.close().await;
}

/// What a writer's wait for writes came to.
enum Taken {
    /// A group, in the writer's `group`, and its statement slot.
    Group(StatementSlot),
    /// The database became shared before a write came: this writer stands aside.
    StandAside,
    /// Told to close before a write came, or every handle is gone.
    End,
}

/// Waits for a write, then for the statement slot (see `Gathering`), and takes whatever else
/// queued meanwhile into `group`; or stands aside if `stand_aside` says the database became
/// shared before a write came.
async fn take_group(
    queue: &Queue,
    gathering: &Gathering,
    closing: &mut watch::Receiver<bool>,
    stand_aside: &mut Option<watch::Receiver<bool>>,
    group: &mut Vec<Box<dyn Job>>,
) -> Taken {
    // Only the waits for the queue and for a write end on closing: once a write is taken it
    // is committed and answered.
    let mut queue = tokio::select! {
        biased;
        _ = closing.wait_for(|closing| *closing) => return Taken::End,
        _ = until_shared(stand_aside) => return Taken::StandAside,
        queue = queue.lock() => queue,
    };
    let first = tokio::select! {
        biased;
        _ = closing.wait_for(|closing| *closing) => return Taken::End,
        _ = until_shared(stand_aside) => return Taken::StandAside,
        first = queue.recv() => match first {
            Some(first) => first,
            None => return Taken::End,
        },
    };
    let slot = gathering.slot().await;
    group.push(first);
    while group.len() < MAX_GROUP {
        match queue.try_recv() {
            Ok(job) => group.push(job),
            Err(_) => break,
        }
    }
    gathering.took(group.len());
    Taken::Group(slot)
}

/// Ends once `stand_aside` says the database is shared; never without one.
async fn until_shared(stand_aside: &mut Option<watch::Receiver<bool>>) {
    if let Some(shared) = stand_aside {
        if shared.wait_for(|shared| *shared).await.is_ok() {
            return;
        }
    }
    std::future::pending().await
}

/// A writer's connection, kept from one group to the next: a pooled one cost a round trip to
/// check it out (sqlx pings it) and another to check it back in (pinged again), two of the five
/// round trips of a one-statement group. Opened again after a failure.
struct WriterConnection {
    url: SecretString,
    open: Option<AnyConnection>,
    /// When the open connection last answered.
    answered: Option<Instant>,
    /// Whether the open connection plans every statement generically (see `plan_for`).
    generic_plans: bool,
}

impl WriterConnection {
    async fn get(&mut self) -> Result<&mut AnyConnection, StoreError> {
        let conn = match self.open.take() {
            Some(conn) => conn,
            None => {
                let mut conn = tokio::time::timeout(
                    CONNECT_TIMEOUT,
                    AnyConnection::connect(self.url.expose_secret()),
                )
                .await
                .map_err(|_| StoreError::Database(sqlx::Error::PoolTimedOut))??;
                conn.execute(super::PG_SESSION_SETUP).await?;
                self.generic_plans = false;
                conn
            }
        };
        Ok(self.open.insert(conn))
    }

    /// Sets how the open connection plans, when the group wants otherwise: a session setting,
    /// so a drain's groups set it once.
    async fn plan_for(&mut self, generic: bool) -> Result<(), StoreError> {
        if self.open.is_some() && self.generic_plans == generic {
            return Ok(());
        }
        self.send_first(if generic {
            "SET plan_cache_mode = force_generic_plan"
        } else {
            "SET plan_cache_mode = auto"
        })
        .await?;
        self.generic_plans = generic;
        Ok(())
    }

    /// `BEGIN` on the kept connection, or on a new one (see `send_first`). A transaction that
    /// need not be durable says so in the same round trip (one simple query, two statements).
    async fn begin(&mut self, durable: bool) -> Result<&mut AnyConnection, StoreError> {
        // Visible at once, flushed shortly after: the promise such writes make (see `Write`).
        self.send_first(if durable {
            "BEGIN"
        } else {
            "BEGIN; SET LOCAL synchronous_commit TO OFF"
        })
        .await?;
        self.get().await
    }

    /// `sql`, which changes nothing a group relies on, on the kept connection; if the server
    /// dropped it meanwhile (a restart, an idle timeout), on a new one: nothing has run yet, so
    /// trying again is safe.
    async fn send_first(&mut self, sql: &'static str) -> Result<(), StoreError> {
        if self.get().await?.execute(sql).await.is_err() {
            self.open = None;
            self.get().await?.execute(sql).await?;
        }
        Ok(())
    }

    /// Whether the open connection answered within `ANSWERED_LATELY`: a statement sent on it
    /// without a `BEGIN` first will most likely find it alive.
    fn answered_lately(&self) -> bool {
        self.open.is_some()
            && self
                .answered
                .is_some_and(|at| at.elapsed() < ANSWERED_LATELY)
    }

    /// Ends the open transaction; a connection that cannot is dropped (its transaction ends
    /// with it).
    async fn roll_back(&mut self) {
        if let Some(conn) = self.open.as_mut() {
            if conn.execute("ROLLBACK").await.is_err() {
                self.open = None;
            }
        }
    }

    async fn close(&mut self) {
        if let Some(conn) = self.open.take() {
            let _ = conn.close().await;
        }
    }
}

/// Commits `jobs`, as `in_transaction` does, or, for one write that is one statement, durable
/// or saying in its statement that it is not, as that statement's own transaction, when the
/// connection answered lately. After a quiet spell a write goes through `BEGIN`, which finds
/// out safely whether the server dropped the connection meanwhile: a statement that failed on
/// a dropped connection might have run.
async fn commit(
    conn: &mut WriterConnection,
    jobs: &mut [Box<dyn Job>],
    slot: StatementSlot,
    now_ms: i64,
) -> Result<(), StoreError> {
    conn.plan_for(jobs.iter().all(|job| job.generic_plan()))
        .await?;
    let result = match jobs {
        [job]
            if job.one_statement()
                && (job.durable() || job.says_not_durable())
                && conn.answered_lately() =>
        {
            // The statement is its own commit.
            drop(slot);
            let result = job.run_alone(conn.get().await?, now_ms).await;
            if result.is_err() {
                conn.roll_back().await;
            }
            result
        }
        _ => in_transaction(conn, jobs, slot, now_ms).await,
    };
    conn.answered = result.is_ok().then(Instant::now);
    result
}

/// Runs `jobs` in one transaction, committed if every one succeeds and rolled back otherwise.
/// Durable unless no write in it needs to be.
async fn in_transaction(
    conn: &mut WriterConnection,
    jobs: &mut [Box<dyn Job>],
    slot: StatementSlot,
    now_ms: i64,
) -> Result<(), StoreError> {
    let durable = jobs.iter().any(|job| job.durable());
    let result = async {
        let tx = conn.begin(durable).await?;
        run_jobs(tx, jobs, now_ms).await?;
        // The next writer may take its group while this one's commit waits on the disk.
        drop(slot);
        tx.execute("COMMIT").await?;
        Ok(())
    }
    .await;
    if result.is_err() {
        // Whatever failed (a write, the commit), the transaction does not stay open.
        conn.roll_back().await;
    }
    result
}

/// Runs `jobs` in turn, except that event intakes next to each other are taken in together
/// first (`intake_together.rs`): their runs then only answer. The caller commits.
async fn run_jobs(
    conn: &mut AnyConnection,
    jobs: &mut [Box<dyn Job>],
    now_ms: i64,
) -> Result<(), StoreError> {
    let mut at = 0;
    while at < jobs.len() {
        let together = intake_together::run_length(jobs[at..].iter().map(|job| job.intake()));
        if together > 1 {
            let run: Vec<&Ingest> = jobs[at..at + together]
                .iter()
                .filter_map(|job| job.intake())
                .collect();
            intake_together::ingest_together(conn, &run, now_ms).await?;
        }
        let next = at + together.max(1);
        for job in &mut jobs[at..next] {
            job.run(conn, now_ms).await?;
        }
        at = next;
    }
    Ok(())
}

/// Tests: the PostgreSQL server they use (trust auth on these machines).
#[cfg(test)]
pub(super) fn admin_url() -> SecretString {
    std::env::var("PAGOS_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
        .into()
}

/// Tests: a fresh PostgreSQL database with the schema, its store and its URL.
#[cfg(test)]
pub(super) async fn fresh_database() -> (super::Store, String) {
    use secrecy::ExposeSecret;
    use sqlx::Connection;
    let admin = admin_url().expose_secret().to_owned();
    let name = format!("pagos_test_{}", uuid::Uuid::new_v4().simple());
    sqlx::any::install_default_drivers();
    let mut conn = AnyConnection::connect(&admin).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let url = format!("{}/{name}", admin.rsplit_once('/').unwrap().0);
    let store = super::Store::connect(&url.clone().into()).await.unwrap();
    (store, url)
}

/// Commits `writes` on `conn` as one group, as a writer does (`BEGIN`, `run_jobs`, `COMMIT`);
/// their outputs, or the group's failure (the transaction rolled back).
#[cfg(test)]
pub(super) async fn commit_as_one_group<W: Write>(
    conn: &mut AnyConnection,
    writes: Vec<W>,
    now_ms: i64,
) -> Result<Vec<W::Output>, StoreError> {
    let mut answers = Vec::new();
    let mut jobs: Vec<Box<dyn Job>> = Vec::new();
    for write in writes {
        let (reply, answer) = oneshot::channel();
        answers.push(answer);
        jobs.push(Box::new(Pending {
            write,
            output: None,
            reply,
        }));
    }
    conn.execute("BEGIN").await?;
    if let Err(error) = run_jobs(conn, &mut jobs, now_ms).await {
        conn.execute("ROLLBACK").await?;
        return Err(error);
    }
    conn.execute("COMMIT").await?;
    jobs.into_iter().for_each(|job| job.answer(None));
    let mut outputs = Vec::new();
    for answer in answers {
        outputs.push(answer.await.map_err(|_| StoreError::WriteSuspended)??);
    }
    Ok(outputs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::group_commit::WriteFuture;
    use crate::store::tx::{args, Cell, Tx};
    use sqlx::AnyPool;

    /// Runs one statement outside the writer.
    async fn run_sql(pool: &AnyPool, text: String) {
        sqlx::query(sqlx::AssertSqlSafe(text))
            .execute(pool)
            .await
            .unwrap();
    }

    /// A connection outside the writer and a fresh table `{prefix}_…` of one column `v`.
    async fn scratch_table(prefix: &str) -> (AnyPool, String) {
        sqlx::any::install_default_drivers();
        let table = format!("{prefix}_{}", uuid::Uuid::new_v4().simple());
        let admin = AnyPool::connect(admin_url().expose_secret()).await.unwrap();
        run_sql(&admin, format!("CREATE TABLE {table} (v BIGINT NOT NULL)")).await;
        (admin, table)
    }

    /// Inserts `value` into `table`, or into a table that does not exist when `fail` is set.
    struct Insert {
        table: String,
        value: i64,
        fail: bool,
    }

    impl Write for Insert {
        type Output = i64;

        fn run<'c>(&'c self, tx: &'c mut dyn Tx, _now: i64) -> WriteFuture<'c, i64> {
            Box::pin(async move {
                let table = if self.fail { "missing" } else { &self.table };
                let sql = format!("INSERT INTO {table} (v) VALUES ($1)");
                tx.execute(&sql, &args![self.value]).await?;
                Ok(self.value)
            })
        }
    }

    /// Writers on the test server whose groups wait on the turns the test can hold.
    fn gated_writer() -> (PgGroupWriter, WriteTurns) {
        sqlx::any::install_default_drivers();
        let turns = WriteTurns::default();
        let writer =
            PgGroupWriter::start_taking(&admin_url(), turns.clone(), Gathering::new(GATHER_LIMIT))
                .unwrap();
        (writer, turns)
    }

    #[tokio::test]
    async fn a_burst_commits_in_groups_and_one_bad_write_fails_alone() {
        let (admin, table) = scratch_table("group_commit").await;
        let (writer, turns) = gated_writer();
        // While the turn is held, the burst queues up: every writer forms a group and waits,
        // the rest of the burst lands in the groups after them, the bad write among the others.
        let held = turns.lock().await;
        let burst: Vec<_> = (0..300)
            .map(|value| {
                let writer = writer.clone();
                let table = table.clone();
                tokio::spawn(async move {
                    let fail = value == 157;
                    (value, writer.write(Insert { table, value, fail }).await)
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(200)).await;
        drop(held);
        for task in burst {
            match task.await.unwrap() {
                (157, result) => assert!(result.is_err(), "the bad write reports its failure"),
                (value, result) => assert_eq!(result.unwrap(), value),
            }
        }
        let rows: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(&admin)
                .await
                .unwrap();
        let sum: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT CAST(SUM(v) AS BIGINT) FROM {table}"
        )))
        .fetch_one(&admin)
        .await
        .unwrap();
        writer.close().await;
        run_sql(&admin, format!("DROP TABLE {table}")).await;
        assert_eq!(
            rows, 299,
            "every good write committed once, the bad one not"
        );
        assert_eq!(sum, (0..300).sum::<i64>() - 157);
    }

    /// Runs one statement.
    struct Statement(String);

    impl Write for Statement {
        type Output = u64;

        fn run<'c>(&'c self, tx: &'c mut dyn Tx, _now: i64) -> WriteFuture<'c, u64> {
            Box::pin(async move { tx.execute(&self.0, &[]).await })
        }
    }

    #[tokio::test]
    async fn a_group_waiting_on_a_row_lock_does_not_hold_up_the_other_writers() {
        let (admin, table) = scratch_table("group_overlap").await;
        run_sql(&admin, format!("INSERT INTO {table} (v) VALUES (1)")).await;
        // Another session holds the row, as another replica's group would.
        let mut holder = admin.begin().await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT v FROM {table} WHERE v = 1 FOR UPDATE"
        )))
        .execute(&mut *holder)
        .await
        .unwrap();
        let writer = PgGroupWriter::start(&admin_url()).unwrap();
        let blocked = tokio::spawn({
            let writer = writer.clone();
            let update = format!("UPDATE {table} SET v = 10 WHERE v = 1");
            async move { writer.write(Statement(update)).await }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        // While that group waits for the lock, another writer commits the next one.
        let other = writer.write(Statement(format!("INSERT INTO {table} (v) VALUES (2)")));
        let inserted = tokio::time::timeout(Duration::from_secs(10), other).await;
        assert!(!blocked.is_finished(), "the first group still waits");
        holder.rollback().await.unwrap();
        assert_eq!(blocked.await.unwrap().unwrap(), 1);
        writer.close().await;
        run_sql(&admin, format!("DROP TABLE {table}")).await;
        assert_eq!(
            inserted
                .expect("one waiting group held up every writer")
                .unwrap(),
            1
        );
    }

    /// The one row's `value` that `sql` selects.
    async fn select_value<T: Cell>(tx: &mut dyn Tx, sql: &str) -> Result<T, StoreError> {
        let rows = tx.fetch_all(sql, &[]).await?;
        rows[0].get("value")
    }

    /// Reads its transaction's id. With `hold`, `(started, release)`, it then notifies
    /// `started` and waits for `release`, inside its transaction.
    struct TransactionId {
        hold: Option<(Arc<tokio::sync::Notify>, Arc<tokio::sync::Notify>)>,
    }

    impl Write for TransactionId {
        type Output = i64;

        fn run<'c>(&'c self, tx: &'c mut dyn Tx, _now: i64) -> WriteFuture<'c, i64> {
            Box::pin(async move {
                let id = select_value(tx, "SELECT CAST(txid_current() AS BIGINT) AS value").await;
                if let Some((started, release)) = &self.hold {
                    started.notify_one();
                    release.notified().await;
                }
                id
            })
        }
    }

    /// A writer that waits for its statement slot as long as a test may need, and a write it
    /// has taken that holds the slot, inside its transaction, until released: the write's
    /// task, and what releases it.
    async fn a_group_running_its_statements() -> (
        PgGroupWriter,
        Gathering,
        tokio::task::JoinHandle<Result<i64, StoreError>>,
        Arc<tokio::sync::Notify>,
    ) {
        sqlx::any::install_default_drivers();
        let gathering = Gathering::new(Duration::from_secs(60));
        let writer =
            PgGroupWriter::start_taking(&admin_url(), WriteTurns::default(), gathering.clone())
                .unwrap();
        let (started, release) = (Arc::default(), Arc::new(tokio::sync::Notify::new()));
        let held = tokio::spawn({
            let writer = writer.clone();
            let hold = Some((Arc::clone(&started), Arc::clone(&release)));
            async move { writer.write(TransactionId { hold }).await }
        });
        started.notified().await;
        (writer, gathering, held, release)
    }

    #[tokio::test]
    async fn under_load_writes_arriving_while_a_group_runs_its_statements_gather_into_one() {
        let (writer, gathering, held, release) = a_group_running_its_statements().await;
        // Load: the last group took two writes.
        gathering.took(2);
        // Writes arrive one at a time. The other writers are idle; without gathering each
        // would take one, in transactions of their own.
        let mut later = Vec::new();
        for n in 0..5 {
            let handle = writer.clone();
            later.push(tokio::spawn(async move {
                handle.write(TransactionId { hold: None }).await
            }));
            // One writer holds the first and waits for the slot; the rest stay queued.
            tokio::time::timeout(Duration::from_secs(10), until_queued(&writer, n))
                .await
                .expect("another writer took a write while a group ran its statements");
        }
        release.notify_one();
        let first = held.await.unwrap().unwrap();
        let mut ids = std::collections::BTreeSet::new();
        for write in later {
            ids.insert(write.await.unwrap().unwrap());
        }
        writer.close().await;
        assert_eq!(ids.len(), 1, "the five writes gathered into one group");
        assert!(!ids.contains(&first));
    }

    #[tokio::test]
    async fn without_load_a_write_does_not_wait_for_a_group_running_its_statements() {
        // The held write's group took one write: no load.
        let (writer, _gathering, held, release) = a_group_running_its_statements().await;
        let alone = tokio::time::timeout(
            Duration::from_secs(10),
            writer.write(TransactionId { hold: None }),
        )
        .await;
        assert!(!held.is_finished(), "the first group still runs");
        release.notify_one();
        let first = held.await.unwrap().unwrap();
        writer.close().await;
        let alone = alone
            .expect("a write without load waited for the group's statements")
            .unwrap();
        assert_ne!(alone, first);
    }

    /// Waits until exactly `n` writes wait in the queue (the writers took the rest).
    async fn until_queued(writer: &PgGroupWriter, n: usize) {
        while QUEUE - writer.jobs.capacity() != n {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Reads a setting of its transaction (`name`); durable and planned generically or not as
    /// told.
    struct Setting {
        name: &'static str,
        durable: bool,
        generic: bool,
    }

    impl Write for Setting {
        type Output = String;

        fn run<'c>(&'c self, tx: &'c mut dyn Tx, _now: i64) -> WriteFuture<'c, String> {
            Box::pin(async move {
                let sql = format!("SELECT current_setting('{}') AS value", self.name);
                select_value(tx, &sql).await
            })
        }

        fn durable(&self) -> bool {
            self.durable
        }

        fn generic_plan(&self) -> bool {
            self.generic
        }
    }

    /// Reads whether its commit waits for the flush.
    fn sync_level(durable: bool) -> Setting {
        Setting {
            name: "synchronous_commit",
            durable,
            generic: false,
        }
    }

    /// Reads how its statements are planned.
    fn plan_mode(generic: bool) -> Setting {
        Setting {
            name: "plan_cache_mode",
            durable: true,
            generic,
        }
    }

    #[tokio::test]
    async fn a_group_flushes_at_commit_when_any_write_in_it_is_durable() {
        let (writer, turns) = gated_writer();
        let alone = |durable| writer.write(sync_level(durable));
        assert_eq!(
            alone(false).await.unwrap(),
            "off",
            "a claim alone skips the flush"
        );
        assert_eq!(alone(true).await.unwrap(), "on");

        // Queued together behind busy writers, a claim shares the durable write's flush.
        let settings = in_one_group(&writer, &turns, [sync_level(false), sync_level(true)]).await;
        assert_eq!(settings, ["on", "on"]);
        writer.close().await;
    }

    /// `writes`, taken as one group: queued while every writer holds a durable write of its own
    /// and waits for the turn held here. The busy writes are queued one at a time, so that each
    /// writer takes one (all at once, on a slow machine, one writer took several and left
    /// another free). What each of `writes` read.
    async fn in_one_group(
        writer: &PgGroupWriter,
        turns: &WriteTurns,
        writes: [Setting; 2],
    ) -> Vec<String> {
        let held = turns.lock().await;
        let mut busy = Vec::new();
        for _ in 0..WRITERS {
            busy.push(queued(writer, sync_level(true)).await);
            until_queued(writer, 0).await;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut answers = Vec::new();
        for write in writes {
            answers.push(queued(writer, write).await);
        }
        drop(held);
        for answer in busy {
            answer.await.unwrap().unwrap();
        }
        let mut settings = Vec::new();
        for answer in answers {
            settings.push(answer.await.unwrap().unwrap());
        }
        settings
    }

    #[tokio::test]
    async fn a_group_of_writes_planned_generically_alone_runs_so() {
        let (writer, turns) = gated_writer();
        let alone = |generic| writer.write(plan_mode(generic));
        for generic in [true, false, true, true, false] {
            let mode = alone(generic).await.unwrap();
            assert_eq!(mode == "force_generic_plan", generic, "{mode}");
        }
        // Together with any other write, the server plans as it chooses.
        let settings = in_one_group(&writer, &turns, [plan_mode(true), plan_mode(false)]).await;
        assert_eq!(settings, ["auto", "auto"]);
        writer.close().await;
    }

    /// Queues `write` itself (so it is in the queue on return); its answer, once committed.
    async fn queued<W: Write>(
        writer: &PgGroupWriter,
        write: W,
    ) -> oneshot::Receiver<Result<W::Output, StoreError>> {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Pending {
            write,
            output: None,
            reply,
        });
        assert!(writer.jobs.send(job).await.is_ok(), "the writers are gone");
        answer
    }

    /// Two writes queued behind the turns, the second once a writer has taken the first, then a
    /// moment for any writer free to take it: the connections they ran on.
    async fn two_writes_behind_a_held_turn(
        writer: &PgGroupWriter,
        turns: &WriteTurns,
    ) -> (i64, i64) {
        let held = turns.lock().await;
        let first = queued(writer, BackendPid).await;
        until_queued(writer, 0).await;
        let second = queued(writer, BackendPid).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        drop(held);
        (
            first.await.unwrap().unwrap(),
            second.await.unwrap().unwrap(),
        )
    }

    #[tokio::test]
    async fn while_the_database_is_shared_one_writer_takes_the_writes() {
        let (writer, turns) = gated_writer();
        // Alone: a write queued while one writer waits with its group goes to another.
        let (first, second) = two_writes_behind_a_held_turn(&writer, &turns).await;
        assert_ne!(first, second, "alone, a second writer takes writes");
        assert!(writer.share(true), "shared from now on");
        assert!(!writer.share(true), "no change");
        // The first writer takes every write; the second stands aside.
        for _ in 0..3 {
            let (first, second) = two_writes_behind_a_held_turn(&writer, &turns).await;
            assert_eq!(first, second, "shared, one writer takes every write");
        }
        assert!(writer.share(false));
        let (first, second) = two_writes_behind_a_held_turn(&writer, &turns).await;
        assert_ne!(first, second, "alone again, both writers take writes");
        writer.close().await;
    }

    /// The server process of the connection the write ran on.
    struct BackendPid;

    impl Write for BackendPid {
        type Output = i64;

        fn run<'c>(&'c self, tx: &'c mut dyn Tx, _now: i64) -> WriteFuture<'c, i64> {
            Box::pin(select_value(
                tx,
                "SELECT CAST(pg_backend_pid() AS BIGINT) AS value",
            ))
        }
    }

    /// Writes round every writer: none fails, and none runs on a connection of `dropped`.
    async fn writes_on_new_connections<W: Write<Output = i64>>(
        writer: &PgGroupWriter,
        write: impl Fn() -> W,
        dropped: &std::collections::BTreeSet<i64>,
    ) {
        for _ in 0..2 * WRITERS {
            let pid = writer
                .write(write())
                .await
                .expect("written on a new connection");
            assert!(
                !dropped.contains(&pid),
                "a dropped connection was used again"
            );
        }
    }

    /// `BackendPid` as one statement, like a record batch on PostgreSQL; durable or not, and if
    /// not, saying so in its statement (as a claim does) or not.
    #[derive(Clone, Copy)]
    struct OneStatementPid {
        durable: bool,
        says_not_durable: bool,
    }

    const DURABLE_PID: OneStatementPid = OneStatementPid {
        durable: true,
        says_not_durable: false,
    };

    impl Write for OneStatementPid {
        type Output = i64;

        fn run<'c>(&'c self, tx: &'c mut dyn Tx, now: i64) -> WriteFuture<'c, i64> {
            BackendPid.run(tx, now)
        }

        fn one_statement(&self) -> bool {
            true
        }

        fn durable(&self) -> bool {
            self.durable
        }

        fn says_not_durable(&self) -> bool {
            self.says_not_durable
        }
    }

    /// Writes `write` round the writers; how many ran as their own transaction, which a
    /// connection's first write never does. `seen` gains the connections used.
    async fn writes_alone(
        writer: &PgGroupWriter,
        admin: &AnyPool,
        write: OneStatementPid,
        seen: &mut std::collections::BTreeSet<i64>,
    ) -> usize {
        let mut alone = 0;
        for _ in 0..3 * WRITERS {
            let pid = writer.write(write).await.unwrap();
            // The last statement the connection ran: `COMMIT` ends a transaction `BEGIN` opened.
            let query: String = sqlx::query_scalar(
                "SELECT query FROM pg_stat_activity WHERE pid = CAST($1 AS INTEGER)",
            )
            .bind(pid)
            .fetch_one(admin)
            .await
            .unwrap();
            if seen.insert(pid) {
                assert_eq!(query, "COMMIT", "a new connection has not answered yet");
            } else if query != "COMMIT" {
                alone += 1;
            }
        }
        alone
    }

    #[tokio::test]
    async fn a_one_statement_write_skips_begin_only_on_a_connection_that_answered_lately() {
        sqlx::any::install_default_drivers();
        let admin = AnyPool::connect(admin_url().expose_secret()).await.unwrap();
        let writer = PgGroupWriter::start(&admin_url()).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        let alone = writes_alone(&writer, &admin, DURABLE_PID, &mut seen).await;
        assert!(alone > 0, "no write ran as its own transaction");
        // After a quiet spell the write goes through `BEGIN` again, which finds a connection the
        // server dropped meanwhile without failing the write.
        for pid in &seen {
            sqlx::query("SELECT pg_terminate_backend(CAST($1 AS INTEGER))")
                .bind(pid)
                .execute(&admin)
                .await
                .unwrap();
        }
        tokio::time::sleep(ANSWERED_LATELY + Duration::from_millis(200)).await;
        writes_on_new_connections(&writer, || DURABLE_PID, &seen).await;
        writer.close().await;
    }

    #[tokio::test]
    async fn a_write_that_need_not_be_durable_skips_begin_only_if_its_statement_says_so() {
        sqlx::any::install_default_drivers();
        let admin = AnyPool::connect(admin_url().expose_secret()).await.unwrap();
        let writer = PgGroupWriter::start(&admin_url()).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        let says = OneStatementPid {
            durable: false,
            says_not_durable: true,
        };
        assert!(writes_alone(&writer, &admin, says, &mut seen).await > 0);
        let silent = OneStatementPid {
            durable: false,
            says_not_durable: false,
        };
        // Without `BEGIN; SET LOCAL synchronous_commit TO OFF` its commit would wait for the flush.
        assert_eq!(writes_alone(&writer, &admin, silent, &mut seen).await, 0);
        writer.close().await;
    }

    #[tokio::test]
    async fn a_connection_the_server_dropped_is_replaced_without_failing_a_write() {
        let (admin, table) = scratch_table("writer_conn").await;
        let writer = PgGroupWriter::start(&admin_url()).unwrap();
        // One write after another goes round the writers: each opens and keeps a connection.
        let mut kept = std::collections::BTreeSet::new();
        for _ in 0..2 * WRITERS {
            kept.insert(writer.write(BackendPid).await.unwrap());
        }
        for pid in &kept {
            run_sql(&admin, format!("SELECT pg_terminate_backend({pid})")).await;
        }
        writes_on_new_connections(&writer, || BackendPid, &kept).await;
        writer.close().await;
        run_sql(&admin, format!("DROP TABLE {table}")).await;
    }

    /// Nagle's algorithm holds a small write back until the one before it is acknowledged.
    /// Over TLS a statement can leave in more than one write, and the later ones then wait for
    /// the server's delayed ACK: with sqlx 0.9.0, which left Nagle on, webhook intake over TLS
    /// ran at a third of its rate. Every connection the store opens must turn it off.
    #[tokio::test]
    async fn every_connection_to_postgresql_sends_without_waiting_for_acks() {
        let (store, url) = fresh_database().await;
        // Connecting registered the instance: a write, so a writer's connection is open too.
        store.ping().await.unwrap();
        let port = url::Url::parse(&url)
            .unwrap()
            .port_or_known_default()
            .unwrap();
        let connections = tcp_connections_to(port);
        assert!(
            connections.len() >= 2,
            "the pool's and a writer's connections, found {}",
            connections.len()
        );
        for (fd, nodelay) in connections {
            assert!(
                nodelay,
                "the connection on fd {fd} has Nagle's algorithm on"
            );
        }
        store.close().await;
    }

    /// This process's TCP sockets whose peer listens on `port`, each with whether it has
    /// Nagle's algorithm off (`TCP_NODELAY`). Other tests' connections count too: theirs are
    /// the store's as well.
    fn tcp_connections_to(port: u16) -> Vec<(i32, bool)> {
        use std::os::fd::BorrowedFd;
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc/self/fd").unwrap().flatten() {
            let Ok(fd) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            // SAFETY: only read through, while this function runs. On an fd that is not a
            // socket the calls fail (skipped); if another test closes the fd meanwhile, they
            // fail too or read a newer socket, which the peer's port then filters like any other.
            let fd_ref = unsafe { BorrowedFd::borrow_raw(fd) };
            let socket = socket2::SockRef::from(&fd_ref);
            let peer = socket.peer_addr().ok().and_then(|peer| peer.as_socket());
            if peer.is_some_and(|peer| peer.port() == port) {
                if let Ok(nodelay) = socket.tcp_nodelay() {
                    found.push((fd, nodelay));
                }
            }
        }
        found
    }
}
