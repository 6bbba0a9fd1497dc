"""SigV4 checking for operators who require configured keys (botocore computes the
expected signature, so the check is exactly what the SDKs sign)."""

from __future__ import annotations

import hmac
import re
from typing import Mapping

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ..errors import AccessDeniedException

_AUTH_RE = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,\s*"
    r"SignedHeaders=(?P<headers>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})"
)


def access_key_of(headers: Mapping[str, str]) -> str | None:
    """The access key id a request was signed with, or None if it is unsigned."""
    match = _AUTH_RE.match(headers.get("authorization", ""))
    return match["key"] if match else None


class SigV4Verifier:
    """Accepts only requests signed by one of `keys` (access key id -> secret)."""

    def __init__(self, keys: Mapping[str, str]) -> None:
        self._keys = dict(keys)

    def verify(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> str:
        """Return the access key id, or raise AccessDeniedException."""
        match = _AUTH_RE.match(headers.get("authorization", ""))
        if match is None:
            raise AccessDeniedException("The request is not signed with AWS Signature Version 4")
        secret = self._keys.get(match["key"])
        if secret is None:
            raise AccessDeniedException(f"The access key {match['key']} is not allowed by this service")
        amz_date = headers.get("x-amz-date", "")
        signed = match["headers"].split(";")
        request = AWSRequest(method=method, url=url, data=body, headers={h: headers.get(h, "") for h in signed if h != "host"})
        if "host" in signed:
            request.headers["host"] = headers.get("host", "")
        request.context["timestamp"] = amz_date
        signer = SigV4Auth(Credentials(match["key"], secret), match["service"], match["region"])
        signer._modify_request_before_signing = lambda r: None  # type: ignore[method-assign]
        canonical = signer.canonical_request(request)
        expected = signer.signature(signer.string_to_sign(request, canonical), request)
        if not hmac.compare_digest(expected, match["signature"]):
            raise AccessDeniedException("The request signature does not match")
        return match["key"]
