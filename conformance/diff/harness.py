"""Differential harness: run each case against the upstream directly and through
rebucket, record what a client sees at every step, normalize what legitimately
differs (request ids, dates, hosts, bucket names, owner ids, opaque tokens) and
compare."""
from __future__ import annotations

import datetime as _dt
import hashlib
import io
import json
import os
import random
import re
import string
import subprocess
import sys
import tempfile
import traceback
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import botocore.exceptions
import urllib3

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from lib import s3client, s3raw  # noqa: E402

# --------------------------------------------------------------------------- registry

@dataclass
class Case:
    id: str
    fn: Callable
    group: str
    doc: str = ""
    slow: bool = False


CASES: dict[str, Case] = {}


def case(case_id: str, slow: bool = False):
    def deco(fn):
        if case_id in CASES:
            raise ValueError(f"duplicate case id {case_id}")
        group = case_id.split(".", 1)[0]
        CASES[case_id] = Case(case_id, fn, group, (fn.__doc__ or "").strip(), slow)
        return fn
    return deco


def load_cases() -> dict[str, Case]:
    import importlib
    for p in sorted((HERE / "cases").glob("c_*.py")):
        importlib.import_module(f"diff.cases.{p.stem}")
    return CASES

# --------------------------------------------------------------------------- targets

@dataclass
class Target:
    """One side of the comparison: an S3 endpoint and the keys to use on it."""
    label: str             # "direct" or "via"
    port: int
    ak: str
    sk: str
    domain: str | None = None      # virtual-hosted-style domain, if the endpoint supports one
    run_id: str = ""
    _clients: dict = field(default_factory=dict)

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def client(self, **kw):
        k = tuple(sorted(kw.items()))
        if k not in self._clients:
            kw.setdefault("timeout", 20.0)
            self._clients[k] = s3client.client(self.endpoint, self.ak, self.sk, **kw)
        return self._clients[k]

    def raw(self, **kw) -> s3raw.Raw:
        return s3raw.Raw(self.port, self.ak, self.sk, domain=self.domain, **kw)


def new_run_id() -> str:
    return "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(6))

# --------------------------------------------------------------------------- normalization

OPAQUE_KEYS = {
    "VersionId", "UploadId", "NextUploadIdMarker", "UploadIdMarker", "NextVersionIdMarker",
    "VersionIdMarker", "ContinuationToken", "NextContinuationToken", "CopySourceVersionId",
    "ID", "DisplayName", "RequestId", "HostId", "Expiration", "DeleteMarkerVersionId",
    "mtime",    # rclone stores the modification time as user metadata
}
DROP_KEYS = {"RequestId", "HostId", "Owner", "Initiator", "ResponseMetadata", "RequestCharged",
             "BucketArn", "BucketRegion_"}
TIME_KEYS = {"LastModified", "Initiated", "CreationDate", "Date", "LastModifiedTime"}
VALUE_TIME_KEYS = {"Expires", "ExpiresString"}     # set by the client: compared by value

COMPARED_HEADERS = (
    "etag", "content-range", "content-encoding", "content-disposition",
    "content-language", "cache-control", "expires", "x-amz-version-id", "x-amz-delete-marker",
    "x-amz-tagging-count", "x-amz-storage-class", "x-amz-website-redirect-location",
    "x-amz-mp-parts-count", "x-amz-copy-source-version-id", "x-amz-checksum-type",
    "x-amz-missing-meta", "last-modified", "location", "x-amz-object-lock-mode",
    "x-amz-object-lock-retain-until-date", "x-amz-object-lock-legal-hold",
)
OBJECT_HEADERS = ("content-type", "content-length", "accept-ranges")      # compared on object data responses


