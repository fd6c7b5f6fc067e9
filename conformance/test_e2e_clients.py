"""End to end: the real aws cli and boto3 through rebucket, in front of
moto and rclone. `pytest conformance/test_e2e_clients.py [--upstreams moto] [--via direct]`."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import zlib
import base64

import botocore.exceptions
import pytest

from lib import upstreams, rebucket, s3client
from lib.procs import work_tmpdir

MiB = 1024 * 1024


def pytest_generate_tests(metafunc):
    if "gw" in metafunc.fixturenames:
        ups = (metafunc.config.getoption("--upstreams") or "moto,rclone").split(",")
        metafunc.parametrize("gw", [u.strip() for u in ups if u.strip()], indirect=True, scope="module")


class Gateway:
    """What the clients talk to: rebucket (front keys) or, with --via direct, the upstream."""

    def __init__(self, name, endpoint, ak, sk, tmp, server, direct=False):
        self.direct = direct
        self.name, self.endpoint, self.ak, self.sk, self.tmp, self.server = name, endpoint, ak, sk, tmp, server
        self.s3 = s3client.client(endpoint, ak, sk, retries=3)

    def aws(self, *args, sk=None, ak=None, check=True, timeout=300):
        env = dict(os.environ)
        env.update({"AWS_ACCESS_KEY_ID": ak or self.ak, "AWS_SECRET_ACCESS_KEY": sk or self.sk,
                    "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null",
                    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_PAGER": "",
                    "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required"})
        env.pop("AWS_PROFILE", None)
        p = subprocess.run(["aws", "--endpoint-url", self.endpoint, *args], env=env,
                           capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            tail = self.server.tail() if hasattr(self.server, "tail") else ""
            pytest.fail(f"aws {' '.join(args)} -> rc={p.returncode}\nstdout={p.stdout[-2000:]}\n"
                        f"stderr={p.stderr[-2000:]}\n--- server log tail ---\n{tail}")
        return p


@pytest.fixture(scope="module")
def gw(request):
    name = request.param
    via = request.config.getoption("--via")
    up = upstreams.make(name)
    if name == "juicefs" and not shutil.which("juicefs"):
        pytest.skip("juicefs not installed")
    up.start()
    rb = None
    try:
        if via == "rebucket":
            ok, why = rebucket.available()
            if not ok:
                pytest.fail(f"rebucket is not usable: {why}", pytrace=False)
            rb = rebucket.Rebucket(up).start()
            g = Gateway(name, rb.endpoint, rb.access_key, rb.secret_key, work_tmpdir(f"e2e-{name}"), rb)
        else:
            g = Gateway(name, up.endpoint, up.access_key, up.secret_key, work_tmpdir(f"e2e-{name}"), up.procs[-1],
                        direct=True)
        yield g
    finally:
        if rb:
            if request.session.testsfailed:
                print(f"\n--- rebucket ({name}) log tail: {rb.proc.log_path} ---\n{rb.tail(60)}")
            rb.stop()
        up.stop()


@pytest.fixture(scope="module")
def bucket(gw):
    b = f"e2e-{gw.name}-bucket"
    gw.aws("s3", "mb", f"s3://{b}")
    return b


@pytest.fixture(scope="module")
def files(gw):
    out = {}
    for mib in (20, 40):
        p = gw.tmp / f"src-{mib}.bin"
        with open(p, "wb") as f:
            for _ in range(mib):
                f.write(os.urandom(MiB))
        out[mib] = p
    return out


def sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MiB), b""):
            h.update(chunk)
    return h.hexdigest()


def test_mb_and_ls(gw, bucket):
    p = gw.aws("s3", "ls")
    assert bucket in p.stdout
    gw.s3.head_bucket(Bucket=bucket)


@pytest.mark.parametrize("mib", [20, 40])
def test_cli_cp_roundtrip(gw, bucket, files, mib):
    src = files[mib]
    gw.aws("s3", "cp", str(src), f"s3://{bucket}/cli/{mib}.bin", "--only-show-errors")
    dst = gw.tmp / f"cli-back-{mib}.bin"
    gw.aws("s3", "cp", f"s3://{bucket}/cli/{mib}.bin", str(dst), "--only-show-errors")
    assert sha256(dst) == sha256(src)
    head = gw.s3.head_object(Bucket=bucket, Key=f"cli/{mib}.bin")
    assert head["ContentLength"] == mib * MiB


@pytest.mark.parametrize("mib", [20, 40])
def test_boto3_transfer_roundtrip(gw, bucket, files, mib):
    from boto3.s3.transfer import TransferConfig
    cfg = TransferConfig(multipart_threshold=8 * MiB, multipart_chunksize=8 * MiB, max_concurrency=4)
    src = files[mib]
    gw.s3.upload_file(str(src), bucket, f"boto3/{mib}.bin", Config=cfg)
    dst = gw.tmp / f"boto3-back-{mib}.bin"
    gw.s3.download_file(bucket, f"boto3/{mib}.bin", str(dst), Config=cfg)
    assert sha256(dst) == sha256(src)


def test_ls_and_list_objects_v2_delimiter(gw, bucket):
    for k in ("tree/a.txt", "tree/sub/b.txt", "tree/sub/c.txt", "tree/z/d.txt"):
        gw.s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
    p = gw.aws("s3", "ls", f"s3://{bucket}/tree/")
    assert "PRE sub/" in p.stdout and "PRE z/" in p.stdout and "a.txt" in p.stdout
    import json
    p = gw.aws("s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "tree/", "--delimiter", "/")
    out = json.loads(p.stdout)
    assert [c["Prefix"] for c in out["CommonPrefixes"]] == ["tree/sub/", "tree/z/"]
    assert [c["Key"] for c in out["Contents"]] == ["tree/a.txt"]
    r = gw.s3.list_objects_v2(Bucket=bucket, Prefix="tree/", Delimiter="/")
    assert r["KeyCount"] == 3
    # pagination through the paginator
    keys = [o["Key"] for page in gw.s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix="tree/", PaginationConfig={"PageSize": 1}) for o in page.get("Contents", [])]
    assert keys == ["tree/a.txt", "tree/sub/b.txt", "tree/sub/c.txt", "tree/z/d.txt"]


def test_range_get(gw, bucket):
    body = bytes(range(256)) * 100
    gw.s3.put_object(Bucket=bucket, Key="range.bin", Body=body)
    r = gw.s3.get_object(Bucket=bucket, Key="range.bin", Range="bytes=100-299")
    assert r["Body"].read() == body[100:300]
    assert r["ContentRange"] == f"bytes 100-299/{len(body)}"
    assert r["ResponseMetadata"]["HTTPStatusCode"] in (200, 206)   # rclone answers 200
    out = gw.tmp / "range.part"
    gw.aws("s3api", "get-object", "--bucket", bucket, "--key", "range.bin", "--range", "bytes=-50", str(out))
    assert out.read_bytes() == body[-50:]


def test_presign_and_curl(gw, bucket, files):
    src = files[20]
    gw.aws("s3", "cp", str(src), f"s3://{bucket}/presign/obj.bin", "--only-show-errors")
    # boto3 SigV4 presigned GET, fetched with curl
    url = gw.s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "presign/obj.bin"},
                                       ExpiresIn=600)
    dst = gw.tmp / "curl.bin"
    c = subprocess.run(["curl", "-sS", "-f", "-o", str(dst), url], capture_output=True, text=True, timeout=120)
    assert c.returncode == 0, c.stderr
    assert sha256(dst) == sha256(src)
    # presigned PUT with curl -T, then read back
    up = gw.s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "presign/put.bin"},
                                      ExpiresIn=600)
    small = gw.tmp / "small.bin"
    small.write_bytes(os.urandom(300 * 1024))
    c = subprocess.run(["curl", "-sS", "-f", "-T", str(small), up], capture_output=True, text=True, timeout=120)
    assert c.returncode == 0, c.stderr
    assert gw.s3.get_object(Bucket=bucket, Key="presign/put.bin")["Body"].read() == small.read_bytes()


def test_cli_presign_and_curl(gw, bucket):
    """`aws s3 presign` (aws cli v1 signs query-string SigV2 by default for a custom
    endpoint) fetched with curl."""
    body = os.urandom(100 * 1024)
    gw.s3.put_object(Bucket=bucket, Key="presign/cli.bin", Body=body)
    url = gw.aws("s3", "presign", f"s3://{bucket}/presign/cli.bin", "--expires-in", "600").stdout.strip()
    if gw.direct and gw.name == "rclone" and "X-Amz-Signature" not in url:
        pytest.skip("rclone does not accept SigV2 presigned URLs (--via direct)")
    dst = gw.tmp / "cli-presign.bin"
    c = subprocess.run(["curl", "-sS", "-f", "-o", str(dst), url], capture_output=True, text=True, timeout=120)
    assert c.returncode == 0, f"{c.stderr} for {url}"
    assert dst.read_bytes() == body


def test_copy(gw, bucket, files):
    # aws s3 cp s3->s3 of an object below the multipart threshold: one CopyObject
    # (rclone answers UploadPartCopy without an ETag, so the 20 MiB copy is done by boto3)
    small = gw.tmp / "copy-small.bin"
    small.write_bytes(os.urandom(5 * MiB))
    gw.aws("s3", "cp", str(small), f"s3://{bucket}/copy/small.bin", "--only-show-errors")
    gw.aws("s3", "cp", f"s3://{bucket}/copy/small.bin", f"s3://{bucket}/copy/cli-copy.bin", "--only-show-errors")
    dst = gw.tmp / "copy-back.bin"
    gw.aws("s3", "cp", f"s3://{bucket}/copy/cli-copy.bin", str(dst), "--only-show-errors")
    assert sha256(dst) == sha256(small)
    src = files[20]
    gw.s3.upload_file(str(src), bucket, "copy/src.bin")
    gw.s3.copy_object(Bucket=bucket, Key="copy/boto3-copy.bin",
                      CopySource={"Bucket": bucket, "Key": "copy/src.bin"},
                      MetadataDirective="REPLACE", Metadata={"copied": "yes"})
    gw.s3.download_file(bucket, "copy/boto3-copy.bin", str(dst))
    assert sha256(dst) == sha256(src)
    # (metadata directives are compared upstream-by-upstream in the diff suite: rclone drops them)


def test_no_such_key(gw, bucket):
    p = gw.aws("s3api", "get-object", "--bucket", bucket, "--key", "does/not/exist", str(gw.tmp / "x"),
               check=False)
    assert p.returncode == 255, p
    assert "NoSuchKey" in p.stderr, p.stderr
    p = gw.aws("s3", "cp", f"s3://{bucket}/does/not/exist", str(gw.tmp / "x"), check=False)
    assert p.returncode == 1 and ("404" in p.stderr or "Not Found" in p.stderr), p.stderr
    with pytest.raises(botocore.exceptions.ClientError) as e:
        gw.s3.get_object(Bucket=bucket, Key="does/not/exist")
    assert e.value.response["Error"]["Code"] == "NoSuchKey"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_wrong_secret_refused(gw, bucket):
    if gw.direct and gw.name == "moto":
        pytest.skip("moto checks no signatures (--via direct)")
    p = gw.aws("s3", "ls", f"s3://{bucket}/", sk="this-is-not-the-secret", check=False)
    assert p.returncode == 255, p
    assert "SignatureDoesNotMatch" in p.stderr, p.stderr
    bad = s3client.client(gw.endpoint, gw.ak, "this-is-not-the-secret")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bad.list_objects_v2(Bucket=bucket)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    unknown = s3client.client(gw.endpoint, "AKIAUNKNOWNKEY000000", "whatever")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        unknown.list_objects_v2(Bucket=bucket)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert e.value.response["Error"]["Code"] == "InvalidAccessKeyId"


def test_boto3_crc32_checksums(gw, bucket):
    body = os.urandom(1024 * 1024 + 3)
    want = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    r = gw.s3.put_object(Bucket=bucket, Key="crc/obj.bin", Body=body, ChecksumAlgorithm="CRC32")
    assert r.get("ChecksumCRC32") in (want, None)      # rclone does not echo it on PUT
    g = gw.s3.get_object(Bucket=bucket, Key="crc/obj.bin", ChecksumMode="ENABLED")
    assert g["Body"].read() == body
    assert g.get("ChecksumCRC32") == want
    h = gw.s3.head_object(Bucket=bucket, Key="crc/obj.bin", ChecksumMode="ENABLED")
    assert h.get("ChecksumCRC32") in (want, None)


def test_rm_and_rb(gw, bucket):
    gw.aws("s3", "rm", f"s3://{bucket}/", "--recursive", "--only-show-errors")
    assert gw.s3.list_objects_v2(Bucket=bucket).get("Contents", []) == []
    gw.aws("s3", "rb", f"s3://{bucket}")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        gw.s3.head_bucket(Bucket=bucket)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_post_object_bounded_by_config(request):
    """s3s reads a POST form's file into memory before rebucket can forward it, so rebucket
    bounds it (`post_object_max_bytes` in the config file): a form over the bound gets 400
    EntityTooLarge and stores nothing; a form under it is stored. rebucket only."""
    if request.config.getoption("--via") != "rebucket":
        pytest.skip("a rebucket setting")
    import urllib3
    up = upstreams.make("moto")
    up.start()
    rb = None
    try:
        cfg = work_tmpdir("post-bound") / "rebucket.toml"
        cfg.write_text("post_object_max_bytes = 4096\n")
        rb = rebucket.Rebucket(up, extra_args=["--config", str(cfg)]).start()
        s3 = rb.client()
        s3.create_bucket(Bucket="post-bound")
        pm = urllib3.PoolManager(retries=False, timeout=20.0)
        for key, size, want in (("small", 4000, 204), ("big", 5000, 400)):
            p = s3.generate_presigned_post("post-bound", key, ExpiresIn=300)
            form = dict(p["fields"], file=("f.bin", os.urandom(size), "application/octet-stream"))
            r = pm.request("POST", p["url"], fields=form)
            assert r.status == want, (key, r.status, r.data[:300])
            if want == 400:
                assert b"<Code>EntityTooLarge</Code>" in r.data, r.data[:300]
            else:
                # Like S3: the ETag and the object's URL (through rebucket) as headers.
                assert r.headers.get("ETag", "").startswith('"'), dict(r.headers)
                assert r.headers.get("Location") == f"{rb.endpoint}/post-bound/{key}", dict(r.headers)
        # success_action_status=201: the PostResponse's Location is the object's URL too,
        # its key percent-encoded as S3 writes it.
        fields = {"success_action_status": "201"}
        p = s3.generate_presigned_post("post-bound", "a b+c", Fields=fields,
                                       Conditions=[fields], ExpiresIn=300)
        form = dict(p["fields"], file=("f.bin", b"x" * 10, "application/octet-stream"))
        r = pm.request("POST", p["url"], fields=form)
        url = f"{rb.endpoint}/post-bound/a%20b%2Bc"
        assert r.status == 201, (r.status, r.data[:300])
        assert r.headers.get("Location") == url, dict(r.headers)
        assert f"<Location>{url}</Location>".encode() in r.data, r.data[:500]
        assert s3.head_object(Bucket="post-bound", Key="a b+c")["ContentLength"] == 10
        assert s3.head_object(Bucket="post-bound", Key="small")["ContentLength"] == 4000
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.head_object(Bucket="post-bound", Key="big")
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    finally:
        if rb:
            rb.stop()
        up.stop()


def test_cors_answers_like_s3(gw):
    """A browser's preflight and a cross-origin GET, against rules set with the aws cli: the
    answers S3 gives (recorded against AWS in LocalStack's validated snapshots and ceph
    s3-tests), whatever the upstream itself does with an `Origin`."""
    import json
    import urllib3
    if gw.direct:
        pytest.skip("upstreams answer CORS their own way; this asserts rebucket's answers")
    rules = {"CORSRules": [
        {"AllowedOrigins": ["https://app.example"], "AllowedMethods": ["GET", "PUT"],
         "AllowedHeaders": ["Content-Type", "x-amz-*"], "MaxAgeSeconds": 3000},
        {"AllowedOrigins": ["https://*.wild.example"], "AllowedMethods": ["GET"]},
    ]}
    bucket = f"e2e-{gw.name}-cors"
    gw.aws("s3", "mb", f"s3://{bucket}")
    p = gw.aws("s3api", "put-bucket-cors", "--bucket", bucket, "--cors-configuration",
               json.dumps(rules), check=False)
    kept = gw.aws("s3api", "get-bucket-cors", "--bucket", bucket, check=False)
    if p.returncode != 0 or kept.returncode != 0:
        pytest.skip(f"{gw.name} keeps no CORS configuration: {(p.stderr + kept.stderr).strip()[-200:]}")
    gw.s3.put_object(Bucket=bucket, Key="cors/page.html", Body=b"<p>hi</p>")
    http = urllib3.PoolManager(retries=False, timeout=20.0)
    url = f"{gw.endpoint}/{bucket}/cors/page.html"

    def options(**headers):
        return http.request("OPTIONS", url, headers=headers)

    r = options(Origin="https://app.example", **{"Access-Control-Request-Method": "PUT",
                                                 "Access-Control-Request-Headers": "Content-Type,X-Amz-Date"})
    assert r.status == 200, r.data
    assert r.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert r.headers["Access-Control-Allow-Methods"] == "GET, PUT"
    assert r.headers["Access-Control-Allow-Headers"] == "content-type, x-amz-date"
    assert r.headers["Access-Control-Allow-Credentials"] == "true"
    assert r.headers["Access-Control-Max-Age"] == "3000"
    assert "Origin" in r.headers["Vary"]

    r = options(Origin="https://a.wild.example", **{"Access-Control-Request-Method": "GET"})
    assert (r.status, r.headers.get("Access-Control-Allow-Origin")) == (200, "https://a.wild.example")
    for denied in ({"Origin": "https://app.example", "Access-Control-Request-Method": "DELETE"},
                   {"Origin": "https://app.example", "Access-Control-Request-Method": "PUT",
                    "Access-Control-Request-Headers": "authorization"},
                   {"Origin": "https://evil.example", "Access-Control-Request-Method": "GET"}):
        r = options(**denied)
        assert r.status == 403 and b"<Code>AccessForbidden</Code>" in r.data, (denied, r.data)
        assert "Access-Control-Allow-Origin" not in r.headers
    r = options(**{"Access-Control-Request-Method": "GET"})
    assert r.status == 400 and b"<Code>BadRequest</Code>" in r.data

    # the signed GET a page then sends, and one from an origin no rule allows
    signed = gw.s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "cors/page.html"},
                                          ExpiresIn=300)
    r = http.request("GET", signed, headers={"Origin": "https://app.example"})
    assert r.status == 200 and r.data == b"<p>hi</p>"
    assert r.headers["Access-Control-Allow-Origin"] == "https://app.example"
    r = http.request("GET", signed, headers={"Origin": "https://evil.example"})
    assert r.status == 200 and "Access-Control-Allow-Origin" not in r.headers

    # rules removed through the gateway apply at once
    gw.aws("s3api", "delete-bucket-cors", "--bucket", bucket)
    r = options(Origin="https://app.example", **{"Access-Control-Request-Method": "GET"})
    assert r.status == 403 and b"CORS is not enabled" in r.data


def _metrics(gw) -> dict[tuple[str, frozenset], float]:
    """rebucket's `/metrics` (admin listener, no token) as {(name, labels): value}."""
    import urllib.request
    text = urllib.request.urlopen(f"{gw.server.admin_endpoint}/metrics", timeout=10).read().decode()
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, value = line.rsplit(" ", 1)
        name, _, labels = series.partition("{")
        pairs = frozenset(tuple(kv.split("=", 1)) for kv in labels.rstrip("}").split(",") if kv)
        out[(name, pairs)] = float(value)
    return out


