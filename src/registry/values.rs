//! The value types of bucket properties, each checked once by its constructor (`FromStr`) and
//! trusted from then on: [`BucketName`], [`ProfileName`], [`Region`], [`Endpoint`] and
//! [`Anonymous`] (the addressing style is [`crate::profiles::AddressingStyle`]).
//!
//! Each type `Display`s (and serializes as) its normalized form, so a value written out reads
//! back unchanged; the string newtypes deref to that `str`. A refusal is an [`InvalidValue`]
//! whose text is the bare reason (`unsupported scheme "" (expecting http or https)`); the
//! property model prefixes it with the property name and the value given.

use std::fmt;
use std::ops::Deref;
use std::str::FromStr;

use crate::profiles::parser::{IDENTIFIER_PUNCTUATION, is_identifier_char};

/// Why a value was refused; the text is meant for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidValue(pub(super) String);

const MAX_PROFILE_LEN: usize = 128;
const MAX_REGION_LEN: usize = 64;
const MAX_ENDPOINT_LEN: usize = 2048;

/// `Display`, `Deref<Target = str>`, `AsRef<str>` and `Serialize` (as that string) for a
/// newtype whose field `$field` holds its normalized text.
macro_rules! normalized_text {
    ($t:ty, $field:tt) => {
        impl $t {
            /// The normalized text.
            pub fn as_str(&self) -> &str {
                &self.$field
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.$field)
            }
        }
        impl Deref for $t {
            type Target = str;
            fn deref(&self) -> &str {
                &self.$field
            }
        }
        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                &self.$field
            }
        }
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.$field)
            }
        }
    };
}

/// A newtype over its normalized text whose `FromStr` is `$parse` (`&str` -> normalized text or
/// the reason it is refused).
macro_rules! string_value {
    ($t:ident, $parse:path) => {
        normalized_text!($t, 0);
        impl FromStr for $t {
            type Err = InvalidValue;
            fn from_str(s: &str) -> Result<Self, InvalidValue> {
                $parse(s).map(Self).map_err(InvalidValue)
            }
        }
    };
}

/// A valid S3 bucket name (3-63 characters; lowercase letters, digits, dots and hyphens; starts
/// and ends with a letter or digit; no `..`; not shaped like an IPv4 address), per
/// <https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html>.
///
/// `FromStr` also takes the `s3://` argument form: `s3://abc`, `s3://abc/` and `abc` all give
/// `abc`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BucketName(String);

string_value!(BucketName, parse_bucket_arg);

fn parse_bucket_arg(s: &str) -> Result<String, String> {
    let name = strip_bucket_scheme(s)?;
    check_bucket_name(name)?;
    Ok(name.to_owned())
}

/// The bucket of an `s3://bucket[/]` argument, or the argument itself when it has no scheme.
pub(super) fn strip_bucket_scheme(s: &str) -> Result<&str, String> {
    Ok(match s.split_once("://") {
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
    })
}

pub(super) fn check_bucket_name(name: &str) -> Result<(), String> {
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

/// The name of a profile in the AWS shared files: an identifier in the files' grammar (letters,
/// digits and `_-/.%@:+`), at most 128 characters. Whether such a profile exists is not checked.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProfileName(String);

string_value!(ProfileName, parse_profile_name);

fn parse_profile_name(p: &str) -> Result<String, String> {
    if p.is_empty() {
        return Err("empty profile name".to_string());
    }
    if p.len() > MAX_PROFILE_LEN {
        return Err(format!("too long ({} > {MAX_PROFILE_LEN})", p.len()));
    }
    if let Some(c) = p.chars().find(|&c| !is_identifier_char(c)) {
        return Err(format!(
            "invalid character {c:?} (expecting letters, digits and {IDENTIFIER_PUNCTUATION})"
        ));
    }
    Ok(p.to_owned())
}

/// An upstream region name: lowercase letters, digits and inner dashes, at most 64 characters
/// (e.g. `us-east-1`; other S3 implementations use names such as `auto` too).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Region(String);

string_value!(Region, parse_region);

fn parse_region(r: &str) -> Result<String, String> {
    if r.len() > MAX_REGION_LEN {
        return Err(format!("too long ({} > {MAX_REGION_LEN})", r.len()));
    }
    let ok = r
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if r.is_empty() || !ok || r.starts_with('-') || r.ends_with('-') {
        return Err("expecting lowercase letters, digits and dashes (e.g. us-east-1)".to_string());
    }
    Ok(r.to_owned())
}

/// An upstream endpoint, `http(s)://host[:port]` with no user info, path, query or fragment.
/// Normalized: scheme and host lowercased, a trailing `/` dropped, an empty port dropped.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// The normalized text, `scheme://host[:port]` (an IPv6 host in brackets).
    text: String,
    scheme: &'static str,
    /// Hostname or IP; an IPv6 address without its brackets.
    host: String,
    port: Option<u16>,
}

