//! Front users kept with the registry, so they follow it to a shared store and a change applies
//! to the next request without a restart: each a name ([`UserName`]), an access key
//! ([`AccessKey`]), a secret ([`Secret`]) and [`Grants`] (bucket name or glob → permissions).
//! Every value is checked once, when it is set or the registry file is read, and trusted from
//! then on.
//!
//! Whether a grant covers a bucket is decided here, below both of its readers: the front,
//! which checks every operation, and the gateway, which shows a user only the buckets they
//! hold a grant on in ListBuckets. The secret never shows in `Debug` (nor in any admin listing);
//! the registry file is its owner's only.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

use super::values::{InvalidValue, Permission, check_bucket_name, strip_bucket_scheme};

const MAX_USER_NAME_LEN: usize = 64;
const MIN_KEY_LEN: usize = 16;
const MAX_KEY_LEN: usize = 128;

/// `Deserialize` through the type's `FromStr`, so a value read from the registry file is
/// checked as one set through the admin API.
macro_rules! deserialize_from_str {
    ($t:ty) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A front user's name: letters, digits and `_.@-`, starting with a letter or digit, at most
/// 64 characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UserName(String);

string_value!(UserName, parse_user_name);
deserialize_from_str!(UserName);

fn parse_user_name(s: &str) -> Result<String, String> {
    if s.is_empty() {
        return Err("empty user name".to_string());
    }
    if s.len() > MAX_USER_NAME_LEN {
        return Err(format!("too long ({} > {MAX_USER_NAME_LEN})", s.len()));
    }
    if let Some(c) = s
        .chars()
        .find(|&c| !(c.is_ascii_alphanumeric() || "_.@-".contains(c)))
    {
        return Err(format!(
            "invalid character {c:?} in user name (expecting letters, digits and _.@-)"
        ));
    }
    if !s.starts_with(|c: char| c.is_ascii_alphanumeric()) {
        return Err("user name must start with a letter or digit".to_string());
    }
    Ok(s.to_owned())
}

/// A front user's access key id: 16 to 128 letters and digits (rebucket generates 20
/// uppercase letters and digits).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccessKey(String);

string_value!(AccessKey, parse_access_key);
deserialize_from_str!(AccessKey);

fn parse_access_key(s: &str) -> Result<String, String> {
    if !(MIN_KEY_LEN..=MAX_KEY_LEN).contains(&s.len())
        || !s.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Err(format!(
            "an access key is {MIN_KEY_LEN} to {MAX_KEY_LEN} letters and digits"
        ));
    }
    Ok(s.to_owned())
}

