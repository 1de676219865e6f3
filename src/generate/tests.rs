//! The generated project's own `api/tests/security.rs`: proof of owner
//! isolation, authentication, mass-assignment refusal, grants and field
//! rules for the project's own resources, against its own router, runnable with
//! `cargo test` in the project, so a team that adds hooks keeps the proof
//! running in its own CI.
//!
//! Stage: generate. Input: the model. Output: one table per resource
//! (`palisade_runtime::testkit::security::Resource`: the requests to
//! send and the status each caller must get) in one `static SUITE`, and
//! one `#[tokio::test]` per kind of check that some resource has, each a
//! call of the runtime's procedure for that kind over every table. Every
//! expectation is read from the model's grants, scope, input columns and
//! views (what each kind of caller reads and writes; a sample body sets
//! only what its sender may write); example values come from
//! [`super::example`]; the runtime's procedures
//! decide nothing. A case that cannot be expressed for a spec is left out
//! of its table (nothing is sent), never replaced by a test that cannot
//! fail, and a kind that no resource has gets no test:
//!
//! - a resource whose rows cannot be created in a test (no create grant
//!   the tests can act on, a required field no example satisfies or the
//!   creator may not write, a
//!   required reference to such a resource, a cycle of required
//!   references, a body larger than `limits.max_body`) gets only the cases
//!   that need no row, and its table says why (`Make::Cannot`);
//! - role callers exist only when the spec has a `roles_claim` (else no
//!   token can carry a role);
//! - a request whose body would exceed `limits.max_body` is not sent;
//! - field cases are checked only with callers who are exactly the kind
//!   of caller a view is for (the owner is `alice` on rows she creates; a
//!   role's user who created the test's row owns it too), and never on
//!   references (see [`field_cases`]).
//!
//! Each case runs on a fresh app and creates at most one row of each
//! resource (its required references are created first, once each), so
//! `unique` fields never collide. Each role user of the tests is in a tenant of its own, like
//! `alice` and `bob`, so only a row's creator shares its owner.
//!
//! The file is written as text in prettyplease's layout by
//! `rust::Writer`; a table with a line too long for that layout is
//! printed by prettyplease in its place.

use serde_json::{Map, Value, json};

use super::example;
use super::rust::{Writer, lit};
use crate::model::{
    Column, ColumnOrigin, ColumnType, Grantee, Grants, LinkTargets, OnDelete, OperationKind,
    Resource, Scope, Service, View,
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
    fn caller(&self) -> String {
        match self {
            Actor::Alice => "Alice".into(),
            Actor::Role(r) => format!("Role({})", lit(r)),
        }
    }

    /// The kind of caller the actor is to a create.
    fn grantee(&self) -> Grantee {
        match self {
            Actor::Alice => Grantee::Owner,
            Actor::Role(r) => Grantee::Role(r.clone()),
        }
    }
}

/// What `who` reads and writes in `kind` of `resource` (the model's
/// view), if it is granted the operation.
fn view<'r>(resource: &'r Resource, kind: OperationKind, who: &Grantee) -> Option<&'r View> {
    resource
        .operation(kind)?
        .views
        .iter()
        .find(|v| v.grantee == *who)
}

/// Whether `who` may set `column` in the body of `kind`.
fn may_write(resource: &Resource, kind: OperationKind, who: &Grantee, column: &Column) -> bool {
    view(resource, kind, who).is_some_and(|v| v.writes.contains(&column.name))
}

