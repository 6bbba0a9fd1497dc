"""The dashboard page through streamlit.testing.v1.AppTest: loading by JobId from the
running service (deep link), a bad JobId, an unknown and a failed job, an archived file,
and the scrubbing controls."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from peoplepath import client as api
from peoplepath import contract
from tests.dash_helpers import FPS, make_persons, timeline_figure, write_archive, write_numbered_video

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture
def service_env(running_service, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", running_service.endpoint_url)
    monkeypatch.setenv("PEOPLEPATH_DATA_DIR", str(running_service.data_dir))
    return running_service


def app(**query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    for name, value in query.items():
        at.query_params[name] = value
    return at


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error] + [e.value for e in at.sidebar.error]


def qp(at: AppTest, name: str) -> str | None:
    value = at.query_params.get(name)
    return value[-1] if isinstance(value, list) else value


def click(at: AppTest, key: str) -> AppTest:
    return at.button(key=key).click().run()


def test_deep_link_loads_the_job_at_its_time(service_env, tud_job):
    at = app(job_id=tud_job, t="2000").run()
    assert not at.exception and not errors(at)
    assert any(tud_job in m.value and "SUCCEEDED" in m.value for m in at.markdown)
    assert at.session_state["frame"] == contract.ms_to_frame(2000, FPS)  # 25 fps: frame 50
    assert qp(at, "t") == "2000" and qp(at, "job_id") == tud_job
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Detections"].replace(",", "")) > 100 and int(metrics["Persons"]) > 3
    assert not at.warning  # the video matches VideoMetadata
    assert at.get("image") and timeline_figure(at)["data"]  # the frame and the timeline are on the page


def test_bad_job_id(service_env):
    at = app().run()
    at.sidebar.text_input(key="job_id").input("not a job id!").run()
    assert not at.exception
    assert any("1-64 characters" in e for e in errors(at))
    assert any("is not a JobId" in e.value for e in at.error)  # explained in the main area too
    assert not at.metric  # nothing loaded


def test_unknown_job(service_env):
    at = app(job_id="no-such-job-here").run()
    assert not at.exception
    assert any("ResourceNotFoundException" in e and "No job with this JobId" in e for e in errors(at))


def test_failed_job_shows_its_status_message(service_env):
    c = api.make_client(service_env.endpoint_url)
    job_id = api.start_job(c, "shared", "README.md")
    deadline = time.monotonic() + 60
    while api.fetch_job(c, job_id).job_status == "IN_PROGRESS" and time.monotonic() < deadline:
        time.sleep(0.3)
    at = app(job_id=job_id).run()
    assert not at.exception
    assert any("The job failed" in e and "could not be decoded" in e for e in errors(at))


def test_unreachable_endpoint_is_a_message(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL_REKOGNITION", "http://127.0.0.1:9")
    at = app(job_id="job-1").run()
    assert not at.exception
    assert any("EndpointConnectionError" in e for e in errors(at))


def test_archived_file_and_scrubbing_controls(tmp_path):
    path = write_archive(tmp_path / "archive.json", n_frames=100)
    at = app().run()
    at.sidebar.radio(key="source_kind").set_value("Archived file").run()
    at.sidebar.text_input(key="source_archive_path").input(str(path)).run()
    assert not at.exception and not errors(at)
    assert at.session_state["frame"] == 0
    click(at, "viewer_next")
    assert at.session_state["frame"] == 1 and qp(at, "t") == "40"
    click(at, "viewer_prev")
    click(at, "viewer_prev")  # clamps at the first frame
    assert at.session_state["frame"] == 0
    # Person 1 first appears at frame 5 (the other persons' detections start at 0).
    at.multiselect(key="viewer_persons").select(1).run()
    click(at, "viewer_next_det")
    assert at.session_state["frame"] == 5
    at.selectbox(key="viewer_jump_person").set_value(1).run()
    click(at, "viewer_last")
    last = at.session_state["frame"]
    assert last == 100 - 1 * 3 - 1  # person 1 is seen up to frame n_frames - 3
    click(at, "viewer_first")
    assert at.session_state["frame"] == 5
    # Odd persons are unseen between 40% and 55% of the clip: next detection skips the gap.
    seen = sorted({d["Timestamp"] // 40 for d in make_persons(n_frames=100) if d["Person"]["Index"] == 1})
    after_gap = next(f for f in seen if f > 40)
    assert after_gap > 50
    at.slider(key="frame").set_value(39).run()
    click(at, "viewer_next_det")
    assert at.session_state["frame"] == after_gap
    click(at, "viewer_prev_det")
    assert at.session_state["frame"] == 39
    assert not at.exception
    shown = at.dataframe[0].value
    assert set(shown["Index"]) == {1}  # the frame's detections, filtered to person 1


def open_archive(path: Path, video: Path | None = None) -> AppTest:
    at = app().run()
    at.sidebar.radio(key="source_kind").set_value("Archived file").run()
    at.sidebar.text_input(key="source_archive_path").input(str(path)).run()
    if video is not None:
        at.sidebar.text_input(key="source_video_path").input(str(video)).run()
    return at


def test_archives_as_users_hold_them(tmp_path):
    import json

    from tests.dash_helpers import make_pages

    persons = make_persons(3, 50)
    pages = make_pages(persons, page_size=40, n_frames=50)
    assert len(pages) > 2
    video = write_numbered_video(tmp_path / "my clip.mp4", 50)
    # A bare list of PersonDetection objects, with its video (which gives the frame size).
    bare = tmp_path / "persons.json"
    bare.write_text(json.dumps(persons))
    at = open_archive(bare, video)
    assert not at.exception and not errors(at) and not at.warning
    assert any(m.value.endswith("**Archived results**") for m in at.markdown)
    assert not any("JobId" in m.value and "Archived" in m.value for m in at.markdown)
    assert int(at.metric[1].value.replace(",", "")) == len(persons)
    assert any("my clip.mp4" in c.value for c in at.sidebar.caption)  # the video's own name
    assert qp(at, "archive") == str(bare) and qp(at, "video") == str(video)  # a reload keeps them
    again = app(archive=str(bare), video=str(video)).run()
    assert not again.exception and not errors(again)
    assert again.session_state["source_kind"] == "Archived file"
    assert int(again.metric[1].value.replace(",", "")) == len(persons)
    # JSON lines, one page a line: complete.
    lines = tmp_path / "pages.jsonl"
    lines.write_text("\n".join(json.dumps(p) for p in pages))
    at = open_archive(lines)
    assert not at.exception and not errors(at)
    assert int(at.metric[1].value.replace(",", "")) == len(persons) and not at.warning
    # A folder of page files: complete; only its first page: partial, and said so.
    folder = tmp_path / "pages"
    folder.mkdir()
    for n, page in enumerate(pages):
        (folder / f"page{n}.json").write_text(json.dumps(page))
    at = open_archive(folder)
    assert int(at.metric[1].value.replace(",", "")) == len(persons) and not at.warning
    at = open_archive(folder / "page0.json")
    assert not at.exception and not errors(at)
    assert any("Partial results" in w.value and "page 1 of a longer job" in w.value for w in at.warning)
    assert any("JobId `job-test-1`" in m.value for m in at.markdown)


def test_archive_that_is_not_results(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"hello": "world"}')
    at = app().run()
    at.sidebar.radio(key="source_kind").set_value("Archived file").run()
    at.sidebar.text_input(key="source_archive_path").input(str(bad)).run()
    assert not at.exception
    assert any("cannot be read" in e for e in errors(at))


def test_mot_file_with_its_video_and_a_mismatched_video(tmp_path, shared_data):
    at = app().run()
    at.sidebar.radio(key="source_kind").set_value("Archived file").run()
    mot = shared_data / "tud_stadtmitte" / "reference" / "tracker_output_from_motmetrics.txt"
    at.sidebar.text_input(key="source_archive_path").input(str(mot)).run()
    assert not at.exception and any("supply its video" in i.value for i in at.info)
    at.sidebar.text_input(key="source_video_path").input(str(shared_data / "tud_stadtmitte" / "tud_stadtmitte_h264.mp4")).run()
    assert not at.exception and not errors(at) and not at.warning
    assert at.metric[1].label == "Detections" and int(at.metric[1].value.replace(",", "")) > 500
    # An archive about a 640x480, 25 fps clip shown with a video of another size and rate.
    archive = write_archive(tmp_path / "a.json", n_frames=50)
    other = write_numbered_video(tmp_path / "small.mp4", 20, fps=10.0, width=320, height=240)
    at.sidebar.text_input(key="source_archive_path").input(str(archive)).run()
    at.sidebar.text_input(key="source_video_path").input(str(other)).run()
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)
    assert "320x240" in warning and "10.000 fps" in warning


def test_start_a_job_and_watch_it_run(service_env):
    at = app().run()
    at.sidebar.radio(key="source_kind").set_value("Start a job").run()
    names = at.sidebar.selectbox(key="source_start_pick").options
    clip = "shared/tud_stadtmitte/tud_stadtmitte_h264.mp4"
    assert clip in names
    at.sidebar.selectbox(key="source_start_pick").set_value(clip).run()
    at.sidebar.button(key="source_start").click().run()
    assert not at.exception and not errors(at)
    job_id = at.session_state["job_id"]
    assert contract.is_valid_job_id(job_id)
    shown = " ".join(m.value for m in at.markdown) + " ".join(i.value for i in at.info)
    assert job_id in shown and ("IN_PROGRESS" in shown or "SUCCEEDED" in shown)
    service_env.wait(job_id)
    at.run()
    assert any(job_id in m.value and "SUCCEEDED" in m.value for m in at.markdown)


def test_job_without_detections(tmp_path):
    path = tmp_path / "empty.json"
    path.write_text('{"JobStatus": "SUCCEEDED", "Persons": [], "VideoMetadata": '
                    '{"FrameRate": 25.0, "FrameWidth": 320, "FrameHeight": 240, "DurationMillis": 2000}}')
    at = app().run()
    at.sidebar.radio(key="source_kind").set_value("Archived file").run()
    at.sidebar.text_input(key="source_archive_path").input(str(path)).run()
    click(at, "viewer_next_det")  # nowhere to go: stays
    assert at.session_state["frame"] == 0
    click(at, "viewer_next")
    assert not at.exception and not errors(at) and at.session_state["frame"] == 1
    assert {i.value for i in at.info} == {"No detections in this job.", "No persons in this job."}


def test_ground_truth_scores_errors_and_next_error(shared_data):
    # Another tracker's results with their video. As a job they are Rekognition boxes (ratios
    # clipped to the frame), so they score a little above the raw file's MOTA 56.401.
    from peoplepath import gt_compare, metrics

    seq = shared_data / "tud_stadtmitte"
    mot = seq / "reference" / "tracker_output_from_motmetrics.txt"
    job = api.load_mot(mot, width=640, height=480, fps=FPS)
    rows = metrics.persons_to_mot(job.persons, FPS, 640, 480)
    expected = metrics.score(rows, seq, num_frames=179)
    at = app().run()
    at.sidebar.radio(key="source_kind").set_value("Archived file").run()
    at.sidebar.text_input(key="source_archive_path").input(str(mot)).run()
    at.sidebar.text_input(key="source_video_path").input(str(seq / "tud_stadtmitte_h264.mp4")).run()
    assert not at.exception and not errors(at) and "MOTA" not in {m.label for m in at.metric}
    at.sidebar.text_input(key="gt_path").input(str(seq)).run()
    assert not at.exception and not errors(at) and not at.warning
    metrics_shown = {m.label: m.value for m in at.metric}
    scores = ("HOTA", "MOTA", "IDF1")
    assert [metrics_shown[k] for k in scores] == [f"{expected[k]:.1f}" for k in scores]
    assert [metrics_shown[k] for k in ("ID switches", "False boxes", "Missed")] == [
        str(expected[k]) for k in ("IDSW", "FP", "FN")]
    assert metrics_shown["IDs predicted / true"] == "12 / 10" and 55 < expected["MOTA"] < 60
    assert any(t.label == "Ground truth" for t in at.tabs)

    # Next / previous error visit the frames the core library lists.
    events = gt_compare.compare(rows, metrics.read_mot(seq / "gt" / "gt.txt"), fps=FPS)
    starts = gt_compare.error_frames(events, starts_only=True)
    at.slider(key="frame").set_value(int(starts[0])).run()
    click(at, "viewer_gt_next")
    assert at.session_state["frame"] == starts[1]
    assert qp(at, "t") == str(contract.frame_to_ms(int(starts[1]), FPS))
    click(at, "viewer_gt_next")
    assert at.session_state["frame"] == starts[2]
    click(at, "viewer_gt_prev")
    assert at.session_state["frame"] == starts[1]
    # The frame's errors are listed with a reason; the caption counts them.
    shown = at.dataframe[0].value
    on_frame = events[(events["frame"] == starts[1]) & (events["kind"] != "TP")]
    assert len(shown) == len(on_frame) and list(shown.columns) == ["Error", "GT id", "Person", "Why"]
    # Only identity switches: every visit lands on one.
    switches = gt_compare.error_frames(events, ["IDSW"])
    at.button_group(key="viewer_gt_kinds").set_value(["IDSW"]).run()
    at.slider(key="frame").set_value(0).run()
    for expected in switches[:3]:
        click(at, "viewer_gt_next")
        assert at.session_state["frame"] == expected
    assert "ID switch" in " ".join(at.dataframe[0].value["Error"])
    assert not at.exception


def test_ground_truth_of_another_clip_is_flagged(shared_data, tmp_path):
    archive = write_archive(tmp_path / "a.json", n_frames=100)
    at = app().run()
    at.sidebar.radio(key="source_kind").set_value("Archived file").run()
    at.sidebar.text_input(key="source_archive_path").input(str(archive)).run()
    at.sidebar.text_input(key="gt_path").input(str(shared_data / "pets09_s2l1" / "gt" / "gt.txt")).run()
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)
    assert "768x576" in warning and "reaches frame 795" in warning and "No box matches" in warning
    at.sidebar.text_input(key="gt_path").input(str(tmp_path / "missing.txt")).run()
    assert any("ground truth cannot be read" in e for e in errors(at))
