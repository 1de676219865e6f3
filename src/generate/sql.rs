//! The SQL schema: the model's tables, columns and indexes as the context
//! of the `migration.sql` template. Every identifier is quoted.

use serde::Serialize;

use super::ident;
use crate::model::{Column, ColumnOrigin, ColumnType, Resource, Service};
use crate::spec::Unique;

#[derive(Debug, Serialize)]
pub struct Table {
    name: String,
    columns: Vec<SqlColumn>,
    indexes: Vec<Index>,
}

#[derive(Debug, Serialize)]
struct SqlColumn {
    name: String,
    ty: &'static str,
    not_null: bool,
    primary_key: bool,
    references: Option<String>,
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

fn table(resource: &Resource) -> Table {
    let name = &resource.name;
    let columns = resource
        .columns
        .iter()
        .map(|c| SqlColumn {
            name: ident::sql(&c.name),
            ty: sql_type(c),
            not_null: c.required,
            primary_key: c.origin == ColumnOrigin::Id,
            references: match &c.ty {
                ColumnType::Ref { resource } => {
                    Some(format!("{} ({})", ident::sql(resource), ident::sql("id")))
                }
                _ => None,
            },
        })
        .collect();
    let mut indexes = Vec::new();
    let owner = resource.scope.owner_column();
    // Lists are read per owner in created_at order; one index serves both.
    let mut list_columns: Vec<String> = owner.map(ident::sql).into_iter().collect();
    list_columns.extend([ident::sql("created_at"), ident::sql("id")]);
    indexes.push(Index {
        name: ident::sql(&format!("{name}_list")),
        unique: false,
        columns: list_columns,
    });
    for c in resource.fields() {
        match c.unique {
            Some(Unique::Global) => indexes.push(Index {
                name: ident::sql(&format!("{name}_{}_unique", c.name)),
                unique: true,
                columns: vec![ident::sql(&c.name)],
            }),
            Some(Unique::PerOwner) => indexes.push(Index {
                name: ident::sql(&format!("{name}_{}_unique", c.name)),
                unique: true,
                columns: owner
                    .map(ident::sql)
                    .into_iter()
                    .chain([ident::sql(&c.name)])
                    .collect(),
            }),
            None => {}
        }
        if matches!(c.ty, ColumnType::Ref { .. }) {
            indexes.push(Index {
                name: ident::sql(&format!("{name}_{}_ref", c.name)),
                unique: false,
                columns: vec![ident::sql(&c.name)],
            });
        }
    }
    Table {
        name: ident::sql(name),
        columns,
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
                ordered.push(table(r));
            }
        }
        if ordered.len() == before {
            // A cycle of refs: SQLite checks foreign keys when rows are
            // written, not when tables are created, so any order works.
            for r in &service.resources {
                if !done.contains(&r.name.as_str()) {
                    done.push(&r.name);
                    ordered.push(table(r));
                }
            }
        }
    }
    ordered
}
