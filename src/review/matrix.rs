//! The access matrix: for every resource and operation, who may run it,
//! which rows each of them reaches, the rate that applies and which PII
//! fields the answer carries.
//!
//! Stage: review. Input: the resolved model. Output: [`ResourceAccess`]
//! rows, one per resource, each with all five operations (the ones nobody
//! may run are shown as denied, since they have no route). Invariant: every
//! cell is read from the model's decisions (`Grants::rows`, `Scope`,
//! `OperationRate`, `Column::pii`); nothing here decides access.

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
    /// The PII fields of the rows this operation answers with.
    pub pii_returned: Vec<String>,
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

/// Operations whose answer carries rows (delete answers 204 without a body).
pub fn returns_rows(kind: OperationKind) -> bool {
    kind != OperationKind::Delete
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
            },
            Some(op) => {
                let who = op
                    .grants
                    .rows()
                    .into_iter()
                    .map(|(grantee, rows)| Who {
                        grantee: match grantee {
                            Grantee::Owner => "owner",
                            Grantee::Role(_) => "role",
                            Grantee::Public => "public",
                        },
                        role: match &grantee {
                            Grantee::Role(r) => Some(r.clone()),
                            _ => None,
                        },
                        rows,
                        label: who_label(&grantee, rows),
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
                    pii_returned: if returns_rows(kind) {
                        pii.clone()
                    } else {
                        Vec::new()
                    },
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
    }
}
