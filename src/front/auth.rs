//! Who may use the S3 front: its client identities and the anonymous switch, both recording
//! what they decided on the request's [`Verdict`].

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

/// The front's access check, which s3s runs for every request once it knows the operation
/// (signed or not): it records the operation for the log line and the metrics, lets unsigned
/// requests through only when the operator opted in (`allow_anonymous`, else `403
/// AccessDenied` as s3s's default check answers), and records the decision on the request's
/// [`Verdict`].
pub struct FrontAccess {
    pub allow_anonymous: bool,
}

#[async_trait::async_trait]
impl s3s::access::S3Access for FrontAccess {
    async fn check(&self, cx: &mut s3s::access::S3AccessContext<'_>) -> s3s::S3Result<()> {
        crate::metrics::request::set_operation_named(cx.s3_op().name());
        let signed = cx.credentials().is_some();
        if !signed && !self.allow_anonymous {
            return Err(FrontError::SignatureRequired.into());
        }
        Verdict::admit(cx.extensions_mut(), signed);
        Ok(())
    }
}
