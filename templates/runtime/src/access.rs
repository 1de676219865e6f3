//! Authorization: which rows an operation may touch, for this caller.
//!
//! The generator decides who may do what once, in its model, and hands each
//! operation a static [`Grants`] plus the resource's [`OwnerClaim`];
//! [`authorize`] applies them to the [`Caller`]. Invariant: the result is
//! either an error or a [`Reach`] whose [`Scope`] every statement must apply (the
//! guard hands it to the handler and its hooks inside an [`Access`]);
//! `Scope::Owned` can only be dropped by a statement that forgets to
//! call [`Scope::push_condition`], which the generated tests catch. Owner
//! values always come from the token, never from the request.
//!
//! Precedence, first match wins:
//! 1. `public` grant: anyone, all rows (the generator only allows it on
//!    read operations);
//! 2. authenticated caller holding a role listed in `roles`: all rows;
//! 3. authenticated caller and an `owner` grant on an owned resource: the
//!    rows whose owner is the caller's owner value (user claim, or the
//!    tenant claim); a token without that tenant claim is 403;
//! 4. otherwise anonymous is 401 and authenticated is 403.

use super::auth::{Caller, Principal};
use super::db::{Kind, Session, Sql};
use super::problem::Problem;

/// Who may run one operation (the spec's `access` block for it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grants {
    /// The owner of a row may act on it.
    pub owner: bool,
    /// These roles act on every owner's rows.
    pub roles: &'static [&'static str],
    /// Anyone, without a token, may call it.
    pub public: bool,
}

/// Where a resource's owner value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerClaim {
    /// The configured user claim (`owner: owner_id`).
    User,
    /// A tenant claim (`owner: { field: org_id, claim: org }`).
    Claim(&'static str),
}

impl OwnerClaim {
    /// The caller's owner value under this rule, if the token carries it.
    pub fn value_of<'a>(&self, p: &'a Principal) -> Option<&'a str> {
        match self {
            OwnerClaim::User => Some(&p.user),
            OwnerClaim::Claim(c) => p.claims.get(*c).map(String::as_str),
        }
    }
}

/// The rows an operation may read or write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every row (role and public grants, unowned resources).
    All,
    /// Only rows whose owner column equals this value.
    Owned(String),
}

impl Scope {
    /// The owner value to filter on, `None` for [`Scope::All`].
    pub fn owner(&self) -> Option<&str> {
        match self {
            Scope::All => None,
            Scope::Owned(o) => Some(o),
        }
    }

    /// Appends ` AND <column> = ?` and its bind when the scope is owned;
    /// nothing for `All`. `column` is a quoted identifier chosen by the
    /// generator (static, so it can never come from input). Call it right
    /// after a `WHERE` clause that has at least one condition (`WHERE 1=1`
    /// when there is none).
    pub fn push_condition(&self, qb: &mut Sql, column: &'static str) {
        if let Scope::Owned(owner) = self {
            qb.push(" AND ")
                .push(column)
                .push(" = ")
                .bind(owner, Kind::Text);
        }
    }
}

impl Grants {
    /// Nobody (roles are added with [`Grants::roles`]).
    pub const NONE: Grants = Grants {
        owner: false,
        roles: &[],
        public: false,
    };
    /// The owner of a row, on their own rows.
    pub const OWNER: Grants = Grants {
        owner: true,
        ..Grants::NONE
    };

    /// These grants, and also `roles` on every row.
    pub const fn roles(self, roles: &'static [&'static str]) -> Grants {
        Grants { roles, ..self }
    }

    /// These grants, and also anyone without a token.
    pub const fn public(self) -> Grants {
        Grants {
            public: true,
            ..self
        }
    }

    /// Whether `caller` reaches the row owned by `row_owner` (`None` for
    /// an unowned resource) under these grants: a public grant reaches
    /// everyone, a role grant its holders, an owner grant the row's own
    /// owner. Used where the answer depends on the row: whether an update
    /// answers with the changed row (the `get` grants), and whether a row
    /// shows its owner column (the owner column's readers).
    pub fn reach(
        &self,
        caller: &Caller,
        rule: Option<OwnerClaim>,
        row_owner: Option<&str>,
    ) -> bool {
        if self.public {
            return true;
        }
        let Some(p) = caller.principal() else {
            return false;
        };
        if self.roles.iter().any(|r| p.has_role(r)) {
            return true;
        }
        match (rule, row_owner) {
            (Some(rule), Some(owner)) if self.owner => rule.value_of(p) == Some(owner),
            _ => false,
        }
    }
}

