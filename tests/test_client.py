"""peoplepath.client: paging GetPersonTracking through real boto3 against the running
service, errors with their AWS codes, and archived files in all three shapes."""

from __future__ import annotations

import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from peoplepath import client as api
from peoplepath import contract
from tests.conftest import free_port
from tests.dash_helpers import make_pages, make_persons


def test_fetch_pages_through_the_service(running_service, tud_job):
    c = api.make_client(running_service.endpoint_url)
    seen: list[int] = []
    paged = api.fetch_job(c, tud_job, page_size=97, progress=seen.append)
    whole = api.fetch_job(c, tud_job)
    assert paged.job_status == "SUCCEEDED" and paged.job_id == tud_job
    assert paged.pages > 2 and paged.pages == len(seen)
    assert seen == sorted(seen) and seen[-1] == len(paged.persons)
    assert paged.persons == whole.persons and len(whole.persons) > 100
    assert paged.video_metadata["FrameWidth"] == 640 and paged.job_tag == "tud"
    assert paged.s3_object == {"Bucket": "shared", "Name": "tud_stadtmitte/tud_stadtmitte_h264.mp4"}
    assert api.local_video_path(paged, running_service.data_dir).is_file()
    # The merged response reads back as an archive (AWS CLI output).
    again = api.load_archive(json.dumps(paged.to_response()).encode())
    assert again.persons == paged.persons and again.job_id == tud_job


def test_pages_are_requested_up_to_two_ahead(running_service, tud_job):
    """While page k is handed over, pages k+1 and k+2 are already asked for (each as soon
    as the page before shows its NextToken, before its Persons are read), never k+3,
    and no request goes beyond the last page."""
    c = api.make_client(running_service.endpoint_url)
    total = api.fetch_job(c, tud_job, page_size=97).pages
    requests: list[dict] = []
    c.meta.events.register("before-parameter-build.rekognition.GetPersonTracking",
                           lambda params, **_: requests.append(dict(params)))
    seen_while_handing: list[int] = []

    def on_persons(persons: list) -> None:
        want = min(len(seen_while_handing) + 3, total)  # handing page k: k+2 asked for
        deadline = time.monotonic() + 10
        while len(requests) < want and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.05)  # room for a request too many to show
        seen_while_handing.append(len(requests))

    job = api.fetch_job(c, tud_job, page_size=97, on_persons=on_persons)
    assert total > 4 and job.pages == total and len(requests) == total
    assert seen_while_handing == [min(k + 2, total) for k in range(1, total + 1)]


class _Pages(BaseHTTPRequestHandler):
    """GetPersonTracking over real HTTP from `server.pages` (NextToken -> raw body)."""

    def do_POST(self) -> None:
        token = json.loads(self.rfile.read(int(self.headers["Content-Length"]))).get("NextToken")
        self.server.seen.append(token)
        body = self.server.pages.get(token)
        status = 200 if body is not None else 400
        if body is None:
            body = json.dumps({"__type": "InvalidPaginationTokenException", "message": "no such token"})
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.1")
        self.send_header("Content-Length", str(len(body.encode())))
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args) -> None:
        pass


@pytest.mark.parametrize("as_table", [False, True])
def test_a_wrong_guess_at_the_next_token_is_overruled(as_table):
    """A page whose raw body names a NextToken that is not its own (here nested in a field
    boto3 ignores, while the real one is escaped): the guess is asked for and dropped,
    the page's real token followed, and every detection comes once, in order."""
    persons = make_persons(3, 30)
    thirds = [persons[i::3] for i in range(3)]
    rec = [",".join(json.dumps(p) for p in part) for part in thirds]
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), _Pages)
    server.seen = []
    server.pages = {
        None: '{"JobStatus":"SUCCEEDED","Extra":{"NextToken":"decoy"},"NextToken":"p\\u0032","Persons":[%s]}' % rec[0],
        "p2": '{"JobStatus":"SUCCEEDED","NextToken":"p3","Persons":[%s]}' % rec[1],
        "p3": '{"JobStatus":"SUCCEEDED","Persons":[%s]}' % rec[2],
    }
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        c = api.make_client(f"http://127.0.0.1:{server.server_address[1]}")
        got: list = []
        if as_table:
            from peoplepath import results

            job = api.fetch_job(c, "job-1", on_persons=lambda t: got.extend(t.to_pylist()),
                                persons_schema=results.RECORD_SCHEMA)
            got = [p["Timestamp"] for p in got]
        else:
            job = api.fetch_job(c, "job-1")
            got = [p["Timestamp"] for p in job.persons]
    finally:
        server.shutdown()
        server.server_close()
    assert job.pages == 3 and job.job_status == "SUCCEEDED"
    assert got == [p["Timestamp"] for part in thirds for p in part]
    assert sorted(server.seen, key=str) == sorted([None, "decoy", "p2", "p3"], key=str)


