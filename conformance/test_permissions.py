"""Front users with per-bucket grants, and read-only buckets, end to end: users made with the
CLI (`rebucket user add --json`, `user grant`, `user revoke`, `user rotate-secret`, `user rm`),
then the real aws cli and boto3 through rebucket in front of a real upstream (moto, or rclone
with `--upstreams rclone`): each permission allows its operations and refuses the others,
copies with partial grants, ListBuckets filtering, changes effective on the next request, and a
`read_only` bucket refusing every write form to the operator's own keys.

`pytest conformance/test_permissions.py [--upstreams moto,rclone]`."""
from __future__ import annotations

import datetime
import json
import os
import pathlib
import re
import subprocess
import urllib.request
import uuid

import botocore
import botocore.exceptions
import pytest

from lib import rebucket, s3client, upstreams
from lib.procs import work_tmpdir


def pytest_generate_tests(metafunc):
    if "gw" in metafunc.fixturenames:
        ups = (metafunc.config.getoption("--upstreams") or "moto").split(",")
        metafunc.parametrize("gw", [u.strip() for u in ups if u.strip()], indirect=True, scope="module")


class Gw:
    """rebucket in front of one upstream, with its CLI and clients for any key pair."""

    def __init__(self, rb, name):
        self.rb, self.name = rb, name
        self.endpoint = rb.endpoint
        self.tmp = work_tmpdir(f"perm-{name}")
        self.admin = s3client.client(rb.endpoint, rb.access_key, rb.secret_key)

    def cli(self, *args, check=True):
        env = dict(os.environ)
        env.update({"REBUCKET_ADMIN_URL": self.rb.admin_endpoint,
                    "REBUCKET_ADMIN_TOKEN": self.rb.admin_token})
        p = subprocess.run([rebucket.binary(), *args], env=env, capture_output=True, text=True,
                           timeout=60)
        if check and p.returncode != 0:
            pytest.fail(f"rebucket {' '.join(args)} -> rc={p.returncode}\n{p.stdout}\n{p.stderr}")
        return p

    def add_user(self, name):
        keys = json.loads(self.cli("user", "add", name, "--json").stdout)
        assert set(keys) == {"access_key", "secret_key"}, keys
        return keys["access_key"], keys["secret_key"]

    def boto(self, keys):
        return s3client.client(self.endpoint, *keys)

    def aws(self, keys, *args):
        env = dict(os.environ)
        env.update({"AWS_ACCESS_KEY_ID": keys[0], "AWS_SECRET_ACCESS_KEY": keys[1],
                    "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null",
                    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_PAGER": "",
                    "AWS_MAX_ATTEMPTS": "1"})
        env.pop("AWS_PROFILE", None)
        return subprocess.run(["aws", "--endpoint-url", self.endpoint, *args], env=env,
                              capture_output=True, text=True, timeout=120)

    def bucket(self, prefix):
        b = f"{prefix}-{uuid.uuid4().hex[:8]}"
        self.admin.create_bucket(Bucket=b)
        self.admin.put_object(Bucket=b, Key="seed", Body=b"seed")
        return b


@pytest.fixture(scope="module")
def gw(request):
    name = request.param
    up = upstreams.make(name)
    up.start()
    rb = None
    try:
        ok, why = rebucket.available()
        if not ok:
            pytest.fail(f"rebucket is not usable: {why}", pytrace=False)
        rb = rebucket.Rebucket(up).start()
        yield Gw(rb, name)
    finally:
        if rb:
            if request.session.testsfailed:
                print(f"\n--- rebucket ({name}) log tail ---\n{rb.tail(60)}")
            rb.stop()
        up.stop()


def denied_boto(fn, *a, **kw) -> bool:
    """Whether a boto3 call was refused with 403 (AccessDenied; a HEAD has no code)."""
    try:
        fn(*a, **kw)
        return False
    except botocore.exceptions.ClientError as e:
        status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        code = e.response["Error"]["Code"]
        if status == 403:
            assert code in ("AccessDenied", "403"), e.response
            return True
        return False  # let through; the upstream answered something else


