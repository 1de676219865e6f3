//! The database, whichever engine serves it: SQLite (embedded, the
//! default) or PostgreSQL (feature `postgres`), chosen at start-up by
//! `DATABASE_URL`.
//!
//! Statements are built with [`Sql`], which writes each engine's
//! placeholders (`?` or `$n`) and, on PostgreSQL, casts a text value to
//! the column's type ([`Kind`]: `$1::uuid`, `$2::timestamptz`); values
//! are engine-neutral ([`Value`]). A row is read column by column in the
//! table's order ([`Columns`]), so the generated row types decode from
//! either engine. On PostgreSQL a uuid, date or timestamp column is
//! selected as text (the generated `Statements` say how): ids, dates and
//! the server's timestamps in the form SQLite stores them, a `datetime`
//! field in UTC with microseconds (SQLite answers it as it was sent).
//!
//! Invariant: the engine is fixed when [`Db`] is opened; a statement built
//! for one engine ([`Db::sql`]) is only ever run on it.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::Row as _;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Arguments as _, ValueRef as _};

use super::check::{Integer, Number};
use super::row::Pii;

#[cfg(feature = "postgres")]
use sqlx::PgPool;
#[cfg(feature = "postgres")]
use sqlx::postgres::{PgArguments, PgRow};

/// A database engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
}

impl Engine {
    /// The engine a `DATABASE_URL` names, if any.
    pub fn of_url(url: &str) -> Option<Engine> {
        if url.starts_with("sqlite:") {
            Some(Engine::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Engine::Postgres)
        } else {
            None
        }
    }

    /// The engine's name as the spec writes it.
    pub fn name(self) -> &'static str {
        match self {
            Engine::Sqlite => "sqlite",
            Engine::Postgres => "postgres",
        }
    }
}

/// The SQL type of a column, as far as binding and reading it depend on
/// it: on PostgreSQL a text value bound to a `Uuid`, `Date` or
/// `Timestamp` column is cast to the column's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Integer,
    Number,
    Boolean,
    Date,
    Timestamp,
    Uuid,
}

impl Kind {
    /// The cast a PostgreSQL placeholder of this kind takes.
    fn cast(self) -> &'static str {
        match self {
            Kind::Uuid => "::uuid",
            Kind::Date => "::date",
            Kind::Timestamp => "::timestamptz",
            Kind::Text | Kind::Integer | Kind::Number | Kind::Boolean => "",
        }
    }
}

/// An engine-neutral value to bind.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// NULL, of the type the Rust value would have had.
    Null(Null),
    Text(String),
    Integer(i64),
    Number(f64),
    Boolean(bool),
}

/// The type of a NULL: PostgreSQL types every parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Null {
    Text,
    Integer,
    Number,
    Boolean,
}

/// A Rust value a statement can bind.
pub trait ToValue {
    fn to_value(&self) -> Value;
    /// NULL of this type (for `Option<Self>`); text unless said otherwise.
    fn null() -> Value
    where
        Self: Sized,
    {
        Value::Null(Null::Text)
    }
}

macro_rules! to_value {
    ($($ty:ty => $variant:ident, $null:ident, |$v:ident| $e:expr;)*) => {$(
        impl ToValue for $ty {
            fn to_value(&self) -> Value {
                let $v = self;
                Value::$variant($e)
            }
            fn null() -> Value {
                Value::Null(Null::$null)
            }
        }
    )*};
}

to_value! {
    String => Text, Text, |v| v.clone();
    i64 => Integer, Integer, |v| *v;
    f64 => Number, Number, |v| *v;
    bool => Boolean, Boolean, |v| *v;
    Integer => Integer, Integer, |v| v.get();
    Number => Number, Number, |v| v.get();
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        match self {
            Some(v) => v.to_value(),
            None => T::null(),
        }
    }
    fn null() -> Value {
        T::null()
    }
}

impl<T: ToValue> ToValue for Pii<T> {
    fn to_value(&self) -> Value {
        self.0.to_value()
    }
    fn null() -> Value {
        T::null()
    }
}

