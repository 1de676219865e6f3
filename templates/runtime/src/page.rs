//! List queries: `limit`, opaque `cursor`, allowlisted `sort` and filters.
//!
//! [`parse`] reads the query string of a list operation against the
//! resource's static [`ListRules`]; [`ListQuery`] then writes the keyset
//! condition and the `ORDER BY ... LIMIT` into a statement ([`Sql`]) and
//! cuts the fetched rows into a [`Page`]. Invariants: every parameter is in
//! an allowlist (an unknown, repeated or malformed parameter is 422, never
//! ignored); `limit` is capped at the maximum; sort columns in SQL come
//! only from the static allowlist; order is total (sort key, then `id`, in
//! the same direction), so pages never skip or repeat rows. The cursor is
//! base64url JSON and not signed: it only narrows a query that is already
//! owner-scoped, so a forged cursor can reorder the caller's own rows but
//! never reach another owner's; a malformed one is 422, never 500.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::check::Checker;
use super::db::{Engine, Kind, Sql, ToValue};
use super::formats::{is_date, is_datetime, is_uuid};
use super::problem::Problem;

/// Longest accepted `cursor` parameter.
pub const MAX_CURSOR_LEN: usize = 1024;

/// A list operation's static rules (from the spec's `limits`, `sort` and
/// `filters`).
#[derive(Debug, Clone, Copy)]
pub struct ListRules {
    pub default_limit: u32,
    pub max_limit: u32,
    /// Sortable fields (column names as written in the spec; include
    /// `created_at`), each with its column's kind and whether the column
    /// may be NULL.
    pub sort_keys: &'static [(&'static str, Kind, bool)],
    /// Sort used without `sort=`, e.g. `-created_at`.
    pub default_sort: &'static str,
    /// Fields that may be filtered on by exact match.
    pub filters: &'static [&'static str],
}

/// The sort order of a list (`key` ascending, or descending with `-key`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub key: &'static str,
    /// The kind of the key's column.
    pub kind: Kind,
    /// Whether the key's column may be NULL.
    pub nullable: bool,
    pub descending: bool,
}

impl Sort {
    fn parse(v: &str, keys: &'static [(&'static str, Kind, bool)]) -> Option<Sort> {
        let (name, descending) = match v.strip_prefix('-') {
            Some(n) => (n, true),
            None => (v, false),
        };
        let &(key, kind, nullable) = keys.iter().find(|(k, _, _)| *k == name)?;
        Some(Sort {
            key,
            kind,
            nullable,
            descending,
        })
    }

    fn spec(&self) -> String {
        format!("{}{}", if self.descending { "-" } else { "" }, self.key)
    }
}

/// The position after the last row of the previous page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CursorToken {
    /// The sort the cursor was made for.
    s: String,
    /// The sort key value of the last row (null, bool, number or string).
    v: Value,
    /// The id of the last row.
    id: String,
}

/// A parsed list request.
#[derive(Debug, Clone, PartialEq)]
pub struct ListQuery {
    /// Rows per page, `1..=max_limit`.
    pub limit: u32,
    pub sort: Sort,
    /// `(sort value, id)` of the last row already seen.
    pub after: Option<(Value, String)>,
    /// Filters as `(allowlisted field, raw value)`, each at most once;
    /// the generated code converts and checks the value.
    pub filters: Vec<(&'static str, String)>,
}

/// Parses the raw query string (`uri.query()`) of a list request.
pub fn parse(query: Option<&str>, rules: &ListRules) -> Result<ListQuery, Problem> {
    let mut limit = None;
    let mut sort = None;
    let mut cursor = None;
    let mut filters: Vec<(&'static str, String)> = Vec::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (Some(k), Some(v)) = (decode(k), decode(v)) else {
            return Err(Problem::invalid(
                "",
                "the query string is not valid UTF-8 percent-encoding",
            ));
        };
        let dup = |seen: bool| {
            if seen {
                Err(Problem::invalid(k.clone(), "must be given at most once"))
            } else {
                Ok(())
            }
        };
        match k.as_str() {
            "limit" => {
                dup(limit.is_some())?;
                limit = Some(parse_limit(&v, rules.max_limit)?);
            }
            "sort" => {
                dup(sort.is_some())?;
                sort = Some(Sort::parse(&v, rules.sort_keys).ok_or_else(|| {
                    let keys: Vec<&str> = rules.sort_keys.iter().map(|(k, _, _)| *k).collect();
                    let keys = keys.join(", ");
                    Problem::invalid(
                        "sort",
                        format!("must be one of {keys}, optionally prefixed with -"),
                    )
                })?);
            }
            "cursor" => {
                dup(cursor.is_some())?;
                cursor = Some(v);
            }
            name => match rules.filters.iter().find(|f| **f == name) {
                Some(f) => {
                    dup(filters.iter().any(|(seen, _)| seen == f))?;
                    filters.push((f, v));
                }
                None => return Err(Problem::invalid(name, "unknown query parameter")),
            },
        }
    }
    let sort = match sort {
        Some(s) => s,
        // The default sort is generated; an invalid one is a generator bug.
        None => Sort::parse(rules.default_sort, rules.sort_keys)
            .ok_or_else(|| Problem::internal(&"default sort key is not in the sort allowlist"))?,
    };
    let after = match cursor {
        Some(c) => Some(decode_cursor(&c, &sort)?),
        None => None,
    };
    Ok(ListQuery {
        limit: limit
            .unwrap_or(rules.default_limit)
            .clamp(1, rules.max_limit.max(1)),
        sort,
        after,
        filters,
    })
}

