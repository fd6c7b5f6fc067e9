//! The `user` verbs: front users and their grants, through the admin API's `/v1/users`. Only
//! `user add` and `user rotate-secret` print a secret, the one time it exists in an answer
//! (`--json`: `{"access_key": ..., "secret_key": ...}`).

use serde_json::{Value, json};

use super::UserCommand;
use super::admin_client::AdminClient;
use super::commands::pretty;

/// The admin API path of `name`'s grants.
fn grants_path(name: &str) -> String {
    format!("{}/grants", user_path(name))
}

fn user_path(name: &str) -> String {
    format!("/v1/users/{name}")
}

/// A user's grants on one line: `s3://logs-*=read s3://photos=read,write` (`-`: none).
fn grants_text(user: &Value) -> String {
    let Some(grants) = user["grants"].as_object().filter(|g| !g.is_empty()) else {
        return "-".to_owned();
    };
    grants
        .iter()
        .map(|(pattern, held)| {
            let held: Vec<&str> = held
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            format!("s3://{pattern}={}", held.join(","))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The key pair of `user add` / `user rotate-secret`.
fn keys_text(v: &Value, as_json: bool, what: &str) -> String {
    let (access_key, secret_key) = (&v["access_key"], &v["secret_key"]);
    if as_json {
        return pretty(&json!({"access_key": access_key, "secret_key": secret_key}));
    }
    let s = |x: &Value| x.as_str().unwrap_or_default().to_owned();
    format!(
        "{what} {}\nAWS_ACCESS_KEY_ID={}\nAWS_SECRET_ACCESS_KEY={}\n\
         (the secret key is shown this once; `rebucket user rotate-secret {}` makes a new one)",
        s(&v["name"]),
        s(access_key),
        s(secret_key),
        s(&v["name"]),
    )
}

/// One user as `user show` prints it.
fn user_text(v: &Value) -> String {
    let s = |x: &Value| x.as_str().unwrap_or_default().to_owned();
    format!(
        "user {}\naccess key: {}\ngrants: {}",
        s(&v["name"]),
        s(&v["access_key"]),
        grants_text(v)
    )
}

pub async fn user(c: AdminClient, command: UserCommand, as_json: bool) -> Result<String, String> {
    use http::Method;
    match command {
        UserCommand::Add { name } => {
            let v = c.call(Method::POST, &user_path(&name), None).await?;
            Ok(keys_text(&v, as_json, "added user"))
        }
        UserCommand::RotateSecret { name } => {
            let path = format!("{}/rotate-secret", user_path(&name));
            let v = c.call(Method::POST, &path, None).await?;
            Ok(keys_text(&v, as_json, "new secret key for user"))
        }
        UserCommand::Ls => {
            let v = c.call(Method::GET, "/v1/users", None).await?;
            if as_json {
                return Ok(pretty(&v));
            }
            let users = v["users"].as_array().cloned().unwrap_or_default();
            if users.is_empty() {
                return Ok(
                    "no users (the config file's and REBUCKET_ACCESS_KEY's keys are \
                           admins of every bucket)"
                        .to_owned(),
                );
            }
            let rows: Vec<[String; 3]> = users
                .iter()
                .map(|u| {
                    [
                        u["name"].as_str().unwrap_or_default().to_owned(),
                        u["access_key"].as_str().unwrap_or_default().to_owned(),
                        grants_text(u),
                    ]
                })
                .collect();
            let header = ["USER", "ACCESS KEY", "GRANTS"].map(str::to_owned);
            let all: Vec<&[String; 3]> = std::iter::once(&header).chain(rows.iter()).collect();
            let w: Vec<usize> = (0..2)
                .map(|i| all.iter().map(|r| r[i].len()).max().unwrap_or(0) + 2)
                .collect();
            Ok(all
                .iter()
                .map(|[a, b, c]| format!("{a:<w0$}{b:<w1$}{c}", w0 = w[0], w1 = w[1]))
                .collect::<Vec<_>>()
                .join("\n"))
        }
        UserCommand::Show { name } => {
            let v = c.call(Method::GET, &user_path(&name), None).await?;
            Ok(if as_json { pretty(&v) } else { user_text(&v) })
        }
        UserCommand::Rm { name } => {
            let v = c.call(Method::DELETE, &user_path(&name), None).await?;
            Ok(if as_json {
                pretty(&v)
            } else {
                format!("removed user {}", v["removed"].as_str().unwrap_or_default())
            })
        }
        UserCommand::Grant {
            name,
            bucket,
            permission,
        } => {
            let body = json!({"bucket": bucket, "permission": permission});
            let v = c.call(Method::PUT, &grants_path(&name), Some(body)).await?;
            Ok(if as_json { pretty(&v) } else { user_text(&v) })
        }
        UserCommand::Revoke {
            name,
            bucket,
            permission,
        } => {
            let body = json!({"bucket": bucket, "permission": permission});
            let v = c
                .call(Method::DELETE, &grants_path(&name), Some(body))
                .await?;
            Ok(if as_json { pretty(&v) } else { user_text(&v) })
        }
    }
}
