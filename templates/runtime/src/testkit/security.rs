//! The procedures of a generated project's security tests
//! (`api/tests/security.rs`), the same for every resource, driven by the
//! per-resource tables that Palisade fills from the model: which
//! operations need a token, which are public, the fields a create must
//! refuse, how to create a row, the status that each kind of caller
//! must get from each operation and, for a resource whose fields have
//! rules, the fields each kind of caller sees, may set, and may filter and
//! sort a list on ([`Fields`]).
//!
//! Invariant: these procedures decide nothing about who may do what.
//! Every request they send and every status and body they expect is read
//! from a [`Resource`] table; a case the generator leaves out of a table
//! (a row the tests cannot create, a role no token can carry, a body over
//! `limits.max_body`) is never sent. Each case runs against a fresh
//! [`TestApp`] (a new in-memory database), so the rows one case creates
//! never meet another's. A failing case panics with the resource, the
//! method and the caller; a [`Suite`] runs every resource's cases of one
//! kind and then fails naming each resource that failed, with its message.

use std::fmt;

use serde_json::{Map, Value, json};
use tokio::task::LocalSet;

use super::TestApp;
use crate::service::Service;

/// The id of a row that never exists: a missing row's answers.
pub const MISSING: &str = "00000000-0000-4000-8000-000000000000";

/// One of a resource's operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `GET /{plural}`.
    List,
    /// `GET /{plural}/{id}`.
    Get,
    /// `POST /{plural}`.
    Create,
    /// `PATCH /{plural}/{id}`, sent with `{}`.
    Update,
    /// `DELETE /{plural}/{id}`.
    Delete,
}

impl Op {
    /// The HTTP method.
    pub fn method(self) -> &'static str {
        match self {
            Op::List | Op::Get => "GET",
            Op::Create => "POST",
            Op::Update => "PATCH",
            Op::Delete => "DELETE",
        }
    }

    /// The operation's name in the spec.
    pub fn name(self) -> &'static str {
        match self {
            Op::List => "list",
            Op::Get => "get",
            Op::Create => "create",
            Op::Update => "update",
            Op::Delete => "delete",
        }
    }

    /// Whether the operation is on one row (`/{plural}/{id}`).
    pub fn on_row(self) -> bool {
        matches!(self, Op::Get | Op::Update | Op::Delete)
    }

    /// Whether the operation reads a body.
    fn has_body(self) -> bool {
        matches!(self, Op::Create | Op::Update)
    }
}

/// Who calls. Each test user is alone in a tenant of its own, so only a
/// row's creator shares its owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// No token.
    Anonymous,
    /// The user `alice` (tenant `acme`), with no role: the owner of the
    /// rows she creates.
    Alice,
    /// The user `bob` (tenant `globex`), with no role: another owner.
    Bob,
    /// The user `role-R` holding only the role R (tenant `R-org`).
    Role(&'static str),
}

impl Caller {
    /// The caller's token (`None`: anonymous).
    pub fn token(self, app: &TestApp) -> Option<String> {
        match self {
            Caller::Anonymous => None,
            Caller::Alice => Some(app.token("alice", &[], "acme")),
            Caller::Bob => Some(app.token("bob", &[], "globex")),
            Caller::Role(role) => {
                Some(app.token(&format!("role-{role}"), &[role], &format!("{role}-org")))
            }
        }
    }
}

impl fmt::Display for Caller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Caller::Anonymous => f.write_str("anonymous"),
            Caller::Alice => f.write_str("alice (the owner)"),
            Caller::Bob => f.write_str("bob (another owner)"),
            Caller::Role(role) => f.write_str(role),
        }
    }
}

/// What an answer must show besides its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum See {
    /// A list: the test's row is among the items.
    Listed,
    /// A list: the test's row is not among the items.
    Unlisted,
    /// The row (a get's answer, or the test's row among a list's items)
    /// has the owner column.
    OwnerShown,
    /// The row has no owner column.
    OwnerHidden,
    /// The answer has no body (an update answered 204).
    NoRow,
    /// The answer is byte for byte the one the same call on a missing row
    /// gets: another owner's row cannot be told from a missing one.
    AsMissing,
    /// The answer's body is the row as it was created.
    Unchanged,
}

