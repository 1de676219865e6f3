//! The curl session of the generated README: a plan of shell lines from
//! the model, each call with the status the server answers.
//!
//! Stage: generate. Input: a [`Service`]. Output: the [`Line`]s that the
//! README template prints under "Call it". Invariant: the session runs top
//! to bottom as pasted against a fresh server (the e2e suite extracts it
//! from the README and runs it): rows are created before the rows that
//! refer to them, every call is one the caller is granted, and each call
//! line carries the status it gets (`# -> 201`), which the session prints.

use serde::Serialize;
use serde_json::{Map, Value};

use super::example;
use crate::model::{
    ColumnType, Grantee, Grants, Link, LinkTargets, OnDelete, Operation, OperationKind, Resource,
    Scope, Service, View,
};

/// One line of the session: an optional comment above a command, and the
/// status the command's call answers (`None` when it calls nothing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Line {
    pub comment: Option<String>,
    pub command: String,
    pub status: Option<u16>,
}

/// Who runs a call of the session.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Caller {
    /// `alice`, tenant `acme`: the owner of the rows she creates (`bob`,
    /// tenant `globex`, only ever reads one of them).
    Alice,
    /// A user with one role, in alice's tenant.
    Role(String),
}

impl Caller {
    fn token(&self) -> String {
        match self {
            Caller::Alice => "$ALICE".into(),
            Caller::Role(role) => format!("${}_TOKEN", role.to_uppercase()),
        }
    }

    /// Whether this caller may run an operation with `grants` on `resource`.
    fn may(&self, resource: &Resource, grants: &Grants) -> bool {
        grants.public
            || match self {
                Caller::Alice => grants.owner && resource.scope != Scope::Unowned,
                Caller::Role(role) => grants.roles.contains(role),
            }
    }

    /// The kind of caller this is for `op` of `resource`, and what the
    /// model lets that kind read and write there.
    fn view<'m>(&self, resource: &Resource, op: &'m Operation) -> Option<&'m View> {
        let kind = match self {
            Caller::Alice if resource.scope != Scope::Unowned => Grantee::Owner,
            Caller::Alice => return None,
            Caller::Role(role) => Grantee::Role(role.clone()),
        };
        op.views.iter().find(|v| v.grantee == kind)
    }

    /// The owner value of the rows this caller creates on `scope`.
    fn owner(&self, scope: &Scope) -> Option<String> {
        let Scope::Owned { tenant, .. } = scope else {
            return None;
        };
        Some(match (self, tenant) {
            (_, true) => "acme".into(),
            (Caller::Alice, false) => "alice".into(),
            (Caller::Role(role), false) => format!("{role}-1"),
        })
    }
}

/// A row the session created.
struct Row<'a> {
    resource: &'a Resource,
    creator: Caller,
    var: String,
    /// The rows (by index) whose delete this one blocks (its links that
    /// restrict the delete of their target).
    refers_to: Vec<usize>,
}

