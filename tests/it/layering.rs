//! The one-way rule of `ARCHITECTURE.md`, checked on the source: along the request path
//! front → gateway → upstream → (registry, profiles) a module imports only modules after it,
//! and the wiring (`cli`, `server`, the admin API) sits on top. Reads every `crate::…` path in
//! `src/` (comments aside) and fails naming the file and the import that points the wrong way.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Top-level modules, from the top of the request path down; a module may import only modules
/// with a greater rank. Modules of equal rank are independent of each other. `config` (settings
/// validated once) sits between the front and the gateway: the front and the wiring read it,
/// and it names the defaults of the layers below. `listener` (connection bounds) and `s3s_errors` (an adapter)
/// are leaves.
const RANKS: &[(&str, u32)] = &[
    ("cli", 0),
    ("server", 1),
    ("admin", 2),
    ("front", 2),
    ("config", 3),
    ("gateway", 4),
    ("upstream", 5),
    ("registry", 6),
    ("profiles", 7),
    ("listener", 8),
    ("s3s_errors", 8),
    ("metrics", 9),
];

fn rank(module: &str) -> Option<u32> {
    RANKS.iter().find(|(m, _)| *m == module).map(|(_, r)| *r)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a line of code names through `crate::` (also inside `use crate::{..}`).
fn imported(line: &str) -> BTreeSet<String> {
    let code = line.split("//").next().unwrap_or("");
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            found.insert(name);
        }
    }
    found
}

#[test]
fn every_module_imports_only_modules_below_it_on_the_request_path() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut wrong = Vec::new();
    let mut unranked = BTreeSet::new();
    for file in &files {
        let rel = file.strip_prefix(&src).unwrap();
        let top = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if top == "lib" || top == "main" {
            continue;
        }
        let Some(own) = rank(&top) else {
            unranked.insert(top);
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for module in imported(line) {
                if module == top {
                    continue;
                }
                match rank(&module) {
                    Some(r) if r > own => {}
                    Some(_) => wrong.push(format!(
                        "{}:{}: {top} imports {module}, which is not below it",
                        rel.display(),
                        n + 1
                    )),
                    None => {
                        unranked.insert(module);
                    }
                }
            }
        }
    }
    assert!(
        unranked.is_empty(),
        "modules without a place on the request path (add them to RANKS): {unranked:?}"
    );
    assert!(
        wrong.is_empty(),
        "imports against the request path:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_import_reader_finds_paths_and_groups() {
    let names = |l: &str| imported(l).into_iter().collect::<Vec<_>>();
    assert_eq!(names("use crate::gateway::Gateway;"), ["gateway"]);
    assert_eq!(
        names("use crate::{config::User, registry::Registry};"),
        ["config", "registry"]
    );
    assert_eq!(
        names("let x = crate::front::service(a); // crate::cli"),
        ["front"]
    );
    assert!(names("let x = 1;").is_empty());
}
