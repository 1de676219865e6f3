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
//! engine-independent; [`sqlite`] is the one engine-specific step.

pub mod changes;
pub mod schema;
pub mod sqlite;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use changes::{Change, Class, Refusal};
pub use schema::Schema;

use crate::model::Service;

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
}

/// The migrations a project has: their records, and the hash of each file
/// as palisade wrote it (to notice a hand edit).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    pub records: Vec<Record>,
    pub files: BTreeMap<String, String>,
}

/// A migration to write.
#[derive(Debug, Clone, PartialEq)]
pub struct Next {
    pub record: Record,
    /// The SQL statements (without the header).
    pub sql: String,
    pub changes: Vec<Change>,
}

/// The project's migrations once the spec is taken into account.
#[derive(Debug, Clone, PartialEq)]
pub struct Migrations {
    pub history: History,
    /// The migration the spec's changes need, if any.
    pub next: Option<Next>,
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
    let Some(last) = history.records.last() else {
        let sql = sqlite::init(&target);
        return Ok(Migrations {
            history,
            next: Some(Next {
                record: Record {
                    version: 1,
                    name: "init".into(),
                    schema: target,
                },
                sql,
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
        return Ok(Migrations {
            history,
            next: None,
        });
    }
    let record = Record {
        version: last.version + 1,
        name: plan.slug(),
        schema: target,
    };
    Ok(Migrations {
        next: Some(Next {
            record,
            sql: sqlite::migration(&plan),
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
