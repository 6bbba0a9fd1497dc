"""`python -m peoplepath serve | track | eval` from the shell."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import Sequence

from .service.config import DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT

DEFAULT_CHUNK_SECONDS = 120.0


def main(argv: Sequence[str] | None = None) -> int:
    prog = "peoplepath" if Path(sys.argv[0]).name == "peoplepath" else "python -m peoplepath"
    parser = argparse.ArgumentParser(prog=prog, description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="serve StartPersonTracking / GetPersonTracking over HTTP")
    serve.add_argument("--host", default=None, help=f"address to bind (default {DEFAULT_HOST}: loopback only)")
    serve.add_argument("--port", type=int, default=None, help=f"port (default {DEFAULT_PORT})")
    serve.add_argument("--data-dir", type=Path, default=None, help=f"jobs, results and buckets/ (default {DEFAULT_DATA_DIR})")
    serve.add_argument("--workers", type=int, default=None, help="jobs analysed at once (default 1)")
    serve.add_argument("--max-concurrent-jobs", type=int, default=None, help="jobs in progress before LimitExceededException (default 20)")
    serve.add_argument("--max-video-bytes", type=int, default=None, help="larger videos get VideoTooLargeException (default: no limit)")
    serve.add_argument("--access-keys", default=None, help="require SigV4 with these keys: AKID:SECRET[,AKID:SECRET]")
    serve.add_argument("--rate-limit", type=float, default=None, help="requests/s for all clients (ThrottlingException above)")
    serve.add_argument("--key-rate-limit", type=float, default=None, help="requests/s per access key (ProvisionedThroughputExceededException above)")
    serve.add_argument("--max-fps", type=float, default=None, help="frames analysed per second of video at most (default 30)")
    serve.add_argument("--chunk-seconds", type=float, default=None, help="analyse videos in chunks of this length; a stopped job resumes from its finished chunks (default 120)")
    serve.add_argument("--scheduler", default=None, help="send the chunks to the Dask cluster of this scheduler (tcp://HOST:PORT); default: analyse locally")
    serve.add_argument("--allow-partial", action="store_true", default=None, help="a video not readable to its end still SUCCEEDS, with a note in StatusMessage")
    serve.add_argument("--no-faces", dest="faces", action="store_false", default=None, help="skip face analysis")

    track = commands.add_parser("track", help="analyse one video file without a server")
    track.add_argument("video", type=Path)
    track.add_argument("--out", type=Path, required=True, help="GetPersonTracking-shaped JSON file to write")
    track.add_argument("--max-fps", type=float, default=30.0)
    track.add_argument("--no-faces", action="store_true", help="skip face analysis")
    track.add_argument(
        "--chunk-seconds", type=float, default=None,
        help="analyse longer videos in chunks of this many seconds (default $PEOPLEPATH_CHUNK_SECONDS or 120; 0: never)",
    )
    track.add_argument(
        "--scheduler", default=os.environ.get("PEOPLEPATH_SCHEDULER") or None,
        help="analyse the chunks on the Dask cluster of this scheduler (tcp://HOST:PORT; workers read VIDEO at the same path)",
    )

    evaluate = commands.add_parser("eval", help="score results against MOTChallenge ground truth")
    evaluate.add_argument("results", type=Path, nargs="+", help="GetPersonTracking JSON files (one per clip)")
    evaluate.add_argument("--gt", type=Path, nargs="+", required=True, help="GT_DIR per results file (gt/gt.txt, seqinfo.ini)")

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "track":
            return _track(args)
        return _eval(args)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from .service.app import create_app
    from .service.config import ServiceConfig, parse_access_keys

    config = ServiceConfig.from_env(
        host=args.host,
        port=args.port,
        data_dir=args.data_dir,
        workers=args.workers,
        max_concurrent_jobs=args.max_concurrent_jobs,
        max_video_bytes=args.max_video_bytes,
        access_keys=parse_access_keys(args.access_keys) if args.access_keys else None,
        rate_limit=args.rate_limit,
        key_rate_limit=args.key_rate_limit,
        max_fps=args.max_fps,
        chunk_seconds=args.chunk_seconds,
        scheduler=args.scheduler,
        allow_partial=args.allow_partial,
        faces=args.faces,
    )
    uvicorn.run(create_app(config), host=config.host, port=config.port, log_level="info", timeout_graceful_shutdown=5)
    return 0


def _track(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .engine.pipeline import EngineSettings, Pipeline, video_metadata
    from .video import VideoError

    chunk_seconds = args.chunk_seconds if args.chunk_seconds is not None else chunk_seconds_from_env()
    settings = EngineSettings(max_fps=args.max_fps, faces=not args.no_faces)
    with tqdm(total=100, unit="%", desc=args.video.name) as bar:
        def progress(fraction: float) -> None:
            bar.update(int(fraction * 100) - bar.n)

        try:
            if args.scheduler:
                from .service.dask_runner import track_on_cluster

                info, tracks, t = track_on_cluster(args.scheduler, args.video, settings, chunk_seconds, progress)
            else:
                info, tracks, t = Pipeline(settings).track(args.video, progress=progress, chunk_seconds=chunk_seconds)
        except VideoError as exc:
            document = {"JobStatus": "FAILED", "StatusMessage": f"The video could not be decoded: {exc}", "Persons": []}
            args.out.write_text(json.dumps(document, indent=1))
            print(f"error: {exc}", file=sys.stderr)
            return 1
        bar.update(100 - bar.n)
    # Streamed batch by batch: the document is never whole in memory.
    with open(args.out, "w", encoding="utf-8") as out:
        head = {"JobStatus": "SUCCEEDED", "VideoMetadata": video_metadata(info)}
        out.write(json.dumps(head, separators=(",", ":"))[:-1] + ',"Persons":[')
        first = True
        for batch in tracks.rows():
            if batch:
                out.write(("" if first else ",") + ",".join(row.record for row in batch))
                first = False
        out.write("]}")
    print(
        f"{tracks.persons} persons, {tracks.detections} detections, {t.frames} frames in {t.total:.1f} s "
        f"({t.frames / max(t.total, 1e-9):.1f} frames/s: decode {t.decode:.1f} s, detect {t.detect:.1f} s, "
        f"track {t.track:.1f} s, faces {t.faces:.1f} s) -> {args.out}"
    )
    return 0


def chunk_seconds_from_env() -> float:
    """$PEOPLEPATH_CHUNK_SECONDS, or 120."""
    value = os.environ.get("PEOPLEPATH_CHUNK_SECONDS", "").strip()
    try:
        seconds = float(value) if value else DEFAULT_CHUNK_SECONDS
    except ValueError:
        raise ValueError(f"PEOPLEPATH_CHUNK_SECONDS must be a number of seconds, got {value!r}") from None
    if not seconds >= 0:
        raise ValueError(f"PEOPLEPATH_CHUNK_SECONDS must be >= 0, got {value!r}")
    return seconds


def _eval(args: argparse.Namespace) -> int:
    from .metrics import evaluate_files

    if len(args.results) != len(args.gt):
        raise ValueError("give one --gt folder per results file")
    print(evaluate_files(args.results, args.gt))
    return 0
