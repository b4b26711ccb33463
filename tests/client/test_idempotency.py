"""Content-derived idempotency keys: the same submission always maps to the same key, different ones never collide."""

from __future__ import annotations

import json

import pytest

from cleavr_mcp.cleavr import batch_key, content_key, prepare_receivable, receivable_key
from cleavr_mcp.cleavr.idempotency import debtor_identity
from cleavr_mcp.cleavr.models import CancelRequest, ReceivableCreate

from .helpers import DELETE, VALID_VAT, receivable_request


def key(req: ReceivableCreate) -> str:
    return receivable_key(prepare_receivable(req))


def test_key_shape_is_prefixed_and_short():
    k = key(receivable_request())
    assert k.startswith("cmcp-rec-") and len(k) == len("cmcp-rec-") + 40


def test_same_submission_rebuilt_differently_gets_the_same_key():
    base = receivable_request()
    # The same invoice as a model might retype it: key order, phone format, extra contacts, force_proceed,
    # description, metadata, number order/case/spacing, SIRET with spaces, amount written without cents.
    raw = json.loads(base.model_dump_json())
    reordered = ReceivableCreate.model_validate(dict(reversed(list(raw.items()))))
    variants = [
        reordered,
        receivable_request(debtor__contacts=[{"email": "marie.martin@debtorcorp.example", "phone": "+33612345678"}]),
        receivable_request(debtor__contacts=[
            {"email": "other@debtorcorp.example"}, {"email": "x@debtorcorp.example", "phone": "0698765432"}]),
        receivable_request(force_proceed=True),
        receivable_request(invoice__service_description="Totally different words"),
        receivable_request(metadata={"notes": "retry from a new tool call"}),
        receivable_request(invoice__numbers=["  inv-2025-001 "]),
        receivable_request(debtor__siret="732 829 320 00074"),
        receivable_request(invoice__amount="5000", invoice__amount_before_tax="4166.67"),
        receivable_request(invoice__issue_date="2025-08-02"),
        receivable_request(debtor__company_name="DEBTOR  corp (renamed)"),  # identity is the SIRET
    ]
    expected = key(base)
    assert [key(v) for v in variants] == [expected] * len(variants)


def test_number_order_does_not_matter_but_the_set_does():
    a = receivable_request(invoice__numbers=["INV-1", "INV-2"])
    b = receivable_request(invoice__numbers=["INV-2", "INV-1"])
    c = receivable_request(invoice__numbers=["INV-1"])
    assert key(a) == key(b) != key(c)


@pytest.mark.parametrize(
    "changes",
    [
        {"invoice__amount": "5000.01", "invoice__amount_before_tax": "4166.68"},
        {"invoice__numbers": ["INV-2025-002"]},
        {"user_id": "usr_clv_other"},
    ],
    ids=["amount", "number", "user"],
)
def test_different_submissions_get_different_keys(changes):
    assert key(receivable_request(**changes)) != key(receivable_request())


def test_debtor_identity_falls_back_to_vat_then_name():
    def identity(req):
        return debtor_identity(prepare_receivable(req).debtor)

    by_vat = receivable_request(debtor__siret=DELETE, debtor__vat_number=VALID_VAT)
    by_vat_spaced = receivable_request(debtor__siret=DELETE, debtor__vat_number="fr 44 732829320")
    by_name = receivable_request(debtor__siret=DELETE, debtor__company_name="Debtor   Corp")
    by_name_case = receivable_request(debtor__siret=DELETE, debtor__company_name="debtor corp")
    other_name = receivable_request(debtor__siret=DELETE, debtor__company_name="Creditor Corp")
    assert identity(by_vat) == identity(by_vat_spaced)
    assert identity(by_name) == identity(by_name_case) != identity(other_name)
    assert len({identity(by_vat), identity(by_name), identity(receivable_request())}) == 3


def test_the_debtor_is_not_part_of_the_key():
    # Creditor + invoice numbers + amount name one invoice: how fully the debtor was described must not matter.
    assert key(receivable_request(debtor__siret="55208131766522")) == key(receivable_request())
    assert key(receivable_request(debtor__siret=DELETE)) == key(receivable_request())


def test_batch_key_depends_on_items_and_order():
    a, b = receivable_request(), receivable_request(invoice__numbers=["INV-9"])
    assert batch_key([a, b]) == batch_key([a, b.model_copy()])
    assert batch_key([a, b]) != batch_key([b, a])
    assert batch_key([a]) != batch_key([a, b])
    assert batch_key([a]).startswith("cmcp-bat-")


def test_content_key_covers_target_and_body():
    cancel = CancelRequest(reason="paid_directly", notes="paid")
    k1 = content_key("cancel", {"receivable_id": "rec_1", "body": cancel})
    assert k1 == content_key("cancel", {"body": cancel, "receivable_id": "rec_1"})
    assert k1 != content_key("cancel", {"receivable_id": "rec_2", "body": cancel})
    assert k1 != content_key("cancel", {"receivable_id": "rec_1", "body": CancelRequest(reason="paid_directly")})
    assert k1 != content_key("evidence", {"receivable_id": "rec_1", "body": cancel})
    assert k1.startswith("cmcp-cancel-")
