//! The admin API's user operations: front users kept in the registry, with their grants. A
//! user's secret is in exactly two answers, the one that creates it (`POST /v1/users/{name}`)
//! and the one that replaces it (`POST /v1/users/{name}/rotate-secret`); every other answer
//! shows the access key and the grants only. Changes go through
//! [`crate::registry::Registry::update_async`] and count from the front's next request.

use serde::Deserialize;
use serde_json::{Value, json};

use super::AdminError;
use super::handlers::Handlers;
use crate::registry::{
    AccessKey, BucketPattern, FrontUser, Grants, Permission, RegistryError, RegistryState, Secret,
    UserName,
};

/// Body of `PUT /v1/users/{name}/grants`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// A bucket name or glob (`s3://` accepted in front).
    pub bucket: String,
    /// `read`, `write` or `admin`.
    pub permission: String,
}

/// Body of `DELETE /v1/users/{name}/grants`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revoke {
    pub bucket: String,
    /// The permission to take back; every permission on `bucket` when absent.
    #[serde(default)]
    pub permission: Option<String>,
}

fn user_name(name: &str) -> Result<UserName, AdminError> {
    name.parse()
        .map_err(|e| AdminError::BadRequest(format!("invalid user name {name:?}: {e}")))
}

fn pattern(bucket: &str) -> Result<BucketPattern, AdminError> {
    bucket
        .parse()
        .map_err(|e| AdminError::BadRequest(format!("invalid bucket {bucket:?}: {e}")))
}

fn permission(p: &str) -> Result<Permission, AdminError> {
    p.parse()
        .map_err(|e| AdminError::BadRequest(format!("invalid permission: {e}")))
}

/// A user as every answer but the two that hand out a secret shows it.
fn user_json(name: &UserName, user: &FrontUser) -> Value {
    let grants: serde_json::Map<String, Value> = user
        .grants
        .iter()
        .map(|(pattern, held)| {
            let held: Vec<&str> = held.iter().map(|p| p.as_str()).collect();
            (pattern.to_string(), json!(held))
        })
        .collect();
    json!({"name": name, "access_key": user.access_key, "grants": grants})
}

/// A fresh key pair no other user holds (rebucket's generated front keys: 20 uppercase letters
/// and digits, a 40-character secret).
fn fresh_keys(state: &RegistryState) -> Result<(AccessKey, Secret), RegistryError> {
    loop {
        let pair = crate::config::generate_key_pair();
        let access_key: AccessKey = pair
            .access_key
            .parse()
            .map_err(|e| RegistryError::Invalid(format!("generated access key: {e}")))?;
        let secret: Secret = pair
            .secret_key
            .parse()
            .map_err(|e| RegistryError::Invalid(format!("generated secret key: {e}")))?;
        if state.user_by_access_key(&access_key).is_none() {
            return Ok((access_key, secret));
        }
    }
}

/// The answer that hands out a secret, once.
fn keys_json(name: &UserName, access_key: &AccessKey, secret: &Secret) -> Value {
    json!({"name": name, "access_key": access_key, "secret_key": secret.expose()})
}

impl Handlers<'_> {
    pub fn list_users(&self) -> Value {
        let snapshot = self.gateway.registry().snapshot();
        let users: Vec<Value> = snapshot
            .users
            .iter()
            .map(|(name, user)| user_json(name, user))
            .collect();
        json!({"users": users})
    }

    pub fn show_user(&self, name: &str) -> Result<Value, AdminError> {
        let name = user_name(name)?;
        let snapshot = self.gateway.registry().snapshot();
        let user = snapshot
            .users
            .get(&name)
            .ok_or_else(|| AdminError::NoSuchUser(name.to_string()))?;
        Ok(user_json(&name, user))
    }

    pub async fn add_user(&self, name: &str) -> Result<Value, AdminError> {
        let name = user_name(name)?;
        let key = name.clone();
        let ((access_key, secret), _) = self
            .gateway
            .registry()
            .update_async(move |state| {
                if state.users.contains_key(&key) {
                    return Err(RegistryError::UserExists(key.to_string()));
                }
                let (access_key, secret) = fresh_keys(state)?;
                state.users.insert(
                    key.clone(),
                    FrontUser {
                        access_key: access_key.clone(),
                        secret_key: secret.clone(),
                        grants: Grants::default(),
                    },
                );
                Ok((access_key, secret))
            })
            .await?;
        Ok(keys_json(&name, &access_key, &secret))
    }

    pub async fn rotate_secret(&self, name: &str) -> Result<Value, AdminError> {
        let name = user_name(name)?;
        let key = name.clone();
        let ((access_key, secret), _) = self
            .gateway
            .registry()
            .update_async(move |state| {
                // The access key stays; only the secret is new.
                let (_, secret) = fresh_keys(state)?;
                let user = state
                    .users
                    .get_mut(&key)
                    .ok_or_else(|| RegistryError::NoSuchUser(key.to_string()))?;
                user.secret_key = secret.clone();
                Ok((user.access_key.clone(), secret))
            })
            .await?;
        Ok(keys_json(&name, &access_key, &secret))
    }

    pub async fn remove_user(&self, name: &str) -> Result<Value, AdminError> {
        let name = user_name(name)?;
        let key = name.clone();
        self.gateway
            .registry()
            .update_async(move |state| {
                state
                    .users
                    .remove(&key)
                    .map(drop)
                    .ok_or_else(|| RegistryError::NoSuchUser(key.to_string()))
            })
            .await?;
        Ok(json!({"removed": name}))
    }

    pub async fn grant(&self, name: &str, body: Grant) -> Result<Value, AdminError> {
        let (pattern, permission) = (pattern(&body.bucket)?, permission(&body.permission)?);
        self.change_grants(name, move |grants| {
            grants.grant(pattern.clone(), permission);
        })
        .await
    }

    pub async fn revoke(&self, name: &str, body: Revoke) -> Result<Value, AdminError> {
        let pattern = pattern(&body.bucket)?;
        let permission = body.permission.as_deref().map(permission).transpose()?;
        self.change_grants(name, move |grants| {
            grants.revoke(&pattern, permission);
        })
        .await
    }

    /// Applies `change` to the grants of user `name`; answers the user as it is then.
    async fn change_grants(
        &self,
        name: &str,
        mut change: impl FnMut(&mut Grants) + Send + 'static,
    ) -> Result<Value, AdminError> {
        let name = user_name(name)?;
        let key = name.clone();
        let (user, _) = self
            .gateway
            .registry()
            .update_async(move |state| {
                let user = state
                    .users
                    .get_mut(&key)
                    .ok_or_else(|| RegistryError::NoSuchUser(key.to_string()))?;
                change(&mut user.grants);
                Ok(user.clone())
            })
            .await?;
        Ok(user_json(&name, &user))
    }
}
