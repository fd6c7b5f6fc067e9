//! STS AssumeRole against a real STS endpoint on loopback (moto).

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs moto_server (conformance/setup.sh installs it)"]
async fn assume_role_against_moto() {
    let _g = light().await;
    let moto = moto::Moto::start();
    let cfg = "\
[profile base]
aws_access_key_id = AKIDBASE0000000000
aws_secret_access_key = base-secret
[profile role]
role_arn = arn:aws:iam::123456789012:role/first
source_profile = base
duration_seconds = 900
role_session_name = rebucket-test
external_id = ext-1
region = us-west-2
[profile chained]
role_arn = arn:aws:iam::123456789012:role/second
source_profile = role
";
    let home = Home::new(cfg, "");
    let env = home.env(&[("AWS_ENDPOINT_URL", &moto.url)]);
    let set = ProfileSet::load(&env).unwrap();

    let role = set.resolve("role", &env, None, OPTS).unwrap();
    assert_eq!(role.endpoint_url.as_deref(), Some(moto.url.as_str()));
    let CredentialSource::AssumeRole { sts_endpoint, .. } = &role.credentials else {
        panic!("{:?}", role.credentials)
    };
    assert_eq!(sts_endpoint.as_deref(), Some(moto.url.as_str()));

    let provider = credentials_provider(&role.credentials, None).unwrap();
    let before = SystemTime::now();
    let creds = provider
        .provide_credentials()
        .await
        .unwrap_or_else(|e| panic!("{}", DisplayErrorContext(e)));
    assert!(!creds.access_key_id().is_empty() && creds.access_key_id() != "AKIDBASE0000000000");
    assert!(creds.session_token().is_some_and(|t| !t.is_empty()));
    let expiry = creds
        .expiry()
        .expect("temporary credentials carry an expiry");
    let lifetime = expiry.duration_since(before).expect("expiry in the future");
    assert!(
        lifetime > Duration::from_secs(800) && lifetime < Duration::from_secs(1000),
        "duration_seconds=900 gave {lifetime:?}"
    );

    // A two-hop chain: `chained` assumes `second` with credentials from assuming `first`.
    let chained = set.resolve("chained", &env, None, OPTS).unwrap();
    let second = credentials_provider(&chained.credentials, None)
        .unwrap()
        .provide_credentials()
        .await;
    let second = second.unwrap_or_else(|e| panic!("{}", DisplayErrorContext(e)));
    assert!(second.expiry().is_some());
    assert_ne!(second.access_key_id(), creds.access_key_id());

    // The provider plugged into an S3 client (through the SDK's identity cache).
    let shared = credentials_provider(&role.credentials, None).unwrap();
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(aws_sdk_s3::config::BehaviorVersion::latest())
        .region(aws_sdk_s3::config::Region::new(
            role.region.clone().unwrap(),
        ))
        .endpoint_url(role.endpoint_url.clone().unwrap())
        .force_path_style(true)
        .credentials_provider(shared)
        .build();
    let s3 = aws_sdk_s3::Client::from_conf(conf);
    let location = aws_sdk_s3::types::CreateBucketConfiguration::builder()
        .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::UsWest2)
        .build();
    s3.create_bucket()
        .bucket("profiles-sts-test")
        .create_bucket_configuration(location)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}", DisplayErrorContext(e)));
    let listed = s3
        .list_buckets()
        .send()
        .await
        .unwrap_or_else(|e| panic!("{}", DisplayErrorContext(e)));
    assert!(
        listed
            .buckets()
            .iter()
            .any(|b| b.name() == Some("profiles-sts-test"))
    );

    // Without a reachable STS the provider fails with a clear error rather than hanging.
    drop(moto);
    let err = credentials_provider(&role.credentials, None)
        .unwrap()
        .provide_credentials()
        .await
        .unwrap_err();
    let text = DisplayErrorContext(&err).to_string();
    assert!(
        text.contains("STS AssumeRole of arn:aws:iam::123456789012:role/first failed"),
        "{text}"
    );
}
