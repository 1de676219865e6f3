//! Schema evolution: the migrations of a project, append-only.
//!
//! Stage: migrate (between model and emit). Input: the model and the
//! project's history (the schema snapshot after each migration, from the
//! manifest). Output: the history with, when the spec's schema differs
//! from the last snapshot, one more migration: its SQL, its changes, and
//! its snapshot. A migration that exists is never rewritten; the spec is
//! the desired state, and the last snapshot the state the migrations leave,
//! so what is due is known without a database.
//!
//! The snapshot and the classification of changes ([`changes`]) are
//! engine-independent; [`sqlite`] and [`postgres`] are the engine-specific
//! steps, each writing the same migration for its engine. Migrations share
//! their numbers: `migrations/NNNN_<slug>.sql` is SQLite's (always
//! written: it is the history the manifest and older projects read) and
//! `migrations/postgres/NNNN_<slug>.sql` PostgreSQL's, written while the
//! model serves PostgreSQL. A project whose last migration has no
//! PostgreSQL file (it predates them, or PostgreSQL was just turned on)
//! gets a baseline: the whole schema as its last migration leaves it,
//! numbered and named as that migration, from which later PostgreSQL
//! migrations follow the shared numbers.

pub mod changes;
pub mod postgres;
pub mod schema;
#[cfg(test)]
mod specs;
pub mod sqlite;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use changes::{Change, Class, Refusal};
pub use schema::Schema;

use crate::model::{Engine, Service};

/// One migration of a project's history, as the manifest records it: its
/// number, its name, and the schema it leaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub version: u32,
    pub name: String,
    pub schema: Schema,
}

impl Record {
    /// The SQLite migration's path in the project.
    pub fn file(&self) -> String {
        format!("migrations/{:04}_{}.sql", self.version, self.name)
    }

    /// The PostgreSQL migration's path in the project.
    pub fn postgres_file(&self) -> String {
        format!("migrations/postgres/{:04}_{}.sql", self.version, self.name)
    }
}

/// The migrations a project has: their records, and the hash of each file
/// as palisade wrote it (to notice a hand edit).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    pub records: Vec<Record>,
    pub files: BTreeMap<String, String>,
}

impl History {
    /// The version of the first migration of the PostgreSQL chain: the
    /// records with a PostgreSQL file that end the history, without a gap.
    /// `None` when the last record has none (a baseline is due).
    pub fn postgres_from(&self) -> Option<u32> {
        self.records
            .iter()
            .rev()
            .take_while(|r| self.files.contains_key(&r.postgres_file()))
            .last()
            .map(|r| r.version)
    }
}

/// A migration to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Next {
    pub record: Record,
    /// The SQL statements (without the header).
    pub sql: String,
    pub changes: Vec<Change>,
}

/// A PostgreSQL migration to write.
#[derive(Debug, Clone, PartialEq)]
pub struct PostgresNext {
    /// The migration it is the PostgreSQL file of (the next one's, or for
    /// a baseline the last one's when none is due).
    pub version: u32,
    pub file: String,
    /// The SQL statements (without the header).
    pub sql: String,
    /// Whether it creates the whole schema (the first PostgreSQL file of
    /// the project) rather than migrating from the one before.
    pub baseline: bool,
}

/// The project's migrations once the spec is taken into account.
#[derive(Debug, Clone, PartialEq)]
pub struct Migrations {
    pub history: History,
    /// The migration the spec's changes need, if any.
    pub next: Option<Next>,
    /// The PostgreSQL file to write, if the project serves PostgreSQL and
    /// one is due.
    pub postgres: Option<PostgresNext>,
    /// The version of the first PostgreSQL migration the server applies;
    /// `None` when the project does not serve PostgreSQL.
    pub postgres_from: Option<u32>,
}

impl Migrations {
    /// Every record, the next one included.
    pub fn records(&self) -> Vec<&Record> {
        self.history
            .records
            .iter()
            .chain(self.next.as_ref().map(|n| &n.record))
            .collect()
    }

    /// The records whose PostgreSQL files the server applies, in order.
    pub fn postgres_records(&self) -> Vec<&Record> {
        let Some(from) = self.postgres_from else {
            return Vec::new();
        };
        self.records()
            .into_iter()
            .filter(|r| r.version >= from)
            .collect()
    }
}

