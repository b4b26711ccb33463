"""Reading receivables for a principal that acts for some creditors only (`domain.tenancy`).

Cleavr's API sees the whole platform; a caller meant for creditors a and b must see a's and b's receivables and
nothing of the others', not even that they exist. The server's guard refuses a foreign `user_id` or
`receivable_id` before a tool runs; what is left is reading without one, which is scoped here:
- a page of receivables (`receivables_page`): one creditor → the API filters (`user_id`); several → the API's
  pages are read in its own order and filtered, until the page is full, so `limit`, `has_more` and the cursor
  (always one of the caller's own ids) stay exact;
- every receivable (`receivables`), for the portfolio figures and the prompts (several creditors: one creditor
  after the other, each filtered by the API);
- one receivable (`receivable`): another creditor's is answered exactly as one that does not exist.
A principal acting for every creditor (None) reads straight through, as before.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from ..cleavr.contract import LIST_LIMIT_MAX
from ..cleavr.errors import CleavrNotFound, CleavrValidationError
from ..cleavr.models import ListReceivablesQuery, Receivable
from .tenancy import Principal, current_principal

MAX_SCAN_PAGES = 100  # several creditors: at most this many API pages (of 100) read to fill one page


def no_such_receivable(receivable_id: str) -> CleavrNotFound:
    """What a scoped caller is told of a receivable that is not theirs, and of one that does not exist: the same."""
    return CleavrNotFound(f"No receivable {receivable_id}: check the id (it starts with rec_) or list receivables.",
                          status=404)


async def receivable(client: Any, receivable_id: str, principal: Principal | None = None) -> Receivable:
    """The receivable, when the principal may act for its creditor; else CleavrNotFound as for no such id."""
    principal = principal or current_principal()
    if principal.every_creditor:
        return await client.get_receivable(receivable_id)
    try:
        found = await client.get_receivable(receivable_id)
    except CleavrNotFound:
        raise no_such_receivable(receivable_id) from None
    if not principal.may_act_for(found.user_id):
        raise no_such_receivable(receivable_id)
    return found


async def _check_cursor(client: Any, cursor: str, principal: Principal) -> None:
    """A cursor is the last row of a page the caller was shown; another creditor's id (or an unknown one) would
    let it probe what exists, so both get the same refusal."""
    try:
        await receivable(client, cursor, principal)
    except CleavrNotFound:
        raise CleavrValidationError(
            f"cursor {cursor} is not the next_cursor of one of your pages: call again without cursor to start "
            "from the newest.", field="cursor") from None


async def receivables_page(client: Any, query: ListReceivablesQuery, principal: Principal | None = None,
                           *, check_cursor: bool = True) -> tuple[list[Receivable], bool]:
    """(rows, more exist) for the principal: at most `query.limit` rows, newest first, after `starting_after`
    (`check_cursor=False`: a cursor this module produced itself, not the caller's)."""
    principal = principal or current_principal()
    if principal.every_creditor:
        page = await client.list_receivables(query)
        return page.data, page.has_more
    creditors = principal.user_ids or frozenset()
    if query.user_id is not None and query.user_id not in creditors:
        return [], False  # the server's guard refuses this first; never read another creditor's list
    if not creditors:
        return [], False
    if query.starting_after and check_cursor:
        await _check_cursor(client, query.starting_after, principal)
    if query.user_id is not None or len(creditors) == 1:
        page = await client.list_receivables(query.model_copy(update={"user_id": query.user_id or next(iter(creditors))}))
        return [r for r in page.data if principal.may_act_for(r.user_id)], page.has_more
    rows: list[Receivable] = []
    scan = query.model_copy(update={"limit": LIST_LIMIT_MAX})
    for _ in range(MAX_SCAN_PAGES):
        page = await client.list_receivables(scan)
        for r in page.data:
            if principal.may_act_for(r.user_id):
                rows.append(r)
                if len(rows) > query.limit:  # one more than asked: more exist, and the cursor is the last shown
                    return rows[: query.limit], True
        if not page.has_more or not page.data:
            return rows, False
        scan = scan.model_copy(update={"starting_after": page.data[-1].id})
    if rows:  # scanned enough for one call: what was found, and a cursor to go on from
        return rows, True
    # Nothing of the caller's in the span read: no cursor can be given (a cursor is always one of the caller's own
    # ids), and "nothing more" might be false, so say what to do instead.
    raise CleavrValidationError(
        f"None of your receivables among the newest {MAX_SCAN_PAGES * LIST_LIMIT_MAX} of the platform matching "
        "these filters: call list_receivables with user_id (one of your creditors) for each of them, or narrow "
        "created_before / created_after.", field="user_id")


async def receivables(client: Any, query: ListReceivablesQuery, principal: Principal | None = None,
                      *, limit: int | None = None) -> AsyncIterator[Receivable]:
    """Every receivable of the principal matching `query` (at most `limit`), newest first, page after page; for a
    principal of several creditors and no `user_id`, creditor by creditor (the API filters each: no scan of other
    creditors' rows, however many the platform holds)."""
    principal = principal or current_principal()
    if query.user_id is None and principal.user_ids is not None and len(principal.user_ids) > 1:
        seen = 0
        for user_id in sorted(principal.user_ids):
            left = None if limit is None else limit - seen
            async for r in receivables(client, query.model_copy(update={"user_id": user_id}), principal, limit=left):
                yield r
                seen += 1
            if limit is not None and seen >= limit:
                return
        return
    page_query = query.model_copy(update={"limit": LIST_LIMIT_MAX})
    seen = 0
    while True:
        rows, more = await receivables_page(client, page_query, principal, check_cursor=False)
        for r in rows:
            yield r
            seen += 1
            if limit is not None and seen >= limit:
                return
        if not more or not rows:
            return
        page_query = page_query.model_copy(update={"starting_after": rows[-1].id})
