"""The per-bucket AWS settings walkthrough, replayed end to end with the real aws cli.

Two `rclone serve s3` upstreams that check SigV4 with DIFFERENT keys — A (keys KA) and B (keys
KB) — each hold a bucket `abc` with different objects. rebucket starts with S3_ENDPOINT=A and
AWS shared files where profile `default` holds KA and profile `prod` holds KB. The steps below
run in file order on one gateway; each one states the bucket settings it starts from, so one
failing step does not hide the verdict of the next.

Run: `REBUCKET_BIN=/path/to/rebucket pytest -v conformance/test_walkthrough.py`
(default binary: <repo>/target/debug/rebucket). Set WALK_KEEP=1 to keep the work dir.
"""
from __future__ import annotations

import os
import re
import secrets
import shutil
import string
import time

import pytest

from walkthrough_lib import (HOST, Rclone, Rebucket, Transcript, free_port, log, make_tmp,
                             parse_show, rebucket_binary, show_rows, set_pytest_config,
                             write_aws_files)

PROPS = ["anonymous", "backend_bck", "extra.aws.addressing_style", "extra.aws.cloud_region",
         "extra.aws.endpoint", "extra.aws.profile", "read_only"]
# What an upstream says to keys it does not know or a signature it cannot verify.
REFUSED = re.compile(r"\((InvalidAccessKeyId|SignatureDoesNotMatch|AccessDenied)\)")


def _key_pair(tag: str) -> tuple[str, str]:
    up = string.ascii_uppercase + string.digits
    ak = "AKIA" + tag + "".join(secrets.choice(up) for _ in range(16 - len(tag)))
    sk = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(40))
    return ak, sk


class Walk:
    """State shared by the steps."""

    def __init__(self):
        self.tmp = make_tmp()
        self.transcript = Transcript()
        self.ka = _key_pair("A")
        self.kb = _key_pair("B")
        self.kb_rotations: list[tuple[str, str]] = []
        self.front = _key_pair("RB")
        self.admin_token = secrets.token_urlsafe(30)
        self.a = Rclone("A", self.tmp / "upA", self.tmp)
        self.b = Rclone("B", self.tmp / "upB", self.tmp)
        self.dead_port = free_port()  # nobody ever listens here
        self.a.put("abc", "a-only.txt", "object on upstream A\n")
        self.a.put("other", "other.txt", "other bucket on A\n")
        self.b.put("abc", "b-only.txt", "object on upstream B\n")
        self.a.start(*self.ka)
        self.b.start(*self.kb)
        binary = rebucket_binary(self.tmp)
        self.rb = Rebucket(binary, self.tmp / "gw", self.a.url, self.transcript, self.front,
                           self.admin_token)
        self.write_files(self.kb)
        self.rb.start()

    def write_files(self, prod_keys: tuple[str, str]) -> None:
        write_aws_files(self.rb.aws_config, self.rb.aws_credentials,
                        {"default": self.ka, "prod": prod_keys})

    def all_secrets(self) -> dict[str, str]:
        s = {"KA secret": self.ka[1], "KB secret": self.kb[1], "front secret": self.front[1],
             "admin token": self.admin_token}
        for i, k in enumerate(self.kb_rotations):
            s[f"KB rotation {i + 1} secret"] = k[1]
        return s

    # helpers used by several steps ---------------------------------------
    def set_props(self, bucket: str, *pairs: str, force: bool = True):
        """Puts a bucket into a known state (setup of a step, not what it judges)."""
        force_flag = ["--force"] if force else []
        r = self.rb.cli("bucket", "props", "set", *force_flag, f"s3://{bucket}", *pairs)
        assert r.rc == 0, f"setup failed:\n{r}"
        return r

    def ls(self, bucket: str):
        return self.rb.aws("s3", "ls", f"s3://{bucket}")

    def assert_lists(self, bucket: str, present: str, absent: str | None = None):
        r = self.ls(bucket)
        assert r.rc == 0, f"listing s3://{bucket} failed:\n{r}"
        assert present in r.out, f"{present} not listed in s3://{bucket}:\n{r}"
        if absent:
            assert absent not in r.out, f"{absent} listed in s3://{bucket}:\n{r}"
        return r

    def assert_no_secret(self, text: str, where: str):
        for what, value in self.all_secrets().items():
            assert value not in text, f"{what} printed in {where}"


