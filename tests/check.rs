//! `dynasim check` end to end: tiny seeded scenarios written to a temporary folder, the real
//! binary run on them, baselines edited by hand to play a regression.

mod common;

use common::Scratch;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A two-datacenter cluster with R=W=1, load-balancer routing and a slow inter-datacenter
/// link, so that some reads are stale; a few simulated seconds.
fn tiny_scenario(name: &str, seed: u64) -> String {
    let name = serde_json::to_string(name).expect("a string serializes");
    format!(
        r#"{{
  "name": {name},
  "description": "Tiny test scenario with stale reads.",
  "seed": {seed},
  "duration_s": 3,
  "cluster": {{
    "datacenters": [{{"name": "east", "nodes": 3}}, {{"name": "west", "nodes": 3}}],
    "partitioning": {{"strategy": "equal_partitions", "partitions": 12}}
  }},
  "replication": {{"n": 3, "r": 1, "w": 1}},
  "network": {{
    "latency_ms": {{
      "local": {{"constant": 0}},
      "intra_dc": {{"constant": 0.5}},
      "inter_dc": {{"lognormal": {{"median": 80, "sigma": 0.3}}}}
    }}
  }},
  "workload": {{
    "kind": "open_loop", "ops_per_s": 200, "clients": 6, "read_fraction": 0.5, "keys": 20,
    "key_distribution": "uniform", "write_mode": "blind", "routing": "load_balancer",
    "request_timeout_ms": 1000
  }},
  "metrics": {{"sla_ms": 100, "timeline_interval_s": 1}}
}}"#
    )
}

/// A fresh folder per test, removed when the test passes.
struct Fixture {
    dir: Scratch,
}

impl Fixture {
    fn new(test: &str) -> Fixture {
        let dir = Scratch::new(&format!("check-{test}"));
        std::fs::create_dir_all(dir.join("scenarios")).expect("create the test folder");
        Fixture { dir }
    }

    /// Writes scenarios/<file> and returns its path relative to the fixture.
    fn scenario(&self, file: &str, name: &str, seed: u64) -> String {
        let relative = format!("scenarios/{file}");
        std::fs::write(self.dir.join(&relative), tiny_scenario(name, seed))
            .expect("write a scenario");
        relative
    }

    /// Runs `dynasim check ARGS` in the fixture folder.
    fn check(&self, args: &[&str]) -> Run {
        let output = Command::new(env!("CARGO_BIN_EXE_dynasim"))
            .arg("check")
            .args(args)
            .current_dir(&self.dir)
            .output()
            .expect("run dynasim");
        Run::from(output)
    }

    fn path(&self, relative: &str) -> PathBuf {
        self.dir.join(relative)
    }

    fn read_json(&self, relative: &str) -> Value {
        let text = std::fs::read_to_string(self.path(relative)).expect("read a report");
        serde_json::from_str(&text).expect("the report is JSON")
    }

