//! Running pagos processes. Each registers when it connects and beats every second; a claim
//! names its owner, so a claim whose owner stopped beating is taken over at once instead of
//! after its lease (a retry after a crash is answered within the storefront's budget).

use super::group_commit::{Write, WriteFuture};
use super::tx::{args, Tx};
use super::{Store, StoreError, Writer};
use crate::clock;
use std::time::Duration;

/// How often a process says it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// An owner silent this long is taken to be dead.
pub const OWNER_SILENCE_MS: i64 = 3_000;

impl Store {
    /// Records this process as running.
    pub(super) async fn register_instance(&self) -> Result<(), StoreError> {
        self.write(Beat {
            id: self.instance().to_owned(),
        })
        .await
    }

    /// Beats until the store closes; spawned by the application.
    pub async fn keep_heartbeat(self) {
        let mut ticker = tokio::time::interval(HEARTBEAT);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if self.is_closed() {
                return;
            }
            if let Err(error) = self.register_instance().await {
                tracing::warn!(%error, "could not record this process's heartbeat");
            } else if let Err(error) = self.note_others_alive().await {
                tracing::warn!(%error, "could not count the other processes on this database");
            }
        }
    }

    /// On PostgreSQL, tells the writers whether other processes beat on the same database
    /// (`PgGroupWriter::share`): while they do, fewer writers take this process's writes.
    pub(super) async fn note_others_alive(&self) -> Result<(), StoreError> {
        let Writer::Postgres(writer) = &self.writer else {
            return Ok(());
        };
        let others: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM instances WHERE id <> $1 AND heartbeat_ms >= $2",
        )
        .bind(self.instance())
        .bind(clock::unix_ms() - OWNER_SILENCE_MS)
        .fetch_one(self.pool())
        .await?;
        if writer.share(others > 0) {
            tracing::info!(
                others,
                "other processes alive on this database, writers to match"
            );
        }
        Ok(())
    }

    /// Removes this process from the running ones (a clean stop): its claims are free at once.
    pub async fn forget_instance(&self) -> Result<(), StoreError> {
        self.write(Forget {
            id: self.instance().to_owned(),
        })
        .await
    }
}

struct Beat {
    id: String,
}

impl Write for Beat {
    type Output = ();

    /// A heartbeat lost in a power cut is only a missed beat.
    fn durable(&self) -> bool {
        false
    }

    fn run<'c>(&'c self, tx: &'c mut dyn Tx, now_ms: i64) -> WriteFuture<'c, ()> {
        Box::pin(async move {
            tx.execute(
                "INSERT INTO instances (id, started_at_ms, heartbeat_ms) VALUES ($1, $2, $2) \
                 ON CONFLICT (id) DO UPDATE SET heartbeat_ms = $2",
                &args![&self.id, now_ms],
            )
            .await?;
            // Rows of processes long gone: kept only as long as they can matter.
            tx.execute(
                "DELETE FROM instances WHERE heartbeat_ms < $1",
                &args![now_ms - 3_600_000],
            )
            .await?;
            Ok(())
        })
    }
}

struct Forget {
    id: String,
}

impl Write for Forget {
    type Output = ();

    fn run<'c>(&'c self, tx: &'c mut dyn Tx, _now_ms: i64) -> WriteFuture<'c, ()> {
        Box::pin(async move {
            tx.execute("DELETE FROM instances WHERE id = $1", &args![&self.id])
                .await?;
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::pg_group_commit::fresh_database;

    fn shared(store: &Store) -> bool {
        match &store.writer {
            Writer::Postgres(writer) => writer.shared(),
            Writer::Sqlite(_) => unreachable!("a PostgreSQL store"),
        }
    }

    #[tokio::test]
    async fn a_process_tells_its_writers_whether_others_beat_on_its_database() {
        let (first, url) = fresh_database().await;
        // A process that stopped beating a while ago does not count.
        sqlx::query(
            "INSERT INTO instances (id, started_at_ms, heartbeat_ms) VALUES ('gone', 0, $1)",
        )
        .bind(clock::unix_ms() - OWNER_SILENCE_MS - 1_000)
        .execute(first.pool())
        .await
        .unwrap();
        first.note_others_alive().await.unwrap();
        assert!(!shared(&first), "alone");
        let second = Store::connect(&url.clone().into()).await.unwrap();
        assert!(
            shared(&second),
            "one that joins sees the other as it connects"
        );
        first.note_others_alive().await.unwrap();
        assert!(shared(&first), "the other sees it at its next beat");
        second.forget_instance().await.unwrap();
        second.close().await;
        first.note_others_alive().await.unwrap();
        assert!(!shared(&first), "alone again once the other stopped");
        first.close().await;
    }
}
