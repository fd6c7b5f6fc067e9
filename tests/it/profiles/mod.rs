//! Resolution order (region, endpoints), credential sources, the CLI helpers, STS AssumeRole
//! against a real STS endpoint on loopback (moto), and a no-panic property test of the parser.

mod credentials;
mod files_and_cli;
mod parser_never_panics;
mod precedence;
mod sts;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_types::error::display::DisplayErrorContext;
use proptest::prelude::*;
use rebucket::profiles::parser::is_valid_identifier;
use rebucket::profiles::{
    AddressingStyle, CredentialSource, ProfileEnv, ProfileError, ProfileSet, ResolveOptions,
    StaticCredentials, cli, credentials_provider,
};

use crate::common::*;

const OPTS: ResolveOptions = ResolveOptions {
    allow_credential_process: false,
};

/// A temporary home with `.aws/config` and `.aws/credentials`.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new(config: &str, credentials: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".aws")).unwrap();
        std::fs::write(dir.path().join(".aws/config"), config).unwrap();
        std::fs::write(dir.path().join(".aws/credentials"), credentials).unwrap();
        Home { dir }
    }

    fn env(&self, extra: &[(&str, &str)]) -> ProfileEnv {
        let mut vars: HashMap<String, String> =
            HashMap::from([("HOME".into(), self.dir.path().display().to_string())]);
        vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        ProfileEnv { vars }
    }
}

fn resolve(
    config: &str,
    credentials: &str,
    name: &str,
    env: &[(&str, &str)],
) -> Result<rebucket::profiles::ResolvedProfile, ProfileError> {
    let home = Home::new(config, credentials);
    let env = home.env(env);
    ProfileSet::load(&env)?.resolve(name, &env, None, OPTS)
}
