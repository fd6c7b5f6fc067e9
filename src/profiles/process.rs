//! `credential_process` ([process credentials](https://docs.aws.amazon.com/sdkref/latest/guide/feature-process-credentials.html)): runs the configured command with `sh -c` and reads the
//! JSON credentials it prints. Only reachable when the operator enabled
//! `allow_credential_process`; the command's output is never logged.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{self, ProvideCredentials};
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;

/// How long the command may run before the attempt fails.
pub const PROCESS_TIMEOUT: Duration = Duration::from_secs(60);

/// Why the process output was not usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcessOutputError {
    #[error("invalid JSON in response: {0}")]
    Json(String),
    #[error("missing field `{0}`")]
    MissingField(&'static str),
    #[error("invalid field `{field}`: {message}")]
    InvalidField {
        field: &'static str,
        message: String,
    },
}

/// Credentials read from a process, with the account id that came with them.
#[derive(Debug, Clone)]
pub struct ProcessCredentials {
    pub credentials: Credentials,
    pub account_id: Option<String>,
}

fn field<'a>(
    obj: &'a serde_json::Map<String, serde_json::Value>,
    name: &'static str,
) -> Option<&'a serde_json::Value> {
    obj.iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
}

fn string_field(
    obj: &serde_json::Map<String, serde_json::Value>,
    name: &'static str,
) -> Result<Option<String>, ProcessOutputError> {
    match field(obj, name) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ProcessOutputError::InvalidField {
            field: name,
            message: "expected a string".into(),
        }),
    }
}

/// Parses the JSON a credential process prints:
/// `{"Version": 1, "AccessKeyId", "SecretAccessKey", "SessionToken"?, "Expiration"?, "AccountId"?}`
/// (field names in any case). `profile_account_id` is used when the output has no `AccountId`.
pub fn parse_output(
    output: &str,
    profile_account_id: Option<&str>,
) -> Result<ProcessCredentials, ProcessOutputError> {
    let value: serde_json::Value =
        serde_json::from_str(output).map_err(|e| ProcessOutputError::Json(e.to_string()))?;
    let serde_json::Value::Object(obj) = value else {
        return Err(ProcessOutputError::Json("expected a JSON object".into()));
    };
    match field(&obj, "Version") {
        None => return Err(ProcessOutputError::MissingField("Version")),
        Some(v) if v.as_i64() == Some(1) => {}
        Some(v) => {
            return Err(ProcessOutputError::InvalidField {
                field: "Version",
                message: format!("unknown version number: {v}"),
            });
        }
    }
    let access_key_id = string_field(&obj, "AccessKeyId")?
        .ok_or(ProcessOutputError::MissingField("AccessKeyId"))?;
    let secret = string_field(&obj, "SecretAccessKey")?
        .ok_or(ProcessOutputError::MissingField("SecretAccessKey"))?;
    let session_token = string_field(&obj, "SessionToken")?;
    let expiry = string_field(&obj, "Expiration")?
        .map(|s| {
            DateTime::from_str(&s, Format::DateTimeWithOffset)
                .ok()
                .and_then(|d| SystemTime::try_from(d).ok())
                .ok_or_else(|| ProcessOutputError::InvalidField {
                    field: "Expiration",
                    message: format!("not an RFC 3339 date-time: {s:?}"),
                })
        })
        .transpose()?;
    let account_id =
        string_field(&obj, "AccountId")?.or_else(|| profile_account_id.map(str::to_owned));
    let mut builder = Credentials::builder()
        .access_key_id(access_key_id)
        .secret_access_key(secret)
        .provider_name("rebucket-credential-process");
    builder.set_session_token(session_token);
    builder.set_expiry(expiry);
    if let Some(id) = &account_id {
        builder = builder.account_id(id.as_str());
    }
    Ok(ProcessCredentials {
        credentials: builder.build(),
        account_id,
    })
}

/// Runs `command` with `sh -c` and parses its output.
pub async fn run(command: &str, profile_account_id: Option<&str>) -> provider::Result {
    let child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = match tokio::time::timeout(PROCESS_TIMEOUT, child).await {
        Err(_) => return Err(CredentialsError::provider_timed_out(PROCESS_TIMEOUT)),
        Ok(Err(e)) => {
            return Err(CredentialsError::provider_error(format!(
                "Error retrieving credentials: could not start the external process: {e}"
            )));
        }
        Ok(Ok(output)) => output,
    };
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(CredentialsError::provider_error(format!(
            "Error retrieving credentials: external process exited with code {}. Stderr: {}",
            output.status,
            stderr.trim()
        )));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    parse_output(&stdout, profile_account_id)
        .map(|c| c.credentials)
        .map_err(|e| {
            CredentialsError::provider_error(format!(
                "Error retrieving credentials from external process, could not parse response: {e}"
            ))
        })
}

/// A credentials provider that runs a `credential_process` command on every call (the SDK's
/// identity cache calls it again when the returned credentials near their expiry).
#[derive(Clone)]
pub struct ProcessProvider {
    command: String,
}

impl ProcessProvider {
    pub fn new(command: impl Into<String>) -> Self {
        Self {
            command: command.into(),
        }
    }
}

impl std::fmt::Debug for ProcessProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The command line may carry secrets; show only the program.
        let program = self.command.split_whitespace().next().unwrap_or("");
        f.debug_struct("ProcessProvider")
            .field("program", &program)
            .finish_non_exhaustive()
    }
}

impl ProvideCredentials for ProcessProvider {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::new(run(&self.command, None))
    }
}
