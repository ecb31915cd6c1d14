//! One SQL interface over both stores: the service's queries are written once, against [`Sql`],
//! and run on SQLite (`rusqlite`) or PostgreSQL (`postgres`).
//!
//! - Placeholders are `?1`, `?2`, …; PostgreSQL gets them as `$1`, `$2`, … (rewritten once per
//!   statement text and cached with the prepared statement).
//! - Parameters are [`Val`]s (NULL, a 64-bit integer, text, bytes); columns come back as
//!   [`Value`]s in a [`Row`], with typed getters that report a mismatch as a corrupt row instead
//!   of panicking. Times and counters are `INTEGER` in SQLite and `BIGINT` in PostgreSQL; a
//!   PostgreSQL `boolean` (what `EXISTS` gives) reads as 0 / 1, like SQLite's.
//! - A constraint violation (a duplicate key) is [`DbError::Conflict`] on both; PostgreSQL's
//!   serialization failures are [`DbError::Retry`], which the PostgreSQL store retries.
//!
//! What stays dialect-specific is named by [`Sql::dialect`]: the migrations, `VACUUM INTO`, the
//! catalog queries of `check`, and `pg_notify`.

use crate::db::{DbError, DbResult};
use std::cell::RefCell;
use std::collections::HashMap;

/// Which database a connection talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A statement parameter.
#[derive(Clone, Copy, Debug)]
pub enum Val<'a> {
    Null,
    Int(i64),
    Text(&'a str),
    Bytes(&'a [u8]),
}

impl From<i64> for Val<'_> {
    fn from(v: i64) -> Self {
        Val::Int(v)
    }
}

impl From<u32> for Val<'_> {
    fn from(v: u32) -> Self {
        Val::Int(v.into())
    }
}

impl From<u8> for Val<'_> {
    fn from(v: u8) -> Self {
        Val::Int(v.into())
    }
}

impl From<bool> for Val<'_> {
    fn from(v: bool) -> Self {
        Val::Int(v.into())
    }
}

impl<'a> From<&'a str> for Val<'a> {
    fn from(v: &'a str) -> Self {
        Val::Text(v)
    }
}

impl<'a> From<&'a String> for Val<'a> {
    fn from(v: &'a String) -> Self {
        Val::Text(v)
    }
}

impl<'a> From<&'a [u8]> for Val<'a> {
    fn from(v: &'a [u8]) -> Self {
        Val::Bytes(v)
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for Val<'a> {
    fn from(v: &'a [u8; N]) -> Self {
        Val::Bytes(v)
    }
}

impl<'a, T: Into<Val<'a>>> From<Option<T>> for Val<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Val::Null, Into::into)
    }
}

/// Statement parameters: `args![a, b, c]` is `&[Val::from(a), Val::from(b), Val::from(c)]`.
#[macro_export]
macro_rules! args {
    ($($v:expr),* $(,)?) => {
        &[$($crate::sql::Val::from($v)),*][..]
    };
}

/// A column's value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    Null,
    Int(i64),
    Text(String),
    Bytes(Vec<u8>),
}

/// One result row.
#[derive(Clone, Debug)]
pub struct Row(Vec<Value>);

fn mismatch(i: usize, want: &str, got: &Value) -> DbError {
    DbError::Other(format!(
        "a stored row is invalid: column {i} should be {want}, it is {got:?}"
    ))
}

impl Row {
    pub fn new(values: Vec<Value>) -> Row {
        Row(values)
    }

    fn at(&self, i: usize) -> DbResult<&Value> {
        self.0
            .get(i)
            .ok_or_else(|| DbError::Other(format!("a query returned no column {i}")))
    }

    pub fn opt_int(&self, i: usize) -> DbResult<Option<i64>> {
        match self.at(i)? {
            Value::Null => Ok(None),
            Value::Int(v) => Ok(Some(*v)),
            other => Err(mismatch(i, "an integer", other)),
        }
    }