/// The migrations of `service` after `history`: the first one creates the
/// schema; later ones take the last snapshot to the spec's schema. Refused
/// when a change needs a hint the spec lacks, or is destructive without
/// `allow_destructive`.
pub fn next(
    history: History,
    service: &Service,
    allow_destructive: bool,
) -> Result<Migrations, Vec<Refusal>> {
    let target = Schema::of(service);
    let postgres = service.engines.serves(Engine::Postgres);
    // The PostgreSQL file of migration `record`: its own migration when
    // the chain goes on, the whole schema when it starts there.
    let chain = history.postgres_from();
    let postgres_file = |record: &Record, plan: Option<&changes::Plan>| {
        let (sql, baseline) = match (plan, chain) {
            (Some(plan), Some(_)) => (postgres::migration(plan), false),
            _ => (postgres::init(&target), record.version > 1),
        };
        PostgresNext {
            version: record.version,
            file: record.postgres_file(),
            sql,
            baseline,
        }
    };
    let Some(last) = history.records.last() else {
        let record = Record {
            version: 1,
            name: "init".into(),
            schema: target.clone(),
        };
        return Ok(Migrations {
            postgres: postgres.then(|| postgres_file(&record, None)),
            postgres_from: postgres.then_some(1),
            history,
            next: Some(Next {
                record,
                sql: sqlite::init(&target),
                changes: Vec::new(),
            }),
        });
    };
    let plan = changes::plan(
        &last.schema,
        &target,
        &changes::Hints::of(service),
        allow_destructive,
    )?;
    if plan.is_empty() {
        // The schema is the last migration's: a baseline, if PostgreSQL
        // has no file yet, is numbered and named as that migration.
        let baseline = (postgres && chain.is_none()).then(|| postgres_file(last, None));
        return Ok(Migrations {
            postgres_from: postgres.then(|| chain.unwrap_or(last.version)),
            postgres: baseline,
            history,
            next: None,
        });
    }
    let record = Record {
        version: last.version + 1,
        name: plan.slug(),
        schema: target.clone(),
    };
    Ok(Migrations {
        postgres: postgres.then(|| postgres_file(&record, Some(&plan))),
        postgres_from: postgres.then(|| chain.unwrap_or(record.version)),
        next: Some(Next {
            sql: sqlite::migration(&plan),
            record,
            changes: plan.changes,
        }),
        history,
    })
}

/// The changes that take `old`'s schema to `new`'s, with `new`'s hints,
/// all of them (destructive ones included): for `diff`.
pub fn changes(old: &Service, new: &Service) -> Result<Vec<Change>, Vec<Refusal>> {
    changes::plan(
        &Schema::of(old),
        &Schema::of(new),
        &changes::Hints::of(new),
        true,
    )
    .map(|plan| plan.changes)
}

#[cfg(test)]
mod tests {
    use super::specs::{BASE, SHOP, V1};
    use super::*;
    use crate::source::SourceFile;

    fn model(resources: &str) -> Service {
        let text = if resources.starts_with("  # sqlite only\n") {
            format!("{BASE}{resources}").replace(
                "resources:\n",
                "database: { engines: [sqlite] }\nresources:\n",
            )
        } else {
            format!("{BASE}{resources}")
        };
        match crate::compile(SourceFile::new("shop.yaml", &text)) {
            Ok(c) => c.model,
            Err(report) => panic!(
                "{}",
                report.render(crate::diagnostic::RenderOptions {
                    color: false,
                    width: 100
                })
            ),
        }
    }

    /// The history of `specs` migrated one after the other (destructive
    /// changes allowed), with every migration's SQL.
    fn chain(specs: &[&str]) -> (History, Vec<String>) {
        let (history, migrations) = chain_of(History::default(), specs);
        (
            history,
            migrations
                .into_iter()
                .filter_map(|m| m.next.map(|n| n.sql))
                .collect(),
        )
    }

    /// `history` migrated with each of `specs` in turn, with every step's
    /// migrations, as `generate` writes them.
    fn chain_of(mut history: History, specs: &[&str]) -> (History, Vec<Migrations>) {
        let mut steps = Vec::new();
        for spec in specs {
            let m = next(history, &model(spec), true).expect("not refused");
            history = m.history.clone();
            if let Some(pg) = &m.postgres {
                history.files.insert(pg.file.clone(), String::new());
            }
            if let Some(n) = &m.next {
                history.files.insert(n.record.file(), String::new());
                history.records.push(n.record.clone());
            }
            steps.push(m);
        }
        (history, steps)
    }

