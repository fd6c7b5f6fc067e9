"""ListObjects v1 / v2 and ListObjectVersions: prefixes, delimiters, pagination, encoding."""
from .common import case, put

KEYS = ["a.txt", "b/1.txt", "b/2.txt", "b/c/3.txt", "b/c/4.txt", "d/5.txt", "e", "e/", "f-g/h",
        "z"]
ODD = ["sp ace/x", "plus+sign", "per%25cent", "uni/ü/é", "amp&er", "tab\there", "<lt>", "q?x=y",
       "semi;colon", "quote'\"", "emoji/😀", "new\nline"]


def _fill(t, keys=KEYS, **kw):
    b = t.bucket(**kw)
    for k in keys:
        put(t, b, k, k.encode())
    return b


@case("list.v2-basic")
def _(t):
    t.call("list_objects_v2", Bucket=_fill(t))


@case("list.v2-empty-bucket")
def _(t):
    t.call("list_objects_v2", Bucket=t.bucket())


@case("list.v2-prefix")
def _(t):
    t.call("list_objects_v2", Bucket=_fill(t), Prefix="b/")


@case("list.v2-prefix-no-match")
def _(t):
    t.call("list_objects_v2", Bucket=_fill(t), Prefix="nothing/")


@case("list.v2-delimiter")
def _(t):
    t.call("list_objects_v2", Bucket=_fill(t), Delimiter="/")


@case("list.v2-prefix-delimiter")
def _(t):
    t.call("list_objects_v2", Bucket=_fill(t), Prefix="b/", Delimiter="/")


@case("list.v2-delimiter-non-slash")
def _(t):
    t.call("list_objects_v2", Bucket=_fill(t), Delimiter="-")


@case("list.v2-delimiter-multichar")
def _(t):
    t.call("list_objects_v2", Bucket=_fill(t), Delimiter="/c/")


@case("list.v2-pagination")
def _(t):
    b = _fill(t)
    r = t.call("list_objects_v2", Bucket=b, MaxKeys=3)
    n = 0
    while r and r.get("IsTruncated") and n < 10:
        n += 1
        r = t.call("list_objects_v2", Bucket=b, MaxKeys=3, ContinuationToken=r["NextContinuationToken"])


@case("list.v2-pagination-delimiter")
def _(t):
    b = _fill(t)
    r = t.call("list_objects_v2", Bucket=b, MaxKeys=2, Delimiter="/")
    n = 0
    while r and r.get("IsTruncated") and n < 10:
        n += 1
        r = t.call("list_objects_v2", Bucket=b, MaxKeys=2, Delimiter="/",
                   ContinuationToken=r["NextContinuationToken"])


@case("list.v2-start-after")
def _(t):
    t.call("list_objects_v2", Bucket=_fill(t), StartAfter="b/c/3.txt")


@case("list.v2-max-keys-0")
def _(t):
    t.call("list_objects_v2", Bucket=_fill(t), MaxKeys=0)


@case("list.v2-fetch-owner")
def _(t):
    t.call("list_objects_v2", Bucket=_fill(t, ["x"]), FetchOwner=True)


@case("list.v2-invalid-continuation-token")
def _(t):
    t.call("list_objects_v2", Bucket=_fill(t, ["x"]), ContinuationToken="not-a-real-token",
           _expect_error=True)


@case("list.v2-max-keys-negative")
def _(t):
    b = _fill(t, ["x"])
    t.raw("GET", b, query=[("list-type", "2"), ("max-keys", "-1")], _expect_error=True)


@case("list.v2-odd-keys")
def _(t):
    t.call("list_objects_v2", Bucket=_fill(t, ODD))


@case("list.v2-encoding-url")
def _(t):
    """boto3 decodes url-encoded keys itself; the raw request shows the wire form."""
    b = _fill(t, ODD)
    t.call("list_objects_v2", Bucket=b, EncodingType="url")
    t.raw("GET", b, query=[("list-type", "2"), ("encoding-type", "url")])


@case("list.v2-encoding-url-delimiter")
def _(t):
    b = _fill(t, ODD)
    t.raw("GET", b, query=[("list-type", "2"), ("encoding-type", "url"), ("delimiter", "/"),
                           ("prefix", "uni/")])


@case("list.v2-encoding-invalid")
def _(t):
    b = _fill(t, ["x"])
    t.raw("GET", b, query=[("list-type", "2"), ("encoding-type", "base64")], _expect_error=True)


