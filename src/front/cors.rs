//! Cross-origin requests from browsers, answered as S3 answers them from the bucket's CORS
//! configuration: the preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`,
//! unsigned) and the `Access-Control-*` headers of any request that names an `Origin`.
//!
//! s3s has neither, and forwarding cannot give them: the SDK sends no `Origin` upstream and
//! keeps no `Access-Control-*` header of the answer. So rebucket reads the bucket's rules from
//! its upstream (GetBucketCors with the bucket's own credentials, kept [`TTL`], forgotten when a
//! client changes them through rebucket) and applies S3's matching: the first rule whose
//! origins, methods and headers all allow the request. Requests without `Origin` (SDKs, CLIs)
//! cost nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{HeaderMap, HeaderValue, Method};
use s3s::dto::CORSRule;
use s3s::{Body, S3ErrorCode, S3Response, S3Result};

use super::error::FrontError;

/// Which buckets a read of CORS rules may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Any bucket, as an operation would (a bucket not registered yet is discovered): for
    /// requests the front let in.
    Any,
    /// Only buckets already registered; never starts discovery: for preflights, which are
    /// unsigned.
    Known,
}

/// Where the front reads a bucket's CORS rules: the bucket's upstream, as the gateway reaches
/// it. Narrow on purpose: CORS needs nothing else of the gateway.
#[async_trait::async_trait]
pub trait CorsRules: Send + Sync {
    /// The bucket's CORS rules as its upstream keeps them (`None`: it has no configuration);
    /// with [`Reach::Known`], `NoSuchBucket` for a bucket that is not registered.
    async fn cors_rules(&self, bucket: &str, reach: Reach) -> S3Result<Option<Vec<CORSRule>>>;
}

/// How long a bucket's rules are reused before they are read again (changes made through
/// rebucket apply at once; changes made straight on the upstream within this time).
const TTL: Duration = Duration::from_secs(5);

/// A bucket's CORS rules, `None` when it has no configuration.
type Rules = Option<Arc<Vec<CORSRule>>>;

/// What a read of a bucket's rules gave, as kept [`TTL`]: failures too, so that requests
/// (preflights above all, which are unsigned) cost the upstream at most one read per bucket
/// and period.
#[derive(Clone)]
enum Cached {
    Rules(Rules),
    NoSuchBucket,
    Unreadable,
}

/// The CORS rules of the front's buckets, read from their upstreams and kept [`TTL`].
pub struct Cors {
    source: Arc<dyn CorsRules>,
    cache: Mutex<HashMap<String, (Instant, Cached)>>,
}

impl Cors {
    pub fn new(source: Arc<dyn CorsRules>) -> Self {
        Self {
            source,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The bucket's rules, from the cache while fresh.
    async fn rules(&self, bucket: &str, reach: Reach) -> S3Result<Rules> {
        let cached = self
            .cache
            .lock()
            .expect("cors cache")
            .get(bucket)
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, c)| c.clone());
        match cached {
            Some(Cached::Rules(rules)) => return Ok(rules),
            Some(Cached::NoSuchBucket) => return Err(FrontError::CorsBucketNotFound.into()),
            Some(Cached::Unreadable) => return Err(FrontError::CorsRulesUnavailable.into()),
            None => {}
        }
        let res = self
            .source
            .cors_rules(bucket, reach)
            .await
            .map(|rules| rules.map(Arc::new));
        let cached = match &res {
            Ok(rules) => Cached::Rules(rules.clone()),
            // A bucket the registry does not know is not kept: a stream of guessed names
            // must not grow the cache.
            Err(e) if *e.code() == S3ErrorCode::NoSuchBucket && reach == Reach::Known => {
                return res;
            }
            Err(e) if *e.code() == S3ErrorCode::NoSuchBucket => Cached::NoSuchBucket,
            Err(_) => Cached::Unreadable,
        };
        let mut cache = self.cache.lock().expect("cors cache");
        cache.retain(|_, (at, _)| at.elapsed() < TTL);
        cache.insert(bucket.to_owned(), (Instant::now(), cached));
        res
    }

    /// Drops what is known of the bucket's rules (a client changed them).
    pub fn forget(&self, bucket: &str) {
        self.cache.lock().expect("cors cache").remove(bucket);
    }

