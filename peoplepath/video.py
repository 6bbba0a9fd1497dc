"""Video files: metadata, sequential decode for the engine, exact random frame access.

Frame index i is the i-th frame in presentation order (0-based; MOT frame n is index
n-1), counted in the packet index built by demuxing, so a damaged frame that does not
decode keeps its index (iter_frames skips it; FrameReader shows the frame before it).
Its time is ``(pts - first_pts) * time_base`` in ms, rounded half up; a file without
packet timestamps counts decoded frames and times them with ``contract.frame_to_ms``.
`iter_frames` and `FrameReader` give the same (index, timestamp_ms) for the same frame.

Random access (`FrameReader`) keeps one decoder open and decodes forward when that is
cheaper than a seek. A file whose keyframes are far apart (more than `LONG_GOP` frames)
gets a proxy: an H.264 copy with a keyframe every `PROXY_GOP` frames and no B-frames,
encoded once into a cache folder and used as soon as it is ready.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
import threading
from collections import OrderedDict
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator, Literal

import av
import numpy as np

from .contract import frame_to_ms

PROXY_GOP = 8  # proxy keyframe interval: a random seek decodes at most 8 frames
PROXY_CRF = "20"  # x264 quality: 42 dB PSNR against the original on the PETS clip
LONG_GOP = 2 * PROXY_GOP  # an original with a longer keyframe gap gets a proxy
MAX_BAD_PACKETS = 25  # consecutive undecodable packets before a file counts as undecodable
PROXY_VERSION = 2
PROXY_MODES = ("auto", "wait", "off")
# The proxy folder is kept under this many bytes, least recently used proxies removed first.
PROXY_CACHE_BYTES = int(os.environ.get("PEOPLEPATH_PROXY_CACHE_BYTES") or 20 * 2**30)
ProxyMode = Literal["auto", "wait", "off"]
# FFmpeg demuxers that turn non-videos into a "video stream": text as ANSI art, images.
NOT_VIDEO_FORMATS = frozenset({"tty", "image2", "bin", "xbin", "adf", "idf"})


class VideoError(Exception):
    """The file cannot be used as a video; the message says why."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One decoded frame: 0-based index in presentation order, its time, BGR pixels."""

    index: int
    timestamp_ms: int
    image: np.ndarray


@dataclass(frozen=True)
class VideoInfo:
    """What Rekognition's VideoMetadata reports, plus the number of frames.

    `format` is FFmpeg's long container name ("QuickTime / MOV" for mp4/mov, as
    Rekognition names it; "AVI (Audio Video Interleaved)" for AVI).
    """

    codec: str
    format: str
    duration_ms: int
    fps: float
    width: int
    height: int
    color_range: str
    frame_count: int


@dataclass(frozen=True)
class _Index:
    """Every frame's pts in presentation order and the positions of keyframes.

    `pts` is None when the file has missing or repeated packet timestamps.
    """

    pts: np.ndarray | None
    keyframes: np.ndarray
    timestamps_ms: np.ndarray

    @property
    def max_gop(self) -> int:
        bounds = np.append(self.keyframes, len(self.timestamps_ms))
        return int(np.diff(bounds).max(initial=0)) if len(self.keyframes) else len(self.timestamps_ms)


