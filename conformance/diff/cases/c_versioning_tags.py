"""Versioning, object/bucket tagging, ACLs and bucket policies (passthrough)."""
import json

from .common import case, put, text


@case("ver.enable-suspend")
def _(t):
    b = t.bucket()
    t.call("put_bucket_versioning", Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    t.call("get_bucket_versioning", Bucket=b)
    t.call("put_bucket_versioning", Bucket=b, VersioningConfiguration={"Status": "Suspended"})
    t.call("get_bucket_versioning", Bucket=b)


@case("ver.invalid-status")
def _(t):
    b = t.bucket()
    body = (b'<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            b'<Status>Sometimes</Status></VersioningConfiguration>')
    from lib.s3raw import md5_b64
    t.raw("PUT", b, query=[("versioning", "")], body=body, headers={"content-md5": md5_b64(body)},
          _expect_error=True)


@case("ver.two-versions")
def _(t):
    b = t.bucket(versioned=True)
    v1 = t.call("put_object", Bucket=b, Key="k", Body=b"one")
    v2 = t.call("put_object", Bucket=b, Key="k", Body=b"two!")
    t.record("distinct version ids", bool(v1 and v2 and v1["VersionId"] != v2["VersionId"]))
    t.call("get_object", Bucket=b, Key="k")
    t.call("get_object", Bucket=b, Key="k", VersionId=v1["VersionId"])
    t.call("head_object", Bucket=b, Key="k", VersionId=v2["VersionId"])


@case("ver.delete-marker")
def _(t):
    b = t.bucket(versioned=True)
    put(t, b, "k", b"data")
    t.call("delete_object", Bucket=b, Key="k")
    t.call("get_object", Bucket=b, Key="k", _expect_error=True)
    t.call("head_object", Bucket=b, Key="k", _expect_error=True)
    t.raw("GET", b, "k", _expect_error=True)
    t.call("list_object_versions", Bucket=b)


@case("ver.remove-delete-marker")
def _(t):
    b = t.bucket(versioned=True)
    put(t, b, "k", b"data")
    d = t.call("delete_object", Bucket=b, Key="k")
    t.call("delete_object", Bucket=b, Key="k", VersionId=d["VersionId"])
    t.call("get_object", Bucket=b, Key="k")


@case("ver.get-delete-marker-version")
def _(t):
    b = t.bucket(versioned=True)
    put(t, b, "k", b"data")
    d = t.call("delete_object", Bucket=b, Key="k")
    t.call("get_object", Bucket=b, Key="k", VersionId=d["VersionId"], _expect_error=True)
    t.call("head_object", Bucket=b, Key="k", VersionId=d["VersionId"], _expect_error=True)


@case("ver.delete-specific-version")
def _(t):
    b = t.bucket(versioned=True)
    v1 = put(t, b, "k", b"one")["VersionId"]
    put(t, b, "k", b"two")
    t.call("delete_object", Bucket=b, Key="k", VersionId=v1)
    t.call("get_object", Bucket=b, Key="k", VersionId=v1, _expect_error=True)
    t.call("get_object", Bucket=b, Key="k")


@case("ver.no-such-version")
def _(t):
    b = t.bucket(versioned=True)
    put(t, b, "k", b"one")
    t.call("get_object", Bucket=b, Key="k", VersionId="3HL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY", _expect_error=True)


@case("ver.null-version-unversioned")
def _(t):
    b = t.bucket()
    put(t, b, "k", b"one")
    t.call("get_object", Bucket=b, Key="k", VersionId="null")
    t.call("head_object", Bucket=b, Key="k")


@case("ver.suspended-null-version")
def _(t):
    b = t.bucket(versioned=True)
    put(t, b, "k", b"one")
    t.call("put_bucket_versioning", Bucket=b, VersioningConfiguration={"Status": "Suspended"}, _record=False)
    t.call("put_object", Bucket=b, Key="k", Body=b"two")
    t.call("list_object_versions", Bucket=b)


@case("ver.copy-from-version")
def _(t):
    b = t.bucket(versioned=True)
    v1 = put(t, b, "k", b"one")["VersionId"]
    put(t, b, "k", b"two")
    t.call("copy_object", Bucket=b, Key="c", CopySource={"Bucket": b, "Key": "k", "VersionId": v1})
    t.call("get_object", Bucket=b, Key="c")


@case("ver.tagging-by-version")
def _(t):
    b = t.bucket(versioned=True)
    v1 = put(t, b, "k", b"one")["VersionId"]
    put(t, b, "k", b"two")
    t.call("put_object_tagging", Bucket=b, Key="k", VersionId=v1, Tagging={"TagSet": [{"Key": "v", "Value": "1"}]})
    t.call("get_object_tagging", Bucket=b, Key="k", VersionId=v1)
    t.call("get_object_tagging", Bucket=b, Key="k")


# ---- tagging
@case("tag.object-put-get-delete")
def _(t):
    b = t.bucket()
    put(t, b, "k")
    t.call("put_object_tagging", Bucket=b, Key="k", Tagging={"TagSet": [
        {"Key": "project", "Value": "rebucket"}, {"Key": "a b", "Value": "c=d&e"}]})
    t.call("get_object_tagging", Bucket=b, Key="k")
    t.call("head_object", Bucket=b, Key="k")
    t.call("delete_object_tagging", Bucket=b, Key="k")
    t.call("get_object_tagging", Bucket=b, Key="k")


@case("tag.put-object-with-tagging-header")
def _(t):
    b = t.bucket()
    t.call("put_object", Bucket=b, Key="k", Body=b"x", Tagging="a=1&b=two%20words")
    t.call("get_object_tagging", Bucket=b, Key="k")
    t.call("get_object", Bucket=b, Key="k")


@case("tag.too-many-tags")
def _(t):
    b = t.bucket()
    put(t, b, "k")
    t.call("put_object_tagging", Bucket=b, Key="k", _expect_error=True,
           Tagging={"TagSet": [{"Key": f"k{i}", "Value": "v"} for i in range(11)]})


@case("tag.duplicate-keys")
def _(t):
    b = t.bucket()
    put(t, b, "k")
    t.call("put_object_tagging", Bucket=b, Key="k", _expect_error=True,
           Tagging={"TagSet": [{"Key": "same", "Value": "1"}, {"Key": "same", "Value": "2"}]})


@case("tag.missing-object")
def _(t):
    b = t.bucket()
    t.call("get_object_tagging", Bucket=b, Key="nope", _expect_error=True)
    t.call("put_object_tagging", Bucket=b, Key="nope", Tagging={"TagSet": []}, _expect_error=True)


@case("tag.invalid-tagging-header")
def _(t):
    b = t.bucket()
    t.raw("PUT", b, "k", body=b"x", headers={"x-amz-tagging": "k=" + "v" * 300}, _expect_error=True)


# ---- ACL / policy
@case("acl.object-get")
def _(t):
    b = t.bucket()
    put(t, b, "k")
    t.call("get_object_acl", Bucket=b, Key="k")


@case("acl.object-canned-public-read")
def _(t):
    b = t.bucket()
    t.call("put_object", Bucket=b, Key="k", Body=b"x", ACL="public-read")
    t.call("get_object_acl", Bucket=b, Key="k")


@case("acl.object-put-canned")
def _(t):
    b = t.bucket()
    put(t, b, "k")
    t.call("put_object_acl", Bucket=b, Key="k", ACL="private")
    t.call("get_object_acl", Bucket=b, Key="k")


@case("acl.object-invalid-canned")
def _(t):
    b = t.bucket()
    t.raw("PUT", b, "k", body=b"x", headers={"x-amz-acl": "world-writable-please"}, _expect_error=True)


@case("acl.bucket-get")
def _(t):
    b = t.bucket()
    t.call("get_bucket_acl", Bucket=b)


@case("acl.bucket-put-canned")
def _(t):
    b = t.bucket()
    t.call("put_bucket_acl", Bucket=b, ACL="private")
    t.call("get_bucket_acl", Bucket=b)


@case("acl.object-missing")
def _(t):
    b = t.bucket()
    t.call("get_object_acl", Bucket=b, Key="nope", _expect_error=True)


def _policy(b):
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Sid": "ReadOnly", "Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject"],
        "Resource": [f"arn:aws:s3:::{b}/*"]}]})


@case("policy.put-get-delete")
def _(t):
    b = t.bucket()
    t.call("put_bucket_policy", Bucket=b, Policy=_policy(b))
    r = t.call("get_bucket_policy", Bucket=b, _record=False)
    t.record("get_bucket_policy (parsed)", json.loads(r["Policy"]) if r else None)
    t.call("get_bucket_policy_status", Bucket=b, _expect_error=True)
    t.call("delete_bucket_policy", Bucket=b)
    t.call("get_bucket_policy", Bucket=b, _expect_error=True)


@case("policy.get-missing")
def _(t):
    t.call("get_bucket_policy", Bucket=t.bucket(), _expect_error=True)


@case("policy.malformed")
def _(t):
    b = t.bucket()
    t.call("put_bucket_policy", Bucket=b, Policy='{"Version": "2012-10-17", "Statement": [', _expect_error=True)


@case("policy.public-access-block")
def _(t):
    b = t.bucket()
    t.call("put_public_access_block", Bucket=b, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True})
    t.call("get_public_access_block", Bucket=b)
