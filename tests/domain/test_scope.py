"""domain.scope on a platform where the caller's rows are rare: an in-memory list stands in for Cleavr's list
endpoint (newest first, starting_after, has_more), so thousands of other creditors' rows cost nothing."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from cleavr_mcp.cleavr.errors import CleavrValidationError
from cleavr_mcp.cleavr.models import ListReceivablesQuery
from cleavr_mcp.domain import scope
from cleavr_mcp.domain.tenancy import Principal

pytestmark = pytest.mark.anyio


class Platform:
    def __init__(self, owners: list[str]) -> None:
        self.rows = [SimpleNamespace(id=f"rec_{i:06d}", user_id=owner) for i, owner in enumerate(owners)]
        self.calls: list[ListReceivablesQuery] = []

    async def list_receivables(self, query: ListReceivablesQuery):
        self.calls.append(query)
        rows = [r for r in self.rows if query.user_id is None or r.user_id == query.user_id]
        if query.starting_after:
            rows = rows[[r.id for r in rows].index(query.starting_after) + 1:]
        return SimpleNamespace(data=rows[: query.limit], has_more=len(rows) > query.limit)


TWO = Principal(name="two", user_ids=frozenset({"usr_clv_a", "usr_clv_b"}), source="principals-file")


async def test_a_page_beyond_the_scan_span_is_an_honest_error_not_an_empty_end(monkeypatch):
    monkeypatch.setattr(scope, "MAX_SCAN_PAGES", 3)
    platform = Platform(["usr_clv_other"] * 400 + ["usr_clv_a"])
    with pytest.raises(CleavrValidationError, match="call list_receivables with user_id"):
        await scope.receivables_page(platform, ListReceivablesQuery(limit=20), TWO)
    assert len(platform.calls) == 3


async def test_rows_found_within_the_span_come_with_a_cursor(monkeypatch):
    monkeypatch.setattr(scope, "MAX_SCAN_PAGES", 3)
    platform = Platform(["usr_clv_a"] + ["usr_clv_other"] * 400 + ["usr_clv_b"])
    rows, more = await scope.receivables_page(platform, ListReceivablesQuery(limit=20), TWO)
    assert [r.user_id for r in rows] == ["usr_clv_a"] and more


async def test_every_receivable_of_several_creditors_is_read_creditor_by_creditor(monkeypatch):
    monkeypatch.setattr(scope, "MAX_SCAN_PAGES", 1)  # a scan would give up long before the end
    platform = Platform(["usr_clv_a"] * 3 + ["usr_clv_other"] * 5000 + ["usr_clv_b"] * 2)
    found = [r async for r in scope.receivables(platform, ListReceivablesQuery(), TWO)]
    assert sorted(r.user_id for r in found) == ["usr_clv_a"] * 3 + ["usr_clv_b"] * 2
    assert {q.user_id for q in platform.calls} == {"usr_clv_a", "usr_clv_b"}
    limited = [r async for r in scope.receivables(platform, ListReceivablesQuery(), TWO, limit=4)]
    assert len(limited) == 4
