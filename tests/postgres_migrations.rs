//! PostgreSQL migrations on a real PostgreSQL, and squawk over them.
//!
//! Every example's PostgreSQL init, a chain of migrations that makes every
//! kind of change (the specs of the SQLite migration tests,
//! `src/migrate/specs.rs`), the changes whose checks must fail on the rows
//! that exist, type changes with a value in the table, and random spec
//! changes over the whole language (`tests/random_specs/specgen.rs`,
//! `PALISADE_POSTGRES_RANDOM_CASES` of them, default 16) are applied as the
//! server applies them: each file inside `BEGIN; ... COMMIT;`, by a role
//! that owns the database and is not a superuser (so forced row-level
//! security holds it, as it holds a server whose `DATABASE_URL` names such
//! a role). Rows are written between migrations by the connecting
//! superuser. Each test makes a database and a role of its own, named
//! afresh each run, and drops them when it ends, also when it fails.
//!
//! PostgreSQL is reached with `psql` at `PGHOST`:`PGPORT` as `PGUSER`
//! (127.0.0.1, 5432, `postgres` unless set), through the database `test`.
//! Where it does not answer the tests say so and pass, unless
//! `PALISADE_REQUIRE_POSTGRES=1` (CI), which makes that a failure.
//!
//! `squawk` (PyPI `squawk-cli`) lints every file these tests apply; the
//! rules it is not asked to enforce are [`SQUAWK_EXCLUDED`], each with its
//! reason. Where `squawk` is not on the PATH that test says so and passes,
//! unless `PALISADE_REQUIRE_SQUAWK=1` (CI).

#[path = "random_specs/specgen.rs"]
mod specgen;
#[path = "../src/migrate/specs.rs"]
mod specs;

use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use palisade::migrate::{self, History, postgres};
use palisade::source::SourceFile;
use specs::{BASE, SHOP, V1};

/// The squawk rules that contradict how palisade migrates, each with why.
/// Every other rule squawk raises is a bug in the SQL, to fix there.
const SQUAWK_EXCLUDED: &[(&str, &str)] = &[
    (
        "renaming-column",
        "a rename is what `renamed_from` declares: the server that reads the new name starts with the migration",
    ),
    (
        "renaming-table",
        "a rename is what `renamed_from` declares: the server that reads the new name starts with the migration",
    ),
    (
        "renaming-object",
        "the indexes of a table renamed under `renamed_from` are renamed with it (a unique index that a key of another table depends on cannot be dropped and created again)",
    ),
    (
        "ban-drop-constraint",
        "a key is dropped only when the spec changes the ref that holds it (the field dropped, its target or its link changed), and the server that starts with the migration holds the new one",
    ),
    (
        "ban-drop-column",
        "a drop is written only under `--allow-destructive`, which declares it",
    ),
    (
        "ban-drop-table",
        "a drop is written only under `--allow-destructive`, which declares it",
    ),
    (
        "require-concurrent-index-creation",
        "each migration is one transaction, and CREATE INDEX CONCURRENTLY cannot run in one",
    ),
    (
        "require-concurrent-index-deletion",
        "each migration is one transaction, and DROP INDEX CONCURRENTLY cannot run in one",
    ),
    (
        "constraint-missing-not-valid",
        "each migration is one transaction: a key added NOT VALID is validated in the same one, there is no later transaction to defer it to",
    ),
    (
        "adding-not-nullable-field",
        "a field made required is declared (`required`, under `--allow-destructive`, after a check that no row lacks a value); the check-then-SET NOT NULL dance across transactions contradicts atomic migrations",
    ),
    (
        "ban-drop-not-null",
        "a field made optional is declared by the spec (`required` removed); the server is the client that reads it, and starts with the migration",
    ),
    (
        "changing-column-type",
        "a type change is declared by the spec (a narrowing only under `--allow-destructive`, after a check that every value fits)",
    ),
    (
        "ban-drop-default",
        "the one default dropped is the one the same migration added to give the rows that exist their value (`default` or `backfill`); no client ever saw it",
    ),
    (
        "adding-required-field",
        "a required field without a value for the rows that exist is added only under `--allow-destructive`, after a check that the table has no rows",
    ),
];

