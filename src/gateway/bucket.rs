//! Bucket lifecycle and the bucket list: CreateBucket and DeleteBucket act on the bucket's own
//! upstream; ListBuckets shows the default upstream's buckets plus every registered bucket, with
//! the client's prefix, a registry user's grants and pages applied to that merged list. Also
//! the bucket's CORS rules, which the front applies to browsers' requests.

use crate::upstream::route::RouteCause;
use std::collections::BTreeSet;

use s3s::dto::*;
use s3s::{S3, S3ErrorCode, S3Request, S3Response, S3Result};

use super::Gateway;
use super::error::GatewayError;
use super::forward::send;
use crate::registry::{BucketProps, CallerGrants};
use crate::upstream::error;

impl Gateway {
    /// The bucket's CORS rules as its upstream keeps them (`None`: it has no configuration).
    /// Unless `discover`, only a registered bucket is asked for (else `NoSuchBucket`), and
    /// neither discovery nor a region look-up starts.
    pub async fn bucket_cors(
        &self,
        bucket: &str,
        discover: bool,
    ) -> S3Result<Option<Vec<CORSRule>>> {
        let input = GetBucketCorsInput {
            bucket: bucket.to_owned(),
            expected_bucket_owner: None,
        };
        let res = if discover {
            self.forward(input).await
        } else {
            if !self.registry().snapshot().buckets.contains_key(bucket) {
                return Err(GatewayError::NotRegistered.into());
            }
            self.forward_known(input).await
        };
        match res {
            Ok(resp) => Ok(resp.output.cors_rules),
            Err(e) if *e.code() == S3ErrorCode::NoSuchCORSConfiguration => Ok(None),
            // An upstream without CORS support (the embedded s3s-fs store) keeps no rules: its
            // buckets answer as S3 does for a bucket without a CORS configuration.
            Err(e) if *e.code() == S3ErrorCode::NotImplemented => Ok(None),
            Err(e) => Err(e),
        }
    }
}

/// How many pages of the default upstream's bucket list one ListBuckets reads (S3 pages hold
/// up to 10,000 buckets): a bound on the upstream calls one request can make.
const MAX_LIST_BUCKETS_PAGES: usize = 100;

pub async fn create_bucket(
    gw: &Gateway,
    req: S3Request<CreateBucketInput>,
) -> S3Result<S3Response<CreateBucketOutput>> {
    let bucket = req.input.bucket.clone();
    let out = gw.forward_lifecycle(req.input).await?;
    gw.bucket_created(&bucket);
    Ok(out)
}

/// CreateBucket's `Location` is `/<bucket>`, as S3 says for a path-style CreateBucket; some
/// S3s give a URL of the bucket on themselves instead, which is not the client's to use.
pub(super) fn created_location(output: &mut CreateBucketOutput, bucket: &str) {
    if output.location.is_some() {
        output.location = Some(format!("/{bucket}"));
    }
}

pub async fn delete_bucket(
    gw: &Gateway,
    req: S3Request<DeleteBucketInput>,
) -> S3Result<S3Response<DeleteBucketOutput>> {
    let bucket = req.input.bucket.clone();
    let out = gw.forward_lifecycle(req.input).await?;
    // Look-ups in flight found it before it went: none of them registers it again.
    gw.bucket_deleted(&bucket);
    // A registration that only recorded the region was discovery's: it goes with the bucket.
    // Properties an operator set stay, and apply again if the bucket comes back.
    let forget = bucket.clone();
    let res = gw
        .registry()
        .update_async(move |state| {
            if state.buckets.get(&forget).is_some_and(is_discovered_only) {
                state.buckets.remove(&forget);
            }
            Ok(())
        })
        .await;
    if let Err(e) = res {
        tracing::warn!(%bucket, error = %e, "cannot update the registry after DeleteBucket");
    }
    // With a shared registry, what this replica learned of the bucket is its own: it goes too.
    gw.registry().forget_learned(&bucket);
    Ok(out)
}