normalized_text!(Endpoint, text);

impl Endpoint {
    /// `http` or `https`.
    pub fn scheme(&self) -> &'static str {
        self.scheme
    }

    /// The host, lowercased; an IPv6 address without its brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port given, if any.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The port given, else the scheme's default (80 or 443).
    pub fn effective_port(&self) -> u16 {
        self.port
            .unwrap_or(if self.scheme == "https" { 443 } else { 80 })
    }
}

impl FromStr for Endpoint {
    type Err = InvalidValue;

    fn from_str(raw: &str) -> Result<Self, InvalidValue> {
        parse_endpoint(raw).map_err(InvalidValue)
    }
}

fn parse_endpoint(raw: &str) -> Result<Endpoint, String> {
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
    let mut text = format!("{scheme}://");
    if host.contains(':') {
        text.push_str(&format!("[{host}]"));
    } else {
        text.push_str(&host);
    }
    if let Some(port) = port {
        text.push_str(&format!(":{port}"));
    }
    Ok(Endpoint {
        text,
        scheme,
        host,
        port,
    })
}

/// The URL scheme the way Go's `url.Parse` finds it (<https://pkg.go.dev/net/url#Parse>):
/// letters first, then letters, digits, `+-.`, up to the first `:`; anything else means
/// "no scheme" (`""`).
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

    fn endpoint_err(raw: &str) -> String {
        raw.parse::<Endpoint>().unwrap_err().to_string()
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
            assert_eq!(endpoint_err(raw), reason, "{raw}");
        }
    }

    #[test]
    fn endpoint_normalization_and_parts() {
        for (raw, want) in [
            ("http://x", "http://x"),
            ("http://x/", "http://x"),
            ("HTTPS://S3.Example.COM:443/", "https://s3.example.com:443"),
            ("http://10.0.0.1:9000", "http://10.0.0.1:9000"),
            ("http://[::1]:9000/", "http://[::1]:9000"),
            ("http://x:", "http://x"),
        ] {
            let ep: Endpoint = raw.parse().unwrap();
            assert_eq!(ep.to_string(), want, "{raw}");
            assert_eq!(&*ep, want, "{raw}");
            assert_eq!(ep.as_str().parse::<Endpoint>().unwrap(), ep, "{raw}");
        }
        let ep: Endpoint = "HTTPS://[::1]".parse().unwrap();
        assert_eq!(
            (ep.scheme(), ep.host(), ep.port(), ep.effective_port()),
            ("https", "::1", None, 443)
        );
        let ep: Endpoint = "http://h:9000".parse().unwrap();
        assert_eq!((ep.port(), ep.effective_port()), (Some(9000), 9000));
    }

    #[test]
    fn names_and_regions() {
        let b: BucketName = "S3://my.bucket-01/".parse().unwrap();
        assert_eq!(b.as_str(), "my.bucket-01");
        assert_eq!(
            "ab".parse::<BucketName>().unwrap_err().to_string(),
            "bucket name must be 3 to 63 characters long (got 2)"
        );
        assert_eq!(
            "".parse::<ProfileName>().unwrap_err().to_string(),
            "empty profile name"
        );
        assert_eq!(&*"a/b@c".parse::<ProfileName>().unwrap(), "a/b@c");
        assert!("".parse::<Region>().is_err());
        assert_eq!("auto".parse::<Region>().unwrap().to_string(), "auto");
    }

    #[test]
    fn values_serialize_as_their_normalized_text() {
        let ep: Endpoint = "HTTP://H:1/".parse().unwrap();
        assert_eq!(serde_json::to_string(&ep).unwrap(), "\"http://h:1\"");
        let b: BucketName = "s3://abc".parse().unwrap();
        assert_eq!(serde_json::to_string(&b).unwrap(), "\"abc\"");
    }

    proptest::proptest! {
        #[test]
        fn endpoints_roundtrip(host in "[a-z]([a-z0-9-]{0,9}[a-z0-9])?(\\.[a-z0-9]{1,5}){0,3}", port in proptest::option::of(1u16..), tls: bool) {
            let scheme = if tls { "https" } else { "http" };
            let raw = match port { Some(p) => format!("{scheme}://{host}:{p}/"), None => format!("{scheme}://{host}") };
            let ep: Endpoint = raw.parse().unwrap();
            proptest::prop_assert_eq!(ep.to_string(), raw.trim_end_matches('/'));
        }
    }
}