/// An expectation: `caller` calling `op` (on the test's row, for an
/// operation on one row) gets the status, and the answer shows each
/// [`See`].
#[derive(Debug, Clone, Copy)]
pub struct Expect(pub Caller, pub Op, pub u16, pub &'static [See]);

/// How the tests get a row of a resource.
#[derive(Debug, Clone, Copy)]
pub enum Make {
    /// The resource's creator POSTs the body (a JSON object, as text) to
    /// its path, each `(field, resource)` of the required references set to
    /// the id of a row of that resource, created first in the same way
    /// (one row of each resource, in the order the references come).
    Row(&'static str, &'static [(&'static str, &'static str)]),
    /// The tests cannot create one, for this reason: the resource gets
    /// only the checks that need no row.
    Cannot(&'static str),
}

/// A create by `bob`, holding these roles (every role that reads the
/// referenced rows across owners), whose body names rows of another owner
/// in the fields (the required references that must be of the creator's
/// own rows): 422 naming each field.
#[derive(Debug, Clone, Copy)]
pub struct Links {
    pub bob_roles: &'static [&'static str],
    pub fields: &'static [&'static str],
}

/// A list parameter: a filter by exact match (`?field=value`, the value
/// as text, percent-encoded when sent) or a sort key (`?sort=field` and
/// `?sort=-field`, each sent).
#[derive(Debug, Clone, Copy)]
pub enum Key {
    Filter(&'static str, &'static str),
    Sort(&'static str),
}

impl Key {
    /// The field the parameter is on.
    fn field(self) -> &'static str {
        match self {
            Key::Filter(field, _) | Key::Sort(field) => field,
        }
    }

    /// The query strings to send.
    fn queries(self) -> Vec<String> {
        match self {
            Key::Filter(field, value) => vec![format!("{field}={}", encode(value))],
            Key::Sort(field) => vec![format!("sort={field}"), format!("sort=-{field}")],
        }
    }
}

/// `caller` gets the test's row without these columns (absent, not
/// null) and with every other one of [`Fields::columns`], in its answer
/// to each operation: a get, a list (the row among its items) and an
/// update sent `{}`.
#[derive(Debug, Clone, Copy)]
pub struct Hides(pub Caller, pub &'static [Op], pub &'static [&'static str]);

/// `caller` sends `op` (a create, or an update of the test's row) with
/// `body` (a JSON object as text, setting what the caller may write; a
/// create's required references are added as for the test's row) and gets
/// `status`; sent before it, the body with each member of `refused` (a
/// JSON object as text, of fields the caller may not write) added alone is
/// 422 naming that field.
#[derive(Debug, Clone, Copy)]
pub struct Writes {
    pub caller: Caller,
    pub op: Op,
    pub body: &'static str,
    pub status: u16,
    pub refused: &'static str,
}

/// `caller` lists with each of the first keys alone and gets a page (it
/// reads the field on every row it reaches); with each of the second
/// alone, 422 naming the field (so no filter or order tells it a value it
/// may not read).
#[derive(Debug, Clone, Copy)]
pub struct Keys(pub Caller, pub &'static [Key], pub &'static [Key]);

/// The field rules of a resource, as each kind of caller meets them.
#[derive(Debug, Clone, Copy)]
pub struct Fields {
    /// Every column of a row.
    pub columns: &'static [&'static str],
    pub hides: &'static [Hides],
    pub writes: &'static [Writes],
    pub keys: &'static [Keys],
}

/// Everything the security tests send to one resource and expect back.
#[derive(Debug, Clone, Copy)]
pub struct Resource {
    /// The resource's name in the spec.
    pub name: &'static str,
    /// Its collection path, `/{plural}`.
    pub path: &'static str,
    /// Its owner column, if rows have one.
    pub owner: Option<&'static str>,
    /// The operations that answer 401 without a token and with a forged
    /// one (on a missing row).
    pub token_required: &'static [Op],
    /// The public reads, checked without a token: a list answers 200 with
    /// a page; a get of a missing row answers 404.
    pub public_reads: &'static [Op],
    /// Who creates rows (`None`: nobody the tests can act as may).
    pub creator: Option<Caller>,
    /// Mass assignment: the fields a create by the creator must refuse
    /// (422 naming the field), each sent alone with the value `"injected"`.
    pub forbidden: &'static [&'static str],
    /// How to create a row.
    pub make: Make,
    /// What callers get from a row that `alice` created.
    pub isolation: &'static [Expect],
    /// A create naming another owner's rows, if checked.
    pub links: Option<Links>,
    /// `(field, target path)`: a delete, by `alice`, of the target row
    /// that the field of the test's row names answers 409 naming
    /// `resource.field`.
    pub restricts: &'static [(&'static str, &'static str)],
    /// What each role and an anonymous caller get from a row that its
    /// creator made (a row is made only if a case needs one).
    pub grants: &'static [Expect],
    /// The field rules, if the spec gives its fields any.
    pub fields: Option<Fields>,
}

