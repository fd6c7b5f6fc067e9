"""Object key encodings: unicode, spaces, %, +, //, long keys..."""
from .common import case, text

KEYS = {
    "unicode": "ünïcödé/日本語/ключ.txt",
    "emoji": "emoji/😀🚀.bin",
    "spaces": "with  spaces/and trailing ",
    "percent": "100%/per%25cent%2F",
    "plus": "a+b/c+d=e",
    "double-slash": "a//b///c",
    "leading-slash": "/leading",
    "dot-segments": "a/./b/../c",
    "only-dots": "..",
    "special-ascii": "!*'();:@&=$,?#[]{}|^`<>\"\\~",
    "tilde-underscore": "~user/_x-y.z",
    "control-chars": "tab\there\x01",
    "query-like": "file?versionId=1&x=y",
    "xml-chars": "<a>&amp;'\"</a>",
    "len-1024": "k/" + "a" * 1022,
    "len-1024-multibyte": "ü" * 512,
}


def _roundtrip(key):
    def fn(t):
        b = t.bucket()
        t.call("put_object", Bucket=b, Key=key, Body=key.encode("utf-8", "surrogatepass"))
        t.call("head_object", Bucket=b, Key=key)
        t.call("get_object", Bucket=b, Key=key)
        t.call("list_objects_v2", Bucket=b, Prefix=key[:5])
        dst = key[:-5] + ".copy"      # same length: stays within 1024 bytes for the long keys
        t.call("copy_object", Bucket=b, Key=dst, CopySource={"Bucket": b, "Key": key})
        t.call("delete_objects", Bucket=b, Delete={"Objects": [{"Key": dst}]})
        t.call("delete_object", Bucket=b, Key=key)
        t.call("list_objects_v2", Bucket=b)
    return fn


for _name, _key in KEYS.items():
    case(f"key.{_name}")(_roundtrip(_key))


@case("key.len-1025-too-long")
def _(t):
    b = t.bucket()
    t.call("put_object", Bucket=b, Key="k/" + "a" * 1023, Body=b"x", _expect_error=True)


@case("key.raw-encoded-slash")
def _(t):
    """%2F in the path is part of the key name, not a separator."""
    b = t.bucket()
    t.raw("PUT", b, raw_path=f"/{b}/x%2Fy", body=b"enc")
    t.call("list_objects_v2", Bucket=b)
    t.call("get_object", Bucket=b, Key="x/y")


@case("key.raw-lowercase-percent-encoding")
def _(t):
    b = t.bucket()
    t.raw("PUT", b, raw_path=f"/{b}/%c3%bc", body=b"u")
    t.call("get_object", Bucket=b, Key="ü")


@case("key.raw-plus-in-path")
def _(t):
    """A literal + in the path is a plus, not a space."""
    b = t.bucket()
    t.raw("PUT", b, raw_path=f"/{b}/a+b", body=b"p")
    t.call("list_objects_v2", Bucket=b)
