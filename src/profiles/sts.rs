//! STS AssumeRole credentials ([assume role credentials](https://docs.aws.amazon.com/sdkref/latest/guide/feature-assume-role-credentials.html), `role_arn`): a provider that calls `sts:AssumeRole`
//! with the source credentials and returns the temporary credentials *with their expiry*, so
//! the identity cache of the SDK client using it refreshes them before they expire. Chains are
//! providers nested inside each other's STS clients.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{self, ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_sts::config::{BehaviorVersion, Region};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;

/// The STS region used when neither the environment nor the profile names one (as the SDKs do).
pub const DEFAULT_STS_REGION: &str = "us-east-1";

/// What to assume and how to reach STS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRoleParams {
    pub role_arn: String,
    pub session_name: Option<String>,
    pub external_id: Option<String>,
    pub duration_seconds: Option<u32>,
    /// Endpoint override for STS; `None` uses the regional AWS endpoint.
    pub endpoint: Option<String>,
    /// Region for signing and the default endpoint; `None` means [`DEFAULT_STS_REGION`].
    pub region: Option<String>,
}

/// Calls STS AssumeRole on every `provide_credentials` (callers cache through the SDK).
#[derive(Debug, Clone)]
pub struct AssumeRoleProvider {
    params: AssumeRoleParams,
    client: aws_sdk_sts::Client,
}

impl AssumeRoleProvider {
    /// `source` signs the AssumeRole call; `None` makes every call fail with a clear error.
    /// `http`: the HTTP client to call STS with (the SDK's default when `None`).
    pub fn new(
        params: AssumeRoleParams,
        source: Option<SharedCredentialsProvider>,
        http: Option<SharedHttpClient>,
    ) -> Self {
        let region = params
            .region
            .clone()
            .unwrap_or_else(|| DEFAULT_STS_REGION.to_owned());
        let source = source.unwrap_or_else(|| {
            SharedCredentialsProvider::new(NoSource {
                role_arn: params.role_arn.clone(),
            })
        });
        let mut config = aws_sdk_sts::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region))
            .credentials_provider(source)
            .retry_config(RetryConfig::standard().with_max_attempts(3))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_attempt_timeout(Duration::from_secs(20))
                    .build(),
            );
        if let Some(endpoint) = &params.endpoint {
            config = config.endpoint_url(endpoint);
        }
        if let Some(http) = http {
            config = config.http_client(http);
        }
        Self {
            client: aws_sdk_sts::Client::from_conf(config.build()),
            params,
        }
    }

    async fn assume(&self) -> provider::Result {
        let p = &self.params;
        let session_name = p.session_name.clone().unwrap_or_else(|| {
            let millis = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0);
            format!("rebucket-{millis}")
        });
        let mut request = self
            .client
            .assume_role()
            .role_arn(&p.role_arn)
            .role_session_name(session_name);
        if let Some(external_id) = &p.external_id {
            request = request.external_id(external_id);
        }
        if let Some(seconds) = p.duration_seconds {
            request = request.duration_seconds(i32::try_from(seconds).unwrap_or(i32::MAX));
        }
        let output = request.send().await.map_err(|e| {
            CredentialsError::provider_error(format!(
                "STS AssumeRole of {} failed: {}",
                p.role_arn,
                DisplayErrorContext(&e)
            ))
        })?;
        let creds = output.credentials().ok_or_else(|| {
            CredentialsError::unhandled(format!(
                "STS AssumeRole of {} returned no credentials",
                p.role_arn
            ))
        })?;
        let expiry = SystemTime::try_from(*creds.expiration()).map_err(|e| {
            CredentialsError::unhandled(format!(
                "STS AssumeRole of {} returned a bad expiry: {e}",
                p.role_arn
            ))
        })?;
        let mut builder = Credentials::builder()
            .access_key_id(creds.access_key_id())
            .secret_access_key(creds.secret_access_key())
            .session_token(creds.session_token())
            .expiry(expiry)
            .provider_name("rebucket-assume-role");
        // arn:aws:sts::ACCOUNT:assumed-role/...
        let account = output
            .assumed_role_user()
            .and_then(|u| u.arn().split(':').nth(4));
        if let Some(account) = account.filter(|a| !a.is_empty()) {
            builder = builder.account_id(account);
        }
        Ok(builder.build())
    }
}

impl ProvideCredentials for AssumeRoleProvider {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(self.assume())
    }
}

/// The source of a role that has no credentials of its own.
#[derive(Debug)]
struct NoSource {
    role_arn: String,
}

impl ProvideCredentials for NoSource {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::ready(Err(CredentialsError::not_loaded(format!(
            "no source credentials to assume {} with",
            self.role_arn
        ))))
    }
}