/// The tables of one service's resources, and the service they test.
#[derive(Debug)]
pub struct Suite {
    /// The generated service, without the team's hooks.
    pub service: fn() -> Service,
    /// Whether `{}` is within `limits.max_body`: creates and updates that
    /// must fail for want of a token are sent with it, else with no body.
    pub empty_body_fits: bool,
    pub resources: &'static [Resource],
}

/// The kinds of checks, one test each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    RequiresAToken,
    ServesPublicReadsAnonymously,
    RefusesMassAssignment,
    IsolatesOwners,
    LinksOnlyRowsOfTheOwner,
    RefusesDeletingAReferencedRow,
    GrantsExactlyAsDeclared,
    ShowsEachCallerItsFields,
    RefusesFieldsTheCallerMayNotWrite,
    FiltersAndSortsOnlyOnReadableFields,
}

impl Kind {
    /// How many cases of this kind `resource` has (each on a fresh app).
    fn cases(self, resource: &Resource) -> usize {
        let any = |b: bool| usize::from(b);
        match self {
            Kind::RequiresAToken => any(!resource.token_required.is_empty()),
            Kind::ServesPublicReadsAnonymously => any(!resource.public_reads.is_empty()),
            Kind::RefusesMassAssignment => any(!resource.forbidden.is_empty()),
            Kind::IsolatesOwners => any(!resource.isolation.is_empty()),
            Kind::LinksOnlyRowsOfTheOwner => any(resource.links.is_some()),
            Kind::RefusesDeletingAReferencedRow => resource.restricts.len(),
            Kind::GrantsExactlyAsDeclared => any(!resource.grants.is_empty()),
            Kind::ShowsEachCallerItsFields => resource.fields.map_or(0, |f| f.hides.len()),
            Kind::RefusesFieldsTheCallerMayNotWrite => {
                resource.fields.map_or(0, |f| f.writes.len())
            }
            Kind::FiltersAndSortsOnlyOnReadableFields => {
                resource.fields.map_or(0, |f| f.keys.len())
            }
        }
    }
}

impl Suite {
    /// Every operation that is not public answers 401 without a token and
    /// with a forged one.
    pub async fn requires_a_token(&'static self) {
        self.run(Kind::RequiresAToken).await;
    }

    /// Public reads answer anonymous callers: the list (possibly empty)
    /// with a page, a missing row with 404 (not 401).
    pub async fn serves_public_reads_anonymously(&'static self) {
        self.run(Kind::ServesPublicReadsAnonymously).await;
    }

    /// A create refuses every field the spec does not accept on create.
    pub async fn refuses_mass_assignment(&'static self) {
        self.run(Kind::RefusesMassAssignment).await;
    }

    /// Another owner gets a 404 identical to a missing row's and never
    /// sees the row listed; the owner's row is unchanged.
    pub async fn isolates_owners(&'static self) {
        self.run(Kind::IsolatesOwners).await;
    }

    /// A create may only reference rows its own owner may access.
    pub async fn links_only_rows_of_the_owner(&'static self) {
        self.run(Kind::LinksOnlyRowsOfTheOwner).await;
    }

    /// A delete of a row that a restricting reference still names is 409
    /// naming the referring field (never a 5xx).
    pub async fn refuses_deleting_a_referenced_row(&'static self) {
        self.run(Kind::RefusesDeletingAReferencedRow).await;
    }

    /// Every role and an anonymous caller get exactly the statuses the
    /// grants declare, and see the row and its owner column as declared.
    pub async fn grants_exactly_as_declared(&'static self) {
        self.run(Kind::GrantsExactlyAsDeclared).await;
    }

    /// Each kind of caller sees exactly the fields it may read, in gets,
    /// lists and updates: the others are absent, not null.
    pub async fn shows_each_caller_its_fields(&'static self) {
        self.run(Kind::ShowsEachCallerItsFields).await;
    }

    /// A create or update that sets a field the caller may not write is
    /// 422 naming it; a body of what it may write is accepted.
    pub async fn refuses_fields_the_caller_may_not_write(&'static self) {
        self.run(Kind::RefusesFieldsTheCallerMayNotWrite).await;
    }