/// How to reach the PostgreSQL server: `PGHOST`, `PGPORT`, `PGUSER` or
/// their defaults.
struct Server {
    host: String,
    port: String,
    user: String,
}

impl Server {
    fn from_env() -> Server {
        let var =
            |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
        Server {
            host: var("PGHOST", "127.0.0.1"),
            port: var("PGPORT", "5432"),
            user: var("PGUSER", "postgres"),
        }
    }

    /// Runs `input` with psql in `database`, stopping at the first error;
    /// the output, or what psql said on error.
    fn psql(&self, database: &str, input: &str) -> Result<String, String> {
        let mut child = Command::new("psql")
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args([
                "-h", &self.host, "-p", &self.port, "-U", &self.user, "-d", database,
            ])
            .env("PGCONNECT_TIMEOUT", "5")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run psql: {e}"))?;
        child
            .stdin
            .take()
            .expect("piped")
            .write_all(input.as_bytes())
            .map_err(|e| e.to_string())?;
        let out = child.wait_with_output().map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

/// The server, or `None` (said once on stderr) where it does not answer
/// and the environment does not require it.
fn postgres() -> Option<&'static Server> {
    static SERVER: OnceLock<Option<Server>> = OnceLock::new();
    SERVER.get_or_init(reach).as_ref()
}

fn reach() -> Option<Server> {
    let server = Server::from_env();
    match server.psql("test", "SELECT 1;") {
        Ok(_) => Some(server),
        Err(e) if std::env::var("PALISADE_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") => panic!(
            "PostgreSQL at {}:{} as {} does not answer, and PALISADE_REQUIRE_POSTGRES=1: {e}",
            server.host, server.port, server.user
        ),
        Err(e) => {
            eprintln!(
                "skipped: PostgreSQL at {}:{} as {} does not answer ({}); start PostgreSQL (or set PGHOST, PGPORT, PGUSER) to run these tests",
                server.host,
                server.port,
                server.user,
                e.trim()
            );
            None
        }
    }
}

/// A database of one test, owned by a role of its own that is not a
/// superuser; both dropped with it.
struct Database<'a> {
    server: &'a Server,
    name: String,
}

impl<'a> Database<'a> {
    fn new(server: &'a Server, tag: &str) -> Database<'a> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        let name = format!("palisade_{tag}_{}_{nanos}", std::process::id());
        let db = Database { server, name };
        // The guard exists before anything is made, so a failure below
        // still drops what was.
        server
            .psql(
                "test",
                &format!(
                    "CREATE ROLE \"{0}\" NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;\nCREATE DATABASE \"{0}\" OWNER \"{0}\";\n",
                    db.name
                ),
            )
            .unwrap_or_else(|e| panic!("cannot create the test database: {e}"));
        db
    }

    /// Applies one migration as the server does: in one transaction, as
    /// the role that owns the database.
    fn migrate(&self, sql: &str) -> Result<(), String> {
        self.server
            .psql(
                &self.name,
                &format!("SET ROLE \"{}\";\nBEGIN;\n{sql}\nCOMMIT;\n", self.name),
            )
            .map(drop)
    }

    /// Runs `sql` as the superuser (rows row-level security does not
    /// hold back); its output.
    fn run(&self, sql: &str) -> String {
        self.server
            .psql(&self.name, sql)
            .unwrap_or_else(|e| panic!("{e}\n{sql}"))
    }

    /// The schema, normalized for comparison: per table its row-level
    /// security, columns (type, null, default), indexes (but the primary
    /// key's, named after the table's first name) and constraints, sorted.
    fn dump(&self) -> String {
        self.run(
            "SELECT 'table ' || c.relname || ' owner=' || pg_get_userbyid(c.relowner) || ' rls=' || c.relrowsecurity || ' forced=' || c.relforcerowsecurity
               FROM pg_class c WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
             UNION ALL
             SELECT 'column ' || table_name || '.' || column_name || ' ' || data_type || ' nullable=' || is_nullable || ' default=' || coalesce(column_default, '-')
               FROM information_schema.columns WHERE table_schema = 'public'
             UNION ALL
             SELECT 'index ' || pg_get_indexdef(i.indexrelid)
               FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
              WHERE t.relnamespace = 'public'::regnamespace AND NOT i.indisprimary
             UNION ALL
             SELECT 'constraint ' || conrelid::regclass || ' ' || CASE WHEN contype = 'p' THEN 'primary key' ELSE conname END || ' ' || pg_get_constraintdef(oid)
               FROM pg_constraint WHERE connamespace = 'public'::regnamespace
             ORDER BY 1;",
        )
        .replace(&self.name, "OWNER")
    }
}

