//! What each CLI verb does: `serve` starts the gateway; the operator verbs call the admin API
//! and print its answers (human text, or `--json`); `profiles` reads the AWS files offline.

use std::process::ExitCode;

use serde_json::{Value, json};

use super::admin_client::AdminClient;
use super::{
    AdminArgs, BucketCommand, Cli, Command, ConfigCommand, ProfilesCommand, PropsCommand,
    ShowCommand, parse_pairs,
};
use crate::config::ServeConfig;
use crate::profiles::{ProfileEnv, ProfileError, ProfileSet, ResolveOptions};

/// Log targets whose debug and trace output can carry secrets of requests (s3s prints parsed
/// requests: SSE-C keys, session tokens, signatures; the SDK and the signer print signed headers
/// and canonical requests; the HTTP and TLS libraries print what they send and receive). Their
/// events and spans above `info` are never written, whatever `RUST_LOG` asks: a directive naming
/// one of their modules (`s3s::ops=trace`) or a span is capped too, as the cap is a filter of
/// its own on the log output rather than an edit of the `RUST_LOG` text.
const SECRET_BEARING_TARGETS: &[&str] = &[
    "s3s",
    "s3s_aws",
    "s3s_fs",
    "aws_sigv4",
    "aws_smithy_runtime",
    "aws_smithy_runtime_api",
    "aws_smithy_http_client",
    "aws_smithy_http",
    "aws_smithy_types",
    "aws_smithy_checksums",
    "aws_config",
    "aws_runtime",
    "aws_credential_types",
    "aws_sdk_s3",
    "aws_sdk_sts",
    "aws_sdk_sso",
    "aws_sdk_ssooidc",
    "hyper",
    "hyper_util",
    "h2",
    "rustls",
    "tower",
];

/// Whether `target` is one of [`SECRET_BEARING_TARGETS`] or a module of one.
fn secret_bearing(target: &str) -> bool {
    SECRET_BEARING_TARGETS.iter().any(|t| {
        target
            .strip_prefix(t)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
    })
}

/// Whether the cap lets an event or span through: anything at `info` or above, and the more
/// verbose levels only of targets that are not [`secret_bearing`].
fn under_cap(level: tracing::Level, target: &str) -> bool {
    level <= tracing::Level::INFO || !secret_bearing(target)
}

/// Logs to stderr at `default` unless `RUST_LOG` says otherwise, as text or JSON lines, with
/// the secret-bearing targets capped at `info` ([`under_cap`]). s3s logs every error answer (a
/// client's 404 too) at ERROR with a debug dump; rebucket's own per-request line (target
/// `rebucket::request`) says what happened, so the default quiets s3s (`s3s=off`;
/// `RUST_LOG=info,s3s=info` brings it back).
fn init_tracing(default: &str, format: crate::config::LogFormat) {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("{default},s3s=off")));
    let cap = tracing_subscriber::filter::filter_fn(|meta| under_cap(*meta.level(), meta.target()));
    use std::io::IsTerminal;
    let fmt = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let output = match format {
        crate::config::LogFormat::Text => fmt
            .with_ansi(std::io::stderr().is_terminal())
            .with_filter(cap)
            .boxed(),
        crate::config::LogFormat::Json => fmt
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_filter(cap)
            .boxed(),
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(output)
        .try_init();
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Profiles { command } => profiles(command),
        Command::Config { command } => config(command),
        Command::Completions { shell } => {
            let mut cmd = super::command();
            clap_complete::generate(shell, &mut cmd, "rebucket", &mut std::io::stdout());
            ExitCode::SUCCESS
        }
        Command::Bucket { command, admin } => {
            admin_verb(&admin, |c| bucket(c, command, admin.json))
        }
        Command::Show {
            command: ShowCommand::Bucket { bucket },
            admin,
        } => admin_verb(&admin, |c| show_bucket(c, bucket, admin.json)),
        Command::Ls { admin } => admin_verb(&admin, |c| ls(c, admin.json)),
        Command::User { command, admin } => {
            admin_verb(&admin, |c| super::users::user(c, command, admin.json))
        }
        Command::ReloadCreds { admin } => admin_verb(&admin, |c| async move {
            let v = c.call(http::Method::POST, "/v1/reload-creds", None).await?;
            Ok(format!(
                "reloaded; profiles: {}",
                join_names(&v["profiles"])
            ))
        }),
    }
}