    /// A list may be filtered and sorted on a field the caller reads on
    /// every row it reaches, and on no other (422).
    pub async fn filters_and_sorts_only_on_readable_fields(&'static self) {
        self.run(Kind::FiltersAndSortsOnlyOnReadableFields).await;
    }

    /// Runs each case of `kind`, one after another, each on a fresh app
    /// and as a task of its own, so that a failing case does not hide the
    /// others; then fails naming every resource that failed.
    async fn run(&'static self, kind: Kind) {
        let local = LocalSet::new();
        let mut ran = 0;
        let mut failures = Vec::new();
        for resource in self.resources {
            for case in 0..kind.cases(resource) {
                ran += 1;
                let task = local.spawn_local(async move {
                    let app = TestApp::new((self.service)()).await;
                    resource.check(self, &app, kind, case).await;
                });
                if let Err(error) = local.run_until(task).await {
                    let why = match error.try_into_panic() {
                        Ok(panic) => panic_message(panic.as_ref()),
                        Err(error) => error.to_string(),
                    };
                    let why = why.replace('\n', "\n    ");
                    failures.push(format!("- `{}`: {why}", resource.name));
                }
            }
        }
        assert!(ran > 0, "no resource has checks of this kind ({kind:?})");
        assert!(
            failures.is_empty(),
            "{} of {ran} cases failed:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }
}

/// The text of a panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else {
        "a panic without a message".to_string()
    }
}

/// The items of a list's answer.
fn items<'a>(name: &str, body: &'a Value) -> &'a Vec<Value> {
    body["items"]
        .as_array()
        .unwrap_or_else(|| panic!("`{name}`: a list answers a page: {body}"))
}

