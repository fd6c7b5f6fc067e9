"""CopyObject and DeleteObjects."""
from .common import case, put, text, data, MiB


def _src(t, **kw):
    b = t.bucket()
    put(t, b, "src", text(500), ContentType="text/x-src", Metadata={"a": "1"},
        CacheControl="max-age=5", Tagging="t=1", **kw)
    return b


@case("copy.same-bucket")
def _(t):
    b = _src(t)
    t.call("copy_object", Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "src"})
    t.call("head_object", Bucket=b, Key="dst")
    t.call("get_object", Bucket=b, Key="dst")


@case("copy.cross-bucket")
def _(t):
    b = _src(t)
    b2 = t.bucket("other")
    t.call("copy_object", Bucket=b2, Key="dst", CopySource={"Bucket": b, "Key": "src"})
    t.call("get_object", Bucket=b2, Key="dst")


@case("copy.directive-copy-ignores-new-metadata")
def _(t):
    b = _src(t)
    t.call("copy_object", Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "src"},
           MetadataDirective="COPY", Metadata={"b": "2"}, ContentType="text/ignored")
    t.call("head_object", Bucket=b, Key="dst")


@case("copy.directive-replace")
def _(t):
    b = _src(t)
    t.call("copy_object", Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "src"},
           MetadataDirective="REPLACE", Metadata={"b": "2"}, ContentType="application/x-new",
           ContentDisposition="inline")
    t.call("head_object", Bucket=b, Key="dst")


@case("copy.directive-invalid")
def _(t):
    b = _src(t)
    t.raw("PUT", b, "dst", headers={"x-amz-copy-source": f"/{b}/src", "x-amz-metadata-directive": "MOVE"},
          _expect_error=True)


@case("copy.onto-itself-without-replace")
def _(t):
    b = _src(t)
    t.call("copy_object", Bucket=b, Key="src", CopySource={"Bucket": b, "Key": "src"}, _expect_error=True)


@case("copy.onto-itself-replace")
def _(t):
    b = _src(t)
    t.call("copy_object", Bucket=b, Key="src", CopySource={"Bucket": b, "Key": "src"},
           MetadataDirective="REPLACE", Metadata={"new": "yes"})
    t.call("head_object", Bucket=b, Key="src")


@case("copy.missing-source-key")
def _(t):
    b = t.bucket()
    t.call("copy_object", Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "nope"}, _expect_error=True)


@case("copy.missing-source-bucket")
def _(t):
    b = t.bucket()
    t.call("copy_object", Bucket=b, Key="dst", CopySource={"Bucket": t.name("nope"), "Key": "x"},
           _expect_error=True)


@case("copy.tagging-directive")
def _(t):
    b = _src(t)
    t.call("copy_object", Bucket=b, Key="copy", CopySource={"Bucket": b, "Key": "src"})
    t.call("get_object_tagging", Bucket=b, Key="copy")
    t.call("copy_object", Bucket=b, Key="repl", CopySource={"Bucket": b, "Key": "src"},
           TaggingDirective="REPLACE", Tagging="x=9")
    t.call("get_object_tagging", Bucket=b, Key="repl")


