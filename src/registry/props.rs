//! The bucket property model and its validation: the five operator-facing property names
//! (`backend_bck`, `extra.aws.*`), how each value is checked and normalized on the way in, the
//! endpoint allowlist, and the `s3://bucket` argument form.
//!
//! Every error message is meant to be shown to the operator as is; the endpoint messages follow
//! AIStore's shape (`invalid extra.aws.endpoint "foo": unsupported scheme "" (expecting http or https)`).

use serde::{Deserialize, Serialize};

use super::RegistryError;

/// `backend_bck`: the upstream bucket name.
pub const PROP_BACKEND_BCK: &str = "backend_bck";
/// `extra.aws.addressing_style`: `auto`, `path` or `virtual`.
pub const PROP_ADDRESSING_STYLE: &str = "extra.aws.addressing_style";
/// `extra.aws.cloud_region`: the upstream region (normally filled in by the gateway).
pub const PROP_CLOUD_REGION: &str = "extra.aws.cloud_region";
/// `extra.aws.endpoint`: the upstream S3 endpoint URL.
pub const PROP_ENDPOINT: &str = "extra.aws.endpoint";
/// `extra.aws.profile`: the AWS profile that signs upstream requests.
pub const PROP_PROFILE: &str = "extra.aws.profile";

/// Every property name, sorted as `show bucket` lists them.
pub const PROP_NAMES: [&str; 5] = [
    PROP_BACKEND_BCK,
    PROP_ADDRESSING_STYLE,
    PROP_CLOUD_REGION,
    PROP_ENDPOINT,
    PROP_PROFILE,
];

/// The accepted values of `extra.aws.addressing_style`.
pub const ADDRESSING_STYLES: [&str; 3] = ["auto", "path", "virtual"];

const MAX_PROFILE_LEN: usize = 128;
const MAX_REGION_LEN: usize = 64;
const MAX_ENDPOINT_LEN: usize = 2048;

/// The properties of one bucket. Empty means "not set" (falls back to the start-up defaults).
///
/// Unknown fields are refused when deserializing, so a typo in a hand-edited registry file is an
/// error instead of a silently dropped setting.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BucketProps {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_bck: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_region: Option<String>,
    /// `auto`, `path` or `virtual`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addressing_style: Option<String>,
}

/// Which upstream endpoints the operator allows buckets to point at.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointPolicy {
    /// `None`: any host. Otherwise hostnames (any port) or `host:port` entries (that port only;
    /// an endpoint without a port has the scheme's default port, 80 or 443).
    pub allowlist: Option<Vec<String>>,
}

