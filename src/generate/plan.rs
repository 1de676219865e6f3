//! The plan of one resource's Rust module, computed once from the model.
//!
//! Stage: generate. Input: the model and the resource's place among the
//! service's modules. Output: a [`ResourcePlan`] with every name, column
//! set, reference target and flag the emitter needs (as progenitor plans
//! an operation before it prints it), so that the emitter in `rust.rs`
//! only prints, one concern per function, and never works out the same
//! thing twice.

use crate::model::{
    Column, ColumnOrigin, ColumnType, LinkTargets, Operation, OperationKind, Resource, Scope,
    Service,
};

use super::ident;

/// The SQL dialect a table's statements are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

impl Dialect {
    /// The `n`th placeholder, for a column of type `ty`: on PostgreSQL a
    /// text value becomes a uuid, a date or a timestamp by a cast.
    pub fn placeholder(self, n: usize, ty: &ColumnType) -> String {
        match self {
            Dialect::Sqlite => "?".into(),
            Dialect::Postgres => format!("${n}{}", cast(ty)),
        }
    }

    /// The select-list entry of `column` (quoted: `sql`): on PostgreSQL a
    /// uuid, date or timestamp is read as text whatever the session's date
    /// style: `created_at` and `updated_at` exactly as SQLite stores them
    /// (RFC 3339 in UTC with milliseconds, the server's own precision), a
    /// `datetime` field in UTC with microseconds (PostgreSQL's precision,
    /// so a cursor names its row exactly).
    pub fn select(self, sql: &str, column: &Column) -> String {
        let utc = |fraction: &str| {
            format!(
                "to_char({sql} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.{fraction}\"Z\"') AS {sql}"
            )
        };
        match (self, &column.ty) {
            (Dialect::Postgres, ColumnType::Uuid | ColumnType::Ref { .. }) => {
                format!("{sql}::text AS {sql}")
            }
            (Dialect::Postgres, ColumnType::Date) => {
                format!("to_char({sql}, 'YYYY-MM-DD') AS {sql}")
            }
            (Dialect::Postgres, ColumnType::Datetime) if column.origin == ColumnOrigin::Field => {
                utc("US")
            }
            (Dialect::Postgres, ColumnType::Datetime) => utc("MS"),
            _ => sql.to_owned(),
        }
    }
}

/// The PostgreSQL cast a text placeholder for a column of `ty` takes.
fn cast(ty: &ColumnType) -> &'static str {
    match ty {
        ColumnType::Uuid | ColumnType::Ref { .. } => "::uuid",
        ColumnType::Date => "::date",
        ColumnType::Datetime => "::timestamptz",
        _ => "",
    }
}

/// The runtime's `db::Kind` of a column of `ty`, as the generated code
/// names it.
pub fn kind(ty: &ColumnType) -> &'static str {
    match ty {
        ColumnType::Integer => "Kind::Integer",
        ColumnType::Number => "Kind::Number",
        ColumnType::Boolean => "Kind::Boolean",
        ColumnType::Date => "Kind::Date",
        ColumnType::Datetime => "Kind::Timestamp",
        ColumnType::Uuid | ColumnType::Ref { .. } => "Kind::Uuid",
        ColumnType::String | ColumnType::Email | ColumnType::Url => "Kind::Text",
    }
}

/// One column as the emitter names it.
pub struct Field<'a> {
    pub column: &'a Column,
    /// The Rust field name (raw when a keyword).
    pub ident: syn::Ident,
    /// Whether the Rust name differs from the JSON name (serde renames it).
    pub renamed: bool,
    /// The quoted SQL column.
    pub sql: String,
}

impl Field<'_> {
    pub fn name(&self) -> &str {
        &self.column.name
    }
}

/// Everything the emitter needs to print one resource's module.
pub struct ResourcePlan<'a> {
    pub service: &'a Service,
    pub resource: &'a Resource,
    /// The module's identifier (`invoice`, or `r#type`).
    pub module: syn::Ident,
    /// Every column, in the table's order.
    pub fields: Vec<Field<'a>>,
    /// The owner column's index in `fields`, for an owned resource.
    pub owner: Option<usize>,
    /// Indices in `fields` of the columns a create accepts.
    pub create: Vec<usize>,
    /// Indices in `fields` of the columns an update accepts.
    pub update: Vec<usize>,
    /// Indices in `fields` of the declared fields (the INSERT's values
    /// between the owner and the timestamps).
    pub declared: Vec<usize>,
    /// The references a create may name: the field, the target's module
    /// and the rows it may name.
    pub create_refs: Vec<(usize, syn::Ident, LinkTargets)>,
    /// The references an update may name.
    pub update_refs: Vec<(usize, syn::Ident, LinkTargets)>,
    /// Indices in `fields` of the list's filters, in the spec's order.
    pub filters: Vec<usize>,
    /// Indices in `fields` of the sort keys (`created_at` included).
    pub sort: Vec<usize>,
}

