//! Rust sources of the generated project, written as text in
//! prettyplease's layout.
//!
//! A resource's module (and the security tests, `generate::tests`) is
//! written line by line by a [`Writer`] straight from the plan: a line of
//! code is written flat, as prettyplease prints it when it fits its
//! margin, in the layout prettyplease gives it otherwise where that layout
//! is fixed (a broken call, chain or list), and an item with a line that
//! still does not fit is parsed and printed by prettyplease itself, so
//! the bytes are prettyplease's whatever the spec's names. Skipping the
//! token streams, their parse and their printing is most of the time and
//! memory generation used to take. The small files of `generate::mod`
//! (crate root, hooks module) are still built with quote and printed by
//! [`print`].
//!
//! Stage: generate. Input: a resource's plan (`generate::plan`). Output:
//! its `api/src/<resource>.rs` (its table, operations, row and input
//! types, checks, the per-field parts of the runtime's handlers, hooks and
//! routes; `generate::mod` writes the crate root, the hooks module and the
//! team's files), printed by one small function per concern. Invariants:
//! every security decision comes from the model (grants, owner rule and
//! readers, update replies, writable columns, link rules, rates); no
//! statement is written here except the INSERT, so the owner condition is
//! appended by the runtime's `resource` module alone.

use std::fmt::{self, Write as _};

use proc_macro2::TokenStream;

use super::ident;
use super::plan::{Dialect, Field, ResourcePlan, kind};
use crate::model::{Column, ColumnType, LinkTargets, Operation, OperationKind, Scope};

/// Pretty-prints a token stream as a file, with the blank lines between
/// items that rustfmt keeps and prettyplease does not write.
pub fn print(tokens: TokenStream) -> String {
    let file: syn::File = syn::parse2(tokens).expect("generated tokens form a valid file");
    spaced(&prettyplease::unparse(&file))
}

/// `text` with a blank line before each item that follows another: at the
/// top level (imports stay together, and the module's docs end with one),
/// and between the functions of an `impl` or `trait` block.
pub(super) fn spaced(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 16);
    let mut prev: Option<&str> = None;
    for line in text.lines() {
        if prev.is_some_and(|p| blank_between(p, line)) {
            out.push('\n');
        }
        out.push_str(line);
        out.push('\n');
        prev = Some(line);
    }
    out
}

/// Whether `line` is a (possibly `pub`) `use` or `mod` declaration.
fn declares(line: &str, keyword: &str) -> bool {
    line.strip_prefix("pub ")
        .unwrap_or(line)
        .starts_with(keyword)
}

fn blank_between(prev: &str, line: &str) -> bool {
    let starts_item = |l: &str| {
        [
            "fn ", "pub ", "///", "#[", "async ", "impl", "struct ", "static ", "const ", "mod ",
            "use ", "trait ",
        ]
        .iter()
        .any(|p| l.starts_with(p))
    };
    let ends_item = |l: &str| l.ends_with('}') || l.ends_with(';');
    if prev.starts_with("//!") {
        return !line.starts_with("//!");
    }
    if let (Some(p), Some(l)) = (prev.strip_prefix("    "), line.strip_prefix("    ")) {
        // Inside a block: between an impl's or a trait's items.
        let nested = |s: &str| s.starts_with(' ');
        return !nested(p)
            && !nested(l)
            && ends_item(p)
            && starts_item(l)
            && !(p.starts_with("type ") && l.starts_with("type "))
            && (p == "}" || p.starts_with("const ") || p.starts_with("type "));
    }
    let comment = prev.trim_start().starts_with("//");
    !line.starts_with(' ')
        && !comment
        && ends_item(prev)
        && starts_item(line)
        && !(declares(prev, "use ") && declares(line, "use "))
        && !(declares(prev, "mod ") && declares(line, "mod "))
}

/// prettyplease's margin: a line of code stays on one line when it is at
/// most this long after its indentation, or [`MIN_SPACE`], whichever is more.
const MARGIN: usize = 89;
const MIN_SPACE: usize = 60;

/// A Rust file written line by line, laid out as prettyplease lays it out
/// ([`spaced`] then adds the blank lines). A line of code is written flat,
/// which is how prettyplease prints it when it fits; an item with a line
/// that does not fit is printed by prettyplease itself, so the bytes are
/// prettyplease's whatever the length of the spec's names.
#[derive(Default)]
pub(super) struct Writer {
    pub(super) out: String,
    depth: usize,
    /// Whether a line of the current item is too long to stay flat.
    overflow: bool,
}

impl Writer {
    /// A writer whose lines start at `depth` (four spaces each).
    pub(super) fn at(depth: usize) -> Writer {
        Writer {
            depth,
            ..Writer::default()
        }
    }

    /// The room for a line's code at the current depth.
    fn width(&self) -> usize {
        MARGIN.saturating_sub(4 * self.depth).max(MIN_SPACE)
    }

    /// A line whose layout does not depend on its length (a doc comment, a
    /// brace, a field holding a string); returns the length of its code.
    pub(super) fn line(&mut self, text: fmt::Arguments<'_>) -> usize {
        for _ in 0..self.depth {
            self.out.push_str("    ");
        }
        let start = self.out.len();
        self.out.write_fmt(text).expect("writing to a String");
        let len = self.out.len() - start;
        self.out.push('\n');
        len
    }

    /// A line of code that prettyplease keeps on one line only if it fits.
    pub(super) fn code(&mut self, text: fmt::Arguments<'_>) {
        if self.line(text) > self.width() {
            self.overflow = true;
        }
    }

    /// A line that opens a block.
    pub(super) fn open(&mut self, text: fmt::Arguments<'_>) {
        self.line(text);
        self.depth += 1;
    }

    /// A line of code that opens a block (`if let ... {`), which
    /// prettyplease keeps on one line only if it fits.
    pub(super) fn open_code(&mut self, text: fmt::Arguments<'_>) {
        self.code(text);
        self.depth += 1;
    }

    /// A line that closes a block.
    pub(super) fn close(&mut self, text: fmt::Arguments<'_>) {
        self.depth -= 1;
        self.line(text);
    }

    /// `flat` on one line if it fits, else the lines `broken` writes.
    pub(super) fn flat_or(&mut self, flat: fmt::Arguments<'_>, broken: impl FnOnce(&mut Writer)) {
        self.flat_or_with(flat, 0, broken);
    }

    /// [`Writer::flat_or`] for the last field of a struct literal, whose
    /// trailing comma prettyplease does not count when it checks the fit.
    pub(super) fn flat_or_last(
        &mut self,
        flat: fmt::Arguments<'_>,
        broken: impl FnOnce(&mut Writer),
    ) {
        self.flat_or_with(flat, 1, broken);
    }