impl EndpointPolicy {
    /// Checks an already normalized endpoint (`scheme://host[:port]`) against the allowlist.
    fn check(&self, raw: &str, ep: &Endpoint) -> Result<(), RegistryError> {
        let Some(list) = &self.allowlist else {
            return Ok(());
        };
        let port = ep.effective_port();
        let allowed = list.iter().any(|entry| match split_allow_entry(entry) {
            Some((host, None)) => host == ep.host,
            Some((host, Some(p))) => host == ep.host && p == port,
            None => false,
        });
        if allowed {
            Ok(())
        } else {
            Err(invalid(format!(
                "{PROP_ENDPOINT} {raw:?} is not allowed: host {:?} is not in the endpoint allowlist",
                ep.host
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

fn unknown_prop(name: &str) -> RegistryError {
    invalid(format!(
        "unknown property {name:?} (known: {})",
        PROP_NAMES.join(", ")
    ))
}

impl BucketProps {
    /// The value of property `name` (one of [`PROP_NAMES`]); `None` when unset.
    pub fn get(&self, name: &str) -> Result<Option<&str>, RegistryError> {
        Ok(self.field(name)?.as_deref())
    }

    /// Validates, normalizes and sets property `name`; `""` clears it. Returns the old value.
    /// On error nothing changes.
    pub fn set(
        &mut self,
        name: &str,
        value: &str,
        policy: &EndpointPolicy,
    ) -> Result<Option<String>, RegistryError> {
        // Resolve the name first so an unknown name is reported even with an empty value.
        self.field(name)?;
        let next = if value.is_empty() {
            None
        } else {
            Some(validate_value(name, value, Some(policy))?)
        };
        let slot = self.field_mut(name)?;
        Ok(std::mem::replace(slot, next))
    }

    /// Every property as `(name, value)`, in [`PROP_NAMES`] order, `""` when unset.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        PROP_NAMES
            .iter()
            .map(|&name| {
                let value = self.get(name).ok().flatten().unwrap_or_default();
                (name, value.to_string())
            })
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

    /// Checks that every stored value is valid and already in normalized form (what [`set`]
    /// would have stored). The endpoint allowlist is not applied: it is a policy on changes,
    /// and values set before the allowlist was tightened stay readable.
    ///
    /// [`set`]: BucketProps::set
    pub fn validate_stored(&self) -> Result<(), RegistryError> {
        for name in PROP_NAMES {
            if let Some(value) = self.get(name)? {
                let normalized = validate_value(name, value, None)?;
                if normalized != value {
                    return Err(invalid(format!(
                        "{name} {value:?} is not in normalized form (expecting {normalized:?})"
                    )));
                }
            }
        }
        Ok(())
    }

    fn field(&self, name: &str) -> Result<&Option<String>, RegistryError> {
        Ok(match name {
            PROP_BACKEND_BCK => &self.backend_bck,
            PROP_ADDRESSING_STYLE => &self.addressing_style,
            PROP_CLOUD_REGION => &self.cloud_region,
            PROP_ENDPOINT => &self.endpoint,
            PROP_PROFILE => &self.profile,
            _ => return Err(unknown_prop(name)),
        })
    }

    fn field_mut(&mut self, name: &str) -> Result<&mut Option<String>, RegistryError> {
        Ok(match name {
            PROP_BACKEND_BCK => &mut self.backend_bck,
            PROP_ADDRESSING_STYLE => &mut self.addressing_style,
            PROP_CLOUD_REGION => &mut self.cloud_region,
            PROP_ENDPOINT => &mut self.endpoint,
            PROP_PROFILE => &mut self.profile,
            _ => return Err(unknown_prop(name)),
        })
    }
}

/// Validates a non-empty value of property `name` and returns its normalized form.
/// `policy` `None` skips the endpoint allowlist.
fn validate_value(
    name: &str,
    value: &str,
    policy: Option<&EndpointPolicy>,
) -> Result<String, RegistryError> {
    let etag = format!("invalid {name}");
    if value.trim() != value {
        return Err(invalid(format!(
            "{etag} {value:?}: leading/trailing whitespace"
        )));
    }
    match name {
        PROP_BACKEND_BCK => {
            parse_bucket_arg(value).map_err(|reason| invalid(format!("{etag} {value:?}: {reason}")))
        }
        PROP_PROFILE => {
            check_profile(value)
                .map_err(|reason| invalid(format!("{etag} {value:?}: {reason}")))?;
            Ok(value.to_string())
        }
        PROP_CLOUD_REGION => {
            check_region(value).map_err(|reason| invalid(format!("{etag} {value:?}: {reason}")))?;
            Ok(value.to_string())
        }
        PROP_ADDRESSING_STYLE => {
            if ADDRESSING_STYLES.contains(&value) {
                Ok(value.to_string())
            } else {
                Err(invalid(format!(
                    "{etag} {value:?}: expecting one of {}",
                    ADDRESSING_STYLES.join(", ")
                )))
            }
        }
        PROP_ENDPOINT => {
            let ep = Endpoint::parse(value)
                .map_err(|reason| invalid(format!("{etag} {value:?}: {reason}")))?;
            if let Some(policy) = policy {
                policy.check(value, &ep)?;
            }
            Ok(ep.to_string())
        }
        _ => Err(unknown_prop(name)),
    }
}

/// Validates an endpoint (`http(s)://host[:port]`) against `policy`; returns its normalized form.
pub fn validate_endpoint(value: &str, policy: &EndpointPolicy) -> Result<String, RegistryError> {
    validate_value(PROP_ENDPOINT, value, Some(policy))
}

fn check_profile(p: &str) -> Result<(), String> {
    if p.len() > MAX_PROFILE_LEN {
        return Err(format!("too long ({} > {MAX_PROFILE_LEN})", p.len()));
    }
    let ok = |c: char| c.is_ascii_alphanumeric() || "_-/.%@:+".contains(c);
    if let Some(c) = p.chars().find(|&c| !ok(c)) {
        return Err(format!(
            "invalid character {c:?} (expecting letters, digits and _-/.%@:+)"
        ));
    }
    Ok(())
}

fn check_region(r: &str) -> Result<(), String> {
    if r.len() > MAX_REGION_LEN {
        return Err(format!("too long ({} > {MAX_REGION_LEN})", r.len()));
    }
    let ok = r
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok || r.starts_with('-') || r.ends_with('-') {
        return Err("expecting lowercase letters, digits and dashes (e.g. us-east-1)".to_string());
    }
    Ok(())
}

/// Normalizes a bucket argument: `s3://abc`, `s3://abc/` and `abc` all give `abc`, which must be
/// a valid S3 bucket name (3-63 characters; lowercase letters, digits, dots and hyphens; starts
/// and ends with a letter or digit; no `..`; not shaped like an IPv4 address).
pub fn normalize_bucket_arg(s: &str) -> Result<String, RegistryError> {
    parse_bucket_arg(s).map_err(|reason| invalid(format!("invalid bucket {s:?}: {reason}")))
}

fn parse_bucket_arg(s: &str) -> Result<String, String> {
    let name = match s.split_once("://") {
        Some((scheme, rest)) => {
            if !scheme.eq_ignore_ascii_case("s3") {
                return Err(format!(
                    "unsupported provider {scheme:?} (expecting s3:// or a plain bucket name)"
                ));
            }
            let rest = rest.strip_suffix('/').unwrap_or(rest);
            if rest.contains('/') {
                return Err("expecting a bucket, not an object path".to_string());
            }
            rest
        }
        None => s,
    };
    check_bucket_name(name)?;
    Ok(name.to_string())
}

fn check_bucket_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("empty bucket name".to_string());
    }
    if !(3..=63).contains(&name.len()) {
        return Err(format!(
            "bucket name must be 3 to 63 characters long (got {})",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|&c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-'))
    {
        return Err(format!(
            "invalid character {c:?} in bucket name (expecting lowercase letters, digits, dots and hyphens)"
        ));
    }
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !alnum(name.chars().next()) || !alnum(name.chars().last()) {
        return Err("bucket name must start and end with a letter or digit".to_string());
    }
    if name.contains("..") {
        return Err("bucket name must not contain two adjacent dots".to_string());
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() || is_ip_shaped(name) {
        return Err("bucket name must not be formatted as an IP address".to_string());
    }
    Ok(())
}

/// Four dot-separated groups of digits (e.g. `192.168.5.4`, `999.1.1.1`).
fn is_ip_shaped(name: &str) -> bool {
    let groups: Vec<&str> = name.split('.').collect();
    groups.len() == 4
        && groups
            .iter()
            .all(|g| !g.is_empty() && g.len() <= 3 && g.chars().all(|c| c.is_ascii_digit()))
}

/// A parsed upstream endpoint: `scheme://host[:port]`, scheme and host lowercased.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Endpoint {
    scheme: &'static str,
    /// Hostname or IP; an IPv6 address without its brackets.
    host: String,
    port: Option<u16>,
}

impl Endpoint {
    fn parse(raw: &str) -> Result<Self, String> {
        if raw.len() > MAX_ENDPOINT_LEN {
            return Err(format!("too long ({} > {MAX_ENDPOINT_LEN})", raw.len()));
        }
        if let Some(c) = raw.chars().find(|c| c.is_control() || c.is_whitespace()) {
            return Err(format!("invalid character {c:?}"));
        }
        let scheme = url_scheme(raw);
        let scheme: &'static str = match scheme.to_ascii_lowercase().as_str() {
            "http" => "http",
            "https" => "https",
            _ => {
                return Err(format!(
                    "unsupported scheme {scheme:?} (expecting http or https)"
                ));
            }
        };
        let rest = &raw[scheme.len() + 1..];
        let Some(rest) = rest.strip_prefix("//") else {
            return Err("missing host".to_string());
        };
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.contains('@') {
            return Err("user info is not allowed".to_string());
        }
        let (host, port) = split_host_port(authority)?;
        if host.is_empty() {
            return Err("missing host".to_string());
        }
        check_host(&host)?;
        let path_end = tail.find(['?', '#']).unwrap_or(tail.len());
        let (path, suffix) = tail.split_at(path_end);
        if !path.is_empty() && path != "/" {
            return Err(format!("unexpected path {path:?} (expecting none)"));
        }
        if suffix.starts_with('?') {
            return Err("unexpected query".to_string());
        }
        if suffix.starts_with('#') {
            return Err("unexpected fragment".to_string());
        }
        Ok(Self { scheme, host, port })
    }

    fn effective_port(&self) -> u16 {
        self.port
            .unwrap_or(if self.scheme == "https" { 443 } else { 80 })
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://", self.scheme)?;
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        Ok(())
    }
}

/// The URL scheme the way Go's `url.Parse` finds it: letters first, then letters, digits, `+-.`,
/// up to the first `:`; anything else means "no scheme" (`""`).
fn url_scheme(raw: &str) -> &str {
    for (i, c) in raw.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' if i > 0 => return &raw[..i],
            _ => return "",
        }
    }
    ""
}

/// Splits `host[:port]` / `[v6][:port]`; the host comes back lowercased, without brackets.
fn split_host_port(authority: &str) -> Result<(String, Option<u16>), String> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err("missing ']' in host".to_string());
        };
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(format!("invalid IPv6 address {host:?}"));
        }
        match after {
            "" => (host, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err(format!("unexpected {after:?} after host")),
            },
        }
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        None | Some("") => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.chars().all(|c| c.is_ascii_digit()) => Some(n),
            _ => return Err(format!("invalid port {p:?}")),
        },
    };
    Ok((host.to_ascii_lowercase(), port))
}