class Norm:
    """Per-side substitutions: actual bucket names and hosts -> placeholders."""

    def __init__(self, target: Target):
        self.subs: list[tuple[str, str]] = []
        self.target = target
        self.opaque_keys: set[str] = set()    # per case, on top of OPAQUE_KEYS (`Ctx.opaque`)
        self.extra_headers: tuple[str, ...] = ()    # per case (`Ctx.compare_headers`)
        self.add(f"127.0.0.1:{target.port}", "<host>")
        if target.domain:
            self.add(target.domain, "<domain>")

    def add(self, actual: str, placeholder: str):
        self.subs.append((actual, placeholder))
        self.subs.sort(key=lambda s: -len(s[0]))

    def s(self, v: str) -> str:
        for a, p in self.subs:
            if a in v:
                v = v.replace(a, p)
        return v

    # An object URL a server hands out (CompleteMultipartUpload's Location) addresses the
    # object through the server the client talked to: compared as `<scheme>://<host>/<bucket>/<key>`
    # whether it is virtual-hosted (`<bucket>.<domain>:port`, the via side of vhost cases) or
    # path style, and whether the server names itself by address or, like moto, by the AWS
    # host it stands in for (`<bucket>.s3.amazonaws.com`). Any other host (an upstream's
    # address leaking through a gateway) stays as it is, and differs.
    _VHOST_URL = re.compile(r"(https?://)(<bucket:[^>]+>)\.(?:<domain>(?::\d+)?|s3\.amazonaws\.com)(/.*)?")

    def location(self, v: str) -> str:
        v = self.s(v)
        m = self._VHOST_URL.fullmatch(v)
        return f"{m[1]}<host>/{m[2]}{m[3] or ''}" if m else v

    def value(self, v, key: str | None = None):
        if isinstance(v, dict):
            out = {}
            for k, x in v.items():
                if k in DROP_KEYS:
                    continue
                if key == "Metadata":
                    # user metadata names are case-insensitive (S3 lowercases them; some
                    # servers answer Go-canonical X-Amz-Meta-Color, hyper sends lowercase)
                    k = k.lower()
                out[k] = self.value(x, k)
            return out
        if isinstance(v, (list, tuple)):
            items = [self.value(x, key) for x in v]
            if key == "TagSet":     # a set: servers return tags in any order
                items.sort(key=lambda x: json.dumps(x, sort_keys=True, default=str))
            return items
        if isinstance(v, (_dt.datetime, _dt.date)):
            return v.isoformat() if key in VALUE_TIME_KEYS else "<time>"
        if hasattr(v, "read"):      # StreamingBody
            data = v.read()
            return digest(data)
        if isinstance(v, bytes):
            return digest(v)
        if isinstance(v, str) and (key in OPAQUE_KEYS or key in self.opaque_keys
                                   or (key or "").lower() == "mtime"):
            return v if v in ("null", "") else "<opaque>"
        if key in TIME_KEYS and isinstance(v, str):
            return "<time>"
        if key == "Location" and isinstance(v, str):
            return self.location(v)
        if isinstance(v, str):
            return self.s(v)
        return v

    def headers(self, h: dict, object_data: bool, status: int = 200) -> dict:
        h = {k.lower(): v for k, v in h.items()}
        out = {}
        names = COMPARED_HEADERS + self.extra_headers + (OBJECT_HEADERS if object_data else ())
        if status >= 300:       # error documents: their length/type is not what a client reads
            names = tuple(n for n in names if n not in ("content-length", "content-type", "accept-ranges"))
        if not object_data:     # Last-Modified only matters on object GET/HEAD
            names = tuple(n for n in names if n != "last-modified")
        for k, v in h.items():
            if k in names or k.startswith("x-amz-meta-") or k.startswith("x-amz-checksum-"):
                if k.startswith("x-amz-meta-") and not object_data:
                    continue
                if k in ("last-modified", "x-amz-meta-mtime"):
                    v = "<present>"
                elif k in ("x-amz-version-id", "x-amz-copy-source-version-id"):
                    v = v if v == "null" else "<opaque>"
                elif k == "x-amz-object-lock-retain-until-date":
                    v = "<present>"
                elif k == "location":
                    v = self.location(v)
                else:
                    v = self.s(v)
                out[k] = v
        return out

    def xml(self, body: bytes):
        try:
            root = ET.fromstring(body)
        except ET.ParseError:
            return None

        def conv(el):
            tag = el.tag.split("}", 1)[-1]
            kids = list(el)
            if not kids:
                return tag, self.value((el.text or "").strip(), tag)
            items = []
            for k in kids:
                t, v = conv(k)
                if t in DROP_KEYS:
                    continue
                items.append([t, v])
            # sibling order between different element names means nothing to an XML
            # client; order among same-name elements (Contents, Part...) does
            items.sort(key=lambda it: it[0])
            return tag, items
        tag, val = conv(root)
        if tag == "Error":
            code = dict((t, v) for t, v in val if not isinstance(v, list)).get("Code")
            return {"Error": norm_code(code, 0)}
        return {tag: val}


