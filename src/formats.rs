//! The string formats a field can have (date, datetime, uuid, email, url).
//!
//! There is one implementation of each: the generated server's own
//! `formats.rs` (`templates/runtime/src/formats.rs`), included here, so a
//! spec `default` is accepted exactly when the server would accept the
//! value in a request, the OpenAPI document states the server's patterns,
//! and the generated examples are checked against the same code.

use crate::spec::FieldType;

/// The runtime's file, verbatim.
mod runtime {
    include!("../templates/runtime/src/formats.rs");
}

pub use runtime::{
    DATE_PATTERN, DATETIME_PATTERN, EMAIL_MAX_LENGTH, EMAIL_PATTERN, URL_MAX_LENGTH, URL_PATTERN,
    is_date, is_datetime, is_email, is_url, is_uuid,
};

/// Checks `s` against the format of `ty`; `Err` says what is wrong.
pub fn check(ty: FieldType, s: &str) -> Result<(), String> {
    let ok = match ty {
        FieldType::Date => is_date(s),
        FieldType::Datetime => is_datetime(s),
        FieldType::Uuid => is_uuid(s),
        FieldType::Email => is_email(s),
        FieldType::Url => is_url(s),
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("is not a valid {}", ty.name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_names_the_format() {
        assert_eq!(
            check(FieldType::Date, "x"),
            Err("is not a valid date".into())
        );
        assert_eq!(check(FieldType::Email, "a@example.com"), Ok(()));
        assert_eq!(check(FieldType::String, "anything"), Ok(()));
    }
}
