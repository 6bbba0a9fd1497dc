"""Which file the dashboard's player plays, and that long videos do not hold the page:
the original when the browser can play it, else an H.264 copy, made in the page run for
a short video and in the background for a long one; every URL served from disk by the
video route."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import components.player as player
from components import video_route
from peoplepath.video import FrameReader
from tests.videos import write_pyav


@pytest.fixture
def route(monkeypatch) -> None:
    monkeypatch.setattr(video_route, "_mounted", threading.Event())
    video_route.route()


def served(url: str) -> Path:
    token = url.rsplit("/", 1)[1].removesuffix(".mp4")
    return video_route._files[token]


def test_without_the_dashboards_server_the_player_is_off_with_a_reason(tmp_path, monkeypatch):
    monkeypatch.setattr(video_route, "_mounted", threading.Event())
    with FrameReader(write_pyav(tmp_path / "a.mp4", frames=10), cache_dir=tmp_path / "cache") as reader:
        url, note = player.playable_url(reader.path, reader)
    assert url is None and "streamlit run dashboard.py" in note


def test_h264_in_mp4_is_played_as_it_is(tmp_path, route):
    video = write_pyav(tmp_path / "a.mp4", frames=10)
    with FrameReader(video, cache_dir=tmp_path / "cache") as reader:
        url, note = player.playable_url(video, reader)
    assert note == "" and served(url) == video.resolve()


def test_a_short_video_the_browser_cannot_play_gets_its_copy_in_the_page_run(tmp_path, route):
    video = write_pyav(tmp_path / "a.avi", codec="mpeg4", frames=30)
    with FrameReader(video, cache_dir=tmp_path / "cache") as reader:
        url, note = player.playable_url(video, reader)
    copy = served(url)
    assert note == "" and copy.parent == tmp_path / "cache" and copy.suffix == ".mp4"


def test_a_long_one_gets_it_in_the_background_and_plays_it_when_ready(tmp_path, route, monkeypatch):
    monkeypatch.setattr(player, "SHORT_PIXELS", 29 * 320 * 240)  # 30 frames count as long
    video = write_pyav(tmp_path / "a.avi", codec="mpeg4", frames=30)
    with FrameReader(video, cache_dir=tmp_path / "cache") as reader:
        url, note = player.playable_url(video, reader)
        assert url is None and "background" in note
        assert reader.wait_for_proxy(timeout=60)
        url, note = player.playable_url(video, reader)
        assert note == "" and served(url) == reader.proxy_path and reader.proxy_path.parent == tmp_path / "cache"