impl Drop for Database<'_> {
    fn drop(&mut self) {
        let dropped = self.server.psql(
            "test",
            &format!(
                "DROP DATABASE IF EXISTS \"{0}\" WITH (FORCE);\nDROP ROLE IF EXISTS \"{0}\";\n",
                self.name
            ),
        );
        if let Err(e) = dropped {
            eprintln!("could not drop the test database {}: {e}", self.name);
        }
    }
}

fn compile(name: &str, text: &str) -> palisade::model::Service {
    match palisade::compile(SourceFile::new(name, text)) {
        Ok(c) => c.model,
        Err(report) => panic!(
            "{}",
            report.render(palisade::diagnostic::RenderOptions {
                color: false,
                width: 100
            })
        ),
    }
}

/// The PostgreSQL files of `specs` (resources under [`BASE`]) migrated one
/// after the other, destructive changes allowed: the init, then one per
/// change.
fn chain(specs: &[&str]) -> Vec<String> {
    let mut history = History::default();
    let mut files = Vec::new();
    for spec in specs {
        let m = migrate::next(
            history,
            &compile("shop.yaml", &format!("{BASE}{spec}")),
            true,
        )
        .expect("not refused");
        history = m.history;
        if let Some(pg) = m.postgres {
            history.files.insert(pg.file, String::new());
            files.push(pg.sql);
        }
        if let Some(n) = m.next {
            history.files.insert(n.record.file(), String::new());
            history.records.push(n.record);
        }
    }
    files
}

/// Every example's PostgreSQL init, by example.
fn example_inits() -> Vec<(String, String, palisade::model::Service)> {
    let mut paths: Vec<_> = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let service = compile(&name, &std::fs::read_to_string(&path).unwrap());
            let project = palisade::generate::generate(&service, &format!("{name}.yaml"));
            let init = project
                .files
                .get("migrations/postgres/0001_init.sql")
                .unwrap_or_else(|| panic!("{name} has no PostgreSQL init"))
                .contents
                .clone();
            (name, init, service)
        })
        .collect()
}

#[test]
fn every_example_initializes_with_row_security_on_its_owned_tables() {
    let Some(server) = postgres() else { return };
    for (name, init, service) in example_inits() {
        let db = Database::new(server, &name);
        db.migrate(&init)
            .unwrap_or_else(|e| panic!("{name}'s init fails: {e}\n{init}"));
        for r in &service.resources {
            let flags = db.run(&format!(
                "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'public.\"{}\"'::regclass;",
                r.name
            ));
            let owned = r.scope.owner_column().is_some();
            let expected = if owned { "t|t" } else { "f|f" };
            assert_eq!(
                flags.trim(),
                expected,
                "{name}: row-level security of `{}`",
                r.name
            );
            for c in &r.columns {
                let ty = db.run(&format!(
                    "SELECT format_type(atttypid, atttypmod) || ' ' || attnotnull FROM pg_attribute WHERE attrelid = 'public.\"{}\"'::regclass AND attname = '{}';",
                    r.name, c.name
                ));
                let stored = match postgres::storage(&c.ty) {
                    "timestamptz" => "timestamp with time zone",
                    other => other,
                };
                let not_null = if c.required { "true" } else { "false" };
                assert_eq!(
                    ty.trim(),
                    format!("{stored} {not_null}"),
                    "{name}: column `{}.{}`",
                    r.name,
                    c.name
                );
            }
        }
    }
}

const C1: &str = "00000000-0000-4000-8000-0000000000c1";
const I1: &str = "00000000-0000-4000-8000-0000000000a1";
const I2: &str = "00000000-0000-4000-8000-0000000000a2";

