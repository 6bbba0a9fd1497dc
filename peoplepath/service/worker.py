"""Runs one job to its end inside a worker process: fetch the video, run the engine,
store the results, publish the completion. Every failure ends the job FAILED with a
message; nothing escapes to crash the service."""

from __future__ import annotations

import logging

from ..engine.settings import EngineSettings
from ..errors import ApiError
from ..store import Store
from .notify import publish_completion
from .sources import VideoObject, VideoSource

log = logging.getLogger(__name__)


def run_job(db_path: str, job_id: str, source: VideoSource, settings: EngineSettings, notify: bool) -> str:
    """Run job `job_id` and return its final status."""
    store = Store(db_path)
    job = store.get_job(job_id)
    if job is None or job.status != "IN_PROGRESS":
        return job.status if job else "FAILED"
    from ..engine.pipeline import Pipeline  # the models load in the job's process only
    from ..video import VideoError

    try:
        path = source.fetch(VideoObject.from_request(job.request["Video"]))
        result = Pipeline(settings).run(path, progress=lambda f: store.set_progress(job_id, f))
        store.complete_job(job_id, result.video_metadata(), result.rows)
        status = "SUCCEEDED"
    except VideoError as exc:
        store.fail_job(job_id, f"The video could not be decoded: {exc}")
        status = "FAILED"
    except ApiError as exc:
        store.fail_job(job_id, exc.message)
        status = "FAILED"
    except Exception as exc:  # an engine fault fails this job only
        log.exception("job %s failed", job_id)
        store.fail_job(job_id, f"Internal error while analysing the video: {type(exc).__name__}: {exc}")
        status = "FAILED"
    finally:
        store.close()
    publish_completion(job_id, status, job.request, notify)
    return status


