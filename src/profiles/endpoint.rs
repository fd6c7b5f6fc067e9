//! Configured endpoint URLs ([service-specific endpoints](https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html)), for any service id (`s3`, `sts`, ...):
//!
//! 1. the client's explicit endpoint (for S3: the bucket's own), which applies even when
//!    configured endpoints are ignored;
//! 2. if the client's own ignore flag is set, or `AWS_IGNORE_CONFIGURED_ENDPOINT_URLS` (when set,
//!    else the profile's `ignore_configured_endpoint_urls`) is `true`, stop here;
//! 3. `AWS_ENDPOINT_URL_<SERVICE>` (upper-cased, spaces as `_`);
//! 4. `AWS_ENDPOINT_URL`;
//! 5. the `[services NAME]` section named by the profile's `services`, block `<service> =`
//!    (lower-cased, spaces as `-`), key `endpoint_url` (a missing section is ignored, as in
//!    smithy-rs);
//! 6. the profile's `endpoint_url`.
//!
//! `None` means "the SDK's normal AWS endpoint". Empty values count as unset.

use std::collections::{BTreeMap, HashMap};

use super::parser::sub_properties;
use super::vars::{self, non_blank};
use super::{ProfileError, ProfileSet};

/// Client-level settings that take part in endpoint resolution.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientEndpoint<'a> {
    /// An endpoint set in code or client configuration.
    pub endpoint_url: Option<&'a str>,
    /// The client's own `ignore_configured_endpoint_urls`.
    pub ignore_configured: bool,
}

/// Parses an AWS boolean (`true`/`false`, any case). Anything else is an error.
pub fn parse_bool(value: &str) -> Option<bool> {
    let v = value.trim();
    if v.eq_ignore_ascii_case("true") {
        Some(true)
    } else if v.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Whether configured endpoints are to be ignored for this profile and environment.
pub fn ignore_configured_endpoints(
    profile_name: &str,
    props: &BTreeMap<String, String>,
    vars: &HashMap<String, String>,
) -> Result<bool, ProfileError> {
    let bad = |source: &str, value: &str| ProfileError::Invalid {
        name: profile_name.to_owned(),
        message: format!("{source} must be `true` or `false`, not {value:?}"),
    };
    // As for every setting, the environment variable (when set) comes before the profile.
    if let Some(v) = vars::var(vars, "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") {
        return parse_bool(v).ok_or_else(|| bad("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", v));
    }
    if let Some(v) = non_blank(props.get("ignore_configured_endpoint_urls")) {
        return parse_bool(v).ok_or_else(|| bad("ignore_configured_endpoint_urls", v));
    }
    Ok(false)
}

/// The endpoint from the profile's `[services]` section, for `service_id`.
pub fn services_endpoint(
    set: &ProfileSet,
    props: &BTreeMap<String, String>,
    service_id: &str,
) -> Option<String> {
    let section_name = non_blank(props.get("services"))?;
    let Some(section) = set.services.get(section_name) else {
        tracing::warn!("services section [services {section_name}] not found; ignored");
        return None;
    };
    let block = section.get(&service_id.to_lowercase().replace(' ', "-"))?;
    sub_properties(block)
        .get("endpoint_url")
        .filter(|v| !v.is_empty())
        .cloned()
}

/// Resolves the endpoint URL of `service_id` for the profile `profile_name`.
pub fn resolve_endpoint_url(
    set: &ProfileSet,
    profile_name: &str,
    vars: &HashMap<String, String>,
    service_id: &str,
    client: ClientEndpoint<'_>,
) -> Result<Option<String>, ProfileError> {
    if let Some(url) = non_blank(client.endpoint_url) {
        return Ok(Some(url.to_owned()));
    }
    let empty = BTreeMap::new();
    let props = set.profiles.get(profile_name).unwrap_or(&empty);
    if client.ignore_configured || ignore_configured_endpoints(profile_name, props, vars)? {
        return Ok(None);
    }
    let service_var = format!(
        "AWS_ENDPOINT_URL_{}",
        service_id.to_uppercase().replace(' ', "_")
    );
    let found = vars::var(vars, &service_var)
        .or_else(|| vars::var(vars, "AWS_ENDPOINT_URL"))
        .map(str::to_owned)
        .or_else(|| services_endpoint(set, props, service_id))
        .or_else(|| non_blank(props.get("endpoint_url")).map(str::to_owned));
    Ok(found)
}