/// A customer of `u1` in `table`.
fn customer(table: &str) -> String {
    format!(
        "INSERT INTO \"{table}\" (id, owner_id, name, email, created_at, updated_at) VALUES ('{C1}', 'u1', 'Ann', 'ann@example.com', now(), now());\n"
    )
}

/// An invoice of `u1` to the customer, with `notes` (SQL).
fn invoice(id: &str, notes: &str) -> String {
    format!(
        "INSERT INTO invoice (id, owner_id, number, notes, amount, customer, created_at, updated_at) VALUES ('{id}', 'u1', 'N-1', {notes}, 42, '{C1}', now(), now());\n"
    )
}

/// An order of `u1` (of a product that exists when `product`).
fn order(id: &str, product: bool, placed: &str, count: &str) -> String {
    let product = if product {
        format!(
            "INSERT INTO product (id, title, created_at, updated_at) VALUES ('{C1}', 't', now(), now()) ON CONFLICT DO NOTHING;\n"
        )
    } else {
        String::new()
    };
    format!(
        "{product}INSERT INTO \"order\" (id, owner_id, product, placed, count, created_at, updated_at) VALUES ('{id}', 'u1', '{C1}', {placed}, {count}, now(), now());\n"
    )
}

/// A change whose migration checks the rows that exist: the spec before
/// and after, the reason the migration fails with, and rows that break it.
struct Checked {
    before: &'static str,
    after: String,
    message: &'static str,
    rows: String,
}

/// The changes of the SQLite tests (`checked_changes`), and on the shop:
/// a number that a double does not hold exactly, a date that is no
/// datetime, a reference made stricter (its key validated), a new unique
/// field whose one value every row gets.
fn checked() -> Vec<Checked> {
    let rows = [
        invoice(I1, "NULL"),
        invoice(I1, "NULL") + &invoice(I2, "NULL"),
        invoice(I1, "'twelve'"),
        invoice(I1, "NULL"),
    ];
    let mut cases: Vec<Checked> = specs::checked_changes()
        .into_iter()
        .zip(rows)
        .map(|((after, message), rows)| Checked {
            before: V1,
            after,
            message,
            rows: customer("customer") + &rows,
        })
        .collect();
    let shop = |after: String, message, rows| Checked {
        before: SHOP,
        after,
        message,
        rows,
    };
    cases.extend([
        shop(
            SHOP.replace("count: { type: integer }", "count: { type: number }"),
            "every `count` of `order` must be at most 2^53",
            order(I1, true, "NULL", "9007199254740993"),
        ),
        shop(
            SHOP.replace("placed: { type: date }", "placed: { type: datetime }"),
            "every `placed` of `order` must be a datetime",
            order(I1, true, "'2024-01-01'", "NULL"),
        ),
        shop(
            SHOP.replace(
                "product: { type: ref, resource: product, required: true }",
                "product: { type: ref, resource: product }",
            ),
            "violates foreign key constraint \"product-fkey\"",
            order(I1, false, "NULL", "NULL"),
        ),
        shop(
            SHOP.replace(
                "      count: { type: integer }\n",
                "      count: { type: integer }\n      code: { type: string, required: true, unique: per_owner, backfill: x }\n",
            ),
            "no two rows of `order` may share `owner_id`, `code`",
            order(I1, true, "NULL", "NULL") + &order(I2, true, "NULL", "NULL"),
        ),
    ]);
    cases
}