    pub fn int(&self, i: usize) -> DbResult<i64> {
        self.opt_int(i)?
            .ok_or_else(|| mismatch(i, "an integer", &Value::Null))
    }

    /// A non-negative integer (a time in milliseconds, a count).
    pub fn uint(&self, i: usize) -> DbResult<u64> {
        let v = self.int(i)?;
        u64::try_from(v).map_err(|_| mismatch(i, "a non-negative integer", &Value::Int(v)))
    }

    pub fn opt_uint(&self, i: usize) -> DbResult<Option<u64>> {
        match self.opt_int(i)? {
            None => Ok(None),
            Some(v) => u64::try_from(v)
                .map(Some)
                .map_err(|_| mismatch(i, "a non-negative integer", &Value::Int(v))),
        }
    }

    pub fn bool(&self, i: usize) -> DbResult<bool> {
        Ok(self.int(i)? != 0)
    }

    pub fn opt_text(&self, i: usize) -> DbResult<Option<&str>> {
        match self.at(i)? {
            Value::Null => Ok(None),
            Value::Text(s) => Ok(Some(s)),
            other => Err(mismatch(i, "text", other)),
        }
    }

    pub fn text(&self, i: usize) -> DbResult<&str> {
        self.opt_text(i)?
            .ok_or_else(|| mismatch(i, "text", &Value::Null))
    }

    pub fn bytes(&self, i: usize) -> DbResult<&[u8]> {
        match self.at(i)? {
            Value::Bytes(b) => Ok(b),
            other => Err(mismatch(i, "bytes", other)),
        }
    }
}