/// Who may create rows of `resource`, preferring the owner, then the
/// roles in order (only when a token can carry them), and among them one
/// who may set every required field.
fn creator(service: &Service, resource: &Resource) -> Option<Actor> {
    let op = resource.operation(OperationKind::Create)?;
    let mut actors = Vec::new();
    if op.grants.owner && resource.scope != Scope::Unowned {
        actors.push(Actor::Alice);
    }
    if service.auth.roles_claim.is_some() {
        actors.extend(op.grants.roles.iter().map(|r| Actor::Role(r.clone())));
    }
    let sets_required = |actor: &&Actor| {
        resource
            .columns
            .iter()
            .filter(|c| c.on_create && c.required)
            .all(|c| may_write(resource, OperationKind::Create, &actor.grantee(), c))
    };
    actors
        .iter()
        .find(sets_required)
        .or(actors.first())
        .cloned()
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
        // Only what the creator may set (its field rules).
        if !may_write(resource, OperationKind::Create, &actor.grantee(), column) {
            if column.required {
                return Err(
                    format!("the creator may not set the required `{}`", column.name).into(),
                );
            }
            continue;
        }
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
const KINDS: [&str; 10] = [
    "requires_a_token",
    "serves_public_reads_anonymously",
    "refuses_mass_assignment",
    "isolates_owners",
    "links_only_rows_of_the_owner",
    "refuses_deleting_a_referenced_row",
    "grants_exactly_as_declared",
    "shows_each_caller_its_fields",
    "refuses_fields_the_caller_may_not_write",
    "filters_and_sorts_only_on_readable_fields",
];

/// An operation of the tables (`Op::*`).
fn op(kind: OperationKind) -> &'static str {
    match kind {
        OperationKind::List => "List",
        OperationKind::Get => "Get",
        OperationKind::Create => "Create",
        OperationKind::Update => "Update",
        OperationKind::Delete => "Delete",
    }
}

/// The test caller holding `role` (`None`: anonymous).
fn role_caller(role: Option<&String>) -> String {
    match role {
        Some(r) => format!("Role({})", lit(r)),
        None => "Anonymous".into(),
    }
}

/// `Expect(caller, op, status, &[see, ...])`.
fn expect(caller: &str, kind: OperationKind, status: u16, sees: &[&str]) -> Case {
    Case {
        text: format!(
            "Expect({caller}, {}, {status}, &[{}])",
            op(kind),
            sees.join(", ")
        ),
        sees: !sees.is_empty(),
    }
}

/// An `Expect` of a table, and whether it names a `See`.
struct Case {
    text: String,
    sees: bool,
}

/// `text` as a raw string literal (a JSON body reads as JSON).
fn raw_str(text: &str) -> String {
    let mut hashes = String::new();
    while text.contains(&format!("\"{hashes}")) {
        hashes.push('#');
    }
    format!("r{hashes}\"{text}\"{hashes}")
}

/// The `make` field of a resource's table: the body and required
/// references of its row (the last step), or why the tests cannot create
/// one.
fn make(w: &mut Writer, planned: &Result<Vec<Step<'_>>, String>) {
    match planned {
        Ok(steps) => {
            let last = steps.last().expect("the row itself");
            let body = raw_str(&Value::Object(last.body.clone()).to_string());
            let refs: Vec<String> = last
                .refs
                .iter()
                .map(|(field, i)| format!("({}, {})", lit(field), lit(&steps[*i].resource.name)))
                .collect();
            let refs = format!("&[{}]", refs.join(", "));
            w.flat_or(format_args!("make: Make::Row({body}, {refs}),"), |w| {
                w.open(format_args!("make: Make::Row("));
                w.line(format_args!("{body},"));
                w.code(format_args!("{refs},"));
                w.close(format_args!("),"));
            });
        }
        Err(why) => {
            let why = lit(why);
            w.flat_or(format_args!("make: Make::Cannot({why}),"), |w| {
                w.open(format_args!("make: Make::Cannot("));
                w.line(format_args!("{why},"));
                w.close(format_args!("),"));
            });
        }
    }
}

/// A field holding a slice: `name: &[a, b],` on one line if it fits, else
/// one element a line.
fn slice(w: &mut Writer, name: &str, items: &[String]) {
    array(w, &format!("{name}: "), items, false);
}

/// [`slice`] for the last field of a struct literal (its comma does not
/// count for the fit).
fn last_slice(w: &mut Writer, name: &str, items: &[String]) {
    array(w, &format!("{name}: "), items, true);
}

/// `{lead}&[a, b],` on one line if it fits, else one element a line;
/// `last`: the last field or argument, whose comma does not count.
fn array(w: &mut Writer, lead: &str, items: &[String], last: bool) {
    if items.is_empty() {
        w.line(format_args!("{lead}&[],"));
        return;
    }
    let broken = |w: &mut Writer| {
        w.open(format_args!("{lead}&["));
        for item in items {
            w.code(format_args!("{item},"));
        }
        w.close(format_args!("],"));
    };
    let flat = format!("{lead}&[{}],", items.join(", "));
    if last {
        w.flat_or_last(format_args!("{flat}"), broken);
    } else {
        w.flat_or(format_args!("{flat}"), broken);
    }
}

