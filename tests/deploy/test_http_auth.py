"""Bearer auth over real HTTP: static tokens (kept as hashes) and JWTs verified against a JWKS served locally."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import httpx2
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from cleavr_mcp.server.auth import JWKSCache, StaticTokenVerifier, hash_token, token_verifier

from .conftest import INITIALIZE, MCP_ACCEPT, HttpMCP, bound_socket, make_settings, mcp_http_server, running_app

pytestmark = pytest.mark.anyio

TOKEN = "s3cret-bearer-token-for-tests"


def post_initialize(url: str, token: str | None = None, **headers: str) -> httpx2.Response:
    extra = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx2.post(url, json=INITIALIZE, headers={**MCP_ACCEPT, **extra, **headers}, timeout=10)


@pytest.fixture(scope="module")
def token_server(tmp_path_factory):
    with mcp_http_server(tmp_path_factory.mktemp("auth"), auth_tokens=[TOKEN]) as (url, settings):
        yield url, settings


def test_no_token_is_401_with_resource_metadata(token_server):
    url, settings = token_server
    response = post_initialize(url)
    assert response.status_code == 401
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Bearer ") and 'error="invalid_token"' in challenge
    metadata_url = url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")
    assert f'resource_metadata="{metadata_url}"' in challenge
    metadata = httpx2.get(metadata_url).json()
    assert metadata["resource"] == url
    assert metadata["authorization_servers"] and metadata["bearer_methods_supported"] == ["header"]


@pytest.mark.parametrize("presented", ["wrong-token", TOKEN + "x", TOKEN[:-1], hash_token(TOKEN), "Bearer " + TOKEN])
def test_wrong_token_is_401(token_server, presented):
    url, _ = token_server
    response = httpx2.post(url, json=INITIALIZE, headers={**MCP_ACCEPT, "Authorization": f"Bearer {presented}"})
    assert response.status_code == 401
    assert "www-authenticate" in response.headers


def test_basic_auth_is_not_a_bearer_token(token_server):
    url, _ = token_server
    response = httpx2.post(url, json=INITIALIZE, headers=MCP_ACCEPT, auth=("user", TOKEN))
    assert response.status_code == 401


async def test_right_token_lists_tools(token_server):
    url, _ = token_server
    async with HttpMCP(url, {"Authorization": f"Bearer {TOKEN}"}) as client:
        tools = (await client.list_tools()).tools
    assert "quote_commission" in {t.name for t in tools}


async def test_right_token_in_legacy_mode_too(token_server):
    url, _ = token_server
    async with HttpMCP(url, {"Authorization": f"Bearer {TOKEN}"}, mode="legacy") as client:
        tools = (await client.list_tools()).tools
    assert len(tools) > 5


def test_healthz_needs_no_token(token_server):
    url, _ = token_server
    anonymous = httpx2.get(url.replace("/mcp", "/healthz"))
    assert anonymous.status_code == 200 and anonymous.text == "ok"  # nothing more without a token
    health = httpx2.get(url.replace("/mcp", "/healthz"), headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert health["status"] == "ok" and health["environment"] == "sandbox"  # a loopback API is a local sandbox


async def test_token_given_as_hash_only(tmp_path):
    with mcp_http_server(tmp_path, auth_token_hashes=[hash_token("only-the-hash-is-configured")]) as (url, _):
        assert post_initialize(url, "nope").status_code == 401
        async with HttpMCP(url, {"Authorization": "Bearer only-the-hash-is-configured"}) as client:
            assert (await client.list_tools()).tools


async def test_static_verifier_keeps_no_raw_token(tmp_path):
    settings = make_settings(tmp_path, auth_tokens=[TOKEN])
    verifier = StaticTokenVerifier.from_settings(settings)
    assert TOKEN.encode() not in repr(vars(verifier)).encode()
    found = await verifier.verify_token(TOKEN)
    assert found is not None and TOKEN not in found.model_dump_json()
    assert found.client_id == f"token:{hash_token(TOKEN)[:12]}"
    assert await verifier.verify_token(TOKEN.upper()) is None


def test_bad_hash_setting_is_refused(tmp_path):
    from cleavr_mcp.server.auth import AuthConfigError

    with pytest.raises(AuthConfigError):
        token_verifier(make_settings(tmp_path, auth_token_hashes=["not-hex"]))


# --- JWT ------------------------------------------------------------------------------------------------------
ISSUER = "https://login.example.test/"
AUDIENCE = "cleavr-mcp"


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def signing_keys():
    return {"good": rsa_key(), "other": rsa_key()}


@pytest.fixture(scope="module")
def jwks(signing_keys):
    """A tiny JWKS endpoint serving the public half of the 'good' key; counts how often it is fetched."""
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(signing_keys["good"].public_key(), as_dict=True)
    jwk.update(kid="k1", use="sig", alg="RS256")
    hits = []

    async def keys(request):
        hits.append(time.time())
        return JSONResponse({"keys": [jwk]})

    sock, _ = bound_socket()
    with running_app(Starlette(routes=[Route("/.well-known/jwks.json", keys)]), sock) as base:
        yield f"{base}/.well-known/jwks.json", hits


def make_jwt(key, *, kid="k1", exp_in=300, aud=AUDIENCE, iss=ISSUER, alg="RS256", **claims) -> str:
    now = int(time.time())
    body = {"sub": "user-42", "client_id": "agent-app", "iat": now, "exp": now + exp_in, "scope": "mcp", **claims}
    if aud is not None:
        body["aud"] = aud
    if iss is not None:
        body["iss"] = iss
    return jwt.encode(body, key, algorithm=alg, headers={"kid": kid})


@pytest.fixture(scope="module")
def jwt_server(tmp_path_factory, jwks):
    jwks_url, _ = jwks
    with mcp_http_server(tmp_path_factory.mktemp("jwt"), jwks_url=jwks_url, jwt_issuer=ISSUER,
                         jwt_audience=AUDIENCE, auth_tokens=[TOKEN]) as (url, settings):
        yield url, settings


async def test_jwt_happy_path(jwt_server, signing_keys):
    url, _ = jwt_server
    token = make_jwt(signing_keys["good"])
    async with HttpMCP(url, {"Authorization": f"Bearer {token}"}) as client:
        assert (await client.list_tools()).tools
    metadata = httpx2.get(url.replace("/mcp", "/.well-known/oauth-protected-resource/mcp")).json()
    assert metadata["authorization_servers"] == [ISSUER]


def b64json(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("case", ["expired", "wrong_key", "wrong_audience", "wrong_issuer", "no_exp", "unknown_kid",
                                  "alg_none", "hs256_with_public_key", "garbage"])
def test_jwt_refused(jwt_server, signing_keys, case):
    url, _ = jwt_server
    good = signing_keys["good"]
    if case == "expired":
        token = make_jwt(good, exp_in=-120)  # beyond the 30 s leeway
    elif case == "wrong_key":
        token = make_jwt(signing_keys["other"])
    elif case == "wrong_audience":
        token = make_jwt(good, aud="someone-else")
    elif case == "wrong_issuer":
        token = make_jwt(good, iss="https://evil.example/")
    elif case == "no_exp":
        token = jwt.encode({"sub": "x", "aud": AUDIENCE, "iss": ISSUER}, good, algorithm="RS256",
                           headers={"kid": "k1"})
    elif case == "unknown_kid":
        token = make_jwt(good, kid="k-unknown")
    elif case == "alg_none":
        token = jwt.encode({"sub": "x", "aud": AUDIENCE, "iss": ISSUER, "exp": int(time.time()) + 300}, None,
                           algorithm="none", headers={"kid": "k1"})
    elif case == "hs256_with_public_key":
        # The classic confusion attack, built by hand (PyJWT refuses to HMAC-sign with a PEM public key).
        pem = good.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        head = b64json({"alg": "HS256", "typ": "JWT", "kid": "k1"})
        body = b64json({"sub": "x", "aud": AUDIENCE, "iss": ISSUER, "exp": int(time.time()) + 300})
        sig = base64.urlsafe_b64encode(hmac.new(pem, f"{head}.{body}".encode(), hashlib.sha256).digest()).rstrip(b"=")
        token = f"{head}.{body}.{sig.decode()}"
    else:
        token = "a.b.c"
    response = post_initialize(url, token)
    assert response.status_code == 401, case


def test_static_token_still_works_next_to_jwt(jwt_server):
    url, _ = jwt_server
    assert post_initialize(url, TOKEN).status_code == 200


async def test_jwks_is_cached(jwks, signing_keys):
    jwks_url, hits = jwks
    from cleavr_mcp.server.auth import JWTVerifier

    cache = JWKSCache(jwks_url, ttl=300)
    verifier = JWTVerifier(cache, issuer=ISSUER, audience=AUDIENCE)
    for _ in range(5):
        found = await verifier.verify_token(make_jwt(signing_keys["good"]))
        assert found is not None and found.subject == "user-42" and found.client_id == "agent-app"
    assert cache.fetch_count == 1
    # An unknown kid right after a fetch does not hammer the JWKS endpoint.
    assert await verifier.verify_token(make_jwt(signing_keys["good"], kid="rotated")) is None
    assert cache.fetch_count == 1


async def test_jwt_required_scopes(jwks, signing_keys):
    from cleavr_mcp.server.auth import JWTVerifier

    verifier = JWTVerifier(JWKSCache(jwks[0]), issuer=ISSUER, audience=AUDIENCE, required_scopes=["cleavr:write"])
    assert await verifier.verify_token(make_jwt(signing_keys["good"], scope="mcp")) is None
    ok = await verifier.verify_token(make_jwt(signing_keys["good"], scope="mcp cleavr:write"))
    assert ok is not None and ok.scopes == ["mcp", "cleavr:write"]
