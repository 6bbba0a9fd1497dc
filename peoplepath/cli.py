"""`python -m peoplepath serve | track | eval | convert` from the shell."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Sequence

from .service.config import DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m peoplepath", description=__doc__)
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

    track = commands.add_parser("track", help="analyse one video file without a server")
    track.add_argument("video", type=Path)
    track.add_argument("--out", type=Path, required=True, help="GetPersonTracking-shaped JSON file to write")
    track.add_argument("--max-fps", type=float, default=30.0)
    track.add_argument("--no-faces", action="store_true", help="skip face analysis")

    evaluate = commands.add_parser("eval", help="score results against MOTChallenge ground truth")
    evaluate.add_argument("results", type=Path, nargs="+", help="GetPersonTracking JSON files (one per clip)")
    evaluate.add_argument("--gt", type=Path, nargs="+", required=True, help="GT_DIR per results file (gt/gt.txt, seqinfo.ini)")

    convert = commands.add_parser("convert", help="archived results to CSV, Parquet, MOTChallenge or JSON")
    convert.add_argument("inputs", type=Path, nargs="+", metavar="INPUT",
                         help="GetPersonTracking JSON in any archived form (several page files in order), "
                              "or one MOTChallenge txt (with --video)")
    convert.add_argument("--to", required=True, choices=("csv", "parquet", "mot", "json"))
    convert.add_argument("--out", type=Path, required=True, help="file to write")
    convert.add_argument("--video", type=Path, default=None,
                         help="the results' video: times a MOTChallenge file, sizes results without VideoMetadata")

    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "serve":
            return _serve(args)
        if args.command == "track":
            return _track(args)
        if args.command == "convert":
            return _convert(args)
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
    )
    uvicorn.run(create_app(config), host=config.host, port=config.port, log_level="info", timeout_graceful_shutdown=5)
    return 0


def _track(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .engine.pipeline import EngineSettings, Pipeline
    from .video import VideoError

    pipeline = Pipeline(EngineSettings(max_fps=args.max_fps, faces=not args.no_faces))
    with tqdm(total=100, unit="%", desc=args.video.name) as bar:
        def progress(fraction: float) -> None:
            bar.update(int(fraction * 100) - bar.n)

        try:
            result = pipeline.run(args.video, progress=progress)
        except VideoError as exc:
            document = {"JobStatus": "FAILED", "StatusMessage": f"The video could not be decoded: {exc}", "Persons": []}
            args.out.write_text(json.dumps(document, indent=1))
            print(f"error: {exc}", file=sys.stderr)
            return 1
        bar.update(100 - bar.n)
    document = {"JobStatus": "SUCCEEDED", "VideoMetadata": result.video_metadata(), "Persons": result.persons_records()}
    args.out.write_text(json.dumps(document, separators=(",", ":")))
    t = result.timings
    print(
        f"{result.persons} persons, {len(result.rows)} detections, {t.frames} frames in {t.total:.1f} s "
        f"({t.frames / max(t.total, 1e-9):.1f} frames/s: decode {t.decode:.1f} s, detect {t.detect:.1f} s, "
        f"track {t.track:.1f} s, faces {t.faces:.1f} s) -> {args.out}"
    )
    return 0


def _eval(args: argparse.Namespace) -> int:
    from .metrics import evaluate_files

    if len(args.results) != len(args.gt):
        raise ValueError("give one --gt folder per results file")
    print(evaluate_files(args.results, args.gt))
    return 0


def _convert(args: argparse.Namespace) -> int:
    from . import convert, results
    from .video import VideoError

    try:
        job = convert.read(args.inputs, args.video)
    except VideoError as exc:
        raise ValueError(f"the video cannot be read: {exc}") from exc
    if job.partial:
        print(f"warning: partial results: {job.partial}", file=sys.stderr)
    table = results.table_from_job(job)
    convert.write(job, table, args.to, args.out)
    persons = table["index"].nunique()
    print(f"wrote {len(table)} detections of {persons} persons to {args.out} ({args.to})"
          + (" [partial]" if job.partial else ""))
    return 0