/// An argument of a call in a table.
enum Arg {
    Text(String),
    /// `&[a, b]`.
    Slice(Vec<String>),
}

impl Arg {
    fn flat(&self) -> String {
        match self {
            Arg::Text(text) => text.clone(),
            Arg::Slice(items) => format!("&[{}]", items.join(", ")),
        }
    }
}

/// `{name}(arg, ..)`, flat.
fn call_flat(name: &str, args: &[Arg]) -> String {
    let args: Vec<String> = args.iter().map(Arg::flat).collect();
    format!("{name}({})", args.join(", "))
}

/// An element `{name}(arg, ..),` of a broken slice: on one line if it
/// fits, else one argument a line, each slice laid out by [`array`];
/// `last`: the slice's last element (its comma does not count).
fn call(w: &mut Writer, name: &str, args: &[Arg], last: bool) {
    let flat = format!("{},", call_flat(name, args));
    let broken = |w: &mut Writer| {
        w.open(format_args!("{name}("));
        for (i, arg) in args.iter().enumerate() {
            match arg {
                Arg::Text(text) => w.code(format_args!("{text},")),
                Arg::Slice(items) => array(w, "", items, i + 1 == args.len()),
            }
        }
        w.close(format_args!("),"));
    };
    if last {
        w.flat_or_last(format_args!("{flat}"), broken);
    } else {
        w.flat_or(format_args!("{flat}"), broken);
    }
}

/// A field holding a slice of calls of `name`: on one line if it fits,
/// else one call a line (see [`call`]); `last`: the struct's last field.
fn calls(w: &mut Writer, field: &str, name: &str, calls: &[Vec<Arg>], last: bool) {
    if calls.is_empty() {
        w.line(format_args!("{field}: &[],"));
        return;
    }
    let flats: Vec<String> = calls.iter().map(|args| call_flat(name, args)).collect();
    let flat = format!("{field}: &[{}],", flats.join(", "));
    let broken = |w: &mut Writer| {
        w.open(format_args!("{field}: &["));
        for (i, args) in calls.iter().enumerate() {
            call(w, name, args, i + 1 == calls.len());
        }
        w.close(format_args!("],"));
    };
    if last {
        w.flat_or_last(format_args!("{flat}"), broken);
    } else {
        w.flat_or(format_args!("{flat}"), broken);
    }
}

/// What the tables name, for the imports.
#[derive(Default, Clone, Copy)]
struct Names {
    caller: bool,
    op: bool,
    see: bool,
    expect: bool,
    links: bool,
    fields: bool,
    hides: bool,
    writes: bool,
    keys: bool,
}

impl Names {
    fn add(&mut self, other: Names) {
        self.caller |= other.caller;
        self.op |= other.op;
        self.see |= other.see;
        self.expect |= other.expect;
        self.links |= other.links;
        self.fields |= other.fields;
        self.hides |= other.hides;
        self.writes |= other.writes;
        self.keys |= other.keys;
    }
}

