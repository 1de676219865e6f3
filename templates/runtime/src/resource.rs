//! The five operations of a resource, the same for every resource and
//! driven by the tables of its generated module.
//!
//! A generated module declares its table ([`Table`]: the quoted table
//! and columns, the INSERT statement, the owner rule, who sees the owner
//! column, the list rules), its row and input types with their checks,
//! and implements [`Resource`] for its row: the per-field parts (values of
//! an INSERT, assignments of an UPDATE, filters, sort values, references).
//! Its routes put the handlers of this module ([`list`], [`get`],
//! [`create`], [`update`], [`delete`]) behind the guard of each operation
//! the spec grants; every other request meets the router's 404/405.
//!
//! Answers show each caller only the columns its field rules let it read,
//! and bodies may set only what they let it write ([`super::fields`]).
//!
//! Invariant: the statements are built here and only here, and every
//! statement of an owned table that reads, changes or deletes rows ends
//! its WHERE clause with the caller's [`Scope`] ([`Scope::push_condition`],
//! ` AND "owner" = ?` for a caller who reaches only its own rows). The
//! shapes, with `T` the table, `C` its columns and `O` the owner column:
//!
//! - list: `SELECT C FROM T WHERE 1 = 1 [AND O = ?] [AND f = ?]... [after
//!   the cursor] ORDER BY k, "id" LIMIT ?`
//! - get: `SELECT C FROM T WHERE "id" = ? [AND O = ?]`
//! - create: `INSERT INTO T (C) SELECT ?, ... [WHERE EXISTS (SELECT 1
//!   FROM R WHERE "id" = ? [AND O = ?]) [AND EXISTS ...]] RETURNING C`, one
//!   `EXISTS` per reference `R` the input names
//! - update: `UPDATE T SET "updated_at" = ?[, f = ?]... WHERE "id" = ? [AND O = ?] RETURNING C`
//! - delete: `DELETE FROM T WHERE "id" = ? [AND O = ?]`
//! - a reference's target (an update's, or a create's that added no row):
//!   `SELECT 1 FROM R WHERE "id" = ? [AND O = ?]`
//!
//! A reference's target is a row of the new row's owner (never of the
//! caller's role), or any row where the spec's link says so.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::access::{Access, Grants, OwnerClaim, Scope};
use super::auth::Caller;
use super::body::{self, Json};
use super::db::{self, Engine, FromColumns, Kind, One, Session, Sql, Statements, Text, Values};
use super::fields::{self, FieldRule, Shown};
use super::page::{self, ListQuery, ListRules, quote};
use super::problem::Problem;
use super::row::now;
use super::server::App;
use super::service::HookFuture;

/// A resource's table as the spec resolves it.
#[derive(Debug)]
pub struct Table {
    /// The resource's name in the spec, for messages.
    pub name: &'static str,
    /// The collection's path; a row's is `{path}/{id}`.
    pub path: &'static str,
    /// The quoted table name.
    pub table: &'static str,
    /// The statements on SQLite.
    pub sqlite: Statements,
    /// The statements on PostgreSQL.
    pub postgres: Statements,
    /// The owner rule; `None` for `owner: none` (only role and public
    /// grants reach the rows).
    pub owner: Option<Owner>,
    /// The columns with field rules (who reads, who writes them), the
    /// owner column among them unless everyone the row is shown to sees it.
    pub fields: &'static [FieldRule],
    /// Who gets the changed row in the answer of an update: those who may
    /// also `get` it; everyone else gets 204 No Content.
    pub update_reply: Grants,
    /// Limits, sort keys and filters of the list.
    pub list: ListRules,
    /// `(resource, field)` of each reference to this table, in the order
    /// a refused delete names them.
    pub referrers: &'static [(&'static str, &'static str)],
}

impl Table {
    /// The statements for `engine`.
    pub fn statements(&self, engine: Engine) -> &Statements {
        match engine {
            Engine::Sqlite => &self.sqlite,
            Engine::Postgres => &self.postgres,
        }
    }
}

/// The owner column of an owned table.
#[derive(Debug)]
pub struct Owner {
    /// The quoted column.
    pub column: &'static str,
    /// Where a caller's owner value comes from.
    pub claim: OwnerClaim,
}

/// Which rows a reference may name (the model's link rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRule {
    /// A row of the new row's owner.
    SameOwner,
    /// Any row: the target's rows are public to everyone.
    Any,
    /// None: no grant lets the new row's owner read the target's rows.
    Nothing,
}

