"""Completion messages to the job's SNS topic, in Rekognition's message shape."""

from __future__ import annotations

import json
import logging
import time
from typing import Any

log = logging.getLogger(__name__)


def completion_message(job_id: str, status: str, request: dict[str, Any]) -> dict[str, Any]:
    s3 = request.get("Video", {}).get("S3Object", {})
    message: dict[str, Any] = {
        "JobId": job_id,
        "Status": status,
        "API": "StartPersonTracking",
        "Timestamp": int(time.time() * 1000),
        "Video": {"S3ObjectName": s3.get("Name"), "S3Bucket": s3.get("Bucket")},
    }
    if request.get("JobTag"):
        message["JobTag"] = request["JobTag"]
    return message


def publish_completion(job_id: str, status: str, request: dict[str, Any], enabled: bool) -> None:
    """Publish to `NotificationChannel.SNSTopicArn` when the job asked for it and SNS is
    configured (standard AWS settings; AWS_ENDPOINT_URL_SNS for a local endpoint).
    A failed publish is logged: it never changes the job's outcome."""
    channel = request.get("NotificationChannel")
    if not channel or not enabled:
        return
    try:
        import boto3

        region = channel["SNSTopicArn"].split(":")[3] or None
        boto3.client("sns", region_name=region).publish(
            TopicArn=channel["SNSTopicArn"], Message=json.dumps(completion_message(job_id, status, request))
        )
    except Exception:
        log.exception("could not publish the completion of job %s to %s", job_id, channel.get("SNSTopicArn"))
