"""Dashboard benchmark at the scale of hours: a real PETS09 job's results repeated 1, 20
and 60 times as distinct persons (60x: 277,200 detections of 1,320 persons, 1.9 h),
stored in a real service, opened by deep link in Chromium (Playwright), with and
without the matching long video (the clip concatenated, `-c copy`; first open: no
proxy built yet). Prints, per job: the time to the first frame; a step pressed as soon
as the first frame shows (frame moved / page done); steady steps (median); bytes the
page received per step; the Streamlit process's RSS after load and its peak; and ratios
against the 1x job of the same run.

    python bench/bench_dashboard.py [--times 1 20 60] [--pets-json FILE] [--app-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil
from playwright.sync_api import sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.conftest import SHARED_DATA, ServiceHandle, free_port  # noqa: E402
from tests.long_jobs import PETS_CLIP, PETS_FRAMES, concat_video, long_response, store_job, wait_for_job  # noqa: E402
from tests.test_browser import idle, launch, streamlit_server  # noqa: E402

NEXT = ".st-key-viewer_next button"
CAPTION = re.compile(r"^frame (\d+) of ")  # the viewer's caption, in the player's and the exact frame's view


def shown_frame(page) -> int:
    """The frame the viewer's caption names now."""
    text = page.get_by_text(CAPTION).first.text_content(timeout=600_000) or ""
    return int(CAPTION.match(text.strip()).group(1))


def first_frame_js(video: bool) -> str:
    """True once the viewer shows its frame: with a video, the player's video with a
    frame decoded (in its component's frame); without, the exact frame's image (the
    first image on the page: the People tab's thumbnails come after it, and with a
    video they show before the player's first frame)."""
    if video:
        return ("() => [...document.querySelectorAll(\"iframe[title*='peoplepath_player']\")].some(f => {"
                " const v = f.contentDocument && f.contentDocument.querySelector('video');"
                " return v && v.readyState >= 2; })")
    return "() => !!document.querySelector(\"[data-testid='stImage'] img\")"


def pets_results(service: ServiceHandle, cache: Path | None) -> dict:
    """The PETS09 job's merged response: from `cache` if it exists, else run the job."""
    if cache is not None and cache.is_file():
        return json.loads(cache.read_text())
    from peoplepath import client as api

    c = service.client()
    job_id = service.start_job(PETS_CLIP)
    assert wait_for_job(c, job_id, timeout=1800)["JobStatus"] == "SUCCEEDED"
    doc = api.fetch_job(api.make_client(service.endpoint_url), job_id).to_response()
    if cache is not None:
        cache.write_text(json.dumps(doc))
    return doc


def rss_mb(pid: int) -> tuple[float, float]:
    """(RSS now, peak RSS) of a process, MB."""
    proc = psutil.Process(pid)
    peak = next((int(line.split()[1]) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                 if line.startswith("VmHWM:")), 0)
    return proc.memory_info().rss / 2**20, peak / 2**10


def streamlit_pid(port: int) -> int:
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        if "streamlit" in " ".join(cmd) and str(port) in cmd:
            return proc.pid
    raise RuntimeError(f"no streamlit process on port {port}")


