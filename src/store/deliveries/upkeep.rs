//! Upkeep of the relay's tables on PostgreSQL, from the housekeeping tick: the lease table's
//! dead rows made reusable, and a young outbox's statistics taken.

use crate::store::{Backend, Store, StoreError};

/// Makes the space of ended leases reusable (PostgreSQL). Every lease taken and ended leaves a
/// dead row, and a claim reads the whole lease table once per statement; autovacuum comes at
/// most once a minute, so at 1,000 deliveries a second the table grew to 200-300 pages
/// between its visits (at 16 leases live), and each claim read them all. `SKIP_LOCKED`: a
/// replica already vacuuming it is enough. `TRUNCATE false`: the end of the table is left as it
/// is, so this takes no lock that a claim or a record would wait on. A role that does not own
/// the table gets a warning from the server and nothing done; autovacuum still comes.
const TIDY_LEASES: &str = "VACUUM (SKIP_LOCKED, TRUNCATE false) delivery_leases";

/// Whether `deliveries` changed by more rows since its statistics were taken than it held then,
/// plus 1,000: a young store, whose statistics (none, or of an empty table) have the planner take
/// a backlog for a row or two. Planned so, a read of the queue checked each pending notification
/// against every other (a nested loop for "first of its subject"): 13.7 s for 6,235 pending, 40 s
/// after a store's start, before autovacuum's first visit. A grown table is left to autovacuum.
const DELIVERIES_STATISTICS_LAG: &str = "SELECT CASE WHEN s.n_mod_since_analyze > 1000 + \
     GREATEST(c.reltuples, 0) THEN 1 ELSE 0 END AS lags FROM pg_stat_user_tables s \
     JOIN pg_class c ON c.oid = s.relid WHERE s.relid = CAST('deliveries' AS regclass)";

/// Whether at least `$1` notifications are pending (counted up to four times that, through the
/// partial indexes of pending ones) and the statistics of `deliveries` expect fewer than a
/// quarter of them. Statistics taken while the relay keeps up expect a pending notification or
/// two, and the planner then takes a whole walk of a partial index of pending ones for free:
/// it read each head's earlier notification of its order that way, every head against every
/// pending one. Under a steady intake on a young store (analyzed by the rule above at a quiet
/// moment), a blip of 2,994 pending made one read of the queue take 11 s, and the relay fell
/// 10,000 behind (BENCHMARKS.md, "2026-12-07 evening"); an outage on a grown store, whose
/// autovacuum analyzes after a tenth of the table changed, would have its backlog read so
/// until then. That lookup now has an index no other plan can stand in for
/// (`deliveries_first_of_subject`, "2026-12-07 late evening"); the heads' own reads still plan
/// from these statistics.
const PENDING_UNSEEN: &str = "SELECT CASE WHEN p.pending >= $1 AND 4 * COALESCE((\
       SELECT m.freq FROM pg_stats s CROSS JOIN LATERAL unnest(\
         CAST(CAST(s.most_common_vals AS text) AS text[]), s.most_common_freqs) AS m(value, freq) \
       WHERE s.schemaname = current_schema() AND s.tablename = 'deliveries' \
         AND s.attname = 'status' AND m.value = 'pending'), 0) * GREATEST(c.reltuples, 0) \
       < p.pending THEN 1 ELSE 0 END AS unseen \
     FROM (SELECT COUNT(*) AS pending FROM (SELECT 1 FROM deliveries WHERE status = 'pending' \
       LIMIT 4 * $1) AS b) AS p, pg_class c WHERE c.oid = CAST('deliveries' AS regclass)";

/// A backlog `PENDING_UNSEEN` looks for: one whose reads, planned as if nothing were pending,
/// cost a second or more.
const UNSEEN_BACKLOG: i64 = 1_000;

/// Why `tidy_relay_tables` had the outbox analyzed, if it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Analyzed {
    No,
    /// Young: its statistics lag its size (`DELIVERIES_STATISTICS_LAG`).
    Young,
    /// A backlog its statistics did not expect (`PENDING_UNSEEN`).
    UnseenBacklog,
}

impl Store {
    /// On PostgreSQL, `TIDY_LEASES`, and `ANALYZE deliveries` where its statistics lag (see
    /// `DELIVERIES_STATISTICS_LAG`) or, if `backlog_check`, expect far fewer pending than there
    /// are (`PENDING_UNSEEN`; the caller spaces these out: a sample that still misses the
    /// backlog would be taken again at every tidy). `SKIP_LOCKED`: a replica already at it is
    /// enough. Nothing on SQLite, where one replica reuses the pages its deletes free and plans
    /// without statistics.
    pub async fn tidy_relay_tables(&self, backlog_check: bool) -> Result<Analyzed, StoreError> {
        if self.backend() != Backend::Postgres {
            return Ok(Analyzed::No);
        }
        // The simple protocol: `VACUUM` runs outside any transaction block.
        sqlx::raw_sql(TIDY_LEASES).execute(self.pool()).await?;
        let lags: Option<i64> = sqlx::query_scalar(DELIVERIES_STATISTICS_LAG)
            .fetch_optional(self.pool())
            .await?;
        let why = if lags == Some(1) {
            Analyzed::Young
        } else if backlog_check
            && sqlx::query_scalar::<_, i64>(PENDING_UNSEEN)
                .bind(UNSEEN_BACKLOG)
                .fetch_optional(self.pool())
                .await?
                == Some(1)
        {
            Analyzed::UnseenBacklog
        } else {
            return Ok(Analyzed::No);
        };
        sqlx::raw_sql("ANALYZE (SKIP_LOCKED) deliveries")
            .execute(self.pool())
            .await?;
        Ok(why)
    }
}