fn check_host(host: &str) -> Result<(), String> {
    if host.contains(':') {
        return Ok(()); // IPv6, checked by split_host_port
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && l.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let trimmed = host.strip_suffix('.').unwrap_or(host);
    if host.len() > 253 || !trimmed.split('.').all(label_ok) {
        return Err(format!("invalid host {host:?}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any() -> EndpointPolicy {
        EndpointPolicy::default()
    }

    fn set_err(name: &str, value: &str) -> String {
        BucketProps::default()
            .set(name, value, &any())
            .unwrap_err()
            .to_string()
    }

    fn set_ok(name: &str, value: &str) -> String {
        let mut p = BucketProps::default();
        p.set(name, value, &any()).unwrap();
        p.get(name).unwrap().unwrap().to_string()
    }

    #[test]
    fn prop_names_are_sorted_and_unique() {
        let mut sorted = PROP_NAMES;
        sorted.sort_unstable();
        assert_eq!(sorted, PROP_NAMES);
        sorted.windows(2).for_each(|w| assert_ne!(w[0], w[1]));
    }

    #[test]
    fn url_scheme_matches_go() {
        assert_eq!(url_scheme("foo"), "");
        assert_eq!(url_scheme("http://x"), "http");
        assert_eq!(url_scheme("HTTPS://x"), "HTTPS");
        assert_eq!(url_scheme("localhost:9000"), "localhost");
        assert_eq!(url_scheme("9000:x"), "");
        assert_eq!(url_scheme("://x"), "");
        assert_eq!(url_scheme("s3+x://y"), "s3+x");
    }

    #[test]
    fn endpoint_defects_each_have_a_reason() {
        for (raw, reason) in [
            ("http://", "missing host"),
            ("http:x", "missing host"),
            ("http://:9000", "missing host"),
            ("http://u:p@x", "user info is not allowed"),
            ("http://x:0", "invalid port \"0\""),
            ("http://x:65536", "invalid port \"65536\""),
            ("http://x:+1", "invalid port \"+1\""),
            ("http://x/a", "unexpected path \"/a\" (expecting none)"),
            ("http://x//", "unexpected path \"//\" (expecting none)"),
            ("http://x/?a=b", "unexpected query"),
            ("http://x#f", "unexpected fragment"),
            ("http://[::1", "missing ']' in host"),
            ("http://[zz]:1", "invalid IPv6 address \"zz\""),
            ("http://a..b", "invalid host \"a..b\""),
            ("http://-a", "invalid host \"-a\""),
            ("http://a b", "invalid character ' '"),
        ] {
            assert_eq!(Endpoint::parse(raw).unwrap_err(), reason, "{raw}");
        }
    }

    #[test]
    fn endpoint_normalization() {
        for (raw, want) in [
            ("http://x", "http://x"),
            ("http://x/", "http://x"),
            ("HTTPS://S3.Example.COM:443/", "https://s3.example.com:443"),
            ("http://10.0.0.1:9000", "http://10.0.0.1:9000"),
            ("http://[::1]:9000/", "http://[::1]:9000"),
            ("http://x:", "http://x"),
        ] {
            assert_eq!(Endpoint::parse(raw).unwrap().to_string(), want, "{raw}");
        }
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
        for name in PROP_NAMES {
            assert_eq!(
                set_err(name, " path"),
                format!("invalid {name} \" path\": leading/trailing whitespace")
            );
        }
    }

    #[test]
    fn values_stored_by_set_revalidate_unchanged() {
        for (name, value) in [
            (PROP_BACKEND_BCK, "s3://abc/"),
            (PROP_ENDPOINT, "HTTP://Host:1/"),
            (PROP_PROFILE, "a/b@c"),
            (PROP_CLOUD_REGION, "eu-west-1"),
            (PROP_ADDRESSING_STYLE, "virtual"),
        ] {
            let stored = set_ok(name, value);
            let mut p = BucketProps::default();
            p.set(name, &stored, &any()).unwrap();
            p.validate_stored().unwrap();
        }
        let bad = BucketProps {
            endpoint: Some("http://x/".into()),
            ..Default::default()
        };
        assert_eq!(
            bad.validate_stored().unwrap_err().to_string(),
            "extra.aws.endpoint \"http://x/\" is not in normalized form (expecting \"http://x\")"
        );
    }

    proptest::proptest! {
        /// Whatever `set` accepts, it stores in a form that `set` and the loader accept unchanged.
        #[test]
        fn set_is_idempotent(idx in 0usize..5, value in proptest::prop_oneof![
            "[ -~]{0,40}",
            "([sS]3://)?[a-z0-9.-]{1,12}/?",
            "(HTTP|http|https|ftp)://[A-Za-z0-9.:\\[\\]-]{0,16}/?",
            "[a-zA-Z0-9_-]{1,12}",
        ]) {
            let name = PROP_NAMES[idx];
            let mut p = BucketProps::default();
            if p.set(name, &value, &any()).is_ok() {
                p.validate_stored().unwrap();
                let stored = p.get(name).unwrap().unwrap_or("").to_string();
                let mut q = BucketProps::default();
                q.set(name, &stored, &any()).unwrap();
                proptest::prop_assert_eq!(p, q);
            }
        }

        #[test]
        fn endpoints_roundtrip(host in "[a-z]([a-z0-9-]{0,9}[a-z0-9])?(\\.[a-z0-9]{1,5}){0,3}", port in proptest::option::of(1u16..), tls: bool) {
            let scheme = if tls { "https" } else { "http" };
            let raw = match port { Some(p) => format!("{scheme}://{host}:{p}/"), None => format!("{scheme}://{host}") };
            let ep = Endpoint::parse(&raw).unwrap();
            proptest::prop_assert_eq!(ep.to_string(), raw.trim_end_matches('/'));
        }
    }
}
