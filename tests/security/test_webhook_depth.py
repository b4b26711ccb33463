"""A signed webhook nested absurdly deep is a 400 malformed_event, checked before parsing — never a 500 from a
RecursionError — on the HTTP server's receiver and the stdio listener; a normal event still goes through."""

from __future__ import annotations

import httpx2
import pytest

from cleavr_mcp.cleavr import wire
from cleavr_mcp.events.hub import EventHub
from tests.events.conftest import envelope, listening, settings, signed  # noqa: F401 - settings is a fixture

pytestmark = pytest.mark.anyio


def _deep(levels: int, opener: str = "[", closer: str = "]") -> bytes:
    return (opener * levels + closer * levels).encode()


DEEP_BODIES = {
    "arrays-50000": _deep(50_000),
    "objects-50000": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "in-data-5000": b'{"id":"evt_deep0001","type":"receivable.paid","created_at":"2026-01-01T00:00:00Z","data":'
                    + b'{"x":' * 5_000 + b"1" + b"}" * 5_001,
    "unclosed-100000": b"[" * 100_000,
    "mixed-3000": b'[{"a":' * 3_000 + b"0" + b"}]" * 3_000,
    "just-over-limit-65": _deep(65),
}


@pytest.mark.parametrize("name", sorted(DEEP_BODIES))
async def test_a_deep_signed_webhook_is_a_400_malformed_event(settings, name):  # noqa: F811
    hub = EventHub(settings)
    raw, headers = signed(DEEP_BODIES[name])
    try:
        async with listening(hub) as url, httpx2.AsyncClient(timeout=30) as http:
            resp = await http.post(url, content=raw, headers=headers)
            fine = await http.post(url, content=(ok := signed(envelope("evt_fine0001")))[0], headers=ok[1])
    finally:
        await hub.close()
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"] == "malformed_event"
    assert fine.status_code == 200 and await hub.inbox.count() == 1


def test_depth_is_counted_without_parsing_and_ignores_brackets_in_strings():
    assert wire.nesting_depth(b'{"a": "[[[[{{{{", "b": [1, {"c": "\\"]"}]}') == 3
    assert wire.nesting_depth(_deep(10**6), limit=64) == 65  # stops early
    with pytest.raises(wire.TooDeepError):
        wire.loads(_deep(100_000))  # even without a limit: no RecursionError
