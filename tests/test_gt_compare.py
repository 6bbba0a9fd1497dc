"""peoplepath.gt_compare: per-frame CLEAR MOT events whose totals equal TrackEval's
counts (metrics.score) on the shared clips, summaries, navigation and the overlay."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from peoplepath import contract, gt_compare, metrics, overlay, results
from peoplepath.client import load_archive

REPO = Path(__file__).resolve().parents[1]
COUNTS = ("TP", "FP", "FN", "IDSW")


@pytest.fixture(scope="session")
def tud_engine(tmp_path_factory: pytest.TempPathFactory, shared_data: Path):
    """The engine's results on TUD-Stadtmitte (about 10 s), as a JobResult."""
    out = tmp_path_factory.mktemp("engine") / "tud.json"
    video = shared_data / "tud_stadtmitte" / "tud_stadtmitte_h264.mp4"
    subprocess.run([sys.executable, "-m", "peoplepath", "track", str(video), "--out", str(out), "--max-fps", "30"],
                   cwd=REPO, check=True, capture_output=True)
    return load_archive(out)


def test_engine_output_counts_equal_trackeval(tud_engine, shared_data: Path) -> None:
    job, meta = tud_engine, tud_engine.video_metadata
    table = results.table_from_job(job)
    rows = gt_compare.mot_rows(table, meta["FrameRate"])
    ref_rows = metrics.persons_to_mot(job.persons, meta["FrameRate"], meta["FrameWidth"], meta["FrameHeight"])
    key = lambda r: r[np.lexsort((r[:, 1], r[:, 0]))]  # noqa: E731
    # the table (compact float32 pixel columns) gives the rows the API records give
    assert np.allclose(key(rows), key(ref_rows), rtol=0, atol=1e-3)
    gt = metrics.read_mot(shared_data / "tud_stadtmitte" / "gt" / "gt.txt")
    events = gt_compare.compare(rows, gt, fps=meta["FrameRate"])
    score = metrics.score(ref_rows, gt)
    assert gt_compare.totals(events) == {k: score[k] for k in COUNTS}
    assert score["IDSW"] > 0 and score["FP"] > 0 and score["FN"] > 0  # every kind is exercised
    truths, persons = gt_compare.gt_summary(events), gt_compare.person_summary(events)
    assert [int((truths["status"] == s).sum()) for s in ("MT", "PT", "ML")] == [score["MT"], score["PT"], score["ML"]]
    assert len(truths) == score["true_ids"] and len(persons) == score["predicted_ids"]
    assert truths["switches"].sum() == persons["switches"].sum() == score["IDSW"]
    assert persons["boxes"].sum() == score["dets"] and truths["frames"].sum() == score["gt_dets"]
    assert set(persons["index"]) == set(table["index"])
    # Frames are 0-based video frames, timed by the video's frame times.
    assert events["frame"].min() == 0 and events["frame"].max() == 178
    assert (events["time_ms"] == [contract.frame_to_ms(f, 25.0) for f in events["frame"]]).all()


def test_reference_tracker_known_counts(shared_data: Path) -> None:
    seq = shared_data / "tud_stadtmitte"
    rows = metrics.read_mot(seq / "reference" / "tracker_output_from_motmetrics.txt")
    events = gt_compare.compare(rows, metrics.read_mot(seq / "gt" / "gt.txt"), fps=25.0)
    assert gt_compare.totals(events) == {"TP": 704, "FP": 45, "FN": 452, "IDSW": 7}
    sw = events[events["kind"] == "IDSW"]
    assert sw["prev_index"].notna().all() and (sw["prev_index"] != sw["index"]).all()
    assert (sw["iou"] >= 0.5).all()
    fn = events[events["kind"] == "FN"]
    assert fn[["gt_x1", "gt_y1", "gt_x2", "gt_y2"]].notna().all().all() and fn["x1"].isna().all()


