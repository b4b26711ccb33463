"""add_contact needs a person's approval when it adds an email or phone Cleavr does not already have for the
debtor; update_receivable_metadata needs one to touch the CleverInvo link (source / platform_invoice_id), which
decides whether list_overdue_invoices shows an invoice and whether recover_invoice sends it."""

from __future__ import annotations

from cleavr_mcp.testing import Human, submission

from .conftest import form_of, post


def _receivable(desk) -> str:
    """A receivable created straight on the sandbox API (one contact, with email and phone)."""
    body = submission(desk.demo, phone="+33612345678")
    return desk.portal.call(lambda: desk.admin.post("/v1/receivables", body, **{"Idempotency-Key": body["invoice"]["numbers"][0]}))["id"]


def _approve(url: str, **fields) -> None:
    import httpx2

    page = httpx2.get(url)
    assert post(url, {**form_of(page.text), "decision": "approve", **fields}).status_code == 303


def test_a_new_contact_is_approved_on_the_page(desk, opened):
    rec = _receivable(desk)
    args = {"receivable_id": rec, "contact": {"first_name": "Paul", "email": "paul@debtor.example", "level": 1}}
    first = desk.call("add_contact", args)
    assert first.structured_content["status"] == "approval_pending", first.content[0].text[:300]
    assert desk.writes("add_contact") == 0
    assert len(desk.get(f"/v1/receivables/{rec}")["debtor"]["contacts"]) == 1
    _approve(opened.last())
    done = desk.call("add_contact", args)
    assert done.structured_content["status"] == "done"
    assert desk.writes("add_contact") == 1
    assert [r.confirmed_by for r in desk.audit("add_contact") if r.outcome == "done"] == ["page"]


def test_a_contact_already_known_needs_no_approval(desk, opened):
    rec = _receivable(desk)
    known = desk.get(f"/v1/receivables/{rec}")["debtor"]["contacts"][0]
    args = {"receivable_id": rec, "contact": {"email": known["email"].upper(), "phone": "06 12 34 56 78", "level": 0}}
    result = desk.call("add_contact", args)
    assert result.structured_content["status"] == "done", result.content[0].text[:300]
    assert opened.urls == []


def test_metadata_cannot_hide_a_cleverinvo_invoice_without_approval(desk, opened):
    rec = _receivable(desk)
    note = desk.call("update_receivable_metadata", {"receivable_id": rec, "metadata": {"internal_note": "called"}})
    assert note.structured_content["status"] == "done" and opened.urls == []  # plain notes: no question
    hide = {"receivable_id": rec, "metadata": {"source": "cleverinvo", "platform_invoice_id": "inv_any"}}
    first = desk.call("update_receivable_metadata", hide)
    assert first.structured_content["status"] == "approval_pending"
    assert "source" not in desk.get(f"/v1/receivables/{rec}")["metadata"]
    import httpx2

    page = httpx2.get(opened.last())
    assert "inv_any" in page.text and "CleverInvo" in page.text
    assert post(opened.last(), {**form_of(page.text), "decision": "decline"}).status_code == 303
    declined = desk.call("update_receivable_metadata", hide)
    assert declined.structured_content["status"] == "declined"
    assert "source" not in desk.get(f"/v1/receivables/{rec}")["metadata"]


def test_with_elicitation_the_person_is_asked_in_the_client(portal, tmp_path):
    from mcp import Client

    from cleavr_mcp.server.app import build_server

    from .conftest import open_desk

    desk, cm = open_desk(portal, tmp_path)
    try:
        rec = _receivable(desk)
        human = Human(action="decline")

        async def call():
            async with Client(build_server(desk.settings), elicitation_callback=human) as c:
                return await c.call_tool("add_contact", {"receivable_id": rec,
                                                         "contact": {"phone": "+33 6 99 88 77 66", "level": 2}})
        result = portal.call(call)
        assert result.structured_content["status"] == "declined" and len(human.asked) == 1
        assert "New phone: +33699887766" in human.asked[0].message
    finally:
        portal.call(desk.admin.aclose)
        cm.__exit__(None, None, None)
