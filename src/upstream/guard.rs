//! The connect-time address guard of upstream connections (server-side request forgery).
//!
//! An upstream endpoint can arrive from many places (environment, AWS profiles, bucket props,
//! the registry) and a host name can resolve to anything, now or later (DNS rebinding). So the
//! check is made where every upstream connection is opened, on the addresses actually
//! connected to: the shared HTTP client resolves host names through [`GuardedResolver`], which
//! drops refused addresses, and [`refused_literal`] refuses a URL whose host is such an address
//! written out (an IP literal is never resolved, so the resolver would not see it).
//!
//! Refused unless `allow_link_local` is set: IPv4 link-local `169.254.0.0/16` (RFC 3927, which
//! holds the cloud metadata services at `169.254.169.254`), IPv6 link-local `fe80::/10`
//! (RFC 4291 §2.5.6) and the EC2 instance metadata service's IPv6 address `fd00:ec2::254`
//! (AWS EC2 User Guide, "Instance metadata service"), also written as IPv4-mapped IPv6
//! addresses (RFC 4291 §2.5.5.2).

use std::net::{IpAddr, Ipv6Addr};

use aws_smithy_runtime_api::client::dns::{DnsFuture, ResolveDns, ResolveDnsError};

/// The EC2 instance metadata service's IPv6 address.
const EC2_METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254);

/// Whether `ip` is an address upstream connections must not go to (without `allow_link_local`).
pub fn is_refused(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80 || v6 == EC2_METADATA_V6,
    }
}

/// An upstream address refused by the guard; the error of the connection attempt.
#[derive(Debug, thiserror::Error)]
#[error(
    "refused to connect to {what}: link-local and cloud metadata addresses are not upstreams \
     (set allow_link_local = true to allow them)"
)]
pub struct Refused {
    what: String,
}

/// The refusal for `uri` when its host is an IP literal the guard refuses (host names are
/// checked once resolved, by [`GuardedResolver`]).
pub fn refused_literal(uri: &str) -> Option<Refused> {
    let uri: http::Uri = uri.parse().ok()?;
    let host = uri.host()?;
    let ip: IpAddr = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
        .parse()
        .ok()?;
    is_refused(ip).then(|| Refused {
        what: ip.to_string(),
    })
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
            return Err(ResolveDnsError::new(Refused {
                what: format!("{name} (it resolves to refused addresses only)"),
            }));
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
    use super::{GuardedResolver, is_refused, refused_literal};
    use std::net::IpAddr;

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
