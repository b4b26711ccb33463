"""Async client for the CleverInvo API on one injected `httpx2.AsyncClient`.

Every endpoint of docs/api/cleverinvo.md, typed models in and out, page iteration, streamed size-capped PDF
downloads, a process-wide rate limiter per API key, bounded retries on 429 (and on 5xx/transport errors for
reads), and errors turned into the `errors` hierarchy. The API key only ever travels in the Authorization header:
it is redacted from any message built from a server answer.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, unquote

import anyio
import httpx2
from pydantic import BaseModel, SecretStr

from ..cleavr import wire
from ..cleavr.errors import parse_retry_after
from .errors import (
    CleverInvoError,
    PdfTooLargeError,
    ServerError,
    TransportError,
    error_for_status,
)
from .models import (
    LIST_LIMIT_MAX,
    Client,
    ClientCreate,
    ClientUpdate,
    Invoice,
    InvoiceCreate,
    InvoiceSaved,
    InvoiceStatus,
    InvoiceSummary,
    InvoiceUpdate,
    Page,
    PdfDownload,
)
from .ratelimit import DEFAULT_LIMIT, DEFAULT_PERIOD_SECONDS, RateLimiter, limiter_for_key

if TYPE_CHECKING:
    from ..config import Settings

log = logging.getLogger(__name__)

LIVE_BASE_URL = "https://cleverinvo.com/api/v1"
SANDBOX_MOUNT_PATH = "/cleverinvo/api/v1"  # where the Cleavr sandbox mounts the CleverInvo sandbox app
DEFAULT_MAX_PDF_BYTES = 20 * 1024 * 1024
DEFAULT_MAX_ATTEMPTS = 4
DEFAULT_MAX_RETRY_WAIT = 60.0

M = TypeVar("M", bound=BaseModel)
_UNSET: Any = object()


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, "cinv_***") if secret else text


def _filename_from_disposition(header: str | None, fallback: str) -> str:
    """The file name of `Content-Disposition`, reduced to a safe bare name (no directories, no control chars)."""
    name = None
    if header:
        star = re.search(r"filename\*\s*=\s*(?:UTF-8|utf-8)''([^;]+)", header)
        plain = re.search(r'filename\s*=\s*"([^"]*)"', header) or re.search(r"filename\s*=\s*([^;\s]+)", header)
        if star:
            name = unquote(star.group(1).strip())
        elif plain:
            name = plain.group(1)
    name = os.path.basename((name or "").replace("\\", "/"))
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip().lstrip(".")
    return name or fallback


class CleverInvoClient:
    """CleverInvo API client. Create one per API key and reuse it; it never creates HTTP clients of its own.

    >>> async with httpx2.AsyncClient(timeout=30) as http:
    ...     ci = CleverInvoClient(http, api_key="cinv_…")
    ...     async for inv in ci.iter_invoices(status="OVERDUE"):
    ...         ...
    """

    def __init__(
        self,
        http: httpx2.AsyncClient,
        *,
        api_key: str | SecretStr,
        base_url: str = LIVE_BASE_URL,
        limiter: RateLimiter | None | Any = _UNSET,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        max_retry_wait: float = DEFAULT_MAX_RETRY_WAIT,
        backoff_base: float = 0.5,
        sleep: Callable[[float], Awaitable[object]] = anyio.sleep,
    ):
        """`limiter`: default = the process-wide 120/min limiter of this key; None disables client-side limiting."""
        key = api_key.get_secret_value() if isinstance(api_key, SecretStr) else api_key
        if not key:
            raise ValueError("a CleverInvo API key is required")
        self._http = http
        self._key = key
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter_for_key(key, DEFAULT_LIMIT, DEFAULT_PERIOD_SECONDS) if limiter is _UNSET else limiter
        self.max_attempts = max(1, max_attempts)
        self.max_retry_wait = max_retry_wait
        self.backoff_base = backoff_base
        self._sleep = sleep

    def __repr__(self) -> str:  # never show the key
        return f"CleverInvoClient(base_url={self.base_url!r})"

    # --- transport ---------------------------------------------------------------------------------------------
    def _url(self, path: str) -> str:
        return self.base_url + path

    def _headers(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self._key}", "Accept": "application/json"}
        if extra:
            headers.update(extra)
        return headers

    async def _send(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, body: Any = None, stream: bool = False
    ) -> httpx2.Response:
        """Send with rate limiting and bounded retries; returns a successful response (streamed if asked)."""
        content = wire.dumps(body) if body is not None else None
        headers = self._headers({"Content-Type": "application/json"} if content is not None else None)
        query = {k: v for k, v in (params or {}).items() if v is not None}
        retry_server_errors = method == "GET"
        attempt = 0
        while True:
            attempt += 1
            request = self._http.build_request(method, self._url(path), params=query, content=content, headers=headers)
            try:
                response = await self._send_once(request, stream)
            except httpx2.TransportError as exc:
                # httpx2 messages carry the URL (no key in it) but never the headers; keep the exception type only.
                error = TransportError(f"{method} {path} failed: {type(exc).__name__}")
                if retry_server_errors and attempt < self.max_attempts:
                    await self._sleep(self._backoff(attempt))
                    continue
                raise error from None
            if response.is_success:
                return response
            if stream:
                await response.aread()
                await response.aclose()
            error = self._error_from(response)
            retryable = response.status_code == 429 or (retry_server_errors and response.status_code >= 500)
            if not retryable or attempt >= self.max_attempts:
                raise error
            wait = error.retry_after if error.retry_after is not None else self._backoff(attempt)
            wait = min(wait, self.max_retry_wait)
            log.info("CleverInvo %s %s → %s; retry %d in %.1fs", method, path, response.status_code, attempt, wait)
            await self._sleep(wait)

    async def _send_once(self, request: httpx2.Request, stream: bool) -> httpx2.Response:
        if self.limiter is None:
            return await self._http.send(request, stream=stream)
        async with self.limiter.slot():
            return await self._http.send(request, stream=stream)

    def _backoff(self, attempt: int) -> float:
        return self.backoff_base * (2 ** (attempt - 1))

    def _error_from(self, response: httpx2.Response) -> CleverInvoError:
        status = response.status_code
        message = None
        try:
            body = wire.loads(response.content)
        except ValueError:
            body = None
        if isinstance(body, dict):
            err = body.get("error", body.get("message"))
            if isinstance(err, dict):  # tolerate {"error": {"message": …}} too
                err = err.get("message") or err.get("code")
            if err is not None:
                message = str(err)
        if message is None:
            text = response.text.strip() if response.content else ""
            # A non-JSON body (an HTML error page from a proxy…): keep a short, single-line excerpt.
            excerpt = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text)).strip()[:200]
            message = excerpt or response.reason_phrase or f"HTTP {status}"
        retry_after = parse_retry_after(response.headers.get("Retry-After")) if status in (429, 503) else None
        return error_for_status(status, _redact(message, self._key), retry_after=retry_after)

    async def _json(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, body: Any = None
    ) -> Any:
        response = await self._send(method, path, params=params, body=body)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return wire.loads(response.content)
        except ValueError:
            raise ServerError("response is not JSON", status=response.status_code) from None

    async def _data(self, method: str, path: str, model: type[M], *, body: Any = None) -> M:
        payload = await self._json(method, path, body=body)
        if not isinstance(payload, dict) or "data" not in payload:
            raise ServerError("response has no `data` envelope", status=200)
        return model.model_validate(payload["data"])

    async def _page(self, path: str, model: type[M], params: Mapping[str, Any]) -> Page[M]:
        payload = await self._json("GET", path, params=params)
        if not isinstance(payload, dict) or "data" not in payload:
            raise ServerError("response has no `data` envelope", status=200)
        return Page[model].model_validate(payload)

    @staticmethod
    def _body(value: BaseModel | Mapping[str, Any], model: type[Any], *, partial: bool = False) -> dict[str, Any]:
        if not isinstance(value, model):
            value = model.model_validate(value)
        return value.to_wire(partial=partial)

    @staticmethod
    def _id(value: str) -> str:
        if not value or not isinstance(value, str):
            raise ValueError("an id is required")
        return quote(value, safe="")

    # --- clients ----------------------------------------------------------------------------------------------
    async def list_clients(self, *, page: int = 1, limit: int = 20, search: str | None = None) -> Page[Client]:
        """Active clients, one page. `search` filters by name or email (≤ 255 chars)."""
        return await self._page("/clients", Client, {"page": page, "limit": limit, "search": search})

    async def search_clients(self, query: str, *, page: int = 1, limit: int = 20) -> Page[Client]:
        return await self.list_clients(page=page, limit=limit, search=query)

    async def iter_clients(self, *, search: str | None = None, page_size: int = LIST_LIMIT_MAX) -> AsyncIterator[Client]:
        page = 1
        while True:
            result = await self.list_clients(page=page, limit=page_size, search=search)
            for item in result.data:
                yield item
            if not result.data or page >= result.total_pages:
                return
            page += 1

    async def get_client(self, client_id: str) -> Client:
        return await self._data("GET", f"/clients/{self._id(client_id)}", Client)

    async def create_client(self, client: ClientCreate | Mapping[str, Any]) -> Client:
        """Counts against the plan's client limit (403 PlanLimitError when reached)."""
        return await self._data("POST", "/clients", Client, body=self._body(client, ClientCreate))

    async def update_client(self, client_id: str, changes: ClientUpdate | Mapping[str, Any]) -> Client:
        body = self._body(changes, ClientUpdate, partial=True)
        return await self._data("PUT", f"/clients/{self._id(client_id)}", Client, body=body)

    async def delete_client(self, client_id: str) -> None:
        """Soft delete: the client becomes inactive and disappears from lists."""
        await self._json("DELETE", f"/clients/{self._id(client_id)}")

    # --- invoices ---------------------------------------------------------------------------------------------
    async def list_invoices(
        self,
        *,
        page: int = 1,
        limit: int = 20,
        search: str | None = None,
        client_id: str | None = None,
        status: InvoiceStatus | str | None = None,
    ) -> Page[InvoiceSummary]:
        params = {
            "page": page,
            "limit": limit,
            "search": search,
            "clientId": client_id,
            "status": InvoiceStatus(status).value if status is not None else None,
        }
        return await self._page("/invoices", InvoiceSummary, params)

    async def iter_invoices(
        self,
        *,
        status: InvoiceStatus | str | None = None,
        client_id: str | None = None,
        search: str | None = None,
        page_size: int = LIST_LIMIT_MAX,
    ) -> AsyncIterator[InvoiceSummary]:
        """Every invoice matching the filters, page after page (rows as in the list: no line items)."""
        page = 1
        while True:
            result = await self.list_invoices(
                page=page, limit=page_size, search=search, client_id=client_id, status=status
            )
            for item in result.data:
                yield item
            if not result.data or page >= result.total_pages:
                return
            page += 1

    async def get_invoice(self, invoice_id: str) -> Invoice:
        return await self._data("GET", f"/invoices/{self._id(invoice_id)}", Invoice)

    async def create_invoice(self, invoice: InvoiceCreate | Mapping[str, Any]) -> InvoiceSaved:
        """Creates a DRAFT (and its PDF); counts against the plan's invoice limit."""
        return await self._data("POST", "/invoices", InvoiceSaved, body=self._body(invoice, InvoiceCreate))

    async def update_invoice(self, invoice_id: str, changes: InvoiceUpdate | Mapping[str, Any]) -> InvoiceSaved:
        """Only DRAFT invoices can be edited: anything else → BadRequestError."""
        body = self._body(changes, InvoiceUpdate, partial=True)
        return await self._data("PUT", f"/invoices/{self._id(invoice_id)}", InvoiceSaved, body=body)

    async def delete_invoice(self, invoice_id: str) -> None:
        """Deletes the invoice and its PDF permanently."""
        await self._json("DELETE", f"/invoices/{self._id(invoice_id)}")

    async def download_invoice_pdf(
        self, invoice_id: str, destination: Path | str, *, max_bytes: int = DEFAULT_MAX_PDF_BYTES
    ) -> PdfDownload:
        """Stream the invoice PDF to `destination` (a directory: the server's file name is used; else a file path).

        More than `max_bytes` (announced or received) → PdfTooLargeError and no file is left behind.
        """
        destination = Path(destination)
        response = await self._send("GET", f"/invoices/{self._id(invoice_id)}/pdf", stream=True)
        try:
            filename = _filename_from_disposition(response.headers.get("Content-Disposition"), f"{invoice_id}.pdf")
            path = destination / filename if destination.is_dir() else destination
            announced = response.headers.get("Content-Length")
            if announced and announced.isdigit() and int(announced) > max_bytes:
                raise PdfTooLargeError(f"PDF is {int(announced)} bytes, over the {max_bytes}-byte cap", status=200)
            size = 0
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                with open(path, "wb") as out:
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > max_bytes:
                            raise PdfTooLargeError(f"PDF exceeds the {max_bytes}-byte cap", status=200)
                        out.write(chunk)
            except BaseException:
                path.unlink(missing_ok=True)
                raise
        finally:
            await response.aclose()
        content_type = response.headers.get("Content-Type")
        return PdfDownload(path=path, filename=filename, size=size, content_type=content_type)


