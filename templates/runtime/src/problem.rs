//! RFC 9457 problem details: the one error type of every handler.
//!
//! Every error response of a generated server is a [`Problem`] rendered as
//! `application/problem+json`. Invariant: a problem body carries only the
//! generic status title, a fixed detail sentence chosen here, and field
//! errors written by the validation code; causes of 5xx errors (SQL,
//! driver messages) and the reason a token was refused are logged, never
//! sent, and a missing row and another owner's row produce byte-identical
//! 404 bodies.

use std::fmt;

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One invalid input field: `field` is the JSON path of the value as the
/// client wrote it (`name`, `lines[2].amount`), or `""` for the body as a
/// whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An RFC 9457 problem (`type` is always `about:blank`, so `title` is the
/// HTTP reason phrase).
#[derive(Debug, Clone)]
pub struct Problem {
    pub status: StatusCode,
    pub detail: &'static str,
    pub errors: Vec<FieldError>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    title: &'static str,
    status: u16,
    detail: &'static str,
    #[serde(skip_serializing_if = "<[FieldError]>::is_empty")]
    errors: &'a [FieldError],
}

impl Problem {
    /// A problem with the given status and detail sentence.
    pub fn new(status: StatusCode, detail: &'static str) -> Self {
        Problem {
            status,
            detail,
            errors: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// Adds a response header (used for `WWW-Authenticate`, `Retry-After`,
    /// `Allow` and the rate-limit fields).
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    /// The same response for a missing row, another owner's row and a
    /// malformed id: no existence oracle.
    pub fn not_found() -> Self {
        Problem::new(StatusCode::NOT_FOUND, "the resource does not exist")
    }

    /// No credentials were sent: `WWW-Authenticate: Bearer` (RFC 6750 §3).
    pub fn unauthorized() -> Self {
        Problem::new(StatusCode::UNAUTHORIZED, "a valid bearer token is required")
            .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
    }

    /// Credentials were sent and refused. The body is the same as
    /// [`Problem::unauthorized`]; only the challenge says `invalid_token`.
    pub fn invalid_token() -> Self {
        Problem::new(StatusCode::UNAUTHORIZED, "a valid bearer token is required").with_header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        )
    }

    pub fn forbidden() -> Self {
        Problem::new(
            StatusCode::FORBIDDEN,
            "the token does not grant this operation",
        )
    }

    /// A unique constraint refused the write; `field` names the input field.
    pub fn conflict(field: &str) -> Self {
        let mut p = Problem::conflict_unnamed();
        p.errors.push(FieldError::new(
            field,
            "a resource with this value already exists",
        ));
        p
    }

    /// A unique constraint refused the write and the field is not known.
    pub fn conflict_unnamed() -> Self {
        Problem::new(
            StatusCode::CONFLICT,
            "the request conflicts with an existing resource",
        )
    }

    /// The row cannot be deleted while rows of `resource` still name it in
    /// `field`; the error names them so the client knows what to change.
    pub fn still_referenced(resource: &str, field: &str) -> Self {
        let mut p = Problem::new(
            StatusCode::CONFLICT,
            "other rows still refer to this one; change or delete them first",
        );
        p.errors.push(FieldError::new(
            format!("{resource}.{field}"),
            format!("rows of `{resource}` still refer to this row in `{field}`"),
        ));
        p
    }

    pub fn unprocessable(errors: Vec<FieldError>) -> Self {
        let mut p = Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "the request is not valid");
        p.errors = errors;
        p
    }

