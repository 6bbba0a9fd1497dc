"""The in-browser player in Chromium, on a video whose frames carry their own number
(tests/videos.py) and results whose box position encodes the frame they belong to:
during playback the overlay drawn on each presented frame is that frame's own, ten
right-arrow presses 50 ms apart move exactly ten frames, the page follows the player,
and at 1400x900 the frame and the timeline are both in view."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import cv2
import numpy as np
import pytest
from playwright.sync_api import sync_playwright

from peoplepath import contract
from tests.test_browser_endpoint import ARTIFACTS, BROWSER_ARGS, CHROMIUM, streamlit_app
from tests.test_browser import TIMELINE, timeline_frame
from tests import videos
from tests.videos import BITS, BLOCK, TOP, read_number, write_pyav

N, FPS, W, H = 100, 25.0, 320, 240
LEFT0, STEP = 0.05, 0.008  # person 0's box on frame f starts at LEFT0 + STEP * f


def uptime() -> str:
    import os
    return "load %.1f %.1f %.1f" % os.getloadavg()


def box_frame(image: np.ndarray) -> int | None:
    """The frame whose box is drawn in a 320x240 BGR picture: from the left edge of the
    blue (Index 0) stroke on the plain grey row at 70% height."""
    row = image[int(H * 0.70)].astype(int)
    blue = np.flatnonzero(row[:, 0] - row[:, 2] > 60)
    if not len(blue):
        return None
    run = blue[: np.argmax(np.diff(np.r_[blue, 10**6]) > 1) + 1]  # the first run of blue pixels
    return round(((run[0] + run[-1] + 1) / 2 / W - LEFT0) / STEP)


def write_results(path):
    persons = [{"Timestamp": contract.frame_to_ms(f, FPS), "Person": {"Index": 0, "BoundingBox": {
        "Left": LEFT0 + STEP * f, "Top": 0.55, "Width": 0.1, "Height": 0.3}}} for f in range(N)]
    path.write_text(json.dumps({"JobStatus": "SUCCEEDED", "Persons": persons, "VideoMetadata": {
        "FrameRate": FPS, "FrameWidth": W, "FrameHeight": H, "DurationMillis": contract.frame_to_ms(N, FPS),
        "Codec": "h264", "Format": "QuickTime / MOV"}}))
    return path


# In the player's frame: on every overlay it draws, read the frame number painted in the
# video (tests/videos.py's blocks) and the frame the overlay's box belongs to.
SAMPLER = """([TOP, BLOCK, BITS, LEFT0, STEP]) => {
  const video = document.querySelector('video'), overlay = document.getElementById('overlay');
  const grab = document.createElement('canvas');
  grab.width = video.videoWidth; grab.height = video.videoHeight;
  const g = grab.getContext('2d', {willReadFrequently: true});
  window.readVideo = () => {
    g.drawImage(video, 0, 0);
    const mean = (x0, y0) => { const d = g.getImageData(x0, y0, 10, 10).data; let s = 0;
      for (let i = 0; i < d.length; i += 4) s += (d[i] + d[i + 1] + d[i + 2]) / 3; return s / (d.length / 4); };
    let number = 0;
    for (let bit = 0; bit < BITS; bit++) {
      const cx = BLOCK + bit * BLOCK + BLOCK / 2;
      const up = mean(cx - 5, TOP + 5), low = mean(cx - 5, TOP + BLOCK + 5);
      if ((up > 128) === (low > 128) || Math.min(Math.abs(up - 128), Math.abs(low - 128)) < 60) return null;
      if (up > 128) number |= 1 << bit;
    }
    return number;
  };
  window.readOverlay = () => {  // the blue (Index 0) box's left edge on the grey row at 70% height
    const y = Math.round(overlay.height * 0.70);
    const row = overlay.getContext('2d').getImageData(0, y, overlay.width, 1).data;
    const blue = (x) => row[4 * x + 2] - row[4 * x] > 60;
    let x = 0;
    while (x < overlay.width && !blue(x)) x++;
    if (x === overlay.width) return null;
    let end = x;
    while (end < overlay.width && blue(end)) end++;
    return Math.round(((x + end) / 2 / overlay.width - LEFT0) / STEP);
  };
  window.samples = [];
  document.addEventListener('peoplepath-overlay', (e) => {
    window.samples.push({drawn: e.detail.frame, overlay: window.readOverlay()});
  });
}"""


@pytest.mark.slow

def _screenshot(locator, tries: int = 3) -> bytes:
    """An element's screenshot, taken again if a page rerun replaced the element meanwhile."""
    for attempt in range(tries):
        try:
            return locator.screenshot()
        except Exception as exc:  # playwright's Error: "Element is not attached to the DOM"
            if "not attached" not in str(exc) or attempt == tries - 1:
                raise
            time.sleep(0.2)
    raise AssertionError("unreachable")

