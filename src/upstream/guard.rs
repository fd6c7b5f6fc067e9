//! Where upstream connections may go (server-side request forgery): the connect-time address
//! guard and the endpoint allowlist.
//!
//! An upstream endpoint can arrive from many places (`S3_ENDPOINT`, `AWS_ENDPOINT_URL[_S3]`, a
//! profile's `endpoint_url` and `services` sections, STS endpoints, bucket props, the registry
//! as it was at start) and a host name can resolve to anything, now or later (DNS rebinding).
//! So the checks are made where every upstream request is sent — S3 and STS alike go through
//! the one shared HTTP client — on the URL actually requested and the addresses actually
//! connected to:
//! - [`Destinations::refusal`] refuses a URL whose host is not in `endpoint_allowlist` (when one
//!   is set; the embedded store is exempt) or is a refused address written out (an IP literal
//!   is never resolved, so the resolver would not see it);
//! - the shared HTTP client resolves host names through [`GuardedResolver`], which drops
//!   refused addresses.
//!
//! Refused unless `allow_link_local` is set: IPv4 link-local `169.254.0.0/16` (RFC 3927, which
//! holds the cloud metadata services at `169.254.169.254`), IPv6 link-local `fe80::/10`
//! (RFC 4291 §2.5.6) and the EC2 instance metadata service's IPv6 address `fd00:ec2::254`
//! (AWS EC2 User Guide, "Instance metadata service"), also written as IPv4-mapped IPv6
//! addresses (RFC 4291 §2.5.5.2).

use std::net::{IpAddr, Ipv6Addr};

use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDns, ResolveDnsError};

use crate::registry::EndpointPolicy;

/// The EC2 instance metadata service's IPv6 address.
const EC2_METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);

/// Whether `ip` is an address upstream connections must not go to (without `allow_link_local`).
pub fn is_refused(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80 || v6 == EC2_METADATA_V6,
    }
}

/// An upstream destination refused by the guard; the error of the connection attempt.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// A link-local or metadata address (written out, or all a name resolves to).
    #[error(
        "refused to connect to {0}: link-local and cloud metadata addresses are not upstreams \
         (set allow_link_local = true to allow them)"
    )]
    LinkLocal(String),
    /// A host outside `endpoint_allowlist`.
    #[error("refused to connect to {0}: the host is not in the endpoint allowlist")]
    NotAllowed(String),
}

/// Where upstream requests may go.
#[derive(Debug, Clone, Default)]
pub struct Destinations {
    /// `allow_link_local`.
    pub allow_link_local: bool,
    /// `endpoint_allowlist`.
    pub allowlist: EndpointPolicy,
    /// `host:port`s always allowed: the embedded store's.
    pub exempt: Vec<String>,
}

impl Destinations {
    /// Why a request to `uri` must not be sent, if it must not (host names are checked again
    /// once resolved, by [`GuardedResolver`]).
    pub fn refusal(&self, uri: &str) -> Option<Refused> {
        let uri: http::Uri = uri.parse().ok()?;
        let host = uri.host()?.to_ascii_lowercase();
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(&host);
        if !self.allow_link_local
            && let Ok(ip) = bare.parse::<IpAddr>()
            && is_refused(ip)
        {
            return Some(Refused::LinkLocal(ip.to_string()));
        }
        let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
            Some("https") => 443,
            _ => 80,
        });
        let exempt = self.exempt.iter().any(|e| *e == format!("{host}:{port}"));
        if !exempt && !self.allowlist.allows(bare, port) {
            return Some(Refused::NotAllowed(format!("{host}:{port}")));
        }
        None
    }
}

/// The system resolver (`getaddrinfo`, through tokio), keeping only addresses the guard allows;
/// a name that resolves to refused addresses only fails to connect with [`Refused`].
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver;

impl GuardedResolver {
    /// Keeps the allowed addresses of what `name` resolved to.
    fn keep_allowed(name: &str, addrs: Vec<IpAddr>) -> Result<Vec<IpAddr>, ResolveDnsError> {
        let total = addrs.len();
        let allowed: Vec<IpAddr> = addrs.into_iter().filter(|ip| !is_refused(*ip)).collect();
        if allowed.is_empty() && total > 0 {
            return Err(ResolveDnsError::new(Refused::LinkLocal(format!(
                "{name} (it resolves to refused addresses only)"
            ))));
        }
        if allowed.len() < total {
            tracing::warn!(
                host = name,
                refused = total - allowed.len(),
                "upstream host resolves to link-local or metadata addresses; those are skipped"
            );
        }
        Ok(allowed)
    }
}