    fn flat_or_with(
        &mut self,
        flat: fmt::Arguments<'_>,
        uncounted: usize,
        broken: impl FnOnce(&mut Writer),
    ) {
        let mark = self.out.len();
        if self.line(flat).saturating_sub(uncounted) > self.width() {
            self.out.truncate(mark);
            broken(self);
        }
    }

    /// A top-level item that `write` writes, printed by prettyplease
    /// instead if one of its lines of code does not fit.
    pub(super) fn item(&mut self, write: impl FnOnce(&mut Writer)) {
        self.within(&[], "", write);
    }

    /// What `write` writes inside the items and expressions that `open`
    /// starts (one line each once printed) and `close` ends, printed by
    /// prettyplease within them instead if one of its lines does not fit.
    pub(super) fn within(&mut self, open: &[&str], close: &str, write: impl FnOnce(&mut Writer)) {
        let mark = self.out.len();
        let outer = std::mem::take(&mut self.overflow);
        write(self);
        if std::mem::replace(&mut self.overflow, outer) {
            let text = self.out.split_off(mark);
            let source = format!("{}\n{text}{close}\n", open.join("\n"));
            let file = syn::parse_file(&source).expect("emitted code parses");
            let printed = prettyplease::unparse(&file);
            let lines: Vec<&str> = printed.lines().collect();
            for line in &lines[open.len()..lines.len() - open.len()] {
                self.out.push_str(line);
                self.out.push('\n');
            }
        }
    }
}

/// A string literal as quote makes it and prettyplease prints it.
pub(super) fn lit(text: &str) -> String {
    proc_macro2::Literal::string(text).to_string()
}

/// String literals separated by commas (`"a", "b"`).
pub(super) fn lits(texts: &[String]) -> String {
    let quoted: Vec<String> = texts.iter().map(|t| lit(t)).collect();
    quoted.join(", ")
}

/// An integer literal without a type suffix (`20`, not `20u32`).
fn int(n: impl Into<u64>) -> proc_macro2::Literal {
    proc_macro2::Literal::u64_unsuffixed(n.into())
}

fn rate(r: crate::spec::Rate) -> String {
    format!("Rate::new({}, {})", int(r.count), int(r.per.seconds()))
}

/// The Rust type of a column's value (not null) as a request carries it:
/// a `number` keeps how its text compares with its `f64`, for exact bounds.
fn value_type(column: &Column) -> &'static str {
    match column.ty {
        ColumnType::Number => "palisade_runtime::check::Number",
        // Any JSON number without a fractional part, `5.0` too.
        ColumnType::Integer => "palisade_runtime::check::Integer",
        _ => row_type(column),
    }
}

/// The Rust type of a column's value (not null) as read from a row.
fn row_type(column: &Column) -> &'static str {
    match column.ty {
        ColumnType::Integer => "i64",
        ColumnType::Number => "f64",
        ColumnType::Boolean => "bool",
        _ => "String",
    }
}

/// `Some(n)` or `None`, `n` printed by `show`.
fn option<T>(value: Option<T>, show: impl FnOnce(T) -> String) -> String {
    value.map_or_else(|| "None".to_string(), |v| format!("Some({})", show(v)))
}

/// Statements that check `v` (a `&T` of the column's value type) into `c`.
fn value_checks(w: &mut Writer, column: &Column) {
    let name = lit(&column.name);
    let c = &column.constraints;
    let length = |n: Option<u32>| option(n, |n| int(n).to_string());
    match &column.ty {
        ColumnType::Integer => {
            let bound = |n: &Option<serde_json::Number>| {
                option(n.as_ref().and_then(serde_json::Number::as_i64), |i| {
                    proc_macro2::Literal::i64_unsuffixed(i).to_string()
                })
            };
            let (min, max) = (bound(&c.min), bound(&c.max));
            w.code(format_args!("c.integer({name}, v.get(), {min}, {max});"));
        }
        ColumnType::Number => {
            let bound = |n: &Option<serde_json::Number>| {
                option(n.as_ref().and_then(serde_json::Number::as_f64), |f| {
                    proc_macro2::Literal::f64_unsuffixed(f).to_string()
                })
            };
            let (min, max) = (bound(&c.min), bound(&c.max));
            w.code(format_args!("c.number({name}, v, {min}, {max});"));
        }
        ColumnType::Boolean => w.code(format_args!("let _ = v;")),
        ty => {
            let (min, max) = (length(c.min_length), length(c.max_length));
            w.code(format_args!("c.string({name}, v, {min}, {max});"));
            let format = match ty {
                ColumnType::Email => Some("email"),
                ColumnType::Url => Some("url"),
                ColumnType::Uuid | ColumnType::Ref { .. } => Some("uuid"),
                ColumnType::Date => Some("date"),
                ColumnType::Datetime => Some("datetime"),
                _ => None,
            };
            if let Some(format) = format {
                w.code(format_args!("c.{format}({name}, v);"));
            }
            if c.pattern.is_some() {
                let pattern = ident::constant("PATTERN_", &column.name);
                w.code(format_args!("c.pattern({name}, v, &{pattern});"));
            }
            if let Some(values) = &c.values {
                let values = lits(values);
                w.code(format_args!("c.one_of({name}, v, &[{values}]);"));
            }
        }
    }
}

/// Whether the column's Rust value type is `Copy`.
fn is_copy(column: &Column) -> bool {
    matches!(
        column.ty,
        ColumnType::Integer | ColumnType::Number | ColumnType::Boolean
    )
}

/// A Rust expression for a column's default value, of the input's type
/// ([`value_type`]) or else of the row's ([`row_type`]). Numbers carry
/// their type's suffix (`5i64`), as quote writes an `i64` or an `f64`.
fn default_value(column: &Column, input: bool) -> Option<String> {
    let value = column.default.as_ref()?;
    Some(match (&column.ty, value) {
        (ColumnType::Integer, serde_json::Value::Number(n)) => {
            let i = proc_macro2::Literal::i64_suffixed(n.as_i64()?);
            if input {
                format!("palisade_runtime::check::Integer::from({i})")
            } else {
                i.to_string()
            }
        }
        (ColumnType::Number, serde_json::Value::Number(n)) => {
            let f = proc_macro2::Literal::f64_suffixed(n.as_f64()?);
            if input {
                format!("palisade_runtime::check::Number::from({f})")
            } else {
                f.to_string()
            }
        }
        (ColumnType::Boolean, serde_json::Value::Bool(b)) => b.to_string(),
        (_, serde_json::Value::String(s)) => format!("{}.to_owned()", lit(s)),
        _ => return None,
    })
}