    /// Edits a report by hand. Its folder's manifest no longer vouches for it, so the
    /// edit removes the manifest, as a user editing a baseline must (docs/regression.md).
    fn edit_json(&self, relative: &str, edit: impl FnOnce(&mut Value)) {
        let mut doc = self.read_json(relative);
        edit(&mut doc);
        std::fs::write(
            self.path(relative),
            serde_json::to_string_pretty(&doc).expect("serialize"),
        )
        .expect("write");
        if let Some(dir) = self.path(relative).parent() {
            let _ = std::fs::remove_file(dir.join("manifest.json"));
        }
    }
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl Run {
    fn expect_code(&self, code: i32) -> &Run {
        assert_eq!(
            self.code,
            Some(code),
            "stdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

fn stale_fraction(report: &Value) -> f64 {
    report["consistency"]["stale_read_fraction"]
        .as_f64()
        .expect("a stale fraction")
}

#[test]
fn unchanged_run_passes_in_exact_mode() {
    let f = Fixture::new("unchanged");
    let scenario = f.scenario("tiny.json", "tiny", 7);
    let created = f.check(&[&scenario, "--update"]);
    assert!(
        created.expect_code(0).stdout.contains("created"),
        "{}",
        created.stdout
    );
    let checked = f.check(&[&scenario]);
    assert!(
        checked
            .expect_code(0)
            .stdout
            .starts_with("PASS  tiny (seed 7)  exact:"),
        "{}",
        checked.stdout
    );
    // A second update finds the same bytes and leaves the folder alone; a plot removed
    // by hand is written again.
    let written = |name: &str| {
        std::fs::metadata(f.path(&format!("reports/tiny/{name}")))
            .and_then(|m| m.modified())
            .expect("time")
    };
    let before = written("report.json");
    let again = f.check(&[&scenario, "--update"]);
    assert!(
        again
            .expect_code(0)
            .stdout
            .contains("unchanged, left as it was"),
        "{}",
        again.stdout
    );
    assert_eq!(
        written("report.json"),
        before,
        "an unchanged baseline was rewritten"
    );
    std::fs::remove_file(f.path("reports/tiny/timeline.svg")).expect("remove a plot");
    let mended = f.check(&[&scenario, "--update"]);
    assert!(
        mended.expect_code(0).stdout.contains("re-rendered"),
        "{}",
        mended.stdout
    );
    assert!(f.path("reports/tiny/timeline.svg").exists());
    f.check(&[&scenario]).expect_code(0);
}

#[test]
fn lowered_stale_fraction_in_the_baseline_fails_with_exit_1() {
    let f = Fixture::new("lowered");
    let scenario = f.scenario("tiny.json", "tiny", 7);
    f.check(&[&scenario, "--update"]).expect_code(0);
    let report = "reports/tiny/report.json";
    let fraction = stale_fraction(&f.read_json(report));
    assert!(fraction > 0.0, "the test scenario must produce stale reads");
    f.edit_json(report, |doc| {
        doc["consistency"]["stale_read_fraction"] = (fraction / 2.0).into()
    });
    let run = f.check(&[&scenario]);
    run.expect_code(1);
    let row = run
        .stdout
        .lines()
        .find(|l| l.contains("consistency.stale_read_fraction"))
        .expect("a table row");
    assert!(row.contains("DIFFERS"), "{row}");
    assert!(
        run.stdout.contains("digest") && run.stdout.contains("matches"),
        "the event sequence did not change: {}",
        run.stdout
    );
}

#[test]
fn tolerance_passes_a_small_worsening_and_fails_a_larger_one() {
    let f = Fixture::new("tolerance");
    let scenario = f.scenario("tiny.json", "tiny", 7);
    f.check(&[&scenario, "--update"]).expect_code(0);
    let report = "reports/tiny/report.json";
    let fraction = stale_fraction(&f.read_json(report));
    let bound = ["--tol", "consistency.stale_read_fraction=0.0005"];

    // The new run is 0.0001 worse than the edited baseline: allowed.
    f.edit_json(report, |doc| {
        doc["consistency"]["stale_read_fraction"] = (fraction - 0.0001).into()
    });
    let small = f.check(&[&scenario, bound[0], bound[1]]);
    assert!(
        small.expect_code(0).stdout.starts_with("PASS"),
        "{}",
        small.stdout
    );
    // Exact mode still sees the edit.
    f.check(&[&scenario]).expect_code(1);

    // 0.001 worse: not allowed.
    f.edit_json(report, |doc| {
        doc["consistency"]["stale_read_fraction"] = (fraction - 0.001).into()
    });
    let large = f.check(&[&scenario, bound[0], bound[1]]);
    assert!(
        large.expect_code(1).stdout.contains("WORSE"),
        "{}",
        large.stdout
    );

    // Better than the baseline passes even with a zero bound; the same bounds from a file.
    f.edit_json(report, |doc| {
        doc["consistency"]["stale_read_fraction"] = (fraction + 0.01).into();
        doc["availability"]["read"] = 0.5.into();
    });
    let file = f.path("tolerance.json");
    std::fs::write(&file, r#"{"metrics": {"consistency.stale_read_fraction": 0, "availability.*": {"max_worsening": 0}}}"#)
        .expect("write");
    let better = f.check(&[&scenario, "--tolerance", "tolerance.json", "--verbose"]);
    assert!(
        better.expect_code(0).stdout.contains("better"),
        "{}",
        better.stdout
    );
}

#[test]
fn junit_is_well_formed_and_counts_failures() {
    let f = Fixture::new("junit");
    // A name full of XML specials: it reaches attribute values.
    f.scenario("a.json", "tiny <&> \"q\" 'a'", 7);
    f.scenario("b.json", "other", 8);
    f.check(&["--all", "scenarios", "--update"]).expect_code(0);
    let report = "reports/tiny <&> \"q\" 'a'/report.json";
    f.edit_json(report, |doc| {
        let fraction = stale_fraction(doc);
        doc["consistency"]["stale_read_fraction"] = (fraction / 2.0).into();
        doc["latency_ms"]["read"]["p999"] = 0.5.into();
    });

    // By default one case per scenario, its failure naming the fields that differ.
    f.check(&[
        "--all",
        "scenarios",
        "--junit",
        "out/default.xml",
        "--summary-md",
        "out/summary.md",
    ])
    .expect_code(1);
    let md = std::fs::read_to_string(f.path("out/summary.md")).expect("the Markdown summary");
    assert!(
        md.starts_with("### dynasim check: 1 of 2 scenario(s) passed"),
        "{md}"
    );
    assert!(
        md.contains("| ✅ | other | 8 |") && md.contains("| ❌ | tiny"),
        "{md}"
    );
    assert!(md.contains("| `consistency.stale_read_fraction` |"), "{md}");
    let root =
        xml::parse(&std::fs::read_to_string(f.path("out/default.xml")).expect("the JUnit file"));
    assert_eq!(
        (root.attr("tests"), root.attr("failures")),
        (Some("2"), Some("1"))
    );
    let first = (root.children.iter())
        .find(|c| c.name == "testsuite")
        .expect("suite");
    let case = (first.children.iter())
        .find(|c| c.name == "testcase")
        .expect("case");
    let failure = (case.children.iter())
        .find(|c| c.name == "failure")
        .expect("failure");
    let message = failure.attr("message").unwrap_or_default();
    assert!(message.starts_with("2 field(s) differ"), "{message}");

    f.check(&[
        "--all",
        "scenarios",
        "--junit",
        "out/exact.xml",
        "--junit-cases",
        "section",
    ])
    .expect_code(1);
    let root =
        xml::parse(&std::fs::read_to_string(f.path("out/exact.xml")).expect("the JUnit file"));
    assert_eq!(root.name, "testsuites");
    assert_eq!(root.attr("failures"), Some("2"));
    let suites: Vec<&xml::Element> = root
        .children
        .iter()
        .filter(|c| c.name == "testsuite")
        .collect();
    let names: Vec<Option<&str>> = suites.iter().map(|s| s.attr("name")).collect();
    assert_eq!(
        names,
        [Some("tiny <&> \"q\" 'a'"), Some("other")],
        "file-name order"
    );
    let failed: Vec<Option<&str>> = suites[0]
        .children
        .iter()
        .filter(|c| c.children.iter().any(|f| f.name == "failure"))
        .map(|c| c.attr("name"))
        .collect();
    // Exact mode: one case per top-level section of report.json, its failure naming
    // the fields that differ (one case per field swamped CI views: 14,691 cases).
    assert_eq!(failed, [Some("consistency"), Some("latency_ms")]);
    let body = |name: &str| -> String {
        let case = (suites[0].children.iter())
            .find(|c| c.attr("name") == Some(name))
            .expect("the case");
        let failure = case
            .children
            .iter()
            .find(|f| f.name == "failure")
            .expect("failure");
        failure.attr("message").unwrap_or_default().to_string()
    };
    assert!(
        body("consistency").contains("consistency.stale_read_fraction"),
        "{}",
        body("consistency")
    );
    assert!(
        body("latency_ms").contains("latency_ms.read.p999"),
        "{}",
        body("latency_ms")
    );
    assert!(
        suites[0].children.len() < 40,
        "{} cases in one scenario's suite",
        suites[0].children.len()
    );
    assert_eq!(suites[1].attr("failures"), Some("0"));
    let cases: usize = suites
        .iter()
        .map(|s| s.children.iter().filter(|c| c.name == "testcase").count())
        .sum();
    assert_eq!(root.attr("tests"), Some(cases.to_string().as_str()));

    // Tolerance mode: one case per bounded metric.
    let run = f.check(&[
        "--all",
        "scenarios",
        "--tol",
        "latency_ms.*.p999=0",
        "--tol",
        "consistency.stale_read_fraction=0",
        "--junit",
        "out/tol.xml",
        "--junit-cases",
        "metric",
    ]);
    run.expect_code(1);
    let root = xml::parse(&std::fs::read_to_string(f.path("out/tol.xml")).expect("the JUnit file"));
    assert_eq!(
        (root.attr("tests"), root.attr("failures")),
        (Some("6"), Some("2"))
    );
}

#[test]
fn missing_baseline_is_bad_input_naming_the_file() {
    let f = Fixture::new("missing");
    let scenario = f.scenario("tiny.json", "tiny", 7);
    // The verdict line (stdout) names the file; stderr says the scenario was not checked.
    let run = f.check(&[&scenario]);
    run.expect_code(2);
    assert!(
        run.stdout.contains("reports/tiny/report.json") && run.stderr.contains("not be checked"),
        "{}{}",
        run.stdout,
        run.stderr
    );
    let run = f.check(&[&scenario, "--baseline", "elsewhere/base.json"]);
    assert!(
        run.expect_code(2).stdout.contains("elsewhere/base.json"),
        "{}",
        run.stdout
    );
    let run = f.check(&["scenarios/nope.json"]);
    assert!(
        run.expect_code(2).stderr.contains("scenarios/nope.json"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_scenario_without_a_baseline_is_not_judged_and_the_others_are_still_checked() {
    let f = Fixture::new("partial");
    f.scenario("a.json", "old", 3);
    f.check(&["--all", "scenarios", "--update"]).expect_code(0);
    f.scenario("b.json", "new", 4);
    let run = f.check(&["--all", "scenarios", "--jobs", "2"]);
    run.expect_code(2);
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("PASS") && l.contains("old")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("1 not judged"), "{}", run.stdout);
    assert!(
        run.stdout.contains("reports/new/report.json") && run.stdout.contains("--update"),
        "{}",
        run.stdout
    );
}

#[test]
fn bad_tolerances_are_bad_input_naming_the_field() {
    let f = Fixture::new("badtol");
    let scenario = f.scenario("tiny.json", "tiny", 7);
    f.check(&[&scenario, "--update"]).expect_code(0);
    std::fs::write(
        f.path("tol.json"),
        r#"{"metrics": {"availability.read": {"max_worsening": "a lot"}}}"#,
    )
    .expect("write");
    let run = f.check(&[&scenario, "--tolerance", "tol.json"]);
    assert!(
        run.expect_code(2)
            .stderr
            .contains("tol.json: metrics.\"availability.read\".max_worsening"),
        "{}",
        run.stderr
    );

    // No built-in direction: refused until the file says which way is better.
    let run = f.check(&[&scenario, "--tol", "ops.read.ok=5"]);
    assert!(
        run.expect_code(2).stderr.contains("higher_is_better"),
        "{}",
        run.stderr
    );
    std::fs::write(
        f.path("tol.json"),
        r#"{"metrics": {"ops.read.ok": {"max_worsening": 5, "higher_is_better": true}}}"#,
    )
    .expect("write");
    f.check(&[&scenario, "--tolerance", "tol.json"])
        .expect_code(0);

    // A bound on a metric no report has is a typo, not a pass.
    let run = f.check(&[&scenario, "--tol", "availability.raed=0.1"]);
    assert!(
        run.expect_code(2)
            .stdout
            .contains("`availability.raed` matches no metric"),
        "{}",
        run.stdout
    );
}

#[test]
fn update_writes_baselines_that_then_pass_in_file_name_order() {
    let f = Fixture::new("update");
    // File order and name order differ: output follows the files.
    f.scenario("a.json", "zeta", 3);
    f.scenario("b.json", "alpha", 4);
    f.check(&[
        "--all",
        "scenarios",
        "--reports",
        "golden",
        "--update",
        "--jobs",
        "2",
    ])
    .expect_code(0);
    assert!(
        f.path("golden/zeta/report.json").is_file() && f.path("golden/alpha/report.json").is_file()
    );
    let run = f.check(&["--all", "scenarios", "--reports", "golden", "--jobs", "2"]);
    let verdicts: Vec<&str> = run
        .expect_code(0)
        .stdout
        .lines()
        .filter(|l| l.starts_with("PASS"))
        .collect();
    assert_eq!(verdicts.len(), 2, "{}", run.stdout);
    assert!(
        verdicts[0].contains("zeta") && verdicts[1].contains("alpha"),
        "{}",
        run.stdout
    );

    // --baseline FILE --update writes exactly that file.
    let base = "custom/base.json";
    f.check(&["scenarios/b.json", "--baseline", base, "--update"])
        .expect_code(0);
    assert_eq!(f.read_json(base)["scenario"]["name"], "alpha");
    f.check(&["scenarios/b.json", "--baseline", base])
        .expect_code(0);
    // The other scenario's report is not that baseline.
    f.check(&["scenarios/a.json", "--baseline", base])
        .expect_code(1);
    assert!(
        !Path::new(&f.path("reports")).exists(),
        "nothing written under the default root"
    );
}

/// A small well-formedness checker for the XML the JUnit writer emits: one root element,
/// nested elements, quoted attributes (unique per element), text and the five entities plus
/// character references. It panics, naming the position, on anything else.
mod xml {
    pub struct Element {
        pub name: String,
        pub attrs: Vec<(String, String)>,
        pub children: Vec<Element>,
    }

    impl Element {
        pub fn attr(&self, name: &str) -> Option<&str> {
            self.attrs
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        }
    }

    pub fn parse(text: &str) -> Element {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        if p.s.starts_with(b"<?xml") {
            let end = text.find("?>").expect("the declaration ends");
            p.i = end + 2;
        }
        p.space();
        let root = p.element();
        p.space();
        assert_eq!(
            p.i,
            p.s.len(),
            "content after the root element at byte {}",
            p.i
        );
        root
    }

    struct Parser<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl Parser<'_> {
        fn peek(&self) -> u8 {
            *self
                .s
                .get(self.i)
                .unwrap_or_else(|| panic!("unexpected end at byte {}", self.i))
        }

        fn eat(&mut self, b: u8) {
            assert_eq!(self.peek() as char, b as char, "at byte {}", self.i);
            self.i += 1;
        }

        fn space(&mut self) {
            while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
                self.i += 1;
            }
        }

        fn name(&mut self) -> String {
            let start = self.i;
            while self.i < self.s.len()
                && (self.s[self.i].is_ascii_alphanumeric() || b"_-.:".contains(&self.s[self.i]))
            {
                self.i += 1;
            }
            assert!(self.i > start, "a name expected at byte {start}");
            String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
        }

        /// Text up to `stop`, with references resolved; a raw `<` or a bad `&` fails.
        fn text(&mut self, stop: u8) -> String {
            let mut out = String::new();
            let start = self.i;
            while self.peek() != stop {
                match self.peek() {
                    b'<' => panic!("raw '<' at byte {}", self.i),
                    b'&' => {
                        let end = self.s[self.i..]
                            .iter()
                            .position(|&b| b == b';')
                            .expect("a reference ends with ';'");
                        let entity =
                            std::str::from_utf8(&self.s[self.i + 1..self.i + end]).expect("utf-8");
                        let c = match entity {
                            "amp" => '&',
                            "lt" => '<',
                            "gt" => '>',
                            "quot" => '"',
                            "apos" => '\'',
                            e if e.starts_with("#x") => u32::from_str_radix(&e[2..], 16)
                                .ok()
                                .and_then(char::from_u32)
                                .expect("a character reference"),
                            e if e.starts_with('#') => e[1..]
                                .parse()
                                .ok()
                                .and_then(char::from_u32)
                                .expect("a character reference"),
                            e => panic!("unknown entity &{e}; at byte {}", self.i),
                        };
                        out.push(c);
                        self.i += end + 1;
                    }
                    _ => {
                        let len = std::str::from_utf8(&self.s[self.i..])
                            .map_or(1, |rest| rest.chars().next().map_or(1, char::len_utf8));
                        out.push_str(
                            std::str::from_utf8(&self.s[self.i..self.i + len]).expect("utf-8"),
                        );
                        self.i += len;
                    }
                }
            }
            assert!(
                !(stop == b'"' && self.s[start..self.i].contains(&b'\n')),
                "a raw line break in an attribute"
            );
            out
        }

        fn element(&mut self) -> Element {
            self.eat(b'<');
            let name = self.name();
            let mut attrs: Vec<(String, String)> = Vec::new();
            loop {
                self.space();
                match self.peek() {
                    b'/' => {
                        self.eat(b'/');
                        self.eat(b'>');
                        return Element {
                            name,
                            attrs,
                            children: Vec::new(),
                        };
                    }
                    b'>' => {
                        self.eat(b'>');
                        break;
                    }
                    _ => {
                        let attr = self.name();
                        self.space();
                        self.eat(b'=');
                        self.space();
                        let quote = self.peek();
                        assert!(
                            quote == b'"' || quote == b'\'',
                            "a quoted value at byte {}",
                            self.i
                        );
                        self.eat(quote);
                        let value = self.text(quote);
                        self.eat(quote);
                        assert!(
                            attrs.iter().all(|(n, _)| *n != attr),
                            "attribute {attr} twice on <{name}>"
                        );
                        attrs.push((attr, value));
                    }
                }
            }
            let mut children = Vec::new();
            loop {
                self.text(b'<');
                if self.s[self.i..].starts_with(b"</") {
                    self.i += 2;
                    let end = self.name();
                    assert_eq!(end, name, "mismatched end tag at byte {}", self.i);
                    self.space();
                    self.eat(b'>');
                    return Element {
                        name,
                        attrs,
                        children,
                    };
                }
                children.push(self.element());
            }
        }
    }
}

/// Issue 21, items 6 and 8: a baseline that is valid JSON but no report, or whose
/// section is damaged, is bad input (exit 2, it was 1); a bounded metric null in the
/// baseline fails instead of passing; a report folder whose manifest is incomplete (a run
/// killed while writing it) or names other bytes (two runs mixed) is refused.
#[test]
fn malformed_interrupted_and_mixed_baselines_are_bad_input() {
    let f = Fixture::new("malformed");
    let scenario = f.scenario("tiny.json", "tiny", 7);
    f.check(&[&scenario, "--update"]).expect_code(0);
    let manifest = f.read_json("reports/tiny/manifest.json");
    assert_eq!(manifest["complete"], true);
    for file in ["report.json", "summary.md", "timeline.svg"] {
        assert!(
            manifest["files"][file]["md5"].is_string(),
            "{file}: {manifest}"
        );
    }
    f.check(&[&scenario]).expect_code(0);

    // Two runs mixed: a report.json that is not the one the manifest names.
    let report = std::fs::read_to_string(f.path("reports/tiny/report.json")).expect("read");
    std::fs::write(f.path("reports/tiny/report.json"), format!("{report} ")).expect("write");
    let run = f.check(&[&scenario]);
    assert!(
        run.expect_code(2).stdout.contains("mixes two runs"),
        "{}",
        run.stdout
    );
    // Interrupted: the manifest still says incomplete.
    std::fs::write(
        f.path("reports/tiny/manifest.json"),
        r#"{"complete": false, "digest": "0"}"#,
    )
    .expect("write");
    let run = f.check(&[&scenario]);
    assert!(
        run.expect_code(2).stdout.contains("incomplete"),
        "{}",
        run.stdout
    );
    std::fs::write(f.path("reports/tiny/report.json"), &report).expect("write");

    // Not a report at all, and a damaged section.
    std::fs::write(f.path("other.json"), r#"{"hello": 1}"#).expect("write");
    let run = f.check(&[&scenario, "--baseline", "other.json"]);
    assert!(
        run.expect_code(2).stdout.contains("not a dynasim report"),
        "{}",
        run.stdout
    );
    f.edit_json("reports/tiny/report.json", |r| {
        r["durability"] = "oops".into()
    });
    let run = f.check(&[&scenario]);
    assert!(
        run.expect_code(2)
            .stdout
            .contains("malformed: `durability`"),
        "{}",
        run.stdout
    );

    // A bounded metric null in the baseline fails.
    std::fs::write(f.path("reports/tiny/report.json"), &report).expect("write");
    f.edit_json("reports/tiny/report.json", |r| {
        r["durability"]["lost_writes"] = Value::Null
    });
    let run = f.check(&[&scenario, "--tol", "durability.lost_writes=0"]);
    assert!(
        run.expect_code(1).stdout.contains("NULL in the baseline"),
        "{}",
        run.stdout
    );
}

/// Issue 19: exact mode names the scenario edit behind a failure (tolerance mode did);
/// a `--tol` metric typo gets the nearest metric as a suggestion.
#[test]
fn exact_mode_names_the_scenario_edit_and_tol_typos_get_a_suggestion() {
    let f = Fixture::new("edit-note");
    let scenario = f.scenario("tiny.json", "tiny", 7);
    f.check(&[&scenario, "--update"]).expect_code(0);
    let text = std::fs::read_to_string(f.path(&scenario)).expect("read");
    std::fs::write(
        f.path(&scenario),
        text.replace("\"ops_per_s\": 200", "\"ops_per_s\": 250"),
    )
    .expect("write");
    let run = f.check(&[&scenario]);
    assert!(
        run.expect_code(1)
            .stdout
            .contains("the scenario changed since the baseline was made (scenario.workload.ops_per_s: 200.0 -> 250.0)"),
        "{}",
        run.stdout
    );
    let run = f.check(&[&scenario, "--tol", "durability.lost_write=0"]);
    assert!(
        run.expect_code(2)
            .stdout
            .contains("did you mean `durability.lost_writes`?"),
        "{}{}",
        run.stdout,
        run.stderr
    );
}

#[test]
fn diff_compares_two_reports_causes_first_without_rerunning() {
    let f = Fixture::new("diff");
    let scenario = f.scenario("tiny.json", "tiny", 7);
    f.check(&[&scenario, "--update"]).expect_code(0);
    let text = std::fs::read_to_string(f.path(&scenario)).expect("read");
    let faster = f.path("scenarios/faster.json");
    std::fs::write(
        &faster,
        text.replace("\"ops_per_s\": 200", "\"ops_per_s\": 250"),
    )
    .expect("write");
    let status = Command::new(env!("CARGO_BIN_EXE_dynasim"))
        .args([
            "run".as_ref(),
            faster.as_os_str(),
            "--quiet".as_ref(),
            "--out".as_ref(),
        ])
        .arg(f.path("faster"))
        .status()
        .expect("dynasim run");
    assert!(status.success());
    let diff = |a: &str, b: &str| {
        Run::from(
            Command::new(env!("CARGO_BIN_EXE_dynasim"))
                .args(["diff", a, b])
                .current_dir(&f.dir)
                .output()
                .expect("dynasim diff"),
        )
    };
    let same = diff("reports/tiny", "reports/tiny/report.json");
    assert!(
        same.expect_code(0).stdout.starts_with("same: digest"),
        "{}",
        same.stdout
    );
    let run = diff("reports/tiny/report.json", "faster");
    run.expect_code(1);
    let cause = run
        .stdout
        .find("scenario.workload.ops_per_s: 200.0 -> 250.0 (+50)");
    let effect = run.stdout.find("\nops (");
    assert!(
        cause.is_some() && effect.is_some() && cause < effect,
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.starts_with("different: digest"),
        "{}",
        run.stdout
    );
    let bad = diff("scenarios/tiny.json", "faster");
    assert!(
        bad.expect_code(2).stderr.contains("not a dynasim report"),
        "{}",
        bad.stderr
    );
}
