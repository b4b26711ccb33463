"""Submission rules, reads, lists, updates, batch, commission and webhook registration (in-process)."""

from __future__ import annotations

from decimal import Decimal

import httpx2
import pytest

from cleavr_mcp.cleavr import wire
from cleavr_mcp.cleavr.contract import COMMISSION_TIERS, MISSING_PHONE_MESSAGE
from cleavr_mcp.cleavr.models import Receivable, ReceivableList
from cleavr_mcp.cleavr.validation import compute_commission, days_since

from .conftest import receivable_body

pytestmark = pytest.mark.anyio


def decimal_json(response: httpx2.Response):
    return wire.loads(response.content)


async def test_create_returns_the_documented_receivable(sandbox):
    response = await sandbox.post("/v1/receivables", receivable_body(sandbox.user_id))
    assert response.status_code == 201, response.text
    # Money travels as exact JSON numbers, not strings.
    assert b'"amount":5000.00' in response.content
    doc = decimal_json(response)
    Receivable.model_validate(doc)
    assert doc["id"].startswith("rec_") and doc["status"] == "pending"
    assert doc["amount"] == Decimal("5000.00") and doc["currency"] == "EUR"
    assert doc["recovery_progress"] == {"emails_sent": 0, "calls_made": 0, "last_contact": None,
                                        "next_action": None, "next_action_date": None}
    quote = compute_commission(Decimal("5000.00"), days_since(__import__("datetime").date(2025, 8, 1)))
    assert doc["commission"] == {"rate": quote["rate_percentage"], "amount": quote["commission_amount"]}
    assert doc["metadata"] == {"platform_invoice_id": "plat_inv_123"}
    assert doc["created_at"].endswith("Z")
    fetched = await sandbox.get(f"/v1/receivables/{doc['id']}")
    assert decimal_json(fetched) == doc
    events = await sandbox.outbox(type="receivable.created")
    assert [e["data"]["receivable_id"] for e in events] == [doc["id"]]
    assert events[0]["id"].startswith("evt_") and events[0]["data"]["amount"] == 5000


def with_contacts(box, contacts, **changes):
    body = receivable_body(box.user_id, **changes)
    body["debtor"]["contacts"] = contacts
    return body


async def test_missing_email_contact(sandbox):
    response = await sandbox.post("/v1/receivables", with_contacts(sandbox, [{"phone": "+33612345678"}]))
    assert response.status_code == 400
    error = sandbox.error(response)
    assert error["code"] == "MISSING_EMAIL_CONTACT" and error["field"] == "debtor.contacts[0].email"
    assert error["details"] == {"debtor_name": "Debtor Corp", "has_email": False, "has_phone": True}
    no_contacts = await sandbox.post("/v1/receivables", with_contacts(sandbox, []))
    assert sandbox.error(no_contacts)["code"] == "MISSING_EMAIL_CONTACT"


async def test_missing_phone_warning_then_force_proceed(sandbox):
    body = with_contacts(sandbox, [{"email": "ap@debtor.example"}])
    response = await sandbox.post("/v1/receivables", body)
    assert response.status_code == 422
    error = sandbox.error(response)
    assert error["code"] == "MISSING_PHONE_WARNING"
    assert error["message"].startswith(MISSING_PHONE_MESSAGE)
    assert error["details"] == {"has_email": True, "has_phone": False, "debtor_name": "Debtor Corp"}
    assert (await sandbox.post("/v1/receivables", {**body, "force_proceed": False})).status_code == 422
    forced = await sandbox.post("/v1/receivables", {**body, "force_proceed": True})
    assert forced.status_code == 201