/// `text` percent-encoded for a query string (every byte but the
/// unreserved ones).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Whether a 422's (or 409's) errors name `field`.
fn names(body: &Value, field: &str) -> bool {
    body["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| e["field"] == field)
}

impl Resource {
    /// The path of the row with `id`.
    fn row_path(&self, id: &str) -> String {
        format!("{}/{id}", self.path)
    }

    /// Case `case` of `kind`, on `app`.
    async fn check(&'static self, suite: &'static Suite, app: &TestApp, kind: Kind, case: usize) {
        match kind {
            Kind::RequiresAToken => self.requires_a_token(app, suite.empty_body_fits).await,
            Kind::ServesPublicReadsAnonymously => self.serves_public_reads(app).await,
            Kind::RefusesMassAssignment => self.refuses_mass_assignment(app).await,
            Kind::IsolatesOwners => {
                let row = self.make(suite, app).await;
                self.expect_all(app, Some(&row), self.isolation).await;
            }
            Kind::LinksOnlyRowsOfTheOwner => self.links_only_rows_of_the_owner(suite, app).await,
            Kind::RefusesDeletingAReferencedRow => {
                self.refuses_deleting_a_referenced_row(suite, app, case)
                    .await;
            }
            Kind::GrantsExactlyAsDeclared => {
                // A row only if a case needs one: a list answering no
                // page (401, 403) needs none.
                let needs_row = self
                    .grants
                    .iter()
                    .any(|Expect(_, op, _, sees)| op.on_row() || !sees.is_empty());
                let row = if needs_row {
                    Some(self.make(suite, app).await)
                } else {
                    None
                };
                self.expect_all(app, row.as_ref(), self.grants).await;
            }
            Kind::ShowsEachCallerItsFields => {
                let row = self.make(suite, app).await;
                self.hides(app, &row, self.fields().hides[case]).await;
            }
            Kind::RefusesFieldsTheCallerMayNotWrite => {
                self.writes(suite, app, self.fields().writes[case]).await;
            }
            Kind::FiltersAndSortsOnlyOnReadableFields => {
                self.keys(app, self.fields().keys[case]).await;
            }
        }
    }

    /// The field rules; a table error if none.
    fn fields(&self) -> Fields {
        self.fields
            .unwrap_or_else(|| panic!("`{}`: a table error: no field rules", self.name))
    }

    async fn hides(&self, app: &TestApp, row: &Value, hides: Hides) {
        let Hides(caller, ops, hidden) = hides;
        let name = self.name;
        let fields: Vec<&str> = self
            .fields()
            .columns
            .iter()
            .copied()
            .filter(|c| !hidden.contains(c))
            .collect();
        let token = caller.token(app);
        let path = self.row_path(row["id"].as_str().expect("a row has an id"));
        for &op in ops {
            let call = format!("{} `{name}` ({}) as {caller}", op.method(), op.name());
            let reply = match op {
                Op::Get => app.call("GET", &path, token.as_deref(), None).await,
                Op::Update => {
                    let body = Some(json!({}));
                    app.call("PATCH", &path, token.as_deref(), body).await
                }
                Op::List => app.call("GET", self.path, token.as_deref(), None).await,
                _ => panic!(
                    "`{name}`: a table error: {} answers no row to read",
                    op.name()
                ),
            };
            assert_eq!(reply.status, 200, "{call}: {}", reply.body);
            let shown = match op {
                Op::List => items(name, &reply.body)
                    .iter()
                    .find(|r| r["id"] == row["id"])
                    .unwrap_or_else(|| panic!("{call} must list the row: {}", reply.body)),
                _ => &reply.body,
            };
            let keys: Vec<&str> = shown
                .as_object()
                .unwrap_or_else(|| panic!("{call} answers a row: {shown}"))
                .keys()
                .map(String::as_str)
                .collect();
            let missing: Vec<&str> = fields
                .iter()
                .copied()
                .filter(|f| !keys.contains(f))
                .collect();
            let extra: Vec<&str> = keys
                .iter()
                .copied()
                .filter(|k| !fields.contains(k))
                .collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "{call} must show exactly {fields:?}: missing {missing:?}, shown but hidden from it {extra:?}: {shown}"
            );
        }
    }

    async fn writes(&'static self, suite: &'static Suite, app: &TestApp, writes: Writes) {
        let Writes {
            caller,
            op,
            body,
            status,
            refused,
        } = writes;
        let name = self.name;
        let token = caller.token(app);
        let mut body: Map<String, Value> = serde_json::from_str(body).expect("a JSON object");
        let path = match op {
            Op::Create => {
                // The rows the required references name, as for the test's row.
                let mut plan = Vec::new();
                self.plan(suite, &mut plan);
                plan.pop();
                let rows = Self::create(app, &plan).await;
                for &(field, target) in self.row().1 {
                    let i = plan.iter().position(|r| r.name == target);
                    body.insert(field.to_string(), rows[i.expect("planned")]["id"].clone());
                }
                self.path.to_string()
            }
            Op::Update => {
                let row = self.make(suite, app).await;
                self.row_path(row["id"].as_str().expect("a row has an id"))
            }
            _ => panic!("`{name}`: a table error: {} has no body", op.name()),
        };
        let call = format!("{} `{name}` ({}) as {caller}", op.method(), op.name());
        let refused: Map<String, Value> = serde_json::from_str(refused).expect("a JSON object");
        for (field, value) in refused {
            let mut attempt = body.clone();
            attempt.insert(field.clone(), value);
            let reply = app
                .call(
                    op.method(),
                    &path,
                    token.as_deref(),
                    Some(Value::Object(attempt)),
                )
                .await;
            assert_eq!(
                reply.status, 422,
                "{call} setting `{field}`: {}",
                reply.body
            );
            assert!(
                names(&reply.body, &field),
                "{call}: the 422 names `{field}`: {}",
                reply.body
            );
        }
        let reply = app
            .call(
                op.method(),
                &path,
                token.as_deref(),
                Some(Value::Object(body)),
            )
            .await;
        assert_eq!(
            reply.status, status,
            "{call} setting only what it may: {}",
            reply.body
        );
    }

    async fn keys(&self, app: &TestApp, keys: Keys) {
        let Keys(caller, allowed, refused) = keys;
        let name = self.name;
        let token = caller.token(app);
        for (key, allowed) in allowed
            .iter()
            .map(|k| (k, true))
            .chain(refused.iter().map(|k| (k, false)))
        {
            for query in key.queries() {
                let path = format!("{}?{query}", self.path);
                let reply = app.call("GET", &path, token.as_deref(), None).await;
                let call = format!("GET {path} as {caller}");
                if allowed {
                    assert_eq!(reply.status, 200, "`{name}`: {call}: {}", reply.body);
                    items(name, &reply.body);
                } else {
                    let field = key.field();
                    assert_eq!(
                        reply.status, 422,
                        "`{name}`: {call} (`{field}` is not shown to it): {}",
                        reply.body
                    );
                    assert!(
                        names(&reply.body, field),
                        "`{name}`: {call}: the 422 names `{field}`: {}",
                        reply.body
                    );
                }
            }
        }
    }

    async fn requires_a_token(&self, app: &TestApp, empty_body_fits: bool) {
        let name = self.name;
        for &op in self.token_required {
            let method = op.method();
            let path = if op.on_row() {
                self.row_path(MISSING)
            } else {
                self.path.to_string()
            };
            let body = (op.has_body() && empty_body_fits).then(|| json!({}));
            let reply = app.call(method, &path, None, body.clone()).await;
            assert_eq!(
                reply.status, 401,
                "`{name}`: {method} {path} without a token: {}",
                reply.body
            );
            let reply = app.call(method, &path, Some("not.a.token"), body).await;
            assert_eq!(
                reply.status, 401,
                "`{name}`: {method} {path} with a forged token: {}",
                reply.body
            );
        }
    }

    async fn serves_public_reads(&self, app: &TestApp) {
        let name = self.name;
        for &op in self.public_reads {
            match op {
                Op::List => {
                    let list = app.call("GET", self.path, None, None).await;
                    assert_eq!(
                        list.status, 200,
                        "`{name}`: a public list without a token: {}",
                        list.body
                    );
                    assert!(
                        list.body["items"].is_array(),
                        "`{name}`: a public list is a page: {}",
                        list.body
                    );
                }
                Op::Get => {
                    let missing = app.call("GET", &self.row_path(MISSING), None, None).await;
                    assert_eq!(
                        missing.status, 404,
                        "`{name}`: a public get of a missing row without a token: {}",
                        missing.body
                    );
                }
                _ => panic!("`{name}`: a table error: only reads are public"),
            }
        }
    }

    async fn refuses_mass_assignment(&self, app: &TestApp) {
        let name = self.name;
        let creator = self.creator();
        let token = creator.token(app);
        for &field in self.forbidden {
            let mut attempt = Map::new();
            attempt.insert(field.to_string(), json!("injected"));
            let body = Some(Value::Object(attempt));
            let reply = app.call("POST", self.path, token.as_deref(), body).await;
            assert_eq!(
                reply.status, 422,
                "`{name}`: create with `{field}` as {creator}: {}",
                reply.body
            );
            assert!(
                names(&reply.body, field),
                "`{name}`: the 422 names `{field}`: {}",
                reply.body
            );
        }
    }

    /// Who creates rows; a table error if nobody.
    fn creator(&self) -> Caller {
        self.creator
            .unwrap_or_else(|| panic!("`{}`: a table error: no creator", self.name))
    }

    /// The body and required references of a row; a table error if the
    /// tests cannot create one.
    fn row(&self) -> (&'static str, &'static [(&'static str, &'static str)]) {
        match self.make {
            Make::Row(body, refs) => (body, refs),
            Make::Cannot(why) => panic!(
                "`{}`: a table error: a case needs a row, and the tests cannot create one: {why}",
                self.name
            ),
        }
    }

    /// The resources to create a row of, in order, for one row of this one
    /// (the last): those its required references need first, each once.
    fn plan(&'static self, suite: &'static Suite, plan: &mut Vec<&'static Resource>) {
        if plan.iter().any(|r| r.name == self.name) {
            return;
        }
        for &(_, target) in self.row().1 {
            let target = suite
                .resources
                .iter()
                .find(|r| r.name == target)
                .unwrap_or_else(|| panic!("`{}`: a table error: no `{target}`", self.name));
            target.plan(suite, plan);
        }
        plan.push(self);
    }

    /// Creates a row of each of `plan`, in order, and returns them.
    async fn create(app: &TestApp, plan: &[&Resource]) -> Vec<Value> {
        let mut rows: Vec<Value> = Vec::new();
        for resource in plan {
            let (body, refs) = resource.row();
            let token = resource.creator().token(app).unwrap_or_else(|| {
                panic!("`{}`: a table error: an anonymous creator", resource.name)
            });
            let refs: Vec<(&str, &Value)> = refs
                .iter()
                .map(|&(field, target)| {
                    let i = plan.iter().position(|r| r.name == target);
                    (field, &rows[i.expect("planned before")])
                })
                .collect();
            let row = app.create(resource.path, &token, body, &refs).await;
            rows.push(row);
        }
        rows
    }

    /// Creates a row (after those its required references need) and
    /// returns it.
    async fn make(&'static self, suite: &'static Suite, app: &TestApp) -> Value {
        let mut plan = Vec::new();
        self.plan(suite, &mut plan);
        let mut rows = Self::create(app, &plan).await;
        rows.pop().expect("the row itself")
    }

    async fn expect_all(&self, app: &TestApp, row: Option<&Value>, expects: &[Expect]) {
        for expect in expects {
            self.expect(app, row, *expect).await;
        }
    }

    async fn expect(&self, app: &TestApp, row: Option<&Value>, expect: Expect) {
        let Expect(caller, op, status, sees) = expect;
        let name = self.name;
        // What the messages name: `GET `note` (list) as anonymous`.
        let call = format!("{} `{name}` ({})", op.method(), op.name());
        let method = op.method();
        let row = || row.unwrap_or_else(|| panic!("`{name}`: a table error: no row"));
        let path = if op.on_row() {
            let id = row()["id"].as_str().expect("a row has an id");
            self.row_path(id)
        } else {
            self.path.to_string()
        };
        let token = caller.token(app);
        let body = op.has_body().then(|| json!({}));
        let reply = app
            .call(method, &path, token.as_deref(), body.clone())
            .await;
        assert_eq!(reply.status, status, "{call} as {caller}: {}", reply.body);
        let ours = |r: &&Value| r["id"] == row()["id"];
        for see in sees {
            match see {
                See::Listed => assert!(
                    items(name, &reply.body).iter().any(|r| ours(&r)),
                    "{call} as {caller} must show the row: {}",
                    reply.body
                ),
                See::Unlisted => assert!(
                    !items(name, &reply.body).iter().any(|r| ours(&r)),
                    "{call} as {caller} must hide another owner's row: {}",
                    reply.body
                ),
                See::OwnerShown | See::OwnerHidden => {
                    let owner = self
                        .owner
                        .unwrap_or_else(|| panic!("`{name}`: a table error: no owner column"));
                    let shown = *see == See::OwnerShown;
                    let as_expected = if op == Op::List {
                        // The row must be listed for its owner column to count.
                        let listed: Vec<&Value> =
                            items(name, &reply.body).iter().filter(ours).collect();
                        !listed.is_empty() && listed.iter().all(|r| r.get(owner).is_some() == shown)
                    } else {
                        reply.body.get(owner).is_some() == shown
                    };
                    let what = if shown { "show" } else { "hide" };
                    assert!(
                        as_expected,
                        "{call} as {caller} must {what} the owner column: {}",
                        reply.body
                    );
                }
                See::NoRow => assert!(
                    reply.raw.is_empty(),
                    "{call} as {caller} must answer no row: {}",
                    reply.body
                ),
                See::AsMissing => {
                    let missing = app
                        .call(
                            method,
                            &self.row_path(MISSING),
                            token.as_deref(),
                            body.clone(),
                        )
                        .await;
                    assert!(
                        reply.raw == missing.raw,
                        "{call} as {caller} must answer as for a missing row (another owner's row is indistinguishable from a missing one): {} != {}",
                        String::from_utf8_lossy(&reply.raw),
                        String::from_utf8_lossy(&missing.raw)
                    );
                }
                See::Unchanged => assert_eq!(
                    &reply.body,
                    row(),
                    "{call} as {caller}: the owner's row must be unchanged"
                ),
            }
        }
    }

    async fn links_only_rows_of_the_owner(&'static self, suite: &'static Suite, app: &TestApp) {
        let name = self.name;
        let links = self.links.expect("a case of this kind has links");
        let mut plan = Vec::new();
        self.plan(suite, &mut plan);
        plan.pop();
        let rows = Self::create(app, &plan).await;
        let bob = app.token("bob", links.bob_roles, "globex");
        let (body, refs) = self.row();
        let mut body: Map<String, Value> = serde_json::from_str(body).expect("a JSON object");
        for &(field, target) in refs {
            let i = plan.iter().position(|r| r.name == target);
            body.insert(field.to_string(), rows[i.expect("planned")]["id"].clone());
        }
        let reply = app
            .call("POST", self.path, Some(&bob), Some(Value::Object(body)))
            .await;
        assert_eq!(
            reply.status, 422,
            "`{name}`: refs to another owner's rows, as bob with {:?}: {}",
            links.bob_roles, reply.body
        );
        for field in links.fields {
            assert!(
                names(&reply.body, field),
                "`{name}`: the 422 names `{field}`: {}",
                reply.body
            );
        }
    }

    async fn refuses_deleting_a_referenced_row(
        &'static self,
        suite: &'static Suite,
        app: &TestApp,
        case: usize,
    ) {
        let name = self.name;
        let (field, target) = self.restricts[case];
        let row = self.make(suite, app).await;
        let alice = app.token("alice", &[], "acme");
        let id = row[field].as_str().expect("a required reference is set");
        let path = format!("{target}/{id}");
        let reply = app.call("DELETE", &path, Some(&alice), None).await;
        assert_eq!(
            reply.status, 409,
            "`{name}`: delete the row that `{field}` references: {}",
            reply.body
        );
        assert_eq!(
            reply.body["errors"][0]["field"],
            format!("{name}.{field}"),
            "`{name}`: the 409 names the referrer: {}",
            reply.body
        );
    }
}