/// A statement being built for one engine: SQL text with placeholders,
/// and the values bound to them in order.
#[derive(Debug, Clone)]
pub struct Sql {
    engine: Engine,
    text: String,
    args: Vec<Value>,
}

impl Sql {
    /// A statement for `engine` that starts with `start`.
    pub fn new(engine: Engine, start: &str) -> Sql {
        Sql {
            engine,
            text: start.to_owned(),
            args: Vec::new(),
        }
    }

    /// A statement for `engine` that starts with the fixed text `start`,
    /// whose placeholders take `values` in order; what is appended binds
    /// after them.
    pub fn with_values(engine: Engine, start: &str, values: Values) -> Sql {
        Sql {
            engine,
            text: start.to_owned(),
            args: values.args,
        }
    }

    /// The engine the statement is written for.
    pub fn engine(&self) -> Engine {
        self.engine
    }

    /// Appends SQL text (identifiers from the generated code and keywords
    /// only, never a value).
    pub fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder for `value`, a value for a column of `kind`
    /// (`NULL` itself for a null: for an assignment, never a comparison).
    pub fn bind(&mut self, value: impl ToValue, kind: Kind) -> &mut Sql {
        match value.to_value() {
            Value::Null(_) => self.text.push_str("NULL"),
            value => {
                self.args.push(value);
                match self.engine {
                    Engine::Sqlite => self.text.push('?'),
                    Engine::Postgres => {
                        self.text.push('$');
                        self.text.push_str(&self.args.len().to_string());
                        self.text.push_str(kind.cast());
                    }
                }
            }
        }
        self
    }

    /// The SQL text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The bound values, in order.
    pub fn values(&self) -> &[Value] {
        &self.args
    }
}

/// The engine-specific parts of a table's statements.
#[derive(Debug)]
pub struct Statements {
    /// Every column in the row's order, as a select list: quoted, and on
    /// PostgreSQL a uuid, date or timestamp column as the text SQLite
    /// stores.
    pub columns: &'static str,
    /// The INSERT of a create, up to its row: `INSERT INTO t (...) SELECT`
    /// and a placeholder for `id`, the owner column when there is one, the
    /// fields in `Resource::insert_values`' order, `created_at` and
    /// `updated_at`. The handler adds the references' conditions (`WHERE
    /// EXISTS ...`) and `RETURNING` every column, so that a create is one
    /// statement.
    pub insert: &'static str,
}

/// The values of a statement whose text is fixed (a table's INSERT),
/// bound in order ([`Sql::with_values`]).
#[derive(Debug, Default)]
pub struct Values {
    pub(crate) args: Vec<Value>,
}

impl Values {
    /// Appends one value.
    pub fn bind(&mut self, value: impl ToValue) -> &mut Values {
        self.args.push(value.to_value());
        self
    }
}

/// A statement's text for sqlx: written by [`Sql`] from the generated
/// code's identifiers and keywords, every value a placeholder.
fn statement(text: &str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(text.to_owned())
}

