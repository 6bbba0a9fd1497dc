"""components.timeline without a browser: windows, bins, row order, and a figure whose
size follows the window, not the job (a made-up job of 300 persons over 50 minutes)."""

from __future__ import annotations

import numpy as np
import pytest

from components import timeline
from components.loading import _derive
from peoplepath import client as api
from peoplepath import results
from tests.dash_helpers import make_pages, make_persons


@pytest.fixture(scope="module")
def long_data():
    """30 clips of 10 persons x 100 s (1 detection a second) one after the other."""
    clip = make_persons(10, 100, fps=1.0)
    persons = [{"Timestamp": p["Timestamp"] + k * 100_000, "Person": {**p["Person"], "Index": k * 10 + p["Person"]["Index"]}}
               for k in range(30) for p in clip]
    job = api.load_archive(make_pages(persons, page_size=10**9, fps=1.0, n_frames=3000))
    return _derive(job, results.table_from_job(job), "archive", "long")


def test_windows_and_bins(long_data):
    assert timeline.duration_ms(long_data) == 3_000_000
    assert timeline.window_bounds(1_234_567, 300, 3_000_000) == (1_200_000, 1_500_000)
    assert timeline.window_bounds(2_999_999, 3600, 3_000_000) == (0, 3_000_000)
    assert timeline.window_bounds(0, 0, 5000) == (0, 5000)
    assert timeline.bin_ms(7000) == 1000 and timeline.bin_ms(3_600_000) == 10_000
    assert timeline.default_window(long_data) == "5 min"  # about 40 persons in it, not all 300


def test_figure_of_a_window(long_data):
    fig = timeline.build_figure(long_data, (1_200_000, 1_500_000), order="Duration", chosen=125)
    rows = list(fig.layout.yaxis.categoryarray)
    assert rows[-1] == "#125"  # the chosen person first (plotly draws the array bottom-up)
    assert sorted(rows) == sorted(f"#{i}" for i in range(120, 150))  # the persons of the window only
    assert fig.layout.yaxis.dtick == 1 and fig.layout.height >= timeline.ROW_PX * len(rows)
    assert fig.layout.xaxis2.range == (0, 3000.0) and fig.layout.xaxis.range == (1200.0, 1500.0)
    strip = next(t for t in fig.data if t.yaxis == "y2")
    ts = long_data.table["timestamp_ms"]
    assert len(strip.x) == 300 and np.sum(strip.y) == ((ts >= 1_200_000) & (ts < 1_500_000)).sum()  # 1 s bins
    overview = next(t for t in fig.data if t.yaxis == "y3")
    assert len(overview.x) <= timeline.BINS
    assert fig.layout.uirevision == "long|1200000|1500000"
    marks = timeline.Marks("crossing", "m1", times_ms=[1_250_000, 10], persons=[121, 0])
    with_marks = timeline.build_figure(long_data, (1_200_000, 1_500_000), marks=[marks])
    extra = [t for t in with_marks.data if t.name == "crossing"][0]
    assert list(extra.x) == [1250.0] and list(extra.y) == ["#121"]  # only the window's mark, on its row


def test_figure_size_does_not_grow_with_the_job(long_data):
    """The same 5-minute window of the 50-minute job and of its first 5 minutes alone."""
    table = long_data.table[long_data.table["timestamp_ms"] < 300_000]
    short = _derive(long_data.job, table, "archive", "short")
    size_long = len(timeline.build_figure(long_data, (0, 300_000)).to_json())
    size_short = len(timeline.build_figure(short, (0, 300_000)).to_json())
    assert size_long < 1.3 * size_short
    filtered = timeline.build_figure(long_data, (0, 300_000), persons=[1, 2])
    assert sorted(filtered.layout.yaxis.categoryarray) == ["#1", "#2"]


def test_the_timeline_loads_plotlys_basic_bundle_of_the_plotly_packages_version():
    """setup installs plotly.js's basic bundle (npm) for the timeline: the chart loads it,
    and it is the plotly.js release the Python plotly package builds figures for."""
    import re
    from pathlib import Path

    import plotly

    from components import timeline_view

    assert timeline_view.PLOTLY_JS == timeline_view.BASIC_BUNDLE.as_posix()
    version = re.compile(rb"plotly\.js (?:\(basic - minified\) )?v(\d+\.\d+\.\d+)")
    basic = version.search((timeline_view.FRONTEND / timeline_view.BASIC_BUNDLE).read_bytes()[:300])
    full = version.search((Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()[:300])
    assert basic and full and basic.group(1) == full.group(1)
