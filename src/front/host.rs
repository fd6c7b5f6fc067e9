//! Which bucket a request's Host names (virtual-hosted-style addressing).

use std::borrow::Cow;

/// Virtual-hosted-style addressing on the front: `<bucket>.<domain>[:port]` names a bucket;
/// `<domain>` and every other host name (`localhost`, the machine's name, ...) are path style.
/// (s3s's `MultiDomain` neither strips the port nor leaves unknown hosts path style.)
pub struct FrontHost {
    domains: Vec<String>,
}

impl FrontHost {
    pub fn new(domains: &[String]) -> Self {
        Self {
            domains: domains
                .iter()
                .map(|d| d.trim_end_matches('.').to_ascii_lowercase())
                .collect(),
        }
    }

    /// The bucket a host names, if it is `<bucket>.<domain>`, and the domain.
    pub fn split<'a>(&'a self, host: &str) -> Option<(&'a str, Option<String>)> {
        let name = match host.rsplit_once(':') {
            Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
                name
            }
            _ => host,
        };
        let name = name.trim_end_matches('.');
        // Compared without case and without a lowercased copy: this runs for every request.
        self.domains.iter().find_map(|d| {
            if name.eq_ignore_ascii_case(d) {
                return Some((d.as_str(), None));
            }
            let cut = name.len().checked_sub(d.len() + 1)?;
            let (bucket, dot_domain) = name.as_bytes().split_at(cut);
            if dot_domain[0] != b'.' || !dot_domain[1..].eq_ignore_ascii_case(d.as_bytes()) {
                return None;
            }
            // `cut` is the byte of an ASCII dot, so a character boundary.
            let bucket = std::str::from_utf8(bucket).ok()?;
            Some((d.as_str(), Some(bucket.to_ascii_lowercase())))
        })
    }
}

impl FrontHost {
    /// The bucket and key a request addresses (empty when it names none), and whether its
    /// Host named the bucket. The key stays as the path spells it (percent-encoded).
    pub fn bucket_and_key<'p>(&self, host: &str, path: &'p str) -> (Cow<'p, str>, &'p str, bool) {
        let path = path.trim_start_matches('/');
        match self.split(host) {
            Some((_, Some(bucket))) => (Cow::Owned(bucket), path, true),
            _ => {
                let (bucket, key) = path.split_once('/').unwrap_or((path, ""));
                (Cow::Borrowed(bucket), key, false)
            }
        }
    }
}

impl s3s::host::S3Host for FrontHost {
    fn parse_host_header<'a>(&'a self, host: &'a str) -> s3s::S3Result<s3s::host::VirtualHost<'a>> {
        Ok(match self.split(host) {
            Some((domain, Some(bucket))) => s3s::host::VirtualHost::new(domain).with_bucket(bucket),
            Some((domain, None)) => s3s::host::VirtualHost::new(domain),
            None => s3s::host::VirtualHost::new(host),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::FrontHost;

    #[test]
    fn front_host_names_buckets_only_under_its_domains() {
        let h = FrontHost::new(&["s3.example.test".to_owned()]);
        assert_eq!(
            h.split("abc.s3.example.test:8080"),
            Some(("s3.example.test", Some("abc".to_owned())))
        );
        assert_eq!(
            h.split("a.b.s3.example.test"),
            Some(("s3.example.test", Some("a.b".to_owned())))
        );
        assert_eq!(
            h.split("S3.Example.Test:80"),
            Some(("s3.example.test", None))
        );
        assert_eq!(h.split("localhost:8080"), None);
        assert_eq!(h.split("xs3.example.test"), None);
        assert_eq!(
            h.split("My-Bucket.S3.EXAMPLE.test.:9000"),
            Some(("s3.example.test", Some("my-bucket".to_owned())))
        );
        assert_eq!(
            h.split(".s3.example.test"),
            Some(("s3.example.test", Some(String::new())))
        );
        // Hosts that are not ASCII or shorter than the domain are compared, never sliced
        // apart inside a character.
        assert_eq!(
            h.split("é.s3.example.test"),
            Some(("s3.example.test", Some("é".to_owned())))
        );
        assert_eq!(h.split("éééééééé3.example.test"), None);
        assert_eq!(h.split("ex"), None);
        assert_eq!(h.split(""), None);
    }

    #[test]
    fn path_style_buckets_are_borrowed_from_the_path() {
        let h = FrontHost::new(&["s3.example.test".to_owned()]);
        let (bucket, key, virtual_hosted) = h.bucket_and_key("127.0.0.1:9000", "/abc/d/e");
        assert!(matches!(bucket, std::borrow::Cow::Borrowed("abc")));
        assert_eq!((key, virtual_hosted), ("d/e", false));
        let (bucket, key, virtual_hosted) = h.bucket_and_key("Abc.s3.example.test", "/d/e");
        assert_eq!((&*bucket, key, virtual_hosted), ("abc", "d/e", true));
    }
}
