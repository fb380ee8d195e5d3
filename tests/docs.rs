//! The numbers README.md states are the committed reports' numbers: the set-up's sample
//! output is the baseline's report, and the sweep section's shares are the committed
//! sweep's means. A change that moves them fails here until README is brought along.

use serde_json::Value;

fn read(path: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn json(path: &str) -> Value {
    serde_json::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_readme_sample_output_is_the_committed_baseline() {
    let readme = read("README.md");
    let r = json("reports/baseline/report.json");
    let n = |path: &str| {
        r.pointer(path)
            .and_then(Value::as_u64)
            .unwrap_or_else(|| panic!("{path}"))
    };
    let digest = r["digest"].as_str().expect("digest");
    for line in [
        format!("{} events (digest {digest})", n("/events")),
        format!("reads:  {} attempted", n("/ops/read/attempted")),
        format!("writes: {} attempted", n("/ops/write/attempted")),
        format!(
            "stale reads: {} of {} judged",
            n("/consistency/stale_reads"),
            n("/consistency/judged_reads")
        ),
    ] {
        assert!(
            readme.contains(&line),
            "README's sample output lacks {line:?}"
        );
    }
}

#[test]
fn the_readme_sweep_shares_are_the_committed_sweeps() {
    let readme = read("README.md");
    let sweep = json("reports/sweep-nrw-tuning/sweep.json");
    let mean = |setting: &str, metric: &str| {
        let settings = sweep["settings"].as_array().expect("settings");
        let s = (settings.iter())
            .find(|s| s["id"] == setting)
            .unwrap_or_else(|| panic!("{setting}"));
        s["metrics"][metric]["mean"]
            .as_f64()
            .unwrap_or_else(|| panic!("{setting} {metric}"))
    };
    let percent = |v: f64| format!("{}%", (v * 100.0).round());
    // (the README's words, the setting, the metric)
    let claims = [
        (
            "R=1 keeps {} of reads available",
            "r=1,w=1",
            "read_availability",
        ),
        (
            "they are stale in {} of reads at W=1",
            "r=1,w=1",
            "stale_read_fraction",
        ),
        ("and {} at W=2", "r=1,w=2", "stale_read_fraction"),
        ("({} of\nreads at R=2", "r=2,w=2", "read_availability"),
        ("{} at R=3;", "r=3,w=1", "read_availability"),
    ];
    for (words, setting, metric) in claims {
        let text = words.replace("{}", &percent(mean(setting, metric)));
        assert!(
            readme.contains(&text),
            "README should say {text:?} ({setting} {metric})"
        );
    }
    for setting in [
        "r=1,w=3", "r=2,w=2", "r=2,w=3", "r=3,w=1", "r=3,w=2", "r=3,w=3",
    ] {
        assert_eq!(
            mean(setting, "stale_read_fraction"),
            0.0,
            "README: R+W>N is never stale ({setting})"
        );
    }
}