def default_cache_dir() -> Path:
    """Where proxies go by default: $XDG_CACHE_HOME/peoplepath/video-proxies (~/.cache/...)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "peoplepath" / "video-proxies"


# --------------------------------------------------------------------------- opening
def _open(path: str | os.PathLike[str]) -> av.container.InputContainer:
    p = Path(path)
    if not p.is_file():
        raise VideoError(f"{p}: no such file")
    if p.stat().st_size == 0:
        raise VideoError(f"{p}: the file is empty")
    try:
        container = av.open(str(p), mode="r")
    except av.FFmpegError as e:
        raise VideoError(f"{p}: not a readable video file ({e})") from e
    if container.format.name in NOT_VIDEO_FORMATS or container.format.name.endswith("_pipe"):
        name = container.format.long_name
        container.close()
        raise VideoError(f"{p}: not a video file (FFmpeg reads it as {name})")
    if not container.streams.video:
        kinds = ", ".join(sorted({s.type for s in container.streams})) or "none"
        container.close()
        raise VideoError(f"{p}: no video stream (streams found: {kinds})")
    return container


def _ms_array(pts: np.ndarray, first: int, tb: Fraction) -> np.ndarray:
    """(pts - first) * tb in ms, rounded half up; exact integer arithmetic."""
    num = (pts.astype(np.int64) - first) * (tb.numerator * 1000)
    return (2 * num + tb.denominator) // (2 * tb.denominator)


def _scan(container: av.container.InputContainer, path: Path) -> tuple[VideoInfo, _Index]:
    """Demux every video packet (no decoding) and confirm the first frame decodes."""
    stream = container.streams.video[0]
    pts: list[int] = []
    keys: list[bool] = []
    missing = False
    try:
        for pkt in container.demux(stream):
            if pkt.size == 0 or pkt.is_discard:
                continue
            if pkt.pts is None:
                missing = True
            else:
                pts.append(pkt.pts)
            keys.append(pkt.is_keyframe)
    except av.FFmpegError as e:
        raise VideoError(f"{path}: the file is damaged ({e})") from e
    n = len(keys)
    if n == 0:
        raise VideoError(f"{path}: the video stream holds no frames")
    _first_frame(path)
    fps = _fps(stream, container, n)
    tb = stream.time_base
    if missing or tb is None or len(set(pts)) != n:
        index = _Index(None, np.zeros(0, np.int64), np.array([frame_to_ms(i, fps) for i in range(n)], np.int64))
    else:
        order = np.argsort(np.asarray(pts, np.int64), kind="stable")
        spts = np.asarray(pts, np.int64)[order]
        index = _Index(spts, np.flatnonzero(np.asarray(keys)[order]), _ms_array(spts, int(spts[0]), tb))
    return _info(container, fps, n), index


def _frames_of(container: av.container.InputContainer, path: Path) -> Iterator[av.VideoFrame]:
    """The video frames in presentation order. Like FFmpeg's tools, skip a packet that
    fails to decode; more than MAX_BAD_PACKETS in a row make the file undecodable."""
    bad = 0
    try:
        for packet in container.demux(container.streams.video[0]):
            try:
                frames = packet.decode()
            except av.InvalidDataError as e:
                bad += 1
                if bad > MAX_BAD_PACKETS:
                    raise VideoError(f"{path}: the video does not decode ({e})") from e
                continue
            bad = 0
            yield from frames
    except av.FFmpegError as e:
        raise VideoError(f"{path}: reading the video failed ({e})") from e


def _first_frame(path: Path) -> None:
    """Raise VideoError unless a video frame decodes."""
    with _open(path) as c:
        for _ in _frames_of(c, path):
            return
    raise VideoError(f"{path}: the video stream decodes to no frames")


def _fps(stream: av.video.stream.VideoStream, container: av.container.InputContainer, n: int) -> float:
    rate = stream.average_rate or stream.guessed_rate or stream.base_rate
    if rate:
        return float(rate)
    seconds = _duration_s(stream, container)
    if seconds:
        return n / seconds
    raise VideoError("the video has no frame rate and no duration")


def _duration_s(stream: av.video.stream.VideoStream, container: av.container.InputContainer) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000
    return None


def _info(container: av.container.InputContainer, fps: float, n: int) -> VideoInfo:
    stream = container.streams.video[0]
    cc = stream.codec_context
    seconds = _duration_s(stream, container)
    duration_ms = int(round(seconds * 1000)) if seconds else frame_to_ms(n, fps)
    pix = cc.pix_fmt or ""
    full = int(cc.color_range or 0) == 2 or pix.startswith("yuvj") or not pix.startswith(("yuv", "nv", "gray"))
    return VideoInfo(
        codec=cc.codec.canonical_name,
        format=container.format.long_name,
        duration_ms=duration_ms,
        fps=fps,
        width=cc.width,
        height=cc.height,
        color_range="FULL" if full and pix else "LIMITED",
        frame_count=n,
    )


def _probe_index(path: str | os.PathLike[str]) -> tuple[VideoInfo, _Index]:
    with _open(path) as c:
        return _scan(c, Path(path))


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Metadata of a video file; frame_count counts demuxed packets. Raises VideoError."""
    return _probe_index(path)[0]


