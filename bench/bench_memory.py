"""Peak resident memory of the whole `python -m peoplepath track` process, by video length.

Runs `track` under `/usr/bin/time -v` (Debian's `time`) on PETS09-S2L1 once, the same clip
looped 4 times, and a generated long video (PETS09-S2L1 looped to `--hour-minutes`,
default 60), each made with the ffmpeg binary of imageio-ffmpeg (concat demuxer, `-c
copy`) in a temporary folder. Prints each run's peak RSS, the 4x / 1x ratio (target
<= 1.15) and the long video's peak (target < 1.5 GB).

    python bench/bench_memory.py [--hour-minutes 60] [--no-faces] [--skip-hour]

The hour takes long (25,000 frames of PETS at 7 fps; about 12+ minutes on a shared
machine): run it in the background.
"""

from __future__ import annotations

import argparse
import math
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import imageio_ffmpeg

REPO = Path(__file__).resolve().parents[1]
PETS = REPO.parent / "shared" / "data" / "pets09_s2l1" / "pets09_s2l1_h264.mp4"
PETS_SECONDS = 795 / 7


def loop_video(source: Path, times: int, out: Path) -> Path:
    """`source` played `times` times in a row, stream-copied (no re-encoding)."""
    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"file '{source}'\n" for _ in range(times)))
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing),
         "-c", "copy", str(out)],
        check=True,
    )
    return out


def peak_rss_mb(video: Path, out: Path, *extra: str) -> tuple[float, float, str]:
    """(peak resident MB, wall seconds, the command's summary line) of one `track` run."""
    t0 = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-v", sys.executable, "-m", "peoplepath", "track", str(video), "--out", str(out), *extra],
        cwd=REPO, capture_output=True, text=True,
    )
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"track failed on {video}:\n{done.stderr[-3000:]}")
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    if peak is None:
        raise RuntimeError("no 'Maximum resident set size' in /usr/bin/time -v output")
    summary = done.stdout.strip().splitlines()[-1]
    return int(peak.group(1)) / 1024, seconds, summary


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hour-minutes", type=float, default=60.0, help="length of the long video (default 60)")
    parser.add_argument("--skip-hour", action="store_true", help="only the 1x and 4x runs")
    parser.add_argument("--no-faces", action="store_true")
    args = parser.parse_args()
    extra = ("--no-faces",) if args.no_faces else ()
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        folder = Path(tmp)
        runs = [("PETS09-S2L1 1x", PETS), ("PETS09-S2L1 4x", loop_video(PETS, 4, folder / "pets-4x.mp4"))]
        if not args.skip_hour:
            times = max(1, math.ceil(args.hour_minutes * 60 / PETS_SECONDS))
            runs.append((f"PETS09-S2L1 {times}x ({times * PETS_SECONDS / 60:.0f} min)", loop_video(PETS, times, folder / "long.mp4")))
        peaks = {}
        for name, video in runs:
            peak, seconds, summary = peak_rss_mb(video, folder / "out.json", *extra)
            peaks[name] = peak
            print(f"{name:32s} peak RSS {peak:7.1f} MB  ({seconds:6.0f} s; {summary.split(' -> ')[0]})", flush=True)
    one, four = peaks["PETS09-S2L1 1x"], peaks["PETS09-S2L1 4x"]
    print(f"4x / 1x peak RSS ratio: {four / one:.3f} (target <= 1.15)")
    if not args.skip_hour:
        name, peak = list(peaks.items())[-1]
        print(f"{name}: peak RSS {peak / 1024:.2f} GB (target < 1.5 GB)")


if __name__ == "__main__":
    main()
