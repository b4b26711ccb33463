"""A confirmation token the server did not issue — non-ASCII, look-alike, oversized — is refused as forged
(CONFIRMATION_INVALID, an isError result naming the field) and audited; it never crashes the tool."""

from __future__ import annotations

import pytest
from mcp import Client

from cleavr_mcp.config import Settings
from cleavr_mcp.server.app import build_server
from cleavr_mcp.toolkit.errors import error_of
from tests.deploy.conftest import audit_rows

from .conftest import demo_user, submission

pytestmark = pytest.mark.anyio


@pytest.fixture
def token_settings(tmp_path) -> Settings:
    # The model-carried token flow, enabled explicitly (it is opt-in on servers that have the setting).
    return Settings(_env_file=None, data_dir=tmp_path / "data", confirm_channel="model-token", fail_closed=False)


def _forgeries(real: str) -> dict[str, str]:
    prefix, body, mac = real.split(".")
    return {
        "non-ascii-mac": f"{prefix}.{body}.{mac[:-1]}é",
        "emoji": f"{prefix}.{body}.{mac}😀",
        "full-width-dots": f"{prefix}．{body}．{mac}",
        "cyrillic-prefix": f"сmc1.{body}.{mac}",
        "zero-width-inside": f"{prefix}.{body}\u200b.{mac}",
        "nul": f"{prefix}.{body}.{mac}\x00",
        "latin1-body": f"{prefix}.{body[:-1]}ÿ.{mac}",
        "oversized": f"{prefix}.{'A' * 100_000}.{mac}",
        "four-parts": f"{real}.x",
        "empty": "",
        "other-key-shape": f"{prefix}.{body}.{'A' * len(mac)}",
    }


FORGERY_NAMES = sorted(_forgeries("cmc1.a.b"))


@pytest.mark.parametrize("name", FORGERY_NAMES)
async def test_a_forged_token_is_refused_and_audited(token_settings, name):
    server = build_server(token_settings)
    body = submission(demo_user(token_settings))
    async with Client(server, mode="legacy") as c:  # no elicitation: the token flow
        first = await c.call_tool("submit_receivable", {"receivable": body})
        assert first.structured_content["status"] == "confirmation_required", first.content
        real = first.structured_content["confirmation"]["confirmation_token"]
        forged = await c.call_tool("submit_receivable", {"receivable": body,
                                                         "confirmation_token": _forgeries(real)[name]})
        still_valid = await c.call_tool("submit_receivable", {"receivable": body, "confirmation_token": real})
    assert forged.is_error, forged.content
    error = error_of(forged)
    assert error["code"] in {"CONFIRMATION_INVALID", "VALIDATION_ERROR"}, error
    assert error["field"] == "confirmation_token"
    if error["code"] == "CONFIRMATION_INVALID":
        assert "(forged)" in error["message"] or "(malformed)" in error["message"]
        refused = [r for r in audit_rows(token_settings) if r.outcome == "refused"]
        assert [r.error_code for r in refused] in (["TOKEN_FORGED"], ["TOKEN_MALFORMED"])
    assert not still_valid.is_error and still_valid.structured_content["status"] == "done"