/// A connection (inside the transaction of a `Db::read` or `Db::write` job).
pub trait Sql {
    fn dialect(&self) -> Dialect;
    /// Runs one statement; the rows it changed.
    fn exec(&self, sql: &str, params: &[Val<'_>]) -> DbResult<u64>;
    /// Runs one query; every row.
    fn rows(&self, sql: &str, params: &[Val<'_>]) -> DbResult<Vec<Row>>;
    /// Runs statements separated by `;`, without parameters (migrations).
    fn batch(&self, sql: &str) -> DbResult<()>;

    /// The SQLite connection underneath, for what only SQLite has (`PRAGMA`s, `VACUUM INTO`).
    fn sqlite(&self) -> Option<&rusqlite::Connection> {
        None
    }

    /// The first row, if any.
    fn row(&self, sql: &str, params: &[Val<'_>]) -> DbResult<Option<Row>> {
        Ok(self.rows(sql, params)?.into_iter().next())
    }

    /// The first row; a query without one is an error (an aggregate always has one).
    fn one(&self, sql: &str, params: &[Val<'_>]) -> DbResult<Row> {
        self.row(sql, params)?
            .ok_or_else(|| DbError::Other(format!("no row from {sql}")))
    }
}

// ---- SQLite -------------------------------------------------------------------------------------

impl rusqlite::ToSql for Val<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match *self {
            Val::Null => ValueRef::Null,
            Val::Int(v) => ValueRef::Integer(v),
            Val::Text(s) => ValueRef::Text(s.as_bytes()),
            Val::Bytes(b) => ValueRef::Blob(b),
        }))
    }
}

fn sqlite_value(v: rusqlite::types::ValueRef<'_>) -> DbResult<Value> {
    use rusqlite::types::ValueRef;
    Ok(match v {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(i) => Value::Int(i),
        ValueRef::Text(t) => Value::Text(
            std::str::from_utf8(t)
                .map_err(|_| DbError::Other("a stored text is not UTF-8".into()))?
                .to_owned(),
        ),
        ValueRef::Blob(b) => Value::Bytes(b.to_vec()),
        ValueRef::Real(r) => {
            return Err(DbError::Other(format!(
                "a stored value is a float ({r}), the schema has none"
            )))
        }
    })
}

impl Sql for rusqlite::Connection {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn exec(&self, sql: &str, params: &[Val<'_>]) -> DbResult<u64> {
        let n = self
            .prepare_cached(sql)?
            .execute(rusqlite::params_from_iter(params.iter()))?;
        Ok(n as u64)
    }

    fn rows(&self, sql: &str, params: &[Val<'_>]) -> DbResult<Vec<Row>> {
        let mut st = self.prepare_cached(sql)?;
        let n = st.column_count();
        let mut rows = st.query(rusqlite::params_from_iter(params.iter()))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut values = Vec::with_capacity(n);
            for i in 0..n {
                values.push(sqlite_value(r.get_ref(i)?)?);
            }
            out.push(Row(values));
        }
        Ok(out)
    }

    fn batch(&self, sql: &str) -> DbResult<()> {
        Ok(self.execute_batch(sql)?)
    }

    fn sqlite(&self) -> Option<&rusqlite::Connection> {
        Some(self)
    }
}

// ---- PostgreSQL ---------------------------------------------------------------------------------

/// `?N` → `$N` (the statements hold no `?` elsewhere: no string literal in them has one).
pub fn pg_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(|n| n.is_ascii_digit()) {
            out.push('$');
        } else {
            out.push(c);
        }
    }
    out
}

impl postgres::types::ToSql for Val<'_> {
    fn to_sql(
        &self,
        ty: &postgres::types::Type,
        out: &mut bytes::BytesMut,
    ) -> Result<postgres::types::IsNull, Box<dyn std::error::Error + Sync + Send>> {
        use postgres::types::Type;
        match *self {
            Val::Null => Ok(postgres::types::IsNull::Yes),
            Val::Int(v) => match *ty {
                Type::INT2 => i16::try_from(v)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
                Type::BOOL => (v != 0).to_sql(ty, out),
                _ => v.to_sql(ty, out),
            },
            Val::Text(s) => s.to_sql(ty, out),
            Val::Bytes(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(_: &postgres::types::Type) -> bool {
        true
    }

    postgres::types::to_sql_checked!();
}

fn pg_value(row: &postgres::Row, i: usize) -> DbResult<Value> {
    use postgres::types::Type;
    let ty = row.columns()[i].type_().clone();
    let v = match ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Value::Int),
        Type::INT4 => row
            .try_get::<_, Option<i32>>(i)?
            .map(|v| Value::Int(v.into())),
        Type::INT2 => row
            .try_get::<_, Option<i16>>(i)?
            .map(|v| Value::Int(v.into())),
        Type::BOOL => row
            .try_get::<_, Option<bool>>(i)?
            .map(|v| Value::Int(v.into())),
        Type::TEXT | Type::VARCHAR | Type::NAME | Type::BPCHAR => {
            row.try_get::<_, Option<String>>(i)?.map(Value::Text)
        }
        Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Bytes),
        other => {
            return Err(DbError::Other(format!(
                "a query returned a column of type {other}, which the service does not read"
            )))
        }
    };
    Ok(v.unwrap_or(Value::Null))
}

/// A PostgreSQL transaction and its connection's statement cache. It remembers a
/// serialization failure or a lost connection even when the caller wrapped the error into
/// another (the store then retries, or reports the database unavailable).
pub struct PgTx<'a> {
    tx: RefCell<postgres::Transaction<'a>>,
    cache: &'a RefCell<HashMap<String, postgres::Statement>>,
    trouble: RefCell<Option<DbError>>,
}

