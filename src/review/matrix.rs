//! The access matrix: for every resource and operation, who may run it,
//! which rows each of them reaches, the rate that applies and which PII
//! fields the answer carries to whom; and its field view: for every column
//! a caller may see or set (the declared fields and the owner column), who
//! reads it and who writes it.
//!
//! Stage: review. Input: the resolved model. Output: [`ResourceAccess`]
//! rows, one per resource, each with all five operations (the ones nobody
//! may run are shown as denied, since they have no route) and its
//! [`FieldAccess`] rows. Invariant: every cell is read from the model's
//! decisions (`Grants::rows`, `Scope`, `OperationRate`, `Column::pii`, and
//! each operation's `views`, where the field rules are applied); nothing
//! here decides access.

use serde::Serialize;

use crate::model::{self, Grantee, OperationKind, Rows, Scope};

/// One resource of the matrix.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceAccess {
    pub resource: String,
    pub plural: String,
    /// How rows are scoped, in words (`owned by owner_id = token sub`).
    pub scope: String,
    /// `owned`, `tenant` or `unowned`.
    pub scope_kind: &'static str,
    /// The PII fields of a row.
    pub pii: Vec<String>,
    /// The five operations in the order list, get, create, update, delete.
    pub operations: Vec<OperationAccess>,
    /// The owner column and the declared fields, in table order: who reads
    /// and who writes each.
    pub fields: Vec<FieldAccess>,
}

/// One operation of a resource.
#[derive(Debug, Clone, Serialize)]
pub struct OperationAccess {
    pub operation: &'static str,
    /// Whether anybody may run it; a denied operation has no route.
    pub granted: bool,
    /// `GET /invoices/{id}`; `None` when denied.
    pub route: Option<String>,
    pub who: Vec<Who>,
    pub rate: Option<RateView>,
    /// The PII fields of the rows this operation answers with, to at least
    /// one of its callers.
    pub pii_returned: Vec<String>,
    /// For each field of `pii_returned`, which of the callers read it.
    pub pii_readers: Vec<PiiReaders>,
}

/// Who of an operation's callers reads one PII field in its answer.
#[derive(Debug, Clone, Serialize)]
pub struct PiiReaders {
    pub field: String,
    /// `owner`, role names, `public`.
    pub who: Vec<String>,
    /// Whether every caller of the operation reads it.
    pub everyone: bool,
}

/// One grantee of an operation and the rows it reaches.
#[derive(Debug, Clone, Serialize)]
pub struct Who {
    /// `owner`, `role` or `public`.
    pub grantee: &'static str,
    /// The role's name, for a role.
    pub role: Option<String>,
    pub rows: Rows,
    /// `owner (own rows)`, `admin (all rows)`, `public (all rows)`.
    pub label: String,
}

/// One column of a resource in the field view.
#[derive(Debug, Clone, Serialize)]
pub struct FieldAccess {
    pub field: String,
    /// `owner` for the owner column, `field` for a declared field.
    pub origin: &'static str,
    pub pii: bool,
    /// Who sees it in an answer, with the operations whose answers show
    /// it; empty: nobody reads it.
    pub read: Vec<FieldWho>,
    /// Who may set it, with the operations whose bodies may carry it;
    /// empty: nobody writes it.
    pub write: Vec<FieldWho>,
}

/// One kind of caller that reads or writes a column.
#[derive(Debug, Clone, Serialize)]
pub struct FieldWho {
    /// `owner`, `role` or `public`.
    pub grantee: &'static str,
    /// The role's name, for a role.
    pub role: Option<String>,
    /// The rows it does so on.
    pub rows: Rows,
    /// `owner`, the role's name, `public`.
    pub label: String,
    /// `list`, `get`, `create`, `update`.
    pub operations: Vec<&'static str>,
}

/// The rate of an operation, as the model decided it.
#[derive(Debug, Clone, Serialize)]
pub struct RateView {
    /// Per authenticated user.
    pub user: String,
    /// Per client IP, for anonymous callers: only on public operations.
    pub anon: Option<String>,
    pub bucket: String,
    /// A per-operation rate from the spec rather than `throttle.user`.
    pub overridden: bool,
    /// `1000/hour per user`, `30/minute per user (own bucket); 30/minute per IP`.
    pub text: String,
}

/// The PII columns of a resource, in spec order.
pub fn pii_fields(resource: &model::Resource) -> Vec<String> {
    resource
        .columns
        .iter()
        .filter(|c| c.pii)
        .map(|c| c.name.clone())
        .collect()
}

