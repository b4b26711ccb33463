"""No secret ever reaches a log record, a tool result, a webhook answer or an audit row.

The server runs over streamable HTTP with bearer auth and request_state keys, against a sandbox served over real
HTTP (OAuth client secret, access and refresh tokens, a forced token refresh, injected faults) with CleverInvo (API
key) and signed webhooks (webhook secret). Every secret is a recognisable value; everything observable is captured
(all loggers at DEBUG, every tool result, every HTTP answer of the webhook receiver, every audit row) and searched for
each secret and its usual encodings (Basic auth base64, URL-encoded).
"""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from cleavr_mcp.cleavr.webhooks import sign
from cleavr_mcp.config import Settings
from cleavr_mcp.sandbox import SandboxConfig
from cleavr_mcp.sandbox.cleverinvo.store import sandbox_api_key
from cleavr_mcp.sandbox.testing import running_sandbox, sandbox_access_token, sandbox_credentials
from cleavr_mcp.server.app import build_server
from cleavr_mcp.server.http import build_http_app
from cleavr_mcp.testing import SandboxAdmin, bound_socket, running_app
from cleavr_mcp.toolkit.store import audit_rows_in

from .conftest import accept_everything, bench

pytestmark = pytest.mark.anyio

WEBHOOK_SECRET = "whsec_FAKE-WEBHOOK-SECRET-4f1e9a7c"
CONFIRMATION_KEY = "ck_FAKE-CONFIRMATION-KEY-8d2b6e0f31a7"
BEARER = "mcp_FAKE-BEARER-TOKEN-c0ffee1234567890"
REQUEST_STATE_KEY = "rsk_FAKE-REQUEST-STATE-KEY-0123456789abcdef0123"


def variants(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), base64.b64encode(secret.encode()).decode().rstrip("=")}


def leaks(text: str, secrets: dict[str, str]) -> list[str]:
    return [name for name, secret in secrets.items() for v in variants(secret) if v and v in text]