fn sqlite_args(values: &[Value]) -> Result<SqliteArguments, sqlx::Error> {
    let mut args = SqliteArguments::default();
    for v in values {
        match v {
            Value::Null(_) => args.add(Option::<String>::None),
            Value::Text(s) => args.add(s.clone()),
            Value::Integer(i) => args.add(*i),
            Value::Number(f) => args.add(*f),
            Value::Boolean(b) => args.add(*b),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(args)
}

#[cfg(feature = "postgres")]
fn pg_args(values: &[Value]) -> Result<PgArguments, sqlx::Error> {
    let mut args = PgArguments::default();
    for v in values {
        match v {
            Value::Null(Null::Text) => args.add(Option::<String>::None),
            Value::Null(Null::Integer) => args.add(Option::<i64>::None),
            Value::Null(Null::Number) => args.add(Option::<f64>::None),
            Value::Null(Null::Boolean) => args.add(Option::<bool>::None),
            Value::Text(s) => args.add(s.clone()),
            Value::Integer(i) => args.add(*i),
            Value::Number(f) => args.add(*f),
            Value::Boolean(b) => args.add(*b),
        }
        .map_err(sqlx::Error::Encode)?;
    }
    Ok(args)
}

/// One row of an answer, read column by column in the order of the
/// statement's select list.
pub struct Columns<'r> {
    row: RowRef<'r>,
    next: usize,
}

enum RowRef<'r> {
    Sqlite(&'r SqliteRow),
    #[cfg(feature = "postgres")]
    Postgres(&'r PgRow),
}

impl<'r> Columns<'r> {
    /// The next column's value.
    #[allow(clippy::should_implement_trait)]
    pub fn next<T: Cell>(&mut self) -> Result<T, sqlx::Error> {
        let i = self.next;
        self.next += 1;
        T::read(self, i)
    }

    fn is_null(&self, i: usize) -> Result<bool, sqlx::Error> {
        Ok(match self.row {
            RowRef::Sqlite(r) => r.try_get_raw(i)?.is_null(),
            #[cfg(feature = "postgres")]
            RowRef::Postgres(r) => r.try_get_raw(i)?.is_null(),
        })
    }
}

/// A Rust value a column can be read into.
pub trait Cell: Sized {
    fn read(row: &Columns<'_>, i: usize) -> Result<Self, sqlx::Error>;
}

macro_rules! cell {
    ($($ty:ty),*) => {$(
        impl Cell for $ty {
            fn read(row: &Columns<'_>, i: usize) -> Result<Self, sqlx::Error> {
                match row.row {
                    RowRef::Sqlite(r) => r.try_get(i),
                    #[cfg(feature = "postgres")]
                    RowRef::Postgres(r) => r.try_get(i),
                }
            }
        }
    )*};
}

cell!(String, i64, f64, bool);

impl<T: Cell> Cell for Option<T> {
    fn read(row: &Columns<'_>, i: usize) -> Result<Self, sqlx::Error> {
        if row.is_null(i)? {
            Ok(None)
        } else {
            T::read(row, i).map(Some)
        }
    }
}

impl<T: Cell> Cell for Pii<T> {
    fn read(row: &Columns<'_>, i: usize) -> Result<Self, sqlx::Error> {
        T::read(row, i).map(Pii)
    }
}

/// A type made from a row (a resource's row type, generated).
pub trait FromColumns: Sized {
    fn from_columns(row: &mut Columns<'_>) -> Result<Self, sqlx::Error>;
}

/// SQLite's pools: one writer connection (writes queue in the pool instead
/// of sleeping in SQLite's busy handler) and read-only connections that
/// WAL lets run beside it. An in-memory database is one connection shared
/// by both.
#[derive(Debug, Clone)]
pub struct SqlitePools {
    pub read: SqlitePool,
    pub write: SqlitePool,
}

/// The connections of one engine.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Pools {
    Sqlite(SqlitePools),
    #[cfg(feature = "postgres")]
    Postgres(PgPool),
}

/// Whether a statement only reads (SQLite runs it on a read-only
/// connection, so no read path can write) or may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// The database of a running service.
#[derive(Debug, Clone)]
pub struct Db {
    pools: Pools,
    /// On PostgreSQL, the role requests run as (row-level security),
    /// once start-up has made it.
    role: Option<Arc<str>>,
    /// On PostgreSQL, how long one statement of a request may run, in
    /// milliseconds (the request's own timeout: a request cut off by it
    /// does not leave its statement running on a pooled connection).
    statement_timeout_ms: u64,
    /// The last answer of [`Db::healthy`].
    health: Arc<HealthState>,
}

/// How long `/health` reuses the database's last answer.
pub const HEALTH_TTL: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
struct HealthState {
    /// When the database was last asked, and whether it answered.
    last: std::sync::Mutex<Option<(Instant, bool)>>,
    /// Held by the one caller that asks the database.
    asking: tokio::sync::Mutex<()>,
}

impl HealthState {
    fn fresh(&self) -> Option<bool> {
        let last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        last.filter(|(at, _)| at.elapsed() < HEALTH_TTL)
            .map(|(_, ok)| ok)
    }
}

impl Db {
    /// The database served by `pools`.
    pub fn new(pools: Pools) -> Db {
        Db {
            pools,
            role: None,
            statement_timeout_ms: 0,
            health: Arc::default(),
        }
    }

    /// This database, whose requests run as `role` (PostgreSQL), each
    /// statement for at most `statement_timeout`.
    pub fn with_role(mut self, role: &str, statement_timeout: Duration) -> Db {
        self.role = Some(role.into());
        self.statement_timeout_ms = u64::try_from(statement_timeout.as_millis()).unwrap_or(0);
        self
    }

    /// The engine.
    pub fn engine(&self) -> Engine {
        match self.pools {
            Pools::Sqlite(_) => Engine::Sqlite,
            #[cfg(feature = "postgres")]
            Pools::Postgres(_) => Engine::Postgres,
        }
    }

    /// The connections themselves, as the connecting user. On PostgreSQL
    /// row-level security does not hold there (the connecting user owns
    /// the tables, and may be a superuser): a hook's statements belong on
    /// the request's [`Session`] (`access.db`) instead.
    pub fn pools(&self) -> &Pools {
        &self.pools
    }

    /// SQLite's pools, when SQLite serves.
    pub fn sqlite(&self) -> Option<&SqlitePools> {
        match &self.pools {
            Pools::Sqlite(p) => Some(p),
            #[cfg(feature = "postgres")]
            Pools::Postgres(_) => None,
        }
    }

    /// PostgreSQL's pool, when PostgreSQL serves.
    #[cfg(feature = "postgres")]
    pub fn postgres(&self) -> Option<&PgPool> {
        match &self.pools {
            Pools::Postgres(p) => Some(p),
            Pools::Sqlite(_) => None,
        }
    }

    /// A statement for this database's engine, starting with `start`.
    pub fn sql(&self, start: &str) -> Sql {
        Sql::new(self.engine(), start)
    }

    fn sqlite_pool(p: &SqlitePools, access: Access) -> &SqlitePool {
        match access {
            Access::Read => &p.read,
            Access::Write => &p.write,
        }
    }

    /// Runs `sql` and reads every row it answers.
    pub(crate) async fn rows<T: FromColumns>(
        &self,
        access: Access,
        sql: &Sql,
    ) -> Result<Vec<T>, sqlx::Error> {
        self.rows_of(access, sql.text(), sql.values()).await
    }

    /// Runs the fixed statement `text` with `values` and reads every row.
    pub(crate) async fn rows_of<T: FromColumns>(
        &self,
        access: Access,
        text: &str,
        values: &[Value],
    ) -> Result<Vec<T>, sqlx::Error> {
        match &self.pools {
            Pools::Sqlite(p) => {
                let rows = sqlx::query_with(statement(text), sqlite_args(values)?)
                    .fetch_all(Db::sqlite_pool(p, access))
                    .await?;
                rows.iter()
                    .map(|r| {
                        T::from_columns(&mut Columns {
                            row: RowRef::Sqlite(r),
                            next: 0,
                        })
                    })
                    .collect()
            }
            #[cfg(feature = "postgres")]
            Pools::Postgres(pool) => {
                let rows = sqlx::query_with(statement(text), pg_args(values)?)
                    .fetch_all(pool)
                    .await?;
                rows.iter()
                    .map(|r| {
                        T::from_columns(&mut Columns {
                            row: RowRef::Postgres(r),
                            next: 0,
                        })
                    })
                    .collect()
            }
        }
    }

    /// Runs `sql` and answers how many rows it changed.
    pub(crate) async fn execute(&self, sql: &Sql) -> Result<u64, sqlx::Error> {
        match &self.pools {
            Pools::Sqlite(p) => Ok(sqlx::query_with(
                statement(sql.text()),
                sqlite_args(sql.values())?,
            )
            .execute(&p.write)
            .await?
            .rows_affected()),
            #[cfg(feature = "postgres")]
            Pools::Postgres(pool) => Ok(sqlx::query_with(
                statement(sql.text()),
                pg_args(sql.values())?,
            )
            .execute(pool)
            .await?
            .rows_affected()),
        }
    }

    /// Closes the pools (waiting for connections in use).
    pub async fn close(&self) {
        match &self.pools {
            Pools::Sqlite(p) => {
                p.write.close().await;
                p.read.close().await;
            }
            #[cfg(feature = "postgres")]
            Pools::Postgres(pool) => pool.close().await,
        }
    }

    /// Whether the database answers a query: asked at most once per
    /// [`HEALTH_TTL`], by one caller while the others wait for its answer,
    /// so that `/health` costs no query per call.
    pub async fn healthy(&self) -> bool {
        if let Some(ok) = self.health.fresh() {
            return ok;
        }
        let _asking = self.health.asking.lock().await;
        if let Some(ok) = self.health.fresh() {
            return ok;
        }
        let one = Sql::new(self.engine(), "SELECT 1");
        let query = self.rows::<One>(Access::Read, &one);
        let ok = match tokio::time::timeout(Duration::from_secs(2), query).await {
            Ok(Ok(_)) => true,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "health check failed");
                false
            }
            Err(_) => {
                tracing::error!("health check: the database did not answer within 2 s");
                false
            }
        };
        *self.health.last.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), ok));
        ok
    }
}