/// One reference of an input to a row of another resource.
#[derive(Debug)]
pub struct Link<'a> {
    /// The referring field.
    pub field: &'static str,
    /// The referenced resource's table.
    pub target: &'static Table,
    pub rule: LinkRule,
    /// The id the input names, if it names one.
    pub id: Option<&'a str>,
}

impl<'a> Link<'a> {
    /// `field` names `id`, a row of `target` of the new row's owner.
    pub fn same_owner<S>(field: &'static str, target: &'static Table, id: Option<&'a S>) -> Self
    where
        S: AsRef<str> + ?Sized,
    {
        Link::new(field, target, LinkRule::SameOwner, id)
    }

    /// `field` names `id`, any row of `target` (its rows are public).
    pub fn any<S>(field: &'static str, target: &'static Table, id: Option<&'a S>) -> Self
    where
        S: AsRef<str> + ?Sized,
    {
        Link::new(field, target, LinkRule::Any, id)
    }

    /// `field` names `id`, which no row of `target` can be for the new
    /// row's owner: any value is refused.
    pub fn nothing<S>(field: &'static str, target: &'static Table, id: Option<&'a S>) -> Self
    where
        S: AsRef<str> + ?Sized,
    {
        Link::new(field, target, LinkRule::Nothing, id)
    }

    fn new<S>(
        field: &'static str,
        target: &'static Table,
        rule: LinkRule,
        id: Option<&'a S>,
    ) -> Self
    where
        S: AsRef<str> + ?Sized,
    {
        Link {
            field,
            target,
            rule,
            id: id.map(AsRef::as_ref),
        }
    }
}

/// The team's hooks of one resource, as the handlers call them (made from
/// the team's hooks type by the generated module's `hooks` function).
pub struct HookFns<R: Resource> {
    pub before_create: for<'a> fn(&'a Access, &'a mut R::Create) -> HookFuture<'a>,
    pub before_update: for<'a> fn(&'a Access, &'a str, &'a mut R::Update) -> HookFuture<'a>,
    pub before_delete: for<'a> fn(&'a Access, &'a str) -> HookFuture<'a>,
}

/// A resource's row type and what is particular to its fields.
pub trait Resource: Serialize + FromColumns + Send + Sync + Unpin + Sized + 'static {
    /// The body of a create.
    type Create: DeserializeOwned + Send + Sync + 'static;
    /// The body of an update (absent fields stay as they are).
    type Update: DeserializeOwned + Send + Sync + 'static;

    /// The table.
    const TABLE: &'static Table;

    /// The row's id.
    fn id(&self) -> &str;
    /// The row's owner value (`None` for an unowned resource).
    fn owner(&self) -> Option<&str>;
    /// The value of the sort key `key` (one of the list rules' keys).
    fn sort_value(&self, key: &str) -> serde_json::Value;
    /// Appends ` AND "field" = ?` for each filter of `query`, after the
    /// value passes the field's checks (422 otherwise).
    /// (None by default: a list without filters.)
    fn filter(query: &ListQuery, sql: &mut Sql) -> Result<(), Problem> {
        let _ = (query, sql);
        Ok(())
    }

    /// Every constraint of the spec on a create; all violations in one 422.
    fn check_create(input: &Self::Create) -> Result<(), Problem>;
    /// Every constraint of the spec on an update.
    fn check_update(input: &Self::Update) -> Result<(), Problem>;
    /// The field values of the INSERT, in the table's order, defaults
    /// applied.
    fn insert_values(input: &Self::Create, values: &mut Values);
    /// Appends `, "field" = ?` for each field the update sets.
    fn assign(input: &Self::Update, sql: &mut Sql);
    /// The references a create names (none by default: a resource
    /// without `ref` fields).
    fn create_links(input: &Self::Create) -> Vec<Link<'_>> {
        let _ = input;
        Vec::new()
    }
    /// The references an update names (none by default).
    fn update_links(input: &Self::Update) -> Vec<Link<'_>> {
        let _ = input;
        Vec::new()
    }
    /// Whether a create body sets `field`, one of the table's field rules
    /// with writers (none by default: a resource without write rules).
    fn create_sets(input: &Self::Create, field: &str) -> bool {
        let _ = (input, field);
        false
    }
    /// Whether an update body sets `field` (to a value or to null).
    fn update_sets(input: &Self::Update, field: &str) -> bool {
        let _ = (input, field);
        false
    }
    /// The team's hooks of this resource.
    fn hooks(app: &App) -> &HookFns<Self>;
}

