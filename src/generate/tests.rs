//! The generated project's own `api/tests/security.rs`: proof of owner
//! isolation, authentication, mass-assignment refusal and grants for the
//! project's own resources, against its own router, runnable with
//! `cargo test` in the project, so a team that adds hooks keeps the proof
//! running in its own CI.
//!
//! Stage: generate. Input: the model. Output: one table per resource
//! (`palisade_runtime::testkit::security::Resource`: the requests to
//! send and the status each caller must get) in one `static SUITE`, and
//! one `#[tokio::test]` per kind of check that some resource has, each a
//! call of the runtime's procedure for that kind over every table. Every
//! expectation is read from the model's grants, scope and input columns;
//! example values come from [`super::example`]; the runtime's procedures
//! decide nothing. A case that cannot be expressed for a spec is left out
//! of its table (nothing is sent), never replaced by a test that cannot
//! fail, and a kind that no resource has gets no test:
//!
//! - a resource whose rows cannot be created in a test (no create grant
//!   the tests can act on, a required field no example satisfies, a
//!   required reference to such a resource, a cycle of required
//!   references, a body larger than `limits.max_body`) gets only the cases
//!   that need no row, and its table says why (`Make::Cannot`);
//! - role callers exist only when the spec has a `roles_claim` (else no
//!   token can carry a role);
//! - a request whose body would exceed `limits.max_body` is not sent.
//!
//! Each case runs on a fresh app and creates at most one row of each
//! resource (its required references are created first, once each), so
//! `unique` fields never collide. Each role user of the tests is in a tenant of its own, like
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
    /// The actor as a caller of the tables (`Caller::*`).
    fn caller(&self) -> TokenStream {
        match self {
            Actor::Alice => quote!(Alice),
            Actor::Role(r) => quote!(Role(#r)),
        }
    }
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

/// Every identifier that `tokens` name.
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

/// The checks, in the order of the tests: each is a test that runs every
/// resource's cases of that kind (`palisade_runtime::testkit::security`).
const KINDS: [&str; 7] = [
    "requires_a_token",
    "serves_public_reads_anonymously",
    "refuses_mass_assignment",
    "isolates_owners",
    "links_only_rows_of_the_owner",
    "refuses_deleting_a_referenced_row",
    "grants_exactly_as_declared",
];

/// An operation of the tables (`Op::*`).
fn op(kind: OperationKind) -> TokenStream {
    match kind {
        OperationKind::List => quote!(List),
        OperationKind::Get => quote!(Get),
        OperationKind::Create => quote!(Create),
        OperationKind::Update => quote!(Update),
        OperationKind::Delete => quote!(Delete),
    }
}

/// The test caller holding `role` (`None`: anonymous).
fn role_caller(role: Option<&String>) -> TokenStream {
    match role {
        Some(r) => quote!(Role(#r)),
        None => quote!(Anonymous),
    }
}

/// `Expect(caller, op, status, &[see, ...])`.
fn expect(caller: TokenStream, kind: OperationKind, status: u16, sees: &[&str]) -> TokenStream {
    let op = op(kind);
    let status = proc_macro2::Literal::u16_unsuffixed(status);
    let sees = sees.iter().map(|s| format_ident!("{s}"));
    quote!(Expect(#caller, #op, #status, &[#(#sees),*]))
}

/// `text` as a raw string literal (a JSON body reads as JSON).
fn raw_str(text: &str) -> TokenStream {
    let mut hashes = String::new();
    while text.contains(&format!("\"{hashes}")) {
        hashes.push('#');
    }
    format!("r{hashes}\"{text}\"{hashes}")
        .parse()
        .expect("a raw string literal")
}

/// The `Make` of a resource: the body and required references of its
/// row (the last step), or why the tests cannot create one.
fn make(planned: &Result<Vec<Step<'_>>, String>) -> TokenStream {
    match planned {
        Ok(steps) => {
            let last = steps.last().expect("the row itself");
            let body = raw_str(&Value::Object(last.body.clone()).to_string());
            let refs = last.refs.iter().map(|(field, i)| {
                let target = &steps[*i].resource.name;
                quote!((#field, #target))
            });
            quote!(Make::Row(#body, &[#(#refs),*]))
        }
        Err(why) => quote!(Make::Cannot(#why)),
    }
}

/// The table of `resource` (a `Resource { .. }` of the runtime's
/// testkit), and which of [`KINDS`] it has cases of.
fn table(service: &Service, resource: &Resource, empty_fits: bool) -> (TokenStream, [bool; 7]) {
    let name = &resource.name;
    let collection = format!("/{}", resource.plural);
    let owner = match resource.scope.owner_column() {
        Some(owner) => quote!(Some(#owner)),
        None => quote!(None),
    };

    // Every route refuses a missing or forged token, unless public.
    let token_required: Vec<TokenStream> = resource
        .operations
        .iter()
        .filter(|o| !o.grants.public)
        .map(|o| op(o.kind))
        .collect();

    // Public reads answer anonymous callers, whether or not the tests can
    // create a row (validation refuses public writes).
    let public_reads: Vec<TokenStream> = resource
        .operations
        .iter()
        .filter(|o| o.grants.public && matches!(o.kind, OperationKind::List | OperationKind::Get))
        .map(|o| op(o.kind))
        .collect();

    // Mass assignment: everything the model does not accept on create,
    // each alone in a body the server reads.
    let creator = creator(service, resource);
    let forbidden: Vec<&str> = match creator {
        None => Vec::new(),
        Some(_) => resource
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
            .collect(),
    };
    let creator = option(creator.map(|a| a.caller()));

    let planned = plan(service, resource);
    let row = row_cases(service, resource, empty_fits, planned.as_deref().ok());
    let kinds = [
        !token_required.is_empty(),
        !public_reads.is_empty(),
        !forbidden.is_empty(),
        !row.isolation.is_empty(),
        row.links.is_some(),
        !row.restricts.is_empty(),
        !row.grants.is_empty(),
    ];
    let make = make(&planned);
    let RowCases {
        isolation,
        links,
        restricts,
        grants,
    } = row;
    let links = option(links);
    let tokens = quote! {
        Resource {
            name: #name,
            path: #collection,
            owner: #owner,
            token_required: &[#(#token_required),*],
            public_reads: &[#(#public_reads),*],
            creator: #creator,
            forbidden: &[#(#forbidden),*],
            make: #make,
            isolation: &[#(#isolation),*],
            links: #links,
            restricts: &[#(#restricts),*],
            grants: &[#(#grants),*],
        }
    };
    (tokens, kinds)
}

/// `Some(tokens)` or `None`.
fn option(tokens: Option<TokenStream>) -> TokenStream {
    match tokens {
        Some(t) => quote!(Some(#t)),
        None => quote!(None),
    }
}

/// The cases of a resource that need a row (none if the tests cannot
/// create one).
#[derive(Default)]
struct RowCases {
    isolation: Vec<TokenStream>,
    links: Option<TokenStream>,
    restricts: Vec<TokenStream>,
    grants: Vec<TokenStream>,
}

fn row_cases(
    service: &Service,
    resource: &Resource,
    empty_fits: bool,
    steps: Option<&[Step<'_>]>,
) -> RowCases {
    let Some(steps) = steps else {
        return RowCases::default();
    };
    let last = steps.last().expect("the row itself");
    let actor = last.actor.clone();
    RowCases {
        isolation: isolation(resource, &actor, empty_fits),
        links: same_owner_links(service, resource, &actor, last),
        restricts: restricts(resource, steps),
        grants: grants(service, resource, &actor, empty_fits),
    }
}

/// Isolation: another owner sees a 404 identical to a missing row's, and
/// never the row in a list; the owner then gets it unchanged.
fn isolation(resource: &Resource, actor: &Actor, empty_fits: bool) -> Vec<TokenStream> {
    let mut cases = Vec::new();
    if !matches!(resource.scope, Scope::Owned { .. }) || *actor != Actor::Alice {
        return cases;
    }
    for kind in [
        OperationKind::Get,
        OperationKind::Update,
        OperationKind::Delete,
    ] {
        let Some(op) = resource.operation(kind) else {
            continue;
        };
        if op.grants.public || !op.grants.owner {
            continue;
        }
        if kind == OperationKind::Update && !empty_fits {
            continue;
        }
        cases.push(expect(quote!(Bob), kind, 404, &["AsMissing"]));
    }
    if resource
        .operation(OperationKind::List)
        .is_some_and(|o| o.grants.owner && !o.grants.public)
    {
        cases.push(expect(quote!(Bob), OperationKind::List, 200, &["Unlisted"]));
    }
    // Only when another owner is refused something.
    if !cases.is_empty()
        && resource
            .operation(OperationKind::Get)
            .is_some_and(|o| o.grants.owner)
    {
        cases.push(expect(
            quote!(Alice),
            OperationKind::Get,
            200,
            &["Unchanged"],
        ));
    }
    cases
}

/// References (SPEC 3.5): a row may only name rows its own owner may
/// access; a caller of another tenant holding every role that reads the
/// targets across owners still gets 422.
fn same_owner_links(
    service: &Service,
    resource: &Resource,
    actor: &Actor,
    last: &Step<'_>,
) -> Option<TokenStream> {
    if *actor != Actor::Alice || !matches!(resource.scope, Scope::Owned { .. }) {
        return None;
    }
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
    if same_owner.is_empty() || !fits(service, &Value::Object(last.body.clone())) {
        return None;
    }
    let mut roles: Vec<String> = Vec::new();
    if service.auth.roles_claim.is_some() {
        for (field, _) in &last.refs {
            let Some(ColumnType::Ref { resource: target }) = resource.column(field).map(|c| &c.ty)
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
    Some(quote!(Links {
        bob_roles: &[#(#roles),*],
        fields: &[#(#same_owner),*],
    }))
}

/// A delete of a row that a same-owner ref still names is 409 naming the
/// referring resource (never a 5xx).
fn restricts(resource: &Resource, steps: &[Step<'_>]) -> Vec<TokenStream> {
    let mut cases = Vec::new();
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
        if restricts && owner_deletes {
            let path = format!("/{}", target.plural);
            cases.push(quote!((#field, #path)));
        }
    }
    cases
}

/// Grants: every declared role (when a token can carry one) and anonymous
/// callers, on the row.
fn grants(
    service: &Service,
    resource: &Resource,
    actor: &Actor,
    empty_fits: bool,
) -> Vec<TokenStream> {
    let mut cases = Vec::new();
    let mut callers: Vec<Option<&String>> = Vec::new();
    if service.auth.roles_claim.is_some() {
        callers.extend(service.roles.iter().map(Some));
    }
    callers.push(None);
    for role in callers {
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
            let is_creator = role.is_some_and(|r| *actor == Actor::Role(r.clone()));
            let reaches_all = op.grants.public || role.is_some_and(|r| op.grants.roles.contains(r));
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
            // An update answers with the row only to those who may get it.
            let expected: u16 = if kind == OperationKind::Update
                && expected == 200
                && !op
                    .replies_with_row
                    .as_ref()
                    .is_some_and(|g| reaches(g, role, is_creator))
            {
                204
            } else {
                expected
            };
            let mut sees = Vec::new();
            if kind == OperationKind::List && expected == 200 {
                sees.push(if reaches_all || is_creator {
                    "Listed"
                } else {
                    "Unlisted"
                });
            }
            // The owner column: only for its readers (`owner.read`).
            if resource.scope.owner_column().is_some() {
                let shown = if reaches(&resource.owner_read, role, is_creator) {
                    "OwnerShown"
                } else {
                    "OwnerHidden"
                };
                match (kind, expected) {
                    (OperationKind::Get, 200) => sees.push(shown),
                    (OperationKind::List, 200) if reaches_all || is_creator => sees.push(shown),
                    _ => {}
                }
            }
            if expected == 204 {
                sees.push("NoRow");
            }
            cases.push(expect(role_caller(role), kind, expected, &sees));
        }
    }
    cases
}

/// The `api/tests/security.rs` file of the project; `service.name` is the
/// generated API crate's name, `modules` each resource's module
/// (`ident::modules`).
pub fn security_tests(service: &Service, modules: &[String]) -> TokenStream {
    let krate = format_ident!("{}", service.name.replace('-', "_"));
    // `{}` bodies, for requests that must fail before the body is read.
    let empty_fits = fits(service, &json!({}));
    let mut tables = Vec::new();
    let mut kinds = [false; 7];
    for resource in &service.resources {
        let (tokens, has) = table(service, resource, empty_fits);
        tables.push(tokens);
        for (any, has) in kinds.iter_mut().zip(has) {
            *any |= has;
        }
    }
    let tests: Vec<TokenStream> = KINDS
        .iter()
        .zip(kinds)
        .filter(|(_, any)| *any)
        .map(|(kind, _)| {
            let test = format_ident!("{kind}");
            quote! {
                #[tokio::test]
                async fn #test() {
                    SUITE.#test().await;
                }
            }
        })
        .collect();
    let header = quote! {
        //! Proof of the security contract for this service's own resources,
        //! against its own router: tokens required, owners isolated, bodies
        //! without mass assignment, grants exactly as the spec declares.
        //! Regenerated from the spec; run with `cargo test`.
        //!
        //! `SUITE` holds one table per resource: what each test sends and
        //! the status each caller must get. The procedures that read them
        //! are `palisade_runtime::testkit::security`'s; a failing test
        //! names each resource, operation and caller that failed.
    };
    if tests.is_empty() {
        return header;
    }
    let tables = quote!(#(#tables),*);
    let name = named(std::slice::from_ref(&tables));
    let mut imports: Vec<TokenStream> = Vec::new();
    for (glob, variants) in [
        ("Caller", &["Alice", "Bob", "Anonymous", "Role"][..]),
        ("Op", &["List", "Get", "Create", "Update", "Delete"][..]),
        (
            "See",
            &[
                "Listed",
                "Unlisted",
                "OwnerShown",
                "OwnerHidden",
                "NoRow",
                "AsMissing",
                "Unchanged",
            ][..],
        ),
    ] {
        if variants.iter().any(|v| name.contains(*v)) {
            let glob = format_ident!("{glob}");
            imports.push(quote!(#glob::*));
        }
    }
    for ty in ["Expect", "Links", "Make", "Resource", "Suite"] {
        if ty == "Suite" || name.contains(ty) {
            let ty = format_ident!("{ty}");
            imports.push(quote!(#ty));
        }
    }
    let modules = modules.iter().map(|m| super::ident::module(m));
    quote! {
        #header

        use palisade_runtime::testkit::security::{#(#imports),*};

        /// The generated code as the spec makes it, without the team's
        /// hooks (which may refuse what these tests send).
        struct NoHooks;

        #(impl #krate::#modules::Hooks for NoHooks {})*

        /// Every resource's table, in the spec's order.
        static SUITE: Suite = Suite {
            service: #krate::service::<NoHooks>,
            empty_body_fits: #empty_fits,
            resources: &[#tables],
        };

        #(#tests)*
    }
}
