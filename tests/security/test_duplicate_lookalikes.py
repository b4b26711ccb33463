"""Look-alike invoice numbers are one invoice: the second submission never creates a second receivable.

"The same invoice" (cleavr/idempotency.py): the same creditor, the same set of invoice numbers once folded (NFKC,
invisible characters removed, dashes as "-", case folded) and the same amount. The debtor is not part of it.
"""

from __future__ import annotations

import pytest

from cleavr_mcp.cleavr.idempotency import receivable_key
from cleavr_mcp.cleavr.models import ReceivableCreate
from cleavr_mcp.cleavr.text import fold_identifier
from cleavr_mcp.toolkit.errors import error_of

from .conftest import Human, client, demo_user, submission

pytestmark = pytest.mark.anyio

PAIRS = {
    # (first number, first has a SIRET), (second number, second has a SIRET)
    "zero-width-space": (("DUP-E", True), ("DUP\u200b-E", True)),
    "full-width": (("DUP-F", True), ("ＤＵＰ-Ｆ", True)),
    "full-width-hyphen": (("DUP-F2", True), ("DUP－F2", True)),
    "en-dash": (("DUP-G", True), ("DUP–G", True)),
    "em-dash": (("DUP-G2", True), ("DUP—G2", True)),
    "minus-sign": (("DUP-G3", True), ("DUP−G3", True)),
    "non-breaking-hyphen": (("DUP-G4", True), ("DUP\u2011G4", True)),
    "case-and-siret-dropped": (("DUP-H", True), ("dup-h", False)),
    "siret-added-later": (("DUP-I", False), ("DUP-I", True)),
    "extra-spaces": (("DUP J", True), ("  dup   j ", True)),
    "ligature": (("DUP-ﬁ", True), ("DUP-fi", True)),
    "mathematical-bold": (("DUP-K", True), ("𝐃𝐔𝐏-𝐊", True)),
}


@pytest.mark.parametrize("pair", sorted(PAIRS))
async def test_look_alike_numbers_give_one_receivable(server, settings, admin, pair):
    (first, first_siret), (second, second_siret) = PAIRS[pair]
    user = demo_user(settings)
    async with client(server, human=Human()) as c:
        one = await c.call_tool("submit_receivable", {"receivable": submission(
            user, number=first, siret="73282932000074" if first_siret else None)})
        assert not one.is_error, one.content
        two = await c.call_tool("submit_receivable", {"receivable": submission(
            user, number=second, siret="73282932000074" if second_siret else None)})
    first_id = one.structured_content["receivable"]["id"]
    if two.is_error:  # refused at input (invisible character) or "already submitted as rec_…"
        error = error_of(two)
        assert error["code"] in {"VALIDATION_ERROR", "IDEMPOTENCY_KEY_REUSED", "DUPLICATE_RECEIVABLE"}, error
        if error["code"] != "VALIDATION_ERROR":
            assert first_id in error["message"]
    else:
        assert two.structured_content["receivable"]["id"] == first_id
    assert await admin.receivable_count() == 1


@pytest.mark.parametrize("pair", sorted(PAIRS))
def test_look_alike_numbers_give_one_key(pair):
    (first, first_siret), (second, second_siret) = PAIRS[pair]

    def create(number: str, siret: bool) -> ReceivableCreate:
        body = submission("usr_clv_demo0001", number=fold_identifier(number) if "\u200b" in number else number,
                          siret="73282932000074" if siret else None)
        return ReceivableCreate.model_validate(body)

    assert receivable_key(create(first, first_siret)) == receivable_key(create(second, second_siret))


def test_different_invoices_keep_different_keys():
    def key(number: str, amount: str = "5000.00") -> str:
        return receivable_key(ReceivableCreate.model_validate(submission("usr_clv_demo0001", number=number,
                                                                         amount=amount)))

    assert len({key("DUP-1"), key("DUP-2"), key("DUP1"), key("DUP-1", "5000.01"), key("DUP.1")}) == 5
