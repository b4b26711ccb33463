"""The typed async Cleavr Connect client: one method per endpoint, safe retries, no duplicate writes.

Every /v1 call carries `Authorization`, `Cleavr-Version`, `Accept` and `User-Agent`; every POST/PATCH carries an
`Idempotency-Key` derived from its content (see idempotency.py) unless the caller passes one. Requests are built
from validated models and serialised with `wire.dumps` (money as exact JSON numbers); responses are parsed with
`wire.loads` (numbers to Decimal) and validated into models.py types, unknown fields kept.

Failures surface as the errors.py hierarchy only: the MCP tools never see an httpx2 exception.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Generic, TypeVar
from urllib.parse import quote

import httpx2
from pydantic import BaseModel, ValidationError

from .. import __version__
from . import wire
from .auth import AccessTokenProvider, StaticToken, TokenManager
from .contract import (
    API_VERSION,
    IDEMPOTENCY_HEADER,
    IDEMPOTENT_REPLAYED_HEADER,
    MAX_FILE_BYTES,
    REQUEST_ID_HEADER,
    VERSION_HEADER,
    ErrorCode,
    Paths,
)
from .errors import (
    CleavrAPIError,
    CleavrError,
    CleavrTransportError,
    CleavrValidationError,
    error_from_response,
    parse_retry_after,
)
from .idempotency import batch_key, call_key, content_key, receivable_key
from .logs import logger
from .models import (
    BatchFailure,
    BatchRequest,
    BatchResult,
    CancelRequest,
    CommissionQuote,
    CommissionQuoteRequest,
    CommissionRates,
    Contact,
    CreateUserRequest,
    EvidenceRequest,
    Extraction,
    ListReceivablesQuery,
    MetadataUpdate,
    OnboardingStatusResponse,
    PartialPaymentDecision,
    Receivable,
    ReceivableCreate,
    ReceivableList,
    Requirements,
    User,
    WebhookCreate,
    WebhookEndpoint,
    WebhookEndpointList,
)
from .prepare import prepare_receivable
from .retry import NOT_SENT_ERRORS, RetryPolicy

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

# No public project URL exists yet; the product token names the project and version for the API's logs.
DEFAULT_USER_AGENT = f"cleavr-mcp/{__version__} (MCP server for Cleavr Connect) python-httpx2/{httpx2.__version__}"
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})
_ID_PATTERNS = {
    "user_id": re.compile(r"^usr_clv_[A-Za-z0-9_]+$"),
    "receivable_id": re.compile(r"^rec_[A-Za-z0-9_]+$"),
    "webhook_id": re.compile(r"^wh_[A-Za-z0-9_]+$"),
}
_ID_EXAMPLES = {"user_id": "usr_clv_a1b2c3d4e5f6", "receivable_id": "rec_a1b2c3d4e5f6", "webhook_id": "wh_a1b2c3d4"}
_DEBUG = logging.DEBUG
DEFAULT_RETRY = RetryPolicy()


@dataclass(frozen=True)
class WriteResult(Generic[T]):
    """What a write returned, and whether the API replayed an earlier identical request instead of acting again."""

    value: T
    idempotency_key: str
    replayed: bool  # Idempotent-Replayed: true — this request created nothing new
    request_id: str | None
    attempts: int = 1  # HTTP attempts this call needed (replayed with attempts > 1: an earlier attempt committed)


@dataclass
class ClientStats:
    """Counters for diagnostics and tests."""

    requests: int = 0  # HTTP attempts sent
    retries: int = 0  # attempts repeated after a retryable failure
    replays: int = 0  # writes answered with Idempotent-Replayed: true
    auth_refreshes: int = 0  # 401s answered by a forced token refresh


class CleavrClient:
    def __init__(
        self,
        http: httpx2.AsyncClient,
        *,
        base_url: str,
        api_version: str = API_VERSION,
        auth: TokenManager | StaticToken | AccessTokenProvider | None,
        retry: RetryPolicy = DEFAULT_RETRY,
        user_agent: str = DEFAULT_USER_AGENT,
    ) -> None:
        self._http = http
        self.base_url = base_url.rstrip("/")
        self.api_version = api_version
        self._auth = auth
        self.retry = retry
        self.user_agent = user_agent
        self.stats = ClientStats()
        self._base_headers = {
            "Accept": "application/json",
            VERSION_HEADER: api_version,
            "User-Agent": user_agent,
        }

    def __repr__(self) -> str:
        return f"CleavrClient(base_url={self.base_url!r}, api_version={self.api_version!r})"

    # --- users -------------------------------------------------------------------------------------------
    async def create_user(self, req: CreateUserRequest, *, idempotency_key: str | None = None) -> WriteResult[User]:
        key = idempotency_key or content_key("user", req)
        return await self._write(User, "POST", Paths.USERS, req, key, "create_user")

    async def get_user(self, user_id: str) -> User:
        return await self._get(User, Paths.USER.format(user_id=_id("user_id", user_id)), "get_user")

    async def get_onboarding_status(self, user_id: str) -> OnboardingStatusResponse:
        path = Paths.ONBOARDING_STATUS.format(user_id=_id("user_id", user_id))
        return await self._get(OnboardingStatusResponse, path, "get_onboarding_status")

    async def get_requirements(self, user_id: str) -> Requirements:
        return await self._get(Requirements, Paths.REQUIREMENTS.format(user_id=_id("user_id", user_id)),
                               "get_requirements")

    # --- receivables ---------------------------------------------------------------------------------------
    async def submit_receivable(
        self, req: ReceivableCreate, *, idempotency_key: str | None = None
    ) -> WriteResult[Receivable]:
        """Validate locally (prepare_receivable), then POST with a content-derived key (or the one given)."""
        prepared = prepare_receivable(req)
        key = idempotency_key or receivable_key(prepared)
        return await self._write(Receivable, "POST", Paths.RECEIVABLES, prepared, key, "submit_receivable")

    async def extract_pdf(self, *, user_id: str, filename: str, content: bytes | Path,
                          idempotency_key: str | None = None) -> Extraction:
        """Upload a PDF for OCR (multipart). A Path is streamed from disk, and re-opened on each attempt."""
        _id("user_id", user_id)
        if isinstance(content, Path):
            size, digest = _file_size_and_digest(content)
        else:
            size, digest = len(content), hashlib.sha256(content).hexdigest()
        if size == 0:
            raise CleavrValidationError(f"{filename!r} is empty.", code=ErrorCode.INVALID_FILE, field="file")
        if size > MAX_FILE_BYTES:
            raise CleavrValidationError(
                f"{filename!r} is {size / 1e6:.1f} MB; the limit is {MAX_FILE_BYTES // (1024 * 1024)} MB. "
                "Compress or split the PDF.",
                code=ErrorCode.INVALID_FILE, field="file",
            )

        def multipart() -> tuple[dict[str, Any], dict[str, str], IO[bytes] | None]:
            body: bytes | IO[bytes] = content.open("rb") if isinstance(content, Path) else content
            files = {"file": (filename, body, "application/pdf")}
            return files, {"user_id": user_id}, body if isinstance(content, Path) else None  # type: ignore[return-value]

        key = idempotency_key or content_key("ocr", {"user_id": user_id, "filename": filename, "sha256": digest})
        response, _ = await self._send("POST", Paths.OCR, what="extract_pdf", multipart=multipart, key=key)
        return self._parse(Extraction, response, "extract_pdf")

    async def get_receivable(self, receivable_id: str) -> Receivable:
        path = Paths.RECEIVABLE.format(receivable_id=_id("receivable_id", receivable_id))
        return await self._get(Receivable, path, "get_receivable")

    async def list_receivables(self, query: ListReceivablesQuery) -> ReceivableList:
        params = query.model_dump(mode="json", exclude_none=True)
        return await self._get(ReceivableList, Paths.RECEIVABLES, "list_receivables", params=params)

    async def iter_receivables(self, query: ListReceivablesQuery) -> AsyncIterator[Receivable]:
        """Every receivable matching `query`, page after page (starting_after = last id while has_more)."""
        page_query = query
        while True:
            page = await self.list_receivables(page_query)
            for item in page.data:
                yield item
            if not page.has_more or not page.data:
                return
            page_query = page_query.model_copy(update={"starting_after": page.data[-1].id})

    async def add_contact(self, receivable_id: str, contact: Contact, *,
                          idempotency_key: str | None = None) -> WriteResult[Receivable]:
        path = Paths.CONTACTS.format(receivable_id=_id("receivable_id", receivable_id))
        key = idempotency_key or content_key("contact", {"receivable_id": receivable_id, "contact": contact})
        return await self._write(Receivable, "POST", path, contact, key, "add_contact")

    async def update_metadata(self, receivable_id: str, metadata: dict[str, Any], *,
                              idempotency_key: str | None = None) -> Receivable:
        """PATCH (a merge). The key is per call, not per content: setting a=1, then a=2, then a=1 again must apply
        the third change, not replay the first answer. Retrying a merge is harmless anyway."""
        path = Paths.RECEIVABLE.format(receivable_id=_id("receivable_id", receivable_id))
        try:
            body = MetadataUpdate(metadata=metadata)
        except ValidationError as exc:  # refused locally, like every other body: the API's code, the field named
            first = exc.errors(include_input=False, include_url=False)[0]
            raise CleavrValidationError(
                f"metadata is refused: {first['msg']}. Keep metadata small (your references and short notes).",
                code=ErrorCode.VALIDATION_ERROR, field="metadata",
            ) from None
        key = idempotency_key or call_key("meta")
        return (await self._write(Receivable, "PATCH", path, body, key, "update_metadata")).value

    async def cancel_receivable(self, receivable_id: str, req: CancelRequest, *,
                                idempotency_key: str | None = None) -> WriteResult[Receivable]:
        # Content key: cancelling is final, so the same cancel repeated is always the same act.
        path = Paths.CANCEL.format(receivable_id=_id("receivable_id", receivable_id))
        key = idempotency_key or content_key("cancel", {"receivable_id": receivable_id, "body": req})
        return await self._write(Receivable, "POST", path, req, key, "cancel_receivable")

    async def submit_evidence(self, receivable_id: str, req: EvidenceRequest, *,
                              idempotency_key: str | None = None) -> WriteResult[Receivable]:
        """Key per call unless given: a receivable can be disputed again later, and identical evidence sent for the
        second dispute must be applied, not answered with the first dispute's replay. A repeat after success is
        refused by the lifecycle (INVALID_STATE: no longer disputed), so nothing happens twice."""
        path = Paths.EVIDENCE.format(receivable_id=_id("receivable_id", receivable_id))
        key = idempotency_key or call_key("evidence")
        return await self._write(Receivable, "POST", path, req, key, "submit_evidence")

    async def decide_partial_payment(
        self, receivable_id: str, req: PartialPaymentDecision, *, idempotency_key: str | None = None
    ) -> WriteResult[Receivable]:
        """Key per call unless given: a debtor may pay in several parts, and the same decision for the next part
        must be applied, not replayed. A repeat after success finds no pending decision (INVALID_STATE)."""
        path = Paths.PARTIAL_PAYMENT.format(receivable_id=_id("receivable_id", receivable_id))
        key = idempotency_key or call_key("partial")
        return await self._write(Receivable, "POST", path, req, key, "decide_partial_payment")

    async def submit_batch(
        self, req: BatchRequest, *, idempotency_key: str | None = None
    ) -> WriteResult[BatchResult]:
        """Submit up to 100 receivables. Each item is checked locally first; an item that fails locally does not
        block the others: only the valid items are sent, and the local failures are merged into `failed` with
        their ORIGINAL index (and the same code/field the API would use). Server indexes are mapped back to the
        caller's indexes too. When no item is valid, nothing is sent (`request_id` None, `attempts` 0)."""
        sent: list[ReceivableCreate] = []
        sent_index: list[int] = []
        local_failures: list[BatchFailure] = []
        for index, item in enumerate(req.receivables):
            try:
                sent.append(prepare_receivable(item))
                sent_index.append(index)
            except CleavrValidationError as err:
                local_failures.append(BatchFailure(index=index, error=err.code, message=err.message, field=err.field))
        key = idempotency_key or batch_key(sent)
        if not sent:
            return WriteResult(BatchResult(successful=[], failed=local_failures), key, False, None, 0)
        body = BatchRequest.model_construct(receivables=sent)
        result = await self._write(BatchResult, "POST", Paths.BATCH, body, key, "submit_batch")
        remote = result.value

        def original(i: int) -> int:
            return sent_index[i] if 0 <= i < len(sent_index) else i

        merged = remote.model_copy(
            update={
                "successful": [s.model_copy(update={"index": original(s.index)}) for s in remote.successful],
                "failed": sorted(
                    [f.model_copy(update={"index": original(f.index)}) for f in remote.failed] + local_failures,
                    key=lambda f: f.index,
                ),
            }
        )
        return WriteResult(merged, result.idempotency_key, result.replayed, result.request_id, result.attempts)

    # --- commission --------------------------------------------------------------------------------------
    async def calculate_commission(self, req: CommissionQuoteRequest) -> CommissionQuote:
        # A POST that changes nothing: a per-call key lets it be retried, and a quote (which depends on today's
        # date) is never answered from yesterday's replay.
        result = await self._write(CommissionQuote, "POST", Paths.COMMISSION_CALCULATE, req, call_key("quote"),
                                   "calculate_commission")
        return result.value

    async def get_commission_rates(self) -> CommissionRates:
        return await self._get(CommissionRates, Paths.COMMISSION_RATES, "get_commission_rates")

    # --- webhooks ----------------------------------------------------------------------------------------
    async def create_webhook(self, req: WebhookCreate, *, idempotency_key: str | None = None) -> WebhookEndpoint:
        """Content key, so a repeated registration returns the same endpoint (and secret) instead of a second one.
        If the replayed endpoint has since been deleted, it is registered anew (under a key naming the deleted id,
        so that retry is deduplicated too)."""
        key = idempotency_key or content_key("webhook", req)
        result = await self._write(WebhookEndpoint, "POST", Paths.WEBHOOKS, req, key, "create_webhook")
        if result.replayed and idempotency_key is None:
            if all(w.id != result.value.id for w in await self.list_webhooks()):
                key = content_key("webhook", {"body": req, "replaces": result.value.id})
                result = await self._write(WebhookEndpoint, "POST", Paths.WEBHOOKS, req, key, "create_webhook")
        return result.value

    async def list_webhooks(self) -> list[WebhookEndpoint]:
        response, _ = await self._send("GET", Paths.WEBHOOKS, what="list_webhooks")
        data = self._json(response, "list_webhooks")
        # Accept both the list envelope {"data": [...]} and a bare array.
        envelope = {"data": data} if isinstance(data, list) else data
        return self._validate(WebhookEndpointList, envelope, response, "list_webhooks").data

    async def delete_webhook(self, webhook_id: str) -> None:
        path = Paths.WEBHOOK.format(webhook_id=_id("webhook_id", webhook_id))
        await self._send("DELETE", path, what="delete_webhook")

    # --- plumbing ----------------------------------------------------------------------------------------
    async def _get(self, model: type[M], path: str, what: str, params: dict[str, Any] | None = None) -> M:
        response, _ = await self._send("GET", path, what=what, params=params)
        return self._parse(model, response, what)

    async def _write(
        self, model: type[M], method: str, path: str, body: BaseModel, key: str, what: str
    ) -> WriteResult[M]:
        response, attempts = await self._send(method, path, what=what, content=wire.dumps(body), key=key)
        replayed = response.headers.get(IDEMPOTENT_REPLAYED_HEADER, "").strip().lower() == "true"
        if replayed:
            self.stats.replays += 1
        return WriteResult(
            self._parse(model, response, what), key, replayed, response.headers.get(REQUEST_ID_HEADER), attempts
        )

    async def _send(
        self,
        method: str,
        path: str,
        *,
        what: str,
        content: bytes | None = None,
        params: dict[str, Any] | None = None,
        multipart: Callable[[], tuple[dict[str, Any], dict[str, str], IO[bytes] | None]] | None = None,
        key: str | None = None,
    ) -> tuple[httpx2.Response, int]:
        """One logical request: auth, retries, 401 refresh. Returns the 2xx response and the attempts it took."""
        url = self.base_url + path
        policy = self.retry
        started = policy.clock()
        attempt = 0
        refreshed = False
        has_key = key is not None
        while True:
            attempt += 1
            token = await self._auth.access_token() if self._auth is not None else None
            headers = self._base_headers.copy()
            if token is not None:
                headers["Authorization"] = f"Bearer {token}"
            if key is not None:
                headers[IDEMPOTENCY_HEADER] = key
            extra: dict[str, Any] = {}
            opened: IO[bytes] | None = None
            if content is not None:
                headers["Content-Type"] = "application/json"
                extra["content"] = content
            elif multipart is not None:
                extra["files"], extra["data"], opened = multipart()
            self.stats.requests += 1
            t0 = time.perf_counter()
            try:
                response = await self._http.request(method, url, params=params, headers=headers, **extra)
            except httpx2.InvalidURL:
                raise CleavrValidationError(
                    f"The Cleavr base URL {self.base_url!r} is not a valid URL: fix CLEAVR_MCP_BASE_URL.",
                    code="INVALID_BASE_URL", field="base_url",
                ) from None
            except httpx2.RequestError as exc:
                self._log(method, path, None, t0, None, attempt, type(exc).__name__)
                if policy.exception_is_retryable(exc, method, has_key):
                    delay = policy.next_delay(attempt, started)
                    if delay is not None:
                        self.stats.retries += 1
                        await policy.pause(delay)
                        continue
                raise self._transport_error(exc, method, path, what, attempt, started, key) from None
            finally:
                if opened is not None:
                    opened.close()
            status = response.status_code
            self._log(method, path, status, t0, response.headers.get(REQUEST_ID_HEADER), attempt, None)
            if status < 400:
                return response, attempt
            if status == 401 and self._auth is not None and not refreshed and token is not None:
                refreshed = True
                self.stats.auth_refreshes += 1
                await self._auth.force_refresh(token)
                attempt -= 1  # a refused token is not a failed attempt
                continue
            if method == "DELETE" and status == 404 and attempt > 1:
                return response, attempt  # an earlier attempt deleted it before its answer was lost
            if policy.status_is_retryable(status, method, has_key):
                delay = policy.next_delay(attempt, started, parse_retry_after(response.headers.get("retry-after")))
                if delay is not None:
                    self.stats.retries += 1
                    await policy.pause(delay)
                    continue
            raise self._api_error(response, what, key, attempt)

    def _log(self, method: str, path: str, status: int | None, t0: float, request_id: str | None, attempt: int,
             failure: str | None) -> None:
        if failure is not None or (status is not None and (status >= 500 or status == 429)):
            level = logging.WARNING  # the service misbehaved (retried, or about to fail the call)
        elif status is not None and status >= 400:
            level = logging.INFO  # the request was refused: the caller gets the error, nothing is wrong here
        else:
            level = _DEBUG
        if logger.isEnabledFor(level):
            logger.log(
                level, "%s %s -> %s in %.1f ms (request_id=%s, attempt=%d)", method, path,
                status if failure is None else failure, (time.perf_counter() - t0) * 1000, request_id, attempt,
            )

    def _transport_error(self, exc: Exception, method: str, path: str, what: str, attempt: int, started: float,
                         key: str | None) -> CleavrTransportError:
        never_sent = isinstance(exc, NOT_SENT_ERRORS)
        outcome_unknown = not never_sent and method in WRITE_METHODS
        elapsed = self.retry.clock() - started
        message = (f"{what} failed: {_describe_transport(exc)} ({method} {path}), after {attempt} attempt(s) "
                   f"in {elapsed:.1f} s.")
        if outcome_unknown:
            message += (" The request may have been processed before the connection dropped: check with a get or "
                        "list call (e.g. get_receivable / list_receivables) before sending anything different.")
            if key:
                message += (f" Retrying this same call is safe: it carries the same Idempotency-Key ({key}), "
                            "so it cannot create a duplicate.")
        elif never_sent:
            message += " The request never reached the Cleavr API, so nothing changed; retry later."
        return CleavrTransportError(
            message, outcome_unknown=outcome_unknown, details={"error_type": type(exc).__name__, "attempts": attempt},
            retryable=True,
        )

    def _api_error(self, response: httpx2.Response, what: str, key: str | None, attempt: int) -> CleavrError:
        err = error_from_response(response, what=what)
        if err.code == ErrorCode.IDEMPOTENCY_KEY_REUSED:
            existing = err.details.get("receivable_id") or err.details.get("resource_id") or err.details.get("id")
            already = f" as {existing}" if existing else ""
            message = (
                f"Already submitted{already}: an identical {what} (same user, invoice numbers and amount "
                f"for receivables) succeeded earlier with different details, under Idempotency-Key {key}. Nothing "
                "new was created. To change an accepted receivable use add_contact or update_metadata; to look at "
                "it use get_receivable; to submit a genuinely different receivable change its invoice numbers."
            )
            err = CleavrAPIError(message, code=err.code, status=err.status, field=err.field,
                                 details={**err.details, "idempotency_key": key}, request_id=err.request_id)
        if attempt > 1:
            err.details["attempts"] = attempt
        return err

    def _json(self, response: httpx2.Response, what: str) -> Any:
        try:
            return wire.loads(response.content)
        except ValueError:
            raise CleavrAPIError(
                f"The Cleavr API answered {what} with HTTP {response.status_code} but the body is not JSON.",
                code="INVALID_RESPONSE", status=response.status_code,
                request_id=response.headers.get(REQUEST_ID_HEADER),
            ) from None

    def _validate(self, model: type[M], data: Any, response: httpx2.Response, what: str) -> M:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            first = exc.errors(include_input=False, include_url=False)[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            raise CleavrAPIError(
                f"The Cleavr API answered {what} with data this client cannot read ({where}: {first['msg']}; "
                f"{exc.error_count()} problem(s)). The API may have changed; report it.",
                code="INVALID_RESPONSE", status=response.status_code, field=where,
                request_id=response.headers.get(REQUEST_ID_HEADER),
            ) from None

    def _parse(self, model: type[M], response: httpx2.Response, what: str) -> M:
        return self._validate(model, self._json(response, what), response, what)


def _id(kind: str, value: str) -> str:
    """Check an id's prefix before it goes into a path (and quote it, so it can never change the path)."""
    if not isinstance(value, str) or not _ID_PATTERNS[kind].match(value):
        raise CleavrValidationError(
            f"{value!r} is not a valid {kind}: it must look like {_ID_EXAMPLES[kind]}.",
            code=ErrorCode.VALIDATION_ERROR, field=kind,
        )
    return quote(value, safe="")


def _describe_transport(exc: Exception) -> str:
    if isinstance(exc, (httpx2.ConnectError, httpx2.ConnectTimeout)):
        return "could not connect to the Cleavr API"
    if isinstance(exc, httpx2.PoolTimeout):
        return "no connection became available in time"
    if isinstance(exc, httpx2.TimeoutException):
        return "the Cleavr API did not answer in time"
    if isinstance(exc, (httpx2.RemoteProtocolError, httpx2.ReadError)):
        return "the connection was closed before a complete answer arrived"
    if isinstance(exc, httpx2.WriteError):
        return "the connection failed while sending the request"
    return f"the request failed ({type(exc).__name__})"


def _file_size_and_digest(path: Path) -> tuple[int, str]:
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return size, ""
        digest = hashlib.sha256()
        with path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError as exc:
        raise CleavrValidationError(
            f"Cannot read {path.name!r}: {exc.strerror or type(exc).__name__}.", code=ErrorCode.INVALID_FILE,
            field="file",
        ) from None
    return size, digest.hexdigest()
