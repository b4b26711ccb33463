"""A small webhook listener for stdio users (`cleavr-mcp serve --webhook-port N`): the same receiver as the HTTP
server's, on its own port (loopback by default), inside the MCP server's event loop so events reach the same
subscribers. A tunnel or reverse proxy can expose it to Cleavr."""

from __future__ import annotations

import contextlib
import logging
import socket
from typing import TYPE_CHECKING

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ..net import guard_host_origin, is_loopback
from .receiver import WEBHOOK_PATH, handle

if TYPE_CHECKING:
    from .ports import WebhookHub

logger = logging.getLogger("cleavr_mcp.events")


class _EmbeddedServer(uvicorn.Server):
    # Signals belong to the MCP server (stdio): uvicorn must not install its own handlers.
    @contextlib.contextmanager
    def capture_signals(self):
        yield


def receiver_app(hub: WebhookHub) -> Starlette:
    async def webhook(request: Request) -> Response:
        return await handle(hub, request)

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")  # no version, no configuration: anyone can reach this port

    app = Starlette(routes=[Route(WEBHOOK_PATH, webhook, methods=["POST"]), Route("/healthz", health)])
    # Host/Origin parsed and matched exactly (loopback, the bind address, the public URL, CLEAVR_MCP_ALLOWED_HOSTS:
    # behind a tunnel that keeps its own Host, add the tunnel's name there).
    bind = hub.settings.webhook_host
    extra = [] if bind in ("0.0.0.0", "::", "") else [f"[{bind}]:*" if ":" in bind else f"{bind}:*"]
    return guard_host_origin(app, hub.settings, extra_hosts=extra)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


async def serve_listener(hub: WebhookHub, host: str, port: int, *,
                         task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
    """Serve the receiver until cancelled; reports the bound port (port 0 picks a free one) once listening."""
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    if not is_loopback(host):
        logger.warning("webhook listener on %s: reachable from the network (deliveries are still HMAC-verified)",
                       host)
    # No logging config and no access log: on stdio, stdout carries the protocol.
    config = uvicorn.Config(receiver_app(hub), log_config=None, access_log=False, lifespan="off",
                            log_level="warning")
    server = _EmbeddedServer(config)
    task_status.started(bound)
    logger.info("webhook listener on http://%s:%d%s", host, bound, WEBHOOK_PATH)
    try:
        await server.serve(sockets=[sock])
    finally:
        server.should_exit = True
        sock.close()
