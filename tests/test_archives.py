"""Archives as users hold them: bare PersonDetection lists, JSON lines of pages, several
page files, AWS CLI output; partial archives marked; float32 ratios clipped."""

from __future__ import annotations

import io
import json

import numpy as np

from peoplepath import client as api
from peoplepath import overlay, results
from tests.dash_helpers import make_pages, make_persons


def test_every_form_reads_to_the_same_detections(tmp_path):
    persons = make_persons(3, 40)
    pages = make_pages(persons, page_size=25)
    assert len(pages) > 2 and pages[-1].get("NextToken") is None
    jsonl = "\n".join(json.dumps(p) for p in pages) + "\n"
    files = []
    for n, page in enumerate(pages):
        files.append(tmp_path / f"page{n}.json")
        files[-1].write_text(json.dumps(page, indent=2))
    uploads = [io.BytesIO(f.read_bytes()) for f in files]
    forms = {
        "bare list (JSON.stringify(persons))": json.dumps(persons).encode(),
        "JSON lines of pages": jsonl.encode(),
        "pretty-printed pages one after another": "".join(f.read_text() for f in files),
        "several page files": files,
        "several uploads": uploads,
        "list of pages": json.dumps(pages),
        "AWS CLI output": json.dumps({**pages[0], "Persons": persons, "NextToken": None}),
    }
    for form, source in forms.items():
        job = api.load_archive(source)
        assert job.persons == persons, form
        assert job.partial is None and job.job_status == "SUCCEEDED", form
    bare = api.load_archive(json.dumps(persons))
    assert bare.job_id is None and bare.video_metadata == {}
    assert api.load_archive(files).pages == len(pages)


def test_partial_archives_are_marked(tmp_path):
    pages = make_pages(make_persons(3, 40), page_size=25)
    first = api.load_archive(json.dumps(pages[0]))
    assert first.next_token == pages[0]["NextToken"]
    assert first.partial.startswith("page 1 of a longer job")
    two = api.load_archive([json.dumps(p).encode() for p in pages[:2]])
    assert two.partial.startswith("pages 1-2 of a longer job")
    # Out of order: the last page given still has a NextToken, so it is not complete.
    assert api.load_archive([json.dumps(p).encode() for p in (pages[-1], pages[0])]).partial
    # The merged response keeps the token, so a re-export stays partial.
    assert api.load_archive(json.dumps(first.to_response())).partial == first.partial


def test_float32_ratios_are_clipped_at_the_edges():
    # From AWS's own sample: Top + Height = 1.0000000074505806.
    rec = {"Timestamp": 0, "Person": {"Index": 0, "BoundingBox": {
        "Width": 0.30000001192092896, "Height": 0.6000000238418579, "Left": 0.7000000476837158,
        "Top": 0.4000000059604645}}}
    table = results.build_table([rec], width=640, height=480)
    assert table["y2"].iat[0] == 480.0 and table["x2"].iat[0] == 640.0
    assert (table[["x1", "y1", "x2", "y2"]].to_numpy() <= [640, 480, 640, 480]).all()
    hist = results.heatmap(table)
    assert hist.sum() == 1 and hist[-1].sum() == 1  # the feet on the bottom row, not dropped
    image = np.zeros((480, 640, 3), np.uint8)
    drawn = overlay.render(image, overlay.View(table, table, 0), overlay.annotators())
    assert drawn[479, 500:600].any()  # the bottom edge is drawn inside the frame
    assert overlay.draw_path(image, table, 0).any()

