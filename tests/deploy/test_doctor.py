"""`cleavr-mcp doctor`: ✓/✗ lines with fixes, non-zero exit when something is broken."""

from __future__ import annotations

import re

import httpx2
import pytest

from cleavr_mcp.cleavr.auth import TokenStore
from cleavr_mcp.cli import main

from .conftest import bound_socket


@pytest.fixture
def env(tmp_path, monkeypatch):
    """A clean configuration: only what the test sets (no .env, no CLEAVR_MCP_* from the outside)."""
    import os

    for key in list(os.environ):
        if key.startswith("CLEAVR_MCP_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("CLEAVR_MCP_DATA_DIR", str(tmp_path / "data"))

    def set_(**values: str) -> None:
        for key, value in values.items():
            monkeypatch.setenv(f"CLEAVR_MCP_{key.upper()}", value)

    return set_


def doctor(capsys) -> tuple[int, dict[str, str]]:
    """Exit code and {label: mark + rest of the line (and its fix)}."""
    code = main(["doctor"])
    out = capsys.readouterr().out
    lines: dict[str, str] = {}
    last = None
    for line in out.splitlines():
        if match := re.match(r"^([✓✗!]) ([^:]+): (.*)$", line):
            last = match.group(2)
            lines[last] = f"{match.group(1)} {match.group(3)}"
        elif line.startswith("    → ") and last:
            lines[last] += "\n" + line.strip()
    return code, lines


def test_good_config_embedded_sandbox(env, capsys):
    code, lines = doctor(capsys)
    assert code == 0, lines
    for label in ("Configuration", "Data folder", "Environment", "Credentials", "API reachable", "Token", "Sandbox",
                  "Live writes", "Tool policy", "HTTP", "Audit log"):
        assert lines[label].startswith("✓"), (label, lines[label])
    assert "sandbox" in lines["Environment"] and "usr_clv_" in lines["Sandbox"]
    assert lines["Webhooks"].startswith("!")  # worth knowing, not broken
    assert "CLEAVR_MCP_DATA_DIR" in lines["Configuration"]


def test_no_credentials_and_unreachable_api(env, capsys):
    sock, port = bound_socket()
    sock.close()  # a port where nothing listens
    env(base_url=f"http://127.0.0.1:{port}")
    code, lines = doctor(capsys)
    assert code == 1
    assert lines["Credentials"].startswith("✗") and "cleavr-mcp auth login" in lines["Credentials"]
    assert lines["API reachable"].startswith("✗") and "CLEAVR_MCP_BASE_URL" in lines["API reachable"]
    assert "Token" not in lines  # not tried when the API cannot be reached


@pytest.mark.parametrize("url", ["api-test.cleavr.fr", "ftp://api.cleavr.fr", "https://"])
def test_bad_base_url(env, capsys, url):
    env(base_url=url)
    code, lines = doctor(capsys)
    assert code == 1
    assert lines["Environment"].startswith("✗") and "not an http(s) URL" in lines["Environment"]
    assert "API reachable" not in lines


def test_logged_in_against_a_remote_api_with_a_webhook(env, capsys, sandbox):
    tokens = sandbox.tokens()
    hook = httpx2.post(f"{sandbox.base_url}/v1/webhooks",
                       json={"url": "https://hooks.example.com/cleavr", "events": ["receivable.*"]},
                       headers={"Authorization": f"Bearer {tokens['access_token']}", "Cleavr-Version": "2026-01-02"})
    assert hook.status_code in (200, 201), hook.text
    env(base_url=sandbox.base_url, client_id=sandbox.client_id, client_secret=sandbox.client_secret)
    from cleavr_mcp.cleavr.models import TokenResponse
    from cleavr_mcp.config import Settings

    TokenStore(Settings().token_path).save(TokenResponse.model_validate(tokens))
    code, lines = doctor(capsys)
    assert code == 0, lines
    assert lines["Environment"].startswith("✓ sandbox on this machine")  # a loopback API is a local sandbox
    assert lines["Credentials"].startswith("✓") and "token file" in lines["Credentials"]
    assert lines["Token"] == "✓ accepted by the API"
    assert lines["Webhooks"].startswith("✓ 1 endpoint(s): https://hooks.example.com/cleavr")


def test_refused_token(env, capsys, sandbox):
    env(base_url=sandbox.base_url, access_token="not-a-real-token")
    code, lines = doctor(capsys)
    assert code == 1
    assert lines["Credentials"].startswith("!")  # a bare token works until it expires
    assert lines["Token"].startswith("✗ refused") and "cleavr-mcp auth login" in lines["Token"]


def test_client_configured_but_not_logged_in(env, capsys, sandbox):
    env(base_url=sandbox.base_url, client_id=sandbox.client_id, client_secret=sandbox.client_secret)
    code, lines = doctor(capsys)
    assert code == 1
    assert lines["Credentials"].startswith("✗") and "not logged in" in lines["Credentials"]


def test_policy_roots_and_http_problems(env, capsys, tmp_path):
    (tmp_path / "invoices").mkdir()
    env(toolsets="users,bogus", allowed_roots=f"{tmp_path / 'invoices'},{tmp_path / 'missing'}",
        http_host="0.0.0.0", request_state_keys="too-short", confirmation_key="short")
    code, lines = doctor(capsys)
    assert code == 1
    assert lines["Tool policy"].startswith("✗") and "'bogus'" in lines["Tool policy"]
    assert "Toolsets: users, receivables" in lines["Tool policy"]
    assert lines["HTTP"].startswith("✗") and "will refuse to start" in lines["HTTP"]
    assert lines["Shared keys"].startswith("✗") and "32 bytes" in lines["Shared keys"]
    assert lines["Allowed folder"].startswith("✗") and "missing" in lines["Allowed folder"]


def test_live_without_opt_in_is_reported(env, capsys):
    env(base_url="https://api.cleavr.fr", allow_live_writes="false")
    from cleavr_mcp.commands.doctor import _live_writes
    from cleavr_mcp.config import Settings

    check = _live_writes(Settings())
    assert check.status == "ok" and "refuse" in check.detail
    env(allow_live_writes="true")
    check = _live_writes(Settings())
    assert check.status == "warn" and "ENABLED" in check.detail


def test_http_auth_and_shared_keys_reported(env, capsys):
    env(http_host="0.0.0.0", auth_token_hashes="ab" * 32, confirmation_key="x" * 40, public_url="https://m.example/mcp")
    _, lines = doctor(capsys)
    assert lines["HTTP auth"].startswith("✓ bearer tokens") and "https://m.example/mcp" in lines["HTTP auth"]
    assert lines["Shared keys"].startswith("✓") and "replicas agree" in lines["Shared keys"]


def test_jwt_without_audience_is_flagged(env, capsys):
    env(http_host="0.0.0.0", jwks_url="https://login.example/jwks.json", jwt_issuer="https://login.example/")
    _, lines = doctor(capsys)
    assert lines["HTTP auth"].startswith("✓ JWT via JWKS")
    assert lines["JWT checks"].startswith("! CLEAVR_MCP_JWT_AUDIENCE unset")


def test_webhook_hint_is_a_command_the_cli_accepts(env, capsys):
    import shlex

    from cleavr_mcp.cli import build_parser
    from cleavr_mcp.commands.doctor import WEBHOOK_REGISTER_HINT

    _, lines = doctor(capsys)
    assert f"`{WEBHOOK_REGISTER_HINT}`" in lines["Webhooks"] and "create_webhook" not in lines["Webhooks"]
    program, *argv = shlex.split(WEBHOOK_REGISTER_HINT)
    assert program == "cleavr-mcp"
    args = build_parser().parse_args(argv)
    assert (args.command, args.url) == ("webhooks", "https://your-host/webhooks/cleavr")
