//! The import graph between top-level modules: no cycles, and dependencies point down the
//! layers (house style, `docs/ARCHITECTURE.md`).
//!
//! Every `.rs` file under `src/` belongs to its top-level module (`src/x.rs` and `src/x/**`
//! to `x`; `lib.rs` and `main.rs` to themselves). Its edges are the modules it names as
//! `crate::x` or `obscura::x` (including inside `use crate::{x, y::z}` groups), outside
//! comments and test code (an inline `#[cfg(test)] mod tests { .. }`, which ends the file's
//! code, and `tests.rs` files; test code may use `synth` for ground truth).
//!
//! The rules:
//! 1. **No cycle** between top-level modules.
//! 2. **Leaves** (`error`, `cpu`, `io`, `image`, `color`, `demosaic`) import only leaves.
//! 3. **Layers**: a module imports only modules earlier in [`LAYERS`] (the stage order
//!    decode -> burst -> align -> merge -> finish -> look -> encode, then the tools and
//!    orchestrators). In particular `merge` does not import `finish`, and no module imports
//!    `cli`.
//! 4. Only `cli`, `batch`, `lib.rs` and `main.rs` may import `pipeline` or `cli`.
//! 5. The edges in [`FORBIDDEN`], although they point down: `look` does not import `finish`
//!    (a look colours a rendered image, whatever made it; that edge made the old
//!    `look` <-> `finish` cycle).
//!
//! Edges that break a rule today and are known are listed in [`ALLOWED`] with the reason;
//! the test fails both on a new violation and on an allowed edge that has gone (so the list
//! stays the current state).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level modules, lowest first. A module may import only modules before it.
const LAYERS: &[&str] = &[
    // leaves
    "error",
    "cpu",
    "io",
    "image",
    "color",
    "demosaic",
    // stages, in pipeline order
    "raw",
    "burst",
    "align",
    "merge",
    "finish",
    "look",
    "encode",
    // tools built on the stages
    "synth",
    "diagnostics",
    // orchestration and the binary
    "pipeline",
    "batch",
    "cli",
    "main",
    "lib",
];

/// The leaves: they import no stage.
const LEAVES: &[&str] = &["error", "cpu", "io", "image", "color", "demosaic"];

/// Modules that may import `pipeline` and `cli`.
const ORCHESTRATORS: &[&str] = &["cli", "batch", "lib", "main"];

/// Edges forbidden although they point down the layers.
const FORBIDDEN: &[(&str, &str)] = &[("look", "finish")];

/// Known violations, pinned: (from, to, why).
const ALLOWED: &[(&str, &str, &str)] = &[(
    "finish",
    "look",
    "FinishParams::with_look / set_look read a Look's tone-mapping and sharpening settings \
     (the data type only); the look's colour, vignette and grain are the look stage's, \
     applied after finish (look::compile, look::apply)",
)];

type Graph = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

/// The top-level module of a path relative to `src/`.
fn module_of(rel: &Path) -> String {
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_string_lossy();
    first.trim_end_matches(".rs").to_string()
}

/// The code of a file without comments and without its trailing inline test module (an
/// out-of-line `mod tests;` is a file of its own, skipped by name).
fn code_of(text: &str) -> String {
    let mut out = String::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        let t = line.trim();
        if t == "#[cfg(test)]"
            && lines
                .peek()
                .is_some_and(|n| n.trim_start().starts_with("mod tests {"))
        {
            break;
        }
        if t.starts_with("//") {
            continue;
        }
        // a trailing comment (a `//` inside a string literal cuts it short, harmlessly: no
        // path of this crate follows one)
        out.push_str(line.split("//").next().unwrap_or(""));
        out.push('\n');
    }
    out
}

fn ident_at(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The top-level modules `code` names.
fn references(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for prefix in ["crate::", "obscura::"] {
        for (at, _) in code.match_indices(prefix) {
            // a whole path, not the tail of another identifier (`my_crate::`)
            let before = code[..at].chars().next_back();
            if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                continue;
            }
            let rest = &code[at + prefix.len()..];
            if let Some(group) = rest.strip_prefix('{') {
                // `crate::{a, b::c, d::{e, f}}`: the first identifier of each top-level item
                let mut depth = 0;
                let mut start = true;
                for (i, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => break,
                        '}' => depth -= 1,
                        ',' if depth == 0 => start = true,
                        c if start && (c.is_ascii_alphabetic() || c == '_') => {
                            out.insert(ident_at(&group[i..]).to_string());
                            start = false;
                        }
                        _ => {}
                    }
                }
            } else {
                let id = ident_at(rest);
                if !id.is_empty() {
                    out.insert(id.to_string());
                }
            }
        }
    }
    out
}

/// The import graph of the crate's `src/`: from -> to -> files.
fn graph(src: &Path) -> Graph {
    let mut g = Graph::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|x| x != "rs")
                || path.file_name().is_some_and(|n| n == "tests.rs")
            {
                continue;
            }
            let rel = path.strip_prefix(src).unwrap();
            let from = module_of(rel);
            let text = std::fs::read_to_string(&path).unwrap();
            let node = g.entry(from.clone()).or_default();
            for to in references(&code_of(&text)) {
                // `crate::Error` and other re-exports at the root name no module
                if to != from && LAYERS.contains(&to.as_str()) {
                    node.entry(to)
                        .or_default()
                        .insert(rel.display().to_string());
                }
            }
        }
    }
    g
}