pub fn scope_text(scope: &Scope) -> (&'static str, String) {
    match scope {
        Scope::Owned {
            column,
            claim,
            tenant: false,
        } => ("owned", format!("owned: `{column}` = token `{claim}`")),
        Scope::Owned { column, claim, .. } => {
            ("tenant", format!("tenant: `{column}` = token `{claim}`"))
        }
        Scope::Unowned => ("unowned", "no owner (`owner: none`)".to_string()),
    }
}

/// `owner`, `role` or `public`.
pub fn grantee_kind(grantee: &Grantee) -> &'static str {
    match grantee {
        Grantee::Owner => "owner",
        Grantee::Role(_) => "role",
        Grantee::Public => "public",
    }
}

/// `owner`, the role's name, `public`.
pub fn grantee_name(grantee: &Grantee) -> String {
    match grantee {
        Grantee::Owner => "owner".to_string(),
        Grantee::Role(role) => role.clone(),
        Grantee::Public => "public".to_string(),
    }
}

/// The rows a kind of caller reaches: owners their own, others all.
fn rows_of(grantee: &Grantee) -> Rows {
    match grantee {
        Grantee::Owner => Rows::Own,
        _ => Rows::All,
    }
}

/// Who reads (`writes: false`) or writes a column, from the views of the
/// resource's operations: each kind of caller with the operations in
/// which it does, the owner first, then roles as they first appear, then
/// public callers.
pub fn column_users(
    resource: &model::Resource,
    column: &str,
    writes: bool,
) -> Vec<(Grantee, Vec<OperationKind>)> {
    let mut out: Vec<(Grantee, Vec<OperationKind>)> = Vec::new();
    for op in &resource.operations {
        for view in &op.views {
            let columns = if writes { &view.writes } else { &view.reads };
            if !columns.iter().any(|c| c == column) {
                continue;
            }
            match out.iter_mut().find(|(g, _)| *g == view.grantee) {
                Some((_, ops)) => ops.push(op.kind),
                None => out.push((view.grantee.clone(), vec![op.kind])),
            }
        }
    }
    let rank = |g: &Grantee| match g {
        Grantee::Owner => 0,
        Grantee::Role(_) => 1,
        Grantee::Public => 2,
    };
    // Stable: roles keep the order in which they first appear.
    out.sort_by_key(|(g, _)| rank(g));
    out
}

/// The columns a caller may see or set, in table order: the owner column
/// and the declared fields (the id and the timestamps are the server's,
/// shown to every reader and set by nobody).
pub fn visible_columns(resource: &model::Resource) -> impl Iterator<Item = &model::Column> {
    resource.columns.iter().filter(|c| {
        matches!(
            c.origin,
            model::ColumnOrigin::Owner | model::ColumnOrigin::Field
        )
    })
}

fn field_access(resource: &model::Resource) -> Vec<FieldAccess> {
    let who = |users: Vec<(Grantee, Vec<OperationKind>)>| -> Vec<FieldWho> {
        users
            .into_iter()
            .map(|(g, ops)| FieldWho {
                grantee: grantee_kind(&g),
                role: match &g {
                    Grantee::Role(r) => Some(r.clone()),
                    _ => None,
                },
                rows: rows_of(&g),
                label: grantee_name(&g),
                operations: ops.into_iter().map(OperationKind::name).collect(),
            })
            .collect()
    };
    visible_columns(resource)
        .map(|c| FieldAccess {
            field: c.name.clone(),
            origin: if c.origin == model::ColumnOrigin::Owner {
                "owner"
            } else {
                "field"
            },
            pii: c.pii,
            read: who(column_users(resource, &c.name, false)),
            write: who(column_users(resource, &c.name, true)),
        })
        .collect()
}

pub fn who_label(grantee: &Grantee, rows: Rows) -> String {
    let rows = match rows {
        Rows::Own => "own rows",
        Rows::All => "all rows",
    };
    match grantee {
        Grantee::Owner => format!("owner ({rows})"),
        Grantee::Role(role) => format!("{role} ({rows})"),
        Grantee::Public => format!("public ({rows})"),
    }
}

/// The matrix of a whole service.
pub fn matrix(service: &model::Service) -> Vec<ResourceAccess> {
    service.resources.iter().map(resource_access).collect()
}

