"""The audit log from real tool calls (in-memory MCP client → server → sandbox over HTTP), and `cleavr-mcp audit`."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from mcp import Client

from cleavr_mcp.cli import main
from cleavr_mcp.commands.audit import parse_since
from cleavr_mcp.server.app import build_server
from cleavr_mcp.toolkit.errors import error_of

from .conftest import Human, audit_rows, submission

pytestmark = pytest.mark.anyio

CONFIRMATION_KEY = "audit-test-confirmation-key-0123456789"


@pytest.fixture
def settings(sandbox, tmp_path):
    return sandbox.api_settings(tmp_path, confirmation_key=CONFIRMATION_KEY)


def sc(result) -> dict:
    return result.structured_content


def new_user(email: str, name: str = "Atelier Dupont") -> dict:
    return {"email": email, "company": {"name": name}}


async def test_audit_rows_for_every_kind_of_write(sandbox, settings, tmp_path, monkeypatch, capsys):
    server = build_server(settings.model_copy(update={"confirm_channel": "model-token"}))  # 7-9: the opt-in
    confirmed = submission(sandbox.demo_user)
    declined = submission(sandbox.demo_user)
    by_token = submission(sandbox.demo_user)
    clash = submission(sandbox.demo_user, number=confirmed["invoice"]["numbers"][0], amount="2400.00")
    clash["invoice"].update(amount_before_tax="2000.00", tax_amount="400.00")
    email = f"owner-{uuid.uuid4().hex[:6]}@creditor.example"
    minted: list[str] = []

    async with Client(server, elicitation_callback=Human()) as client:
        ok = await client.call_tool("submit_receivable", {"receivable": confirmed})  # 1 done (elicitation)
        again = await client.call_tool("submit_receivable", {"receivable": confirmed})  # 2 done, replayed
        failed = await client.call_tool("submit_receivable", {"receivable": clash})  # 3 failed (API 409)
        user = await client.call_tool("create_user", {"user": new_user(email)})  # 4 done (no confirmation)
        exists = await client.call_tool("create_user", {"user": new_user(email, "Other name")})  # 5 failed
    async with Client(server, elicitation_callback=Human(action="decline")) as client:
        no = await client.call_tool("submit_receivable", {"receivable": declined})  # 6 refused (declined)
    async with Client(server) as client:  # cannot elicit: the token flow (model-token opt-in)
        asked = await client.call_tool("submit_receivable", {"receivable": by_token})  # 7 confirmation_required
        token = sc(asked)["confirmation"]["confirmation_token"]
        minted.append(token)
        done = await client.call_tool("submit_receivable", {"receivable": by_token, "confirmation_token": token})  # 8
        replay = await client.call_tool("submit_receivable", {"receivable": by_token, "confirmation_token": token})  # 9

    assert sc(ok)["status"] == "done" and not sc(ok)["idempotent_replay"]
    assert sc(again)["status"] == "done" and sc(again)["idempotent_replay"]
    assert failed.is_error and not user.is_error and exists.is_error and error_of(exists)["code"] == "USER_EXISTS"
    assert sc(no)["status"] == "declined" and sc(done)["status"] == "done"
    assert replay.is_error and error_of(replay)["code"] == "CONFIRMATION_INVALID"
    # Every write outcome says which environment it ran against.
    for result in (ok, again, user, no, asked, done):
        assert sc(result)["environment"] == "sandbox"

    rows = audit_rows(settings)
    summary = [(r.tool, r.confirmed_by, r.outcome, r.replayed, r.error_code) for r in rows]
    assert summary == [
        ("submit_receivable", "elicitation", "done", False, None),
        ("submit_receivable", "elicitation", "done", True, None),
        ("submit_receivable", "elicitation", "failed", False, error_of(failed)["code"]),
        ("create_user", "not_required", "done", False, None),
        ("create_user", "not_required", "failed", False, "USER_EXISTS"),
        ("submit_receivable", "elicitation", "refused", False, "DECLINED"),
        ("submit_receivable", "model-token", "confirmation_required", False, None),
        ("submit_receivable", "model-token", "done", False, None),
        ("submit_receivable", "model-token", "refused", False, "TOKEN_REPLAYED"),
    ]
    assert error_of(failed)["code"] in {"IDEMPOTENCY_KEY_REUSED", "DUPLICATE_RECEIVABLE"}
    assert rows[0].result_id == rows[1].result_id == sc(ok)["receivable"]["id"]
    assert rows[3].result_id == sc(user)["user_id"]
    assert rows[7].result_id == sc(done)["receivable"]["id"]
    assert {r.environment for r in rows} == {"sandbox"}
    assert {r.user_id for r in rows if r.tool == "submit_receivable"} == {sandbox.demo_user}
    assert all(len(r.payload_sha256) == 64 for r in rows)
    assert rows[6].payload_sha256 == rows[7].payload_sha256  # the token covered exactly the payload executed
    assert [r.seq for r in rows] == sorted(r.seq for r in rows)

    # No secrets and no documents: neither in the rows nor anywhere in the SQLite files.
    secrets = [settings.client_secret.get_secret_value(), settings.access_token.get_secret_value(),
               settings.refresh_token.get_secret_value(), CONFIRMATION_KEY, *minted]
    document_bits = ["Debtor Corp", "compta@debtor.example", "+33612345678", "06 12 34 56 78", "Consulting",
                     confirmed["invoice"]["numbers"][0], email, "Atelier Dupont", "1 rue de la Paix"]
    text = json.dumps([r.as_dict() for r in rows])
    raw = b"".join(p.read_bytes() for p in settings.data_dir.glob("server.sqlite3*"))
    for needle in secrets + document_bits:
        assert needle not in text, needle
        assert needle.encode() not in raw, needle

    # The CLI reads the same rows.
    monkeypatch.setenv("CLEAVR_MCP_DATA_DIR", str(settings.data_dir))
    capsys.readouterr()
    assert main(["audit", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(d["tool"], d["outcome"], d["replayed"]) for d in lines] == [(s[0], s[2], s[3]) for s in summary]
    assert lines[0]["at"].endswith("Z") and lines[0]["payload_sha256"] == rows[0].payload_sha256

    assert main(["audit", "--json", "--tool", "create_user"]) == 0
    assert [json.loads(x)["outcome"] for x in capsys.readouterr().out.splitlines()] == ["done", "failed"]
    assert main(["audit", "--json", "--since", "2999-01-01"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["audit", "--json", "--since", "1h", "--limit", "2"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2

    assert main(["audit"]) == 0
    table = capsys.readouterr().out
    assert "submit_receivable" in table and "confirmation_required" in table and "TOKEN_REPLAYED" in table
    assert rows[0].payload_sha256[:12] in table


def test_parse_since():
    now = 1_800_000_000.0
    assert parse_since("24h", now=now) == now - 86400
    assert parse_since("30m", now=now) == now - 1800
    assert parse_since("7d", now=now) == now - 7 * 86400
    assert parse_since("2026-11-01") == 1793491200.0  # midnight UTC
    assert parse_since("2026-11-01T08:00:00Z") == 1793491200.0 + 8 * 3600
    with pytest.raises(ValueError, match="--since"):
        parse_since("yesterday")


def test_audit_cli_without_a_log(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CLEAVR_MCP_DATA_DIR", str(tmp_path / "nothing"))
    assert main(["audit"]) == 0
    assert "No audit log yet" in capsys.readouterr().out
    assert main(["audit", "--since", "whenever"]) == 2
    assert not (tmp_path / "nothing").exists()  # reading never creates the data folder


def test_audit_log_is_append_only(tmp_path):
    import sqlite3

    from cleavr_mcp.storage import run_blocking
    from cleavr_mcp.toolkit.store import ServerStore

    async def write() -> None:
        store = ServerStore(tmp_path / "server.sqlite3")
        await store.append_audit(tool="create_user", environment="test", user_id=None, payload_sha256="0" * 64,
                                 confirmed_by="not_required", outcome="done")
        await store.close()

    run_blocking(write)
    db = sqlite3.connect(tmp_path / "server.sqlite3")
    for statement in ("UPDATE audit SET outcome = 'refused'", "DELETE FROM audit"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute(statement)
    assert db.execute("SELECT count(*) FROM audit").fetchone() == (1,)
    assert time.time() - db.execute("SELECT at FROM audit").fetchone()[0] < 60
