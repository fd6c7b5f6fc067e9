//! Who may sign requests to the S3 front: its client identities, noting on the request's
//! [`Verdict`] that a signing key was looked up.

use s3s::auth::SimpleAuth;

use super::error::FrontError;
use super::verdict::Verdict;

/// The S3 front's client identities. Unlike s3s's `SimpleAuth` (which answers `NotSignedUp`),
/// an unknown key answers `403 InvalidAccessKeyId`, as S3 does.
pub struct FrontAuth(SimpleAuth);

impl FrontAuth {
    pub fn new(users: &[crate::config::User]) -> Self {
        let mut auth = SimpleAuth::new();
        for u in users {
            auth.register(u.access_key.clone(), u.secret_key.clone().into());
        }
        Self(auth)
    }
}

#[async_trait::async_trait]
impl s3s::auth::S3Auth for FrontAuth {
    async fn get_secret_key(&self, access_key: &str) -> s3s::S3Result<s3s::auth::SecretKey> {
        // s3s asks only for a signed request's key, and refuses the request if its signature
        // then does not match.
        Verdict::note_key_lookup();
        self.0
            .lookup(access_key)
            .cloned()
            .ok_or_else(|| FrontError::UnknownAccessKey.into())
    }
}
