//! The browser playground's core (`dynasim::playground`, which web/module exports) and
//! `dynasim serve`: a run advanced in slices gives the CLI's report.json byte for byte,
//! bad scenarios and runs too big for a tab are refused with the CLI's messages, the
//! stale reads the page explains are real ones, and the server serves web/ and nothing
//! outside it. The browser itself is tested by web/test.sh (headless Chromium).

mod common;

use common::{Scratch, partitioned, set, small_scenario};
use dynasim::playground::Session;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Command, Stdio};

fn scratch(name: &str) -> Scratch {
    Scratch::new(&format!("playground-{name}"))
}

#[test]
fn a_run_in_slices_gives_the_clis_report_byte_for_byte() {
    let dir = scratch("bytes");
    let text = serde_json::to_string_pretty(&partitioned()).expect("json");
    let file = dir.join("scenario.json");
    std::fs::write(&file, &text).expect("write scenario");
    let status = Command::new(env!("CARGO_BIN_EXE_dynasim"))
        .args([
            "run".as_ref(),
            file.as_os_str(),
            "--quiet".as_ref(),
            "--out".as_ref(),
        ])
        .arg(dir.join("cli"))
        .status()
        .expect("dynasim run");
    assert!(status.success());
    let cli = std::fs::read_to_string(dir.join("cli/report.json")).expect("report");

    // Odd slices, as the page's worker takes them (a hundredth of the run, at least 10 ms).
    let mut session = Session::start(&text).expect("valid scenario");
    let end = session.progress().end_s;
    let mut steps = 0;
    while !session.advance(0.37).finished {
        steps += 1;
        assert!(steps < 10_000, "the run does not advance");
    }
    assert!(steps > 10, "only {steps} slices for {end} s");
    let outcome = session.finish();
    assert_eq!(
        outcome.report_json, cli,
        "the playground's report is not the CLI's"
    );
    let summary = std::fs::read_to_string(dir.join("cli/summary.md")).expect("summary");
    assert_eq!(outcome.summary_md, summary);
}

#[test]
fn bad_scenarios_and_runs_too_big_for_a_tab_are_refused() {
    let mut doc = small_scenario();
    set(&mut doc, "replication.r", json!(9));
    let err = Session::start(&doc.to_string())
        .err()
        .expect("r > n is refused");
    assert!(err.contains("replication.r") && err.contains('9'), "{err}");

    let err = Session::start("{not json").err().expect("not JSON");
    assert!(err.contains("invalid JSON at line 1"), "{err}");

    let mut huge = small_scenario();
    set(&mut huge, "workload.keys", json!(4_294_967_295u64));
    let err = Session::start(&huge.to_string())
        .err()
        .expect("too big for a tab");
    assert!(err.contains("memory"), "{err}");
}

#[test]
fn the_stale_reads_the_page_explains_are_the_observers() {
    let session = Session::start(&partitioned().to_string()).expect("valid");
    let outcome = session.finish();
    let report: Value = serde_json::from_str(&outcome.report_json).expect("report");
    let stale = report["consistency"]["stale_reads"]
        .as_u64()
        .expect("count");
    let examples: Vec<Value> = serde_json::from_str(&outcome.stale_examples_json).expect("json");
    assert!(stale > 0, "R=W=1 across a partition reads stale data");
    assert_eq!(examples.len() as u64, stale.min(20));
    for e in &examples {
        let start = e["start_s"].as_f64().expect("start");
        assert!(e["missed"].as_str().expect("missed").starts_with("w-"));
        assert!(e["k"].as_u64().expect("k") >= 1);
        assert!(e["since_ack_ms"].as_f64().expect("since") >= 0.0);
        assert!(e["end_s"].as_f64().expect("end") >= start);
        assert_eq!(e["home_replicas"].as_array().expect("homes").len(), 3);
        let during = (5.0..15.0).contains(&start);
        let named = e["faults_active"].as_array().expect("faults").len();
        assert_eq!(named, usize::from(during), "{e}");
    }
}

/// A running `dynasim serve`, stopped when dropped: also when an assertion fails, which
/// would otherwise leave the server running after the test binary exits.
struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `dynasim serve --port 0` on `dir` and returns the server and its address.
fn serve(dir: &std::path::Path) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dynasim"))
        .args(["serve", "--port", "0", "--dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .spawn()
        .expect("dynasim serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("address line");
    let address = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    (Server(child), address)
}

fn get(address: &str, target: &str) -> String {
    let mut stream = std::net::TcpStream::connect(address).expect("connect");
    write!(stream, "GET {target} HTTP/1.1\r\nHost: x\r\n\r\n").expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("answer");
    answer
}

#[test]
fn serve_answers_with_the_folder_and_nothing_outside_it() {
    let dir = scratch("serve");
    let web = dir.join("web");
    std::fs::create_dir_all(&web).expect("web");
    std::fs::write(web.join("index.html"), "<p>playground</p>").expect("index");
    std::fs::write(dir.join("secret.txt"), "outside").expect("secret");

    let missing = Command::new(env!("CARGO_BIN_EXE_dynasim"))
        .args(["serve", "--port", "0", "--dir"])
        .arg(&web)
        .output()
        .expect("dynasim serve");
    assert_eq!(missing.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains("dynasim.wasm is missing") && stderr.contains("web/build.sh"),
        "{stderr}"
    );

    std::fs::write(web.join("dynasim.wasm"), b"\0asm\x01\0\0\0").expect("wasm");
    let (_server, address) = serve(&web);
    let index = get(&address, "/");
    assert!(
        index.starts_with("HTTP/1.1 200 OK") && index.contains("text/html"),
        "{index}"
    );
    assert!(index.ends_with("<p>playground</p>"), "{index}");
    let wasm = get(&address, "/dynasim.wasm");
    assert!(wasm.contains("Content-Type: application/wasm"), "{wasm}");
    for outside in ["/../secret.txt", "/%2e%2e/secret.txt", "/nothing.js"] {
        let answer = get(&address, outside);
        assert!(answer.starts_with("HTTP/1.1 404"), "{outside}: {answer}");
        assert!(!answer.contains("outside"), "{outside}: {answer}");
    }
}
