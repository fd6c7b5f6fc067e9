//! Who signed a request, and what they may do.
//!
//! Two kinds of front users: the operator's own (the config file's `[[users]]`,
//! `REBUCKET_ACCESS_KEY`/`REBUCKET_SECRET_KEY`, or the generated pair), each allowed everything
//! in every bucket as before there were grants; and the registry's users (`rebucket user ...`),
//! each allowed what their grants cover. An access key is looked up among the operator's first.
//! The registry's users are read from its current snapshot on every call, so a user added,
//! rotated, granted, revoked or removed counts from the next request on.
//!
//! On top of the grants, a bucket with `read_only=true` refuses every operation that changes
//! something ([`Permission::changes`]) to every caller, the operator's users included.

use std::collections::HashMap;
use std::sync::Arc;

use s3s::auth::{Credentials, SecretKey};

use super::error::FrontError;
use crate::registry::{FrontUser, Grants, Permission, Registry, RegistryState};

/// The front's users (see the module doc).
pub struct Callers {
    /// The operator's users: access key → secret key.
    operators: HashMap<String, String>,
    registry: Arc<Registry>,
}

/// Who a request's caller is, for one decision.
#[derive(Debug, Clone, Copy)]
enum Who<'a> {
    /// Unsigned (let in by `allow_anonymous`).
    Anonymous,
    /// One of the operator's users.
    Operator,
    /// A registry user, with the secret the request was signed with.
    User(&'a FrontUser),
    /// Signed with a key no user holds now (removed or rotated since the signature check).
    Gone,
}

impl Callers {
    pub fn new(operators: &[crate::config::User], registry: Arc<Registry>) -> Self {
        Self {
            operators: operators
                .iter()
                .map(|u| (u.access_key.clone(), u.secret_key.clone()))
                .collect(),
            registry,
        }
    }

    /// The secret of `access_key`: an operator's user's, else a registry user's now.
    pub fn secret(&self, access_key: &str) -> Option<SecretKey> {
        if let Some(secret) = self.operators.get(access_key) {
            return Some(secret.as_str().into());
        }
        self.registry
            .snapshot()
            .user_by_access_key(access_key)
            .map(|(_, u)| u.secret_key.expose().into())
    }

    /// Whether `caller` may do what needs `needed` in `bucket` (`None`: an operation that names
    /// no bucket); `403 AccessDenied` if not.
    pub fn allow(
        &self,
        caller: Option<&Credentials>,
        bucket: Option<&str>,
        needed: Permission,
    ) -> Result<(), FrontError> {
        let state = self.registry.snapshot();
        decide(&state, self.who(&state, caller), bucket, needed)
    }

    /// The grants of `caller` when it is a registry user (ListBuckets shows them only the
    /// buckets they hold a grant on); `None` for the operator's users and anonymous callers.
    pub fn grants(&self, caller: Option<&Credentials>) -> Option<Grants> {
        let state = self.registry.snapshot();
        match self.who(&state, caller) {
            Who::User(u) => Some(u.grants.clone()),
            Who::Gone => Some(Grants::default()),
            Who::Anonymous | Who::Operator => None,
        }
    }

    fn who<'s>(&self, state: &'s RegistryState, caller: Option<&Credentials>) -> Who<'s> {
        let Some(caller) = caller else {
            return Who::Anonymous;
        };
        if self.operators.contains_key(&caller.access_key) {
            // s3s checked the signature with this user's secret (looked up first).
            return Who::Operator;
        }
        match state.user_by_access_key(&caller.access_key) {
            Some((_, user)) if user.secret_key.matches(caller.secret_key.expose()) => {
                Who::User(user)
            }
            _ => Who::Gone,
        }
    }
}

