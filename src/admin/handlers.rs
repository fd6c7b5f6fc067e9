//! The admin API's bucket and profile operations, one method each, on top of the registry and
//! the gateway (the user operations are in [`super::users`]). Changes go through
//! [`crate::registry::Registry::update_async`], off the async workers.

use serde_json::{Value, json};

use super::{AdminError, ResetProps, SetProps};
use crate::gateway::Gateway;
use crate::profiles::cli::describe_source;
use crate::registry::{BucketProps, EndpointPolicy, PropKey, normalize_bucket_arg};
use crate::upstream::route::Route;

pub struct Handlers<'a> {
    pub gateway: &'a Gateway,
    pub policy: &'a EndpointPolicy,
}

fn route_json(route: &Route) -> Value {
    let s = &route.sources;
    json!({
        "backend_bck": route.backend,
        "profile": route.profile,
        "endpoint": route.key.endpoint_display(),
        "region": route.key.region,
        "addressing_style": if route.key.path_style { "path" } else { "virtual" },
        "credentials": describe_source(&route.key.credentials),
        "embedded": route.embedded,
        "sources": {
            "endpoint": s.endpoint.label(),
            "profile": s.profile.label(),
            "region": s.region.label(),
            "addressing_style": s.addressing_style.label(),
            "credentials": s.credentials.label(),
        },
    })
}

fn props_json(props: &BucketProps) -> Value {
    Value::Object(
        props
            .pairs()
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Value::String(v)))
            .collect(),
    )
}

