"""MCP server tests: the real server on the embedded sandbox, driven by the SDK's in-memory client."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from cleavr_mcp.config import Settings
from cleavr_mcp.server.app import build_server
from cleavr_mcp.testing import Human, SandboxAdmin, demo_user, embedded_admin, submission

__all__ = ["MODES", "Human", "SandboxAdmin", "client", "demo_user", "embedded_admin", "submission"]

MODES = ["auto", "legacy"]


@pytest.fixture
def settings(tmp_path) -> Settings:
    docs = tmp_path / "docs"
    docs.mkdir()
    return Settings(_env_file=None, data_dir=tmp_path / "data", allowed_roots=[docs])


@pytest.fixture
def server(settings):
    return build_server(settings)


def client(server, mode: str = "auto", human: Human | None = None) -> Client:
    kwargs: dict[str, Any] = {"mode": mode}
    if human is not None:
        kwargs["elicitation_callback"] = human
    return Client(server, **kwargs)


@pytest.fixture
async def admin(settings):
    a = embedded_admin(settings)
    yield a
    await a.aclose()


@pytest.fixture
def token_server(settings):
    """A server where the agent confirms for the person (CLEAVR_MCP_CONFIRM_CHANNEL=model-token, an explicit
    opt-in): what the token-flow tests exercise. The default gives a client without elicitation the approval page."""
    return build_server(settings.model_copy(update={"confirm_channel": "model-token"}))
