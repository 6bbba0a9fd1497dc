"""`python -m peoplepath convert` as a user runs it: every archive form in, every export
out, partial archives warned about, MOTChallenge with its video."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from peoplepath import client as api
from peoplepath import results
from tests.dash_helpers import make_pages, make_persons, write_numbered_video

REPO = Path(__file__).resolve().parents[1]


def run(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "peoplepath", "convert", *map(str, args)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def pages(tmp_path):
    persons = make_persons(3, 40)
    pages = make_pages(persons, page_size=30, n_frames=40)
    files = []
    for n, page in enumerate(pages):
        files.append(tmp_path / f"page{n}.json")
        files[-1].write_text(json.dumps(page))
    return persons, files


def test_page_files_to_every_format(pages, tmp_path):
    persons, files = pages
    n_persons = len({p["Person"]["Index"] for p in persons})
    for fmt in ("csv", "parquet", "mot", "json"):
        out = tmp_path / f"out.{fmt}"
        done = run(*files, "--to", fmt, "--out", out)
        assert done.returncode == 0, done.stderr
        assert f"wrote {len(persons)} detections of {n_persons} persons" in done.stdout
        assert "partial" not in done.stdout + done.stderr
    assert len(pd.read_csv(tmp_path / "out.csv")) == len(persons)
    assert len(pd.read_parquet(tmp_path / "out.parquet")) == len(persons)
    boxed = sum("BoundingBox" in p["Person"] for p in persons)
    assert len((tmp_path / "out.mot").read_text().splitlines()) == boxed
    assert api.load_archive(tmp_path / "out.json").persons == results.to_persons(
        results.table_from_job(api.load_archive(files)))


def test_partial_archive_is_warned_about(pages, tmp_path):
    _, files = pages
    done = run(files[0], "--to", "csv", "--out", tmp_path / "first.csv")
    assert done.returncode == 0 and "partial" in done.stderr and "page 1 of a longer job" in done.stderr
    assert "[partial]" in done.stdout


def test_bare_list_needs_its_video_for_mot(tmp_path):
    persons = make_persons(2, 30)
    bare = tmp_path / "persons.json"
    bare.write_text(json.dumps(persons))
    done = run(bare, "--to", "mot", "--out", tmp_path / "x.txt")
    assert done.returncode == 2 and "--video" in done.stderr and not (tmp_path / "x.txt").exists()
    video = write_numbered_video(tmp_path / "clip.mp4", 30)
    done = run(bare, "--to", "mot", "--out", tmp_path / "x.txt", "--video", video)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "x.txt").read_text().startswith("1,1,")


def test_mot_with_its_video(shared_data, tmp_path):
    seq = shared_data / "tud_stadtmitte"
    mot = seq / "reference" / "tracker_output_from_motmetrics.txt"
    done = run(mot, "--to", "json", "--out", tmp_path / "mot.json")
    assert done.returncode == 2 and "--video" in done.stderr
    done = run(mot, "--to", "json", "--out", tmp_path / "mot.json", "--video", seq / "tud_stadtmitte_h264.mp4")
    assert done.returncode == 0, done.stderr
    job = api.load_archive(tmp_path / "mot.json")
    assert job.video_metadata["FrameWidth"] == 640 and len(job.persons) > 500
    assert f"wrote {len(job.persons)} detections" in done.stdout


def test_bad_input_is_a_message(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    done = run(bad, "--to", "csv", "--out", tmp_path / "o.csv")
    assert done.returncode == 2 and done.stderr.startswith("error: ") and "Traceback" not in done.stderr
