"""Each finding of the outside attack on the service (issue 8), reproduced over real HTTP
against `python -m peoplepath serve`: deep JSON, hostile object names, stale or
mis-scoped signatures, forged keys against the per-key limit, echoed values, file modes."""

from __future__ import annotations

import datetime
import http.client
import json
import os
import stat
from pathlib import Path
from typing import Any, Iterator

import botocore.auth
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import ServiceHandle, free_port
from peoplepath.errors import ProvisionedThroughputExceededException
from peoplepath.service.throttle import RateLimiter
from videos import write_pyav

GET = "RekognitionService.GetPersonTracking"
START = "RekognitionService.StartPersonTracking"


def send(
    endpoint_url: str, body: bytes, target: str = GET, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, Any], int]:
    """POST / over a raw connection: (status, JSON body, body length)."""
    host, port = endpoint_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        all_headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target, **(headers or {})}
        connection.request("POST", "/", body=body, headers=all_headers)
        reply = connection.getresponse()
        raw = reply.read()
        return reply.status, json.loads(raw), len(raw)
    finally:
        connection.close()


def error_of(call: Any, **params: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as info:
        call(**params)
    error = info.value.response["Error"]
    return error["Code"], error["Message"], info.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture()
def service(tmp_path: Path, shared_data: Path, request: pytest.FixtureRequest) -> Iterator[ServiceHandle]:
    handle = ServiceHandle(tmp_path / "svc", free_port(), args=list(getattr(request, "param", [])))
    handle.link_shared_bucket(shared_data)
    handle.start()
    yield handle
    handle.stop()


# ------------------------------------------------------- 1. deeply nested JSON
@pytest.mark.parametrize(
    "body, target",
    [
        (b"[" * 1000, GET),
        (b"[" * 1000 + b"]" * 1000, GET),
        (b"[" * 100_000 + b"]" * 100_000, GET),
        (b'{"JobId": "abc", "Extra": ' + b"[" * 1000 + b"]" * 1000 + b"}", GET),
        (b'{"JobId": "abc", "Extra": ' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"}", GET),
        (b'{"Video": {"S3Object": {"Bucket": "shared", "Name": "x.mp4", "Extra": ' + b"[" * 990 + b"]" * 990 + b"}}}", START),
    ],
    ids=["open-1000", "closed-1000", "closed-100000", "in-unknown-field", "objects-5000", "inside-video"],
)
def test_deep_nesting_is_a_serialization_error(running_service: ServiceHandle, body: bytes, target: str) -> None:
    status, payload, _ = send(running_service.endpoint_url, body, target)
    assert (status, payload["__type"]) == (400, "SerializationException"), payload
    assert payload["Message"]


@pytest.fixture(scope="module")
def hostile_bucket(running_service: ServiceHandle) -> str:
    bucket = running_service.data_dir / "buckets" / "hostile"
    bucket.mkdir(parents=True, exist_ok=True)
    (bucket / "file.mp4").write_bytes(b"not a video")
    (bucket / "loop-a").symlink_to("loop-b")
    (bucket / "loop-b").symlink_to("loop-a")
    return "hostile"


def test_unknown_members_are_not_stored_or_echoed(running_service: ServiceHandle, hostile_bucket: str) -> None:
    video = {"S3Object": {"Bucket": hostile_bucket, "Name": "file.mp4", "Extra": "x" * 50_000}, "Other": [1, 2]}
    status, payload, _ = send(running_service.endpoint_url, json.dumps({"Video": video, "JobTag": "extra"}).encode(), START)
    assert status == 200, payload  # a job on a file that is no video: it fails at once
    status, page, length = send(running_service.endpoint_url, json.dumps({"JobId": payload["JobId"], "MaxResults": 1}).encode())
    assert page["Video"] == {"S3Object": {"Bucket": hostile_bucket, "Name": "file.mp4"}} and length < 10_000


# --------------------------------------------------- 2. hostile local object names
@pytest.mark.parametrize(
    "name",
    [
        "a" * 300 + ".mp4",  # one path part longer than 255 bytes: ENAMETOOLONG
        "dir/" + "b" * 256 + "/c.mp4",
        "é" * 200 + ".mp4",  # 400 bytes in UTF-8
        "a\x00b.mp4",  # NUL
        "\x00",
        "file.mp4/inside.mp4",  # a file used as a folder: ENOTDIR
        "loop-a",  # a symlink loop: ELOOP
        "loop-a/x.mp4",
        "x/" * 500 + "y.mp4",  # long but legal parts
        "\ud800.mp4",  # a lone surrogate (JSON allows it, the file system does not)
    ],
)
def test_hostile_object_name_is_invalid_s3_object(running_service: ServiceHandle, hostile_bucket: str, name: str) -> None:
    once = running_service.client(attempts=1)
    body = json.dumps({"Video": {"S3Object": {"Bucket": hostile_bucket, "Name": name}}}).encode()
    status, payload, _ = send(running_service.endpoint_url, body, START)
    assert (status, payload["__type"]) == (400, "InvalidS3ObjectException"), payload
    if "\ud800" not in name:  # boto3 cannot encode a lone surrogate; the raw request covers it
        code, _, status = error_of(once.start_person_tracking, Video={"S3Object": {"Bucket": hostile_bucket, "Name": name}})
        assert (code, status) == ("InvalidS3ObjectException", 400)


# --------------------------------------------------------- 3. signature window and scope
KEYS = ["--access-keys", "AKIDGOOD:goodsecret"]


def signed_headers(
    endpoint_url: str, body: bytes, when: datetime.datetime, service: str = "rekognition", region: str = "us-east-1",
    key: str = "AKIDGOOD", secret: str = "goodsecret",
) -> dict[str, str]:
    """Headers signed by botocore's own SigV4Auth, its clock set to `when`."""
    request = AWSRequest(
        method="POST", url=endpoint_url + "/", data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": GET},
    )
    signer = SigV4Auth(Credentials(key, secret), service, region)
    original = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda: when  # type: ignore[assignment]
    try:
        signer.add_auth(request)
    finally:
        botocore.auth.get_current_datetime = original  # type: ignore[assignment]
    return dict(request.headers.items())


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc)


