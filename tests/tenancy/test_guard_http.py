"""The guard over real HTTP with a principals file: a creditor created by a create_users principal is granted to
it (and to nobody else), another creditor's receivable is answered as a missing one, the audit names the
principal. (The approval page's sign-in is bound to the principal by helper signin's codes / OIDC.)"""

from __future__ import annotations

import pytest

from cleavr_mcp.server.auth import hash_token
from cleavr_mcp.storage import SQLITE_FILENAME
from cleavr_mcp.testing import demo_user, embedded_admin
from cleavr_mcp.toolkit.store import audit_rows_in
from tests.deploy.conftest import HttpMCP, mcp_http_server
from tests.server.test_tenancy_scope import new_receivable

pytestmark = pytest.mark.anyio

ALPHA, BRAVO, CHARLIE = "alpha-token-for-guard-tests", "bravo-token-for-guard-tests", "charlie-token-for-guard"


def principals(a_user: str) -> str:
    return f"""
[[principals]]
name = "alpha"
token_sha256 = "{hash_token(ALPHA)}"
user_ids = ["{a_user}"]

[[principals]]
name = "bravo"
token_sha256 = "{hash_token(BRAVO)}"
user_ids = []
create_users = true

[[principals]]
name = "charlie"
token_sha256 = "{hash_token(CHARLIE)}"
user_ids = []
create_users = true
"""


def text(result) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)


async def test_guard_over_http(tmp_path):
    from cleavr_mcp.config import Settings
    from cleavr_mcp.server.app import sandbox_demo_user

    path = tmp_path / "principals.toml"
    seed = Settings(_env_file=None, data_dir=tmp_path / "data")
    path.write_text(principals(sandbox_demo_user(seed)))  # seeds the sandbox: the demo creditor is alpha's
    with mcp_http_server(tmp_path, principals_file=path, base_url=None) as (url, settings):
        a_user = demo_user(settings)
        admin = embedded_admin(settings)
        try:
            rec_a = await new_receivable(admin, a_user, "INV-HTTP-A", "321.00", "Alpha Debtor SARL")
        finally:
            await admin.aclose()
        async with HttpMCP(url, {"Authorization": f"Bearer {BRAVO}"}) as bravo:
            created = await bravo.call_tool("create_user", {"user": {"email": "new-creditor@bravo.example"}})
            assert not created.is_error, created.content
            b_user = created.structured_content["user_id"]
            mine = await bravo.call_tool("get_user_status", {"user_id": b_user})  # granted on creation
            foreign = await bravo.call_tool("get_receivable", {"receivable_id": rec_a})
            missing = await bravo.call_tool("get_receivable", {"receivable_id": "rec_doesnotexist"})
            theirs = await bravo.call_tool("get_user_status", {"user_id": a_user})
            # The same details as an existing creditor of another principal: refused, without its id or link.
            await_alpha = await bravo.call_tool("create_user", {"user": {"email": "new-creditor@bravo.example"}})
        assert not mine.is_error, mine.content
        assert text(foreign).replace(rec_a, "X") == text(missing).replace("rec_doesnotexist", "X")
        assert "NOT_FOUND" in text(foreign) and "Alpha Debtor" not in text(foreign) and "321" not in text(foreign)
        assert theirs.is_error and "NOT_FOUND" in text(theirs)
        assert not await_alpha.is_error  # its own creditor, created again: the same user, still its own
        async with HttpMCP(url, {"Authorization": f"Bearer {ALPHA}"}) as alpha:
            own = await alpha.call_tool("get_receivable", {"receivable_id": rec_a})
            not_alphas = await alpha.call_tool("get_user_status", {"user_id": b_user})
            replay = await alpha.call_tool("create_user", {"user": {"email": "new-creditor@bravo.example"}})
        assert not own.is_error and "Alpha Debtor" in text(own)
        assert not_alphas.is_error and "NOT_FOUND" in text(not_alphas)
        assert replay.is_error and "TOOL_NOT_ALLOWED" in text(replay)  # alpha may not create creditors at all
        async with HttpMCP(url, {"Authorization": f"Bearer {CHARLIE}"}) as charlie:
            same_details = await charlie.call_tool("create_user", {"user": {"email": "new-creditor@bravo.example"}})
            after = await charlie.call_tool("get_user_status", {"user_id": b_user})
        assert same_details.is_error and "USER_EXISTS" in text(same_details)
        assert b_user not in text(same_details) and "onboard" not in text(same_details).split("Next step")[0]
        assert after.is_error and "NOT_FOUND" in text(after)  # not granted to charlie
        rows = audit_rows_in(settings.data_dir / SQLITE_FILENAME)
    by_principal = {(r.principal, r.tool, r.error_code) for r in rows}
    assert ("bravo", "get_receivable", "OUT_OF_SCOPE:receivable") in by_principal
    assert ("bravo", "create_user", None) in by_principal and ("alpha", "get_user_status", "OUT_OF_SCOPE:user") in \
        by_principal

