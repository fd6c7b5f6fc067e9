"""The per-bucket `anonymous` property end to end, with the real aws cli (`--no-sign-request`)
and boto3 (`Config(signature_version=UNSIGNED)`), rebucket in front of real upstreams.

- `anonymous=read` (a public dataset through rebucket): unsigned GET/HEAD/List of that bucket
  are served with the bucket's credentials, writes are refused (403 AccessDenied), another
  bucket stays closed. Run against rclone, which itself refuses every unsigned request.
- `anonymous=forward`: unsigned requests go upstream unsigned and the upstream decides. Each
  case is sent once straight to the upstream and once through rebucket, and what the client
  sees (success, or HTTP status and error code) must be the same. Run against:
  - SeaweedFS with an `anonymous` identity allowed `Read` and `List` on one bucket (its way of
    a public-read bucket): it enforces exactly that (reads of that bucket, nothing else);
  - moto with a public-read object ACL: moto checks object ACLs on GET/HEAD/DELETE of objects,
    but lets anonymous callers list any bucket and PUT anywhere (its refusals have no body:
    rebucket answers them as S3's error of that status, 403 AccessDenied);
  - rclone (`serve s3 --auth-key`): refuses every unsigned request (400 UnsupportedAlgorithm).

`pytest conformance/test_anonymous_buckets.py [-k seaweedfs]`.
"""
from __future__ import annotations

import json
import os
import subprocess
import urllib.error
import urllib.request

import botocore.exceptions
import pytest
from botocore import UNSIGNED
from botocore.config import Config
import boto3

from lib import rebucket, upstreams
from lib.procs import work_tmpdir

PUBLIC, PRIVATE = "anon-public", "anon-private"
BODY = b"public dataset bytes\n"


class AnonymousSeaweedFS(upstreams.SeaweedFS):
    """SeaweedFS whose `anonymous` identity may read and list bucket PUBLIC."""

    def _start(self):
        real = upstreams.json.dumps

        def dumps(obj, *a, **k):
            obj["identities"].append(
                {"name": "anonymous", "actions": [f"Read:{PUBLIC}", f"List:{PUBLIC}"]})
            return real(obj, *a, **k)

        upstreams.json.dumps = dumps
        try:
            super()._start()
        finally:
            upstreams.json.dumps = real


def make_upstream(name: str) -> upstreams.Upstream:
    return AnonymousSeaweedFS() if name == "seaweedfs" else upstreams.make(name)


def unsigned(endpoint: str):
    cfg = Config(signature_version=UNSIGNED, region_name="us-east-1",
                 s3={"addressing_style": "path"}, retries={"max_attempts": 1, "mode": "standard"},
                 request_checksum_calculation="when_required",
                 response_checksum_validation="when_required")
    return boto3.session.Session().client("s3", endpoint_url=endpoint, region_name="us-east-1",
                                          config=cfg)


