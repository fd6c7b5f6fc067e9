//! Routing: a bucket name becomes a [`Route`] — the upstream bucket name and the
//! [`UpstreamKey`] of the client to use — computed from the bucket's registered properties, the
//! start-up defaults (`S3_ENDPOINT`, `AWS_PROFILE`) and the parsed AWS profiles.
//!
//! Precedence: bucket props > start-up defaults > profile files > built-in defaults. A route
//! records where each of its settings came from ([`RouteSources`]), so what `show bucket`
//! prints is what requests use. With no endpoint and no credentials anywhere the route points
//! at the embedded store, when the fallback to it is on ([`Defaults::embedded_fallback`]);
//! otherwise such a bucket cannot be routed.

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
    /// `embedded_fallback`: whether a bucket with no route of its own (no endpoint, no
    /// credentials from anywhere) goes to the embedded store. `None`: only while nothing at all
    /// is configured — no endpoint, no profile, no keys, no registered bucket naming a profile
    /// or an endpoint.
    pub embedded_fallback: Option<bool>,
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

    /// Whether a bucket with no route of its own goes to the embedded store, given the
    /// profiles and the registry now in force.
    pub fn embedded_fallback_on(&self, profiles: &ProfileSet, registry: &RegistryState) -> bool {
        self.embedded_fallback.unwrap_or_else(|| {
            self.is_unconfigured(profiles)
                && !registry
                    .buckets
                    .values()
                    .any(|p| p.profile.is_some() || p.endpoint.is_some())
        })
    }
}

/// Where one setting of a route came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A property of the bucket (`extra.aws.*`).
    BucketProp(&'static str),
    /// A variable of the gateway's environment (`S3_ENDPOINT`, `AWS_PROFILE`, `AWS_REGION`,
    /// `AWS_ENDPOINT_URL_S3`, `AWS_ACCESS_KEY_ID`, ...).
    Env(&'static str),
    /// The AWS shared files (`~/.aws/config`, `~/.aws/credentials`), for the route's profile.
    ProfileFile,
    /// rebucket's own default.
    BuiltIn,
    /// The embedded store's own setting.
    Embedded,
}

impl Source {
    /// The words `show bucket` prints.
    pub fn label(&self) -> String {
        match self {
            Self::BucketProp(p) => format!("bucket prop {p}"),
            Self::Env(v) => format!("env {v}"),
            Self::ProfileFile => "profile file".to_owned(),
            Self::BuiltIn => "built-in default".to_owned(),
            Self::Embedded => "embedded store".to_owned(),
        }
    }
}

/// Where each setting of a [`Route`] came from; recorded by the resolver as it decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteSources {
    pub endpoint: Source,
    pub profile: Source,
    pub region: Source,
    pub addressing_style: Source,
    pub credentials: Source,
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
    /// Where each setting came from.
    pub sources: RouteSources,
    /// Whether the route is the embedded store's.
    pub embedded: bool,
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
    pub source: Box<RouteCause>,
}