/// The outcome of [`authorize`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reach {
    /// Rows the operation may touch.
    pub rows: Scope,
    /// The caller's own owner value, when the token carries it (even when a
    /// role reaches all rows): the owner of anything the caller creates.
    pub owner: Option<String>,
}

/// What one request of a guarded operation may do, as its handler and the
/// team's hooks see it: the caller, the rows the operation reaches for
/// it, its owner value and the database. The guard makes it; new fields
/// may be added in later versions (it is `#[non_exhaustive]`), so hooks
/// take it whole and read what they need.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Access {
    /// Who is calling (anonymous only under a public grant).
    pub caller: Caller,
    /// Rows the operation may touch: a hook that reads or writes rows
    /// itself must apply it too ([`Scope::push_condition`]).
    pub rows: Scope,
    /// The caller's own owner value, when the token carries it (even when a
    /// role reaches all rows): the owner of anything the caller creates.
    pub owner: Option<String>,
    /// Who may run the operation: the spec's grants of it.
    pub grants: Grants,
    /// The request's database session. Code of the team's that reads or
    /// writes rows applies `rows` itself. On SQLite its `database()` has
    /// the read-only and write pools (the write pool has one connection,
    /// so a hook must release it before it returns: the operation's own
    /// write waits for it). On PostgreSQL its `postgres()` is the
    /// request's transaction, as the caller: row-level security applies
    /// to a hook's statements as to the operation's own.
    pub db: Session,
}

impl Access {
    /// What the guard hands on: `reach` for `caller` under the
    /// operation's `grants`, with the database.
    pub fn new(caller: Caller, reach: Reach, grants: Grants, db: Session) -> Access {
        Access {
            caller,
            rows: reach.rows,
            owner: reach.owner,
            grants,
            db,
        }
    }

    /// The owner for a new row of an owned resource; 403 when the token
    /// has no owner value (for example a role token without the tenant
    /// claim).
    pub fn require_owner(&self) -> Result<&str, Problem> {
        self.owner.as_deref().ok_or_else(Problem::forbidden)
    }
}

