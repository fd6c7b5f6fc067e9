//! The bucket property model: the property keys ([`PropKey`], the one place their operator-facing
//! names are spelled), the typed [`BucketProps`] a bucket's registration holds, the endpoint
//! allowlist ([`EndpointPolicy`]) and the `s3://bucket` argument form.
//!
//! Values are parsed into their types ([`super::values`]) once, by [`BucketProps::set`] or when
//! the registry file is read, and trusted from then on. Every error message is meant to be shown
//! to the operator as is; they follow AIStore's shape: `invalid <property> "<value>": <reason>`.
//!
//! Adding a property is one [`PropKey`] variant (its name, its place in [`PropKey::ALL`]), one
//! field of [`BucketProps`] whose type parses the value (`FromStr`) and gives back its
//! normalized text, the same field as a string in the stored form (`StoredProps` and its
//! reader), and one arm in each exhaustive match (`as_str`, `get`, `put`, the tests' sample
//! value); the compiler points at the matches, the test `every_key_survives_the_file` at the
//! stored form.

use std::fmt::{self, Display};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

use super::RegistryError;
use super::values::{Anonymous, BucketName, Endpoint, ProfileName, Region};
use crate::profiles::AddressingStyle;

/// A bucket property, named on the wire and on the command line by [`PropKey::as_str`]
/// (`anonymous`, `backend_bck`, `extra.aws.*`, as in AIStore's bucket properties).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PropKey {
    /// `anonymous`: what unsigned callers may do in the bucket: `off` (the default), `read`
    /// or `forward` (see [`Anonymous`]).
    Anonymous,
    /// `backend_bck`: the bucket's name on the upstream.
    BackendBck,
    /// `extra.aws.addressing_style`: `auto` (the profile's or the default rule), `path` or
    /// `virtual`.
    AddressingStyle,
    /// `extra.aws.cloud_region`: the upstream region (normally filled in by the gateway).
    CloudRegion,
    /// `extra.aws.endpoint`: the upstream S3 endpoint URL.
    Endpoint,
    /// `extra.aws.profile`: the AWS profile that signs upstream requests.
    Profile,
    /// `read_only`: `true` refuses every change to the bucket (objects and the bucket's own
    /// settings) for every caller, the operator's own keys included.
    ReadOnly,
}

impl PropKey {
    /// Every property, sorted by name as `show bucket` lists them.
    pub const ALL: [PropKey; 7] = [
        PropKey::Anonymous,
        PropKey::BackendBck,
        PropKey::AddressingStyle,
        PropKey::CloudRegion,
        PropKey::Endpoint,
        PropKey::Profile,
        PropKey::ReadOnly,
    ];

    /// The operator-facing name.
    pub const fn as_str(self) -> &'static str {
        match self {
            PropKey::Anonymous => "anonymous",
            PropKey::BackendBck => "backend_bck",
            PropKey::AddressingStyle => "extra.aws.addressing_style",
            PropKey::CloudRegion => "extra.aws.cloud_region",
            PropKey::Endpoint => "extra.aws.endpoint",
            PropKey::Profile => "extra.aws.profile",
            PropKey::ReadOnly => "read_only",
        }
    }

    /// The names of [`PropKey::ALL`], `", "`-separated (for messages).
    pub fn names() -> String {
        Self::ALL.map(PropKey::as_str).join(", ")
    }
}

impl Display for PropKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PropKey {
    type Err = RegistryError;

    /// The exact operator-facing name; anything else (the registry file's field names too) is
    /// `unknown property "x" (known: ...)`.
    fn from_str(name: &str) -> Result<Self, RegistryError> {
        Self::ALL
            .into_iter()
            .find(|k| k.as_str() == name)
            .ok_or_else(|| {
                invalid(format!(
                    "unknown property {name:?} (known: {})",
                    Self::names()
                ))
            })
    }
}