def outcome(call, *args, **kwargs):
    """What a client sees: ("ok", body or None) or (HTTP status, error code)."""
    try:
        out = call(*args, **kwargs)
    except botocore.exceptions.ClientError as e:
        return (e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"])
    body = out.get("Body")
    return ("ok", body.read() if body is not None else None)


def aws_unsigned(endpoint: str, *args: str, stdin: bytes | None = None):
    env = dict(os.environ)
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        env.pop(k, None)
    env.update({"AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
                "AWS_DEFAULT_REGION": "us-east-1", "AWS_PAGER": "", "AWS_MAX_ATTEMPTS": "1",
                "AWS_EC2_METADATA_DISABLED": "true"})
    return subprocess.run(["aws", "--no-sign-request", "--endpoint-url", endpoint, *args],
                          env=env, input=stdin, capture_output=True, timeout=120)


class Gw:
    """rebucket in front of one upstream, its CLI pointed at its admin API."""

    def __init__(self, name: str):
        self.up = make_upstream(name).start()
        self.rb = rebucket.Rebucket(self.up, domain=None).start()
        c = self.up.client()
        for b in (PUBLIC, PRIVATE):
            c.create_bucket(Bucket=b)
            c.put_object(Bucket=b, Key="data.txt", Body=BODY)
        if name == "moto":
            c.put_object(Bucket=PUBLIC, Key="data.txt", Body=BODY, ACL="public-read")

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        env = dict(os.environ)
        env.update({"REBUCKET_ADMIN_URL": self.rb.admin_endpoint,
                    "REBUCKET_ADMIN_TOKEN": self.rb.admin_token})
        p = subprocess.run([rebucket.binary(), *args], env=env, capture_output=True, text=True,
                           timeout=60)
        assert p.returncode == 0, f"rebucket {' '.join(args)}: {p.stdout}\n{p.stderr}"
        return p

    def set_anonymous(self, bucket: str, value: str) -> None:
        self.cli("bucket", "props", "set", "--force", f"s3://{bucket}", f"anonymous={value}")

    def stop(self):
        self.rb.stop()
        self.up.stop()


@pytest.fixture(scope="module", params=["rclone"])
def read_gw(request):
    ok, why = rebucket.available()
    if not ok:
        pytest.fail(f"rebucket is not usable: {why}", pytrace=False)
    g = Gw(request.param)
    g.set_anonymous(PUBLIC, "read")
    yield g
    g.stop()


def test_anonymous_read_is_a_public_dataset_through_rebucket_only(read_gw):
    g = read_gw
    shown = json.loads(g.cli("show", "bucket", f"s3://{PUBLIC}", "--json").stdout)
    assert shown["props"]["anonymous"] == "read", shown
    via, direct = unsigned(g.rb.endpoint), unsigned(g.up.endpoint)
    # The upstream itself refuses unsigned callers; through rebucket the dataset is public.
    assert outcome(direct.get_object, Bucket=PUBLIC, Key="data.txt")[0] != "ok"
    assert outcome(via.get_object, Bucket=PUBLIC, Key="data.txt") == ("ok", BODY)
    assert outcome(via.head_object, Bucket=PUBLIC, Key="data.txt")[0] == "ok"
    listed = via.list_objects_v2(Bucket=PUBLIC)
    assert [o["Key"] for o in listed["Contents"]] == ["data.txt"]
    # Writes, the other bucket and the bucket list stay refused.
    assert outcome(via.put_object, Bucket=PUBLIC, Key="new.txt", Body=b"x") == (403, "AccessDenied")
    assert outcome(via.delete_object, Bucket=PUBLIC, Key="data.txt") == (403, "AccessDenied")
    assert outcome(via.copy_object, Bucket=PUBLIC, Key="copy.txt",
                   CopySource={"Bucket": PUBLIC, "Key": "data.txt"}) == (403, "AccessDenied")
    assert outcome(via.get_object, Bucket=PRIVATE, Key="data.txt") == (403, "AccessDenied")
    assert outcome(via.list_objects_v2, Bucket=PRIVATE) == (403, "AccessDenied")
    assert outcome(via.list_buckets) == (403, "AccessDenied")
    keys = [o["Key"] for o in g.up.client().list_objects_v2(Bucket=PUBLIC)["Contents"]]
    assert keys == ["data.txt"], keys

    # The aws cli, unsigned.
    p = aws_unsigned(g.rb.endpoint, "s3", "cp", f"s3://{PUBLIC}/data.txt", "-")
    assert p.returncode == 0 and p.stdout == BODY, p.stderr
    p = aws_unsigned(g.rb.endpoint, "s3", "ls", f"s3://{PUBLIC}/")
    assert p.returncode == 0 and b"data.txt" in p.stdout, p.stderr
    p = aws_unsigned(g.rb.endpoint, "s3", "cp", "-", f"s3://{PUBLIC}/cli.txt", stdin=b"x")
    assert p.returncode != 0 and b"AccessDenied" in p.stderr, p.stderr
    p = aws_unsigned(g.rb.endpoint, "s3", "cp", f"s3://{PRIVATE}/data.txt", "-")
    assert p.returncode != 0 and b"403" in p.stderr, p.stderr
    p = aws_unsigned(g.rb.endpoint, "s3", "ls")
    assert p.returncode != 0 and b"AccessDenied" in p.stderr, p.stderr
    # Refusals say nothing about the upstream.
    try:
        urllib.request.urlopen(f"{g.rb.endpoint}/{PRIVATE}/data.txt", timeout=30)
        pytest.fail("an unsigned GET of the closed bucket succeeded")
    except urllib.error.HTTPError as e:
        body = e.read()
        assert e.code == 403 and b"<Code>AccessDenied</Code>" in body, body
        for secret in (g.up.endpoint, "127.0.0.1", "profile", rebucket.PROFILE):
            assert secret.encode() not in body, body

    # Turned off, the dataset is closed again.
    g.set_anonymous(PUBLIC, "off")
    assert outcome(via.get_object, Bucket=PUBLIC, Key="data.txt") == (403, "AccessDenied")
    g.set_anonymous(PUBLIC, "read")
    assert outcome(via.get_object, Bucket=PUBLIC, Key="data.txt") == ("ok", BODY)


@pytest.fixture(scope="module", params=["seaweedfs", "moto", "rclone"])
def forward_gw(request):
    ok, why = rebucket.available()
    if not ok:
        pytest.fail(f"rebucket is not usable: {why}", pytrace=False)
    g = Gw(request.param)
    for b in (PUBLIC, PRIVATE):
        g.set_anonymous(b, "forward")
    yield request.param, g
    g.stop()


def forward_cases(side: str):
    """(name, boto3 method, kwargs) sent unsigned; writes use keys of their own per side."""
    out = []
    for b in (PUBLIC, PRIVATE):
        out += [
            (f"get {b}", "get_object", {"Bucket": b, "Key": "data.txt"}),
            (f"get missing {b}", "get_object", {"Bucket": b, "Key": "missing.txt"}),
            (f"head {b}", "head_object", {"Bucket": b, "Key": "data.txt"}),
            (f"list {b}", "list_objects_v2", {"Bucket": b}),
            (f"put {b}", "put_object", {"Bucket": b, "Key": f"put-{side}.txt", "Body": b"x"}),
            (f"delete {b}", "delete_object", {"Bucket": b, "Key": f"del-{side}.txt"}),
        ]
    return out


def same(direct, via) -> bool:
    """The same answer, where a body-less 4xx (moto's refusals; botocore then names the
    status as the code) counts as S3's error of that status, which is what rebucket answers
    for it (ARCHITECTURE.md, "One error enum per layer")."""
    if direct == via:
        return True
    status, code = direct
    return isinstance(status, int) and code == str(status) and via[0] == status


def test_anonymous_forward_answers_as_the_upstream_does_directly(forward_gw):
    name, g = forward_gw
    owner = g.up.client()
    for b in (PUBLIC, PRIVATE):
        for side in ("direct", "via"):
            owner.put_object(Bucket=b, Key=f"del-{side}.txt", Body=b"d")
    seen = {}
    for side, endpoint in (("direct", g.up.endpoint), ("via", g.rb.endpoint)):
        c = unsigned(endpoint)
        for case, method, kwargs in forward_cases(side):
            got = outcome(getattr(c, method), **kwargs)
            seen.setdefault(case, {})[side] = got
    diffs = {case: s for case, s in seen.items() if not same(s["direct"], s["via"])}
    assert not diffs, f"{name}: direct vs through rebucket differ: {json.dumps(diffs, default=str)}"
    # Each upstream's verdicts, as documented above (so a change of theirs shows).
    verdicts = {case: s["via"][0] == "ok" for case, s in seen.items()}
    if name == "seaweedfs":
        assert verdicts[f"get {PUBLIC}"] and verdicts[f"list {PUBLIC}"]
        assert not any(v for case, v in verdicts.items() if PRIVATE in case), verdicts
        assert not verdicts[f"put {PUBLIC}"] and not verdicts[f"delete {PUBLIC}"]
    elif name == "moto":
        assert verdicts[f"get {PUBLIC}"] and not verdicts[f"get {PRIVATE}"]
        assert verdicts[f"put {PRIVATE}"] and verdicts[f"list {PRIVATE}"]
    else:
        assert not any(verdicts.values()), verdicts

    # The aws cli, unsigned, the same both ways.
    for args in (["s3", "cp", f"s3://{PUBLIC}/data.txt", "-"], ["s3", "ls", f"s3://{PRIVATE}/"]):
        d, v = aws_unsigned(g.up.endpoint, *args), aws_unsigned(g.rb.endpoint, *args)
        assert (d.returncode == 0) == (v.returncode == 0), (args, d.stderr, v.stderr)
        if d.returncode == 0:
            assert d.stdout == v.stdout or args[1] == "ls", (args, d.stdout, v.stdout)
