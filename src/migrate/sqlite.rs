//! Migrations as SQLite runs them.
//!
//! What `ALTER TABLE` can do in place (rename a table or a column, add an
//! optional column without a reference) is done in place; everything else
//! rebuilds the table by SQLite's documented procedure: a new table, the
//! rows copied, the old one dropped, the new one renamed, its indexes
//! created again. The server applies a migration in one transaction with
//! foreign keys off (`PRAGMA foreign_keys` cannot change inside a
//! transaction, and a dropped table's implicit delete would otherwise fire
//! the `ON DELETE` actions of the rows that refer to it) and runs `PRAGMA
//! foreign_key_check` before it commits, so every reference holds after it.
//! Checks of the rows that exist fail the migration with a message that
//! says what is wrong: the count of offending rows goes into a temporary
//! table whose named `CHECK` wants zero.

use std::fmt::Write as _;

use super::changes::{Check, Plan, Source, TableChange};
use super::schema::{Column, ForeignKey, Schema, Table};
use crate::model::{ColumnType, Index, OnDelete};

/// A quoted identifier.
pub fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn quoted_list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| quote(n))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The storage type of a column: integers and booleans as `INTEGER`,
/// numbers as `REAL`, everything else (ids, dates, times) as `TEXT`.
pub fn storage(ty: &ColumnType) -> &'static str {
    match ty {
        ColumnType::Integer | ColumnType::Boolean => "INTEGER",
        ColumnType::Number => "REAL",
        _ => "TEXT",
    }
}

fn on_delete(action: OnDelete) -> &'static str {
    match action {
        OnDelete::Restrict => "RESTRICT",
        OnDelete::SetNull => "SET NULL",
        // Never in a schema: such a ref has no foreign key.
        OnDelete::Keep => "NO ACTION",
    }
}

fn column_definition(c: &Column) -> String {
    let mut line = format!("{} {}", quote(&c.name), storage(&c.ty));
    if c.required {
        line.push_str(" NOT NULL");
    }
    if c.primary_key {
        line.push_str(" PRIMARY KEY");
    }
    line
}

/// `CREATE TABLE` for `table`, named `name`.
pub fn create_table(table: &Table, name: &str, if_not_exists: bool) -> String {
    let mut lines: Vec<String> = table.columns.iter().map(column_definition).collect();
    lines.extend(table.foreign_keys.iter().map(|fk| {
        format!(
            "FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE {}",
            quoted_list(&fk.columns),
            quote(&fk.table),
            quoted_list(&fk.target_columns),
            on_delete(fk.on_delete)
        )
    }));
    format!(
        "CREATE TABLE {}{} (\n    {}\n);\n",
        if if_not_exists { "IF NOT EXISTS " } else { "" },
        quote(name),
        lines.join(",\n    ")
    )
}

pub fn create_index(table: &str, index: &Index, if_not_exists: bool) -> String {
    format!(
        "CREATE {}INDEX {}{} ON {} ({});\n",
        if index.unique { "UNIQUE " } else { "" },
        if if_not_exists { "IF NOT EXISTS " } else { "" },
        quote(&index.name),
        quote(table),
        quoted_list(&index.columns)
    )
}

/// The first migration: every table and index of `schema`.
pub fn init(schema: &Schema) -> String {
    let mut out = String::new();
    for table in &schema.tables {
        out.push('\n');
        out.push_str(&create_table(table, &table.name, true));
        for index in &table.indexes {
            out.push_str(&create_index(&table.name, index, true));
        }
    }
    out
}

/// A JSON value of the spec (a `default` or `backfill`) as an SQL literal
/// stored as the server stores it.
pub fn literal(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "NULL".into(),
        serde_json::Value::Bool(b) => if *b { "1" } else { "0" }.into(),
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => format!("'{}'", s.replace('\'', "''")),
        other => format!("'{}'", other.to_string().replace('\'', "''")),
    }
}

