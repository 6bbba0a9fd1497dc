"""peoplepath.video on made videos (frame index painted into every frame) and shared clips."""

from __future__ import annotations

import random
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from peoplepath.video import FrameReader, VideoError, iter_frames, probe
from tests import videos

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
PETS_H264 = DATA / "pets09_s2l1" / "pets09_s2l1_h264.mp4"
VTEST = DATA / "pets09_s2l1" / "vtest.avi"
OPERA = DATA / "faces_royal_opera_house" / "video.mp4"
TUD_MP4V = DATA / "tud_stadtmitte" / "TUD-Stadtmitte_mp4v.mp4"

# name -> (writer, frames, fps, expected codec, expected format)
MADE = {
    "h264_long_gop": (lambda p: videos.write_pyav(p, frames=300, gop=250), 300, 25, "h264", "QuickTime / MOV"),
    "h264_audio_faststart": (
        lambda p: videos.write_pyav(p, frames=90, gop=90, audio=True, container_options={"movflags": "faststart"}),
        90, 25, "h264", "QuickTime / MOV",
    ),
    "mp4v": (lambda p: videos.write_cv2(p, "mp4v", frames=100), 100, 25, "mpeg4", "QuickTime / MOV"),
    "xvid_avi": (lambda p: videos.write_cv2(p, "XVID", frames=100), 100, 25, "mpeg4", "AVI (Audio Video Interleaved)"),
    "mpeg4_bframes_avi": (
        lambda p: videos.write_pyav(p, codec="mpeg4", frames=120, gop=60, bframes=2), 120, 25, "mpeg4",
        "AVI (Audio Video Interleaved)",
    ),
    "msmpeg4_avi": (
        lambda p: videos.write_pyav(p, codec="msmpeg4", frames=120, fps=10, gop=120, bframes=0), 120, 10, "msmpeg4v3",
        "AVI (Audio Video Interleaved)",
    ),
    "h264_raw_no_pts": (lambda p: videos.write_pyav(p, frames=60, gop=60), 60, 25, "h264", "raw H.264 video"),
    "h264_60fps": (lambda p: videos.write_pyav(p, frames=120, fps=60, gop=120), 120, 60, "h264", "QuickTime / MOV"),
}
SUFFIX = {"xvid_avi": ".avi", "mpeg4_bframes_avi": ".avi", "msmpeg4_avi": ".avi", "h264_raw_no_pts": ".h264"}


@pytest.fixture(scope="session")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("videos")
    return {name: spec[0](folder / f"{name}{SUFFIX.get(name, '.mp4')}") for name, spec in MADE.items()}


@pytest.fixture(scope="session")
def proxy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("proxies")


def top_boxes(path: Path) -> list[str]:
    """The top-level box types of an mp4 file, in file order."""
    boxes, data, at = [], path.read_bytes(), 0
    while at + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[at : at + 8])
        size = struct.unpack(">Q", data[at + 8 : at + 16])[0] if size == 1 else size
        boxes.append(kind.decode("latin-1"))
        at += size if size else len(data)
    return boxes


def check(frame, index: int) -> None:
    assert frame.index == index
    assert videos.read_number(frame.image) == index, f"asked for frame {index}"


def test_painted_numbers_survive_encoding(made: dict[str, Path]) -> None:
    for name, path in made.items():
        frames = list(iter_frames(path, max_fps=1000))
        assert [videos.read_number(f.image) for f in frames] == list(range(MADE[name][1])), name
    assert videos.read_number(np.zeros((240, 320, 3), np.uint8)) is None


def test_made_files_are_what_they_claim(made: dict[str, Path]) -> None:
    assert top_boxes(made["h264_long_gop"]).index("moov") > top_boxes(made["h264_long_gop"]).index("mdat")
    assert top_boxes(made["h264_audio_faststart"]).index("moov") < top_boxes(made["h264_audio_faststart"]).index("mdat")
    import av

    with av.open(str(made["h264_audio_faststart"])) as c:
        assert len(c.streams.audio) == 1