/// The properties of one bucket. `None` means "not set" (falls back to the start-up defaults).
///
/// In the registry file each value is its normalized string (what `set` stores), so files
/// written before the values were typed load unchanged; reading goes through `StoredProps`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BucketProps {
    /// Never `Some(Anonymous::Off)`: `off` is stored as "not set".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anonymous: Option<Anonymous>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_bck: Option<BucketName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<ProfileName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<Endpoint>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cloud_region: Option<Region>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addressing_style: Option<AddressingStyle>,
    /// `true` or `false` (`false` is the same as unset).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "bool_as_text"
    )]
    pub read_only: Option<bool>,
}

/// A boolean property in the stored form, its text (`"true"`).
fn bool_as_text<S: serde::Serializer>(v: &Option<bool>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(b) => s.serialize_str(if *b { "true" } else { "false" }),
        None => s.serialize_none(),
    }
}

/// [`BucketProps`] as the registry file holds them: the same fields, as strings. Reading refuses
/// unknown fields (a typo in a hand-edited file is an error, not a silently dropped setting);
/// turning them into [`BucketProps`] refuses invalid values and values not in normalized form
/// (what `set` would have stored). `null` and `""` mean "not set". The endpoint allowlist is not
/// applied: it is a policy on changes, and values set before it was tightened stay readable.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredProps {
    anonymous: Option<String>,
    backend_bck: Option<String>,
    profile: Option<String>,
    endpoint: Option<String>,
    cloud_region: Option<String>,
    addressing_style: Option<String>,
    read_only: Option<String>,
}

impl<'de> Deserialize<'de> for BucketProps {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = StoredProps::deserialize(d)?;
        let mut props = BucketProps::EMPTY;
        for (key, raw) in [
            (PropKey::Anonymous, s.anonymous),
            (PropKey::BackendBck, s.backend_bck),
            (PropKey::Profile, s.profile),
            (PropKey::Endpoint, s.endpoint),
            (PropKey::CloudRegion, s.cloud_region),
            (PropKey::AddressingStyle, s.addressing_style),
            (PropKey::ReadOnly, s.read_only),
        ] {
            props
                .load(key, raw.as_deref().unwrap_or_default())
                .map_err(serde::de::Error::custom)?;
        }
        Ok(props)
    }
}

/// Which upstream hosts the operator allows (`endpoint_allowlist`): checked when a bucket's
/// endpoint is set, and on every upstream connection, whatever named its endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointPolicy {
    /// `None`: any host. Otherwise hostnames (any port) or `host:port` entries (that port only;
    /// an endpoint without a port has the scheme's default port, 80 or 443). An entry also
    /// allows the names under it (`example.com` allows `b.example.com`): virtual-hosted-style
    /// requests go to `<bucket>.<host>`.
    pub allowlist: Option<Vec<String>>,
}

impl EndpointPolicy {
    /// Whether a connection to `host` (lowercase; IPv6 without brackets) on `port` is allowed.
    pub fn allows(&self, host: &str, port: u16) -> bool {
        let Some(list) = &self.allowlist else {
            return true;
        };
        let host = host.trim_end_matches('.');
        list.iter().any(|entry| match split_allow_entry(entry) {
            Some((allowed, p)) => {
                let name_matches = host == allowed
                    || (host.len() > allowed.len()
                        && host.ends_with(allowed.as_str())
                        && host.as_bytes()[host.len() - allowed.len() - 1] == b'.'
                        && allowed.parse::<std::net::IpAddr>().is_err());
                name_matches && p.is_none_or(|p| p == port)
            }
            None => false,
        })
    }

    /// Checks an endpoint (given as `raw`) against the allowlist.
    fn check(&self, raw: &str, ep: &Endpoint) -> Result<(), RegistryError> {
        if self.allows(ep.host(), ep.effective_port()) {
            Ok(())
        } else {
            Err(invalid(format!(
                "{} {raw:?} is not allowed: host {:?} is not in the endpoint allowlist",
                PropKey::Endpoint,
                ep.host()
            )))
        }
    }
}