@pytest.mark.parametrize("service", [KEYS], indirect=True)
def test_stale_or_future_signatures_are_refused(service: ServiceHandle) -> None:
    body = b'{"JobId": "unknown-job"}'
    fresh = signed_headers(service.endpoint_url, body, now() - datetime.timedelta(minutes=4))
    status, payload, _ = send(service.endpoint_url, body, headers=fresh)
    assert payload["__type"] == "ResourceNotFoundException"  # within the window: accepted
    for offset in (datetime.timedelta(minutes=-20), datetime.timedelta(days=-7), datetime.timedelta(days=1), datetime.timedelta(minutes=6)):
        headers = signed_headers(service.endpoint_url, body, now() + offset)
        status, payload, _ = send(service.endpoint_url, body, headers=headers)
        assert (status, payload["__type"]) == (400, "InvalidSignatureException"), offset
        assert payload["Message"].startswith("Signature expired"), payload


@pytest.mark.parametrize("service", [KEYS], indirect=True)
def test_boto3_surfaces_signature_expired(service: ServiceHandle, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: now() - datetime.timedelta(minutes=20))
    client = service.client(key="AKIDGOOD", secret="goodsecret")
    code, message, status = error_of(client.get_person_tracking, JobId="unknown-job")
    assert (code, status) == ("InvalidSignatureException", 400)
    assert "Signature expired" in message


