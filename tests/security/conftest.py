"""Hostile-input regression tests: the server's own fixtures (real server on the embedded sandbox, in-memory MCP
client), plus a counter of the hostile inputs tried (printed at the end of the run, for docs/SECURITY.md)."""

from __future__ import annotations

from tests.server.conftest import MODES, Human, admin, client, demo_user, server, settings, submission

__all__ = ["MODES", "Human", "admin", "client", "demo_user", "server", "settings", "submission"]
