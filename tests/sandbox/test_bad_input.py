"""Bad input of every kind gets the contract's envelope, the right status and a useful message; never a 500."""

from __future__ import annotations

import json

import pytest

from cleavr_mcp.cleavr.contract import MAX_JSON_BODY_BYTES, REQUEST_ID_HEADER, SUPPORTED_API_VERSIONS

from .conftest import receivable_body

pytestmark = pytest.mark.anyio


async def post_raw(box, path, content, headers=None):
    return await box.http.post(path, content=content, headers={**box.headers, **(headers or {})})


async def test_malformed_json(sandbox):
    response = await post_raw(sandbox, "/v1/receivables", b'{"user_id": "usr_clv_x", ')
    assert response.status_code == 400
    error = sandbox.error(response)
    assert error["code"] == "VALIDATION_ERROR"
    assert "not valid JSON" in error["message"] and error["details"]["line"] == 1


@pytest.mark.parametrize(
    "content, fragment",
    [
        (b"", "empty"),
        (b"[1, 2]", "JSON object"),
        (b"null", "JSON object"),
        (b'{"amount": NaN}', "NaN"),
        (b'{"a": "\xff"}', "UTF-8"),
        (b"[" * 100_000, "not acceptable JSON"),
        (b'{"a": ' + b"1" * 5000 + b"}", "not acceptable JSON"),
    ],
)
async def test_unusable_bodies(sandbox, content, fragment):
    response = await post_raw(sandbox, "/v1/receivables", content)
    assert response.status_code == 400, response.text
    error = sandbox.error(response)
    assert error["code"] == "VALIDATION_ERROR" and fragment in error["message"]


async def test_wrong_types_name_the_field(sandbox):
    body = receivable_body(sandbox.user_id)
    body["invoice"]["amount"] = "five thousand"
    body["debtor"]["contacts"][0]["level"] = 7
    response = await sandbox.post("/v1/receivables", body)
    assert response.status_code == 400
    error = sandbox.error(response)
    assert error["field"] == "invoice.amount"
    fields = [e["field"] for e in error["details"]["errors"]]
    assert fields == ["invoice.amount", "debtor.contacts[0].level"]
    assert "1 more problem" in error["message"]


async def test_unknown_fields_are_refused(sandbox):
    body = receivable_body(sandbox.user_id)
    body["debtor"]["contacts"][0]["emial"] = "typo@example.com"
    response = await sandbox.post("/v1/receivables", body)
    assert response.status_code == 400
    error = sandbox.error(response)
    assert error["field"] == "debtor.contacts[0].emial"
    assert "Unknown field" in error["message"]


async def test_missing_required_fields(sandbox):
    response = await sandbox.post("/v1/receivables", {"user_id": sandbox.user_id})
    assert response.status_code == 400
    error = sandbox.error(response)
    assert error["field"] == "invoice" and error["message"].startswith("`invoice` is required.")
    assert [e["field"] for e in error["details"]["errors"]] == ["invoice", "debtor"]


async def test_amount_with_too_many_digits_or_cents(sandbox):
    for amount, fragment in [("1e30", "too large"), ("10.001", "2 decimal places")]:
        body = receivable_body(sandbox.user_id)
        body["invoice"]["amount"] = amount
        response = await sandbox.post("/v1/receivables", body)
        assert response.status_code == 400, response.text
        assert fragment in sandbox.error(response)["message"]


async def test_oversized_json_body(sandbox):
    body = receivable_body(sandbox.user_id)
    body["metadata"] = {"blob": "x" * MAX_JSON_BODY_BYTES}
    response = await sandbox.post("/v1/receivables", body)
    assert response.status_code == 413
    error = sandbox.error(response)
    assert error["code"] == "PAYLOAD_TOO_LARGE" and error["details"]["max_bytes"] == MAX_JSON_BODY_BYTES
    stats = (await sandbox.get("/sandbox/stats")).json()
    assert stats["receivables"]["total"] == 0


async def test_chunked_oversized_body_is_refused_too(sandbox):
    async def chunks():
        for _ in range(17):
            yield b" " * 65536
        yield b"{}"

    response = await sandbox.http.post("/v1/receivables", content=chunks(), headers=sandbox.headers)
    assert response.status_code == 413


@pytest.mark.parametrize(
    "authorization, reason",
    [(None, "Missing"), ("Bearer at_test_forged", "invalid"), ("Basic abc", "must be `Bearer"), ("Bearer ", "must be")],
)
async def test_missing_or_invalid_token(sandbox, authorization, reason):
    headers = {"Cleavr-Version": SUPPORTED_API_VERSIONS[-1]}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = await sandbox.http.get("/v1/receivables", headers=headers)
    assert response.status_code == 401
    error = sandbox.error(response)
    assert error["code"] == "UNAUTHORIZED" and reason in error["message"]
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_sandbox_controls_need_a_token_too(sandbox):
    response = await sandbox.http.get("/sandbox/stats")
    assert response.status_code == 401 and sandbox.error(response)["code"] == "UNAUTHORIZED"