# --------------------------------------------------------------------------- sequential
def _decoded(
    path: Path, info: VideoInfo, index: _Index, start: int = 0
) -> Iterator[tuple[int, int, av.VideoFrame]]:
    """(index, timestamp_ms, frame) of every decoded frame from index `start` on, in
    presentation order.

    With timestamps, a frame's index is its place in the packet index, so a damaged
    frame that does not decode leaves a gap instead of shifting every later index, and
    a `start` past 0 seeks to the keyframe at or before it (an earlier one if the demuxer
    lands after it) and drops the frames before `start`: the same frames as decoding
    from the beginning. Without timestamps, frames are counted from the beginning and
    timed by contract.frame_to_ms.
    """
    keys = index.keyframes[index.keyframes <= start] if index.pts is not None else np.zeros(0, np.int64)
    k = len(keys) - 1
    while True:
        with _open(path) as c:
            stream = c.streams.video[0]
            stream.thread_type = "AUTO"
            if k >= 0 and keys[k] > 0:
                assert index.pts is not None
                c.seek(int(index.pts[keys[k]]), stream=stream, backward=True)
            count, last, landed = 0, -1, False
            for frame in _frames_of(c, path):
                if index.pts is None:
                    if count >= start:
                        yield count, frame_to_ms(count, info.fps), frame
                    count += 1
                    continue
                pos = int(np.searchsorted(index.pts, frame.pts)) if frame.pts is not None else len(index.pts)
                if not (pos < len(index.pts) and index.pts[pos] == frame.pts and pos > last):
                    continue
                if not landed:
                    landed = True
                    if pos > start and k > 0:  # the seek went past `start`: retry earlier
                        break
                last = pos
                if pos >= start:
                    yield pos, int(index.timestamps_ms[pos]), frame
            else:
                return
        k -= 1


def iter_frames(
    path: str | os.PathLike[str], *, max_fps: float = 30.0, start_ms: float = 0, end_ms: float | None = None
) -> Iterator[Frame]:
    """Decode sequentially; above `max_fps`, yield an evenly spaced subset of frames
    (60 fps at max_fps 30: every other frame). Indexes stay those of the full video.

    `start_ms` / `end_ms`: only frames with start_ms <= timestamp < end_ms, the same
    frames (and the same subset) as a decode of the whole file would give there.
    """
    if not max_fps > 0:
        raise ValueError(f"max_fps must be > 0, got {max_fps!r}")
    info, index = _probe_index(path)
    ratio = min(Fraction(1), Fraction(max_fps).limit_denominator(10**6) / Fraction(info.fps).limit_denominator(10**6))
    start = int(np.searchsorted(index.timestamps_ms, start_ms, side="left"))
    kept = math.floor((start - 1) * ratio) if start > 0 else -1
    for i, ts, frame in _decoded(Path(path), info, index, start):
        if end_ms is not None and ts >= end_ms:
            return
        if math.floor(i * ratio) > kept:
            kept = math.floor(i * ratio)
            yield Frame(i, ts, _bgr(frame))


def _bgr(frame: av.VideoFrame) -> np.ndarray:
    image = frame.to_ndarray(format="bgr24")
    image.flags.writeable = False
    return image


# --------------------------------------------------------------------------- proxies
def _proxy_paths(path: Path, cache_dir: Path) -> tuple[Path, Path]:
    st = path.stat()
    ident = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|v{PROXY_VERSION}|g{PROXY_GOP}|crf{PROXY_CRF}"
    key = f"{path.stem[:40]}-{hashlib.sha1(ident.encode()).hexdigest()[:16]}"
    return cache_dir / f"{key}.mp4", cache_dir / f"{key}.npz"


def _load_proxy(path: Path, cache_dir: Path) -> tuple[VideoInfo, np.ndarray, Path, _Index] | None:
    if not path.is_file():
        return None
    video, meta = _proxy_paths(path, cache_dir)
    if not (video.is_file() and meta.is_file()):
        return None
    try:
        with np.load(meta) as z:
            info = VideoInfo(**json.loads(str(z["info"])))
            timestamps = z["timestamps_ms"].astype(np.int64)
        _, index = _probe_index(video)
    except (VideoError, OSError, ValueError, KeyError, TypeError):
        return None
    if index.pts is None or len(index.timestamps_ms) != len(timestamps):
        return None
    for used in (video, meta):  # least-recently-used order for prune_proxies
        os.utime(used)
    return info, timestamps, video, index


def build_proxy(
    path: str | os.PathLike[str], cache_dir: str | os.PathLike[str] | None = None
) -> Path:
    """Encode (or find) the random-access proxy of `path`; returns the proxy file."""
    folder = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    stored = _load_proxy(Path(path), folder)
    if stored is not None:
        return stored[2]
    built = _build_proxy(Path(path), folder, threading.Event())
    assert built is not None  # only a set stop event returns None
    return built