def test_pets_ignore_regions_and_switches_match_trackeval(shared_data: Path) -> None:
    # Every gt row (ignore rows too) as a jittered tracker box, ids shuffled after frame
    # 400, plus Faster R-CNN detections of the first 100 frames as extra tracks.
    seq = shared_data / "pets09_s2l1"
    gt = metrics.read_mot(seq / "gt" / "gt.txt")
    rng = np.random.default_rng(1)
    tr = gt[:, :10].copy()
    tr[:, 2:6] += rng.normal(0, 5, size=(len(tr), 4))
    late = tr[:, 0] > 400
    tr[late, 1] = (tr[late, 1] * 7) % 23 + 100
    det = metrics.read_mot(seq / "det" / "det_frcnn_from_sort_repo.txt")
    det = det[(det[:, 0] <= 100) & (det[:, 6] > 0.5)][:, :10]
    det[:, 1] = 1000 + np.arange(len(det))
    rows = np.vstack([tr, det])
    events = gt_compare.compare(rows, gt, fps=7.0)
    score = metrics.score(rows, gt, num_frames=795)
    assert gt_compare.totals(events) == {k: score[k] for k in COUNTS}
    assert score["IDSW"] > 10 and score["FP"] > 150
    flagged = events[events["in_ignore"]]
    assert len(flagged) >= 80 and (flagged["kind"] == "FP").all()  # most of the 174 jittered ignore rows
    assert set(gt_compare.describe(flagged)) == {"box on an ignore region of the ground truth"}


def test_matching_rules_on_a_hand_made_sequence() -> None:
    box = lambda f, i, x: [f, i, x, 10, 20, 40, 1, -1, -1, -1]  # noqa: E731
    gt = np.array([box(1, 7, 0), box(2, 7, 2), box(3, 7, 4), box(4, 7, 6), box(4, 8, 100), box(6, 7, 8)], float)
    tr = np.array([
        box(1, 1, 0),
        box(2, 1, 4), box(2, 2, 2),   # 2 overlaps better, but 1 continues the match: CLEAR keeps 1
        box(3, 2, 4),                 # now 2 takes gt 7 over: an identity switch from person 0
        box(4, 2, 60),                # far from everything: a false box; gt 7 and 8 are missed
        box(6, 2, 8),                 # back on gt 7 with the same id: no switch
    ], float)
    times = np.array([0, 40, 80, 130, 170, 210])  # a variable-rate video's frame times
    ev = gt_compare.compare(tr, gt, frame_times_ms=times)
    got = [(int(f), k, _opt(g), _opt(i), _opt(p)) for f, k, g, i, p in
           ev[["frame", "kind", "gt_id", "index", "prev_index"]].itertuples(index=False)]
    assert got == [
        (0, "TP", 7, 0, None),
        (1, "TP", 7, 0, None), (1, "FP", None, 1, None),
        (2, "IDSW", 7, 1, 0),
        (3, "FP", None, 1, None), (3, "FN", 7, None, None), (3, "FN", 8, None, None),
        (5, "TP", 7, 1, None),
    ]
    assert ev["time_ms"].tolist() == [times[f] for f in ev["frame"]]
    assert ev.iloc[0][["x1", "y1", "x2", "y2"]].tolist() == [0, 10, 20, 50]
    why = dict(zip(zip(ev["frame"], ev["kind"].astype(str)), gt_compare.describe(ev)))
    assert why[(2, "IDSW")] == "gt 7 was #0, now #1"
    assert why[(1, "FP")] == "duplicate: the person has another box"  # IoU 1 with gt 7, which kept #0
    assert why[(3, "FP")] == "no person here"
    assert gt_compare.totals(ev) == {k: metrics.score(tr, gt)[k] for k in COUNTS}
    assert gt_compare.error_frames(ev).tolist() == [1, 2, 3]
    assert gt_compare.error_frames(ev, ["IDSW"]).tolist() == [2]
    truths = gt_compare.gt_summary(ev).set_index("gt_id")
    assert truths.loc[7, "indexes"] == [0, 1] and truths.loc[7, "missed"] == 1 and truths.loc[8, "status"] == "ML"


def _opt(v):
    return None if pd.isna(v) else int(v)


