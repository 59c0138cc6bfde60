//! The statements of a write, run the same way on both backends: through sqlx on PostgreSQL, and
//! on SQLite through rusqlite on the group-commit writer's own thread, where a statement costs a
//! call instead of a round trip to another thread. The SQL is the same text for both (`$n`
//! parameters); it always comes from this crate's code, never from input.

use super::StoreError;
use sqlx::{Any, AnyConnection, Row as _};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub(super) type TxFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// One statement parameter. A NULL keeps its type: PostgreSQL checks it against the column.
#[derive(Debug, Clone, Copy)]
pub(super) enum Arg<'a> {
    Int(i64),
    Text(&'a str),
    NullInt,
    NullText,
}

impl From<i64> for Arg<'_> {
    fn from(value: i64) -> Self {
        Arg::Int(value)
    }
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(value: &'a str) -> Self {
        Arg::Text(value)
    }
}

impl<'a> From<&'a String> for Arg<'a> {
    fn from(value: &'a String) -> Self {
        Arg::Text(value)
    }
}

impl From<Option<i64>> for Arg<'_> {
    fn from(value: Option<i64>) -> Self {
        value.map_or(Arg::NullInt, Arg::Int)
    }
}

impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(value: Option<&'a str>) -> Self {
        value.map_or(Arg::NullText, Arg::Text)
    }
}

/// `args![a, b, …]`: statement parameters `$1, $2, …`.
macro_rules! args {
    ($($arg:expr),* $(,)?) => { [$($crate::store::tx::Arg::from($arg)),*] };
}
pub(super) use args;

/// A transaction's statements. Implemented by sqlx's connection (inside a transaction the
/// caller opened) and by the SQLite writer's rusqlite connection.
pub(super) trait Tx: Send {
    /// Runs a statement that returns no rows; the number of rows it changed.
    fn execute<'a>(&'a mut self, sql: &'a str, args: &'a [Arg<'a>]) -> TxFuture<'a, u64>;
    /// Runs a statement and returns every row.
    fn fetch_all<'a>(&'a mut self, sql: &'a str, args: &'a [Arg<'a>]) -> TxFuture<'a, Vec<Row>>;

    /// Runs a statement and returns its first row, if any.
    fn fetch_optional<'a>(
        &'a mut self,
        sql: &'a str,
        args: &'a [Arg<'a>],
    ) -> TxFuture<'a, Option<Row>> {
        Box::pin(async move { Ok(self.fetch_all(sql, args).await?.into_iter().next()) })
    }

    /// True when the one statement run on it is its own transaction (PostgreSQL, without
    /// `BEGIN`): a write that need not be durable then says so in that statement
    /// (`Write::says_not_durable`).
    fn own_transaction(&self) -> bool {
        false
    }
}

/// A PostgreSQL connection whose next statement is its own transaction.
pub(super) struct OwnTransaction<'c>(pub(super) &'c mut AnyConnection);

impl Tx for OwnTransaction<'_> {
    fn execute<'a>(&'a mut self, sql: &'a str, args: &'a [Arg<'a>]) -> TxFuture<'a, u64> {
        self.0.execute(sql, args)
    }

    fn fetch_all<'a>(&'a mut self, sql: &'a str, args: &'a [Arg<'a>]) -> TxFuture<'a, Vec<Row>> {
        self.0.fetch_all(sql, args)
    }

    fn own_transaction(&self) -> bool {
        true
    }
}

/// A row read inside a write.
pub(super) enum Row {
    Any(sqlx::any::AnyRow),
    /// The statement's column names (shared by its rows) and this row's cells.
    Sqlite {
        names: Arc<[String]>,
        cells: Vec<Value>,
    },
}

/// A SQLite cell, copied out of its statement.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    Int(i64),
    Text(String),
    Null,
}

/// A type a cell can be read as.
pub(super) trait Cell: for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any> + Sized {
    fn from_value(value: &Value) -> Option<Self>;
}

impl Cell for i64 {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Int(value) => Some(*value),
            _ => None,
        }
    }
}

impl Cell for String {
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Text(value) => Some(value.clone()),
            _ => None,
        }
    }
}

impl<T: Cell> Cell for Option<T>
where
    Option<T>: for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    fn from_value(value: &Value) -> Option<Self> {
        match value {
            Value::Null => Some(None),
            value => T::from_value(value).map(Some),
        }
    }
}