fn resource_access(resource: &model::Resource) -> ResourceAccess {
    let pii = pii_fields(resource);
    let (scope_kind, mut scope) = scope_text(&resource.scope);
    if resource.scope != Scope::Unowned {
        // Who sees the owner column (`owner.read`).
        let r = &resource.owner_readers();
        let mut who: Vec<String> = Vec::new();
        if r.owner {
            who.push("owner".into());
        }
        who.extend(r.roles.iter().cloned());
        if r.public {
            who.push("public".into());
        }
        let who = if who.is_empty() {
            "nobody".to_string()
        } else {
            who.join(", ")
        };
        scope.push_str(&format!("; column seen by {who}"));
    }
    let operations = OperationKind::ALL
        .into_iter()
        .map(|kind| match resource.operation(kind) {
            None => OperationAccess {
                operation: kind.name(),
                granted: false,
                route: None,
                who: Vec::new(),
                rate: None,
                pii_returned: Vec::new(),
                pii_readers: Vec::new(),
            },
            Some(op) => {
                let who: Vec<Who> = op
                    .grants
                    .rows()
                    .into_iter()
                    .map(|(grantee, rows)| Who {
                        grantee: grantee_kind(&grantee),
                        role: match &grantee {
                            Grantee::Role(r) => Some(r.clone()),
                            _ => None,
                        },
                        rows,
                        label: who_label(&grantee, rows),
                    })
                    .collect();
                // Each PII field with the callers whose view of the answer
                // shows it.
                let pii_readers: Vec<PiiReaders> = pii
                    .iter()
                    .filter_map(|p| {
                        let readers: Vec<String> = op
                            .views
                            .iter()
                            .filter(|v| v.reads.contains(p))
                            .map(|v| grantee_name(&v.grantee))
                            .collect();
                        (!readers.is_empty()).then(|| PiiReaders {
                            field: p.clone(),
                            everyone: readers.len() == op.views.len(),
                            who: readers,
                        })
                    })
                    .collect();
                let anon = op.grants.public.then(|| op.rate.anon.to_string());
                let mut text = format!("{} per user", op.rate.user);
                if op.rate.overridden {
                    text.push_str(" (own bucket)");
                }
                if let Some(anon) = &anon {
                    text.push_str(&format!("; {anon} per IP"));
                }
                OperationAccess {
                    operation: kind.name(),
                    granted: true,
                    route: Some(format!("{} {}", op.method.as_str(), op.path)),
                    who,
                    rate: Some(RateView {
                        user: op.rate.user.to_string(),
                        anon,
                        bucket: op.rate.bucket.clone(),
                        overridden: op.rate.overridden,
                        text,
                    }),
                    pii_returned: pii_readers.iter().map(|p| p.field.clone()).collect(),
                    pii_readers,
                }
            }
        })
        .collect();
    ResourceAccess {
        resource: resource.name.clone(),
        plural: resource.plural.clone(),
        scope,
        scope_kind,
        pii,
        operations,
        fields: field_access(resource),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled(text: &str) -> crate::Compiled {
        crate::compile(crate::source::SourceFile::new("t.yaml", text))
            .unwrap_or_else(|r| panic!("{:?}", r.diagnostics))
    }

    const SPEC: &str = "palisade: 1
service: { name: t }
auth:
  jwt: { algorithm: ES256, public_key_env: K }
  roles_claim: roles
roles: [staff, admin]
resources:
  note:
    owner: none
    fields:
      text: { type: string }
      secret: { type: string, pii: true, read: [admin], write: [admin] }
    hide: { public: [text] }
    access:
      roles: { staff: [list], admin: [get, update] }
      public: [get]
";

    /// Readers and writers come from the operations' views: the owner
    /// first, roles as they first appear, public callers last; a column
    /// hidden from a caller is not its to read.
    #[test]
    fn column_users_read_the_views() {
        let c = compiled(SPEC);
        let note = c.model.resource("note").unwrap();
        let names = |users: Vec<(Grantee, Vec<OperationKind>)>| -> Vec<(String, Vec<&str>)> {
            users
                .into_iter()
                .map(|(g, ops)| {
                    (
                        grantee_name(&g),
                        ops.into_iter().map(|o| o.name()).collect(),
                    )
                })
                .collect()
        };
        assert_eq!(
            names(column_users(note, "text", false)),
            [
                ("staff".to_string(), vec!["list"]),
                ("admin".to_string(), vec!["get", "update"])
            ]
        );
        assert_eq!(
            names(column_users(note, "secret", false)),
            [("admin".to_string(), vec!["get", "update"])]
        );
        assert_eq!(
            names(column_users(note, "secret", true)),
            [("admin".to_string(), vec!["update"])]
        );
        assert_eq!(
            names(column_users(note, "id", false)),
            [
                ("staff".to_string(), vec!["list"]),
                ("admin".to_string(), vec!["get", "update"]),
                ("public".to_string(), vec!["get"])
            ]
        );
        let m = matrix(&c.model);
        let get = &m[0].operations[1];
        assert_eq!(get.operation, "get");
        assert_eq!(get.pii_returned, ["secret"]);
        assert_eq!(get.pii_readers[0].who, ["admin"]);
        assert!(!get.pii_readers[0].everyone);
        let fields: Vec<&str> = m[0].fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["text", "secret"]);
    }
}
