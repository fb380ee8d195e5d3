//! The code map of ARCHITECTURE.md, checked against the code itself: every `crate::`
//! path in src/ is an import arrow; arrows must point down the layers, no two files may
//! import each other through a circle, and no function may grow past the length the
//! style allows without a stated reason. Reads source text only.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules, bottom layer first. A module may use modules of its own layer's
/// position or below, never above. Modules on one line share a layer and must not import
/// each other in both directions (the circle check catches that).
const LAYERS: &[&[&str]] = &[
    &[
        "ids", "vocab", "atomic", "input", "error", "engine", "progress", "console",
    ],
    &["scenario"],
    &["ring", "faults"],
    &["node"],
    &["net"],
    &["observer"],
    &["workload"],
    &["sim"],
    &["guard", "report"],
    &[
        "trace",
        "check",
        "sweep",
        "swarm",
        "reproduce",
        "bench",
        "playground",
        "serve",
    ],
    &["cli"],
];

/// Lines a function may have before it needs a reason (a `// long:` comment in the three
/// lines above it).
const FUNCTION_LINES_MAX: usize = 120;

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn source_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .expect("src/ is readable")
            .map(|e| e.expect("entry").path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|e| e == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut files,
    );
    files
}

/// The file's module path below `src/`: `src/sim/host.rs` -> ["sim", "host"],
/// `src/sim/mod.rs` -> ["sim"].
fn module_path(file: &Path) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let rel = file.strip_prefix(&src).expect("under src/");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if parts
        .last()
        .is_some_and(|l| l == "mod" || l == "lib" || l == "main")
    {
        parts.pop();
    }
    parts
}

/// Source text without comments and string literals (so prose naming a module is no arrow),
/// and without `#[cfg(test)]` modules at the end of a file (tests may reach anywhere).
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(i) => &text[..i],
        None => text,
    };
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let mut in_str = false;
        let mut prev = ' ';
        let mut kept = String::new();
        for c in line.chars() {
            if !in_str && c == '/' && prev == '/' {
                kept.pop();
                break;
            }
            if c == '"' && prev != '\\' {
                in_str = !in_str;
            } else if !in_str {
                kept.push(c);
            }
            prev = c;
        }
        out.push_str(&kept);
        out.push('\n');
    }
    out
}

/// Every `crate::a::b` path in the code, as [a, b] (b only when it is a lowercase module).
fn crate_paths(code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        let mut parts = Vec::new();
        let mut cursor = rest;
        loop {
            let end = cursor
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(cursor.len());
            let ident = &cursor[..end];
            if ident.is_empty() || !ident.starts_with(|c: char| c.is_ascii_lowercase()) {
                break;
            }
            parts.push(ident.to_string());
            cursor = &cursor[end..];
            match cursor.strip_prefix("::") {
                Some(next) => cursor = next,
                None => break,
            }
        }
        if !parts.is_empty() {
            paths.push(parts);
        }
    }
    paths
}

