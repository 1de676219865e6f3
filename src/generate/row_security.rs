//! The row-level security policies of a service on PostgreSQL
//! (`api/src/row_security.sql`), printed from the model's decisions
//! ([`crate::model::Service::row_security`]).
//!
//! They are derived state, not a migration: the server applies the file at
//! every start, under the migration lock, so an access change needs no
//! migration, and `palisade check` reports a file that no longer matches
//! the spec like any other generated file. Each request runs as the
//! service's role with the caller in `palisade.user`, `palisade.roles`
//! (comma-separated) and `palisade.tenant_<n>` (the service's tenant
//! claims in order), set for its transaction only.

use crate::migrate::sqlite::quote;
use crate::model::{Resource, RowSecurity, Service};

/// The whole file, after `header`.
pub fn sql(service: &Service, header: &str) -> String {
    let mut out = format!(
        "{header}-- Row-level security of {} on PostgreSQL, the second lock: whatever a\n\
         -- statement says, the database shows and changes only these rows. The server\n\
         -- applies this file at every start (never a migration); requests run as the\n\
         -- service's role with the caller in `palisade.user`, `palisade.roles` and\n\
         -- `palisade.tenant_<n>`, set for their transaction only.\n",
        service.name
    );
    out.push_str(
        "\n-- What the role may do at all (the server sets `palisade.app_role`): read,\n\
         -- create and delete rows, and change only the columns an update may change\n\
         -- (never the id, the owner, the creation time or a read-only or write-once\n\
         -- field).\n",
    );
    for r in &service.resources {
        out.push_str(&privileges(r));
    }
    let tables = service.row_security();
    if tables.is_empty() {
        out.push_str(
            "\n-- No table is owned: every row is reached through role and public grants.\n",
        );
    }
    for t in &tables {
        out.push('\n');
        out.push_str(&table(t));
    }
    out
}

/// The role's privileges on the table of `r`: every row statement, and
/// UPDATE only of the columns a request may change.
fn privileges(r: &Resource) -> String {
    let name = quote(&r.name);
    let columns: Vec<String> = r.updatable().map(|c| quote(&c.name)).collect();
    let grant = |what: &str| {
        format!(
            "EXECUTE format('GRANT {} ON {} TO %I', current_setting('palisade.app_role'));",
            what.replace('\'', "''"),
            name.replace('\'', "''")
        )
    };
    format!(
        "DO $$ BEGIN {} {} END $$;\n",
        grant("SELECT, INSERT, DELETE"),
        grant(&format!("UPDATE ({})", columns.join(", ")))
    )
}

fn table(t: &RowSecurity) -> String {
    let name = quote(&t.table);
    let owner = owner(t);
    let read = if t.public_read {
        "true".to_string()
    } else {
        either(&owner, &t.read)
    };
    let (update, delete) = (either(&owner, &t.update), either(&owner, &t.delete));
    let mut out = format!(
        "-- {}: its owner's rows{}{}{}{}.\n",
        t.table,
        granted("read", &t.read, t.public_read),
        granted("update", &t.update, false),
        granted("delete", &t.delete, false),
        if t.public_read {
            "; anyone reads every row"
        } else {
            ""
        },
    );
    out.push_str(&format!("ALTER TABLE {name} ENABLE ROW LEVEL SECURITY;\n"));
    out.push_str(&format!("ALTER TABLE {name} FORCE ROW LEVEL SECURITY;\n"));
    let policies = [
        ("palisade_read", "SELECT", Some(&read), None),
        ("palisade_create", "INSERT", None, Some(&owner)),
        ("palisade_update", "UPDATE", Some(&update), Some(&update)),
        ("palisade_delete", "DELETE", Some(&delete), None),
    ];
    for (policy, command, using, check) in policies {
        out.push_str(&format!("DROP POLICY IF EXISTS \"{policy}\" ON {name};\n"));
        out.push_str(&format!(
            "CREATE POLICY \"{policy}\" ON {name} FOR {command}"
        ));
        if let Some(using) = using {
            out.push_str(&format!(" USING ({using})"));
        }
        if let Some(check) = check {
            out.push_str(&format!(" WITH CHECK ({check})"));
        }
        out.push_str(";\n");
    }
    out
}

/// The owner condition: the row's owner column equals the caller's value
/// of the owner's claim.
fn owner(t: &RowSecurity) -> String {
    let setting = match t.tenant {
        Some(i) => format!("palisade.tenant_{i}"),
        None => "palisade.user".into(),
    };
    format!(
        "{} = current_setting('{setting}', true)",
        quote(&t.owner_column)
    )
}

/// The owner condition, or the caller holds one of `roles`.
fn either(owner: &str, roles: &[String]) -> String {
    if roles.is_empty() {
        return owner.to_owned();
    }
    let roles: Vec<String> = roles
        .iter()
        .map(|r| format!("'{}'", r.replace('\'', "''")))
        .collect();
    format!(
        "{owner} OR string_to_array(current_setting('palisade.roles', true), ',') && ARRAY[{}]",
        roles.join(", ")
    )
}

/// `; roles a, b <what> every row` for a comment.
fn granted(what: &str, roles: &[String], public: bool) -> String {
    if roles.is_empty() || public {
        return String::new();
    }
    let word = if roles.len() == 1 { "role" } else { "roles" };
    format!("; {word} {} may {what} every row", roles.join(", "))
}
