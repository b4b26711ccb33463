"""The MCP Bundle's manifest: it declares every tool and prompt, and every setting reaches the server.

(CI's bundle check, .ci/bundle_check.py, also compares the packed manifest with tools/list of the server the bundle
starts.)"""

from __future__ import annotations

import importlib.util
import os
import re
import struct
from pathlib import Path

import pytest

from cleavr_mcp.config import Settings

MCPB = Path(__file__).resolve().parents[2] / "mcpb"
SETTING = re.compile(r"^\$\{user_config\.([a-z_]+)\}$")


def load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bundle = load("cleavr_mcp_bundle_build", MCPB / "bundle.py")
launcher = load("cleavr_mcp_bundle_launcher", MCPB / "server" / "main.py")
MANIFEST = bundle.manifest()


def test_declares_every_registered_tool_and_every_prompt():
    from cleavr_mcp.tools import all_tools

    registry = all_tools()
    assert [t["name"] for t in MANIFEST["tools"]] == sorted(registry)  # the bundle's default: the sandbox, all tools
    for tool in MANIFEST["tools"]:
        described = " ".join(registry[tool["name"]].description.split())
        assert tool["description"] and described.startswith(tool["description"]), tool
    prompts = {p["name"] for p in MANIFEST["prompts"]}
    assert prompts == {"submit_invoice_pdf", "recover_overdue_invoices", "onboard_creditor", "handle_dispute",
                       "review_portfolio"}
    for prompt in MANIFEST["prompts"]:  # the spec's placeholders, one per argument
        assert prompt["text"] and all(f"${{arguments.{a}}}" in prompt["text"] for a in prompt["arguments"]), prompt
    assert MANIFEST["tools_generated"] is False and MANIFEST["prompts_generated"] is False


def test_spec_version_server_type_and_metadata():
    assert MANIFEST["manifest_version"] == "0.4" and MANIFEST["server"]["type"] == "uv"
    assert MANIFEST["version"] == bundle.project()["version"]
    assert MANIFEST["compatibility"]["runtimes"]["python"] == bundle.project()["requires-python"]
    for key in ("display_name", "description", "author", "license", "keywords", "icon"):
        assert MANIFEST[key], key
    png = (MCPB / MANIFEST["icon"]).read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24]) == (512, 512)


def test_every_setting_is_passed_to_the_server_under_a_real_setting_name():
    config = MANIFEST["server"]["mcp_config"]
    by_env = {env: SETTING.match(value).group(1) for env, value in config["env"].items()}
    in_args = [SETTING.match(a).group(1) for a in config["args"] if SETTING.match(a)]
    assert sorted([*by_env.values(), *in_args]) == sorted(MANIFEST["user_config"]), "a setting reaches nothing"
    assert in_args == ["allowed_folders"]  # several folders: expanded into arguments, see mcpb/server/main.py
    fields = set(Settings.model_fields)
    # The confirmation channel is a setting of the approvals work; until it lands the server ignores it.
    pending = {"CLEAVR_MCP_CONFIRM_CHANNEL"} - {f"CLEAVR_MCP_{f.upper()}" for f in fields}
    for env in by_env:
        assert env.startswith("CLEAVR_MCP_")
        assert env.removeprefix("CLEAVR_MCP_").lower() in fields or env in pending, f"{env} is not a setting"


def test_settings_kinds_secrets_and_defaults():
    options = MANIFEST["user_config"]
    assert options["client_secret"]["sensitive"] and options["cleverinvo_api_key"]["sensitive"]
    assert not options["client_id"].get("sensitive")
    assert options["allowed_folders"]["type"] == "directory" and options["allowed_folders"]["multiple"]
    assert options["allow_live_writes"] == {**options["allow_live_writes"], "type": "boolean", "default": False}
    assert options["confirm_channel"]["type"] == "string" and options["confirm_channel"]["default"] == "auto"


def test_launcher_turns_the_chosen_folders_into_allowed_roots_and_drops_empty_settings(tmp_path, monkeypatch):
    a, b = tmp_path / "Invoices, 2026", tmp_path / "Évidence"  # a comma and an accent survive the JSON list
    env = launcher.server_environment([str(a), str(b)], {
        "PATH": "/usr/bin", "CLEAVR_MCP_CLIENT_ID": "", "CLEAVR_MCP_CLIENT_SECRET": "${user_config.client_secret}",
        "CLEAVR_MCP_ALLOW_LIVE_WRITES": "false", "CLEAVR_MCP_DATA_DIR": str(tmp_path / "data")})
    assert env["PATH"] == "/usr/bin"
    assert "CLEAVR_MCP_CLIENT_ID" not in env and "CLEAVR_MCP_CLIENT_SECRET" not in env
    for key in list(os.environ):
        if key.startswith("CLEAVR_MCP_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    settings = Settings(_env_file=None)
    assert settings.allowed_roots == [a, b]
    assert settings.client_id is None and settings.client_secret is None and settings.allow_live_writes is False


@pytest.mark.parametrize("folders", [[], ["${user_config.allowed_folders}"], [""]])
def test_launcher_without_folders_sets_none(folders):
    assert "CLEAVR_MCP_ALLOWED_ROOTS" not in launcher.server_environment(folders, {})