def test_status_of_a_finished_job_is_one_call(running_service, tud_job):
    """Polling reads the status from one call, never paging through the results (a
    finished job of hours would otherwise take one request per detection)."""
    c = api.make_client(running_service.endpoint_url)
    calls: list[dict] = []
    c.meta.events.register("before-parameter-build.rekognition.GetPersonTracking", lambda params, **_: calls.append(dict(params)))
    job = api.fetch_status(c, tud_job)
    assert job.job_status == "SUCCEEDED" and job.job_id == tud_job and job.partial is None
    assert job.video_metadata["FrameWidth"] == 640 and job.persons == []
    assert len(calls) == 1 and calls[0]["MaxResults"] == 1
    with pytest.raises(api.ClientCallError) as err:
        api.fetch_status(c, "no-such-job")
    assert err.value.code == "ResourceNotFoundException"


def test_bad_job_id_is_refused_before_any_call():
    c = api.make_client(f"http://127.0.0.1:{free_port()}", max_attempts=1)  # nothing listens there
    for bad in ("", "has space", "x" * 65, "semi;colon"):
        with pytest.raises(api.InvalidJobIdError) as err:
            api.fetch_job(c, bad)
        assert err.value.code == "InvalidParameterException"


def test_unknown_job_and_unreachable_endpoint(running_service):
    with pytest.raises(api.ClientCallError) as err:
        api.fetch_job(api.make_client(running_service.endpoint_url), "no-such-job")
    assert err.value.code == "ResourceNotFoundException" and "no-such-job" in err.value.message
    with pytest.raises(api.ClientCallError) as err:
        api.fetch_job(api.make_client(f"http://127.0.0.1:{free_port()}", max_attempts=1), "job-1")
    assert err.value.code == "EndpointConnectionError"


def test_start_job_and_failed_status(running_service):
    c = api.make_client(running_service.endpoint_url)
    with pytest.raises(api.ClientCallError) as err:
        api.start_job(c, "shared", "no/such/video.mp4")
    assert err.value.code == "InvalidS3ObjectException"
    job_id = api.start_job(c, "shared", "README.md", job_tag="not-a-video")
    deadline = time.monotonic() + 60
    while (job := api.fetch_job(c, job_id)).job_status == "IN_PROGRESS" and time.monotonic() < deadline:
        time.sleep(0.3)
    assert job.job_status == "FAILED" and job.status_message and job.persons == []