/// `use super::x` inside a module's file: an arrow to the sibling file `x`.
fn super_paths(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("super::") {
        rest = &rest[i + "super::".len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let ident = &rest[..end];
        if ident.starts_with(|c: char| c.is_ascii_lowercase()) {
            out.push(ident.to_string());
        }
    }
    out
}

struct Arrows {
    /// (file module path, imported module path) at the granularity of files.
    edges: BTreeSet<(Vec<String>, Vec<String>)>,
}

fn arrows() -> Arrows {
    let files = source_files();
    let known: BTreeSet<Vec<String>> = files.iter().map(|f| module_path(f)).collect();
    let mut edges = BTreeSet::new();
    for file in &files {
        let from = module_path(file);
        let code = code_of(&std::fs::read_to_string(file).expect("readable"));
        let mut targets: Vec<Vec<String>> = crate_paths(&code);
        // `super::x` in module a::b (a/b.rs or a/b/mod.rs) names a::x.
        if let Some((_, parent)) = from.split_last() {
            for s in super_paths(&code) {
                let mut t = parent.to_vec();
                t.push(s);
                targets.push(t);
            }
        }
        for mut t in targets {
            // The longest prefix that names a file.
            while !t.is_empty() && !known.contains(&t) {
                t.pop();
            }
            if !t.is_empty() && t != from {
                edges.insert((from.clone(), t));
            }
        }
    }
    Arrows { edges }
}

#[test]
fn imports_point_down_the_layers() {
    let mut wrong = Vec::new();
    for (from, to) in &arrows().edges {
        let (Some(f), Some(t)) = (from.first(), to.first()) else {
            continue;
        };
        if f == t {
            continue;
        }
        let (Some(lf), Some(lt)) = (layer_of(f), layer_of(t)) else {
            wrong.push(format!(
                "{} -> {}: a module missing from LAYERS",
                from.join("::"),
                to.join("::")
            ));
            continue;
        };
        if lt > lf {
            wrong.push(format!(
                "{} -> {} runs up the layers",
                from.join("::"),
                to.join("::")
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "arrows against the code map:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn no_import_circles() {
    let arrows = arrows();
    let mut graph: BTreeMap<&Vec<String>, Vec<&Vec<String>>> = BTreeMap::new();
    for (from, to) in &arrows.edges {
        graph.entry(from).or_default().push(to);
    }
    // Files that reach themselves, found by a depth-first search from each file.
    let mut circles = Vec::new();
    for start in graph.keys() {
        let mut stack: Vec<(&Vec<String>, Vec<&Vec<String>>)> = vec![(start, vec![start])];
        let mut seen = BTreeSet::new();
        while let Some((node, path)) = stack.pop() {
            for next in graph.get(node).into_iter().flatten() {
                if next == start {
                    let names: Vec<String> = path.iter().map(|p| p.join("::")).collect();
                    circles.push(format!("{} -> {}", names.join(" -> "), start.join("::")));
                } else if seen.insert(*next) {
                    let mut p = path.clone();
                    p.push(next);
                    stack.push((next, p));
                }
            }
        }
    }
    // Relative paths (`use part::X` in a module root) are not read, so a root using its
    // own parts draws no arrow: parts reaching each other or other modules do.
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn functions_stay_short_or_say_why() {
    let mut long = Vec::new();
    for file in source_files() {
        let text = std::fs::read_to_string(&file).expect("readable");
        let lines: Vec<&str> = text.lines().collect();
        let mut i = 0;
        while i < lines.len() {
            let t = lines[i].trim_start();
            let is_fn = t.starts_with("fn ")
                || t.starts_with("pub fn ")
                || t.starts_with("pub(crate) fn ")
                || t.starts_with("pub(super) fn ");
            if !is_fn || t.ends_with(';') {
                i += 1;
                continue;
            }
            let indent = lines[i].len() - t.len();
            let close = " ".repeat(indent) + "}";
            let end = (i + 1..lines.len())
                .find(|j| lines[*j] == close)
                .unwrap_or(i);
            let length = end - i + 1;
            let reason = (i.saturating_sub(3)..i).any(|j| lines[j].contains("// long:"));
            if length > FUNCTION_LINES_MAX && !reason {
                long.push(format!("{}:{} {} lines", file.display(), i + 1, length));
            }
            i += 1;
        }
    }
    assert!(
        long.is_empty(),
        "functions over {FUNCTION_LINES_MAX} lines without a `// long:` reason:\n{}",
        long.join("\n")
    );
}

/// The honest oracle: the observer judges from its own record, so it may not import the
/// protocol's versioning (clock comparison, merges) nor read a version's clock.
#[test]
fn the_observer_never_reads_the_protocols_clocks() {
    let mut wrong = Vec::new();
    for file in source_files() {
        if module_path(&file).first().map(String::as_str) != Some("observer") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("a source file");
        let code = code_of(&text);
        for (i, line) in code.lines().enumerate() {
            // `.causal` as a field (not the observer's own `causality`).
            let reads_clock = line.match_indices(".causal").any(|(i, m)| {
                (line[i + m.len()..].chars().next())
                    .is_none_or(|c| !c.is_alphanumeric() && c != '_')
            });
            if line.contains("versioning::") || reads_clock {
                wrong.push(format!("{}:{}: {}", file.display(), i + 1, line.trim()));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