def _sum(m, name, **labels) -> float:
    want = {(k, f'"{v}"') for k, v in labels.items()}
    return sum(v for (n, ls), v in m.items() if n == name and want <= ls)


def test_metrics_count_what_the_clients_sent(gw):
    """/metrics moves by exactly the requests aws cli and boto3 sent, and their bytes."""
    if gw.direct:
        pytest.skip("rebucket's metrics: only through rebucket")
    bucket = f"e2e-{gw.name}-metrics"
    gw.aws("s3", "mb", f"s3://{bucket}")
    body = os.urandom(4096)
    src = gw.tmp / "metrics-4k.bin"
    src.write_bytes(body)
    before = _metrics(gw)
    gw.s3.put_object(Bucket=bucket, Key="metrics/a", Body=body)
    gw.s3.put_object(Bucket=bucket, Key="metrics/b", Body=body)
    assert gw.s3.get_object(Bucket=bucket, Key="metrics/a")["Body"].read() == body
    gw.s3.head_object(Bucket=bucket, Key="metrics/b")
    gw.aws("s3api", "put-object", "--bucket", bucket, "--key", "metrics/c", "--body", str(src))
    gw.aws("s3api", "head-object", "--bucket", bucket, "--key", "metrics/c")
    after = _metrics(gw)

    def moved(name, **labels):
        return _sum(after, name, **labels) - _sum(before, name, **labels)

    assert moved("rebucket_requests_total", operation="PutObject", status="2xx") == 3
    assert moved("rebucket_requests_total", operation="GetObject", status="2xx") == 1
    assert moved("rebucket_requests_total", operation="HeadObject", status="2xx") == 2
    assert moved("rebucket_requests_total") == 6, "no other request was counted"
    assert moved("rebucket_received_bytes_total") == 3 * 4096
    assert moved("rebucket_sent_bytes_total") == 4096, "one GET body; HEADs send none"
    assert moved("rebucket_request_duration_seconds_count", operation="PutObject") == 3
    assert moved("rebucket_upstream_duration_seconds_count", operation="HeadObject") == 2
    assert _sum(after, "rebucket_requests_in_flight") == 0
