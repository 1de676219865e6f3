//! Rust sources of the generated project, built with quote and printed
//! with prettyplease.
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

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::ident;
use super::plan::{Field, ResourcePlan};
use crate::model::{
    Column, ColumnOrigin, ColumnType, LinkTargets, Operation, OperationKind, Scope,
};

/// Pretty-prints a token stream as a file, with the blank lines between
/// items that rustfmt keeps and prettyplease does not write.
pub fn print(tokens: TokenStream) -> String {
    let file: syn::File = syn::parse2(tokens).expect("generated tokens form a valid file");
    spaced(&prettyplease::unparse(&file))
}

/// `text` with a blank line before each item that follows another: at the
/// top level (imports stay together, and the module's docs end with one),
/// and between the functions of an `impl` or `trait` block.
fn spaced(text: &str) -> String {
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

/// An integer literal without a type suffix (`20`, not `20u32`).
fn int(n: impl Into<u64>) -> proc_macro2::Literal {
    proc_macro2::Literal::u64_unsuffixed(n.into())
}

fn rate(r: crate::spec::Rate) -> TokenStream {
    let (count, per) = (int(r.count), int(r.per.seconds()));
    quote!(Rate::new(#count, #per))
}

/// The Rust type of a column's value (not null) as a request carries it:
/// a `number` keeps how its text compares with its `f64`, for exact bounds.
fn value_type(column: &Column) -> TokenStream {
    match column.ty {
        ColumnType::Number => quote!(palisade_runtime::check::Number),
        // Any JSON number without a fractional part, `5.0` too.
        ColumnType::Integer => quote!(palisade_runtime::check::Integer),
        _ => row_type(column),
    }
}

/// The Rust type of a column's value (not null) as read from a row.
fn row_type(column: &Column) -> TokenStream {
    match column.ty {
        ColumnType::Integer => quote!(i64),
        ColumnType::Number => quote!(f64),
        ColumnType::Boolean => quote!(bool),
        _ => quote!(String),
    }
}

/// Statements that check `v` (a `&T` of the column's value type) into `c`.
fn value_checks(column: &Column) -> TokenStream {
    let name = &column.name;
    let c = &column.constraints;
    let opt_usize = |v: Option<u32>| match v {
        Some(n) => {
            let n = int(n);
            quote!(Some(#n))
        }
        None => quote!(None),
    };
    match &column.ty {
        ColumnType::Integer => {
            let bound = |n: &Option<serde_json::Number>| match n
                .as_ref()
                .and_then(serde_json::Number::as_i64)
            {
                Some(i) => {
                    let i = proc_macro2::Literal::i64_unsuffixed(i);
                    quote!(Some(#i))
                }
                None => quote!(None),
            };
            let (min, max) = (bound(&c.min), bound(&c.max));
            quote!(c.integer(#name, v.get(), #min, #max);)
        }
        ColumnType::Number => {
            let bound = |n: &Option<serde_json::Number>| match n
                .as_ref()
                .and_then(serde_json::Number::as_f64)
            {
                Some(f) => {
                    let f = proc_macro2::Literal::f64_unsuffixed(f);
                    quote!(Some(#f))
                }
                None => quote!(None),
            };
            let (min, max) = (bound(&c.min), bound(&c.max));
            quote!(c.number(#name, v, #min, #max);)
        }
        ColumnType::Boolean => quote!(let _ = v;),
        ty => {
            let (min, max) = (opt_usize(c.min_length), opt_usize(c.max_length));
            let mut out = quote!(c.string(#name, v, #min, #max););
            out.extend(match ty {
                ColumnType::Email => quote!(c.email(#name, v);),
                ColumnType::Url => quote!(c.url(#name, v);),
                ColumnType::Uuid | ColumnType::Ref { .. } => quote!(c.uuid(#name, v);),
                ColumnType::Date => quote!(c.date(#name, v);),
                ColumnType::Datetime => quote!(c.datetime(#name, v);),
                _ => quote!(),
            });
            if c.pattern.is_some() {
                let pattern = ident::constant("PATTERN_", name);
                out.extend(quote!(c.pattern(#name, v, &#pattern);));
            }
            if let Some(values) = &c.values {
                out.extend(quote!(c.one_of(#name, v, &[#(#values),*]);));
            }
            out
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
/// ([`value_type`]) or else of the row's ([`row_type`]).
fn default_value(column: &Column, input: bool) -> Option<TokenStream> {
    let value = column.default.as_ref()?;
    Some(match (&column.ty, value) {
        (ColumnType::Integer, serde_json::Value::Number(n)) => {
            let i = n.as_i64()?;
            if input {
                quote!(palisade_runtime::check::Integer::from(#i))
            } else {
                quote!(#i)
            }
        }
        (ColumnType::Number, serde_json::Value::Number(n)) => {
            let f = n.as_f64()?;
            if input {
                quote!(palisade_runtime::check::Number::from(#f))
            } else {
                quote!(#f)
            }
        }
        (ColumnType::Boolean, serde_json::Value::Bool(b)) => quote!(#b),
        (_, serde_json::Value::String(s)) => quote!(#s.to_owned()),
        _ => return None,
    })
}

/// The Rust module of one resource: its doc, imports, table, operations,
/// types, the per-field parts of the runtime's handlers, hooks and routes.
pub fn resource_module(plan: &ResourcePlan<'_>) -> TokenStream {
    let doc = module_doc(plan);
    let imports = imports(plan);
    let table = table(plan);
    let operations = operations(plan);
    let patterns = patterns(plan);
    let row = row(plan);
    let inputs = inputs(plan);
    let resource = resource_impl(plan);
    let hooks = hooks();
    let routes = routes(plan);
    quote! {
        #doc
        #imports
        #table
        #operations
        #patterns
        #row
        #inputs
        #resource
        #hooks
        #routes
    }
}

/// Doc text as `#[doc]` lines with the leading space `///` and `//!`
/// comments have.
fn doc_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| format!(" {l}").trim_end().to_string())
        .collect()
}

/// A spec `description` as one paragraph of Rust doc: its lines joined
/// (indentation would make a code block, which rustdoc would compile as
/// a test), code fences defused.
pub fn description(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace("```", "'''")
}

fn field_doc(field: &Field<'_>) -> TokenStream {
    match &field.column.description {
        Some(d) => {
            let d = format!(" {}", description(d));
            quote!(#[doc = #d])
        }
        None => quote!(),
    }
}

fn module_doc(plan: &ResourcePlan<'_>) -> TokenStream {
    let r = plan.resource;
    let mut text = format!("The `{}` resource: `/{}`.\n", r.name, r.plural);
    if let Some(d) = &r.description {
        text.push_str(&format!("\n{}\n", description(d)));
    }
    text.push_str(&match &r.scope {
        Scope::Owned { column, claim, .. } => format!(
            "\nRows are owned: `{column}` holds the `{claim}` claim of their creator,\n\
             and every statement filters on it for a caller who reaches only\n\
             their own rows."
        ),
        Scope::Unowned => "\nRows are not owned: only role and public grants reach them.".into(),
    });
    text.push_str(
        "\n\nThe handlers are the runtime's (`palisade_runtime::resource`), driven by\n\
         `TABLE`, the operations below and the `Resource` implementation of `Row`.",
    );
    let lines = doc_lines(&text);
    quote!(#(#![doc = #lines])*)
}

fn imports(plan: &ResourcePlan<'_>) -> TokenStream {
    let owned = plan.owned();
    let access = if owned {
        quote!(
            use palisade_runtime::access::{Access, Grants, OwnerClaim};
        )
    } else {
        quote!(
            use palisade_runtime::access::{Access, Grants};
        )
    };
    let links = !(plan.create_refs.is_empty() && plan.update_refs.is_empty());
    let routed = !plan.resource.operations.is_empty();
    let mut resource = vec![];
    if routed {
        resource.push(quote!(self));
    }
    resource.push(quote!(HookFns));
    if links {
        resource.push(quote!(Link));
    }
    if owned {
        resource.push(quote!(Owner));
    }
    resource.extend([quote!(Resource), quote!(Table), quote!(Values)]);
    let pii = plan.fields.iter().any(|f| f.column.pii);
    let row = match (plan.update.is_empty(), pii) {
        (false, true) => quote!(
            use palisade_runtime::row::{Patch, Pii};
        ),
        (false, false) => quote!(
            use palisade_runtime::row::Patch;
        ),
        (true, true) => quote!(
            use palisade_runtime::row::Pii;
        ),
        (true, false) => quote!(),
    };
    let rate = plan
        .resource
        .operations
        .iter()
        .any(|op| op.rate.bucket != "default")
        .then(|| {
            quote!(
                use palisade_runtime::throttle::Rate;
            )
        });
    let handler = routed.then(|| {
        quote!(
            use axum::handler::Handler as _;
        )
    });
    let page = if has_filters(plan) {
        quote!(
            use palisade_runtime::page::{ListQuery, ListRules};
        )
    } else {
        quote!(
            use palisade_runtime::page::ListRules;
        )
    };
    quote! {
        use axum::Router;
        #handler
        #access
        #page
        use palisade_runtime::problem::Problem;
        use palisade_runtime::resource::{#(#resource),*};
        #row
        use palisade_runtime::server::{App, Operation};
        #rate
        use serde::{Deserialize, Serialize};
        use sqlx::sqlite::SqliteRow;
        use sqlx::{FromRow, QueryBuilder, Row as _, Sqlite};
    }
}

/// `Grants::OWNER.roles(&[..]).public()` and its shorter forms.
fn grants(g: &crate::model::Grants) -> TokenStream {
    let base = if g.owner {
        quote!(Grants::OWNER)
    } else {
        quote!(Grants::NONE)
    };
    let roles = &g.roles;
    let roles = (!roles.is_empty()).then(|| quote!(.roles(&[#(#roles),*])));
    let public = g.public.then(|| quote!(.public()));
    quote!(#base #roles #public)
}

fn owner_claim(plan: &ResourcePlan<'_>) -> TokenStream {
    match &plan.resource.scope {
        Scope::Owned { tenant: false, .. } => quote!(OwnerClaim::User),
        Scope::Owned { claim, .. } => quote!(OwnerClaim::Claim(#claim)),
        Scope::Unowned => quote!(),
    }
}

fn table(plan: &ResourcePlan<'_>) -> TokenStream {
    let r = plan.resource;
    let (name, path) = (&r.name, format!("/{}", r.plural));
    let quoted = ident::sql(&r.name);
    let columns = plan.columns_sql();
    let insert = plan.insert_sql();
    let owner = match plan.owner_field() {
        Some(f) => {
            let (column, claim, read) = (&f.sql, owner_claim(plan), grants(&r.owner_read));
            quote!(Some(Owner { column: #column, claim: #claim, read: #read }))
        }
        None => quote!(None),
    };
    let reply = r
        .operation(OperationKind::Update)
        .and_then(|o| o.replies_with_row.as_ref())
        .map_or(quote!(Grants::NONE), grants);
    let (default_limit, max_limit) = (
        int(plan.service.limits.default_page_size),
        int(plan.service.limits.max_page_size),
    );
    let (sort, filters) = (&r.sort, &r.filters);
    let referrers = r.referrers.iter().map(|x| {
        let (resource, column) = (&x.resource, &x.column);
        quote!((#resource, #column))
    });
    quote! {
        /// The table as the runtime's handlers use it: its statements, owner
        /// rule and list rules.
        pub static TABLE: Table = Table {
            name: #name,
            path: #path,
            table: #quoted,
            columns: #columns,
            insert: #insert,
            owner: #owner,
            update_reply: #reply,
            list: ListRules {
                default_limit: #default_limit,
                max_limit: #max_limit,
                sort_keys: &[#(#sort),*],
                default_sort: "-created_at",
                filters: &[#(#filters),*],
            },
            referrers: &[#(#referrers),*],
        };
    }
}

/// One `static` per operation the spec grants: its grants and throttle.
fn operations(plan: &ResourcePlan<'_>) -> TokenStream {
    let owner = if plan.owned() {
        quote!(OWNED)
    } else {
        quote!(None)
    };
    let statics = plan.resource.operations.iter().map(|op| {
        let ident = format_ident!("{}", op.kind.name().to_ascii_uppercase());
        let name = format!("{}.{}", plan.name(), op.kind.name());
        let doc = format!(
            " `{} {}`: {}.",
            op.method.as_str(),
            op.path,
            describe_grants(op)
        );
        let grants = grants(&op.grants);
        let throttle = (op.rate.bucket != "default").then(|| {
            let (bucket, user, anon) = (&op.rate.bucket, rate(op.rate.user), rate(op.rate.anon));
            quote!(.throttle(#bucket, #user, #anon))
        });
        quote! {
            #[doc = #doc]
            pub static #ident: Operation = Operation::new(#name, #grants, #owner) #throttle;
        }
    });
    let owned = plan.owned().then(|| {
        let claim = owner_claim(plan);
        quote! {
            /// Where the owner of a new row comes from.
            const OWNED: Option<OwnerClaim> = Some(#claim);
        }
    });
    quote!(#owned #(#statics)*)
}

fn patterns(plan: &ResourcePlan<'_>) -> TokenStream {
    let statics = plan.patterns().map(|f| {
        let p = f.column.constraints.pattern.as_deref().unwrap_or_default();
        let anchored = format!("^(?:{p})$");
        let constant = ident::constant("PATTERN_", f.name());
        quote!(static #constant: palisade_runtime::check::Pattern = palisade_runtime::check::Pattern::new(#anchored);)
    });
    quote!(#(#statics)*)
}

/// A field declaration: its doc, serde rename and attributes.
fn field_decl(field: &Field<'_>, ty: TokenStream, attrs: TokenStream) -> TokenStream {
    let ident = &field.ident;
    let name = field.name();
    let doc = field_doc(field);
    let rename = field.renamed.then(|| quote!(#[serde(rename = #name)]));
    quote!(#doc #rename #attrs pub #ident: #ty)
}

/// `T`, or `Pii<T>` for a field marked `pii`.
fn pii(field: &Field<'_>, ty: TokenStream) -> TokenStream {
    if field.column.pii {
        quote!(Pii<#ty>)
    } else {
        ty
    }
}

fn row(plan: &ResourcePlan<'_>) -> TokenStream {
    let fields = plan.fields.iter().map(|f| {
        let ty = pii(f, row_type(f.column));
        if f.column.origin == ColumnOrigin::Owner {
            // `None` in a row shown to a caller who may not see it.
            return field_decl(
                f,
                quote!(Option<#ty>),
                quote!(#[serde(skip_serializing_if = "Option::is_none")]),
            );
        }
        let ty = if f.column.required {
            ty
        } else {
            quote!(Option<#ty>)
        };
        field_decl(f, ty, quote!())
    });
    let decode = plan.fields.iter().enumerate().map(|(i, f)| {
        let ident = &f.ident;
        if f.column.origin == ColumnOrigin::Owner {
            let i = int(i as u64);
            quote!(#ident: Some(r.try_get(#i)?))
        } else {
            let i = int(i as u64);
            quote!(#ident: r.try_get(#i)?)
        }
    });
    quote! {
        /// A row as the API returns it (`Debug` redacts `pii` fields).
        #[derive(Clone, Debug, Serialize)]
        pub struct Row { #(#fields,)* }

        impl FromRow<'_, SqliteRow> for Row {
            fn from_row(r: &SqliteRow) -> sqlx::Result<Row> {
                Ok(Row { #(#decode,)* })
            }
        }
    }
}

fn inputs(plan: &ResourcePlan<'_>) -> TokenStream {
    let create = plan.create.iter().map(|&i| {
        let f = &plan.fields[i];
        let ty = pii(f, value_type(f.column));
        if f.column.required {
            field_decl(f, ty, quote!())
        } else {
            // A missing `Option` field is `None`.
            field_decl(f, quote!(Option<#ty>), quote!())
        }
    });
    let update = plan.update.iter().map(|&i| {
        let f = &plan.fields[i];
        let ty = pii(f, value_type(f.column));
        field_decl(f, quote!(Patch<#ty>), quote!())
    });
    quote! {
        /// The body of a create: unknown fields, the owner, `id` and the
        /// timestamps are refused.
        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct CreateInput { #(#create,)* }

        /// The body of an update: absent fields stay as they are.
        #[derive(Debug, Default, Deserialize)]
        #[serde(default, deny_unknown_fields)]
        pub struct UpdateInput { #(#update,)* }
    }
}

/// The `impl Resource for Row`: what the runtime's handlers ask of this
/// resource's fields.
fn resource_impl(plan: &ResourcePlan<'_>) -> TokenStream {
    let owner = match plan.owner_field() {
        Some(f) => {
            let o = &f.ident;
            quote!(Some(&mut self.#o))
        }
        None => quote!(None),
    };
    let sort = plan.sort.iter().map(|&i| {
        let f = &plan.fields[i];
        let (name, ident) = (f.name(), &f.ident);
        quote!(#name => serde_json::json!(self.#ident),)
    });
    let filter = filter_fn(plan);
    let check_create = check_create(plan);
    let check_update = check_update(plan);
    let insert = insert_values(plan);
    let assign = plan.update.iter().map(|&i| {
        let f = &plan.fields[i];
        let (ident, column) = (&f.ident, &f.sql);
        quote!(input.#ident.push_set(sql, #column);)
    });
    let input = |used: bool| if used { quote!(input) } else { quote!(_input) };
    let update_input = input(!plan.update.is_empty());
    let sql = if plan.update.is_empty() {
        quote!(_sql)
    } else {
        quote!(sql)
    };
    let create_input = input(!plan.create.is_empty());
    let create_links = links(plan, &plan.create_refs, false).map(|links| {
        quote! {
            fn create_links(input: &CreateInput) -> Vec<Link<'_>> {
                #links
            }
        }
    });
    let update_links = links(plan, &plan.update_refs, true).map(|links| {
        quote! {
            fn update_links(input: &UpdateInput) -> Vec<Link<'_>> {
                #links
            }
        }
    });
    let module = &plan.module;
    quote! {
        impl Resource for Row {
            type Create = CreateInput;
            type Update = UpdateInput;
            const TABLE: &'static Table = &TABLE;

            fn id(&self) -> &str {
                &self.id
            }

            fn owner(&mut self) -> Option<&mut Option<String>> {
                #owner
            }

            fn sort_value(&self, key: &str) -> serde_json::Value {
                match key {
                    #(#sort)*
                    _ => serde_json::Value::Null,
                }
            }

            #filter

            #check_create

            #check_update

            fn insert_values(#create_input: &CreateInput, values: &mut Values) {
                #insert
            }

            fn assign(#update_input: &UpdateInput, #sql: &mut QueryBuilder<Sqlite>) {
                #(#assign)*
            }

            #create_links

            #update_links

            fn hooks(app: &App) -> &HookFns<Row> {
                &app.hooks::<crate::HookTable>().#module
            }
        }
    }
}

/// The list's filters: each value parsed and checked as the field's own.
fn has_filters(plan: &ResourcePlan<'_>) -> bool {
    !plan.filters.is_empty() && plan.has(OperationKind::List)
}

fn filter_fn(plan: &ResourcePlan<'_>) -> TokenStream {
    if !has_filters(plan) {
        return quote!();
    }
    let filters = plan.filters.iter().map(|&i| {
        let f = &plan.fields[i];
        let (name, column) = (f.name(), &f.sql);
        let ty = value_type(f.column);
        if f.column.ty == ColumnType::Boolean {
            quote!(query.push_filter(sql, #name, #column, |_, _: &#ty| {})?;)
        } else {
            let checks = value_checks(f.column);
            quote!(query.push_filter(sql, #name, #column, |c, v: &#ty| { #checks })?;)
        }
    });
    quote! {
        fn filter(query: &ListQuery, sql: &mut QueryBuilder<Sqlite>) -> Result<(), Problem> {
            #(#filters)*
            Ok(())
        }
    }
}

/// The body of a check function from per-field statements.
fn checker(checks: Vec<TokenStream>) -> TokenStream {
    if checks.is_empty() {
        quote!(Ok(()))
    } else {
        quote!(let mut c = palisade_runtime::check::Checker::new(); #(#checks)* c.finish())
    }
}

fn check_create(plan: &ResourcePlan<'_>) -> TokenStream {
    // Booleans have no constraint beyond their type, which serde checks.
    let checks: Vec<TokenStream> = plan
        .create
        .iter()
        .map(|&i| &plan.fields[i])
        .filter(|f| f.column.ty != ColumnType::Boolean)
        .map(|f| {
            let ident = &f.ident;
            let checks = value_checks(f.column);
            // A `pii` field's value derefs to the value the checks take.
            if f.column.required {
                quote!(let v = &input.#ident; #checks)
            } else {
                quote!(if let Some(v) = &input.#ident { #checks })
            }
        })
        .collect();
    let input = if checks.is_empty() {
        quote!(_input)
    } else {
        quote!(input)
    };
    let body = checker(checks);
    quote! {
        fn check_create(#input: &CreateInput) -> Result<(), Problem> {
            #body
        }
    }
}

fn check_update(plan: &ResourcePlan<'_>) -> TokenStream {
    let checks: Vec<TokenStream> = plan
        .update
        .iter()
        .map(|&i| &plan.fields[i])
        .filter(|f| f.column.required || f.column.ty != ColumnType::Boolean)
        .map(|f| {
            let (ident, name, required) = (&f.ident, f.name(), f.column.required);
            if f.column.ty == ColumnType::Boolean {
                return quote!(c.patch(#name, &input.#ident, true););
            }
            let checks = value_checks(f.column);
            quote!(if let Some(v) = c.patch(#name, &input.#ident, #required) { #checks })
        })
        .collect();
    let input = if checks.is_empty() {
        quote!(_input)
    } else {
        quote!(input)
    };
    let body = checker(checks);
    quote! {
        fn check_update(#input: &UpdateInput) -> Result<(), Problem> {
            #body
        }
    }
}

/// The declared fields' values of the INSERT, in the table's order, with
/// the spec's defaults for absent optional fields.
fn insert_values(plan: &ResourcePlan<'_>) -> TokenStream {
    let values = plan.declared.iter().map(|&i| {
        let f = &plan.fields[i];
        let (c, ident) = (f.column, &f.ident);
        let value = if !c.on_create {
            match default_value(c, false) {
                Some(d) => quote!(Some(#d)),
                None => {
                    let ty = row_type(c);
                    quote!(None::<#ty>)
                }
            }
        } else if c.required {
            if is_copy(c) {
                quote!(input.#ident)
            } else {
                quote!(&input.#ident)
            }
        } else {
            match (default_value(c, true), &c.default) {
                (Some(d), _) if is_copy(c) => {
                    let d = if c.pii { quote!(Pii(#d)) } else { d };
                    quote!(input.#ident.or(Some(#d)))
                }
                (Some(_), Some(serde_json::Value::String(d))) if c.pii => {
                    quote!(input.#ident.as_deref().map(String::as_str).or(Some(#d)))
                }
                (Some(_), Some(serde_json::Value::String(d))) => {
                    quote!(input.#ident.as_deref().or(Some(#d)))
                }
                _ if is_copy(c) => quote!(input.#ident),
                _ => quote!(&input.#ident),
            }
        };
        quote!(.bind(#value))
    });
    if plan.declared.is_empty() {
        return quote!(let _ = values;);
    }
    quote!(values #(#values)*;)
}

/// The references of an input, with the rows each may name.
fn links(
    plan: &ResourcePlan<'_>,
    refs: &[(usize, syn::Ident, LinkTargets)],
    patch: bool,
) -> Option<TokenStream> {
    if refs.is_empty() {
        return None;
    }
    let links = refs.iter().map(|(i, target, targets)| {
        let f = &plan.fields[*i];
        let (ident, name) = (&f.ident, f.name());
        // Any `&S` where `S: AsRef<str>`: a `String` or a `Pii<String>`.
        let id = if patch {
            quote!(input.#ident.as_option())
        } else if f.column.required {
            quote!(Some(&input.#ident))
        } else {
            quote!(input.#ident.as_ref())
        };
        let rule = match targets {
            LinkTargets::SameOwner => quote!(same_owner),
            LinkTargets::Public => quote!(any),
            LinkTargets::Nothing => quote!(nothing),
        };
        quote!(Link::#rule(#name, &super::#target::TABLE, #id))
    });
    Some(quote!(Vec::from([#(#links),*])))
}

fn hooks() -> TokenStream {
    quote! {
        /// Business logic, implemented for the team's hooks type in its
        /// `src/hooks/` file. Every method does nothing by default; `access`
        /// is the caller, the rows it reaches, its owner value and the
        /// database.
        pub trait Hooks: Send + Sync + 'static {
            /// Before a row is inserted; may change the input or refuse.
            fn before_create(access: &Access, input: &mut CreateInput) -> impl std::future::Future<Output = Result<(), Problem>> + Send {
                let _ = (access, input);
                async { Ok(()) }
            }
            /// Before a row is changed; may change the input or refuse.
            fn before_update(access: &Access, id: &str, input: &mut UpdateInput) -> impl std::future::Future<Output = Result<(), Problem>> + Send {
                let _ = (access, id, input);
                async { Ok(()) }
            }
            /// Before a row is deleted; may refuse.
            fn before_delete(access: &Access, id: &str) -> impl std::future::Future<Output = Result<(), Problem>> + Send {
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
    }
}

/// The routes of the operations the spec grants, each behind its guard.
fn routes(plan: &ResourcePlan<'_>) -> TokenStream {
    let r = plan.resource;
    let route = |kinds: &[OperationKind], path: String| -> Option<TokenStream> {
        let ops: Vec<&Operation> = r
            .operations
            .iter()
            .filter(|o| kinds.contains(&o.kind))
            .collect();
        let (first, rest) = ops.split_first()?;
        let method = |op: &Operation| format_ident!("{}", op.method.as_str().to_ascii_lowercase());
        let handler = |op: &Operation| {
            let h = format_ident!("{}", op.kind.name());
            let s = format_ident!("{}", op.kind.name().to_ascii_uppercase());
            quote!(resource::#h::<Row>.layer(app.guard(&#s)))
        };
        let (m, h) = (method(first), handler(first));
        let rest = rest.iter().map(|op| {
            let (m, h) = (method(op), handler(op));
            quote!(.#m(#h))
        });
        Some(quote!(.route(#path, axum::routing::#m(#h) #(#rest)*)))
    };
    let collection = route(
        &[OperationKind::List, OperationKind::Create],
        format!("/{}", r.plural),
    );
    let item = route(
        &[
            OperationKind::Get,
            OperationKind::Update,
            OperationKind::Delete,
        ],
        format!("/{}/{{id}}", r.plural),
    );
    let doc = format!(
        " The routes of `/{}`: exactly the operations the spec grants.",
        r.plural
    );
    quote! {
        #[doc = #doc]
        pub fn routes(app: &App) -> Router<App> {
            Router::new() #collection #item
        }
    }
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
