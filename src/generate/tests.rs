//! The generated project's own `api/tests/security.rs`: proof of owner
//! isolation, authentication, mass-assignment refusal and grants for the
//! project's own resources, against its own router, runnable with
//! `cargo test` in the project, so a team that adds hooks keeps the proof
//! running in its own CI.
//!
//! Stage: generate. Input: the model. Every expectation is read from the
//! model's grants, scope and input columns; example values come from
//! [`super::example`]. A case that cannot be expressed for a spec is left
//! out (nothing is emitted), never replaced by a test that cannot fail:
//!
//! - a resource whose rows cannot be created in a test (no create grant
//!   the tests can act on, a required field no example satisfies, a
//!   required reference to such a resource, a cycle of required
//!   references, a body larger than `limits.max_body`) gets the tests that
//!   need no row, and a comment says why;
//! - role callers exist only when the spec has a `roles_claim` (else no
//!   token can carry a role);
//! - a request whose body would exceed `limits.max_body` is not sent.
//!
//! Each test creates at most one row of each resource (its required
//! references are created first, once each), so `unique` fields never
//! collide. Each role user of the tests is in a tenant of its own, like
//! `alice` and `bob`, so only a row's creator shares its owner.

use std::collections::HashSet;

use proc_macro2::{TokenStream, TokenTree};
use quote::{format_ident, quote};
use serde_json::{Map, Value, json};

use super::example;
use crate::model::{
    Column, ColumnType, Grants, LinkTargets, OnDelete, OperationKind, Resource, Scope, Service,
};

/// Who creates rows in the tests.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Actor {
    /// The user `alice` (tenant `acme`), through an owner grant.
    Alice,
    /// The user `role-R` holding the role R (tenant `R-org`).
    Role(String),
}

impl Actor {
    fn token(&self) -> TokenStream {
        match self {
            Actor::Alice => quote!(app.token("alice", &[], "acme")),
            Actor::Role(r) => role_token(r),
        }
    }
}

