//! Reading settings from environment variables (and from profile properties, which follow the
//! same rule): a value that is empty or only whitespace counts as unset, and two variables that
//! only work together (an access key id and its secret) must be set together.
//!
//! Everything takes the variables as a map, so callers and tests never read the process
//! environment by accident.

use std::collections::HashMap;

/// `value` trimmed, or `None` when it is missing, empty or only whitespace.
pub fn non_blank<S: AsRef<str> + ?Sized>(value: Option<&S>) -> Option<&str> {
    value.map(|v| v.as_ref().trim()).filter(|v| !v.is_empty())
}

/// Variable `name`, trimmed; `None` when unset, empty or only whitespace.
pub fn var<'a>(vars: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    non_blank(vars.get(name))
}

/// Variable `name` as given (not trimmed: for paths); `None` when unset or empty.
pub fn path_var<'a>(vars: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    vars.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

/// A key pair held in two variables, e.g. `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`
/// (each read with [`var`]): `Ok(None)` when neither is set, an error naming both when only one
/// is.
pub fn key_pair<'a>(
    vars: &'a HashMap<String, String>,
    id_var: &str,
    secret_var: &str,
) -> Result<Option<(&'a str, &'a str)>, String> {
    match (var(vars, id_var), var(vars, secret_var)) {
        (Some(id), Some(secret)) => Ok(Some((id, secret))),
        (None, None) => Ok(None),
        _ => Err(format!("{id_var} and {secret_var} must be set together")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<const N: usize>(pairs: [(&str, &str); N]) -> HashMap<String, String> {
        crate::profiles::ProfileEnv::from_pairs(pairs).vars
    }

    #[test]
    fn blank_is_unset() {
        let vars = env([("A", " x "), ("B", "  "), ("C", ""), ("P", " /p ")]);
        assert_eq!(var(&vars, "A"), Some("x"));
        assert_eq!(var(&vars, "B"), None);
        assert_eq!(var(&vars, "C"), None);
        assert_eq!(var(&vars, "D"), None);
        assert_eq!(path_var(&vars, "P"), Some(" /p "));
        assert_eq!(path_var(&vars, "C"), None);
        assert_eq!(non_blank(Some("\tv\n")), Some("v"));
        assert_eq!(non_blank::<str>(None), None);
    }

    #[test]
    fn key_pairs_are_set_together() {
        let both = env([("ID", "a"), ("SECRET", "b")]);
        assert_eq!(key_pair(&both, "ID", "SECRET"), Ok(Some(("a", "b"))));
        assert_eq!(key_pair(&env([]), "ID", "SECRET"), Ok(None));
        for one in [env([("ID", "a"), ("SECRET", " ")]), env([("SECRET", "b")])] {
            assert_eq!(
                key_pair(&one, "ID", "SECRET"),
                Err("ID and SECRET must be set together".to_owned())
            );
        }
    }
}