/// Why a bucket cannot be routed.
#[derive(Debug, thiserror::Error)]
pub enum RouteCause {
    /// The bucket's profile cannot be resolved.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// Nothing routes the bucket anywhere (no endpoint, no credentials) and the fallback to
    /// the embedded store is off.
    #[error(
        "no upstream is configured for it (set its extra.aws.profile or extra.aws.endpoint, set \
         S3_ENDPOINT or AWS_PROFILE, or `embedded_fallback = true` in the config file to keep \
         such buckets in the embedded store)"
    )]
    NoUpstream,
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
        self.route_props(
            registry,
            bucket,
            registry.buckets.get(bucket).unwrap_or(&EMPTY),
        )
    }

    /// The route of `bucket` with properties `props`, in `registry` (which decides, with the
    /// defaults, whether the embedded store is the fallback); records where each setting came
    /// from.
    pub fn route_props(
        &self,
        registry: &RegistryState,
        bucket: &str,
        props: &BucketProps,
    ) -> Result<Route, RouteError> {
        use Source::{BucketProp, BuiltIn, Env, ProfileFile};
        let profiles = self.profiles.load();
        let named = props
            .profile
            .as_deref()
            .or(self.defaults.profile.as_deref());
        let profile = named.unwrap_or("default").to_owned();
        let profile_source = if props.profile.is_some() {
            BucketProp("extra.aws.profile")
        } else if self.defaults.profile.is_some() {
            Env("AWS_PROFILE")
        } else {
            BuiltIn
        };
        let explicit_endpoint = props.endpoint.as_deref();
        let default_endpoint = self.defaults.endpoint.as_deref();
        let fail = |source: RouteCause| RouteError {
            bucket: bucket.to_owned(),
            profile: profile.clone(),
            endpoint: explicit_endpoint
                .or(default_endpoint)
                .unwrap_or("(default)")
                .to_owned(),
            source: Box::new(source),
        };
        // The value `v` came from variable `name` if it is set to `v`, else from the files.
        let env_or_file = |names: &[&'static str], v: &str| {
            names
                .iter()
                .find(|n| crate::profiles::vars::var(&self.env.vars, n) == Some(v))
                .map_or(ProfileFile, |n| Env(n))
        };
        let resolved = match profiles.resolve(&profile, &self.env, explicit_endpoint, self.opts) {
            Ok(r) => Some(r),
            // No profile named anywhere and no `default` in the files: no profile credentials.
            Err(ProfileError::NotFound { .. }) if named.is_none() => None,
            Err(e) => return Err(fail(e.into())),
        };
        let (mut credentials, mut credentials_source) = match (
            &self.defaults.env_credentials,
            props.profile.is_some(),
            &resolved,
        ) {
            (Some(env), false, _) => (
                CredentialSource::Static(env.clone()),
                Env("AWS_ACCESS_KEY_ID"),
            ),
            (_, _, Some(r)) => (r.credentials.clone(), ProfileFile),
            (_, _, None) => (CredentialSource::Anonymous, BuiltIn),
        };
        // Without a profile the SDKs still read the variables (`AWS_ENDPOINT_URL[_S3]`,
        // `AWS_REGION`, `AWS_DEFAULT_REGION`): the same rules, over an empty profile.
        let no_profile = std::collections::BTreeMap::new();
        let profile_endpoint = match &resolved {
            Some(r) => r.endpoint_url.clone(),
            None => crate::profiles::endpoint::resolve_endpoint_url(
                &profiles,
                &profile,
                &self.env.vars,
                "s3",
                crate::profiles::endpoint::ClientEndpoint::default(),
            )
            .map_err(|e| fail(e.into()))?,
        };
        let profile_region = match &resolved {
            Some(r) => r.region.clone(),
            None => crate::profiles::resolve::resolve_region(&no_profile, &self.env.vars),
        };
        let profile_endpoint_source =
            |e: &str| env_or_file(&["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"], e);
        let (mut endpoint, mut endpoint_source) = match explicit_endpoint {
            Some(e) => (Some(e.to_owned()), BucketProp("extra.aws.endpoint")),
            None if props.profile.is_some() && profile_endpoint.is_some() => {
                let source = profile_endpoint
                    .as_deref()
                    .map_or(ProfileFile, profile_endpoint_source);
                (profile_endpoint, source)
            }
            None => match (default_endpoint, profile_endpoint) {
                (Some(e), _) => (Some(e.to_owned()), Env("S3_ENDPOINT")),
                (None, Some(e)) => {
                    let source = profile_endpoint_source(&e);
                    (Some(e), source)
                }
                // AWS's own endpoint for the region.
                (None, None) => (None, BuiltIn),
            },
        };
        let mut embedded_route = false;
        if endpoint.is_none()
            && credentials == CredentialSource::Anonymous
            && let Some(embedded) = &self.defaults.embedded
        {
            if !self.defaults.embedded_fallback_on(&profiles, registry) {
                return Err(fail(RouteCause::NoUpstream));
            }
            endpoint = Some(embedded.endpoint.clone());
            endpoint_source = Source::Embedded;
            credentials = CredentialSource::Static(embedded.credentials.clone());
            credentials_source = Source::Embedded;
            embedded_route = true;
        }
        let (region, region_source) = match (&props.cloud_region, profile_region) {
            (Some(r), _) => (r.to_string(), BucketProp("extra.aws.cloud_region")),
            (None, Some(r)) => {
                let source = env_or_file(&["AWS_REGION", "AWS_DEFAULT_REGION"], &r);
                (r, source)
            }
            (None, None) => (DEFAULT_REGION.to_owned(), BuiltIn),
        };
        // The bucket's style, else the profile's; `auto` in either defers to the next rule.
        let (path_style, style_source) = match props.addressing_style.and_then(|s| s.path_style()) {
            Some(p) => (p, BucketProp("extra.aws.addressing_style")),
            None => match resolved
                .as_ref()
                .and_then(|r| r.addressing_style)
                .and_then(|s| s.path_style())
            {
                Some(p) => (p, ProfileFile),
                // Non-AWS endpoints are addressed path-style.
                None => (endpoint.is_some(), BuiltIn),
            },
        };
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
            sources: RouteSources {
                endpoint: endpoint_source,
                profile: profile_source,
                region: region_source,
                addressing_style: style_source,
                credentials: credentials_source,
            },
            embedded: embedded_route,
        })
    }
}