/// `GET {path}`: a page of the rows the caller reaches.
pub async fn list<R: Resource>(
    access: Access,
    RawQuery(query): RawQuery,
) -> Result<Response, Problem> {
    let t = R::TABLE;
    let query = page::parse(query.as_deref(), &t.list)?;
    let keys = query.filters.iter().map(|(f, _)| *f);
    fields::unreadable_keys(
        t.fields,
        &access.caller,
        &access.rows,
        keys.chain([query.sort.key]),
    )?;
    let mut sql = select(&access.db, t, "1 = 1");
    scope(&mut sql, t, &access.rows);
    R::filter(&query, &mut sql)?;
    query.push_after(&mut sql);
    query.push_order_limit(&mut sql, t.table);
    let rows: Vec<R> = access.db.rows(db::Access::Read, &sql).await?;
    access.db.commit().await?;
    let page = query.page(rows, |row| {
        (row.sort_value(query.sort.key), row.id().to_owned())
    });
    let page = page.map(|row| shown(row, &access.caller));
    Ok(body::reply(StatusCode::OK, &page))
}

/// `GET {path}/{id}`: the row, if the caller reaches it (404 otherwise,
/// whether the row is missing or another owner's).
pub async fn get<R: Resource>(access: Access, Path(id): Path<String>) -> Result<Response, Problem> {
    let t = R::TABLE;
    if !is_id(&id) {
        return Err(Problem::not_found());
    }
    let mut sql = select(&access.db, t, "\"id\" = ");
    sql.bind(id, Kind::Uuid);
    scope(&mut sql, t, &access.rows);
    let row = access.db.row::<R>(db::Access::Read, &sql).await?;
    access.db.commit().await?;
    match row {
        Some(row) => Ok(body::reply(StatusCode::OK, &shown(row, &access.caller))),
        None => Err(Problem::not_found()),
    }
}

/// `POST {path}`: checks, the team's hook, checks again (the hook may have
/// changed the input), references, then one INSERT owned by the caller.
pub async fn create<R: Resource>(
    State(app): State<App>,
    access: Access,
    Json(mut input): Json<R::Create>,
) -> Result<Response, Problem> {
    let t = R::TABLE;
    fields::refused_on_create(t.fields, &access.caller, t.owner.is_some(), |f| {
        R::create_sets(&input, f)
    })?;
    R::check_create(&input)?;
    (R::hooks(&app).before_create)(&access, &mut input).await?;
    R::check_create(&input)?;
    let owner = match t.owner {
        Some(_) => Some(access.require_owner()?),
        None => None,
    };
    let links = R::create_links(&input);
    let targets = link_targets(owner, &links)?;
    let now = now();
    let mut values = Values::default();
    values.bind(uuid::Uuid::new_v4().to_string());
    if let Some(owner) = owner {
        values.bind(owner);
    }
    R::insert_values(&input, &mut values);
    values.bind(&now).bind(&now);
    let statements = t.statements(access.db.engine());
    let mut sql = Sql::with_values(access.db.engine(), statements.insert, values);
    // The references are checked by the INSERT itself (one statement, one
    // trip to the database): it adds no row unless each names a row its
    // rule reaches.
    for (i, (link, id, rows)) in targets.iter().enumerate() {
        sql.push(if i == 0 { " WHERE " } else { " AND " });
        push_exists(&mut sql, link.target, id, rows);
    }
    sql.push(" RETURNING ").push(statements.columns);
    let first = targets
        .first()
        .map(|(link, _, _)| (link.field, link.target));
    let Some(row) = access.db.row::<R>(db::Access::Write, &sql).await? else {
        // A reference named no row it may: which one, for the 422 (the
        // first, if the row it named went away in between).
        check_links(&access.db, owner, links).await?;
        return Err(match first {
            Some((field, target)) => no_such(field, target),
            None => Problem::internal(&"an INSERT ... RETURNING answered no row"),
        });
    };
    access.db.commit().await?;
    let location = format!("{}/{}", t.path, row.id());
    Ok(body::created(&location, &shown(row, &access.caller)))
}