impl<'a> ResourcePlan<'a> {
    /// Plans the resource at `index`, given every resource's module name
    /// (`ident::modules`, for its own and its reference targets').
    pub fn new(service: &'a Service, index: usize, modules: &[String]) -> ResourcePlan<'a> {
        let resource = &service.resources[index];
        // Unique, like module names: `crate` and `crate_` are two fields.
        let idents = ident::modules(resource.columns.iter().map(|c| c.name.as_str()));
        let fields: Vec<Field<'a>> = resource
            .columns
            .iter()
            .zip(&idents)
            .map(|(column, name)| Field {
                column,
                ident: ident::module(name),
                renamed: name.strip_prefix("r#").unwrap_or(name) != column.name,
                sql: crate::migrate::sqlite::quote(&column.name),
            })
            .collect();
        let indices = |keep: &dyn Fn(&Column) -> bool| -> Vec<usize> {
            (0..fields.len())
                .filter(|&i| keep(fields[i].column))
                .collect()
        };
        let by_name = |names: &[String]| -> Vec<usize> {
            names
                .iter()
                .filter_map(|n| fields.iter().position(|f| f.name() == n))
                .collect()
        };
        let refs = |cols: &[usize]| -> Vec<(usize, syn::Ident, LinkTargets)> {
            cols.iter()
                .filter_map(|&i| {
                    let ColumnType::Ref { resource: target } = &fields[i].column.ty else {
                        return None;
                    };
                    let link = fields[i].column.link.as_ref()?;
                    let target = service.resources.iter().position(|r| &r.name == target)?;
                    Some((i, ident::module(&modules[target]), link.targets))
                })
                .collect()
        };
        let create = indices(&|c| c.on_create);
        let update = indices(&|c| c.on_update);
        ResourcePlan {
            service,
            resource,
            module: ident::module(&modules[index]),
            owner: fields
                .iter()
                .position(|f| f.column.origin == ColumnOrigin::Owner),
            declared: indices(&|c| c.origin == ColumnOrigin::Field),
            create_refs: refs(&create),
            update_refs: refs(&update),
            filters: by_name(&resource.filters),
            sort: by_name(&resource.sort),
            create,
            update,
            fields,
        }
    }

    pub fn name(&self) -> &str {
        &self.resource.name
    }

    /// The operation of `kind`, if the spec grants it to anyone.
    pub fn operation(&self, kind: OperationKind) -> Option<&'a Operation> {
        self.resource.operation(kind)
    }

    pub fn has(&self, kind: OperationKind) -> bool {
        self.operation(kind).is_some()
    }

    pub fn owned(&self) -> bool {
        matches!(self.resource.scope, Scope::Owned { .. })
    }

    /// The owner column, for an owned resource.
    pub fn owner_field(&self) -> Option<&Field<'a>> {
        self.owner.map(|i| &self.fields[i])
    }

    /// The quoted column list, in the table's order.
    pub fn columns_sql(&self, dialect: Dialect) -> String {
        let columns: Vec<String> = self
            .fields
            .iter()
            .map(|f| dialect.select(&f.sql, f.column))
            .collect();
        columns.join(", ")
    }

    /// The INSERT of a create up to its row: every column, one placeholder
    /// each (cast to the column's type where the engine wants it), as a
    /// `SELECT` that the runtime completes with the references' conditions
    /// and `RETURNING` (`Statements::insert`).
    pub fn insert_sql(&self, dialect: Dialect) -> String {
        let columns: Vec<&str> = self.fields.iter().map(|f| f.sql.as_str()).collect();
        let placeholders: Vec<String> = self
            .fields
            .iter()
            .enumerate()
            .map(|(i, f)| dialect.placeholder(i + 1, &f.column.ty))
            .collect();
        format!(
            "INSERT INTO {} ({}) SELECT {}",
            crate::migrate::sqlite::quote(self.name()),
            columns.join(", "),
            placeholders.join(", "),
        )
    }

    /// The fields whose values have a pattern to match: of the inputs, and
    /// of the filters when the list exists.
    pub fn patterns(&self) -> impl Iterator<Item = &Field<'a>> {
        let lists = self.has(OperationKind::List);
        self.fields.iter().filter(move |f| {
            let c = f.column;
            c.constraints.pattern.is_some()
                && (c.on_create
                    || c.on_update
                    || (lists && self.resource.filters.contains(&c.name)))
        })
    }
}
