"""The Lines & zones panel: through AppTest, a deep link's geometry gives the core
library's counts, next/previous crossing move the frame, placed points become a line and
the link follows; in Chromium, clicking the frame places a point."""

from __future__ import annotations

import base64
import json

import re
import time
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import sync_playwright
from streamlit.testing.v1 import AppTest

from components.zones import GEOMETRY
from peoplepath import analytics, client, contract, results
from tests.dash_helpers import FPS, timeline_figure, write_archive
from tests.conftest import REPO
from tests.test_browser import ARTIFACTS, CHROMIUM, idle, streamlit_server

APP = str(Path(__file__).resolve().parents[1] / "app.py")
GEOMETRY_DOC = {  # the made-up persons walk left to right: side +1 to -1 is "out"
    "lines": [{"name": "door", "from": [0.3, 0.05], "to": [0.7, 0.95]}],  # slanted: crossed at different times
    "zones": [{"name": "left", "polygon": [[0.0, 0.3], [0.4, 0.3], [0.4, 0.95], [0.0, 0.95]]},
              {"name": "right", "polygon": [[0.6, 0.3], [1.0, 0.3], [1.0, 0.95], [0.6, 0.95]]}],
}


def open_archive(path: Path, **query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=90)
    for name, value in query.items():
        at.query_params[name] = value
    at.run()
    at.sidebar.radio(key="source_kind").set_value("Archived file").run()
    at.sidebar.text_input(key="source_archive_path").input(str(path)).run()
    at.session_state["tabs"] = "Lines & zones"  # only the open tab runs
    return at.run()


def qp(at: AppTest, name: str) -> str | None:
    value = at.query_params.get(name)
    return value[-1] if isinstance(value, list) else value


def test_the_link_geometry_counts_and_steps_through_crossings(tmp_path):
    archive = write_archive(tmp_path / "a.json", n_frames=100)
    geometry = analytics.parse_geometry(GEOMETRY_DOC)
    expected = analytics.analyze(results.table_from_job(client.load_archive(archive)), geometry).report()
    door = expected["lines"][0]
    assert door["out"] >= 3 and door["in"] == 0  # everyone walks left to right across it
    at = open_archive(archive, geo=analytics.encode_geometry(geometry))
    assert not at.exception and not at.error
    assert at.session_state[GEOMETRY] == geometry
    shown = {m.label: m.value for m in at.metric}
    assert shown["door: in / out"] == f"{door['in']} / {door['out']}"
    for zone in expected["zones"]:
        assert shown[f"{zone['name']}: entries / exits"] == f"{zone['entries']} / {zone['exits']}"
    # The crossings are markers on the timeline, at their times.
    timeline = timeline_figure(at)
    marked = next(tr for tr in timeline["data"] if tr.get("name") == "line crossing")
    data = marked["customdata"]  # plotly sends typed arrays as {"dtype", "bdata": base64}
    times = np.frombuffer(base64.b64decode(data["bdata"]), data["dtype"]) if isinstance(data, dict) else data
    assert sorted(int(v) for v in times) == sorted(int(c["timestamp_ms"]) for c in door["crossings"])
    flows = next(df.value for df in at.dataframe if "Later in" in df.value.columns)
    assert flows["Persons"].tolist() == [f["persons"] for f in expected["flows"]]
    # Next crossing: the frames on screen at the crossings, in order; previous goes back.
    crossing_frames = sorted({contract.ms_to_frame(c["timestamp_ms"], FPS) for c in door["crossings"]})
    assert len(crossing_frames) >= 3
    for frame in crossing_frames[:3]:
        at.button(key="zones_next_crossing").click().run()
        assert at.session_state["frame"] == frame
    at.button(key="zones_prev_crossing").click().run()
    assert at.session_state["frame"] == crossing_frames[1]
    assert qp(at, "geo") == analytics.encode_geometry(geometry)

    # Two placed points become a line; the link follows the new geometry.
    at.session_state["zones_draft"] = [(0.25, 0.1), (0.25, 0.9)]
    at.run()
    at.text_input(key="zones_name").input("entrance").run()
    at.button(key="zones_add_line").click().run()
    assert not at.exception
    now = at.session_state[GEOMETRY]
    assert [ln.name for ln in now.lines] == ["door", "entrance"] and at.session_state["zones_draft"] == []
    assert analytics.decode_geometry(qp(at, "geo")) == now
    assert "entrance: in / out" in {m.label for m in at.metric}


def test_a_damaged_link_is_a_warning(tmp_path):
    at = open_archive(write_archive(tmp_path / "a.json", n_frames=30), geo="not-a-geometry")
    assert not at.exception
    assert any("could not be read" in w.value for w in at.warning)
    assert any("No lines or zones yet" in c.value for c in at.caption)


