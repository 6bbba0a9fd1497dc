"""peoplepath.metrics against the reference scores and against TrackEval's own file pipeline."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from peoplepath import contract, metrics

DATA = Path(os.environ.get("PEOPLEPATH_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
TUD = DATA / "tud_stadtmitte"
PETS = DATA / "pets09_s2l1"


def test_reproduces_reference_scores_exactly() -> None:
    # EXPECTED_METRICS.txt: TrackEval 1.3.0 (MOT15) and py-motmetrics 1.4.0 on the CRLF file.
    rows = metrics.read_mot(TUD / "reference" / "tracker_output_from_motmetrics.txt")
    assert b"\r\n" in (TUD / "reference" / "tracker_output_from_motmetrics.txt").read_bytes()
    r = metrics.score(rows, TUD)
    assert (round(r["MOTA"], 3), round(r["IDF1"], 3), round(r["HOTA"], 3)) == (56.401, 64.462, 39.785)
    assert (round(r["DetA"], 3), round(r["AssA"], 3), round(r["LocA"], 3)) == (39.227, 40.884, 73.752)
    assert (round(r["MOTP"], 2), round(r["IDP"], 3), round(r["IDR"], 3)) == (65.41, 81.976, 53.114)
    assert (r["IDSW"], r["FP"], r["FN"], r["TP"], r["Frag"]) == (7, 45, 452, 704, 6)
    assert (r["MT"], r["PT"], r["ML"]) == (5, 4, 1)
    assert (r["predicted_ids"], r["true_ids"], r["dets"], r["gt_dets"]) == (12, 10, 749, 1156)
    # the same with ground truth given as rows or as the gt.txt path
    assert metrics.score(rows, metrics.read_mot(TUD / "gt" / "gt.txt")) == r
    assert metrics.score(rows, TUD / "gt" / "gt.txt") == r


def _trackeval_files(tmp_path: Path, seq: Path, name: str, tracker_rows: np.ndarray, length: int) -> dict:
    """Score with TrackEval's own Evaluator + MotChallenge2DBox (MOT15) from files."""
    from trackeval import Evaluator
    from trackeval.datasets import MotChallenge2DBox
    from trackeval.metrics import CLEAR, HOTA, Identity

    (tmp_path / "gt" / name / "gt").mkdir(parents=True)
    shutil.copy(seq / "gt" / "gt.txt", tmp_path / "gt" / name / "gt" / "gt.txt")
    (tmp_path / "tr" / "t" / "data").mkdir(parents=True)
    np.savetxt(tmp_path / "tr" / "t" / "data" / f"{name}.txt", tracker_rows, delimiter=",", fmt="%.6f")
    quiet = {"PRINT_CONFIG": False}
    with contextlib.redirect_stdout(io.StringIO()):
        dataset = MotChallenge2DBox({
            "GT_FOLDER": str(tmp_path / "gt"), "TRACKERS_FOLDER": str(tmp_path / "tr"), "BENCHMARK": "MOT15",
            "SKIP_SPLIT_FOL": True, "SEQ_INFO": {name: length}, "TRACKERS_TO_EVAL": ["t"], **quiet})
        evaluator = Evaluator({"USE_PARALLEL": False, "PRINT_RESULTS": False, "OUTPUT_SUMMARY": False,
                               "OUTPUT_DETAILED": False, "PLOT_CURVES": False, "TIME_PROGRESS": False,
                               "LOG_ON_ERROR": None, **quiet})
        res, _ = evaluator.evaluate([dataset], [HOTA(), CLEAR({"THRESHOLD": 0.5, **quiet}),
                                                Identity({"THRESHOLD": 0.5, **quiet})])
    return res["MotChallenge2DBox"]["t"][name]["pedestrian"]


