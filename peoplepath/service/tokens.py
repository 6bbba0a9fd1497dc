"""Opaque, signed NextToken values bound to one job and one sort order."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any, Sequence

from ..contract import NEXT_TOKEN_MAX_LENGTH
from ..errors import InvalidPaginationTokenException

_SIG_BYTES = 12


class TokenCodec:
    """Encodes a keyset position as `payload.signature`; the HMAC covers the job id and
    the sort order, so a token used with another job or sort is refused."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def encode(self, job_id: str, sort: str, key: Sequence[Any]) -> str:
        payload = _b64(json.dumps(list(key), separators=(",", ":")).encode())
        token = f"{payload}.{_b64(self._sign(job_id, sort, payload))}"
        if len(token) > NEXT_TOKEN_MAX_LENGTH:  # keys are a few numbers: cannot happen
            raise ValueError("pagination token too long")
        return token

    def decode(self, job_id: str, sort: str, token: str) -> list[Any]:
        payload, _, signature = token.partition(".")
        try:
            valid = hmac.compare_digest(_unb64(signature), self._sign(job_id, sort, payload))
            key = json.loads(_unb64(payload)) if valid else None
        except ValueError:
            valid, key = False, None
        if not valid or not isinstance(key, list) or not all(isinstance(k, (int, float)) for k in key):
            raise InvalidPaginationTokenException("The NextToken is not valid for this job and sort order")
        return key

    def _sign(self, job_id: str, sort: str, payload: str) -> bytes:
        message = f"{job_id}\n{sort}\n{payload}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).digest()[:_SIG_BYTES]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
