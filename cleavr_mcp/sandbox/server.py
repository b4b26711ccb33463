"""Serving the sandbox with uvicorn so that a "drop" fault really closes the socket without an answer.

Plain uvicorn answers 500 when an app raises before responding; `DropAwareH11Protocol` closes the connection instead
when the exception is the sandbox's `ConnectionDropped` (the request was committed; the client sees a disconnect).
"""

from __future__ import annotations

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
