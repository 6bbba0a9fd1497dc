"""`GET /jobs/<JobId>/video` and `/progress` over real HTTP: Range requests, AWS-shaped
errors, and the same key checks as the API (signed header, presigned query)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from peoplepath import client as api
from tests.conftest import ServiceHandle, free_port
from tests.videos import write_pyav

KEY, SECRET = "AKIDVIDEO", "videosecret"


def get(url: str, headers: dict[str, str] | None = None, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, {k.lower(): v for k, v in reply.headers.items()}, reply.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def signed(url: str, key: str = KEY, secret: str = SECRET, **headers: str) -> dict[str, str]:
    request = AWSRequest(method="GET", url=url, headers=headers)
    SigV4Auth(Credentials(key, secret), "rekognition", "us-east-1").add_auth(request)
    return dict(request.headers.items())


def test_video_with_ranges_and_errors(running_service, tud_job, shared_data):
    url = f"{running_service.endpoint_url}/jobs/{tud_job}/video"
    original = (shared_data / "tud_stadtmitte" / "tud_stadtmitte_h264.mp4").read_bytes()
    status, headers, body = get(url)
    assert status == 200 and body == original and headers["content-type"] == "video/mp4"
    assert headers["accept-ranges"] == "bytes"
    status, headers, body = get(url, {"Range": "bytes=100-1099"})
    assert status == 206 and body == original[100:1100]
    assert headers["content-range"] == f"bytes 100-1099/{len(original)}"
    status, _, body = get(url, {"Range": "bytes=-500"})
    assert status == 206 and body == original[-500:]
    status, headers, _ = get(url, {"Range": f"bytes={len(original) + 10}-"})
    assert status == 416
    status, headers, body = get(url, method="HEAD")
    assert status == 200 and int(headers["content-length"]) == len(original) and body == b""

    status, headers, body = get(f"{running_service.endpoint_url}/jobs/no-such-job/video")
    error = json.loads(body)
    assert status == 404 and error["__type"] == "ResourceNotFoundException" and "no-such-job" in error["Message"]
    assert headers["x-amzn-errortype"] == "ResourceNotFoundException"
    status, _, body = get(f"{running_service.endpoint_url}/jobs/bad%20id/video")
    assert status == 400 and json.loads(body)["__type"] == "InvalidParameterException"
    for escape in ("..%2F..%2Fetc%2Fpasswd", "%2E%2E"):
        status, _, _ = get(f"{running_service.endpoint_url}/jobs/{escape}/video")
        assert status in (400, 404)

    status, _, body = get(f"{running_service.endpoint_url}/jobs/{tud_job}/progress")
    assert status == 200 and json.loads(body) == {"JobId": tud_job, "JobStatus": "SUCCEEDED", "Progress": 1.0}


def test_client_finds_and_downloads_the_video(running_service, tud_job, shared_data, tmp_path):
    client = api.make_client(running_service.endpoint_url)
    assert api.is_peoplepath_service(running_service.endpoint_url)
    assert not api.is_peoplepath_service(f"http://127.0.0.1:{free_port()}")
    assert not api.is_peoplepath_service("https://rekognition.us-east-1.amazonaws.com")
    job = api.fetch_job(client, tud_job, page_size=1)
    path = api.download_service_video(client, job, tmp_path)
    assert path.name == "tud_stadtmitte_h264.mp4"
    assert path.read_bytes() == (shared_data / "tud_stadtmitte" / "tud_stadtmitte_h264.mp4").read_bytes()
    assert api.download_service_video(client, job, tmp_path) == path  # reused


@pytest.mark.slow
def test_key_checks(tmp_path_factory):
    data = tmp_path_factory.mktemp("keyed")
    (data / "buckets" / "clips").mkdir(parents=True)
    write_pyav(data / "buckets" / "clips" / "walk.mp4", frames=20)
    service = ServiceHandle(data, free_port(), args=["--access-keys", f"{KEY}:{SECRET}"]).start()
    try:
        client = api.make_client(service.endpoint_url, aws_access_key_id=KEY, aws_secret_access_key=SECRET)
        job_id = api.start_job(client, "clips", "walk.mp4")
        deadline = time.monotonic() + 120
        while api.fetch_job(client, job_id, page_size=1).job_status == "IN_PROGRESS" and time.monotonic() < deadline:
            time.sleep(0.3)
        url = f"{service.endpoint_url}/jobs/{job_id}/video"
        original = (data / "buckets" / "clips" / "walk.mp4").read_bytes()

        status, _, body = get(url)  # unsigned
        assert status == 400 and json.loads(body)["__type"] == "AccessDeniedException"
        status, _, body = get(url, signed(url, secret="wrong"))
        assert status == 400 and json.loads(body)["__type"] == "AccessDeniedException"
        status, _, body = get(url, signed(url, key="AKIDOTHER"))
        assert status == 400 and "AKIDOTHER" in json.loads(body)["Message"]
        status, _, body = get(url, signed(url))
        assert status == 200 and body == original
        status, _, body = get(url, {**signed(url), "Range": "bytes=0-9"})  # Range added after signing
        assert status == 206 and body == original[:10]
        other = f"{service.endpoint_url}/jobs/not-a-job/video"
        status, _, body = get(other, signed(other))  # signed, but no such job
        assert status == 404 and json.loads(body)["__type"] == "ResourceNotFoundException"

        presigned = api.service_video_url(client, job_id, presign_seconds=300)
        assert "X-Amz-Signature=" in presigned
        status, _, body = get(presigned, {"Range": "bytes=5-14"})
        assert status == 206 and body == original[5:15]
        tampered = presigned.replace("X-Amz-Expires=300", "X-Amz-Expires=301")
        assert get(tampered)[0] == 400
        old = AWSRequest(method="GET", url=url)
        old.context["timestamp"] = "20200101T000000Z"
        signer = SigV4QueryAuth(Credentials(KEY, SECRET), "rekognition", "us-east-1", expires=60)
        signer._modify_request_before_signing(old)
        canonical = signer.canonical_request(old)
        signer._inject_signature_to_request(old, signer.signature(signer.string_to_sign(old, canonical), old))
        status, _, body = get(old.url)
        assert status == 400 and "expired" in json.loads(body)["Message"]

        job = api.fetch_job(client, job_id, page_size=1)
        assert api.download_service_video(client, job, data / "downloads").read_bytes() == original
        unsigned_client = api.make_client(service.endpoint_url, aws_access_key_id="AKIDNOPE", aws_secret_access_key="x")
        with pytest.raises(api.ClientCallError) as err:
            api.download_service_video(unsigned_client, job, data / "other")
        assert err.value.code == "AccessDeniedException"
        status, _, body = get(f"{service.endpoint_url}/jobs/{job_id}/progress", signed(f"{service.endpoint_url}/jobs/{job_id}/progress"))
        assert status == 200 and json.loads(body)["JobStatus"] == "SUCCEEDED"
    finally:
        service.stop()
