"""Every CleverInvo endpoint and error, through CleverInvoClient, against the sandbox over real HTTP."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

import httpx2
import pytest

from cleavr_mcp.cleverinvo import errors
from cleavr_mcp.cleverinvo.client import CleverInvoClient
from cleavr_mcp.cleverinvo.models import ClientCreate, InvoiceCreate, InvoiceStatus, LineItemInput

from .conftest import TODAY, asgi_http

pytestmark = pytest.mark.anyio

WEB_DEV = {"description": "Web Development", "quantity": 40, "unitPrice": Decimal("125.00"), "taxRate": 10}


async def test_clients_crud_paging_search_and_soft_delete(http_sandbox):
    async with httpx2.AsyncClient(timeout=10) as http:
        ci = http_sandbox.client(http)
        first = await ci.list_clients(limit=5)
        assert (first.total, first.page, first.limit, first.total_pages) == (11, 1, 5, 3)  # 12 seeded, 1 deleted
        assert first.has_more
        names = [c.name async for c in ci.iter_clients(page_size=4)]
        assert len(names) == 11 and len(set(names)) == 11
        assert "Brasserie du Port" not in names  # soft-deleted at seed time
        assert names == sorted(names, key=str.lower)

        found = await ci.search_clients("acme")
        assert [c.name for c in found.data] == ["Acme Corp"]
        by_email = await ci.search_clients("THAMES-DIGITAL")
        assert [c.tax_id for c in by_email.data] == ["GB123456789"]

        created = await ci.create_client(
            ClientCreate(name="Acme Corp", email="billing@acme.com", address="123 Main St, New York, NY 10001",
                         tax_id="US-123456789", phone="+1-555-0100", notes="Net 30 terms")
        )
        assert created.id.startswith("clx") and created.is_active and created.created_at is not None
        assert (await ci.get_client(created.id)).email == "billing@acme.com"

        updated = await ci.update_client(created.id, {"name": "Acme Corporation", "phone": "+1-555-0200"})
        assert (updated.name, updated.phone, updated.email) == ("Acme Corporation", "+1-555-0200", "billing@acme.com")
        cleared = await ci.update_client(created.id, {"notes": None})
        assert cleared.notes is None and cleared.tax_id == "US-123456789"

        assert await ci.delete_client(created.id) is None
        assert (await ci.list_clients(search="Acme Corporation")).total == 0
        gone = await ci.get_client(created.id)  # still readable by id, inactive (invoices keep their client)
        assert gone.is_active is False
        with pytest.raises(errors.NotFoundError):
            await ci.delete_client(created.id)
        with pytest.raises(errors.NotFoundError):
            await ci.update_client(created.id, {"name": "x"})


async def test_invoices_create_totals_update_draft_only_delete(http_sandbox):
    async with httpx2.AsyncClient(timeout=10) as http:
        ci = http_sandbox.client(http)
        client = (await ci.search_clients("Boulangerie")).data[0]
        body = InvoiceCreate(
            client_id=client.id, invoice_number="INV-0042", currency="USD", issue_date=date(2024, 6, 1),
            due_date=date(2024, 7, 1), line_items=[LineItemInput.model_validate(WEB_DEV)],
            notes="Thank you for your business", terms="Payment due within 30 days",
        )
        saved = await ci.create_invoice(body)
        assert (saved.invoice_number, saved.total, saved.status) == ("INV-0042", Decimal("5500.00"), "DRAFT")

        full = await ci.get_invoice(saved.id)
        assert full.line_items[0].amount == Decimal("5000.00") and full.line_items[0].quantity == 40
        assert (full.subtotal, full.tax_total, full.discount_total, full.total) == (
            Decimal("5000.00"), Decimal("500.00"), Decimal("0.00"), Decimal("5500.00"))
        assert full.issue_date == date(2024, 6, 1) and full.client.name == client.name
        assert full.sent_via_email is False and full.paid_at is None and full.terms == "Payment due within 30 days"

        edited = await ci.update_invoice(saved.id, {
            "dueDate": "2024-07-15", "notes": "Updated scope",
            "lineItems": [{**WEB_DEV, "quantity": 50}],
        })
        assert edited.total == Decimal("6875.00")
        assert (await ci.get_invoice(saved.id)).due_date == date(2024, 7, 15)

        # Sandbox extension: a DRAFT can be moved on; then it is no longer editable.
        sent = await ci.update_invoice(saved.id, {"status": "SENT"})
        assert sent.status == InvoiceStatus.SENT
        with pytest.raises(errors.BadRequestError, match="Only DRAFT invoices can be edited"):
            await ci.update_invoice(saved.id, {"notes": "too late"})

        with pytest.raises(errors.BadRequestError, match="already exists"):
            await ci.create_invoice(body)

        # Sandbox extension: build a PARTIALLY_PAID invoice for tests.
        other = await ci.create_invoice(body.model_copy(update={"invoice_number": "INV-0043"}))
        await ci.update_invoice(other.id, {"status": "PARTIALLY_PAID", "amount_paid": "1500.00"})
        partial = await ci.get_invoice(other.id)
        assert (partial.status, partial.amount_paid, partial.amount_due) == (
            "PARTIALLY_PAID", Decimal("1500.00"), Decimal("4000.00"))
        assert partial.sent_via_email is True and partial.sent_at is not None

        assert await ci.delete_invoice(saved.id) is None
        with pytest.raises(errors.NotFoundError):
            await ci.get_invoice(saved.id)
        with pytest.raises(errors.NotFoundError):
            await ci.delete_invoice(saved.id)


async def test_invoice_list_filters_search_and_iteration(http_sandbox):
    async with httpx2.AsyncClient(timeout=10) as http:
        ci = http_sandbox.client(http)
        everything = [inv async for inv in ci.iter_invoices(page_size=7)]
        assert len(everything) == 40 and len({i.id for i in everything}) == 40
        overdue = [inv async for inv in ci.iter_invoices(status="OVERDUE")]
        assert len(overdue) == 18 and {i.status for i in overdue} == {InvoiceStatus.OVERDUE}

        acme = (await ci.search_clients("acme")).data[0]
        of_acme = await ci.list_invoices(client_id=acme.id, limit=100)
        assert of_acme.total == 4 and {i.client_id for i in of_acme.data} == {acme.id}
        assert {i.currency for i in of_acme.data} == {"USD"}
        drafts_of_acme = await ci.list_invoices(client_id=acme.id, status=InvoiceStatus.DRAFT)
        assert drafts_of_acme.total == 1

        by_number = await ci.list_invoices(search="inv-0007")
        assert [i.invoice_number for i in by_number.data] == ["INV-0007"]
        by_client_name = await ci.list_invoices(search="papillon", limit=100)
        assert by_client_name.total == 4
        assert all(i.client.name == "Librairie Papillon" for i in by_client_name.data)
        # Accents fold like ASCII case does: "ÉCLAT", "éclat" and "Éclat" find the same client.
        accented = {(await ci.list_invoices(search=q, limit=100)).total for q in ("Nettoyage Éclat", "nettoyage éclat",
                                                                                   "NETTOYAGE ÉCLAT")}
        assert accented == {sum(1 for i in everything if i.client.name == "Nettoyage Éclat SAS")} != {0}

        page2 = await ci.list_invoices(page=2, limit=15)
        assert (page2.page, page2.limit, page2.total, page2.total_pages, len(page2.data)) == (2, 15, 40, 3, 15)
        beyond = await ci.list_invoices(page=9, limit=15)
        assert beyond.data == [] and beyond.total == 40

        partial = (await ci.list_invoices(status="PARTIALLY_PAID")).data
        assert len(partial) == 3 and all(Decimal(0) < p.amount_paid < p.total for p in partial)
        assert all(p.amount_due == p.total - p.amount_paid for p in partial)


async def test_pdf_download_streams_to_file_with_server_filename(http_sandbox, tmp_path):
    async with httpx2.AsyncClient(timeout=10) as http:
        ci = http_sandbox.client(http)
        inv = (await ci.list_invoices(search="INV-0012")).data[0]
        got = await ci.download_invoice_pdf(inv.id, tmp_path)
        assert got.filename == "INV-0012.pdf" and got.path == tmp_path / "INV-0012.pdf"
        assert got.content_type == "application/pdf"
        data = got.path.read_bytes()
        assert data.startswith(b"%PDF-") and len(data) == got.size

        explicit = await ci.download_invoice_pdf(inv.id, tmp_path / "sub" / "copy.pdf")
        assert explicit.path.read_bytes() == data and explicit.filename == "INV-0012.pdf"

        with pytest.raises(errors.PdfTooLargeError):
            await ci.download_invoice_pdf(inv.id, tmp_path / "capped.pdf", max_bytes=1000)
        assert not (tmp_path / "capped.pdf").exists()
        with pytest.raises(errors.NotFoundError):
            await ci.download_invoice_pdf("clxnope", tmp_path / "none.pdf")
        assert not (tmp_path / "none.pdf").exists()


async def test_errors_401_400_404_and_the_key_never_leaks(http_sandbox, caplog):
    caplog.set_level(logging.DEBUG)
    async with httpx2.AsyncClient(timeout=10) as http:
        bad = CleverInvoClient(http, api_key="cinv_wrong_key_123", base_url=http_sandbox.base_url, limiter=None)
        with pytest.raises(errors.AuthenticationError) as exc:
            await bad.list_clients()
        assert exc.value.status == 401 and "cinv_wrong_key_123" not in str(exc.value)
        assert "cinv_wrong_key_123" not in repr(bad)

        ci = http_sandbox.client(http)
        with pytest.raises(errors.BadRequestError) as exc:
            await ci._json("POST", "/clients", body={"email": "a@b.fr"})  # bypasses our own validation
        assert exc.value.message == "Missing required field: name" and exc.value.status == 400
        with pytest.raises(errors.BadRequestError, match="Missing required field: lineItems"):
            await ci._json("POST", "/invoices", body={"clientId": "x", "invoiceNumber": "N", "issueDate": "2024-01-01",
                                                       "dueDate": "2024-01-31"})
        with pytest.raises(errors.BadRequestError, match="limit"):
            await ci.list_invoices(limit=101)
        with pytest.raises(errors.BadRequestError, match="search"):
            await ci.list_clients(search="x" * 256)
        with pytest.raises(errors.BadRequestError, match="status"):
            await ci._json("GET", "/invoices", params={"status": "LOST"})
        with pytest.raises(errors.BadRequestError, match="clientId"):
            await ci.create_invoice({"client_id": "clxdoesnotexist", "invoice_number": "X-1", "issue_date": "2024-01-01",
                                     "due_date": "2024-01-31", "line_items": [WEB_DEV]})
        with pytest.raises(errors.BadRequestError, match="dueDate"):
            client_id = (await ci.list_clients(limit=1)).data[0].id
            await ci.create_invoice({"client_id": client_id, "invoice_number": "X-2", "issue_date": "2024-02-01",
                                     "due_date": "2024-01-31", "line_items": [WEB_DEV]})
        with pytest.raises(errors.BadRequestError, match="page"):
            await ci.list_clients(page=0)
        for raw in (b"{not json", b"[1, 2]", b"", b'{"name": "' + b"x" * (1024 * 1024) + b'"}'):
            response = await http.post(f"{http_sandbox.base_url}/clients", content=raw,
                                       headers={"Authorization": f"Bearer {http_sandbox.api_key}"})
            assert response.status_code == 400 and set(response.json()) == {"error"}, raw[:20]
        with pytest.raises(errors.NotFoundError, match="Client not found"):
            await ci.get_client("clxmissing")
        with pytest.raises(errors.NotFoundError):
            await ci._json("GET", "/no-such-route")
    secret = http_sandbox.api_key
    assert secret not in caplog.text


async def test_plan_limits_403(make_asgi_sandbox):
    sandbox = make_asgi_sandbox(plan={"max_clients": 12, "max_invoices": 41})
    async with asgi_http(sandbox) as http:
        ci = sandbox.client(http)
        first = await ci.create_client({"name": "Twelfth active client"})  # 11 active seeded
        with pytest.raises(errors.PlanLimitError) as exc:
            await ci.create_client({"name": "One too many"})
        assert exc.value.status == 403 and "12 clients" in exc.value.message
        await ci.create_invoice({"client_id": first.id, "invoice_number": "N-1", "issue_date": TODAY,
                                 "due_date": TODAY, "line_items": [WEB_DEV]})
        with pytest.raises(errors.PlanLimitError, match="41 invoices"):
            await ci.create_invoice({"client_id": first.id, "invoice_number": "N-2", "issue_date": TODAY,
                                     "due_date": TODAY, "line_items": [WEB_DEV]})

    no_pdf = make_asgi_sandbox(plan={"features": ["api"]})
    async with asgi_http(no_pdf) as http:
        ci = no_pdf.client(http)
        inv = (await ci.list_invoices(limit=1)).data[0]
        with pytest.raises(errors.PlanLimitError, match="PDF"):
            await ci.download_invoice_pdf(inv.id, "/nonexistent-dir/never-written.pdf")

    no_api = make_asgi_sandbox(plan={"name": "Pro", "features": []})
    async with asgi_http(no_api) as http:
        with pytest.raises(errors.PlanLimitError, match="API access is not available on the Pro plan"):
            await no_api.client(http).list_clients()


async def test_sandbox_429_and_client_retry_after(make_http_sandbox):
    sandbox = make_http_sandbox(rate_limit_per_minute=5, rate_limit_period_seconds=1.0)
    async with httpx2.AsyncClient(timeout=10) as http:
        # Without the client-side limiter nor retries, the sandbox's enforcement shows.
        raw = sandbox.client(http, max_attempts=1)
        outcomes = []
        for _ in range(7):
            try:
                await raw.list_clients(limit=1)
                outcomes.append("ok")
            except errors.RateLimitedError as exc:
                outcomes.append("429")
                assert exc.status == 429 and exc.retry_after == 1.0
        assert outcomes == ["ok"] * 5 + ["429"] * 2

        # With retries, the client waits Retry-After and gets through (no limiter, so it must hit 429 first).
        waits: list[float] = []

        async def record_sleep(seconds: float) -> None:
            waits.append(seconds)
            import anyio
            await anyio.sleep(seconds)

        patient = sandbox.client(http, max_attempts=4, sleep=record_sleep)
        page = await patient.list_clients(limit=1)
        assert page.total == 11 and waits and all(w == 1.0 for w in waits)


async def test_non_json_error_bodies_and_5xx_retries_for_reads():
    calls = {"n": 0}

    def handler(request: httpx2.Request) -> httpx2.Response:
        calls["n"] += 1
        if request.url.path.endswith("/clients") and request.method == "GET":
            if calls["n"] < 3:
                return httpx2.Response(502, text="<html><body><h1>502 Bad Gateway</h1></body></html>")
            return httpx2.Response(200, json={"data": [], "total": 0, "page": 1, "limit": 20, "totalPages": 0})
        if request.method == "POST":
            return httpx2.Response(500, text="upstream exploded; key=" + request.headers["authorization"])
        return httpx2.Response(404)

    sleeps: list[float] = []

    async def no_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as http:
        ci = CleverInvoClient(http, api_key="cinv_secret_abc", base_url="https://ci.test/api/v1", limiter=None,
                              sleep=no_sleep)
        page = await ci.list_clients()
        assert page.total == 0 and calls["n"] == 3 and sleeps == [0.5, 1.0]  # two 502s retried with backoff

        calls["n"] = 10
        with pytest.raises(errors.ServerError) as exc:  # POST is never retried on 5xx
            await ci.create_client({"name": "x"})
        assert calls["n"] == 11 and exc.value.status == 500
        assert "cinv_secret_abc" not in str(exc.value) and "cinv_***" in str(exc.value)

        with pytest.raises(errors.NotFoundError) as exc:
            await ci.get_client("c1")
        assert exc.value.message == "Not Found"

    async def refuse(request: httpx2.Request) -> httpx2.Response:
        raise httpx2.ConnectError("connection refused")

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(refuse)) as http:
        ci = CleverInvoClient(http, api_key="cinv_k", base_url="https://ci.test", limiter=None, sleep=no_sleep,
                              max_attempts=2)
        with pytest.raises(errors.TransportError, match="ConnectError"):
            await ci.get_invoice("x")


async def test_streamed_pdf_without_content_length_is_capped(tmp_path):
    """A server that streams (no Content-Length) is cut off at the cap, and the partial file removed."""

    async def chunks():
        for _ in range(50):
            yield b"%" * 1024

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"Content-Type": "application/pdf",
                                             "Content-Disposition": 'attachment; filename="../../etc/evil.pdf"'},
                               content=chunks())

    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as http:
        ci = CleverInvoClient(http, api_key="cinv_k", base_url="https://ci.test", limiter=None)
        with pytest.raises(errors.PdfTooLargeError):
            await ci.download_invoice_pdf("inv1", tmp_path, max_bytes=10 * 1024)
        assert list(tmp_path.iterdir()) == []
        ok = await ci.download_invoice_pdf("inv1", tmp_path, max_bytes=100 * 1024)
        assert ok.filename == "evil.pdf" and ok.path == tmp_path / "evil.pdf" and ok.size == 50 * 1024