    /// One invalid field.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Problem::unprocessable(vec![FieldError::new(field, message)])
    }

    /// Malformed syntax (JSON that does not parse).
    pub fn bad_request(detail: &'static str) -> Self {
        Problem::new(StatusCode::BAD_REQUEST, detail)
    }

    pub fn payload_too_large() -> Self {
        Problem::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request body is larger than allowed",
        )
    }

    pub fn unsupported_media_type() -> Self {
        Problem::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "the request body must be application/json",
        )
    }

    /// `retry_after` is in seconds (at least 1 is sent).
    pub fn too_many_requests(retry_after: u64) -> Self {
        Problem::new(StatusCode::TOO_MANY_REQUESTS, "too many requests")
            .with_header(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)))
    }

    pub fn timeout() -> Self {
        Problem::new(
            StatusCode::REQUEST_TIMEOUT,
            "the request took too long and was cancelled",
        )
    }

    /// A bug or an outage: the cause is logged at error level and the
    /// client gets a generic body.
    pub fn internal(cause: &dyn fmt::Display) -> Self {
        tracing::error!(cause = %cause, "internal error");
        Problem::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }

    /// A generic problem for a status produced outside the handlers (for
    /// example axum's 405, or a path rejection), used to turn every error
    /// response into problem+json.
    pub fn for_status(status: StatusCode) -> Self {
        let detail = match status {
            StatusCode::NOT_FOUND => return Problem::not_found(),
            StatusCode::METHOD_NOT_ALLOWED => "the method is not allowed on this resource",
            StatusCode::PAYLOAD_TOO_LARGE => return Problem::payload_too_large(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => return Problem::unsupported_media_type(),
            s if s.is_server_error() => "internal error",
            _ => "the request could not be processed",
        };
        Problem::new(status, detail)
    }

    /// The JSON body, as sent.
    pub fn body(&self) -> Vec<u8> {
        let body = Body {
            kind: "about:blank",
            title: self.status.canonical_reason().unwrap_or("Error"),
            status: self.status.as_u16(),
            detail: self.detail,
            errors: &self.errors,
        };
        // Serializing this struct cannot fail (no maps with non-string keys).
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.detail)
    }
}

impl std::error::Error for Problem {}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let mut res = (self.status, self.body()).into_response();
        let headers = res.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        for (name, value) in self.headers {
            headers.append(name, value);
        }
        res
    }
}

/// True when the error is a unique or primary-key violation.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.is_unique_violation())
}

/// True when the error is a foreign-key violation: writing a row that names
/// a missing one (`SQLITE_CONSTRAINT_FOREIGNKEY`, 787), or deleting a row
/// that an `ON DELETE RESTRICT` key still names, which SQLite reports as
/// `SQLITE_CONSTRAINT_TRIGGER` (1811) with the foreign-key message.
pub fn is_foreign_key_violation(err: &sqlx::Error) -> bool {
    let sqlx::Error::Database(e) = err else {
        return false;
    };
    e.is_foreign_key_violation()
        || (e.code().as_deref() == Some("1811") && e.message().contains("FOREIGN KEY"))
}

/// Unique and foreign-key violations are 409 (without naming a column: map a known
/// constraint with [`Problem::conflict`] in the store instead); everything
/// else is a logged 500 whose body says nothing about SQL.
impl From<sqlx::Error> for Problem {
    fn from(err: sqlx::Error) -> Self {
        if is_unique_violation(&err) {
            Problem::conflict_unnamed()
        } else if is_foreign_key_violation(&err) {
            Problem::new(StatusCode::CONFLICT, "other rows still refer to this one")
        } else if is_data_exception(&err) {
            Problem::invalid("", "a value is outside what the database can store")
        } else if is_busy(&err) {
            tracing::warn!(error = %err, "the database is busy");
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "the database is busy; retry later",
            )
            .with_header(header::RETRY_AFTER, HeaderValue::from_static("1"))
        } else {
            Problem::internal(&err)
        }
    }
}

/// True when the database could not serve the statement in time, not
/// because of it: no connection came free within the pool's wait, or
/// PostgreSQL cancelled it (its statement timeout), found it waiting on a
/// lock too long, or chose it as a deadlock's or a serialization
/// conflict's victim. Answered 503 with `Retry-After`: overload, which a
/// retry may not meet.
pub fn is_busy(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut => true,
        sqlx::Error::Database(e) => matches!(
            e.code().as_deref(),
            Some("57014" | "55P03" | "40001" | "40P01")
        ),
        _ => false,
    }
}

