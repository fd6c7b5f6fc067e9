//! Parsing one shared file and merging the two files into a [`ProfileSet`] ([file format](https://docs.aws.amazon.com/sdkref/latest/guide/file-format.html)).
//!
//! Pipeline per file:
//! 1. [`grammar::scan`] runs the AWS line grammar and reports hard errors with their line.
//! 2. The result is written out as a canonical INI document in which every header, name and
//!    value is percent-encoded down to characters `rust-ini` treats as plain text, and read
//!    back with `rust-ini` (`Ini::iter` / `Properties::iter`, so duplicate sections and keys
//!    come back in file order). `rust-ini` alone cannot implement the AWS grammar (see
//!    `fixtures/aws-config-vectors/SPEC.md`, "Notes on rust-ini"), so it is used as the
//!    section/property store this project chose, never as the grammar.
//! 3. Section headers are interpreted for the file kind (`[profile x]` vs `[x]`,
//!    `[sso-session x]`, `[services x]`, `[default]` vs `[profile default]`), invalid names are
//!    skipped with a warning, and repeated sections/keys merge with the last one winning.
//!
//! Across files, the credentials file wins key by key; SSO sessions and services come from the
//! config file only.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use ini::{Ini, ParseOption};

use super::grammar::{self, RawSection, WHITESPACE};
use super::{ProfileError, ProfileSet};

/// Which of the two shared files a text came from; the section rules differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `~/.aws/config`: `[default]`, `[profile x]`, `[sso-session x]`, `[services x]`.
    Config,
    /// `~/.aws/credentials`: `[x]` only.
    Credentials,
}

type Props = BTreeMap<String, String>;

/// The sections of one file after interpretation and in-file merging.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedFile {
    pub profiles: BTreeMap<String, Props>,
    pub sso_sessions: BTreeMap<String, Props>,
    pub services: BTreeMap<String, Props>,
}

/// The characters besides ASCII letters and digits that identifiers (profile, section and
/// property names) may hold.
pub const IDENTIFIER_PUNCTUATION: &str = "_-/.%@:+";

/// Whether `c` may appear in an identifier: `[A-Za-z0-9_\-/.%@:+]`.
pub fn is_identifier_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || IDENTIFIER_PUNCTUATION.contains(c)
}

/// Whether `s` is a valid identifier: `[A-Za-z0-9_\-/.%@:+]+`.
pub fn is_valid_identifier(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_identifier_char)
}

fn percent_encode(s: &str, out: &mut String) {
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_./@+".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Writes the scanned sections as a canonical INI document for `rust-ini`.
fn to_canonical_ini(sections: &[RawSection]) -> String {
    let mut out = String::new();
    for section in sections {
        out.push('[');
        percent_encode(&section.header, &mut out);
        out.push_str("]\n");
        for (name, value) in &section.properties {
            percent_encode(name, &mut out);
            out.push('=');
            percent_encode(value, &mut out);
            out.push('\n');
        }
    }
    out
}

/// Reads the canonical document back through `rust-ini`.
fn through_rust_ini(sections: &[RawSection]) -> Result<Vec<RawSection>, String> {
    let opts = ParseOption {
        enabled_quote: false,
        enabled_escape: false,
        enabled_indented_mutiline_value: false,
        ..ParseOption::default()
    };
    let doc =
        Ini::load_from_str_opt(&to_canonical_ini(sections), opts).map_err(|e| e.to_string())?;
    let decode = |s: &str| {
        percent_decode(s).ok_or_else(|| format!("rust-ini returned an unexpected token {s:?}"))
    };
    let mut out = Vec::new();
    for (name, props) in doc.iter() {
        let Some(name) = name else { continue };
        let properties = props
            .iter()
            .map(|(k, v)| Ok((decode(k)?, decode(v)?)))
            .collect::<Result<Vec<_>, String>>()?;
        out.push(RawSection {
            header: decode(name)?,
            properties,
        });
    }
    Ok(out)
}

/// A header split at its first run of whitespace into `prefix` and `name`.
struct SectionKey<'a> {
    prefix: Option<&'a str>,
    name: &'a str,
}