@pytest.mark.parametrize(
    "mutate, code, field",
    [
        (lambda b: b["debtor"].update(siret="73282932000075"), "INVALID_SIRET", "debtor.siret"),
        (lambda b: b["debtor"].update(siret="1234"), "INVALID_SIRET", "debtor.siret"),
        (lambda b: b["debtor"].update(vat_number="FR00732829320"), "VALIDATION_ERROR", "debtor.vat_number"),
        (lambda b: b["debtor"]["contacts"][0].update(phone="06 12 34 56 78"), "VALIDATION_ERROR",
         "debtor.contacts[0].phone"),
        (lambda b: b["debtor"]["contacts"].append({"email": "x@debtor.example", "phone": "+1-555-0100"}),
         "VALIDATION_ERROR", "debtor.contacts[1].phone"),
        (lambda b: b["invoice"].update(currency="USD"), "INVALID_CURRENCY", "invoice.currency"),
        (lambda b: b["invoice"].update(tax_amount="833.34"), "AMOUNT_MISMATCH", "invoice.amount"),
        (lambda b: b["invoice"].update(due_date="2025-07-31"), "INVALID_DATES", "invoice.due_date"),
        (lambda b: b["invoice"].update(numbers=["A-1", "A-1"]), "VALIDATION_ERROR", "invoice.numbers[1]"),
        (lambda b: b.update(extraction_id="ext_unknown"), "VALIDATION_ERROR", "extraction_id"),
    ],
)
async def test_submission_rules(sandbox, mutate, code, field):
    body = receivable_body(sandbox.user_id)
    mutate(body)
    response = await sandbox.post("/v1/receivables", body)
    assert response.status_code in (400, 422), response.text
    error = sandbox.error(response)
    assert (error["code"], error["field"]) == (code, field), error
    stats = (await sandbox.get("/sandbox/stats")).json()
    assert stats["receivables"]["total"] == 0 and stats["events"] == 0  # nothing half-written


async def test_amount_mismatch_details_and_la_poste_siret(sandbox):
    body = receivable_body(sandbox.user_id)
    body["invoice"]["amount_before_tax"] = "4000.00"
    error = sandbox.error(await sandbox.post("/v1/receivables", body))
    assert error["details"]["expected_amount"] == 4833.33
    body = receivable_body(sandbox.user_id)
    body["debtor"]["siret"] = "35600000000048"  # La Poste: valid although Luhn fails
    body["debtor"].pop("vat_number")
    assert (await sandbox.post("/v1/receivables", body)).status_code == 201


async def test_user_not_onboarded(sandbox):
    user = (await sandbox.post("/v1/users", {"email": "new@platform.example"})).json()
    response = await sandbox.post("/v1/receivables", receivable_body(user["id"]))
    assert response.status_code == 403
    error = sandbox.error(response)
    assert error["code"] == "USER_NOT_ONBOARDED"
    assert error["details"]["onboarding_url"] == user["onboarding_url"]
    await sandbox.post(f"/sandbox/users/{user['id']}/complete-onboarding", {})
    assert (await sandbox.post("/v1/receivables", receivable_body(user["id"]))).status_code == 201


async def test_duplicate_receivable_while_active(sandbox):
    first = await sandbox.create("INV-7")
    body = receivable_body(sandbox.user_id, "INV-8")
    body["invoice"]["numbers"] = ["INV-8", "INV-7"]
    response = await sandbox.post("/v1/receivables", body)
    assert response.status_code == 409
    error = sandbox.error(response)
    assert error["code"] == "DUPLICATE_RECEIVABLE" and error["field"] == "invoice.numbers[1]"
    assert error["details"] == {"existing_receivable_id": first["id"], "invoice_number": "INV-7"}
    # Another creditor may use the same number.
    other = (await sandbox.post("/v1/users", {"email": "other@platform.example"})).json()
    await sandbox.post(f"/sandbox/users/{other['id']}/complete-onboarding", {})
    assert (await sandbox.post("/v1/receivables", receivable_body(other["id"], "INV-7"))).status_code == 201
    # Once the first is terminal, the number is free again.
    await sandbox.post(f"/v1/receivables/{first['id']}/cancel", {"reason": "incorrect_submission"})
    assert (await sandbox.post("/v1/receivables", receivable_body(sandbox.user_id, "INV-7"))).status_code == 201