/// `PATCH {path}/{id}`: checks, the hook, checks again, references (to rows
/// of the row's own owner, whoever changes it), then one UPDATE of a row
/// the caller reaches. The answer carries the row only for those who may
/// also get it.
pub async fn update<R: Resource>(
    State(app): State<App>,
    access: Access,
    Path(id): Path<String>,
    Json(mut input): Json<R::Update>,
) -> Result<Response, Problem> {
    let t = R::TABLE;
    if !is_id(&id) {
        return Err(Problem::not_found());
    }
    let sets = |f: &str| R::update_sets(&input, f);
    let owner_updates = t.owner.is_some() && access.grants.owner;
    let own_only = fields::refused_on_update(t.fields, &access.caller, owner_updates, sets)?;
    // A column only the row's owner may set, sent by a caller who reaches
    // other owners' rows too: the row must be its own (422 otherwise),
    // and the UPDATE reaches only its own rows.
    let mut rows = access.rows.clone();
    let mut stored_owner = None;
    if own_only && rows == Scope::All {
        let Some(owner) = owner_of(&access.db, t, &rows, &id).await? else {
            return Err(Problem::not_found());
        };
        if access.owner.as_deref() != Some(owner.as_str()) {
            return Err(fields::refused_not_owner(t.fields, &access.caller, sets));
        }
        rows = Scope::Owned(owner.clone());
        stored_owner = Some(owner);
    }
    R::check_update(&input)?;
    (R::hooks(&app).before_update)(&access, &id, &mut input).await?;
    R::check_update(&input)?;
    let links = R::update_links(&input);
    let needs_owner = t.owner.is_some()
        && links
            .iter()
            .any(|l| l.rule == LinkRule::SameOwner && l.id.is_some());
    let owner = match stored_owner {
        Some(owner) => Some(owner),
        None if needs_owner => {
            let Some(owner) = owner_of(&access.db, t, &rows, &id).await? else {
                return Err(Problem::not_found());
            };
            Some(owner)
        }
        None => None,
    };
    check_links(&access.db, owner.as_deref(), links).await?;
    let mut sql = access.db.sql("UPDATE ");
    sql.push(t.table)
        .push(" SET \"updated_at\" = ")
        .bind(now(), Kind::Timestamp);
    R::assign(&input, &mut sql);
    sql.push(" WHERE \"id\" = ").bind(id, Kind::Uuid);
    scope(&mut sql, t, &rows);
    sql.push(" RETURNING ")
        .push(t.statements(access.db.engine()).columns);
    let Some(row) = access.db.row::<R>(db::Access::Write, &sql).await? else {
        return Err(Problem::not_found());
    };
    access.db.commit().await?;
    if !t.update_reply.reach(&access.caller, claim(t), row.owner()) {
        return Ok(StatusCode::NO_CONTENT.into_response());
    }
    Ok(body::reply(StatusCode::OK, &shown(row, &access.caller)))
}

