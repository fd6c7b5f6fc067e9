"""Checksums: x-amz-checksum-* headers, trailers (aws-chunked), Content-MD5, payload hashes."""
from lib import s3raw
from .common import case, put, data, text, crc32, md5_b64, sha256_b64, sha1_b64, MiB

BODY = text(4000)

for _algo in ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"):
    def _mk(algo):
        def fn(t):
            b = t.bucket()
            t.call("put_object", Bucket=b, Key="ck", Body=BODY, ChecksumAlgorithm=algo)
            t.call("get_object", Bucket=b, Key="ck", ChecksumMode="ENABLED")
            t.call("head_object", Bucket=b, Key="ck", ChecksumMode="ENABLED")
        return fn
    case(f"ck.put-get-{_algo.lower()}")(_mk(_algo))

    def _mk_trailer(algo):
        def fn(t):
            """boto3's default over https: checksum in an aws-chunked trailer,
            Transfer-Encoding: chunked, STREAMING-UNSIGNED-PAYLOAD-TRAILER."""
            b = t.bucket()
            c = t.target.client(trailers=True)
            t.call("put_object", _client=c, Bucket=b, Key="ck", Body=data(300 * 1024, 3),
                   ChecksumAlgorithm=algo)
            t.call("get_object", Bucket=b, Key="ck", ChecksumMode="ENABLED")
        return fn
    case(f"ck.trailer-boto3-{_algo.lower()}")(_mk_trailer(_algo))


@case("ck.default-boto3")
def _(t):
    """boto3 sends a CRC32 by default (request_checksum_calculation=when_supported)."""
    b = t.bucket()
    t.call("put_object", Bucket=b, Key="ck", Body=BODY)
    t.call("get_object", Bucket=b, Key="ck", ChecksumMode="ENABLED")


@case("ck.when-required-none-sent")
def _(t):
    b = t.bucket()
    c = t.target.client(checksum_when="when_required")
    t.call("put_object", _client=c, Bucket=b, Key="ck", Body=BODY)
    t.call("head_object", Bucket=b, Key="ck", ChecksumMode="ENABLED")


@case("ck.crc32-explicit-correct")
def _(t):
    b = t.bucket()
    t.call("put_object", Bucket=b, Key="ck", Body=BODY, ChecksumCRC32=crc32(BODY))
    t.call("head_object", Bucket=b, Key="ck", ChecksumMode="ENABLED")


@case("ck.crc32-explicit-wrong")
def _(t):
    b = t.bucket()
    t.call("put_object", Bucket=b, Key="ck", Body=BODY, ChecksumCRC32=crc32(b"other"), _expect_error=True)
    t.call("head_object", Bucket=b, Key="ck", _expect_error=True)


@case("ck.sha256-explicit-wrong")
def _(t):
    b = t.bucket()
    t.call("put_object", Bucket=b, Key="ck", Body=BODY, ChecksumSHA256=sha256_b64(b"other"), _expect_error=True)
    t.call("head_object", Bucket=b, Key="ck", _expect_error=True)


@case("ck.sha1-explicit-correct")
def _(t):
    b = t.bucket()
    t.call("put_object", Bucket=b, Key="ck", Body=BODY, ChecksumSHA1=sha1_b64(BODY))
    t.call("get_object", Bucket=b, Key="ck", ChecksumMode="ENABLED")


@case("ck.crc32-malformed-value")
def _(t):
    b = t.bucket()
    t.raw("PUT", b, "ck", body=BODY, headers={"x-amz-checksum-crc32": "not-base64!"}, _expect_error=True)


@case("ck.content-md5-correct")
def _(t):
    b = t.bucket()
    t.call("put_object", Bucket=b, Key="ck", Body=BODY, ContentMD5=md5_b64(BODY))
    t.call("get_object", Bucket=b, Key="ck")


@case("ck.content-md5-wrong")
def _(t):
    b = t.bucket()
    t.raw("PUT", b, "ck", body=BODY, headers={"content-md5": md5_b64(b"other")}, _expect_error=True)
    t.call("head_object", Bucket=b, Key="ck", _expect_error=True)


@case("ck.content-md5-malformed")
def _(t):
    b = t.bucket()
    t.raw("PUT", b, "ck", body=BODY, headers={"content-md5": "zzz"}, _expect_error=True)
    t.call("head_object", Bucket=b, Key="ck", _expect_error=True)


@case("ck.payload-sha256-mismatch")
def _(t):
    """x-amz-content-sha256 that does not match the body."""
    b = t.bucket()
    t.raw("PUT", b, "ck", body=BODY, payload="a" * 64, _expect_error=True)
    t.call("head_object", Bucket=b, Key="ck", _expect_error=True)


