//! Test helpers: SQLite's plan for a statement. SQLite plans without statistics, so a plan
//! depends only on the schema and the statement's text: checked once on an empty store, it
//! holds at any size, and a statement whose plan reads a growing table whole is caught here.

use super::Store;

/// A fresh SQLite store in a directory of its own (kept while the directory lives).
pub(crate) async fn sqlite_store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("p.db").display());
    let store = Store::connect(&url.into()).await.unwrap();
    (dir, store)
}

/// `EXPLAIN QUERY PLAN` of `sql` (its parameters left unbound): each step's detail.
pub(crate) async fn sqlite_plan(store: &Store, sql: &str) -> Vec<String> {
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
        .fetch_all(store.pool())
        .await
        .unwrap()
        .iter()
        .map(|row| super::column(row, "detail").unwrap())
        .collect()
}

/// `sqlite_plan` of `sql` on a fresh, empty store (enough: the plan does not depend on the data).
pub(crate) async fn plan_on_empty_store(sql: &str) -> Vec<String> {
    let (_dir, store) = sqlite_store().await;
    let plan = sqlite_plan(&store, sql).await;
    store.close().await;
    plan
}

/// Asserts that no step of `plan` reads `table` whole (a `SCAN` of it, without an index).
pub(crate) fn assert_no_scan_of(table: &str, plan: &[String]) {
    let whole = format!("SCAN {table}");
    assert!(
        !plan
            .iter()
            .any(|step| step == &whole || step.starts_with(&format!("{whole} "))),
        "{table} read whole: {plan:#?}"
    );
}