/// The Rust module of one resource: its doc, imports, table, operations,
/// types, the per-field parts of the runtime's handlers, hooks and routes.
pub fn resource_module(plan: &ResourcePlan<'_>) -> String {
    let mut w = Writer::default();
    module_doc(&mut w, plan);
    imports(&mut w, plan);
    w.item(|w| table(w, plan));
    operations(&mut w, plan);
    patterns(&mut w, plan);
    w.item(|w| row(w, plan));
    w.item(|w| from_row(w, plan));
    w.item(|w| create_input(w, plan));
    w.item(|w| update_input(w, plan));
    w.item(|w| resource_impl(w, plan));
    w.out.push_str(HOOKS);
    w.item(|w| routes(w, plan));
    spaced(&w.out)
}

/// Doc text as lines with the leading space `///` and `//!` comments have.
fn doc_lines(text: &str) -> impl Iterator<Item = String> + '_ {
    text.lines().map(|l| format!(" {l}").trim_end().to_string())
}

/// A spec `description` (or another text of the spec that reaches a doc
/// comment) as one paragraph of Rust doc: its lines joined (indentation
/// would make a code block, which rustdoc would compile as a test), code
/// fences of either kind defused, and the characters that change the
/// direction of text (which rustc refuses in comments) written as their
/// escapes. Empty when the text has nothing to show.
pub fn description(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace("```", "'''")
        .replace("~~~", "'''")
        .chars()
        .map(|c| match c {
            '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' => c.escape_unicode().to_string(),
            c => c.to_string(),
        })
        .collect()
}

fn field_doc(w: &mut Writer, field: &Field<'_>) {
    let doc = field.column.description.as_deref().map(description);
    if let Some(d) = doc.filter(|d| !d.is_empty()) {
        w.line(format_args!("/// {d}"));
    }
}

fn module_doc(w: &mut Writer, plan: &ResourcePlan<'_>) {
    let r = plan.resource;
    let mut text = format!("The `{}` resource: `/{}`.\n", r.name, r.plural);
    let doc = r.description.as_deref().map(description);
    if let Some(d) = doc.filter(|d| !d.is_empty()) {
        text.push_str(&format!("\n{d}\n"));
    }
    text.push_str(&match &r.scope {
        Scope::Owned { column, claim, .. } => format!(
            "\nRows are owned: `{column}` holds the `{claim}` claim of their creator,\n\
             and every statement filters on it for a caller who reaches only\n\
             their own rows.",
            claim = description(claim)
        ),
        Scope::Unowned => "\nRows are not owned: only role and public grants reach them.".into(),
    });
    text.push_str(
        "\n\nThe handlers are the runtime's (`palisade_runtime::resource`), driven by\n\
         `TABLE`, the operations below and the `Resource` implementation of `Row`.",
    );
    for line in doc_lines(&text) {
        w.line(format_args!("//!{line}"));
    }
}

fn imports(w: &mut Writer, plan: &ResourcePlan<'_>) {
    let owned = plan.owned();
    let routed = !plan.resource.operations.is_empty();
    let links = !(plan.create_refs.is_empty() && plan.update_refs.is_empty());
    let pii = plan.fields.iter().any(|f| f.column.pii);
    let rate = plan
        .resource
        .operations
        .iter()
        .any(|op| op.rate.bucket != "default");
    let mut resource = vec![];
    if routed {
        resource.push("self");
    }
    resource.push("HookFns");
    if links {
        resource.push("Link");
    }
    if owned {
        resource.push("Owner");
    }
    resource.extend(["Resource", "Table"]);
    let mut uses = vec!["axum::Router".to_string()];
    if routed {
        uses.push("axum::handler::Handler as _".into());
    }
    uses.push(if owned {
        "palisade_runtime::access::{Access, Grants, OwnerClaim}".into()
    } else {
        "palisade_runtime::access::{Access, Grants}".into()
    });
    uses.push("palisade_runtime::db::{Columns, FromColumns, Kind, Sql, Statements, Values}".into());
    if !rules(plan).is_empty() {
        uses.push("palisade_runtime::fields::FieldRule".into());
    }
    uses.push(if has_filters(plan) {
        "palisade_runtime::page::{ListQuery, ListRules}".into()
    } else {
        "palisade_runtime::page::ListRules".into()
    });
    uses.push("palisade_runtime::problem::Problem".into());
    uses.push(format!(
        "palisade_runtime::resource::{{{}}}",
        resource.join(", ")
    ));
    match (plan.update.is_empty(), pii) {
        (false, true) => uses.push("palisade_runtime::row::{Patch, Pii}".into()),
        (false, false) => uses.push("palisade_runtime::row::Patch".into()),
        (true, true) => uses.push("palisade_runtime::row::Pii".into()),
        (true, false) => {}
    }
    uses.push("palisade_runtime::server::{App, Operation}".into());
    if rate {
        uses.push("palisade_runtime::throttle::Rate".into());
    }
    uses.push("serde::{Deserialize, Serialize}".into());
    for path in uses {
        w.line(format_args!("use {path};"));
    }
}

/// `Grants::OWNER.roles(&[..]).public()` and its shorter forms.
fn grants(g: &crate::model::Grants) -> String {
    let mut out = String::from(if g.owner {
        "Grants::OWNER"
    } else {
        "Grants::NONE"
    });
    if !g.roles.is_empty() {
        out.push_str(&format!(".roles(&[{}])", lits(&g.roles)));
    }
    if g.public {
        out.push_str(".public()");
    }
    out
}

fn owner_claim(plan: &ResourcePlan<'_>) -> String {
    match &plan.resource.scope {
        Scope::Owned { tenant: false, .. } => "OwnerClaim::User".into(),
        Scope::Owned { claim, .. } => format!("OwnerClaim::Claim({})", lit(claim)),
        Scope::Unowned => String::new(),
    }
}

