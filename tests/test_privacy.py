"""Faces protected: the regions blurred (face boxes grown, else the head of the person box,
also between sparse detections), and, on a real clip with large frontal faces analysed by
the engine, that no face of the source survives in a clip exported with --blur-faces."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import cv2
import imageio_ffmpeg
import numpy as np
import pytest

from peoplepath import client, overlay, privacy, results
from peoplepath.export_video import write_clip
from peoplepath.video import FrameReader

REPO = Path(__file__).resolve().parents[1]


def detection(t: int, index: int, box, face=None) -> dict:
    person: dict = {"Index": index}
    if box is not None:
        person["BoundingBox"] = dict(zip(("Left", "Top", "Width", "Height"), box))
    if face is not None:
        person["Face"] = {"BoundingBox": dict(zip(("Left", "Top", "Width", "Height"), face)), "Confidence": 99.0}
    return {"Timestamp": t, "Person": person}


def detail(image: np.ndarray, box) -> float:
    """High-frequency energy of a region: the variance of its Laplacian."""
    x1, y1, x2, y2 = box
    gray = cv2.cvtColor(np.ascontiguousarray(image[y1:y2, x1:x2]), cv2.COLOR_BGR2GRAY).astype(np.float64)
    return float(cv2.Laplacian(gray, cv2.CV_64F).var())


def high_pass_correlation(a: np.ndarray, b: np.ndarray, box) -> float:
    """Correlation of the fine detail (image minus its blur) of two images in a region."""
    x1, y1, x2, y2 = box
    parts = []
    for img in (a, b):
        gray = cv2.cvtColor(np.ascontiguousarray(img[y1:y2, x1:x2]), cv2.COLOR_BGR2GRAY).astype(np.float64)
        parts.append((gray - cv2.GaussianBlur(gray, (0, 0), 2.0)).ravel())
    return float(np.corrcoef(parts[0], parts[1])[0, 1])


def test_regions_face_boxes_grown_and_heads_of_persons_without_one():
    table = results.build_table([
        detection(0, 0, (0.1, 0.1, 0.2, 0.8), face=(0.15, 0.12, 0.1, 0.1)),
        detection(0, 1, (0.5, 0.2, 0.2, 0.5)),  # no face box: the top of the person box
        detection(0, 2, None, face=(0.8, 0.8, 0.1, 0.1)),  # a face without a person box
    ])
    regions = privacy.face_regions(table, 1000, 1000).tolist()
    assert regions == [[125, 95, 275, 245], [775, 775, 925, 925], [500, 185, 700, 310]]


def test_blur_keeps_no_detail_and_touches_nothing_else():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    box = (100, 60, 180, 160)
    out = privacy.blur_regions(image.copy(), np.array([box]))
    assert detail(out, box) < 0.01 * detail(image, box)
    assert abs(high_pass_correlation(image, out, box)) < 0.05
    mask = np.ones(image.shape[:2], bool)
    mask[60:160, 100:180] = False
    assert np.array_equal(out[mask], image[mask])


def test_a_frame_between_sparse_detections_is_covered():
    """The engine sampled 0 ms and 1000 ms; the frame at 500 ms blurs where the face is then."""
    table = results.build_table([
        detection(0, 0, (0.1, 0.2, 0.1, 0.6), face=(0.12, 0.22, 0.06, 0.08)),
        detection(1000, 0, (0.7, 0.2, 0.1, 0.6), face=(0.72, 0.22, 0.06, 0.08)),
    ])
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (400, 1000, 3), dtype=np.uint8)
    view = overlay.View(table.iloc[0:0], table, 500)  # no detection on this frame
    out = overlay.render(image, view, [privacy.FaceBlurAnnotator()])
    middle = (420, 88, 480, 120)  # the face box at 500 ms, interpolated
    assert detail(out, middle) < 0.02 * detail(image, middle)
    far = (0, 300, 100, 400)
    assert np.array_equal(out[300:400, 0:100], image[300:400, 0:100]) and detail(out, far) > 0


@pytest.fixture(scope="module")
def faces_clip(tmp_path_factory, shared_data):
    """The first 1.2 s of the 1080p clip with large frontal faces, analysed by the engine at
    12.5 fps (so every other frame lies between two detections)."""
    folder = tmp_path_factory.mktemp("faces")
    clip = folder / "faces.mp4"
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-i",
                    str(shared_data / "faces_royal_opera_house" / "video.mp4"), "-t", "1.2", "-an", "-c:v", "libx264",
                    "-crf", "18", "-pix_fmt", "yuv420p", str(clip)], check=True)
    res = folder / "faces.json"
    subprocess.run([sys.executable, "-m", "peoplepath", "track", str(clip), "--out", str(res), "--max-fps", "12.5"],
                   cwd=REPO, check=True, capture_output=True)
    return clip, res


def face_boxes_per_frame(table, reader) -> dict[int, list[tuple[int, int, int, int]]]:
    """The engine's face boxes (pixels, not grown) on the frames it analysed, and on the
    frames between, the average of the person's two neighbouring boxes."""
    w, h = reader.info.width, reader.info.height
    faces = table[table["has_face"]]
    frames = results.frames_from_timestamps(faces["timestamp_ms"].to_numpy(), reader.timestamps_ms)
    boxes = np.column_stack([faces["face_x1"], faces["face_y1"], faces["face_x2"], faces["face_y2"]])
    per: dict[int, dict[int, np.ndarray]] = {}
    for f, i, b in zip(frames, faces["index"], boxes):
        per.setdefault(int(f), {})[int(i)] = b
    out: dict[int, list] = {}
    for f in range(len(reader.timestamps_ms)):
        if f in per:
            found = list(per[f].values())
        else:
            prev, nxt = per.get(f - 1, {}), per.get(f + 1, {})
            found = [(prev[i] + nxt[i]) / 2 for i in prev.keys() & nxt.keys()]
        out[f] = [(max(int(x1) + 6, 0), max(int(y1) + 6, 0), min(int(x2) - 6, w), min(int(y2) - 6, h))  # inside the drawn box
                  for x1, y1, x2, y2 in found if y2 - y1 >= 40]
    return out