def test_ignore_rows_match_trackeval_file_pipeline(tmp_path: Path) -> None:
    # PETS gt has 174 `consider == 0` rows. Tracker: every gt row (ignored ones included),
    # jittered, with ids swapped in the second half: FPs, IDSWs and partial overlaps.
    gt = metrics.read_mot(PETS / "gt" / "gt.txt")
    assert np.sum(gt[:, 6] == 0) > 0
    rng = np.random.default_rng(0)
    tr = gt[:, :10].copy()
    tr[:, 7:] = -1  # TrackEval reads column 8 of tracker rows as a class
    tr[:, 2:6] += rng.normal(0, 4, size=(len(tr), 4))
    late = tr[:, 0] > 400
    tr[late, 1] = (tr[late, 1] * 7) % 23 + 100
    ref = _trackeval_files(tmp_path, PETS, "PETS09-S2L1", tr, 795)
    ours = metrics.score(tr, PETS, num_frames=795)
    assert ours["HOTA"] == pytest.approx(100 * ref["HOTA"]["HOTA"].mean(), abs=1e-9)
    assert ours["MOTA"] == pytest.approx(100 * ref["CLEAR"]["MOTA"], abs=1e-9)
    assert ours["IDF1"] == pytest.approx(100 * ref["Identity"]["IDF1"], abs=1e-9)
    assert (ours["IDSW"], ours["FP"], ours["FN"]) == (ref["CLEAR"]["IDSW"], ref["CLEAR"]["CLR_FP"],
                                                        ref["CLEAR"]["CLR_FN"])
    assert ours["FP"] >= 150 and ours["IDSW"] > 0  # the ignore rows really were dropped from gt


def test_persons_round_trip_through_rekognition_shape() -> None:
    gt = metrics.read_mot(TUD / "gt" / "gt.txt")
    fps, width, height = 25.0, 640, 480
    persons = []
    for f, i, x, y, w, h in gt[:, :6]:
        persons.append(contract.person_detection(contract.frame_to_ms(int(f) - 1, fps), int(i) - 1,
                                                 (x, y, x + w, y + h), None, width, height))
    persons.append({"Timestamp": 0, "Person": {"Index": 99}})  # no BoundingBox: skipped
    rows = metrics.persons_to_mot(persons, fps, width, height)
    assert rows.shape == (len(gt), 10)
    assert np.array_equal(np.sort(rows[:, 0]), np.sort(gt[:, 0]))
    r = metrics.score(rows, TUD)
    assert (r["MOTA"], r["IDF1"], r["IDSW"], r["predicted_ids"]) == (100.0, 100.0, 0, 10)
    assert r["HOTA"] > 95  # boxes are clipped to the frame, so not all are identical


def test_tracks_to_mot_is_frame_plus_one_and_xywh() -> None:
    tracks = {2: [(5, np.array([10, 20, 30, 60]), 0.9)], 1: [(5, np.array([0, 0, 1, 2]), 0.5), (0, [1, 1, 2, 2], 0.4)]}
    rows = metrics.tracks_to_mot(tracks)
    assert rows[:, :7].tolist() == [[1, 1, 1, 1, 1, 1, 0.4], [6, 1, 0, 0, 1, 2, 0.5], [6, 2, 10, 20, 20, 40, 0.9]]


def test_bad_input_is_rejected(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("1,2,3\n")
    with pytest.raises(ValueError, match="at least 6"):
        metrics.read_mot(bad)
    gt = metrics.read_mot(TUD / "gt" / "gt.txt")
    dup = np.array([[1, 5, 0, 0, 10, 10, 1], [1, 5, 20, 0, 10, 10, 1]], float)
    with pytest.raises(ValueError, match="same id twice in frame 1"):
        metrics.score(dup, gt)
    with pytest.raises(ValueError, match="frame numbers"):
        metrics.score(np.array([[0, 1, 0, 0, 1, 1, 1]], float), gt)
    with pytest.raises(FileNotFoundError):
        metrics.score(dup[:1], tmp_path)
    with pytest.raises(ValueError, match="frame_rate"):
        metrics.persons_to_mot([], 0, 640, 480)
