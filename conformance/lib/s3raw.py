"""Raw S3 HTTP requests with our own SigV4 signer (header auth, aws-chunked
signed/unsigned payloads with trailers) over http.client, so a test controls
every header, the Host header (virtual-hosted style) and partial bodies."""
from __future__ import annotations

import base64
import datetime as _dt
import hashlib
import hmac
import http.client
import socket
import zlib
from dataclasses import dataclass, field
from urllib.parse import quote

REGION = "us-east-1"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def uri_encode(s: str, slash: bool = True) -> str:
    return quote(s, safe="/~" if slash else "~")


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


@dataclass
class Response:
    status: int
    headers: dict
    body: bytes
    reason: str = ""
    error: str | None = None      # "timeout", "connection-reset", ... when no HTTP answer

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)


@dataclass
class Signer:
    ak: str
    sk: str
    region: str = REGION
    service: str = "s3"
    now: _dt.datetime = field(default_factory=lambda: _dt.datetime.now(_dt.timezone.utc))

    @property
    def amzdate(self):
        return self.now.strftime("%Y%m%dT%H%M%SZ")

    @property
    def scope(self):
        return f"{self.now.strftime('%Y%m%d')}/{self.region}/{self.service}/aws4_request"

    def key(self) -> bytes:
        k = _hmac(("AWS4" + self.sk).encode(), self.now.strftime("%Y%m%d"))
        k = _hmac(k, self.region)
        k = _hmac(k, self.service)
        return _hmac(k, "aws4_request")

    def sign(self, sts: str) -> str:
        return hmac.new(self.key(), sts.encode(), hashlib.sha256).hexdigest()

    def authorize(self, method: str, path: str, query: list[tuple[str, str]], headers: dict,
                  payload_hash: str) -> str:
        """Adds x-amz-date / x-amz-content-sha256 / Authorization; returns the seed signature."""
        headers["x-amz-date"] = self.amzdate
        headers["x-amz-content-sha256"] = payload_hash
        signed = sorted(k.lower() for k in headers if k.lower() not in ("user-agent", "expect"))
        lower = {k.lower(): " ".join(str(v).strip().split()) for k, v in headers.items()}
        canon_q = "&".join(f"{uri_encode(k, False)}={uri_encode(v, False)}"
                           for k, v in sorted(query))
        creq = "\n".join([method, path, canon_q,
                          "".join(f"{k}:{lower[k]}\n" for k in signed),
                          ";".join(signed), payload_hash])
        sts = "\n".join(["AWS4-HMAC-SHA256", self.amzdate, self.scope,
                         hashlib.sha256(creq.encode()).hexdigest()])
        sig = self.sign(sts)
        headers["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={self.ak}/{self.scope}, "
                                    f"SignedHeaders={';'.join(signed)}, Signature={sig}")
        return sig

    def chunk_sig(self, prev: str, data: bytes) -> str:
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", self.amzdate, self.scope, prev,
                         EMPTY_SHA256, hashlib.sha256(data).hexdigest()])
        return self.sign(sts)

    def trailer_sig(self, prev: str, trailer: bytes) -> str:
        sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", self.amzdate, self.scope, prev,
                         hashlib.sha256(trailer).hexdigest()])
        return self.sign(sts)


