//! Who may use the S3 front: its client identities and the anonymous switch.

use s3s::auth::SimpleAuth;

use super::error::FrontError;

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
        self.0
            .lookup(access_key)
            .cloned()
            .ok_or_else(|| FrontError::UnknownAccessKey.into())
    }
}

/// The front's access check, which s3s runs for every request once it knows the operation
/// (signed or not): it records the operation for the log line and the metrics, and lets
/// unsigned requests through only when the operator opted in (`allow_anonymous`); otherwise
/// it answers as s3s's default check does.
pub struct FrontAccess {
    pub allow_anonymous: bool,
}

#[async_trait::async_trait]
impl s3s::access::S3Access for FrontAccess {
    async fn check(&self, cx: &mut s3s::access::S3AccessContext<'_>) -> s3s::S3Result<()> {
        crate::metrics::request::set_operation_named(cx.s3_op().name());
        if self.allow_anonymous || cx.credentials().is_some() {
            Ok(())
        } else {
            Err(FrontError::SignatureRequired.into())
        }
    }
}
