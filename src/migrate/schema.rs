//! The schema snapshot: the tables, columns, types, constraints and indexes
//! a spec asks for, engine-independent, as the manifest records it after
//! each migration.
//!
//! Column types are the model's ([`ColumnType`]), not an engine's storage
//! types, so one snapshot serves every engine; defaults live in the server
//! (and in the migration that adds a column), not in the schema, so a
//! changed `default` needs no migration.

use serde::{Deserialize, Serialize};

use crate::model::{ColumnOrigin, ColumnType, Index, LinkTargets, OnDelete, Resource, Service};

/// Every table, in creation order (a referenced table before its
/// referrers, spec order otherwise).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schema {
    pub tables: Vec<Table>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Table {
    pub name: String,
    /// The owner column of an owned table (row-level security on
    /// PostgreSQL). Snapshots written before it was recorded lack it: see
    /// [`Table::owner`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
    pub columns: Vec<Column>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreign_keys: Vec<ForeignKey>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub indexes: Vec<Index>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    #[serde(flatten)]
    pub ty: ColumnType,
    /// `NOT NULL`.
    pub required: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub primary_key: bool,
}

/// `FOREIGN KEY (columns) REFERENCES table (target_columns) ON DELETE ...`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ForeignKey {
    pub columns: Vec<String>,
    pub table: String,
    pub target_columns: Vec<String>,
    pub on_delete: OnDelete,
}

impl Schema {
    /// The schema `service` asks for.
    pub fn of(service: &Service) -> Schema {
        let mut done: Vec<&str> = Vec::new();
        let mut tables = Vec::new();
        while tables.len() < service.resources.len() {
            let before = tables.len();
            for r in &service.resources {
                if done.contains(&r.name.as_str()) {
                    continue;
                }
                let ready = r.columns.iter().all(|c| match &c.ty {
                    ColumnType::Ref { resource } => {
                        resource == &r.name || done.contains(&resource.as_str())
                    }
                    _ => true,
                });
                if ready {
                    done.push(&r.name);
                    tables.push(Table::of(service, r));
                }
            }
            if tables.len() == before {
                // A cycle of refs: SQLite checks foreign keys when rows are
                // written, not when tables are created, so any order works.
                for r in &service.resources {
                    if !done.contains(&r.name.as_str()) {
                        done.push(&r.name);
                        tables.push(Table::of(service, r));
                    }
                }
            }
        }
        Schema { tables }
    }

    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }
}

impl Table {
    fn of(service: &Service, resource: &Resource) -> Table {
        Table {
            name: resource.name.clone(),
            owner: resource.scope.owner_column().map(str::to_string),
            columns: resource
                .columns
                .iter()
                .map(|c| Column {
                    name: c.name.clone(),
                    ty: c.ty.clone(),
                    required: c.required,
                    primary_key: c.origin == ColumnOrigin::Id,
                })
                .collect(),
            foreign_keys: resource
                .columns
                .iter()
                .filter_map(|c| foreign_key(service, resource, c))
                .collect(),
            indexes: resource.indexes.clone(),
        }
    }

    /// The owner column, if the table is owned. A snapshot from before
    /// the owner was recorded names it as the first column of the table's
    /// list index (`{table}-list`: owner, `created_at`, `id`), which every
    /// owned table has and no other.
    pub fn owner(&self) -> Option<&str> {
        if let Some(owner) = &self.owner {
            return Some(owner);
        }
        self.indexes
            .iter()
            .find(|i| {
                i.name.ends_with("-list")
                    && !i.unique
                    && i.columns.len() == 3
                    && i.columns[1..] == ["created_at", "id"]
            })
            .map(|i| i.columns[0].as_str())
    }

    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The foreign keys that involve `column`.
    pub fn foreign_keys_of<'a>(&'a self, column: &'a str) -> impl Iterator<Item = &'a ForeignKey> {
        self.foreign_keys
            .iter()
            .filter(move |fk| fk.columns.iter().any(|c| c == column))
    }
}

/// The foreign key that holds a ref column's link in the schema: a
/// same-owner ref between owned resources names `(owner, ref)` against the
/// target's `(owner, id)`, so no row can name another owner's row even if
/// the code had a hole; a ref that keeps the id of a deleted row has none.
fn foreign_key(
    service: &Service,
    resource: &Resource,
    column: &crate::model::Column,
) -> Option<ForeignKey> {
    let ColumnType::Ref { resource: target } = &column.ty else {
        return None;
    };
    let link = column.link.as_ref()?;
    if link.on_delete == OnDelete::Keep {
        return None;
    }
    let target_owner = service
        .resource(target)
        .and_then(|t| t.scope.owner_column());
    let (columns, target_columns) =
        match (link.targets, resource.scope.owner_column(), target_owner) {
            (LinkTargets::SameOwner, Some(owner), Some(target_owner)) => (
                vec![owner.to_string(), column.name.clone()],
                vec![target_owner.to_string(), "id".to_string()],
            ),
            _ => (vec![column.name.clone()], vec!["id".to_string()]),
        };
    Some(ForeignKey {
        columns,
        table: target.clone(),
        target_columns,
        on_delete: link.on_delete,
    })
}