    /// S3's answer to a preflight request for `bucket`: refused before anything is looked up
    /// without an `Origin`, and for a bucket without rules or an upstream that cannot say.
    /// Preflights are unsigned, so only rules already cached or of a registered bucket are
    /// read ([`Reach::Known`]): a preflight never starts discovery; a bucket rebucket does not
    /// know yet is answered as one that does not exist.
    pub async fn preflight(&self, bucket: &str, headers: &HeaderMap) -> S3Result<S3Response<Body>> {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let Some(origin) = header("origin").filter(|_| !bucket.is_empty()) else {
            return Err(FrontError::PreflightWithoutOrigin.into());
        };
        let rules = match self.rules(bucket, Reach::Known).await {
            Ok(Some(rules)) => rules,
            Ok(None) => return Err(FrontError::CorsNotEnabled.into()),
            Err(e) if *e.code() == S3ErrorCode::NoSuchBucket => {
                return Err(FrontError::CorsBucketNotFound.into());
            }
            Err(e) => return Err(e),
        };
        let Some(method) = header("access-control-request-method") else {
            return Err(FrontError::PreflightWithoutMethod.into());
        };
        // Names match without regard to case and are answered lowercase, in the order asked.
        let requested: Vec<String> = header("access-control-request-headers")
            .unwrap_or("")
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        let Some(rule) = matching(&rules, origin, method, &requested) else {
            return Err(FrontError::CorsNotAllowed.into());
        };
        let mut resp = S3Response::new(Body::empty());
        resp.headers = answer_headers(rule, origin);
        if !requested.is_empty() {
            set(
                &mut resp.headers,
                "access-control-allow-headers",
                &requested.join(", "),
            );
        }
        Ok(resp)
    }

    /// The `Access-Control-*` headers S3 adds to the answer to a `method` request from `origin`
    /// on `bucket` (none when no rule allows it, or the rules cannot be read). The request's
    /// headers are not checked, only its origin and method.
    pub async fn headers_for(&self, bucket: &str, method: &str, origin: &str) -> HeaderMap {
        match self.rules(bucket, Reach::Any).await {
            Ok(Some(rules)) => matching(&rules, origin, method, &[])
                .map(|rule| answer_headers(rule, origin))
                .unwrap_or_default(),
            Ok(None) => HeaderMap::new(),
            Err(e) => {
                tracing::debug!(bucket, error = %e, "CORS rules not read");
                HeaderMap::new()
            }
        }
    }
}

/// What CORS asks of a request through the front once it is answered: the `Access-Control-*`
/// headers for its `Origin`, and forgetting the bucket's rules when it changed them. The layer
/// applies it only to requests the front's checks let in (see `Verdict`): reading the rules
/// uses the bucket's upstream credentials.
pub struct FollowUp {
    cors: Arc<Cors>,
    bucket: String,
    method: String,
    origin: Option<String>,
    changes_rules: bool,
}

impl FollowUp {
    /// The follow-up `req` on `bucket` needs, if any (preflights are answered whole by
    /// [`Cors::preflight`]).
    pub fn of<B>(cors: &Arc<Cors>, req: &http::Request<B>, bucket: &str) -> Option<Self> {
        if bucket.is_empty() || req.method() == Method::OPTIONS {
            return None;
        }
        let origin = req
            .headers()
            .get(http::header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let changes_rules = matches!(*req.method(), Method::PUT | Method::DELETE)
            && req
                .uri()
                .query()
                .is_some_and(|q| q.split('&').any(|p| p.split('=').next() == Some("cors")));
        // S3 matches an actual request by the method it names in
        // `Access-Control-Request-Method`, if it sends one.
        let method = req
            .headers()
            .get("access-control-request-method")
            .and_then(|v| v.to_str().ok())
            .unwrap_or(req.method().as_str())
            .to_owned();
        (origin.is_some() || changes_rules).then(|| Self {
            cors: cors.clone(),
            bucket: bucket.to_owned(),
            method,
            origin,
            changes_rules,
        })
    }

    pub async fn apply(&self, resp: &mut http::Response<Body>) {
        if self.changes_rules {
            self.cors.forget(&self.bucket);
        }
        if let Some(origin) = &self.origin {
            let headers = self
                .cors
                .headers_for(&self.bucket, &self.method, origin)
                .await;
            resp.headers_mut().extend(headers);
        }
    }
}

/// The first rule that allows `origin`, `method` and every requested header (lowercase).
fn matching<'r>(
    rules: &'r [CORSRule],
    origin: &str,
    method: &str,
    requested: &[String],
) -> Option<&'r CORSRule> {
    rules.iter().find(|rule| {
        rule.allowed_origins.iter().any(|o| wildcard(o, origin))
            && rule.allowed_methods.iter().any(|m| m == method)
            && requested.iter().all(|h| {
                rule.allowed_headers
                    .iter()
                    .flatten()
                    .any(|a| wildcard(&a.to_ascii_lowercase(), h))
            })
    })
}

