"""The real aws cli (v1) against both sides."""
from .common import case, put, data, text, MiB


@case("cli.s3api-put-get-head")
def _(t):
    b = t.bucket()
    src = t.tmpfile(text(2048), "in.txt")
    t.aws("s3api", "put-object", "--bucket", b, "--key", "cli/obj.txt", "--body", src,
          "--content-type", "text/plain", "--metadata", "from=cli")
    t.aws("s3api", "head-object", "--bucket", b, "--key", "cli/obj.txt")
    out = t.tmpfile(b"", "out.txt")
    t.aws("s3api", "get-object", "--bucket", b, "--key", "cli/obj.txt", out)
    t.record("downloaded", open(out, "rb").read())


@case("cli.s3api-head-missing")
def _(t):
    b = t.bucket()
    t.aws("s3api", "head-object", "--bucket", b, "--key", "nope", _expect_error=True)


@case("cli.s3api-get-missing")
def _(t):
    b = t.bucket()
    t.aws("s3api", "get-object", "--bucket", b, "--key", "nope", t.tmpfile(b"", "o"), _expect_error=True)


@case("cli.s3api-list-objects-v2")
def _(t):
    b = t.bucket()
    for k in ("a/1", "a/2", "b", "c/d/e"):
        put(t, b, k)
    t.aws("s3api", "list-objects-v2", "--bucket", b, "--delimiter", "/")
    t.aws("s3api", "list-objects-v2", "--bucket", b, "--max-items", "2")


@case("cli.s3-cp-multipart-roundtrip")
def _(t):
    b = t.bucket()
    src = t.tmpfile(data(10 * MiB, 51), "big.bin")
    t.aws("s3", "cp", src, f"s3://{b}/big.bin", "--only-show-errors")
    t.call("head_object", Bucket=b, Key="big.bin")
    dst = t.tmpfile(b"", "back.bin")
    t.aws("s3", "cp", f"s3://{b}/big.bin", dst, "--only-show-errors")
    t.record("downloaded", open(dst, "rb").read())


@case("cli.s3-ls-and-rm-recursive")
def _(t):
    b = t.bucket()
    for k in ("x/1", "x/2", "y"):
        put(t, b, k, b"12345")
    t.aws("s3", "ls", f"s3://{b}/", _json=False)
    t.aws("s3", "ls", f"s3://{b}/", "--recursive", _json=False)
    t.aws("s3", "rm", f"s3://{b}/x/", "--recursive", _json=False)
    t.call("list_objects_v2", Bucket=b)


@case("cli.s3-mb-rb")
def _(t):
    b = t.name()
    t.aws("s3", "mb", f"s3://{b}", _json=False)
    t.aws("s3", "rb", f"s3://{b}", _json=False)
    t.call("head_bucket", Bucket=b, _expect_error=True)


@case("cli.s3-sync")
def _(t):
    import os
    b = t.bucket()
    for n in ("a.txt", "b.txt"):
        t.tmpfile(n.encode() * 10, n)
    d = os.path.dirname(t.tmpfile(b"c", "c.txt"))
    t.aws("s3", "sync", d, f"s3://{b}/sync/", "--only-show-errors", _json=False)
    t.aws("s3", "sync", d, f"s3://{b}/sync/", "--size-only", _json=False)   # nothing to do now
    t.call("list_objects_v2", Bucket=b)


@case("cli.s3api-get-range")
def _(t):
    b = t.bucket()
    put(t, b, "r", text(500))
    out = t.tmpfile(b"", "part")
    t.aws("s3api", "get-object", "--bucket", b, "--key", "r", "--range", "bytes=100-199", out)
    t.record("downloaded", open(out, "rb").read())


@case("cli.s3-presign")
def _(t):
    b = t.bucket()
    put(t, b, "p", text(77))
    rc, out, err = t.aws("s3", "presign", f"s3://{b}/p", "--expires-in", "300", _record=False)
    t.http("GET", out.strip())


@case("cli.s3api-wrong-secret")
def _(t):
    import os
    b = t.bucket()
    old = t.target.sk
    t.target.sk = "wrong-secret"
    try:
        t.aws("s3api", "list-objects-v2", "--bucket", b, _expect_error=True)
    finally:
        t.target.sk = old
