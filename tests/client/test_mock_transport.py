"""What the sandbox cannot easily produce, with httpx2.MockTransport: odd bodies, dropped streams, timing."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from decimal import Decimal

import httpx2
import pytest

from cleavr_mcp.cleavr import (
    CleavrAPIError,
    CleavrAuthError,
    CleavrClient,
    CleavrError,
    CleavrNotFound,
    CleavrRateLimited,
    CleavrTransportError,
    CleavrValidationError,
    RetryPolicy,
    StaticToken,
    TokenManager,
)
from cleavr_mcp.cleavr.auth import token_request
from cleavr_mcp.cleavr.contract import API_VERSION
from cleavr_mcp.cleavr.logs import LOGGER_NAME
from cleavr_mcp.cleavr.models import (
    BatchRequest,
    CancelRequest,
    ListReceivablesQuery,
    PartialPaymentDecision,
    ReceivableCreate,
)

from .helpers import FakeClock, error_response, json_response, receivable_json, receivable_request

pytestmark = pytest.mark.anyio
BASE = "https://api-test.cleavr.fr"
TOKEN = "at_test_sekrit_token_value"


class BrokenStream(httpx2.AsyncByteStream):
    """A body that starts arriving and then the connection drops."""

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b'{"id": "rec_'
        raise httpx2.RemoteProtocolError("peer closed connection without sending complete message body")


def make_client(handler: Callable[[httpx2.Request], httpx2.Response], *, clock: FakeClock | None = None,
                auth=None, **policy) -> tuple[CleavrClient, FakeClock]:
    clock = clock or FakeClock()
    retry = RetryPolicy(sleep=clock.sleep, clock=clock, jitter=False, **policy)
    http = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    client = CleavrClient(http, base_url=BASE, auth=auth if auth is not None else StaticToken(TOKEN), retry=retry)
    return client, clock


def script(*responses):
    """A handler answering from a list; each item is a Response, an exception instance, or a callable."""
    seen: list[httpx2.Request] = []
    queue = list(responses)

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        item = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(item, Exception):
            raise item
        return item(request) if callable(item) else item

    handler.seen = seen  # type: ignore[attr-defined]
    return handler


def html_502() -> httpx2.Response:
    return httpx2.Response(502, content=b"<html><head><title>502 Bad Gateway</title></head><body>" + b"x" * 5000
                           + b"</body></html>", headers={"content-type": "text/html"})


# --- headers -----------------------------------------------------------------------------------------------
async def test_every_call_sends_auth_version_accept_user_agent_and_key_on_writes():
    handler = script(lambda r: json_response(201 if r.method == "POST" else 200, receivable_json()))
    client, _ = make_client(handler)
    await client.get_receivable("rec_a1b2c3d4e5f6")
    result = await client.submit_receivable(receivable_request())
    get, post = handler.seen
    for req in (get, post):
        assert req.headers["authorization"] == f"Bearer {TOKEN}"
        assert req.headers["cleavr-version"] == API_VERSION
        assert req.headers["accept"] == "application/json"
        assert req.headers["user-agent"].startswith("cleavr-mcp/")
    assert "idempotency-key" not in get.headers
    assert post.headers["idempotency-key"] == result.idempotency_key
    assert post.headers["content-type"] == "application/json"
    # money travels as exact JSON numbers, phones normalised
    assert b'"amount":5000.00' in post.content and b'"+33612345678"' in post.content
    assert not result.replayed and result.attempts == 1


async def test_replay_header_is_reported():
    handler = script(json_response(201, receivable_json(), {"Idempotent-Replayed": "true", "Request-Id": "req_1"}))
    client, _ = make_client(handler)
    result = await client.submit_receivable(receivable_request())
    assert result.replayed and result.request_id == "req_1"
    assert client.stats.replays == 1


async def test_unknown_response_fields_are_kept():
    handler = script(json_response(200, receivable_json(risk_score=0.3, debtor={"company_name": "D", "new": 1})))
    client, _ = make_client(handler)
    rec = await client.get_receivable("rec_a1b2c3d4e5f6")
    assert rec.model_extra == {"risk_score": Decimal("0.3")}
    assert rec.debtor.model_extra == {"new": 1}


# --- odd bodies --------------------------------------------------------------------------------------------
async def test_html_error_page_becomes_a_clean_error_after_retries():
    handler = script(html_502())
    client, clock = make_client(handler)
    with pytest.raises(CleavrAPIError) as info:
        await client.get_receivable("rec_a1b2c3d4e5f6")
    err = info.value
    assert (err.status, err.code, err.retryable) == (502, "SERVICE_UNAVAILABLE", True)
    assert "non-JSON body (text/html" in err.message and '"502 Bad Gateway"' in err.message
    assert "xxxxxxxx" not in str(err) and len(str(err)) < 400
    assert len(handler.seen) == 4 and clock.sleeps == [0.2, 0.4, 0.8]
    assert err.details["attempts"] == 4


@pytest.mark.parametrize(
    ("response", "code"),
    [
        (httpx2.Response(500, content=b"{not json", headers={"content-type": "application/json"}), "INTERNAL_ERROR"),
        (httpx2.Response(500, content=b""), "INTERNAL_ERROR"),
        (httpx2.Response(400, content=b"[1, 2]", headers={"content-type": "application/json"}), "VALIDATION_ERROR"),
        (httpx2.Response(404, content=b"Not Found", headers={"content-type": "text/plain"}), "NOT_FOUND"),
        (json_response(418, {"error": {"message": "no code"}}), "VALIDATION_ERROR"),
    ],
    ids=["malformed-json", "empty", "json-array", "plain-text-404", "envelope-without-code"],
)
async def test_malformed_error_bodies(response, code):
    client, _ = make_client(script(response))
    with pytest.raises(CleavrError) as info:
        await client.get_receivable("rec_a1b2c3d4e5f6")
    assert info.value.code == code and info.value.status == response.status_code
    assert isinstance(info.value, CleavrNotFound) == (response.status_code == 404)


async def test_envelope_is_parsed_fully():
    client, _ = make_client(script(error_response(
        400, "INVALID_SIRET", "SIRET checksum fails", field="debtor.siret", details={"siret": "123"},
        headers={"Request-Id": "req_42"})))
    with pytest.raises(CleavrAPIError) as info:
        await client.submit_receivable(receivable_request())
    err = info.value
    assert (err.code, err.field, err.details, err.request_id, err.status, err.retryable) == (
        "INVALID_SIRET", "debtor.siret", {"siret": "123"}, "req_42", 400, False)
    assert str(err) == "INVALID_SIRET: SIRET checksum fails (field: debtor.siret) [HTTP 400] [request req_42]"


async def test_huge_api_message_is_cut():
    client, _ = make_client(script(error_response(400, "VALIDATION_ERROR", "bad " + "y" * 50_000)))
    with pytest.raises(CleavrAPIError) as info:
        await client.get_receivable("rec_a1b2c3d4e5f6")
    assert len(str(info.value)) < 1100 and info.value.message.endswith("(cut)")


async def test_broken_base_url_is_a_clean_error():
    async with httpx2.AsyncClient() as http:
        client = CleavrClient(http, base_url="http://exa mple.com:99999", auth=None)
        with pytest.raises(CleavrError) as info:
            await client.get_commission_rates()
    assert info.value.code in {"INVALID_BASE_URL", "TRANSPORT_ERROR"}


def test_retry_policy_from_settings():
    from cleavr_mcp.config import Settings

    policy = RetryPolicy.from_settings(Settings(max_retries=2, retry_budget_seconds=5))
    assert (policy.max_attempts, policy.total_budget) == (2, 5)
    assert RetryPolicy.from_settings(Settings()) == RetryPolicy()


async def test_success_with_unreadable_body_is_invalid_response():
    for response in (httpx2.Response(200, content=b"<html>ok</html>"), json_response(200, {"id": "rec_1"})):
        client, _ = make_client(script(response))
        with pytest.raises(CleavrAPIError) as info:
            await client.get_receivable("rec_a1b2c3d4e5f6")
        assert info.value.code == "INVALID_RESPONSE"


async def test_error_text_never_contains_secrets():
    client, _ = make_client(script(error_response(
        401, "UNAUTHORIZED", f"token Bearer {TOKEN} refused; client_secret=sk_test_abc"
    )), auth=StaticToken(TOKEN))
    with pytest.raises(CleavrAuthError) as info:
        await client.get_receivable("rec_a1b2c3d4e5f6")
    assert TOKEN not in str(info.value) and "sk_test_abc" not in str(info.value)
    assert TOKEN not in repr(info.value) and "sk_test_abc" not in str(info.value.to_dict())


# --- dropped connections -----------------------------------------------------------------------------------
async def test_mid_stream_disconnect_on_get_is_retried():
    handler = script(lambda r: httpx2.Response(200, stream=BrokenStream()), json_response(200, receivable_json()))
    client, clock = make_client(handler)
    rec = await client.get_receivable("rec_a1b2c3d4e5f6")
    assert rec.id == "rec_a1b2c3d4e5f6" and len(handler.seen) == 2 and clock.sleeps == [0.2]


async def test_commit_then_drop_on_post_is_retried_with_the_same_key_and_replayed():
    handler = script(lambda r: httpx2.Response(201, stream=BrokenStream()),
                     json_response(201, receivable_json(), {"Idempotent-Replayed": "true"}))
    client, _ = make_client(handler)
    result = await client.submit_receivable(receivable_request())
    assert result.replayed and result.attempts == 2
    keys = {r.headers["idempotency-key"] for r in handler.seen}
    assert keys == {result.idempotency_key}


async def test_dropped_post_after_all_attempts_says_outcome_unknown_and_what_to_do():
    handler = script(lambda r: httpx2.Response(201, stream=BrokenStream()))
    client, _ = make_client(handler)
    with pytest.raises(CleavrTransportError) as info:
        await client.submit_receivable(receivable_request())
    err = info.value
    assert err.outcome_unknown and err.retryable and len(handler.seen) == 4
    assert "get_receivable / list_receivables" in err.message
    assert "Retrying this same call is safe" in err.message and "cmcp-rec-" in err.message


async def test_connect_error_is_not_outcome_unknown():
    client, _ = make_client(script(httpx2.ConnectError("refused")))
    with pytest.raises(CleavrTransportError) as info:
        await client.submit_receivable(receivable_request())
    assert not info.value.outcome_unknown and "never reached" in info.value.message


async def test_read_timeout_on_get_is_not_outcome_unknown():
    client, _ = make_client(script(httpx2.ReadTimeout("slow")), max_attempts=2)
    with pytest.raises(CleavrTransportError) as info:
        await client.get_receivable("rec_a1b2c3d4e5f6")
    assert not info.value.outcome_unknown and "did not answer in time" in info.value.message


# --- retry timing ------------------------------------------------------------------------------------------
async def test_retry_after_is_honoured_with_the_injected_sleep():
    handler = script(error_response(429, "RATE_LIMITED", headers={"Retry-After": "3"}),
                     json_response(200, receivable_json()))
    client, clock = make_client(handler)
    await client.get_receivable("rec_a1b2c3d4e5f6")
    assert clock.sleeps == [3.0]


async def test_retry_after_beyond_the_budget_raises_rate_limited_at_once():
    handler = script(error_response(429, "RATE_LIMITED", headers={"Retry-After": "120"}))
    client, clock = make_client(handler)
    with pytest.raises(CleavrRateLimited) as info:
        await client.get_receivable("rec_a1b2c3d4e5f6")
    assert info.value.retry_after == 120 and clock.sleeps == [] and len(handler.seen) == 1


async def test_total_budget_bounds_retries():
    handler = script(error_response(503, "SERVICE_UNAVAILABLE"))
    client, clock = make_client(handler, max_attempts=50, base_delay=1.0, max_delay=4.0, total_budget=10.0)
    with pytest.raises(CleavrAPIError):
        await client.get_receivable("rec_a1b2c3d4e5f6")
    assert clock.sleeps == [1.0, 2.0, 4.0]  # the next 4 s would end after 10 s
    assert sum(clock.sleeps) <= 10.0 and len(handler.seen) == 4


async def test_backoff_uses_full_jitter_within_the_cap():
    policy = RetryPolicy(base_delay=0.5, max_delay=2.0, random=lambda: 0.5)
    assert [policy.backoff(n) for n in range(1, 6)] == [0.25, 0.5, 1.0, 1.0, 1.0]
    assert 0 <= RetryPolicy().backoff(3) <= 0.8


async def test_non_retryable_statuses_are_not_retried():
    for status, code in ((400, "VALIDATION_ERROR"), (409, "INVALID_STATE"), (500, "INTERNAL_ERROR")):
        handler = script(error_response(status, code))
        client, _ = make_client(handler)
        with pytest.raises(CleavrAPIError):
            await client.cancel_receivable("rec_a1b2c3d4e5f6", CancelRequest(reason="paid_directly"))
        assert len(handler.seen) == 1


async def test_post_without_key_is_never_retried_after_it_may_have_been_sent():
    for failure in (lambda r: httpx2.Response(201, stream=BrokenStream()), error_response(503, "SERVICE_UNAVAILABLE"),
                    httpx2.ReadTimeout("slow")):
        handler = script(failure)
        client, _ = make_client(handler)
        with pytest.raises(CleavrError):
            await client._send("POST", "/v1/receivables", what="test", content=b"{}", key=None)
        assert len(handler.seen) == 1
        assert "idempotency-key" not in handler.seen[0].headers


async def test_keyless_token_post_is_retried_only_when_never_sent():
    clock = FakeClock()
    policy = RetryPolicy(sleep=clock.sleep, clock=clock, jitter=False)
    ok = json_response(200, {"access_token": "at_test_new", "expires_in": 3600, "refresh_token": "rt_test_new"})
    handler = script(httpx2.ConnectError("refused"), ok)
    async with httpx2.AsyncClient(transport=httpx2.MockTransport(handler)) as http:
        resp = await token_request(http, f"{BASE}/oauth/token", {"grant_type": "refresh_token"}, retry=policy)
        assert resp.access_token == "at_test_new" and len(handler.seen) == 2
        dropped = script(httpx2.ReadError("reset"), ok)
        http._transport = httpx2.MockTransport(dropped)
        with pytest.raises(CleavrTransportError) as info:
            await token_request(http, f"{BASE}/oauth/token", {"grant_type": "refresh_token"}, retry=policy)
        assert len(dropped.seen) == 1 and info.value.outcome_unknown


# --- auth --------------------------------------------------------------------------------------------------
def token_server(valid: set[str]):
    """Token endpoint issuing at_test_2, at_test_3…; /v1 accepts only tokens in `valid`."""
    issued = iter(f"at_test_{n}" for n in range(2, 100))
    seen: list[str] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        seen.append(request.url.path)
        if request.url.path == "/oauth/token":
            return json_response(200, {"access_token": next(issued), "expires_in": 3600, "refresh_token": "rt_x"})
        if request.headers["authorization"].removeprefix("Bearer ") in valid:
            return json_response(200, receivable_json())
        return error_response(401, "UNAUTHORIZED", "token expired")

    handler.seen = seen  # type: ignore[attr-defined]
    return handler


async def test_one_401_refreshes_once_and_retries():
    handler = token_server({"at_test_2"})
    http = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    manager = TokenManager(http, f"{BASE}/oauth/token", "plat_test_1", "sk_test_1", None,
                           access_token="at_test_1", refresh_token="rt_test_1")
    client = CleavrClient(http, base_url=BASE, auth=manager)
    assert (await client.get_receivable("rec_a1b2c3d4e5f6")).id == "rec_a1b2c3d4e5f6"
    assert manager.refresh_count == 1
    assert handler.seen == ["/v1/receivables/rec_a1b2c3d4e5f6", "/oauth/token", "/v1/receivables/rec_a1b2c3d4e5f6"]


async def test_a_second_401_is_an_auth_error_without_a_second_refresh():
    handler = token_server(set())
    http = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    manager = TokenManager(http, f"{BASE}/oauth/token", "plat_test_1", "sk_test_1", None,
                           access_token="at_test_1", refresh_token="rt_test_1")
    client = CleavrClient(http, base_url=BASE, auth=manager)
    with pytest.raises(CleavrAuthError) as info:
        await client.get_receivable("rec_a1b2c3d4e5f6")
    assert info.value.status == 401 and manager.refresh_count == 1
    assert handler.seen.count("/oauth/token") == 1 and len(handler.seen) == 3


async def test_static_token_401_is_a_clear_auth_error():
    client, _ = make_client(script(error_response(401, "UNAUTHORIZED")))
    with pytest.raises(CleavrAuthError) as info:
        await client.get_receivable("rec_a1b2c3d4e5f6")
    assert "cannot be refreshed" in info.value.message


# --- client-side checks and shapes -------------------------------------------------------------------------
async def test_bad_ids_are_refused_before_any_request():
    handler = script(json_response(200, receivable_json()))
    client, _ = make_client(handler)
    for bad in ("../v1/users", "usr_clv_x", "rec_a/b", ""):
        with pytest.raises(CleavrValidationError):
            await client.get_receivable(bad)
    assert handler.seen == []


async def test_local_validation_sends_nothing():
    handler = script(json_response(201, receivable_json()))
    client, _ = make_client(handler)
    with pytest.raises(CleavrValidationError) as info:
        await client.submit_receivable(receivable_request(invoice__currency="USD"))
    assert info.value.code == "INVALID_CURRENCY" and handler.seen == []


async def test_batch_sends_only_valid_items_and_maps_indexes_back():
    bad = receivable_request(invoice__numbers=["INV-B"], debtor__contacts=[{"phone": "0612345678"}])
    good0 = receivable_request(invoice__numbers=["INV-A"])
    good2 = receivable_request(invoice__numbers=["INV-C"])
    fail_server = receivable_request(invoice__numbers=["INV-D"])

    def handler(request: httpx2.Request) -> httpx2.Response:
        import json

        sent = json.loads(request.content)["receivables"]
        assert [r["invoice"]["numbers"][0] for r in sent] == ["INV-A", "INV-C", "INV-D"]
        return json_response(200, {"successful": [{"index": 0, "id": "rec_a", "status": "created"},
                                                  {"index": 1, "id": "rec_c", "status": "created"}],
                                   "failed": [{"index": 2, "error": "DUPLICATE_RECEIVABLE", "message": "dup"}]})

    client, _ = make_client(handler)
    result = await client.submit_batch(BatchRequest(receivables=[good0, bad, good2, fail_server]))
    assert [(s.index, s.id) for s in result.value.successful] == [(0, "rec_a"), (2, "rec_c")]
    assert [(f.index, f.error, f.field) for f in result.value.failed] == [
        (1, "MISSING_EMAIL_CONTACT", "debtor.contacts[0].email"), (3, "DUPLICATE_RECEIVABLE", None)]
    assert result.idempotency_key.startswith("cmcp-bat-")


async def test_batch_with_no_valid_item_sends_nothing():
    handler = script(json_response(200, {}))
    client, _ = make_client(handler)
    result = await client.submit_batch(BatchRequest(receivables=[
        receivable_request(invoice__currency="GBP")]))
    assert handler.seen == [] and result.attempts == 0
    assert result.value.failed[0].error == "INVALID_CURRENCY"


async def test_pager_follows_starting_after_until_has_more_is_false():
    pages = {None: (["rec_3", "rec_2"], True), "rec_2": (["rec_1"], False)}

    def handler(request: httpx2.Request) -> httpx2.Response:
        ids, more = pages[request.url.params.get("starting_after")]
        assert request.url.params["limit"] == "2" and request.url.params["status"] == "pending"
        return json_response(200, {"data": [receivable_json(i) for i in ids], "has_more": more})

    client, _ = make_client(handler)
    got = [r.id async for r in client.iter_receivables(ListReceivablesQuery(limit=2, status="pending"))]
    assert got == ["rec_3", "rec_2", "rec_1"]


async def test_per_call_keys_are_stable_across_retries_and_new_per_call():
    handler = script(error_response(503, "SERVICE_UNAVAILABLE"), lambda r: json_response(200, receivable_json()))
    client, _ = make_client(handler)
    decision = PartialPaymentDecision(action="continue_recovery")
    first = await client.decide_partial_payment("rec_a1b2c3d4e5f6", decision)
    second = await client.decide_partial_payment("rec_a1b2c3d4e5f6", decision)
    keys = [r.headers["idempotency-key"] for r in handler.seen]
    assert keys[0] == keys[1] == first.idempotency_key != second.idempotency_key == keys[2]
    await client.update_metadata("rec_a1b2c3d4e5f6", {"a": 1})
    await client.update_metadata("rec_a1b2c3d4e5f6", {"a": 1})
    patch_keys = [r.headers["idempotency-key"] for r in handler.seen if r.method == "PATCH"]
    assert len(set(patch_keys)) == 2 and all(k.startswith("cmcp-meta-call-") for k in patch_keys)


async def test_explicit_keys_are_used_as_given():
    handler = script(lambda r: json_response(200, receivable_json()))
    client, _ = make_client(handler)
    await client.submit_receivable(receivable_request(), idempotency_key="confirm-abc")
    await client.cancel_receivable("rec_a1b2c3d4e5f6", CancelRequest(reason="paid_directly"),
                                   idempotency_key="confirm-def")
    assert [r.headers["idempotency-key"] for r in handler.seen] == ["confirm-abc", "confirm-def"]


async def test_delete_404_after_a_lost_answer_counts_as_deleted():
    handler = script(httpx2.ReadError("reset"), error_response(404, "NOT_FOUND"))
    client, _ = make_client(handler)
    assert await client.delete_webhook("wh_a1b2c3") is None
    handler = script(error_response(404, "NOT_FOUND"))
    client, _ = make_client(handler)
    with pytest.raises(CleavrNotFound):
        await client.delete_webhook("wh_a1b2c3")


async def test_key_reused_error_names_the_existing_receivable():
    client, _ = make_client(script(error_response(409, "IDEMPOTENCY_KEY_REUSED", "key reused",
                                                  details={"receivable_id": "rec_first1"})))
    req = receivable_request()
    with pytest.raises(CleavrAPIError) as info:
        await client.submit_receivable(req)
    err = info.value
    assert err.code == "IDEMPOTENCY_KEY_REUSED" and err.details["receivable_id"] == "rec_first1"
    assert "Already submitted as rec_first1" in err.message and "add_contact" in err.message


async def test_logs_name_method_path_status_and_never_the_token(caplog):
    handler = script(error_response(503, "SERVICE_UNAVAILABLE", headers={"Request-Id": "req_9"}),
                     json_response(200, receivable_json(), {"Request-Id": "req_10"}))
    client, _ = make_client(handler)
    with caplog.at_level(logging.DEBUG, logger=LOGGER_NAME):
        await client.get_receivable("rec_a1b2c3d4e5f6")
    text = caplog.text
    assert "GET /v1/receivables/rec_a1b2c3d4e5f6 -> 503" in text and "request_id=req_9, attempt=1" in text
    assert "-> 200" in text and "attempt=2" in text
    assert TOKEN not in text


async def test_extract_pdf_streams_a_path_and_reopens_it_per_attempt(tmp_path):
    pdf = tmp_path / "invoice.pdf"
    pdf.write_bytes(b"%PDF-1.4 fake" + b"0" * 200_000)
    bodies: list[bytes] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        bodies.append(request.read())
        if len(bodies) == 1:
            return error_response(503, "SERVICE_UNAVAILABLE")
        return json_response(200, {"extraction_id": "ext_1", "confidence": 0.9, "data": {}})

    client, _ = make_client(handler)
    extraction = await client.extract_pdf(user_id="usr_clv_a1b2c3d4e5f6", filename="invoice.pdf", content=pdf)
    assert extraction.extraction_id == "ext_1"
    assert len(bodies) == 2 and len(bodies[0]) == len(bodies[1])  # the whole file both times (boundaries differ)
    assert all(b"%PDF-1.4 fake" + b"0" * 200_000 in body for body in bodies)
    assert b'name="user_id"' in bodies[1] and b'filename="invoice.pdf"' in bodies[1]


async def test_extract_pdf_refuses_empty_and_oversized_locally(tmp_path):
    client, _ = make_client(script(json_response(200, {})))
    with pytest.raises(CleavrValidationError) as info:
        await client.extract_pdf(user_id="usr_clv_a1b2c3d4e5f6", filename="e.pdf", content=b"")
    assert info.value.code == "INVALID_FILE"
    big = tmp_path / "big.pdf"
    with big.open("wb") as fh:
        fh.truncate(21 * 1024 * 1024)
    with pytest.raises(CleavrValidationError) as info:
        await client.extract_pdf(user_id="usr_clv_a1b2c3d4e5f6", filename="big.pdf", content=big)
    assert "limit is 20 MB" in info.value.message


def test_request_models_are_what_the_client_takes():
    assert ReceivableCreate.model_json_schema()["properties"]["force_proceed"]