/// True when PostgreSQL refused a value itself (SQLSTATE class 22, data
/// exception: a date past its range, a malformed uuid). The checks refuse
/// every such value first; this keeps one they miss a 422, not a 500.
pub fn is_data_exception(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(e) if e.code().is_some_and(|c| c.len() == 5 && c.starts_with("22")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(p: &Problem) -> serde_json::Value {
        serde_json::from_slice(&p.body()).unwrap()
    }

    #[test]
    fn body_is_rfc9457() {
        let p = Problem::unprocessable(vec![FieldError::new("name", "required")]);
        assert_eq!(
            json(&p),
            serde_json::json!({
                "type": "about:blank", "title": "Unprocessable Entity", "status": 422,
                "detail": "the request is not valid",
                "errors": [{"field": "name", "message": "required"}]
            })
        );
        assert!(json(&Problem::not_found()).get("errors").is_none());
    }

    #[test]
    fn response_headers() {
        let res = Problem::unauthorized().into_response();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(res.headers()[header::WWW_AUTHENTICATE], "Bearer");
        assert_eq!(
            res.headers()[header::CONTENT_TYPE],
            "application/problem+json"
        );
        let res = Problem::too_many_requests(0).into_response();
        assert_eq!(res.headers()[header::RETRY_AFTER], "1");
    }

    #[test]
    fn invalid_token_body_equals_unauthorized_body() {
        assert_eq!(
            Problem::invalid_token().body(),
            Problem::unauthorized().body()
        );
    }

    /// A delete that an `ON DELETE RESTRICT` key refuses (extended code
    /// 1811) and a write naming a missing row (787) are both 409, never 500.
    #[tokio::test]
    async fn foreign_key_refusals_are_conflicts() {
        use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
        use std::str::FromStr;
        let opts = SqliteConnectOptions::from_str("sqlite::memory:")
            .unwrap()
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(opts)
            .await
            .unwrap();
        sqlx::raw_sql(
            "CREATE TABLE p (o TEXT NOT NULL, id TEXT PRIMARY KEY);
             CREATE UNIQUE INDEX \"p-owner-key\" ON p (o, id);
             CREATE TABLE c (o TEXT NOT NULL, id TEXT PRIMARY KEY, p TEXT,
                 FOREIGN KEY (o, p) REFERENCES p (o, id) ON DELETE RESTRICT);
             INSERT INTO p VALUES ('a', '1');
             INSERT INTO c VALUES ('a', 'x', '1');",
        )
        .execute(&pool)
        .await
        .unwrap();
        let delete = sqlx::query("DELETE FROM p WHERE id = '1'")
            .execute(&pool)
            .await
            .unwrap_err();
        assert!(is_foreign_key_violation(&delete), "{delete:?}");
        assert_eq!(Problem::from(delete).status, StatusCode::CONFLICT);
        // Another owner's row cannot be named, even by id.
        sqlx::raw_sql("INSERT INTO p VALUES ('b', '2')")
            .execute(&pool)
            .await
            .unwrap();
        let insert = sqlx::query("INSERT INTO c VALUES ('a', 'y', '2')")
            .execute(&pool)
            .await
            .unwrap_err();
        assert!(is_foreign_key_violation(&insert), "{insert:?}");
        assert_eq!(Problem::from(insert).status, StatusCode::CONFLICT);
    }

    #[test]
    fn still_referenced_names_the_referrer() {
        let p = Problem::still_referenced("task", "project");
        assert_eq!(p.status, StatusCode::CONFLICT);
        let body: serde_json::Value = serde_json::from_slice(&p.body()).unwrap();
        assert_eq!(body["errors"][0]["field"], "task.project");
    }

    #[test]
    fn sql_errors_never_leak() {
        let p = Problem::from(sqlx::Error::Protocol("SELECT secret FROM t".into()));
        assert_eq!(p.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!String::from_utf8(p.body()).unwrap().contains("SELECT"));
    }
}
