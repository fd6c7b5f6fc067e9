//! Help texts of the command line: the example shown under every subcommand's `--help` (clap's
//! `after_help`), the bucket property reference of `props set --help` / `bucket add --help`, and
//! the environment and config-file reference of `serve --help`.
//!
//! The property reference is built at run time from the registry's list of property names, in
//! [`props_reference`] only, so it cannot fall behind the properties the gateway accepts.

use crate::registry::{AddressingStyle, PropKey};

pub const ROOT: &str = "\
Examples:
  rebucket serve                                   # S3 on 127.0.0.1:8080, admin API on 127.0.0.1:8081
  rebucket bucket add s3://photos extra.aws.profile=prod
  rebucket show bucket s3://photos
  rebucket ls
  rebucket user add alice && rebucket user grant alice s3://photos read
  rebucket config example > rebucket.toml
  rebucket completions bash > /etc/bash_completion.d/rebucket

The verbs that talk to a running gateway find its admin API through REBUCKET_ADMIN_URL
(default http://127.0.0.1:8081) and REBUCKET_ADMIN_TOKEN (default: <data-dir>/admin-token).";

pub const SERVE: &str = "\
Examples:
  rebucket serve
  rebucket serve --listen 0.0.0.0:8080 --admin-listen 127.0.0.1:8081 --data-dir /data
  S3_ENDPOINT=http://minio.local:9000 AWS_PROFILE=minio rebucket serve --config rebucket.toml

Environment (read once at start):
  S3_ENDPOINT                  default upstream endpoint for buckets without extra.aws.endpoint
  AWS_PROFILE                  default profile for buckets without extra.aws.profile
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN
                               upstream credentials for buckets without a profile of their own
  AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE
                               the AWS shared files (default ~/.aws/config, ~/.aws/credentials);
                               re-read when they change, or on `rebucket reload-creds`
  AWS_REGION, AWS_DEFAULT_REGION
                               region of a profile, before the profile's own `region`
  AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL
                               endpoint of a profile, before the profile's own `endpoint_url`
  REBUCKET_ACCESS_KEY, REBUCKET_SECRET_KEY
                               the S3 client key pair (else the config's [[users]], else a pair
                               generated into <data-dir>/front-keys.json and printed once)
  REBUCKET_ADMIN_TOKEN         admin API token (else admin_token_file, else generated into
                               <data-dir>/admin-token)
  REBUCKET_LISTEN, REBUCKET_ADMIN_LISTEN, REBUCKET_DATA_DIR, REBUCKET_CONFIG,
  REBUCKET_LOG_FORMAT, REBUCKET_METRICS_LISTEN
                               the flags of the same names (a flag given wins)
  REBUCKET_LEAN_PATH           true or false: the config key lean_path (the variable wins)
  RUST_LOG                     log filter, e.g. info (default), debug, rebucket=debug

Config file keys (--config FILE; all optional; `rebucket config example` prints them commented):
  allow_anonymous              let unsigned requests through (default false: refused, 403)
  allow_credential_process     let profiles run `credential_process` (default false)
  admin_token_file             file holding the admin token
  domains                      base domains for virtual-hosted-style requests (default [])
  endpoint_allowlist           the only upstream hosts, \"host\" or \"host:port\" (default: any)
  connect_timeout_ms           upstream connect timeout (default 3000)
  post_object_max_bytes        largest POST-form upload (default 67108864, 64 MiB)
  header_read_timeout_ms       time to send a request's headers (default 20000)
  idle_timeout_ms              idle keep-alive connections closed after (default 20000)
  body_idle_timeout_ms         an upload that sends nothing this long is cut (default 30000)
  max_connections              open connections per listener (default 1024; past it 503)
  max_headers, max_header_bytes
                               header count and size limits (default 100, 16384; past them 431)
  upstream_first_byte_timeout_ms
                               wait for an upstream's answer (default 60000)
  upstream_idle_timeout_ms     pause of an upstream transfer either way (default 30000)
  allow_link_local             let upstreams be at link-local/metadata addresses (default false)
  ready_checks_upstream        /readyz also checks the default upstream (default false)
  post_object_memory_bytes     memory all POST forms in flight share (default 268435456)
  discovery_per_second         bucket look-ups started per second (default 10)
  lean_path                    plain GETs and HEADs forwarded without the AWS SDK (default true)
  embedded_fallback            buckets with no route go to the embedded store (default: only
                               when no endpoint, profile, keys or routed bucket is configured)
  registry                     s3://BUCKET/KEY: a registry shared by several replicas
                               (default: <data-dir>/registry.json)
  registry_endpoint, registry_profile
                               its S3 server and credentials (default: the default upstream's)
  registry_cache               keep <data-dir>/registry-cache.json to start from while the
                               store is down (default true)
  registry_poll_ms             how often a replica asks whether it changed (default 250)
  [[users]] access_key, secret_key
                               S3 client identities";

pub const USER: &str = "\
Examples:
  rebucket user add alice                          # prints alice's access key and secret, once
  rebucket user grant alice s3://photos write
  rebucket user grant alice 's3://logs-*' read
  rebucket user ls
  rebucket user revoke alice s3://photos write
  rebucket user rotate-secret alice --json
  rebucket user rm alice

A user holds grants: bucket name or glob -> read (GET, HEAD, List*, Get*), write (PUT, POST,
Delete*, multipart uploads, the target of a copy, object tags/ACL/retention/legal hold) or admin
(the bucket itself: Create/DeleteBucket, policy, CORS, lifecycle, versioning, tagging, ...;
includes read and write). A copy also needs read on its source bucket. Changes count from the
next request. The keys of the config file and REBUCKET_ACCESS_KEY are admins of every bucket.";

pub const USER_ADD: &str = "\
Examples:
  rebucket user add alice
  rebucket user add ci-bot --json        # {\"access_key\": \"RB...\", \"secret_key\": \"...\"}";

pub const USER_LS: &str = "\
Examples:
  rebucket user ls
  rebucket user ls --json";

pub const USER_SHOW: &str = "\
Example:
  rebucket user show alice";

pub const USER_RM: &str = "\
Example:
  rebucket user rm alice";

pub const USER_ROTATE_SECRET: &str = "\
Examples:
  rebucket user rotate-secret alice
  rebucket user rotate-secret alice --json";

pub const USER_GRANT: &str = "\
Examples:
  rebucket user grant alice s3://photos read
  rebucket user grant alice 's3://logs-*' write     # every bucket whose name starts with logs-
  rebucket user grant ops 's3://*' admin            # everything, as the config file's keys";

pub const USER_REVOKE: &str = "\
Examples:
  rebucket user revoke alice s3://photos write
  rebucket user revoke alice 's3://logs-*'          # every permission on that glob";

pub const BUCKET: &str = "\
Examples:
  rebucket bucket add s3://alias backend_bck=photos extra.aws.profile=prod
  rebucket bucket props set s3://photos extra.aws.endpoint=http://minio.local:9000
  rebucket bucket show s3://photos
  rebucket bucket rm s3://alias";

pub const PROPS: &str = "\
Examples:
  rebucket bucket props set s3://photos extra.aws.profile prod
  rebucket bucket props show s3://photos
  rebucket bucket props reset s3://photos extra.aws.endpoint";

pub const PROPS_SET: &str = "\
Examples:
  rebucket bucket props set s3://photos extra.aws.profile prod
  rebucket bucket props set s3://photos extra.aws.endpoint=http://minio.local:9000 extra.aws.addressing_style=path
  rebucket bucket props set s3://photos extra.aws.endpoint \"\"      # clear";

pub const PROPS_RESET: &str = "\
Examples:
  rebucket bucket props reset s3://photos extra.aws.endpoint
  rebucket bucket props reset s3://photos                        # every property";

pub const PROPS_SHOW: &str = "\
Example:
  rebucket bucket props show s3://photos";

pub const BUCKET_ADD: &str = "\
Examples:
  rebucket bucket add s3://photos                                  # default upstream, same name
  rebucket bucket add s3://alias backend_bck=photos extra.aws.profile=prod
  rebucket bucket add s3://lab extra.aws.endpoint=http://minio.local:9000 extra.aws.profile=minio --force";

pub const BUCKET_RM: &str = "\
Example:
  rebucket bucket rm s3://alias          # the upstream bucket and its objects stay";

pub const BUCKET_SHOW: &str = "\
Examples:
  rebucket bucket show s3://photos
  rebucket bucket show s3://photos --json";

pub const SHOW: &str = "\
Example:
  rebucket show bucket s3://photos";

pub const SHOW_BUCKET: &str = "\
Examples:
  rebucket show bucket s3://photos
  rebucket show bucket s3://not-registered      # what the defaults would do with it
  rebucket show bucket s3://photos --json";

pub const LS: &str = "\
Examples:
  rebucket ls
  rebucket ls --json
  REBUCKET_ADMIN_URL=http://gw.internal:8081 REBUCKET_ADMIN_TOKEN=... rebucket ls";

pub const RELOAD_CREDS: &str = "\
Example:
  rebucket reload-creds      # after rotating keys in ~/.aws/credentials";

pub const PROFILES: &str = "\
Examples:
  rebucket profiles list
  rebucket profiles show prod
  AWS_CONFIG_FILE=./aws-config rebucket profiles list

`list` and `show` mask secrets; `dump` prints them (it is the machine-readable view).";

pub const PROFILES_DUMP: &str = "\
Examples:
  rebucket profiles dump | jq '.profiles | keys'
  rebucket profiles dump --config-file ./config --credentials-file ./credentials

WARNING: `dump` prints secrets (aws_secret_access_key, aws_session_token, ...) in clear: it is
the machine-readable view of the files. Use `profiles list` or `profiles show` to look at
profiles with secrets masked.";

pub const PROFILES_LIST: &str = "\
Examples:
  rebucket profiles list
  AWS_SHARED_CREDENTIALS_FILE=./credentials rebucket profiles list

Secrets are masked; with no AWS files at all it says so.";

pub const PROFILES_SHOW: &str = "\
Example:
  rebucket profiles show prod     # region, endpoint, addressing style, credential source (masked)";

pub const CONFIG: &str = "\
Examples:
  rebucket config example > rebucket.toml
  rebucket config check rebucket.toml";

pub const CONFIG_EXAMPLE: &str = "\
Example:
  rebucket config example > rebucket.toml && rebucket serve --config rebucket.toml";

pub const CONFIG_CHECK: &str = "\
Examples:
  rebucket config check rebucket.toml      # exit 0 when valid; else FILE:LINE:COLUMN: error, exit 2";

pub const COMPLETIONS: &str = "\
Examples:
  rebucket completions bash > /etc/bash_completion.d/rebucket
  rebucket completions zsh > \"${fpath[1]}/_rebucket\"
  rebucket completions fish > ~/.config/fish/completions/rebucket.fish";

/// What one property holds and which values it takes.
fn describe_prop(key: PropKey) -> String {
    match key {
        PropKey::Anonymous => {
            "off | read | forward: unsigned callers may read it (with its credentials) or \
             reach its upstream unsigned (default: off)"
                .to_owned()
        }
        PropKey::BackendBck => {
            "the upstream bucket it stands for (default: the same name)".to_owned()
        }
        PropKey::AddressingStyle => format!(
            "{} (default: the profile's, else path for non-AWS endpoints)",
            AddressingStyle::ALL
                .map(AddressingStyle::as_str)
                .join(" | ")
        ),
        PropKey::CloudRegion => {
            "upstream region, e.g. eu-west-1 (filled in by the gateway's lookup)".to_owned()
        }
        PropKey::Endpoint => {
            "http(s)://host[:port] (default: S3_ENDPOINT, else the profile's)".to_owned()
        }
        PropKey::Profile => {
            "a profile of the AWS config/credentials files (default: AWS_PROFILE)".to_owned()
        }
        PropKey::ReadOnly => {
            "true refuses every write to the bucket, for every caller (default: false)".to_owned()
        }
    }
}

/// The property reference appended to `props set --help` and `bucket add --help`.
pub fn props_reference() -> String {
    let width = PropKey::ALL
        .iter()
        .map(|k| k.as_str().len())
        .max()
        .unwrap_or(0)
        + 2;
    let mut out =
        String::from("Properties (`NAME VALUE` or `NAME=VALUE`; an empty value clears one):\n");
    for key in PropKey::ALL {
        let name = key.as_str();
        let line = format!("  {name:<width$}{}", describe_prop(key));
        out.push_str(&line);
        out.push('\n');
    }
    out
}
