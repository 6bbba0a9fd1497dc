"""A real browser (Debian's chromium driven by Playwright) on the running dashboard:
open a deep link to a job the running service made on a shared clip, wait for the frame
and the timeline, click next-detection, click the timeline, save a screenshot under
tests/artifacts/ and print the time to the first frame."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Error as PlaywrightError, sync_playwright

from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"


@contextmanager
def streamlit_server(script: Path, env: dict[str, str], log_dir: Path, drop: tuple[str, ...] = ()) -> Iterator[str]:
    """`streamlit run <script>` on a free loopback port, with `env` added to this process's
    environment less the variables in `drop`; yields its URL."""
    port = free_port()
    base = {k: v for k, v in os.environ.items() if k not in drop}
    log = open(log_dir / f"streamlit-{port}.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=REPO, env={**base, **env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as reply:
                    if reply.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start; see {log.name}")
            time.sleep(0.3)
        yield url
    finally:
        os.killpg(proc.pid, 15)
        proc.wait(timeout=20)
        log.close()


@pytest.fixture
def dashboard(running_service):
    """`streamlit run dashboard.py` on a free port, pointed at the running service."""
    env = {"AWS_ENDPOINT_URL_REKOGNITION": running_service.endpoint_url,
           "PEOPLEPATH_DATA_DIR": str(running_service.data_dir)}
    with streamlit_server(REPO / "dashboard.py", env, running_service.data_dir) as url:
        yield url


def launch(pw):
    """Debian's Chromium, headless, with no network of its own."""
    return pw.chromium.launch(executable_path=CHROMIUM,
                              args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])


# Streamlit 1.67 marks its root element with the state of the script run:
# data-test-script-state is "running" / "rerunRequested" during a run (fragment runs too)
# and "notRunning" once the run ended. Elements of the previous run not yet redrawn are
# data-stale="true".
IDLE_JS = ("() => { const app = document.querySelector(\"[data-testid='stApp']\");"
           " return !!app && app.dataset.testScriptState === 'notRunning'"
           " && !document.querySelector(\"[data-stale='true']\"); }")


def idle(page, timeout_ms: float = 120_000, settle_s: float = 0.3) -> None:
    """Wait until the script run finishes (Streamlit drops input sent mid-run to stale
    elements): the app says it is not running, twice `settle_s` apart (a rerun that a
    click just asked for may not have started yet)."""
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        page.wait_for_function(IDLE_JS, timeout=max(1.0, (deadline - time.monotonic()) * 1000))
        time.sleep(settle_s)
        if page.evaluate(IDLE_JS):
            return


def test_idle_waits_for_the_end_of_a_long_run(tmp_path):
    """idle() returns only when a 6 s script run has really ended: its last element is
    on the page at once when idle() returns, never before the run's time has passed."""
    script = tmp_path / "slow.py"
    script.write_text("import time\nimport streamlit as st\nst.write('run started')\n"
                      "time.sleep(6)\nst.write('run finished')\n")
    with streamlit_server(script, {}, tmp_path) as url, sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page()
            page.goto(url)
            page.get_by_text("run started").wait_for(timeout=60_000)
            start = time.monotonic()
            idle(page)
            waited = time.monotonic() - start
            assert page.get_by_text("run finished").count() == 1, f"idle() returned after {waited:.1f} s, mid-run"
            assert waited > 3
        finally:
            browser.close()


TIMELINE = "iframe[title*='peoplepath_timeline']"


def timeline_frame(page, timeout_ms: float = 120_000):
    """The timeline component's frame, once its chart is drawn. Streamlit may mount the
    component's iframe before its document exists, or replace it during a rerun, so this
    looks again until a frame holds a drawn chart."""
    deadline = time.monotonic() + timeout_ms / 1000
    iframe = page.locator(TIMELINE).first
    iframe.wait_for(state="visible", timeout=timeout_ms)
    while True:
        handle = iframe.element_handle(timeout=max(1.0, deadline - time.monotonic()) * 1000)
        frame = handle.content_frame() if handle else None
        if frame is not None:
            try:
                frame.wait_for_function("() => { const c = document.getElementById('chart');"
                                        " return !!(c && c.dataset.figure && c._fullLayout); }",
                                        timeout=min(5.0, max(0.5, deadline - time.monotonic())) * 1000)
                return frame
            except PlaywrightError:  # timed out, or the frame was detached by a rerun
                pass
        if time.monotonic() > deadline:
            raise AssertionError(f"the timeline's chart was not drawn within {timeout_ms / 1000:.0f} s")
        time.sleep(0.25)