/// A token of the test user holding `role`, alone in its tenant.
fn role_token(role: &str) -> TokenStream {
    let user = format!("role-{role}");
    let tenant = format!("{role}-org");
    quote!(app.token(#user, &[#role], #tenant))
}

/// Who may create rows of `resource`, preferring the owner; roles only
/// when a token can carry them.
fn creator(service: &Service, resource: &Resource) -> Option<Actor> {
    let op = resource.operation(OperationKind::Create)?;
    if op.grants.owner && resource.scope != Scope::Unowned {
        Some(Actor::Alice)
    } else if service.auth.roles_claim.is_some() {
        op.grants.roles.first().map(|r| Actor::Role(r.clone()))
    } else {
        None
    }
}

/// Whether a row that `actor` creates (and so owns) may name, in
/// `column`, a row of its target that `owner` created: the column's link
/// decides (each test actor is alone in its tenant, so the same actor is
/// the same owner).
fn links(column: &Column, actor: &Actor, owner: &Actor) -> bool {
    match column.link.as_ref().map(|l| l.targets) {
        Some(LinkTargets::Public) => true,
        Some(LinkTargets::SameOwner) => actor == owner,
        Some(LinkTargets::Nothing) | None => false,
    }
}

/// Whether grants reach the test caller `role` (`None`: anonymous) on a
/// row it created (`own`) or not.
fn reaches(g: &Grants, role: Option<&String>, own: bool) -> bool {
    g.public || role.is_some_and(|r| g.roles.contains(r) || (g.owner && own))
}

/// Whether the server accepts `body` under `limits.max_body`.
fn fits(service: &Service, body: &Value) -> bool {
    serde_json::to_vec(body).is_ok_and(|b| b.len() as u64 <= service.limits.max_body_bytes)
}

fn fn_name(prefix: &str, resource: &Resource) -> syn::Ident {
    format_ident!("{prefix}_{}", resource.name)
}

/// Every identifier in `tokens`, those inside macro calls included.
fn idents(tokens: &TokenStream, out: &mut HashSet<String>) {
    for tree in tokens.clone() {
        match tree {
            TokenTree::Ident(i) => {
                out.insert(i.to_string());
            }
            TokenTree::Group(g) => idents(&g.stream(), out),
            _ => {}
        }
    }
}

/// Whether any of `tokens` names `name`.
fn uses(tokens: &[TokenStream], name: &str) -> bool {
    named(tokens).contains(name)
}

/// Every identifier that `tokens` name (walk them once, then ask the set:
/// asking `uses` once per maker would be quadratic in the resources).
fn named(tokens: &[TokenStream]) -> HashSet<String> {
    let mut found = HashSet::new();
    for t in tokens {
        idents(t, &mut found);
    }
    found
}

/// One row a test creates: of `resource`, as `actor`, with `body` and each
/// required reference (field, step) set to the id of an earlier step's row.
struct Step<'a> {
    resource: &'a Resource,
    actor: Actor,
    body: Map<String, Value>,
    refs: Vec<(String, usize)>,
}

/// The rows to create, in order, for one row of `resource` (the last);
/// `Err` says why the tests cannot create one.
fn plan<'a>(service: &'a Service, resource: &'a Resource) -> Result<Vec<Step<'a>>, String> {
    let mut steps = Vec::new();
    plan_into(service, resource, &mut Vec::new(), &mut steps).map_err(|e| e.why)?;
    Ok(steps)
}

/// Why the tests cannot create a row.
struct Unmakeable {
    why: String,
    /// The resources on the cycle of required references found, if that
    /// is the reason: no row of them can be created before another.
    /// (Validation accepts such specs; the tests leave out the cases that
    /// need such a row.)
    cycle: Vec<String>,
}

impl From<String> for Unmakeable {
    fn from(why: String) -> Self {
        Unmakeable {
            why,
            cycle: Vec::new(),
        }
    }
}

impl From<&str> for Unmakeable {
    fn from(why: &str) -> Self {
        why.to_string().into()
    }
}

/// Adds the steps of one row of `resource` (after those of its required
/// references, each resource once) and returns the index of its step.
/// `path` holds the resources whose steps are being planned, to find
/// cycles of required references.
fn plan_into<'a>(
    service: &'a Service,
    resource: &'a Resource,
    path: &mut Vec<&'a str>,
    steps: &mut Vec<Step<'a>>,
) -> Result<usize, Unmakeable> {
    if let Some(i) = steps.iter().position(|s| s.resource.name == resource.name) {
        return Ok(i);
    }
    if let Some(start) = path.iter().position(|n| *n == resource.name) {
        let cycle: Vec<String> = path[start..].iter().map(|n| n.to_string()).collect();
        let shown: Vec<String> = cycle
            .iter()
            .chain([&resource.name])
            .map(|n| format!("`{n}`"))
            .collect();
        return Err(Unmakeable {
            why: format!(
                "its required references form a cycle ({}), so no row of these can be created before another",
                shown.join(" -> ")
            ),
            cycle,
        });
    }
    let actor = creator(service, resource).ok_or("nobody the tests can act as may create rows")?;
    path.push(&resource.name);
    let mut body = Map::new();
    let mut refs = Vec::new();
    // The body as the server receives it: ids in place of the references.
    let mut sent = Map::new();
    for column in resource.columns.iter().filter(|c| c.on_create) {
        match &column.ty {
            ColumnType::Ref { resource: target } => {
                if !column.required {
                    continue;
                }
                let target = service
                    .resource(target)
                    .ok_or("a ref to a missing resource")?;
                let i = plan_into(service, target, path, steps).map_err(|e| {
                    if e.cycle.contains(&resource.name) {
                        e
                    } else {
                        format!(
                            "the `{}` that `{}` needs cannot be created: {}",
                            target.name, column.name, e.why
                        )
                        .into()
                    }
                })?;
                if !links(column, &actor, &steps[i].actor) {
                    return Err(format!(
                        "the creator may not link the `{}` that `{}` needs",
                        target.name, column.name
                    )
                    .into());
                }
                refs.push((column.name.clone(), i));
                sent.insert(
                    column.name.clone(),
                    json!("00000000-0000-4000-8000-000000000000"),
                );
            }
            _ => match example::value(column, 1) {
                Some(value) => {
                    body.insert(column.name.clone(), value.clone());
                    sent.insert(column.name.clone(), value);
                }
                // An optional field is left out.
                None if !column.required => {}
                None => {
                    return Err(format!("no example value satisfies `{}`", column.name).into());
                }
            },
        }
    }
    if !fits(service, &Value::Object(sent)) {
        return Err(format!(
            "its example body is larger than `limits.max_body` ({} bytes)",
            service.limits.max_body_bytes
        )
        .into());
    }
    path.pop();
    steps.push(Step {
        resource,
        actor,
        body,
        refs,
    });
    Ok(steps.len() - 1)
}

