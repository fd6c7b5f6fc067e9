//! SigV4 header signing of the lean path's upstream requests, the derived key cached.
//!
//! The lean path (`gateway::lean`) signs every request it sends, so signing is on its hot
//! path. `aws-sigv4` rebuilds the request's headers into a second map to canonicalize them and
//! derives the signing key (four HMACs) on every call, about a quarter of a lean request's
//! allocations. Here the canonical request is written into one buffer straight from the
//! request's headers, and the signing key, which depends only on the secret, the day, the region
//! and the service, is derived once per day and region and kept in a small per-thread cache.
//!
//! What is signed is what `aws-sigv4` signs with the settings the SDK uses for S3 (AWS General
//! Reference, "Create a canonical request for Signature Version 4"; Amazon S3 API Reference,
//! "Signature Calculations for the Authorization Header"): the path as sent (encoded once, not
//! normalized), the query decoded as a form and each name and value encoded again, sorted;
//! every header but `authorization`, `user-agent`, `x-amzn-trace-id` and `transfer-encoding`,
//! values trimmed and inner runs of spaces collapsed, repeated values joined by commas; `host`
//! from the URI when the request has none (its port only when not the scheme's default). The
//! tests check it against `aws-sigv4` itself.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::time::SystemTime;

use http::header::{self, HeaderName, HeaderValue};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest, Sha256};

use crate::profiles::StaticCredentials;

/// The headers SigV4 implementations leave unsigned: set by signing itself, or changed on the
/// way (aws-sigv4's `SigningSettings::default`).
const UNSIGNED_HEADERS: [&str; 4] = [
    "authorization",
    "user-agent",
    "x-amzn-trace-id",
    "transfer-encoding",
];

/// What a query name or value escapes in the canonical query: all but RFC 3986's unreserved
/// characters.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// How many signing keys each thread keeps (one per credential and region in use).
const CACHED_KEYS: usize = 8;

/// A request SigV4 cannot sign as it is (it goes the SDK's way instead).
#[derive(Debug, thiserror::Error)]
#[error("cannot sign the upstream request: {0}")]
pub struct SignError(String);

/// Signs `req` for `s3` in `region` with `credentials` at `now`, its payload hash being
/// `payload_hash` (what `x-amz-content-sha256` says): sets `x-amz-content-sha256`,
/// `x-amz-date`, `x-amz-security-token` when there is a session token, and `authorization`.
/// Fails on a header value that is not visible ASCII, which SigV4 cannot sign as sent.
pub fn sign<B>(
    req: &mut http::Request<B>,
    credentials: &StaticCredentials,
    region: &str,
    payload_hash: &'static str,
    now: SystemTime,
) -> Result<(), SignError> {
    let (date_time, date) = format_time(now);
    let headers = req.headers_mut();
    headers.remove(header::AUTHORIZATION);
    headers.insert(
        "x-amz-content-sha256",
        HeaderValue::from_static(payload_hash),
    );
    headers.insert(
        "x-amz-date",
        HeaderValue::from_str(&date_time).expect("digits and letters"),
    );
    if let Some(token) = &credentials.session_token {
        let mut value = HeaderValue::from_str(token)
            .map_err(|_| SignError("the session token is not a header value".into()))?;
        value.set_sensitive(true);
        headers.insert("x-amz-security-token", value);
    }

    let mut creq = String::with_capacity(512);
    let mut signed = String::with_capacity(128);
    canonical_request(req, payload_hash, &mut creq, &mut signed)?;

    let scope = format!("{date}/{region}/s3/aws4_request");
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{date_time}\n{scope}\n{}",
        hex::encode(Sha256::digest(creq.as_bytes()))
    );
    let key = signing_key(&credentials.secret_access_key, now, &date, region);
    let signature = aws_sigv4::sign::v4::calculate_signature(key, string_to_sign.as_bytes());
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed}, Signature={signature}",
        credentials.access_key_id
    );
    let authorization = HeaderValue::try_from(authorization)
        .map_err(|_| SignError("the access key id is not a header value".into()))?;
    req.headers_mut()
        .insert(header::AUTHORIZATION, authorization);
    Ok(())
}

