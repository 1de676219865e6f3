//! PostgreSQL (feature `postgres`): connections and migrations.
//!
//! Migrations are applied once however many replicas start together: the
//! first takes a session-level advisory lock, and the others wait for it
//! and then find the migrations applied. Each migration runs in its own
//! transaction with the lock and statement timeouts its file sets, and is
//! recorded with a checksum in `_palisade_migrations`, as on SQLite.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection as _, PgConnection, PgPool};

use super::config::ConfigError;
use super::db::{Db, Pools};
use super::server::{Migration, checksum, increasing, known_as_applied, migration_file};

/// The advisory lock key of migrations (and, later in start-up, of the
/// row-level security policies): any fixed number, the same in every
/// replica of every palisade service ("palisade" in ASCII).
pub const MIGRATION_LOCK: i64 = 0x7061_6c69_7361_6465;

/// Drops every policy palisade made (named `palisade_*`) in the current
/// schema.
const DROP_POLICIES: &str = "DO $palisade$ DECLARE p record; BEGIN \
    FOR p IN SELECT policyname, tablename FROM pg_catalog.pg_policies \
    WHERE schemaname = current_schema() AND policyname LIKE 'palisade\\_%' LOOP \
    EXECUTE format('DROP POLICY %I ON %I', p.policyname, p.tablename); \
    END LOOP; END $palisade$";

/// Connections: four per core, at least 8, at most 32. A request holds one
/// from its first statement to its commit (its transaction), hooks
/// included.
pub fn connections() -> u32 {
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    u32::try_from(cores * 4).unwrap_or(32).clamp(8, 32)
}

/// How long a connection may sit in the pool before it is tested
/// (pinged) on its next use.
const IDLE_BEFORE_TEST: Duration = Duration::from_secs(1);

/// Opens a pool on `url` (`postgres://user@host/db`, TLS as its
/// `sslmode` says).
pub async fn connect(url: &str) -> Result<Db, ConfigError> {
    let opts: PgConnectOptions = url.parse().map_err(|e: sqlx::Error| ConfigError::Invalid {
        var: "DATABASE_URL",
        reason: e.to_string(),
    })?;
    let cannot = |e: &dyn std::fmt::Display| {
        ConfigError::Database(format!("cannot open {}: {e}", redacted(url)))
    };
    // One connection first, so that a refusal says why (the pool would
    // only say that it timed out).
    let first = tokio::time::timeout(Duration::from_secs(10), PgConnection::connect_with(&opts))
        .await
        .map_err(|_| cannot(&"no answer within 10 s"))?
        .map_err(|e| cannot(&e))?;
    let _ = first.close().await;
    let pool = PgPoolOptions::new()
        .max_connections(connections())
        .acquire_timeout(Duration::from_secs(5))
        // sqlx pings every connection it hands out, one more round trip
        // per request; only a connection that sat idle can have been
        // dropped unnoticed (a restart, a proxy's idle timeout), so only
        // those are tested. One that breaks in use fails its request as
        // it would after a ping.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= IDLE_BEFORE_TEST {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_with(opts)
        .await
        .map_err(|e| cannot(&e))?;
    Ok(Db::new(Pools::Postgres(pool)))
}

/// `url` without its password, for messages.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{user}{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// Sets the database up for this build, under [`MIGRATION_LOCK`] (held
/// on one connection, so replicas that start together take turns):
/// applies the migrations not yet recorded, in order, each once and in its
/// own transaction, then row-level security ([`row_security`]). Refuses a
/// database that has a migration this build does not know, or whose
/// applied migration changed. Answers the role requests run as.
pub async fn set_up(
    pool: &PgPool,
    migrations: &[Migration],
    policies: &str,
) -> Result<String, ConfigError> {
    let db = |e: sqlx::Error| ConfigError::Database(format!("migration: {e}"));
    increasing(migrations)?;
    let mut conn = pool.acquire().await.map_err(db)?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    let result = match apply_pending(&mut conn, migrations).await {
        Ok(()) => row_security(&mut conn, policies).await,
        Err(e) => Err(e),
    };
    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *conn)
        .await;
    if unlocked.is_err() {
        // Never hand a connection that may still hold the lock back.
        conn.close_on_drop();
    }
    let role = result?;
    unlocked.map_err(db)?;
    Ok(role)
}

async fn apply_pending(
    conn: &mut PgConnection,
    migrations: &[Migration],
) -> Result<(), ConfigError> {
    let db = |e: sqlx::Error| ConfigError::Database(format!("migration: {e}"));
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS \"_palisade_migrations\" (\
         version bigint PRIMARY KEY NOT NULL, name text NOT NULL, checksum text NOT NULL, \
         applied_at timestamptz NOT NULL DEFAULT now()); \
         CREATE TABLE IF NOT EXISTS \"_palisade_row_security\" (checksum text NOT NULL)",
    )
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    let applied: Vec<(i64, String)> =
        sqlx::query_as("SELECT version, checksum FROM \"_palisade_migrations\" ORDER BY version")
            .fetch_all(&mut *conn)
            .await
            .map_err(db)?;
    known_as_applied(migrations, &applied, postgres_file)?;
    for m in migrations
        .iter()
        .filter(|m| !applied.iter().any(|(v, _)| *v == m.version))
    {
        let file = postgres_file(m);
        let failed = |e: sqlx::Error| {
            ConfigError::Database(format!(
                "{file} failed, and the database was left as it was: {}",
                e.as_database_error()
                    .map_or_else(|| e.to_string(), |d| d.message().to_string())
            ))
        };
        let mut tx = conn.begin().await.map_err(db)?;
        // The policies name owner columns, which a migration may change or
        // drop: they go first, and start-up makes them again from the spec
        // once the migrations are applied (until then, forced row-level
        // security without policies shows no row to anyone).
        sqlx::raw_sql(DROP_POLICIES)
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::raw_sql("DELETE FROM \"_palisade_row_security\"")
            .execute(&mut *tx)
            .await
            .map_err(db)?;
        sqlx::raw_sql(m.sql)
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
        sqlx::query(
            "INSERT INTO \"_palisade_migrations\" (version, name, checksum) VALUES ($1, $2, $3)",
        )
        .bind(m.version)
        .bind(m.name)
        .bind(checksum(m.sql))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
        tx.commit().await.map_err(db)?;
        tracing::info!(version = m.version, name = m.name, "migration applied");
    }
    Ok(())
}