#[test]
fn every_kind_of_change_migrates_to_the_fresh_schema_and_keeps_rows() {
    let Some(server) = postgres() else { return };
    let [v2, v3, v4] = specs::every_kind_of_change();
    let files = chain(&[V1, &v2, &v3, &v4]);
    assert_eq!(files.len(), 4);
    let db = Database::new(server, "chain");
    db.migrate(&files[0])
        .unwrap_or_else(|e| panic!("{e}\n{}", files[0]));
    db.run(&(customer("customer") + &invoice(I1, "'hello'")));
    let step = |file: &String| db.migrate(file).unwrap_or_else(|e| panic!("{e}\n{file}"));
    step(&files[1]);
    step(&files[2]);
    // The new key holds: a payment names an invoice of its own owner.
    let other_owner = server.psql(
        &db.name,
        &format!("INSERT INTO payment (id, owner_id, invoice, created_at, updated_at) VALUES ('{I2}', 'u2', '{I1}', now(), now());"),
    );
    assert!(
        other_owner
            .as_ref()
            .is_err_and(|e| e.contains("\"invoice-fkey\"")),
        "{other_owner:?}"
    );
    db.run(&format!("INSERT INTO payment (id, owner_id, invoice, created_at, updated_at) VALUES ('{I2}', 'u1', '{I1}', now(), now());"));
    let row = db.run(
        "SELECT i.memo, i.status, i.customer, i.amount, c.tier, pg_typeof(i.amount) FROM invoice i JOIN client c ON c.id = i.customer;",
    );
    assert_eq!(
        row.trim(),
        format!("hello|open|{C1}|42|basic|double precision")
    );
    step(&files[3]);
    assert_eq!(db.run("SELECT memo FROM invoice;").trim(), "hello");
    // The rows that existed got their values; new rows get none from the
    // database (the server writes every column).
    let defaults = db.run(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'public' AND column_default IS NOT NULL;",
    );
    assert_eq!(defaults.trim(), "0");
    // The same schema as a database made from the last spec at once.
    let fresh = Database::new(server, "fresh");
    fresh.migrate(&chain(&[&v4])[0]).unwrap();
    assert_eq!(db.dump(), fresh.dump());
}

#[test]
fn the_checks_of_destructive_changes_fail_on_rows_that_break_them_with_their_reason() {
    let Some(server) = postgres() else { return };
    for case in checked() {
        let files = chain(&[case.before, &case.after]);
        let db = Database::new(server, "check");
        db.migrate(&files[0]).unwrap();
        db.run(&case.rows);
        let before = db.dump();
        let err = db.migrate(&files[1]).expect_err(case.message);
        assert!(
            err.contains(case.message),
            "expected `{}`, got: {err}\n{}",
            case.message,
            files[1]
        );
        assert_eq!(db.dump(), before, "the database is left as it was");
        // Without the rows, it applies.
        let db = Database::new(server, "check");
        db.migrate(&files[0]).unwrap();
        db.migrate(&files[1])
            .unwrap_or_else(|e| panic!("{e}\n{}", files[1]));
    }
}

