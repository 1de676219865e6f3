//! What changed between two schemas, and what each change needs: applied
//! as is, a hint in the spec (`renamed_from`, a value for rows that
//! exist), or `--allow-destructive` (it drops data, or rows that exist may
//! not satisfy it).
//!
//! Engine-independent: the result says what to do to which table and which
//! rows to check first; [`super::sqlite`] says how on SQLite.

use std::collections::BTreeMap;

use serde::Serialize;

use super::schema::{Column, ForeignKey, Schema, Table};
use crate::model::{ColumnType, Index, Service};

/// What a change needs before it is migrated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Class {
    /// Applied as is.
    Applied,
    /// Applied as the spec's hint says (`renamed_from`, `default`, `backfill`).
    Hinted,
    /// Drops data, or depends on the rows that exist: refused unless
    /// `--allow-destructive`, and checked against the rows first.
    Destructive,
}

impl Class {
    pub fn describe(self) -> &'static str {
        match self {
            Class::Applied => "applied as is",
            Class::Hinted => "applied as the spec says",
            Class::Destructive => "destructive",
        }
    }
}

/// One change of the schema, as a person reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub class: Class,
    /// What changes, in words (`add field `due_at` to `task``).
    pub what: String,
    /// Why it is classified so, or what it does to the rows.
    pub why: String,
    /// The part of a file name that names it (`add_task_due_at`).
    #[serde(skip)]
    pub slug: String,
    /// The resource (its new name) and field it is about, to locate it.
    pub resource: String,
    pub field: Option<String>,
}

/// A change that cannot be migrated as the spec stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub message: String,
    pub help: String,
    pub resource: String,
    pub field: Option<String>,
    /// The spec key the refusal is about (`renamed_from`, `required`, ...),
    /// located under the field or resource.
    pub key: Option<&'static str>,
}

/// Which rows a step checks before the change is kept: the migration
/// fails, leaving the database as it was, when any row matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// No row has a null in the column (it becomes required).
    NoNulls { column: String },
    /// No two rows share the values of the columns (they become unique).
    NoDuplicates { columns: Vec<String> },
    /// Every value fits the column's new type.
    Fits { column: String, ty: ColumnType },
    /// Every integer is one a double holds exactly (at most 2^53 in
    /// magnitude): the column becomes a `number`.
    Exact { column: String },
    /// The table has no rows (a required column without a value for them).
    Empty,
}

/// Where a column of a rebuilt or extended table takes its values from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// The column of that name in the table as it was (after renames).
    Column(String),
    /// A constant: the field's `backfill` or `default`.
    Value(serde_json::Value),
    /// Null: a new optional column.
    Null,
}

/// The change of one table that exists before and after.
#[derive(Debug, Clone, PartialEq)]
pub struct TableChange {
    /// The table as it is once renames are done (its new name, new column
    /// names), which is what the other steps start from.
    pub from: Table,
    pub to: Table,
    /// Per column of `to`: where its values come from.
    pub sources: Vec<Source>,
    pub checks: Vec<(Check, String)>,
}

impl TableChange {
    /// Columns of `from` that `to` no longer has.
    pub fn dropped(&self) -> impl Iterator<Item = &Column> {
        self.from
            .columns
            .iter()
            .filter(|c| self.to.column(&c.name).is_none())
    }

    /// Columns whose storage changes (type or nullability).
    pub fn altered(&self) -> impl Iterator<Item = &Column> {
        self.to.columns.iter().filter(|c| {
            self.from
                .column(&c.name)
                .is_some_and(|old| old.ty != c.ty || old.required != c.required)
        })
    }

    pub fn foreign_keys_changed(&self) -> bool {
        sorted(&self.from.foreign_keys) != sorted(&self.to.foreign_keys)
    }
}

/// Everything one migration does, in the order it does it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub changes: Vec<Change>,
    /// `(from, to)` table renames, first of all.
    pub renamed_tables: Vec<(String, String)>,
    /// `(table, from, to)` column renames (new table names), next.
    pub renamed_columns: Vec<(String, String, String)>,
    /// The renames among `renamed_columns` of a ref column that holds a
    /// foreign key: an engine that names its keys after their column
    /// renames the key too.
    pub renamed_keys: Vec<(String, String, String)>,
    /// Indexes of the old schema (new table names) that go, before any
    /// table changes.
    pub dropped_indexes: Vec<Index>,
    pub created_tables: Vec<Table>,
    pub changed_tables: Vec<TableChange>,
    /// `(table, index)`: indexes that come, once the tables are in shape.
    pub created_indexes: Vec<(String, Index)>,
    /// Tables that go, last (nothing refers to them any more).
    pub dropped_tables: Vec<Table>,
    /// The schema the migration leaves.
    pub target: Schema,
}

