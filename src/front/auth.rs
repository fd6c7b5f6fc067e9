//! Who may sign requests to the S3 front: the secret of an access key, looked up in
//! [`Callers`] on every request (so users added or rotated at run time sign the next one),
//! noting on the request's [`Verdict`] that a signing key was looked up.

use std::sync::Arc;

use super::callers::Callers;
use super::error::FrontError;
use super::verdict::Verdict;

/// The S3 front's client identities. Unlike s3s's `SimpleAuth` (which answers `NotSignedUp`),
/// an unknown key answers `403 InvalidAccessKeyId`, as S3 does.
pub struct FrontAuth(Arc<Callers>);

impl FrontAuth {
    pub fn new(callers: Arc<Callers>) -> Self {
        Self(callers)
    }
}

#[async_trait::async_trait]
impl s3s::auth::S3Auth for FrontAuth {
    async fn get_secret_key(&self, access_key: &str) -> s3s::S3Result<s3s::auth::SecretKey> {
        // s3s asks only for a signed request's key, and refuses the request if its signature
        // then does not match.
        Verdict::note_key_lookup();
        self.0
            .secret(access_key)
            .ok_or_else(|| FrontError::UnknownAccessKey.into())
    }
}