/// `DELETE {path}/{id}`: the hook, then one DELETE of a row the caller
/// reaches; a row that other rows still name is a 409 naming the first.
pub async fn delete<R: Resource>(
    State(app): State<App>,
    access: Access,
    Path(id): Path<String>,
) -> Result<Response, Problem> {
    let t = R::TABLE;
    if !is_id(&id) {
        return Err(Problem::not_found());
    }
    (R::hooks(&app).before_delete)(&access, &id).await?;
    let mut sql = access.db.sql("DELETE FROM ");
    sql.push(t.table)
        .push(" WHERE \"id\" = ")
        .bind(&id, Kind::Uuid);
    scope(&mut sql, t, &access.rows);
    match access.db.execute(&sql).await {
        Ok(n) if n > 0 => {
            access.db.commit().await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Ok(_) => Err(Problem::not_found()),
        Err(e) if super::problem::is_foreign_key_violation(&e) => {
            // The failed statement ended the transaction (PostgreSQL):
            // the referrers are looked up in a new one.
            access.db.rollback().await;
            Err(still_referenced(&access.db, t, &id)
                .await
                .unwrap_or(e.into()))
        }
        Err(e) => Err(e.into()),
    }
}

/// Whether a path's id can name a row (ids are UUIDs): anything else is
/// 404 without a query (PostgreSQL would refuse to compare it with a
/// uuid column).
fn is_id(id: &str) -> bool {
    super::formats::is_uuid(id)
}

/// `SELECT <columns> FROM <table> WHERE <condition>`.
fn select(db: &Session, t: &Table, condition: &str) -> Sql {
    let mut sql = db.sql("SELECT ");
    sql.push(t.statements(db.engine()).columns)
        .push(" FROM ")
        .push(t.table)
        .push(" WHERE ")
        .push(condition);
    sql
}

/// The caller's scope on an owned table (` AND "owner" = ?`); an unowned
/// table's rows are reached only through role and public grants, whose
/// scope is every row.
fn scope(sql: &mut Sql, t: &Table, rows: &Scope) {
    if let Some(owner) = &t.owner {
        rows.push_condition(sql, owner.column);
    }
}

fn claim(t: &Table) -> Option<OwnerClaim> {
    t.owner.as_ref().map(|o| o.claim)
}

/// `row` as `caller` is shown it: without the columns whose readers do
/// not reach it on this row.
fn shown<R: Resource>(row: R, caller: &Caller) -> Shown<R> {
    let t = R::TABLE;
    let hidden = fields::hidden(t.fields, caller, claim(t), row.owner());
    Shown::new(row, hidden)
}

/// The stored owner of the row `id`, if `rows` reaches it.
async fn owner_of(
    db: &Session,
    t: &Table,
    rows: &Scope,
    id: &str,
) -> Result<Option<String>, Problem> {
    let Some(owner) = &t.owner else {
        return Ok(None);
    };
    let mut sql = db.sql("SELECT ");
    sql.push(owner.column)
        .push(" FROM ")
        .push(t.table)
        .push(" WHERE \"id\" = ")
        .bind(id, Kind::Uuid);
    rows.push_condition(&mut sql, owner.column);
    Ok(db
        .row::<Text>(db::Access::Read, &sql)
        .await?
        .map(|Text(owner)| owner))
}

/// The rows each reference of `links` that names an id may name: those
/// its rule reaches for the new row's owner `owner` (on update, the row's
/// stored owner), never for the caller's role. A reference no row can
/// satisfy is 422 naming the field, without a query.
fn link_targets<'l, 'a>(
    owner: Option<&str>,
    links: &'l [Link<'a>],
) -> Result<Vec<(&'l Link<'a>, &'a str, Scope)>, Problem> {
    let mut targets = Vec::with_capacity(links.len());
    for link in links {
        let Some(id) = link.id else {
            continue;
        };
        let t = link.target;
        let rows = match (link.rule, owner) {
            (LinkRule::Nothing, _) => return Err(no_such(link.field, t)),
            (LinkRule::SameOwner, Some(owner)) => Scope::Owned(owner.to_owned()),
            // Both tables unowned: the rows of nobody, the service's own.
            (LinkRule::SameOwner, None) if t.owner.is_none() => Scope::All,
            // Never every row of an owned table for want of an owner.
            (LinkRule::SameOwner, None) => {
                return Err(Problem::internal(
                    &"a same-owner reference without the new row's owner",
                ));
            }
            (LinkRule::Any, _) => Scope::All,
        };
        targets.push((link, id, rows));
    }
    Ok(targets)
}

/// `EXISTS (SELECT 1 FROM <t> WHERE "id" = ? [AND <owner> = ?])`.
fn push_exists(sql: &mut Sql, t: &Table, id: &str, rows: &Scope) {
    sql.push("EXISTS (SELECT 1 FROM ")
        .push(t.table)
        .push(" WHERE \"id\" = ")
        .bind(id, Kind::Uuid);
    scope(sql, t, rows);
    sql.push(")");
}

/// Each reference must name a row its rule reaches ([`link_targets`]):
/// 422 naming the first field that does not.
async fn check_links(
    db: &Session,
    owner: Option<&str>,
    links: Vec<Link<'_>>,
) -> Result<(), Problem> {
    for (link, id, rows) in link_targets(owner, &links)? {
        let t = link.target;
        let mut sql = db.sql("SELECT 1 FROM ");
        sql.push(t.table)
            .push(" WHERE \"id\" = ")
            .bind(id, Kind::Uuid);
        scope(&mut sql, t, &rows);
        if db.row::<One>(db::Access::Read, &sql).await?.is_none() {
            return Err(no_such(link.field, t));
        }
    }
    Ok(())
}

/// The 422 of a reference `field` that names no row of `target` it may.
fn no_such(field: &'static str, target: &Table) -> Problem {
    Problem::invalid(field, format!("no `{}` with this id", target.name))
}

/// The first resource whose rows still name the row `id` of `t`.
async fn still_referenced(db: &Session, t: &Table, id: &str) -> Option<Problem> {
    for (resource, field) in t.referrers {
        let mut sql = db.sql("SELECT 1 FROM ");
        sql.push(&quote(resource))
            .push(" WHERE ")
            .push(&quote(field))
            .push(" = ")
            .bind(id, Kind::Uuid)
            .push(" LIMIT 1");
        let found = db.row::<One>(db::Access::Write, &sql).await.ok()?;
        if found.is_some() {
            return Some(Problem::still_referenced(resource, field));
        }
    }
    None
}