fn table(w: &mut Writer, plan: &ResourcePlan<'_>) {
    let r = plan.resource;
    w.line(format_args!(
        "/// The table as the runtime's handlers use it: its statements, owner"
    ));
    w.line(format_args!("/// rule and list rules."));
    w.open(format_args!("pub static TABLE: Table = Table {{"));
    w.line(format_args!("name: {},", lit(&r.name)));
    w.line(format_args!("path: {},", lit(&format!("/{}", r.plural))));
    w.line(format_args!(
        "table: {},",
        lit(&crate::migrate::sqlite::quote(&r.name))
    ));
    for (engine, dialect) in [("sqlite", Dialect::Sqlite), ("postgres", Dialect::Postgres)] {
        w.open(format_args!("{engine}: Statements {{"));
        w.line(format_args!(
            "columns: {},",
            lit(&plan.columns_sql(dialect))
        ));
        w.line(format_args!("insert: {},", lit(&plan.insert_sql(dialect))));
        w.close(format_args!("}},"));
    }
    match plan.owner_field() {
        Some(f) => {
            w.open(format_args!("owner: Some(Owner {{"));
            w.line(format_args!("column: {},", lit(&f.sql)));
            w.code(format_args!("claim: {},", owner_claim(plan)));
            w.close(format_args!("}}),"));
        }
        None => {
            w.line(format_args!("owner: None,"));
        }
    }
    let rules = rules(plan);
    if rules.is_empty() {
        w.line(format_args!("fields: &[],"));
    } else {
        w.open(format_args!("fields: &["));
        for c in rules {
            let rule = |g: &Option<crate::model::Grants>| option(g.as_ref(), grants);
            w.open(format_args!("FieldRule {{"));
            w.line(format_args!("name: {},", lit(&c.name)));
            w.code(format_args!("read: {},", rule(&c.read)));
            w.code(format_args!("write: {},", rule(&c.write)));
            w.close(format_args!("}},"));
        }
        w.close(format_args!("],"));
    }
    let reply = r
        .operation(OperationKind::Update)
        .and_then(|o| o.replies_with_row.as_ref())
        .map_or_else(|| "Grants::NONE".to_string(), grants);
    w.code(format_args!("update_reply: {reply},"));
    w.open(format_args!("list: ListRules {{"));
    let limits = &plan.service.limits;
    w.line(format_args!(
        "default_limit: {},",
        int(limits.default_page_size)
    ));
    w.line(format_args!("max_limit: {},", int(limits.max_page_size)));
    let sort_keys: Vec<String> = r
        .sort
        .iter()
        .map(|key| {
            let (ty, nullable) = r
                .column(key)
                .map_or((&ColumnType::String, true), |c| (&c.ty, !c.required));
            format!("({}, {}, {nullable})", lit(key), kind(ty))
        })
        .collect();
    w.code(format_args!("sort_keys: &[{}],", sort_keys.join(", ")));
    w.line(format_args!("default_sort: \"-created_at\","));
    w.code(format_args!("filters: &[{}],", lits(&r.filters)));
    w.close(format_args!("}},"));
    let referrers: Vec<String> = r
        .referrers
        .iter()
        .map(|x| format!("({}, {})", lit(&x.resource), lit(&x.column)))
        .collect();
    w.code(format_args!("referrers: &[{}],", referrers.join(", ")));
    w.close(format_args!("}};"));
}

/// The columns with field rules: who reads or writes them, when not
/// everyone the operation is granted to.
fn rules<'p>(plan: &'p ResourcePlan<'_>) -> Vec<&'p Column> {
    plan.resource
        .columns
        .iter()
        .filter(|c| c.read.is_some() || c.write.is_some())
        .collect()
}

/// One `static` per operation the spec grants: its grants and throttle.
fn operations(w: &mut Writer, plan: &ResourcePlan<'_>) {
    let owner = if plan.owned() { "OWNED" } else { "None" };
    if plan.owned() {
        w.item(|w| {
            w.line(format_args!("/// Where the owner of a new row comes from."));
            w.code(format_args!(
                "const OWNED: Option<OwnerClaim> = Some({});",
                owner_claim(plan)
            ));
        });
    }
    for op in &plan.resource.operations {
        w.item(|w| operation(w, plan, op, owner));
    }
}

fn operation(w: &mut Writer, plan: &ResourcePlan<'_>, op: &Operation, owner: &str) {
    let constant = op.kind.name().to_ascii_uppercase();
    let name = lit(&format!("{}.{}", plan.name(), op.kind.name()));
    let grants = grants(&op.grants);
    let head = format!("pub static {constant}: Operation = Operation::new(");
    w.line(format_args!(
        "/// `{} {}`: {}.",
        op.method.as_str(),
        op.path,
        describe_grants(op)
    ));
    if op.rate.bucket == "default" {
        w.flat_or(format_args!("{head}{name}, {grants}, {owner});"), |w| {
            w.open(format_args!("{head}"));
            w.code(format_args!("{name},"));
            w.code(format_args!("{grants},"));
            w.code(format_args!("{owner},"));
            w.close(format_args!(");"));
        });
        return;
    }
    let throttle = format!(
        ".throttle({}, {}, {});",
        lit(&op.rate.bucket),
        rate(op.rate.user),
        rate(op.rate.anon)
    );
    w.flat_or(
        format_args!("{head}{name}, {grants}, {owner}){throttle}"),
        |w| {
            w.code(format_args!("{head}{name}, {grants}, {owner})"));
            w.depth += 1;
            w.code(format_args!("{throttle}"));
            w.depth -= 1;
        },
    );
}

fn patterns(w: &mut Writer, plan: &ResourcePlan<'_>) {
    for f in plan.patterns() {
        let p = f.column.constraints.pattern.as_deref().unwrap_or_default();
        let anchored = lit(&format!("^(?:{p})$"));
        let head = format!(
            "static {}: palisade_runtime::check::Pattern = palisade_runtime::check::Pattern::new(",
            ident::constant("PATTERN_", f.name())
        );
        // Nothing breaks before the call's arguments.
        w.flat_or(format_args!("{head}{anchored});"), |w| {
            w.open(format_args!("{head}"));
            w.line(format_args!("{anchored},"));
            w.close(format_args!(");"));
        });
    }
}

/// A field declaration: its doc, serde rename and attributes.
fn field_decl(w: &mut Writer, field: &Field<'_>, ty: &str, attr: Option<&str>) {
    field_doc(w, field);
    if field.renamed {
        w.line(format_args!("#[serde(rename = {})]", lit(field.name())));
    }
    if let Some(attr) = attr {
        w.line(format_args!("{attr}"));
    }
    w.code(format_args!("pub {}: {ty},", field.ident));
}

/// `T`, or `Pii<T>` for a field marked `pii`.
fn pii(field: &Field<'_>, ty: &str) -> String {
    if field.column.pii {
        format!("Pii<{ty}>")
    } else {
        ty.to_string()
    }
}

/// A struct's declaration, its fields written by `fields` (`{}` if none).
fn struct_decl(w: &mut Writer, name: &str, empty: bool, fields: impl FnOnce(&mut Writer)) {
    if empty {
        w.line(format_args!("pub struct {name} {{}}"));
        return;
    }
    w.open(format_args!("pub struct {name} {{"));
    fields(w);
    w.close(format_args!("}}"));
}