def test_error_starts_skip_continuing_errors() -> None:
    box = lambda f, i, x: [f, i, x, 0, 20, 40, 1, -1, -1, -1]  # noqa: E731
    gt = np.array([box(f, 1, 0) for f in range(1, 9)], float)
    # gt 1 matched on frames 1-2, missed 3-5, matched 6, missed 7-8; a false box on 2-4.
    tr = np.array([box(f, 1, 0) for f in (1, 2, 6)] + [box(f, 5, 500) for f in (2, 3, 4)], float)
    ev = gt_compare.compare(tr, gt, fps=10.0)
    assert gt_compare.error_frames(ev).tolist() == [1, 2, 3, 4, 6, 7]
    assert gt_compare.error_frames(ev, starts_only=True).tolist() == [1, 2, 6]
    assert gt_compare.error_frames(ev, ["FP"], starts_only=True).tolist() == [1]


def test_bad_input_is_rejected() -> None:
    gt = np.array([[1, 1, 0, 0, 10, 10, 1]], float)
    with pytest.raises(ValueError, match="fps or frame_times_ms"):
        gt_compare.compare(gt[:, :6], gt)
    with pytest.raises(ValueError, match="7"):
        gt_compare.compare(gt, gt[:, :6], fps=25)
    with pytest.raises(ValueError, match="same id twice in frame 1"):
        gt_compare.compare(np.vstack([gt, gt]), gt, fps=25)
    with pytest.raises(ValueError, match="frame numbers"):
        gt_compare.compare(np.array([[0.5, 1, 0, 0, 1, 1, 1]]), gt, fps=25)
    with pytest.raises(ValueError, match="choose from"):
        gt_compare.error_frames(gt_compare.compare(gt, gt, fps=25), ["MISS"])
    with pytest.raises(ValueError, match="frame size"):
        gt_compare.mot_rows(pd.DataFrame({"has_box": [True], "timestamp_ms": [0], "index": [0]}), 25)
    empty = gt_compare.compare(np.zeros((0, 10)), gt, fps=25)
    assert gt_compare.totals(empty) == {"TP": 0, "FP": 0, "FN": 1, "IDSW": 0}
    assert gt_compare.person_summary(empty).empty and len(gt_compare.gt_summary(empty)) == 1


def test_overlay_draws_each_kind_without_touching_the_frame() -> None:
    box = lambda f, i, x: [f, i, x, 40, 60, 120, 1, -1, -1, -1]  # noqa: E731
    gt = np.array([box(1, 1, 20), box(1, 2, 200), box(2, 1, 22)], float)
    tr = np.array([box(1, 1, 20), box(1, 9, 400), box(2, 3, 22)], float)  # frame 2: a switch 0 -> 2
    ev = gt_compare.compare(tr, gt, fps=25)
    image = np.full((240, 640, 3), 90, np.uint8)

    def draw(img: np.ndarray, frame: int) -> np.ndarray:
        layer = overlay.GroundTruthAnnotator(ev[ev["frame"] == frame], (640, 240))
        return overlay.render(img, overlay.View(pd.DataFrame()), [layer])

    first = draw(image, 0)
    assert (image == 90).all()
    magenta = (first[..., 0] > 200) & (first[..., 1] < 60) & (first[..., 2] > 200)
    assert magenta[40:160, 195:265].sum() > 100 and magenta[:, :180].sum() == 0  # only the missed gt 2
    fp = first[60:140, 410:450].reshape(-1, 3).mean(axis=0)  # inside the false box: tinted red
    assert fp[2] > fp[0] + 40
    second = draw(image, 1)
    yellow = (second[..., 0] < 60) & (second[..., 1] > 180) & (second[..., 2] > 230)
    assert yellow[25:60, 70:100].sum() > 20  # the switch marker at the box's top-right corner
    # Drawn in the results' pixel space, scaled to a smaller frame.
    half = draw(image[::2, ::2], 0)
    magenta = (half[..., 0] > 200) & (half[..., 1] < 60) & (half[..., 2] > 200)
    assert magenta[20:80, 97:133].sum() > 30
    with pytest.raises(ValueError, match="size"):
        overlay.GroundTruthAnnotator(ev, (0, 240))
