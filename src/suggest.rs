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

#[cfg(test)]
mod tests {
    use super::did_you_mean;

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
