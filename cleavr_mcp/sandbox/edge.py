"""The outermost ASGI layer: Request-Id on every answer, fault injection, per-token rate limiting, dropped connections.

It wraps FastAPI's whole middleware stack (see `SandboxApp.build_middleware_stack`), so an injected fault happens
before any work, and a "drop" happens after the app has committed, outside Starlette's error middleware (which would
otherwise turn the exception into a 500).
"""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import httpx2

from ..cleavr import wire
from ..cleavr.contract import REQUEST_ID_HEADER, ErrorCode
from .errors import ApiError
from .state import RateLimiter, SandboxState
from .store import new_id

Scope = dict[str, Any]


class ConnectionDropped(httpx2.RemoteProtocolError):
    """The sandbox committed the request, then dropped the connection without answering.

    Under uvicorn (with `server.DropAwareH11Protocol`) the socket is closed with no response, so a client sees
    "server disconnected". Through `httpx2.ASGITransport` this exception reaches the client as is, and being an
    `httpx2.TransportError` it takes the same path as a real network failure.
    """


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


class Edge:
    def __init__(self, app: Any, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_id("req_", 12)
        scope.setdefault("state", {})["request_id"] = request_id
        id_header = (REQUEST_ID_HEADER.lower().encode(), request_id.encode())

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), id_header]}
            await send(message)

        self.state.ensure_background()
        path: str = scope.get("path", "")
        is_api = path == "/v1" or path.startswith("/v1/")
        faulted = is_api or (path.startswith("/oauth/") and self.state.faults.settings.faults_on_oauth)
        fault = None
        if faulted:
            settings = self.state.faults.settings
            fault = self.state.faults.draw()
            if settings.latency_ms:
                await asyncio.sleep(settings.latency_ms / 1000)
            if fault == "5xx":
                await self._reply(send_with_id, ApiError(
                    ErrorCode.SERVICE_UNAVAILABLE,
                    "The service is temporarily unavailable (sandbox fault injection): retry with backoff.",
                ))
                return
            if fault == "429":
                retry_after = settings.retry_after_seconds
                await self._reply(send_with_id, ApiError(
                    ErrorCode.RATE_LIMITED,
                    f"Too many requests (sandbox fault injection): retry after {retry_after} second(s).",
                    details={"retry_after_seconds": retry_after},
                    headers={"Retry-After": str(retry_after)},
                ))
                return
        if is_api:
            auth = _header(scope, b"authorization") or ""
            client = scope.get("client") or ("?", 0)
            key = hashlib.sha256(auth.encode()).hexdigest() if auth else f"ip:{client[0]}"
            wait = self.state.limiter.take(key)
            if wait:
                retry_after = RateLimiter.retry_after(wait)
                await self._reply(send_with_id, ApiError(
                    ErrorCode.RATE_LIMITED,
                    f"Rate limit of {self.state.limiter.rate} requests per second exceeded: "
                    f"retry after {retry_after} second(s).",
                    details={"limit_per_second": self.state.limiter.rate, "retry_after_seconds": retry_after},
                    headers={"Retry-After": str(retry_after)},
                ))
                return
        if fault == "drop":
            async def swallow(message: dict[str, Any]) -> None:
                return None

            await self.app(scope, receive, swallow)
            raise ConnectionDropped(
                "Server disconnected without sending a response (sandbox fault: the request was committed)."
            )
        await self.app(scope, receive, send_with_id)

    @staticmethod
    async def _reply(send: Any, error: ApiError) -> None:
        body = wire.dumps(error.body())
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
        await send({"type": "http.response.start", "status": error.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
