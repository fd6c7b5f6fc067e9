//! Upstream requests sent without credentials: those of an unsigned caller that the front let
//! into a bucket whose `anonymous` property is `forward`, so that the upstream's own ACLs and
//! bucket policy decide, as they would for a client talking to it directly
//! (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html>,
//! <https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-policies.html>).
//!
//! The front decides, per operation and per bucket it names (a copy names two), and marks the
//! request with [`Unsigned`], a request extension naming those buckets. Each `S3` method of the
//! gateway runs inside its request's mark ([`Unsigned::scope`]) (`ops.rs`), so every route the
//! operation makes for a marked bucket ([`Gateway::route`](super::Gateway::route)) has no
//! credentials: another `UpstreamKey`, hence a client of its own that signs nothing. Such a
//! route starts no discovery and no region look-up (both would use the bucket's credentials
//! and write the registry on the caller's behalf).

use std::collections::BTreeSet;
use std::future::Future;

use crate::profiles::CredentialSource;
use crate::upstream::route::Route;

tokio::task_local! {
    static CURRENT: Unsigned;
}

/// The buckets (client names) whose upstream requests one request makes unsigned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Unsigned {
    buckets: BTreeSet<String>,
}

impl Unsigned {
    /// Marks `extensions`' request: its upstream requests for `bucket` go unsigned.
    pub fn mark(extensions: &mut http::Extensions, bucket: &str) {
        match extensions.get_mut::<Unsigned>() {
            Some(u) => {
                u.buckets.insert(bucket.to_owned());
            }
            None => {
                let mut u = Unsigned::default();
                u.buckets.insert(bucket.to_owned());
                extensions.insert(u);
            }
        }
    }

    /// Whether `extensions`' request is marked for `bucket`.
    pub fn marks(extensions: &http::Extensions, bucket: &str) -> bool {
        extensions
            .get::<Unsigned>()
            .is_some_and(|u| u.buckets.contains(bucket))
    }

    /// The mark of `extensions`' request (none: an empty one).
    pub(super) fn of(extensions: &http::Extensions) -> Self {
        extensions.get::<Unsigned>().cloned().unwrap_or_default()
    }

    /// Runs `fut` (one operation of the gateway) with this mark.
    pub(super) fn scope<F: Future>(self, fut: F) -> impl Future<Output = F::Output> {
        CURRENT.scope(self, fut)
    }

    /// Whether the current operation sends `bucket`'s requests unsigned.
    pub(super) fn applies(bucket: &str) -> bool {
        CURRENT
            .try_with(|u| u.buckets.contains(bucket))
            .unwrap_or(false)
    }

    /// Takes the credentials off `route` if the current operation sends its bucket's requests
    /// unsigned; returns whether it did.
    pub(super) fn apply(route: &mut Route) -> bool {
        let unsigned = Self::applies(&route.bucket);
        if unsigned {
            route.key.credentials = CredentialSource::Anonymous;
        }
        unsigned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_the_marked_buckets_of_the_current_operation_go_unsigned() {
        let mut ext = http::Extensions::new();
        Unsigned::mark(&mut ext, "open");
        Unsigned::mark(&mut ext, "also");
        assert!(Unsigned::marks(&ext, "open") && Unsigned::marks(&ext, "also"));
        assert!(!Unsigned::marks(&ext, "closed"));
        assert!(!Unsigned::applies("open"), "outside any operation");
        let inside = Unsigned::of(&ext)
            .scope(async {
                (
                    Unsigned::applies("open"),
                    Unsigned::applies("also"),
                    Unsigned::applies("closed"),
                )
            })
            .await;
        assert_eq!(inside, (true, true, false));
        let unmarked = Unsigned::of(&http::Extensions::new())
            .scope(async { Unsigned::applies("open") })
            .await;
        assert!(!unmarked);
    }
}