impl Row {
    pub fn get<T: Cell>(&self, name: &str) -> Result<T, StoreError> {
        match self {
            Row::Any(row) => Ok(row.try_get(name)?),
            Row::Sqlite { names, cells } => {
                let value = names
                    .iter()
                    .position(|column| column == name)
                    .and_then(|index| cells.get(index))
                    .ok_or_else(|| sqlx::Error::ColumnNotFound(name.to_owned()))?;
                T::from_value(value).ok_or_else(|| {
                    StoreError::Database(sqlx::Error::ColumnDecode {
                        index: name.to_owned(),
                        source: format!("unexpected value {value:?}").into(),
                    })
                })
            }
        }
    }
}

impl Tx for AnyConnection {
    fn execute<'a>(&'a mut self, sql: &'a str, args: &'a [Arg<'a>]) -> TxFuture<'a, u64> {
        Box::pin(async move { Ok(bound(sql, args).execute(self).await?.rows_affected()) })
    }

    fn fetch_all<'a>(&'a mut self, sql: &'a str, args: &'a [Arg<'a>]) -> TxFuture<'a, Vec<Row>> {
        Box::pin(async move {
            let rows = bound(sql, args).fetch_all(self).await?;
            Ok(rows.into_iter().map(Row::Any).collect())
        })
    }
}

fn bound<'a>(
    sql: &'a str,
    args: &'a [Arg<'a>],
) -> sqlx::query::Query<'a, Any, sqlx::any::AnyArguments> {
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for arg in args {
        query = match *arg {
            Arg::Int(value) => query.bind(value),
            Arg::Text(value) => query.bind(value),
            Arg::NullInt => query.bind(None::<i64>),
            Arg::NullText => query.bind(None::<&str>),
        };
    }
    query
}

/// The SQLite writer's connection, inside the transaction the writer opened.
pub(super) struct SqliteTx<'c>(pub &'c mut rusqlite::Connection);

impl SqliteTx<'_> {
    fn prepared<'s>(
        &'s self,
        sql: &str,
        args: &[Arg<'_>],
    ) -> Result<rusqlite::CachedStatement<'s>, rusqlite::Error> {
        let mut statement = self.0.prepare_cached(sql)?;
        // `$n` is a named parameter to SQLite, numbered in order of first use: bind by name.
        for index in 1..=statement.parameter_count() {
            let n: usize = statement
                .parameter_name(index)
                .and_then(|name| name.strip_prefix('$'))
                .and_then(|n| n.parse().ok())
                .ok_or(rusqlite::Error::InvalidParameterCount(index, args.len()))?;
            let arg = args
                .get(n - 1)
                .ok_or(rusqlite::Error::InvalidParameterCount(n, args.len()))?;
            match *arg {
                Arg::Int(value) => statement.raw_bind_parameter(index, value)?,
                Arg::Text(value) => statement.raw_bind_parameter(index, value)?,
                Arg::NullInt | Arg::NullText => {
                    statement.raw_bind_parameter(index, rusqlite::types::Null)?
                }
            }
        }
        Ok(statement)
    }

    fn execute_now(&self, sql: &str, args: &[Arg<'_>]) -> Result<u64, rusqlite::Error> {
        let mut statement = self.prepared(sql, args)?;
        Ok(statement.raw_execute()? as u64)
    }

    fn fetch_now(&self, sql: &str, args: &[Arg<'_>]) -> Result<Vec<Row>, rusqlite::Error> {
        let mut statement = self.prepared(sql, args)?;
        let names: Arc<[String]> = statement
            .column_names()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let mut rows = statement.raw_query();
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let mut cells = Vec::with_capacity(names.len());
            for (index, name) in names.iter().enumerate() {
                use rusqlite::types::ValueRef;
                let value = match row.get_ref(index)? {
                    ValueRef::Integer(value) => Value::Int(value),
                    ValueRef::Text(_) => Value::Text(row.get(index)?),
                    ValueRef::Null => Value::Null,
                    other => {
                        return Err(rusqlite::Error::InvalidColumnType(
                            index,
                            name.clone(),
                            other.data_type(),
                        ))
                    }
                };
                cells.push(value);
            }
            out.push(Row::Sqlite {
                names: names.clone(),
                cells,
            });
        }
        Ok(out)
    }
}

// The futures below are ready at once: the statement runs when the future is made.
impl Tx for SqliteTx<'_> {
    fn execute<'a>(&'a mut self, sql: &'a str, args: &'a [Arg<'a>]) -> TxFuture<'a, u64> {
        let result = self.execute_now(sql, args).map_err(StoreError::from);
        Box::pin(std::future::ready(result))
    }

    fn fetch_all<'a>(&'a mut self, sql: &'a str, args: &'a [Arg<'a>]) -> TxFuture<'a, Vec<Row>> {
        let result = self.fetch_now(sql, args).map_err(StoreError::from);
        Box::pin(std::future::ready(result))
    }
}
