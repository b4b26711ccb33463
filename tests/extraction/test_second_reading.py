"""The second reading: the MCP server reads the PDF it holds and flags every disagreement with Cleavr's OCR answer.

The server runs in test use (credentials, a sandbox served over real HTTP); the sandbox's `ocr_answer_overrides`
fault switch makes its OCR answer something the PDF does not say, as a wrong remote reading would.
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import date, timedelta
from decimal import Decimal

import httpx2
import pytest
from mcp import Client

from cleavr_mcp.config import Settings
from cleavr_mcp.extraction.second_reading import compare_readings
from cleavr_mcp.sandbox import SandboxConfig
from cleavr_mcp.sandbox.testing import demo_user_id, running_sandbox, sandbox_access_token, sandbox_credentials
from cleavr_mcp.testing import Human, SandboxAdmin

pytestmark = pytest.mark.anyio

ISSUE = date.today() - timedelta(days=60)
DUE = ISSUE + timedelta(days=30)


def invoice_pdf(*, currency: str = "€", lines: list[str] | None = None) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.core_fonts_encoding = "windows-1252"
    pdf.add_page()
    pdf.set_font("helvetica", size=11)
    body = lines or [
        "FACTURE N° F-2025-0042", f"Date d'émission : {ISSUE:%d/%m/%Y}", f"Date d'échéance : {DUE:%d/%m/%Y}",
        "Facturé à :", "Debtor Corp SAS", "12 rue de la Paix", "75002 Paris", "compta@debtor.example",
        "Tél : 06 12 34 56 78",
        f"Total HT : 4 666,67 {currency}", f"TVA 20 % : 933,33 {currency}", f"Total TTC : 5 600,00 {currency}",
    ]
    for line in body:
        pdf.cell(text=line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


@pytest.fixture
def stack(tmp_path):
    """(admin of a sandbox served over HTTP, MCP server settings in test use, demo user)."""
    config = SandboxConfig(db_path=tmp_path / "sandbox.sqlite3", cleverinvo=False)
    with ExitStack() as servers:
        base_url = servers.enter_context(running_sandbox(config))
        client_id, secret = sandbox_credentials(config.db_path)
        docs = tmp_path / "docs"
        docs.mkdir()
        yield config, base_url, client_id, secret, docs


async def _server_and_admin(stack):
    config, base_url, client_id, secret, docs = stack
    async with httpx2.AsyncClient() as http:
        tokens = await sandbox_access_token(http, base_url, client_id, secret)
    settings = Settings(_env_file=None, data_dir=docs.parent / "data", base_url=base_url, client_id=client_id,
                        client_secret=secret, access_token=tokens["access_token"],
                        refresh_token=tokens["refresh_token"], allowed_roots=[docs], poll_events=False)
    from cleavr_mcp.server.app import build_server

    return build_server(settings), SandboxAdmin(db_path=config.db_path, base_url=base_url), docs, \
        demo_user_id(config.db_path)


async def _perturb(admin: SandboxAdmin, overrides: dict) -> None:
    resp = await admin.http.put("/sandbox/faults", json={"ocr_answer_overrides": overrides},
                                headers=await admin.headers())
    assert resp.status_code == 200, resp.text


async def _extract(server, docs, user, pdf: bytes, name: str = "facture.pdf", human: Human | None = None):
    path = docs / name
    path.write_bytes(pdf)
    kwargs = {"elicitation_callback": human} if human else {}
    async with Client(server, **kwargs) as c:
        result = await c.call_tool("extract_pdf", {"user_id": user, "file": {"path": str(path)}})
    assert not result.is_error, result.content
    return result.structured_content


async def test_readings_that_agree_have_no_discrepancy_and_the_text_is_returned(stack):
    server, admin, docs, user = await _server_and_admin(stack)
    try:
        out = await _extract(server, docs, user, invoice_pdf())
    finally:
        await admin.aclose()
    assert out["discrepancies"] == [] and "discrepancies" not in out["draft"]
    assert out["second_reading"].endswith("text layer")
    assert out["text_excerpt"]["untrusted"] is True and "F-2025-0042" in out["text_excerpt"]["text"]
    assert out["draft"]["invoice"]["amount"] == "5600.00"


async def test_a_wrong_amount_and_a_wrong_number_from_cleavr_are_flagged(stack):
    server, admin, docs, user = await _server_and_admin(stack)
    try:
        await _perturb(admin, {"invoice.amount": "5000.00", "invoice.numbers": ["F-2025-0024"],
                               "invoice.due_date": (DUE + timedelta(days=10)).isoformat()})
        out = await _extract(server, docs, user, invoice_pdf())
    finally:
        await admin.aclose()
    by_field = {d["field"]: d for d in out["discrepancies"]}
    assert set(by_field) == {"invoice.amount", "invoice.numbers", "invoice.due_date"}
    assert by_field["invoice.amount"]["cleavr"] == "5,000.00" and by_field["invoice.amount"]["pdf"] == "5,600.00"
    assert by_field["invoice.amount"]["message"] == "Cleavr read 5,000.00 for the amount; the PDF says 5,600.00"
    assert by_field["invoice.numbers"]["pdf"] == "F-2025-0042"
    # in the draft (for the approval) and among the warnings; the next step tells the model to ask the person
    assert {d["field"] for d in out["draft"]["discrepancies"]} == set(by_field)
    assert {w["field"] for w in out["warnings"]} >= set(by_field)
    assert "disagree" in out["next_step"] and "invoice.amount" in out["next_step"]


async def test_the_approval_shows_the_disagreement(stack):
    server, admin, docs, user = await _server_and_admin(stack)
    human = Human(action="decline")
    try:
        await _perturb(admin, {"invoice.numbers": ["F-2025-0024"]})
        out = await _extract(server, docs, user, invoice_pdf())
        draft = out["draft"]
        async with Client(server, elicitation_callback=human) as c:
            await admin.post(f"/sandbox/users/{user}/complete-onboarding")
            result = await c.call_tool("submit_receivable", {"receivable": draft})
    finally:
        await admin.aclose()
    assert not result.is_error, result.content
    assert human.asked, "the person was asked"
    # one line of its own, naming the field as a person reads it (not the contract path)
    assert "\nCheck: the invoice number(s): Cleavr read F-2025-0024; the PDF says F-2025-0042" in human.asked[0].message


async def test_a_missing_currency_is_not_filled_in(stack):
    server, admin, docs, user = await _server_and_admin(stack)
    try:
        await _perturb(admin, {"invoice.currency": None})
        out = await _extract(server, docs, user, invoice_pdf())
    finally:
        await admin.aclose()
    assert "currency" not in out["draft"]["invoice"]
    assert "invoice.currency" in out["missing_fields"]
    assert out["cannot_submit"] is None


async def test_a_dollar_invoice_gets_a_clear_refusal_not_a_euro_draft(stack):
    server, admin, docs, user = await _server_and_admin(stack)
    try:
        out = await _extract(server, docs, user, invoice_pdf(currency="USD"))
    finally:
        await admin.aclose()
    assert out["draft"]["invoice"]["currency"] == "USD"
    assert "EUR only" in out["cannot_submit"] and "USD" in out["cannot_submit"]
    assert out["next_step"].startswith("Do not submit")


def test_compare_readings_field_by_field():
    pdf = {"data": {"invoice": {"amount": Decimal("5600.00"), "numbers": ["F-1"], "issue_date": date(2025, 1, 2)},
                    "debtor": {"company_name": "Dupont Industrie SAS"}},
           "field_confidence": {"invoice.amount": 0.97, "invoice.numbers": 0.92, "invoice.issue_date": 0.4,
                                "debtor.company_name": 0.9}}
    same = {"invoice": {"amount": "5600.00", "numbers": ["f 1"], "issue_date": "2025-01-03"},
            "debtor": {"company_name": "DUPONT INDUSTRIE"}}
    # numbers compared without case or separators, names without legal form; a low-confidence date is not a claim
    assert compare_readings(same, pdf) == []
    other = {"invoice": {"amount": "560.00", "numbers": ["F-2"]}, "debtor": {"company_name": "Garage des Alpes"}}
    found = {d.field: d for d in compare_readings(other, pdf)}
    assert set(found) == {"invoice.amount", "invoice.numbers", "debtor.company_name"}
    assert found["invoice.amount"].cleavr == "560.00" and found["invoice.amount"].pdf == "5,600.00"
    missing = compare_readings({"invoice": {}, "debtor": {}}, pdf)
    assert {d.field for d in missing} == {"invoice.amount", "invoice.numbers", "debtor.company_name"}
    assert all(d.cleavr is None and "did not read" in d.message for d in missing)


async def test_the_text_excerpt_is_returned_when_cleavr_sends_no_text(stack):
    """The live API returns no text of the PDF: the excerpt then comes from the server's own reading."""
    server, admin, docs, user = await _server_and_admin(stack)
    try:
        await _perturb(admin, {"raw_text": None})
        out = await _extract(server, docs, user, invoice_pdf())
    finally:
        await admin.aclose()
    assert out["text_excerpt"]["untrusted"] is True and "F-2025-0042" in out["text_excerpt"]["text"]
    assert out["discrepancies"] == []
