"""The dashboard pointed at a PeoplePath service only through AWS_ENDPOINT_URL_REKOGNITION,
sharing no data folder with it (as a service on another machine): the job's frames come
from the service's video route, not blank frames."""

from __future__ import annotations

import time
from pathlib import Path
from typing import ContextManager

import cv2
import numpy as np
import pytest
from playwright.sync_api import sync_playwright

from tests.test_browser import streamlit_server

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "tests" / "artifacts"
CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def streamlit_app(env: dict[str, str], log_dir: Path) -> ContextManager[str]:
    """`streamlit run dashboard.py` on a free port with `env` added and no endpoint variables of
    this process's own; yields its URL."""
    return streamlit_server(REPO / "dashboard.py", env, log_dir, drop=("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_REKOGNITION"))


def not_blank(png: bytes) -> tuple[float, float]:
    """(share of pixels at the blank frames' grey, standard deviation) of a screenshot."""
    image = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR).astype(np.int16)
    grey = np.all(np.abs(image - 32) <= 4, axis=2).mean()
    return float(grey), float(image.std())


@pytest.mark.slow
def test_frames_from_the_service_route(running_service, tud_job, tmp_path):
    env = {"AWS_ENDPOINT_URL_REKOGNITION": running_service.endpoint_url,
           "PEOPLEPATH_DATA_DIR": str(tmp_path / "dashboard-data"), "TMPDIR": str(tmp_path)}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with streamlit_app(env, tmp_path) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{url}/?job_id={tud_job}&t=2000")
            page.get_by_text("Exact frame", exact=True).click(timeout=180_000)  # the server-drawn frame
            frame = page.locator("[data-testid='stImage'] img").first
            frame.wait_for(state="visible", timeout=120_000)
            page.get_by_text("from the PeoplePath service at").first.wait_for(timeout=30_000)
            assert not page.get_by_text("drawing on blank frames").count()
            time.sleep(0.5)
            png = frame.screenshot(path=str(ARTIFACTS / "endpoint_frame.png"))
            grey, spread = not_blank(png)
            print(f"\nframe from the service route: {grey:.1%} blank-grey pixels, std {spread:.1f}")
            assert grey < 0.2 and spread > 25
            assert not page.locator("[data-testid='stException']").count()
        finally:
            browser.close()
    assert list((tmp_path / "peoplepath-service").rglob("tud_stadtmitte_h264.mp4"))  # fetched through the route