impl Plan {
    /// Whether the migration would do nothing (every step list empty).
    pub fn is_empty(&self) -> bool {
        self.renamed_tables.is_empty()
            && self.renamed_columns.is_empty()
            && self.dropped_indexes.is_empty()
            && self.created_tables.is_empty()
            && self.changed_tables.is_empty()
            && self.created_indexes.is_empty()
            && self.dropped_tables.is_empty()
    }

    /// The name of the migration: its first change's, with how many more.
    pub fn slug(&self) -> String {
        let first = self.changes.first().map_or("change", |c| c.slug.as_str());
        let mut slug: String = first.chars().take(48).collect();
        if self.changes.len() > 1 {
            slug.push_str(&format!("_and_{}_more", self.changes.len() - 1));
        }
        slug
    }
}

/// The hints of a spec that migrations read: new name -> earlier name.
#[derive(Debug, Clone, Default)]
pub struct Hints {
    /// The owner column of each owned table: filled from the token, so a
    /// migration can give rows that exist no value for it.
    owners: BTreeMap<String, String>,
    tables: BTreeMap<String, String>,
    columns: BTreeMap<(String, String), String>,
    fills: BTreeMap<(String, String), serde_json::Value>,
}

impl Hints {
    pub fn of(service: &Service) -> Hints {
        let mut hints = Hints::default();
        for r in &service.resources {
            if let Some(owner) = r.scope.owner_column() {
                hints.owners.insert(r.name.clone(), owner.to_string());
            }
            if let Some(old) = &r.renamed_from {
                hints.tables.insert(r.name.clone(), old.clone());
            }
            for c in &r.columns {
                if let Some(old) = &c.renamed_from {
                    hints
                        .columns
                        .insert((r.name.clone(), c.name.clone()), old.clone());
                }
                if let Some(fill) = &c.backfill {
                    hints
                        .fills
                        .insert((r.name.clone(), c.name.clone()), fill.clone());
                }
            }
        }
        hints
    }
}

/// Whether a value of type `from` always fits `to` (the change only
/// widens): then rows that exist need no check.
fn widens(from: &ColumnType, to: &ColumnType) -> bool {
    use ColumnType::*;
    from == to
        || matches!(
            (from, to),
            (Integer, Number)
                | (Boolean, Integer)
                | (Uuid | Email | Url | Date | Datetime | Ref { .. }, String)
                | (Ref { .. }, Uuid)
        )
}

fn type_name(ty: &ColumnType) -> String {
    match ty {
        ColumnType::Ref { resource } => format!("ref to `{resource}`"),
        other => serde_json::to_value(other)
            .ok()
            .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string))
            .unwrap_or_default(),
    }
}

