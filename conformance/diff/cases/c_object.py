"""PutObject / GetObject / HeadObject / DeleteObject, metadata and content headers."""
from .common import case, put, data, text, MiB


@case("obj.put-get-small")
def _(t):
    b = t.bucket()
    t.call("put_object", Bucket=b, Key="hello.txt", Body=b"hello world\n")
    t.call("get_object", Bucket=b, Key="hello.txt")


@case("obj.put-get-empty")
def _(t):
    b = t.bucket()
    t.call("put_object", Bucket=b, Key="empty", Body=b"")
    t.call("get_object", Bucket=b, Key="empty")
    t.call("head_object", Bucket=b, Key="empty")


@case("obj.put-get-1mib")
def _(t):
    b = t.bucket()
    t.call("put_object", Bucket=b, Key="one", Body=data(MiB, 7))
    t.call("get_object", Bucket=b, Key="one")


@case("obj.put-get-9mib-single")
def _(t):
    b = t.bucket()
    t.call("put_object", Bucket=b, Key="nine", Body=data(9 * MiB, 9))
    t.call("get_object", Bucket=b, Key="nine")


@case("obj.put-get-all-byte-values")
def _(t):
    b = t.bucket()
    t.call("put_object", Bucket=b, Key="bytes", Body=bytes(range(256)) * 4)
    t.call("get_object", Bucket=b, Key="bytes")


@case("obj.head")
def _(t):
    b = t.bucket()
    put(t, b, "h", text(300))
    t.call("head_object", Bucket=b, Key="h")


@case("obj.get-missing-key")
def _(t):
    b = t.bucket()
    t.call("get_object", Bucket=b, Key="missing", _expect_error=True)


@case("obj.head-missing-key")
def _(t):
    b = t.bucket()
    t.call("head_object", Bucket=b, Key="missing", _expect_error=True)


@case("obj.get-missing-bucket")
def _(t):
    t.call("get_object", Bucket=t.name("nope"), Key="k", _expect_error=True)


@case("obj.put-missing-bucket")
def _(t):
    t.call("put_object", Bucket=t.name("nope"), Key="k", Body=b"x", _expect_error=True)


@case("obj.delete")
def _(t):
    b = t.bucket()
    put(t, b, "d")
    t.call("delete_object", Bucket=b, Key="d")
    t.call("head_object", Bucket=b, Key="d", _expect_error=True)


@case("obj.delete-missing-key")
def _(t):
    b = t.bucket()
    t.call("delete_object", Bucket=b, Key="never-existed")


@case("obj.overwrite")
def _(t):
    b = t.bucket()
    t.call("put_object", Bucket=b, Key="o", Body=b"first")
    t.call("put_object", Bucket=b, Key="o", Body=b"second version")
    t.call("get_object", Bucket=b, Key="o")


@case("obj.content-type")
def _(t):
    b = t.bucket()
    t.call("put_object", Bucket=b, Key="page.html", Body=b"<html/>", ContentType="text/html; charset=utf-8")
    t.call("head_object", Bucket=b, Key="page.html")
    t.call("get_object", Bucket=b, Key="page.html")


@case("obj.content-type-default")
def _(t):
    b = t.bucket()
    t.raw("PUT", b, "noctype", body=b"abc")
    t.call("head_object", Bucket=b, Key="noctype")


@case("obj.content-headers")
def _(t):
    b = t.bucket()
    import datetime as dt
    t.call("put_object", Bucket=b, Key="c", Body=b"data", CacheControl="max-age=3600, public",
           ContentDisposition='attachment; filename="report.txt"', ContentLanguage="de-DE",
           Expires=dt.datetime(2030, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc))
    t.call("head_object", Bucket=b, Key="c")
    t.call("get_object", Bucket=b, Key="c")


@case("obj.content-encoding-gzip-untouched")
def _(t):
    """A stored gzip body must come back byte-identical with Content-Encoding: gzip."""
    import gzip
    b = t.bucket()
    body = gzip.compress(b"compressible " * 1000, mtime=0)
    t.call("put_object", Bucket=b, Key="z.gz", Body=body, ContentEncoding="gzip", ContentType="text/plain")
    t.raw("GET", b, "z.gz", headers={"accept-encoding": "gzip"})
    t.call("get_object", Bucket=b, Key="z.gz")


@case("obj.get-accept-encoding-gzip-plain")
def _(t):
    """Accept-Encoding: gzip on a plain object: the body must not be re-encoded."""
    b = t.bucket()
    put(t, b, "plain.txt", b"aaaaaaaaaa" * 2000, ContentType="text/plain")
    t.raw("GET", b, "plain.txt", headers={"accept-encoding": "gzip, deflate"})


@case("obj.metadata")
def _(t):
    b = t.bucket()
    t.call("put_object", Bucket=b, Key="m", Body=b"x",
           Metadata={"color": "blue", "Mixed-Case": "Value With Spaces", "n": "42"})
    t.call("head_object", Bucket=b, Key="m")
    t.call("get_object", Bucket=b, Key="m")


