"""The environment is decided by the parsed, normalised host, fail-safe: the documented test host is `test`, the
embedded or a loopback sandbox is `sandbox`, anything else is `live` — so every spelling of the live host needs
the live-write opt-in."""

from __future__ import annotations

import pytest
from mcp import Client

from cleavr_mcp.config import Environment, Settings
from cleavr_mcp.server.app import build_server
from cleavr_mcp.testing import Human, submission
from cleavr_mcp.toolkit.errors import error_of

LIVE_SPELLINGS = [
    "https://api.cleavr.fr", "https://api.cleavr.fr.", "https://api.cleavr.fr..", "https://API.CLEAVR.FR",
    "https://Api.Cleavr.Fr./", "https://api.cleavr.fr:443", "https://api.cleavr.fr.:443/v1", "http://api.cleavr.fr",
    "https://user:pass@api.cleavr.fr", "https://api-test.cleavr.fr@api.cleavr.fr", "https://127.0.0.1@api.cleavr.fr",
    "https://api.cleavr.fr@127.0.0.1", "https://api.cleavr.fr\\@127.0.0.1", " https://api.cleavr.fr ",
    "https://api.cleavr.fr#@api-test.cleavr.fr", "https://api-test.cleavr.fr.evil.example",
    "https://staging.cleavr.fr", "https://cleavr-proxy.internal", "https://192.168.1.20:8080", "not a url",
    "https://xn--api-test-9ya.cleavr.fr",
]
TEST_SPELLINGS = ["https://api-test.cleavr.fr", "https://api-test.cleavr.fr.", "https://API-TEST.cleavr.fr:443/",
                  "http://api-test.cleavr.fr:8443"]
SANDBOX_SPELLINGS = [None, "http://127.0.0.1:8080", "http://localhost:8080", "http://[::1]:8080",
                     "http://127.0.0.2:9", "http://LOCALHOST.:8080"]


@pytest.mark.parametrize("url", LIVE_SPELLINGS)
def test_every_other_host_is_live(url):
    assert Settings(_env_file=None, base_url=url).environment is Environment.LIVE


@pytest.mark.parametrize("url", TEST_SPELLINGS)
def test_the_documented_test_host_is_test(url):
    assert Settings(_env_file=None, base_url=url).environment is Environment.TEST


@pytest.mark.parametrize("url", SANDBOX_SPELLINGS)
def test_the_embedded_or_a_local_sandbox_is_sandbox(url):
    assert Settings(_env_file=None, base_url=url).environment is Environment.SANDBOX


@pytest.mark.anyio
@pytest.mark.parametrize("url", ["https://api.cleavr.fr.", "https://API.cleavr.fr:443", "https://x@api.cleavr.fr"])
async def test_a_write_to_a_respelled_live_host_is_refused_without_the_opt_in(tmp_path, url):
    settings = Settings(_env_file=None, data_dir=tmp_path, base_url=url, access_token="t", client_id="c")
    human = Human()
    async with Client(build_server(settings), elicitation_callback=human) as client:
        result = await client.call_tool("submit_receivable", {"receivable": submission("usr_clv_a1b2c3d4e5f6")})
    assert result.is_error and error_of(result)["code"] == "LIVE_WRITES_DISABLED", result.content
    assert error_of(result)["environment"] == "live" and human.asked == []