/// Writes `req`'s canonical request into `creq` and its signed header names into `signed`.
fn canonical_request<B>(
    req: &http::Request<B>,
    payload_hash: &str,
    creq: &mut String,
    signed: &mut String,
) -> Result<(), SignError> {
    let uri = req.uri();
    creq.push_str(req.method().as_str());
    creq.push('\n');
    creq.push_str(uri.path());
    creq.push('\n');
    canonical_query(uri.query().unwrap_or_default(), creq);
    creq.push('\n');

    let headers = req.headers();
    let mut names: Vec<&str> = headers
        .keys()
        .map(HeaderName::as_str)
        .filter(|n| !UNSIGNED_HEADERS.contains(n))
        .collect();
    let host = if headers.contains_key(header::HOST) {
        None
    } else {
        names.push("host");
        let default_port = matches!(
            (uri.scheme_str(), uri.port_u16()),
            (Some("http"), Some(80)) | (Some("https"), Some(443))
        );
        let host = if default_port {
            uri.host()
        } else {
            uri.authority().map(|a| a.as_str())
        };
        Some(host.ok_or_else(|| SignError("the URI has no host".into()))?)
    };
    names.sort_unstable();
    for name in &names {
        creq.push_str(name);
        creq.push(':');
        match (*name, host) {
            ("host", Some(host)) => creq.push_str(host),
            _ => {
                for (i, value) in headers.get_all(*name).iter().enumerate() {
                    let value = value
                        .to_str()
                        .map_err(|_| SignError(format!("header {name} is not visible ASCII")))?;
                    if i > 0 {
                        creq.push(',');
                    }
                    push_trimmed(value, creq);
                }
            }
        }
        creq.push('\n');
    }
    creq.push('\n');
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            signed.push(';');
        }
        signed.push_str(name);
    }
    creq.push_str(signed);
    creq.push('\n');
    creq.push_str(payload_hash);
    Ok(())
}

/// Appends the canonical form of `query`: decoded as a form (`+` is a space), each name and
/// value encoded again, the pairs sorted by their encoded forms.
fn canonical_query(query: &str, out: &mut String) {
    if query.is_empty() {
        return;
    }
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| {
            (
                utf8_percent_encode(&k, QUERY).to_string(),
                utf8_percent_encode(&v, QUERY).to_string(),
            )
        })
        .collect();
    pairs.sort_unstable();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
}

/// Appends `value` without its leading and trailing spaces, each inner run of spaces as one
/// (spaces only, as S3 trims them).
fn push_trimmed(value: &str, out: &mut String) {
    let mut space = false;
    for c in value.trim_matches(' ').chars() {
        if c == ' ' {
            if !space {
                out.push(' ');
            }
            space = true;
        } else {
            out.push(c);
            space = false;
        }
    }
}

