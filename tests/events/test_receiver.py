"""The receiver over a real socket: signature before parsing, 401/413/400, replays stored once, persisted first."""

from __future__ import annotations

import httpx2
import pytest

from cleavr_mcp.cleavr import wire
from cleavr_mcp.cleavr.webhooks import sign
from cleavr_mcp.events.hub import EventHub
from cleavr_mcp.events.receiver import MAX_BODY_BYTES

from .conftest import SECRET, envelope, listening, signed

pytestmark = pytest.mark.anyio


@pytest.fixture
async def receiver(settings):
    hub = EventHub(settings)
    async with listening(hub) as url, httpx2.AsyncClient() as http:
        yield hub, url, http
    await hub.close()


async def stored(hub: EventHub) -> int:
    return (await hub.inbox.count())


async def test_valid_delivery_is_stored_exactly_as_received(receiver):
    hub, url, http = receiver
    raw, headers = signed(envelope("evt_valid0001"))
    resp = await http.post(url, content=raw, headers=headers)
    assert resp.status_code == 200 and resp.json() == {"received": True, "id": "evt_valid0001", "duplicate": False}
    assert (await stored(hub)) == 1
    event = (await hub.inbox.get("evt_valid0001"))
    assert (event.type, event.receivable_id, event.source, event.derived, event.handled) == (
        "receivable.disputed", "rec_test0001", "webhook", False, False)
    assert event.data["dispute"]["reason"] == "service_not_delivered"


async def test_wrong_secret_is_401_and_nothing_stored(receiver):
    hub, url, http = receiver
    raw, headers = signed(envelope(), secret="whsec_someone_else")
    resp = await http.post(url, content=raw, headers=headers)
    assert resp.status_code == 401 and resp.json() == {"error": "invalid_signature"}
    assert (await stored(hub)) == 0


async def test_missing_signature_is_401_and_nothing_stored(receiver):
    hub, url, http = receiver
    raw, headers = signed(envelope())
    del headers["Cleavr-Signature"]
    resp = await http.post(url, content=raw, headers=headers)
    assert resp.status_code == 401
    empty = await http.post(url, content=raw, headers={**headers, "Cleavr-Signature": ""})
    assert empty.status_code == 401
    assert (await stored(hub)) == 0


async def test_tampered_body_is_401_and_nothing_stored(receiver):
    hub, url, http = receiver
    raw, headers = signed(envelope(amount="100.00"))
    tampered = raw.replace(b'"100.00"', b'"900.00"')
    assert tampered != raw
    resp = await http.post(url, content=tampered, headers=headers)
    assert resp.status_code == 401
    # Re-serialising the same JSON changes the bytes: the HMAC is over the raw body, not the parsed object.
    reordered = wire.dumps(dict(reversed(list(wire.loads(raw).items()))))
    assert (await http.post(url, content=reordered, headers=headers)).status_code == 401
    assert (await stored(hub)) == 0


async def test_replayed_event_id_is_accepted_and_stored_once(receiver):
    hub, url, http = receiver
    raw, headers = signed(envelope("evt_replay0001"))
    first = await http.post(url, content=raw, headers=headers)
    again = await http.post(url, content=raw, headers=headers)
    # Same id, different (validly signed) body: still the same event, the first copy is kept.
    other_raw, other_headers = signed(envelope("evt_replay0001", event_type="payment.received", amount="1.00"))
    other = await http.post(url, content=other_raw, headers=other_headers)
    assert [r.status_code for r in (first, again, other)] == [200, 200, 200]
    assert [r.json()["duplicate"] for r in (first, again, other)] == [False, True, True]
    assert (await stored(hub)) == 1
    assert (await hub.inbox.get("evt_replay0001")).type == "receivable.disputed"