@case("copy.special-char-source-key")
def _(t):
    b = t.bucket()
    k = "dir with space/ü+%20&?=#.txt"
    put(t, b, k, text(50))
    t.call("copy_object", Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": k})
    t.call("get_object", Bucket=b, Key="dst")


@case("copy.raw-source-url-encoded")
def _(t):
    """x-amz-copy-source sent URL-encoded, without a leading slash."""
    from urllib.parse import quote
    b = t.bucket()
    k = "a b/c+d.txt"
    put(t, b, k, text(50))
    t.raw("PUT", b, "dst", headers={"x-amz-copy-source": f"{b}/{quote(k)}"})
    t.call("get_object", Bucket=b, Key="dst")


@case("copy.empty-object")
def _(t):
    b = t.bucket()
    put(t, b, "e", b"")
    t.call("copy_object", Bucket=b, Key="e2", CopySource={"Bucket": b, "Key": "e"})
    t.call("get_object", Bucket=b, Key="e2")


@case("copy.with-checksum-algorithm")
def _(t):
    b = t.bucket()
    put(t, b, "s", text(100))
    t.call("copy_object", Bucket=b, Key="d", CopySource={"Bucket": b, "Key": "s"}, ChecksumAlgorithm="SHA256")
    t.call("head_object", Bucket=b, Key="d", ChecksumMode="ENABLED")


@case("copy.multipart-source")
def _(t):
    from .common import mpu
    b = t.bucket()
    mpu(t, b, "m", [data(5 * MiB, 41), text(10)], record=False)
    t.call("copy_object", Bucket=b, Key="c", CopySource={"Bucket": b, "Key": "m"})
    t.call("head_object", Bucket=b, Key="c")


@case("copy.storage-class-change")
def _(t):
    b = _src(t)
    t.call("copy_object", Bucket=b, Key="src", CopySource={"Bucket": b, "Key": "src"},
           StorageClass="STANDARD_IA")
    t.call("head_object", Bucket=b, Key="src")


# ---- DeleteObjects

def _objs(t, keys):
    b = t.bucket()
    for k in keys:
        put(t, b, k, b"x")
    return b


@case("delobjs.basic")
def _(t):
    b = _objs(t, ["a", "b", "c"])
    t.call("delete_objects", Bucket=b, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}]})
    t.call("list_objects_v2", Bucket=b)


@case("delobjs.quiet")
def _(t):
    b = _objs(t, ["a", "b"])
    t.call("delete_objects", Bucket=b, Delete={"Objects": [{"Key": "a"}, {"Key": "b"}], "Quiet": True})
    t.call("list_objects_v2", Bucket=b)


@case("delobjs.missing-keys")
def _(t):
    b = _objs(t, ["a"])
    t.call("delete_objects", Bucket=b, Delete={"Objects": [{"Key": "a"}, {"Key": "nope"}, {"Key": "x/y"}]})


@case("delobjs.special-keys")
def _(t):
    ks = ["sp ace", "ü/ñ", "a+b", "per%cent", "amp&lt", "<tag>", "quote\"s"]
    b = _objs(t, ks)
    t.call("delete_objects", Bucket=b, Delete={"Objects": [{"Key": k} for k in ks]})
    t.call("list_objects_v2", Bucket=b)


@case("delobjs.versioned")
def _(t):
    b = t.bucket(versioned=True)
    put(t, b, "v", b"1")
    put(t, b, "v", b"2")
    t.call("delete_objects", Bucket=b, Delete={"Objects": [{"Key": "v"}]})
    t.call("list_object_versions", Bucket=b)


@case("delobjs.specific-versions")
def _(t):
    b = t.bucket(versioned=True)
    v1 = put(t, b, "v", b"1")["VersionId"]
    put(t, b, "v", b"2")
    t.call("delete_objects", Bucket=b, Delete={"Objects": [{"Key": "v", "VersionId": v1}]})
    t.call("list_object_versions", Bucket=b)


@case("delobjs.empty-list")
def _(t):
    b = t.bucket()
    t.raw("POST", b, query=[("delete", "")], _expect_error=True,
          body=b'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></Delete>',
          headers={"content-md5": __import__("lib.s3raw", fromlist=["x"]).md5_b64(
              b'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></Delete>')})


@case("delobjs.malformed-xml")
def _(t):
    from lib.s3raw import md5_b64
    b = t.bucket()
    body = b"<Delete><Object><Key>a</Key></Obj"
    t.raw("POST", b, query=[("delete", "")], body=body, headers={"content-md5": md5_b64(body)},
          _expect_error=True)


@case("delobjs.missing-bucket")
def _(t):
    t.call("delete_objects", Bucket=t.name("nope"), Delete={"Objects": [{"Key": "a"}]}, _expect_error=True)


@case("delobjs.1000-keys")
def _(t):
    b = t.bucket()
    from concurrent.futures import ThreadPoolExecutor
    c = t.target.client()
    with ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda i: c.put_object(Bucket=b, Key=f"k{i:04d}", Body=b""), range(1000)))
    t.call("delete_objects", Bucket=b, Delete={"Objects": [{"Key": f"k{i:04d}"} for i in range(1000)],
                                             "Quiet": True})
    t.call("list_objects_v2", Bucket=b)