/// `now` as SigV4 writes it: `YYYYMMDDTHHMMSSZ` and `YYYYMMDD`, in UTC.
fn format_time(now: SystemTime) -> (String, String) {
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    let date = format!("{y:04}{m:02}{d:02}");
    let mut date_time = String::with_capacity(16);
    let _ = write!(
        date_time,
        "{date}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    (date_time, date)
}

/// The proleptic Gregorian date of `days` since 1970-01-01 (H. Hinnant, "chrono-Compatible
/// Low-Level Date Algorithms", `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// A signing key and what it was derived from.
struct CachedKey {
    secret: String,
    date: String,
    region: String,
    key: [u8; 32],
}

thread_local! {
    static KEYS: RefCell<Vec<CachedKey>> = const { RefCell::new(Vec::new()) };
}

/// The SigV4 signing key of `secret` for `s3` in `region` on `date` (the day of `now`), from
/// this thread's cache or derived (and cached, the oldest entry giving way).
fn signing_key(secret: &str, now: SystemTime, date: &str, region: &str) -> [u8; 32] {
    KEYS.with_borrow_mut(|keys| {
        if let Some(hit) = keys
            .iter()
            .find(|k| k.date == date && k.region == region && k.secret == secret)
        {
            return hit.key;
        }
        let derived = aws_sigv4::sign::v4::generate_signing_key(secret, now, region, "s3");
        let mut key = [0; 32];
        key.copy_from_slice(derived.as_ref());
        if keys.len() == CACHED_KEYS {
            keys.remove(0);
        }
        keys.push(CachedKey {
            secret: secret.to_owned(),
            date: date.to_owned(),
            region: region.to_owned(),
            key,
        });
        key
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use aws_credential_types::Credentials;
    use aws_sigv4::http_request::{
        PayloadChecksumKind, PercentEncodingMode, SignableBody, SignableRequest, SigningSettings,
        UriPathNormalizationMode, sign as sigv4_sign,
    };
    use aws_sigv4::sign::v4;
    use proptest::prelude::*;

    use super::*;

    const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    /// `req` signed by `aws-sigv4` with the settings the SDK uses for S3.
    fn reference(
        mut req: http::Request<()>,
        credentials: &StaticCredentials,
        region: &str,
        payload_hash: &'static str,
        now: SystemTime,
    ) -> http::Request<()> {
        req.headers_mut().insert(
            "x-amz-content-sha256",
            HeaderValue::from_static(payload_hash),
        );
        let identity = Credentials::new(
            &credentials.access_key_id,
            &credentials.secret_access_key,
            credentials.session_token.clone(),
            None,
            "test",
        )
        .into();
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        settings.percent_encoding_mode = PercentEncodingMode::Single;
        settings.uri_path_normalization_mode = UriPathNormalizationMode::Disabled;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name("s3")
            .time(now)
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let uri = req.uri().to_string();
        let headers: Vec<(String, String)> = req
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        let signable = SignableRequest::new(
            req.method().as_str(),
            uri.as_str(),
            headers.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            SignableBody::Precomputed(payload_hash.to_owned()),
        )
        .unwrap();
        let (instructions, _) = sigv4_sign(signable, &params).unwrap().into_parts();
        instructions.apply_to_request_http1x(&mut req);
        req
    }

    fn request(method: &str, uri: &str, headers: &[(&str, &str)]) -> http::Request<()> {
        let mut req = http::Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        req.body(()).unwrap()
    }

    fn keys(token: Option<&str>) -> StaticCredentials {
        StaticCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: token.map(str::to_owned),
        }
    }

    /// Signs `req` both ways and compares every header of the results.
    fn assert_same(
        req: http::Request<()>,
        credentials: &StaticCredentials,
        region: &str,
        payload_hash: &'static str,
        now: SystemTime,
    ) {
        let expected = reference(req.clone(), credentials, region, payload_hash, now);
        let mut ours = req;
        sign(&mut ours, credentials, region, payload_hash, now).unwrap();
        assert_eq!(
            ours.headers(),
            expected.headers(),
            "{} {}",
            ours.method(),
            ours.uri()
        );
    }

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn signatures_are_those_aws_sigv4_computes() {
        let uris = [
            "http://127.0.0.1:9000/bucket/key",
            "http://127.0.0.1:80/bucket/a%20b/c%2Bd",
            "https://bucket.s3.eu-west-3.amazonaws.com:443/k%C3%A9y~x",
            "https://bucket.s3.amazonaws.com/",
            "http://[::1]:8333/bucket/?list-type=2&prefix=a+b&delimiter=%2F",
            "http://localhost:9000/bucket/?continuation-token=abc%3D%3D&max-keys=1000&list-type=2",
            "http://localhost:9000/bucket/part?partNumber=3&uploadId=x~y_z.-",
            "http://localhost:9000/bucket/?a&b=&a=0&a=",
            "http://localhost:9000/bucket/?prefix=%E2%82%AC%20%2A&encoding-type=url",
            "http://localhost:9000/bucket/?k=%ZZ&j=%",
            "http://localhost:9000/bucket/?&&x=1&",
            "http://localhost:9000/bucket/key?",
        ];
        let headers: [&[(&str, &str)]; 5] = [
            &[],
            &[("range", "bytes=0-99")],
            &[
                ("x-amz-meta-note", "  two  spaces   inside  "),
                ("content-type", "text/plain; charset=utf-8 "),
                ("user-agent", "aws-cli/2"),
                ("x-amzn-trace-id", "Root=1"),
                ("transfer-encoding", "chunked"),
            ],
            &[
                ("x-amz-meta-a", "1"),
                ("x-amz-meta-a", " 2 "),
                ("if-match", "\"e\""),
            ],
            &[
                ("host", "other.example:1234"),
                ("authorization", "AWS4-HMAC-SHA256 old"),
                ("x-amz-date", "20000101T000000Z"),
                ("tab", "a\tb"),
            ],
        ];
        let times = [
            0,
            951_868_799,   // 2000-02-29T23:59:59Z
            1_709_251_199, // 2024-02-29T23:59:59Z
            1_709_251_200, // 2024-03-01T00:00:00Z
            1_798_761_599, // 2026-12-31T23:59:59Z
            4_107_542_400, // 2100-03-01T00:00:00Z
        ];
        let mut cases = 0;
        for uri in uris {
            for h in headers {
                for (i, secs) in times.iter().enumerate() {
                    let method = ["GET", "HEAD", "PUT"][i % 3];
                    let token = (i % 2 == 1).then_some("FwoGZXIvYXdzEB0aDH/+=token");
                    let region = ["us-east-1", "eu-west-3", "garage"][i % 3];
                    let payload = if method == "PUT" {
                        "UNSIGNED-PAYLOAD"
                    } else {
                        EMPTY
                    };
                    let req = request(method, uri, h);
                    assert_same(req, &keys(token), region, payload, at(*secs));
                    cases += 1;
                }
            }
        }
        assert_eq!(cases, 360);
    }

    #[test]
    fn cached_keys_follow_the_secret_the_day_and_the_region() {
        let req = request("GET", "http://127.0.0.1:9000/b/k", &[]);
        let sign_all = |secrets: &[&str], now: SystemTime| {
            for secret in secrets {
                for region in ["us-east-1", "eu-west-1"] {
                    let credentials = StaticCredentials {
                        access_key_id: "AK".into(),
                        secret_access_key: (*secret).into(),
                        session_token: None,
                    };
                    assert_same(req.clone(), &credentials, region, EMPTY, now);
                }
            }
        };
        // As many secrets × regions as the cache holds, signed again within the day (from
        // the cache), then on the next day, then more than the cache holds, alternating:
        // every signature is the one derived afresh.
        let four = ["s1", "s2", "s3", "s4"];
        for second in 0..3 {
            sign_all(&four, at(1_798_761_597 + second));
        }
        sign_all(&four, at(1_798_761_600));
        for _ in 0..2 {
            sign_all(&["s1", "s2", "s3", "s4", "s5"], at(1_798_761_600));
        }
        KEYS.with_borrow(|keys| assert_eq!(keys.len(), CACHED_KEYS));
    }

    #[test]
    fn a_header_sigv4_cannot_sign_is_refused() {
        let mut req = request("GET", "http://127.0.0.1:9000/b/k", &[]);
        req.headers_mut().insert(
            "x-amz-meta-n",
            HeaderValue::from_bytes("caf\u{e9}".as_bytes()).unwrap(),
        );
        let err = sign(&mut req, &keys(None), "us-east-1", EMPTY, at(0)).unwrap_err();
        assert!(err.to_string().contains("x-amz-meta-n"), "{err}");
    }

    #[test]
    fn dates_are_written_in_utc() {
        assert_eq!(
            format_time(at(0)),
            ("19700101T000000Z".into(), "19700101".into())
        );
        assert_eq!(
            format_time(at(1_709_251_199)),
            ("20240229T235959Z".into(), "20240229".into())
        );
        assert_eq!(
            format_time(at(4_107_542_400)),
            ("21000301T000000Z".into(), "21000301".into())
        );
    }

    fn header_value() -> impl Strategy<Value = String> {
        "[ -~\t]{0,24}"
    }

    fn query_part() -> impl Strategy<Value = String> {
        "[a-zA-Z0-9 %+=&/~._*é-]{0,12}"
    }

    proptest! {
        #[test]
        fn any_visible_request_is_signed_as_aws_sigv4_signs_it(
            values in proptest::collection::vec(header_value(), 0..6),
            query in proptest::collection::vec((query_part(), query_part()), 0..5),
            secs in 0u64..5_000_000_000,
            token in proptest::option::of("[A-Za-z0-9/+=]{1,40}"),
        ) {
            let names = ["x-amz-meta-a", "range", "x-amz-meta-a", "content-type", "if-none-match", "x-amz-meta-b"];
            let encoded: Vec<String> = query
                .iter()
                .map(|(k, v)| {
                    let k = utf8_percent_encode(k, QUERY);
                    // Values go as a client may send them: `+` and `%` left raw half the time.
                    if v.len() % 2 == 0 { format!("{k}={}", utf8_percent_encode(v, QUERY)) } else { format!("{k}={}", v.replace(['&', '=', ' ', '/', '~', 'é'], "")) }
                })
                .collect();
            let uri = format!("http://127.0.0.1:9000/bucket/key?{}", encoded.join("&"));
            let mut req = request("GET", &uri, &[]);
            for (name, value) in names.iter().zip(&values) {
                req.headers_mut().append(*name, HeaderValue::from_str(value).unwrap());
            }
            let expected = reference(req.clone(), &keys(token.as_deref()), "eu-central-1", EMPTY, at(secs));
            sign(&mut req, &keys(token.as_deref()), "eu-central-1", EMPTY, at(secs)).unwrap();
            prop_assert_eq!(req.headers(), expected.headers());
        }
    }
}
