"""Every error code the client can meet, against the sandbox over real HTTP (one well-chosen case per code)."""

from __future__ import annotations

import httpx2
import pytest

from cleavr_mcp.cleavr import (
    CleavrAPIError,
    CleavrAuthError,
    CleavrClient,
    CleavrNotFound,
    CleavrRateLimited,
    CleavrValidationError,
    StaticToken,
    receivable_key,
)
from cleavr_mcp.cleavr.contract import Paths
from cleavr_mcp.cleavr.idempotency import call_key
from cleavr_mcp.cleavr.models import (
    CreateUserRequest,
    EvidenceRequest,
    Receivable,
    WebhookCreate,
)

from .conftest import FAST_RETRY, Api, connect, unique
from .helpers import DELETE, receivable_request

pytestmark = pytest.mark.anyio
NO_PHONE = [{"first_name": "Marie", "email": "marie@debtor.example"}]


# --- local checks agree with the API ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("changes", "code", "field"),
    [
        ({"debtor__contacts": [{"first_name": "No", "phone": "+33612345678"}]}, "MISSING_EMAIL_CONTACT",
         "debtor.contacts[0].email"),
        ({"debtor__siret": "73282932000075"}, "INVALID_SIRET", "debtor.siret"),
        ({"invoice__currency": "USD"}, "INVALID_CURRENCY", "invoice.currency"),
        ({"invoice__amount": "5000.01"}, "AMOUNT_MISMATCH", "invoice.amount"),
        ({"invoice__due_date": "2025-07-01"}, "INVALID_DATES", "invoice.due_date"),
        ({"debtor__contacts": [{"email": "a@b.example", "phone": "+33612345678"},
                               {"email": "c@d.example", "phone": "+1-555-0100"}]},
         "VALIDATION_ERROR", "debtor.contacts[1].phone"),
        ({"debtor__vat_number": "FR00732829320"}, "VALIDATION_ERROR", "debtor.vat_number"),
    ],
    ids=["MISSING_EMAIL_CONTACT", "INVALID_SIRET", "INVALID_CURRENCY", "AMOUNT_MISMATCH", "INVALID_DATES",
         "VALIDATION_ERROR-phone", "VALIDATION_ERROR-vat"],
)
async def test_local_refusal_matches_the_api(api: Api, changes, code, field):
    req = receivable_request(user_id=api.user, invoice__numbers=[unique()], **changes)
    before = (await api.stats())["receivables"]["total"]
    with pytest.raises(CleavrValidationError) as local:
        await api.client.submit_receivable(req)
    assert (local.value.code, local.value.field) == (code, field)
    # The same body sent raw (bypassing prepare_receivable) gets the same answer from the API.
    with pytest.raises(CleavrAPIError) as remote:
        await api.client._write(Receivable, "POST", Paths.RECEIVABLES, req, receivable_key(req), "submit_receivable")
    assert (remote.value.code, remote.value.field, remote.value.status) == (code, field, 400)
    assert (await api.stats())["receivables"]["total"] == before


# --- codes only the API can give ------------------------------------------------------------------------------
async def test_user_not_onboarded(api: Api):
    user = (await api.client.create_user(CreateUserRequest(email=f"{unique('new').lower()}@acme.example"))).value
    with pytest.raises(CleavrAPIError) as info:
        await api.client.submit_receivable(receivable_request(user_id=user.id, invoice__numbers=[unique()]))
    err = info.value
    assert (err.code, err.status, err.retryable) == ("USER_NOT_ONBOARDED", 403, False)
    assert err.details["onboarding_url"] == user.onboarding_url and "onboarding_url" in err.message


