"""peoplepath.analytics: hand-made paths with known answers for every definition, the
geometry file's checks, and the PETS09-S2L1 ground truth read as results against the
bench's per-detection loop."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.bench_analytics import CLIPS, loop_analyze
from peoplepath import analytics, client, results

W, H = 0.125, 0.25  # box size: dyadic, so anchors are exact


def table_of(paths: dict[int, list[tuple[int, float | None, float | None]]]):
    """A results table of persons walking through anchors (t_ms, x, y); x None: a
    detection without a person box."""
    persons = []
    for index, steps in paths.items():
        for t, x, y in steps:
            person: dict = {"Index": index}
            if x is not None:
                person["BoundingBox"] = {"Width": W, "Height": H, "Left": x - W / 2, "Top": y - H}
            persons.append({"Timestamp": t, "Person": person})
    persons.sort(key=lambda d: (d["Timestamp"], d["Person"]["Index"]))
    return results.build_table(persons)


DOOR = {"name": "door", "from": [0.25, 0.5], "to": [0.75, 0.5]}  # side +1 is below (y down)
SQUARE = {"name": "till", "polygon": [[0.25, 0.25], [0.75, 0.25], [0.75, 0.75], [0.25, 0.75]]}
EXIT = {"name": "exit", "polygon": [[0.8, 0.8], [1.0, 0.8], [1.0, 1.0], [0.8, 1.0]]}


def analyze(paths, lines=(DOOR,), zones=()):
    geometry = analytics.parse_geometry({"lines": list(lines), "zones": list(zones)})
    return analytics.analyze(table_of(paths), geometry).report()


def test_a_sparse_crossing_is_found_between_its_two_detections_with_its_direction():
    rep = analyze({3: [(0, 0.5, 0.25), (4000, 0.5, 0.75)],  # down across the door: -1 -> +1
                   4: [(1000, 0.375, 0.625), (2000, 0.375, 0.375)]})  # up: out, a quarter of the way
    door = rep["lines"][0]
    assert (door["in"], door["out"]) == (1, 1)
    assert door["crossings"] == [{"index": 4, "timestamp_ms": 1500, "direction": "out"},
                                 {"index": 3, "timestamp_ms": 2000, "direction": "in"}]


def test_touching_the_line_or_passing_beside_it_is_not_crossing():
    rep = analyze({0: [(0, 0.5, 0.375), (500, 0.5, 0.5), (1000, 0.5, 0.375)],  # steps onto it, back
                   1: [(0, 0.875, 0.25), (500, 0.875, 0.75)],  # beyond its end
                   2: [(0, 0.25, 0.25), (500, 0.25, 0.75)],  # through its endpoint
                   3: [(0, 0.375, 0.5), (500, 0.625, 0.5)]})  # along it
    assert rep["lines"][0] == {"name": "door", "in": 0, "out": 0, "crossings": []}


def test_detections_without_a_box_do_not_move_the_anchor_and_persons_are_not_joined():
    rep = analyze({0: [(0, 0.5, 0.25), (500, None, None), (1000, 0.5, 0.75)],
                   1: [(0, 0.5, 0.75)], 2: [(500, 0.5, 0.25)]})  # two persons either side: no path
    assert rep["lines"][0]["crossings"] == [{"index": 0, "timestamp_ms": 500, "direction": "in"}]


def test_zone_entries_exits_and_dwell():
    rep = analyze({0: [(0, 0.125, 0.5), (1000, 0.5, 0.5), (1500, 0.5, 0.625), (3000, 0.875, 0.5)],
                   1: [(0, 0.375, 0.375), (400, 0.5, 0.5), (900, 0.625, 0.625)],  # only ever inside
                   2: [(0, 0.125, 0.125), (800, 0.875, 0.875)]},  # never inside
                  lines=(), zones=(SQUARE,))
    till = rep["zones"][0]
    assert (till["entries"], till["exits"]) == (1, 1)  # person 1 never entered: it was first seen inside
    assert till["dwell"] == [{"index": 0, "ms": 500}, {"index": 1, "ms": 900}]


def test_occupancy_counts_the_latest_detection_for_one_second():
    paths = {0: [(0, 0.5, 0.5)],  # inside once, then never seen again
             1: [(500, 0.5, 0.5), (1200, 0.125, 0.125)],  # inside, then outside
             2: [(1400, 0.5, 0.5), (1800, 0.5, 0.5)]}
    geometry = analytics.parse_geometry({"zones": [SQUARE]})
    stats = analytics.analyze(table_of(paths), geometry).zones["till"]
    occ = stats.occupancy.at([0, 499, 500, 1000, 1001, 1199, 1200, 1400, 2800, 2801])
    assert occ.tolist() == [1, 1, 2, 2, 1, 1, 0, 1, 1, 0]
    assert stats.occupancy.peak == 2


def test_flows_between_zones_are_ordered_in_time():
    rep = analyze({0: [(0, 0.5, 0.5), (1000, 0.875, 0.875)],  # till, then exit
                   1: [(0, 0.875, 0.875), (500, 0.5, 0.5), (900, 0.875, 0.875)],  # exit, till, exit
                   2: [(0, 0.5, 0.5)]},  # till only
                  lines=(), zones=(SQUARE, EXIT))
    assert rep["flows"] == [{"from": "till", "to": "exit", "persons": 2},
                            {"from": "exit", "to": "till", "persons": 1}]
    assert [z["peak_occupancy"] for z in rep["zones"]] == [3, 2]  # till at 500 ms; exit at 1000 ms


def test_the_report_has_the_issues_shape():
    rep = analyze({0: [(0, 0.5, 0.25), (1000, 0.5, 0.5 + 1 / 8)]}, zones=(SQUARE,))
    assert set(rep) == {"lines", "zones", "flows"}
    assert set(rep["lines"][0]) == {"name", "in", "out", "crossings"}
    assert set(rep["zones"][0]) == {"name", "entries", "exits", "peak_occupancy", "dwell"}
    json.dumps(rep)  # plain JSON types only


@pytest.mark.parametrize("doc, message", [
    ([], "JSON object"),
    ({"lines": [], "zonez": []}, "Unknown key"),
    ({"lines": {}}, "must be a list"),
    ({"lines": [{"from": [0, 0], "to": [1, 1]}]}, "non-empty 'name'"),
    ({"lines": [{"name": "a", "from": [0, 0]}]}, "needs 'to'"),
    ({"lines": [{"name": "a", "from": [0, 0], "to": [0, 0]}]}, "two distinct points"),
    ({"lines": [{"name": "a", "from": [0, 0], "to": [1.5, 1]}]}, "outside the frame"),
    ({"lines": [{"name": "a", "from": [0, 0], "to": [1, "x"]}]}, "must be a point"),
    ({"lines": [{"name": "a", "from": [0, 0], "to": [1, 1]}, {"name": "a", "from": [0, 1], "to": [1, 1]}]},
     "Two lines are named 'a'"),
    ({"zones": [{"name": "z", "polygon": [[0, 0], [1, 1]]}]}, "at least 3 points"),
    ({"zones": [{"name": "z", "polygon": [[0, 0], [0.5, 0.5], [1, 1]]}]}, "no area"),
    ({"zones": [{"name": "z", "polygon": [[0, 0], [1, 1], [1, 0], [0, 0.5]]}]}, "crosses itself"),
])
def test_bad_geometry_is_a_clear_error(doc, message):
    with pytest.raises(analytics.GeometryError, match=message):
        analytics.parse_geometry(doc)


def test_geometry_files_and_links(tmp_path):
    doc = {"lines": [DOOR], "zones": [SQUARE, EXIT]}
    path = tmp_path / "geometry.json"
    path.write_text(json.dumps(doc))
    geometry = analytics.load_geometry(path)
    assert geometry.to_dict() == json.loads(json.dumps(doc)) and analytics.load_geometry(geometry.to_json()) == geometry
    link = analytics.encode_geometry(geometry)
    assert analytics.decode_geometry(link) == geometry and len(link) < 200 and link.isascii()
    with pytest.raises(analytics.GeometryError, match="cannot be read"):
        analytics.decode_geometry(link[:-6] + "AAAA")
    with pytest.raises(analytics.GeometryError, match="No such geometry file"):
        analytics.load_geometry(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(analytics.GeometryError, match="not JSON"):
        analytics.load_geometry(tmp_path / "bad.json")


def test_pets09_ground_truth_as_results(shared_data):
    clip = CLIPS["pets09_s2l1"]
    (w, h), fps = clip["size"], clip["fps"]
    job = client.load_mot(shared_data / "pets09_s2l1" / "gt" / "gt.txt", width=w, height=h, fps=fps)
    table = results.table_from_job(job)
    geometry = analytics.parse_geometry(clip["geometry"])
    analysis = analytics.analyze(table, geometry)
    rep = analysis.report()
    end_ms = int(table["timestamp_ms"].max())
    occ = analysis.occupancy_per_second(end_ms)
    loop = loop_analyze(table, geometry, end_ms)
    assert {**rep, "occupancy": [occ.loc[occ["zone"] == z.name, "persons"].tolist() for z in geometry.zones]} == loop
    # Sanity: people walk both ways across both lines; nobody is in two places; dwell fits the clip.
    persons = table["index"].nunique()
    summary = results.person_summary(table).set_index("index")
    for line in rep["lines"]:
        assert line["in"] > 0 and line["out"] > 0 and line["in"] + line["out"] == len(line["crossings"])
        assert all(0 <= c["timestamp_ms"] <= end_ms for c in line["crossings"])
    per_frame = table.groupby("timestamp_ms").size().max()
    for zone in rep["zones"]:
        assert zone["entries"] > 0 and abs(zone["entries"] - zone["exits"]) <= persons
        assert 0 < zone["peak_occupancy"] <= per_frame
        for d in zone["dwell"]:
            assert 0 <= d["ms"] <= summary.at[d["index"], "duration_ms"]
    assert all(0 <= f["persons"] <= persons for f in rep["flows"]) and any(f["persons"] for f in rep["flows"])
    assert len(rep["flows"]) == 3 * 2
    assert np.array_equal(analytics.crossing_times(analysis),
                          np.unique([c["timestamp_ms"] for ln in rep["lines"] for c in ln["crossings"]]))


def test_a_job_without_detections_counts_nothing():
    geometry = analytics.parse_geometry({"lines": [DOOR], "zones": [SQUARE, EXIT]})
    analysis = analytics.analyze(results.build_table([]), geometry)
    assert analysis.report() == {
        "lines": [{"name": "door", "in": 0, "out": 0, "crossings": []}],
        "zones": [{"name": n, "entries": 0, "exits": 0, "peak_occupancy": 0, "dwell": []} for n in ("till", "exit")],
        "flows": [{"from": "till", "to": "exit", "persons": 0}, {"from": "exit", "to": "till", "persons": 0}],
    }
    assert analysis.occupancy_per_second()["persons"].tolist() == [0, 0]
    assert all(isinstance(t, type(analysis.flows)) for t in analysis.tables().values())


def test_analyze_command_writes_the_report_and_tables(shared_data, tmp_path):
    import subprocess
    import sys

    import pandas as pd

    clip = CLIPS["pets09_s2l1"]
    seq = shared_data / "pets09_s2l1"
    geometry_file = tmp_path / "geometry.json"
    geometry_file.write_text(json.dumps(clip["geometry"]))
    out, csv = tmp_path / "report.json", tmp_path / "tables"

    def run(*args):
        return subprocess.run([sys.executable, "-m", "peoplepath", "analyze", *map(str, args)],
                              capture_output=True, text=True)

    done = run(seq / "gt" / "gt.txt", "--video", seq / clip["video"], "--geometry", geometry_file,
               "--out", out, "--csv", csv)
    assert done.returncode == 0, done.stderr
    (w, h), fps = clip["size"], clip["fps"]
    table = results.table_from_job(client.load_mot(seq / "gt" / "gt.txt", width=w, height=h, fps=fps))
    analysis = analytics.analyze(table, analytics.parse_geometry(clip["geometry"]))
    assert json.loads(out.read_text()) == analysis.report()
    assert sorted(p.name for p in csv.iterdir()) == [
        "crossings.csv", "dwell.csv", "flows.csv", "lines.csv", "occupancy.csv", "zones.csv"]
    lines = pd.read_csv(csv / "lines.csv")
    assert lines.to_dict("records") == [{k: ln[k] for k in ("name", "in", "out")} for ln in analysis.report()["lines"]]
    occupancy = pd.read_csv(csv / "occupancy.csv")
    assert list(occupancy.columns) == ["zone", "second", "persons"] and occupancy["persons"].max() > 0
    # Bad input is a message, not a traceback.
    no_video = run(seq / "gt" / "gt.txt", "--geometry", geometry_file, "--out", out)
    assert no_video.returncode == 2 and "--video" in no_video.stderr
    geometry_file.write_text('{"lines": [{"name": "a", "from": [0, 0], "to": [2, 0]}]}')
    bad = run(seq / "gt" / "gt.txt", "--video", seq / clip["video"], "--geometry", geometry_file, "--out", out)
    assert bad.returncode == 2 and "outside the frame" in bad.stderr and "Traceback" not in bad.stderr