/// Splits an allowlist entry into a lowercase host (IPv6 without brackets) and an optional port.
/// Entries that cannot be read never match.
fn split_allow_entry(entry: &str) -> Option<(String, Option<u16>)> {
    let entry = entry.trim().to_ascii_lowercase();
    if let Some(rest) = entry.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        return match after {
            "" => Some((host.to_string(), None)),
            _ => Some((
                host.to_string(),
                Some(after.strip_prefix(':')?.parse().ok()?),
            )),
        };
    }
    match entry.matches(':').count() {
        0 => Some((entry, None)),
        1 => {
            let (host, port) = entry.split_once(':')?;
            Some((host.to_string(), Some(port.parse().ok()?)))
        }
        _ => Some((entry, None)), // a bare IPv6 address
    }
}

fn invalid(msg: String) -> RegistryError {
    RegistryError::Invalid(msg)
}

/// Parses a non-empty value of `key`: `invalid <key> "<raw>": <reason>` when refused.
fn parse_as<T>(key: PropKey, raw: &str) -> Result<T, RegistryError>
where
    T: FromStr,
    T::Err: Display,
{
    if raw.trim() != raw {
        return Err(invalid(format!(
            "invalid {key} {raw:?}: leading/trailing whitespace"
        )));
    }
    raw.parse()
        .map_err(|reason| invalid(format!("invalid {key} {raw:?}: {reason}")))
}

/// `value` parsed into `slot`; `""` clears it.
fn put<T>(slot: &mut Option<T>, key: PropKey, value: &str) -> Result<(), RegistryError>
where
    T: FromStr,
    T::Err: Display,
{
    *slot = match value {
        "" => None,
        _ => Some(parse_as(key, value)?),
    };
    Ok(())
}

impl BucketProps {
    /// No property set.
    pub const EMPTY: BucketProps = BucketProps {
        anonymous: None,
        backend_bck: None,
        profile: None,
        endpoint: None,
        cloud_region: None,
        addressing_style: None,
        read_only: None,
    };

    /// The value of `key` in normalized form; `None` when unset.
    pub fn get(&self, key: PropKey) -> Option<&str> {
        match key {
            PropKey::Anonymous => self.anonymous.map(Anonymous::as_str),
            PropKey::BackendBck => self.backend_bck.as_deref(),
            PropKey::AddressingStyle => self.addressing_style.map(AddressingStyle::as_str),
            PropKey::CloudRegion => self.cloud_region.as_deref(),
            PropKey::Endpoint => self.endpoint.as_deref(),
            PropKey::Profile => self.profile.as_deref(),
            PropKey::ReadOnly => self.read_only.map(|b| if b { "true" } else { "false" }),
        }
    }

    /// Validates, normalizes and sets `key`; `""` clears it. An endpoint must pass `policy`.
    /// Returns the old value. On error nothing changes.
    pub fn set(
        &mut self,
        key: PropKey,
        value: &str,
        policy: &EndpointPolicy,
    ) -> Result<Option<String>, RegistryError> {
        let mut next = self.clone();
        next.put(key, value)?;
        if key == PropKey::Endpoint
            && let Some(ep) = &next.endpoint
        {
            policy.check(value, ep)?;
        }
        let old = self.get(key).map(str::to_owned);
        *self = next;
        Ok(old)
    }

    /// Parses `value` into the field of `key` (`""` clears it); no policy.
    fn put(&mut self, key: PropKey, value: &str) -> Result<(), RegistryError> {
        match key {
            PropKey::Anonymous => {
                put(&mut self.anonymous, key, value)?;
                // `off` is the default: setting it clears the property.
                if self.anonymous == Some(Anonymous::Off) {
                    self.anonymous = None;
                }
                Ok(())
            }
            PropKey::BackendBck => put(&mut self.backend_bck, key, value),
            PropKey::AddressingStyle => put(&mut self.addressing_style, key, value),
            PropKey::CloudRegion => put(&mut self.cloud_region, key, value),
            PropKey::Endpoint => put(&mut self.endpoint, key, value),
            PropKey::Profile => put(&mut self.profile, key, value),
            PropKey::ReadOnly => put(&mut self.read_only, key, value),
        }
    }