/// What unsigned callers may do in one bucket (the `anonymous` property), beside the front's
/// global `allow_anonymous`.
///
/// - `off`: nothing of the bucket's own (the default; setting it clears the property);
/// - `read`: what needs the `read` [`Permission`] (GET, HEAD, List*, Get*), served with the
///   bucket's credentials, as for a public dataset;
/// - `forward`: every operation, sent upstream unsigned (never with the bucket's credentials),
///   so that the upstream's own ACLs and bucket policy decide, as for a client talking to it
///   directly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Anonymous {
    Off,
    Read,
    Forward,
}

impl Anonymous {
    /// Every value, in the order messages list them.
    pub const ALL: [Anonymous; 3] = [Anonymous::Off, Anonymous::Read, Anonymous::Forward];

    /// The operator-facing name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Anonymous::Off => "off",
            Anonymous::Read => "read",
            Anonymous::Forward => "forward",
        }
    }
}

impl fmt::Display for Anonymous {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl serde::Serialize for Anonymous {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl FromStr for Anonymous {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| InvalidValue("expecting one of off, read, forward".to_owned()))
    }
}

/// What a grant lets a front user do in a bucket. `admin` includes `read` and `write`.
///
/// - `read`: reading objects and the bucket's state (GET, HEAD, List*, Get*);
/// - `write`: changing objects (PUT, POST, Delete*, multipart uploads, the target of a copy,
///   an object's tags, ACL, retention and legal hold);
/// - `admin`: changing the bucket itself (CreateBucket, DeleteBucket, and Put*/Delete* of its
///   subresources: policy, CORS, lifecycle, versioning, tagging, object lock configuration, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    Read,
    Write,
    Admin,
}

impl Permission {
    /// Every permission, in the order each includes more.
    pub const ALL: [Permission; 3] = [Permission::Read, Permission::Write, Permission::Admin];

    /// The operator-facing name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::Write => "write",
            Permission::Admin => "admin",
        }
    }

    /// Whether holding `self` allows what needs `needed`.
    pub fn covers(self, needed: Permission) -> bool {
        self == Permission::Admin || self == needed
    }

    /// Whether what needs `self` changes anything (every permission but `read`).
    pub fn changes(self) -> bool {
        self != Permission::Read
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Permission {
    type Err = InvalidValue;
    fn from_str(s: &str) -> Result<Self, InvalidValue> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| InvalidValue(format!("expecting read, write or admin, not {s:?}")))
    }
}

impl serde::Serialize for Permission {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Permission {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