def denied_cli(p) -> bool:
    """Whether an aws cli call was refused with 403."""
    if p.returncode == 0:
        return False
    return "AccessDenied" in p.stderr or "(403)" in p.stderr


def boto_ops(c, b):
    """(class, name, call) for a representative set of each permission's operations."""
    return [
        ("read", "get_object", lambda: c.get_object(Bucket=b, Key="seed")["Body"].read()),
        ("read", "head_object", lambda: c.head_object(Bucket=b, Key="seed")),
        ("read", "list_objects_v2", lambda: c.list_objects_v2(Bucket=b)),
        ("read", "get_object_tagging", lambda: c.get_object_tagging(Bucket=b, Key="seed")),
        ("write", "put_object", lambda: c.put_object(Bucket=b, Key="w", Body=b"w")),
        ("write", "create_multipart_upload", lambda: c.create_multipart_upload(Bucket=b, Key="mp")),
        ("write", "put_object_tagging", lambda: c.put_object_tagging(
            Bucket=b, Key="seed", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})),
        ("write", "delete_object", lambda: c.delete_object(Bucket=b, Key="w")),
        ("admin", "put_bucket_tagging", lambda: c.put_bucket_tagging(
            Bucket=b, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})),
        ("admin", "put_bucket_versioning", lambda: c.put_bucket_versioning(
            Bucket=b, VersioningConfiguration={"Status": "Suspended"})),
    ]


def cli_ops(gw, keys, b):
    src = gw.tmp / "small.txt"
    src.write_text("small")
    return [
        ("read", "s3 ls", ("s3", "ls", f"s3://{b}/")),
        ("read", "s3api head-object", ("s3api", "head-object", "--bucket", b, "--key", "seed")),
        ("write", "s3 cp", ("s3", "cp", str(src), f"s3://{b}/cli.txt")),
        ("write", "s3api delete-object", ("s3api", "delete-object", "--bucket", b, "--key", "cli.txt")),
        ("admin", "s3api put-bucket-tagging", ("s3api", "put-bucket-tagging", "--bucket", b,
                                               "--tagging", "TagSet=[{Key=k,Value=v}]")),
    ]


def covers(held, needed):
    return held == "admin" or held == needed


def test_each_permission_allows_its_operations_and_refuses_the_others(gw):
    name = f"perm-{uuid.uuid4().hex[:6]}"
    user = gw.add_user(name)
    buckets = {held: gw.bucket(f"perm-{held or 'none'}") for held in ("read", "write", "admin", None)}
    for held, b in buckets.items():
        if held:
            gw.cli("user", "grant", name, f"s3://{b}", held)
    c = gw.boto(user)
    wrong = []
    for held, b in buckets.items():
        for cls, op, call in boto_ops(c, b):
            want = held is not None and covers(held, cls)
            if denied_boto(call) == want:
                wrong.append(f"boto3 {op} on {held} bucket: {'denied' if want else 'allowed'}")
        for cls, op, args in cli_ops(gw, user, b):
            want = held is not None and covers(held, cls)
            p = gw.aws(user, *args)
            if denied_cli(p) == want:
                wrong.append(f"aws {op} on {held} bucket: rc={p.returncode} {p.stderr.strip()[-200:]}")
    assert not wrong, "\n".join(wrong)