#[cfg(test)]
mod tests {
    use super::super::leases::tests::{a_backlog_the_statistics_never_saw, TEN_TARGETS};
    use super::Analyzed;
    use crate::store::pg_group_commit::fresh_database;
    use sqlx::{AnyConnection, AssertSqlSafe, Connection};

    /// Sixteen leases taken and ended `rounds` times, each round committed; the lease table's
    /// pages afterwards.
    async fn leases_taken_and_ended(conn: &mut AnyConnection, rounds: usize) -> i64 {
        for _ in 0..rounds {
            sqlx::raw_sql(
                "INSERT INTO delivery_leases (delivery_id, target_key, lease_until_ms, \
                 lease_owner) SELECT 'msg_' || gen_random_uuid(), 'http://shop', 60000, 'me' \
                 FROM generate_series(1, 16); DELETE FROM delivery_leases",
            )
            .execute(&mut *conn)
            .await
            .unwrap();
        }
        sqlx::query_scalar("SELECT pg_relation_size('delivery_leases') / 8192")
            .fetch_one(conn)
            .await
            .unwrap()
    }

    /// Once tidied, the lease table takes new leases in the space the ended ones left: its
    /// pages stop growing. Left alone until a vacuum, it grows by the pages of every lease taken
    /// and ended (autovacuum comes at most once a minute, and this server may have it off).
    #[tokio::test]
    async fn a_tidied_lease_table_takes_new_leases_in_the_space_of_ended_ones() {
        let (store, url) = fresh_database().await;
        let mut conn = AnyConnection::connect(&url).await.unwrap();
        let grown = leases_taken_and_ended(&mut conn, 150).await;
        let untidied = leases_taken_and_ended(&mut conn, 150).await;
        assert!(
            untidied > grown + grown / 2,
            "{grown} then {untidied} pages"
        );
        store.tidy_relay_tables(false).await.unwrap();
        let tidied = leases_taken_and_ended(&mut conn, 150).await;
        assert!(tidied <= untidied, "{untidied} then {tidied} pages");
    }

    /// A young outbox (statistics of none, or of an empty table) gets its statistics at the next
    /// tidy, once it changed by more rows than it held: planned as if it held a row or two, a
    /// read of the queue checked each pending notification against every other.
    #[tokio::test]
    async fn a_young_outbox_gets_its_statistics_at_the_next_tidy() {
        let (store, url) = fresh_database().await;
        let reltuples = || async {
            sqlx::query_scalar::<_, f64>(
                "SELECT CAST(reltuples AS float8) FROM pg_class WHERE relname = 'deliveries'",
            )
            .fetch_one(store.pool())
            .await
            .unwrap()
        };
        // Written, not analyzed, from a connection that ends (so its counts reach the server's
        // statistics).
        let mut conn = AnyConnection::connect(&url).await.unwrap();
        let unanalyzed = TEN_TARGETS.replace("; ANALYZE deliveries", "");
        sqlx::raw_sql(AssertSqlSafe(unanalyzed))
            .execute(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        let counted = || async {
            sqlx::query_scalar::<_, i64>(
                "SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relname = 'deliveries'",
            )
            .fetch_one(store.pool())
            .await
            .unwrap()
        };
        for _ in 0..100 {
            if counted().await >= 3000 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(reltuples().await < 1.0, "not analyzed yet");
        store.tidy_relay_tables(false).await.unwrap();
        assert_eq!(reltuples().await, 3000.0);
        // Analyzed: the next tidy leaves it to autovacuum.
        assert_eq!(counted().await, 0);
    }

    /// A backlog the statistics never saw (taken when 3 of 30,000 were pending, then 3,000
    /// more queued) has the outbox analyzed at the next tidy that may look for one; then its
    /// statistics expect it, and the next tidy leaves it alone. A tidy that may not look leaves
    /// it too.
    #[tokio::test]
    async fn a_backlog_the_statistics_never_saw_has_them_taken_again() {
        let (store, url) = fresh_database().await;
        let mut conn = AnyConnection::connect(&url).await.unwrap();
        a_backlog_the_statistics_never_saw(&mut conn).await;
        let expected = || async {
            sqlx::query_scalar::<_, f64>(
                "SELECT CAST(COALESCE((SELECT m.freq FROM pg_stats s CROSS JOIN LATERAL \
                 unnest(CAST(CAST(s.most_common_vals AS text) AS text[]), \
                 s.most_common_freqs) AS m(value, freq) WHERE s.tablename = 'deliveries' \
                 AND s.attname = 'status' AND m.value = 'pending'), 0) * \
                 (SELECT reltuples FROM pg_class WHERE relname = 'deliveries') AS float8)",
            )
            .fetch_one(store.pool())
            .await
            .unwrap()
        };
        assert!(expected().await < 10.0, "{}", expected().await);
        assert_eq!(store.tidy_relay_tables(false).await.unwrap(), Analyzed::No);
        assert_eq!(
            store.tidy_relay_tables(true).await.unwrap(),
            Analyzed::UnseenBacklog
        );
        assert!(expected().await > 2_000.0, "{}", expected().await);
        assert_eq!(store.tidy_relay_tables(true).await.unwrap(), Analyzed::No);
    }
}