@pytest.mark.slow
def test_no_face_of_the_source_survives_the_blurred_export(faces_clip, tmp_path):
    clip, res = faces_clip
    blurred = tmp_path / "blurred.mp4"
    run = subprocess.run([sys.executable, "-m", "peoplepath", "export-clip", str(res), "--video", str(clip),
                          "--out", str(blurred), "--blur-faces", "--no-overlay"], cwd=REPO, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    table = results.table_from_job(client.load_archive(res))
    with FrameReader(clip, proxy="off") as source:
        plain = write_clip(source, table, 0, int(source.timestamps_ms[-1]), tmp_path / "plain.mp4", annotators=[])
        boxes = face_boxes_per_frame(table, source)
        assert sum(map(len, boxes.values())) > 60  # the engine found the large faces on (nearly) every frame
        with FrameReader(blurred, proxy="off") as out, FrameReader(plain, proxy="off") as control:
            assert len(out.timestamps_ms) == len(source.timestamps_ms)
            kept, left, corr = [], [], []
            for f, regions in boxes.items():
                src, dst, ctl = (r.frame_at_index(f).image for r in (source, out, control))
                for box in regions:
                    kept.append(high_pass_correlation(src, ctl, box))  # the same encode, not blurred
                    left.append(detail(dst, box) / detail(src, box))
                    corr.append(abs(high_pass_correlation(src, dst, box)))
    print(f"\n{len(left)} face regions: unblurred control correlation >= {min(kept):.2f}; blurred: detail left "
          f"<= {max(left):.1%}, |correlation| <= {max(corr):.2f}")
    assert len(left) > 60
    assert min(kept) > 0.75  # the measure sees a face that survives
    assert max(left) < 0.2 and max(corr) < 0.25  # no face does


def test_export_clip_command_range_and_errors(tmp_path):
    from tests.dash_helpers import write_archive, write_numbered_video

    archive = write_archive(tmp_path / "a.json", n_frames=60)
    video = write_numbered_video(tmp_path / "v.mp4", 60)

    def run(*args):
        return subprocess.run([sys.executable, "-m", "peoplepath", "export-clip", str(archive), "--video", str(video),
                               *map(str, args)], cwd=REPO, capture_output=True, text=True)

    done = run("--out", tmp_path / "c.mp4", "--from", 400, "--to", 1200, "--blur-faces")
    assert done.returncode == 0, done.stderr
    with FrameReader(tmp_path / "c.mp4", proxy="off") as clip:
        assert clip.info.frame_count == 21  # frames 10..30 at 25 fps
    backwards = run("--out", tmp_path / "d.mp4", "--from", 1200, "--to", 400)
    assert backwards.returncode == 1 and "before it starts" in backwards.stderr
    missing = run("--out", tmp_path / "e.mp4", "--video", tmp_path / "none.mp4")
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
