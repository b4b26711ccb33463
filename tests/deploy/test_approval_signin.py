"""Signing in on the approval page with a one-time code, over real HTTP (the server as `serve --transport http`
builds it, with bearer auth, on a real sandbox).

The link reaches the person through the model, so the model (which can fetch the page) must not be able to
decide: a decision needs the sign-in of the principal that asked. Covered here: the code from the admin endpoint
and from the CLI; the session cookie it sets (flags, reuse for the next approval); every refusal - wrong, expired,
replayed and other principal's codes (one identical answer), brute force (approval locked, then the client
throttled), tampered, expired and other principal's cookies, CSRF and Origin still checked when signed in; the
admin endpoint's credential; the cross-site arrival that keeps the SameSite=Strict cookie.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest

from cleavr_mcp.server.app import build_server
from cleavr_mcp.server.approvals.signin import MAX_FAILURES_PER_APPROVAL, MAX_FAILURES_PER_CLIENT, SignInStore
from cleavr_mcp.server.auth import AuthConfigError, hash_token
from cleavr_mcp.server.http import build_http_app

from .conftest import HttpMCP, audit_rows, bound_socket, running_app, submission

pytestmark = pytest.mark.anyio
PERSON, OTHER = "person-token-7f3a", "other-token-19c2"
ADMIN = "admin-credential-5d1e-not-an-mcp-token"
REFUSED = "This sign-in code is not valid."


def principal_of(token: str) -> str:
    """The principal name the server records for a legacy bearer token (TENANCY.md)."""
    return f"token:{hash_token(token)[:12]}"


def hidden(html: str) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))


@dataclass
class Deployment:
    base: str
    settings: Any
    server: Any

    def browser(self) -> httpx2.Client:
        """A person's browser: its own cookie jar, same-origin form posts."""
        return httpx2.Client(base_url=self.base, headers={"Origin": self.base}, follow_redirects=False)

    def issue(self, principal: str) -> str:
        response = httpx2.post(f"{self.base}/approvals/sign-in-codes", json={"principal": principal},
                               headers={"Authorization": f"Bearer {ADMIN}"})
        assert response.status_code == 200, response.text
        return response.json()["code"]

    @property
    def service(self):
        return self.server.approvals

    def audit_done(self, tool: str = "submit_receivable") -> list[Any]:
        return [r for r in audit_rows(self.settings) if r.tool == tool and r.outcome == "done"]


def deploy(sandbox, tmp_path, **values: Any):
    from contextlib import contextmanager

    @contextmanager
    def running() -> Iterator[Deployment]:
        sock, port = bound_socket()
        settings = sandbox.api_settings(tmp_path, http_port=port, auth_tokens=[PERSON, OTHER],
                                        approval_wait_seconds=0, approval_admin_token_hashes=[hash_token(ADMIN)],
                                        **values)
        server = build_server(settings)
        with running_app(build_http_app(server, settings), sock) as base:
            yield Deployment(base, settings, server)

    return running()


@pytest.fixture(scope="module")
def deployment(sandbox, tmp_path_factory) -> Iterator[Deployment]:
    with deploy(sandbox, tmp_path_factory.mktemp("signin")) as d:
        # Every test here posts from 127.0.0.1: the per-client throttle has its own test and server.
        d.service.max_failures_per_client = 10_000
        yield d


class Model:
    """The model's side: each call on a fresh MCP session (the approval is bound to the principal and payload,
    not to a session)."""

    def __init__(self, deployment: Deployment, token: str) -> None:
        self.url, self.headers = f"{deployment.base}/mcp", {"Authorization": f"Bearer {token}"}

    async def call_tool(self, name: str, args: dict) -> Any:
        async with HttpMCP(self.url, self.headers) as client:
            return await client.call_tool(name, args)


async def pending(deployment: Deployment, token: str = PERSON) -> tuple[str, dict, Model]:
    """A new pending submission asked for by the model holding `token`: (approval URL, arguments, model)."""
    model = Model(deployment, token)
    body = {"receivable": submission(deployment.demo)}
    out = (await model.call_tool("submit_receivable", body)).structured_content
    assert out["status"] == "approval_pending", out
    return out["approval_url"], body, model


@pytest.fixture
def ask(deployment, sandbox):
    """`await ask(token)` opens a pending write for that token's principal."""
    deployment.demo = sandbox.demo_user

    async def _ask(token: str = PERSON):
        return await pending(deployment, token)

    return _ask