@pytest.mark.parametrize("service", [KEYS], indirect=True)
def test_signatures_scoped_elsewhere_are_refused(service: ServiceHandle) -> None:
    body = b'{"JobId": "unknown-job"}'
    for scope in ({"service": "s3"}, {"service": "rekognitionx"}, {"region": "eu-west-1"}, {"region": "us-east-1x"}):
        headers = signed_headers(service.endpoint_url, body, now(), **scope)
        status, payload, _ = send(service.endpoint_url, body, headers=headers)
        assert (status, payload["__type"]) == (400, "InvalidSignatureException"), scope
        assert "scoped" in payload["Message"]
    code, _, status = error_of(_client_in(service, "eu-west-1").get_person_tracking, JobId="unknown-job")
    assert (code, status) == ("InvalidSignatureException", 400)


def _client_in(service: ServiceHandle, region: str) -> Any:
    import boto3

    return boto3.client(
        "rekognition", endpoint_url=service.endpoint_url, region_name=region,
        aws_access_key_id="AKIDGOOD", aws_secret_access_key="goodsecret",
    )


@pytest.mark.parametrize("service", [[*KEYS, "--region", "eu-west-1"]], indirect=True)
def test_region_option_sets_the_accepted_scope(service: ServiceHandle) -> None:
    code, _, _ = error_of(_client_in(service, "eu-west-1").get_person_tracking, JobId="unknown-job")
    assert code == "ResourceNotFoundException"
    code, message, _ = error_of(_client_in(service, "us-east-1").get_person_tracking, JobId="unknown-job")
    assert code == "InvalidSignatureException" and "eu-west-1" in message


# ------------------------------------------------------------- 4. per-key rate limit
def forged_authorization(key: str) -> dict[str, str]:
    return {
        "Authorization": f"AWS4-HMAC-SHA256 Credential={key}/20260101/us-east-1/rekognition/aws4_request, "
        f"SignedHeaders=host;x-amz-date, Signature={'0' * 64}",
        "X-Amz-Date": "20260101T000000Z",
    }


@pytest.mark.parametrize("service", [["--key-rate-limit", "0.2"]], indirect=True)
def test_unverified_key_ids_share_the_client_address_budget(service: ServiceHandle) -> None:
    codes = [send(service.endpoint_url, b'{"JobId": "unknown-job"}', headers=forged_authorization(f"MADEUP{i}"))[1]["__type"] for i in range(10)]
    assert codes[0] == "ResourceNotFoundException"
    assert codes.count("ProvisionedThroughputExceededException") >= 8, codes


@pytest.mark.parametrize("service", [["--key-rate-limit", "0.2", "--access-keys", "AKIDBUSY:busy,AKIDCALM:calm"]], indirect=True)
def test_per_key_limit_counts_verified_keys(service: ServiceHandle) -> None:
    busy = service.client(attempts=1, key="AKIDBUSY", secret="busy")
    codes = [error_of(busy.get_person_tracking, JobId="unknown-job")[0] for _ in range(4)]
    assert codes[0] == "ResourceNotFoundException" and "ProvisionedThroughputExceededException" in codes
    calm = service.client(attempts=1, key="AKIDCALM", secret="calm")
    assert error_of(calm.get_person_tracking, JobId="unknown-job")[0] == "ResourceNotFoundException"
    for i in range(5):  # forged keys are refused before they reach the limiter
        status, payload, _ = send(service.endpoint_url, b'{"JobId": "x"}', headers=forged_authorization(f"MADEUP{i}"))
        assert payload["__type"] == "AccessDeniedException"


def test_per_key_table_is_bounded() -> None:
    limiter = RateLimiter(0, 0.001, max_keys=100)
    for i in range(10_000):
        limiter.check(f"client-{i}")
    assert len(limiter) == 100
    with pytest.raises(ProvisionedThroughputExceededException):
        limiter.check("client-9999")  # among the most recent: kept, its budget spent
    limiter.check("client-0")  # the least recently seen were forgotten
    assert len(limiter) == 100