    /// Sets `key` from the registry file: like `set` without the policy, and `raw` must already
    /// be in normalized form.
    fn load(&mut self, key: PropKey, raw: &str) -> Result<(), RegistryError> {
        self.put(key, raw)?;
        match self.get(key) {
            Some(normalized) if normalized != raw => Err(invalid(format!(
                "{key} {raw:?} is not in normalized form (expecting {normalized:?})"
            ))),
            _ => Ok(()),
        }
    }

    /// Every property as `(name, value)`, in [`PropKey::ALL`] order, `""` when unset.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        PropKey::ALL
            .iter()
            .map(|&key| (key.as_str(), self.get(key).unwrap_or_default().to_owned()))
            .collect()
    }

    /// Whether a change from `other` to `self` (or back) changes where requests go: profile,
    /// endpoint, backend bucket or addressing style differ. The gateway re-looks-up the region then.
    pub fn routing_changed(&self, other: &BucketProps) -> bool {
        self.profile != other.profile
            || self.endpoint != other.endpoint
            || self.backend_bck != other.backend_bck
            || self.addressing_style != other.addressing_style
    }
}

/// Normalizes a bucket argument: `s3://abc`, `s3://abc/` and `abc` all give `abc`, which must be
/// a valid S3 bucket name (see [`BucketName`]).
pub fn normalize_bucket_arg(s: &str) -> Result<String, RegistryError> {
    s.parse::<BucketName>()
        .map(|b| b.as_str().to_owned())
        .map_err(|reason| invalid(format!("invalid bucket {s:?}: {reason}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any() -> EndpointPolicy {
        EndpointPolicy::default()
    }

    fn set_err(key: PropKey, value: &str) -> String {
        BucketProps::default()
            .set(key, value, &any())
            .unwrap_err()
            .to_string()
    }

    fn set_ok(key: PropKey, value: &str) -> String {
        let mut p = BucketProps::default();
        p.set(key, value, &any()).unwrap();
        p.get(key).unwrap().to_string()
    }

    fn load(json: &str) -> Result<BucketProps, String> {
        serde_json::from_str(json).map_err(|e| e.to_string())
    }

    #[test]
    fn keys_are_sorted_unique_and_round_trip() {
        let names = PropKey::ALL.map(PropKey::as_str);
        let mut sorted = names;
        sorted.sort_unstable();
        assert_eq!(sorted, names);
        sorted.windows(2).for_each(|w| assert_ne!(w[0], w[1]));
        for key in PropKey::ALL {
            assert_eq!(key.as_str().parse::<PropKey>().unwrap(), key);
            assert_eq!(key.to_string(), key.as_str());
        }
    }

    #[test]
    fn anonymous_takes_off_read_or_forward_and_off_clears_it() {
        assert_eq!(set_ok(PropKey::Anonymous, "read"), "read");
        assert_eq!(set_ok(PropKey::Anonymous, "forward"), "forward");
        let mut p = BucketProps::default();
        p.set(PropKey::Anonymous, "forward", &any()).unwrap();
        let old = p.set(PropKey::Anonymous, "off", &any()).unwrap();
        assert_eq!(old.as_deref(), Some("forward"));
        assert_eq!(
            p,
            BucketProps::EMPTY,
            "off is the default, stored as nothing"
        );
        assert_eq!(
            set_err(PropKey::Anonymous, "public"),
            "invalid anonymous \"public\": expecting one of off, read, forward"
        );
        assert!(set_err(PropKey::Anonymous, "READ").starts_with("invalid anonymous"));
        assert_eq!(load(r#"{"anonymous": "off"}"#).unwrap(), BucketProps::EMPTY);
        assert_eq!(
            load(r#"{"anonymous": "read"}"#).unwrap().anonymous,
            Some(Anonymous::Read)
        );
    }

    #[test]
    fn empty_is_the_default() {
        assert_eq!(BucketProps::EMPTY, BucketProps::default());
    }

    #[test]
    fn allow_entries() {
        assert_eq!(split_allow_entry("X"), Some(("x".into(), None)));
        assert_eq!(split_allow_entry("x:9000"), Some(("x".into(), Some(9000))));
        assert_eq!(
            split_allow_entry("[::1]:80"),
            Some(("::1".into(), Some(80)))
        );
        assert_eq!(split_allow_entry("::1"), Some(("::1".into(), None)));
        assert_eq!(split_allow_entry("x:nope"), None);
    }

    #[test]
    fn whitespace_is_refused_everywhere() {
        for key in PropKey::ALL {
            assert_eq!(
                set_err(key, " path"),
                format!("invalid {key} \" path\": leading/trailing whitespace")
            );
        }
    }

    /// A valid value of `key`, not in normalized form where it has one.
    fn sample(key: PropKey) -> &'static str {
        match key {
            PropKey::Anonymous => "read",
            PropKey::BackendBck => "s3://abc/",
            PropKey::AddressingStyle => "virtual",
            PropKey::CloudRegion => "eu-west-1",
            PropKey::Endpoint => "HTTP://Host:1/",
            PropKey::Profile => "a/b@c",
            PropKey::ReadOnly => "true",
        }
    }

    #[test]
    fn every_key_survives_the_file() {
        for key in PropKey::ALL {
            let stored = set_ok(key, sample(key));
            let mut p = BucketProps::default();
            p.set(key, &stored, &any()).unwrap();
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(load(&json).unwrap(), p, "{json}");
        }
        let err = load(r#"{"endpoint": "http://x/"}"#).unwrap_err();
        assert!(
            err.starts_with(
                "extra.aws.endpoint \"http://x/\" is not in normalized form (expecting \"http://x\")"
            ),
            "{err}"
        );
    }

    #[test]
    fn the_old_string_format_loads() {
        let json = r#"{
            "backend_bck": "up1",
            "profile": "prod",
            "endpoint": "http://[::1]:9000",
            "cloud_region": "us-east-1",
            "addressing_style": "auto"
        }"#;
        let p = load(json).unwrap();
        assert_eq!(
            p.pairs(),
            vec![
                ("anonymous", String::new()),
                ("backend_bck", "up1".to_string()),
                ("extra.aws.addressing_style", "auto".to_string()),
                ("extra.aws.cloud_region", "us-east-1".to_string()),
                ("extra.aws.endpoint", "http://[::1]:9000".to_string()),
                ("extra.aws.profile", "prod".to_string()),
                ("read_only", String::new()),
            ]
        );
        assert_eq!(p.addressing_style, Some(AddressingStyle::Auto));
        assert_eq!(p.endpoint.as_ref().map(Endpoint::host), Some("::1"));
        // Written back, it is the same strings.
        let back: serde_json::Value = serde_json::to_value(&p).unwrap();
        let want: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(back, want);
        // null is "not set", as it was for the string fields.
        assert_eq!(load(r#"{"profile": null}"#).unwrap(), BucketProps::EMPTY);
        assert_eq!(load(r#"{"profile": ""}"#).unwrap(), BucketProps::EMPTY);
        assert!(
            load(r#"{"profiles": "x"}"#)
                .unwrap_err()
                .starts_with("unknown field `profiles`")
        );
        assert!(
            load(r#"{"addressing_style": "Path"}"#)
                .unwrap_err()
                .starts_with("invalid extra.aws.addressing_style \"Path\": expecting one of auto, path, virtual")
        );
    }

    proptest::proptest! {
        /// Whatever `set` accepts, it stores in a form that `set` and the loader accept unchanged.
        #[test]
        fn set_is_idempotent(idx in 0usize..6, value in proptest::prop_oneof![
            "[ -~]{0,40}",
            "([sS]3://)?[a-z0-9.-]{1,12}/?",
            "(HTTP|http|https|ftp)://[A-Za-z0-9.:\\[\\]-]{0,16}/?",
            "[a-zA-Z0-9_-]{1,12}",
        ]) {
            let key = PropKey::ALL[idx];
            let mut p = BucketProps::default();
            if p.set(key, &value, &any()).is_ok() {
                let json = serde_json::to_string(&p).unwrap();
                proptest::prop_assert_eq!(&load(&json).unwrap(), &p);
                let stored = p.get(key).unwrap_or("").to_string();
                let mut q = BucketProps::default();
                q.set(key, &stored, &any()).unwrap();
                proptest::prop_assert_eq!(p, q);
            }
        }
    }
}