def form_of(browser: httpx2.Client, url: str, **extra: str) -> dict[str, str]:
    page = browser.get(url)
    assert page.status_code == 200, page.text[:300]
    return {**hidden(page.text), "decision": "approve", **extra}


def refusal_text(response: httpx2.Response) -> str:
    """The page as the person sees it after a refused sign-in (the CSRF token aside, it is per approval)."""
    return re.sub(r'name="csrf" value="[^"]*"', "", response.text)


# --- the happy path ---------------------------------------------------------------------------------------
async def test_a_code_signs_the_person_in_and_the_cookie_covers_the_next_approval(deployment, ask):
    url, body, model = await ask()
    with deployment.browser() as person, httpx2.Client() as fetcher:
        page = fetcher.get(url)  # the model fetches the link: it sees the page and the sign-in form…
        assert page.status_code == 200
        assert 'name="code"' in page.text and "access token" not in page.text.lower()
        assert 'name="credential"' not in page.text  # pasting a bearer token is no longer a way in
        form = {**hidden(page.text), "decision": "approve"}
        without = httpx2.post(url, data=form, headers={"Origin": deployment.base})
        assert without.status_code == 403 and REFUSED in without.text  # …but cannot decide
        assert (await model.call_tool("submit_receivable", body)).structured_content["status"] == "approval_pending"

        code = deployment.issue(principal_of(PERSON))
        assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}", code)
        typed = code.lower().replace("-", " ")  # as a person may type it
        approved = person.post(url, data={**form_of(person, url), "code": typed})
        assert approved.status_code == 303, approved.text[:300]
        cookie = approved.headers["set-cookie"]
        assert cookie.startswith("cleavr-approval=")  # http: no __Host- prefix, no Secure
        flags = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
        assert {"httponly", "samesite", "max-age", "path"} <= flags and "secure" not in flags
        assert "samesite=strict" in cookie.lower()
        assert f"max-age={deployment.settings.approval_session_minutes * 60}" in cookie.lower()
        assert "You are signed in" not in page.text
        done = await model.call_tool("submit_receivable", body)
        assert done.structured_content["status"] == "done", done.content[0].text[:300]

        url2, body2, model2 = await ask()
        page2 = person.get(url2)
        assert "You are signed in" in page2.text and 'name="code"' not in page2.text
        assert person.post(url2, data={**hidden(page2.text), "decision": "approve"}).status_code == 303
        assert (await model2.call_tool("submit_receivable", body2)).structured_content["status"] == "done"


