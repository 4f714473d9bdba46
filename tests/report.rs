//! The HTML reports, loaded in a real headless Chromium (Debian's `chromium`, which
//! `.ci/run` installs; `CHROMIUM` names another binary). No network is used: the pages
//! are files, and must not reference anything outside themselves.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{arcsynth, stderr, temp_dir, training_dir};

fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(p);
    }
    for name in ["chromium", "chromium-browser", "google-chrome"] {
        if let Some(p) = std::env::var_os("PATH")
            .and_then(|path| std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file()))
        {
            return p;
        }
    }
    panic!(
        "no Chromium found: install it (`apt-get install chromium`, as .ci/run does) or set CHROMIUM=/path/to/chrome"
    );
}

/// What Chromium showed for a page: the DOM after load, console messages, and whether
/// the screenshot was written.
struct Loaded {
    dom: String,
    console: Vec<String>,
}

/// Loads `page` headless; writes `screenshot` when given. Killed after 60 s.
fn load(page: &Path, screenshot: Option<&Path>) -> Loaded {
    let profile = temp_dir("chromium-profile");
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--enable-logging=stderr",
        "--no-first-run",
        "--window-size=1280,2000",
    ])
    .arg(format!("--user-data-dir={}", profile.display()));
    match screenshot {
        Some(s) => cmd.arg(format!("--screenshot={}", s.display())),
        None => cmd.arg("--dump-dom"),
    };
    let out_file = profile.join("stdout");
    let err_file = profile.join("stderr");
    let mut child = cmd
        .arg(format!("file://{}", page.canonicalize().unwrap().display()))
        .stdout(Stdio::from(std::fs::File::create(&out_file).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&err_file).unwrap()))
        .spawn()
        .expect("chromium starts");
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            panic!("chromium did not finish loading {} in 60 s", page.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = std::fs::read_to_string(&err_file).unwrap();
    // Chromium logs every console message (log, warning, error, uncaught exception) as
    // a CONSOLE line; our pages write none.
    let console = log.lines().filter(|l| l.contains(":CONSOLE")).map(String::from).collect();
    Loaded { dom: std::fs::read_to_string(&out_file).unwrap(), console }
}

#[test]
fn the_console_check_catches_errors() {
    // The control for the checks below: a page with a console error and an uncaught
    // exception must be seen as failing.
    let d = temp_dir("control");
    let page = d.join("bad.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body><script>console.error('deliberate'); undefinedFunction();</script></body></html>",
    )
    .unwrap();
    let l = load(&page, None);
    assert_eq!(l.console.len(), 2, "{:?}", l.console);
    assert!(l.console[1].contains("Uncaught ReferenceError"));
}

fn no_outside_references(html: &str) {
    for bad in ["src=\"", "src='", "href=\"http", "url(", "@import"] {
        assert!(!html.contains(bad), "the page references something outside itself: {bad}");
    }
}

#[test]
fn run_report_loads_in_chromium_with_a_section_per_task() {
    let tasks = temp_dir("tasks");
    // Two the enumerator solves at depth 1, one it leaves unsolved.
    for id in ["6150a2bd", "68b16354", "25d8a9c8"] {
        std::fs::copy(training_dir().join(format!("{id}.json")), tasks.join(format!("{id}.json"))).unwrap();
    }
    let run = temp_dir("run");
    let o = arcsynth(&[
        "search",
        "--tasks",
        tasks.to_str().unwrap(),
        "--out",
        run.to_str().unwrap(),
        "--time-per-task",
        "1",
        "--depth",
        "2",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // The tasks are found through run.json.
    let o = arcsynth(&["report", run.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    let page = run.join("report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    no_outside_references(&html);

    let l = load(&page, None);
    assert!(l.console.is_empty(), "console messages: {:?}", l.console);
    assert!(l.dom.contains("data-ready=\"1\""), "the page's script did not run to its end");
    assert_eq!(l.dom.matches("<section class=\"task\"").count(), 3);
    for id in ["6150a2bd", "68b16354", "25d8a9c8"] {
        assert!(l.dom.contains(&format!("id=\"{id}\"")), "no section for {id}");
    }
    // Both solved tasks answer right (green frames), the unsolved one is marked.
    assert!(l.dom.contains("id=\"6150a2bd\" data-status=\"correct\""));
    assert!(l.dom.contains("id=\"25d8a9c8\" data-status=\"unsolved\""));
    assert!(l.dom.contains("<figure class=\"ok\">") && l.dom.contains("<span class=\"p\">rotate</span>"));

    let shot = run.join("report.png");
    load(&page, Some(&shot));
    let png = std::fs::read(&shot).expect("a screenshot is written");
    assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "screenshot of {} bytes", png.len());
    eprintln!("screenshot: {}", shot.display());
}

#[test]
fn coverage_html_loads_in_chromium() {
    let d = temp_dir("coverage");
    let page = d.join("coverage.html");
    let o = arcsynth(&[
        "coverage",
        "--tasks",
        training_dir().to_str().unwrap(),
        "--format",
        "html",
        "--out",
        page.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let html = std::fs::read_to_string(&page).unwrap();
    no_outside_references(&html);
    let l = load(&page, None);
    assert!(l.console.is_empty(), "console messages: {:?}", l.console);
    assert!(l.dom.contains("data-ready=\"1\""));
    assert!(l.dom.contains("<h2>Primitive usage</h2>") && l.dom.contains("<code>rotate</code>"));
}
