"""Every endpoint of the contract through the client, against the sandbox over real HTTP."""

from __future__ import annotations

import base64
from datetime import date, timedelta
from decimal import Decimal

import pytest
from fpdf import FPDF

from cleavr_mcp.cleavr import CleavrNotFound, verify_signature
from cleavr_mcp.cleavr.contract import OnboardingStatus, ReceivableStatus
from cleavr_mcp.cleavr.models import (
    BatchRequest,
    CancelRequest,
    CommissionQuoteRequest,
    Contact,
    CreateUserRequest,
    EvidenceRequest,
    ListReceivablesQuery,
    PartialPaymentDecision,
    WebhookCreate,
)

from .conftest import Api, unique
from .helpers import receivable_request

pytestmark = pytest.mark.anyio


async def submit(api: Api, number: str | None = None, **changes):
    req = receivable_request(user_id=api.user, invoice__numbers=[number or unique()], **changes)
    return (await api.client.submit_receivable(req)).value


def invoice_pdf(number: str) -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=11)
    for line in ("ACME SAS", "12 rue de la Paix, 75002 Paris", "SIRET 73282932000074", "",
                 f"FACTURE N° {number}", "Date : 01/08/2025", "Échéance : 31/08/2025", "",
                 "Client : Debtor Corp", "456 Avenue des Champs, 69000 Lyon", "compta@debtorcorp.example", "",
                 "Total HT : 4 166,67  EUR", "TVA 20 % : 833,33  EUR", "Total TTC : 5 000,00 EUR"):
        pdf.cell(0, 8, line, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


# --- users -------------------------------------------------------------------------------------------------
async def test_users_create_get_status_requirements(api: Api):
    email = f"{unique('finance').lower()}@acme.example"
    created = await api.client.create_user(CreateUserRequest(
        email=email, company={"name": "Acme SAS", "siret": "73282932000074"},
        contact={"first_name": "Jeanne", "phone": "+33612345678"}))
    user = created.value
    assert user.id.startswith("usr_clv_") and user.status == OnboardingStatus.PENDING_ONBOARDING
    assert user.onboarding_url and not created.replayed
    assert created.idempotency_key.startswith("cmcp-user-")

    assert (await api.client.get_user(user.id)).email == email
    status = await api.client.get_onboarding_status(user.id)
    assert status.status == OnboardingStatus.PENDING_ONBOARDING and not status.capabilities.send_receivables
    requirements = await api.client.get_requirements(user.id)
    assert requirements.currently_due and all(r.code and r.description for r in requirements.currently_due)

    again = await api.client.create_user(CreateUserRequest(
        email=email, company={"name": "Acme SAS", "siret": "73282932000074"},
        contact={"first_name": "Jeanne", "phone": "+33612345678"}))
    assert again.replayed and again.value.id == user.id  # the model retried: same user, nothing new


# --- receivables -------------------------------------------------------------------------------------------
async def test_submit_get_and_replay(api: Api):
    number = unique()
    req = receivable_request(user_id=api.user, invoice__numbers=[number])
    first = await api.client.submit_receivable(req)
    rec = first.value
    assert rec.id.startswith("rec_") and rec.status == ReceivableStatus.PENDING and not first.replayed
    assert rec.amount == Decimal("5000.00") and rec.invoice.amount_before_tax == Decimal("4166.67")
    assert rec.debtor.contacts[0].phone == "+33612345678"  # normalised before sending
    assert first.request_id and first.request_id.startswith("req_")

    # The same submission rebuilt by a model in a new tool call (phone written +33 6 …): the same key, a replay.
    same = await api.client.submit_receivable(receivable_request(
        user_id=api.user, invoice__numbers=[number],
        debtor__contacts=[{"first_name": "Marie", "last_name": "Martin", "email": "marie.martin@debtorcorp.example",
                           "phone": "+33 6 12 34 56 78", "level": 0}]))
    assert same.replayed and same.value.id == rec.id and same.idempotency_key == first.idempotency_key

    fetched = await api.client.get_receivable(rec.id)
    assert fetched.id == rec.id and fetched.commission is not None
    assert fetched.model_extra is not None  # unknown fields are kept, not fatal


async def test_list_filters_and_iterate_over_several_pages(api: Api):
    user = (await api.client.create_user(CreateUserRequest(email=f"{unique('pager').lower()}@acme.example"))).value
    await api.control("POST", f"/sandbox/users/{user.id}/complete-onboarding", {})
    numbers = [unique("PG") for _ in range(7)]
    ids = []
    for n in numbers:
        req = receivable_request(user_id=user.id, invoice__numbers=[n])
        ids.append((await api.client.submit_receivable(req)).value.id)
    page = await api.client.list_receivables(ListReceivablesQuery(user_id=user.id, limit=3))
    assert len(page.data) == 3 and page.has_more
    seen = [r.id async for r in api.client.iter_receivables(ListReceivablesQuery(user_id=user.id, limit=3))]
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen)) == 7  # 3 pages, nothing twice
    today = date.today()
    window = ListReceivablesQuery(user_id=user.id, status="pending", created_after=today - timedelta(days=1),
                                  created_before=today + timedelta(days=1), limit=100)
    assert len((await api.client.list_receivables(window)).data) == 7
    cancelled = ListReceivablesQuery(user_id=user.id, status="cancelled")
    assert (await api.client.list_receivables(cancelled)).data == []