async def test_missing_phone_warning_then_force_proceed_with_the_same_key(api: Api):
    req = receivable_request(user_id=api.user, invoice__numbers=[unique()], debtor__contacts=NO_PHONE)
    with pytest.raises(CleavrAPIError) as info:
        await api.client.submit_receivable(req)
    assert (info.value.code, info.value.status) == ("MISSING_PHONE_WARNING", 422)
    assert "82%" in info.value.message and "force_proceed" in info.value.message
    # The user agreed: same invoice, force_proceed set. Same key (errors are not stored), so it goes through.
    ok = await api.client.submit_receivable(req.model_copy(update={"force_proceed": True}))
    assert not ok.replayed and ok.idempotency_key == receivable_key(req)


async def test_duplicate_receivable(api: Api):
    number = unique()
    first = (await api.client.submit_receivable(receivable_request(user_id=api.user, invoice__numbers=[number]))).value
    other_amount = receivable_request(user_id=api.user, invoice__numbers=[number], invoice__amount="10.00",
                                      invoice__amount_before_tax="8.00", invoice__tax_amount="2.00")
    with pytest.raises(CleavrAPIError) as info:
        await api.client.submit_receivable(other_amount)
    assert (info.value.code, info.value.status) == ("DUPLICATE_RECEIVABLE", 409)
    assert info.value.details["existing_receivable_id"] == first.id


async def test_idempotency_key_reused_names_the_existing_receivable(api: Api):
    number = unique()
    first = (await api.client.submit_receivable(receivable_request(user_id=api.user, invoice__numbers=[number]))).value
    corrected = receivable_request(user_id=api.user, invoice__numbers=[number],
                                   debtor__contacts=[{"email": "marie.martin@debtorcorp.example",
                                                      "phone": "+33698765432"}])
    with pytest.raises(CleavrAPIError) as info:
        await api.client.submit_receivable(corrected)
    err = info.value
    assert (err.code, err.status) == ("IDEMPOTENCY_KEY_REUSED", 409)
    assert err.details["receivable_id"] == first.id and f"Already submitted as {first.id}" in err.message
    assert "add_contact" in err.message


async def test_invalid_file(api: Api):
    with pytest.raises(CleavrAPIError) as info:
        await api.client.extract_pdf(user_id=api.user, filename="notes.txt", content=b"just some text, no PDF")
    assert (info.value.code, info.value.status, info.value.field) == ("INVALID_FILE", 400, "file")


async def test_user_exists(api: Api):
    email = f"{unique('dup').lower()}@acme.example"
    await api.client.create_user(CreateUserRequest(email=email))
    with pytest.raises(CleavrAPIError) as info:
        await api.client.create_user(CreateUserRequest(email=email, company={"name": "Other SAS"}))
    assert (info.value.code, info.value.status) == ("USER_EXISTS", 409)


async def test_unauthorized(sandbox_server):
    async with httpx2.AsyncClient() as http:
        client = CleavrClient(http, base_url=sandbox_server.base_url, auth=StaticToken("at_test_forged"))
        with pytest.raises(CleavrAuthError) as info:
            await client.get_commission_rates()
    assert (info.value.code, info.value.status) == ("UNAUTHORIZED", 401)
    assert "at_test_forged" not in str(info.value)


async def test_insufficient_scope(sandbox_server, tmp_path):
    async with httpx2.AsyncClient() as http:
        api = await connect(sandbox_server, tmp_path, scopes=["receivables:read"], http=http)
        with pytest.raises(CleavrAuthError) as info:
            await api.client.create_webhook(WebhookCreate(url="https://p.example/h", events=["*"]))
    assert (info.value.code, info.value.status) == ("INSUFFICIENT_SCOPE", 403)


async def test_not_found(api: Api):
    with pytest.raises(CleavrNotFound) as info:
        await api.client.get_receivable("rec_doesnotexist")
    assert (info.value.code, info.value.status) == ("NOT_FOUND", 404)


async def test_validation_error_from_the_api(api: Api):
    req = receivable_request(user_id=api.user, invoice__numbers=[unique()], extraction_id="ext_unknown1")
    with pytest.raises(CleavrAPIError) as info:
        await api.client.submit_receivable(req)
    assert (info.value.code, info.value.status, info.value.field) == ("VALIDATION_ERROR", 400, "extraction_id")