async def test_oversized_body_is_413_and_nothing_stored(receiver):
    hub, url, http = receiver
    big = envelope("evt_big00001", padding="x" * MAX_BODY_BYTES)
    raw, headers = signed(big)
    assert len(raw) > MAX_BODY_BYTES
    resp = await http.post(url, content=raw, headers=headers)
    assert resp.status_code == 413

    async def chunks():  # no Content-Length: the cap applies while reading
        for i in range(0, len(raw), 64 * 1024):
            yield raw[i:i + 64 * 1024]

    streamed = await http.post(url, content=chunks(), headers=headers)
    assert streamed.status_code == 413
    exactly = envelope("evt_limit0001")
    exactly["data"]["padding"] = ""
    room = MAX_BODY_BYTES - len(wire.dumps(exactly))
    exactly["data"]["padding"] = "y" * room
    raw_limit, headers_limit = signed(exactly)
    assert len(raw_limit) == MAX_BODY_BYTES
    assert (await http.post(url, content=raw_limit, headers=headers_limit)).status_code == 200
    assert (await stored(hub)) == 1


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2, 3]", b'{"type": "receivable.disputed", "data": {}}',
                                  b'{"id": "evt_x", "data": {}}', b"\xff\xfe garbage"])
async def test_malformed_signed_body_is_400_and_nothing_stored(receiver, body):
    hub, url, http = receiver
    raw, headers = signed(body)
    resp = await http.post(url, content=raw, headers=headers)
    assert resp.status_code == 400 and resp.json()["error"] == "malformed_event"
    assert (await stored(hub)) == 0


async def test_signature_is_checked_before_parsing(receiver):
    hub, url, http = receiver
    resp = await http.post(url, content=b"{not json", headers={"Cleavr-Signature": "00" * 32})
    assert resp.status_code == 401  # not 400: an unsigned body is never parsed
    assert (await http.get(url)).status_code == 405
    assert (await stored(hub)) == 0


async def test_secrets_of_registered_endpoints_are_accepted(settings):
    from cleavr_mcp.cleavr.models import WebhookEndpoint
    from cleavr_mcp.config import Settings

    hub = EventHub(Settings(_env_file=None, data_dir=settings.data_dir))
    async with listening(hub) as url, httpx2.AsyncClient() as http:
        raw, headers = signed(envelope("evt_noconfig01"))
        assert (await http.post(url, content=raw, headers=headers)).status_code == 401  # no secret known yet
        for n, secret in enumerate(("whsec_old_one", "whsec_new_one")):
            hub.endpoints.add(WebhookEndpoint(id=f"wh_{n}", url=url, secret=secret, events=["*"]), "sandbox")
        for n, secret in enumerate(("whsec_old_one", "whsec_new_one")):
            raw, headers = signed(envelope(f"evt_rotate000{n}"), secret=secret)
            assert (await http.post(url, content=raw, headers=headers)).status_code == 200
    assert (await hub.inbox.count()) == 2
    assert oct(hub.endpoints.path.stat().st_mode & 0o777) == "0o600"
    assert SECRET not in hub.endpoints.path.read_text()
    await hub.close()


async def test_the_http_server_mounts_the_receiver(settings):
    """The same receiver on the MCP HTTP app (no bearer auth there: the HMAC is the authentication)."""
    from cleavr_mcp.config import Settings
    from cleavr_mcp.server.app import build_server
    from cleavr_mcp.server.http import build_http_app

    http_settings = Settings(_env_file=None, data_dir=settings.data_dir, webhook_secret=SECRET,
                             base_url="http://127.0.0.1:9", auth_tokens=["secret-token"])
    app = build_http_app(build_server(http_settings), http_settings)
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://127.0.0.1") as http:
        raw, headers = signed(envelope("evt_onhttp0001"))
        ok = await http.post("/webhooks/cleavr", content=raw, headers=headers)
        bad = await http.post("/webhooks/cleavr", content=raw, headers={**headers, "Cleavr-Signature": sign("x", raw)})
        mcp = await http.post("/mcp", json={}, headers={"Accept": "application/json, text/event-stream"})
    assert (ok.status_code, bad.status_code) == (200, 401)
    assert mcp.status_code == 401  # /mcp keeps its bearer auth
    from cleavr_mcp.events.store import EventInbox

    inbox = EventInbox(http_settings.data_dir / "server.sqlite3")
    assert (await inbox.count()) == 1 and (await inbox.get("evt_onhttp0001")) is not None
    await inbox.close()
