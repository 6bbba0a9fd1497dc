"""The dashboard at scale, in Chromium: the TUD job and the same results repeated 60
times as distinct persons (600 persons over 7 minutes), stored in the running service.
A frame step on the long job costs at most a few times a step on the short one (ratios
only: the machine is shared), the timeline labels every person row of its window at a
readable height, and its cursor follows the frame."""

from __future__ import annotations

import statistics
import time

import pytest
from playwright.sync_api import sync_playwright

from peoplepath import client as api
from tests.long_jobs import long_response, store_job
from tests.test_browser import REPO, idle, launch, streamlit_server, timeline_frame

TUD_FRAMES = 179
FRAME_IMG = "[data-testid='stImage'] img"
ROW_LABELS_JS = """() => {
    const gd = document.getElementById('chart'), fl = gd._fullLayout;
    const ticks = [...gd.querySelectorAll('.yaxislayer-above .ytick text')], shown = ticks.map(t => t.textContent);
    const left = Math.min(...ticks.map(t => t.getBoundingClientRect().left)) - gd.getBoundingClientRect().left;
    return {rows: [...fl.yaxis.categoryarray], shown, left, height: fl.height, nrows: fl.yaxis.categoryarray.length,
            px: fl.yaxis._length / Math.max(fl.yaxis.categoryarray.length, 1)};
}"""


def step_times(page, n: int = 4) -> list[float]:
    out = []
    for _ in range(n):
        idle(page)
        before = page.locator(FRAME_IMG).first.get_attribute("src")
        t0 = time.monotonic()
        page.locator(".st-key-viewer_next button").first.click()
        page.wait_for_function(
            "b => { const i = document.querySelector(\"[data-testid='stImage'] img\"); return i && i.src !== b; }",
            arg=before, timeout=60_000)
        out.append(time.monotonic() - t0)
    return out


@pytest.mark.slow
def test_long_job_steps_and_rows(running_service, tud_job):
    doc = api.fetch_job(api.make_client(running_service.endpoint_url), tud_job).to_response()
    absent = {"S3Object": {"Bucket": "long", "Name": "absent.mp4"}}  # no video: blank frames
    short = store_job(running_service.data_dir, f"scale-x1-{time.time_ns()}",
                      long_response(doc, 1, n_frames=TUD_FRAMES, video=absent))
    long = store_job(running_service.data_dir, f"scale-x60-{time.time_ns()}",
                     long_response(doc, 60, n_frames=TUD_FRAMES, video=absent))
    env = {"AWS_ENDPOINT_URL_REKOGNITION": running_service.endpoint_url,
           "PEOPLEPATH_DATA_DIR": str(running_service.data_dir)}
    with streamlit_server(REPO / "dashboard.py", env, running_service.data_dir) as url, sync_playwright() as pw:
        browser = launch(pw)
        try:
            steps, layouts = {}, {}
            for name, job_id in (("short", short), ("long", long)):
                page = browser.new_page(viewport={"width": 1440, "height": 1500})
                page.goto(f"{url}/?job_id={job_id}&t=200000" if name == "long" else f"{url}/?job_id={job_id}&t=0")
                page.locator(FRAME_IMG).first.wait_for(state="visible", timeout=400_000)
                timeline_frame(page, timeout_ms=300_000)
                idle(page)
                steps[name] = statistics.median(step_times(page))
                idle(page)
                layouts[name] = timeline_frame(page).evaluate(ROW_LABELS_JS)
                # The cursor is at the frame's time.
                t_ms = int(page.evaluate("() => new URLSearchParams(location.search).get('t')"))
                timeline_frame(page).wait_for_function("t => document.getElementById('chart')._fullLayout.shapes"
                                       ".some(s => s.type === 'line' && Math.abs(s.x0 - t / 1000) < 1e-6)",
                                       arg=t_ms, timeout=30_000)
                assert not page.locator("[data-testid='stException']").count()
                page.close()
        finally:
            browser.close()
    long_rows = layouts["long"]
    assert 3 <= long_rows["nrows"] < 600  # the window's persons, not all 600
    assert sorted(long_rows["shown"]) == sorted(long_rows["rows"])  # every row labelled
    assert long_rows["left"] >= 0 and layouts["short"]["left"] >= 0, layouts  # and inside the chart's left margin
    assert long_rows["px"] >= 14  # a readable row
    assert sorted(layouts["short"]["shown"]) == sorted(layouts["short"]["rows"])
    ratio = steps["long"] / steps["short"]
    print(f"\nstep: short job {steps['short']:.2f} s, 60x job {steps['long']:.2f} s, ratio {ratio:.2f}")
    assert ratio < 3.0, steps
