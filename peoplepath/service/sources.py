"""Where a job's video comes from: the local bucket folder `DATA_DIR/buckets/<Bucket>/<Name>`,
or S3 / any S3-compatible endpoint reached with the standard AWS settings."""

from __future__ import annotations

import hashlib
import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InvalidS3ObjectException, VideoTooLargeException, shorten


@dataclass(frozen=True, slots=True)
class VideoObject:
    bucket: str
    name: str
    version: str | None

    @classmethod
    def from_request(cls, video: dict[str, Any]) -> "VideoObject":
        s3 = video.get("S3Object") or {}
        if not s3.get("Bucket") or not s3.get("Name"):
            from ..errors import InvalidParameterException

            raise InvalidParameterException("Video.S3Object needs a Bucket and a Name")
        return cls(s3["Bucket"], s3["Name"], s3.get("Version"))


def s3_configured() -> bool:
    """True when the standard AWS settings give botocore credentials to reach S3 with."""
    import botocore.session

    try:
        return botocore.session.get_session().get_credentials() is not None
    except Exception:  # a broken profile is "not configured", not a crash
        return False


class VideoSource:
    """Checks at StartPersonTracking time that the object exists and is small enough, and
    gives the worker a local path to it."""

    def __init__(self, buckets_dir: Path, cache_dir: Path, max_video_bytes: int = 0, use_s3: bool | None = None) -> None:
        self.buckets_dir = buckets_dir
        self.cache_dir = cache_dir
        self.max_video_bytes = max_video_bytes
        self.use_s3 = s3_configured() if use_s3 is None else use_s3

    def local_path(self, obj: VideoObject) -> Path | None:
        """The file in the local bucket folder, or None when that bucket is not local.
        A name that escapes its bucket folder, or that the file system cannot take
        (NUL, a part over 255 bytes, a symlink loop...), is refused."""
        try:
            bucket = (self.buckets_dir / obj.bucket).resolve()
            if not bucket.is_dir():
                return None
            if "\0" in obj.name:
                raise ValueError("the name holds a NUL character")
            path = (bucket / obj.name).resolve()
        except (OSError, ValueError) as exc:
            raise _unreadable(obj, exc) from None
        except RuntimeError:  # pathlib's "Symlink loop from <path>"
            raise _unreadable(obj, "a symbolic link loop") from None
        if bucket not in path.parents:
            raise InvalidS3ObjectException(f"The object name {shorten(obj.name)!r} escapes its bucket")
        return path

    def check(self, obj: VideoObject) -> None:
        """Raise InvalidS3ObjectException / VideoTooLargeException as AWS would."""
        size = self._size(obj)
        if self.max_video_bytes and size > self.max_video_bytes:
            raise VideoTooLargeException(
                f"The video is {size} bytes; this service accepts at most {self.max_video_bytes}"
            )

    def fetch(self, obj: VideoObject) -> Path:
        """A local path to the video (downloaded once into the cache for S3 objects)."""
        local = self.local_path(obj)
        if local is not None:
            _local_size(local, obj)
            return local
        digest = hashlib.sha256(f"{obj.bucket}/{obj.name}/{obj.version}".encode("utf-8", "surrogatepass")).hexdigest()[:32]
        suffix = re.search(r"\.[A-Za-z0-9]{1,10}$", obj.name)
        target = self.cache_dir / digest / ("video" + (suffix[0] if suffix else ""))
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(target.suffix + ".part")
            try:
                body = self._s3().get_object(**self._s3_args(obj))["Body"]
                with open(partial, "wb") as out:
                    shutil.copyfileobj(body, out, 1 << 20)
            except Exception as exc:
                raise _unreadable(obj, exc) from exc
            partial.replace(target)
        return target

    def _size(self, obj: VideoObject) -> int:
        local = self.local_path(obj)
        if local is not None:
            return _local_size(local, obj)
        if not self.use_s3:
            raise _unreadable(obj, "no such local bucket and S3 is not configured")
        try:
            return int(self._s3().head_object(**self._s3_args(obj))["ContentLength"])
        except Exception as exc:
            raise _unreadable(obj, exc) from exc

    @staticmethod
    def _s3_args(obj: VideoObject) -> dict[str, str]:
        args = {"Bucket": obj.bucket, "Key": obj.name}
        if obj.version:
            args["VersionId"] = obj.version
        return args

    @staticmethod
    def _s3() -> Any:
        import boto3

        return boto3.client("s3")


def _local_size(path: Path, obj: VideoObject) -> int:
    """The size of a regular file in a local bucket, or InvalidS3ObjectException."""
    try:
        info = path.stat()
    except (OSError, ValueError) as exc:
        raise _unreadable(obj, exc) from None
    if not stat.S_ISREG(info.st_mode):
        raise _unreadable(obj)
    return info.st_size


def _unreadable(obj: VideoObject, why: object = None) -> InvalidS3ObjectException:
    """The error for an object that cannot be read. An OS error is told by its reason
    only, never by the local path it names."""
    reason = why.strerror if isinstance(why, OSError) and why.strerror else why
    suffix = f": {shorten(reason, 200)}" if reason else ""
    return InvalidS3ObjectException(f"Unable to get object {shorten(obj.name)} from bucket {obj.bucket}{suffix}")