def client_from_settings(
    settings: Settings, http: httpx2.AsyncClient, *, sandbox_url: str | None = None, sandbox_key: str | None = None
) -> CleverInvoClient | None:
    """The CleverInvo client the configuration asks for, or None when CleverInvo is off.

    - `CLEAVR_MCP_CLEVERINVO_BASE_URL` set → that API, with `CLEAVR_MCP_CLEVERINVO_API_KEY` (required).
    - else, when Cleavr itself runs on the sandbox → the CleverInvo sandbox at `<sandbox_url>/cleverinvo/api/v1`
      with the configured key, else `sandbox_key`: the caller reads it from the sandbox database (a client never
      imports the sandbox).
    - else (real Cleavr, no CleverInvo configured) → None: demo invoices must never reach a real Cleavr.
    """
    if settings.cleverinvo_base_url:
        if settings.cleverinvo_api_key is None:
            raise ValueError("CLEAVR_MCP_CLEVERINVO_API_KEY is required with CLEAVR_MCP_CLEVERINVO_BASE_URL")
        return CleverInvoClient(http, api_key=settings.cleverinvo_api_key, base_url=settings.cleverinvo_base_url,
                                limiter=_limiter(settings, settings.cleverinvo_api_key.get_secret_value()))
    if not settings.uses_sandbox:
        return None
    if sandbox_url is None:
        raise ValueError("sandbox_url (the root URL the sandbox is served at) is required in sandbox mode")
    key = settings.cleverinvo_api_key.get_secret_value() if settings.cleverinvo_api_key else None
    key = key or sandbox_key
    if not key:
        raise ValueError("sandbox_key (the CleverInvo sandbox's API key) is required in sandbox mode")
    return CleverInvoClient(http, api_key=key, base_url=sandbox_url.rstrip("/") + SANDBOX_MOUNT_PATH,
                            limiter=_limiter(settings, key))


def _limiter(settings: Settings, key: str) -> RateLimiter:
    return limiter_for_key(key, settings.cleverinvo_rate_limit_per_minute, DEFAULT_PERIOD_SECONDS)