/// Decimal digits only; 0 is refused, anything above `max` is `max`.
fn parse_limit(v: &str, max: u32) -> Result<u32, Problem> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Problem::invalid("limit", "must be a positive integer"));
    }
    match v.parse::<u64>().unwrap_or(u64::MAX) {
        0 => Err(Problem::invalid("limit", "must be a positive integer")),
        n => Ok(n.min(u64::from(max)) as u32),
    }
}

fn bad_cursor() -> Problem {
    Problem::invalid("cursor", "is not a cursor returned by this list")
}

fn decode_cursor(c: &str, sort: &Sort) -> Result<(Value, String), Problem> {
    if c.len() > MAX_CURSOR_LEN {
        return Err(bad_cursor());
    }
    let bytes = URL_SAFE_NO_PAD.decode(c).map_err(|_| bad_cursor())?;
    let t: CursorToken = serde_json::from_slice(&bytes).map_err(|_| bad_cursor())?;
    if t.s != sort.spec() || !fits(&t.v, sort.kind) || !is_uuid(&t.id) {
        return Err(bad_cursor());
    }
    Ok((t.v, t.id))
}

/// Whether a cursor's sort value is one a column of `kind` can hold (a
/// forged one is refused before it reaches a statement).
fn fits(v: &Value, kind: Kind) -> bool {
    match (v, kind) {
        (Value::Null, _) => true,
        (Value::String(s), Kind::Text) => !s.contains('\0'),
        (Value::String(s), Kind::Uuid) => is_uuid(s),
        (Value::String(s), Kind::Date) => is_date(s),
        (Value::String(s), Kind::Timestamp) => is_datetime(s),
        (Value::Number(n), Kind::Integer) => n.is_i64(),
        (Value::Number(n), Kind::Number) => n.as_f64().is_some(),
        (Value::Bool(_), Kind::Boolean) => true,
        _ => false,
    }
}

/// The cursor that continues after a row with this sort value and id.
pub fn encode_cursor(sort: &Sort, value: Value, id: String) -> String {
    let t = CursorToken {
        s: sort.spec(),
        v: value,
        id,
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&t).unwrap_or_default())
}

/// `application/x-www-form-urlencoded` decoding (`+` is a space).
fn decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Binds a cursor's sort value (checked by [`fits`] against `kind`).
fn push_value(qb: &mut Sql, v: &Value, kind: Kind) {
    match v {
        Value::Bool(b) => qb.bind(*b, kind),
        Value::Number(n) => match (kind, n.as_i64()) {
            (Kind::Integer, Some(i)) => qb.bind(i, kind),
            _ => qb.bind(n.as_f64().unwrap_or(0.0), kind),
        },
        Value::String(s) => qb.bind(s, kind),
        // Null is handled by the caller; arrays and objects never decode.
        _ => qb.push("NULL"),
    };
}

impl ListQuery {
    /// The raw value of a filter, if given.
    pub fn filter(&self, name: &str) -> Option<&str> {
        self.filters
            .iter()
            .find(|(f, _)| *f == name)
            .map(|(_, v)| v.as_str())
    }

