//! Prints how long the front end (parse, validate, lower) takes on synthetic
//! specs of 1, 10, 100 and 1,000 resources, and the growth ratio. A
//! benchmark that prints figures, never a timed assertion.
//!
//! Run with `cargo bench --bench compile`.

use std::time::{Duration, Instant};

use palisade::source::SourceFile;

/// A spec with `n` resources of seven fields each, refs to the previous
/// resource, two roles and a per-operation throttle.
pub fn synthetic_spec(n: usize) -> String {
    let mut s = String::from(
        "palisade: 1\nservice: { name: synthetic }\nauth:\n  jwt: { algorithm: HS256, secret_env: JWT_SECRET, issuer: https://id.example.com, audience: api }\n  roles_claim: roles\nroles: [admin, support]\ncors: { origins: [https://app.example.com], credentials: true }\nresources:\n",
    );
    for i in 0..n {
        s.push_str(&format!(
            "  r{i}:\n    owner: owner_id\n    fields:\n      name: {{ type: string, max_length: 120, required: true }}\n      email: {{ type: email, pii: true }}\n      amount: {{ type: integer, min: 0 }}\n      ratio: {{ type: number, min: 0, max: 1 }}\n      state: {{ type: string, enum: [a, b, c], default: a }}\n      due: {{ type: date, write_once: true }}\n"
        ));
        if i > 0 {
            s.push_str(&format!(
                "      parent: {{ type: ref, resource: r{} }}\n",
                i - 1
            ));
        }
        s.push_str("    access:\n      roles: { admin: [list, get, delete], support: [get] }\n    filters: [state]\n    sort: [amount]\n    throttle: { create: 30/minute }\n");
    }
    s
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    println!(
        "{:>10} {:>10} {:>14} {:>12}",
        "resources", "bytes", "compile (ms)", "per resource"
    );
    let mut times = Vec::new();
    for n in [1usize, 10, 100, 1000] {
        let text = synthetic_spec(n);
        let runs = if n >= 1000 { 5 } else { 20 };
        let samples: Vec<Duration> = (0..runs)
            .map(|_| {
                let source = SourceFile::new("synthetic.yaml", text.clone());
                let start = Instant::now();
                let compiled = palisade::compile(source).expect("the synthetic spec is valid");
                let elapsed = start.elapsed();
                assert_eq!(compiled.model.resources.len(), n);
                elapsed
            })
            .collect();
        let m = median(samples);
        times.push((n, m));
        println!(
            "{n:>10} {:>10} {:>14.3} {:>10.1} us",
            text.len(),
            m.as_secs_f64() * 1e3,
            m.as_secs_f64() * 1e6 / n as f64
        );
    }
    let t100 = times[2].1.as_secs_f64();
    let t1000 = times[3].1.as_secs_f64();
    println!(
        "time(1000)/time(100) = {:.2} (10 means linear growth)",
        t1000 / t100
    );
    generate_and_check();
}

fn time<T>(runs: usize, mut f: impl FnMut() -> T) -> Duration {
    median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                std::hint::black_box(f());
                start.elapsed()
            })
            .collect(),
    )
}

/// Generation (in memory) and `check` against a written project.
fn generate_and_check() {
    println!();
    println!(
        "{:>10} {:>16} {:>14} {:>10}",
        "resources", "generate (ms)", "check (ms)", "files"
    );
    for n in [1usize, 10, 100, 1000] {
        let text = synthetic_spec(n);
        let compiled = palisade::compile(SourceFile::new("synthetic.yaml", text.clone())).unwrap();
        let runs = if n >= 1000 { 3 } else { 10 };
        let gen_time = time(runs, || {
            palisade::generate::generate(&compiled.model, "synthetic.yaml")
        });
        let project = palisade::generate::generate(&compiled.model, "synthetic.yaml");
        let manifest = palisade::write::Manifest::of(&project, "synthetic.yaml", text.as_bytes());
        let dir = std::env::temp_dir().join(format!("palisade-bench-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        palisade::write::write(&project, &manifest, &dir, Default::default()).unwrap();
        let check_time = time(runs, || {
            // What `palisade check` does: compile, generate, compare.
            let compiled =
                palisade::compile(SourceFile::new("synthetic.yaml", text.clone())).unwrap();
            let project = palisade::generate::generate(&compiled.model, "synthetic.yaml");
            let manifest =
                palisade::write::Manifest::of(&project, "synthetic.yaml", text.as_bytes());
            let drift = palisade::check::check(&project, &manifest, &dir).unwrap();
            assert!(drift.is_clean());
        });
        let _ = std::fs::remove_dir_all(&dir);
        println!(
            "{n:>10} {:>16.2} {:>14.2} {:>10}",
            gen_time.as_secs_f64() * 1e3,
            check_time.as_secs_f64() * 1e3,
            project.files.len()
        );
    }
}
