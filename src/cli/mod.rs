//! The `rebucket` command line: `serve`, the operator verbs that talk to a running gateway's
//! admin API (`bucket props set`, `show bucket`, `ls`, `user ...`, ...), and the offline
//! `profiles` verbs.

mod admin_client;
mod commands;
pub mod config_cmd;
pub mod help;
mod users;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::config::ServeArgs;

#[derive(Debug, Parser)]
#[command(
    name = "rebucket",
    version,
    about = "S3 gateway: every bucket on its own upstream, with its own AWS profile",
    after_help = help::ROOT
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// Where the CLI finds the admin API.
#[derive(Debug, Clone, clap::Args)]
pub struct AdminArgs {
    /// Admin API of the running gateway.
    #[arg(
        long,
        env = "REBUCKET_ADMIN_URL",
        default_value = "http://127.0.0.1:8081",
        global = true
    )]
    pub admin_url: String,
    /// Admin token (default: REBUCKET_ADMIN_TOKEN, else <data-dir>/admin-token).
    #[arg(
        long,
        env = "REBUCKET_ADMIN_TOKEN",
        hide_env_values = true,
        global = true
    )]
    pub admin_token: Option<String>,
    /// Data dir of a local gateway, to find its generated admin token.
    #[arg(long = "data-dir", default_value = "./rebucket-data", global = true)]
    pub data_dir: PathBuf,
    /// Machine-readable JSON output.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the gateway.
    #[command(after_help = help::SERVE)]
    Serve(ServeArgs),
    /// Bucket registrations and properties.
    #[command(after_help = help::BUCKET)]
    Bucket {
        #[command(subcommand)]
        command: BucketCommand,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Show things.
    #[command(after_help = help::SHOW)]
    Show {
        #[command(subcommand)]
        command: ShowCommand,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// List the registered buckets with their upstream.
    #[command(after_help = help::LS)]
    Ls {
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Front users (access key + secret) and their per-bucket grants.
    #[command(after_help = help::USER)]
    User {
        #[command(subcommand)]
        command: UserCommand,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Make the gateway re-read the AWS shared files now.
    #[command(after_help = help::RELOAD_CREDS)]
    ReloadCreds {
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Inspect the AWS shared config and credentials files (offline).
    #[command(after_help = help::PROFILES)]
    Profiles {
        #[command(subcommand)]
        command: ProfilesCommand,
    },
    /// The config file: print a commented example, or check one (offline).
    #[command(after_help = help::CONFIG)]
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Print a shell completion script.
    #[command(after_help = help::COMPLETIONS)]
    Completions {
        /// The shell to complete for.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum BucketCommand {
    /// Bucket properties.
    #[command(after_help = help::PROPS)]
    Props {
        #[command(subcommand)]
        command: PropsCommand,
    },
    /// Register a bucket: `bucket add s3://alias backend_bck=abc extra.aws.profile=prod`.
    #[command(after_help = help::BUCKET_ADD)]
    Add {
        bucket: String,
        /// `name=value` or `name value` pairs.
        pairs: Vec<String>,
        /// Accept a profile the AWS files do not have (yet).
        #[arg(long)]
        force: bool,
    },
    /// Remove a registration (the upstream bucket is untouched).
    #[command(after_help = help::BUCKET_RM)]
    Rm { bucket: String },
    /// Every property of a bucket and its route (same as `show bucket`).
    #[command(after_help = help::BUCKET_SHOW)]
    Show { bucket: String },
}

#[derive(Debug, Subcommand)]
pub enum PropsCommand {
    /// Set properties: `props set s3://abc extra.aws.profile prod` or `... extra.aws.profile=prod`;
    /// an empty value clears.
    #[command(after_help = help::PROPS_SET)]
    Set {
        bucket: String,
        /// `name=value` or `name value` pairs.
        #[arg(required = true)]
        pairs: Vec<String>,
        /// Accept a profile the AWS files do not have (yet).
        #[arg(long)]
        force: bool,
    },
    /// Reset properties to their defaults (all of them when none is named).
    #[command(after_help = help::PROPS_RESET)]
    Reset { bucket: String, names: Vec<String> },
    /// Show properties (same as `show bucket`).
    #[command(after_help = help::PROPS_SHOW)]
    Show { bucket: String },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user with a generated key pair; prints the access key and the secret key, once.
    #[command(after_help = help::USER_ADD)]
    Add { name: String },
    /// Every user with its access key and grants (never a secret).
    #[command(after_help = help::USER_LS)]
    Ls,
    /// One user: its access key and grants (never the secret).
    #[command(after_help = help::USER_SHOW)]
    Show { name: String },
    /// Remove a user; its key stops working on the next request.
    #[command(after_help = help::USER_RM)]
    Rm { name: String },
    /// Give a user a new secret key (the access key stays); prints it, once.
    #[command(after_help = help::USER_ROTATE_SECRET)]
    RotateSecret { name: String },
    /// Grant a permission on a bucket or a glob of buckets: read, write or admin.
    #[command(after_help = help::USER_GRANT)]
    Grant {
        name: String,
        /// `s3://bucket`, or a glob: `s3://logs-*`, `s3://*`.
        bucket: String,
        /// `read`, `write` or `admin` (admin includes read and write).
        permission: String,
    },
    /// Take back a permission on a bucket (every permission on it when none is named).
    #[command(after_help = help::USER_REVOKE)]
    Revoke {
        name: String,
        /// The bucket or glob the grant names, as granted.
        bucket: String,
        /// `read`, `write` or `admin`; all of them when left out.
        permission: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ShowCommand {
    /// Every property of a bucket, sorted, one `name value` line each.
    #[command(after_help = help::SHOW_BUCKET)]
    Bucket { bucket: String },
}

#[derive(Debug, Subcommand)]
pub enum ProfilesCommand {
    /// The parsed files as JSON, secrets included: `{"profiles": {..}, "sso_sessions": {..}}`;
    /// exit 2 on a parse error.
    #[command(after_help = help::PROFILES_DUMP)]
    Dump {
        #[arg(long)]
        config_file: Option<PathBuf>,
        #[arg(long)]
        credentials_file: Option<PathBuf>,
    },
    /// Every profile with its region, endpoint and credential source (secrets masked).
    #[command(after_help = help::PROFILES_LIST)]
    List,
    /// One resolved profile (secrets masked).
    #[command(after_help = help::PROFILES_SHOW)]
    Show { name: String },
}

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print a commented config file with every key and its default.
    #[command(after_help = help::CONFIG_EXAMPLE)]
    Example,
    /// Validate a config file without starting; errors name the line and column.
    #[command(after_help = help::CONFIG_CHECK)]
    Check {
        /// The TOML file to check.
        file: PathBuf,
    },
}

/// The full command definition: the derived one plus the help texts built at run time.
pub fn command() -> clap::Command {
    let props = help::props_reference();
    let with_props = |c: clap::Command| {
        let text = format!(
            "{}\n\n{props}",
            c.get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default()
        );
        c.after_help(text)
    };
    Cli::command().mut_subcommand("bucket", |b| {
        b.mut_subcommand("add", with_props)
            .mut_subcommand("props", |p| p.mut_subcommand("set", with_props))
    })
}

/// Parses `args` (the program name first) into a [`Cli`]; `Err` holds clap's usage error or
/// the help/version text to print.
pub fn parse_from<I, T>(args: I) -> Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let mut matches = command().try_get_matches_from(args)?;
    Cli::from_arg_matches_mut(&mut matches).map_err(|e| e.format(&mut command()))
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = match parse_from(std::env::args_os()) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    commands::run(cli)
}

/// Splits `name=value` / `name value` arguments into pairs.
pub fn parse_pairs(args: &[String]) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.split_once('=') {
            Some((k, v)) => out.push((k.to_owned(), v.to_owned())),
            None => match it.next() {
                Some(v) => out.push((a.clone(), v.clone())),
                None => {
                    return Err(format!(
                        "property {a:?} has no value (use `{a} VALUE`, `{a}=VALUE`, or `{a} \"\"` to clear)"
                    ));
                }
            },
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::{command, parse_from, parse_pairs};

    #[test]
    fn clap_definition_is_consistent() {
        command().debug_assert();
    }

    #[test]
    fn every_subcommand_has_an_example() {
        fn walk(cmd: &clap::Command, path: &str) {
            for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
                let path = format!("{path} {}", sub.get_name());
                let help = sub
                    .get_after_help()
                    .map(|h| h.to_string())
                    .unwrap_or_default();
                assert!(help.contains("Example"), "`{path}` has no example");
                walk(sub, &path);
            }
        }
        walk(&command(), "rebucket");
    }

    #[test]
    fn bucket_show_is_show_bucket() {
        use super::{BucketCommand, Command, ShowCommand};
        let a = parse_from(["rebucket", "bucket", "show", "s3://b"]).unwrap();
        let b = parse_from(["rebucket", "show", "bucket", "s3://b"]).unwrap();
        assert!(matches!(
            a.command,
            Command::Bucket { command: BucketCommand::Show { bucket }, .. } if bucket == "s3://b"
        ));
        assert!(matches!(
            b.command,
            Command::Show { command: ShowCommand::Bucket { bucket }, .. } if bucket == "s3://b"
        ));
    }

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn both_pair_forms_parse() {
        let p = parse_pairs(&s(&[
            "extra.aws.profile",
            "prod",
            "extra.aws.endpoint=http://h:9000",
            "backend_bck",
            "",
        ]))
        .unwrap();
        assert_eq!(
            p,
            vec![
                ("extra.aws.profile".into(), "prod".into()),
                ("extra.aws.endpoint".into(), "http://h:9000".into()),
                ("backend_bck".into(), "".into())
            ]
        );
        assert!(parse_pairs(&s(&["extra.aws.profile"])).is_err());
        assert_eq!(
            parse_pairs(&s(&["a=b=c"])).unwrap(),
            vec![("a".into(), "b=c".into())]
        );
    }
}
