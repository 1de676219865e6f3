//! Field rules: who sees each column in an answer and who may set it in a
//! body, as the spec's `read`, `write`, `hide` and `owner.read` say.
//!
//! The generator resolves the rules once, in its model, and lists the
//! columns that have one in the resource's table ([`FieldRule`]); every
//! other column is shown to whoever reaches the row and set by whoever may
//! run the operation. The resource handlers apply them here:
//!
//! - an answer leaves out (absent, never `null`) each column whose readers
//!   do not reach the caller on that row ([`Shown`]);
//! - a body that sets a column whose writers do not include the caller is
//!   422 naming it ([`refused_on_create`], [`refused_on_update`]), never
//!   silently dropped;
//! - a list filtered or sorted on a column the caller cannot read on every
//!   row it reaches is 422 ([`unreadable_keys`]), so the order or the
//!   filter is never an oracle for a hidden value.
//!
//! A caller of several kinds (a role holder on their own row) gets what
//! each of its kinds gets.

use serde::ser::{Serialize, SerializeStruct, Serializer};

use super::access::{Grants, OwnerClaim, Scope};
use super::auth::Caller;
use super::problem::{FieldError, Problem};

/// The rules of one column; a column without any has no entry.
#[derive(Debug)]
pub struct FieldRule {
    /// The column, as the JSON key and the query parameter name it is.
    pub name: &'static str,
    /// Who sees it; `None`: whoever the row is shown to.
    pub read: Option<Grants>,
    /// Who may set it; `None`: whoever may run the operation.
    pub write: Option<Grants>,
}

/// A row as one caller is shown it: the columns listed in `hidden` are
/// left out of its JSON object.
#[derive(Debug)]
pub struct Shown<R> {
    row: R,
    hidden: Vec<&'static str>,
}

impl<R> Shown<R> {
    /// `row` without the columns `hidden` names (see [`hidden`]).
    pub fn new(row: R, hidden: Vec<&'static str>) -> Shown<R> {
        Shown { row, hidden }
    }

    /// The columns left out.
    pub fn hidden(&self) -> &[&'static str] {
        &self.hidden
    }
}

/// The columns of `rules` whose readers do not reach `caller` on a row
/// owned by `row_owner` (`None` for an unowned resource).
pub fn hidden(
    rules: &[FieldRule],
    caller: &Caller,
    claim: Option<OwnerClaim>,
    row_owner: Option<&str>,
) -> Vec<&'static str> {
    rules
        .iter()
        .filter(|rule| {
            rule.read
                .is_some_and(|readers| !readers.reach(caller, claim, row_owner))
        })
        .map(|rule| rule.name)
        .collect()
}

impl<R: Serialize> Serialize for Shown<R> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.hidden.is_empty() {
            return self.row.serialize(serializer);
        }
        self.row.serialize(Omitting {
            inner: serializer,
            hidden: &self.hidden,
        })
    }
}

/// The 422 of a create whose body sets columns the caller may not:
/// `sets` says whether the body sets a column. The creator of a row of an
/// owned resource is its owner, so an `owner` writer admits every creator.
pub fn refused_on_create(
    rules: &[FieldRule],
    caller: &Caller,
    owned: bool,
    sets: impl Fn(&str) -> bool,
) -> Result<(), Problem> {
    let refused: Vec<FieldError> = rules
        .iter()
        .filter(|rule| sets(rule.name))
        .filter(|rule| {
            rule.write
                .is_some_and(|writers| !(holds_role(&writers, caller) || (owned && writers.owner)))
        })
        .map(refusal)
        .collect();
    if refused.is_empty() {
        Ok(())
    } else {
        Err(Problem::unprocessable(refused))
    }
}

/// What an update body may set, by who the caller is: `Ok(true)` when it
/// sets a column only the row's owner may (among the caller's kinds), so
/// the update must reach only the caller's own row; 422 naming every
/// column no kind of the caller may set. `owner_updates`: the resource is
/// owned and its owner may run the update (an `owner` writer admits
/// nobody otherwise, not even a role holder on their own row).
pub fn refused_on_update(
    rules: &[FieldRule],
    caller: &Caller,
    owner_updates: bool,
    sets: impl Fn(&str) -> bool,
) -> Result<bool, Problem> {
    let mut own_only = false;
    let mut refused = Vec::new();
    for rule in rules.iter().filter(|rule| sets(rule.name)) {
        match owner_only(rule, caller, owner_updates) {
            None => {}
            Some(true) => own_only = true,
            Some(false) => refused.push(refusal(rule)),
        }
    }
    if refused.is_empty() {
        Ok(own_only)
    } else {
        Err(Problem::unprocessable(refused))
    }
}

/// The 422 of an update that sets owner-only columns of a row the caller
/// reaches but does not own: it names those columns, not the ones the
/// caller may set on any row.
pub fn refused_not_owner(
    rules: &[FieldRule],
    caller: &Caller,
    sets: impl Fn(&str) -> bool,
) -> Problem {
    Problem::unprocessable(
        rules
            .iter()
            .filter(|rule| sets(rule.name) && owner_only(rule, caller, true) == Some(true))
            .map(refusal)
            .collect(),
    )
}