def measure(url: str, job_id: str, steps: int, pid: int, *, video: bool) -> dict:
    """Open the job, press next-frame as soon as the frame shows, then steady steps."""
    out: dict = {}
    received = [0]
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page(viewport={"width": 1440, "height": 1500})
            page.on("websocket", lambda ws: ws.on(
                "framereceived", lambda payload: received.__setitem__(0, received[0] + len(payload))))
            start = time.monotonic()
            page.goto(f"{url}/?job_id={job_id}&t=0")
            out["goto"] = time.monotonic() - start
            page.get_by_text(CAPTION).first.wait_for(timeout=600_000)
            page.wait_for_function(first_frame_js(video), timeout=600_000)
            out["first_frame"] = time.monotonic() - start
            pressed = time.monotonic()
            page.locator(NEXT).first.click(timeout=600_000)
            page.get_by_text(re.compile(r"^frame 1 of ")).first.wait_for(timeout=600_000)
            out["early_frame"] = time.monotonic() - pressed
            idle(page, timeout_ms=900_000)
            out["early_done"] = time.monotonic() - pressed
            out["load_done"] = time.monotonic() - start
            out["rss_load"], _ = rss_mb(pid)
            frame_s, done_s, sent = [], [], []
            for _ in range(steps):
                time.sleep(0.5)
                idle(page, timeout_ms=300_000)
                before = shown_frame(page)
                received[0] = 0
                t0 = time.monotonic()
                page.locator(f"{NEXT}").first.click()
                page.get_by_text(re.compile(rf"^frame {before + 1} of ")).first.wait_for(timeout=300_000)
                frame_s.append(time.monotonic() - t0)
                idle(page, timeout_ms=300_000)
                done_s.append(time.monotonic() - t0)
                sent.append(received[0])
            out["step_frame"] = statistics.median(frame_s)
            out["step_done"] = statistics.median(done_s)
            out["step_kb"] = statistics.median(sent) / 1000
            out["exceptions"] = page.locator("[data-testid='stException']").count()
        finally:
            browser.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--times", type=int, nargs="+", default=[1, 20, 60])
    ap.add_argument("--pets-json", type=Path, default=Path(tempfile.gettempdir()) / "peoplepath-bench-pets.json",
                    help="the PETS09 job's results (made by running the job once when absent)")
    ap.add_argument("--app-dir", type=Path, default=REPO, help="the checkout whose dashboard.py runs (to compare)")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--video", choices=("both", "with", "without"), default="both")
    args = ap.parse_args()
    script = args.app_dir / "dashboard.py"
    script = script if script.is_file() else args.app_dir / "app.py"  # checkouts before dashboard.py

    work = Path(tempfile.mkdtemp(prefix="peoplepath-bench-dash-"))
    service = ServiceHandle(work / "service", free_port())
    service.link_shared_bucket(SHARED_DATA)
    service.start()
    rows = []
    try:
        doc = pets_results(service, args.pets_json)
        n1 = len(doc["Persons"])
        modes = {"both": (False, True), "with": (True,), "without": (False,)}[args.video]
        # Warm-up, not measured: the first Streamlit start after a while reads every
        # module cold (minutes on a busy machine), which is not the dashboard's cost.
        warm = store_job(service.data_dir, f"bench-warmup-{int(time.time())}", long_response(
            doc, 1, n_frames=PETS_FRAMES, video={"S3Object": {"Bucket": "long", "Name": "absent.mp4"}}))
        with streamlit_server(script, {"AWS_ENDPOINT_URL_REKOGNITION": service.endpoint_url,
                                                       "PEOPLEPATH_DATA_DIR": str(service.data_dir)}, work) as url:
            measure(url, warm, 1, streamlit_pid(int(url.rsplit(":", 1)[1])), video=False)
        for with_video in modes:
            for times in args.times:
                name = f"pets_x{times}.mp4" if with_video else f"absent_x{times}.mp4"
                if with_video:
                    target = service.data_dir / "buckets" / "long" / name
                    target.parent.mkdir(parents=True, exist_ok=True)
                    if not target.exists():
                        concat_video(SHARED_DATA / PETS_CLIP, times, target)
                job_id = f"bench-x{times}-{'video' if with_video else 'novideo'}-{int(time.time())}"
                resp = long_response(doc, times, n_frames=PETS_FRAMES,
                                     video={"S3Object": {"Bucket": "long", "Name": name}})
                store_job(service.data_dir, job_id, resp)
                persons = len({p["Person"]["Index"] for p in resp["Persons"]})
                del resp
                env = {"AWS_ENDPOINT_URL_REKOGNITION": service.endpoint_url, "PEOPLEPATH_DATA_DIR": str(service.data_dir),
                       "XDG_CACHE_HOME": str(work / f"cache-{job_id}")}  # no proxy yet: a first open
                with streamlit_server(script, env, work) as url:
                    pid = streamlit_pid(int(url.rsplit(":", 1)[1]))
                    result = measure(url, job_id, args.steps, pid, video=with_video)
                    _, result["rss_peak"] = rss_mb(pid)
                result.update(times=times, video=with_video, detections=n1 * times, persons=persons)
                rows.append(result)
                print(json.dumps(result), flush=True)
    finally:
        service.stop()
    report(rows)


def report(rows: list[dict]) -> None:
    print("\n| job | video | first frame | step pressed at first frame (frame / page done) | step (frame / page done)"
          " | KB per step | RSS after load (peak) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        base = next((b for b in rows if b["times"] == min(x["times"] for x in rows) and b["video"] == r["video"]), r)

        def ratio(k: str) -> str:
            return f" ({r[k] / base[k]:.2f}x)" if base is not r and base[k] else ""

        print(f"| {r['times']}x: {r['persons']:,} persons, {r['detections']:,} det | {'yes' if r['video'] else 'no'} "
              f"| {r['first_frame']:.2f} s{ratio('first_frame')} "
              f"| {r['early_frame']:.2f} / {r['early_done']:.2f} s "
              f"| {r['step_frame']:.2f}{ratio('step_frame')} / {r['step_done']:.2f} s{ratio('step_done')} "
              f"| {r['step_kb']:.1f} | {r['rss_load']:.0f}{ratio('rss_load')} ({r['rss_peak']:.0f}{ratio('rss_peak')}) MB |")
    if any(r["exceptions"] for r in rows):
        print("exceptions on the page:", [(r["times"], r["video"]) for r in rows if r["exceptions"]])


if __name__ == "__main__":
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    main()