/// The role requests run as: named after the database (roles are the
/// cluster's, databases have one each), at most 63 bytes.
fn role_name(database: &str) -> String {
    // PostgreSQL names hold 63 bytes: the database's part is cut, never
    // the suffix (so the role is never the database's or a user's name).
    let mut base = database.to_owned();
    while base.len() > 59 {
        base.pop();
    }
    format!("{base}_app")
}

/// Sets up row-level security (under the caller's lock), in one
/// transaction: the service's role (created if missing, never a
/// superuser, never `BYPASSRLS`, without login; the connecting user is
/// made a member so it may switch to it), its privileges on the tables,
/// and `policies` (the generated `row_security.sql`, which enables and
/// forces row-level security on every owned table and re-creates its
/// policies). Answers the role's name.
async fn row_security(conn: &mut PgConnection, policies: &str) -> Result<String, ConfigError> {
    // A table a running replica holds makes the set-up wait; it gives up
    // after 2 s and tries again, for about a minute, so that no request of
    // the running replicas waits behind it for long.
    let mut result = apply_row_security(conn, policies).await;
    for _ in 0..30 {
        match &result {
            Err(ConfigError::Database(why)) if why.contains("lock timeout") => {
                tokio::time::sleep(Duration::from_millis(200)).await;
                result = apply_row_security(conn, policies).await;
            }
            _ => break,
        }
    }
    result
}

async fn apply_row_security(
    conn: &mut PgConnection,
    policies: &str,
) -> Result<String, ConfigError> {
    let db = |e: sqlx::Error| ConfigError::Database(format!("row-level security: {e}"));
    let database: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
    let role = role_name(&database);
    let mut tx = conn.begin().await.map_err(db)?;
    // Waits at most this long for a table that running replicas use; the
    // caller tries again.
    sqlx::raw_sql("SET LOCAL lock_timeout = '2s'")
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    let sum = checksum(&format!("{role}\n{policies}"));
    let applied: Option<String> =
        sqlx::query_scalar("SELECT checksum FROM \"_palisade_row_security\"")
            .fetch_optional(&mut *tx)
            .await
            .map_err(db)?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = $1)")
            .bind(&role)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
    let ident = format!("\"{}\"", role.replace('"', "\"\""));
    let literal = format!("'{}'", role.replace('\'', "''"));
    if !exists {
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE ROLE {ident} NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT"
        )))
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    }
    let (superuser, bypass): (bool, bool) =
        sqlx::query_as("SELECT rolsuper, rolbypassrls FROM pg_catalog.pg_roles WHERE rolname = $1")
            .bind(&role)
            .fetch_one(&mut *tx)
            .await
            .map_err(db)?;
    if superuser || bypass {
        return Err(ConfigError::Database(format!(
            "the role {role} that requests run as is a superuser or bypasses row-level \
             security, so the policies would not hold: ALTER ROLE {ident} NOSUPERUSER NOBYPASSRLS"
        )));
    }
    if applied.as_deref() == Some(sum.as_str()) {
        // Nothing changed since a replica set it up (a migration clears
        // the record): no table is locked.
        tx.commit().await.map_err(db)?;
        return Ok(role);
    }
    // The tables are the connecting user's; the role gets exactly what the
    // generated file grants, and nothing on palisade's own tables.
    sqlx::query("SELECT set_config('palisade.app_role', $1, true)")
        .bind(&role)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "GRANT {ident} TO CURRENT_USER; \
         DO $palisade$ BEGIN \
         EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', current_schema(), {literal}); \
         EXECUTE format('REVOKE ALL ON ALL TABLES IN SCHEMA %I FROM %I', current_schema(), {literal}); \
         END $palisade$; \
         {policies}"
    )))
    .execute(&mut *tx)
    .await
    .map_err(|e| {
        ConfigError::Database(format!(
            "api/src/row_security.sql failed, and the database was left as it was: {}",
            e.as_database_error()
                .map_or_else(|| e.to_string(), |d| d.message().to_string())
        ))
    })?;
    sqlx::raw_sql("DELETE FROM \"_palisade_row_security\"")
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    sqlx::query("INSERT INTO \"_palisade_row_security\" (checksum) VALUES ($1)")
        .bind(&sum)
        .execute(&mut *tx)
        .await
        .map_err(db)?;
    tx.commit().await.map_err(db)?;
    Ok(role)
}

/// The file a PostgreSQL migration comes from, for messages.
fn postgres_file(m: &Migration) -> String {
    format!(
        "migrations/postgres/{}",
        migration_file(m).trim_start_matches("migrations/")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redacted("postgres://app:s3cret@db.internal:5432/billing"),
            "postgres://app@db.internal:5432/billing"
        );
        assert_eq!(redacted("postgres://localhost/x"), "postgres://localhost/x");
    }

    #[test]
    fn role_names_fit() {
        assert_eq!(role_name("billing"), "billing_app");
        assert_eq!(
            role_name(&"d".repeat(70)),
            format!("{}_app", "d".repeat(59))
        );
    }
}
