//! The SQL schema: the model's tables, columns and indexes as the context
//! of the `migration.sql` template. Every identifier is quoted.

use serde::Serialize;

use super::ident;
use crate::model::{Column, ColumnOrigin, ColumnType, LinkTargets, OnDelete, Resource, Service};

#[derive(Debug, Serialize)]
pub struct Table {
    name: String,
    columns: Vec<SqlColumn>,
    foreign_keys: Vec<ForeignKey>,
    indexes: Vec<Index>,
}

#[derive(Debug, Serialize)]
struct SqlColumn {
    name: String,
    ty: &'static str,
    not_null: bool,
    primary_key: bool,
}

/// `FOREIGN KEY (columns) REFERENCES table (target_columns) ON DELETE action`.
#[derive(Debug, Serialize)]
struct ForeignKey {
    columns: Vec<String>,
    table: String,
    target_columns: Vec<String>,
    on_delete: &'static str,
}

#[derive(Debug, Serialize)]
struct Index {
    name: String,
    unique: bool,
    columns: Vec<String>,
}

fn sql_type(column: &Column) -> &'static str {
    match column.ty {
        ColumnType::Integer | ColumnType::Boolean => "INTEGER",
        ColumnType::Number => "REAL",
        _ => "TEXT",
    }
}

/// The foreign key that holds a ref column's [`Link`] in the schema: a
/// same-owner ref between owned resources names `(owner, ref)` against the
/// target's `(owner, id)`, so no row can name another owner's row even if
/// the code had a hole; a ref that keeps the id of a deleted row has none.
fn foreign_key(service: &Service, resource: &Resource, column: &Column) -> Option<ForeignKey> {
    let ColumnType::Ref { resource: target } = &column.ty else {
        return None;
    };
    let link = column.link.as_ref()?;
    let on_delete = match link.on_delete {
        OnDelete::Restrict => "RESTRICT",
        OnDelete::SetNull => "SET NULL",
        OnDelete::Keep => return None,
    };
    let target_owner = service
        .resource(target)
        .and_then(|t| t.scope.owner_column());
    let (columns, target_columns) =
        match (link.targets, resource.scope.owner_column(), target_owner) {
            (LinkTargets::SameOwner, Some(owner), Some(target_owner)) => (
                vec![ident::sql(owner), ident::sql(&column.name)],
                vec![ident::sql(target_owner), ident::sql("id")],
            ),
            _ => (vec![ident::sql(&column.name)], vec![ident::sql("id")]),
        };
    Some(ForeignKey {
        columns,
        table: ident::sql(target),
        target_columns,
        on_delete,
    })
}

fn table(service: &Service, resource: &Resource) -> Table {
    let columns = resource
        .columns
        .iter()
        .map(|c| SqlColumn {
            name: ident::sql(&c.name),
            ty: sql_type(c),
            not_null: c.required,
            primary_key: c.origin == ColumnOrigin::Id,
        })
        .collect();
    let foreign_keys = resource
        .columns
        .iter()
        .filter_map(|c| foreign_key(service, resource, c))
        .collect();
    let indexes = resource
        .indexes
        .iter()
        .map(|i| Index {
            name: ident::sql(&i.name),
            unique: i.unique,
            columns: i.columns.iter().map(|c| ident::sql(c)).collect(),
        })
        .collect();
    Table {
        name: ident::sql(&resource.name),
        columns,
        foreign_keys,
        indexes,
    }
}

/// Tables in dependency order: a referenced table before its referrers
/// (spec order otherwise), so foreign keys name existing tables.
pub fn tables(service: &Service) -> Vec<Table> {
    let mut done: Vec<&str> = Vec::new();
    let mut ordered = Vec::new();
    while ordered.len() < service.resources.len() {
        let before = ordered.len();
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
                ordered.push(table(service, r));
            }
        }
        if ordered.len() == before {
            // A cycle of refs: SQLite checks foreign keys when rows are
            // written, not when tables are created, so any order works.
            for r in &service.resources {
                if !done.contains(&r.name.as_str()) {
                    done.push(&r.name);
                    ordered.push(table(service, r));
                }
            }
        }
    }
    ordered
}
