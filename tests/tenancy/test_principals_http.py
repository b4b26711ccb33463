"""Principals over real HTTP: each token lists the tools of its own ceiling, a hidden tool called by name is
refused, the file is re-read while the server runs; JWTs map to principals by subject or by the user-ids claim."""

from __future__ import annotations

import time

import pytest

from cleavr_mcp.server.auth import JWTVerifier, hash_token
from cleavr_mcp.server.principals import PrincipalDirectory
from tests.deploy.conftest import HttpMCP, mcp_http_server
from tests.deploy.test_http_auth import AUDIENCE, ISSUER, jwks, make_jwt, signing_keys  # noqa: F401 - fixtures

from .test_principals_file import GOOD, TOKEN_A, TOKEN_B, entry, settings_for, write_later

pytestmark = pytest.mark.anyio

LEGACY = "legacy-token-every-creditor"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("principals-http")
    path = root / "principals.toml"
    path.write_text(GOOD)
    with mcp_http_server(root, principals_file=path, auth_tokens=[LEGACY]) as (url, settings):
        yield url, path


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def tool_names(url: str, token: str) -> set[str]:
    async with HttpMCP(url, bearer(token)) as client:
        return {t.name for t in (await client.list_tools()).tools}


async def test_each_principal_lists_its_own_ceiling(server):
    url, _ = server
    everything = await tool_names(url, LEGACY)
    acme = await tool_names(url, TOKEN_A)  # no_money
    bravo = await tool_names(url, TOKEN_B)  # read-only, toolsets receivables + users
    assert {"create_user", "submit_receivable", "handle_partial_payment"} <= everything
    assert "submit_receivable" not in acme and "quote_commission" in acme  # money tools are gone
    assert "create_user" not in acme  # create_users is off for acme
    assert bravo and bravo <= {"get_receivable", "list_receivables", "get_user_status", "receivable_timeline",
                               "show_portfolio"}
    assert "list_receivables" in bravo and "cancel_receivable" not in bravo


async def test_a_hidden_tool_called_by_name_is_refused(server):
    url, _ = server
    async with HttpMCP(url, bearer(TOKEN_B)) as client:
        result = await client.call_tool("create_user", {"user": {"email": "x@example.test"}})
    assert result.is_error and "TOOL_NOT_ALLOWED" in result.content[0].text
    async with HttpMCP(url, bearer(TOKEN_A)) as client:
        result = await client.call_tool("submit_receivable", {"receivable": {}})
    assert result.is_error and "TOOL_NOT_ALLOWED" in result.content[0].text and "no-money" in result.content[0].text


async def test_headers_only_tighten_a_principal(server):
    url, _ = server
    async with HttpMCP(url, {**bearer(TOKEN_B), "X-Cleavr-Read-Only": "false", "X-Cleavr-Toolsets": "disputes"}) as c:
        assert {t.name for t in (await c.list_tools()).tools} == set()  # read-only stays; disputes ∩ its toolsets


async def test_the_file_is_re_read_while_serving(server):
    url, path = server
    newcomer = "token-added-while-running"
    write_later(path, GOOD + entry(name="charlie", token_sha256=hash_token(newcomer), user_ids=["usr_clv_c"],
                                   read_only=True))
    time.sleep(1.1)  # checked at most once a second
    assert "list_receivables" in await tool_names(url, newcomer)
    write_later(path, "[[principals]]\nname = broken")  # a broken edit keeps the last good file
    time.sleep(1.1)
    assert "list_receivables" in await tool_names(url, newcomer)
    write_later(path, GOOD)


async def test_jwt_principals(tmp_path, jwks, signing_keys):
    jwks_url, _ = jwks
    key = signing_keys["good"]

    def verifier(settings):
        return JWTVerifier.from_settings(settings)

    settings = settings_for(tmp_path, jwks_url=jwks_url, jwt_issuer=ISSUER, jwt_audience=AUDIENCE)
    directory = PrincipalDirectory(settings)
    jwt_verifier = verifier(settings)

    async def principal(**claims):
        return directory.principal_for(await jwt_verifier.verify_token(make_jwt(key, **claims)))

    admin = await principal(sub="svc-admin", scope="mcp")  # jwt_subject of the file
    assert admin.name == "platform-admin" and admin.every_creditor and admin.create_users
    narrowed = await principal(sub="svc-admin", scope="cleavr:read")  # scopes only tighten a file principal
    assert narrowed.name == "platform-admin" and narrowed.read_only and narrowed.no_money and not narrowed.create_users
    claimed = await principal(sub="u-7", scope="cleavr:write", cleavr_user_ids=["usr_clv_a", "usr_clv_b"])
    assert claimed.name == "jwt:u-7" and claimed.user_ids == {"usr_clv_a", "usr_clv_b"}
    assert not claimed.read_only and claimed.no_money and not claimed.create_users
    reader = await principal(sub="u-8", scope="cleavr:read", cleavr_user_ids="*")
    assert reader.every_creditor and reader.read_only
    full = await principal(sub="u-9", scope="cleavr:admin", cleavr_user_ids=["usr_clv_a"])
    assert not full.read_only and not full.no_money and full.create_users
    nobody = await principal(sub="u-10", scope="cleavr:admin")  # neither a known subject nor the claim: no creditor
    assert nobody.user_ids == frozenset() and nobody.read_only and not nobody.may_act_for("usr_clv_a")
    bad_claim = await principal(sub="u-11", scope="cleavr:write", cleavr_user_ids=["usr_clv_\u0430"])
    assert bad_claim.user_ids == frozenset()
    sneaky = await principal(sub="u-12", scope="cleavr:write", **{"cleavr-mcp/principal": "platform-admin"})
    assert sneaky.name != "platform-admin" and sneaky.user_ids == frozenset()  # a JWT cannot name a file principal


async def test_jwt_custom_claim_and_legacy_mode(tmp_path, jwks, signing_keys):
    from cleavr_mcp.config import Settings

    jwks_url, _ = jwks
    key = signing_keys["good"]
    base = dict(_env_file=None, data_dir=tmp_path, jwks_url=jwks_url, jwt_issuer=ISSUER, jwt_audience=AUDIENCE)
    custom = Settings(**base, jwt_user_ids_claim="https://platform.example/creditors")
    token = make_jwt(key, sub="u-1", scope="cleavr:write cleavr:money",
                     **{"https://platform.example/creditors": ["usr_clv_z"]})
    p = PrincipalDirectory(custom).principal_for(await JWTVerifier.from_settings(custom).verify_token(token))
    assert p.user_ids == {"usr_clv_z"} and not p.no_money
    # Nothing tenant-aware configured: a JWT without the claim is every creditor, as before (doctor warns).
    legacy = Settings(**base)
    p = PrincipalDirectory(legacy).principal_for(await JWTVerifier.from_settings(legacy).verify_token(make_jwt(key)))
    assert p.every_creditor and p.name == "user-42"