async def test_no_secret_in_logs_results_answers_or_audit(tmp_path: Path, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, every level
    sandbox_config = SandboxConfig(db_path=tmp_path / "sandbox.sqlite3", fault_seed=7)
    observed: list[str] = []  # everything a user, a log reader or an auditor could see

    with running_sandbox(sandbox_config) as api_url:
        client_id, client_secret = sandbox_credentials(sandbox_config.db_path)
        async with httpx2.AsyncClient(timeout=30) as http:
            tokens = await sandbox_access_token(http, api_url, client_id, client_secret)
        secrets = {
            "client_secret": client_secret, "access_token": tokens["access_token"],
            "refresh_token": tokens["refresh_token"], "webhook_secret": WEBHOOK_SECRET,
            "confirmation_key": CONFIRMATION_KEY, "bearer": BEARER, "request_state_key": REQUEST_STATE_KEY,
            "cleverinvo_api_key": sandbox_api_key(sandbox_config.db_path),
            "basic_auth": base64.b64encode(f"{client_id}:{client_secret}".encode()).decode(),
        }
        sock, port = bound_socket()
        settings = Settings(
            _env_file=None, data_dir=tmp_path / "data", base_url=api_url, client_id=client_id,
            client_secret=client_secret, access_token=tokens["access_token"], refresh_token=tokens["refresh_token"],
            webhook_secret=WEBHOOK_SECRET, confirmation_key=CONFIRMATION_KEY, auth_tokens=[BEARER],
            request_state_keys=[REQUEST_STATE_KEY], cleverinvo_base_url=f"{api_url}/cleverinvo/api/v1",
            cleverinvo_api_key=secrets["cleverinvo_api_key"], http_port=port, max_retries=2,
            confirm_channel="model-token")  # the token flow below is the model-token opt-in
        admin = SandboxAdmin(db_path=sandbox_config.db_path, base_url=api_url)
        app = build_http_app(build_server(settings), settings)
        with running_app(app, sock) as base:
            url = f"{base}/mcp"
            demo = bench_demo(sandbox_config.db_path)

            async def session(mode: str, *, elicit: bool) -> None:
                async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {BEARER}"}, timeout=60) as h:
                    kwargs: dict[str, Any] = {"mode": mode}
                    if elicit:
                        kwargs["elicitation_callback"] = accept_everything
                    async with Client(streamable_http_client(url, http_client=h), **kwargs) as c:
                        async def call(tool: str, args: dict) -> Any:
                            result = await c.call_tool(tool, args)
                            observed.append(json.dumps(result.model_dump(mode="json"), ensure_ascii=False))
                            return result

                        observed.append(json.dumps([t.model_dump(mode="json") for t in (await c.list_tools()).tools]))
                        created = await call("submit_receivable", {"receivable": bench.receivable_args(demo, f"SEC-{mode}")})
                        rec_id = ((created.structured_content or {}).get("receivable") or {}).get("id")
                        if rec_id:
                            await call("get_receivable", {"receivable_id": rec_id})
                        await call("get_receivable", {"receivable_id": "rec_doesnotexist00"})
                        await call("list_receivables", {"user_id": demo})
                        await call("quote_commission", {"amount": "-1", "days_overdue": 3})
                        await call("create_user", {"user": {"email": "not-an-email"}})
                        overdue = await call("list_overdue_invoices", {"min_days_overdue": 0})
                        rows = (overdue.structured_content or {}).get("recoverable", [])
                        if rows:
                            await call("recover_invoice", {"invoice_id": rows[-1]["invoice_id"], "user_id": demo})
                        await call("list_events", {})
                        # Access token expired at the API: the client refreshes with the refresh token + secret.
                        await admin.post("/sandbox/tokens/expire", {"all": True})
                        admin.token = None  # the admin's own token expired too
                        await call("list_receivables", {"user_id": demo, "limit": 1})
                        # Faults: errors carry request ids and hints, never credentials.
                        await put_faults(admin, {"fault_5xx_rate": 0.5, "fault_drop_rate": 0.3,
                                                 "retry_after_seconds": 0, "fault_seed": 3})
                        for i in range(4):
                            await call("submit_receivable", {"receivable": bench.receivable_args(demo, f"SEC-F{mode}{i}")})
                        await put_faults(admin, {})

            await session("auto", elicit=True)  # 2026-07-28, elicitation through request_state
            await session("legacy", elicit=False)  # 2025-11-25, token flow (confirmation tokens)

            async with httpx2.AsyncClient(timeout=30) as raw:
                # A wrong bearer token, and webhooks: signed, unsigned, wrongly signed.
                bad = await raw.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"},
                                     headers={"Authorization": "Bearer wrong-token", "Accept": "application/json"})
                observed.append(f"{bad.status_code} {bad.headers} {bad.text}")
                body = json.dumps({"id": "evt_secret0001", "type": "receivable.paid", "created_at": "2026-01-01T00:00:00Z",
                                   "data": {"receivable_id": "rec_x"}}).encode()
                for signature in (sign(WEBHOOK_SECRET, body), None, sign("another-secret", body)):
                    headers = {"Content-Type": "application/json"}
                    if signature:
                        headers["Cleavr-Signature"] = signature
                    answer = await raw.post(f"{base}/webhooks/cleavr", content=body, headers=headers)
                    observed.append(f"{answer.status_code} {answer.headers} {answer.text}")
        await admin.aclose()
        await anyio.sleep(0)

    audit = [json.dumps(row.as_dict(), default=str) for row in audit_rows_in(tmp_path / "data" / "server.sqlite3")]
    assert len(audit) >= 4 and any('"outcome": "done"' in row for row in audit), audit

    records = caplog.records
    assert len(records) > 50  # the flows above really logged (requests, retries, refusals)
    log_text = "\n".join(
        f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in records)
    found = {
        "logs": leaks(log_text, secrets),
        "tool results": leaks("\n".join(observed), secrets),
        "audit": leaks("\n".join(audit), secrets),
    }
    assert found == {"logs": [], "tool results": [], "audit": []}, found
    assert "basic_auth" in leaks(f"Authorization: Basic {secrets['basic_auth']}", secrets)  # the detector works
    # The flows did reach the places a leak would show: auth refresh, faults, webhooks, errors.
    everything = "\n".join(observed)
    assert "rec_doesnotexist00" in everything and "confirmation_required" in everything  # token flow ran
    assert '"status": "done"' in everything and "CleverInvo" in everything  # writes and CleverInvo ran
    assert any("401" in o for o in observed) and any(o.startswith("200") for o in observed)


async def put_faults(admin: SandboxAdmin, body: dict) -> None:
    resp = await admin.http.put("/sandbox/faults", json=body, headers=await admin.headers())
    assert resp.status_code == 200, resp.text


def bench_demo(db_path: Path) -> str:
    from cleavr_mcp.sandbox.testing import demo_user_id

    return demo_user_id(db_path)