@pytest.mark.parametrize("name", MADE)
def test_probe_made_files(made: dict[str, Path], name: str) -> None:
    _, frames, fps, codec, fmt = MADE[name]
    info = probe(made[name])
    assert (info.codec, info.format, info.width, info.height) == (codec, fmt, 320, 240)
    assert info.fps == pytest.approx(fps)
    assert info.frame_count == frames
    assert info.duration_ms == pytest.approx(frames * 1000 / fps, abs=1000 / fps + 1)
    assert info.color_range == "LIMITED"


@pytest.mark.parametrize("proxy", ["off", "wait"])
@pytest.mark.parametrize("name", MADE)
def test_random_indexes_and_times_are_exact(made: dict[str, Path], proxy_dir: Path, name: str, proxy: str) -> None:
    if name == "h264_raw_no_pts" and proxy == "off":
        with pytest.raises(VideoError, match="no usable frame timestamps"):
            FrameReader(made[name], proxy="off")
        return
    rng = random.Random(name)
    with FrameReader(made[name], cache_bytes=0, cache_dir=proxy_dir, proxy=proxy) as reader:
        n = reader.info.frame_count
        assert len(reader.timestamps_ms) == n and np.all(np.diff(reader.timestamps_ms) > 0)
        for index in [rng.randrange(n) for _ in range(40)] + [n - 1, 0, n - 1]:
            check(reader.frame_at_index(index), index)
        for ms in [rng.uniform(0, reader.info.duration_ms + 500) for _ in range(40)]:
            frame = reader.frame_at_ms(ms)
            expected = int(np.searchsorted(reader.timestamps_ms, ms, side="right")) - 1
            check(frame, expected)
            assert frame.timestamp_ms <= ms
        for index in range(n):  # exact timestamps hit their own frame
            if index % 7 == 0:
                check(reader.frame_at_ms(reader.timestamps_ms[index]), index)


@pytest.mark.parametrize("proxy", ["off", "wait"])
def test_steps_forward_and_jumps_back(made: dict[str, Path], proxy_dir: Path, proxy: str) -> None:
    with FrameReader(made["h264_long_gop"], cache_bytes=0, cache_dir=proxy_dir, proxy=proxy) as reader:
        for index in range(140, 160):
            check(reader.frame_at_index(index), index)
        for index in (159, 158, 100, 3, 2, 1, 0, 299, 250, 249, 248, 251):
            check(reader.frame_at_index(index), index)
        jumps = [5]
        while jumps[-1] < 280:
            jumps.append(jumps[-1] + random.Random(len(jumps)).randint(1, 10))
        for index in jumps:
            check(reader.frame_at_index(index), index)


@pytest.mark.parametrize("name", MADE)
def test_iter_frames_and_reader_agree(made: dict[str, Path], proxy_dir: Path, name: str) -> None:
    sequential = [(f.index, f.timestamp_ms) for f in iter_frames(made[name], max_fps=1000)]
    with FrameReader(made[name], cache_dir=proxy_dir) as reader:
        assert sequential == [(i, int(ts)) for i, ts in enumerate(reader.timestamps_ms)]
        fps = MADE[name][2]
        assert sequential[:3] == [(0, 0), (1, round(1000 / fps)), (2, round(2000 / fps))]
        for index, ts in sequential[::17]:
            frame = reader.frame_at_ms(ts)
            check(frame, index)
            assert frame.timestamp_ms == ts


def test_max_fps_subsamples_evenly(made: dict[str, Path]) -> None:
    assert [f.index for f in iter_frames(made["h264_60fps"], max_fps=30)] == list(range(0, 120, 2))
    assert [f.index for f in iter_frames(made["h264_60fps"], max_fps=60)] == list(range(120))
    assert len(list(iter_frames(made["h264_60fps"]))) == 60  # default max_fps is 30
    kept = [f.index for f in iter_frames(made["mp4v"], max_fps=10)]  # 25 fps -> 10
    assert kept[:5] == [0, 3, 5, 8, 10] and len(kept) == 40
    assert set(np.diff(kept)) == {2, 3}
    for frame in iter_frames(made["h264_60fps"], max_fps=20):
        check(frame, frame.index)
    with pytest.raises(ValueError, match="max_fps"):
        next(iter_frames(made["mp4v"], max_fps=0))


