"""Range requests and conditional requests."""
import datetime as dt

from .common import case, put, text, etag_of, last_modified

BODY = text(100)


def _obj(t):
    b = t.bucket()
    put(t, b, "r", BODY, ContentType="text/plain")
    return b


for _id, _rng, _err in [
    ("first-10", "bytes=0-9", False), ("middle", "bytes=10-19", False),
    ("suffix-10", "bytes=-10", False), ("open-end", "bytes=90-", False),
    ("end-beyond-size", "bytes=95-1000", False), ("whole-open", "bytes=0-", False),
    ("last-byte", "bytes=-1", False), ("suffix-larger-than-object", "bytes=-1000", False),
    ("single-byte", "bytes=50-50", False),
    ("start-beyond-end", "bytes=100-200", True), ("reversed", "bytes=20-10", True),
    ("multi-range", "bytes=0-1,5-6", True), ("malformed-unit", "items=0-5", True),
    ("malformed-garbage", "bytes=abc", True), ("suffix-zero", "bytes=-0", True),
]:
    def _mk(rng, err):
        def fn(t):
            b = _obj(t)
            t.call("get_object", Bucket=b, Key="r", Range=rng, _expect_error=err)
        return fn
    case(f"range.get-{_id}")(_mk(_rng, _err))


@case("range.head-first-10")
def _(t):
    b = _obj(t)
    t.call("head_object", Bucket=b, Key="r", Range="bytes=0-9")


@case("range.empty-object")
def _(t):
    b = t.bucket()
    put(t, b, "e", b"")
    t.call("get_object", Bucket=b, Key="e", Range="bytes=0-0", _expect_error=True)
    t.call("get_object", Bucket=b, Key="e", Range="bytes=0-", _expect_error=True)


@case("range.raw-first-10")
def _(t):
    b = _obj(t)
    t.raw("GET", b, "r", headers={"range": "bytes=0-9"})


@case("range.raw-invalid")
def _(t):
    b = _obj(t)
    t.raw("GET", b, "r", headers={"range": "bytes=500-600"}, _expect_error=True)


@case("range.with-if-match")
def _(t):
    b = _obj(t)
    t.call("get_object", Bucket=b, Key="r", Range="bytes=0-4", IfMatch=etag_of(t, b, "r"))


# ---- conditionals
PAST = dt.datetime(2001, 1, 1, tzinfo=dt.timezone.utc)
FUTURE = dt.datetime(2099, 1, 1, tzinfo=dt.timezone.utc)


@case("cond.if-match-ok")
def _(t):
    b = _obj(t)
    t.call("get_object", Bucket=b, Key="r", IfMatch=etag_of(t, b, "r"))


@case("cond.if-match-unquoted-etag")
def _(t):
    b = _obj(t)
    t.call("get_object", Bucket=b, Key="r", IfMatch=etag_of(t, b, "r").strip('"'), _expect_error=True)


@case("cond.if-match-star")
def _(t):
    b = _obj(t)
    t.call("get_object", Bucket=b, Key="r", IfMatch="*")


@case("cond.if-match-fail")
def _(t):
    b = _obj(t)
    t.call("get_object", Bucket=b, Key="r", IfMatch='"00000000000000000000000000000000"', _expect_error=True)


@case("cond.if-none-match-hit")
def _(t):
    b = _obj(t)
    t.call("get_object", Bucket=b, Key="r", IfNoneMatch=etag_of(t, b, "r"), _expect_error=True)


@case("cond.if-none-match-miss")
def _(t):
    b = _obj(t)
    t.call("get_object", Bucket=b, Key="r", IfNoneMatch='"00000000000000000000000000000000"')


@case("cond.if-modified-since-past")
def _(t):
    b = _obj(t)
    t.call("get_object", Bucket=b, Key="r", IfModifiedSince=PAST)


@case("cond.if-modified-since-future")
def _(t):
    b = _obj(t)
    t.call("get_object", Bucket=b, Key="r", IfModifiedSince=FUTURE, _expect_error=True)


@case("cond.if-modified-since-exact")
def _(t):
    b = _obj(t)
    t.call("get_object", Bucket=b, Key="r", IfModifiedSince=last_modified(t, b, "r"), _expect_error=True)