def test_a_copy_needs_read_on_the_source_and_write_on_the_target(gw):
    name = f"copy-{uuid.uuid4().hex[:6]}"
    keys = gw.add_user(name)
    src, dst, ro = gw.bucket("copy-src"), gw.bucket("copy-dst"), gw.bucket("copy-ro")
    gw.cli("user", "grant", name, f"s3://{src}", "read")
    gw.cli("user", "grant", name, f"s3://{dst}", "write")
    gw.cli("user", "grant", name, f"s3://{ro}", "read")
    c = gw.boto(keys)
    copy = lambda f, t: c.copy_object(CopySource={"Bucket": f, "Key": "seed"}, Bucket=t, Key="copied")
    assert not denied_boto(copy, src, dst)
    assert denied_boto(copy, dst, dst), "write without read on the source"
    assert denied_boto(copy, src, ro), "read without write on the target"
    p = gw.aws(keys, "s3", "cp", f"s3://{src}/seed", f"s3://{dst}/cli-copied")
    assert p.returncode == 0, p.stderr
    assert denied_cli(gw.aws(keys, "s3", "cp", f"s3://{src}/seed", f"s3://{ro}/cli-copied"))
    assert denied_cli(gw.aws(keys, "s3", "cp", f"s3://{dst}/seed", f"s3://{dst}/cli-copied2"))


def test_list_buckets_shows_a_user_only_their_buckets(gw):
    tag = uuid.uuid4().hex[:6]
    keys = gw.add_user(f"ls-{tag}")
    mine = [gw.bucket(f"lsmine{tag}-a"), gw.bucket(f"lsmine{tag}-b")]
    other = gw.bucket(f"lsother{tag}")
    gw.cli("user", "grant", f"ls-{tag}", f"s3://lsmine{tag}-*", "read")
    listed = sorted(b["Name"] for b in gw.boto(keys).list_buckets()["Buckets"])
    assert listed == sorted(mine)
    p = gw.aws(keys, "s3", "ls")
    assert p.returncode == 0, p.stderr
    assert all(b in p.stdout for b in mine) and other not in p.stdout, p.stdout
    everything = [b["Name"] for b in gw.admin.list_buckets()["Buckets"]]
    assert set(mine + [other]) <= set(everything)