@pytest.mark.parametrize("version", [None, "2024-01-01", ""])
async def test_missing_or_unknown_version(sandbox, version):
    headers = {"Authorization": f"Bearer {sandbox.tokens['access_token']}"}
    if version is not None:
        headers["Cleavr-Version"] = version
    response = await sandbox.http.get("/v1/receivables", headers=headers)
    assert response.status_code == 400
    error = sandbox.error(response)
    assert error["code"] == "UNSUPPORTED_VERSION"
    for supported in SUPPORTED_API_VERSIONS:
        assert supported in error["message"]
    assert error["details"]["supported_versions"] == list(SUPPORTED_API_VERSIONS)


async def test_both_supported_versions_work(sandbox):
    for version in SUPPORTED_API_VERSIONS:
        headers = {**sandbox.headers, "Cleavr-Version": version}
        assert (await sandbox.http.get("/v1/receivables", headers=headers)).status_code == 200


@pytest.mark.parametrize(
    "path",
    ["/v1/receivables/rec_unknown", "/v1/users/usr_clv_unknown", "/v1/users/usr_clv_unknown/onboarding-status",
     "/v1/users/usr_clv_unknown/requirements", "/v1/receivables/not-even-an-id"],
)
async def test_unknown_ids(sandbox, path):
    response = await sandbox.http.get(path, headers=sandbox.headers)
    assert response.status_code == 404
    assert sandbox.error(response)["code"] == "NOT_FOUND"


async def test_unknown_ids_on_writes(sandbox):
    for path, body in [
        ("/v1/receivables/rec_nope/cancel", {"reason": "paid_directly"}),
        ("/v1/receivables/rec_nope/contacts", {"email": "a@example.com"}),
        ("/sandbox/receivables/rec_nope/advance", {"action": "start_recovery"}),
        ("/sandbox/users/usr_clv_nope/complete-onboarding", {}),
    ]:
        response = await sandbox.post(path, body)
        assert response.status_code == 404, path
    response = await sandbox.http.delete("/v1/webhooks/wh_nope", headers=sandbox.headers)
    assert response.status_code == 404
    response = await sandbox.post("/v1/receivables", receivable_body("usr_clv_nobody"))
    assert response.status_code == 404 and sandbox.error(response)["field"] == "user_id"


async def test_unknown_route_and_method(sandbox):
    response = await sandbox.http.get("/v1/nothing-here", headers=sandbox.headers)
    assert response.status_code == 404 and sandbox.error(response)["code"] == "NOT_FOUND"
    response = await sandbox.http.delete("/v1/receivables", headers=sandbox.headers)
    assert response.status_code == 405
    assert sandbox.error(response)["code"] == "METHOD_NOT_ALLOWED"
    assert response.headers["allow"] == "GET, POST"


async def test_query_validation(sandbox):
    for params, field in [({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"limit": "many"}, "limit"),
                          ({"status": "lost"}, "status"), ({"created_after": "yesterday"}, "created_after"),
                          ({"colour": "blue"}, "colour"), ({"starting_after": "rec_unknown"}, "starting_after")]:
        response = await sandbox.get("/v1/receivables", **params)
        assert response.status_code == 400, (params, response.text)
        error = sandbox.error(response)
        assert error["code"] == "VALIDATION_ERROR" and error["field"] == field, error


async def test_every_response_has_a_request_id(sandbox):
    responses = [
        await sandbox.get("/v1/receivables"),
        await sandbox.http.get("/v1/receivables"),
        await sandbox.http.get("/nope"),
        await sandbox.http.post("/oauth/token", data={}),
        await sandbox.http.get("/openapi.json"),
    ]
    ids = [r.headers[REQUEST_ID_HEADER] for r in responses]
    assert all(i.startswith("req_") for i in ids) and len(set(ids)) == len(ids)


async def test_openapi_document(sandbox):
    response = await sandbox.http.get("/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    assert "/v1/receivables" in spec["paths"] and "/oauth/token" in spec["paths"]
    ref = spec["paths"]["/v1/receivables"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    name = ref.rsplit("/", 1)[1]
    assert name == "ReceivableCreate" and name in spec["components"]["schemas"]
    # every $ref resolves
    text = json.dumps(spec)
    for piece in text.split('"$ref": "#/components/schemas/')[1:]:
        assert piece.split('"', 1)[0] in spec["components"]["schemas"]
