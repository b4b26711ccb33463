"""The whole loop on the real Cleavr sandbox (CleverInvo mounted inside it, as `cleavr-mcp sandbox` serves it):
every recoverable seeded invoice maps to a receivable the Cleavr sandbox accepts, once."""

from __future__ import annotations

from datetime import date

import httpx2
import pytest

from cleavr_mcp.cleavr import wire
from cleavr_mcp.cleavr.contract import IDEMPOTENCY_HEADER, IDEMPOTENT_REPLAYED_HEADER
from cleavr_mcp.cleverinvo import assess, client_from_settings, idempotency_key_for_invoice, to_receivable
from cleavr_mcp.config import Settings
from cleavr_mcp.sandbox import SandboxConfig, create_app
from cleavr_mcp.sandbox.cleverinvo import RECOVERABLE_SEED_INVOICES, sandbox_api_key
from cleavr_mcp.sandbox.testing import api_headers, demo_user_id, sandbox_access_token, sandbox_credentials

pytestmark = pytest.mark.anyio
ROOT = "http://sandbox.test"


async def test_recoverable_seed_invoices_become_receivables_exactly_once(tmp_path):
    db = tmp_path / "sandbox.sqlite3"
    app = create_app(SandboxConfig(db_path=db, rate_limit_per_second=100_000))
    today = date.today()  # the mounted CleverInvo sandbox seeds relative to the real today
    settings = Settings(sandbox_db=db, data_dir=tmp_path)
    async with httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app)) as http:
        ci = client_from_settings(settings, http, sandbox_url=ROOT, sandbox_key=sandbox_api_key(db))
        assert ci.base_url == ROOT + "/cleverinvo/api/v1"
        token = (await sandbox_access_token(http, ROOT, *sandbox_credentials(db)))["access_token"]
        user_id = demo_user_id(db)

        verdicts = []
        async for row in ci.iter_invoices():
            client = await ci.get_client(row.client_id)
            verdicts.append((row, client, assess(row, client, today)))
        recoverable = [(row, client) for row, client, v in verdicts if v.recoverable]
        assert len(recoverable) == RECOVERABLE_SEED_INVOICES

        async def submit(invoice, client):
            full = await ci.get_invoice(invoice.id)
            mapped = to_receivable(full, client, user_id=user_id, today=today)
            assert mapped.missing in ([], ["phone"]), mapped
            body = mapped.to_model(force_proceed=True if mapped.missing else None)
            key = idempotency_key_for_invoice(invoice.id, user_id)
            return await http.post(f"{ROOT}/v1/receivables", content=wire.dumps(body),
                                   headers=api_headers(token, **{IDEMPOTENCY_HEADER: key,
                                                                 "Content-Type": "application/json"}))

        first_ids = {}
        for invoice, client in recoverable:
            response = await submit(invoice, client)
            assert response.status_code == 201, (invoice.invoice_number, response.text)
            first_ids[invoice.id] = wire.loads(response.content)["id"]

        # Recovering the same invoices again replays: no second receivable.
        for invoice, client in recoverable[:3]:
            again = await submit(invoice, client)
            assert again.headers.get(IDEMPOTENT_REPLAYED_HEADER) == "true"
            assert wire.loads(again.content)["id"] == first_ids[invoice.id]

        listed = await http.get(f"{ROOT}/v1/receivables", params={"limit": 100}, headers=api_headers(token))
        receivables = wire.loads(listed.content)["data"]
        assert len(receivables) == RECOVERABLE_SEED_INVOICES
        submitted = {r["metadata"]["platform_invoice_id"] for r in receivables}
        assert submitted == set(first_ids)
        assert not any(assess(row, client, today, submitted).recoverable for row, client, _ in verdicts)

        # The partially paid ones went in for what is still due.
        partial = {r["metadata"]["platform_invoice_id"]: r for r in receivables if "amount_paid" in r["metadata"]}
        assert len(partial) == 2
        for invoice_id, receivable in partial.items():
            row = next(r for r, _, _ in verdicts if r.id == invoice_id)
            assert receivable["amount"] == row.total - row.amount_paid
    assert sandbox_api_key(db) == ci._key


def test_client_from_settings_modes(tmp_path):
    http = httpx2.AsyncClient()
    live = client_from_settings(Settings(cleverinvo_base_url="https://cleverinvo.com/api/v1",
                                         cleverinvo_api_key="cinv_live"), http)
    assert live.base_url == "https://cleverinvo.com/api/v1"
    with pytest.raises(ValueError, match="API_KEY"):
        client_from_settings(Settings(cleverinvo_base_url="https://cleverinvo.com/api/v1"), http)
    # Real Cleavr without CleverInvo configured: never the demo data.
    assert client_from_settings(Settings(base_url="https://api.cleavr.fr"), http) is None
    with pytest.raises(ValueError, match="sandbox_url"):
        client_from_settings(Settings(sandbox_db=tmp_path / "s.db"), http)
