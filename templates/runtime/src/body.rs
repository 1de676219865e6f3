//! JSON request bodies in, JSON responses out.
//!
//! [`Json`] is the only way a generated handler reads a body. Invariant:
//! nothing is deserialized unless the content type is JSON (else 415), the
//! body fits the limit (else 413), its nesting is at most [`MAX_DEPTH`] and
//! it has no NUL in any string (else 422, checked by a byte scan before the
//! parser runs); serde errors name the offending field (422) and syntax
//! errors are 400. Input types are expected to use
//! `#[serde(deny_unknown_fields)]`, so an unknown or server-managed field
//! is a 422, never silently dropped.

use std::error::Error as StdError;

use axum::extract::{FromRequest, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::problem::Problem;

/// Deepest accepted nesting of arrays and objects.
pub const MAX_DEPTH: usize = 32;
/// Body limit used when no [`BodyLimit`] extension is present.
pub const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// The body size limit for this request, put in the request extensions by
/// the server middleware (from the spec's `limits.max_body`).
#[derive(Debug, Clone, Copy)]
pub struct BodyLimit(pub usize);

/// A validated JSON body.
#[derive(Debug, Clone)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, _: &S) -> Result<Self, Problem> {
        if !is_json(req.headers().get(header::CONTENT_TYPE)) {
            return Err(Problem::unsupported_media_type());
        }
        // No content coding is decoded (a compressed body could inflate
        // past every limit): RFC 7694, 415 naming the one accepted.
        if let Some(coding) = req.headers().get(header::CONTENT_ENCODING)
            && !coding
                .to_str()
                .is_ok_and(|v| v.trim().eq_ignore_ascii_case("identity"))
        {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "the request body must not be compressed",
            )
            .with_header(
                header::ACCEPT_ENCODING,
                HeaderValue::from_static("identity"),
            ));
        }
        let limit = req
            .extensions()
            .get::<BodyLimit>()
            .map_or(DEFAULT_BODY_LIMIT, |l| l.0);
        let bytes = match Limited::new(req.into_body(), limit).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) if too_large(&*e) => return Err(Problem::payload_too_large()),
            Err(_) => return Err(Problem::bad_request("the request body could not be read")),
        };
        parse(&bytes).map(Json)
    }
}

/// `application/json`, optionally with parameters (`; charset=utf-8`).
fn is_json(value: Option<&HeaderValue>) -> bool {
    let Some(Ok(v)) = value.map(HeaderValue::to_str) else {
        return false;
    };
    let essence = v.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case("application/json")
}

fn too_large(mut e: &(dyn StdError + 'static)) -> bool {
    loop {
        if e.is::<LengthLimitError>() {
            return true;
        }
        match e.source() {
            Some(next) => e = next,
            None => return false,
        }
    }
}

/// Scans, then deserializes one JSON document (the whole body), which must
/// be an object: serde would also read a struct from an array of its field
/// values, which no client of this API means to send.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    scan(bytes)?;
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => {}
        Some(b'[' | b'"' | b'0'..=b'9' | b'-' | b't' | b'f' | b'n') => {
            return Err(Problem::invalid("", "the body must be a JSON object"));
        }
        _ => return Err(Problem::bad_request("the request body is not valid JSON")),
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        problem_for(e.inner(), &path)
    })?;
    de.end().map_err(|e| problem_for(&e, "."))?;
    Ok(value)
}