def test_grant_revoke_rotate_and_rm_take_effect_on_the_next_request(gw):
    name = f"live-{uuid.uuid4().hex[:6]}"
    keys = gw.add_user(name)
    b = gw.bucket("live")
    get = lambda c: c.get_object(Bucket=b, Key="seed")["Body"].read()
    assert denied_boto(get, gw.boto(keys))
    gw.cli("user", "grant", name, f"s3://{b}", "read")
    assert get(gw.boto(keys)) == b"seed"
    assert gw.aws(keys, "s3", "cp", f"s3://{b}/seed", "-").returncode == 0
    gw.cli("user", "revoke", name, f"s3://{b}", "read")
    assert denied_boto(get, gw.boto(keys))
    assert denied_cli(gw.aws(keys, "s3", "cp", f"s3://{b}/seed", "-"))
    gw.cli("user", "grant", name, f"s3://{b}", "admin")
    rotated = json.loads(gw.cli("user", "rotate-secret", name, "--json").stdout)
    assert rotated["access_key"] == keys[0] and rotated["secret_key"] != keys[1]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        get(gw.boto(keys))
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    new = (rotated["access_key"], rotated["secret_key"])
    assert get(gw.boto(new)) == b"seed"
    assert gw.aws(new, "s3", "cp", f"s3://{b}/seed", "-").returncode == 0
    # Listings never show a secret.
    for args in (("user", "ls"), ("user", "ls", "--json"), ("user", "show", name)):
        out = gw.cli(*args).stdout
        assert keys[0] in out and new[1] not in out and keys[1] not in out, args
    gw.cli("user", "rm", name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        get(gw.boto(new))
    assert e.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    assert gw.cli("user", "show", name, check=False).returncode != 0


def test_a_read_only_bucket_refuses_every_write_to_the_operators_keys(gw):
    b = gw.bucket("frozen")
    other = gw.bucket("thawed")
    c = gw.admin
    up = c.create_multipart_upload(Bucket=b, Key="mp")["UploadId"]
    part = c.upload_part(Bucket=b, Key="mp", UploadId=up, PartNumber=1, Body=b"x" * 16)
    # A POST form, signed while the bucket took writes.
    post = c.generate_presigned_post(b, "posted")
    gw.cli("bucket", "props", "set", f"s3://{b}", "read_only=true")
    shown = gw.cli("show", "bucket", f"s3://{b}").stdout
    assert any(line.split()[:2] == ["read_only", "true"] for line in shown.splitlines()), shown
    ops = {
        "put_object": lambda: c.put_object(Bucket=b, Key="new", Body=b"x"),
        "create_multipart_upload": lambda: c.create_multipart_upload(Bucket=b, Key="mp2"),
        "upload_part": lambda: c.upload_part(Bucket=b, Key="mp", UploadId=up, PartNumber=2, Body=b"y"),
        "complete_multipart_upload": lambda: c.complete_multipart_upload(
            Bucket=b, Key="mp", UploadId=up,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}),
        "copy_object (target)": lambda: c.copy_object(
            CopySource={"Bucket": other, "Key": "seed"}, Bucket=b, Key="copied"),
        "delete_object": lambda: c.delete_object(Bucket=b, Key="seed"),
        "delete_objects": lambda: c.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "seed"}]}),
        "put_object_tagging": lambda: c.put_object_tagging(
            Bucket=b, Key="seed", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}),
        "put_object_acl": lambda: c.put_object_acl(Bucket=b, Key="seed", ACL="private"),
    }
    allowed = [op for op, call in ops.items() if not denied_boto(call)]
    # The POST form (multipart/form-data), sent as a browser would.
    boundary = "----rebucketperm"
    body = b""
    for k, v in post["fields"].items():
        body += f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n".encode()
    body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n"
             f"Content-Type: text/plain\r\n\r\nform\r\n--{boundary}--\r\n").encode()
    req = urllib.request.Request(post["url"], data=body, method="POST",
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    try:
        urllib.request.urlopen(req, timeout=30)
        allowed.append("POST form")
    except urllib.error.HTTPError as e:
        if e.code != 403:
            allowed.append(f"POST form ({e.code})")
    src = gw.tmp / "ro.txt"
    src.write_text("ro")
    for args in (("s3", "cp", str(src), f"s3://{b}/cli.txt"), ("s3", "rm", f"s3://{b}/seed"),
                 ("s3", "cp", f"s3://{other}/seed", f"s3://{b}/cli-copy")):
        if not denied_cli(gw.aws((gw.rb.access_key, gw.rb.secret_key), *args)):
            allowed.append("aws " + " ".join(args[:2]))
    assert not allowed, f"a read-only bucket took: {allowed}"
    # Reads work, nothing changed, and a copy out of it is a read of it.
    assert c.get_object(Bucket=b, Key="seed")["Body"].read() == b"seed"
    assert [o["Key"] for o in c.list_objects_v2(Bucket=b).get("Contents", [])] == ["seed"]
    p = gw.aws((gw.rb.access_key, gw.rb.secret_key), "s3", "cp", f"s3://{b}/seed", f"s3://{other}/from-frozen")
    assert p.returncode == 0, p.stderr
    # A registry user with admin on it is refused as well.
    name = f"ro-{uuid.uuid4().hex[:6]}"
    keys = gw.add_user(name)
    gw.cli("user", "grant", name, f"s3://{b}", "admin")
    assert denied_boto(gw.boto(keys).put_object, Bucket=b, Key="u", Body=b"u")
    assert not denied_boto(gw.boto(keys).head_object, Bucket=b, Key="seed")
    gw.cli("bucket", "props", "set", f"s3://{b}", "read_only=false")
    c.put_object(Bucket=b, Key="new", Body=b"x")


# -- every operation of the permission table, with boto3 ------------------------------------

ACCESS_TABLE = pathlib.Path(__file__).resolve().parent.parent / "src" / "front" / "access.rs"


def permission_table():
    """{operation: (permission, flag)} read from the one table in the code."""
    body = ACCESS_TABLE.read_text().split("\npermissions! {", 1)[1]
    rows = re.findall(r"^\s*([a-z0-9_]+): \w+Input => (Read|Write|Admin)(?:, (source|no_bucket))?;",
                      body, re.M)
    return {op: (perm.lower(), flag or None) for op, perm, flag in rows}


def dummy(shape, name, bucket, depth=0):
    """A value botocore accepts for a required member: the bucket, the seeded key, else the
    simplest value of its type."""
    if name == "Bucket":
        return bucket
    if name == "Key":
        return "seed"
    if name == "CopySource":
        return f"{bucket}/seed"
    t = shape.type_name
    if t == "string":
        return shape.enum[0] if shape.enum else "x"
    if t in ("integer", "long"):
        return 1
    if t == "boolean":
        return False
    if t == "blob":
        return b"x"
    if t == "timestamp":
        return datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)
    if t == "structure" and depth < 6:
        return {m: dummy(shape.members[m], m, bucket, depth + 1) for m in shape.required_members}
    if t == "list" and depth < 6:
        return [dummy(shape.member, "member", bucket, depth + 1)]
    return {}