/// The caller as row-level security sees it (PostgreSQL): its user, its
/// roles, and its value of each tenant claim of the service, in the order
/// of `AuthSettings::tenant_claims`. Empty for an anonymous caller.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    /// Role names joined by `,` (role names never hold one).
    pub roles: String,
    pub tenants: Vec<String>,
}

impl Identity {
    /// The identity of `caller` for a service whose tenant claims are
    /// `claims`.
    pub fn of(caller: &super::auth::Caller, claims: &[&str]) -> Identity {
        match caller.principal() {
            None => Identity::default(),
            Some(p) => Identity {
                user: p.user.clone(),
                // A role with a comma in it is no role of the spec's (their
                // names are identifiers); joined, it would read as several.
                roles: p
                    .roles
                    .iter()
                    .filter(|r| !r.contains(','))
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(","),
                tenants: claims
                    .iter()
                    .map(|c| p.claims.get(*c).cloned().unwrap_or_default())
                    .collect(),
            },
        }
    }

    /// `SELECT set_config(...)` of the role and of every setting the
    /// policies read, each value a bind parameter, local to the
    /// transaction.
    #[cfg(feature = "postgres")]
    fn statement(&self) -> String {
        let mut sql = String::from(
            "SELECT set_config('role', $1, true), set_config('statement_timeout', $2, true), \
             set_config('palisade.user', $3, true), set_config('palisade.roles', $4, true)",
        );
        for i in 0..self.tenants.len() {
            sql.push_str(&format!(
                ", set_config('palisade.tenant_{i}', ${}, true)",
                i + 5
            ));
        }
        sql
    }
}