@case("ck.unsigned-payload")
def _(t):
    b = t.bucket()
    t.raw("PUT", b, "ck", body=BODY, payload="unsigned")
    t.call("get_object", Bucket=b, Key="ck")


for _name, _mode, _trailer in [
    ("aws-chunked-signed", "chunked-signed", False),
    ("aws-chunked-signed-trailer", "chunked-signed", True),
    ("aws-chunked-unsigned-trailer", "chunked-unsigned", True),
]:
    def _mk_raw(mode, with_trailer):
        def fn(t):
            b = t.bucket()
            body = data(200 * 1024, 5)
            tr = {"x-amz-checksum-crc32": crc32(body)} if with_trailer else None
            t.raw("PUT", b, "ck", body=body, payload=mode, trailer=tr, chunk_size=64 * 1024)
            t.call("get_object", Bucket=b, Key="ck", ChecksumMode="ENABLED")
        return fn
    case(f"ck.raw-{_name}")(_mk_raw(_mode, _trailer))


@case("ck.raw-aws-chunked-bad-trailer-checksum")
def _(t):
    b = t.bucket()
    body = data(100 * 1024, 6)
    t.raw("PUT", b, "ck", body=body, payload="chunked-unsigned",
          trailer={"x-amz-checksum-crc32": crc32(b"not the body")}, _expect_error=True)
    t.call("head_object", Bucket=b, Key="ck", _expect_error=True)


@case("ck.raw-aws-chunked-bad-chunk-signature")
def _(t):
    b = t.bucket()
    body = data(100 * 1024, 8)
    r = t.target.raw()
    # sign with a different secret for the chunks: the seed signature is fine
    orig = s3raw.Signer.chunk_sig
    s3raw.Signer.chunk_sig = lambda self, prev, d: "f" * 64
    try:
        t.raw("PUT", b, "ck", body=body, payload="chunked-signed", _expect_error=True)
    finally:
        s3raw.Signer.chunk_sig = orig
    t.call("head_object", Bucket=b, Key="ck", _expect_error=True)


@case("ck.raw-aws-chunked-decoded-length-wrong")
def _(t):
    """x-amz-decoded-content-length that disagrees with the chunks."""
    b = t.bucket()
    body = data(50 * 1024, 9)
    t.raw("PUT", b, "ck", body=body, payload="chunked-unsigned",
          trailer={"x-amz-checksum-crc32": crc32(body)}, decoded_length=len(body) + 10,
          _expect_error=True, timeout=8)
    t.call("head_object", Bucket=b, Key="ck", _expect_error=True)


@case("ck.get-range-with-checksum-mode")
def _(t):
    b = t.bucket()
    put(t, b, "ck", BODY, ChecksumAlgorithm="CRC32")
    t.call("get_object", Bucket=b, Key="ck", Range="bytes=0-99", ChecksumMode="ENABLED")


@case("ck.list-objects-checksum-algorithm")
def _(t):
    b = t.bucket()
    put(t, b, "a", BODY, ChecksumAlgorithm="SHA256")
    put(t, b, "b", BODY, ChecksumAlgorithm="CRC32C")
    t.call("list_objects_v2", Bucket=b)


@case("ck.multipart-crc32")
def _(t):
    b = t.bucket()
    p1, p2 = data(5 * MiB, 11), data(MiB, 12)
    r = t.call("create_multipart_upload", Bucket=b, Key="m", ChecksumAlgorithm="CRC32")
    uid = r["UploadId"]
    parts = []
    for i, p in enumerate((p1, p2), 1):
        pr = t.call("upload_part", Bucket=b, Key="m", UploadId=uid, PartNumber=i, Body=p,
                    ChecksumAlgorithm="CRC32")
        part = {"PartNumber": i, "ETag": pr["ETag"]}
        if pr.get("ChecksumCRC32"):
            part["ChecksumCRC32"] = pr["ChecksumCRC32"]
        parts.append(part)
    t.call("list_parts", Bucket=b, Key="m", UploadId=uid)
    t.call("complete_multipart_upload", Bucket=b, Key="m", UploadId=uid, MultipartUpload={"Parts": parts})
    t.call("head_object", Bucket=b, Key="m", ChecksumMode="ENABLED")


@case("ck.multipart-part-wrong-checksum")
def _(t):
    b = t.bucket()
    r = t.call("create_multipart_upload", Bucket=b, Key="m", ChecksumAlgorithm="CRC32")
    t.call("upload_part", Bucket=b, Key="m", UploadId=r["UploadId"], PartNumber=1, Body=data(MiB, 13),
           ChecksumCRC32=crc32(b"nope"), _expect_error=True)