async def test_list_filters_and_cursor_pagination(sandbox):
    created = [await sandbox.create(f"INV-{i}") for i in range(7)]
    await sandbox.advance(created[2]["id"], "start_recovery")
    page = await sandbox.get("/v1/receivables", limit=3)
    assert page.status_code == 200
    ReceivableList.model_validate(page.json())
    seen, cursor = [], None
    while True:
        params = {"limit": 3, **({"starting_after": cursor} if cursor else {})}
        body = (await sandbox.get("/v1/receivables", **params)).json()
        seen += [r["id"] for r in body["data"]]
        if not body["has_more"]:
            break
        cursor = body["data"][-1]["id"]
    assert seen == [r["id"] for r in reversed(created)]  # newest first, each once

    in_process = (await sandbox.get("/v1/receivables", status="in_process")).json()
    assert [r["id"] for r in in_process["data"]] == [created[2]["id"]] and in_process["has_more"] is False
    today = created[0]["created_at"][:10]
    assert len((await sandbox.get("/v1/receivables", created_after=today, created_before=today)).json()["data"]) == 7
    assert (await sandbox.get("/v1/receivables", created_after="2999-01-01")).json()["data"] == []
    assert (await sandbox.get("/v1/receivables", created_before="2000-01-01")).json()["data"] == []
    assert (await sandbox.get("/v1/receivables", user_id="usr_clv_other")).json()["data"] == []
    default = (await sandbox.get("/v1/receivables")).json()
    assert len(default["data"]) == 7 and default["has_more"] is False


async def test_default_limit_is_20(sandbox):
    body = {"receivables": [receivable_body(sandbox.user_id, f"B-{i}") for i in range(21)]}
    assert len((await sandbox.post("/v1/receivables/batch", body)).json()["successful"]) == 21
    page = (await sandbox.get("/v1/receivables")).json()
    assert len(page["data"]) == 20 and page["has_more"] is True


async def test_add_contact(sandbox):
    receivable = await sandbox.create()
    contact = {"first_name": "New", "last_name": "Contact", "email": "new.contact@debtor.example",
               "phone": "+33611111111", "level": 2}
    response = await sandbox.post(f"/v1/receivables/{receivable['id']}/contacts", contact)
    assert response.status_code == 200, response.text
    contacts = response.json()["debtor"]["contacts"]
    assert len(contacts) == 2 and contacts[1]["email"] == contact["email"] and contacts[1]["level"] == 2
    bad = await sandbox.post(f"/v1/receivables/{receivable['id']}/contacts", {**contact, "phone": "0611111111"})
    assert bad.status_code == 400 and sandbox.error(bad)["field"] == "contact.phone"
    unknown = await sandbox.post(f"/v1/receivables/{receivable['id']}/contacts", {"mail": "x@y.example"})
    assert unknown.status_code == 400 and sandbox.error(unknown)["field"] == "mail"
    await sandbox.post(f"/v1/receivables/{receivable['id']}/cancel", {"reason": "business_decision"})
    closed = await sandbox.post(f"/v1/receivables/{receivable['id']}/contacts", contact)
    assert closed.status_code == 409 and sandbox.error(closed)["code"] == "INVALID_STATE"


async def test_patch_metadata_merges_and_null_deletes(sandbox):
    receivable = await sandbox.create()
    path = f"/v1/receivables/{receivable['id']}"
    response = await sandbox.http.patch(path, json={"metadata": {"internal_note": "promised", "customer_id": "c1"}},
                                        headers=sandbox.headers)
    assert response.status_code == 200
    assert response.json()["metadata"] == {"platform_invoice_id": "plat_inv_123", "internal_note": "promised",
                                           "customer_id": "c1"}
    response = await sandbox.http.patch(path, json={"metadata": {"customer_id": None}}, headers=sandbox.headers)
    assert response.json()["metadata"] == {"platform_invoice_id": "plat_inv_123", "internal_note": "promised"}
    refused = await sandbox.http.patch(path, json={"metadata": {}, "status": "recovered"}, headers=sandbox.headers)
    assert refused.status_code == 400 and sandbox.error(refused)["field"] == "status"
    assert (await sandbox.get(path)).json()["status"] == "pending"


async def test_batch_validates_each_item_independently(sandbox):
    no_email = receivable_body(sandbox.user_id, "B-2")
    no_email["debtor"]["contacts"] = [{"phone": "+33612345678"}]
    wrong_type = receivable_body(sandbox.user_id, "B-3")
    wrong_type["invoice"]["amount"] = "lots"
    items = [receivable_body(sandbox.user_id, "B-1"), no_email, wrong_type,
             receivable_body(sandbox.user_id, "B-1"), receivable_body(sandbox.user_id, "B-4")]
    response = await sandbox.post("/v1/receivables/batch", {"receivables": items})
    assert response.status_code == 200, response.text
    result = response.json()
    assert [s["index"] for s in result["successful"]] == [0, 4]
    assert all(s["status"] == "created" and s["id"].startswith("rec_") for s in result["successful"])
    failed = {f["index"]: (f["error"], f["field"]) for f in result["failed"]}
    assert failed == {
        1: ("MISSING_EMAIL_CONTACT", "debtor.contacts[0].email"),
        2: ("VALIDATION_ERROR", "invoice.amount"),
        3: ("DUPLICATE_RECEIVABLE", "invoice.numbers[0]"),
    }
    assert all(f["message"] for f in result["failed"])
    stats = (await sandbox.get("/sandbox/stats")).json()
    assert stats["receivables"]["total"] == 2 and stats["events"] == 2


