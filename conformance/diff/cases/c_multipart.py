"""Multipart uploads."""
from .common import case, put, data, text, mpu, MiB

P1 = None


def parts():
    global P1
    if P1 is None:
        P1 = (data(5 * MiB, 21), data(MiB + 17, 22))
    return P1


@case("mpu.basic-two-parts")
def _(t):
    b = t.bucket()
    mpu(t, b, "big", list(parts()))
    t.call("head_object", Bucket=b, Key="big")
    t.call("get_object", Bucket=b, Key="big")


@case("mpu.get-part-number")
def _(t):
    b = t.bucket()
    mpu(t, b, "big", list(parts()), record=False)
    t.call("head_object", Bucket=b, Key="big", PartNumber=1)
    t.call("get_object", Bucket=b, Key="big", PartNumber=2)
    t.call("get_object", Bucket=b, Key="big", PartNumber=3, _expect_error=True)


@case("mpu.range-across-parts")
def _(t):
    b = t.bucket()
    mpu(t, b, "big", list(parts()), record=False)
    t.call("get_object", Bucket=b, Key="big", Range=f"bytes={5 * MiB - 10}-{5 * MiB + 9}")


@case("mpu.single-part")
def _(t):
    b = t.bucket()
    mpu(t, b, "one", [text(1000)])
    t.call("get_object", Bucket=b, Key="one")


@case("mpu.metadata-and-content-type")
def _(t):
    b = t.bucket()
    mpu(t, b, "meta", [text(100)], ContentType="application/x-custom", Metadata={"origin": "mpu"},
        CacheControl="no-store", ContentDisposition="inline")
    t.call("head_object", Bucket=b, Key="meta")


@case("mpu.tagging-at-create")
def _(t):
    b = t.bucket()
    mpu(t, b, "tagged", [text(100)], record=False, Tagging="a=1&b=two")
    t.call("get_object_tagging", Bucket=b, Key="tagged")


@case("mpu.list-parts")
def _(t):
    b = t.bucket()
    r = t.call("create_multipart_upload", Bucket=b, Key="lp")
    uid = r["UploadId"]
    for i in range(1, 4):
        t.call("upload_part", Bucket=b, Key="lp", UploadId=uid, PartNumber=i, Body=text(100 * i), _record=False)
    t.call("list_parts", Bucket=b, Key="lp", UploadId=uid)
    p = t.call("list_parts", Bucket=b, Key="lp", UploadId=uid, MaxParts=2)
    if p and p.get("IsTruncated"):
        t.call("list_parts", Bucket=b, Key="lp", UploadId=uid, PartNumberMarker=p["NextPartNumberMarker"])


@case("mpu.list-parts-no-such-upload")
def _(t):
    b = t.bucket()
    t.call("list_parts", Bucket=b, Key="x", UploadId="bm9zdWNodXBsb2Fk", _expect_error=True)


@case("mpu.list-uploads")
def _(t):
    b = t.bucket()
    for k in ("a/1", "a/2", "b/1", "c"):
        t.call("create_multipart_upload", Bucket=b, Key=k, _record=False)
    t.call("list_multipart_uploads", Bucket=b)
    t.call("list_multipart_uploads", Bucket=b, Prefix="a/")
    t.call("list_multipart_uploads", Bucket=b, Delimiter="/")


@case("mpu.list-uploads-pagination")
def _(t):
    b = t.bucket()
    for k in ("k1", "k2", "k3", "k4", "k5"):
        t.call("create_multipart_upload", Bucket=b, Key=k, _record=False)
    r = t.call("list_multipart_uploads", Bucket=b, MaxUploads=2)
    seen = 0
    while r and r.get("IsTruncated") and seen < 5:
        seen += 1
        r = t.call("list_multipart_uploads", Bucket=b, MaxUploads=2, KeyMarker=r["NextKeyMarker"],
                   UploadIdMarker=r["NextUploadIdMarker"])


@case("mpu.list-uploads-empty")
def _(t):
    b = t.bucket()
    t.call("list_multipart_uploads", Bucket=b)