/// The decision itself, on one registry snapshot.
fn decide(
    state: &RegistryState,
    who: Who<'_>,
    bucket: Option<&str>,
    needed: Permission,
) -> Result<(), FrontError> {
    let granted = match (who, bucket) {
        (Who::Anonymous | Who::Operator, _) => true,
        (Who::Gone, _) => false,
        (Who::User(u), Some(bucket)) => u.grants.allows(bucket, needed),
        // ListBuckets and ListDirectoryBuckets: every user, the answer filtered by the gateway.
        (Who::User(_), None) if !needed.changes() => true,
        // WriteGetObjectResponse: whoever holds `needed` on every bucket.
        (Who::User(u), None) => u.grants.allows_everywhere(needed),
    };
    if !granted {
        return Err(FrontError::AccessDenied);
    }
    match bucket {
        Some(bucket) if needed.changes() && state.is_read_only(bucket) => {
            Err(FrontError::ReadOnlyBucket(bucket.to_owned()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(grants: &[(&str, Permission)]) -> FrontUser {
        let mut g = Grants::default();
        for (pattern, p) in grants {
            g.grant(pattern.parse().unwrap(), *p);
        }
        FrontUser {
            access_key: "RBAAAAAAAAAAAAAAAAAA".parse().unwrap(),
            secret_key: "secret-secret-secret".parse().unwrap(),
            grants: g,
        }
    }

    fn read_only(bucket: &str) -> RegistryState {
        let mut state = RegistryState::default();
        state.buckets.entry(bucket.into()).or_default().read_only = Some(true);
        state
    }

    /// Every operation of the table, as each permission on its bucket allows it or not, and as
    /// a user with no grant there, an operator's user and a read-only bucket decide it. This
    /// runs the decision the front's access check makes per operation, not requests (the
    /// integration tests send a representative operation of each permission).
    #[test]
    fn every_operation_is_allowed_exactly_by_the_permissions_that_cover_it() {
        let state = RegistryState::default();
        let ro = read_only("bk1");
        let no_grant = user(&[("other", Permission::Admin)]);
        for (op, needed, _) in super::super::PERMISSIONS {
            // The operations that name no bucket are decided below.
            let bucket = match *op {
                "list_buckets" | "list_directory_buckets" | "write_get_object_response" => None,
                _ => Some("bk1"),
            };
            for held in Permission::ALL {
                let u = user(&[("bk1", held), ("bk2", Permission::Admin)]);
                let got = decide(&state, Who::User(&u), bucket, *needed).is_ok();
                let want = match bucket {
                    Some(_) => held.covers(*needed),
                    // A listing, filtered by the gateway.
                    None if !needed.changes() => true,
                    // Held on bk1 and bk2 only, not on every bucket.
                    None => false,
                };
                assert_eq!(got, want, "{op} needs {needed}, held {held}");
                // A read-only bucket refuses its changes even to a user holding them there;
                // what the user may not do anyway is refused for that.
                let ro_got = decide(&ro, Who::User(&u), bucket, *needed);
                let ro_want = match bucket {
                    Some(b) if got && needed.changes() => Err(FrontError::ReadOnlyBucket(b.into())),
                    _ if got => Ok(()),
                    _ => Err(FrontError::AccessDenied),
                };
                assert_eq!(ro_got, ro_want, "{op} on a read-only bucket, held {held}");
            }
            if bucket.is_some() {
                assert_eq!(
                    decide(&state, Who::User(&no_grant), bucket, *needed),
                    Err(FrontError::AccessDenied),
                    "{op} without a grant"
                );
            }
            assert!(
                decide(&state, Who::Operator, bucket, *needed).is_ok(),
                "{op}"
            );
            assert_eq!(
                decide(&ro, Who::Operator, bucket, *needed).is_ok(),
                bucket.is_none() || !needed.changes(),
                "{op} by an operator's user on a read-only bucket"
            );
            assert_eq!(
                decide(&state, Who::Gone, bucket, *needed),
                Err(FrontError::AccessDenied),
                "{op} by a removed user"
            );
        }
    }

    #[test]
    fn write_get_object_response_needs_admin_on_every_bucket() {
        let state = RegistryState::default();
        let everywhere = user(&[("*", Permission::Admin)]);
        let most = user(&[("a*", Permission::Admin), ("b*", Permission::Admin)]);
        assert!(decide(&state, Who::User(&everywhere), None, Permission::Admin).is_ok());
        assert!(decide(&state, Who::User(&most), None, Permission::Admin).is_err());
    }

    fn registry_with(state: RegistryState) -> (tempfile::TempDir, Arc<Registry>) {
        let dir = tempfile::tempdir().unwrap();
        let reg = Arc::new(Registry::open(dir.path()).unwrap());
        reg.update(move |s| {
            *s = RegistryState {
                version: s.version,
                ..state.clone()
            };
            Ok(())
        })
        .unwrap();
        (dir, reg)
    }

    #[test]
    fn a_signature_made_with_a_rotated_secret_is_refused() {
        let u = user(&[("bk1", Permission::Admin)]);
        let mut state = RegistryState::default();
        state.users.insert("alice".parse().unwrap(), u.clone());
        let (_dir, registry) = registry_with(state);
        let callers = Callers::new(&[], registry);
        let signed_with = |secret: &str| Credentials {
            access_key: u.access_key.to_string(),
            secret_key: secret.into(),
        };
        let now = signed_with(u.secret_key.expose());
        assert!(
            callers
                .allow(Some(&now), Some("bk1"), Permission::Write)
                .is_ok()
        );
        let old = signed_with("an-older-secret-key");
        assert_eq!(
            callers.allow(Some(&old), Some("bk1"), Permission::Read),
            Err(FrontError::AccessDenied)
        );
        assert_eq!(
            callers
                .secret(u.access_key.as_str())
                .map(|s| s.expose().to_owned()),
            Some(u.secret_key.expose().to_owned())
        );
        assert!(callers.secret("RBNOBODYNOBODYNOBODY").is_none());
    }
}
