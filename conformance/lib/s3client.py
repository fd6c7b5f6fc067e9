"""boto3 client factory with the settings every suite uses."""
from __future__ import annotations

import boto3
from botocore.config import Config

REGION = "us-east-1"


def _force_trailer(params, model, **kw):
    """Make botocore send its checksum as an aws-chunked trailer, as it does by
    default over https (it uses a plain header over http)."""
    algo = params.get("context", {}).get("checksum", {}).get("request_algorithm")
    if isinstance(algo, dict) and model.has_streaming_input:
        algo["in"] = "trailer"


def client(endpoint: str, ak: str, sk: str, *, retries: int = 1, checksum_when: str = "when_supported",
           addressing: str = "path", timeout: float = 60.0, trailers: bool = False, **extra):
    cfg = Config(
        region_name=REGION,
        signature_version="s3v4",
        s3={"addressing_style": addressing},
        retries={"max_attempts": retries, "mode": "standard"},
        connect_timeout=10,
        read_timeout=timeout,
        request_checksum_calculation=checksum_when,
        # rclone answers ranged GETs with the whole-object CRC32; only validate when asked
        response_checksum_validation="when_required",
        **extra,
    )
    c = boto3.session.Session().client(
        "s3", endpoint_url=endpoint, aws_access_key_id=ak, aws_secret_access_key=sk,
        region_name=REGION, config=cfg)
    if trailers:
        c.meta.events.register("before-call.s3.*", _force_trailer)
    return c