async def test_invalid_state(api: Api):
    rec = (await api.client.submit_receivable(receivable_request(user_id=api.user,
                                                                 invoice__numbers=[unique()]))).value
    evidence = EvidenceRequest(documents=[{"type": "invoice", "filename": "i.pdf", "content_base64": "JVBERi0="}],
                               statement="Here is the invoice.")
    with pytest.raises(CleavrAPIError) as info:
        await api.client.submit_evidence(rec.id, evidence)
    assert (info.value.code, info.value.status) == ("INVALID_STATE", 409)


async def test_unsupported_version(api: Api):
    old = CleavrClient(api.http, base_url=api.server.base_url, api_version="2019-01-01", auth=api.auth)
    with pytest.raises(CleavrAPIError) as info:
        await old.get_commission_rates()
    assert info.value.code == "UNSUPPORTED_VERSION" and "2026-01-02" in info.value.message


async def test_payload_too_large(api: Api):
    rec = (await api.client.submit_receivable(receivable_request(user_id=api.user,
                                                                 invoice__numbers=[unique()]))).value
    huge = {"metadata": {"notes": "x" * (1024 * 1024 + 10)}}
    # The client refuses it before sending, with its own error naming the field ...
    with pytest.raises(CleavrValidationError) as local:
        await api.client.update_metadata(rec.id, huge["metadata"])
    assert (local.value.code, local.value.field) == ("VALIDATION_ERROR", "metadata")
    # ... and the same body sent raw gets the API's 413.
    with pytest.raises(CleavrAPIError) as info:
        await api.client._write(Receivable, "PATCH", Paths.RECEIVABLE.format(receivable_id=rec.id), huge,
                                call_key("meta"), "update_metadata")
    assert (info.value.code, info.value.status) == ("PAYLOAD_TOO_LARGE", 413)


# --- injected faults ------------------------------------------------------------------------------------------
async def test_rate_limited_after_the_retries(api: Api):
    await api.set_faults(next_faults=["429"] * FAST_RETRY.max_attempts)
    with pytest.raises(CleavrRateLimited) as info:
        await api.client.get_commission_rates()
    assert (info.value.code, info.value.status, info.value.retryable) == ("RATE_LIMITED", 429, True)
    assert info.value.retry_after == 0 and info.value.details["attempts"] == FAST_RETRY.max_attempts


async def test_service_unavailable_after_the_retries_and_recovery_before(api: Api):
    await api.set_faults(next_faults=["5xx"] * FAST_RETRY.max_attempts)
    with pytest.raises(CleavrAPIError) as info:
        await api.client.get_commission_rates()
    assert (info.value.code, info.value.status, info.value.retryable) == ("SERVICE_UNAVAILABLE", 503, True)
    await api.set_faults(next_faults=["5xx", "429", "5xx"])
    retries = api.client.stats.retries
    assert (await api.client.get_commission_rates()).default_rates
    assert api.client.stats.retries == retries + 3


async def test_commit_then_drop_is_retried_and_replayed_over_a_real_socket(api: Api):
    await api.set_faults(next_faults=["drop"])
    before = (await api.stats())["receivables"]["total"]
    result = await api.client.submit_receivable(receivable_request(user_id=api.user, invoice__numbers=[unique()]))
    assert result.replayed and result.attempts == 2  # the first attempt committed, its answer was lost
    assert (await api.stats())["receivables"]["total"] == before + 1


async def test_force_proceed_absent_is_not_sent_as_null(api: Api):
    # exclude_none on the wire: the API never sees "force_proceed": null
    req = receivable_request(user_id=api.user, invoice__numbers=[unique()], force_proceed=DELETE)
    assert (await api.client.submit_receivable(req)).value.status == "pending"
