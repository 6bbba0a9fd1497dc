"""`python -m peoplepath serve | track | eval | convert | analyze | export-clip` from the shell."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from .service.config import DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT

if TYPE_CHECKING:
    from .client import JobResult
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
    serve.add_argument("--key-rate-limit", type=float, default=None, help="requests/s per verified access key, or per client address without --access-keys (ProvisionedThroughputExceededException above)")
    serve.add_argument("--max-fps", type=float, default=None, help="frames analysed per second of video at most (default 30)")
    serve.add_argument("--region", default=None, help="the region SigV4 signatures must be scoped to (default us-east-1)")
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

    analyze = commands.add_parser("analyze", help="line crossings, zone entries, dwell, occupancy and flows")
    analyze.add_argument("results", type=Path, nargs="+",
                         help="results files of one job (GetPersonTracking JSON, or MOTChallenge txt with --video)")
    analyze.add_argument("--geometry", type=Path, required=True, help='lines and zones: {"lines": [...], "zones": [...]}')
    analyze.add_argument("--out", type=Path, required=True, help="the report (JSON) to write")
    analyze.add_argument("--csv", type=Path, default=None, metavar="DIR",
                         help="also write the report as CSV tables, with occupancy per second per zone")
    analyze.add_argument("--video", type=Path, default=None, help="the video (times and sizes MOTChallenge files)")

    clip = commands.add_parser("export-clip", help="an annotated H.264 clip of the results over their video")
    clip.add_argument("results", type=Path, help="GetPersonTracking JSON, or MOTChallenge txt")
    clip.add_argument("--video", type=Path, required=True)
    clip.add_argument("--out", type=Path, required=True, help="the MP4 file to write")
    clip.add_argument("--blur-faces", action="store_true", help="blur every face (face boxes, else the head of the person box)")
    clip.add_argument("--no-overlay", action="store_true", help="draw nothing (with --blur-faces: only the faces blurred)")
    clip.add_argument("--from", dest="start_ms", type=int, default=0, metavar="MS", help="start (ms, default 0)")
    clip.add_argument("--to", dest="end_ms", type=int, default=None, metavar="MS", help="end (ms, default the last frame)")
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
        if args.command == "analyze":
            return _analyze(args)
        if args.command == "export-clip":
            return _export_clip(args)
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
        region=args.region,
        chunk_seconds=args.chunk_seconds,
        scheduler=args.scheduler,
        allow_partial=args.allow_partial,
        faces=args.faces,
    )
    os.umask(0o077)  # every file and folder the service makes is for its user only
    config.data_dir.mkdir(parents=True, exist_ok=True)
    config.data_dir.chmod(0o700)  # also when an earlier run (or a launcher) made it
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


def read_results(paths: Sequence[Path], video: Path | None = None) -> "JobResult":
    """The results of one job in any form `convert` reads (archived JSON in its forms, page
    files in order, or MOTChallenge txt timed by `video`); a partial archive is warned about."""
    from . import convert
    from .video import VideoError

    try:
        job = convert.read(list(paths), video)
    except VideoError as exc:
        raise ValueError(f"the video cannot be read: {exc}") from exc
    if job.partial:
        print(f"warning: partial results: {job.partial}", file=sys.stderr)
    return job


def _analyze(args: argparse.Namespace) -> int:
    from . import analytics, results

    geometry = analytics.load_geometry(args.geometry)
    job = read_results(args.results, args.video)
    analysis = analytics.analyze(results.table_from_job(job), geometry)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(analysis.report(), indent=1))
    if args.csv is not None:
        args.csv.mkdir(parents=True, exist_ok=True)
        for name, table in analysis.tables().items():
            table.to_csv(args.csv / f"{name}.csv", index=False)
    report = analysis.report()
    lines = ", ".join(f"{ln['name']} {ln['in']} in / {ln['out']} out" for ln in report["lines"])
    zones = ", ".join(f"{z['name']} {z['entries']} entries (peak {z['peak_occupancy']})" for z in report["zones"])
    print(f"{len(job.persons)} detections; lines: {lines or 'none'}; zones: {zones or 'none'} -> {args.out}")
    return 0


def _export_clip(args: argparse.Namespace) -> int:
    from . import results
    from .export_video import ClipError, write_clip
    from .video import FrameReader, VideoError

    table = results.table_from_job(read_results([args.results], args.video))
    try:
        with FrameReader(args.video, proxy="off") as reader:
            end_ms = int(reader.timestamps_ms[-1]) if args.end_ms is None else args.end_ms
            write_clip(reader, table, args.start_ms, end_ms, args.out, blur_faces=args.blur_faces,
                       annotators=[] if args.no_overlay else None)
    except (VideoError, ClipError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{args.out} ({'faces blurred' if args.blur_faces else 'faces not blurred'})")
def _convert(args: argparse.Namespace) -> int:
    from . import convert, results

    job = read_results(args.inputs, args.video)
    table = results.table_from_job(job)
    convert.write(job, table, args.to, args.out)
    persons = table["index"].nunique()
    print(f"wrote {len(table)} detections of {persons} persons to {args.out} ({args.to})"
          + (" [partial]" if job.partial else ""))
    return 0