@pytest.fixture(scope="module")
def walk(request):
    set_pytest_config(request.config)
    w = Walk()
    log(f"work dir {w.tmp}; A={w.a.url} B={w.b.url} rebucket=http://{HOST}:{w.rb.port} "
        f"admin=http://{HOST}:{w.rb.admin_port}")
    yield w
    (w.tmp / "transcript.txt").write_text("\n".join(map(str, w.transcript.results)) + "\n")
    w.rb.stop()
    w.a.stop()
    w.b.stop()
    if os.environ.get("WALK_KEEP") or request.session.testsfailed:
        log(f"kept the work dir {w.tmp} (transcript.txt, gw/rebucket.log, rclone-*.log)")
    else:
        shutil.rmtree(w.tmp, ignore_errors=True)


def step(n: int, title: str) -> None:
    log(f"step {n:>2}: {title}")


# ------------------------------------------------------------------------ steps


def test_00_profiles_are_read_from_the_aws_files(walk):
    step(0, "`rebucket profiles list` sees the profiles of the AWS files")
    r = walk.rb.profiles_cli("list")
    assert r.rc == 0, str(r)
    for name in ("default", "prod"):
        assert re.search(rf"(?m)^\s*{name}\b", r.out), f"profile {name} not listed:\n{r}"
    r = walk.rb.cli("reload-creds")
    assert r.rc == 0, str(r)
    assert r.out.strip() == "reloaded; profiles: default, prod", str(r)


def test_01_default_profile_works(walk):
    step(1, "default profile (KA) lists A's abc through rebucket")
    r = walk.rb.show("abc")
    assert r.get("extra.aws.profile", "") == "" and r.get("extra.aws.endpoint", "") == "", r
    walk.assert_lists("abc", "a-only.txt", "b-only.txt")
    r = walk.rb.aws("s3", "cp", "--only-show-errors", "s3://abc/a-only.txt", "-")
    assert r.rc == 0 and r.out == "object on upstream A\n", str(r)


def test_02_profile_prod_signs_with_other_keys_and_a_refuses(walk):
    step(2, "set extra.aws.profile prod -> KB signs, A refuses with a clear S3 error")
    r = walk.rb.cli("bucket", "props", "set", "s3://abc", "extra.aws.profile", "prod")
    assert r.rc == 0, str(r)
    assert r.out.strip() == '"extra.aws.profile" set to: "prod" (was: "")', str(r)
    assert walk.rb.show("abc")["extra.aws.profile"] == "prod"
    r = walk.ls("abc")
    assert r.rc != 0, f"A accepted prod's keys?\n{r}"
    assert REFUSED.search(r.err), f"expected A's refusal (InvalidAccessKeyId...):\n{r}"
    assert r.secs < 10, str(r)


def test_03_endpoint_b_lists_the_other_upstream(walk):
    step(3, "set extra.aws.endpoint=B -> B's object is listed")
    walk.set_props("abc", "extra.aws.profile", "prod")
    r = walk.rb.cli("bucket", "props", "set", "s3://abc", f"extra.aws.endpoint={walk.b.url}")
    assert r.rc == 0, str(r)
    assert r.out.strip() == f'"extra.aws.endpoint" set to: "{walk.b.url}" (was: "")', str(r)
    walk.assert_lists("abc", "b-only.txt", "a-only.txt")
    r = walk.rb.aws("s3", "cp", "--only-show-errors", "s3://abc/b-only.txt", "-")
    assert r.rc == 0 and r.out == "object on upstream B\n", str(r)
    r = walk.rb.cli("ls")
    assert r.rc == 0, str(r)
    row = [ln.split() for ln in r.out.splitlines() if ln.startswith("s3://abc ")]
    assert row and "prod" in row[0] and walk.b.url in row[0], f"ls row of abc:\n{r}"