@case("list.v2-raw-xml")
def _(t):
    b = _fill(t)
    t.raw("GET", b, query=[("list-type", "2"), ("delimiter", "/"), ("max-keys", "3")])


@case("list.v2-unicode-order")
def _(t):
    """Keys come back in UTF-8 byte order."""
    t.call("list_objects_v2", Bucket=_fill(t, ["Z", "a", "é", "ß", "中", "😀", "~", "_"]))


@case("list.v2-1010-keys", slow=True)
def _(t):
    b = t.bucket()
    from concurrent.futures import ThreadPoolExecutor
    c = t.target.client()
    with ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda i: c.put_object(Bucket=b, Key=f"k/{i:05d}", Body=b""), range(1010)))
    r = t.call("list_objects_v2", Bucket=b, _fields=["KeyCount", "IsTruncated", "MaxKeys"])
    if r and r.get("IsTruncated"):
        t.call("list_objects_v2", Bucket=b, ContinuationToken=r["NextContinuationToken"])
    r = t.call("list_objects", Bucket=b, _fields=["IsTruncated", "MaxKeys", "NextMarker"])
    t.record("v1 page 1 count", len((r or {}).get("Contents", [])))


@case("list.v1-basic")
def _(t):
    t.call("list_objects", Bucket=_fill(t))


@case("list.v1-prefix-delimiter")
def _(t):
    t.call("list_objects", Bucket=_fill(t), Prefix="b/", Delimiter="/")


@case("list.v1-marker")
def _(t):
    t.call("list_objects", Bucket=_fill(t), Marker="b/2.txt")


@case("list.v1-pagination")
def _(t):
    b = _fill(t)
    r = t.call("list_objects", Bucket=b, MaxKeys=3)
    n = 0
    while r and r.get("IsTruncated") and n < 10:
        n += 1
        marker = r.get("NextMarker") or r["Contents"][-1]["Key"]
        r = t.call("list_objects", Bucket=b, MaxKeys=3, Marker=marker)


@case("list.v1-pagination-delimiter")
def _(t):
    b = _fill(t)
    r = t.call("list_objects", Bucket=b, MaxKeys=2, Delimiter="/")
    n = 0
    while r and r.get("IsTruncated") and n < 10:
        n += 1
        r = t.call("list_objects", Bucket=b, MaxKeys=2, Delimiter="/", Marker=r.get("NextMarker", ""))


@case("list.v1-encoding-url")
def _(t):
    b = _fill(t, ODD)
    t.call("list_objects", Bucket=b, EncodingType="url")
    t.raw("GET", b, query=[("encoding-type", "url"), ("delimiter", "/")])


@case("list.v1-raw-xml")
def _(t):
    b = _fill(t)
    t.raw("GET", b, query=[("prefix", "b/"), ("delimiter", "/"), ("marker", "b/1.txt")])


@case("list.versions-unversioned-bucket")
def _(t):
    t.call("list_object_versions", Bucket=_fill(t, ["a", "b/c"]))


@case("list.versions-basic")
def _(t):
    b = t.bucket(versioned=True)
    for k, n in (("a", 3), ("b/x", 2), ("c", 1)):
        for i in range(n):
            put(t, b, k, f"{k}{i}".encode())
    t.call("delete_object", Bucket=b, Key="c", _record=False)
    t.call("list_object_versions", Bucket=b)


@case("list.versions-prefix-delimiter")
def _(t):
    b = t.bucket(versioned=True)
    for k in ("a/1", "a/2", "b/1", "c"):
        put(t, b, k)
        put(t, b, k)
    t.call("list_object_versions", Bucket=b, Delimiter="/")
    t.call("list_object_versions", Bucket=b, Prefix="a/")


@case("list.versions-pagination")
def _(t):
    b = t.bucket(versioned=True)
    for k in ("a", "b", "c"):
        for i in range(3):
            put(t, b, k, f"{i}".encode())
    r = t.call("list_object_versions", Bucket=b, MaxKeys=2)
    n = 0
    while r and r.get("IsTruncated") and n < 10:
        n += 1
        r = t.call("list_object_versions", Bucket=b, MaxKeys=2, KeyMarker=r["NextKeyMarker"],
                   VersionIdMarker=r["NextVersionIdMarker"])


@case("list.versions-encoding-url")
def _(t):
    b = _fill(t, ODD[:6], versioned=True)
    t.call("list_object_versions", Bucket=b, EncodingType="url")
    t.raw("GET", b, query=[("versions", ""), ("encoding-type", "url")])