    /// `resources` in a spec that serves SQLite only.
    fn sqlite_only(resources: &str) -> String {
        format!("  # sqlite only\n{resources}")
    }

    fn migrated(sql: &[String]) -> rusqlite::Connection {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        for (i, s) in sql.iter().enumerate() {
            sqlite::apply(&db, s).unwrap_or_else(|e| panic!("migration {} fails: {e}\n{s}", i + 1));
        }
        db
    }

    fn fresh(spec: &str) -> String {
        let (_, sql) = chain(&[spec]);
        sqlite::dump(&migrated(&sql)).unwrap()
    }

    #[test]
    fn postgres_migrations_share_the_numbers_of_sqlite_ones() {
        let v2 = V1.replace(
            "      amount: { type: integer }\n",
            "      amount: { type: integer }\n      due: { type: date }\n",
        );
        let (history, steps) = chain_of(History::default(), &[V1, &v2, &v2]);
        let files: Vec<(String, bool)> = steps
            .iter()
            .filter_map(|m| m.postgres.as_ref().map(|p| (p.file.clone(), p.baseline)))
            .collect();
        assert_eq!(
            files,
            [
                ("migrations/postgres/0001_init.sql".to_string(), false),
                (
                    "migrations/postgres/0002_add_invoice_due.sql".to_string(),
                    false
                )
            ]
        );
        assert!(
            steps[0]
                .postgres
                .as_ref()
                .unwrap()
                .sql
                .contains("CREATE TABLE \"invoice\"")
        );
        assert!(
            steps[1]
                .postgres
                .as_ref()
                .unwrap()
                .sql
                .contains("ALTER TABLE \"invoice\" ADD COLUMN \"due\" date;"),
            "{}",
            steps[1].postgres.as_ref().unwrap().sql
        );
        assert_eq!(history.postgres_from(), Some(1));
        assert_eq!(steps[2].postgres_from, Some(1));
        assert_eq!(steps[2].postgres_records().len(), 2);
    }

    #[test]
    fn a_project_that_turns_postgres_on_starts_it_from_a_baseline() {
        let v2 = V1.replace(
            "      amount: { type: integer }\n",
            "      amount: { type: integer }\n      due: { type: date }\n",
        );
        let v3 = v2.replace(
            "      due: { type: date }\n",
            "      due: { type: datetime }\n",
        );
        // SQLite only: no PostgreSQL file, and nothing for the server.
        let (history, steps) = chain_of(History::default(), &[&sqlite_only(V1), &sqlite_only(&v2)]);
        assert!(
            steps
                .iter()
                .all(|m| m.postgres.is_none() && m.postgres_from.is_none())
        );
        assert!(steps[1].postgres_records().is_empty());
        // Turned on with no schema change: the whole schema, as migration
        // 2 leaves it, numbered and named as migration 2.
        let (history, steps) = chain_of(history, &[&v2, &v3]);
        let baseline = steps[0].postgres.as_ref().unwrap();
        assert!(steps[0].next.is_none());
        assert_eq!(
            baseline.file,
            "migrations/postgres/0002_add_invoice_due.sql"
        );
        assert!(baseline.baseline);
        assert!(
            baseline.sql.contains("CREATE TABLE \"invoice\""),
            "{}",
            baseline.sql
        );
        assert_eq!(steps[0].postgres_from, Some(2));
        // Then the shared numbers.
        let third = steps[1].postgres.as_ref().unwrap();
        assert_eq!(third.file, "migrations/postgres/0003_alter_invoice_due.sql");
        assert!(!third.baseline);
        assert!(
            third.sql.contains("ALTER COLUMN \"due\" TYPE timestamptz"),
            "{}",
            third.sql
        );
        let versions: Vec<u32> = steps[1]
            .postgres_records()
            .iter()
            .map(|r| r.version)
            .collect();
        assert_eq!(versions, [2, 3]);
        // Off, then on again: a gap in the files starts a new baseline.
        let v4 = v3.replace("      due: { type: datetime }\n", "");
        let (_, steps) = chain_of(history, &[&sqlite_only(&v4), &v4]);
        assert!(steps[0].postgres.is_none());
        let again = steps[1].postgres.as_ref().unwrap();
        assert_eq!((again.version, again.baseline), (4, true));
        assert_eq!(steps[1].postgres_from, Some(4));
    }

