//! Migrations as PostgreSQL runs them.
//!
//! The same schema and plan as [`super::sqlite`], written for PostgreSQL:
//! its own storage types (`uuid`, `bigint`, `double precision`, `boolean`,
//! `date`, `timestamptz`, `text`), the same table, column and index names
//! (an index name longer than PostgreSQL keeps is shortened by
//! [`identifier`]), foreign keys named after their ref column
//! (`"{column}-fkey"`, unique in their table, so a table rename leaves them
//! right and a column rename renames them), and `ALTER TABLE` for every
//! change (PostgreSQL needs no rebuild). Every owned table has row-level security enabled and forced
//! from the statement that creates it on ([`row_security`]); the policies
//! are derived state that the server writes at start-up.
//!
//! The server applies each file in one transaction under an advisory lock,
//! so a file never says `BEGIN` or `COMMIT`; it starts with `SET LOCAL`
//! lock and statement timeouts, which that transaction scopes. Checks of
//! the rows that exist are `DO` blocks that raise the check's reason, so a
//! migration that cannot hold fails, leaving the database as it was, with
//! a message that says what is wrong. Foreign keys come last, once every
//! table and index they name exists (so cycles and self-references need
//! no order), added `NOT VALID` and then validated on tables that have
//! rows.

use std::fmt::Write as _;

use super::changes::{Check, Plan, Source, TableChange};
use super::schema::{Column, ForeignKey, Schema, Table};
use crate::model::{ColumnType, Index, OnDelete};

pub use super::sqlite::quote;

/// The first statements of every file: no statement waits longer than
/// 5 s for a lock (the service's own requests queue behind a waiting
/// `ALTER TABLE`) or runs longer than 60 s.
const TIMEOUTS: &str = "\nSET LOCAL lock_timeout = '5s';\nSET LOCAL statement_timeout = '60s';\n";

