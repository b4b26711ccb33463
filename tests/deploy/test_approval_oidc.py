"""Signing in on the approval page with OpenID Connect, against a real provider over real HTTP
(tests/deploy/oidc_provider.py: discovery, authorization code + PKCE, JWKS, RS256).

The MCP server's bearer JWTs come from the same provider, so the person who logs in (subject `alice`) is the
principal the model's token speaks for. Covered: the whole round trip and the approval it allows; state mismatch,
a missing or altered round-trip cookie, nonce mismatch, every bad id_token (audience, issuer, alg none, HS256,
foreign key, expired, azp), a replayed authorization code, another subject's login, and no open redirect whatever
return URL the request carries.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest

from cleavr_mcp.server.app import build_server
from cleavr_mcp.server.approvals.oidc import COOKIE, subject_principal
from cleavr_mcp.server.http import build_http_app

from .conftest import HttpMCP, audit_rows, bound_socket, running_app, submission
from .oidc_provider import Provider, running_provider, signing_in_with

pytestmark = pytest.mark.anyio
FAILED = "The sign-in did not succeed."


def hidden(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


class Deployment:
    def __init__(self, base: str, settings: Any, server: Any, provider: Provider, demo: str) -> None:
        self.base, self.settings, self.server, self.provider, self.demo = base, settings, server, provider, demo

    def browser(self) -> httpx2.Client:
        return httpx2.Client(headers={"Origin": self.base}, follow_redirects=False)

    async def call(self, body: dict, subject: str = "alice") -> dict:
        token = self.provider.access_token(subject)
        async with HttpMCP(f"{self.base}/mcp", {"Authorization": f"Bearer {token}"}) as client:
            return (await client.call_tool("submit_receivable", body)).structured_content

    async def pending(self, subject: str = "alice") -> tuple[str, dict]:
        body = {"receivable": submission(self.demo)}
        out = await self.call(body, subject)
        assert out["status"] == "approval_pending", out
        return out["approval_url"], body


@pytest.fixture(scope="module")
def deployment(sandbox, tmp_path_factory) -> Iterator[Deployment]:
    with running_provider() as provider:
        sock, port = bound_socket()
        base = f"http://127.0.0.1:{port}"
        settings = signing_in_with(provider, sandbox, tmp_path_factory.mktemp("oidc"), port)
        server = build_server(settings)
        with running_app(build_http_app(server, settings), sock) as served:
            assert served == base
            yield Deployment(base, settings, server, provider, sandbox.demo_user)


@pytest.fixture(autouse=True)
def honest_provider(deployment):
    deployment.provider.tamper, deployment.provider.subject = None, "alice"
    yield


def start(d: Deployment, browser: httpx2.Client, url: str, query: str = "") -> tuple[str, str]:
    """The page's 'Sign in with' link, followed to the provider and back: (callback URL, round-trip cookie)."""
    page = browser.get(url)
    link = re.search(r'<a class="sign-in-link" href="([^"]+)"', page.text)
    assert link and "Sign in with" in page.text, page.text[:500]
    started = browser.get(d.base + link.group(1) + query)
    assert started.status_code == 303
    cookie = started.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "httponly" in cookie.lower() and "samesite=lax" in cookie.lower()
    assert "path=/approvals/oidc/callback" in cookie.lower()
    authorize = started.headers["location"]
    assert authorize.startswith(f"{d.provider.issuer}/authorize?")
    params = parse_qs(urlsplit(authorize).query)
    assert params["code_challenge_method"] == ["S256"] and params["state"][0] and params["nonce"][0]
    assert params["redirect_uri"] == [f"{d.base}/approvals/oidc/callback"]
    back = browser.get(authorize)
    assert back.status_code == 302, back.text
    return back.headers["location"], browser.cookies.get(COOKIE)


async def test_oidc_login_signs_the_person_in_and_they_approve(deployment):
    d = deployment
    url, body = await d.pending()
    with d.browser() as person:
        callback, _ = start(d, person, url)
        signed = person.get(callback)
        assert signed.status_code == 200, signed.text
        path = urlsplit(url).path
        assert f'http-equiv="refresh" content="0;url={path}"' in signed.text
        session = signed.headers["set-cookie"]
        assert session.startswith("cleavr-approval=") and "samesite=strict" in session.lower()
        assert d.provider.token_requests[-1]["code_verifier"]  # PKCE: the verifier went to the token endpoint
        page = person.get(url)
        assert "You are signed in" in page.text and 'name="code"' not in page.text
        assert person.post(url, data={**hidden(page.text), "decision": "approve"}).status_code == 303
    assert (await d.call(body))["status"] == "done"
    rows = [r for r in audit_rows(d.settings) if r.tool == "submit_receivable" and r.outcome == "done"]
    assert rows and rows[-1].confirmed_by == "page"