def test_04_dead_endpoint_fails_fast_and_alone(walk):
    dead = f"http://{HOST}:{walk.dead_port}"
    step(4, f"dead endpoint {dead}: fails fast, names bucket/profile/endpoint, other bucket ok")
    walk.set_props("abc", "extra.aws.profile", "prod")
    r = walk.rb.cli("bucket", "props", "set", "s3://abc", "extra.aws.endpoint", dead)
    assert r.rc == 0, str(r)
    assert r.secs < 10, f"setting a dead endpoint took {r.secs:.1f} s:\n{r}"
    r = walk.ls("abc")
    assert r.rc != 0, str(r)
    assert r.secs < 10, f"dead endpoint took {r.secs:.1f} s to fail:\n{r}"
    # Another bucket (not registered, default profile, endpoint A) keeps working meanwhile.
    other = walk.assert_lists("other", "other.txt")
    assert other.secs < 10, str(other)
    walk.assert_no_secret(r.out + r.err, "the dead-endpoint error")
    for part in ('"abc"', '"prod"', f"127.0.0.1:{walk.dead_port}"):
        assert part in r.err, f"error does not name {part}:\n{r}"
    assert "(ServiceUnavailable)" in r.err, str(r)


def test_05_clearing_restores(walk):
    step(5, "clearing extra.aws.endpoint and extra.aws.profile restores the default route")
    dead = f"http://{HOST}:{walk.dead_port}"
    walk.set_props("abc", "extra.aws.profile", "prod", "extra.aws.endpoint", dead)
    r = walk.rb.cli("bucket", "props", "set", "s3://abc", "extra.aws.endpoint", "")
    assert r.rc == 0, str(r)
    assert r.out.strip() == f'"extra.aws.endpoint" set to: "" (was: "{dead}")', str(r)
    r = walk.rb.cli("bucket", "props", "set", "s3://abc", "extra.aws.profile=")
    assert r.rc == 0, str(r)
    assert r.out.strip() == '"extra.aws.profile" set to: "" (was: "prod")', str(r)
    props = walk.rb.show("abc")
    assert props["extra.aws.endpoint"] == "" and props["extra.aws.profile"] == "", props
    walk.assert_lists("abc", "a-only.txt", "b-only.txt")


def test_06_backend_bck_alias(walk):
    step(6, "bucket add s3://alias backend_bck=abc (+profile prod, endpoint B) lists abc")
    r = walk.rb.cli("bucket", "add", "s3://alias", "backend_bck=abc", "extra.aws.profile=prod",
                    f"extra.aws.endpoint={walk.b.url}")
    assert r.rc == 0, str(r)
    lines = r.out.strip().splitlines()
    assert '"backend_bck" set to: "abc" (was: "")' in lines, str(r)
    assert '"extra.aws.profile" set to: "prod" (was: "")' in lines, str(r)
    walk.assert_lists("alias", "b-only.txt", "a-only.txt")
    r = walk.rb.aws("s3", "cp", "--only-show-errors", "-", "s3://alias/via-alias.txt",
                    stdin="written through the alias\n")
    assert r.rc == 0, str(r)
    landed = walk.b.root / "abc" / "via-alias.txt"
    assert landed.is_file() and landed.read_text() == "written through the alias\n", \
        "the object put through s3://alias did not land in B's abc"
    # An alias on the default route reaches A's abc.
    r = walk.rb.cli("bucket", "add", "s3://alias-a", "backend_bck=abc")
    assert r.rc == 0, str(r)
    walk.assert_lists("alias-a", "a-only.txt", "b-only.txt")
    r = walk.rb.cli("bucket", "add", "s3://alias", "backend_bck=abc")
    assert r.rc != 0 and "registered already" in r.err, f"second add accepted:\n{r}"


