//! `rebucket config example` and `rebucket config check FILE`: the config file's commented
//! example (every key of [`ConfigFile`] with its default) and an offline validator that names
//! the line and column of every error, as `FILE:LINE:COLUMN: error: ...` followed by the line.
//!
//! `check` parses exactly as `serve --config` does (TOML into [`ConfigFile`], unknown keys
//! refused), then applies the checks `serve` makes on the file's values, plus a few on values
//! that `serve` would accept but that cannot work (an empty secret key, an allowlist entry
//! written as a URL). Positions come from the `toml` crate's spans (`toml::Spanned`).

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::config::ConfigFile;

/// The commented example printed by `rebucket config example`.
pub const EXAMPLE: &str = include_str!("../config.example.toml");

/// One finding, with the byte range of the value it is about when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub span: Option<Range<usize>>,
    pub message: String,
}

/// The outcome of checking a text: errors (the file would be refused or cannot work) and
/// warnings (it would start, but probably not as meant).
#[derive(Debug, Default)]
pub struct Report {
    pub errors: Vec<Finding>,
    pub warnings: Vec<Finding>,
}

/// The same file again, with the position of every value that gets a check of its own.
#[derive(Deserialize)]
struct Positions {
    #[serde(default)]
    users: Vec<Spanned<UserPositions>>,
    admin_token_file: Option<Spanned<PathBuf>>,
    #[serde(default)]
    domains: Vec<Spanned<String>>,
    endpoint_allowlist: Option<Spanned<Vec<Spanned<String>>>>,
    connect_timeout_ms: Option<Spanned<u64>>,
    post_object_max_bytes: Option<Spanned<u64>>,
    registry: Option<Spanned<String>>,
}

#[derive(Deserialize)]
struct UserPositions {
    access_key: Spanned<String>,
    secret_key: Spanned<String>,
}

fn at<T>(v: &Spanned<T>, message: String) -> Finding {
    Finding {
        span: Some(v.span()),
        message,
    }
}

/// Why `serve` refuses a `domains` entry, if it does.
fn domain_problem(d: &str) -> Option<String> {
    (d.contains('/') || d.is_empty())
        .then(|| format!("domain {d:?}: expected a host name, not a URL"))
}

