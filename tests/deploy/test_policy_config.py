"""Tool policy from CLI flags and environment variables, and HTTP headers that can only narrow it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from mcp import Client

from cleavr_mcp.cli import build_parser
from cleavr_mcp.config import Settings
from cleavr_mcp.server.app import build_server
from cleavr_mcp.server.main import settings_from_args
from cleavr_mcp.toolkit.errors import error_of
from cleavr_mcp.toolkit.registry import Toolset
from cleavr_mcp.tools import all_tools

from .conftest import HttpMCP, make_settings, mcp_http_server

pytestmark = pytest.mark.anyio



def offered_specs() -> dict:
    """The tools this configuration offers at all (a test API host and no CleverInvo: no CleverInvo toolset)."""
    with tempfile.TemporaryDirectory(prefix="cleavr-policy-") as data_dir:  # removed again: nothing left in /tmp
        return build_server(make_settings(Path(data_dir))).specs


SPECS = offered_specs()
READ_TOOLS = {n for n, s in SPECS.items() if s.read_only}
MONEY_TOOLS = {n for n, s in SPECS.items() if s.money}


def serve_settings(argv: list[str], **extra) -> Settings:
    return settings_from_args(build_parser().parse_args(["serve", *argv]), _env_file=None, **extra)


def test_flags_map_onto_settings():
    s = serve_settings(["--transport", "http", "--host", "0.0.0.0", "--port", "9000", "--read-only", "--toolsets",
                        "users, commission", "--tools", "quote_commission,get_user_status", "--exclude-tools",
                        "create_user", "--no-money", "--stateless", "--json-response",
                        "--public-url", "https://mcp.example.com/mcp"])
    assert (s.http_host, s.http_port, s.read_only, s.no_money, s.stateless_http, s.json_response) == (
        "0.0.0.0", 9000, True, True, True, True)
    assert s.toolsets == ["users", "commission"] and s.tools == ["quote_commission", "get_user_status"]
    assert s.exclude_tools == ["create_user"] and s.mcp_url == "https://mcp.example.com/mcp"


def test_no_flags_keep_defaults(monkeypatch):
    for name in ("READ_ONLY", "TOOLSETS", "NO_MONEY", "HTTP_HOST"):
        monkeypatch.delenv(f"CLEAVR_MCP_{name}", raising=False)
    s = serve_settings([])
    assert (s.read_only, s.toolsets, s.tools, s.exclude_tools, s.no_money, s.http_host) == (
        False, None, None, [], False, "127.0.0.1")


@pytest.mark.parametrize(("value", "expected"), [
    ("users,commission", ["users", "commission"]),
    (" users , commission ,", ["users", "commission"]),
    ('["users", "commission"]', ["users", "commission"]),
    ("users", ["users"]),
])
def test_env_lists_are_comma_separated_or_json(monkeypatch, value, expected):
    monkeypatch.setenv("CLEAVR_MCP_TOOLSETS", value)
    monkeypatch.setenv("CLEAVR_MCP_EXCLUDE_TOOLS", value)
    s = Settings(_env_file=None)
    assert s.toolsets == expected and s.exclude_tools == expected


def test_env_lists_of_secrets_and_paths(monkeypatch, tmp_path):
    monkeypatch.setenv("CLEAVR_MCP_AUTH_TOKENS", "tok-a,tok-b")
    monkeypatch.setenv("CLEAVR_MCP_ALLOWED_ROOTS", f"{tmp_path}/a,{tmp_path}/b")
    monkeypatch.setenv("CLEAVR_MCP_ALLOWED_HOSTS", "mcp.example.com,mcp.example.com:443")
    monkeypatch.setenv("CLEAVR_MCP_READ_ONLY", "true")
    monkeypatch.setenv("CLEAVR_MCP_NO_MONEY", "1")
    s = Settings(_env_file=None)
    assert [t.get_secret_value() for t in s.auth_tokens] == ["tok-a", "tok-b"]
    assert "tok-a" not in repr(s)
    assert s.allowed_roots == [tmp_path / "a", tmp_path / "b"]
    assert s.allowed_hosts == ["mcp.example.com", "mcp.example.com:443"]
    assert s.read_only and s.no_money


def test_flags_override_env(monkeypatch):
    monkeypatch.setenv("CLEAVR_MCP_TOOLSETS", "users")
    monkeypatch.setenv("CLEAVR_MCP_HTTP_PORT", "9999")
    assert serve_settings(["--toolsets", "commission"]).toolsets == ["commission"]
    assert serve_settings([]).toolsets == ["users"] and serve_settings([]).http_port == 9999


async def visible(settings: Settings) -> set[str]:
    async with Client(build_server(settings)) as client:
        return {t.name for t in (await client.list_tools()).tools}


@pytest.mark.parametrize(("values", "expected"), [
    ({}, set(SPECS)),
    ({"read_only": True}, READ_TOOLS),
    ({"no_money": True}, set(SPECS) - MONEY_TOOLS),
    ({"toolsets": ["commission"]}, {n for n, s in SPECS.items() if s.toolset.value == "commission"}),
    ({"tools": ["quote_commission", "submit_receivable"], "read_only": True}, {"quote_commission"}),
    ({"exclude_tools": ["quote_commission"]}, set(SPECS) - {"quote_commission"}),
    ({"toolsets": ["receivables"], "no_money": True},
     {n for n, s in SPECS.items() if s.toolset.value == "receivables" and not s.money}),
])
async def test_policy_combinations(tmp_path, values, expected):
    assert await visible(make_settings(tmp_path, **values)) == expected


async def test_money_class_covers_the_documented_tools():
    assert set(SPECS) <= set(all_tools()) and "quote_commission" in SPECS
    assert {"submit_receivable", "submit_receivables_batch", "cancel_receivable", "submit_evidence",
            "handle_partial_payment"} <= MONEY_TOOLS
    assert not MONEY_TOOLS & READ_TOOLS


async def test_hidden_tool_is_refused_by_name(tmp_path):
    async with Client(build_server(make_settings(tmp_path, read_only=True))) as client:
        result = await client.call_tool("create_user", {"user": {"email": "a@b.example"}})
    assert result.is_error and error_of(result)["code"] == "TOOL_NOT_ALLOWED"
    assert "read-only" in error_of(result)["message"]


# --- headers over HTTP ----------------------------------------------------------------------------------------
WIDENING = {
    "x-cleavr-read-only": "false",
    "x-cleavr-no-money": "0",
    "x-cleavr-toolsets": ",".join(t.value for t in Toolset),
    "x-cleavr-tools": ",".join(sorted(SPECS)),
    "x-cleavr-exclude-tools": "",
}


@pytest.fixture(scope="module")
def narrow_server(tmp_path_factory):
    with mcp_http_server(tmp_path_factory.mktemp("narrow"), read_only=True,
                         exclude_tools=["get_receivable"]) as (url, _):
        yield url


@pytest.fixture(scope="module")
def full_server(tmp_path_factory):
    with mcp_http_server(tmp_path_factory.mktemp("full")) as (url, _):
        yield url


async def test_headers_cannot_widen(narrow_server):
    async with HttpMCP(narrow_server, WIDENING) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        result = await client.call_tool("cancel_receivable", {"receivable_id": "rec_x", "reason": "paid_directly"})
    assert names == READ_TOOLS - {"get_receivable"}
    assert result.is_error and error_of(result)["code"] == "TOOL_NOT_ALLOWED"


@pytest.mark.parametrize(("headers", "expected"), [
    ({"x-cleavr-read-only": "true"}, READ_TOOLS),
    ({"x-cleavr-no-money": "yes"}, set(SPECS) - MONEY_TOOLS),
    ({"x-cleavr-toolsets": "commission"}, {n for n, s in SPECS.items() if s.toolset.value == "commission"}),
    ({"x-cleavr-tools": "quote_commission,get_user_status"}, {"quote_commission", "get_user_status"}),
    ({"x-cleavr-exclude-tools": "quote_commission"}, set(SPECS) - {"quote_commission"}),
    ({"X-Cleavr-Read-Only": "1", "x-cleavr-tools": "quote_commission,create_user"}, {"quote_commission"}),
])
async def test_headers_narrow(full_server, headers, expected):
    async with HttpMCP(full_server, headers) as client:
        assert {t.name for t in (await client.list_tools()).tools} == expected


async def test_header_hidden_tool_is_refused_before_any_api_call(full_server):
    async with HttpMCP(full_server, {"x-cleavr-read-only": "true"}) as client:
        result = await client.call_tool("create_user", {"user": {"email": "a@b.example"}})
    # TOOL_NOT_ALLOWED, not a transport error: the (unreachable) API was never called.
    assert result.is_error and error_of(result)["code"] == "TOOL_NOT_ALLOWED"
    assert "read-only" in error_of(result)["message"]


def test_collecting_this_module_leaves_no_temporary_folder(tmp_path):
    import subprocess
    import sys

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEAVR_MCP_")}
    subprocess.run([sys.executable, "-c", "import tests.deploy.test_policy_config"], cwd=Path(__file__).resolve().parents[2],
                   env={**env, "TMPDIR": str(tmp)}, check=True, timeout=120)
    assert list(tmp.iterdir()) == []
