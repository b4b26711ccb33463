"""Degenerate bearer-token lists on a public bind: the server refuses to start, or answers 401 without a valid
token. "Auth is on" (banner, doctor, the bind check) is whether a verifier is really installed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import httpx2
import pytest

from cleavr_mcp.testing import bound_socket
from tests.deploy.conftest import INITIALIZE, MCP_ACCEPT

DEGENERATE = {
    "one-empty": '[""]',
    "one-space": '[" "]',
    "tab-newline": '["\\t\\n"]',
    "empty-then-real": '["", "x-real-token-123"]',
    "real-then-space": '["x-real-token-123", " "]',
    "duplicates": '["x-real-token-123", "x-real-token-123"]',
    "empty-duplicates": '["", ""]',
    "padded": '[" x-real-token-123 "]',
    "csv-empty-items": ", ,",
    "csv-duplicates": "x-real-token-123,x-real-token-123",
    "unicode-space": '["\\u00a0"]',
    "zero-width": '["\\u200b"]',
}


def _serve(tmp_path, tokens: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "CLEAVR_MCP_DATA_DIR": str(tmp_path / "data"), "CLEAVR_MCP_AUTH_TOKENS": tokens,
           "CLEAVR_MCP_BASE_URL": "http://127.0.0.1:9"}
    env.pop("CLEAVR_MCP_AUTH_TOKEN_HASHES", None)
    env.pop("CLEAVR_MCP_JWKS_URL", None)
    return subprocess.Popen([sys.executable, "-m", "cleavr_mcp.cli", "serve", "--transport", "http", "--host",
                             "0.0.0.0", "--port", str(port)], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("case", sorted(DEGENERATE))
def test_degenerate_token_list_refuses_to_start_or_demands_a_token(tmp_path, case):
    sock, port = bound_socket()
    sock.close()
    proc = _serve(tmp_path, DEGENERATE[case], port)
    answered: list[int] = []
    try:
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                answered.append(httpx2.post(f"http://127.0.0.1:{port}/mcp", json=INITIALIZE, headers=MCP_ACCEPT,
                                            timeout=2).status_code)
                for authorization in ("Bearer", "Bearer ", "Bearer  ", "Bearer \t", "Bearer x"):
                    answered.append(httpx2.post(f"http://127.0.0.1:{port}/mcp", json=INITIALIZE, timeout=2,
                                                headers={**MCP_ACCEPT, "Authorization": authorization}).status_code)
                break
            except httpx2.TransportError:
                time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.terminate()
        _, err = proc.communicate(timeout=15)
    if answered:
        assert set(answered) == {401}, (case, answered, err)
        assert "[bearer auth required]" in err
    else:
        assert proc.returncode == 2, (case, proc.returncode, err)
        assert "CLEAVR_MCP_AUTH_TOKENS" in err and "Traceback" not in err
        assert "x-real-token-123" not in err  # named, never echoed


def test_the_banner_and_doctor_follow_the_installed_verifier(tmp_path):
    from cleavr_mcp.config import Settings
    from cleavr_mcp.server.app import build_server
    from cleavr_mcp.server.http import connection_help

    settings = Settings(_env_file=None, data_dir=tmp_path, base_url="http://127.0.0.1:9",
                        auth_tokens=["x-real-token-123"])
    server = build_server(settings)
    assert server.installed_token_verifier is not None
    assert "[bearer auth required]" in connection_help(settings, auth_on=True)
    assert "[no auth: loopback only]" in connection_help(settings, auth_on=False)
    with pytest.raises(ValueError, match="CLEAVR_MCP_AUTH_TOKENS|empty"):
        Settings(_env_file=None, data_dir=tmp_path, auth_tokens=json.loads('[""]'))


def test_a_server_without_a_verifier_never_serves_publicly(tmp_path):
    from cleavr_mcp.config import Settings
    from cleavr_mcp.server.app import build_server
    from cleavr_mcp.server.http import UnsafeBindError, build_http_app

    loopback = Settings(_env_file=None, data_dir=tmp_path, base_url="http://127.0.0.1:9")
    server = build_server(loopback)  # built without auth
    public = loopback.model_copy(update={"http_host": "0.0.0.0", "auth_token_hashes": ["0" * 64]})
    with pytest.raises(UnsafeBindError):
        build_http_app(server, public)  # the settings claim auth, the server has none: refused