/// A field's type changed with one value in the table: the value the
/// migration leaves (as text), or the reason it fails with.
#[test]
fn a_changed_type_converts_every_value_that_fits_and_refuses_the_others() {
    let Some(server) = postgres() else { return };
    let thing = |ty: &str| {
        format!("  thing:\n    owner: owner_id\n    fields:\n      v: {{ type: {ty} }}\n")
    };
    // (from, value as SQL, to, the value after, or the reason)
    let cases: &[(&str, &str, &str, Result<&str, &str>)] = &[
        ("string", "' 42'", "integer", Err("must be a integer")),
        ("string", "'-42'", "integer", Ok("-42")),
        (
            "string",
            "'99999999999999999999'",
            "integer",
            Err("must be a integer"),
        ),
        ("string", "'1.5e3'", "number", Ok("1500")),
        ("string", "'NaN'", "number", Err("must be a number")),
        ("string", "'1e999'", "number", Err("must be a number")),
        ("string", "'true'", "boolean", Ok("true")),
        ("string", "'yes'", "boolean", Err("must be a boolean")),
        ("string", "'2024-02-29'", "date", Ok("2024-02-29")),
        ("string", "'2024-02-30'", "date", Err("must be a date")),
        ("string", "'Feb 1 2024'", "date", Err("must be a date")),
        (
            "string",
            "'2024-02-01T10:00:00+02:00'",
            "datetime",
            Ok("2024-02-01 08:00:00+00"),
        ),
        (
            "string",
            "'2024-02-01 10:00'",
            "datetime",
            Err("must be a datetime"),
        ),
        (
            "string",
            "'2024-13-01T10:00:00Z'",
            "datetime",
            Err("must be a datetime"),
        ),
        (
            "string",
            "'0b7c5e0e-3c7a-4a8e-9d55-2f0a3c1b9e11'",
            "uuid",
            Ok("0b7c5e0e-3c7a-4a8e-9d55-2f0a3c1b9e11"),
        ),
        ("string", "'0B7C'", "uuid", Err("must be a uuid")),
        ("number", "1.5", "integer", Err("must be a integer")),
        ("number", "-3", "integer", Ok("-3")),
        ("integer", "2", "boolean", Err("must be a boolean")),
        ("integer", "1", "boolean", Ok("true")),
        ("boolean", "TRUE", "integer", Ok("1")),
        ("boolean", "FALSE", "number", Ok("0")),
        (
            "integer",
            "-9007199254740993",
            "number",
            Err("at most 2^53"),
        ),
        ("date", "'2024-02-29'", "string", Ok("2024-02-29")),
        (
            "datetime",
            "'2024-02-01T10:00:00Z'",
            "string",
            Ok("2024-02-01T10:00:00.000000Z"),
        ),
        (
            "uuid",
            "'0b7c5e0e-3c7a-4a8e-9d55-2f0a3c1b9e11'",
            "integer",
            Err("must be a integer"),
        ),
        (
            "datetime",
            "'2024-02-01T10:00:00Z'",
            "date",
            Err("must be a date"),
        ),
    ];
    for (from, value, to, expected) in cases {
        let files = chain(&[&thing(from), &thing(to)]);
        let db = Database::new(server, "types");
        db.migrate(&files[0]).unwrap();
        db.run(&format!(
            "INSERT INTO thing (id, owner_id, v, created_at, updated_at) VALUES ('{I1}', 'u1', {value}, now(), now());"
        ));
        let what = format!("{from} {value} to {to}");
        match (db.migrate(&files[1]), expected) {
            (Ok(()), Ok(after)) => {
                let got = db.run("SET TimeZone = 'UTC'; SELECT v::text FROM thing;");
                assert_eq!(got.trim(), *after, "{what}");
            }
            (Err(e), Err(reason)) => assert!(e.contains(reason), "{what}: {e}"),
            (got, _) => panic!("{what}: {got:?}, expected {expected:?}\n{}", files[1]),
        }
    }
}

/// Where `squawk` is, or `None` (said on stderr) where it is missing and
/// the environment does not require it.
fn squawk() -> Option<&'static str> {
    match Command::new("squawk").arg("--version").output() {
        Ok(out) if out.status.success() => Some("squawk"),
        _ if std::env::var("PALISADE_REQUIRE_SQUAWK").is_ok_and(|v| v == "1") => {
            panic!(
                "squawk is not on the PATH, and PALISADE_REQUIRE_SQUAWK=1: pip install squawk-cli"
            )
        }
        _ => {
            eprintln!(
                "skipped: squawk is not on the PATH; `pip install squawk-cli` to lint the PostgreSQL migrations"
            );
            None
        }
    }
}

/// What squawk says of `files` (name, SQL), with the rules of
/// [`SQUAWK_EXCLUDED`] left out and the files taken as PostgreSQL 15
/// migrations that run in one transaction each; `Ok` when it finds
/// nothing, `None` where squawk is missing.
fn lint(files: &[(String, String)]) -> Option<Result<(), String>> {
    let squawk = squawk()?;
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<std::path::PathBuf> = files
        .iter()
        .map(|(name, sql)| {
            let path = dir.path().join(name);
            std::fs::write(&path, sql).unwrap();
            path
        })
        .collect();
    let excluded: Vec<&str> = SQUAWK_EXCLUDED.iter().map(|(rule, _)| *rule).collect();
    let out = Command::new(squawk)
        .args([
            "--pg-version=15",
            "--assume-in-transaction",
            "--reporter=gcc",
        ])
        .arg(format!("--exclude={}", excluded.join(",")))
        .args(&paths)
        .output()
        .expect("squawk runs");
    Some(if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    })
}

