//! Random and mutated inputs never make the front end panic: every input
//! either compiles (and then generates a project whose Rust parses) or is
//! refused with located diagnostics.

use palisade::source::SourceFile;
use proptest::prelude::*;

const SEEDS: [&str; 3] = [
    include_str!("../examples/billing.yaml"),
    include_str!("../examples/projects.yaml"),
    include_str!("../examples/shop.yaml"),
];

fn check(text: &str) {
    let source = SourceFile::new("fuzz.yaml", text);
    match palisade::compile(source) {
        // A mutated spec that is still valid must generate a project whose
        // Rust files parse (generation never panics on a valid model).
        Ok(compiled) => {
            let project = palisade::generate::generate(&compiled.model, "fuzz.yaml");
            for (path, file) in &project.files {
                if path.ends_with(".rs") && !path.starts_with("runtime/src/") {
                    if let Err(e) = syn::parse_file(&file.contents) {
                        panic!("{path} does not parse: {e}\n--- spec ---\n{text}");
                    }
                }
            }
        }
        Err(report) => {
            assert!(
                report.has_errors(),
                "a refused spec carries at least one error"
            );
            for d in &report.diagnostics {
                assert!(d.span().end <= text.len(), "span past the end: {d:?}");
            }
            // Rendering must never fail or panic either.
            let _ = report.render(palisade::diagnostic::RenderOptions {
                color: false,
                width: 80,
            });
            let _ = report.json();
        }
    }
}

/// A mutation of a seed: delete, duplicate or replace a byte range, or swap lines.
fn mutated() -> impl Strategy<Value = String> {
    (
        0..SEEDS.len(),
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
        0u8..5,
        "[ -~\t\n]{0,12}",
    )
        .prop_map(|(seed, a, b, kind, insert)| {
            let text = SEEDS[seed];
            let (mut a, mut b) = (a.index(text.len()), b.index(text.len()));
            if a > b {
                std::mem::swap(&mut a, &mut b);
            }
            while !text.is_char_boundary(a) {
                a -= 1;
            }
            while !text.is_char_boundary(b) {
                b -= 1;
            }
            match kind {
                0 => format!("{}{}", &text[..a], &text[b..]),
                1 => format!("{}{}{}", &text[..b], &text[a..b], &text[b..]),
                2 => format!("{}{}{}", &text[..a], insert, &text[b..]),
                3 => {
                    let mut lines: Vec<&str> = text.lines().collect();
                    let n = lines.len();
                    lines.swap(a % n, b % n);
                    lines.join("\n")
                }
                _ => format!("{}{}{}", &text[..a], insert, &text[a..]),
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_examples_never_panic(text in mutated()) {
        check(&text);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        check(&text);
    }

    #[test]
    fn yaml_shaped_noise_never_panics(text in "([a-z_]{1,8}: ?(\\[|\\{|[0-9]{1,3}|[a-z/]{1,6}|\"[^\"]{0,5}\"|~)?\n {0,4}){1,20}") {
        check(&text);
    }
}
