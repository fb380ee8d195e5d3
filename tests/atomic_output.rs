//! Every output goes through `report::write_atomic`: a temporary file renamed into place.
//! A write that fails must leave neither a partial target nor a temporary file behind,
//! and must not touch an existing target.

mod common;

use common::Scratch;
use dynasim::report::write_atomic;
use std::path::Path;

fn scratch(name: &str) -> Scratch {
    Scratch::new(&format!("atomic-{name}"))
}

fn entries(dir: &Path) -> Vec<String> {
    common::file_names(dir)
}

/// The small scenario cut to one simulated second, written to `dir/s.json`.
fn one_second_scenario(dir: &Path) -> std::path::PathBuf {
    let mut doc = common::small_scenario();
    common::set(&mut doc, "duration_s", serde_json::json!(1));
    let scenario = dir.join("s.json");
    std::fs::write(&scenario, doc.to_string()).expect("write");
    scenario
}

#[test]
fn a_write_replaces_the_target_and_leaves_no_temporary_file() {
    let dir = scratch("ok");
    let target = dir.join("report.json");
    write_atomic(&target, b"old").expect("first write");
    write_atomic(&target, b"new contents").expect("second write");
    assert_eq!(std::fs::read(&target).expect("read"), b"new contents");
    assert_eq!(entries(&dir), vec!["report.json"]);
}

/// A symbolic link is written through: the file it leads to gets the contents, and the
/// link stays a link (a rename over it used to replace it with a plain file).
#[test]
fn a_symbolic_link_is_written_through_and_stays_a_link() {
    let dir = scratch("symlink");
    let real = dir.join("real.json");
    std::fs::write(&real, b"old").expect("write");
    let link = dir.join("link.json");
    std::os::unix::fs::symlink("real.json", &link).expect("symlink");
    write_atomic(&link, b"new contents").expect("write through the link");
    assert!(
        (std::fs::symlink_metadata(&link).expect("link"))
            .file_type()
            .is_symlink(),
        "the link was replaced"
    );
    assert_eq!(std::fs::read(&real).expect("read"), b"new contents");
    assert_eq!(entries(&dir), vec!["link.json", "real.json"]);
}

/// A device such as /dev/null is written in place: renaming a file over it would destroy
/// it (as root, the system's own device node). `run --timings` and `--history` take one.
#[test]
fn a_device_is_written_in_place_and_never_replaced() {
    use std::os::unix::fs::FileTypeExt;
    let null = Path::new("/dev/null");
    let is_device =
        || std::fs::symlink_metadata(null).is_ok_and(|m| m.file_type().is_char_device());
    assert!(is_device());
    write_atomic(null, b"discarded").expect("write to /dev/null");
    assert!(is_device(), "/dev/null was replaced");

    let dir = scratch("device-cli");
    let scenario = one_second_scenario(&dir);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dynasim"))
        .args([
            "run",
            "--quiet",
            "--timings",
            "/dev/null",
            "--history",
            "/dev/null",
            "--out",
        ])
        .arg(dir.join("out"))
        .arg(&scenario)
        .output()
        .expect("run dynasim");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(is_device(), "/dev/null was replaced by the run");
}

#[test]
fn a_parent_that_is_a_file_fails_cleanly() {
    let dir = scratch("parent-file");
    let blocker = dir.join("not-a-folder");
    std::fs::write(&blocker, b"x").expect("write");
    let target = blocker.join("report.json");
    assert!(write_atomic(&target, b"data").is_err());
    assert_eq!(entries(&dir), vec!["not-a-folder"]);
    assert_eq!(std::fs::read(&blocker).expect("read"), b"x");
}

#[test]
fn a_failed_rename_keeps_the_old_target_and_removes_the_temporary_file() {
    // The target is a non-empty folder: the temporary file is written, the rename fails.
    let dir = scratch("rename");
    let target = dir.join("report.json");
    std::fs::create_dir_all(target.join("inside")).expect("folder");
    assert!(write_atomic(&target, b"data").is_err());
    assert_eq!(entries(&dir), vec!["report.json"]);
    assert!(target.join("inside").is_dir());
}

