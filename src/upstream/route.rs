//! Routing: a bucket name becomes a [`Route`] — the upstream bucket name and the
//! [`UpstreamKey`] of the client to use — computed from the bucket's registered properties, the
//! start-up defaults (`S3_ENDPOINT`, `AWS_PROFILE`) and the parsed AWS profiles.
//!
//! Precedence: bucket props > start-up defaults > profile files > built-in defaults. With no
//! endpoint and no credentials anywhere, the route points at the embedded store.

use std::sync::Arc;

use arc_swap::ArcSwap;

use super::UpstreamKey;
use crate::profiles::{
    CredentialSource, ProfileEnv, ProfileError, ProfileSet, ResolveOptions, StaticCredentials,
};
use crate::registry::{BucketProps, Endpoint, RegistryState};

/// The region used when nothing else names one.
pub const DEFAULT_REGION: &str = "us-east-1";

/// The embedded local store, served in-process and reached like any other upstream.
#[derive(Debug, Clone)]
pub struct EmbeddedUpstream {
    pub endpoint: String,
    pub credentials: StaticCredentials,
}

/// What the process started with; read once.
#[derive(Debug, Clone, Default)]
pub struct Defaults {
    /// `S3_ENDPOINT`.
    pub endpoint: Option<Endpoint>,
    /// `AWS_PROFILE`.
    pub profile: Option<String>,
    /// `AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN`, used (as by the AWS
    /// SDKs) before the files, for buckets that name no profile of their own.
    pub env_credentials: Option<StaticCredentials>,
    /// The in-process store used when nothing else is configured.
    pub embedded: Option<EmbeddedUpstream>,
}

impl Defaults {
    /// Whether nothing points anywhere: no endpoint, no profile, no keys.
    pub fn is_unconfigured(&self, profiles: &ProfileSet) -> bool {
        self.endpoint.is_none()
            && self.profile.is_none()
            && self.env_credentials.is_none()
            && !profiles
                .profiles
                .get("default")
                .is_some_and(|p| p.contains_key("aws_access_key_id"))
    }
}

/// Where one bucket's requests go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The bucket name the client used.
    pub bucket: String,
    /// The bucket name on the upstream (`backend_bck`).
    pub backend: String,
    /// The profile used, for messages (`default` when none was named).
    pub profile: String,
    pub key: UpstreamKey,
}

impl Route {
    /// `bucket "abc" (profile "prod", endpoint http://host:9000)`: safe to show, no secrets.
    pub fn describe(&self) -> String {
        format!(
            "bucket {:?} (profile {:?}, endpoint {})",
            self.bucket,
            self.profile,
            self.key.endpoint_display()
        )
    }
}

/// A bucket whose settings cannot make a route.
#[derive(Debug, thiserror::Error)]
#[error("bucket {bucket:?} cannot be routed (profile {profile:?}, endpoint {endpoint}): {source}")]
pub struct RouteError {
    pub bucket: String,
    pub profile: String,
    pub endpoint: String,
    #[source]
    pub source: Box<ProfileError>,
}

/// Computes routes; holds the current profile files (swapped on reload).
pub struct Resolver {
    defaults: Defaults,
    env: ProfileEnv,
    opts: ResolveOptions,
    profiles: ArcSwap<ProfileSet>,
}

impl Resolver {
    pub fn new(
        defaults: Defaults,
        env: ProfileEnv,
        opts: ResolveOptions,
        profiles: ProfileSet,
    ) -> Self {
        Self {
            defaults,
            env,
            opts,
            profiles: ArcSwap::from_pointee(profiles),
        }
    }

    pub fn defaults(&self) -> &Defaults {
        &self.defaults
    }

    pub fn env(&self) -> &ProfileEnv {
        &self.env
    }

    /// The profile files now in force.
    pub fn profiles(&self) -> Arc<ProfileSet> {
        self.profiles.load_full()
    }

    /// Re-reads the AWS files; on a parse error the old ones stay in force.
    pub fn reload_profiles(&self) -> Result<(), ProfileError> {
        let set = ProfileSet::load(&self.env)?;
        self.profiles.store(Arc::new(set));
        Ok(())
    }

    /// The route of `bucket` in `registry`.
    pub fn route(&self, registry: &RegistryState, bucket: &str) -> Result<Route, RouteError> {
        static EMPTY: BucketProps = BucketProps::EMPTY;
        self.route_props(bucket, registry.buckets.get(bucket).unwrap_or(&EMPTY))
    }

    /// The route of `bucket` with properties `props`.
    pub fn route_props(&self, bucket: &str, props: &BucketProps) -> Result<Route, RouteError> {
        let profiles = self.profiles.load();
        let named = props
            .profile
            .as_deref()
            .or(self.defaults.profile.as_deref());
        let profile = named.unwrap_or("default").to_owned();
        let explicit_endpoint = props.endpoint.as_deref();
        let default_endpoint = self.defaults.endpoint.as_deref();
        let fail = |source: ProfileError| RouteError {
            bucket: bucket.to_owned(),
            profile: profile.clone(),
            endpoint: explicit_endpoint
                .or(default_endpoint)
                .unwrap_or("(default)")
                .to_owned(),
            source: Box::new(source),
        };
        let resolved = match profiles.resolve(&profile, &self.env, explicit_endpoint, self.opts) {
            Ok(r) => Some(r),
            // No profile named anywhere and no `default` in the files: no profile credentials.
            Err(ProfileError::NotFound { .. }) if named.is_none() => None,
            Err(e) => return Err(fail(e)),
        };
        let mut credentials = match (
            &self.defaults.env_credentials,
            props.profile.is_some(),
            &resolved,
        ) {
            (Some(env), false, _) => CredentialSource::Static(env.clone()),
            (_, _, Some(r)) => r.credentials.clone(),
            (_, _, None) => CredentialSource::Anonymous,
        };
        let profile_endpoint = resolved.as_ref().and_then(|r| r.endpoint_url.clone());
        let mut endpoint = match explicit_endpoint {
            Some(e) => Some(e.to_owned()),
            None if props.profile.is_some() && profile_endpoint.is_some() => profile_endpoint,
            None => default_endpoint.map(str::to_owned).or(profile_endpoint),
        };
        if endpoint.is_none()
            && credentials == CredentialSource::Anonymous
            && let Some(embedded) = &self.defaults.embedded
        {
            endpoint = Some(embedded.endpoint.clone());
            credentials = CredentialSource::Static(embedded.credentials.clone());
        }
        let region = props
            .cloud_region
            .as_deref()
            .map(str::to_owned)
            .or_else(|| resolved.as_ref().and_then(|r| r.region.clone()))
            .unwrap_or_else(|| DEFAULT_REGION.to_owned());
        // The bucket's style, else the profile's; `auto` in either defers to the next rule.
        let path_style = props
            .addressing_style
            .and_then(|s| s.path_style())
            .or_else(|| {
                resolved
                    .as_ref()
                    .and_then(|r| r.addressing_style)
                    .and_then(|s| s.path_style())
            })
            // Non-AWS endpoints are addressed path-style.
            .unwrap_or(endpoint.is_some());
        Ok(Route {
            bucket: bucket.to_owned(),
            backend: props.backend_bck.as_deref().unwrap_or(bucket).to_owned(),
            profile,
            key: UpstreamKey {
                endpoint,
                region,
                path_style,
                credentials,
            },
        })
    }
}