/// The database as one request uses it. On SQLite, statements run on the
/// read or the write pool as they come. On PostgreSQL, they run in one
/// transaction, begun at the first statement, that first sets the
/// caller's [`Identity`] and switches to the service's role (neither the
/// tables' owner nor a superuser, so row-level security applies to it),
/// and that [`Session::commit`] ends: the policies hold even for a
/// statement that lost its owner condition, or one of a hook's.
#[derive(Clone)]
pub struct Session(Arc<SessionInner>);

struct SessionInner {
    db: Db,
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    identity: Identity,
    #[cfg(feature = "postgres")]
    tx: tokio::sync::Mutex<Option<sqlx::Transaction<'static, sqlx::Postgres>>>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("engine", &self.0.db.engine())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session of `identity` on `db`.
    pub fn new(db: Db, identity: Identity) -> Session {
        Session(Arc::new(SessionInner {
            db,
            identity,
            #[cfg(feature = "postgres")]
            tx: tokio::sync::Mutex::new(None),
        }))
    }

    /// The database itself, outside this request's transaction: on
    /// PostgreSQL row-level security does not hold there (see
    /// [`Db::pools`]).
    pub fn database(&self) -> &Db {
        &self.0.db
    }

    /// A statement for the database's engine, starting with `start`.
    pub fn sql(&self, start: &str) -> Sql {
        self.0.db.sql(start)
    }

