"""Helpers shared by the case modules."""
from __future__ import annotations

import base64
import hashlib
import random
import zlib

from diff.harness import case  # noqa: F401  (re-export)

MiB = 1024 * 1024


def data(n: int, seed: int = 1) -> bytes:
    return random.Random(seed).randbytes(n)


def text(n: int = 100) -> bytes:
    return (b"0123456789abcdefghijklmnopqrstuvwxyz" * (n // 36 + 1))[:n]


def b64(d: bytes) -> str:
    return base64.b64encode(d).decode()


def crc32(d: bytes) -> str:
    return b64(zlib.crc32(d).to_bytes(4, "big"))


def md5_b64(d: bytes) -> str:
    return b64(hashlib.md5(d).digest())


def sha256_b64(d: bytes) -> str:
    return b64(hashlib.sha256(d).digest())


def sha1_b64(d: bytes) -> str:
    return b64(hashlib.sha1(d).digest())


def put(t, b, k, body=b"x", **kw):
    """Setup PUT (not recorded)."""
    return t.call("put_object", Bucket=b, Key=k, Body=body, _record=False, **kw)


def etag_of(t, b, k):
    r = t.call("head_object", Bucket=b, Key=k, _record=False)
    return r["ETag"] if r else None


def last_modified(t, b, k):
    r = t.call("head_object", Bucket=b, Key=k, _record=False)
    return r["LastModified"] if r else None


def mpu(t, b, k, parts: list[bytes], record=True, **create_kw):
    """Create + upload parts + complete; returns the complete response."""
    r = t.call("create_multipart_upload", Bucket=b, Key=k, _record=record, **create_kw)
    uid = r["UploadId"]
    done = []
    for i, p in enumerate(parts, 1):
        pr = t.call("upload_part", Bucket=b, Key=k, UploadId=uid, PartNumber=i, Body=p, _record=record)
        done.append({"PartNumber": i, "ETag": pr["ETag"]})
    return t.call("complete_multipart_upload", Bucket=b, Key=k, UploadId=uid,
                  MultipartUpload={"Parts": done}, _record=record)
