//! The gateway's own address as the client used it. Answers that hand out a URL (the
//! `Location` of CompleteMultipartUpload) address the object through rebucket — the scheme and
//! `Host` of the client's request, its bucket name, virtual-hosted or path style as the client
//! addressed the bucket — never through the upstream, whose address is not the client's to use.

/// How a request reached the front; the server attaches it to every S3 request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrontOrigin {
    /// `http` or `https`.
    pub scheme: &'static str,
    /// The `Host` the client sent (`host[:port]`).
    pub host: String,
    /// Whether the host named the bucket (`<bucket>.<domain>`).
    pub virtual_hosted: bool,
}

impl FrontOrigin {
    /// The origin of a request with these headers (and the URI's authority, for HTTP/2).
    /// `virtual_hosted` is the front's verdict on the host. The front itself speaks plain HTTP;
    /// behind a TLS-terminating proxy the client used https, which the proxy says in
    /// `X-Forwarded-Proto`.
    pub fn of(headers: &http::HeaderMap, uri: &http::Uri, virtual_hosted: bool) -> Option<Self> {
        let host = headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| uri.authority().map(|a| a.as_str()))?;
        let https = headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
        Some(Self {
            scheme: if https { "https" } else { "http" },
            host: host.to_owned(),
            virtual_hosted,
        })
    }

    /// The URL of `key` in `bucket`, as S3 writes it: the key percent-encoded but for `/`.
    pub fn object_url(&self, bucket: &str, key: &str) -> String {
        let key = encode_key(key);
        if self.virtual_hosted {
            format!("{}://{}/{key}", self.scheme, self.host)
        } else {
            format!("{}://{}/{bucket}/{key}", self.scheme, self.host)
        }
    }
}

/// The object URL for an answer: through the front the client used, or — when the request
/// carries no origin — the path `/<bucket>/<key>` relative to it.
pub fn object_url(origin: Option<&FrontOrigin>, bucket: &str, key: &str) -> String {
    match origin {
        Some(o) => o.object_url(bucket, key),
        None => format!("/{bucket}/{}", encode_key(key)),
    }
}

/// What S3 leaves unencoded in an object URL: RFC 3986 unreserved characters and `/`.
const KEY_SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Percent-encodes everything but RFC 3986 unreserved characters and `/`.
fn encode_key(key: &str) -> String {
    percent_encoding::utf8_percent_encode(key, KEY_SET).to_string()
}

#[cfg(test)]
mod tests {
    use super::{FrontOrigin, object_url};

    #[test]
    fn addresses_objects_as_the_client_addressed_the_front() {
        let mut h = http::HeaderMap::new();
        h.insert("host", "127.0.0.1:9000".parse().unwrap());
        let uri = http::Uri::from_static("/b/k");
        let path = FrontOrigin::of(&h, &uri, false).unwrap();
        assert_eq!(
            path.object_url("b", "dir/a b+ü%.txt"),
            "http://127.0.0.1:9000/b/dir/a%20b%2B%C3%BC%25.txt"
        );
        h.insert("host", "b.s3.example.test:9000".parse().unwrap());
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        let vhost = FrontOrigin::of(&h, &uri, true).unwrap();
        assert_eq!(
            vhost.object_url("b", "k"),
            "https://b.s3.example.test:9000/k"
        );
        assert_eq!(object_url(None, "b", "a b"), "/b/a%20b");
        // HTTP/2: no Host header, the authority is in the URI.
        let h2 = http::Uri::from_static("http://localhost:9000/b/k");
        let o = FrontOrigin::of(&http::HeaderMap::new(), &h2, false).unwrap();
        assert_eq!(o.host, "localhost:9000");
    }
}