/// Whether `caller` may set the column of `rule` on update: `None` on any
/// row it reaches, `Some(true)` on its own rows only, `Some(false)` never.
fn owner_only(rule: &FieldRule, caller: &Caller, owner_updates: bool) -> Option<bool> {
    let writers = rule.write?;
    if holds_role(&writers, caller) {
        None
    } else {
        Some(owner_updates && writers.owner)
    }
}

/// 422 when the list is filtered or sorted on a column that the caller
/// cannot read on every row `rows` reaches: its readers are public, hold
/// one of the caller's roles, or are the owner while the caller reaches
/// only its own rows.
pub fn unreadable_keys<'k>(
    rules: &[FieldRule],
    caller: &Caller,
    rows: &Scope,
    keys: impl Iterator<Item = &'k str>,
) -> Result<(), Problem> {
    let own_rows = matches!(rows, Scope::Owned(_));
    let refused: Vec<FieldError> = keys
        .filter_map(|key| rules.iter().find(|rule| rule.name == key))
        .filter(|rule| {
            rule.read.is_some_and(|readers| {
                !(readers.public || holds_role(&readers, caller) || (own_rows && readers.owner))
            })
        })
        .map(|rule| {
            FieldError::new(
                rule.name,
                "is not shown to this caller, so a list cannot be filtered or sorted on it",
            )
        })
        .collect();
    if refused.is_empty() {
        Ok(())
    } else {
        Err(Problem::unprocessable(refused))
    }
}

fn holds_role(grants: &Grants, caller: &Caller) -> bool {
    caller
        .principal()
        .is_some_and(|p| grants.roles.iter().any(|r| p.has_role(r)))
}

fn refusal(rule: &FieldRule) -> FieldError {
    FieldError::new(rule.name, "may not be set by this caller")
}

/// A serializer that leaves some fields out of the struct it serializes
/// (the row) and is the inner serializer for everything else.
struct Omitting<'h, S> {
    inner: S,
    hidden: &'h [&'static str],
}

/// The row's fields, less the hidden ones.
struct OmittingStruct<'h, S> {
    inner: S,
    hidden: &'h [&'static str],
}

impl<S: SerializeStruct> SerializeStruct for OmittingStruct<'_, S> {
    type Ok = S::Ok;
    type Error = S::Error;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), S::Error> {
        if self.hidden.contains(&key) {
            self.inner.skip_field(key)
        } else {
            self.inner.serialize_field(key, value)
        }
    }

    fn skip_field(&mut self, key: &'static str) -> Result<(), S::Error> {
        self.inner.skip_field(key)
    }

    fn end(self) -> Result<S::Ok, S::Error> {
        self.inner.end()
    }
}

/// Forwards one `serialize_*` method to the inner serializer.
macro_rules! forward {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {
        $(
            fn $name(self, $($arg: $ty),*) -> Result<$ret, S::Error> {
                self.inner.$name($($arg),*)
            }
        )*
    };
}

