//! The few sqlx operations the shared statements use, for any driver that provides them. sqlx
//! states what a driver can do as bounds on other types (`&mut Connection: Executor`,
//! `String: Encode<DB>`, …), which Rust does not carry from a trait to its users; [`Driver`]
//! and [`Columns`] state them once, in their blanket impls, so that generic code needs only
//! `DB: Driver`.

use std::future::Future;

use sqlx::query::Query;
use sqlx::{ColumnIndex, Database, Decode, Encode, Executor, IntoArguments, Pool, Row, Type};

/// A value bound to a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bind<'a> {
    /// Borrowed text.
    Str(&'a str),
    /// Owned text (a document is moved, not borrowed: sqlx would copy a borrowed text).
    Text(String),
    /// An integer.
    Int(i64),
    /// An integer or NULL.
    OptInt(Option<i64>),
}

/// Where a statement runs: on a pool (a connection of its own) or inside a transaction.
pub(crate) enum On<'a, DB: Database> {
    Pool(&'a Pool<DB>),
    Conn(&'a mut DB::Connection),
}

/// How many rows a statement changed (sqlx has this on each driver's result, not generically).
pub(crate) trait RowsAffected {
    fn rows_affected(&self) -> u64;
}

impl RowsAffected for sqlx::sqlite::SqliteQueryResult {
    fn rows_affected(&self) -> u64 {
        sqlx::sqlite::SqliteQueryResult::rows_affected(self)
    }
}

impl RowsAffected for sqlx::postgres::PgQueryResult {
    fn rows_affected(&self) -> u64 {
        sqlx::postgres::PgQueryResult::rows_affected(self)
    }
}

/// The column types of the shared statements, read from a row by index.
pub(crate) trait Columns {
    fn str(&self, i: usize) -> Result<&str, sqlx::Error>;
    fn string(&self, i: usize) -> Result<String, sqlx::Error>;
    fn int(&self, i: usize) -> Result<i64, sqlx::Error>;
    fn opt_int(&self, i: usize) -> Result<Option<i64>, sqlx::Error>;
}

impl<R> Columns for R
where
    R: Row,
    usize: ColumnIndex<R>,
    for<'r> &'r str: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
{
    fn str(&self, i: usize) -> Result<&str, sqlx::Error> {
        self.try_get(i)
    }

    fn string(&self, i: usize) -> Result<String, sqlx::Error> {
        self.try_get(i)
    }

    fn int(&self, i: usize) -> Result<i64, sqlx::Error> {
        self.try_get(i)
    }

    fn opt_int(&self, i: usize) -> Result<Option<i64>, sqlx::Error> {
        self.try_get(i)
    }
}

/// A sqlx driver that runs the shared statements.
pub(crate) trait Driver: Database<Row: Columns, QueryResult: RowsAffected> {
    /// `sql` with `binds` bound in order.
    fn query<'a, I>(sql: &'a str, binds: I) -> Query<'a, Self, Self::Arguments<'a>>
    where
        I: IntoIterator<Item = Bind<'a>>;

    /// Runs `sql` with `binds`; how many rows it changed.
    fn execute<'a, I>(
        on: On<'a, Self>,
        sql: &'a str,
        binds: I,
    ) -> impl Future<Output = Result<u64, sqlx::Error>> + Send
    where
        I: IntoIterator<Item = Bind<'a>> + Send;

    /// The first row of `sql` with `binds`, if any.
    fn fetch_optional<'a, I>(
        on: On<'a, Self>,
        sql: &'a str,
        binds: I,
    ) -> impl Future<Output = Result<Option<Self::Row>, sqlx::Error>> + Send
    where
        I: IntoIterator<Item = Bind<'a>> + Send;

    /// Every row of `sql` with `binds`.
    fn fetch_all<'a, I>(
        on: On<'a, Self>,
        sql: &'a str,
        binds: I,
    ) -> impl Future<Output = Result<Vec<Self::Row>, sqlx::Error>> + Send
    where
        I: IntoIterator<Item = Bind<'a>> + Send;
}

impl<DB> Driver for DB
where
    DB: Database<Row: Columns, QueryResult: RowsAffected>,
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    for<'q> DB::Arguments<'q>: IntoArguments<'q, DB>,
    for<'q> &'q str: Encode<'q, DB> + Type<DB>,
    for<'q> String: Encode<'q, DB> + Type<DB>,
    for<'q> i64: Encode<'q, DB> + Type<DB>,
    for<'q> Option<i64>: Encode<'q, DB> + Type<DB>,
{
    fn query<'a, I>(sql: &'a str, binds: I) -> Query<'a, DB, DB::Arguments<'a>>
    where
        I: IntoIterator<Item = Bind<'a>>,
    {
        binds
            .into_iter()
            .fold(sqlx::query(sql), |q, bind| match bind {
                Bind::Str(s) => q.bind(s),
                Bind::Text(s) => q.bind(s),
                Bind::Int(n) => q.bind(n),
                Bind::OptInt(n) => q.bind(n),
            })
    }

    async fn execute<'a, I>(on: On<'a, DB>, sql: &'a str, binds: I) -> Result<u64, sqlx::Error>
    where
        I: IntoIterator<Item = Bind<'a>> + Send,
    {
        let q = DB::query(sql, binds);
        let done = match on {
            On::Pool(pool) => q.execute(pool).await?,
            On::Conn(conn) => q.execute(conn).await?,
        };
        Ok(done.rows_affected())
    }

    async fn fetch_optional<'a, I>(
        on: On<'a, DB>,
        sql: &'a str,
        binds: I,
    ) -> Result<Option<DB::Row>, sqlx::Error>
    where
        I: IntoIterator<Item = Bind<'a>> + Send,
    {
        let q = DB::query(sql, binds);
        match on {
            On::Pool(pool) => q.fetch_optional(pool).await,
            On::Conn(conn) => q.fetch_optional(conn).await,
        }
    }

    async fn fetch_all<'a, I>(
        on: On<'a, DB>,
        sql: &'a str,
        binds: I,
    ) -> Result<Vec<DB::Row>, sqlx::Error>
    where
        I: IntoIterator<Item = Bind<'a>> + Send,
    {
        let q = DB::query(sql, binds);
        match on {
            On::Pool(pool) => q.fetch_all(pool).await,
            On::Conn(conn) => q.fetch_all(conn).await,
        }
    }
}