impl<'a> SectionKey<'a> {
    fn parse(header: &'a str) -> Self {
        let header = header.trim_matches(WHITESPACE);
        match header.split_once(WHITESPACE) {
            Some((prefix, name)) => SectionKey {
                prefix: Some(prefix.trim_matches(WHITESPACE)),
                name: name.trim_matches(WHITESPACE),
            },
            None => SectionKey {
                prefix: None,
                name: header,
            },
        }
    }
}

/// Where a section's properties go.
enum Target<'a> {
    Profile(&'a str),
    SsoSession(&'a str),
    Services(&'a str),
}

fn classify<'a>(key: &SectionKey<'a>, kind: FileKind, path: &Path) -> Option<Target<'a>> {
    let name = key.name;
    match (kind, key.prefix) {
        (FileKind::Config, Some(prefix)) if !is_valid_identifier(name) => {
            tracing::warn!(file = %path.display(), "section [{prefix} {name}] ignored: `{name}` is not a valid identifier");
            None
        }
        (FileKind::Config, Some("profile")) => Some(Target::Profile(name)),
        (FileKind::Config, Some("sso-session")) => Some(Target::SsoSession(name)),
        (FileKind::Config, Some("services")) => Some(Target::Services(name)),
        (FileKind::Config, Some(prefix)) => {
            tracing::debug!(file = %path.display(), "section [{prefix} {name}] ignored: not used by rebucket");
            None
        }
        (FileKind::Config, None) if name == "default" => Some(Target::Profile(name)),
        (FileKind::Config, None) => {
            tracing::warn!(file = %path.display(), "section [{name}] ignored: sections in the config file other than [default] need a prefix, e.g. [profile {name}]");
            None
        }
        (FileKind::Credentials, Some(prefix)) => {
            tracing::warn!(file = %path.display(), "section [{prefix} {name}] ignored: sections in the credentials file have no prefix");
            None
        }
        (FileKind::Credentials, None) if !is_valid_identifier(name) => {
            tracing::warn!(file = %path.display(), "profile [{name}] ignored: `{name}` is not a valid identifier");
            None
        }
        (FileKind::Credentials, None) => Some(Target::Profile(name)),
    }
}

/// Parses the text of one file. `path` is only used in errors and warnings.
pub fn parse_file(text: &str, path: &Path, kind: FileKind) -> Result<ParsedFile, ProfileError> {
    let scanned = grammar::scan(text).map_err(|e| ProfileError::Parse {
        path: path.to_owned(),
        line: e.line,
        message: e.message,
    })?;
    let sections = through_rust_ini(&scanned).map_err(|message| ProfileError::Parse {
        path: path.to_owned(),
        line: 0,
        message,
    })?;
    debug_assert_eq!(sections, scanned, "rust-ini transport must be lossless");

    let keys: Vec<SectionKey<'_>> = sections
        .iter()
        .map(|s| SectionKey::parse(&s.header))
        .collect();
    let has_prefixed_default = kind == FileKind::Config
        && keys
            .iter()
            .any(|k| k.prefix == Some("profile") && k.name == "default");

    let mut parsed = ParsedFile::default();
    for (key, section) in keys.iter().zip(&sections) {
        let Some(target) = classify(key, kind, path) else {
            continue;
        };
        if has_prefixed_default && key.prefix.is_none() && key.name == "default" {
            tracing::warn!(file = %path.display(), "[default] ignored because [profile default] takes priority");
            continue;
        }
        let (map, name) = match target {
            Target::Profile(n) => (&mut parsed.profiles, n),
            Target::SsoSession(n) => (&mut parsed.sso_sessions, n),
            Target::Services(n) => (&mut parsed.services, n),
        };
        let props = map.entry(name.to_owned()).or_default();
        for (k, v) in &section.properties {
            if is_valid_identifier(k) {
                props.insert(k.clone(), v.clone());
            } else {
                tracing::warn!(file = %path.display(), section = %section.header, "property `{k}` ignored: not a valid identifier");
            }
        }
    }
    Ok(parsed)
}