async def test_add_contact_and_update_metadata(api: Api):
    rec = await submit(api)
    added = await api.client.add_contact(rec.id, Contact(first_name="New", email="new@debtor.example",
                                                         phone="+33611111111", level=2))
    assert [c.email for c in added.value.debtor.contacts][-1] == "new@debtor.example"
    again = await api.client.add_contact(rec.id, Contact(first_name="New", email="new@debtor.example",
                                                         phone="+33611111111", level=2))
    assert again.replayed and len(again.value.debtor.contacts) == len(added.value.debtor.contacts)
    updated = await api.client.update_metadata(rec.id, {"internal_note": "promised by month end"})
    assert updated.metadata["internal_note"] == "promised by month end"
    assert updated.metadata["platform_invoice_id"] == "plat_inv_123"  # a merge, per the contract


async def test_cancel(api: Api):
    rec = await submit(api)
    result = await api.client.cancel_receivable(rec.id, CancelRequest(reason="paid_directly", notes="paid by wire"))
    assert result.value.status == ReceivableStatus.CANCELLED


async def test_dispute_evidence(api: Api):
    rec = await submit(api)
    await api.control("POST", f"/sandbox/receivables/{rec.id}/advance", {"action": "start_recovery"})
    await api.control("POST", f"/sandbox/receivables/{rec.id}/advance", {"action": "dispute"})
    disputed = await api.client.get_receivable(rec.id)
    assert disputed.status == ReceivableStatus.DISPUTED and disputed.dispute.evidence_requested
    evidence = EvidenceRequest(
        documents=[{"type": "delivery_confirmation", "filename": "receipt.pdf",
                    "content_base64": base64.b64encode(b"%PDF-1.4 signed receipt").decode(),
                    "description": "Signed delivery receipt"}],
        statement="Delivered on 2025-08-15, see the signed receipt.")
    result = await api.client.submit_evidence(rec.id, evidence)
    assert result.value.status == ReceivableStatus.IN_PROCESS


async def test_partial_payment_decision(api: Api):
    rec = await submit(api)
    await api.control("POST", f"/sandbox/receivables/{rec.id}/advance", {"action": "start_recovery"})
    await api.control("POST", f"/sandbox/receivables/{rec.id}/advance",
                      {"action": "partial_payment", "paid_amount": Decimal("3000.00")})
    result = await api.client.decide_partial_payment(rec.id, PartialPaymentDecision(
        action="continue_recovery", notes="Continue recovering the remaining 2000"))
    assert result.value.status == ReceivableStatus.IN_PROCESS
    assert result.value.partial_payment is None or result.value.partial_payment.remaining_amount == Decimal("2000.00")


async def test_identical_decisions_for_two_instalments_are_both_applied(api: Api):
    rec = await submit(api)
    advance = f"/sandbox/receivables/{rec.id}/advance"
    await api.control("POST", advance, {"action": "start_recovery"})
    decisions = []
    for paid in ("1000.00", "1500.00"):
        await api.control("POST", advance, {"action": "partial_payment", "paid_amount": Decimal(paid)})
        decisions.append(await api.client.decide_partial_payment(rec.id, PartialPaymentDecision(
            action="continue_recovery")))
    assert [d.replayed for d in decisions] == [False, False]  # the second is a new decision, not a replay
    assert decisions[0].idempotency_key != decisions[1].idempotency_key
    outbox = await api.control("GET", f"/sandbox/outbox?receivable_id={rec.id}&type=receivable.partial_payment")
    assert len(outbox["data"]) == 2


async def test_metadata_a_b_a_ends_at_a(api: Api):
    rec = await submit(api)
    for value in ("1", "2", "1"):
        updated = await api.client.update_metadata(rec.id, {"flag": value})
    assert updated.metadata["flag"] == "1"
    assert (await api.client.get_receivable(rec.id)).metadata["flag"] == "1"


