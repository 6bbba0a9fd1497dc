"""peoplepath.overlay and export_video: drawing on copies, stable colours, stateless
trails, and an H.264 clip a browser plays."""

from __future__ import annotations

import subprocess

import imageio_ffmpeg
import numpy as np
import pytest

from peoplepath import overlay, results
from peoplepath.export_video import ClipError, write_clip
from peoplepath.video import FrameReader
from tests.dash_helpers import FPS, HEIGHT, WIDTH, make_persons, write_numbered_video


@pytest.fixture(scope="module")
def table():
    return results.build_table(make_persons(4, 100), width=WIDTH, height=HEIGHT, fps=FPS)


def rows_at(table, t_ms):
    return table[table["timestamp_ms"] == t_ms]


def test_render_draws_on_a_copy(table):
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    image.setflags(write=False)  # frames from FrameReader are read-only
    rows = rows_at(table, 1200)
    out = overlay.render(image, overlay.View(rows, table, 1200), overlay.annotators(trails=True))
    assert out is not image and not image.any() and out.any()
    with pytest.raises(ValueError, match="BGR"):
        overlay.render(np.zeros((4, 4), np.uint8), overlay.View(rows), [])


def test_person_box_in_its_colour_where_the_box_is(table):
    rows = rows_at(table, 1200)
    one = rows[rows["has_box"]].tail(1)
    boxed = one.iloc[0]
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    out = overlay.render(image, overlay.View(one), [overlay.BoxAnnotator(label=False)])
    x1, y1, x2, y2 = (int(round(boxed[c])) for c in ("x1", "y1", "x2", "y2"))
    mid_y = (y1 + y2) // 2
    assert tuple(out[mid_y, x1]) == overlay.color_for(boxed["index"])
    assert not out[mid_y, (x1 + x2) // 2].any()  # the box is not filled
    assert overlay.color_for(3) == overlay.color_for(3 + 20) and overlay.color_for(0) != overlay.color_for(1)
    assert overlay.color_hex(0) == "#1f77b4"


def test_faces_and_landmarks_only_where_present(table):
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    no_face = table[~table["has_face"]].head(3)
    assert not overlay.render(image, overlay.View(no_face), [overlay.FaceAnnotator(), overlay.LandmarkAnnotator()]).any()
    face = table[table["lm_nose_x"].notna()].head(1)
    out = overlay.render(image, overlay.View(face), [overlay.LandmarkAnnotator()])
    nx, ny = int(face["lm_nose_x"].iat[0] * WIDTH), int(face["lm_nose_y"].iat[0] * HEIGHT)
    assert out[ny - 1:ny + 2, nx - 1:nx + 2].any()
    no_lm = table[table["has_face"] & table["lm_nose_x"].isna()].head(1)
    assert not overlay.render(image, overlay.View(no_lm), [overlay.LandmarkAnnotator()]).any()
    assert overlay.render(image, overlay.View(no_lm), [overlay.FaceAnnotator()]).any()


def test_trails_are_stateless(table):
    """The trail at a time is the same whether reached by stepping or by jumping."""
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    trail = overlay.TrailAnnotator(history_ms=800)
    jumped = overlay.render(image, overlay.View(rows_at(table, 2000), table, 2000), [trail])
    for t in range(0, 2000, 40):
        overlay.render(image, overlay.View(rows_at(table, t), table, t), [trail])
    stepped = overlay.render(image, overlay.View(rows_at(table, 2000), table, 2000), [trail])
    assert jumped.any() and np.array_equal(jumped, stepped)
    assert not overlay.render(image, overlay.View(rows_at(table, 0), table, 0), [trail]).any()
    with pytest.raises(ValueError):
        overlay.TrailAnnotator(0)


def test_path_and_heatmap(table):
    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    assert overlay.draw_path(image, table, 0).any() and not overlay.draw_path(image, table, 99).any()
    heat = overlay.heatmap_overlay(image, results.heatmap(table))
    assert heat.shape == image.shape and heat.any() and not image.any()


def test_clip_is_browser_playable_h264(tmp_path, table):
    video = write_numbered_video(tmp_path / "numbered.mp4", 60)
    with FrameReader(video, cache_dir=tmp_path / "cache") as reader:
        seen = []
        out = write_clip(reader, table, 400, 1200, tmp_path / "clip.mp4", progress=seen.append)
        with pytest.raises(ClipError):
            write_clip(reader, table, 1200, 400, tmp_path / "bad.mp4")
    assert seen[-1] == 1.0
    probe = subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-i", str(out)], capture_output=True, text=True)
    assert "h264" in probe.stderr and "yuv420p" in probe.stderr
    data = out.read_bytes()
    assert data.find(b"moov") < data.find(b"mdat")  # +faststart: playable while downloading
    with FrameReader(out, cache_dir=tmp_path / "cache2", proxy="off") as clip:
        assert clip.info.frame_count == 21  # frames 10..30 at 25 fps
        assert clip.frame_at_index(0).image.any()


def test_face_marks_sized_to_the_face():
    """On TUD-Stadtmitte faces are ~15 px wide: the dots must stay smaller than the face."""
    from peoplepath import contract
    from peoplepath.engine.types import Face

    image = np.zeros((HEIGHT, WIDTH, 3), np.uint8)
    def marks(face_px: float) -> int:
        x, y = 200.0, 200.0
        lms = {"eyeLeft": (x + face_px * 0.3, y + face_px * 0.4), "eyeRight": (x + face_px * 0.7, y + face_px * 0.4),
               "nose": (x + face_px / 2, y + face_px * 0.6), "mouthLeft": (x + face_px * 0.35, y + face_px * 0.8),
               "mouthRight": (x + face_px * 0.65, y + face_px * 0.8)}
        face = Face(xyxy=np.array([x, y, x + face_px, y + face_px]), confidence=99.0, landmarks=lms,
                    pose=(0.0, 0.0, 0.0), brightness=50.0, sharpness=50.0)
        rec = contract.person_detection(0, 0, None, face, WIDTH, HEIGHT)
        rows = results.build_table([rec], width=WIDTH, height=HEIGHT)
        drawn = overlay.render(image, overlay.View(rows), [overlay.LandmarkAnnotator()])
        return int(drawn.any(axis=2).sum())
    small, large = marks(15), marks(120)
    assert small <= 0.2 * 15 * 15  # five dots cover at most a fifth of a 15 px face
    assert large > 4 * small  # larger faces get larger dots
    assert overlay.landmark_radius(15, 3) == 1 and overlay.landmark_radius(200, 3) == 3
    assert overlay.face_line_width(15, 2) == 1 and overlay.face_line_width(90, 2) == 2
