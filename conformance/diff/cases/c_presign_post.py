"""Presigned URLs and browser-form POST uploads."""
import time

from .common import case, put, text


def _url(t, op, params, expires=300, method=None):
    return t.s3.generate_presigned_url(op, Params=params, ExpiresIn=expires, HttpMethod=method)


@case("presign.get")
def _(t):
    b = t.bucket()
    put(t, b, "k", text(700), ContentType="text/plain")
    t.http("GET", _url(t, "get_object", {"Bucket": b, "Key": "k"}))


@case("presign.get-missing-key")
def _(t):
    b = t.bucket()
    t.http("GET", _url(t, "get_object", {"Bucket": b, "Key": "nope"}), _expect_error=True)


@case("presign.get-range-header")
def _(t):
    b = t.bucket()
    put(t, b, "k", text(700))
    t.http("GET", _url(t, "get_object", {"Bucket": b, "Key": "k"}), headers={"Range": "bytes=10-19"})


@case("presign.get-response-overrides")
def _(t):
    b = t.bucket()
    put(t, b, "k", text(70))
    t.http("GET", _url(t, "get_object", {"Bucket": b, "Key": "k", "ResponseContentType": "image/png",
                                         "ResponseContentDisposition": "attachment; filename=x.png"}))


@case("presign.head")
def _(t):
    b = t.bucket()
    put(t, b, "k", text(70))
    t.http("HEAD", _url(t, "head_object", {"Bucket": b, "Key": "k"}))


@case("presign.put-then-get")
def _(t):
    b = t.bucket()
    t.http("PUT", _url(t, "put_object", {"Bucket": b, "Key": "up"}), body=text(1234), _object=False)
    t.call("get_object", Bucket=b, Key="up")


@case("presign.put-content-type-signed")
def _(t):
    b = t.bucket()
    url = _url(t, "put_object", {"Bucket": b, "Key": "up", "ContentType": "application/json"})
    t.http("PUT", url, body=b"{}", headers={"Content-Type": "application/json"}, _object=False)
    t.http("PUT", url, body=b"{}", headers={"Content-Type": "text/plain"}, _object=False, _expect_error=True)
    t.call("head_object", Bucket=b, Key="up")


@case("presign.put-unicode-key")
def _(t):
    b = t.bucket()
    k = "päth with space/日本+%.txt"
    t.http("PUT", _url(t, "put_object", {"Bucket": b, "Key": k}), body=b"u", _object=False)
    t.http("GET", _url(t, "get_object", {"Bucket": b, "Key": k}))


@case("presign.delete")
def _(t):
    b = t.bucket()
    put(t, b, "k")
    t.http("DELETE", _url(t, "delete_object", {"Bucket": b, "Key": "k"}), _object=False)
    t.call("head_object", Bucket=b, Key="k", _expect_error=True)


@case("presign.list-objects")
def _(t):
    b = t.bucket()
    put(t, b, "k")
    t.http("GET", _url(t, "list_objects_v2", {"Bucket": b}), _object=False)


@case("presign.expired")
def _(t):
    b = t.bucket()
    put(t, b, "k")
    url = _url(t, "get_object", {"Bucket": b, "Key": "k"}, expires=1)
    time.sleep(2.1)
    t.http("GET", url, _expect_error=True)


@case("presign.tampered-signature")
def _(t):
    b = t.bucket()
    put(t, b, "k")
    url = _url(t, "get_object", {"Bucket": b, "Key": "k"})
    i = url.index("X-Amz-Signature=") + len("X-Amz-Signature=")
    bad = url[:i] + ("0" if url[i] != "0" else "1") + url[i + 1:]
    t.http("GET", bad, _expect_error=True)


@case("presign.wrong-key-in-url")
def _(t):
    """URL signed for one key, used for another."""
    b = t.bucket()
    put(t, b, "k")
    put(t, b, "other")
    url = _url(t, "get_object", {"Bucket": b, "Key": "k"})
    t.http("GET", url.replace("/k?", "/other?"), _expect_error=True)


# ---- POST object (browser form upload)

def _post(t, b, key, body, fields=None, conditions=None, filename="f.bin", ctype="application/octet-stream",
          expect_error=False):
    p = t.s3.generate_presigned_post(b, key, Fields=fields, Conditions=conditions, ExpiresIn=300)
    form = dict(p["fields"])
    form["file"] = (filename, body, ctype)
    return t.http("POST", p["url"], fields=form, _object=False, _expect_error=expect_error)


@case("post.basic")
def _(t):
    b = t.bucket()
    _post(t, b, "posted", text(3000))
    t.call("get_object", Bucket=b, Key="posted")


@case("post.success-status-201-and-fields")
def _(t):
    b = t.bucket()
    fields = {"success_action_status": "201", "Content-Type": "text/csv", "x-amz-meta-origin": "form"}
    conds = [{"success_action_status": "201"}, {"Content-Type": "text/csv"}, {"x-amz-meta-origin": "form"}]
    _post(t, b, "f.csv", b"a,b\n1,2\n", fields=fields, conditions=conds)
    t.call("head_object", Bucket=b, Key="f.csv")


@case("post.filename-variable")
def _(t):
    b = t.bucket()
    _post(t, b, "uploads/${filename}", b"named", conditions=[["starts-with", "$key", "uploads/"]],
          filename="report 1.txt")
    t.call("list_objects_v2", Bucket=b)


@case("post.content-length-range-violated")
def _(t):
    b = t.bucket()
    _post(t, b, "big", text(2000), conditions=[["content-length-range", 1, 100]], expect_error=True)
    t.call("head_object", Bucket=b, Key="big", _expect_error=True)


@case("post.policy-condition-violated")
def _(t):
    b = t.bucket()
    p = t.s3.generate_presigned_post(b, "k", Conditions=[{"x-amz-meta-must": "yes"}], ExpiresIn=300)
    form = dict(p["fields"])
    form["x-amz-meta-must"] = "no"
    form["file"] = ("f", b"x", "application/octet-stream")
    t.http("POST", p["url"], fields=form, _object=False, _expect_error=True)


@case("post.tampered-policy")
def _(t):
    b = t.bucket()
    p = t.s3.generate_presigned_post(b, "k", ExpiresIn=300)
    form = dict(p["fields"])
    form["x-amz-signature"] = "0" * 64
    form["file"] = ("f", b"x", "application/octet-stream")
    t.http("POST", p["url"], fields=form, _object=False, _expect_error=True)