async def test_batch_mixes_local_and_remote_failures(api: Api):
    existing = await submit(api)
    items = [
        receivable_request(user_id=api.user, invoice__numbers=[unique("B")]),
        receivable_request(user_id=api.user, invoice__numbers=[unique("B")], invoice__currency="USD"),
        receivable_request(user_id=api.user, invoice__numbers=existing.invoice.numbers, invoice__amount="10.00",
                           invoice__amount_before_tax="8.00", invoice__tax_amount="2.00"),
        receivable_request(user_id=api.user, invoice__numbers=[unique("B")]),
    ]
    result = await api.client.submit_batch(BatchRequest(receivables=items))
    assert [s.index for s in result.value.successful] == [0, 3]
    assert [(f.index, f.error) for f in result.value.failed] == [(1, "INVALID_CURRENCY"), (2, "DUPLICATE_RECEIVABLE")]
    for s in result.value.successful:
        assert (await api.client.get_receivable(s.id)).invoice.numbers == items[s.index].invoice.numbers
    replay = await api.client.submit_batch(BatchRequest(receivables=items))
    assert replay.replayed and replay.value == result.value


async def test_extract_pdf_from_bytes_and_path(api: Api, tmp_path):
    number = unique("F")
    pdf = invoice_pdf(number)
    extraction = await api.client.extract_pdf(user_id=api.user, filename="invoice.pdf", content=pdf)
    assert extraction.extraction_id.startswith("ext_") and 0 <= extraction.confidence <= 1
    path = tmp_path / "invoice.pdf"
    path.write_bytes(pdf)
    from_path = await api.client.extract_pdf(user_id=api.user, filename="invoice.pdf", content=path)
    assert from_path.extraction_id == extraction.extraction_id  # same file, same key: replayed
    # the extraction can be linked to the submission
    req = receivable_request(user_id=api.user, invoice__numbers=[number], extraction_id=extraction.extraction_id)
    assert (await api.client.submit_receivable(req)).value.extraction_id == extraction.extraction_id


# --- commission --------------------------------------------------------------------------------------------
async def test_commission_calculate_and_rates(api: Api):
    quote = await api.client.calculate_commission(CommissionQuoteRequest(amount=Decimal("5000.00"), days_overdue=60))
    assert (quote.rate_percentage, quote.rate_tier, quote.commission_amount, quote.net_recovery) == (
        Decimal("15.90"), "45-89 days", Decimal("795.00"), Decimal("4205.00"))
    by_date = await api.client.calculate_commission(CommissionQuoteRequest(
        amount=Decimal("1000.00"), invoice_date=date.today() - timedelta(days=400)))
    assert by_date.rate_percentage == Decimal("27.50")
    rates = await api.client.get_commission_rates()
    assert [r.rate for r in rates.default_rates][:2] == [Decimal("10.80"), Decimal("15.90")]


# --- webhooks ----------------------------------------------------------------------------------------------
async def test_webhooks_create_list_delete(api: Api):
    url = f"https://platform.example/hooks/{unique('h')}"
    endpoint = await api.client.create_webhook(WebhookCreate(url=url, events=["receivable.*"], description="all"))
    assert endpoint.id.startswith("wh_") and endpoint.secret and endpoint.secret.startswith("whsec_")
    assert endpoint.id in [w.id for w in await api.client.list_webhooks()]
    same = await api.client.create_webhook(WebhookCreate(url=url, events=["receivable.*"], description="all"))
    assert same.id == endpoint.id and same.secret == endpoint.secret  # a repeat registers nothing new
    await api.client.delete_webhook(endpoint.id)
    assert endpoint.id not in [w.id for w in await api.client.list_webhooks()]
    with pytest.raises(CleavrNotFound):
        await api.client.delete_webhook(endpoint.id)
    # Registering it again after the delete creates a new endpoint instead of replaying the deleted one.
    again = await api.client.create_webhook(WebhookCreate(url=url, events=["receivable.*"], description="all"))
    assert again.id != endpoint.id and again.id in [w.id for w in await api.client.list_webhooks()]
    await api.client.delete_webhook(again.id)


async def test_outbox_events_parse_and_verify(api: Api):
    from cleavr_mcp.cleavr import parse_event, sign, wire
    from cleavr_mcp.cleavr.webhooks import DisputeEventData

    rec = await submit(api)
    await api.control("POST", f"/sandbox/receivables/{rec.id}/advance", {"action": "start_recovery"})
    await api.control("POST", f"/sandbox/receivables/{rec.id}/advance", {"action": "dispute"})
    outbox = await api.control("GET", f"/sandbox/outbox?receivable_id={rec.id}")
    types = []
    for raw_event in outbox["data"]:
        raw_event.pop("deliveries")
        body = wire.dumps(raw_event)
        assert verify_signature("whsec_x", body, sign("whsec_x", body))
        event = parse_event(body)
        assert event.known, event.type
        types.append(event.type)
        if event.type == "receivable.disputed":
            assert isinstance(event.data, DisputeEventData) and event.data.receivable_id == rec.id
    assert "receivable.created" in types and "receivable.disputed" in types