fn row(w: &mut Writer, plan: &ResourcePlan<'_>) {
    w.line(format_args!(
        "/// A row as the API returns it (`Debug` redacts `pii` fields)."
    ));
    w.line(format_args!("#[derive(Clone, Debug, Serialize)]"));
    struct_decl(w, "Row", plan.fields.is_empty(), |w| {
        for f in &plan.fields {
            let ty = pii(f, row_type(f.column));
            if f.column.required {
                field_decl(w, f, &ty, None);
            } else {
                field_decl(w, f, &format!("Option<{ty}>"), None);
            }
        }
    });
}

fn from_row(w: &mut Writer, plan: &ResourcePlan<'_>) {
    let values: Vec<String> = plan
        .fields
        .iter()
        .map(|f| format!("{}: r.next()?", f.ident))
        .collect();
    w.open(format_args!("impl FromColumns for Row {{"));
    w.open(format_args!(
        "fn from_columns(r: &mut Columns<'_>) -> sqlx::Result<Row> {{"
    ));
    // prettyplease breaks a struct expression wider than 34 columns.
    let flat = format!("Row {{ {} ", values.join(", "));
    if flat.len() <= 34 {
        w.overflow = true;
    }
    w.open(format_args!("Ok(Row {{"));
    for value in &values {
        w.code(format_args!("{value},"));
    }
    w.close(format_args!("}})"));
    w.close(format_args!("}}"));
    w.close(format_args!("}}"));
}

fn create_input(w: &mut Writer, plan: &ResourcePlan<'_>) {
    w.line(format_args!(
        "/// The body of a create: unknown fields, the owner, `id` and the"
    ));
    w.line(format_args!("/// timestamps are refused."));
    w.line(format_args!("#[derive(Debug, Deserialize)]"));
    w.line(format_args!("#[serde(deny_unknown_fields)]"));
    struct_decl(w, "CreateInput", plan.create.is_empty(), |w| {
        for &i in &plan.create {
            let f = &plan.fields[i];
            let ty = pii(f, value_type(f.column));
            if f.column.required {
                field_decl(w, f, &ty, None);
            } else {
                // A missing `Option` field is `None`.
                field_decl(w, f, &format!("Option<{ty}>"), None);
            }
        }
    });
}

fn update_input(w: &mut Writer, plan: &ResourcePlan<'_>) {
    w.line(format_args!(
        "/// The body of an update: absent fields stay as they are."
    ));
    w.line(format_args!("#[derive(Debug, Default, Deserialize)]"));
    w.line(format_args!("#[serde(default, deny_unknown_fields)]"));
    struct_decl(w, "UpdateInput", plan.update.is_empty(), |w| {
        for &i in &plan.update {
            let f = &plan.fields[i];
            let ty = pii(f, value_type(f.column));
            field_decl(w, f, &format!("Patch<{ty}>"), None);
        }
    });
}

/// `input`, or `_input` when the function does not read it.
fn input(used: bool) -> &'static str {
    if used { "input" } else { "_input" }
}

/// The `impl Resource for Row`: what the runtime's handlers ask of this
/// resource's fields.
fn resource_impl(w: &mut Writer, plan: &ResourcePlan<'_>) {
    w.open(format_args!("impl Resource for Row {{"));
    w.line(format_args!("type Create = CreateInput;"));
    w.line(format_args!("type Update = UpdateInput;"));
    w.line(format_args!("const TABLE: &'static Table = &TABLE;"));
    w.open(format_args!("fn id(&self) -> &str {{"));
    w.line(format_args!("&self.id"));
    w.close(format_args!("}}"));
    w.open(format_args!("fn owner(&self) -> Option<&str> {{"));
    match plan.owner_field() {
        Some(f) => w.code(format_args!("Some(&self.{})", f.ident)),
        None => w.code(format_args!("None")),
    }
    w.close(format_args!("}}"));
    sort_value(w, plan);
    filter_fn(w, plan);
    check_create(w, plan);
    check_update(w, plan);
    insert_values(w, plan);
    assign(w, plan);
    links(w, plan, &plan.create_refs, false);
    links(w, plan, &plan.update_refs, true);
    sets(w, plan, false);
    sets(w, plan, true);
    w.open(format_args!("fn hooks(app: &App) -> &HookFns<Row> {{"));
    w.code(format_args!(
        "&app.hooks::<crate::HookTable>().{}",
        plan.module
    ));
    w.close(format_args!("}}"));
    w.close(format_args!("}}"));
}

fn sort_value(w: &mut Writer, plan: &ResourcePlan<'_>) {
    w.open(format_args!(
        "fn sort_value(&self, key: &str) -> serde_json::Value {{"
    ));
    w.open(format_args!("match key {{"));
    for &i in &plan.sort {
        let f = &plan.fields[i];
        w.code(format_args!(
            "{} => serde_json::json!(self.{}),",
            lit(f.name()),
            f.ident
        ));
    }
    w.line(format_args!("_ => serde_json::Value::Null,"));
    w.close(format_args!("}}"));
    w.close(format_args!("}}"));
}

/// `create_sets` or `update_sets`: whether the body sets each field with
/// writers of its own (nothing without such fields: the trait's default).
fn sets(w: &mut Writer, plan: &ResourcePlan<'_>, update: bool) {
    let inputs = if update { &plan.update } else { &plan.create };
    let fields: Vec<&Field<'_>> = inputs
        .iter()
        .map(|&i| &plan.fields[i])
        .filter(|f| f.column.write.is_some())
        .collect();
    if fields.is_empty() {
        return;
    }
    let (function, input) = if update {
        ("update_sets", "UpdateInput")
    } else {
        ("create_sets", "CreateInput")
    };
    // A create always sets its required fields: with nothing else, the
    // names alone.
    if !update && fields.iter().all(|f| f.column.required) {
        let names: Vec<String> = fields.iter().map(|f| lit(f.name())).collect();
        w.open(format_args!(
            "fn {function}(_input: &{input}, field: &str) -> bool {{"
        ));
        w.code(format_args!("matches!(field, {})", names.join(" | ")));
        w.close(format_args!("}}"));
        return;
    }
    w.open(format_args!(
        "fn {function}(input: &{input}, field: &str) -> bool {{"
    ));
    w.open(format_args!("match field {{"));
    for f in fields {
        let set = match (update, f.column.required) {
            (true, _) => format!("!input.{}.is_absent()", f.ident),
            (false, true) => "true".to_string(),
            (false, false) => format!("input.{}.is_some()", f.ident),
        };
        w.code(format_args!("{} => {set},", lit(f.name())));
    }
    w.line(format_args!("_ => false,"));
    w.close(format_args!("}}"));
    w.close(format_args!("}}"));
}