/// The session for `service`, with `dev_token` the command that mints a
/// token (its arguments follow); `None` when tokens come only from the
/// identity provider, whose tokens the reader pastes.
pub fn session(service: &Service, dev_token: Option<&str>) -> Vec<Line> {
    // A token for `who` (`--user alice --claim org=acme`, say).
    let mint = |var: &str, who: &str, args: &str| match dev_token {
        Some(command) => format!("{var}=$({command} {args})"),
        None => format!("{var}='<an access token of {who} from your identity provider>'"),
    };
    let tenant_claims = service.tenant_claims();
    let claims = |tenant: &str| -> String {
        tenant_claims
            .iter()
            .map(|c| format!(" --claim {c}={tenant}"))
            .collect()
    };
    let mut lines = vec![Line {
        comment: Some("the server, and a helper that prints a response and its status".into()),
        command: "API=http://127.0.0.1:8080\n\
                  call() { curl -sS -X \"$1\" \"$API$2\" -H \"authorization: Bearer $3\" \
                  -H 'content-type: application/json' ${4:+--data-raw \"$4\"} -w '\\nHTTP %{http_code}\\n'; }\n\
                  new() { call POST \"$@\" | tee /dev/stderr | sed -n 's/.*\"id\":\"\\([^\"]*\\)\".*/\\1/p'; }"
            .into(),
        status: None,
    }];
    lines.push(Line {
        comment: Some("tokens of two users, each the owner of the rows they create".into()),
        command: format!(
            "{}\n{}",
            mint(
                "ALICE",
                "a first user",
                &format!("--user alice{}", claims("acme"))
            ),
            mint(
                "BOB",
                "a second user",
                &format!("--user bob{}", claims("globex"))
            )
        ),
        status: None,
    });

    let mut rows: Vec<Row<'_>> = Vec::new();
    let mut roles_used: Vec<String> = Vec::new();
    let mut calls = Vec::new();
    let mut bob_shown = false;
    for resource in creation_order(service) {
        let Some(create) = resource.operation(OperationKind::Create) else {
            continue;
        };
        let creator = if Caller::Alice.may(resource, &create.grants) {
            Caller::Alice
        } else if let Some(role) = create.grants.roles.first() {
            Caller::Role(role.clone())
        } else {
            continue;
        };
        let Some((body, refers_to)) = create_body(resource, create, &creator, &rows, 1) else {
            continue;
        };
        if let Caller::Role(role) = &creator {
            if !roles_used.contains(role) {
                roles_used.push(role.clone());
            }
        }
        let var = format!("{}_ID", resource.name.to_uppercase());
        let token = creator.token();
        let path = format!("/{}", resource.plural);
        let may = |kind: OperationKind| {
            resource
                .operation(kind)
                .is_some_and(|op| creator.may(resource, &op.grants))
        };
        calls.push(Line {
            comment: Some(format!("create {} as {}", a(&resource.name), who(&creator))),
            command: format!("{var}=$(new {path} \"{token}\" {})", quote(&body)),
            status: Some(201),
        });
        if let Some((field, body)) = refused_field(resource, create, &creator, &body) {
            let mut line = call("POST", &path, &token, Some(&body), 422);
            line.comment = Some(format!(
                "{} may not set `{field}`: 422 naming it, never silently dropped",
                who(&creator)
            ));
            calls.push(line);
        }
        if may(OperationKind::List) {
            calls.push(call("GET", &path, &token, None, 200));
        }
        let item = format!("{path}/${var}");
        if may(OperationKind::Get) {
            calls.push(call("GET", &item, &token, None, 200));
            let update = resource.operation(OperationKind::Update);
            if let Some(update) = update.filter(|op| creator.may(resource, &op.grants)) {
                if let Some(change) = update_body(resource, update, &creator) {
                    calls.push(call("PATCH", &item, &token, Some(&change), 200));
                }
            }
        }
        let owned = resource.scope != Scope::Unowned;
        let bob_blind = resource
            .operation(OperationKind::Get)
            .is_some_and(|op| !op.grants.public && op.grants.owner);
        if owned && bob_blind && !bob_shown {
            bob_shown = true;
            let mut line = call("GET", &item, "$BOB", None, 404);
            line.comment = Some(format!(
                "bob may not see alice's {}: 404, as for a row that does not exist",
                resource.name
            ));
            calls.push(line);
        }
        rows.push(Row {
            resource,
            creator,
            var,
            refers_to,
        });
    }
    // Deletes last, the rows that refer to others first; a row still
    // referred to by one that stays is kept.
    let mut kept = vec![true; rows.len()];
    let mut deletes = Vec::new();
    for (i, row) in rows.iter().enumerate().rev() {
        let referred = rows
            .iter()
            .enumerate()
            .any(|(j, other)| kept[j] && other.refers_to.contains(&i));
        let may = row
            .resource
            .operation(OperationKind::Delete)
            .is_some_and(|op| row.creator.may(row.resource, &op.grants));
        if may && !referred {
            kept[i] = false;
            let item = format!("/{}/${}", row.resource.plural, row.var);
            deletes.push(call("DELETE", &item, &row.creator.token(), None, 204));
        }
    }
    if let Some(first) = deletes.first_mut() {
        first.comment = Some("delete what was created".into());
    } else if let Some(line) = spare_delete(&rows) {
        // Every row stays referred to: show a delete on one made for it.
        deletes = line;
    }
    if !roles_used.is_empty() {
        let tokens: Vec<String> = roles_used
            .iter()
            .map(|role| {
                mint(
                    Caller::Role(role.clone()).token().trim_start_matches('$'),
                    &format!("a user with the role {role}"),
                    &format!("--user {role}-1 --role {role}{}", claims("acme")),
                )
            })
            .collect();
        lines.push(Line {
            comment: Some(format!(
                "a token with the role{} that may create what alice may not",
                if tokens.len() == 1 { "" } else { "s" }
            )),
            command: tokens.join("\n"),
            status: None,
        });
    }
    lines.extend(calls);
    lines.extend(deletes);
    lines
}