    #[test]
    fn every_owned_table_has_row_security_from_its_creation_on() {
        let (_, steps) = chain_of(History::default(), &[SHOP]);
        let init = &steps[0].postgres.as_ref().unwrap().sql;
        assert!(init.contains(&postgres::row_security("order")), "{init}");
        assert!(!init.contains("ALTER TABLE \"product\" ENABLE"), "{init}");
        // A table that gets an owner gets it; one that loses it loses it.
        let swapped = SHOP
            .replace("    owner: none\n", "    owner: seller_id\n    access: { public: [list, get], owner: [list, get, create, update, delete] }\n")
            .replace("    access: { public: [list, get], roles: { admin: [list, get, create, update, delete] } }\n", "")
            .replace("    owner: owner_id\n", "    owner: none\n    access: { roles: { admin: [list, get, create] } }\n");
        let (_, steps) = chain_of(History::default(), &[SHOP, &swapped]);
        let sql = &steps[1].postgres.as_ref().unwrap().sql;
        assert!(sql.contains(&postgres::row_security("product")), "{sql}");
        assert!(
            sql.contains("ALTER TABLE \"order\" DISABLE ROW LEVEL SECURITY;"),
            "{sql}"
        );
    }

    #[test]
    fn an_unchanged_spec_needs_no_migration() {
        let (history, sql) = chain(&[V1, V1]);
        assert_eq!(history.records.len(), 1);
        assert_eq!(sql.len(), 1);
    }