fn quoted_list(names: &[String]) -> String {
    names
        .iter()
        .map(|n| quote(n))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The longest identifier PostgreSQL keeps (`NAMEDATALEN` - 1 bytes); a
/// longer one is cut, so two could become one.
pub const MAX_IDENTIFIER: usize = 63;

/// The name PostgreSQL knows an index or key by: its own when it fits,
/// else its first 50 bytes and 12 hex digits of its SHA-256, so a long
/// name stays distinct and the same in every migration.
pub fn identifier(name: &str) -> String {
    use sha2::Digest as _;
    if name.len() <= MAX_IDENTIFIER {
        return name.to_string();
    }
    let mut cut = 50;
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    let digest = sha2::Sha256::digest(name.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("{}-{hex}", &name[..cut])
}

/// The storage type of a column.
pub fn storage(ty: &ColumnType) -> &'static str {
    match ty {
        ColumnType::String | ColumnType::Email | ColumnType::Url => "text",
        ColumnType::Integer => "bigint",
        ColumnType::Number => "double precision",
        ColumnType::Boolean => "boolean",
        ColumnType::Date => "date",
        ColumnType::Datetime => "timestamptz",
        ColumnType::Uuid | ColumnType::Ref { .. } => "uuid",
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

/// The name of a foreign key: its ref column's (the last of its columns),
/// with `-fkey`, which no column name has.
pub fn key_name(fk: &ForeignKey) -> String {
    identifier(&format!(
        "{}-fkey",
        fk.columns.last().map_or("", String::as_str)
    ))
}

fn on_delete(fk: &ForeignKey) -> String {
    match fk.on_delete {
        OnDelete::Restrict => "RESTRICT".into(),
        // Only the ref column: never the owner of a composite key.
        OnDelete::SetNull if fk.columns.len() > 1 => {
            format!("SET NULL ({})", quote(&fk.columns[fk.columns.len() - 1]))
        }
        OnDelete::SetNull => "SET NULL".into(),
        // Never in a schema: such a ref has no foreign key.
        OnDelete::Keep => "NO ACTION".into(),
    }
}

/// Row-level security on `table`, enabled and forced (its owner, who
/// migrates, is held to it too): without a policy, nobody reads or writes
/// a row. The server creates the policies from the model at start-up.
pub fn row_security(table: &str) -> String {
    let t = quote(table);
    format!(
        "ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;\nALTER TABLE {t} FORCE ROW LEVEL SECURITY;\n"
    )
}

fn create_index(table: &str, index: &Index) -> String {
    format!(
        "CREATE {}INDEX {} ON {} ({});\n",
        if index.unique { "UNIQUE " } else { "" },
        quote(&identifier(&index.name)),
        quote(table),
        quoted_list(&index.columns)
    )
}

/// `CREATE TABLE` (without its foreign keys), its indexes and, when it is
/// owned, its row-level security.
fn create_table(out: &mut String, table: &Table) {
    let lines: Vec<String> = table.columns.iter().map(column_definition).collect();
    let _ = write!(
        out,
        "CREATE TABLE {} (\n    {}\n);\n",
        quote(&table.name),
        lines.join(",\n    ")
    );
    for index in &table.indexes {
        out.push_str(&create_index(&table.name, index));
    }
    if table.owner().is_some() {
        out.push_str(&row_security(&table.name));
    }
}

/// Adds a foreign key. On a table that has rows, `NOT VALID` and then
/// validated, the two steps squawk asks for; in one transaction (each file
/// is one) the validation still runs under the lock the key took, so they
/// gain no concurrency, and lose nothing.
fn add_key(out: &mut String, table: &str, fk: &ForeignKey, has_rows: bool) {
    let _ = writeln!(
        out,
        "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({}) ON DELETE {}{};",
        quote(table),
        quote(&key_name(fk)),
        quoted_list(&fk.columns),
        quote(&fk.table),
        quoted_list(&fk.target_columns),
        on_delete(fk),
        if has_rows { " NOT VALID" } else { "" }
    );
    if has_rows {
        let _ = writeln!(
            out,
            "ALTER TABLE {} VALIDATE CONSTRAINT {};",
            quote(table),
            quote(&key_name(fk))
        );
    }
}

/// The first migration: every table with its indexes and row-level
/// security, then every foreign key.
pub fn init(schema: &Schema) -> String {
    let mut out = String::from(TIMEOUTS);
    for table in &schema.tables {
        out.push('\n');
        create_table(&mut out, table);
    }
    let keys: Vec<(&Table, &ForeignKey)> = schema
        .tables
        .iter()
        .flat_map(|t| t.foreign_keys.iter().map(move |fk| (t, fk)))
        .collect();
    if !keys.is_empty() {
        out.push_str("\n-- References, once every table and index they name exists.\n");
        for (table, fk) in keys {
            add_key(&mut out, &table.name, fk, false);
        }
    }
    out
}

/// A JSON value of the spec (a `default` or `backfill`) as an SQL literal:
/// quoted, so that PostgreSQL reads it as a constant of the column's type
/// (`-5` would be an expression, and `9223372036854775808` a numeric).
pub fn literal(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => "NULL".into(),
        serde_json::Value::Bool(b) => if *b { "TRUE" } else { "FALSE" }.into(),
        serde_json::Value::Number(n) => text(&n.to_string()),
        serde_json::Value::String(s) => text(s),
        other => text(&other.to_string()),
    }
}

/// A string literal.
fn text(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// How the values of a column change storage: the condition a value
/// fails when it has no place in the new type (`None`: every value has
/// one; it may cast, inside a `CASE` that guards the cast), and the
/// expression of `ALTER COLUMN ... TYPE ... USING`. The rules are
/// SQLite's: a value fits when the server could have written it as the
/// new type (a date is no datetime, a uuid no number).
struct Conversion {
    misfit: Option<String>,
    /// Whether `misfit` casts (a refused cast is a misfit too).
    casts: bool,
    using: String,
}

fn conversion(column: &str, from: &ColumnType, to: &ColumnType) -> Conversion {
    let c = quote(column);
    let (old, new) = (storage(from), storage(to));
    // Whether the text is shaped like a value of the new type; the cast
    // of a shaped value may still fail (`2024-02-30`), which the check's
    // handler of data exceptions reports as a misfit too.
    let shaped = |pattern: &str, then: &str| {
        Some(format!(
            "CASE WHEN {c} ~ '{pattern}' THEN {then} ELSE TRUE END"
        ))
    };
    let none = |misfit: Option<String>, using: String| Conversion {
        casts: old == "text"
            && matches!(new, "bigint" | "double precision" | "date" | "timestamptz"),
        misfit,
        using,
    };
    if old == new {
        return none(None, c);
    }
    match (old, new) {
        (_, "text") => none(
            None,
            match old {
                "date" => format!("to_char({c}, 'YYYY-MM-DD')"),
                "timestamptz" => {
                    format!("to_char({c} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
                }
                _ => format!("{c}::text"),
            },
        ),
        ("text", "bigint") => none(
            shaped(
                "^[+-]?[0-9]+$",
                &format!("{c}::numeric NOT BETWEEN -9223372036854775808 AND 9223372036854775807"),
            ),
            format!("{c}::bigint"),
        ),
        ("text", "double precision") => none(
            shaped(
                r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$",
                &format!("abs({c}::numeric) > 1.7976931348623157e308"),
            ),
            format!("{c}::double precision"),
        ),
        ("text", "boolean") => none(
            Some(format!("{c} NOT IN ('true', 'false', '1', '0')")),
            format!("{c} IN ('true', '1')"),
        ),
        ("text", "date") => none(
            shaped(
                "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
                &format!("{c}::date IS NULL"),
            ),
            format!("{c}::date"),
        ),
        ("text", "timestamptz") => none(
            shaped(
                r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?([Zz]|[+-][0-9]{2}:[0-9]{2})$",
                &format!("{c}::timestamptz IS NULL"),
            ),
            format!("{c}::timestamptz"),
        ),
        ("text", "uuid") => none(
            Some(format!(
                "{c} !~ '^[0-9a-f]{{8}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{4}}-[0-9a-f]{{12}}$'"
            )),
            format!("{c}::uuid"),
        ),
        ("bigint", "double precision") => none(None, format!("{c}::double precision")),
        ("double precision", "bigint") => none(
            Some(format!(
                "{c} <> trunc({c}) OR abs({c}) >= 9223372036854775808"
            )),
            format!("{c}::bigint"),
        ),
        ("boolean", "bigint" | "double precision") => none(None, format!("{c}::integer::{new}")),
        ("bigint" | "double precision", "boolean") => {
            none(Some(format!("{c} NOT IN (0, 1)")), format!("{c} <> 0"))
        }
        // No value of the old type is one of the new: only nulls fit.
        _ => none(Some(String::new()), format!("NULL::{new}")),
    }
}

/// A check: the migration fails with `message` when `query` (a query of
/// the rows that break it) finds one; with `casts`, a value that a cast
/// in the query refuses breaks it too.
fn check(out: &mut String, message: &str, query: &str, casts: bool) {
    let _ = writeln!(out, "-- Check: {message}.");
    let _ = writeln!(
        out,
        "DO $$\nBEGIN\n    IF EXISTS ({query}) THEN\n        RAISE EXCEPTION USING MESSAGE = {};\n    END IF;",
        text(message)
    );
    if casts {
        let _ = writeln!(
            out,
            "EXCEPTION WHEN data_exception THEN\n    RAISE EXCEPTION USING MESSAGE = {};",
            text(message)
        );
    }
    out.push_str("END $$;\n");
}

fn check_rows(out: &mut String, change: &TableChange, kind: &Check, message: &str) {
    let t = quote(&change.to.name);
    let (query, casts) = match kind {
        Check::Empty => (format!("SELECT 1 FROM {t}"), false),
        Check::NoNulls { column } => (
            format!("SELECT 1 FROM {t} WHERE {} IS NULL", quote(column)),
            false,
        ),
        Check::NoDuplicates { columns } => (
            format!(
                "SELECT 1 FROM {t} WHERE {} GROUP BY {} HAVING count(*) > 1",
                columns
                    .iter()
                    .map(|c| format!("{} IS NOT NULL", quote(c)))
                    .collect::<Vec<_>>()
                    .join(" AND "),
                quoted_list(columns)
            ),
            false,
        ),
        Check::Exact { column } => (
            format!(
                "SELECT 1 FROM {t} WHERE abs({}) > 9007199254740992",
                quote(column)
            ),
            false,
        ),
        Check::Fits { column, ty } => {
            let Some(old) = change.from.column(column) else {
                return;
            };
            let conversion = conversion(column, &old.ty, ty);
            let misfit = match conversion.misfit {
                None => return,
                Some(m) if m.is_empty() => String::new(),
                Some(m) => format!(" AND ({m})"),
            };
            (
                format!(
                    "SELECT 1 FROM {t} WHERE {} IS NOT NULL{misfit}",
                    quote(column)
                ),
                conversion.casts,
            )
        }
    };
    check(out, message, &query, casts);
}

/// The indexes of `plan` that only change name (a table was renamed: the
/// same columns, the same uniqueness, on the same table), renamed in place
/// rather than dropped and created: a unique index that a foreign key of
/// another table depends on cannot be dropped.
fn renamed_indexes(plan: &Plan) -> Vec<(&Index, &Index)> {
    let mut renamed: Vec<(&Index, &Index)> = Vec::new();
    for old in &plan.dropped_indexes {
        let Some(change) = plan
            .changed_tables
            .iter()
            .find(|c| c.from.indexes.contains(old))
        else {
            continue;
        };
        let new = plan.created_indexes.iter().find(|(table, new)| {
            *table == change.to.name
                && new.columns == old.columns
                && new.unique == old.unique
                && !renamed.iter().any(|(_, n)| n == &new)
        });
        if let Some((_, new)) = new {
            renamed.push((old, new));
        }
    }
    renamed
}

fn table_change(out: &mut String, change: &TableChange, created: &[&Index]) {
    let name = &change.to.name;
    let t = quote(name);
    for (kind, message) in &change.checks {
        if !matches!(kind, Check::NoDuplicates { .. }) {
            check_rows(out, change, kind, message);
        }
    }
    for (c, source) in change.to.columns.iter().zip(&change.sources) {
        match source {
            Source::Column(_) => {}
            Source::Null if c.required => {
                let _ = writeln!(
                    out,
                    "-- Add `{}`: required, to a table that has no rows.\nALTER TABLE {t} ADD COLUMN {};",
                    c.name,
                    column_definition(c)
                );
            }
            Source::Null => {
                let _ = writeln!(
                    out,
                    "-- Add `{}`: optional, rows that exist get null.\nALTER TABLE {t} ADD COLUMN {};",
                    c.name,
                    column_definition(c)
                );
            }
            Source::Value(value) => {
                let _ = writeln!(
                    out,
                    "-- Add `{}`: rows that exist get {value}; new rows get the value the server writes (the default is only for the rows that exist).\nALTER TABLE {t} ADD COLUMN {} DEFAULT {};\nALTER TABLE {t} ALTER COLUMN {} DROP DEFAULT;",
                    c.name,
                    column_definition(c),
                    literal(value),
                    quote(&c.name)
                );
            }
        }
    }
    for c in change.dropped() {
        let _ = writeln!(
            out,
            "-- Drop `{}` (--allow-destructive): the column and its values.\nALTER TABLE {t} DROP COLUMN {};",
            c.name,
            quote(&c.name)
        );
    }
    for c in change.altered() {
        let old = change
            .from
            .column(&c.name)
            .expect("an altered column exists");
        let col = quote(&c.name);
        if storage(&old.ty) != storage(&c.ty) {
            let _ = writeln!(
                out,
                "ALTER TABLE {t} ALTER COLUMN {col} TYPE {} USING {};",
                storage(&c.ty),
                conversion(&c.name, &old.ty, &c.ty).using
            );
        }
        if old.required != c.required {
            let _ = writeln!(
                out,
                "ALTER TABLE {t} ALTER COLUMN {col} {} NOT NULL;",
                if c.required { "SET" } else { "DROP" }
            );
        }
    }
    for (kind, message) in &change.checks {
        if matches!(kind, Check::NoDuplicates { .. }) {
            check_rows(out, change, kind, message);
        }
    }
    for index in created {
        out.push_str(&create_index(name, index));
    }
    if change.from.owner().is_some() && change.to.owner().is_none() {
        let _ = writeln!(
            out,
            "-- `{name}` has no owner any more.\nALTER TABLE {t} NO FORCE ROW LEVEL SECURITY;\nALTER TABLE {t} DISABLE ROW LEVEL SECURITY;"
        );
    }
}

/// The keys a migration adds to tables that have rows: validated against
/// them.
fn validated_keys(plan: &Plan) -> impl Iterator<Item = (&TableChange, &ForeignKey)> {
    plan.changed_tables.iter().flat_map(|c| {
        c.to.foreign_keys
            .iter()
            .filter(|fk| !c.from.foreign_keys.contains(fk))
            .map(move |fk| (c, fk))
    })
}

/// The owned tables whose rows the migration reads (a check, or the
/// validation of a key on either side of it), by their new names: forced
/// row-level security would hold the table's owner, who migrates, to the
/// policies, and a check or a validation would then pass over the rows it
/// cannot see. Their row security is not forced while the migration runs.
fn lifted(plan: &Plan) -> Vec<&str> {
    let was_owned = |name: &str| {
        if plan.created_tables.iter().any(|t| t.name == name) {
            return false;
        }
        match plan.changed_tables.iter().find(|c| c.to.name == name) {
            Some(change) => change.from.owner().is_some(),
            // Unchanged: owned before as after.
            None => plan.target.table(name).is_some_and(|t| t.owner().is_some()),
        }
    };
    let mut names: Vec<&str> = Vec::new();
    let read = plan
        .changed_tables
        .iter()
        .filter(|c| !c.checks.is_empty())
        .map(|c| c.to.name.as_str())
        .chain(validated_keys(plan).flat_map(|(c, fk)| [c.to.name.as_str(), fk.table.as_str()]));
    for name in read {
        if was_owned(name) && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// The SQL of one migration: its steps, each with a comment that says
/// what it does and why.
pub fn migration(plan: &Plan) -> String {
    let mut out = String::from(TIMEOUTS);
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
        if plan
            .renamed_keys
            .contains(&(table.clone(), from.clone(), to.clone()))
        {
            let _ = writeln!(
                out,
                "ALTER TABLE {} RENAME CONSTRAINT {} TO {};",
                quote(table),
                quote(&identifier(&format!("{from}-fkey"))),
                quote(&identifier(&format!("{to}-fkey")))
            );
        }
    }
    let lifted = lifted(plan);
    if !lifted.is_empty() {
        out.push_str("\n-- The checks and references below read every row: row-level security is not\n-- forced on the tables' owner, who migrates, until they are done.\n");
        for name in &lifted {
            let _ = writeln!(
                out,
                "ALTER TABLE {} NO FORCE ROW LEVEL SECURITY;",
                quote(name)
            );
        }
    }
    let dropped_keys: Vec<(&str, &ForeignKey)> = plan
        .changed_tables
        .iter()
        .flat_map(|c| {
            c.from
                .foreign_keys
                .iter()
                .filter(|fk| !c.to.foreign_keys.contains(fk))
                .map(|fk| (c.to.name.as_str(), fk))
        })
        .collect();
    if !dropped_keys.is_empty() {
        out.push_str(
            "\n-- References that go or change, before the tables and indexes they name.\n",
        );
        for (table, fk) in dropped_keys {
            let _ = writeln!(
                out,
                "ALTER TABLE {} DROP CONSTRAINT {};",
                quote(table),
                quote(&key_name(fk))
            );
        }
    }
    if !plan.dropped_tables.is_empty() {
        let names: Vec<String> = plan.dropped_tables.iter().map(|t| t.name.clone()).collect();
        let _ = writeln!(
            out,
            "\n-- Drop {} {} (--allow-destructive): {} and every row of {}.\nDROP TABLE {};",
            if names.len() == 1 {
                "resource"
            } else {
                "resources"
            },
            names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", "),
            if names.len() == 1 {
                "its table"
            } else {
                "their tables"
            },
            if names.len() == 1 { "it" } else { "them" },
            quoted_list(&names)
        );
    }
    let renamed = renamed_indexes(plan);
    if !renamed.is_empty() {
        out.push_str("\n-- Indexes of renamed tables, renamed with them.\n");
        for (old, new) in &renamed {
            let _ = writeln!(
                out,
                "ALTER INDEX {} RENAME TO {};",
                quote(&identifier(&old.name)),
                quote(&identifier(&new.name))
            );
        }
    }
    let dropped: Vec<&Index> = plan
        .dropped_indexes
        .iter()
        .filter(|i| !renamed.iter().any(|(old, _)| old == i))
        .collect();
    if !dropped.is_empty() {
        out.push_str("\n-- Indexes the spec no longer has (or has under another name).\n");
        for index in dropped {
            let _ = writeln!(out, "DROP INDEX {};", quote(&identifier(&index.name)));
        }
    }
    for table in &plan.created_tables {
        let _ = writeln!(out, "\n-- Add resource `{}`: a new table.", table.name);
        create_table(&mut out, table);
    }
    for change in &plan.changed_tables {
        let created: Vec<&Index> = plan
            .created_indexes
            .iter()
            .filter(|(table, index)| {
                *table == change.to.name && !renamed.iter().any(|(_, new)| new == &index)
            })
            .map(|(_, index)| index)
            .collect();
        let mut steps = String::new();
        table_change(&mut steps, change, &created);
        if !steps.is_empty() {
            let _ = write!(out, "\n-- Change `{}`.\n{steps}", change.to.name);
        }
    }
    let added_keys: Vec<(&str, &ForeignKey, bool)> = plan
        .created_tables
        .iter()
        .flat_map(|t| {
            t.foreign_keys
                .iter()
                .map(move |fk| (t.name.as_str(), fk, false))
        })
        .chain(validated_keys(plan).map(|(c, fk)| (c.to.name.as_str(), fk, true)))
        .collect();
    if !added_keys.is_empty() {
        out.push_str("\n-- References, once every table and index they name exists.\n");
        for (table, fk, has_rows) in added_keys {
            add_key(&mut out, table, fk, has_rows);
        }
    }
    // Tables owned now, and owned tables whose row security was lifted:
    // enabled and forced.
    let secured: Vec<&str> = plan
        .changed_tables
        .iter()
        .filter(|c| c.to.owner().is_some() && c.from.owner().is_none())
        .map(|c| c.to.name.as_str())
        .chain(
            lifted
                .iter()
                .copied()
                .filter(|name| plan.target.table(name).is_some_and(|t| t.owner().is_some())),
        )
        .collect();
    if !secured.is_empty() {
        out.push_str("\n-- Row-level security, enabled and forced on every owned table.\n");
        for name in secured {
            out.push_str(&row_security(name));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_names_are_shortened_apart() {
        assert_eq!(identifier("order-list"), "order-list");
        let long = "a_very_long_identifier_with_many_parts_that_goes_on_and_on";
        let (unique, key) = (
            identifier(&format!("{long}-for-unique")),
            identifier(&format!("{long}-for-ref")),
        );
        assert_eq!(unique.len(), MAX_IDENTIFIER);
        assert_ne!(unique, key);
        assert!(unique.starts_with(&long[..50]));
        assert_eq!(identifier(&format!("{long}-for-ref")), key);
    }
}
