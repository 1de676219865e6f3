//! The generated project's own `tests/security.rs`: proof of owner
//! isolation, authentication, mass-assignment refusal and grants for the
//! project's own resources, against its own router, runnable with
//! `cargo test` in the project, so a team that adds hooks keeps the proof
//! running in its own CI.
//!
//! Stage: generate. Input: the model. Every expectation is read from the
//! model's grants, scope and input columns; example values come from
//! [`super::example`]. A resource whose rows cannot be created in a test
//! (no create grant, a field no example satisfies, a reference the creator
//! could not read) gets the tests that need no row, and a comment says why.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use serde_json::{Map, Value};

use super::example;
use crate::model::{ColumnType, OperationKind, Resource, Rows, Scope, Service};

/// Who creates rows in the tests.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Actor {
    /// The user `alice` (tenant `acme`), through an owner grant.
    Alice,
    /// A user holding this role (tenant `initech`).
    Role(String),
}

impl Actor {
    fn token(&self) -> TokenStream {
        match self {
            Actor::Alice => quote!(app.token("alice", &[], "acme")),
            Actor::Role(r) => {
                let user = format!("role-{r}");
                quote!(app.token(#user, &[#r], "initech"))
            }
        }
    }
}

/// Who may create rows of `resource`, preferring the owner.
fn creator(resource: &Resource) -> Option<Actor> {
    let op = resource.operation(OperationKind::Create)?;
    if op.grants.owner && resource.scope != Scope::Unowned {
        Some(Actor::Alice)
    } else {
        op.grants.roles.first().map(|r| Actor::Role(r.clone()))
    }
}

/// Whether `actor` may read rows of `target` that `owner` created.
fn reads(target: &Resource, actor: &Actor, owner: &Actor) -> bool {
    let Some(get) = target.operation(OperationKind::Get) else {
        return false;
    };
    get.grants
        .rows()
        .iter()
        .any(|(grantee, rows)| match (grantee, rows) {
            (crate::model::Grantee::Public, _) => true,
            (crate::model::Grantee::Role(r), _) => *actor == Actor::Role(r.clone()),
            (crate::model::Grantee::Owner, Rows::Own) => actor == owner,
            (crate::model::Grantee::Owner, Rows::All) => true,
        })
}

fn fn_name(prefix: &str, resource: &Resource) -> syn::Ident {
    format_ident!("{prefix}_{}", resource.name)
}

/// A function that creates a row of `resource` as its creator, and the
/// creator; `None` when the tests cannot create one.
fn maker(
    service: &Service,
    resource: &Resource,
    seed: u32,
) -> Result<(TokenStream, Actor), String> {
    let actor = creator(resource).ok_or("nobody may create rows")?;
    let mut body = Map::new();
    let mut refs = Vec::new();
    for column in resource.columns.iter().filter(|c| c.on_create) {
        match &column.ty {
            ColumnType::Ref { resource: target } => {
                if !column.required {
                    continue;
                }
                let target = service
                    .resource(target)
                    .ok_or("a ref to a missing resource")?;
                if target.name == resource.name {
                    return Err(format!(
                        "`{}` is a required reference to its own resource",
                        column.name
                    ));
                }
                let target_actor = creator(target).ok_or(format!(
                    "nobody may create the `{}` that `{}` needs",
                    target.name, column.name
                ))?;
                if !reads(target, &actor, &target_actor) {
                    return Err(format!(
                        "the creator could not read the `{}` that `{}` needs",
                        target.name, column.name
                    ));
                }
                refs.push((column.name.clone(), fn_name("make", target)));
            }
            _ => {
                let value = example::value(column, seed)
                    .ok_or(format!("no example value satisfies `{}`", column.name))?;
                body.insert(column.name.clone(), value);
            }
        }
    }
    let name = fn_name("make", resource);
    let json = Value::Object(body).to_string();
    let token = actor.token();
    let plural = format!("/{}", resource.plural);
    let ref_inserts = refs.iter().map(|(field, make)| {
        quote! {
            let target = #make(app, seed).await;
            body.insert(#field.to_string(), target["id"].clone());
        }
    });
    let unique_fields: Vec<&str> = resource
        .fields()
        .filter(|c| c.unique.is_some() && c.on_create && !matches!(c.ty, ColumnType::Ref { .. }))
        .map(|c| c.name.as_str())
        .collect();
    let _ = unique_fields;
    let tokens = quote! {
        /// Creates a row of `#name` as its creator and returns it.
        fn #name<'a>(app: &'a TestApp, seed: u32) -> std::pin::Pin<Box<dyn std::future::Future<Output = Value> + 'a>> {
            Box::pin(async move {
                #[allow(unused_mut)]
                let mut body: Map<String, Value> = serde_json::from_str(#json).unwrap();
                #(#ref_inserts)*
                let _ = seed;
                let token = #token;
                let reply = app.call("POST", #plural, Some(&token), Some(Value::Object(body))).await;
                assert_eq!(reply.status, 201, "create {}: {}", #plural, reply.body);
                reply.body
            })
        }
    };
    Ok((tokens, actor))
}

/// The `tests/security.rs` file of the project.
pub fn security_tests(service: &Service) -> TokenStream {
    let krate = format_ident!("{}", service.name.replace('-', "_"));
    let mut items = Vec::new();
    for resource in &service.resources {
        let name = &resource.name;
        let collection = format!("/{}", resource.plural);
        let item = format!("/{}/00000000-0000-4000-8000-000000000000", resource.plural);

        // Every route refuses a missing or forged token, unless public.
        let unauthenticated: Vec<TokenStream> = resource.operations.iter().filter(|o| !o.grants.public).map(|op| {
            let method = op.method.as_str();
            let path = if op.path.contains("{id}") { item.clone() } else { collection.clone() };
            let body = matches!(op.kind, OperationKind::Create | OperationKind::Update).then(|| quote!(Some(json!({})))).unwrap_or(quote!(None));
            quote! {
                assert_eq!(app.call(#method, #path, None, #body).await.status, 401, "{} {} without a token", #method, #path);
                assert_eq!(app.call(#method, #path, Some("not.a.token"), #body).await.status, 401, "{} {} with a forged token", #method, #path);
            }
        }).collect();
        let test = fn_name("requires_a_token", resource);
        if !unauthenticated.is_empty() {
            items.push(quote! {
                #[tokio::test]
                async fn #test() {
                    let app = app().await;
                    #(#unauthenticated)*
                }
            });
        }

        let (make, actor) = match maker(service, resource, 1) {
            Ok(m) => m,
            Err(why) => {
                let note = format!("`{name}`: no row-level tests: {why}.");
                items.push(quote! { const _: &str = #note; });
                continue;
            }
        };
        items.push(make);
        let make = fn_name("make", resource);

        // Mass assignment: everything the model does not accept on create.
        let forbidden: Vec<&str> = resource
            .columns
            .iter()
            .filter(|c| !c.on_create)
            .map(|c| c.name.as_str())
            .chain(["zz_unknown"])
            .collect();
        let token = actor.token();
        let test = fn_name("refuses_mass_assignment", resource);
        items.push(quote! {
            #[tokio::test]
            async fn #test() {
                let app = app().await;
                let row = #make(&app, 1).await;
                let mut body: Map<String, Value> = Map::new();
                for (k, v) in row.as_object().unwrap() {
                    body.insert(k.clone(), v.clone());
                }
                let token = #token;
                for field in [#(#forbidden),*] {
                    let mut attempt: Map<String, Value> = Map::new();
                    attempt.insert(field.to_string(), json!("injected"));
                    let reply = app.call("POST", #collection, Some(&token), Some(Value::Object(attempt))).await;
                    assert_eq!(reply.status, 422, "create with `{field}`: {}", reply.body);
                    let named = reply.body["errors"].as_array().into_iter().flatten().any(|e| e["field"] == field);
                    assert!(named, "the 422 names `{field}`: {}", reply.body);
                }
                let _ = body;
            }
        });

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
                let body = if kind == OperationKind::Update {
                    quote!(Some(json!({})))
                } else {
                    quote!(None)
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
            if resource
                .operation(OperationKind::Get)
                .is_some_and(|o| o.grants.owner)
            {
                checks.push(quote! {
                    let alice = app.token("alice", &[], "acme");
                    let mine = app.call("GET", &item, Some(&alice), None).await;
                    assert_eq!((mine.status, mine.body), (200, row.clone()), "the owner's row is unchanged");
                });
            }
            let test = fn_name("isolates_owners", resource);
            items.push(quote! {
                #[tokio::test]
                async fn #test() {
                    let app = app().await;
                    let row = #make(&app, 2).await;
                    let item = format!("{}/{}", #collection, row["id"].as_str().unwrap());
                    let bob = app.token("bob", &[], "globex");
                    #(#checks)*
                }
            });
        }

        // Grants: every declared role and anonymous callers, on the row.
        let mut checks = Vec::new();
        let mut callers: Vec<(Option<String>, TokenStream)> = service
            .roles
            .iter()
            .map(|r| {
                let user = format!("role-{r}");
                (
                    Some(r.clone()),
                    quote!(Some(app.token(#user, &[#r], "initech"))),
                )
            })
            .collect();
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
                let who = role.clone().unwrap_or_else(|| "anonymous".into());
                let listed = (kind == OperationKind::List && expected == 200).then(|| {
                    let listed = quote!(reply.body["items"].as_array().unwrap().iter().any(|r| r["id"] == row["id"]));
                    if reaches_all || is_creator {
                        quote!(assert!(#listed, "{} list as {} shows the row", #name, #who);)
                    } else {
                        quote!(assert!(!#listed, "{} list as {} hides another owner's row", #name, #who);)
                    }
                });
                checks.push(quote! {
                    let token: Option<String> = #token;
                    let reply = app.call(#method, #path, token.as_deref(), #body).await;
                    assert_eq!(reply.status, #expected, "{} {} as {}: {}", #method, #name, #who, reply.body);
                    #listed
                });
            }
        }
        let test = fn_name("grants_exactly_as_declared", resource);
        items.push(quote! {
            #[tokio::test]
            async fn #test() {
                let app = app().await;
                let row = #make(&app, 3).await;
                let item = format!("{}/{}", #collection, row["id"].as_str().unwrap());
                #(#checks)*
            }
        });
    }
    quote! {
        //! Proof of the security contract for this service's own resources,
        //! against its own router: tokens required, owners isolated, bodies
        //! without mass assignment, grants exactly as the spec declares.
        //! Regenerated from the spec; run with `cargo test`.

        use serde_json::{json, Map, Value};

        use #krate::runtime::testkit::TestApp;

        async fn app() -> TestApp {
            TestApp::new(&#krate::api::SETTINGS, #krate::api::MIGRATIONS, #krate::api::routes).await
        }

        #(#items)*
    }
}
