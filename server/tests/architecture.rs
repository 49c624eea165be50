//! The shape of `server/src`, checked: imports run one way (no circle between the crate's
//! top-level modules, nor between the modules of one folder), and SQL lives in `db/`.
//!
//! The graph comes from the source text: every `crate::a::b` and `super::b` outside
//! comments. `lib.rs` wires everything and `main.rs` + `cli/` are the binary's, so they are
//! left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A source file: its module path (`["center", "cases"]`) and its code without comments.
struct Source {
    module: Vec<String>,
    path: String,
    code: String,
}

fn sources() -> Vec<Source> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&root, &mut files);
    files
        .into_iter()
        .filter_map(|file| {
            let rel = file
                .strip_prefix(&root)
                .ok()?
                .to_string_lossy()
                .replace('\\', "/");
            let module: Vec<String> = rel
                .trim_end_matches(".rs")
                .split('/')
                .map(str::to_owned)
                .collect();
            if matches!(module[0].as_str(), "lib" | "main" | "cli") {
                return None;
            }
            let text = std::fs::read_to_string(&file).ok()?;
            Some(Source {
                module,
                path: rel,
                code: strip_comments(&text),
            })
        })
        .collect()
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Drops `//` comments (doc comments name modules in links without importing them) and the
/// unit tests at the end of a file (`#[cfg(test)] mod tests` may reach anywhere).
fn strip_comments(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    text.lines()
        .map(|line| match line.find("//") {
            // Not inside a string: good enough for this crate, whose strings hold no `//`
            // before code on the same line.
            Some(at) if !line[..at].contains('"') => &line[..at],
            _ => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// The modules a file names: `crate::a::b` → `[a, b]`, and in `x/y.rs` `super::b` →
/// `[x, b]`.
fn references(src: &Source) -> BTreeSet<Vec<String>> {
    let mut out = BTreeSet::new();
    let ident = |s: &str| -> String {
        s.chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect()
    };
    for (at, _) in src.code.match_indices("crate::") {
        let rest = &src.code[at + "crate::".len()..];
        let first = ident(rest);
        let second = rest[first.len()..]
            .strip_prefix("::")
            .map(ident)
            .filter(|s| !s.is_empty());
        let mut path = vec![first];
        path.extend(second);
        out.insert(path);
    }
    if src.module.len() > 1 {
        for (at, _) in src.code.match_indices("super::") {
            let name = ident(&src.code[at + "super::".len()..]);
            let mut path = src.module[..src.module.len() - 1].to_vec();
            path.push(name);
            out.insert(path);
        }
    }
    out
}

/// The first cycle in a graph, if any.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        done: &mut BTreeSet<String>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = stack.iter().position(|n| n == node) {
            let mut found = stack[at..].to_vec();
            found.push(node.to_owned());
            return Some(found);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(found) = visit(next, graph, done, stack) {
                return Some(found);
            }
        }
        stack.pop();
        done.insert(node.to_owned());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|node| visit(node, graph, &mut done, &mut Vec::new()))
}

#[test]
fn top_level_modules_import_one_way() {
    let sources = sources();
    let modules: BTreeSet<String> = sources.iter().map(|s| s.module[0].clone()).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for src in &sources {
        let from = &src.module[0];
        for to in references(src) {
            if &to[0] != from && modules.contains(&to[0]) {
                graph.entry(from.clone()).or_default().insert(to[0].clone());
            }
        }
    }
    assert!(
        graph.contains_key("sync") && graph.contains_key("center"),
        "the graph was read: {graph:?}"
    );
    assert_eq!(cycle(&graph), None, "an import circle between modules");
}

#[test]
fn the_modules_of_each_folder_import_one_way() {
    let sources = sources();
    let folders: BTreeSet<String> = sources
        .iter()
        .filter(|s| s.module.len() > 1)
        .map(|s| s.module[0].clone())
        .collect();
    assert!(
        folders.contains("center") && folders.contains("db"),
        "{folders:?}"
    );
    for folder in folders {
        let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for src in sources
            .iter()
            .filter(|s| s.module.len() == 2 && s.module[0] == folder)
        {
            let from = &src.module[1];
            for to in references(src) {
                // A sibling, not the folder's own root module (`super::x` items defined in
                // `center.rs` are the parent's, which every child may use).
                let sibling = to.len() == 2
                    && to[0] == folder
                    && &to[1] != from
                    && sources.iter().any(|s| s.module == to);
                if sibling {
                    graph.entry(from.clone()).or_default().insert(to[1].clone());
                }
            }
        }
        assert_eq!(cycle(&graph), None, "an import circle inside {folder}/");
    }
}

#[test]
fn sql_lives_in_db() {
    let offenders: Vec<String> = sources()
        .iter()
        .filter(|s| s.module[0] != "db")
        .flat_map(|s| {
            s.code
                .lines()
                .enumerate()
                .filter(|(_, line)| {
                    // Errors convert (`sqlx::Error` → `Error`); nothing else of sqlx, no
                    // dialect checks, no SQL text.
                    let sqlx = line
                        .match_indices("sqlx::")
                        .any(|(at, _)| !line[at..].starts_with("sqlx::Error"));
                    sqlx || line.contains("Dialect::") || line.contains("SELECT ")
                })
                .map(|(n, line)| format!("{}:{}: {}", s.path, n + 1, line.trim()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        offenders.is_empty(),
        "SQL outside db/:\n{}",
        offenders.join("\n")
    );
}