/// Builds the plan that takes a database from `old` to `new`. Refusals
/// are every change that cannot be made as the spec stands (with
/// `allow_destructive`, only those that need a hint).
pub fn plan(
    old: &Schema,
    new: &Schema,
    hints: &Hints,
    allow_destructive: bool,
) -> Result<Plan, Vec<Refusal>> {
    let mut plan = Plan {
        target: new.clone(),
        ..Plan::default()
    };
    let mut refusals = Vec::new();
    // Old table name -> new, for tables that stay.
    let mut kept: BTreeMap<&str, &str> = BTreeMap::new();
    for t in &new.tables {
        if old.table(&t.name).is_some() {
            kept.insert(&t.name, &t.name);
        } else if let Some(from) = hints
            .tables
            .get(&t.name)
            .filter(|from| old.table(from).is_some() && new.table(from).is_none())
        {
            kept.insert(from, &t.name);
            plan.renamed_tables.push((from.clone(), t.name.clone()));
            plan.changes.push(Change {
                class: Class::Hinted,
                what: format!("rename resource `{from}` to `{}`", t.name),
                why: "`renamed_from`: its table is renamed and keeps its rows".into(),
                slug: format!("rename_{from}_to_{}", t.name),
                resource: t.name.clone(),
                field: None,
            });
        }
    }
    let new_name = |old_table: &str| kept.get(old_table).copied();
    let created: Vec<&Table> = new
        .tables
        .iter()
        .filter(|t| !kept.values().any(|n| *n == t.name))
        .collect();
    let dropped: Vec<&Table> = old
        .tables
        .iter()
        .filter(|t| !kept.contains_key(t.name.as_str()))
        .collect();
    for t in &created {
        plan.created_tables.push((*t).clone());
        plan.changes.push(Change {
            class: Class::Applied,
            what: format!("add resource `{}`", t.name),
            why: "a new table".into(),
            slug: format!("create_{}", t.name),
            resource: t.name.clone(),
            field: None,
        });
    }
    for t in &dropped {
        if !allow_destructive {
            let twin = created.iter().find(|c| same_fields(t, c));
            let (message, help, resource, key) = match twin {
                Some(c) => (
                    format!("did you rename `{}` to `{}`? add `renamed_from: {}`", t.name, c.name, t.name),
                    format!("as the spec stands, resource `{}` and every row of it would be dropped and `{}` created empty; add `renamed_from: {}` to `{}` to keep the rows, or run `palisade generate --allow-destructive` to drop them", t.name, c.name, t.name, c.name),
                    c.name.clone(),
                    Some("renamed_from"),
                ),
                None => (
                    format!("resource `{}` was removed: migrating drops its table and every row of it", t.name),
                    "run `palisade generate --allow-destructive` to drop it, or put the resource back (with `renamed_from:` if it was renamed)".to_string(),
                    t.name.clone(),
                    None,
                ),
            };
            refusals.push(Refusal {
                message,
                help,
                resource,
                field: None,
                key,
            });
            continue;
        }
        plan.dropped_tables.push((*t).clone());
        plan.changes.push(Change {
            class: Class::Destructive,
            what: format!("drop resource `{}`", t.name),
            why: "removed from the spec: its table and every row of it are dropped".into(),
            slug: format!("drop_{}", t.name),
            resource: t.name.clone(),
            field: None,
        });
    }
    // Column renames first, for every table that stays: foreign keys and
    // indexes of other tables name them.
    let mut column_renames: BTreeMap<(&str, String), String> = BTreeMap::new();
    for (from_name, to_name) in &kept {
        let (from, to) = (
            old.table(from_name).expect("kept"),
            new.table(to_name).expect("kept"),
        );
        for c in &to.columns {
            if from.column(&c.name).is_some() {
                continue;
            }
            let hinted = hints
                .columns
                .get(&(to.name.clone(), c.name.clone()))
                .filter(|old_col| from.column(old_col).is_some() && to.column(old_col).is_none());
            if let Some(old_col) = hinted {
                column_renames.insert((*to_name, old_col.clone()), c.name.clone());
                let rename = (to.name.clone(), old_col.clone(), c.name.clone());
                if from
                    .foreign_keys
                    .iter()
                    .any(|fk| fk.columns.last() == Some(old_col))
                {
                    plan.renamed_keys.push(rename.clone());
                }
                plan.renamed_columns.push(rename);
                plan.changes.push(Change {
                    class: Class::Hinted,
                    what: format!("rename field `{old_col}` of `{}` to `{}`", to.name, c.name),
                    why: "`renamed_from`: its column is renamed and keeps its values".into(),
                    slug: format!("rename_{}_{old_col}_to_{}", to.name, c.name),
                    resource: to.name.clone(),
                    field: Some(c.name.clone()),
                });
            }
        }
    }
    let renamed_column = |table: &str, column: &str| -> String {
        column_renames
            .get(&(table, column.to_string()))
            .cloned()
            .unwrap_or_else(|| column.to_string())
    };
    // An old table seen with its new name and new column names.
    let after_renames = |t: &Table| -> Table {
        let name = new_name(&t.name).unwrap_or(&t.name).to_string();
        Table {
            owner: t.owner().map(|o| renamed_column(&name, o)),
            columns: t
                .columns
                .iter()
                .map(|c| Column {
                    name: renamed_column(&name, &c.name),
                    ty: match &c.ty {
                        ColumnType::Ref { resource } => ColumnType::Ref {
                            resource: new_name(resource).unwrap_or(resource).to_string(),
                        },
                        other => other.clone(),
                    },
                    ..c.clone()
                })
                .collect(),
            foreign_keys: t
                .foreign_keys
                .iter()
                .map(|fk| {
                    let target = new_name(&fk.table).unwrap_or(&fk.table).to_string();
                    ForeignKey {
                        columns: fk
                            .columns
                            .iter()
                            .map(|c| renamed_column(&name, c))
                            .collect(),
                        target_columns: fk
                            .target_columns
                            .iter()
                            .map(|c| renamed_column(&target, c))
                            .collect(),
                        table: target,
                        on_delete: fk.on_delete,
                    }
                })
                .collect(),
            indexes: t
                .indexes
                .iter()
                .map(|i| Index {
                    columns: i.columns.iter().map(|c| renamed_column(&name, c)).collect(),
                    ..i.clone()
                })
                .collect(),
            name,
        }
    };
    for from_name in kept.keys() {
        let from = after_renames(old.table(from_name).expect("kept"));
        let to = new.table(&from.name).expect("kept").clone();
        table_change(&mut plan, &mut refusals, from, to, hints, allow_destructive);
    }
    if refusals.is_empty() {
        Ok(plan)
    } else {
        Err(refusals)
    }
}