GENERIC_CODES = {"400": "BadRequest", "403": "Forbidden", "404": "NotFound", "405": "MethodNotAllowed",
                 "409": "Conflict", "411": "MissingContentLength", "412": "PreconditionFailed",
                 "416": "InvalidRange", "304": "NotModified", "501": "NotImplemented"}


def norm_status(status):
    """A 5xx is a 5xx to a client (it retries): 500 from the upstream and 502/503 from a
    gateway that could not use the upstream's answer compare equal."""
    return "5xx" if isinstance(status, int) and status >= 500 else status


def norm_code(code, status) -> str | None:
    """Error code as compared. A body-less error (boto3 then reports the status as the
    code) equals the generic code a gateway must put in an error document; the code of
    a 5xx is not something a client acts on (it retries), so 5xx compare by status only."""
    if code is None:
        return None
    code = str(code)
    if status == "5xx" or (isinstance(status, int) and status >= 500) \
            or (code.startswith("5") and code.isdigit()) or code in ("InternalError", "ServiceUnavailable"):
        return "<5xx>"
    return GENERIC_CODES.get(code, code)


def digest(data: bytes) -> dict:
    return {"len": len(data), "sha256": hashlib.sha256(data).hexdigest()[:16]}

# --------------------------------------------------------------------------- context

class CaseAbort(Exception):
    pass