def _build_proxy(path: Path, cache_dir: Path, stop: threading.Event) -> Path | None:
    """Decode `path` once, encode every frame into a short-GOP H.264 proxy and store the
    decoded frames' timestamps beside it. Returns None if `stop` was set meanwhile."""
    info, index = _probe_index(path)
    video, meta = _proxy_paths(path, cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_video = tempfile.mkstemp(dir=cache_dir, suffix=".part.mp4")
    os.close(fd)
    tmp_meta = tmp_video[: -len(".part.mp4")] + ".part.npz"
    timestamps: list[int] = []
    try:
        with av.open(tmp_video, mode="w", format="mp4") as out:
            rate = Fraction(info.fps).limit_denominator(1001)
            stream = out.add_stream("libx264", rate=rate)
            stream.width, stream.height = info.width, info.height
            stream.pix_fmt = "yuv420p" if info.width % 2 == 0 and info.height % 2 == 0 else "yuv444p"
            stream.codec_context.gop_size = PROXY_GOP
            stream.codec_context.max_b_frames = 0
            stream.options = {
                "crf": PROXY_CRF,
                "preset": "veryfast",
                "tune": "fastdecode",
                "x264-params": f"keyint={PROXY_GOP}:min-keyint={PROXY_GOP}:scenecut=0:bframes=0",
            }
            def put(frame: av.VideoFrame, position: int) -> None:
                frame.pts, frame.time_base, frame.pict_type = position, 1 / rate, 0
                out.mux(stream.encode(frame))

            previous: av.VideoFrame | None = None
            for i, ts, frame in _decoded(path, info, index):
                if stop.is_set():
                    return None
                if previous is None:  # keep the colour tags: the BGR conversion depends on them
                    cc = stream.codec_context
                    cc.colorspace, cc.color_primaries = frame.colorspace, frame.color_primaries
                    cc.color_trc = frame.color_trc
                if frame.format.name != stream.pix_fmt:
                    frame = frame.reformat(format=stream.pix_fmt)
                for gap in range(len(timestamps), i):  # frames that did not decode show
                    put(frame if previous is None else previous, gap)  # the frame before (or first)
                    timestamps.append(int(index.timestamps_ms[gap]))
                put(frame, i)
                timestamps.append(ts)
                previous = frame
            if previous is None:
                raise VideoError(f"{path}: the video stream decodes to no frames")
            for gap in range(len(timestamps), len(index.timestamps_ms) if index.pts is not None else 0):
                put(previous, gap)
                timestamps.append(int(index.timestamps_ms[gap]))
            out.mux(stream.encode(None))
        info = VideoInfo(**{**asdict(info), "frame_count": len(timestamps)})
        with open(tmp_meta, "wb") as f:
            np.savez(f, timestamps_ms=np.asarray(timestamps, np.int64), info=json.dumps(asdict(info)))
        os.replace(tmp_video, video)
        os.replace(tmp_meta, meta)
        prune_proxies(cache_dir, PROXY_CACHE_BYTES, keep=video)
        return video
    finally:
        for leftover in (tmp_video, tmp_meta):
            if os.path.exists(leftover):
                os.remove(leftover)


def prune_proxies(cache_dir: Path, max_bytes: int, *, keep: Path | None = None) -> list[Path]:
    """Remove the least recently used proxies (video + timestamps) until the folder's
    proxies take at most `max_bytes`; `keep` is never removed. Returns what was removed."""
    proxies = []
    for video in cache_dir.glob("*.mp4"):
        if video.name.endswith(".part.mp4"):
            continue
        meta = video.with_suffix(".npz")
        try:
            stats = [video.stat()] + ([meta.stat()] if meta.exists() else [])
        except FileNotFoundError:  # removed meanwhile by another reader
            continue
        proxies.append((max(s.st_mtime for s in stats), sum(s.st_size for s in stats), video, meta))
    total = sum(size for _, size, _, _ in proxies)
    removed = []
    for _, size, video, meta in sorted(proxies, key=lambda p: p[0]):
        if total <= max_bytes:
            break
        if keep is not None and video == keep:
            continue
        for path in (video, meta):
            path.unlink(missing_ok=True)
        total -= size
        removed.append(video)
    return removed


# --------------------------------------------------------------------------- random access
class _Seeker:
    """One open decoder over a file with distinct pts; returns the frame at a position,
    decoding forward from where it is when that is cheaper than seeking to a keyframe.

    A frame that does not decode (damaged data) shows the frame decoded before it, or
    the first decodable frame at the very start, as a player would (and as the proxy
    stores it).
    """

    SEEK_COST = 2  # a seek costs about as much as decoding this many frames

    def __init__(self, path: Path, index: _Index) -> None:
        assert index.pts is not None
        self._path = path
        self._pts = index.pts
        keys = index.keyframes
        self._keys = keys if len(keys) and keys[0] == 0 else np.append(0, keys)
        self._container = _open(path)
        self._frames: Iterator[av.VideoFrame] | None = None
        self._current: av.VideoFrame | None = None  # the last frame decoded ...
        self._pos = -1  # ... and its position

    @property
    def path(self) -> Path:
        return self._path

    def close(self) -> None:
        self._container.close()

    def image(self, i: int) -> np.ndarray:
        if self._current is not None and self._pos == i:
            return _bgr(self._current)
        k = int(np.searchsorted(self._keys, i, side="right")) - 1
        forward = self._frames is not None and self._current is not None and self._pos < i
        if not (forward and i - self._pos <= i - self._keys[k] + 1 + self.SEEK_COST):
            self._seek(k, i)
        return _bgr(self._forward(i))

    def _seek(self, k: int, i: int) -> None:
        """Seek to keyframe k, or an earlier one if the demuxer lands after frame i, and
        decode the first frame."""
        while True:
            if k <= 0:
                self._container.close()
                self._container = _open(self._path)
            else:
                stream = self._container.streams.video[0]
                self._container.seek(int(self._pts[self._keys[k]]), stream=stream, backward=True)
            self._frames = _frames_of(self._container, self._path)
            self._current, self._pos = None, -1
            if self._next() is None:
                raise VideoError(f"{self._path}: no frame decodes after keyframe {self._keys[k]}")
            if self._pos <= i or k <= 0:
                return
            k -= 1

    def _next(self) -> av.VideoFrame | None:
        """Decode the next frame that the packet index knows; None at the end."""
        assert self._frames is not None
        for frame in self._frames:
            pos = int(np.searchsorted(self._pts, frame.pts)) if frame.pts is not None else len(self._pts)
            if pos < len(self._pts) and self._pts[pos] == frame.pts:
                self._current, self._pos = frame, pos
                return frame
        self._frames = None
        return None

    def _forward(self, i: int) -> av.VideoFrame:
        before: av.VideoFrame | None = None
        while True:
            assert self._current is not None
            if self._pos == i:
                return self._current
            if self._pos > i:  # frame i did not decode
                return before if before is not None else self._current
            before = self._current
            if self._next() is None:
                return before


class FrameReader:
    """Exact random access to the frames of one video; thread-safe.

    Memory: at most `cache_bytes` of decoded BGR frames (LRU; 256 MiB holds 97 frames
    of 720p), plus one open decoder (H.264 keeps up to 16 reference frames; measured
    about 60 MB at 720p), plus the frame index (24 bytes a frame: 2.6 MB for an hour at
    30 fps). A background proxy build adds an encoder (about 50 MB at 720p).

    `proxy`: "auto" builds the proxy of a long-GOP file in a background thread and
    switches to it when ready; "wait" builds it before returning; "off" never uses one.
    Files without timestamps always use a proxy. Proxies live in `cache_dir`
    (default: `default_cache_dir()`), keyed by path, size and mtime; nothing evicts them.
    Frames come back read-only (they may be cached); copy before drawing.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        cache_bytes: int = 256 * 2**20,
        cache_dir: str | os.PathLike[str] | None = None,
        proxy: ProxyMode = "auto",
    ) -> None:
        if proxy not in PROXY_MODES:
            raise ValueError(f"proxy must be one of {PROXY_MODES}, got {proxy!r}")
        if cache_bytes < 0:
            raise ValueError(f"cache_bytes must be >= 0, got {cache_bytes}")
        self.path = Path(path)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else default_cache_dir()
        self._lock = threading.RLock()
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_limit = cache_bytes
        self._cached_bytes = 0
        self._stop = threading.Event()
        self._builder: threading.Thread | None = None
        self._original: _Seeker | None = None
        self._proxy: _Seeker | None = None
        stored = _load_proxy(self.path, self.cache_dir) if proxy != "off" else None
        if stored is not None:
            self.info, self.timestamps_ms, proxy_path, proxy_index = stored
            self._proxy = _Seeker(proxy_path, proxy_index)
            return
        self.info, index = _probe_index(self.path)
        self.timestamps_ms = index.timestamps_ms
        if index.pts is None and proxy == "off":
            raise VideoError(f"{self.path}: the file has no usable frame timestamps; random access needs a proxy")
        if index.pts is None or (proxy == "wait" and index.max_gop > LONG_GOP):
            try:
                self._adopt_proxy(_build_proxy(self.path, self.cache_dir, self._stop))
            except (OSError, av.FFmpegError) as e:
                raise VideoError(f"{self.path}: building the proxy in {self.cache_dir} failed ({e})") from e
            return
        self._original = _Seeker(self.path, index)
        if proxy == "auto" and index.max_gop > LONG_GOP:
            self._builder = threading.Thread(target=self._build_in_background, name="proxy-build", daemon=True)
            self._builder.start()

    @property
    def using_proxy(self) -> bool:
        return self._proxy is not None

    @property
    def building_proxy(self) -> bool:
        """A background proxy build is under way (seeks in the original are slow meanwhile)."""
        return self._builder is not None and self._builder.is_alive()

    @property
    def proxy_path(self) -> Path | None:
        """The proxy file in use, if any."""
        proxy = self._proxy
        return proxy.path if proxy is not None else None

    @property
    def cache_used_bytes(self) -> int:
        return self._cached_bytes

    def start_proxy(self) -> None:
        """Build the proxy in a background thread, unless one is in use or was tried
        already (a failed build is not retried at every call), or the reader is closed;
        the reader switches to it when it is ready."""
        with self._lock:
            if self._proxy is not None or self._builder is not None or self._stop.is_set():
                return
            self._builder = threading.Thread(target=self._build_in_background, name="proxy-build", daemon=True)
            self._builder.start()

    def wait_for_proxy(self, timeout: float | None = None) -> bool:
        """Block until a background proxy build ends; True if a proxy is in use."""
        if self._builder is not None:
            self._builder.join(timeout)
        return self.using_proxy

    def _build_in_background(self) -> None:
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
        except OSError:
            pass
        try:
            built = _build_proxy(self.path, self.cache_dir, self._stop)
            if built is not None:
                self._adopt_proxy(built)
        except (VideoError, OSError, av.FFmpegError):
            return  # the original stays in use; it is exact, only slower

    def _adopt_proxy(self, built: Path | None) -> None:
        stored = _load_proxy(self.path, self.cache_dir) if built is not None else None
        if stored is None:
            raise VideoError(f"{self.path}: building the random-access proxy failed")
        info, timestamps, proxy_path, proxy_index = stored
        with self._lock:
            if self._stop.is_set():
                return  # closed meanwhile
            self.info, self.timestamps_ms = info, timestamps  # equal, unless the file has no pts
            self._proxy = _Seeker(proxy_path, proxy_index)
            if self._original is not None:
                self._original.close()
                self._original = None

    def frame_at_index(self, index: int) -> Frame:
        """The frame at 0-based `index` (presentation order); its image is read-only."""
        with self._lock:
            n = len(self.timestamps_ms)
            if not 0 <= index < n:
                raise IndexError(f"frame index {index} out of range 0..{n - 1}")
            image = self._cache.get(index)
            if image is None:
                seeker = self._proxy or self._original
                if seeker is None:
                    raise VideoError(f"{self.path}: the reader is closed")
                image = seeker.image(index)
                self._remember(index, image)
            else:
                self._cache.move_to_end(index)
            return Frame(index, int(self.timestamps_ms[index]), image)

    def frame_at_ms(self, ms: float) -> Frame:
        """The frame on screen at `ms`: the last frame whose timestamp is <= ms."""
        if not ms >= 0:
            raise ValueError(f"ms must be a number >= 0, got {ms!r}")
        return self.frame_at_index(max(0, int(np.searchsorted(self.timestamps_ms, ms, side="right")) - 1))

    def _remember(self, index: int, image: np.ndarray) -> None:
        if image.nbytes > self._cache_limit:
            return
        self._cache[index] = image
        self._cached_bytes += image.nbytes
        while self._cached_bytes > self._cache_limit:
            _, old = self._cache.popitem(last=False)
            self._cached_bytes -= old.nbytes

    def close(self) -> None:
        self._stop.set()
        if self._builder is not None:
            self._builder.join()
        with self._lock:
            for seeker in (self._original, self._proxy):
                if seeker is not None:
                    seeker.close()
            self._original = self._proxy = None
            self._cache.clear()
            self._cached_bytes = 0

    def __enter__(self) -> FrameReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