/// The list's filters: each value parsed and checked as the field's own.
fn has_filters(plan: &ResourcePlan<'_>) -> bool {
    !plan.filters.is_empty() && plan.has(OperationKind::List)
}

fn filter_fn(w: &mut Writer, plan: &ResourcePlan<'_>) {
    if !has_filters(plan) {
        return;
    }
    w.open(format_args!(
        "fn filter(query: &ListQuery, sql: &mut Sql) -> Result<(), Problem> {{"
    ));
    for &i in &plan.filters {
        let f = &plan.fields[i];
        let (name, column, ty) = (lit(f.name()), lit(&f.sql), value_type(f.column));
        let kind = kind(&f.column.ty);
        if f.column.ty == ColumnType::Boolean {
            w.code(format_args!(
                "query.push_filter(sql, {name}, {column}, {kind}, |_, _: &{ty}| {{}})?;"
            ));
            continue;
        }
        // The closure's statements break the call over lines.
        w.line(format_args!("query"));
        w.depth += 1;
        w.open(format_args!(".push_filter("));
        w.line(format_args!("sql,"));
        w.line(format_args!("{name},"));
        w.line(format_args!("{column},"));
        w.line(format_args!("{kind},"));
        w.open(format_args!("|c, v: &{ty}| {{"));
        value_checks(w, f.column);
        w.close(format_args!("}},"));
        w.close(format_args!(")?;"));
        w.depth -= 1;
    }
    w.line(format_args!("Ok(())"));
    w.close(format_args!("}}"));
}

/// A check function's body from per-field checks (`Ok(())` if none).
fn checker(w: &mut Writer, fields: &[&Field<'_>], check: impl Fn(&mut Writer, &Field<'_>)) {
    if fields.is_empty() {
        w.line(format_args!("Ok(())"));
        return;
    }
    w.line(format_args!(
        "let mut c = palisade_runtime::check::Checker::new();"
    ));
    for f in fields {
        check(w, f);
    }
    w.line(format_args!("c.finish()"));
}

fn check_create(w: &mut Writer, plan: &ResourcePlan<'_>) {
    // Booleans have no constraint beyond their type, which serde checks.
    let fields: Vec<&Field<'_>> = plan
        .create
        .iter()
        .map(|&i| &plan.fields[i])
        .filter(|f| f.column.ty != ColumnType::Boolean)
        .collect();
    w.open(format_args!(
        "fn check_create({}: &CreateInput) -> Result<(), Problem> {{",
        input(!fields.is_empty())
    ));
    checker(w, &fields, |w, f| {
        // A `pii` field's value derefs to the value the checks take.
        if f.column.required {
            w.code(format_args!("let v = &input.{};", f.ident));
            value_checks(w, f.column);
        } else {
            w.open_code(format_args!("if let Some(v) = &input.{} {{", f.ident));
            value_checks(w, f.column);
            w.close(format_args!("}}"));
        }
    });
    w.close(format_args!("}}"));
}

fn check_update(w: &mut Writer, plan: &ResourcePlan<'_>) {
    let fields: Vec<&Field<'_>> = plan
        .update
        .iter()
        .map(|&i| &plan.fields[i])
        .filter(|f| f.column.required || f.column.ty != ColumnType::Boolean)
        .collect();
    w.open(format_args!(
        "fn check_update({}: &UpdateInput) -> Result<(), Problem> {{",
        input(!fields.is_empty())
    ));
    checker(w, &fields, |w, f| {
        let (ident, name, required) = (&f.ident, lit(f.name()), f.column.required);
        if f.column.ty == ColumnType::Boolean {
            w.code(format_args!("c.patch({name}, &input.{ident}, true);"));
        } else {
            w.open_code(format_args!(
                "if let Some(v) = c.patch({name}, &input.{ident}, {required}) {{"
            ));
            value_checks(w, f.column);
            w.close(format_args!("}}"));
        }
    });
    w.close(format_args!("}}"));
}

/// The value a create binds for a declared field: the input's, or the
/// spec's default for an absent optional field.
fn insert_value(field: &Field<'_>) -> String {
    let (c, ident) = (field.column, &field.ident);
    if !c.on_create {
        return match default_value(c, false) {
            Some(d) => format!("Some({d})"),
            None => format!("None::<{}>", row_type(c)),
        };
    }
    if c.required {
        return if is_copy(c) {
            format!("input.{ident}")
        } else {
            format!("&input.{ident}")
        };
    }
    match (default_value(c, true), &c.default) {
        (Some(d), _) if is_copy(c) => {
            let d = if c.pii { format!("Pii({d})") } else { d };
            format!("input.{ident}.or(Some({d}))")
        }
        (Some(_), Some(serde_json::Value::String(d))) if c.pii => {
            format!(
                "input.{ident}.as_deref().map(String::as_str).or(Some({}))",
                lit(d)
            )
        }
        (Some(_), Some(serde_json::Value::String(d))) => {
            format!("input.{ident}.as_deref().or(Some({}))", lit(d))
        }
        _ if is_copy(c) => format!("input.{ident}"),
        _ => format!("&input.{ident}"),
    }
}

/// The declared fields' values of the INSERT, in the table's order.
fn insert_values(w: &mut Writer, plan: &ResourcePlan<'_>) {
    w.open(format_args!(
        "fn insert_values({}: &CreateInput, values: &mut Values) {{",
        input(!plan.create.is_empty())
    ));
    let binds: Vec<String> = plan
        .declared
        .iter()
        .map(|&i| format!(".bind({})", insert_value(&plan.fields[i])))
        .collect();
    if binds.is_empty() {
        w.line(format_args!("let _ = values;"));
    } else {
        w.flat_or(format_args!("values{};", binds.concat()), |w| {
            w.line(format_args!("values"));
            w.depth += 1;
            let (last, rest) = binds.split_last().expect("some values");
            for bind in rest {
                w.code(format_args!("{bind}"));
            }
            w.code(format_args!("{last};"));
            w.depth -= 1;
        });
    }
    w.close(format_args!("}}"));
}

fn assign(w: &mut Writer, plan: &ResourcePlan<'_>) {
    if plan.update.is_empty() {
        w.line(format_args!(
            "fn assign(_input: &UpdateInput, _sql: &mut Sql) {{}}"
        ));
        return;
    }
    w.open(format_args!(
        "fn assign(input: &UpdateInput, sql: &mut Sql) {{"
    ));
    for &i in &plan.update {
        let f = &plan.fields[i];
        w.code(format_args!(
            "input.{}.push_set(sql, {}, {});",
            f.ident,
            lit(&f.sql),
            kind(&f.column.ty)
        ));
    }
    w.close(format_args!("}}"));
}

