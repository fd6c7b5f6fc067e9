"""Cross-origin requests as browsers send them: preflights (`OPTIONS`, unsigned, with `Origin`
and `Access-Control-Request-*`) and requests naming an `Origin`, against a bucket's CORS
configuration. The `Access-Control-*` answer headers are compared in these cases only."""
from .common import case, put

CORS_HEADERS = (
    "access-control-allow-origin", "access-control-allow-methods",
    "access-control-allow-headers", "access-control-expose-headers",
    "access-control-max-age", "access-control-allow-credentials",
)
APP = "https://app.example"
RULES = {"CORSRules": [
    {"AllowedOrigins": [APP], "AllowedMethods": ["GET", "PUT"],
     "AllowedHeaders": ["content-type", "x-amz-*"], "ExposeHeaders": ["ETag"],
     "MaxAgeSeconds": 600},
    {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]},
]}


def cors_bucket(t):
    t.compare_headers(*CORS_HEADERS)
    b = t.bucket()
    t.call("put_bucket_cors", Bucket=b, CORSConfiguration=RULES)
    put(t, b, "k", b"cross-origin")
    return b


def preflight(t, b, origin, method, headers=None, **kw):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    return t.raw("OPTIONS", b, "k", headers=h, sign=False, _object=False, **kw)


@case("cors.preflight-allowed")
def _(t):
    b = cors_bucket(t)
    preflight(t, b, APP, "PUT", "Content-Type, X-Amz-Date")


@case("cors.preflight-any-origin-rule")
def _(t):
    b = cors_bucket(t)
    preflight(t, b, "https://elsewhere.example", "GET")


@case("cors.preflight-method-not-allowed")
def _(t):
    b = cors_bucket(t)
    preflight(t, b, APP, "DELETE", _expect_error=True)


@case("cors.preflight-header-not-allowed")
def _(t):
    b = cors_bucket(t)
    preflight(t, b, APP, "PUT", "authorization, x-custom", _expect_error=True)


@case("cors.preflight-no-configuration")
def _(t):
    t.compare_headers(*CORS_HEADERS)
    b = t.bucket()
    preflight(t, b, APP, "GET", _expect_error=True)


@case("cors.preflight-without-origin")
def _(t):
    b = cors_bucket(t)
    t.raw("OPTIONS", b, "k", headers={"Access-Control-Request-Method": "GET"}, sign=False,
          _object=False, _expect_error=True)


@case("cors.get-with-origin")
def _(t):
    b = cors_bucket(t)
    t.raw("GET", b, "k", headers={"Origin": APP})
    t.raw("GET", b, "k", headers={"Origin": "https://elsewhere.example"})


@case("cors.put-with-origin")
def _(t):
    b = cors_bucket(t)
    t.raw("PUT", b, "p", headers={"Origin": APP}, body=b"from a browser")
    t.raw("HEAD", b, "p", headers={"Origin": "https://elsewhere.example"})


@case("cors.rules-changed-apply-at-once")
def _(t):
    b = cors_bucket(t)
    preflight(t, b, "https://new.example", "PUT", _expect_error=True)
    t.call("put_bucket_cors", Bucket=b, CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": ["https://new.example"], "AllowedMethods": ["PUT"]}]})
    preflight(t, b, "https://new.example", "PUT")
    t.call("delete_bucket_cors", Bucket=b)
    preflight(t, b, "https://new.example", "PUT", _expect_error=True)


@case("cors.preflight-origin-only")
def _(t):
    b = cors_bucket(t)
    t.raw("OPTIONS", b, "k", headers={"Origin": APP}, sign=False, _object=False,
          _expect_error=True)


@case("cors.preflight-bucket-url")
def _(t):
    b = cors_bucket(t)
    t.raw("OPTIONS", b, headers={"Origin": APP, "Access-Control-Request-Method": "GET"},
          sign=False, _object=False)


@case("cors.preflight-missing-bucket")
def _(t):
    t.compare_headers(*CORS_HEADERS)
    t.raw("OPTIONS", t.name("missing"), "k",
          headers={"Origin": APP, "Access-Control-Request-Method": "GET"}, sign=False,
          _object=False, _expect_error=True)


@case("cors.preflight-presigned-url")
def _(t):
    b = cors_bucket(t)
    url = t.s3.generate_presigned_url("get_object", Params={"Bucket": b, "Key": "k"},
                                      ExpiresIn=300)
    t.http("OPTIONS", url, headers={"Origin": APP, "Access-Control-Request-Method": "GET"},
           _object=False)
    t.http("GET", url, headers={"Origin": APP})


@case("cors.actual-request-names-its-method")
def _(t):
    b = cors_bucket(t)
    # matched by the method in Access-Control-Request-Method, not the request's own
    t.raw("GET", b, "k", headers={"Origin": "https://elsewhere.example",
                                  "Access-Control-Request-Method": "PUT"})
    t.raw("GET", b, "k", headers={"Origin": APP, "Access-Control-Request-Method": "PUT"})


@case("cors.error-answer-carries-headers")
def _(t):
    b = cors_bucket(t)
    t.raw("GET", b, "missing-key", headers={"Origin": APP}, _expect_error=True)
