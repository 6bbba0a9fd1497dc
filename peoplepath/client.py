"""The client side of the API: boto3 paging through GetPersonTracking on any endpoint
(AWS, the local PeoplePath service, any compatible server), StartPersonTracking, and
archived results (JSON as AWS returned it) entering through the same `JobResult`."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import threading
import urllib.error
import urllib.request
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

import pyarrow as pa

from . import archives, contract
from .archives import ArchiveError

# Keys a local endpoint accepts when none are configured (it may accept any key).
_LOCAL_KEY = "peoplepath-local"


class ClientCallError(Exception):
    """A failed API call, carrying the AWS error code and its message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class InvalidJobIdError(ClientCallError):
    """The JobId breaks the contract's pattern; no call was made."""

    def __init__(self, job_id: Any) -> None:
        super().__init__(
            "InvalidParameterException",
            f"JobId {job_id!r} is not valid: it must be 1-64 characters of letters, digits, '-' and '_'",
        )


@dataclass(frozen=True)
class JobResult:
    """Everything GetPersonTracking said about one job, pages merged in order."""

    job_id: str | None
    job_status: str
    status_message: str | None = None
    video_metadata: dict[str, Any] = field(default_factory=dict)
    video: dict[str, Any] | None = None
    job_tag: str | None = None
    persons: list[dict[str, Any]] = field(default_factory=list)
    pages: int = 0
    next_token: str | None = None  # the last page's NextToken: the results are partial

    @property
    def partial(self) -> str | None:
        """None when the results are complete, else what part of a job they are."""
        if not self.next_token:
            return None
        return archives.describe_partial([{}] * (self.pages - 1) + [{"NextToken": self.next_token}])

    @property
    def s3_object(self) -> dict[str, Any] | None:
        """The job's `Video.S3Object` ({"Bucket", "Name", "Version"?}) when known."""
        return (self.video or {}).get("S3Object")

    def to_response(self) -> dict[str, Any]:
        """One merged GetPersonTracking response (as the AWS CLI prints it)."""
        out: dict[str, Any] = {"JobStatus": self.job_status}
        if self.status_message:
            out["StatusMessage"] = self.status_message
        if self.video_metadata:
            out["VideoMetadata"] = self.video_metadata
        out["Persons"] = self.persons
        if self.job_id:
            out["JobId"] = self.job_id
        if self.video:
            out["Video"] = self.video
        if self.job_tag:
            out["JobTag"] = self.job_tag
        if self.next_token:
            out["NextToken"] = self.next_token
        return out


# ------------------------------------------------------------------------------ client
def make_client(
    endpoint_url: str | None = None,
    *,
    profile_name: str | None = None,
    region_name: str | None = None,
    max_attempts: int = 5,
    **boto_kwargs: Any,
) -> Any:
    """A boto3 "rekognition" client with boto3's standard settings.

    The endpoint comes from `endpoint_url`, else `AWS_ENDPOINT_URL_REKOGNITION` /
    `AWS_ENDPOINT_URL` (boto3 reads them); profile and region from the arguments or the
    usual environment and config files (region defaults to us-east-1). Retries use
    botocore's "standard" mode. A custom endpoint with no credentials configured gets a
    placeholder key, which the local service accepts.
    """
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(profile_name=profile_name, region_name=region_name)
    config = Config(retries={"mode": "standard", "max_attempts": max_attempts}, connect_timeout=5, read_timeout=60)
    kwargs: dict[str, Any] = {"region_name": session.region_name or "us-east-1", "config": config}
    custom = endpoint_url or os.environ.get("AWS_ENDPOINT_URL_REKOGNITION") or os.environ.get("AWS_ENDPOINT_URL")
    if endpoint_url:
        kwargs["endpoint_url"] = endpoint_url
    if custom and session.get_credentials() is None and "aws_access_key_id" not in boto_kwargs:
        kwargs.update(aws_access_key_id=_LOCAL_KEY, aws_secret_access_key=_LOCAL_KEY)
    kwargs.update(boto_kwargs)
    return session.client(contract.SERVICE_NAME, **kwargs)