@pytest.mark.slow
def test_clicking_the_frame_places_a_point_in_chromium(dashboard_on_archive):
    url, archive = dashboard_on_archive
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM,
                                     args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 2200})
            page.goto(url)
            idle(page)
            field = page.get_by_label("... or a path to one")
            retry(lambda: page.get_by_text("Archived file", exact=True).click(),
                  lambda: field.wait_for(state="visible", timeout=30_000))
            idle(page)
            retry(lambda: (field.fill(str(archive)), field.press("Enter")),
                  lambda: page.locator("[data-testid='stImage'] img").first.wait_for(state="visible", timeout=45_000))
            idle(page)
            page.get_by_role("tab", name="Lines & zones").click()
            chart = page.locator(".st-key-zones_frame .js-plotly-plot")
            chart.wait_for(state="visible", timeout=30_000)
            idle(page)
            for placed, (rx, ry) in enumerate(((0.25, 0.5), (0.75, 0.5)), 1):
                x, y = page.evaluate("""([rx, ry]) => {
                    const gd = document.querySelector('.st-key-zones_frame .js-plotly-plot'), fl = gd._fullLayout;
                    const box = gd.getBoundingClientRect();
                    return [box.left + fl._size.l + fl.xaxis.l2p(rx), box.top + fl._size.t + fl.yaxis.l2p(ry)];
                }""", [rx, ry])
                page.mouse.move(x, y)
                time.sleep(0.3)
                retry(lambda: page.mouse.click(x, y),
                      lambda: page.get_by_text(re.compile(rf"\({placed} placed\)")).wait_for(timeout=45_000))
                idle(page)
            page.locator(".st-key-zones_add_line button").first.click()
            idle(page)
            page.get_by_text("line 1: in / out").wait_for(timeout=30_000)
            page.wait_for_function("() => new URLSearchParams(location.search).get('geo')", timeout=30_000)
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "dashboard_zones.png"), full_page=True)
            assert not page.locator("[data-testid='stException']").count()
        except Exception:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "dashboard_zones_failed.png"), full_page=True, timeout=15_000)
            raise
        finally:
            browser.close()


def retry(act, check, attempts: int = 3) -> None:
    """Act until the check passes: on a loaded machine Streamlit may drop input that
    arrives while a script run is still finishing."""
    for attempt in range(attempts):
        act()
        try:
            check()
            return
        except Exception:  # playwright's TimeoutError
            if attempt == attempts - 1:
                raise


@pytest.fixture
def dashboard_on_archive(tmp_path):
    """`streamlit run dashboard.py` on a free port, and a made-up archive (drawn on blank frames)."""
    archive = write_archive(tmp_path / "walk.json", n_frames=60)
    with streamlit_server(REPO / "dashboard.py", {"PEOPLEPATH_DATA_DIR": str(tmp_path / "data")}, tmp_path) as url:
        yield url, archive


def test_geometry_is_drawn_where_it_is():
    import numpy as np

    from peoplepath import overlay

    geometry = analytics.parse_geometry(GEOMETRY_DOC)
    image = np.zeros((480, 640, 3), np.uint8)
    out = overlay.render(image, overlay.View(results.build_table([])), [overlay.GeometryAnnotator(geometry, [(0.9, 0.1)])])
    assert not image.any()
    assert tuple(out[240, 320]) == overlay.GeometryAnnotator.LINE  # the door's middle
    assert out[400, 100].any() and not out[100, 100].any()  # zone "left" is tinted, above it nothing
    assert tuple(out[48, 576]) == overlay.GeometryAnnotator.DRAFT  # the placed point


def test_only_the_open_tab_runs_and_its_settings_outlive_it(tmp_path):
    """The tabs run lazily (a hidden tab's charts and frame would cost every step); a
    setting the page uses outside the tab (the geometry on the video) is kept."""
    geometry = analytics.parse_geometry(GEOMETRY_DOC)
    at = open_archive(write_archive(tmp_path / "a.json", n_frames=100), geo=analytics.encode_geometry(geometry))
    assert "door: in / out" in {m.label for m in at.metric}
    at.toggle(key="zones_on_video").set_value(False).run()
    at.session_state["tabs"] = "People"
    at.run()
    assert not at.exception and "door: in / out" not in {m.label for m in at.metric}
    assert at.session_state["zones_on_video"] is False
    at.session_state["tabs"] = "Lines & zones"
    at.run()
    assert at.toggle(key="zones_on_video").value is False and "door: in / out" in {m.label for m in at.metric}