@case("obj.metadata-many")
def _(t):
    b = t.bucket()
    t.call("put_object", Bucket=b, Key="m", Body=b"x", Metadata={f"k{i:02d}": f"v{i}" for i in range(30)})
    t.call("head_object", Bucket=b, Key="m")


@case("obj.metadata-too-large")
def _(t):
    b = t.bucket()
    t.call("put_object", Bucket=b, Key="m", Body=b"x", Metadata={"big": "v" * 2100}, _expect_error=True)


@case("obj.metadata-empty-value")
def _(t):
    b = t.bucket()
    t.raw("PUT", b, "m", body=b"x", headers={"x-amz-meta-empty": ""})
    t.call("head_object", Bucket=b, Key="m")


@case("obj.metadata-utf8-rfc2047")
def _(t):
    b = t.bucket()
    t.raw("PUT", b, "m", body=b"x", headers={"x-amz-meta-name": "=?UTF-8?B?w6lzdMOp?="})
    t.call("head_object", Bucket=b, Key="m")


@case("obj.storage-class")
def _(t):
    b = t.bucket()
    t.call("put_object", Bucket=b, Key="s", Body=b"x", StorageClass="STANDARD")
    t.call("head_object", Bucket=b, Key="s")
    t.call("list_objects_v2", Bucket=b)


@case("obj.storage-class-invalid")
def _(t):
    b = t.bucket()
    t.raw("PUT", b, "s", body=b"x", headers={"x-amz-storage-class": "NOT_A_CLASS"}, _expect_error=True)


@case("obj.response-overrides")
def _(t):
    b = t.bucket()
    put(t, b, "r", b"override me", ContentType="text/plain")
    t.call("get_object", Bucket=b, Key="r", ResponseContentType="application/json",
           ResponseContentDisposition="inline", ResponseCacheControl="no-cache",
           ResponseContentLanguage="fr", ResponseContentEncoding="identity",
           ResponseExpires="Thu, 01 Jan 2032 00:00:00 GMT")


@case("obj.website-redirect")
def _(t):
    b = t.bucket()
    t.call("put_object", Bucket=b, Key="w", Body=b"x", WebsiteRedirectLocation="/other")
    t.call("head_object", Bucket=b, Key="w")


@case("obj.sse-s3")
def _(t):
    b = t.bucket()
    t.call("put_object", Bucket=b, Key="e", Body=b"secret", ServerSideEncryption="AES256")
    t.call("head_object", Bucket=b, Key="e")
    t.call("get_object", Bucket=b, Key="e")


@case("obj.get-part-number-simple")
def _(t):
    b = t.bucket()
    put(t, b, "p", text(1000))
    t.call("get_object", Bucket=b, Key="p", PartNumber=1, _expect_error=True)
    t.call("head_object", Bucket=b, Key="p", PartNumber=1, _expect_error=True)


@case("obj.expect-100-continue")
def _(t):
    b = t.bucket()
    t.raw("PUT", b, "e100", body=text(5000), headers={"expect": "100-continue"})
    t.call("get_object", Bucket=b, Key="e100")


@case("obj.put-no-content-length")
def _(t):
    """PUT with Transfer-Encoding: chunked and no Content-Length (not aws-chunked)."""
    b = t.bucket()
    t.raw("PUT", b, "nolen", body=b"5\r\nhello\r\n0\r\n\r\n", payload="UNSIGNED-PAYLOAD",
          headers={"transfer-encoding": "chunked"}, declared_length=None, _expect_error=True,
          _object=False, timeout=10)
    t.call("head_object", Bucket=b, Key="nolen", _expect_error=True)


@case("obj.declared-5gib-content-length")
def _(t):
    """A single PUT declaring 5 GiB + 1 bytes (but sending 1 KiB): expect an early, clean
    reject (EntityTooLarge) or the same behaviour as the upstream."""
    b = t.bucket()
    t.raw("PUT", b, "huge", body=text(1024), payload="UNSIGNED-PAYLOAD",
          declared_length=5 * 1024 ** 3 + 1, _expect_error=True, timeout=8)
    t.call("head_object", Bucket=b, Key="huge", _expect_error=True)


@case("obj.declared-length-short-body")
def _(t):
    """Content-Length larger than the body actually sent, then the client waits."""
    b = t.bucket()
    t.raw("PUT", b, "short", body=text(100), payload="UNSIGNED-PAYLOAD", declared_length=200,
          _expect_error=True, timeout=5)
    t.call("head_object", Bucket=b, Key="short", _expect_error=True)


@case("obj.get-object-attributes")
def _(t):
    b = t.bucket()
    put(t, b, "a", text(123))
    t.call("get_object_attributes", Bucket=b, Key="a",
           ObjectAttributes=["ETag", "ObjectSize", "StorageClass"])


@case("obj.put-trailing-slash-folder")
def _(t):
    b = t.bucket()
    t.call("put_object", Bucket=b, Key="folder/", Body=b"")
    t.call("head_object", Bucket=b, Key="folder/")
    t.call("list_objects_v2", Bucket=b, Delimiter="/")
