//! Rust sources of the generated project, built with quote and printed
//! with prettyplease.
//!
//! Stage: generate. Input: the model. Output: one
//! `api/src/<resource>.rs` per resource (row and input types, checks, the
//! store, handlers and routes; `generate::mod` writes the crate root, the
//! hooks module and the team's files). Invariants: every security decision comes
//! from the model (grants, owner rule, rows, writable columns, rates); the
//! store is the only code that reaches the database, and every function of
//! an owned resource's store takes the caller's `Scope` and appends the
//! owner condition to its WHERE clause.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};

use super::ident;
use crate::model::{
    Column, ColumnOrigin, ColumnType, LinkTargets, Operation, OperationKind, Resource, Scope,
    Service,
};

/// Pretty-prints a token stream as a file.
pub fn print(tokens: TokenStream) -> String {
    let file: syn::File = syn::parse2(tokens).expect("generated tokens form a valid file");
    prettyplease::unparse(&file)
}

fn rate(r: crate::spec::Rate) -> TokenStream {
    let count = r.count;
    let per = r.per.seconds();
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

/// A field declaration with its serde rename when the name was escaped.
fn field_decl(column: &Column, ty: TokenStream, attrs: TokenStream) -> TokenStream {
    let (ident, renamed) = ident::rust(&column.name);
    let name = &column.name;
    let rename = renamed.then(|| quote!(#[serde(rename = #name)]));
    quote!(#rename #attrs pub #ident: #ty)
}

/// Statements that check `v` (a `&T` of the column's value type) into `c`.
fn value_checks(column: &Column) -> TokenStream {
    let name = &column.name;
    let c = &column.constraints;
    let opt_usize = |v: Option<u32>| match v {
        Some(n) => {
            let n = n as usize;
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
                Some(i) => quote!(Some(#i)),
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
                Some(f) => quote!(Some(#f)),
                None => quote!(None),
            };
            let (min, max) = (bound(&c.min), bound(&c.max));
            quote!(c.number(#name, *v, #min, #max);)
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

fn quoted_columns(resource: &Resource) -> String {
    resource
        .columns
        .iter()
        .map(|c| ident::sql(&c.name))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The Rust module of one resource.
pub fn resource_module(
    service: &Service,
    resource: &Resource,
    module: &syn::Ident,
    all_modules: &[(String, syn::Ident)],
) -> TokenStream {
    let name = &resource.name;
    let table = ident::sql(name);
    let columns_sql = quoted_columns(resource);
    let owned = matches!(resource.scope, Scope::Owned { .. });
    let owner_const = resource.scope.owner_column().map(|c| {
        let quoted = ident::sql(c);
        quote! {
            /// The owner column: every statement of the store filters on it.
            const OWNER: &str = #quoted;
        }
    });
    let owner_rule = match &resource.scope {
        Scope::Owned { tenant: false, .. } => {
            quote!(Some(palisade_runtime::access::OwnerClaim::User))
        }
        Scope::Owned {
            claim,
            tenant: true,
            ..
        } => quote!(Some(palisade_runtime::access::OwnerClaim::Claim(#claim))),
        Scope::Unowned => quote!(None),
    };

    // Row: every column, as the API returns it.
    // The owner column is `None` in a row shown to a caller who may not
    // see it (`owner.read`), and then absent from the JSON.
    let row_fields = resource.columns.iter().map(|c| {
        let ty = row_type(c);
        if c.origin == ColumnOrigin::Owner {
            return field_decl(
                c,
                quote!(Option<#ty>),
                quote!(#[serde(skip_serializing_if = "Option::is_none")]),
            );
        }
        let ty = if c.required { ty } else { quote!(Option<#ty>) };
        field_decl(c, ty, quote!())
    });
    let decode_fields = resource.columns.iter().map(|c| {
        let ident = ident::rust_ident(&c.name);
        let col = &c.name;
        if c.origin == ColumnOrigin::Owner {
            quote!(#ident: Some(r.try_get(#col)?))
        } else {
            quote!(#ident: r.try_get(#col)?)
        }
    });
    let debug_fields = |cols: Vec<&Column>| -> Vec<TokenStream> {
        cols.into_iter()
            .map(|c| {
                let ident = ident::rust_ident(&c.name);
                let col = &c.name;
                if c.pii {
                    quote!(.field(#col, &"[redacted]"))
                } else {
                    quote!(.field(#col, &self.#ident))
                }
            })
            .collect()
    };
    let row_debug = debug_fields(resource.columns.iter().collect());

    // Patterns used by the checks: of the inputs, and of the filters when
    // the list exists (a `read_only` field's pattern checks nothing else).
    let lists = resource.operation(OperationKind::List).is_some();
    let patterns = resource.columns.iter().filter_map(|c| {
        let p = c.constraints.pattern.as_ref()?;
        let filtered = lists && resource.filters.contains(&c.name);
        if !(c.on_create || c.on_update || filtered) {
            return None;
        }
        let anchored = format!("^(?:{p})$");
        let constant = ident::constant("PATTERN_", &c.name);
        Some(quote!(static #constant: palisade_runtime::check::Pattern = palisade_runtime::check::Pattern::new(#anchored);))
    });

    // Create input: the columns the model accepts on create.
    let create_cols: Vec<&Column> = resource.columns.iter().filter(|c| c.on_create).collect();
    let create_fields = create_cols.iter().map(|c| {
        let ty = value_type(c);
        if c.required {
            field_decl(c, ty, quote!())
        } else {
            field_decl(c, quote!(Option<#ty>), quote!(#[serde(default)]))
        }
    });
    // Booleans have no constraint beyond their type, which serde checks.
    let create_checks: Vec<TokenStream> = create_cols
        .iter()
        .filter(|c| c.ty != ColumnType::Boolean)
        .map(|c| {
            let ident = ident::rust_ident(&c.name);
            let checks = value_checks(c);
            if c.required {
                quote!({ let v = &self.#ident; #checks })
            } else {
                quote!(if let Some(v) = &self.#ident { #checks })
            }
        })
        .collect();
    let create_debug = debug_fields(create_cols.clone());
    let checker_body = |checks: &Vec<TokenStream>| {
        if checks.is_empty() {
            quote!(Checker::new().finish())
        } else {
            quote!(let mut c = Checker::new(); #(#checks)* c.finish())
        }
    };
    let create_body = checker_body(&create_checks);

    // Update input: the columns the model accepts on update.
    let update_cols: Vec<&Column> = resource.columns.iter().filter(|c| c.on_update).collect();
    let update_fields = update_cols.iter().map(|c| {
        let ty = value_type(c);
        field_decl(c, quote!(Patch<#ty>), quote!(#[serde(default)]))
    });
    let update_checks: Vec<TokenStream> = update_cols
        .iter()
        .filter(|c| c.required || c.ty != ColumnType::Boolean)
        .map(|c| {
            let ident = ident::rust_ident(&c.name);
            let col = &c.name;
            let required = c.required;
            if c.ty == ColumnType::Boolean {
                return quote!(c.patch(#col, &self.#ident, true););
            }
            let checks = value_checks(c);
            quote!(if let Some(v) = c.patch(#col, &self.#ident, #required) { #checks })
        })
        .collect();
    let update_body = checker_body(&update_checks);
    let update_debug = update_cols.iter().map(|c| {
        let ident = ident::rust_ident(&c.name);
        let col = &c.name;
        if c.pii {
            quote!(.field(#col, &(!self.#ident.is_absent()).then_some("[redacted]")))
        } else {
            quote!(.field(#col, &self.#ident))
        }
    });

    // References: each ref column must name a row its [`Link`] reaches,
    // for the new row's owner (on update, the row's stored owner), never
    // for the caller's role.
    let ref_checks = |input_is_patch: bool| -> Vec<TokenStream> {
        resource
            .columns
            .iter()
            .filter(|c| {
                if input_is_patch {
                    c.on_update
                } else {
                    c.on_create
                }
            })
            .filter_map(|c| {
                let ColumnType::Ref { resource: target } = &c.ty else {
                    return None;
                };
                let link = c.link.as_ref()?;
                let target_mod = &all_modules.iter().find(|(n, _)| n == target)?.1;
                let ident = ident::rust_ident(&c.name);
                let col = &c.name;
                let message = format!("no `{target}` with this id");
                let value = if input_is_patch {
                    quote!(input.#ident.as_option())
                } else if c.required {
                    quote!(Some(&input.#ident))
                } else {
                    quote!(input.#ident.as_ref())
                };
                let rows = match (link.targets, owned) {
                    (LinkTargets::Nothing, _) => {
                        return Some(quote! {
                            if #value.is_some() {
                                return Err(Problem::invalid(#col, #message));
                            }
                        });
                    }
                    (LinkTargets::SameOwner, true) => quote!(&Scope::Owned(owner.to_owned())),
                    _ => quote!(&Scope::All),
                };
                Some(quote! {
                    if let Some(id) = #value {
                        if !super::#target_mod::linkable(&app, #rows, id).await? {
                            return Err(Problem::invalid(#col, #message));
                        }
                    }
                })
            })
            .collect()
    };
    // Whether a ref check needs the new row's owner.
    let needs_owner = |input_is_patch: bool| {
        owned
            && resource.columns.iter().any(|c| {
                (if input_is_patch {
                    c.on_update
                } else {
                    c.on_create
                }) && c
                    .link
                    .as_ref()
                    .is_some_and(|l| l.targets == LinkTargets::SameOwner)
            })
    };

    // Store: insert.
    let insert_binds = resource.columns.iter().map(|c| {
        let ident = ident::rust_ident(&c.name);
        match c.origin {
            ColumnOrigin::Id => quote!(.bind(uuid::Uuid::new_v4().to_string())),
            ColumnOrigin::Owner => quote!(.bind(owner.to_owned())),
            ColumnOrigin::CreatedAt | ColumnOrigin::UpdatedAt => quote!(.bind(now.clone())),
            ColumnOrigin::Field if !c.on_create => match default_value(c, false) {
                Some(d) => quote!(.bind(Some(#d))),
                None => {
                    let ty = row_type(c);
                    quote!(.bind(None::<#ty>))
                }
            },
            ColumnOrigin::Field if is_copy(c) => match default_value(c, true) {
                Some(d) if !c.required => quote!(.bind(input.#ident.or(Some(#d)))),
                _ => quote!(.bind(input.#ident)),
            },
            ColumnOrigin::Field => match default_value(c, true) {
                Some(d) if !c.required => quote!(.bind(input.#ident.clone().or_else(|| Some(#d)))),
                _ => quote!(.bind(input.#ident.clone())),
            },
        }
    });
    let placeholders = vec!["?"; resource.columns.len()].join(", ");
    let insert_sql = format!(
        "INSERT INTO {table} ({columns_sql}) VALUES ({placeholders}) RETURNING {columns_sql}"
    );
    let owner_param = owned.then(|| quote!(owner: &str,));
    let scope_param = if owned {
        quote!(scope: &Scope,)
    } else {
        quote!(_scope: &Scope,)
    };
    let push_scope = owned.then(|| quote!(scope.push_condition(&mut qb, OWNER);));

    // Store: update assignments.
    let update_sets = update_cols.iter().map(|c| {
        let ident = ident::rust_ident(&c.name);
        let column = ident::sql(&c.name);
        quote!(input.#ident.push_set(&mut qb, #column);)
    });

    // Store: list filters and sort values.
    let filter_arms = resource.filters.iter().filter_map(|f| {
        let column = resource.column(f)?;
        let ty = value_type(column);
        let cond = format!(" AND {} = ", ident::sql(f));
        // A filter value obeys the same constraints as the field: a value
        // no row can hold is a 422, not an empty page.
        let checks = (column.ty != ColumnType::Boolean).then(|| {
            let checks = value_checks(column);
            quote! {
                let mut c = Checker::new();
                let v = &value;
                #checks
                c.finish()?;
            }
        });
        Some(quote! {
            if let Some(value) = query.filter_parsed::<#ty>(#f)? {
                #checks
                qb.push(#cond).push_bind(value);
            }
        })
    });
    let sort_arms = resource.sort.iter().filter_map(|s| {
        let column = resource.column(s)?;
        let ident = ident::rust_ident(&column.name);
        Some(quote!(#s => serde_json::json!(row.#ident),))
    });
    let sort_keys = &resource.sort;
    let filters = &resource.filters;
    let (default_limit, max_limit) = (
        service.limits.default_page_size,
        service.limits.max_page_size,
    );

    // Operations: statics, handlers, routes.
    let op_ident = |kind: OperationKind| format_ident!("{}", kind.name().to_ascii_uppercase());
    let handler_ident = |kind: OperationKind| match kind {
        OperationKind::List => format_ident!("list"),
        OperationKind::Get => format_ident!("read"),
        OperationKind::Create => format_ident!("create"),
        OperationKind::Update => format_ident!("update"),
        OperationKind::Delete => format_ident!("remove"),
    };
    let statics = resource.operations.iter().map(|op: &Operation| {
        let ident = op_ident(op.kind);
        let full_name = format!("{name}.{}", op.kind.name());
        let owner_grant = op.grants.owner;
        let roles = &op.grants.roles;
        let public = op.grants.public;
        let bucket = &op.rate.bucket;
        let user_rate = rate(op.rate.user);
        let anon_rate = rate(op.rate.anon);
        let doc = format!(
            "`{} {}`: {}.",
            op.method.as_str(),
            op.path,
            describe_grants(op)
        );
        quote! {
            #[doc = #doc]
            pub static #ident: Operation = Operation {
                name: #full_name,
                grants: Grants { owner: #owner_grant, roles: &[#(#roles),*], public: #public },
                owner: #owner_rule,
                bucket: #bucket,
                user_rate: #user_rate,
                anon_rate: #anon_rate,
            };
        }
    });
    let location_prefix = format!("/{}/", resource.plural);
    let create_refs = ref_checks(false);
    let update_refs = ref_checks(true);
    // Rows of an owned resource show the owner column only to its readers.
    let hides_owner = owned && !resource.owner_read.public;
    let owner_ident = resource.scope.owner_column().map(ident::rust_ident);
    let row_owner = match &owner_ident {
        Some(o) => quote!(row.#o.as_deref()),
        None => quote!(None),
    };
    let caller_ty = quote!(palisade_runtime::auth::Caller);
    let shows = |row: TokenStream| {
        if hides_owner {
            quote!(shown(#row, &caller))
        } else {
            row
        }
    };
    let read_caller = hides_owner.then(|| quote!(caller: #caller_ty,));
    let create_owner = owned.then(|| quote!(let owner = access.require_owner()?;));
    let owner_arg = owned.then(|| quote!(owner,));
    // An update answers with the row only to those who may also get it.
    let update_reply = resource
        .operation(OperationKind::Update)
        .and_then(|o| o.replies_with_row.clone())
        .unwrap_or_default();
    let update_replies = !update_reply.is_empty();
    let update_reply_static = update_replies.then(|| {
        let (o, roles, public) = (update_reply.owner, &update_reply.roles, update_reply.public);
        quote! {
            /// Who gets the changed row in the answer of an update: those who
            /// may also `get` it; everyone else gets 204 No Content.
            static UPDATE_REPLY: Grants = Grants { owner: #o, roles: &[#(#roles),*], public: #public };
        }
    });
    let update_caller = update_replies.then(|| quote!(caller: #caller_ty,));
    let update_ok = if update_replies {
        let shown_row = shows(quote!(row));
        quote! {
            Some(row) if UPDATE_REPLY.reach(&caller, #owner_rule, #row_owner) => Ok(body::reply(StatusCode::OK, &#shown_row)),
            Some(_) => Ok(axum::response::IntoResponse::into_response(StatusCode::NO_CONTENT)),
        }
    } else {
        quote!(Some(_) => Ok(axum::response::IntoResponse::into_response(StatusCode::NO_CONTENT)),)
    };
    let update_owner = needs_owner(true).then(|| {
        quote! {
            // Refs name rows of the row's own owner, whoever changes it.
            let Some(owner) = store::owner_of(&app.db.read, &access.rows, &id).await? else {
                return Err(Problem::not_found());
            };
            let owner = owner.as_str();
        }
    });
    let handlers = resource.operations.iter().map(|op| {
        let h = handler_ident(op.kind);
        match op.kind {
            OperationKind::List => {
                let map = hides_owner.then(|| quote!(let rows: Vec<Row> = rows.into_iter().map(|row| shown(row, &caller)).collect();));
                quote! {
                    async fn #h(State(app): State<App>, #read_caller access: Access, RawQuery(query): RawQuery) -> Result<Response, Problem> {
                        let query = page::parse(query.as_deref(), &LIST_RULES)?;
                        let rows = store::list(&app.db.read, &access.rows, &query).await?;
                        #map
                        let page = query.page(rows, |row| (sort_value(row, query.sort.key), row.id.clone()));
                        Ok(body::reply(StatusCode::OK, &page))
                    }
                }
            }
            OperationKind::Get => {
                let shown_row = shows(quote!(row));
                quote! {
                    async fn #h(State(app): State<App>, #read_caller access: Access, Path(id): Path<String>) -> Result<Response, Problem> {
                        match store::get(&app.db.read, &access.rows, &id).await? {
                            Some(row) => Ok(body::reply(StatusCode::OK, &#shown_row)),
                            None => Err(Problem::not_found()),
                        }
                    }
                }
            }
            OperationKind::Create => {
                let shown_row = shows(quote!(row));
                quote! {
                    async fn #h(State(app): State<App>, #read_caller access: Access, Json(mut input): Json<CreateInput>) -> Result<Response, Problem> {
                        input.check()?;
                        (hooks(&app).before_create)(&access, &mut input).await?;
                        input.check()?;
                        #create_owner
                        #(#create_refs)*
                        let row = store::insert(&app.db.write, #owner_arg &input).await?;
                        let location = format!("{}{}", #location_prefix, row.id);
                        Ok(body::created(&location, &#shown_row))
                    }
                }
            }
            OperationKind::Update => quote! {
                async fn #h(State(app): State<App>, #update_caller access: Access, Path(id): Path<String>, Json(mut input): Json<UpdateInput>) -> Result<Response, Problem> {
                    input.check()?;
                    (hooks(&app).before_update)(&access, &id, &mut input).await?;
                    input.check()?;
                    #update_owner
                    #(#update_refs)*
                    match store::update(&app.db.write, &access.rows, &id, &input).await? {
                        #update_ok
                        None => Err(Problem::not_found()),
                    }
                }
            },
            OperationKind::Delete => quote! {
                async fn #h(State(app): State<App>, access: Access, Path(id): Path<String>) -> Result<Response, Problem> {
                    (hooks(&app).before_delete)(&access, &id).await?;
                    if store::delete(&app.db.write, &access.rows, &id).await? {
                        Ok(axum::response::IntoResponse::into_response(StatusCode::NO_CONTENT))
                    } else {
                        Err(Problem::not_found())
                    }
                }
            },
        }
    });
    // `shown`: a row as `caller` may see it (the owner column only for its
    // readers, `owner.read`).
    let uses_shown = hides_owner
        && (resource.operation(OperationKind::List).is_some()
            || resource.operation(OperationKind::Get).is_some()
            || resource.operation(OperationKind::Create).is_some()
            || (resource.operation(OperationKind::Update).is_some() && update_replies));
    let shown_fn = uses_shown.then(|| {
        let r = &resource.owner_read;
        let (o, roles) = (r.owner, &r.roles);
        let owner = owner_ident.as_ref().expect("owned");
        quote! {
            /// Who sees the owner column (`owner.read`); everyone else gets
            /// rows without it.
            static OWNER_READ: Grants = Grants { owner: #o, roles: &[#(#roles),*], public: false };

            /// The row as `caller` may see it: without the owner column unless
            /// `OWNER_READ` reaches the caller for this row.
            fn shown(mut row: Row, caller: &palisade_runtime::auth::Caller) -> Row {
                if !OWNER_READ.reach(caller, #owner_rule, row.#owner.as_deref()) {
                    row.#owner = None;
                }
                row
            }
        }
    });
    let route_for = |kinds: &[OperationKind], path: &str| -> Option<TokenStream> {
        let ops: Vec<&Operation> = resource
            .operations
            .iter()
            .filter(|o| kinds.contains(&o.kind))
            .collect();
        let (first, rest) = ops.split_first()?;
        let method = |op: &Operation| format_ident!("{}", op.method.as_str().to_ascii_lowercase());
        let handler = |op: &Operation| {
            let h = handler_ident(op.kind);
            quote!(#h)
        };
        let (m, h, s) = (method(first), handler(first), op_ident(first.kind));
        let rest = rest.iter().map(|op| {
            let (m, h, s) = (method(op), handler(op), op_ident(op.kind));
            quote!(.#m(#h.layer(app.guard(&#s))))
        });
        Some(quote!(.route(#path, axum::routing::#m(#h.layer(app.guard(&#s))) #(#rest)*)))
    };
    // The hook of each write the resource has, as a function pointer.
    let has = |kind: OperationKind| resource.operations.iter().any(|o| o.kind == kind);
    let mut hook_fields = Vec::new();
    let mut hook_values = Vec::new();
    if has(OperationKind::Create) {
        hook_fields.push(quote!(before_create: for<'a> fn(&'a Access, &'a mut CreateInput) -> palisade_runtime::service::HookFuture<'a>,));
        hook_values.push(
            quote!(before_create: |access, input| Box::pin(H::before_create(access, input)),),
        );
    }
    if has(OperationKind::Update) {
        hook_fields.push(quote!(before_update: for<'a> fn(&'a Access, &'a str, &'a mut UpdateInput) -> palisade_runtime::service::HookFuture<'a>,));
        hook_values.push(quote!(before_update: |access, id, input| Box::pin(H::before_update(access, id, input)),));
    }
    if has(OperationKind::Delete) {
        hook_fields.push(quote!(before_delete: for<'a> fn(&'a Access, &'a str) -> palisade_runtime::service::HookFuture<'a>,));
        hook_values
            .push(quote!(before_delete: |access, id| Box::pin(H::before_delete(access, id)),));
    }
    let hooks_fn = (!hook_fields.is_empty()).then(|| {
        quote! {
            /// This resource's hooks in the service's table.
            fn hooks(app: &App) -> &HookFns {
                &app.hooks::<crate::HookTable>().#module
            }
        }
    });
    let routes_doc = format!(
        " The routes of `/{}`: exactly the operations the spec grants.",
        resource.plural
    );
    let collection = route_for(
        &[OperationKind::List, OperationKind::Create],
        &format!("/{}", resource.plural),
    );
    let item = route_for(
        &[
            OperationKind::Get,
            OperationKind::Update,
            OperationKind::Delete,
        ],
        &format!("/{}/{{id}}", resource.plural),
    );

    // Linkability for refs from other resources: the referring column's
    // link decides the rows (`Scope::Owned(owner)` or `Scope::All`).
    let linkable = resource.referenced.then(|| {
        quote! {
            /// Whether a ref may name the row `id`: `rows` is the new row's owner
            /// (`Scope::Owned`) or every row (`Scope::All`, when the rows are
            /// public to everyone), as the referring column's link decides.
            pub async fn linkable(app: &App, rows: &Scope, id: &str) -> Result<bool, Problem> {
                store::exists(&app.db.read, rows, id).await
            }
        }
    });
    let store_exists = resource.referenced.then(|| {
        quote! {
            pub async fn exists(db: &SqlitePool, #scope_param id: &str) -> Result<bool, Problem> {
                let mut qb = QueryBuilder::<Sqlite>::new(format!("SELECT 1 FROM {TABLE} WHERE \"id\" = "));
                qb.push_bind(id.to_owned());
                #push_scope
                Ok(qb.build().fetch_optional(db).await?.is_some())
            }
        }
    });
    let store_owner_of = (needs_owner(true) && resource.operation(OperationKind::Update).is_some()).then(|| {
        let owner = resource.scope.owner_column().expect("owned");
        let sql = format!("SELECT {} FROM {{TABLE}} WHERE \"id\" = ", ident::sql(owner));
        quote! {
            /// The stored owner of the row `id`, if the scope reaches it.
            pub async fn owner_of(db: &SqlitePool, scope: &Scope, id: &str) -> Result<Option<String>, Problem> {
                let mut qb = QueryBuilder::<Sqlite>::new(format!(#sql));
                qb.push_bind(id.to_owned());
                scope.push_condition(&mut qb, OWNER);
                let row = qb.build().fetch_optional(db).await?;
                Ok(row.as_ref().map(|r| r.try_get(0)).transpose()?)
            }
        }
    });
    // A delete refused by a foreign key names the resource that still refers.
    let referrer_checks = resource
        .referrers
        .iter()
        .map(|r| {
            let sql = format!(
                "SELECT 1 FROM {} WHERE {} = ? LIMIT 1",
                ident::sql(&r.resource),
                ident::sql(&r.column)
            );
            let (res, col) = (&r.resource, &r.column);
            quote! {
                if sqlx::query(#sql).bind(id.to_owned()).fetch_optional(db).await.ok()?.is_some() {
                    return Some(Problem::still_referenced(#res, #col));
                }
            }
        })
        .collect::<Vec<_>>();
    let delete_exec = if referrer_checks.is_empty() {
        quote!(Ok(qb.build().execute(db).await?.rows_affected() > 0))
    } else {
        quote! {
            match qb.build().execute(db).await {
                Ok(done) => Ok(done.rows_affected() > 0),
                Err(e) if palisade_runtime::problem::is_foreign_key_violation(&e) => Err(match still_referenced(db, id).await {
                    Some(p) => p,
                    None => e.into(),
                }),
                Err(e) => Err(e.into()),
            }
        }
    };
    let store_still_referenced = (!referrer_checks.is_empty()
        && resource.operation(OperationKind::Delete).is_some())
    .then(|| {
        quote! {
            /// The first resource whose rows still name the row `id`.
            async fn still_referenced(db: &SqlitePool, id: &str) -> Option<Problem> {
                #(#referrer_checks)*
                None
            }
        }
    });

    let module_doc = format!(
        "The `{name}` resource: `/{}`. Rows are {}.",
        resource.plural,
        match &resource.scope {
            Scope::Owned { column, claim, .. } =>
                format!("owned: `{column}` holds the `{claim}` claim of their creator"),
            Scope::Unowned => "not owned: only role and public grants reach them".to_string(),
        }
    );
    let has = |kind: OperationKind| resource.operation(kind).is_some();
    let (list, get, create, update, delete) = (
        has(OperationKind::List),
        has(OperationKind::Get),
        has(OperationKind::Create),
        has(OperationKind::Update),
        has(OperationKind::Delete),
    );
    // A body without a column to store is read by the checks and the hooks,
    // never by the store.
    let input_param = |used: bool| {
        if used { quote!(input) } else { quote!(_input) }
    };
    let (create_input, update_input) = (
        input_param(!create_cols.is_empty()),
        input_param(!update_cols.is_empty()),
    );
    let patch_use = (!update_cols.is_empty()).then(|| {
        quote!(
            use palisade_runtime::row::Patch;
        )
    });
    // A resource named `store` holds a `store` module of its own.
    let inception = (module == "store").then(|| quote!(#[allow(clippy::module_inception)]));
    let decodes = list || get || create || update;
    let builds_queries = list || get || update || delete || resource.referenced;
    // Imports and items only where an operation uses them, so that every
    // generated module is free of unused code without `allow` attributes.
    let mut uses = vec![quote!(
        use axum::extract::State;
    )];
    if get || update || delete {
        uses.push(quote!(
            use axum::extract::Path;
        ));
    }
    if list {
        uses.push(quote!(
            use axum::extract::RawQuery;
        ));
        uses.push(quote!(
            use palisade_runtime::page::{self, ListQuery, ListRules};
        ));
    }
    if list || get || update || delete {
        uses.push(quote!(
            use axum::http::StatusCode;
        ));
    }
    // An update that never answers with the row replies with no body.
    if list || get || create || (update && update_replies) {
        uses.push(quote!(
            use palisade_runtime::body;
        ));
    }
    if create || update {
        uses.push(quote!(
            use palisade_runtime::body::Json;
        ));
        uses.push(quote!(
            use palisade_runtime::row::now;
        ));
    }
    if decodes {
        uses.push(quote!(
            use sqlx::sqlite::SqliteRow;
        ));
        uses.push(quote!(
            use sqlx::Row as _;
        ));
    }
    if builds_queries {
        uses.push(quote!(
            use sqlx::{QueryBuilder, Sqlite};
        ));
    }
    let list_items = list.then(|| {
        quote! {
            static LIST_RULES: ListRules = ListRules {
                default_limit: #default_limit,
                max_limit: #max_limit,
                sort_keys: &[#(#sort_keys),*],
                default_sort: "-created_at",
                filters: &[#(#filters),*],
            };

            fn sort_value(row: &Row, key: &str) -> serde_json::Value {
                match key {
                    #(#sort_arms)*
                    _ => serde_json::Value::Null,
                }
            }
        }
    });
    let decode = decodes.then(|| {
        quote! {
            impl Row {
                fn decode(r: &SqliteRow) -> Result<Row, sqlx::Error> {
                    Ok(Row { #(#decode_fields,)* })
                }
            }
        }
    });
    let store_list = list.then(|| {
        quote! {
            pub async fn list(db: &SqlitePool, #scope_param query: &ListQuery) -> Result<Vec<Row>, Problem> {
                let mut qb = QueryBuilder::<Sqlite>::new(format!("SELECT {COLUMNS} FROM {TABLE} WHERE 1 = 1"));
                #push_scope
                #(#filter_arms)*
                query.push_after(&mut qb);
                query.push_order_limit(&mut qb);
                let rows = qb.build().fetch_all(db).await?;
                Ok(rows.iter().map(Row::decode).collect::<Result<_, _>>()?)
            }
        }
    });
    let store_get = get.then(|| {
        quote! {
            pub async fn get(db: &SqlitePool, #scope_param id: &str) -> Result<Option<Row>, Problem> {
                let mut qb = QueryBuilder::<Sqlite>::new(format!("SELECT {COLUMNS} FROM {TABLE} WHERE \"id\" = "));
                qb.push_bind(id.to_owned());
                #push_scope
                let row = qb.build().fetch_optional(db).await?;
                Ok(row.as_ref().map(Row::decode).transpose()?)
            }
        }
    });
    let store_insert = create.then(|| {
        quote! {
            pub async fn insert(db: &SqlitePool, #owner_param #create_input: &CreateInput) -> Result<Row, Problem> {
                let now = now();
                let row = sqlx::query(#insert_sql) #(#insert_binds)* .fetch_one(db).await?;
                Ok(Row::decode(&row)?)
            }
        }
    });
    let store_update = update.then(|| {
        quote! {
            pub async fn update(db: &SqlitePool, #scope_param id: &str, #update_input: &UpdateInput) -> Result<Option<Row>, Problem> {
                let mut qb = QueryBuilder::<Sqlite>::new(format!("UPDATE {TABLE} SET \"updated_at\" = "));
                qb.push_bind(now());
                #(#update_sets)*
                qb.push(" WHERE \"id\" = ").push_bind(id.to_owned());
                #push_scope
                qb.push(format!(" RETURNING {COLUMNS}"));
                let row = qb.build().fetch_optional(db).await?;
                Ok(row.as_ref().map(Row::decode).transpose()?)
            }
        }
    });
    let store_delete = delete.then(|| {
        quote! {
            pub async fn delete(db: &SqlitePool, #scope_param id: &str) -> Result<bool, Problem> {
                let mut qb = QueryBuilder::<Sqlite>::new(format!("DELETE FROM {TABLE} WHERE \"id\" = "));
                qb.push_bind(id.to_owned());
                #push_scope
                #delete_exec
            }
            #store_still_referenced
        }
    });
    // Statements built at run time name the table and the columns; an
    // insert is one literal statement.
    let columns_const =
        (list || get || update).then(|| quote!(const COLUMNS: &str = #columns_sql;));
    let table_const = builds_queries.then(|| quote!(const TABLE: &str = #table;));
    let owner_const_used = owner_const.filter(|_| builds_queries);
    // `Scope` where a store function takes one or a ref check names one.
    let refs_name_scope = [(create, &create_refs), (update, &update_refs)]
        .into_iter()
        .filter(|(op, _)| *op)
        .flat_map(|(_, refs)| refs.iter())
        .any(|t| t.to_string().contains("Scope"));
    let scope_use = (builds_queries || refs_name_scope).then(|| {
        quote!(
            use palisade_runtime::access::Scope;
        )
    });
    quote! {
        #![doc = #module_doc]

        use axum::handler::Handler as _;
        use axum::response::Response;
        use axum::Router;
        use serde::{Deserialize, Serialize};
        use sqlx::SqlitePool;
        #(#uses)*

        use palisade_runtime::access::{Access, Grants};
        #scope_use
        use palisade_runtime::check::Checker;
        use palisade_runtime::problem::Problem;
        #patch_use
        use palisade_runtime::server::{App, Operation};
        use palisade_runtime::throttle::Rate;

        #table_const
        #owner_const_used
        #columns_const

        #(#statics)*

        #list_items

        #(#patterns)*

        /// A row as the API returns it.
        #[derive(Clone, Serialize)]
        pub struct Row { #(#row_fields,)* }

        impl std::fmt::Debug for Row {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("Row") #(#row_debug)* .finish()
            }
        }

        #decode

        /// The body of a create: unknown fields, the owner, `id` and the
        /// timestamps are refused.
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct CreateInput { #(#create_fields,)* }

        impl std::fmt::Debug for CreateInput {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("CreateInput") #(#create_debug)* .finish()
            }
        }

        impl CreateInput {
            /// Every constraint of the spec; all violations in one 422.
            pub fn check(&self) -> Result<(), Problem> {
                #create_body
            }
        }

        /// The body of an update: absent fields stay as they are.
        #[derive(Default, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct UpdateInput { #(#update_fields,)* }

        impl std::fmt::Debug for UpdateInput {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct("UpdateInput") #(#update_debug)* .finish()
            }
        }

        impl UpdateInput {
            /// Every constraint of the spec; all violations in one 422.
            pub fn check(&self) -> Result<(), Problem> {
                #update_body
            }
        }

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

        /// The hooks of `Hooks` that this resource's operations run, as
        /// the handlers call them: made once from the team's hooks type, so
        /// that the handlers are compiled here.
        #[derive(Clone, Copy)]
        pub struct HookFns {
            #(#hook_fields)*
        }

        impl HookFns {
            /// The hooks of `H`.
            pub fn of<H: Hooks>() -> HookFns {
                HookFns {
                    #(#hook_values)*
                }
            }
        }

        #hooks_fn

        /// The only code that reaches the table. Every function of an owned
        /// resource takes the caller's scope and filters on the owner.
        #inception
        mod store {
            use super::*;

            #store_list
            #store_get
            #store_insert
            #store_update
            #store_delete
            #store_exists
            #store_owner_of
        }

        #linkable

        #update_reply_static

        #shown_fn

        #(#handlers)*

        #[doc = #routes_doc]
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