def test_07_props_survive_kill_9(walk):
    step(7, "props survive kill -9 + restart (same data dir)")
    r = walk.rb.cli("bucket", "add", "s3://keep", "backend_bck=other",
                    f"extra.aws.endpoint={walk.a.url}", "extra.aws.addressing_style=path")
    assert r.rc == 0, str(r)
    names = ["abc", "alias", "alias-a", "keep"]
    before = {b: walk.rb.show(b) for b in names}
    assert before["keep"]["backend_bck"] == "other", before["keep"]
    ls_before = walk.rb.cli("ls")
    assert ls_before.rc == 0, str(ls_before)
    pid = walk.rb.proc.pid
    walk.rb.kill9()
    walk.rb.start()
    assert walk.rb.proc.pid != pid
    after = {b: walk.rb.show(b) for b in names}
    assert after == before, f"props changed across kill -9:\nbefore {before}\nafter  {after}"
    ls_after = walk.rb.cli("ls")
    assert ls_after.rc == 0 and ls_after.out == ls_before.out, f"{ls_before}\n{ls_after}"
    for b in names:
        assert f"s3://{b} " in ls_after.out + " ", f"s3://{b} missing after restart:\n{ls_after}"
    walk.assert_lists("keep", "other.txt")
    walk.assert_lists("alias", "b-only.txt", "a-only.txt")


def test_08_rotated_credentials_are_picked_up_without_restart(walk):
    step(8, "rotate B's keys: rewritten credentials file is picked up with no restart")
    walk.set_props("abc", "extra.aws.profile", "prod", "extra.aws.endpoint", walk.b.url)
    walk.assert_lists("abc", "b-only.txt")
    pid = walk.rb.proc.pid
    new = _key_pair("B2")
    walk.kb_rotations.append(new)
    walk.b.restart(*new)
    r = walk.ls("abc")
    assert r.rc != 0 and REFUSED.search(r.err), f"B still accepts the old keys?\n{r}"
    walk.write_files(new)
    t0 = time.monotonic()
    while True:
        r = walk.ls("abc")
        if r.rc == 0:
            break
        assert time.monotonic() - t0 < 15, f"rotated keys not used 15 s after the rewrite:\n{r}"
        time.sleep(0.5)
    took = time.monotonic() - t0
    log(f"         rotated keys in use {took:.1f} s after the rewrite")
    assert "b-only.txt" in r.out, str(r)
    assert took < 10, f"took {took:.1f} s"
    assert walk.rb.proc.pid == pid and walk.rb.proc.poll() is None, "rebucket restarted?"

    step(8, "... and `rebucket reload-creds` makes the next request use them at once")
    newer = _key_pair("B3")
    walk.kb_rotations.append(newer)
    walk.b.restart(*newer)
    walk.write_files(newer)
    r = walk.rb.cli("reload-creds")
    assert r.rc == 0, str(r)
    assert r.out.strip() == "reloaded; profiles: default, prod", str(r)
    walk.assert_lists("abc", "b-only.txt")
    walk.assert_lists("alias", "b-only.txt")
    assert walk.rb.proc.pid == pid and walk.rb.proc.poll() is None, "rebucket restarted?"


def test_09a_invalid_endpoint_refused(walk):
    step(9, "validation: extra.aws.endpoint=foo is refused with AIStore's message")
    walk.set_props("abc", "extra.aws.profile", "prod", "extra.aws.endpoint", walk.b.url)
    before = walk.rb.show("abc")
    r = walk.rb.cli("bucket", "props", "set", "s3://abc", "extra.aws.endpoint=foo")
    assert r.rc != 0, str(r)
    assert ('invalid extra.aws.endpoint "foo": unsupported scheme "" '
            '(expecting http or https)') in r.err, str(r)
    assert r.out.strip() == "", str(r)
    assert walk.rb.show("abc") == before, "a refused change changed the bucket"


def test_09b_unknown_property_refused(walk):
    step(9, "validation: an unknown property is refused")
    before = walk.rb.show("abc")
    r = walk.rb.cli("bucket", "props", "set", "s3://abc", "extra.aws.bogus=1")
    assert r.rc != 0, str(r)
    assert "extra.aws.bogus" in r.err and "unknown" in r.err.lower(), str(r)
    assert walk.rb.show("abc") == before, "a refused change changed the bucket"


