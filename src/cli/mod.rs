//! The `rebucket` command line: `serve`, the operator verbs that talk to a running gateway's
//! admin API (`bucket props set`, `show bucket`, `ls`, ...), and the offline `profiles` verbs.

mod admin_client;
mod commands;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::ServeArgs;

#[derive(Debug, Parser)]
#[command(
    name = "rebucket",
    version,
    about = "S3 gateway: every bucket on its own upstream, with its own AWS profile"
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
    Serve(ServeArgs),
    /// Bucket registrations and properties.
    Bucket {
        #[command(subcommand)]
        command: BucketCommand,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Show things.
    Show {
        #[command(subcommand)]
        command: ShowCommand,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// List the registered buckets with their upstream.
    Ls {
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Make the gateway re-read the AWS shared files now.
    ReloadCreds {
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Inspect the AWS shared config and credentials files (offline).
    Profiles {
        #[command(subcommand)]
        command: ProfilesCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum BucketCommand {
    /// Bucket properties.
    Props {
        #[command(subcommand)]
        command: PropsCommand,
    },
    /// Register a bucket: `bucket add s3://alias backend_bck=abc extra.aws.profile=prod`.
    Add {
        bucket: String,
        /// `name=value` or `name value` pairs.
        pairs: Vec<String>,
        /// Accept a profile the AWS files do not have (yet).
        #[arg(long)]
        force: bool,
    },
    /// Remove a registration (the upstream bucket is untouched).
    Rm { bucket: String },
}

#[derive(Debug, Subcommand)]
pub enum PropsCommand {
    /// Set properties: `props set s3://abc extra.aws.profile prod` or `... extra.aws.profile=prod`;
    /// an empty value clears.
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
    Reset { bucket: String, names: Vec<String> },
    /// Show properties (same as `show bucket`).
    Show { bucket: String },
}

#[derive(Debug, Subcommand)]
pub enum ShowCommand {
    /// Every property of a bucket, sorted, one `name value` line each.
    Bucket { bucket: String },
}

#[derive(Debug, Subcommand)]
pub enum ProfilesCommand {
    /// The parsed files as JSON: `{"profiles": {..}, "sso_sessions": {..}}`; exit 2 on a parse error.
    Dump {
        #[arg(long)]
        config_file: Option<PathBuf>,
        #[arg(long)]
        credentials_file: Option<PathBuf>,
    },
    /// Every profile with its region, endpoint and credential source (secrets masked).
    List,
    /// One resolved profile (secrets masked).
    Show { name: String },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
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
    use super::parse_pairs;

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