    /// A filter parsed with `FromStr` (`bool` takes `true`/`false`); a value
    /// that does not parse is a 422 naming the parameter.
    pub fn filter_parsed<T: std::str::FromStr>(&self, name: &str) -> Result<Option<T>, Problem> {
        match self.filter(name) {
            None => Ok(None),
            Some(v) => v
                .parse()
                .map(Some)
                .map_err(|_| Problem::invalid(name, "has the wrong type for this filter")),
        }
    }

    /// Appends ` AND <column> = ?` for the filter `name` when the request
    /// gives it: the value parsed with `FromStr` (422 naming the parameter
    /// when it does not parse) and then checked by `check` as the field's
    /// own values are (a value no row can hold is a 422, not an empty
    /// page). `column` is the quoted column, from the generated code.
    pub fn push_filter<T>(
        &self,
        sql: &mut Sql,
        name: &str,
        column: &'static str,
        kind: Kind,
        check: impl FnOnce(&mut Checker, &T),
    ) -> Result<(), Problem>
    where
        T: std::str::FromStr + ToValue,
    {
        let Some(value) = self.filter_parsed::<T>(name)? else {
            return Ok(());
        };
        let mut c = Checker::new();
        check(&mut c, &value);
        c.finish()?;
        sql.push(" AND ").push(column).push(" = ").bind(value, kind);
        Ok(())
    }

    /// Appends ` AND (...)` selecting rows after the cursor (nothing without
    /// a cursor). NULL sorts first ascending and last descending (SQLite's
    /// order, which [`ListQuery::push_order_limit`] asks of PostgreSQL
    /// too); the conditions follow that.
    pub fn push_after(&self, qb: &mut Sql) {
        let Some((value, id)) = &self.after else {
            return;
        };
        let k = quote(self.sort.key);
        let kind = self.sort.kind;
        let (cmp, id_cmp) = if self.sort.descending {
            ("<", "<")
        } else {
            (">", ">")
        };
        qb.push(" AND (");
        match (value.is_null(), self.sort.descending) {
            (true, false) => {
                qb.push(&format!("({k} IS NULL AND \"id\" {id_cmp} "));
                qb.bind(id, Kind::Uuid)
                    .push(&format!(") OR {k} IS NOT NULL"));
            }
            (true, true) => {
                qb.push(&format!("{k} IS NULL AND \"id\" {id_cmp} "));
                qb.bind(id, Kind::Uuid);
            }
            (false, desc) => {
                qb.push(&format!("{k} {cmp} "));
                push_value(qb, value, kind);
                qb.push(&format!(" OR ({k} = "));
                push_value(qb, value, kind);
                qb.push(&format!(" AND \"id\" {id_cmp} "));
                qb.bind(id, Kind::Uuid).push(")");
                if desc {
                    qb.push(&format!(" OR {k} IS NULL"));
                }
            }
        }
        qb.push(")");
    }

    /// Appends ` ORDER BY <table>.<key> <dir>, <table>."id" <dir> LIMIT
    /// <limit + 1>` (one extra row tells whether there is a next page).
    /// The columns are qualified with `table` (quoted), so PostgreSQL
    /// orders by the stored values, never by the select list's text
    /// renderings of the same names.
    pub fn push_order_limit(&self, qb: &mut Sql, table: &str) {
        let dir = if self.sort.descending { "DESC" } else { "ASC" };
        // SQLite's NULL order, asked of PostgreSQL (whose default is the
        // opposite) where the column may hold one, so cursors mean the
        // same on both; a NOT NULL key keeps the indexes' order.
        let nulls = match (qb.engine(), self.sort.nullable, self.sort.descending) {
            (Engine::Sqlite, _, _) | (Engine::Postgres, false, _) => "",
            (Engine::Postgres, true, false) => " NULLS FIRST",
            (Engine::Postgres, true, true) => " NULLS LAST",
        };
        qb.push(&format!(
            " ORDER BY {table}.{} {dir}{nulls}, {table}.\"id\" {dir} LIMIT ",
            quote(self.sort.key)
        ));
        qb.bind(i64::from(self.limit) + 1, Kind::Integer);
    }

