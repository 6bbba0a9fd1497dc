"""The HTTP edge: AWS JSON 1.1 parsing, auth, rate limits, and one place where every
error becomes `{"__type", "Message"}`."""

from __future__ import annotations

import json
import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import contract
from ..errors import (
    ApiError,
    InternalServerError,
    RequestEntityTooLargeException,
    SerializationException,
    UnknownOperationException,
    shorten,
)
from .auth import SigV4Verifier
from .backend import Backend
from .config import ServiceConfig
from .throttle import RateLimiter
from . import video_route

log = logging.getLogger(__name__)
JSON_TYPE = "application/x-amz-json-1.1"
_DRAIN_CAP = 64 << 20


def error_response(exc: ApiError, status: int | None = None) -> Response:
    """The AWS-shaped error; ASCII JSON, so that any echoed text (a lone surrogate too)
    can be sent."""
    return Response(
        json.dumps({"__type": exc.code, "Message": exc.message}),
        status_code=status or exc.status,
        media_type=JSON_TYPE,
        headers={"x-amzn-ErrorType": exc.code},
    )


async def _no_route(request: Request, exc: Exception) -> Response:
    """Unknown paths and methods (Starlette's 404 / 405) in the same AWS shape."""
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    message = f"No operation at {request.method} {shorten(request.url.path)}; operations are POST /"
    return error_response(UnknownOperationException(message), status)


def create_app(config: ServiceConfig, backend: Backend | None = None) -> Starlette:
    """The ASGI app. Jobs left IN_PROGRESS by an earlier run are resumed at startup."""
    limiter = RateLimiter(config.rate_limit, config.key_rate_limit)
    verifier = SigV4Verifier(config.access_keys, config.region) if config.access_keys else None
    state: dict[str, Backend] = {}

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state["backend"] = backend or Backend(config)
        resumed = state["backend"].resume()
        if resumed:
            log.info("resumed %d interrupted job(s)", len(resumed))
        try:
            yield
        finally:
            state["backend"].close()

    async def operation(request: Request) -> Response:
        try:
            body = await _read_body(request, config.max_body_bytes)
            headers = {k.lower(): v for k, v in request.headers.items()}
            # the per-client limit counts verified keys only: an unverified key id is a free choice
            client = verifier.verify("POST", str(request.url), headers, body) if verifier else _address(request)
            limiter.check(client)
            name = _operation_name(headers.get("x-amz-target", ""))
            params = _modelled(contract.service_model().operation_model(name).input_shape, _parse(body))
            result = await run_in_threadpool(_dispatch, state["backend"], name, params)
        except ApiError as exc:
            return error_response(exc)
        except Exception:
            log.exception("internal error")
            return error_response(InternalServerError("Internal server error"))
        if isinstance(result, bytes):
            return Response(result, media_type=JSON_TYPE)
        return JSONResponse(result, media_type=JSON_TYPE)

    async def ping(request: Request) -> Response:
        return JSONResponse({"service": "peoplepath", "status": "ok"})

    return Starlette(
        routes=[Route("/", operation, methods=["POST"]), Route("/ping", ping, methods=["GET"]),
                *video_route.routes(state, config.access_keys, config.region, error_response)],
        lifespan=lifespan,
        exception_handlers={HTTPException: _no_route},
    )


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, or RequestEntityTooLargeException past `limit` bytes. An oversized body
    is still read (up to a hard cap) so that the client gets the error, not a reset."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > _DRAIN_CAP:
        raise RequestEntityTooLargeException(f"The request body is larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= limit:
            chunks.append(chunk)
        elif size > _DRAIN_CAP:
            break
    if size > limit:
        raise RequestEntityTooLargeException(f"The request body is larger than {limit} bytes")
    return b"".join(chunks)


def _operation_name(target: str) -> str:
    prefix, _, name = target.partition(".")
    if f"{prefix}." != contract.TARGET_PREFIX or name not in contract.OPERATIONS:
        raise UnknownOperationException(
            f"Unknown operation {shorten(target)!r}; this service answers "
            + ", ".join(contract.TARGET_PREFIX + op for op in contract.OPERATIONS)
        )
    return name


def _parse(body: bytes) -> dict[str, Any]:
    try:
        params = json.loads(body or b"{}")
    except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError included
        raise SerializationException(f"The request body is not valid JSON: {shorten(exc, 200)}") from None
    except RecursionError:
        raise SerializationException("The request body is not valid JSON: it nests too deeply") from None
    if not isinstance(params, dict):
        raise SerializationException("The request body must be a JSON object")
    return params


def _modelled(shape: Any, value: Any) -> Any:
    """`value` without the members `shape` does not model (AWS ignores them), so that
    nothing unknown is stored, echoed or walked. Wrong types are left for validation."""
    if shape.type_name == "structure" and isinstance(value, dict):
        return {name: _modelled(shape.members[name], item) for name, item in value.items() if name in shape.members}
    if shape.type_name == "list" and isinstance(value, list):
        return [_modelled(shape.member, item) for item in value]
    return value


def _address(request: Request) -> str:
    """The client's address (the per-client limit's key when keys are not verified)."""
    return request.client.host if request.client else ""


def _dispatch(backend: Backend, name: str, params: dict[str, Any]) -> Any:
    if name == "StartPersonTracking":
        return backend.start_person_tracking(params)
    return backend.get_person_tracking(params)
