//! The durable store: SQLite (one replica, the default) or PostgreSQL (several replicas), behind
//! one interface. It holds every table pagos keeps (claims, the order map, events taken in and
//! held, the relay's outbox, running processes) and the SQL that reads and writes them: reads run
//! on sqlx's `Any` pool, and every write is a `Write` committed by `Store::write`, group-committed
//! on both (one writer thread on SQLite, a few writer connections on PostgreSQL). Migrations run at start. It speaks
//! in its own types and depends only on `crate::clock` and `crate::domain`, never on
//! `providers`, `relay`, `http` or `sandbox`, which depend on it.

mod checkpoint;
mod claims;
mod deliveries;
mod events;
mod group_commit;
mod held;
mod instances;
mod intake_together;
mod orders;
mod pg_group_commit;
mod references;
#[cfg(test)]
mod sqlite_plans;
mod tx;

pub use claims::{
    Abandon, Claim, ClaimKey, ClaimScope, ClaimTarget, EarlierAttempt, Finish, NewClaim, OwnedClaim,
};
pub use deliveries::{
    Analyzed, AttemptNext, AttemptRecord, AttemptView, ClaimedDelivery, DeliveryFilter,
    DeliveryStatus, DeliveryView, DueWindow, QueueStats, ReadStart, RetryRequest, Slot,
    UnknownStatus,
};
pub use events::{IncomingEvent, Ingested, NewDelivery, OrderContext};
pub use held::{BuildHeld, HeldEvent, HeldSweep};
pub use orders::OrderRecord;
pub use references::{NewReference, StoredReference};

use group_commit::{GroupWriter, Write};
use pg_group_commit::PgGroupWriter;
use secrecy::{ExposeSecret, SecretString};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Connection, Executor};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL: use sqlite://… or postgres://…")]
    UnsupportedUrl,
    #[error("cannot connect: {0}")]
    Unreachable(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("the SQLite database must be a file")]
    SqliteNotAFile,
    #[error("cannot start the SQLite writer: {0}")]
    WriterThread(#[source] std::io::Error),
    #[error("a write waited on something other than its transaction")]
    WriteSuspended,
    #[error("cannot make the commit durable: {0}")]
    SyncLevel(String),
    #[error("events were released for an order that is not recorded")]
    MissingOrder,
}

#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// The group-commit writer every write goes through.
    writer: Writer,
    /// This process, as claims name their owner (`instances.rs`).
    instance: std::sync::Arc<str>,
}

/// Group commit, per backend.
#[derive(Clone)]
enum Writer {
    /// One thread with its own connection (`group_commit.rs`).
    Sqlite(GroupWriter),
    /// A few tasks with connections of their own (`pg_group_commit.rs`).
    Postgres(PgGroupWriter),
}

/// How long the first connection may take before the start gives up on the database.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Run on every PostgreSQL connection pagos opens. Every statement pagos sends is a small
/// transaction's; the planner's estimates for statements that take their rows as one JSON
/// parameter are rough (a set-returning function counts as 100 rows), and past a cost of
/// 100,000 the server would compile the plan to machine code first: 10-20 ms for a statement
/// that runs in under one.
pub(crate) const PG_SESSION_SETUP: &str = "SET jit = off";