    #[test]
    fn every_kind_of_change_migrates_to_the_fresh_schema_and_keeps_rows() {
        let [v2, v3, v4] = specs::every_kind_of_change();
        let (history, sql) = chain(&[V1, &v2, &v3, &v4]);
        assert_eq!(history.records.len(), 4, "{sql:#?}");
        // Rows written under v1 survive v2, v3 and v4.
        let db = migrated(&sql[..1]);
        db.execute_batch(
            "INSERT INTO customer VALUES ('c1', 'u1', 'Ann', 'ann@example.com', 't', 't');\
             INSERT INTO invoice VALUES ('i1', 'u1', 'N-1', 'hello', 42, 'c1', 't', 't');",
        )
        .unwrap();
        for s in &sql[1..3] {
            sqlite::apply(&db, s).unwrap_or_else(|e| panic!("{e}\n{s}"));
        }
        let row: (String, String, String, f64, String) = db
            .query_row(
                "SELECT i.memo, i.status, i.customer, i.amount, c.tier FROM invoice i JOIN client c ON c.id = i.customer",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .unwrap();
        assert_eq!(
            row,
            (
                "hello".into(),
                "open".into(),
                "c1".into(),
                42.0,
                "basic".into()
            )
        );
        sqlite::apply(&db, &sql[3]).unwrap_or_else(|e| panic!("{e}\n{}", sql[3]));
        let memo: String = db
            .query_row("SELECT memo FROM invoice", [], |r| r.get(0))
            .unwrap();
        assert_eq!(memo, "hello");
        assert_eq!(sqlite::dump(&db).unwrap(), fresh(&v4));
        let fk: i64 = db
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap();
        assert_eq!(fk, 1);
    }

    #[test]
    fn a_drop_and_an_add_of_one_type_asks_whether_it_is_a_rename() {
        let (history, _) = chain(&[V1]);
        let v2 = V1.replace(
            "      notes: { type: string }\n",
            "      memo: { type: string }\n",
        );
        let refusals = next(history.clone(), &model(&v2), false).unwrap_err();
        assert_eq!(refusals.len(), 1, "{refusals:#?}");
        assert_eq!(
            refusals[0].message,
            "did you rename `notes` to `memo`? add `renamed_from: notes`"
        );
        assert_eq!(refusals[0].field.as_deref(), Some("memo"));
        // With the flag, it is a drop and an add.
        let m = next(history, &model(&v2), true).unwrap();
        let next = m.next.unwrap();
        assert!(next.sql.contains("\"memo\" TEXT"), "{}", next.sql);
        assert!(next.changes.iter().any(|c| c.class == Class::Destructive));
    }

    #[test]
    fn destructive_and_unhinted_changes_are_refused_without_the_flag() {
        let (history, _) = chain(&[V1]);
        let refused = |spec: String| next(history.clone(), &model(&spec), false).unwrap_err();
        let drop_field = refused(V1.replace("      amount: { type: integer }\n", ""));
        assert!(
            drop_field[0].message.contains("drop field `amount`"),
            "{drop_field:#?}"
        );
        let drop_resource = refused(
            V1.replace("      customer: { type: ref, resource: customer, required: true }\n", "")
                .replace("  customer:\n    owner: owner_id\n    fields:\n      name: { type: string, required: true }\n      email: { type: email }\n", ""),
        );
        assert!(
            drop_resource
                .iter()
                .any(|r| r.message.contains("resource `customer` was removed")),
            "{drop_resource:#?}"
        );
        let required = refused(V1.replace(
            "      amount: { type: integer }\n",
            "      amount: { type: integer }\n      due: { type: date, required: true }\n",
        ));
        assert!(
            required[0].message.contains("add required field `due`"),
            "{required:#?}"
        );
        assert_eq!(required[0].key, Some("required"));
        let narrowed = refused(V1.replace(
            "      amount: { type: integer }\n",
            "      amount: { type: boolean }\n",
        ));
        assert!(
            narrowed[0].message.contains("from integer to boolean"),
            "{narrowed:#?}"
        );
        let unique = refused(V1.replace(
            "      number: { type: string, required: true }\n",
            "      number: { type: string, required: true, unique: per_owner }\n",
        ));
        assert!(unique[0].message.contains("unique"), "{unique:#?}");
        let now_required = refused(V1.replace(
            "      notes: { type: string }\n",
            "      notes: { type: string, required: true }\n",
        ));
        assert!(
            now_required[0].message.contains("required"),
            "{now_required:#?}"
        );
        // Widening and relaxing need nothing.
        let widened = next(
            history.clone(),
            &model(&V1.replace(
                "      amount: { type: integer }\n",
                "      amount: { type: number, max: 10 }\n",
            )),
            false,
        )
        .unwrap();
        assert_eq!(widened.next.unwrap().changes[0].class, Class::Applied);
    }

    #[test]
    fn the_checks_of_destructive_changes_fail_on_rows_that_break_them() {
        let (_, sql) = chain(&[V1]);
        let rows = [
            "INSERT INTO invoice VALUES ('i1', 'u1', 'N-1', NULL, 42, 'c1', 't', 't');",
            "INSERT INTO invoice VALUES ('i1', 'u1', 'N-1', NULL, 42, 'c1', 't', 't'); INSERT INTO invoice VALUES ('i2', 'u1', 'N-1', NULL, 42, 'c1', 't', 't');",
            "INSERT INTO invoice VALUES ('i1', 'u1', 'N-1', 'twelve', 42, 'c1', 't', 't');",
            "INSERT INTO invoice VALUES ('i1', 'u1', 'N-1', NULL, 42, 'c1', 't', 't');",
        ];
        let cases = specs::checked_changes()
            .into_iter()
            .zip(rows)
            .map(|((spec, message), rows)| (spec, rows, message));
        for (spec, rows, message) in cases {
            let (_, sql2) = chain(&[V1, &spec]);
            let db = migrated(&sql);
            db.execute_batch("INSERT INTO customer VALUES ('c1', 'u1', 'Ann', NULL, 't', 't');")
                .unwrap();
            db.execute_batch(rows).unwrap();
            let before = sqlite::dump(&db).unwrap();
            let err = sqlite::apply(&db, &sql2[1]).unwrap_err();
            assert!(err.contains(message), "{err}\n{}", sql2[1]);
            assert_eq!(
                sqlite::dump(&db).unwrap(),
                before,
                "the database is left as it was"
            );
            // Without the offending rows, it applies.
            let db = migrated(&sql);
            sqlite::apply(&db, &sql2[1]).unwrap();
        }
    }

    #[test]
    fn a_project_from_before_snapshots_gets_its_first_one_from_its_migration() {
        let service = model(V1);
        let (_, sql) = chain(&[V1]);
        let schema = sqlite::read_back(&sql[0], &service).unwrap();
        assert_eq!(schema, Schema::of(&service));
    }

    #[test]
    fn a_reference_that_becomes_stricter_needs_the_flag_and_is_checked() {
        // A required ref to a public resource keeps the id of a deleted
        // row (no foreign key); made optional, it gets one.
        let (history, sql) = chain(&[SHOP]);
        let optional = SHOP.replace(
            "product: { type: ref, resource: product, required: true }",
            "product: { type: ref, resource: product }",
        );
        let refused = next(history.clone(), &model(&optional), false).unwrap_err();
        assert!(
            refused[0]
                .message
                .contains("make the reference `product` of `order` stricter"),
            "{refused:#?}"
        );
        let (_, sql2) = chain(&[SHOP, &optional]);
        let db = migrated(&sql);
        db.execute_batch(
            "INSERT INTO \"order\" VALUES ('o1', 'u1', 'gone', NULL, NULL, 't', 't');",
        )
        .unwrap();
        let err = sqlite::apply(&db, &sql2[1]).unwrap_err();
        assert!(err.contains("break a foreign key"), "{err}");
    }

    #[test]
    fn a_new_unique_field_with_one_value_for_every_row_needs_the_flag_and_is_checked() {
        let (history, sql) = chain(&[SHOP]);
        let code = SHOP.replace(
            "      count: { type: integer }\n",
            "      count: { type: integer }\n      code: { type: string, required: true, unique: per_owner, backfill: x }\n",
        );
        let refused = next(history, &model(&code), false).unwrap_err();
        assert!(refused[0].message.contains("unique"), "{refused:#?}");
        let (_, sql2) = chain(&[SHOP, &code]);
        let db = migrated(&sql);
        db.execute_batch(
            "INSERT INTO product VALUES ('p', 't', 't', 't');\
             INSERT INTO \"order\" VALUES ('o1', 'u1', 'p', NULL, NULL, 't', 't');\
             INSERT INTO \"order\" VALUES ('o2', 'u1', 'p', NULL, NULL, 't', 't');",
        )
        .unwrap();
        let err = sqlite::apply(&db, &sql2[1]).unwrap_err();
        assert!(err.contains("no two rows of `order` may share"), "{err}");
        // One row per owner fits.
        let db = migrated(&sql);
        db.execute_batch(
            "INSERT INTO product VALUES ('p', 't', 't', 't');\
             INSERT INTO \"order\" VALUES ('o1', 'u1', 'p', NULL, NULL, 't', 't');\
             INSERT INTO \"order\" VALUES ('o2', 'u2', 'p', NULL, NULL, 't', 't');",
        )
        .unwrap();
        sqlite::apply(&db, &sql2[1]).unwrap();
    }

    #[test]
    fn reordered_fields_need_no_migration() {
        let reordered = SHOP.replace(
            "      placed: { type: date }\n      count: { type: integer }\n",
            "      count: { type: integer }\n      placed: { type: date }\n",
        );
        assert_ne!(reordered, SHOP);
        let (history, _) = chain(&[SHOP, &reordered]);
        assert_eq!(history.records.len(), 1);
    }

    #[test]
    fn widened_and_narrowed_types_check_what_they_must() {
        let (_, sql) = chain(&[SHOP]);
        let cases = [
            (
                "count: { type: number }",
                "9007199254740993",
                "at most 2^53",
            ),
            (
                "placed: { type: datetime }",
                "'2024-01-01'",
                "must be a datetime",
            ),
        ];
        for (field, value, message) in cases {
            let key = field.split(':').next().unwrap();
            let spec = SHOP
                .lines()
                .map(|l| {
                    if l.trim_start().starts_with(&format!("{key}:")) {
                        format!("      {field}")
                    } else {
                        l.to_string()
                    }
                })
                .collect::<Vec<_>>()
                .join("\n")
                + "\n";
            let (_, sql2) = chain(&[SHOP, &spec]);
            let db = migrated(&sql);
            let (placed, count) = if key == "count" {
                ("NULL", value)
            } else {
                (value, "NULL")
            };
            db.execute_batch(&format!(
                "INSERT INTO product VALUES ('p', 't', 't', 't');\
                 INSERT INTO \"order\" VALUES ('o1', 'u1', 'p', {placed}, {count}, 't', 't');"
            ))
            .unwrap();
            let err = sqlite::apply(&db, &sql2[1]).unwrap_err();
            assert!(err.contains(message), "{field}: {err}\n{}", sql2[1]);
        }
    }

    #[test]
    fn a_renamed_owner_field_is_refused_with_advice_that_works() {
        let (history, _) = chain(&[SHOP]);
        let renamed = SHOP.replace("    owner: owner_id\n", "    owner: user_id\n");
        let refused = next(history, &model(&renamed), false).unwrap_err();
        assert!(
            refused[0]
                .message
                .contains("the owner field of `order` changed from `owner_id` to `user_id`"),
            "{refused:#?}"
        );
        assert!(refused[0].help.contains("keep `owner: owner_id`"));
    }
}