def call_of(client, op, bucket):
    """A boto3 call of `op` with dummy required parameters, or None when boto3 cannot make one
    here (no such method in this botocore, a host-prefixed endpoint)."""
    model = client.meta.service_model
    names = {botocore.xform_name(n): n for n in model.operation_names}
    if op not in names:
        return None
    om = model.operation_model(names[op])
    if om.endpoint and om.endpoint.get("hostPrefix"):
        return None
    params = {}
    if om.input_shape is not None:
        params = {m: dummy(om.input_shape.members[m], m, bucket)
                  for m in om.input_shape.required_members}
    return lambda: getattr(client, op)(**params)


def refused_by_rebucket(call):
    """'denied' for rebucket's 403 AccessDenied, 'other' for any other answer or error."""
    try:
        call()
        return "other"
    except botocore.exceptions.ClientError as e:
        status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        code = e.response["Error"]["Code"]
        return "denied" if status == 403 and code in ("AccessDenied", "403") else f"{status} {code}"
    except botocore.exceptions.BotoCoreError as e:
        return f"client error {e}"


def test_every_operation_of_the_table_is_allowed_exactly_by_the_permissions_covering_it(gw):
    """For each of the 99 operations in `src/front/access.rs` and each permission, a user
    holding that permission on one bucket is refused by rebucket (403 AccessDenied) exactly
    when the permission does not cover what the operation needs (a copy: `write` here and
    `read` on its source, the same bucket)."""
    table = permission_table()
    assert len(table) == 99, f"the table has {len(table)} rows"
    tag = uuid.uuid4().hex[:6]
    wrong, checked = [], set()
    for held in ("read", "write", "admin"):
        name = f"every-{held}-{tag}"
        keys = gw.add_user(name)
        b = gw.bucket(f"every-{held}-{tag}")
        gw.cli("user", "grant", name, f"s3://{b}", held)
        c = gw.boto(keys)
        for op, (needed, flag) in sorted(table.items()):
            if op in ("delete_bucket", "create_bucket"):
                continue  # below, on buckets of their own
            call = call_of(c, op, b)
            if call is None:
                continue
            if flag == "no_bucket":
                # ListBuckets (filtered) for every user; the rest needs `needed` on every bucket.
                want = needed == "read"
            elif flag == "source":
                want = covers(held, needed) and covers(held, "read")
            else:
                want = covers(held, needed)
            got = refused_by_rebucket(call)
            checked.add(op)
            if (got == "denied") == want:
                wrong.append(f"{op} (needs {needed}) as a {held} user: {got}")
        for op in ("create_bucket", "delete_bucket"):
            target = f"every-{op.split('_')[0]}-{held}-{tag}"
            if op == "delete_bucket":
                gw.admin.create_bucket(Bucket=target)
            gw.cli("user", "grant", name, f"s3://{target}", held)
            got = refused_by_rebucket(lambda: getattr(c, op)(Bucket=target))
            checked.add(op)
            if (got == "denied") == covers(held, "admin"):
                wrong.append(f"{op} as a {held} user: {got}")
    assert not wrong, "\n".join(wrong)
    # Every operation this botocore can call here was checked.
    assert len(checked) >= 90, f"only {len(checked)} operations checked: {sorted(checked)}"