fn config(command: ConfigCommand) -> ExitCode {
    match command {
        ConfigCommand::Example => {
            print!("{}", super::config_cmd::EXAMPLE);
            ExitCode::SUCCESS
        }
        ConfigCommand::Check { file } => match super::config_cmd::check_file(&file) {
            Ok(warnings) => {
                for w in &warnings {
                    eprintln!("{w}");
                }
                println!("{}: ok", file.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{e}");
                ExitCode::from(2)
            }
        },
    }
}

fn serve(args: crate::config::ServeArgs) -> ExitCode {
    init_tracing("info", args.log_format);
    let env = ProfileEnv::from_process();
    let config = match ServeConfig::build(args, &env.vars) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rebucket: {e}");
            return ExitCode::from(2);
        }
    };
    if config.generated_keys {
        let u = &config.users[0];
        // The secret stays in its file (owner-only), never on a terminal or in a log.
        let file = config.data_dir.join("front-keys.json");
        println!(
            "Generated S3 client keys: AWS_ACCESS_KEY_ID={}; the secret key is in {} \
             (readable by this user only): jq -r .secret_key {}",
            u.access_key,
            file.display(),
            file.display()
        );
    }
    // Files that hold secrets should be their owner's only.
    let secret_files = [
        config.data_dir.join("front-keys.json"),
        std::path::PathBuf::from(&config.admin_token_source),
        env.credentials_file(),
    ];
    for file in secret_files
        .iter()
        .filter(|f| crate::config::readable_by_others(f))
    {
        eprintln!(
            "rebucket: warning: {} holds secrets and is readable by others than its owner \
             (chmod 600 it)",
            file.display()
        );
    }
    let rt = runtime();
    rt.block_on(async move {
        let running = match crate::server::start(config, env).await {
            Ok(r) => r,
            Err(e) => {
                eprintln!("rebucket: cannot start: {e}");
                return ExitCode::FAILURE;
            }
        };
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("signal handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        tracing::info!("shutting down");
        running.stop().await;
        ExitCode::SUCCESS
    })
}

fn profiles(command: ProfilesCommand) -> ExitCode {
    init_tracing("warn", crate::config::LogFormat::Text);
    let env = ProfileEnv::from_process();
    let opts = ResolveOptions {
        allow_credential_process: false,
    };
    let out = match command {
        ProfilesCommand::Dump {
            config_file,
            credentials_file,
        } => crate::profiles::cli::dump(config_file.as_deref(), credentials_file.as_deref(), &env),
        ProfilesCommand::List => list_profiles(&env, opts),
        ProfilesCommand::Show { name } => crate::profiles::cli::show(&env, &name, opts),
    };
    match out {
        Ok(text) => {
            println!("{}", text.trim_end());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rebucket: {e}");
            ExitCode::from(2)
        }
    }
}

/// `profiles list`, saying so when there is nothing to list; a file that does not parse fails
/// the command.
fn list_profiles(env: &ProfileEnv, opts: ResolveOptions) -> Result<String, ProfileError> {
    let (config, credentials) = (env.config_file(), env.credentials_file());
    if !config.exists() && !credentials.exists() {
        return Ok(format!(
            "no AWS config or credentials file: neither {} nor {} exists \
             (AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE name others)",
            config.display(),
            credentials.display()
        ));
    }
    let set = ProfileSet::load(env)?;
    if set.names().is_empty() {
        return Ok(format!(
            "no profiles in {} or {}",
            config.display(),
            credentials.display()
        ));
    }
    Ok(crate::profiles::cli::list(env, opts))
}

