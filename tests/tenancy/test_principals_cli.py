"""`cleavr-mcp auth new-token --principal`, `audit --principal` and doctor's tenancy warnings."""

from __future__ import annotations

import json
import re

import pytest

from cleavr_mcp.cli import main
from cleavr_mcp.server.auth import hash_token
from cleavr_mcp.server.principals import read_principals_file

EXISTING = """# our platform's customers
[[principals]]
name = "acme"   # the first customer
token_sha256 = "{digest}"
user_ids = ["usr_clv_acme"]
"""


@pytest.fixture
def env(tmp_path, monkeypatch):
    path = tmp_path / "principals.toml"
    monkeypatch.setenv("CLEAVR_MCP_PRINCIPALS_FILE", str(path))
    monkeypatch.setenv("CLEAVR_MCP_DATA_DIR", str(tmp_path / "data"))
    for name in ("CLEAVR_MCP_AUTH_TOKENS", "CLEAVR_MCP_AUTH_TOKEN_HASHES", "CLEAVR_MCP_JWKS_URL"):
        monkeypatch.delenv(name, raising=False)
    return path


def printed_token(out: str) -> str:
    return re.search(r"shown once\):\s+(\S+)", out).group(1)


def test_new_token_for_a_new_principal_writes_only_the_hash(env, capsys):
    assert main(["auth", "new-token", "--principal", "bravo", "--user-id", "usr_clv_b1", "--user-id", "usr_clv_b2",
                 "--read-only", "--no-money"]) == 0
    token = printed_token(capsys.readouterr().out)
    text = env.read_text()
    assert token not in text and hash_token(token) in text
    entry = read_principals_file(env)[0].by_name()["bravo"]
    assert entry.token_sha256 == hash_token(token)
    assert entry.principal.user_ids == {"usr_clv_b1", "usr_clv_b2"} and entry.principal.read_only
    assert entry.principal.no_money and not entry.principal.create_users
    assert oct(env.stat().st_mode & 0o777) == "0o600"


def test_new_token_keeps_the_other_entries_and_the_comments(env, capsys):
    env.write_text(EXISTING.format(digest=hash_token("acme-old")))
    assert main(["auth", "new-token", "--principal", "bravo", "--create-users"]) == 0
    bravo_token = printed_token(capsys.readouterr().out)
    assert main(["auth", "new-token", "--principal", "acme"]) == 0  # a new token for acme: the old one stops
    acme_token = printed_token(capsys.readouterr().out)
    text = env.read_text()
    assert "# our platform's customers" in text and "# the first customer" in text
    parsed = read_principals_file(env)[0].by_name()
    assert parsed["acme"].token_sha256 == hash_token(acme_token) and hash_token("acme-old") not in text
    assert parsed["acme"].principal.user_ids == {"usr_clv_acme"}  # kept
    assert parsed["bravo"].token_sha256 == hash_token(bravo_token) and parsed["bravo"].principal.create_users
    assert parsed["bravo"].principal.user_ids == frozenset()


@pytest.mark.parametrize("argv, says", [
    (["--principal", "new-one"], "--user-id"),
    (["--principal", "x", "--user-id", "*", "--user-id", "usr_clv_a"], '"*"'),
    (["--principal", "x", "--user-id", "usr_clv_\u0430"], "not a Cleavr user id"),
    (["--principal", "local", "--user-id", "usr_clv_a"], "reserved"),
    (["--user-id", "usr_clv_a"], "--principal"),
])
def test_new_token_refuses_what_the_server_would_refuse(env, capsys, argv, says):
    env.write_text(EXISTING.format(digest=hash_token("acme-old")))
    before = env.read_text()
    assert main(["auth", "new-token", *argv]) == 2
    captured = capsys.readouterr()
    assert says in captured.err and "shown once" not in captured.out
    assert env.read_text() == before


def test_new_token_does_not_edit_a_broken_file(env, capsys):
    env.write_text('[[principals]]\nname = "a"\ntoken_sha256 = "nope"\nuser_ids = []\n')
    assert main(["auth", "new-token", "--principal", "b", "--user-id", "usr_clv_b"]) == 2
    assert "`token_sha256`" in capsys.readouterr().err


def test_new_token_without_principal_is_unchanged(env, capsys):
    assert main(["auth", "new-token"]) == 0
    out = capsys.readouterr().out
    assert "CLEAVR_MCP_AUTH_TOKEN_HASHES=" in out and not env.exists()


def test_audit_by_principal(env, tmp_path, capsys):
    from cleavr_mcp.domain.tenancy import Principal, acting_as
    from cleavr_mcp.storage import SQLITE_FILENAME, open_database, run_blocking
    from cleavr_mcp.toolkit.store import ServerStore

    (tmp_path / "data").mkdir()

    async def write() -> None:
        store = ServerStore(open_database(f"sqlite:///{tmp_path / 'data' / SQLITE_FILENAME}"))
        try:
            for name in ("acme", "bravo", "acme"):
                with acting_as(Principal(name=name, user_ids=frozenset())):
                    await store.append_audit(tool=f"tool-of-{name}", environment="sandbox", user_id=None,
                                             payload_sha256="0" * 64, confirmed_by="none", outcome="refused")
        finally:
            await store.close()

    run_blocking(write)
    assert main(["audit", "--principal", "acme", "--json"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["principal"] for r in rows] == ["acme", "acme"] and {r["tool"] for r in rows} == {"tool-of-acme"}
    assert main(["audit", "--principal", "bravo"]) == 0
    table = capsys.readouterr().out
    assert "tool-of-bravo" in table and "tool-of-acme" not in table


def test_doctor_warns_about_all_creditor_callers_on_a_public_bind(tmp_path):
    from cleavr_mcp.commands.doctor import _http
    from cleavr_mcp.config import Settings

    base = dict(_env_file=None, data_dir=tmp_path, http_host="0.0.0.0")
    legacy = _http(Settings(**base, auth_tokens=["t1"]))
    assert any(c.status == "warn" and "act for every creditor" in c.detail for c in legacy)
    path = tmp_path / "p.toml"
    path.write_text(EXISTING.format(digest=hash_token("x")))
    scoped = _http(Settings(**base, principals_file=path))
    assert not [c for c in scoped if c.status != "ok"], scoped
    jwt_only = _http(Settings(**base, jwks_url="http://127.0.0.1:9/jwks", jwt_issuer="i", jwt_audience="a"))
    assert any(c.status == "warn" and "every valid JWT" in c.detail for c in jwt_only)
    loopback = _http(Settings(_env_file=None, data_dir=tmp_path, auth_tokens=["t1"]))
    assert not [c for c in loopback if c.status == "warn"]
