//! The HTML report in a real browser: headless Chromium loads each report
//! from disk, its DOM must hold the matrix and the findings, and a
//! screenshot must be written. Skipped, with a message, when no Chromium is
//! installed (`tests/review/render_html.sh` installs one and keeps the
//! screenshots for people to look at).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use palisade::review::{self, AuditFormat};

use super::{audit, load_file};

/// A Chromium binary: `PALISADE_CHROMIUM`, or the usual names on PATH.
fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PALISADE_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    for dir in std::env::split_paths(&path) {
        for name in [
            "chromium",
            "chromium-browser",
            "google-chrome",
            "google-chrome-stable",
        ] {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Some(candidate);
            }
        }
    }
    None
}

/// Runs the browser headless on `page` with `args`; its standard output.
fn browse(browser: &Path, page: &Path, args: &[String]) -> String {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the browser starts");
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            panic!("the browser did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let output = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn the_html_report_renders_in_headless_chromium() {
    let Some(browser) = chromium() else {
        println!(
            "skipped: no Chromium on PATH (install it, e.g. `apt-get install chromium`, or set PALISADE_CHROMIUM)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for file in ["examples/shop.yaml", "tests/review/fixtures/silenced.yaml"] {
        let report = audit(&load_file(file));
        let html = review::render_audit(&report, AuditFormat::Html, false);
        let name = Path::new(file)
            .file_stem()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let page = dir.path().join(format!("{name}.html"));
        std::fs::write(&page, html).unwrap();

        let dom = browse(&browser, &page, &["--dump-dom".to_string()]);
        assert!(dom.contains("Access matrix"), "{file}: {dom}");
        for r in &report.matrix {
            assert!(
                dom.contains(&format!("<span class=\"name\">{}</span>", r.resource)),
                "{file}"
            );
        }
        for f in &report.findings {
            assert!(
                dom.contains(&format!("id=\"{}\"", f.fingerprint)),
                "{file}: {}",
                f.fingerprint
            );
        }
        if report.summary.silenced > 0 {
            assert!(dom.contains("Silenced ("), "{file}");
        }

        let shot = dir.path().join(format!("{name}.png"));
        browse(
            &browser,
            &page,
            &[
                "--window-size=1280,1600".to_string(),
                format!("--screenshot={}", shot.display()),
            ],
        );
        let png = std::fs::read(&shot).unwrap_or_else(|e| panic!("{file}: no screenshot: {e}"));
        assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "{file}: not a PNG");
        assert!(png.len() > 20_000, "{file}: a nearly empty screenshot");
    }
}