/// Runs an admin verb: prints its text on success, the error on stderr (exit 1) otherwise.
fn admin_verb<F, Fut>(args: &AdminArgs, f: F) -> ExitCode
where
    F: FnOnce(AdminClient) -> Fut,
    Fut: std::future::Future<Output = Result<String, String>>,
{
    init_tracing("warn", crate::config::LogFormat::Text);
    let client = match AdminClient::new(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rebucket: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime().block_on(f(client)) {
        Ok(text) => {
            if !text.is_empty() {
                println!("{}", text.trim_end());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rebucket: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The admin body that sets the properties given as CLI pairs.
fn props_body(pairs: &[String], force: bool) -> Result<Value, String> {
    let props: serde_json::Map<String, Value> = parse_pairs(pairs)?
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    Ok(json!({"props": props, "force": force}))
}

fn bucket_path(bucket: &str) -> String {
    format!(
        "/v1/buckets/{}",
        bucket.trim_start_matches("s3://").trim_end_matches('/')
    )
}

fn join_names(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// Prints warnings on stderr; they never fail the command.
fn warn_all(v: &Value) {
    for w in v["warnings"].as_array().into_iter().flatten() {
        eprintln!("warning: {}", w.as_str().unwrap_or_default());
    }
}

/// `show bucket` as text: a title line saying whether the bucket is registered, then one
/// table `PROPERTY  VALUE  SOURCE` sorted by name: the bucket's properties (`-` when unset),
/// then `route.*`, where its requests really go and where each setting came from.
fn props_text(v: &Value) -> String {
    let Some(props) = v["props"].as_object() else {
        return String::new();
    };
    let text = |v: &Value| match v.as_str() {
        Some(s) if !s.is_empty() => s.to_owned(),
        _ => "-".to_owned(),
    };
    let mut rows: Vec<[String; 3]> = props
        .iter()
        .map(|(k, v)| {
            let source = if text(v) == "-" { "-" } else { "bucket prop" };
            [k.clone(), text(v), source.to_owned()]
        })
        .collect();
    let r = &v["route"];
    if let Some(e) = r.get("error") {
        rows.push(["route.error".into(), text(e), String::new()]);
    } else {
        let src = &r["sources"];
        let backend_source = if props
            .get("backend_bck")
            .and_then(Value::as_str)
            .is_some_and(|b| !b.is_empty())
        {
            "bucket prop backend_bck"
        } else {
            "bucket name"
        };
        rows.extend(
            [
                ["route.addressing_style", "addressing_style"],
                ["route.credentials", "credentials"],
                ["route.endpoint", "endpoint"],
                ["route.profile", "profile"],
                ["route.region", "region"],
            ]
            .map(|[name, field]| [name.to_owned(), text(&r[field]), text(&src[field])]),
        );
        rows.push([
            "route.backend_bck".into(),
            text(&r["backend_bck"]),
            backend_source.into(),
        ]);
    }
    rows.sort();
    let name = text(&v["name"]);
    let title = if v["registered"].as_bool() == Some(true) {
        format!("s3://{name}: registered")
    } else {
        format!("s3://{name}: not registered (routed by the defaults)")
    };
    let header = ["PROPERTY", "VALUE", "SOURCE"].map(str::to_owned);
    let all: Vec<&[String; 3]> = std::iter::once(&header).chain(rows.iter()).collect();
    // A route error is a sentence, not a column: it does not widen the table.
    let widths: Vec<usize> = (0..2)
        .map(|i| {
            all.iter()
                .filter(|r| r[0] != "route.error")
                .map(|r| r[i].len())
                .max()
                .unwrap_or(0)
                + 2
        })
        .collect();
    std::iter::once(title)
        .chain(all.iter().map(|[a, b, c]| {
            format!("{a:<w0$}{b:<w1$}{c}", w0 = widths[0], w1 = widths[1])
                .trim_end()
                .to_owned()
        }))
        .collect::<Vec<_>>()
        .join("\n")
}

/// What a change-making verb reports when nothing changed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Verb {
    Add,
    Set,
    Reset,
}

async fn bucket(c: AdminClient, command: BucketCommand, as_json: bool) -> Result<String, String> {
    let (verb, bucket_arg) = match &command {
        BucketCommand::Add { bucket, .. } => (Verb::Add, bucket.clone()),
        BucketCommand::Props {
            command: PropsCommand::Reset { bucket, .. },
        } => (Verb::Reset, bucket.clone()),
        BucketCommand::Props {
            command: PropsCommand::Set { bucket, .. },
        }
        | BucketCommand::Props {
            command: PropsCommand::Show { bucket },
        }
        | BucketCommand::Show { bucket }
        | BucketCommand::Rm { bucket } => (Verb::Set, bucket.clone()),
    };
    let (method, path, body) = match command {
        BucketCommand::Props {
            command: PropsCommand::Show { bucket },
        }
        | BucketCommand::Show { bucket } => return show_bucket(c, bucket, as_json).await,
        BucketCommand::Props {
            command:
                PropsCommand::Set {
                    bucket,
                    pairs,
                    force,
                },
        } => (
            http::Method::PATCH,
            format!("{}/props", bucket_path(&bucket)),
            props_body(&pairs, force)?,
        ),
        BucketCommand::Props {
            command: PropsCommand::Reset { bucket, names },
        } => (
            http::Method::DELETE,
            format!("{}/props", bucket_path(&bucket)),
            json!({"names": names}),
        ),
        BucketCommand::Add {
            bucket,
            pairs,
            force,
        } => (
            http::Method::PUT,
            bucket_path(&bucket),
            props_body(&pairs, force)?,
        ),
        BucketCommand::Rm { bucket } => {
            let v = c
                .call(http::Method::DELETE, &bucket_path(&bucket), None)
                .await?;
            return Ok(if as_json {
                pretty(&v)
            } else {
                format!("removed s3://{}", v["removed"].as_str().unwrap_or(""))
            });
        }
    };
    let v = c.call(method, &path, Some(body)).await?;
    warn_all(&v);
    if as_json {
        return Ok(pretty(&v));
    }
    Ok(changes_text(&v, verb, &bucket_arg))
}

/// One line per property the call named: `"name" set to: "new" (was: "old")`, or
/// `"name" unchanged: "value"` when it already had that value; then a line saying so when
/// nothing changed at all. A reset lists only the properties it cleared.
fn changes_text(v: &Value, verb: Verb, bucket: &str) -> String {
    let s = |x: &Value| x.as_str().unwrap_or("").to_owned();
    let mut lines = Vec::new();
    let mut changed = 0;
    for ch in v["changes"].as_array().into_iter().flatten() {
        let (name, old, new) = (s(&ch["name"]), s(&ch["old"]), s(&ch["new"]));
        if old != new {
            changed += 1;
            lines.push(format!("{name:?} set to: {new:?} (was: {old:?})"));
        } else if verb != Verb::Reset {
            lines.push(format!("{name:?} unchanged: {new:?}"));
        }
    }
    let bucket = format!(
        "s3://{}",
        bucket.trim_start_matches("s3://").trim_end_matches('/')
    );
    if changed == 0 {
        lines.push(match verb {
            Verb::Add => format!("registered {bucket} (no properties set)"),
            Verb::Set => format!("nothing changed: {bucket} already had these values"),
            Verb::Reset => format!("nothing to reset: {bucket} has none of these properties set"),
        });
    }
    lines.join("\n")
}

async fn show_bucket(c: AdminClient, bucket: String, as_json: bool) -> Result<String, String> {
    let v = c
        .call(http::Method::GET, &bucket_path(&bucket), None)
        .await?;
    Ok(if as_json { pretty(&v) } else { props_text(&v) })
}

async fn ls(c: AdminClient, as_json: bool) -> Result<String, String> {
    let v = c.call(http::Method::GET, "/v1/buckets", None).await?;
    if as_json {
        return Ok(pretty(&v));
    }
    let mut rows = vec![
        ["BUCKET", "BACKEND", "PROFILE", "ENDPOINT", "REGION"]
            .map(str::to_owned)
            .to_vec(),
    ];
    for b in v["buckets"].as_array().into_iter().flatten() {
        let r = &b["route"];
        let get = |v: &Value| v.as_str().unwrap_or("").to_owned();
        rows.push(vec![
            format!("s3://{}", get(&b["name"])),
            get(&r["backend_bck"]),
            get(&r["profile"]),
            r.get("error")
                .map(|e| format!("error: {}", get(e)))
                .unwrap_or_else(|| get(&r["endpoint"])),
            get(&r["region"]),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    Ok(rows
        .iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .map(|(i, c)| format!("{c:<w$}", w = widths[i] + 2))
                .collect::<String>()
                .trim_end()
                .to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n"))
}

pub(super) fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_bearing_log_targets_are_capped_at_info_down_to_their_modules() {
        use tracing::Level;
        for target in [
            "s3s",
            "s3s::ops",
            "aws_smithy_runtime::client::orchestrator",
            "h2::codec",
        ] {
            assert!(!under_cap(Level::DEBUG, target), "{target} at debug");
            assert!(!under_cap(Level::TRACE, target), "{target} at trace");
            assert!(under_cap(Level::INFO, target), "{target} at info");
            assert!(under_cap(Level::ERROR, target), "{target} at error");
        }
        for target in ["rebucket::request", "s3s_other", "hyperion", "aws_sigv4x"] {
            assert!(under_cap(Level::TRACE, target), "{target} at trace");
        }
    }
}