impl<'a> PgTx<'a> {
    pub fn new(
        tx: postgres::Transaction<'a>,
        cache: &'a RefCell<HashMap<String, postgres::Statement>>,
    ) -> PgTx<'a> {
        PgTx {
            tx: RefCell::new(tx),
            cache,
            trouble: RefCell::new(None),
        }
    }

    /// The transaction back, and the trouble it ran into (a retry, a lost connection).
    pub fn finish(self) -> (postgres::Transaction<'a>, Option<DbError>) {
        (self.tx.into_inner(), self.trouble.into_inner())
    }

    fn check<T>(&self, r: Result<T, postgres::Error>) -> DbResult<T> {
        r.map_err(|e| {
            let e = DbError::from(e);
            match &e {
                DbError::Retry(m) => *self.trouble.borrow_mut() = Some(DbError::Retry(m.clone())),
                DbError::Unavailable(m) => {
                    *self.trouble.borrow_mut() = Some(DbError::Unavailable(m.clone()))
                }
                _ => {}
            }
            e
        })
    }

    fn statement(&self, sql: &str) -> DbResult<postgres::Statement> {
        if let Some(st) = self.cache.borrow().get(sql) {
            return Ok(st.clone());
        }
        let st = self.check(self.tx.borrow_mut().prepare(&pg_placeholders(sql)))?;
        self.cache.borrow_mut().insert(sql.to_owned(), st.clone());
        Ok(st)
    }

    fn params<'p>(params: &'p [Val<'p>]) -> Vec<&'p (dyn postgres::types::ToSql + Sync)> {
        params
            .iter()
            .map(|v| v as &(dyn postgres::types::ToSql + Sync))
            .collect()
    }
}

impl Sql for PgTx<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn exec(&self, sql: &str, params: &[Val<'_>]) -> DbResult<u64> {
        let st = self.statement(sql)?;
        self.check(self.tx.borrow_mut().execute(&st, &Self::params(params)))
    }

    fn rows(&self, sql: &str, params: &[Val<'_>]) -> DbResult<Vec<Row>> {
        let st = self.statement(sql)?;
        let rows = self.check(self.tx.borrow_mut().query(&st, &Self::params(params)))?;
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| pg_value(r, i))
                    .collect::<DbResult<Vec<Value>>>()
                    .map(Row)
            })
            .collect()
    }

    fn batch(&self, sql: &str) -> DbResult<()> {
        self.check(self.tx.borrow_mut().batch_execute(sql))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_become_dollars() {
        assert_eq!(
            pg_placeholders("SELECT a FROM t WHERE b = ?1 AND c IN (?2, ?12) AND d = '?'"),
            "SELECT a FROM t WHERE b = $1 AND c IN ($2, $12) AND d = '?'"
        );
    }

    #[test]
    fn sqlite_round_trip_and_typed_getters() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        c.batch("CREATE TABLE t (a INTEGER, b TEXT, c BLOB)")
            .unwrap();
        let n = c
            .exec(
                "INSERT INTO t VALUES (?1, ?2, ?3)",
                args![7i64, "x", &[1u8, 2][..]],
            )
            .unwrap();
        assert_eq!(n, 1);
        c.exec(
            "INSERT INTO t VALUES (?1, ?2, ?3)",
            args![None::<i64>, None::<&str>, &[0u8; 0]],
        )
        .unwrap();
        let rows = c.rows("SELECT a, b, c FROM t ORDER BY a", &[]).unwrap();
        assert_eq!(rows[0].opt_int(0).unwrap(), None);
        assert_eq!(rows[1].int(0).unwrap(), 7);
        assert_eq!(rows[1].text(1).unwrap(), "x");
        assert_eq!(rows[1].bytes(2).unwrap(), &[1, 2]);
        // A type mismatch is an error, not a panic.
        assert!(rows[1].text(0).is_err());
        assert!(rows[0].int(0).is_err());
        assert!(rows[1].int(9).is_err());
        let e = c
            .one("SELECT EXISTS (SELECT 1 FROM t WHERE a = ?1)", args![7i64])
            .unwrap();
        assert!(e.bool(0).unwrap());
    }

    #[test]
    fn a_duplicate_key_is_a_conflict() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        c.batch("CREATE TABLE t (a INTEGER PRIMARY KEY)").unwrap();
        c.exec("INSERT INTO t VALUES (?1)", args![1i64]).unwrap();
        let e = c
            .exec("INSERT INTO t VALUES (?1)", args![1i64])
            .unwrap_err();
        assert!(matches!(e, DbError::Conflict(_)), "{e:?}");
    }
}
