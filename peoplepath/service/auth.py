"""SigV4 checking for operators who require configured keys (botocore computes the
expected signature, so the check is exactly what the SDKs sign). As AWS does, a request
must be dated within five minutes of the server's clock and scoped to `rekognition` in
the service's region."""

from __future__ import annotations

import datetime
import hmac
import re
from typing import Mapping

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from ..contract import SERVICE_NAME
from ..errors import AccessDeniedException, InvalidSignatureException, shorten

MAX_SKEW = datetime.timedelta(minutes=5)

_AUTH_RE = re.compile(
    r"AWS4-HMAC-SHA256\s+Credential=(?P<key>[^/,\s]+)/(?P<date>\d{8})/(?P<region>[^/]+)/(?P<service>[^/]+)/aws4_request,\s*"
    r"SignedHeaders=(?P<headers>[^,\s]+),\s*Signature=(?P<signature>[0-9a-f]{64})"
)


class SigV4Verifier:
    """Accepts only requests signed by one of `keys` (access key id -> secret), dated
    within MAX_SKEW of the server's clock and scoped to this service in `region`."""

    def __init__(self, keys: Mapping[str, str], region: str) -> None:
        self._keys = dict(keys)
        self._region = region

    def verify(self, method: str, url: str, headers: Mapping[str, str], body: bytes) -> str:
        """Return the access key id, or raise AccessDeniedException /
        InvalidSignatureException."""
        match = _AUTH_RE.match(headers.get("authorization", ""))
        if match is None:
            raise AccessDeniedException("The request is not signed with AWS Signature Version 4")
        secret = self._keys.get(match["key"])
        if secret is None:
            raise AccessDeniedException(f"The access key {shorten(match['key'])} is not allowed by this service")
        amz_date = headers.get("x-amz-date", "")
        self._check_scope(match["service"], match["region"], match["date"], amz_date)
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

    def _check_scope(self, service: str, region: str, scope_date: str, amz_date: str) -> None:
        if service != SERVICE_NAME:
            raise InvalidSignatureException(
                f"Credential should be scoped to correct service: '{SERVICE_NAME}', not {shorten(service)!r}"
            )
        if region != self._region:
            raise InvalidSignatureException(
                f"Credential should be scoped to a valid region: '{self._region}', not {shorten(region)!r}"
            )
        try:
            signed_at = datetime.datetime.strptime(amz_date, SIGV4_TIMESTAMP).replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            raise InvalidSignatureException(
                f"The X-Amz-Date header must be a UTC time written {SIGV4_TIMESTAMP}; got {shorten(amz_date)!r}"
            ) from None
        if scope_date != amz_date[:8]:
            raise InvalidSignatureException("Credential should be scoped to the date of the X-Amz-Date header")
        now = datetime.datetime.now(datetime.timezone.utc)
        if abs(signed_at - now) > MAX_SKEW:
            earlier, sign, bound = ("earlier", "-", now - MAX_SKEW) if signed_at < now else ("later", "+", now + MAX_SKEW)
            raise InvalidSignatureException(
                f"Signature expired: {amz_date} is now {earlier} than {bound.strftime(SIGV4_TIMESTAMP)} "
                f"({now.strftime(SIGV4_TIMESTAMP)} {sign} 5 min.)"
            )