def timeline_xy(page, x_s: float, axis: str = "yaxis2", y: float = 20) -> tuple[float, float]:
    """The page coordinates of time `x_s` (seconds, the window's axis) at `y` on `axis`
    of the timeline's chart."""
    box = page.locator(TIMELINE).first.bounding_box()
    x, y = timeline_frame(page).evaluate("""([x, axis, y]) => {
        const fl = document.getElementById('chart')._fullLayout;
        return [fl._size.l + fl.xaxis.l2p(x), fl._size.t + fl[axis].l2p(y)];
    }""", [x_s, axis, y])
    return box["x"] + x, box["y"] + y


def outside_requests(page) -> list[str]:
    """Start recording the page's requests to anything but this machine; returns the
    (live) list of their URLs."""
    seen: list[str] = []

    def record(request) -> None:
        url = urlsplit(request.url)
        if url.scheme not in ("data", "blob", "about") and url.hostname not in ("127.0.0.1", "localhost"):
            seen.append(request.url)

    page.on("request", record)
    return seen


def test_deep_link_in_chromium(dashboard, tud_job):
    assert Path(CHROMIUM).is_file(), "apt-get install chromium (.ci/run installs it)"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1500})
            outside = outside_requests(page)
            start = time.monotonic()
            page.goto(f"{dashboard}/?job_id={tud_job}&t=2000")
            page.get_by_text("Exact frame", exact=True).click(timeout=180_000)  # the server-drawn frame
            frame = page.locator("[data-testid='stImage'] img").first
            frame.wait_for(state="visible", timeout=300_000)  # minutes on a busy 2-core machine
            first_frame_s = time.monotonic() - start
            timeline_frame(page)
            caption = page.get_by_text(re.compile(r"^frame 50 of 178 "))  # the deep link's t=2000 at 25 fps
            caption.wait_for(timeout=30_000)
            print(f"\ntime to first frame from opening the deep link: {first_frame_s:.2f} s")

            idle(page)
            before = frame.get_attribute("src")
            page.locator(".st-key-viewer_next_det[data-stale='false'] button").first.click()
            page.wait_for_function(
                "before => { const img = document.querySelector(\"[data-testid='stImage'] img\");"
                " return img && img.src !== before; }", arg=before, timeout=30_000)
            page.wait_for_url(lambda url: "t=2000" not in url and f"job_id={tud_job}" in url, timeout=30_000)
            assert "t=" in page.url
            shown = int(page.url.split("t=")[1].split("&")[0])
            assert shown > 2000  # the next detection after 2.000 s
            # Clicking the timeline near 5.5 s moves the viewer there.
            idle(page)
            page.mouse.click(*timeline_xy(page, 5.5))
            page.wait_for_function(
                "() => { const t = +new URLSearchParams(location.search).get('t'); return t >= 4500 && t <= 6500; }",
                timeout=30_000)
            # The arrow keys step frames (button shortcuts); print the round trip of a step.
            idle(page)
            before = page.evaluate("() => new URLSearchParams(location.search).get('t')")
            step_start = time.monotonic()
            page.keyboard.press("ArrowRight")
            page.wait_for_function("b => new URLSearchParams(location.search).get('t') !== b", arg=before, timeout=30_000)
            print(f"next-frame step (key press to new URL): {time.monotonic() - step_start:.2f} s")
            assert int(page.url.split("t=")[1].split("&")[0]) - int(before) == 40
            time.sleep(1.0)  # let the plot settle before the picture
            page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
            assert not page.locator("[data-testid='stException']").count()
            assert not outside, f"the page reached outside the machine: {outside}"
            icon = page.evaluate("() => document.querySelector(\"link[rel~='icon']\")?.href")
            assert icon and urlsplit(icon).hostname == "127.0.0.1", icon  # the shipped icon, served by the app
        finally:
            browser.close()