/// A front user's secret key: 16 to 128 printable ASCII characters. `Debug` does not show it;
/// it serializes (into the owner-only registry file) as its text.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// The secret itself, for signature checks and the one answer that hands it out.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether `given` is this secret, compared in constant time.
    pub fn matches(&self, given: &str) -> bool {
        use subtle::ConstantTimeEq;
        self.0.as_bytes().ct_eq(given.as_bytes()).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl FromStr for Secret {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, InvalidValue> {
        if !(MIN_KEY_LEN..=MAX_KEY_LEN).contains(&s.len())
            || !s.chars().all(|c| c.is_ascii_graphic())
        {
            return Err(InvalidValue(format!(
                "a secret key is {MIN_KEY_LEN} to {MAX_KEY_LEN} printable ASCII characters"
            )));
        }
        Ok(Self(s.to_owned()))
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

deserialize_from_str!(Secret);

/// What a grant names: a bucket name, or a glob over bucket names where `*` matches any run of
/// characters and `?` one character (`logs-*`, `*`). `s3://` is accepted in front, as for
/// buckets.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BucketPattern(String);

string_value!(BucketPattern, parse_bucket_pattern);
deserialize_from_str!(BucketPattern);

fn parse_bucket_pattern(s: &str) -> Result<String, String> {
    let p = strip_bucket_scheme(s)?;
    if !p.contains(['*', '?']) {
        check_bucket_name(p)?;
        return Ok(p.to_owned());
    }
    if p.len() > 63 {
        return Err(format!(
            "a bucket pattern is at most 63 characters (got {})",
            p.len()
        ));
    }
    if let Some(c) = p
        .chars()
        .find(|&c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || ".-*?".contains(c)))
    {
        return Err(format!(
            "invalid character {c:?} in bucket pattern (expecting lowercase letters, digits, \
             dots, hyphens, * and ?)"
        ));
    }
    Ok(p.to_owned())
}

impl BucketPattern {
    /// Whether `bucket` is named by this pattern.
    pub fn matches(&self, bucket: &str) -> bool {
        glob(self.0.as_bytes(), bucket.as_bytes())
    }

    /// Whether this pattern names every bucket (`*`, `**`, ...).
    pub fn is_everything(&self) -> bool {
        self.0.bytes().all(|b| b == b'*')
    }
}

/// `*` matches any run of bytes, `?` one byte, anything else itself; linear backtracking to
/// the last `*`.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut last_star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                last_star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match last_star {
                Some((star, from)) => {
                    p = star + 1;
                    t = from + 1;
                    last_star = Some((star, from + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&b| b == b'*')
}

/// A user's grants: bucket pattern → the permissions it holds there. A bucket is covered for
/// `needed` when any pattern naming it holds a permission that covers `needed`
/// ([`Permission::covers`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Grants(BTreeMap<BucketPattern, BTreeSet<Permission>>);

impl Grants {
    /// Whether these grants allow what needs `needed` in `bucket`.
    pub fn allows(&self, bucket: &str, needed: Permission) -> bool {
        self.0
            .iter()
            .any(|(pattern, held)| pattern.matches(bucket) && held.iter().any(|p| p.covers(needed)))
    }

    /// Whether these grants hold anything on `bucket` (ListBuckets shows it then).
    pub fn sees(&self, bucket: &str) -> bool {
        self.0
            .iter()
            .any(|(pattern, held)| !held.is_empty() && pattern.matches(bucket))
    }

    /// Whether these grants allow what needs `needed` in every bucket, named or not (an
    /// operation that names no bucket).
    pub fn allows_everywhere(&self, needed: Permission) -> bool {
        self.0
            .iter()
            .any(|(pattern, held)| pattern.is_everything() && held.iter().any(|p| p.covers(needed)))
    }

    /// Adds `permission` on `pattern`; whether it was not held yet.
    pub fn grant(&mut self, pattern: BucketPattern, permission: Permission) -> bool {
        self.0.entry(pattern).or_default().insert(permission)
    }

    /// Removes `permission` (every permission when `None`) from `pattern`; whether anything
    /// was held there.
    pub fn revoke(&mut self, pattern: &BucketPattern, permission: Option<Permission>) -> bool {
        let Some(held) = self.0.get_mut(pattern) else {
            return false;
        };
        let removed = match permission {
            Some(p) => held.remove(&p),
            None => !std::mem::take(held).is_empty(),
        };
        if held.is_empty() {
            self.0.remove(pattern);
        }
        removed
    }

    /// Every pattern with the permissions it holds, sorted by pattern.
    pub fn iter(&self) -> impl Iterator<Item = (&BucketPattern, &BTreeSet<Permission>)> {
        self.0.iter()
    }
}

/// One front user as the registry keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontUser {
    pub access_key: AccessKey,
    pub secret_key: Secret,
    #[serde(default)]
    pub grants: Grants,
}

/// The grants of the registry user who signed a request, attached to the request by the
/// front's access check for the operations that name no bucket: ListBuckets shows only the
/// buckets they [`Grants::sees`]. Absent for the operator's own users, who see everything.
#[derive(Debug, Clone)]
pub struct CallerGrants(pub Grants);

/// Reads the user map, refusing two users with one access key (which would make a signature
/// ambiguous).
pub(super) fn users_with_distinct_keys<'de, D>(
    d: D,
) -> Result<BTreeMap<UserName, FrontUser>, D::Error>
where
    D: Deserializer<'de>,
{
    let users = BTreeMap::<UserName, FrontUser>::deserialize(d)?;
    let mut keys = BTreeMap::new();
    for (name, user) in &users {
        if let Some(other) = keys.insert(user.access_key.as_str(), name) {
            return Err(serde::de::Error::custom(format_args!(
                "users {other:?} and {name:?} have the same access key"
            )));
        }
    }
    Ok(users)
}

impl super::RegistryState {
    /// The user whose access key is `access_key`.
    pub fn user_by_access_key(&self, access_key: &str) -> Option<(&UserName, &FrontUser)> {
        self.users
            .iter()
            .find(|(_, u)| u.access_key.as_str() == access_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(s: &str) -> BucketPattern {
        s.parse().unwrap()
    }

    #[test]
    fn globs_match_whole_bucket_names() {
        for (p, bucket, want) in [
            ("logs-*", "logs-2024", true),
            ("logs-*", "logs-", true),
            ("logs-*", "old-logs-1", false),
            ("*", "anything", true),
            ("a?c", "abc", true),
            ("a?c", "abbc", false),
            ("*-prod-*", "eu-prod-db", true),
            ("*-prod-*", "eu-prod", false),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("photos", "photos", true),
            ("photos", "photos2", false),
        ] {
            assert_eq!(pattern(p).matches(bucket), want, "{p} ~ {bucket}");
        }
    }

    #[test]
    fn patterns_are_bucket_names_or_globs() {
        assert_eq!(pattern("s3://logs-*/").as_str(), "logs-*");
        assert_eq!(pattern("s3://photos").as_str(), "photos");
        assert!("Logs-*".parse::<BucketPattern>().is_err());
        assert!("ab".parse::<BucketPattern>().is_err(), "not a bucket name");
        assert!("a/b*".parse::<BucketPattern>().is_err());
        assert!("s3://a/b".parse::<BucketPattern>().is_err());
    }

    #[test]
    fn user_names_keys_and_secrets_are_checked() {
        assert!("alice".parse::<UserName>().is_ok());
        assert!("ci.bot@team-1".parse::<UserName>().is_ok());
        for bad in ["", "-x", "a b", "a/b", &"x".repeat(65)] {
            assert!(bad.parse::<UserName>().is_err(), "{bad:?}");
        }
        assert!("RBABCDEFGHIJKLMNOPQR".parse::<AccessKey>().is_ok());
        assert!("short".parse::<AccessKey>().is_err());
        assert!("a secret with spaces!".parse::<Secret>().is_err());
    }

    #[test]
    fn admin_covers_read_and_write_and_a_glob_covers_its_buckets() {
        let mut g = Grants::default();
        g.grant(pattern("logs-*"), Permission::Read);
        g.grant(pattern("photos"), Permission::Admin);
        assert!(g.allows("logs-1", Permission::Read));
        assert!(!g.allows("logs-1", Permission::Write));
        for p in Permission::ALL {
            assert!(g.allows("photos", p), "{p}");
        }
        assert!(!g.allows("other", Permission::Read));
        assert!(g.sees("logs-x") && g.sees("photos") && !g.sees("other"));
        assert!(!g.allows_everywhere(Permission::Admin));
        g.grant(pattern("*"), Permission::Admin);
        assert!(g.allows_everywhere(Permission::Admin));
    }

    #[test]
    fn revoking_one_permission_keeps_the_others() {
        let mut g = Grants::default();
        g.grant(pattern("photos"), Permission::Read);
        g.grant(pattern("photos"), Permission::Write);
        assert!(g.revoke(&pattern("photos"), Some(Permission::Write)));
        assert!(g.allows("photos", Permission::Read));
        assert!(!g.allows("photos", Permission::Write));
        assert!(!g.revoke(&pattern("photos"), Some(Permission::Write)));
        assert!(g.revoke(&pattern("photos"), None));
        assert!(!g.sees("photos"));
        assert_eq!(g, Grants::default(), "an empty pattern is dropped");
    }

    #[test]
    fn the_secret_never_shows_in_debug() {
        let user = FrontUser {
            access_key: "RBABCDEFGHIJKLMNOPQR".parse().unwrap(),
            secret_key: "s3cr3t-s3cr3t-s3cr3t".parse().unwrap(),
            grants: Grants::default(),
        };
        let text = format!("{user:?}");
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(text.contains("RBABCDEFGHIJKLMNOPQR"), "{text}");
    }
}
