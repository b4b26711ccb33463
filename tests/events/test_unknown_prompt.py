"""An unknown prompt is the caller's mistake: -32602 with the known names, in both protocol eras."""

import pytest
from mcp import Client, MCPError
from mcp_types import INVALID_PARAMS

from cleavr_mcp.config import Settings
from cleavr_mcp.server.app import build_server

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_unknown_prompt_is_invalid_params(tmp_path, mode):
    server = build_server(Settings(_env_file=None, data_dir=tmp_path, base_url="http://127.0.0.1:9"))
    async with Client(server, mode=mode) as client:
        with pytest.raises(MCPError) as exc:
            await client.get_prompt("no_such_prompt", {})
        assert exc.value.error.code == INVALID_PARAMS
        assert "handle_dispute" in exc.value.error.message
        prompt = await client.get_prompt("onboard_creditor", {"email": "a@b.fr", "company_name": "Acme"})
    assert prompt.messages