/// Checks a config file's text. A relative `admin_token_file` is read from the working
/// directory, as `serve` reads it.
pub fn check_text(text: &str) -> Report {
    let mut report = Report::default();
    let file = match toml::from_str::<ConfigFile>(text) {
        Ok(file) => file,
        Err(e) => {
            report.errors.push(Finding {
                span: e.span(),
                message: e.message().trim().to_owned(),
            });
            return report;
        }
    };
    let pos: Positions = match toml::from_str(text) {
        Ok(p) => p,
        Err(e) => {
            report.errors.push(Finding {
                span: e.span(),
                message: e.message().trim().to_owned(),
            });
            return report;
        }
    };
    for d in &pos.domains {
        if let Some(problem) = domain_problem(d.get_ref()) {
            report.errors.push(at(d, problem));
        }
    }
    let mut seen: Vec<&str> = Vec::new();
    for u in &pos.users {
        let u = u.get_ref();
        let key = u.access_key.get_ref();
        if key.trim().is_empty() {
            report
                .errors
                .push(at(&u.access_key, "users: empty access_key".into()));
        } else if seen.contains(&key.as_str()) {
            report.errors.push(at(
                &u.access_key,
                format!("users: access_key {key:?} is listed twice"),
            ));
        }
        seen.push(key);
        if u.secret_key.get_ref().trim().is_empty() {
            report.errors.push(at(
                &u.secret_key,
                format!("users: empty secret_key for access_key {key:?}"),
            ));
        }
    }
    if let Some(list) = &pos.endpoint_allowlist {
        if list.get_ref().is_empty() {
            report.warnings.push(at(
                list,
                "endpoint_allowlist is empty: no bucket may set extra.aws.endpoint".into(),
            ));
        }
        for entry in list.get_ref() {
            let e = entry.get_ref().trim();
            if e.is_empty() || e.contains('/') {
                report.errors.push(at(
                    entry,
                    format!(
                        "endpoint_allowlist entry {:?}: expected \"host\" or \"host:port\", not a URL",
                        entry.get_ref()
                    ),
                ));
            }
        }
    }
    if let Some(t) = &pos.connect_timeout_ms
        && *t.get_ref() == 0
    {
        report.errors.push(at(
            t,
            "connect_timeout_ms = 0: every upstream connection would time out".into(),
        ));
    }
    if let Some(m) = &pos.post_object_max_bytes
        && *m.get_ref() == 0
    {
        report.warnings.push(at(
            m,
            "post_object_max_bytes = 0: every POST-form (browser) upload is refused".into(),
        ));
    }
    let registry_at = |message: String| Finding {
        span: pos.registry.as_ref().map(Spanned::span),
        message,
    };
    match crate::config::SharedRegistry::from_file(&file, Path::new("<data-dir>")) {
        Err(e) => report.errors.push(registry_at(e.to_string())),
        Ok(Some(_)) => {
            if file.users.is_empty() {
                report.warnings.push(registry_at(
                    "registry is shared but no [[users]] are listed: `serve` refuses to start \
                     unless REBUCKET_ACCESS_KEY and REBUCKET_SECRET_KEY are set (front keys are \
                     never generated per replica)"
                        .into(),
                ));
            }
            if file.admin_token_file.is_none() {
                report.warnings.push(registry_at(
                    "registry is shared but admin_token_file is not set: `serve` refuses to \
                     start unless REBUCKET_ADMIN_TOKEN is set (the admin token is never \
                     generated per replica)"
                        .into(),
                ));
            }
        }
        Ok(None) => {}
    }
    if let Some(f) = &pos.admin_token_file {
        match std::fs::read_to_string(f.get_ref()) {
            Ok(t) if t.trim().is_empty() => report.errors.push(at(
                f,
                format!(
                    "admin_token_file {}: the file is empty",
                    f.get_ref().display()
                ),
            )),
            Ok(_) => {}
            // Checked on another machine than the one that runs it, it may well be missing.
            Err(e) => report.warnings.push(at(
                f,
                format!(
                    "admin_token_file {}: {e} (here; `serve` refuses to start unless it is \
                     readable where it runs, or REBUCKET_ADMIN_TOKEN is set)",
                    f.get_ref().display()
                ),
            )),
        }
    }
    report
}

/// 1-based line and column (in characters) of byte offset `at` of `text`.
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = &text[..text.floor_char_boundary(at)];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit_once('\n')
        .map_or(before, |(_, l)| l)
        .chars()
        .count()
        + 1;
    (line, col)
}

/// `FILE:LINE:COL: KIND: MESSAGE`, then the line and a caret under the column.
pub fn render(file: &str, text: &str, kind: &str, f: &Finding) -> String {
    let message = f
        .message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    let Some(span) = &f.span else {
        return format!("{file}: {kind}: {message}");
    };
    let (line, col) = line_col(text, span.start);
    let source = text.lines().nth(line - 1).unwrap_or("");
    format!(
        "{file}:{line}:{col}: {kind}: {message}\n{line:>5} | {source}\n      | {}^",
        " ".repeat(col - 1)
    )
}

