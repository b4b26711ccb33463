"""Fixtures: the CleverInvo sandbox mounted as the Cleavr sandbox will mount it (`/cleverinvo/api/v1`), served
over real HTTP by uvicorn on an ephemeral port in a thread, or in-process through ASGITransport."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx2
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.routing import Mount

from cleavr_mcp.cleverinvo.client import CleverInvoClient
from cleavr_mcp.sandbox.cleverinvo import MOUNT_PATH, create_cleverinvo_app, sandbox_api_key

TODAY = date(2026, 3, 1)


@dataclass
class Sandbox:
    app: Any  # the parent app (the CleverInvo sub-app mounted under MOUNT_PATH)
    sub: Any
    db_path: Path
    api_key: str
    base_url: str  # the CleverInvo base URL (…/cleverinvo/api/v1)

    def client(self, http: httpx2.AsyncClient, **kwargs: Any) -> CleverInvoClient:
        kwargs.setdefault("limiter", None)
        return CleverInvoClient(http, api_key=self.api_key, base_url=self.base_url, **kwargs)


def build(db_path: Path, **options: Any) -> tuple[Any, Any]:
    options.setdefault("today", TODAY)
    sub = create_cleverinvo_app(db_path, **options)
    return Starlette(routes=[Mount(MOUNT_PATH, app=sub)]), sub


@contextmanager
def serve_http(app: Any) -> Iterator[str]:
    """Run `app` under uvicorn on 127.0.0.1:<ephemeral> in a thread; yields the root URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture
def make_http_sandbox(tmp_path: Path):
    """Factory: a sandbox served over real HTTP with the given create_cleverinvo_app options."""
    stack: list[Any] = []

    def make(**options: Any) -> Sandbox:
        db = tmp_path / f"sandbox-{len(stack)}.sqlite3"
        app, sub = build(db, **options)
        ctx = serve_http(app)
        root = ctx.__enter__()
        stack.append(ctx)
        return Sandbox(app, sub, db, sandbox_api_key(db), root + MOUNT_PATH)

    yield make
    for ctx in reversed(stack):
        ctx.__exit__(None, None, None)


@pytest.fixture
def http_sandbox(make_http_sandbox) -> Sandbox:
    return make_http_sandbox()


@pytest.fixture
def make_asgi_sandbox(tmp_path: Path):
    counter = iter(range(1000))

    def make(**options: Any) -> Sandbox:
        db = tmp_path / f"asgi-{next(counter)}.sqlite3"
        app, sub = build(db, **options)
        return Sandbox(app, sub, db, sandbox_api_key(db), "http://sandbox.test" + MOUNT_PATH)

    return make


@pytest.fixture
def asgi_sandbox(make_asgi_sandbox) -> Sandbox:
    return make_asgi_sandbox()


def asgi_http(sandbox: Sandbox) -> httpx2.AsyncClient:
    return httpx2.AsyncClient(transport=httpx2.ASGITransport(app=sandbox.app))