def test_09c_unknown_profile_refused_unless_forced(walk):
    step(9, "validation: an unknown profile is refused unless --force")
    walk.set_props("abc", "extra.aws.profile", "prod", "extra.aws.endpoint", walk.b.url)
    before = walk.rb.show("abc")
    r = walk.rb.cli("bucket", "props", "set", "s3://abc", "extra.aws.profile", "nosuch")
    assert r.rc != 0, str(r)
    assert 'unknown profile "nosuch"' in r.err and "--force" in r.err, str(r)
    assert walk.rb.show("abc") == before, "a refused change changed the bucket"
    try:
        r = walk.rb.cli("bucket", "props", "set", "--force", "s3://abc", "extra.aws.profile",
                        "nosuch")
        assert r.rc == 0, str(r)
        assert r.out.strip() == '"extra.aws.profile" set to: "nosuch" (was: "prod")', str(r)
        r = walk.ls("abc")
        assert r.rc != 0 and '"nosuch"' in r.err and '"abc"' in r.err, str(r)
        assert r.secs < 10, str(r)
    finally:
        walk.set_props("abc", "extra.aws.profile", "prod")
    r = walk.rb.cli("bucket", "props", "set", "s3://abc", "extra.aws.profile", "nosuch")
    assert "default" in r.err and "prod" in r.err, f"known profiles not listed:\n{r}"
    walk.assert_lists("abc", "b-only.txt")


def test_09d_force_flag_after_the_pairs(walk):
    step(9, "... `--force` typed last: `props set s3://abc extra.aws.profile x --force`")
    walk.set_props("abc", "extra.aws.profile", "prod", "extra.aws.endpoint", walk.b.url)
    r = walk.rb.cli("bucket", "props", "set", "s3://abc", "extra.aws.profile", "nosuch2",
                    "--force")
    try:
        assert r.rc == 0, str(r)
        assert r.out.strip() == '"extra.aws.profile" set to: "nosuch2" (was: "prod")', str(r)
    finally:
        walk.set_props("abc", "extra.aws.profile", "prod")


def test_10_show_bucket_lists_every_property_sorted(walk):
    step(10, "show bucket: every property, sorted, incl. extra.aws.cloud_region")
    walk.set_props("abc", "extra.aws.profile", "prod", "extra.aws.endpoint", walk.b.url)
    r = walk.rb.cli("show", "bucket", "s3://abc")
    assert r.rc == 0, str(r)
    # The table's property rows (the `route.*` rows say where requests go).
    names = [name for name, _, _ in show_rows(r.out) if not name.startswith("route.")]
    assert names == sorted(names), f"not sorted:\n{r.out}"
    assert len(set(names)) == len(names), r.out
    for p in PROPS:
        assert p in names, f"{p} missing:\n{r.out}"
    j = walk.rb.cli("show", "bucket", "s3://abc", "--json")
    assert j.rc == 0, str(j)
    import json
    props = json.loads(j.out)["props"]
    assert sorted(props) == names, f"text and --json disagree:\n{r.out}\n{j.out}"
    shown = parse_show(r.out)
    assert shown["extra.aws.profile"] == "prod" and shown["extra.aws.endpoint"] == walk.b.url
    assert all(shown[k] == (v or "") for k, v in props.items()), f"{shown}\n{props}"


def test_11_no_secret_in_any_output(walk):
    step(11, "no secret in any CLI output of the run (nor in the gateway log)")
    for args in (["show", "bucket", "s3://abc", "--json"], ["ls", "--json"], ["ls"],
                 ["bucket", "props", "show", "s3://alias"], ["show", "bucket", "s3://alias"]):
        assert walk.rb.cli(*args).rc == 0
    walk.rb.profiles_cli("list")
    walk.rb.profiles_cli("show", "prod")
    walk.rb.profiles_cli("show", "default")
    seen = len(walk.transcript.results)
    leaks = []
    for res in walk.transcript.results:
        for what, value in walk.all_secrets().items():
            if value in res.out or value in res.err:
                leaks.append(f"{what} in output of: {' '.join(res.argv[1:])}")
    log_text = walk.rb.log_text()
    for what, value in walk.all_secrets().items():
        if value in log_text:
            leaks.append(f"{what} in the gateway log")
    log(f"          checked {seen} CLI outputs and the gateway log for "
        f"{len(walk.all_secrets())} secrets")
    assert not leaks, "\n".join(leaks)


if __name__ == "__main__":
    import sys
    sys.exit(pytest.main([__file__, "-v", *sys.argv[1:]]))