#[cfg(test)]
mod tests {
    use super::Caller::*;
    use super::Op::*;
    use super::*;
    use crate::access::Grants;
    use crate::server::{App, Operation, Settings};
    use crate::throttle::Rate;
    use axum::Router;
    use axum::handler::Handler as _;
    use axum::routing::get;

    static SETTINGS: Settings = Settings {
        service: "test",
        default_database_url: "sqlite::memory:",
        auth: crate::auth::tests::HS,
        anon_rate: Rate::new(100, 60),
        user_rate: Rate::new(100, 60),
        trust_proxy_hops: 0,
        redis: None,
        max_body_bytes: 256,
        request_timeout_seconds: 10,
        header_read_timeout_seconds: 10,
        idle_timeout_seconds: 75,
        max_connections: 64,
        cors: None,
        engines: &[crate::db::Engine::Sqlite],
    };

    static LIST: Operation = Operation::new("item.list", Grants::NONE.roles(&["admin"]), None);

    /// A list of items that only `admin` may call.
    fn service() -> Service {
        fn routes(app: &App) -> Router<App> {
            Router::new().route(
                "/items",
                get((|| async { "items" }).layer(app.guard(&LIST))),
            )
        }
        Service::new(
            &SETTINGS,
            &crate::server::Migrations {
                sqlite: &[],
                postgres: &[],
                row_security: "",
            },
            routes,
            (),
        )
    }