impl Handlers<'_> {
    fn bucket_json(&self, name: &str, props: &BucketProps, registered: bool) -> Value {
        let snapshot = self.gateway.registry().snapshot();
        let route = match self.gateway.resolver().route_props(&snapshot, name, props) {
            Ok(r) => route_json(&r),
            Err(e) => json!({"error": e.to_string()}),
        };
        json!({"name": name, "registered": registered, "props": props_json(props), "route": route})
    }

    pub fn list(&self) -> Value {
        let snapshot = self.gateway.registry().snapshot();
        let buckets: Vec<Value> = snapshot
            .buckets
            .iter()
            .map(|(name, props)| self.bucket_json(name, props, true))
            .collect();
        json!({"version": snapshot.version, "buckets": buckets})
    }

    pub fn show(&self, bucket: &str) -> Result<Value, AdminError> {
        let bucket = normalize_bucket_arg(bucket)?;
        let snapshot = self.gateway.registry().snapshot();
        Ok(match snapshot.buckets.get(&bucket) {
            Some(props) => self.bucket_json(&bucket, props, true),
            // Not registered: show what the defaults would do with it.
            None => self.bucket_json(&bucket, &BucketProps::default(), false),
        })
    }

    /// Refuses a profile that is not in the AWS files, unless forced.
    fn check_profile(&self, body: &SetProps) -> Result<(), AdminError> {
        let Some(profile) = body
            .props
            .get(PropKey::Profile.as_str())
            .filter(|p| !p.is_empty())
        else {
            return Ok(());
        };
        let known = self.gateway.resolver().profiles().names();
        if body.force || known.iter().any(|k| k == profile) {
            return Ok(());
        }
        Err(AdminError::BadRequest(format!(
            "unknown profile {profile:?}; known profiles: {} (use --force to set it anyway)",
            if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            }
        )))
    }

    /// Applies `body` to `bucket` (creating the registration when `create`), then looks the
    /// region up again if routing changed. Returns the changes and any warnings.
    async fn apply(&self, bucket: &str, body: SetProps, create: bool) -> Result<Value, AdminError> {
        let bucket = normalize_bucket_arg(bucket)?;
        self.check_profile(&body)?;
        let policy = self.policy.clone();
        let name = bucket.clone();
        let body_props = body.props.clone();
        let ((changes, relookup), next) = self
            .gateway
            .registry()
            .update_async(move |state| {
                if create && state.buckets.contains_key(&name) {
                    return Err(crate::registry::RegistryError::AlreadyRegistered(
                        name.clone(),
                    ));
                }
                let props = state.buckets.entry(name.clone()).or_default();
                let before = props.clone();
                let mut changes = Vec::new();
                for (name, value) in &body_props {
                    let key: PropKey = name.parse()?;
                    let old = props.set(key, value, &policy)?;
                    let new = props.get(key).unwrap_or("");
                    changes.push(json!({"name": name, "old": old.unwrap_or_default(), "new": new}));
                }
                let region_given = body_props
                    .get(PropKey::CloudRegion.as_str())
                    .is_some_and(|r| !r.is_empty());
                let relookup = create || (before.routing_changed(props) && !region_given);
                if relookup && !region_given {
                    // Until a lookup succeeds the region comes from the profile.
                    props.cloud_region = None;
                }
                Ok((changes, relookup))
            })
            .await?;
        let mut warnings = Vec::new();
        if relookup {
            let props = next.buckets.get(&bucket).cloned().unwrap_or_default();
            match self.gateway.resolver().route_props(&next, &bucket, &props) {
                Ok(route) => {
                    if let Err(why) = self.gateway.look_up_region(&route).await {
                        warnings.push(format!(
                            "{why}; the region comes from the profile until a lookup succeeds"
                        ));
                    }
                }
                Err(e) => warnings.push(e.to_string()),
            }
        }
        let snapshot = self.gateway.registry().snapshot();
        let props = snapshot.buckets.get(&bucket).cloned().unwrap_or_default();
        Ok(json!({
            "bucket": self.bucket_json(&bucket, &props, true),
            "changes": changes,
            "warnings": warnings,
        }))
    }

    pub async fn add(&self, bucket: &str, body: SetProps) -> Result<Value, AdminError> {
        self.apply(bucket, body, true).await
    }

    pub async fn set(&self, bucket: &str, body: SetProps) -> Result<Value, AdminError> {
        if body.props.is_empty() {
            return Err(AdminError::BadRequest(format!(
                "nothing to set; properties: {}",
                PropKey::names()
            )));
        }
        self.apply(bucket, body, false).await
    }

    pub async fn reset(&self, bucket: &str, body: ResetProps) -> Result<Value, AdminError> {
        let names: Vec<String> = if body.names.is_empty() {
            PropKey::ALL.iter().map(|k| k.as_str().to_owned()).collect()
        } else {
            body.names
        };
        let props = names.into_iter().map(|n| (n, String::new())).collect();
        let bucket_name = normalize_bucket_arg(bucket)?;
        if !self
            .gateway
            .registry()
            .snapshot()
            .buckets
            .contains_key(&bucket_name)
        {
            return Err(AdminError::NoSuchBucket(bucket_name));
        }
        self.apply(bucket, SetProps { props, force: true }, false)
            .await
    }

    /// Removes the registration; with a shared registry, a bucket this replica only discovered
    /// (not in the store) is forgotten here.
    pub async fn remove(&self, bucket: &str) -> Result<Value, AdminError> {
        let bucket = normalize_bucket_arg(bucket)?;
        let name = bucket.clone();
        let res = self
            .gateway
            .registry()
            .update_async(move |state| {
                state
                    .buckets
                    .remove(&name)
                    .map(|_| ())
                    .ok_or_else(|| crate::registry::RegistryError::NoSuchBucket(name.clone()))
            })
            .await;
        match res {
            Err(crate::registry::RegistryError::NoSuchBucket(_))
                if self.gateway.registry().forget_learned(&bucket) => {}
            other => {
                other?;
            }
        }
        Ok(json!({"removed": bucket}))
    }

    pub fn reload_creds(&self) -> Result<Value, AdminError> {
        self.gateway
            .resolver()
            .reload_profiles()
            .map_err(|e| AdminError::BadRequest(e.to_string()))?;
        Ok(self.profiles())
    }

    pub fn profiles(&self) -> Value {
        json!({"profiles": self.gateway.resolver().profiles().names()})
    }
}
