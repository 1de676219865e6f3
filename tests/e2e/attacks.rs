//! The attack catalogue of ATTACKS.md section 5, and which of its cases
//! the suite exercised.
//!
//! `attacks.txt` holds the catalogue's IDs (AUTH-01, BOLA-01, ...), one a
//! line, so a clean checkout knows them; when the shared catalogue
//! (`../shared/ATTACKS.md`, next to the repository) is present, the test
//! [`catalogue`](super::attack_catalogue) checks that the copy is current.
//! Every case of the suite names the IDs it exercises with [`hit`]; an ID
//! the suite does not exercise must be listed in [`NOT_APPLICABLE`] with
//! the reason. When every example of [`EXAMPLES`] has run in one test
//! process, the last one to finish checks that each ID was exercised by a
//! case that ran, or is not applicable, and prints the coverage.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Mutex;

/// The IDs of ATTACKS.md section 5, in catalogue order.
pub const IDS: &str = include_str!("attacks.txt");

/// Where the shared catalogue lives, relative to the repository.
pub fn shared_catalogue() -> PathBuf {
    super::server::repo().join("../shared/ATTACKS.md")
}

/// IDs that do not apply to a Palisade server, each with the reason.
pub const NOT_APPLICABLE: &[(&str, &str)] = &[];

/// The specs whose runs together must exercise the catalogue (each has
/// its `#[test]` in main.rs).
pub const EXAMPLES: &[&str] = &[
    "examples/billing.yaml",
    "examples/projects.yaml",
    "examples/shop.yaml",
    "examples/library.yaml",
    "examples/crm.yaml",
    "examples/helpdesk.yaml",
    "tests/fixtures/edge.yaml",
    "tests/fixtures/keywords.yaml",
];

/// The catalogue's IDs, from `attacks.txt`.
pub fn ids() -> Vec<&'static str> {
    IDS.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// The IDs of section 5 of an ATTACKS.md text: the first cell of every
/// table row from `## 5.` up to the next `## ` heading.
pub fn parse_catalogue(text: &str) -> Vec<String> {
    let id = regex::Regex::new(r"^[A-Z]+-[0-9]+$").unwrap();
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("## ") {
            inside = line.starts_with("## 5.");
            continue;
        }
        if !inside {
            continue;
        }
        let Some(rest) = line.strip_prefix('|') else {
            continue;
        };
        let cell = rest.split('|').next().unwrap_or("").trim();
        if id.is_match(cell) {
            out.push(cell.to_string());
        }
    }
    out
}

/// The category of an ID: `AUTH` for `AUTH-07`.
pub fn category(id: &str) -> &str {
    id.split('-').next().unwrap_or(id)
}

thread_local! {
    /// The IDs exercised by the example running on this thread, with the
    /// number of checks that named each.
    static HITS: RefCell<BTreeMap<&'static str, usize>> = const { RefCell::new(BTreeMap::new()) };
}

/// Records that a case exercising `ids` passed. Panics on an ID that is
/// not in the catalogue (a typo would otherwise count for nothing) or that
/// is listed as not applicable.
pub fn hit(ids: &[&'static str]) {
    for id in ids {
        assert!(
            self::ids().contains(id),
            "{id} is not an ID of the attack catalogue"
        );
        assert!(
            !NOT_APPLICABLE.iter().any(|(n, _)| n == id),
            "{id} is exercised but listed as not applicable"
        );
        HITS.with(|h| *h.borrow_mut().entry(id).or_default() += 1);
    }
}

/// Takes the IDs recorded on this thread since the last call.
pub fn take() -> BTreeMap<&'static str, usize> {
    HITS.with(|h| std::mem::take(&mut *h.borrow_mut()))
}

/// Prints which IDs an example exercised, by category.
pub fn print_example(example: &str, hits: &BTreeMap<&'static str, usize>) {
    println!("{example}: attack catalogue (ATTACKS.md section 5)");
    let all = ids();
    let mut categories: Vec<&str> = all.iter().map(|i| category(i)).collect();
    categories.dedup();
    for c in categories {
        let total = all.iter().filter(|i| category(i) == c).count();
        let mine: Vec<&str> = all
            .iter()
            .copied()
            .filter(|i| category(i) == c && hits.contains_key(i))
            .collect();
        println!("  {c:<6} {:>3}/{total:<3} {}", mine.len(), mine.join(" "));
    }
}

/// Which examples exercised each ID, for the examples that finished.
type Runs = (BTreeSet<String>, BTreeMap<&'static str, BTreeSet<String>>);

static RUNS: Mutex<Runs> = Mutex::new((BTreeSet::new(), BTreeMap::new()));

/// Records a finished example; when every example of [`EXAMPLES`] has
/// finished in this process, checks and prints the catalogue coverage.
pub fn finished(example: &str, hits: &BTreeMap<&'static str, usize>) {
    let mut runs = RUNS.lock().unwrap_or_else(|e| e.into_inner());
    runs.0.insert(example.to_string());
    for id in hits.keys() {
        runs.1.entry(id).or_default().insert(example.to_string());
    }
    let done = EXAMPLES.iter().all(|e| runs.0.contains(*e));
    if !done {
        println!(
            "{example}: catalogue coverage is checked once every example ran ({} of {})",
            runs.0.len(),
            EXAMPLES.len()
        );
        return;
    }
    let covered = &runs.1;
    let all = ids();
    let missing: Vec<&str> = all
        .iter()
        .copied()
        .filter(|i| !covered.contains_key(i) && !NOT_APPLICABLE.iter().any(|(n, _)| n == i))
        .collect();
    println!("attack catalogue coverage over {}:", EXAMPLES.join(", "));
    let mut categories: Vec<&str> = all.iter().map(|i| category(i)).collect();
    categories.dedup();
    for c in categories {
        let of: Vec<&str> = all.iter().copied().filter(|i| category(i) == c).collect();
        let hit: Vec<&str> = of
            .iter()
            .copied()
            .filter(|i| covered.contains_key(i))
            .collect();
        let na: Vec<&str> = of
            .iter()
            .copied()
            .filter(|i| NOT_APPLICABLE.iter().any(|(n, _)| n == i))
            .collect();
        println!(
            "  {c:<6} {:>3} exercised, {} not applicable, of {:<3} {}",
            hit.len(),
            na.len(),
            of.len(),
            hit.join(" ")
        );
    }
    for (id, why) in NOT_APPLICABLE {
        println!("  not applicable: {id}: {why}");
    }
    println!(
        "  total: {} of {} exercised, {} not applicable, {} missing",
        covered.len(),
        all.len(),
        NOT_APPLICABLE.len(),
        missing.len()
    );
    assert!(
        missing.is_empty(),
        "catalogue IDs neither exercised by a case that ran nor listed as not applicable: {missing:?}"
    );
}