impl ResolveDns for GuardedResolver {
    fn resolve_dns<'a>(&'a self, name: &'a str) -> DnsFuture<'a> {
        DnsFuture::new(async move {
            let addrs: Vec<IpAddr> = tokio::net::lookup_host((name, 0))
                .await
                .map_err(ResolveDnsError::new)?
                .map(|a| a.ip())
                .collect();
            Self::keep_allowed(name, addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{Destinations, GuardedResolver, Refused, is_refused};
    use crate::registry::EndpointPolicy;
    use std::net::IpAddr;

    fn refused_literal(uri: &str) -> Option<Refused> {
        Destinations::default().refusal(uri)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn link_local_and_metadata_addresses_are_refused_and_others_are_not() {
        for refused in [
            "169.254.169.254",
            "169.254.0.1",
            "fe80::1",
            "febf::1",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
        ] {
            assert!(is_refused(ip(refused)), "{refused}");
        }
        for allowed in [
            "127.0.0.1",
            "10.0.0.1",
            "169.255.0.1",
            "::1",
            "fec0::1",
            "fd00:ec2::253",
            "192.168.1.1",
        ] {
            assert!(!is_refused(ip(allowed)), "{allowed}");
        }
    }

    #[test]
    fn an_ip_literal_endpoint_is_refused_before_any_connection() {
        assert!(refused_literal("http://[fe80::1]:9000/b/k").is_some());
        assert!(refused_literal("http://169.254.169.254/latest").is_some());
        assert!(refused_literal("https://[fd00:ec2::254]/").is_some());
        assert!(refused_literal("http://127.0.0.1:9000/b").is_none());
        assert!(refused_literal("https://s3.us-east-1.amazonaws.com/b").is_none());
    }

    #[test]
    fn the_allowlist_applies_to_every_url_and_names_under_an_entry() {
        let d = Destinations {
            allow_link_local: false,
            allowlist: EndpointPolicy {
                allowlist: Some(vec![
                    "minio.internal:9000".into(),
                    "amazonaws.com".into(),
                    "10.0.0.5".into(),
                ]),
            },
            exempt: vec!["127.0.0.1:4567".into()],
        };
        for allowed in [
            "http://minio.internal:9000/b/k",
            "https://s3.us-east-1.amazonaws.com/b",
            "https://bucket.s3.eu-west-1.amazonaws.com/k",
            "http://10.0.0.5/b",
            "http://127.0.0.1:4567/b",
        ] {
            assert!(d.refusal(allowed).is_none(), "{allowed}");
        }
        for refused in [
            "http://minio.internal:9001/b",
            "http://evilamazonaws.com/b",
            "http://amazonaws.com.evil.example/b",
            "http://127.0.0.1:4568/b",
            "http://x.10.0.0.5/b",
            "https://sts.example.com/",
        ] {
            assert!(
                matches!(d.refusal(refused), Some(Refused::NotAllowed(_))),
                "{refused}"
            );
        }
        // With no allowlist, any host but link-local ones.
        assert!(
            Destinations::default()
                .refusal("https://sts.example.com/")
                .is_none()
        );
    }

    #[test]
    fn a_name_resolving_to_metadata_addresses_only_is_refused() {
        let err =
            GuardedResolver::keep_allowed("evil.test", vec![ip("169.254.169.254")]).unwrap_err();
        let text = format!("{}", std::error::Error::source(&err).unwrap());
        assert!(text.contains("evil.test"), "{text}");
        let kept =
            GuardedResolver::keep_allowed("mixed.test", vec![ip("fe80::1"), ip("127.0.0.1")])
                .unwrap();
        assert_eq!(kept, vec![ip("127.0.0.1")]);
    }

    #[tokio::test]
    async fn names_still_resolve_through_the_guard() {
        use aws_smithy_runtime_api::client::dns::ResolveDns;
        let addrs = GuardedResolver.resolve_dns("localhost").await.unwrap();
        assert!(addrs.iter().all(|a| a.is_loopback()), "{addrs:?}");
    }
}