/// A second row of the first resource whose creator may delete it, made
/// and deleted (when the session's own rows all stay referred to).
fn spare_delete(rows: &[Row<'_>]) -> Option<Vec<Line>> {
    rows.iter().find_map(|row| {
        let resource = row.resource;
        resource
            .operation(OperationKind::Delete)
            .filter(|op| row.creator.may(resource, &op.grants))?;
        let create = resource.operation(OperationKind::Create)?;
        let (body, _) = create_body(resource, create, &row.creator, rows, 3)?;
        let var = format!("{}2", row.var);
        let token = row.creator.token();
        let path = format!("/{}", resource.plural);
        let mut delete = call("DELETE", &format!("{path}/${var}"), &token, None, 204);
        delete.comment = None;
        Some(vec![
            Line {
                comment: Some(format!(
                    "a row still referred to cannot be deleted (409); delete another {} instead",
                    resource.name
                )),
                command: format!("{var}=$(new {path} \"{token}\" {})", quote(&body)),
                status: Some(201),
            },
            delete,
        ])
    })
}

/// `name` with its indefinite article, by its first letter.
fn a(name: &str) -> String {
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {name}")
}

fn who(caller: &Caller) -> String {
    match caller {
        Caller::Alice => "alice".into(),
        Caller::Role(role) => format!("a user with the role `{role}`"),
    }
}

fn call(method: &str, path: &str, token: &str, body: Option<&str>, status: u16) -> Line {
    let body = body.map(|b| format!(" {}", quote(b))).unwrap_or_default();
    Line {
        comment: None,
        command: format!("call {method} {path} \"{token}\"{body}"),
        status: Some(status),
    }
}

/// `text` as one shell word in single quotes, where the placeholders
/// `@@VAR@@` become `"$VAR"` (so an id is spliced into a JSON body).
fn quote(text: &str) -> String {
    let escaped = text.replace('\'', r"'\''");
    let mut out = String::from("'");
    let mut rest = escaped.as_str();
    while let Some(start) = rest.find("@@") {
        let Some(len) = rest[start + 2..].find("@@") else {
            break;
        };
        out.push_str(&rest[..start]);
        out.push_str(&format!("'\"${}\"'", &rest[start + 2..start + 2 + len]));
        rest = &rest[start + 4 + len..];
    }
    out.push_str(rest);
    out.push('\'');
    out
}

/// The create body of `resource` by `creator`: every required field with
/// an example value, refs to rows the session made that the new row's
/// owner may link to; the indexes of the rows whose delete it blocks.
/// `None` when a required field cannot be filled.
fn create_body(
    resource: &Resource,
    create: &Operation,
    creator: &Caller,
    rows: &[Row<'_>],
    seed: u32,
) -> Option<(String, Vec<usize>)> {
    let writes = &creator.view(resource, create)?.writes;
    let mut body = Map::new();
    let mut refers_to = Vec::new();
    for column in resource.fields().filter(|c| c.on_create && c.required) {
        if !writes.contains(&column.name) {
            return None;
        }
        let value = match &column.ty {
            ColumnType::Ref { resource: target } => {
                let link = column.link.as_ref()?;
                let owner = creator.owner(&resource.scope);
                let (i, row) = rows.iter().enumerate().find(|(_, row)| {
                    row.resource.name == *target && linkable(row, link, owner.as_deref())
                })?;
                if link.on_delete == OnDelete::Restrict {
                    refers_to.push(i);
                }
                Value::String(format!("@@{}@@", row.var))
            }
            _ => example::value(column, seed)?,
        };
        body.insert(column.name.clone(), value);
    }
    Some((Value::Object(body).to_string(), refers_to))
}

/// Whether a new row owned by `owner` (`None`: an unowned row) may refer
/// to `row` through `link`, as the model decided.
fn linkable(row: &Row<'_>, link: &Link, owner: Option<&str>) -> bool {
    match link.targets {
        LinkTargets::Public => true,
        LinkTargets::SameOwner => row.creator.owner(&row.resource.scope).as_deref() == owner,
        LinkTargets::Nothing => false,
    }
}

/// A field of a create that `creator` may not set (another may), and the
/// create `body` with it: the 422 of a field rule.
fn refused_field(
    resource: &Resource,
    create: &Operation,
    creator: &Caller,
    body: &str,
) -> Option<(String, String)> {
    let writes = &creator.view(resource, create)?.writes;
    let column = resource.fields().find(|c| {
        c.on_create
            && c.write.is_some()
            && !writes.contains(&c.name)
            && !matches!(c.ty, ColumnType::Ref { .. })
    })?;
    let Ok(Value::Object(mut body)) = serde_json::from_str::<Value>(body) else {
        return None;
    };
    body.insert(column.name.clone(), example::value(column, 2)?);
    Some((column.name.clone(), Value::Object(body).to_string()))
}

/// A change of one field `updater` may update: the first one it may write
/// that is not a ref, with another example value.
fn update_body(resource: &Resource, update: &Operation, updater: &Caller) -> Option<String> {
    let writes = &updater.view(resource, update)?.writes;
    resource
        .fields()
        .filter(|c| {
            c.on_update && writes.contains(&c.name) && !matches!(c.ty, ColumnType::Ref { .. })
        })
        .find_map(|c| {
            let value = example::value(c, 2)?;
            let mut body = Map::new();
            body.insert(c.name.clone(), value);
            Some(Value::Object(body).to_string())
        })
}

/// Resources in an order where every required ref's target comes before
/// the resources referring to it (spec order otherwise); resources in a
/// cycle of required refs, whose rows cannot be created, are left out.
fn creation_order(service: &Service) -> Vec<&Resource> {
    use std::cmp::Reverse;
    use std::collections::{BTreeSet, BinaryHeap, HashMap};
    // Each step places the first resource, in spec order, whose targets
    // are all placed (Kahn's algorithm with the lowest index first).
    let index: HashMap<&str, usize> = service
        .resources
        .iter()
        .enumerate()
        .map(|(i, r)| (r.name.as_str(), i))
        .collect();
    let mut waiting = vec![0usize; service.resources.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); service.resources.len()];
    for (i, r) in service.resources.iter().enumerate() {
        let targets: BTreeSet<usize> = r
            .fields()
            .filter(|c| c.on_create && c.required)
            .filter_map(|c| match &c.ty {
                ColumnType::Ref { resource } => index.get(resource.as_str()).copied(),
                _ => None,
            })
            .collect();
        waiting[i] = targets.len();
        for t in targets {
            dependents[t].push(i);
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..service.resources.len())
        .filter(|&i| waiting[i] == 0)
        .map(Reverse)
        .collect();
    let mut placed = Vec::new();
    while let Some(Reverse(i)) = ready.pop() {
        placed.push(&service.resources[i]);
        for &d in &dependents[i] {
            waiting[d] -= 1;
            if waiting[d] == 0 {
                ready.push(Reverse(d));
            }
        }
    }
    placed
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quoting_splices_variables_and_escapes_quotes() {
        assert_eq!(quote(r#"{"a":1}"#), r#"'{"a":1}'"#);
        assert_eq!(
            quote(r#"{"c":"@@C_ID@@","n":"it's"}"#),
            r#"'{"c":"'"$C_ID"'","n":"it'\''s"}'"#
        );
    }
}
