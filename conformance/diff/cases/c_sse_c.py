"""Server-side encryption with customer keys (SSE-C): the key headers pass through on PUT,
GET, HEAD, multipart and copy, and the upstream's refusals (missing or wrong key) reach the
client unchanged. boto3 adds the key's MD5 itself. The ETag of an SSE-C object is no MD5 of
its content: servers may make up a new one per upload (garage does), so it is compared by
presence."""
from .common import case, text

KEY = b"0123456789abcdef0123456789abcdef"    # 256-bit
OTHER = b"fedcba9876543210fedcba9876543210"


def sse(key=KEY):
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}


@case("ssec.put-get-head")
def _(t):
    t.opaque("ETag")
    b = t.bucket()
    t.call("put_object", Bucket=b, Key="k", Body=text(100), **sse())
    t.call("head_object", Bucket=b, Key="k", **sse())
    t.call("get_object", Bucket=b, Key="k", **sse())
    t.call("get_object", Bucket=b, Key="k", Range="bytes=10-19", **sse())


@case("ssec.get-without-key")
def _(t):
    t.opaque("ETag")
    b = t.bucket()
    t.call("put_object", Bucket=b, Key="k", Body=b"secret", _record=False, **sse())
    t.call("get_object", Bucket=b, Key="k", _expect_error=True)
    t.call("head_object", Bucket=b, Key="k", _expect_error=True)


@case("ssec.get-wrong-key")
def _(t):
    t.opaque("ETag")
    b = t.bucket()
    t.call("put_object", Bucket=b, Key="k", Body=b"secret", _record=False, **sse())
    t.call("get_object", Bucket=b, Key="k", _expect_error=True, **sse(OTHER))
    t.call("head_object", Bucket=b, Key="k", _expect_error=True, **sse(OTHER))


@case("ssec.invalid-key-md5")
def _(t):
    t.opaque("ETag")
    b = t.bucket()
    t.call("put_object", Bucket=b, Key="k", Body=b"x", SSECustomerKeyMD5="AAAAAAAAAAAAAAAAAAAAAA==",
           _expect_error=True, **sse())


@case("ssec.multipart")
def _(t):
    t.opaque("ETag")
    b = t.bucket()
    r = t.call("create_multipart_upload", Bucket=b, Key="m", **sse())
    if not r:
        return
    uid = r["UploadId"]
    parts = [text(5 * 1024 * 1024), b"tail"]
    done = []
    for i, p in enumerate(parts, 1):
        pr = t.call("upload_part", Bucket=b, Key="m", UploadId=uid, PartNumber=i, Body=p, **sse())
        if pr:
            done.append({"PartNumber": i, "ETag": pr["ETag"]})
    t.call("complete_multipart_upload", Bucket=b, Key="m", UploadId=uid,
           MultipartUpload={"Parts": done})
    t.call("head_object", Bucket=b, Key="m", **sse())
    t.call("get_object", Bucket=b, Key="m", Range="bytes=5242870-5242885", **sse())


@case("ssec.copy-to-new-key")
def _(t):
    t.opaque("ETag")
    b = t.bucket()
    t.call("put_object", Bucket=b, Key="src", Body=text(50), _record=False, **sse())
    t.call("copy_object", Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "src"},
           CopySourceSSECustomerAlgorithm="AES256", CopySourceSSECustomerKey=KEY, **sse(OTHER))
    t.call("get_object", Bucket=b, Key="dst", **sse(OTHER))
    t.call("get_object", Bucket=b, Key="dst", _expect_error=True, **sse())
