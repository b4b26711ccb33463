"""Configuration errors name the variable and what is wrong, never the value: every misconfiguration path of every
command that reads the settings (serve over stdio and HTTP, doctor, webhooks, sandbox) is run with a recognisable
secret in the bad value, and stdout, stderr and the logs are searched for it."""

from __future__ import annotations

import base64
import logging
from urllib.parse import quote

import pytest

from cleavr_mcp.cli import main

SECRET = "sk_FAKE-SECRET-VALUE-7c41d9e2b8a0"

MISCONFIGURATIONS = {
    "auth-tokens-bad-json": ("CLEAVR_MCP_AUTH_TOKENS", f'["{SECRET}"'),
    "auth-tokens-json-object": ("CLEAVR_MCP_AUTH_TOKENS", f'[{{"token": "{SECRET}"}}]'),
    "auth-tokens-trailing-comma": ("CLEAVR_MCP_AUTH_TOKENS", f'["{SECRET}",]'),
    "auth-tokens-empty-entry": ("CLEAVR_MCP_AUTH_TOKENS", f'["{SECRET}", ""]'),
    "auth-tokens-padded": ("CLEAVR_MCP_AUTH_TOKENS", f'[" {SECRET}"]'),
    "auth-token-hashes-not-hex": ("CLEAVR_MCP_AUTH_TOKEN_HASHES", SECRET),
    "request-state-keys-bad-json": ("CLEAVR_MCP_REQUEST_STATE_KEYS", f'["{SECRET}'),
    "request-state-keys-too-short": ("CLEAVR_MCP_REQUEST_STATE_KEYS", SECRET[:20]),
    "request-state-keys-empty-entry": ("CLEAVR_MCP_REQUEST_STATE_KEYS", f'["", "{SECRET}{SECRET}"]'),
    "confirmation-key-too-short": ("CLEAVR_MCP_CONFIRMATION_KEY", SECRET[:10]),
    "base-url-with-password": ("CLEAVR_MCP_BASE_URL", f"ftp://user:{SECRET}@api.cleavr.fr"),
    "jwks-url-bad-json-scopes": ("CLEAVR_MCP_JWT_REQUIRED_SCOPES", f'["{SECRET}'),
    "allowed-hosts-bad-json": ("CLEAVR_MCP_ALLOWED_HOSTS", f'[{SECRET}]'),
    "client-secret-with-bad-port": ("CLEAVR_MCP_HTTP_PORT", SECRET),
    "webhook-port-secret": ("CLEAVR_MCP_WEBHOOK_PORT", SECRET),
    "timeout-secret": ("CLEAVR_MCP_TIMEOUT_SECONDS", SECRET),
}
COMMANDS = {
    "serve-http": ["serve", "--transport", "http", "--port", "1"],
    "serve-http-public": ["serve", "--transport", "http", "--host", "0.0.0.0", "--port", "1"],
    "doctor": ["doctor"],
    "webhooks-list": ["webhooks", "list"],
}


def variants(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode().rstrip("="), secret[:10]}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("case", sorted(MISCONFIGURATIONS))
def test_a_misconfiguration_is_named_never_echoed(tmp_path, monkeypatch, capsys, caplog, case, command):
    caplog.set_level(logging.DEBUG)
    variable, value = MISCONFIGURATIONS[case]
    for name in ("CLEAVR_MCP_BASE_URL", "CLEAVR_MCP_AUTH_TOKENS", "CLEAVR_MCP_AUTH_TOKEN_HASHES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CLEAVR_MCP_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv(variable, value)
    monkeypatch.chdir(tmp_path)  # no .env
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda *a, **k: None)  # a valid configuration must not start serving
    try:
        code = main(COMMANDS[command])
    except SystemExit as exc:
        code = exc.code
    except Exception as exc:  # noqa: BLE001 - an escaping exception is what a terminal would show
        import traceback

        code = "exception"
        print("".join(traceback.format_exception(exc)))
    out = capsys.readouterr()
    seen = out.out + out.err + "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert not [v for v in variants(SECRET) if v in seen], seen
    if code not in (0, None):
        assert "Traceback" not in seen, seen