#[test]
fn a_read_only_folder_fails_cleanly() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("read-only");
    let target = dir.join("report.json");
    std::fs::write(&target, b"old").expect("write");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).expect("chmod");
    // Root ignores permissions; then the folder is not read-only and there is nothing to test.
    let probe = dir.join(".probe");
    let writable = std::fs::write(&probe, b"").is_ok();
    let _ = std::fs::remove_file(&probe);
    if !writable {
        assert!(write_atomic(&target, b"new").is_err());
        assert_eq!(std::fs::read(&target).expect("read"), b"old");
        assert_eq!(entries(&dir), vec!["report.json"]);
    }
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn run_or_trace_with_an_unwritable_output_exits_2_and_writes_nothing() {
    let dir = scratch("cli");
    let scenario = one_second_scenario(&dir);
    let blocker = dir.join("out");
    std::fs::write(&blocker, b"x").expect("write");
    for command in [&["run", "--quiet"][..], &["trace", "--key", "1"][..]] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_dynasim"))
            .args(command)
            .arg("--out")
            .arg(&blocker)
            .arg(&scenario)
            .output()
            .expect("run dynasim");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command:?}: {stderr}");
        // Refused before the run or replay (each used to find out after it, the work
        // lost; a trace printed its story first).
        assert!(
            stderr.contains("--out") && stderr.contains("is a file"),
            "{command:?}: {stderr}"
        );
        assert!(out.stdout.is_empty(), "{command:?}: nothing replayed");
        assert_eq!(entries(&dir), vec!["out", "s.json"]);
        assert_eq!(std::fs::read(&blocker).ok().as_deref(), Some(&b"x"[..]));
    }
}

/// Issue 21, item 6: SIGINT or SIGTERM in the middle of a run removes the temporary files
/// of unfinished writes (a history being written, here) and exits 130; before, each
/// interrupted run left its `.tmp-PID-N` files behind.
#[test]
fn an_interrupted_run_removes_its_temporary_files() {
    for signal in ["-INT", "-TERM"] {
        let dir = scratch(&format!("signal{signal}"));
        let mut doc = common::small_scenario();
        common::set(&mut doc, "duration_s", serde_json::json!(3_000));
        common::set(&mut doc, "workload.ops_per_s", serde_json::json!(20_000));
        let scenario = dir.join("s.json");
        std::fs::write(&scenario, doc.to_string()).expect("write");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_dynasim"))
            .args(["run", "--quiet", "--no-memory-check", "--out"])
            .arg(dir.join("out"))
            .arg("--history")
            .arg(dir.join("h.jsonl"))
            .arg(&scenario)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start dynasim");
        // Wait until the history's temporary file exists: the run is under way.
        let started = (0..2_000).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(5));
            entries(&dir).iter().any(|n| n.contains(".tmp-"))
        });
        assert!(started, "no temporary file appeared: {:?}", entries(&dir));
        let killed = std::process::Command::new("kill")
            .arg(signal)
            .arg(child.id().to_string())
            .status()
            .expect("kill");
        assert!(killed.success());
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "{signal}: {stderr}");
        assert!(
            stderr.contains("removed 1 unfinished temporary file"),
            "{stderr}"
        );
        assert_eq!(entries(&dir), vec!["s.json"], "{signal}: left behind");
    }
}

/// A run's folder is vouched for by its manifest, written last: every output with its
/// size and MD5, and the digest.
#[test]
fn a_run_folder_ends_with_a_complete_manifest() {
    let dir = scratch("manifest");
    let mut doc = common::small_scenario();
    common::set(&mut doc, "duration_s", serde_json::json!(1));
    let scenario = dir.join("s.json");
    std::fs::write(&scenario, doc.to_string()).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dynasim"))
        .args(["run", "--quiet", "--out"])
        .arg(dir.join("out"))
        .arg(&scenario)
        .output()
        .expect("run dynasim");
    assert_eq!(out.status.code(), Some(0));
    let text = std::fs::read_to_string(dir.join("out/manifest.json")).expect("manifest");
    let manifest: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("out/report.json")).expect("report"),
    )
    .expect("JSON");
    assert_eq!(manifest["complete"], true);
    assert_eq!(manifest["digest"], report["digest"]);
    let listed: Vec<String> = manifest["files"]
        .as_object()
        .map(|f| f.keys().cloned().collect())
        .unwrap_or_default();
    let mut on_disk = entries(&dir.join("out"));
    on_disk.retain(|n| n != "manifest.json");
    assert_eq!(listed, on_disk);
    for (name, entry) in manifest["files"].as_object().into_iter().flatten() {
        let bytes = std::fs::read(dir.join("out").join(name)).expect("listed file");
        assert_eq!(entry["bytes"], bytes.len(), "{name}");
    }
}