    const fn item(grants: &'static [Expect]) -> Resource {
        Resource {
            name: "item",
            path: "/items",
            owner: None,
            token_required: &[List],
            public_reads: &[],
            creator: None,
            forbidden: &[],
            make: Make::Cannot("no creates"),
            isolation: &[],
            links: None,
            restricts: &[],
            grants,
            fields: None,
        }
    }

    static SOUND: Suite = Suite {
        service,
        empty_body_fits: true,
        resources: &[item(&[
            Expect(Role("admin"), List, 200, &[]),
            Expect(Role("support"), List, 403, &[]),
            Expect(Anonymous, List, 401, &[]),
        ])],
    };

    /// Expects `support` to list, which the service refuses.
    static WRONG: Suite = Suite {
        service,
        empty_body_fits: true,
        resources: &[
            item(&[Expect(Role("admin"), List, 200, &[])]),
            item(&[Expect(Role("support"), List, 200, &[])]),
            item(&[Expect(Anonymous, List, 200, &[])]),
        ],
    };

    #[tokio::test]
    async fn a_sound_service_passes() {
        SOUND.requires_a_token().await;
        SOUND.grants_exactly_as_declared().await;
    }

    #[tokio::test]
    #[should_panic(
        expected = "2 of 3 cases failed:\n- `item`: assertion `left == right` failed: GET `item` (list) as support: "
    )]
    async fn a_failing_case_names_the_resource_and_the_caller_and_the_others_still_run() {
        WRONG.grants_exactly_as_declared().await;
    }

    #[tokio::test]
    #[should_panic(expected = "no resource has checks of this kind (IsolatesOwners)")]
    async fn a_kind_without_cases_fails() {
        SOUND.isolates_owners().await;
    }

    #[test]
    fn list_parameters_are_sent_encoded_and_sorts_both_ways() {
        assert_eq!(
            Key::Filter("email", "a b&c=d@e.f/é").queries(),
            ["email=a%20b%26c%3Dd%40e.f%2F%C3%A9"]
        );
        assert_eq!(
            Key::Sort("priority").queries(),
            ["sort=priority", "sort=-priority"]
        );
    }

    #[test]
    fn callers_are_named() {
        let names: Vec<String> = [Anonymous, Alice, Bob, Role("admin")]
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            names,
            [
                "anonymous",
                "alice (the owner)",
                "bob (another owner)",
                "admin"
            ]
        );
    }
}