/// Maps a serde error to 400 (syntax) or 422 naming the field.
fn problem_for(e: &serde_json::Error, path: &str) -> Problem {
    use serde_json::error::Category;
    let text = e.to_string();
    let syntax = [super::check::OUT_OF_RANGE, super::check::NOT_JSON];
    if !matches!(e.classify(), Category::Data) || syntax.iter().any(|s| text.starts_with(s)) {
        return Problem::bad_request("the request body is not valid JSON");
    }
    // serde_json appends " at line L column C"; the position is noise here.
    let message = match text.rfind(" at line ") {
        Some(i) => &text[..i],
        None => &text,
    };
    let mut field = if path == "." {
        String::new()
    } else {
        path.to_owned()
    };
    // A missing field is reported at its parent: name the field itself.
    if let Some(name) = message
        .strip_prefix("missing field `")
        .and_then(|r| r.strip_suffix('`'))
    {
        if !field.is_empty() {
            field.push('.');
        }
        field.push_str(name);
    }
    Problem::invalid(field, message)
}

/// Rejects nesting deeper than [`MAX_DEPTH`] and `\u0000` in any string,
/// without allocating. Syntax is left to the parser.
fn scan(bytes: &[u8]) -> Result<(), Problem> {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            match b {
                b'"' => in_string = false,
                b'\\' => {
                    if bytes.get(i + 1) == Some(&b'u')
                        && bytes.get(i + 2..i + 6) == Some(b"0000".as_slice())
                    {
                        return Err(Problem::invalid(
                            "",
                            "strings must not contain NUL (U+0000)",
                        ));
                    }
                    i += 1; // skip the escaped character
                }
                _ => {}
            }
        } else {
            match b {
                b'"' => in_string = true,
                b'[' | b'{' => {
                    depth += 1;
                    if depth > MAX_DEPTH {
                        return Err(Problem::invalid(
                            "",
                            format!("JSON nesting is deeper than {MAX_DEPTH} levels"),
                        ));
                    }
                }
                b']' | b'}' => depth = depth.saturating_sub(1),
                _ => {}
            }
        }
        i += 1;
    }
    Ok(())
}

/// A JSON response with the given status.
pub fn reply<T: Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response(),
        Err(e) => Problem::internal(&e).into_response(),
    }
}