class Ctx:
    """What a case function gets: bucket helpers, recorded operations."""

    def __init__(self, target: Target, case_index: int, case_id: str, upstream: str):
        self.target = target
        self.case_id = case_id
        self.upstream = upstream
        self.case_index = case_index
        self.norm = Norm(target)
        self.obs: list[dict] = []
        self.unexpected: list[str] = []
        self.buckets: dict[str, str] = {}
        self.s3 = target.client()
        self.side = target.label
        self._tmp = None

    # ---- naming
    def name(self, logical: str = "b") -> str:
        """Actual bucket name for a logical one (not created)."""
        if logical not in self.buckets:
            actual = f"cf{self.target.run_id}-{self.case_index:03d}-{logical}"
            self.buckets[logical] = actual
            self.norm.add(actual, f"<bucket:{logical}>")
        return self.buckets[logical]

    def bucket(self, logical: str = "b", versioned: bool = False, record: bool = False) -> str:
        """Create a fresh bucket (setup step: compared only if record=True)."""
        b = self.name(logical)
        self.call("create_bucket", Bucket=b, _record=record)
        if versioned:
            self.call("put_bucket_versioning", Bucket=b,
                      VersioningConfiguration={"Status": "Enabled"}, _record=record)
        return b

    def opaque(self, *keys: str):
        """Compare these response fields by presence only in this case (values the server
        makes up, different on every upload: SSE-C ETags)."""
        self.norm.opaque_keys.update(keys)

    def compare_headers(self, *names: str):
        """Compare these response headers too in this case (lower case names)."""
        self.norm.extra_headers += names

    def tmpfile(self, data: bytes, name: str = "f.bin") -> str:
        if self._tmp is None:
            self._tmp = tempfile.mkdtemp(prefix="conf-diff-")
        p = os.path.join(self._tmp, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    # ---- recording
    def record(self, label: str, value: Any):
        """Record an arbitrary (already normalized) observation."""
        self.obs.append({"op": label, "value": self.norm.value(value)})

    def call(self, op: str, *, _client=None, _expect_error: bool = False, _record: bool = True,
             _fields: list[str] | None = None, _keep_body: bool = False, **params):
        """Call a boto3 operation, record the normalized outcome, return the parsed
        response (body read into `Body_bytes` when present) or None on error."""
        c = _client or self.s3
        o: dict[str, Any] = {"op": op}
        result = None
        try:
            resp = getattr(c, op)(**params)
            md = resp.get("ResponseMetadata", {})
            o["status"] = md.get("HTTPStatusCode")
            # what a boto3 user reads is the modeled output: header-bound members
            # (ETag, ContentType, Metadata, checksums, VersionId...) are in `data`
            if "Body" in resp and hasattr(resp["Body"], "read"):
                data = resp["Body"].read()
                resp["Body"] = data
                resp["Body_bytes"] = data
            data = {k: v for k, v in resp.items() if k not in ("ResponseMetadata", "Body_bytes")}
            if _fields is not None:
                data = {k: data.get(k) for k in _fields}
            o["data"] = self.norm.value(data)
            result = resp
        except botocore.exceptions.ClientError as e:
            md = e.response.get("ResponseMetadata", {})
            o["status"] = norm_status(md.get("HTTPStatusCode"))
            o["error"] = norm_code(e.response.get("Error", {}).get("Code"), o["status"])
            o["_msg"] = e.response.get("Error", {}).get("Message", "")
            if not _expect_error:
                self.unexpected.append(f"{op}: {o['status']} {o['error']}")
        except (botocore.exceptions.ParamValidationError, botocore.exceptions.MissingDependencyException) as e:
            o["exception"] = type(e).__name__
            o["_msg"] = str(e)[:200]
            if not _expect_error:
                self.unexpected.append(f"{op}: {type(e).__name__}")
        except botocore.exceptions.BotoCoreError as e:
            o["exception"] = type(e).__name__
            o["_msg"] = str(e)[:200]
            if not _expect_error:
                self.unexpected.append(f"{op}: {type(e).__name__}")
        if _record:
            self.obs.append(o)
        return result

    def raw(self, method: str, bucket: str | None = None, key: str | None = None, *,
            _record: bool = True, _expect_error: bool = False, _object: bool | None = None,
            vhost: bool = False, **kw) -> s3raw.Response:
        """Raw signed request. vhost=True uses virtual-hosted style where the side has a
        domain (through rebucket) and path style otherwise: both must reach the bucket."""
        r = self.target.raw()
        use_vhost = vhost and bool(self.target.domain)
        resp = r.request(method, bucket, key, vhost=use_vhost, **kw)
        if _record:
            is_obj = _object if _object is not None else (key is not None and method in ("GET", "HEAD"))
            o = self.http_obs(f"raw {method}", resp.status, resp.headers, resp.body, is_obj, resp.error)
            if "x-amz-copy-source" in {k.lower() for k in (kw.get("headers") or {})}:
                o.get("headers", {}).pop("etag", None)   # CopyObject's ETag is in the body
            self.obs.append(o)
        if (resp.error or resp.status >= 300) and not _expect_error:
            self.unexpected.append(f"raw {method}: {resp.status or resp.error}")
        return resp

    def http_obs(self, label, status, headers, body, object_data, error=None) -> dict:
        o: dict[str, Any] = {"op": label, "status": norm_status(status)}
        if error:
            o["transport"] = error
            return o
        o["headers"] = self.norm.headers(headers, object_data, status)
        if status >= 500:           # what a 5xx carries is not read by clients (they retry)
            return o
        ctype = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
        if body and (not object_data or status >= 300) and (b"<" in body[:100] or "xml" in ctype):
            x = self.norm.xml(body)
            o["xml"] = x if x is not None else digest(body)
        elif body or object_data:
            o["body"] = digest(body)
        return o

    def http(self, method: str, url: str, *, body: bytes | None = None, headers: dict | None = None,
             fields=None, _expect_error: bool = False, _object: bool = True, _record: bool = True):
        """Unsigned HTTP request (presigned URLs, POST forms)."""
        pm = urllib3.PoolManager(retries=False, timeout=20.0)
        try:
            if fields is not None:
                resp = pm.request(method, url, fields=fields, headers=headers)
            else:
                resp = pm.request(method, url, body=body, headers=headers)
            st, hd, data, err = resp.status, dict(resp.headers), resp.data, None
        except urllib3.exceptions.HTTPError as e:
            st, hd, data, err = 0, {}, b"", type(e).__name__
        if _record:
            self.obs.append(self.http_obs(f"http {method}", st, hd, data, _object and method in ("GET", "HEAD"), err))
        if (err or st >= 300) and not _expect_error:
            self.unexpected.append(f"http {method}: {st or err}")
        return st, hd, data

    def aws(self, *args: str, _expect_error: bool = False, _stdin: bytes | None = None,
            _record: bool = True, _json: bool = True):
        """Run the aws cli (v1) against this side; record rc, parsed JSON output (or
        normalized text) and the error code from stderr."""
        env = dict(os.environ)
        env.update({"AWS_ACCESS_KEY_ID": self.target.ak, "AWS_SECRET_ACCESS_KEY": self.target.sk,
                    "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null",
                    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_MAX_ATTEMPTS": "1",
                    "AWS_RESPONSE_CHECKSUM_VALIDATION": "when_required", "AWS_PAGER": ""})
        env.pop("AWS_PROFILE", None)
        argv = ["aws", "--endpoint-url", self.target.endpoint, *args]
        p = subprocess.run(argv, env=env, input=_stdin, capture_output=True, timeout=120)
        out = p.stdout.decode(errors="replace")
        err = p.stderr.decode(errors="replace")
        o: dict[str, Any] = {"op": "aws " + " ".join(args[:2]), "rc": p.returncode}
        if out.strip():
            if _json:
                try:
                    o["data"] = self.norm.value(json.loads(out))
                except ValueError:
                    o["text"] = self._norm_text(out)
            else:
                o["text"] = self._norm_text(out)
        m = re.search(r"An error occurred \(([^)]+)\)", err)
        if m:
            o["error"] = m.group(1)
        elif p.returncode != 0:
            o["stderr"] = self._norm_text(err)[-200:]
        o["_msg"] = err[-300:]
        if _record:
            self.obs.append(o)
        if p.returncode != 0 and not _expect_error:
            self.unexpected.append(f"aws {' '.join(args[:2])}: rc={p.returncode} {o.get('error', '')}")
        return p.returncode, out, err

    def _norm_text(self, t: str) -> str:
        t = self.norm.s(t)
        if self._tmp:
            t = t.replace(self._tmp, "<tmp>")
        t = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "<time>", t)
        # progress lines are timing-dependent; parallel transfers finish in any order
        lines = [ln.rsplit("\r", 1)[-1] for ln in t.splitlines()]
        lines = [ln for ln in lines if ln.strip() and not ln.startswith("Completed ")]
        return "\n".join(sorted(lines))

    def cleanup(self):
        if self._tmp:
            import shutil
            shutil.rmtree(self._tmp, ignore_errors=True)

