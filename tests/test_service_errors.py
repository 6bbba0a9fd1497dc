"""Every error the contract names, through boto3 (and raw HTTP) against the real service."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import ServiceHandle, free_port

TUD = "tud_stadtmitte/tud_stadtmitte_h264.mp4"


def error_of(call: Any, **params: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as info:
        call(**params)
    error = info.value.response["Error"]
    return error["Code"], error["Message"], info.value.response["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture(scope="module")
def raw(running_service: ServiceHandle) -> Any:
    """A client that skips botocore's own checks, so the server's are what answers."""
    return running_service.client(parameter_validation=False)


@pytest.mark.parametrize(
    "params, field",
    [
        ({}, "Video"),
        ({"Video": {"S3Object": {"Bucket": "ab", "Name": "x.mp4"}}}, "Video.S3Object.Bucket"),
        ({"Video": {"S3Object": {"Bucket": "bad/bucket", "Name": "x.mp4"}}}, "Video.S3Object.Bucket"),
        ({"Video": {"S3Object": {"Bucket": "shared", "Name": ""}}}, "Video.S3Object.Name"),
        ({"Video": {"S3Object": {"Bucket": "shared", "Name": TUD}}, "ClientRequestToken": "no spaces"}, "ClientRequestToken"),
        ({"Video": {"S3Object": {"Bucket": "shared", "Name": TUD}}, "ClientRequestToken": "x" * 65}, "ClientRequestToken"),
        ({"Video": {"S3Object": {"Bucket": "shared", "Name": TUD}}, "JobTag": "has space"}, "JobTag"),
        ({"Video": {"S3Object": {"Bucket": "shared", "Name": TUD}}, "NotificationChannel": {"SNSTopicArn": "arn:aws:sns:us-east-1:123456789012:t"}}, "NotificationChannel.RoleArn"),
        ({"Video": {"S3Object": {"Bucket": "shared", "Name": TUD}}, "NotificationChannel": {"SNSTopicArn": "not-an-arn", "RoleArn": "arn:aws:iam::123456789012:role/r"}}, "NotificationChannel.SNSTopicArn"),
    ],
)
def test_start_rejects_invalid_parameters(raw: Any, params: dict, field: str) -> None:
    code, message, status = error_of(raw.start_person_tracking, **params)
    assert (code, status) == ("InvalidParameterException", 400)
    assert field in message


@pytest.mark.parametrize(
    "params, field",
    [
        ({}, "JobId"),
        ({"JobId": ""}, "JobId"),
        ({"JobId": "x" * 65}, "JobId"),
        ({"JobId": "bad id!"}, "JobId"),
        ({"JobId": "abc", "MaxResults": 0}, "MaxResults"),
        ({"JobId": "abc", "MaxResults": -5}, "MaxResults"),
        ({"JobId": "abc", "SortBy": "NAME"}, "SortBy"),
        ({"JobId": "abc", "NextToken": "t" * 256}, "NextToken"),
    ],
)
def test_get_rejects_invalid_parameters(raw: Any, params: dict, field: str) -> None:
    code, message, status = error_of(raw.get_person_tracking, **params)
    assert (code, status) == ("InvalidParameterException", 400)
    assert field in message


def test_unknown_job_is_resource_not_found(running_service: ServiceHandle) -> None:
    code, _, status = error_of(running_service.client().get_person_tracking, JobId="no-such-job")
    assert (code, status) == ("ResourceNotFoundException", 400)


@pytest.mark.parametrize(
    "name",
    ["tud_stadtmitte/missing.mp4", "../outside.mp4", "tud_stadtmitte/../../../etc/passwd"],
)
def test_missing_or_escaping_object_is_invalid_s3_object(running_service: ServiceHandle, name: str) -> None:
    code, _, _ = error_of(
        running_service.client().start_person_tracking, Video={"S3Object": {"Bucket": "shared", "Name": name}}
    )
    assert code == "InvalidS3ObjectException"


def test_unknown_bucket_without_s3_is_invalid_s3_object(running_service: ServiceHandle) -> None:
    code, message, _ = error_of(
        running_service.client().start_person_tracking, Video={"S3Object": {"Bucket": "nobucket", "Name": "a.mp4"}}
    )
    assert code == "InvalidS3ObjectException" and "nobucket" in message


def test_pagination_tokens_are_bound_to_job_and_sort(running_service: ServiceHandle, tud_job: str) -> None:
    client = running_service.client()
    token = client.get_person_tracking(JobId=tud_job, MaxResults=1)["NextToken"]
    index_token = client.get_person_tracking(JobId=tud_job, MaxResults=1, SortBy="INDEX")["NextToken"]
    assert len(token) <= 255
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    for params in (
        {"NextToken": tampered},
        {"NextToken": "garbage"},
        {"NextToken": index_token},  # an INDEX token used with the TIMESTAMP sort
        {"NextToken": token, "SortBy": "INDEX"},
    ):
        code, _, status = error_of(client.get_person_tracking, JobId=tud_job, **params)
        assert (code, status) == ("InvalidPaginationTokenException", 400), params
    other = running_service.start_job(TUD, JobTag="other")  # same video, another job
    code, _, _ = error_of(client.get_person_tracking, JobId=other, NextToken=token)
    assert code == "InvalidPaginationTokenException"


def test_client_request_token_is_idempotent(running_service: ServiceHandle) -> None:
    client = running_service.client()
    video = {"S3Object": {"Bucket": "shared", "Name": TUD}}
    first = client.start_person_tracking(Video=video, ClientRequestToken="same-token-1", JobTag="a")["JobId"]
    again = client.start_person_tracking(Video=video, ClientRequestToken="same-token-1", JobTag="a")["JobId"]
    assert first == again
    code, _, _ = error_of(client.start_person_tracking, Video=video, ClientRequestToken="same-token-1", JobTag="b")
    assert code == "IdempotentParameterMismatchException"


def post(url: str, body: bytes, target: str = "RekognitionService.GetPersonTracking") -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.parametrize(
    "body, target, status, code",
    [
        (b"{not json", "RekognitionService.GetPersonTracking", 400, "SerializationException"),
        (b"[1, 2]", "RekognitionService.GetPersonTracking", 400, "SerializationException"),
        (b'{"JobId": 5}', "RekognitionService.GetPersonTracking", 400, "SerializationException"),
        (b'{"JobId": "abc", "MaxResults": "ten"}', "RekognitionService.GetPersonTracking", 400, "SerializationException"),
        (b'{"JobId": "abc", "MaxResults": true}', "RekognitionService.GetPersonTracking", 400, "SerializationException"),
        (b'{"Video": "x"}', "RekognitionService.StartPersonTracking", 400, "SerializationException"),
        (b"{}", "RekognitionService.DetectFaces", 400, "UnknownOperationException"),
        (b"{}", "", 400, "UnknownOperationException"),
        (b'{"JobId": "' + b"a" * (2 << 20) + b'"}', "RekognitionService.GetPersonTracking", 413, "RequestEntityTooLargeException"),
    ],
)
def test_bad_input_gets_an_aws_shaped_4xx(running_service: ServiceHandle, body: bytes, target: str, status: int, code: str) -> None:
    got_status, payload = post(running_service.endpoint_url + "/", body, target)
    assert (got_status, payload["__type"]) == (status, code)
    assert payload["Message"]


def test_undecodable_video_ends_failed_with_a_message(running_service: ServiceHandle) -> None:
    bucket = running_service.data_dir / "buckets" / "uploads"
    bucket.mkdir(parents=True, exist_ok=True)
    (bucket / "notes.mp4").write_text("this is not a video\n" * 50)
    (bucket / "empty.mp4").write_bytes(b"")
    for name in ("notes.mp4", "empty.mp4"):
        job_id = running_service.start_job(name, bucket="uploads")
        page = running_service.wait(job_id, timeout=120)
        assert page["JobStatus"] == "FAILED"
        assert "could not be decoded" in page["StatusMessage"]
        assert page["Persons"] == []
    assert running_service.process.poll() is None  # the service is still up


# ------------------------------------------------------------------ operator limits
@pytest.fixture()
def limited_service(tmp_path: Path, shared_data: Path, request: pytest.FixtureRequest) -> Any:
    handle = ServiceHandle(tmp_path / "svc", free_port(), args=list(request.param))
    handle.link_shared_bucket(shared_data)
    handle.start()
    yield handle
    handle.stop()


@pytest.mark.parametrize("limited_service", [["--max-concurrent-jobs", "1"]], indirect=True)
def test_too_many_jobs_is_limit_exceeded(limited_service: ServiceHandle) -> None:
    first = limited_service.start_job("pets09_s2l1/pets09_s2l1_h264.mp4")  # about half a minute of work
    once = limited_service.client(attempts=1)  # botocore would otherwise retry LimitExceededException
    code, _, _ = error_of(once.start_person_tracking, Video={"S3Object": {"Bucket": "shared", "Name": TUD}})
    assert code == "LimitExceededException"
    assert once.get_person_tracking(JobId=first)["JobStatus"] == "IN_PROGRESS"


@pytest.mark.parametrize("limited_service", [["--max-video-bytes", "100000"]], indirect=True)
def test_large_video_is_video_too_large(limited_service: ServiceHandle) -> None:
    code, message, _ = error_of(limited_service.client().start_person_tracking, Video={"S3Object": {"Bucket": "shared", "Name": TUD}})
    assert code == "VideoTooLargeException" and "100000" in message


@pytest.mark.parametrize("limited_service", [["--access-keys", "AKIDGOOD:goodsecret"]], indirect=True)
def test_configured_keys_are_required(limited_service: ServiceHandle) -> None:
    good = limited_service.client(key="AKIDGOOD", secret="goodsecret")
    code, _, _ = error_of(good.get_person_tracking, JobId="unknown-job")
    assert code == "ResourceNotFoundException"  # authenticated, then the job is looked up
    for key, secret in (("AKIDOTHER", "goodsecret"), ("AKIDGOOD", "wrongsecret")):
        code, _, status = error_of(limited_service.client(key=key, secret=secret).get_person_tracking, JobId="unknown-job")
        assert (code, status) == ("AccessDeniedException", 400)
    status, payload = post(limited_service.endpoint_url + "/", b'{"JobId": "x"}')  # unsigned
    assert (status, payload["__type"]) == (400, "AccessDeniedException")


@pytest.mark.parametrize("limited_service", [["--rate-limit", "0.5"]], indirect=True)
def test_rate_limit_throttles_and_boto3_retries(limited_service: ServiceHandle) -> None:
    once = limited_service.client(attempts=1)
    codes = {error_of(once.get_person_tracking, JobId="unknown-job")[0] for _ in range(4)}
    assert "ThrottlingException" in codes
    patient = limited_service.client(attempts=10)
    for _ in range(3):  # every call gets through: botocore retries the throttled ones
        code, _, _ = error_of(patient.get_person_tracking, JobId="unknown-job")
        assert code == "ResourceNotFoundException"


@pytest.mark.parametrize("limited_service", [["--key-rate-limit", "0.5", "--access-keys", "AKIDBUSY:s1,AKIDCALM:s2"]], indirect=True)
def test_per_key_rate_limit_is_provisioned_throughput_exceeded(limited_service: ServiceHandle) -> None:
    once = limited_service.client(attempts=1, key="AKIDBUSY", secret="s1")
    codes = {error_of(once.get_person_tracking, JobId="unknown-job")[0] for _ in range(4)}
    assert "ProvisionedThroughputExceededException" in codes
    calm = limited_service.client(attempts=1, key="AKIDCALM", secret="s2")
    code, _, _ = error_of(calm.get_person_tracking, JobId="unknown-job")
    assert code == "ResourceNotFoundException"  # another verified key has its own budget