/// Whether `value` matches `pattern`, in which one `*` stands for any characters.
fn wildcard(pattern: &str, value: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == value,
        Some((head, tail)) => {
            value.len() >= head.len() + tail.len()
                && value.starts_with(head)
                && value.ends_with(tail)
        }
    }
}

/// The headers S3 answers a request allowed by `rule` with.
fn answer_headers(rule: &CORSRule, origin: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    if rule.allowed_origins.iter().any(|o| o == "*") {
        set(&mut h, "access-control-allow-origin", "*");
    } else {
        set(&mut h, "access-control-allow-origin", origin);
        set(&mut h, "access-control-allow-credentials", "true");
    }
    set(
        &mut h,
        "access-control-allow-methods",
        &rule.allowed_methods.join(", "),
    );
    if let Some(expose) = rule.expose_headers.as_ref().filter(|e| !e.is_empty()) {
        set(&mut h, "access-control-expose-headers", &expose.join(", "));
    }
    if let Some(age) = rule.max_age_seconds {
        set(&mut h, "access-control-max-age", &age.to_string());
    }
    set(
        &mut h,
        "vary",
        "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
    );
    h
}

/// Sets a header whose value came from a client or a bucket's rules (dropped if not a valid
/// header value).
fn set(h: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origins: &[&str], methods: &[&str], headers: &[&str]) -> CORSRule {
        CORSRule {
            allowed_origins: origins.iter().map(|s| (*s).to_owned()).collect(),
            allowed_methods: methods.iter().map(|s| (*s).to_owned()).collect(),
            allowed_headers: Some(headers.iter().map(|s| (*s).to_owned()).collect()),
            expose_headers: Some(vec!["ETag".to_owned()]),
            id: None,
            max_age_seconds: Some(600),
        }
    }

    #[test]
    fn the_first_rule_allowing_origin_method_and_headers_applies() {
        let rules = vec![
            rule(&["https://app.example"], &["GET"], &[]),
            rule(
                &["https://*.example"],
                &["GET", "PUT"],
                &["x-amz-*", "content-type"],
            ),
            rule(&["*"], &["GET"], &["*"]),
        ];
        let pick = |o, m, h: &[&str]| {
            let h: Vec<String> = h.iter().map(|h| h.to_ascii_lowercase()).collect();
            matching(&rules, o, m, &h).map(|r| rules.iter().position(|x| std::ptr::eq(x, r)))
        };
        assert_eq!(pick("https://app.example", "GET", &[]), Some(Some(0)));
        assert_eq!(
            pick("https://app.example", "GET", &["Content-Type"]),
            Some(Some(1)),
            "rule 0 allows no headers"
        );
        assert_eq!(
            pick("https://up.example", "PUT", &["X-Amz-Date", "content-type"]),
            Some(Some(1))
        );
        assert_eq!(pick("https://up.example", "PUT", &["authorization"]), None);
        assert_eq!(
            pick("https://other.test", "GET", &["anything"]),
            Some(Some(2))
        );
        assert_eq!(pick("https://other.test", "DELETE", &[]), None);
    }

    #[test]
    fn one_star_matches_any_run_of_characters() {
        assert!(wildcard("*", "https://x"));
        assert!(wildcard("https://*.example", "https://a.b.example"));
        assert!(!wildcard("https://*.example", "http://a.example"));
        assert!(!wildcard("https://*.example", "https://.exampl"));
        assert!(!wildcard("https://app.example", "https://app.example.evil"));
    }

    #[test]
    fn answers_name_the_origin_unless_any_origin_is_allowed() {
        let h = answer_headers(
            &rule(&["https://app.example"], &["GET", "PUT"], &[]),
            "https://app.example",
        );
        assert_eq!(h["access-control-allow-origin"], "https://app.example");
        assert_eq!(h["access-control-allow-credentials"], "true");
        assert_eq!(h["access-control-allow-methods"], "GET, PUT");
        assert_eq!(h["access-control-expose-headers"], "ETag");
        assert_eq!(h["access-control-max-age"], "600");
        let h = answer_headers(&rule(&["*"], &["GET"], &[]), "https://app.example");
        assert_eq!(h["access-control-allow-origin"], "*");
        assert!(!h.contains_key("access-control-allow-credentials"));
    }
}