/// The condition a value of `column` fails when it does not fit `ty`,
/// read in a table with the new column's storage type (SQLite's type
/// affinity has converted what it could).
fn misfit(column: &str, ty: &ColumnType) -> Option<String> {
    let c = quote(column);
    let hex = |n: usize| "[0-9a-f]".repeat(n);
    Some(match ty {
        ColumnType::Integer => format!("typeof({c}) NOT IN ('integer', 'null')"),
        ColumnType::Number => format!("typeof({c}) NOT IN ('integer', 'real', 'null')"),
        ColumnType::Boolean => format!("{c} IS NOT NULL AND {c} NOT IN (0, 1)"),
        ColumnType::Uuid | ColumnType::Ref { .. } => format!(
            "{c} IS NOT NULL AND (typeof({c}) <> 'text' OR {c} NOT GLOB '{}-{}-{}-{}-{}')",
            hex(8),
            hex(4),
            hex(4),
            hex(4),
            hex(12)
        ),
        ColumnType::Date => format!("{c} IS NOT NULL AND date({c}) IS NOT {c}"),
        ColumnType::Datetime => format!(
            "{c} IS NOT NULL AND (typeof({c}) <> 'text' OR {c} NOT GLOB '[0-9][0-9][0-9][0-9]-[0-1][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-6][0-9]*' OR julianday({c}) IS NULL)"
        ),
        ColumnType::String | ColumnType::Email | ColumnType::Url => return None,
    })
}

/// A check: the migration fails with `message` when `count` (a query of
/// one number) is not zero.
fn check(out: &mut String, message: &str, count: &str) {
    let _ = writeln!(out, "-- Check: {message}.");
    let _ = writeln!(
        out,
        "CREATE TEMP TABLE \"_palisade_check\" (\"rows\" INTEGER CONSTRAINT {} CHECK (\"rows\" = 0));",
        quote(message)
    );
    let _ = writeln!(out, "INSERT INTO \"_palisade_check\" {count};");
    out.push_str("DROP TABLE \"_palisade_check\";\n");
}

fn check_rows(out: &mut String, table: &str, check_kind: &Check, message: &str) {
    let t = quote(table);
    let count = match check_kind {
        Check::Empty => format!("SELECT count(*) FROM {t}"),
        Check::NoNulls { column } => {
            format!("SELECT count(*) FROM {t} WHERE {} IS NULL", quote(column))
        }
        Check::NoDuplicates { columns } => format!(
            "SELECT count(*) FROM (SELECT 1 FROM {t} WHERE {} GROUP BY {} HAVING count(*) > 1)",
            columns
                .iter()
                .map(|c| format!("{} IS NOT NULL", quote(c)))
                .collect::<Vec<_>>()
                .join(" AND "),
            quoted_list(columns)
        ),
        Check::Exact { column } => format!(
            "SELECT count(*) FROM {t} WHERE {c} > 9007199254740992 OR {c} < -9007199254740992",
            c = quote(column)
        ),
        Check::Fits { column, ty } => match misfit(column, ty) {
            Some(condition) => format!("SELECT count(*) FROM {t} WHERE {condition}"),
            None => return,
        },
    };
    check(out, message, &count);
}

/// Whether SQLite can make the change in place (`ADD COLUMN` of optional
/// columns without references, index changes).
fn in_place(change: &TableChange) -> bool {
    change.dropped().next().is_none()
        && change.altered().next().is_none()
        && !change.foreign_keys_changed()
        && change
            .to
            .columns
            .iter()
            .zip(&change.sources)
            .all(|(c, s)| match s {
                Source::Column(_) => true,
                Source::Null => !c.required && change.to.foreign_keys_of(&c.name).next().is_none(),
                Source::Value(_) => false,
            })
}

/// Whether a check reads the table as rebuilt (a new type's storage, or
/// a column the rebuild adds) rather than as it was.
fn after_copy(kind: &Check, change: &TableChange) -> bool {
    match kind {
        Check::Fits { .. } => true,
        Check::NoDuplicates { columns } => columns.iter().any(|c| change.from.column(c).is_none()),
        _ => false,
    }
}

