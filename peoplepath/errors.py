"""One exception class per AWS error code; the service renders them in one place."""

from __future__ import annotations

ECHO_LIMIT = 100


def shorten(value: object, limit: int = ECHO_LIMIT) -> str:
    """A client's value as a message may quote it: at most `limit` characters, then "..."."""
    try:
        text = value if isinstance(value, str) else str(value)
    except ValueError:  # an integer too long to print
        text = "a number too long to print"
    return text if len(text) <= limit else text[:limit] + "..."


class ApiError(Exception):
    """An error the API reports as `{"__type": code, "Message": message}`."""

    code: str = "InternalServerError"
    status: int = 500

    def __init__(self, message: str = "") -> None:
        super().__init__(message)
        self.message = message or self.code


class InternalServerError(ApiError):
    code, status = "InternalServerError", 500


class AccessDeniedException(ApiError):
    code, status = "AccessDeniedException", 400


class InvalidSignatureException(ApiError):
    """A SigV4 signature outside its time window or scoped to another service or region."""

    code, status = "InvalidSignatureException", 400


class InvalidParameterException(ApiError):
    code, status = "InvalidParameterException", 400


class InvalidPaginationTokenException(ApiError):
    code, status = "InvalidPaginationTokenException", 400


class ResourceNotFoundException(ApiError):
    code, status = "ResourceNotFoundException", 400


class ProvisionedThroughputExceededException(ApiError):
    code, status = "ProvisionedThroughputExceededException", 400


class ThrottlingException(ApiError):
    code, status = "ThrottlingException", 500


class IdempotentParameterMismatchException(ApiError):
    code, status = "IdempotentParameterMismatchException", 400


class InvalidS3ObjectException(ApiError):
    code, status = "InvalidS3ObjectException", 400


class VideoTooLargeException(ApiError):
    code, status = "VideoTooLargeException", 400


class LimitExceededException(ApiError):
    code, status = "LimitExceededException", 400


class SerializationException(ApiError):
    """The body is not JSON, or not a JSON object of the right types."""

    code, status = "SerializationException", 400


class UnknownOperationException(ApiError):
    code, status = "UnknownOperationException", 400


class RequestEntityTooLargeException(ApiError):
    code, status = "RequestEntityTooLargeException", 413