/// Checks the file at `path`: `Ok(warnings)` when `serve` would accept it, else `Err` with every
/// error (and warning), each rendered with its position.
pub fn check_file(path: &Path) -> Result<Vec<String>, String> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{name}: error: {e}"))?;
    let report = check_text(&text);
    let warnings: Vec<String> = report
        .warnings
        .iter()
        .map(|w| render(&name, &text, "warning", w))
        .collect();
    if report.errors.is_empty() {
        return Ok(warnings);
    }
    let mut out: Vec<String> = report
        .errors
        .iter()
        .map(|e| render(&name, &text, "error", e))
        .collect();
    out.extend(warnings);
    Err(out.join("\n"))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::config::{ServeArgs, ServeConfig, User};

    /// Names every field of `$ty` in a pattern without `..` (so adding a field to the struct
    /// breaks this until it is named here) and yields the names as strings.
    macro_rules! all_fields {
        ($ty:ident { $($field:ident),* $(,)? }) => {{
            #[allow(dead_code)]
            fn exhaustive(v: $ty) {
                let $ty { $($field: _),* } = v;
            }
            vec![$(stringify!($field)),*]
        }};
    }

    /// The example with every `#key = ...` / `#[[table]]` line switched on.
    fn example_uncommented() -> String {
        EXAMPLE
            .lines()
            .map(|l| match l.strip_prefix('#') {
                Some(rest) if rest.starts_with(|c: char| c.is_ascii_lowercase() || c == '[') => {
                    rest
                }
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn keys_of(table: &toml::Table) -> Vec<String> {
        let mut k: Vec<String> = table.keys().cloned().collect();
        k.sort();
        k
    }

    #[test]
    fn example_passes_check_as_printed_and_uncommented() {
        let r = check_text(EXAMPLE);
        assert!(r.errors.is_empty() && r.warnings.is_empty(), "{r:?}");
        let full = example_uncommented();
        let r = check_text(&full);
        assert!(r.errors.is_empty(), "{r:?}");
        // Only the admin_token_file warning: /etc/rebucket/admin-token does not exist here.
        assert!(r.warnings.len() <= 1, "{r:?}");
    }

    #[test]
    fn example_names_every_field_of_the_config_file() {
        let full = example_uncommented();
        // deny_unknown_fields: every key the example names is a real field.
        let parsed: ConfigFile = toml::from_str(&full).expect("uncommented example parses");
        let table: toml::Table = toml::from_str(&full).unwrap();
        let mut want = all_fields!(ConfigFile {
            users,
            allow_anonymous,
            allow_credential_process,
            admin_token_file,
            domains,
            endpoint_allowlist,
            connect_timeout_ms,
            post_object_max_bytes,
            header_read_timeout_ms,
            idle_timeout_ms,
            body_idle_timeout_ms,
            max_connections,
            max_headers,
            max_header_bytes,
            upstream_first_byte_timeout_ms,
            upstream_idle_timeout_ms,
            allow_link_local,
            ready_checks_upstream,
            discovery_per_second,
            lean_path,
            post_object_memory_bytes,
            embedded_fallback,
            registry,
            registry_endpoint,
            registry_profile,
            registry_cache,
            registry_poll_ms,
        });
        want.sort();
        assert_eq!(keys_of(&table), want, "top-level keys of the example");
        let mut user_fields = all_fields!(User {
            access_key,
            secret_key
        });
        user_fields.sort();
        let user = table["users"].as_array().unwrap()[0].as_table().unwrap();
        assert_eq!(keys_of(user), user_fields);
        // Every optional field is populated by the uncommented example.
        assert!(parsed.admin_token_file.is_some() && parsed.endpoint_allowlist.is_some());
        assert!(parsed.connect_timeout_ms.is_some() && parsed.post_object_max_bytes.is_some());
        assert_eq!(parsed.users.len(), 1);
    }

    #[test]
    fn example_values_are_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("example.toml");
        std::fs::write(&file, EXAMPLE).unwrap();
        let build = |config: Option<PathBuf>, data: &str| {
            let args = ServeArgs {
                listen: "127.0.0.1:0".parse().unwrap(),
                admin_listen: "127.0.0.1:0".parse().unwrap(),
                data_dir: dir.path().join(data),
                config,
                domain: vec![],
                log_format: Default::default(),
                metrics_listen: None,
            };
            ServeConfig::build(args, &HashMap::new()).unwrap()
        };
        let with = build(Some(file), "a");
        let without = build(None, "b");
        assert_eq!(with.allow_anonymous, without.allow_anonymous);
        assert_eq!(
            with.allow_credential_process,
            without.allow_credential_process
        );
        assert_eq!(with.domains, without.domains);
        assert_eq!(with.endpoint_allowlist, without.endpoint_allowlist);
        assert_eq!(with.connect_timeout, without.connect_timeout);
        assert_eq!(with.post_object_max_bytes, without.post_object_max_bytes);
        assert_eq!(with.generated_keys, without.generated_keys);
    }

    #[test]
    fn serve_help_lists_every_key_of_the_example() {
        let table: toml::Table = toml::from_str(&example_uncommented()).unwrap();
        for key in table.keys() {
            assert!(
                crate::cli::help::SERVE.contains(key.as_str()),
                "serve --help misses {key}"
            );
        }
    }

    #[test]
    fn a_shared_registry_is_checked_where_it_is_written() {
        let text = "domains = []\nregistry = \"rebucket-config/registry.json\"\n";
        let r = check_text(text);
        assert_eq!(r.errors.len(), 1, "{r:?}");
        let shown = render("f.toml", text, "error", &r.errors[0]);
        assert!(
            shown.starts_with("f.toml:2:12: error: registry = "),
            "{shown}"
        );
        assert!(shown.contains("expected s3://BUCKET/KEY"), "{shown}");

        // Valid, but `serve` would need the keys and token from the environment.
        let r = check_text("registry = \"s3://rebucket-config/registry.json\"\n");
        assert!(r.errors.is_empty(), "{r:?}");
        let warned: Vec<&str> = r.warnings.iter().map(|w| w.message.as_str()).collect();
        assert!(
            warned.iter().any(|w| w.contains("REBUCKET_ACCESS_KEY")),
            "{warned:?}"
        );
        assert!(
            warned.iter().any(|w| w.contains("REBUCKET_ADMIN_TOKEN")),
            "{warned:?}"
        );

        let r = check_text("registry_endpoint = \"http://127.0.0.1:8333\"\n");
        assert!(r.errors[0].message.contains("need registry"), "{r:?}");
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let text = "allow_anonymous = false\nconnect_timeout_ms = \"fast\"\n";
        let r = check_text(text);
        assert_eq!(r.errors.len(), 1);
        let shown = render("f.toml", text, "error", &r.errors[0]);
        assert!(shown.starts_with("f.toml:2:22: error: "), "{shown}");
        assert!(shown.contains("connect_timeout_ms = \"fast\""), "{shown}");

        let text = "domains = []\nallow_anonymus = true\n";
        let shown = render("f.toml", text, "error", &check_text(text).errors[0]);
        assert!(
            shown.starts_with("f.toml:2:1: error: unknown field `allow_anonymus`"),
            "{shown}"
        );

        let text = "allow_anonymous = yes\n";
        let shown = render("f.toml", text, "error", &check_text(text).errors[0]);
        assert!(shown.starts_with("f.toml:1:19: error: "), "{shown}");
    }

    #[test]
    fn value_errors_name_their_line() {
        let text = "domains = [\n  \"s3.example.test\",\n  \"https://s3.example.test\",\n]\n\
                    endpoint_allowlist = [\"http://minio:9000\"]\n\
                    connect_timeout_ms = 0\n\
                    [[users]]\naccess_key = \"A\"\nsecret_key = \"\"\n\
                    [[users]]\naccess_key = \"A\"\nsecret_key = \"s\"\n";
        let r = check_text(text);
        let lines: Vec<usize> = r
            .errors
            .iter()
            .map(|f| line_col(text, f.span.clone().unwrap().start).0)
            .collect();
        assert_eq!(lines, vec![3, 9, 11, 5, 6], "{r:?}");
        assert!(r.errors[0].message.contains("not a URL"));
        assert!(r.errors[1].message.contains("empty secret_key"));
        assert!(r.errors[2].message.contains("listed twice"));
    }

    #[test]
    fn missing_secret_key_is_an_error() {
        let r = check_text("[[users]]\naccess_key = \"A\"\n");
        assert_eq!(r.errors.len(), 1);
        assert!(r.errors[0].message.contains("secret_key"), "{r:?}");
    }

    #[test]
    fn domain_rule_matches_serve() {
        let dir = tempfile::tempdir().unwrap();
        for d in ["s3.example.test", "http://x", "", "a/b", "localhost:8080"] {
            let args = ServeArgs {
                listen: "127.0.0.1:0".parse().unwrap(),
                admin_listen: "127.0.0.1:0".parse().unwrap(),
                data_dir: dir.path().to_owned(),
                config: None,
                domain: vec![d.to_owned()],
                log_format: Default::default(),
                metrics_listen: None,
            };
            let serve_refuses = ServeConfig::build(args, &HashMap::new()).is_err();
            assert_eq!(domain_problem(d).is_some(), serve_refuses, "{d:?}");
        }
    }

    #[test]
    fn line_col_counts_characters() {
        assert_eq!(line_col("a\nbé = 1", 6), (2, 4));
        assert_eq!(line_col("x", 0), (1, 1));
    }
}