fn table_change(out: &mut String, change: &TableChange) {
    let name = &change.to.name;
    for (kind, message) in &change.checks {
        if !after_copy(kind, change) {
            check_rows(out, name, kind, message);
        }
    }
    if in_place(change) {
        for (c, source) in change.to.columns.iter().zip(&change.sources) {
            if *source == Source::Null {
                let _ = writeln!(
                    out,
                    "-- Add `{}`: optional, rows that exist get null.\nALTER TABLE {} ADD COLUMN {};",
                    c.name,
                    quote(name),
                    column_definition(c)
                );
            }
        }
        return;
    }
    let staging = format!("_palisade_new_{name}");
    let _ = writeln!(
        out,
        "-- Rebuild `{name}` (SQLite cannot change its columns in place): a new table, the rows copied, the old table dropped, the new one renamed, its indexes created again."
    );
    out.push_str(&create_table(&change.to, &staging, false));
    let values: Vec<String> = change
        .sources
        .iter()
        .map(|s| match s {
            Source::Column(c) => quote(c),
            Source::Value(v) => literal(v),
            Source::Null => "NULL".into(),
        })
        .collect();
    let columns: Vec<String> = change.to.columns.iter().map(|c| c.name.clone()).collect();
    let _ = writeln!(
        out,
        "INSERT INTO {} ({}) SELECT {} FROM {};",
        quote(&staging),
        quoted_list(&columns),
        values.join(", "),
        quote(name)
    );
    for (kind, message) in &change.checks {
        if after_copy(kind, change) {
            check_rows(out, &staging, kind, message);
        }
    }
    let _ = writeln!(out, "DROP TABLE {};", quote(name));
    let _ = writeln!(
        out,
        "ALTER TABLE {} RENAME TO {};",
        quote(&staging),
        quote(name)
    );
    for index in &change.to.indexes {
        out.push_str(&create_index(name, index, false));
    }
}

/// The SQL of one migration: its steps, each with a comment that says
/// what it does and why.
pub fn migration(plan: &Plan) -> String {
    let mut out = String::new();
    for (from, to) in &plan.renamed_tables {
        let _ = writeln!(
            out,
            "\n-- Rename `{from}` to `{to}` (`renamed_from`): the rows are kept.\nALTER TABLE {} RENAME TO {};",
            quote(from),
            quote(to)
        );
    }
    for (table, from, to) in &plan.renamed_columns {
        let _ = writeln!(
            out,
            "\n-- Rename `{from}` of `{table}` to `{to}` (`renamed_from`): the values are kept.\nALTER TABLE {} RENAME COLUMN {} TO {};",
            quote(table),
            quote(from),
            quote(to)
        );
    }
    if !plan.dropped_indexes.is_empty() {
        out.push_str("\n-- Indexes the spec no longer has (or has under another name).\n");
        for index in &plan.dropped_indexes {
            let _ = writeln!(out, "DROP INDEX IF EXISTS {};", quote(&index.name));
        }
    }
    for table in &plan.created_tables {
        let _ = writeln!(out, "\n-- Add resource `{}`: a new table.", table.name);
        out.push_str(&create_table(table, &table.name, false));
        for index in &table.indexes {
            out.push_str(&create_index(&table.name, index, false));
        }
    }
    for change in &plan.changed_tables {
        out.push('\n');
        table_change(&mut out, change);
    }
    let rebuilt = |table: &str| {
        plan.changed_tables
            .iter()
            .any(|c| c.to.name == table && !in_place(c))
    };
    let created: Vec<_> = plan
        .created_indexes
        .iter()
        .filter(|(table, _)| {
            !rebuilt(table) && !plan.created_tables.iter().any(|t| &t.name == table)
        })
        .collect();
    if !created.is_empty() {
        out.push_str("\n-- Indexes the spec asks for now.\n");
        for (table, index) in created {
            out.push_str(&create_index(table, index, false));
        }
    }
    for table in &plan.dropped_tables {
        let _ = writeln!(
            out,
            "\n-- Drop resource `{}` (--allow-destructive): its table and every row of it.\nDROP TABLE {};",
            table.name,
            quote(&table.name)
        );
    }
    out
}

