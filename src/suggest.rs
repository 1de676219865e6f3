//! "Did you mean" suggestions for misspelt keys and names.

/// The candidate closest to `word`, when it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word_lower = word.to_ascii_lowercase();
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| {
            (
                strsim::damerau_levenshtein(&word_lower, &c.to_ascii_lowercase()),
                c,
            )
        })
        .filter(|(distance, c)| {
            let longest = word.chars().count().max(c.chars().count());
            (*distance <= 1 && longest >= 3) || (*distance <= 3 && *distance * 3 <= longest)
        })
        .min_by_key(|(distance, c)| (*distance, *c))
        .map(|(_, c)| c)
}

/// A valid name close to `name`, when one is obvious: lowercase, words
/// joined by `_` (camelCase and separators become `_`), starting with a
/// letter. With `allow_dash`, `-` is kept as it is (service names).
pub fn name_fix(name: &str, allow_dash: bool) -> Option<String> {
    let mut fixed = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            if prev_lower {
                fixed.push('_');
            }
            fixed.push(c.to_ascii_lowercase());
            prev_lower = false;
        } else if c.is_ascii_alphanumeric() || (allow_dash && c == '-') {
            fixed.push(c);
            prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        } else {
            if !fixed.ends_with(['_', '-']) && !fixed.is_empty() {
                fixed.push('_');
            }
            prev_lower = false;
        }
    }
    let fixed = fixed.trim_end_matches(['_', '-']).to_string();
    let mut chars = fixed.chars();
    let valid = matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || (allow_dash && c == '-')
        });
    (valid && fixed != name).then_some(fixed)
}

#[cfg(test)]
mod tests {
    use super::{did_you_mean, name_fix};

    #[test]
    fn fixes_names() {
        assert_eq!(
            name_fix("amountCents", false).as_deref(),
            Some("amount_cents")
        );
        assert_eq!(name_fix("Invoice", false).as_deref(), Some("invoice"));
        assert_eq!(name_fix("line-item", false).as_deref(), Some("line_item"));
        assert_eq!(name_fix("1x", false), None);
        assert_eq!(name_fix("ok", false), None);
        assert_eq!(name_fix("My Notes", true).as_deref(), Some("my_notes"));
        assert_eq!(name_fix("my-Notes", true).as_deref(), Some("my-notes"));
        assert_eq!(
            name_fix("Billing-API", true).as_deref(),
            Some("billing-api")
        );
        assert_eq!(name_fix("my-notes", true), None);
    }

    #[test]
    fn suggests_close_words_only() {
        let keys = ["max_length", "min_length", "pattern", "required"];
        assert_eq!(did_you_mean("max_lenght", keys), Some("max_length"));
        assert_eq!(did_you_mean("requird", keys), Some("required"));
        assert_eq!(did_you_mean("Pattern", keys), Some("pattern"));
        assert_eq!(did_you_mean("colour", keys), None);
        assert_eq!(did_you_mean("x", ["y"]), None);
        assert_eq!(did_you_mean("ab", ["xyz"]), None);
    }
}