/// Whether two tables have the same fields (names and types, the
/// server's columns aside): a dropped and a created one are then likely
/// one renamed.
fn same_fields(a: &Table, b: &Table) -> bool {
    let fields = |t: &Table| -> Vec<(String, ColumnType)> {
        let mut v: Vec<_> = t
            .columns
            .iter()
            .map(|c| (c.name.clone(), c.ty.clone()))
            .collect();
        v.sort_by(|x, y| x.0.cmp(&y.0));
        v
    };
    fields(a) == fields(b)
}

fn table_change(
    plan: &mut Plan,
    refusals: &mut Vec<Refusal>,
    from: Table,
    to: Table,
    hints: &Hints,
    allow_destructive: bool,
) {
    let table = to.name.clone();
    let mut change = TableChange {
        sources: Vec::new(),
        checks: Vec::new(),
        from: from.clone(),
        to: to.clone(),
    };
    let destructive = |plan: &mut Plan,
                       refusals: &mut Vec<Refusal>,
                       change: Change,
                       help: String,
                       key: Option<&'static str>| {
        if allow_destructive {
            plan.changes.push(change);
        } else {
            refusals.push(Refusal {
                message: format!("{}: {}", change.what, change.why),
                help,
                resource: change.resource,
                field: change.field,
                key,
            });
        }
    };
    let added: Vec<&Column> = to
        .columns
        .iter()
        .filter(|c| from.column(&c.name).is_none())
        .collect();
    let removed: Vec<&Column> = from
        .columns
        .iter()
        .filter(|c| to.column(&c.name).is_none())
        .collect();
    for c in &removed {
        let twin = added.iter().find(|a| a.ty == c.ty);
        let owner = hints.owners.get(&table);
        if let (Some(a), false) = (twin, allow_destructive) {
            if owner == Some(&a.name) {
                refusals.push(Refusal {
                    message: format!("the owner field of `{table}` changed from `{}` to `{}`: a migration cannot give the rows that exist their owner in another column", c.name, a.name),
                    help: format!("keep `owner: {}` (the owner field's name is not visible to API clients), or run `palisade generate --allow-destructive` if `{table}` has no rows (the migration checks it has none)", c.name),
                    resource: table.clone(),
                    field: None,
                    key: Some("owner"),
                });
                continue;
            }
            refusals.push(Refusal {
                message: format!("did you rename `{}` to `{}`? add `renamed_from: {}`", c.name, a.name, c.name),
                help: format!("as the spec stands, field `{}` of `{table}` and its values would be dropped and `{}` added empty; add `renamed_from: {}` to `{}` to keep the values, or run `palisade generate --allow-destructive` to drop them", c.name, a.name, c.name, a.name),
                resource: table.clone(),
                field: Some(a.name.clone()),
                key: None,
            });
            continue;
        }
        destructive(
            plan,
            refusals,
            Change {
                class: Class::Destructive,
                what: format!("drop field `{}` of `{table}`", c.name),
                why: "removed from the spec: the column and its values are dropped".into(),
                slug: format!("drop_{table}_{}", c.name),
                resource: table.clone(),
                field: Some(c.name.clone()),
            },
            "run `palisade generate --allow-destructive` to drop the column and its values, or put the field back (with `renamed_from:` if it was renamed)".to_string(),
            None,
        );
    }
    for c in &to.columns {
        match from.column(&c.name) {
            None => {
                let fill = hints.fills.get(&(table.clone(), c.name.clone()));
                let source = match (c.required, fill) {
                    (false, _) => {
                        plan.changes.push(Change {
                            class: Class::Applied,
                            what: format!("add field `{}` to `{table}`", c.name),
                            why: "optional: rows that exist get null".into(),
                            slug: format!("add_{table}_{}", c.name),
                            resource: table.clone(),
                            field: Some(c.name.clone()),
                        });
                        Source::Null
                    }
                    (true, Some(value)) => {
                        plan.changes.push(Change {
                            class: Class::Hinted,
                            what: format!("add field `{}` to `{table}`", c.name),
                            why: format!("required: rows that exist get {value}"),
                            slug: format!("add_{table}_{}", c.name),
                            resource: table.clone(),
                            field: Some(c.name.clone()),
                        });
                        Source::Value(value.clone())
                    }
                    (true, None) => {
                        let refs = matches!(c.ty, ColumnType::Ref { .. });
                        let help = if hints.owners.get(&table) == Some(&c.name) {
                            format!(
                                "the owner of rows that exist is unknown: keep the earlier owner field, or run `palisade generate --allow-destructive` if `{table}` has no rows (the migration checks it has none)"
                            )
                        } else if refs {
                            "add it as an optional field first, fill it, then make it `required` (with `--allow-destructive`, which checks every row has one); or run `palisade generate --allow-destructive` if the table is empty (the migration checks it is)".to_string()
                        } else {
                            "give it a `default:` (new rows and rows that exist) or a `backfill:` (rows that exist only); or run `palisade generate --allow-destructive` if the table is empty (the migration checks it is)".to_string()
                        };
                        destructive(
                            plan,
                            refusals,
                            Change {
                                class: Class::Destructive,
                                what: format!("add required field `{}` to `{table}`", c.name),
                                why: "rows that exist have no value for it, so the table must be empty".into(),
                                slug: format!("add_{table}_{}", c.name),
                                resource: table.clone(),
                                field: Some(c.name.clone()),
                            },
                            help,
                            Some("required"),
                        );
                        change.checks.push((
                            Check::Empty,
                            format!("`{table}` must have no rows: the required `{}` has no value for them", c.name),
                        ));
                        Source::Null
                    }
                };
                change.sources.push(source);
            }
            Some(old) => {
                change.sources.push(Source::Column(c.name.clone()));
                if old.ty != c.ty {
                    let what = format!(
                        "change the type of `{}` of `{table}` from {} to {}",
                        c.name,
                        type_name(&old.ty),
                        type_name(&c.ty)
                    );
                    if widens(&old.ty, &c.ty) {
                        let integer = old.ty == ColumnType::Integer;
                        plan.changes.push(Change {
                            class: Class::Applied,
                            what,
                            why: if integer {
                                "every integer up to 2^53 is a number exactly (the migration checks that none is larger)".into()
                            } else {
                                "every value that exists fits the new type".into()
                            },
                            slug: format!("alter_{table}_{}", c.name),
                            resource: table.clone(),
                            field: Some(c.name.clone()),
                        });
                        if integer {
                            change.checks.push((
                                Check::Exact {
                                    column: c.name.clone(),
                                },
                                format!("every `{}` of `{table}` must be at most 2^53 in magnitude to stay exact as a number", c.name),
                            ));
                        }
                    } else {
                        // Email and URL checks live in the server, which
                        // applies them to values as they are written.
                        let checked = !matches!(c.ty, ColumnType::Email | ColumnType::Url);
                        destructive(
                            plan,
                            refusals,
                            Change {
                                class: Class::Destructive,
                                what,
                                why: if checked {
                                    "values that exist may not fit the new type (the migration checks them)".into()
                                } else {
                                    "values that exist are kept as they are, unchecked: the server checks a value when it is written".into()
                                },
                                slug: format!("alter_{table}_{}", c.name),
                                resource: table.clone(),
                                field: Some(c.name.clone()),
                            },
                            "run `palisade generate --allow-destructive`: the migration then checks that every value fits, and fails, leaving the database as it was, when one does not; or add a field of the new type beside the old one".to_string(),
                            Some("type"),
                        );
                        change.checks.push((
                            Check::Fits {
                                column: c.name.clone(),
                                ty: c.ty.clone(),
                            },
                            format!(
                                "every `{}` of `{table}` must be a {}",
                                c.name,
                                type_name(&c.ty)
                            ),
                        ));
                    }
                }
                if old.required != c.required {
                    if c.required {
                        destructive(
                            plan,
                            refusals,
                            Change {
                                class: Class::Destructive,
                                what: format!("make `{}` of `{table}` required", c.name),
                                why: "rows that exist may have no value (the migration checks them)".into(),
                                slug: format!("require_{table}_{}", c.name),
                                resource: table.clone(),
                                field: Some(c.name.clone()),
                            },
                            "run `palisade generate --allow-destructive`: the migration then checks that every row has a value, and fails, leaving the database as it was, when one has none".to_string(),
                            Some("required"),
                        );
                        change.checks.push((
                            Check::NoNulls {
                                column: c.name.clone(),
                            },
                            format!(
                                "every row of `{table}` must have a `{}`: it becomes required",
                                c.name
                            ),
                        ));
                    } else {
                        plan.changes.push(Change {
                            class: Class::Applied,
                            what: format!("make `{}` of `{table}` optional", c.name),
                            why: "every value that exists stays valid".into(),
                            slug: format!("optional_{table}_{}", c.name),
                            resource: table.clone(),
                            field: Some(c.name.clone()),
                        });
                    }
                }
            }
        }
    }
    if change.foreign_keys_changed() {
        // A key is implied by an old one on the same table that pairs
        // every one of its columns the same way (`(owner, ref) -> (owner,
        // id)` implies `ref -> id`). Any other key on columns that exist
        // holds only if the rows that exist satisfy it (the migration
        // checks them: `PRAGMA foreign_key_check` on SQLite), unless the
        // column's own destructive change already asks for the flag.
        let pairs = |fk: &ForeignKey| -> Vec<(String, String)> {
            fk.columns
                .iter()
                .cloned()
                .zip(fk.target_columns.iter().cloned())
                .collect()
        };
        let risky: Vec<&String> = change
            .checks
            .iter()
            .filter_map(|(check, _)| match check {
                Check::Fits { column, .. } | Check::NoNulls { column } => Some(column),
                _ => None,
            })
            .collect();
        let mut stricter = false;
        for fk in &to.foreign_keys {
            let implied = from.foreign_keys.iter().any(|old| {
                old.table == fk.table && pairs(fk).iter().all(|p| pairs(old).contains(p))
            });
            let new_column = fk.columns.iter().any(|c| from.column(c).is_none());
            let column = fk.columns.last().cloned();
            if implied || new_column {
                continue;
            }
            stricter = true;
            if column.as_ref().is_some_and(|c| risky.contains(&c)) {
                continue;
            }
            destructive(
                plan,
                refusals,
                Change {
                    class: Class::Destructive,
                    what: format!(
                        "make the reference `{}` of `{table}` stricter",
                        column.clone().unwrap_or_default()
                    ),
                    why: format!("rows that exist may name rows of `{}` it no longer allows, or that were deleted (the migration checks them)", fk.table),
                    slug: format!("references_{table}"),
                    resource: table.clone(),
                    field: column,
                },
                "run `palisade generate --allow-destructive`: the migration then checks every reference, and fails, leaving the database as it was, when one does not hold".to_string(),
                None,
            );
        }
        let column = to
            .foreign_keys
            .iter()
            .chain(&from.foreign_keys)
            .filter(|fk| !from.foreign_keys.contains(fk) || !to.foreign_keys.contains(fk))
            .filter_map(|fk| fk.columns.last())
            .next()
            .cloned();
        let recorded = plan
            .changes
            .iter()
            .any(|c| c.resource == table && c.field.is_some() && c.field == column);
        if !stricter && !recorded {
            plan.changes.push(Change {
                class: Class::Applied,
                what: format!("change the references of `{table}`"),
                why: "the references are relaxed or follow the fields' changes".into(),
                slug: format!("references_{table}"),
                resource: table.clone(),
                field: column,
            });
        }
    }
    let existing = |cols: &[String]| cols.iter().all(|c| from.column(c).is_some());
    for index in &from.indexes {
        if !to.indexes.contains(index) {
            plan.dropped_indexes.push(index.clone());
            if !to
                .indexes
                .iter()
                .any(|i| i.columns == index.columns && i.unique == index.unique)
                && !removed.iter().any(|d| index.columns.contains(&d.name))
            {
                plan.changes.push(Change {
                    class: Class::Applied,
                    what: format!("drop index `{}`", index.name),
                    why: if index.unique {
                        "values no longer need to be unique".into()
                    } else {
                        "no longer needed by the spec".into()
                    },
                    slug: format!("drop_index_{}", index.name.replace('-', "_")),
                    resource: table.clone(),
                    field: None,
                });
            }
        }
    }
    for index in &to.indexes {
        if from.indexes.contains(index) {
            continue;
        }
        plan.created_indexes.push((table.clone(), index.clone()));
        // `id` is unique already: an index that holds it cannot fail.
        // A new column that rows that exist all get one value for.
        let constant = index.columns.iter().any(|c| {
            to.columns
                .iter()
                .position(|t| &t.name == c)
                .is_some_and(|i| matches!(change.sources.get(i), Some(Source::Value(_))))
        });
        let can_fail = index.unique
            && (existing(&index.columns) || constant)
            && !index
                .columns
                .iter()
                .any(|c| to.column(c).is_some_and(|c| c.primary_key))
            && !from
                .indexes
                .iter()
                .any(|i| i.unique && i.columns.iter().all(|c| index.columns.contains(c)));
        let field = index.columns.last().cloned();
        if can_fail {
            let what = format!(
                "make {} of `{table}` unique",
                index
                    .columns
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            destructive(
                plan,
                refusals,
                Change {
                    class: Class::Destructive,
                    what,
                    why: "rows that exist may share a value (the migration checks them)".into(),
                    slug: format!("unique_{table}_{}", field.clone().unwrap_or_default()),
                    resource: table.clone(),
                    field,
                },
                "run `palisade generate --allow-destructive`: the migration then checks that no two rows share a value, and fails, leaving the database as it was, when two do".to_string(),
                Some("unique"),
            );
            change.checks.push((
                Check::NoDuplicates {
                    columns: index.columns.clone(),
                },
                format!(
                    "no two rows of `{table}` may share {}: it becomes unique",
                    index
                        .columns
                        .iter()
                        .map(|c| format!("`{c}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        } else if !from
            .indexes
            .iter()
            .any(|i| i.columns == index.columns && i.unique == index.unique)
            && !added_only(&index.columns, &from)
        {
            plan.changes.push(Change {
                class: Class::Applied,
                what: format!("add index `{}`", index.name),
                why: "an index changes no row".into(),
                slug: format!("index_{}", index.name.replace('-', "_")),
                resource: table.clone(),
                field: None,
            });
        }
    }
    let touched = !same_table(&change.from, &change.to);
    if touched {
        plan.changed_tables.push(change);
    }
}

/// `items` in a stable order, to compare lists whose order means nothing.
fn sorted<T: Clone + Ord>(items: &[T]) -> Vec<T> {
    let mut items = items.to_vec();
    items.sort();
    items
}

/// Whether two tables are the same but for the order of their columns,
/// keys and indexes (which no migration needs to change).
fn same_table(a: &Table, b: &Table) -> bool {
    let columns = |t: &Table| {
        let mut c = t.columns.clone();
        c.sort_by(|x, y| x.name.cmp(&y.name));
        c
    };
    a.name == b.name
        && columns(a) == columns(b)
        && sorted(&a.foreign_keys) == sorted(&b.foreign_keys)
        && sorted(&a.indexes) == sorted(&b.indexes)
}

/// Whether an index is only over columns added in this migration (it then
/// comes with them and is no change of its own).
fn added_only(columns: &[String], from: &Table) -> bool {
    columns.iter().any(|c| from.column(c).is_none())
}
