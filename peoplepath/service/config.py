"""The service's typed configuration, read once from the command line and environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_DATA_DIR = Path(".peoplepath")


@dataclass(frozen=True)
class ServiceConfig:
    """Operator settings. Every field can be set by a `PEOPLEPATH_<NAME>` variable.

    access_keys: when not empty, only these access key ids (with their secrets, SigV4
    signatures verified) are accepted; others get AccessDeniedException. A signature must
    be dated within 5 minutes of the server's clock and scoped to `rekognition` in
    `region`, else InvalidSignatureException.
    rate_limit: requests per second across all clients (0 = unlimited); above it the
    service answers ThrottlingException. key_rate_limit: the same per verified access key
    (per client address without access_keys), answered with
    ProvisionedThroughputExceededException.
    chunk_seconds: a video is analysed as consecutive chunks of this length (0: one
    chunk; finished chunks are kept, so a stopped job resumes from them). scheduler: a Dask scheduler
    address (tcp://HOST:PORT) to send the chunks to; empty = analyse them locally.
    allow_partial: a video that cannot be read to its end still ends SUCCEEDED (with a
    note in StatusMessage) instead of FAILED. faces: False skips face analysis (no
    FaceDetails in the results; faster).
    """

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    data_dir: Path = DEFAULT_DATA_DIR
    max_concurrent_jobs: int = 20
    workers: int = 1
    max_video_bytes: int = 0  # 0 = no limit
    max_body_bytes: int = 1 << 20
    access_keys: Mapping[str, str] = field(default_factory=dict)
    rate_limit: float = 0.0
    key_rate_limit: float = 0.0
    max_fps: float = 30.0
    region: str = "us-east-1"
    chunk_seconds: float = 120.0
    scheduler: str = ""
    allow_partial: bool = False
    faces: bool = True

    def __post_init__(self) -> None:
        if self.max_concurrent_jobs < 1:
            raise ValueError("max_concurrent_jobs must be at least 1")
        if self.workers < 1:
            raise ValueError("workers must be at least 1")
        if self.max_video_bytes < 0 or self.max_body_bytes < 1:
            raise ValueError("max_video_bytes must be >= 0 and max_body_bytes >= 1")
        if self.rate_limit < 0 or self.key_rate_limit < 0:
            raise ValueError("rate limits must be >= 0 (0 = unlimited)")
        if not 0 < self.max_fps <= 240:
            raise ValueError("max_fps must be in (0, 240]")
        if not self.region:
            raise ValueError("region must not be empty")
        if not self.chunk_seconds >= 0:
            raise ValueError("chunk_seconds must be >= 0 (0 = one chunk per video)")
        if self.scheduler and not self.scheduler.startswith(("tcp://", "tls://", "inproc://", "ws://", "wss://")):
            raise ValueError(f"scheduler must be a Dask address like tcp://HOST:PORT, got {self.scheduler!r}")

    @property
    def buckets_dir(self) -> Path:
        return self.data_dir / "buckets"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "peoplepath.sqlite3"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ, **overrides: object) -> "ServiceConfig":
        """Defaults, then PEOPLEPATH_* variables, then explicit overrides (the CLI's)."""
        values: dict[str, object] = {}
        casts = {
            "host": str, "port": int, "data_dir": Path, "max_concurrent_jobs": int, "workers": int,
            "max_video_bytes": int, "max_body_bytes": int, "rate_limit": float,
            "key_rate_limit": float, "max_fps": float, "access_keys": parse_access_keys,
            "region": str,
            "chunk_seconds": float, "scheduler": str, "allow_partial": parse_bool, "faces": parse_bool,
        }
        for name, cast in casts.items():
            raw = environ.get(f"PEOPLEPATH_{name.upper()}")
            if raw not in (None, ""):
                try:
                    values[name] = cast(raw)
                except ValueError as exc:
                    raise ValueError(f"PEOPLEPATH_{name.upper()}={raw!r}: {exc}") from None
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


def parse_bool(text: str) -> bool:
    """`1/true/yes/on` or `0/false/no/off` (any case)."""
    value = text.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("expected one of 1/true/yes/on or 0/false/no/off")


def parse_access_keys(text: str) -> dict[str, str]:
    """`AKID:SECRET,AKID2:SECRET2` -> {AKID: SECRET, ...}."""
    keys: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key_id, sep, secret = item.partition(":")
        if not sep or not key_id or not secret:
            raise ValueError("access keys are written AKID:SECRET[,AKID:SECRET...]")
        keys[key_id] = secret
    return keys
