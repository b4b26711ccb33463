"""OAuth: authorization code with state + PKCE, refresh rotation, client authentication, token expiry, scopes."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

import pytest

from cleavr_mcp.cleavr.contract import ALL_SCOPES
from cleavr_mcp.sandbox.testing import REDIRECT_URI, api_headers, pkce_pair, sandbox_access_token

from .conftest import BASE

pytestmark = pytest.mark.anyio


async def authorize(box, **params):
    query = {
        "client_id": box.client_id,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": "receivables:read",
        "state": "xyz-123",
        **params,
    }
    query = {k: v for k, v in query.items() if v is not None}
    return await box.http.get("/oauth/authorize", params=query)


def redirect_params(response) -> dict[str, str]:
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI)
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


async def exchange(box, **form):
    data = {"client_id": box.client_id, "client_secret": box.client_secret, **form}
    return await box.http.post("/oauth/token", data={k: v for k, v in data.items() if v is not None})


async def test_code_flow_with_state_and_pkce(sandbox):
    verifier, challenge = pkce_pair()
    params = redirect_params(await authorize(sandbox, code_challenge=challenge, code_challenge_method="S256"))
    assert params["state"] == "xyz-123"
    assert params["code"].startswith("ac_")

    wrong = await exchange(sandbox, grant_type="authorization_code", code=params["code"], redirect_uri=REDIRECT_URI,
                           code_verifier=pkce_pair()[0])
    assert wrong.status_code == 401
    error = sandbox.error(wrong)
    assert error["code"] == "UNAUTHORIZED" and error["details"]["oauth_error"] == "invalid_grant"
    assert error["field"] == "code_verifier"

    # A failed redemption burns the code (single use): the right verifier is now too late.
    again = await exchange(sandbox, grant_type="authorization_code", code=params["code"], redirect_uri=REDIRECT_URI,
                           code_verifier=verifier)
    assert again.status_code == 401

    params = redirect_params(await authorize(sandbox, code_challenge=challenge, code_challenge_method="S256"))
    ok = await exchange(sandbox, grant_type="authorization_code", code=params["code"], redirect_uri=REDIRECT_URI,
                        code_verifier=verifier)
    assert ok.status_code == 200, ok.text
    assert ok.headers["cache-control"] == "no-store"
    tokens = ok.json()
    assert set(tokens) == {"access_token", "token_type", "expires_in", "refresh_token", "scope"}
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    assert tokens["scope"] == "receivables:read"

    reused = await exchange(sandbox, grant_type="authorization_code", code=params["code"], redirect_uri=REDIRECT_URI,
                            code_verifier=verifier)
    assert reused.status_code == 401 and sandbox.error(reused)["details"]["oauth_error"] == "invalid_grant"


async def test_code_without_pkce_and_redirect_uri_must_match(sandbox):
    code = redirect_params(await authorize(sandbox))["code"]
    mismatch = await exchange(sandbox, grant_type="authorization_code", code=code, redirect_uri="http://127.0.0.1/other")
    assert mismatch.status_code == 401 and sandbox.error(mismatch)["field"] == "redirect_uri"
    code = redirect_params(await authorize(sandbox))["code"]
    ok = await exchange(sandbox, grant_type="authorization_code", code=code, redirect_uri=REDIRECT_URI)
    assert ok.status_code == 200


async def test_refresh_rotation_refuses_the_old_token(sandbox):
    first = sandbox.tokens
    second = await exchange(sandbox, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert second.status_code == 200, second.text
    second = second.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]
    assert second["scope"] == " ".join(ALL_SCOPES)

    old = await exchange(sandbox, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert old.status_code == 401
    assert sandbox.error(old)["details"]["oauth_error"] == "invalid_grant"

    narrowed = await exchange(sandbox, grant_type="refresh_token", refresh_token=second["refresh_token"],
                              scope="users:read")
    assert narrowed.status_code == 200 and narrowed.json()["scope"] == "users:read"
    # The new access token works; the pre-refresh one stays valid until it expires.
    for token in (narrowed.json()["access_token"], first["access_token"]):
        response = await sandbox.http.get(f"/v1/users/{sandbox.user_id}", headers=api_headers(token))
        assert response.status_code == 200


async def test_refresh_cannot_widen_scope(sandbox):
    tokens = await sandbox_access_token(sandbox.http, BASE, sandbox.client_id, sandbox.client_secret, ["users:read"])
    wider = await exchange(sandbox, grant_type="refresh_token", refresh_token=tokens["refresh_token"],
                           scope="users:read users:write")
    assert wider.status_code == 400 and sandbox.error(wider)["details"]["oauth_error"] == "invalid_scope"


async def test_client_authentication(sandbox):
    wrong = await sandbox.http.post("/oauth/token", data={
        "grant_type": "refresh_token", "refresh_token": sandbox.tokens["refresh_token"],
        "client_id": sandbox.client_id, "client_secret": "sk_test_wrong"})
    assert wrong.status_code == 401
    error = sandbox.error(wrong)
    assert error["code"] == "UNAUTHORIZED" and error["details"]["oauth_error"] == "invalid_client"
    assert "sk_test_wrong" not in wrong.text

    missing = await sandbox.http.post("/oauth/token", data={"grant_type": "refresh_token"})
    assert missing.status_code == 401

    basic = base64.b64encode(f"{sandbox.client_id}:{sandbox.client_secret}".encode()).decode()
    ok = await sandbox.http.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": sandbox.tokens["refresh_token"]},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert ok.status_code == 200, ok.text


async def test_token_request_errors(sandbox):
    unsupported = await exchange(sandbox, grant_type="password")
    assert unsupported.status_code == 400
    assert sandbox.error(unsupported)["details"]["oauth_error"] == "unsupported_grant_type"
    no_code = await exchange(sandbox, grant_type="authorization_code")
    assert no_code.status_code == 400 and sandbox.error(no_code)["field"] == "code"
    bogus = await exchange(sandbox, grant_type="authorization_code", code="ac_nope", redirect_uri=REDIRECT_URI)
    assert bogus.status_code == 401
    repeated = await sandbox.http.post(
        "/oauth/token", content=b"grant_type=refresh_token&grant_type=refresh_token",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert repeated.status_code == 400


async def test_authorize_errors(sandbox):
    unknown = await authorize(sandbox, client_id="plat_test_nobody")
    assert unknown.status_code == 401 and sandbox.error(unknown)["field"] == "client_id"
    no_redirect = await authorize(sandbox, redirect_uri=None)
    assert no_redirect.status_code == 400 and sandbox.error(no_redirect)["field"] == "redirect_uri"
    bad_type = redirect_params(await authorize(sandbox, response_type="token"))
    assert bad_type["error"] == "unsupported_response_type" and bad_type["state"] == "xyz-123"
    bad_scope = redirect_params(await authorize(sandbox, scope="receivables:read everything"))
    assert bad_scope["error"] == "invalid_scope"
    plain = redirect_params(await authorize(sandbox, code_challenge="a" * 43, code_challenge_method="plain"))
    assert plain["error"] == "invalid_request"
    all_scopes = redirect_params(await authorize(sandbox, scope=None))
    tokens = await exchange(sandbox, grant_type="authorization_code", code=all_scopes["code"], redirect_uri=REDIRECT_URI)
    assert tokens.json()["scope"] == " ".join(ALL_SCOPES)


async def test_insufficient_scope(sandbox):
    tokens = await sandbox_access_token(sandbox.http, BASE, sandbox.client_id, sandbox.client_secret,
                                        ["receivables:read"])
    headers = api_headers(tokens["access_token"])
    assert (await sandbox.http.get("/v1/receivables", headers=headers)).status_code == 200
    denied = await sandbox.http.post("/v1/receivables", content=b"{}", headers=headers)
    assert denied.status_code == 403
    error = sandbox.error(denied)
    assert error["code"] == "INSUFFICIENT_SCOPE"
    assert error["details"] == {"required_scope": "receivables:write", "granted_scopes": ["receivables:read"]}
    for method, path in [("GET", f"/v1/users/{sandbox.user_id}"), ("GET", "/v1/webhooks"),
                         ("GET", "/v1/commission/rates"), ("POST", "/v1/users")]:
        response = await sandbox.http.request(method, path, headers=headers, content=b"{}")
        assert response.status_code == 403, (method, path)


async def test_expiring_tokens_for_refresh_logic(sandbox):
    headers = sandbox.headers
    assert (await sandbox.get("/v1/receivables")).status_code == 200
    expired = await sandbox.post("/sandbox/tokens/expire", {})
    assert expired.status_code == 200 and expired.json()["expired_access_tokens"] == 1
    response = await sandbox.http.get("/v1/receivables", headers=headers)
    assert response.status_code == 401
    error = sandbox.error(response)
    assert error["code"] == "UNAUTHORIZED" and error["details"]["reason"] == "token_expired"
    assert "invalid_token" in response.headers["www-authenticate"]

    refreshed = await exchange(sandbox, grant_type="refresh_token", refresh_token=sandbox.tokens["refresh_token"])
    sandbox.tokens = refreshed.json()
    assert (await sandbox.get("/v1/receivables")).status_code == 200

    ttl = await sandbox.http.put("/sandbox/tokens/settings", json={"access_token_ttl_seconds": 1},
                                 headers=sandbox.headers)
    assert ttl.status_code == 200
    short = await exchange(sandbox, grant_type="refresh_token", refresh_token=sandbox.tokens["refresh_token"])
    assert short.json()["expires_in"] == 1