    /// The engine.
    pub fn engine(&self) -> Engine {
        self.0.db.engine()
    }

    /// The request's transaction on PostgreSQL, begun (as the caller) if
    /// it was not yet: for a hook's own statements, which then see and
    /// change only what the caller may. Drop the guard before the handler
    /// goes on (before the hook returns): the session's own statements
    /// wait for it.
    #[cfg(feature = "postgres")]
    pub async fn postgres(
        &self,
    ) -> Result<tokio::sync::MappedMutexGuard<'_, sqlx::PgConnection>, sqlx::Error> {
        let Pools::Postgres(pool) = &self.0.db.pools else {
            return Err(sqlx::Error::Configuration(
                "the service is served from SQLite".into(),
            ));
        };
        let mut tx = self.0.tx.lock().await;
        if tx.is_none() {
            *tx = Some(self.begin(pool).await?);
        }
        Ok(tokio::sync::MutexGuard::map(tx, |tx| {
            &mut **tx.as_mut().expect("begun above")
        }))
    }

    #[cfg(feature = "postgres")]
    async fn begin(
        &self,
        pool: &PgPool,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        let role = self.0.db.role.as_deref().ok_or_else(|| {
            sqlx::Error::Configuration("row-level security was not set up at start-up".into())
        })?;
        let mut tx = pool.begin().await?;
        let id = &self.0.identity;
        let mut set = sqlx::query(statement(&id.statement()))
            .bind(role.to_owned())
            .bind(self.0.db.statement_timeout_ms.to_string())
            .bind(id.user.clone())
            .bind(id.roles.clone());
        for tenant in &id.tenants {
            set = set.bind(tenant.clone());
        }
        set.execute(&mut *tx).await?;
        Ok(tx)
    }

    /// Runs `sql` and reads every row it answers.
    pub async fn rows<T: FromColumns>(
        &self,
        access: Access,
        sql: &Sql,
    ) -> Result<Vec<T>, sqlx::Error> {
        debug_assert_eq!(
            sql.engine(),
            self.engine(),
            "a statement for another engine"
        );
        self.rows_of(access, sql.text(), sql.values()).await
    }

    /// Runs `sql` and reads the row it answers, if any.
    pub async fn row<T: FromColumns>(
        &self,
        access: Access,
        sql: &Sql,
    ) -> Result<Option<T>, sqlx::Error> {
        Ok(self.rows(access, sql).await?.into_iter().next())
    }

    /// Runs the fixed statement `text` (written for this engine) with
    /// `values` and reads every row.
    pub async fn rows_of<T: FromColumns>(
        &self,
        access: Access,
        text: &str,
        values: &[Value],
    ) -> Result<Vec<T>, sqlx::Error> {
        #[cfg(feature = "postgres")]
        if let Pools::Postgres(_) = &self.0.db.pools {
            let mut conn = self.postgres().await?;
            let rows = sqlx::query_with(statement(text), pg_args(values)?)
                .fetch_all(&mut *conn)
                .await?;
            return rows
                .iter()
                .map(|r| {
                    T::from_columns(&mut Columns {
                        row: RowRef::Postgres(r),
                        next: 0,
                    })
                })
                .collect();
        }
        self.0.db.rows_of(access, text, values).await
    }

    /// Runs `sql` and answers how many rows it changed.
    pub async fn execute(&self, sql: &Sql) -> Result<u64, sqlx::Error> {
        debug_assert_eq!(
            sql.engine(),
            self.engine(),
            "a statement for another engine"
        );
        #[cfg(feature = "postgres")]
        if let Pools::Postgres(_) = &self.0.db.pools {
            let mut conn = self.postgres().await?;
            return Ok(
                sqlx::query_with(statement(sql.text()), pg_args(sql.values())?)
                    .execute(&mut *conn)
                    .await?
                    .rows_affected(),
            );
        }
        self.0.db.execute(sql).await
    }

    /// Rolls the request's transaction back, if one was begun
    /// (PostgreSQL): the next statement begins a new one.
    pub async fn rollback(&self) {
        #[cfg(feature = "postgres")]
        if let Some(tx) = self.0.tx.lock().await.take() {
            let _ = tx.rollback().await;
        }
    }

    /// Commits the request's transaction, if one was begun (PostgreSQL);
    /// nothing on SQLite, whose statements commit as they run. A session
    /// dropped without it rolls back.
    pub async fn commit(&self) -> Result<(), sqlx::Error> {
        #[cfg(feature = "postgres")]
        if let Some(tx) = self.0.tx.lock().await.take() {
            tx.commit().await?;
        }
        Ok(())
    }
}