@case("cond.if-unmodified-since-past")
def _(t):
    b = _obj(t)
    t.call("get_object", Bucket=b, Key="r", IfUnmodifiedSince=PAST, _expect_error=True)


@case("cond.if-unmodified-since-future")
def _(t):
    b = _obj(t)
    t.call("get_object", Bucket=b, Key="r", IfUnmodifiedSince=FUTURE)


@case("cond.if-match-true-unmodified-false")
def _(t):
    """RFC 7232 / S3: If-Match true + If-Unmodified-Since false -> 200."""
    b = _obj(t)
    t.call("get_object", Bucket=b, Key="r", IfMatch=etag_of(t, b, "r"), IfUnmodifiedSince=PAST)


@case("cond.if-none-match-false-modified-true")
def _(t):
    """If-None-Match false + If-Modified-Since true -> 304."""
    b = _obj(t)
    t.call("get_object", Bucket=b, Key="r", IfNoneMatch=etag_of(t, b, "r"), IfModifiedSince=PAST,
           _expect_error=True)


@case("cond.head-if-none-match-hit")
def _(t):
    b = _obj(t)
    t.call("head_object", Bucket=b, Key="r", IfNoneMatch=etag_of(t, b, "r"), _expect_error=True)


@case("cond.head-if-match-fail")
def _(t):
    b = _obj(t)
    t.call("head_object", Bucket=b, Key="r", IfMatch='"0123"', _expect_error=True)


@case("cond.head-if-modified-since-future")
def _(t):
    b = _obj(t)
    t.call("head_object", Bucket=b, Key="r", IfModifiedSince=FUTURE, _expect_error=True)


@case("cond.raw-304-headers")
def _(t):
    """What a 304 carries (ETag, Last-Modified) as seen on the wire."""
    b = _obj(t)
    t.raw("GET", b, "r", headers={"if-none-match": etag_of(t, b, "r")}, _expect_error=True)


@case("cond.put-if-none-match-star-new")
def _(t):
    b = t.bucket()
    t.call("put_object", Bucket=b, Key="new", Body=b"x", IfNoneMatch="*")


@case("cond.put-if-none-match-star-existing")
def _(t):
    b = _obj(t)
    t.call("put_object", Bucket=b, Key="r", Body=b"x", IfNoneMatch="*", _expect_error=True)
    t.call("get_object", Bucket=b, Key="r")


@case("cond.put-if-match")
def _(t):
    b = _obj(t)
    t.call("put_object", Bucket=b, Key="r", Body=b"y", IfMatch='"ffffffffffffffffffffffffffffffff"',
           _expect_error=True)
    t.call("put_object", Bucket=b, Key="r", Body=b"z", IfMatch=etag_of(t, b, "r"))
    t.call("get_object", Bucket=b, Key="r")


@case("cond.delete-if-match")
def _(t):
    b = _obj(t)
    t.call("delete_object", Bucket=b, Key="r", IfMatch='"ffffffffffffffffffffffffffffffff"', _expect_error=True)
    t.call("head_object", Bucket=b, Key="r", _expect_error=True)


@case("cond.copy-source-if-match")
def _(t):
    b = _obj(t)
    et = etag_of(t, b, "r")
    t.call("copy_object", Bucket=b, Key="c1", CopySource={"Bucket": b, "Key": "r"}, CopySourceIfMatch=et)
    t.call("copy_object", Bucket=b, Key="c2", CopySource={"Bucket": b, "Key": "r"},
           CopySourceIfMatch='"0000"', _expect_error=True)


@case("cond.copy-source-if-none-match")
def _(t):
    b = _obj(t)
    t.call("copy_object", Bucket=b, Key="c", CopySource={"Bucket": b, "Key": "r"},
           CopySourceIfNoneMatch=etag_of(t, b, "r"), _expect_error=True)


@case("cond.copy-source-if-modified-since")
def _(t):
    b = _obj(t)
    t.call("copy_object", Bucket=b, Key="c", CopySource={"Bucket": b, "Key": "r"},
           CopySourceIfModifiedSince=FUTURE, _expect_error=True)
    t.call("copy_object", Bucket=b, Key="d", CopySource={"Bucket": b, "Key": "r"},
           CopySourceIfUnmodifiedSince=FUTURE)