/// A write error part-way through a run's outputs keeps the earlier run whole: every file
/// is written to a temporary name before any is renamed into place. Two ways to break it:
/// summary.md leads, through a symbolic link, into a "folder" that is a file; or a folder
/// stands where summary.md goes (found while staging, before any rename). Before, the
/// new report.json was in place, the manifest said "incomplete", and the earlier complete
/// run was gone.
#[cfg(unix)]
#[test]
fn a_write_error_part_way_keeps_the_earlier_run_whole() {
    for breakage in ["link into a file", "folder"] {
        let dir = scratch(&format!("whole-{}", breakage.len()));
        let scenario = one_second_scenario(&dir);
        let run = |seed: &str| {
            std::process::Command::new(env!("CARGO_BIN_EXE_dynasim"))
                .args(["run", "--quiet", "--seed", seed, "--out"])
                .arg(dir.join("out"))
                .arg(&scenario)
                .output()
                .expect("run dynasim")
        };
        assert_eq!(run("1").status.code(), Some(0));
        let out = dir.join("out");
        let before = |name: &str| std::fs::read(out.join(name)).expect("an output");
        let (report, manifest) = (before("report.json"), before("manifest.json"));
        std::fs::remove_file(out.join("summary.md")).expect("remove");
        if breakage == "folder" {
            std::fs::create_dir(out.join("summary.md")).expect("mkdir");
        } else {
            std::fs::write(dir.join("blocker"), b"a file").expect("write");
            std::os::unix::fs::symlink(dir.join("blocker/summary.md"), out.join("summary.md"))
                .expect("symlink");
        }
        let second = run("2");
        let stderr = String::from_utf8_lossy(&second.stderr);
        assert_eq!(second.status.code(), Some(2), "{breakage}: {stderr}");
        assert!(stderr.contains("summary.md"), "{breakage}: {stderr}");
        assert_eq!(
            before("report.json"),
            report,
            "{breakage}: the earlier report stays"
        );
        assert_eq!(
            before("manifest.json"),
            manifest,
            "{breakage}: and its manifest vouches for it"
        );
        assert!(
            entries(&out).iter().all(|n| !n.contains(".tmp-")),
            "{breakage}: no temporary file is left: {:?}",
            entries(&out)
        );
    }
}

/// A manifest that leads to a pipe (here the run's own standard output) receives its two
/// versions in order: "incomplete" while the files are renamed, the finished one last.
#[cfg(target_os = "linux")]
#[test]
fn a_manifest_written_to_a_pipe_ends_complete() {
    let dir = scratch("manifest-pipe");
    let scenario = one_second_scenario(&dir);
    let out = dir.join("out");
    std::fs::create_dir(&out).expect("mkdir");
    std::os::unix::fs::symlink("/dev/stdout", out.join("manifest.json")).expect("symlink");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_dynasim"))
        .args(["run", "--quiet", "--out"])
        .arg(&out)
        .arg(&scenario)
        .output()
        .expect("run dynasim");
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let text = String::from_utf8_lossy(&run.stdout);
    let docs: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&text)
        .into_iter()
        .collect::<Result<_, _>>()
        .expect("JSON documents");
    let complete: Vec<&serde_json::Value> = docs.iter().map(|d| &d["complete"]).collect();
    assert_eq!(complete, [false, true], "{text}");
    assert!(
        std::fs::symlink_metadata(out.join("manifest.json"))
            .is_ok_and(|m| m.file_type().is_symlink()),
        "the link stays a link"
    );
}