/// A row whose columns are not read (`SELECT 1`).
#[derive(Debug, Clone, Copy)]
pub struct One;

impl FromColumns for One {
    fn from_columns(_: &mut Columns<'_>) -> Result<One, sqlx::Error> {
        Ok(One)
    }
}

/// A row of one text column.
#[derive(Debug, Clone)]
pub struct Text(pub String);

impl FromColumns for Text {
    fn from_columns(row: &mut Columns<'_>) -> Result<Text, sqlx::Error> {
        row.next().map(Text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_per_engine() {
        let mut s = Sql::new(Engine::Sqlite, "SELECT 1 FROM t WHERE \"id\" = ");
        s.bind("x", Kind::Uuid)
            .push(" AND \"n\" = ")
            .bind(3_i64, Kind::Integer)
            .push(" AND \"d\" = ")
            .bind(Option::<String>::None, Kind::Date);
        assert_eq!(
            s.text(),
            "SELECT 1 FROM t WHERE \"id\" = ? AND \"n\" = ? AND \"d\" = NULL"
        );
        assert_eq!(s.values(), &[Value::Text("x".into()), Value::Integer(3)]);
        let mut s = Sql::new(Engine::Postgres, "SELECT 1 FROM t WHERE \"id\" = ");
        s.bind("x", Kind::Uuid)
            .push(" AND \"n\" = ")
            .bind(3_i64, Kind::Integer)
            .push(" AND \"at\" < ")
            .bind("2026-01-01T00:00:00.000Z", Kind::Timestamp);
        assert_eq!(
            s.text(),
            "SELECT 1 FROM t WHERE \"id\" = $1::uuid AND \"n\" = $2 AND \"at\" < $3::timestamptz"
        );
    }

    #[test]
    fn a_role_with_a_comma_is_not_two_roles() {
        use super::super::auth::{Caller, Principal};
        let caller = Caller::User(Principal {
            user: "mallory".into(),
            roles: vec!["x,admin".into(), "support".into()],
            claims: [("org".to_string(), "acme".to_string())].into(),
        });
        let id = Identity::of(&caller, &["org", "team"]);
        assert_eq!(id.roles, "support");
        assert_eq!(id.tenants, ["acme", ""]);
        assert_eq!(
            Identity::of(&Caller::Anonymous, &["org"]),
            Identity::default()
        );
    }

    #[test]
    fn values_of_rust_types() {
        assert_eq!(Some(2.5_f64).to_value(), Value::Number(2.5));
        assert_eq!(Option::<bool>::None.to_value(), Value::Null(Null::Boolean));
        assert_eq!(
            Option::<Pii<String>>::None.to_value(),
            Value::Null(Null::Text)
        );
        assert_eq!(Pii("a".to_string()).to_value(), Value::Text("a".into()));
        assert_eq!(Engine::of_url("postgresql://h/db"), Some(Engine::Postgres));
        assert_eq!(Engine::of_url("mysql://h/db"), None);
    }
}
