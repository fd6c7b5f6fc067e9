//! What unsigned callers may do: everything everywhere when the operator opted in
//! (`allow_anonymous`), else only in buckets whose `anonymous` property opens them — `read`
//! (operations that need the `read` permission, served with the bucket's credentials, as for a
//! public dataset) or `forward` (every operation on that bucket, sent upstream unsigned, so that
//! the upstream's own ACLs and bucket policy decide). A bucket's own property, when set, decides
//! for that bucket even when `allow_anonymous` is on; operations that name no bucket
//! (ListBuckets) stay refused to anonymous callers unless `allow_anonymous`.
//!
//! Decided from the registry's current snapshot only: never a discovery look-up, never an
//! upstream call, never a registry write, so an unsigned request to a bucket the property does
//! not open costs nothing.

use std::sync::Arc;

use s3s::S3Result;

use super::error::FrontError;
use crate::gateway::Unsigned;
use crate::registry::{Anonymous, Permission, Registry};

/// What an unsigned caller may do in one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reach {
    /// Nothing.
    Closed,
    /// What needs `read`, with the bucket's credentials (`anonymous=read`).
    Read,
    /// Everything, with the bucket's credentials (`allow_anonymous`).
    Everything,
    /// Everything, sent upstream unsigned (`anonymous=forward`).
    Forward,
}

impl Reach {
    fn covers(self, needed: Permission) -> bool {
        match self {
            Reach::Closed => false,
            Reach::Read => needed == Permission::Read,
            Reach::Everything | Reach::Forward => true,
        }
    }
}

/// The front's rules for unsigned callers (see the module doc).
#[derive(Clone)]
pub struct AnonymousAccess {
    /// `allow_anonymous`.
    everywhere: bool,
    registry: Arc<Registry>,
}

impl AnonymousAccess {
    pub fn new(allow_anonymous: bool, registry: Arc<Registry>) -> Self {
        Self {
            everywhere: allow_anonymous,
            registry,
        }
    }

    /// What an unsigned caller may do in `bucket` (`None`: an operation that names none).
    fn reach(&self, bucket: Option<&str>) -> Reach {
        let own = bucket.and_then(|b| {
            self.registry
                .snapshot()
                .buckets
                .get(b)
                .and_then(|p| p.anonymous)
        });
        match own {
            Some(Anonymous::Read) => Reach::Read,
            Some(Anonymous::Forward) => Reach::Forward,
            Some(Anonymous::Off) | None if self.everywhere => Reach::Everything,
            Some(Anonymous::Off) | None => Reach::Closed,
        }
    }

    /// Whether an unsigned request naming `bucket` gets past the first check (before its
    /// operation's input is read): whether it may do anything there.
    pub fn lets_in(&self, bucket: Option<&str>) -> bool {
        self.reach(bucket) != Reach::Closed
    }

    /// Whether an unsigned caller may do what needs `needed` in `bucket`, without recording
    /// anything (for the refusal of unsigned POST forms before their file is read).
    pub fn permits(&self, bucket: Option<&str>, needed: Permission) -> bool {
        self.reach(bucket).covers(needed)
    }

    /// Whether an unsigned caller may do what needs `needed` in `bucket`; when the bucket is
    /// `forward`, marks the request ([`Unsigned`]) so the gateway sends its upstream requests
    /// for that bucket unsigned. Refused: `403 AccessDenied`.
    pub fn allow(
        &self,
        bucket: Option<&str>,
        needed: Permission,
        extensions: &mut http::Extensions,
    ) -> S3Result<()> {
        let reach = self.reach(bucket);
        if !reach.covers(needed) {
            return Err(FrontError::AnonymousDenied.into());
        }
        if let (Reach::Forward, Some(bucket)) = (reach, bucket) {
            Unsigned::mark(extensions, bucket);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{BucketProps, EndpointPolicy, PropKey};

    fn registry(props: &[(&str, &str)]) -> (tempfile::TempDir, Arc<Registry>) {
        let dir = tempfile::tempdir().unwrap();
        let reg = Registry::open(dir.path()).unwrap();
        for (bucket, value) in props {
            reg.update(|s| {
                let mut p = BucketProps::default();
                p.set(PropKey::Anonymous, value, &EndpointPolicy::default())?;
                s.buckets.insert((*bucket).to_owned(), p);
                Ok(())
            })
            .unwrap();
        }
        (dir, Arc::new(reg))
    }

    #[test]
    fn a_bucket_prop_opens_that_bucket_only_and_as_far_as_it_says() {
        let (_dir, reg) = registry(&[("pub", "read"), ("fwd", "forward")]);
        let anon = AnonymousAccess::new(false, reg);
        let mut ext = http::Extensions::new();
        assert!(anon.lets_in(Some("pub")) && anon.lets_in(Some("fwd")));
        assert!(!anon.lets_in(Some("other")) && !anon.lets_in(None));
        assert!(anon.allow(Some("pub"), Permission::Read, &mut ext).is_ok());
        for needed in [Permission::Write, Permission::Admin] {
            let err = anon.allow(Some("pub"), needed, &mut ext).unwrap_err();
            assert_eq!(*err.code(), s3s::S3ErrorCode::AccessDenied);
            assert!(anon.allow(Some("fwd"), needed, &mut ext).is_ok());
            assert!(!anon.permits(Some("pub"), needed));
        }
        assert!(
            anon.allow(Some("other"), Permission::Read, &mut ext)
                .is_err()
        );
        assert!(anon.allow(None, Permission::Read, &mut ext).is_err());
        assert!(Unsigned::marks(&ext, "fwd"));
        assert!(!Unsigned::marks(&ext, "pub"), "read is served signed");
    }

    #[test]
    fn allow_anonymous_opens_the_buckets_without_a_prop_of_their_own() {
        let (_dir, reg) = registry(&[("pub", "read"), ("fwd", "forward")]);
        let anon = AnonymousAccess::new(true, reg);
        let mut ext = http::Extensions::new();
        assert!(anon.lets_in(None) && anon.lets_in(Some("other")));
        assert!(
            anon.allow(Some("other"), Permission::Admin, &mut ext)
                .is_ok()
        );
        assert!(anon.allow(None, Permission::Read, &mut ext).is_ok());
        assert!(
            anon.allow(Some("pub"), Permission::Write, &mut ext)
                .is_err()
        );
        assert!(anon.allow(Some("fwd"), Permission::Write, &mut ext).is_ok());
        assert!(!Unsigned::marks(&ext, "other"));
        assert!(Unsigned::marks(&ext, "fwd"));
    }
}
