"""Videos for the in-browser player, streamed from disk.

Streamlit's media endpoint keeps a registered file in memory and copies the requested
part of it on every Range request (Chrome's first request asks for the whole file), so a
video of hours costs the dashboard its size in memory, again per request. Instead the
page registers the file here and the player fetches it from `route()`, a Starlette
route that `dashboard.py` adds to Streamlit's server (`st.App`): `FileResponse` answers
Range requests from the file itself. Only registered files are served, by an opaque
token (no paths in URLs)."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

PREFIX = "/peoplepath/video"
KEEP = 32  # registered files remembered (the newest; one per job and video opened)

_files: OrderedDict[str, Path] = OrderedDict()
_lock = threading.Lock()
_mounted = threading.Event()


def mounted() -> bool:
    """Whether this process's server answers the route (started by `dashboard.py`)."""
    return _mounted.is_set()


def register(path: Path) -> str:
    """The URL the browser fetches `path` from (a video/mp4 file)."""
    path = Path(path).resolve()
    stat = path.stat()
    token = hashlib.sha256(f"{path}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:32]
    with _lock:
        _files[token] = path
        _files.move_to_end(token)
        while len(_files) > KEEP:
            _files.popitem(last=False)
    return f"{PREFIX}/{token}.mp4"


async def _serve(request: Request) -> Response:
    with _lock:
        path = _files.get(request.path_params["token"])
    if path is None or not path.is_file():
        return Response("Unknown video", status_code=404, media_type="text/plain")
    return FileResponse(path, media_type="video/mp4", headers={"Cache-Control": "private, max-age=3600"})


def route() -> Route:
    """The route serving registered files (GET and HEAD, with Range requests)."""
    _mounted.set()
    return Route(PREFIX + "/{token}.mp4", _serve, methods=["GET", "HEAD"])
