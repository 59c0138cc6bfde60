//! SQLite WAL checkpoints, off the write path. Left to SQLite, the commit that fills the WAL past
//! 1,000 pages copies them into the database file and fsyncs it before it returns, stalling every
//! write queued behind it for milliseconds. The group writer turns that off; this thread copies
//! committed pages back on a timer instead, concurrently with the writer (a PASSIVE checkpoint
//! waits for no one).

use std::sync::Weak;
use std::time::Duration;

/// How often committed pages are copied back. Small, frequent checkpoints keep each one short:
/// at 500 creates/s, one every second measured a p99 of 2.0-3.0 ms, one every 50 ms 1.1-2.5 ms.
/// A checkpoint that empties the WAL makes the next write start it over, which fsyncs the WAL's
/// new header; at 500 creates/s one create in 25 pays that, and 250 ms was still worse (longer
/// checkpoints hold the disk). When the WAL is empty a checkpoint only reads the WAL index.
const EVERY: Duration = Duration::from_millis(50);

/// Runs checkpoints on `conn` until `alive` can no longer be upgraded (the store is gone).
pub(super) fn start(conn: rusqlite::Connection, alive: Weak<()>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("pagos-sqlite-checkpoint".into())
        .spawn(move || {
            let mut failing = false;
            while alive.strong_count() > 0 {
                std::thread::sleep(EVERY);
                let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                    row.get::<_, i64>(0)
                });
                match done {
                    // Said once per spell of failures, not ten times a second.
                    Err(error) if !failing => {
                        tracing::warn!(%error, "WAL checkpoint failed; retrying");
                        failing = true;
                    }
                    Err(_) => {}
                    Ok(_) => failing = false,
                }
            }
        })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn rows_in_database_file(path: &std::path::Path) -> i64 {
        // `immutable` reads the database file alone, ignoring the WAL.
        let uri = format!("file:{}?immutable=1", path.display());
        let flags =
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI;
        rusqlite::Connection::open_with_flags(uri, flags)
            .unwrap()
            .query_row("SELECT COUNT(*) FROM t", [], |row| row.get(0))
            .unwrap()
    }

    #[test]
    fn committed_pages_reach_the_database_file_without_a_checkpoint_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let writer = rusqlite::Connection::open(&path).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0; \
                 CREATE TABLE t (v INTEGER); PRAGMA wal_checkpoint(TRUNCATE);",
            )
            .unwrap();
        for v in 0..100 {
            writer
                .execute("INSERT INTO t (v) VALUES (?1)", [v])
                .unwrap();
        }
        assert_eq!(
            rows_in_database_file(&path),
            0,
            "the rows are only in the WAL"
        );

        let alive = Arc::new(());
        start(
            rusqlite::Connection::open(&path).unwrap(),
            Arc::downgrade(&alive),
        )
        .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while rows_in_database_file(&path) < 100 {
            assert!(
                std::time::Instant::now() < deadline,
                "no checkpoint within 5 s"
            );
            std::thread::sleep(EVERY);
        }
        drop(alive);
    }
}