/// A cycle of the graph, if it has one (as the list of its modules, first repeated last).
fn find_cycle(g: &Graph) -> Option<Vec<String>> {
    // depth-first search; 1 = on the current path, 2 = done
    fn visit(
        n: &str,
        g: &Graph,
        state: &mut BTreeMap<String, u8>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(n.to_string(), 1);
        path.push(n.to_string());
        for m in g.get(n).into_iter().flat_map(|e| e.keys()) {
            match state.get(m.as_str()) {
                Some(1) => {
                    let at = path.iter().position(|p| p == m).unwrap();
                    let mut c = path[at..].to_vec();
                    c.push(m.clone());
                    return Some(c);
                }
                Some(_) => {}
                None => {
                    if let Some(c) = visit(m, g, state, path) {
                        return Some(c);
                    }
                }
            }
        }
        path.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in g.keys() {
        if !state.contains_key(n.as_str())
            && let Some(c) = visit(n, g, &mut state, &mut Vec::new())
        {
            return Some(c);
        }
    }
    None
}

/// Every edge that breaks rule 2, 3, 4 or 5, with the files that make it.
fn violations(g: &Graph) -> Vec<(String, String, String)> {
    let rank = |m: &str| LAYERS.iter().position(|l| *l == m);
    let mut out = Vec::new();
    for (from, tos) in g {
        for (to, files) in tos {
            let why = if rank(from).is_none() {
                Some("a module missing from LAYERS".to_string())
            } else if LEAVES.contains(&from.as_str()) && !LEAVES.contains(&to.as_str()) {
                Some("a leaf imports a stage".to_string())
            } else if (to == "pipeline" || to == "cli") && !ORCHESTRATORS.contains(&from.as_str()) {
                Some(format!("only {ORCHESTRATORS:?} may import {to}"))
            } else if rank(to) >= rank(from) {
                Some("an import up the layers".to_string())
            } else if FORBIDDEN.contains(&(from.as_str(), to.as_str())) {
                Some("a forbidden edge".to_string())
            } else {
                None
            };
            if let Some(why) = why {
                let files: Vec<&str> = files.iter().map(String::as_str).collect();
                out.push((
                    from.clone(),
                    to.clone(),
                    format!("{why} ({})", files.join(", ")),
                ));
            }
        }
    }
    out
}

#[test]
fn the_import_graph_has_no_cycle_and_points_down_the_layers() {
    let g = graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    // the graph is really read: the stages are there, with their known edges
    for (a, b) in [
        ("merge", "demosaic"),
        ("finish", "color"),
        ("look", "color"),
    ] {
        assert!(
            g.get(a).is_some_and(|e| e.contains_key(b)),
            "{a} -> {b} not found"
        );
    }
    if let Some(c) = find_cycle(&g) {
        panic!("import cycle: {}", c.join(" -> "));
    }
    let found = violations(&g);
    let new: Vec<String> = found
        .iter()
        .filter(|(a, b, _)| !ALLOWED.iter().any(|(x, y, _)| a == x && b == y))
        .map(|(a, b, why)| format!("{a} -> {b}: {why}"))
        .collect();
    assert!(new.is_empty(), "forbidden imports:\n{}", new.join("\n"));
    let gone: Vec<String> = ALLOWED
        .iter()
        .filter(|(x, y, _)| !found.iter().any(|(a, b, _)| a == x && b == y))
        .map(|(x, y, _)| format!("{x} -> {y}"))
        .collect();
    assert!(
        gone.is_empty(),
        "allowed edges no longer present (remove them from ALLOWED): {gone:?}"
    );
}

fn synthetic(edges: &[(&str, &str)]) -> Graph {
    let mut g = Graph::new();
    for (a, b) in edges {
        g.entry(a.to_string())
            .or_default()
            .entry(b.to_string())
            .or_default()
            .insert(format!("src/{a}.rs"));
    }
    g
}

#[test]
fn the_rules_reject_cycles_and_forbidden_edges() {
    // a cycle through three modules is found
    let g = synthetic(&[("finish", "look"), ("look", "color"), ("color", "finish")]);
    let c = find_cycle(&g).expect("cycle");
    assert_eq!(c.first(), c.last());
    assert_eq!(c.len(), 4);
    assert!(find_cycle(&synthetic(&[("merge", "demosaic"), ("finish", "demosaic")])).is_none());
    // forbidden edges
    let bad = |a: &str, b: &str| !violations(&synthetic(&[(a, b)])).is_empty();
    assert!(bad("color", "finish")); // a leaf importing a stage
    assert!(bad("demosaic", "merge"));
    assert!(bad("merge", "finish"));
    assert!(bad("look", "finish"));
    assert!(bad("encode", "pipeline"));
    assert!(bad("finish", "cli"));
    assert!(bad("novel", "error")); // unknown module
    assert!(!bad("merge", "demosaic"));
    assert!(!bad("batch", "pipeline"));
    assert!(!bad("main", "cli"));
}

#[test]
fn references_are_parsed_from_paths_and_groups() {
    let code = code_of(
        "use crate::color::{self, D65_XY};\n\
         use crate::{demosaic::Demosaic, image::{Plane, Rect}, error};\n\
         // use crate::cli::Args;\n\
         /// [`crate::pipeline`]\n\
         let x = crate::finish::srgb(1.0); // crate::look\n\
         use obscura::merge;\n\
         fn f() { my_crate::align::x(); }\n\
         #[cfg(test)]\n\
         mod tests {\n    use crate::synth;\n}\n",
    );
    let got: Vec<String> = references(&code).into_iter().collect();
    assert_eq!(
        got,
        ["color", "demosaic", "error", "finish", "image", "merge"]
    );
}