def _call(method: Callable[..., dict[str, Any]], **params: Any) -> dict[str, Any]:
    """Run one API call, turning every botocore failure into ClientCallError."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return method(**params)
    except ClientError as exc:
        err = exc.response.get("Error", {})
        raise ClientCallError(err.get("Code") or "ClientError", err.get("Message") or str(exc)) from exc
    except BotoCoreError as exc:
        raise ClientCallError(type(exc).__name__, str(exc)) from exc


_PAGE = threading.local()  # the schema the calling thread wants its page's Persons read to


def _persons_by_json(response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any) -> None:
    """botocore's `before-parse` hook for GetPersonTracking: take the page's `Persons`
    out of the body and hand them over as they are, leaving botocore to parse only the
    rest. Its shape-by-shape walk costs about 30 µs a detection (8 s of the 10 s a
    277,000-detection job took to fetch); the records come out the same, since the JSON
    protocol's field names and values are the document's own. When the calling thread
    asks for a schema (`fetch_job(persons_schema=...)`), the Persons come as an Arrow
    table read by Arrow's JSON reader, outside the GIL. A NextToken seen in the raw body
    is handed to the thread's `ahead` first, so the next page can be asked for while
    this one is read."""
    if response_dict.get("status_code") != 200:
        return
    body = response_dict.get("body") or b""
    ahead = getattr(_PAGE, "ahead", None)
    if ahead is not None:
        token = _next_token_in(body)
        if token:
            ahead(token)
    schema = getattr(_PAGE, "schema", None)
    read = _read_with_arrow(body, schema) if schema is not None else None
    if read is None:
        try:
            doc = json.loads(body)
        except ValueError:
            return  # botocore reports it
        persons = doc.pop("Persons", None) if isinstance(doc, dict) else None
        if not isinstance(persons, list):
            return
        if schema is not None:
            try:
                persons = pa.Table.from_pylist(persons, schema=schema)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
                raise ValueError(f"Persons do not match GetPersonTracking's shape: {exc}") from exc
        read = doc, persons
    response_dict["body"] = json.dumps(read[0]).encode()
    customized_response_dict["Persons"] = read[1]


_NEXT_TOKEN = re.compile(rb'"NextToken"\s*:\s*"([^"\\]+)"')


def _next_token_in(body: bytes) -> str | None:
    """The NextToken a raw page body names, if it names exactly one plain (unescaped)
    one: a guess to request ahead on, which the parsed page confirms or overrules."""
    found = _NEXT_TOKEN.findall(body)
    return found[0].decode() if len(found) == 1 else None


def _read_with_arrow(body: bytes, schema: pa.Schema) -> tuple[dict[str, Any], pa.Table] | None:
    """A JSON page as (its other fields, its Persons as a table of `schema`), or None
    when Arrow's reader cannot take it (a field of mixed types, values that do not fit
    the schema): the json module reads it then."""
    import pyarrow.json as pj

    try:
        page = pj.read_json(
            io.BytesIO(body),
            read_options=pj.ReadOptions(block_size=len(body) + 1),
            parse_options=pj.ParseOptions(explicit_schema=pa.schema([("Persons", pa.list_(pa.struct(list(schema))))]),
                                          unexpected_field_behavior="infer"))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    column = page.column("Persons")
    if page.num_rows != 1 or column.null_count:
        return None
    persons = pa.Table.from_struct_array(column.combine_chunks().flatten()).cast(schema)
    return page.drop_columns(["Persons"]).to_pylist()[0], persons


def _page(client: Any, schema: pa.Schema | None, params: dict[str, Any],
          ahead: Callable[[str], None] | None = None) -> dict[str, Any]:
    """One GetPersonTracking call, its Persons read to `schema` when one is given;
    `ahead(token)` is called with the NextToken as soon as the raw body shows it."""
    _PAGE.schema, _PAGE.ahead = schema, ahead
    try:
        return _call(client.get_person_tracking, **params)
    finally:
        _PAGE.schema = _PAGE.ahead = None


class _Pager:
    """GetPersonTracking pages requested ahead: page n+1 is asked for the moment page n's
    raw body names its NextToken, before page n's Persons are read, so the endpoint's
    work and the wire overlap the reading and the caller's work on the page before. At
    most two pages run ahead of the caller (a page not yet claimed guesses no further).
    A guessed token that the parsed page does not confirm is dropped and the right one
    requested."""

    def __init__(self, client: Any, schema: pa.Schema | None, params: dict[str, Any]) -> None:
        self._client, self._schema, self._params = client, schema, params
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="peoplepath-fetch")
        self._lock = threading.Lock()
        self._guessed: dict[str, Future] = {}  # pages asked for ahead, not yet claimed
        self._deferred: dict[str, str] = {}  # an unclaimed page's token -> the token it names

    def __enter__(self) -> "_Pager":
        return self

    def __exit__(self, *exc: Any) -> None:
        with self._lock:
            self._drop_guesses()
        self._pool.shutdown(wait=True)

    def request(self, token: str | None) -> Future:
        """The page after `token` (the first page for None): claimed if it was asked for
        ahead, else asked for now."""
        with self._lock:
            future = self._guessed.pop(token, None) if token else None
            deferred = self._deferred.pop(token, None) if future is not None else None
            self._drop_guesses()
            if future is None:
                future = self._submit(token)
            if deferred:
                self._guessed[deferred] = self._submit(deferred)
        return future

    def _drop_guesses(self) -> None:
        for stale in self._guessed.values():
            stale.cancel()
        self._guessed.clear()
        self._deferred.clear()

    def _submit(self, token: str | None) -> Future:
        params = {**self._params, "NextToken": token} if token else self._params
        return self._pool.submit(_page, self._client, self._schema, params, lambda named: self._guess(token, named))

    def _guess(self, token: str | None, named: str) -> None:
        """The page asked for with `token` names `named` as its NextToken."""
        with self._lock:
            if token is not None and token in self._guessed:
                self._deferred[token] = named  # two ahead already: wait for the claim
            elif named not in self._guessed:
                self._guessed[named] = self._submit(named)


def fetch_job(
    client: Any,
    job_id: str,
    *,
    page_size: int = contract.MAX_RESULTS_CAP,
    sort_by: str = contract.SORT_TIMESTAMP,
    progress: Callable[[int], None] | None = None,
    on_persons: Callable[[Any], None] | None = None,
    persons_schema: pa.Schema | None = None,
) -> JobResult:
    """Page through GetPersonTracking to the end. `progress(n)` gets the number of
    detections fetched so far after every page. With `on_persons`, each page's `Persons`
    go to it as they arrive and are not kept (the result's `persons` is empty), so a long
    job is never held as dicts all at once: as a list of dicts, or with `persons_schema`
    as an Arrow table of that schema (absent fields null, others dropped). A job still
    IN_PROGRESS or FAILED comes back with its status and no detections."""
    if persons_schema is not None and on_persons is None:
        raise ValueError("persons_schema needs on_persons")
    if not contract.is_valid_job_id(job_id):
        raise InvalidJobIdError(job_id)
    if not 1 <= page_size <= contract.MAX_RESULTS_CAP:
        raise ValueError(f"page_size must be 1..{contract.MAX_RESULTS_CAP}; got {page_size}")
    params: dict[str, Any] = {"JobId": job_id, "MaxResults": page_size, "SortBy": sort_by}
    client.meta.events.register(f"before-parse.{client.meta.service_model.service_id.hyphenize()}.GetPersonTracking",
                                _persons_by_json, unique_id="peoplepath-persons-by-json")
    pages: list[dict[str, Any]] = []
    persons: list[dict[str, Any]] = []
    fetched = 0
    # Pages are requested ahead (a long job is hundreds of them): the endpoint's work and
    # the wire overlap the reading of the page before and the caller's work on it.
    with _Pager(client, persons_schema, params) as pager:
        pending = pager.request(None)
        while True:
            page = pending.result()
            page_persons = page.pop("Persons", None)
            if page_persons is None:
                page_persons = persons_schema.empty_table() if persons_schema is not None else []
            pages.append(page)
            if page.get("JobStatus") != "SUCCEEDED":
                break
            token = page.get("NextToken")
            if token:
                pending = pager.request(token)
            fetched += len(page_persons)
            if on_persons is not None:
                on_persons(page_persons)
            else:
                persons.extend(page_persons)
            del page_persons
            if progress is not None:
                progress(fetched)
            if not token:
                break
    return _merge(pages, persons, default_job_id=job_id)


def fetch_status(client: Any, job_id: str) -> JobResult:
    """The job's status and metadata from one GetPersonTracking call of one detection
    (for polling: never pages through a finished job's results)."""
    if not contract.is_valid_job_id(job_id):
        raise InvalidJobIdError(job_id)
    page = _call(client.get_person_tracking, JobId=job_id, MaxResults=1)
    page.pop("Persons", None)
    page.pop("NextToken", None)
    return _merge([page], [], default_job_id=job_id)


def start_job(
    client: Any,
    bucket: str,
    name: str,
    *,
    version: str | None = None,
    client_request_token: str | None = None,
    job_tag: str | None = None,
    notification_channel: Mapping[str, str] | None = None,
) -> str:
    """StartPersonTracking on `s3://bucket/name`; returns the JobId."""
    s3: dict[str, Any] = {"Bucket": bucket, "Name": name}
    if version:
        s3["Version"] = version
    params: dict[str, Any] = {"Video": {"S3Object": s3}}
    if client_request_token:
        params["ClientRequestToken"] = client_request_token
    if job_tag:
        params["JobTag"] = job_tag
    if notification_channel:
        params["NotificationChannel"] = dict(notification_channel)
    return _call(client.start_person_tracking, **params)["JobId"]


# ----------------------------------------------------------------------------- archives
def load_archive(source: str | Path | bytes | Any) -> JobResult:
    """Read archived results in any form `archives.read_pages` knows (one response, AWS
    CLI output, a list of pages, a bare list of PersonDetection objects, JSON lines, or a
    list of several such files in order). `source` is a path, bytes/str of JSON text, a
    binary file object (such as an upload), already-parsed JSON (dict or list), or a
    list of files. Pages whose last one still holds a NextToken come back `partial`.
    The records themselves are checked when the results table is built from them."""
    pages = archives.read_pages(source)
    jobs = {p["JobId"] for p in pages if p.get("JobId")}
    if len(jobs) > 1:
        raise ArchiveError(f"The pages come from {len(jobs)} different jobs: {', '.join(sorted(jobs))}")
    persons = [person for page in pages for person in page.get("Persons") or []]
    return _merge(pages, persons, default_job_id=None, default_status="SUCCEEDED")


def load_mot(source: str | Path | bytes | Any, *, width: int, height: int, fps: float,
             duration_ms: int | None = None) -> JobResult:
    """Results of another tracker in MOTChallenge format (`frame,id,left,top,width,
    height,...`, frame 1-based, pixel boxes) as a JobResult, timed by the video's `fps`
    and sized by its frame (so it needs the video). Rows with a negative id are
    detections without a track and are left out."""
    if width <= 0 or height <= 0 or fps <= 0:
        raise ArchiveError("A MOTChallenge file needs the video's frame size and frame rate")
    text = archives.read_text(source, is_inline=lambda s: "\n" in s or "," in s, what="a MOTChallenge file")
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        parts = line.replace(" ", "").split(",")
        try:
            frame, ident, left, top, w, h = int(float(parts[0])), int(float(parts[1])), *map(float, parts[2:6])
        except (ValueError, IndexError):
            raise ArchiveError(f"Line {n} is not MOTChallenge 'frame,id,left,top,width,height,...': {line[:80]!r}") from None
        if frame < 1:
            raise ArchiveError(f"Line {n}: MOTChallenge frames start at 1; got {frame}")
        if ident >= 0:
            rows.append((frame, ident, left, top, w, h))
    if not rows:
        raise ArchiveError("The MOTChallenge file has no tracked boxes")
    ids = sorted({r[1] for r in rows})
    index_of = {ident: i for i, ident in enumerate(ids)}  # Index counts from 0
    rows.sort(key=lambda r: (r[0], index_of[r[1]]))
    persons = [
        contract.person_detection(contract.frame_to_ms(f - 1, fps), index_of[i], (x, y, x + w, y + h), None, width, height)
        for f, i, x, y, w, h in rows
    ]
    last_frame = max(r[0] for r in rows)
    meta = {"FrameRate": float(fps), "FrameWidth": int(width), "FrameHeight": int(height),
            "DurationMillis": int(duration_ms or contract.frame_to_ms(last_frame, fps))}
    return JobResult(job_id=None, job_status="SUCCEEDED", video_metadata=meta, persons=persons, pages=1)


def _merge(
    pages: list[dict[str, Any]],
    persons: list[dict[str, Any]],
    *,
    default_job_id: str | None,
    default_status: str = "IN_PROGRESS",
) -> JobResult:
    def first(key: str) -> Any:
        return next((p[key] for p in pages if p.get(key)), None)

    status = pages[-1].get("JobStatus") or first("JobStatus") or default_status
    if status not in contract.JOB_STATUSES:
        raise ArchiveError(f"JobStatus must be one of {', '.join(contract.JOB_STATUSES)}; got {status!r}")
    return JobResult(
        job_id=first("JobId") or default_job_id,
        job_status=status,
        status_message=first("StatusMessage"),
        video_metadata=dict(first("VideoMetadata") or {}),
        video=first("Video"),
        job_tag=first("JobTag"),
        persons=persons,
        pages=len(pages),
        next_token=pages[-1].get("NextToken") or None,
    )


# -------------------------------------------------------------------------------- video
def local_video_path(job: JobResult, data_dir: str | Path | None) -> Path | None:
    """The job's video in the local service's bucket folder (`DIR/buckets/<Bucket>/<Name>`)
    when that file exists."""
    s3 = job.s3_object
    if not s3 or data_dir is None:
        return None
    path = Path(data_dir) / "buckets" / s3["Bucket"] / s3["Name"]
    return path if path.is_file() else None


def is_peoplepath_service(endpoint_url: str | None, timeout: float = 2.0) -> bool:
    """True when a PeoplePath service answers `GET /ping` at `endpoint_url` (real AWS
    endpoints are not asked)."""
    if not endpoint_url or urlsplit(endpoint_url).hostname in (None, "") or \
            (urlsplit(endpoint_url).hostname or "").endswith(".amazonaws.com"):
        return False
    try:
        with urllib.request.urlopen(f"{endpoint_url.rstrip('/')}/ping", timeout=timeout) as reply:
            return json.loads(reply.read()).get("service") == "peoplepath"
    except (OSError, ValueError, AttributeError):
        return False


def service_video_url(client: Any, job_id: str, *, presign_seconds: int | None = None) -> str:
    """The URL of `GET /jobs/<JobId>/video` on the client's PeoplePath endpoint; with
    `presign_seconds`, presigned with the client's credentials (for a browser)."""
    if not contract.is_valid_job_id(job_id):
        raise InvalidJobIdError(job_id)
    url = f"{client.meta.endpoint_url.rstrip('/')}/jobs/{job_id}/video"
    credentials = _credentials(client)
    if presign_seconds is None or credentials is None:
        return url
    from botocore.auth import SigV4QueryAuth
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method="GET", url=url)
    SigV4QueryAuth(credentials, contract.SERVICE_NAME, client.meta.region_name, expires=presign_seconds).add_auth(request)
    return request.url


def download_service_video(client: Any, job: JobResult, dest_dir: str | Path) -> Path:
    """Download the job's video from its PeoplePath service (`GET /jobs/<JobId>/video`,
    SigV4-signed with the client's credentials) into `dest_dir` once; an existing copy
    is reused. Raises ClientCallError with the service's AWS error code."""
    if not job.job_id:
        raise ClientCallError("InvalidParameterException", "Archived results have no job on a service")
    url = service_video_url(client, job.job_id)
    name = Path((job.s3_object or {}).get("Name") or "video.mp4").name
    host = re.sub(r"[^A-Za-z0-9.-]", "_", urlsplit(url).netloc)
    dest = Path(dest_dir) / host / job.job_id / name
    if dest.is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".part")
    with _service_get(client, url, timeout=60) as reply, open(tmp, "wb") as out:
        shutil.copyfileobj(reply, out, 1 << 20)
    tmp.replace(dest)
    return dest