/// The table of `resource` (a `Resource { .. }` of the runtime's
/// testkit) written into `w`, which of [`KINDS`] it has cases of, and
/// what it names.
fn table(
    w: &mut Writer,
    service: &Service,
    resource: &Resource,
    empty_fits: bool,
) -> ([bool; KINDS.len()], Names) {
    // Every route refuses a missing or forged token, unless public.
    let token_required: Vec<String> = resource
        .operations
        .iter()
        .filter(|o| !o.grants.public)
        .map(|o| op(o.kind).to_string())
        .collect();

    // Public reads answer anonymous callers, whether or not the tests can
    // create a row (validation refuses public writes).
    let public_reads: Vec<String> = resource
        .operations
        .iter()
        .filter(|o| o.grants.public && matches!(o.kind, OperationKind::List | OperationKind::Get))
        .map(|o| op(o.kind).to_string())
        .collect();

    // Mass assignment: everything the model does not accept on create,
    // each alone in a body the server reads.
    let creator = creator(service, resource);
    let forbidden: Vec<String> = match creator {
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
            .map(lit)
            .collect(),
    };

    let planned = plan(service, resource);
    let row = row_cases(service, resource, empty_fits, planned.as_deref().ok());
    let fields = field_cases(
        service,
        resource,
        creator.as_ref(),
        planned.as_deref().ok(),
        empty_fits,
    );
    let field_kinds = |f: fn(&FieldCases) -> bool| fields.as_ref().is_some_and(f);
    let kinds = [
        !token_required.is_empty(),
        !public_reads.is_empty(),
        !forbidden.is_empty(),
        !row.isolation.is_empty(),
        row.links.is_some(),
        !row.restricts.is_empty(),
        !row.grants.is_empty(),
        field_kinds(|f| !f.hides.is_empty()),
        field_kinds(|f| !f.writes.is_empty()),
        field_kinds(|f| !f.keys.is_empty()),
    ];
    let cases = row.isolation.iter().chain(&row.grants);
    let names = Names {
        caller: creator.is_some()
            || !row.isolation.is_empty()
            || !row.grants.is_empty()
            || fields.is_some(),
        op: !token_required.is_empty()
            || !public_reads.is_empty()
            || !row.isolation.is_empty()
            || !row.grants.is_empty()
            || kinds[7]
            || kinds[8],
        see: cases.clone().any(|c| c.sees),
        expect: cases.clone().next().is_some(),
        links: row.links.is_some(),
        fields: fields.is_some(),
        hides: kinds[7],
        writes: kinds[8],
        keys: kinds[9],
    };
    let texts = |cases: &[Case]| -> Vec<String> { cases.iter().map(|c| c.text.clone()).collect() };

    w.open(format_args!("Resource {{"));
    w.line(format_args!("name: {},", lit(&resource.name)));
    w.line(format_args!(
        "path: {},",
        lit(&format!("/{}", resource.plural))
    ));
    match resource.scope.owner_column() {
        Some(owner) => w.code(format_args!("owner: Some({}),", lit(owner))),
        None => w.code(format_args!("owner: None,")),
    }
    slice(w, "token_required", &token_required);
    slice(w, "public_reads", &public_reads);
    match creator {
        Some(actor) => w.code(format_args!("creator: Some({}),", actor.caller())),
        None => w.code(format_args!("creator: None,")),
    }
    slice(w, "forbidden", &forbidden);
    make(w, &planned);
    slice(w, "isolation", &texts(&row.isolation));
    match &row.links {
        Some(links) => {
            w.open(format_args!("links: Some(Links {{"));
            slice(w, "bob_roles", &links.bob_roles);
            last_slice(w, "fields", &links.fields);
            w.close(format_args!("}}),"));
        }
        None => w.code(format_args!("links: None,")),
    }
    slice(w, "restricts", &row.restricts);
    slice(w, "grants", &texts(&row.grants));
    match &fields {
        Some(fields) => write_fields(w, fields),
        None => w.code(format_args!("fields: None,")),
    }
    w.close(format_args!("}},"));
    (kinds, names)
}

/// The cases of a resource that need a row (none if the tests cannot
/// create one).
#[derive(Default)]
struct RowCases {
    isolation: Vec<Case>,
    links: Option<Links>,
    restricts: Vec<String>,
    grants: Vec<Case>,
}

/// The `Links` of a table: the roles of the other tenant's caller and the
/// same-owner reference fields (string literals).
struct Links {
    bob_roles: Vec<String>,
    fields: Vec<String>,
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
fn isolation(resource: &Resource, actor: &Actor, empty_fits: bool) -> Vec<Case> {
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
        cases.push(expect("Bob", kind, 404, &["AsMissing"]));
    }
    if resource
        .operation(OperationKind::List)
        .is_some_and(|o| o.grants.owner && !o.grants.public)
    {
        cases.push(expect("Bob", OperationKind::List, 200, &["Unlisted"]));
    }
    // Only when another owner is refused something.
    if !cases.is_empty()
        && resource
            .operation(OperationKind::Get)
            .is_some_and(|o| o.grants.owner)
    {
        cases.push(expect("Alice", OperationKind::Get, 200, &["Unchanged"]));
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
) -> Option<Links> {
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
    Some(Links {
        bob_roles: roles.iter().map(|r| lit(r)).collect(),
        fields: same_owner.into_iter().map(lit).collect(),
    })
}

/// A delete of a row that a same-owner ref still names is 409 naming the
/// referring resource (never a 5xx).
fn restricts(resource: &Resource, steps: &[Step<'_>]) -> Vec<String> {
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
            cases.push(format!("({}, {})", lit(field), lit(&path)));
        }
    }
    cases
}