/// `201 Created` with `Location` and the created resource.
pub fn created<T: Serialize>(location: &str, value: &T) -> Response {
    let mut res = reply(StatusCode::CREATED, value);
    if res.status() == StatusCode::CREATED {
        match HeaderValue::from_str(location) {
            Ok(v) => {
                res.headers_mut().insert(header::LOCATION, v);
            }
            Err(e) => return Problem::internal(&e).into_response(),
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Input {
        name: String,
        count: i64,
        tags: Option<Vec<Line>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Line {
        label: String,
    }

    async fn extract(
        content_type: Option<&str>,
        body: &str,
        limit: usize,
    ) -> Result<Input, Problem> {
        let mut req = Request::builder().method("POST").uri("/");
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        let mut req = req.body(Body::from(body.to_owned())).unwrap();
        req.extensions_mut().insert(BodyLimit(limit));
        Json::<Input>::from_request(req, &()).await.map(|j| j.0)
    }

    fn field_of(p: &Problem) -> (&str, &str) {
        (&p.errors[0].field, &p.errors[0].message)
    }

    #[tokio::test]
    async fn content_type_and_size() {
        let ok = r#"{"name":"a","count":1}"#;
        assert!(extract(Some("application/json"), ok, 100).await.is_ok());
        assert!(
            extract(Some("Application/JSON; charset=utf-8"), ok, 100)
                .await
                .is_ok()
        );
        for ct in [None, Some("text/plain"), Some("application/jsonx")] {
            let e = extract(ct, ok, 100).await.unwrap_err();
            assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        }
        let e = extract(Some("application/json"), ok, 10).await.unwrap_err();
        assert_eq!(e.status, StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn compressed_bodies_are_refused() {
        let req = |coding: &str| {
            Request::builder()
                .method("POST")
                .uri("/")
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::CONTENT_ENCODING, coding)
                .body(Body::from(r#"{"name":"a","count":1}"#))
                .unwrap()
        };
        for coding in ["gzip", "br", "deflate, identity"] {
            let e = Json::<Input>::from_request(req(coding), &())
                .await
                .unwrap_err();
            assert_eq!(e.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{coding}");
            let res = e.into_response();
            assert_eq!(res.headers()[header::ACCEPT_ENCODING], "identity");
        }
        assert!(
            Json::<Input>::from_request(req("Identity"), &())
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn errors_name_the_field() {
        let e = extract(Some("application/json"), r#"{"name":"a","count":"x"}"#, 100).await;
        let e = e.unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(field_of(&e).0, "count");
        assert!(!field_of(&e).1.contains("line"), "{}", field_of(&e).1);

        let e = parse::<Input>(br#"{"name":"a","count":1,"owner_id":"b"}"#).unwrap_err();
        assert_eq!(field_of(&e).0, "owner_id");
        assert!(field_of(&e).1.starts_with("unknown field"));

        let e = parse::<Input>(br#"{"name":"a"}"#).unwrap_err();
        assert_eq!(field_of(&e), ("count", "missing field `count`"));

        let e = parse::<Input>(br#"{"name":"a","count":1,"tags":[{"label":1}]}"#).unwrap_err();
        assert_eq!(field_of(&e).0, "tags[0].label");

        let e = parse::<Input>(br#"{"name":"a","count":1,"tags":[{}]}"#).unwrap_err();
        assert_eq!(field_of(&e).0, "tags[0].label");

        let e = parse::<Input>(br#"{"name":"a","name":"b","count":1}"#).unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);

        for syntax in [
            &b"{"[..],
            b"{\"name\":}",
            b"{\"name\":\"a\",\"count\":1} x",
            b"",
        ] {
            assert_eq!(
                parse::<Input>(syntax).unwrap_err().status,
                StatusCode::BAD_REQUEST
            );
        }
    }

    #[test]
    fn depth_and_nul_are_scanned_first() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        let e = parse::<serde_json::Value>(deep.as_bytes()).unwrap_err();
        assert_eq!(e.status, StatusCode::UNPROCESSABLE_ENTITY);
        let ok = format!(
            "{{\"a\":{}{}}}",
            "[".repeat(MAX_DEPTH - 1),
            "]".repeat(MAX_DEPTH - 1)
        );
        assert!(parse::<serde_json::Value>(ok.as_bytes()).is_ok());
        // Brackets inside strings do not count, escaped quotes do not end strings.
        let tricky = format!(r#"{{"a":"{}\"{}"}}"#, "[".repeat(100), "{".repeat(100));
        assert!(parse::<serde_json::Value>(tricky.as_bytes()).is_ok());
        let e = parse::<serde_json::Value>(br#"{"a":"x\u0000y"}"#).unwrap_err();
        assert!(field_of(&e).1.contains("NUL"));
        assert!(parse::<serde_json::Value>(br#"{"a":"x\\u0000y"}"#).is_ok());
        // 100 000 levels never reach the parser.
        let huge = "[".repeat(100_000);
        assert_eq!(
            parse::<serde_json::Value>(huge.as_bytes())
                .unwrap_err()
                .status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
    }

    #[test]
    fn replies() {
        let r = created("/items/1", &serde_json::json!({"id": "1"}));
        assert_eq!(r.status(), StatusCode::CREATED);
        assert_eq!(r.headers()[header::LOCATION], "/items/1");
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
    }

    #[test]
    fn bodies_must_be_objects() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Two {
            #[serde(default)]
            a: Option<i64>,
            #[serde(default)]
            b: Option<i64>,
        }
        for body in ["[]", "[1, 2]", "\"x\"", "1", "null", "true"] {
            let e = parse::<Two>(body.as_bytes()).unwrap_err();
            assert_eq!(
                e.status,
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                "{body}"
            );
        }
        assert!(parse::<Two>(b" {\"a\": 1}").is_ok());
        assert_eq!(
            parse::<Two>(b"").unwrap_err().status,
            axum::http::StatusCode::BAD_REQUEST
        );
    }
}
