"""`python -m peoplepath eval` reproduces the reference scores from a Rekognition-shaped file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import REPO

from peoplepath import contract
from peoplepath.metrics import read_mot


def test_eval_cli_reproduces_the_reference(tmp_path: Path, shared_data: Path) -> None:
    tud = shared_data / "tud_stadtmitte"
    rows = read_mot(tud / "reference" / "tracker_output_from_motmetrics.txt")
    # boxes as ratios, not clipped: Rekognition's may reach outside the frame
    persons = [
        {
            "Timestamp": contract.frame_to_ms(int(f) - 1, 25.0),
            "Person": {"Index": int(i) - 1, "BoundingBox": {"Left": x / 640, "Top": y / 480, "Width": w / 640, "Height": h / 480}},
        }
        for f, i, x, y, w, h in rows[:, :6]
    ]
    document = {"JobStatus": "SUCCEEDED", "VideoMetadata": {"FrameRate": 25.0, "FrameWidth": 640, "FrameHeight": 480}, "Persons": persons}
    # as a list of two pages, the way a paging client archives them
    pages = [dict(document, Persons=persons[:500], NextToken="t"), dict(document, Persons=persons[500:])]
    path = tmp_path / "reference.json"
    path.write_text(json.dumps(pages))
    done = subprocess.run(
        [sys.executable, "-m", "peoplepath", "eval", str(path), "--gt", str(tud)], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    line = next(l for l in done.stdout.splitlines() if l.startswith("TUD-Stadtmitte"))
    hota, mota, idf1 = line.split()[1:4]
    assert (hota, mota, idf1) == ("39.785", "56.401", "64.462")


def test_eval_cli_explains_a_wrong_folder(tmp_path: Path) -> None:
    (tmp_path / "r.json").write_text('{"JobStatus": "SUCCEEDED", "Persons": []}')
    done = subprocess.run(
        [sys.executable, "-m", "peoplepath", "eval", str(tmp_path / "r.json"), "--gt", str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "seqinfo.ini" in done.stderr and "Traceback" not in done.stderr
