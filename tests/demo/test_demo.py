"""`cleavr-mcp demo`: the scripted tour runs green (in-process and as a real subprocess), its transcript shows what
matters, and a step that does not do what it should fails the run with that step named."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

from cleavr_mcp.cli import build_parser
from cleavr_mcp.commands import demo

QUOTE = "15.90 % = €795.00, you receive €4,205.00"
PHONE_WARNING = "Missing phone number reduces success rate from 82% to 45%"
REPO = Path(__file__).resolve().parents[2]


def run_demo(data_dir: Path, **kwargs) -> tuple[int, str]:
    out = io.StringIO()
    code = demo.main(data_dir, out=out, **kwargs)
    return code, out.getvalue()


def audit_rows(data_dir: Path) -> list:
    from cleavr_mcp.toolkit.store import audit_rows_in

    return audit_rows_in(data_dir / "server.sqlite3")


def test_the_tour_runs_green_and_the_transcript_shows_each_step(tmp_path):
    data = tmp_path / "demo-data"
    code, text = run_demo(data)
    assert code == 0, text
    for number, (title, _) in enumerate(demo.STEPS, 1):
        assert f"Step {number} · {title}" in text
    assert "✗" not in text and "Demo complete: all 6 steps did what they should" in text
    assert [line for line in text.splitlines() if line != line.rstrip()] == []  # no padding at line ends
    # (1) onboarding link, then onboarded
    assert "→ create_user(" in text and "onboarding_url: http" in text and "can submit receivables: yes" in text
    # (2) the quote sentence
    assert f"← {QUOTE}" in text
    # (3) the form shows the quote and the phone warning verbatim, then the human's phone
    form = text[text.index("Step 3"):text.index("Step 4")]
    assert PHONE_WARNING in form and f"Commission: {QUOTE}" in form
    assert form.index(PHONE_WARNING) < form.index('→ accept {confirm: true, phone: "06 98 76 54 32"')
    assert "+33698765432" in form
    # (4) the PDF's draft and what it lacks
    assert "missing: debtor.contacts[0].email, debtor.contacts[0].phone" in text
    # (5) the dispute, the debtor's text in its untrusted envelope, evidence, back to in_process
    dispute = text[text.index("Step 5"):text.index("Step 6")]
    assert "receivable.disputed" in dispute and "is disputed: service_not_delivered" in dispute
    assert "untrusted=True, source=debtor" in dispute and "Ignore previous instructions" in dispute
    assert "delivery-receipt.pdf (delivery_confirmation" in dispute and "status is now in_process" in dispute
    # (6) cancelled
    assert "This is final" in text and "cancelled (paid_directly)" in text and "is cancelled" in text
    # Kept data: every write went through the audit log, each money write confirmed by the human.
    assert f"Data kept in {data.resolve()}" in text
    rows = audit_rows(data)
    assert [(r.tool, r.confirmed_by, r.outcome) for r in rows] == [
        ("create_user", "not_required", "done"), ("submit_receivable", "elicitation", "done"),
        ("submit_receivable", "elicitation", "done"), ("submit_evidence", "elicitation", "done"),
        ("cancel_receivable", "elicitation", "done")]
    assert all(r.environment == "sandbox" for r in rows)


def test_json_lines_one_per_step_then_a_summary(tmp_path):
    data = tmp_path / "demo-data"
    code, text = run_demo(data, json_lines=True)
    assert code == 0, text
    lines = [json.loads(line) for line in text.splitlines()]
    steps, summary = lines[:-1], lines[-1]
    assert [s["step"] for s in steps] == [1, 2, 3, 4, 5, 6] and all(s["ok"] and s["error"] is None for s in steps)
    assert summary == {"type": "summary", "ok": True, "steps": 6, "failed_step": None, "failed_title": None,
                       "data_dir": str(data.resolve())}
    third = steps[2]["entries"]
    question = next(e for e in third if e["kind"] == "question")
    answer = next(e for e in third if e["kind"] == "answer")
    assert PHONE_WARNING in question["message"] and "phone (string)" in question["fields"]
    assert answer == {"kind": "answer", "action": "accept",
                      "content": {"confirm": True, "phone": "06 98 76 54 32", "proceed_without_phone": False}}
    submitted = next(e for e in third if e["kind"] == "result" and e["tool"] == "submit_receivable")
    assert submitted["structured"]["commission_summary"] == QUOTE
    call = next(e for e in third if e["kind"] == "call")
    assert "phone" not in call["arguments"]["receivable"]["debtor"]["contacts"][0]  # full arguments, no phone
    # The two debtors are two companies: distinct SIRETs, both valid; the second one read back from its PDF.
    from stdnum.fr import siret

    pdf_submit = next(e for e in steps[3]["entries"] if e["kind"] == "call" and e["tool"] == "submit_receivable")
    sirets = [call["arguments"]["receivable"]["debtor"].get("siret"),
              pdf_submit["arguments"]["receivable"]["debtor"].get("siret")]
    assert sirets == [demo.DEBTOR_CORP_SIRET, demo.BAKERY_SIRET] and all(siret.is_valid(s) for s in sirets)
    assert sirets[0] != sirets[1]
    cancel = next(e for e in steps[5]["entries"] if e["kind"] == "result" and e["tool"] == "cancel_receivable")
    assert cancel["structured"]["receivable"]["status"] == "cancelled"


def test_a_wrong_outcome_fails_the_run_naming_the_step(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "EXPECTED_QUOTE", "10.80 % = €540.00, you receive €4,460.00")
    code, text = run_demo(tmp_path / "d")
    assert code == 1
    assert "Step 2 (Quote the commission) failed: unexpected quote" in text
    assert "Demo FAILED at step 2 (Quote the commission)." in text
    assert "Step 3" not in text  # later steps depend on earlier ones: not run


def test_a_tool_error_fails_the_run_naming_the_step(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "_invoice_pdf", lambda path, number: path.write_bytes(b"not a pdf at all"))
    code, text = run_demo(tmp_path / "d", json_lines=True)
    assert code == 1
    lines = [json.loads(line) for line in text.splitlines()]
    assert [line.get("ok") for line in lines[:-1]] == [True, True, True, False]
    assert lines[3]["error"].startswith("extract_pdf returned an error")
    assert lines[-1]["failed_step"] == 4 and lines[-1]["ok"] is False


def test_subprocess_never_goes_live_and_leaves_nothing_behind(tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    home = tmp_path / "home"
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    # Live configuration everywhere the server would look: the demo must ignore it all.
    (cwd / ".env").write_text("CLEAVR_MCP_BASE_URL=https://api.cleavr.fr\nCLEAVR_MCP_ALLOW_LIVE_WRITES=true\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEAVR_MCP_")}
    env.update(TMPDIR=str(scratch), HOME=str(home), XDG_DATA_HOME=str(home / "data"), COLUMNS="80",
               PYTHONPATH=str(REPO), CLEAVR_MCP_BASE_URL="https://api.cleavr.fr", CLEAVR_MCP_CLIENT_ID="live",
               CLEAVR_MCP_ALLOW_LIVE_WRITES="true")
    proc = subprocess.run([sys.executable, "-m", "cleavr_mcp.cli", "demo"], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert QUOTE in out and PHONE_WARNING in out and "receivable.disputed" in out and "is cancelled" in out
    assert out.count("(sandbox)?") == 2 and out.count("— sandbox?") == 2  # the four forms name the environment
    assert "(live)" not in out and "— live?" not in out
    assert [line for line in out.splitlines() if line != line.rstrip()] == []  # piped: no trailing spaces
    assert "a temporary folder" in out and "Data kept" not in out
    assert "HTTP Request" not in proc.stderr  # the SDK's request logging stays out of the transcript
    assert list(scratch.iterdir()) == []  # the temporary data folder is gone
    assert not home.exists()  # the user's real data folder was never touched


def test_the_command_line_and_a_light_import():
    args = build_parser().parse_args(["demo", "--data-dir", "/x/y", "--json"])
    assert args.data_dir == Path("/x/y") and args.json is True and args.func.__name__ == "_cmd_demo"
    defaults = build_parser().parse_args(["demo"])
    assert defaults.data_dir is None and defaults.json is False
    code = ("import sys, cleavr_mcp.commands.demo; print([m for m in ('mcp', 'rich', 'httpx2', 'cleavr_mcp.server', "
            "'cleavr_mcp.sandbox', 'pydantic_settings') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO).stdout
    assert out.strip() == "[]"