async def test_batch_limits(sandbox):
    too_many = {"receivables": [receivable_body(sandbox.user_id, f"X-{i}") for i in range(101)]}
    response = await sandbox.post("/v1/receivables/batch", too_many)
    assert response.status_code == 400 and sandbox.error(response)["field"] == "receivables"
    for body in ({"receivables": []}, {"items": []}, []):
        assert (await sandbox.post("/v1/receivables/batch", body)).status_code == 400


async def test_commission_calculate(sandbox):
    response = await sandbox.post("/v1/commission/calculate", {"amount": 5000.00, "days_overdue": 60})
    assert response.status_code == 200
    assert response.content == (b'{"rate_percentage":15.90,"rate_tier":"45-89 days","commission_amount":795.00,'
                                b'"net_recovery":4205.00,"custom_rate":false}')
    from datetime import date, timedelta

    invoice_date = (date.today() - timedelta(days=60)).isoformat()
    by_date = await sandbox.post("/v1/commission/calculate", {"amount": "5000.00", "invoice_date": invoice_date})
    assert by_date.content == response.content
    for body in ({"amount": 5000}, {"amount": 5000, "days_overdue": 60, "invoice_date": invoice_date}):
        error = sandbox.error(await sandbox.post("/v1/commission/calculate", body))
        assert error["code"] == "VALIDATION_ERROR" and "exactly one" in error["message"]
    assert (await sandbox.post("/v1/commission/calculate", {"amount": -1, "days_overdue": 1})).status_code == 400


async def test_commission_rates(sandbox):
    response = await sandbox.get("/v1/commission/rates")
    body = decimal_json(response)
    assert body["default_rates"][1] == {"days_from": 45, "days_to": 89, "rate": Decimal("15.90")}
    assert [(r["days_from"], r["days_to"], r["rate"]) for r in body["default_rates"]] == list(COMMISSION_TIERS)
    assert body["platform_custom_rate"]["enabled"] is False


async def test_webhook_endpoints(sandbox):
    response = await sandbox.post("/v1/webhooks", {"url": "https://platform.example/hooks",
                                                   "events": ["receivable.*", "payment.received"],
                                                   "description": "main"})
    assert response.status_code == 201, response.text
    endpoint = response.json()
    assert endpoint["id"].startswith("wh_") and endpoint["secret"].startswith("whsec_")
    assert endpoint["events"] == ["receivable.*", "payment.received"] and endpoint["created_at"].endswith("Z")
    listed = (await sandbox.get("/v1/webhooks")).json()["data"]
    assert [e["id"] for e in listed] == [endpoint["id"]] and "secret" not in listed[0]
    bad = await sandbox.post("/v1/webhooks", {"url": "https://x.example", "events": ["invoice.paid"]})
    assert bad.status_code == 400 and sandbox.error(bad)["field"] == "events[0]"
    bad = await sandbox.post("/v1/webhooks", {"url": "ftp://x.example", "events": ["*"]})
    assert bad.status_code == 400 and sandbox.error(bad)["field"] == "url"
    # Subscribed endpoints get a pending delivery for each matching event.
    receivable = await sandbox.create()
    events = await sandbox.outbox(receivable_id=receivable["id"])
    assert events[0]["deliveries"][0]["webhook_id"] == endpoint["id"]
    assert events[0]["deliveries"][0]["status"] == "pending"
    deleted = await sandbox.http.delete(f"/v1/webhooks/{endpoint['id']}", headers=sandbox.headers)
    assert deleted.json() == {"id": endpoint["id"], "deleted": True}
    assert (await sandbox.get("/v1/webhooks")).json()["data"] == []