/// `create_links` or `update_links`: the references of an input, with the
/// rows each may name.
fn links(
    w: &mut Writer,
    plan: &ResourcePlan<'_>,
    refs: &[(usize, syn::Ident, LinkTargets)],
    patch: bool,
) {
    if refs.is_empty() {
        return;
    }
    let links: Vec<String> = refs
        .iter()
        .map(|(i, target, targets)| {
            let f = &plan.fields[*i];
            let ident = &f.ident;
            // Any `&S` where `S: AsRef<str>`: a `String` or a `Pii<String>`.
            let id = if patch {
                format!("input.{ident}.as_option()")
            } else if f.column.required {
                format!("Some(&input.{ident})")
            } else {
                format!("input.{ident}.as_ref()")
            };
            let rule = match targets {
                LinkTargets::SameOwner => "same_owner",
                LinkTargets::Public => "any",
                LinkTargets::Nothing => "nothing",
            };
            format!(
                "Link::{rule}({}, &super::{target}::TABLE, {id})",
                lit(f.name())
            )
        })
        .collect();
    let (function, input) = if patch {
        ("update_links", "UpdateInput")
    } else {
        ("create_links", "CreateInput")
    };
    w.open(format_args!(
        "fn {function}(input: &{input}) -> Vec<Link<'_>> {{"
    ));
    w.flat_or(format_args!("Vec::from([{}])", links.join(", ")), |w| {
        w.open(format_args!("Vec::from(["));
        for link in &links {
            w.code(format_args!("{link},"));
        }
        w.close(format_args!("])"));
    });
    w.close(format_args!("}}"));
}

/// The `Hooks` trait and its `HookFns`, the same for every resource.
const HOOKS: &str = r#"/// Business logic, implemented for the team's hooks type in its
/// `src/hooks/` file. Every method does nothing by default; `access`
/// is the caller, the rows it reaches, its owner value and the
/// database.
pub trait Hooks: Send + Sync + 'static {
    /// Before a row is inserted; may change the input or refuse.
    fn before_create(
        access: &Access,
        input: &mut CreateInput,
    ) -> impl std::future::Future<Output = Result<(), Problem>> + Send {
        let _ = (access, input);
        async { Ok(()) }
    }
    /// Before a row is changed; may change the input or refuse.
    fn before_update(
        access: &Access,
        id: &str,
        input: &mut UpdateInput,
    ) -> impl std::future::Future<Output = Result<(), Problem>> + Send {
        let _ = (access, id, input);
        async { Ok(()) }
    }
    /// Before a row is deleted; may refuse.
    fn before_delete(
        access: &Access,
        id: &str,
    ) -> impl std::future::Future<Output = Result<(), Problem>> + Send {
        let _ = (access, id);
        async { Ok(()) }
    }
}
/// The hooks of `H` as the runtime's handlers call them.
pub fn hooks<H: Hooks>() -> HookFns<Row> {
    HookFns {
        before_create: |access, input| Box::pin(H::before_create(access, input)),
        before_update: |access, id, input| Box::pin(H::before_update(access, id, input)),
        before_delete: |access, id| Box::pin(H::before_delete(access, id)),
    }
}
"#;

/// The routes of the operations the spec grants, each behind its guard.
fn routes(w: &mut Writer, plan: &ResourcePlan<'_>) {
    let r = plan.resource;
    let route = |kinds: &[OperationKind], path: String| -> Option<(String, Vec<String>)> {
        let calls: Vec<String> = r
            .operations
            .iter()
            .filter(|o| kinds.contains(&o.kind))
            .map(|op| {
                let kind = op.kind.name();
                format!(
                    "{}(resource::{kind}::<Row>.layer(app.guard(&{})))",
                    op.method.as_str().to_ascii_lowercase(),
                    kind.to_ascii_uppercase()
                )
            })
            .collect();
        (!calls.is_empty()).then(|| (lit(&path), calls))
    };
    let routes: Vec<(String, Vec<String>)> = [
        route(
            &[OperationKind::List, OperationKind::Create],
            format!("/{}", r.plural),
        ),
        route(
            &[
                OperationKind::Get,
                OperationKind::Update,
                OperationKind::Delete,
            ],
            format!("/{}/{{id}}", r.plural),
        ),
    ]
    .into_iter()
    .flatten()
    .collect();
    w.line(format_args!(
        "/// The routes of `/{}`: exactly the operations the spec grants.",
        r.plural
    ));
    w.open(format_args!("pub fn routes(app: &App) -> Router<App> {{"));
    let methods = |calls: &[String]| format!("axum::routing::{}", calls.join("."));
    let flat: Vec<String> = routes
        .iter()
        .map(|(path, calls)| format!(".route({path}, {})", methods(calls)))
        .collect();
    w.flat_or(format_args!("Router::new(){}", flat.concat()), |w| {
        w.line(format_args!("Router::new()"));
        w.depth += 1;
        for ((path, calls), flat) in routes.iter().zip(&flat) {
            w.flat_or(format_args!("{flat}"), |w| route_call(w, path, calls));
        }
        w.depth -= 1;
    });
    w.close(format_args!("}}"));
}

/// A `.route(path, method_router)` over lines, its methods chained.
fn route_call(w: &mut Writer, path: &str, calls: &[String]) {
    w.open(format_args!(".route("));
    w.line(format_args!("{path},"));
    let chain = format!("axum::routing::{},", calls.join("."));
    w.flat_or(format_args!("{chain}"), |w| {
        let (first, rest) = calls.split_first().expect("a route has a method");
        let comma = |last: bool| if last { "," } else { "" };
        w.code(format_args!(
            "axum::routing::{first}{}",
            comma(rest.is_empty())
        ));
        w.depth += 1;
        for (i, call) in rest.iter().enumerate() {
            w.code(format_args!(".{call}{}", comma(i + 1 == rest.len())));
        }
        w.depth -= 1;
    });
    w.close(format_args!(")"));
}