@case("mpu.abort")
def _(t):
    b = t.bucket()
    r = t.call("create_multipart_upload", Bucket=b, Key="ab")
    uid = r["UploadId"]
    t.call("upload_part", Bucket=b, Key="ab", UploadId=uid, PartNumber=1, Body=text(10))
    t.call("abort_multipart_upload", Bucket=b, Key="ab", UploadId=uid)
    t.call("list_parts", Bucket=b, Key="ab", UploadId=uid, _expect_error=True)
    t.call("head_object", Bucket=b, Key="ab", _expect_error=True)


@case("mpu.abort-no-such-upload")
def _(t):
    b = t.bucket()
    t.call("abort_multipart_upload", Bucket=b, Key="x", UploadId="bm9zdWNodXBsb2Fk", _expect_error=True)


@case("mpu.upload-part-no-such-upload")
def _(t):
    b = t.bucket()
    t.call("upload_part", Bucket=b, Key="x", UploadId="bm9zdWNodXBsb2Fk", PartNumber=1, Body=b"x",
           _expect_error=True)


@case("mpu.complete-wrong-etag")
def _(t):
    b = t.bucket()
    r = t.call("create_multipart_upload", Bucket=b, Key="w")
    uid = r["UploadId"]
    t.call("upload_part", Bucket=b, Key="w", UploadId=uid, PartNumber=1, Body=text(10))
    t.call("complete_multipart_upload", Bucket=b, Key="w", UploadId=uid, _expect_error=True,
           MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]})


@case("mpu.complete-missing-part")
def _(t):
    b = t.bucket()
    r = t.call("create_multipart_upload", Bucket=b, Key="w")
    uid = r["UploadId"]
    p = t.call("upload_part", Bucket=b, Key="w", UploadId=uid, PartNumber=1, Body=text(10))
    t.call("complete_multipart_upload", Bucket=b, Key="w", UploadId=uid, _expect_error=True,
           MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p["ETag"]},
                                      {"PartNumber": 2, "ETag": p["ETag"]}]})


@case("mpu.complete-out-of-order")
def _(t):
    b = t.bucket()
    r = t.call("create_multipart_upload", Bucket=b, Key="o")
    uid = r["UploadId"]
    p1 = t.call("upload_part", Bucket=b, Key="o", UploadId=uid, PartNumber=1, Body=parts()[0])
    p2 = t.call("upload_part", Bucket=b, Key="o", UploadId=uid, PartNumber=2, Body=text(10))
    t.call("complete_multipart_upload", Bucket=b, Key="o", UploadId=uid, _expect_error=True,
           MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": p2["ETag"]},
                                      {"PartNumber": 1, "ETag": p1["ETag"]}]})


@case("mpu.complete-part-too-small")
def _(t):
    b = t.bucket()
    mpu(t, b, "small", [text(100), text(100)])
    t.call("head_object", Bucket=b, Key="small", _expect_error=True)


@case("mpu.complete-empty-list")
def _(t):
    b = t.bucket()
    r = t.call("create_multipart_upload", Bucket=b, Key="e")
    t.call("complete_multipart_upload", Bucket=b, Key="e", UploadId=r["UploadId"],
           MultipartUpload={"Parts": []}, _expect_error=True)


@case("mpu.complete-twice")
def _(t):
    b = t.bucket()
    r = t.call("create_multipart_upload", Bucket=b, Key="t")
    uid = r["UploadId"]
    p = t.call("upload_part", Bucket=b, Key="t", UploadId=uid, PartNumber=1, Body=text(10))
    mp = {"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]}
    t.call("complete_multipart_upload", Bucket=b, Key="t", UploadId=uid, MultipartUpload=mp)
    t.call("complete_multipart_upload", Bucket=b, Key="t", UploadId=uid, MultipartUpload=mp, _expect_error=True)


@case("mpu.overwrite-part")
def _(t):
    b = t.bucket()
    r = t.call("create_multipart_upload", Bucket=b, Key="ow")
    uid = r["UploadId"]
    t.call("upload_part", Bucket=b, Key="ow", UploadId=uid, PartNumber=1, Body=b"first")
    p = t.call("upload_part", Bucket=b, Key="ow", UploadId=uid, PartNumber=1, Body=b"second!")
    t.call("list_parts", Bucket=b, Key="ow", UploadId=uid)
    t.call("complete_multipart_upload", Bucket=b, Key="ow", UploadId=uid,
           MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]})
    t.call("get_object", Bucket=b, Key="ow")


