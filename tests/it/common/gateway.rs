//! A gateway started in-process, with its own data dir, HOME and AWS files.

use std::collections::HashMap;
use std::net::SocketAddr;

use rebucket::config::{ServeArgs, ServeConfig};
use rebucket::profiles::ProfileEnv;
use rebucket::server::Running;

use super::{ADMIN_TOKEN, AdminAnswer, FRONT_AK, FRONT_SK, Upstream, admin_call, s3_client};

/// How to start a gateway. `front_keys: None` lets it generate its own.
#[derive(Debug, Clone)]
pub struct GwOpts {
    pub s3_endpoint: Option<String>,
    pub aws_keys: Option<(String, String)>,
    pub aws_profile: Option<String>,
    /// Contents of the AWS `config` file (not written when `None`).
    pub aws_config: Option<String>,
    /// Contents of the AWS `credentials` file (not written when `None`).
    pub aws_credentials: Option<String>,
    pub front_keys: Option<(String, String)>,
    pub admin_token: Option<String>,
    /// Contents of a `--config` TOML file (none when `None`).
    pub config_toml: Option<String>,
    /// Settings of the config file, applied to the built configuration.
    pub configure: Option<fn(&mut ServeConfig)>,
}

impl GwOpts {
    /// S3_ENDPOINT at `upstream`, signing with its first key pair from the environment.
    pub fn upstream(upstream: &Upstream) -> Self {
        Self {
            s3_endpoint: Some(upstream.endpoint.clone()),
            aws_keys: Some(upstream.keys[0].clone()),
            ..Self::default()
        }
    }
}

impl Default for GwOpts {
    fn default() -> Self {
        Self {
            s3_endpoint: None,
            aws_keys: None,
            aws_profile: None,
            aws_config: None,
            aws_credentials: None,
            front_keys: Some((FRONT_AK.into(), FRONT_SK.into())),
            admin_token: Some(ADMIN_TOKEN.into()),
            config_toml: None,
            configure: None,
        }
    }
}

/// A gateway started in-process, with its own data dir and HOME.
pub struct TestGateway {
    pub running: Option<Running>,
    pub data: tempfile::TempDir,
    pub home: tempfile::TempDir,
    pub env: HashMap<String, String>,
    /// The front's first key pair (generated ones included).
    pub front: (String, String),
    pub admin_token: String,
    /// The `--config` file, if the options gave one.
    pub config: Option<std::path::PathBuf>,
    configure: Option<fn(&mut ServeConfig)>,
}

impl TestGateway {
    pub async fn start(opts: GwOpts) -> Self {
        let home = tempfile::tempdir().expect("tempdir");
        let data = tempfile::tempdir().expect("tempdir");
        let aws_dir = home.path().join("aws-files");
        std::fs::create_dir_all(&aws_dir).expect("mkdir");
        let config_file = aws_dir.join("config");
        let credentials_file = aws_dir.join("credentials");
        if let Some(text) = &opts.aws_config {
            std::fs::write(&config_file, text).expect("write config");
        }
        if let Some(text) = &opts.aws_credentials {
            std::fs::write(&credentials_file, text).expect("write credentials");
        }
        let mut env = HashMap::new();
        env.insert("HOME".to_owned(), home.path().display().to_string());
        env.insert(
            "AWS_CONFIG_FILE".to_owned(),
            config_file.display().to_string(),
        );
        env.insert(
            "AWS_SHARED_CREDENTIALS_FILE".to_owned(),
            credentials_file.display().to_string(),
        );
        let mut set = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                env.insert(k.to_owned(), v.clone());
            }
        };
        set("S3_ENDPOINT", &opts.s3_endpoint);
        set("AWS_PROFILE", &opts.aws_profile);
        set("REBUCKET_ADMIN_TOKEN", &opts.admin_token);
        set(
            "AWS_ACCESS_KEY_ID",
            &opts.aws_keys.as_ref().map(|k| k.0.clone()),
        );
        set(
            "AWS_SECRET_ACCESS_KEY",
            &opts.aws_keys.as_ref().map(|k| k.1.clone()),
        );
        set(
            "REBUCKET_ACCESS_KEY",
            &opts.front_keys.as_ref().map(|k| k.0.clone()),
        );
        set(
            "REBUCKET_SECRET_KEY",
            &opts.front_keys.as_ref().map(|k| k.1.clone()),
        );
        let config = opts.config_toml.as_ref().map(|text| {
            let path = home.path().join("rebucket.toml");
            std::fs::write(&path, text).expect("write config file");
            path
        });
        let mut gw = Self {
            config,
            running: None,
            data,
            home,
            env,
            front: (String::new(), String::new()),
            admin_token: String::new(),
            configure: opts.configure,
        };
        gw.boot().await;
        gw
    }

    async fn boot(&mut self) {
        let args = ServeArgs {
            listen: "127.0.0.1:0".parse().expect("addr"),
            admin_listen: "127.0.0.1:0".parse().expect("addr"),
            data_dir: self.data.path().to_owned(),
            config: self.config.clone(),
            domain: Vec::new(),
            log_format: Default::default(),
            metrics_listen: None,
        };
        let mut config = ServeConfig::build(args, &self.env).expect("ServeConfig::build");
        if let Some(configure) = self.configure {
            configure(&mut config);
        }
        self.front = (
            config.users[0].access_key.clone(),
            config.users[0].secret_key.clone(),
        );
        self.admin_token = config.admin_token.clone();
        let running = rebucket::server::start(
            config,
            ProfileEnv {
                vars: self.env.clone(),
            },
        )
        .await
        .expect("server::start");
        self.running = Some(running);
    }

    /// Stops the gateway and starts a new one on the same data dir and environment.
    pub async fn restart(&mut self) {
        if let Some(r) = self.running.take() {
            r.stop().await;
        }
        self.boot().await;
    }

    pub fn running(&self) -> &Running {
        self.running.as_ref().expect("gateway running")
    }

    pub fn s3_addr(&self) -> SocketAddr {
        self.running().s3_addr
    }

    pub fn admin_addr(&self) -> SocketAddr {
        self.running().admin_addr
    }

    pub fn endpoint(&self) -> String {
        format!("http://{}", self.s3_addr())
    }

    /// A front client with the gateway's keys.
    pub fn client(&self) -> aws_sdk_s3::Client {
        s3_client(&self.endpoint(), &self.front.0, &self.front.1)
    }

    /// An admin call with the right token.
    pub async fn admin(
        &self,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> AdminAnswer {
        admin_call(
            self.admin_addr(),
            Some(&self.admin_token),
            method,
            path,
            body,
        )
        .await
    }

    /// `PATCH /v1/buckets/{bucket}/props` with `force`; panics unless 200.
    pub async fn set_props(&self, bucket: &str, props: serde_json::Value) -> AdminAnswer {
        let ans = self
            .admin(
                "PATCH",
                &format!("/v1/buckets/{bucket}/props"),
                Some(serde_json::json!({"props": props, "force": true})),
            )
            .await;
        assert_eq!(ans.status, 200, "set props of {bucket}: {}", ans.text);
        ans
    }
}
