"""Bucket operations."""
from .common import case, put


@case("bucket.create-head-delete")
def _(t):
    b = t.name()
    t.call("create_bucket", Bucket=b)
    t.call("head_bucket", Bucket=b)
    t.call("delete_bucket", Bucket=b)
    t.call("head_bucket", Bucket=b, _expect_error=True)


@case("bucket.create-twice")
def _(t):
    b = t.bucket()
    t.call("create_bucket", Bucket=b, _expect_error=True)


@case("bucket.create-location-constraint")
def _(t):
    t.call("create_bucket", Bucket=t.name(),
           CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}, _expect_error=True)


def _invalid(t, name):
    r = t.call("create_bucket", Bucket=name, _expect_error=True)
    if r is not None:   # accepted by this server: don't leak it into the other side's run
        t.call("delete_bucket", Bucket=name, _record=False)


@case("bucket.invalid-name-uppercase")
def _(t):
    _invalid(t, t.name("Upper"))


@case("bucket.invalid-name-underscore")
def _(t):
    _invalid(t, t.name("under_score"))


@case("bucket.invalid-name-too-short")
def _(t):
    _invalid(t, "ab")


@case("bucket.invalid-name-too-long")
def _(t):
    _invalid(t, t.name("x" * 60)[:64])


@case("bucket.invalid-name-ip")
def _(t):
    _invalid(t, "192.168.5.4")


@case("bucket.invalid-name-double-dot")
def _(t):
    _invalid(t, t.name("a..b"))


@case("bucket.invalid-name-dash-end")
def _(t):
    _invalid(t, t.name("trail-"))


@case("bucket.list-buckets")
def _(t):
    mine = {t.bucket("one"), t.bucket("two")}
    r = t.call("list_buckets", _record=False)
    got = sorted(x["Name"] for x in (r or {}).get("Buckets", []) if x["Name"] in mine)
    t.record("list_buckets: our buckets", {"names": got,
             "dates": [bool(x.get("CreationDate")) for x in r["Buckets"] if x["Name"] in mine]})


@case("bucket.delete-not-empty")
def _(t):
    b = t.bucket()
    put(t, b, "k")
    t.call("delete_bucket", Bucket=b, _expect_error=True)


@case("bucket.delete-missing")
def _(t):
    t.call("delete_bucket", Bucket=t.name("nope"), _expect_error=True)


@case("bucket.head-missing")
def _(t):
    t.call("head_bucket", Bucket=t.name("nope"), _expect_error=True)


@case("bucket.list-objects-missing-bucket")
def _(t):
    t.call("list_objects_v2", Bucket=t.name("nope"), _expect_error=True)


@case("bucket.get-location")
def _(t):
    b = t.bucket()
    t.call("get_bucket_location", Bucket=b)


@case("bucket.versioning-default")
def _(t):
    b = t.bucket()
    t.call("get_bucket_versioning", Bucket=b)


@case("bucket.tagging")
def _(t):
    b = t.bucket()
    t.call("put_bucket_tagging", Bucket=b, Tagging={"TagSet": [{"Key": "team", "Value": "storage"},
                                                             {"Key": "env", "Value": "test"}]})
    t.call("get_bucket_tagging", Bucket=b)
    t.call("delete_bucket_tagging", Bucket=b)
    t.call("get_bucket_tagging", Bucket=b, _expect_error=True)


@case("bucket.cors")
def _(t):
    b = t.bucket()
    t.call("put_bucket_cors", Bucket=b, CORSConfiguration={"CORSRules": [{
        "AllowedMethods": ["GET", "PUT"], "AllowedOrigins": ["https://example.org"],
        "AllowedHeaders": ["*"], "MaxAgeSeconds": 300}]})
    t.call("get_bucket_cors", Bucket=b)
    t.call("delete_bucket_cors", Bucket=b)
    t.call("get_bucket_cors", Bucket=b, _expect_error=True)


@case("bucket.lifecycle")
def _(t):
    b = t.bucket()
    t.call("put_bucket_lifecycle_configuration", Bucket=b, LifecycleConfiguration={"Rules": [{
        "ID": "expire-tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"},
        "Expiration": {"Days": 7}}]})
    t.call("get_bucket_lifecycle_configuration", Bucket=b)
    t.call("delete_bucket_lifecycle", Bucket=b)


@case("bucket.encryption")
def _(t):
    b = t.bucket()
    t.call("put_bucket_encryption", Bucket=b, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    t.call("get_bucket_encryption", Bucket=b)


@case("bucket.website")
def _(t):
    b = t.bucket()
    t.call("put_bucket_website", Bucket=b, WebsiteConfiguration={
        "IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "err.html"}})
    t.call("get_bucket_website", Bucket=b)
    t.call("delete_bucket_website", Bucket=b)


@case("bucket.ownership-controls")
def _(t):
    b = t.bucket()
    t.call("get_bucket_ownership_controls", Bucket=b, _expect_error=True)


@case("bucket.notification-empty")
def _(t):
    b = t.bucket()
    t.call("get_bucket_notification_configuration", Bucket=b)


@case("bucket.delete-then-recreate")
def _(t):
    b = t.bucket()
    t.call("delete_bucket", Bucket=b)
    t.call("create_bucket", Bucket=b)
    t.call("list_objects_v2", Bucket=b)


@case("bucket.list-buckets-prefix-pages")
def _(t):
    for logical in ("p1", "p2", "p3"):
        t.bucket(logical)
    prefix = t.name("p")      # the case's own names: cf<run>-<index>-p...
    t.call("list_buckets", Prefix=prefix)
    r = t.call("list_buckets", Prefix=prefix, MaxBuckets=2)
    if r and r.get("ContinuationToken"):
        t.call("list_buckets", Prefix=prefix, MaxBuckets=2, ContinuationToken=r["ContinuationToken"])


@case("bucket.list-buckets-max-buckets-invalid")
def _(t):
    t.raw("GET", query=[("max-buckets", "0")], _expect_error=True)     # boto3 checks it itself
