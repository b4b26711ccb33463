"""Forged lines: newline, bidi and zero-width payloads in every string field never change the question's lines.

Each string of a submit_receivable / batch / cancel / partial-payment / evidence call is replaced by a hostile one
("…\\nCommission: 0.00 % = €0.00" with a right-to-left override and a zero-width space). Either the input is
refused with a clear error naming the field (invoice numbers and names), or the question asked — the elicitation
message and the approval page's facts — has exactly the lines and labels of the clean question.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest
from mcp import Client

from cleavr_mcp.testing import Human, submission
from tests.server.conftest import admin, demo_user, server, settings  # noqa: F401 - fixtures

pytestmark = pytest.mark.anyio

HOSTILE = "Acme\nCommission: 0.00 % = €0.00, you receive €5,000.00\u202eevil\u200b"


def _strings(value: Any, path: tuple = ()) -> list[tuple]:
    """Paths of every string leaf (dates and amounts included: they must be refused or shown as data too)."""
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _strings(v, path + (k,))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _strings(v, path + (i,))]
    return [path] if isinstance(value, str) else []


def _set(tree: Any, path: tuple, value: str) -> Any:
    tree = copy.deepcopy(tree)
    node = tree
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return tree


def _shape(message: str) -> list[str]:
    """The question's structure: how many lines, and each line's label (what comes before the first ': ')."""
    return ["<item>" if line.startswith("  - ") else line.split(": ", 1)[0] if ": " in line else "<text>"
            for line in message.split("\n")]


async def _question(server, tool: str, args: dict) -> str | None:
    human = Human(action="decline")
    async with Client(server, elicitation_callback=human) as c:
        result = await c.call_tool(tool, args)
    if not human.asked:
        assert result.is_error, result.content[0].text[:300]
        text = result.content[0].text
        assert "VALIDATION_ERROR" in text or "Error" in text  # refused at input, with the reason
        return None
    return human.asked[-1].message


@pytest.mark.parametrize("tool", ["submit_receivable", "submit_receivables_batch"])
async def test_no_string_field_adds_a_line(server, settings, tool):  # noqa: F811
    rec = submission(demo_user(settings), number="FORGE-1")
    args = {"receivable": rec} if tool == "submit_receivable" else {"receivables": [rec]}
    clean = await _question(server, tool, args)
    assert clean is not None
    baseline = _shape(clean)
    refused = shown = 0
    for path in _strings(args):
        if path[-1] in ("user_id", "issue_date", "due_date", "currency", "amount", "amount_before_tax", "tax_amount",
                        "company_type", "country"):
            continue  # typed fields: a hostile value is refused by their own type (covered by the fuzz tests)
        forged = _set(args, path, HOSTILE)
        message = await _question(server, tool, forged)
        if message is None:
            refused += 1
            continue
        shown += 1
        assert _shape(message) == baseline, (path, message)
        assert "\u202e" not in message and "\u200b" not in message
    assert refused and shown  # both outcomes were exercised


async def test_free_text_of_cancel_evidence_and_partial_payment(server, settings, admin):  # noqa: F811
    from fpdf import FPDF

    user = demo_user(settings)
    async with Client(server, elicitation_callback=Human()) as c:
        made = await c.call_tool("submit_receivable", {"receivable": submission(user, number="FORGE-2")})
    rec_id = made.structured_content["receivable"]["id"]
    await admin.advance(rec_id, "start_recovery")
    clean = await _question(server, "cancel_receivable", {"receivable_id": rec_id, "reason": "paid_directly",
                                                          "notes": "Paid"})
    forged = await _question(server, "cancel_receivable", {"receivable_id": rec_id, "reason": "paid_directly",
                                                           "notes": HOSTILE})
    assert _shape(forged) == _shape(clean)
    await admin.advance(rec_id, "dispute", reason="service_not_delivered", debtor_message=HOSTILE)
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="receipt")
    doc = {"type": "delivery_confirmation", "content_base64": base64.b64encode(bytes(pdf.output())).decode()}
    clean = await _question(server, "submit_evidence", {"receivable_id": rec_id, "statement": "Delivered.",
                                                        "documents": [{**doc, "filename": "a.pdf"}]})
    forged = await _question(server, "submit_evidence", {"receivable_id": rec_id, "statement": HOSTILE,
                                                         "documents": [{**doc, "filename": HOSTILE,
                                                                        "description": HOSTILE}]})
    assert clean is not None and forged is not None
    assert _shape(forged) == _shape(clean), forged
