"""Whole jobs through boto3 over HTTP: results, paging in both sorts, shape checks,
durability across a restart, and S3 + SNS through an S3-compatible server on loopback."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from peoplepath import contract
from peoplepath.metrics import persons_to_mot, score

from conftest import ServiceHandle, free_port

TUD = "tud_stadtmitte/tud_stadtmitte_h264.mp4"


def all_pages(client: Any, job_id: str, **params: Any) -> tuple[list[dict], list[dict]]:
    """(concatenated Persons, raw pages) of a job, paging to the end."""
    persons, pages, token = [], [], None
    while True:
        page = client.get_person_tracking(JobId=job_id, **params, **({"NextToken": token} if token else {}))
        pages.append(page)
        persons.extend(page["Persons"])
        token = page.get("NextToken")
        if not token:
            return persons, pages


def check_against_model(page: dict) -> None:
    """botocore parsed it; now every value must also keep the model's constraints."""
    body = {k: v for k, v in page.items() if k != "ResponseMetadata"}
    output = contract.service_model().operation_model("GetPersonTracking").output_shape
    contract.validate_shape(output, body)


def key(p: dict) -> tuple[int, int]:
    return p["Timestamp"], p["Person"]["Index"]


def test_whole_job_pages_concatenate_in_both_sorts(running_service: ServiceHandle, tud_job: str) -> None:
    client = running_service.client()
    full, pages = all_pages(client, tud_job)
    assert len(pages) == 1 or len(full) > 1000
    assert len(full) > 300  # about 6.5 people a frame over 179 frames
    for size in (1, 7, 1000):
        for sort in ("TIMESTAMP", "INDEX"):
            persons, pages = all_pages(client, tud_job, MaxResults=size, SortBy=sort)
            assert len(persons) == len(full)
            assert len({key(p) for p in persons}) == len(persons)  # no duplicates
            assert sorted(map(key, persons)) == sorted(map(key, full))  # the same set
            assert all(len(page["Persons"]) <= size for page in pages)
            assert all(page.get("NextToken") for page in pages[:-1]) and "NextToken" not in pages[-1]
            for page in pages:
                assert page["JobStatus"] == "SUCCEEDED" and page["VideoMetadata"] == pages[0]["VideoMetadata"]
                assert page["JobId"] == tud_job and page["JobTag"] == "tud"
            if sort == "TIMESTAMP":
                assert [key(p) for p in persons] == sorted(map(key, persons))
            else:
                indexes = [p["Person"]["Index"] for p in persons]
                assert indexes == sorted(indexes)
    assert [key(p) for p in full] == sorted(map(key, full))


def test_index_sort_orders_each_person_by_confidence(running_service: ServiceHandle, tud_job: str) -> None:
    """Persons carry no detection confidence in the API, so check against the store's own
    order through the public contract: by index, and the order is stable across page sizes."""
    client = running_service.client()
    one = [key(p) for p in all_pages(client, tud_job, MaxResults=1, SortBy="INDEX")[0]]
    big = [key(p) for p in all_pages(client, tud_job, MaxResults=1000, SortBy="INDEX")[0]]
    assert one == big
    by_time = sorted(one, key=lambda k: (k[1], k[0]))
    assert one != by_time  # within a person the order is by confidence, not by time


def test_default_and_capped_page_sizes(running_service: ServiceHandle, tud_job: str) -> None:
    client = running_service.client()
    total = len(all_pages(client, tud_job)[0])
    capped = client.get_person_tracking(JobId=tud_job, MaxResults=50_000)
    assert len(capped["Persons"]) == min(total, 1000)
    default = client.get_person_tracking(JobId=tud_job)
    assert len(default["Persons"]) == min(total, 1000)


def test_results_keep_the_contract_shape(running_service: ServiceHandle, tud_job: str) -> None:
    client = running_service.client()
    persons, pages = all_pages(client, tud_job, MaxResults=500)
    for page in pages:
        check_against_model(page)
    meta = pages[0]["VideoMetadata"]
    assert (meta["FrameWidth"], meta["FrameHeight"]) == (640, 480)
    assert meta["FrameRate"] == pytest.approx(25.0, abs=0.01)
    assert meta["DurationMillis"] == pytest.approx(179 * 40, abs=80)
    assert meta["Codec"] == "h264" and meta["ColorRange"] in ("FULL", "LIMITED") and meta["Format"]
    assert pages[0]["Video"] == {"S3Object": {"Bucket": "shared", "Name": TUD}}
    indexes = sorted({p["Person"]["Index"] for p in persons})
    assert indexes == list(range(len(indexes)))  # 0, 1, 2 ... with no holes
    first_seen = {}
    for p in persons:
        first_seen.setdefault(p["Person"]["Index"], p["Timestamp"])
    assert [first_seen[i] for i in indexes] == sorted(first_seen.values())  # numbered by first appearance
    for p in persons:
        box = p["Person"]["BoundingBox"]
        assert 0 <= box["Left"] <= 1 and 0 <= box["Top"] <= 1 and 0 < box["Width"] <= 1 and 0 < box["Height"] <= 1
        assert p["Timestamp"] % 40 == 0  # 25 fps: every analysed frame starts on a 40 ms step