# --------------------------------------------------------------------------- running & comparing

@dataclass
class Outcome:
    obs: list
    unexpected: list
    aborted: str | None
    trace: str | None = None


def run_side(c: Case, target: Target, index: int, upstream: str) -> Outcome:
    ctx = Ctx(target, index, c.id, upstream)
    aborted = trace = None
    try:
        c.fn(ctx)
    except Exception as e:
        aborted = type(e).__name__
        trace = traceback.format_exc()
        ctx.obs.append({"op": "<case aborted>", "exception": aborted})
    finally:
        ctx.cleanup()
    return Outcome(ctx.obs, ctx.unexpected, aborted, trace)


def _strip(o):
    if isinstance(o, dict):
        return {k: _strip(v) for k, v in o.items() if not k.startswith("_")}
    if isinstance(o, list):
        return [_strip(v) for v in o]
    return o


def first_diff(a, b, path="") -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k not in a:
                return f"{path}.{k}: absent direct vs {short(b[k])} via"
            if k not in b:
                return f"{path}.{k}: {short(a[k])} direct vs absent via"
            d = first_diff(a[k], b[k], f"{path}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_diff(x, y, f"{path}[{i}]")
            if d:
                return d
        if len(a) != len(b):
            return f"{path}: {len(a)} items direct vs {len(b)} via"
        return None
    if a != b:
        return f"{path}: {short(a)} direct vs {short(b)} via"
    return None


def all_diffs(a, b, path="") -> list[tuple[str, Any, Any]]:
    """Every differing leaf as (path, direct, via); `_ABSENT` marks a missing key/item."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in list(a) + [k for k in b if k not in a]:
            out += all_diffs(a.get(k, _ABSENT), b.get(k, _ABSENT), f"{path}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        out = []
        for i in range(max(len(a), len(b))):
            out += all_diffs(a[i] if i < len(a) else _ABSENT, b[i] if i < len(b) else _ABSENT,
                             f"{path}[{i}]")
        return out
    return [] if a == b else [(path, a, b)]


_ABSENT = "<absent>"


def short(v, n=80) -> str:
    s = json.dumps(v, default=str, ensure_ascii=False) if not isinstance(v, str) else repr(v)
    return s if len(s) <= n else s[:n] + "…"


@dataclass
class Result:
    case_id: str
    upstream: str
    status: str          # same | differs | n/a
    why: str = ""
    direct: Outcome | None = None
    via: Outcome | None = None
    diffs: list = field(default_factory=list)  # every differing leaf: (path, direct, via)

    def cell(self) -> str:
        return self.status if not self.why else f"{self.status} ({self.why})"


def compare(c: Case, upstream: str, d: Outcome, v: Outcome) -> Result:
    a, b = _strip(d.obs), _strip(v.obs)
    if a == b:
        if d.unexpected or d.aborted:
            why = "; ".join(d.unexpected[:2]) or f"case aborted: {d.aborted}"
            return Result(c.id, upstream, "n/a", why, d, v)
        return Result(c.id, upstream, "same", "", d, v)
    # locate the first differing step
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            why = f"step {i} {x.get('op')}: " + (first_diff(x, y) or "?").lstrip(".")
            msg_d, msg_v = d.obs[i].get("_msg"), v.obs[i].get("_msg")
            if (msg_d or msg_v) and x.get("error") != y.get("error"):
                why += f" [direct msg: {short(msg_d, 60)}; via msg: {short(msg_v, 60)}]"
            break
    else:
        why = f"{len(a)} steps direct vs {len(b)} via"
    return Result(c.id, upstream, "differs", why, d, v, all_diffs(a, b))


def run_case(c: Case, direct: Target, via: Target, index: int, upstream: str,
             cleaner: Target | None = None) -> Result:
    d = run_side(c, direct, index, upstream)
    v = run_side(c, via, index, upstream)
    if cleaner is not None:
        cleanup_buckets(cleaner, [direct.run_id, via.run_id], index)
    return compare(c, upstream, d, v)


def cleanup_buckets(t: Target, run_ids, index: int):
    """Remove the buckets a case made (both sides), straight on the upstream."""
    c = t.client()
    prefixes = tuple(f"cf{r}-{index:03d}-" for r in run_ids)
    try:
        names = [b["Name"] for b in c.list_buckets().get("Buckets", []) if b["Name"].startswith(prefixes)]
    except Exception:
        return
    for b in names:
        try:
            try:
                for page in c.get_paginator("list_multipart_uploads").paginate(Bucket=b):
                    for u in page.get("Uploads", []):
                        c.abort_multipart_upload(Bucket=b, Key=u["Key"], UploadId=u["UploadId"])
            except Exception:
                pass
            try:
                pages = c.get_paginator("list_object_versions").paginate(Bucket=b)
                for page in pages:
                    objs = [{"Key": v["Key"], "VersionId": v["VersionId"]}
                            for v in page.get("Versions", []) + page.get("DeleteMarkers", [])]
                    for o in objs:
                        delete_locked(c, b, o)
            except Exception:
                pass
            for page in c.get_paginator("list_objects_v2").paginate(Bucket=b):
                for o in page.get("Contents", []):
                    c.delete_object(Bucket=b, Key=o["Key"])
            c.delete_bucket(Bucket=b)
        except Exception:
            pass


def delete_locked(c, b: str, version: dict):
    """Delete an object version that Object Lock may hold (GOVERNANCE retention, legal hold)."""
    try:
        c.delete_object(Bucket=b, BypassGovernanceRetention=True, **version)
    except Exception:
        c.put_object_legal_hold(Bucket=b, LegalHold={"Status": "OFF"}, **version)
        c.delete_object(Bucket=b, BypassGovernanceRetention=True, **version)


def dump_result(r: Result, path: Path):
    with open(path, "a") as f:
        f.write(json.dumps({"case": r.case_id, "upstream": r.upstream, "status": r.status,
                            "why": r.why,
                            "direct": r.direct.obs if r.direct else None,
                            "via": r.via.obs if r.via else None,
                            "direct_trace": r.direct.trace if r.direct else None,
                            "via_trace": r.via.trace if r.via else None},
                           default=str) + "\n")

# --------------------------------------------------------------------------- known differences

# Value rules: a KNOWN-DIFFERENCES line whose case-id is `~name` covers, in every case, the
# differing values the rule names; a case whose every difference is covered counts as known.
# Unlike a case-id line, a rule never hides any other difference in the same case.
VALUE_RULES = {
    # the upstream sends an ETag without the quotes S3 puts around it; via rebucket it is quoted
    "unquoted-etag": lambda path, d, v: (
        isinstance(d, str) and isinstance(v, str) and v == f'"{d}"'
        and re.fullmatch(r"[0-9a-f]{32}(-\d+)?", d) is not None),
    # the upstream gives an object's location as a path (`/bucket/key`); via rebucket it is the
    # object's URL on the same path, as S3 writes it
    "location-path": lambda path, d, v: (
        isinstance(d, str) and isinstance(v, str) and d.startswith("/")
        and v in (f"http://<host>{d}", f"https://<host>{d}")),
    # the upstream repeats a header with one value, which boto3 joins (`v, v`); via rebucket the
    # header comes once, as S3 sends it
    "repeated-header": lambda path, d, v: (
        isinstance(d, str) and isinstance(v, str) and d != v and "," in d
        and all(part.strip() == v for part in d.split(","))),
}


def load_known(path: Path) -> dict[tuple[str, str], str]:
    """`case-id | upstream | reason` lines (upstream may be `*`; case-id may end in `*`, or be
    `~rule` for a rule of VALUE_RULES)."""
    known = {}
    if not path.exists():
        return known
    for line in path.read_text().splitlines():
        line = line.strip().lstrip("-* ").strip()
        if line.count("|") < 2 or line.startswith("#"):
            continue
        parts = [p.strip().strip("`") for p in line.strip("|").split("|")]
        if len(parts) < 3 or parts[0] in ("case-id", "") or set(parts[0]) <= set("-: "):
            continue
        if parts[0].startswith("~") and parts[0][1:] not in VALUE_RULES:
            raise ValueError(f"{path}: unknown value rule {parts[0]}")
        known[(parts[0], parts[1])] = parts[2]
    return known


def is_known(known, case_id: str, upstream: str, diffs: list | None = None) -> str | None:
    """The reason a difference is known: a line for this case, or value rules covering every
    differing leaf in `diffs`."""
    rules = []
    for (cid, up), reason in known.items():
        if up not in ("*", upstream):
            continue
        if cid.startswith("~"):
            rules.append((VALUE_RULES[cid[1:]], reason))
        elif cid == case_id or (cid.endswith("*") and case_id.startswith(cid[:-1])):
            return reason
    if rules and diffs:
        reasons = []
        for d in diffs:
            hit = next((reason for rule, reason in rules if rule(*d)), None)
            if hit is None:
                return None
            if hit not in reasons:
                reasons.append(hit)
        return "; ".join(reasons)
    return None
