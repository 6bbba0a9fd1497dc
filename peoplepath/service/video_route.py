"""Extensions next to the AWS operations, for clients of a PeoplePath service:

- `GET /jobs/<JobId>/video` hands a client its job's video (HTTP Range requests, so a
  browser can play it directly), so frames can be drawn wherever the results come from.
- `GET /jobs/<JobId>/progress` says how far a running job is (`{"JobId", "JobStatus",
  "Progress"}`, Progress 0..1), which GetPersonTracking does not report.

Both check keys as the API does: with `--access-keys`, a SigV4-signed GET (an
Authorization header, as botocore signs it) or a presigned-style query
(`X-Amz-Signature=...`, botocore's SigV4QueryAuth); without, they are open like the API.
Errors are AWS-shaped (`{"__type", "Message"}`); an unknown job is a 404.
"""

from __future__ import annotations

import hmac
import mimetypes
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from .. import contract
from ..errors import AccessDeniedException, ApiError, InvalidParameterException, ResourceNotFoundException
from .auth import SigV4Verifier
from .sources import VideoObject

MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # as S3: a presigned URL lives at most a week


class VideoNotFound(ResourceNotFoundException):
    """An unknown job, or a job whose video is gone: answered with HTTP 404."""

    status = 404


def routes(state: Mapping[str, Any], access_keys: Mapping[str, str], region: str,
           error_response: Callable[[ApiError], Response]) -> list[Route]:
    """The extension routes; `state["backend"]` is the running Backend, `access_keys`
    the service's (empty: open, like the API), `region` the one signatures are scoped to."""
    keys = dict(access_keys)
    verifier = SigV4Verifier(keys, region) if keys else None

    def job_of(request: Request) -> Any:
        job_id = request.path_params["job_id"]
        if not contract.is_valid_job_id(job_id):
            raise InvalidParameterException(
                f"JobId {job_id!r} is not valid: it must be 1-64 characters of letters, digits, '-' and '_'")
        if verifier is not None:
            check_signed_get(verifier, keys, request)
        job = state["backend"].store.get_job(job_id)
        if job is None:
            raise VideoNotFound(f"No job with JobId {job_id}")
        return job

    async def video(request: Request) -> Response:
        try:
            job = job_of(request)
            path = await run_in_threadpool(video_path, state["backend"], job.request)
        except ApiError as exc:
            return error_response(exc)
        media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return FileResponse(path, media_type=media_type, headers={"Cache-Control": "private, max-age=3600"})

    async def progress(request: Request) -> Response:
        try:
            job = job_of(request)
        except ApiError as exc:
            return error_response(exc)
        done = 1.0 if job.status == "SUCCEEDED" else float(job.progress or 0.0)
        return JSONResponse({"JobId": job.job_id, "JobStatus": job.status, "Progress": round(min(max(done, 0.0), 1.0), 4)})

    return [
        Route("/jobs/{job_id}/video", video, methods=["GET", "HEAD"]),
        Route("/jobs/{job_id}/progress", progress, methods=["GET"]),
    ]


def video_path(backend: Any, request: Mapping[str, Any]) -> Path:
    """The job's own video file: its object in the local bucket folder (never a path
    outside it) or the service's download of its S3 object."""
    obj = VideoObject.from_request(request["Video"])
    try:
        path = backend.source.fetch(obj)
    except ApiError as exc:
        raise VideoNotFound(f"The job's video s3://{obj.bucket}/{obj.name} is not available: {exc.message}") from None
    if not path.is_file():
        raise VideoNotFound(f"The job's video s3://{obj.bucket}/{obj.name} is not available")
    return path


def check_signed_get(verifier: SigV4Verifier, keys: Mapping[str, str], request: Request) -> str:
    """The access key of a signed GET (Authorization header or presigned query);
    AccessDeniedException otherwise."""
    headers = {k.lower(): v for k, v in request.headers.items()}
    if "authorization" in headers:
        return verifier.verify(request.method, str(request.url), headers, b"")
    if "X-Amz-Signature" in request.query_params:
        return verify_presigned(keys, str(request.url), headers.get("host", ""))
    raise AccessDeniedException("This service requires a SigV4-signed request (an Authorization header or a presigned URL)")


def verify_presigned(keys: Mapping[str, str], url: str, host: str, now: float | None = None) -> str:
    """Check a presigned-style URL (botocore's SigV4QueryAuth); returns the access key."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    params = dict(query)
    try:
        key, date, region, service, _ = params["X-Amz-Credential"].split("/")
        signature, amz_date = params["X-Amz-Signature"], params["X-Amz-Date"]
        expires = int(params["X-Amz-Expires"])
        signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc).timestamp()
    except (KeyError, ValueError):
        raise AccessDeniedException("The presigned URL is incomplete") from None
    secret = keys.get(key)
    if secret is None:
        raise AccessDeniedException(f"The access key {key} is not allowed by this service")
    if not 0 < expires <= MAX_PRESIGN_SECONDS or (now or time.time()) > signed_at + expires:
        raise AccessDeniedException("The presigned URL has expired")
    unsigned = urlunsplit(parts._replace(query=urlencode([(k, v) for k, v in query if k != "X-Amz-Signature"])))
    request = AWSRequest(method="GET", url=unsigned, headers={"host": host})
    request.context["timestamp"] = amz_date
    signer = SigV4QueryAuth(Credentials(key, secret), service, region, expires=expires)
    signer._modify_request_before_signing = lambda r: None  # type: ignore[method-assign]
    canonical = signer.canonical_request(request)
    expected = signer.signature(signer.string_to_sign(request, canonical), request)
    if not hmac.compare_digest(expected, signature):
        raise AccessDeniedException("The presigned URL's signature does not match")
    return key