/// A table as SQLite describes it (`pragma_table_info`,
/// `pragma_foreign_key_list`, `pragma_index_list`): storage types only.
struct Stored {
    name: String,
    /// Name, declared type, `NOT NULL`, primary key, default (as SQL).
    columns: Vec<(String, String, bool, bool, Option<String>)>,
    foreign_keys: Vec<ForeignKey>,
    /// The indexes made by `CREATE INDEX`, by name.
    indexes: Vec<Index>,
}

/// Every table of `db` but SQLite's and the migrations' record, in
/// creation order.
fn stored(db: &rusqlite::Connection) -> Result<Vec<Stored>, String> {
    let e = |e: rusqlite::Error| e.to_string();
    let rows = |sql: &str, arg: &str| -> Result<Vec<Vec<rusqlite::types::Value>>, String> {
        let mut stmt = db.prepare(sql).map_err(e)?;
        let n = stmt.column_count();
        let rows = stmt
            .query_map([arg], |row| (0..n).map(|i| row.get(i)).collect())
            .map_err(e)?;
        rows.collect::<Result<_, _>>().map_err(e)
    };
    let text = |v: &rusqlite::types::Value| match v {
        rusqlite::types::Value::Text(s) => s.clone(),
        rusqlite::types::Value::Integer(i) => i.to_string(),
        _ => String::new(),
    };
    let int =
        |v: &rusqlite::types::Value| matches!(v, rusqlite::types::Value::Integer(i) if *i != 0);
    let names = rows(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> ?1 ORDER BY rowid",
        "_palisade_migrations",
    )?;
    let mut tables = Vec::new();
    for row in names {
        let name = text(&row[0]);
        let mut foreign_keys: Vec<(String, ForeignKey)> = Vec::new();
        for fk in rows(
            "SELECT id, \"table\", \"from\", \"to\", on_delete FROM pragma_foreign_key_list(?1) ORDER BY id, seq",
            &name,
        )? {
            let id = text(&fk[0]);
            match foreign_keys.iter_mut().find(|(i, _)| *i == id) {
                Some((_, existing)) => {
                    existing.columns.push(text(&fk[2]));
                    existing.target_columns.push(text(&fk[3]));
                }
                None => foreign_keys.push((
                    id,
                    ForeignKey {
                        columns: vec![text(&fk[2])],
                        table: text(&fk[1]),
                        target_columns: vec![text(&fk[3])],
                        on_delete: match text(&fk[4]).as_str() {
                            "SET NULL" => OnDelete::SetNull,
                            _ => OnDelete::Restrict,
                        },
                    },
                )),
            }
        }
        let columns = rows(
            "SELECT name, type, \"notnull\", pk, dflt_value FROM pragma_table_info(?1) ORDER BY cid",
            &name,
        )?
        .iter()
        .map(|c| {
            let default = match &c[4] {
                rusqlite::types::Value::Null => None,
                v => Some(text(v)),
            };
            (text(&c[0]), text(&c[1]).to_ascii_uppercase(), int(&c[2]), int(&c[3]), default)
        })
        .collect();
        let mut indexes = Vec::new();
        for i in rows(
            "SELECT name, \"unique\" FROM pragma_index_list(?1) WHERE origin = 'c' ORDER BY name",
            &name,
        )? {
            let index = text(&i[0]);
            let columns = rows(
                "SELECT name FROM pragma_index_info(?1) ORDER BY seqno",
                &index,
            )?
            .iter()
            .map(|r| text(&r[0]))
            .collect();
            indexes.push(Index {
                name: index,
                unique: int(&i[1]),
                columns,
            });
        }
        tables.push(Stored {
            name,
            columns,
            foreign_keys: foreign_keys.into_iter().map(|(_, fk)| fk).collect(),
            indexes,
        });
    }
    Ok(tables)
}