def test_steps_move_only_the_timeline_cursor_and_keep_its_zoom(dashboard, tud_job):
    """Stepping frames sends the chart only its cursor: the figure is fetched once, the
    cursor line moves, and a zoom made in the chart survives the steps."""
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1500})
            figures: list[str] = []
            page.on("request", lambda r: figures.append(r.url) if "/media/" in r.url and r.url.endswith(".json") else None)
            page.goto(f"{dashboard}/?job_id={tud_job}&t=2000")
            page.get_by_text("Exact frame", exact=True).click(timeout=180_000)
            page.get_by_text(re.compile(r"^frame 50 of 178 ")).wait_for(timeout=300_000)
            chart = timeline_frame(page)
            idle(page)
            loaded = len(figures)
            assert loaded >= 1
            chart.evaluate("() => Plotly.relayout(document.getElementById('chart'), {'xaxis.range': [1.5, 3.5]})")
            for frame_no in (51, 52):
                page.locator(".st-key-viewer_next[data-stale='false'] button").first.click()
                page.get_by_text(re.compile(rf"^frame {frame_no} of 178 ")).wait_for(timeout=60_000)
                idle(page)
            chart.wait_for_function("() => Math.abs(+document.getElementById('chart').dataset.cursor - 2.08) < 1e-6",
                                    timeout=30_000)
            shown = chart.evaluate("() => document.getElementById('chart')._fullLayout.xaxis.range")
            assert shown == pytest.approx([1.5, 3.5]), shown
            assert len(figures) == loaded, figures[loaded:]  # no figure sent again for a step
            # The chart runs plotly.js's basic bundle (installed by setup), not the full one.
            assert chart.evaluate("() => [...document.scripts].map(s => s.src).filter(u => u.includes('plotly'))") == [
                f"{chart.url.split('/index.html')[0]}/node_modules/plotly.js-basic-dist-min/plotly-basic.min.js"]
        finally:
            browser.close()


def test_ground_truth_in_chromium(dashboard, tud_job, shared_data):
    """Ground truth beside the job: the scores appear, next-error moves the frame, and a
    screenshot (tests/artifacts/dashboard_ground_truth.png) shows the errors."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 2300})
            page.goto(f"{dashboard}/?job_id={tud_job}&t=0")
            page.get_by_text("Exact frame", exact=True).click(timeout=180_000)
            page.locator("[data-testid='stImage'] img").first.wait_for(state="visible", timeout=90_000)
            idle(page)
            page.get_by_text("Ground truth (MOTChallenge)").click()
            field = page.get_by_label("... or a path: gt.txt or a folder holding gt/gt.txt")
            field.fill(str(shared_data / "tud_stadtmitte"))
            field.press("Enter")
            page.get_by_text("Against ground truth").wait_for(timeout=60_000)
            idle(page)
            times = []
            for step in range(5):  # four clicks on next-error, then its keyboard shortcut E
                before = page.evaluate("() => new URLSearchParams(location.search).get('t')")
                if step < 4:
                    page.locator(".st-key-viewer_gt_next[data-stale='false'] button").first.click()
                else:
                    page.keyboard.press("e")
                page.wait_for_function("b => new URLSearchParams(location.search).get('t') !== b", arg=before,
                                       timeout=30_000)
                idle(page)
                times.append(int(page.url.split("t=")[1].split("&")[0]))
            assert times == sorted(set(times)) and times[0] > 0  # forward, a new error each time
            assert page.get_by_text(re.compile(r"^HOTA")).count() and timeline_frame(page)
            page.mouse.move(5, 5)
            time.sleep(1.0)
            page.screenshot(path=str(ARTIFACTS / "dashboard_ground_truth.png"), full_page=True)
            assert not page.locator("[data-testid='stException']").count()
        finally:
            browser.close()