class Raw:
    """Raw client bound to one endpoint (127.0.0.1:port) and one key pair."""

    def __init__(self, port: int, ak: str, sk: str, host: str = "127.0.0.1", timeout: float = 30.0,
                 domain: str | None = None):
        self.port, self.ak, self.sk, self.host, self.timeout = port, ak, sk, host, timeout
        self.domain = domain

    def request(self, method: str, bucket: str | None = None, key: str | None = None, *,
                query: list[tuple[str, str]] | dict | None = None, headers: dict | None = None,
                body: bytes = b"", vhost: bool = False, payload: str = "signed",
                chunk_size: int = 64 * 1024, trailer: dict | None = None,
                raw_path: str | None = None, sign: bool = True, send_body: bool = True,
                declared_length: int | None = None, timeout: float | None = None,
                decoded_length: int | None = None) -> Response:
        """payload: "signed" (sha256 of body), "unsigned" (UNSIGNED-PAYLOAD),
        "chunked-signed" (STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]),
        "chunked-unsigned" (STREAMING-UNSIGNED-PAYLOAD-TRAILER), or a literal hash.
        trailer: e.g. {"x-amz-checksum-crc32": "..."} for the trailer modes.
        declared_length: send this Content-Length but only `body` (then wait for an answer)."""
        headers = dict(headers or {})
        if isinstance(query, dict):
            query = list(query.items())
        query = list(query or [])
        if vhost:
            if not (self.domain and bucket):
                raise ValueError("virtual-hosted style needs a domain and a bucket")
            host_hdr = f"{bucket}.{self.domain}:{self.port}"
            path = "/" + uri_encode(key or "")
        else:
            host_hdr = f"{self.host}:{self.port}"
            path = "/"
            if bucket:
                path += bucket
                if key is not None:
                    path += "/" + uri_encode(key)
        if raw_path is not None:
            path = raw_path
        headers.setdefault("host", host_hdr)
        wire = body
        seed_needed = False
        if payload == "signed":
            phash = hashlib.sha256(body).hexdigest()
        elif payload == "unsigned":
            phash = "UNSIGNED-PAYLOAD"
        elif payload in ("chunked-signed", "chunked-unsigned"):
            phash = {("chunked-signed", False): "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                     ("chunked-signed", True): "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
                     ("chunked-unsigned", True): "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                     ("chunked-unsigned", False): "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
                     }[(payload, bool(trailer))]
            headers["content-encoding"] = (headers["content-encoding"] + ",aws-chunked"
                                           if "content-encoding" in headers else "aws-chunked")
            headers["x-amz-decoded-content-length"] = str(len(body) if decoded_length is None
                                                          else decoded_length)
            if trailer:
                headers["x-amz-trailer"] = ",".join(trailer)
            seed_needed = payload == "chunked-signed"
        else:
            phash = payload
        signer = Signer(self.ak, self.sk)
        if payload.startswith("chunked"):
            # length of the encoded body must be known before signing
            wire = self._encode_chunks(body, chunk_size, trailer, signer if seed_needed else None,
                                       seed=None, dry=True)
            headers["content-length"] = str(len(wire))
        elif declared_length is not None:
            headers["content-length"] = str(declared_length)
        elif "transfer-encoding" in {k.lower() for k in headers}:
            pass
        elif method in ("PUT", "POST") or body:
            headers["content-length"] = str(len(body))
        # servers canonicalize the path they received by decoding and re-encoding it
        # (AWS style: upper-case hex, '/' kept); sign that, send `path` as given
        from urllib.parse import unquote
        canon_path = uri_encode(unquote(path)) if raw_path is not None else path
        seed = signer.authorize(method, canon_path, query, headers, phash) if sign else ""
        if payload.startswith("chunked"):
            wire = self._encode_chunks(body, chunk_size, trailer, signer if seed_needed else None,
                                       seed=seed)
        qs = "&".join(f"{uri_encode(k, False)}={uri_encode(v, False)}" if v != "" or "=" in k
                      else uri_encode(k, False) for k, v in query)
        # subresources like ?uploads are sent bare (k with empty value)
        target = path + ("?" + qs if qs else "")
        return self._send(method, target, headers, wire if send_body else b"",
                          timeout or self.timeout, expect_partial=declared_length is not None,
                          head=method == "HEAD")

    @staticmethod
    def _encode_chunks(body, size, trailer, signer, seed, dry=False) -> bytes:
        out = bytearray()
        prev = seed or ("0" * 64)
        pieces = [body[i:i + size] for i in range(0, len(body), size)] + [b""]
        for piece in pieces:
            if signer:
                sig = "0" * 64 if dry else signer.chunk_sig(prev, piece)
                prev = sig
                out += f"{len(piece):x};chunk-signature={sig}\r\n".encode()
            else:
                out += f"{len(piece):x}\r\n".encode()
            if piece:
                out += piece + b"\r\n"
        if trailer:
            tr = "".join(f"{k}:{v}\n" for k, v in trailer.items()).encode()
            out += tr.replace(b"\n", b"\r\n")
            if signer:
                tsig = "0" * 64 if dry else signer.trailer_sig(prev, tr)
                out += f"x-amz-trailer-signature:{tsig}\r\n".encode()
            out += b"\r\n"
        else:
            out += b"\r\n"
        return bytes(out)

    def _send(self, method, target, headers, body, timeout, expect_partial=False, head=False):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
            for k, v in headers.items():
                conn.putheader(k, v)
            conn.endheaders()
            if body:
                conn.send(body)
            resp = conn.getresponse()
            data = b"" if head else resp.read()
            hdrs: dict[str, str] = {}
            for k, v in resp.getheaders():
                k = k.lower()
                hdrs[k] = f"{hdrs[k]},{v}" if k in hdrs else v
            return Response(resp.status, hdrs, data, resp.reason)
        except socket.timeout:
            return Response(0, {}, b"", error="timeout")
        except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected) as e:
            return Response(0, {}, b"", error=f"connection-closed:{type(e).__name__}")
        except http.client.HTTPException as e:
            return Response(0, {}, b"", error=f"http-error:{type(e).__name__}")
        finally:
            conn.close()