/// The schema that `sql` (a migration of a project generated before its
/// snapshots were kept) creates, read back from an in-memory SQLite. The
/// database knows storage types only: a column keeps the spec's type when
/// the spec has it with the same storage, otherwise it is taken as the
/// widest type of its storage (`integer`, `number`, `string`).
pub fn read_back(sql: &str, service: &crate::model::Service) -> Result<Schema, String> {
    let db = rusqlite::Connection::open_in_memory().map_err(|e| e.to_string())?;
    db.execute_batch(sql).map_err(|e| e.to_string())?;
    let spec = Schema::of(service);
    let tables = stored(&db)?
        .into_iter()
        .map(|t| {
            let known = spec.table(&t.name);
            let columns: Vec<Column> = t
                .columns
                .into_iter()
                .map(|(name, storage_type, required, primary_key, _)| {
                    let references = t
                        .foreign_keys
                        .iter()
                        .find(|fk| fk.columns.last() == Some(&name))
                        .map(|fk| fk.table.clone());
                    let ty = match (known.and_then(|k| k.column(&name)), references) {
                        (Some(k), _) if storage(&k.ty) == storage_type => k.ty.clone(),
                        (_, Some(resource)) => ColumnType::Ref { resource },
                        _ => match storage_type.as_str() {
                            "INTEGER" => ColumnType::Integer,
                            "REAL" => ColumnType::Number,
                            _ => ColumnType::String,
                        },
                    };
                    Column {
                        name,
                        ty,
                        required,
                        primary_key,
                    }
                })
                .collect();
            let mut indexes = t.indexes;
            // The spec's order of indexes, where it has them.
            if let Some(k) = known {
                indexes.sort_by_key(|i| {
                    k.indexes
                        .iter()
                        .position(|s| s.name == i.name)
                        .unwrap_or(usize::MAX)
                });
            }
            let owner = known
                .and_then(|k| k.owner.clone())
                .filter(|o| columns.iter().any(|c| &c.name == o));
            Table {
                name: t.name,
                owner,
                columns,
                foreign_keys: t.foreign_keys,
                indexes,
            }
        })
        .collect();
    Ok(Schema { tables })
}

/// Applies one migration to `db` as the generated server does (foreign
/// keys off, one `BEGIN IMMEDIATE` transaction, `PRAGMA
/// foreign_key_check` before the commit), so that tests can replay a
/// project's history without building it.
pub fn apply(db: &rusqlite::Connection, sql: &str) -> Result<(), String> {
    db.execute_batch("PRAGMA foreign_keys = OFF; BEGIN IMMEDIATE;")
        .map_err(|e| e.to_string())?;
    let result = db
        .execute_batch(sql)
        .map_err(|e| e.to_string())
        .and_then(|()| {
            let broken: i64 = db
                .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                    r.get(0)
                })
                .map_err(|e| e.to_string())?;
            if broken == 0 {
                Ok(())
            } else {
                Err(format!("{broken} row(s) break a foreign key"))
            }
        });
    let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
    db.execute_batch(&format!("{end}; PRAGMA foreign_keys = ON;"))
        .map_err(|e| e.to_string())?;
    result
}

/// The schema of `db`, normalized for comparison: per table (by name), its
/// columns by name with their declared type, `NOT NULL`, primary key and
/// default, its foreign keys and its indexes (by name, with uniqueness and
/// columns). Column order and statement text are left out: a migrated
/// table may have its columns in another order than a new one.
pub fn dump(db: &rusqlite::Connection) -> Result<String, String> {
    let mut tables = stored(db)?;
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    let mut out = String::new();
    for t in tables {
        let _ = writeln!(out, "table {}", t.name);
        let mut lines: Vec<String> = t
            .columns
            .iter()
            .map(|(name, ty, not_null, pk, default)| {
                format!("  column {name} {ty} notnull={not_null} pk={pk} default={default:?}")
            })
            .chain(t.foreign_keys.iter().map(|fk| {
                format!(
                    "  foreign key ({}) {} ({}) {:?}",
                    fk.columns.join(", "),
                    fk.table,
                    fk.target_columns.join(", "),
                    fk.on_delete
                )
            }))
            .chain(t.indexes.iter().map(|i| {
                format!(
                    "  index {} unique={} ({})",
                    i.name,
                    i.unique,
                    i.columns.join(", ")
                )
            }))
            .collect();
        lines.sort();
        for line in lines {
            let _ = writeln!(out, "{line}");
        }
    }
    Ok(out)
}