def test_restart_mid_job_resumes_it(tmp_path: Path, shared_data: Path) -> None:
    service = ServiceHandle(tmp_path / "svc", free_port())
    service.link_shared_bucket(shared_data)
    service.start()
    try:
        job_id = service.start_job("pets09_s2l1/pets09_s2l1_h264.mp4", JobTag="restart")
        time.sleep(4)
        assert service.client().get_person_tracking(JobId=job_id)["JobStatus"] == "IN_PROGRESS"
        service.stop()
        service.start()  # same data folder: the job is resumed
        page = service.wait(job_id, timeout=400)
        assert page["JobStatus"] == "SUCCEEDED"
        persons, pages = all_pages(service.client(), job_id)
        assert len({p["Person"]["Index"] for p in persons}) >= 10
        meta = pages[0]["VideoMetadata"]
        rows = persons_to_mot(persons, meta["FrameRate"], meta["FrameWidth"], meta["FrameHeight"])
        quality = score(rows, shared_data / "pets09_s2l1", num_frames=795)
        assert quality["HOTA"] >= 55 and quality["MOTA"] >= 72, quality  # measured 65.1 / 81.6
    finally:
        service.stop()


def test_s3_video_and_sns_notification_through_moto(tmp_path: Path, shared_data: Path, running_service: ServiceHandle, tud_job: str) -> None:
    import boto3
    from moto.server import ThreadedMotoServer

    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    endpoint = f"http://127.0.0.1:{port}"
    creds = {"region_name": "us-east-1", "aws_access_key_id": "testing", "aws_secret_access_key": "testing", "endpoint_url": endpoint}
    try:
        s3 = boto3.client("s3", **creds)
        s3.create_bucket(Bucket="videos-in-s3")
        s3.upload_file(str(shared_data / TUD), "videos-in-s3", "clips/tud.mp4")
        sns, sqs = boto3.client("sns", **creds), boto3.client("sqs", **creds)
        topic = sns.create_topic(Name="AmazonRekognitionDone")["TopicArn"]
        queue = sqs.create_queue(QueueName="done")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

        env = {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
        service = ServiceHandle(tmp_path / "svc", free_port(), env=env).start()
        try:
            client = service.client()
            job_id = client.start_person_tracking(
                Video={"S3Object": {"Bucket": "videos-in-s3", "Name": "clips/tud.mp4"}},
                NotificationChannel={"SNSTopicArn": topic, "RoleArn": "arn:aws:iam::123456789012:role/rekognition"},
                JobTag="from-s3",
            )["JobId"]
            code = None
            try:
                client.start_person_tracking(Video={"S3Object": {"Bucket": "videos-in-s3", "Name": "clips/missing.mp4"}})
            except client.exceptions.InvalidS3ObjectException as error:
                code = error.response["Error"]["Code"]
            assert code == "InvalidS3ObjectException"
            assert service.wait(job_id)["JobStatus"] == "SUCCEEDED"
            from_s3, _ = all_pages(client, job_id)
            local, _ = all_pages(running_service.client(), tud_job)
            # the same video gives the same results from either source (onnxruntime's
            # threads may flip a rare borderline value between processes, so nearly all)
            assert abs(len(from_s3) - len(local)) <= len(local) // 100
            same = sum(a == b for a, b in zip(from_s3, local))
            assert same >= 0.97 * len(local), (same, len(local))
            messages = []
            for _ in range(20):
                messages += sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1).get("Messages", [])
                if messages:
                    break
            note = json.loads(json.loads(messages[0]["Body"])["Message"])
            assert note["JobId"] == job_id and note["Status"] == "SUCCEEDED" and note["API"] == "StartPersonTracking"
            assert note["JobTag"] == "from-s3" and note["Video"] == {"S3ObjectName": "clips/tud.mp4", "S3Bucket": "videos-in-s3"}
        finally:
            service.stop()
    finally:
        moto.stop()


def test_clients_reach_the_service_through_the_standard_endpoint_variable(
    running_service: ServiceHandle, tud_job: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Existing code changes nothing but AWS_ENDPOINT_URL_REKOGNITION."""
    import boto3

    monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", running_service.endpoint_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDANY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "anything")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    page = boto3.client("rekognition").get_person_tracking(JobId=tud_job, MaxResults=5)
    assert page["JobStatus"] == "SUCCEEDED" and len(page["Persons"]) == 5