    /// Cuts `rows` (fetched with [`ListQuery::push_order_limit`]) to the
    /// limit and makes the next cursor from the last row kept; `key` gives
    /// a row's sort value and id.
    pub fn page<T>(&self, mut rows: Vec<T>, key: impl Fn(&T) -> (Value, String)) -> Page<T> {
        let limit = self.limit as usize;
        let more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = match rows.last() {
            Some(last) if more => {
                let (v, id) = key(last);
                Some(encode_cursor(&self.sort, v, id))
            }
            _ => None,
        };
        Page {
            items: rows,
            next_cursor,
        }
    }
}

/// A quoted SQL identifier (names are `[a-z][a-z0-9_]*` after validation;
/// quotes are doubled anyway).
pub(crate) fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// One page of a list response.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// The same page with each item passed through `f`.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(f).collect(),
            next_cursor: self.next_cursor,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Access, Columns, Db, FromColumns, Pools, SqlitePools};
    use axum::http::StatusCode;
    use serde_json::json;
    use sqlx::sqlite::SqlitePoolOptions;

    const RULES: ListRules = ListRules {
        default_limit: 20,
        max_limit: 100,
        sort_keys: &[
            ("created_at", Kind::Timestamp, false),
            ("amount", Kind::Integer, true),
            ("issued_on", Kind::Date, true),
        ],
        default_sort: "-created_at",
        filters: &["paid", "currency"],
    };

    fn err(q: &str) -> (StatusCode, String) {
        let p = parse(Some(q), &RULES).unwrap_err();
        (p.status, p.errors[0].field.clone())
    }

    #[test]
    fn limits_and_params() {
        let q = parse(None, &RULES).unwrap();
        assert_eq!(
            (q.limit, q.sort.key, q.sort.descending),
            (20, "created_at", true)
        );
        assert_eq!(parse(Some("limit=5"), &RULES).unwrap().limit, 5);
        assert_eq!(parse(Some("limit=1000"), &RULES).unwrap().limit, 100);
        assert_eq!(
            parse(Some("limit=99999999999999999999999"), &RULES)
                .unwrap()
                .limit,
            100
        );
        for bad in [
            "limit=0",
            "limit=-1",
            "limit=abc",
            "limit=",
            "limit=1.5",
            "limit=%2B1",
        ] {
            assert_eq!(
                err(bad),
                (StatusCode::UNPROCESSABLE_ENTITY, "limit".into()),
                "{bad}"
            );
        }
        assert_eq!(err("limit=1&limit=2").1, "limit");
        assert_eq!(err("owner_id=bob").1, "owner_id");
        assert_eq!(err("sort=owner_id").1, "sort");
        assert_eq!(err("sort=--amount").1, "sort");
        assert_eq!(err("paid=true&paid=false").1, "paid");
        let q = parse(Some("sort=amount&currency=E%55R&paid=true&&"), &RULES).unwrap();
        assert_eq!((q.sort.key, q.sort.descending), ("amount", false));
        assert_eq!(q.filter("currency"), Some("EUR"));
        assert_eq!(q.filter("paid"), Some("true"));
        assert_eq!(q.filter_parsed::<bool>("paid").unwrap(), Some(true));
        assert_eq!(q.filter_parsed::<bool>("missing").unwrap(), None);
        let e = q.filter_parsed::<i64>("currency").unwrap_err();
        assert_eq!(
            (e.status, e.errors[0].field.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "currency")
        );
        assert_eq!(err("currency=%ff").0, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(err("currency=%zz").0, StatusCode::UNPROCESSABLE_ENTITY);
    }

    #[test]
    fn tampered_cursors_are_422() {
        let sort = Sort::parse("-amount", RULES.sort_keys).unwrap();
        let id = "7f1d2c3b-0000-4000-8000-000000000001";
        let good = encode_cursor(&sort, json!(5), id.into());
        let q = parse(Some(&format!("sort=-amount&cursor={good}")), &RULES).unwrap();
        assert_eq!(q.after, Some((json!(5), id.into())));
        let b64 = |v: Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let bad = [
            "!!!".to_owned(),
            "e30".to_owned(), // {}
            format!("{good}x"),
            b64(json!({"s": "-amount", "v": [1], "id": "x"})),
            b64(json!({"s": "-amount", "v": 1, "id": ""})),
            b64(json!({"s": "-amount", "v": 1, "id": "x", "owner": "bob"})),
            // Not an id, or a value the sort key's column cannot hold.
            b64(json!({"s": "-amount", "v": 1, "id": "x"})),
            b64(json!({"s": "-amount", "v": "1", "id": id})),
            b64(json!({"s": "-amount", "v": 1.5, "id": id})),
            b64(json!({"s": "-issued_on", "v": "2026-02-30", "id": id})),
            b64(json!({"s": "-created_at", "v": "yesterday", "id": id})),
            b64(json!("string")),
            "A".repeat(MAX_CURSOR_LEN + 1),
        ];
        for c in bad {
            assert_eq!(err(&format!("sort=-amount&cursor={c}")).1, "cursor", "{c}");
        }
        // A cursor made for another sort.
        assert_eq!(err(&format!("sort=amount&cursor={good}")).1, "cursor");
    }

    #[test]
    fn order_is_by_the_stored_columns() {
        let order = |engine, sort: &str| {
            let q = parse(Some(&format!("sort={sort}")), &RULES).unwrap();
            let mut sql = Sql::new(engine, "SELECT 1");
            q.push_order_limit(&mut sql, "\"t\"");
            sql.text().to_owned()
        };
        assert_eq!(
            order(Engine::Postgres, "-created_at"),
            "SELECT 1 ORDER BY \"t\".\"created_at\" DESC, \"t\".\"id\" DESC LIMIT $1"
        );
        assert_eq!(
            order(Engine::Postgres, "amount"),
            "SELECT 1 ORDER BY \"t\".\"amount\" ASC NULLS FIRST, \"t\".\"id\" ASC LIMIT $1"
        );
        assert_eq!(
            order(Engine::Postgres, "-amount"),
            "SELECT 1 ORDER BY \"t\".\"amount\" DESC NULLS LAST, \"t\".\"id\" DESC LIMIT $1"
        );
        assert_eq!(
            order(Engine::Sqlite, "amount"),
            "SELECT 1 ORDER BY \"t\".\"amount\" ASC, \"t\".\"id\" ASC LIMIT ?"
        );
    }

    /// Walks a table with NULLs and ties page by page in every order and
    /// checks that the pages concatenate to the full ORDER BY result.
    #[tokio::test]
    async fn keyset_pages_are_stable() {
        struct Row(String, Option<i64>);
        impl FromColumns for Row {
            fn from_columns(c: &mut Columns<'_>) -> Result<Row, sqlx::Error> {
                Ok(Row(c.next()?, c.next()?))
            }
        }
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect("sqlite::memory:")
            .await
            .unwrap();
        sqlx::raw_sql("CREATE TABLE t (id TEXT PRIMARY KEY, amount INTEGER, owner TEXT)")
            .execute(&pool)
            .await
            .unwrap();
        let amounts = [
            Some(3),
            None,
            Some(1),
            Some(3),
            None,
            Some(2),
            Some(3),
            Some(1),
        ];
        for (i, a) in amounts.iter().enumerate() {
            sqlx::query("INSERT INTO t VALUES (?, ?, 'alice')")
                .bind(format!("00000000-0000-4000-8000-{i:012}"))
                .bind(*a)
                .execute(&pool)
                .await
                .unwrap();
        }
        let db = Db::new(Pools::Sqlite(SqlitePools {
            read: pool.clone(),
            write: pool.clone(),
        }));
        for sort in ["amount", "-amount"] {
            let mut seen = Vec::new();
            let mut cursor: Option<String> = None;
            for _ in 0..10 {
                let qs = match &cursor {
                    Some(c) => format!("sort={sort}&limit=3&cursor={c}"),
                    None => format!("sort={sort}&limit=3"),
                };
                let q = parse(Some(&qs), &RULES).unwrap();
                let mut qb = db.sql("SELECT id, amount FROM t WHERE 1=1");
                q.push_after(&mut qb);
                q.push_order_limit(&mut qb, "t");
                let rows: Vec<Row> = db.rows(Access::Read, &qb).await.unwrap();
                let page = q.page(rows, |Row(id, a)| (json!(a), id.clone()));
                seen.extend(page.items.iter().map(|Row(id, _)| id.clone()));
                cursor = page.next_cursor;
                if cursor.is_none() {
                    break;
                }
            }
            let dir = if sort.starts_with('-') { "DESC" } else { "ASC" };
            let all: Vec<(String,)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT id FROM t ORDER BY amount {dir}, id {dir}"
            )))
            .fetch_all(&pool)
            .await
            .unwrap();
            let all: Vec<String> = all.into_iter().map(|r| r.0).collect();
            assert_eq!(seen, all, "sort={sort}");
        }
    }
}