fn describe_grants(op: &Operation) -> String {
    let mut who = Vec::new();
    if op.grants.owner {
        who.push("the owner, on their own rows".to_string());
    }
    for role in &op.grants.roles {
        who.push(format!("role `{role}`, on every row"));
    }
    if op.grants.public {
        who.push("anyone, without a token".to_string());
    }
    who.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::SourceFile;

    /// `text` as prettyplease prints it (with the blank lines).
    fn reprinted(text: &str) -> String {
        spaced(&prettyplease::unparse(&syn::parse_file(text).unwrap()))
    }

    /// The emitted modules and security tests are prettyplease's own
    /// layout: printing them again changes nothing. (The goldens pin the
    /// bytes; this covers the fixtures' long names and keywords too.)
    #[test]
    fn emitted_text_is_what_prettyplease_prints() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let specs = [
            "examples/billing.yaml",
            "examples/shop.yaml",
            "examples/projects.yaml",
            "examples/helpdesk.yaml",
        ]
        .into_iter()
        .chain(["tests/fixtures/edge.yaml", "tests/fixtures/keywords.yaml"]);
        for spec in specs {
            let text = std::fs::read_to_string(root.join(spec)).unwrap();
            let compiled = crate::compile(SourceFile::new(spec.to_string(), text)).unwrap();
            let service = &compiled.model;
            let modules = ident::modules(service.resources.iter().map(|r| r.name.as_str()));
            for i in 0..service.resources.len() {
                let module = resource_module(&ResourcePlan::new(service, i, &modules));
                assert_eq!(reprinted(&module), module, "{spec}: {}", modules[i]);
            }
            let tests = super::super::tests::security_tests(service, &modules);
            assert_eq!(reprinted(&tests), tests, "{spec}: security tests");
        }
    }

    /// Names of every length around the margin, a one-letter role, empty
    /// and fenced descriptions: the emitted text is still prettyplease's
    /// (each line that can break is measured, a last field's comma is not
    /// counted, an empty doc is no doc).
    #[test]
    fn emitted_text_is_what_prettyplease_prints_at_every_name_length() {
        for len in 1..48 {
            let field = format!("f{}", "x".repeat(len));
            let role = "r".repeat(1 + len % 9);
            let spec = format!(
                "palisade: 1\nservice: {{ name: demo, description: \"~~~\" }}\nauth: {{ jwt: {{ algorithm: HS256, secret_env: JWT_SECRET }}, roles_claim: roles }}\nroles: [{role}]\nresources:\n  n{len}:\n    description: \"\"\n    owner: owner_id\n    fields:\n      {field}: {{ type: string, required: true, description: \"~~~should_panic \u{202e}\" }}\n      o{field}: {{ type: integer, description: \"\" }}\n      r{field}: {{ type: ref, resource: other }}\n    access:\n      owner: [create, get]\n      roles: {{ {role}: [get] }}\n  other:\n    owner: owner_id\n    fields: {{ t: {{ type: string }} }}\n    access: {{ owner: [list, get, create, update, delete], roles: {{ {role}: [list] }} }}\n  upd{len}:\n    owner: owner_id\n    fields:\n      {field}: {{ type: string, required: true }}\n      b{field}: {{ type: boolean }}\n"
            );
            let compiled = crate::compile(SourceFile::new("demo.yaml", spec.clone()))
                .unwrap_or_else(|r| {
                    panic!(
                        "{spec}\n{}",
                        r.render(crate::diagnostic::RenderOptions {
                            color: false,
                            width: 100
                        })
                    )
                });
            let service = &compiled.model;
            let modules = ident::modules(service.resources.iter().map(|r| r.name.as_str()));
            for i in 0..service.resources.len() {
                let module = resource_module(&ResourcePlan::new(service, i, &modules));
                assert_eq!(reprinted(&module), module, "{len}: {}", modules[i]);
                assert!(
                    !module.contains("~~~") && !module.contains('\u{202e}'),
                    "{module}"
                );
                assert!(!module.lines().any(|l| l.ends_with(' ')), "{module}");
            }
            let tests = super::super::tests::security_tests(service, &modules);
            assert_eq!(reprinted(&tests), tests, "{len}: security tests");
        }
    }

    /// A create whose fields with writers are all required sets each of
    /// them: `create_sets` names them, without reading the input (which
    /// clippy would flag, as it would a `match` of `true` and `false`).
    #[test]
    fn create_sets_of_required_fields_only_names_them() {
        let spec = "palisade: 1\nservice: { name: demo }\nauth: { jwt: { algorithm: HS256, secret_env: JWT_SECRET }, roles_claim: roles }\nroles: [staff]\nresources:\n  note:\n    owner: owner_id\n    fields:\n      title: { type: string, required: true, write: [owner] }\n      body: { type: string, required: true, write: [owner] }\n      tag: { type: string }\n    access: { owner: [create, get, update], roles: { staff: [get, update] } }\n";
        let compiled = crate::compile(SourceFile::new("demo.yaml", spec.to_string())).unwrap();
        let service = &compiled.model;
        let modules = ident::modules(service.resources.iter().map(|r| r.name.as_str()));
        let module = resource_module(&ResourcePlan::new(service, 0, &modules));
        assert!(
            module.contains(
                "    fn create_sets(_input: &CreateInput, field: &str) -> bool {\n        matches!(field, \"title\" | \"body\")\n    }\n"
            ),
            "{module}"
        );
        assert!(
            module.contains("\"title\" => !input.title.is_absent(),"),
            "{module}"
        );
        assert_eq!(reprinted(&module), module);
    }

    /// The last field of a struct literal stays flat when it fits without
    /// its comma, as prettyplease prints it; any other field needs the
    /// comma's room too.
    #[test]
    fn a_last_field_fits_without_its_comma() {
        let write = |len: usize, last: bool| {
            let items = format!("E(\"{}\")", "x".repeat(len));
            let mut w = Writer::default();
            w.open(format_args!("static X: S = S {{"));
            let broken = |w: &mut Writer| {
                w.open(format_args!("grants: &["));
                w.code(format_args!("{items},"));
                w.close(format_args!("],"));
            };
            let flat = format!("grants: &[{items}],");
            if last {
                w.flat_or_last(format_args!("{flat}"), broken);
            } else {
                w.flat_or(format_args!("{flat}"), broken);
                w.code(format_args!("b: 1,"));
            }
            w.close(format_args!("}};"));
            w.out
        };
        // Around the margin: `grants: &[E("...")],` is 17 + len at depth 1.
        for len in 60..75 {
            for last in [true, false] {
                let text = write(len, last);
                assert_eq!(reprinted(&text), text, "len {len}, last {last}");
            }
        }
    }

    /// A line too long for its layout makes its item prettyplease's.
    #[test]
    fn an_item_with_a_long_line_is_printed_by_prettyplease() {
        let mut w = Writer::default();
        w.item(|w| {
            let values = ["\"a_rather_long_enumeration_value\""; 4].join(", ");
            w.code(format_args!("static VALUES: &[&str] = &[{values}];"));
        });
        assert_eq!(
            w.out,
            "static VALUES: &[&str] = &[\n    \"a_rather_long_enumeration_value\",\n    \"a_rather_long_enumeration_value\",\n    \"a_rather_long_enumeration_value\",\n    \"a_rather_long_enumeration_value\",\n];\n"
        );
    }
}