impl Store {
    /// Connects, tunes SQLite for durability (WAL, full sync) and applies pending migrations.
    pub async fn connect(secret_url: &SecretString) -> Result<Self, StoreError> {
        sqlx::any::install_default_drivers();
        let url = secret_url.expose_secret();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl);
        };
        // One connection first, so that a database that cannot be reached says why (refused,
        // unknown host, bad password, TLS) instead of a pool that only times out.
        let probe = tokio::time::timeout(CONNECT_TIMEOUT, sqlx::AnyConnection::connect(url)).await;
        match probe {
            Ok(Ok(conn)) => {
                let _ = conn.close().await;
            }
            Ok(Err(error)) => return Err(StoreError::Unreachable(error.to_string())),
            Err(_) => {
                return Err(StoreError::Unreachable(format!(
                    "no answer within {} s",
                    CONNECT_TIMEOUT.as_secs()
                )))
            }
        }
        let pool = AnyPoolOptions::new()
            .max_connections(match backend {
                Backend::Sqlite => 8,
                Backend::Postgres => 16,
            })
            .acquire_timeout(Duration::from_secs(5))
            // A connection to a local SQLite file does not go stale: no ping per checkout.
            .test_before_acquire(backend == Backend::Postgres)
            .after_connect(|conn, _meta| {
                Box::pin(async move {
                    if conn.backend_name().eq_ignore_ascii_case("sqlite") {
                        conn.execute(sqlx::raw_sql(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; \
                             PRAGMA busy_timeout = 5000;",
                        ))
                        .await?;
                    } else {
                        conn.execute(PG_SESSION_SETUP).await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        // A database a newer release has migrated is still served: migrations only expand
        // (deploy/README.md), so a pod of this release may run beside (or after) a newer one.
        let mut migrator = sqlx::migrate!("./migrations");
        migrator.set_ignore_missing(true);
        migrator.run(&pool).await?;
        // Writes share commits (and their fsync): on SQLite, made by a writer thread with a
        // connection of its own; on PostgreSQL, by a few writers with connections of their own.
        let writer = match backend {
            Backend::Sqlite => {
                let file = database_file(&pool).await?;
                let writer =
                    GroupWriter::start(open_writer(&file)?).map_err(StoreError::WriterThread)?;
                checkpoint::start(open_writer(&file)?, writer.liveness())
                    .map_err(StoreError::WriterThread)?;
                Writer::Sqlite(writer)
            }
            Backend::Postgres => Writer::Postgres(PgGroupWriter::start(secret_url)?),
        };
        let store = Self {
            pool,
            backend,
            writer,
            instance: uuid::Uuid::now_v7().simple().to_string().into(),
        };
        store.register_instance().await?;
        // A replica that joins takes its share of writes with one writer from the start.
        store.note_others_alive().await?;
        Ok(store)
    }

    /// This process's id, as the owner of its claims.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    pub fn is_closed(&self) -> bool {
        self.pool.is_closed()
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// True when the store answers a trivial query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        conn.ping().await?;
        Ok(())
    }

    pub async fn close(&self) {
        match &self.writer {
            Writer::Sqlite(writer) => writer.close(),
            Writer::Postgres(writer) => writer.close().await,
        }
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Upkeep that deletes what ended (`write(limit)` deletes at most `limit` rows, oldest
    /// first, and says how many): a batch a write with a pause after each full one, until one
    /// is not full, so the writer serves creates and events meanwhile; how many in all. One
    /// statement for everything took 3.2 s of SQLite's writer for 60,000 ended claims.
    async fn delete_in_batches<W: Write<Output = u64>>(
        &self,
        write: impl Fn(i64) -> W,
    ) -> Result<u64, StoreError> {
        let mut deleted = 0;
        loop {
            let batch = self.write(write(UPKEEP_BATCH)).await?;
            deleted += batch;
            if batch < UPKEEP_BATCH as u64 {
                return Ok(deleted);
            }
            tokio::time::sleep(UPKEEP_PAUSE).await;
        }
    }

    /// Commits `write`, the one way the store writes: group-committed, so one commit (and one
    /// flush to disk) serves the writes that arrive together.
    async fn write<W: Write>(&self, write: W) -> Result<W::Output, StoreError> {
        match &self.writer {
            Writer::Sqlite(writer) => writer.write(write).await,
            Writer::Postgres(writer) => writer.write(write).await,
        }
    }
}

/// Rows one write of upkeep deletes at most (ended claims: on SQLite about 8 ms of the
/// writer's time, a create's wait at worst), and the pause after a full batch: upkeep then
/// takes at most about half of the writer's time while it catches up.
pub(super) const UPKEEP_BATCH: i64 = 100;
const UPKEEP_PAUSE: Duration = Duration::from_millis(10);

/// The file the pool's SQLite database lives in.
async fn database_file(pool: &AnyPool) -> Result<String, StoreError> {
    let rows = sqlx::query("PRAGMA database_list").fetch_all(pool).await?;
    let mut file = None;
    for row in &rows {
        if column::<String>(row, "name")? == "main" {
            file = Some(column::<String>(row, "file")?);
        }
    }
    file.filter(|file| !file.is_empty())
        .ok_or(StoreError::SqliteNotAFile)
}

/// A connection of the writer's own (or its checkpointer's) to `file`, with the pool's
/// durability. It never checkpoints on commit: `checkpoint.rs` does that off the write path.
fn open_writer(file: &str) -> Result<rusqlite::Connection, StoreError> {
    let conn = rusqlite::Connection::open_with_flags(
        file,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // WAL is a property of the file (set by the pool); durability and waiting are per connection.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "wal_autocheckpoint", 0)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Reads a column, mapping a decode failure to a store error.
pub(crate) fn column<'r, T>(row: &'r AnyRow, name: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    use sqlx::Row;
    Ok(row.try_get(name)?)
}