/// `make_<resource>`: creates the rows of `steps` and returns the last.
fn maker(resource: &Resource, steps: &[Step<'_>]) -> TokenStream {
    let name = fn_name("make", resource);
    let vars: Vec<syn::Ident> = (0..steps.len()).map(|i| format_ident!("row{i}")).collect();
    let creates = steps.iter().enumerate().map(|(i, step)| {
        let path = format!("/{}", step.resource.plural);
        let token = step.actor.token();
        let json = Value::Object(step.body.clone()).to_string();
        let refs = step.refs.iter().map(|(field, j)| {
            let var = &vars[*j];
            quote!((#field, &#var))
        });
        let create = quote!(app.create(#path, &#token, #json, &[#(#refs),*]).await);
        if i + 1 == steps.len() {
            create
        } else {
            let var = &vars[i];
            quote!(let #var = #create;)
        }
    });
    let doc = if steps.len() > 1 {
        format!(
            " Creates a row of `{}` as its creator, after one row of each resource its required references need, and returns it.",
            resource.name
        )
    } else {
        format!(
            " Creates a row of `{}` as its creator and returns it.",
            resource.name
        )
    };
    quote! {
        #[doc = #doc]
        async fn #name(app: &TestApp) -> Value {
            #(#creates)*
        }
    }
}

/// The `api/tests/security.rs` file of the project; `service.name` is the
/// generated API crate's name.
pub fn security_tests(service: &Service) -> TokenStream {
    let krate = format_ident!("{}", service.name.replace('-', "_"));
    let empty = json!({});
    // `{}` bodies, for requests that must fail before the body is read.
    let empty_fits = fits(service, &empty);
    let mut tests: Vec<TokenStream> = Vec::new();
    // Each resource's maker goes before its tests, if they use it.
    let mut makers: Vec<(usize, syn::Ident, TokenStream)> = Vec::new();
    for resource in &service.resources {
        let name = &resource.name;
        let collection = format!("/{}", resource.plural);
        let item = format!("/{}/00000000-0000-4000-8000-000000000000", resource.plural);

        // Every route refuses a missing or forged token, unless public.
        let unauthenticated: Vec<TokenStream> = resource.operations.iter().filter(|o| !o.grants.public).map(|op| {
            let method = op.method.as_str();
            let path = if op.path.contains("{id}") { item.clone() } else { collection.clone() };
            let body = (matches!(op.kind, OperationKind::Create | OperationKind::Update) && empty_fits).then(|| quote!(Some(json!({})))).unwrap_or(quote!(None));
            quote! {
                assert_eq!(app.call(#method, #path, None, #body).await.status, 401, "{} {} without a token", #method, #path);
                assert_eq!(app.call(#method, #path, Some("not.a.token"), #body).await.status, 401, "{} {} with a forged token", #method, #path);
            }
        }).collect();
        let test = fn_name("requires_a_token", resource);
        if !unauthenticated.is_empty() {
            tests.push(quote! {
                #[tokio::test]
                async fn #test() {
                    let app = app().await;
                    #(#unauthenticated)*
                }
            });
        }

        // Public reads answer anonymous callers, whether or not the tests
        // can create a row: the list (possibly empty) and a missing row's 404
        // (not a 401).
        let public: Vec<TokenStream> = resource
            .operations
            .iter()
            .filter(|o| o.grants.public)
            .filter_map(|op| match op.kind {
                OperationKind::List => Some(quote! {
                    let list = app.call("GET", #collection, None, None).await;
                    assert_eq!(list.status, 200, "a public list without a token: {}", list.body);
                    assert!(list.body["items"].is_array(), "a public list is a page: {}", list.body);
                }),
                OperationKind::Get => Some(quote! {
                    let missing = app.call("GET", #item, None, None).await;
                    assert_eq!(missing.status, 404, "a public get of a missing row without a token: {}", missing.body);
                }),
                // Validation refuses public writes.
                _ => None,
            })
            .collect();
        if !public.is_empty() {
            let test = fn_name("serves_public_reads_anonymously", resource);
            tests.push(quote! {
                #[tokio::test]
                async fn #test() {
                    let app = app().await;
                    #(#public)*
                }
            });
        }

        // Mass assignment: everything the model does not accept on create,
        // each alone in a body the server reads.
        if let Some(actor) = creator(service, resource) {
            let forbidden: Vec<&str> = resource
                .columns
                .iter()
                .filter(|c| !c.on_create)
                .map(|c| c.name.as_str())
                .chain(["zz_unknown"])
                .filter(|field| {
                    let mut attempt = Map::new();
                    attempt.insert(field.to_string(), json!("injected"));
                    fits(service, &Value::Object(attempt))
                })
                .collect();
            if !forbidden.is_empty() {
                let token = actor.token();
                let test = fn_name("refuses_mass_assignment", resource);
                tests.push(quote! {
                    #[tokio::test]
                    async fn #test() {
                        let app = app().await;
                        let token = #token;
                        for field in [#(#forbidden),*] {
                            let mut attempt: Map<String, Value> = Map::new();
                            attempt.insert(field.to_string(), json!("injected"));
                            let reply = app.call("POST", #collection, Some(&token), Some(Value::Object(attempt))).await;
                            assert_eq!(reply.status, 422, "create with `{field}`: {}", reply.body);
                            let named = reply.body["errors"].as_array().into_iter().flatten().any(|e| e["field"] == field);
                            assert!(named, "the 422 names `{field}`: {}", reply.body);
                        }
                    }
                });
            }
        }

        let steps = match plan(service, resource) {
            Ok(steps) => steps,
            Err(why) => {
                let note = format!("`{name}`: no tests that need a row: {why}.");
                tests.push(quote! { const _: &str = #note; });
                continue;
            }
        };
        let actor = steps.last().expect("the row itself").actor.clone();
        let make = fn_name("make", resource);
        makers.push((tests.len(), make.clone(), maker(resource, &steps)));

        // Isolation: another owner sees a 404 identical to a missing row.
        if matches!(resource.scope, Scope::Owned { .. }) && actor == Actor::Alice {
            let mut checks = Vec::new();
            for (kind, method) in [
                (OperationKind::Get, "GET"),
                (OperationKind::Update, "PATCH"),
                (OperationKind::Delete, "DELETE"),
            ] {
                let Some(op) = resource.operation(kind) else {
                    continue;
                };
                if op.grants.public || !op.grants.owner {
                    continue;
                }
                let body = if kind != OperationKind::Update {
                    quote!(None)
                } else if empty_fits {
                    quote!(Some(json!({})))
                } else {
                    continue;
                };
                checks.push(quote! {
                    let theirs = app.call(#method, &item, Some(&bob), #body).await;
                    let missing = app.call(#method, #item, Some(&bob), #body).await;
                    assert_eq!(theirs.status, 404, "{} another owner's row", #method);
                    assert_eq!(theirs.raw, missing.raw, "{} another owner's row is indistinguishable from a missing one", #method);
                });
            }
            if resource
                .operation(OperationKind::List)
                .is_some_and(|o| o.grants.owner && !o.grants.public)
            {
                checks.push(quote! {
                    let list = app.call("GET", #collection, Some(&bob), None).await;
                    assert_eq!(list.status, 200);
                    assert!(list.body["items"].as_array().unwrap().iter().all(|r| r["id"] != row["id"]), "another owner's row is never listed");
                });
            }
            // Only when another owner is refused something.
            if !checks.is_empty()
                && resource
                    .operation(OperationKind::Get)
                    .is_some_and(|o| o.grants.owner)
            {
                checks.push(quote! {
                    let alice = app.token("alice", &[], "acme");
                    let mine = app.call("GET", &item, Some(&alice), None).await;
                    assert_eq!((mine.status, mine.body), (200, row.clone()), "the owner's row is unchanged");
                });
            }
            if !checks.is_empty() {
                let item_row = uses(&checks, "item").then(|| {
                    quote!(let item = format!("{}/{}", #collection, row["id"].as_str().unwrap());)
                });
                let test = fn_name("isolates_owners", resource);
                tests.push(quote! {
                    #[tokio::test]
                    async fn #test() {
                        let app = app().await;
                        let row = #make(&app).await;
                        #item_row
                        let bob = app.token("bob", &[], "globex");
                        #(#checks)*
                    }
                });
            }
        }

        // References (SPEC 3.5): a row may only name rows its own owner may
        // access; a caller of another tenant holding every role that reads
        // the targets across owners still gets 422.
        if actor == Actor::Alice && matches!(resource.scope, Scope::Owned { .. }) {
            let last = steps.last().expect("the row itself");
            let same_owner: Vec<&str> = last
                .refs
                .iter()
                .filter(|(field, _)| {
                    resource
                        .column(field)
                        .and_then(|c| c.link.as_ref())
                        .is_some_and(|l| l.targets == LinkTargets::SameOwner)
                })
                .map(|(field, _)| field.as_str())
                .collect();
            if !same_owner.is_empty() && fits(service, &Value::Object(last.body.clone())) {
                let mut roles: Vec<String> = Vec::new();
                if service.auth.roles_claim.is_some() {
                    for (field, _) in &last.refs {
                        let Some(ColumnType::Ref { resource: target }) =
                            resource.column(field).map(|c| &c.ty)
                        else {
                            continue;
                        };
                        let getters = service
                            .resource(target)
                            .and_then(|t| t.operation(OperationKind::Get))
                            .map(|o| o.grants.roles.clone())
                            .unwrap_or_default();
                        for r in getters {
                            if !roles.contains(&r) {
                                roles.push(r);
                            }
                        }
                    }
                }
                let vars: Vec<syn::Ident> =
                    (0..steps.len()).map(|i| format_ident!("row{i}")).collect();
                let earlier = steps[..steps.len() - 1]
                    .iter()
                    .enumerate()
                    .map(|(i, step)| {
                        let path = format!("/{}", step.resource.plural);
                        let token = step.actor.token();
                        let json = Value::Object(step.body.clone()).to_string();
                        let refs = step.refs.iter().map(|(field, j)| {
                            let var = &vars[*j];
                            quote!((#field, &#var))
                        });
                        let var = &vars[i];
                        quote!(let #var = app.create(#path, &#token, #json, &[#(#refs),*]).await;)
                    });
                let sets = last.refs.iter().map(|(field, j)| {
                    let var = &vars[*j];
                    quote!(body.insert(#field.to_string(), #var["id"].clone());)
                });
                let json = Value::Object(last.body.clone()).to_string();
                let test = fn_name("links_only_rows_of_the_owner", resource);
                tests.push(quote! {
                    #[tokio::test]
                    async fn #test() {
                        let app = app().await;
                        #(#earlier)*
                        let bob = app.token("bob", &[#(#roles),*], "globex");
                        let mut body: Map<String, Value> = serde_json::from_str(#json).unwrap();
                        #(#sets)*
                        let reply = app.call("POST", #collection, Some(&bob), Some(Value::Object(body))).await;
                        assert_eq!(reply.status, 422, "refs to another owner's rows: {}", reply.body);
                        #(
                            let named = reply.body["errors"].as_array().into_iter().flatten().any(|e| e["field"] == #same_owner);
                            assert!(named, "the 422 names `{}`: {}", #same_owner, reply.body);
                        )*
                    }
                });
            }
        }

        // A delete of a row that a same-owner ref still names is 409 naming
        // the referring resource (never a 5xx).
        for (field, j) in &steps.last().expect("the row itself").refs {
            let target = steps[*j].resource;
            let restricts = resource
                .column(field)
                .and_then(|c| c.link.as_ref())
                .is_some_and(|l| l.on_delete == OnDelete::Restrict);
            let Some(delete) = target.operation(OperationKind::Delete) else {
                continue;
            };
            let owner_deletes = steps[*j].actor == Actor::Alice
                && delete.grants.owner
                && target.scope != Scope::Unowned;
            if !restricts || !owner_deletes {
                continue;
            }
            let test = format_ident!("refuses_deleting_a_referenced_{}_{}", resource.name, field);
            let prefix = format!("/{}/", target.plural);
            let referrer = format!("{}.{}", resource.name, field);
            tests.push(quote! {
                #[tokio::test]
                async fn #test() {
                    let app = app().await;
                    let row = #make(&app).await;
                    let alice = app.token("alice", &[], "acme");
                    let target = format!("{}{}", #prefix, row[#field].as_str().unwrap());
                    let reply = app.call("DELETE", &target, Some(&alice), None).await;
                    assert_eq!(reply.status, 409, "delete a referenced row: {}", reply.body);
                    assert_eq!(reply.body["errors"][0]["field"], #referrer, "the 409 names the referrer: {}", reply.body);
                }
            });
        }

        // Grants: every declared role (when a token can carry one) and
        // anonymous callers, on the row.
        let mut checks = Vec::new();
        let mut callers: Vec<(Option<String>, TokenStream)> = Vec::new();
        if service.auth.roles_claim.is_some() {
            callers.extend(service.roles.iter().map(|r| {
                let token = role_token(r);
                (Some(r.clone()), quote!(Some(#token)))
            }));
        }
        callers.push((None, quote!(None::<String>)));
        for (role, token) in &callers {
            for kind in [
                OperationKind::List,
                OperationKind::Get,
                OperationKind::Update,
            ] {
                let Some(op) = resource.operation(kind) else {
                    continue;
                };
                if kind == OperationKind::Update && !empty_fits {
                    continue;
                }
                let is_creator = role
                    .as_ref()
                    .is_some_and(|r| actor == Actor::Role(r.clone()));
                let reaches_all =
                    op.grants.public || role.as_ref().is_some_and(|r| op.grants.roles.contains(r));
                let own = op.grants.owner && resource.scope != Scope::Unowned && role.is_some();
                let expected: u16 = if reaches_all {
                    200
                } else if role.is_none() {
                    401
                } else if own {
                    if is_creator || kind == OperationKind::List {
                        200
                    } else {
                        404
                    }
                } else {
                    403
                };
                let (method, path, body) = match kind {
                    OperationKind::List => ("GET", quote!(#collection), quote!(None)),
                    OperationKind::Get => ("GET", quote!(&item), quote!(None)),
                    _ => ("PATCH", quote!(&item), quote!(Some(json!({})))),
                };
                // An update answers with the row only to those who may get it.
                let expected: u16 = if kind == OperationKind::Update
                    && expected == 200
                    && !op
                        .replies_with_row
                        .as_ref()
                        .is_some_and(|g| reaches(g, role.as_ref(), is_creator))
                {
                    204
                } else {
                    expected
                };
                let who = role.clone().unwrap_or_else(|| "anonymous".into());
                let listed = (kind == OperationKind::List && expected == 200).then(|| {
                    let listed = quote!(reply.body["items"].as_array().unwrap().iter().any(|r| r["id"] == row["id"]));
                    if reaches_all || is_creator {
                        quote!(assert!(#listed, "{} list as {} shows the row", #name, #who);)
                    } else {
                        quote!(assert!(!#listed, "{} list as {} hides another owner's row", #name, #who);)
                    }
                });
                // The owner column: only for its readers (`owner.read`).
                let owner_shown = resource.scope.owner_column().and_then(|owner| {
                    let sees = reaches(&resource.owner_read, role.as_ref(), is_creator);
                    let what = if sees { "shows" } else { "hides" };
                    let test = if sees {
                        quote!(is_some)
                    } else {
                        quote!(is_none)
                    };
                    match (kind, expected) {
                        (OperationKind::Get, 200) => Some(quote! {
                            assert!(reply.body.get(#owner).#test(), "{} get as {} {} the owner column: {}", #name, #who, #what, reply.body);
                        }),
                        (OperationKind::List, 200) if reaches_all || is_creator => Some(quote! {
                            let shown = reply.body["items"].as_array().unwrap().iter().filter(|r| r["id"] == row["id"]).all(|r| r.get(#owner).#test());
                            assert!(shown, "{} list as {} {} the owner column: {}", #name, #who, #what, reply.body);
                        }),
                        _ => None,
                    }
                });
                let empty = (expected == 204).then(|| {
                    quote!(assert!(reply.raw.is_empty(), "{} {} as {} answers no row", #method, #name, #who);)
                });
                checks.push(quote! {
                    let token: Option<String> = #token;
                    let reply = app.call(#method, #path, token.as_deref(), #body).await;
                    assert_eq!(reply.status, #expected, "{} {} as {}: {}", #method, #name, #who, reply.body);
                    #listed
                    #owner_shown
                    #empty
                });
            }
        }
        if !checks.is_empty() {
            let item = uses(&checks, "item");
            let row = (item || uses(&checks, "row")).then(|| quote!(let row = #make(&app).await;));
            let item = item.then(
                || quote!(let item = format!("{}/{}", #collection, row["id"].as_str().unwrap());),
            );
            let test = fn_name("grants_exactly_as_declared", resource);
            tests.push(quote! {
                #[tokio::test]
                async fn #test() {
                    let app = app().await;
                    #row
                    #item
                    #(#checks)*
                }
            });
        }
    }

    // Only what the tests use: a maker, an import, the app.
    let mut all: Vec<TokenStream> = Vec::new();
    let mut makers = makers.into_iter().peekable();
    let tests_name = named(&tests);
    for (i, test) in tests.iter().enumerate() {
        while let Some((_, name, tokens)) = makers.next_if(|(at, _, _)| *at == i) {
            if tests_name.contains(&name.to_string()) {
                all.push(tokens);
            }
        }
        all.push(test.clone());
    }
    let all_name = named(&all);
    let imports: Vec<syn::Ident> = ["json", "Map", "Value"]
        .into_iter()
        .filter(|name| all_name.contains(*name))
        .map(|name| format_ident!("{name}"))
        .collect();
    let serde = (!imports.is_empty()).then(|| quote!(use serde_json::{#(#imports),*};));
    let app = all_name.contains("app").then(|| {
        let modules = super::ident::modules(service.resources.iter().map(|r| r.name.as_str()));
        quote! {
            use palisade_runtime::testkit::TestApp;

            /// The generated code as the spec makes it, without the team's
            /// hooks (which may refuse what these tests send).
            struct NoHooks;

            #(impl #krate::#modules::Hooks for NoHooks {})*

            async fn app() -> TestApp {
                TestApp::new(#krate::service::<NoHooks>()).await
            }
        }
    });
    quote! {
        //! Proof of the security contract for this service's own resources,
        //! against its own router: tokens required, owners isolated, bodies
        //! without mass assignment, grants exactly as the spec declares.
        //! Regenerated from the spec; run with `cargo test`.

        #serde

        #app

        #(#all)*
    }
}