#[test]
fn squawk_finds_nothing_in_any_postgres_migration() {
    let mut files: Vec<(String, String)> = example_inits()
        .into_iter()
        .map(|(name, init, _)| (format!("{name}_init.sql"), init))
        .collect();
    let [v2, v3, v4] = specs::every_kind_of_change();
    for (i, sql) in chain(&[V1, &v2, &v3, &v4]).into_iter().enumerate() {
        files.push((format!("chain_{i}.sql"), sql));
    }
    for (i, case) in checked().iter().enumerate() {
        files.push((
            format!("checked_{i}.sql"),
            chain(&[case.before, &case.after]).swap_remove(1),
        ));
    }
    if let Some(Err(found)) = lint(&files) {
        panic!("squawk: {found}");
    }
}

/// How many random spec changes are migrated on PostgreSQL
/// (`PALISADE_POSTGRES_RANDOM_CASES`, default 16).
fn random_cases() -> u32 {
    std::env::var("PALISADE_POSTGRES_RANDOM_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(16)
}

/// A random spec A (`tests/random_specs/specgen.rs`, the whole language:
/// cycles of refs, self-refs, keywords as names), changed twice by random
/// edits into B and C: the PostgreSQL migrations of A, B and C, applied one
/// after the other, leave the schema of C's own init, and squawk finds
/// nothing in them.
fn random_changes_migrate_to_the_fresh_schema(raw: &[u32], e1: &[u32], e2: &[u32], style: &[u32]) {
    let Some(server) = postgres() else { return };
    let a = specgen::generate(raw, None);
    let b = specgen::mutate(&a, e1);
    let c = specgen::mutate(&b, e2);
    let texts = [a.to_yaml(style), b.to_yaml(style), c.to_yaml(style)];
    let specs = format!(
        "--- spec A ---\n{}--- spec B ---\n{}--- spec C ---\n{}",
        texts[0], texts[1], texts[2]
    );
    let files = |texts: &[String]| {
        let mut history = History::default();
        let mut files = Vec::new();
        for text in texts {
            let m = migrate::next(history, &compile("random.yaml", text), true)
                .unwrap_or_else(|r| panic!("refused: {r:#?}\n{specs}"));
            history = m.history;
            if let Some(pg) = m.postgres {
                history.files.insert(pg.file, String::new());
                files.push(pg.sql);
            }
            if let Some(n) = m.next {
                history.files.insert(n.record.file(), String::new());
                history.records.push(n.record);
            }
        }
        files
    };
    let db = Database::new(server, "random");
    let migrations = files(&texts);
    for sql in &migrations {
        db.migrate(sql)
            .unwrap_or_else(|e| panic!("{e}\n--- migration ---\n{sql}\n{specs}"));
    }
    let fresh = Database::new(server, "random");
    let init = files(&texts[2..]);
    fresh
        .migrate(&init[0])
        .unwrap_or_else(|e| panic!("{e}\n--- init ---\n{}\n{specs}", init[0]));
    let (got, want) = (db.dump(), fresh.dump());
    assert!(
        got == want,
        "the migrated schema is not C's fresh one\n--- migrated ---\n{got}--- fresh ---\n{want}--- migrations ---\n{}\n{specs}",
        migrations.join("\n-- next migration\n")
    );
    let files: Vec<(String, String)> = migrations
        .iter()
        .enumerate()
        .map(|(i, sql)| (format!("{i}.sql"), sql.clone()))
        .collect();
    if let Some(Err(found)) = lint(&files) {
        panic!(
            "squawk: {found}--- migrations ---\n{}\n{specs}",
            migrations.join("\n-- next migration\n")
        );
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig {
        cases: random_cases(),
        failure_persistence: None,
        max_shrink_time: 60_000,
        ..proptest::prelude::ProptestConfig::default()
    })]

    #[test]
    fn random_spec_changes_migrate_to_the_fresh_schema_on_postgres(
        raw in proptest::collection::vec(proptest::prelude::any::<u32>(), 0..1200),
        e1 in proptest::collection::vec(proptest::prelude::any::<u32>(), 0..200),
        e2 in proptest::collection::vec(proptest::prelude::any::<u32>(), 0..200),
        style in proptest::collection::vec(proptest::prelude::any::<u32>(), 0..300),
    ) {
        random_changes_migrate_to_the_fresh_schema(&raw, &e1, &e2, &style);
    }
}