@case("mpu.part-number-invalid")
def _(t):
    b = t.bucket()
    r = t.call("create_multipart_upload", Bucket=b, Key="pn")
    uid = r["UploadId"]
    t.raw("PUT", b, "pn", query=[("partNumber", "0"), ("uploadId", uid)], body=b"x", _expect_error=True)
    t.raw("PUT", b, "pn", query=[("partNumber", "10001"), ("uploadId", uid)], body=b"x", _expect_error=True)


@case("mpu.upload-part-copy")
def _(t):
    b = t.bucket()
    src = data(6 * MiB, 31)
    put(t, b, "src", src)
    r = t.call("create_multipart_upload", Bucket=b, Key="dst")
    uid = r["UploadId"]
    c1 = t.call("upload_part_copy", Bucket=b, Key="dst", UploadId=uid, PartNumber=1,
                CopySource={"Bucket": b, "Key": "src"}, CopySourceRange=f"bytes=0-{5 * MiB - 1}")
    c2 = t.call("upload_part_copy", Bucket=b, Key="dst", UploadId=uid, PartNumber=2,
                CopySource={"Bucket": b, "Key": "src"}, CopySourceRange=f"bytes={5 * MiB}-{6 * MiB - 1}")
    t.call("complete_multipart_upload", Bucket=b, Key="dst", UploadId=uid, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": c1["CopyPartResult"]["ETag"]},
        {"PartNumber": 2, "ETag": c2["CopyPartResult"]["ETag"]}]})
    t.call("get_object", Bucket=b, Key="dst")


@case("mpu.upload-part-copy-whole-cross-bucket")
def _(t):
    b1, b2 = t.bucket("src"), t.bucket("dst")
    put(t, b1, "s p a c e/ü", text(2000))
    r = t.call("create_multipart_upload", Bucket=b2, Key="d")
    uid = r["UploadId"]
    c = t.call("upload_part_copy", Bucket=b2, Key="d", UploadId=uid, PartNumber=1,
               CopySource={"Bucket": b1, "Key": "s p a c e/ü"})
    t.call("complete_multipart_upload", Bucket=b2, Key="d", UploadId=uid, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": c["CopyPartResult"]["ETag"]}]})
    t.call("get_object", Bucket=b2, Key="d")


@case("mpu.upload-part-copy-bad-range")
def _(t):
    b = t.bucket()
    put(t, b, "src", text(100))
    r = t.call("create_multipart_upload", Bucket=b, Key="d")
    t.call("upload_part_copy", Bucket=b, Key="d", UploadId=r["UploadId"], PartNumber=1,
           CopySource={"Bucket": b, "Key": "src"}, CopySourceRange="bytes=50-500", _expect_error=True)


@case("mpu.upload-part-copy-missing-source")
def _(t):
    b = t.bucket()
    r = t.call("create_multipart_upload", Bucket=b, Key="d")
    t.call("upload_part_copy", Bucket=b, Key="d", UploadId=r["UploadId"], PartNumber=1,
           CopySource={"Bucket": b, "Key": "nope"}, _expect_error=True)


@case("mpu.raw-initiate-xml")
def _(t):
    """The InitiateMultipartUploadResult XML as sent on the wire."""
    b = t.bucket()
    t.raw("POST", b, "x", query=[("uploads", "")])


@case("mpu.create-missing-bucket")
def _(t):
    t.call("create_multipart_upload", Bucket=t.name("nope"), Key="x", _expect_error=True)