pub async fn list_buckets(
    gw: &Gateway,
    req: S3Request<ListBucketsInput>,
) -> S3Result<S3Response<ListBucketsOutput>> {
    let snapshot = gw.registry().snapshot();
    // A registry user sees only the buckets they hold a grant on (the front attaches their
    // grants); the operator's users see every bucket.
    let grants = req.extensions.get::<CallerGrants>().cloned();
    // With no default upstream (and the embedded fallback off) only registered buckets exist.
    let default_route = match gw
        .resolver()
        .route_props(&snapshot, "", &BucketProps::default())
    {
        Ok(route) => Some(route),
        Err(e) if matches!(*e.source, RouteCause::NoUpstream) => None,
        Err(e) => return Err(error::from_route(e)),
    };
    let ListBucketsInput {
        bucket_region,
        continuation_token,
        max_buckets,
        prefix,
    } = req.input;
    if max_buckets.is_some_and(|m| !(1..=10_000).contains(&m)) {
        return Err(GatewayError::InvalidMaxBuckets.into());
    }
    // The whole list, page by page as the upstream gives it: the registered buckets merge into
    // it, so the client's pages are cut here, after the merge.
    let mut page = ListBucketsInput {
        bucket_region,
        continuation_token: None,
        max_buckets: None,
        prefix: prefix.clone(),
    };
    let mut resp = S3Response::new(ListBucketsOutput::default());
    if let Some(default_route) = &default_route {
        let proxy = gw.proxy(default_route);
        let list = |page: ListBucketsInput| {
            send(
                default_route,
                "list_buckets",
                gw.metrics(),
                proxy.list_buckets(super::forward::upstream_request(page)),
            )
        };
        resp = list(page.clone()).await?;
        let mut pages = 1;
        while let Some(token) = resp.output.continuation_token.take() {
            if pages == MAX_LIST_BUCKETS_PAGES {
                tracing::warn!(
                    pages,
                    "ListBuckets: the default upstream has more pages than rebucket reads; \
                     the list is cut there"
                );
                break;
            }
            pages += 1;
            page.continuation_token = Some(token);
            let more = list(page.clone()).await?;
            resp.output.continuation_token = more.output.continuation_token;
            resp.output
                .buckets
                .get_or_insert_with(Vec::new)
                .extend(more.output.buckets.unwrap_or_default());
        }
    }
    let wanted = |name: &str| prefix.as_deref().is_none_or(|p| name.starts_with(p));
    let buckets = resp.output.buckets.get_or_insert_with(Vec::new);
    let listed: BTreeSet<String> = buckets.iter().filter_map(|b| b.name.clone()).collect();
    // Buckets with routing properties live elsewhere (or under another name); buckets that were
    // only discovered live on the default upstream, which listed them if they still exist.
    for (name, props) in &snapshot.buckets {
        if !listed.contains(name) && !is_discovered_only(props) {
            buckets.push(Bucket {
                name: Some(name.clone()),
                bucket_region: props.cloud_region.as_ref().map(ToString::to_string),
                creation_date: None,
            });
        }
    }
    // An upstream that ignores the prefix lists every bucket.
    buckets.retain(|b| b.name.as_deref().is_some_and(wanted));
    if let Some(CallerGrants(grants)) = &grants {
        buckets.retain(|b| b.name.as_deref().is_some_and(|n| grants.sees(n)));
    }
    buckets.sort_by(|a, b| a.name.cmp(&b.name));
    // The client's page: after the last name of its previous page (the token), at most
    // `max_buckets` long.
    if let Some(after) = continuation_token {
        buckets.retain(|b| b.name.as_deref().is_some_and(|n| n > after.as_str()));
    }
    if let Some(max) = max_buckets.and_then(|m| usize::try_from(m).ok())
        && buckets.len() > max
    {
        buckets.truncate(max);
        resp.output.continuation_token = buckets.last().and_then(|b| b.name.clone());
    }
    resp.output.prefix = prefix;
    Ok(resp)
}

/// Whether a registration holds nothing but the region discovery recorded.
fn is_discovered_only(props: &BucketProps) -> bool {
    *props
        == BucketProps {
            cloud_region: props.cloud_region.clone(),
            ..BucketProps::default()
        }
}