/// Grants: every declared role (when a token can carry one) and anonymous
/// callers, on the row.
fn grants(service: &Service, resource: &Resource, actor: &Actor, empty_fits: bool) -> Vec<Case> {
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
                let shown = if reaches(&resource.owner_readers(), role, is_creator) {
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
            cases.push(expect(&role_caller(role), kind, expected, &sees));
        }
    }
    cases
}

/// The cases of a resource's field rules (its table's `fields`), as
/// written in the table.
struct FieldCases {
    /// Every column of a row.
    columns: Vec<String>,
    /// `Hides(caller, &[op, ..], &[column, ..])`: what each kind of
    /// caller does not see of the test's row.
    hides: Vec<(String, Vec<&'static str>, Vec<String>)>,
    writes: Vec<WritesCase>,
    /// `Keys(caller, &[key, ..], &[key, ..])`: the list parameters each
    /// kind of caller may and may not use.
    keys: Vec<(String, Vec<String>, Vec<String>)>,
}

/// A `Writes { .. }` of a table: bodies as JSON text.
struct WritesCase {
    caller: String,
    op: &'static str,
    body: String,
    status: u16,
    refused: String,
}

/// The test caller who is exactly the kind of caller `who` (`Caller::*`),
/// on the test's row (`on_row`; its creator is `creator`) or on rows of
/// its own: alice is the owner only of rows she creates, and the user of
/// a role that created the test's row of an owned resource is its owner
/// as well, so no caller is exactly that role there.
fn caller_of(
    service: &Service,
    resource: &Resource,
    who: &Grantee,
    creator: Option<&Actor>,
    on_row: bool,
) -> Option<String> {
    let owned = resource.scope != Scope::Unowned;
    match who {
        Grantee::Owner => {
            (owned && (!on_row || creator == Some(&Actor::Alice))).then(|| "Alice".into())
        }
        Grantee::Role(r) => {
            let owns_row = on_row && owned && creator == Some(&Actor::Role(r.clone()));
            (service.auth.roles_claim.is_some() && !owns_row).then(|| role_caller(Some(r)))
        }
        Grantee::Public => Some("Anonymous".into()),
    }
}

/// Field rules (SPEC, `read`, `write`, `hide`): for a resource whose
/// declared fields have rules, what each kind of caller sees of the
/// test's row in gets, lists and updates (the model's views: exactly
/// these keys), which fields it may not set in a create or an update (422
/// naming each; what it may set is accepted), and which filters and sort
/// keys it may use (422 naming the others). A reference is never among the
/// refused writes: only the id of a row its owner may link would tell a
/// refusal from a bad link.
fn field_cases(
    service: &Service,
    resource: &Resource,
    creator: Option<&Actor>,
    steps: Option<&[Step<'_>]>,
    empty_fits: bool,
) -> Option<FieldCases> {
    let ruled = |rule: fn(&Column) -> bool| {
        resource
            .columns
            .iter()
            .any(|c| c.origin == ColumnOrigin::Field && rule(c))
    };
    let (reads, writes) = (ruled(|c| c.read.is_some()), ruled(|c| c.write.is_some()));
    if !reads && !writes {
        return None;
    }
    let cases = FieldCases {
        columns: resource.columns.iter().map(|c| c.name.clone()).collect(),
        hides: match steps {
            Some(_) if reads => field_hides(service, resource, creator, empty_fits),
            _ => Vec::new(),
        },
        writes: match steps {
            Some(steps) if writes => field_writes(service, resource, creator, steps),
            _ => Vec::new(),
        },
        keys: field_keys(service, resource, creator),
    };
    let any = !(cases.hides.is_empty() && cases.writes.is_empty() && cases.keys.is_empty());
    any.then_some(cases)
}

/// Each kind of caller that gets the test's row from a get, a list or an
/// update (sent `{}`) sees exactly its view's columns: the others are
/// hidden from it. Operations that hide the same columns from a caller
/// share one `Hides`.
fn field_hides(
    service: &Service,
    resource: &Resource,
    creator: Option<&Actor>,
    empty_fits: bool,
) -> Vec<(String, Vec<&'static str>, Vec<String>)> {
    let mut cases: Vec<(String, Vec<&'static str>, Vec<String>)> = Vec::new();
    for kind in [
        OperationKind::List,
        OperationKind::Get,
        OperationKind::Update,
    ] {
        let Some(operation) = resource.operation(kind) else {
            continue;
        };
        if kind == OperationKind::Update && !empty_fits {
            continue;
        }
        // An update that answers 204 shows nothing.
        for view in operation.views.iter().filter(|v| !v.reads.is_empty()) {
            let Some(caller) = caller_of(service, resource, &view.grantee, creator, true) else {
                continue;
            };
            let hidden: Vec<String> = resource
                .columns
                .iter()
                .filter(|c| !view.reads.contains(&c.name))
                .map(|c| c.name.clone())
                .collect();
            match cases
                .iter_mut()
                .find(|(c, _, h)| *c == caller && *h == hidden)
            {
                Some((_, ops, _)) => ops.push(op(kind)),
                None => cases.push((caller, vec![op(kind)], hidden)),
            }
        }
    }
    cases
}

/// Each kind of caller that may create rows, or update the test's row:
/// a body of what it may set (the example values; a create's required
/// references as the test's row has them) is accepted, and each other
/// field the body may carry is refused. Left out: a caller that cannot
/// send a valid create (a required field it may not set or has no example
/// for, a required reference it may not link), a body over the limit.
fn field_writes(
    service: &Service,
    resource: &Resource,
    creator: Option<&Actor>,
    steps: &[Step<'_>],
) -> Vec<WritesCase> {
    let last = steps.last().expect("the row itself");
    let mut cases = Vec::new();
    for kind in [OperationKind::Create, OperationKind::Update] {
        let Some(operation) = resource.operation(kind) else {
            continue;
        };
        let create = kind == OperationKind::Create;
        let carried = |c: &&Column| if create { c.on_create } else { c.on_update };
        if !resource
            .columns
            .iter()
            .filter(carried)
            .any(|c| c.write.is_some())
        {
            continue;
        }
        // Update values other than the row's.
        let seed = if create { 1 } else { 2 };
        for view in &operation.views {
            let Some(caller) = caller_of(service, resource, &view.grantee, creator, !create) else {
                continue;
            };
            let actor = match &view.grantee {
                Grantee::Owner => Actor::Alice,
                Grantee::Role(r) => Actor::Role(r.clone()),
                Grantee::Public => continue,
            };
            let (mut body, mut refused) = (Map::new(), Map::new());
            // The body as the server receives it, for its size.
            let mut sent = Map::new();
            let mut sendable = true;
            for column in resource.columns.iter().filter(carried) {
                let writes = view.writes.contains(&column.name);
                if let ColumnType::Ref { .. } = column.ty {
                    if create && column.required {
                        let target = last.refs.iter().find(|(f, _)| *f == column.name);
                        sendable &= writes
                            && target.is_some_and(|(_, i)| links(column, &actor, &steps[*i].actor));
                        sent.insert(
                            column.name.clone(),
                            json!("00000000-0000-4000-8000-000000000000"),
                        );
                    }
                    continue;
                }
                match example::value(column, seed) {
                    Some(value) if writes => {
                        sent.insert(column.name.clone(), value.clone());
                        body.insert(column.name.clone(), value);
                    }
                    Some(value) => {
                        sendable &= !(create && column.required);
                        refused.insert(column.name.clone(), value);
                    }
                    None => sendable &= !(create && column.required),
                }
            }
            if !sendable || !fits(service, &Value::Object(sent.clone())) {
                continue;
            }
            refused.retain(|field, value| {
                let mut attempt = sent.clone();
                attempt.insert(field.clone(), value.clone());
                fits(service, &Value::Object(attempt))
            });
            let ruled = |field: &String| resource.column(field).is_some_and(|c| c.write.is_some());
            if refused.is_empty() && !body.keys().any(ruled) {
                continue;
            }
            cases.push(WritesCase {
                caller,
                op: op(kind),
                body: Value::Object(body).to_string(),
                status: match (create, view.reads.is_empty()) {
                    (true, _) => 201,
                    (false, false) => 200,
                    (false, true) => 204,
                },
                refused: Value::Object(refused).to_string(),
            });
        }
    }
    cases
}

/// Each kind of caller that may list: of the filters and sort keys on
/// columns with a read rule, those it reads on every row it reaches (its
/// list view; the owner's own rows, or every row when the list is public)
/// answer a page, the others 422. A filter is sent with an example value,
/// so only its rule can refuse it.
fn field_keys(
    service: &Service,
    resource: &Resource,
    creator: Option<&Actor>,
) -> Vec<(String, Vec<String>, Vec<String>)> {
    let Some(list) = resource.operation(OperationKind::List) else {
        return Vec::new();
    };
    let ruled = |key: &&String| resource.column(key).is_some_and(|c| c.read.is_some());
    if !resource
        .filters
        .iter()
        .chain(&resource.sort)
        .any(|k| ruled(&k))
    {
        return Vec::new();
    }
    let mut cases = Vec::new();
    for view in &list.views {
        let Some(caller) = caller_of(service, resource, &view.grantee, creator, false) else {
            continue;
        };
        let readable = |field: &String| view.keys.contains(field);
        let (mut allowed, mut refused) = (Vec::new(), Vec::new());
        let filters = resource.filters.iter().filter(ruled).filter_map(|field| {
            let value = example::value(resource.column(field)?, 1)?;
            let text = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
            Some((field, format!("Filter({}, {})", lit(field), lit(&text))))
        });
        let sorts = resource
            .sort
            .iter()
            .filter(ruled)
            .map(|field| (field, format!("Sort({})", lit(field))));
        for (field, key) in filters.chain(sorts) {
            if readable(field) {
                allowed.push(key);
            } else {
                refused.push(key);
            }
        }
        // A case without a key would assert nothing.
        if !(allowed.is_empty() && refused.is_empty()) {
            cases.push((caller, allowed, refused));
        }
    }
    cases
}

/// The `fields` of a table (its struct literals never stay on one line).
fn write_fields(w: &mut Writer, fields: &FieldCases) {
    w.open(format_args!("fields: Some(Fields {{"));
    let columns: Vec<String> = fields.columns.iter().map(|c| lit(c)).collect();
    slice(w, "columns", &columns);
    let hides: Vec<Vec<Arg>> = fields
        .hides
        .iter()
        .map(|(caller, ops, hidden)| {
            vec![
                Arg::Text(caller.clone()),
                Arg::Slice(ops.iter().map(|o| o.to_string()).collect()),
                Arg::Slice(hidden.iter().map(|c| lit(c)).collect()),
            ]
        })
        .collect();
    calls(w, "hides", "Hides", &hides, false);
    if fields.writes.is_empty() {
        w.line(format_args!("writes: &[],"));
    } else {
        w.open(format_args!("writes: &["));
        for case in &fields.writes {
            w.open(format_args!("Writes {{"));
            w.code(format_args!("caller: {},", case.caller));
            w.line(format_args!("op: {},", case.op));
            w.line(format_args!("body: {},", raw_str(&case.body)));
            w.line(format_args!("status: {},", case.status));
            w.line(format_args!("refused: {},", raw_str(&case.refused)));
            w.close(format_args!("}},"));
        }
        w.close(format_args!("],"));
    }
    let keys: Vec<Vec<Arg>> = fields
        .keys
        .iter()
        .map(|(caller, allowed, refused)| {
            vec![
                Arg::Text(caller.clone()),
                Arg::Slice(allowed.clone()),
                Arg::Slice(refused.clone()),
            ]
        })
        .collect();
    calls(w, "keys", "Keys", &keys, true);
    w.close(format_args!("}}),"));
}

/// The `api/tests/security.rs` file of the project; `service.name` is the
/// generated API crate's name, `modules` each resource's module
/// (`ident::modules`).
pub fn security_tests(service: &Service, modules: &[String]) -> String {
    let krate = service.name.replace('-', "_");
    // `{}` bodies, for requests that must fail before the body is read.
    let empty_fits = fits(service, &json!({}));
    let (tables, kinds, names) = tables(service, empty_fits);
    let mut w = Writer::default();
    for line in HEADER.lines() {
        w.line(format_args!("{line}"));
    }
    if !kinds.contains(&true) {
        return super::rust::spaced(&w.out);
    }
    imports(&mut w, names);
    w.line(format_args!(
        "/// The generated code as the spec makes it, without the team's"
    ));
    w.line(format_args!(
        "/// hooks (which may refuse what these tests send)."
    ));
    w.line(format_args!("struct NoHooks;"));
    for module in modules {
        w.item(|w| {
            w.code(format_args!(
                "impl {krate}::{module}::Hooks for NoHooks {{}}"
            ))
        });
    }
    suite(&mut w, &krate, empty_fits, &tables);
    for (kind, _) in KINDS.iter().zip(kinds).filter(|(_, any)| *any) {
        w.line(format_args!("#[tokio::test]"));
        w.open(format_args!("async fn {kind}() {{"));
        w.line(format_args!("SUITE.{kind}().await;"));
        w.close(format_args!("}}"));
    }
    super::rust::spaced(&w.out)
}

/// Every resource's table as written in `SUITE.resources`, which of
/// [`KINDS`] any of them has cases of, and what they name.
fn tables(service: &Service, empty_fits: bool) -> (String, [bool; KINDS.len()], Names) {
    let mut w = Writer::at(2);
    let mut kinds = [false; KINDS.len()];
    let mut names = Names::default();
    for resource in &service.resources {
        // A table printed by prettyplease is printed in its place.
        w.within(&["static S: S = S {", "f: &["], "] };", |w| {
            let (has, named) = table(w, service, resource, empty_fits);
            for (any, has) in kinds.iter_mut().zip(has) {
                *any |= has;
            }
            names.add(named);
        });
    }
    (w.out, kinds, names)
}

/// `static SUITE`: the service and every resource's table.
fn suite(w: &mut Writer, krate: &str, empty_fits: bool, tables: &str) {
    w.line(format_args!(
        "/// Every resource's table, in the spec's order."
    ));
    w.open(format_args!("static SUITE: Suite = Suite {{"));
    w.within(&["static S: S = S {"], "};", |w| {
        w.code(format_args!("service: {krate}::service::<NoHooks>,"));
    });
    w.line(format_args!("empty_body_fits: {empty_fits},"));
    w.open(format_args!("resources: &["));
    w.out.push_str(tables);
    w.close(format_args!("],"));
    w.close(format_args!("}};"));
}

/// The file's doc.
const HEADER: &str = "\
//! Proof of the security contract for this service's own resources,
//! against its own router: tokens required, owners isolated, bodies
//! without mass assignment, grants exactly as the spec declares, and
//! field rules (who sees, sets, filters and sorts on each field).
//! Regenerated from the spec; run with `cargo test`.
//!
//! `SUITE` holds one table per resource: what each test sends and
//! the status each caller must get. The procedures that read them
//! are `palisade_runtime::testkit::security`'s; a failing test
//! names each resource, operation and caller that failed.";

/// The testkit's names that the tables use, in one `use` (prettyplease
/// lays out its list).
fn imports(w: &mut Writer, names: Names) {
    let mut imports: Vec<&str> = Vec::new();
    for (used, glob) in [
        (names.caller, "Caller::*"),
        (names.keys, "Key::*"),
        (names.op, "Op::*"),
        (names.see, "See::*"),
        (names.expect, "Expect"),
        (names.fields, "Fields"),
        (names.hides, "Hides"),
        (names.keys, "Keys"),
        (names.links, "Links"),
        (true, "Make"),
        (true, "Resource"),
        (true, "Suite"),
        (names.writes, "Writes"),
    ] {
        if used {
            imports.push(glob);
        }
    }
    w.item(|w| {
        w.code(format_args!(
            "use palisade_runtime::testkit::security::{{{}}};",
            imports.join(", ")
        ))
    });
}
