//! Where the shared files live ([file location](https://docs.aws.amazon.com/sdkref/latest/guide/file-location.html)): `AWS_CONFIG_FILE` / `AWS_SHARED_CREDENTIALS_FILE`,
//! otherwise `~/.aws/config` / `~/.aws/credentials`, with the home directory taken from `HOME`
//! (and, on Windows only, `USERPROFILE`, then `HOMEDRIVE` + `HOMEPATH`), and `~` expanded only
//! when it is the whole first path component.
//!
//! Everything here is a pure function of an environment map and a [`Platform`], so the
//! Windows rules can be tested on Linux; the real process environment is never read.

use std::collections::HashMap;

use super::vars::{self, path_var};

/// The platform whose path rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// Any Unix-like system: `/` separators, home from `HOME` only.
    Unix,
    /// Windows: `\` separators, home from `HOME`, `USERPROFILE`, `HOMEDRIVE`+`HOMEPATH`.
    Windows,
}

impl Platform {
    /// The platform this binary was built for.
    pub fn current() -> Self {
        if cfg!(windows) {
            Platform::Windows
        } else {
            Platform::Unix
        }
    }

    fn separator(self) -> char {
        match self {
            Platform::Unix => '/',
            Platform::Windows => '\\',
        }
    }
}

/// The user's home directory, if one can be found.
pub fn home_dir(vars: &HashMap<String, String>, platform: Platform) -> Option<String> {
    if let Some(home) = path_var(vars, "HOME") {
        return Some(home.to_owned());
    }
    if platform == Platform::Windows {
        if let Some(profile) = path_var(vars, "USERPROFILE") {
            return Some(profile.to_owned());
        }
        if let (Some(drive), Some(path)) = (path_var(vars, "HOMEDRIVE"), path_var(vars, "HOMEPATH"))
        {
            return Some(format!("{drive}{path}"));
        }
    }
    None
}

/// Expands a leading `~` component (`~`, `~/x`, and on Windows also `~\x`). `~user/x` is left
/// alone, and so is everything when no home directory is known.
pub fn expand_tilde(path: &str, vars: &HashMap<String, String>, platform: Platform) -> String {
    let Some(rest) = path.strip_prefix('~') else {
        return path.to_owned();
    };
    let starts_component = rest.is_empty()
        || rest.starts_with('/')
        || (platform == Platform::Windows && rest.starts_with('\\'));
    if !starts_component {
        return path.to_owned();
    }
    match home_dir(vars, platform) {
        Some(home) => {
            let home = home.trim_end_matches(['/', '\\']);
            format!("{home}{rest}")
        }
        None => path.to_owned(),
    }
}

fn locate(
    vars: &HashMap<String, String>,
    platform: Platform,
    var_name: &str,
    file: &str,
) -> String {
    match path_var(vars, var_name) {
        Some(path) => expand_tilde(path, vars, platform),
        None => {
            let sep = platform.separator();
            expand_tilde(&format!("~{sep}.aws{sep}{file}"), vars, platform)
        }
    }
}

/// Path of the config file.
pub fn config_file(vars: &HashMap<String, String>, platform: Platform) -> String {
    locate(vars, platform, "AWS_CONFIG_FILE", "config")
}

/// Path of the credentials file.
pub fn credentials_file(vars: &HashMap<String, String>, platform: Platform) -> String {
    locate(vars, platform, "AWS_SHARED_CREDENTIALS_FILE", "credentials")
}

/// The profile selected by the environment: `AWS_PROFILE` (blank counts as unset), else `default`.
pub fn profile_name(vars: &HashMap<String, String>) -> String {
    vars::var(vars, "AWS_PROFILE")
        .unwrap_or("default")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn tilde_is_only_expanded_as_a_whole_component() {
        let vars = env(&[("HOME", "/home/u")]);
        assert_eq!(expand_tilde("~/x", &vars, Platform::Unix), "/home/u/x");
        assert_eq!(expand_tilde("~", &vars, Platform::Unix), "/home/u");
        assert_eq!(expand_tilde("~bob/x", &vars, Platform::Unix), "~bob/x");
        assert_eq!(expand_tilde("~\\x", &vars, Platform::Unix), "~\\x");
        assert_eq!(expand_tilde("~\\x", &vars, Platform::Windows), "/home/u\\x");
        assert_eq!(expand_tilde("/a/~/b", &vars, Platform::Unix), "/a/~/b");
        assert_eq!(expand_tilde("~/x", &env(&[]), Platform::Unix), "~/x");
    }

    #[test]
    fn env_overrides_are_expanded_and_independent() {
        let vars = env(&[("HOME", "/h"), ("AWS_CONFIG_FILE", "~/cfg")]);
        assert_eq!(config_file(&vars, Platform::Unix), "/h/cfg");
        assert_eq!(
            credentials_file(&vars, Platform::Unix),
            "/h/.aws/credentials"
        );
    }

    #[test]
    fn userprofile_is_windows_only() {
        let vars = env(&[("USERPROFILE", "C:\\u")]);
        assert_eq!(home_dir(&vars, Platform::Windows).as_deref(), Some("C:\\u"));
        assert_eq!(home_dir(&vars, Platform::Unix), None);
    }
}