@pytest.mark.parametrize(
    "name, max_fps",
    [("h264_long_gop", 1000), ("mpeg4_bframes_avi", 1000), ("h264_raw_no_pts", 1000), ("mp4v", 10), ("h264_60fps", 20)],
)
def test_a_time_range_gives_the_frames_of_a_whole_decode(made: dict[str, Path], name: str, max_fps: float) -> None:
    """Chunks seek to the keyframe before their start: the same frames (pixels, indexes,
    times and max_fps subset) as decoding from the beginning."""
    whole = list(iter_frames(made[name], max_fps=max_fps))
    for start, end in [(0, 400), (1000, 2300), (1230, None), (4000, 4200), (9000, None)]:
        part = list(iter_frames(made[name], max_fps=max_fps, start_ms=start, end_ms=end))
        expected = [f for f in whole if f.timestamp_ms >= start and (end is None or f.timestamp_ms < end)]
        assert [(f.index, f.timestamp_ms) for f in part] == [(f.index, f.timestamp_ms) for f in expected]
        assert all(np.array_equal(a.image, b.image) for a, b in zip(part, expected)), (name, start, end)
    assert len(whole) > 0


def test_background_proxy_is_used_when_ready_and_reused(made: dict[str, Path], tmp_path: Path) -> None:
    path = made["h264_long_gop"]
    with FrameReader(path, cache_dir=tmp_path) as reader:
        check(reader.frame_at_index(123), 123)  # served by the original while the proxy builds
        assert reader.wait_for_proxy(timeout=120)
        for index in (7, 250, 123, 299):
            check(reader.frame_at_index(index), index)
    assert len(list(tmp_path.glob("*.mp4"))) == 1 and not list(tmp_path.glob("*.part*"))
    with FrameReader(path, cache_dir=tmp_path) as again:
        assert again.using_proxy  # found in the cache, no build
        check(again.frame_at_index(200), 200)
    with FrameReader(made["mp4v"], cache_dir=tmp_path) as short_gop:
        assert not short_gop.wait_for_proxy()  # keyframes every 12 frames: no proxy needed


def test_cache_is_bounded_and_frames_read_only(made: dict[str, Path]) -> None:
    frame_bytes = 320 * 240 * 3
    with FrameReader(made["mp4v"], cache_bytes=3 * frame_bytes, proxy="off") as reader:
        for index in range(10):
            frame = reader.frame_at_index(index)
            assert reader.cache_used_bytes <= 3 * frame_bytes
        assert reader.cache_used_bytes == 3 * frame_bytes
        with pytest.raises(ValueError):
            frame.image[0, 0, 0] = 1
        check(reader.frame_at_index(9), 9)  # from the cache
        check(reader.frame_at_index(0), 0)  # evicted, decoded again