def service_progress(client: Any, job_id: str) -> float:
    """How far a job on a PeoplePath service is (0..1, `GET /jobs/<JobId>/progress`)."""
    if not contract.is_valid_job_id(job_id):
        raise InvalidJobIdError(job_id)
    url = f"{client.meta.endpoint_url.rstrip('/')}/jobs/{job_id}/progress"
    with _service_get(client, url, timeout=10) as reply:
        try:
            return float(json.loads(reply.read())["Progress"])
        except (ValueError, KeyError, TypeError) as exc:
            raise ClientCallError("InvalidResponse", f"{url} answered something else than progress: {exc}") from exc


def _service_get(client: Any, url: str, *, timeout: float) -> Any:
    """An open reply to a GET signed (SigV4) with the client's credentials; errors as
    ClientCallError with the service's AWS error code."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    request = AWSRequest(method="GET", url=url)
    credentials = _credentials(client)
    if credentials is not None:
        SigV4Auth(credentials, contract.SERVICE_NAME, client.meta.region_name).add_auth(request)
    try:
        return urllib.request.urlopen(urllib.request.Request(url, headers=dict(request.headers.items())), timeout=timeout)
    except urllib.error.HTTPError as exc:
        try:
            err = json.loads(exc.read())
        except ValueError:
            err = {}
        raise ClientCallError(err.get("__type") or f"HTTP{exc.code}", err.get("Message") or str(exc)) from exc
    except OSError as exc:
        raise ClientCallError("EndpointConnectionError", f"{url}: {exc}") from exc


def _credentials(client: Any) -> Any:
    """The client's frozen credentials, or None when it has none."""
    credentials = client._request_signer._credentials  # botocore keeps them on the signer
    return credentials.get_frozen_credentials() if credentials is not None else None


def download_video(job: JobResult, dest_dir: str | Path, *, s3_client: Any | None = None) -> Path:
    """Download the job's `Video.S3Object` through boto3's S3 client into `dest_dir`
    (once: an existing file is reused)."""
    s3 = job.s3_object
    if not s3:
        raise ClientCallError("InvalidS3ObjectException", "The job names no S3 video")
    dest = Path(dest_dir) / s3["Bucket"] / (s3.get("Version") or "latest") / s3["Name"]
    if dest.is_file():
        return dest
    if s3_client is None:
        import boto3

        s3_client = boto3.client("s3")
    dest.parent.mkdir(parents=True, exist_ok=True)
    extra = {"VersionId": s3["Version"]} if s3.get("Version") else None
    tmp = dest.with_name(dest.name + ".part")
    _call(s3_client.download_file, Bucket=s3["Bucket"], Key=s3["Name"], Filename=str(tmp), ExtraArgs=extra)
    tmp.replace(dest)
    return dest