# ---------------------------------------------------------------- 8. echoed values
@pytest.mark.parametrize(
    "body, target",
    [
        (json.dumps({"JobId": "abc", "SortBy": "S" * 900_000}).encode(), GET),
        (b"{}", "RekognitionService." + "T" * 10_000),
        (b"{}", "T" * 10_000),
        (json.dumps({"JobId": "abc", "MaxResults": -int("9" * 4000)}).encode(), GET),
        (json.dumps({"Video": {"S3Object": {"Bucket": "shared", "Name": "n" * 1024 + "/"}}}).encode(), START),
        (json.dumps({"Video": {"S3Object": {"Bucket": "no-such-bucket", "Name": "n" * 1024}}}).encode(), START),
        (json.dumps({"Video": {"S3Object": {"Bucket": "shared", "Name": "../" * 300}}}).encode(), START),
        (b'{"JobId": "' + b"\\u00e9" * 100_000 + b'", "broken', GET),
    ],
    ids=["sortby", "target-op", "target-prefix", "maxresults", "missing-name", "no-bucket", "escaping-name", "bad-json"],
)
def test_echoed_values_are_cut_short(running_service: ServiceHandle, body: bytes, target: str) -> None:
    status, payload, length = send(running_service.endpoint_url, body, target)
    assert status == 400 and payload["Message"]
    assert length < 1000, payload["Message"][:300]


# --------------------------------------------------------------------- 9. file modes
@pytest.mark.slow
def test_service_files_are_for_its_user_only(tmp_path: Path) -> None:
    clips = tmp_path / "clips"
    clips.mkdir()
    write_pyav(clips / "short.mp4", frames=25)
    handle = ServiceHandle(tmp_path / "data", free_port())  # makes the data folder 0755 and its service.log
    data_dir = handle.data_dir
    handle.start()
    try:
        (data_dir / "buckets" / "clips").symlink_to(clips, target_is_directory=True)
        job_id = handle.start_job("short.mp4", bucket="clips")
        assert handle.wait(job_id, timeout=180)["JobStatus"] == "SUCCEEDED"
        seen = set()
        for entry in [data_dir, *data_dir.rglob("*")]:
            mode = entry.lstat().st_mode
            if stat.S_ISLNK(mode) or entry.name == "service.log":  # the test's own files
                continue
            seen.add(entry.name)
            assert mode & 0o077 == 0, f"{entry} is {stat.filemode(mode)}"
        assert {"peoplepath.sqlite3", "peoplepath.sqlite3-wal", "peoplepath.sqlite3-shm", "token-secret"} <= seen
    finally:
        handle.stop()
    assert os.stat(data_dir).st_mode & 0o777 == 0o700


# ------------------------------------------- found by the fuzzer: other paths and methods
@pytest.mark.parametrize("method, path, status", [("GET", "/", 405), ("DELETE", "/", 405), ("POST", "/foo", 404), ("PUT", "/" + "p" * 5000, 404)])
def test_unknown_paths_and_methods_are_aws_shaped(running_service: ServiceHandle, method: str, path: str, status: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", running_service.port, timeout=30)
    try:
        connection.request(method, path, body=b"{}", headers={"X-Amz-Target": GET})
        reply = connection.getresponse()
        raw = reply.read()
    finally:
        connection.close()
    payload = json.loads(raw)
    assert (reply.status, payload["__type"]) == (status, "UnknownOperationException")
    assert payload["Message"] and len(raw) < 1000


def test_error_messages_can_carry_any_echoed_text(running_service: ServiceHandle) -> None:
    """A lone surrogate echoed in a message once broke the error's own rendering (500 text)."""
    body = b'{"Video": {"S3Object": {"Bucket": "no-such-bucket", "Name": "\\ud800.mp4"}}}'
    status, payload, _ = send(running_service.endpoint_url, body, START)
    assert (status, payload["__type"]) == (400, "InvalidS3ObjectException")
    assert "\ud800.mp4" in payload["Message"]