def test_player_overlays_each_frame_and_counts_every_key(tmp_path, monkeypatch):
    painted = videos.paint

    def paint(index: int, width: int, height: int) -> np.ndarray:  # plain grey under the number
        image = painted(index, width, height)
        image[TOP + 2 * BLOCK + 10:] = 90
        return image

    monkeypatch.setattr(videos, "paint", paint)
    video = write_pyav(tmp_path / "numbered.mp4", frames=N, fps=FPS, size=(W, H), gop=25)
    results = write_results(tmp_path / "results.json")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    env = {"PEOPLEPATH_DATA_DIR": str(tmp_path / "data"), "TMPDIR": str(tmp_path)}
    with streamlit_app(env, tmp_path) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{url}/?archive={results}&video={video}")
            iframe = page.locator("iframe[title*='peoplepath_player']")
            iframe.wait_for(state="visible", timeout=120_000)
            player = next(f for f in page.frames if "peoplepath_player" in f.url)
            player.wait_for_function("() => { const v = document.querySelector('video');"
                                     " return v && v.readyState >= 2 && v.videoWidth > 0; }", timeout=60_000)
            page.get_by_text("frame 0 of 99").first.wait_for(timeout=30_000)

            # Layout: at 1400x900 the frame and the timeline are both in view.
            timeline_frame(page, timeout_ms=60_000)
            plot = page.locator(TIMELINE).first
            time.sleep(1.0)
            page.screenshot(path=str(ARTIFACTS / "player_layout.png"))
            frame_box, plot_box = iframe.bounding_box(), plot.bounding_box()
            print(f"\nat 1400x900: player {frame_box['y']:.0f}-{frame_box['y'] + frame_box['height']:.0f} px, "
                  f"timeline {plot_box['y']:.0f}-{plot_box['y'] + plot_box['height']:.0f} px")
            assert frame_box["y"] >= 0 and frame_box["y"] + frame_box["height"] <= 900
            assert plot_box["y"] + plot_box["height"] * 0.75 <= 900

            # Playback: on every picture the page shows (screenshots of the composited video
            # and overlay canvas), the overlay is that frame's own.
            player.evaluate(SAMPLER, [TOP, BLOCK, BITS, LEFT0, STEP])
            wrap = player.evaluate("() => { const r = document.getElementById('wrap').getBoundingClientRect();"
                                   " return [r.x, r.y, r.width, r.height]; }")
            player.locator("#speed").select_option("0.25")
            player.locator("#play").click()
            shots = []
            for _ in range(16):
                png = _screenshot(iframe)
                picture = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
                x, y, w, h = (round(v) for v in wrap)
                shown = cv2.resize(picture[y:y + h, x:x + w], (W, H), interpolation=cv2.INTER_AREA)
                shots.append((read_number(shown), box_frame(shown)))
            player.evaluate("() => document.querySelector('video').pause()")
            cv2.imwrite(str(ARTIFACTS / "player_playing.png"), shown)
            seen = [s for s in shots if s[0] is not None]
            print(f"playback: {len(seen)} of {len(shots)} pictures readable, frames "
                  f"{[s[0] for s in seen]}; overlays {[s[1] for s in seen]} ({uptime()})")
            assert len(seen) >= 10 and len({s[0] for s in seen}) >= 5  # it played through several frames
            assert all(frame == box for frame, box in seen), shots
            # And the player's own account: each overlay it drew was for the frame presented.
            samples = player.evaluate("() => window.samples")
            assert samples and all(s["overlay"] == s["drawn"] for s in samples)

            # Ten right-arrow presses 50 ms apart, in the page: exactly ten frames on.
            player.evaluate("t => { const v = document.querySelector('video'); v.pause(); v.currentTime = t; }",
                            (contract.frame_to_ms(20, FPS) + 20) / 1000)
            player.wait_for_function("() => +document.body.dataset.frame === 20", timeout=15_000)
            time.sleep(1.0)
            start = int(player.evaluate("() => +document.body.dataset.frame"))
            assert player.evaluate("() => document.querySelector('video').paused")
            page.get_by_text("Archived results").first.click()  # focus in the page, not a field
            for _ in range(10):
                page.keyboard.press("ArrowRight")
                time.sleep(0.05)
            try:
                player.wait_for_function("f => +document.body.dataset.frame === f && !document.querySelector('video').seeking",
                                         arg=start + 10, timeout=15_000)
            except Exception:
                print("state:", player.evaluate("() => [document.body.dataset.frame, document.querySelector('video').currentTime,"
                                                " document.querySelector('video').seeking, window.samples.slice(-5)]"))
                raise
            time.sleep(0.5)
            assert int(player.evaluate("() => +document.body.dataset.frame")) == start + 10
            assert player.evaluate("() => window.readVideo()") == start + 10
            assert player.evaluate("() => window.readOverlay()") == start + 10
            print(f"ten right-arrow presses 50 ms apart: frame {start} -> {start + 10}")
            # The page follows the player (debounced): its caption and link.
            page.get_by_text(f"frame {start + 10} of 99").first.wait_for(timeout=30_000)
            page.wait_for_url(lambda u: f"t={contract.frame_to_ms(start + 10, FPS)}" in u, timeout=30_000)
            # The page's own moves (the slider's +1 button) move the player.
            page.locator(".st-key-viewer_next button").first.click()
            player.wait_for_function("f => +document.body.dataset.frame === f", arg=start + 11, timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "player.png"))
            assert not page.locator("[data-testid='stException']").count()
            # The video came from the dashboard's video route, straight from the file on
            # disk: a Range request gets exactly those bytes of it, an unknown token nothing.
            src = player.evaluate("() => document.querySelector('video').src")
            assert "/peoplepath/video/" in src, src
            part = ranged(src, 1000, 1999)  # the test video is H.264 in MP4: played as it is
            assert part.status == 206 and part.headers["Content-Range"] == f"bytes 1000-1999/{video.stat().st_size}"
            assert part.read() == video.read_bytes()[1000:2000]
            with pytest.raises(urllib.error.HTTPError, match="404"):
                ranged(src.replace("/video/", "/video/0"), 0, 9)
        finally:
            browser.close()


def ranged(url: str, first: int, last: int):
    """GET bytes first..last of `url`."""
    return urllib.request.urlopen(urllib.request.Request(url, headers={"Range": f"bytes={first}-{last}"}), timeout=30)