impl<'h, S: Serializer> Serializer for Omitting<'h, S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = S::SerializeSeq;
    type SerializeTuple = S::SerializeTuple;
    type SerializeTupleStruct = S::SerializeTupleStruct;
    type SerializeTupleVariant = S::SerializeTupleVariant;
    type SerializeMap = S::SerializeMap;
    type SerializeStruct = OmittingStruct<'h, S::SerializeStruct>;
    type SerializeStructVariant = S::SerializeStructVariant;

    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, S::Error> {
        Ok(OmittingStruct {
            inner: self.inner.serialize_struct(name, len)?,
            hidden: self.hidden,
        })
    }

    forward! {
        serialize_bool(v: bool) -> S::Ok;
        serialize_i8(v: i8) -> S::Ok;
        serialize_i16(v: i16) -> S::Ok;
        serialize_i32(v: i32) -> S::Ok;
        serialize_i64(v: i64) -> S::Ok;
        serialize_i128(v: i128) -> S::Ok;
        serialize_u8(v: u8) -> S::Ok;
        serialize_u16(v: u16) -> S::Ok;
        serialize_u32(v: u32) -> S::Ok;
        serialize_u64(v: u64) -> S::Ok;
        serialize_u128(v: u128) -> S::Ok;
        serialize_f32(v: f32) -> S::Ok;
        serialize_f64(v: f64) -> S::Ok;
        serialize_char(v: char) -> S::Ok;
        serialize_str(v: &str) -> S::Ok;
        serialize_bytes(v: &[u8]) -> S::Ok;
        serialize_none() -> S::Ok;
        serialize_unit() -> S::Ok;
        serialize_unit_struct(name: &'static str) -> S::Ok;
        serialize_unit_variant(name: &'static str, index: u32, variant: &'static str) -> S::Ok;
        serialize_seq(len: Option<usize>) -> S::SerializeSeq;
        serialize_tuple(len: usize) -> S::SerializeTuple;
        serialize_tuple_struct(name: &'static str, len: usize) -> S::SerializeTupleStruct;
        serialize_tuple_variant(name: &'static str, index: u32, variant: &'static str, len: usize) -> S::SerializeTupleVariant;
        serialize_map(len: Option<usize>) -> S::SerializeMap;
        serialize_struct_variant(name: &'static str, index: u32, variant: &'static str, len: usize) -> S::SerializeStructVariant;
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<S::Ok, S::Error> {
        self.inner.serialize_some(value)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        self.inner.serialize_newtype_struct(name, value)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<S::Ok, S::Error> {
        self.inner
            .serialize_newtype_variant(name, index, variant, value)
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Caller, Principal};

    #[derive(serde::Serialize)]
    struct Row {
        id: &'static str,
        owner_id: &'static str,
        email: Option<&'static str>,
        notes: &'static str,
    }

    const ROW: Row = Row {
        id: "r1",
        owner_id: "alice",
        email: None,
        notes: "n",
    };

    const RULES: &[FieldRule] = &[
        FieldRule {
            name: "owner_id",
            read: Some(Grants::OWNER.roles(&["admin"])),
            write: None,
        },
        FieldRule {
            name: "email",
            read: Some(Grants::OWNER.roles(&["admin"])),
            write: Some(Grants::OWNER),
        },
        FieldRule {
            name: "notes",
            read: Some(Grants::NONE.roles(&["agent", "admin"])),
            write: Some(Grants::NONE.roles(&["agent", "admin"])),
        },
    ];

    fn user(name: &str, roles: &[&str]) -> Caller {
        Caller::User(Principal {
            user: name.into(),
            roles: roles.iter().map(|r| r.to_string()).collect(),
            claims: Default::default(),
        })
    }

    fn json(shown: &Shown<Row>) -> String {
        serde_json::to_string(shown).unwrap()
    }

    fn show(caller: &Caller) -> Shown<Row> {
        Shown::new(
            ROW,
            hidden(RULES, caller, Some(OwnerClaim::User), Some("alice")),
        )
    }

    #[test]
    fn each_caller_sees_its_columns_and_hidden_ones_are_absent() {
        let owner = show(&user("alice", &[]));
        assert_eq!(
            json(&owner),
            r#"{"id":"r1","owner_id":"alice","email":null}"#
        );
        let agent = show(&user("bob", &["agent"]));
        assert_eq!(json(&agent), r#"{"id":"r1","notes":"n"}"#);
        let admin = show(&user("carol", &["admin"]));
        assert_eq!(
            json(&admin),
            r#"{"id":"r1","owner_id":"alice","email":null,"notes":"n"}"#
        );
        // An agent on its own row sees what the owner and the agent see.
        let both = show(&user("alice", &["agent"]));
        assert!(both.hidden().is_empty());
        let anonymous = show(&Caller::Anonymous);
        assert_eq!(json(&anonymous), r#"{"id":"r1"}"#);
    }

    #[test]
    fn writes_are_refused_by_name_and_owner_only_ones_are_flagged() {
        let sets = |names: &'static [&'static str]| move |f: &str| names.contains(&f);
        let owner = user("alice", &[]);
        assert!(refused_on_create(RULES, &owner, true, sets(&["email"])).is_ok());
        let problem =
            refused_on_create(RULES, &owner, true, sets(&["email", "notes"])).unwrap_err();
        assert_eq!(problem.errors.len(), 1);
        assert_eq!(problem.errors[0].field, "notes");
        let agent = user("bob", &["agent"]);
        assert!(!refused_on_update(RULES, &agent, true, sets(&["notes"])).unwrap());
        assert!(refused_on_update(RULES, &agent, true, sets(&["email", "notes"])).unwrap());
        assert!(refused_on_update(RULES, &owner, true, sets(&["notes"])).is_err());
        // The owner may not update: an `owner` writer admits nobody then.
        assert!(refused_on_update(RULES, &agent, false, sets(&["email"])).is_err());
        // Not the row's owner: only the owner-only column is named.
        let problem = refused_not_owner(RULES, &agent, sets(&["email", "notes"]));
        assert_eq!(problem.errors.len(), 1);
        assert_eq!(problem.errors[0].field, "email");
        // Without an owner, `owner` writers admit nobody.
        assert!(refused_on_create(RULES, &owner, false, sets(&["email"])).is_err());
    }

    #[test]
    fn filters_and_sorts_need_the_column_on_every_reached_row() {
        let keys = |k: &'static [&'static str]| k.iter().copied();
        let owner = user("alice", &[]);
        let own = Scope::Owned("alice".into());
        assert!(unreadable_keys(RULES, &owner, &own, keys(&["email"])).is_ok());
        assert!(unreadable_keys(RULES, &owner, &own, keys(&["notes"])).is_err());
        let agent = user("bob", &["agent"]);
        assert!(unreadable_keys(RULES, &agent, &Scope::All, keys(&["email"])).is_err());
        assert!(unreadable_keys(RULES, &agent, &Scope::All, keys(&["notes", "id"])).is_ok());
        // An owner who reaches every row through a role: not every row is theirs.
        let both = user("alice", &["agent"]);
        assert!(unreadable_keys(RULES, &both, &Scope::All, keys(&["email"])).is_err());
    }
}
