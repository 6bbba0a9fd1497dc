"""peoplepath.results: the detections table, summaries, segments and exports, from
hand-made pages with every optional field absent somewhere and from the real service."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from peoplepath import client as api
from peoplepath import contract, results
from tests.dash_helpers import FPS, HEIGHT, WIDTH, make_pages, make_persons


@pytest.fixture(scope="module")
def job() -> api.JobResult:
    return api.load_archive(make_pages(make_persons(4, 100), page_size=64))


@pytest.fixture(scope="module")
def table(job) -> pd.DataFrame:
    return results.table_from_job(job)


def test_table_matches_the_records(job, table):
    assert len(table) == len(job.persons)
    assert (np.diff(table["timestamp_ms"]) >= 0).all()
    by_key = {(d["Timestamp"], d["Person"]["Index"]): d["Person"] for d in job.persons}
    for row in table.itertuples():
        person = by_key[(row.timestamp_ms, row.index)]
        box, face = person.get("BoundingBox"), person.get("Face")
        assert row.has_box == (box is not None) and row.has_face == (face is not None)
        if box:
            assert row.left == box["Left"] and row.x1 == pytest.approx(box["Left"] * WIDTH)
            assert row.y2 == pytest.approx((box["Top"] + box["Height"]) * HEIGHT)
        else:
            assert math.isnan(row.left) and math.isnan(row.x1)
        lms = {m["Type"]: m for m in (face or {}).get("Landmarks", [])}
        for kind in contract.BASIC_LANDMARKS:
            value = getattr(row, f"lm_{kind}_x")
            assert (value == lms[kind]["X"]) if kind in lms else math.isnan(value)
        if face and "Pose" in face:
            assert row.pose_yaw == face["Pose"]["Yaw"] and row.sharpness == face["Quality"]["Sharpness"]
        else:
            assert math.isnan(row.pose_yaw) and math.isnan(row.sharpness)
        assert row.frame == contract.ms_to_frame(row.timestamp_ms, FPS)
    # Every optional field is absent somewhere and present somewhere.
    assert table["has_box"].any() and not table["has_box"].all()
    assert table["has_face"].any() and not table["has_face"].all()
    with_face = table[table["has_face"]]
    assert with_face["lm_nose_x"].isna().any() and with_face["lm_nose_x"].notna().any()
    assert with_face["pose_roll"].isna().any()


def test_unsorted_input_extra_landmarks_and_bad_records():
    persons = make_persons(2, 10)[::-1]
    persons[0]["Person"].setdefault("Face", {"Confidence": 90.0})["Landmarks"] = [{"Type": "leftPupil", "X": 0.5, "Y": 0.25}]
    t = results.build_table(persons)
    assert (np.diff(t["timestamp_ms"]) >= 0).all() and "x1" not in t and "frame" not in t
    assert t["lm_leftPupil_x"].notna().sum() == 1
    assert results.build_table([]).empty
    with pytest.raises(ValueError, match="Index"):
        results.build_table([{"Timestamp": 0, "Person": {}}])
    with pytest.raises(ValueError, match="shape"):
        results.build_table([{"Timestamp": "soon", "Person": {"Index": 0}}])


def test_vectorised_frames_match_the_contract():
    rng = np.random.default_rng(1)
    for fps in (7.0, 25.0, 29.97, 30000 / 1001, 10.0, 59.94):
        ms = np.concatenate([rng.integers(0, 3_600_000, 2000), [contract.frame_to_ms(i, fps) for i in range(300)]])
        expect = [contract.ms_to_frame(int(m), fps) for m in ms]
        assert results.ms_to_frames(ms, fps).tolist() == expect
    times = np.array([0, 40, 80, 120])
    assert results.frames_from_timestamps(np.array([0, 39, 40, 119, 500]), times).tolist() == [0, 0, 1, 2, 3]


def test_summary_and_segments(table):
    s = results.person_summary(table).set_index("index")
    for idx, rows in table.groupby("index"):
        assert s.at[idx, "first_ms"] == rows["timestamp_ms"].min()
        assert s.at[idx, "last_ms"] == rows["timestamp_ms"].max()
        assert s.at[idx, "detections"] == len(rows)
        assert s.at[idx, "face_share"] == pytest.approx(rows["has_face"].mean())
    seg = results.segments(table)
    # Odd persons have a gap in the middle: two segments; even persons one.
    assert seg.groupby("index").size().to_dict() == {0: 1, 1: 2, 2: 1, 3: 2}
    assert seg["detections"].sum() == len(table)
    assert len(results.segments(table, gap_ms=1e9)) == 4
    assert len(results.segments(table, gap_ms=0)) == len(table.drop_duplicates(["index", "timestamp_ms"]))
    assert results.person_summary(table.iloc[:0]).empty and results.segments(table.iloc[:0]).empty


def test_per_second_and_heatmap(table):
    ps = results.detections_per_second(table)
    assert ps["detections"].sum() == len(table) and ps["second"].tolist() == [0, 1, 2, 3]
    hist = results.heatmap(table, bins=(16, 12))
    assert hist.shape == (12, 16) and hist.sum() == table["has_box"].sum()


def test_exports_round_trip(job, table, tmp_path):
    back = pd.read_csv(io.BytesIO(results.to_csv(table)))
    assert back.shape == table.shape and (back["timestamp_ms"] == table["timestamp_ms"]).all()
    pq = pd.read_parquet(io.BytesIO(results.to_parquet(table)))
    pd.testing.assert_frame_equal(pq, table, check_like=False)
    doc = json.loads(results.to_rekognition_json(table, job))
    assert doc["Persons"] == job.persons and doc["JobId"] == job.job_id and doc["VideoMetadata"] == job.video_metadata
    assert api.load_archive(doc).persons == job.persons


def test_mot_export(table):
    text = results.to_mot(table, FPS)
    rows = np.array([[float(v) for v in line.split(",")] for line in text.splitlines()])
    boxed = table[table["has_box"]]
    assert len(rows) == len(boxed) and (rows[:, 7:] == -1).all()
    first = boxed.iloc[0]
    hit = rows[(rows[:, 0] == contract.ms_to_frame(first.timestamp_ms, FPS) + 1) & (rows[:, 1] == first["index"] + 1)][0]
    assert hit[2:6] == pytest.approx([first.x1, first.y1, first.x2 - first.x1, first.y2 - first.y1], abs=0.01)
    assert (np.diff(rows[:, 0]) >= 0).all()
    with pytest.raises(ValueError, match="frame size"):
        results.to_mot(results.build_table(make_persons(1, 3)), FPS)


def test_real_service_pages(running_service, tud_job, shared_data):
    job = api.fetch_job(api.make_client(running_service.endpoint_url), tud_job, page_size=200)
    table = results.table_from_job(job)
    assert len(table) == len(job.persons) > 100
    assert table["has_box"].all() and table["frame"].max() < 179
    summary = results.person_summary(table)
    assert summary["detections"].sum() == len(table) and (summary["duration_ms"] >= 0).all()
    # MOT export frames line up with the video's frames (25 fps, 179 frames).
    frames = {int(line.split(",")[0]) for line in results.to_mot(table, 25.0).splitlines()}
    assert min(frames) >= 1 and max(frames) <= 179
    assert json.loads(results.to_rekognition_json(table, job))["Persons"] == sorted(
        job.persons, key=lambda d: (d["Timestamp"], d["Person"]["Index"]))


def test_streamed_pages_build_the_same_compact_table(running_service, tud_job):
    """fetch_job(on_persons=...) hands each page over and keeps none; the table joined
    from one table a page (as the dashboard builds them) equals the one built from all
    records at once, with compact columns (int32 Index and frame, float32 pixels)."""
    c = api.make_client(running_service.endpoint_url)
    whole = api.fetch_job(c, tud_job)
    pages, seen = [], []
    streamed = api.fetch_job(c, tud_job, page_size=97, progress=seen.append,
                             on_persons=lambda persons: pages.append(results.build_table(results.records(persons))))
    assert streamed.persons == [] and len(pages) == streamed.pages == -(-len(whole.persons) // 97)
    assert seen[-1] == len(whole.persons) == sum(len(p) for p in pages)
    a, b = results.table_from_job(whole), results.table_from_parts(streamed, pages)
    pd.testing.assert_frame_equal(a, b)
    assert a["index"].dtype == np.int32 and a["frame"].dtype == np.int32 and a["x1"].dtype == np.float32
    assert a["left"].dtype == np.float64  # ratios stay as the API said them (exports round-trip)
    with pytest.raises(ValueError, match="Index"):
        results.build_table([{"Timestamp": 0, "Person": {"Index": -1}}])
    # fetch_job reads Persons with the json module (a botocore before-parse hook): the
    # records are those botocore's own parser gives.
    plain = api.make_client(running_service.endpoint_url).get_person_tracking(JobId=tud_job, MaxResults=1000)
    assert plain["Persons"] == whole.persons[:1000] and plain["JobStatus"] == whole.job_status


def test_streamed_table_builds_in_batches_the_same_table(running_service, tud_job):
    """StreamedTable (the dashboard's fetch) joins pages into batches of batch_rows before
    building a part, never holding a batch's worth of records after a page is added; the table is
    the one built from all records at once, whatever the batch size."""
    c = api.make_client(running_service.endpoint_url)
    whole = results.table_from_job(api.fetch_job(c, tud_job))
    for batch_rows in (1, 300, 10**9):
        streamed = results.StreamedTable(batch_rows=batch_rows)
        held: list[int] = []

        def add(persons, streamed=streamed, held=held) -> None:
            streamed.add(persons)
            held.append(streamed._held_rows)

        job = api.fetch_job(c, tud_job, page_size=97, persons_schema=results.RECORD_SCHEMA, on_persons=add)
        assert max(held) < batch_rows  # a full batch became a part at once
        parts = len(streamed._parts) + bool(streamed._held)
        pd.testing.assert_frame_equal(streamed.table(job), whole)
        assert parts == {1: job.pages, 300: -(-job.pages // 4), 10**9: 1}[batch_rows]
        assert streamed._parts == []  # let go once joined


def test_pages_read_by_arrow_build_the_same_table(running_service, tud_job):
    """With persons_schema, each page's Persons come as an Arrow table read by Arrow's
    JSON reader; the table joined from them is the one the dicts give, and a page that
    reader cannot take (pretty-printed, several lines) is read by the json module."""
    c = api.make_client(running_service.endpoint_url)
    whole = api.fetch_job(c, tud_job)
    tables: list = []
    streamed = api.fetch_job(c, tud_job, page_size=97, persons_schema=results.RECORD_SCHEMA,
                             on_persons=tables.append)
    assert all(isinstance(t, pa.Table) and t.schema == results.RECORD_SCHEMA for t in tables)
    assert sum(t.num_rows for t in tables) == len(whole.persons) and streamed.pages == len(tables)
    assert streamed.video_metadata == whole.video_metadata and streamed.s3_object == whole.s3_object
    pd.testing.assert_frame_equal(results.table_from_job(whole),
                                  results.table_from_parts(streamed, [results.build_table(t) for t in tables]))
    with pytest.raises(ValueError, match="persons_schema needs on_persons"):
        api.fetch_job(c, tud_job, persons_schema=results.RECORD_SCHEMA)

    # Arrow reads pretty-printed pages too; a page it cannot type (a field of mixed
    # types) goes to the json module, and the table is the same.
    first = results.records(whole.persons[:50])
    pretty = json.dumps({"JobStatus": "SUCCEEDED", "NextToken": "t", "Persons": whole.persons[:50]}, indent=2)
    assert api._read_with_arrow(pretty.encode(), results.RECORD_SCHEMA)[0] == {"JobStatus": "SUCCEEDED", "NextToken": "t"}
    mixed = json.dumps({"JobStatus": "SUCCEEDED", "Extra": [1, "a"], "Persons": whole.persons[:50]}).encode()
    assert api._read_with_arrow(mixed, results.RECORD_SCHEMA) is None
    for body in (pretty.encode(), mixed):
        response, handed = {"status_code": 200, "body": body}, {}
        api._PAGE.schema = results.RECORD_SCHEMA
        try:
            api._persons_by_json(response_dict=response, customized_response_dict=handed)
        finally:
            api._PAGE.schema = None
        assert handed["Persons"].equals(first) and "Persons" not in json.loads(response["body"])