async def test_a_state_mismatch_or_a_missing_or_altered_round_trip_cookie_signs_nobody_in(deployment):
    d = deployment
    url, body = await d.pending()
    cases = {}
    with d.browser() as person:
        callback, trip = start(d, person, url)
        cases["state"] = person.get(re.sub(r"state=[^&]+", "state=forged", callback))
    with d.browser() as person:
        callback, trip = start(d, person, url)
        person.cookies.clear()
        cases["no cookie"] = person.get(callback)  # the callback URL opened in another browser (a stolen code)
    with d.browser() as person:
        callback, trip = start(d, person, url)
        body_part, signature = trip.split(".")
        person.cookies.clear()
        person.cookies.set(COOKIE, body_part[:-4] + "AAAA." + signature, path="/approvals/oidc/callback")
        cases["altered cookie"] = person.get(callback)
    for name, answer in cases.items():
        assert answer.status_code == 403 and FAILED in answer.text, name
        assert "cleavr-approval=" not in answer.headers.get("set-cookie", ""), name
    assert (await d.call(body))["status"] == "approval_pending"


WHY = {"nonce": "nonce mismatch", "no_nonce": "nonce mismatch", "aud": "InvalidAudienceError",
       "iss": "InvalidIssuerError", "alg_none": "algorithm not allowed", "hs256": "algorithm not allowed",
       "foreign_key": "InvalidSignatureError", "expired": "ExpiredSignatureError", "azp": "another client (azp)"}


@pytest.mark.parametrize("tamper", sorted(WHY))
async def test_a_bad_id_token_signs_nobody_in(deployment, tamper, caplog):
    d = deployment
    caplog.set_level("WARNING", logger="cleavr_mcp.server.approvals")
    url, body = await d.pending()
    d.provider.tamper = tamper
    with d.browser() as person:
        callback, _ = start(d, person, url)
        answer = person.get(callback)
        assert answer.status_code == 403 and FAILED in answer.text
        assert "cleavr-approval=" not in answer.headers.get("set-cookie", "")
        assert any(WHY[tamper] in r.getMessage() for r in caplog.records), [r.getMessage() for r in caplog.records]
        refused = person.post(url, data={**hidden(person.get(url).text), "decision": "approve"})
        assert refused.status_code == 403
    assert (await d.call(body))["status"] == "approval_pending"


async def test_a_replayed_authorization_code_is_refused(deployment):
    d = deployment
    url, body = await d.pending()
    with d.browser() as person:
        callback, trip = start(d, person, url)
        assert person.get(callback).status_code == 200
    with d.browser() as thief:
        thief.cookies.set(COOKIE, trip, path="/approvals/oidc/callback")
        again = thief.get(callback)  # the same callback (code, state) and round-trip cookie, replayed
        assert again.status_code == 403 and "cleavr-approval=" not in again.headers.get("set-cookie", "")
    assert d.provider.refused[-1] == "token: unknown, used or mismatched code"


async def test_another_subjects_login_cannot_decide(deployment):
    d = deployment
    url, body = await d.pending("alice")
    d.provider.subject = "mallory"
    with d.browser() as mallory:
        callback, _ = start(d, mallory, url)
        assert mallory.get(callback).status_code == 200  # mallory is signed in as mallory…
        page = mallory.get(url)
        assert 'name="code"' in page.text  # …which is not alice: the page still asks for alice's sign-in
        assert mallory.post(url, data={**hidden(page.text), "decision": "approve"}).status_code == 403
    assert (await d.call(body))["status"] == "approval_pending"


async def test_no_open_redirect_whatever_the_return_url(deployment):
    d = deployment
    url, body = await d.pending()
    evil = "https://evil.example/phish"
    with d.browser() as person:
        callback, _ = start(d, person, url, f"?return={evil}&next=//evil.example&redirect_uri={evil}")
        assert "evil.example" not in callback
        signed = person.get(callback + f"&return={evil}&next=//evil.example")
        assert signed.status_code == 200 and "evil" not in signed.text
        refresh = re.search(r'content="0;url=([^"]+)"', signed.text).group(1)
        assert refresh == urlsplit(url).path  # a path on this server: the approval's own page
    # Starting a login for something that is not a pending approval goes nowhere.
    with d.browser() as person:
        assert person.get(f"{d.base}/approvals/{'x' * 43}/sign-in/oidc").status_code == 404
        assert person.get(f"{d.base}/approvals/oidc/callback?code=a&state=b").status_code == 403


def test_subject_to_principal_mapping(tmp_path):
    from cleavr_mcp.config import Settings
    from cleavr_mcp.server.principals import PrincipalDirectory

    def settings(**values):
        return Settings(_env_file=None, data_dir=tmp_path, approval_oidc_client_id="c", **values)

    same = settings(approval_oidc_issuer="https://id.example/", jwt_issuer="https://id.example")
    assert subject_principal(same, "alice") == "alice"  # the name the MCP bearer JWT of that subject gets
    claim = settings(approval_oidc_issuer="https://id.example", jwt_issuer="https://id.example",
                     jwt_user_ids_claim="cleavr_user_ids")
    assert subject_principal(claim, "alice") == "jwt:alice"
    other = settings(approval_oidc_issuer="https://id.example", jwt_issuer="https://elsewhere.example")
    assert subject_principal(other, "alice") is None  # an unrelated issuer's subject is nobody here
    principals = tmp_path / "principals.toml"
    principals.write_text('[[principals]]\nname = "acme"\njwt_subject = "auth0|123"\nuser_ids = ["*"]\n')
    with_file = settings(principals_file=principals, approval_oidc_issuer="https://id.example",
                         jwt_issuer="https://id.example")
    directory = PrincipalDirectory(with_file)
    assert subject_principal(with_file, "auth0|123", directory) == "acme"
    assert subject_principal(with_file, "alice", directory) is None  # with a file, only its subjects sign in