def test_bad_arguments(made: dict[str, Path]) -> None:
    with FrameReader(made["mp4v"], proxy="off") as reader:
        with pytest.raises(IndexError, match="out of range"):
            reader.frame_at_index(100)
        with pytest.raises(IndexError):
            reader.frame_at_index(-1)
        with pytest.raises(ValueError, match="ms must be"):
            reader.frame_at_ms(-1)
        check(reader.frame_at_ms(10**9), 99)  # after the end: the last frame stays on screen
    with pytest.raises(ValueError, match="proxy must be one of"):
        FrameReader(made["mp4v"], proxy="always")  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def bad_files(made: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str]]:
    folder = tmp_path_factory.mktemp("bad")
    whole = made["h264_long_gop"].read_bytes()  # moov at the end: cut it off
    (folder / "truncated.mp4").write_bytes(whole[: len(whole) // 2])
    garbage = bytearray(made["h264_audio_faststart"].read_bytes())
    mdat = garbage.find(b"mdat")
    garbage[mdat + 4 :] = random.Random(0).randbytes(len(garbage) - mdat - 4)
    (folder / "garbage_payload.mp4").write_bytes(bytes(garbage))
    (folder / "empty.mp4").write_bytes(b"")
    (folder / "notes.txt").write_text("this is not a video\n" * 50)
    cv2.imwrite(str(folder / "still.png"), videos.paint(0))
    return {
        "truncated": (folder / "truncated.mp4", "not a readable video file"),
        "garbage_payload": (folder / "garbage_payload.mp4", "does not decode|decodes to no frames"),
        "empty": (folder / "empty.mp4", "the file is empty"),
        "text": (folder / "notes.txt", r"not a video file \(FFmpeg reads it as Tele-typewriter\)"),
        "image": (folder / "still.png", "not a video file"),
        "audio_only": (videos.write_audio_only(folder / "tone.wav"), r"no video stream \(streams found: audio\)"),
        "missing": (folder / "nope.mp4", "no such file"),
    }


@pytest.mark.parametrize("kind", ["truncated", "garbage_payload", "empty", "text", "image", "audio_only", "missing"])
def test_unusable_files_raise_video_error(bad_files: dict[str, tuple[Path, str]], kind: str, tmp_path: Path) -> None:
    path, message = bad_files[kind]
    with pytest.raises(VideoError, match=message) as raised:
        probe(path)
    assert str(path) in str(raised.value)
    with pytest.raises(VideoError, match=message):
        next(iter_frames(path))
    with pytest.raises(VideoError, match=message):
        FrameReader(path, cache_dir=tmp_path)


# --------------------------------------------------------------------------- shared clips
SHARED = {
    PETS_H264: ("h264", "QuickTime / MOV", 768, 576, 7.0, 795, 113571),
    VTEST: ("msmpeg4v3", "AVI (Audio Video Interleaved)", 768, 576, 10.0, 795, 79500),
    OPERA: ("h264", "QuickTime / MOV", 1920, 1080, 25.0, 105, 4200),
    TUD_MP4V: ("mpeg4", "QuickTime / MOV", 640, 480, 25.0, 179, 7160),
}


@pytest.mark.parametrize("path", SHARED, ids=lambda p: p.name)
def test_probe_shared_clips(path: Path) -> None:
    codec, fmt, width, height, fps, frames, duration_ms = SHARED[path]
    info = probe(path)
    assert (info.codec, info.format, info.width, info.height, info.frame_count) == (codec, fmt, width, height, frames)
    assert info.fps == pytest.approx(fps)
    assert info.duration_ms == duration_ms
    assert info.color_range == "LIMITED"


def test_opera_clip_has_moov_at_end_and_audio() -> None:
    assert top_boxes(OPERA).index("moov") > top_boxes(OPERA).index("mdat")


@pytest.mark.parametrize("path", [PETS_H264, VTEST, OPERA], ids=lambda p: p.name)
def test_reader_gives_the_decoded_pixels_on_shared_clips(path: Path) -> None:
    """Without a proxy the reader returns exactly the pixels of a sequential decode."""
    n = SHARED[path][5]
    wanted = sorted(random.Random(path.name).sample(range(n - 1), 2 if path == OPERA else 5) + [n - 1])
    expected = {f.index: (f.timestamp_ms, f.image) for f in iter_frames(path, max_fps=1000) if f.index in wanted}
    with FrameReader(path, cache_bytes=0, proxy="off") as reader:
        for index in reversed(wanted):  # backward jumps
            frame = reader.frame_at_index(index)
            assert frame.timestamp_ms == expected[index][0]
            assert np.array_equal(frame.image, expected[index][1])
        assert reader.timestamps_ms[1] == round(1000 / SHARED[path][4])


def test_proxy_keeps_colour_tags_and_odd_sizes(tmp_path: Path) -> None:
    import av

    bt709 = "keyint=60:min-keyint=60:scenecut=0:bframes=2:colorprim=bt709:transfer=bt709:colormatrix=bt709"
    tagged = videos.write_pyav(tmp_path / "bt709.mp4", frames=60, gop=60, options={"x264-params": bt709})
    odd = videos.write_pyav(tmp_path / "odd.mp4", frames=60, gop=60, size=(321, 241), pix_fmt="yuv444p")
    originals = {f.index: f.image for f in iter_frames(tagged) if f.index in (10, 45)}
    with FrameReader(tagged, cache_dir=tmp_path / "cache", proxy="wait") as reader:
        assert reader.using_proxy
        for index, image in originals.items():
            proxied = reader.frame_at_index(index).image
            assert np.abs(proxied.astype(int) - image).mean() < 3  # same colour conversion
    (proxy_file,) = (tmp_path / "cache").glob("bt709-*.mp4")
    with av.open(str(proxy_file)) as c:
        frame = next(c.decode(video=0))
        assert (frame.colorspace, frame.color_primaries, frame.color_trc) == (1, 1, 1)  # BT.709
    with FrameReader(odd, cache_dir=tmp_path / "cache", proxy="wait") as reader:
        assert reader.using_proxy and (reader.info.width, reader.info.height) == (321, 241)
        for index in (50, 7, 33):
            check(reader.frame_at_index(index), index)


def test_damaged_frames_are_skipped_and_shown_as_the_frame_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A packet that does not decode: iter_frames skips its index, the reader shows the
    frame before it (the first decodable one at the start), with or without a proxy."""
    import av

    from peoplepath import video

    source = videos.write_pyav(tmp_path / "intra.mp4", frames=80, gop=1, bframes=0)
    with av.open(str(source)) as c:
        packets = [(p.pos, p.size) for p in c.demux(video=0) if p.size]
    data = bytearray(source.read_bytes())
    for damaged in (0, 40, 41, 79):
        pos, size = packets[damaged]
        data[pos : pos + size] = bytes(size)
    path = tmp_path / "damaged.mp4"
    path.write_bytes(bytes(data))

    frames = list(iter_frames(path, max_fps=1000))
    assert [f.index for f in frames] == [i for i in range(80) if i not in (0, 40, 41, 79)]
    assert all(videos.read_number(f.image) == f.index and f.timestamp_ms == f.index * 40 for f in frames)
    shown = {0: 1, 1: 1, 39: 39, 40: 39, 41: 39, 42: 42, 79: 78}
    monkeypatch.setattr(video, "LONG_GOP", 0)  # force a proxy even for this all-intra file
    for proxy in ("off", "wait"):
        with FrameReader(path, cache_bytes=0, cache_dir=tmp_path / "cache", proxy=proxy) as reader:
            assert reader.using_proxy == (proxy == "wait")
            assert reader.info.frame_count == 80 and reader.timestamps_ms[41] == 1640
            for index in [41, 40, 0, 79, 1, 42, 39, 40, 79]:
                frame = reader.frame_at_index(index)
                assert (frame.index, frame.timestamp_ms) == (index, index * 40)
                assert videos.read_number(frame.image) == shown[index], (proxy, index)


def test_unwritable_cache_dir(made: dict[str, Path], tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    with pytest.raises(VideoError, match="building the proxy in"):
        FrameReader(made["h264_long_gop"], cache_dir=blocker / "cache", proxy="wait")
    with FrameReader(made["h264_long_gop"], cache_dir=blocker / "cache") as reader:  # auto: stays exact
        assert not reader.wait_for_proxy(timeout=60)
        check(reader.frame_at_index(222), 222)


def test_proxy_cache_drops_the_least_recently_used(tmp_path: Path) -> None:
    import os

    from peoplepath.video import prune_proxies

    cache = tmp_path / "proxies"
    cache.mkdir()
    for age, name in enumerate(("new", "middle", "old")):
        for suffix in (".mp4", ".npz"):
            path = cache / f"{name}{suffix}"
            path.write_bytes(b"x" * 1000)
            os.utime(path, (1_000_000 - age * 100, 1_000_000 - age * 100))
    (cache / "building.part.mp4").write_bytes(b"x" * 5000)  # a proxy being written is not counted
    removed = prune_proxies(cache, 4000, keep=cache / "old.mp4")
    assert [p.name for p in removed] == ["middle.mp4"]  # "old" is kept on request, "middle" is next oldest
    assert sorted(p.name for p in cache.iterdir()) == ["building.part.mp4", "new.mp4", "new.npz", "old.mp4", "old.npz"]
    assert prune_proxies(cache, 10_000) == []