async def test_the_cli_issues_a_code_the_running_server_accepts(deployment, ask):
    url, body, model = await ask()
    env = {**os.environ, "CLEAVR_MCP_DATA_DIR": str(deployment.settings.data_dir)}
    env.pop("CLEAVR_MCP_DATABASE_URL", None)
    out = subprocess.run([sys.executable, "-m", "cleavr_mcp.cli", "approvals", "sign-in-code", "--principal",
                          principal_of(PERSON), "--minutes", "5"], env=env, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    code = out.stdout.strip().rsplit(" ", 1)[-1]
    assert "single use" in out.stdout and principal_of(PERSON) in out.stdout
    with deployment.browser() as person:
        assert person.post(url, data={**form_of(person, url), "code": code}).status_code == 303
    assert (await model.call_tool("submit_receivable", body)).structured_content["status"] == "done"


async def test_decline_needs_the_sign_in_too(deployment, ask):
    url, body, model = await ask()
    with deployment.browser() as person:
        form = {**form_of(person, url), "decision": "decline"}
        assert person.post(url, data=form).status_code == 403  # the model cannot decline for the person either
        assert person.post(url, data={**form, "code": deployment.issue(principal_of(PERSON))}).status_code == 303
    assert (await model.call_tool("submit_receivable", body)).structured_content["status"] == "declined"


# --- codes that must not work ---------------------------------------------------------------------------------
async def test_wrong_expired_replayed_and_other_principals_codes_get_one_identical_answer(deployment, ask):
    url, body, model = await ask()
    before = len(deployment.audit_done())
    codes = SignInStore(deployment.service.ledger.db)
    now = time.time()
    expired = (await codes.issue(principal_of(PERSON), ttl_seconds=600, now=now - 601)).code
    others = deployment.issue(principal_of(OTHER))
    used = deployment.issue(principal_of(PERSON))
    url0, body0, model0 = await ask()
    with deployment.browser() as first:
        assert first.post(url0, data={**form_of(first, url0), "code": used}).status_code == 303  # spent here
    answers = []
    with deployment.browser() as person:
        for code in ("ZZZZ-ZZZZ-ZZZZ", expired, used, others):
            answers.append(person.post(url, data={**form_of(person, url), "code": code}))
            assert "set-cookie" not in answers[-1].headers
    assert {a.status_code for a in answers} == {403}
    assert len({refusal_text(a) for a in answers}) == 1 and REFUSED in answers[0].text
    assert (await model.call_tool("submit_receivable", body)).structured_content["status"] == "approval_pending"
    assert len(deployment.audit_done()) == before  # nothing was written for the refused codes

    # The other principal's code was not spent on this write: it still signs its own person in, for its own write.
    url_b, body_b, model_b = await ask(OTHER)
    with deployment.browser() as other:
        assert other.post(url_b, data={**form_of(other, url_b), "code": others}).status_code == 303
        # …and that session cannot decide PERSON's write.
        refused = other.post(url, data=form_of(other, url))
        assert refused.status_code == 403 and REFUSED in refused.text
    assert (await model_b.call_tool("submit_receivable", body_b)).structured_content["status"] == "done"
    assert (await model.call_tool("submit_receivable", body)).structured_content["status"] == "approval_pending"
    await model0.call_tool("submit_receivable", body0)  # spend it (not part of the assertions)


async def test_five_wrong_codes_lock_the_approval_even_for_the_right_code(deployment, ask):
    url, body, model = await ask()
    with deployment.browser() as attacker:
        form_before = form_of(attacker, url)
        for attempt in range(1, MAX_FAILURES_PER_APPROVAL + 1):
            answer = attacker.post(url, data={**form_of(attacker, url), "code": f"AAAA-AAAA-AAA{attempt}"})
            assert answer.status_code == 403
        assert "locked" in answer.text and "nothing was sent" in answer.text
        right = deployment.issue(principal_of(PERSON))
        after = attacker.post(url, data={**form_before, "code": right})
        assert after.status_code == 303 and "set-cookie" not in after.headers  # already decided: declined
        assert "Declined" in attacker.get(url).text
    assert (await model.call_tool("submit_receivable", body)).structured_content["status"] == "declined"
    # The right code was not spent on the locked approval: it still works on a new one.
    url2, body2, model2 = await ask()
    with deployment.browser() as person:
        assert person.post(url2, data={**form_of(person, url2), "code": right}).status_code == 303


async def test_concurrent_guesses_cannot_exceed_the_lock(deployment, ask):
    import anyio

    url, body, model = await ask()
    with deployment.browser() as attacker:
        form = form_of(attacker, url)
    results: list[httpx2.Response] = []

    async def guess(i: int) -> None:
        async with httpx2.AsyncClient() as http:
            results.append(await http.post(url, data={**form, "code": f"BBBB-BBBB-{i:04d}"},
                                           headers={"Origin": deployment.base}))

    async with anyio.create_task_group() as tg:
        for i in range(12):
            tg.start_soon(guess, i)
    # However the racers interleave, at most MAX codes were looked at; the others (and the MAXth) saw the lock.
    looked_at = [r for r in results if REFUSED in r.text]
    assert {r.status_code for r in results} <= {403, 303}  # 303: arrived after the lock declined the write
    assert len(looked_at) <= MAX_FAILURES_PER_APPROVAL - 1 and not any("set-cookie" in r.headers for r in results)
    assert (await model.call_tool("submit_receivable", body)).structured_content["status"] == "declined"


async def test_a_client_with_too_many_failures_is_throttled(sandbox, tmp_path):
    with deploy(sandbox, tmp_path) as deployment:
        deployment.demo = sandbox.demo_user
        per_approval = MAX_FAILURES_PER_APPROVAL - 1
        failures = 0
        while failures < MAX_FAILURES_PER_CLIENT:
            url, body, model = await pending(deployment)
            with deployment.browser() as attacker:
                for _ in range(min(per_approval, MAX_FAILURES_PER_CLIENT - failures)):
                    assert attacker.post(url, data={**form_of(attacker, url), "code": "CCCC-CCCC-CCCC"}
                                         ).status_code == 403
                    failures += 1
        url, body, model = await pending(deployment)
        with deployment.browser() as attacker:
            right = deployment.issue(principal_of(PERSON))
            throttled = attacker.post(url, data={**form_of(attacker, url), "code": right})
            assert throttled.status_code == 429 and "Wait 15 minutes" in throttled.text
        assert (await model.call_tool("submit_receivable", body)).structured_content["status"] == "approval_pending"


# --- cookies that must not work -------------------------------------------------------------------------------
async def test_tampered_expired_and_other_principals_cookies_do_not_sign_in(deployment, ask):
    import base64
    import json

    url, body, model = await ask()
    sessions = deployment.service.sessions
    now = time.time()
    own = sessions.cookie_value(principal_of(PERSON), now)
    payload, signature = own.split(".")
    forged_body = base64.urlsafe_b64encode(json.dumps(
        {"exp": int(now) + 600, "n": "x", "p": principal_of(PERSON)}).encode()).rstrip(b"=").decode()
    candidates = {
        "other principal": sessions.cookie_value(principal_of(OTHER), now),
        "expired": sessions.cookie_value(principal_of(PERSON), now - sessions.lifetime_seconds - 1),
        "forged body, old signature": f"{forged_body}.{signature}",
        "altered signature": f"{payload}.{signature[:-2]}AA",
        "unsigned": payload,
        "another key": __import__("cleavr_mcp.server.approvals.signin", fromlist=["Sessions"]).Sessions(
            b"k" * 32, lifetime_seconds=600).cookie_value(principal_of(PERSON), now),
    }
    for name, value in candidates.items():
        with deployment.browser() as browser:
            browser.cookies.set("cleavr-approval", value)
            page = browser.get(url)
            assert 'name="code"' in page.text, name
            answer = browser.post(url, data={**hidden(page.text), "decision": "approve"})
            assert answer.status_code == 403, name
    assert (await model.call_tool("submit_receivable", body)).structured_content["status"] == "approval_pending"
    with deployment.browser() as browser:
        browser.cookies.set("cleavr-approval", own)
        assert browser.post(url, data=form_of(browser, url)).status_code == 303  # the genuine cookie works
    assert (await model.call_tool("submit_receivable", body)).structured_content["status"] == "done"


async def test_csrf_and_origin_are_still_checked_for_a_signed_in_person(deployment, ask):
    url, body, model = await ask()
    code = deployment.issue(principal_of(PERSON))
    with deployment.browser() as person:
        form = form_of(person, url, code=code)
        assert person.post(url, data={**form, "csrf": "0" * 64}).status_code == 403
        assert person.post(url, data={k: v for k, v in form.items() if k != "csrf"}).status_code == 403
        assert person.post(url, data=form, headers={"Origin": "https://evil.example"}).status_code == 403
        assert person.post(url, data=form, headers={"Origin": ""}).status_code == 403
        assert not person.cookies  # none of these signed anyone in, nor spent the code
        assert (await model.call_tool("submit_receivable", body)).structured_content["status"] == "approval_pending"
        assert person.post(url, data=form).status_code == 303
        url2, body2, model2 = await ask()
        form2 = form_of(person, url2)  # signed in now: the cookie is there, CSRF and Origin still count
        assert person.post(url2, data={**form2, "csrf": "x"}).status_code == 403
        assert person.post(url2, data=form2, headers={"Origin": "http://127.0.0.1:1"}).status_code == 403
        assert (await model2.call_tool("submit_receivable", body2)).structured_content["status"] == "approval_pending"
        assert person.post(url2, data=form2).status_code == 303


async def test_a_link_followed_from_another_site_continues_same_site(deployment, ask):
    url, body, model = await ask()
    with deployment.browser() as person:
        bounce = person.get(url, headers={"Sec-Fetch-Site": "cross-site"})
        assert bounce.status_code == 200
        assert f'http-equiv="refresh" content="0;url={httpx2.URL(url).path}?same=1"' in bounce.text
        assert 'name="csrf"' not in bounce.text
        assert 'name="code"' in person.get(url + "?same=1", headers={"Sec-Fetch-Site": "same-origin"}).text
        person.post(url, data={**form_of(person, url), "code": deployment.issue(principal_of(PERSON))})
        # With the session cookie the browser sends it and no bounce is needed.
        url2, _, _ = await ask()
        assert "You are signed in" in person.get(url2, headers={"Sec-Fetch-Site": "cross-site"}).text
    await model.call_tool("submit_receivable", body)


# --- the admin endpoint -----------------------------------------------------------------------------------
async def test_only_the_admin_credential_issues_codes(deployment):
    endpoint = f"{deployment.base}/approvals/sign-in-codes"
    for headers in ({}, {"Authorization": f"Bearer {PERSON}"}, {"Authorization": f"Bearer {OTHER}"},
                    {"Authorization": f"Basic {ADMIN}"}, {"Authorization": f"Bearer {ADMIN}x"}):
        refused = httpx2.post(endpoint, json={"principal": principal_of(PERSON)}, headers=headers)
        assert refused.status_code == 401 and "code" not in refused.json(), headers
    admin = {"Authorization": f"Bearer {ADMIN}"}
    bad = httpx2.post(endpoint, json={"who": "x"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["field"] == "principal"
    assert httpx2.post(endpoint, json={"principal": "a\nb"}, headers=admin).status_code == 422
    issued = httpx2.post(endpoint, json={"principal": principal_of(PERSON)}, headers=admin)
    assert issued.status_code == 200 and issued.headers["cache-control"] == "no-store"
    out = issued.json()
    assert out["principal"] == principal_of(PERSON) and 590 <= out["expires_in"] <= 600
    stored = await deployment.service.ledger.db.fetchall("SELECT code_sha256 FROM approval_signin_codes")
    assert all(out["code"] not in str(row) and out["code"].replace("-", "") not in str(row) for row in stored)
    assert httpx2.post(endpoint, json={"principal": "x"}, headers={**admin, "Host": "evil.example"}).status_code == 421


def test_an_admin_credential_that_is_also_an_mcp_token_is_refused(sandbox, tmp_path):
    settings = sandbox.api_settings(tmp_path, auth_tokens=[PERSON], approval_admin_token_hashes=[hash_token(PERSON)])
    with pytest.raises(AuthConfigError, match="never issue sign-in codes"):
        build_http_app(build_server(settings), settings)
    settings = sandbox.api_settings(tmp_path, auth_tokens=[PERSON], approval_admin_token_hashes=["abc"])
    with pytest.raises(AuthConfigError, match="SHA-256 hex"):
        build_http_app(build_server(settings), settings)
    settings = sandbox.api_settings(tmp_path, auth_tokens=[PERSON], approval_oidc_issuer="https://id.example")
    with pytest.raises(AuthConfigError, match="APPROVAL_OIDC_CLIENT_ID is required"):
        build_http_app(build_server(settings), settings)


def test_codes_are_short_to_type_and_hard_to_guess():
    from cleavr_mcp.server.approvals.signin import ALPHABET, CODE_LENGTH, code_digest, new_code, normalize_code

    codes = {new_code() for _ in range(2000)}
    assert len(codes) == 2000 and len(ALPHABET) ** CODE_LENGTH >= 2 ** 60
    code = next(iter(codes))
    assert normalize_code(code.lower()) == normalize_code(code) == code.replace("-", "")
    assert normalize_code(code.replace("0", "o").replace("1", "l")) == code.replace("-", "")
    assert normalize_code("AAAA-AAAA-AAA") is None and normalize_code("UUUU-UUUU-UUUU") is None
    assert code_digest(code.replace("-", "")) == hashlib.sha256(
        b"cleavr-mcp/sign-in-code/v1:" + code.replace("-", "").encode()).hexdigest()


async def test_with_a_principals_file_the_code_binds_to_the_file_principal(sandbox, tmp_path):
    """The ledger records the tenancy principal's name (here `acme`, from the principals file); the code is issued to
    that name, and a name the file does not hold is refused at issue (a typo would sign nobody in)."""
    token = "acme-file-token-0c4d"
    principals = tmp_path / "principals.toml"
    principals.write_text(f'[[principals]]\nname = "acme"\ntoken_sha256 = "{hash_token(token)}"\n'
                          f'user_ids = ["{sandbox.demo_user}"]\n')
    with deploy(sandbox, tmp_path, principals_file=principals) as deployment:
        deployment.demo = sandbox.demo_user
        url, body, model = await pending(deployment, token)
        assert (await deployment.service.ledger.get(url.rsplit("/", 1)[1])).principal == "acme"
        refused = httpx2.post(f"{deployment.base}/approvals/sign-in-codes", json={"principal": "acme2"},
                              headers={"Authorization": f"Bearer {ADMIN}"})
        assert refused.status_code == 422 and "not in the principals file" in refused.json()["message"]
        env = {**os.environ, "CLEAVR_MCP_DATA_DIR": str(deployment.settings.data_dir),
               "CLEAVR_MCP_PRINCIPALS_FILE": str(principals)}
        cli = subprocess.run([sys.executable, "-m", "cleavr_mcp.cli", "approvals", "sign-in-code", "--principal",
                              "acme2"], env=env, capture_output=True, text=True, timeout=60)
        assert cli.returncode == 2 and "not in the principals file" in cli.stderr
        with deployment.browser() as person:
            wrong = person.post(url, data={**form_of(person, url), "code": deployment.issue(principal_of(token))})
            assert wrong.status_code == 403  # a code for the legacy token name is not acme's
            assert person.post(url, data={**form_of(person, url), "code": deployment.issue("acme")}).status_code == 303
        assert (await model.call_tool("submit_receivable", body)).structured_content["status"] == "done"


def test_over_https_the_session_cookie_is_secure_and_host_prefixed(sandbox, tmp_path):
    from starlette.responses import Response

    from cleavr_mcp.server.approvals.signin import Sessions, session_cookie_name

    settings = sandbox.api_settings(tmp_path, auth_tokens=[PERSON], public_url="https://mcp.example.com/mcp")
    server = build_server(settings)
    build_http_app(server, settings)
    assert server.approvals.secure and session_cookie_name(True) == "__Host-cleavr-approval"
    response = Response()
    Sessions(b"k" * 32, lifetime_seconds=900).set_cookie(response, "acme", time.time(), secure=True)
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("__Host-cleavr-approval=") and "Path=/" in cookie and "Domain" not in cookie
    assert {"Secure", "HttpOnly", "SameSite=strict", "Max-Age=900"} <= {p.strip() for p in cookie.split(";")}


def test_doctor_reports_how_people_sign_in(tmp_path):
    from cleavr_mcp.commands.doctor import FAIL, OK, WARN, _approval_sign_in
    from cleavr_mcp.config import Settings

    def check(**values):
        return _approval_sign_in(Settings(_env_file=None, data_dir=tmp_path, auth_tokens=[PERSON], **values))

    plain = check()
    assert plain.status == OK and "approvals sign-in-code" in plain.detail and "POST" not in plain.detail
    both = check(approval_admin_token_hashes=[hash_token(ADMIN)], approval_oidc_issuer="https://id.example",
                 approval_oidc_client_id="c", jwt_issuer="https://id.example")
    assert both.status == OK and "POST /approvals/sign-in-codes" in both.detail and "OIDC at https://id.example" in \
        both.detail
    assert check(approval_admin_token_hashes=[hash_token(PERSON)]).status == FAIL
    assert check(approval_oidc_issuer="https://id.example").status == FAIL
    assert check(approval_oidc_issuer="https://id.example", approval_oidc_client_id="c").status == WARN


async def test_two_replicas_on_postgresql_share_codes_attempts_and_sessions(sandbox, tmp_path, postgres_url):
    """A code issued by one replica signs in on the other; the session cookie it sets (signed with the shared
    confirmation key) is honoured by the first; wrong codes count towards one lock whichever replica they hit."""
    from contextlib import ExitStack

    shared = {"database_url": postgres_url, "confirmation_key": "replica-shared-confirmation-key-9b1f"}
    with ExitStack() as stack:
        a = stack.enter_context(deploy(sandbox, tmp_path / "a", **shared))
        b = stack.enter_context(deploy(sandbox, tmp_path / "b", **shared))
        a.demo = b.demo = sandbox.demo_user
        url_a, body_a, model_a = await pending(a)  # asked on replica A
        on_b = url_a.replace(a.base, b.base)
        with b.browser() as person:
            assert person.post(on_b, data={**form_of(person, on_b), "code": b.issue(principal_of(PERSON))}
                               ).status_code == 303  # the page on B, the code from B's admin endpoint
            session = person.cookies.get("cleavr-approval")
        assert (await model_a.call_tool("submit_receivable", body_a)).structured_content["status"] == "done"

        url2, body2, model2 = await pending(b)
        on_a = url2.replace(b.base, a.base)
        with a.browser() as person:
            person.cookies.set("cleavr-approval", session)
            assert "You are signed in" in person.get(on_a).text  # B's session cookie, honoured by A
            assert person.post(on_a, data=form_of(person, on_a)).status_code == 303
        assert (await model2.call_tool("submit_receivable", body2)).structured_content["status"] == "done"

        url3, body3, model3 = await pending(a)
        with a.browser() as ga, b.browser() as gb:
            for i in range(MAX_FAILURES_PER_APPROVAL):
                replica, browser = (a, ga) if i % 2 else (b, gb)
                target = url3.replace(a.base, replica.base)
                answer = browser.post(target, data={**form_of(browser, target), "code": f"DDDD-DDDD-DDD{i}"})
        assert answer.status_code == 403 and "locked" in answer.text
        assert (await model3.call_tool("submit_receivable", body3)).structured_content["status"] == "declined"
