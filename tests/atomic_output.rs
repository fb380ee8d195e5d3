//! Every output goes through `report::write_atomic`: a temporary file renamed into place.
//! A write that fails must leave neither a partial target nor a temporary file behind,
//! and must not touch an existing target.

mod common;

use dynasim::report::write_atomic;
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dynasim-atomic-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch folder");
    dir
}

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
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
fn run_with_an_unwritable_output_exits_2_and_writes_nothing() {
    let dir = scratch("cli");
    let mut doc = common::small_scenario();
    common::set(&mut doc, "duration_s", serde_json::json!(1));
    let scenario = dir.join("s.json");
    std::fs::write(&scenario, doc.to_string()).expect("write");
    let blocker = dir.join("out");
    std::fs::write(&blocker, b"x").expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dynasim"))
        .args(["run", "--quiet", "--out"])
        .arg(&blocker)
        .arg(&scenario)
        .output()
        .expect("run dynasim");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot write"), "{stderr}");
    assert_eq!(entries(&dir), vec!["out", "s.json"]);
}