impl ProfileSet {
    /// Merges the two parsed files: union of profiles, credentials winning key by key;
    /// SSO sessions and services from the config file only.
    pub fn from_parsed(config: ParsedFile, credentials: ParsedFile) -> Self {
        let mut profiles = config.profiles;
        for (name, props) in credentials.profiles {
            profiles.entry(name).or_default().extend(props);
        }
        ProfileSet {
            profiles,
            sso_sessions: config.sso_sessions,
            services: config.services,
            files: Vec::new(),
        }
    }

    /// Parses file contents held in memory (either may be absent). Errors name the pseudo-paths
    /// `config` and `credentials`.
    pub fn parse(config: Option<&str>, credentials: Option<&str>) -> Result<Self, ProfileError> {
        let config = parse_file(config.unwrap_or(""), Path::new("config"), FileKind::Config)?;
        let credentials = parse_file(
            credentials.unwrap_or(""),
            Path::new("credentials"),
            FileKind::Credentials,
        )?;
        Ok(Self::from_parsed(config, credentials))
    }
}

/// Parses the raw text of a sub-property block (`"\nname = value\n..."`) into a map; lines
/// without `=` are skipped (the parser already rejected them in files).
pub fn sub_properties(raw: &str) -> BTreeMap<String, String> {
    raw.split('\n')
        .filter_map(|line| {
            let (k, v) = line.split_once('=')?;
            Some((
                k.trim_matches(WHITESPACE).to_owned(),
                v.trim_matches(WHITESPACE).to_owned(),
            ))
        })
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_transport_is_lossless_for_awkward_text() {
        let sections = vec![RawSection {
            header: "profile a]b:c=d;e#f \\ \"q\" 'x' %41 é\t".into(),
            properties: vec![
                (
                    "a:b".into(),
                    " = ; # [x] \\t C:\\tools \"quoted\" \n line2 \r\u{a0}".into(),
                ),
                ("empty".into(), String::new()),
                ("a:b".into(), "dup".into()),
            ],
        }];
        assert_eq!(through_rust_ini(&sections).unwrap(), sections);
        let repeated: Vec<RawSection> = ["a", "b", "a", ""]
            .iter()
            .enumerate()
            .map(|(i, h)| RawSection {
                header: h.to_string(),
                properties: vec![("k".into(), i.to_string())],
            })
            .collect();
        assert_eq!(through_rust_ini(&repeated).unwrap(), repeated);
    }

    #[test]
    fn section_rules_per_file_kind() {
        let cfg = "[default]\na=1\n[foo]\nb=2\n[profile bar]\nc=3\n[Profile baz]\nd=4\n[sso-session s]\ne=5\n[services x]\ns3 =\n  endpoint_url = http://h\n";
        let p = parse_file(cfg, Path::new("c"), FileKind::Config).unwrap();
        assert_eq!(p.profiles.keys().collect::<Vec<_>>(), ["bar", "default"]);
        assert_eq!(p.sso_sessions["s"]["e"], "5");
        assert_eq!(
            sub_properties(&p.services["x"]["s3"])["endpoint_url"],
            "http://h"
        );
        let creds = "[profile x]\na=1\n[y]\nb=2\n[in valid]\nc=3";
        let p = parse_file(creds, Path::new("c"), FileKind::Credentials).unwrap();
        assert_eq!(p.profiles.keys().collect::<Vec<_>>(), ["y"]);
    }

    #[test]
    fn prefixed_default_wins_whatever_the_order() {
        let p = parse_file(
            "[default]\na=1\n[profile default]\nb=2",
            Path::new("c"),
            FileKind::Config,
        )
        .unwrap();
        assert_eq!(
            p.profiles["default"],
            Props::from([("b".to_string(), "2".to_string())])
        );
    }

    #[test]
    fn credentials_win_on_conflict() {
        let set =
            ProfileSet::parse(Some("[profile p]\na=cfg\nb=cfg"), Some("[p]\na=cred")).unwrap();
        assert_eq!(set.profiles["p"]["a"], "cred");
        assert_eq!(set.profiles["p"]["b"], "cfg");
    }
}
