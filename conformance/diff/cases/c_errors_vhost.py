"""Authentication errors, malformed requests, and virtual-hosted-style access."""
import datetime as dt

from lib import s3raw
from lib.s3client import client
from .common import case, put, text


def _bad_client(t, ak=None, sk=None):
    return client(t.target.endpoint, ak or t.target.ak, sk or t.target.sk, timeout=20)


@case("auth.wrong-secret")
def _(t):
    b = t.bucket()
    put(t, b, "k")
    c = _bad_client(t, sk="definitely-wrong-secret")
    t.call("list_buckets", _client=c, _expect_error=True, _fields=[])
    t.call("get_object", _client=c, Bucket=b, Key="k", _expect_error=True)
    t.call("put_object", _client=c, Bucket=b, Key="n", Body=b"x", _expect_error=True)
    t.call("head_object", Bucket=b, Key="n", _expect_error=True)


@case("auth.unknown-access-key")
def _(t):
    b = t.bucket()
    c = _bad_client(t, ak="AKIAUNKNOWNUNKNOWN00", sk="whatever")
    t.call("list_objects_v2", _client=c, Bucket=b, _expect_error=True)


@case("auth.anonymous")
def _(t):
    b = t.bucket()
    put(t, b, "k")
    t.raw("GET", b, "k", sign=False, _expect_error=True)
    t.raw("GET", b, sign=False, _expect_error=True)


@case("auth.presign-wrong-secret")
def _(t):
    b = t.bucket()
    put(t, b, "k")
    url = _bad_client(t, sk="wrong").generate_presigned_url("get_object", Params={"Bucket": b, "Key": "k"})
    t.http("GET", url, _expect_error=True)


@case("auth.clock-skew")
def _(t):
    b = t.bucket()
    r = t.target.raw()
    s = s3raw.Signer(t.target.ak, t.target.sk,
                     now=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=30))
    orig = s3raw.Signer
    s3raw.Signer = lambda ak, sk: s
    try:
        t.raw("GET", b, _expect_error=True)
    finally:
        s3raw.Signer = orig


@case("auth.malformed-authorization")
def _(t):
    b = t.bucket()
    t.raw("GET", b, sign=False, headers={"authorization": "AWS4-HMAC-SHA256 nonsense",
                                         "x-amz-content-sha256": "UNSIGNED-PAYLOAD"}, _expect_error=True)


@case("auth.sigv2-header")
def _(t):
    b = t.bucket()
    t.raw("GET", b, sign=False, headers={"authorization": f"AWS {t.target.ak}:c2lnbmF0dXJl",
                                         "date": "Mon, 01 Jan 2024 00:00:00 GMT"}, _expect_error=True)


@case("auth.signed-header-changed")
def _(t):
    """Sign a Content-Type, send another one."""
    b = t.bucket()
    orig = s3raw.Raw._send

    def send(self, method, target, headers, body, timeout, **kw):
        headers = dict(headers)
        headers["content-type"] = "text/evil"
        return orig(self, method, target, headers, body, timeout, **kw)
    s3raw.Raw._send = send
    try:
        t.raw("PUT", b, "k", body=b"x", headers={"content-type": "text/plain"}, _expect_error=True)
    finally:
        s3raw.Raw._send = orig


@case("err.method-not-allowed")
def _(t):
    b = t.bucket()
    put(t, b, "k")
    t.raw("PATCH", b, "k", body=b"x", _expect_error=True)


@case("err.malformed-xml-body")
def _(t):
    b = t.bucket()
    from lib.s3raw import md5_b64
    body = b"this is not xml"
    t.raw("PUT", b, query=[("tagging", "")], body=body, headers={"content-md5": md5_b64(body)},
          _expect_error=True)


@case("err.invalid-bucket-name-in-path")
def _(t):
    t.raw("GET", "Invalid_Bucket!", "k", _expect_error=True)


@case("err.invalid-argument-max-keys")
def _(t):
    b = t.bucket()
    t.raw("GET", b, query=[("list-type", "2"), ("max-keys", "abc")], _expect_error=True)


@case("err.invalid-part-number-get")
def _(t):
    b = t.bucket()
    put(t, b, "k")
    t.raw("GET", b, "k", query=[("partNumber", "abc")], _expect_error=True)


@case("err.post-object-no-file")
def _(t):
    b = t.bucket()
    p = t.s3.generate_presigned_post(b, "k", ExpiresIn=300)
    t.http("POST", p["url"], fields=dict(p["fields"]), _object=False, _expect_error=True)


# ---- virtual-hosted style (through rebucket: Host: <bucket>.<domain>:<port>; direct: path style)

@case("vhost.put-get-head-delete")
def _(t):
    b = t.bucket()
    t.raw("PUT", b, "dir/obj.txt", body=text(321), headers={"content-type": "text/plain"}, vhost=True)
    t.raw("HEAD", b, "dir/obj.txt", vhost=True)
    t.raw("GET", b, "dir/obj.txt", vhost=True)
    t.call("get_object", Bucket=b, Key="dir/obj.txt")          # path style sees the same object
    t.raw("DELETE", b, "dir/obj.txt", vhost=True)
    t.call("head_object", Bucket=b, Key="dir/obj.txt", _expect_error=True)


@case("vhost.list")
def _(t):
    b = t.bucket()
    for k in ("a", "b/c", "b/d"):
        put(t, b, k)
    t.raw("GET", b, vhost=True, query=[("list-type", "2"), ("delimiter", "/")])
    t.raw("GET", b, vhost=True, query=[("prefix", "b/")])


@case("vhost.head-bucket-and-missing-key")
def _(t):
    b = t.bucket()
    t.raw("HEAD", b, vhost=True)
    t.raw("GET", b, "nope", vhost=True, _expect_error=True)


@case("vhost.unicode-key")
def _(t):
    b = t.bucket()
    t.raw("PUT", b, "ü n+i%c/o", body=b"vh", vhost=True)
    t.call("list_objects_v2", Bucket=b)
    t.raw("GET", b, "ü n+i%c/o", vhost=True)


@case("vhost.multipart")
def _(t):
    import re
    b = t.bucket()
    r = t.raw("POST", b, "mp", query=[("uploads", "")], vhost=True)
    m = re.search(rb"<UploadId>([^<]+)</UploadId>", r.body)
    uid = m.group(1).decode() if m else "missing"
    p = t.raw("PUT", b, "mp", query=[("partNumber", "1"), ("uploadId", uid)], body=text(100), vhost=True)
    etag = p.header("etag", "")
    body = (f'<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part>'
            f'</CompleteMultipartUpload>').encode()
    t.raw("POST", b, "mp", query=[("uploadId", uid)], body=body, vhost=True)
    t.call("get_object", Bucket=b, Key="mp")


@case("vhost.missing-bucket")
def _(t):
    t.raw("GET", t.name("nope"), "k", vhost=True, _expect_error=True)


@case("vhost.copy-and-tagging")
def _(t):
    b = t.bucket()
    put(t, b, "src", b"copy me")
    t.raw("PUT", b, "dst", headers={"x-amz-copy-source": f"/{b}/src"}, vhost=True)
    body = b"<Tagging><TagSet><Tag><Key>k</Key><Value>v</Value></Tag></TagSet></Tagging>"
    t.raw("PUT", b, "dst", query=[("tagging", "")], body=body,
          headers={"content-md5": s3raw.md5_b64(body)}, vhost=True)
    t.call("get_object_tagging", Bucket=b, Key="dst")
