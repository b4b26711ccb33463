"""Serving the sandbox with uvicorn so that a "drop" fault really closes the socket without an answer.

Plain uvicorn answers 500 when an app raises before responding; `DropAwareH11Protocol` closes the connection instead
when the exception is the sandbox's `ConnectionDropped` (the request was committed; the client sees a disconnect).
`bound_socket` / `running_app` serve any ASGI app on an ephemeral loopback port in a thread (tests, `running_sandbox`).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from .edge import ConnectionDropped


class DropAwareH11Protocol(H11Protocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        inner = self.app

        async def app(scope: Any, receive: Any, send: Any) -> None:
            try:
                await inner(scope, receive, send)
            except ConnectionDropped:
                cycle = self.cycle
                if cycle is None or cycle.response_started:
                    raise
                cycle.disconnected = True  # uvicorn must not write its own 500 now
                self.transport.close()

        self.app = app


def uvicorn_config(app: Any, host: str = "127.0.0.1", port: int = 8080, **kwargs: Any) -> uvicorn.Config:
    kwargs.setdefault("log_level", "warning")
    return uvicorn.Config(app, host=host, port=port, http=DropAwareH11Protocol, lifespan="off", **kwargs)


def bound_socket(host: str = "127.0.0.1") -> tuple[socket.socket, int]:
    """A listening socket on an ephemeral port (bound before the server starts, so the port cannot be taken)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(128)
    return sock, sock.getsockname()[1]


@contextmanager
def running_app(app: Any, sock: socket.socket | None = None, *, config: Any = None,
                start_timeout: float = 20.0) -> Iterator[str]:
    """Serve an ASGI app with uvicorn in a background thread; yields its base URL. `config` overrides the
    uvicorn.Config (the sandbox passes its drop-aware one)."""
    import uvicorn

    if sock is None:
        sock, _ = bound_socket()
    host, port = sock.getsockname()[:2]
    server = uvicorn.Server(config or uvicorn.Config(app, log_level="warning", lifespan="on",
                                                     timeout_graceful_shutdown=2))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + start_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the HTTP server did not start")
            time.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