/// Applies one operation's grants to the caller (see the module docs for
/// the precedence). `owner_rule` is `None` for `owner: none` resources,
/// where an owner grant reaches nothing.
pub fn authorize(
    caller: &Caller,
    grants: &Grants,
    owner_rule: Option<OwnerClaim>,
) -> Result<Reach, Problem> {
    let principal = caller.principal();
    let owner = match (principal, owner_rule) {
        (Some(p), Some(rule)) => rule.value_of(p).map(str::to_owned),
        _ => None,
    };
    if grants.public {
        return Ok(Reach {
            rows: Scope::All,
            owner,
        });
    }
    let Some(p) = principal else {
        return Err(Problem::unauthorized());
    };
    if grants.roles.iter().any(|r| p.has_role(r)) {
        return Ok(Reach {
            rows: Scope::All,
            owner,
        });
    }
    if grants.owner && owner_rule.is_some() {
        return match owner {
            Some(o) => Ok(Reach {
                rows: Scope::Owned(o.clone()),
                owner: Some(o),
            }),
            None => Err(Problem::forbidden()),
        };
    }
    Err(Problem::forbidden())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use std::collections::BTreeMap;

    fn user(name: &str, roles: &[&str], org: Option<&str>) -> Caller {
        Caller::User(Principal {
            user: name.into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            claims: org
                .map(|o| BTreeMap::from([("org".to_string(), o.to_string())]))
                .unwrap_or_default(),
        })
    }

    const OWNER_ONLY: Grants = Grants {
        owner: true,
        roles: &[],
        public: false,
    };
    const OWNER_AND_ADMIN: Grants = Grants {
        owner: true,
        roles: &["admin"],
        public: false,
    };
    const ADMIN_ONLY: Grants = Grants {
        owner: false,
        roles: &["admin"],
        public: false,
    };
    const PUBLIC: Grants = Grants {
        owner: true,
        roles: &[],
        public: true,
    };

    fn status(r: Result<Reach, Problem>) -> Result<Reach, StatusCode> {
        r.map_err(|p| p.status)
    }

    /// caller, grants, owner rule, expected rows or status
    type Row<'a> = (
        &'a Caller,
        Grants,
        Option<OwnerClaim>,
        Result<Scope, StatusCode>,
    );

    #[test]
    fn precedence_table() {
        use OwnerClaim::{Claim, User};
        let anon = Caller::Anonymous;
        let alice = user("alice", &[], Some("acme"));
        let admin = user("root", &["admin"], None);
        let support = user("sam", &["support"], None);
        let owned = |o: &str| Scope::Owned(o.to_string());
        let table: Vec<Row> = vec![
            (&anon, OWNER_ONLY, Some(User), Err(StatusCode::UNAUTHORIZED)),
            (&anon, ADMIN_ONLY, None, Err(StatusCode::UNAUTHORIZED)),
            (&anon, PUBLIC, Some(User), Ok(Scope::All)),
            (&alice, OWNER_ONLY, Some(User), Ok(owned("alice"))),
            (&alice, OWNER_ONLY, Some(Claim("org")), Ok(owned("acme"))),
            (&alice, OWNER_AND_ADMIN, Some(User), Ok(owned("alice"))),
            (&alice, ADMIN_ONLY, Some(User), Err(StatusCode::FORBIDDEN)),
            // owner grant on an unowned resource reaches nothing
            (&alice, OWNER_ONLY, None, Err(StatusCode::FORBIDDEN)),
            (&alice, PUBLIC, Some(User), Ok(Scope::All)),
            (&admin, OWNER_AND_ADMIN, Some(User), Ok(Scope::All)),
            (&admin, ADMIN_ONLY, None, Ok(Scope::All)),
            // a role not listed for the operation does not help
            (&support, ADMIN_ONLY, Some(User), Err(StatusCode::FORBIDDEN)),
            (&support, OWNER_ONLY, Some(User), Ok(owned("sam"))),
            // tenant scoping without the tenant claim
            (
                &support,
                OWNER_ONLY,
                Some(Claim("org")),
                Err(StatusCode::FORBIDDEN),
            ),
        ];
        for (i, (caller, grants, rule, want)) in table.into_iter().enumerate() {
            let got = status(authorize(caller, &grants, rule)).map(|a| a.rows);
            assert_eq!(got, want, "row {i}");
        }
    }

    #[test]
    fn owner_is_always_the_callers_own() {
        let admin = user("root", &["admin"], Some("acme"));
        let a = authorize(&admin, &OWNER_AND_ADMIN, Some(OwnerClaim::Claim("org"))).unwrap();
        assert_eq!((a.rows, a.owner.as_deref()), (Scope::All, Some("acme")));
        let a = authorize(&Caller::Anonymous, &PUBLIC, Some(OwnerClaim::User)).unwrap();
        assert_eq!(a.owner, None);
    }

    #[test]
    fn reach_depends_on_the_row() {
        let alice = user("alice", &[], Some("acme"));
        let admin = user("root", &["admin"], None);
        let rule = Some(OwnerClaim::User);
        assert!(OWNER_ONLY.reach(&alice, rule, Some("alice")));
        assert!(!OWNER_ONLY.reach(&alice, rule, Some("bob")));
        assert!(!OWNER_ONLY.reach(&admin, rule, Some("bob")));
        assert!(ADMIN_ONLY.reach(&admin, rule, Some("bob")));
        assert!(!ADMIN_ONLY.reach(&alice, rule, Some("alice")));
        assert!(PUBLIC.reach(&Caller::Anonymous, rule, Some("bob")));
        assert!(!OWNER_ONLY.reach(&Caller::Anonymous, rule, Some("bob")));
        let tenant = Some(OwnerClaim::Claim("org"));
        assert!(OWNER_ONLY.reach(&alice, tenant, Some("acme")));
        assert!(!OWNER_ONLY.reach(&alice, tenant, Some("alice")));
        // Unowned rows have no owner to match.
        assert!(!OWNER_ONLY.reach(&alice, None, None));
    }

    #[test]
    fn owned_scope_adds_the_condition() {
        use crate::db::Engine;
        let mut qb = Sql::new(Engine::Sqlite, "SELECT 1 FROM t WHERE \"id\" = ");
        qb.bind("x", Kind::Uuid);
        Scope::Owned("alice".into()).push_condition(&mut qb, "\"owner_id\"");
        assert_eq!(
            qb.text(),
            "SELECT 1 FROM t WHERE \"id\" = ? AND \"owner_id\" = ?"
        );
        let mut qb = Sql::new(Engine::Postgres, "SELECT 1 FROM t WHERE \"id\" = ");
        qb.bind("x", Kind::Uuid);
        Scope::Owned("alice".into()).push_condition(&mut qb, "\"owner_id\"");
        assert_eq!(
            qb.text(),
            "SELECT 1 FROM t WHERE \"id\" = $1::uuid AND \"owner_id\" = $2"
        );
        let mut qb = Sql::new(Engine::Sqlite, "SELECT 1 FROM t WHERE 1=1");
        Scope::All.push_condition(&mut qb, "\"owner_id\"");
        assert_eq!(qb.text(), "SELECT 1 FROM t WHERE 1=1");
    }
}