def test_make_client_standard_settings(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", "http://127.0.0.1:9")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_DEFAULT_REGION", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    c = api.make_client()
    assert c.meta.endpoint_url == "http://127.0.0.1:9"
    assert c.meta.region_name == "us-east-1"
    assert c.meta.config.retries["mode"] == "standard"
    assert c._request_signer._credentials.access_key  # a placeholder key for a local endpoint
    assert api.make_client("http://127.0.0.1:10", region_name="eu-west-1").meta.region_name == "eu-west-1"


# ------------------------------------------------------------------------------ archives
def test_archive_in_three_shapes(tmp_path):
    persons = make_persons(3, 40)
    pages = make_pages(persons, page_size=25)
    assert len(pages) > 2
    merged = {**pages[0], "Persons": persons}
    merged.pop("NextToken")
    path = tmp_path / "cli.json"
    path.write_text(json.dumps(merged))
    for source in (pages, json.dumps(pages), json.dumps(pages[0]).encode(), path, str(path),
                   io.BytesIO(json.dumps(merged).encode())):
        job = api.load_archive(source)
        assert job.job_status == "SUCCEEDED" and job.job_id == "job-test-1"
        assert job.video_metadata["FrameRate"] == 25.0
    assert api.load_archive(pages).persons == persons
    assert api.load_archive(path).persons == persons
    assert api.load_archive(pages[0]).persons == pages[0]["Persons"]
    assert api.load_archive({"Persons": []}).job_status == "SUCCEEDED"  # status absent: archived = finished


@pytest.mark.parametrize("doc, message", [
    (b"not json", "Not JSON"),
    (b"", "empty"),
    (b"[]", "empty list"),
    (b'{"Foo": 1}', "neither a GetPersonTracking response"),
    (b'[{"Persons": []}, 3]', "Item 2"),
    (b'{"Persons": []}\n{"Persons": [] x', "line 2"),
    (b'[{"Timestamp": 0, "Person": {"Index": 0}}, {"Persons": []}]', "follows PersonDetection"),
    (b'{"Persons": [], "JobId": "a"}\n{"Persons": [], "JobId": "b"}', "2 different jobs"),
    (b'{"Persons": {"a": 1}}', "must be a list"),
    (b'{"Persons": [1, 2]}', "PersonDetection object"),
    (b'{"JobStatus": "DONE", "Persons": []}', "JobStatus must be one of"),
])
def test_archive_errors_are_clear(doc, message):
    with pytest.raises(api.ArchiveError, match=message):
        api.load_archive(doc)


def test_archive_missing_file(tmp_path):
    with pytest.raises(api.ArchiveError, match="No such file"):
        api.load_archive(tmp_path / "nope.json")


def test_mot_file_from_another_tracker(shared_data):
    path = shared_data / "tud_stadtmitte" / "reference" / "tracker_output_from_motmetrics.txt"
    job = api.load_mot(path, width=640, height=480, fps=25.0)
    lines = [line.split(",") for line in path.read_text().splitlines() if line.strip()]
    assert len(job.persons) == len(lines) and job.job_status == "SUCCEEDED"
    first = job.persons[0]
    frame0 = min(int(float(p[0])) for p in lines)
    assert first["Timestamp"] == contract.frame_to_ms(frame0 - 1, 25.0)
    assert {p["Person"]["Index"] for p in job.persons} == set(range(len({p[1] for p in lines})))
    assert job.video_metadata["FrameWidth"] == 640
    # Back out as MOT: the same boxes on the same frames (CRLF endings in, LF out).
    from peoplepath import results

    again = results.to_mot(results.table_from_job(job), 25.0).splitlines()
    assert len(again) == len(lines)
    def boxes(rows):  # (frame, x1, y1, x2, y2) clipped to the frame (ratios are clipped), sorted
        arr = np.array([[float(v) for v in r[:6]] for r in rows])
        x1, y1 = np.clip(arr[:, 2], 0, 640), np.clip(arr[:, 3], 0, 480)
        x2, y2 = np.clip(arr[:, 2] + arr[:, 4], 0, 640), np.clip(arr[:, 3] + arr[:, 5], 0, 480)
        out = np.stack([arr[:, 0], x1, y1, x2, y2], axis=1)
        return out[np.lexsort(out.T[::-1])]

    assert np.allclose(boxes(lines), boxes([p.split(",") for p in again]), atol=0.01)
    for bad, message in ((b"1,2,3\n", "Line 1"), (b"0,1,1,1,5,5\n", "start at 1"), (b"1,-1,1,1,5,5\n", "no tracked")):
        with pytest.raises(api.ArchiveError, match=message):
            api.load_mot(bad, width=640, height=480, fps=25.0)
    with pytest.raises(api.ArchiveError, match="frame size"):
        api.load_mot(b"1,1,1,1,5,5\n", width=0, height=480, fps=25.0)


def test_download_video_from_s3(tmp_path, monkeypatch):
    from moto import mock_aws

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    job = api.JobResult("job-1", "SUCCEEDED", video={"S3Object": {"Bucket": "clips", "Name": "a/b.mp4"}})
    with mock_aws():
        import boto3

        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="clips")
        s3.put_object(Bucket="clips", Key="a/b.mp4", Body=b"video bytes")
        path = api.download_video(job, tmp_path, s3_client=s3)
        assert path.read_bytes() == b"video bytes" and path.name == "b.mp4"
        assert api.download_video(job, tmp_path, s3_client=s3) == path  # reused, not fetched again
        missing = api.JobResult("job-2", "SUCCEEDED", video={"S3Object": {"Bucket": "clips", "Name": "nope.mp4"}})
        with pytest.raises(api.ClientCallError):
            api.download_video(missing, tmp_path, s3_client=s3)
    assert api.local_video_path(job, tmp_path) is None
    with pytest.raises(api.ClientCallError, match="InvalidS3ObjectException"):
        api.download_video(api.JobResult(None, "SUCCEEDED"), tmp_path)
